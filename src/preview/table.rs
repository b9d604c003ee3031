//! Tables from delimited text (CSV, TSV) and from JSON Lines whose records are objects.

use serde_json::Value;

use super::content::{Content, clean_cut, lines_view};
use super::limits::{Limit, PreviewOpts};

/// Most columns a JSON Lines table collects; later keys are left out.
const MAX_COLUMNS: usize = 64;

/// Records sampled when guessing whether text without a telling name is a table.
const SNIFF_RECORDS: usize = 50;

/// Splits delimited text into records (RFC 4180 quoting: `"a,b"`, `""` for a quote,
/// newlines inside quotes). Stops after `max` records. Lenient: a stray quote is kept.
fn records(text: &str, delim: char, max: usize) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut at_field_start = true;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if out.len() >= max {
            return out;
        }
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            c if c == delim => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\n' => {
                if field.ends_with('\r') {
                    field.pop();
                }
                record.push(std::mem::take(&mut field));
                out.push(std::mem::take(&mut record));
                at_field_start = true;
            }
            c => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if (!field.is_empty() || !record.is_empty()) && out.len() < max {
        record.push(field);
        out.push(record);
    }
    out
}

/// Drops the last record when the window ends in the middle of it.
fn drop_partial(mut recs: Vec<Vec<String>>, text: &str, truncated: bool) -> Vec<Vec<String>> {
    if truncated && !text.ends_with('\n') && recs.len() > 1 {
        recs.pop();
    }
    recs
}

/// How many of the first records there are (complete ones) when they split at `delim`
/// into one width of two or more columns; `None` when they do not.
fn even_records(text: &str, delim: char, truncated: bool) -> Option<usize> {
    let sample = drop_partial(records(text, delim, SNIFF_RECORDS), text, truncated);
    let width = sample.first().map_or(0, Vec::len);
    (width >= 2 && sample.iter().all(|r| r.len() == width)).then_some(sample.len())
}

/// The delimiter of a `.csv` file: the comma, unless its first records split into one
/// width of two or more columns only at another (`;`, as spreadsheets write CSV where the
/// comma is the decimal mark; a tab; `|`).
pub(crate) fn csv_delimiter(text: &str, truncated: bool) -> char {
    [',', ';', '\t', '|']
        .into_iter()
        .find(|&d| even_records(text, d, truncated).is_some())
        .unwrap_or(',')
}

/// A table from delimited text; the first record is the header.
pub(crate) fn delimited(
    text: &str,
    delim: char,
    truncated: bool,
    opts: &PreviewOpts,
) -> (Content, Option<Limit>) {
    let recs = records(text, delim, opts.max_lines.saturating_add(2));
    let recs = drop_partial(recs, text, truncated);
    let source = if delim == '\t' { "tsv" } else { "csv" };
    table(source, recs, opts)
}

fn table(source: &str, recs: Vec<Vec<String>>, opts: &PreviewOpts) -> (Content, Option<Limit>) {
    let mut cut_cells = 0;
    let mut clean = |row: Vec<String>| -> Vec<String> {
        row.iter()
            .map(|cell| {
                let (s, cut) = clean_cut(cell, opts.max_line_len);
                cut_cells += usize::from(cut);
                s
            })
            .collect()
    };
    let mut recs = recs.into_iter();
    let header = recs.next().map(&mut clean).unwrap_or_default();
    let mut rows = Vec::new();
    let mut limit = None;
    for rec in recs {
        if rows.len() >= opts.max_lines {
            limit = Some(Limit::MaxLines(opts.max_lines));
            break;
        }
        rows.push(clean(rec));
    }
    let content = Content::Table {
        source: source.to_string(),
        header,
        rows,
        cut_cells,
    };
    (content, limit)
}

/// Text with no telling name: a table when the first records all have the same number
/// (two or more) of tab- or comma-separated fields.
pub(crate) fn sniff(
    text: &str,
    truncated: bool,
    opts: &PreviewOpts,
) -> Option<(Content, Option<Limit>)> {
    ['\t', ',']
        .into_iter()
        .find(|&d| even_records(text, d, truncated).is_some_and(|n| n >= 2))
        .map(|delim| delimited(text, delim, truncated, opts))
}

/// JSON Lines: every complete non-empty line one JSON value. Objects make a table, keys
/// that more lines have first, ties in order of first appearance (records of several kinds,
/// as a manifest's entries, show what they share before what only some have); anything
/// else is shown one compact record a line.
pub(crate) fn jsonl(
    text: &str,
    truncated: bool,
    opts: &PreviewOpts,
) -> Option<(Content, Option<Limit>)> {
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if truncated && !text.ends_with('\n') && lines.len() > 1 {
        lines.pop();
    }
    let more = lines.len() > opts.max_lines;
    lines.truncate(opts.max_lines);
    let values: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l))
        .collect::<Result<_, _>>()
        .ok()?;
    if values.is_empty() {
        return None;
    }
    let limit = more.then_some(Limit::MaxLines(opts.max_lines));
    if !values.iter().all(Value::is_object) {
        let compact: Vec<String> = values.iter().map(Value::to_string).collect();
        let (content, _) = lines_view(compact.iter().map(String::as_str), opts, true);
        return Some((content, limit));
    }
    // serde_json's map sorts keys; read each line again keeping the order it was written in.
    let objects: Vec<Ordered> = lines
        .iter()
        .map(|l| serde_json::from_str(l))
        .collect::<Result<_, _>>()
        .ok()?;
    // Each key with the number of lines that give it a value.
    let mut columns: Vec<(String, usize)> = Vec::new();
    for obj in &objects {
        for (key, value) in &obj.0 {
            let filled = usize::from(!value.is_null());
            if let Some((_, n)) = columns.iter_mut().find(|(k, _)| k == key) {
                *n += filled;
            } else if columns.len() < MAX_COLUMNS {
                columns.push((key.clone(), filled));
            }
        }
    }
    // Stable: ties keep the order written.
    columns.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    let columns: Vec<String> = columns.into_iter().map(|(k, _)| k).collect();
    let mut recs = vec![columns.clone()];
    for obj in &objects {
        let row = columns
            .iter()
            .map(
                |k| match obj.0.iter().find(|(key, _)| key == k).map(|(_, v)| v) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                },
            )
            .collect();
        recs.push(row);
    }
    let (content, inner) = table("jsonl", recs, opts);
    Some((content, limit.or(inner)))
}

/// A JSON object's entries in the order written.
struct Ordered(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Ordered, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = m.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(Ordered(entries))
            }
        }
        d.deserialize_map(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting() {
        let recs = records("a,\"b,c\",\"d\"\"e\"\n1,\"x\ny\",3\r\n", ',', 10);
        assert_eq!(recs, vec![vec!["a", "b,c", "d\"e"], vec!["1", "x\ny", "3"]]);
    }

    #[test]
    fn csv_files_may_be_split_by_semicolons() {
        assert_eq!(csv_delimiter("a;b;c\n1,5;2;3\n4;5,5;6\n", false), ';');
        assert_eq!(csv_delimiter("a,b\n1;2,3\n", false), ',');
        assert_eq!(csv_delimiter("one column\nonly\n", false), ',');
    }

    #[test]
    fn sniff_wants_consistent_widths() {
        let o = PreviewOpts::default();
        assert!(sniff("a,b\n1,2\n3,4\n", false, &o).is_some());
        assert!(sniff("Hello, world.\nNo commas here\n", false, &o).is_none());
        assert!(sniff("just one line, really\n", false, &o).is_none());
    }

    #[test]
    fn jsonl_objects_make_columns_in_first_seen_order() {
        let o = PreviewOpts::default();
        let (c, _) = jsonl("{\"b\":1,\"a\":\"x\"}\n{\"c\":[1],\"b\":2}\n", false, &o).unwrap();
        let Content::Table { header, rows, .. } = c else {
            panic!("{c:?}")
        };
        assert_eq!(header, vec!["b", "a", "c"]);
        assert_eq!(rows, vec![vec!["1", "x", ""], vec!["2", "", "[1]"]]);
        assert!(jsonl("{\"a\":1}\nnot json\n", false, &o).is_none());
    }

    /// Records of several kinds (a manifest's file and shard entries): what more of them
    /// have comes first, so a narrow pane shows filled columns.
    #[test]
    fn jsonl_columns_most_lines_fill_come_first() {
        let o = PreviewOpts::default();
        let text = concat!(
            "{\"meta\":{\"v\":1},\"kind\":\"file\",\"sha256\":\"aa\",\"note\":null}\n",
            "{\"kind\":\"shard\",\"count\":4,\"sha256\":\"bb\",\"note\":null}\n",
            "{\"kind\":\"shard\",\"count\":3,\"sha256\":\"cc\"}\n",
        );
        let (c, _) = jsonl(text, false, &o).unwrap();
        let Content::Table { header, rows, .. } = c else {
            panic!("{c:?}")
        };
        assert_eq!(header, vec!["kind", "sha256", "count", "meta", "note"]);
        assert_eq!(rows[1], vec!["shard", "bb", "4", "", ""]);
    }
}
