//! Changing items: attributes, trash, restore, fail, pin, purge and releasing blobs.

use std::collections::{HashMap, HashSet};

use super::Cache;
use crate::error::{Error, Result};
use crate::key::blob_digest;
use crate::registry::{Db, Item, now_ms};
use crate::status::Status;

/// What a purge would free: see [`Cache::purge_frees`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PurgeFrees {
    /// Bytes of the items' own content.
    pub content: u64,
    /// Bytes of other blobs their manifests link.
    pub linked: u64,
}

impl Cache {
    /// Sets attributes of item `id`.
    pub fn set_attrs(&self, id: i64, attrs: &crate::Attrs) -> Result<Item> {
        self.registry.write(|db| {
            db.status_of(id)?;
            db.set_attrs(id, attrs)
        })?;
        self.get(id)
    }

    /// Removes attributes of item `id`; naming one it does not have is an error.
    pub fn remove_attrs(&self, id: i64, names: &[String]) -> Result<Item> {
        self.registry.write(|db| {
            let item = db.item(id)?;
            if let Some(missing) = names.iter().find(|n| !item.attrs.contains_key(*n)) {
                return Err(Error::not_found(format!(
                    "attribute '{missing}' on item {id}"
                )));
            }
            db.remove_attrs(id, names).map(|_| ())
        })?;
        self.get(id)
    }

    /// Moves item `id` to TRASH (reversible until purged).
    pub fn trash(&self, id: i64) -> Result<Item> {
        self.registry
            .write(|db| db.transition(id, Status::Trash, None, now_ms()))?;
        self.get(id)
    }

    /// Brings item `id` back from TRASH to the status it had.
    pub fn restore(&self, id: i64) -> Result<Item> {
        self.registry.write(|db| db.restore(id, now_ms()))?;
        self.get(id)
    }

    /// Moves many items to TRASH in one transaction: a filter's thousands of matches
    /// take one commit, not one each. Each item's own refusal (not found, in the trash
    /// already) is its outcome, in the order given, and leaves the others be; a failure
    /// of the registry itself changes none of them.
    pub fn trash_many(&self, ids: &[i64]) -> Result<Vec<Result<Item>>> {
        self.change_many(ids, |db, id, now| {
            db.transition(id, Status::Trash, None, now)
        })
    }

    /// Brings many items back from TRASH in one transaction, as [`Cache::trash_many`].
    pub fn restore_many(&self, ids: &[i64]) -> Result<Vec<Result<Item>>> {
        self.change_many(ids, |db, id, now| db.restore(id, now).map(|_| ()))
    }

    fn change_many(
        &self,
        ids: &[i64],
        change: impl Fn(&Db<'_>, i64, i64) -> Result<()>,
    ) -> Result<Vec<Result<Item>>> {
        let now = now_ms();
        self.registry.write(|db| {
            (ids.iter())
                .map(|&id| match change(&db, id, now) {
                    Ok(()) => db.item(id).map(Ok),
                    Err(e) if e.is_about_an_item() => Ok(Err(e)),
                    Err(e) => Err(e),
                })
                .collect()
        })
    }

    /// Marks item `id` FAILED with `reason`.
    pub fn fail(&self, id: i64, reason: &str) -> Result<Item> {
        self.registry
            .write(|db| db.transition(id, Status::Failed, Some(reason), now_ms()))?;
        self.get(id)
    }

    /// Pins or unpins item `id`.
    pub fn pin(&self, id: i64, pinned: bool) -> Result<Item> {
        self.registry.write(|db| db.set_pinned(id, pinned))?;
        self.get(id)
    }

    /// Deletes a TRASH item's row, and its blob (and, for a manifest, the blobs it links
    /// to) when nothing else references them. Returns the purged item and whether its own
    /// blob was deleted.
    pub fn purge(&self, id: i64) -> Result<(Item, bool)> {
        let (item, links) = self.registry.write(|db| {
            let links = db.links_of(id)?;
            Ok((db.delete_trashed(id)?, links))
        })?;
        let own = item.sha256.iter().cloned();
        let released = self.release_blobs(own.chain(links.into_iter().map(|l| l.sha256)))?;
        let freed =
            (item.sha256.as_deref().and_then(blob_digest)).is_some_and(|s| released.contains(&s));
        Ok((item, freed))
    }

    /// What purging `items` would free: each blob one of those in the trash (the others
    /// a purge refuses) holds or links, and that nothing else does, once (by the rule
    /// [`Cache::release_blobs`] deletes by). Reads only.
    pub fn purge_frees(&self, items: &[Item]) -> Result<PurgeFrees> {
        let db = self.db();
        // Each once: an item listed twice holds a blob once.
        let mut ids = HashSet::new();
        let items: Vec<&Item> = (items.iter())
            .filter(|i| i.status == Status::Trash && ids.insert(i.id))
            .collect();
        // The blobs they hold, as content and through links (values that name no blob
        // free nothing), and how many of each blob's holders they are: a blob is theirs
        // alone when nothing holds it besides. One count per blob, where asking for each
        // whether an item outside a list of 100,000 held it was quadratic.
        let mut theirs: HashMap<String, u64> = HashMap::new();
        let mut content = Vec::new();
        for item in &items {
            if let Some(sha) = item.sha256.as_deref().and_then(blob_digest) {
                *theirs.entry(sha.clone()).or_default() += 1;
                content.push((sha, item.size.unwrap_or(0)));
            }
        }
        let mut linked = Vec::new();
        for item in &items {
            for link in db.links_of(item.id)? {
                if let Some(sha) = blob_digest(&link.sha256) {
                    *theirs.entry(sha.clone()).or_default() += 1;
                    linked.push((sha, link.size.unwrap_or(0)));
                }
            }
        }
        let mut seen = HashSet::new();
        let mut only_theirs = |sha: &String| -> Result<bool> {
            let held = theirs.get(sha).copied().unwrap_or(0);
            Ok(seen.insert(sha.clone()) && !db.blob_held_by_more_than(sha, held)?)
        };
        let mut frees = PurgeFrees::default();
        for (sha, size) in &content {
            if only_theirs(sha)? {
                frees.content += size;
            }
        }
        // Then what manifests among them link (a blob that is also content counted once).
        for (sha, size) in &linked {
            if only_theirs(sha)? {
                frees.linked += size;
            }
        }
        Ok(frees)
    }

    /// Deletes each blob no item references any more, and returns those deleted. The check
    /// and the delete happen under the write lock, and writers adopt blobs under the same
    /// lock, so a blob that a writer is about to reference is never removed from under it.
    /// Values are read as [`blob_digest`] reads them: one that names no blob (a registry
    /// edited by hand) is passed over, as the row that held it is gone already.
    pub fn release_blobs(&self, shas: impl IntoIterator<Item = String>) -> Result<HashSet<String>> {
        self.registry.write(|db| {
            let mut deleted = HashSet::new();
            for sha in shas.into_iter().filter_map(|sha| blob_digest(&sha)) {
                if !deleted.contains(&sha) && !db.blob_referenced(&sha)? {
                    self.blobs.remove(&sha)?;
                    deleted.insert(sha);
                }
            }
            Ok(deleted)
        })
    }
}
