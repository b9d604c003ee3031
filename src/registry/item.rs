//! The item model: one version of one key, as stored in the `items` table.

use chrono::{DateTime, Utc};
use rusqlite::Row;
use rusqlite::types::FromSql;
use serde_json::{Map, Value as Json};

use crate::attr::{Attrs, format_datetime};
use crate::status::Status;

/// What a caller says about a new item; the registry adds key, version and times.
#[derive(Debug, Clone, Default)]
pub struct NewItem {
    pub uri: String,
    /// A JSON object (or `Null` for none); part of the key.
    pub params: Json,
    pub attrs: Attrs,
    pub label: Option<String>,
    /// The original file name, kept as a hint for previews and exports.
    pub filename: Option<String>,
}

impl NewItem {
    /// A new item for `uri` with no params.
    pub fn new(uri: impl Into<String>) -> NewItem {
        NewItem {
            uri: uri.into(),
            ..NewItem::default()
        }
    }

    /// Sets the params (a JSON object).
    pub fn params(mut self, params: Json) -> NewItem {
        self.params = params;
        self
    }

    /// Adds one attribute.
    pub fn attr(mut self, name: impl Into<String>, value: crate::AttrValue) -> NewItem {
        self.attrs.insert(name.into(), value);
        self
    }

    /// Sets the label.
    pub fn label(mut self, label: impl Into<String>) -> NewItem {
        self.label = Some(label.into());
        self
    }

    /// Sets the original file name.
    pub fn filename(mut self, filename: impl Into<String>) -> NewItem {
        self.filename = Some(filename.into());
        self
    }
}

/// What a manifest's link points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    File,
    Shard,
    Manifest,
}

impl LinkKind {
    /// The code stored in `links.kind`.
    pub fn code(self) -> i64 {
        match self {
            LinkKind::File => 0,
            LinkKind::Shard => 1,
            LinkKind::Manifest => 2,
        }
    }

    /// The kind for a stored code (unknown codes read as files: still kept alive).
    pub fn from_code(code: i64) -> LinkKind {
        match code {
            1 => LinkKind::Shard,
            2 => LinkKind::Manifest,
            _ => LinkKind::File,
        }
    }
}

/// A blob a manifest links to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Link {
    pub sha256: String,
    pub kind: LinkKind,
    pub size: Option<u64>,
}

/// The registry's record of a manifest item.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ManifestInfo {
    pub manifest_type: String,
    pub schema_version: i64,
    /// Entries, counting those reached through refs (shards count as one).
    pub entries: u64,
    /// Bytes of the content it links to.
    pub bytes: u64,
}

/// The claim of a writer on an item in WRITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub pid: i64,
    pub host: String,
    pub expires: DateTime<Utc>,
}

/// One version of one key.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: i64,
    pub key: String,
    pub version: i64,
    pub uri: String,
    pub params: Json,
    pub status: Status,
    /// While in TRASH: the status a restore returns to.
    pub trashed_from: Option<Status>,
    /// Why the item is in its status (a failure reason, for instance).
    pub note: Option<String>,
    pub label: Option<String>,
    pub filename: Option<String>,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub accessed: Option<DateTime<Utc>>,
    pub access_count: u64,
    pub lease: Option<Lease>,
    pub pinned: bool,
    pub attrs: Attrs,
}

/// The columns [`Item::from_row`] reads, in order.
pub const ITEM_COLUMNS: &str = "id, key, version, uri, params, status, trashed_from, note, \
     label, filename, size, sha256, created, updated, accessed, access_count, lease_pid, \
     lease_host, lease_expires, pinned";

impl Item {
    /// Reads a row selected with [`ITEM_COLUMNS`]; attributes are loaded separately. A
    /// value it cannot take (a registry edited by hand) is an error naming the item and
    /// the column.
    pub fn from_row(row: &Row<'_>) -> rusqlite::Result<Item> {
        let id: i64 = row.get(0)?;
        let col = Columns { row, id };
        let status = col.parsed::<Status>(5)?;
        let trashed_from = match col.get::<Option<String>>(6)? {
            Some(s) => Some(s.parse().map_err(|e| col.bad(6, &e))?),
            None => None,
        };
        let params_text: String = col.get(4)?;
        let params = serde_json::from_str(&params_text).map_err(|e| col.bad(4, &e))?;
        let lease = match (col.get(16)?, col.get::<Option<String>>(17)?, col.get(18)?) {
            (Some(pid), Some(host), Some(expires)) => Some(Lease {
                pid,
                host,
                expires: time(expires),
            }),
            _ => None,
        };
        Ok(Item {
            id,
            key: col.get(1)?,
            version: col.get(2)?,
            uri: col.get(3)?,
            params,
            status,
            trashed_from,
            note: col.get(7)?,
            label: col.get(8)?,
            filename: col.get(9)?,
            size: col.get::<Option<i64>>(10)?.map(|s| s.max(0) as u64),
            sha256: col.get(11)?,
            created: time(col.get(12)?),
            updated: time(col.get(13)?),
            accessed: col.get::<Option<i64>>(14)?.map(time),
            access_count: col.get::<i64>(15)?.max(0) as u64,
            lease,
            pinned: col.get::<i64>(19)? != 0,
            attrs: Attrs::new(),
        })
    }

    /// The status a restore brings it back to, if it is in the trash: the one it had,
    /// except a write (trashed mid-write, its lease is gone) or one not known (the
    /// registry edited by hand), which come back FAILED.
    pub fn restores_to(&self) -> Option<Status> {
        if self.status != Status::Trash {
            return None;
        }
        Some(match self.trashed_from {
            Some(Status::Write | Status::Trash) | None => Status::Failed,
            Some(back) => back,
        })
    }

    /// A WRITE whose writer's lease ran out: the writer died or hung.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        self.status == Status::Write && self.lease.as_ref().is_none_or(|l| l.expires < now)
    }

    /// A new item with the same key (URI and params), attributes, label and file name: the
    /// start of a new version of this one.
    pub fn to_new(&self) -> NewItem {
        NewItem {
            uri: self.uri.clone(),
            params: self.params.clone(),
            attrs: self.attrs.clone(),
            label: self.label.clone(),
            filename: self.filename.clone(),
        }
    }

    /// The item's file name: its `filename`, else the last segment of its URI (also a
    /// hint of its format to previews).
    pub fn file_name(&self) -> &str {
        self.filename.as_deref().unwrap_or_else(|| {
            self.uri
                .rsplit('/')
                .find(|s| !s.is_empty())
                .unwrap_or(&self.uri)
        })
    }

    /// What people recognise the item by: its label, else its URI. The browser and
    /// `cachet ls` both show it as NAME.
    pub fn display_name(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.uri)
    }

    /// `key@version`, the unambiguous way to name this item.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.key, self.version)
    }

    /// The JSON form used by `--json` output: the documented fields plus everything else.
    pub fn to_json(&self) -> Json {
        let mut m = Map::new();
        m.insert("id".into(), self.id.into());
        m.insert("key".into(), self.key.clone().into());
        m.insert("version".into(), self.version.into());
        m.insert("uri".into(), self.uri.clone().into());
        m.insert("params".into(), self.params.clone());
        m.insert("status".into(), self.status.as_str().into());
        m.insert("stale".into(), self.is_stale(Utc::now()).into());
        m.insert("size".into(), self.size.into());
        m.insert("sha256".into(), self.sha256.clone().into());
        m.insert("label".into(), self.label.clone().into());
        m.insert("filename".into(), self.filename.clone().into());
        m.insert(
            "attrs".into(),
            Json::Object(
                self.attrs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        );
        m.insert(
            "attr_types".into(),
            Json::Object(
                self.attrs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.kind().as_str().into()))
                    .collect(),
            ),
        );
        m.insert("created".into(), format_datetime(&self.created).into());
        m.insert("updated".into(), format_datetime(&self.updated).into());
        m.insert(
            "accessed".into(),
            self.accessed.as_ref().map(format_datetime).into(),
        );
        m.insert("access_count".into(), self.access_count.into());
        m.insert("pinned".into(), self.pinned.into());
        m.insert("note".into(), self.note.clone().into());
        m.insert(
            "trashed_from".into(),
            self.trashed_from.map(|s| s.as_str()).into(),
        );
        m.insert(
            "lease".into(),
            match &self.lease {
                Some(l) => serde_json::json!({
                    "pid": l.pid, "host": l.host, "expires": format_datetime(&l.expires)
                }),
                None => Json::Null,
            },
        );
        Json::Object(m)
    }
}

/// The columns of one item's row, read so that a failure names the item and column.
struct Columns<'r, 's> {
    row: &'r Row<'s>,
    id: i64,
}

impl Columns<'_, '_> {
    fn get<T: FromSql>(&self, idx: usize) -> rusqlite::Result<T> {
        self.row.get(idx).map_err(|e| match e {
            rusqlite::Error::InvalidColumnType(_, _, t) => {
                self.bad(idx, &format!("a value of type {t} is not one it takes"))
            }
            rusqlite::Error::IntegralValueOutOfRange(..) => self.bad(idx, &"out of range"),
            rusqlite::Error::Utf8Error(..) => self.bad(idx, &"not UTF-8 text"),
            rusqlite::Error::FromSqlConversionFailure(_, _, e) => self.bad(idx, &e),
            e => e,
        })
    }

    fn parsed<T: std::str::FromStr<Err: std::fmt::Display>>(
        &self,
        idx: usize,
    ) -> rusqlite::Result<T> {
        let text: String = self.get(idx)?;
        text.parse().map_err(|e| self.bad(idx, &e))
    }

    /// The error for a value of column `idx` that the item cannot take.
    fn bad(&self, idx: usize, problem: &dyn std::fmt::Display) -> rusqlite::Error {
        let column = ITEM_COLUMNS.split(", ").nth(idx).unwrap_or("?").trim();
        // rusqlite has no error for a row the application cannot use; this variant shows
        // just the message it carries.
        rusqlite::Error::ToSqlConversionFailure(
            format!("item {}, column {column}: {problem}", self.id).into(),
        )
    }
}

/// Registry milliseconds to a UTC time. Values past what a time can hold clamp to the
/// nearest end, as the registry's own comparisons order them: a lease that ends "never"
/// is no expired one.
pub fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(if ms < 0 {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}
