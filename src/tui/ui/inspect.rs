//! The manifest inspector pane: entries indented by how they were reached.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::Theme;
use crate::tui::app::{App, Focus};
use crate::tui::text;

pub fn draw(frame: &mut Frame, app: &App, area: Rect, theme: Theme) {
    let p = &app.inspect;
    let focused = app.focus == Focus::Detail;
    let title = match &p.shown {
        Some(Ok(v)) => format!(
            " Manifest ({}): {}{} entries{}{} ",
            v.manifest_type,
            // Read up to a cap: the count of those read is no count of the manifest's.
            if v.truncated { "the first " } else { "" },
            v.entries,
            if p.follow_refs { ", refs followed" } else { "" },
            if p.expand_shards {
                ", shards expanded"
            } else {
                ""
            }
        ),
        _ => " Manifest ".to_string(),
    };
    let inner = super::side_pane(frame, area, title, focused, theme);
    let view = match (&p.shown, &p.want) {
        (Some(Ok(v)), _) => v,
        (Some(Err(e)), _) => {
            frame.render_widget(
                Paragraph::new(Span::styled(e.clone(), theme.dim())).wrap(Wrap { trim: false }),
                inner,
            );
            return;
        }
        (None, Some(_)) => {
            frame.render_widget(Paragraph::new(Span::styled("reading…", theme.dim())), inner);
            return;
        }
        (None, None) => {
            frame.render_widget(
                Paragraph::new(Span::styled("nothing selected", theme.dim())),
                inner,
            );
            return;
        }
    };
    let mut notes: Vec<Line> = Vec::new();
    if view.truncated {
        // Where the rest can be read.
        let all = match &p.want {
            Some(want) => format!(" (all: cachet manifest show {})", want.id),
            None => String::new(),
        };
        notes.push(Line::styled(
            format!("truncated: the first {} entries{all}", view.entries),
            theme.marked(),
        ));
    }
    if let Some(e) = view.errors.first() {
        notes.push(Line::styled(
            format!("{} unreadable lines: {e}", view.errors.len()),
            theme.error(),
        ));
    }
    // Wrapped to be read whole, in at most half the pane.
    let notes = Paragraph::new(notes).wrap(Wrap { trim: false });
    let notes_h = u16::try_from(notes.line_count(inner.width)).unwrap_or(u16::MAX);
    let [body, foot] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(notes_h.min(inner.height / 2)),
    ])
    .areas(inner);
    let height = usize::from(body.height);
    let sel = p.sel.min(view.rows.len().saturating_sub(1));
    let top = sel.saturating_sub(height.saturating_sub(1));
    let size_w = 10;
    let lines: Vec<Line> = view
        .rows
        .iter()
        .enumerate()
        .skip(top)
        .take(height)
        .map(|(i, r)| {
            let indent = "  ".repeat(r.depth.min(8));
            let kind = match r.kind.as_str() {
                "file" => " ",
                "shard" => "▦",
                "manifest_ref" => "↪",
                _ => "?",
            };
            let name_w = usize::from(body.width).saturating_sub(size_w + 3 + indent.len());
            let size = r.size.map(text::size).unwrap_or_default();
            let name = if r.followed {
                format!("{} (followed)", r.key)
            } else {
                r.key.clone()
            };
            let line = Line::from(vec![
                Span::raw(indent),
                Span::styled(format!("{kind} "), theme.key()),
                Span::raw(text::tail_in(&name, name_w)),
                Span::styled(format!("{size:>size_w$}"), theme.dim()),
            ]);
            if i == sel && focused {
                line.style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), body);
    frame.render_widget(notes, foot);
}
