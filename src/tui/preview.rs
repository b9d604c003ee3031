//! The preview pane's state and its part of `update`: which item (and member) is shown,
//! the request in flight, and keys while the pane has the focus.
//!
//! Latest wins: every request gets a new sequence number, the runtime cancels the job
//! before it (a flag the preview engine checks between entries and blocks), and a result
//! whose number is not the current one is dropped.

use cachet::preview::{Body, Content, MemberKind, Preview};

use super::app::{App, Focus};
use super::update::{Action, Effect};

/// What the right-hand pane shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PaneView {
    #[default]
    Detail,
    Preview,
    /// The manifest inspector (`m`).
    Manifest,
}

/// One preview job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewRequest {
    pub seq: u64,
    pub id: i64,
    /// A member of the item's archive (or of `blob`), or the item (or `blob`) itself.
    pub member: Option<String>,
    /// A blob a manifest of item `id` links, shown instead of the item's content.
    pub blob: Option<LinkedBlob>,
}

/// A blob a manifest links and no item holds (a dataset's file, a shard archive), to be
/// previewed from the manifest inspector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedBlob {
    pub sha256: String,
    /// The entry's key: shown, and a hint of the format.
    pub name: String,
}

#[derive(Debug, Clone, Default)]
pub struct PreviewPane {
    /// The request whose result is wanted.
    pub want: Option<PreviewRequest>,
    pub seq: u64,
    /// The result for `want`, once it came: the preview, or why there is none.
    pub shown: Option<Result<Preview, String>>,
    /// The archive listing, kept while one of its members is open (`esc` goes back).
    pub listing: Option<Preview>,
    /// Selected member in a listing.
    pub sel: usize,
    /// First content row shown (of the rows long lines wrap onto, when they do).
    pub scroll: usize,
    /// Whether long lines of text wrap onto the next rows (`w`), rather than being cut at
    /// the pane's edge. Kept from one preview to the next.
    pub wrap: bool,
    /// The first column shown of a table (`→` and `←` move it).
    pub col: usize,
}

impl PreviewPane {
    /// Nothing shown nor wanted; the sequence goes on, so that a late result is dropped.
    fn clear(&mut self) {
        *self = PreviewPane {
            seq: self.seq,
            wrap: self.wrap,
            ..PreviewPane::default()
        };
    }

    /// Whether it shows a blob opened from the manifest inspector (the inspector's, not
    /// the item's).
    fn linked(&self) -> bool {
        self.want.as_ref().is_some_and(|w| w.blob.is_some())
    }

    pub fn loading(&self) -> bool {
        self.want.is_some() && self.shown.is_none()
    }

    /// The columns of the table shown, if a table is.
    pub fn table_columns(&self) -> Option<usize> {
        match &self.shown {
            Some(Ok(Preview {
                body:
                    Body::Content {
                        content: Content::Table { header, rows, .. },
                    },
                ..
            })) => Some(cachet::preview::table_columns(header, rows)),
            _ => None,
        }
    }

    /// Members in the listing shown (0 for content that is no archive).
    pub fn members(&self) -> usize {
        match &self.shown {
            Some(Ok(Preview {
                body: Body::Members { members, .. },
                ..
            })) => members.len(),
            _ => 0,
        }
    }
}

/// Asks for the preview of the detail item when the pane shows previews and it changed.
pub fn follow(app: &mut App, visible: bool, fx: &mut Vec<Effect>) {
    if app.view != PaneView::Preview || !visible {
        return;
    }
    let Some(id) = app.detail_item().map(|i| i.id) else {
        if app.list.reloading() {
            return;
        }
        // Nothing selected (an empty tab): nothing shown, rather than the last item's.
        app.preview.want = None;
        app.preview.shown = None;
        return;
    };
    if app.preview.want.as_ref().is_some_and(|w| w.id == id) {
        return;
    }
    request(app, id, None, None, fx);
}

/// Shows in the preview pane the blob a manifest of item `id` links (`member`: a file in
/// it, when it is an archive), from the inspector.
pub fn show_linked(
    app: &mut App,
    id: i64,
    blob: LinkedBlob,
    member: Option<String>,
    fx: &mut Vec<Effect>,
) {
    set_view(app, PaneView::Preview);
    app.focus = Focus::Detail;
    request(app, id, member, Some(blob), fx);
}

fn request(
    app: &mut App,
    id: i64,
    member: Option<String>,
    blob: Option<LinkedBlob>,
    fx: &mut Vec<Effect>,
) {
    let p = &mut app.preview;
    p.seq += 1;
    // Nothing of an archive listed before (a member opened from a listing puts it back:
    // see `open_member`), so `esc` from a linked blob goes back to the inspector.
    p.listing = None;
    p.sel = 0;
    p.scroll = 0;
    p.col = 0;
    p.shown = None;
    let req = PreviewRequest {
        seq: p.seq,
        id,
        member,
        blob,
    };
    p.want = Some(req.clone());
    fx.push(Effect::LoadPreview(req));
}

/// Takes a result; one for an older request is dropped.
pub fn loaded(app: &mut App, seq: u64, result: Result<Preview, String>) {
    if app.preview.want.as_ref().is_some_and(|w| w.seq == seq) {
        app.preview.shown = Some(result);
    }
}

/// Shows `view` in the pane, whichever key asked. Leaving the preview lets go of it for
/// the detail (a later switch back previews the item selected then), and of a blob opened
/// from the inspector for anything (it is the inspector's: the next `v` previews the
/// item).
pub fn set_view(app: &mut App, view: PaneView) {
    let leaving = app.view == PaneView::Preview && view != PaneView::Preview;
    if leaving && (view == PaneView::Detail || app.preview.linked()) {
        app.preview.clear();
    }
    app.view = view;
}

/// Whether the pane shows a blob opened from the inspector.
pub fn showing_linked(app: &App) -> bool {
    app.view == PaneView::Preview && app.preview.linked()
}

/// `v`: switches the pane between detail and preview.
pub fn toggle(app: &mut App) {
    let view = match app.view {
        PaneView::Detail | PaneView::Manifest => PaneView::Preview,
        PaneView::Preview => PaneView::Detail,
    };
    set_view(app, view);
}

/// Keys while the preview pane has the focus; `false` when the key is not the pane's.
pub fn key(app: &mut App, action: &Action, page: usize, fx: &mut Vec<Effect>) -> bool {
    // `w` reaches a preview in sight from the list too, as `x` and `o` the inspector.
    let wrap = matches!(action, Action::ToggleWrap) && super::update::pane_visible(app);
    if app.view != PaneView::Preview || (app.focus != Focus::Detail && !wrap) {
        return false;
    }
    let members = app.preview.members();
    let rewrapped = wrap.then(|| super::ui::preview::scroll_after_wrap(app));
    // The last screenful is as far as content scrolls.
    let last_top = super::ui::preview::max_scroll(app);
    let p = &mut app.preview;
    let mv = |p: &mut PreviewPane, delta: isize| {
        if members > 0 {
            p.sel = p.sel.saturating_add_signed(delta).min(members - 1);
        } else {
            p.scroll = p.scroll.saturating_add_signed(delta).min(last_top);
        }
    };
    match action {
        Action::Down => mv(p, 1),
        Action::Up => mv(p, -1),
        Action::PageDown => mv(p, page as isize),
        Action::PageUp => mv(p, -(page as isize)),
        Action::HalfPageDown => mv(p, (page / 2).max(1) as isize),
        Action::HalfPageUp => mv(p, -((page / 2).max(1) as isize)),
        Action::Top => {
            p.sel = 0;
            p.scroll = 0;
        }
        Action::Bottom => mv(p, isize::MAX / 2),
        Action::Enter => open_member(app, fx),
        Action::ColumnRight => {
            let last = p.table_columns().unwrap_or(0).saturating_sub(1);
            p.col = (p.col + 1).min(last);
        }
        Action::ColumnLeft => p.col = p.col.saturating_sub(1),
        Action::ToggleWrap => {
            p.wrap = !p.wrap;
            p.scroll = rewrapped.unwrap_or(0);
        }
        // A blob opened from the manifest inspector: back to the inspector, as it was.
        Action::Back if app.preview.listing.is_none() && app.preview.linked() => {
            set_view(app, PaneView::Manifest);
        }
        Action::Back if app.preview.listing.is_some() => {
            let p = &mut app.preview;
            let listing = p.listing.take();
            if let Some(w) = &mut p.want {
                w.member = None;
            }
            p.shown = listing.map(Ok);
            p.scroll = 0;
            p.col = 0;
        }
        _ => return false,
    }
    true
}

fn open_member(app: &mut App, fx: &mut Vec<Effect>) {
    let Some(Ok(listing)) = app.preview.shown.clone() else {
        return;
    };
    let Body::Members { members, .. } = &listing.body else {
        return;
    };
    let Some(m) = members.get(app.preview.sel) else {
        return;
    };
    if m.kind != MemberKind::File {
        app.warn(format!("{} is not a file", m.path));
        return;
    }
    let Some(want) = app.preview.want.clone() else {
        return;
    };
    let sel = app.preview.sel;
    request(app, want.id, Some(m.path.clone()), want.blob, fx);
    app.preview.listing = Some(listing);
    app.preview.sel = sel;
}
