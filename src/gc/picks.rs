//! The policies' choice of items, from a [`Census`]: each picks items by row, and an item
//! goes for the first policy that picks it. A pick is a row and a number or two; the
//! sentence that explains it is made from the item's row when the plan is written out.

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use super::census::{BUCKETS, Census, ItemRow, NO_SHA, Runs, ShaId, Version};
use super::{CapUsage, Detail, GcPolicy, Reason};
use crate::status::Status;

/// How long ago `ms` was, in whole seconds.
fn ago(ms: i64, now: DateTime<Utc>) -> u64 {
    (now.timestamp_millis().saturating_sub(ms).max(0) / 1000) as u64
}

fn cutoff(now: DateTime<Utc>, d: std::time::Duration) -> i64 {
    now.timestamp_millis()
        .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Why a policy picked an item, with the figures only the policy knows (the others are
/// in the item's row).
#[derive(Clone, Copy)]
pub(super) enum Why {
    Trash,
    StaleWrite,
    Failed,
    /// A version ranked `rank` (1 is the newest) of its key's `of` READY versions.
    OldVersion {
        rank: u32,
        of: u32,
    },
    Unused,
    /// Evicted for max-size at this place in least-recently-used order.
    Lru {
        rank: u32,
    },
    /// In the trash, purged for max-size before any READY item is evicted.
    TrashOverCap,
}

/// An item chosen by a policy, by its row in the census.
#[derive(Clone, Copy)]
pub(super) struct Pick {
    pub row: u32,
    pub why: Why,
}

impl Pick {
    pub fn reason(&self) -> Reason {
        match self.why {
            Why::Trash => Reason::Trash,
            Why::StaleWrite => Reason::StaleWrite,
            Why::Failed => Reason::Failed,
            Why::OldVersion { .. } => Reason::KeepLast,
            Why::Unused => Reason::MaxAge,
            Why::Lru { .. } | Why::TrashOverCap => Reason::MaxSize,
        }
    }

    /// Why, for people, from the item's row in `census` as of `now` (`None` if `census`
    /// has no such row); `keep` is keep-last's N.
    pub fn detail(&self, census: &Census, keep: u32, now: DateTime<Utc>) -> Option<Detail> {
        let row = self.row as usize;
        let r = census.items.get(row)?;
        let detail = match self.why {
            Why::Trash => Detail::Trashed {
                ago: ago(r.updated, now),
            },
            Why::StaleWrite => Detail::LeaseExpired {
                ago: census.lease_expires(row).map_or(0, |lease| ago(lease, now)),
            },
            Why::Failed => Detail::Failed {
                ago: ago(r.updated, now),
                note: census.failure_note(row).map(str::to_owned),
            },
            Why::OldVersion { rank, of } => Detail::OldVersion {
                version: r.version,
                rank: rank.into(),
                of: of.into(),
                keep,
            },
            Why::Unused => Detail::Unused {
                ago: ago(r.last_use(), now),
                accessed: r.accessed().is_some(),
            },
            Why::Lru { rank } => Detail::Lru {
                rank: rank.into(),
                ago: ago(r.last_use(), now),
            },
            Why::TrashOverCap => Detail::TrashedOverCap {
                ago: ago(r.updated, now),
            },
        };
        Some(detail)
    }
}

/// A row no policy picked (see [`Picks::at`]).
pub(super) const NOT_PICKED: u32 = u32::MAX;

/// The items chosen, each once, in the order chosen.
pub(super) struct Picks {
    pub picks: Vec<Pick>,
    /// By row: where its pick is in `picks`, or [`NOT_PICKED`]. (Walked in order, it gives
    /// the picks in the order the census lies in memory.)
    pub at: Vec<u32>,
    /// By blob: how many of its referrers (items holding it, manifests linking it) are
    /// picked.
    pub planned_refs: Vec<u32>,
}

impl Picks {
    fn add(&mut self, pick: Pick) {
        let at = &mut self.at[pick.row as usize];
        if *at == NOT_PICKED {
            // Fewer picks than rows, which fit in a u32 (checked by `Census::read`).
            *at = self.picks.len() as u32;
            self.picks.push(pick);
        }
    }

    fn chosen(&self, row: u32) -> bool {
        self.at[row as usize] != NOT_PICKED
    }

    /// The rows picked, and where, in row order.
    pub fn by_row(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        (self.at.iter().enumerate())
            .filter(|(_, at)| **at != NOT_PICKED)
            .map(|(row, &at)| (row, at as usize))
    }
}

/// Runs every policy of `policy` over the census as of `now`: trash, stale writes and
/// failures in id order, then keep-last by key, then max-age and max-size least recently
/// used first (under max-size, trashed items no other policy purges go first, longest in
/// the trash first). Also returns the usage max-size measured.
pub(super) fn choose(
    census: &Census,
    versions: Option<Runs<Version>>,
    policy: &GcPolicy,
    now: DateTime<Utc>,
) -> (Picks, Option<CapUsage>) {
    let items = &census.items;
    let trash_before = policy.trash.map(|d| cutoff(now, d));
    let stale_before = policy.stale.map(|d| cutoff(now, d));
    let by_use = policy.max_age.is_some() || policy.max_size.is_some();
    // One pass over the rows for every policy that looks at each on its own; READY items
    // nothing protects are gathered for ranking by last use (rows ascend with ids, so
    // the row breaks ties as the id would).
    let (mut trash, mut writes, mut failed, mut lru) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Trashed items the trash policy keeps, by when they were trashed: under a cap, the
    // trash is emptied before anything in use is evicted.
    let mut spare_trash = Vec::new();
    for (row, r) in (0u32..).zip(items.iter()) {
        let list = match r.status {
            Some(Status::Trash) if trash_before.is_some_and(|b| r.updated <= b) => &mut trash,
            Some(Status::Trash) if policy.max_size.is_some() => {
                if !census.protected(r) {
                    spare_trash.push((r.updated, row));
                }
                continue;
            }
            Some(Status::Write)
                if stale_before
                    .is_some_and(|b| census.lease_expires(row as usize).is_some_and(|l| l < b)) =>
            {
                &mut writes
            }
            Some(Status::Failed) if stale_before.is_some_and(|b| r.updated < b) => &mut failed,
            Some(Status::Ready) if by_use => {
                if !census.protected(r) {
                    lru.push((r.last_use(), row));
                }
                continue;
            }
            _ => continue,
        };
        if !census.protected(r) {
            list.push(row);
        }
    }
    let mut picks = Picks {
        picks: Vec::new(),
        at: vec![NOT_PICKED; items.len()],
        planned_refs: Vec::new(),
    };
    for (rows, why) in [
        (trash, Why::Trash),
        (writes, Why::StaleWrite),
        (failed, Why::Failed),
    ] {
        for row in rows {
            picks.add(Pick { row, why });
        }
    }
    // Keep-last's ranking and the sort by last use, side by side.
    let (old_versions, ()) = rayon::join(
        || (policy.keep_last).map(|keep| keep_last(census, versions, keep)),
        || lru.par_sort_unstable(),
    );
    for pick in old_versions.into_iter().flatten() {
        picks.add(pick);
    }
    if let Some(age) = policy.max_age {
        let before = cutoff(now, age);
        for &(_, row) in lru.iter().take_while(|(last, _)| *last < before) {
            let why = Why::Unused;
            picks.add(Pick { row, why });
        }
    }
    // The referrers the picks so far take from each blob, in row order (the order the
    // census lies in memory in): max-size goes on from there.
    let mut refs = Refs::new(census);
    for (row, _) in picks.by_row() {
        refs.count(&items[row]);
    }
    let mut usage = None;
    if let Some(cap) = policy.max_size {
        // The blobs the other policies free already count towards the cap.
        let before = census.usage();
        let mut after = before.saturating_sub(refs.freed_so_far());
        spare_trash.sort_unstable();
        let trashed = spare_trash.iter().map(|&(_, row)| (row, Why::TrashOverCap));
        // Ranks count every item in LRU order, those other policies already planned too.
        let unused = (1u32..)
            .zip(&lru)
            .map(|(rank, &(_, row))| (row, Why::Lru { rank }));
        for (row, why) in trashed.chain(unused) {
            if after <= cap {
                break;
            }
            if picks.chosen(row) {
                continue;
            }
            after = after.saturating_sub(refs.plan(&items[row as usize]));
            picks.add(Pick { row, why });
        }
        usage = Some(CapUsage { before, after });
    }
    picks.planned_refs = refs.planned;
    (picks, usage)
}

/// Keep-last: each key's READY versions ranked newest first, picking those past the
/// `keep` newest that nothing protects, in `(key, version)` order. Keys are sorted in
/// memory: as 32 bytes when every one is a digest (as keys are), from the census's
/// `versions`, else as text (the same order as SQLite's, byte by byte).
fn keep_last(census: &Census, versions: Option<Runs<Version>>, keep: u32) -> Vec<Pick> {
    let mut picks = Vec::new();
    if let Some(versions) = versions.filter(|_| census.keys_are_digests()) {
        // A key's versions share its bucket (sorted): the buckets are ranked one by one.
        let mut bucket = Vec::new();
        for at in 0..BUCKETS {
            bucket.clear();
            versions.merged(at, |version| bucket.push(version));
            pick_old_versions(census, &bucket, keep, &mut picks);
        }
    } else {
        let mut sorted: Vec<_> = (census.items.iter().enumerate())
            .filter(|(_, r)| r.status == Some(Status::Ready))
            .map(|(row, r)| (census.key(row), r.version, row))
            .collect();
        sorted.sort_unstable();
        pick_old_versions(census, &sorted, keep, &mut picks);
    }
    picks
}

/// Picks, from `(key, version, row)` sorted by key then version, the versions of each key
/// past its `keep` newest that nothing protects.
fn pick_old_versions<K: PartialEq>(
    census: &Census,
    sorted: &[(K, i64, usize)],
    keep: u32,
    picks: &mut Vec<Pick>,
) {
    for versions in sorted.chunk_by(|a, b| a.0 == b.0) {
        // Fewer than rows, which fit in a u32 (checked by `Census::read`); so do rows.
        let of = versions.len() as u32;
        // Oldest first: the first of - keep go, unless protected.
        for (rank, &(_, _, row)) in (1..=of).rev().zip(versions) {
            if rank <= keep {
                break;
            }
            if !census.protected(&census.items[row]) {
                let why = Why::OldVersion { rank, of };
                picks.push(Pick {
                    row: row as u32,
                    why,
                });
            }
        }
    }
}

/// Reference counts of blobs as items are planned, to know when one is freed. A blob
/// freed counts at the size usage counts it at ([`Census::blob_size`]), whichever of its
/// holders is planned first.
struct Refs<'a> {
    census: &'a Census,
    /// By blob: referrers planned so far. (Zeros to begin with, so that only the blobs
    /// touched are ever written.)
    planned: Vec<u32>,
}

impl<'a> Refs<'a> {
    fn new(census: &'a Census) -> Self {
        Refs {
            census,
            planned: vec![0; census.shas.len()],
        }
    }

    /// The blobs `item` references: its content's, and its links' if it is a manifest.
    fn shas(census: &'a Census, item: &ItemRow) -> impl Iterator<Item = ShaId> + 'a {
        let links = census.links_at(item.links).iter().map(|l| l.sha);
        (item.sha != NO_SHA)
            .then_some(item.sha)
            .into_iter()
            .chain(links)
    }

    /// Counts `item` as going, and its links if it is a manifest.
    fn count(&mut self, item: &ItemRow) {
        for sha in Refs::shas(self.census, item) {
            self.planned[sha as usize] += 1;
        }
    }

    /// Counts `item` as [`Refs::count`] does; returns the bytes freed: the blobs it was
    /// the last user of.
    fn plan(&mut self, item: &ItemRow) -> u64 {
        Refs::shas(self.census, item)
            .map(|sha| self.release(sha))
            .sum()
    }

    /// Counts one reference to blob `sha` as going; the bytes freed if it was the last.
    fn release(&mut self, sha: ShaId) -> u64 {
        let total = self.census.shas[sha as usize].total();
        let planned = &mut self.planned[sha as usize];
        *planned += 1;
        if *planned == total {
            self.census.blob_size(sha)
        } else {
            0
        }
    }

    fn freed_so_far(&self) -> u64 {
        (0u32..)
            .zip(self.planned.iter().zip(&self.census.shas))
            .filter(|(_, (planned, refs))| **planned > 0 && **planned >= refs.total())
            .map(|(sha, _)| self.census.blob_size(sha))
            .sum()
    }
}
