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
        Popup::Columns(picker) => (
            " Attribute columns (space, enter) ".to_string(),
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
        Popup::Help => (" Keys (esc closes) ".to_string(), help(app, theme)),
        Popup::Confirm(plan) => (format!(" {}? ", plan.op.verb()), confirm(plan, theme)),
    };
    let want_w = lines.iter().map(Line::width).max().unwrap_or(10) as u16 + 4;
    let w = want_w
        .clamp(20, area.width.saturating_sub(2).max(1))
        .min(area.width);
    let h = (lines.len() as u16 + 2).min(area.height);
    // Too many lines: scroll (help by j/k, the column picker to its cursor).
    let room = usize::from(h.saturating_sub(2)).max(1);
    if lines.len() > room {
        let skip = match popup {
            Popup::Help => app.help_scroll.min(lines.len() - room),
            Popup::Columns(p) => p.cursor.saturating_sub(room - 1),
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
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.key())
        .title(title);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        rect,
    );
}

fn help(app: &App, theme: Theme) -> Vec<Line<'static>> {
    let keys = keymap::help(app);
    let kw = keys
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(4);
    keys.iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:<kw$}  "), theme.key()),
                Span::raw(*what),
            ])
        })
        .collect()
}

fn confirm(plan: &Plan, theme: Theme) -> Vec<Line<'static>> {
    let n = items_word(plan.ids.len());
    let size = text::size(plan.bytes);
    let mut out = vec![Line::from(match plan.op {
        Op::Trash => format!("Move {n} ({size}) to the trash."),
        Op::Restore => format!("Restore {n} ({size}) from the trash."),
        Op::Purge => format!("Delete {n} ({size}) for good."),
        Op::Pin => format!("Pin {n}."),
        Op::Unpin => format!("Unpin {n}."),
    })];
    match plan.op {
        Op::Trash => out.push(Line::from("Nothing is deleted yet: u restores, D purges.")),
        Op::Restore => out.push(Line::from("Each goes back to the status it had.")),
        Op::Purge => {
            out.push(Line::from(format!(
                "Frees {} on disk (blobs no other item uses);",
                text::size(plan.exclusive)
            )));
            out.push(Line::from(format!(
                "{} stay, shared with other items.",
                text::size(plan.bytes.saturating_sub(plan.exclusive))
            )));
            out.push(Line::from(Span::styled(
                "This cannot be undone.",
                theme.error(),
            )));
        }
        Op::Pin | Op::Unpin => {}
    }
    if plan.pinned > 0 && plan.op != Op::Unpin {
        out.push(Line::from(format!("{} pinned.", items_word(plan.pinned))));
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
    out.push(Line::from(""));
    out.push(Line::from(vec![
        Span::styled("y", theme.key()),
        Span::raw(" / enter: do it    "),
        Span::styled("n", theme.key()),
        Span::raw(" / esc: cancel"),
    ]));
    out
}
