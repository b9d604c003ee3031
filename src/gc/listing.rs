//! The blob tree's listing, kept between collections, so that finding orphans reads again
//! only the fan-out directories that changed since the last walk: at a million blobs,
//! reading all 65,536 of them costs seconds, looking at their times a tenth of one.
//!
//! Each leaf directory (`ab/cd`) is remembered with its inode and its modification and
//! change times. Adding, removing or renaming an entry sets both times, and the change time
//! cannot be set back by anyone, so a directory whose times are as remembered holds what it
//! held. A directory changed shortly before it was read is not remembered: a change later in
//! the same clock tick would leave its times as they were (git's "racily clean" entries).
//!
//! Whatever the file says, it can only make a plan miss an orphan, never take a live blob
//! for one: every digest it yields is checked against the registry and then on disk like
//! any other. A missing, unreadable or malformed file means a walk from scratch, and so
//! does one older than [`MAX_AGE`], which bounds how long a wrong but well-formed file (an
//! old copy, a file system whose directory times never change) can hide an orphan.

use std::fs::{self, File};
use std::io::{BufReader, Read, Write};
use std::ops::Range;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// How recently changed a directory may be and still be remembered: well above the
/// granularity of file times on any file system (FAT's is two seconds).
pub(super) const RACY: Duration = Duration::from_secs(3);

/// How long a saved listing is trusted at all.
pub(super) const MAX_AGE: Duration = Duration::from_secs(7 * 86_400);

const MAGIC: &[u8] = b"cachet blob listing v1\n";

/// A leaf directory's number: its two fan-out bytes, `ab/cd` as `0xabcd`.
pub(super) type DirId = u16;

/// A directory's identity and times, as `stat` gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

const STAMP_BYTES: usize = 2 + 8 + 4 * 8;

impl Stamp {
    /// The stamp of the directory `meta` describes (none where times are not available).
    pub fn of(meta: &fs::Metadata) -> Option<Stamp> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(Stamp {
                ino: meta.ino(),
                mtime: (meta.mtime(), meta.mtime_nsec()),
                ctime: (meta.ctime(), meta.ctime_nsec()),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            None
        }
    }

    /// Whether the directory last changed before `settled`, so that its listing holds.
    pub fn settled(&self, settled: SystemTime) -> bool {
        let Ok(at) = settled.duration_since(SystemTime::UNIX_EPOCH) else {
            return false;
        };
        let at = (at.as_secs() as i64, i64::from(at.subsec_nanos()));
        self.ctime < at && self.mtime < at
    }
}

/// The remembered listing.
#[derive(Debug, Default)]
pub(super) struct Listing {
    /// Remembered leaf directories, ascending.
    dirs: Vec<(DirId, Stamp)>,
    /// By directory in `dirs`: where its blobs are in `digests`.
    blobs: Vec<Range<usize>>,
    /// The blobs in the directories, ascending (so in directory order). Read from the
    /// file straight into place, and handed on as they are when nothing changed: tens of
    /// megabytes at a million blobs.
    digests: Vec<[u8; 32]>,
}

fn dir_of(digest: &[u8; 32]) -> DirId {
    u16::from_be_bytes([digest[0], digest[1]])
}

/// Where directory `dir` is in `dirs` (ascending), if it is there.
fn find(dirs: &[(DirId, Stamp)], dir: DirId) -> Option<usize> {
    dirs.binary_search_by_key(&dir, |(d, _)| *d).ok()
}

impl Listing {
    /// The listing saved at `path` as of `now`, or an empty one if there is none that
    /// makes sense or it was saved more than [`MAX_AGE`] ago.
    pub fn load(path: &Path, now: SystemTime) -> Listing {
        let Ok(file) = File::open(path) else {
            return Listing::default();
        };
        let fresh = (file.metadata().and_then(|meta| meta.modified()))
            .is_ok_and(|saved| now.duration_since(saved).unwrap_or_default() < MAX_AGE);
        fresh
            .then(|| Listing::read(file))
            .flatten()
            .unwrap_or_default()
    }

    /// Where the blobs of directory `dir` are in [`Listing::digests`], if it is
    /// remembered with `stamp`.
    pub fn lookup(&self, dir: DirId, stamp: &Stamp) -> Option<Range<usize>> {
        let at = find(&self.dirs, dir)?;
        if self.dirs[at].1 != *stamp {
            return None;
        }
        self.blobs.get(at).cloned()
    }

    /// The remembered blobs, ascending.
    pub fn digests(&self) -> &[[u8; 32]] {
        &self.digests
    }

    /// The remembered blobs, ascending, taken out.
    pub fn into_digests(self) -> Vec<[u8; 32]> {
        self.digests
    }

    /// Whether it remembers exactly `dirs`, with these stamps (then saving again would
    /// write what is there).
    pub fn remembers(&self, dirs: &[(DirId, Stamp)]) -> bool {
        self.dirs == dirs
    }

    /// Saves the listing of `dirs` (ascending) at `path`: the digests of `found`
    /// (ascending) that lie in them. It goes through a temporary file in `tmp`, where gc
    /// cleans up one a crash left. Best effort: without it the next walk reads everything.
    pub fn save(dirs: &[(DirId, Stamp)], found: &[[u8; 32]], path: &Path, tmp: &Path) {
        let remembered = |d: &&[u8; 32]| find(dirs, dir_of(d)).is_some();
        let n_digests = found.iter().filter(remembered).count();
        let mut bytes =
            Vec::with_capacity(MAGIC.len() + 16 + dirs.len() * STAMP_BYTES + n_digests * 32);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(dirs.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&(n_digests as u64).to_le_bytes());
        for (dir, s) in dirs {
            bytes.extend_from_slice(&dir.to_le_bytes());
            bytes.extend_from_slice(&s.ino.to_le_bytes());
            for n in [s.mtime.0, s.mtime.1, s.ctime.0, s.ctime.1] {
                bytes.extend_from_slice(&n.to_le_bytes());
            }
        }
        for d in found.iter().filter(remembered) {
            bytes.extend_from_slice(d);
        }
        let _ = tempfile::Builder::new()
            .prefix("blob-listing-")
            .tempfile_in(tmp)
            .and_then(|mut file| {
                file.write_all(&bytes)?;
                file.persist(path).map_err(|e| e.error)?;
                Ok(())
            });
    }

    /// Reads a listing from `file`, checking all of it: `None` if it is not one, whole.
    fn read(file: File) -> Option<Listing> {
        let len = file.metadata().ok()?.len();
        let mut file = BufReader::new(file);
        let mut head = [0u8; MAGIC.len() + 16];
        file.read_exact(&mut head).ok()?;
        let counts = head.strip_prefix(MAGIC)?;
        let count = |b: &[u8]| usize::try_from(u64::from_le_bytes(b.try_into().ok()?)).ok();
        let n_dirs = count(&counts[..8])?;
        let n_digests = count(&counts[8..])?;
        // The counts must fit the file before anything is made of them.
        let dir_bytes = n_dirs.checked_mul(STAMP_BYTES)?;
        let size = (head.len() as u64)
            .checked_add(u64::try_from(dir_bytes).ok()?)?
            .checked_add(u64::try_from(n_digests.checked_mul(32)?).ok()?)?;
        if size != len {
            return None;
        }
        let mut stamps = vec![0u8; dir_bytes];
        file.read_exact(&mut stamps).ok()?;
        let int = |b: &[u8]| i64::from_le_bytes(b.try_into().unwrap_or_default());
        let dirs: Vec<(DirId, Stamp)> = stamps
            .chunks_exact(STAMP_BYTES)
            .map(|c| {
                let stamp = Stamp {
                    ino: int(&c[2..10]) as u64,
                    mtime: (int(&c[10..18]), int(&c[18..26])),
                    ctime: (int(&c[26..34]), int(&c[34..42])),
                };
                (u16::from_le_bytes([c[0], c[1]]), stamp)
            })
            .collect();
        let mut digests = vec![[0u8; 32]; n_digests];
        file.read_exact(digests.as_flattened_mut()).ok()?;
        // Nothing more (it could have grown since its length was taken).
        if file.read(&mut [0u8; 1]).ok()? != 0 {
            return None;
        }
        // Lookups rely on both orders, and every digest belongs to a remembered directory.
        if !(dirs.windows(2).all(|w| w[0].0 < w[1].0) && digests.is_sorted_by(|a, b| a < b)) {
            return None;
        }
        let mut blobs = vec![0..0; dirs.len()];
        let mut start = 0;
        for run in digests.chunk_by(|a, b| dir_of(a) == dir_of(b)) {
            let at = find(&dirs, dir_of(&run[0]))?;
            blobs[at] = start..start + run.len();
            start += run.len();
        }
        Some(Listing {
            dirs,
            blobs,
            digests,
        })
    }
}
