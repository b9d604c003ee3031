//! Listing the blobs on disk for orphan detection: every regular file at the exact blob
//! layout (`ab/cd/<60 hex digits>`), as digests in ascending order. Anything else in the
//! blob directory — a stray file, a name of the wrong length, a symlink — is no blob and
//! is never listed, so it can never be taken for an orphan. Symlinked directories are not
//! entered. The top-level fan-out directories are shared out among threads.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, IoResultExt, Result};
use crate::key::decode_hex;

/// Most threads a walk uses.
const MAX_THREADS: usize = 8;

/// The digests found under one top-level directory, by its place in the listing.
type Found = (usize, Result<Vec<[u8; 32]>>);

/// The digests of the blob files under `dir`, ascending.
pub(super) fn blob_digests(dir: &Path) -> Result<Vec<[u8; 32]>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let tops = fan_out_dirs(dir)?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_THREADS)
        .min(tops.len().max(1));
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Found>> = Mutex::new(Vec::new());
    let work = || {
        loop {
            let at = next.fetch_add(1, Ordering::Relaxed);
            let Some((byte, path)) = tops.get(at) else {
                break;
            };
            let found = walk_top(*byte, path);
            let failed = found.is_err();
            if let Ok(mut done) = done.lock() {
                done.push((at, found));
            }
            if failed {
                // Stop handing out work; the first error in order is reported.
                next.store(tops.len(), Ordering::Relaxed);
            }
        }
    };
    std::thread::scope(|scope| {
        // Helpers, as many as the system lets us start; this thread works too.
        for _ in 1..threads {
            if std::thread::Builder::new()
                .spawn_scoped(scope, work)
                .is_err()
            {
                break;
            }
        }
        work();
    });
    let mut done = done
        .into_inner()
        .map_err(|_| Error::invalid(dir.display().to_string(), "a blob directory walk failed"))?;
    done.sort_by_key(|(at, _)| *at);
    let mut out = Vec::new();
    for (_, found) in done {
        out.extend(found?);
    }
    Ok(out)
}

/// The blob digests under one top-level fan-out directory, ascending.
fn walk_top(top: u8, dir: &Path) -> Result<Vec<[u8; 32]>> {
    let mut out = Vec::new();
    for (mid, path) in fan_out_dirs(dir)? {
        for entry in fs::read_dir(&path).at(&path)? {
            let entry = entry.at(&path)?;
            let name = entry.file_name();
            let mut digest = [0u8; 32];
            digest[0] = top;
            digest[1] = mid;
            if !decode_hex(name.as_encoded_bytes(), &mut digest[2..]) {
                continue;
            }
            // Not followed: a symlink is not a regular file. One gone meanwhile is no blob.
            match entry.file_type() {
                Ok(kind) if kind.is_file() => out.push(digest),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).at(entry.path()),
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The subdirectories of `dir` named by two hex digits (what they stand for, and their
/// paths), ascending; symlinks to directories are left out.
fn fan_out_dirs(dir: &Path) -> Result<Vec<(u8, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let mut byte = [0u8; 1];
        if decode_hex(entry.file_name().as_encoded_bytes(), &mut byte)
            && entry.file_type().at(entry.path())?.is_dir()
        {
            out.push((byte[0], entry.path()));
        }
    }
    out.sort_unstable_by_key(|(byte, _)| *byte);
    Ok(out)
}
