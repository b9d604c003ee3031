//! Garbage collection by policy, always as a plan first: [`plan()`] says what would go and
//! why, with bytes freed exclusively versus still shared (blobs are deduplicated);
//! [`apply()`] re-checks every entry under the write lock and skips what changed since.

mod apply;
mod census;
mod listing;
mod picks;
mod plan;
mod planned;
mod walk;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use apply::{GcProgress, GcReport, Skipped, apply};
pub use plan::plan;
pub use planned::{Detail, PlannedItem, PlannedItems, PlannedKey};

use crate::error::IoResultExt;
use crate::units::format_size;

/// Whether a file was last modified at least `grace` ago.
fn old_enough(meta: &std::fs::Metadata, grace: Duration) -> bool {
    meta.modified()
        .ok()
        .and_then(|m| std::time::SystemTime::now().duration_since(m).ok())
        .is_some_and(|age| age >= grace)
}

/// The file's own metadata (a symlink is not followed), or `None` when it is gone: files
/// in `tmp/` and the blob store come and go beside a collection.
fn metadata_if_present(path: &std::path::Path) -> crate::Result<Option<std::fs::Metadata>> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).at(path),
    }
}

/// Durations serialise as whole seconds, which is what people and scripts read.
fn secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs()),
        None => s.serialize_none(),
    }
}

fn grace_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// Which policies a collection runs. Pinned items, and whatever pinned manifests link to,
/// are never collected by any of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GcPolicy {
    /// Purge items in the trash: all of them (`Some(ZERO)`), or those trashed longer ago.
    #[serde(serialize_with = "secs")]
    pub trash: Option<Duration>,
    /// Remove WRITE items whose lease expired, and FAILED items, older than this.
    #[serde(serialize_with = "secs")]
    pub stale: Option<Duration>,
    /// Keep only the newest N READY versions of each key.
    pub keep_last: Option<u32>,
    /// Remove READY items not accessed (or, never accessed, created) for this long.
    #[serde(serialize_with = "secs")]
    pub max_age: Option<Duration>,
    /// Evict least-recently-used READY items until the cache holds at most this many bytes.
    pub max_size: Option<u64>,
    /// Delete blobs nothing links to, and leftovers in `tmp/`.
    pub orphans: bool,
    /// Orphan blobs and temp files younger than this are left alone: a writer may be
    /// about to link them.
    #[serde(serialize_with = "grace_secs")]
    pub grace: Duration,
}

impl Default for GcPolicy {
    /// The everyday collection: empty the trash, drop stale writes and failures older than
    /// a day, delete orphans.
    fn default() -> Self {
        GcPolicy {
            trash: Some(Duration::ZERO),
            stale: Some(Duration::from_secs(86_400)),
            keep_last: None,
            max_age: None,
            max_size: None,
            orphans: true,
            grace: Duration::from_secs(3600),
        }
    }
}

impl GcPolicy {
    /// No policy at all (a starting point for choosing some).
    pub fn none() -> Self {
        GcPolicy {
            trash: None,
            stale: None,
            keep_last: None,
            max_age: None,
            max_size: None,
            orphans: false,
            grace: Duration::from_secs(3600),
        }
    }
}

/// Why something is in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    Trash,
    StaleWrite,
    Failed,
    KeepLast,
    MaxAge,
    MaxSize,
    /// A blob only a collected manifest linked to.
    Unlinked,
    Orphan,
    TempFile,
}

impl Reason {
    /// Every reason, in order: each at its [`Reason::index`].
    pub const ALL: [Reason; 9] = [
        Reason::Trash,
        Reason::StaleWrite,
        Reason::Failed,
        Reason::KeepLast,
        Reason::MaxAge,
        Reason::MaxSize,
        Reason::Unlinked,
        Reason::Orphan,
        Reason::TempFile,
    ];

    /// Its place in [`Reason::ALL`]. (A match on every reason: one added does not build
    /// until it has a place, so that indexing by it never falls outside a list.)
    pub const fn index(self) -> usize {
        match self {
            Reason::Trash => 0,
            Reason::StaleWrite => 1,
            Reason::Failed => 2,
            Reason::KeepLast => 3,
            Reason::MaxAge => 4,
            Reason::MaxSize => 5,
            Reason::Unlinked => 6,
            Reason::Orphan => 7,
            Reason::TempFile => 8,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Trash => "trash",
            Reason::StaleWrite => "stale write",
            Reason::Failed => "failed",
            Reason::KeepLast => "keep-last",
            Reason::MaxAge => "max-age",
            Reason::MaxSize => "max-size",
            Reason::Unlinked => "unlinked",
            Reason::Orphan => "orphan blob",
            Reason::TempFile => "temp file",
        })
    }
}

/// A blob or temp file the plan deletes.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedFile {
    pub path: PathBuf,
    /// The digest, for blobs.
    pub sha256: Option<String>,
    pub size: u64,
    pub reason: Reason,
}

/// Bytes and counts for one reason.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReasonTotal {
    pub items: u64,
    pub files: u64,
    /// Bytes freed if the plan is applied.
    pub exclusive_bytes: u64,
    /// Bytes of collected items whose blob stays, used by something else.
    pub shared_bytes: u64,
}

/// What a collection would do.
#[derive(Debug, Clone, Serialize)]
pub struct GcPlan {
    #[serde(serialize_with = "rfc3339")]
    pub created: DateTime<Utc>,
    pub policy: GcPolicy,
    /// The items it removes, handed out one by one (see [`PlannedItems`]).
    pub items: PlannedItems,
    pub files: Vec<PlannedFile>,
    pub totals: Vec<(Reason, ReasonTotal)>,
    /// What the cache holds before and after, when the plan measured it: max-size does
    /// (from every item's size); the other policies read fewer items.
    pub usage: Option<CapUsage>,
}

/// A time as every item's JSON gives it (to the millisecond, as the registry keeps times).
fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> std::result::Result<S::Ok, S::Error> {
    planned::as_time(&t.timestamp_millis(), s)
}

/// Bytes the cache holds (distinct blobs, and those only manifests link), as max-size
/// counts them: now, and once the plan's items are gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CapUsage {
    pub before: u64,
    pub after: u64,
}

impl GcPlan {
    /// Bytes freed if the plan is applied as it stands.
    pub fn exclusive_bytes(&self) -> u64 {
        self.totals.iter().map(|(_, t)| t.exclusive_bytes).sum()
    }

    /// Bytes of collected items whose content stays because something else uses it.
    pub fn shared_bytes(&self) -> u64 {
        self.totals.iter().map(|(_, t)| t.shared_bytes).sum()
    }

    /// By how many bytes the cache stays over max-size's cap once the plan is applied:
    /// what is left is pinned, not READY (and not trashed), or shares a blob with such.
    pub fn over_cap(&self) -> Option<u64> {
        let cap = self.policy.max_size?;
        let after = self.usage?.after;
        (after > cap).then(|| after - cap)
    }

    /// Max-size's account, for people: what the cache holds, what it will hold after the
    /// plan, and when that is still over the cap, what keeps it there. `None` without
    /// max-size.
    pub fn cap_account(&self) -> Option<String> {
        let (cap, usage) = (self.policy.max_size?, self.usage?);
        let (cap_text, before) = (format_size(cap), format_size(usage.before));
        Some(match self.over_cap() {
            _ if usage.before <= cap => {
                format!("max-size {cap_text}: the cache holds {before}, within the cap")
            }
            None => format!(
                "max-size {cap_text}: the cache holds {before}, {} after this gc",
                format_size(usage.after)
            ),
            Some(over) => format!(
                "max-size {cap_text}: the cache holds {before}, {} after this gc, still {} over: \
                 the rest is pinned, linked by a pinned manifest, or neither READY nor trashed",
                format_size(usage.after),
                format_size(over)
            ),
        })
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn every_reason_is_listed_at_its_index() {
        for (at, reason) in Reason::ALL.into_iter().enumerate() {
            assert_eq!(reason.index(), at, "{reason}");
        }
        // In their order, which totals keep.
        assert!(Reason::ALL.is_sorted());
    }
}
