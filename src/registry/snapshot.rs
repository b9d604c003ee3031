//! One snapshot of the registry read on several connections at once, so that a long read
//! (gc's census of every item) can be shared out among threads: one SQLite connection
//! runs on one thread at a time.
//!
//! In WAL mode a read transaction sees the database as of its first read. Connections that
//! start reading while another holds the write lock all see the same state, since nothing
//! can commit meanwhile: so the lock is taken, on a connection of its own, just long
//! enough for every connection to start reading (a few milliseconds), then given back.
//! Writers wait that long at most; they are never blocked for the read itself.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction};

use super::{Db, Registry, sql_error};
use crate::error::Result;

/// How long to wait for a writer to finish before reading on one connection instead.
const LOCK_WAIT: Duration = Duration::from_millis(100);

/// A read transaction on the registry's own connection and, when they could be had,
/// others on connections of their own in the same snapshot. Dropping it ends them all.
pub struct Snapshot<'a> {
    main: Transaction<'a>,
    path: &'a Path,
    /// The other connections, each in a read transaction that has started.
    pub twins: Vec<Connection>,
}

impl Snapshot<'_> {
    /// The registry's own connection and the twins, to be used at once.
    pub fn split(&mut self) -> (Db<'_>, &mut [Connection]) {
        let db = Db {
            conn: &self.main,
            path: self.path,
            catalogued: None,
        };
        (db, &mut self.twins)
    }
}

impl Registry {
    /// Starts a read transaction on this connection and on up to `twins` new ones, all in
    /// one snapshot. Twins are a speed-up, never a requirement: when the write lock stays
    /// taken (a long ingest), or the registry cannot be written (a read-only directory),
    /// or a connection cannot be opened, the snapshot has fewer twins or none.
    pub fn snapshot(&self, twins: usize) -> Result<Snapshot<'_>> {
        let path = self.path.as_path();
        let main = self
            .conn
            .unchecked_transaction()
            .map_err(sql_error(path, "starting a read"))?;
        let twins = if twins == 0 {
            Vec::new()
        } else {
            self.open_twins(twins).unwrap_or_default()
        };
        if twins.is_empty() {
            start_reading(&main).map_err(sql_error(path, "starting a read"))?;
        }
        Ok(Snapshot { main, path, twins })
    }

    /// Opens `n` connections and starts a read on each and on the registry's own (already
    /// in a transaction that has read nothing), all under the write lock. `None` if any
    /// step fails: the caller then reads on its own connection only.
    fn open_twins(&self, n: usize) -> Option<Vec<Connection>> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let twins = (0..n)
            .map(|_| Connection::open_with_flags(&self.path, flags))
            .collect::<rusqlite::Result<Vec<_>>>()
            .ok()?;
        let lock = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .ok()?;
        lock.busy_timeout(LOCK_WAIT).ok()?;
        lock.execute_batch("BEGIN IMMEDIATE").ok()?;
        let started = start_reading(&self.conn).and_then(|()| {
            twins.iter().try_for_each(|twin| {
                twin.execute_batch("BEGIN")?;
                start_reading(twin)
            })
        });
        // Nothing was written; dropping the connection would roll back as well.
        let _ = lock.execute_batch("ROLLBACK");
        // A failure after the registry's own connection started reading leaves it in a
        // snapshot of that same moment, which is all the caller needs of it.
        started.ok().map(|()| twins)
    }
}

/// Makes `conn`'s transaction take its snapshot now, rather than at its first query.
fn start_reading(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use rusqlite::Connection;

    use crate::cache::Cache;
    use crate::registry::NewItem;

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT count(*) FROM items", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn twins_read_the_same_snapshot_as_the_registry_and_not_later_writes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let writer = Cache::open(dir.path()).unwrap();
        writer.put_bytes(&NewItem::new("s3://b/0"), b"0").unwrap();
        let mut snapshot = cache.registry().snapshot(2).unwrap();
        assert_eq!(snapshot.twins.len(), 2);
        writer.put_bytes(&NewItem::new("s3://b/1"), b"1").unwrap();
        assert_eq!(count(snapshot.split().0.conn), 1);
        for twin in &snapshot.twins {
            assert_eq!(count(twin), 1);
        }
        drop(snapshot);
        assert_eq!(count(cache.registry().db().conn), 2);
    }

    /// A writer in another thread commits as fast as it can while snapshots are taken:
    /// each twin always sees exactly what the registry's connection sees.
    #[test]
    fn twins_agree_with_the_registry_beside_a_busy_writer() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let done = AtomicBool::new(false);
        let (mut compared, mut differed) = (0, 0);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let writer = Cache::open(dir.path()).unwrap();
                for i in 0..20_000 {
                    if done.load(Ordering::Relaxed) {
                        break;
                    }
                    writer
                        .put_bytes(&NewItem::new(format!("s3://b/{i}")), b"x")
                        .unwrap();
                }
            });
            for _ in 0..300 {
                let mut snapshot = cache.registry().snapshot(1).unwrap();
                let seen = count(snapshot.split().0.conn);
                for twin in &snapshot.twins {
                    compared += 1;
                    differed += usize::from(count(twin) != seen);
                }
            }
            done.store(true, Ordering::Relaxed);
        });
        assert!(compared > 0, "the lock was never had");
        assert_eq!(differed, 0, "of {compared}");
    }

    #[test]
    fn a_writer_holding_the_lock_means_no_twins() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        cache.put_bytes(&NewItem::new("s3://b/0"), b"0").unwrap();
        let other = Connection::open(cache.registry().path()).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut snapshot = cache.registry().snapshot(1).unwrap();
        assert!(snapshot.twins.is_empty());
        assert_eq!(count(snapshot.split().0.conn), 1);
    }
}
