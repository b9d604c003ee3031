//! Substring searches through the registry's trigram index (`item_text`, schema version
//! 5): a LIKE pattern becomes an FTS5 query whose matches, with the items not indexed
//! yet, are a superset of the items the pattern matches; the pattern itself is still
//! checked on every candidate.
//!
//! A literal run of three or more characters must contain each of its trigrams. A run of
//! one or two characters starts some trigram of the text (each field is followed by two
//! `\x01`s), so it is looked up as the set of indexed trigrams that begin with it.

use rusqlite::Connection;

use super::planned::TextRows;
use super::typecheck::db_err;
use super::value::like_pattern;
use crate::error::Result;
use crate::registry::text::NOT_INDEXED;

/// At most this many trigrams begin with a short run for it to lead a query; more, and
/// the run is too common for the index to be worth it.
const MAX_TERMS: usize = 64;

/// A short run found among this many of the newest items is common: not looked up.
#[cfg(not(test))]
const SAMPLE: i64 = 2000;
/// Small in tests, so that tiny registries look short runs up too.
#[cfg(test)]
const SAMPLE: i64 = 2;

/// At most this many trigrams of the longer runs are asked for: any of them narrows the
/// candidates, and the pattern is checked anyway.
const MAX_TRIGRAMS: usize = 24;

/// What the trigram index can say about a LIKE pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TextMatch {
    /// Nothing: no literal run it can look up.
    Unindexed,
    /// No item's text can match.
    Nothing,
    /// Candidates that include every item the pattern matches.
    Candidates(TextRows),
}

/// The literal runs of a LIKE pattern (escape `\`): the text between wildcards.
fn runs(pattern: &str) -> Vec<Vec<char>> {
    let mut out = Vec::new();
    let mut run = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' | '_' => {
                if !run.is_empty() {
                    out.push(std::mem::take(&mut run));
                }
            }
            '\\' => run.push(chars.next().unwrap_or('\\')),
            c => run.push(c),
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

/// An FTS5 string: in double quotes, quotes doubled.
fn quoted(chars: &[char]) -> String {
    let mut s = String::with_capacity(chars.len() + 2);
    s.push('"');
    for c in chars {
        if *c == '"' {
            s.push('"');
        }
        s.push(*c);
    }
    s.push('"');
    s
}

/// The query for `pattern`, looking short runs up in `item_text_terms`.
pub(crate) fn text_match(conn: &Connection, pattern: &str) -> Result<TextMatch> {
    let runs = runs(pattern);
    let mut trigrams: Vec<String> = Vec::new();
    for run in runs.iter().filter(|r| r.len() >= 3) {
        for t in run.windows(3) {
            let t = quoted(t);
            if !trigrams.contains(&t) && trigrams.len() < MAX_TRIGRAMS {
                trigrams.push(t);
            }
        }
    }
    if !trigrams.is_empty() {
        return Ok(TextMatch::Candidates(TextRows {
            fts: Some(trigrams.join(" AND ")),
        }));
    }
    // The index folds case like the tokenizer does; outside ASCII the folding is not
    // ours to repeat, so only ASCII runs are looked up.
    let Some(run) = (runs.iter())
        .filter(|r| r.iter().all(char::is_ascii))
        .max_by_key(|r| r.len())
    else {
        return Ok(TextMatch::Unindexed);
    };
    // Reading the terms costs as much as their postings: for a run found among the
    // newest items, the walk in the listing's order finds matches sooner. (A run holds
    // no `*` or `?`: the pattern was a glob turned into LIKE, so this is a substring.)
    let sample = like_pattern(&run.iter().collect::<String>());
    let err = db_err(conn, "looking up the text index");
    let common: bool = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM (SELECT uri, label, filename FROM items
                                            ORDER BY id DESC LIMIT ?2)
                            WHERE uri LIKE ?1 ESCAPE '\\' OR label LIKE ?1 ESCAPE '\\'
                               OR filename LIKE ?1 ESCAPE '\\')",
        )
        .and_then(|mut st| st.query_row((&sample, SAMPLE), |r| r.get(0)))
        .map_err(&err)?;
    if common {
        return Ok(TextMatch::Unindexed);
    }
    let prefix: String = run.iter().map(char::to_ascii_lowercase).collect();
    // Terms are compared as UTF-8 bytes: everything that starts with `prefix` sorts
    // before `prefix` followed by the highest code point.
    let end = format!("{prefix}\u{10FFFF}");
    let mut stmt = conn
        .prepare_cached("SELECT term FROM item_text_terms WHERE term >= ?1 AND term < ?2 LIMIT ?3")
        .map_err(&err)?;
    let terms = stmt
        .query_map((&prefix, &end, MAX_TERMS as i64 + 1), |r| {
            r.get::<_, String>(0)
        })
        .map_err(&err)?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(&err)?;
    Ok(match terms.len() {
        0 => {
            // Only the items the index does not cover yet can match.
            let waiting: bool = conn
                .prepare_cached(&format!("SELECT EXISTS ({NOT_INDEXED})"))
                .and_then(|mut st| st.query_row([], |r| r.get(0)))
                .map_err(&err)?;
            if waiting {
                TextMatch::Candidates(TextRows { fts: None })
            } else {
                TextMatch::Nothing
            }
        }
        n if n > MAX_TERMS => TextMatch::Unindexed,
        _ => {
            let terms: Vec<String> = (terms.iter())
                .map(|t| quoted(&t.chars().collect::<Vec<_>>()))
                .collect();
            TextMatch::Candidates(TextRows {
                fts: Some(terms.join(" OR ")),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_runs() {
        let s =
            |v: Vec<Vec<char>>| -> Vec<String> { v.into_iter().map(String::from_iter).collect() };
        assert_eq!(s(runs("%ab%")), ["ab"]);
        assert_eq!(s(runs("a%.c_v")), ["a", ".c", "v"]);
        assert_eq!(s(runs("%50\\%\\_%")), ["50%_"]);
        assert!(runs("%%_").is_empty());
        assert_eq!(quoted(&['a', '"', 'b']), "\"a\"\"b\"");
    }
}
