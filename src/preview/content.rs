//! Turns the first bytes of a stream into something to look at: text lines, a hex dump,
//! pretty JSON, or a table (see [`super::table`]). Everything here works on a bounded
//! window; nothing reads a whole member.

use std::borrow::Cow;
use std::io::{self, Read};

use serde::Serialize;

use super::limits::{Limit, PreviewOpts};
use super::table;

/// A rendered content window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Content {
    /// UTF-8 text (invalid bytes replaced, control characters shown as `^X`). `cut_lines`
    /// holds the indexes of lines cut at [`PreviewOpts::max_line_len`].
    Text {
        lines: Vec<String>,
        cut_lines: Vec<usize>,
    },
    /// Binary data, 16 bytes a row.
    Hex { rows: Vec<HexRow> },
    /// CSV, TSV, or JSON Lines whose records are objects. `source` is `csv`, `tsv` or
    /// `jsonl`; `cut_cells` counts cells cut at `max_line_len`.
    Table {
        source: String,
        header: Vec<String>,
        rows: Vec<Vec<String>>,
        cut_cells: usize,
    },
    /// JSON re-indented (key order kept), or JSON Lines one compact record per line.
    Json {
        lines: Vec<String>,
        cut_lines: Vec<usize>,
    },
}

/// How many columns a table has: as many as its header, or its widest row (rows of a
/// CSV can be ragged), whichever has more.
pub fn table_columns(header: &[String], rows: &[Vec<String>]) -> usize {
    rows.iter().map(Vec::len).fold(header.len(), usize::max)
}

/// One row of a hex dump.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HexRow {
    pub offset: u64,
    /// The row's bytes.
    pub bytes: Vec<u8>,
}

/// The first bytes of a stream, and why reading stopped.
pub(crate) struct Window {
    pub bytes: Vec<u8>,
    /// More data followed when a limit stopped the read.
    pub limit: Option<Limit>,
    /// Reading failed here; `bytes` holds what came before.
    pub error: Option<io::Error>,
}

/// Bytes sniffed before deciding text or binary.
const PROBE: usize = 8 * 1024;
const CHUNK: usize = 64 * 1024;

/// Reads up to `max_bytes` (or `max_lines` lines; `max_lines` hex rows for binary data).
pub(crate) fn read_window(r: &mut dyn Read, opts: &PreviewOpts) -> Window {
    let max_bytes = usize::try_from(opts.max_bytes).unwrap_or(usize::MAX);
    let mut w = Window {
        bytes: Vec::new(),
        limit: None,
        error: None,
    };
    let mut cap = max_bytes.min(PROBE);
    let mut binary = None;
    let mut newlines = 0usize;
    while w.bytes.len() < cap {
        let start = w.bytes.len();
        let want = (cap - start).min(CHUNK);
        let got = match r.take(want as u64).read_to_end(&mut w.bytes) {
            Ok(n) => n,
            Err(e) => {
                w.error = Some(e);
                return w;
            }
        };
        let is_binary = *binary.get_or_insert_with(|| looks_binary(&w.bytes));
        if is_binary {
            cap = max_bytes.min(opts.max_lines.saturating_mul(16));
        } else {
            cap = max_bytes;
            let from = start;
            for (i, &b) in w.bytes[from..].iter().enumerate() {
                if b != b'\n' {
                    continue;
                }
                newlines += 1;
                if newlines >= opts.max_lines {
                    let end = from + i + 1;
                    let more = w.bytes.len() > end || peek_more(r);
                    w.bytes.truncate(end);
                    if more {
                        w.limit = Some(Limit::MaxLines(opts.max_lines));
                    }
                    return w;
                }
            }
        }
        if got < want {
            return w; // end of stream: everything fits
        }
    }
    let more = w.bytes.len() > cap || peek_more(r);
    w.bytes.truncate(cap);
    if more {
        w.limit = Some(if cap < max_bytes {
            Limit::MaxLines(opts.max_lines)
        } else {
            Limit::MaxBytes(opts.max_bytes)
        });
    }
    w
}

/// Whether at least one more byte follows (errors count as "unknown": no).
fn peek_more(r: &mut dyn Read) -> bool {
    let mut one = [0u8; 1];
    matches!(r.read(&mut one), Ok(1))
}

/// NUL bytes, or more than one in ten bytes being control characters or invalid UTF-8.
pub(crate) fn looks_binary(bytes: &[u8]) -> bool {
    let probe = &bytes[..bytes.len().min(PROBE)];
    if probe.contains(&0) {
        return true;
    }
    let controls = probe
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b | 0x08))
        .count();
    let invalid = String::from_utf8_lossy(trim_partial_utf8(probe))
        .chars()
        .filter(|&c| c == char::REPLACEMENT_CHARACTER)
        .count();
    (controls + invalid) * 10 > probe.len()
}

/// Drops an incomplete UTF-8 sequence at the end (a window can cut a character in two).
fn trim_partial_utf8(b: &[u8]) -> &[u8] {
    match std::str::from_utf8(b) {
        Err(e) if e.error_len().is_none() => &b[..e.valid_up_to()],
        _ => b,
    }
}

/// Builds the content view of a window. `name` hints the type by its extension;
/// `truncated` says the window is not the whole stream. Returns a limit when the view
/// itself had to stop (more pretty-printed lines than `max_lines`).
pub(crate) fn build(
    bytes: &[u8],
    name: &str,
    truncated: bool,
    opts: &PreviewOpts,
) -> (Content, Option<Limit>) {
    if looks_binary(bytes) {
        return (hex(bytes, opts.max_lines), None);
    }
    let raw = if truncated {
        trim_partial_utf8(bytes)
    } else {
        bytes
    };
    let text = String::from_utf8_lossy(raw);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let starts_json = text.trim_start().starts_with(['{', '[']);
    let built = match ext.as_str() {
        "json" | "geojson" => {
            json(text, truncated, opts).or_else(|| table::jsonl(text, truncated, opts))
        }
        "jsonl" | "ndjson" => table::jsonl(text, truncated, opts),
        "csv" => Some(table::delimited(
            text,
            table::csv_delimiter(text, truncated),
            truncated,
            opts,
        )),
        "tsv" | "tab" => Some(table::delimited(text, '\t', truncated, opts)),
        _ if starts_json => table::jsonl(text, truncated, opts)
            .filter(|_| text.trim_end().contains('\n'))
            .or_else(|| json(text, truncated, opts)),
        _ => table::sniff(text, truncated, opts),
    };
    built.unwrap_or_else(|| lines_view(text.lines(), opts, false))
}

/// Pretty JSON, if `text` is one JSON value (or a valid prefix of one when truncated).
fn json(text: &str, truncated: bool, opts: &PreviewOpts) -> Option<(Content, Option<Limit>)> {
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Ok(_) => {}
        Err(e) if truncated && e.is_eof() => {}
        Err(_) => return None,
    }
    let lines = reindent(text, opts.max_lines.saturating_add(1));
    Some(lines_view(lines.iter().map(String::as_str), opts, true))
}

/// Lines into a `Text` (or `Json`) view: cleaned, cut, at most `max_lines`.
pub(crate) fn lines_view<'a>(
    lines: impl Iterator<Item = &'a str>,
    opts: &PreviewOpts,
    is_json: bool,
) -> (Content, Option<Limit>) {
    let mut out = Vec::new();
    let mut cut_lines = Vec::new();
    let mut limit = None;
    for line in lines {
        if out.len() >= opts.max_lines {
            limit = Some(Limit::MaxLines(opts.max_lines));
            break;
        }
        let (text, cut) = clean_cut(line, opts.max_line_len);
        if cut {
            cut_lines.push(out.len());
        }
        out.push(text);
    }
    let content = if is_json {
        Content::Json {
            lines: out,
            cut_lines,
        }
    } else {
        Content::Text {
            lines: out,
            cut_lines,
        }
    };
    (content, limit)
}

/// Makes a string safe to show (control characters as `^X`, C1 controls replaced) and
/// cuts it at `max` characters. Returns whether it was cut.
pub(crate) fn clean_cut(s: &str, max: usize) -> (String, bool) {
    let s = s.strip_suffix('\r').unwrap_or(s);
    let cleaned = escape_controls(s);
    match cleaned.char_indices().nth(max) {
        Some((at, _)) => (cleaned[..at].to_string(), true),
        None => (cleaned.into_owned(), false),
    }
}

/// Control characters as caret notation (`ESC` → `^[`), so previewed data can never
/// drive the terminal it is printed on. Tabs are kept.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    let bad = |c: char| (c.is_control() && c != '\t') || c == '\u{2028}' || c == '\u{2029}';
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\t' => out.push(c),
            '\u{7f}' => out.push_str("^?"),
            c if (c as u32) < 0x20 => {
                out.push('^');
                out.push(char::from(b'@' + c as u8));
            }
            c if bad(c) => out.push(char::REPLACEMENT_CHARACTER),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn hex(bytes: &[u8], max_rows: usize) -> Content {
    let rows = bytes
        .chunks(16)
        .take(max_rows)
        .enumerate()
        .map(|(i, chunk)| HexRow {
            offset: i as u64 * 16,
            bytes: chunk.to_vec(),
        })
        .collect();
    Content::Hex { rows }
}

/// Re-indents JSON text two spaces a level, keeping key order and number spelling; works
/// on a prefix too. Stops after `max_lines` lines.
fn reindent(text: &str, max_lines: usize) -> Vec<String> {
    let b = text.as_bytes();
    let mut lines = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let newline = |cur: &mut Vec<u8>, lines: &mut Vec<String>, depth: usize| {
        lines.push(String::from_utf8_lossy(cur).into_owned());
        cur.clear();
        cur.resize(depth * 2, b' ');
    };
    while i < b.len() && lines.len() < max_lines {
        let c = b[i];
        match c {
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                let end = (i + 1).min(b.len());
                cur.extend_from_slice(&b[start..end]);
            }
            b'{' | b'[' => {
                let close = if c == b'{' { b'}' } else { b']' };
                let next = b[i + 1..].iter().position(|c| !c.is_ascii_whitespace());
                if next.is_some_and(|n| b[i + 1 + n] == close) {
                    cur.extend_from_slice(&[c, close]);
                    i += 1 + next.unwrap_or(0);
                } else {
                    cur.push(c);
                    depth += 1;
                    newline(&mut cur, &mut lines, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if cur.iter().any(|c| !c.is_ascii_whitespace()) {
                    newline(&mut cur, &mut lines, depth);
                } else {
                    cur.clear();
                    cur.resize(depth * 2, b' ');
                }
                cur.push(c);
            }
            b',' => {
                cur.push(c);
                newline(&mut cur, &mut lines, depth);
            }
            b':' => cur.extend_from_slice(b": "),
            c if c.is_ascii_whitespace() => {
                if depth == 0 && cur.iter().any(|c| !c.is_ascii_whitespace()) && c == b'\n' {
                    newline(&mut cur, &mut lines, 0);
                }
            }
            _ => cur.push(c),
        }
        i += 1;
    }
    if cur.iter().any(|c| !c.is_ascii_whitespace()) && lines.len() < max_lines {
        lines.push(String::from_utf8_lossy(&cur).into_owned());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> PreviewOpts {
        PreviewOpts::default()
    }

    #[test]
    fn reindent_keeps_order_and_handles_strings() {
        let lines = reindent(r#"{"b":1,"a":[1,2],"s":"x,{y}\"","e":{}}"#, 100);
        assert_eq!(
            lines,
            vec![
                "{",
                "  \"b\": 1,",
                "  \"a\": [",
                "    1,",
                "    2",
                "  ],",
                "  \"s\": \"x,{y}\\\"\",",
                "  \"e\": {}",
                "}"
            ]
        );
    }

    #[test]
    fn reindent_survives_prefixes_and_garbage() {
        let full = r#"{"a":[{"b":"c\"d"},[],{}],"z":null}"#;
        for end in 0..=full.len() {
            let _ = reindent(&full[..end], 100);
        }
        let _ = reindent("]]]}}}\"\\", 100);
        assert_eq!(reindent("[1,2,3]", 2).len(), 2);
    }

    #[test]
    fn controls_are_escaped() {
        assert_eq!(escape_controls("a\x1b[31mb\tc\x7f"), "a^[[31mb\tc^?");
        assert_eq!(escape_controls("\u{85}"), "\u{fffd}");
        assert!(matches!(escape_controls("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn cut_counts_chars_not_bytes() {
        assert_eq!(clean_cut("ééééé", 3), ("ééé".to_string(), true));
        assert_eq!(clean_cut("abc\r", 3), ("abc".to_string(), false));
    }

    #[test]
    fn binary_detection() {
        assert!(looks_binary(b"abc\0def"));
        assert!(!looks_binary("héllo wörld\n".as_bytes()));
        assert!(looks_binary(&[0xff; 64]));
        assert!(!looks_binary(b""));
    }

    #[test]
    fn window_stops_at_lines_and_bytes() {
        let data = "line\n".repeat(100);
        let mut o = opts();
        o.max_lines = 10;
        let w = read_window(&mut data.as_bytes(), &o);
        assert_eq!(w.bytes.len(), 50);
        assert_eq!(w.limit, Some(Limit::MaxLines(10)));
        o.max_lines = 100;
        let w = read_window(&mut data.as_bytes(), &o);
        assert_eq!(w.limit, None);
        o.max_bytes = 7;
        let w = read_window(&mut data.as_bytes(), &o);
        assert_eq!(w.bytes.len(), 7);
        assert_eq!(w.limit, Some(Limit::MaxBytes(7)));
    }

    #[test]
    fn window_of_binary_is_bounded_by_rows() {
        let data = vec![0u8; 100_000];
        let mut o = opts();
        o.max_lines = 4;
        let w = read_window(&mut &data[..], &o);
        assert_eq!(w.bytes.len(), 64);
        assert_eq!(w.limit, Some(Limit::MaxLines(4)));
        let (c, _) = build(&w.bytes, "x", true, &o);
        let Content::Hex { rows } = c else {
            panic!("not hex")
        };
        assert_eq!(rows.len(), 4);
    }
}
