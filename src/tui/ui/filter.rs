//! The filter line above the list: the bar while typing (with a caret under an error or
//! a notice), else the filter in force.

use ratatui::Frame;
use ratatui::layout::Position;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{Areas, Theme};
use crate::tui::app::App;

/// `/ ` before the text.
const PROMPT: u16 = 2;

pub fn draw(frame: &mut Frame, app: &App, areas: &Areas, theme: Theme) {
    let Some(area) = areas.filter else {
        return;
    };
    let bar = &app.filter;
    if !bar.editing {
        let text = app.list.query.filter.as_str();
        let line = Line::from(vec![
            Span::styled("filter ", theme.key()),
            Span::raw(text.to_string()),
            Span::styled("  (/ edits, esc clears)", theme.dim()),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    let width = usize::from(area.width.saturating_sub(PROMPT + 1));
    let scroll = bar.input.visual_scroll(width);
    let shown: String = bar.input.value().chars().skip(scroll).take(width).collect();
    let text_style = if bar.error.is_some() {
        theme.error()
    } else {
        Style::new()
    };
    let line = Line::from(vec![
        Span::styled("/ ", theme.key()),
        Span::styled(shown, text_style),
    ]);
    frame.render_widget(Paragraph::new(line), area);
    let cursor = bar.input.visual_cursor().saturating_sub(scroll);
    frame.set_cursor_position(Position::new(
        area.x + PROMPT + u16::try_from(cursor).unwrap_or(u16::MAX),
        area.y,
    ));
    let (Some(area), Some((pos, message, error))) = (areas.filter_note, bar.note()) else {
        return;
    };
    let style = if error { theme.error() } else { theme.marked() };
    let col = pos.map(|p| usize::from(PROMPT) + p.saturating_sub(scroll));
    let width = usize::from(area.width);
    let lines: Vec<Line> = match col {
        None => vec![Line::styled(message, style)],
        Some(c) => {
            let c = c.min(width.saturating_sub(1));
            let len = cachet::preview::width(&message);
            if c + 2 + len <= width {
                vec![Line::styled(format!("{}^ {message}", " ".repeat(c)), style)]
            } else if c > len {
                vec![Line::styled(
                    format!("{}{message} ^", " ".repeat(c - len - 1)),
                    style,
                )]
            } else {
                // Too long for one line: the caret, then the message wrapped below.
                vec![
                    Line::styled(format!("{}^", " ".repeat(c)), style),
                    Line::styled(message, style),
                ]
            }
        }
    };
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

/// Lines the note under the bar takes at `width`: one when the message fits beside the
/// caret, else the caret's line and the message wrapped (at most two lines of it).
pub fn note_height(pos: Option<usize>, message: &str, width: u16) -> u16 {
    let width = usize::from(width.max(1));
    let len = cachet::preview::width(message);
    let Some(p) = pos else {
        return u16::try_from(len.div_ceil(width).clamp(1, 2)).unwrap_or(2);
    };
    let c = (usize::from(PROMPT) + p).min(width.saturating_sub(1));
    if c + 2 + len <= width || c > len {
        1
    } else {
        1 + u16::try_from(len.div_ceil(width).clamp(1, 2)).unwrap_or(2)
    }
}
