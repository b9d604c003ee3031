//! The garbage collection dialog: policies, plan, progress gauge, report.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Gauge, Paragraph, Wrap};

use super::Theme;
use crate::tui::gc::{CHOICES, GcDialog, Stage};
use crate::tui::keymap;
use crate::tui::text;
use crate::tui::update::items_word;
use cachet::units::count_of;

pub fn draw(frame: &mut Frame, dialog: &GcDialog, area: Rect, theme: Theme) {
    // A plan is a list with a reason and a sentence per line: it takes the room there is.
    let (widest, tallest) = match dialog.stage {
        Stage::Plan(_) => (112, 40),
        _ => (76, 22),
    };
    let w = area
        .width
        .saturating_sub(4)
        .clamp(20, widest)
        .min(area.width);
    let h = area
        .height
        .saturating_sub(2)
        .clamp(6, tallest)
        .min(area.height);
    let rect = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    frame.render_widget(Clear, rect);
    let title = match dialog.stage {
        Stage::Choose => " Garbage collection: policies ",
        Stage::Planning { .. } | Stage::Plan(_) => " Garbage collection: plan ",
        Stage::Applying { .. } => " Garbage collection: applying ",
        Stage::Report(_) => " Garbage collection: done ",
        Stage::Failed(_) => " Garbage collection: failed ",
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.key())
        .title(title);
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let keys = |pairs: &[keymap::HelpLine]| super::key_row(pairs, inner.width, theme);
    if dialog.help {
        let [body, foot] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
        let lines = super::popup::key_lines(keymap::GC_HELP, theme, Some(body.width));
        frame.render_widget(Paragraph::new(lines), body);
        frame.render_widget(Paragraph::new(keys(&[("esc ?", "back")])), foot);
        return;
    }
    let (lines, footer) = match &dialog.stage {
        Stage::Choose if dialog.editing.is_some() => (
            choose(dialog, inner.width, theme),
            keys(&[("enter", "take it"), ("esc", "leave it")]),
        ),
        Stage::Choose => (
            choose(dialog, inner.width, theme),
            keys(&[
                ("j/k", "move"),
                ("space", "change"),
                ("enter", "plan"),
                ("e", "type"),
                ("?", "keys"),
                ("esc", "close"),
            ]),
        ),
        Stage::Planning { .. } => (
            vec![Line::from(Span::styled("planning…", theme.dim()))],
            keys(&[("esc", "back")]),
        ),
        Stage::Plan(plan) if plan.is_empty() => (
            std::iter::once(Line::from("Nothing to collect with these policies."))
                .chain(cap_line(plan, theme))
                .collect(),
            keys(&[("esc", "back")]),
        ),
        Stage::Plan(plan) => {
            let [body, foot] =
                Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
            draw_plan(frame, plan, dialog, body, theme);
            let footer = keys(&[("j/k", "scroll"), ("y", "apply"), ("esc", "back")]);
            frame.render_widget(Paragraph::new(footer), foot);
            return;
        }
        Stage::Applying { done, total } => {
            let [text_area, gauge] =
                Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
            let ratio = if *total == 0 {
                1.0
            } else {
                (*done as f64 / *total as f64).clamp(0.0, 1.0)
            };
            frame.render_widget(
                Paragraph::new(format!("removing {done} of {total} items and files…")),
                text_area,
            );
            frame.render_widget(
                Gauge::default().gauge_style(theme.key()).ratio(ratio),
                gauge,
            );
            return;
        }
        Stage::Report(r) => {
            let mut out = vec![
                Line::from(format!("{} removed", items_word(r.items_removed as usize))),
                Line::from(format!(
                    "{} and {} deleted",
                    count_of(r.blobs_deleted, "blob", "blobs"),
                    count_of(r.temp_files_deleted, "temp file", "temp files")
                )),
                Line::from(format!("{} freed", text::size(r.bytes_freed))),
            ];
            if !r.skipped.is_empty() {
                out.push(Line::from(Span::styled(
                    format!(
                        "{} left alone (changed since the plan): {}",
                        r.skipped.len(),
                        r.skipped[0].why
                    ),
                    theme.marked(),
                )));
            }
            if r.cancelled {
                out.push(Line::from(Span::styled("cancelled", theme.error())));
            }
            (out, keys(&[("esc", "close")]))
        }
        Stage::Failed(e) => (
            vec![Line::from(Span::styled(e.clone(), theme.error()))],
            keys(&[("esc", "back")]),
        ),
    };
    let [body, foot] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), body);
    frame.render_widget(Paragraph::new(footer), foot);
}

fn choose(dialog: &GcDialog, width: u16, theme: Theme) -> Vec<Line<'static>> {
    // The setting needs about 16 columns; the name gets the rest, up to 28.
    let name_w = usize::from(width.saturating_sub(17)).clamp(8, 28);
    let mut out: Vec<Line> = CHOICES
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let editing = dialog.editing.as_ref().filter(|_| i == dialog.cursor);
            let value = match editing {
                // The text as typed, the cursor a bar in it.
                Some((input, _)) => {
                    let mut text = input.value().to_string();
                    let at = text
                        .char_indices()
                        .nth(input.visual_cursor())
                        .map_or(text.len(), |(at, _)| at);
                    text.insert(at, '▏');
                    text
                }
                None => text::shown(&dialog.shown(i)).into_owned(),
            };
            let style = if editing.is_some() {
                theme.key()
            } else if dialog.chosen[i] == 0 && dialog.typed[i].is_none() {
                theme.dim()
            } else {
                theme.marked()
            };
            let line = Line::from(vec![
                Span::raw(format!(
                    "{:<name_w$} ",
                    cachet::preview::cut(c.name, name_w)
                )),
                Span::styled(format!("[{value}]"), style),
            ]);
            if i == dialog.cursor {
                line.style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    out.push(Line::from(""));
    match &dialog.editing {
        Some((_, Some(why))) => out.push(Line::from(Span::styled(why.clone(), theme.error()))),
        Some((_, None)) => out.push(Line::from(Span::styled(
            "a size (50GB), an age (14d), a count (2), or off",
            theme.dim(),
        ))),
        None => out.push(Line::from(Span::styled(
            "Pinned items, and what pinned manifests link to, are never collected.",
            theme.dim(),
        ))),
    }
    out
}

/// The plan: its summary (wrapped), the position in its list, then as many entries as fit
/// from the dialog's scroll position, one row each and cut at the edge, so that rows and
/// entries match. Only the entries shown are formatted; the dialog notes how many fit.
fn draw_plan(
    frame: &mut Frame,
    plan: &cachet::gc::GcPlan,
    dialog: &GcDialog,
    area: Rect,
    theme: Theme,
) {
    let summary = Paragraph::new(summary_lines(plan, area.width, theme)).wrap(Wrap { trim: false });
    // Rows as the paragraph wraps them (at words); the position and at least one entry
    // stay in view on the smallest screens.
    let summary_rows = summary
        .line_count(area.width.max(1))
        .min(usize::from(area.height.saturating_sub(2)));
    let [top, position_row, list] = Layout::vertical([
        Constraint::Length(u16::try_from(summary_rows).unwrap_or(u16::MAX)),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(area);
    frame.render_widget(summary, top);

    let entries = plan.items.len() + plan.files.len();
    let room = usize::from(list.height).max(1);
    dialog.room.set(room);
    let first = dialog.scroll.min(entries.saturating_sub(room));
    let shown = room.min(entries - first);
    let position = if shown < entries {
        format!("what goes ({}–{} of {entries}):", first + 1, first + shown)
    } else {
        "what goes:".to_string()
    };
    frame.render_widget(
        Paragraph::new(Span::styled(position, theme.header())),
        position_row,
    );
    // Items first, then files: the part of each that the window covers.
    let end = first + shown;
    let n = plan.items.len();
    // Columns: id, name, the reason padded so that the details line up after it, and the
    // detail (`LRU rank 37, last access 41d`), which gets its room before the name does.
    let name_w = usize::from(area.width)
        .saturating_sub(8 + 2 + 13 + 30)
        .clamp(10, 40);
    let items = plan.items.range(first..end).map(|item| {
        Line::from(vec![
            Span::raw(format!(
                "#{:<6} {}  ",
                item.id,
                text::tail_in(&item.uri, name_w)
            )),
            Span::raw(format!("{:<12} ", item.reason.to_string())),
            Span::styled(item.detail.to_string(), theme.dim()),
        ])
    });
    let files_shown = plan
        .files
        .get(first.max(n) - n..end.max(n) - n)
        .unwrap_or_default();
    let files = files_shown.iter().map(|file| {
        let name = match file.sha256.as_deref() {
            Some(s) => cachet::key::abbrev(s, 12).to_string(),
            None => file
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        // In the items' columns: no id, the file's name, why, its size.
        Line::from(vec![
            Span::raw(format!("{:<7} {}  ", "", text::tail_in(&name, name_w))),
            Span::raw(format!("{:<12} ", file.reason.to_string())),
            Span::styled(text::size(file.size), theme.dim()),
        ])
    });
    let lines: Vec<Line> = items.chain(files).collect();
    frame.render_widget(Paragraph::new(lines), list);
}

/// Max-size's account of the plan, in red while the cache stays over the cap.
fn cap_line(plan: &cachet::gc::GcPlan, theme: Theme) -> Option<Line<'static>> {
    let account = format!("{}.", plan.cap_account()?);
    Some(match plan.over_cap() {
        Some(_) => Line::from(Span::styled(account, theme.error())),
        None => Line::from(account),
    })
}

/// What the plan frees, in all and per reason.
fn summary_lines(plan: &cachet::gc::GcPlan, width: u16, theme: Theme) -> Vec<Line<'static>> {
    let mut out = vec![Line::from(format!(
        "{} and {}: frees {} on disk, {} stays shared.",
        items_word(plan.items.len()),
        count_of(plan.files.len() as u64, "file", "files"),
        text::size(plan.exclusive_bytes()),
        text::size(plan.shared_bytes())
    ))];
    out.extend(cap_line(plan, theme));
    if width >= 48 {
        out.push(Line::from(Span::styled(
            format!(
                "{:<14}{:>6}{:>6}{:>11}{:>11}",
                "reason", "items", "files", "frees", "shared"
            ),
            theme.header(),
        )));
    }
    for (reason, t) in &plan.totals {
        out.push(Line::from(if width >= 48 {
            format!(
                "{:<14}{:>6}{:>6}{:>11}{:>11}",
                reason.to_string(),
                t.items,
                t.files,
                text::size(t.exclusive_bytes),
                text::size(t.shared_bytes)
            )
        } else {
            let what = if t.files > 0 {
                count_of(t.files, "file", "files")
            } else {
                items_word(t.items as usize)
            };
            format!("{reason}: {what}, frees {}", text::size(t.exclusive_bytes))
        }));
    }
    out
}
