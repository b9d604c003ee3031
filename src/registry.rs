//! The SQLite registry: connection setup, the item model, and the queries on items.
//!
//! Functions here take a `&Connection` (a `Transaction` derefs to one) so that the
//! [`Cache`](crate::Cache) facade can compose them inside one transaction.

pub mod item;
pub mod read;
pub mod schema;
pub mod snapshot;
pub mod text;
pub mod write;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::error::{Error, IoResultExt, Result};

pub use item::{Item, Lease, Link, LinkKind, ManifestInfo, NewItem};
pub use snapshot::Snapshot;

/// How long a connection waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);
/// The page cache of a connection, in KiB: enough for the browser's scans to stay fast,
/// small enough that its three connections stay well under 80 MiB.
pub const CACHE_KIB: u32 = 16 * 1024;
/// The page cache of a bulk ingest, in KiB (its indexes grow at scattered places).
pub const BULK_CACHE_KIB: u32 = 256 * 1024;

/// An open registry file.
pub struct Registry {
    conn: Connection,
    path: PathBuf,
    access: Access,
}

/// What a registry was opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadWrite,
    /// To read only ([`Registry::open_read_only`]): every write is refused.
    ReadOnly,
    /// To read only, as the registry was when opened: changes made later by others are
    /// not seen (see [`read_only_connection`]).
    Snapshot,
}

impl Registry {
    /// Opens (creating if needed) the registry at `path` and migrates it to the current
    /// schema. A foreign, corrupt or newer registry is refused and left untouched.
    pub fn open(path: &Path) -> Result<Registry> {
        Registry::open_new_if(path, &|| Ok(()))
    }

    /// Opens the registry at `path` as [`Registry::open`] does; one that holds no schema
    /// yet (a new file, or one that lost its write-ahead log) is made a new registry only
    /// if `may_start` allows, asked under the lock that makes it.
    pub fn open_new_if(path: &Path, may_start: &dyn Fn() -> Result<()>) -> Result<Registry> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).at(dir)?;
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let sql = |context| sql_error(path, context);
        let mut conn = Connection::open_with_flags(path, flags).map_err(sql("opening"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sql("setting the busy timeout"))?;
        // Check what the file is before changing anything about it (journal mode included).
        schema::check(&conn, path)?;
        conn.execute_batch(&format!(
            "PRAGMA foreign_keys = ON;
             PRAGMA synchronous = FULL;
             PRAGMA cache_size = -{CACHE_KIB};
             PRAGMA temp_store = MEMORY;
             PRAGMA journal_size_limit = 67108864;"
        ))
        .map_err(sql("configuring the connection"))?;
        // Plans that never depend on the values bound to a statement's parameters. Without
        // this, SQLite (3.54) marks nearly every statement with `column = ?` to be planned
        // again for new values, and `clear_bindings` (which the statement cache runs each
        // time a statement goes back to it) then makes it parse and plan the statement
        // again at every use: a third of a bulk ingest went into that. Our queries are
        // written to be planned by their shape (the filter benchmark runs as fast with it).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(sql("configuring the connection"))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(sql("switching to WAL"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::invalid(
                format!("registry {}", path.display()),
                format!("cannot use write-ahead logging (journal mode stays {mode})"),
            ));
        }
        schema::migrate(&mut conn, path, may_start)?;
        Ok(Registry {
            conn,
            path: path.to_path_buf(),
            access: Access::ReadWrite,
        })
    }

    /// Opens the registry at `path` to read only, for a cache whose directory cannot be
    /// written: nothing is created, migrated or recorded, and [`Registry::write`] refuses.
    /// It must be a registry of this version.
    pub fn open_read_only(path: &Path) -> Result<Registry> {
        let (conn, snapshot) = read_only_connection(path)?;
        let sql = |context| sql_error(path, context);
        let version = schema::check(&conn, path)?;
        if version == 0 {
            return Err(Error::invalid(
                format!("registry {}", path.display()),
                "is empty: no cache was started here (and its directory cannot be written)",
            ));
        }
        if version != schema::SCHEMA_VERSION {
            return Err(Error::invalid(
                format!("registry {}", path.display()),
                format!(
                    "has schema version {version}, older than this cachet's {}: it can be \
                     read only once upgraded, by cachet run where its directory can be written",
                    schema::SCHEMA_VERSION
                ),
            ));
        }
        conn.execute_batch(&format!(
            "PRAGMA cache_size = -{CACHE_KIB}; PRAGMA temp_store = MEMORY;"
        ))
        .map_err(sql("configuring the connection"))?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(sql("configuring the connection"))?;
        Ok(Registry {
            conn,
            path: path.to_path_buf(),
            access: if snapshot {
                Access::Snapshot
            } else {
                Access::ReadOnly
            },
        })
    }

    /// What it was opened for.
    pub fn access(&self) -> Access {
        self.access
    }

    /// The registry file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A handle for reads outside any explicit transaction.
    pub fn db(&self) -> Db<'_> {
        Db {
            conn: &self.conn,
            path: &self.path,
            catalogued: None,
        }
    }

    /// Runs `f` with a page cache of `kib` KiB instead of the usual [`CACHE_KIB`]: a
    /// transaction that inserts into many indexes at scattered places (a bulk ingest)
    /// then rereads far fewer pages. The usual size comes back afterwards, whatever `f`
    /// returns.
    pub fn with_cache_kib<T>(&self, kib: u32, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let set = |kib: u32| {
            self.conn
                .execute_batch(&format!("PRAGMA cache_size = -{kib};"))
                .map_err(sql_error(&self.path, "sizing the page cache"))
        };
        set(kib)?;
        let out = f();
        let back = set(CACHE_KIB);
        let value = out?;
        back?;
        Ok(value)
    }

    /// Runs `f` in an IMMEDIATE transaction (the write lock is taken up front, so two
    /// processes never deadlock upgrading read locks) and commits if it returns `Ok`;
    /// an `Err` rolls everything back. The text index catches up with the items added
    /// or removed, when enough wait, just before it commits
    /// ([`text::catch_up_if_due`]).
    /// Not re-entrant: `f` must not call `write` again, nor roll back to a savepoint of
    /// its own (the transaction remembers the catalogue entries it wrote).
    pub fn write<T>(&self, f: impl FnOnce(Db<'_>) -> Result<T>) -> Result<T> {
        let path = self.path.as_path();
        if self.access != Access::ReadWrite {
            return Err(Error::ReadOnlyCache {
                path: path.to_path_buf(),
            });
        }
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(sql_error(path, "starting a write"))?;
        let catalogued = write::Catalogued::default();
        let value = f(Db {
            conn: &tx,
            path,
            catalogued: Some(&catalogued),
        })?;
        text::catch_up_if_due(&tx).map_err(sql_error(path, "indexing the items' text"))?;
        tx.commit().map_err(sql_error(path, "committing"))?;
        Ok(value)
    }
}

/// A connection that reads the registry at `path` without writing anything, also where
/// its directory cannot be written, and whether it reads an unchanging snapshot. SQLite
/// reads a registry in WAL mode there only if its `-wal` and `-shm` files exist (a writer
/// has it open) or can be made. When they cannot, and no log or journal holds changes not
/// yet in the file, it is read as it stands (`immutable`): changes made after it was
/// opened are not seen. Changes waiting in a log are refused, not read past.
pub fn read_only_connection(path: &Path) -> Result<(Connection, bool)> {
    let sql = |context| sql_error(path, context);
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sql("opening to read"))?;
    // Set before the first read: a writer's brief lock is waited for, not an error.
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sql("setting the busy timeout"))?;
    let first_read = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()));
    match first_read {
        // (SQLITE_READONLY_DIRECTORY, or SQLITE_CANTOPEN for a `-shm` it cannot make.)
        Err(e)
            if matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen)
            ) =>
        {
            drop(conn);
            let pending = ["-wal", "-journal"].into_iter().find(|suffix| {
                let mut side = path.as_os_str().to_owned();
                side.push(suffix);
                std::fs::metadata(&side).is_ok_and(|m| m.len() > 0)
            });
            if let Some(suffix) = pending {
                return Err(Error::invalid(
                    format!("registry {}", path.display()),
                    format!(
                        "cannot be read here: its {suffix} file holds changes not yet in it, \
                         and its directory cannot be written to apply them. Open it once \
                         where the directory can be written (or as its owner)"
                    ),
                ));
            }
            let uri = format!("file:{}?immutable=1", uri_path(path));
            let conn = Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
                .map_err(sql("opening to read"))?;
            Ok((conn, true))
        }
        // Anything else (not a database …) is for the schema check to tell.
        _ => Ok((conn, false)),
    }
}

/// `path` as the path of a `file:` URI: every byte but unreserved ones and `/` escaped.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Drop for Registry {
    /// Lets SQLite refresh the statistics its query planner uses, bounded so that closing
    /// stays quick; the filter language's plans depend on them at scale.
    fn drop(&mut self) {
        if self.access != Access::ReadWrite {
            return; // (they would be written)
        }
        let _ = self
            .conn
            .execute_batch("PRAGMA analysis_limit = 400; PRAGMA optimize;");
    }
}

/// A connection (or open transaction) together with the registry path its errors name.
#[derive(Clone, Copy)]
pub struct Db<'a> {
    pub conn: &'a Connection,
    pub path: &'a Path,
    /// In a write transaction, the catalogue entries it has made sure of, so it writes
    /// each once (see [`write::Catalogued`]).
    catalogued: Option<&'a write::Catalogued>,
}

impl<'a> Db<'a> {
    /// A closure that wraps a rusqlite error with the registry path and `context`.
    pub fn err(&self, context: &'static str) -> impl Fn(rusqlite::Error) -> Error + 'a {
        sql_error(self.path, context)
    }
}

/// Wraps a rusqlite error with the registry path and what was being done.
pub fn sql_error<'p>(
    path: &'p Path,
    context: &'static str,
) -> impl Fn(rusqlite::Error) -> Error + 'p {
    move |source| Error::Sqlite {
        path: path.to_path_buf(),
        context,
        source,
    }
}

/// Milliseconds since the Unix epoch, UTC: the registry's clock.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;

    /// A cached statement with `column = ?` runs again with other values as it was
    /// prepared, not parsed and planned anew each time (see [`Registry::open`]).
    #[test]
    fn cached_statements_are_not_planned_again_for_new_values() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Registry::open(&dir.path().join("registry.sqlite")).unwrap();
        let db = registry.db();
        let sql = "SELECT count(*) FROM items WHERE key = ?1 AND status = ?2";
        for (key, status) in [("a", "READY"), ("b", "TRASH"), ("c", "READY")] {
            let mut st = db.conn.prepare_cached(sql).unwrap();
            let n: i64 = st.query_row([key, status], |r| r.get(0)).unwrap();
            assert_eq!(n, 0);
            assert_eq!(st.get_status(StatementStatus::RePrepare), 0, "{key}");
        }
    }
}
