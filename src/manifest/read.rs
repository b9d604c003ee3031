//! Lazy iteration over a manifest's entries: line by line from the blob, following
//! `manifest_ref`s by digest (with cycle and depth protection) and expanding shards on
//! demand through their internal manifests. A malformed line is an error carrying its line
//! number, and iteration goes on with the next line.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Lines};
use std::path::PathBuf;

use super::entry::Entry;
use super::shard;
use crate::cache::Cache;
use crate::error::{Error, IoResultExt, Result};

/// How [`Entries`] walks a manifest.
#[derive(Debug, Clone)]
pub struct ReadOpts {
    /// Replace `manifest_ref` lines by the entries of the manifest they name.
    pub resolve_refs: bool,
    /// With `resolve_refs`, yield each ref line too, before the entries it leads to (an
    /// append rewrites the root's lines and checks keys against every entry, in one walk).
    pub keep_refs: bool,
    /// Replace `shard` lines by the entries of the shard's internal manifest.
    pub expand_shards: bool,
    /// How deep refs may nest before the walk refuses to go further.
    pub max_depth: usize,
    /// Yield the descriptor line too (compaction and appends skip it).
    pub include_descriptor: bool,
    /// How often the walk may follow a ref to any one manifest. Refs to a part from two
    /// places list it twice; diamonds stacked on diamonds double that at each level (thirty
    /// levels of tiny manifests would list half a billion entries): past this, the walk
    /// stops with an error.
    pub max_follows: u32,
}

impl Default for ReadOpts {
    fn default() -> Self {
        ReadOpts {
            resolve_refs: true,
            keep_refs: false,
            expand_shards: false,
            max_depth: 32,
            include_descriptor: false,
            max_follows: 1000,
        }
    }
}

/// An entry and where it was read.
#[derive(Debug, Clone)]
pub struct Located {
    pub entry: Entry,
    /// Digest of the manifest (or shard archive) the line is in.
    pub source: String,
    /// 1-based line number in that manifest.
    pub line: u64,
    /// 0 for the root manifest, +1 per ref followed or shard expanded.
    pub depth: usize,
    /// For an entry from a shard's internal manifest: the shard's archive key.
    pub shard: Option<String>,
    /// For an entry of a manifest reached through a ref: that ref's key.
    pub via_ref: Option<String>,
}

/// A line to show above entries a walk reached inside something, where that thing's own
/// entry stood: an expanded shard (`kind` "shard", `key` its archive key) or a followed
/// ref (`kind` "manifest_ref", `key` the ref's). Without it, a listing shows them as if
/// they were the entries above them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub kind: &'static str,
    pub key: String,
    /// The shard archive's, or the followed manifest's, digest.
    pub sha256: String,
    pub depth: usize,
}

/// Tells, entry by entry of a walk, where a [`Head`] goes.
#[derive(Debug, Default)]
pub struct Heads {
    shard: Option<(String, String)>,
    followed: Option<String>,
}

impl Heads {
    /// The head `next` needs above it, if it is the first of its shard or followed ref.
    pub fn before(&mut self, next: &Located) -> Option<Head> {
        let depth = next.depth.saturating_sub(1);
        if let Some(key) = &next.shard {
            let same = (self.shard.as_ref()).is_some_and(|(k, s)| k == key && *s == next.source);
            if same {
                return None;
            }
            self.shard = Some((key.clone(), next.source.clone()));
            return Some(Head {
                kind: "shard",
                key: key.clone(),
                sha256: next.source.clone(),
                depth,
            });
        }
        self.shard = None;
        if next.depth == 0 {
            self.followed = None;
            return None;
        }
        if self.followed.as_ref() == Some(&next.source) {
            return None;
        }
        self.followed = Some(next.source.clone());
        // Entries below the root and outside a shard come through a ref, which names it.
        Some(Head {
            kind: "manifest_ref",
            key: next.via_ref.clone().unwrap_or_default(),
            sha256: next.source.clone(),
            depth,
        })
    }
}

enum Frame {
    Lines {
        sha: String,
        path: PathBuf,
        lines: Lines<BufReader<File>>,
        line: u64,
        depth: usize,
        /// The key of the ref followed to this manifest (none for the root).
        via: Option<String>,
    },
    Shard {
        archive_key: String,
        sha: String,
        items: std::vec::IntoIter<Result<(u64, Entry)>>,
        depth: usize,
    },
}

/// Iterator over a manifest's entries; see the module docs.
pub struct Entries<'c> {
    cache: &'c Cache,
    opts: ReadOpts,
    stack: Vec<Frame>,
    /// How often each manifest (by digest) was followed to.
    followed: HashMap<String, u32>,
}

impl<'c> Entries<'c> {
    /// Walks the manifest stored as blob `sha256`.
    pub fn open(cache: &'c Cache, sha256: &str, opts: ReadOpts) -> Result<Entries<'c>> {
        let mut entries = Entries {
            cache,
            opts,
            stack: Vec::new(),
            followed: HashMap::new(),
        };
        entries.push_manifest(sha256, 0, None)?;
        Ok(entries)
    }

    fn push_manifest(&mut self, sha: &str, depth: usize, via: Option<String>) -> Result<()> {
        let path = self.cache.blobs().path(sha)?;
        let file = self.cache.blobs().open(sha)?;
        self.stack.push(Frame::Lines {
            sha: sha.to_string(),
            path,
            lines: BufReader::new(file).lines(),
            line: 0,
            depth,
            via,
        });
        Ok(())
    }

    /// Whether `sha` is a manifest on the current path from the root (a cycle).
    fn on_path(&self, sha: &str) -> bool {
        self.stack.iter().any(|f| match f {
            Frame::Lines { sha: s, .. } => s == sha,
            Frame::Shard { .. } => false,
        })
    }

    /// Opens what `entry` points to, when the options ask for it. Returns the entry back
    /// when it is to be yielded as it is.
    fn descend(&mut self, located: Located) -> Option<Result<Located>> {
        let depth = located.depth + 1;
        let bad = |message: String| Error::BadLine {
            path: PathBuf::from(format!("manifest {}", short(&located.source))),
            line: located.line,
            message,
        };
        match &located.entry {
            Entry::Ref(r) if self.opts.resolve_refs => {
                let Some(sha) = r.sha256.clone() else {
                    return Some(Err(bad(format!(
                        "manifest_ref '{}' has no sha256: cachet follows refs by digest",
                        r.key
                    ))));
                };
                if self.on_path(&sha) {
                    return Some(Err(bad(format!(
                        "manifest_ref '{}' ({}) is a cycle: it refers back to a manifest being read",
                        r.key,
                        short(&sha)
                    ))));
                }
                if depth > self.opts.max_depth {
                    return Some(Err(bad(format!(
                        "manifest_ref '{}' nests deeper than {} levels",
                        r.key, self.opts.max_depth
                    ))));
                }
                let follows = self.followed.entry(sha.clone()).or_insert(0);
                *follows += 1;
                if *follows > self.opts.max_follows {
                    // The rest would be more of the same: the walk ends here.
                    self.stack.clear();
                    return Some(Err(bad(format!(
                        "manifest_ref '{}' ({}) is followed more than {} times in this walk: \
                         refs to manifests that refer to it twice multiply; stopped",
                        r.key,
                        short(&sha),
                        self.opts.max_follows
                    ))));
                }
                match self.push_manifest(&sha, depth, Some(r.key.clone())) {
                    Ok(()) if self.opts.keep_refs => Some(Ok(located)),
                    Ok(()) => None,
                    Err(e) => Some(Err(bad(format!("manifest_ref '{}': {e}", r.key)))),
                }
            }
            Entry::Shard(s) if self.opts.expand_shards => {
                let Some(sha) = s.sha256.clone() else {
                    return Some(Err(bad(format!(
                        "shard '{}' has no sha256: cachet finds archives by digest",
                        s.archive_key
                    ))));
                };
                let items = self
                    .cache
                    .blobs()
                    .path(&sha)
                    .and_then(|path| shard::read_internal_manifest(&path, s));
                match items {
                    Ok(items) => {
                        self.stack.push(Frame::Shard {
                            archive_key: s.archive_key.clone(),
                            sha,
                            items: items.into_iter(),
                            depth,
                        });
                        None
                    }
                    Err(e) => Some(Err(bad(format!("shard '{}': {e}", s.archive_key)))),
                }
            }
            _ => Some(Ok(located)),
        }
    }
}

impl Iterator for Entries<'_> {
    type Item = Result<Located>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let located = match self.stack.last_mut()? {
                Frame::Lines {
                    sha,
                    path,
                    lines,
                    line,
                    depth,
                    via,
                } => match lines.next() {
                    None => {
                        self.stack.pop();
                        continue;
                    }
                    Some(Err(e)) => {
                        let err = Err(e).at(&*path);
                        self.stack.pop();
                        return Some(err);
                    }
                    Some(Ok(text)) => {
                        *line += 1;
                        if text.trim().is_empty() {
                            continue;
                        }
                        match Entry::parse(&text) {
                            Ok(entry) => Located {
                                entry,
                                source: sha.clone(),
                                line: *line,
                                depth: *depth,
                                shard: None,
                                via_ref: via.clone(),
                            },
                            Err(message) => {
                                return Some(Err(Error::BadLine {
                                    path: PathBuf::from(format!("manifest {}", short(sha))),
                                    line: *line,
                                    message,
                                }));
                            }
                        }
                    }
                },
                Frame::Shard {
                    archive_key,
                    sha,
                    items,
                    depth,
                } => match items.next() {
                    None => {
                        self.stack.pop();
                        continue;
                    }
                    Some(Err(e)) => return Some(Err(e)),
                    Some(Ok((line, entry))) => Located {
                        entry,
                        source: sha.clone(),
                        line,
                        depth: *depth,
                        shard: Some(archive_key.clone()),
                        via_ref: None,
                    },
                },
            };
            if let Entry::File(f) = &located.entry
                && super::entry_is_descriptor(f)
            {
                // A part or a shard written by a newer cachet is refused, as a root is, and
                // nothing more of it is read: its lines may mean what this build cannot know.
                if let Err(e) = super::readable_schema(f, &located.source) {
                    self.stack.pop();
                    return Some(Err(e));
                }
                if !self.opts.include_descriptor {
                    continue;
                }
            }
            if let Some(out) = self.descend(located) {
                return Some(out);
            }
        }
    }
}

/// The first 12 hex digits of a digest, for messages.
pub fn short(sha: &str) -> &str {
    crate::key::abbrev(sha, 12)
}
