use std::cell::RefCell;

use super::*;

thread_local! {
    /// The paths synced on this thread, in order.
    pub(super) static SYNCED: RefCell<Vec<PathBuf>> = const { RefCell::new(Vec::new()) };
}

/// The paths `f` synced.
fn synced(f: impl FnOnce()) -> Vec<PathBuf> {
    SYNCED.with(|synced| synced.borrow_mut().clear());
    f();
    SYNCED.with(|synced| synced.take())
}

/// A new, empty store in a temporary directory.
fn store() -> (tempfile::TempDir, BlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::new(dir.path());
    store.create_dirs().unwrap();
    (dir, store)
}

/// Replaces the content of the (read-only) blob file at `path`.
fn overwrite(path: &Path, content: &[u8]) {
    let mut perms = fs::metadata(path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(path, perms).unwrap();
    fs::write(path, content).unwrap();
}

#[test]
fn stores_once_and_verifies() {
    let (_dir, store) = store();
    let a = store.stage_bytes(b"hello", true).unwrap();
    let sha = a.content.sha256.clone();
    assert_eq!(
        sha,
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert!(!store.adopt(a, true).unwrap());
    let b = store.stage_bytes(b"hello", true).unwrap();
    assert!(store.adopt(b, true).unwrap(), "second put is a dedup hit");
    let path = store.path(&sha).unwrap();
    assert!(path.ends_with("2c/f2/4dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"));
    assert!(fs::metadata(&path).unwrap().permissions().readonly());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o400, "the owner's only");
    }
    assert_eq!(store.verify(&sha).unwrap(), 5);
    // Nothing is left behind in tmp/.
    assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
}

/// Whatever this store instance knows of the fan-out directories: a blob whose
/// directory went since is stored again, and one another instance stored is a dedup
/// hit, never replaced (not even a file that differs from its name).
#[test]
fn blobs_go_in_whatever_the_store_knows_of_its_directories() {
    let (dir, store) = store();
    let sealed = store.stage_bytes(b"data", false).unwrap();
    let sha = sealed.content.sha256.clone();
    let path = store.path(&sha).unwrap();
    assert!(!store.adopt(sealed, false).unwrap());
    // Its two fan-out directories go.
    fs::remove_file(&path).unwrap();
    fs::remove_dir_all(path.parent().unwrap().parent().unwrap()).unwrap();
    let again = store.stage_bytes(b"data", true).unwrap();
    assert!(!store.adopt(again, true).unwrap(), "stored again");
    assert_eq!(store.verify(&sha).unwrap(), 4);

    // Another instance (another process) finds it there, and leaves it as it is.
    let other = BlobStore::new(dir.path());
    let copy = other.stage_bytes(b"data", false).unwrap();
    assert!(other.adopt(copy, false).unwrap(), "a dedup hit");
    overwrite(&path, b"dat4");
    let copy = other.stage_bytes(b"data", false).unwrap();
    assert!(other.adopt(copy, true).unwrap());
    assert_eq!(fs::read(&path).unwrap(), b"dat4", "never replaced");
    assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
}

/// With sync, adopt makes durable all that leads to the blob, whoever stored it: a new
/// blob's directory and its parents; once this store did, only the directory; a blob
/// found there and its directory; content staged without a sync; and, for a store
/// that did not make the directory (another process), its parents again.
#[test]
fn adopt_with_sync_makes_durable_all_that_leads_to_the_blob() {
    let (dir, store) = store();
    let cd = |sha: &str| store.path(sha).unwrap().parent().unwrap().to_path_buf();
    let ab = |sha: &str| cd(sha).parent().unwrap().to_path_buf();
    let root = store.dir().to_path_buf();

    let a = store.stage_bytes(b"a", true).unwrap();
    let sha = a.content.sha256.clone();
    let blob = store.path(&sha).unwrap();
    let new = synced(|| assert!(!store.adopt(a, true).unwrap()));
    assert_eq!(new, [cd(&sha), ab(&sha), root.clone()]);

    let again = store.stage_bytes(b"a", true).unwrap();
    let hit = synced(|| assert!(store.adopt(again, true).unwrap()));
    assert_eq!(hit, [blob.clone(), cd(&sha)]);

    let b = store.stage_bytes(b"b", false).unwrap();
    let (sha_b, staged) = (b.content.sha256.clone(), b.file.path().to_path_buf());
    let unsynced = synced(|| assert!(!store.adopt(b, true).unwrap()));
    assert_eq!(unsynced, [staged, cd(&sha_b), ab(&sha_b), root.clone()]);

    let other = BlobStore::new(dir.path());
    let copy = other.stage_bytes(b"a", true).unwrap();
    let found = synced(|| assert!(other.adopt(copy, true).unwrap()));
    assert_eq!(found, [blob, cd(&sha), ab(&sha), root]);
}

/// A staged copy that went before it was moved in (something emptied `tmp/`) is an
/// error naming the staged file, whether or not its fan-out directory was known.
#[test]
fn a_staged_copy_gone_before_the_move_is_named() {
    let (_dir, store) = store();
    for _known in [false, true] {
        let sealed = store.stage_bytes(b"data", true).unwrap();
        let staged = sealed.file.path().to_path_buf();
        let sha = sealed.content.sha256.clone();
        fs::remove_file(&staged).unwrap();
        match store.adopt(sealed, true) {
            Err(Error::Io { path, source }) => {
                assert_eq!(path, staged);
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("expected the staged file named, got {other:?}"),
        }
        assert!(!store.exists(&sha));
    }
}

#[test]
fn altered_and_missing_blobs_are_reported() {
    let (_dir, store) = store();
    let sealed = store.stage_bytes(b"data", false).unwrap();
    let sha = sealed.content.sha256.clone();
    store.adopt(sealed, false).unwrap();
    let path = store.path(&sha).unwrap();
    overwrite(&path, b"dat4");
    assert!(matches!(store.verify(&sha), Err(Error::Integrity { .. })));
    store.remove(&sha).unwrap();
    assert!(matches!(store.verify(&sha), Err(Error::MissingBlob { .. })));
    assert!(store.path("../../etc/passwd").is_err());
}
