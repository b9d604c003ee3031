//! Keys and mouse to [`Action`]s, depending on what is open. The help overlay is built
//! from the same tables, so it always says what the keys do.

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEventKind,
};
use tui_input::InputRequest;

use super::app::{App, Focus, Op, Popup};
use super::gc::{GcDialog, Stage};
use super::model::Tab;
use super::preview::PaneView;
use super::update::Action;

/// One line of help: the keys and what they do.
pub type HelpLine = (&'static str, &'static str);

pub const LIST_HELP: &[HelpLine] = &[
    ("j/k ↓/↑", "move"),
    ("PgDn/PgUp ^d/^u", "page / half page"),
    ("gg Home / G End", "first / last row"),
    (
        "1–6 tab/S-tab",
        "status tabs: All Ready Write Failed Trash Stale",
    ),
    ("/", "filter (status:ready size>1MB uri~x …)"),
    (
        "f",
        "add this row's value in the sort column (▲▼) to the filter (by id: its status)",
    ),
    ("enter l", "open the detail pane"),
    ("v", "pane shows detail / preview"),
    (
        "space",
        "mark / unmark, then down a row (count in the footer)",
    ),
    ("a", "mark every row of the list (up to 100,000)"),
    ("d", "trash marked or current (confirm)"),
    ("u", "restore from trash (confirm)"),
    ("D", "purge trashed items for good (confirm)"),
    ("p", "pin / unpin"),
    ("y / Y", "copy content path / key (OSC 52)"),
    ("s / S", "sort by the next column on screen / reverse"),
    ("c", "choose attribute columns"),
    ("m", "pane shows the manifest inspector"),
    ("r", "refresh now (changes also show by themselves)"),
    (
        "gc",
        "garbage collection: choose policies, read the plan, apply",
    ),
    ("esc h", "clear marks, then the filter"),
    ("? / q", "this help / quit"),
    ("mouse", "wheel scrolls, click selects a row or a tab"),
];

pub const DETAIL_HELP: &[HelpLine] = &[
    ("j/k ↓/↑", "select a version"),
    ("PgDn/PgUp ^d/^u", "scroll the fields (also the wheel)"),
    ("v", "show the preview instead"),
    ("gg G", "top / bottom of the pane"),
    ("enter", "show the selected version"),
    ("y / Y", "copy content path / key"),
    ("d u D p", "trash, restore, purge, pin (the version shown)"),
    ("esc h", "back to the list"),
    ("? / q", "this help / quit"),
];

pub const PREVIEW_HELP: &[HelpLine] = &[
    ("j/k ↓/↑", "select a member / scroll"),
    ("PgDn/PgUp gg G", "page / first / last"),
    ("enter", "open the selected member"),
    ("w", "wrap long lines / cut them at the edge"),
    (
        "→/l ←/h",
        "a table's next / previous columns (← at the first goes back)",
    ),
    ("esc h", "back to the listing, then to the list"),
    ("v", "show the detail instead"),
    ("? / q", "this help / quit"),
];

pub const MANIFEST_HELP: &[HelpLine] = &[
    ("j/k ↓/↑ PgDn/PgUp", "select an entry"),
    (
        "enter",
        "the item holding the entry's blob, else a preview of it",
    ),
    ("x", "expand shards into their files / collapse"),
    ("o", "follow manifest refs / show them as lines"),
    ("esc h", "back to the list"),
    ("m / v", "detail / preview instead"),
];

pub const FILTER_HELP: &[HelpLine] = &[
    ("type", "the filter; the list follows as you type"),
    ("enter", "keep it and go back to the list"),
    ("esc", "cancel the edit (the filter before comes back)"),
    ("↑/↓", "recent filters"),
    ("←/→ ^a/^e", "move in the text"),
    ("^w / ^u / ^k", "delete a term / the line / to the end"),
    ("alt-⌫", "delete a word"),
    ("", "a b (and)  a | b  !a  ( )  \"a phrase\""),
    ("", "status:ready,stale  batch>=2  uri~glob*  has:x"),
    ("", "size>1GB  created<7d  label~x  param.p=1  pinned"),
];

/// A popup's keys when esc closes it.
const CLOSE: &[HelpLine] = &[("esc q", "close"), ("^c", "quit")];

pub const POPUP_HELP: &[HelpLine] = &[("y enter", "confirm"), ("n esc", "cancel")];

/// The help for what has the keys now.
pub fn help(app: &App) -> &'static [HelpLine] {
    match (&app.popup, app.focus) {
        (Some(Popup::Confirm(_)), _) => POPUP_HELP,
        (Some(Popup::Gc(_)), _) => GC_HELP,
        (Some(Popup::Columns(_)), _) => COLUMNS_HELP,
        _ if app.filter.editing => FILTER_HELP,
        (_, Focus::List) => LIST_HELP,
        (_, Focus::Detail) if app.view == PaneView::Preview => PREVIEW_HELP,
        (_, Focus::Detail) if app.view == PaneView::Manifest => MANIFEST_HELP,
        (_, Focus::Detail) => DETAIL_HELP,
    }
}

/// The footer's short list of keys for what has the keys now.
pub fn footer(app: &App) -> &'static [HelpLine] {
    match (&app.popup, app.focus) {
        (Some(Popup::Confirm(_)), _) => POPUP_HELP,
        (Some(Popup::Columns(p)), _) if p.help => &[("esc ?", "back"), ("^c", "quit")],
        (Some(Popup::Columns(_)), _) => &[
            ("space", "show/hide"),
            ("enter", "apply"),
            ("esc", "close"),
            ("?", "keys"),
        ],
        (Some(Popup::Gc(d)), _) if d.editing.is_some() => {
            &[("enter", "take it"), ("esc", "leave it"), ("^u", "clear")]
        }
        // In the help and the gc dialog, q does what esc does: ctrl-c quits. Past the
        // gc dialog's first stage, they go back to it; while a plan is applied, only the
        // dialog's help (`?`) can be had, and left.
        (Some(Popup::Gc(d)), _) => match d.stage {
            Stage::Applying { .. } if !d.help => &[],
            Stage::Choose | Stage::Report(_) if !d.help => CLOSE,
            _ => &[("esc q", "back"), ("^c", "quit")],
        },
        (Some(_), _) => CLOSE,
        _ if app.filter.editing => &[
            ("enter", "keep"),
            ("esc", "cancel"),
            ("↑/↓", "recent"),
            ("^u", "clear"),
            ("F1", "syntax"),
        ],
        // The inspector beside the list takes its keys from there too, when it has
        // entries to take them.
        (None, Focus::List)
            if app.view == PaneView::Manifest
                && super::update::pane_visible(app)
                && app.inspect.has_entries() =>
        {
            &[
                ("?", "help"),
                ("/", "filter"),
                ("enter", "entries"),
                ("x", "shards"),
                ("o", "refs"),
                ("m", "detail"),
                ("space", "mark"),
                ("d", "trash"),
                ("s", "sort"),
                ("q", "quit"),
            ]
        }
        (None, Focus::List) => &[
            ("?", "help"),
            ("/", "filter"),
            ("f", "+filter"),
            ("enter", "open"),
            ("space", "mark"),
            ("d", "trash"),
            ("s", "sort"),
            ("v", "preview"),
            ("D", "purge"),
            ("u", "restore"),
            ("q", "quit"),
        ],
        (None, Focus::Detail) if app.view == PaneView::Manifest && app.inspect.has_entries() => &[
            ("?", "help"),
            ("j/k", "entry"),
            ("enter", "jump"),
            ("x", "shards"),
            ("o", "refs"),
            ("esc", "back"),
        ],
        (None, Focus::Detail) if app.view == PaneView::Manifest => &[
            ("?", "help"),
            ("m", "detail"),
            ("esc", "back"),
            ("q", "quit"),
        ],
        // `enter` opens a member only where there are members to open.
        (None, Focus::Detail) if app.view == PaneView::Preview && app.preview.members() > 0 => &[
            ("?", "help"),
            ("j/k", "move"),
            ("enter", "open member"),
            ("v", "detail"),
            ("esc", "back"),
            ("q", "quit"),
        ],
        (None, Focus::Detail)
            if app.view == PaneView::Preview && app.preview.table_columns().is_some() =>
        {
            &[
                ("?", "help"),
                ("j/k", "scroll"),
                ("←/→", "columns"),
                ("v", "detail"),
                ("esc", "back"),
                ("q", "quit"),
            ]
        }
        (None, Focus::Detail) if app.view == PaneView::Preview => &[
            ("?", "help"),
            ("j/k", "scroll"),
            ("w", "wrap"),
            ("v", "detail"),
            ("esc", "back"),
            ("q", "quit"),
        ],
        (None, Focus::Detail) => &[
            ("?", "help"),
            ("j/k", "version"),
            ("PgDn", "scroll"),
            ("enter", "show"),
            ("y", "copy"),
            ("esc", "back"),
            ("q", "quit"),
        ],
    }
}

pub const COLUMNS_HELP: &[HelpLine] = &[
    ("j/k", "move"),
    ("space", "show / hide the attribute"),
    ("enter", "apply"),
    ("esc q c", "close, leaving the columns as they were"),
    ("?", "these keys (esc goes back)"),
];

pub const GC_HELP: &[HelpLine] = &[
    ("j/k ↓/↑", "choose a policy"),
    ("space →/←", "change its setting (← steps back)"),
    ("e", "type its value: 50GB, 14d, 2, off (enter takes it)"),
    ("enter", "make the plan (nothing is deleted yet)"),
    ("j/k PgDn/PgUp g/G", "scroll the plan (space: a page down)"),
    ("y", "apply the plan shown"),
    ("?", "these keys"),
    ("esc", "back / close"),
];

fn gc_key(dialog: &GcDialog, key: &KeyEvent) -> Option<Action> {
    let code = key.code;
    let choosing = matches!(dialog.stage, Stage::Choose);
    if choosing && dialog.editing.is_some() {
        // The filter bar's keys: a value has no terms, so ^w deletes a word.
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        return match field_key(key, ctrl)? {
            Action::DeleteTerm => Some(Action::Edit(InputRequest::DeletePrevWord)),
            other => Some(other),
        };
    }
    let planned = matches!(dialog.stage, Stage::Plan(_));
    Some(match code {
        KeyCode::Char('j') | KeyCode::Down if choosing => Action::Down,
        KeyCode::Char('k') | KeyCode::Up if choosing => Action::Up,
        KeyCode::Char(' ') | KeyCode::Right if choosing => Action::ToggleMark,
        KeyCode::Left if choosing => Action::StepBack,
        KeyCode::Char('e') if choosing => Action::EditSetting,
        KeyCode::Char('?') => Action::Help,
        KeyCode::Enter | KeyCode::Char('p') if choosing => Action::Confirm,
        KeyCode::Char('y') if planned => Action::Confirm,
        KeyCode::Char('j') | KeyCode::Down if planned => Action::Down,
        KeyCode::Char('k') | KeyCode::Up if planned => Action::Up,
        KeyCode::PageDown | KeyCode::Char(' ') if planned => Action::PageDown,
        KeyCode::PageUp if planned => Action::PageUp,
        KeyCode::Char('g') | KeyCode::Home if planned => Action::Top,
        KeyCode::Char('G') | KeyCode::End if planned => Action::Bottom,
        KeyCode::Enter if matches!(dialog.stage, Stage::Report(_)) => Action::Back,
        KeyCode::Esc | KeyCode::Char('n') => Action::Back,
        KeyCode::Char('q') => Action::Back,
        _ => return None,
    })
}

/// The action for a terminal event, if it means anything here.
pub fn action(app: &App, event: &Event) -> Option<Action> {
    match event {
        Event::Key(key) if key.kind != KeyEventKind::Release => key_action(app, key),
        Event::Mouse(m) => match m.kind {
            MouseEventKind::ScrollDown => Some(Action::Scroll {
                delta: 3,
                column: m.column,
                row: m.row,
            }),
            MouseEventKind::ScrollUp => Some(Action::Scroll {
                delta: -3,
                column: m.column,
                row: m.row,
            }),
            MouseEventKind::Down(MouseButton::Left) => Some(Action::Click {
                column: m.column,
                row: m.row,
            }),
            _ => None,
        },
        Event::Resize(w, h) => Some(Action::Resize(*w, *h)),
        _ => None,
    }
}

fn key_action(app: &App, key: &KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    if let Some(Popup::Gc(dialog)) = &app.popup {
        return gc_key(dialog, key);
    }
    if let Some(Popup::Columns(_)) = &app.popup {
        return Some(match key.code {
            KeyCode::Char('j') | KeyCode::Down => Action::Down,
            KeyCode::Char('k') | KeyCode::Up => Action::Up,
            KeyCode::Char(' ') => Action::ToggleMark,
            KeyCode::Enter => Action::Confirm,
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('c') => Action::Back,
            KeyCode::Char('?') | KeyCode::F(1) => Action::Help,
            _ => return None,
        });
    }
    if let Some(popup) = &app.popup {
        return match (popup, key.code) {
            (Popup::Confirm(_), KeyCode::Char('y') | KeyCode::Enter) => Some(Action::Confirm),
            (Popup::Confirm(_), KeyCode::Char('n') | KeyCode::Esc) => Some(Action::Cancel),
            (_, KeyCode::Char('q')) if !matches!(popup, Popup::Confirm(_)) => Some(Action::Back),
            (Popup::Help, KeyCode::Char('j') | KeyCode::Down) => Some(Action::Down),
            (Popup::Help, KeyCode::Char('k') | KeyCode::Up) => Some(Action::Up),
            (_, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('?')) => Some(Action::Back),
            _ => None,
        };
    }
    if app.filter.editing {
        return field_key(key, ctrl);
    }
    if app.pending_key == Some('g') {
        return Some(match key.code {
            KeyCode::Char('g') => Action::Top,
            KeyCode::Char('c') => Action::Gc,
            _ => Action::Cancel,
        });
    }
    if ctrl {
        return match key.code {
            KeyCode::Char('d') => Some(Action::HalfPageDown),
            KeyCode::Char('u') => Some(Action::HalfPageUp),
            KeyCode::Char('f') => Some(Action::PageDown),
            KeyCode::Char('b') => Some(Action::PageUp),
            _ => None,
        };
    }
    // Over a table in the preview, the arrows move along its columns; at its first, `←`
    // goes back as anywhere.
    let table = app.focus == Focus::Detail
        && app.view == PaneView::Preview
        && app.preview.table_columns().is_some();
    let action = match key.code {
        KeyCode::Char('l') | KeyCode::Right if table => Action::ColumnRight,
        KeyCode::Char('h') | KeyCode::Left if table && app.preview.col > 0 => Action::ColumnLeft,
        KeyCode::Char('j') | KeyCode::Down => Action::Down,
        KeyCode::Char('k') | KeyCode::Up => Action::Up,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::Home => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::Char('g') => Action::Prefix('g'),
        KeyCode::Char(c @ '1'..='6') => Action::SetTab(Tab::ALL[usize::from(c as u8 - b'1')]),
        KeyCode::Tab => Action::NextTab,
        KeyCode::BackTab => Action::PrevTab,
        KeyCode::Char('s') => Action::SortNext,
        KeyCode::Char('S') => Action::SortReverse,
        KeyCode::Char(' ') => Action::ToggleMark,
        KeyCode::Char('a') => Action::MarkAll,
        KeyCode::Char('d') | KeyCode::Delete => Action::Ask(Op::Trash),
        KeyCode::Char('u') => Action::Ask(Op::Restore),
        KeyCode::Char('D') => Action::Ask(Op::Purge),
        KeyCode::Char('p') => Action::TogglePin,
        KeyCode::Char('y') => Action::Copy { key: false },
        KeyCode::Char('Y') => Action::Copy { key: true },
        KeyCode::Char('r') | KeyCode::F(5) => Action::Refresh,
        KeyCode::Char('?') | KeyCode::F(1) => Action::Help,
        KeyCode::Char('v') => Action::ToggleView,
        KeyCode::Char('c') => Action::PickColumns,
        KeyCode::Char('m') => Action::ToggleManifest,
        KeyCode::Char('x') => Action::ToggleShards,
        KeyCode::Char('o') => Action::ToggleRefs,
        KeyCode::Char('w') => Action::ToggleWrap,
        KeyCode::Enter | KeyCode::Char('l') | KeyCode::Right => Action::Enter,
        KeyCode::Esc | KeyCode::Char('h') | KeyCode::Left => Action::Back,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Char('/') => Action::OpenFilter,
        KeyCode::Char('f') => Action::FilterCell,
        _ => return None,
    };
    Some(action)
}

/// Keys in a text field (the filter bar, a gc setting typed): editing, history, keep or
/// cancel.
fn field_key(key: &KeyEvent, ctrl: bool) -> Option<Action> {
    use InputRequest as R;
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let edit = match key.code {
        KeyCode::Enter => return Some(Action::Confirm),
        KeyCode::Esc => return Some(Action::Cancel),
        KeyCode::Up => return Some(Action::Up),
        KeyCode::Down => return Some(Action::Down),
        // `?` is typed (a glob's one character): the help is F1's.
        KeyCode::F(1) => return Some(Action::Help),
        KeyCode::Char('a') if ctrl => R::GoToStart,
        KeyCode::Char('e') if ctrl => R::GoToEnd,
        KeyCode::Char('w') if ctrl => return Some(Action::DeleteTerm),
        KeyCode::Char('u') if ctrl => R::DeleteLine,
        KeyCode::Char('k') if ctrl => R::DeleteTillEnd,
        KeyCode::Char('b') if alt => R::GoToPrevWord,
        KeyCode::Char('f') if alt => R::GoToNextWord,
        KeyCode::Char(_) if ctrl || alt => return None,
        KeyCode::Char(c) => R::InsertChar(c),
        KeyCode::Backspace if ctrl || alt => R::DeletePrevWord,
        KeyCode::Backspace => R::DeletePrevChar,
        KeyCode::Delete => R::DeleteNextChar,
        KeyCode::Left if ctrl => R::GoToPrevWord,
        KeyCode::Right if ctrl => R::GoToNextWord,
        KeyCode::Left => R::GoToPrevChar,
        KeyCode::Right => R::GoToNextChar,
        KeyCode::Home => R::GoToStart,
        KeyCode::End => R::GoToEnd,
        _ => return None,
    };
    Some(Action::Edit(edit))
}
