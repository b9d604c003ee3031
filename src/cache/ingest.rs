//! Bulk ingest: many READY items in one transaction. The content of each item is staged
//! (read, hashed, written to `tmp/` and moved into the store), and its key computed, on a
//! second thread, a few items ahead of this one, which writes the registry rows: on two
//! cores the ingest takes the time of the slower of the two instead of both.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use super::{Cache, IngestContent, IngestItem};
use crate::blob::{BlobStore, sync_filesystem};
use crate::error::{Error, Result};
use crate::key::item_key;
use crate::registry::write::Content;
use crate::registry::{Db, NewItem, now_ms};
use crate::status::Status;

/// Items whose content may be staged ahead of the rows written: enough to keep the stager
/// busy, few enough that their contents (held in memory) stay small.
const AHEAD: usize = 64;

/// The row writer hands the stager more items once no more than this many wait, all it
/// may in one message: a message per item woke the stager for every item, a tenth of the
/// row writer's time in a bulk ingest of small files.
const REFILL_AT: usize = AHEAD / 2;

/// An item ready for its rows: its key, its content in the store, and whether this ingest
/// put the content there (else it was there already).
struct Staged {
    item: NewItem,
    key: String,
    content: Content,
    new: bool,
}

/// The row writer's side of the stager: items to stage, those staged, in order, and the
/// flag either side raises on an error.
#[derive(Clone, Copy)]
struct Queues<'a> {
    to_stage: &'a mpsc::Sender<Vec<IngestItem>>,
    staged: &'a mpsc::Receiver<Result<Staged>>,
    aborted: &'a AtomicBool,
}

impl Cache {
    /// Adds many READY items in one transaction: blobs are written without a sync each,
    /// then the file system is synced once before the registry commits, so durability is
    /// kept at a fraction of the cost. `progress` is called after each item. On error
    /// nothing is registered and the blobs this call created are removed, under the write
    /// lock (so no put can take one up meanwhile). Only if the commit itself fails do they
    /// stay, as orphans for gc.
    pub fn ingest<I>(&self, items: I, progress: &mut dyn FnMut(u64)) -> Result<Vec<i64>>
    where
        I: IntoIterator<Item = Result<IngestItem>>,
    {
        let write = || {
            self.registry.write(|db| {
                let mut created: Vec<String> = Vec::new();
                let outcome = self.ingest_in(db, items, progress, &mut created);
                if outcome.is_err() {
                    for sha in &created {
                        // Best effort: a blob left here is an orphan for gc, never a loss.
                        let _ = self.blobs.remove(sha);
                    }
                }
                outcome
            })
        };
        self.registry
            .with_cache_kib(crate::registry::BULK_CACHE_KIB, write)
    }

    /// Registers `items` in `db`'s transaction, noting in `created` every blob it put in
    /// the store (also those staged ahead of an error). The stager moves blobs into the
    /// store while this transaction holds the write lock, as a single put does, and is done
    /// before it ends.
    fn ingest_in<I>(
        &self,
        db: Db<'_>,
        items: I,
        progress: &mut dyn FnMut(u64),
        created: &mut Vec<String>,
    ) -> Result<Vec<i64>>
    where
        I: IntoIterator<Item = Result<IngestItem>>,
    {
        // Unbounded, yet never more than AHEAD items in it: the row writer sends only
        // items it keeps a place for.
        let (to_stage, queued) = mpsc::channel::<Vec<IngestItem>>();
        let (staged_tx, staged) = mpsc::channel::<Result<Staged>>();
        let blobs = &self.blobs;
        // Set on the first error, of either thread: what is still queued is not staged (it
        // may be large, or a source that blocks).
        let aborted = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let aborted = &aborted;
            let stage_all = move || {
                for item in queued.into_iter().flatten() {
                    if aborted.load(Ordering::Relaxed) {
                        continue;
                    }
                    let staged = stage(blobs, item);
                    if staged.is_err() {
                        // The ingest fails on it (or on an item before it).
                        aborted.store(true, Ordering::Relaxed);
                    }
                    // The receiver lives until everything sent is staged or skipped.
                    let _ = staged_tx.send(staged);
                }
            };
            let stager = std::thread::Builder::new()
                .name("ingest stager".into())
                .spawn_scoped(scope, stage_all)
                .map_err(|e| Error::invalid("ingest", format!("cannot start a thread: {e}")))?;
            let queues = Queues {
                to_stage: &to_stage,
                staged: &staged,
                aborted,
            };
            let outcome = self.write_rows(db, items, queues, progress, created);
            if outcome.is_err() {
                aborted.store(true, Ordering::Relaxed);
            }
            drop(to_stage);
            // What was staged ahead of an error is in the store too.
            for staged in staged.into_iter().flatten() {
                if staged.new {
                    created.push(staged.content.sha256);
                }
            }
            let joined = stager
                .join()
                .map_err(|_| Error::invalid("ingest", "the stager thread failed"));
            let ids = outcome?;
            joined?;
            if self.opts.sync && !ids.is_empty() {
                sync_filesystem(&self.root)?;
            }
            Ok(ids)
        })
    }

    /// Feeds the stager up to [`AHEAD`] items in advance, a batch at a time, and writes
    /// each item's rows once it is staged, in the order given. Errors come in that order
    /// too: an item the input could not give is an error only once every item before it is
    /// written (one of them may fail first), and nothing is read past it, nor past the
    /// input's end.
    fn write_rows<I>(
        &self,
        db: Db<'_>,
        items: I,
        queues: Queues<'_>,
        progress: &mut dyn FnMut(u64),
        created: &mut Vec<String>,
    ) -> Result<Vec<i64>>
    where
        I: IntoIterator<Item = Result<IngestItem>>,
    {
        let stager_gone = || Error::invalid("ingest", "the stager thread stopped");
        let mut items = items.into_iter().fuse();
        // A place for each item read: `Ok` when the stager has it, else the input's error.
        let mut waiting: VecDeque<Result<()>> = VecDeque::with_capacity(AHEAD);
        let mut ids = Vec::new();
        let now = now_ms();
        loop {
            if waiting.len() <= REFILL_AT {
                let mut batch = Vec::new();
                // Not past an error, nor once the stager failed (its error comes first).
                while waiting.len() < AHEAD
                    && waiting.back().is_none_or(Result::is_ok)
                    && !queues.aborted.load(Ordering::Relaxed)
                {
                    let Some(next) = items.next() else { break };
                    waiting.push_back(next.map(|item| batch.push(item)));
                }
                if !batch.is_empty() {
                    queues.to_stage.send(batch).map_err(|_| stager_gone())?;
                }
            }
            let Some(place) = waiting.pop_front() else {
                return Ok(ids);
            };
            place?;
            let Staged {
                item,
                key,
                content,
                new,
            } = queues.staged.recv().map_err(|_| stager_gone())??;
            if new {
                created.push(content.sha256.clone());
            }
            let version = db.allocate_version(&key)?;
            ids.push(db.insert_item(
                &item,
                &key,
                version,
                Status::Ready,
                None,
                Some(&content),
                now,
            )?);
            progress(ids.len() as u64);
        }
    }
}

/// Stages one item's content and moves it into the store, unsynced (the ingest syncs the
/// file system once at the end), and computes its key.
fn stage(blobs: &BlobStore, IngestItem { item, content }: IngestItem) -> Result<Staged> {
    // The key first: once the blob is in the store, nothing may stop it being reported.
    let key = item_key(&item.uri, &item.params);
    let sealed = match &content {
        IngestContent::Bytes(bytes) => blobs.stage_bytes(bytes, false)?,
        IngestContent::File(path) => blobs.stage_file(path, false)?,
    };
    let content = sealed.content.clone();
    let existed = blobs.adopt(sealed, false)?;
    Ok(Staged {
        key,
        item,
        content,
        new: !existed,
    })
}
