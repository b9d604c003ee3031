//! The trigram index over each item's searchable text (`item_text`, schema version 5).
//!
//! It holds, per item, its uri, label and file name, each followed by two `\x01`s: every
//! character of a field then starts a trigram (a search of one or two characters looks up
//! the trigrams that begin with them), and no trigram has real characters of two fields.
//! The index is contentless — trigrams only — so the filter language checks every
//! candidate against the item's own columns; a stale entry can cost a look, never an
//! answer.
//!
//! The index lags behind: it covers the items up to a mark (`item_text_state.upto`), and a
//! search takes its candidates from the index up to the mark and from the items above it.
//! Each write transaction brings it up to date ([`catch_up`], a few statements) only once
//! [`CATCH_UP_AT`] items wait. Writing it row by row would be slow: an FTS5 table flushes its
//! pending changes at every statement's savepoint, and every flush leaves a segment to
//! merge — one per item in a bulk ingest, one per transaction for single puts. Triggers on
//! `items` note deletions and lower the mark when it must come down (see the schema).

use rusqlite::Connection;

/// The index catches up once this many items wait (added above the mark, or deleted).
pub const CATCH_UP_AT: i64 = 256;

/// The ids of the items the index does not cover yet (above the mark): a search takes
/// them all as candidates.
pub const NOT_INDEXED: &str =
    "SELECT id FROM items WHERE id > coalesce((SELECT upto FROM item_text_state), 0)";

/// [`catch_up`] when enough waits to be worth it; a cheap check otherwise.
pub fn catch_up_if_due(conn: &Connection) -> rusqlite::Result<()> {
    let due: bool = conn
        .prepare_cached(
            // Due, too, when the mark is missing (see `catch_up`).
            "SELECT coalesce((SELECT coalesce(max(id), 0) FROM items)
                                 - (SELECT upto FROM item_text_state) >= ?1, 1)
                 OR EXISTS (SELECT 1 FROM item_text_removed LIMIT 1 OFFSET ?1 - 1)",
        )?
        .query_row([CATCH_UP_AT], |r| r.get(0))?;
    if due { catch_up(conn) } else { Ok(()) }
}

/// Brings `item_text` up to date with `items`: removes the entries of deleted items and
/// of those above the mark, indexes the items above it, and raises it. Cheap when nothing
/// waits. Call it inside a write transaction.
pub fn catch_up(conn: &Connection) -> rusqlite::Result<()> {
    let (removed, upto, newest): (bool, Option<i64>, i64) = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM item_text_removed),
                    (SELECT upto FROM item_text_state),
                    (SELECT coalesce(max(id), 0) FROM items)",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    // No mark (its row deleted by hand): nothing counts as indexed, and the mark is made
    // again for what follows. (Readers take a missing mark as 0 too.)
    let upto: i64 = match upto {
        Some(upto) => upto,
        None => {
            conn.prepare_cached("INSERT INTO item_text_state (upto) VALUES (0)")?
                .execute([])?;
            0
        }
    };
    if removed {
        conn.prepare_cached(
            "DELETE FROM item_text WHERE rowid IN (SELECT id FROM item_text_removed)",
        )?
        .execute([])?;
        conn.prepare_cached("DELETE FROM item_text_removed")?
            .execute([])?;
    }
    if newest > upto {
        // Entries above the mark are those of renamed items, indexed again below.
        conn.prepare_cached("DELETE FROM item_text WHERE rowid > ?1")?
            .execute([upto])?;
        conn.prepare_cached(
            "INSERT INTO item_text (rowid, text)
             SELECT id, uri || char(1, 1) || coalesce(label, '') || char(1, 1)
                        || coalesce(filename, '') || char(1, 1)
             FROM items WHERE id > ?1",
        )?
        .execute([upto])?;
        conn.prepare_cached("UPDATE item_text_state SET upto = ?1")?
            .execute([newest])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::tests::{insert, item, now, registry};
    use crate::filter::{Filter, count};

    fn n(conn: &Connection, f: &str) -> u64 {
        count(conn, &Filter::parse(f).unwrap(), now()).unwrap()
    }

    /// Changes reach the index at `catch_up`, in any order, and are found before it.
    #[test]
    fn the_index_follows_the_items() {
        let (_d, mut conn) = registry(&[item(1), item(2), item(3)]);
        assert_eq!(n(&conn, "item3"), 1);
        let change = |conn: &Connection, sql: &str| {
            conn.execute_batch(&format!("BEGIN; {sql}")).unwrap();
            catch_up(conn).unwrap();
            conn.execute_batch("COMMIT").unwrap();
        };
        change(&conn, "UPDATE items SET label = 'Needle in' WHERE id = 2");
        assert_eq!(n(&conn, "needle"), 1);
        assert_eq!(n(&conn, "le i"), 1);
        change(&conn, "UPDATE items SET label = NULL WHERE id = 2");
        assert_eq!(n(&conn, "needle"), 0);
        // The last id handed out again after a delete (as SQLite does, and builds before
        // schema 10 did): the new item's text replaces the old one's.
        change(&conn, "DELETE FROM items WHERE id = 3");
        assert_eq!(n(&conn, "item3"), 0);
        let mut again = item(3);
        again.uri = "s3://elsewhere/other.bin".into();
        insert(&mut conn, &[again]);
        assert_eq!(n(&conn, "where/oth"), 1);
        assert_eq!(n(&conn, "oT"), 1);
        // Removed and added again in one transaction, and added then removed.
        change(
            &conn,
            "DELETE FROM items WHERE id = 3;
             INSERT INTO items (id, key, version, uri, params, status, created, updated)
             VALUES (3, 'k', 1, 's3://third/one', '{}', 'UNINITIALIZED', 0, 0);
             INSERT INTO items (id, key, version, uri, params, status, created, updated)
             VALUES (4, 'k', 2, 's3://fourth/one', '{}', 'UNINITIALIZED', 0, 0);
             DELETE FROM items WHERE id = 4;",
        );
        assert_eq!(n(&conn, "third"), 1);
        assert_eq!(n(&conn, "where/oth"), 0);
        assert_eq!(n(&conn, "fourth"), 0);
        let (waiting, indexed): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT count(*) FROM items
                         WHERE id > coalesce((SELECT upto FROM item_text_state), 0))
                        + (SELECT count(*) FROM item_text_removed),
                        (SELECT count(*) FROM item_text WHERE item_text MATCH '\"s3:\"')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((waiting, indexed), (0, 3));
        // Renamed and not caught up: found by its new label, and once, though the index
        // still holds its old text.
        conn.execute("UPDATE items SET label = 'Queued one' WHERE id = 1", [])
            .unwrap();
        assert_eq!(n(&conn, "queued"), 1);
        assert_eq!(n(&conn, "item1"), 1);
        assert_eq!(n(&conn, "\"s3://\""), 3);
    }

    /// The mark's row deleted by hand: nothing counts as indexed (every item is found
    /// without the index), and the next catch-up makes the mark again.
    #[test]
    fn a_missing_mark_is_made_again() {
        let (_d, conn) = registry(&[item(1), item(2), item(3)]);
        conn.execute_batch("BEGIN; DELETE FROM item_text_state; COMMIT")
            .unwrap();
        assert_eq!(n(&conn, "item2"), 1);
        assert_eq!(n(&conn, "\"s3://\""), 3);
        conn.execute_batch("BEGIN").unwrap();
        catch_up_if_due(&conn).unwrap();
        conn.execute_batch("COMMIT").unwrap();
        let marks: Vec<i64> = (conn.prepare("SELECT upto FROM item_text_state").unwrap())
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(marks, [3]);
        assert_eq!(n(&conn, "item2"), 1);
    }
}
