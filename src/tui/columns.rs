//! `c`: choosing which attributes show as columns. The names come from the registry's
//! catalogue of attribute names and types (read by the worker).

use cachet::filter::{SortKey, SortSpec};

use super::app::{App, Popup};
use super::model::ListQuery;
use super::ui;
use super::update::{Action, Effect, requery};

/// The column picker: every attribute name the registry knows, and which are shown.
#[derive(Debug, Clone)]
pub struct ColumnPicker {
    /// `(name, type)` pairs, by name.
    pub names: Vec<(String, String)>,
    pub chosen: Vec<bool>,
    pub cursor: usize,
    /// Whether its keys are shown (`?`) in place of the names.
    pub help: bool,
}

/// `c`: asks the worker for the attribute names; the picker opens when they come.
pub fn open(fx: &mut Vec<Effect>) {
    fx.push(Effect::LoadColumns);
}

/// The names arrived: open the picker with the current columns ticked.
pub fn loaded(app: &mut App, names: Vec<(String, String)>) {
    if names.is_empty() {
        app.warn("no item has attributes yet");
        return;
    }
    let chosen = names.iter().map(|(n, _)| app.columns.contains(n)).collect();
    app.popup = Some(Popup::Columns(ColumnPicker {
        names,
        chosen,
        cursor: 0,
        help: false,
    }));
}

/// Keys while the picker is open.
pub fn key(app: &mut App, mut picker: ColumnPicker, action: Action, fx: &mut Vec<Effect>) {
    let n = picker.names.len();
    match action {
        Action::Help => picker.help = !picker.help,
        Action::Back | Action::Cancel if picker.help => picker.help = false,
        Action::Quit => {
            app.quit = true;
            return;
        }
        _ if picker.help => {}
        Action::Down => picker.cursor = (picker.cursor + 1) % n,
        Action::Up => picker.cursor = (picker.cursor + n - 1) % n,
        Action::ToggleMark => picker.chosen[picker.cursor] = !picker.chosen[picker.cursor],
        Action::Confirm => {
            app.columns = picker
                .names
                .iter()
                .zip(&picker.chosen)
                .filter(|(_, on)| **on)
                .map(|((name, _), _)| name.clone())
                .collect();
            app.popup = None;
            let shown = ui::list::attr_columns_shown(app);
            if shown < app.columns.len() {
                // Left out from the right: say so rather than let them vanish.
                let left_out = app.columns[shown..].join(", ");
                app.say(format!("no room for {left_out} at this width"));
            }
            // Sorted by a column no longer shown: back to the registry's order, rather
            // than an order nothing on screen explains.
            if let SortKey::Attr(_, name) = &app.list.query.sort.key
                && !app.columns.contains(name)
            {
                let q = ListQuery {
                    sort: SortSpec::default(),
                    ..app.list.query.clone()
                };
                app.say("sorted by id ascending (the sort column was removed)");
                requery(app, q, fx);
            }
            return;
        }
        Action::Back | Action::Cancel => {
            app.popup = None;
            return;
        }
        _ => {}
    }
    app.popup = Some(Popup::Columns(picker));
}
