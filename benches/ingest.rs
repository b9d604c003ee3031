//! Ingest benchmark of the cache core: bulk `Cache::ingest` (one transaction, one file
//! system sync) and one-by-one `Cache::put_bytes`, on the workload of the Python peer's
//! benchmark (`cachedir_bench.py`): per item a URI, 2 params, 3 typed attributes and a
//! 64-byte file. It reports; it never asserts.
//!
//! Environment:
//! - `CACHET_BENCH_SIZES`   item counts, default `10000,100000,1000000`
//! - `CACHET_BENCH_DIR`     parent of the scratch caches, default the system temp dir
//! - `CACHET_BENCH_MODES`   any of `bulk,put,bulk-nosync,put-nosync`, default `bulk,put`
//! - `CACHET_BENCH_PUT_CAP` seconds one one-by-one run may take, default 300; a run
//!   stopped by it is reported as partial, with the per-item cost where it stopped.
//!
//! Durability stays on (`CacheOpts::default()`, sync = true) unless a mode says `nosync`.
//! The payload is 64 bytes unique per item (the peer writes the same 64 bytes every
//! time, which cachet would store once: content addressing dedups it).
//! Columns: `commit s` is the time after the last item (bulk: commit + file system sync);
//! `reg MiB` is the registry after close, `wal MiB` its WAL just before close.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cachet::{AttrValue, Cache, CacheOpts, IngestContent, IngestItem, NewItem};
use serde_json::json;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Per-item timing slices in a run: 1% of its size each.
const SLICES: usize = 100;

fn new_item(i: usize) -> NewItem {
    let organism = if i % 2 == 1 { "human" } else { "mouse" };
    NewItem::new(format!("https://example.org/data/file{i}.tsv"))
        .params(json!({"release": i % 7, "organism": organism}))
        .attr("n", AttrValue::Int(i as i64))
        .attr("score", AttrValue::Float(i as f64 / 3.0))
        .attr("group", AttrValue::Text(format!("g{}", i % 100)))
}

fn payload(i: usize) -> Vec<u8> {
    let text = format!("item {i} of the cachet ingest benchmark");
    format!("{text:<63}\n").into_bytes()
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Bulk,
    Put,
}

/// One measured run.
struct Run {
    label: String,
    n: usize,
    done: usize,
    secs: f64,
    /// Seconds from the last item's progress call to the end (commit + sync for bulk).
    tail_secs: f64,
    /// Seconds to reach the end of each completed 1% slice.
    marks: Vec<f64>,
    partial: bool,
    registry: u64,
    wal: u64,
    blob_files: u64,
    blob_bytes: u64,
    blob_alloc: u64,
}

impl Run {
    fn slice_us(&self, k: usize) -> f64 {
        let slice = (self.n / SLICES).max(1) as f64;
        let start = if k == 0 { 0.0 } else { self.marks[k - 1] };
        (self.marks[k] - start) * 1e6 / slice
    }
}

fn measure(dir: &Path, mode: Mode, sync: bool, n: usize, cap: Duration) -> BoxResult<Run> {
    let scratch = tempfile::Builder::new()
        .prefix("cachet-bench-")
        .tempdir_in(dir)?;
    let root = scratch.path().join("cache");
    let opts = CacheOpts {
        sync,
        ..CacheOpts::default()
    };
    let cache = Cache::open_with(&root, opts)?;
    let slice = (n / SLICES).max(1);
    let mut marks = Vec::with_capacity(SLICES);
    let mut done = 0;
    let mut partial = false;
    let t0 = Instant::now();
    let mut last = t0;
    match mode {
        Mode::Bulk => {
            let items = (0..n).map(|i| {
                Ok(IngestItem {
                    item: new_item(i),
                    content: IngestContent::Bytes(payload(i)),
                })
            });
            let mut progress = |k: u64| {
                if (k as usize).is_multiple_of(slice) {
                    last = Instant::now();
                    marks.push((last - t0).as_secs_f64());
                }
            };
            done = cache.ingest(items, &mut progress)?.len();
        }
        Mode::Put => {
            for i in 0..n {
                cache.put_bytes(&new_item(i), &payload(i))?;
                done += 1;
                if done.is_multiple_of(slice) {
                    last = Instant::now();
                    marks.push((last - t0).as_secs_f64());
                    if last - t0 > cap && done < n {
                        partial = true;
                        break;
                    }
                }
            }
        }
    }
    let end = Instant::now();
    let size = |p: PathBuf| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    // The WAL as left by the run (closing the last connection checkpoints and removes it).
    let wal = size(root.join("registry.sqlite-wal"));
    drop(cache);
    let (blob_files, blob_bytes, blob_alloc) = tree_size(&root.join("blobs-v1"))?;
    let label = match (mode, sync) {
        (Mode::Bulk, true) => "bulk ingest()",
        (Mode::Bulk, false) => "bulk ingest() sync=false",
        (Mode::Put, true) => "one-by-one put_bytes()",
        (Mode::Put, false) => "one-by-one put_bytes() sync=false",
    };
    Ok(Run {
        label: label.to_string(),
        n,
        done,
        secs: (end - t0).as_secs_f64(),
        tail_secs: (end - last).as_secs_f64(),
        marks,
        partial,
        registry: size(root.join("registry.sqlite")),
        wal,
        blob_files,
        blob_bytes,
        blob_alloc,
    })
}

/// Files, apparent bytes and allocated bytes (blocks) under `dir`.
fn tree_size(dir: &Path) -> BoxResult<(u64, u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let (mut files, mut bytes, mut alloc) = (0, 0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            alloc += meta.blocks() * 512;
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                files += 1;
                bytes += meta.len();
            }
        }
    }
    Ok((files, bytes, alloc))
}

/// The file system type and source of the mount holding `dir` (from /proc/self/mounts).
fn file_system(dir: &Path) -> String {
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 2 && dir.starts_with(f[1])).then(|| (f[1].len(), f[2], f[0]))
        })
        .max_by_key(|(len, _, _)| *len)
        .map_or("unknown".into(), |(_, ty, src)| format!("{ty} ({src})"))
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

fn print_table(runs: &[Run]) {
    let widths = [8, 8, 9, 9, 8, 9, 9, 6, 8, 9, 8, 10, 19];
    let names = "N|done|total s|items/s|µs/item|first1%µs|last1%µs|last/1|commit s|reg MiB|\
                 wal MiB|blob files|blob MiB app/alloc";
    let head: String = names
        .split('|')
        .zip(widths)
        .map(|(c, w)| format!(" {c:>w$}"))
        .collect();
    println!("\n{:<33}{head}", "mode");
    println!("{}", "-".repeat(33 + head.chars().count()));
    for r in runs {
        let full = r.marks.len();
        let (first, lastc) = if full > 0 {
            (r.slice_us(0), r.slice_us(full - 1))
        } else {
            (f64::NAN, f64::NAN)
        };
        println!(
            "{:<33} {:>8} {:>8} {:>9.2} {:>9.0} {:>8.1} {:>9.1} {:>9.1} {:>6.2} {:>8.3} {:>9.1} {:>8.1} {:>10} {:>19}",
            r.label,
            r.n,
            r.done,
            r.secs,
            r.done as f64 / r.secs,
            r.secs * 1e6 / r.done.max(1) as f64,
            first,
            lastc,
            lastc / first,
            r.tail_secs,
            mib(r.registry),
            mib(r.wal),
            r.blob_files,
            format!("{:.1}/{:.0}", mib(r.blob_bytes), mib(r.blob_alloc)),
        );
    }
    println!("\nper-item cost per 10% of each run (µs/item, mean of the 1% slices in it):");
    for r in runs {
        let deciles: Vec<String> = (0..r.marks.len() / 10)
            .map(|d| {
                let mean = (d * 10..d * 10 + 10).map(|k| r.slice_us(k)).sum::<f64>() / 10.0;
                format!("{mean:.1}")
            })
            .collect();
        let (done, n, secs) = (r.done, r.n, r.secs);
        let note = match r.partial {
            true => format!("  PARTIAL: {done}/{n} when the time cap hit at {secs:.0} s"),
            false => String::new(),
        };
        println!("  {:<33} N={:<8} {}{note}", r.label, r.n, deciles.join(" "));
    }
}

fn main() -> BoxResult<()> {
    // `cargo bench` passes `--bench`; there are no other arguments to read.
    let var = |k: &str| env::var(k).ok().filter(|v| !v.trim().is_empty());
    let sizes: Vec<usize> = var("CACHET_BENCH_SIZES")
        .unwrap_or_else(|| "10000,100000,1000000".into())
        .split(',')
        .map(|s| s.trim().replace('_', "").parse())
        .collect::<Result<_, _>>()?;
    let dir = var("CACHET_BENCH_DIR").map_or_else(env::temp_dir, PathBuf::from);
    let modes: Vec<(Mode, bool)> = var("CACHET_BENCH_MODES")
        .unwrap_or_else(|| "bulk,put".into())
        .split(',')
        .map(|m| match m.trim() {
            "bulk" => Ok((Mode::Bulk, true)),
            "put" => Ok((Mode::Put, true)),
            "bulk-nosync" => Ok((Mode::Bulk, false)),
            "put-nosync" => Ok((Mode::Put, false)),
            other => Err(format!("unknown mode '{other}'")),
        })
        .collect::<Result<_, _>>()?;
    let cap = Duration::from_secs_f64(
        var("CACHET_BENCH_PUT_CAP").map_or(Ok(300.0), |s| s.parse::<f64>())?,
    );
    println!(
        "cachet ingest benchmark: caches under {} on {}; {} CPUs; sizes {sizes:?}; \
         one-by-one cap {:.0} s",
        dir.display(),
        file_system(&dir),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cap.as_secs_f64()
    );
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "workload: uri, 2 params, 3 attrs (int, float, text), 64 B unique payload per item; \
         load average at start: {}",
        load.join(" ")
    );
    let mut runs = Vec::new();
    for &n in &sizes {
        for &(mode, sync) in &modes {
            let run = measure(&dir, mode, sync, n, cap)?;
            println!(
                "  {:<33} N={n:<8} {:>8.2} s  {:>9.0} items/s{}",
                run.label,
                run.secs,
                run.done as f64 / run.secs,
                if run.partial { "  (partial)" } else { "" }
            );
            runs.push(run);
        }
    }
    print_table(&runs);
    Ok(())
}
