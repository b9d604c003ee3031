//! Building a [`GcPlan`]: one indexed query per policy, then an accounting pass that says
//! which blobs would really be freed.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::{Row, params};

use super::{GcPlan, GcPolicy, PlannedFile, PlannedItem, Reason, ReasonTotal, old_enough};
use crate::cache::Cache;
use crate::error::{IoResultExt, Result};
use crate::key::is_sha256_hex;
use crate::registry::Db;
use crate::status::Status;

/// An item is protected when pinned, or when its content is linked by a pinned manifest.
const PROTECTED: &str = "(items.pinned <> 0 OR (items.sha256 IS NOT NULL AND EXISTS (
    SELECT 1 FROM links JOIN items AS m ON m.id = links.item_id
    WHERE links.sha256 = items.sha256 AND m.pinned <> 0)))";

const COLUMNS: &str = "items.id, items.key, items.version, items.uri, items.status, \
    coalesce(items.size, 0), items.sha256, items.updated, items.accessed, items.created, \
    items.lease_expires, items.note";

struct Row_ {
    item: PlannedItem,
    created_ms: i64,
    lease_ms: Option<i64>,
    note: Option<String>,
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<Row_> {
    let status: String = row.get(4)?;
    Ok(Row_ {
        item: PlannedItem {
            id: row.get(0)?,
            key: row.get(1)?,
            version: row.get(2)?,
            uri: row.get(3)?,
            status: status.parse().unwrap_or(Status::Failed),
            size: row.get::<_, i64>(5)?.max(0) as u64,
            sha256: row.get(6)?,
            reason: Reason::Trash,
            detail: String::new(),
            exclusive: false,
            updated_ms: row.get(7)?,
            accessed_ms: row.get(8)?,
            linked: false,
        },
        created_ms: row.get(9)?,
        lease_ms: row.get(10)?,
        note: row.get(11)?,
    })
}

fn ago(ms: i64, now: DateTime<Utc>) -> String {
    let secs = (now.timestamp_millis() - ms).max(0) / 1000;
    match secs {
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

fn ordinal(n: i64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn cutoff(now: DateTime<Utc>, d: std::time::Duration) -> i64 {
    now.timestamp_millis()
        .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Plans a collection under `policy` as of `now`. Reads only; nothing changes.
pub fn plan(cache: &Cache, policy: &GcPolicy, now: DateTime<Utc>) -> Result<GcPlan> {
    let db = cache.registry().db();
    let mut planned: Vec<PlannedItem> = Vec::new();
    let mut seen: HashSet<i64> = HashSet::new();
    let mut add = |planned: &mut Vec<PlannedItem>, mut item: PlannedItem, reason, detail| {
        if seen.insert(item.id) {
            item.reason = reason;
            item.detail = detail;
            planned.push(item);
        }
    };
    let query = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Result<Vec<Row_>> {
        db.conn
            .prepare(sql)
            .and_then(|mut st| {
                st.query_map(args, read_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(db.err("planning gc"))
    };

    if let Some(older) = policy.trash {
        let sql = format!(
            "SELECT {COLUMNS} FROM items WHERE status = 'TRASH' AND updated <= ?1 AND NOT {PROTECTED} ORDER BY id"
        );
        for r in query(&sql, &[&cutoff(now, older)])? {
            let detail = format!("in the trash for {}", ago(r.item.updated_ms, now));
            add(&mut planned, r.item, Reason::Trash, detail);
        }
    }
    if let Some(older) = policy.stale {
        let before = cutoff(now, older);
        let sql = format!(
            "SELECT {COLUMNS} FROM items WHERE status = 'WRITE' AND lease_expires < ?1 AND NOT {PROTECTED} ORDER BY id"
        );
        for r in query(&sql, &[&before])? {
            let detail = format!(
                "writer's lease expired {} ago",
                ago(r.lease_ms.unwrap_or(0), now)
            );
            add(&mut planned, r.item, Reason::StaleWrite, detail);
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM items WHERE status = 'FAILED' AND updated < ?1 AND NOT {PROTECTED} ORDER BY id"
        );
        for r in query(&sql, &[&before])? {
            let detail = format!(
                "failed {} ago{}",
                ago(r.item.updated_ms, now),
                r.note.map(|n| format!(": {n}")).unwrap_or_default()
            );
            add(&mut planned, r.item, Reason::Failed, detail);
        }
    }
    if let Some(keep) = policy.keep_last {
        let sql = format!(
            "SELECT {COLUMNS}, ranked.rn, ranked.n FROM (
                 SELECT id,
                        row_number() OVER (PARTITION BY key ORDER BY version DESC) AS rn,
                        count(*) OVER (PARTITION BY key) AS n
                 FROM items WHERE status = 'READY') AS ranked
             JOIN items ON items.id = ranked.id
             WHERE ranked.rn > ?1 AND NOT {PROTECTED} ORDER BY items.key, items.version"
        );
        let rows = db
            .conn
            .prepare(&sql)
            .and_then(|mut st| {
                st.query_map([i64::from(keep)], |row| {
                    Ok((
                        read_row(row)?,
                        row.get::<_, i64>(12)?,
                        row.get::<_, i64>(13)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(db.err("planning keep-last"))?;
        for (r, rank, n) in rows {
            let detail = format!(
                "version {}: {} newest of {n} READY, keep-last {keep}",
                r.item.version,
                ordinal(rank)
            );
            add(&mut planned, r.item, Reason::KeepLast, detail);
        }
    }
    if let Some(age) = policy.max_age {
        let sql = format!(
            "SELECT {COLUMNS} FROM items WHERE status = 'READY'
             AND coalesce(accessed, created) < ?1 AND NOT {PROTECTED} ORDER BY coalesce(accessed, created), id"
        );
        for r in query(&sql, &[&cutoff(now, age)])? {
            let detail = match r.item.accessed_ms {
                Some(a) => format!("last access {} ago", ago(a, now)),
                None => format!("never accessed, created {} ago", ago(r.created_ms, now)),
            };
            add(&mut planned, r.item, Reason::MaxAge, detail);
        }
    }
    let mut refs = Refs::new(db);
    for item in &planned {
        refs.plan(item)?;
    }
    let mut usage_before = 0;
    if let Some(cap) = policy.max_size {
        usage_before = usage(db)?;
        let mut usage_now = usage_before.saturating_sub(refs.freed_so_far()?);
        if usage_now > cap {
            let sql = format!(
                "SELECT {COLUMNS} FROM items WHERE status = 'READY' AND NOT {PROTECTED}
                 ORDER BY coalesce(accessed, created), id"
            );
            let mut st = db.conn.prepare(&sql).map_err(db.err("planning max-size"))?;
            let mut rows = st.query([]).map_err(db.err("planning max-size"))?;
            let mut rank = 0;
            while usage_now > cap {
                let Some(row) = rows.next().map_err(db.err("planning max-size"))? else {
                    break;
                };
                let r = read_row(row).map_err(db.err("planning max-size"))?;
                rank += 1;
                if planned.iter().any(|p| p.id == r.item.id) {
                    continue;
                }
                let last = r.item.accessed_ms.unwrap_or(r.created_ms);
                let detail = format!("LRU rank {rank}, last access {} ago", ago(last, now));
                usage_now = usage_now.saturating_sub(refs.plan(&r.item)?);
                add(&mut planned, r.item, Reason::MaxSize, detail);
            }
        }
    }

    // Accounting: which blobs go, which stay shared.
    let planned_ids: HashSet<i64> = planned.iter().map(|p| p.id).collect();
    let mut files = Vec::new();
    let mut freed_shas: HashSet<String> = HashSet::new();
    for item in &mut planned {
        item.linked = db.sha_linked(item.sha256.as_deref())?;
        if let Some(sha) = item.sha256.clone() {
            item.exclusive = !db.referenced_outside(&sha, &planned_ids)? && freed_shas.insert(sha);
        }
    }
    for item in &planned {
        for link in db.links_of(item.id)? {
            if !freed_shas.contains(&link.sha256)
                && !db.referenced_outside(&link.sha256, &planned_ids)?
                && cache.blobs().exists(&link.sha256)
            {
                freed_shas.insert(link.sha256.clone());
                files.push(PlannedFile {
                    path: cache.blobs().path(&link.sha256)?,
                    sha256: Some(link.sha256),
                    size: link.size.unwrap_or(0),
                    reason: Reason::Unlinked,
                });
            }
        }
    }
    if policy.orphans {
        orphan_blobs(cache, db, policy, &freed_shas, &mut files)?;
        temp_files(cache.blobs().tmp_dir(), policy, &mut files)?;
    }
    let totals = totals(&planned, &files);
    Ok(GcPlan {
        created: now,
        policy: policy.clone(),
        items: planned,
        files,
        totals,
        usage_before,
    })
}

fn totals(items: &[PlannedItem], files: &[PlannedFile]) -> Vec<(Reason, ReasonTotal)> {
    let mut by: HashMap<Reason, ReasonTotal> = HashMap::new();
    for i in items {
        let t = by.entry(i.reason).or_default();
        t.items += 1;
        if i.exclusive {
            t.exclusive_bytes += i.size;
        } else if i.sha256.is_some() {
            t.shared_bytes += i.size;
        }
    }
    for f in files {
        let t = by.entry(f.reason).or_default();
        t.files += 1;
        t.exclusive_bytes += f.size;
    }
    let mut out: Vec<_> = by.into_iter().collect();
    out.sort_by_key(|(r, _)| *r);
    out
}

/// Bytes the cache holds: distinct blobs of items plus blobs only manifests link to.
fn usage(db: Db<'_>) -> Result<u64> {
    db.conn
        .query_row(
            "SELECT (SELECT coalesce(sum(size), 0) FROM
                       (SELECT max(size) AS size FROM items WHERE sha256 IS NOT NULL GROUP BY sha256))
                  + (SELECT coalesce(sum(size), 0) FROM
                       (SELECT max(size) AS size FROM links
                        WHERE NOT EXISTS (SELECT 1 FROM items WHERE items.sha256 = links.sha256)
                        GROUP BY sha256))",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n.max(0) as u64)
        .map_err(db.err("measuring usage"))
}

/// Reference counts of blobs as items are planned, to know when one is freed.
struct Refs<'a> {
    db: Db<'a>,
    remaining: HashMap<String, (i64, u64)>,
}

impl<'a> Refs<'a> {
    fn new(db: Db<'a>) -> Self {
        Refs {
            db,
            remaining: HashMap::new(),
        }
    }

    /// Counts `item` as going; returns the bytes freed if it was the blob's last user.
    fn plan(&mut self, item: &PlannedItem) -> Result<u64> {
        let Some(sha) = &item.sha256 else {
            return Ok(0);
        };
        if !self.remaining.contains_key(sha) {
            let n = self.db.reference_count(sha)?;
            self.remaining.insert(sha.clone(), (n, item.size));
        }
        let entry = self.remaining.entry(sha.clone()).or_insert((0, item.size));
        entry.0 -= 1;
        Ok(if entry.0 == 0 { item.size } else { 0 })
    }

    fn freed_so_far(&self) -> Result<u64> {
        Ok(self
            .remaining
            .values()
            .filter(|(n, _)| *n <= 0)
            .map(|(_, size)| size)
            .sum())
    }
}

impl Db<'_> {
    /// Items plus manifest links that reference blob `sha`.
    fn reference_count(&self, sha: &str) -> Result<i64> {
        self.conn
            .prepare_cached(
                "SELECT (SELECT count(*) FROM items WHERE sha256 = ?1)
                      + (SELECT count(*) FROM links WHERE sha256 = ?1)",
            )
            .and_then(|mut st| st.query_row([sha], |r| r.get(0)))
            .map_err(self.err("counting references"))
    }

    /// Whether something not in `planned` references blob `sha` (an item, or a link of a
    /// manifest that stays).
    fn referenced_outside(&self, sha: &str, planned: &HashSet<i64>) -> Result<bool> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT id FROM items WHERE sha256 = ?1 UNION SELECT item_id FROM links WHERE sha256 = ?1",
            )
            .map_err(self.err("checking references"))?;
        let ids = st
            .query_map(params![sha], |r| r.get::<_, i64>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.err("checking references"))?;
        Ok(ids.iter().any(|id| !planned.contains(id)))
    }

    /// Whether any manifest links blob `sha`.
    pub(crate) fn sha_linked(&self, sha: Option<&str>) -> Result<bool> {
        let Some(sha) = sha else { return Ok(false) };
        self.conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM links WHERE sha256 = ?1)")
            .and_then(|mut st| st.query_row([sha], |r| r.get(0)))
            .map_err(self.err("checking links"))
    }
}

/// Blobs on disk that nothing references. Directories that are symlinks are not entered:
/// nothing outside the cache root is ever looked at, let alone deleted.
fn orphan_blobs(
    cache: &Cache,
    db: Db<'_>,
    policy: &GcPolicy,
    already: &HashSet<String>,
    out: &mut Vec<PlannedFile>,
) -> Result<()> {
    let top = cache.blobs().dir();
    for a in real_dirs(top)? {
        for b in real_dirs(&a)? {
            for entry in fs::read_dir(&b).at(&b)? {
                let entry = entry.at(&b)?;
                let path = entry.path();
                let meta = fs::symlink_metadata(&path).at(&path)?;
                if !meta.is_file() {
                    continue;
                }
                let sha = format!(
                    "{}{}{}",
                    a.file_name().unwrap_or_default().to_string_lossy(),
                    b.file_name().unwrap_or_default().to_string_lossy(),
                    entry.file_name().to_string_lossy()
                );
                if !is_sha256_hex(&sha)
                    || already.contains(&sha)
                    || !old_enough(&meta, policy.grace)
                {
                    continue;
                }
                if !db.blob_referenced(&sha)? {
                    out.push(PlannedFile {
                        path,
                        sha256: Some(sha),
                        size: meta.len(),
                        reason: Reason::Orphan,
                    });
                }
            }
        }
    }
    Ok(())
}

fn real_dirs(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    for entry in fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let meta = fs::symlink_metadata(entry.path()).at(entry.path())?;
        if meta.is_dir() {
            out.push(entry.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Leftovers in `tmp/` older than the grace period (a live writer's file is younger: it
/// is written to continuously, and its lease is renewed well within the hour).
fn temp_files(tmp: &Path, policy: &GcPolicy, out: &mut Vec<PlannedFile>) -> Result<()> {
    if !tmp.is_dir() {
        return Ok(());
    }
    for entry in fs::read_dir(tmp).at(tmp)? {
        let entry = entry.at(tmp)?;
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).at(&path)?;
        if (meta.is_file() || meta.file_type().is_symlink()) && old_enough(&meta, policy.grace) {
            out.push(PlannedFile {
                path,
                sha256: None,
                size: if meta.is_file() { meta.len() } else { 0 },
                reason: Reason::TempFile,
            });
        }
    }
    Ok(())
}
