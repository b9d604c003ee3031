//! Finding items with the filter language: `ls`, `count`, and the selection that
//! trash/restore/purge/fail/pin accept when given a filter instead of item references.

use std::io::{self, Write};

use anyhow::{Result, bail};
use cachet::filter::{self, Cursor, Filter, Query, SortSpec, Tab};
use cachet::{Cache, Item, Status};
use chrono::Utc;
use clap::Args;

use super::output::{self, age, count_of, human_size, json_line, status_text};
use super::{Global, parse_status, parsed};

#[derive(Args, Debug)]
pub struct LsArgs {
    /// A filter, e.g. `status:ready project=alpha 'batch>=2'` (words are joined).
    pub filter: Vec<String>,
    /// Only items in this status, or `stale` for writes whose writer's lease expired (the
    /// same as `status:S` in the filter).
    #[arg(long, value_parser = status_word)]
    pub status: Option<String>,
    /// Only the newest version of each key (same as `version=latest`).
    #[arg(long)]
    pub latest: bool,
    /// Sort by a built-in (id, created, size, accessed, uri, …) or an attribute;
    /// `-FIELD` or `FIELD:desc` for descending.
    #[arg(
        long,
        value_name = "FIELD[:desc]",
        default_value = "id",
        allow_hyphen_values = true,
        value_parser = read_as::<SortSpec>
    )]
    pub sort: SortSpec,
    /// At most this many items; the cursor for the next page goes to standard error.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Continue after this cursor (printed by a previous `--limit` run).
    #[arg(long, value_name = "CURSOR", value_parser = read_as::<Cursor>)]
    pub after: Option<Cursor>,
    /// Table columns: id, key, version, status, size, age (since created), created and
    /// accessed (times, UTC), name, uri, label, filename, sha256, or attribute names.
    #[arg(long, value_delimiter = ',', value_name = "A,B,…")]
    pub columns: Vec<String>,
}

#[derive(Args, Debug)]
pub struct CountArgs {
    /// A filter (words are joined).
    pub filter: Vec<String>,
    /// One count per status (and stale): `--by status`.
    #[arg(long, value_name = "WHAT", value_parser = ["status"])]
    pub by: Option<String>,
}

/// A value parser that reads the value as a `T` (see [`parsed`]).
fn read_as<T: std::str::FromStr<Err = cachet::Error>>(arg: &str) -> Result<T, String> {
    parsed(arg.parse::<T>())
}

/// Parses the words of a filter plus the shorthand options into one filter.
/// A `--status` value: a status, or `stale`, in lower case as the filter writes them.
fn status_word(arg: &str) -> Result<String, String> {
    let word = arg.to_ascii_lowercase();
    if word == "stale" {
        return Ok(word);
    }
    parse_status(arg).map_err(|e| format!("{e}, or stale"))?;
    Ok(word)
}

pub fn build_filter(words: &[String], status: Option<&str>, latest: bool) -> Result<Filter> {
    let mut text = words.join(" ");
    let mut extra = Vec::new();
    if let Some(s) = status {
        extra.push(format!("status:{s}"));
    }
    if latest {
        extra.push("version=latest".to_string());
    }
    if !extra.is_empty() {
        text = if text.trim().is_empty() {
            extra.join(" ")
        } else {
            format!("({text}) {}", extra.join(" "))
        };
    }
    Ok(Filter::parse(&text)?)
}

/// Tells about names in the filter that match nothing (with a suggestion).
fn print_notices(cache: &Cache, f: &Filter) -> Result<()> {
    for n in filter::check(cache.registry().db().conn, f)? {
        output::tell(format_args!("cachet: note: {}", n.message));
    }
    Ok(())
}

/// Every item id the filter matches, in id order.
pub fn matching_ids(cache: &Cache, f: &Filter) -> Result<Vec<i64>> {
    print_notices(cache, f)?;
    let conn = cache.registry().db().conn;
    let mut q = Query {
        filter: f.clone(),
        limit: 1000,
        ..Query::default()
    };
    let mut ids = Vec::new();
    loop {
        let page = filter::page(conn, &q, Utc::now())?;
        ids.extend(&page.ids);
        match page.next {
            Some(next) if !page.ids.is_empty() => q.after = Some(next),
            _ => return Ok(ids),
        }
    }
}

/// Whether a command-line word is a filter rather than an item reference (which a URI
/// such as `s3://bucket/model.bin` is, though it has a `:`).
pub fn looks_like_filter(word: &str) -> bool {
    let uri = word.split_once("://").is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && (scheme.chars()).all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    }) && !word.contains(' ');
    !uri && (word == "pinned" || word.contains([':', '=', '<', '>', '~', '!', '|', '(', ' ']))
}

pub fn ls(g: &Global, a: LsArgs) -> Result<()> {
    let cache = g.open_to_read()?;
    let f = build_filter(&a.filter, a.status.as_deref(), a.latest)?;
    print_notices(&cache, &f)?;
    let sort = a.sort;
    if let Some(note) = filter::check_sort(cache.registry().db().conn, &sort)? {
        output::tell(format_args!("cachet: note: {note}"));
    }
    let after = a.after;
    let conn = cache.registry().db().conn;
    let limit = a.limit.unwrap_or(usize::MAX);
    let mut out = io::BufWriter::new(output::stdout());
    let columns: Vec<String> = if a.columns.is_empty() {
        ["id", "key", "version", "status", "size", "age", "name"]
            .map(String::from)
            .to_vec()
    } else {
        // A built-in in capitals, as the header writes it (`ID,URI`), is that built-in.
        (a.columns.iter())
            .map(|c| {
                let lower = c.to_ascii_lowercase();
                if COLUMNS.contains(&lower.as_str()) {
                    lower
                } else {
                    c.clone()
                }
            })
            .collect()
    };
    for column in &columns {
        if let Some(note) = filter::check_column(conn, column, COLUMNS)? {
            output::tell(format_args!("cachet: note: {note}"));
        }
    }
    let header: Vec<String> = columns.iter().map(|c| c.to_ascii_uppercase()).collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut table = output::Table::new(&header, output::terminal_width());
    let mut rows = Vec::new();
    let mut q = Query {
        filter: f,
        sort,
        limit: limit.min(1000),
        after,
    };
    let (mut shown, mut unreadable) = (0, 0);
    let now = Utc::now();
    let mut more = None;
    let mut first_page = true;
    while shown < limit {
        q.limit = (limit - shown).min(1000);
        let page = filter::page(conn, &q, now)?;
        for (_, item) in cache.get_each(&page.ids)? {
            shown += 1;
            // One row that cannot be read (edited by hand) does not hide the others.
            let item = match item {
                Ok(item) => item,
                Err(e) => {
                    unreadable += 1;
                    output::tell(format_args!(
                        "cachet: error: {}",
                        output::one_line(&e.into())
                    ));
                    continue;
                }
            };
            if g.json {
                json_line(&mut out, &item.to_json())?;
            } else {
                rows.push(columns.iter().map(|c| cell(&item, c, now)).collect());
            }
        }
        if !g.json {
            if first_page && page.next.is_some() {
                // More pages to come, printed as they are read: the columns whose width
                // is bounded get it now, so that later pages line up (an id's and a
                // version's digits by the highest id, which no version exceeds).
                let digits = cache.last_id()?.to_string().len();
                let status = (Status::ALL.iter().map(|s| s.as_str().len()))
                    .chain([output::STALE_WRITE.len()])
                    .max()
                    .unwrap_or(0);
                for (at, column) in columns.iter().enumerate() {
                    let width = match column.as_str() {
                        "id" | "version" | "ver" => digits,
                        "status" => status,
                        // `999.9 KiB` has no more than 9; ages under a year no more than 4.
                        "size" => 9,
                        "age" => 4,
                        _ => 0,
                    };
                    table.at_least(at, width);
                }
            }
            table.print(&mut out, &rows)?;
            rows.clear();
        }
        first_page = false;
        match page.next {
            Some(next) if !page.ids.is_empty() => {
                more = Some(next.clone());
                q.after = Some(next);
            }
            _ => {
                more = None;
                break;
            }
        }
    }
    if !g.json {
        // The header, when there were no rows.
        table.print(&mut out, &[])?;
    }
    out.flush()?;
    if let (Some(cursor), Some(_)) = (more, a.limit) {
        output::tell(format_args!("cachet: more items: --after {cursor}"));
    }
    if unreadable > 0 {
        bail!(
            "{} could not be read",
            count_of(unreadable, "item", "items")
        );
    }
    Ok(())
}

/// A time in a table cell: to the minute, in UTC.
fn stamp(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// The columns `cell` knows by name; any other is an attribute's.
const COLUMNS: &[&str] = &[
    "id", "key", "version", "ver", "status", "size", "age", "created", "accessed", "name", "uri",
    "label", "filename", "sha256",
];

fn cell(item: &Item, column: &str, now: chrono::DateTime<Utc>) -> String {
    let time = |t: chrono::DateTime<Utc>| age(t, now);
    match column {
        "id" => item.id.to_string(),
        "key" => cachet::key::abbrev(&item.key, 10).to_string(),
        "version" | "ver" => item.version.to_string(),
        "status" => status_text(item, now),
        "size" => item.size.map(human_size).unwrap_or_default(),
        "age" => time(item.created),
        // The times themselves (AGE is how long ago the first was), to the minute, UTC.
        "created" => stamp(item.created),
        "accessed" => item.accessed.map(stamp).unwrap_or_else(|| "-".into()),
        "name" => item.display_name().to_string(),
        "uri" => item.uri.clone(),
        "label" => item.label.clone().unwrap_or_default(),
        "filename" => item.filename.clone().unwrap_or_default(),
        "sha256" => item
            .sha256
            .as_deref()
            .map(|s| cachet::key::abbrev(s, 12).to_string())
            .unwrap_or_default(),
        attr => item
            .attrs
            .get(attr.strip_prefix("attr.").unwrap_or(attr))
            .map(|v| v.to_string())
            .unwrap_or_default(),
    }
}

pub fn count(g: &Global, a: CountArgs) -> Result<()> {
    let cache = g.open_to_read()?;
    let f = build_filter(&a.filter, None, false)?;
    print_notices(&cache, &f)?;
    let conn = cache.registry().db().conn;
    let mut out = output::stdout();
    match a.by.as_deref() {
        None => {
            let n = filter::count(conn, &f, Utc::now())?;
            if g.json {
                json_line(&mut out, &serde_json::json!({"count": n}))?;
            } else {
                writeln!(out, "{n}")?;
            }
        }
        // `status`, the one value clap lets through.
        Some(_) => {
            let counts = filter::count_by_status(conn, &f, Utc::now(), None)?;
            let stale = counts.get(Tab::Stale).n;
            for s in Status::ALL {
                let n = counts.get(Tab::Status(s)).n;
                if g.json {
                    json_line(
                        &mut out,
                        &serde_json::json!({"status": s.as_str(), "count": n}),
                    )?;
                } else if s == Status::Write && stale > 0 {
                    writeln!(
                        out,
                        "{:<14}{n}  ({stale} of them stale: lease expired)",
                        s.as_str()
                    )?;
                } else {
                    writeln!(out, "{:<14}{n}", s.as_str())?;
                }
            }
            // Stale writes are WRITE items too: JSON says so, so that sums stay right.
            if g.json {
                json_line(
                    &mut out,
                    &serde_json::json!({"status": "STALE", "count": stale, "within": "WRITE"}),
                )?;
            }
        }
    }
    Ok(())
}
