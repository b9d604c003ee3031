//! `cachet preview` and `cachet cat` on compressed and archived items.

use std::io::Write;
use std::path::Path;

use assert_cmd::Command;
use assert_cmd::assert::OutputAssertExt;
use predicates::prelude::*;

fn cachet(root: &Path) -> Command {
    let mut cmd = Command::cargo_bin("cachet").unwrap();
    cmd.env("CACHET_ROOT", root);
    cmd
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn tar_gz(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        // Names are written raw: the tar crate refuses `..`, but archives in the wild have it.
        let mut h = tar::Header::new_gnu();
        h.as_mut_bytes()[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    gz(&b.into_inner().unwrap())
}

fn put(root: &Path, dir: &Path, name: &str, bytes: &[u8]) -> String {
    let file = dir.join(name);
    std::fs::write(&file, bytes).unwrap();
    let out = cachet(root)
        .args([
            "put",
            &format!("file://{name}"),
            file.to_str().unwrap(),
            "--json",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    v["id"].to_string()
}

#[test]
fn preview_and_cat_look_inside() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let csv = put(&root, dir.path(), "t.csv.gz", &gz(b"a,b\n1,\"2,5\"\n"));
    cachet(&root)
        .args(["preview", &csv])
        .assert()
        .success()
        .stdout(predicate::str::contains("[gzip]").and(predicate::str::contains("2,5")));
    cachet(&root)
        .args(["cat", &csv])
        .assert()
        .success()
        .stdout("a,b\n1,\"2,5\"\n");
    cachet(&root)
        .args(["cat", &csv, "--raw"])
        .assert()
        .success()
        .stdout(predicate::function(|out: &[u8]| {
            out.starts_with(&[0x1f, 0x8b])
        }));
    // A member of something that is no archive: an error, not the whole content.
    let plain = put(&root, dir.path(), "plain.txt", b"just text\n");
    cachet(&root)
        .args(["cat", &plain, "--member", "x.txt"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("not an archive"));

    let tgz = put(
        &root,
        dir.path(),
        "a.tar.gz",
        &tar_gz(&[("docs/readme.txt", b"hello\n"), ("../escape", b"no")]),
    );
    cachet(&root)
        .args(["preview", &tgz])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("docs/readme.txt")
                .and(predicate::str::contains("../escape"))
                .and(predicate::str::contains("[gzip+tar]")),
        );
    cachet(&root)
        .args(["cat", &tgz, "--member", "docs/readme.txt"])
        .assert()
        .success()
        .stdout("hello\n");
    cachet(&root)
        .args(["preview", &tgz, "--member", "nope"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("nope"));
    let json = cachet(&root)
        .args(["preview", &tgz, "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["body"]["members"].as_array().unwrap().len(), 2);
    assert_eq!(v["format"], serde_json::json!(["gzip", "tar"]));
}

#[test]
fn truncated_content_shows_what_it_can_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let text: String = (0..100_000).map(|i| format!("line {i}\n")).collect();
    let full = gz(text.as_bytes());
    let cut = put(&root, dir.path(), "cut.txt.gz", &full[..full.len() / 2]);
    cachet(&root)
        .args(["preview", &cut, "--lines", "5"])
        .assert()
        .success()
        .stdout(predicate::str::contains("line 4").and(predicate::str::contains("truncated")));
    cachet(&root)
        .args([
            "preview",
            &cut,
            "--lines",
            "1000000",
            "--bytes",
            "100000000",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("line 0"))
        .stderr(predicate::str::contains("cut.txt.gz"));
    cachet(&root)
        .args(["cat", &cut])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cut.txt.gz"));
}

/// A preview is a look, not a use: it leaves the access count (what max-age goes by)
/// alone, as the browser's preview does; `cat` reads the content and counts.
#[test]
fn a_preview_is_no_access_and_cat_is() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let id = put(&root, dir.path(), "t.csv", b"a,b\n1,2\n");
    let reads = || {
        let out = cachet(&root)
            .args(["show", &id, "--json"])
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["access_count"].as_u64().unwrap()
    };
    cachet(&root).args(["preview", &id]).assert().success();
    assert_eq!(reads(), 0);
    cachet(&root).args(["cat", &id]).assert().success();
    assert_eq!(reads(), 1);
}

/// A write that fails on the output (a full disk under it: `/dev/full`) is said to be the
/// output's, with a non-zero exit: never the blob's or the archive's the bytes came
/// from, which would read as damage in the cache. Plain content, as stored (by `cat` and
/// `get -o -`), a member of an archive, and a manifest's entries, in a shard and as a
/// blob of their own.
#[cfg(target_os = "linux")]
#[test]
fn a_full_output_is_named_as_the_output_not_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    cachet::demo::build(&root).unwrap();
    let model = "41daf21292"; // 256 KiB of plain content
    let archive = "93799aa70c"; // a .tar.gz
    let dataset = "c088323db4@2";
    let small = "7288a72340"; // 189 B: all of it still in a buffer at the end
    let cases: &[&[&str]] = &[
        &["cat", model],
        &["cat", model, "--raw"],
        &["get", model, "-o", "-"],
        &["get", small, "-o", "-"],
        &["cat", archive],
        &["cat", archive, "--member", "toolkit/bin/tool"],
        &["manifest", "cat", dataset, "clips/clip-000.txt"],
        &["manifest", "cat", dataset, "labels-extra.csv"],
        // What is printed rather than copied: lists, tables, JSON, a preview.
        &["ls"],
        &["show", small],
        &["show", small, "--json"],
        &["preview", small],
        &["manifest", "ls", dataset],
        &["du"],
        &["gc", "--dry-run"],
    ];
    for &args in cases {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let output = std::process::Command::new(assert_cmd::cargo::cargo_bin("cachet"))
            .env("CACHET_ROOT", &root)
            .args(args)
            .stdout(full)
            .output()
            .unwrap();
        output
            .assert()
            .code(1)
            .stderr(predicate::str::starts_with(
                "cachet: error: <output>: No space left on device",
            ))
            .stderr(predicate::str::contains("blobs-v1").not());
    }
}
