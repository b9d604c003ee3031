use super::*;
use crate::filter::{Filter, count};

/// A registry as a build of schema `version` left it, with `rows` written by that
/// build.
fn registry_at(version: usize, rows: &str) -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open(dir.path().join("registry.sqlite")).unwrap();
    for step in &MIGRATIONS[..version] {
        conn.execute_batch(step).unwrap();
    }
    conn.execute_batch(&format!(
        "PRAGMA user_version = {version}; PRAGMA application_id = {APPLICATION_ID}; {rows}"
    ))
    .unwrap();
    (dir, conn)
}

/// Migrates the registry `conn` in `dir` to the current schema.
fn migrate_in(dir: &tempfile::TempDir, conn: &mut Connection) {
    let path = dir.path().join("registry.sqlite");
    migrate(conn, &path, &|| Ok(())).unwrap();
    assert_eq!(check(conn, &path).unwrap(), SCHEMA_VERSION);
}

/// [`registry_at`], migrated to the current schema.
fn migrated_from(version: usize, rows: &str) -> (tempfile::TempDir, Connection) {
    let (dir, mut conn) = registry_at(version, rows);
    migrate_in(&dir, &mut conn);
    (dir, conn)
}

/// A registry written before the text index gets one that finds its old items.
#[test]
fn migrating_indexes_the_text_of_existing_items() {
    let (_dir, conn) = migrated_from(
        4,
        "INSERT INTO items (key, version, uri, params, status, label, created, updated)
         VALUES ('k', 1, 's3://b/needle.csv', '{}', 'UNINITIALIZED', 'Old run', 0, 0);",
    );
    let now = chrono::Utc::now();
    for (f, n) in [
        ("needle", 1),
        ("ne", 1),
        ("d r", 1),
        ("v", 1),
        ("nope", 0),
        ("zq", 0),
    ] {
        assert_eq!(
            count(&conn, &Filter::parse(f).unwrap(), now).unwrap(),
            n,
            "{f}"
        );
    }
}

/// Whether inserting an item on `conn` builds a temporary index (an ephemeral table).
fn inserts_build_a_temporary_index(conn: &Connection) -> bool {
    let mut st = conn
        .prepare(
            "EXPLAIN INSERT INTO items (key, version, uri, params, status, created, updated)
             VALUES ('k', 9, 'u', '{}', 'WRITE', 0, 0)",
        )
        .unwrap();
    let ops: Vec<String> = (st.query_map([], |r| r.get(1)).unwrap())
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    ops.iter().any(|op| op == "OpenEphemeral")
}

/// A registry whose catalogue triggers kept `attr_names` keeps its entries, gets those
/// the triggers missed (a type an attribute took when set again), and loses the
/// triggers (the library writes the catalogue now; the triggers would do it twice).
#[test]
fn migrating_to_6_keeps_the_catalogue_and_drops_its_triggers() {
    let (_dir, conn) = migrated_from(
        5,
        "INSERT INTO items (id, key, version, uri, params, status, created, updated)
         VALUES (1, 'k', 1, 'u', '{}', 'UNINITIALIZED', 0, 0);
         INSERT INTO attrs (item_id, name, type, value) VALUES (1, 'n', 0, 3);
         INSERT INTO params (item_id, name, type, value) VALUES (1, 'p', 2, 'x');
         INSERT INTO attrs (item_id, name, type, value) VALUES (1, 'm', 0, 1);
         INSERT INTO attrs (item_id, name, type, value) VALUES (1, 'm', 0, 1)
             ON CONFLICT (item_id, name) DO UPDATE SET type = 2, value = 'one';",
    );
    let triggers: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%catalogue'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(triggers, 0);
    let names: Vec<(i64, String, i64)> = conn
        .prepare("SELECT scope, name, type FROM attr_names ORDER BY scope, name, type")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let expected = [(0, "m", 0), (0, "m", 2), (0, "n", 0), (1, "p", 2)];
    assert_eq!(names, expected.map(|(s, n, t)| (s, n.to_owned(), t)));
}

/// Schema 8's status check keeps out what the old one did and lets in what it let in,
/// without the temporary index per row: for a connection that migrated, one opened
/// before the migration, and one opened after.
#[test]
fn migrating_to_8_checks_statuses_without_a_temporary_index() {
    let (dir, conn) = migrated_from(
        7,
        "INSERT INTO items (id, key, version, uri, params, status, created, updated)
         VALUES (1, 'k', 1, 'u', '{}', 'UNINITIALIZED', 0, 0);",
    );
    let path = dir.path().join("registry.sqlite");
    let insert = |conn: &Connection, status: &str| {
        conn.execute(
            "INSERT INTO items (key, version, uri, params, status, created, updated)
             VALUES ('k', 2, 'u', '{}', ?1, 0, 0)",
            [status],
        )
    };
    let later = Connection::open(&path).unwrap();
    for conn in [&conn, &later] {
        assert!(!inserts_build_a_temporary_index(conn));
        let err = insert(conn, "READYY").unwrap_err().to_string();
        assert!(err.contains("CHECK constraint failed"), "{err}");
        conn.execute_batch("BEGIN").unwrap();
        for status in ["UNINITIALIZED", "WRITE", "FAILED", "TRASH"] {
            insert(conn, status).unwrap();
            conn.execute_batch("DELETE FROM items WHERE version = 2")
                .unwrap();
        }
        conn.execute_batch("ROLLBACK").unwrap();
    }
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
}

/// A connection that had the registry open while another migrated it to schema 8
/// runs the new check from its next statement on (the schema's version was counted
/// up; without that it would go on with the old one).
#[test]
fn a_connection_open_during_the_migration_to_8_reads_the_new_check() {
    let (dir, mut conn) = registry_at(7, "");
    let before = Connection::open(dir.path().join("registry.sqlite")).unwrap();
    assert!(inserts_build_a_temporary_index(&before));
    migrate_in(&dir, &mut conn);
    // Its next statement finds the schema's version changed and reads it again.
    before
        .query_row("SELECT count(*) FROM items", [], |r| r.get::<_, i64>(0))
        .unwrap();
    assert!(!inserts_build_a_temporary_index(&before));
}

/// Runs `f` on `conn` as `Registry::write` would, in a transaction of its own.
fn in_write<T>(conn: &Connection, f: impl FnOnce(&super::super::Db<'_>) -> T) -> T {
    conn.execute_batch("SAVEPOINT write").unwrap();
    let catalogued = super::super::write::Catalogued::default();
    let db = super::super::Db {
        conn,
        path: Path::new("registry.sqlite"),
        catalogued: Some(&catalogued),
    };
    let out = f(&db);
    conn.execute_batch("RELEASE write").unwrap();
    out
}

/// The next version this build hands out for `key` (one past the items and the
/// counter).
fn next_version(conn: &Connection, key: &str) -> i64 {
    in_write(conn, |db| db.allocate_version(key).unwrap())
}

/// Adds the next version of `key` as this build (and schemas 7 and 8) allocate it.
fn add_version(conn: &Connection, key: &str) -> i64 {
    let version = next_version(conn, key);
    conn.execute(
        "INSERT INTO items (key, version, uri, params, status, created, updated)
         VALUES (?1, ?2, 'u', '{}', 'UNINITIALIZED', 0, 0)",
        (key, version),
    )
    .unwrap();
    version
}

/// What a build before schema 7 does to allocate a version of `key`.
fn next_version_before_7(conn: &Connection, key: &str) -> i64 {
    conn.query_row(
        "INSERT INTO key_versions (key, last_version) VALUES (?1, 1)
         ON CONFLICT (key) DO UPDATE SET last_version = last_version + 1
         RETURNING last_version",
        [key],
        |r| r.get(0),
    )
    .unwrap()
}

/// Rows of schema 6 (and earlier): items of these (key, version)s, and these counters
/// (key, last version) in `key_versions`.
fn schema_6_rows(items: &[(&str, i64)], counters: &[(&str, i64)]) -> String {
    let rows = |rows: &[(&str, i64)], columns: &str| {
        let values: Vec<String> = rows
            .iter()
            .map(|(k, v)| format!("('{k}', {v}{columns})"))
            .collect();
        values.join(", ")
    };
    format!(
        "INSERT INTO items (key, version, uri, params, status, created, updated)
         VALUES {};
         INSERT INTO key_versions (key, last_version) VALUES {};",
        rows(items, ", 'u', '{}', 'UNINITIALIZED', 0, 0"),
        rows(counters, ""),
    )
}

/// The version counters of schema 6 (a row per key, counted up for every version)
/// are all there after the migration (schema 7 deleted some, schema 9 puts them back),
/// and every key's next version stays the same.
#[test]
fn migrating_from_6_keeps_the_version_counters() {
    let (_dir, conn) = migrated_from(
        6,
        &schema_6_rows(
            &[("live", 1), ("live", 3), ("newest-purged", 2)],
            &[("live", 3), ("newest-purged", 5), ("all-purged", 4)],
        ),
    );
    let counters: Vec<(String, i64)> = conn
        .prepare("SELECT key, last_version FROM key_versions ORDER BY key")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let kept = [("all-purged", 4), ("live", 3), ("newest-purged", 5)];
    assert_eq!(counters, kept.map(|(k, v)| (k.to_owned(), v)));
    for (key, next) in [
        ("live", 4),
        ("newest-purged", 6),
        ("all-purged", 5),
        ("new", 1),
    ] {
        assert_eq!(next_version(&conn, key), next, "{key}");
    }
}

/// A process of a build before schema 7, open while the registry was migrated, counts
/// versions in `key_versions` alone. Whatever was deleted since, it never gets a
/// version that was deleted (at worst one a live item holds, which the unique
/// constraint refuses): whether this build migrated the registry from schema 6, or a
/// build of schema 8 used it first (its schema 7 deleted counters, and recorded no
/// version deleted below a live one; schema 9 writes them).
#[test]
fn a_build_before_7_open_during_the_migration_never_reuses_a_version() {
    for (used_at_8, next_of_k) in [(false, 5), (true, 6)] {
        let (dir, mut conn) = registry_at(
            6,
            &schema_6_rows(
                &[("older-purged", 3), ("k", 1), ("k", 2), ("k", 3)],
                &[("older-purged", 3), ("k", 3)],
            ),
        );
        if used_at_8 {
            conn.execute_batch(&format!("{V7} {V8} PRAGMA user_version = 8;"))
                .unwrap();
        } else {
            migrate_in(&dir, &mut conn);
        }
        // Versions 4 and 5 of k are added (the counter stays at 3), then 4 deleted.
        assert_eq!([add_version(&conn, "k"), add_version(&conn, "k")], [4, 5]);
        conn.execute_batch("DELETE FROM items WHERE key = 'k' AND version = 4")
            .unwrap();
        if used_at_8 {
            migrate_in(&dir, &mut conn);
        }
        assert_eq!(next_version_before_7(&conn, "older-purged"), 4);
        assert_eq!(next_version_before_7(&conn, "k"), next_of_k, "{used_at_8}");
    }
}

/// A registry of schema 9 whose newest item was just purged hands its id out no more
/// once migrated: the migration starts from the deletions the text index noted.
#[test]
fn migrating_to_10_remembers_the_newest_id_just_purged() {
    let (_dir, conn) = migrated_from(
        9,
        "INSERT INTO items (id, key, version, uri, params, status, created, updated)
         VALUES (1, 'k', 1, 'u', '{}', 'UNINITIALIZED', 0, 0),
                (2, 'k', 2, 'u', '{}', 'UNINITIALIZED', 0, 0);
         DELETE FROM items WHERE id = 2;",
    );
    let new = crate::NewItem::new("u");
    let id = in_write(&conn, |db| {
        db.insert_item(&new, "k", 3, crate::Status::Uninitialized, None, None, 0)
            .unwrap()
    });
    assert_eq!(id, 3);
}

/// A registry of schema 10 gets the newest version of each key marked, and only those: a
/// key's newest in the trash leaves the one below it the newest; a key all in the trash
/// has none.
#[test]
fn migrating_to_11_marks_the_newest_versions() {
    let (_dir, conn) = migrated_from(
        10,
        "INSERT INTO items (id, key, version, uri, params, status, created, updated)
         VALUES (1, 'a', 1, 'u', '{}', 'UNINITIALIZED', 0, 0),
                (2, 'a', 2, 'u', '{}', 'FAILED', 0, 0),
                (3, 'a', 3, 'u', '{}', 'TRASH', 0, 0),
                (4, 'b', 1, 'v', '{}', 'TRASH', 0, 0),
                (5, 'c', 1, 'w', '{}', 'WRITE', 0, 0);",
    );
    let mut st = conn
        .prepare("SELECT id FROM items WHERE latest = 1 ORDER BY id")
        .unwrap();
    let marked: Vec<i64> = (st.query_map([], |r| r.get(0)).unwrap())
        .map(Result::unwrap)
        .collect();
    assert_eq!(marked, [2, 5]);
}
