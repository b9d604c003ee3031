//! The [`Cache`] facade: one cache root with its registry and blob store.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;

use crate::blob::{BlobStore, Sealed};
use crate::error::{Error, IoResultExt, Result};
use crate::key::item_key;
use crate::registry::{Access, Db, Item, Lease, Link, ManifestInfo, NewItem, Registry, now_ms};
use crate::status::Status;
use crate::writer::ItemWriter;

/// The application name whose platform cache directory is the default root.
pub const DEFAULT_APP: &str = "cachet";

/// File name of the registry inside the root.
pub const REGISTRY_FILE: &str = "registry.sqlite";

const CACHEDIR_TAG: &str = "Signature: 8a477f597d28d172789f06886806bc55\n\
# This file is a cache directory tag created by cachet.\n\
# For information about cache directory tags, see https://bford.info/cachedir/\n";

/// How a cache is opened.
#[derive(Debug, Clone)]
pub struct CacheOpts {
    /// How long a writer's claim on an item lasts without renewal. A writer renews it while
    /// it writes; an item in WRITE whose lease ran out is stale.
    pub lease: Duration,
    /// Sync blobs and directory entries before an item becomes READY (on by default; off
    /// only for throwaway caches).
    pub sync: bool,
}

impl Default for CacheOpts {
    fn default() -> Self {
        CacheOpts {
            lease: Duration::from_secs(600),
            sync: true,
        }
    }
}

/// One cache root: registry, blobs and staging area. Not shared between threads: each
/// thread opens its own (SQLite connections are per thread).
pub struct Cache {
    root: PathBuf,
    registry: Registry,
    blobs: BlobStore,
    opts: CacheOpts,
    host: String,
}

/// One item to add with [`Cache::ingest`].
#[derive(Debug, Clone)]
pub struct IngestItem {
    pub item: NewItem,
    pub content: IngestContent,
}

/// Where an ingested item's content comes from.
#[derive(Debug, Clone)]
pub enum IngestContent {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// Whether a file can be made in `dir`, in the cache at `root`; if not, an error naming
/// the root (and `dir` within it).
fn writable(root: &Path, dir: &Path) -> Result<()> {
    tempfile::tempfile_in(dir).map(drop).map_err(|e| {
        // The directory named once: the root, or the one inside it.
        let inside = match dir.strip_prefix(root) {
            Ok(rel) if rel.as_os_str().is_empty() => String::new(),
            Ok(rel) => format!(" (its {})", rel.display()),
            Err(_) => format!(" ({})", dir.display()),
        };
        Error::invalid(
            format!("cache root {}", root.display()),
            format!("is not writable{inside}: {e}"),
        )
    })
}

/// What a cache root holds of its own: anything else in a directory without a registry
/// is someone else's.
const CACHE_PARTS: [&str; 7] = [
    REGISTRY_FILE,
    "registry.sqlite-wal",
    "registry.sqlite-shm",
    "registry.sqlite-journal",
    "CACHEDIR.TAG",
    crate::blob::LAYOUT,
    "tmp",
];

/// Refuses to start a cache in a directory that holds anything but a cache's own parts: a
/// mistyped root (a home or downloads folder) would get a cache mixed into it, and its
/// `CACHEDIR.TAG` makes backup tools skip the whole directory from then on.
fn refuse_foreign(root: &Path) -> Result<()> {
    let mut foreign: Vec<String> = Vec::new();
    for entry in fs::read_dir(root).at(root)? {
        let name = entry.at(root)?.file_name();
        let text = name.to_string_lossy();
        // Not a user's files: a file system's own folder, a file manager's notes, and
        // the probe another process starting this cache makes (where the system names
        // its temporary files).
        let incidental = ["lost+found", ".DS_Store"].contains(&&*text) || text.starts_with(".tmp");
        if !incidental && !CACHE_PARTS.iter().any(|part| name == *part) {
            foreign.push(crate::preview::escape_controls(&text).into_owned());
        }
    }
    if foreign.is_empty() {
        return Ok(());
    }
    foreign.sort_unstable();
    let shown = foreign.len().min(3);
    let more = match foreign.len() - shown {
        0 => String::new(),
        n => format!(" and {n} more"),
    };
    Err(Error::invalid(
        format!("cache root {}", root.display()),
        format!(
            "holds no cache but other files ({}{more}): a cache is started only in a new or \
             empty directory, since its CACHEDIR.TAG would make backup tools skip everything \
             in it. Name the root of an existing cache, or a new directory",
            foreign[..shown].join(", ")
        ),
    ))
}

/// Either the best existing version or a writer for a new one.
pub enum BestOrNew<'c> {
    Existing(Item),
    New(ItemWriter<'c>),
}

impl Cache {
    /// The platform cache directory of application `app` (`~/.cache/<app>` on Linux).
    pub fn default_root(app: &str) -> Result<PathBuf> {
        let base = directories::BaseDirs::new().ok_or_else(|| {
            Error::invalid(
                "cache root",
                "no home directory found; pass --root or set CACHET_ROOT",
            )
        })?;
        Ok(base.cache_dir().join(app))
    }

    /// Opens (creating if needed) the cache at `root` with default options.
    pub fn open(root: impl AsRef<Path>) -> Result<Cache> {
        Cache::open_with(root, CacheOpts::default())
    }

    /// Opens the cache at `root` to read it: as [`Cache::open`] does where its directory
    /// can be written (or where there is no cache yet); elsewhere (a read-only mount,
    /// another user's cache) only to read: nothing is created, migrated or recorded, and
    /// every change is refused ([`Error::ReadOnlyCache`]).
    pub fn open_to_read(root: impl AsRef<Path>) -> Result<Cache> {
        let root = root.as_ref();
        let file = root.join(REGISTRY_FILE);
        if !file.is_file() || writable(root, root).is_ok() {
            return Cache::open(root);
        }
        let registry = Registry::open_read_only(&file)?;
        let blobs = BlobStore::new(root);
        Ok(Cache::of(
            root.to_path_buf(),
            registry,
            blobs,
            CacheOpts::default(),
        ))
    }

    /// The cache at `root` of its open parts.
    fn of(root: PathBuf, registry: Registry, blobs: BlobStore, opts: CacheOpts) -> Cache {
        Cache {
            root,
            blobs,
            registry,
            opts,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
        }
    }

    /// What it was opened for: only to read, by [`Cache::open_to_read`] where its
    /// directory cannot be written.
    pub fn access(&self) -> Access {
        self.registry.access()
    }

    /// Opens (creating if needed) the cache at `root`.
    pub fn open_with(root: impl AsRef<Path>, opts: CacheOpts) -> Result<Cache> {
        let root = root.as_ref().to_path_buf();
        if fs::metadata(&root).is_ok_and(|m| !m.is_dir()) {
            return Err(Error::invalid(
                format!("cache root {}", root.display()),
                "is a file, not a directory",
            ));
        }
        fs::create_dir_all(&root).at(&root)?;
        // Fail early and clearly on a read-only root, before SQLite reports it obliquely
        // ("attempt to write a readonly database": it makes its journal beside the
        // registry) or a put fails at staging its content.
        writable(&root, &root)?;
        let blobs = BlobStore::new(&root);
        let file = root.join(REGISTRY_FILE);
        if !file.exists() {
            refuse_foreign(&root)?;
        }
        // A new registry beside stored blobs would make every one of them an orphan for
        // gc: the registry went (deleted, truncated, its write-ahead log lost), it is not
        // a new cache. Asked under the lock that makes a registry, which blobs are stored
        // under too: a cache another process is starting meanwhile is no such case.
        let may_start = || {
            if blobs.holds_any()? {
                return Err(Error::invalid(
                    format!("registry {}", file.display()),
                    "is missing or empty, yet the blob store holds content: a new registry \
                     would leave all of it unlisted, for gc to collect. Restore the registry \
                     (from a backup), or move the blobs-v1 directory away to start afresh",
                ));
            }
            Ok(())
        };
        // The registry first: a file that is none (another program's, or not SQLite) is
        // refused before anything of a cache is made beside it.
        let registry = Registry::open_new_if(&file, &may_start)?;
        blobs.create_dirs()?;
        writable(&root, blobs.tmp_dir())?;
        let tag = root.join("CACHEDIR.TAG");
        if !tag.exists() {
            fs::write(&tag, CACHEDIR_TAG).at(&tag)?;
        }
        Ok(Cache::of(root, registry, blobs, opts))
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The registry, for queries the facade does not wrap.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The blob store.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    /// The options the cache was opened with.
    pub fn opts(&self) -> &CacheOpts {
        &self.opts
    }

    pub(crate) fn db(&self) -> Db<'_> {
        self.registry.db()
    }

    /// A lease for this process, valid from now.
    pub(crate) fn new_lease(&self) -> Lease {
        let lease = chrono::Duration::from_std(self.opts.lease).unwrap_or(chrono::Duration::MAX);
        Lease {
            pid: i64::from(std::process::id()),
            host: self.host.clone(),
            expires: Utc::now()
                .checked_add_signed(lease)
                .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC),
        }
    }

    /// Registers a new version of `new`'s key in UNINITIALIZED: it is known, nobody
    /// writes it yet. [`Cache::writer`] starts writing it.
    pub fn reserve(&self, new: &NewItem) -> Result<Item> {
        let key = item_key(&new.uri, &new.params);
        let id = self.registry.write(|db| {
            let version = db.allocate_version(&key)?;
            db.insert_item(
                new,
                &key,
                version,
                Status::Uninitialized,
                None,
                None,
                now_ms(),
            )
        })?;
        self.get(id)
    }

    /// Creates a new version of `new`'s key in WRITE and returns a writer for its content.
    /// The writer commits to READY, or marks the item FAILED on error or drop.
    pub fn create(&self, new: &NewItem) -> Result<ItemWriter<'_>> {
        let key = item_key(&new.uri, &new.params);
        let lease = self.new_lease();
        let staged = self.blobs.stage()?;
        let id = self.registry.write(|db| {
            let version = db.allocate_version(&key)?;
            db.insert_item(
                new,
                &key,
                version,
                Status::Write,
                Some(&lease),
                None,
                now_ms(),
            )
        })?;
        Ok(ItemWriter::new(self, self.get(id)?, staged))
    }

    /// Starts writing an UNINITIALIZED item.
    pub fn writer(&self, id: i64) -> Result<ItemWriter<'_>> {
        let lease = self.new_lease();
        let staged = self.blobs.stage()?;
        self.registry
            .write(|db| db.begin_write(id, &lease, now_ms()))?;
        Ok(ItemWriter::new(self, self.get(id)?, staged))
    }

    /// Puts everything `content` yields as a new READY version of `new`'s key.
    pub fn put(&self, new: &NewItem, mut content: impl Read) -> Result<Item> {
        let mut writer = self.create(new)?;
        let source = PathBuf::from(new.filename.as_deref().unwrap_or("<input>"));
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match content.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).at(&source),
            };
            writer.write_all(&buf[..n]).at(&source)?;
        }
        writer.commit()
    }

    /// Puts the file at `path` (its name becomes the item's filename unless one is set).
    pub fn put_file(&self, new: &NewItem, path: &Path) -> Result<Item> {
        let file = File::open(path).at(path)?;
        // A directory opens, then fails its first read: refused before a version of the
        // key is made (it would be left FAILED, one more at every try).
        if file.metadata().at(path)?.is_dir() {
            return Err(Error::invalid(
                path.display().to_string(),
                "is a directory: put stores one file (for many, see `cachet manifest create`)",
            ));
        }
        let mut new = new.clone();
        if new.filename.is_none() {
            new.filename = path.file_name().map(|n| n.to_string_lossy().into_owned());
        }
        let item = self.put(&new, file);
        // Name the source file, not a placeholder, in read errors.
        item.map_err(|e| match e {
            Error::Io { path: p, source }
                if p.as_os_str() == new.filename.as_deref().unwrap_or("") =>
            {
                Error::Io {
                    path: path.to_path_buf(),
                    source,
                }
            }
            other => other,
        })
    }

    /// Puts `bytes`.
    ///
    /// Content already in memory needs no in-progress record: the blob is written and
    /// synced first, then one transaction registers it as READY (one commit instead of the
    /// writer's two). A crash in between leaves an unreferenced blob for gc, never an item
    /// without content.
    pub fn put_bytes(&self, new: &NewItem, bytes: &[u8]) -> Result<Item> {
        let sealed = self.blobs.stage_bytes(bytes, self.opts.sync)?;
        self.commit_sealed(new, sealed, None)
    }

    /// Commits a finished writer's content: under the write lock, the blob is moved into
    /// place (or found already there) and the item becomes READY in the same step, so a
    /// concurrent purge can never delete a blob a READY item points at.
    pub(crate) fn finish_write(&self, id: i64, sealed: Sealed) -> Result<Item> {
        let sync = self.opts.sync;
        self.registry.write(|db| {
            let status = db.status_of(id)?;
            if status != Status::Write {
                return Err(Error::InvalidTransition {
                    id,
                    from: status,
                    to: Status::Ready,
                });
            }
            let content = sealed.content.clone();
            self.blobs.adopt(sealed, sync)?;
            db.mark_ready(id, &content, now_ms())
        })?;
        self.get(id)
    }

    /// Registers already sealed content as a new READY version of `new`'s key in one
    /// transaction, recording it as a manifest with its links when `manifest` is given.
    /// Every linked blob must exist: links are checked under the same write lock that
    /// purges take, so none can vanish between the check and the commit.
    pub(crate) fn commit_sealed(
        &self,
        new: &NewItem,
        sealed: Sealed,
        manifest: Option<(&ManifestInfo, &[Link])>,
    ) -> Result<Item> {
        let sync = self.opts.sync;
        let key = item_key(&new.uri, &new.params);
        self.registry.write(|db| {
            if let Some((_, links)) = manifest
                && let Some(gone) = links.iter().find(|l| !self.blobs.exists(&l.sha256))
            {
                return Err(Error::MissingBlob {
                    sha256: gone.sha256.clone(),
                    path: self.blobs.path(&gone.sha256)?,
                });
            }
            let content = sealed.content.clone();
            self.blobs.adopt(sealed, sync)?;
            let version = db.allocate_version(&key)?;
            let item = db.insert_ready(new, &key, version, &content, now_ms())?;
            if let Some((info, links)) = manifest {
                db.record_manifest(item.id, info, links)?;
            }
            Ok(item)
        })
    }
}

mod content;
mod find;
mod ingest;
mod lifecycle;
mod usage;

pub use lifecycle::PurgeFrees;
pub use usage::{UsageBy, UsageRow, UsageTotals};
