//! Building a [`GcPlan`] from one [`Census`] of the registry: every policy is a pass over
//! it in memory, then an accounting pass says which blobs would really be freed. For
//! orphans, the blob directory is walked on other threads meanwhile.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use rusqlite::Connection;

use super::census::{ByFirstByte, Census, ItemRow, NO_LINKS, NO_SHA, ShaId, Version};
use super::{
    Detail, GcPlan, GcPolicy, PlannedFile, PlannedItem, Reason, ReasonTotal, metadata_if_present,
    old_enough, walk,
};
use crate::cache::Cache;
use crate::error::{Error, IoResultExt, Result};
use crate::key::hex;
use crate::registry::Db;
use crate::status::Status;

/// How long ago `ms` was, in whole seconds.
fn ago(ms: i64, now: DateTime<Utc>) -> u64 {
    (now.timestamp_millis().saturating_sub(ms).max(0) / 1000) as u64
}

fn cutoff(now: DateTime<Utc>, d: std::time::Duration) -> i64 {
    now.timestamp_millis()
        .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// An item chosen by a policy, by its position in the census.
struct Pick {
    row: usize,
    reason: Reason,
    detail: Detail,
}

/// The items chosen so far, each once, in the order chosen.
struct Picks {
    picks: Vec<Pick>,
    chosen: Vec<bool>,
}

impl Picks {
    fn add(&mut self, row: usize, reason: Reason, detail: Detail) {
        if !self.chosen[row] {
            self.chosen[row] = true;
            self.picks.push(Pick {
                row,
                reason,
                detail,
            });
        }
    }
}

/// Plans a collection under `policy` as of `now`. Reads only; nothing changes.
pub fn plan(cache: &Cache, policy: &GcPolicy, now: DateTime<Utc>) -> Result<GcPlan> {
    if policy.keep_last == Some(0) {
        // Surely a slip (for "no limit", leave it out): it would take every READY item.
        return Err(Error::invalid(
            "keep-last 0",
            "would collect every READY version of every key; keep 1 or more",
        ));
    }
    // One snapshot: every query sees the same registry, on this connection and on those
    // that share the census's read out among the cores. Dropping it ends the reads.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut snapshot = cache.registry().snapshot(cores.clamp(1, 4) - 1)?;
    let (db, twins) = snapshot.split();
    let census = read_census(db, twins, policy)?;
    std::thread::scope(|scope| {
        let (blobs, tmp) = (cache.blobs().dir(), cache.blobs().tmp_dir());
        let walk = || walk::blob_digests(blobs, tmp, SystemTime::now());
        // The walk runs beside the planning, on another thread if one can be had. (Not
        // beside the registry's read, which has every core busy.)
        let listing = policy.orphans.then(|| {
            std::thread::Builder::new()
                .name("gc blob walk".into())
                .spawn_scoped(scope, walk)
        });
        let planned = plan_items(cache, census, policy, now);
        // Joined before anything is returned, an error included.
        let on_disk = listing.map(|walker| match walker {
            Ok(walker) => walker.join().unwrap_or_else(|_| {
                Err(Error::invalid(
                    blobs.display().to_string(),
                    "the blob directory walk failed",
                ))
            }),
            Err(_) => walk(),
        });
        let (census, items, mut files, usage_before) = planned?;
        if let Some(on_disk) = on_disk {
            orphan_blobs(cache, &census, &on_disk?, policy, &mut files)?;
            temp_files(cache.blobs().tmp_dir(), policy, &mut files)?;
        }
        let totals = totals(&items, &files);
        Ok(GcPlan {
            created: now,
            policy: policy.clone(),
            items,
            files,
            totals,
            usage_before,
        })
    })
}

type Planned = (Census, Vec<PlannedItem>, Vec<PlannedFile>, Option<u64>);

/// The census a plan under `policy` needs: with only trash, stale writes or failures,
/// only items in those statuses are read in full.
fn read_census(db: Db<'_>, twins: &mut [Connection], policy: &GcPolicy) -> Result<Census> {
    let mut only = Vec::new();
    if policy.trash.is_some() {
        only.push(Status::Trash);
    }
    if policy.stale.is_some() {
        only.extend([Status::Write, Status::Failed]);
    }
    let some = policy.keep_last.is_none() && policy.max_age.is_none() && policy.max_size.is_none();
    Census::read(
        db,
        twins,
        some.then_some(only.as_slice()),
        policy.keep_last.is_some(),
    )
}

/// Everything but orphans and temp files: the items each policy picks, their accounting,
/// and the blobs only collected manifests linked. Also returns the census and the usage
/// measured for max-size.
fn plan_items(
    cache: &Cache,
    mut census: Census,
    policy: &GcPolicy,
    now: DateTime<Utc>,
) -> Result<Planned> {
    let versions = census.versions.take();
    let items = &census.items;
    let c = &census;
    let mut picks = Picks {
        picks: Vec::new(),
        chosen: vec![false; items.len()],
    };
    let candidates = |status: Status| {
        items
            .iter()
            .enumerate()
            .filter(move |(_, r)| r.status == Some(status) && !c.protected(r))
    };

    if let Some(older) = policy.trash {
        let before = cutoff(now, older);
        for (row, r) in candidates(Status::Trash).filter(|(_, r)| r.updated <= before) {
            let ago = ago(r.updated, now);
            picks.add(row, Reason::Trash, Detail::Trashed { ago });
        }
    }
    if let Some(older) = policy.stale {
        let before = cutoff(now, older);
        for (row, r) in candidates(Status::Write) {
            if let Some(lease) = r.lease_expires.filter(|&l| l < before) {
                let ago = ago(lease, now);
                picks.add(row, Reason::StaleWrite, Detail::LeaseExpired { ago });
            }
        }
        for (row, r) in candidates(Status::Failed).filter(|(_, r)| r.updated < before) {
            let detail = Detail::Failed {
                ago: ago(r.updated, now),
                note: c.failure_note(row).map(str::to_owned),
            };
            picks.add(row, Reason::Failed, detail);
        }
    }
    if let Some(keep) = policy.keep_last {
        keep_last(&census, versions, keep, &mut picks);
    }
    // READY items nothing protects, least recently used first.
    let lru: Vec<(i64, i64, usize)> = if policy.max_age.is_some() || policy.max_size.is_some() {
        let mut lru: Vec<_> = candidates(Status::Ready)
            .map(|(row, r)| (r.last_use(), r.id, row))
            .collect();
        lru.par_sort_unstable();
        lru
    } else {
        Vec::new()
    };
    if let Some(age) = policy.max_age {
        let before = cutoff(now, age);
        for &(_, _, row) in lru.iter().take_while(|(last, _, _)| *last < before) {
            let r = &items[row];
            let detail = Detail::Unused {
                ago: ago(r.last_use(), now),
                accessed: r.accessed.is_some(),
            };
            picks.add(row, Reason::MaxAge, detail);
        }
    }
    let mut usage_before = None;
    if let Some(cap) = policy.max_size {
        // The blobs the other policies free already count towards the cap.
        let mut refs = Refs::new(&census);
        for pick in &picks.picks {
            refs.plan(&items[pick.row]);
        }
        let usage = census.usage();
        usage_before = Some(usage);
        let mut usage_now = usage.saturating_sub(refs.freed_so_far());
        // Ranks count every item in LRU order, those other policies already planned too.
        for (rank, &(last, _, row)) in (1u64..).zip(&lru) {
            if usage_now <= cap {
                break;
            }
            if picks.chosen[row] {
                continue;
            }
            usage_now = usage_now.saturating_sub(refs.plan(&items[row]));
            let ago = ago(last, now);
            picks.add(row, Reason::MaxSize, Detail::Lru { rank, ago });
        }
    }

    // The blob and links of each pick are noted in row order, the order the census lies in
    // memory in (picks come in key or LRU order); the accounting passes in pick order below
    // then touch nothing else of the census.
    let n = picks.picks.len();
    let mut by_row: Vec<(usize, usize)> = (picks.picks.iter().enumerate())
        .map(|(at, p)| (p.row, at))
        .collect();
    by_row.sort_unstable();
    let mut pick_shas = vec![NO_SHA; n];
    let mut pick_links = vec![NO_LINKS; n];
    // Accounting: which blobs go, which stay shared. A blob is used outside the plan when
    // it has more referrers (items holding it, manifests linking it) than planned ones.
    let mut planned_refs = vec![0u32; census.shas.len()];
    for &(row, at) in &by_row {
        let r = &items[row];
        pick_shas[at] = r.sha;
        pick_links[at] = r.links;
        if r.sha != NO_SHA {
            planned_refs[r.sha as usize] += 1;
        }
        for link in census.links_at(r.links) {
            planned_refs[link.sha as usize] += 1;
        }
    }
    // The planned items, in pick order, on every core: a plan may hold most of a million.
    let mut planned = Vec::new();
    (picks.picks.par_iter())
        .map(|pick| {
            let row = pick.row;
            let r = &items[row];
            PlannedItem {
                id: r.id,
                key: census.planned_key(row),
                version: r.version,
                uri: census.uri(row).to_owned(),
                status: r.status.unwrap_or(Status::Failed),
                size: r.size.unwrap_or(0).max(0) as u64,
                sha256: census.digest(r.sha),
                reason: pick.reason,
                detail: pick.detail.clone(),
                // Known once every pick's references are counted, below.
                exclusive: false,
                updated_ms: r.updated,
                accessed_ms: r.accessed,
                linked: r.sha != NO_SHA && census.shas[r.sha as usize].links > 0,
            }
        })
        .collect_into_vec(&mut planned);

    let outside = |sha: ShaId| census.shas[sha as usize].total() > planned_refs[sha as usize];
    let mut freed = vec![false; census.shas.len()];
    for (item, &sha) in planned.iter_mut().zip(&pick_shas) {
        if sha != NO_SHA {
            item.exclusive = !outside(sha) && !std::mem::replace(&mut freed[sha as usize], true);
        }
    }
    let mut files = Vec::new();
    for &links in &pick_links {
        for link in census.links_at(links) {
            if freed[link.sha as usize] || outside(link.sha) {
                continue;
            }
            let sha = census.sha_name(link.sha);
            let Ok(path) = cache.blobs().path(&sha) else {
                continue;
            };
            // The file's own size: a link may record none (a part a ref links). One that
            // cannot be looked at is left out, to be planned another time.
            if let Ok(meta) = fs::metadata(&path)
                && meta.is_file()
            {
                freed[link.sha as usize] = true;
                files.push(PlannedFile {
                    path,
                    sha256: Some(sha),
                    size: meta.len(),
                    reason: Reason::Unlinked,
                });
            }
        }
    }
    Ok((census, planned, files, usage_before))
}

/// Keep-last: each key's READY versions ranked newest first, picking those past the
/// `keep` newest that nothing protects, in `(key, version)` order. Keys are sorted in
/// memory: as 32 bytes when every one is a digest (as keys are), from the census's
/// `versions`, else as text (the same order as SQLite's, byte by byte).
fn keep_last(
    census: &Census,
    versions: Option<ByFirstByte<Version>>,
    keep: u32,
    picks: &mut Picks,
) {
    if let Some(versions) = versions.filter(|_| census.keys_are_digests()) {
        // A key's versions share its bucket (sorted): the buckets are ranked one by one.
        for bucket in versions.buckets() {
            pick_old_versions(census, bucket, keep, picks);
        }
    } else {
        let mut sorted: Vec<_> = (census.items.iter().enumerate())
            .filter(|(_, r)| r.status == Some(Status::Ready))
            .map(|(row, r)| (census.key(row), r.version, row))
            .collect();
        sorted.sort_unstable();
        pick_old_versions(census, &sorted, keep, picks);
    }
}

/// Picks, from `(key, version, row)` sorted by key then version, the versions of each key
/// past its `keep` newest that nothing protects.
fn pick_old_versions<K: PartialEq>(
    census: &Census,
    sorted: &[(K, i64, usize)],
    keep: u32,
    picks: &mut Picks,
) {
    for versions in sorted.chunk_by(|a, b| a.0 == b.0) {
        let n = versions.len() as i64;
        // Oldest first: the first n - keep go, unless protected.
        for (at, &(_, version, row)) in versions.iter().enumerate() {
            let rank = n - at as i64;
            if rank <= i64::from(keep) {
                break;
            }
            if !census.protected(&census.items[row]) {
                let detail = Detail::OldVersion {
                    version,
                    rank,
                    of: n,
                    keep,
                };
                picks.add(row, Reason::KeepLast, detail);
            }
        }
    }
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

/// Reference counts of blobs as items are planned, to know when one is freed.
struct Refs<'a> {
    census: &'a Census,
    /// By blob touched: referrers not planned yet, and the size of the first item planned.
    remaining: Vec<Option<(i64, u64)>>,
}

impl<'a> Refs<'a> {
    fn new(census: &'a Census) -> Self {
        Refs {
            census,
            remaining: vec![None; census.shas.len()],
        }
    }

    /// Counts `item` as going; returns the bytes freed if it was the blob's last user.
    fn plan(&mut self, item: &ItemRow) -> u64 {
        if item.sha == NO_SHA {
            return 0;
        }
        let size = item.size.unwrap_or(0).max(0) as u64;
        let total = i64::from(self.census.shas[item.sha as usize].total());
        let entry = self.remaining[item.sha as usize].get_or_insert((total, size));
        entry.0 -= 1;
        if entry.0 == 0 { size } else { 0 }
    }

    fn freed_so_far(&self) -> u64 {
        self.remaining
            .iter()
            .flatten()
            .filter(|(n, _)| *n <= 0)
            .map(|(_, size)| size)
            .sum()
    }
}

impl Db<'_> {
    /// Whether any manifest links blob `sha`.
    pub(crate) fn sha_linked(&self, sha: Option<&str>) -> Result<bool> {
        let Some(sha) = sha else { return Ok(false) };
        self.conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM links WHERE sha256 = ?1)")
            .and_then(|mut st| st.query_row([sha], |r| r.get(0)))
            .map_err(self.err("checking links"))
    }
}

/// Blobs on disk that nothing references, old enough, in digest order. `on_disk` lists
/// only files at the exact blob layout (see [`walk`]), so nothing else is ever taken for a
/// blob; each unreferenced one is looked at once more (it may have gone meanwhile).
fn orphan_blobs(
    cache: &Cache,
    census: &Census,
    on_disk: &[[u8; 32]],
    policy: &GcPolicy,
    out: &mut Vec<PlannedFile>,
) -> Result<()> {
    // Both lists ascend: a merge join. (Blobs the plan frees are referenced, so they are
    // never orphans as well.)
    let mut known = census.digests().iter().peekable();
    for digest in on_disk {
        while known.next_if(|k| *k < digest).is_some() {}
        if known.peek() == Some(&digest) {
            continue;
        }
        let sha = hex(digest);
        let path = cache.blobs().path(&sha)?;
        let Some(meta) = metadata_if_present(&path)? else {
            continue; // gone since it was listed
        };
        if meta.is_file() && old_enough(&meta, policy.grace) {
            out.push(PlannedFile {
                path,
                sha256: Some(sha),
                size: meta.len(),
                reason: Reason::Orphan,
            });
        }
    }
    Ok(())
}

/// Leftovers in `tmp/` older than the grace period (a live writer's file is younger: it
/// is written to continuously, and its lease is renewed well within the hour). Writers
/// rename their files away or delete them at any moment: one gone by the time it is
/// looked at is simply not a leftover.
fn temp_files(tmp: &Path, policy: &GcPolicy, out: &mut Vec<PlannedFile>) -> Result<()> {
    if !tmp.is_dir() {
        return Ok(());
    }
    for entry in fs::read_dir(tmp).at(tmp)? {
        let entry = entry.at(tmp)?;
        let path = entry.path();
        let Some(meta) = metadata_if_present(&path)? else {
            continue; // gone since it was listed
        };
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
