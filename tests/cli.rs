//! The `cachet` binary end to end: commands, JSON output, exit codes, error messages.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value as Json;

fn cachet(root: &Path) -> Command {
    let mut cmd = Command::cargo_bin("cachet").unwrap();
    cmd.env("CACHET_ROOT", root).env_remove("CACHET_APP");
    cmd
}

fn json_lines(out: &[u8]) -> Vec<Json> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn put(root: &Path, args: &[&str], stdin: &str) -> Json {
    let out = cachet(root)
        .arg("put")
        .args(args)
        .arg("--json")
        .write_stdin(stdin)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    json_lines(&out).remove(0)
}

#[test]
fn put_ls_show_cat_get_path() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("c");
    let src = dir.path().join("data.csv");
    fs::write(&src, "a,b\n1,2\n").unwrap();
    let first = put(
        &root,
        &[
            "https://example.org/data.csv",
            src.to_str().unwrap(),
            "--param",
            "release=3",
            "--attr",
            "n=3",
            "--attr",
            "x=0.5",
            "--attr",
            "when=2026-01-01T00:00:00Z",
            "--attr",
            "ok=true",
            "--attr",
            "tag='42'",
            "--attr",
            "k:text=7",
            "--label",
            "the data",
        ],
        "",
    );
    assert_eq!(first["version"], 1);
    assert_eq!(first["status"], "READY");
    assert_eq!(first["size"], 8);
    assert_eq!(first["filename"], "data.csv");
    assert_eq!(first["attrs"]["n"], 3);
    assert_eq!(first["attrs"]["x"], 0.5);
    assert_eq!(first["attrs"]["ok"], true);
    assert_eq!(first["attrs"]["tag"], "42");
    assert_eq!(first["attrs"]["k"], "7");
    assert_eq!(first["attr_types"]["when"], "datetime");
    assert_eq!(first["attr_types"]["tag"], "text");
    assert_eq!(first["params"]["release"], 3);
    let key = first["key"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 64);

    let second = put(
        &root,
        &["https://example.org/data.csv", "-", "--param", "release=3"],
        "new content\n",
    );
    assert_eq!(second["version"], 2);
    assert_eq!(second["key"], key.as_str());

    // ls lists every version; --latest only the newest per key.
    let all = cachet(&root).args(["ls", "--json"]).output().unwrap();
    assert_eq!(json_lines(&all.stdout).len(), 2);
    let latest = cachet(&root)
        .args(["ls", "--latest", "--json"])
        .output()
        .unwrap();
    let latest = json_lines(&latest.stdout);
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0]["version"], 2);
    cachet(&root)
        .arg("ls")
        .assert()
        .success()
        .stdout(predicate::str::contains("the data").and(predicate::str::contains("READY")));

    // cat by key prefix gives the best version; KEY@1 the first.
    cachet(&root)
        .args(["cat", &key[..8]])
        .assert()
        .success()
        .stdout("new content\n");
    cachet(&root)
        .args(["cat", &format!("{}@1", &key[..8])])
        .assert()
        .success()
        .stdout("a,b\n1,2\n");

    let shown = cachet(&root).args(["show", "1"]).output().unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains("n (int) = 3"), "{text}");
    assert!(
        text.contains("when (datetime) = 2026-01-01T00:00:00Z"),
        "{text}"
    );
    assert!(text.contains("versions"), "{text}");

    let dest = dir.path().join("out.csv");
    cachet(&root)
        .args(["get", "1", "-o", dest.to_str().unwrap()])
        .assert()
        .success();
    assert_eq!(fs::read_to_string(&dest).unwrap(), "a,b\n1,2\n");

    let path = cachet(&root).args(["path", "1"]).output().unwrap();
    let path = String::from_utf8(path.stdout).unwrap();
    assert!(path.trim().contains("blobs-v1/sha256/"));
    let shown = cachet(&root)
        .args(["show", "1", "--json"])
        .output()
        .unwrap();
    let shown = json_lines(&shown.stdout).remove(0);
    assert_eq!(shown["access_count"], 3, "cat, get and path each count");
    assert_eq!(shown["versions"].as_array().unwrap().len(), 2);

    // best
    let best = cachet(&root)
        .args([
            "best",
            "https://example.org/data.csv",
            "--param",
            "release=3",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(json_lines(&best.stdout)[0]["version"], 2);
    cachet(&root)
        .args([
            "best",
            "https://example.org/data.csv",
            "--param",
            "release:text=3",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "no READY version of https://example.org/data.csv with params {\"release\":\"3\"} \
             (it has READY items with params {\"release\":3}: give them with --param)",
        ));
    cachet(&root)
        .args(["best", "https://example.org/other.csv"])
        .assert()
        .code(1)
        .stderr(predicate::str::ends_with("with params {}\n"));
}

#[test]
fn attr_trash_restore_purge_fail() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let item = put(root, &["u"], "x");
    let id = item["id"].to_string();
    let out = cachet(root)
        .args(["attr", "set", &id, "batch=2", "--json"])
        .output()
        .unwrap();
    assert_eq!(json_lines(&out.stdout)[0]["attrs"]["batch"], 2);
    cachet(root)
        .args(["attr", "rm", &id, "batch"])
        .assert()
        .success();
    cachet(root)
        .args(["attr", "rm", &id, "batch"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("attribute 'batch'"));

    cachet(root).args(["trash", &id]).assert().success();
    let trash = cachet(root)
        .args(["ls", "--status", "trash", "--json"])
        .output()
        .unwrap();
    assert_eq!(json_lines(&trash.stdout).len(), 1);
    // What is in the trash can be looked at before it is purged.
    cachet(root)
        .args(["cat", &id])
        .assert()
        .success()
        .stdout("x");
    cachet(root)
        .args(["preview", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("x"));
    cachet(root).args(["path", &id]).assert().success();
    cachet(root)
        .args(["restore", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("restored to READY"));
    cachet(root)
        .args(["purge", &id])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("only TRASH items can be purged"));
    cachet(root).args(["trash", &id]).assert().success();
    cachet(root)
        .args(["purge", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("purged, freed"));
    cachet(root)
        .args(["show", &id])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not found"));

    let other = put(root, &["v"], "y");
    let other_id = other["id"].to_string();
    let failed = cachet(root)
        .args(["fail", &other_id, "--reason", "bad upstream", "--json"])
        .output()
        .unwrap();
    let failed = json_lines(&failed.stdout).remove(0);
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["note"], "bad upstream");
    cachet(root).args(["trash", &other_id]).assert().success();
    cachet(root)
        .args(["fail", &other_id])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot go from TRASH to FAILED"));
    cachet(root)
        .args(["trash", &other_id])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "item {other_id}: is in the trash already"
        )));
    // A typo among several references changes none of them.
    let third = put(root, &["w"], "z");
    cachet(root)
        .args(["trash", &third["id"].to_string(), "ffffffffff"])
        .assert()
        .code(1);
    let shown = cachet(root)
        .args(["show", &third["id"].to_string(), "--json"])
        .output()
        .unwrap();
    assert_eq!(json_lines(&shown.stdout)[0]["status"], "READY");
}

#[test]
fn import_ndjson_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("c");
    fs::write(dir.path().join("a.bin"), b"file content").unwrap();
    let good = dir.path().join("items.ndjson");
    fs::write(
        &good,
        concat!(
            r#"{"uri": "u1", "params": {"p": 1}, "attrs": {"n": 1, "when": "2026-01-01T00:00:00Z"}, "path": "a.bin"}"#,
            "\n\n",
            r#"{"uri": "u2", "attrs": {"s": {"type": "text", "value": "2026-01-01T00:00:00Z"}}, "label": "two", "text": "inline"}"#,
            "\n"
        ),
    )
    .unwrap();
    cachet(&root)
        .args(["import", good.to_str().unwrap()])
        .assert()
        .success()
        .stdout("imported 2 items\n");
    let ls = cachet(&root).args(["ls", "--json"]).output().unwrap();
    let items = json_lines(&ls.stdout);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["filename"], "a.bin");
    assert_eq!(items[0]["size"], 12);
    assert_eq!(items[0]["attr_types"]["when"], "datetime");
    assert_eq!(items[1]["attr_types"]["s"], "text");
    assert_eq!(items[1]["label"], "two");

    // A bad third line: an error naming file and line, and nothing imported.
    let bad = dir.path().join("bad.ndjson");
    fs::write(
        &bad,
        "{\"uri\": \"u3\", \"text\": \"a\"}\n{\"uri\": \"u4\", \"text\": \"b\"}\n{\"uri\": \"u5\", \"attrs\": {\"x\": null}, \"text\": \"c\"}\n",
    )
    .unwrap();
    cachet(&root)
        .args(["import", bad.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bad.ndjson:3:"));
    let ls = cachet(&root).args(["ls", "--json"]).output().unwrap();
    assert_eq!(json_lines(&ls.stdout).len(), 2);

    // Each error names the file's line (and the line's column); a missing file, its line.
    for (lines, said) in [
        (
            "{\"uri\": \"u3\"}\nnot json\n",
            &["bad.ndjson:1: give exactly one of"][..],
        ),
        (
            "{\"uri\": \"u3\", \"text\": \"a\"}\n{uri}\n",
            &["bad.ndjson:2: column 2: key must be a string\n"],
        ),
        (
            "{\"uri\": \"u3\", \"path\": \"no-such-file\"}\n",
            &["bad.ndjson:1: ", "no-such-file: No such file"],
        ),
    ] {
        fs::write(&bad, lines).unwrap();
        let done = cachet(&root)
            .args(["import", bad.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(done.status.code(), Some(1), "{lines}");
        let err = String::from_utf8_lossy(&done.stderr);
        assert!(said.iter().all(|s| err.contains(s)), "{lines}: {err}");
    }
}

#[test]
fn usage_errors_exit_2_and_errors_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    cachet(root).args(["ls", "--bogus"]).assert().code(2);
    cachet(root)
        .args(["put", "u", "--attr", "novalue"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("expected name=value"));
    cachet(root)
        .args(["put", "u", "--attr", "x=NaN"])
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not a finite number"));
    cachet(root)
        .args(["put", "u", "--attr", "batch:int=x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("batch is int, got 'x'"));
    cachet(root)
        .args(["ls", "--status", "done"])
        .assert()
        .code(2);
    cachet(root)
        .args(["put", "u", "/no/such/file.bin"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("/no/such/file.bin"));
    cachet(root)
        .args(["cat", "424242"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "not found: item '424242': no item has that id, nor a key starting with it",
        ));
    cachet(root)
        .args(["show", "999"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("item '999': no item has that id"));
    // Nothing was registered by any of the failures.
    let ls = cachet(root).args(["ls", "--json"]).output().unwrap();
    assert!(ls.stdout.is_empty());
    // A filter that does not parse is a wrong argument too.
    put(root, &["u"], "x");
    for filter in ["status:readi", "size>1XB", "(batch=1"] {
        cachet(root)
            .args(["ls", filter])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("^"));
    }
}

#[test]
fn a_named_root_without_a_cache_is_an_error_not_a_new_cache() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo");
    let commands: [&[&str]; 6] = [
        &["ls"],
        &["count"],
        &["show", "1"],
        &["gc", "--dry-run"],
        &["du"],
        &["tui"],
    ];
    for args in commands {
        cachet(&typo).args(args).assert().code(1).stderr(
            predicate::str::contains("no cache at").and(predicate::str::contains(
                "(the directory does not exist); `cachet put` or `cachet import` starts one",
            )),
        );
    }
    assert!(!typo.exists(), "nothing was created");
    let plain = dir.path().join("plain");
    fs::create_dir(&plain).unwrap();
    fs::write(plain.join("notes.txt"), "mine").unwrap();
    cachet(&plain)
        .arg("ls")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("the directory holds no registry"));
    assert_eq!(
        fs::read_dir(&plain).unwrap().count(),
        1,
        "nothing was added"
    );
    // Adding items starts a cache there.
    put(&typo, &["u"], "x");
    cachet(&typo)
        .arg("ls")
        .assert()
        .success()
        .stdout(predicate::str::contains("READY"));
}

#[test]
fn newer_registry_gives_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, &["u"], "x");
    let reg = root.join("registry.sqlite");
    {
        let conn = rusqlite::Connection::open(&reg).unwrap();
        conn.execute_batch("PRAGMA user_version = 999; PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
    }
    let out = cachet(root).arg("ls").assert().code(1).get_output().clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("schema version 999"), "{err}");
    // A version edited to one cachet never wrote, or to an older one than the schema
    // is: one line too (an older one was migrated again, failing on the tables there
    // with the SQL of the step), and the registry as it was.
    for (version, said) in [
        (-1, "its schema version is -1: not as cachet left it"),
        (0, "it has no schema version, yet"),
        (
            3,
            "its schema version says 3, but the schema is not that version's",
        ),
    ] {
        let conn = rusqlite::Connection::open(&reg).unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {version};"))
            .unwrap();
        let out = cachet(root).arg("ls").assert().code(1).get_output().clone();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{version}: {err}");
        assert!(err.contains(said), "{version}: {err}");
        let now: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(now, version);
    }
}

#[test]
fn altered_blob_fails_cat_and_get() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("c");
    let item = put(&root, &["u"], "original");
    let sha = item["sha256"].as_str().unwrap();
    let blob = root
        .join("blobs-v1/sha256")
        .join(&sha[..2])
        .join(&sha[2..4])
        .join(&sha[4..]);
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&blob, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&blob, "0riginal").unwrap();
    cachet(&root).args(["cat", "1"]).assert().code(1).stderr(
        predicate::str::contains("content altered: it hashes to ")
            .and(predicate::str::contains(format!(", expected {sha}"))),
    );
    fs::write(&blob, "longer than the original").unwrap();
    cachet(&root)
        .args(["cat", "1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "content altered: it holds 24 bytes, expected 8 bytes ({sha})"
        )));
    fs::write(&blob, "0riginal").unwrap();
    let dest = dir.path().join("out");
    cachet(&root)
        .args(["get", "1", "-o", dest.to_str().unwrap()])
        .assert()
        .code(1);
    assert!(!dest.exists(), "a failed check leaves no output file");
    fs::remove_file(&blob).unwrap();
    cachet(&root)
        .args(["path", "1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("missing"));
}

#[test]
fn trash_and_restore_all_versions_of_a_key() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for i in 0..3 {
        put(root, &["k"], &i.to_string());
    }
    let other = put(root, &["other"], "o");
    cachet(root).args(["trash", "2"]).assert().success();
    cachet(root)
        .args(["trash", "1", "--all-versions"])
        .assert()
        .success()
        .stdout(predicate::str::contains("@3  trashed").and(predicate::str::contains("@2").not()));
    let statuses = |root: &Path| -> Vec<String> {
        let out = cachet(root).args(["ls", "--json"]).output().unwrap();
        json_lines(&out.stdout)
            .iter()
            .map(|v| v["status"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(statuses(root), ["TRASH", "TRASH", "TRASH", "READY"]);
    cachet(root)
        .args(["restore", "3", "--all-versions"])
        .assert()
        .success();
    assert_eq!(statuses(root), ["READY", "READY", "READY", "READY"]);
    assert_eq!(other["version"], 1);
}

#[test]
fn control_characters_in_data_never_reach_the_terminal_raw() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(
        root,
        &[
            "u://evil\x07",
            "-",
            "--label",
            "red\x1b[31malert",
            "--attr",
            "note=\x1b]0;title\x07",
        ],
        "x",
    );
    for args in [&["ls"][..], &["show", "1"]] {
        let out = cachet(root)
            .args(args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.contains('\x1b') && !text.contains('\x07'),
            "{args:?}: {text:?}"
        );
        assert!(text.contains("red^[[31malert"), "{args:?}: {text}");
    }
    // JSON keeps the data exact (escaped by JSON itself).
    let out = cachet(root).args(["ls", "--json"]).output().unwrap();
    assert_eq!(json_lines(&out.stdout)[0]["label"], "red\x1b[31malert");
}

/// Keys and digests are shown abbreviated; one edited by hand to other text (shorter than
/// an abbreviation, or with characters of several bytes) is shown as it is, never a panic.
#[test]
fn keys_and_digests_edited_by_hand_are_shown_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, &["s3://b/one", "-"], "one");
    put(root, &["s3://b/two", "-"], "two");
    rusqlite::Connection::open(root.join("registry.sqlite"))
        .unwrap()
        .execute_batch(
            "UPDATE items SET key = 'aéééééééééééé', sha256 = 'é' WHERE id = 1;
             UPDATE items SET key = 'k' WHERE id = 2;",
        )
        .unwrap();
    let out = dir.path().join("out");
    let out = out.to_str().unwrap();
    for (args, shown) in [
        (&["ls", "--columns", "id,key,sha256"][..], "aééééééééé  é"),
        (&["trash", "1"], "aééééééééééé@1  trashed"),
        (&["restore", "1"], "aééééééééééé@1  restored"),
        (&["get", "2", "-o", out], "(3 B)"),
        (&["get", "2"], "k-v1 (3 B)"),
        (&["gc", "--dry-run", "--max-size", "0"], "k@1 "),
    ] {
        let done = cachet(root).current_dir(root).args(args).output().unwrap();
        let text = String::from_utf8_lossy(&done.stdout);
        assert!(done.status.success(), "{args:?}: {done:?}");
        assert!(text.contains(shown), "{args:?}: {text}");
    }
    // The altered digest is a bad blob, named as it is.
    let verified = cachet(root).arg("verify").output().unwrap();
    assert_eq!(verified.status.code(), Some(1), "{verified:?}");
    assert!(String::from_utf8_lossy(&verified.stdout).starts_with("é  items [1]"));
}

/// A stored file name is the item's data, from whoever stored it: `get` without `-o`
/// writes its last part in the current directory, never over a file there, and never
/// elsewhere through `..` or an absolute path; with `-o` the user chose, so it replaces.
#[test]
fn get_writes_only_a_plain_name_in_the_current_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("c");
    let victim = dir.path().join("victim.txt");
    fs::write(&victim, "keep me").unwrap();
    let work = dir.path().join("a/b");
    fs::create_dir_all(&work).unwrap();
    let victim_name = victim.to_str().unwrap();
    put(
        &root,
        &["s3://b/abs", "-", "--filename", victim_name],
        "abs",
    );
    put(
        &root,
        &["s3://b/up", "-", "--filename", "../../up.txt"],
        "up",
    );
    put(
        &root,
        &["s3://b/esc", "-", "--filename", "\x1b]0;x\x07"],
        "esc",
    );
    put(&root, &["s3://b/dir", "-", "--filename", "dir/"], "dir");
    put(&root, &["s3://b/blank", "-", "--filename", "  "], "blank");
    let get = |args: &[&str]| {
        cachet(&root)
            .current_dir(&work)
            .args(args)
            .output()
            .unwrap()
    };

    for (id, name, content) in [("1", "victim.txt", "abs"), ("2", "up.txt", "up")] {
        let done = get(&["get", id]);
        assert!(done.status.success(), "{done:?}");
        assert_eq!(fs::read_to_string(work.join(name)).unwrap(), content);
    }
    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
    assert!(!dir.path().join("up.txt").exists());
    // A name with control characters gives way to the key, and nothing raw is printed.
    let done = get(&["get", "3"]);
    assert!(done.status.success(), "{done:?}");
    let said = String::from_utf8_lossy(&done.stdout);
    assert!(
        !said.contains('\x1b') && said.contains("-v1 (3 B)"),
        "{said}"
    );
    // As do a name ending in a separator and a blank one.
    for id in ["4", "5"] {
        let done = get(&["get", id]);
        let said = String::from_utf8_lossy(&done.stdout);
        assert!(done.status.success() && said.contains("-v1 ("), "{done:?}");
    }
    assert_eq!(fs::read_dir(&work).unwrap().count(), 5);

    // Again: the file is there now, and stays as it is.
    fs::write(work.join("up.txt"), "mine").unwrap();
    let again = get(&["get", "2"]);
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("up.txt exists") && err.contains("-o"), "{err}");
    assert_eq!(fs::read_to_string(work.join("up.txt")).unwrap(), "mine");
    assert!(get(&["get", "2", "-o", "up.txt"]).status.success());
    assert_eq!(fs::read_to_string(work.join("up.txt")).unwrap(), "up");
    // -o a directory: into it, under the item's own name, which replaces nothing there.
    fs::create_dir(work.join("into")).unwrap();
    assert!(get(&["get", "2", "-o", "into"]).status.success());
    assert_eq!(fs::read_to_string(work.join("into/up.txt")).unwrap(), "up");
    let twice = get(&["get", "2", "-o", "into/"]);
    assert_eq!(twice.status.code(), Some(1), "{twice:?}");
    // Made as any new file is (the umask decides), not private as temporary files are.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    fs::write(work.join("probe"), "").unwrap();
    assert_eq!(mode(&work.join("into/up.txt")), mode(&work.join("probe")));
    // A directory that is not there is named; `-o -` is stdout.
    for missing in ["nowhere/", "nowhere/x.txt"] {
        let done = get(&["get", "2", "-o", missing]);
        let err = String::from_utf8_lossy(&done.stderr);
        assert!(
            err.contains("nowhere: no such directory")
                || err.contains("nowhere/: no such directory"),
            "{err}"
        );
        assert!(!err.contains(".tmp"), "{err}");
    }
    let out = get(&["get", "2", "-o", "-"]);
    assert_eq!(out.stdout, b"up");
    assert!(!work.join("-").exists());
}

/// Table cells are padded by hand: `format!` widths stop at 65,535 characters.
#[test]
fn a_cell_longer_than_any_format_width_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("s3://b/{}", "x".repeat(70_000));
    put(dir.path(), &[&uri, "-"], "long");
    let done = cachet(dir.path())
        .args(["ls", "--columns", "uri,id"])
        .output()
        .unwrap();
    assert!(done.status.success(), "{:?}", done.status);
    let text = String::from_utf8_lossy(&done.stdout);
    assert!(
        text.lines().nth(1).unwrap().ends_with("x  1"),
        "{}",
        &text[..80]
    );
}

/// Columns line up by the columns of the terminal their text takes: a CJK label takes
/// two a character.
#[test]
fn wide_characters_keep_the_columns_in_line() {
    let dir = tempfile::tempdir().unwrap();
    put(
        dir.path(),
        &["s3://b/one", "-", "--label", "東京の地図"],
        "one",
    );
    put(dir.path(), &["s3://b/two", "-", "--label", "map"], "two");
    let done = cachet(dir.path())
        .args(["ls", "--columns", "label,id"])
        .output()
        .unwrap();
    assert!(done.status.success(), "{:?}", done.status);
    let text = String::from_utf8_lossy(&done.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[1..], ["東京の地図  1", "map         2"], "{text}");
}

/// Trashing an item while its writer is at work says what that does to the write; the
/// writer's commit then fails, and the item is not made READY behind the user's back.
#[test]
fn trashing_an_item_mid_write_says_its_write_fails() {
    let dir = tempfile::tempdir().unwrap();
    let cache = cachet::Cache::open(dir.path()).unwrap();
    let mut writer = cache.create(&cachet::NewItem::new("s3://b/big")).unwrap();
    std::io::Write::write_all(&mut writer, b"half").unwrap();
    let id = writer.item().id.to_string();
    let done = cachet(dir.path()).args(["trash", &id]).output().unwrap();
    assert!(done.status.success(), "{done:?}");
    let said = String::from_utf8_lossy(&done.stdout);
    assert!(said.contains("trashed mid-write"), "{said}");
    assert!(writer.commit().is_err(), "the commit fails");
    let item = cache.get(id.parse().unwrap()).unwrap();
    assert_eq!(item.status, cachet::Status::Trash);
}

/// A URI with a colon and no `//` (`manifest:model`, as manifests are named by default,
/// `urn:isbn:…`) names its item in trash, restore and pin, as in show: it was taken for a
/// filter on an attribute `manifest`, which matched nothing, and nothing changed.
#[test]
fn a_uri_that_reads_like_a_filter_names_its_item() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, &["manifest:model", "-"], "m");
    put(root, &["s3://b/other", "-"], "o");
    for (command, status, pinned) in [
        ("pin", "READY", true),
        ("trash", "TRASH", true),
        ("restore", "READY", true),
        ("unpin", "READY", false),
    ] {
        let done = cachet(root)
            .args([command, "manifest:model"])
            .output()
            .unwrap();
        assert!(done.status.success(), "{command}: {done:?}");
        let item = &json_lines(
            &cachet(root)
                .args(["show", "1", "--json"])
                .output()
                .unwrap()
                .stdout,
        )[0];
        assert_eq!(
            (item["status"].as_str(), item["pinned"].as_bool()),
            (Some(status), Some(pinned)),
            "{command}"
        );
    }
    // A filter is still a filter.
    cachet(root)
        .args(["trash", "uri~*other"])
        .assert()
        .success();
    let other = &json_lines(
        &cachet(root)
            .args(["show", "2", "--json"])
            .output()
            .unwrap()
            .stdout,
    )[0];
    assert_eq!(other["status"], "TRASH");
}

/// A directory given to put is refused before anything is made: it left a FAILED version
/// of the key behind, one more at every try.
#[test]
fn putting_a_directory_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("folder");
    fs::create_dir(&folder).unwrap();
    let root = dir.path().join("cache");
    let done = cachet(&root)
        .args(["put", "s3://b/folder"])
        .arg(&folder)
        .output()
        .unwrap();
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    let err = String::from_utf8_lossy(&done.stderr);
    assert!(err.contains("folder: is a directory"), "{err}");
    let listed = cachet(&root).args(["ls", "--json"]).output().unwrap();
    assert!(json_lines(&listed.stdout).is_empty(), "nothing registered");
}

/// The commands that take a filter tell its language in their long help.
#[test]
fn filter_commands_tell_the_filter_language() {
    let dir = tempfile::tempdir().unwrap();
    for command in [
        "ls", "count", "trash", "restore", "purge", "fail", "pin", "unpin",
    ] {
        let done = cachet(dir.path())
            .args([command, "--help"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&done.stdout);
        assert!(
            text.contains("Filters:") && text.contains("created<7d"),
            "{command}: {text}"
        );
    }
}

/// Trashing or purging a pinned item goes through (a pin holds off gc, not the user), and
/// says the item was pinned.
#[test]
fn trash_and_purge_say_when_an_item_was_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, &["s3://b/keep", "-"], "k");
    cachet(root).args(["pin", "1"]).assert().success();
    let trashed = cachet(root).args(["trash", "1"]).output().unwrap();
    let said = String::from_utf8_lossy(&trashed.stdout);
    assert!(
        said.contains("trashed (pinned: gc never purges it from the trash)"),
        "{said}"
    );
    let purged = cachet(root).args(["purge", "1", "--yes"]).output().unwrap();
    assert!(purged.status.success(), "{purged:?}");
    let said = String::from_utf8_lossy(&purged.stdout);
    assert!(said.contains("(it was pinned)"), "{said}");
}

/// A flag's value that does not read is a usage error, exit 2, named by its flag, as a
/// filter that does not parse is: a sort, a cursor, an age, a size.
#[test]
fn a_bad_flag_value_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, &["s3://b/one", "-"], "one");
    for (args, said) in [
        (
            &["ls", "--sort", "size:bogus"][..],
            "for '--sort <FIELD[:desc]>'",
        ),
        (
            &["ls", "--after", "garbage"][..],
            "not a cursor printed by cachet",
        ),
        (
            &["gc", "--dry-run", "--max-age", "bogus"][..],
            "is not a duration like",
        ),
        (
            &["gc", "--dry-run", "--max-size", "lots"][..],
            "is not a size like",
        ),
        (
            &["gc", "--dry-run", "--trash", "7x"][..],
            "for '--trash [<AGE>]'",
        ),
    ] {
        let done = cachet(root).args(args).output().unwrap();
        assert_eq!(done.status.code(), Some(2), "{args:?}: {done:?}");
        let err = String::from_utf8_lossy(&done.stderr);
        assert!(err.contains(said), "{args:?}: {err}");
    }
    cachet(root)
        .args(["gc", "--dry-run", "--trash", "--stale"])
        .assert()
        .success();
}

/// A blank reference (an empty shell variable) is no filter that matches everything: it
/// is refused before anything changes. An item named twice is changed once.
#[test]
fn blank_references_are_refused_and_repeated_ones_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, &["s3://b/one", "-"], "one");
    put(root, &["s3://b/two", "-"], "two");
    for command in ["trash", "purge", "restore", "fail", "pin"] {
        let done = cachet(root).args([command, "1", " "]).output().unwrap();
        assert_eq!(done.status.code(), Some(2), "{command}: {done:?}");
        let err = String::from_utf8_lossy(&done.stderr);
        assert!(err.contains("cannot be blank"), "{command}: {err}");
    }
    // Where one item is taken, too.
    for command in ["show", "cat", "get", "path", "preview"] {
        let done = cachet(root).args([command, ""]).output().unwrap();
        assert_eq!(done.status.code(), Some(2), "{command}: {done:?}");
    }
    let listed = cachet(root).args(["ls", "--json"]).output().unwrap();
    let items = json_lines(&listed.stdout);
    assert!(
        items
            .iter()
            .all(|i| i["status"] == "READY" && i["pinned"] == false)
    );

    let key = items[0]["key"].as_str().unwrap();
    let done = cachet(root)
        .args(["trash", "1", "1", &key[..8]])
        .output()
        .unwrap();
    assert!(done.status.success(), "{done:?}");
    assert_eq!(String::from_utf8_lossy(&done.stdout).lines().count(), 1);
}

/// A row the registry cannot give as an item (edited by hand) is named in the error: the
/// item and the column, in one line; a listing still lists the other rows.
#[test]
fn an_unreadable_row_is_named_by_item_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, &["s3://b/one", "-"], "one");
    put(root, &["s3://b/two", "-"], "two");
    let registry = rusqlite::Connection::open(root.join("registry.sqlite")).unwrap();
    for (edit, said) in [
        ("params = '[1'", "item 2, column params: "),
        (
            "access_count = 1.5",
            "item 2, column access_count: a value of type Real",
        ),
        (
            "uri = CAST(X'ff' AS TEXT)",
            "item 2, column uri: not UTF-8 text",
        ),
    ] {
        registry
            .execute_batch(&format!(
                "UPDATE items SET params = '{{}}', access_count = 0, uri = 's3://b/two';
                 UPDATE items SET {edit} WHERE id = 2;"
            ))
            .unwrap();
        let done = cachet(root).args(["show", "2"]).output().unwrap();
        assert_eq!(done.status.code(), Some(1), "{edit}: {done:?}");
        let err = String::from_utf8_lossy(&done.stderr);
        assert!(
            err.contains(said) && err.lines().count() == 1,
            "{edit}: {err}"
        );
        // A listing names it and still lists the others, then fails.
        let done = cachet(root)
            .args(["ls", "--columns", "id,uri"])
            .output()
            .unwrap();
        assert_eq!(done.status.code(), Some(1), "{edit}: {done:?}");
        let err = String::from_utf8_lossy(&done.stderr);
        assert!(err.contains(said), "{edit}: {err}");
        assert!(err.ends_with("1 item could not be read\n"), "{edit}: {err}");
        let listed = String::from_utf8_lossy(&done.stdout);
        assert_eq!(listed, "ID  URI\n1   s3://b/two\n", "{edit}");
    }
    // An attribute holding what its type cannot: the same, naming the attribute.
    registry
        .execute_batch("UPDATE items SET params = '{}', access_count = 0, uri = 's3://b/two'")
        .unwrap();
    cachet(root)
        .args(["attr", "set", "2", "n=3"])
        .assert()
        .success();
    registry
        .execute("UPDATE attrs SET value = 'abc' WHERE item_id = 2", [])
        .unwrap();
    let said = "attribute 'n' of item 2: is of type int, but holds the text 'abc'";
    cachet(root)
        .args(["show", "2"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(said));
    cachet(root)
        .args(["ls", "--columns", "id,uri"])
        .assert()
        .code(1)
        .stdout("ID  URI\n1   s3://b/two\n")
        .stderr(predicate::str::contains(said));
}

/// What a purge says of the content: freed, still used by another item, or none at all.
#[test]
fn purge_says_what_became_of_the_content() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, &["s3://b/one", "-"], "same");
    put(root, &["s3://b/two", "-"], "same");
    put(root, &["s3://b/three", "-"], "other");
    cachet(root).args(["trash", "1", "3"]).assert().success();
    rusqlite::Connection::open(root.join("registry.sqlite"))
        .unwrap()
        .execute_batch(
            "UPDATE items SET status = 'TRASH', trashed_from = 'UNINITIALIZED', sha256 = NULL,
                              size = NULL WHERE id = 3",
        )
        .unwrap();
    let purged = cachet(root).args(["purge", "1", "3"]).output().unwrap();
    let said = String::from_utf8_lossy(&purged.stdout);
    let lines: Vec<&str> = said.lines().collect();
    assert!(
        lines[0].ends_with("purged (content still used by another item)"),
        "{said}"
    );
    assert!(lines[1].ends_with("purged (it had no content)"), "{said}");
    cachet(root).args(["trash", "2"]).assert().success();
    cachet(root)
        .args(["purge", "2"])
        .assert()
        .success()
        .stdout(predicate::str::contains("purged, freed 4 B"));
}

/// Runs `cachet ARGS` in `cwd` with its output's reader gone before it writes a thing
/// (and an import line on stdin).
fn unread(root: &Path, cwd: &Path, args: &[&str]) -> std::process::Output {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("cachet"))
        .args(args)
        .env("CACHET_ROOT", root)
        .current_dir(cwd)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        let _ = writeln!(stdin, r#"{{"uri": "s3://b/imported", "text": "x"}}"#);
    }
    child.wait_with_output().unwrap()
}

/// A reader that goes away (`cachet verify | head -1`, a pager quit early) ends each
/// command quietly: no panic (`verify`, `path`, `import` and gc's report panicked, exit
/// 101, gc after it had applied its plan). A plan that could not be shown is not applied.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let item = put(root, &["s3://b/pipe"], "content");
    let id = item["id"].to_string();
    let out_dir = tempfile::tempdir().unwrap();
    let runs: [&[&str]; 10] = [
        &["verify"],
        &["path", &id],
        &["gc", "--yes"],
        &["import", "-"],
        &["pin", &id],
        &["du"],
        &["ls"],
        &["cat", &id],
        &["show", &id],
        &["preview", &id],
    ];
    for args in runs {
        if args[0] == "gc" {
            let again = put(root, &["s3://b/pipe-2"], "other");
            cachet(root)
                .args(["trash", &again["id"].to_string()])
                .assert()
                .success();
        }
        let out = unread(root, out_dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
    let left = cachet(root)
        .args(["count", "status:trash"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&left.stdout).trim(), "1");

    // Pinning many: every item changed, though the lines stop at the first.
    let pinned = unread(root, out_dir.path(), &["pin", "uri~s3://b/"]);
    assert_eq!(pinned.status.code(), Some(0));
    let count = |filter: &str| {
        let out = cachet(root).args(["count", filter]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(count("pinned"), count("uri~s3://b/"));
    assert_ne!(count("pinned"), "1");

    // What verify found decides its exit, read or not.
    let path = cachet(root).args(["path", &id]).output().unwrap();
    let blob = std::path::PathBuf::from(String::from_utf8_lossy(&path.stdout).trim());
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&blob, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&blob, "altered").unwrap();
    let out = unread(root, out_dir.path(), &["verify"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

/// An item is also named by its URI (when its items have one set of params), in the
/// commands that take one item and in those that take many; `uri=…` stays a filter.
#[test]
fn a_uri_names_its_item() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("c");
    put(root.as_path(), &["s3://bucket/model.bin", "-"], "v1");
    let v2 = put(root.as_path(), &["s3://bucket/model.bin", "-"], "v2");
    cachet(&root)
        .args(["cat", "s3://bucket/model.bin"])
        .assert()
        .success()
        .stdout("v2");
    cachet(&root)
        .args(["trash", "s3://bucket/model.bin"])
        .assert()
        .success()
        .stdout(predicate::str::contains("@2  trashed"));
    let id = v2["id"].as_i64().unwrap();
    cachet(&root)
        .args(["show", "s3://bucket/model.bin", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("\"id\":{id}")));
    cachet(&root)
        .args(["restore", "uri=s3://bucket/model.bin", "status:trash"])
        .assert()
        .success()
        .stdout(predicate::str::contains("restored to READY"));
    cachet(&root)
        .args(["cat", "s3://bucket/other.bin"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no item has that URI"));
}

/// Errors and notes that cannot be written (stderr full or closed) are dropped: the exit
/// code still tells (it was 101, a panic in `eprintln!`).
#[test]
fn an_unwritable_stderr_is_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("c");
    put(&root, &["s3://b/x"], "x");
    let runs: [(&[&str], i32); 3] = [
        (&["show", "999"], 1),
        (&["ls", "size>("], 2),
        // A note on stderr, then the listing.
        (&["ls", "nosuchattr=1"], 0),
    ];
    for (args, code) in runs {
        let full = fs::File::create("/dev/full").unwrap();
        let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("cachet"))
            .args(args)
            .env("CACHET_ROOT", &root)
            .stderr(full)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
    }
}

/// A blob replaced by a FIFO is an altered blob: `verify`, `cat` and `preview` say so
/// (verify waited for a writer forever).
#[cfg(unix)]
#[test]
fn a_fifo_in_place_of_a_blob_is_reported_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("c");
    let item = put(&root, &["s3://b/empty"], "");
    let path = cachet::Cache::open(&root)
        .unwrap()
        .blobs()
        .path(item["sha256"].as_str().unwrap())
        .unwrap();
    fs::remove_file(&path).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success());
    let id = item["id"].to_string();
    for args in [&["cat", &id][..], &["preview", &id], &["verify"]] {
        let out = cachet(&root)
            .args(args)
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        // verify names each bad blob on stdout, the others fail with it.
        let said = [out.stdout, out.stderr].concat();
        let said = String::from_utf8_lossy(&said);
        assert!(said.contains("not a regular file"), "{args:?}: {said}");
    }
}

/// A row edited by hand: verify goes on without a size (it only counts towards the
/// progress), gc names the item it cannot plan for (it named a column only).
#[test]
fn verify_and_gc_name_or_pass_a_row_edited_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, &["s3://b/one", "-"], "one");
    put(root, &["s3://b/two", "-"], "two");
    let registry = rusqlite::Connection::open(root.join("registry.sqlite")).unwrap();
    // Past the table's checks, as an edit by hand may be.
    registry
        .execute_batch(
            "PRAGMA ignore_check_constraints = 1;
             UPDATE items SET size = NULL WHERE id = 1;",
        )
        .unwrap();
    cachet(root)
        .arg("verify")
        .assert()
        .success()
        .stdout(predicate::str::contains("2 blobs"));
    registry
        .execute(
            "UPDATE items SET status = 'WRITE', lease_expires = 'soon' WHERE id = 2",
            [],
        )
        .unwrap();
    cachet(root)
        .args(["gc", "--dry-run"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("item 2: cannot be read"));
}

/// A root that is a file is said to be one (it was "File exists (os error 17)").
#[test]
fn a_root_that_is_a_file_is_said_to_be_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    fs::write(&file, "x").unwrap();
    cachet(&file)
        .args(["put", "u", "-"])
        .write_stdin("x")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is a file, not a directory"));
    assert_eq!(fs::read(&file).unwrap(), b"x");
}

/// A mistyped root that is someone's folder is refused, and left as it was.
#[test]
fn a_cache_is_not_started_in_a_folder_of_other_files() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("thesis.tex"), "x").unwrap();
    cachet(dir.path())
        .args(["put", "u", "-"])
        .write_stdin("x")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "holds no cache but other files (thesis.tex)",
        ));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

/// An attribute named as a filter's own field is set, with a note on how to filter it.
#[test]
fn an_attribute_named_as_a_field_is_set_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, &["s3://b/one", "-"], "one");
    cachet(root)
        .args(["attr", "set", "1", "size=9", "rows=3"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "filter this attribute as attr.size",
        ))
        .stderr(predicate::str::contains("rows").not());
    cachet(root)
        .args(["count", "attr.size=9"])
        .assert()
        .success()
        .stdout("1\n");
}

/// Sizes edited by hand up to the largest integer: `du` still adds them up (SQLite's
/// integer `sum` failed with an overflow).
#[test]
fn du_adds_up_sizes_past_what_an_integer_holds() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, &["s3://b/one", "-"], "one");
    put(root, &["s3://b/two", "-"], "two");
    rusqlite::Connection::open(root.join("registry.sqlite"))
        .unwrap()
        .execute("UPDATE items SET size = 9223372036854775807", [])
        .unwrap();
    for by in ["status", "key"] {
        cachet(root)
            .args(["du", "--by", by])
            .assert()
            .success()
            .stdout(predicate::str::contains("EiB"));
    }
}

/// A value of another type than its attribute has on other items is stored, with a note
/// that it is compared as its own type. An int where floats are is a number all the same:
/// no note.
#[test]
fn put_notes_an_attribute_of_another_type_than_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, &["u://a", "-", "--attr", "score=0.5"], "a");
    let note = "attribute 'score' has been float so far, and 'high' is text: filters and \
                sorts compare it as text, apart from the others (score:float=VALUE gives the type)";
    cachet(root)
        .args(["put", "u://b", "-", "--attr", "score=high"])
        .write_stdin("b")
        .assert()
        .success()
        .stderr(predicate::str::contains(note));
    cachet(root)
        .args(["put", "u://c", "-", "--attr", "score=3"])
        .write_stdin("c")
        .assert()
        .success()
        .stderr(predicate::str::is_empty());
    cachet(root)
        .args(["attr", "set", "3", "score=true"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "attribute 'score' has been int or float or text so far, and 'true' is bool: \
             filters and sorts compare it as bool, apart from the others (score:TYPE=VALUE",
        ));
}

/// A version that is not there says which versions of the key are: one purged reads
/// differently from a typo.
#[test]
fn a_missing_version_names_the_versions_there_are() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let v1 = put(root, &["u://x", "-"], "one");
    put(root, &["u://x", "-"], "two");
    let key = v1["key"].as_str().unwrap().to_string();
    let id = v1["id"].to_string();
    cachet(root).args(["trash", &id]).assert().success();
    cachet(root)
        .args(["purge", &id, "--yes"])
        .assert()
        .success();
    cachet(root)
        .args(["get", &format!("{}@1", &key[..10]), "-o", "-"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "not found: {key}@1 (the key has version 2 only)"
        )));
}
