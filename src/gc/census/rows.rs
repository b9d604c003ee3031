//! The census's rows as the scan's parts read them: each part's list kept as it is, one
//! after the other, where copying them into one list took a tenth of a plan at a million
//! items (the copy, and the fresh memory it was written to).

use std::ops::Index;

use super::ItemRow;

/// Every row read, in id order: the parts' lists, each with the URIs of its rows.
#[derive(Default)]
pub(in crate::gc) struct Rows {
    parts: Vec<Segment>,
    /// The row each part begins at, ascending.
    starts: Vec<usize>,
    len: usize,
}

/// The rows of one part, and their URIs one after the other (see [`ItemRow`]'s `uri_at`).
struct Segment {
    items: Vec<ItemRow>,
    text: String,
}

impl Rows {
    /// Adds a part's rows (with their URIs) after those here.
    pub(super) fn push(&mut self, items: Vec<ItemRow>, text: String) {
        if items.is_empty() {
            return;
        }
        self.starts.push(self.len);
        self.len += items.len();
        self.parts.push(Segment { items, text });
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// The part that would hold `row` (the last to begin at or before it), and where in
    /// it; `None` when there are no rows.
    fn part_of(&self, row: usize) -> Option<(usize, usize)> {
        let part = (self.starts.partition_point(|&start| start <= row)).checked_sub(1)?;
        Some((part, row - self.starts[part]))
    }

    /// The part holding `row`, and where in it.
    fn locate(&self, row: usize) -> Option<(&Segment, usize)> {
        let (part, at) = self.part_of(row)?;
        let segment = self.parts.get(part)?;
        (at < segment.items.len()).then_some((segment, at))
    }

    pub fn get(&self, row: usize) -> Option<&ItemRow> {
        self.locate(row).map(|(segment, at)| &segment.items[at])
    }

    pub(super) fn get_mut(&mut self, row: usize) -> Option<&mut ItemRow> {
        let (part, at) = self.part_of(row)?;
        self.parts.get_mut(part)?.items.get_mut(at)
    }

    /// The URI of the item at `row` (empty for a row not here).
    pub(super) fn uri(&self, row: usize) -> &str {
        self.locate(row)
            .and_then(|(segment, at)| {
                let r = &segment.items[at];
                segment.text.get(r.uri_at..r.uri_at + r.uri_len as usize)
            })
            .unwrap_or_default()
    }

    pub fn last(&self) -> Option<&ItemRow> {
        self.parts.last().and_then(|segment| segment.items.last())
    }

    pub fn iter(&self) -> impl Iterator<Item = &ItemRow> + '_ {
        self.parts.iter().flat_map(|segment| &segment.items)
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = &mut ItemRow> + '_ {
        self.parts.iter_mut().flat_map(|segment| &mut segment.items)
    }

    /// The row of the item with `id` (rows ascend with ids).
    pub(super) fn find(&self, id: i64) -> Option<usize> {
        let part = (self.parts)
            .partition_point(|segment| segment.items.last().is_some_and(|last| last.id < id));
        let segment = self.parts.get(part)?;
        let at = segment.items.binary_search_by_key(&id, |r| r.id).ok()?;
        Some(self.starts[part] + at)
    }
}

impl Index<usize> for Rows {
    type Output = ItemRow;

    /// The row at `row`, which must be one (as a list's index must be).
    fn index(&self, row: usize) -> &ItemRow {
        // Out of bounds as a list's index is, where there are no rows.
        let (part, at) = self.part_of(row).unwrap_or_default();
        &self.parts[part].items[at]
    }
}
