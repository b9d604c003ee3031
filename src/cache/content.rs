//! Reading an item's content: its blob path, checked; its bytes, verified on the way.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

use super::Cache;
use crate::error::{Error, Result};
use crate::registry::{Item, now_ms};
use crate::status::Status;

impl Cache {
    /// Records a read of item `id` (last access time and count).
    pub fn record_access(&self, id: i64) -> Result<()> {
        self.registry.write(|db| db.record_access(id, now_ms()))
    }

    /// The blob path of a READY item (or one in the trash that was), checked to exist
    /// with the registered size.
    pub fn content_path(&self, item: &Item) -> Result<PathBuf> {
        let (sha, size) = ready_content(item)?;
        let path = self.blobs.path(sha)?;
        let meta = fs::metadata(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::MissingBlob {
                sha256: sha.to_string(),
                path: path.clone(),
            },
            _ => Error::Io {
                path: path.clone(),
                source: e,
            },
        })?;
        if meta.len() != size {
            return Err(Error::Integrity {
                path,
                expected: format!("{size} bytes ({sha})"),
                actual: format!("it holds {} bytes", meta.len()),
            });
        }
        Ok(path)
    }

    /// Streams a READY item's content into `out`, checking its digest on the way; an
    /// altered blob is an error after the copy (and the caller discards what it got).
    pub fn copy_content(&self, item: &Item, out: &mut dyn Write) -> Result<u64> {
        // Found, and of its size, before anything is written.
        self.content_path(item)?;
        let (sha, _) = ready_content(item)?;
        self.blobs().copy_checked(sha, out)
    }
}

/// The digest and size of an item whose content can be read: a READY one, or one in the
/// trash that was READY (its blob stays until it is purged, so it can be looked at
/// before).
fn ready_content(item: &Item) -> Result<(&str, u64)> {
    let readable = match item.status {
        Status::Ready => true,
        Status::Trash => item.trashed_from == Some(Status::Ready),
        _ => false,
    };
    match (&item.sha256, item.size) {
        (Some(sha), Some(size)) if readable => Ok((sha, size)),
        _ => Err(Error::invalid(
            format!("item {} ({})", item.id, item.reference()),
            format!("is {}, it has no readable content", item.status),
        )),
    }
}
