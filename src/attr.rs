//! Typed attribute values: int, float, text, bool, datetime (UTC).
//!
//! The same typing rules serve the CLI (`n=3`, `x=0.5`, `ok=true`,
//! `when=2026-01-01T00:00:00Z`, `k:text=3`), NDJSON import and params.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSqlOutput, ValueRef};
use serde_json::Value as Json;

use crate::error::{Error, Result};

/// An attribute's type. Stored in the registry as a small integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AttrType {
    Int,
    Float,
    Text,
    Bool,
    Datetime,
}

impl AttrType {
    /// Every type.
    pub const ALL: [AttrType; 5] = [
        AttrType::Int,
        AttrType::Float,
        AttrType::Text,
        AttrType::Bool,
        AttrType::Datetime,
    ];

    /// The code stored in the registry's `type` columns.
    pub fn code(self) -> i64 {
        match self {
            AttrType::Int => 0,
            AttrType::Float => 1,
            AttrType::Text => 2,
            AttrType::Bool => 3,
            AttrType::Datetime => 4,
        }
    }

    /// The type for a stored code.
    pub fn from_code(code: i64) -> Option<AttrType> {
        AttrType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The name users type and see.
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::Int => "int",
            AttrType::Float => "float",
            AttrType::Text => "text",
            AttrType::Bool => "bool",
            AttrType::Datetime => "datetime",
        }
    }

    /// Whether values of this type compare as numbers (int and float mix freely).
    pub fn is_numeric(self) -> bool {
        matches!(self, AttrType::Int | AttrType::Float)
    }
}

impl fmt::Display for AttrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AttrType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "int" | "integer" => Ok(AttrType::Int),
            "float" | "real" | "number" => Ok(AttrType::Float),
            "text" | "str" | "string" => Ok(AttrType::Text),
            "bool" | "boolean" => Ok(AttrType::Bool),
            "datetime" | "date" | "time" => Ok(AttrType::Datetime),
            _ => Err(Error::invalid(
                format!("type '{s}'"),
                "expected int, float, text, bool or datetime",
            )),
        }
    }
}

/// One typed value.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Int(i64),
    Float(f64),
    Text(String),
    Bool(bool),
    Datetime(DateTime<Utc>),
}

/// Named attributes, sorted by name.
pub type Attrs = BTreeMap<String, AttrValue>;

impl AttrValue {
    /// This value's type.
    pub fn kind(&self) -> AttrType {
        match self {
            AttrValue::Int(_) => AttrType::Int,
            AttrValue::Float(_) => AttrType::Float,
            AttrValue::Text(_) => AttrType::Text,
            AttrValue::Bool(_) => AttrType::Bool,
            AttrValue::Datetime(_) => AttrType::Datetime,
        }
    }

    /// Types a raw string the way users expect: `3` int, `0.5` float, `true`/`false` bool,
    /// an RFC 3339 timestamp datetime, a quoted string (`'3'` or `"3"`) text, anything else
    /// text. Non-finite numbers (`nan`, `inf`) are refused: they cannot be compared or
    /// searched.
    pub fn infer(name: &str, raw: &str) -> Result<AttrValue> {
        if let Some(inner) = unquote(raw) {
            return Ok(AttrValue::Text(inner.to_string()));
        }
        if let Ok(i) = raw.parse::<i64>() {
            return Ok(AttrValue::Int(i));
        }
        // A whole number past an int's range would quietly become a float.
        let digits = raw.strip_prefix(['+', '-']).unwrap_or(raw);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(
                format!("attribute '{name}'"),
                format!(
                    "{raw} does not fit a 64-bit signed integer (for a float: {name}:float={raw})"
                ),
            ));
        }
        if looks_numeric(raw)
            && let Ok(f) = raw.parse::<f64>()
        {
            return finite(name, f);
        }
        if is_non_finite_word(raw) {
            return Err(non_finite(name, raw));
        }
        match raw {
            "true" => return Ok(AttrValue::Bool(true)),
            "false" => return Ok(AttrValue::Bool(false)),
            _ => {}
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(raw) {
            return Ok(AttrValue::Datetime(dt.with_timezone(&Utc)));
        }
        Ok(AttrValue::Text(raw.to_string()))
    }

    /// Parses `raw` as exactly `kind`, with an error that says what was expected.
    pub fn parse_as(name: &str, kind: AttrType, raw: &str) -> Result<AttrValue> {
        let bad = |expected: &str| {
            Error::invalid(
                format!("attribute '{name}'"),
                format!("{name} is {kind}, got '{raw}' (expected {expected})"),
            )
        };
        match kind {
            AttrType::Text => Ok(AttrValue::Text(unquote(raw).unwrap_or(raw).to_string())),
            AttrType::Int => raw
                .parse::<i64>()
                .map(AttrValue::Int)
                .map_err(|_| bad("a whole number")),
            AttrType::Float => {
                let f = raw.parse::<f64>().map_err(|_| bad("a number"))?;
                finite(name, f)
            }
            AttrType::Bool => match raw.to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Ok(AttrValue::Bool(true)),
                "false" | "no" | "0" => Ok(AttrValue::Bool(false)),
                _ => Err(bad("true or false")),
            },
            AttrType::Datetime => parse_datetime(raw)
                .map(AttrValue::Datetime)
                .ok_or_else(|| bad("an RFC 3339 time like 2026-01-01T00:00:00Z, or a date")),
        }
    }

    /// Parses the CLI form `name=value` or `name:type=value`.
    pub fn parse_assignment(arg: &str) -> Result<(String, AttrValue)> {
        let (lhs, raw) = arg.split_once('=').ok_or_else(|| {
            Error::invalid(format!("'{arg}'"), "expected name=value or name:type=value")
        })?;
        let (name, forced) = match lhs.split_once(':') {
            Some((n, t)) => (n, Some(t.parse::<AttrType>()?)),
            None => (lhs, None),
        };
        validate_name(name)?;
        let value = match forced {
            Some(kind) => AttrValue::parse_as(name, kind, raw)?,
            None => AttrValue::infer(name, raw)?,
        };
        Ok((name.to_string(), value))
    }

    /// Converts a JSON value (from NDJSON import or params). Strings are taken as text
    /// unless they are RFC 3339 timestamps; `{"type": T, "value": V}` forces a type.
    pub fn from_json(name: &str, v: &Json) -> Result<AttrValue> {
        match v {
            Json::Bool(b) => Ok(AttrValue::Bool(*b)),
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Ok(AttrValue::Int(i))
                } else if n.is_u64() {
                    Err(Error::invalid(
                        format!("attribute '{name}'"),
                        format!("{n} does not fit a 64-bit signed integer"),
                    ))
                } else {
                    finite(name, n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Json::String(s) => match DateTime::parse_from_rfc3339(s) {
                Ok(dt) => Ok(AttrValue::Datetime(dt.with_timezone(&Utc))),
                Err(_) => Ok(AttrValue::Text(s.clone())),
            },
            Json::Object(obj) => {
                let kind = obj.get("type").and_then(Json::as_str);
                let value = obj.get("value");
                match (kind, value) {
                    (Some(kind), Some(value)) if obj.len() == 2 => {
                        let kind: AttrType = kind.parse()?;
                        let raw = match value {
                            Json::String(s) => s.clone(),
                            other => other.to_string(),
                        };
                        AttrValue::parse_as(name, kind, &raw)
                    }
                    _ => Err(Error::invalid(
                        format!("attribute '{name}'"),
                        "an object value must be {\"type\": T, \"value\": V}",
                    )),
                }
            }
            Json::Null | Json::Array(_) => Err(Error::invalid(
                format!("attribute '{name}'"),
                "expected a number, string, bool or {\"type\": T, \"value\": V}",
            )),
        }
    }

    /// The plain JSON form: numbers, strings, bools, datetimes as RFC 3339 strings.
    pub fn to_json(&self) -> Json {
        match self {
            AttrValue::Int(i) => Json::from(*i),
            AttrValue::Float(f) => Json::from(*f),
            AttrValue::Text(s) => Json::from(s.as_str()),
            AttrValue::Bool(b) => Json::from(*b),
            AttrValue::Datetime(dt) => Json::from(format_datetime(dt)),
        }
    }

    /// Reads a stored value back given its type code.
    pub fn from_stored(kind: AttrType, value: ValueRef<'_>) -> FromSqlResult<AttrValue> {
        Ok(match kind {
            AttrType::Int => AttrValue::Int(i64::column_result(value)?),
            AttrType::Float => AttrValue::Float(f64::column_result(value)?),
            AttrType::Text => AttrValue::Text(String::column_result(value)?),
            AttrType::Bool => AttrValue::Bool(i64::column_result(value)? != 0),
            AttrType::Datetime => {
                let micros = i64::column_result(value)?;
                AttrValue::Datetime(
                    DateTime::from_timestamp_micros(micros)
                        .ok_or(FromSqlError::OutOfRange(micros))?,
                )
            }
        })
    }

    /// This value as reading it back after storing it gives it: datetimes keep whole
    /// microseconds (see [`AttrValue::to_stored`]).
    pub fn as_stored(&self) -> AttrValue {
        match self {
            AttrValue::Datetime(dt) => DateTime::from_timestamp_micros(dt.timestamp_micros())
                .map_or_else(|| self.clone(), AttrValue::Datetime),
            other => other.clone(),
        }
    }

    /// The value as stored: ints, floats and text natively, bools as 0/1 and datetimes as
    /// microseconds since the epoch, so range queries run on an index.
    pub fn to_stored(&self) -> ToSqlOutput<'_> {
        match self {
            AttrValue::Int(i) => ToSqlOutput::from(*i),
            AttrValue::Float(f) => ToSqlOutput::from(*f),
            AttrValue::Text(s) => ToSqlOutput::from(s.as_str()),
            AttrValue::Bool(b) => ToSqlOutput::from(i64::from(*b)),
            AttrValue::Datetime(dt) => ToSqlOutput::from(dt.timestamp_micros()),
        }
    }
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Int(i) => write!(f, "{i}"),
            AttrValue::Float(x) => write!(f, "{x}"),
            AttrValue::Text(s) => f.write_str(s),
            AttrValue::Bool(b) => write!(f, "{b}"),
            AttrValue::Datetime(dt) => f.write_str(&format_datetime(dt)),
        }
    }
}

/// RFC 3339 in UTC with a `Z`, seconds precision unless there are fractions.
pub fn format_datetime(dt: &DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses an RFC 3339 time, or a bare date `YYYY-MM-DD` as midnight UTC.
pub fn parse_datetime(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(raw) {
        return Some(dt.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

/// Attribute and parameter names: non-empty, no spaces, no operator characters, so that
/// the filter language can always name them.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            format!("name '{name}'"),
            "names use letters, digits, '_', '-', '.', '/' (at most 128)",
        ))
    }
}

fn unquote(raw: &str) -> Option<&str> {
    let b = raw.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        Some(&raw[1..raw.len() - 1])
    } else {
        None
    }
}

/// Only strings made of digits, sign, dot and exponent count as floats; Rust's parser
/// also takes words like "inf", which users mean as text or as a mistake.
fn looks_numeric(raw: &str) -> bool {
    !raw.is_empty()
        && raw.chars().any(|c| c.is_ascii_digit())
        && raw
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'))
}

fn is_non_finite_word(raw: &str) -> bool {
    let w = raw.trim_start_matches(['+', '-']).to_ascii_lowercase();
    matches!(w.as_str(), "nan" | "inf" | "infinity")
}

fn non_finite(name: &str, raw: &str) -> Error {
    Error::invalid(
        format!("attribute '{name}'"),
        format!("'{raw}' is not a finite number; quote it ({name}='{raw}') to store text"),
    )
}

fn finite(name: &str, f: f64) -> Result<AttrValue> {
    if f.is_finite() {
        Ok(AttrValue::Float(f))
    } else {
        Err(non_finite(name, &f.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(raw: &str) -> AttrValue {
        AttrValue::infer("a", raw).unwrap()
    }

    #[test]
    fn infers_types_like_users_write_them() {
        assert_eq!(infer("3"), AttrValue::Int(3));
        assert_eq!(infer("-3"), AttrValue::Int(-3));
        assert_eq!(infer("0.5"), AttrValue::Float(0.5));
        assert_eq!(infer("1e3"), AttrValue::Float(1000.0));
        assert_eq!(infer("true"), AttrValue::Bool(true));
        assert_eq!(infer("'3'"), AttrValue::Text("3".into()));
        assert_eq!(infer("\"true\""), AttrValue::Text("true".into()));
        assert_eq!(infer("alpha"), AttrValue::Text("alpha".into()));
        assert_eq!(infer("1.2.3"), AttrValue::Text("1.2.3".into()));
        assert_eq!(infer("e"), AttrValue::Text("e".into()));
        let too_big = AttrValue::infer("n", "99999999999999999999").unwrap_err();
        assert!(too_big.to_string().contains("n:float="), "{too_big}");
        let forced = AttrValue::parse_as("n", AttrType::Float, "99999999999999999999");
        assert_eq!(forced.unwrap(), AttrValue::Float(1e20));
        match infer("2026-01-01T00:00:00Z") {
            AttrValue::Datetime(dt) => assert_eq!(dt.timestamp(), 1_767_225_600),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_non_finite_numbers() {
        for raw in ["nan", "NaN", "inf", "-inf", "Infinity"] {
            let err = AttrValue::infer("x", raw).unwrap_err().to_string();
            assert!(err.contains("not a finite number"), "{raw}: {err}");
        }
        assert!(AttrValue::parse_as("x", AttrType::Float, "nan").is_err());
        assert!(AttrValue::from_json("x", &serde_json::json!("nan")).is_ok());
    }

    #[test]
    fn forced_types_check_the_value() {
        let (n, v) = AttrValue::parse_assignment("k:text=3").unwrap();
        assert_eq!((n.as_str(), v), ("k", AttrValue::Text("3".into())));
        let err = AttrValue::parse_assignment("batch:int=x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("batch is int, got 'x'"), "{err}");
        let (_, v) = AttrValue::parse_assignment("d:datetime=2026-01-02").unwrap();
        assert_eq!(v.to_string(), "2026-01-02T00:00:00Z");
        assert!(AttrValue::parse_assignment("novalue").is_err());
        assert!(AttrValue::parse_assignment("bad name=1").is_err());
        assert!(AttrValue::parse_assignment("k:blob=1").is_err());
    }

    #[test]
    fn json_round_trip_keeps_types() {
        for v in [
            AttrValue::Int(7),
            AttrValue::Float(0.25),
            AttrValue::Text("x".into()),
            AttrValue::Bool(false),
            infer("2026-03-04T05:06:07Z"),
        ] {
            assert_eq!(AttrValue::from_json("a", &v.to_json()).unwrap(), v);
        }
        let forced = serde_json::json!({"type": "text", "value": "2026-01-01T00:00:00Z"});
        assert_eq!(
            AttrValue::from_json("a", &forced).unwrap().kind(),
            AttrType::Text
        );
        assert!(AttrValue::from_json("a", &serde_json::json!(null)).is_err());
        assert!(AttrValue::from_json("a", &serde_json::json!(u64::MAX)).is_err());
    }
}
