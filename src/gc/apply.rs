//! Applying a [`GcPlan`]: every entry is checked again under the write lock, in batches,
//! so that whatever changed since the plan — accessed, restored, pinned, newly linked, or
//! another item under a purged item's id — is skipped and reported. Rows go first, blobs
//! after; a collection killed half-way leaves a consistent registry, and running it again
//! finishes the job.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use rusqlite::OptionalExtension;
use serde::Serialize;

use super::{GcPlan, PlannedItem, Reason, old_enough};
use crate::cache::Cache;
use crate::error::{Error, IoResultExt, Result};
use crate::key::blob_digest;
use crate::registry::Db;
use crate::status::Status;
use crate::units::{count_of, format_size};

/// Rows deleted per transaction: short enough that writers elsewhere never wait long.
const BATCH: usize = 500;

/// How far an apply has got.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct GcProgress {
    pub done: u64,
    pub total: u64,
}

/// Something the plan listed that was left alone, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub id: Option<i64>,
    pub path: Option<PathBuf>,
    pub why: String,
}

/// What a collection did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    pub items_removed: u64,
    pub blobs_deleted: u64,
    pub temp_files_deleted: u64,
    pub bytes_freed: u64,
    pub skipped: Vec<Skipped>,
    /// The cancel flag was raised; what is done is done, the rest untouched.
    pub cancelled: bool,
}

impl std::fmt::Display for GcReport {
    /// What went, in one line: "removed 3 items, 3 blobs, 0 temp files; freed 93 B".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "removed {}, {}, {}; freed {}",
            count_of(self.items_removed, "item", "items"),
            count_of(self.blobs_deleted, "blob", "blobs"),
            count_of(self.temp_files_deleted, "temp file", "temp files"),
            format_size(self.bytes_freed)
        )
    }
}

/// Applies `plan`. `progress` is called after each batch; `cancel` is checked between
/// batches.
pub fn apply(
    cache: &Cache,
    plan: &GcPlan,
    progress: &mut dyn FnMut(GcProgress),
    cancel: Option<&AtomicBool>,
) -> Result<GcReport> {
    let mut report = GcReport::default();
    let total = (plan.items.len() + plan.files.len()) as u64;
    let mut done = 0u64;
    let cancelled = || cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    let mut release: BTreeSet<String> = BTreeSet::new();
    for start in (0..plan.items.len()).step_by(BATCH) {
        if cancelled() {
            report.cancelled = true;
            return Ok(report);
        }
        let batch: Vec<PlannedItem> = plan.items.range(start..start + BATCH).collect();
        cache.registry().write(|db| {
            for item in &batch {
                match recheck(db, item)? {
                    Some(why) => report.skipped.push(Skipped {
                        id: Some(item.id),
                        path: None,
                        why,
                    }),
                    None => {
                        release.extend(item.sha256.map(|d| d.to_string()));
                        // Only values that name a blob (see `blob_digest`).
                        let links = db.links_of(item.id)?.into_iter();
                        release.extend(links.filter_map(|l| blob_digest(&l.sha256)));
                        db.conn
                            .prepare_cached("DELETE FROM items WHERE id = ?1")
                            .and_then(|mut st| st.execute([item.id]))
                            .map_err(db.err("removing an item"))?;
                        report.items_removed += 1;
                    }
                }
            }
            Ok(())
        })?;
        done += batch.len() as u64;
        progress(GcProgress { done, total });
    }
    // Blobs: those the removed items used, plus unlinked and orphan blobs from the plan.
    let grace = plan.policy.grace;
    for file in &plan.files {
        if let Some(sha) = &file.sha256 {
            release.insert(sha.clone());
        }
    }
    let orphans: HashSet<&str> = plan
        .files
        .iter()
        .filter(|f| f.reason == Reason::Orphan)
        .filter_map(|f| f.sha256.as_deref())
        .collect();
    let shas: Vec<String> = release.into_iter().collect();
    for batch in shas.chunks(BATCH) {
        if cancelled() {
            report.cancelled = true;
            return Ok(report);
        }
        cache.registry().write(|db| {
            for sha in batch {
                if db.blob_referenced(sha)? {
                    continue;
                }
                let path = cache.blobs().path(sha)?;
                let Ok(meta) = fs::symlink_metadata(&path) else {
                    continue;
                };
                if !meta.is_file() {
                    continue;
                }
                // A blob nobody references that is this young may be a writer's, about to
                // be linked: leave it for the next collection.
                if orphans.contains(sha.as_str()) && !old_enough(&meta, grace) {
                    report.skipped.push(Skipped {
                        id: None,
                        path: Some(path),
                        why: "written again since the plan".into(),
                    });
                    continue;
                }
                cache.blobs().remove(sha)?;
                report.blobs_deleted += 1;
                report.bytes_freed += meta.len();
            }
            Ok(())
        })?;
    }
    for file in plan.files.iter().filter(|f| f.reason == Reason::TempFile) {
        let tmp = cache.blobs().tmp_dir();
        // Only direct children of tmp/, and never a directory.
        if file.path.parent() != Some(tmp) {
            continue;
        }
        match fs::symlink_metadata(&file.path) {
            Ok(meta) if !meta.is_dir() && old_enough(&meta, grace) => {
                match fs::remove_file(&file.path) {
                    Ok(()) => {
                        report.temp_files_deleted += 1;
                        report.bytes_freed += if meta.is_file() { meta.len() } else { 0 };
                    }
                    // Gone meanwhile: nothing left to do.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).at(&file.path),
                }
            }
            Ok(_) => report.skipped.push(Skipped {
                id: None,
                path: Some(file.path.clone()),
                why: "changed since the plan".into(),
            }),
            Err(_) => {}
        }
    }
    progress(GcProgress { done: total, total });
    Ok(report)
}

/// Why `item` must be left alone now, if it must.
fn recheck(db: Db<'_>, item: &PlannedItem) -> Result<Option<String>> {
    type Row = (String, i64, Option<i64>, bool, String, i64);
    let row: Option<Row> = db
        .conn
        .prepare_cached(
            "SELECT status, updated, accessed, pinned, key, version FROM items WHERE id = ?1",
        )
        .and_then(|mut st| {
            st.query_row([item.id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .optional()
        })
        .map_err(db.err("re-checking the plan"))?;
    let Some((status, updated, accessed, pinned, key, version)) = row else {
        return Ok(Some("already gone".into()));
    };
    // An id is not handed out again since schema 10, but a build before it (open during
    // the migration) gives the highest id left, as SQLite does.
    if item.key != *key || version != item.version {
        return Ok(Some("another item now".into()));
    }
    let status: Status = status.parse().map_err(|_: Error| {
        Error::invalid(
            format!("item {}", item.id),
            format!("unknown status {status}"),
        )
    })?;
    if status != item.status {
        return Ok(Some(format!("now {status}, was {}", item.status)));
    }
    if accessed != item.accessed_ms {
        return Ok(Some("accessed since the plan".into()));
    }
    if updated != item.updated_ms {
        return Ok(Some("changed since the plan".into()));
    }
    if pinned {
        return Ok(Some("pinned since the plan".into()));
    }
    if let Some(sha) = item.sha256.map(|d| d.to_string()) {
        let protected: bool = db
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM links JOIN items AS m ON m.id = links.item_id
                                WHERE links.sha256 = ?1 AND m.pinned <> 0)",
            )
            .and_then(|mut st| st.query_row([&sha], |r| r.get(0)))
            .map_err(db.err("re-checking pins"))?;
        if protected {
            return Ok(Some("linked by a pinned manifest".into()));
        }
        if !item.linked && db.sha_linked(Some(&sha))? {
            return Ok(Some("newly linked by a manifest".into()));
        }
    }
    Ok(None)
}
