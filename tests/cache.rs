//! The cache core through its public API, on real SQLite files in temp dirs.

use std::fs;
use std::io::Write;
use std::time::Duration;

use cachet::gc::{self, GcPolicy};
use cachet::{AttrValue, BestOrNew, Cache, CacheOpts, Error, NewItem, Status};
use chrono::Utc;
use serde_json::json;

fn cache() -> (tempfile::TempDir, Cache) {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path().join("cache")).unwrap();
    (dir, cache)
}

fn new(uri: &str) -> NewItem {
    NewItem::new(uri).params(json!({"release": 3}))
}

#[test]
fn put_best_and_versions() {
    let (_d, cache) = cache();
    let a = cache.put_bytes(&new("u"), b"one").unwrap();
    let b = cache.put_bytes(&new("u"), b"two").unwrap();
    let other = cache
        .put_bytes(&NewItem::new("u").params(json!({"release": "3"})), b"x")
        .unwrap();
    assert_eq!((a.version, b.version, other.version), (1, 2, 1));
    assert_eq!(a.key, b.key);
    assert_ne!(a.key, other.key, "3 and \"3\" are different params");
    assert_eq!(a.status, Status::Ready);
    assert_eq!(a.size, Some(3));
    let best = cache.best("u", &json!({"release": 3})).unwrap().unwrap();
    assert_eq!(best.id, b.id);
    // A newer version that is not READY does not win.
    let writer = cache.create(&new("u")).unwrap();
    assert_eq!(writer.item().version, 3);
    assert_eq!(
        cache.best("u", &json!({"release": 3})).unwrap().unwrap().id,
        b.id
    );
    drop(writer);
    let versions = cache.versions(&a.key).unwrap();
    let statuses: Vec<_> = versions.iter().map(|v| v.status).collect();
    assert_eq!(statuses, [Status::Ready, Status::Ready, Status::Failed]);
    assert!(versions[2].note.as_deref().unwrap().contains("dropped"));
}

/// Puts `item` in the trash and purges it.
fn trash_and_purge(cache: &Cache, item: &cachet::Item) {
    cache.trash(item.id).unwrap();
    cache.purge(item.id).unwrap();
}

/// Puts an item of `uri` whose content is the uri itself.
fn put_uri(cache: &Cache, uri: &str) -> cachet::Item {
    cache.put_bytes(&new(uri), uri.as_bytes()).unwrap()
}

/// Whichever versions go and in whatever order, the next one is past every one handed
/// out: the newest alone, the newest before the older, the older before the newest (to
/// none left, and to one left).
#[test]
fn versions_are_never_reused_whatever_is_purged_first() {
    let (_d, cache) = cache();
    let purge = |item: &cachet::Item| trash_and_purge(&cache, item);
    let put = |uri: &str| put_uri(&cache, uri);
    let (v1, v2) = (put("newest"), put("newest"));
    purge(&v2);
    assert_eq!(put("newest").version, 3, "after purging only the newest");
    purge(&v1);
    assert_eq!(put("newest").version, 4, "after purging an older one too");

    let (v1, v2) = (put("down"), put("down"));
    purge(&v2);
    purge(&v1);
    assert!(cache.versions(&v1.key).unwrap().is_empty());
    assert_eq!(put("down").version, 3, "after purging newest first");

    let (v1, v2) = (put("up"), put("up"));
    purge(&v1);
    purge(&v2);
    assert!(cache.versions(&v1.key).unwrap().is_empty());
    assert_eq!(put("up").version, 3, "after purging oldest first");

    let (v1, v2, v3) = (put("middle"), put("middle"), put("middle"));
    purge(&v1);
    purge(&v2);
    assert_eq!(put("middle").version, 4, "after purging the older ones");
    purge(&v3);
    assert_eq!(put("middle").version, 5, "the one just put still counts");
}

/// An id names one item for good: once the newest item is purged, once every item is,
/// and once gc removed the newest, the next one gets an id no item had.
#[test]
fn ids_are_never_handed_out_again() {
    let (_d, cache) = cache();
    let (a, b) = (put_uri(&cache, "a"), put_uri(&cache, "b"));
    trash_and_purge(&cache, &b);
    let c = put_uri(&cache, "c");
    assert!(c.id > b.id, "{} after {}", c.id, b.id);
    trash_and_purge(&cache, &a);
    trash_and_purge(&cache, &c);
    let d = cache.reserve(&new("d")).unwrap();
    assert!(d.id > c.id, "{} after {}", d.id, c.id);
    // Through gc too.
    cache.trash(d.id).unwrap();
    let trash = GcPolicy {
        trash: Some(Duration::ZERO),
        grace: Duration::ZERO,
        ..GcPolicy::none()
    };
    let plan = gc::plan(&cache, &trash, Utc::now()).unwrap();
    let report = gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert_eq!(report.items_removed, 1);
    let e = put_uri(&cache, "e");
    assert!(e.id > d.id, "{} after {}", e.id, d.id);
}

/// Once an item (written by other means) holds the highest id there is, a new item is a
/// clear error, and nothing is written.
#[test]
fn no_id_left_is_an_error() {
    let (_d, cache) = cache();
    let top = cache.put_bytes(&NewItem::new("top"), b"top").unwrap();
    let conn = cache.registry().db().conn;
    conn.execute("UPDATE items SET id = ?1 WHERE id = ?2", (i64::MAX, top.id))
        .unwrap();
    let err = cache
        .put_bytes(&new("next"), b"next")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no item id is left"), "{err}");
    assert_eq!(cache.list_ids(None, false, 0, 10).unwrap(), [i64::MAX]);
}

#[test]
fn writer_commits_fails_or_marks_failed_on_drop() {
    let (_d, cache) = cache();
    let mut w = cache.create(&new("w")).unwrap();
    assert_eq!(w.item().status, Status::Write);
    assert!(w.item().lease.is_some());
    w.write_all(b"partial").unwrap();
    let item = w.commit().unwrap();
    assert_eq!(item.status, Status::Ready);
    assert!(item.lease.is_none());
    assert_eq!(
        item.sha256.as_deref(),
        Some(cachet::key::sha256_hex(b"partial").as_str())
    );
    assert_eq!(
        cache
            .blobs()
            .verify(item.sha256.as_deref().unwrap())
            .unwrap(),
        7
    );

    let mut w = cache.create(&new("w")).unwrap();
    w.write_all(b"bad").unwrap();
    let failed = w.fail("upstream 500").unwrap();
    assert_eq!(failed.status, Status::Failed);
    assert_eq!(failed.note.as_deref(), Some("upstream 500"));
    // Nothing of the failed write stays in tmp/.
    assert_eq!(fs::read_dir(cache.blobs().tmp_dir()).unwrap().count(), 0);
}

#[test]
fn reserve_then_write() {
    let (_d, cache) = cache();
    let reserved = cache.reserve(&new("r")).unwrap();
    assert_eq!(reserved.status, Status::Uninitialized);
    let mut w = cache.writer(reserved.id).unwrap();
    w.write_all(b"data").unwrap();
    assert_eq!(w.commit().unwrap().status, Status::Ready);
    // A READY item cannot be written again.
    assert!(matches!(
        cache.writer(reserved.id),
        Err(Error::InvalidTransition {
            from: Status::Ready,
            to: Status::Write,
            ..
        })
    ));
}

#[test]
fn forbidden_transitions_are_errors_and_change_nothing() {
    let (dir, cache) = cache();
    let item = cache.put_bytes(&new("t"), b"x").unwrap();
    let refused = cache.restore(item.id).unwrap_err();
    assert!(
        matches!(
            refused,
            Error::NotInTrash {
                status: Status::Ready,
                ..
            }
        ),
        "{refused:?}"
    );
    assert!(
        refused
            .to_string()
            .ends_with("is not in the trash (it is READY)")
    );
    assert!(
        cache.purge(item.id).is_err(),
        "only TRASH items can be purged"
    );
    cache.trash(item.id).unwrap();
    assert!(matches!(
        cache.trash(item.id),
        Err(Error::InvalidTransition {
            from: Status::Trash,
            to: Status::Trash,
            ..
        })
    ));
    assert!(matches!(
        cache.fail(item.id, "x"),
        Err(Error::InvalidTransition { .. })
    ));
    let restored = cache.restore(item.id).unwrap();
    assert_eq!(restored.status, Status::Ready);
    assert_eq!(restored.sha256, item.sha256);
    // A FAILED item stays FAILED through trash and restore, its note as it was.
    let failed = cache.fail(item.id, "corrupt").unwrap();
    cache.trash(failed.id).unwrap();
    let back = cache.restore(failed.id).unwrap();
    assert_eq!(
        (back.status, back.note.as_deref()),
        (Status::Failed, Some("corrupt"))
    );
    // Trashed "from the trash" (by hand): it comes out, as one whose past is unknown.
    let other = cache.put_bytes(&new("t2"), b"y").unwrap();
    cache.trash(other.id).unwrap();
    rusqlite::Connection::open(dir.path().join("cache/registry.sqlite"))
        .unwrap()
        .execute("UPDATE items SET trashed_from = 'TRASH'", [])
        .unwrap();
    let said = cache.get(other.id).unwrap().restores_to();
    assert_eq!(said, Some(Status::Failed), "as the restore will do");
    let back = cache.restore(other.id).unwrap();
    assert_eq!(back.status, Status::Failed);
    assert_eq!(
        back.note.as_deref(),
        Some("restored from the trash with no status to go back to"),
        "a failure says why"
    );
    // Trashed mid-write: it failed because of that, and says so.
    let writer = cache.create(&new("t3")).unwrap();
    let writing = writer.item().id;
    cache.trash(writing).unwrap();
    drop(writer);
    let back = cache.restore(writing).unwrap();
    assert_eq!(
        (back.status, back.note.as_deref()),
        (Status::Failed, Some("trashed while it was being written"))
    );
    assert_eq!(
        cache.get(other.id).unwrap().restores_to(),
        None,
        "not in the trash"
    );
}

/// Trash and restore of many items: one transaction, each item's own refusal its outcome
/// in the order given, the others changed all the same.
#[test]
fn many_items_are_trashed_and_restored_at_once_each_with_its_outcome() {
    let (_d, cache) = cache();
    let a = put_uri(&cache, "s3://b/a");
    let b = put_uri(&cache, "s3://b/b");
    let trashed = put_uri(&cache, "s3://b/t");
    cache.trash(trashed.id).unwrap();
    let out = cache.trash_many(&[a.id, 999, trashed.id, b.id]).unwrap();
    let statuses: Vec<_> = out.iter().map(|o| o.as_ref().map(|i| i.status)).collect();
    assert!(matches!(statuses[0], Ok(Status::Trash)));
    assert!(
        matches!(out[1], Err(Error::NotFound { .. })),
        "{:?}",
        out[1]
    );
    assert!(
        matches!(out[2], Err(Error::InvalidTransition { .. })),
        "{:?}",
        out[2]
    );
    assert!(matches!(statuses[3], Ok(Status::Trash)));
    assert_eq!(cache.get(b.id).unwrap().status, Status::Trash);

    let back = cache.restore_many(&[b.id, b.id, a.id]).unwrap();
    assert_eq!(back[0].as_ref().unwrap().status, Status::Ready);
    assert!(
        matches!(back[1], Err(Error::NotInTrash { .. })),
        "{:?}",
        back[1]
    );
    assert_eq!(cache.get(a.id).unwrap().status, Status::Ready);
    assert_eq!(cache.get(trashed.id).unwrap().status, Status::Trash);
}

#[test]
fn blobs_are_deduplicated_and_purged_only_when_unreferenced() {
    let (_d, cache) = cache();
    let a = cache.put_bytes(&new("a"), b"same").unwrap();
    let b = cache.put_bytes(&new("b"), b"same").unwrap();
    assert_eq!(a.sha256, b.sha256);
    let path = cache.content_path(&a).unwrap();
    cache.trash(a.id).unwrap();
    let (_, freed) = cache.purge(a.id).unwrap();
    assert!(!freed);
    assert!(path.exists(), "b still uses the blob");
    cache.trash(b.id).unwrap();
    let (_, freed) = cache.purge(b.id).unwrap();
    assert!(freed);
    assert!(!path.exists());
}

#[test]
fn typed_attributes_round_trip() {
    let (_d, cache) = cache();
    let when = Utc::now();
    let item = cache
        .put_bytes(
            &new("a")
                .attr("n", AttrValue::Int(-3))
                .attr("score", AttrValue::Float(0.25))
                .attr("name", AttrValue::Text("alpha".into()))
                .attr("digits", AttrValue::Text("007".into()))
                .attr("ok", AttrValue::Bool(true))
                .attr("when", AttrValue::Datetime(when)),
            b"x",
        )
        .unwrap();
    let got = cache.get(item.id).unwrap();
    assert_eq!(got.attrs["n"], AttrValue::Int(-3));
    assert_eq!(got.attrs["score"], AttrValue::Float(0.25));
    assert_eq!(got.attrs["name"], AttrValue::Text("alpha".into()));
    assert_eq!(
        got.attrs["digits"],
        AttrValue::Text("007".into()),
        "text stays text"
    );
    assert_eq!(got.attrs["ok"], AttrValue::Bool(true));
    match &got.attrs["when"] {
        AttrValue::Datetime(t) => assert_eq!(t.timestamp_micros(), when.timestamp_micros()),
        other => panic!("{other:?}"),
    }
    let changed = cache
        .set_attrs(
            item.id,
            &[("n".to_string(), AttrValue::Text("x".into()))].into(),
        )
        .unwrap();
    assert_eq!(changed.attrs["n"], AttrValue::Text("x".into()));
    let removed = cache.remove_attrs(item.id, &["ok".into()]).unwrap();
    assert!(!removed.attrs.contains_key("ok"));
    assert!(cache.remove_attrs(item.id, &["ok".into()]).is_err());
}

/// `put_bytes` builds the item it returns rather than reading it back: it must be what
/// reading it back gives, down to canonical params and microsecond datetimes.
#[test]
fn put_returns_the_item_as_stored() {
    let (_d, cache) = cache();
    let when = chrono::DateTime::from_timestamp(1_790_000_000, 123_456_789).unwrap();
    let rich = NewItem::new("s3://bucket/a.parquet")
        .params(json!({"z": [1, 2.5, {"b": null, "a": "x"}], "a": -0.0, "m": 1e300}))
        .attr("n", AttrValue::Int(i64::MIN))
        .attr("x", AttrValue::Float(-1.5e-7))
        .attr("t", AttrValue::Text("é \"q\"".into()))
        .attr("ok", AttrValue::Bool(false))
        .attr("when", AttrValue::Datetime(when));
    let rich = NewItem {
        label: Some("Label".into()),
        filename: Some("a.parquet".into()),
        ..rich
    };
    for (new, bytes) in [(rich, &b"content"[..]), (NewItem::new("plain"), b"")] {
        let put = cache.put_bytes(&new, bytes).unwrap();
        assert_eq!(put, cache.get(put.id).unwrap(), "{}", new.uri);
    }
    let second = cache.put_bytes(&NewItem::new("plain"), b"again").unwrap();
    assert_eq!(second, cache.get(second.id).unwrap());
    assert_eq!(second.version, 2);
}

#[test]
fn best_or_new_and_access() {
    let (dir, cache) = cache();
    let BestOrNew::New(mut w) = cache.best_or_new(&new("b")).unwrap() else {
        panic!("empty cache has no best");
    };
    w.write_all(b"v1").unwrap();
    let made = w.commit().unwrap();
    let BestOrNew::Existing(found) = cache.best_or_new(&new("b")).unwrap() else {
        panic!("expected the READY version");
    };
    assert_eq!(found.id, made.id);
    cache.record_access(made.id).unwrap();
    cache.record_access(made.id).unwrap();
    let item = cache.get(made.id).unwrap();
    assert_eq!(item.access_count, 2);
    assert!(item.accessed.is_some());
    // At the top the count stays there: one more would make SQLite store a float.
    rusqlite::Connection::open(dir.path().join("cache/registry.sqlite"))
        .unwrap()
        .execute("UPDATE items SET access_count = 9223372036854775807", [])
        .unwrap();
    cache.record_access(made.id).unwrap();
    assert_eq!(cache.get(made.id).unwrap().access_count, i64::MAX as u64);
}

#[test]
fn resolve_by_id_prefix_and_version() {
    let (_d, cache) = cache();
    let a = cache.put_bytes(&new("a"), b"1").unwrap();
    let a2 = cache.put_bytes(&new("a"), b"2").unwrap();
    assert_eq!(cache.resolve(&a.id.to_string(), false).unwrap().id, a.id);
    assert_eq!(cache.resolve(&a.key[..8], false).unwrap().id, a2.id);
    assert_eq!(
        cache
            .resolve(&format!("{}@1", &a.key[..8]), false)
            .unwrap()
            .id,
        a.id
    );
    // prefer_ready skips a newer version that is not READY.
    let w = cache.create(&new("a")).unwrap();
    assert_eq!(cache.resolve(&a.key[..8], true).unwrap().id, a2.id);
    assert_eq!(cache.resolve(&a.key[..8], false).unwrap().id, w.item().id);
    drop(w);
    assert!(matches!(
        cache.resolve("ffffffff", false),
        Err(Error::NotFound { .. })
    ));
    assert!(cache.resolve(&format!("{}@x", &a.key[..8]), false).is_err());
    // No key before '@' is no reference, not a prefix of every key.
    let err = cache.resolve("@1", false).unwrap_err().to_string();
    assert!(err.contains("must come before '@'"), "{err}");
}

#[test]
fn resolve_by_uri_when_it_has_one_key() {
    let (_d, cache) = cache();
    let uri = "https://user@example.org/data.csv";
    let v1 = cache.put_bytes(&new(uri), b"1").unwrap();
    let v2 = cache.put_bytes(&new(uri), b"2").unwrap();
    // The URI's only key (whatever its params): its newest version; with prefer_ready,
    // the newest READY one.
    assert_eq!(cache.resolve(uri, false).unwrap().id, v2.id);
    let w = cache.create(&new(uri)).unwrap();
    assert_eq!(cache.resolve(uri, true).unwrap().id, v2.id);
    assert_eq!(cache.resolve(uri, false).unwrap().id, w.item().id);
    drop(w);
    // The `@` in it is not KEY@VERSION; a key's is.
    let at = format!("{}@1", &v1.key[..8]);
    assert_eq!(cache.resolve(&at, false).unwrap().id, v1.id);
    // Under two sets of params, the URI names neither.
    cache
        .put_bytes(&NewItem::new(uri).params(json!({"release": 4})), b"3")
        .unwrap();
    match cache.resolve(uri, true).unwrap_err() {
        Error::Ambiguous { candidates, .. } => {
            assert_eq!(candidates.len(), 2, "{candidates:?}");
            assert!(candidates[0].contains(r#"(params {"release":3})"#));
        }
        other => panic!("{other}"),
    }
    let err = cache.resolve("s3://bucket/none", true).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }));
    assert!(err.to_string().contains("no item has that URI"), "{err}");
    // URIs that look like an id, a key or KEY@VERSION, when nothing is named so.
    for uri in ["2024", "cafe", "face@2x.png"] {
        let item = cache.put_bytes(&NewItem::new(uri), uri.as_bytes()).unwrap();
        assert_eq!(cache.resolve(uri, true).unwrap().id, item.id, "{uri}");
    }
    // An id still comes first, and a KEY@VERSION naming nothing says so.
    assert_eq!(cache.resolve("1", true).unwrap().id, v1.id);
    let err = cache.resolve("abcd@x", true).unwrap_err().to_string();
    assert!(err.contains("must be a number"), "{err}");
}

/// An id that is also the start of a key names both: the error says how to name each.
#[test]
fn an_id_that_starts_a_key_says_how_to_name_each() {
    let (_d, cache) = cache();
    let items = (0..2000).map(|i| {
        Ok(cachet::IngestItem {
            item: new(&format!("s3://b/{i}")),
            content: cachet::IngestContent::Bytes(format!("{i}").into_bytes()),
        })
    });
    let ids = cache.ingest(items, &mut |_| {}).unwrap();
    let both = ids
        .iter()
        .filter_map(|&id| cache.get(id).ok())
        .find_map(|item| {
            let digits = &item.key[..4];
            let id: i64 = digits.parse().ok().filter(|id| ids.contains(id))?;
            Some((digits.to_string(), id))
        })
        .expect("a key starting with an id (keys are deterministic)");
    let err = cache.resolve(&both.0, false).unwrap_err().to_string();
    assert!(
        err.contains(&format!(
            "(#{} is the item; more hex digits, a key)",
            both.1
        )),
        "{err}"
    );
    assert_eq!(
        cache.resolve(&format!("#{}", both.1), false).unwrap().id,
        both.1
    );
}

#[test]
fn ambiguous_prefix_lists_candidates() {
    let (_d, cache) = cache();
    // Find two URIs whose keys share their first 4 hex digits (keys are deterministic).
    let mut seen = std::collections::HashMap::new();
    let (u1, u2) = (0..100_000)
        .find_map(|i| {
            let uri = format!("k{i}");
            let key = cachet::key::item_key(&uri, &json!({"release": 3}));
            seen.insert(key[..4].to_string(), uri.clone())
                .map(|other| (other, uri))
        })
        .unwrap();
    let a = cache.put_bytes(&new(&u1), b"x").unwrap();
    let b = cache.put_bytes(&new(&u2), b"y").unwrap();
    let err = cache.resolve(&a.key[..4], false).unwrap_err();
    match &err {
        Error::Ambiguous { candidates, .. } => {
            assert_eq!(candidates.len(), 2);
            assert!(candidates.iter().any(|c| a.key.starts_with(c.as_str())));
            assert!(candidates.iter().any(|c| b.key.starts_with(c.as_str())));
        }
        other => panic!("{other}"),
    }
    // One more digit tells them apart (unless they share it too).
    let longer = (5..64).find(|&n| a.key[..n] != b.key[..n]).unwrap();
    assert_eq!(cache.resolve(&a.key[..longer], false).unwrap().id, a.id);
    // Three hex digits are too short to be a key reference.
    assert!(matches!(
        cache.resolve("abc", false),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn stale_writes_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let opts = CacheOpts {
        lease: Duration::from_secs(60),
        ..CacheOpts::default()
    };
    let cache = Cache::open_with(dir.path(), opts).unwrap();
    let w = cache.create(&new("s")).unwrap();
    let item = cache.get(w.item().id).unwrap();
    assert!(!item.is_stale(Utc::now()));
    assert!(item.is_stale(Utc::now() + chrono::Duration::seconds(61)));
    std::mem::forget(w); // a writer that died: no drop, no FAILED
    let item = cache.get(item.id).unwrap();
    assert_eq!(item.status, Status::Write);
    // Leases past what a time holds (edited by hand) read as SQL orders them: one that
    // ends at the top never runs out, one at the bottom ran out long ago.
    let registry = rusqlite::Connection::open(dir.path().join("registry.sqlite")).unwrap();
    for (expires, stale) in [(i64::MAX, false), (i64::MIN, true)] {
        registry
            .execute("UPDATE items SET lease_expires = ?1", [expires])
            .unwrap();
        assert_eq!(cache.get(item.id).unwrap().is_stale(Utc::now()), stale);
        let filtered = cachet::filter::Filter::parse("status:stale").unwrap();
        let n = cachet::filter::count(cache.registry().db().conn, &filtered, Utc::now());
        assert_eq!(n.unwrap(), u64::from(stale), "status:stale agrees");
    }
}

#[test]
fn missing_and_altered_blobs_are_errors() {
    let (_d, cache) = cache();
    let item = cache.put_bytes(&new("m"), b"precious").unwrap();
    let path = cache.content_path(&item).unwrap();
    make_writable(&path);
    fs::write(&path, b"precioux").unwrap();
    let mut sink = Vec::new();
    let err = cache.copy_content(&item, &mut sink).unwrap_err();
    assert!(matches!(err, Error::Integrity { .. }), "{err}");
    fs::write(&path, b"short").unwrap();
    assert!(matches!(
        cache.content_path(&item),
        Err(Error::Integrity { .. })
    ));
    fs::remove_file(&path).unwrap();
    let err = cache.content_path(&item).unwrap_err();
    assert!(matches!(err, Error::MissingBlob { .. }), "{err}");
    assert!(err.to_string().contains(item.sha256.as_deref().unwrap()));
}

fn registry_bytes(root: &std::path::Path) -> Vec<u8> {
    fs::read(root.join("registry.sqlite")).unwrap()
}

#[test]
fn newer_registry_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    drop(Cache::open(dir.path()).unwrap());
    let reg = dir.path().join("registry.sqlite");
    {
        let conn = rusqlite::Connection::open(&reg).unwrap();
        conn.execute_batch("PRAGMA user_version = 99; PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
    }
    let before = registry_bytes(dir.path());
    let err = Cache::open(dir.path()).err().unwrap();
    assert!(
        matches!(err, Error::RegistryTooNew { found: 99, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade cachet"));
    assert_eq!(registry_bytes(dir.path()), before);
}

#[test]
fn foreign_and_corrupt_registries_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("registry.sqlite");
    {
        let conn = rusqlite::Connection::open(&reg).unwrap();
        conn.execute_batch("CREATE TABLE photos (id INTEGER); INSERT INTO photos VALUES (1);")
            .unwrap();
    }
    let before = registry_bytes(dir.path());
    let err = Cache::open(dir.path()).err().unwrap();
    assert!(matches!(err, Error::ForeignRegistry { .. }), "{err}");
    assert_eq!(registry_bytes(dir.path()), before);

    fs::write(
        &reg,
        b"this is not a database, just text that is long enough to matter....",
    )
    .unwrap();
    let before = registry_bytes(dir.path());
    let err = Cache::open(dir.path()).err().unwrap();
    assert!(matches!(err, Error::ForeignRegistry { .. }), "{err}");
    assert!(err.to_string().contains("registry.sqlite"));
    assert_eq!(registry_bytes(dir.path()), before);
    // Nothing of a cache was made beside it.
    let names: Vec<String> = (fs::read_dir(dir.path()).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["registry.sqlite"]);
}

/// A directory that holds anything but a cache (a mistyped root: a home or downloads
/// folder) is left as it was: no registry, no CACHEDIR.TAG for backup tools to skip it by.
/// A cache that has gathered other files since it started opens as usual.
#[test]
fn a_cache_is_never_started_among_other_files() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["notes.txt", "photos", "report.pdf", "z.csv"] {
        fs::write(dir.path().join(name), "mine").unwrap();
    }
    let err = Cache::open(dir.path()).err().unwrap().to_string();
    assert!(
        err.contains("holds no cache but other files (notes.txt, photos, report.pdf and 1 more)"),
        "{err}"
    );
    let mut names: Vec<String> = (fs::read_dir(dir.path()).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["notes.txt", "photos", "report.pdf", "z.csv"]);

    // A file system's own folder, a file manager's notes and a temporary file are no
    // user's files.
    let mount = dir.path().join("mount");
    for name in ["lost+found", ".DS_Store", ".tmpAb12Cd"] {
        fs::create_dir_all(mount.join(name)).unwrap();
    }
    Cache::open(&mount).unwrap();

    let root = dir.path().join("cache");
    let item = (Cache::open(&root).unwrap())
        .put_bytes(&NewItem::new("u"), b"x")
        .unwrap();
    fs::write(root.join("notes.txt"), "mine").unwrap();
    assert_eq!(
        Cache::open(&root).unwrap().get(item.id).unwrap().id,
        item.id
    );
}

/// A registry opened to read only (as a cache whose directory cannot be written is) reads
/// as usual and refuses every change by saying so; one of an older schema, which it could
/// not upgrade, is refused with what to do.
#[test]
fn a_registry_opened_to_read_only_reads_and_refuses_changes() {
    use cachet::registry::Registry;
    let (dir, cache) = cache();
    let item = cache.put_bytes(&new("u"), b"x").unwrap();
    drop(cache);
    let root = dir.path().join("cache");
    let path = root.join("registry.sqlite");
    let before = registry_bytes(&root);
    let registry = Registry::open_read_only(&path).unwrap();
    assert_eq!(registry.access(), cachet::registry::Access::ReadOnly);
    assert_eq!(registry.db().item(item.id).unwrap().uri, "u");
    let err = registry.write(|_| Ok(())).unwrap_err();
    assert!(err.is_read_only(), "{err}");
    assert!(err.to_string().contains("read-only here"), "{err}");
    drop(registry);
    assert_eq!(registry_bytes(&root), before);

    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {};", version - 1))
        .unwrap();
    let err = Registry::open_read_only(&path).err().unwrap().to_string();
    assert!(
        err.contains(&format!("schema version {}, older", version - 1)),
        "{err}"
    );
}

/// Usage by key: each key once, with its versions counted and their sizes summed,
/// largest first (equal ones by name), named by the key's head and its URI.
#[test]
fn usage_by_key_sums_each_keys_versions() {
    use cachet::cache::UsageBy;
    let (_d, cache) = cache();
    let a1 = cache.put_bytes(&new("s3://b/a"), b"123").unwrap();
    cache.put_bytes(&new("s3://b/a"), b"123456").unwrap();
    let b = cache.put_bytes(&new("s3://b/b"), b"12345678").unwrap();
    let c = cache.put_bytes(&new("s3://b/c"), b"12345678").unwrap();
    cache.reserve(&new("s3://b/d")).unwrap();
    let rows = cache.usage(&UsageBy::Key, 10).unwrap();
    let got: Vec<(String, u64, u64)> = (rows.into_iter())
        .map(|r| (r.group, r.items, r.bytes))
        .collect();
    let name = |item: &cachet::Item| format!("{}  {}", &item.key[..12], item.uri);
    let (mut b_name, mut c_name) = (name(&b), name(&c));
    if c_name < b_name {
        std::mem::swap(&mut b_name, &mut c_name);
    }
    assert_eq!(
        got[..3],
        [(name(&a1), 2, 9), (b_name, 1, 8), (c_name, 1, 8)]
    );
    assert_eq!(got[3].1, 1);
    assert_eq!(got[3].2, 0);
    assert_eq!(cache.usage(&UsageBy::Key, 2).unwrap().len(), 2);
    // A key edited by hand into bytes that are no text still gets its group.
    rusqlite::Connection::open(cache.root().join("registry.sqlite"))
        .unwrap()
        .execute("UPDATE items SET key = X'FF00' WHERE id = ?1", [b.id])
        .unwrap();
    let rows = cache.usage(&UsageBy::Key, 10).unwrap();
    assert!(
        rows.iter().any(|r| r.group.starts_with('\u{FFFD}')),
        "{rows:?}"
    );
}

#[test]
fn open_creates_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path().join("a/b")).unwrap();
    let root = cache.root();
    let tag = fs::read_to_string(root.join("CACHEDIR.TAG")).unwrap();
    assert!(tag.starts_with("Signature: 8a477f597d28d172789f06886806bc55"));
    assert!(root.join("blobs-v1/sha256").is_dir());
    assert!(root.join("tmp").is_dir());
    let conn = rusqlite::Connection::open(root.join("registry.sqlite")).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

fn make_writable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn an_items_file_name_is_its_filename_or_the_end_of_its_uri() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path()).unwrap();
    let put = |new: NewItem| cache.put_bytes(&new, b"x").unwrap();
    assert_eq!(
        put(NewItem::new("https://x.org/d/t.csv.gz")).file_name(),
        "t.csv.gz"
    );
    assert_eq!(put(NewItem::new("s3://bucket/dir/")).file_name(), "dir");
    assert_eq!(put(NewItem::new("opaque")).file_name(), "opaque");
    let named = NewItem::new("https://x.org/download?id=7").filename("report.pdf");
    assert_eq!(put(named).file_name(), "report.pdf");
}

#[test]
fn usage_totals_count_each_blob_once() {
    let (_d, cache) = cache();
    cache.put_bytes(&NewItem::new("a"), b"shared").unwrap();
    cache.put_bytes(&NewItem::new("b"), b"shared").unwrap();
    let c = cache.put_bytes(&NewItem::new("c"), b"only c").unwrap();
    cache.put_bytes(&NewItem::new("d"), b"dd").unwrap();
    cache.trash(c.id).unwrap();
    // An item without content yet.
    let writer = cache.create(&NewItem::new("w")).unwrap();
    let totals = cache.usage_totals().unwrap();
    assert_eq!(totals.items, 5);
    assert_eq!(totals.logical_bytes, 6 + 6 + 6 + 2);
    assert_eq!(
        totals.stored_bytes,
        6 + 6 + 2,
        "the shared blob counts once"
    );
    drop(writer);
    let (_e, fresh) = self::cache();
    let empty = fresh.usage_totals().unwrap();
    assert_eq!(
        (empty.items, empty.logical_bytes, empty.stored_bytes),
        (0, 0, 0)
    );
}

/// A registry gone (deleted, or truncated to nothing) beside stored blobs is not a new
/// cache: a new registry would make every blob an orphan for gc.
#[test]
fn a_lost_registry_beside_blobs_is_refused_not_started_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let item = Cache::open(&root)
        .unwrap()
        .put_bytes(&new("u"), b"kept")
        .unwrap();
    let registry = root.join("registry.sqlite");
    let blob = Cache::open(&root)
        .unwrap()
        .blobs()
        .path(item.sha256.as_deref().unwrap())
        .unwrap();
    for lose in ["truncate", "delete", "lose the log"] {
        for side in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(root.join(format!("registry.sqlite{side}")));
        }
        match lose {
            "truncate" => std::fs::write(&registry, b"").unwrap(),
            "delete" => std::fs::remove_file(&registry).unwrap(),
            // What is left of a registry whose write-ahead log went before a checkpoint:
            // a database file with no schema in it.
            _ => {
                std::fs::remove_file(&registry).unwrap();
                rusqlite::Connection::open(&registry)
                    .unwrap()
                    .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
                    .unwrap();
            }
        }
        let err = Cache::open(&root).err().expect("refused");
        assert!(
            err.to_string().contains("is missing or empty"),
            "{lose}: {err}"
        );
        assert!(blob.is_file(), "{lose}: the blob is kept");
        let tables: i64 = rusqlite::Connection::open(&registry)
            .unwrap()
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .unwrap();
        assert_eq!(tables, 0, "{lose}: no new registry");
    }
    // Without blobs (a stray file is none), a new cache starts there.
    std::fs::remove_dir_all(root.join("blobs-v1")).unwrap();
    std::fs::create_dir_all(root.join("blobs-v1/sha256/ab")).unwrap();
    std::fs::write(root.join("blobs-v1/sha256/.DS_Store"), b"x").unwrap();
    std::fs::write(root.join("blobs-v1/sha256/ab/.DS_Store"), b"x").unwrap();
    Cache::open(&root).unwrap();
}

/// What a purge would free counts only the items in the trash (a purge refuses the
/// others), and a blob one of those others holds stays.
#[test]
fn purge_frees_counts_only_trashed_items() {
    let (_d, cache) = cache();
    let ready = cache.put_bytes(&new("a"), b"same").unwrap();
    let trashed = cache.put_bytes(&new("b"), b"same").unwrap();
    let trashed = cache.trash(trashed.id).unwrap();
    let frees = |items: &[&cachet::Item]| {
        let items: Vec<_> = items.iter().map(|i| (*i).clone()).collect();
        cache.purge_frees(&items).unwrap().content
    };
    assert_eq!(
        frees(&[&ready, &trashed]),
        0,
        "the READY one keeps the blob"
    );
    assert_eq!(frees(&[&trashed]), 0);
    // Listed twice, it is still one holder: the READY one keeps the blob.
    assert_eq!(frees(&[&trashed, &trashed]), 0);
    let ready = cache.trash(ready.id).unwrap();
    assert_eq!(frees(&[&ready, &trashed]), 4);
}

/// A version not there names the key's versions, in few words when there are many.
#[test]
fn a_missing_version_names_the_versions_in_few_words() {
    let (_d, cache) = cache();
    let mut key = String::new();
    for i in 0..10 {
        key = cache
            .put_bytes(&new("many"), format!("{i}").as_bytes())
            .unwrap()
            .key;
    }
    let err = cache.get_version(&key, 99).unwrap_err().to_string();
    assert!(err.contains("(the key has 10 versions, 1 to 10)"), "{err}");
    let one = cache.put_bytes(&new("one"), b"x").unwrap();
    let err = cache.get_version(&one.key, 2).unwrap_err().to_string();
    assert!(err.contains("(the key has version 1 only)"), "{err}");
}

/// A digest written in capitals names the same blob as in lower case (as deletes read
/// it): usage counts that blob once on disk.
#[test]
fn usage_counts_a_blob_named_in_capitals_once() {
    let (dir, cache) = cache();
    let a = cache.put_bytes(&new("a"), b"twelve bytes").unwrap();
    cache.put_bytes(&new("b"), b"twelve bytes").unwrap();
    drop(cache);
    rusqlite::Connection::open(dir.path().join("cache/registry.sqlite"))
        .unwrap()
        .execute(
            "UPDATE items SET sha256 = upper(sha256) WHERE id = ?1",
            [a.id],
        )
        .unwrap();
    let cache = Cache::open(dir.path().join("cache")).unwrap();
    let totals = cache.usage_totals().unwrap();
    assert_eq!(totals.logical_bytes, 24);
    assert_eq!(totals.stored_bytes, 12, "one blob, spelt two ways");
}
