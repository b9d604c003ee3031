//! Manifests: self-describing JSONL lists of files, shard archives and references to other
//! manifests (the s3exchange format, with a `sha256` on each entry linking it to a blob).
//!
//! A manifest is an item whose blob is the JSONL. Its first line is a descriptor — a plain
//! `file` entry (so a reader that knows only the three kinds accepts it) whose
//! `content_type` is [`DESCRIPTOR_CONTENT_TYPE`] and whose `meta` says the manifest's type
//! and schema version. When the item becomes READY, the registry records every blob it
//! links to, directly or through refs, so cleanup and verification follow reachability
//! without re-reading manifests.

mod build;
mod entry;
mod read;
mod shard;
mod typed;
mod verify;
mod write;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};

pub use build::{
    Built, CreateOpts, StoredDir, append, compact, create_from_dir, create_from_entries,
    guess_content_type, manifest_sha, store_dir,
};
pub use entry::{
    DESCRIPTOR_CONTENT_TYPE, Entry, FileEntry, INTERNAL_MANIFEST, KeysSeen, RefEntry, ShardEntry,
    check_key,
};
pub use read::{Entries, Head, Heads, Located, ReadOpts, short};
pub use shard::ShardOpts;
pub use typed::{Loaders, ManifestType};
pub use verify::{Problem, VerifyReport, verify};

use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::registry::Item;
use crate::status::Status;

/// Schema version of the manifests this build writes.
pub const SCHEMA_VERSION: u32 = 1;

/// Key of the descriptor entry.
pub const DESCRIPTOR_KEY: &str = "_manifest.json";

/// What a manifest says it is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Descriptor {
    pub manifest_type: String,
    pub schema_version: u32,
}

impl Descriptor {
    /// Reads the descriptor from the first line of the manifest blob `sha256`. A manifest
    /// written elsewhere, without one, is a `generic` manifest of schema 0.
    pub fn read(cache: &Cache, sha256: &str) -> Result<Descriptor> {
        let generic = Descriptor {
            manifest_type: "generic".into(),
            schema_version: 0,
        };
        let Ok(entry) = first_entry(cache, sha256)? else {
            return Ok(generic);
        };
        match entry {
            Entry::File(f) if entry_is_descriptor(&f) => {
                let schema_version = readable_schema(&f, sha256)?;
                let meta = f.meta.unwrap_or_default();
                Ok(Descriptor {
                    manifest_type: meta["type"].as_str().unwrap_or("generic").to_string(),
                    schema_version,
                })
            }
            _ => Ok(generic),
        }
    }
}

/// The schema version the descriptor entry `f` of manifest `sha256` gives (0 if none), if
/// this build reads it: a newer manifest may mean by its lines what this build cannot
/// know, so it is refused rather than read in part.
pub(crate) fn readable_schema(f: &FileEntry, sha256: &str) -> Result<u32> {
    let version = (f.meta.as_ref())
        .and_then(|meta| meta["schema_version"].as_u64())
        .unwrap_or(0);
    match u32::try_from(version) {
        Ok(version) if version <= SCHEMA_VERSION => Ok(version),
        _ => Err(Error::Unsupported {
            what: format!(
                "manifest {} has schema version {version}; this cachet reads up to {SCHEMA_VERSION}",
                short(sha256)
            ),
        }),
    }
}

/// The first non-blank line of the blob `sha256` read as a manifest entry, or why it is
/// none. A manifest's lines are short: at most 1 MiB is read looking for it, so that a
/// large file without newlines is not read whole.
pub fn first_entry(cache: &Cache, sha256: &str) -> Result<std::result::Result<Entry, String>> {
    let path = cache.blobs().path(sha256)?;
    let file = cache.blobs().open(sha256)?;
    for line in BufReader::new(file.take(1 << 20)).lines() {
        let line = line.map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        if !line.trim().is_empty() {
            return Ok(Entry::parse(&line));
        }
    }
    Ok(Entry::parse(""))
}

fn entry_is_descriptor(f: &FileEntry) -> bool {
    f.content_type.as_deref() == Some(DESCRIPTOR_CONTENT_TYPE)
}

/// Copies the content of the entry with `key` (a loose file, or a shard member found via
/// the shard's internal manifest) into `out`, checking its digest when the entry has one.
pub fn copy_entry(cache: &Cache, manifest: &Item, key: &str, out: &mut dyn Write) -> Result<u64> {
    let root = manifest_sha(manifest)?;
    let opts = ReadOpts {
        expand_shards: true,
        ..ReadOpts::default()
    };
    for located in Entries::open(cache, root, opts)? {
        let located = located?;
        let Entry::File(f) = &located.entry else {
            continue;
        };
        if f.key != key {
            continue;
        }
        // A member of a shard: expanded now, or by `compact --expand-shards` before.
        let in_archive = match &located.shard {
            Some(_) => Some((
                located.source.as_str(),
                f.member_path.as_deref().unwrap_or(key),
            )),
            None => f.in_archive(),
        };
        return match in_archive {
            Some((archive, member)) => copy_member(cache, archive, member, f, out),
            None => {
                let sha = f.sha256.as_deref().ok_or_else(|| {
                    Error::invalid(
                        format!("entry '{key}'"),
                        "has no sha256 to find its content by",
                    )
                })?;
                cache.blobs().copy_checked(sha, out)
            }
        };
    }
    Err(Error::not_found(format!(
        "entry '{key}' in manifest {}",
        manifest.reference()
    )))
}

/// Copies `member` of the shard archive `archive` (a digest) into `out`, checking it
/// against `f`'s digest when it has one.
fn copy_member(
    cache: &Cache,
    archive: &str,
    member: &str,
    f: &FileEntry,
    out: &mut dyn Write,
) -> Result<u64> {
    let path = cache.blobs().path(archive)?;
    let mut checked = HashingWriter::new(out);
    let n = shard::copy_member(&path, member, &mut checked)?;
    if let Some(sha) = &f.sha256 {
        checked.check(sha, &f.key)?;
    }
    Ok(n)
}

struct HashingWriter<'a> {
    inner: &'a mut dyn Write,
    hasher: sha2::Sha256,
}

impl<'a> HashingWriter<'a> {
    fn new(inner: &'a mut dyn Write) -> Self {
        use sha2::Digest;
        HashingWriter {
            inner,
            hasher: sha2::Sha256::new(),
        }
    }

    fn check(self, expected: &str, key: &str) -> Result<()> {
        use sha2::Digest;
        let actual = crate::key::hex(&self.hasher.finalize());
        if actual == expected {
            Ok(())
        } else {
            Err(Error::Integrity {
                path: key.into(),
                expected: expected.to_string(),
                actual: format!("it hashes to {actual}"),
            })
        }
    }
}

impl Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest;
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// What trashing a manifest did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TrashReport {
    /// Items moved to the trash (the manifest included).
    pub items: u64,
    /// Bytes of content those items hold.
    pub bytes: u64,
    /// Linked items already in the trash, left as they were.
    pub already_trashed: u64,
}

/// Trashes a manifest item and, with `linked`, the items whose content it links to.
pub fn trash(cache: &Cache, manifest: &Item, linked: bool) -> Result<TrashReport> {
    let mut report = TrashReport::default();
    let mut ids = vec![manifest.id];
    if linked {
        ids.extend(cache.registry().db().items_linked_from(manifest.id)?);
    }
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            continue;
        }
        let item = cache.get(id)?;
        if item.status == Status::Trash {
            report.already_trashed += 1;
            continue;
        }
        let item = cache.trash(id)?;
        report.items += 1;
        report.bytes += item.size.unwrap_or(0);
    }
    Ok(report)
}
