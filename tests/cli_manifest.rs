//! `cachet manifest …` end to end.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn cachet(root: &Path) -> Command {
    let mut cmd = Command::cargo_bin("cachet").unwrap();
    cmd.env("CACHET_ROOT", root);
    cmd
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out).unwrap()
}

#[test]
fn create_show_ls_cat_verify_append_compact_trash() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let data = dir.path().join("data");
    for i in 0..25 {
        let sub = data.join(if i < 5 { "val" } else { "train" });
        fs::create_dir_all(&sub).unwrap();
        fs::write(sub.join(format!("{i:02}.txt")), format!("sample {i}\n")).unwrap();
    }
    let created = stdout(cachet(&root).args([
        "manifest",
        "create",
        data.to_str().unwrap(),
        "--type",
        "dataset",
        "--shard-max-entries",
        "10",
        "--json",
    ]));
    let created: serde_json::Value = serde_json::from_str(created.trim()).unwrap();
    assert_eq!(created["files"], 25);
    assert_eq!(created["shards"], 3);
    let id = created["id"].to_string();

    let shown = stdout(cachet(&root).args(["manifest", "show", &id]));
    assert!(shown.contains("(dataset, schema 1)"), "{shown}");
    // `show` says the item is a manifest, and where to look inside.
    let item = stdout(cachet(&root).args(["show", &id]));
    assert!(
        item.contains("manifest     dataset, 3 entries linking"),
        "{item}"
    );
    assert!(
        item.contains(&format!("(cachet manifest show {id})")),
        "{item}"
    );
    assert_eq!(shown.matches("shard ").count(), 3, "{shown}");
    // Expanded, each shard's line stays, as the head of its members, one level out.
    let expanded = stdout(cachet(&root).args(["manifest", "show", &id, "--expand"]));
    let lines: Vec<&str> = expanded.lines().skip(1).collect();
    let heads = lines.iter().filter(|l| l.starts_with("shard ")).count();
    let members = lines.iter().filter(|l| l.starts_with("  file ")).count();
    assert_eq!((heads, members, lines.len()), (3, 25, 28), "{expanded}");
    assert!(lines[0].starts_with("shard ") && lines[0].ends_with("(expanded)"));
    let val = stdout(cachet(&root).args(["manifest", "ls", &id, "--prefix", "val/"]));
    assert_eq!(val.lines().count(), 5, "{val}");
    cachet(&root)
        .args(["manifest", "cat", &id, "train/17.txt"])
        .assert()
        .success()
        .stdout("sample 17\n");
    cachet(&root)
        .args(["manifest", "cat", &id, "train/99.txt"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("entry 'train/99.txt'"));
    cachet(&root)
        .args(["manifest", "verify", &id, "--deep"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            " and 25 shard members checked, 0 problems",
        ));
    cachet(&root)
        .args(["manifest", "verify", &id])
        .assert()
        .success()
        .stdout(predicate::str::contains("shard").not());

    let extra = dir.path().join("extra.txt");
    fs::write(&extra, "late addition\n").unwrap();
    let entries = dir.path().join("more.ndjson");
    fs::write(
        &entries,
        "{\"kind\":\"file\",\"key\":\"late/extra.txt\",\"path\":\"extra.txt\"}\n",
    )
    .unwrap();
    let appended = stdout(cachet(&root).args([
        "manifest",
        "append",
        &id,
        "--from",
        entries.to_str().unwrap(),
        "--json",
    ]));
    let appended: serde_json::Value = serde_json::from_str(appended.trim()).unwrap();
    assert_eq!(appended["version"], 2);
    let v2 = appended["id"].to_string();
    cachet(&root)
        .args(["manifest", "cat", &v2, "late/extra.txt"])
        .assert()
        .success()
        .stdout("late addition\n");
    let raw = stdout(cachet(&root).args(["manifest", "show", &v2, "--no-resolve"]));
    assert!(raw.contains("manifest_ref"), "{raw}");
    // Followed, the ref's line names it above the entries it leads to.
    let followed = stdout(cachet(&root).args(["manifest", "show", &v2]));
    let head = followed
        .lines()
        .position(|l| l.ends_with("parts/part-00001.jsonl  (followed)"));
    let entry = followed.lines().position(|l| l.ends_with("late/extra.txt"));
    assert!(head.is_some() && head.map(|h| h + 1) == entry, "{followed}");
    let compacted = stdout(cachet(&root).args(["manifest", "compact", &v2, "--json"]));
    let compacted: serde_json::Value = serde_json::from_str(compacted.trim()).unwrap();
    let v3 = compacted["id"].to_string();
    let flat = stdout(cachet(&root).args(["manifest", "show", &v3, "--no-resolve"]));
    assert!(!flat.contains("manifest_ref"), "{flat}");
    assert_eq!(flat.matches("shard ").count(), 3);

    cachet(&root)
        .args(["manifest", "trash", &v3])
        .assert()
        .success()
        .stdout(predicate::str::contains("trashed 1 item ("));
}

#[test]
fn verify_fails_on_altered_shards_and_show_reports_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let data = dir.path().join("data");
    fs::create_dir_all(&data).unwrap();
    fs::write(data.join("a.txt"), "a").unwrap();
    fs::write(data.join("b.txt"), "b").unwrap();
    let created = stdout(cachet(&root).args([
        "manifest",
        "create",
        data.to_str().unwrap(),
        "--shard-max-entries",
        "5",
        "--no-gzip",
        "--json",
    ]));
    let created: serde_json::Value = serde_json::from_str(created.trim()).unwrap();
    let id = created["id"].to_string();
    let line = stdout(cachet(&root).args(["manifest", "show", &id, "--json"]));
    let shard: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    let sha = shard["sha256"].as_str().unwrap();
    let blob = root
        .join("blobs-v1/sha256")
        .join(&sha[..2])
        .join(&sha[2..4])
        .join(&sha[4..]);
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&blob, fs::Permissions::from_mode(0o644)).unwrap();
    let mut bytes = fs::read(&blob).unwrap();
    let last = bytes.len() - 2000;
    bytes[last] ^= 1;
    fs::write(&blob, bytes).unwrap();
    cachet(&root)
        .args(["manifest", "verify", &id])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("shards/shard-00001.tar"))
        .stderr(predicate::str::contains("1 problem\n"));

    // A raw JSONL put as an item: the bad line is reported with its number, the good ones
    // are still shown.
    let raw =
        "{\"kind\":\"file\",\"key\":\"good1\"}\n{oops\n{\"kind\":\"file\",\"key\":\"good2\"}\n";
    let put = stdout(
        cachet(&root)
            .args(["put", "raw://m", "-", "--json"])
            .write_stdin(raw),
    );
    let put: serde_json::Value = serde_json::from_str(put.trim()).unwrap();
    cachet(&root)
        .args(["manifest", "show", &put["id"].to_string()])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("good1").and(predicate::str::contains("good2")))
        .stderr(predicate::str::contains(":2: invalid JSON"));
}

/// A key twice in a `--from` file names two contents for one path (a reader would only
/// ever find the first): refused, at the second line, naming the first.
#[test]
fn a_key_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let entries = dir.path().join("twice.ndjson");
    fs::write(
        &entries,
        "{\"kind\":\"file\",\"key\":\"x.txt\",\"path\":\"twice.ndjson\"}\n\
         {\"kind\":\"file\",\"key\":\"y.txt\",\"path\":\"twice.ndjson\"}\n\
         {\"kind\":\"file\",\"key\":\"x.txt\",\"path\":\"twice.ndjson\"}\n",
    )
    .unwrap();
    cachet(&root)
        .args(["manifest", "create", "--from", entries.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("twice.ndjson:3:")
                .and(predicate::str::contains("key 'x.txt' is on line 1 already")),
        );
    let ls = stdout(cachet(&root).args(["ls", "--json"]));
    assert!(ls.is_empty(), "no manifest: {ls}");
}

#[test]
fn traversal_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let entries = dir.path().join("evil.ndjson");
    fs::write(
        &entries,
        "{\"kind\":\"file\",\"key\":\"../../etc/passwd\"}\n",
    )
    .unwrap();
    cachet(&root)
        .args(["manifest", "create", "--from", entries.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("evil.ndjson:1:").and(predicate::str::contains("'..'")));
    let ls = stdout(cachet(&root).args(["ls", "--json"]));
    assert!(ls.is_empty());
}

#[test]
fn an_item_that_is_no_manifest_is_refused_in_one_line_and_a_put_jsonl_one_reads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let csv = dir.path().join("table.csv");
    fs::write(&csv, "a,b\n1,2\n3,4\n").unwrap();
    cachet(&root)
        .args(["put", "file://table.csv", csv.to_str().unwrap()])
        .assert()
        .success();
    cachet(&root)
        .args(["manifest", "show", "1"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            predicate::str::contains("item 1 (file://table.csv) is not a manifest")
                .and(predicate::str::contains("error").count(1)),
        );

    // A plain s3exchange-style manifest stored as an ordinary item still reads.
    let jsonl = dir.path().join("m.jsonl");
    fs::write(
        &jsonl,
        "{\"kind\":\"file\",\"key\":\"a.txt\",\"size_bytes\":3}\n",
    )
    .unwrap();
    cachet(&root)
        .args(["put", "file://m.jsonl", jsonl.to_str().unwrap()])
        .assert()
        .success();
    let shown = stdout(cachet(&root).args(["manifest", "show", "2"]));
    assert!(shown.contains("a.txt"), "{shown}");
}
