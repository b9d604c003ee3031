//! The item list as a window over the registry: pages of rows fetched on demand around
//! the selection, the cursors where pages start, and the selection and scroll offset.
//!
//! Row `i` lives in page `i / PAGE`. Page `k` starts after `cursors[k]` (page 0 after
//! nothing). Reaching a page whose cursor is not known yet asks the worker to skip
//! forward from the nearest known one (ids only, many pages per query), so `G` on a
//! million rows never loads a million items. Pages far from the selection are dropped.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cachet::Item;
use cachet::filter::{Count, Cursor};

use super::model::ListQuery;

/// Rows per page.
pub const PAGE: usize = 200;
/// Pages kept loaded on each side of the selection's page.
const KEEP: usize = 4;

/// A request for one page, as the worker needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest {
    pub generation: u64,
    pub query: ListQuery,
    pub page: usize,
    pub fetch: Fetch,
}

/// How the worker finds a page.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetch {
    /// Skip forward from page `from`, which starts after `after` (ids only), then read.
    Forward { from: usize, after: Option<Cursor> },
    /// Read backwards from the start of the next page (its cursor is known).
    Backward { next: Cursor },
    /// The list's last page, `rows` long, read from the end (`G` on a million rows).
    Tail { rows: usize },
    /// The page holding item `id`, wherever it is (the first page if the list does not
    /// hold it): the selection stays on its item when the order or the tab changes.
    Holding { id: i64 },
}

/// A page the worker read.
#[derive(Debug, Clone)]
pub struct PageData {
    pub generation: u64,
    /// The page that was asked for.
    pub asked: usize,
    /// The page the items are, which is before the one asked for when the list ended
    /// sooner.
    pub page: usize,
    pub items: Vec<Item>,
    /// The rows among `items` that could not be read (edited by hand), each standing in
    /// for its item with only its id: why, by id.
    pub unreadable: Unreadable,
    /// Page starts discovered on the way: `(page, cursor)`.
    pub cursors: Vec<(usize, Cursor)>,
    /// Whether the list ends within this page.
    pub last: bool,
}

/// Rows that could not be read: each one's id, and why.
pub type Unreadable = Vec<(i64, String)>;

#[derive(Debug, Clone)]
pub struct List {
    pub query: ListQuery,
    /// Bumped whenever what the list shows changes, so late pages are dropped.
    pub generation: u64,
    /// Row count from the tab counts, until the end has been seen; only a lower bound
    /// while the count is capped.
    pub total: Count,
    /// Whether `total` came from a count yet (before, the first page shows alone).
    counted: bool,
    /// Exact length, once the last page has been read.
    pub end: Option<usize>,
    cursors: Vec<Option<Cursor>>,
    pages: BTreeMap<usize, Vec<Item>>,
    pending: BTreeSet<usize>,
    pub sel: usize,
    pub offset: usize,
    /// Visible rows, set from the layout.
    pub height: usize,
    /// An item to select again when it shows up after a reload.
    sticky: Option<i64>,
    /// An item to find in a list shown anew, and the screen row to show it on.
    holding: Option<(i64, usize)>,
    /// Moves made while that item's page was on its way, to make from it once it lands.
    held_moves: isize,
    /// The screen row the selection was put back on, kept there when the row count
    /// comes in (a count taken as short before it came would have pulled it down), until
    /// the selection moves.
    keep_row: Option<usize>,
    /// Digits of the longest id read so far (never fewer: the column does not narrow as
    /// the list scrolls).
    id_digits: u16,
    /// Why each row read so far that could not be read could not, by id.
    unreadable: HashMap<i64, String>,
}

impl List {
    pub fn new(query: ListQuery) -> List {
        List {
            query,
            generation: 0,
            total: Count::default(),
            counted: false,
            end: None,
            cursors: vec![None],
            pages: BTreeMap::new(),
            pending: BTreeSet::new(),
            sel: 0,
            offset: 0,
            height: 10,
            sticky: None,
            holding: None,
            held_moves: 0,
            keep_row: None,
            id_digits: 2,
            unreadable: HashMap::new(),
        }
    }

    /// Number of rows: exact once counted or once the end was read; while the count is
    /// capped, at least the count and one row past the last page read (so that moving
    /// on reads further).
    pub fn len(&self) -> usize {
        let read = self
            .pages
            .iter()
            .next_back()
            .map_or(0, |(p, rows)| p * PAGE + rows.len());
        match (self.end, self.counted) {
            (Some(end), _) => end,
            (None, true) if self.total.exact => self.total.n as usize,
            (None, true) => (self.total.n as usize).max(read + 1),
            (None, false) if read == 0 => 0,
            (None, false) => read + 1,
        }
    }

    /// The width of the ID column: the longest id read so far, and room for the header's
    /// sort mark (`ID▲`).
    pub fn id_width(&self) -> u16 {
        self.id_digits.max(3)
    }

    /// Whether the length is known exactly (not a capped count).
    pub fn exact(&self) -> bool {
        self.end.is_some() || (self.counted && self.total.exact)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Read again and no row in yet (after a change, say): its selection is to come back,
    /// so what the panes show of it stays meanwhile.
    pub fn reloading(&self) -> bool {
        self.pages.is_empty() && self.end.is_none() && self.sticky.is_some()
    }

    pub fn row(&self, i: usize) -> Option<&Item> {
        self.pages.get(&(i / PAGE))?.get(i % PAGE)
    }

    pub fn selected(&self) -> Option<&Item> {
        self.row(self.sel)
    }

    /// Why the row of item `id` could not be read, if it could not.
    pub fn unreadable(&self, id: i64) -> Option<&str> {
        self.unreadable.get(&id).map(String::as_str)
    }

    /// Item `id`, if a loaded page holds it.
    pub fn find(&self, id: i64) -> Option<&Item> {
        self.pages.values().flatten().find(|i| i.id == id)
    }

    /// Shows something else: everything loaded is forgotten. With another filter the
    /// count is not known until it is counted again.
    pub fn reset(&mut self, query: ListQuery) {
        if query.filter != self.query.filter {
            self.counted = false;
        }
        self.query = query;
        self.generation += 1;
        self.end = None;
        self.cursors = vec![None];
        self.pages.clear();
        self.pending.clear();
        self.sel = 0;
        self.offset = 0;
        self.sticky = None;
        self.holding = None;
        self.held_moves = 0;
        self.keep_row = None;
    }

    /// Shows something else, as [`List::reset`], but keeps the selected item selected,
    /// on the same screen row, if the new list holds it.
    pub fn reset_holding(&mut self, query: ListQuery) {
        let held = self.held();
        self.reset_to(query, held);
    }

    /// Shows something else, as [`List::reset`], with the selection to land on `held`
    /// (an item and its screen row, from [`List::held`]) if the new list holds it.
    pub fn reset_to(&mut self, query: ListQuery, held: Option<(i64, usize)>) {
        self.reset(query);
        self.holding = held;
        self.sticky = held.map(|(id, _)| id);
    }

    /// The selected item and the screen row it is on; while its page in a new order is
    /// on its way, the item being looked for.
    pub fn held(&self) -> Option<(i64, usize)> {
        (self.selected())
            .map(|item| (item.id, self.sel.saturating_sub(self.offset)))
            .or(self.holding)
    }

    /// Reads the same list again (the registry changed), keeping the selection on the
    /// same item when it is still there.
    pub fn reload(&mut self) {
        self.generation += 1;
        // The selection's page may not be in yet (another order's page of it, on its
        // way): the item it is to land on stays the one to land on.
        self.sticky = self.selected().map(|i| i.id).or(self.sticky);
        self.end = None;
        self.pages.clear();
        self.pending.clear();
    }

    /// Moves the selection to row `i` (clamped) and scrolls it into view.
    pub fn select(&mut self, i: usize) {
        // A row chosen outright: no item is looked for any more.
        self.sticky = None;
        self.holding = None;
        self.held_moves = 0;
        self.keep_row = None;
        self.sel = i.min(self.len().saturating_sub(1));
        self.scroll_into_view();
    }

    /// Moves the selection by `delta` rows. While the selected item's page in a new
    /// order is on its way, the move is made from the item once it is found.
    pub fn step(&mut self, delta: isize) {
        if self.holding.is_some() && self.selected().is_none() {
            self.held_moves = self.held_moves.saturating_add(delta);
            return;
        }
        let target = if delta < 0 {
            self.sel.saturating_sub(delta.unsigned_abs())
        } else {
            self.sel.saturating_add(delta as usize)
        };
        self.select(target);
    }

    /// Scrolls the view by `delta` rows, dragging the selection along when it leaves.
    pub fn scroll(&mut self, delta: isize) {
        self.keep_row = None;
        let max_offset = self.len().saturating_sub(self.height.max(1));
        self.offset = if delta < 0 {
            self.offset.saturating_sub(delta.unsigned_abs())
        } else {
            self.offset.saturating_add(delta as usize).min(max_offset)
        };
        let last_visible = self.offset + self.height.max(1) - 1;
        self.sel = self.sel.clamp(self.offset, last_visible);
        self.sel = self.sel.min(self.len().saturating_sub(1));
    }

    pub fn set_height(&mut self, height: usize) {
        self.height = height.max(1);
        self.scroll_into_view();
    }

    /// Sets the row count from fresh tab counts.
    pub fn set_total(&mut self, total: Count) {
        self.total = total;
        self.counted = true;
        // A capped count is a lower bound: it says nothing against a selection past it
        // (deep in a long list, whose page may be on its way after a reload).
        if self.end.is_none() && total.exact {
            self.sel = self.sel.min(self.len().saturating_sub(1));
        }
        if let Some(row) = self.keep_row {
            self.offset = self
                .sel
                .saturating_sub(row.min(self.height.saturating_sub(1)));
        }
        // Nor, while the selection's page is not in, does it say where the view goes.
        if total.exact || self.selected().is_some() {
            self.scroll_into_view();
        }
    }

    fn scroll_into_view(&mut self) {
        let h = self.height.max(1);
        if self.sel < self.offset {
            self.offset = self.sel;
        } else if self.sel >= self.offset + h {
            self.offset = self.sel + 1 - h;
        }
        let max_offset = self.len().saturating_sub(h);
        self.offset = self.offset.min(max_offset);
    }

    /// Requests for the pages the view needs that are neither loaded nor asked for yet:
    /// the visible rows, and one page ahead of the selection.
    pub fn wanted(&mut self) -> Vec<PageRequest> {
        if let Some((id, _)) = self.holding
            && self.pages.is_empty()
            && self.pending.is_empty()
        {
            // Nothing else is asked for until the item's page is in (it is asked as page
            // 0, but may be any).
            self.pending.insert(0);
            return vec![PageRequest {
                generation: self.generation,
                query: self.query.clone(),
                page: 0,
                fetch: Fetch::Holding { id },
            }];
        }
        if !self.counted && self.pages.is_empty() && self.pending.is_empty() {
            // Not counted yet: the first page need not wait for the count.
            self.pending.insert(0);
            return vec![PageRequest {
                generation: self.generation,
                query: self.query.clone(),
                page: 0,
                fetch: Fetch::Forward {
                    from: 0,
                    after: None,
                },
            }];
        }
        if self.is_empty() {
            return Vec::new();
        }
        let last_row = self.len() - 1;
        let first = self.offset.min(last_row) / PAGE;
        let last = (self.offset + self.height).min(last_row) / PAGE;
        let ahead = ((self.sel + PAGE / 2).min(last_row)) / PAGE;
        let last_page = last_row / PAGE;
        let mut out = Vec::new();
        // From the bottom up, so that a page read from the end lets the ones above it be
        // read backwards instead of skipped to from the top.
        for page in (first..=last.max(ahead)).rev() {
            if self.pages.contains_key(&page) || self.pending.contains(&page) {
                continue;
            }
            let known = |k: usize| self.cursors.get(k).cloned().flatten();
            let fetch = if let Some(after) = known(page) {
                Fetch::Forward {
                    from: page,
                    after: Some(after),
                }
            } else if page == 0 {
                Fetch::Forward {
                    from: 0,
                    after: None,
                }
            } else if let Some(next) = known(page + 1) {
                Fetch::Backward { next }
            } else if self.pending.contains(&(page + 1)) {
                // The page below is on its way; this one follows it backwards.
                continue;
            } else if page == last_page
                && self.end.is_none()
                && self.exact()
                && page > self.cursors.len()
            {
                Fetch::Tail {
                    rows: self.len() - page * PAGE,
                }
            } else {
                let from = (0..=page.min(self.cursors.len() - 1))
                    .rev()
                    .find(|k| *k == 0 || self.cursors[*k].is_some())
                    .unwrap_or(0);
                Fetch::Forward {
                    from,
                    after: known(from),
                }
            };
            self.pending.insert(page);
            out.push(PageRequest {
                generation: self.generation,
                query: self.query.clone(),
                page,
                fetch,
            });
        }
        out
    }

    /// Takes a page from the worker; pages of an older generation are ignored.
    pub fn loaded(&mut self, data: PageData) {
        if data.generation != self.generation {
            return;
        }
        self.pending.remove(&data.asked);
        for (page, cursor) in data.cursors {
            if self.cursors.len() <= page {
                self.cursors.resize(page + 1, None);
            }
            self.cursors[page] = Some(cursor);
        }
        if data.last {
            self.end = Some(data.page * PAGE + data.items.len());
            self.pending.retain(|p| *p <= data.page);
        }
        if let Some(id) = self.sticky
            && let Some(i) = data.items.iter().position(|it| it.id == id)
        {
            self.sel = data.page * PAGE + i;
            self.sticky = None;
        }
        // Found where it now stands (or not at all): shown on the row it was on. Not
        // found, it is looked for no more (it would pull the selection to it later).
        let row = self.holding.take().map(|(_, row)| row);
        if row.is_some() {
            self.sticky = None;
        }
        let longest = (data.items.iter()).map(|it| it.id.to_string().len()).max();
        let digits = longest.map_or(0, |n| u16::try_from(n).unwrap_or(u16::MAX));
        self.id_digits = self.id_digits.max(digits);
        for item in &data.items {
            self.unreadable.remove(&item.id);
        }
        self.unreadable.extend(data.unreadable);
        self.pages.insert(data.page, data.items);
        self.sel = self.sel.min(self.len().saturating_sub(1));
        if let Some(row) = row {
            let moves = std::mem::take(&mut self.held_moves);
            self.sel = self
                .sel
                .saturating_add_signed(moves)
                .min(self.len().saturating_sub(1));
            let row = row.saturating_add_signed(moves);
            self.offset = self
                .sel
                .saturating_sub(row.min(self.height.saturating_sub(1)));
            self.keep_row = Some(self.sel - self.offset);
        }
        self.scroll_into_view();
        let here = self.sel / PAGE;
        let view = self.offset / PAGE;
        self.pages
            .retain(|p, _| p.abs_diff(here) <= KEEP || p.abs_diff(view) <= KEEP);
    }

    /// Replaces one loaded item (after an action changed it).
    pub fn update_item(&mut self, item: &Item) {
        for rows in self.pages.values_mut() {
            if let Some(row) = rows.iter_mut().find(|r| r.id == item.id) {
                *row = item.clone();
            }
        }
    }
}
