//! A realistic demo cache: items in every status with typed attributes and params,
//! several versions of one key, compressed files and archives (gz, zip, tar.gz, tar.xz,
//! tar.zst, tar.bz2), CSV and JSON, manifests with shards and a `manifest_ref`, an orphan
//! blob, a live writer and a stale one. Its items have a past (see `Past`): made over
//! months, some used since, so ages, age filters and gc's policies have something to
//! show. `cachet demo` opens it; tests and benchmarks build on it.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::json;

use crate::attr::AttrValue;
use crate::cache::{Cache, CacheOpts};
use crate::error::{Error, IoResultExt, Result};
use crate::manifest::{self, CreateOpts, Entry, FileEntry, ShardOpts};
use crate::registry::NewItem;

/// What [`build`] made.
#[derive(Debug, Clone, Default)]
pub struct DemoReport {
    /// Items registered (every status).
    pub items: usize,
    pub manifests: usize,
    /// Digest of the blob that no item references.
    pub orphan: String,
}

/// Builds the demo into the cache at `root` (created if needed). Building twice adds a
/// second set of versions; callers that want one set check for an empty cache first.
pub fn build(root: &Path) -> Result<DemoReport> {
    let cache = Cache::open_with(
        root,
        CacheOpts {
            sync: false,
            ..CacheOpts::default()
        },
    )?;
    let mut report = DemoReport::default();
    let mut pasts: Vec<(i64, Past)> = Vec::new();
    let mut put = |new: NewItem, bytes: &[u8], past: Past| -> Result<i64> {
        report.items += 1;
        let id = cache.put_bytes(&new, bytes)?.id;
        pasts.push((id, past));
        Ok(id)
    };

    // Plain data with typed attributes and params; three versions of one key.
    let daily_pasts = [
        Past::made(45 * DAY).used(31 * DAY),
        Past::made(20 * DAY).used(12 * DAY),
        Past::made(2 * DAY).used(3 * HOUR),
    ];
    for (release, past) in (1..=3i64).zip(daily_pasts) {
        let csv = weather_csv(24 * release as usize);
        put(
            NewItem::new("https://data.example.org/weather/daily.csv")
                .params(json!({"region": "eu"}))
                .attr("release", AttrValue::Int(release))
                .filename("daily.csv")
                .attr("rows", AttrValue::Int(24 * release))
                .attr("source", AttrValue::Text("noaa-mirror".into()))
                .attr("reviewed", AttrValue::Bool(release < 3))
                .attr("score", AttrValue::Float((80 + 5 * release) as f64 / 100.0))
                .attr("when", AttrValue::Datetime(at(2026, 1, release as u32))),
            csv.as_bytes(),
            past,
        )?;
    }
    put(
        NewItem::new("https://api.example.org/v2/stations.json")
            .filename("stations.json")
            .attr("stations", AttrValue::Int(3))
            .attr("source", AttrValue::Text("api".into())),
        stations_json().as_bytes(),
        Past::made(60 * DAY).used(9 * DAY),
    )?;
    put(
        NewItem::new("s3://ml-bucket/models/resnet50/weights.bin")
            .params(json!({"epoch": 90}))
            .label("resnet50 weights (epoch 90)")
            .filename("weights.bin")
            .attr("score", AttrValue::Float(0.912))
            .attr("framework", AttrValue::Text("torch".into())),
        &pseudo_random(256 * 1024, 7),
        Past::made(15 * DAY).used(5 * HOUR),
    )?;
    put(
        NewItem::new("file:///home/ana/notes/README.md")
            .filename("README.md")
            .attr("kind", AttrValue::Text("doc".into())),
        b"# Notes\n\nThe weather data comes from the mirror; release 3 is not reviewed yet.\n",
        Past::made(90 * DAY),
    )?;

    // Compressed files and archives.
    let csv = weather_csv(500);
    put(
        NewItem::new("https://data.example.org/weather/hourly.csv.gz")
            .filename("hourly.csv.gz")
            .attr("rows", AttrValue::Int(500)),
        &gzip(csv.as_bytes())?,
        Past::made(7 * DAY).used(2 * DAY),
    )?;
    let members = archive_members();
    put(
        NewItem::new("https://releases.example.org/toolkit-1.4.zip")
            .filename("toolkit-1.4.zip")
            .attr("members", AttrValue::Int(members.len() as i64)),
        &zip_of(&members)?,
        Past::made(40 * DAY),
    )?;
    for (ext, codec, past) in [
        ("tar.gz", Codec::Gzip, Past::made(40 * DAY).used(DAY)),
        ("tar.xz", Codec::Xz, Past::made(40 * DAY)),
        ("tar.zst", Codec::Zstd, Past::made(39 * DAY)),
        ("tar.bz2", Codec::Bzip2, Past::made(38 * DAY)),
    ] {
        put(
            NewItem::new(format!("https://releases.example.org/toolkit-1.4.{ext}"))
                .filename(format!("toolkit-1.4.{ext}"))
                .attr("members", AttrValue::Int(members.len() as i64))
                .attr("codec", AttrValue::Text(ext.into())),
            &compress(&tar_of(&members)?, codec)?,
            past,
        )?;
    }

    // Every other status.
    let failed = put(
        NewItem::new("https://data.example.org/weather/2025.parquet").filename("2025.parquet"),
        b"PAR1 partial",
        Past::made(3 * DAY + HOUR).changed(3 * DAY),
    )?;
    cache.fail(failed, "upstream returned 503 mid-download")?;
    let trashed = put(
        NewItem::new("https://data.example.org/weather/old-format.csv")
            .filename("old-format.csv")
            .attr("rows", AttrValue::Int(3)),
        b"date;temp\n2020-01-01;3\n2020-01-02;4\n2020-01-03;2\n",
        Past::made(120 * DAY).changed(2 * DAY),
    )?;
    cache.trash(trashed)?;
    let pinned = put(
        NewItem::new("https://data.example.org/reference/cities.csv").filename("cities.csv"),
        b"city,country,lat,lon\nLisbon,PT,38.72,-9.14\nOslo,NO,59.91,10.75\n",
        Past::made(200 * DAY),
    )?;
    cache.pin(pinned, true)?;
    let reserved = cache.reserve(&NewItem::new("https://data.example.org/weather/2027.csv"))?;
    pasts.push((reserved.id, Past::made(10 * MINUTE)));
    report.items += 1;
    // A writer that is still at work (its lease is valid), and one that died.
    let live = cache.create(&NewItem::new("s3://ml-bucket/models/vit/checkpoint-7.bin"))?;
    std::mem::forget(live);
    let short = Cache::open_with(
        root,
        CacheOpts {
            lease: Duration::from_millis(1),
            sync: false,
        },
    )?;
    let dead = short.create(
        &NewItem::new("s3://ml-bucket/models/vit/checkpoint-6.bin").label("checkpoint 6 (dead)"),
    )?;
    // It died two days ago: its lease ran out soon after.
    pasts.push((dead.item().id, Past::made(2 * DAY + HOUR).changed(2 * DAY)));
    std::mem::forget(dead);
    report.items += 2;

    let (dataset, appended) = manifests(&cache, root)?;
    pasts.push((dataset, Past::made(6 * DAY).used(6 * DAY)));
    pasts.push((appended, Past::made(DAY).used(20 * HOUR)));
    report.manifests = 2;
    report.items += 2;
    // The same labels file the manifest's appended part links, downloaded on its own: an
    // item holding a linked blob, so the inspector's `enter` on that entry jumps to it.
    let extra = cache.put_bytes(
        &NewItem::new("https://data.example.org/speech/labels-extra.csv"),
        LABELS_EXTRA,
    )?;
    pasts.push((extra.id, Past::made(DAY).used(20 * HOUR)));
    report.items += 1;
    set_pasts(&cache, &pasts)?;

    // An orphan: a blob in the store that no item or manifest references.
    let sealed = cache
        .blobs()
        .stage_bytes(b"left behind by a crashed import\n", false)?;
    report.orphan = sealed.content.sha256.clone();
    cache.blobs().adopt(sealed, false)?;
    // Left three days ago: past gc's grace for files nothing links to. Best effort: where
    // a read-only handle cannot set times (Windows), the orphan is just young.
    let orphan = cache.blobs().path(&report.orphan)?;
    let ago = Duration::from_millis(3 * DAY as u64);
    if let Some(left) = std::time::SystemTime::now().checked_sub(ago) {
        let _ = std::fs::File::open(&orphan).and_then(|f| f.set_modified(left));
    }
    crate::blob::sync_filesystem(root)?;
    Ok(report)
}

/// The file appended to the dataset.
const LABELS_EXTRA: &[u8] = b"clip,label\n10,c\n";

/// A sharded dataset manifest, then a new version of it that adds a part through a
/// `manifest_ref`; returns their ids.
fn manifests(cache: &Cache, root: &Path) -> Result<(i64, i64)> {
    let dir = tempfile::Builder::new()
        .prefix("demo-dataset-")
        .tempdir_in(cache.blobs().tmp_dir())
        .at(root)?;
    for i in 0..10 {
        let path = dir.path().join(format!("clips/clip-{i:03}.txt"));
        write_file(
            &path,
            format!("clip {i}: {}\n", "la ".repeat(i + 1)).as_bytes(),
        )?;
    }
    write_file(&dir.path().join("labels.csv"), b"clip,label\n0,a\n1,b\n")?;
    let opts = CreateOpts {
        manifest_type: "dataset".into(),
        shards: Some(ShardOpts {
            max_entries: 4,
            max_bytes: 1 << 20,
            gzip: true,
        }),
    };
    let new = NewItem::new("dataset://speech/clips")
        .label("speech clips (dataset)")
        .attr("clips", AttrValue::Int(10));
    let built = manifest::create_from_dir(cache, &new, dir.path(), &opts)?;
    let extra = dir.path().join("extra.csv");
    write_file(&extra, LABELS_EXTRA)?;
    let mut entry = FileEntry {
        key: "labels-extra.csv".into(),
        ..FileEntry::default()
    };
    entry
        .extra
        .insert("path".into(), extra.to_string_lossy().into_owned().into());
    let appended = manifest::append(cache, &built.item, [Ok(Entry::File(entry))])?;
    Ok((built.item.id, appended.item.id))
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// How long before the build (in milliseconds) an item was made, last changed (failed,
/// trashed, or for a writer, its lease ran out) and last used.
#[derive(Clone, Copy)]
struct Past {
    made: i64,
    changed: i64,
    used: Option<i64>,
}

impl Past {
    fn made(ago: i64) -> Past {
        Past {
            made: ago,
            changed: ago,
            used: None,
        }
    }

    fn changed(self, ago: i64) -> Past {
        Past {
            changed: ago,
            ..self
        }
    }

    fn used(self, ago: i64) -> Past {
        Past {
            used: Some(ago),
            ..self
        }
    }
}

/// Moves the items' times into the past, in one transaction. (The library has no call
/// for that, rightly: only a demo rewrites history.)
fn set_pasts(cache: &Cache, pasts: &[(i64, Past)]) -> Result<()> {
    let now = crate::registry::now_ms();
    cache.registry().write(|db| {
        let mut st = db
            .conn
            .prepare(
                "UPDATE items SET created = ?2, updated = ?3, accessed = ?4,
                     access_count = CASE WHEN ?4 IS NULL THEN 0 ELSE 1 END,
                     lease_expires = CASE WHEN lease_expires IS NULL THEN NULL ELSE ?3 END
                 WHERE id = ?1",
            )
            .map_err(db.err("giving the demo a past"))?;
        for (id, past) in pasts {
            let used = past.used.map(|ago| now - ago);
            st.execute(rusqlite::params![
                id,
                now - past.made,
                now - past.changed,
                used
            ])
            .map_err(db.err("giving the demo a past"))?;
        }
        Ok(())
    })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).at(dir)?;
    }
    std::fs::write(path, bytes).at(path)
}

fn at(y: i32, m: u32, d: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 6, 0, 0)
        .single()
        .unwrap_or_default()
}

fn weather_csv(rows: usize) -> String {
    let mut s = String::from("date,station,temp_c,rain_mm\n");
    for i in 0..rows {
        let temp = (i * 37 % 300) as f64 / 10.0 - 5.0;
        s.push_str(&format!(
            "2026-01-{:02},ST{:02},{temp:.1},{}\n",
            i % 28 + 1,
            i % 7,
            i * 13 % 9
        ));
    }
    s
}

fn stations_json() -> String {
    json!({
        "stations": [
            {"id": "ST00", "name": "Lisbon", "elevation_m": 77},
            {"id": "ST01", "name": "Oslo", "elevation_m": 94},
            {"id": "ST02", "name": "Quito", "elevation_m": 2850}
        ],
        "generated": "2026-01-04T00:00:00Z"
    })
    .to_string()
}

/// Bytes that do not compress (a simple xorshift stream).
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn archive_members() -> Vec<(String, Vec<u8>)> {
    vec![
        ("toolkit/README.txt".into(), b"toolkit 1.4\n".to_vec()),
        (
            "toolkit/config.json".into(),
            br#"{"threads": 4, "cache": true}"#.to_vec(),
        ),
        (
            "toolkit/data/sample.csv".into(),
            weather_csv(40).into_bytes(),
        ),
        ("toolkit/bin/tool".into(), pseudo_random(4096, 3)),
    ]
}

fn demo_path(what: &str) -> PathBuf {
    PathBuf::from(format!("<demo {what}>"))
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    compress(bytes, Codec::Gzip)
}

#[derive(Clone, Copy)]
enum Codec {
    Gzip,
    Xz,
    Zstd,
    Bzip2,
}

fn compress(bytes: &[u8], codec: Codec) -> Result<Vec<u8>> {
    let path = demo_path("compression");
    match codec {
        Codec::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(bytes).at(&path)?;
            e.finish().at(&path)
        }
        Codec::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
            e.write_all(bytes).at(&path)?;
            e.finish().at(&path)
        }
        Codec::Zstd => zstd::encode_all(bytes, 3).at(&path),
        Codec::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
            e.write_all(bytes).at(&path)?;
            e.finish().at(&path)
        }
    }
}

fn tar_of(members: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let path = demo_path("tar");
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_767_225_600);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_slice()).at(&path)?;
    }
    b.into_inner().at(&path)
}

fn zip_of(members: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let err = |e: zip::result::ZipError| Error::Archive {
        path: demo_path("zip"),
        message: e.to_string(),
    };
    let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in members {
        z.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .map_err(err)?;
        z.write_all(data).at(demo_path("zip"))?;
    }
    Ok(z.finish().map_err(err)?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Status;

    #[test]
    fn the_demo_has_every_status_archives_manifests_and_an_orphan() {
        let dir = tempfile::tempdir().unwrap();
        let report = build(dir.path()).unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let ids = cache.list_ids(None, false, 0, 1000).unwrap();
        assert_eq!(ids.len(), report.items);
        let items = cache.get_many(&ids).unwrap();
        for status in Status::ALL {
            assert!(
                items.iter().any(|i| i.status == status),
                "no item in {status}"
            );
        }
        let now = Utc::now();
        assert_eq!(items.iter().filter(|i| i.is_stale(now)).count(), 1);
        assert_eq!(report.manifests, 2);
        assert!(cache.blobs().path(&report.orphan).unwrap().exists());
        assert!(
            !cache
                .registry()
                .db()
                .blob_referenced(&report.orphan)
                .unwrap()
        );
        for ext in ["zip", "tar.gz", "tar.xz", "tar.zst", "tar.bz2", "csv.gz"] {
            assert!(items.iter().any(|i| i.uri.ends_with(ext)), "no .{ext} item");
        }
    }

    /// The demo's past is what its gc plans show: the everyday collection takes the
    /// trash, the failure and the dead writer (all older than a day) and the orphan
    /// (older than the grace hour); max-age takes what was long unused, but not the pin.
    #[test]
    fn the_demo_has_a_past_that_gc_acts_on() {
        use crate::gc::{self, GcPolicy, Reason};
        let dir = tempfile::tempdir().unwrap();
        let report = build(dir.path()).unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let everyday = gc::plan(&cache, &GcPolicy::default(), Utc::now()).unwrap();
        let mut reasons: Vec<Reason> = everyday.items.iter().map(|i| i.reason).collect();
        reasons.sort_by_key(|r| r.to_string());
        assert_eq!(
            reasons,
            [Reason::Failed, Reason::StaleWrite, Reason::Trash],
            "{:?}",
            everyday.items
        );
        let orphans: Vec<_> = everyday.files.iter().map(|f| f.sha256.clone()).collect();
        assert_eq!(orphans, [Some(report.orphan)]);

        let unused = GcPolicy {
            max_age: Some(Duration::from_secs(30 * 86_400)),
            ..GcPolicy::none()
        };
        let plan = gc::plan(&cache, &unused, Utc::now()).unwrap();
        let mut names: Vec<String> = plan.items.iter().map(|i| i.uri).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "file:///home/ana/notes/README.md",
                "https://data.example.org/weather/daily.csv",
                "https://releases.example.org/toolkit-1.4.tar.bz2",
                "https://releases.example.org/toolkit-1.4.tar.xz",
                "https://releases.example.org/toolkit-1.4.tar.zst",
                "https://releases.example.org/toolkit-1.4.zip",
            ],
            "made over 30 days ago and not used since; the pinned cities.csv stays"
        );
    }
}
