//! What the integration tests share: the built binary, shell loops that drive it, and the
//! files under a directory (a cache's, say) and their count. Each test file uses some of
//! these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("cachet")
}

/// Starts `sh -c script` on the cache at `root`, with the binary as `$0`, stdout dropped.
pub fn spawn_script(root: &Path, script: &str) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(bin())
        .env("CACHET_ROOT", root)
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits for every child and checks that each succeeded.
pub fn wait_all(children: Vec<Child>) {
    for mut child in children {
        let status = child.wait().unwrap();
        assert!(status.success(), "a child process failed: {status}");
    }
}

/// The files under `dir`, at any depth. A directory that cannot be read fails the test
/// (a wrong path must not count as empty).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut out = Vec::new();
    for e in entries {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(files_under(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// How many files are under `dir` (see [`files_under`]).
pub fn count_files(dir: &Path) -> usize {
    files_under(dir).len()
}
