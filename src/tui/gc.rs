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
    /// A value typed for a setting (`e`: `50GB`, `14d`, `2`), in place of its choices.
    pub typed: [Option<String>; 6],
    /// The setting being typed, and why the last value given was refused.
    pub editing: Option<(tui_input::Input, Option<String>)>,
}

/// What a value typed for setting `row` gives: `None` for `off`, else its value, or why it
/// is none ("'x' is not a size like 512, 10MB or 2GiB").
enum Typed {
    Off,
    Duration(Duration),
    Count(u32),
    Size(u64),
}

fn parse_typed(row: usize, text: &str) -> Result<Typed, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("off") {
        return Ok(Typed::Off);
    }
    let name = CHOICES.get(row).map_or("setting", |c| c.name);
    match row {
        2 => match text.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(Typed::Count(n)),
            _ => Err(format!("'{text}' is no count of 1 or more (or off)")),
        },
        4 => cachet::units::size(name, text)
            .map(Typed::Size)
            .map_err(|e| e.to_string()),
        _ => cachet::units::duration(name, text)
            .map(Typed::Duration)
            .map_err(|e| e.to_string()),
    }
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

    /// The policy the choices make (a typed value in place of its row's choice).
    pub fn policy(&self) -> GcPolicy {
        let mut policy = self.chosen_policy();
        for (row, text) in self.typed.iter().enumerate() {
            let Some(typed) = text.as_deref().and_then(|t| parse_typed(row, t).ok()) else {
                continue;
            };
            let duration = match typed {
                Typed::Duration(d) => Some(d),
                _ => None,
            };
            match (row, typed) {
                (0, _) => policy.trash = duration,
                (1, _) => policy.stale = duration,
                (2, Typed::Count(n)) => policy.keep_last = Some(n),
                (2, _) => policy.keep_last = None,
                (3, _) => policy.max_age = duration,
                (4, Typed::Size(n)) => policy.max_size = Some(n),
                (4, _) => policy.max_size = None,
                (_, Typed::Off) => policy.orphans = false,
                (_, _) => {
                    policy.orphans = true;
                    policy.grace = duration.unwrap_or(policy.grace);
                }
            }
        }
        policy
    }

    /// What the row being typed shows: the typed value, or the choice.
    pub fn shown(&self, row: usize) -> &str {
        match &self.typed[row] {
            Some(text) => text,
            None => CHOICES[row].options[self.chosen[row].min(CHOICES[row].options.len() - 1)],
        }
    }

    /// The policy of the choices alone.
    fn chosen_policy(&self) -> GcPolicy {
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
        (Stage::Choose, Action::Edit(request)) if dialog.editing.is_some() => {
            if let Some((input, error)) = &mut dialog.editing {
                input.handle(request);
                *error = None;
            }
        }
        (Stage::Choose, Action::Confirm) if dialog.editing.is_some() => {
            if let Some((input, error)) = &mut dialog.editing {
                let text = input.value().trim().to_string();
                match parse_typed(dialog.cursor, &text) {
                    Ok(Typed::Off) => {
                        dialog.typed[dialog.cursor] = None;
                        dialog.chosen[dialog.cursor] = 0;
                        dialog.editing = None;
                    }
                    Ok(_) => {
                        dialog.typed[dialog.cursor] = Some(text);
                        dialog.editing = None;
                    }
                    Err(why) => *error = Some(why),
                }
            }
        }
        (Stage::Choose, Action::Back | Action::Cancel) if dialog.editing.is_some() => {
            dialog.editing = None;
        }
        (_, _) if dialog.editing.is_some() => {}
        (Stage::Choose, Action::EditSetting) => {
            let value = dialog.shown(dialog.cursor).to_string();
            // A choice's words are no value to edit: start from what it means.
            let start = if dialog.typed[dialog.cursor].is_some() {
                value
            } else {
                String::new()
            };
            dialog.editing = Some((tui_input::Input::new(start), None));
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
            dialog.typed[dialog.cursor] = None;
        }
        (Stage::Choose, Action::StepBack) => {
            let n = CHOICES[dialog.cursor].options.len();
            dialog.chosen[dialog.cursor] = (dialog.chosen[dialog.cursor] + n - 1) % n;
            dialog.typed[dialog.cursor] = None;
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
