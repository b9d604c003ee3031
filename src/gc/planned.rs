//! The items a plan removes. A plan may hold most of a million: then they are kept as the
//! registry's census the policies chose from and the policies' picks, and each
//! [`PlannedItem`] is made when it is asked for (where making them all was a quarter of
//! the time a plan took, and more memory than the census they come from).

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::Serialize;
use serde::ser::SerializeSeq;

use super::Reason;
use super::census::{Census, NO_SHA};
use super::picks::Pick;
use crate::key::Digest;
use crate::status::Status;

/// The items a plan removes, in the order the policies chose them. A clone shares them.
/// Serialises as a list of [`PlannedItem`]s.
#[derive(Clone)]
pub struct PlannedItems(Arc<Kept>);

enum Kept {
    /// Many items (a share of the census of at least [`MADE_BELOW`]): each made when
    /// asked for, from the census the plan keeps.
    OnDemand(Box<Chosen>),
    /// Fewer: made at once, so that the plan does not keep the census of every item in
    /// the registry for a few of them.
    Made(Vec<PlannedItem>),
}

/// The share of the census's items below which a plan's items are made at once.
const MADE_BELOW: usize = 4;

struct Chosen {
    census: Census,
    picks: Vec<Pick>,
    /// By pick: whether its blob is freed (see [`PlannedItem::exclusive`]).
    exclusive: Vec<bool>,
    /// Keep-last's N, for the picks' details.
    keep: u32,
    /// The plan's time, which the details' ages count back from.
    now: DateTime<Utc>,
}

impl Chosen {
    /// The item picked at `at`.
    fn make(&self, at: usize) -> Option<PlannedItem> {
        let pick = self.picks.get(at)?;
        let census = &self.census;
        let row = pick.row as usize;
        let r = census.items.get(row)?;
        Some(PlannedItem {
            id: r.id,
            key: census.planned_key(row),
            version: r.version,
            uri: census.uri(row).to_owned(),
            status: r.status.unwrap_or(Status::Failed),
            size: r.size,
            sha256: census.digest(r.sha),
            reason: pick.reason(),
            detail: pick.detail(census, self.keep, self.now),
            exclusive: self.exclusive.get(at).copied().unwrap_or(false),
            updated_ms: r.updated,
            accessed_ms: r.accessed(),
            linked: r.sha != NO_SHA
                && (census.shas.get(r.sha as usize)).is_some_and(|refs| refs.links > 0),
        })
    }
}

impl PlannedItems {
    /// The items `picks` chose from `census`; `exclusive` says, by pick, whether its blob
    /// is freed.
    pub(super) fn new(
        census: Census,
        picks: Vec<Pick>,
        exclusive: Vec<bool>,
        keep: u32,
        now: DateTime<Utc>,
    ) -> PlannedItems {
        let few = picks.len() < census.items.len() / MADE_BELOW;
        let chosen = Chosen {
            census,
            picks,
            exclusive,
            keep,
            now,
        };
        PlannedItems::kept(chosen, few)
    }

    /// The items `chosen`, made at once if `made`.
    fn kept(chosen: Chosen, made: bool) -> PlannedItems {
        PlannedItems(Arc::new(if made {
            let made = (0..chosen.picks.len()).into_par_iter();
            Kept::Made(made.filter_map(|at| chosen.make(at)).collect())
        } else {
            Kept::OnDemand(Box::new(chosen))
        }))
    }

    pub fn len(&self) -> usize {
        match &*self.0 {
            Kept::OnDemand(chosen) => chosen.picks.len(),
            Kept::Made(items) => items.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The item at `at` in the plan's order.
    pub fn get(&self, at: usize) -> Option<PlannedItem> {
        match &*self.0 {
            Kept::OnDemand(chosen) => chosen.make(at),
            Kept::Made(items) => items.get(at).cloned(),
        }
    }

    /// The items in `range` of the plan's order (cut to the items there are).
    pub fn range(&self, range: Range<usize>) -> impl DoubleEndedIterator<Item = PlannedItem> + '_ {
        let end = range.end.min(self.len());
        (range.start.min(end)..end).filter_map(|at| self.get(at))
    }

    /// Every item, in the plan's order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = PlannedItem> + '_ {
        self.range(0..self.len())
    }
}

impl Serialize for PlannedItems {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for item in self.iter() {
            seq.serialize_element(&item)?;
        }
        seq.end()
    }
}

impl fmt::Debug for PlannedItems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
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

/// An item the plan removes, with what it looked like when planned.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedItem {
    pub id: i64,
    pub key: PlannedKey,
    pub version: i64,
    pub uri: String,
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::cache::Cache;
    use crate::gc::{GcPolicy, picks};

    /// A plan's items are the same whether they are made at once or when asked for: over
    /// the demo cache (manifests linking blobs, a failure with its note, the trash), with
    /// every policy that leaves details of its own.
    #[test]
    fn items_made_at_once_or_on_demand_are_the_same() {
        let dir = tempfile::tempdir().unwrap();
        crate::demo::build(dir.path()).unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let now = Utc::now() + chrono::Duration::days(400);
        let policy = GcPolicy {
            trash: Some(Duration::ZERO),
            stale: Some(Duration::ZERO),
            keep_last: Some(1),
            max_size: Some(64 << 10),
            ..GcPolicy::none()
        };
        let kept = |made: bool| {
            let mut snapshot = cache.registry().snapshot(0).unwrap();
            let (db, twins) = snapshot.split();
            let mut census = Census::read(db, twins, None, true).unwrap();
            let versions = census.versions.take();
            let (picks, _) = picks::choose(&census, versions, &policy, now);
            let exclusive = (0..picks.picks.len()).map(|at| at % 3 == 0).collect();
            let chosen = Chosen {
                census,
                picks: picks.picks,
                exclusive,
                keep: 1,
                now,
            };
            PlannedItems::kept(chosen, made)
        };
        let (made, on_demand) = (kept(true), kept(false));
        assert!(matches!(*made.0, Kept::Made(_)));
        assert!(matches!(*on_demand.0, Kept::OnDemand(_)));
        let json = |items: &PlannedItems| serde_json::to_value(items).unwrap();
        assert_eq!(json(&made), json(&on_demand));
        let items = json(&made);
        let shown = |key: &str| -> Vec<String> {
            (items.as_array().unwrap().iter())
                .map(|i| i[key].to_string())
                .collect()
        };
        let reasons = shown("reason");
        for reason in ["trash", "failed", "keep-last", "max-size"] {
            assert!(reasons.contains(&format!("\"{reason}\"")), "{reasons:?}");
        }
        assert!(shown("linked").contains(&"true".to_string()));
        assert!(
            shown("detail")
                .iter()
                .any(|d| d.contains("failed") && d.contains(':'))
        );
        assert_eq!(made.len(), on_demand.len());
        let last = made.len() - 1;
        assert_eq!(
            made.get(last).map(|i| i.id),
            on_demand.iter().next_back().map(|i| i.id)
        );
        assert!(made.get(last + 1).is_none() && on_demand.get(last + 1).is_none());
    }

    use super::Ago;

    /// Ages read in the largest whole unit; under a minute in seconds (it said `0m`).
    #[test]
    fn ages_read_in_whole_units() {
        let shown = [0, 59, 60, 3599, 3600, 86_399, 86_400, 864_000].map(|s| Ago(s).to_string());
        assert_eq!(shown, ["0s", "59s", "1m", "59m", "1h", "23h", "1d", "10d"]);
    }
}
