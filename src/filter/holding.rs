//! Finding an item in a listing: the page that holds it, as paging from the listing's
//! start cuts it, without reading the rows before it (they are counted), so that the
//! browser can show an item again in place after the order, the tab or the filter changed.

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use super::plan::Planned;
use super::sort::{Bound, Cursor, SortSpec, fetch, planned_listing, reads, rows};
use super::sql::Sql;
use super::typecheck::db_err;
use super::value::SqlVal;
use super::{Holding, Query, read};
use crate::attr::AttrType;
use crate::error::Result;

/// The page of `q`'s listing that holds item `id`, the listing cut into pages of
/// `q.limit` rows from its start (`q.after` is not used). The rows before the item are
/// counted, not read: the page of a row far down a long listing costs a count and two
/// short reads. See [`super::page_holding`].
pub(crate) fn page_holding(
    conn: &Connection,
    q: &Query,
    id: i64,
    now: DateTime<Utc>,
) -> Result<Option<Holding>> {
    let sort_text = q.sort.to_string();
    let page_len = q.limit.max(1);
    read(conn, |conn| {
        let (c, sort_types) = planned_listing(conn, q, now)?;
        let cursor_at = |(id, val): (i64, Option<SqlVal>)| Cursor {
            sort: sort_text.clone(),
            val,
            id,
        };
        let from_start = Bound {
            after: None,
            back: false,
        };
        let mut found = Vec::new();
        for mut read in reads(&c, &q.sort, &sort_types, from_start, Some(id)) {
            read.param(SqlVal::Int(1));
            fetch(conn, &read, &mut found)?;
            if !found.is_empty() {
                break;
            }
        }
        let Some(item) = found.pop().map(cursor_at) else {
            return Ok(None);
        };
        let (back, forward) = (
            Bound {
                after: Some(&item),
                back: true,
            },
            Bound {
                after: Some(&item),
                back: false,
            },
        );
        let position = count_rows(conn, &c, &q.sort, &sort_types, back)?;
        let in_page = usize::try_from(position % page_len as u64).unwrap_or(0);
        // The page's rows before the item, and the row before the page: its cursor is
        // where the page starts.
        let mut before = rows(conn, &c, &q.sort, &sort_types, back, in_page + 1)?;
        let start = (before.len() > in_page)
            .then(|| before.pop().map(cursor_at))
            .flatten();
        // The rest of the page, and one row more to know whether the listing goes on.
        let after_len = page_len - in_page - 1;
        let mut after = rows(conn, &c, &q.sort, &sort_types, forward, after_len + 1)?;
        let more = after.len() > after_len;
        after.truncate(after_len);
        let next = more.then(|| after.last().cloned().map_or(item.clone(), cursor_at));
        let ids = (before.iter().rev().map(|(id, _)| *id))
            .chain([item.id])
            .chain(after.iter().map(|(id, _)| *id))
            .collect();
        Ok(Some(Holding {
            position,
            ids,
            start,
            next,
        }))
    })
}

/// How many rows matching `c` there are from `bound` on, in the order of `spec`.
fn count_rows(
    conn: &Connection,
    c: &Planned,
    spec: &SortSpec,
    sort_types: &[AttrType],
    bound: Bound<'_>,
) -> Result<u64> {
    let mut n = 0;
    for mut q in reads(c, spec, sort_types, bound, None) {
        // No limit: every row from the bound on is counted.
        q.param(SqlVal::Int(-1));
        let q = Sql {
            text: format!("SELECT count(*) FROM ({})", q.text),
            params: q.params,
        };
        super::sql::log(&q);
        let err = db_err(conn, "counting items");
        let mut stmt = conn.prepare_cached(&q.text).map_err(&err)?;
        let counted: i64 = stmt.query_row(q.params(), |r| r.get(0)).map_err(&err)?;
        n += counted.max(0) as u64;
    }
    Ok(n)
}
