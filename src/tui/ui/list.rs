//! The item table: only the visible rows are built.

use cachet::Item;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use super::Theme;
use crate::tui::app::{App, Focus};
use cachet::filter::{Col as Column, Scope, SortKey};

use crate::tui::model::sort_up;
use crate::tui::text;

/// A column of the table.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Col {
    Mark,
    Id,
    Name,
    Version,
    Status,
    Size,
    Age,
    /// The attribute `app.columns[i]`, and its width (measured once per layout).
    Attr(usize, u16),
}

impl Col {
    fn title(self, app: &App) -> String {
        if let Col::Attr(i, _) = self {
            return app
                .columns
                .get(i)
                .cloned()
                .unwrap_or_default()
                .to_uppercase();
        }
        if self == Col::Name && by_uri(app) {
            return "URI".to_string();
        }
        self.fixed_title().to_string()
    }

    fn fixed_title(self) -> &'static str {
        match self {
            Col::Mark => "",
            Col::Id => "ID",
            Col::Name => "NAME",
            Col::Version => "VER",
            Col::Status => "STATUS",
            Col::Size => "SIZE",
            Col::Age => "AGE",
            Col::Attr(..) => "",
        }
    }

    fn width(self, app: &App) -> Constraint {
        match self {
            Col::Mark => Constraint::Length(2),
            Col::Id => Constraint::Length(app.list.id_width()),
            Col::Name => Constraint::Min(10),
            Col::Version => Constraint::Length(4),
            Col::Status => Constraint::Length(7),
            Col::Size => Constraint::Length(9),
            Col::Age => Constraint::Length(5),
            Col::Attr(_, w) => Constraint::Length(w),
        }
    }

    /// What sorting by this column sorts by.
    fn sort(self, app: &App) -> Option<SortKey> {
        let col = match self {
            Col::Mark => return None,
            Col::Id => Column::Id,
            Col::Name => Column::Uri,
            Col::Version => Column::Version,
            Col::Status => Column::Status,
            Col::Size => Column::Size,
            Col::Age => Column::Created,
            Col::Attr(i, _) => {
                return app
                    .columns
                    .get(i)
                    .map(|n| SortKey::Attr(Scope::Attr, n.clone()));
            }
        };
        Some(SortKey::Col(col))
    }
}

/// The orders `s` steps through: by id, then by what the columns on screen show, left to
/// right. Id order (the order items were made in) is always one: where the ID column has
/// no room, the footer still says the list is in it.
pub fn sort_keys(app: &App) -> Vec<SortKey> {
    let width = super::screen(app).list.width;
    let mut keys: Vec<SortKey> = (columns(app, width).into_iter())
        .filter_map(|c| c.sort(app))
        .collect();
    let by_id = SortKey::Col(cachet::filter::Col::Id);
    if !keys.contains(&by_id) {
        keys.insert(0, by_id);
    }
    keys
}

/// How many of the chosen attribute columns fit on screen (the others are left out).
pub fn attr_columns_shown(app: &App) -> usize {
    let width = super::screen(app).list.width;
    (columns(app, width).iter())
        .filter(|c| matches!(c, Col::Attr(..)))
        .count()
}

/// The columns that fit `width`, most important kept: chosen attributes go after the
/// name, as many as leave the name 16 columns.
fn columns(app: &App, width: u16) -> Vec<Col> {
    use Col::*;
    let mut cols = if width >= 70 {
        vec![Mark, Id, Name, Version, Status, Size, Age]
    } else if width >= 50 {
        vec![Mark, Name, Version, Status, Size, Age]
    } else {
        vec![Mark, Name, Status, Size]
    };
    let fixed = fixed_width(app, &cols);
    // As many as fit, each as wide as it needs, leaving the name 16 columns.
    let mut room = width.saturating_sub(fixed + 16);
    let mut attrs = Vec::new();
    for i in 0..app.columns.len() {
        let w = attr_width(app, i);
        if w + 1 > room {
            break;
        }
        room -= w + 1;
        attrs.push(Attr(i, w));
    }
    let at = cols.iter().position(|c| *c == Name).map_or(1, |p| p + 1);
    cols.splice(at..at, attrs);
    cols
}

/// The width of attribute column `i`: its name (and the sort mark) or its widest value on
/// screen, whichever is wider, within 4 to 24.
fn attr_width(app: &App, i: usize) -> u16 {
    let Some(name) = app.columns.get(i) else {
        return 10;
    };
    let list = &app.list;
    let widest = (list.offset..list.offset + list.height)
        .filter_map(|r| list.row(r))
        .filter_map(|item| item.attrs.get(name))
        .map(|v| cachet::preview::width(&v.to_string()))
        .max()
        .unwrap_or(0);
    let w = widest.max(cachet::preview::width(name) + 1).clamp(4, 24);
    u16::try_from(w).unwrap_or(24)
}

/// The width the fixed-width columns take, with a space after each.
fn fixed_width(app: &App, cols: &[Col]) -> u16 {
    cols.iter()
        .map(|c| match c.width(app) {
            Constraint::Length(n) => n + 1,
            _ => 1,
        })
        .sum()
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect, theme: Theme) {
    let cols = columns(app, area.width);
    let cols = cols.as_slice();
    let sort = &app.list.query.sort;
    let header = Row::new(cols.iter().map(|c| {
        let mut title = c.title(app);
        if c.sort(app).as_ref() == Some(&sort.key) {
            title.push(if sort_up(sort) { '▲' } else { '▼' });
        }
        Cell::from(title)
    }))
    .style(theme.header());
    let height = usize::from(area.height.saturating_sub(1));
    let list = &app.list;
    if list.is_empty() {
        let in_force = list.query.filter.as_str();
        let text = match app.counts {
            None => "loading…".to_string(),
            // What is typed does not parse: the list is still that of the last that did,
            // which is named (a word typed on the way, as `created` on the way to
            // `created<7d`, matches nothing).
            Some(_) if app.filter.error.is_some() && !in_force.is_empty() => {
                format!("nothing matches the last filter that read: {in_force}")
            }
            Some(_) if !in_force.is_empty() => "nothing matches the filter".to_string(),
            Some(_) => "no items here".to_string(),
        };
        let table = Table::new(Vec::<Row>::new(), cols.iter().map(|c| c.width(app))).header(header);
        frame.render_widget(table, area);
        if area.height > 2 {
            let msg = Rect::new(area.x + 2, area.y + 2, area.width.saturating_sub(2), 1);
            frame.render_widget(Paragraph::new(Span::styled(text, theme.dim())), msg);
        }
        return;
    }
    let end = (list.offset + height).min(list.len());
    let fixed = fixed_width(app, cols);
    let name_w = usize::from(area.width.saturating_sub(fixed).max(10));
    let rows: Vec<Row> = (list.offset..end)
        .map(|i| {
            let selected = i == list.sel;
            let row = match list.row(i) {
                Some(item) => item_row(app, item, cols, name_w, theme),
                None => Row::new(vec![Cell::from(""), Cell::from("…")]),
            };
            if selected {
                let style = if app.focus == Focus::List {
                    theme.selected()
                } else {
                    theme.selected().add_modifier(ratatui::style::Modifier::DIM)
                };
                row.style(style)
            } else {
                row
            }
        })
        .collect();
    let table = Table::new(rows, cols.iter().map(|c| c.width(app)))
        .header(header)
        .column_spacing(1);
    frame.render_widget(table, area);
}

/// Whether the list is sorted by URI (the NAME column's sort).
fn by_uri(app: &App) -> bool {
    app.list.query.sort.key == cachet::filter::SortKey::Col(cachet::filter::Col::Uri)
}

fn item_row<'a>(app: &App, item: &'a Item, cols: &[Col], name_w: usize, theme: Theme) -> Row<'a> {
    if let Some(why) = app.list.unreadable(item.id) {
        return unreadable_row(item.id, why, cols, name_w, theme);
    }
    let marked = app.marks.contains_key(&item.id);
    let cells = cols.iter().map(|c| match c {
        Col::Mark => {
            let mut s = String::new();
            s.push(if marked { '●' } else { ' ' });
            s.push(if item.pinned { '⚲' } else { ' ' });
            Cell::from(Span::styled(s, theme.marked()))
        }
        Col::Id => Cell::from(item.id.to_string()),
        Col::Name => {
            let style = if marked { theme.marked() } else { Style::new() };
            // Sorted by URI, the column shows what it is sorted by, not labels. A URI's end
            // (its file name) says most, a label's start.
            let name = match &item.label {
                Some(label) if !by_uri(app) => text::head(label, name_w),
                _ => text::tail(&item.uri, name_w),
            };
            Cell::from(Line::styled(name, style))
        }
        Col::Version => Cell::from(item.version.to_string()),
        Col::Status => {
            let s = text::status(item, app.now);
            Cell::from(Span::styled(s, theme.status(s)))
        }
        Col::Size => Cell::from(
            Line::from(item.size.map(text::size).unwrap_or_else(|| "-".into())).right_aligned(),
        ),
        Col::Age => Cell::from(text::age(item.created, app.now)),
        Col::Attr(i, _) => Cell::from(
            app.columns
                .get(*i)
                .and_then(|name| item.attrs.get(name))
                .map(|v| text::shown(&v.to_string()).into_owned())
                .unwrap_or_default(),
        ),
    });
    Row::new(cells.collect::<Vec<_>>())
}

/// The row of an item whose row in the registry cannot be read: its id, and why.
fn unreadable_row<'a>(id: i64, why: &str, cols: &[Col], name_w: usize, theme: Theme) -> Row<'a> {
    let cells = cols.iter().map(|c| match c {
        Col::Id => Cell::from(id.to_string()),
        // The column and what is wrong with it, from the error's "item N, column C: …".
        Col::Name => {
            let what = why.find("column ").map_or(why, |at| &why[at..]);
            let text = cachet::preview::cut(&format!("unreadable {what}"), name_w);
            Cell::from(Span::styled(text, theme.error()))
        }
        Col::Status => Cell::from(Span::styled("?", theme.error())),
        _ => Cell::from(""),
    });
    Row::new(cells.collect::<Vec<_>>())
}
