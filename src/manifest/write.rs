//! Streaming a manifest's entries into a blob: each checked (its keys and digest, and no
//! key twice), the blobs it links gathered for the registry, the descriptor line first.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use serde_json::json;

use super::SCHEMA_VERSION;
use super::build::Built;
use super::entry::{DESCRIPTOR_CONTENT_TYPE, Entry, FileEntry, KeysSeen};
use super::read::{Entries, ReadOpts};
use crate::cache::Cache;
use crate::error::{Error, IoResultExt, Result};
use crate::key::canonical_json;
use crate::registry::{Link, LinkKind, ManifestInfo, NewItem};

/// Writes the manifest blob of `entries` and commits it as the item `new`; `before_commit`
/// runs once every entry went by.
pub(super) fn write_manifest(
    cache: &Cache,
    new: &NewItem,
    manifest_type: &str,
    entries: impl IntoIterator<Item = Result<Entry>>,
    before_commit: impl FnOnce() -> Result<()>,
) -> Result<Built> {
    let (sealed, stats) = write_blob_stats(cache, manifest_type, entries)?;
    before_commit()?;
    let info = ManifestInfo {
        manifest_type: manifest_type.to_string(),
        schema_version: i64::from(SCHEMA_VERSION),
        entries: stats.entries,
        bytes: stats.bytes,
    };
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
pub(super) fn write_blob(
    cache: &Cache,
    manifest_type: &str,
    entries: impl IntoIterator<Item = Result<Entry>>,
    before_adopt: impl FnOnce() -> Result<()>,
) -> Result<(String, u64)> {
    let (sealed, stats) = write_blob_stats(cache, manifest_type, entries)?;
    before_adopt()?;
    let sha = sealed.content.sha256.clone();
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
}

/// Streams the descriptor line and `entries`, each checked, into a sealed blob (not yet
/// in the store), counting what they hold and the blobs they link.
fn write_blob_stats(
    cache: &Cache,
    manifest_type: &str,
    entries: impl IntoIterator<Item = Result<Entry>>,
) -> Result<(crate::blob::Sealed, Stats)> {
    let mut stats = Stats {
        entries: 0,
        files: 0,
        shards: 0,
        bytes: 0,
        links: Vec::new(),
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
    let mut keys = KeysSeen::default();
    for entry in entries {
        let entry = entry?;
        entry
            .validate()
            .map_err(|m| Error::invalid(format!("entry '{}'", entry.key()), m))?;
        let n = stats.entries + 1;
        if let Some(first) = keys.note(&entry, n) {
            return Err(Error::invalid(
                format!("entry {n} '{}'", entry.key()),
                format!("has the key of entry {first}; a key names one content"),
            ));
        }
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
    Ok((sealed, stats))
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
