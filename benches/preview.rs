//! Preview benchmark: the first screen (50 members, or 50 lines) of a large tar.gz and of
//! a zip with many members. Reports wall time and peak memory (VmHWM); asserts nothing.
//!
//! Inputs are generated into a temp dir. `CACHET_BENCH_PREVIEW_GIB` scales the tar.gz
//! (default 1.0; e.g. 0.1 for a quick run); `CACHET_BENCH_PREVIEW_ZIP_MEMBERS` sets the zip
//! member count (default 100000). Each measurement runs in a fresh child process so its
//! peak memory is the preview's, not the generator's.
//!
//!     cargo bench --bench preview

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cachet::preview::{self, Body, PreviewOpts};

const MIB: usize = 1024 * 1024;
const RUNS: usize = 5;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--measure") {
        child(
            &args[i + 1],
            Path::new(&args[i + 2]),
            args.get(i + 3).map(String::as_str),
        );
        return;
    }
    let gib: f64 = env_or("CACHET_BENCH_PREVIEW_GIB", 1.0);
    let zip_members: usize = env_or("CACHET_BENCH_PREVIEW_ZIP_MEMBERS", 100_000);
    let dir = tempfile::tempdir().expect("temp dir");

    let t = Instant::now();
    let tgz = dir.path().join("big.tar.gz");
    let (members, raw) = make_tar_gz(&tgz, gib);
    let size = std::fs::metadata(&tgz).map(|m| m.len()).unwrap_or(0);
    println!(
        "generated {}: {members} members, {:.2} GiB uncompressed, {:.0} MiB compressed, in {:.1?}",
        tgz.file_name().unwrap_or_default().to_string_lossy(),
        raw as f64 / (1u64 << 30) as f64,
        size as f64 / MIB as f64,
        t.elapsed()
    );
    let t = Instant::now();
    let zip = dir.path().join("many.zip");
    make_zip(&zip, zip_members);
    let size = std::fs::metadata(&zip).map(|m| m.len()).unwrap_or(0);
    println!(
        "generated {}: {zip_members} members, {:.1} MiB, in {:.1?}",
        zip.file_name().unwrap_or_default().to_string_lossy(),
        size as f64 / MIB as f64,
        t.elapsed()
    );
    println!();
    println!(
        "{:<44} {:>10} {:>10} {:>10}",
        "first screen", "first", "median", "VmHWM"
    );
    measure("baseline (process, no preview)", "none", &tgz, None);
    measure(
        "tar.gz: gunzip 50 MiB, no tar (decoder floor)",
        "gunzip",
        &tgz,
        None,
    );
    measure("tar.gz: list first 50 members", "list", &tgz, None);
    measure(
        "tar.gz: first 50 lines of member 0",
        "member",
        &tgz,
        Some("data/part-000000.txt"),
    );
    measure("zip: list first 50 members", "list", &zip, None);
    measure(
        "zip: first 50 lines of member 0",
        "member",
        &zip,
        Some("m/000000.json"),
    );
    let last = format!("m/{:06}.json", zip_members.saturating_sub(1));
    measure(
        "zip: first 50 lines of the last member",
        "member",
        &zip,
        Some(&last),
    );
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn opts() -> PreviewOpts {
    PreviewOpts {
        max_entries: 50,
        max_lines: 50,
        ..PreviewOpts::default()
    }
}

/// Runs one measurement in a child process and prints its report line.
fn measure(label: &str, what: &str, path: &Path, member: Option<&str>) {
    let exe = std::env::current_exe().expect("current exe");
    let mut cmd = Command::new(exe);
    cmd.arg("--measure").arg(what).arg(path);
    if let Some(m) = member {
        cmd.arg(m);
    }
    let out = cmd.output().expect("run child");
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{label:<44} {}", report.trim());
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Child side: run the preview `RUNS` times, print first and median time and VmHWM.
fn child(what: &str, path: &Path, member: Option<&str>) {
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let shown = match (what, member) {
            ("none", _) => 0,
            ("gunzip", _) => {
                let file = File::open(path).expect("open");
                let mut gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
                let mut buf = vec![0u8; 256 * 1024];
                let mut left = 50 * MIB;
                while left > 0 {
                    let n = std::io::Read::read(&mut gz, &mut buf[..left.min(256 * 1024)])
                        .expect("read");
                    if n == 0 {
                        break;
                    }
                    left -= n;
                }
                left
            }
            ("list", _) => match preview::open(path, None, &opts()).expect("open").body {
                Body::Members { members, .. } => members.len(),
                _ => panic!("not a listing"),
            },
            (_, Some(m)) => {
                let p = preview::member(path, None, m, &opts()).expect("member");
                assert!(p.error.is_none(), "{:?}", p.error);
                preview::render(&p).lines().count()
            }
            _ => panic!("member needed"),
        };
        times.push(t.elapsed());
        std::hint::black_box(shown);
    }
    let first = times[0];
    times.sort();
    let median = times[RUNS / 2];
    println!("{:>10} {:>10} {:>10}", ms(first), ms(median), vm_hwm());
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn vm_hwm() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "n/a".to_string())
}

/// Text that compresses like real logs (about 3:1 with fast gzip), from a small PRNG.
fn text_pool(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "cache", "blob", "digest", "item", "status", "ready", "error", "fetch", "size", "time",
        "worker", "queue", "retry", "sha256", "manifest", "shard", "tag", "remote", "local",
        "user", "request", "response", "ok", "warn", "debug", "value", "key", "index", "page",
    ];
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = Vec::with_capacity(len + 128);
    while out.len() < len {
        let r = next();
        let _ = write!(out, "{:08x} ", r & 0xffff_ffff);
        for i in 0..(4 + r % 8) {
            out.extend_from_slice(
                WORDS[((r >> (8 + i * 5)) % WORDS.len() as u64) as usize].as_bytes(),
            );
            out.push(b' ');
        }
        let _ = writeln!(out, "n={}", (r >> 40) % 100_000);
    }
    out.truncate(len);
    out
}

/// A tar.gz of 1 MiB text members totalling `gib` GiB, at gzip's fastest level.
fn make_tar_gz(path: &Path, gib: f64) -> (usize, u64) {
    let total = ((gib * (1u64 << 30) as f64) as u64).max(MIB as u64);
    let pool = text_pool(8 * MIB, 42);
    let file = BufWriter::with_capacity(MIB, File::create(path).expect("create tar.gz"));
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let mut written = 0u64;
    let mut i = 0usize;
    while written < total {
        let start = (i * 7919 * 13) % (pool.len() - MIB);
        let data = &pool[start..start + MIB];
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000 + i as u64);
        tar.append_data(&mut h, format!("data/part-{i:06}.txt"), data)
            .expect("append");
        written += MIB as u64;
        i += 1;
    }
    let gz = tar.into_inner().expect("finish tar");
    gz.finish().expect("finish gzip").flush().expect("flush");
    (i, written)
}

/// A zip of `n` small JSON members, deflated.
fn make_zip(path: &PathBuf, n: usize) {
    let file = BufWriter::with_capacity(MIB, File::create(path).expect("create zip"));
    let mut w = zip::ZipWriter::new(file);
    let o = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    for i in 0..n {
        w.start_file(format!("m/{i:06}.json"), o)
            .expect("start member");
        let _ = writeln!(
            w,
            "{{\"id\": {i}, \"name\": \"member {i}\", \"tags\": [\"a\", \"b\"], \"size\": {}}}",
            i * 37 % 1000
        );
    }
    w.finish().expect("finish zip").flush().expect("flush");
}
