//! The data source: every registry query the browser runs. It lives on the worker
//! thread, on the worker's own [`Cache`] (SQLite connections are per thread), and is the
//! one place that knows how a list is filtered, ordered, paged and counted — all of it
//! through `cachet::filter`, so the browser answers exactly what `cachet list` would.
//!
//! Lists are read by keyset pagination: a page is the next `limit` ids after a
//! [`Cursor`] (the last row's sort value and id), so a page costs the same at row 10 and
//! at row 900 000, and nothing ever reads the whole registry. The end of a list is read
//! backwards ([`filter::page_before`]), never walked to.

use anyhow::Result;
use cachet::filter::{self, Count, Cursor, Filter, Holding, Notice, Query, StatusCounts};
use cachet::{Cache, Item};
use chrono::{DateTime, Utc};

use super::list::Unreadable;
use super::model::ListQuery;

/// Tab counts stop here while a filter is being typed ("1000+"); exact ones follow.
pub const COUNT_CAP: u64 = 1000;

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

    fn conn(&self) -> &rusqlite::Connection {
        self.cache.registry().db().conn
    }

    /// Counts for every tab under `filter`: exact, or each stopping at [`COUNT_CAP`].
    pub fn counts(&self, filter: &Filter, exact: bool, now: DateTime<Utc>) -> Result<StatusCounts> {
        let cap = (!exact).then_some(COUNT_CAP);
        Ok(filter::count_by_status(self.conn(), filter, now, cap)?)
    }

    /// Whether the counts under `filter` can differ now from what they were at `since`,
    /// the registry unchanged: time moves what it matches, or a lease ran out meanwhile.
    /// (When that cannot be read, they may have.)
    pub fn counts_moved(&self, filter: &Filter, since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        filter.depends_on_time() || filter::leases_expired(self.conn(), since, now).unwrap_or(true)
    }

    /// Type-checks `filter` against the registry: the notices (names that match
    /// nothing), or the error a bad value gives.
    pub fn check(&self, filter: &Filter) -> cachet::Result<Vec<Notice>> {
        filter::check(self.conn(), filter)
    }

    fn query(list: &ListQuery, after: Option<&Cursor>, limit: usize) -> Query {
        Query {
            filter: list.rows_filter(),
            sort: list.sort.clone(),
            limit,
            after: after.cloned(),
        }
    }

    /// One page of ids for `query`, after `after`.
    pub fn page(
        &self,
        query: &ListQuery,
        after: Option<&Cursor>,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<IdPage> {
        let p = filter::page(self.conn(), &Self::query(query, after, limit), now)?;
        Ok(IdPage {
            ids: p.ids,
            next: p.next,
        })
    }

    /// Skips `pages` pages of `page_len` rows after `after` without loading their items,
    /// and returns the cursor where each following page starts (fewer when the list
    /// ends). One id query per page, the filter planned once.
    pub fn skip(
        &self,
        query: &ListQuery,
        after: Option<&Cursor>,
        pages: usize,
        page_len: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Cursor>> {
        let q = Self::query(query, after, page_len);
        let read = filter::pages(self.conn(), &q, pages, now)?;
        Ok(read.into_iter().filter_map(|p| p.next).collect())
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
        // The rows before `next`'s row, nearest first: the page's other rows, then the
        // row whose cursor starts the page.
        let p = filter::page_before(self.conn(), &Self::query(query, Some(next), page_len), now)?;
        let mut ids = p.ids;
        let start = if ids.len() == page_len { p.next } else { None };
        ids.truncate(page_len.saturating_sub(1));
        ids.reverse();
        ids.push(next.id());
        Ok((ids, start))
    }

    /// The page of `page_len` rows (pages cut from the start) holding item `id`, if the
    /// list holds it.
    pub fn holding(
        &self,
        query: &ListQuery,
        id: i64,
        page_len: usize,
        now: DateTime<Utc>,
    ) -> Result<Option<Holding>> {
        let q = Self::query(query, None, page_len);
        Ok(filter::page_holding(self.conn(), &q, id, now)?)
    }

    /// The last `rows` rows, and the cursor where they start. Ids in order.
    pub fn tail(
        &self,
        query: &ListQuery,
        rows: usize,
        now: DateTime<Utc>,
    ) -> Result<(Vec<i64>, Option<Cursor>)> {
        let p = filter::page_before(self.conn(), &Self::query(query, None, rows + 1), now)?;
        let mut ids = p.ids;
        let start = if ids.len() > rows { p.next } else { None };
        ids.truncate(rows);
        ids.reverse();
        Ok((ids, start))
    }

    /// The attribute names some item holds, by name, with their types (`int|text` for a
    /// name with values of several types).
    pub fn attr_names(&self) -> Result<Vec<(String, String)>> {
        let names = filter::attribute_names(self.conn())?;
        Ok((names.into_iter())
            .map(|(name, types)| {
                let types: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
                (name, types.join("|"))
            })
            .collect())
    }

    /// Every row of the list `query` shows, in id order, with its size (0 for none); `None`
    /// when there are more than `cap`.
    pub fn rows_and_sizes(
        &self,
        query: &ListQuery,
        cap: usize,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<(i64, u64)>>> {
        let by_id = ListQuery {
            sort: Default::default(),
            ..query.clone()
        };
        // Each page's sizes in one query as it comes (one per id took a query each).
        let mut sizes = self.conn().prepare_cached(
            "SELECT id, coalesce(size, 0) FROM items
             WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id",
        )?;
        let mut rows = Vec::new();
        let mut after = None;
        loop {
            let page = self.page(&by_id, after.as_ref(), 5000, now)?;
            if rows.len() + page.ids.len() > cap {
                return Ok(None);
            }
            // An item gone since it was listed is not marked.
            let ids = serde_json::to_string(&page.ids)?;
            let read = sizes.query_map([ids], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?)))?;
            for row in read {
                let (id, bytes) = row?;
                rows.push((id, u64::try_from(bytes).unwrap_or(0)));
            }
            match page.next {
                Some(next) if !page.ids.is_empty() => after = Some(next),
                _ => break,
            }
        }
        Ok(Some(rows))
    }

    /// The items with these ids, in order, and why those whose rows cannot be read (a
    /// registry edited by hand) cannot: each of those is in the list all the same, as an
    /// item with its id and nothing else, so that one row does not hide the others.
    pub fn items(&self, ids: &[i64]) -> Result<(Vec<Item>, Unreadable)> {
        let mut unreadable = Vec::new();
        let items = (self.cache.get_each(ids)?.into_iter())
            .map(|(id, item)| {
                item.unwrap_or_else(|e| {
                    unreadable.push((id, e.to_string()));
                    stand_in(id)
                })
            })
            .collect();
        Ok((items, unreadable))
    }
}

/// What stands in the list for an item whose row cannot be read.
fn stand_in(id: i64) -> Item {
    Item {
        id,
        key: String::new(),
        version: 0,
        uri: String::new(),
        params: serde_json::Value::Null,
        status: cachet::Status::Uninitialized,
        trashed_from: None,
        note: None,
        label: None,
        filename: None,
        size: None,
        sha256: None,
        created: DateTime::UNIX_EPOCH,
        updated: DateTime::UNIX_EPOCH,
        accessed: None,
        access_count: 0,
        lease: None,
        pinned: false,
        attrs: Default::default(),
    }
}

/// Whether every tab's count is exact.
pub fn all_exact(c: &StatusCounts) -> bool {
    [
        c.all,
        c.ready,
        c.write,
        c.failed,
        c.trash,
        c.stale,
        c.uninitialized,
    ]
    .iter()
    .all(|n: &Count| n.exact)
}
