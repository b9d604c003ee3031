//! Garbage collection: each policy alone and combined, plan and apply agreeing, re-checks
//! at apply time, pins, and never touching anything outside the cache root.

use std::fs;
use std::time::Duration;

use cachet::gc::{self, GcPolicy, Reason};
use cachet::manifest::{self, Entry, FileEntry};
use cachet::{Cache, NewItem};
use chrono::Utc;

fn setup() -> (tempfile::TempDir, Cache) {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path().join("cache")).unwrap();
    (dir, cache)
}

fn put(cache: &Cache, uri: &str, data: &str) -> cachet::Item {
    cache
        .put_bytes(&NewItem::new(uri), data.as_bytes())
        .unwrap()
}

/// Ingests `items` in one transaction, each with its content; their ids.
fn ingest(cache: &Cache, items: impl IntoIterator<Item = (NewItem, Vec<u8>)>) -> Vec<i64> {
    let items = items.into_iter().map(|(item, bytes)| {
        Ok(cachet::IngestItem {
            item,
            content: cachet::IngestContent::Bytes(bytes),
        })
    });
    cache.ingest(items, &mut |_| {}).unwrap()
}

fn policy() -> GcPolicy {
    GcPolicy {
        grace: Duration::ZERO,
        ..GcPolicy::none()
    }
}

/// Runs `sql` on the registry of the cache in `dir`, as a hand edit would.
fn edit_registry(dir: &tempfile::TempDir, sql: &str) {
    rusqlite::Connection::open(dir.path().join("cache/registry.sqlite"))
        .unwrap()
        .execute_batch(sql)
        .unwrap();
}

/// A dataset manifest `uri` whose one entry `key` links `item`'s content.
fn manifest_linking(cache: &Cache, uri: &str, key: &str, item: &cachet::Item) -> cachet::Item {
    let entry = Entry::File(FileEntry {
        key: key.into(),
        sha256: item.sha256.clone(),
        size_bytes: item.size,
        ..FileEntry::default()
    });
    manifest::create_from_entries(cache, &NewItem::new(uri), vec![Ok(entry)], "dataset")
        .unwrap()
        .item
}

/// The plan of the orphans policy alone (no grace period), now.
fn orphans_plan(cache: &Cache) -> gc::GcPlan {
    let p = GcPolicy {
        orphans: true,
        ..policy()
    };
    gc::plan(cache, &p, Utc::now()).unwrap()
}

/// The plan that collects the whole trash, as of `now`.
fn plan_trash(cache: &Cache, now: chrono::DateTime<Utc>) -> gc::GcPlan {
    let trash = GcPolicy {
        trash: Some(Duration::ZERO),
        ..policy()
    };
    gc::plan(cache, &trash, now).unwrap()
}

fn later(days: i64) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::days(days)
}

fn ids(plan: &gc::GcPlan) -> Vec<i64> {
    let mut ids: Vec<i64> = plan.items.iter().map(|i| i.id).collect();
    ids.sort();
    ids
}

#[test]
fn trash_policy_all_or_older() {
    let (_d, cache) = setup();
    let a = put(&cache, "a", "aaaa");
    let b = put(&cache, "b", "bb");
    cache.trash(a.id).unwrap();
    let all = plan_trash(&cache, Utc::now());
    assert_eq!(ids(&all), [a.id]);
    assert_eq!(all.items.get(0).unwrap().reason, Reason::Trash);
    let week = GcPolicy {
        trash: Some(Duration::from_secs(7 * 86_400)),
        ..policy()
    };
    assert!(
        gc::plan(&cache, &week, Utc::now())
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(ids(&gc::plan(&cache, &week, later(8)).unwrap()), [a.id]);
    let report = gc::apply(&cache, &all, &mut |_| {}, None).unwrap();
    assert_eq!(
        (
            report.items_removed,
            report.blobs_deleted,
            report.bytes_freed
        ),
        (1, 1, 4)
    );
    assert!(cache.get(a.id).is_err());
    assert!(cache.get(b.id).is_ok());
    // The purged item was its key's only version: the next one is still a new number.
    assert_eq!(put(&cache, "a", "again").version, a.version + 1);
}

#[test]
fn stale_writes_and_old_failures() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open_with(
        dir.path(),
        cachet::CacheOpts {
            lease: Duration::from_secs(60),
            ..Default::default()
        },
    )
    .unwrap();
    let w = cache.create(&NewItem::new("w")).unwrap();
    let stale_id = w.item().id;
    std::mem::forget(w);
    let f = put(&cache, "f", "x");
    cache.fail(f.id, "broken").unwrap();
    let p = GcPolicy {
        stale: Some(Duration::from_secs(86_400)),
        ..policy()
    };
    assert!(
        gc::plan(&cache, &p, Utc::now()).unwrap().items.is_empty(),
        "nothing old yet"
    );
    let plan = gc::plan(&cache, &p, later(2)).unwrap();
    assert_eq!(ids(&plan), [stale_id, f.id]);
    // Its lease ran out a minute after it began, two days before the plan.
    let stale = plan.items.iter().find(|i| i.id == stale_id).unwrap();
    assert_eq!(stale.reason, Reason::StaleWrite);
    let two_days = 2 * 86_400;
    assert!(
        matches!(stale.detail, gc::Detail::LeaseExpired { ago }
            if (two_days - 70..=two_days - 50).contains(&ago)),
        "{:?}",
        stale.detail
    );
    assert!(
        plan.items
            .iter()
            .any(|i| i.reason == Reason::Failed && i.detail.to_string().contains("broken"))
    );
    gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert!(cache.list_ids(None, false, 0, 10).unwrap().is_empty());
}

#[test]
fn keep_last_n_per_key() {
    let (_d, cache) = setup();
    let v: Vec<_> = (0..5).map(|i| put(&cache, "k", &format!("v{i}"))).collect();
    let other = put(&cache, "other", "o");
    cache.trash(v[4].id).unwrap(); // the newest is in the trash: it does not count as kept
    let plan = gc::plan(
        &cache,
        &GcPolicy {
            keep_last: Some(2),
            ..policy()
        },
        Utc::now(),
    )
    .unwrap();
    assert_eq!(ids(&plan), [v[0].id, v[1].id]);
    assert!(
        plan.items
            .get(0)
            .unwrap()
            .detail
            .to_string()
            .contains("of 4 READY, keep-last 2"),
        "{}",
        plan.items.get(0).unwrap().detail
    );
    gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    let left: Vec<i64> = cache
        .versions(&v[0].key)
        .unwrap()
        .iter()
        .map(|i| i.version)
        .collect();
    assert_eq!(left, [3, 4, 5]);
    assert!(cache.get(other.id).is_ok());
}

#[test]
fn keep_last_spares_versions_whose_content_a_pinned_manifest_links() {
    let (_d, cache) = setup();
    let v: Vec<_> = (0..4).map(|i| put(&cache, "k", &format!("v{i}"))).collect();
    let m = manifest_linking(&cache, "m", "oldest", &v[0]);
    cache.pin(m.id, true).unwrap();
    let keep_one = GcPolicy {
        keep_last: Some(1),
        ..policy()
    };
    let plan = gc::plan(&cache, &keep_one, Utc::now()).unwrap();
    // The oldest is protected, yet still counts in the ranks of the others.
    assert_eq!(ids(&plan), [v[1].id, v[2].id]);
    let detail = plan.items.get(0).unwrap().detail.to_string();
    assert!(
        detail.starts_with("version 2: 3rd newest of 4 READY"),
        "{detail}"
    );
    cache.pin(m.id, false).unwrap();
    let plan = gc::plan(&cache, &keep_one, Utc::now()).unwrap();
    assert_eq!(ids(&plan), [v[0].id, v[1].id, v[2].id]);
}

#[test]
fn max_age_by_last_access() {
    let (_d, cache) = setup();
    let a = put(&cache, "a", "a");
    let b = put(&cache, "b", "b");
    cache.record_access(b.id).unwrap();
    let p = GcPolicy {
        max_age: Some(Duration::from_secs(30 * 86_400)),
        ..policy()
    };
    assert!(gc::plan(&cache, &p, Utc::now()).unwrap().items.is_empty());
    let plan = gc::plan(&cache, &p, later(31)).unwrap();
    assert_eq!(ids(&plan), [a.id, b.id]);
    assert!(
        plan.items
            .iter()
            .any(|i| i.detail.to_string().starts_with("never accessed"))
    );
    assert!(
        plan.items
            .iter()
            .any(|i| i.detail.to_string().starts_with("last access"))
    );
}

#[test]
fn max_size_evicts_least_recently_used_until_under_the_cap() {
    let (_d, cache) = setup();
    let items: Vec<_> = (0..6)
        .map(|i| put(&cache, &format!("i{i}"), &"x".repeat(100 + i)))
        .collect();
    // Touch the oldest two: they become the most recently used.
    cache.record_access(items[0].id).unwrap();
    cache.record_access(items[1].id).unwrap();
    let total: u64 = items.iter().map(|i| i.size.unwrap()).sum();
    let cap = total - 250;
    let plan = gc::plan(
        &cache,
        &GcPolicy {
            max_size: Some(cap),
            ..policy()
        },
        Utc::now(),
    )
    .unwrap();
    let usage = plan.usage.unwrap();
    assert_eq!(usage.before, total);
    assert_eq!(usage.after, total - plan.exclusive_bytes());
    assert_eq!(plan.over_cap(), None);
    // Least recently used first: items 2, 3, 4 (each ~100 bytes) bring it under the cap.
    assert_eq!(ids(&plan), [items[2].id, items[3].id, items[4].id]);
    assert!(
        plan.items
            .get(0)
            .unwrap()
            .detail
            .to_string()
            .starts_with("LRU rank 1"),
        "{}",
        plan.items.get(0).unwrap().detail
    );
    let report = gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert_eq!(report.bytes_freed, plan.exclusive_bytes());
    assert!(cache.usage_totals().unwrap().stored_bytes <= cap);
}

/// Under a cap, trashed items the trash policy keeps go before anything READY, longest in
/// the trash first; READY items go only if emptying the trash is not enough.
#[test]
fn max_size_empties_the_trash_before_evicting_ready_items() {
    let (dir, cache) = setup();
    let ready: Vec<_> = (0..3)
        .map(|i| put(&cache, &format!("r{i}"), &"r".repeat(100 + i)))
        .collect();
    let trashed: Vec<_> = (0..3)
        .map(|i| put(&cache, &format!("t{i}"), &"t".repeat(300 + i)))
        .collect();
    for t in &trashed {
        cache.trash(t.id).unwrap();
    }
    // Trashed in the order 2, 0, 1; the trash policy keeps anything trashed under a day.
    for (t, ms) in [
        (&trashed[2], 1000),
        (&trashed[0], 2000),
        (&trashed[1], 3000),
    ] {
        edit_registry(
            &dir,
            &format!(
                "UPDATE items SET updated = updated - 3600000 + {ms} WHERE id = {}",
                t.id
            ),
        );
    }
    cache.pin(trashed[1].id, true).unwrap();
    let total: u64 = (ready.iter().chain(&trashed))
        .map(|i| i.size.unwrap())
        .sum();
    let plan_under = |cap: u64| {
        let policy = GcPolicy {
            trash: Some(Duration::from_secs(86_400)),
            max_size: Some(cap),
            ..policy()
        };
        gc::plan(&cache, &policy, Utc::now()).unwrap()
    };
    let in_order = |plan: &gc::GcPlan| plan.items.iter().map(|i| i.id).collect::<Vec<_>>();

    // Emptying the unpinned trash is enough: nothing READY goes.
    let plan = plan_under(total - 500);
    assert_eq!(in_order(&plan), [trashed[2].id, trashed[0].id]);
    let first = plan.items.get(0).unwrap();
    assert_eq!(first.reason, Reason::MaxSize);
    assert!(
        first
            .detail
            .to_string()
            .ends_with("m: the trash goes first"),
        "{}",
        first.detail
    );
    assert_eq!(plan.over_cap(), None);

    // Past it, READY items go by last use.
    let plan = plan_under(total - 700);
    assert_eq!(in_order(&plan), [trashed[2].id, trashed[0].id, ready[0].id]);
    assert!(
        plan.items
            .get(2)
            .unwrap()
            .detail
            .to_string()
            .starts_with("LRU rank 1")
    );
    let usage = plan.usage.unwrap();
    assert_eq!((usage.before, usage.after), (total, total - 702));

    // The pinned trash stays whatever the cap: the plan says by how much it stays over.
    let plan = plan_under(100);
    assert_eq!(plan.items.len(), 5);
    assert_eq!(plan.over_cap(), Some(301 - 100));
    let account = plan.cap_account().unwrap();
    assert!(account.contains("201 B over"), "{account}");
    gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert_eq!(cache.usage_totals().unwrap().stored_bytes, 301);
}

/// Evicting a manifest frees the blobs only it links: max-size counts them, and stops
/// there rather than evicting more.
#[test]
fn max_size_counts_the_blobs_an_evicted_manifest_alone_links() {
    let (_d, cache) = setup();
    let linked = put(&cache, "linked", &"l".repeat(1000));
    let manifest = manifest_linking(&cache, "dataset://m", "l.bin", &linked);
    cache.trash(linked.id).unwrap();
    gc::apply(&cache, &plan_trash(&cache, later(1)), &mut |_| {}, None).unwrap();
    let newer = put(&cache, "newer", &"n".repeat(100));
    let usage = cache.usage_totals().unwrap().stored_bytes;
    let policy = GcPolicy {
        max_size: Some(usage - 500),
        ..policy()
    };
    let plan = gc::plan(&cache, &policy, Utc::now()).unwrap();
    assert_eq!(ids(&plan), [manifest.id]);
    assert_eq!(plan.usage.unwrap().after, newer.size.unwrap());
    gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert_eq!(cache.usage_totals().unwrap().stored_bytes, 100);
}

#[test]
fn shared_blobs_are_counted_as_shared_and_kept() {
    let (_d, cache) = setup();
    let a = put(&cache, "a", "same content");
    let b = put(&cache, "b", "same content");
    cache.trash(a.id).unwrap();
    let plan = plan_trash(&cache, Utc::now());
    assert_eq!(plan.exclusive_bytes(), 0);
    assert_eq!(plan.shared_bytes(), 12);
    assert!(!plan.items.get(0).unwrap().exclusive);
    gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert!(cache.content_path(&cache.get(b.id).unwrap()).is_ok());
}

#[test]
fn pins_protect_items_and_what_pinned_manifests_link() {
    let (_d, cache) = setup();
    let a = put(&cache, "a", "alpha");
    let b = put(&cache, "b", "beta");
    let m = manifest_linking(&cache, "m", "b", &b);
    cache.pin(a.id, true).unwrap();
    cache.pin(m.id, true).unwrap();
    let p = GcPolicy {
        max_age: Some(Duration::ZERO),
        ..policy()
    };
    let plan = gc::plan(&cache, &p, later(1)).unwrap();
    assert!(
        ids(&plan).is_empty(),
        "a pinned, b linked by a pinned manifest, m pinned: {:?}",
        ids(&plan)
    );
    cache.pin(m.id, false).unwrap();
    let plan = gc::plan(&cache, &p, later(1)).unwrap();
    assert_eq!(ids(&plan), [b.id, m.id]);
}

#[test]
fn apply_skips_what_changed_since_the_plan() {
    let (_d, cache) = setup();
    let accessed = put(&cache, "accessed", "1");
    let restored = put(&cache, "restored", "2");
    let pinned = put(&cache, "pinned", "3");
    let linked = put(&cache, "linked", "4");
    let gone = put(&cache, "gone", "5");
    for i in [&accessed, &restored, &pinned, &linked, &gone] {
        cache.trash(i.id).unwrap();
    }
    cache.restore(accessed.id).unwrap();
    let p = GcPolicy {
        trash: Some(Duration::ZERO),
        max_age: Some(Duration::ZERO),
        ..policy()
    };
    let plan = gc::plan(&cache, &p, later(1)).unwrap();
    assert_eq!(plan.items.len(), 5);
    cache.record_access(accessed.id).unwrap();
    cache.restore(restored.id).unwrap();
    cache.pin(pinned.id, true).unwrap();
    manifest::create_from_entries(
        &cache,
        &NewItem::new("m"),
        vec![Ok(Entry::File(FileEntry {
            key: "l".into(),
            sha256: linked.sha256.clone(),
            ..FileEntry::default()
        }))],
        "dataset",
    )
    .unwrap();
    cache.purge(gone.id).unwrap();
    let report = gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert_eq!(report.items_removed, 0);
    let why = |id: i64| {
        report
            .skipped
            .iter()
            .find(|s| s.id == Some(id))
            .map(|s| s.why.clone())
            .unwrap_or_default()
    };
    assert_eq!(why(accessed.id), "accessed since the plan");
    assert!(
        why(restored.id).starts_with("now READY"),
        "{}",
        why(restored.id)
    );
    assert_eq!(why(pinned.id), "pinned since the plan");
    assert_eq!(why(linked.id), "newly linked by a manifest");
    assert_eq!(why(gone.id), "already gone");
    for i in [&accessed, &restored, &pinned, &linked] {
        assert!(cache.get(i.id).is_ok());
    }
}

/// An item under the id of a planned one is another item, even in the same status with
/// the same times (a clock that went back). This build never hands an id out again, but a
/// build before schema 10, open while the registry was migrated, gives a new item the
/// highest id left, as SQLite does: apply leaves such an item alone.
#[test]
fn apply_leaves_alone_an_item_that_took_a_planned_id() {
    let (_d, cache) = setup();
    let planned = put(&cache, "planned", "1");
    cache.trash(planned.id).unwrap();
    let plan = plan_trash(&cache, later(1));
    assert_eq!(ids(&plan), [planned.id]);
    cache.purge(planned.id).unwrap();
    let other = put(&cache, "other", "2");
    cache.trash(other.id).unwrap();
    let was = plan.items.get(0).unwrap();
    cache
        .registry()
        .db()
        .conn
        .execute(
            "UPDATE items SET id = ?1, updated = ?2 WHERE id = ?3",
            (planned.id, was.updated_ms, other.id),
        )
        .unwrap();
    let report = gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert_eq!(report.items_removed, 0);
    assert_eq!(report.skipped[0].why, "another item now");
    assert_eq!(cache.get(planned.id).unwrap().key, other.key);
}

#[test]
fn orphans_and_temp_files_respect_the_grace_period() {
    let (_d, cache) = setup();
    let kept = put(&cache, "kept", "kept");
    let orphan = cache.blobs().stage_bytes(b"orphan", false).unwrap();
    let orphan_sha = orphan.content.sha256.clone();
    cache.blobs().adopt(orphan, false).unwrap();
    let tmp_file = cache.blobs().tmp_dir().join("leftover.part");
    fs::write(&tmp_file, b"partial").unwrap();
    let young = GcPolicy {
        orphans: true,
        grace: Duration::from_secs(3600),
        ..GcPolicy::none()
    };
    assert!(
        gc::plan(&cache, &young, Utc::now()).unwrap().is_empty(),
        "too young to touch"
    );
    let plan = orphans_plan(&cache);
    let reasons: Vec<Reason> = plan.files.iter().map(|f| f.reason).collect();
    assert_eq!(reasons, [Reason::Orphan, Reason::TempFile]);
    let report = gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert_eq!((report.blobs_deleted, report.temp_files_deleted), (1, 1));
    assert!(!cache.blobs().exists(&orphan_sha));
    assert!(!tmp_file.exists());
    assert!(cache.content_path(&kept).is_ok());
}

#[test]
fn collected_manifests_release_their_linked_blobs() {
    let (dir, cache) = setup();
    let src = dir.path().join("data");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f1"), "one").unwrap();
    fs::write(src.join("f2"), "two").unwrap();
    let m = manifest::create_from_dir(&cache, &NewItem::new("ds"), &src, &Default::default())
        .unwrap()
        .item;
    // A part appended: the new version links it by a ref, which records no size.
    let more = put(&cache, "more", "three");
    let entry = Entry::File(FileEntry {
        key: "f3".into(),
        sha256: more.sha256.clone(),
        size_bytes: more.size,
        ..FileEntry::default()
    });
    let m2 = manifest::append(&cache, &m, vec![Ok(entry)]).unwrap().item;
    cache.trash(m.id).unwrap();
    cache.trash(m2.id).unwrap();
    let plan = plan_trash(&cache, Utc::now());
    let unlinked = plan
        .files
        .iter()
        .filter(|f| f.reason == Reason::Unlinked)
        .count();
    assert_eq!(unlinked, 4, "two files, the descriptor and the part");
    // Each at its file's size, also the part, whose link records none.
    for f in &plan.files {
        assert_eq!(f.size, fs::metadata(&f.path).unwrap().len(), "{f:?}");
    }
    let report = gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert_eq!(
        report.blobs_deleted, 6,
        "the manifests', their files', the part"
    );
    assert_eq!(report.bytes_freed, plan.exclusive_bytes());
}

#[test]
fn nothing_outside_the_root_is_deleted() {
    let (dir, cache) = setup();
    let outside = dir.path().join("outside");
    fs::create_dir_all(outside.join("cd")).unwrap();
    let victim = outside.join("cd").join("e".repeat(60));
    fs::write(&victim, "precious").unwrap();
    // A symlinked shard directory and a symlink in tmp/ pointing outside.
    std::os::unix::fs::symlink(&outside, cache.blobs().dir().join("ab")).unwrap();
    let target = outside.join("target.txt");
    fs::write(&target, "also precious").unwrap();
    std::os::unix::fs::symlink(&target, cache.blobs().tmp_dir().join("link")).unwrap();
    let plan = orphans_plan(&cache);
    gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert!(victim.exists());
    assert!(target.exists());
}

#[test]
fn only_files_at_the_exact_blob_layout_can_be_orphans() {
    let (dir, cache) = setup();
    let kept = put(&cache, "kept", "kept");
    let orphan = cache.blobs().stage_bytes(b"orphan", false).unwrap();
    let orphan_sha = orphan.content.sha256.clone();
    cache.blobs().adopt(orphan, false).unwrap();
    let blobs = cache.blobs().dir();
    let rest = "e".repeat(60);
    // Names that are no blob: wrong lengths, upper case, extra levels, a README, a
    // directory and a symlink where a blob would be. Spliced together, the names in
    // `abc/d/` spell a digest, as do those in `ab/cd/ef/`.
    let stray = [
        blobs.join("ab").join("cd").join("README"),
        blobs.join("ab").join("cd").join("e".repeat(59)),
        blobs.join("ab").join("cd").join("e".repeat(61)),
        blobs.join("ab").join("cd").join("E".repeat(60)),
        blobs.join("ab").join("cd").join(format!("{rest}.part")),
        blobs.join("abc").join("d").join(&rest),
        blobs.join("a").join("bcd").join(&rest),
        blobs.join("ab").join("cd").join("ef").join("e".repeat(58)),
        blobs.join("README"),
        blobs.join("ab").join("README"),
    ];
    for path in &stray {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "not a blob").unwrap();
    }
    fs::create_dir_all(blobs.join("ab").join("cd").join("f".repeat(60))).unwrap();
    let target = dir.path().join("target");
    fs::write(&target, "outside").unwrap();
    std::os::unix::fs::symlink(&target, blobs.join("ab").join("cd").join("d".repeat(60))).unwrap();
    let plan = orphans_plan(&cache);
    let orphans: Vec<_> = plan
        .files
        .iter()
        .filter(|f| f.reason == Reason::Orphan)
        .map(|f| (f.sha256.clone().unwrap(), f.path.clone()))
        .collect();
    assert_eq!(
        orphans,
        [(orphan_sha.clone(), cache.blobs().path(&orphan_sha).unwrap())]
    );
    gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert!(!cache.blobs().exists(&orphan_sha));
    for path in &stray {
        assert!(path.exists(), "{} was left alone", path.display());
    }
    assert!(target.exists());
    assert!(cache.content_path(&kept).is_ok());
}

#[test]
fn orphans_are_listed_in_digest_order() {
    let (_d, cache) = setup();
    let mut shas: Vec<String> = (0..40)
        .map(|i| {
            let staged = cache
                .blobs()
                .stage_bytes(format!("orphan {i}").as_bytes(), false)
                .unwrap();
            let sha = staged.content.sha256.clone();
            cache.blobs().adopt(staged, false).unwrap();
            sha
        })
        .collect();
    put(&cache, "referenced", "orphan 7");
    shas.remove(7);
    shas.sort();
    let plan = orphans_plan(&cache);
    let listed: Vec<String> = plan
        .files
        .iter()
        .map(|f| f.sha256.clone().unwrap())
        .collect();
    assert_eq!(listed, shas);
}

#[test]
fn orphans_in_one_blob_directory_are_told_apart_from_referenced_neighbours() {
    // Files of one leaf directory, written in reverse order, two of them referenced: the
    // walk of the disk and the registry's digests must meet in the same order.
    let (_d, cache) = setup();
    let shas: Vec<String> = (1..=5).map(|i| format!("abcd{:060}", i)).collect();
    for sha in shas.iter().rev() {
        let path = cache.blobs().path(sha).unwrap();
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "x").unwrap();
    }
    for (i, sha) in [&shas[1], &shas[3]].into_iter().enumerate() {
        let item = put(&cache, &format!("holder {i}"), &format!("holder {i}"));
        rusqlite::Connection::open(cache.registry().path())
            .unwrap()
            .execute(
                "UPDATE items SET sha256 = ?1 WHERE id = ?2",
                rusqlite::params![sha, item.id],
            )
            .unwrap();
    }
    let listed: Vec<String> = orphans_plan(&cache)
        .files
        .iter()
        .filter(|f| f.reason == Reason::Orphan)
        .filter_map(|f| f.sha256.clone())
        .filter(|sha| sha.starts_with("abcd"))
        .collect();
    assert_eq!(listed, [shas[0].as_str(), &shas[2], &shas[4]]);
}

#[test]
fn a_temp_file_gone_before_apply_is_no_error() {
    let (_d, cache) = setup();
    let leftover = cache.blobs().tmp_dir().join("x.part");
    fs::write(&leftover, "half").unwrap();
    let plan = orphans_plan(&cache);
    assert!(plan.files.iter().any(|f| f.path == leftover));
    fs::remove_file(&leftover).unwrap();
    let report = gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert_eq!(report.temp_files_deleted, 0);
}

#[test]
fn keep_last_over_many_keys_ranks_each_key_on_its_own() {
    keep_last_over_many_keys(false);
}

#[test]
fn keep_last_orders_keys_that_are_not_digests_as_text() {
    keep_last_over_many_keys(true);
}

/// Keep-last 2 over 300 keys of 1 to 6 versions, worked out item by item to compare.
/// With `odd_keys`, some keys are rewritten to text that is no digest (upper case, a
/// prefix, a short one), as a registry edited by hand might hold.
fn keep_last_over_many_keys(odd_keys: bool) {
    let (dir, cache) = setup();
    // Key k has k % 6 + 1 versions; some versions trashed, failed or pinned. The versions
    // are written a round at a time, each round to every key: so the versions of one key
    // lie among other keys', in the registry and in any list read in its order.
    let mut all = Vec::new();
    for v in 0..6 {
        for k in (0..300).filter(|k| v < k % 6 + 1) {
            let item = put(&cache, &format!("key-{k}"), &format!("{k}/{v}"));
            match (k + v) % 7 {
                0 => {
                    cache.trash(item.id).unwrap();
                }
                1 => {
                    cache.fail(item.id, "broken").unwrap();
                }
                2 => {
                    cache.pin(item.id, true).unwrap();
                }
                _ => {}
            }
            all.push(item.id);
        }
    }
    if odd_keys {
        edit_registry(
            &dir,
            "UPDATE items SET key = upper(key) WHERE id % 3 = 0 AND uri <> 'key-7';
             UPDATE items SET key = 'k-' || key WHERE uri = 'key-5';
             UPDATE items SET key = 'a' WHERE uri = 'key-11';",
        );
    }
    let keep = 2;
    let plan = gc::plan(
        &cache,
        &GcPolicy {
            keep_last: Some(keep),
            ..policy()
        },
        Utc::now(),
    )
    .unwrap();
    // What it should be, worked out item by item: per key, READY versions newest first,
    // those past the `keep` newest unless pinned; in (key, version) order.
    let mut items = cache.get_many(&all).unwrap();
    items.sort_by(|a, b| (&a.key, a.version).cmp(&(&b.key, b.version)));
    let mut expected = Vec::new();
    for key_items in items.chunk_by(|a, b| a.key == b.key) {
        let ready: Vec<_> = key_items
            .iter()
            .filter(|i| i.status == cachet::Status::Ready)
            .collect();
        let n = ready.len();
        for (at, item) in ready.iter().enumerate() {
            let rank = n - at;
            if rank > keep as usize && !item.pinned {
                expected.push((item.id, format!("version {}: ", item.version), n));
            }
        }
    }
    assert!(expected.len() >= 5, "a test that tests: {}", expected.len());
    assert_eq!(plan.items.len(), expected.len());
    for (item, (id, version, n)) in plan.items.iter().zip(&expected) {
        assert_eq!(item.id, *id);
        assert_eq!(item.reason, Reason::KeepLast);
        let detail = item.detail.to_string();
        assert!(detail.starts_with(version), "{detail}");
        assert!(
            detail.ends_with(&format!("newest of {n} READY, keep-last {keep}")),
            "{detail}"
        );
        // Named by its key as the registry holds it, digest or not.
        assert_eq!(item.key.to_string(), cache.get(item.id).unwrap().key);
    }
    // The re-check finds each as planned, key included.
    let report = gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(report.items_removed, expected.len() as u64);
}

#[test]
fn a_pinned_manifest_protects_every_item_holding_what_it_links() {
    let (_d, cache) = setup();
    let held = put(&cache, "held", "linked by the pinned manifest");
    let trashed = put(&cache, "trashed", "linked by the pinned manifest");
    let loose = put(&cache, "loose", "linked by the unpinned manifest");
    let free = put(&cache, "free", "linked by nothing");
    for i in [&trashed, &loose, &free] {
        cache.trash(i.id).unwrap();
    }
    let pinned = manifest_linking(&cache, "pinned", "h", &held);
    cache.pin(pinned.id, true).unwrap();
    let unpinned = manifest_linking(&cache, "unpinned", "l", &loose);
    let p = GcPolicy {
        trash: Some(Duration::ZERO),
        max_age: Some(Duration::ZERO),
        ..policy()
    };
    let plan = gc::plan(&cache, &p, later(1)).unwrap();
    let mut expected = vec![loose.id, free.id, unpinned.id];
    expected.sort();
    assert_eq!(ids(&plan), expected);
    // The unpinned manifest goes with the item holding what it links: that blob is freed.
    let loose_planned = plan.items.iter().find(|i| i.id == loose.id).unwrap();
    assert!(loose_planned.exclusive && loose_planned.linked);
    let report = gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert!(cache.content_path(&cache.get(held.id).unwrap()).is_ok());
    assert!(cache.get(trashed.id).is_ok());
    assert!(!cache.blobs().exists(loose.sha256.as_deref().unwrap()));
}

#[test]
fn files_coming_and_going_in_tmp_do_not_fail_a_plan() {
    let (_d, cache) = setup();
    let tmp = cache.blobs().tmp_dir().to_path_buf();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let p = GcPolicy {
        orphans: true,
        ..policy()
    };
    // Writers stage content in tmp/ and rename it away: a file listed may be gone by
    // the time it is looked at.
    let results: Vec<_> = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let path = tmp.join(format!("blob-{}.part", i % 16));
                let _ = fs::write(&path, "partial");
                let _ = fs::remove_file(&path);
                i += 1;
            }
        });
        let results = (0..300)
            .map(|_| gc::plan(&cache, &p, Utc::now()).map(|_| ()))
            .collect();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        results
    });
    for r in results {
        r.unwrap();
    }
}

/// Searches find what puts, ingests and writers add, and lose what purge and gc remove,
/// whether the text index has caught up with them yet or not; once it has, it keeps no
/// entry for a removed item.
#[test]
fn searches_follow_every_write() {
    let (_d, cache) = setup();
    let search = |f: &str| {
        let filter = cachet::filter::Filter::parse(f).unwrap();
        cachet::filter::count(cache.registry().db().conn, &filter, Utc::now()).unwrap()
    };
    let a = put(&cache, "s3://b/alpha-one.csv", "1");
    let ingested = ingest(
        &cache,
        ["s3://b/beta-two.csv", "s3://b/gamma-three.csv"]
            .map(|u| (NewItem::new(u).label("Run Beta"), u.as_bytes().to_vec())),
    );
    let mut w = cache.create(&NewItem::new("s3://b/delta.bin")).unwrap();
    std::io::Write::write_all(&mut w, b"d").unwrap();
    w.commit().unwrap();
    for (f, n) in [
        ("alpha-one", 1),
        ("beta", 2),
        ("label~beta", 2),
        ("lta", 1),
        ("a-t", 2),
    ] {
        assert_eq!(search(f), n, "{f}");
    }
    cache.trash(a.id).unwrap();
    cache.purge(a.id).unwrap();
    assert_eq!(search("alpha-one"), 0);
    cache.trash(ingested[0]).unwrap();
    let trash = GcPolicy {
        trash: Some(Duration::ZERO),
        ..policy()
    };
    let plan = gc::plan(&cache, &trash, Utc::now()).unwrap();
    gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert_eq!(search("beta-two"), 0);
    assert_eq!(search("gamma-three"), 1);
    // Once enough waits, a write brings the index up to date: no entry is left for the
    // removed items, and nothing waits.
    let many = (0..cachet::registry::text::CATCH_UP_AT)
        .map(|i| (NewItem::new(format!("gs://many/{i}")), vec![]));
    ingest(&cache, many);
    let conn = cache.registry().db().conn;
    let left = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(
        left("SELECT count(*) FROM item_text WHERE item_text MATCH '\"s3:\"'"),
        2
    );
    assert_eq!(
        left(
            "SELECT (SELECT count(*) FROM items WHERE id > (SELECT upto FROM item_text_state))
                    + (SELECT count(*) FROM item_text_removed)"
        ),
        0
    );
    assert_eq!(search("uri~//many/"), 256);
    assert_eq!(search("alpha-one"), 0);
}

/// A digest written in capitals (by hand, or by another tool) names the same blob: gc
/// counts it as held, and purging another holder keeps it. A value that is no digest at
/// all names no blob: purging its item, or collecting it, still completes.
#[test]
fn digests_in_capitals_hold_their_blob_and_odd_ones_name_none() {
    let (dir, cache) = setup();
    let held = put(&cache, "held", "held by capitals");
    let linked = put(&cache, "linked", "linked in capitals");
    let m = manifest_linking(&cache, "m", "x", &linked);
    let twin = put(&cache, "twin", "held by capitals");
    let odd = put(&cache, "odd", "its digest is garbled");
    let solo = put(&cache, "solo", "linked only, in capitals");
    let m2 = manifest_linking(&cache, "m2", "y", &solo);
    edit_registry(
        &dir,
        &format!(
            "UPDATE items SET sha256 = upper(sha256) WHERE id = {};
             UPDATE links SET sha256 = upper(sha256) WHERE item_id IN ({}, {});
             UPDATE items SET sha256 = 'abc' WHERE id = {};
             DELETE FROM items WHERE id IN ({}, {});",
            held.id, m.id, m2.id, odd.id, linked.id, solo.id
        ),
    );
    let blob = |item: &cachet::Item| cache.blobs().path(item.sha256.as_ref().unwrap()).unwrap();
    let plan = orphans_plan(&cache);
    let orphans: Vec<_> = plan.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(
        orphans,
        [blob(&odd)],
        "only the garbled one's blob is unheld"
    );
    gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert!(blob(&held).exists() && blob(&linked).exists() && blob(&solo).exists());

    // Purging the twin (same content, in lower case) keeps the blob the capitals hold.
    cache.trash(twin.id).unwrap();
    let (_, freed) = cache.purge(twin.id).unwrap();
    assert!(!freed && blob(&held).exists());
    // The garbled one: purged, and collected, without an error.
    cache.trash(odd.id).unwrap();
    cache.purge(odd.id).unwrap();
    cache.trash(held.id).unwrap();
    cache.trash(m.id).unwrap();
    cache.trash(m2.id).unwrap();
    let sha = linked.sha256.as_ref().unwrap().to_uppercase();
    edit_registry(
        &dir,
        &format!(
            "UPDATE links SET sha256 = 'abc' WHERE item_id = {} AND sha256 = '{sha}'",
            m.id
        ),
    );
    let collected = gc::apply(&cache, &plan_trash(&cache, Utc::now()), &mut |_| {}, None);
    assert_eq!(collected.unwrap().items_removed, 3);
    assert!(
        !blob(&held).exists(),
        "its last holder, in capitals, freed it"
    );
    // The other manifest's link in capitals was freed with it; the one garbled to 'abc'
    // named no blob, so the blob it linked is left to the orphans policy.
    let left: Vec<_> = orphans_plan(&cache)
        .files
        .into_iter()
        .map(|f| f.path)
        .collect();
    assert_eq!(left, [blob(&linked)]);
}

/// What gc and purge count as a blob's name, reading and verifying read too: an item
/// whose digest is in capitals is read and verified (it was refused, and `verify` marked
/// it FAILED: the first step to gc deleting a good item); its blob altered is still caught.
#[test]
fn digests_in_capitals_are_read_and_verified() {
    let (dir, cache) = setup();
    let item = put(&cache, "caps", "read by capitals");
    let other = put(&cache, "other", "altered below");
    edit_registry(
        &dir,
        &format!(
            "UPDATE items SET sha256 = upper(sha256) WHERE id IN ({}, {})",
            item.id, other.id
        ),
    );
    let item = cache.get(item.id).unwrap();
    let mut read = Vec::new();
    cache.copy_content(&item, &mut read).unwrap();
    assert_eq!(read, b"read by capitals");

    let path = cache.blobs().path(other.sha256.as_ref().unwrap()).unwrap();
    let mut perms = fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&path, perms).unwrap();
    fs::write(&path, "altered abov").unwrap();
    let report = cachet::verify::verify_all(
        &cache,
        &cachet::verify::VerifyOpts::default(),
        &|_| {},
        None,
    )
    .unwrap();
    let bad: Vec<_> = report.bad.iter().flat_map(|b| b.items.clone()).collect();
    assert_eq!(bad, [other.id], "{:?}", report.bad);
    assert_eq!(cache.get(item.id).unwrap().status, cachet::Status::Ready);
    assert_eq!(cache.get(other.id).unwrap().status, cachet::Status::Failed);
}

/// Purge reads digests by the rule gc plans by: the last holder in capitals frees its
/// blob; one in mixed case names none, so the plan says its twin's blob goes and it does.
#[test]
fn purge_and_gc_agree_on_which_spellings_hold_a_blob() {
    let (dir, cache) = setup();
    let capitals = put(&cache, "capitals", "spelt in capitals");
    let twin = put(&cache, "twin", "spelt in mixed case");
    let mixed = put(&cache, "mixed", "spelt in mixed case");
    let sha = mixed.sha256.clone().unwrap();
    let mixed_case = format!("{}{}", &sha[..32], sha[32..].to_uppercase());
    edit_registry(
        &dir,
        &format!(
            "UPDATE items SET sha256 = upper(sha256) WHERE id = {};
             UPDATE items SET sha256 = '{mixed_case}' WHERE id = {};",
            capitals.id, mixed.id
        ),
    );
    let blob = |item: &cachet::Item| cache.blobs().path(item.sha256.as_ref().unwrap()).unwrap();
    cache.trash(capitals.id).unwrap();
    let (_, freed) = cache.purge(capitals.id).unwrap();
    assert!(freed && !blob(&capitals).exists());

    cache.trash(twin.id).unwrap();
    let plan = plan_trash(&cache, Utc::now());
    assert!(
        plan.items.get(0).unwrap().exclusive,
        "the plan frees the twin's blob"
    );
    gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert!(!blob(&twin).exists(), "and apply does");
}

/// Times at the ends of the range (edited by hand) are ages like any other: no overflow.
#[test]
fn times_at_the_ends_of_the_range_plan_without_overflow() {
    let (dir, cache) = setup();
    let old = put(&cache, "old", "old");
    let new = put(&cache, "new", "new");
    cache.trash(old.id).unwrap();
    cache.trash(new.id).unwrap();
    edit_registry(
        &dir,
        &format!(
            "UPDATE items SET updated = -9223372036854775808 WHERE id = {};
             UPDATE items SET updated = 9223372036854775807 WHERE id = {};",
            old.id, new.id
        ),
    );
    let plan = plan_trash(&cache, Utc::now());
    assert_eq!(
        ids(&plan),
        [old.id],
        "one trashed at the end of time is not old"
    );
}

/// A plan's items are made when asked for, each from its own row: read one by one, in
/// ranges, from the end, or in the JSON, each is its own item, with its URI. The URIs
/// differ in length, some are empty and some are not ASCII, and the plan is in an order
/// other than the items' (max-size, least recently used first). Applied, in batches, it
/// removes every one.
#[test]
fn planned_items_are_made_each_from_its_own_row() {
    let (dir, cache) = setup();
    let uri = |i: u64| match i % 5 {
        0 => String::new(),
        1 => format!("s3://bucket/{}/{i}", "deep/".repeat((i % 13) as usize)),
        2 => format!("file:///données/é{i}"),
        _ => format!("gs://b/{i}"),
    };
    let n = 9123;
    let items = (0..n).map(|i| {
        let new = NewItem::new(uri(i)).params(serde_json::json!({ "i": i }));
        (new, format!("{i}").into_bytes())
    });
    let ids = ingest(&cache, items);
    // Last used in an order of their own.
    edit_registry(
        &dir,
        "UPDATE items SET accessed = 1000000 + (id * 7919) % 9001;",
    );
    let plan = gc::plan(
        &cache,
        &GcPolicy {
            max_size: Some(0),
            ..policy()
        },
        Utc::now(),
    )
    .unwrap();
    assert_eq!(plan.items.len(), n as usize);
    let first: Vec<i64> = plan.items.iter().take(3).map(|i| i.id).collect();
    assert_ne!(first, ids[..3], "planned in an order other than the items'");
    let uri_of: std::collections::HashMap<i64, String> =
        ids.iter().zip(0..n).map(|(&id, i)| (id, uri(i))).collect();
    for item in plan.items.iter() {
        assert_eq!(item.uri, *uri_of[&item.id], "item {}", item.id);
    }
    let json = serde_json::to_value(&plan).unwrap();
    let in_json = json["items"].as_array().unwrap();
    assert_eq!(in_json.len(), n as usize);
    for (at, item) in plan.items.iter().enumerate() {
        assert_eq!(in_json[at]["id"], item.id, "at {at}");
        assert_eq!(in_json[at]["uri"], uri_of[&item.id].as_str(), "at {at}");
    }
    let last = plan.items.get(n as usize - 1).unwrap().id;
    assert_eq!(plan.items.iter().next_back().map(|i| i.id), Some(last));
    assert!(plan.items.get(n as usize).is_none());
    let tail: Vec<i64> = plan.items.range(9113..20_000).map(|i| i.id).collect();
    assert_eq!(
        (tail.len(), tail.last()),
        (10, Some(&last)),
        "cut at the end"
    );
    assert_eq!(plan.items.range(20_000..30_000).count(), 0);

    let report = gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert_eq!(report.items_removed, n, "{:?}", report.skipped);
    assert!(cache.get_many(&ids).unwrap().is_empty());
}

/// A plan of a few items among many (made at once, where a plan of most items makes them
/// when asked for) is applied over several batches like any other: every planned item
/// goes, and nothing else.
#[test]
fn a_plan_of_a_few_items_among_many_is_applied_in_batches() {
    let (dir, cache) = setup();
    let items = (0..2400).map(|i| {
        (
            NewItem::new(format!("s3://b/{i}")),
            format!("{i}").into_bytes(),
        )
    });
    let ids = ingest(&cache, items);
    // 550 of them (more than a batch, fewer than a quarter) unused for a year.
    let year_ago = Utc::now().timestamp_millis() - 365 * 86_400_000;
    edit_registry(
        &dir,
        &format!("UPDATE items SET accessed = {year_ago} WHERE id % 4 = 0 AND id <= 2200;"),
    );
    let old: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| id % 4 == 0 && *id <= 2200)
        .collect();
    assert_eq!(old.len(), 550);
    let unused = GcPolicy {
        max_age: Some(Duration::from_secs(30 * 86_400)),
        ..GcPolicy::none()
    };
    let plan = gc::plan(&cache, &unused, Utc::now()).unwrap();
    let mut planned: Vec<i64> = plan.items.iter().map(|i| i.id).collect();
    planned.sort_unstable();
    assert_eq!(planned, old);
    let report = gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert_eq!(report.items_removed, 550, "{:?}", report.skipped);
    assert!(cache.get_many(&old).unwrap().is_empty());
    assert_eq!(cache.get_many(&ids).unwrap().len(), 2400 - 550);
}

#[test]
fn max_size_evicting_one_holder_of_a_shared_blob_frees_nothing_while_another_stays() {
    let (dir, cache) = setup();
    let old = put(&cache, "a", "shared");
    let kept = put(&cache, "b", "shared");
    let other = put(&cache, "c", "other");
    assert_eq!(old.sha256, kept.sha256);
    // Least recently used first: `a`, `c`, then `b`.
    edit_registry(
        &dir,
        &format!(
            "UPDATE items SET accessed = 1000 WHERE id = {};
             UPDATE items SET accessed = 2000 WHERE id = {};
             UPDATE items SET accessed = 3000 WHERE id = {};",
            old.id, other.id, kept.id
        ),
    );
    let p = GcPolicy {
        max_size: Some(7),
        ..policy()
    };
    let plan = gc::plan(&cache, &p, Utc::now()).unwrap();
    // 6 + 5 bytes: evicting `a` frees nothing (`b` holds its blob), `c` frees 5.
    assert_eq!(ids(&plan), [old.id, other.id]);
    let planned = |id: i64| plan.items.iter().find(|i| i.id == id).unwrap();
    assert!(!planned(old.id).exclusive, "its blob stays, held by b");
    assert!(planned(other.id).exclusive);
    assert_eq!(plan.usage.unwrap().before, 11);
    assert_eq!(plan.usage.unwrap().after, 6);
    assert_eq!(plan.exclusive_bytes(), 5);
    let report = gc::apply(&cache, &plan, &mut |_| {}, None).unwrap();
    assert_eq!(report.bytes_freed, 5);
    let path = cache.content_path(&cache.get(kept.id).unwrap()).unwrap();
    assert_eq!(fs::read(path).unwrap(), b"shared");
}

#[test]
fn max_size_measures_usage_as_du_does_whatever_sizes_were_edited_in() {
    for size in [i64::MIN, -1, 0, i64::MAX] {
        let (dir, cache) = setup();
        let edited = put(&cache, "a", "one");
        put(&cache, "b", "two");
        edit_registry(
            &dir,
            &format!("UPDATE items SET size = {size} WHERE id = {}", edited.id),
        );
        let p = GcPolicy {
            max_size: Some(u64::MAX),
            ..policy()
        };
        let plan = gc::plan(&cache, &p, Utc::now()).unwrap();
        let stored = cache.usage_totals().unwrap().stored_bytes;
        assert_eq!(plan.usage.unwrap().before, stored, "size {size}");
    }
}

/// A blob whose holders record different sizes (by hand edits) is freed at the size usage
/// counts it at, the largest, whichever holder another policy planned first: so max-size
/// evicts the same items either way.
#[test]
fn max_size_counts_a_freed_shared_blob_at_the_size_usage_gives_it() {
    for larger_first in [true, false] {
        let (dir, cache) = setup();
        let failed = put(&cache, "a", "shared");
        let trashed = put(&cache, "b", "shared");
        let ready = put(&cache, "c", "other");
        assert_eq!(failed.sha256, trashed.sha256);
        cache.fail(failed.id, "broke").unwrap();
        cache.trash(trashed.id).unwrap();
        let (failed_size, trashed_size) = if larger_first { (1000, 1) } else { (1, 1000) };
        edit_registry(
            &dir,
            &format!(
                "UPDATE items SET size = {failed_size} WHERE id = {};
                 UPDATE items SET size = {trashed_size} WHERE id = {};
                 UPDATE items SET size = 500 WHERE id = {};",
                failed.id, trashed.id, ready.id
            ),
        );
        let plan_under = |cap: u64| {
            let policy = GcPolicy {
                trash: Some(Duration::ZERO),
                stale: Some(Duration::ZERO),
                max_size: Some(cap),
                ..policy()
            };
            gc::plan(&cache, &policy, later(1)).unwrap()
        };
        // 1000 for the shared blob, 500 for the other: freeing the shared one leaves 500.
        let plan = plan_under(600);
        assert_eq!(plan.usage.unwrap().before, 1500);
        assert_eq!(ids(&plan), [failed.id, trashed.id], "{larger_first}");
        let plan = plan_under(400);
        assert_eq!(
            ids(&plan),
            [failed.id, trashed.id, ready.id],
            "{larger_first}"
        );
    }
}
