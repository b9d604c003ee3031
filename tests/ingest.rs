//! Bulk ingest (`Cache::ingest`): all or nothing, whichever item fails and however far
//! ahead of it content was staged; errors in input order; no input read past its end or
//! past an error.

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cachet::{AttrValue, Cache, Error, IngestContent, IngestItem, NewItem, Status};

mod common;

use common::count_files;

fn cache() -> (tempfile::TempDir, Cache) {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::open(dir.path().join("cache")).unwrap();
    (dir, cache)
}

fn bytes(uri: &str, content: &str) -> cachet::Result<IngestItem> {
    bytes_item(NewItem::new(uri), content)
}

/// `item` with `content` as its bytes.
fn bytes_item(item: NewItem, content: &str) -> cachet::Result<IngestItem> {
    Ok(IngestItem {
        item,
        content: IngestContent::Bytes(content.as_bytes().to_vec()),
    })
}

#[test]
fn bulk_ingest_is_all_or_nothing() {
    let (dir, cache) = cache();
    let file = dir.path().join("f.txt");
    fs::write(&file, b"from a file").unwrap();
    let items = (0..100).map(|i| {
        Ok(IngestItem {
            item: NewItem::new(format!("bulk{i}")).attr("i", AttrValue::Int(i)),
            content: if i == 0 {
                IngestContent::File(file.clone())
            } else {
                IngestContent::Bytes(format!("content {i}").into_bytes())
            },
        })
    });
    let mut seen = 0;
    let ids = cache.ingest(items, &mut |n| seen = n).unwrap();
    assert_eq!((ids.len(), seen), (100, 100));
    let first = cache.get(ids[0]).unwrap();
    assert_eq!(first.status, Status::Ready);
    assert_eq!(first.size, Some(11));

    // A bad item in the middle: nothing registered, no new blob left behind.
    let blobs_before = count_files(cache.blobs().dir());
    assert_eq!(blobs_before, 100, "one blob per distinct content");
    let items = (0..10).map(|i| {
        if i == 5 {
            Err(Error::invalid("line 6", "broken"))
        } else {
            bytes(&format!("second{i}"), &format!("new content {i}"))
        }
    });
    assert!(cache.ingest(items, &mut |_| {}).is_err());
    assert_eq!(cache.list_ids(None, false, 0, 1000).unwrap().len(), 100);
    assert_eq!(count_files(cache.blobs().dir()), blobs_before);
    // A missing source file names it.
    let items = std::iter::once(Ok(IngestItem {
        item: NewItem::new("missing"),
        content: IngestContent::File(dir.path().join("nope.bin")),
    }));
    let err = cache.ingest(items, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("nope.bin"), "{err}");
    // Far into a long ingest, with content staged ahead of it: the same.
    let items = (0..300).map(|i| {
        Ok(IngestItem {
            item: NewItem::new(format!("third{i}")),
            content: if i == 150 {
                IngestContent::File(dir.path().join("gone.bin"))
            } else {
                IngestContent::Bytes(format!("third content {i}").into_bytes())
            },
        })
    });
    let err = cache.ingest(items, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("gone.bin"), "{err}");
    assert_eq!(cache.list_ids(None, false, 0, 1000).unwrap().len(), 100);
    assert_eq!(count_files(cache.blobs().dir()), blobs_before);
    // An item whose rows cannot be written (params that are no object, an attribute name
    // the registry refuses), with items after it already staged: its error, and their
    // blobs gone too.
    for (bad, error) in [
        (
            NewItem::new("fourth").params(serde_json::json!(5)),
            "must be a JSON object",
        ),
        (
            NewItem::new("fourth").attr("no name", AttrValue::Int(1)),
            "'no name'",
        ),
    ] {
        let mut bad = Some(bad);
        let items = (0..200).map(|i| {
            let item = match bad.take_if(|_| i == 40) {
                Some(bad) => bad,
                None => NewItem::new(format!("fourth{i}")),
            };
            bytes_item(item, &format!("content {}", 1000 + i))
        });
        let err = cache.ingest(items, &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains(error), "{err}");
        assert_eq!(cache.list_ids(None, false, 0, 1000).unwrap().len(), 100);
        assert_eq!(count_files(cache.blobs().dir()), blobs_before);
    }
    // The bulk page cache was for the ingest only, failed or not.
    let kib: i64 = cache
        .registry()
        .db()
        .conn
        .query_row("PRAGMA cache_size", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kib, -i64::from(cachet::registry::CACHE_KIB));
}

#[test]
fn the_first_error_in_input_order_is_the_one_reported() {
    let (dir, cache) = cache();
    // The missing file comes first; the broken line is read (up to 64 items are read
    // ahead) before the missing file is found.
    let items = vec![
        Ok(IngestItem {
            item: NewItem::new("a"),
            content: IngestContent::File(dir.path().join("missing.bin")),
        }),
        Err(Error::invalid("line 2", "broken")),
    ];
    let err = cache.ingest(items, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("missing.bin"), "{err}");

    // A broken line after good ones (a plain case, for comparison): its error, nothing kept.
    let items = (0..5)
        .map(|i| bytes(&format!("ok{i}"), &format!("ok {i}")))
        .chain([Err(Error::invalid("line 6", "broken"))]);
    let err = cache.ingest(items, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("line 6"), "{err}");
    assert!(cache.list_ids(None, false, 0, 10).unwrap().is_empty());
}

#[test]
fn nothing_is_read_past_the_end_of_the_input() {
    let (_dir, cache) = cache();
    // An input that goes on after its first end, as a terminal does after Ctrl-D.
    let mut calls = 0;
    let items = std::iter::from_fn(|| {
        calls += 1;
        match calls {
            1 | 2 => Some(bytes(&format!("before{calls}"), &format!("{calls}"))),
            3 => None,
            4..=6 => Some(bytes(&format!("after{calls}"), "after the end")),
            _ => None,
        }
    });
    let ids = cache.ingest(items, &mut |_| {}).unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(calls, 3, "next() called past the end");
}

/// The input is read ahead of the rows written (their content is staged meanwhile), at most
/// 64 items, and never past an error, also when the error lies in a later batch than the
/// first.
#[test]
fn the_input_is_read_a_bounded_way_ahead_and_not_past_an_error() {
    let (_dir, cache) = cache();
    let calls = std::cell::Cell::new(0usize);
    let items = std::iter::from_fn(|| {
        calls.set(calls.get() + 1);
        let i = calls.get();
        (i <= 300).then(|| bytes(&format!("item{i}"), &format!("content {i}")))
    });
    let mut most_ahead = 0;
    let ids = cache
        .ingest(items, &mut |written| {
            most_ahead = most_ahead.max(calls.get() - written as usize);
        })
        .unwrap();
    assert_eq!(ids.len(), 300);
    assert!(most_ahead <= 64, "{most_ahead} items read ahead");
    assert!(
        most_ahead >= 32,
        "not read ahead: content is staged beside the rows"
    );

    let calls = std::cell::Cell::new(0usize);
    let items = std::iter::from_fn(|| {
        calls.set(calls.get() + 1);
        let i = calls.get();
        Some(match i {
            100 => Err(Error::invalid("line 100", "broken")),
            _ => bytes(&format!("again{i}"), &format!("again {i}")),
        })
    });
    let err = cache.ingest(items, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("line 100"), "{err}");
    assert_eq!(calls.get(), 100, "next() called past the error");
    assert_eq!(cache.list_ids(None, false, 0, 1000).unwrap().len(), 300);
}

/// After an error, content queued behind it is not read: here a FIFO nobody writes to,
/// which would block. A watcher opens it for writing whenever a reader has it open (so a
/// reader would not block forever, and the test fails rather than hangs).
#[test]
fn content_queued_behind_an_error_is_not_read() {
    let (dir, cache) = cache();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (fifo, done) = (fifo.clone(), done.clone());
        std::thread::spawn(move || {
            use std::os::unix::fs::OpenOptionsExt;
            while !done.load(Ordering::SeqCst) {
                // Opening for writing without blocking works only while a reader has it.
                let writer = fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(&fifo);
                if writer.is_ok() {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        })
    };
    let items = vec![
        Ok(IngestItem {
            item: NewItem::new("a"),
            content: IngestContent::File(dir.path().join("missing.bin")),
        }),
        Ok(IngestItem {
            item: NewItem::new("b"),
            content: IngestContent::File(fifo),
        }),
    ];
    let err = cache.ingest(items, &mut |_| {}).unwrap_err().to_string();
    done.store(true, Ordering::SeqCst);
    assert!(err.contains("missing.bin"), "{err}");
    assert!(
        !watcher.join().unwrap(),
        "the FIFO was opened after the error"
    );
}

/// The catalogue of names (what the filter language type-checks against, what the browser
/// offers as columns) gets every name with every type it has, for attributes and params
/// apart, however often one transaction writes the same name, from one-by-one puts as
/// from a bulk ingest, when an attribute is set again with another type, and after a
/// transaction that wrote the name rolled back.
#[test]
fn the_catalogue_has_every_name_with_each_of_its_types() {
    let (dir, cache) = cache();
    let when = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
        .unwrap()
        .to_utc();
    let values = [
        AttrValue::Int(1),
        AttrValue::Float(0.5),
        AttrValue::Text("a".into()),
        AttrValue::Bool(true),
        AttrValue::Datetime(when),
    ];
    let items = (0..20).map(|i| {
        let value = values[i % values.len()].clone();
        let item = NewItem::new(format!("item{i}"))
            .params(serde_json::json!({"x": i, "run": format!("r{i}")}))
            .attr("x", value)
            .attr("same", AttrValue::Int(7));
        bytes_item(item, &format!("content {i}"))
    });
    cache.ingest(items, &mut |_| {}).unwrap();
    let put = NewItem::new("one by one")
        .params(serde_json::json!({"flag": true}))
        .attr("late", AttrValue::Bool(false));
    cache.put_bytes(&put, b"late").unwrap();
    // A type an attribute takes when set again.
    let id = cache.put_bytes(&NewItem::new("retyped").attr("n", AttrValue::Int(1)), b"r");
    let retyped = [("n".to_owned(), AttrValue::Text("one".into()))].into();
    cache.set_attrs(id.unwrap().id, &retyped).unwrap();
    // A name first written by an ingest that failed, so its transaction rolled back.
    let failing = [
        bytes_item(
            NewItem::new("gone").attr("z", AttrValue::Int(1)),
            "content 99",
        ),
        Err(Error::invalid("line 2", "broken")),
    ];
    cache.ingest(failing, &mut |_| {}).unwrap_err();
    cache
        .put_bytes(&NewItem::new("z").attr("z", AttrValue::Int(2)), b"z")
        .unwrap();
    drop(cache);

    let conn = rusqlite::Connection::open(dir.path().join("cache/registry.sqlite")).unwrap();
    let catalogue: Vec<(i64, String, i64)> = conn
        .prepare("SELECT scope, name, type FROM attr_names ORDER BY scope, name, type")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<(i64, String, i64)> = [
        (0, "late", 3),
        (0, "n", 0),
        (0, "n", 2),
        (0, "same", 0),
        (0, "x", 0),
        (0, "x", 1),
        (0, "x", 2),
        (0, "x", 3),
        (0, "x", 4),
        (0, "z", 0),
        (1, "flag", 3),
        (1, "run", 2),
        (1, "x", 0),
    ]
    .into_iter()
    .map(|(s, n, t)| (s, n.to_owned(), t))
    .collect();
    assert_eq!(catalogue, expected);
}
