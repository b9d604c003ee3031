//! Changes to items. Callers run these inside [`Registry::write`](super::Registry::write),
//! so every status change is checked and applied in one transaction.

use std::cell::RefCell;
use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};
use serde_json::Value as Json;

use super::Db;
use super::item::{Item, Lease, Link, ManifestInfo, NewItem};
use crate::attr::{AttrType, AttrValue, Attrs, validate_name};
use crate::error::{Error, Result};
use crate::filter::Scope;
use crate::key::canonical_json;
use crate::status::Status;

/// The catalogue entries a write transaction has written or found there: for each name,
/// a bit per scope and type. It lives as long as the transaction, so an entry written
/// by one that rolled back is never taken as there. It saves a statement per attribute
/// and param row of a bulk ingest, where the same few names come again and again.
#[derive(Default)]
pub struct Catalogued(RefCell<HashMap<String, u16>>);

// A bit per scope (attributes, params) and type.
const _: () = assert!(2 * AttrType::ALL.len() <= u16::BITS as usize);

/// Content of a finished item: its blob digest and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub sha256: String,
    pub size: u64,
}

impl Db<'_> {
    /// Hands out the next version of `key`: one past the highest its items hold, or that
    /// `key_versions` remembers of versions since deleted (a trigger writes it whenever a
    /// version goes), so a number is never reused, even after every version of the key
    /// was purged. It only reads: the caller must insert the version in the same write
    /// transaction, which keeps another writer from taking the same number.
    pub(crate) fn allocate_version(&self, key: &str) -> Result<i64> {
        debug_assert!(
            self.catalogued.is_some(),
            "a version is allocated inside the write transaction (Registry::write) that inserts it"
        );
        self.conn
            .prepare_cached(
                "SELECT max(coalesce((SELECT max(version) FROM items WHERE key = ?1), 0),
                            coalesce((SELECT last_version FROM key_versions WHERE key = ?1), 0))
                        + 1",
            )
            .and_then(|mut st| st.query_row([key], |r| r.get(0)))
            .map_err(self.err("allocating a version"))
    }

    /// Inserts a new version of `key` in `status` and returns its id.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_item(
        &self,
        new: &NewItem,
        key: &str,
        version: i64,
        status: Status,
        lease: Option<&Lease>,
        content: Option<&Content>,
        now_ms: i64,
    ) -> Result<i64> {
        let params_json = stored_params(&new.params);
        // The id: one past every id handed out, the deleted ones too (schema 10), so an
        // id never names another item. The new row's id is then the connection's last
        // inserted rowid (no insert trigger on items could change it): `RETURNING id`
        // instead made SQLite keep a statement journal and a result table for every row,
        // a fifth of a bulk ingest's time.
        self.conn
            .prepare_cached(
                "INSERT INTO items (id, key, version, uri, params, status, label, filename,
                     size, sha256, created, updated, lease_pid, lease_host, lease_expires)
                 VALUES (max(coalesce((SELECT max(id) FROM items), 0),
                             coalesce((SELECT last_deleted FROM item_ids), 0)) + 1,
                         ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12, ?13)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    key,
                    version,
                    new.uri,
                    params_json,
                    status.as_str(),
                    new.label,
                    new.filename,
                    content.map(|c| c.size as i64),
                    content.map(|c| c.sha256.as_str()),
                    now_ms,
                    lease.map(|l| l.pid),
                    lease.map(|l| l.host.as_str()),
                    lease.map(|l| l.expires.timestamp_millis()),
                ])
            })
            .map_err(|e| match e.sqlite_error_code() {
                // One past the highest id is no integer: an id written by other means
                // took the top, and ids are never handed out again.
                Some(rusqlite::ErrorCode::TypeMismatch) => Error::invalid(
                    format!("registry {}", self.path.display()),
                    "no item id is left: an item (or a deleted one) holds the highest there is",
                ),
                _ => self.err("inserting an item")(e),
            })?;
        let id = self.conn.last_insert_rowid();
        if version > 1 && status != Status::Trash {
            // The older versions are no longer the newest (schema 11's mark).
            self.conn
                .prepare_cached(
                    "UPDATE items SET latest = 0 WHERE key = ?1 AND version < ?2 AND latest = 1",
                )
                .and_then(|mut st| st.execute(params![key, version]))
                .map_err(self.err("marking the newest version"))?;
        }
        self.set_attrs(id, &new.attrs)?;
        self.insert_params(id, &new.params)?;
        Ok(id)
    }

    /// Inserts `new` as READY with `content`, like [`Db::insert_item`], and returns the
    /// item as reading it back would give it, without reading it back.
    pub fn insert_ready(
        &self,
        new: &NewItem,
        key: &str,
        version: i64,
        content: &Content,
        now_ms: i64,
    ) -> Result<Item> {
        let id = self.insert_item(
            new,
            key,
            version,
            Status::Ready,
            None,
            Some(content),
            now_ms,
        )?;
        // As stored (made again: a microsecond, beside the insert's hundred).
        let params = stored_params(&new.params);
        let now = super::item::time(now_ms);
        Ok(Item {
            id,
            key: key.to_owned(),
            version,
            uri: new.uri.clone(),
            // What was stored: canonical, and an object even for none.
            params: serde_json::from_str(&params)
                .map_err(|e| Error::invalid(format!("the params of {}", new.uri), e.to_string()))?,
            status: Status::Ready,
            trashed_from: None,
            note: None,
            label: new.label.clone(),
            filename: new.filename.clone(),
            size: Some(content.size),
            sha256: Some(content.sha256.clone()),
            created: now,
            updated: now,
            accessed: None,
            access_count: 0,
            lease: None,
            pinned: false,
            attrs: (new.attrs.iter())
                .map(|(name, value)| (name.clone(), value.as_stored()))
                .collect(),
        })
    }

    /// Sets (inserts or replaces) attributes of item `id`.
    pub fn set_attrs(&self, id: i64, attrs: &Attrs) -> Result<()> {
        if attrs.is_empty() {
            return Ok(());
        }
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT INTO attrs (item_id, name, type, value) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (item_id, name) DO UPDATE SET type = excluded.type, value = excluded.value",
            )
            .map_err(self.err("setting attributes"))?;
        for (name, value) in attrs {
            validate_name(name)?;
            st.execute(params![id, name, value.kind().code(), value.to_stored()])
                .map_err(self.err("setting attributes"))?;
            self.catalogue(Scope::Attr, name, value.kind())?;
        }
        Ok(())
    }

    /// Records in the catalogue (`attr_names`) that `scope` has a name of type `kind`,
    /// once per write transaction. Entries are never removed: a name whose last holder
    /// went simply matches nothing.
    fn catalogue(&self, scope: Scope, name: &str, kind: AttrType) -> Result<()> {
        let bit = 1u16 << (scope.code() * AttrType::ALL.len() as i64 + kind.code());
        let known = |c: &Catalogued| c.0.borrow().get(name).is_some_and(|bits| bits & bit != 0);
        if self.catalogued.is_some_and(known) {
            return Ok(());
        }
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO attr_names (scope, name, type) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut st| st.execute(params![scope.code(), name, kind.code()]))
            .map_err(self.err("cataloguing attribute names"))?;
        if let Some(c) = self.catalogued {
            *c.0.borrow_mut().entry(name.to_owned()).or_default() |= bit;
        }
        Ok(())
    }

    /// Removes the named attributes of item `id`; returns how many existed.
    pub fn remove_attrs(&self, id: i64, names: &[String]) -> Result<usize> {
        let mut st = self
            .conn
            .prepare_cached("DELETE FROM attrs WHERE item_id = ?1 AND name = ?2")
            .map_err(self.err("removing attributes"))?;
        let mut removed = 0;
        for name in names {
            removed += st
                .execute(params![id, name])
                .map_err(self.err("removing attributes"))?;
        }
        Ok(removed)
    }

    /// Indexes the top-level scalar params of item `id` so filters can search them;
    /// nested values are indexed as their canonical JSON text.
    fn insert_params(&self, id: i64, params_json: &Json) -> Result<()> {
        let Json::Object(map) = params_json else {
            return match params_json {
                Json::Null => Ok(()),
                _ => Err(Error::invalid("params", "must be a JSON object")),
            };
        };
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT INTO params (item_id, name, type, value) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(self.err("indexing params"))?;
        for (name, v) in map {
            let value = match v {
                Json::Object(_) | Json::Array(_) | Json::Null => AttrValue::Text(canonical_json(v)),
                Json::String(s) => AttrValue::Text(s.clone()),
                other => AttrValue::from_json(name, other)?,
            };
            st.execute(params![id, name, value.kind().code(), value.to_stored()])
                .map_err(self.err("indexing params"))?;
            self.catalogue(Scope::Param, name, value.kind())?;
        }
        Ok(())
    }

    /// The status of item `id`.
    pub fn status_of(&self, id: i64) -> Result<Status> {
        let s: Option<String> = self
            .conn
            .prepare_cached("SELECT status FROM items WHERE id = ?1")
            .and_then(|mut st| st.query_row([id], |r| r.get(0)).optional())
            .map_err(self.err("reading a status"))?;
        s.ok_or_else(|| Error::not_found(format!("item {id}")))?
            .parse()
    }

    /// Moves item `id` to `to` if the lifecycle allows it from its current status.
    /// Moving to TRASH remembers where it came from and keeps the note (a failure's reason
    /// is its own still when it is restored); else `note` records why (or clears).
    pub fn transition(&self, id: i64, to: Status, note: Option<&str>, now_ms: i64) -> Result<()> {
        let from = self.status_of(id)?;
        if !to.can_follow(from) {
            return Err(Error::InvalidTransition { id, from, to });
        }
        let trashed_from = (to == Status::Trash).then_some(from.as_str());
        let keeps_lease = to == Status::Write;
        let keeps_note = to == Status::Trash;
        self.conn
            .prepare_cached(
                "UPDATE items SET status = ?2, trashed_from = ?3,
                     note = CASE WHEN ?7 THEN note ELSE ?4 END, updated = ?5,
                     lease_pid = CASE WHEN ?6 THEN lease_pid END,
                     lease_host = CASE WHEN ?6 THEN lease_host END,
                     lease_expires = CASE WHEN ?6 THEN lease_expires END
                 WHERE id = ?1",
            )
            .and_then(|mut st| {
                st.execute(params![
                    id,
                    to.as_str(),
                    trashed_from,
                    note,
                    now_ms,
                    keeps_lease,
                    keeps_note
                ])
            })
            .map_err(self.err("changing a status"))?;
        Ok(())
    }

    /// Takes item `id` from UNINITIALIZED to WRITE under `lease`.
    pub fn begin_write(&self, id: i64, lease: &Lease, now_ms: i64) -> Result<()> {
        self.transition(id, Status::Write, None, now_ms)?;
        self.renew_lease(id, lease)
    }

    /// Sets the writer's lease on item `id`.
    pub fn renew_lease(&self, id: i64, lease: &Lease) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE items SET lease_pid = ?2, lease_host = ?3, lease_expires = ?4
                 WHERE id = ?1 AND status = 'WRITE'",
            )
            .and_then(|mut st| {
                st.execute(params![
                    id,
                    lease.pid,
                    lease.host,
                    lease.expires.timestamp_millis()
                ])
            })
            .map_err(self.err("renewing a lease"))?;
        Ok(())
    }

    /// WRITE → READY with its content (one statement: a READY row always has content).
    pub fn mark_ready(&self, id: i64, content: &Content, now_ms: i64) -> Result<()> {
        let from = self.status_of(id)?;
        if !Status::Ready.can_follow(from) {
            return Err(Error::InvalidTransition {
                id,
                from,
                to: Status::Ready,
            });
        }
        self.conn
            .prepare_cached(
                "UPDATE items SET status = 'READY', sha256 = ?2, size = ?3, updated = ?4,
                     note = NULL, lease_pid = NULL, lease_host = NULL, lease_expires = NULL
                 WHERE id = ?1",
            )
            .and_then(|mut st| st.execute(params![id, content.sha256, content.size as i64, now_ms]))
            .map_err(self.err("recording content"))?;
        Ok(())
    }

    /// TRASH → the status the item had before it was trashed.
    pub fn restore(&self, id: i64, now_ms: i64) -> Result<Status> {
        let item = self.item(id)?;
        let Some(back) = item.restores_to() else {
            let status = item.status;
            return Err(Error::NotInTrash { id, status });
        };
        // A failure it did not have says why it has one now (a note it had is kept).
        let why = match item.trashed_from {
            _ if back != Status::Failed => None,
            Some(Status::Failed) => None,
            Some(Status::Write) => Some("trashed while it was being written"),
            _ => Some("restored from the trash with no status to go back to"),
        };
        self.conn
            .prepare_cached(
                "UPDATE items SET status = ?2, trashed_from = NULL, updated = ?3,
                                  note = coalesce(note, ?4)
                 WHERE id = ?1",
            )
            .and_then(|mut st| st.execute(params![id, back.as_str(), now_ms, why]))
            .map_err(self.err("restoring an item"))?;
        Ok(back)
    }

    /// Records that item `id` is a manifest and the blobs it links to.
    pub fn record_manifest(&self, id: i64, info: &ManifestInfo, links: &[Link]) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO manifests (item_id, type, schema_version, entries, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    id,
                    info.manifest_type,
                    info.schema_version,
                    info.entries as i64,
                    info.bytes as i64
                ])
            })
            .map_err(self.err("recording a manifest"))?;
        let mut st = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO links (item_id, sha256, kind, size) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(self.err("recording links"))?;
        // In digest order both indexes of `links` grow at one end instead of at a random
        // page per row: a million links go in seconds, not half a minute.
        let mut sorted: Vec<&Link> = links.iter().collect();
        sorted.sort_unstable_by(|a, b| a.sha256.cmp(&b.sha256));
        for link in sorted {
            st.execute(params![
                id,
                link.sha256,
                link.kind.code(),
                link.size.map(|s| s as i64)
            ])
            .map_err(self.err("recording links"))?;
        }
        Ok(())
    }

    /// Records a read of item `id`.
    pub fn record_access(&self, id: i64, now_ms: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                // The count stops at the top: past it SQLite would store a float, which
                // no read of the item accepts.
                "UPDATE items SET accessed = ?2,
                     access_count = access_count + (access_count < 9223372036854775807)
                 WHERE id = ?1",
            )
            .and_then(|mut st| st.execute(params![id, now_ms]))
            .map_err(self.err("recording an access"))?;
        Ok(())
    }

    /// Pins or unpins item `id`.
    pub fn set_pinned(&self, id: i64, pinned: bool) -> Result<()> {
        let n = self
            .conn
            .prepare_cached("UPDATE items SET pinned = ?2 WHERE id = ?1")
            .and_then(|mut st| st.execute(params![id, pinned]))
            .map_err(self.err("pinning"))?;
        if n == 0 {
            return Err(Error::not_found(format!("item {id}")));
        }
        Ok(())
    }

    /// Deletes the row of item `id` (attributes and params go with it). Only TRASH items
    /// may be purged.
    pub fn delete_trashed(&self, id: i64) -> Result<Item> {
        let item = self.item(id)?;
        if item.status != Status::Trash {
            return Err(Error::invalid(
                format!("item {id}"),
                format!(
                    "is {}, only TRASH items can be purged (trash it first)",
                    item.status
                ),
            ));
        }
        self.conn
            .prepare_cached("DELETE FROM items WHERE id = ?1")
            .and_then(|mut st| st.execute([id]))
            .map_err(self.err("purging an item"))?;
        Ok(item)
    }
}

/// Params as the registry stores them: canonical JSON, `{}` for none.
fn stored_params(params: &Json) -> String {
    match params {
        Json::Null => "{}".to_string(),
        other => canonical_json(other),
    }
}
