//! Value syntax shared by built-ins and attributes: numbers, sizes, times and ages,
//! booleans and match patterns.

use chrono::NaiveDate;

use crate::attr::parse_datetime;

/// A value as SQLite stores and compares it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SqlVal {
    Int(i64),
    Real(f64),
    Text(String),
}

impl rusqlite::ToSql for SqlVal {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::ToSqlOutput;
        Ok(match self {
            SqlVal::Int(i) => ToSqlOutput::from(*i),
            SqlVal::Real(f) => ToSqlOutput::from(*f),
            SqlVal::Text(s) => ToSqlOutput::from(s.as_str()),
        })
    }
}

/// A time as written: an instant, a whole day, or an age relative to now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum TimeVal {
    /// Microseconds since the epoch.
    At(i64),
    /// The day starting at this many microseconds since the epoch.
    Day(i64),
    /// An age in microseconds (`7d`).
    Age(i64),
}

pub(crate) const DAY_MICROS: i64 = 86_400_000_000;

/// An integer, or a finite float written with digits (`3`, `-2`, `0.5`, `1e3`).
pub(crate) fn parse_number(raw: &str) -> Option<SqlVal> {
    if let Ok(i) = raw.parse::<i64>() {
        return Some(SqlVal::Int(i));
    }
    let numeric = raw.chars().any(|c| c.is_ascii_digit())
        && raw
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'));
    match raw.parse::<f64>() {
        Ok(f) if numeric && f.is_finite() => Some(SqlVal::Real(f)),
        _ => None,
    }
}

/// `true`/`false` and the usual synonyms.
pub(crate) fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Some(true),
        "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// A byte count (see [`crate::units::parse_size`]), as the registry stores it.
pub(crate) fn parse_size(raw: &str) -> Option<i64> {
    crate::units::parse_size(raw).and_then(|n| i64::try_from(n).ok())
}

/// An age (`90s`, `30m`, `12h`, `7d`, `2w`, `1y`), a date (`2026-01-01`, the whole day in
/// UTC) or an RFC 3339 instant.
pub(crate) fn parse_time(raw: &str) -> Option<TimeVal> {
    if let Some(age) = parse_age(raw) {
        return Some(TimeVal::Age(age));
    }
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let start = day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros();
        return Some(TimeVal::Day(start));
    }
    parse_datetime(raw).map(|dt| TimeVal::At(dt.timestamp_micros()))
}

/// An age in microseconds (see [`crate::units::parse_duration`]).
fn parse_age(raw: &str) -> Option<i64> {
    let d = crate::units::parse_duration(raw)?;
    i64::try_from(d.as_micros()).ok()
}

/// The longest text a search takes (SQLite refuses LIKE patterns past 50,000 bytes).
const LONGEST_SEARCH: usize = 10_000;

/// [`like_pattern`] of a search the user typed (a word, a quoted string, a `~` value), or
/// why there is none.
pub(crate) fn search_pattern(raw: &str) -> std::result::Result<String, String> {
    if raw.len() > LONGEST_SEARCH {
        return Err(format!(
            "a search of {} bytes is too long (at most {LONGEST_SEARCH})",
            raw.len()
        ));
    }
    Ok(like_pattern(raw))
}

/// The SQL LIKE pattern (escape `\`) for a `~` value: a glob anchored at both ends when
/// it has `*` or `?`, otherwise a substring. LIKE ignores ASCII case.
pub(crate) fn like_pattern(raw: &str) -> String {
    let glob = raw.contains(['*', '?']);
    let mut p = String::with_capacity(raw.len() + 2);
    if !glob {
        p.push('%');
    }
    for c in raw.chars() {
        match c {
            '*' => p.push('%'),
            '?' => p.push('_'),
            '%' | '_' | '\\' => {
                p.push('\\');
                p.push(c);
            }
            c => p.push(c),
        }
    }
    if !glob {
        p.push('%');
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1GB"), Some(1_000_000_000));
        assert_eq!(parse_size("1.5k"), Some(1536));
        assert_eq!(parse_size("2MiB"), Some(2 * 1024 * 1024));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("1XB"), None);
        assert_eq!(parse_size("99999999999TB"), None);
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("7d"), Some(TimeVal::Age(7 * DAY_MICROS)));
        assert_eq!(
            parse_time("2026-01-01"),
            Some(TimeVal::Day(1_767_225_600_000_000))
        );
        assert_eq!(
            parse_time("2026-01-01T00:00:01Z"),
            Some(TimeVal::At(1_767_225_601_000_000))
        );
        assert_eq!(parse_time("7x"), None);
        assert_eq!(parse_time("99999999999999999y"), None);
    }

    #[test]
    fn patterns() {
        assert_eq!(like_pattern("ab"), "%ab%");
        assert_eq!(like_pattern("a*.c?v"), "a%.c_v");
        assert_eq!(like_pattern("50%_"), "%50\\%\\_%");
        assert_eq!(parse_number("1e3"), Some(SqlVal::Real(1000.0)));
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_number("-4"), Some(SqlVal::Int(-4)));
    }
}
