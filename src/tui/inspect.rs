//! The manifest inspector (`m`): a manifest item's entries as an indented table, refs
//! followed and shards expanded on request, and `enter` jumping from an entry to the item
//! that holds its blob. Reading is the worker's (`cachet::manifest::Entries`); this is the
//! state and its part of `update`.

use cachet::Item;

use super::app::{App, Focus};
use super::preview::{self, LinkedBlob, PaneView};
use super::update::{Action, Effect};

/// At most this many entries are read for the pane; more is said, not hidden.
pub const MAX_ENTRIES: usize = 2_000;

/// One line of the inspector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRow {
    /// 0 for the root manifest, +1 per ref followed or shard expanded.
    pub depth: usize,
    pub kind: String,
    pub key: String,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    /// For a file in an expanded shard: the shard archive's digest and key.
    pub in_shard: Option<(String, String)>,
    /// A ref whose part is read (its entries follow, one level deeper): said beside the key.
    pub followed: bool,
}

/// What the worker read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestView {
    pub manifest_type: String,
    /// The entries, with a row above each expanded shard's and followed ref's.
    pub rows: Vec<EntryRow>,
    /// Entries read (the rows, but for those heads).
    pub entries: usize,
    /// More entries followed than [`MAX_ENTRIES`].
    pub truncated: bool,
    /// Lines that could not be read, with where.
    pub errors: Vec<String>,
}

/// A request: which item, and how to walk it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRequest {
    pub seq: u64,
    pub id: i64,
    pub follow_refs: bool,
    pub expand_shards: bool,
}

#[derive(Debug, Clone)]
pub struct InspectPane {
    pub want: Option<ManifestRequest>,
    pub seq: u64,
    pub shown: Option<Result<ManifestView, String>>,
    pub sel: usize,
    pub follow_refs: bool,
    pub expand_shards: bool,
}

impl InspectPane {
    /// Whether it shows a manifest's entries (not why there are none, nor nothing yet):
    /// whether its keys have anything to act on.
    pub fn has_entries(&self) -> bool {
        matches!(&self.shown, Some(Ok(view)) if !view.rows.is_empty())
    }
}

impl Default for InspectPane {
    fn default() -> Self {
        InspectPane {
            want: None,
            seq: 0,
            shown: None,
            sel: 0,
            follow_refs: true,
            expand_shards: false,
        }
    }
}

/// Reads the detail item's entries when the pane shows the inspector and it changed.
pub fn follow(app: &mut App, visible: bool, fx: &mut Vec<Effect>) {
    if app.view != PaneView::Manifest || !visible {
        return;
    }
    let Some(id) = app.detail_item().map(|i| i.id) else {
        if app.list.reloading() {
            return;
        }
        // Nothing selected (an empty tab): nothing shown, rather than the last item's.
        app.inspect.want = None;
        app.inspect.shown = None;
        return;
    };
    if app.inspect.want.as_ref().is_some_and(|w| w.id == id) {
        return;
    }
    request(app, id, fx);
}

fn request(app: &mut App, id: i64, fx: &mut Vec<Effect>) {
    let p = &mut app.inspect;
    p.seq += 1;
    p.shown = None;
    p.sel = 0;
    let req = ManifestRequest {
        seq: p.seq,
        id,
        follow_refs: p.follow_refs,
        expand_shards: p.expand_shards,
    };
    p.want = Some(req.clone());
    fx.push(Effect::LoadManifest(req));
}

/// Takes a result; one for an older request is dropped.
pub fn loaded(app: &mut App, seq: u64, result: Result<ManifestView, String>) {
    if app.inspect.want.as_ref().is_some_and(|w| w.seq == seq) {
        app.inspect.shown = Some(result);
    }
}

/// The item found holding a blob an entry links: shown in the detail pane. When none
/// holds it (a dataset's file, a shard archive), the blob itself is previewed. An answer
/// for entries no longer shown (another manifest, or the inspector left) is dropped.
pub fn jumped(
    app: &mut App,
    (sha, name, seq): (String, String, u64),
    item: Option<Item>,
    fx: &mut Vec<Effect>,
) {
    let manifest = (app.inspect.want.as_ref()).filter(|w| w.seq == seq);
    let Some(id) = manifest
        .map(|w| w.id)
        .filter(|_| app.view == PaneView::Manifest)
    else {
        return;
    };
    match item {
        Some(item) => {
            app.say(format!(
                "item {} holds blob {}",
                item.id,
                cachet::key::abbrev(&sha, 12)
            ));
            app.detail.shown = Some(item);
            app.detail.followed = true;
            preview::set_view(app, PaneView::Detail);
        }
        None => preview::show_linked(app, id, LinkedBlob { sha256: sha, name }, None, fx),
    }
}

/// `m`: switches the pane to the inspector (and back to the detail). From a blob opened
/// in the inspector, it goes back to the inspector as it was, as `esc` does; else the
/// inspector reads the item selected now.
pub fn toggle(app: &mut App) {
    let back = preview::showing_linked(app) || leave_followed(app);
    let view = if app.view == PaneView::Manifest {
        PaneView::Detail
    } else {
        PaneView::Manifest
    };
    preview::set_view(app, view);
    if !back {
        app.inspect.want = None;
    }
}

/// Lets go of an item followed from the inspector, if the pane shows one; returns
/// whether it did (the inspector is then to be shown as it was).
pub fn leave_followed(app: &mut App) -> bool {
    let followed = app.view == PaneView::Detail && app.detail.followed;
    if followed {
        app.detail.shown = None;
        app.detail.followed = false;
    }
    followed
}

/// Keys while the inspector has the focus; `false` when the key is not its.
pub fn key(app: &mut App, action: &Action, page: usize, fx: &mut Vec<Effect>) -> bool {
    if app.view != PaneView::Manifest {
        return false;
    }
    // `x` and `o` reach an inspector in sight from the list too (a wide screen shows it
    // beside the list, which keeps the keys after `m`): they mean nothing else there.
    let toggle = matches!(action, Action::ToggleShards | Action::ToggleRefs);
    if app.focus != Focus::Detail && !(toggle && super::update::pane_visible(app)) {
        return false;
    }
    let n = match &app.inspect.shown {
        Some(Ok(v)) => v.rows.len(),
        _ => 0,
    };
    let p = &mut app.inspect;
    let last = n.saturating_sub(1);
    match action {
        Action::Down => p.sel = (p.sel + 1).min(last),
        Action::Up => p.sel = p.sel.saturating_sub(1),
        Action::PageDown => p.sel = (p.sel + page).min(last),
        Action::PageUp => p.sel = p.sel.saturating_sub(page),
        Action::Top => p.sel = 0,
        Action::Bottom => p.sel = last,
        Action::ToggleShards | Action::ToggleRefs => {
            if matches!(action, Action::ToggleShards) {
                p.expand_shards = !p.expand_shards;
            } else {
                p.follow_refs = !p.follow_refs;
            }
            if let Some(id) = p.want.as_ref().map(|w| w.id) {
                request(app, id, fx);
            }
        }
        Action::Enter => {
            let row = match &app.inspect.shown {
                Some(Ok(v)) => v.rows.get(app.inspect.sel).cloned(),
                _ => None,
            };
            let manifest = app.inspect.want.as_ref().map(|w| w.id);
            match (row, manifest) {
                // A file in a shard: previewed inside the archive.
                (
                    Some(EntryRow {
                        in_shard: Some((sha256, name)),
                        key,
                        ..
                    }),
                    Some(id),
                ) => preview::show_linked(app, id, LinkedBlob { sha256, name }, Some(key), fx),
                (
                    Some(EntryRow {
                        sha256: Some(sha),
                        key,
                        ..
                    }),
                    _,
                ) => fx.push(Effect::FindBlob {
                    sha,
                    name: key,
                    seq: app.inspect.seq,
                }),
                _ => app.warn("this entry links no blob"),
            }
        }
        _ => return false,
    }
    true
}
