//! Parser and type-checking tests, and the registry fixtures that the differential and
//! query-plan tests share.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;
use tempfile::TempDir;

use super::eval::MemItem;
use super::*;
use crate::attr::AttrType;
use crate::registry::schema::migrate;

pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).single().unwrap()
}

pub(crate) const DAY_MS: i64 = 86_400_000;

/// A fresh registry file in a temp dir holding `items`.
pub(crate) fn registry(items: &[MemItem]) -> (TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.sqlite");
    let mut conn = Connection::open(&path).unwrap();
    migrate(&mut conn, &path, &|| Ok(())).unwrap();
    insert(&mut conn, items);
    (dir, conn)
}

/// Inserts `items` and indexes their text.
pub(crate) fn insert(conn: &mut Connection, items: &[MemItem]) {
    insert_unindexed(conn, items);
    crate::registry::text::catch_up(conn).unwrap();
}

/// Inserts `items` without indexing their text (as a few puts leave them).
pub(crate) fn insert_unindexed(conn: &mut Connection, items: &[MemItem]) {
    let tx = conn.transaction().unwrap();
    {
        let mut item = tx
            .prepare(
                "INSERT INTO items (id, key, version, uri, params, status, label, filename, note, \
                 size, sha256, created, updated, accessed, lease_expires, pinned) \
                 VALUES (?, ?, ?, ?, '{}', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .unwrap();
        let mut attr = tx
            .prepare("INSERT INTO attrs (item_id, name, type, value) VALUES (?, ?, ?, ?)")
            .unwrap();
        let mut param = tx
            .prepare("INSERT INTO params (item_id, name, type, value) VALUES (?, ?, ?, ?)")
            .unwrap();
        for i in items {
            item.execute(rusqlite::params![
                i.id,
                i.key,
                i.version,
                i.uri,
                i.status.as_str(),
                i.label,
                i.filename,
                i.note,
                i.size,
                i.sha256,
                i.created,
                i.updated,
                i.accessed,
                i.lease_expires,
                i.pinned
            ])
            .unwrap();
            for (n, (t, v)) in &i.attrs {
                attr.execute(rusqlite::params![i.id, n, t.code(), v])
                    .unwrap();
            }
            for (n, (t, v)) in &i.params {
                param
                    .execute(rusqlite::params![i.id, n, t.code(), v])
                    .unwrap();
            }
        }
    }
    // The catalogue of names, as the library keeps it when it writes attributes.
    tx.execute_batch(crate::registry::schema::CATALOGUE_FROM_ROWS)
        .unwrap();
    tx.commit().unwrap();
}

pub(crate) fn item(id: i64) -> MemItem {
    let now = now().timestamp_millis();
    MemItem {
        id,
        key: format!("{id:08x}"),
        version: 1,
        uri: format!("s3://bucket/item{id}.csv"),
        label: None,
        filename: None,
        note: None,
        status: Status::Ready,
        size: Some(id * 100),
        sha256: Some(format!("{id:064x}")),
        created: now - id * DAY_MS,
        updated: now - id * DAY_MS,
        accessed: None,
        lease_expires: None,
        pinned: false,
        attrs: BTreeMap::new(),
        params: BTreeMap::new(),
    }
}

fn err_at(input: &str) -> (usize, String) {
    match Filter::parse(input) {
        Err(Error::Filter { pos, message, .. }) => (pos, message),
        other => panic!("{input}: expected an error, got {other:?}"),
    }
}

#[test]
fn parse_errors_point_at_the_problem() {
    let cases: &[(&str, usize, &str)] = &[
        ("batch>=", 7, "expected a value after '>='"),
        ("status:done", 7, "expected a status"),
        ("(a b", 4, "expected ')' to close the '(' at column 1"),
        ("a b)", 3, "unmatched ')'"),
        ("a | ", 4, "expected a filter term"),
        ("=x", 0, "expected a filter term"),
        (
            "size>lots",
            5,
            "size is a size like 512, 10MB or 2GiB, got 'lots'",
        ),
        ("created=7d", 8, "an age compares with <"),
        ("created<yesterday", 8, "created is an age like 7d"),
        ("label='open", 6, "unterminated quote"),
        ("key:xyz", 4, "key is a hex prefix"),
        ("a,b", 1, "expected a filter term"),
        ("batch<1,2", 8, "a list of values works with"),
        ("ok=tru e~", 9, "expected a value after '~'"),
        ("fo*o=1", 0, "'fo*o' is not a field or attribute name"),
        ("has>x", 0, "has takes = : or !="),
        ("size~1", 5, "size is not text"),
        ("é (", 3, "expected a filter term, found the end"),
    ];
    for (input, pos, msg) in cases {
        let (p, m) = err_at(input);
        assert!(m.contains(msg), "{input}: {m}");
        assert_eq!(p, *pos, "{input}: {m}");
    }
}

#[test]
fn error_display_has_a_caret_line() {
    let e = Filter::parse("project=alpha batch>=")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "invalid filter: expected a value after '>='\n  project=alpha batch>=\n                       ^"
    );
}

#[test]
fn parses_the_documented_forms() {
    for ok in [
        "",
        "status:ready",
        "status:ready,write,failed,trash,uninitialized,stale",
        "project=alpha batch>=2 score<0.9 when>2026-01-01 ok=true name~glob* has:attr",
        "param.release=3 uri~s3:// label~x size>1GB created<7d accessed>30d key:ab12",
        "version=latest pinned !pinned not pinned (a | b) or c and d",
        "label=\"two words\" 'single quoted' when>=2026-01-01T10:00:00Z",
        "project = alpha",
        "or=1 not=2 and=3",
        "!(a|(b c)) | !!d",
    ] {
        Filter::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    assert!(Filter::parse("").unwrap().is_all());
    assert!(Filter::parse("   ").unwrap().is_all());
}

#[test]
fn fuzzish_input_gives_errors_not_panics() {
    let mut deep = "(".repeat(500);
    deep.push('a');
    assert!(Filter::parse(&deep).is_err());
    assert!(Filter::parse(&"!".repeat(500)).is_err());
    for s in [
        "\"", "'", "\\", "!~", "a!", ":", "((", "))", "|", ",,", "a=,", "a=\"\\", "\u{0}",
    ] {
        let _ = Filter::parse(s);
    }
}

fn typed_registry() -> (TempDir, Connection) {
    let mut a = item(1);
    a.attrs
        .insert("batch".into(), (AttrType::Int, SqlVal::Int(3)));
    a.attrs.insert(
        "project".into(),
        (AttrType::Text, SqlVal::Text("alpha".into())),
    );
    a.attrs.insert(
        "when".into(),
        (AttrType::Datetime, SqlVal::Int(1_767_225_600_000_000)),
    );
    a.attrs
        .insert("mixed".into(), (AttrType::Int, SqlVal::Int(3)));
    let mut b = item(2);
    b.attrs
        .insert("batch".into(), (AttrType::Int, SqlVal::Int(5)));
    b.attrs
        .insert("score".into(), (AttrType::Float, SqlVal::Real(0.5)));
    b.attrs
        .insert("mixed".into(), (AttrType::Text, SqlVal::Text("x".into())));
    b.params
        .insert("release".into(), (AttrType::Int, SqlVal::Int(3)));
    b.status = Status::Write;
    b.lease_expires = Some(now().timestamp_millis() - 1);
    registry(&[a, b])
}

fn ids(conn: &Connection, f: &str) -> Vec<i64> {
    let q = Query {
        filter: Filter::parse(f).unwrap(),
        ..Query::default()
    };
    page(conn, &q, now()).unwrap().ids
}

#[test]
fn values_are_checked_against_the_catalogue() {
    let (_d, conn) = typed_registry();
    let e = check(&conn, &Filter::parse("project=alpha batch>=x").unwrap()).unwrap_err();
    match &e {
        Error::Filter { pos, message, .. } => {
            assert_eq!(*pos, 21);
            assert!(message.contains("batch is int, got 'x'"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let e = check(&conn, &Filter::parse("batch~3").unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("batch is int; '~' matches text"), "{e}");
    let e = check(&conn, &Filter::parse("when>soon").unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("when is datetime, got 'soon'"), "{e}");
    // Several types: the value only has to fit one of them.
    assert!(
        check(&conn, &Filter::parse("mixed=x mixed>2").unwrap())
            .unwrap()
            .is_empty()
    );
    let notes = check(
        &conn,
        &Filter::parse("projct=alpha has:nothing_like_it").unwrap(),
    )
    .unwrap();
    assert_eq!(notes.len(), 2);
    // The caret goes under the name, not the value.
    assert_eq!((notes[0].pos, notes[1].pos), (0, 17));
    assert!(
        notes[0].message.contains("did you mean 'project'?"),
        "{:?}",
        notes[0]
    );
    assert!(!notes[1].message.contains("did you mean"), "{:?}", notes[1]);
    // A URI pasted as a word: how to match a URI, under its scheme.
    let notes = check(&conn, &Filter::parse("size>1 s3://bucket/x").unwrap()).unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].pos, 7);
    assert!(notes[0].message.contains("uri=…"), "{:?}", notes[0]);
    // A built-in name misspelt is taken for an attribute: the note names the built-in.
    // A name a letter long is no typo of another such.
    let meant = |filter: &str| {
        let notes = check(&conn, &Filter::parse(filter).unwrap()).unwrap();
        let message = &notes.first().expect("a note").message;
        message
            .split_once("did you mean '")
            .map(|(_, rest)| rest.trim_end_matches("'?").to_string())
    };
    assert_eq!(meant("staus:ready").as_deref(), Some("status"));
    assert_eq!(meant("siz>1KB").as_deref(), Some("size"));
    assert_eq!(meant("hsa:batch").as_deref(), Some("has"));
    assert_eq!(meant("projet=x").as_deref(), Some("project"));
    assert_eq!(meant("q=1"), None);
}

#[test]
fn answers_follow_the_types() {
    let (_d, conn) = typed_registry();
    assert_eq!(ids(&conn, "batch>=3"), [1, 2]);
    assert_eq!(ids(&conn, "batch>4"), [2]);
    assert_eq!(ids(&conn, "batch>2.5 score<0.9"), [2]);
    assert_eq!(ids(&conn, "score=0.5 | project=alpha"), [1, 2]);
    assert_eq!(ids(&conn, "mixed=3"), [1]);
    assert_eq!(ids(&conn, "mixed=x"), [2]);
    assert_eq!(ids(&conn, "when=2026-01-01"), [1]);
    assert_eq!(ids(&conn, "when>2026-01-01"), Vec::<i64>::new());
    assert_eq!(ids(&conn, "when<=2026-01-01"), [1]);
    assert_eq!(ids(&conn, "when>1000d"), Vec::<i64>::new());
    assert_eq!(ids(&conn, "when<1000d"), [1]);
    assert_eq!(ids(&conn, "param.release=3"), [2]);
    assert_eq!(ids(&conn, "release=3"), Vec::<i64>::new());
    assert_eq!(ids(&conn, "status:stale"), [2]);
    assert_eq!(ids(&conn, "status:ready,stale"), [1, 2]);
    assert_eq!(ids(&conn, "created<36h"), [1]);
    assert_eq!(ids(&conn, "created>36h"), [2]);
    assert_eq!(ids(&conn, "nosuch=1"), Vec::<i64>::new());
    assert_eq!(ids(&conn, "!nosuch=1"), [1, 2]);
    assert_eq!(ids(&conn, "project!=beta"), [1]);
    assert_eq!(ids(&conn, "!project=beta"), [1, 2]);
    assert_eq!(ids(&conn, "item2"), [2]);
    assert_eq!(ids(&conn, "*ITEM*.CSV"), [1, 2]);
    assert_eq!(ids(&conn, "ITEM*.CSV"), Vec::<i64>::new());
    assert_eq!(ids(&conn, "size>=1.5k"), Vec::<i64>::new());
    assert_eq!(ids(&conn, "size<=200B"), [1, 2]);
    assert_eq!(ids(&conn, "key:00000001"), [1]);
    assert_eq!(ids(&conn, "version=latest"), [1, 2]);
}

/// Every example the help gives parses, and reads against a registry.
#[test]
fn the_help_examples_parse() {
    let (_d, conn) = typed_registry();
    for example in [
        "status:ready,stale",
        "rows>=1200 score<0.9",
        "attr.rows=1",
        "param.release=3",
        "uri~*weather*.csv",
        "uri!~*weather*",
        "note~*x?",
        "size>1GB created<7d",
        "created>=2026-01-01",
        "created>=2026-01-01T06:00:00Z",
        "key:3f9a sha256:ab12",
        "version=latest pinned",
        "has:rows !has:rows has:label",
        "weights",
        "\"a phrase\"",
        "label=\"best model\"",
        "a | b",
        "a or b",
        "!a",
        "not a",
        "(a | b) c",
        "batch=1,2",
    ] {
        let f = Filter::parse(example).unwrap_or_else(|e| panic!("{example}: {e}"));
        let q = Query {
            filter: f,
            ..Query::default()
        };
        page(&conn, &q, now()).unwrap_or_else(|e| panic!("{example}: {e}"));
    }
}

/// What time alone changes: ages and staleness in a filter, and leases running out (the
/// browser's clock recounts only then).
#[test]
fn time_moves_ages_staleness_and_leases() {
    let depends = |f: &str| Filter::parse(f).unwrap().depends_on_time();
    for f in [
        "created<7d",
        "when>2h",
        "!status:stale",
        "batch=3 | updated>=1d",
    ] {
        assert!(depends(f), "{f}");
    }
    for f in [
        "",
        "created<2026-01-01",
        "when>2026-01-01",
        "status:write",
        "batch>3",
        "7d",
    ] {
        assert!(!depends(f), "{f}");
    }
    // Item 2's lease ran out a millisecond before `now()`.
    let (_d, conn) = typed_registry();
    let s = chrono::Duration::seconds(1);
    assert!(leases_expired(&conn, now() - s, now()).unwrap());
    assert!(
        !leases_expired(&conn, now(), now() + s).unwrap(),
        "stale already"
    );
    assert!(
        !leases_expired(&conn, now() - s * 2, now() - s).unwrap(),
        "not yet"
    );
}

#[test]
fn cursors_round_trip_and_belong_to_their_sort() {
    for val in [
        None,
        Some(SqlVal::Int(-3)),
        Some(SqlVal::Real(0.1)),
        Some(SqlVal::Text("a\u{1f}b é".into())),
    ] {
        let c = Cursor {
            sort: "-attr.x".into(),
            val,
            id: 42,
        };
        let text = c.to_string();
        assert!(text.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(text.parse::<Cursor>().unwrap(), c);
    }
    assert!("zz".parse::<Cursor>().is_err());
    assert!("abc".parse::<Cursor>().is_err());
    assert!("6331".parse::<Cursor>().is_err());
    let (_d, conn) = typed_registry();
    let mut q = Query {
        limit: 1,
        sort: "created".parse().unwrap(),
        ..Query::default()
    };
    let first = page(&conn, &q, now()).unwrap();
    q.after = first.next;
    q.sort = "-created".parse().unwrap();
    assert!(page(&conn, &q, now()).is_err());
}

#[test]
fn sort_specs_parse() {
    let s: SortSpec = "-size".parse().unwrap();
    assert_eq!(s, SortSpec::desc(SortKey::Col(Col::Size)));
    let s: SortSpec = "batch:desc".parse().unwrap();
    assert_eq!(
        s,
        SortSpec::desc(SortKey::Attr(Scope::Attr, "batch".into()))
    );
    let s: SortSpec = "param.release".parse().unwrap();
    assert_eq!(s.to_string(), "param.release");
    assert!("bad name".parse::<SortSpec>().is_err());
}

/// Filters a script writes, of thousands of terms: SQLite refuses an expression more than
/// 1000 deep, as a chain of `OR`s or `AND`s was.
#[test]
fn thousands_of_terms_are_answered() {
    let (_d, conn) = typed_registry();
    let or: Vec<String> = (1..=3000).map(|i| format!("id={i}")).collect();
    assert_eq!(ids(&conn, &or.join(" | ")), [1, 2]);
    let and: Vec<String> = (0..1500).map(|i| format!("id>{}", i % 2)).collect();
    assert_eq!(ids(&conn, &and.join(" ")), [2]);
    let attr: Vec<String> = (0..1500).map(|i| format!("batch>{}", i % 3)).collect();
    assert_eq!(ids(&conn, &attr.join(" ")), [1, 2]);
    let now = Utc::now();
    let f = Filter::parse(&or.join(" | ")).unwrap();
    assert_eq!(count(&conn, &f, now).unwrap(), 2);
    // Terms of every shape, their values bound in order: each but the last matches
    // nothing, so a value bound to another's place would show.
    let mixed: Vec<String> = (0..400)
        .flat_map(|i| {
            [
                format!("uri~nothing-{i}"),
                format!("batch={}", 1000 + i),
                format!("project=none-{i}"),
                format!("score>{}", 10 + i),
            ]
        })
        .chain(["id=2".to_string()])
        .collect();
    assert_eq!(ids(&conn, &mixed.join(" | ")), [2]);
    // A search too long for SQLite's patterns is a filter error, where the word is
    // (an attribute's when its filter is checked).
    let long = format!("project~{}", "z".repeat(60_000));
    match check(&conn, &Filter::parse(&long).unwrap()) {
        Err(crate::Error::Filter { pos, message, .. }) => {
            assert!(message.contains("too long"), "{message}");
            assert_eq!(pos, "project~".len());
        }
        other => panic!("{:?}", other.map(|n| n.len())),
    }
    for input in ["x".repeat(60_000), format!("a uri~{}", "y".repeat(60_000))] {
        match Filter::parse(&input) {
            Err(crate::Error::Filter { pos, message, .. }) => {
                assert!(message.contains("too long"), "{message}");
                assert_eq!(pos, input.find(['x', 'y']).unwrap());
            }
            other => panic!("{:?}", other.map(|f| f.as_str().len())),
        }
    }
}

/// `version=latest` follows every change that makes another version the newest, whatever
/// makes it (schema 11 marks the candidates, and the triggers and the library keep the
/// marks): after each step it is what the versions as they stand say, and a version
/// superseded by a new one loses its mark.
#[test]
fn the_newest_versions_follow_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let cache = crate::Cache::open(dir.path()).unwrap();
    let conn = cache.registry().db().conn;
    let put = |uri: &str| {
        (cache.put_bytes(&crate::NewItem::new(uri), uri.as_bytes()))
            .unwrap()
            .id
    };
    let select = |sql: &str| -> Vec<i64> {
        let mut st = conn.prepare(sql).unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let check = |what: &str| {
        let newest = select(
            "SELECT id FROM items i WHERE status <> 'TRASH' AND NOT EXISTS (
                 SELECT 1 FROM items j
                 WHERE j.key = i.key AND j.version > i.version AND j.status <> 'TRASH')
             ORDER BY id",
        );
        assert_eq!(ids(conn, "version=latest"), newest, "{what}");
    };
    let marked = || select("SELECT id FROM items WHERE latest = 1 ORDER BY id");

    let (a1, a2, a3, b1) = (put("a"), put("a"), put("a"), put("b"));
    check("new versions");
    assert_eq!(marked(), [a3, b1], "superseded versions are unmarked");
    cache.trash(a3).unwrap();
    check("the newest trashed");
    assert_eq!(marked(), [a2, b1], "the trashed one unmarked");
    cache.restore(a3).unwrap();
    check("restored");
    assert_eq!(marked(), [a3, b1], "those below the restored one unmarked");
    cache.trash(a3).unwrap();
    cache.purge(a3).unwrap();
    check("the newest purged");
    cache.fail(a2, "broke").unwrap();
    conn.execute("DELETE FROM items WHERE id = ?1", [a2])
        .unwrap();
    check("the newest deleted as gc deletes a failure");
    assert_eq!(ids(conn, "version=latest"), [a1, b1]);
    // An unmarked version, superseded, moves to be the newest of another key.
    let a4 = put("a");
    assert_eq!(marked(), [b1, a4]);
    conn.execute(
        "UPDATE items SET key = (SELECT key FROM items WHERE id = ?1), version = 2
         WHERE id = ?2",
        [b1, a1],
    )
    .unwrap();
    check("moved to another key by hand");
    assert_eq!(ids(conn, "version=latest"), [a1, a4]);
}
