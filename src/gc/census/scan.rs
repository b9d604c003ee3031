//! The census's scan of the items, shared out among threads: the id range is cut into one
//! part per connection of the snapshot (see [`crate::registry::Snapshot`]), and each thread
//! steps SQLite on its own connection and takes its rows straight into a [`Part`] of its
//! own (keys and digests decoded, digests put in buckets to be numbered, rows and text
//! laid out). The parts are then appended in id order. Stepping SQLite is much of the
//! cost, and one connection runs on one thread at a time: more connections are the way
//! to put more cores to the read.

use std::collections::HashMap;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row};

use super::numbering::{Digested, Numbering, Owner};
use super::{ByFirstByte, Census, ItemRow, NO_LINKS, NO_SHA, Version};
use crate::error::{Error, Result};
use crate::status::Status;

/// What a scan's errors are wrapped in (it names the registry).
pub(super) type Fail<'a> = &'a (dyn Fn(rusqlite::Error) -> Error + Sync);

/// The items of one range of ids, laid out as in [`Census`] but numbered from 0.
pub(super) struct Part {
    items: Vec<ItemRow>,
    text: String,
    odd_keys: HashMap<usize, String>,
    notes: HashMap<usize, String>,
    leases: HashMap<usize, i64>,
    /// The items' digests, by row from 0.
    refs: Numbering,
    versions: Option<ByFirstByte<Version>>,
}

impl Part {
    /// Reads the rows `sql` yields for the ids from `range[0]` (up to `range[1]`, if
    /// given: its parameters), with room reserved for about `expected`. With `all`, every
    /// item is read and its digest is its reference; else only some are, and their digests
    /// are counted with every other item's later. With `versions`, READY items' versions
    /// are gathered for keep-last.
    pub fn scan(
        conn: &Connection,
        sql: &str,
        range: &[i64],
        expected: usize,
        (all, versions): (bool, bool),
        fail: Fail<'_>,
    ) -> Result<Part> {
        let mut part = Part {
            items: Vec::with_capacity(expected),
            text: String::new(),
            odd_keys: HashMap::new(),
            notes: HashMap::new(),
            leases: HashMap::new(),
            refs: Numbering::new(expected),
            versions: versions.then(|| ByFirstByte::new(expected)),
        };
        let mut st = conn.prepare(sql).map_err(fail)?;
        let mut rows = st.query(rusqlite::params_from_iter(range)).map_err(fail)?;
        while let Some(r) = rows.next().map_err(fail)? {
            // Planning stops at a row it cannot read (edited by hand): it cannot say what
            // that item holds. The error names it.
            part.take(r, all, fail)
                .map_err(|e| match r.get::<_, i64>(0) {
                    Ok(id) => Error::invalid(format!("item {id}"), format!("cannot be read: {e}")),
                    Err(_) => e,
                })?;
        }
        Ok(part)
    }

    /// Takes one row (see [`Census::read`] for the order of its columns).
    fn take(&mut self, r: &Row<'_>, all: bool, fail: Fail<'_>) -> Result<()> {
        let text_at = |i: usize| -> Result<Option<&str>> {
            match r.get_ref(i).map_err(fail)? {
                ValueRef::Null => Ok(None),
                v => v.as_str().map(Some).map_err(|e| fail(e.into())),
            }
        };
        let row = self.items.len();
        let status = r
            .get_ref(1)
            .map_err(fail)?
            .as_bytes()
            .map_err(|e| fail(e.into()))?;
        let status = Status::ALL
            .into_iter()
            .find(|s| s.as_str().as_bytes() == status);
        let key = r.get_ref(9).and_then(Digested::read).map_err(fail)?;
        let key = match key.unwrap_or(Digested::Other("")) {
            Digested::Digest(digest) => digest,
            Digested::Other(key) => {
                self.odd_keys.insert(row, key.to_owned());
                [0; 32]
            }
        };
        let uri = text_at(11)?.unwrap_or_default();
        let uri_len = u32::try_from(uri.len())
            .map_err(|_| Error::invalid("registry", "a URI too long to plan a gc"))?;
        let uri_at = self.text.len();
        self.text.push_str(uri);
        let size: Option<i64> = r.get(3).map_err(fail)?;
        if let Some(sha) = r.get_ref(4).and_then(Digested::read).map_err(fail)? {
            // When only some items are read, each is counted below with every other.
            let owner = if all {
                Owner::item(row)?
            } else {
                Owner::row(row)?
            };
            self.refs.add(sha, owner, size);
        }
        let version = r.get(10).map_err(fail)?;
        let accessed: Option<i64> = r.get(6).map_err(fail)?;
        if status == Some(Status::Ready)
            && let Some(versions) = &mut self.versions
        {
            versions.push(key[0], (key, version, row));
        }
        if status == Some(Status::Failed)
            && let Some(note) = text_at(12)?
        {
            self.notes.insert(row, note.to_owned());
        }
        if status == Some(Status::Write)
            && let Some(lease) = r.get(8).map_err(fail)?
        {
            self.leases.insert(row, lease);
        }
        // The time created is read only for an item never accessed.
        let last_use = match accessed {
            Some(at) => at,
            None => r.get(7).map_err(fail)?,
        };
        self.items.push(ItemRow {
            id: r.get(0).map_err(fail)?,
            version,
            key,
            uri_at,
            uri_len,
            status,
            pinned: r.get::<_, i64>(2).map_err(fail)? != 0,
            size: size.unwrap_or(0).max(0) as u64,
            sha: NO_SHA,
            updated: r.get(5).map_err(fail)?,
            last_use,
            accessed: accessed.is_some(),
            links: NO_LINKS,
        });
        Ok(())
    }
}

/// Runs `f` on this thread with `conn` as part 0 and on a thread per twin (parts 1, 2, …)
/// at once; the results come in part order.
pub(super) fn on_every_connection<T: Send>(
    conn: &Connection,
    twins: &mut [Connection],
    f: impl Fn(&Connection, usize) -> Result<T> + Sync,
) -> Vec<Result<T>> {
    let f = &f;
    std::thread::scope(|scope| {
        let others: Vec<_> = (twins.iter_mut().enumerate())
            .map(|(i, twin)| {
                std::thread::Builder::new()
                    .name("gc census".into())
                    .spawn_scoped(scope, move || f(twin, i + 1))
            })
            .collect();
        let mine = f(conn, 0);
        let joined = others.into_iter().map(|other| match other {
            Ok(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(Error::invalid("gc", "a census thread failed"))),
            Err(e) => Err(Error::invalid("gc", format!("cannot start a thread: {e}"))),
        });
        std::iter::once(mine).chain(joined).collect()
    })
}

/// Part `part.0` of `part.1` of every item's digest, from the digest index, to be counted:
/// those whose first hex digit falls in the part's share of the sixteen, ascending (with
/// room for about `expected`), and any value that is no digest.
pub(super) fn digests(
    conn: &Connection,
    (part, parts): (usize, usize),
    expected: usize,
    fail: Fail<'_>,
) -> Result<Numbering> {
    let digit = |i: usize| char::from_digit((16 * i / parts) as u32, 16).unwrap_or('f');
    // Text sorts after numbers and before blobs: the first part takes anything below its
    // end, the last anything from its start.
    let mut range = vec!["sha256 IS NOT NULL".to_string()];
    if part > 0 {
        range.push(format!("sha256 >= '{}'", digit(part)));
    }
    if part + 1 < parts {
        range.push(format!("sha256 < '{}'", digit(part + 1)));
    }
    let sql = format!(
        "SELECT sha256 FROM items WHERE {} ORDER BY sha256",
        range.join(" AND ")
    );
    let mut st = conn.prepare(&sql).map_err(fail)?;
    let mut rows = st.query([]).map_err(fail)?;
    let mut counted = Numbering::new(expected);
    while let Some(r) = rows.next().map_err(fail)? {
        if let Some(sha) = r.get_ref(0).and_then(Digested::read).map_err(fail)? {
            counted.add(sha, Owner::Counted, None);
        }
    }
    Ok(counted)
}

impl Census {
    /// Appends `part`, whose ids all follow those in the census, its digest references
    /// going to `numbering`.
    pub(super) fn append(&mut self, part: Part, numbering: &mut Numbering) -> Result<()> {
        let rows = self.items.len();
        // Past the last row (and checked) is enough: rows only grow from here.
        Owner::check(rows + part.items.len())?;
        let Part {
            items,
            text,
            odd_keys,
            notes,
            leases,
            refs,
            versions,
        } = part;
        // Every row's number fits in a u32 (checked above).
        let start = rows as u32;
        self.items.push(items, text);
        numbering.append(refs, start);
        if let (Some(runs), Some(versions)) = (&mut self.versions, versions) {
            runs.push(versions, start);
        }
        shift_into(&mut self.odd_keys, odd_keys, rows);
        shift_into(&mut self.notes, notes, rows);
        shift_into(&mut self.leases, leases, rows);
        Ok(())
    }
}

/// Moves a part's values by row into the census's, its rows beginning at `start`.
fn shift_into<T>(census: &mut HashMap<usize, T>, part: HashMap<usize, T>, start: usize) {
    census.extend(part.into_iter().map(|(row, value)| (row + start, value)));
}

#[cfg(test)]
mod tests {
    use crate::cache::Cache;
    use crate::gc::census::{BUCKETS, Census};
    use crate::key::decode_digest;
    use crate::registry::NewItem;
    use crate::status::Status;

    /// 23 items: READY, FAILED with a note, TRASH, and UNINITIALIZED without content; the
    /// last three share their content. Two were edited by hand: item 9's key and item 17's
    /// digest are no digests.
    fn cache() -> (tempfile::TempDir, Cache) {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        for i in 0..23 {
            let new = NewItem::new(format!("s3://b/{i}"));
            if i % 7 == 3 {
                cache.reserve(&new).unwrap();
                continue;
            }
            let item = cache
                .put_bytes(&new, format!("{}", i.min(20)).as_bytes())
                .unwrap();
            match i % 5 {
                1 => drop(cache.fail(item.id, &format!("broke {i}")).unwrap()),
                2 => drop(cache.trash(item.id).unwrap()),
                _ => {}
            }
        }
        let conn = cache.registry().db().conn;
        conn.execute("UPDATE items SET key = 'by hand' WHERE id = 9", [])
            .unwrap();
        conn.execute("UPDATE items SET sha256 = 'md5:x' WHERE id = 17", [])
            .unwrap();
        (dir, cache)
    }

    /// The census read with `twins` connections besides the registry's (so in as many
    /// more parts).
    fn read(cache: &Cache, twins: usize, only: Option<&[Status]>) -> crate::Result<Census> {
        let mut snapshot = cache.registry().snapshot(twins).unwrap();
        assert_eq!(snapshot.twins.len(), twins);
        let (db, twins) = snapshot.split();
        Census::read(db, twins, only, true)
    }

    fn read_ids(census: &Census) -> Vec<i64> {
        census.items.iter().map(|r| r.id).collect()
    }

    #[test]
    fn a_census_read_in_parts_holds_every_item_as_it_is() {
        let (_dir, cache) = cache();
        let ids: Vec<i64> = (1..=23).collect();
        let items = cache.get_many(&ids).unwrap();
        for twins in 0..4 {
            let mut census = read(&cache, twins, None).unwrap();
            assert_eq!(census.items.len(), 23);
            let mut ready = Vec::new();
            for (row, (r, item)) in census.items.iter().zip(&items).enumerate() {
                assert_eq!(r.id, item.id);
                assert_eq!(r.status, Some(item.status));
                assert_eq!(census.key(row), item.key, "{twins} twins");
                assert_eq!(census.uri(row), item.uri);
                assert_eq!(
                    Some(census.sha_name(r.sha)).filter(|s| !s.is_empty()),
                    item.sha256
                );
                let note = (item.status == Status::Failed).then(|| item.note.as_deref().unwrap());
                assert_eq!(census.failure_note(row), note);
                if item.status == Status::Ready {
                    let key = decode_digest(item.key.as_bytes()).unwrap_or([0; 32]);
                    ready.push((key, item.version, row));
                }
            }
            // As keep-last reads them: the parts' merged, in order.
            let mut versions = Vec::new();
            let runs = census.versions.take().unwrap();
            for bucket in 0..BUCKETS {
                runs.merged(bucket, |version| versions.push(version));
            }
            assert!(versions.is_sorted(), "{twins} twins");
            ready.sort_unstable();
            assert_eq!(versions, ready, "{twins} twins");
            let digests = census.digests();
            assert!(
                digests.windows(2).all(|w| w[0] < w[1]),
                "ascending, each once"
            );
            assert_eq!(digests.len(), 17, "18 contents, one digest edited away");
            let shared = census.items.last().unwrap().sha;
            assert_eq!(census.shas[shared as usize].items, 3);
        }
    }

    #[test]
    fn a_census_of_some_statuses_counts_every_items_digest() {
        let (_dir, cache) = cache();
        let ids: Vec<i64> = (1..=23).collect();
        let items = cache.get_many(&ids).unwrap();
        let statuses = [Status::Trash, Status::Failed, Status::Uninitialized];
        let repeated = [Status::Failed, Status::Trash, Status::Failed];
        for only in [&statuses[..1], &statuses[..], &repeated[..]] {
            for twins in 0..4 {
                let census = read(&cache, twins, Some(only)).unwrap();
                let expected: Vec<i64> = (items.iter())
                    .filter(|i| only.contains(&i.status))
                    .map(|i| i.id)
                    .collect();
                let read: Vec<i64> = census.items.iter().map(|r| r.id).collect();
                assert_eq!(read, expected, "in id order, {twins} twins");
                let digests = census.digests();
                assert_eq!(digests.len(), 17);
                assert!(digests.windows(2).all(|w| w[0] < w[1]));
                let content = items[22].sha256.as_deref();
                let shared = (0..digests.len() as u32)
                    .find(|&sha| Some(census.sha_name(sha).as_str()) == content)
                    .unwrap();
                assert_eq!(
                    census.shas[shared as usize].items, 3,
                    "every holder counted"
                );
                let edited = digests.len() as u32;
                assert_eq!(census.sha_name(edited), "md5:x");
                assert_eq!(census.shas[edited as usize].items, 1);
            }
        }
    }

    /// Ids at both ends of their range, and far apart (so the parts' ranges are uneven
    /// and some empty), are read like any other.
    #[test]
    fn items_at_the_extremes_of_ids_are_read_in_every_part() {
        let (_dir, cache) = cache();
        let conn = cache.registry().db().conn;
        for (from, to) in [(1, i64::MIN), (2, -7), (22, 1 << 40), (23, i64::MAX)] {
            conn.execute("UPDATE items SET id = ?2 WHERE id = ?1", [from, to])
                .unwrap();
        }
        let ids_where = |condition: &str| -> Vec<i64> {
            let sql = format!("SELECT id FROM items WHERE {condition} ORDER BY id");
            let mut st = conn.prepare(&sql).unwrap();
            st.query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        let ids = ids_where("1");
        assert_eq!((ids[0], ids[22]), (i64::MIN, i64::MAX));
        let some = [Status::Ready, Status::Trash];
        let of_some = ids_where("status IN ('READY', 'TRASH')");
        assert_eq!(
            (of_some[0], of_some[of_some.len() - 1]),
            (i64::MIN, i64::MAX)
        );
        for twins in 0..4 {
            let census = read(&cache, twins, None).unwrap();
            assert_eq!(read_ids(&census), ids, "{twins} twins");
            for (row, &id) in ids.iter().enumerate() {
                assert_eq!(census.row_of(id), Some(row));
            }
            let census = read(&cache, twins, Some(&some)).unwrap();
            assert_eq!(read_ids(&census), of_some, "{twins} twins");
        }
    }

    #[test]
    fn a_row_that_cannot_be_read_is_an_error_whichever_part_it_is_in() {
        // A blob where text belongs, or text that is no UTF-8, in a digest's place too.
        let damage = [
            "uri = X'ff00'",
            "key = X'00'",
            "key = CAST(X'ff00' AS TEXT)",
            "sha256 = CAST(X'ff00' AS TEXT)",
        ];
        for bad in [1, 12, 23] {
            for change in damage {
                let (_dir, cache) = cache();
                let sql = format!("UPDATE items SET {change} WHERE id = ?1");
                let conn = cache.registry().db().conn;
                assert_eq!(conn.execute(&sql, [bad]).unwrap(), 1);
                for twins in 0..3 {
                    assert!(
                        read(&cache, twins, None).is_err(),
                        "item {bad}, {change}, {twins} twins"
                    );
                }
            }
        }
    }
}
