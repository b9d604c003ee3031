//! Drawing: a pure function of [`App`]. The layout is computed here and shared with
//! `update` (clicks, list height), so both always agree on what is where.

#[path = "ui/detail.rs"]
pub mod detail;
#[path = "ui/filter.rs"]
mod filter;
#[path = "ui/gc.rs"]
mod gc;
#[path = "ui/inspect.rs"]
mod inspect;
#[path = "ui/list.rs"]
pub mod list;
#[path = "ui/popup.rs"]
mod popup;
#[path = "ui/preview.rs"]
pub mod preview;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::{App, Focus};
use super::keymap;
use super::model::{Tab, sort_title, sort_up};
use super::preview::PaneView;
use super::text;
use super::update::items_word;
use cachet::registry::Access;

/// Where each part of the screen is.
#[derive(Debug, Clone, Copy, Default)]
pub struct Areas {
    pub tabs: Rect,
    /// The filter line (the bar, or the filter in force), when there is one.
    pub filter: Option<Rect>,
    /// Under the bar: where a filter's error or notices point.
    pub filter_note: Option<Rect>,
    /// The list with its header row.
    pub list: Rect,
    /// The list's data rows.
    pub list_rows: Rect,
    /// The detail pane, when shown.
    pub pane: Option<Rect>,
    /// The status line (messages, marks, position), when there is room.
    pub status: Option<Rect>,
    pub keys: Rect,
}

/// Side by side from this width; below it the pane opens under the list (or over it).
const WIDE: u16 = 110;

/// The layout of the whole screen, as the app's size gives it.
pub fn screen(app: &App) -> Areas {
    layout(Rect::new(0, 0, app.size.0, app.size.1), app)
}

/// The side pane's inside (within its border), when it is shown.
pub fn pane_inner(app: &App) -> Option<Rect> {
    screen(app)
        .pane
        .map(|pane| Block::default().borders(Borders::ALL).inner(pane))
}

pub fn layout(area: Rect, app: &App) -> Areas {
    let two_lines = area.height >= 16;
    let bar = &app.filter;
    let filter_line = bar.editing || !app.list.query.filter.is_all();
    let note_lines = bar.note().map_or(0, |(pos, text, _)| {
        filter::note_height(pos, &text, area.width)
    });
    let [tabs, filter, filter_note, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::from(filter_line)),
        Constraint::Length(note_lines),
        Constraint::Min(1),
        Constraint::Length(if two_lines { 2 } else { 1 }),
    ])
    .areas(area);
    let (status, keys) = if two_lines {
        let [s, k] = Layout::vertical([Constraint::Length(1); 2]).areas(bottom);
        (Some(s), k)
    } else {
        (None, bottom)
    };
    let (list, pane) = if area.width >= WIDE {
        let [l, p] = Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)])
            .areas(body);
        (l, Some(p))
    } else if app.focus == Focus::Detail {
        if body.height >= 18 {
            let [l, p] = Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)])
                .areas(body);
            (l, Some(p))
        } else {
            (Rect::new(body.x, body.y, body.width, 0), Some(body))
        }
    } else {
        (body, None)
    };
    let list_rows = Rect::new(
        list.x,
        list.y.saturating_add(1).min(list.bottom()),
        list.width,
        list.height.saturating_sub(1),
    );
    Areas {
        tabs,
        filter: filter_line.then_some(filter),
        filter_note: (note_lines > 0).then_some(filter_note),
        list,
        list_rows,
        pane,
        status,
        keys,
    }
}

/// Styles, without colours when `NO_COLOR` is set.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    color: bool,
}

impl Theme {
    pub fn of(app: &App) -> Theme {
        Theme {
            color: !app.no_color,
        }
    }

    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn title(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn header(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    pub fn selected(self) -> Style {
        if self.color {
            Style::new().bg(Color::Blue).fg(Color::White)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }

    pub fn marked(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn dim(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }

    pub fn key(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn status(self, status: &str) -> Style {
        match status {
            "READY" => self.fg(Color::Green),
            "WRITE" | "UNINITIALIZED" => self.fg(Color::Yellow),
            "FAILED" | "STALE" => self.fg(Color::Red),
            "TRASH" => self.dim(),
            _ => Style::new(),
        }
    }

    pub fn active_tab(self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Cyan)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let areas = layout(area, app);
    let theme = Theme::of(app);
    draw_tabs(frame, app, areas.tabs, theme);
    filter::draw(frame, app, &areas, theme);
    if areas.list.height > 0 {
        list::draw(frame, app, areas.list, theme);
    }
    if let Some(pane) = areas.pane {
        match app.view {
            PaneView::Detail => detail::draw(frame, app, pane, theme),
            PaneView::Preview => preview::draw(frame, app, pane, theme),
            PaneView::Manifest => inspect::draw(frame, app, pane, theme),
        }
    }
    if let Some(status) = areas.status {
        draw_status(frame, app, status, theme);
    }
    draw_keys(frame, app, areas.keys, theme);
    if let Some(p) = &app.popup {
        // Above the status and key lines, which stay in sight (the gc dialog's bottom
        // border ran across the status line).
        let bottom = areas.status.map_or(areas.keys.y, |s| s.y.min(areas.keys.y));
        let above = Rect {
            height: bottom.saturating_sub(area.y),
            ..area
        };
        // A terminal too small for both: the whole screen, as before.
        let room = if above.height >= 8 { above } else { area };
        popup::draw(frame, app, p, room, theme);
    }
}

/// The tab labels at `width`: long (`1 Ready 12`) when they fit, else short.
fn tab_labels(app: &App, width: u16) -> Vec<String> {
    let count = |t: Tab| match app.counts {
        Some(c) => c.get(t.filter_tab()).to_string(),
        None => "…".to_string(),
    };
    let long: Vec<String> = Tab::ALL
        .iter()
        .enumerate()
        .map(|(i, t)| format!(" {} {} {} ", i + 1, t.title(), count(*t)))
        .collect();
    let title_len = 8;
    if long.iter().map(|l| l.chars().count()).sum::<usize>() + title_len <= usize::from(width) {
        return long;
    }
    Tab::ALL
        .iter()
        .map(|t| format!(" {}{} ", &t.title()[..1], count(*t)))
        .collect()
}

/// The tab under column `x` of the tab line.
pub fn tab_at(app: &App, x: u16) -> Option<Tab> {
    let labels = tab_labels(app, app.size.0);
    let mut at = title_width(app.size.0);
    for (label, tab) in labels.iter().zip(Tab::ALL) {
        let w = label.chars().count() as u16;
        if x >= at && x < at + w {
            return Some(tab);
        }
        at += w;
    }
    None
}

/// The frame of the side pane (detail, preview or manifest), brighter when it has the
/// focus; returns the area inside it.
fn side_pane(frame: &mut Frame, area: Rect, title: String, focused: bool, theme: Theme) -> Rect {
    // Between the corners, and marked where cut: what the pane is comes first.
    let title = cachet::preview::cut(&title, usize::from(area.width.saturating_sub(2)));
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(if focused { theme.key() } else { theme.dim() })
        .title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

fn title_width(width: u16) -> u16 {
    if width >= 60 { 8 } else { 0 }
}

fn draw_tabs(frame: &mut Frame, app: &App, area: Rect, theme: Theme) {
    let mut spans = Vec::new();
    if title_width(area.width) > 0 {
        spans.push(Span::styled(" cachet ", theme.title()));
    }
    for (label, tab) in tab_labels(app, area.width).into_iter().zip(Tab::ALL) {
        let style = if tab == app.tab() {
            theme.active_tab()
        } else {
            Style::new()
        };
        spans.push(Span::styled(label, style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_status(frame: &mut Frame, app: &App, area: Rect, theme: Theme) {
    let mut right = String::new();
    right.push_str(match app.access {
        Access::ReadWrite => "",
        Access::ReadOnly => "read-only  ",
        Access::Snapshot => "read-only snapshot  ",
    });
    if !app.marks.is_empty() {
        let bytes: u64 = app.marks.values().sum();
        right.push_str(&format!(
            "{} marked ({})  ",
            items_word(app.marks.len()),
            text::size(bytes)
        ));
    }
    let sort = &app.list.query.sort;
    right.push_str(&format!(
        "{}{}  ",
        sort_title(sort),
        if sort_up(sort) { "↑" } else { "↓" }
    ));
    if app.list.is_empty() {
        right.push_str("0/0");
    } else {
        // A count still capped is a lower bound, as on the tabs.
        let more = if app.list.exact() { "" } else { "+" };
        right.push_str(&format!("{}/{}{more}", app.list.sel + 1, app.list.len()));
    }
    let right_w = right.chars().count() as u16;
    let [l, r] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(right_w + 1)]).areas(area);
    let mut left: Vec<Span> = Vec::new();
    if let Some(busy) = &app.busy {
        left.push(Span::styled(format!("⟳ {busy} "), theme.key()));
    }
    if app.view == PaneView::Preview && app.preview.loading() {
        left.push(Span::styled("⟳ preview… ", theme.key()));
    }
    if let Some(m) = &app.message {
        let style = if m.error { theme.error() } else { Style::new() };
        let used: usize = left
            .iter()
            .map(|s| cachet::preview::width(&s.content))
            .sum();
        let room = usize::from(l.width).saturating_sub(used);
        left.push(Span::styled(text::middle(&m.text, room), style));
    }
    frame.render_widget(Paragraph::new(Line::from(left)), l);
    frame.render_widget(
        Paragraph::new(Span::styled(right, theme.dim())).right_aligned(),
        r,
    );
}

/// Keys on one row of `width`: the first ones, as many as fit whole (never one cut in
/// the middle). The way back (`esc`) and to the help (`?`) are kept wherever they are.
pub(super) fn key_row(keys: &[keymap::HelpLine], width: u16, theme: Theme) -> Line<'static> {
    // Each as `key what` and two spaces, but the last needs none.
    let room = usize::from(width) + 2;
    let wide = |(k, what): &keymap::HelpLine| {
        cachet::preview::width(k) + 1 + cachet::preview::width(what) + 2
    };
    let kept = |(k, _): &keymap::HelpLine| k.split_whitespace().any(|k| k == "?" || k == "esc");
    let mut used: usize = keys.iter().filter(|h| kept(h)).map(wide).sum();
    let (mut spans, mut full) = (Vec::new(), false);
    for h in keys {
        if !kept(h) {
            full = full || used + wide(h) > room;
            if full {
                continue;
            }
            used += wide(h);
        }
        spans.push(Span::styled(h.0, theme.key()));
        spans.push(Span::raw(format!(" {}  ", h.1)));
    }
    Line::from(spans)
}

fn draw_keys(frame: &mut Frame, app: &App, area: Rect, theme: Theme) {
    // With one bottom line, a message takes the place of the keys.
    if area.height == 1
        && layout(frame.area(), app).status.is_none()
        && let Some(m) = &app.message
    {
        let style = if m.error { theme.error() } else { Style::new() };
        let text = text::middle(&m.text, usize::from(area.width));
        frame.render_widget(Paragraph::new(Span::styled(text, style)), area);
        return;
    }
    let keys = if app.pending_key == Some('g') {
        Line::from(vec![
            Span::styled("g-", theme.key()),
            Span::raw("  g top  c garbage collection"),
        ])
    } else {
        key_row(keymap::footer(app), area.width, theme)
    };
    frame.render_widget(Paragraph::new(keys), area);
}

#[cfg(test)]
mod tests {
    use super::{Theme, key_row};

    fn row(keys: &[(&'static str, &'static str)], width: u16) -> String {
        let line = key_row(keys, width, Theme { color: false });
        line.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    /// Whole hints only, the first that fit; the ways back and to the help always.
    #[test]
    fn a_key_row_keeps_whole_hints_and_the_way_back() {
        let keys = [
            ("?", "help"),
            ("j/k", "move"),
            ("enter", "open"),
            ("esc", "back"),
        ];
        assert_eq!(row(&keys, 80), "? help  j/k move  enter open  esc back  ");
        assert_eq!(row(&keys, 30), "? help  j/k move  esc back  ");
        assert_eq!(row(&keys, 16), "? help  esc back  ");
        let confirm = [("y enter", "confirm"), ("n esc", "cancel")];
        assert_eq!(row(&confirm, 20), "n esc cancel  ");
    }
}
