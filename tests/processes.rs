//! Real concurrent processes on one cache: version allocation under contention, a writer
//! killed mid-put, and a read-only root.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cachet::{Cache, Status};

mod common;

use common::{bin, count_files, spawn_script, wait_all};

#[test]
fn eight_processes_create_versions_of_one_key_without_gaps_or_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // Create the registry first so that the race is on versions, not on the schema.
    drop(Cache::open(root).unwrap());
    const PROCS: usize = 8;
    const PUTS: usize = 6;
    let children: Vec<_> = (0..PROCS)
        .map(|p| {
            let script = format!(
                "for i in $(seq {PUTS}); do echo \"p{p} $i\" | \"$0\" put shared://one --param k=1 || exit 1; done"
            );
            spawn_script(root, &script)
        })
        .collect();
    wait_all(children);
    let cache = Cache::open(root).unwrap();
    let key = cachet::key::item_key("shared://one", &serde_json::json!({"k": 1}));
    let mut versions: Vec<i64> = cache
        .versions(&key)
        .unwrap()
        .iter()
        .map(|i| {
            assert_eq!(i.status, Status::Ready);
            i.version
        })
        .collect();
    versions.sort();
    let expected: Vec<i64> = (1..=(PROCS * PUTS) as i64).collect();
    assert_eq!(versions, expected);
}

#[test]
fn concurrent_bulk_imports_interleave_versions_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    drop(Cache::open(root).unwrap());
    let lines: String = (0..50)
        .map(|i| format!("{{\"uri\": \"shared://bulk\", \"text\": \"{i}\"}}\n"))
        .collect();
    let file = root.join("items.ndjson");
    std::fs::write(&file, lines).unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(bin())
                .args(["import", file.to_str().unwrap()])
                .env("CACHET_ROOT", root)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    wait_all(children);
    let cache = Cache::open(root).unwrap();
    let key = cachet::key::item_key("shared://bulk", &serde_json::Value::Null);
    let versions: Vec<i64> = cache
        .versions(&key)
        .unwrap()
        .iter()
        .map(|i| i.version)
        .collect();
    assert_eq!(versions, (1..=200).collect::<Vec<i64>>());
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_writer_killed_mid_put_leaves_no_ready_item() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    drop(Cache::open(root).unwrap());
    let mut child = Command::new(bin())
        .args(["put", "killed://item", "-"])
        .env("CACHET_ROOT", root)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&vec![b'x'; 4 << 20]).unwrap();
    stdin.flush().unwrap();
    let cache = Cache::open(root).unwrap();
    wait_for("the writer to register its item", || {
        !cache
            .list_ids(Some(Status::Write), false, 0, 10)
            .unwrap()
            .is_empty()
    });
    // Let the writer get some bytes into its staging file, then kill it hard.
    wait_for("staged bytes", || staged_bytes(&root.join("tmp")) > 0);
    child.kill().unwrap();
    child.wait().unwrap();
    drop(stdin);

    assert!(
        cache
            .list_ids(Some(Status::Ready), false, 0, 10)
            .unwrap()
            .is_empty()
    );
    let id = cache.list_ids(Some(Status::Write), false, 0, 10).unwrap()[0];
    let item = cache.get(id).unwrap();
    assert!(item.sha256.is_none(), "no content recorded");
    let lease = item.lease.clone().expect("a writer holds a lease");
    assert!(item.is_stale(lease.expires + chrono::Duration::seconds(1)));
    // No blob was published: the partial content only ever lived in tmp/.
    assert_eq!(count_files(cache.blobs().dir()), 0);
    // A user can mark it failed; then it can be trashed and purged.
    cache.fail(id, "writer died").unwrap();
    cache.trash(id).unwrap();
    cache.purge(id).unwrap();
}

#[test]
fn a_read_only_root_is_refused_clearly_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ro");
    Command::new(bin())
        .args(["put", "u", "-"])
        .env("CACHET_ROOT", &root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    let chmod = |path: &Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    chmod(dir.path(), 0o755);
    for sub in ["", "tmp", "blobs-v1", "blobs-v1/sha256"] {
        chmod(&root.join(sub), 0o555);
    }
    let before = std::fs::read(root.join("registry.sqlite")).unwrap();
    // Root ignores permissions, so as root run the binary as an unprivileged user.
    let out = common::bin_as_user()
        .args(["put", "u", "-"])
        .env("CACHET_ROOT", &root)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    for sub in ["", "tmp", "blobs-v1", "blobs-v1/sha256"] {
        chmod(&root.join(sub), 0o755);
    }
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not writable"), "{err}");
    assert!(err.contains(root.to_str().unwrap()), "{err}");
    assert_eq!(std::fs::read(root.join("registry.sqlite")).unwrap(), before);
}

/// A root whose directory alone is read-only (a read-only mount, another user's cache) is
/// read: listed, its content given, its registry untouched (SQLite reads it as it is, with
/// no write-ahead log of its own); a change is refused by naming the root once (SQLite
/// said "attempt to write a readonly database"). A read-only registry file still gives
/// content, with a note that the access was not recorded (it failed after the content went
/// out).
#[test]
fn a_read_only_root_directory_or_registry_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ro");
    let hello = dir.path().join("hello.txt");
    std::fs::write(&hello, "hello\n").unwrap();
    let out = Command::new(bin())
        .args(["put", "u", hello.to_str().unwrap(), "--json"])
        .env("CACHET_ROOT", &root)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success());
    let chmod = |path: &Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    chmod(dir.path(), 0o755);
    // Root ignores permissions: the cache goes to an unprivileged user, who runs it.
    let as_user = common::bin_as_user;
    common::give_to_user(&root);
    let registry = std::fs::read(root.join("registry.sqlite")).unwrap();
    chmod(&root, 0o555);
    let run = |args: &[&str]| {
        let out = as_user()
            .args(args)
            .env("CACHET_ROOT", &root)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            err,
        )
    };
    let listed = run(&["ls", "--json"]);
    let read = run(&["cat", "1"]);
    let trashed = run(&["trash", "1"]);
    let names: Vec<_> = (std::fs::read_dir(&root).unwrap())
        .map(|e| e.unwrap().file_name())
        .collect();
    chmod(&root, 0o755);
    assert_eq!(listed.0, Some(0), "{}", listed.2);
    assert!(listed.1.contains("\"status\":\"READY\""), "{}", listed.1);
    assert_eq!(read, (Some(0), "hello\n".into(), String::new()));
    assert_eq!(trashed.0, Some(1));
    assert!(trashed.2.contains("is not writable"), "{}", trashed.2);
    // The root named once, not in every layer of the message.
    let root_name = root.display().to_string();
    assert_eq!(trashed.2.matches(&root_name).count(), 1, "{}", trashed.2);
    assert_eq!(
        std::fs::read(root.join("registry.sqlite")).unwrap(),
        registry
    );
    assert!(
        !names
            .iter()
            .any(|n| n.to_string_lossy().starts_with("registry.sqlite-")),
        "no log or index beside it: {names:?}"
    );

    chmod(&root.join("registry.sqlite"), 0o444);
    let out = as_user()
        .args(["cat", "1"])
        .env("CACHET_ROOT", &root)
        .output()
        .unwrap();
    chmod(&root.join("registry.sqlite"), 0o644);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("the access was not recorded"), "{err}");

    // Changes waiting in a write-ahead log that cannot be applied here are refused, not
    // read past (the registry file alone is out of date).
    let pending = dir.path().join("pending");
    std::fs::create_dir(&pending).unwrap();
    let writer = rusqlite::Connection::open(root.join("registry.sqlite")).unwrap();
    writer
        .execute_batch("PRAGMA wal_autocheckpoint = 0; UPDATE items SET label = 'in the log';")
        .unwrap();
    for name in ["registry.sqlite", "registry.sqlite-wal"] {
        std::fs::copy(root.join(name), pending.join(name)).unwrap();
    }
    drop(writer);
    chmod(&pending, 0o555);
    let out = as_user()
        .arg("ls")
        .env("CACHET_ROOT", &pending)
        .output()
        .unwrap();
    chmod(&pending, 0o755);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("-wal file holds changes not yet in it"),
        "{err}"
    );
}

fn staged_bytes(tmp: &Path) -> u64 {
    std::fs::read_dir(tmp)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
