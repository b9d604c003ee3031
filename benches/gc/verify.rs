//! The `verify_all` part of the cleanup benchmark: rehash a few hundred MiB of larger
//! blobs with `verify_all` (one thread, then all) and with coreutils `sha256sum` as a
//! subprocess over the same blob files, in the same run.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use cachet::blob::sync_filesystem;
use cachet::verify::{VerifyOpts, verify_all};
use cachet::{Cache, CacheOpts, IngestContent, IngestItem, NewItem};

use super::{load, mib};

/// `verify_all` on `count` blobs of `blob_mib` MiB versus `sha256sum` on the same files.
pub fn run(root: &Path, count: u64, blob_mib: u64) {
    let cache = Cache::open_with(
        root,
        CacheOpts {
            sync: false,
            ..CacheOpts::default()
        },
    )
    .expect("open verify cache");
    let len = (blob_mib << 20) as usize;
    let blobs = (0..count).map(|i| {
        let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (i + 1);
        let mut bytes = Vec::with_capacity(len);
        while bytes.len() < len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            bytes.extend_from_slice(&state.to_le_bytes());
        }
        Ok(IngestItem {
            item: NewItem::new(format!("bench://verify/{i}")),
            content: IngestContent::Bytes(bytes),
        })
    });
    let ids = cache
        .ingest(blobs, &mut |_| {})
        .expect("ingest verify blobs");
    sync_filesystem(root).expect("sync");
    let paths: Vec<_> = ids
        .iter()
        .map(|id| {
            let sha = cache.get(*id).expect("item").sha256.expect("sha");
            cache.blobs().path(&sha).expect("path")
        })
        .collect();
    let total = count * (blob_mib << 20);
    println!(
        "verify: {count} blobs of {blob_mib} MiB = {:.0} MiB (page cache warm); load: {}",
        mib(total),
        load()
    );
    println!("{:<28} {:>9} {:>9}", "", "seconds", "MB/s");
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    for pass in 0..2 {
        let t = Instant::now();
        let ok = Command::new("sha256sum")
            .args(&paths)
            .output()
            .is_ok_and(|o| o.status.success());
        let label = if ok {
            "sha256sum (1 process)"
        } else {
            "sha256sum FAILED"
        };
        report_mbs(label, pass, total, t.elapsed().as_secs_f64());
        for n in [1, threads] {
            let opts = VerifyOpts {
                threads: Some(n),
                ..VerifyOpts::default()
            };
            let t = Instant::now();
            let r = verify_all(&cache, &opts, &|_| {}, None).expect("verify_all");
            let label = format!(
                "verify_all, {n} thread(s){}",
                if r.bad.is_empty() { "" } else { " BAD" }
            );
            report_mbs(&label, pass, r.bytes, t.elapsed().as_secs_f64());
        }
    }
}

fn report_mbs(label: &str, pass: usize, bytes: u64, secs: f64) {
    let label = format!("{label} #{}", pass + 1);
    println!(
        "{label:<28} {secs:>9.3} {:>9.0}",
        bytes as f64 / 1e6 / secs.max(1e-9)
    );
}
