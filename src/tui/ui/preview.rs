//! The preview pane: an archive's members, or a window of content as text, JSON, hex or
//! columns. Truncation, errors and notes are shown under the content, never hidden.

use cachet::preview::{Body, Content, MemberKind, Preview};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::Theme;
use crate::tui::app::{App, Focus};
use crate::tui::text;

pub fn draw(frame: &mut Frame, app: &App, area: Rect, theme: Theme) {
    let p = &app.preview;
    let focused = app.focus == Focus::Detail;
    let title = match (&p.shown, &p.want) {
        (Some(Ok(preview)), _) => {
            let what = match &preview.member {
                Some(m) => format!("{} › {}", text::shown(&preview.name), text::shown(&m.path)),
                None => text::shown(&preview.name).into_owned(),
            };
            // A table moved along: where it starts now.
            let from = match p.table_columns() {
                Some(n) if p.col > 0 => format!(" · from column {} of {n}", p.col + 1),
                _ => String::new(),
            };
            format!(" Preview: {what} [{}]{from} ", preview.format)
        }
        _ => " Preview ".to_string(),
    };
    let inner = super::side_pane(frame, area, title, focused, theme);
    let preview = match (&p.shown, &p.want) {
        (Some(Ok(preview)), _) => preview,
        (Some(Err(e)), _) => {
            frame.render_widget(
                Paragraph::new(Span::styled(format!("no preview: {e}"), theme.error()))
                    .wrap(ratatui::widgets::Wrap { trim: false }),
                inner,
            );
            return;
        }
        (None, Some(_)) => {
            frame.render_widget(Paragraph::new(Span::styled("loading…", theme.dim())), inner);
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
    let footer = footer(preview, theme);
    let [body, foot] = split(inner, footer.line_count(inner.width));
    let height = usize::from(body.height);
    let shown = match &preview.body {
        Body::Members { members, .. } => {
            let sel = p.sel.min(members.len().saturating_sub(1));
            let top = sel.saturating_sub(height.saturating_sub(1));
            let size_w = 10;
            let name_w = usize::from(body.width).saturating_sub(size_w + 2);
            let rows = members
                .iter()
                .enumerate()
                .skip(top)
                .take(height)
                .map(|(i, m)| {
                    let mut name = m.path.clone();
                    match m.kind {
                        MemberKind::Dir if !name.ends_with('/') => name.push('/'),
                        MemberKind::Symlink | MemberKind::Hardlink => {
                            name.push_str(" → ");
                            name.push_str(m.link_target.as_deref().unwrap_or("?"));
                        }
                        _ => {}
                    }
                    if m.unsafe_path {
                        name.push_str(" (unsafe path)");
                    }
                    if m.encrypted {
                        name.push_str(" (encrypted)");
                    }
                    let size = match m.kind {
                        MemberKind::File => text::size(m.size),
                        _ => String::new(),
                    };
                    let line =
                        Line::from(format!("{} {size:>size_w$}", text::tail_in(&name, name_w)));
                    if i == sel && focused {
                        line.style(theme.selected())
                    } else {
                        line
                    }
                });
            Paragraph::new(rows.collect::<Vec<_>>())
        }
        Body::Content { content } => content_view(
            content,
            (p.scroll, p.col, height, body.width, p.wrap),
            theme,
        ),
        Body::Nothing => Paragraph::new(Span::styled("nothing to show", theme.dim())),
    };
    frame.render_widget(shown, body);
    frame.render_widget(footer, foot);
}

/// The pane's inside split into the body and the footer of `footer` rows (at most half).
fn split(inner: Rect, footer: usize) -> [Rect; 2] {
    let foot_h = (footer as u16).min(inner.height / 2);
    Layout::vertical([Constraint::Min(1), Constraint::Length(foot_h)]).areas(inner)
}

/// How far the preview's content scrolls: its rows past the last screenful of the body.
pub fn max_scroll(app: &App) -> usize {
    content_body(app).map_or(0, |(content, body)| {
        last_top(
            content,
            body.width,
            usize::from(body.height),
            app.preview.wrap,
        )
    })
}

/// The content the pane shows and the part of it the content is drawn in (the footer
/// below), when it shows content.
fn content_body(app: &App) -> Option<(&Content, Rect)> {
    let (Some(inner), Some(Ok(p))) = (super::pane_inner(app), &app.preview.shown) else {
        return None;
    };
    let Body::Content { content } = &p.body else {
        return None;
    };
    let [body, _] = split(inner, footer(p, Theme::of(app)).line_count(inner.width));
    Some((content, body))
}

/// Where the preview scrolls to when `w` toggles wrapping: the line at the top stays at
/// the top (from its first row, when lines wrap). Only a text's rows change with it.
pub fn scroll_after_wrap(app: &App) -> usize {
    let p = &app.preview;
    let Some((content, body)) = content_body(app) else {
        return 0;
    };
    let (Content::Text { lines, cut_lines } | Content::Json { lines, cut_lines }) = content else {
        return p.scroll;
    };
    // Lines wrap one by one: each takes its own rows.
    let rows_of = |i: usize| {
        let cut: &[usize] = if cut_lines.contains(&i) { &[0] } else { &[] };
        wrapping(&lines[i..=i], cut, Theme { color: false }).line_count(body.width)
    };
    let top = p.scroll.min(last_top(
        content,
        body.width,
        usize::from(body.height),
        p.wrap,
    ));
    if p.wrap {
        // The line whose rows hold the top row.
        let mut rows = 0;
        (0..lines.len())
            .find(|&i| {
                rows += rows_of(i);
                rows > top
            })
            .unwrap_or(lines.len())
    } else {
        (0..top.min(lines.len())).map(rows_of).sum()
    }
}

/// Bytes on one hex line: 16, or 8 when the pane is narrow.
fn hex_per_line(width: u16) -> usize {
    if width >= 76 { 16 } else { 8 }
}

/// The first row of `content`'s last screenful in a body `width` by `height`, its long
/// lines wrapped if `wrap`.
fn last_top(content: &Content, width: u16, height: usize, wrap: bool) -> usize {
    let (rows, fit) = match content {
        Content::Text { lines, cut_lines } | Content::Json { lines, cut_lines } if wrap => {
            // Rows as the paragraph wraps them (at words, by the cells characters take).
            let rows = wrapping(lines, cut_lines, Theme { color: false }).line_count(width);
            (rows, height)
        }
        Content::Text { lines, .. } | Content::Json { lines, .. } => (lines.len(), height),
        // The header row stays.
        Content::Table { rows, .. } => (rows.len(), height.saturating_sub(1)),
        Content::Hex { rows } => (
            rows.iter()
                .map(|r| r.bytes.len().div_ceil(hex_per_line(width)))
                .sum(),
            height,
        ),
    };
    rows.saturating_sub(fit)
}

/// Truncation, errors and notes, most important first, wrapped to the pane: an error
/// names the file it is about (a blob's whole path) before it says what is wrong.
fn footer(p: &Preview, theme: Theme) -> Paragraph<'static> {
    let mut out = Vec::new();
    if let Body::Members { members, total } = &p.body {
        let count = match total {
            Some(t) if *t as usize != members.len() => {
                format!("{} of {t} members listed", members.len())
            }
            _ => format!("{} members", members.len()),
        };
        out.push(Line::from(Span::styled(count, theme.dim())));
    }
    if let Some(limit) = &p.truncated {
        out.push(Line::from(Span::styled(
            format!("truncated: {limit}"),
            theme.marked(),
        )));
    }
    if let Some(e) = &p.error {
        out.push(Line::from(Span::styled(e.clone(), theme.error())));
    }
    for note in &p.notes {
        out.push(Line::from(Span::styled(note.clone(), theme.dim())));
    }
    Paragraph::new(out).wrap(Wrap { trim: false })
}

/// What follows a line the preview cut.
const CUT_MARK: &str = " …(cut)";

/// Every line of a text, those the preview cut marked so, wrapping as a paragraph does
/// (the indent of a line kept). A preview holds a bounded number of lines.
fn wrapping(lines: &[String], cut: &[usize], theme: Theme) -> Paragraph<'static> {
    let lines: Vec<Line<'static>> = (lines.iter().enumerate())
        .map(|(i, l)| {
            let mut spans = vec![Span::raw(l.clone())];
            if cut.contains(&i) {
                spans.push(Span::styled(CUT_MARK, theme.marked()));
            }
            Line::from(spans)
        })
        .collect();
    Paragraph::new(lines).wrap(Wrap { trim: false })
}

/// The rows of `content` in sight: `view` is the first row, a table's first column, how
/// many rows, their width, and whether long lines wrap.
fn content_view(
    content: &Content,
    (scroll, col, height, width, wrap): (usize, usize, usize, u16, bool),
    theme: Theme,
) -> Paragraph<'static> {
    if wrap && let Content::Text { lines, cut_lines } | Content::Json { lines, cut_lines } = content
    {
        // Built once: it counts its own rows for the last screenful.
        let text = wrapping(lines, cut_lines, theme);
        let last = text.line_count(width).saturating_sub(height);
        let top = u16::try_from(scroll.min(last)).unwrap_or(u16::MAX);
        return text.scroll((top, 0));
    }
    let scroll = scroll.min(last_top(content, width, height, false));
    Paragraph::new(content_lines(content, (scroll, col, height, width), theme))
}

/// The rows of `content` in sight, each cut at the pane's edge: `view` is the first row
/// (within reach), a table's first column, how many rows, and their width.
fn content_lines(
    content: &Content,
    (scroll, col, height, width): (usize, usize, usize, u16),
    theme: Theme,
) -> Vec<Line<'static>> {
    let window = |lines: &[String], cut: &[usize]| -> Vec<Line<'static>> {
        lines
            .iter()
            .enumerate()
            .skip(scroll)
            .take(height)
            .map(|(i, l)| {
                // Wider than the pane: cut at its edge with a mark (the pane would cut it
                // without one), which also stands for the preview's own cut.
                let room = usize::from(width);
                if cachet::preview::width(l) > room {
                    return Line::from(cachet::preview::cut(l, room));
                }
                let mut spans = vec![Span::raw(l.clone())];
                if cut.contains(&i) {
                    spans.push(Span::styled(CUT_MARK, theme.marked()));
                }
                Line::from(spans)
            })
            .collect()
    };
    match content {
        Content::Text { lines, cut_lines } | Content::Json { lines, cut_lines } => {
            window(lines, cut_lines)
        }
        Content::Hex { rows } => {
            // Rows of 16 bytes, split in two lines when the pane is narrow.
            let per_line = hex_per_line(width);
            let lines = rows.iter().flat_map(|r| {
                r.bytes
                    .chunks(per_line)
                    .enumerate()
                    .map(move |(i, c)| (r.offset + (i * per_line) as u64, c))
            });
            lines
                .skip(scroll)
                .take(height)
                .map(|(offset, bytes)| {
                    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
                    let ascii: String = bytes
                        .iter()
                        .map(|b| {
                            if b.is_ascii_graphic() || *b == b' ' {
                                char::from(*b)
                            } else {
                                '.'
                            }
                        })
                        .collect();
                    Line::from(vec![
                        Span::styled(format!("{offset:08x} "), theme.dim()),
                        Span::raw(format!("{:<w$} ", hex.join(" "), w = per_line * 3)),
                        Span::styled(ascii, theme.dim()),
                    ])
                })
                .collect()
        }
        Content::Table {
            header,
            rows,
            cut_cells,
            ..
        } => table_lines(
            header,
            rows,
            *cut_cells,
            (scroll, col, height, width),
            theme,
        ),
    }
}

/// CSV as aligned columns from column `col` on: each as wide as its widest shown cell, at
/// most 24 but for the last, which has the room left (a one-column file is not cut short).
fn table_lines(
    header: &[String],
    rows: &[Vec<String>],
    cut_cells: usize,
    (scroll, col, height, width): (usize, usize, usize, u16),
    theme: Theme,
) -> Vec<Line<'static>> {
    let shown: Vec<&Vec<String>> = rows
        .iter()
        .skip(scroll)
        .take(height.saturating_sub(1))
        .collect();
    // As many as the widest row has, shown or not: as far as `→` goes (see
    // `PreviewPane::table_columns`), a row further down being ragged.
    let cols = cachet::preview::table_columns(header, rows);
    // A cell on one line, as the CLI shows it (a tab in it would vanish on the terminal).
    let cell = |cells: &[String], c: usize| {
        cachet::preview::one_line(cells.get(c).map_or("", String::as_str))
    };
    let widths: Vec<usize> = (col..cols)
        .map(|c| {
            let w = std::iter::once(header)
                .chain(shown.iter().map(|r| r.as_slice()))
                .map(|cells| cachet::preview::width(&cell(cells, c)))
                .max()
                .unwrap_or(0);
            if c + 1 == cols { w } else { w.min(24) }
        })
        .collect();
    let fmt_row = |cells: &[String]| -> String {
        let line = (col..cols)
            .zip(&widths)
            .map(|(c, &w)| cachet::preview::fit(&cell(cells, c), w))
            .collect::<Vec<_>>()
            .join(" │ ");
        // Columns past the pane's edge: cut there with a mark, as long text lines are.
        cachet::preview::cut(&line, usize::from(width))
    };
    let mut out = vec![Line::styled(fmt_row(header), theme.header())];
    out.extend(shown.iter().map(|r| Line::from(fmt_row(r))));
    if cut_cells > 0 && out.len() < height {
        out.push(Line::styled(
            format!("{cut_cells} cells cut at the line length limit"),
            Style::new(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use cachet::preview::Content;

    use super::last_top;

    fn text(lines: &[&str]) -> Content {
        Content::Text {
            lines: lines.iter().map(|l| l.to_string()).collect(),
            cut_lines: Vec::new(),
        }
    }

    /// Wrapped, a line takes the rows its characters' cells fill: wide ones take two.
    #[test]
    fn wrapped_rows_are_counted_in_cells() {
        let wide = text(&["漢字漢字漢字"]);
        assert_eq!(last_top(&wide, 6, 1, true), 1, "12 cells on rows of 6");
        assert_eq!(last_top(&wide, 6, 1, false), 0);
        let words = text(&["abc defg hi", "", "x"]);
        assert_eq!(
            last_top(&words, 6, 2, true),
            3,
            "abc / defg / hi, the empty line, x"
        );
        assert_eq!(last_top(&words, 6, 2, false), 1);
    }
}
