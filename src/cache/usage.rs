//! Disk usage: totals and breakdowns by status, key or an attribute's values.

use std::collections::{HashMap, HashSet};

use rusqlite::params;
use serde::Serialize;

use super::Cache;
use crate::attr::{AttrType, AttrValue};
use crate::error::Result;
use crate::key::{blob_digest, decode_digest};

/// How [`Cache::usage`] groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageBy {
    Status,
    Key,
    Attr(String),
}

/// One group's share.
#[derive(Debug, Clone, Serialize)]
pub struct UsageRow {
    /// The status, the key (with its URI), or the attribute value (`-` for items without it).
    pub group: String,
    pub items: u64,
    /// Sum of the items' sizes (a blob shared by two items counts twice).
    pub bytes: u64,
}

/// Totals for the whole cache.
#[derive(Debug, Clone, Serialize)]
pub struct UsageTotals {
    pub items: u64,
    /// Sum of item sizes.
    pub logical_bytes: u64,
    /// Distinct blobs of items, and those manifests link that no item holds: what
    /// deduplication leaves on disk.
    pub stored_bytes: u64,
}

impl Cache {
    /// Totals of the whole cache: one sequential scan of the items, with distinct blobs
    /// counted in memory (grouping by digest in SQL walks the digest index and looks up
    /// every item's size in the table, in no particular order: seconds at a million items).
    pub fn usage_totals(&self) -> Result<UsageTotals> {
        let db = self.db();
        let fail = db.err("measuring usage");
        let mut st = db
            .conn
            .prepare("SELECT size, sha256 FROM items")
            .map_err(&fail)?;
        let mut rows = st.query([]).map_err(&fail)?;
        let (mut items, mut logical) = (0u64, 0i64);
        // Each blob counts once, at the largest size recorded for it.
        let mut digests: Vec<([u8; 32], Option<i64>)> = Vec::new();
        let mut others: HashMap<String, Option<i64>> = HashMap::new();
        while let Some(r) = rows.next().map_err(&fail)? {
            items += 1;
            let size: Option<i64> = r.get(0).map_err(&fail)?;
            logical = logical.saturating_add(size.unwrap_or(0));
            let Some(sha) = r
                .get_ref(1)
                .map_err(&fail)?
                .as_str_or_null()
                .map_err(|e| fail(e.into()))?
            else {
                continue;
            };
            // Named as deletes name blobs (in capitals too): one blob, counted once.
            match blob_digest(sha).and_then(|sha| decode_digest(sha.as_bytes())) {
                Some(digest) => digests.push((digest, size)),
                None => {
                    let max = others.entry(sha.to_owned()).or_default();
                    *max = (*max).max(size);
                }
            }
        }
        drop(rows);
        digests.sort_unstable();
        let linked_only = self.linked_only_bytes(&digests)?;
        let stored = digests
            .chunk_by(|a, b| a.0 == b.0)
            .map(|blob| blob.iter().map(|(_, size)| *size).max().flatten())
            .chain(others.into_values())
            .map(|size| size.unwrap_or(0))
            .fold(linked_only, i64::saturating_add);
        Ok(UsageTotals {
            items,
            logical_bytes: logical.max(0) as u64,
            stored_bytes: stored.max(0) as u64,
        })
    }

    /// Bytes of the blobs manifests link that no item holds (`held`: the items' digests,
    /// sorted), such as a dataset's files and shard archives: each once, at the largest
    /// size a link records, or its file's size when none does.
    fn linked_only_bytes(&self, held: &[([u8; 32], Option<i64>)]) -> Result<i64> {
        let db = self.db();
        let fail = db.err("measuring usage");
        let mut st = db
            .conn
            .prepare("SELECT sha256, max(size) FROM links GROUP BY sha256")
            .map_err(&fail)?;
        let mut rows = st.query([]).map_err(&fail)?;
        let mut linked = HashSet::new();
        let mut total = 0i64;
        while let Some(r) = rows.next().map_err(&fail)? {
            let raw: String = r.get(0).map_err(&fail)?;
            let Some(sha) = blob_digest(&raw) else {
                continue; // names no blob
            };
            let Some(digest) = decode_digest(sha.as_bytes()) else {
                continue;
            };
            // Held by an item, or counted already under another spelling.
            if held.binary_search_by(|(d, _)| d.cmp(&digest)).is_ok() || !linked.insert(digest) {
                continue;
            }
            let size = match r.get::<_, Option<i64>>(1).map_err(&fail)? {
                Some(size) => size,
                None => (self.blobs.path(&sha).ok())
                    .and_then(|path| std::fs::metadata(path).ok())
                    .map_or(0, |meta| i64::try_from(meta.len()).unwrap_or(i64::MAX)),
            };
            total = total.saturating_add(size);
        }
        Ok(total)
    }

    /// Usage grouped `by`, largest first, at most `limit` groups.
    pub fn usage(&self, by: &UsageBy, limit: usize) -> Result<Vec<UsageRow>> {
        let db = self.db();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match by {
            UsageBy::Status => db
                .conn
                .prepare(
                    "SELECT status, count(*), total(size) FROM items
                     GROUP BY status ORDER BY 3 DESC LIMIT ?1",
                )
                .and_then(|mut st| {
                    st.query_map([limit], |r| {
                        Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect::<rusqlite::Result<Vec<(String, i64, f64)>>>()
                }),
            UsageBy::Key => usage_by_key(db.conn, limit),
            UsageBy::Attr(name) => db
                .conn
                .prepare(
                    "SELECT attrs.type, attrs.value, count(*), total(items.size)
                     FROM items LEFT JOIN attrs ON attrs.item_id = items.id AND attrs.name = ?1
                     GROUP BY attrs.type, attrs.value ORDER BY 4 DESC LIMIT ?2",
                )
                .and_then(|mut st| {
                    st.query_map(params![name, limit], |r| {
                        let group = match r.get::<_, Option<i64>>(0)?.and_then(AttrType::from_code)
                        {
                            Some(kind) => AttrValue::from_stored(kind, r.get_ref(1)?)
                                .map(|v| v.to_string())
                                .unwrap_or_else(|_| "?".into()),
                            None => "-".into(),
                        };
                        Ok((group, r.get(2)?, r.get(3)?))
                    })?
                    .collect::<rusqlite::Result<Vec<(String, i64, f64)>>>()
                }),
        }
        .map_err(db.err("grouping usage"))?;
        Ok(rows
            .into_iter()
            .map(|(group, items, bytes)| UsageRow {
                group,
                items: items.max(0) as u64,
                // Summed as floats (`total`): an integer `sum` past i64 (sizes edited by
                // hand) is an error in SQLite. `as` saturates.
                bytes: bytes.max(0.0) as u64,
            })
            .collect())
    }
}

/// Usage by key, largest first, at most `limit` keys: each named by its first 12
/// characters and its smallest URI. Summed in one pass over the items in table order:
/// SQLite grouped along the key index, reading every item at random (seconds at a
/// million items).
fn usage_by_key(
    conn: &rusqlite::Connection,
    limit: i64,
) -> rusqlite::Result<Vec<(String, i64, f64)>> {
    let mut st = conn.prepare("SELECT key, uri, size FROM items")?;
    let mut rows = st.query([])?;
    let mut groups: HashMap<String, (String, i64, f64)> = HashMap::new();
    while let Some(r) = rows.next()? {
        let (key, uri) = (text_of(r.get_ref(0)?), text_of(r.get_ref(1)?));
        let (key, uri) = (key.as_ref(), uri.as_ref());
        // Summed as floats, as `total` does (see `usage`); a size that is no number (by
        // hand) counts as 0.
        let size = match r.get_ref(2)? {
            rusqlite::types::ValueRef::Integer(n) => n as f64,
            rusqlite::types::ValueRef::Real(x) => x,
            _ => 0.0,
        };
        match groups.get_mut(key) {
            Some((least, n, bytes)) => {
                if uri < least.as_str() {
                    *least = uri.to_owned();
                }
                *n += 1;
                *bytes += size;
            }
            None => {
                groups.insert(key.to_owned(), (uri.to_owned(), 1, size));
            }
        }
    }
    let mut out: Vec<(String, i64, f64)> = (groups.into_iter())
        .map(|(key, (uri, n, bytes))| {
            let head: String = key.chars().take(12).collect();
            (format!("{head}  {uri}"), n, bytes)
        })
        .collect();
    // Largest first; equal ones by name, so that the listing is the same every time.
    out.sort_unstable_by(|a, b| b.2.total_cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(out)
}

/// A value as text, whatever its type (a key or URI edited by hand may be no text, or no
/// UTF-8): it still gets a group.
fn text_of(value: rusqlite::types::ValueRef<'_>) -> std::borrow::Cow<'_, str> {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => String::from_utf8_lossy(bytes),
        ValueRef::Integer(n) => n.to_string().into(),
        ValueRef::Real(x) => x.to_string().into(),
        ValueRef::Null => "".into(),
    }
}
