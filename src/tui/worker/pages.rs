//! Reading pages of the list for the browser: the first page of a new filter, a page
//! forward (skipping ahead by ids only), backward, the last, or the one holding an item.

use anyhow::Result;
use cachet::filter::Cursor;
use chrono::Utc;

use crate::tui::filter_bar::{FilterError, FilterRequest, Filtered};
use crate::tui::list::{Fetch, PAGE, PageData, PageRequest};
use crate::tui::source::Source;

/// A new filter: checked against the registry's catalogue (a value of the wrong type is
/// an error with a position, an unknown name a notice), then its first page.
pub(super) fn filter_job(source: &Source, req: FilterRequest) -> Result<Filtered, FilterError> {
    let notices = source.check(&req.query.filter).map_err(FilterError::of)?;
    let page = load_page(
        source,
        PageRequest {
            generation: req.seq,
            query: req.query.clone(),
            page: 0,
            fetch: match req.hold {
                Some((id, _)) => Fetch::Holding { id },
                None => Fetch::Forward {
                    from: 0,
                    after: None,
                },
            },
        },
    )
    .map_err(|e| FilterError {
        pos: None,
        message: format!("{e:#}"),
    })?;
    Ok(Filtered {
        query: req.query,
        notices,
        page,
        hold: req.hold,
    })
}

/// The page `req` asked for, read backwards: its `ids`, and the cursor where it starts.
fn read_back(
    source: &Source,
    req: &PageRequest,
    ids: &[i64],
    start: Option<Cursor>,
    last: bool,
) -> Result<PageData> {
    let (items, unreadable) = source.items(ids)?;
    Ok(PageData {
        generation: req.generation,
        asked: req.page,
        page: req.page,
        items,
        unreadable,
        cursors: start.map(|c| (req.page, c)).into_iter().collect(),
        last,
    })
}

pub(super) fn load_page(source: &Source, req: PageRequest) -> Result<PageData> {
    let now = Utc::now();
    let (from, after) = match &req.fetch {
        Fetch::Forward { from, after } => (*from, after.clone()),
        Fetch::Backward { next } => {
            let (ids, start) = source.before(&req.query, next, PAGE, now)?;
            return read_back(source, &req, &ids, start, false);
        }
        Fetch::Tail { rows } => {
            let (ids, start) = source.tail(&req.query, *rows, now)?;
            return read_back(source, &req, &ids, start, true);
        }
        Fetch::Holding { id } => match source.holding(&req.query, *id, PAGE, now)? {
            Some(held) => {
                let (items, unreadable) = source.items(&held.ids)?;
                let page = usize::try_from(held.position).unwrap_or(usize::MAX) / PAGE;
                let cursors = [(page, held.start), (page + 1, held.next.clone())];
                return Ok(PageData {
                    generation: req.generation,
                    asked: req.page,
                    page,
                    items,
                    unreadable,
                    cursors: (cursors.into_iter())
                        .filter_map(|(page, c)| Some((page, c?)))
                        .collect(),
                    last: held.next.is_none(),
                });
            }
            // Not in this list: its start.
            None => (0, None),
        },
    };
    let mut cursors = Vec::new();
    let mut after = after;
    let mut page = from;
    if req.page > from {
        let skipped = source.skip(&req.query, after.as_ref(), req.page - from, PAGE, now)?;
        for (i, c) in skipped.iter().enumerate() {
            cursors.push((from + i + 1, c.clone()));
        }
        page = from + skipped.len();
        if let Some(c) = skipped.last() {
            after = Some(c.clone());
        }
    }
    let ids = source.page(&req.query, after.as_ref(), PAGE, now)?;
    if let Some(next) = &ids.next {
        cursors.push((page + 1, next.clone()));
    }
    let (items, unreadable) = source.items(&ids.ids)?;
    Ok(PageData {
        generation: req.generation,
        asked: req.page,
        page,
        items,
        unreadable,
        cursors,
        last: ids.next.is_none(),
    })
}
