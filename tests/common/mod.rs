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

/// Whether the tests run as root, who ignores file permissions.
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// The command line that runs the binary as an unprivileged user: as root, under
/// `setpriv` as `nobody`, so that permissions hold; else as it is.
pub fn argv_as_user() -> Vec<std::ffi::OsString> {
    let mut argv: Vec<std::ffi::OsString> = Vec::new();
    if running_as_root() {
        argv.extend(
            [
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
            ]
            .map(Into::into),
        );
    }
    argv.push(bin().into());
    argv
}

/// The binary as [`argv_as_user`] runs it.
pub fn bin_as_user() -> Command {
    let argv = argv_as_user();
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    cmd
}

/// Gives `path` and everything under it to the user [`argv_as_user`] runs as (as root;
/// else they are that user's already).
pub fn give_to_user(path: &Path) {
    if !running_as_root() {
        return;
    }
    std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            give_to_user(&entry.unwrap().path());
        }
    }
}
