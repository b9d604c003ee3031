//! `cachet ls FILTER`, `cachet count`, and filters as selections for trash/restore/pin.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value as Json;

fn cachet(root: &Path) -> Command {
    let mut cmd = Command::cargo_bin("cachet").unwrap();
    cmd.env("CACHET_ROOT", root);
    cmd
}

fn lines(out: &[u8]) -> Vec<Json> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ids(root: &Path, args: &[&str]) -> Vec<i64> {
    let out = cachet(root)
        .arg("ls")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines(&out.stdout)
        .iter()
        .map(|v| v["id"].as_i64().unwrap())
        .collect()
}

/// `cachet put ARGS... -` with a byte of content from stdin.
fn put(root: &Path, args: &[&str]) {
    cachet(root)
        .arg("put")
        .args(args)
        .arg("-")
        .write_stdin("x")
        .assert()
        .success();
}

/// `ndjson` in a file of its own, outside the cache root (a cache starts only in an
/// empty directory).
fn ndjson_file(ndjson: &str) -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .suffix(".ndjson")
        .tempfile()
        .unwrap();
    std::fs::write(file.path(), ndjson).unwrap();
    file
}

fn fill(root: &Path) {
    let mut ndjson = String::new();
    for i in 1..=12 {
        ndjson.push_str(&format!(
            "{{\"uri\": \"s3://b/f{i}.csv\", \"attrs\": {{\"project\": \"p{}\", \"batch\": {i}, \"score\": 0.{i:02}}}, \"text\": \"c{i}\"}}\n",
            i % 3
        ));
    }
    let file = ndjson_file(&ndjson);
    cachet(root)
        .args(["import", file.path().to_str().unwrap()])
        .assert()
        .success();
}

#[test]
fn ls_filters_sorts_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fill(root);
    assert_eq!(ids(root, &["project=p1", "batch>=4"]), [4, 7, 10]);
    assert_eq!(
        ids(root, &["project=p1 batch>=4", "--sort", "-batch"]),
        [10, 7, 4]
    );
    assert_eq!(ids(root, &["project=p0 | batch<2"]), [1, 3, 6, 9, 12]);
    assert_eq!(ids(root, &["!project=p0", "--limit", "2"]), [1, 2]);
    let out = cachet(root)
        .args(["ls", "--sort", "-score", "--limit", "3", "--json"])
        .output()
        .unwrap();
    assert_eq!(lines(&out.stdout).len(), 3);
    let err = String::from_utf8_lossy(&out.stderr);
    let cursor = err.trim().rsplit(' ').next().unwrap().to_string();
    assert!(err.contains("--after"), "{err}");
    let next = ids(
        root,
        &["--sort", "-score", "--limit", "3", "--after", &cursor],
    );
    assert_eq!(next, [9, 8, 7]);
    cachet(root)
        .args(["ls", "project=p1", "--columns", "id,batch,project"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "ID  BATCH  PROJECT\n1   1      p1\n4   4",
        ))
        .stderr("");
    // Built-ins in capitals, as the header writes them, are the built-ins.
    cachet(root)
        .args(["ls", "project=p1", "--columns", "ID,Batch,VERSION"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "ID  BATCH  VERSION\n1          1\n",
        ));
    // Times as times; AGE says how long ago.
    cachet(root)
        .args(["ls", "--columns", "id,age,created,accessed", "--limit", "1"])
        .assert()
        .success()
        .stdout(
            predicate::str::is_match(
                r"^ID  AGE +CREATED +ACCESSED\n1 +\d+[smhd] +\d{4}-\d\d-\d\d \d\d:\d\d +-\n$",
            )
            .unwrap(),
        );
    // A column nothing has is listed empty, and said so (a typo, most likely).
    cachet(root)
        .args(["ls", "--columns", "id,sze,batchh,help", "--limit", "1"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "no column or attribute is named 'sze', so its column is empty; did you mean 'size'?",
        ))
        .stderr(predicate::str::contains(
            "'batchh', so its column is empty; did you mean 'batch'?",
        ))
        .stderr(predicate::str::contains("'help', so its column is empty\n"));
    // NAME is the label, else the URI: what the browser shows too.
    put(root, &["s3://b/labelled.csv", "--label", "Run two"]);
    cachet(root)
        .args(["ls", "--columns", "id,name", "id<=1 | label~run"])
        .assert()
        .success()
        .stdout("ID  NAME\n1   s3://b/f1.csv\n13  Run two\n");
}

#[test]
fn filter_errors_point_at_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fill(root);
    cachet(root)
        .args(["ls", "batch>=x"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("batch is int, got 'x'")
                .and(predicate::str::contains("         ^")),
        );
    cachet(root)
        .args(["ls", "projct=p1"])
        .assert()
        .success()
        .stderr(predicate::str::contains("did you mean 'project'"));
    // A sort by a name no item has is in id order (descending for `-`), and says so.
    cachet(root)
        .args(["ls", "--sort", "-scre"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "no attribute is named 'scre', so the list is in descending id order; \
             did you mean 'score'?",
        ));
    cachet(root)
        .args(["ls", "--sort", "scre"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "no attribute is named 'scre', so the list is in id order; did you mean 'score'?",
        ));
    // The name column is no field: what it shows is said instead of a spelling near it.
    cachet(root)
        .args(["ls", "--sort", "name"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "no attribute is named 'name', so the list is in id order; the name column shows \
             the label, else the URI: sort by 'label' or 'uri'\n",
        ));
    // A param named as an attribute is suggested by its full name.
    put(root, &["s3://b/p.csv", "--param", "region=eu"]);
    cachet(root)
        .args(["ls", "region=eu"])
        .assert()
        .success()
        .stderr(predicate::str::contains("did you mean 'param.region'?"));
    cachet(root)
        .args(["ls", "(status:ready"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("^"));
    // A name no item holds any more is suggested no more.
    put(root, &["s3://b/tagged.csv", "--attr", "reviewer=ana"]);
    cachet(root)
        .args(["ls", "reviewr=ana"])
        .assert()
        .success()
        .stderr(predicate::str::contains("did you mean 'reviewer'"));
    let tagged = ids(root, &["reviewer=ana"]);
    cachet(root)
        .args(["attr", "rm", &tagged[0].to_string(), "reviewer"])
        .assert()
        .success();
    cachet(root)
        .args(["ls", "reviewr=ana"])
        .assert()
        .success()
        .stderr(predicate::str::contains("no attribute is named 'reviewr'"))
        .stderr(predicate::str::contains("did you mean").not());
}

#[test]
fn count_and_count_by_status() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fill(root);
    let out = cachet(root)
        .args(["count", "project=p2", "--json"])
        .output()
        .unwrap();
    assert_eq!(lines(&out.stdout)[0]["count"], 4);
    cachet(root).args(["trash", "1", "2"]).assert().success();
    let out = cachet(root)
        .args(["count", "--by", "status", "--json"])
        .output()
        .unwrap();
    let by: Vec<(String, i64)> = lines(&out.stdout)
        .iter()
        .map(|v| {
            (
                v["status"].as_str().unwrap().to_string(),
                v["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(by.contains(&("READY".into(), 10)), "{by:?}");
    assert!(by.contains(&("TRASH".into(), 2)), "{by:?}");

    // A writer that died: stale, and still one of the WRITE items.
    rusqlite::Connection::open(root.join("registry.sqlite"))
        .unwrap()
        .execute(
            "UPDATE items SET status = 'WRITE', lease_expires = 1 WHERE id = 3",
            [],
        )
        .unwrap();
    let out = cachet(root)
        .args(["count", "--by", "status"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("WRITE         1  (1 of them stale: lease expired)"),
        "{text}"
    );
    assert!(
        !text.contains("STALE"),
        "no line of its own in text: {text}"
    );
    let out = cachet(root)
        .args(["count", "--by", "status", "--json"])
        .output()
        .unwrap();
    let stale = lines(&out.stdout)
        .into_iter()
        .find(|v| v["status"] == "STALE")
        .unwrap();
    assert_eq!(
        (stale["count"].as_i64(), stale["within"].as_str()),
        (Some(1), Some("WRITE"))
    );
    // `--status` takes it as the filter and the browser's tab do.
    assert_eq!(ids(root, &["--status", "stale"]), [3]);
    cachet(root)
        .args(["ls", "--status", "stall"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("or stale"));
}

#[test]
fn filters_select_items_for_trash_restore_and_pin() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fill(root);
    let trashed = cachet(root)
        .args(["trash", "project=p0", "batch>3"])
        .output()
        .unwrap();
    assert!(trashed.status.success());
    assert_eq!(ids(root, &["status:trash"]), [6, 9, 12]);
    // One line each, the ids padded so that the columns line up.
    let starts: Vec<String> = String::from_utf8_lossy(&trashed.stdout)
        .lines()
        .map(|l| l[..4].to_string())
        .collect();
    assert_eq!(starts, ["6   ", "9   ", "12  "]);
    cachet(root)
        .args(["restore", "status:trash", "batch<10"])
        .assert()
        .success();
    assert_eq!(ids(root, &["status:trash"]), [12]);
    cachet(root)
        .args(["pin", "project=p2"])
        .assert()
        .success()
        .stdout(predicate::str::contains("@1  pinned\n"));
    assert_eq!(ids(root, &["pinned"]), [2, 5, 8, 11]);
    cachet(root)
        .args(["unpin", "2"])
        .assert()
        .success()
        .stdout(predicate::str::ends_with("@1  unpinned\n"));
    // A filter that matches nothing changes nothing, and says so.
    cachet(root)
        .args(["trash", "project=none"])
        .assert()
        .success()
        .stdout("")
        .stderr(predicate::str::contains("no item matches 'project=none'"));
}

#[test]
fn a_table_of_many_pages_lines_up_from_its_first_page_to_its_last() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root).unwrap();
    // The first page (1000 rows) all of 1-byte items; larger ones after it.
    let ndjson: String = (1..=1200)
        .map(|i| {
            let text = if i > 1000 {
                "c".repeat(i * 10)
            } else {
                "c".into()
            };
            format!("{{\"uri\": \"s3://b/f{i}\", \"text\": \"{text}\"}}\n")
        })
        .collect();
    let file = ndjson_file(&ndjson);
    cachet(root)
        .args(["import", file.path().to_str().unwrap()])
        .assert()
        .success();
    // After the first page: the widest id, and the widest statuses.
    rusqlite::Connection::open(root.join("registry.sqlite"))
        .unwrap()
        .execute_batch(
            "UPDATE items SET id = 1000000 WHERE id = 1200;
             UPDATE items SET status = 'WRITE', lease_expires = 1 WHERE id = 1100;
             UPDATE items SET status = 'UNINITIALIZED', sha256 = NULL, size = NULL
              WHERE id = 1101;",
        )
        .unwrap();
    let out = cachet(root).arg("ls").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1201, "{text}");
    assert!(lines[1100].contains("WRITE(stale)"), "{}", lines[1100]);
    assert!(lines[1101].contains("UNINITIALIZED"), "{}", lines[1101]);
    assert!(lines[1200].starts_with("1000000 "), "{}", lines[1200]);
    // Every row's name starts where the header's NAME does.
    let at = lines[0].find("NAME").unwrap();
    for line in &lines[1..] {
        assert_eq!(line.find("s3://"), Some(at), "{line}\n{}", lines[0]);
    }
}
