//! The data source: every registry query the browser runs. It lives on the worker
//! thread, on the worker's own [`Cache`] (SQLite connections are per thread), and is the
//! one place that knows how a list is ordered, paged and counted.
//!
//! Lists are read by keyset pagination: a page is the next `limit` ids after a
//! [`Cursor`] (the last row's sort value and id), so a page costs the same at row 10 and
//! at row 900 000, and nothing ever reads the whole registry.

use anyhow::{Context, Result};
use cachet::{Cache, Item, Status};
use chrono::{DateTime, Utc};
use rusqlite::types::Value;

use super::model::{Counts, ListQuery, SortCol, Tab};

/// Where a page continues: the sort value and id of the row before it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    val: Value,
    id: i64,
}

/// Ids of one page and the cursor after its last row (none when it is the last page).
pub struct IdPage {
    pub ids: Vec<i64>,
    pub next: Option<Cursor>,
}

/// The worker side of the browser: one cache, opened on the worker thread.
pub struct Source {
    cache: Cache,
}

impl Source {
    pub fn new(cache: Cache) -> Source {
        Source { cache }
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Exact counts for every tab.
    pub fn counts(&self, now: DateTime<Utc>) -> Result<Counts> {
        let conn = &self.cache.registry().db().conn;
        let mut counts = Counts::default();
        let mut st = conn
            .prepare_cached("SELECT status, count(*) FROM items GROUP BY status")
            .context("counting items")?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .context("counting items")?;
        for row in rows {
            let (status, n) = row.context("counting items")?;
            let n = n.max(0) as u64;
            counts.all += n;
            if let Ok(status) = status.parse::<Status>()
                && let Some(tab) = Tab::of_status(status)
            {
                *counts.get_mut(tab) += n;
            }
        }
        counts.stale = conn
            .prepare_cached(&format!(
                "SELECT count(*) FROM items WHERE {}",
                stale_sql(now)
            ))
            .and_then(|mut st| st.query_row([], |r| r.get::<_, i64>(0)))
            .context("counting stale writes")?
            .max(0) as u64;
        Ok(counts)
    }

    /// One page of ids for `query`, after `after`.
    pub fn page(
        &self,
        query: &ListQuery,
        after: Option<&Cursor>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<IdPage> {
        let limit = limit.max(1);
        let rows = self.keyset(query, after, limit, now)?;
        let next = match rows.last() {
            Some((id, val)) if rows.len() >= limit => Some(Cursor {
                val: val.clone(),
                id: *id,
            }),
            _ => None,
        };
        Ok(IdPage {
            ids: rows.into_iter().map(|(id, _)| id).collect(),
            next,
        })
    }

    /// Skips `pages` pages of `page_len` rows after `after` without loading them, and
    /// returns the cursor where each following page starts (fewer when the list ends).
    /// Reads ids and sort values only, many pages per query.
    pub fn skip(
        &self,
        query: &ListQuery,
        after: Option<&Cursor>,
        pages: usize,
        page_len: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Cursor>> {
        const PAGES_PER_QUERY: usize = 64;
        let mut out: Vec<Cursor> = Vec::with_capacity(pages);
        let mut after = after.cloned();
        while out.len() < pages {
            let want = (pages - out.len()).min(PAGES_PER_QUERY);
            let rows = self.keyset(query, after.as_ref(), want * page_len, now)?;
            let full = rows.len() / page_len;
            for chunk in 1..=full {
                let (id, val) = &rows[chunk * page_len - 1];
                out.push(Cursor {
                    val: val.clone(),
                    id: *id,
                });
            }
            if full < want {
                break;
            }
            after = out.last().cloned();
        }
        Ok(out)
    }

    /// The page that ends with the row `next` names (the row itself included), and the
    /// cursor where that page starts (none when it is the first page). Ids in order.
    pub fn before(
        &self,
        query: &ListQuery,
        next: &Cursor,
        page_len: usize,
        now: DateTime<Utc>,
    ) -> Result<(Vec<i64>, Option<Cursor>)> {
        let rows = self.keyset_dir(query, Some(next), page_len + 1, now, true, true)?;
        Ok(reversed_page(rows, page_len))
    }

    /// The last `rows` rows, and the cursor where they start. Ids in order.
    pub fn tail(
        &self,
        query: &ListQuery,
        rows: usize,
        now: DateTime<Utc>,
    ) -> Result<(Vec<i64>, Option<Cursor>)> {
        let found = self.keyset_dir(query, None, rows + 1, now, true, false)?;
        Ok(reversed_page(found, rows))
    }

    /// Ids and sort values of the `limit` rows after `after`, in order.
    fn keyset(
        &self,
        query: &ListQuery,
        after: Option<&Cursor>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<(i64, Value)>> {
        self.keyset_dir(query, after, limit, now, false, false)
    }

    /// Rows after `bound` in the list's order, or before it going backwards (`reverse`),
    /// the bound row itself included when `inclusive`.
    fn keyset_dir(
        &self,
        query: &ListQuery,
        after: Option<&Cursor>,
        limit: usize,
        now: DateTime<Utc>,
        reverse: bool,
        inclusive: bool,
    ) -> Result<Vec<(i64, Value)>> {
        let expr = sort_expr(&query.sort.col);
        // A younger item has a larger `created`: ascending age is descending time.
        let desc = (query.sort.desc != matches!(query.sort.col, SortCol::Age)) != reverse;
        let (cmp, dir) = if desc { ("<", "DESC") } else { (">", "ASC") };
        let id_cmp = if inclusive {
            format!("{cmp}=")
        } else {
            cmp.to_string()
        };
        let mut sql = format!(
            "SELECT id, {expr} FROM items WHERE {}",
            tab_sql(query.tab, now)
        );
        let mut params: Vec<Value> = Vec::new();
        if let Some(c) = after {
            sql.push_str(&format!(
                " AND ({expr} {cmp} ?1 OR ({expr} = ?1 AND id {id_cmp} ?2))"
            ));
            params.push(c.val.clone());
            params.push(Value::Integer(c.id));
        }
        sql.push_str(&format!(" ORDER BY {expr} {dir}, id {dir} LIMIT {limit}"));
        let conn = &self.cache.registry().db().conn;
        let mut st = conn.prepare_cached(&sql).context("listing items")?;
        st.query_map(rusqlite::params_from_iter(params), |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Value>(1)?))
        })
        .context("listing items")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .context("listing items")
    }

    /// Attribute names and their types, from the registry's catalogue, by name.
    pub fn attr_names(&self) -> Result<Vec<(String, String)>> {
        let conn = &self.cache.registry().db().conn;
        let mut st = conn
            .prepare_cached("SELECT name, type FROM attr_names WHERE scope = 0 ORDER BY name, type")
            .context("reading attribute names")?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .context("reading attribute names")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .context("reading attribute names")?;
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, code) in rows {
            let kind = cachet::AttrType::from_code(code).map_or("?", |t| t.as_str());
            match out.last_mut() {
                // One name with values of several types: list the types together.
                Some((last, types)) if *last == name => {
                    types.push('|');
                    types.push_str(kind);
                }
                _ => out.push((name, kind.to_string())),
            }
        }
        Ok(out)
    }

    /// The items with these ids, in order.
    pub fn items(&self, ids: &[i64]) -> Result<Vec<Item>> {
        Ok(self.cache.get_many(ids)?)
    }
}

/// Rows read backwards: the first `len` (in list order) and the cursor before them.
fn reversed_page(mut rows: Vec<(i64, Value)>, len: usize) -> (Vec<i64>, Option<Cursor>) {
    let start = if rows.len() > len {
        rows.pop().map(|(id, val)| Cursor { val, id })
    } else {
        None
    };
    (rows.into_iter().rev().map(|(id, _)| id).collect(), start)
}

/// The SQL condition for one tab. Status names come from the enum, never from input.
fn tab_sql(tab: Tab, now: DateTime<Utc>) -> String {
    match tab {
        Tab::All => "1".to_string(),
        Tab::Stale => stale_sql(now),
        other => match other.status() {
            Some(s) => format!("status = '{}'", s.as_str()),
            None => "1".to_string(),
        },
    }
}

fn stale_sql(now: DateTime<Utc>) -> String {
    format!(
        "status = 'WRITE' AND (lease_expires IS NULL OR lease_expires < {})",
        now.timestamp_millis()
    )
}

/// The expression a list is ordered by; NULL sizes sort as -1 so the order is total.
fn sort_expr(col: &SortCol) -> &'static str {
    match col {
        SortCol::Id => "id",
        SortCol::Name => "uri",
        SortCol::Version => "version",
        SortCol::Status => "status",
        SortCol::Size => "coalesce(size, -1)",
        SortCol::Age => "created",
    }
}
