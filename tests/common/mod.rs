//! What the process tests share: the built binary, and shell loops that drive it.

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
