//! Garbage collection beside real processes: writers in other processes lose nothing, and
//! a collection killed with SIGKILL leaves a consistent registry that a rerun finishes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cachet::{Cache, IngestContent, IngestItem, NewItem, Status};

mod common;

use common::{bin, count_files, spawn_script, wait_all};

fn all_ready_items_verify(cache: &Cache) -> usize {
    let ids = cache
        .list_ids(Some(Status::Ready), false, 0, 1_000_000)
        .unwrap();
    for item in cache.get_many(&ids).unwrap() {
        let sha = item.sha256.as_deref().unwrap();
        cache
            .blobs()
            .verify(sha)
            .unwrap_or_else(|e| panic!("READY item {} lost its content: {e}", item.id));
    }
    ids.len()
}

#[test]
fn gc_beside_writers_in_other_processes_deletes_nothing_live() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    drop(Cache::open(root).unwrap());
    // Each writer puts items, half of them with content shared across writers, and trashes
    // every other one, so gc keeps purging blobs that writers keep re-adding.
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let script = format!(
                "for i in $(seq 8); do \
                   if [ $((i % 2)) -eq 0 ]; then c=\"shared $((i % 3))\"; else c=\"w{w} $i\"; fi; \
                   id=$(echo \"$c\" | \"$0\" put w{w}/$i --json | sed 's/.*\"id\":\\([0-9]*\\).*/\\1/') || exit 1; \
                   if [ $((i % 3)) -eq 0 ]; then \"$0\" trash \"$id\" >/dev/null || exit 1; fi; \
                 done"
            );
            spawn_script(root, &script)
        })
        .collect();
    let mut runs = 0;
    let start = Instant::now();
    loop {
        let status = Command::new(bin())
            .args(["gc", "--trash", "--stale", "--orphans", "--yes"])
            .env("CACHET_ROOT", root)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        runs += 1;
        if runs >= 5 || start.elapsed() > Duration::from_secs(60) {
            break;
        }
    }
    wait_all(writers);
    let cache = Cache::open(root).unwrap();
    let ready = all_ready_items_verify(&cache);
    assert!(ready >= 3 * 5, "every item not trashed is READY: {ready}");
}

#[test]
fn gc_killed_mid_apply_leaves_a_consistent_registry_and_a_rerun_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    const N: i64 = 6_000;
    {
        let cache = Cache::open(root).unwrap();
        let items = (0..N).map(|i| {
            Ok(IngestItem {
                item: NewItem::new(format!("bulk/{i}")),
                content: IngestContent::Bytes(format!("content {i}").into_bytes()),
            })
        });
        cache.ingest(items, &mut |_| {}).unwrap();
        // Setup shortcut: trash everything in one statement.
        let conn = rusqlite::Connection::open(root.join("registry.sqlite")).unwrap();
        conn.execute(
            "UPDATE items SET status = 'TRASH', trashed_from = 'READY'",
            [],
        )
        .unwrap();
    }
    let count = |conn: &rusqlite::Connection| -> i64 {
        conn.query_row("SELECT count(*) FROM items", [], |r| r.get(0))
            .unwrap()
    };
    let conn = rusqlite::Connection::open(root.join("registry.sqlite")).unwrap();
    conn.busy_timeout(Duration::from_secs(30)).unwrap();
    let mut child = Command::new(bin())
        .args(["gc", "--trash", "--yes"])
        .env("CACHET_ROOT", root)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut left = count(&conn);
    while left == N {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "gc never started deleting"
        );
        std::thread::sleep(Duration::from_millis(2));
        left = count(&conn);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let left = count(&conn);
    assert!(left > 0 && left < N, "killed mid-way: {left} of {N} left");
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    {
        // Every remaining item still has its blob: blobs go only after their rows.
        let cache = Cache::open(root).unwrap();
        let ids = cache
            .list_ids(Some(Status::Trash), false, 0, N as usize)
            .unwrap();
        assert_eq!(ids.len() as i64, left);
        for item in cache.get_many(&ids[..ids.len().min(2000)]).unwrap() {
            assert!(cache.blobs().exists(item.sha256.as_deref().unwrap()));
        }
    }
    let rerun = Command::new(bin())
        .args(["gc", "--trash", "--orphans", "--grace", "0s", "--yes"])
        .env("CACHET_ROOT", root)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(rerun.success());
    assert_eq!(count(&conn), 0);
    // The blobs, not the listing gc may keep beside them (`blobs-v1/sha256.listing`).
    let blobs = count_files(&root.join("blobs-v1/sha256"));
    assert_eq!(
        blobs, 0,
        "the rerun also removed blobs orphaned by the kill"
    );
}
