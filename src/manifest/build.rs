//! Writing manifests: from a directory, from entries, as an appended part, or compacted.
//! Each is streamed through [`super::write`], which registers it, with its links, only
//! once it is complete and every linked blob exists, so bad input leaves no item behind.

use std::cell::Cell;
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::Descriptor;
use super::entry::{Entry, FileEntry, KeysSeen, RefEntry, check_key};
use super::read::{Entries, ReadOpts};
use super::shard::{self, ShardFile, ShardOpts};
use super::write::{write_blob, write_manifest};
use crate::blob::sync_filesystem;
use crate::cache::Cache;
use crate::error::{Error, IoResultExt, Result};
use crate::registry::{Item, NewItem};
use crate::status::Status;

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
    // The new version is made from `root`: from an older one, it would drop what the
    // versions since added (a newer one that failed, or was trashed, added nothing).
    let newer = (cache.versions(&root.key)?.into_iter())
        .filter(|v| v.status == Status::Ready && v.version > root.version)
        .max_by_key(|v| v.version);
    if let Some(newer) = newer {
        return Err(Error::invalid(
            format!("manifest {} (version {})", root.id, root.version),
            format!(
                "its key has a newer version, {} (#{}): append to that one, or what the \
                 versions since added would be dropped",
                newer.version, newer.id
            ),
        ));
    }
    let descriptor = Descriptor::read(cache, root_sha)?;
    // One walk: the root's own lines, refs as they are (the new version's first lines),
    // and every key the manifest has, its parts' too. An entry appended under one of
    // those would never be read (readers find the first), so it is refused.
    let read_all = ReadOpts {
        resolve_refs: true,
        keep_refs: true,
        ..ReadOpts::default()
    };
    let (mut existing, mut keys, mut had) = (Vec::new(), KeysSeen::default(), 0);
    for line in Entries::open(cache, root_sha, read_all)? {
        let line = line?;
        if !matches!(line.entry, Entry::Ref(_)) {
            had += 1;
            keys.note(&line.entry, had);
        }
        if line.depth == 0 {
            existing.push(line.entry);
        }
    }
    let parts = existing
        .iter()
        .filter(|e| matches!(e, Entry::Ref(_)))
        .count();
    // Numbered after the parts before it, past any name an entry has (a file's, or a
    // ref's named by hand): a key names one entry.
    let used: HashSet<&str> = existing.iter().map(Entry::key).collect();
    let mut n = parts;
    let part_key = loop {
        n += 1;
        let key = format!("parts/part-{n:05}.jsonl");
        if !used.contains(key.as_str()) {
            break key;
        }
    };
    let stored = Cell::new(false);
    // (A key twice among the new entries is the writer's to refuse, as for any manifest.)
    let entries = (entries.into_iter().zip(1..)).map(|(e, n)| {
        let e = e?;
        if keys.note(&e, had + n).is_some_and(|first| first <= had) {
            return Err(Error::invalid(
                format!("entry {n} '{}'", e.key()),
                "the manifest has this key already; a key names one content \
                 (to change what it names, make a new manifest)",
            ));
        }
        store_path(cache, Ok(e), &stored)
    });
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
/// `archive_sha256` and `member_path`, and link to the archive). An entry whose key came
/// before (from a part two refs lead to, or a key appended again) is left out: readers
/// only ever find the first.
pub fn compact(cache: &Cache, root: &Item, expand_shards: bool) -> Result<Built> {
    let root_sha = manifest_sha(root)?;
    let descriptor = Descriptor::read(cache, root_sha)?;
    let opts = ReadOpts {
        resolve_refs: true,
        expand_shards,
        ..ReadOpts::default()
    };
    let (mut seen, mut n) = (KeysSeen::default(), 0);
    let first_of_each_key = move |entry: &Result<Entry>| {
        n += 1;
        entry.as_ref().map_or(true, |e| seen.note(e, n).is_none())
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
    let flat = flat.filter(first_of_each_key);
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
