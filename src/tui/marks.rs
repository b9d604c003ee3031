//! Acting on items from the list: marks (`space`, `a` for the whole list), the question
//! before an action, and what the list shows once it is done.

use cachet::Item;

use super::app::{App, Op, Plan};
use super::model::ListQuery;
use super::update::{Effect, items_word};

/// `space`: marks the selected row, or unmarks it, and steps on.
pub fn toggle(app: &mut App) {
    if let Some(item) = app.list.selected() {
        let (id, size) = (item.id, item.size.unwrap_or(0));
        if app.marks.remove(&id).is_none() {
            app.marks.insert(id, size);
        }
        app.list.step(1);
    }
}

/// `a`: asks the worker for every row of the list.
pub fn mark_all(app: &mut App, fx: &mut Vec<Effect>) {
    app.busy = Some("marking the list…".into());
    fx.push(Effect::MarkAll(app.list.query.clone()));
}

/// The rows of the list `query` was, to mark.
pub fn marked_all(app: &mut App, query: ListQuery, result: Result<Vec<(i64, u64)>, String>) {
    app.busy = None;
    match result {
        // Marks for a list no longer shown would act on what is not on screen.
        Ok(_) if query != app.list.query => app.warn("the list changed: nothing marked"),
        Ok(rows) => {
            let n = rows.len();
            app.marks.extend(rows);
            app.say(format!("marked {} (all of the list)", items_word(n)));
        }
        Err(e) => app.warn(e),
    }
}

pub fn ask(app: &mut App, op: Op, fx: &mut Vec<Effect>) {
    let ids = app.targets();
    if ids.is_empty() {
        app.warn(if app.list.is_empty() {
            "nothing selected"
        } else {
            "the row is still loading"
        });
        return;
    }
    app.busy = Some(format!("checking {}…", items_word(ids.len())));
    fx.push(Effect::Plan { op, ids });
}

/// Applies `plan`, confirmed if it needed to be. The items it skips (in the wrong status
/// for it) are unmarked now, as those it changes will be: no mark is left for the next
/// action to act on unseen. Those that fail stay marked, to be tried again.
pub fn apply(app: &mut App, plan: Plan, fx: &mut Vec<Effect>) {
    for (id, _) in &plan.skipped {
        app.marks.remove(id);
    }
    app.busy = Some(format!(
        "{} {}…",
        plan.op.verb(),
        items_word(plan.ids.len())
    ));
    fx.push(Effect::Apply(plan));
}

pub fn applied(
    app: &mut App,
    op: Op,
    items: Vec<Item>,
    errors: Vec<String>,
    freed: u64,
    fx: &mut Vec<Effect>,
) {
    app.busy = None;
    for item in &items {
        app.list.update_item(item);
        app.marks.remove(&item.id);
        // The version the detail pane shows, and its list of versions, as they are now
        // (a second `p` on it decided by the old one pinned it again).
        let detail = &mut app.detail;
        let shown = detail.shown.iter_mut().chain(detail.versions.iter_mut());
        for stale in shown.filter(|v| v.id == item.id) {
            *stale = item.clone();
        }
    }
    let mut text = format!("{} {}", op.done(), items_word(items.len()));
    if op == Op::Purge {
        text.push_str(&format!(", freed {}", super::text::size(freed)));
    }
    if op == Op::Restore {
        text.push_str(&restored_as(&items));
    }
    match errors.first() {
        Some(first) => app.warn(format!("{text}; {} failed: {first}", errors.len())),
        None => app.say(text),
    }
    super::update::refresh(app, fx);
}

/// What restored items became (` as READY`, `: 2 READY, 1 FAILED`): not always what they
/// were, as one trashed mid-write comes back FAILED.
fn restored_as(items: &[Item]) -> String {
    let mut by_status: Vec<(cachet::Status, usize)> = Vec::new();
    for item in items {
        match by_status.iter_mut().find(|(s, _)| *s == item.status) {
            Some((_, n)) => *n += 1,
            None => by_status.push((item.status, 1)),
        }
    }
    match by_status.as_slice() {
        [] => String::new(),
        [(status, _)] => format!(" as {status}"),
        many => {
            let parts: Vec<String> = many.iter().map(|(s, n)| format!("{n} {s}")).collect();
            format!(": {}", parts.join(", "))
        }
    }
}
