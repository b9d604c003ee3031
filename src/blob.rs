//! Content-addressed blobs: `blobs-v1/sha256/ab/cd/<rest of the digest>`.
//!
//! Content is streamed into `tmp/` (on unix into a file read-only from the start: the
//! writer's open handle is all that writes it; elsewhere made read-only when sealed),
//! hashed in the same pass, synced and renamed into place; an existing blob with the same
//! digest is a dedup hit. A reader therefore never sees a partial blob.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use crate::error::{Error, IoResultExt, OUTPUT, Result};
use crate::key::{blob_digest, hex};
use crate::registry::write::Content;

/// Directory name of the blob layout; a future layout gets a new name beside it.
pub const LAYOUT: &str = "blobs-v1";

/// Copy buffer size: large enough for the hasher to run at full speed.
const BUF: usize = 1 << 20;

/// The blob store under a cache root.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
    tmp: PathBuf,
    /// The fan-out directories this store made or found. A blob goes straight into a
    /// known one, and into another once it is made: most blobs of a young store need a
    /// new directory, and a move tried first would fail for them, a wasted path walk
    /// each. The price is one `mkdir` that finds the directory there, the first time a
    /// process stores into it. Only a hint: a directory gone since is made again when
    /// the move finds it missing.
    dirs_made: FanOutDirs,
    /// The fan-out directories whose entries (`cd` in `ab`, `ab` in the store) this store
    /// made durable, for `sync`. Not the same as made: another process may have made a
    /// directory a moment ago and not synced it yet. (A directory removed and made again
    /// by someone else since is not seen: cachet never removes them.)
    dirs_durable: FanOutDirs,
}

/// A bit for each fan-out directory (`ab/cd`, by the first four hex digits of the blobs
/// it holds), shared by a store's clones.
#[derive(Clone)]
struct FanOutDirs(Arc<[AtomicU64]>);

impl FanOutDirs {
    fn new() -> Self {
        FanOutDirs((0..(1 << 16) / 64).map(|_| AtomicU64::new(0)).collect())
    }

    /// The word and bit of the directory of blob `sha256` (a checked digest).
    fn bit(&self, sha256: &str) -> Option<(&AtomicU64, u64)> {
        let at = usize::from_str_radix(sha256.get(..4)?, 16).ok()?;
        Some((self.0.get(at / 64)?, 1 << (at % 64)))
    }

    fn has(&self, sha256: &str) -> bool {
        self.bit(sha256)
            .is_some_and(|(word, bit)| word.load(Ordering::Acquire) & bit != 0)
    }

    /// Sets the bit of blob `sha256`'s directory, once what it stands for is done.
    fn set(&self, sha256: &str) {
        if let Some((word, bit)) = self.bit(sha256) {
            word.fetch_or(bit, Ordering::Release);
        }
    }
}

impl std::fmt::Debug for FanOutDirs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set: u32 = self
            .0
            .iter()
            .map(|w| w.load(Ordering::Relaxed).count_ones())
            .sum();
        write!(f, "FanOutDirs({set} of 65536)")
    }
}

/// Content being written to `tmp/`, hashed as it goes.
pub struct Staged {
    file: NamedTempFile,
    hasher: Sha256,
    size: u64,
}

/// Content fully written (and synced, when asked), waiting to be moved into the store.
pub struct Sealed {
    file: NamedTempFile,
    /// Whether the content was synced when sealed.
    synced: bool,
    pub content: Content,
}

impl BlobStore {
    /// The store in `root` (its `blobs-v1/sha256` and `tmp/` directories).
    pub fn new(root: &Path) -> BlobStore {
        BlobStore {
            dir: root.join(LAYOUT).join("sha256"),
            tmp: root.join("tmp"),
            dirs_made: FanOutDirs::new(),
            dirs_durable: FanOutDirs::new(),
        }
    }

    /// Creates the store's directories.
    pub fn create_dirs(&self) -> Result<()> {
        fs::create_dir_all(&self.dir).at(&self.dir)?;
        fs::create_dir_all(&self.tmp).at(&self.tmp)
    }

    /// Whether anything is stored in the fan-out directories `ab/cd/`, where blobs are
    /// (stops at the first). Files elsewhere are no blobs: a `.DS_Store` is not content.
    pub fn holds_any(&self) -> Result<bool> {
        let dirs_in = |dir: &Path| -> Result<Vec<PathBuf>> {
            let entries = match fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(e).at(dir),
            };
            let mut dirs = Vec::new();
            for entry in entries {
                let path = entry.at(dir)?.path();
                if path.is_dir() {
                    dirs.push(path);
                }
            }
            Ok(dirs)
        };
        for ab in dirs_in(&self.dir)? {
            for cd in dirs_in(&ab)? {
                if fs::read_dir(&cd).at(&cd)?.next().is_some() {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// The directory holding all blobs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The staging directory.
    pub fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    /// Where the blob `sha256` lives (whether or not it exists).
    pub fn path(&self, sha256: &str) -> Result<PathBuf> {
        // Read by the one rule of which values name a blob (capitals too, as gc and purge
        // count them): a blob a registry row names in capitals is read and verified, not
        // refused, nor marked FAILED by `verify`.
        let Some(sha) = blob_digest(sha256) else {
            return Err(Error::invalid(
                format!("digest '{sha256}'"),
                "expected 64 hex digits, in lower case (or all in capitals)",
            ));
        };
        Ok(self.dir.join(&sha[0..2]).join(&sha[2..4]).join(&sha[4..]))
    }

    /// Starts writing new content into `tmp/`.
    pub fn stage(&self) -> Result<Staged> {
        let mut builder = tempfile::Builder::new();
        builder.prefix("blob-").suffix(".part");
        // Read-only, and the owner's only (as temporary files are), from the start: the open
        // file stays writable, and it takes two system calls fewer per blob than making it
        // so when sealed.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o400));
        let file = builder.tempfile_in(&self.tmp).at(&self.tmp)?;
        Ok(Staged {
            file,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Stages everything `reader` yields; `source` names it in errors.
    pub fn stage_reader(&self, mut reader: impl Read, source: &Path, sync: bool) -> Result<Sealed> {
        let mut staged = self.stage()?;
        let mut buf = vec![0u8; BUF];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).at(source),
            };
            staged.write_all(&buf[..n]).at(staged.file.path())?;
        }
        staged.seal(sync)
    }

    /// Stages `bytes`.
    pub fn stage_bytes(&self, bytes: &[u8], sync: bool) -> Result<Sealed> {
        let mut staged = self.stage()?;
        staged.write_all(bytes).at(staged.file.path())?;
        staged.seal(sync)
    }

    /// Stages the file at `path`.
    pub fn stage_file(&self, path: &Path, sync: bool) -> Result<Sealed> {
        let file = File::open(path).at(path)?;
        self.stage_reader(file, path, sync)
    }

    /// Moves sealed content into the store. Returns `true` when the blob already existed
    /// (a dedup hit; the staged copy is dropped): the move does not replace a file, so the
    /// answer holds even against another process storing the same blob at that moment.
    /// (On a file system that can neither rename without replacing nor link, it looks
    /// first and then renames: a blob stored by another process in between is replaced by
    /// the same content.)
    ///
    /// With `sync`, the blob is durable when this returns, whoever stored it: content
    /// sealed without a sync is synced first, and a blob found there (on unix) is synced
    /// too, as it may be another writer's that syncs later (a bulk ingest syncs at its
    /// end) or not yet; so are the directory entries that lead to it.
    pub fn adopt(&self, sealed: Sealed, sync: bool) -> Result<bool> {
        let sha256 = sealed.content.sha256.as_str();
        let dest = self.path(sha256)?;
        let parent = dest.parent().unwrap_or(&self.dir);
        if !self.dirs_made.has(sha256) {
            make_dir(parent)?;
            self.dirs_made.set(sha256);
        }
        if sync && !sealed.synced {
            sync_file(sealed.file.as_file(), sealed.file.path())?;
        }
        let mut made_again = false;
        let existed = match sealed.file.persist_noclobber(&dest) {
            Ok(_) => false,
            Err(e) => match e.error.kind() {
                io::ErrorKind::AlreadyExists => true,
                // The staged copy itself went (something emptied tmp/): say so, by its name.
                io::ErrorKind::NotFound if !e.file.path().exists() => {
                    return Err(e.error).at(e.file.path());
                }
                // The directory went since it was made or found.
                io::ErrorKind::NotFound => {
                    make_dir(parent)?;
                    made_again = true;
                    move_in(e.file, &dest)?
                }
                _ if dest.exists() => true,
                _ => {
                    e.file.persist(&dest).map_err(|e| e.error).at(&dest)?;
                    false
                }
            },
        };
        if sync {
            // Elsewhere a handle opened for reading cannot be flushed.
            #[cfg(unix)]
            if existed {
                sync_file(&File::open(&dest).at(&dest)?, &dest)?;
            }
            sync_dir(parent)?;
            if made_again || !self.dirs_durable.has(sha256) {
                self.sync_parents(parent)?;
                self.dirs_durable.set(sha256);
            }
        }
        Ok(existed)
    }

    /// Makes the entries of the fan-out directory `dir` (`ab/cd`) durable: `cd` in `ab`,
    /// `ab` in the store's directory. Whoever made them, maybe another process a moment
    /// ago, may not have yet.
    fn sync_parents(&self, dir: &Path) -> Result<()> {
        if let Some(ab) = dir.parent() {
            sync_dir(ab)?;
        }
        sync_dir(&self.dir)
    }

    /// Opens the blob `sha256` for reading.
    pub fn open(&self, sha256: &str) -> Result<File> {
        let path = self.path(sha256)?;
        open_stored(&path).map_err(|e| match e {
            Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
                Error::MissingBlob {
                    sha256: sha256.to_string(),
                    path: path.clone(),
                }
            }
            e => e,
        })
    }

    /// Whether the blob `sha256` is on disk.
    pub fn exists(&self, sha256: &str) -> bool {
        self.path(sha256).map(|p| p.is_file()).unwrap_or(false)
    }

    /// Rehashes the blob `sha256`; an altered or missing blob is an error.
    pub fn verify(&self, sha256: &str) -> Result<u64> {
        self.copy_checked(sha256, &mut io::sink())
    }

    /// Streams the blob `sha256` into `out`, checking its digest on the way: an altered
    /// blob is an error after the copy (and the caller discards what it got). A failed
    /// write is the output's (see [`copy_into`]). Returns its size.
    pub fn copy_checked(&self, sha256: &str, out: &mut dyn Write) -> Result<u64> {
        let path = self.path(sha256)?;
        let mut reader = HashingReader::new(self.open(sha256)?);
        copy_into(&mut reader, out, |source, _| Error::Io {
            path: path.clone(),
            source,
        })?;
        reader.check(sha256, &path)
    }

    /// Deletes the blob `sha256`; a blob already gone is not an error.
    pub fn remove(&self, sha256: &str) -> Result<()> {
        let path = self.path(sha256)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).at(&path),
        }
    }
}

/// Opens a stored file (a blob) for reading: a regular file only. Anything else in its
/// place is an altered blob, and a FIFO would block its reader until a writer came.
pub fn open_stored(path: &Path) -> Result<File> {
    let mut opts = fs::OpenOptions::new();
    opts.read(true);
    // Opening a FIFO to read waits for a writer, unless non-blocking (which changes
    // nothing for a regular file).
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, libc::O_NONBLOCK);
    let file = opts.open(path).at(path)?;
    let kind = file.metadata().at(path)?.file_type();
    if !kind.is_file() {
        return Err(Error::Integrity {
            path: path.to_path_buf(),
            expected: "a regular file".into(),
            actual: format!(
                "it is {}",
                if kind.is_dir() {
                    "a directory"
                } else {
                    "not a regular file (a FIFO, socket or device)"
                }
            ),
        });
    }
    Ok(file)
}

/// Makes the fan-out directory `dir` (and its parent, when missing); one already there is
/// fine.
fn make_dir(dir: &Path) -> Result<()> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir_all(dir).at(dir),
        Err(e) => Err(e).at(dir),
    }
}

/// Moves `file` to `dest` unless something is there; returns whether something was.
fn move_in(file: NamedTempFile, dest: &Path) -> Result<bool> {
    match file.persist_noclobber(dest) {
        Ok(_) => Ok(false),
        Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => Ok(true),
        Err(e) => Err(e.error).at(dest),
    }
}

impl Staged {
    /// Finishes writing: syncs (when asked) and returns the file, read-only, with its
    /// digest.
    pub fn seal(mut self, sync: bool) -> Result<Sealed> {
        let path = self.file.path().to_path_buf();
        self.file.flush().at(&path)?;
        if sync {
            sync_file(self.file.as_file(), &path)?;
        }
        #[cfg(not(unix))]
        {
            let mut perms = self.file.as_file().metadata().at(&path)?.permissions();
            perms.set_readonly(true);
            self.file.as_file().set_permissions(perms).at(&path)?;
        }
        Ok(Sealed {
            file: self.file,
            synced: sync,
            content: Content {
                sha256: hex(&self.hasher.finalize()),
                size: self.size,
            },
        })
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Write for Staged {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Copies `reader` into `out`, telling the sides apart: a failed read is `read_error`'s
/// to name (the blob or archive read; it is given the bytes copied until then), a failed
/// write is the output's ([`OUTPUT`]). A full disk under the output must not read as a
/// fault of the cache's files.
pub(crate) fn copy_into(
    reader: &mut dyn Read,
    out: &mut dyn Write,
    read_error: impl FnOnce(io::Error, u64) -> Error,
) -> Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e, total)),
        };
        out.write_all(&buf[..n]).at(OUTPUT)?;
        total += n as u64;
    }
}

/// A reader that hashes what passes through it, to check content while streaming it out.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// After reading to the end: an error unless the content hashed to `expected`.
    pub fn check(self, expected: &str, path: &Path) -> Result<u64> {
        let actual = hex(&self.hasher.finalize());
        if blob_digest(expected).is_some_and(|expected| expected == actual) {
            Ok(self.size)
        } else {
            Err(Error::Integrity {
                path: path.to_path_buf(),
                expected: expected.to_string(),
                actual: format!("it hashes to {actual}"),
            })
        }
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// Makes a directory's entries durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    sync_file(&File::open(dir).at(dir)?, dir)
}

/// Flushes `file` (at `path`) to disk. Tests see which paths were synced.
fn sync_file(file: &File, path: &Path) -> Result<()> {
    #[cfg(test)]
    tests::SYNCED.with(|synced| synced.borrow_mut().push(path.to_path_buf()));
    file.sync_all().at(path)
}

/// Flushes every file of the file system holding `path` to disk: one call instead of a
/// sync per file, for bulk writes.
pub fn sync_filesystem(path: &Path) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let dir = File::open(path).at(path)?;
        // SAFETY: syncfs only reads the descriptor, which `dir` keeps open for the call.
        let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
        if rc != 0 {
            return Err(io::Error::last_os_error()).at(path);
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        // SAFETY: sync takes no arguments and cannot fail.
        unsafe { libc::sync() };
    }
    Ok(())
}

#[cfg(test)]
mod tests;
