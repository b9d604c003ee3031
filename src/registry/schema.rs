//! The registry's schema and its forward migrations.
//!
//! `PRAGMA user_version` holds the schema version and `PRAGMA application_id` marks the
//! file as ours, so another program's SQLite database is never mistaken for a registry.
//! Each migration runs in one transaction; a registry from a newer cachet is refused.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use super::sql_error;
use crate::error::{Error, Result};

/// `PRAGMA application_id` of a cachet registry ("cach" in ASCII).
pub const APPLICATION_ID: i64 = 0x6361_6368;

/// The newest schema this build reads and writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11];

/// Version 1: items, their typed attributes and params, the per-key version counter and
/// the catalogue of attribute names and types.
///
/// Times are UTC milliseconds since the epoch. Attribute values keep their SQLite type
/// (integer, real, text; bools as 0/1, datetimes as microseconds) in one untyped column,
/// and every lookup goes through `(name, type, value, item_id)` so that comparisons never
/// mix types.
const V1: &str = r#"
CREATE TABLE items (
    id            INTEGER PRIMARY KEY,
    key           TEXT    NOT NULL,
    version       INTEGER NOT NULL CHECK (version >= 1),
    uri           TEXT    NOT NULL,
    params        TEXT    NOT NULL,
    status        TEXT    NOT NULL
                  CHECK (status IN ('UNINITIALIZED', 'WRITE', 'READY', 'FAILED', 'TRASH')),
    trashed_from  TEXT,
    note          TEXT,
    label         TEXT,
    filename      TEXT,
    size          INTEGER,
    sha256        TEXT,
    created       INTEGER NOT NULL,
    updated       INTEGER NOT NULL,
    accessed      INTEGER,
    access_count  INTEGER NOT NULL DEFAULT 0,
    lease_pid     INTEGER,
    lease_host    TEXT,
    lease_expires INTEGER,
    pinned        INTEGER NOT NULL DEFAULT 0,
    UNIQUE (key, version),
    CHECK (status <> 'READY' OR (sha256 IS NOT NULL AND size IS NOT NULL))
);
CREATE INDEX items_by_status  ON items (status, id);
CREATE INDEX items_by_sha256  ON items (sha256) WHERE sha256 IS NOT NULL;
CREATE INDEX items_by_lease   ON items (lease_expires) WHERE status = 'WRITE';
CREATE INDEX items_by_uri     ON items (uri);

-- Versions are allocated here, so a number is never handed out twice even after every
-- version of the key was purged.
CREATE TABLE key_versions (
    key          TEXT PRIMARY KEY,
    last_version INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE attrs (
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    name    TEXT    NOT NULL,
    type    INTEGER NOT NULL,
    value           NOT NULL, -- no declared type: BLOB affinity keeps "7" text
    PRIMARY KEY (item_id, name)
) WITHOUT ROWID;
CREATE INDEX attrs_lookup ON attrs (name, type, value, item_id);

-- Top-level scalar params, typed like attributes, so `param.release=3` is indexed too.
CREATE TABLE params (
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    name    TEXT    NOT NULL,
    type    INTEGER NOT NULL,
    value           NOT NULL, -- no declared type: BLOB affinity keeps "7" text
    PRIMARY KEY (item_id, name)
) WITHOUT ROWID;
CREATE INDEX params_lookup ON params (name, type, value, item_id);

-- Which names exist with which types (scope 0 = attrs, 1 = params): the filter language
-- type-checks against it and the TUI offers it as columns. Entries are never removed; a
-- name whose last holder was purged simply matches nothing.
CREATE TABLE attr_names (
    scope INTEGER NOT NULL,
    name  TEXT    NOT NULL,
    type  INTEGER NOT NULL,
    PRIMARY KEY (scope, name, type)
) WITHOUT ROWID;
CREATE TRIGGER attrs_catalogue AFTER INSERT ON attrs BEGIN
    INSERT OR IGNORE INTO attr_names (scope, name, type) VALUES (0, NEW.name, NEW.type);
END;
CREATE TRIGGER params_catalogue AFTER INSERT ON params BEGIN
    INSERT OR IGNORE INTO attr_names (scope, name, type) VALUES (1, NEW.name, NEW.type);
END;
"#;

/// Version 2: manifests and the blobs they link to, so garbage collection and verification
/// follow reachability without re-reading every manifest. Links are flattened: a manifest
/// records every blob reachable through its `manifest_ref`s, not only its own lines.
const V2: &str = r#"
CREATE TABLE manifests (
    item_id        INTEGER PRIMARY KEY REFERENCES items (id) ON DELETE CASCADE,
    type           TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    entries        INTEGER NOT NULL,
    bytes          INTEGER NOT NULL
);
CREATE INDEX manifests_by_type ON manifests (type);

-- kind: 0 file, 1 shard archive, 2 manifest (a part or another manifest item's blob).
CREATE TABLE links (
    item_id INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    sha256  TEXT    NOT NULL,
    kind    INTEGER NOT NULL,
    size    INTEGER,
    PRIMARY KEY (item_id, sha256)
) WITHOUT ROWID;
CREATE INDEX links_by_sha256 ON links (sha256, item_id);
"#;

/// Version 3: when each item's content was last rehashed, so `verify --since` can skip it.
const V3: &str = "ALTER TABLE items ADD COLUMN verified INTEGER;";

/// Version 4: indexes for the filter language's time and size predicates and sort orders
/// (`created<7d`, `size>1GB`, sort by accessed …). Each also holds the rowid, so keyset
/// pages in (value, id) order walk it directly.
const V4: &str = r#"
CREATE INDEX items_by_created  ON items (created);
CREATE INDEX items_by_updated  ON items (updated);
CREATE INDEX items_by_accessed ON items (accessed);
CREATE INDEX items_by_size     ON items (size);
"#;

/// Version 5: a trigram index over each item's searchable text (uri, label, filename),
/// so that a substring search (`uri~run-42`, a bare word) looks its candidates up instead
/// of reading every item (see [`super::text`] for what it holds and how it is kept); and
/// an index for listings sorted by version.
const V5: &str = r#"
CREATE VIRTUAL TABLE item_text USING fts5 (
    text, content = '', contentless_delete = 1, tokenize = 'trigram', detail = 'none'
);
CREATE VIRTUAL TABLE item_text_terms USING fts5vocab (item_text, 'row');

-- The browser sorts by version too; new rows land at the end of their version's run.
CREATE INDEX items_by_version ON items (version);

-- Every item with an id up to `upto` is in the index as it is now; newer ones are not
-- yet. A new item's id is above every id left, so the mark comes down when the newest
-- items are deleted (their ids may be handed out again), and below a renamed item.
CREATE TABLE item_text_state (upto INTEGER NOT NULL);
INSERT INTO item_text_state (upto) VALUES (0);
-- Items deleted since the index last caught up: their entries are still in it.
CREATE TABLE item_text_removed (id INTEGER PRIMARY KEY);
CREATE TRIGGER item_text_remove AFTER DELETE ON items BEGIN
    INSERT OR IGNORE INTO item_text_removed (id) VALUES (OLD.id);
    UPDATE item_text_state SET upto = (SELECT coalesce(max(id), 0) FROM items)
    WHERE upto > (SELECT coalesce(max(id), 0) FROM items);
END;
CREATE TRIGGER item_text_change AFTER UPDATE OF uri, label, filename ON items BEGIN
    UPDATE item_text_state SET upto = OLD.id - 1 WHERE upto >= OLD.id;
END;
"#;

/// Adds to the catalogue every name and type the attribute and param rows hold (as
/// [`CATALOGUE_FROM_ROWS`], a literal for `concat!`).
macro_rules! catalogue_from_rows {
    () => {
        "INSERT OR IGNORE INTO attr_names (scope, name, type)
             SELECT DISTINCT 0, name, type FROM attrs;
         INSERT OR IGNORE INTO attr_names (scope, name, type)
             SELECT DISTINCT 1, name, type FROM params;"
    };
}

/// Adds to the catalogue (`attr_names`) every name and type the attribute and param rows
/// hold: what the library writes as it goes, for rows written by other means (the
/// triggers before schema 6 missed some; tests and benchmarks insert rows directly).
pub const CATALOGUE_FROM_ROWS: &str = catalogue_from_rows!();

/// Version 6: the library keeps the catalogue of attribute names (`attr_names`) as it
/// writes attributes and params, instead of a trigger per row: the trigger ran a
/// sub-program and kept a statement journal for every row, a tenth of a bulk ingest.
/// The catalogue is completed from the rows once: the insert trigger missed a type that
/// an attribute took when set again (an upsert that updates runs no insert trigger).
const V6: &str = concat!(
    "DROP TRIGGER attrs_catalogue; DROP TRIGGER params_catalogue;",
    catalogue_from_rows!()
);

/// Version 7: a key's next version is one past the highest of its items and of its
/// `key_versions` row, which is written only when a key's newest version is deleted
/// (a trigger, whatever deletes it). Allocating a version then only reads: counting up in
/// `key_versions` for every new item was a tenth of a bulk ingest. Rows the items already
/// account for go. (Schema 9 writes every deleted version and puts those rows back: a
/// process of an earlier build, open during the migration, still counts there.)
const V7: &str = r#"
CREATE TRIGGER key_versions_keep_last AFTER DELETE ON items
WHEN NOT EXISTS (SELECT 1 FROM items WHERE key = OLD.key AND version > OLD.version)
BEGIN
    INSERT INTO key_versions (key, last_version) VALUES (OLD.key, OLD.version)
    ON CONFLICT (key) DO UPDATE SET last_version = max(last_version, excluded.last_version);
END;
DELETE FROM key_versions
WHERE last_version <= (SELECT max(version) FROM items WHERE items.key = key_versions.key);
"#;

/// Version 8: the items' status check as a chain of comparisons. `status IN (five names)`
/// made SQLite build a temporary index of the five names for every row it inserted, and
/// for every status it changed: a twentieth of a bulk ingest.
///
/// The check is edited in place, in the table's definition, with `writable_schema`, as
/// SQLite's documentation describes for CHECK constraints: the rows are not read again,
/// which is sound because the new check accepts exactly the values the old one did (the
/// rows already satisfy it). [`migrate`] then counts the schema version up, so that every
/// connection reads the new definition. A definition without the old text (none that
/// cachet wrote) is left as it is: correct, only slower.
const V8: &str = r#"
PRAGMA writable_schema = ON;
UPDATE sqlite_schema
SET sql = replace(sql,
    'CHECK (status IN (''UNINITIALIZED'', ''WRITE'', ''READY'', ''FAILED'', ''TRASH''))',
    'CHECK (status = ''UNINITIALIZED'' OR status = ''WRITE'' OR status = ''READY''
                         OR status = ''FAILED'' OR status = ''TRASH'')')
WHERE type = 'table' AND name = 'items';
PRAGMA writable_schema = OFF;
"#;

/// Version 9: deleting any version of a key records it in `key_versions`, not only the
/// key's newest, and every key's counter is raised to its highest item (one past the
/// higher of the two was past every deleted version). The counter then stays at or above
/// every version ever deleted, so a process of a build before schema 7, open while the
/// registry was migrated, which allocates one past the counter, never gets a number that
/// was deleted.
///
/// Schema 7 left two ways for it to: it recorded nothing when a version below a live one
/// was deleted (delete 4 while 5 lives, and such a process counted from 3 to 4 again), and
/// it deleted the counters the items accounted for (and such a process started again at
/// 1). Such a process can still pick a number a version this build added holds: the
/// unique constraint refuses it, nothing is written, and it fails to add versions of that
/// key from then on (this build does not count up its counter).
const V9: &str = r#"
DROP TRIGGER key_versions_keep_last;
CREATE TRIGGER key_versions_keep_last AFTER DELETE ON items
BEGIN
    INSERT INTO key_versions (key, last_version) VALUES (OLD.key, OLD.version)
    ON CONFLICT (key) DO UPDATE SET last_version = max(last_version, excluded.last_version);
END;
-- "WHERE true": SQLite's documented way to keep an upsert's SELECT unambiguous.
INSERT INTO key_versions (key, last_version)
SELECT key, max(version) FROM items WHERE true GROUP BY key
ON CONFLICT (key) DO UPDATE SET last_version = max(last_version, excluded.last_version);
"#;

/// Version 10: an item's id is never handed out again. SQLite gives a new row one past the
/// highest id left, so the newest item's id came back once that item was purged, and an id
/// a person or a script noted (`cachet show 7`, a confirmation in the browser, a gc plan)
/// could then name another item. `item_ids` keeps the highest id ever deleted (a trigger,
/// whatever deletes it; an upsert, so a row gone is written again), and the library gives
/// each new item one past the higher of that and the highest id left. It starts from the
/// deletions the text index has not caught up with (the newest item just purged is one);
/// earlier ones are not known.
const V10: &str = r#"
CREATE TABLE item_ids (
    one          INTEGER PRIMARY KEY CHECK (one = 1),
    last_deleted INTEGER NOT NULL
);
INSERT INTO item_ids (one, last_deleted) SELECT 1, coalesce(max(id), 0) FROM item_text_removed;
CREATE TRIGGER item_ids_keep_last AFTER DELETE ON items
WHEN OLD.id > coalesce((SELECT last_deleted FROM item_ids), 0)
BEGIN
    INSERT INTO item_ids (one, last_deleted) VALUES (1, OLD.id)
    ON CONFLICT (one) DO UPDATE SET last_deleted = max(last_deleted, excluded.last_deleted);
END;
"#;

/// Version 11: `latest` marks the items that may be the newest version of their key that
/// is not in the trash (`version=latest`, `ls --latest`), and a partial index lists them
/// in id order. A listing of the newest versions then reads the marked items alone, where
/// it went through every superseded one first (the older versions have the lower ids):
/// seconds at a million items, for a page of fifty.
///
/// The mark may be on more items than are the newest (every query checks them as it
/// did), never on fewer: a new item is marked (the default), and the triggers mark the
/// newest version left when a version goes to or comes from the trash (unmarking the
/// trashed one, or those below the one restored), is deleted, or changes key or version.
/// The library unmarks the older versions as it adds a new one; a build before this one,
/// open during the migration, does not, which costs only time.
///
/// The schema is read again first: a new registry comes here in the transaction in which
/// schema 8 edited the table's definition in place, and SQLite, which adds a column where
/// the definition it read ends, would otherwise splice it into the edited text.
const V11: &str = r#"
PRAGMA writable_schema = RESET;
ALTER TABLE items ADD COLUMN latest INTEGER NOT NULL DEFAULT 1;
UPDATE items SET latest = 0
WHERE status = 'TRASH'
   OR EXISTS (SELECT 1 FROM items AS newer
              WHERE newer.key = items.key AND newer.version > items.version
                AND newer.status <> 'TRASH');
CREATE INDEX items_latest ON items (id) WHERE latest = 1;
CREATE TRIGGER items_latest_status AFTER UPDATE OF status ON items
WHEN (OLD.status = 'TRASH') <> (NEW.status = 'TRASH')
BEGIN
    -- Unmarked as they can no longer be the newest: a trashed item, and the versions
    -- below one restored. Then the newest left is marked.
    UPDATE items SET latest = 0 WHERE NEW.status = 'TRASH' AND id = NEW.id AND latest = 1;
    UPDATE items SET latest = 0
    WHERE NEW.status <> 'TRASH' AND key = NEW.key AND version < NEW.version AND latest = 1;
    UPDATE items SET latest = 1
    WHERE id = (SELECT id FROM items WHERE key = NEW.key AND status <> 'TRASH'
                ORDER BY version DESC LIMIT 1)
      AND latest = 0;
END;
CREATE TRIGGER items_latest_delete AFTER DELETE ON items
WHEN OLD.latest = 1
BEGIN
    UPDATE items SET latest = 1
    WHERE id = (SELECT id FROM items WHERE key = OLD.key AND status <> 'TRASH'
                ORDER BY version DESC LIMIT 1)
      AND latest = 0;
END;
CREATE TRIGGER items_latest_moved AFTER UPDATE OF key, version ON items
BEGIN
    UPDATE items SET latest = 1
    WHERE id IN (NEW.id, (SELECT id FROM items WHERE key = OLD.key AND status <> 'TRASH'
                          ORDER BY version DESC LIMIT 1))
      AND latest = 0;
END;
"#;

/// Checks that `conn` is a cachet registry (or an empty database) that this build can
/// read, without writing anything, and returns its schema version.
pub fn check(conn: &Connection, path: &Path) -> Result<i64> {
    let not_a_db = |source: rusqlite::Error| match source.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => Error::ForeignRegistry {
            path: path.to_path_buf(),
            reason: "the file is not an SQLite database (corrupt, or something else)".into(),
        },
        _ => sql_error(path, "reading the schema version")(source),
    };
    let app_id: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(not_a_db)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(not_a_db)?;
    if app_id != APPLICATION_ID {
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(not_a_db)?;
        if app_id != 0 || objects > 0 || version != 0 {
            return Err(Error::ForeignRegistry {
                path: path.to_path_buf(),
                reason: format!(
                    "it is another program's SQLite database (application_id {app_id:#x}, {objects} schema objects)"
                ),
            });
        }
    }
    // A version cachet never writes, or none on a registry with tables (each migration
    // sets it in the transaction that makes them): edited by hand or by another program.
    let foreign = |what: String| Error::ForeignRegistry {
        path: path.to_path_buf(),
        reason: format!("{what}: not as cachet left it (edited by hand?)"),
    };
    if version < 0 {
        return Err(foreign(format!("its schema version is {version}")));
    }
    if version == 0 && app_id == APPLICATION_ID {
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(not_a_db)?;
        if tables > 0 {
            return Err(foreign(format!(
                "it has no schema version, yet {tables} schema objects"
            )));
        }
    }
    if version > SCHEMA_VERSION {
        return Err(Error::RegistryTooNew {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(version)
}

/// Brings a checked registry up to [`SCHEMA_VERSION`], one transaction for all steps. One
/// without a schema is made new only if `may_start` allows, asked in that transaction.
pub fn migrate(
    conn: &mut Connection,
    path: &Path,
    may_start: &dyn Fn() -> Result<()>,
) -> Result<()> {
    if check(conn, path)? == SCHEMA_VERSION {
        return Ok(());
    }
    let sql = |context| sql_error(path, context);
    // IMMEDIATE: two processes opening a fresh cache at once must not both migrate.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql("starting the migration"))?;
    let current = check(&tx, path)?;
    if current == 0 {
        may_start()?;
    }
    for (from, step) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        tx.execute_batch(step).map_err(|e| {
            // A step that does not fit the schema found (a table there already): the
            // version was not the schema's. Said in a line, without the step's SQL.
            let msg = match &e {
                rusqlite::Error::SqlInputError { msg, .. } => Some(msg.clone()),
                rusqlite::Error::SqliteFailure(f, msg) if f.code == ErrorCode::Unknown => {
                    msg.clone()
                }
                _ => None,
            };
            // Only what says the schema is not the version's (anything else, a step of
            // this build that is wrong included, is reported as it is).
            let mismatch = ["already exists", "duplicate column", "no such"];
            let msg = msg.filter(|m| mismatch.iter().any(|w| m.contains(w)));
            match msg {
                Some(msg) => Error::ForeignRegistry {
                    path: path.to_path_buf(),
                    reason: format!(
                        "its schema version says {from}, but the schema is not that \
                         version's ({msg}): not as cachet left it (edited by hand?)"
                    ),
                },
                None => sql("migrating the schema")(e),
            }
        })?;
        tx.execute_batch(&format!(
            "PRAGMA user_version = {}; PRAGMA application_id = {APPLICATION_ID};",
            from + 1
        ))
        .map_err(sql("recording the schema version"))?;
    }
    // A step that edits a definition in place (schema 8) leaves the schema's own version
    // as it was: count it up, so that this connection and every other one read the
    // schema again instead of running what they compiled from the old one.
    let cookie: i64 = tx
        .query_row("PRAGMA schema_version", [], |r| r.get(0))
        .map_err(sql("reading the schema's version"))?;
    tx.execute_batch(&format!("PRAGMA schema_version = {};", cookie + 1))
        .map_err(sql("recording the schema's version"))?;
    super::text::catch_up(&tx).map_err(sql("indexing the items' text"))?;
    tx.commit().map_err(sql("committing the migration"))
}

#[cfg(test)]
mod tests;
