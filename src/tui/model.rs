//! Small plain-data types shared by the state, the worker and the drawing code.

use cachet::Status;

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

    /// The tab listing exactly one status, if any.
    pub fn of_status(status: Status) -> Option<Tab> {
        match status {
            Status::Ready => Some(Tab::Ready),
            Status::Write => Some(Tab::Write),
            Status::Failed => Some(Tab::Failed),
            Status::Trash => Some(Tab::Trash),
            Status::Uninitialized => None,
        }
    }

    /// The status this tab lists, for the tabs that list one status.
    pub fn status(self) -> Option<Status> {
        match self {
            Tab::Ready => Some(Status::Ready),
            Tab::Write => Some(Status::Write),
            Tab::Failed => Some(Status::Failed),
            Tab::Trash => Some(Status::Trash),
            Tab::All | Tab::Stale => None,
        }
    }
}

/// Item counts per tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub all: u64,
    pub ready: u64,
    pub write: u64,
    pub failed: u64,
    pub trash: u64,
    pub stale: u64,
}

impl Counts {
    pub fn get(&self, tab: Tab) -> u64 {
        match tab {
            Tab::All => self.all,
            Tab::Ready => self.ready,
            Tab::Write => self.write,
            Tab::Failed => self.failed,
            Tab::Trash => self.trash,
            Tab::Stale => self.stale,
        }
    }

    pub fn get_mut(&mut self, tab: Tab) -> &mut u64 {
        match tab {
            Tab::All => &mut self.all,
            Tab::Ready => &mut self.ready,
            Tab::Write => &mut self.write,
            Tab::Failed => &mut self.failed,
            Tab::Trash => &mut self.trash,
            Tab::Stale => &mut self.stale,
        }
    }
}

/// A sortable column of the list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SortCol {
    Id,
    Name,
    Version,
    Status,
    Size,
    Age,
}

impl SortCol {
    /// The order `s` steps through.
    pub const CYCLE: [SortCol; 6] = [
        SortCol::Id,
        SortCol::Name,
        SortCol::Version,
        SortCol::Status,
        SortCol::Size,
        SortCol::Age,
    ];

    pub fn title(&self) -> &'static str {
        match self {
            SortCol::Id => "id",
            SortCol::Name => "name",
            SortCol::Version => "version",
            SortCol::Status => "status",
            SortCol::Size => "size",
            SortCol::Age => "age",
        }
    }

    pub fn next(&self) -> SortCol {
        let i = SortCol::CYCLE.iter().position(|c| c == self).unwrap_or(0);
        SortCol::CYCLE[(i + 1) % SortCol::CYCLE.len()].clone()
    }
}

/// A list order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sort {
    pub col: SortCol,
    pub desc: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            col: SortCol::Id,
            desc: false,
        }
    }
}

/// What the list shows: everything the worker needs to page through it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListQuery {
    pub tab: Tab,
    pub sort: Sort,
}
