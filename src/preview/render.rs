//! Plain-text rendering of a [`Preview`], for the CLI (and anything else that prints).
//! No colours, no terminal codes: control characters from the data are escaped.

use std::fmt::Write as _;

use super::archive::{Member, MemberKind};
use super::content::{Content, HexRow, escape_controls, table_columns};
use super::width::{cut, fit, width};
use super::{Body, Preview};

/// Widest a table column grows before its cells are cut with `…`.
const MAX_COLUMN: usize = 40;

/// Renders a preview as plain text: a header line, the listing or content, then the
/// truncation, error and notes. Lines cut by a limit end with `…`.
pub fn render(p: &Preview) -> String {
    let mut out = String::new();
    let _ = write!(out, "{} [{}]", escape_controls(&p.name), p.format);
    if let Some(m) = &p.member {
        let _ = write!(out, " {}", escape_controls(&m.path));
    }
    out.push('\n');
    if let Some(m) = &p.member {
        match m.kind {
            MemberKind::File => {}
            _ => {
                out.push_str(&member_line(m));
                out.push('\n');
            }
        }
    }
    match &p.body {
        Body::Members { members, total } => {
            for m in members {
                out.push_str(&member_line(m));
                out.push('\n');
            }
            let _ = match total {
                Some(t) => writeln!(out, "({} of {t} members shown)", members.len()),
                None => writeln!(out, "({} members shown)", members.len()),
            };
        }
        Body::Content { content } => content_lines(content, &mut out),
        Body::Nothing => {}
    }
    if let Some(limit) = &p.truncated {
        let _ = writeln!(out, "[truncated: {limit}]");
    }
    if let Some(e) = &p.error {
        let _ = writeln!(out, "[error: {}]", escape_controls(e));
    }
    for note in &p.notes {
        let _ = writeln!(out, "[note: {}]", escape_controls(note));
    }
    out
}

/// `ls -l`-like: kind, size, time, name, link target, flags.
fn member_line(m: &Member) -> String {
    let kind = match m.kind {
        MemberKind::File => '-',
        MemberKind::Dir => 'd',
        MemberKind::Symlink => 'l',
        MemberKind::Hardlink => 'h',
        MemberKind::Other => '?',
    };
    let time = m
        .mtime
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map_or_else(
            || "-".repeat(16),
            |t| t.format("%Y-%m-%d %H:%M").to_string(),
        );
    let mut line = format!("{kind} {:>12} {time} {}", m.size, escape_controls(&m.path));
    if let Some(target) = &m.link_target {
        let arrow = if m.kind == MemberKind::Hardlink {
            "=>"
        } else {
            "->"
        };
        let _ = write!(line, " {arrow} {}", escape_controls(target));
    }
    let mut flags = Vec::new();
    if m.unsafe_path {
        flags.push("unsafe path");
    }
    if m.non_utf8 {
        flags.push("non-UTF-8 name");
    }
    if m.encrypted {
        flags.push("encrypted");
    }
    if !flags.is_empty() {
        let _ = write!(line, "  [{}]", flags.join(", "));
    }
    line
}

fn content_lines(content: &Content, out: &mut String) {
    match content {
        Content::Text { lines, cut_lines } | Content::Json { lines, cut_lines } => {
            for (i, line) in lines.iter().enumerate() {
                out.push_str(line);
                if cut_lines.contains(&i) {
                    out.push('…');
                }
                out.push('\n');
            }
        }
        Content::Hex { rows } => {
            for row in rows {
                out.push_str(&hex_line(row));
                out.push('\n');
            }
        }
        Content::Table { header, rows, .. } => table_lines(header, rows, out),
    }
}

/// `xxd` style: offset, eight groups of two bytes, the printable bytes.
fn hex_line(row: &HexRow) -> String {
    let mut line = format!("{:08x}:", row.offset);
    for (i, b) in row.bytes.iter().enumerate() {
        if i % 2 == 0 {
            line.push(' ');
        }
        let _ = write!(line, "{b:02x}");
    }
    let width = 10 + 40;
    while line.len() < width {
        line.push(' ');
    }
    line.push(' ');
    line.extend(row.bytes.iter().map(|&b| {
        if b.is_ascii_graphic() || b == b' ' {
            char::from(b)
        } else {
            '.'
        }
    }));
    line
}

/// Columns aligned to their widest cell (in columns of the terminal, up to [`MAX_COLUMN`]).
fn table_lines(header: &[String], rows: &[Vec<String>], out: &mut String) {
    let cols = table_columns(header, rows);
    let mut widths = vec![0usize; cols];
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(width(&one_line(cell)).min(MAX_COLUMN));
        }
    }
    let mut line_of = |row: &[String]| {
        let mut line = String::new();
        for (i, w) in widths.iter().enumerate() {
            let cell = row.get(i).map_or(String::new(), |c| one_line(c));
            if i > 0 {
                line.push_str("  ");
            }
            if i + 1 < widths.len() {
                line.push_str(&fit(&cell, *w));
            } else {
                line.push_str(&cut(&cell, *w));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    line_of(header);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line_of(&rule);
    for row in rows {
        line_of(row);
    }
}

/// A table's cell on one line: embedded newlines and tabs shown as `⏎` and a space.
pub fn one_line(cell: &str) -> String {
    cell.replace('\n', "⏎").replace('\t', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_lines_look_like_xxd() {
        let row = HexRow {
            offset: 16,
            bytes: b"Hello, \x00world!\n".to_vec(),
        };
        assert_eq!(
            hex_line(&row),
            "00000010: 4865 6c6c 6f2c 2000 776f 726c 6421 0a    Hello, .world!."
        );
    }

    #[test]
    fn tables_align() {
        let mut out = String::new();
        let header = vec!["id".to_string(), "name".to_string()];
        let rows = vec![
            vec!["1".to_string(), "Ada".to_string()],
            vec!["22".to_string()],
        ];
        table_lines(&header, &rows, &mut out);
        assert_eq!(out, "id  name\n--  ----\n1   Ada\n22\n");
    }

    #[test]
    fn tables_align_wide_characters_by_the_columns_they_take() {
        let mut out = String::new();
        let header = vec!["名前".to_string(), "n".to_string()];
        let rows = vec![
            vec!["東京都".to_string(), "1".to_string()],
            vec!["ab".to_string(), "2".to_string()],
        ];
        table_lines(&header, &rows, &mut out);
        assert_eq!(out, "名前    n\n------  -\n東京都  1\nab      2\n");
    }
}
