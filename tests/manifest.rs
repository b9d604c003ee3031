//! Manifests: creation from directories (loose and sharded), reading with refs and shards,
//! append, compact, verify, trash by manifest, typed loading, and bad input.

mod common;

use std::fs;
use std::path::Path;

use cachet::manifest::{
    self, CreateOpts, Descriptor, Entries, Entry, FileEntry, Loaders, ManifestType, ReadOpts,
    RefEntry, ShardOpts,
};
use cachet::{Cache, Error, NewItem, Status};

fn setup() -> (tempfile::TempDir, Cache) {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path().join("cache")).unwrap();
    (dir, cache)
}

/// A directory of `n` small files in two subfolders, plus one larger file.
fn dataset(root: &Path, n: usize) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for i in 0..n {
        let key = format!("{}/{i:04}.txt", if i % 2 == 0 { "train" } else { "test" });
        files.push((key, format!("sample {i}\n").repeat(i % 5 + 1).into_bytes()));
    }
    files.push((
        "big.bin".into(),
        (0..200_000u32).map(|i| (i % 251) as u8).collect(),
    ));
    for (key, data) in &files {
        let path = root.join(key);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, data).unwrap();
    }
    files
}

/// Writes a "dataset" manifest of `entries` as the item of URI `uri`.
fn write_dataset(
    cache: &Cache,
    uri: &str,
    entries: impl IntoIterator<Item = cachet::Result<Entry>>,
) -> cachet::Result<manifest::Built> {
    manifest::create_from_entries(cache, &NewItem::new(uri), entries, "dataset")
}

fn read_all(cache: &Cache, item: &cachet::Item, opts: ReadOpts) -> Vec<Entry> {
    Entries::open(cache, item.sha256.as_deref().unwrap(), opts)
        .unwrap()
        .map(|r| r.unwrap().entry)
        .collect()
}

/// A manifest's lines as written: refs left as they are.
fn as_written(cache: &Cache, item: &cachet::Item) -> Vec<Entry> {
    let opts = ReadOpts {
        resolve_refs: false,
        ..ReadOpts::default()
    };
    read_all(cache, item, opts)
}

fn content(cache: &Cache, item: &cachet::Item, key: &str) -> Vec<u8> {
    let mut out = Vec::new();
    manifest::copy_entry(cache, item, key, &mut out).unwrap();
    out
}

#[test]
fn directory_round_trip_loose_files() {
    let (dir, cache) = setup();
    let src = dir.path().join("data");
    let files = dataset(&src, 20);
    let built = manifest::create_from_dir(
        &cache,
        &NewItem::new("dataset://demo"),
        &src,
        &CreateOpts::default(),
    )
    .unwrap();
    assert_eq!(built.files, 21);
    assert_eq!(built.entries, 21);
    // verify counts the entries as create does (it checks the descriptor too).
    let report = manifest::verify(&cache, &built.item, false).unwrap();
    assert_eq!((report.entries, report.blobs), (21, 22));
    assert_eq!(built.item.status, Status::Ready);
    assert_eq!(built.item, cache.get(built.item.id).unwrap(), "as stored");
    let d = Descriptor::read(&cache, built.item.sha256.as_deref().unwrap()).unwrap();
    assert_eq!(d.manifest_type, "dataset");
    assert_eq!(d.schema_version, 1);
    let entries = read_all(&cache, &built.item, ReadOpts::default());
    assert_eq!(entries.len(), 21);
    assert!(entries.iter().all(|e| !e.is_descriptor()));
    for (key, data) in &files {
        assert_eq!(&content(&cache, &built.item, key), data, "{key}");
    }
    // The registry knows what the manifest links to: 21 files + the descriptor blob.
    let links = cache.registry().db().links_of(built.item.id).unwrap();
    assert_eq!(links.len(), 22);
    let info = cache
        .registry()
        .db()
        .manifest_info(built.item.id)
        .unwrap()
        .unwrap();
    assert_eq!(info.manifest_type, "dataset");
    assert_eq!(info.entries, 21);
}

#[test]
fn directory_round_trip_through_shards() {
    let (dir, cache) = setup();
    let src = dir.path().join("data");
    let files = dataset(&src, 50);
    let opts = CreateOpts {
        manifest_type: "shard-set".into(),
        shards: Some(ShardOpts {
            max_entries: 16,
            max_bytes: 100_000,
            gzip: true,
        }),
    };
    let built =
        manifest::create_from_dir(&cache, &NewItem::new("dataset://sharded"), &src, &opts).unwrap();
    assert_eq!(built.files, 51);
    assert!(
        built.shards >= 4,
        "51 files at 16 per shard: {}",
        built.shards
    );
    let top = read_all(&cache, &built.item, ReadOpts::default());
    assert!(top.iter().all(|e| matches!(e, Entry::Shard(_))));
    let expanded = read_all(
        &cache,
        &built.item,
        ReadOpts {
            expand_shards: true,
            ..ReadOpts::default()
        },
    );
    assert_eq!(expanded.len(), 51);
    for (key, data) in &files {
        assert_eq!(&content(&cache, &built.item, key), data, "{key}");
    }
    let report = manifest::verify(&cache, &built.item, true).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.blobs as usize, built.shards as usize + 1);
    // The shard archives are on disk though no item holds them: usage counts them, so the
    // stored bytes are the blob files' (the manifest's own, its descriptor's, the shards').
    let on_disk: u64 = common::files_under(cache.blobs().dir())
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(cache.usage_totals().unwrap().stored_bytes, on_disk);
}

fn file_entry(cache: &Cache, key: &str, data: &[u8]) -> Entry {
    let item = cache
        .put_bytes(&NewItem::new(format!("file://{key}")), data)
        .unwrap();
    Entry::File(FileEntry {
        key: key.into(),
        size_bytes: item.size,
        sha256: item.sha256,
        ..FileEntry::default()
    })
}

#[test]
fn refs_append_compact_and_links() {
    let (_d, cache) = setup();
    let a = file_entry(&cache, "a.txt", b"alpha");
    let b = file_entry(&cache, "b.txt", b"beta");
    let root = manifest::create_from_entries(
        &cache,
        &NewItem::new("dataset://grow"),
        vec![Ok(a)],
        "dataset",
    )
    .unwrap()
    .item;
    let appended = manifest::append(&cache, &root, vec![Ok(b)]).unwrap().item;
    assert_eq!(appended.version, root.version + 1);
    assert_eq!(appended.key, root.key);
    let raw = as_written(&cache, &appended);
    assert_eq!(raw.len(), 2);
    assert!(matches!(&raw[1], Entry::Ref(r) if r.key == "parts/part-00001.jsonl"));
    let keys: Vec<String> = read_all(&cache, &appended, ReadOpts::default())
        .iter()
        .map(|e| e.key().to_string())
        .collect();
    assert_eq!(keys, ["a.txt", "b.txt"]);
    // Links are flattened: the part, and b.txt through it.
    let links = cache.registry().db().links_of(appended.id).unwrap();
    let b_sha = cachet::key::sha256_hex(b"beta");
    assert!(links.iter().any(|l| l.sha256 == b_sha));

    let flat = manifest::compact(&cache, &appended, false).unwrap().item;
    let flat_entries = as_written(&cache, &flat);
    assert_eq!(flat_entries.len(), 2);
    assert!(flat_entries.iter().all(|e| matches!(e, Entry::File(_))));
}

#[test]
fn compact_can_expand_shards_and_keeps_links_to_archives() {
    let (dir, cache) = setup();
    let src = dir.path().join("data");
    let files = dataset(&src, 10);
    let opts = CreateOpts {
        shards: Some(ShardOpts {
            max_entries: 4,
            max_bytes: u64::MAX,
            gzip: false,
        }),
        ..CreateOpts::default()
    };
    let built = manifest::create_from_dir(&cache, &NewItem::new("d"), &src, &opts).unwrap();
    let flat = manifest::compact(&cache, &built.item, true).unwrap().item;
    let entries = as_written(&cache, &flat);
    assert_eq!(entries.len(), 11);
    let links = cache.registry().db().links_of(flat.id).unwrap();
    assert_eq!(
        links
            .iter()
            .filter(|l| l.kind == cachet::LinkKind::Shard)
            .count() as u64,
        built.shards
    );
    // Its files read out of the archives that hold them, and verify there.
    for (key, data) in &files {
        assert_eq!(&content(&cache, &flat, key), data, "{key}");
    }
    for deep in [false, true] {
        let report = manifest::verify(&cache, &flat, deep).unwrap();
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        assert_eq!(
            report.blobs,
            built.shards + 1,
            "the archives and the descriptor"
        );
        assert_eq!(report.members, deep.then_some(files.len() as u64));
    }
    // An altered member is found by a deep verify (in its archive), and by reading it.
    let (key, _) = &files[0];
    let Entry::File(f) = entries.iter().find(|e| e.key() == key).unwrap() else {
        panic!("a file");
    };
    let (archive, _) = f.in_archive().unwrap();
    let path = cache.blobs().path(archive).unwrap();
    let mut bytes = fs::read(&path).unwrap();
    let data = &files[0].1;
    let at = bytes.windows(data.len()).position(|w| w == data).unwrap();
    bytes[at] ^= 1;
    let mut perms = fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&path, perms).unwrap();
    fs::write(&path, bytes).unwrap();
    let report = manifest::verify(&cache, &flat, true).unwrap();
    assert!(
        report.problems.iter().any(|p| &p.key == key),
        "{:?}",
        report.problems
    );
    let mut out = Vec::new();
    assert!(manifest::copy_entry(&cache, &flat, key, &mut out).is_err());
}

#[test]
fn malformed_lines_are_reported_with_numbers_and_good_lines_still_come() {
    let (_d, cache) = setup();
    let a = cachet::key::sha256_hex(b"x");
    let jsonl = format!(
        "{{\"kind\":\"file\",\"key\":\"ok1\",\"sha256\":\"{a}\"}}\nnot json\n{{\"kind\":\"file\",\"key\":\"../escape\"}}\n{{\"kind\":\"hologram\",\"key\":\"h\"}}\n\n{{\"kind\":\"file\",\"key\":\"ok2\"}}\n"
    );
    let item = cache
        .put_bytes(&NewItem::new("raw-manifest"), jsonl.as_bytes())
        .unwrap();
    let results: Vec<_> =
        Entries::open(&cache, item.sha256.as_deref().unwrap(), ReadOpts::default())
            .unwrap()
            .collect();
    assert_eq!(results.len(), 5);
    assert!(results[0].is_ok());
    match &results[1] {
        Err(Error::BadLine { line, message, .. }) => {
            assert_eq!(*line, 2);
            assert!(message.contains("invalid JSON"));
        }
        other => panic!("{other:?}"),
    }
    match &results[2] {
        Err(Error::BadLine { line, message, .. }) => {
            assert_eq!(*line, 3);
            assert!(message.contains("'..'"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let unknown = results[3].as_ref().unwrap();
    assert_eq!(unknown.entry.kind(), "hologram");
    assert_eq!(unknown.line, 4);
    assert_eq!(results[4].as_ref().unwrap().line, 6);
    // A manifest without descriptor is generic.
    let d = Descriptor::read(&cache, item.sha256.as_deref().unwrap()).unwrap();
    assert_eq!(d.manifest_type, "generic");
}

/// A manifest written by a newer cachet (a descriptor of a higher schema version) is
/// refused wherever it is read: as the root, and as a part a root refers to.
#[test]
fn manifests_of_a_newer_schema_are_refused_as_root_and_as_part() {
    let (_d, cache) = setup();
    let a = cachet::key::sha256_hex(b"x");
    let newer = format!(
        "{{\"kind\":\"file\",\"key\":\"_manifest.json\",\"content_type\":\"{}\",\
         \"meta\":{{\"type\":\"generic\",\"schema_version\":99}}}}\n\
         {{\"kind\":\"file\",\"key\":\"f\",\"sha256\":\"{a}\"}}\n",
        manifest::DESCRIPTOR_CONTENT_TYPE
    );
    let part = cache
        .put_bytes(&NewItem::new("newer-part"), newer.as_bytes())
        .unwrap();
    let part_sha = part.sha256.as_deref().unwrap();
    let root_text =
        format!("{{\"kind\":\"manifest_ref\",\"key\":\"p\",\"sha256\":\"{part_sha}\"}}\n");
    let root = cache
        .put_bytes(&NewItem::new("older-root"), root_text.as_bytes())
        .unwrap();
    let refused = |sha: &str| {
        let results: Vec<_> = Entries::open(&cache, sha, ReadOpts::default())
            .unwrap()
            .collect();
        let e = results
            .iter()
            .find_map(|r| r.as_ref().err())
            .expect("an error");
        assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
        assert!(e.to_string().contains("schema version 99"), "{e}");
        assert!(
            results.iter().all(|r| r.as_ref().is_err()),
            "not one entry of it is read"
        );
    };
    refused(part_sha);
    refused(root.sha256.as_deref().unwrap());
    let e = Descriptor::read(&cache, part_sha).unwrap_err();
    assert!(e.to_string().contains("reads up to 1"), "{e}");
}

#[test]
fn missing_refs_diamonds_and_deep_chains() {
    let (_d, cache) = setup();
    let missing = "0".repeat(64);
    let m1 =
        format!("{{\"kind\":\"manifest_ref\",\"key\":\"gone.jsonl\",\"sha256\":\"{missing}\"}}\n");
    let m1_item = cache.put_bytes(&NewItem::new("m1"), m1.as_bytes()).unwrap();
    let results: Vec<_> = Entries::open(
        &cache,
        m1_item.sha256.as_deref().unwrap(),
        ReadOpts::default(),
    )
    .unwrap()
    .collect();
    assert_eq!(results.len(), 1);
    let err = results[0].as_ref().unwrap_err().to_string();
    assert!(
        err.contains("gone.jsonl") && err.contains("missing"),
        "{err}"
    );

    // Refs go by digest, so a true cycle would need a hash collision; what can happen is
    // a diamond (harmless) or a chain too deep, which max_depth stops.
    let leaf = cache
        .put_bytes(
            &NewItem::new("leaf"),
            b"{\"kind\":\"file\",\"key\":\"x\"}\n",
        )
        .unwrap();
    let leaf_sha = leaf.sha256.clone().unwrap();
    // A diamond (two refs to the same part) is not a cycle.
    let diamond = format!(
        "{{\"kind\":\"manifest_ref\",\"key\":\"p1\",\"sha256\":\"{leaf_sha}\"}}\n{{\"kind\":\"manifest_ref\",\"key\":\"p2\",\"sha256\":\"{leaf_sha}\"}}\n"
    );
    let d = cache
        .put_bytes(&NewItem::new("diamond"), diamond.as_bytes())
        .unwrap();
    let keys: Vec<_> = Entries::open(&cache, d.sha256.as_deref().unwrap(), ReadOpts::default())
        .unwrap()
        .map(|r| r.unwrap().entry.key().to_string())
        .collect();
    assert_eq!(keys, ["x", "x"]);
    let mut sha = leaf_sha;
    for i in 0..5 {
        let text =
            format!("{{\"kind\":\"manifest_ref\",\"key\":\"level{i}\",\"sha256\":\"{sha}\"}}\n");
        sha = cache
            .put_bytes(&NewItem::new(format!("chain{i}")), text.as_bytes())
            .unwrap()
            .sha256
            .unwrap();
    }
    let shallow = ReadOpts {
        max_depth: 3,
        ..ReadOpts::default()
    };
    let results: Vec<_> = Entries::open(&cache, &sha, shallow).unwrap().collect();
    let err = results[0].as_ref().unwrap_err().to_string();
    assert!(err.contains("deeper than 3"), "{err}");
    // Diamonds on diamonds, thirty levels: 2^30 paths to the leaf. The walk stops once a
    // manifest is followed to more often than allowed (it ran for minutes).
    let mut sha = d.sha256.clone().unwrap();
    for i in 0..30 {
        let text = format!(
            "{{\"kind\":\"manifest_ref\",\"key\":\"a{i}\",\"sha256\":\"{sha}\"}}\n\
             {{\"kind\":\"manifest_ref\",\"key\":\"b{i}\",\"sha256\":\"{sha}\"}}\n"
        );
        sha = cache
            .put_bytes(&NewItem::new(format!("stack{i}")), text.as_bytes())
            .unwrap()
            .sha256
            .unwrap();
    }
    let results: Vec<_> = Entries::open(&cache, &sha, ReadOpts::default())
        .unwrap()
        .collect();
    let (errors, found): (Vec<_>, Vec<_>) = results.iter().partition(|r| r.is_err());
    assert_eq!(errors.len(), 1);
    let err = errors[0].as_ref().unwrap_err().to_string();
    assert!(err.contains("followed more than 1000 times"), "{err}");
    assert!(found.len() <= 2 * 1000, "{}", found.len());
}

#[test]
fn refs_to_missing_manifests_are_refused_at_write() {
    let (_d, cache) = setup();
    let entry = Entry::Ref(RefEntry {
        key: "parts/x.jsonl".into(),
        sha256: Some("1".repeat(64)),
        extra: Default::default(),
    });
    let err = write_dataset(&cache, "m", vec![Ok(entry)]).unwrap_err();
    assert!(err.to_string().contains("1111"), "{err}");
    assert!(
        cache.list_ids(None, false, 0, 10).unwrap().is_empty(),
        "nothing registered"
    );
    // A file entry pointing at a blob that is not in the store is refused too.
    let entry = Entry::File(FileEntry {
        key: "a".into(),
        sha256: Some("2".repeat(64)),
        ..FileEntry::default()
    });
    let err = write_dataset(&cache, "m", vec![Ok(entry)]).unwrap_err();
    assert!(matches!(err, Error::MissingBlob { .. }), "{err}");
    assert!(cache.list_ids(None, false, 0, 10).unwrap().is_empty());
}

/// A write that fails on the output is the output's error, never the blob's or the
/// archive's the bytes come from (which would read as damage in the cache): for an entry
/// in a shard and one that is a blob of its own, whatever their size.
#[test]
fn a_failed_write_of_an_entry_names_the_output() {
    struct Full;
    impl std::io::Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::StorageFull.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let dir = tempfile::tempdir().unwrap();
    cachet::demo::build(dir.path()).unwrap();
    let cache = Cache::open(dir.path()).unwrap();
    let dataset = cache.resolve("c088323db4@2", true).unwrap();
    for key in ["clips/clip-000.txt", "labels-extra.csv"] {
        let err = manifest::copy_entry(&cache, &dataset, key, &mut Full)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("<output>: "), "{key}: {err}");
        assert!(!err.contains("blobs-v1"), "{key}: {err}");
    }
}

/// Appending a key the manifest has already is refused (readers would only ever find the
/// first); compacting keeps the first entry of each key all the same: a key again in a
/// part written by hand, and a part two refs lead to, compact to one entry each.
#[test]
fn compact_keeps_the_first_entry_of_each_key() {
    let (_d, cache) = setup();
    let a = file_entry(&cache, "a.txt", b"alpha");
    let b = file_entry(&cache, "b.txt", b"beta");
    let again = file_entry(&cache, "a.txt", b"later");
    let root = write_dataset(&cache, "m", vec![Ok(a.clone())])
        .unwrap()
        .item;
    let err = manifest::append(&cache, &root, vec![Ok(again.clone())])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("entry 1 'a.txt': the manifest has this key already"),
        "{err}"
    );
    assert_eq!(
        cache.versions(&root.key).unwrap().len(),
        1,
        "no version made"
    );
    let later = write_dataset(&cache, "later", vec![Ok(again)])
        .unwrap()
        .item;
    let in_part = Entry::Ref(RefEntry {
        key: "parts/later.jsonl".into(),
        sha256: later.sha256.clone(),
        extra: Default::default(),
    });
    let appended = write_dataset(&cache, "m2", vec![Ok(a), Ok(in_part)])
        .unwrap()
        .item;
    let keys = |item: &cachet::Item| -> Vec<String> {
        read_all(&cache, item, ReadOpts::default())
            .iter()
            .map(|e| e.key().to_string())
            .collect()
    };
    assert_eq!(keys(&appended), ["a.txt", "a.txt"]);
    let flat = manifest::compact(&cache, &appended, false).unwrap().item;
    assert_eq!(keys(&flat), ["a.txt"]);
    assert_eq!(content(&cache, &flat, "a.txt"), b"alpha");

    // A diamond: the root refers to one part twice.
    let part = write_dataset(&cache, "p", vec![Ok(b)]).unwrap().item;
    let to_part = |key: &str| {
        Ok(Entry::Ref(RefEntry {
            key: key.into(),
            sha256: part.sha256.clone(),
            extra: Default::default(),
        }))
    };
    let refs = vec![to_part("parts/one.jsonl"), to_part("parts/two.jsonl")];
    let diamond = write_dataset(&cache, "d", refs).unwrap().item;
    assert_eq!(keys(&diamond), ["b.txt", "b.txt"]);
    let flat = manifest::compact(&cache, &diamond, false).unwrap().item;
    assert_eq!(keys(&flat), ["b.txt"]);
}

/// Appending to an older version of a manifest is refused: the new version would be made
/// from it, dropping what the versions since added. The newest takes appends.
#[test]
fn appending_to_an_older_version_is_refused() {
    let (_d, cache) = setup();
    let a = file_entry(&cache, "a.txt", b"alpha");
    let b = file_entry(&cache, "b.txt", b"beta");
    let c = file_entry(&cache, "c.txt", b"gamma");
    let v1 = write_dataset(&cache, "grow", vec![Ok(a)]).unwrap().item;
    let v2 = manifest::append(&cache, &v1, vec![Ok(b)]).unwrap().item;
    let err = manifest::append(&cache, &v1, vec![Ok(c.clone())])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("a newer version, 2 (#{})", v2.id)),
        "{err}"
    );
    assert_eq!(cache.versions(&v1.key).unwrap().len(), 2, "no version made");
    // A key in one of its parts is one it has too.
    let b_again = file_entry(&cache, "b.txt", b"beta again");
    let err = manifest::append(&cache, &v2, vec![Ok(b_again)])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'b.txt': the manifest has this key already"),
        "{err}"
    );
    let v3 = manifest::append(&cache, &v2, vec![Ok(c)]).unwrap().item;
    assert_eq!(v3.version, 3);
    let keys: Vec<String> = read_all(&cache, &v3, ReadOpts::default())
        .iter()
        .map(|e| e.key().to_string())
        .collect();
    assert_eq!(keys, ["a.txt", "b.txt", "c.txt"], "the parts before kept");
}

/// An appended part is named after the parts before it, skipping a name the root's
/// entries already use (a file, or a ref named by hand): the part is never refused as a
/// key twice, nor taken for another entry.
#[test]
fn an_appended_part_takes_a_name_no_entry_uses() {
    let (_d, cache) = setup();
    let part = write_dataset(&cache, "p", vec![Ok(file_entry(&cache, "b.txt", b"beta"))])
        .unwrap()
        .item;
    let taken = vec![
        Ok(file_entry(&cache, "parts/part-00002.jsonl", b"a file")),
        Ok(Entry::Ref(RefEntry {
            key: "parts/part-00003.jsonl".into(),
            sha256: part.sha256.clone(),
            extra: Default::default(),
        })),
    ];
    let root = write_dataset(&cache, "m", taken).unwrap().item;
    let c = file_entry(&cache, "c.txt", b"gamma");
    let appended = manifest::append(&cache, &root, vec![Ok(c)]).unwrap().item;
    let raw = as_written(&cache, &appended);
    let keys: Vec<&str> = raw.iter().map(Entry::key).collect();
    assert_eq!(
        keys,
        [
            "parts/part-00002.jsonl",
            "parts/part-00003.jsonl",
            "parts/part-00004.jsonl"
        ]
    );
    assert_eq!(content(&cache, &appended, "c.txt"), b"gamma");
    assert_eq!(
        content(&cache, &appended, "parts/part-00002.jsonl"),
        b"a file"
    );
}

/// A key twice in the entries a manifest is written from is refused, however they come
/// (created, or appended as a part), naming both entries; nothing new is registered.
#[test]
fn a_key_twice_in_one_manifest_is_refused() {
    let (_d, cache) = setup();
    let a = file_entry(&cache, "a.txt", b"alpha");
    let b = file_entry(&cache, "b.txt", b"beta");
    let again = file_entry(&cache, "a.txt", b"other");
    let items = |cache: &Cache| cache.list_ids(None, false, 0, 100).unwrap().len();
    let before = items(&cache);
    let twice = vec![Ok(a.clone()), Ok(b.clone()), Ok(again.clone())];
    let err = write_dataset(&cache, "m", twice).unwrap_err().to_string();
    assert!(
        err.contains("entry 3 'a.txt'") && err.contains("entry 1"),
        "{err}"
    );
    assert_eq!(items(&cache), before, "nothing registered");

    let root = write_dataset(&cache, "m", vec![Ok(a)]).unwrap().item;
    let err = manifest::append(&cache, &root, vec![Ok(b.clone()), Ok(b)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("entry 2 'b.txt'"), "{err}");
    assert_eq!(
        cache.best(&root.uri, &root.params).unwrap().unwrap().id,
        root.id
    );
}

#[test]
fn verify_reports_missing_and_altered_blobs() {
    let (dir, cache) = setup();
    let src = dir.path().join("data");
    dataset(&src, 4);
    let built = manifest::create_from_dir(&cache, &NewItem::new("v"), &src, &CreateOpts::default())
        .unwrap();
    let entries = read_all(&cache, &built.item, ReadOpts::default());
    let sha_of = |i: usize| entries[i].sha256().unwrap().to_string();
    let altered = cache.blobs().path(&sha_of(0)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&altered, fs::Permissions::from_mode(0o644)).unwrap();
    fs::write(&altered, b"tampered").unwrap();
    fs::remove_file(cache.blobs().path(&sha_of(1)).unwrap()).unwrap();
    let report = manifest::verify(&cache, &built.item, false).unwrap();
    assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.key == entries[0].key() && p.message.contains("expected"))
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.key == entries[1].key() && p.message.contains("missing"))
    );
}

#[test]
fn shard_disagreeing_with_its_internal_manifest_is_reported() {
    let (dir, cache) = setup();
    // Hand-make a tar whose internal manifest lists a member that is not there and misses
    // one that is.
    let internal = format!(
        "{{\"kind\":\"file\",\"key\":\"a\",\"member_path\":\"a\",\"size_bytes\":1,\"sha256\":\"{}\"}}\n{{\"kind\":\"file\",\"key\":\"ghost\",\"member_path\":\"ghost\"}}\n",
        cachet::key::sha256_hex(b"A")
    );
    let tar_path = dir.path().join("s.tar");
    {
        let mut b = tar::Builder::new(fs::File::create(&tar_path).unwrap());
        for (name, data) in [
            ("__manifest__.jsonl", internal.as_bytes()),
            ("a", b"B"),
            ("extra", b"E"),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, data).unwrap();
        }
        b.finish().unwrap();
    }
    let archive = cache.put_file(&NewItem::new("archive"), &tar_path).unwrap();
    let shard = format!(
        "{{\"kind\":\"shard\",\"archive_key\":\"shards/s.tar\",\"format\":\"tar\",\"internal_manifest_path\":\"__manifest__.jsonl\",\"count\":3,\"size_bytes\":{},\"sha256\":\"{}\"}}",
        archive.size.unwrap(),
        archive.sha256.as_deref().unwrap()
    );
    let entry = Entry::parse(&shard).unwrap();
    let m = manifest::create_from_entries(&cache, &NewItem::new("m"), vec![Ok(entry)], "shard-set")
        .unwrap();
    let report = manifest::verify(&cache, &m.item, true).unwrap();
    let text: Vec<String> = report.problems.iter().map(|p| p.message.clone()).collect();
    assert!(text.iter().any(|m| m.contains("count 3")), "{text:?}");
    assert!(
        text.iter()
            .any(|m| m.contains("'extra' is not in the internal manifest")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|m| m.contains("'ghost' is listed but not in the archive")),
        "{text:?}"
    );
    assert!(text.iter().any(|m| m.contains("expected")), "{text:?}");
}

#[test]
fn trash_by_manifest_with_linked_items() {
    let (_d, cache) = setup();
    let a = file_entry(&cache, "a.txt", b"alpha!");
    let b = file_entry(&cache, "b.txt", b"beta");
    let m = write_dataset(&cache, "m", vec![Ok(a), Ok(b)]).unwrap().item;
    let only = manifest::trash(&cache, &m, false).unwrap();
    assert_eq!(only.items, 1);
    cache.restore(m.id).unwrap();
    let all = manifest::trash(&cache, &m, true).unwrap();
    assert_eq!(all.items, 3);
    assert_eq!(all.bytes, m.size.unwrap() + 6 + 4);
    // Linked blobs stay while the (trashed) manifest still links them; purge releases them.
    let a_sha = cachet::key::sha256_hex(b"alpha!");
    let a_item = cache
        .list_ids(Some(Status::Trash), false, 0, 10)
        .unwrap()
        .into_iter()
        .map(|id| cache.get(id).unwrap())
        .find(|i| i.sha256.as_deref() == Some(a_sha.as_str()))
        .unwrap();
    // What a purge would free: content no other item holds or links.
    let frees = |items: &[&cachet::Item]| {
        let items: Vec<_> = items.iter().map(|i| (*i).clone()).collect();
        let f = cache.purge_frees(&items).unwrap();
        (f.content, f.linked)
    };
    let m = cache.get(m.id).unwrap(); // as it is now: in the trash
    let m_size = m.size.unwrap();
    // Besides the files, the manifest links its descriptor, which nothing else does.
    let b_sha = cachet::key::sha256_hex(b"beta");
    let links = cache.registry().db().links_of(m.id).unwrap();
    let descriptor: u64 = (links.iter())
        .filter(|l| l.sha256 != a_sha && l.sha256 != b_sha)
        .map(|l| l.size.unwrap())
        .sum();
    assert!(descriptor > 0);
    assert_eq!(frees(&[&a_item]), (0, 0), "the manifest links it");
    assert_eq!(
        frees(&[&m]),
        (m_size, descriptor),
        "its items hold the files"
    );
    assert_eq!(frees(&[&m, &a_item]), (m_size + 6, descriptor));
    cache.purge(a_item.id).unwrap();
    assert!(cache.blobs().exists(&a_sha), "the manifest still links it");
    assert_eq!(
        frees(&[&m]),
        (m_size, descriptor + 6),
        "only the manifest links it now"
    );
    cache.purge(m.id).unwrap();
    assert!(!cache.blobs().exists(&a_sha), "released with the manifest");
}

struct Dataset {
    files: Vec<String>,
}

impl ManifestType for Dataset {
    const TYPE: &'static str = "dataset";
    fn from_entries(_: &Descriptor, entries: Vec<Entry>) -> cachet::Result<Self> {
        Ok(Dataset {
            files: entries.iter().map(|e| e.key().to_string()).collect(),
        })
    }
}

struct Model;

impl ManifestType for Model {
    const TYPE: &'static str = "model";
    fn from_entries(_: &Descriptor, _: Vec<Entry>) -> cachet::Result<Self> {
        Ok(Model)
    }
}

#[test]
fn typed_loading_by_digest() {
    let (_d, cache) = setup();
    let a = file_entry(&cache, "a.txt", b"alpha");
    let m = write_dataset(&cache, "m", vec![Ok(a)]).unwrap().item;
    let sha = m.sha256.as_deref().unwrap();
    let mut loaders = Loaders::new();
    loaders.register::<Dataset>().register::<Model>();
    let ds: Dataset = loaders.load_as(&cache, sha).unwrap();
    assert_eq!(ds.files, ["a.txt"]);
    assert!(loaders.load_as::<Model>(&cache, sha).is_err());
    let none = Loaders::new();
    assert!(matches!(
        none.load(&cache, sha),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn symlinks_are_skipped_not_followed() {
    let (dir, cache) = setup();
    let src = dir.path().join("data");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("real.txt"), b"real").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", src.join("passwd")).unwrap();
    let built = manifest::create_from_dir(&cache, &NewItem::new("s"), &src, &CreateOpts::default())
        .unwrap();
    assert_eq!(built.files, 1);
    assert_eq!(built.skipped.len(), 1);
}

#[test]
fn entries_naming_local_files_store_them_and_a_missing_one_stops_the_manifest() {
    let (dir, cache) = setup();
    let local = dir.path().join("local.csv");
    fs::write(&local, b"a,b\n1,2\n").unwrap();
    let with_path = |key: &str, path: &Path| {
        Entry::parse(
            &serde_json::json!({"kind": "file", "key": key, "path": path.to_str().unwrap()})
                .to_string(),
        )
        .unwrap()
    };

    let built = manifest::create_from_entries(
        &cache,
        &NewItem::new("dataset://local"),
        vec![Ok(with_path("data/local.csv", &local))],
        "dataset",
    )
    .unwrap();
    let entries = read_all(&cache, &built.item, ReadOpts::default());
    let Entry::File(f) = &entries[0] else {
        panic!("a file entry: {entries:?}")
    };
    assert_eq!(
        f.sha256.as_deref(),
        Some(cachet::key::sha256_hex(b"a,b\n1,2\n").as_str())
    );
    assert_eq!(f.size_bytes, Some(8));
    assert!(
        !f.extra.contains_key("path"),
        "the local path is not written"
    );
    assert_eq!(
        content(&cache, &built.item, "data/local.csv"),
        b"a,b\n1,2\n"
    );

    // The second file is missing: the error names it, and no manifest is made.
    let missing = dir.path().join("gone.csv");
    let err = manifest::create_from_entries(
        &cache,
        &NewItem::new("dataset://broken"),
        vec![
            Ok(with_path("data/local.csv", &local)),
            Ok(with_path("data/gone.csv", &missing)),
        ],
        "dataset",
    )
    .unwrap_err();
    assert!(err.to_string().contains("gone.csv"), "{err}");
    let ids = cache.list_ids(None, false, 0, 100).unwrap();
    assert_eq!(ids.len(), 1, "only the first manifest: {ids:?}");
    let leftovers: Vec<_> = fs::read_dir(cache.blobs().tmp_dir()).unwrap().collect();
    assert!(leftovers.is_empty(), "staging cleaned: {leftovers:?}");
}
