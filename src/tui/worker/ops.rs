//! The worker's changes to the cache: plans for what an action would do, the action
//! itself, and what `y`/`Y` copy.

use anyhow::{Context, Result};
use cachet::{Cache, Status};

use crate::tui::app::{Op, Plan};
use crate::tui::update::Action;

/// Works out what `op` on `ids` would do, without doing it.
pub fn plan(cache: &Cache, op: Op, ids: &[i64]) -> Result<Plan> {
    let items = cache.get_each(ids).context("reading the items")?;
    let mut plan = Plan {
        op,
        ids: Vec::new(),
        skipped: Vec::new(),
        bytes: 0,
        frees: Default::default(),
        pinned: 0,
        to_failed: 0,
        writing: 0,
    };
    let now = chrono::Utc::now();
    let mut chosen = Vec::new();
    for (id, item) in items {
        // A row that cannot be read (edited by hand) is left out, with why.
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                plan.skipped.push((id, format!("cannot be read: {e}")));
                continue;
            }
        };
        let why = match (op, item.status) {
            (Op::Trash, Status::Trash) => Some("is already in the trash"),
            (Op::Restore | Op::Purge, s) if s != Status::Trash => Some("is not in the trash"),
            (Op::Pin, _) if item.pinned => Some("is already pinned"),
            (Op::Unpin, _) if !item.pinned => Some("is not pinned"),
            _ => None,
        };
        match why {
            Some(why) => plan.skipped.push((item.id, why.to_string())),
            None => {
                plan.ids.push(item.id);
                plan.bytes += item.size.unwrap_or(0);
                plan.pinned += usize::from(item.pinned);
                let failed = item.restores_to() == Some(Status::Failed);
                plan.to_failed += usize::from(failed && item.trashed_from != Some(Status::Failed));
                plan.writing += usize::from(item.status == Status::Write && !item.is_stale(now));
                chosen.push(item);
            }
        }
    }
    if op == Op::Purge {
        plan.frees = cache
            .purge_frees(&chosen)
            .context("counting what the purge frees")?;
    }
    Ok(plan)
}

pub fn apply(cache: &Cache, plan: &Plan) -> Action {
    let mut errors = Vec::new();
    let mut freed = 0;
    let one_by_one = |change: &mut dyn FnMut(i64) -> cachet::Result<cachet::Item>| {
        (plan.ids.iter()).map(|&id| change(id)).collect::<Vec<_>>()
    };
    // Trash and restore change every marked item in one transaction.
    let outcomes = match plan.op {
        Op::Trash => cache.trash_many(&plan.ids),
        Op::Restore => cache.restore_many(&plan.ids),
        Op::Pin => Ok(one_by_one(&mut |id| cache.pin(id, true))),
        Op::Unpin => Ok(one_by_one(&mut |id| cache.pin(id, false))),
        Op::Purge => Ok(one_by_one(&mut |id| {
            let (item, blob_deleted) = cache.purge(id)?;
            if blob_deleted {
                freed += item.size.unwrap_or(0);
            }
            Ok(item)
        })),
    };
    let mut items = Vec::new();
    match outcomes {
        Ok(outcomes) => {
            for (id, outcome) in plan.ids.iter().zip(outcomes) {
                match outcome {
                    Ok(item) => items.push(item),
                    Err(e) => errors.push(format!("item {id}: {e}")),
                }
            }
        }
        Err(e) => errors.push(e.to_string()),
    }
    Action::Applied {
        op: plan.op,
        items,
        errors,
        freed,
    }
}

pub fn copy_of(cache: &Cache, id: i64, key: bool) -> Action {
    let item = match cache.get(id) {
        Ok(item) => item,
        Err(e) => return Action::JobFailed(e.to_string()),
    };
    if key {
        return Action::Copied {
            text: item.key,
            what: "key".into(),
        };
    }
    match cache.content_path(&item) {
        Ok(path) => Action::Copied {
            text: path.display().to_string(),
            what: "path".into(),
        },
        Err(e) => Action::JobFailed(format!("no content path: {e} (Y copies the key)")),
    }
}
