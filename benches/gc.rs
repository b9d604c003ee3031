//! Cleanup benchmark: `gc::plan` for each policy alone, all combined and the default (what
//! `cachet gc` runs) over a registry of a million items; the combined plan's items all made
//! and serialised to JSON (a plan makes them when read); `gc::apply` of the trash (~10% of
//! the items, with their blobs); and `verify_all` throughput against coreutils `sha256sum`
//! on the same blob files.
//! Reports; asserts nothing.
//!
//! The registry is built with `Cache::ingest` (64-byte distinct contents, 3 attributes, a
//! param, several versions per key), then statuses are mixed with direct SQL: 10% TRASH,
//! 3% FAILED, 1% stale WRITE (content dropped, so their blobs are orphans), 0.5% pinned,
//! `accessed` spread over 90 days (1 in 7 never accessed); plus a pinned and an unpinned
//! manifest of 10k links each.
//!
//!     cargo bench --bench gc
//!
//! Settings (environment):
//! - `CACHET_BENCH_ITEMS`: items in the registry (default 1000000)
//! - `CACHET_BENCH_VERSIONS`: versions per key (default 4)
//! - `CACHET_BENCH_VERIFY_MIB`: MiB of larger blobs for `verify_all` (default 384)
//! - `CACHET_BENCH_VERIFY_BLOB_MIB`: size of each of those blobs (default 8)
//! - `CACHET_BENCH_RUNS`: runs per plan, reporting the first and median wall time and the
//!   median CPU time, user and system on every thread (default 3; one when the first
//!   takes over 5 s)
//! - `CACHET_BENCH_DIR`: where the temporary caches go (e.g. a tmpfs)
//! - `CACHET_BENCH_KEEP`: set to keep the caches afterwards (for `EXPLAIN QUERY PLAN`)
//! - `CACHET_BENCH_REUSE`: a directory for the registry, built there on the first run and
//!   reused as it is on later ones (plans then run as of the time it was built, so they
//!   stay comparable across runs and builds; the `gc::apply` step, which would change it,
//!   is skipped)
//! - `CACHET_BENCH_ONLY`: plan only the policies whose names contain one of these
//!   comma-separated words (e.g. `combined` or `trash,orphans`)
//! - `CACHET_BENCH_DUMP`: a file to write every plan to in a plain, deterministic text form,
//!   so the plans of two builds can be compared byte for byte

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use cachet::blob::sync_filesystem;
use cachet::gc::{self, GcPlan, GcPolicy, Reason};
use cachet::manifest::{self, Entry, FileEntry};
use cachet::{AttrValue, Cache, CacheOpts, IngestContent, IngestItem, NewItem};
use chrono::{TimeZone, Utc};

#[path = "gc/verify.rs"]
mod verify;

const DAY_MS: i64 = 86_400_000;

/// The file in a reused registry's directory recording when it was built (milliseconds).
const BUILT_AT: &str = "bench-built-at";

fn main() {
    let items: u64 = env_or("CACHET_BENCH_ITEMS", 1_000_000);
    let versions: u64 = env_or::<u64>("CACHET_BENCH_VERSIONS", 4).max(1);
    let verify_mib: u64 = env_or("CACHET_BENCH_VERIFY_MIB", 384);
    let blob_mib: u64 = env_or::<u64>("CACHET_BENCH_VERIFY_BLOB_MIB", 8).max(1);
    let runs: usize = env_or::<usize>("CACHET_BENCH_RUNS", 3).max(1);
    let base = std::env::var_os("CACHET_BENCH_DIR");
    let tmp = match &base {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("temp dir");
    let where_ = base.map_or("the system temp dir".into(), |d| {
        d.to_string_lossy().into_owned()
    });
    println!("gc bench: {items} items, {versions} versions per key, in {where_}");
    println!("load: {}\n", load());

    let reuse = std::env::var_os("CACHET_BENCH_REUSE").map(std::path::PathBuf::from);
    let root = reuse.clone().unwrap_or_else(|| tmp.path().join("registry"));
    let opts = CacheOpts {
        sync: false,
        ..CacheOpts::default()
    };
    let built_at = root.join(BUILT_AT);
    let now = match std::fs::read_to_string(&built_at) {
        Ok(ms) if reuse.is_some() => {
            let ms: i64 = ms.trim().parse().expect("build time");
            println!("reusing the registry built at {ms} ms");
            Utc.timestamp_millis_opt(ms).single().expect("build time")
        }
        _ => {
            if root.exists() {
                std::fs::remove_dir_all(&root).expect("remove a half-built registry");
            }
            let cache = Cache::open_with(&root, opts.clone()).expect("open cache");
            let now = Utc::now();
            build(&cache, items, versions, now.timestamp_millis());
            drop(cache);
            sync_filesystem(&root).expect("sync");
            std::fs::write(&built_at, now.timestamp_millis().to_string()).expect("build time");
            now
        }
    };
    // Plans of a reused registry run as of its build, so they do not drift with the clock.
    let plan_now = || if reuse.is_some() { now } else { Utc::now() };
    let cache = Cache::open_with(&root, opts).expect("open cache");
    let stored = cache.usage_totals().expect("usage").stored_bytes;
    println!(
        "stored: {:.1} MiB in distinct blobs; load: {}\n",
        mib(stored),
        load()
    );

    let none = GcPolicy {
        grace: Duration::ZERO,
        ..GcPolicy::none()
    };
    let all = GcPolicy {
        trash: Some(Duration::ZERO),
        stale: Some(Duration::from_secs(86_400)),
        keep_last: Some(2),
        max_age: Some(Duration::from_secs(30 * 86_400)),
        max_size: Some(stored / 10 * 8),
        orphans: true,
        grace: Duration::ZERO,
    };
    let only = |f: fn(&mut GcPolicy, &GcPolicy)| {
        let mut p = none.clone();
        f(&mut p, &all);
        p
    };
    let policies = [
        ("trash", only(|p, a| p.trash = a.trash)),
        ("stale 1d", only(|p, a| p.stale = a.stale)),
        ("keep-last 2", only(|p, a| p.keep_last = a.keep_last)),
        ("max-age 30d", only(|p, a| p.max_age = a.max_age)),
        ("max-size 80%", only(|p, a| p.max_size = a.max_size)),
        ("orphans", only(|p, _| p.orphans = true)),
        ("all combined", all.clone()),
        // What `cachet gc` runs without options: trash, stale and failed older than a
        // day, orphans older than an hour.
        ("default", GcPolicy::default()),
    ];
    println!(
        "{:<14} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10}",
        "gc::plan", "first s", "median s", "cpu s", "items", "files", "freed MiB"
    );
    let dump_to = std::env::var_os("CACHET_BENCH_DUMP");
    let mut dump = String::new();
    let only = std::env::var("CACHET_BENCH_ONLY").unwrap_or_default();
    let chosen = |name: &str| only.is_empty() || only.split(',').any(|w| name.contains(w.trim()));
    let mut read_out = None;
    for (name, policy) in policies.iter().filter(|(name, _)| chosen(name)) {
        let (mut times, mut cpu) = (Vec::new(), Vec::new());
        let mut plan = None;
        while times.len() < runs && times.iter().sum::<f64>() < 5.0 {
            let (t, c) = (Instant::now(), cpu_seconds());
            let planned = gc::plan(&cache, policy, plan_now()).expect("plan");
            times.push(t.elapsed().as_secs_f64());
            cpu.push(cpu_seconds() - c);
            // The previous run's plan is dropped here, outside the timed span.
            plan = Some(planned);
        }
        let plan = plan.expect("planned once");
        if name.contains("combined") {
            // Every item made and written once, as `gc --dry-run --json` does: what a
            // plan whose items are made on demand leaves to its readers.
            let t = Instant::now();
            serde_json::to_writer(std::io::sink(), &plan).expect("serialise");
            read_out = Some(t.elapsed().as_secs_f64());
        }
        if dump_to.is_some() {
            write_plan(&mut dump, name, &plan, &root);
        }
        let first = times[0];
        times.sort_by(f64::total_cmp);
        cpu.sort_by(f64::total_cmp);
        println!(
            "{name:<14} {first:>9.3} {:>9.3} {:>9.3} {:>9} {:>8} {:>10.1}",
            times[times.len() / 2],
            cpu[cpu.len() / 2],
            plan.items.len(),
            plan.files.len(),
            mib(plan.exclusive_bytes())
        );
    }
    if let Some(secs) = read_out {
        println!("all combined, every item made and serialised to JSON: {secs:.3} s");
    }
    println!("load: {}\n", load());
    if let Some(file) = dump_to {
        std::fs::write(&file, dump).expect("write the plans");
        println!("plans written to {}\n", Path::new(&file).display());
    }

    if reuse.is_some() {
        println!("gc::apply skipped: the registry is reused\n");
    } else {
        apply_trash(&cache, &policies[0].1);
    }
    drop(cache);

    if verify_mib >= blob_mib {
        verify::run(&tmp.path().join("verify"), verify_mib / blob_mib, blob_mib);
        println!("load: {}", load());
    }
    if std::env::var_os("CACHET_BENCH_KEEP").is_some() {
        println!("kept: {}", tmp.keep().display());
    }
}

/// Applies the trash plan and reports rows and blobs per second.
fn apply_trash(cache: &Cache, trash: &GcPolicy) {
    let plan = gc::plan(cache, trash, Utc::now()).expect("plan trash");
    let planned = plan.items.len() as u64;
    let t = Instant::now();
    let mut rows_done = None;
    let mut progress = |p: gc::GcProgress| {
        if p.done >= planned && rows_done.is_none() {
            rows_done = Some(t.elapsed().as_secs_f64());
        }
    };
    let report = gc::apply(cache, &plan, &mut progress, None).expect("apply");
    let secs = t.elapsed().as_secs_f64();
    let rows = rows_done.unwrap_or(secs);
    println!(
        "gc::apply (trash plan): {secs:.2} s in all; load: {}",
        load()
    );
    println!(
        "  rows:  {:>8} items removed in {rows:.2} s = {:.0} items/s",
        report.items_removed,
        report.items_removed as f64 / rows.max(1e-9)
    );
    println!(
        "  blobs: {:>8} blobs deleted in {:.2} s = {:.0} blobs/s ({:.1} MiB freed, {} skipped)\n",
        report.blobs_deleted,
        secs - rows,
        report.blobs_deleted as f64 / (secs - rows).max(1e-9),
        mib(report.bytes_freed),
        report.skipped.len()
    );
}

/// Appends `plan` to `out` in a plain text form: every item and file with all it says,
/// then the totals. Orphans and temp files are sorted by path, since directory listing
/// order is the filesystem's; everything else is in plan order.
fn write_plan(out: &mut String, name: &str, plan: &GcPlan, root: &Path) {
    let _ = writeln!(
        out,
        "== {name}: {} items, {} files, usage {:?}",
        plan.items.len(),
        plan.files.len(),
        plan.usage
    );
    for i in plan.items.iter() {
        let _ = writeln!(
            out,
            "item {} {:?} {:?} {} v{} {} size={} sha={} exclusive={} linked={} updated={} accessed={:?} | {}",
            i.id,
            i.reason,
            i.status,
            i.key,
            i.version,
            i.uri,
            i.size,
            i.sha256.map_or("-".to_string(), |d| d.to_string()),
            i.exclusive,
            i.linked,
            i.updated_ms,
            i.accessed_ms,
            i.detail
        );
    }
    let listed = |r: Reason| matches!(r, Reason::Orphan | Reason::TempFile);
    let mut files: Vec<_> = plan.files.iter().filter(|f| !listed(f.reason)).collect();
    let mut walked: Vec<_> = plan.files.iter().filter(|f| listed(f.reason)).collect();
    walked.sort_by(|a, b| (a.reason, &a.path).cmp(&(b.reason, &b.path)));
    files.extend(walked);
    for f in files {
        let _ = writeln!(
            out,
            "file {:?} {} sha={} size={}",
            f.reason,
            f.path.strip_prefix(root).unwrap_or(&f.path).display(),
            f.sha256.as_deref().unwrap_or("-"),
            f.size
        );
    }
    for (reason, t) in &plan.totals {
        let _ = writeln!(
            out,
            "total {reason:?} items={} files={} exclusive={} shared={}",
            t.items, t.files, t.exclusive_bytes, t.shared_bytes
        );
    }
}

/// Ingests the registry, then mixes statuses and times with direct SQL.
fn build(cache: &Cache, items: u64, versions: u64, now: i64) {
    let keys = (items / versions).max(1);
    let splits = ["train", "val", "test"];
    let new_items = (0..items).map(|i| {
        let k = i % keys;
        let mut body = format!("{i:016x} item {k} of the gc benchmark ");
        body.extend(std::iter::repeat_n('.', 64 - body.len().min(64)));
        let item = NewItem::new(format!("bench://gc/key-{k:07}"))
            .params(serde_json::json!({ "shard": k % 16 }))
            .attr("split", AttrValue::Text(splits[(k % 3) as usize].into()))
            .attr("epoch", AttrValue::Int((i / keys) as i64))
            .attr("score", AttrValue::Float((i % 1000) as f64 / 1000.0));
        Ok(IngestItem {
            item,
            content: IngestContent::Bytes(body.into_bytes()),
        })
    });
    let t = Instant::now();
    let ids = cache.ingest(new_items, &mut |_| {}).expect("ingest");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "ingest: {} items in {secs:.1} s = {:.0} items/s",
        ids.len(),
        ids.len() as f64 / secs
    );
    let t0 = now - 91 * DAY_MS;
    let h = "((id * 2654435761) % 1000)";
    let sql = format!(
        "BEGIN;
         UPDATE items SET created = {t0} + id, updated = {t0} + id,
             accessed = CASE WHEN id % 7 = 0 THEN NULL ELSE {now} - (id * 48271) % (90 * {DAY_MS}) END;
         UPDATE items SET status = 'TRASH', trashed_from = 'READY',
             updated = {now} - (id * 16807) % (30 * {DAY_MS}) WHERE {h} < 100;
         UPDATE items SET status = 'FAILED', note = 'bench: simulated failure',
             updated = {now} - (id * 16807) % (90 * {DAY_MS}) WHERE {h} >= 100 AND {h} < 130;
         UPDATE items SET status = 'WRITE', sha256 = NULL, size = NULL, lease_pid = 1,
             lease_host = 'bench', lease_expires = {now} - (id * 16807) % (10 * {DAY_MS})
             WHERE {h} >= 130 AND {h} < 140;
         UPDATE items SET pinned = 1 WHERE {h} >= 140 AND {h} < 145;
         COMMIT;"
    );
    let t = Instant::now();
    let conn = cache.registry().db().conn;
    conn.execute_batch(&sql).expect("mix statuses");
    for (name, pinned, band) in [("pinned", true, 500), ("unpinned", false, 600)] {
        let mut st = conn
            .prepare(&format!(
                "SELECT id, sha256, size FROM items WHERE status = 'READY' AND {h} >= {band} AND {h} < {band} + 10 LIMIT 10000"
            ))
            .expect("select linked");
        let entries: Vec<_> = st
            .query_map([], |r| {
                Ok(Entry::File(FileEntry {
                    key: format!("files/{}.bin", r.get::<_, i64>(0)?),
                    sha256: Some(r.get(1)?),
                    size_bytes: Some(r.get::<_, i64>(2)? as u64),
                    ..FileEntry::default()
                }))
            })
            .and_then(|rows| rows.collect::<Result<_, _>>())
            .expect("read linked");
        let new = NewItem::new(format!("bench://gc/manifest-{name}"));
        let built =
            manifest::create_from_entries(cache, &new, entries.into_iter().map(Ok), "dataset")
                .expect("manifest");
        cache.pin(built.item.id, pinned).expect("pin");
    }
    let mut st = conn
        .prepare("SELECT status, count(*), sum(pinned) FROM items GROUP BY status ORDER BY status")
        .expect("count");
    let counts: Vec<String> = st
        .query_map([], |r| {
            let (s, n, p): (String, i64, i64) = (r.get(0)?, r.get(1)?, r.get(2)?);
            Ok(format!("{s} {n} ({p} pinned)"))
        })
        .and_then(|rows| rows.collect::<Result<_, _>>())
        .expect("counts");
    println!(
        "mixed in {:.1} s: {}",
        t.elapsed().as_secs_f64(),
        counts.join(", ")
    );
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// The 1, 5 and 15 minute load averages (the machine may be shared).
/// CPU time this process has used so far, user and system, on every thread: a measure
/// of the work done that a busy machine disturbs less than the wall clock. (NaN where
/// there is no `getrusage`.)
#[cfg(not(unix))]
fn cpu_seconds() -> f64 {
    f64::NAN
}

#[cfg(unix)]
fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given, which is zeroed and the right type.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
