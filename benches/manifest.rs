//! Manifest benchmark: write (`create_from_entries`), read (iterate every entry with
//! `Entries`) and verify (`manifest::verify`) a manifest of a million file entries.
//! Reports entries/s and seconds, the link rows registered and the manifest blob size;
//! asserts nothing.
//!
//! Two runs: `shared`, where the entries cycle over a smaller set of distinct blobs (each
//! entry with its own key), and `unique`, where every entry has its own blob.
//!
//!     cargo bench --bench manifest
//!
//! Settings (environment):
//! - `CACHET_BENCH_ENTRIES`: entries per manifest (default 1000000)
//! - `CACHET_BENCH_BLOBS`: distinct blobs of the `shared` run (default 100000)
//! - `CACHET_BENCH_UNIQUE`: `0` skips the `unique` run (default 1)
//! - `CACHET_BENCH_DIR`: where the temporary caches go (e.g. a tmpfs; default: the
//!   system temp dir)

use std::path::Path;
use std::time::Instant;

use cachet::blob::sync_filesystem;
use cachet::manifest::{self, Entries, Entry, FileEntry, ReadOpts};
use cachet::{Cache, NewItem};

fn main() {
    let entries: u64 = env_or("CACHET_BENCH_ENTRIES", 1_000_000);
    let blobs: u64 = env_or("CACHET_BENCH_BLOBS", 100_000);
    let unique = env_or::<u8>("CACHET_BENCH_UNIQUE", 1) != 0;
    let base = std::env::var_os("CACHET_BENCH_DIR");
    let tmp = match &base {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("temp dir");
    println!(
        "manifest bench: {entries} entries; shared run over {blobs} blobs{}; in {}",
        if unique { ", unique run" } else { "" },
        base.map_or("the system temp dir".into(), |d| d
            .to_string_lossy()
            .into_owned())
    );
    println!("load: {}", load());
    println!();
    println!(
        "{:<7} {:<14} {:>10} {:>9} {:>12} {:>10}  notes",
        "run", "step", "count", "seconds", "per second", "VmHWM MiB"
    );
    run(
        &tmp.path().join("shared"),
        "shared",
        entries,
        blobs.min(entries),
    );
    if unique {
        run(&tmp.path().join("unique"), "unique", entries, entries);
    }
    println!();
    println!("load: {}", load());
}

/// One manifest of `entries` entries over `blobs` distinct blobs, in a fresh cache.
fn run(root: &Path, name: &str, entries: u64, blobs: u64) {
    // Default options: the manifest itself is written with fsync, as a user's would be.
    let cache = Cache::open(root).expect("open cache");

    let t = Instant::now();
    let shas = make_blobs(&cache, blobs);
    let made = t.elapsed().as_secs_f64();
    let t = Instant::now();
    sync_filesystem(root).expect("sync");
    let note = format!("then syncfs {:.2} s", t.elapsed().as_secs_f64());
    row(name, "make blobs", blobs, made, &note);

    let lines = (0..entries).map(|i| {
        let (sha, size) = &shas[(i % blobs) as usize];
        Ok(Entry::File(FileEntry {
            key: format!("data/{:03}/{i:08}.bin", i % 1000),
            size_bytes: Some(*size),
            sha256: Some(sha.clone()),
            ..FileEntry::default()
        }))
    });
    let new = NewItem::new(format!("bench://manifest/{name}"));
    let t = Instant::now();
    let built =
        manifest::create_from_entries(&cache, &new, lines, "dataset").expect("create_from_entries");
    let secs = t.elapsed().as_secs_f64();
    let links: i64 = cache
        .registry()
        .db()
        .conn
        .query_row(
            "SELECT count(*) FROM links WHERE item_id = ?1",
            [built.item.id],
            |r| r.get(0),
        )
        .expect("count links");
    let size = built.item.size.unwrap_or(0);
    let note = format!(
        "{links} link rows, blob {:.1} MiB ({:.0} B/entry)",
        mib(size),
        size as f64 / entries.max(1) as f64
    );
    row(name, "write", built.entries, secs, &note);

    let sha = manifest::manifest_sha(&built.item).expect("manifest sha");
    for pass in ["read", "read again"] {
        let t = Instant::now();
        let mut n = 0u64;
        let mut bytes = 0u64;
        for located in Entries::open(&cache, sha, ReadOpts::default()).expect("open entries") {
            let located = located.expect("entry");
            bytes += located.entry.size().unwrap_or(0);
            n += 1;
        }
        let note = format!("{:.1} MiB of content listed", mib(bytes));
        row(name, pass, n, t.elapsed().as_secs_f64(), &note);
    }

    let t = Instant::now();
    let report = manifest::verify(&cache, &built.item, false).expect("verify");
    let secs = t.elapsed().as_secs_f64();
    let note = format!(
        "{} blobs rehashed ({:.1} MiB), {} problems",
        report.blobs,
        mib(report.bytes),
        report.problems.len()
    );
    row(name, "verify", report.entries, secs, &note);
}

/// Stores `n` distinct small blobs (without a sync each) and returns digests and sizes.
fn make_blobs(cache: &Cache, n: u64) -> Vec<(String, u64)> {
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let body = format!("{i:016x} bench blob for a manifest entry\n{}\n", i * 7919);
        let sealed = cache
            .blobs()
            .stage_bytes(body.as_bytes(), false)
            .expect("stage");
        let content = sealed.content.clone();
        cache.blobs().adopt(sealed, false).expect("adopt");
        out.push((content.sha256, content.size));
    }
    out
}

fn row(run: &str, step: &str, count: u64, secs: f64, note: &str) {
    println!(
        "{run:<7} {step:<14} {count:>10} {secs:>9.2} {:>12.0} {:>10.0}  {note}",
        count as f64 / secs.max(1e-9),
        vm_hwm_mib()
    );
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 20) as f64
}

/// Peak resident memory of this process so far.
fn vm_hwm_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// The 1, 5 and 15 minute load averages (the machine may be shared).
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
