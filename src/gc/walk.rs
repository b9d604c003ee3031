//! Listing the blobs on disk for orphan detection: every regular file at the exact blob
//! layout (`ab/cd/<60 hex digits>`), as digests in ascending order. Anything else in the
//! blob directory — a stray file, a name of the wrong length, a symlink — is no blob and
//! is never listed, so it can never be taken for an orphan. Symlinked directories are not
//! entered. The top-level fan-out directories are shared out among threads, and a leaf
//! directory unchanged since the last walk is taken from its remembered [`Listing`].

use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use super::listing::{DirId, Listing, RACY, Stamp};
use crate::error::{Error, IoResultExt, Result};
use crate::key::decode_hex;

/// Most threads a walk uses.
const MAX_THREADS: usize = 8;

/// What was found under one top-level directory.
#[derive(Default)]
struct TopWalk {
    /// Its blobs, ascending, in pieces.
    pieces: Vec<Piece>,
    /// Its leaf directories whose listing may be remembered, ascending.
    settled: Vec<(DirId, Stamp)>,
}

/// Some of the blobs found, in order: where the remembered listing holds them, or read.
/// Unchanged directories in a row are one piece: an unchanged tree is one piece in all,
/// the listing as it was read.
enum Piece {
    Remembered(Range<usize>),
    Read(Vec<[u8; 32]>),
}

impl Piece {
    fn len(&self) -> usize {
        match self {
            Piece::Remembered(range) => range.len(),
            Piece::Read(digests) => digests.len(),
        }
    }
}

/// Appends `piece` to `pieces`: nothing if it is empty, into the last one where both are
/// remembered and meet.
fn push_piece(pieces: &mut Vec<Piece>, piece: Piece) {
    if piece.len() == 0 {
        return;
    }
    if let (Some(Piece::Remembered(last)), Piece::Remembered(next)) = (pieces.last_mut(), &piece)
        && last.end == next.start
    {
        last.end = next.end;
        return;
    }
    pieces.push(piece);
}

/// The blobs `pieces` hold, in one list: the listing's own when they are all of it.
fn assemble(remembered: Listing, pieces: Vec<Piece>) -> Vec<[u8; 32]> {
    let all = 0..remembered.digests().len();
    match pieces.as_slice() {
        [] => return Vec::new(),
        [Piece::Remembered(range)] if *range == all => return remembered.into_digests(),
        _ => {}
    }
    let mut out = Vec::with_capacity(pieces.iter().map(Piece::len).sum());
    for piece in pieces {
        match piece {
            Piece::Remembered(range) => {
                out.extend_from_slice(remembered.digests().get(range).unwrap_or_default());
            }
            Piece::Read(digests) => out.extend(digests),
        }
    }
    out
}

/// The walk of one top-level directory, by its place in the listing.
type Found = (usize, Result<TopWalk>);

/// The file beside the blob directory `dir` that remembers its listing.
fn listing_path(dir: &Path) -> PathBuf {
    dir.with_extension("listing")
}

/// The digests of the blob files under `dir`, ascending. The listing is remembered for
/// the next walk (through a temporary file in `tmp`); `now` is the time of the walk.
pub(super) fn blob_digests(dir: &Path, tmp: &Path, now: SystemTime) -> Result<Vec<[u8; 32]>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let remembered = Listing::load(&listing_path(dir), now);
    let settled = now.checked_sub(RACY).unwrap_or(SystemTime::UNIX_EPOCH);
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
            let Some((byte, entry)) = tops.get(at) else {
                break;
            };
            let found = walk_top(*byte, &entry.path(), &remembered, settled);
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
    let (mut pieces, mut settled) = (Vec::new(), Vec::new());
    for (_, found) in done {
        let found = found?;
        for piece in found.pieces {
            push_piece(&mut pieces, piece);
        }
        settled.extend(found.settled);
    }
    let save = !remembered.remembers(&settled);
    let out = assemble(remembered, pieces);
    if save {
        Listing::save(&settled, &out, &listing_path(dir), tmp);
    }
    Ok(out)
}

/// The blob digests under one top-level fan-out directory, ascending: each leaf directory
/// from the `remembered` listing if its stamp is unchanged, else read. A directory last
/// changed before `settled` may be remembered next time.
fn walk_top(top: u8, dir: &Path, remembered: &Listing, settled: SystemTime) -> Result<TopWalk> {
    let mut out = TopWalk::default();
    for (mid, entry) in fan_out_dirs(dir)? {
        let id = DirId::from_be_bytes([top, mid]);
        // Taken before the directory is read: a change meanwhile makes it differ next time.
        // (Looked up in `dir`, not by the whole path: there are 65,536 of them.)
        let stamp = match entry.metadata() {
            Ok(meta) => Stamp::of(&meta),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).at(entry.path()),
        };
        if let Some(stamp) = stamp
            && let Some(known) = remembered.lookup(id, &stamp)
        {
            push_piece(&mut out.pieces, Piece::Remembered(known));
            out.settled.push((id, stamp));
            continue;
        }
        if let Some(stamp) = stamp.filter(|s| s.settled(settled)) {
            out.settled.push((id, stamp));
        }
        let mut read = Vec::new();
        let path = entry.path();
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
                Ok(kind) if kind.is_file() => read.push(digest),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).at(entry.path()),
            }
        }
        read.sort_unstable();
        push_piece(&mut out.pieces, Piece::Read(read));
    }
    Ok(out)
}

/// The subdirectories of `dir` named by two hex digits (what they stand for, and their
/// entries), ascending; symlinks to directories are left out.
fn fan_out_dirs(dir: &Path) -> Result<Vec<(u8, fs::DirEntry)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let mut byte = [0u8; 1];
        if decode_hex(entry.file_name().as_encoded_bytes(), &mut byte)
            && entry.file_type().at(entry.path())?.is_dir()
        {
            out.push((byte[0], entry));
        }
    }
    out.sort_unstable_by_key(|(byte, _)| *byte);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::blob::BlobStore;
    use crate::gc::listing::MAX_AGE;

    /// A blob store with blobs `ab/cd/…1`, `ab/cd/…2` and `ef/01/…3`.
    fn store() -> (tempfile::TempDir, BlobStore) {
        let root = tempfile::tempdir().unwrap();
        let blobs = BlobStore::new(root.path());
        blobs.create_dirs().unwrap();
        for d in [
            digest(0xab, 0xcd, 1),
            digest(0xab, 0xcd, 2),
            digest(0xef, 0x01, 3),
        ] {
            add(&blobs, &d);
        }
        (root, blobs)
    }

    fn digest(top: u8, mid: u8, last: u8) -> [u8; 32] {
        let mut d = [0u8; 32];
        (d[0], d[1], d[31]) = (top, mid, last);
        d
    }

    fn path_of(blobs: &BlobStore, d: &[u8; 32]) -> PathBuf {
        blobs.path(&crate::key::hex(d)).unwrap()
    }

    fn add(blobs: &BlobStore, d: &[u8; 32]) {
        let path = path_of(blobs, d);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "blob").unwrap();
    }

    /// Saves a listing of the store's two directories as they are now, which says
    /// `ab/cd` also holds a blob that is not there; returns what it says.
    fn save_with_ghost(dir: &Path, tmp: &Path, on_disk: &[[u8; 32]]) -> Vec<[u8; 32]> {
        let mut said = on_disk.to_vec();
        said.push(digest(0xab, 0xcd, 9));
        said.sort();
        let dirs = [
            (0xabcd, stamp(&dir.join("ab").join("cd"))),
            (0xef01, stamp(&dir.join("ef").join("01"))),
        ];
        Listing::save(&dirs, &said, &listing_path(dir), tmp);
        said
    }

    /// A time by which every directory here has settled.
    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(3600)
    }

    fn stamp(path: &Path) -> Stamp {
        Stamp::of(&fs::symlink_metadata(path).unwrap()).unwrap()
    }

    /// Adds blob `d`, again until its directory's stamp shows it: the file system's clock
    /// may be coarser than the time since the directory was last listed.
    fn add_visibly(blobs: &BlobStore, d: &[u8; 32]) {
        visibly(blobs, d, add, remove);
    }

    /// Removes blob `d`, again until its directory's stamp shows it (as `add_visibly`).
    fn remove_visibly(blobs: &BlobStore, d: &[u8; 32]) {
        visibly(blobs, d, remove, add);
    }

    fn remove(blobs: &BlobStore, d: &[u8; 32]) {
        fs::remove_file(path_of(blobs, d)).unwrap();
    }

    /// Does `change` to blob `d`, undoing it and waiting a moment, until its directory's
    /// stamp differs from what it was before.
    fn visibly(
        blobs: &BlobStore,
        d: &[u8; 32],
        change: fn(&BlobStore, &[u8; 32]),
        undo: fn(&BlobStore, &[u8; 32]),
    ) {
        let path = path_of(blobs, d);
        let before = stamp(path.parent().unwrap());
        loop {
            change(blobs, d);
            if stamp(path.parent().unwrap()) != before {
                return;
            }
            undo(blobs, d);
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn remembered_directories_either_side_of_one_emptied_stay_apart() {
        let (_root, blobs) = store();
        let middle = digest(0xab, 0xce, 5);
        add(&blobs, &middle);
        let (dir, tmp) = (blobs.dir(), blobs.tmp_dir());
        assert_eq!(blob_digests(dir, tmp, later()).unwrap().len(), 4);
        // `ab/cd` and `ef/01` are still taken from the listing, whose blobs of `ab/ce`
        // lie between theirs.
        remove_visibly(&blobs, &middle);
        let now = [
            digest(0xab, 0xcd, 1),
            digest(0xab, 0xcd, 2),
            digest(0xef, 0x01, 3),
        ];
        assert_eq!(blob_digests(dir, tmp, later()).unwrap(), now);
        assert_eq!(blob_digests(dir, tmp, later()).unwrap(), now, "as saved");
    }

    #[test]
    fn a_remembered_directory_gone_is_no_longer_listed() {
        let (_root, blobs) = store();
        let (dir, tmp) = (blobs.dir(), blobs.tmp_dir());
        assert_eq!(blob_digests(dir, tmp, later()).unwrap().len(), 3);
        // What is left is one piece of the listing, not all of it.
        fs::remove_dir_all(dir.join("ef")).unwrap();
        let now = [digest(0xab, 0xcd, 1), digest(0xab, 0xcd, 2)];
        assert_eq!(blob_digests(dir, tmp, later()).unwrap(), now);
        assert_eq!(blob_digests(dir, tmp, later()).unwrap(), now, "as saved");
    }

    #[test]
    fn a_remembered_directory_is_taken_from_the_listing_not_read() {
        let (_root, blobs) = store();
        let (dir, tmp) = (blobs.dir(), blobs.tmp_dir());
        let all = blob_digests(dir, tmp, later()).unwrap();
        assert_eq!(all.len(), 3);
        // Believed, ghost included, since the directories' stamps are as remembered.
        let said = save_with_ghost(dir, tmp, &all);
        assert_eq!(blob_digests(dir, tmp, later()).unwrap(), said);
    }

    #[test]
    fn a_listing_saved_too_long_ago_is_not_trusted() {
        let (_root, blobs) = store();
        let (dir, tmp) = (blobs.dir(), blobs.tmp_dir());
        let all = blob_digests(dir, tmp, later()).unwrap();
        save_with_ghost(dir, tmp, &all);
        let saved = fs::File::options()
            .append(true)
            .open(listing_path(dir))
            .unwrap();
        saved
            .set_modified(SystemTime::now() - MAX_AGE - Duration::from_secs(60))
            .unwrap();
        assert_eq!(blob_digests(dir, tmp, later()).unwrap(), all);
    }

    #[test]
    fn a_directory_changed_since_is_read_again() {
        let (_root, blobs) = store();
        let (dir, tmp) = (blobs.dir(), blobs.tmp_dir());
        blob_digests(dir, tmp, later()).unwrap();
        add_visibly(&blobs, &digest(0xab, 0xcd, 4));
        fs::remove_file(path_of(&blobs, &digest(0xab, 0xcd, 1))).unwrap();
        add(&blobs, &digest(0x00, 0x00, 5));
        assert_eq!(
            blob_digests(dir, tmp, later()).unwrap(),
            [
                digest(0, 0, 5),
                digest(0xab, 0xcd, 2),
                digest(0xab, 0xcd, 4),
                digest(0xef, 1, 3)
            ]
        );
    }

    #[test]
    fn a_directory_changed_just_before_the_walk_is_not_remembered() {
        let (_root, blobs) = store();
        let (dir, tmp) = (blobs.dir(), blobs.tmp_dir());
        blob_digests(dir, tmp, SystemTime::now()).unwrap();
        let listing = Listing::load(&listing_path(dir), later());
        let leaf = dir.join("ab").join("cd");
        assert_eq!(listing.lookup(0xabcd, &stamp(&leaf)), None);
        blob_digests(dir, tmp, later()).unwrap();
        let listing = Listing::load(&listing_path(dir), later());
        assert_eq!(
            listing
                .lookup(0xabcd, &stamp(&leaf))
                .map(|blobs| blobs.len()),
            Some(2)
        );
    }

    #[test]
    fn a_damaged_listing_is_a_walk_from_scratch() {
        let (_root, blobs) = store();
        let (dir, tmp) = (blobs.dir(), blobs.tmp_dir());
        let truth = blob_digests(dir, tmp, later()).unwrap();
        let saved = fs::read(listing_path(dir)).unwrap();
        let mut unsorted = saved.clone();
        let n = unsorted.len();
        unsorted[n - 64..].rotate_left(32);
        // Counts far beyond the file (nothing that large may be made of them).
        let counts = b"cachet blob listing v1\n".len();
        let mut huge = saved.clone();
        huge[counts + 8..counts + 16].copy_from_slice(&(1u64 << 40).to_le_bytes());
        let mut overflowing = saved.clone();
        overflowing[counts..counts + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        for bad in [
            huge,
            overflowing,
            saved[..saved.len() - 1].to_vec(),
            [saved.as_slice(), b"x"].concat(),
            b"garbage".to_vec(),
            Vec::new(),
            unsorted,
        ] {
            fs::write(listing_path(dir), &bad).unwrap();
            assert_eq!(blob_digests(dir, tmp, later()).unwrap(), truth);
        }
    }
}
