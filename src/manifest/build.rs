//! Writing manifests: from a directory, from entries, as an appended part, or compacted.
//! The JSONL is streamed into the blob store and registered, with its links, only once it
//! is complete and every linked blob exists, so bad input leaves no item behind.

use std::cell::Cell;
use std::collections::HashSet;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use super::entry::{DESCRIPTOR_CONTENT_TYPE, Entry, FileEntry, RefEntry, check_key};
use super::read::{Entries, ReadOpts};
use super::shard::{self, ShardFile, ShardOpts};
use super::{Descriptor, SCHEMA_VERSION};
use crate::blob::sync_filesystem;
use crate::cache::Cache;
use crate::error::{Error, IoResultExt, Result};
use crate::key::canonical_json;
use crate::registry::{Item, Link, LinkKind, ManifestInfo, NewItem};

/// How a manifest is created.
#[derive(Debug, Clone)]
pub struct CreateOpts {
    /// What the manifest is (`dataset`, `model`, `shard-set`, …).
    pub manifest_type: String,
    /// Pack files into shard archives instead of storing each as a blob.
    pub shards: Option<ShardOpts>,
}

impl Default for CreateOpts {
    fn default() -> Self {
        CreateOpts {
            manifest_type: "dataset".into(),
            shards: None,
        }
    }
}

/// What a write produced.
#[derive(Debug, Clone)]
pub struct Built {
    pub item: Item,
    /// Entry lines written (descriptor not counted).
    pub entries: u64,
    /// Files written, loose or inside shards.
    pub files: u64,
    pub shards: u64,
    /// Bytes of content linked.
    pub bytes: u64,
    /// Paths left out (symlinks and other non-regular files are never followed).
    pub skipped: Vec<PathBuf>,
}

/// Creates a manifest item for every regular file under `dir` (sorted, keys relative with
/// `/`). Files become blobs, or members of shard archives with `opts.shards`.
pub fn create_from_dir(
    cache: &Cache,
    new: &NewItem,
    dir: &Path,
    opts: &CreateOpts,
) -> Result<Built> {
    let stored = store_dir(cache, dir, opts.shards.as_ref())?;
    let mut built = write_manifest(
        cache,
        new,
        &opts.manifest_type,
        stored.entries.into_iter().map(Ok),
        || Ok(()), // store_dir synced already
    )?;
    built.files = stored.files;
    built.skipped = stored.skipped;
    Ok(built)
}

/// A directory's files, stored and described as entries.
#[derive(Debug, Clone)]
pub struct StoredDir {
    pub entries: Vec<Entry>,
    pub files: u64,
    pub skipped: Vec<PathBuf>,
}

/// Stores every regular file under `dir` as a blob (or packs them into shard archives) and
/// returns the entries describing them. Symlinks and special files are skipped, never
/// followed. The file system is synced once at the end.
pub fn store_dir(cache: &Cache, dir: &Path, shards: Option<&ShardOpts>) -> Result<StoredDir> {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    walk(dir, dir, &mut files, &mut skipped)?;
    files.sort();
    let file_count = files.len() as u64;
    let mut entries = Vec::new();
    match shards {
        None => {
            for (key, path) in files {
                let sealed = cache.blobs().stage_file(&path, false)?;
                let content = sealed.content.clone();
                cache.blobs().adopt(sealed, false)?;
                entries.push(Entry::File(file_entry(key, content.size, content.sha256)));
            }
        }
        Some(shard_opts) => {
            let mut hashed = Vec::with_capacity(files.len());
            for (key, path) in files {
                let (size, sha) = shard::hash_file(&path)?;
                hashed.push(ShardFile {
                    entry: file_entry(key, size, sha),
                    source: path,
                });
            }
            let suffix = if shard_opts.gzip { "tar.gz" } else { "tar" };
            for (i, group) in shard::split(hashed, shard_opts).iter().enumerate() {
                let key = format!("shards/shard-{:05}.{suffix}", i + 1);
                entries.push(Entry::Shard(shard::write(
                    cache.blobs(),
                    &key,
                    group,
                    shard_opts.gzip,
                    false,
                )?));
            }
        }
    }
    if cache.opts().sync {
        sync_filesystem(cache.root())?;
    }
    Ok(StoredDir {
        entries,
        files: file_count,
        skipped,
    })
}

fn file_entry(key: String, size: u64, sha256: String) -> FileEntry {
    FileEntry {
        content_type: guess_content_type(&key).map(str::to_string),
        key,
        size_bytes: Some(size),
        sha256: Some(sha256),
        ..FileEntry::default()
    }
}

fn walk(
    base: &Path,
    dir: &Path,
    out: &mut Vec<(String, PathBuf)>,
    skipped: &mut Vec<PathBuf>,
) -> Result<()> {
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let path = entry.path();
        let kind = entry.file_type().at(&path)?;
        if kind.is_dir() {
            walk(base, &path, out, skipped)?;
        } else if kind.is_file() {
            let rel = path.strip_prefix(base).unwrap_or(&path);
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            check_key(&key).map_err(|m| Error::invalid(path.display().to_string(), m))?;
            out.push((key, path));
        } else {
            skipped.push(path);
        }
    }
    Ok(())
}

/// Creates a manifest item from entries. Entries must link to blobs already in the store;
/// a file entry may instead carry a `"path"` field naming a local file, which is stored
/// and linked (the field is dropped).
pub fn create_from_entries(
    cache: &Cache,
    new: &NewItem,
    entries: impl IntoIterator<Item = Result<Entry>>,
    manifest_type: &str,
) -> Result<Built> {
    let stored = Cell::new(false);
    let entries = entries.into_iter().map(|e| store_path(cache, e, &stored));
    write_manifest(cache, new, manifest_type, entries, || {
        sync_stored(cache, &stored)
    })
}

/// Stores the local file named by the `"path"` field of a file entry as it passes, and
/// fills in its size and digest (the field is dropped); `stored` records that one was.
/// Entries stream through: a million of them are never held at once.
fn store_path(cache: &Cache, entry: Result<Entry>, stored: &Cell<bool>) -> Result<Entry> {
    let mut entry = entry?;
    if let Entry::File(f) = &mut entry
        && let Some(path) = f.extra.remove("path")
    {
        let path = PathBuf::from(path.as_str().unwrap_or_default());
        let sealed = cache.blobs().stage_file(&path, false)?;
        f.size_bytes = Some(sealed.content.size);
        f.sha256 = Some(sealed.content.sha256.clone());
        if f.content_type.is_none() {
            f.content_type = guess_content_type(&f.key).map(str::to_string);
        }
        cache.blobs().adopt(sealed, false)?;
        stored.set(true);
    }
    Ok(entry)
}

/// The files stored on the way are made durable (one file system sync) before anything
/// that links them is committed.
fn sync_stored(cache: &Cache, stored: &Cell<bool>) -> Result<()> {
    if stored.get() && cache.opts().sync {
        sync_filesystem(cache.root())?;
    }
    Ok(())
}

/// Appends `entries` as a new part: the part is stored as a manifest blob, and a new version
/// of `root`'s key lists the root's lines plus a `manifest_ref` to the part.
pub fn append(
    cache: &Cache,
    root: &Item,
    entries: impl IntoIterator<Item = Result<Entry>>,
) -> Result<Built> {
    let root_sha = manifest_sha(root)?;
    let descriptor = Descriptor::read(cache, root_sha)?;
    let existing: Vec<Entry> = Entries::open(
        cache,
        root_sha,
        ReadOpts {
            resolve_refs: false,
            ..ReadOpts::default()
        },
    )?
    .map(|r| r.map(|l| l.entry))
    .collect::<Result<_>>()?;
    let parts = existing
        .iter()
        .filter(|e| matches!(e, Entry::Ref(_)))
        .count();
    let part_key = format!("parts/part-{:05}.jsonl", parts + 1);
    let stored = Cell::new(false);
    let entries = entries.into_iter().map(|e| store_path(cache, e, &stored));
    let (part_sha, _) = write_blob(cache, &descriptor.manifest_type, entries, || {
        sync_stored(cache, &stored)
    })?;
    let new_ref = Entry::Ref(RefEntry {
        key: part_key,
        sha256: Some(part_sha),
        extra: Default::default(),
    });
    let new = root.to_new();
    let lines = existing.into_iter().chain(std::iter::once(new_ref)).map(Ok);
    write_manifest(cache, &new, &descriptor.manifest_type, lines, || Ok(()))
}

/// Writes a new version of `root`'s key as one flat manifest: refs resolved, and shards
/// expanded into file entries when asked (such entries keep `archive_key`,
/// `archive_sha256` and `member_path`, and link to the archive).
pub fn compact(cache: &Cache, root: &Item, expand_shards: bool) -> Result<Built> {
    let root_sha = manifest_sha(root)?;
    let descriptor = Descriptor::read(cache, root_sha)?;
    let opts = ReadOpts {
        resolve_refs: true,
        expand_shards,
        ..ReadOpts::default()
    };
    let flat = Entries::open(cache, root_sha, opts)?.map(|r| {
        let located = r?;
        Ok(match (located.entry, located.shard) {
            (Entry::File(mut f), Some(archive_key)) => {
                f.extra.insert("archive_key".into(), archive_key.into());
                f.extra
                    .insert("archive_sha256".into(), located.source.into());
                Entry::File(f)
            }
            (entry, _) => entry,
        })
    });
    let new = root.to_new();
    write_manifest(cache, &new, &descriptor.manifest_type, flat, || Ok(()))
}

/// The blob digest of a READY manifest item.
pub fn manifest_sha(item: &Item) -> Result<&str> {
    match (&item.sha256, item.status) {
        (Some(sha), crate::Status::Ready) => Ok(sha),
        _ => Err(Error::invalid(
            format!("item {}", item.id),
            format!("is {}, not a readable manifest", item.status),
        )),
    }
}

/// Streams entries into a manifest blob and registers it as a new READY item.
/// Writes the manifest blob of `entries` and commits it as the item `new`; `before_commit`
/// runs once every entry went by.
fn write_manifest(
    cache: &Cache,
    new: &NewItem,
    manifest_type: &str,
    entries: impl IntoIterator<Item = Result<Entry>>,
    before_commit: impl FnOnce() -> Result<()>,
) -> Result<Built> {
    let (_, stats) = write_blob_stats(cache, manifest_type, entries)?;
    before_commit()?;
    let info = ManifestInfo {
        manifest_type: manifest_type.to_string(),
        schema_version: i64::from(SCHEMA_VERSION),
        entries: stats.entries,
        bytes: stats.bytes,
    };
    let sealed = stats.sealed.ok_or(Error::Cancelled)?;
    let item = cache.commit_sealed(new, sealed, Some((&info, &stats.links)))?;
    Ok(Built {
        item,
        entries: stats.entries,
        files: stats.files,
        shards: stats.shards,
        bytes: stats.bytes,
        skipped: Vec::new(),
    })
}

/// Writes a manifest blob that is not an item (an appended part) and returns its digest.
fn write_blob(
    cache: &Cache,
    manifest_type: &str,
    entries: impl IntoIterator<Item = Result<Entry>>,
    before_adopt: impl FnOnce() -> Result<()>,
) -> Result<(String, u64)> {
    let (sha, stats) = write_blob_stats(cache, manifest_type, entries)?;
    before_adopt()?;
    let sealed = stats.sealed.ok_or(Error::Cancelled)?;
    // Every linked blob must exist before anything points at the part.
    if let Some(gone) = stats
        .links
        .iter()
        .find(|l| !cache.blobs().exists(&l.sha256))
    {
        return Err(Error::MissingBlob {
            sha256: gone.sha256.clone(),
            path: cache.blobs().path(&gone.sha256)?,
        });
    }
    cache.blobs().adopt(sealed, cache.opts().sync)?;
    Ok((sha, stats.entries))
}

struct Stats {
    entries: u64,
    files: u64,
    shards: u64,
    bytes: u64,
    links: Vec<Link>,
    sealed: Option<crate::blob::Sealed>,
}

fn write_blob_stats(
    cache: &Cache,
    manifest_type: &str,
    entries: impl IntoIterator<Item = Result<Entry>>,
) -> Result<(String, Stats)> {
    let mut stats = Stats {
        entries: 0,
        files: 0,
        shards: 0,
        bytes: 0,
        links: Vec::new(),
        sealed: None,
    };
    let mut linked: HashSet<String> = HashSet::new();
    let mut link = |stats: &mut Stats, sha: &str, kind: LinkKind, size: Option<u64>| {
        if linked.insert(sha.to_string()) {
            stats.links.push(Link {
                sha256: sha.to_string(),
                kind,
                size,
            });
        }
    };
    let descriptor = descriptor_entry(cache, manifest_type)?;
    let staging = cache.blobs().stage()?;
    let name = PathBuf::from("manifest being written");
    let mut out = BufWriter::with_capacity(1 << 20, staging);
    writeln!(out, "{}", descriptor.to_line()).at(&name)?;
    if let Some(sha) = descriptor.sha256() {
        link(&mut stats, sha, LinkKind::File, descriptor.size());
    }
    for entry in entries {
        let entry = entry?;
        entry
            .validate()
            .map_err(|m| Error::invalid(format!("entry '{}'", entry.key()), m))?;
        match &entry {
            Entry::File(f) => {
                stats.files += 1;
                stats.bytes += f.size_bytes.unwrap_or(0);
                match (
                    f.extra.get("archive_sha256").and_then(|v| v.as_str()),
                    &f.sha256,
                ) {
                    (Some(archive), _) => link(&mut stats, archive, LinkKind::Shard, None),
                    (None, Some(sha)) => link(&mut stats, sha, LinkKind::File, f.size_bytes),
                    (None, None) => {}
                }
            }
            Entry::Shard(s) => {
                stats.shards += 1;
                stats.files += s.count;
                stats.bytes += s.size_bytes;
                if let Some(sha) = &s.sha256 {
                    link(&mut stats, sha, LinkKind::Shard, Some(s.size_bytes));
                }
            }
            Entry::Ref(r) => {
                if let Some(sha) = &r.sha256 {
                    link(&mut stats, sha, LinkKind::Manifest, None);
                    for nested in reachable_links(cache, sha)? {
                        link(&mut stats, &nested.sha256, nested.kind, nested.size);
                    }
                }
            }
            Entry::Unknown { .. } => {}
        }
        writeln!(out, "{}", entry.to_line()).at(&name)?;
        stats.entries += 1;
    }
    let staged = out.into_inner().map_err(|e| e.into_error()).at(&name)?;
    let sealed = staged.seal(cache.opts().sync)?;
    let sha = sealed.content.sha256.clone();
    stats.sealed = Some(sealed);
    Ok((sha, stats))
}

/// Every blob reachable from the manifest blob `sha` through its lines and refs.
fn reachable_links(cache: &Cache, sha: &str) -> Result<Vec<Link>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![sha.to_string()];
    while let Some(current) = stack.pop() {
        if !seen.insert(current.clone()) {
            continue;
        }
        let opts = ReadOpts {
            resolve_refs: false,
            include_descriptor: true,
            ..ReadOpts::default()
        };
        for located in Entries::open(cache, &current, opts)? {
            let entry = located?.entry;
            let Some(target) = entry.sha256() else {
                continue;
            };
            let kind = match &entry {
                Entry::Shard(_) => LinkKind::Shard,
                Entry::Ref(_) => {
                    stack.push(target.to_string());
                    LinkKind::Manifest
                }
                _ => LinkKind::File,
            };
            out.push(Link {
                sha256: target.to_string(),
                kind,
                size: entry.size(),
            });
        }
    }
    Ok(out)
}

/// The descriptor line, and its small JSON blob so that readers who fetch every file entry
/// find it too.
fn descriptor_entry(cache: &Cache, manifest_type: &str) -> Result<Entry> {
    let meta = json!({"type": manifest_type, "schema_version": SCHEMA_VERSION});
    let body = canonical_json(&meta);
    let sealed = cache
        .blobs()
        .stage_bytes(body.as_bytes(), cache.opts().sync)?;
    let content = sealed.content.clone();
    cache.blobs().adopt(sealed, cache.opts().sync)?;
    Ok(Entry::File(FileEntry {
        key: super::DESCRIPTOR_KEY.into(),
        meta: Some(meta),
        size_bytes: Some(content.size),
        content_type: Some(DESCRIPTOR_CONTENT_TYPE.into()),
        sha256: Some(content.sha256),
        ..FileEntry::default()
    }))
}

/// A content type from a file name's extension, for the common data formats.
pub fn guess_content_type(key: &str) -> Option<&'static str> {
    let ext = key.rsplit('.').next()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "json" => "application/json",
        "jsonl" | "ndjson" => "application/x-ndjson",
        "csv" => "text/csv",
        "tsv" => "text/tab-separated-values",
        "txt" | "md" | "log" => "text/plain",
        "parquet" => "application/vnd.apache.parquet",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "wav" => "audio/wav",
        "gz" => "application/gzip",
        "zip" => "application/zip",
        "tar" => "application/x-tar",
        "zst" => "application/zstd",
        _ => return None,
    })
}
