//! The filter language: find items by status, typed attributes, params, size, age and
//! name, answered by the registry's indexes.
//!
//! ```text
//! status:ready,stale  project=alpha  batch>=2  score<0.9  when>2026-01-01  ok=true
//! name~glob*  name~sub  has:attr  param.release=3  uri~x  label~x  size>1GB
//! created<7d  accessed>30d  key:ab12  version=latest  pinned
//! a b (AND)   a | b, a or b   !a, not a   ( … )   bare words   "quoted words"
//! ```
//!
//! [`Filter::parse`] needs no registry; [`check`], [`page`], [`count`] and
//! [`count_by_status`] type-check it against the registry's attribute catalogue and run it
//! as parameterised SQL.

mod ast;
mod holding;
mod lex;
mod names;
mod parse;
mod plan;
mod planned;
mod sort;
mod sql;
mod suggest;
mod text;
mod typecheck;
mod value;
mod words;

#[cfg(test)]
mod difftest;
#[cfg(test)]
mod eval;
#[cfg(test)]
mod plantest;
#[cfg(test)]
pub(crate) mod tests;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rusqlite::Connection;

pub use ast::{Col, Scope};
pub use names::{attribute_names, check_attr, check_attr_types, check_column, check_sort};
pub use sort::{Cursor, SortKey, SortSpec};
pub use suggest::is_builtin_name;
pub use words::{Word, words};

use ast::{Node, StatusSel, Term};
use plan::{Goal, Planner};
use sql::{Sql, attr_rows};
use suggest::hints;
use typecheck::{Catalogue, Cond, Resolver, db_err, simplify};
use value::SqlVal;

use crate::error::{Error, Result};
use crate::status::Status;

/// A parsed filter. The empty filter matches every item.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    text: String,
    node: Node,
}

impl Filter {
    /// Parses `input`. Errors are [`Error::Filter`], pointing at the problem.
    pub fn parse(input: &str) -> Result<Filter> {
        Ok(Filter {
            text: input.to_string(),
            node: parse::parse(input)?,
        })
    }

    /// The filter that matches every item.
    pub fn all() -> Filter {
        Filter {
            text: String::new(),
            node: Node::And(Vec::new()),
        }
    }

    /// The text it was parsed from.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether it matches every item.
    pub fn is_all(&self) -> bool {
        matches!(&self.node, Node::And(v) if v.is_empty())
    }

    /// Whether what it matches can change with no change to the registry, as time passes:
    /// it compares an age (`created<7d`, or an attribute's `when>2h`) or asks for stale
    /// writes. (Its counts by status change as leases expire too: see [`leases_expired`].)
    pub fn depends_on_time(&self) -> bool {
        self.node.depends_on_time()
    }

    /// This filter, further restricted to the items of one status tab.
    pub fn restrict(&self, tab: Tab) -> Filter {
        let sel = match tab {
            Tab::All => return self.clone(),
            Tab::Status(s) => StatusSel::Is(s),
            Tab::Stale => StatusSel::Stale,
        };
        Filter {
            text: self.text.clone(),
            node: Node::And(vec![self.node.clone(), Node::Term(Term::Status(sel))]),
        }
    }
}

impl Default for Filter {
    fn default() -> Self {
        Filter::all()
    }
}

impl FromStr for Filter {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Filter::parse(s)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The filter language in brief, for `--help` (the CLI's commands that take a filter).
pub const SYNTAX: &str = "\
Filters:
  Terms are joined with spaces (and); `a | b` or `a or b` is either, `!a` or `not a` is
  not, ( ) groups. Quote what holds spaces or operators: label=\"best model\".

  status:ready,stale          a status (ready, write, failed, trash, uninitialized, stale)
  rows>=1200  score<0.9       an attribute (attr.NAME in full), compared as its type
  param.release=3             a param
  uri~*weather*.csv  !~       a glob (* and ?) on text: uri, label, filename, note
  size>1GB  created<7d        sizes (512, 10MB, 2GiB); ages (90s 30m 12h 7d 2w 1y)
  created>=2026-01-01         a day, or an instant (2026-01-01T06:00:00Z)
  key:3f9a  sha256:ab12       a hex prefix
  version=latest  pinned      the newest version of each key; pinned items
  has:rows  !has:rows         an attribute (or a field, has:label) is set, or not
  weights                     a bare word or \"phrase\": in the uri, label or file name

  Fields: id key version uri status label filename size sha256 created updated accessed
  pinned note. Operators: = != < <= > >= ~ !~ and : (status, has, prefixes); a,b for
  any of several values.";

/// The TUI's status tabs. `Stale` is the WRITE items whose lease has expired, so it is a
/// part of `Status(Write)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tab {
    All,
    Status(Status),
    Stale,
}

/// Something worth telling the user about a filter that is not an error: a name that
/// matches nothing, with a suggestion. `pos` is a character index into the filter text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub pos: usize,
    pub message: String,
}

/// One page request.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub filter: Filter,
    pub sort: SortSpec,
    /// At most this many ids (0 is taken as 1).
    pub limit: usize,
    /// Continue after this cursor (from a previous [`Page::next`]).
    pub after: Option<Cursor>,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            filter: Filter::all(),
            sort: SortSpec::default(),
            limit: 100,
            after: None,
        }
    }
}

/// Item ids in order, and the cursor for the next page when there may be one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub ids: Vec<i64>,
    pub next: Option<Cursor>,
}

/// The page of a listing that holds an item (see [`page_holding`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Holding {
    /// How many rows come before the item: its page is `position / limit`.
    pub position: u64,
    /// The page's ids in order, the item's among them.
    pub ids: Vec<i64>,
    /// Where the page starts (the cursor of the row before it); none for the first page.
    pub start: Option<Cursor>,
    /// Where the next page starts, when the listing goes on.
    pub next: Option<Cursor>,
}

/// A count that stopped at a cap: `n` items, or at least `n` when not `exact`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Count {
    pub n: u64,
    pub exact: bool,
}

impl fmt::Display for Count {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.n, if self.exact { "" } else { "+" })
    }
}

/// Counts for the TUI's tabs under one filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatusCounts {
    pub all: Count,
    pub uninitialized: Count,
    pub write: Count,
    pub ready: Count,
    pub failed: Count,
    pub trash: Count,
    /// WRITE items whose lease expired (also counted in `write`).
    pub stale: Count,
}

impl StatusCounts {
    /// The count shown on `tab`.
    pub fn get(&self, tab: Tab) -> Count {
        match tab {
            Tab::All => self.all,
            Tab::Status(Status::Uninitialized) => self.uninitialized,
            Tab::Status(Status::Write) => self.write,
            Tab::Status(Status::Ready) => self.ready,
            Tab::Status(Status::Failed) => self.failed,
            Tab::Status(Status::Trash) => self.trash,
            Tab::Stale => self.stale,
        }
    }
}

/// Type-checks `filter` against the registry: the error a bad value would give, or the
/// notices (names that match nothing).
pub fn check(conn: &Connection, filter: &Filter) -> Result<Vec<Notice>> {
    let mut r = resolver(conn, filter, Utc::now());
    r.resolve(&filter.node)?;
    hints(&r.cat, &filter.text, &r.unknown)
}

/// One page of item ids matching `q.filter`, in `q.sort` order, after `q.after`.
pub fn page(conn: &Connection, q: &Query, now: DateTime<Utc>) -> Result<Page> {
    sort::page(conn, q, now, false)
}

/// Up to `n` consecutive pages of `q` from `q.after`, fewer when the listing ends, with
/// the filter planned once for all of them (a jump far down a long list).
pub fn pages(conn: &Connection, q: &Query, n: usize, now: DateTime<Utc>) -> Result<Vec<Page>> {
    sort::pages(conn, q, now, false, n)
}

/// The same listing read backwards: up to `q.limit` ids of the rows before `q.after`
/// (before the end when `None`), nearest first. `next` continues backwards from the
/// farthest row; like every cursor it also continues forwards (the rows after it). Not
/// the same as flipping `q.sort.desc`, which keeps rows without a value last.
pub fn page_before(conn: &Connection, q: &Query, now: DateTime<Utc>) -> Result<Page> {
    sort::page(conn, q, now, true)
}

/// The page of `q`'s listing that holds item `id`, the listing cut into pages of
/// `q.limit` rows from its start, and where the item stands in it: to show an item again
/// in place after the order changed. `None` when the listing does not hold the item.
pub fn page_holding(
    conn: &Connection,
    q: &Query,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Option<Holding>> {
    holding::page_holding(conn, q, id, now)
}

/// The exact number of items matching `filter`.
pub fn count(conn: &Connection, filter: &Filter, now: DateTime<Utc>) -> Result<u64> {
    read(conn, |conn| {
        let c = prepare(conn, filter, now)?;
        Ok(count_cond(conn, &mut Planner::new(conn), &c, None)?.n)
    })
}

/// The number of items matching `filter`, counting no further than `cap`.
pub fn count_upto(
    conn: &Connection,
    filter: &Filter,
    now: DateTime<Utc>,
    cap: u64,
) -> Result<Count> {
    read(conn, |conn| {
        let c = prepare(conn, filter, now)?;
        count_cond(conn, &mut Planner::new(conn), &c, Some(cap))
    })
}

/// Whether the lease of a WRITE item ran out in `[since, until)` (stale at `until`, not at
/// `since`): the one change of
/// [`count_by_status`]'s figures that time makes by itself under a filter that does not
/// [depend on time](Filter::depends_on_time). One step down the lease index.
pub fn leases_expired(
    conn: &Connection,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM items WHERE status = 'WRITE'
                        AND lease_expires >= ?1 AND lease_expires < ?2)",
    )
    .and_then(|mut st| {
        st.query_row([since.timestamp_millis(), until.timestamp_millis()], |r| {
            r.get(0)
        })
    })
    .map_err(db_err(conn, "looking for expired leases"))
}

/// Counts per status tab under `filter`; exact when `cap` is `None`, else each count stops
/// at `cap` (cheap whatever the registry's size).
pub fn count_by_status(
    conn: &Connection,
    filter: &Filter,
    now: DateTime<Utc>,
    cap: Option<u64>,
) -> Result<StatusCounts> {
    read(conn, |conn| {
        let c = prepare(conn, filter, now)?;
        let mut planner = Planner::new(conn);
        let with = |extra: Cond| simplify(Cond::And(vec![c.clone(), extra]));
        let mut out = StatusCounts {
            stale: count_cond(
                conn,
                &mut planner,
                &with(Cond::Stale(now.timestamp_millis())),
                cap,
            )?,
            ..StatusCounts::default()
        };
        if cap.is_none() {
            let p = planner.plan(&c, Goal::Count { capped: false })?;
            if !p.is_false() {
                let mut q = Sql::default();
                q.push("SELECT i.status, count(*)");
                p.write_from(None, &mut q);
                q.push(" GROUP BY i.status");
                sql::log(&q);
                let err = db_err(conn, "counting items");
                let mut stmt = conn.prepare_cached(&q.text).map_err(&err)?;
                let mut rows = stmt.query(q.params()).map_err(&err)?;
                while let Some(row) = rows.next().map_err(&err)? {
                    let status: String = row.get(0).map_err(&err)?;
                    let n: i64 = row.get(1).map_err(&err)?;
                    let n = Count {
                        n: u64::try_from(n).unwrap_or(0),
                        exact: true,
                    };
                    if let Ok(s) = status.parse::<Status>() {
                        *slot(&mut out, s) = n;
                    }
                }
            }
            let total = [
                out.uninitialized,
                out.write,
                out.ready,
                out.failed,
                out.trash,
            ]
            .iter()
            .map(|c| c.n)
            .sum();
            out.all = Count {
                n: total,
                exact: true,
            };
            for s in Status::ALL {
                slot(&mut out, s).exact = true;
            }
        } else {
            out.all = count_cond(conn, &mut planner, &c, cap)?;
            for s in Status::ALL {
                *slot(&mut out, s) = count_cond(conn, &mut planner, &with(Cond::Status(s)), cap)?;
            }
        }
        Ok(out)
    })
}

fn slot(out: &mut StatusCounts, s: Status) -> &mut Count {
    match s {
        Status::Uninitialized => &mut out.uninitialized,
        Status::Write => &mut out.write,
        Status::Ready => &mut out.ready,
        Status::Failed => &mut out.failed,
        Status::Trash => &mut out.trash,
    }
}

fn resolver<'a, 'c>(
    conn: &'c Connection,
    filter: &'a Filter,
    now: DateTime<Utc>,
) -> Resolver<'a, 'c> {
    Resolver {
        input: &filter.text,
        cat: Catalogue::new(conn),
        now_us: now.timestamp_micros(),
        unknown: Vec::new(),
    }
}

/// The typed, simplified condition for `filter`.
pub(crate) fn prepare(conn: &Connection, filter: &Filter, now: DateTime<Utc>) -> Result<Cond> {
    let mut r = resolver(conn, filter, now);
    let c = r.resolve(&filter.node)?;
    Ok(simplify(c))
}

/// The typed condition exactly as written, for the differential test to evaluate.
#[cfg(test)]
pub(crate) fn resolve_as_written(
    conn: &Connection,
    filter: &Filter,
    now: DateTime<Utc>,
) -> Result<Cond> {
    resolver(conn, filter, now).resolve(&filter.node)
}

/// The number of items matching `c`, counting no further than `cap` when given.
fn count_cond(
    conn: &Connection,
    planner: &mut Planner<'_>,
    c: &Cond,
    cap: Option<u64>,
) -> Result<Count> {
    let p = planner.plan(
        c,
        Goal::Count {
            capped: cap.is_some(),
        },
    )?;
    if p.is_false() {
        return Ok(Count { n: 0, exact: true });
    }
    let mut q = Sql::default();
    q.push("SELECT count(*)");
    if cap.is_some() {
        q.push(" FROM (SELECT 1");
    }
    match p.only_attr() {
        // One attribute predicate: count its index entries, never touching items.
        Some(a) => {
            q.push(" FROM ").push(a.scope.table()).push(" a WHERE ");
            attr_rows(a, "a", &mut q);
        }
        None => p.write_from(None, &mut q),
    }
    if let Some(cap) = cap {
        q.push(" LIMIT ")
            .param(SqlVal::Int(
                i64::try_from(cap.saturating_add(1)).unwrap_or(i64::MAX),
            ))
            .push(")");
    }
    sql::log(&q);
    let err = db_err(conn, "counting items");
    let n: i64 = conn
        .prepare_cached(&q.text)
        .and_then(|mut s| s.query_row(q.params(), |r| r.get(0)))
        .map_err(err)?;
    let n = u64::try_from(n).unwrap_or(0);
    Ok(match cap {
        Some(cap) if n > cap => Count {
            n: cap,
            exact: false,
        },
        _ => Count { n, exact: true },
    })
}

/// Runs `f` in one read transaction (one snapshot) unless the caller already has one open.
fn read<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    if !conn.is_autocommit() {
        return f(conn);
    }
    let tx = conn
        .unchecked_transaction()
        .map_err(db_err(conn, "starting a read"))?;
    let out = f(&tx)?;
    tx.finish().map_err(db_err(conn, "ending a read"))?;
    Ok(out)
}
