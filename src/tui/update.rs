//! [`update`]: the one place the state changes. Actions come from keys, the mouse, the
//! workers and the clock; what needs I/O goes out as [`Effect`]s.

use cachet::filter::{Count, StatusCounts};
use ratatui::layout::Position;

use super::app::{App, Focus, Op, Popup};
use super::columns;
use super::filter_bar;
use super::gc;
use super::inspect;
use super::marks;
use super::model::{ListQuery, Tab, next_sort, sort_title, sort_up};
use super::preview::{self, PaneView};
use super::source::all_exact;
use super::ui;

pub use super::action::{Action, Effect};

/// The effects that open the browser: the first page, then the counts (so rows show
/// before a million rows are counted).
pub fn start(app: &mut App) -> Vec<Effect> {
    let mut fx: Vec<Effect> = app
        .list
        .wanted()
        .into_iter()
        .map(Effect::LoadPage)
        .collect();
    fx.push(count(app, false));
    fx
}

/// Counts for the tabs under the filter in force.
pub fn count(app: &App, exact: bool) -> Effect {
    Effect::Count {
        filter: app.list.query.filter.clone(),
        exact,
        since: None,
    }
}

/// Counts of the list shown (`shown`) as `new` ones come in. They come capped first
/// (`1000+`), then exact: a recount of the same list (the clock's, a change's) keeps an
/// exact figure the cap agrees with until the exact one comes, rather than blinking to
/// `1000+` and back every time.
fn kept_exact(shown: StatusCounts, new: StatusCounts) -> StatusCounts {
    let keep = |old: Count, new: Count| {
        if old.exact && !new.exact && old.n >= new.n {
            old
        } else {
            new
        }
    };
    StatusCounts {
        all: keep(shown.all, new.all),
        uninitialized: keep(shown.uninitialized, new.uninitialized),
        write: keep(shown.write, new.write),
        ready: keep(shown.ready, new.ready),
        failed: keep(shown.failed, new.failed),
        trash: keep(shown.trash, new.trash),
        stale: keep(shown.stale, new.stale),
    }
}

/// Applies `action` to `app` and returns the effects to run.
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    let mut fx = Vec::new();
    handle(app, action, &mut fx);
    follow(app, &mut fx);
    fx
}

/// The work every state needs after a change: pages in view, versions of the detail.
fn follow(app: &mut App, fx: &mut Vec<Effect>) {
    fx.extend(app.list.wanted().into_iter().map(Effect::LoadPage));
    // The versions of what the pane shows: the selection, a version of it, or an item
    // of another key jumped to from the manifest inspector.
    let key = app.detail_item().map(|i| i.key.clone());
    if key.is_some() && key != app.detail.key {
        app.detail.key = key.clone();
        app.detail.versions.clear();
        app.detail.sel = 0;
        app.detail.scroll_to(0);
        if let Some(key) = key {
            fx.push(Effect::LoadVersions { key });
        }
    }
    let visible = pane_visible(app);
    preview::follow(app, visible, fx);
    inspect::follow(app, visible, fx);
}

/// Recomputes the layout-dependent state after a resize.
pub fn fit(app: &mut App) {
    let areas = ui::screen(app);
    app.list.set_height(usize::from(areas.list_rows.height));
}

fn handle(app: &mut App, action: Action, fx: &mut Vec<Effect>) {
    use Action as A;
    // What happened last is old news once the user moves on.
    if app.popup.is_none()
        && matches!(
            action,
            A::Up
                | A::Down
                | A::PageUp
                | A::PageDown
                | A::HalfPageUp
                | A::HalfPageDown
                | A::Top
                | A::Bottom
                | A::Scroll { .. }
                | A::Click { .. }
                | A::SetTab(_)
                | A::NextTab
                | A::PrevTab
                | A::Enter
                | A::ToggleView
                | A::ToggleManifest
                | A::OpenFilter
        )
    {
        app.message = None;
    }
    // Results and the clock are taken whatever is open.
    match action {
        A::Counted { filter, counts } => {
            if filter == app.list.query.filter.as_str() {
                let counts = match app.counts {
                    Some(shown) => kept_exact(shown, counts),
                    None => counts,
                };
                app.counts = Some(counts);
                app.list.set_total(counts.get(app.tab().filter_tab()));
                if !all_exact(&counts) {
                    fx.push(count(app, true));
                }
            }
            return;
        }
        A::Filtered { seq, result } => {
            return filter_bar::loaded(app, seq, result.map(|f| *f), fx);
        }
        A::PageLoaded(data) => return app.list.loaded(data),
        A::PageFailed {
            generation,
            message,
        } => {
            if generation == app.list.generation {
                app.warn(format!("listing failed: {message} (r to retry)"));
            }
            return;
        }
        A::VersionsLoaded {
            key,
            items,
            manifests,
        } => {
            if app.detail.key.as_deref() == Some(key.as_str()) {
                app.detail.manifests = manifests;
                let current = app.detail_item().map(|i| i.id);
                app.detail.sel = items
                    .iter()
                    .position(|i| Some(i.id) == current)
                    .unwrap_or(0);
                app.detail.versions = items;
            }
            return;
        }
        A::Planned(plan) => {
            app.busy = None;
            if plan.ids.is_empty() {
                let why = (plan.skipped.first())
                    .map(|(id, why)| match plan.skipped.len() {
                        1 => format!("item {id} {why}"),
                        n => format!("{n} items: item {id} {why}, …"),
                    })
                    .unwrap_or_else(|| "nothing selected".into());
                app.warn(format!("{}: nothing to do ({why})", plan.op.verb()));
            } else if matches!(plan.op, Op::Pin | Op::Unpin) {
                marks::apply(app, plan, fx);
            } else {
                app.popup = Some(Popup::Confirm(plan));
            }
            return;
        }
        A::Applied {
            op,
            items,
            errors,
            freed,
        } => return marks::applied(app, op, items, errors, freed, fx),
        A::Copied { text, what } => {
            app.say(format!("copied {what}: {text}"));
            fx.push(Effect::Clipboard(text));
            return;
        }
        A::JobFailed(message) => {
            app.busy = None;
            app.warn(message);
            return;
        }
        A::PreviewLoaded { seq, result } => {
            return preview::loaded(app, seq, result.map(|p| *p));
        }
        A::GcPlanned { .. } | A::GcProgress { .. } | A::GcApplied(_) => {
            return gc::result(app, action, fx);
        }
        A::ColumnsLoaded(names) => return columns::loaded(app, names),
        A::ManifestLoaded { seq, result } => {
            return inspect::loaded(app, seq, result.map(|v| *v));
        }
        A::Jumped {
            sha,
            name,
            seq,
            item,
        } => {
            return inspect::jumped(app, (sha, name, seq), item.map(|i| *i), fx);
        }
        A::Changed => return refresh(app, fx),
        A::Clock(now) => {
            let since = std::mem::replace(&mut app.now, now);
            fx.push(Effect::Count {
                filter: app.list.query.filter.clone(),
                exact: false,
                // With no counts shown (the last count failed), a count whatever time did.
                since: app.counts.is_some().then_some(since),
            });
            return;
        }
        A::Resize(w, h) => {
            app.size = (w, h);
            fit(app);
            return;
        }
        _ => {}
    }
    // A two-key command ends with the next key, whatever it is.
    app.pending_key = None;
    if let Some(popup) = app.popup.clone() {
        return popup_key(app, popup, action, fx);
    }
    if filter_bar::key(app, &action, fx) {
        return;
    }
    if preview::key(app, &action, page(app), fx) || inspect::key(app, &action, page(app), fx) {
        return;
    }
    match action {
        A::Up => step(app, -1),
        A::Down => step(app, 1),
        A::PageUp => page_step(app, -(page(app) as isize)),
        A::PageDown => page_step(app, page(app) as isize),
        A::HalfPageUp => page_step(app, -(page(app) as isize / 2).max(1)),
        A::HalfPageDown => page_step(app, (page(app) as isize / 2).max(1)),
        A::Top => match app.focus {
            Focus::List => app.list.select(0),
            Focus::Detail => {
                app.detail.sel = 0;
                app.detail.scroll_to(0);
            }
        },
        A::Bottom => match app.focus {
            Focus::List => app.list.select(usize::MAX),
            Focus::Detail => {
                let bottom = ui::detail::max_scroll(app);
                app.detail.scroll_to(bottom);
            }
        },
        A::Scroll { delta, column, row } => {
            let areas = ui::screen(app);
            let at = Position::new(column, row);
            if areas.pane.is_some_and(|p| p.contains(at)) {
                app.focus = Focus::Detail;
                page_step(app, delta);
            } else {
                app.list.scroll(delta);
            }
        }
        A::Click { column, row } => click(app, column, row, fx),
        A::SetTab(tab) => set_tab(app, tab, fx),
        A::NextTab => set_tab(app, Tab::ALL[(app.tab().index() + 1) % Tab::ALL.len()], fx),
        A::PrevTab => set_tab(
            app,
            Tab::ALL[(app.tab().index() + Tab::ALL.len() - 1) % Tab::ALL.len()],
            fx,
        ),
        A::SortNext | A::SortReverse => {
            let mut q = app.list.query.clone();
            if matches!(action, A::SortNext) {
                q.sort = next_sort(&q.sort, &ui::list::sort_keys(app));
            } else {
                q.sort.desc = !q.sort.desc;
            }
            let dir = if sort_up(&q.sort) {
                "ascending"
            } else {
                "descending"
            };
            app.say(format!("sorted by {} {dir}", sort_title(&q.sort)));
            requery(app, q, fx);
        }
        A::OpenFilter => filter_bar::open(app),
        A::FilterCell => filter_bar::add_cell(app, fx),
        A::ToggleMark => marks::toggle(app),
        A::MarkAll => marks::mark_all(app, fx),
        A::MarkedAll { query, result } => marks::marked_all(app, query, result),
        A::Ask(op) => marks::ask(app, op, fx),
        A::TogglePin => {
            // Unpin when every target is pinned (as far as the loaded rows tell), else
            // pin; the plan skips the items already so.
            let targets = app.targets();
            let all_pinned = !targets.is_empty()
                && targets.iter().all(|id| {
                    app.detail_item()
                        .filter(|i| i.id == *id)
                        .or_else(|| app.list.find(*id))
                        .is_some_and(|i| i.pinned)
                });
            marks::ask(app, if all_pinned { Op::Unpin } else { Op::Pin }, fx);
        }
        A::Copy { key } => match app.detail_item() {
            Some(item) => fx.push(Effect::CopyOf { id: item.id, key }),
            None => app.warn("nothing selected"),
        },
        A::Refresh => {
            app.say("refreshed");
            refresh(app, fx);
        }
        A::Help => {
            app.popup = Some(Popup::Help);
            app.help_scroll = 0;
        }
        A::PickColumns => columns::open(fx),
        A::ToggleView | A::ToggleManifest => {
            let wanted = if matches!(action, A::ToggleView) {
                PaneView::Preview
            } else {
                PaneView::Manifest
            };
            // A pane in sight switches between the view and the detail; a hidden one
            // (narrow screen) opens on what the key names, whatever it showed last.
            if !pane_visible(app) {
                to_detail(app);
            }
            if wanted == PaneView::Preview {
                preview::toggle(app);
            } else {
                inspect::toggle(app);
            }
            if !pane_visible(app) {
                app.focus = Focus::Detail;
                fit(app);
            }
        }
        A::Enter => match app.focus {
            Focus::List => {
                if app.list.selected().is_some() {
                    // Out of sight, the pane opens on the detail, as `enter` says.
                    if !pane_visible(app) {
                        to_detail(app);
                    }
                    app.focus = Focus::Detail;
                    fit(app);
                }
            }
            Focus::Detail => {
                if let Some(v) = app.detail.versions.get(app.detail.sel).cloned() {
                    let same = app.list.selected().is_some_and(|s| s.id == v.id);
                    app.detail.shown = if same { None } else { Some(v) };
                    app.detail.followed = false;
                }
            }
        },
        A::Back => back(app, fx),
        A::Quit => app.quit = true,
        A::Prefix(c) => app.pending_key = Some(c),
        A::Gc => gc::open(app),
        A::Confirm | A::Cancel => {}
        _ => {}
    }
}

fn popup_key(app: &mut App, popup: Popup, action: Action, fx: &mut Vec<Effect>) {
    match (popup, action) {
        (Popup::Gc(dialog), action) => gc::key(app, dialog, action, fx),
        (Popup::Columns(picker), action) => columns::key(app, picker, action, fx),
        (_, Action::Quit) => app.quit = true,
        (Popup::Confirm(plan), Action::Confirm) => {
            app.popup = None;
            marks::apply(app, plan, fx);
        }
        (Popup::Confirm(plan), Action::Cancel | Action::Back) => {
            app.popup = None;
            app.say(format!("{} cancelled", plan.op.verb().to_lowercase()));
        }
        (Popup::Help, Action::Back | Action::Cancel | Action::Help) => app.popup = None,
        (Popup::Help, Action::Enter | Action::Confirm) => app.popup = None,
        (Popup::Help, Action::Down) => app.help_scroll += 1,
        (Popup::Help, Action::Up) => app.help_scroll = app.help_scroll.saturating_sub(1),
        _ => {}
    }
}

/// Rows a page key moves: a screenful of what has the keys, less one for context.
fn page(app: &App) -> usize {
    let rows = match app.focus {
        Focus::List => app.list.height,
        // The detail pane's text rows: the pane less its border.
        Focus::Detail => ui::pane_inner(app).map_or(0, |p| usize::from(p.height)),
    };
    rows.max(2) - 1
}

/// `j`/`k`: the list's selection, or in the detail pane the version selection (the pane
/// scrolls to keep it in view).
fn step(app: &mut App, delta: isize) {
    match app.focus {
        Focus::List => app.list.step(delta),
        Focus::Detail => {
            let n = app.detail.versions.len();
            if n > 0 {
                let sel = app.detail.sel as isize + delta;
                app.detail.sel = sel.clamp(0, n as isize - 1) as usize;
                app.detail.follow_sel = true;
            }
        }
    }
}

/// Page keys and the wheel: the list's selection, or the detail pane's text.
fn page_step(app: &mut App, delta: isize) {
    match app.focus {
        Focus::List => app.list.step(delta),
        Focus::Detail => {
            let max = ui::detail::max_scroll(app);
            let to = app.detail.scroll.saturating_add_signed(delta).min(max);
            app.detail.scroll_to(to);
        }
    }
}

fn set_tab(app: &mut App, tab: Tab, fx: &mut Vec<Effect>) {
    if tab == app.tab() {
        return;
    }
    let q = ListQuery {
        tab,
        ..app.list.query.clone()
    };
    requery(app, q, fx);
}

/// Lists something else (another tab or order: the counts stay what they are), with the
/// selection on the same item if the new list holds it.
pub fn requery(app: &mut App, q: ListQuery, fx: &mut Vec<Effect>) {
    app.list.reset_holding(q);
    app.detail = Default::default();
    match app.counts {
        Some(counts) => app.list.set_total(counts.get(app.tab().filter_tab())),
        None => fx.push(count(app, false)),
    }
}

/// Reads counts and the visible rows again.
pub(super) fn refresh(app: &mut App, fx: &mut Vec<Effect>) {
    app.list.reload();
    if let Some(key) = app.detail.key.clone() {
        fx.push(Effect::LoadVersions { key });
    }
    fx.push(count(app, false));
}

/// The pane back on the detail (a preview or inspection is left as its toggle leaves it).
fn to_detail(app: &mut App) {
    match app.view {
        PaneView::Preview => preview::toggle(app),
        PaneView::Manifest => inspect::toggle(app),
        PaneView::Detail => {}
    }
}

/// Whether the screen shows the right-hand pane now.
pub fn pane_visible(app: &App) -> bool {
    ui::screen(app).pane.is_some()
}

fn back(app: &mut App, fx: &mut Vec<Effect>) {
    if app.focus == Focus::Detail && inspect::leave_followed(app) {
        preview::set_view(app, PaneView::Manifest);
    } else if app.focus == Focus::Detail {
        app.focus = Focus::List;
        app.detail.shown = None;
        app.detail.followed = false;
        app.detail.scroll_to(0);
        fit(app);
    } else if !app.marks.is_empty() {
        app.marks.clear();
        app.say("marks cleared");
    } else if !filter_bar::clear(app, fx) {
        app.message = None;
    }
}

fn click(app: &mut App, column: u16, row: u16, fx: &mut Vec<Effect>) {
    let areas = ui::screen(app);
    let at = Position::new(column, row);
    if areas.tabs.contains(at) {
        if let Some(tab) = ui::tab_at(app, column - areas.tabs.x) {
            set_tab(app, tab, fx);
        }
    } else if areas.list_rows.contains(at) {
        app.focus = Focus::List;
        let i = app.list.offset + usize::from(row - areas.list_rows.y);
        // Below the last row is no row.
        if i < app.list.len() {
            app.list.select(i);
        }
    } else if areas.pane.is_some_and(|p| p.contains(at)) {
        app.focus = Focus::Detail;
    }
}

/// `1 item`, `3 items`.
pub fn items_word(n: usize) -> String {
    cachet::units::count_of(n as u64, "item", "items")
}
