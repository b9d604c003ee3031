//! Cache-wide verification: rehash the blobs of READY items in parallel, mark the items
//! whose content is missing or altered FAILED with the reason, and remember when each
//! was verified so `--since` can skip recent ones.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use chrono::Utc;
use rusqlite::params;
use serde::Serialize;

use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::registry::now_ms;

/// What to verify.
#[derive(Debug, Clone, Default)]
pub struct VerifyOpts {
    /// Skip items verified within this long.
    pub since: Option<Duration>,
    /// Worker threads (default: the machine's parallelism).
    pub threads: Option<usize>,
    /// Report only; do not mark anything FAILED.
    pub dry_run: bool,
}

/// One blob found wrong and the items that use it.
#[derive(Debug, Clone, Serialize)]
pub struct BadBlob {
    pub sha256: String,
    pub items: Vec<i64>,
    pub problem: String,
}

/// What a verification found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyAllReport {
    pub blobs: u64,
    pub bytes: u64,
    pub bad: Vec<BadBlob>,
    /// Items marked FAILED because of a bad blob.
    pub marked_failed: u64,
    /// Items skipped because they were verified recently.
    pub skipped_recent: u64,
    pub cancelled: bool,
}

/// Progress for a bar: bytes hashed of the total.
#[derive(Debug, Clone, Copy)]
pub struct VerifyProgress {
    pub bytes: u64,
    pub total_bytes: u64,
}

/// Verifies every READY item's blob (each distinct blob once).
pub fn verify_all(
    cache: &Cache,
    opts: &VerifyOpts,
    progress: &(dyn Fn(VerifyProgress) + Sync),
    cancel: Option<&AtomicBool>,
) -> Result<VerifyAllReport> {
    let db = cache.registry().db();
    let cutoff = opts
        .since
        .map(|d| now_ms().saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
    let mut report = VerifyAllReport::default();
    let mut blobs: HashMap<String, (u64, Vec<i64>)> = HashMap::new();
    {
        let mut st = db
            .conn
            .prepare(
                "SELECT id, sha256, size, verified FROM items
                 WHERE status = 'READY' AND sha256 IS NOT NULL ORDER BY sha256",
            )
            .map_err(db.err("listing items to verify"))?;
        let mut rows = st.query([]).map_err(db.err("listing items to verify"))?;
        while let Some(row) = rows.next().map_err(db.err("listing items to verify"))? {
            let id: i64 = row.get(0).map_err(db.err("listing items to verify"))?;
            // The size only counts towards the progress: none is no reason to stop.
            let read = |row: &rusqlite::Row<'_>| -> rusqlite::Result<_> {
                let size: Option<i64> = row.get(2)?;
                Ok((row.get::<_, String>(1)?, size.unwrap_or(0), row.get(3)?))
            };
            let (sha, size, verified): (String, i64, Option<i64>) = read(row).map_err(|e| {
                Error::invalid(
                    format!("item {id}"),
                    format!("cannot be read to verify: {e}"),
                )
            })?;
            if let (Some(cut), Some(v)) = (cutoff, verified)
                && v >= cut
            {
                report.skipped_recent += 1;
                continue;
            }
            blobs
                .entry(sha)
                .or_insert((size.max(0) as u64, Vec::new()))
                .1
                .push(id);
        }
    }
    let work: Vec<(String, u64, Vec<i64>)> = blobs
        .into_iter()
        .map(|(sha, (size, ids))| (sha, size, ids))
        .collect();
    let total_bytes: u64 = work.iter().map(|w| w.1).sum();
    let next = AtomicUsize::new(0);
    let hashed = AtomicU64::new(0);
    let results: Mutex<Vec<(usize, std::result::Result<u64, String>)>> = Mutex::new(Vec::new());
    let threads = opts
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let blob_store = cache.blobs();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((sha, size, _)) = work.get(i) else {
                        return;
                    };
                    let outcome = blob_store.verify(sha).map_err(|e| match e {
                        Error::MissingBlob { .. } => "blob missing".to_string(),
                        other => other.to_string(),
                    });
                    let done = hashed.fetch_add(*size, Ordering::Relaxed) + size;
                    progress(VerifyProgress {
                        bytes: done,
                        total_bytes,
                    });
                    if let Ok(mut r) = results.lock() {
                        r.push((i, outcome));
                    }
                }
            });
        }
    });
    report.cancelled = cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    let results = results.into_inner().unwrap_or_default();
    let now = now_ms();
    cache.registry().write(|db| {
        let mut ok = db
            .conn
            .prepare_cached("UPDATE items SET verified = ?2 WHERE sha256 = ?1 AND status = 'READY'")
            .map_err(db.err("recording verification"))?;
        let mut fail = db
            .conn
            .prepare_cached(
                "UPDATE items SET status = 'FAILED', note = ?2, updated = ?3
                 WHERE id = ?1 AND status = 'READY'",
            )
            .map_err(db.err("marking items failed"))?;
        for (i, outcome) in &results {
            let Some((sha, _, ids)) = work.get(*i) else {
                continue;
            };
            match outcome {
                Ok(bytes) => {
                    report.blobs += 1;
                    report.bytes += bytes;
                    if !opts.dry_run {
                        ok.execute(params![sha, now])
                            .map_err(db.err("recording verification"))?;
                    }
                }
                Err(problem) => {
                    report.blobs += 1;
                    if !opts.dry_run {
                        let note = format!("verify {}: {problem}", Utc::now().format("%Y-%m-%d"));
                        for id in ids {
                            report.marked_failed += fail
                                .execute(params![id, note, now])
                                .map_err(db.err("marking items failed"))?
                                as u64;
                        }
                    }
                    report.bad.push(BadBlob {
                        sha256: sha.clone(),
                        items: ids.clone(),
                        problem: problem.clone(),
                    });
                }
            }
        }
        Ok(())
    })?;
    report.bad.sort_by(|a, b| a.sha256.cmp(&b.sha256));
    Ok(report)
}
