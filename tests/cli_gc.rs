//! `cachet gc`, `pin` and `du` end to end: a dry run shows the plan and changes nothing,
//! the run deletes what the plan said, and bad policy values are refused.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;

fn cachet(root: &Path) -> Command {
    let mut cmd = Command::cargo_bin("cachet").unwrap();
    cmd.env("CACHET_ROOT", root)
        .env("CACHET_CONFIG", root.join("no-config.toml"));
    cmd
}

fn ids(root: &Path) -> Vec<i64> {
    let out = cachet(root).args(["ls", "--json"]).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect()
}

/// Four items: 1 and 2 READY, 3 trashed, 4 a write whose writer died (stale, no blob).
fn setup(root: &Path) {
    for i in 1..=4 {
        cachet(root)
            .args(["put", &format!("u://{i}"), "-"])
            .write_stdin(format!("content {i}\n"))
            .assert()
            .success();
    }
    cachet(root).args(["trash", "3"]).assert().success();
    rusqlite::Connection::open(root.join("registry.sqlite"))
        .unwrap()
        .execute(
            "UPDATE items SET status = 'WRITE', sha256 = NULL, size = NULL, \
             lease_pid = 1, lease_host = 'elsewhere', lease_expires = 1 WHERE id = 4",
            [],
        )
        .unwrap();
}

#[test]
fn a_dry_run_shows_the_plan_and_the_run_does_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    setup(root);
    let out = cachet(root)
        .args(["gc", "--dry-run", "--trash", "--stale=0s"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("gc plan: 2 items"), "{text}");
    let row = |id: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no row for item {id}:\n{text}"))
            .to_string()
    };
    assert!(row("3").contains("frees"), "{text}");
    // The stale write has no content: no blob to free or share.
    let stale = row("4");
    assert!(
        !stale.contains("shared") && !stale.contains("frees"),
        "{stale}"
    );
    assert_eq!(ids(root), [1, 2, 3, 4], "a dry run deletes nothing");

    let plan = cachet(root)
        .args(["gc", "--dry-run", "--trash", "--stale=0s", "--json"])
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    let planned: Vec<i64> = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(planned, [3, 4]);
    // Times as every item's JSON gives them.
    let listed = cachet(root).args(["show", "3", "--json"]).output().unwrap();
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let trashed = &plan["items"][0];
    assert_eq!(trashed["updated"], listed["updated"], "{trashed}");
    assert_eq!(trashed["accessed"], listed["accessed"], "{trashed}");
    let created = plan["created"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created).is_ok() && created.len() <= 24,
        "{created}"
    );

    // Without --yes and without a terminal to ask on (as here), the plan is shown and
    // nothing goes: a script has to say yes.
    cachet(root)
        .args(["gc", "--trash", "--stale=0s"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("gc plan: 2 items"))
        .stderr(predicate::str::contains("pass --yes to apply it"));
    assert_eq!(ids(root), [1, 2, 3, 4], "nothing collected");

    cachet(root)
        .args(["gc", "--trash", "--stale=0s", "--yes"])
        .assert()
        .success();
    assert_eq!(ids(root), [1, 2]);
}

/// A max-size plan says what the cache holds before and after, empties the trash first,
/// and says so when nothing has to go.
#[test]
fn a_max_size_plan_accounts_for_the_cap() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    setup(root);
    // Three blobs of 10 bytes: the trashed item's goes first, then the least recently used.
    let out = cachet(root)
        .args(["gc", "--dry-run", "--max-size", "15"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("max-size 15 B: the cache holds 30 B, 10 B after this gc\n"),
        "{text}"
    );
    let why = |id: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no row for item {id}:\n{text}"))
            .to_string()
    };
    assert!(why("3").ends_with(": the trash goes first"), "{text}");
    assert!(why("1").contains("LRU rank 1"), "{text}");

    let plan = cachet(root)
        .args(["gc", "--dry-run", "--max-size", "15", "--json"])
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(
        plan["usage"],
        serde_json::json!({"before": 30, "after": 10})
    );

    cachet(root)
        .args(["gc", "--dry-run", "--max-size", "1KiB"])
        .assert()
        .success()
        .stdout("gc: nothing to collect\nmax-size 1.0 KiB: the cache holds 30 B, within the cap\n");
}

#[test]
fn pinned_items_are_kept_and_bad_values_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    setup(root);
    cachet(root).args(["pin", "1"]).assert().success();
    cachet(root)
        .args(["gc", "--max-age", "0s", "--yes"])
        .assert()
        .success();
    let left = ids(root);
    assert!(left.contains(&1), "pinned: kept ({left:?})");
    assert!(
        !left.contains(&2),
        "not pinned, older than 0s: gone ({left:?})"
    );
    cachet(root)
        .args(["gc", "--max-size", "lots"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("'lots' is not a size"));
    cachet(root)
        .args(["gc", "--keep-last", "x"])
        .assert()
        .code(2);
    // Keeping no version is a slip, not a policy: it would take every READY item.
    cachet(root)
        .args(["gc", "--keep-last", "0", "--yes"])
        .assert()
        .code(2);
    let before = ids(root);
    let config = root.join("keep-none.toml");
    fs::write(&config, "[gc]\nkeep_last = 0\n").unwrap();
    cachet(root)
        .args(["gc", "--yes"])
        .env("CACHET_CONFIG", &config)
        .assert()
        .failure()
        .stderr(predicate::str::contains("keep-last 0"));
    assert_eq!(ids(root), before, "nothing was collected");
}

/// `du` groups by status, key or an attribute; an attribute no item has puts every item
/// in one group, and says so (with the name meant).
#[test]
fn du_groups_and_names_an_attribute_nothing_has() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    setup(root);
    cachet(root)
        .args(["attr", "set", "1", "project=alpha"])
        .assert()
        .success();
    cachet(root)
        .args(["du", "--by", "attr:project"])
        .assert()
        .success()
        .stdout(predicate::str::contains("alpha"))
        .stdout(predicate::str::contains("; on disk "))
        .stderr("");
    cachet(root)
        .args(["du", "--by", "attr:projct"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "no attribute is named 'projct', so every item falls in one group; did you mean 'project'?",
        ));
    // Only an attribute can be meant: no built-in name (`note`) is suggested.
    cachet(root)
        .args(["du", "--by", "attr:nope"])
        .assert()
        .success()
        .stderr(predicate::str::contains("no attribute is named 'nope'"))
        .stderr(predicate::str::contains("did you mean").not());
    // A usage error, as any argument that does not parse.
    cachet(root)
        .args(["du", "--by", "owner"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "invalid value 'owner' for '--by <WHAT>': takes status, key or attr:NAME",
        ));
}
