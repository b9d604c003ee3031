//! Building a [`GcPlan`] from one [`Census`] of the registry: the policies pick items from
//! it in memory (see [`picks`]), then an accounting pass says which blobs would really be
//! freed. Orphans are looked for on other threads meanwhile, the blob directory walked.

use std::fs;
use std::path::Path;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use rusqlite::Connection;

use super::census::{Census, NO_LINKS, NO_SHA, Runs, Version};
use super::picks::{self, Pick};
use super::planned::Counted;
use super::{
    CapUsage, GcPlan, GcPolicy, PlannedFile, PlannedItems, Reason, ReasonTotal,
    metadata_if_present, old_enough, walk,
};
use crate::blob::BlobStore;
use crate::cache::Cache;
use crate::error::{Error, IoResultExt, Result};
use crate::key::hex;
use crate::registry::Db;
use crate::status::Status;

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
    let mut census = read_census(db, twins, policy)?;
    let versions = census.versions.take();
    let planned = std::thread::scope(|scope| {
        let census = &census;
        let store = cache.blobs();
        let (blobs, tmp) = (store.dir(), store.tmp_dir());
        let leftovers = || {
            let on_disk = walk::blob_digests(blobs, tmp, SystemTime::now())?;
            let mut files = Vec::new();
            orphan_blobs(store, census, &on_disk, policy, &mut files)?;
            temp_files(tmp, policy, &mut files)?;
            Ok::<_, Error>(files)
        };
        // Orphans are found beside the planning of items, on another thread if one can
        // be had. (Not beside the registry's read, which has every core busy.)
        let finder = policy.orphans.then(|| {
            std::thread::Builder::new()
                .name("gc blob walk".into())
                .spawn_scoped(scope, leftovers)
        });
        let planned = plan_items(cache, census, versions, policy, now);
        // Joined before anything is returned, an error included.
        let leftovers = finder.map(|finder| match finder {
            Ok(finder) => finder.join().unwrap_or_else(|_| {
                Err(Error::invalid(
                    blobs.display().to_string(),
                    "the blob directory walk failed",
                ))
            }),
            Err(_) => leftovers(),
        });
        let mut planned = planned?;
        if let Some(leftovers) = leftovers {
            planned.files.extend(leftovers?);
        }
        Ok::<_, Error>(planned)
    })?;
    let Planned {
        picks,
        by_reason,
        files,
        usage,
    } = planned;
    let keep = policy.keep_last.unwrap_or(0);
    Ok(GcPlan {
        created: now,
        policy: policy.clone(),
        items: PlannedItems::new(census, picks, keep, now),
        totals: totals(by_reason, &files),
        files,
        usage,
    })
}

/// What the policies chose.
struct Planned {
    /// The items, in the order chosen, with what the accounting found of each.
    picks: Vec<(Pick, Counted)>,
    /// The items' counts and bytes, by [`Reason::index`].
    by_reason: [ReasonTotal; REASONS],
    files: Vec<PlannedFile>,
    /// The usage max-size measured.
    usage: Option<CapUsage>,
}

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

/// Everything but orphans and temp files: the items each policy picks, their accounting
/// (which picks free their blob), and the blobs only collected manifests linked;
/// `versions` are the census's, for keep-last.
fn plan_items(
    cache: &Cache,
    census: &Census,
    versions: Option<Runs<Version>>,
    policy: &GcPolicy,
    now: DateTime<Utc>,
) -> Result<Planned> {
    let (mut picks, usage) = picks::choose(census, versions, policy, now);
    let items = &census.items;

    // Accounting: which blobs go, which stay shared. A blob is used outside the plan when
    // it has more referrers (items holding it, manifests linking it) than planned ones.
    // What the picks need of their rows is gathered in row order, the order the census
    // lies in memory in (they come in key or LRU order); the passes in pick order below
    // then touch nothing else of the census.
    let planned_refs = std::mem::take(&mut picks.planned_refs);
    let n = picks.picks.len();
    let mut pick_shas = vec![NO_SHA; n];
    let mut pick_links = vec![NO_LINKS; n];
    let mut pick_sizes = vec![0; n];
    for (row, at) in picks.by_row() {
        let r = &items[row];
        pick_shas[at] = r.sha;
        pick_links[at] = r.links;
        pick_sizes[at] = r.size;
    }

    // What the picks need of each blob, in a byte: a megabyte at a million blobs, which
    // stays in the processor's cache as the picks look it up in their own order (at
    // random): three lists of references, counts and flags did not.
    let mut blobs: Vec<u8> = (census.shas.iter().zip(&planned_refs))
        .map(|(refs, &planned)| {
            let outside = if refs.total() > planned { OUTSIDE } else { 0 };
            let linked = if refs.links > 0 { LINKED } else { 0 };
            outside | linked
        })
        .collect();
    drop(planned_refs);
    let mut by_reason: [ReasonTotal; REASONS] = std::array::from_fn(|_| ReasonTotal::default());
    let picks = (picks
        .picks
        .into_iter()
        .zip(pick_shas.iter().zip(&pick_sizes)))
    .map(|(pick, (&sha, &size))| {
        // None for an item without content (NO_SHA is past the end).
        let blob = blobs.get_mut(sha as usize);
        let counted = blob.map_or(Counted::default(), |blob| {
            let exclusive = *blob & (OUTSIDE | FREED) == 0;
            if exclusive {
                *blob |= FREED;
            }
            Counted {
                exclusive,
                linked: *blob & LINKED != 0,
            }
        });
        let t = &mut by_reason[pick.reason().index()];
        t.items += 1;
        if counted.exclusive {
            t.exclusive_bytes += size;
        } else if census.digest(sha).is_some() {
            t.shared_bytes += size;
        }
        (pick, counted)
    })
    .collect();
    let mut files = Vec::new();
    for &links in &pick_links {
        for link in census.links_at(links) {
            let blob = &mut blobs[link.sha as usize];
            if *blob & (OUTSIDE | FREED) != 0 {
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
                *blob |= FREED;
                files.push(PlannedFile {
                    path,
                    sha256: Some(sha),
                    size: meta.len(),
                    reason: Reason::Unlinked,
                });
            }
        }
    }
    Ok(Planned {
        picks,
        by_reason,
        files,
        usage,
    })
}

/// Bits of a blob's byte in the accounting of [`plan_items`]: referenced by something
/// not planned; linked by a manifest; counted as freed by a pick already.
const OUTSIDE: u8 = 1;
const LINKED: u8 = 2;
const FREED: u8 = 4;

/// The number of [`Reason`]s.
const REASONS: usize = Reason::ALL.len();

/// Items, files and bytes of each reason that has any, in order: the items'
/// (`by_reason`) and `files`'.
fn totals(
    mut by_reason: [ReasonTotal; REASONS],
    files: &[PlannedFile],
) -> Vec<(Reason, ReasonTotal)> {
    for f in files {
        let t = &mut by_reason[f.reason.index()];
        t.files += 1;
        t.exclusive_bytes += f.size;
    }
    (Reason::ALL.into_iter())
        .zip(by_reason)
        .filter(|(_, t)| t.items > 0 || t.files > 0)
        .collect()
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
    store: &BlobStore,
    census: &Census,
    on_disk: &[[u8; 32]],
    policy: &GcPolicy,
    out: &mut Vec<PlannedFile>,
) -> Result<()> {
    // Both lists ascend: a merge join. (Blobs the plan frees are referenced, so they are
    // never orphans as well.)
    let mut known = census.digests().iter().peekable();
    let unknown: Vec<&[u8; 32]> = (on_disk.iter())
        .filter(|digest| {
            while known.next_if(|k| k < digest).is_some() {}
            known.peek() != Some(digest)
        })
        .collect();
    // Each looked at on disk, on every core that is free: tens of thousands after a big
    // write failed, one `stat` each. (Of several that fail, any may be the one reported.)
    let found: Vec<Option<PlannedFile>> = (unknown.into_par_iter())
        .map(|digest| {
            let sha = hex(digest);
            let path = store.path(&sha)?;
            let Some(meta) = metadata_if_present(&path)? else {
                return Ok(None); // gone since it was listed
            };
            let orphan = PlannedFile {
                path,
                sha256: Some(sha),
                size: meta.len(),
                reason: Reason::Orphan,
            };
            Ok((meta.is_file() && old_enough(&meta, policy.grace)).then_some(orphan))
        })
        .collect::<Result<_>>()?;
    out.extend(found.into_iter().flatten());
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
