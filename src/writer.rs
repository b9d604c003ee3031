//! [`ItemWriter`]: the content of one item in WRITE, streamed into the blob store.

use std::io::{self, Write};
use std::time::Instant;

use crate::blob::Staged;
use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::registry::{Item, now_ms};
use crate::status::Status;

/// Writes one item's content. [`ItemWriter::commit`] makes it READY; an error, an explicit
/// [`ItemWriter::fail`] or dropping the writer marks it FAILED. While writing, the lease is
/// renewed so that a live writer is never reported stale.
pub struct ItemWriter<'c> {
    cache: &'c Cache,
    item: Item,
    staged: Option<Staged>,
    renewed: Instant,
}

impl<'c> ItemWriter<'c> {
    pub(crate) fn new(cache: &'c Cache, item: Item, staged: Staged) -> Self {
        ItemWriter {
            cache,
            item,
            staged: Some(staged),
            renewed: Instant::now(),
        }
    }

    /// The item being written (as it was when writing began).
    pub fn item(&self) -> &Item {
        &self.item
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.staged.as_ref().map_or(0, Staged::size)
    }

    /// Seals the content and makes the item READY.
    pub fn commit(mut self) -> Result<Item> {
        let staged = self.staged.take().ok_or(Error::Cancelled)?;
        let sealed = staged.seal(self.cache.opts().sync);
        let result = sealed.and_then(|s| self.cache.finish_write(self.item.id, s));
        if let Err(e) = &result {
            self.mark_failed(&format!("commit failed: {e}"));
        }
        result
    }

    /// Gives up: the item becomes FAILED with `reason` and the partial content is dropped.
    pub fn fail(mut self, reason: &str) -> Result<Item> {
        self.staged = None;
        self.cache.fail(self.item.id, reason)
    }

    fn mark_failed(&self, reason: &str) {
        // Best effort: the item may have been trashed meanwhile, which is final anyway.
        let _ = self.cache.registry().write(|db| {
            if db.status_of(self.item.id)? == Status::Write {
                db.transition(self.item.id, Status::Failed, Some(reason), now_ms())?;
            }
            Ok(())
        });
    }

    fn renew_if_due(&mut self) -> io::Result<()> {
        if self.renewed.elapsed() < self.cache.opts().lease / 3 {
            return Ok(());
        }
        let lease = self.cache.new_lease();
        self.cache
            .registry()
            .write(|db| db.renew_lease(self.item.id, &lease))
            .map_err(io::Error::other)?;
        self.renewed = Instant::now();
        Ok(())
    }
}

impl Write for ItemWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.renew_if_due()?;
        match &mut self.staged {
            Some(staged) => staged.write(buf),
            None => Err(io::Error::other("the item writer is already finished")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.staged {
            Some(staged) => staged.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for ItemWriter<'_> {
    fn drop(&mut self) {
        if self.staged.is_some() {
            self.mark_failed("the writer was dropped before commit");
        }
    }
}
