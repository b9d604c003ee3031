//! Lookups on items. Every query here runs on an index (see `schema.rs`).

use std::collections::HashMap;

use rusqlite::types::ValueRef;
use rusqlite::{OptionalExtension, Statement, params, params_from_iter};

use super::Db;
use super::item::{ITEM_COLUMNS, Item, Link, LinkKind, ManifestInfo};
use crate::attr::{AttrType, AttrValue, Attrs};
use crate::error::{Error, Result};
use crate::status::Status;

impl Db<'_> {
    /// The item with `id`, attributes included.
    pub fn item(&self, id: i64) -> Result<Item> {
        self.item_opt(id)?
            .ok_or_else(|| Error::not_found(format!("item {id}")))
    }

    /// The item with `id`, if any.
    pub fn item_opt(&self, id: i64) -> Result<Option<Item>> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = ?1");
        let item = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut st| st.query_row([id], Item::from_row).optional())
            .map_err(self.err("reading an item"))?;
        match item {
            Some(mut item) => {
                item.attrs = self.attrs_of(item.id)?;
                Ok(Some(item))
            }
            None => Ok(None),
        }
    }

    /// The highest id an item has (0 when there is none): one step down the table's tree.
    pub fn last_id(&self) -> Result<i64> {
        self.conn
            .prepare_cached("SELECT coalesce(max(id), 0) FROM items")
            .and_then(|mut st| st.query_row([], |r| r.get(0)))
            .map_err(self.err("reading the last item id"))
    }

    /// The items with these ids, in the order given (ids that do not exist are skipped).
    pub fn items(&self, ids: &[i64]) -> Result<Vec<Item>> {
        self.items_each(ids)?
            .into_iter()
            .map(|(_, item)| item)
            .collect()
    }

    /// The items with these ids, in the order given (those that exist), each read on
    /// its own, with its id: a row that cannot be read (edited by hand) is its own error,
    /// naming it, and the others are still read.
    pub fn items_each(&self, ids: &[i64]) -> Result<Vec<(i64, Result<Item>)>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!("SELECT {ITEM_COLUMNS} FROM items WHERE id IN ({marks})");
            let mut st = self.conn.prepare(&sql).map_err(self.err("reading items"))?;
            // The id (the first column, an integer key) on its own: the row's other
            // columns may not read.
            let read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<(i64, rusqlite::Result<Item>)> {
                let id: i64 = r.get(0)?;
                Ok((id, Item::from_row(r)))
            };
            let rows = st
                .query_map(params_from_iter(chunk), read)
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(self.err("reading items"))?;
            let mut attrs = self.attrs_of_many(chunk)?;
            let mut by_id: HashMap<i64, rusqlite::Result<Item>> = rows.into_iter().collect();
            for id in chunk {
                match by_id.remove(id) {
                    Some(Ok(mut item)) => match attrs.remove(id).unwrap_or(Ok(Attrs::new())) {
                        Ok(read) => {
                            item.attrs = read;
                            out.push((*id, Ok(item)));
                        }
                        Err(e) => out.push((*id, Err(e))),
                    },
                    Some(Err(e)) => out.push((*id, Err(self.err("reading items")(e)))),
                    None => {}
                }
            }
        }
        Ok(out)
    }

    /// The attributes of one item.
    pub fn attrs_of(&self, id: i64) -> Result<Attrs> {
        (self.attrs_of_many(&[id])?.remove(&id)).unwrap_or(Ok(Attrs::new()))
    }

    /// The attributes of each of `ids` that has any, or why one of them cannot be read
    /// (the item's error: the others are still read).
    fn attrs_of_many(&self, ids: &[i64]) -> Result<HashMap<i64, Result<Attrs>>> {
        let marks = vec!["?"; ids.len()].join(",");
        let sql =
            format!("SELECT item_id, name, type, value FROM attrs WHERE item_id IN ({marks})");
        // One item's (`get`, which most changes return) from the statement cache; lists of
        // other lengths are prepared each time, so they do not crowd it.
        let fail = self.err("reading attributes");
        if let [_] = ids {
            let mut st = self.conn.prepare_cached(&sql).map_err(fail)?;
            self.read_attrs(&mut st, ids)
        } else {
            let mut st = self.conn.prepare(&sql).map_err(fail)?;
            self.read_attrs(&mut st, ids)
        }
    }

    /// Runs `st`, which selects `item_id, name, type, value` of the attributes of `ids`.
    fn read_attrs(
        &self,
        st: &mut Statement<'_>,
        ids: &[i64],
    ) -> Result<HashMap<i64, Result<Attrs>>> {
        let mut rows = st
            .query(params_from_iter(ids))
            .map_err(self.err("reading attributes"))?;
        let mut out: HashMap<i64, Result<Attrs>> = HashMap::new();
        while let Some(row) = rows.next().map_err(self.err("reading attributes"))? {
            let id: i64 = row.get(0).map_err(self.err("reading attributes"))?;
            let attr = self.read_attr(id, row);
            let attrs = out.entry(id).or_insert_with(|| Ok(Attrs::new()));
            // The first that cannot be read is the item's error.
            match (attrs, attr) {
                (Ok(attrs), Ok((name, value))) => {
                    attrs.insert(name, value);
                }
                (attrs @ Ok(_), Err(e)) => *attrs = Err(e),
                (Err(_), _) => {}
            }
        }
        Ok(out)
    }

    /// One attribute of item `id`: its name and value. One edited by hand may be of no
    /// type this build knows, or hold a value its type cannot.
    fn read_attr(&self, id: i64, row: &rusqlite::Row<'_>) -> Result<(String, AttrValue)> {
        let name: String = row.get(1).map_err(|e| {
            Error::invalid(
                format!("an attribute of item {id}"),
                format!("its name: {e}"),
            )
        })?;
        let what = || format!("attribute '{name}' of item {id}");
        let code: i64 = row
            .get(2)
            .map_err(|e| Error::invalid(what(), format!("its type: {e}")))?;
        let kind = AttrType::from_code(code).ok_or_else(|| {
            Error::invalid(
                what(),
                format!("unknown type code {code} (written by a newer cachet?)"),
            )
        })?;
        let stored = row.get_ref(3).map_err(self.err("reading attributes"))?;
        let value = AttrValue::from_stored(kind, stored).map_err(|_| {
            let held = match stored {
                ValueRef::Null => "nothing (NULL)".to_string(),
                ValueRef::Integer(i) => format!("the integer {i}"),
                ValueRef::Real(x) => format!("the number {x}"),
                ValueRef::Text(t) => format!("the text '{}'", String::from_utf8_lossy(t)),
                ValueRef::Blob(b) => format!("{} bytes of binary data", b.len()),
            };
            Error::invalid(what(), format!("is of type {kind}, but holds {held}"))
        })?;
        Ok((name, value))
    }

    /// The highest READY version of `key`.
    pub fn best(&self, key: &str) -> Result<Option<Item>> {
        let id: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT id FROM items WHERE key = ?1 AND status = 'READY' \
                 ORDER BY version DESC LIMIT 1",
            )
            .and_then(|mut st| st.query_row([key], |r| r.get(0)).optional())
            .map_err(self.err("finding the best version"))?;
        id.map(|id| self.item(id)).transpose()
    }

    /// Up to `limit` of the param sets `uri` has READY items under, as stored (when
    /// `best` of some params finds none, which others would).
    pub fn ready_params(&self, uri: &str, limit: usize) -> Result<Vec<String>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(
                "SELECT DISTINCT params FROM items WHERE uri = ?1 AND status = 'READY' \
                 ORDER BY params LIMIT ?2",
            )
            .and_then(|mut st| {
                st.query_map(params![uri, limit], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .map_err(self.err("reading the params of a URI"))
    }

    /// Up to `limit` of the keys `uri` has items under, with their params as stored, by
    /// params.
    pub fn keys_of_uri(&self, uri: &str, limit: usize) -> Result<Vec<(String, String)>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(
                "SELECT DISTINCT key, params FROM items WHERE uri = ?1 ORDER BY params LIMIT ?2",
            )
            .and_then(|mut st| {
                st.query_map(params![uri, limit], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .map_err(self.err("reading the keys of a URI"))
    }

    /// The newest version of `key` in any status.
    pub fn latest(&self, key: &str) -> Result<Option<Item>> {
        let id: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM items WHERE key = ?1 ORDER BY version DESC LIMIT 1")
            .and_then(|mut st| st.query_row([key], |r| r.get(0)).optional())
            .map_err(self.err("finding the latest version"))?;
        id.map(|id| self.item(id)).transpose()
    }

    /// Version `version` of `key`.
    pub fn version(&self, key: &str, version: i64) -> Result<Option<Item>> {
        let id: Option<i64> = self
            .conn
            .prepare_cached("SELECT id FROM items WHERE key = ?1 AND version = ?2")
            .and_then(|mut st| st.query_row(params![key, version], |r| r.get(0)).optional())
            .map_err(self.err("finding a version"))?;
        id.map(|id| self.item(id)).transpose()
    }

    /// Every version of `key` still in the registry, oldest first.
    pub fn versions(&self, key: &str) -> Result<Vec<Item>> {
        let ids: Vec<i64> = self
            .conn
            .prepare_cached("SELECT id FROM items WHERE key = ?1 ORDER BY version")
            .and_then(|mut st| {
                st.query_map([key], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(self.err("listing versions"))?;
        self.items(&ids)
    }

    /// Distinct keys starting with `prefix` (at most `limit`).
    pub fn keys_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        // A range on the (key, version) index: prefix <= key < prefix + U+10FFFF.
        let upper = format!("{prefix}\u{10FFFF}");
        self.conn
            .prepare_cached(
                "SELECT DISTINCT key FROM items WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3",
            )
            .and_then(|mut st| {
                st.query_map(params![prefix, upper, limit as i64], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(self.err("looking up a key prefix"))
    }

    /// Whether any item (in any status) still points at the blob `sha256`, as its content
    /// or through a manifest's links.
    pub fn blob_referenced(&self, sha256: &str) -> Result<bool> {
        self.conn
            // A digest in capitals (edited by hand, or written by another tool) names
            // the same blob: its holder counts too.
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM items WHERE sha256 IN (?1, upper(?1)))
                     OR EXISTS (SELECT 1 FROM links WHERE sha256 IN (?1, upper(?1)))",
            )
            .and_then(|mut st| st.query_row([sha256], |r| r.get(0)))
            .map_err(self.err("checking blob references"))
    }

    /// The version numbers `key` has, ascending.
    pub fn version_numbers(&self, key: &str) -> Result<Vec<i64>> {
        self.conn
            .prepare_cached("SELECT version FROM items WHERE key = ?1 ORDER BY version")
            .and_then(|mut st| {
                st.query_map([key], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(self.err("listing versions"))
    }

    /// Whether more than `n` rows hold the blob `sha256`: items whose content it is, and
    /// manifests' links to it (in capitals too, as [`Db::blob_referenced`] counts them).
    /// Stops at the row past `n`: an empty blob may have a hundred thousand holders.
    pub fn blob_held_by_more_than(&self, sha256: &str, n: u64) -> Result<bool> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(
                "SELECT count(*) > ?2 FROM (
                     SELECT 1 FROM items WHERE sha256 IN (?1, upper(?1))
                     UNION ALL
                     SELECT 1 FROM links WHERE sha256 IN (?1, upper(?1))
                     LIMIT ?2 + 1)",
            )
            .and_then(|mut st| st.query_row(params![sha256, n], |r| r.get(0)))
            .map_err(self.err("finding what holds a blob"))
    }

    /// The blobs manifest item `id` links to (directly or through its refs).
    pub fn links_of(&self, id: i64) -> Result<Vec<Link>> {
        self.conn
            .prepare_cached(
                "SELECT sha256, kind, size FROM links WHERE item_id = ?1 ORDER BY sha256",
            )
            .and_then(|mut st| {
                st.query_map([id], |r| {
                    Ok(Link {
                        sha256: r.get(0)?,
                        kind: LinkKind::from_code(r.get(1)?),
                        size: r.get::<_, Option<i64>>(2)?.map(|s| s.max(0) as u64),
                    })
                })?
                .collect::<rusqlite::Result<_>>()
            })
            .map_err(self.err("reading links"))
    }

    /// The manifest record of item `id`, if it is a manifest.
    pub fn manifest_info(&self, id: i64) -> Result<Option<ManifestInfo>> {
        self.conn
            .prepare_cached(
                "SELECT type, schema_version, entries, bytes FROM manifests WHERE item_id = ?1",
            )
            .and_then(|mut st| {
                st.query_row([id], |r| {
                    Ok(ManifestInfo {
                        manifest_type: r.get(0)?,
                        schema_version: r.get(1)?,
                        entries: r.get::<_, i64>(2)?.max(0) as u64,
                        bytes: r.get::<_, i64>(3)?.max(0) as u64,
                    })
                })
                .optional()
            })
            .map_err(self.err("reading a manifest record"))
    }

    /// Items (of any status) whose content is one of the blobs manifest `id` links to.
    pub fn items_linked_from(&self, id: i64) -> Result<Vec<i64>> {
        self.conn
            .prepare_cached(
                "SELECT items.id FROM links JOIN items ON items.sha256 = links.sha256
                 WHERE links.item_id = ?1 AND items.id <> ?1 ORDER BY items.id",
            )
            .and_then(|mut st| {
                st.query_map([id], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(self.err("following links"))
    }

    /// Item ids in `status` (all statuses when `None`) after `after_id`, ascending; with
    /// `latest`, only the newest version of each key.
    pub fn list_ids(
        &self,
        status: Option<Status>,
        latest: bool,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<i64>> {
        let latest_clause = if latest {
            " AND version = (SELECT max(version) FROM items AS newer WHERE newer.key = items.key)"
        } else {
            ""
        };
        let status_clause = if status.is_some() {
            " AND status = ?3"
        } else {
            " AND ?3 IS NULL"
        };
        let sql = format!(
            "SELECT id FROM items WHERE id > ?1{status_clause}{latest_clause} ORDER BY id LIMIT ?2"
        );
        self.conn
            .prepare_cached(&sql)
            .and_then(|mut st| {
                st.query_map(
                    params![after_id, limit as i64, status.map(Status::as_str)],
                    |r| r.get(0),
                )?
                .collect::<rusqlite::Result<_>>()
            })
            .map_err(self.err("listing items"))
    }
}
