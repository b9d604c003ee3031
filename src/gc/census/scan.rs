//! The census's scan of the items, in two stages on two threads: this one steps SQLite and
//! copies each row's columns into a batch; a worker takes the batches into the census
//! (keys and digests decoded, digests put in buckets to be numbered, rows and text laid
//! out). Stepping SQLite and building
//! the census cost about the same, so at a million items this nearly halves the read; one
//! connection keeps the whole census in one snapshot. Batches go back to be refilled, so
//! their memory is touched once.

use std::sync::mpsc;

use rusqlite::Rows;
use rusqlite::types::ValueRef;

use super::{Census, ItemRow, NO_LINKS, NO_SHA, Numbering, Owner};
use crate::error::{Error, Result};
use crate::key::decode_digest;
use crate::status::Status;

/// Rows per batch: enough that handing a batch over costs nothing per row. (A handful in
/// tests, so that small registries go through many batches.)
const BATCH: usize = if cfg!(test) { 2 } else { 4096 };

/// Batches in flight between the stages.
const IN_FLIGHT: usize = 4;

/// A text column that was NULL.
const NULL: u32 = u32::MAX;

/// One item's columns, its texts in [`Batch::text`] one after the other.
struct RawRow {
    id: i64,
    version: i64,
    status: Option<Status>,
    pinned: bool,
    size: Option<i64>,
    updated: i64,
    accessed: Option<i64>,
    created: i64,
    lease_expires: Option<i64>,
    key_len: u32,
    uri_len: u32,
    /// [`NULL`] without a digest.
    sha_len: u32,
    /// [`NULL`] unless it is a FAILED item with a note.
    note_len: u32,
}

#[derive(Default)]
struct Batch {
    rows: Vec<RawRow>,
    text: String,
}

impl Batch {
    /// Copies the columns of `r` (see [`Census::read`] for their order).
    fn push(
        &mut self,
        r: &rusqlite::Row<'_>,
        fail: &dyn Fn(rusqlite::Error) -> Error,
    ) -> Result<()> {
        let text_at = |i: usize| -> Result<Option<&str>> {
            match r.get_ref(i).map_err(fail)? {
                ValueRef::Null => Ok(None),
                v => v.as_str().map(Some).map_err(|e| fail(e.into())),
            }
        };
        let status = r
            .get_ref(1)
            .map_err(fail)?
            .as_bytes()
            .map_err(|e| fail(e.into()))?;
        let status = Status::ALL
            .into_iter()
            .find(|s| s.as_str().as_bytes() == status);
        let mut len = |s: Option<&str>| -> Result<u32> {
            let Some(s) = s else { return Ok(NULL) };
            let n = u32::try_from(s.len())
                .ok()
                .filter(|&n| n != NULL)
                .ok_or_else(|| Error::invalid("registry", "a text too long to plan a gc"))?;
            self.text.push_str(s);
            Ok(n)
        };
        let key_len = len(Some(text_at(9)?.unwrap_or_default()))?;
        let uri_len = len(Some(text_at(11)?.unwrap_or_default()))?;
        let sha_len = len(text_at(4)?)?;
        let note = if status == Some(Status::Failed) {
            text_at(12)?
        } else {
            None
        };
        let note_len = len(note)?;
        self.rows.push(RawRow {
            id: r.get(0).map_err(fail)?,
            version: r.get(10).map_err(fail)?,
            status,
            pinned: r.get::<_, i64>(2).map_err(fail)? != 0,
            size: r.get(3).map_err(fail)?,
            updated: r.get(5).map_err(fail)?,
            accessed: r.get(6).map_err(fail)?,
            created: r.get(7).map_err(fail)?,
            lease_expires: r.get(8).map_err(fail)?,
            key_len,
            uri_len,
            sha_len,
            note_len,
        });
        Ok(())
    }

    fn clear(&mut self) {
        self.rows.clear();
        self.text.clear();
    }
}

impl Census {
    /// Reads every row of `rows` into the census, numbering each item's digest in
    /// `numbering` (as the item's when all items are read, else as a row to be counted
    /// with the others).
    pub(super) fn scan_items(
        &mut self,
        rows: &mut Rows<'_>,
        numbering: &mut Numbering,
        all: bool,
        fail: &dyn Fn(rusqlite::Error) -> Error,
    ) -> Result<()> {
        let (full, taken) = mpsc::sync_channel::<Batch>(IN_FLIGHT);
        let (emptied, empty) = mpsc::channel::<Batch>();
        std::thread::scope(|scope| {
            let take = move || -> Result<()> {
                for mut batch in taken {
                    self.take(&batch, numbering, all)?;
                    batch.clear();
                    // Gone only when the reading is over.
                    let _ = emptied.send(batch);
                }
                Ok(())
            };
            let worker = std::thread::Builder::new()
                .name("gc census".into())
                .spawn_scoped(scope, take)
                .map_err(|e| Error::invalid("gc", format!("cannot start a thread: {e}")))?;
            let (mut batch, mut made) = (Batch::default(), 1);
            let mut read = Ok(());
            loop {
                match rows.next() {
                    Ok(Some(r)) => {
                        if let Err(e) = batch.push(r, fail) {
                            read = Err(e);
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        read = Err(fail(e));
                        break;
                    }
                }
                if batch.rows.len() == BATCH {
                    let next = match empty.try_recv() {
                        Ok(emptied) => emptied,
                        Err(_) if made < IN_FLIGHT + 2 => {
                            made += 1;
                            Batch::default()
                        }
                        // Every batch made is in use: wait for one back. Both this and the
                        // send fail only when the worker stopped on an error, told below.
                        Err(_) => match empty.recv() {
                            Ok(emptied) => emptied,
                            Err(_) => break,
                        },
                    };
                    if full.send(std::mem::replace(&mut batch, next)).is_err() {
                        break;
                    }
                }
            }
            if read.is_ok() && !batch.rows.is_empty() {
                let _ = full.send(batch);
            }
            drop(full);
            let taken = worker
                .join()
                .unwrap_or_else(|_| Err(Error::invalid("gc", "the census worker failed")));
            read.and(taken)
        })
    }

    /// Takes one batch of rows into the census.
    fn take(&mut self, batch: &Batch, numbering: &mut Numbering, all: bool) -> Result<()> {
        let mut at = 0;
        let mut next = |len: u32| -> Option<&str> {
            if len == NULL {
                return None;
            }
            let s = batch.text.get(at..at + len as usize);
            at += len as usize;
            s
        };
        for raw in &batch.rows {
            let row = self.items.len();
            let key = next(raw.key_len).unwrap_or_default();
            let key = decode_digest(key.as_bytes()).unwrap_or_else(|| {
                self.odd_keys.insert(row, key.to_owned());
                [0; 32]
            });
            let uri_at = self.text.len();
            self.text.push_str(next(raw.uri_len).unwrap_or_default());
            if let Some(sha) = next(raw.sha_len) {
                let owner = if all {
                    Owner::item(row)?
                } else {
                    // Counted below, with every other item's.
                    Owner::row(row)?
                };
                numbering.add(sha, owner, raw.size);
            }
            if raw.status == Some(Status::Ready)
                && let Some(versions) = &mut self.versions
            {
                versions.push(key[0], (key, raw.version, row));
            }
            if let Some(note) = next(raw.note_len) {
                self.notes.insert(row, note.to_owned());
            }
            self.items.push(ItemRow {
                id: raw.id,
                version: raw.version,
                key,
                uri_at,
                uri_len: raw.uri_len,
                status: raw.status,
                pinned: raw.pinned,
                size: raw.size,
                sha: NO_SHA,
                updated: raw.updated,
                accessed: raw.accessed,
                created: raw.created,
                lease_expires: raw.lease_expires,
                links: NO_LINKS,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::cache::Cache;
    use crate::gc::census::Census;
    use crate::registry::NewItem;
    use crate::status::Status;

    /// 23 items over twelve batches (batches are reused from the seventh on): READY, FAILED with a note, TRASH, and UNINITIALIZED
    /// without content; two share their content.
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
        (dir, cache)
    }

    #[test]
    fn a_census_read_in_many_batches_holds_every_item_as_it_is() {
        let (_dir, cache) = cache();
        let census = Census::read(cache.registry().db(), None, false).unwrap();
        let ids: Vec<i64> = (1..=23).collect();
        let items = cache.get_many(&ids).unwrap();
        assert_eq!(census.items.len(), 23);
        for (row, (r, item)) in census.items.iter().zip(&items).enumerate() {
            assert_eq!(r.id, item.id);
            assert_eq!(r.status, Some(item.status));
            assert_eq!(census.key(row), item.key);
            assert_eq!(census.uri(row), item.uri);
            assert_eq!(
                census.digest(r.sha).map(|d| d.to_string()),
                item.sha256,
                "{}",
                item.uri
            );
            let note = (item.status == Status::Failed).then(|| item.note.as_deref().unwrap());
            assert_eq!(census.failure_note(row), note);
        }
        let digests = census.digests();
        assert!(
            digests.windows(2).all(|w| w[0] < w[1]),
            "ascending, each once"
        );
        // 20 and up share one content.
        let shared = census.items.last().unwrap().sha;
        assert_eq!(census.shas[shared as usize].items, 3);

        let trash = Census::read(cache.registry().db(), Some(&[Status::Trash]), false).unwrap();
        assert!(trash.items.iter().all(|r| r.status == Some(Status::Trash)));
        assert_eq!(trash.items.len(), 4);
        assert_eq!(
            trash.shas[shared as usize].items, 3,
            "all items' digests counted"
        );
    }

    #[test]
    fn a_row_that_cannot_be_read_is_an_error_whichever_batch_it_is_in() {
        for bad in [1, 12, 23] {
            let (_dir, cache) = cache();
            cache
                .registry()
                .db()
                .conn
                .execute("UPDATE items SET uri = X'ff00' WHERE id = ?1", [bad])
                .unwrap();
            let err = Census::read(cache.registry().db(), None, false).err();
            assert!(err.is_some(), "item {bad}");
        }
    }
}
