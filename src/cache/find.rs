//! Finding items: by id, key and version, best version, a user's reference, lists.

use super::Cache;
use crate::cache::BestOrNew;
use crate::error::{Error, Result};
use crate::key::item_key;
use crate::registry::{Item, NewItem};
use crate::status::Status;

impl Cache {
    /// The item with `id`.
    pub fn get(&self, id: i64) -> Result<Item> {
        self.db().item(id)
    }

    /// Version `version` of `key`.
    pub fn get_version(&self, key: &str, version: i64) -> Result<Item> {
        if let Some(item) = self.db().version(key, version)? {
            return Ok(item);
        }
        // Which versions there are: a version gone (purged, collected) reads differently
        // from a typo. Only the numbers, a few of them; the plain answer if even those
        // cannot be read.
        let there = self.db().version_numbers(key).unwrap_or_default();
        let listed = match there.as_slice() {
            [] => String::new(),
            [one] => format!(" (the key has version {one} only)"),
            few if few.len() <= 8 => {
                let few: Vec<String> = few.iter().map(i64::to_string).collect();
                format!(" (the key has versions {})", few.join(", "))
            }
            many => format!(
                " (the key has {} versions, {} to {})",
                many.len(),
                many[0],
                many[many.len() - 1]
            ),
        };
        Err(Error::not_found(format!("{key}@{version}{listed}")))
    }

    /// The highest id an item has (0 when there is none).
    pub fn last_id(&self) -> Result<i64> {
        self.db().last_id()
    }

    /// The items with these ids, in the order given.
    pub fn get_many(&self, ids: &[i64]) -> Result<Vec<Item>> {
        self.db().items(ids)
    }

    /// The items with these ids, in the order given, each read on its own, with its id:
    /// a row that cannot be read is its own error, and the others are still read.
    pub fn get_each(&self, ids: &[i64]) -> Result<Vec<(i64, Result<Item>)>> {
        self.db().items_each(ids)
    }

    /// The highest READY version of `uri` with `params`.
    pub fn best(&self, uri: &str, params: &serde_json::Value) -> Result<Option<Item>> {
        self.db().best(&item_key(uri, params))
    }

    /// Up to `limit` of the param sets `uri` has READY items under, as stored.
    pub fn ready_params(&self, uri: &str, limit: usize) -> Result<Vec<String>> {
        self.db().ready_params(uri, limit)
    }

    /// The best READY version of `new`'s key, or a writer for a new version.
    pub fn best_or_new(&self, new: &NewItem) -> Result<BestOrNew<'_>> {
        match self.best(&new.uri, &new.params)? {
            Some(item) => Ok(BestOrNew::Existing(item)),
            None => Ok(BestOrNew::New(self.create(new)?)),
        }
    }

    /// Every version of `key` still registered, oldest first.
    pub fn versions(&self, key: &str) -> Result<Vec<Item>> {
        self.db().versions(key)
    }

    /// Finds an item by a user's reference: an id (`42`), a key or key prefix (the newest
    /// version; with `prefer_ready`, the newest READY one if there is one), `KEY@VERSION`,
    /// or else a URI, when its items have one key (one set of params): that key's newest
    /// version, as for a key.
    pub fn resolve(&self, reference: &str, prefer_ready: bool) -> Result<Item> {
        let reference = reference.trim();
        match self.resolve_named(reference, prefer_ready) {
            Ok(Some(item)) => Ok(item),
            Ok(None) => self.resolve_uri(reference, prefer_ready),
            // A URI may look like an id, a key or KEY@VERSION (`2024`, `face@2x.png`):
            // one that names nothing so is looked up as a URI before the error stands.
            Err(e @ (Error::NotFound { .. } | Error::InvalidInput { .. })) => {
                match self.uri_item(reference, prefer_ready)? {
                    Some(item) => Ok(item),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The item `reference` names as an id, a key or key prefix, or `KEY@VERSION`; `None`
    /// when it is none of these forms.
    fn resolve_named(&self, reference: &str, prefer_ready: bool) -> Result<Option<Item>> {
        // `KEY@VERSION` where what comes before the `@` could be a key; an `@` elsewhere
        // is part of a URI (`https://user@host/file`).
        let key_at = reference
            .split_once('@')
            .filter(|(key, _)| key.bytes().all(|b| b.is_ascii_hexdigit()));
        if let Some((key, version)) = key_at {
            let version: i64 = version.parse().map_err(|_| {
                Error::invalid(
                    format!("item '{reference}'"),
                    "the version after '@' must be a number",
                )
            })?;
            // (An empty prefix would be every key.)
            if key.is_empty() {
                return Err(Error::invalid(
                    format!("item '{reference}'"),
                    "a key, or its first hex digits, must come before '@'",
                ));
            }
            let key = self.unique_key(key)?;
            return self.get_version(&key, version).map(Some);
        }
        let as_id = (reference.strip_prefix('#').unwrap_or(reference))
            .parse::<i64>()
            .ok();
        let by_id = match as_id {
            Some(id) => self.db().item_opt(id)?,
            None => None,
        };
        let looks_like_key =
            reference.len() >= 4 && reference.bytes().all(|b| b.is_ascii_hexdigit());
        let keys = if looks_like_key {
            self.db()
                .keys_with_prefix(&reference.to_ascii_lowercase(), 6)?
        } else {
            Vec::new()
        };
        // Neither an id nor a key: a URI.
        if as_id.is_none() && !looks_like_key && !reference.is_empty() {
            return Ok(None);
        }
        match (by_id, keys.len()) {
            (Some(item), 0) => Ok(Some(item)),
            (Some(item), _) => Err(Error::Ambiguous {
                prefix: reference.to_string(),
                candidates: std::iter::once(format!("item {}", item.id))
                    .chain(
                        keys.iter()
                            .map(|k| format!("key {}", crate::key::abbrev(k, 12))),
                    )
                    .collect(),
                hint: format!(" (#{} is the item; more hex digits, a key)", item.id),
            }),
            (None, 1) => self.newest_of(&keys[0], reference, prefer_ready).map(Some),
            // A well-formed reference that names nothing: say what was looked for.
            (None, 0) if looks_like_key => Err(Error::not_found(format!(
                "item '{reference}': no item has that id, nor a key starting with it"
            ))),
            (None, 0) if as_id.is_some() => Err(Error::not_found(format!(
                "item '{reference}': no item has that id"
            ))),
            (None, 0) => Err(Error::not_found(format!(
                "item '{reference}' (give an id, a key prefix of 4+ hex digits, KEY@VERSION \
                 or a URI)"
            ))),
            (None, _) => Err(Error::Ambiguous {
                prefix: reference.to_string(),
                candidates: keys
                    .iter()
                    .map(|k| crate::key::abbrev(k, 12).to_string())
                    .collect(),
                hint: " (give more hex digits)".into(),
            }),
        }
    }

    /// The newest version of `key` (with `prefer_ready`, the newest READY one if there is
    /// one), which `reference` named.
    fn newest_of(&self, key: &str, reference: &str, prefer_ready: bool) -> Result<Item> {
        let best = if prefer_ready {
            self.db().best(key)?
        } else {
            None
        };
        match best {
            Some(item) => Ok(item),
            None => self
                .db()
                .latest(key)?
                .ok_or_else(|| Error::not_found(format!("item '{reference}'"))),
        }
    }

    /// The item a URI names, as [`Cache::uri_item`], or an error saying there is none.
    fn resolve_uri(&self, uri: &str, prefer_ready: bool) -> Result<Item> {
        self.uri_item(uri, prefer_ready)?.ok_or_else(|| {
            Error::not_found(format!(
                "item '{uri}': no item has that URI (an item is named by its id, a key prefix \
                 of 4+ hex digits, KEY@VERSION, or its URI)"
            ))
        })
    }

    /// The item a URI names: the newest version of its only key (`None` when it has
    /// none). A URI with items under several sets of params names none of them.
    fn uri_item(&self, uri: &str, prefer_ready: bool) -> Result<Option<Item>> {
        let keys = self.db().keys_of_uri(uri, 4)?;
        match keys.as_slice() {
            [(key, _)] => self.newest_of(key, uri, prefer_ready).map(Some),
            [] => Ok(None),
            many => {
                let mut candidates: Vec<String> = (many.iter().take(3))
                    .map(|(key, params)| {
                        format!("{} (params {params})", crate::key::abbrev(key, 12))
                    })
                    .collect();
                if many.len() > 3 {
                    candidates.push("…".into());
                }
                Err(Error::Ambiguous {
                    prefix: uri.to_string(),
                    candidates,
                    hint: " (name one by its key, or KEY@VERSION)".into(),
                })
            }
        }
    }

    fn unique_key(&self, prefix: &str) -> Result<String> {
        let keys = self
            .db()
            .keys_with_prefix(&prefix.to_ascii_lowercase(), 6)?;
        match keys.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(Error::not_found(format!("key '{prefix}'"))),
            many => Err(Error::Ambiguous {
                prefix: prefix.to_string(),
                candidates: many
                    .iter()
                    .map(|k| crate::key::abbrev(k, 12).to_string())
                    .collect(),
                hint: " (give more hex digits)".into(),
            }),
        }
    }

    /// Item ids in `status` (or all), ascending from after `after_id`; with `latest` only
    /// the newest version of each key.
    pub fn list_ids(
        &self,
        status: Option<Status>,
        latest: bool,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<i64>> {
        self.db().list_ids(status, latest, after_id, limit)
    }
}
