//! Overlays: help, confirmation, error.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::Theme;
use crate::tui::app::{App, Op, Plan, Popup};
use crate::tui::keymap;
use crate::tui::text;
use crate::tui::update::items_word;

pub fn draw(frame: &mut Frame, app: &App, popup: &Popup, area: Rect, theme: Theme) {
    let (mut title, mut lines) = match popup {
        Popup::Gc(dialog) => return super::gc::draw(frame, dialog, area, theme),
        Popup::Columns(picker) if picker.help => (
            " Columns: keys (esc back) ".to_string(),
            key_lines(keymap::COLUMNS_HELP, theme, None),
        ),
        Popup::Columns(picker) => (
            " Columns ".to_string(),
            picker
                .names
                .iter()
                .enumerate()
                .map(|(i, (name, kind))| {
                    let line = Line::from(vec![
                        Span::raw(if picker.chosen[i] { "[x] " } else { "[ ] " }),
                        Span::raw(name.clone()),
                        Span::styled(format!(" {kind}"), theme.dim()),
                    ]);
                    if i == picker.cursor {
                        line.style(theme.selected())
                    } else {
                        line
                    }
                })
                .collect(),
        ),
        Popup::Help => (" Keys (esc closes) ".to_string(), help(app, theme, None)),
        Popup::Confirm(plan) => (format!(" {}? ", plan.op.verb()), confirm(plan, theme)),
    };
    let want_w = lines.iter().map(Line::width).max().unwrap_or(10) as u16 + 4;
    let floor = match popup {
        Popup::Confirm(_) => confirm_keys(theme).width() as u16 + 2,
        _ => 20,
    };
    // Never wider than the screen, however narrow (no clamp: its bounds could cross).
    let w = want_w
        .max(floor)
        .min(area.width.saturating_sub(2).max(1))
        .min(area.width);
    // Help wraps each description under itself, clear of the keys' column.
    if matches!(popup, Popup::Help) {
        lines = help(app, theme, Some(w.saturating_sub(2)));
    }
    // Lines wrap: count the rows they take at this width.
    let rows = Paragraph::new(lines.clone())
        .wrap(Wrap { trim: false })
        .line_count(w.saturating_sub(2).max(1));
    let h = (rows as u16 + 2).min(area.height);
    // Too many lines: scroll (help by j/k, the column picker to its cursor).
    let room = usize::from(h.saturating_sub(2)).max(1);
    if lines.len() > room {
        let skip = match popup {
            Popup::Help => app.help_scroll.min(lines.len() - room),
            Popup::Columns(p) if !p.help => p.cursor.saturating_sub(room - 1),
            _ => 0,
        };
        lines.drain(..skip);
        if matches!(popup, Popup::Help) {
            title = " Keys (j/k scroll, esc closes) ".to_string();
        }
    }
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    frame.render_widget(Clear, rect);
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.key())
        .title(title);
    if matches!(popup, Popup::Confirm(_)) {
        block = block.title_bottom(confirm_keys(theme));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

/// The help's lines for what has the keys now (see [`key_lines`]).
fn help(app: &App, theme: Theme, width: Option<u16>) -> Vec<Line<'static>> {
    key_lines(keymap::help(app), theme, width)
}

/// Keys in a column, each description beside its key; within `width`, a description too
/// long goes on under itself.
pub(super) fn key_lines(
    keys: &[keymap::HelpLine],
    theme: Theme,
    width: Option<u16>,
) -> Vec<Line<'static>> {
    let kw = keys
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(4);
    // Too narrow for a column of descriptions: let them wrap as they will.
    let room = width
        .map(|w| usize::from(w).saturating_sub(kw + 2))
        .filter(|room| *room >= 12);
    let mut lines = Vec::new();
    for (k, what) in keys {
        let parts = match room {
            Some(room) => wrap_words(what, room),
            None => vec![what.to_string()],
        };
        for (i, part) in parts.into_iter().enumerate() {
            let key = if i == 0 { *k } else { "" };
            lines.push(Line::from(vec![
                Span::styled(format!("{key:<kw$}  "), theme.key()),
                Span::raw(part),
            ]));
        }
    }
    lines
}

/// `text` in lines of at most `width` columns, broken between words (a word longer
/// than the width stands alone on its line).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let line = lines.last_mut().map_or(0, |l| cachet::preview::width(l));
        if line > 0 && line + 1 + cachet::preview::width(word) > width {
            lines.push(String::new());
        }
        if let Some(last) = lines.last_mut() {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

/// The keys of a confirmation, on its bottom border so that no lack of room hides them.
fn confirm_keys(theme: Theme) -> Line<'static> {
    Line::from(vec![
        Span::raw(" "),
        Span::styled("y", theme.key()),
        Span::raw("/enter do it · "),
        Span::styled("n", theme.key()),
        Span::raw("/esc cancel "),
    ])
}

/// What the items are: `item 12`, or `3 items` and, to end the sentence, the first few
/// ids (`: 12, 15, 40`).
fn which(ids: &[i64]) -> (String, String) {
    const NAMED: usize = 5;
    match ids {
        [id] => (format!("item {id}"), String::new()),
        _ => {
            let mut list: Vec<String> = ids.iter().take(NAMED).map(i64::to_string).collect();
            if ids.len() > NAMED {
                list.push("…".into());
            }
            (items_word(ids.len()), format!(": {}", list.join(", ")))
        }
    }
}

fn confirm(plan: &Plan, theme: Theme) -> Vec<Line<'static>> {
    let (n, ids) = which(&plan.ids);
    let size = text::size(plan.bytes);
    let mut out = vec![Line::from(match plan.op {
        Op::Trash => format!("Move {n} ({size}) to the trash{ids}."),
        Op::Restore => format!("Restore {n} ({size}) from the trash{ids}."),
        Op::Purge => format!("Delete {n} ({size}) for good{ids}."),
        Op::Pin => format!("Pin {n}{ids}."),
        Op::Unpin => format!("Unpin {n}{ids}."),
    })];
    match plan.op {
        Op::Trash => {
            out.push(Line::from("Nothing is deleted yet: u restores, D purges."));
            // A writer at work loses its write: worth a second look.
            let writing = match plan.writing {
                0 => None,
                1 if plan.ids.len() == 1 => Some("It is being written: its writer's commit will fail, and it comes back FAILED.".to_string()),
                1 => Some("One is being written: its writer's commit will fail, and it comes back FAILED.".to_string()),
                n => Some(format!("{n} are being written: their writers' commits will fail, and they come back FAILED.")),
            };
            if let Some(writing) = writing {
                out.push(Line::from(Span::styled(writing, theme.marked())));
            }
        }
        Op::Restore if plan.ids.len() == 1 && plan.to_failed == 1 => out.push(Line::from(
            "It comes back FAILED: it was trashed mid-write.",
        )),
        Op::Restore if plan.ids.len() == 1 => {
            out.push(Line::from("It goes back to the status it had."))
        }
        Op::Restore => {
            out.push(Line::from("Each goes back to the status it had."));
            match plan.to_failed {
                0 => {}
                1 => out.push(Line::from("One trashed mid-write comes back FAILED.")),
                n => out.push(Line::from(format!(
                    "{n} trashed mid-write come back FAILED."
                ))),
            }
        }
        Op::Purge => {
            out.push(Line::from(format!(
                "Frees {} on disk (blobs no other item uses);",
                text::size(plan.frees.content + plan.frees.linked)
            )));
            out.push(Line::from(format!(
                "{} stay, shared with other items.",
                text::size(plan.bytes.saturating_sub(plan.frees.content))
            )));
            out.push(Line::from(Span::styled(
                "This cannot be undone.",
                theme.error(),
            )));
        }
        Op::Pin | Op::Unpin => {}
    }
    // A pin holds off gc, not the user.
    let pinned = items_word(plan.pinned);
    match plan.op {
        _ if plan.pinned == 0 => {}
        Op::Trash => out.push(Line::from(format!(
            "{pinned} pinned: gc never purges them from the trash."
        ))),
        Op::Purge => out.push(Line::from(format!(
            "{pinned} pinned: deleted all the same."
        ))),
        Op::Restore | Op::Pin | Op::Unpin => {}
    }
    if !plan.skipped.is_empty() {
        let (id, why) = &plan.skipped[0];
        out.push(Line::from(Span::styled(
            format!(
                "Skipped {}: item {id} {why}{}",
                items_word(plan.skipped.len()),
                if plan.skipped.len() > 1 { ", …" } else { "" }
            ),
            theme.dim(),
        )));
    }
    out
}
