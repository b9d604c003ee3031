//! Small plain-data types shared by the state, the worker and the drawing code.

use cachet::Status;
use cachet::filter::{self, Col, Filter, SortKey, SortSpec};

/// The status tabs above the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tab {
    All,
    Ready,
    Write,
    Failed,
    Trash,
    /// WRITE items whose writer's lease ran out.
    Stale,
}

impl Tab {
    pub const ALL: [Tab; 6] = [
        Tab::All,
        Tab::Ready,
        Tab::Write,
        Tab::Failed,
        Tab::Trash,
        Tab::Stale,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::All => "All",
            Tab::Ready => "Ready",
            Tab::Write => "Write",
            Tab::Failed => "Failed",
            Tab::Trash => "Trash",
            Tab::Stale => "Stale",
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }

    /// The filter module's name for this tab.
    pub fn filter_tab(self) -> filter::Tab {
        match self {
            Tab::All => filter::Tab::All,
            Tab::Ready => filter::Tab::Status(Status::Ready),
            Tab::Write => filter::Tab::Status(Status::Write),
            Tab::Failed => filter::Tab::Status(Status::Failed),
            Tab::Trash => filter::Tab::Status(Status::Trash),
            Tab::Stale => filter::Tab::Stale,
        }
    }
}

/// The list's order as the browser names it: the column, or the attribute, it sorts by.
pub fn sort_title(spec: &SortSpec) -> String {
    match &spec.key {
        SortKey::Col(Col::Uri) => "uri".to_string(),
        SortKey::Col(Col::Created) => "age".to_string(),
        SortKey::Col(c) => c.name().to_string(),
        SortKey::Attr(_, name) => name.clone(),
    }
}

/// Whether the list reads upwards in the column's own terms: ages grow as `created`
/// falls, so `-created` is ascending age.
pub fn sort_up(spec: &SortSpec) -> bool {
    let by_age = spec.key == SortKey::Col(Col::Created);
    spec.desc == by_age
}

/// The order after `spec` for `s`: the next of `shown` (what the columns on screen sort
/// by, left to right; from the first when the order is by none of them), ascending in
/// its own terms. A column the screen is too narrow for is no stop: its order would show
/// no mark.
pub fn next_sort(spec: &SortSpec, shown: &[SortKey]) -> SortSpec {
    let i = (shown.iter())
        .position(|k| *k == spec.key)
        .map_or(0, |i| i + 1);
    let Some(key) = (!shown.is_empty()).then(|| shown[i % shown.len()].clone()) else {
        return spec.clone();
    };
    let desc = key == SortKey::Col(Col::Created);
    SortSpec { key, desc }
}

/// What the list shows: everything the worker needs to page through it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub tab: Tab,
    pub sort: SortSpec,
    pub filter: Filter,
}

impl ListQuery {
    /// The filter restricted to the tab: what the rows match.
    pub fn rows_filter(&self) -> Filter {
        self.filter.restrict(self.tab.filter_tab())
    }
}
