//! Reading an item's content: its blob path, checked; its bytes, verified on the way.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::PathBuf;

use super::Cache;
use crate::error::{Error, IoResultExt, Result};
use crate::registry::{Item, now_ms};
use crate::status::Status;

impl Cache {
    /// Records a read of item `id` (last access time and count).
    pub fn record_access(&self, id: i64) -> Result<()> {
        self.registry.write(|db| db.record_access(id, now_ms()))
    }

    /// The blob path of a READY item, checked to exist with the registered size.
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
                expected: format!("{sha} ({size} bytes)"),
                actual: format!("a file of {} bytes", meta.len()),
            });
        }
        Ok(path)
    }

    /// Streams a READY item's content into `out`, checking its digest on the way; an
    /// altered blob is an error after the copy (and the caller discards what it got).
    pub fn copy_content(&self, item: &Item, out: &mut dyn Write) -> Result<u64> {
        let path = self.content_path(item)?;
        let (sha, _) = ready_content(item)?;
        let mut reader = crate::blob::HashingReader::new(File::open(&path).at(&path)?);
        io::copy(&mut reader, out).map_err(|e| Error::Io {
            path: path.clone(),
            source: e,
        })?;
        reader.check(sha, &path)
    }
}

fn ready_content(item: &Item) -> Result<(&str, u64)> {
    match (&item.sha256, item.size, item.status) {
        (Some(sha), Some(size), Status::Ready) => Ok((sha, size)),
        _ => Err(Error::invalid(
            format!("item {} ({})", item.id, item.reference()),
            format!("is {}, it has no readable content", item.status),
        )),
    }
}
