//! The detail pane: every field of one item, its attributes and its key's versions.

use std::path::Path;

use cachet::Item;
use cachet::blob::BlobStore;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::Theme;
use crate::tui::app::{App, Focus};
use crate::tui::text;

pub fn draw(frame: &mut Frame, app: &App, area: Rect, theme: Theme) {
    let focused = app.focus == Focus::Detail;
    let title = match (&app.detail.shown, app.detail_item()) {
        // Another version of the row's key, or an item reached from elsewhere (a
        // manifest's entry): named, since the pane's keys act on it and not on the row
        // the list still has selected.
        (Some(v), _) => format!(" Detail: item {} (v{}) ", v.id, v.version),
        (None, Some(item)) => format!(" Detail: item {} ", item.id),
        (None, None) => " Detail ".to_string(),
    };
    let inner = super::side_pane(frame, area, title, focused, theme);
    let Some(item) = app.detail_item() else {
        frame.render_widget(
            Paragraph::new(Span::styled("nothing selected", theme.dim())),
            inner,
        );
        return;
    };
    if let Some(why) = app.list.unreadable(item.id) {
        let lines = vec![
            Line::styled(
                format!("item {}: its row cannot be read", item.id),
                theme.error(),
            ),
            Line::raw(""),
            Line::raw(why.to_string()),
            Line::raw(""),
            Line::styled(
                "Nothing can be done to it until that column holds a value cachet knows.",
                theme.dim(),
            ),
        ];
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
        return;
    }
    let (lines, versions_at) = lines(app, item, theme);
    let scroll = scroll(app, &lines, versions_at, inner);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((scroll as u16, 0)),
        inner,
    );
}

/// Rows `lines` take once wrapped to `width`, as the pane wraps them.
fn rows(lines: &[Line], width: u16) -> usize {
    Paragraph::new(lines.to_vec())
        .wrap(Wrap { trim: false })
        .line_count(width.max(1))
}

/// The first row shown: the page keys' scroll, or (after `j`/`k`) so that the selected
/// version is in view; never past the last screenful, and from the top when the pane
/// has no keys.
fn scroll(app: &App, lines: &[Line], versions_at: usize, inner: Rect) -> usize {
    if app.focus != Focus::Detail {
        return 0;
    }
    let height = usize::from(inner.height);
    let last = rows(lines, inner.width).saturating_sub(height);
    let wanted = if app.detail.follow_sel {
        let upto = (versions_at + app.detail.sel + 1).min(lines.len());
        rows(&lines[..upto], inner.width).saturating_sub(height)
    } else {
        app.detail.scroll
    };
    wanted.min(last)
}

/// How far the page keys may scroll the detail pane: its rows past the last screenful.
pub fn max_scroll(app: &App) -> usize {
    let (Some(inner), Some(item)) = (super::pane_inner(app), app.detail_item()) else {
        return 0;
    };
    let (lines, _) = lines(app, item, Theme::of(app));
    rows(&lines, inner.width).saturating_sub(usize::from(inner.height))
}

fn field<'a>(name: &'a str, value: String, theme: Theme) -> Line<'a> {
    Line::from(vec![
        Span::styled(format!("{name:<9}"), theme.dim()),
        Span::raw(text::shown(&value).into_owned()),
    ])
}

/// The pane's lines, and the index of the first version line.
fn lines<'a>(app: &'a App, item: &'a Item, theme: Theme) -> (Vec<Line<'a>>, usize) {
    let now = app.now;
    let status = text::status(item, now);
    let mut out = vec![Line::from(Span::styled(
        text::shown(item.display_name()).into_owned(),
        theme.header(),
    ))];
    out.push(Line::from(vec![
        Span::styled(format!("{:<9}", "status"), theme.dim()),
        Span::styled(item.status.as_str(), theme.status(item.status.as_str())),
        Span::raw(if status == "STALE" {
            " (stale lease)"
        } else {
            ""
        }),
        Span::raw(if item.pinned { "  pinned" } else { "" }),
    ]));
    // Why it failed (or any note), where the status is.
    if let Some(note) = &item.note {
        out.push(field("note", note.clone(), theme));
    }
    out.push(field("id", item.id.to_string(), theme));
    out.push(field(
        "key",
        format!("{}  v{}", item.key, item.version),
        theme,
    ));
    out.push(field("uri", item.uri.clone(), theme));
    if !item.params.is_null() && item.params != serde_json::json!({}) {
        out.push(field("params", item.params.to_string(), theme));
    }
    if let Some(label) = &item.label {
        out.push(field("label", label.clone(), theme));
    }
    if let Some(f) = &item.filename {
        out.push(field("filename", f.clone(), theme));
    }
    match item.size {
        Some(s) => out.push(field(
            "size",
            format!("{} ({s} bytes)", text::size(s)),
            theme,
        )),
        None => out.push(field("size", "-".into(), theme)),
    }
    if let Some((_, m)) = app.detail.manifests.iter().find(|(id, _)| *id == item.id) {
        let entries = cachet::units::count_of(m.entries, "entry", "entries");
        let what = format!("{}, {entries} (m inspects)", m.manifest_type);
        out.push(field("manifest", what, theme));
    }
    let versions = &app.detail.versions;
    out.push(Line::from(Span::styled(
        format!("versions ({})", versions.len()),
        theme.header(),
    )));
    let versions_at = out.len();
    for (i, v) in versions.iter().enumerate() {
        let here = v.id == item.id;
        let s = text::status(v, now);
        let line = Line::from(vec![
            Span::raw(if here { "▸ " } else { "  " }),
            Span::raw(format!("v{:<4} #{:<7} ", v.version, v.id)),
            Span::styled(format!("{s:<7}"), theme.status(s)),
            Span::raw(format!(
                " {:>9} {}",
                v.size.map(text::size).unwrap_or_else(|| "-".into()),
                text::age(v.created, now)
            )),
        ]);
        let selected = app.focus == Focus::Detail && i == app.detail.sel;
        out.push(if selected {
            line.style(theme.selected())
        } else {
            line.style(Style::new())
        });
    }
    out.push(Line::from(Span::styled(
        format!("attributes ({})", item.attrs.len()),
        theme.header(),
    )));
    for (name, value) in &item.attrs {
        out.push(Line::from(vec![
            Span::raw(format!("  {} ", text::shown(name))),
            Span::styled(format!("{} ", value.kind()), theme.dim()),
            Span::raw(text::shown(&value.to_string()).into_owned()),
        ]));
    }
    if let Some(sha) = &item.sha256 {
        out.push(field("sha256", sha.clone(), theme));
        if let Ok(p) = BlobStore::new(Path::new(&app.root)).path(sha) {
            out.push(field("path", p.display().to_string(), theme));
        }
    }
    let when = |t| format!("{} ({} ago)", text::time(t), text::age(t, now));
    out.push(field("created", when(item.created), theme));
    out.push(field("updated", when(item.updated), theme));
    match item.accessed {
        Some(t) => out.push(field(
            "accessed",
            // The count and its word stay on one row where the pane wraps.
            format!(
                "{}, {}",
                when(t),
                cachet::units::count_of(item.access_count, "read", "reads").replace(' ', "\u{a0}")
            ),
            theme,
        )),
        None => out.push(field("accessed", "never".into(), theme)),
    }
    if let Some(lease) = &item.lease {
        let state = if lease.expires < now {
            "expired"
        } else {
            "valid"
        };
        out.push(field(
            "lease",
            format!(
                "pid {} on {}, until {} ({state})",
                lease.pid,
                lease.host,
                text::time(lease.expires)
            ),
            theme,
        ));
    }
    // When, as gc counts it: the last change, which the move to the trash was.
    if let Some(from) = item.trashed_from {
        let ago = text::age(item.updated, now);
        out.push(field("trashed", format!("from {from}, {ago} ago"), theme));
    }
    (out, versions_at)
}
