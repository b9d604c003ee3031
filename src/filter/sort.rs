//! Sort orders, cursors and keyset pagination.
//!
//! Every order is total: (sort value, id). Items without a value (a NULL column, a missing
//! attribute) come last in both directions, ordered by id. A page is fetched in at most
//! two index-ordered queries — items with a value, then items without — and a cursor is
//! the last row's (value, id), so pages stay stable while rows are added or removed.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use rusqlite::types::Value;

use super::ast::{Col, Scope};
use super::plan::{Goal, Planned, Planner, SortAttr};
use super::sql::Sql;
use super::typecheck::{Catalogue, db_err};
use super::value::SqlVal;
use super::{Page, Query, prepare, read};
use crate::attr::{AttrType, validate_name};
use crate::error::{Error, Result};

/// What to sort by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// A built-in column.
    Col(Col),
    /// An attribute (or param) by name.
    Attr(Scope, String),
}

/// A sort key and direction. Parses from `created`, `-created` (descending),
/// `size:desc`, `attr.batch`, `param.release` or a bare attribute name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SortSpec {
    pub key: SortKey,
    pub desc: bool,
}

impl Default for SortSpec {
    /// Registry order: by id, ascending.
    fn default() -> Self {
        SortSpec {
            key: SortKey::Col(Col::Id),
            desc: false,
        }
    }
}

impl SortSpec {
    /// Sorts by `key` ascending.
    pub fn asc(key: SortKey) -> Self {
        SortSpec { key, desc: false }
    }

    /// Sorts by `key` descending.
    pub fn desc(key: SortKey) -> Self {
        SortSpec { key, desc: true }
    }
}

impl fmt::Display for SortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.desc {
            f.write_str("-")?;
        }
        match &self.key {
            SortKey::Col(c) => f.write_str(c.name()),
            SortKey::Attr(Scope::Attr, n) => write!(f, "attr.{n}"),
            SortKey::Attr(Scope::Param, n) => write!(f, "param.{n}"),
        }
    }
}

impl FromStr for SortSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        let (name, desc) = if let Some(rest) = s.strip_prefix('-') {
            (rest, true)
        } else if let Some(rest) = s.strip_suffix(":desc") {
            (rest, true)
        } else if let Some(rest) = s.strip_suffix(":asc") {
            (rest, false)
        } else {
            (s.strip_prefix('+').unwrap_or(s), false)
        };
        let key = if let Some(n) = name.strip_prefix("param.") {
            SortKey::Attr(Scope::Param, n.to_string())
        } else if let Some(n) = name.strip_prefix("attr.") {
            SortKey::Attr(Scope::Attr, n.to_string())
        } else if let Some(c) = Col::from_name(name) {
            SortKey::Col(c)
        } else {
            SortKey::Attr(Scope::Attr, name.to_string())
        };
        if let SortKey::Attr(_, n) = &key {
            validate_name(n).map_err(|_| {
                Error::invalid(
                    format!("sort '{s}'"),
                    "expected a built-in (id, created, size, …) or an attribute name, with - or :desc for descending",
                )
            })?;
        }
        Ok(SortSpec { key, desc })
    }
}

/// Where a page ended: pass it back to get the next page. Its text form (from `Display`,
/// read back with `FromStr`) is plain hex, safe on a command line (`--after CURSOR`).
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub(crate) sort: String,
    pub(crate) val: Option<SqlVal>,
    pub(crate) id: i64,
}

impl Cursor {
    /// The id of the last item of the page this cursor ends.
    pub fn id(&self) -> i64 {
        self.id
    }
}

const SEP: char = '\u{1f}';

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let val = match &self.val {
            None => "n".to_string(),
            Some(SqlVal::Int(i)) => format!("i{i}"),
            Some(SqlVal::Real(x)) => format!("r{:016x}", x.to_bits()),
            Some(SqlVal::Text(t)) => format!("t{t}"),
        };
        let raw = format!("c1{SEP}{}{SEP}{}{SEP}{val}", self.sort, self.id);
        for b in raw.bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl FromStr for Cursor {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::invalid(format!("cursor '{s}'"), "not a cursor printed by cachet");
        if !s.len().is_multiple_of(2) || !s.is_ascii() {
            return Err(bad());
        }
        let bytes = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16))
            .collect::<std::result::Result<Vec<u8>, _>>()
            .map_err(|_| bad())?;
        let raw = String::from_utf8(bytes).map_err(|_| bad())?;
        let mut parts = raw.splitn(4, SEP);
        let (Some("c1"), Some(sort), Some(id), Some(val)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let id: i64 = id.parse().map_err(|_| bad())?;
        let val = match val.split_at_checked(1) {
            Some(("n", "")) => None,
            Some(("i", i)) => Some(SqlVal::Int(i.parse().map_err(|_| bad())?)),
            Some(("r", r)) => Some(SqlVal::Real(f64::from_bits(
                u64::from_str_radix(r, 16).map_err(|_| bad())?,
            ))),
            Some(("t", t)) => Some(SqlVal::Text(t.to_string())),
            _ => return Err(bad()),
        };
        Ok(Cursor {
            sort: sort.to_string(),
            val,
            id,
        })
    }
}

/// One page of `q`, read forwards after `q.after` or, with `back`, backwards before it
/// (nearest first). See [`super::page`] and [`super::page_before`].
pub(crate) fn page(conn: &Connection, q: &Query, now: DateTime<Utc>, back: bool) -> Result<Page> {
    let mut pages = pages(conn, q, now, back, 1)?;
    Ok(pages.pop().unwrap_or_default())
}

/// Up to `n` consecutive pages of `q` from `q.after` (fewer when the listing ends),
/// planned once: skipping many pages does not size the filter again for each.
pub(crate) fn pages(
    conn: &Connection,
    q: &Query,
    now: DateTime<Utc>,
    back: bool,
    n: usize,
) -> Result<Vec<Page>> {
    let sort_text = q.sort.to_string();
    if let Some(a) = &q.after
        && a.sort != sort_text
    {
        return Err(Error::invalid(
            "cursor",
            format!(
                "it continues a listing sorted by '{}', not '{sort_text}'",
                a.sort
            ),
        ));
    }
    let limit = q.limit.max(1);
    read(conn, |conn| {
        let (c, sort_types) = planned_listing(conn, q, now)?;
        let mut out = Vec::with_capacity(n.min(64));
        let mut after = q.after.clone();
        while out.len() < n {
            let bound = Bound {
                after: after.as_ref(),
                back,
            };
            let mut rows = rows(
                conn,
                &c,
                &q.sort,
                &sort_types,
                bound,
                limit.saturating_add(1),
            )?;
            let more = rows.len() > limit;
            rows.truncate(limit);
            let next = match rows.last() {
                Some((id, val)) if more => Some(Cursor {
                    sort: sort_text.clone(),
                    val: val.clone(),
                    id: *id,
                }),
                _ => None,
            };
            after.clone_from(&next);
            out.push(Page {
                ids: rows.into_iter().map(|(id, _)| id).collect(),
                next,
            });
            if after.is_none() {
                break;
            }
        }
        Ok(out)
    })
}

/// `q`'s filter planned for listing in its order, and the catalogue types of an attribute
/// sort key.
pub(super) fn planned_listing(
    conn: &Connection,
    q: &Query,
    now: DateTime<Utc>,
) -> Result<(Planned, Vec<AttrType>)> {
    let c = prepare(conn, &q.filter, now)?;
    let c = Planner::new(conn).plan(&c, Goal::List(&q.sort))?;
    let sort_types = match &q.sort.key {
        SortKey::Attr(scope, name) => Catalogue::new(conn).types(*scope, name)?,
        SortKey::Col(_) => Vec::new(),
    };
    Ok((c, sort_types))
}

/// Where a read starts: after the cursor's row, or before it when going `back`; from
/// the start (or, going back, the end) without one.
#[derive(Clone, Copy)]
pub(super) struct Bound<'a> {
    pub after: Option<&'a Cursor>,
    pub back: bool,
}

/// Up to `limit` rows `(id, sort value)` matching `c` in the order of `spec` from
/// `bound` (in reverse order when reading back). `sort_types` are the catalogue types of
/// an attribute sort key.
pub(super) fn rows(
    conn: &Connection,
    c: &Planned,
    spec: &SortSpec,
    sort_types: &[AttrType],
    bound: Bound<'_>,
    limit: usize,
) -> Result<Vec<(i64, Option<SqlVal>)>> {
    let mut out = Vec::new();
    for mut q in reads(c, spec, sort_types, bound, None) {
        if out.len() >= limit {
            break;
        }
        q.param(SqlVal::Int(
            i64::try_from(limit - out.len()).unwrap_or(i64::MAX),
        ));
        fetch(conn, &q, &mut out)?;
    }
    Ok(out)
}

/// The queries that read the rows matching `c` in the order of `spec` from `bound`, in
/// turn (rows with a sort value, rows without: reversed when reading back), each still
/// missing the value of its final `LIMIT`. With `only`, just that item's row.
pub(super) fn reads(
    c: &Planned,
    spec: &SortSpec,
    sort_types: &[AttrType],
    bound: Bound<'_>,
    only: Option<i64>,
) -> Vec<Sql> {
    // Reading back walks the same total order in reverse: nulls (by id) first, then
    // values, each in the opposite direction.
    let rev = spec.desc != bound.back;
    let dir = if rev { "DESC" } else { "ASC" };
    let cmp = if rev { "<" } else { ">" };
    let at_value = bound.after.filter(|a| a.val.is_some());
    let at_null = bound.after.filter(|a| a.val.is_none());
    let mut out = Vec::new();
    if c.is_false() {
        return out;
    }
    for nulls in [bound.back, !bound.back] {
        let q = if nulls {
            // No null comes before a row with a value.
            if bound.back && at_value.is_some() {
                continue;
            }
            null_rows(c, spec, at_null, (cmp, dir), only)
        } else {
            // No value comes after a row without one.
            if !bound.back && at_null.is_some() {
                continue;
            }
            value_rows(c, spec, sort_types, at_value, (cmp, dir), only)
        };
        out.extend(q);
    }
    out
}

/// Rows that have a sort value, in value order, past `at` (up to a `LIMIT` param).
fn value_rows(
    c: &Planned,
    spec: &SortSpec,
    sort_types: &[AttrType],
    at: Option<&Cursor>,
    (cmp, dir): (&str, &str),
    only: Option<i64>,
) -> Option<Sql> {
    // Sorted after the lead's rows are found: `+` keeps SQLite from walking the sort
    // index instead.
    let plus = if c.sorts_after(spec) { "+" } else { "" };
    match &spec.key {
        SortKey::Col(Col::Id) => None,
        SortKey::Col(col) => {
            let e = format!("{plus}i.{}", col.name());
            let mut q = Sql::default();
            q.push("SELECT i.id, i.").push(col.name());
            c.write_from(None, &mut q);
            if col.nullable() {
                q.push(" AND ").push(&e).push(" IS NOT NULL");
            }
            if let Some(id) = only {
                q.push(" AND i.id = ").param(SqlVal::Int(id));
            }
            if let Some(a) = at {
                keyset(&mut q, &e, "i.id", cmp, a);
            }
            q.push(&format!(" ORDER BY {e} {dir}, {plus}i.id {dir} LIMIT "));
            Some(q)
        }
        SortKey::Attr(_, _) if sort_types.is_empty() => None,
        SortKey::Attr(scope, name) => {
            let mut q = Sql::default();
            let id = if c.needs_items() { "i.id" } else { "s.item_id" };
            q.push("SELECT ").push(id).push(", s.value");
            let sort = SortAttr {
                scope: *scope,
                name,
                types: sort_types,
            };
            c.write_from(Some(sort), &mut q);
            if let Some(id) = only {
                q.push(" AND s.item_id = ").param(SqlVal::Int(id));
            }
            if let Some(a) = at {
                keyset(&mut q, "s.value", "s.item_id", cmp, a);
            }
            q.push(&format!(" ORDER BY s.value {dir}, s.item_id {dir} LIMIT "));
            Some(q)
        }
    }
}

/// Rows without a sort value, by id, past `at` (up to a `LIMIT` param).
fn null_rows(
    c: &Planned,
    spec: &SortSpec,
    at: Option<&Cursor>,
    (cmp, dir): (&str, &str),
    only: Option<i64>,
) -> Option<Sql> {
    let plus = if c.lead.is_some() { "+" } else { "" };
    let id = c.id_order();
    let mut q = Sql::default();
    q.push("SELECT i.id, NULL");
    c.write_from(None, &mut q);
    match &spec.key {
        SortKey::Col(Col::Id) => {}
        SortKey::Col(col) if col.nullable() => {
            q.push(" AND ")
                .push(plus)
                .push("i.")
                .push(col.name())
                .push(" IS NULL");
        }
        SortKey::Col(_) => return None,
        SortKey::Attr(scope, name) => {
            q.push(" AND NOT EXISTS (SELECT 1 FROM ")
                .push(scope.table())
                .push(" s WHERE s.item_id = i.id AND s.name = ")
                .param(SqlVal::Text(name.clone()))
                .push(")");
        }
    }
    if let Some(only) = only {
        q.push(" AND ")
            .push(id)
            .push(" = ")
            .param(SqlVal::Int(only));
    }
    if let Some(a) = at {
        q.push(" AND ")
            .push(id)
            .push(" ")
            .push(cmp)
            .push(" ")
            .param(SqlVal::Int(a.id));
    }
    q.push(&format!(" ORDER BY {id} {dir} LIMIT "));
    Some(q)
}

fn keyset(q: &mut Sql, value: &str, id: &str, cmp: &str, a: &Cursor) {
    if let Some(v) = &a.val {
        q.push(&format!(" AND ({value}, {id}) {cmp} ("))
            .param(v.clone())
            .push(", ")
            .param(SqlVal::Int(a.id))
            .push(")");
    }
}

pub(super) fn fetch(
    conn: &Connection,
    q: &Sql,
    out: &mut Vec<(i64, Option<SqlVal>)>,
) -> Result<()> {
    super::sql::log(q);
    let err = db_err(conn, "listing items");
    let mut stmt = conn.prepare_cached(&q.text).map_err(&err)?;
    let mut rows = stmt.query(q.params()).map_err(&err)?;
    while let Some(row) = rows.next().map_err(&err)? {
        let id: i64 = row.get(0).map_err(&err)?;
        let val = match row.get::<_, Value>(1).map_err(&err)? {
            Value::Integer(i) => Some(SqlVal::Int(i)),
            Value::Real(x) => Some(SqlVal::Real(x)),
            Value::Text(t) => Some(SqlVal::Text(t)),
            Value::Null | Value::Blob(_) => None,
        };
        out.push((id, val));
    }
    Ok(())
}
