//! Garbage collection by hand: choose policies, read the plan (items, reasons, exclusive
//! and shared bytes), confirm, watch it apply, read the report. The plan and the apply
//! are `cachet::gc`'s; this is the dialog around them.

use std::cell::Cell;
use std::time::Duration;

use cachet::gc::{GcPlan, GcPolicy, GcReport};

use super::app::{App, Popup};
use super::update::{Action, Effect};

/// One choosable policy and its settings, the first being "off".
pub struct Choice {
    pub name: &'static str,
    pub options: &'static [&'static str],
}

const DAY: u64 = 86_400;

pub const CHOICES: [Choice; 6] = [
    Choice {
        name: "empty the trash",
        options: &["off", "all of it", "trashed over 7d ago"],
    },
    Choice {
        name: "stale writes and failures",
        options: &["off", "any age", "older than 1d", "older than 7d"],
    },
    Choice {
        name: "keep the newest versions",
        options: &["off", "1 per key", "3 per key", "5 per key"],
    },
    Choice {
        name: "not used for",
        options: &["off", "7d", "30d", "90d"],
    },
    Choice {
        name: "shrink the cache to",
        options: &["off", "100 MiB", "1 GiB", "10 GiB"],
    },
    Choice {
        name: "orphan blobs and temp files",
        options: &["off", "older than 1h", "any age"],
    },
];

#[derive(Debug, Clone)]
pub enum Stage {
    Choose,
    Planning,
    Plan(Box<GcPlan>),
    Applying { done: u64, total: u64 },
    Report(Box<GcReport>),
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct GcDialog {
    pub stage: Stage,
    /// The option chosen for each of [`CHOICES`].
    pub chosen: [usize; 6],
    pub cursor: usize,
    /// The first entry of the plan's "what goes" list on screen: a plan can hold a
    /// million entries, and only the ones shown are ever formatted.
    pub scroll: usize,
    /// How many entries the last frame had room for, so that scrolling stops with the
    /// last entry at the bottom.
    pub room: Cell<usize>,
    /// The dialog's keys shown in its place (`?`), over whatever stage it is at.
    pub help: bool,
}

impl GcDialog {
    /// Starts from the everyday collection: the trash, old failures, old orphans.
    pub fn new() -> GcDialog {
        GcDialog {
            stage: Stage::Choose,
            chosen: [1, 2, 0, 0, 0, 1],
            cursor: 0,
            scroll: 0,
            room: Cell::new(1),
            help: false,
        }
    }

    /// The policy the choices make.
    pub fn policy(&self) -> GcPolicy {
        let c = self.chosen;
        let days = |n: u64| Duration::from_secs(n * DAY);
        GcPolicy {
            trash: [None, Some(Duration::ZERO), Some(days(7))][c[0].min(2)],
            stale: [None, Some(Duration::ZERO), Some(days(1)), Some(days(7))][c[1].min(3)],
            keep_last: [None, Some(1), Some(3), Some(5)][c[2].min(3)],
            max_age: [None, Some(days(7)), Some(days(30)), Some(days(90))][c[3].min(3)],
            max_size: [None, Some(100 << 20), Some(1 << 30), Some(10 << 30)][c[4].min(3)],
            orphans: c[5] > 0,
            grace: if c[5] == 2 {
                Duration::ZERO
            } else {
                Duration::from_secs(3600)
            },
        }
    }
}

impl Default for GcDialog {
    fn default() -> Self {
        GcDialog::new()
    }
}

/// `gc`: opens the dialog, with the settings it had when it was last closed.
pub fn open(app: &mut App) {
    let mut dialog = Box::<GcDialog>::default();
    if let Some(chosen) = app.gc_chosen {
        dialog.chosen = chosen;
    }
    app.popup = Some(Popup::Gc(dialog));
}

/// Keys while the dialog is open.
pub fn key(app: &mut App, mut dialog: Box<GcDialog>, action: Action, fx: &mut Vec<Effect>) {
    match (&dialog.stage, action) {
        (Stage::Applying { .. }, Action::Quit) => {
            app.warn("garbage collection is running; quit when it is done");
            return;
        }
        (_, Action::Quit) => {
            app.quit = true;
            return;
        }
        (_, Action::Help) => dialog.help = !dialog.help,
        // The keys shown: any key that would go back closes them, the dialog stays.
        (_, Action::Back | Action::Cancel) if dialog.help => dialog.help = false,
        (_, _) if dialog.help => {}
        (Stage::Choose, Action::Down) => dialog.cursor = (dialog.cursor + 1) % CHOICES.len(),
        (Stage::Choose, Action::Up) => {
            dialog.cursor = (dialog.cursor + CHOICES.len() - 1) % CHOICES.len()
        }
        (Stage::Choose, Action::ToggleMark | Action::Enter) => {
            let n = CHOICES[dialog.cursor].options.len();
            dialog.chosen[dialog.cursor] = (dialog.chosen[dialog.cursor] + 1) % n;
        }
        (Stage::Choose, Action::StepBack) => {
            let n = CHOICES[dialog.cursor].options.len();
            dialog.chosen[dialog.cursor] = (dialog.chosen[dialog.cursor] + n - 1) % n;
        }
        (Stage::Choose, Action::Confirm) => {
            fx.push(Effect::PlanGc(Box::new(dialog.policy())));
            dialog.stage = Stage::Planning;
        }
        (
            Stage::Plan(plan),
            step @ (Action::Down
            | Action::Up
            | Action::PageDown
            | Action::PageUp
            | Action::Top
            | Action::Bottom),
        ) => {
            let entries = plan.items.len() + plan.files.len();
            // Entries that fit as last drawn; the drawing keeps the last page full.
            let page = dialog.room.get().max(1);
            let last = entries.saturating_sub(page);
            let at = dialog.scroll.min(last);
            dialog.scroll = match step {
                Action::Down => (at + 1).min(last),
                Action::Up => at.saturating_sub(1),
                Action::PageDown => (at + page).min(last),
                Action::PageUp => at.saturating_sub(page),
                Action::Top => 0,
                _ => entries,
            };
        }
        (Stage::Plan(plan), Action::Confirm) if !plan.is_empty() => {
            let total = (plan.items.len() + plan.files.len()) as u64;
            // Handed over, not copied: a plan can hold a million entries.
            let applying = Stage::Applying { done: 0, total };
            if let Stage::Plan(plan) = std::mem::replace(&mut dialog.stage, applying) {
                fx.push(Effect::ApplyGc(plan));
            }
        }
        (Stage::Plan(_) | Stage::Failed(_), Action::Back | Action::Cancel) => {
            dialog.stage = Stage::Choose
        }
        (Stage::Choose | Stage::Report(_), Action::Back | Action::Cancel | Action::Confirm) => {
            app.gc_chosen = Some(dialog.chosen);
            app.popup = None;
            return;
        }
        _ => {}
    }
    app.popup = Some(Popup::Gc(dialog));
}

/// Results of planning and applying; they are dropped when the dialog was closed.
pub fn result(app: &mut App, action: Action, fx: &mut Vec<Effect>) {
    let Some(Popup::Gc(dialog)) = &mut app.popup else {
        return;
    };
    let mut changed = false;
    // What the status line says once the dialog is gone: the outcome, not the last words
    // before it opened.
    let mut outcome_line = None;
    match (action, &dialog.stage) {
        (Action::GcPlanned(Ok(plan)), Stage::Planning) => {
            dialog.stage = Stage::Plan(plan);
            dialog.scroll = 0;
        }
        (Action::GcPlanned(Err(e)), Stage::Planning) => dialog.stage = Stage::Failed(e),
        (Action::GcProgress { done, total }, Stage::Applying { .. }) => {
            dialog.stage = Stage::Applying { done, total }
        }
        (Action::GcApplied(outcome), Stage::Applying { .. }) => {
            outcome_line = Some(match &outcome {
                Ok(report) => Ok(format!("gc: {report}")),
                Err(e) => Err(format!("gc failed: {e}")),
            });
            dialog.stage = match outcome {
                Ok(report) => Stage::Report(report),
                Err(e) => Stage::Failed(e),
            };
            changed = true;
        }
        _ => {}
    }
    match outcome_line {
        Some(Ok(line)) => app.say(line),
        Some(Err(line)) => app.warn(line),
        None => {}
    }
    if changed {
        fx.push(super::update::count(app, false));
        app.list.reload();
    }
}
