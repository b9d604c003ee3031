//! Garbage collection from the browser, each job on a thread of its own with a cache of
//! its own: a plan of a million items takes seconds, and the worker meanwhile goes on
//! loading pages and filtering; a plan let go (`esc` while it is made) runs out there,
//! its answer dropped on arrival.

use std::path::PathBuf;
use std::sync::mpsc::Sender;

use cachet::Cache;
use cachet::gc::{GcPlan, GcPolicy};
use chrono::Utc;

use super::super::Msg;
use super::super::update::Action;

/// Makes the plan asked for as number `asked` under `policy`, and sends it.
pub fn spawn_plan(root: PathBuf, policy: GcPolicy, asked: u64, out: Sender<Msg>) {
    std::thread::spawn(move || {
        let action = match Cache::open_to_read(&root) {
            Ok(cache) => plan(&cache, &policy, asked),
            Err(e) => Action::GcPlanned {
                asked,
                result: Err(format!("opening the cache: {e}")),
            },
        };
        let _ = out.send(Msg::Action(action));
    });
}

/// The plan asked for as number `asked`, as of now.
pub fn plan(cache: &Cache, policy: &GcPolicy, asked: u64) -> Action {
    Action::GcPlanned {
        asked,
        result: cachet::gc::plan(cache, policy, Utc::now())
            .map(Box::new)
            .map_err(|e| format!("planning: {e}")),
    }
}

/// Applies a gc plan on a thread of its own (with its own cache), sending progress and
/// then the report.
pub fn spawn_apply(root: PathBuf, plan: GcPlan, out: Sender<Msg>) {
    std::thread::spawn(move || {
        let action = match Cache::open(&root) {
            Ok(cache) => apply(&cache, &plan, &mut |a| {
                let _ = out.send(Msg::Action(a));
            }),
            Err(e) => Action::GcApplied(Err(format!("opening the cache: {e}"))),
        };
        let _ = out.send(Msg::Action(action));
    });
}

/// Applies `plan`, reporting progress through `progress`.
pub fn apply(cache: &Cache, plan: &GcPlan, progress: &mut dyn FnMut(Action)) -> Action {
    let outcome = cachet::gc::apply(
        cache,
        plan,
        &mut |p| {
            progress(Action::GcProgress {
                done: p.done,
                total: p.total,
            })
        },
        None,
    );
    Action::GcApplied(outcome.map(Box::new).map_err(|e| format!("applying: {e}")))
}
