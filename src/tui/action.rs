//! What can happen ([`Action`]: keys, mouse, worker results, the clock) and what the
//! runtime is asked to do ([`Effect`]: queries and changes for the workers, terminal
//! output). [`update`](super::update::update) turns one into the other.

use cachet::Item;
use cachet::gc::{GcPlan, GcPolicy, GcReport};
use chrono::{DateTime, Utc};

use cachet::filter::{Filter, StatusCounts};
use tui_input::InputRequest;

use super::app::{Op, Plan};
use super::filter_bar::{FilterError, FilterRequest, Filtered};
use super::inspect::{ManifestRequest, ManifestView};
use super::list::{PageData, PageRequest};
use super::model::{ListQuery, Tab};
use super::preview::PreviewRequest;

/// Something that happened.
#[derive(Debug, Clone)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    HalfPageUp,
    HalfPageDown,
    Top,
    Bottom,
    /// Mouse wheel: scroll the pane under the pointer.
    Scroll {
        delta: isize,
        column: u16,
        row: u16,
    },
    Click {
        column: u16,
        row: u16,
    },
    Resize(u16, u16),
    SetTab(Tab),
    NextTab,
    PrevTab,
    SortNext,
    SortReverse,
    ToggleMark,
    /// Marks every row of the list (`a`), as the worker finds them.
    MarkAll,
    /// Every row of the list `query` was, with its size; or why they are not marked.
    MarkedAll {
        query: ListQuery,
        result: Result<Vec<(i64, u64)>, String>,
    },
    /// Types a value for a setting (`e` in the gc dialog).
    EditSetting,
    /// A setting one step back (`←` in the gc dialog; `space` and `→` step on).
    StepBack,
    /// Asks the worker for a plan, then a confirmation (`d`, `u`, `D`).
    Ask(Op),
    TogglePin,
    /// Copies the selected item's content path (or its key when `key`).
    Copy {
        key: bool,
    },
    Refresh,
    Help,
    /// `enter`/`l`: open the detail pane, or jump to the selected version in it.
    Enter,
    /// `esc`/`h`: close what is open, clear marks, go back to the list.
    Back,
    Quit,
    Confirm,
    Cancel,
    /// The first key of a two-key command.
    Prefix(char),
    /// `gc`: garbage collection.
    Gc,
    /// `v`: the pane shows the detail or the preview.
    ToggleView,
    PreviewLoaded {
        seq: u64,
        result: Result<Box<cachet::preview::Preview>, String>,
    },
    /// `c`: choose attribute columns.
    PickColumns,
    /// `/`: open the filter bar.
    OpenFilter,
    /// An edit of the filter bar's text.
    Edit(InputRequest),
    /// `^w` in the filter bar: delete the term before the cursor (back to a space), as
    /// a shell does.
    DeleteTerm,
    /// `f`: add the selected row's value in the sort column to the filter.
    FilterCell,
    /// `m`: the pane shows the manifest inspector.
    ToggleManifest,
    /// `x`: expand shards in the inspector.
    ToggleShards,
    /// Long lines of a text preview wrapped onto the next rows, or cut at the edge.
    ToggleWrap,
    /// `→` and `←` over a table in the preview: the columns one step to the side.
    ColumnRight,
    ColumnLeft,
    /// `o`: follow manifest refs in the inspector.
    ToggleRefs,
    ManifestLoaded {
        seq: u64,
        result: Result<Box<ManifestView>, String>,
    },
    /// The item holding a blob an entry links (none when only manifests link it).
    Jumped {
        sha: String,
        /// The entry's key.
        name: String,
        /// The inspector's request the entry was in (see [`Effect::FindBlob`]).
        seq: u64,
        item: Option<Box<Item>>,
    },
    ColumnsLoaded(Vec<(String, String)>),
    /// The plan asked for as number `asked` (see [`Effect::PlanGc`]).
    GcPlanned {
        asked: u64,
        result: Result<Box<GcPlan>, String>,
    },
    GcProgress {
        done: u64,
        total: u64,
    },
    GcApplied(Result<Box<GcReport>, String>),
    /// Tab counts under the filter with this text.
    Counted {
        filter: String,
        counts: StatusCounts,
    },
    /// The answer to a [`FilterRequest`].
    Filtered {
        seq: u64,
        result: Result<Box<Filtered>, FilterError>,
    },
    PageLoaded(PageData),
    PageFailed {
        generation: u64,
        message: String,
    },
    VersionsLoaded {
        key: String,
        items: Vec<Item>,
        /// What each version that is a manifest is, by id.
        manifests: Vec<(i64, cachet::registry::ManifestInfo)>,
    },
    Planned(Plan),
    Applied {
        op: Op,
        items: Vec<Item>,
        errors: Vec<String>,
        freed: u64,
    },
    /// Text to put on the clipboard, and what it is.
    Copied {
        text: String,
        what: String,
    },
    JobFailed(String),
    /// Another process (or our worker) changed the registry.
    Changed,
    Clock(DateTime<Utc>),
}

/// Work for the runtime: queries and changes for the worker, output for the terminal.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Tab counts under `filter`, each capped unless `exact`. With `since`, a recount as
    /// the clock moves on: only made if time can have changed them since that instant
    /// (see [`super::worker::counts::wanted`]).
    Count {
        filter: Filter,
        exact: bool,
        since: Option<DateTime<Utc>>,
    },
    /// Check a filter and read its first page.
    Filter(FilterRequest),
    LoadPage(PageRequest),
    LoadVersions {
        key: String,
    },
    Plan {
        op: Op,
        ids: Vec<i64>,
    },
    Apply(Plan),
    /// Resolve what `y`/`Y` copies (a content path needs the blob store).
    CopyOf {
        id: i64,
        key: bool,
    },
    /// Put text on the clipboard (OSC 52).
    Clipboard(String),
    /// Preview an item or one of its archive's members; cancels the one before.
    LoadPreview(PreviewRequest),
    /// The attribute names the registry knows, for the column picker.
    LoadColumns,
    LoadManifest(ManifestRequest),
    /// The item that holds a blob.
    FindBlob {
        sha: String,
        /// The entry's key, to preview the blob by when no item holds it.
        name: String,
        /// The inspector's request it was found in: an answer for another is dropped.
        seq: u64,
    },
    /// A gc plan, the `asked`th of the session: one let go (`esc` while it was made) is
    /// told from the one asked for since by it.
    PlanGc {
        policy: Box<GcPolicy>,
        asked: u64,
    },
    /// Every row of a list, to be marked.
    MarkAll(ListQuery),
    /// Apply a plan in the background, reporting progress.
    ApplyGc(Box<GcPlan>),
}
