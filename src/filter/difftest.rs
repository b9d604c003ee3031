//! Differential test: on random registries and random filters, the SQL answers (pages in
//! every sort, walked with cursors; counts; per-status counts) equal a plain in-memory
//! evaluation of the same typed condition.

use std::collections::{BTreeMap, HashMap};

use proptest::prelude::*;
use proptest::sample::select;

use super::eval::{MemItem, eval, ordered};
use super::tests::{DAY_MS, insert_unindexed, item, now, registry};
use super::typecheck::Catalogue;
use super::*;
use crate::attr::AttrType;

const KEYS: [&str; 4] = ["ab12cd34", "ab13ee00", "0f00aa11", "ffee0123"];
const URIS: [&str; 4] = [
    "s3://bucket/alpha.csv",
    "https://x.org/Data_1.zip",
    "file:///tmp/50%.txt",
    "gs://b/ALPHA/beta.parquet",
];
const LABELS: [&str; 5] = ["alpha run", "Beta", "x_y", "50% done", "Été 2026"];
const FILES: [&str; 3] = ["alpha.csv", "data.zip", "a_b.txt"];
const TEXTS: [&str; 5] = ["alpha", "Beta", "beta", "al pha", "3"];

fn text(s: &str) -> (AttrType, SqlVal) {
    (AttrType::Text, SqlVal::Text(s.to_string()))
}

fn int(i: i64) -> (AttrType, SqlVal) {
    (AttrType::Int, SqlVal::Int(i))
}

fn opt<T: std::fmt::Debug + Clone + 'static>(
    s: impl Strategy<Value = T> + 'static,
) -> BoxedStrategy<Option<T>> {
    prop::option::weighted(0.7, s).boxed()
}

type Attrs = BTreeMap<String, (AttrType, SqlVal)>;

fn attrs() -> impl Strategy<Value = Attrs> {
    let day_us = DAY_MS * 1000;
    let now_us = now().timestamp_micros();
    (
        opt(select(TEXTS.to_vec()).prop_map(text)),
        opt((-2i64..6).prop_map(int)),
        opt(select(vec![0.1, 0.5, 0.9, 2.0, -1.5]).prop_map(|f| (AttrType::Float, SqlVal::Real(f)))),
        opt((0i64..40, 0i64..3).prop_map(move |(d, h)| {
            (AttrType::Datetime, SqlVal::Int(now_us - d * day_us + h * 3_600_000_000))
        })),
        opt(any::<bool>().prop_map(|b| (AttrType::Bool, SqlVal::Int(i64::from(b))))),
        opt(prop_oneof![
            (0i64..5).prop_map(int),
            select(vec!["3", "a", "x"]).prop_map(text),
            Just((AttrType::Float, SqlVal::Real(2.5))),
        ]),
    )
        .prop_map(|(project, batch, score, when, ok, mixed)| {
            let mut m = BTreeMap::new();
            for (name, v) in [
                ("project", project),
                ("batch", batch),
                ("score", score),
                ("when", when),
                ("ok", ok),
                ("mixed", mixed),
            ] {
                if let Some(v) = v {
                    m.insert(name.to_string(), v);
                }
            }
            m
        })
}

#[derive(Debug, Clone)]
struct Spec {
    key: usize,
    uri: usize,
    label: Option<usize>,
    filename: Option<usize>,
    note: bool,
    status: usize,
    size: Option<i64>,
    created: (i64, i64),
    accessed: Option<i64>,
    lease: Option<i64>,
    pinned: bool,
    attrs: Attrs,
    params: Attrs,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        (
            0..KEYS.len(),
            0..URIS.len(),
            opt(0..LABELS.len()),
            opt(0..FILES.len()),
            any::<bool>(),
        ),
        (
            0usize..5,
            opt(0i64..3_000_000),
            (0i64..60, 0i64..DAY_MS),
            opt(0i64..40 * DAY_MS),
        ),
        (opt(-3_600_000i64..3_600_000), any::<bool>(), attrs()),
        opt(prop_oneof![
            (1i64..4).prop_map(int),
            select(vec!["3", "rc"]).prop_map(text)
        ]),
    )
        .prop_map(
            |(
                (key, uri, label, filename, note),
                (status, size, created, accessed),
                (lease, pinned, attrs),
                release,
            )| Spec {
                key,
                uri,
                label,
                filename,
                note,
                status,
                size,
                created,
                accessed,
                lease,
                pinned,
                attrs,
                params: release
                    .into_iter()
                    .map(|r| ("release".to_string(), r))
                    .collect(),
            },
        )
}

fn build(specs: Vec<Spec>) -> Vec<MemItem> {
    let now_ms = now().timestamp_millis();
    let mut versions: HashMap<usize, i64> = HashMap::new();
    specs
        .into_iter()
        .enumerate()
        .map(|(n, s)| {
            let id = n as i64 * 3 + 1;
            let v = versions.entry(s.key).or_insert(0);
            *v += 1;
            let mut i = item(id);
            i.key = KEYS[s.key].to_string();
            i.version = *v;
            i.uri = URIS[s.uri].to_string();
            i.label = s.label.map(|l| LABELS[l].to_string());
            i.filename = s.filename.map(|f| FILES[f].to_string());
            i.note = s.note.then(|| "n1 alpha".to_string());
            i.status = Status::ALL[s.status];
            i.size = s.size;
            i.sha256 = s
                .size
                .map(|_| ["ab00ff", "0123ab"][(id % 2) as usize].to_string());
            if i.status == Status::Ready && i.size.is_none() {
                i.size = Some(7);
                i.sha256 = Some("ab00ff".into());
            }
            i.created = now_ms - s.created.0 * DAY_MS - s.created.1;
            i.updated = i.created + s.created.1 / 2;
            i.accessed = s.accessed.map(|a| now_ms - a);
            i.lease_expires = s.lease.map(|l| now_ms + l);
            i.pinned = s.pinned;
            i.attrs = s.attrs;
            i.params = s.params;
            i
        })
        .collect()
}

const ATOMS: &[&str] = &[
    "project=alpha",
    "project=Beta",
    "project!=alpha",
    "project~alp",
    "project~A*",
    "project!~a",
    "project=alpha,beta",
    "project!=alpha,beta",
    "project<beta",
    "project=\"al pha\"",
    "batch>=2",
    "batch<0",
    "batch=3",
    "batch!=1",
    "batch>1.5",
    "batch<=-1",
    "score<0.9",
    "score>=0.5",
    "score=2",
    "score!=0.5",
    "when>2026-02-01",
    "when<10d",
    "when>=20d",
    "when=2026-02-20",
    "when!=2026-02-20",
    "when>=2026-02-20T12:00:00Z",
    "when<=2026-02-10",
    "ok=true",
    "ok=false",
    "ok!=true",
    "ok=yes",
    "mixed=3",
    "mixed>2",
    "mixed~a",
    "mixed=x",
    "mixed<5",
    "mixed!=3",
    "mixed>=2.5",
    "has:score",
    "has:mixed",
    "has:label",
    "has:accessed",
    "has:param.release",
    "has:uri",
    "param.release=3",
    "param.release>=2",
    "param.release=rc",
    "param.release!=3",
    "status:ready",
    "status:write,failed",
    "status:stale",
    "status!=trash",
    "status:uninitialized",
    "uri~alpha",
    "uri~*.csv",
    "uri~50%",
    "label~a",
    "label=Beta",
    "filename~*.zip",
    "note~n",
    "label!~alpha",
    "label<M",
    "filename=a_b.txt",
    "uri!=file:///tmp/50%.txt",
    "size>1000000",
    "size<=1MB",
    "size>=1k",
    "size!=7",
    "size=7",
    "created<7d",
    "created>30d",
    "accessed>20d",
    "accessed<3d",
    "updated>=2026-02-10",
    "created=2026-02-15",
    "created<=2026-02-15",
    "created>2026-02-15",
    "accessed<=48h",
    "key:ab1",
    "key!=ab12",
    "key:FFEE0123",
    "sha256:ab",
    "sha256!=01",
    "version=latest",
    "version!=latest",
    "version>1",
    "version=1",
    "pinned",
    "pinned=false",
    "alpha",
    "\"50%\"",
    "data",
    "x_y",
    "*.csv",
    // Searches of one or two characters (the trigram index's prefix lookups), at the end
    // of a field, in another case, absent, outside ASCII, and between wildcards.
    "t",
    "v",
    "DA",
    "zq",
    "q",
    "é",
    "ÉTÉ",
    "Été",
    "label~é",
    "uri~a*v",
    "filename~t?t",
    "\"%\"",
    "id>30",
    "id<=10",
    "nosuch=3",
    "has:nosuch",
    "param.nosuch<2",
];

fn filter_text() -> impl Strategy<Value = String> {
    let leaf = select(ATOMS.to_vec()).prop_map(String::from);
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) | ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
            inner.clone().prop_map(|a| format!("!({a})")),
            inner.prop_map(|a| format!("not ({a})")),
        ]
    })
}

const SORTS: &[&str] = &[
    "id",
    "-id",
    "created",
    "-created",
    "size",
    "-size",
    "-accessed",
    "label",
    "uri",
    "-status",
    "pinned",
    "attr.batch",
    "-attr.batch",
    "score",
    "-mixed",
    "project",
    "param.release",
    "-nosuch",
    "version",
    "-filename",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn sql_answers_equal_the_in_memory_evaluation(
        specs in prop::collection::vec(spec(), 0..28),
        filters in prop::collection::vec(filter_text(), 4),
        sort in select(SORTS.to_vec()),
        limit in 1usize..6,
        cap in 0u64..5,
        split in 0usize..30,
    ) {
        let items = build(specs);
        // The first items' text in the index, the others' not yet.
        let (indexed, unindexed) = items.split_at(split.min(items.len()));
        let (_dir, mut conn) = registry(indexed);
        insert_unindexed(&mut conn, unindexed);
        for text in &filters {
            let filter = Filter::parse(text).unwrap();
            let cond = match resolve_as_written(&conn, &filter, now()) {
                Ok(c) => c,
                // A value that fits none of the attribute's types in this registry: every
                // entry point says so.
                Err(Error::Filter { .. }) => {
                    prop_assert!(count(&conn, &filter, now()).is_err());
                    let q = Query { filter: filter.clone(), ..Query::default() };
                    prop_assert!(page(&conn, &q, now()).is_err());
                    continue;
                }
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            };
            let expected: Vec<i64> = items.iter().filter(|i| eval(&cond, i, &items)).map(|i| i.id).collect();
            let n = expected.len() as u64;
            prop_assert_eq!(count(&conn, &filter, now()).unwrap(), n, "count of {}", text);
            let capped = count_upto(&conn, &filter, now(), cap).unwrap();
            prop_assert_eq!(capped, Count { n: n.min(cap), exact: n <= cap }, "capped count of {}", text);

            let spec: SortSpec = sort.parse().unwrap();
            let sort_types = match &spec.key {
                SortKey::Attr(scope, name) => Catalogue::new(&conn).types(*scope, name).unwrap(),
                SortKey::Col(_) => Vec::new(),
            };
            let want = ordered(&cond, &spec, &sort_types, &items);
            let mut got = Vec::new();
            let mut q = Query { filter: filter.clone(), sort: spec.clone(), limit, after: None };
            for _ in 0..=items.len() {
                let p = page(&conn, &q, now()).unwrap();
                prop_assert!(p.ids.len() <= limit);
                got.extend(p.ids);
                match p.next {
                    // Cursors survive their text form.
                    Some(c) => q.after = Some(c.to_string().parse().unwrap()),
                    None => break,
                }
            }
            prop_assert_eq!(&got, &want, "pages of {} sorted by {}", text, sort);

            // The same listing read backwards from the end, cursor by cursor.
            let mut back = Vec::new();
            q.after = None;
            for _ in 0..=items.len() {
                let p = page_before(&conn, &q, now()).unwrap();
                prop_assert!(p.ids.len() <= limit);
                back.extend(p.ids);
                match p.next {
                    Some(c) => q.after = Some(c),
                    None => break,
                }
            }
            back.reverse();
            prop_assert_eq!(&back, &want, "pages of {} sorted by {}, read backwards", text, sort);
            // Back from a forward cursor: the rows before its row.
            q.after = None;
            if let Some(c) = page(&conn, &q, now()).unwrap().next {
                q.after = Some(c);
                let before: Vec<i64> = want[..limit - 1].iter().rev().copied().collect();
                prop_assert_eq!(page_before(&conn, &q, now()).unwrap().ids, before);
            }

            // The page holding each item, as paging from the start cuts them; its cursors
            // lead to that page and the next.
            q.after = None;
            for it in &items {
                let held = page_holding(&conn, &q, it.id, now()).unwrap();
                let Some(at) = want.iter().position(|id| *id == it.id) else {
                    prop_assert_eq!(held, None, "item {} is not listed by {}", it.id, text);
                    continue;
                };
                let held = held.unwrap();
                let first = at / limit * limit;
                let end = (first + limit).min(want.len());
                prop_assert_eq!(held.position, at as u64);
                prop_assert_eq!(&held.ids, &want[first..end].to_vec(), "page holding {} of {} by {}", it.id, text, sort);
                prop_assert_eq!(held.start.is_some(), first > 0);
                let from_start = Query { after: held.start.clone(), ..q.clone() };
                prop_assert_eq!(page(&conn, &from_start, now()).unwrap().ids, held.ids.clone());
                prop_assert_eq!(held.next.is_some(), end < want.len());
                if let Some(next) = held.next {
                    let following = Query { after: Some(next), ..q.clone() };
                    let want_next = want[end..(end + limit).min(want.len())].to_vec();
                    prop_assert_eq!(page(&conn, &following, now()).unwrap().ids, want_next);
                }
            }

            for exact in [None, Some(cap)] {
                let sc = count_by_status(&conn, &filter, now(), exact).unwrap();
                for tab in [Tab::All, Tab::Stale].into_iter().chain(Status::ALL.map(Tab::Status)) {
                    let restricted = resolve_as_written(&conn, &filter.restrict(tab), now()).unwrap();
                    let n = items.iter().filter(|i| eval(&restricted, i, &items)).count() as u64;
                    let want = match exact {
                        None => Count { n, exact: true },
                        Some(cap) => Count { n: n.min(cap), exact: n <= cap },
                    };
                    prop_assert_eq!(sc.get(tab), want, "{:?} count of {}", tab, text);
                }
            }
        }
    }
}
