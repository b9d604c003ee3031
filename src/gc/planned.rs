//! The items a plan removes. A plan may hold most of a million, and making a
//! [`PlannedItem`] costs about as much as reading its row did: making them all was a
//! quarter of a plan's time. So when the policies picked many of the items read, the plan
//! keeps their rows and the picks, and makes each item when it is asked for (for
//! `apply`, a listing, JSON); the rows take memory of the same order as the items would.
//! When they picked fewer, the items are made at once and the rows let go.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::Serialize;
use serde::ser::SerializeSeq;

use super::Reason;
use super::census::Census;
use super::picks::Pick;
use crate::key::Digest;
use crate::status::Status;

/// The items a plan removes, in the order the policies chose them. Each is handed out
/// as a [`PlannedItem`] of its own, made (or copied) when asked for. A clone shares them.
/// Serialises as a list of [`PlannedItem`]s.
#[derive(Clone)]
pub struct PlannedItems(Arc<Kept>);

enum Kept {
    /// Made when asked for, from the rows the plan keeps.
    OnDemand(Box<Chosen>),
    /// Made at once.
    Made(Vec<PlannedItem>),
}

/// Items are made on demand when the policies picked at least one in this many of the
/// items the census read.
const ON_DEMAND_FROM: usize = 4;

/// What the blob accounting found of a picked item.
#[derive(Clone, Copy, Default)]
pub(super) struct Counted {
    /// Its blob is freed (see [`PlannedItem::exclusive`]).
    pub exclusive: bool,
    /// A manifest links its blob.
    pub linked: bool,
}

/// What the policies chose, and what the items are made from.
struct Chosen {
    /// Only the rows and what goes with them (see [`Census::into_rows`]).
    rows: Census,
    /// The picks, in the plan's order, with what the accounting found of each.
    picks: Vec<(Pick, Counted)>,
    /// Keep-last's N, for the picks' details.
    keep: u32,
    /// The plan's time, which the details' ages count back from.
    now: DateTime<Utc>,
}

impl Chosen {
    /// The item picked at `at` (every pick's row is in `rows`: see [`PlannedItems::new`]).
    fn make(&self, at: usize) -> Option<PlannedItem> {
        let (pick, counted) = self.picks.get(at)?;
        let rows = &self.rows;
        let row = pick.row as usize;
        let r = rows.items.get(row)?;
        Some(PlannedItem {
            id: r.id,
            key: rows.planned_key(row),
            version: r.version,
            uri: rows.uri(row).to_owned(),
            status: r.status.unwrap_or(Status::Failed),
            size: r.size,
            sha256: rows.digest(r.sha),
            reason: pick.reason(),
            detail: pick.detail(rows, self.keep, self.now)?,
            exclusive: counted.exclusive,
            updated_ms: r.updated,
            accessed_ms: r.accessed(),
            linked: counted.linked,
        })
    }
}

impl PlannedItems {
    /// The items `picks` chose from `census`, with what the accounting found of each.
    pub(super) fn new(
        census: Census,
        mut picks: Vec<(Pick, Counted)>,
        keep: u32,
        now: DateTime<Utc>,
    ) -> PlannedItems {
        let read = census.items.len();
        // Rows come from the census: this only keeps `make` from ever missing one.
        picks.retain(|(pick, _)| (pick.row as usize) < read);
        let on_demand = !picks.is_empty() && picks.len().saturating_mul(ON_DEMAND_FROM) >= read;
        let chosen = Chosen {
            rows: census.into_rows(),
            picks,
            keep,
            now,
        };
        if on_demand {
            PlannedItems::on_demand(chosen)
        } else {
            PlannedItems::made_now(chosen)
        }
    }

    fn on_demand(chosen: Chosen) -> PlannedItems {
        PlannedItems(Arc::new(Kept::OnDemand(Box::new(chosen))))
    }

    fn made_now(chosen: Chosen) -> PlannedItems {
        let made = (0..chosen.picks.len()).into_par_iter();
        PlannedItems(Arc::new(Kept::Made(
            made.filter_map(|at| chosen.make(at)).collect(),
        )))
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
    pub fn range(&self, range: Range<usize>) -> Iter<'_> {
        let end = range.end.min(self.len());
        Iter {
            items: self,
            at: range.start.min(end)..end,
        }
    }

    /// Every item, in the plan's order.
    pub fn iter(&self) -> Iter<'_> {
        self.range(0..self.len())
    }
}

/// Items of a plan, in its order (see [`PlannedItems::range`]).
pub struct Iter<'a> {
    items: &'a PlannedItems,
    at: Range<usize>,
}

impl Iterator for Iter<'_> {
    type Item = PlannedItem;

    fn next(&mut self) -> Option<PlannedItem> {
        self.at.next().and_then(|at| self.items.get(at))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.at.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<PlannedItem> {
        self.at.next_back().and_then(|at| self.items.get(at))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a PlannedItems {
    type Item = PlannedItem;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl Serialize for PlannedItems {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for item in self {
            seq.serialize_element(&item)?;
        }
        seq.end()
    }
}

impl fmt::Debug for PlannedItems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self).finish()
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
    /// Snapshot for the re-check at apply time (in JSON as `updated` and `accessed`, the
    /// times as every item's JSON gives them).
    #[serde(rename = "updated", serialize_with = "as_time")]
    pub updated_ms: i64,
    #[serde(rename = "accessed", serialize_with = "as_time_if_any")]
    pub accessed_ms: Option<i64>,
    pub linked: bool,
}

/// Registry milliseconds as the time they stand for, in RFC 3339 (as every item's JSON
/// gives times).
pub(super) fn as_time<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&crate::attr::format_datetime(&crate::registry::item::time(
        *ms,
    )))
}

fn as_time_if_any<S: serde::Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => as_time(ms, s),
        None => s.serialize_none(),
    }
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
    /// Purged for max-size, in the trash this long: the trash goes before READY items.
    TrashedOverCap { ago: u64 },
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
            Detail::TrashedOverCap { ago } => {
                write!(f, "in the trash for {}: the trash goes first", Ago(*ago))
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

    /// The items of `policy`'s plan as of `now`, made both ways from a census of their
    /// own, and as `gc::plan` made them.
    fn both_ways(cache: &Cache, policy: &GcPolicy, now: DateTime<Utc>) -> [PlannedItems; 3] {
        let plan = crate::gc::plan(cache, policy, now).unwrap();
        let chosen = || {
            let mut snapshot = cache.registry().snapshot(0).unwrap();
            let (db, twins) = snapshot.split();
            let mut census = Census::read(db, twins, None, true).unwrap();
            let versions = census.versions.take();
            let (picks, _) = picks::choose(&census, versions, policy, now);
            // The accounting as the plan did it (tests/gc.rs shows it right).
            let counted = plan.items.iter().map(|i| Counted {
                exclusive: i.exclusive,
                linked: i.linked,
            });
            Chosen {
                rows: census.into_rows(),
                picks: picks.picks.into_iter().zip(counted).collect(),
                keep: policy.keep_last.unwrap_or(0),
                now,
            }
        };
        let (made, on_demand) = (
            PlannedItems::made_now(chosen()),
            PlannedItems::on_demand(chosen()),
        );
        assert!(matches!(*made.0, Kept::Made(_)));
        assert!(matches!(*on_demand.0, Kept::OnDemand(_)));
        [plan.items, made, on_demand]
    }

    /// A plan's items are the items they stand for, as the registry has them, and the
    /// same whether they are made at once or when asked for: over the demo cache
    /// (manifests linking blobs, a failure with its note, the trash, a stale write), with
    /// every policy's own details.
    #[test]
    fn items_made_at_once_or_on_demand_are_the_items() {
        let dir = tempfile::tempdir().unwrap();
        crate::demo::build(dir.path()).unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let now = Utc::now() + chrono::Duration::days(400);
        let policy = GcPolicy {
            trash: Some(Duration::ZERO),
            stale: Some(Duration::ZERO),
            keep_last: Some(1),
            max_age: Some(Duration::from_secs(500 * 86_400)),
            max_size: Some(64 << 10),
            ..GcPolicy::none()
        };
        let json = |items: &PlannedItems| serde_json::to_value(items).unwrap();
        let [planned, made, on_demand] = both_ways(&cache, &policy, now);
        assert_eq!(json(&made), json(&planned));
        assert_eq!(json(&on_demand), json(&planned));
        let db = cache.registry().db();
        for item in &on_demand {
            let held = cache.get(item.id).unwrap();
            assert_eq!(item.key, *held.key, "{}", item.id);
            assert_eq!(item.uri, held.uri);
            assert_eq!((item.version, item.status), (held.version, held.status));
            assert_eq!(
                Some(item.size).filter(|&s| s > 0),
                held.size.filter(|&s| s > 0)
            );
            assert_eq!(item.sha256.map(|d| d.to_string()), held.sha256);
            assert_eq!(item.updated_ms, held.updated.timestamp_millis());
            assert_eq!(
                item.accessed_ms,
                held.accessed.map(|a| a.timestamp_millis())
            );
            assert_eq!(item.linked, db.sha_linked(held.sha256.as_deref()).unwrap());
        }
        let details: Vec<String> = on_demand.iter().map(|i| i.detail.to_string()).collect();
        for said in [
            "in the trash for",
            "writer's lease expired",
            "failed 40",
            "keep-last 1",
            "last access",
            "LRU rank 1,",
        ] {
            assert!(
                details.iter().any(|d| d.contains(said)),
                "{said}: {details:?}"
            );
        }
        assert!(on_demand.iter().any(|i| i.linked), "{details:?}");
        let last = on_demand.len() - 1;
        let ends = |items: &PlannedItems| (items.get(last).map(|i| i.id), items.get(last + 1));
        assert_eq!(ends(&made).0, on_demand.iter().next_back().map(|i| i.id));
        assert!(ends(&made).1.is_none() && ends(&on_demand).1.is_none());
        assert_eq!(on_demand.range(last..last + 9).len(), 1);
    }

    /// Items are made on demand when the policies picked at least a quarter of the items
    /// read, and at once when fewer, or none (also of none read).
    #[test]
    fn items_are_made_on_demand_from_a_quarter_of_the_items_read() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        for i in 0..8 {
            let new = crate::registry::NewItem::new(format!("s3://b/{i}"));
            cache.put_bytes(&new, format!("{i}").as_bytes()).unwrap();
        }
        let now = Utc::now();
        let empty_dir = tempfile::tempdir().unwrap();
        let empty = Cache::open(empty_dir.path()).unwrap();
        let census = |cache: &Cache| {
            let mut snapshot = cache.registry().snapshot(0).unwrap();
            let (db, twins) = snapshot.split();
            Census::read(db, twins, None, false).unwrap()
        };
        let nothing = PlannedItems::new(census(&empty), Vec::new(), 0, now);
        assert!(
            matches!(*nothing.0, Kept::Made(_)),
            "nothing read, nothing kept"
        );
        let kept = |picked: u32| {
            let census = census(&cache);
            assert_eq!(census.items.len(), 8);
            let picks: Vec<(Pick, Counted)> = (0..picked)
                .map(|row| {
                    let why = picks::Why::Unused;
                    (Pick { row, why }, Counted::default())
                })
                .collect();
            let items = PlannedItems::new(census, picks, 0, now);
            assert_eq!(items.len(), picked as usize);
            matches!(*items.0, Kept::OnDemand(_))
        };
        assert_eq!([0, 1, 2, 8].map(kept), [false, false, true, true]);
    }

    /// Ages read in the largest whole unit; under a minute in seconds (it said `0m`).
    #[test]
    fn ages_read_in_whole_units() {
        let shown = [0, 59, 60, 3599, 3600, 86_399, 86_400, 864_000].map(|s| Ago(s).to_string());
        assert_eq!(shown, ["0s", "59s", "1m", "59m", "1h", "23h", "1d", "10d"]);
    }
}
