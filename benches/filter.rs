//! Scale harness for the filter language (reports, never asserts).
//!
//! Builds registries of N items (default 100k and 1M; pass sizes as arguments) straight
//! into the schema with prepared statements in one transaction — five typed attributes and
//! one param per item, a mix of statuses and versions — then times, for ten query shapes,
//! the first page of 100 ids plus the count the TUI shows (capped), the same with an
//! exact count, the next page, and the per-status tab counts.
//!
//!     cargo bench --bench filter -- 100000 1000000
//!
//! Environment:
//! - `FILTER_BENCH_DIR`     keep each registry as `DIR/registry-N.sqlite`: built on the first
//!   run, reused by later ones (put it on tmpfs to keep the disk out of the numbers)
//! - `FILTER_BENCH_SHAPES`  run only the shapes whose name contains one of these
//!   comma-separated words (`no filter` is a shape too)
//! - `FILTER_BENCH_ANALYZE` run `ANALYZE` after building, as `PRAGMA optimize` would

use std::time::{Duration, Instant};

use cachet::filter::{self, Filter, Query, SortSpec};
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, params};

/// The TUI shows counts as "10000+" past this.
const CAP: u64 = 1_000;

const SHAPES: &[(&str, &str, &str)] = &[
    ("one attr =", "project=p3", "id"),
    ("one attr range", "batch>=990", "-id"),
    ("two attrs", "project=p3 batch<500", "id"),
    ("float range", "score>0.2 score<0.25", "-created"),
    ("OR", "project=p1 | project=p2", "id"),
    ("negation", "!project=p1 status:ready", "-id"),
    ("status + attr", "status:ready project=p5", "-created"),
    ("sort by attr", "project=p7", "-attr.score"),
    ("age, sort created", "created<7d", "-created"),
    ("size + status", "size>1MB status:ready", "-size"),
];

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).single().unwrap()
}

fn open(path: &std::path::Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    // Plans independent of bound values, as on the registry's own connection.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .unwrap();
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;",
    )
    .unwrap();
    let _: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    conn
}

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: i64) -> i64 {
        (self.next() % n as u64) as i64
    }
}

fn build(path: &std::path::Path, n: i64) -> Connection {
    let mut conn = open(path);
    cachet::registry::schema::migrate(&mut conn, path, &|| Ok(())).unwrap();
    let now_ms = now().timestamp_millis();
    let day = 86_400_000i64;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let tx = conn.transaction().unwrap();
    {
        let mut item = tx
            .prepare(
                "INSERT INTO items (id, key, version, uri, params, status, label, filename, size, \
                 sha256, created, updated, accessed, lease_expires, pinned) \
                 VALUES (?1, ?2, ?3, ?4, '{}', ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12, ?13)",
            )
            .unwrap();
        let mut attr = tx
            .prepare("INSERT INTO attrs (item_id, name, type, value) VALUES (?1, ?2, ?3, ?4)")
            .unwrap();
        let mut param = tx
            .prepare("INSERT INTO params (item_id, name, type, value) VALUES (?1, ?2, 0, ?3)")
            .unwrap();
        for id in 1..=n {
            // Three versions per key.
            let key = format!("{:064x}", (id - 1) / 3);
            let version = (id - 1) % 3 + 1;
            let roll = rng.below(100);
            let status = match roll {
                0..70 => "READY",
                70..80 => "WRITE",
                80..88 => "FAILED",
                88..98 => "TRASH",
                _ => "UNINITIALIZED",
            };
            let size = (status == "READY").then(|| rng.below(4_000_000_000));
            let sha = size.map(|s| format!("{s:064x}"));
            let created = now_ms - rng.below(365 * day);
            let lease = (status == "WRITE").then(|| now_ms + rng.below(2 * 3_600_000) - 3_600_000);
            item.execute(params![
                id,
                key,
                version,
                format!("s3://bucket/run{}/file{id}.parquet", id % 1000),
                status,
                (id % 5 == 0).then(|| format!("run {}", id % 977)),
                format!("file{id}.parquet"),
                size,
                sha,
                created,
                (id % 2 == 0).then(|| created + rng.below(day)),
                lease,
                id % 50 == 0,
            ])
            .unwrap();
            attr.execute(params![id, "project", 2, format!("p{}", rng.below(20))])
                .unwrap();
            attr.execute(params![id, "batch", 0, rng.below(1000)])
                .unwrap();
            attr.execute(params![id, "score", 1, rng.below(1_000_000) as f64 / 1e6])
                .unwrap();
            attr.execute(params![id, "when", 4, created * 1000])
                .unwrap();
            attr.execute(params![id, "ok", 3, rng.below(2)]).unwrap();
            param
                .execute(params![id, "release", rng.below(10)])
                .unwrap();
        }
    }
    // The catalogue of names, as the library keeps it when it writes attributes.
    tx.execute_batch(cachet::registry::schema::CATALOGUE_FROM_ROWS)
        .unwrap();
    tx.commit().unwrap();
    conn
}

fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let p = |q: f64| ms(v[((v.len() - 1) as f64 * q).round() as usize]);
    (p(0.5), p(0.99))
}

fn time(runs: usize, mut f: impl FnMut()) -> (f64, f64) {
    f(); // warm the page cache and the statement cache
    let samples = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    percentiles(samples)
}

fn main() {
    let sizes: Vec<i64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.replace('_', "").parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100_000, 1_000_000]
    } else {
        sizes
    };
    let runs = 30;
    let keep = std::env::var_os("FILTER_BENCH_DIR").map(std::path::PathBuf::from);
    let wanted: Vec<String> = std::env::var("FILTER_BENCH_SHAPES")
        .unwrap_or_default()
        .split(',')
        .map(|w| w.trim().to_string())
        .filter(|w| !w.is_empty())
        .collect();
    let chosen = |name: &str| wanted.is_empty() || wanted.iter().any(|w| name.contains(w.as_str()));
    for n in sizes {
        let scratch = tempfile::tempdir().unwrap();
        let dir = keep.clone().unwrap_or_else(|| scratch.path().to_path_buf());
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("registry-{n}.sqlite"));
        let built = if path.exists() {
            "reused".to_string()
        } else {
            let t = Instant::now();
            // Build under another name, so that a stopped build is never reused.
            let part = dir.join(format!("registry-{n}.part"));
            let conn = build(&part, n);
            // What `PRAGMA optimize` on close gives a long-lived registry: planner statistics.
            if std::env::var_os("FILTER_BENCH_ANALYZE").is_some() {
                conn.execute_batch("ANALYZE").unwrap();
            }
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE")
                .unwrap();
            drop(conn);
            std::fs::rename(&part, &path).unwrap();
            format!("built in {:.1} s", t.elapsed().as_secs_f64())
        };
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let conn = open(&path);
        println!(
            "\n## {n} items ({built}, {:.0} MB); p50 / p99 ms over {runs} runs",
            bytes as f64 / 1e6
        );
        println!(
            "| shape | filter | sort | matches | page+count≤{CAP} | page+exact count | next page | tabs ≤{CAP} | tabs exact |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        for (name, text, sort) in SHAPES.iter().filter(|(name, _, _)| chosen(name)) {
            let filter = Filter::parse(text).unwrap();
            let q = Query {
                filter: filter.clone(),
                sort: sort.parse::<SortSpec>().unwrap(),
                limit: 100,
                after: None,
            };
            let matches = filter::count(&conn, &filter, now()).unwrap();
            let capped = time(runs, || {
                filter::page(&conn, &q, now()).unwrap();
                filter::count_upto(&conn, &filter, now(), CAP).unwrap();
            });
            let exact = time(runs, || {
                filter::page(&conn, &q, now()).unwrap();
                filter::count(&conn, &filter, now()).unwrap();
            });
            let first = filter::page(&conn, &q, now()).unwrap();
            let q2 = Query {
                after: first.next.clone(),
                ..q.clone()
            };
            let next = time(runs, || {
                filter::page(&conn, &q2, now()).unwrap();
            });
            let tabs = time(runs, || {
                filter::count_by_status(&conn, &filter, now(), Some(CAP)).unwrap();
            });
            let tabs_exact = time(runs.min(10), || {
                filter::count_by_status(&conn, &filter, now(), None).unwrap();
            });
            let f = |(a, b): (f64, f64)| format!("{a:.2} / {b:.2}");
            println!(
                "| {name} | `{text}` | {sort} | {matches} | {} | {} | {} | {} | {} |",
                f(capped),
                f(exact),
                f(next),
                f(tabs),
                f(tabs_exact)
            );
        }
        if !chosen("no filter") {
            continue;
        }
        let all = Filter::all();
        let tabs = time(runs, || {
            filter::count_by_status(&conn, &all, now(), Some(CAP)).unwrap();
        });
        let tabs_exact = time(10, || {
            filter::count_by_status(&conn, &all, now(), None).unwrap();
        });
        let q = Query {
            sort: "-created".parse().unwrap(),
            ..Query::default()
        };
        let page = time(runs, || {
            filter::page(&conn, &q, now()).unwrap();
            filter::count_upto(&conn, &all, now(), CAP).unwrap();
        });
        println!(
            "| no filter | `` | -created | {n} | {:.2} / {:.2} | | | {:.2} / {:.2} | {:.2} / {:.2} |",
            page.0, page.1, tabs.0, tabs.1, tabs_exact.0, tabs_exact.1
        );
    }
}
