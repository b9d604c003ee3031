//! Sort orders, cursors and keyset pagination.
//!
//! Every order is total: (sort value, id). Items without a value (a NULL column, a missing
//! attribute) come last in both directions, ordered by id. A page is fetched in at most
//! two index-ordered queries — items with a value, then items without — and a cursor is
//! the last row's (value, id), so pages stay stable while rows are added or removed.

use std::fmt;
use std::str::FromStr;

use rusqlite::Connection;
use rusqlite::types::Value;

use super::ast::{Col, Scope};
use super::sql::{Sql, cond, types_sql};
use super::typecheck::{Cond, db_err};
use super::value::SqlVal;
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

/// Up to `limit` rows `(id, sort value)` matching `c` in the order of `spec`, after
/// `after`. `sort_types` are the catalogue types of an attribute sort key.
pub(crate) fn rows(
    conn: &Connection,
    c: &Cond,
    spec: &SortSpec,
    sort_types: &[AttrType],
    after: Option<&Cursor>,
    limit: usize,
) -> Result<Vec<(i64, Option<SqlVal>)>> {
    let dir = if spec.desc { "DESC" } else { "ASC" };
    let cmp = if spec.desc { "<" } else { ">" };
    let mut out = Vec::new();
    let after_value = after.filter(|a| a.val.is_some());
    let in_nulls = after.is_some_and(|a| a.val.is_none());

    // Phase 1: rows that have a value, in value order.
    let phase1: Option<Sql> = match &spec.key {
        SortKey::Col(Col::Id) => None,
        _ if in_nulls => None,
        SortKey::Col(col) => {
            let e = format!("i.{}", col.name());
            let mut q = Sql::default();
            q.push("SELECT i.id, ")
                .push(&e)
                .push(" FROM items i WHERE ");
            cond(c, &mut q);
            if col.nullable() {
                q.push(" AND ").push(&e).push(" IS NOT NULL");
            }
            if let Some(a) = after_value {
                keyset(&mut q, &e, "i.id", cmp, a);
            }
            q.push(&format!(" ORDER BY {e} {dir}, i.id {dir} LIMIT "));
            Some(q)
        }
        SortKey::Attr(_, _) if sort_types.is_empty() => None,
        SortKey::Attr(scope, name) => {
            let mut q = Sql::default();
            q.push("SELECT i.id, s.value FROM ")
                .push(scope.table())
                .push(" s JOIN items i ON i.id = s.item_id WHERE s.name = ")
                .param(SqlVal::Text(name.clone()))
                .push(" AND s.type");
            types_sql(sort_types, &mut q);
            q.push(" AND ");
            cond(c, &mut q);
            if let Some(a) = after_value {
                keyset(&mut q, "s.value", "s.item_id", cmp, a);
            }
            q.push(&format!(" ORDER BY s.value {dir}, s.item_id {dir} LIMIT "));
            Some(q)
        }
    };
    if let Some(mut q) = phase1 {
        q.param(SqlVal::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
        fetch(conn, &q, &mut out)?;
        if out.len() >= limit {
            return Ok(out);
        }
    }

    // Phase 2: rows without a value, by id.
    let mut q = Sql::default();
    q.push("SELECT i.id, NULL FROM items i WHERE ");
    cond(c, &mut q);
    match &spec.key {
        SortKey::Col(Col::Id) => {}
        SortKey::Col(col) if col.nullable() => {
            q.push(" AND i.").push(col.name()).push(" IS NULL");
        }
        SortKey::Col(_) => return Ok(out),
        SortKey::Attr(scope, name) => {
            q.push(" AND NOT EXISTS (SELECT 1 FROM ")
                .push(scope.table())
                .push(" s WHERE s.item_id = i.id AND s.name = ")
                .param(SqlVal::Text(name.clone()))
                .push(")");
        }
    }
    if let Some(a) = after.filter(|a| a.val.is_none()) {
        q.push(" AND i.id ")
            .push(cmp)
            .push(" ")
            .param(SqlVal::Int(a.id));
    }
    q.push(&format!(" ORDER BY i.id {dir} LIMIT "));
    q.param(SqlVal::Int(
        i64::try_from(limit - out.len()).unwrap_or(i64::MAX),
    ));
    fetch(conn, &q, &mut out)?;
    Ok(out)
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

fn fetch(conn: &Connection, q: &Sql, out: &mut Vec<(i64, Option<SqlVal>)>) -> Result<()> {
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
