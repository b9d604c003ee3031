//! Verification: every blob a manifest links to exists and hashes to its digest; with
//! `deep`, every shard's members agree with its internal manifest.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::entry::{Entry, FileEntry};
use super::read::{Entries, ReadOpts};
use super::{manifest_sha, shard};
use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::registry::Item;

/// One thing wrong, named by entry key and digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub key: String,
    pub sha256: Option<String>,
    pub message: String,
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VerifyReport {
    /// Entries read (refs resolved).
    pub entries: u64,
    /// Distinct blobs rehashed.
    pub blobs: u64,
    /// Bytes rehashed.
    pub bytes: u64,
    /// Shard members read and compared with their shard's internal manifest (`deep`).
    pub members: Option<u64>,
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Rehashes every blob `manifest` links to. Malformed lines, missing and corrupt blobs and
/// unreadable refs are reported, not fatal: the walk goes on.
pub fn verify(cache: &Cache, manifest: &Item, deep: bool) -> Result<VerifyReport> {
    let root = manifest_sha(manifest)?;
    let mut report = VerifyReport {
        members: deep.then_some(0),
        ..VerifyReport::default()
    };
    if let Err(e) = cache.blobs().verify(root) {
        report
            .problems
            .push(problem(&manifest.reference(), Some(root), &e));
        return Ok(report);
    }
    let mut checked = HashSet::new();
    // With `deep`: shard members `compact --expand-shards` flattened, by archive, then by
    // their path in it.
    let mut flattened: BTreeMap<String, HashMap<String, FileEntry>> = BTreeMap::new();
    let opts = ReadOpts {
        include_descriptor: true,
        ..ReadOpts::default()
    };
    for located in Entries::open(cache, root, opts)? {
        let located = match located {
            Ok(l) => l,
            Err(e) => {
                report.problems.push(problem("", None, &e));
                continue;
            }
        };
        let entry = &located.entry;
        // Its descriptor is checked as the blob it is, but is no entry of its own (as
        // `create` counts them).
        if !matches!(entry, Entry::File(f) if super::entry_is_descriptor(f)) {
            report.entries += 1;
        }
        if let Entry::File(f) = entry
            && let Some((archive, member)) = f.in_archive()
        {
            // A shard's member flattened by compact: its archive is the blob.
            if checked.insert(archive.to_string()) {
                match cache.blobs().verify(archive) {
                    Ok(bytes) => {
                        report.blobs += 1;
                        report.bytes += bytes;
                    }
                    Err(e) => report.problems.push(problem(&f.key, Some(archive), &e)),
                }
            }
            if deep {
                // Compared after the walk, each archive read once for all its members.
                let members = flattened.entry(archive.to_string()).or_default();
                members.insert(member.to_string(), f.clone());
            }
            continue;
        }
        let Some(sha) = entry.sha256() else { continue };
        if !checked.insert(sha.to_string()) {
            continue;
        }
        match cache.blobs().verify(sha) {
            Ok(bytes) => {
                report.blobs += 1;
                report.bytes += bytes;
                if let Entry::File(f) = entry
                    && f.size_bytes.is_some_and(|s| s != bytes)
                {
                    report.problems.push(Problem {
                        key: f.key.clone(),
                        sha256: Some(sha.to_string()),
                        message: format!(
                            "has {bytes} bytes, the manifest says {}",
                            f.size_bytes.unwrap_or_default()
                        ),
                    });
                }
            }
            Err(e) => report.problems.push(problem(entry.key(), Some(sha), &e)),
        }
        if let (Entry::Shard(s), true) = (entry, deep) {
            let path = cache.blobs().path(sha)?;
            match shard::check_members(&path, s) {
                Ok((read, found)) => {
                    *report.members.get_or_insert(0) += read;
                    report
                        .problems
                        .extend(found.into_iter().map(|message| Problem {
                            key: s.archive_key.clone(),
                            sha256: Some(sha.to_string()),
                            message,
                        }));
                }
                Err(e) => report.problems.push(problem(&s.archive_key, Some(sha), &e)),
            }
        }
    }
    for (archive, mut members) in flattened {
        check_flattened(cache, &archive, &mut members, &mut report);
    }
    Ok(report)
}

fn problem(key: &str, sha: Option<&str>, e: &Error) -> Problem {
    Problem {
        key: key.to_string(),
        sha256: sha.map(str::to_string),
        message: e.to_string(),
    }
}

/// Compares the members of shard archive `archive` that a flattened manifest lists with
/// their entries, reading the archive once.
fn check_flattened(
    cache: &Cache,
    archive: &str,
    members: &mut HashMap<String, FileEntry>,
    report: &mut VerifyReport,
) {
    // Each member's entry, to name its problems by (the check takes them out of `members`).
    let entries: HashMap<String, (String, Option<String>)> = (members.iter())
        .map(|(member, f)| (member.clone(), (f.key.clone(), f.sha256.clone())))
        .collect();
    let entry_problem = |member: &str, message: String| {
        let (key, sha256) = entries.get(member).cloned().unwrap_or_default();
        Problem {
            key,
            sha256,
            message,
        }
    };
    let mut found = Vec::new();
    let checked = cache
        .blobs()
        .path(archive)
        .and_then(|path| shard::check_listed(&path, members, "", &mut found));
    match checked {
        Ok((compared, _)) => {
            *report.members.get_or_insert(0) += compared;
            (report.problems).extend(
                found
                    .into_iter()
                    .map(|(m, message)| entry_problem(&m, message)),
            );
            for member in members.keys() {
                let message = format!("member '{member}' is not in its shard archive");
                report.problems.push(entry_problem(member, message));
            }
        }
        Err(e) => report
            .problems
            .push(problem(super::short(archive), Some(archive), &e)),
    }
}
