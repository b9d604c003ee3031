//! Query-plan tests: every query the browser asks walks an index, and the planner picks
//! the way in it was meant to.

use rusqlite::Connection;

use super::eval::MemItem;
use super::sql::{LOG, Sql};
use super::tests::{item, now, registry};
use super::value::SqlVal;
use super::*;
use crate::attr::AttrType;

/// The plan of `q`: one line per step.
fn plan_of(conn: &Connection, q: &Sql) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", q.text))
        .unwrap();
    stmt.query_map(q.params(), |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<rusqlite::Result<Vec<_>>>()
        .unwrap()
}

/// Whether a step of `plan` starts with `prefix`.
fn has_step(plan: &[String], prefix: &str) -> bool {
    plan.iter().any(|s| s.starts_with(prefix))
}

/// Asserts that `q`'s rows come from the step starting with `way_in`, each item then
/// looked up by id.
fn assert_drives(plan: &[String], way_in: &str, q: &Sql) {
    assert!(has_step(plan, way_in), "{}\n{plan:#?}", q.text);
    assert!(
        has_step(plan, "SEARCH i USING INTEGER PRIMARY KEY"),
        "{}\n{plan:#?}",
        q.text
    );
}

/// A registry shaped like real ones: many items, a few typed attributes each.
fn bulk(n: i64) -> Vec<MemItem> {
    (1..=n)
        .map(|id| {
            let mut i = item(id);
            i.status =
                [Status::Ready, Status::Ready, Status::Failed, Status::Trash][(id % 4) as usize];
            i.attrs.insert(
                "project".into(),
                (
                    AttrType::Text,
                    SqlVal::Text(["alpha", "beta", "gamma"][(id % 3) as usize].into()),
                ),
            );
            i.attrs
                .insert("batch".into(), (AttrType::Int, SqlVal::Int(id % 50)));
            i.attrs.insert(
                "score".into(),
                (AttrType::Float, SqlVal::Real((id % 97) as f64 / 97.0)),
            );
            i
        })
        .collect()
}

#[test]
fn every_tui_query_uses_an_index() {
    let (_d, conn) = registry(&bulk(600));
    let filters = [
        "",
        "project=alpha",
        "project=alpha batch>=10",
        "batch>=10 batch<20",
        "project=alpha | score<0.1",
        "!project=beta",
        "status:ready project=gamma",
        "status:stale",
        "created<7d",
        "size>1k has:score",
        "version=latest",
        "param.release=1",
        "item42",
        "uri~item4*.csv status:ready",
        "zq",
    ];
    let sorts = [
        "id",
        "-id",
        "created",
        "-created",
        "size",
        "-accessed",
        "uri",
        "status",
        "-attr.score",
        "batch",
        "version",
        "-version",
    ];
    let queries = asked(|| {
        for f in filters {
            run_every_query(&conn, f, &sorts);
        }
    });
    assert!(queries.len() > 300);
    for q in &queries {
        let plan = plan_of(&conn, q);
        for step in &plan {
            let scan_of_values = (step.starts_with("SCAN a")
                || step.starts_with("SCAN d")
                || step.starts_with("SCAN s")
                || step.contains("SCAN attrs")
                || step.contains("SCAN params"))
                && !step.contains("INDEX");
            assert!(
                !scan_of_values,
                "full scan of attribute values:\n{}\n{plan:#?}",
                q.text
            );
            // Items are walked only along an index or the id order that is the sort.
            if (step == "SCAN i" || step.starts_with("SCAN i ")) && !step.contains("INDEX") {
                assert!(
                    q.text.contains("ORDER BY i.id") || q.text.contains("count(*)"),
                    "full scan of items:\n{}\n{plan:#?}",
                    q.text
                );
            }
        }
    }
}

/// Lists `filter` in every order of `sorts` (pages both ways) and counts it every way the
/// browser and the CLI do.
fn run_every_query(conn: &Connection, f: &str, sorts: &[&str]) {
    let filter = Filter::parse(f).unwrap();
    for s in sorts {
        let mut q = Query {
            filter: filter.clone(),
            sort: s.parse().unwrap(),
            limit: 50,
            after: None,
        };
        let p = page(conn, &q, now()).unwrap();
        q.after = p.next;
        page(conn, &q, now()).unwrap();
        page_before(conn, &q, now()).unwrap();
        q.after = None;
        page_before(conn, &q, now()).unwrap();
    }
    count(conn, &filter, now()).unwrap();
    count_upto(conn, &filter, now(), 100).unwrap();
    count_by_status(conn, &filter, now(), None).unwrap();
    count_by_status(conn, &filter, now(), Some(100)).unwrap();
}

/// The query that lists `filter` sorted by `sort` (a page of 20), and its plan.
fn list_plan(conn: &Connection, filter: &str, sort: &str) -> (Sql, Vec<String>) {
    let q = Query {
        filter: Filter::parse(filter).unwrap(),
        sort: sort.parse().unwrap(),
        limit: 20,
        after: None,
    };
    let listed = asked(|| {
        page(conn, &q, now()).unwrap();
    });
    let list = listed.last().unwrap().clone();
    let plan = plan_of(conn, &list);
    (list, plan)
}

/// The queries `f` runs; the one that answers comes after those that plan it.
fn asked(f: impl FnOnce()) -> Vec<Sql> {
    LOG.with(|l| l.borrow_mut().clear());
    f();
    LOG.with(|l| l.borrow_mut().split_off(0))
}

#[test]
fn status_and_attribute_walk_the_sort_index_and_count_from_the_attribute() {
    // Neither predicate is selective (the tests' threshold is 3 rows); the attribute
    // matches a smaller share (a third) than the status (a half).
    let (_d, conn) = registry(&bulk(600));
    let (list, plan) = list_plan(&conn, "status:ready project=gamma", "-created");
    // Items newest first along the index of the sort column, the other predicates
    // checked per row, no sort: the walk stops after the page.
    assert_eq!(plan[0], "SCAN i USING INDEX items_by_created", "{plan:#?}");
    assert!(
        plan.iter()
            .all(|s| !s.contains("TEMP B-TREE") && !s.contains("items_by_status")),
        "{}\n{plan:#?}",
        list.text
    );

    let filter = Filter::parse("status:ready project=gamma").unwrap();
    let counted = asked(|| {
        count_upto(&conn, &filter, now(), 50).unwrap();
    });
    let count = counted.last().unwrap();
    let plan = plan_of(&conn, count);
    // Driven from the attribute's index entries, each item looked up by id for its
    // status; the status index is never the way in.
    assert_drives(&plan, "SEARCH d USING COVERING INDEX attrs_lookup", count);
    assert!(
        plan.iter().all(|s| !s.contains("items_by_status")),
        "{plan:#?}"
    );
}

#[test]
fn attribute_sort_under_attribute_filters_reads_attribute_indexes_alone() {
    let (_d, conn) = registry(&bulk(600));
    let (list, plan) = list_plan(&conn, "project=gamma | batch<3", "-attr.score");
    assert!(
        plan[0].starts_with("SEARCH s USING COVERING INDEX attrs_lookup"),
        "{}\n{plan:#?}",
        list.text
    );
    // No step on the items table (`SCAN i`, `SEARCH i …`).
    assert!(
        plan.iter()
            .all(|s| s.split_whitespace().nth(1) != Some("i") && !s.contains("TEMP B-TREE")),
        "{}\n{plan:#?}",
        list.text
    );
}

#[test]
fn two_statuses_match_nothing_without_a_query() {
    let (_d, conn) = registry(&bulk(60));
    for f in ["status:ready status:failed", "status:stale status:ready"] {
        let filter = Filter::parse(f).unwrap();
        let queries = asked(|| {
            assert_eq!(count(&conn, &filter, now()).unwrap(), 0);
            assert!(
                page(
                    &conn,
                    &Query {
                        filter: filter.clone(),
                        ..Query::default()
                    },
                    now()
                )
                .unwrap()
                .ids
                .is_empty()
            );
        });
        assert!(queries.is_empty(), "{f}: {queries:#?}");
    }
}

#[test]
fn searches_look_their_candidates_up_in_the_trigram_index() {
    let (_d, conn) = registry(&bulk(600));
    for (f, sort) in [
        ("item423", "-created"),
        ("uri~m423.", "id"),
        ("em423 batch=23", "-id"),
    ] {
        let (list, plan) = list_plan(&conn, f, sort);
        // The index's matches and the items it does not cover yet, each item looked up
        // by id.
        assert_drives(&plan, "SCAN item_text VIRTUAL TABLE INDEX", &list);
        let q = Query {
            filter: Filter::parse(f).unwrap(),
            sort: sort.parse().unwrap(),
            ..Query::default()
        };
        assert_eq!(page(&conn, &q, now()).unwrap().ids, [423], "{f}");
    }
    // A short word in no item's text: the index says so, and nothing is read.
    let filter = Filter::parse("zq").unwrap();
    let queries = asked(|| {
        assert_eq!(count(&conn, &filter, now()).unwrap(), 0);
        assert_eq!(
            count_by_status(&conn, &filter, now(), None).unwrap().all.n,
            0
        );
    });
    assert!(queries.is_empty(), "{queries:#?}");
}

#[test]
#[ignore = "prints query plans for inspection"]
fn print_plans() {
    let (_d, conn) = registry(&bulk(3000));
    let f = std::env::var("PLAN_FILTER").unwrap_or_default();
    let s = std::env::var("PLAN_SORT").unwrap_or("id".into());
    let filter = Filter::parse(&f).unwrap();
    let q = Query {
        filter: filter.clone(),
        sort: s.parse().unwrap(),
        limit: 100,
        after: None,
    };
    let queries = asked(|| {
        page(&conn, &q, now()).unwrap();
        count_upto(&conn, &filter, now(), 100).unwrap();
        count(&conn, &filter, now()).unwrap();
        count_by_status(&conn, &filter, now(), Some(100)).unwrap();
    });
    for q in queries {
        println!("{}\n  {:?}", q.text, plan_of(&conn, &q));
    }
}

#[test]
fn pages_read_at_once_are_the_pages_read_one_by_one() {
    let (_d, conn) = registry(&bulk(60));
    for sort in ["id", "-created", "-attr.score"] {
        let mut q = Query {
            limit: 7,
            sort: sort.parse().unwrap(),
            ..Query::default()
        };
        let at_once = super::pages(&conn, &q, 100, now()).unwrap();
        let mut one_by_one = Vec::new();
        loop {
            let p = page(&conn, &q, now()).unwrap();
            q.after.clone_from(&p.next);
            one_by_one.push(p);
            if q.after.is_none() {
                break;
            }
        }
        assert!(one_by_one.len() > 2, "{sort}: several pages");
        assert_eq!(at_once, one_by_one, "{sort}");
        q.after = None;
        assert_eq!(super::pages(&conn, &q, 2, now()).unwrap(), one_by_one[..2]);
    }
    // Planned once: sizing the filter's ways in is not repeated for every page.
    let q = Query {
        filter: Filter::parse("status:ready project=gamma").unwrap(),
        limit: 1,
        ..Query::default()
    };
    let one = asked(|| {
        page(&conn, &q, now()).unwrap();
    });
    assert!(one.len() > 1, "sized, then listed: {one:#?}");
    let five = asked(|| {
        assert_eq!(super::pages(&conn, &q, 5, now()).unwrap().len(), 5);
    });
    assert_eq!(five.len(), one.len() + 4);
}

/// The newest versions, listed in id order or counted, are read from their marks' index
/// (schema 11) rather than from every item, superseded versions and all.
#[test]
fn the_newest_versions_are_read_from_their_marks() {
    let (_d, conn) = registry(&bulk(600));
    let (list, plan) = list_plan(&conn, "version=latest", "id");
    assert!(
        has_step(&plan, "SCAN i USING INDEX items_latest"),
        "{}\n{plan:#?}",
        list.text
    );
    let filter = Filter::parse("version=latest").unwrap();
    let counted = asked(|| {
        count(&conn, &filter, now()).unwrap();
    });
    let plan = plan_of(&conn, counted.last().unwrap());
    assert!(
        has_step(&plan, "SCAN i USING INDEX items_latest"),
        "{plan:#?}"
    );
}
