//! The browser's state: plain data, changed only by [`update`](super::update::update).

use std::collections::BTreeMap;

use cachet::Item;
use cachet::filter::{Filter, SortSpec, StatusCounts};
use chrono::{DateTime, Utc};

use super::columns::ColumnPicker;
use super::filter_bar::FilterBar;
use super::gc::GcDialog;
use super::inspect::InspectPane;
use super::list::List;
use super::model::{ListQuery, Tab};
use super::preview::{PaneView, PreviewPane};

/// Which pane keys go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    List,
    Detail,
}

/// What a confirmed action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Trash,
    Restore,
    Purge,
    Pin,
    Unpin,
}

impl Op {
    /// The verb as a user reads it.
    pub fn verb(self) -> &'static str {
        match self {
            Op::Trash => "Trash",
            Op::Restore => "Restore",
            Op::Purge => "Purge",
            Op::Pin => "Pin",
            Op::Unpin => "Unpin",
        }
    }

    /// The past participle, for the message afterwards.
    pub fn done(self) -> &'static str {
        match self {
            Op::Trash => "trashed",
            Op::Restore => "restored",
            Op::Purge => "purged",
            Op::Pin => "pinned",
            Op::Unpin => "unpinned",
        }
    }
}

/// What an action will do, worked out by the worker before the user confirms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub op: Op,
    /// The items it applies to.
    pub ids: Vec<i64>,
    /// Items asked for that it does not apply to (wrong status), with why.
    pub skipped: Vec<(i64, String)>,
    /// Content size of the items it applies to.
    pub bytes: u64,
    /// For a purge: what it frees on disk (blobs no other item references).
    pub frees: cachet::cache::PurgeFrees,
    /// Pinned items among them.
    pub pinned: usize,
    /// For a restore: items that come back FAILED though they were not (trashed
    /// mid-write, see [`cachet::Item::restores_to`]).
    pub to_failed: usize,
    /// For a trash: items whose writer is at work still (their lease holds). Its commit
    /// will fail, and they come back FAILED.
    pub writing: usize,
}

/// The overlay on top of the screen; keys go to it first.
#[derive(Debug, Clone)]
pub enum Popup {
    Help,
    Confirm(Plan),
    Gc(Box<GcDialog>),
    Columns(ColumnPicker),
}

/// The line at the bottom that reports what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub error: bool,
}

/// The detail pane: the selected item (or a version jumped to) and its key's versions.
#[derive(Debug, Clone, Default)]
pub struct Detail {
    /// The key whose versions are loaded (or being loaded).
    pub key: Option<String>,
    pub versions: Vec<Item>,
    /// The versions that are manifests, by id, with what they are.
    pub manifests: Vec<(i64, cachet::registry::ManifestInfo)>,
    /// A version the user jumped to; `None` shows the list's selection.
    pub shown: Option<Item>,
    /// Whether `shown` is the item holding a blob, followed from an entry in the
    /// inspector: `esc` and `m` go back to the inspector as it was.
    pub followed: bool,
    /// The selected row among the versions.
    pub sel: usize,
    /// Rows scrolled by page keys and the wheel (the fields can be longer than the pane).
    pub scroll: usize,
    /// Whether the view follows the version selection (after `j`/`k`) instead.
    pub follow_sel: bool,
}

impl Detail {
    /// Shows the pane from row `row` on (page keys, the wheel, gg/G), no longer following
    /// the version selection.
    pub fn scroll_to(&mut self, row: usize) {
        self.scroll = row;
        self.follow_sel = false;
    }
}

/// Everything the browser shows.
#[derive(Debug, Clone)]
pub struct App {
    /// The cache root, as shown in the title.
    pub root: String,
    /// The time ages and stale leases are computed against.
    pub now: DateTime<Utc>,
    /// Tab counts under the filter in force.
    pub counts: Option<StatusCounts>,
    pub list: List,
    /// `/`: the filter bar (the filter in force is the list's).
    pub filter: FilterBar,
    /// Marked items and their content sizes.
    pub marks: BTreeMap<i64, u64>,
    /// Attributes shown as columns (`c`).
    pub columns: Vec<String>,
    pub focus: Focus,
    pub detail: Detail,
    /// What the right-hand pane shows.
    pub view: PaneView,
    pub preview: PreviewPane,
    pub inspect: InspectPane,
    pub popup: Option<Popup>,
    /// The gc dialog's settings when it was last closed: it opens with them again.
    pub gc_chosen: Option<([usize; 6], [Option<String>; 6])>,
    /// Gc plans asked for so far: each is numbered, so that one let go is never taken
    /// for a later one (the dialog may even have been closed and opened again meanwhile).
    pub gc_asked: u64,
    /// First line of the help overlay shown (it scrolls when the screen is small).
    pub help_scroll: usize,
    pub message: Option<Message>,
    /// A job running in the background, described for the footer.
    pub busy: Option<String>,
    /// The first key of a two-key command (`g`).
    pub pending_key: Option<char>,
    /// Terminal size in cells.
    pub size: (u16, u16),
    /// Draw without colours (`NO_COLOR`).
    pub no_color: bool,
    /// Whether the cache was opened only to read (its directory cannot be written): said
    /// in the status line, so that a refused change comes as no surprise.
    pub access: cachet::registry::Access,
    pub quit: bool,
}

impl App {
    pub fn new(root: impl Into<String>, now: DateTime<Utc>, size: (u16, u16)) -> App {
        let mut app = App {
            root: root.into(),
            now,
            counts: None,
            list: List::new(ListQuery {
                tab: Tab::All,
                sort: SortSpec::default(),
                filter: Filter::all(),
            }),
            filter: FilterBar::default(),
            marks: BTreeMap::new(),
            columns: Vec::new(),
            focus: Focus::List,
            detail: Detail::default(),
            view: PaneView::Detail,
            preview: PreviewPane::default(),
            inspect: InspectPane::default(),
            popup: None,
            gc_chosen: None,
            gc_asked: 0,
            help_scroll: 0,
            message: None,
            busy: None,
            pending_key: None,
            size,
            no_color: false,
            access: cachet::registry::Access::ReadWrite,
            quit: false,
        };
        super::update::fit(&mut app);
        app
    }

    pub fn tab(&self) -> Tab {
        self.list.query.tab
    }

    /// The item the detail pane shows.
    pub fn detail_item(&self) -> Option<&Item> {
        self.detail.shown.as_ref().or_else(|| self.list.selected())
    }

    /// The items an action applies to: the marked ones, else the one in view (a version
    /// jumped to in the detail pane while it has the keys, or the list's selection).
    pub fn targets(&self) -> Vec<i64> {
        if !self.marks.is_empty() {
            return self.marks.keys().copied().collect();
        }
        let current = match (self.focus, &self.detail.shown) {
            (Focus::Detail, Some(shown)) => Some(shown),
            _ => self.list.selected(),
        };
        current.map(|i| vec![i.id]).unwrap_or_default()
    }

    /// Shows a message in the footer.
    pub fn say(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: false,
        });
    }

    /// Shows an error in the footer.
    pub fn warn(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: true,
        });
    }
}
