//! Garbage collection by policy, always as a plan first: [`plan`] says what would go and
//! why, with bytes freed exclusively versus still shared (blobs are deduplicated);
//! [`apply`] re-checks every entry under the write lock and skips what changed since.

mod apply;
mod census;
mod listing;
mod picks;
mod plan;
mod walk;

use std::fmt;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use apply::{GcProgress, GcReport, Skipped, apply};
pub use plan::plan;

use crate::error::IoResultExt;
use crate::key::Digest;
use crate::status::Status;

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

/// An item's key as a plan holds it: 32 bytes for a digest, as keys are, rather than 64
/// characters of text (a plan may hold a million). Displays and serialises as the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlannedKey {
    Digest(Digest),
    /// A key that is no digest (only a registry edited by hand has one).
    Text(String),
}

impl fmt::Display for PlannedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlannedKey::Digest(digest) => digest.fmt(f),
            PlannedKey::Text(text) => f.write_str(text),
        }
    }
}

impl Serialize for PlannedKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl PartialEq<str> for PlannedKey {
    fn eq(&self, text: &str) -> bool {
        match self {
            PlannedKey::Digest(digest) => {
                crate::key::decode_digest(text.as_bytes()).is_some_and(|d| d == digest.0)
            }
            PlannedKey::Text(key) => key == text,
        }
    }
}

/// An item's URI as a plan holds it: a piece of a buffer shared with the URIs planned
/// beside it (a plan may hold a million, and an allocation each was a fifth of the time
/// it took to plan; a clone shares the buffer too). Reads as the text it is, compares
/// with text, and displays and serialises as it.
#[derive(Clone)]
pub struct PlannedUri {
    buffer: Arc<str>,
    at: u32,
    len: u32,
}

impl PlannedUri {
    /// The `len` bytes at `at` in `buffer` (a census's URI is shorter than 4 GiB).
    fn new(buffer: &Arc<str>, at: u32, len: usize) -> PlannedUri {
        PlannedUri {
            buffer: Arc::clone(buffer),
            at,
            len: u32::try_from(len).unwrap_or(0),
        }
    }

    pub fn as_str(&self) -> &str {
        let at = self.at as usize;
        self.buffer
            .get(at..at + self.len as usize)
            .unwrap_or_default()
    }
}

impl Deref for PlannedUri {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq<str> for PlannedUri {
    fn eq(&self, text: &str) -> bool {
        self.as_str() == text
    }
}

impl fmt::Display for PlannedUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}

impl fmt::Debug for PlannedUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for PlannedUri {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
}

/// An item the plan removes, with what it looked like when planned.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedItem {
    pub id: i64,
    pub key: PlannedKey,
    pub version: i64,
    pub uri: PlannedUri,
    pub status: Status,
    pub size: u64,
    /// Its content's digest; `None` without content (or with a digest that is no sha256,
    /// which names no blob).
    pub sha256: Option<Digest>,
    pub reason: Reason,
    /// Why, for people: "LRU rank 37, last access 41d ago", "version 2: 3rd newest of
    /// 5 READY, keep-last 2".
    pub detail: Detail,
    /// Whether its blob is freed (no other item or live manifest uses it).
    pub exclusive: bool,
    /// Snapshot for the re-check at apply time.
    pub updated_ms: i64,
    pub accessed_ms: Option<i64>,
    pub linked: bool,
}

/// Why a policy picked an item, with the figures behind it; displayed as a sentence. It
/// is kept as figures because a plan may hold a million items whose sentences nobody
/// reads. Ages are whole seconds before the plan's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    /// In the trash this long.
    Trashed { ago: u64 },
    /// A WRITE whose writer's lease expired this long ago.
    LeaseExpired { ago: u64 },
    /// FAILED this long ago, with the failure's note if it has one.
    Failed { ago: u64, note: Option<String> },
    /// A READY version past the newest `keep` of its key's `of`; `rank` 1 is the newest.
    OldVersion {
        version: i64,
        rank: i64,
        of: i64,
        keep: u32,
    },
    /// Not used for longer than max-age: last accessed, or never and created, this long ago.
    Unused { ago: u64, accessed: bool },
    /// Evicted for max-size: its place in least-recently-used order and its last use.
    Lru { rank: u64, ago: u64 },
}

/// How long ago, in the largest whole unit: "41d", "3h", "5m".
struct Ago(u64);

impl fmt::Display for Ago {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            s if s < 60 => write!(f, "{s}s"),
            s if s < 3600 => write!(f, "{}m", s / 60),
            s if s < 86_400 => write!(f, "{}h", s / 3600),
            s => write!(f, "{}d", s / 86_400),
        }
    }
}

/// `n` with its English ordinal suffix: 1st, 2nd, 3rd, 4th, 11th, 21st.
struct Ordinal(i64);

impl fmt::Display for Ordinal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        let suffix = match (n % 10, n % 100) {
            (_, 11..=13) => "th",
            (1, _) => "st",
            (2, _) => "nd",
            (3, _) => "rd",
            _ => "th",
        };
        write!(f, "{n}{suffix}")
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Detail::Trashed { ago } => write!(f, "in the trash for {}", Ago(*ago)),
            Detail::LeaseExpired { ago } => {
                write!(f, "writer's lease expired {} ago", Ago(*ago))
            }
            Detail::Failed { ago, note } => {
                write!(f, "failed {} ago", Ago(*ago))?;
                match note {
                    Some(note) => write!(f, ": {note}"),
                    None => Ok(()),
                }
            }
            Detail::OldVersion {
                version,
                rank,
                of,
                keep,
            } => write!(
                f,
                "version {version}: {} newest of {of} READY, keep-last {keep}",
                Ordinal(*rank)
            ),
            Detail::Unused {
                ago,
                accessed: true,
            } => write!(f, "last access {} ago", Ago(*ago)),
            Detail::Unused { ago, .. } => {
                write!(f, "never accessed, created {} ago", Ago(*ago))
            }
            Detail::Lru { rank, ago } => {
                write!(f, "LRU rank {rank}, last access {} ago", Ago(*ago))
            }
        }
    }
}

/// As the sentence it displays as, which is what people and scripts read.
impl Serialize for Detail {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
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
    pub created: DateTime<Utc>,
    pub policy: GcPolicy,
    pub items: Vec<PlannedItem>,
    pub files: Vec<PlannedFile>,
    pub totals: Vec<(Reason, ReasonTotal)>,
    /// Bytes the cache holds now (distinct blobs), when the plan measured them: max-size
    /// does (from every item's size); the other policies read fewer items.
    pub usage_before: Option<u64>,
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

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Ago;

    /// Ages read in the largest whole unit; under a minute in seconds (it said `0m`).
    #[test]
    fn ages_read_in_whole_units() {
        let shown = [0, 59, 60, 3599, 3600, 86_399, 86_400, 864_000].map(|s| Ago(s).to_string());
        assert_eq!(shown, ["0s", "59s", "1m", "59m", "1h", "23h", "1d", "10d"]);
    }
}
