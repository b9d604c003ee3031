//! Garbage collection by hand: choose policies, read the plan (items, reasons, exclusive
//! and shared bytes), confirm, watch it apply, read the report. The plan and the apply
//! are `cachet::gc`'s; this is the dialog around them.

use std::cell::Cell;

use cachet::gc::{GcPlan, GcReport};

use super::app::{App, Popup};
use super::update::{Action, Effect};

#[path = "gc/settings.rs"]
mod settings;

pub use settings::CHOICES;
use settings::{parse_typed, setting, typing};

#[derive(Debug, Clone)]
pub enum Stage {
    Choose,
    /// Waiting for the plan asked for as number `asked` (see [`App::gc_asked`]).
    Planning {
        asked: u64,
    },
    Plan(Box<GcPlan>),
    Applying {
        done: u64,
        total: u64,
    },
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
    /// A value typed for a setting (`e`: `50GB`, `14d`, `2`), in place of its choices.
    pub typed: [Option<String>; 6],
    /// The setting being typed, and why the last value given was refused.
    pub editing: Option<(tui_input::Input, Option<String>)>,
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
            typed: Default::default(),
            editing: None,
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
    if let Some((chosen, typed)) = &app.gc_chosen {
        dialog.chosen = *chosen;
        dialog.typed = typed.clone();
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
        (_, action) if dialog.editing.is_some() => typing(&mut dialog, action),
        (_, Action::Help) => dialog.help = !dialog.help,
        // The keys shown: any key that would go back closes them, the dialog stays.
        (_, Action::Back | Action::Cancel) if dialog.help => dialog.help = false,
        (_, _) if dialog.help => {}
        (Stage::Choose, Action::EditSetting) => {
            let row = dialog.cursor;
            // A choice's words are no value to edit: what it means is (`older than 7d`
            // is `7d`); off is an empty field.
            let start = match &dialog.typed[row] {
                Some(text) => text.clone(),
                None if dialog.chosen[row] == 0 => String::new(),
                None => setting(&dialog.chosen_policy(), row),
            };
            dialog.editing = Some((tui_input::Input::new(start), None));
        }
        (Stage::Choose, Action::Down) => dialog.cursor = (dialog.cursor + 1) % CHOICES.len(),
        (Stage::Choose, Action::Up) => {
            dialog.cursor = (dialog.cursor + CHOICES.len() - 1) % CHOICES.len()
        }
        (Stage::Choose, Action::ToggleMark | Action::Enter) => {
            let n = CHOICES[dialog.cursor].options.len();
            dialog.chosen[dialog.cursor] = (dialog.chosen[dialog.cursor] + 1) % n;
            dialog.typed[dialog.cursor] = None;
        }
        (Stage::Choose, Action::StepBack) => {
            let n = CHOICES[dialog.cursor].options.len();
            dialog.chosen[dialog.cursor] = (dialog.chosen[dialog.cursor] + n - 1) % n;
            dialog.typed[dialog.cursor] = None;
        }
        (Stage::Choose, Action::Confirm) => {
            // A typed value that does not hold (a configured `keep_last = 0`) is shown
            // where it is, with why, rather than planned without.
            let bad = (dialog.typed.iter().enumerate()).find_map(|(row, text)| {
                let text = text.as_deref()?;
                parse_typed(row, text)
                    .err()
                    .map(|why| (row, text.to_string(), why))
            });
            match bad {
                Some((row, text, why)) => {
                    dialog.cursor = row;
                    dialog.editing = Some((tui_input::Input::new(text), Some(why)));
                }
                None => {
                    app.gc_asked += 1;
                    let asked = app.gc_asked;
                    let policy = Box::new(dialog.policy());
                    fx.push(Effect::PlanGc { policy, asked });
                    dialog.stage = Stage::Planning { asked };
                }
            }
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
        // Back while planning too: the plan, when it comes, is dropped.
        (
            Stage::Planning { .. } | Stage::Plan(_) | Stage::Failed(_),
            Action::Back | Action::Cancel,
        ) => dialog.stage = Stage::Choose,
        (Stage::Choose | Stage::Report(_), Action::Back | Action::Cancel | Action::Confirm) => {
            app.gc_chosen = Some((dialog.chosen, dialog.typed.clone()));
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
        (Action::GcPlanned { asked, result }, &Stage::Planning { asked: waiting })
            if asked == waiting =>
        {
            dialog.stage = match result {
                Ok(plan) => Stage::Plan(plan),
                Err(e) => Stage::Failed(e),
            };
            dialog.scroll = 0;
        }
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
