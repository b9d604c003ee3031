//! One read of the registry for planning: every item's status, times, size and blob, and
//! every manifest link, with each distinct blob digest numbered once. Pins, reference
//! counts, usage and orphan detection all work from it in memory, so planning asks SQLite
//! nothing per item.

use std::borrow::Cow;
use std::collections::HashMap;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::key::decode_digest;
use crate::registry::Db;
use crate::status::Status;

mod scan;

/// The number of a distinct blob digest in a [`Census`].
pub(super) type ShaId = u32;

/// An item without content.
pub(super) const NO_SHA: ShaId = ShaId::MAX;

/// What planning needs of an item. Its URI is in [`Census::text`].
pub(super) struct ItemRow {
    pub id: i64,
    pub version: i64,
    /// Its key, as the digest keys are (zero for one that is not: see [`Census::key`]).
    pub key: [u8; 32],
    /// Where its URI starts in the census text, and its length.
    uri_at: usize,
    uri_len: u32,
    /// `None` for a status this build does not know: no policy matches it.
    pub status: Option<Status>,
    pub pinned: bool,
    pub size: Option<i64>,
    pub sha: ShaId,
    pub updated: i64,
    pub accessed: Option<i64>,
    pub created: i64,
    pub lease_expires: Option<i64>,
    /// Which of the census's manifests it is, if it has links: [`NO_LINKS`] if not.
    pub links: u32,
}

/// An item without links.
pub(super) const NO_LINKS: u32 = u32::MAX;

/// A READY item's key, version and row: what keep-last ranks.
pub(super) type Version = ([u8; 32], i64, usize);

impl ItemRow {
    /// When it was last used: accessed, or if never, created.
    pub fn last_use(&self) -> i64 {
        self.accessed.unwrap_or(self.created)
    }
}

/// A manifest's link to a blob.
pub(super) struct LinkRow {
    pub item_id: i64,
    pub sha: ShaId,
    pub size: Option<i64>,
    /// Whether the manifest is pinned.
    pinned: bool,
}

/// Who references one blob. (Kept small: planning looks these up in random order.)
#[derive(Default, Clone)]
pub(super) struct ShaRefs {
    /// Items whose content it is (any status).
    pub items: u32,
    /// Manifests linking it.
    pub links: u32,
}

impl ShaRefs {
    pub fn total(&self) -> u32 {
        self.items + self.links
    }
}

/// The registry as planning sees it, read in one snapshot.
pub(super) struct Census {
    /// Every item, by ascending id.
    pub items: Vec<ItemRow>,
    /// Every item's URI, one after the other (one allocation, not one per item).
    text: String,
    /// The keys that are no digest, by row (none, unless the registry was edited by hand).
    odd_keys: HashMap<usize, String>,
    /// The notes of FAILED items, by row (the only ones plans show).
    notes: HashMap<usize, String>,
    /// The links of each manifest, as ranges of `links` (see [`ItemRow::links`]).
    manifests: Vec<(usize, usize)>,
    /// Every link, in `(item_id, sha256)` order.
    pub links: Vec<LinkRow>,
    /// References of each distinct digest, by [`ShaId`]: proper digests first, ascending,
    /// then anything else found in a `sha256` column.
    pub shas: Vec<ShaRefs>,
    /// By [`ShaId`]: linked by a pinned manifest, so the items holding it are protected.
    sha_pinned: Vec<bool>,
    /// By [`ShaId`]: the largest size recorded by the items holding it, and by the links.
    sha_sizes: Vec<(Option<i64>, Option<i64>)>,
    /// The proper digests (64 lower-case hex digits), ascending: `ShaId` 0, 1, …
    digests: Vec<[u8; 32]>,
    /// The other values, numbered after the digests.
    other_names: Vec<String>,
    rows: RowIndex,
    /// When asked for: every READY item's [`Version`], by its key's first byte. Gathered
    /// while the rows are read, on the thread that waits for them anyway.
    pub versions: Option<ByFirstByte<Version>>,
}

impl Census {
    /// Reads every item and link (two sequential scans); with `only`, just the items in
    /// those statuses, and the digests of the others from the digest index (the census
    /// then knows nothing of their sizes: [`Census::usage`] needs every item). With
    /// `versions`, it gathers [`Census::versions`] too.
    pub fn read(db: Db<'_>, only: Option<&[Status]>, versions: bool) -> Result<Census> {
        let fail = db.err("reading the registry for gc");
        // Ids are allocated in order, so their span is a good guess at the count (capped,
        // in case they are sparse: it is only a hint).
        let span: i64 = db
            .conn
            .query_row(
                // Two subqueries: each is one step down the table's tree, where `max(id) -
                // min(id)` in one query reads every row.
                "SELECT coalesce((SELECT max(id) FROM items) - (SELECT min(id) FROM items) + 1, 0)",
                [],
                |r| r.get(0),
            )
            .map_err(&fail)?;
        let expected = usize::try_from(span).unwrap_or(0).min(1 << 24);
        let mut census = Census {
            items: Vec::with_capacity(expected),
            text: String::new(),
            odd_keys: HashMap::new(),
            notes: HashMap::new(),
            manifests: Vec::new(),
            links: Vec::new(),
            shas: Vec::new(),
            sha_pinned: Vec::new(),
            sha_sizes: Vec::new(),
            digests: Vec::new(),
            other_names: Vec::new(),
            rows: RowIndex::Search,
            versions: versions.then(|| ByFirstByte::new(expected)),
        };
        let mut numbering = Numbering::new(expected);
        let columns = "SELECT id, status, pinned, size, sha256, updated, accessed, created,
                              lease_expires, key, version, uri, note FROM items";
        let sql = match only {
            None => format!("{columns} ORDER BY id"),
            // The statuses' own names (no input goes into the SQL); an empty list matches
            // nothing.
            Some(statuses) => {
                let names: Vec<String> = statuses
                    .iter()
                    .map(|s| format!("'{}'", s.as_str()))
                    .collect();
                format!(
                    "{columns} WHERE status IN ({}) ORDER BY id",
                    names.join(", ")
                )
            }
        };
        let mut st = db.conn.prepare(&sql).map_err(&fail)?;
        let mut rows = st.query([]).map_err(&fail)?;
        census.scan_items(&mut rows, &mut numbering, only.is_none(), &fail)?;
        drop(rows);
        drop(st);
        census.rows = RowIndex::new(&census.items);
        if only.is_some() {
            let mut st = db
                .conn
                .prepare("SELECT sha256 FROM items WHERE sha256 IS NOT NULL ORDER BY sha256")
                .map_err(&fail)?;
            let mut rows = st.query([]).map_err(&fail)?;
            numbering.counted.reserve(expected);
            while let Some(r) = rows.next().map_err(&fail)? {
                let sha = r.get_ref(0).map_err(&fail)?;
                numbering.count(sha.as_str().map_err(|e| fail(e.into()))?);
            }
        }

        let mut st = db
            .conn
            .prepare(
                "SELECT links.item_id, links.sha256, links.size, coalesce(items.pinned, 0)
                 FROM links LEFT JOIN items ON items.id = links.item_id
                 ORDER BY links.item_id, links.sha256",
            )
            .map_err(&fail)?;
        let mut rows = st.query([]).map_err(&fail)?;
        while let Some(r) = rows.next().map_err(&fail)? {
            let item_id: i64 = r.get(0).map_err(&fail)?;
            let size: Option<i64> = r.get(2).map_err(&fail)?;
            numbering.add(
                r.get_ref(1)
                    .map_err(&fail)?
                    .as_str()
                    .map_err(|e| fail(e.into()))?,
                Owner::link(census.links.len())?,
                size,
            );
            census.links.push(LinkRow {
                item_id,
                sha: NO_SHA,
                size,
                pinned: r.get::<_, i64>(3).map_err(&fail)? != 0,
            });
        }
        drop(rows);
        drop(st);
        numbering.number(&mut census)?;
        let mut start = 0;
        while start < census.links.len() {
            let id = census.links[start].item_id;
            let end = start + census.links[start..].partition_point(|l| l.item_id == id);
            if let Some(row) = census.row_of(id)
                && let Ok(at) = u32::try_from(census.manifests.len())
                && at != NO_LINKS
            {
                census.items[row].links = at;
                census.manifests.push((start, end));
            }
            start = end;
        }
        Ok(census)
    }

    /// The key of the item at `row`.
    pub fn key(&self, row: usize) -> Cow<'_, str> {
        match self.odd_keys.get(&row) {
            Some(key) => Cow::Borrowed(key),
            None => Cow::Owned(crate::key::hex(&self.items[row].key)),
        }
    }

    /// Whether every item's [`ItemRow::key`] is its key.
    pub fn keys_are_digests(&self) -> bool {
        self.odd_keys.is_empty()
    }

    /// The URI of the item at `row`.
    pub fn uri(&self, row: usize) -> &str {
        let r = &self.items[row];
        self.text
            .get(r.uri_at..r.uri_at + r.uri_len as usize)
            .unwrap_or_default()
    }

    /// The note of the FAILED item at `row`, if it has one.
    pub fn failure_note(&self, row: usize) -> Option<&str> {
        self.notes.get(&row).map(String::as_str)
    }

    /// Gives the next digest number to a new distinct value.
    fn new_sha(&mut self) -> Result<ShaId> {
        let sha = ShaId::try_from(self.shas.len())
            .ok()
            .filter(|&n| n != NO_SHA)
            .ok_or_else(|| Error::invalid("registry", "too many distinct blobs to plan a gc"))?;
        self.shas.push(ShaRefs::default());
        self.sha_pinned.push(false);
        self.sha_sizes.push((None, None));
        Ok(sha)
    }

    /// Records that `owner`, of `size`, references `sha`. Items' digests are noted in
    /// `item_shas`, by row, rather than in their rows: references come in digest order,
    /// and a write to a row each would go to memory at random.
    fn assign(&mut self, owner: Owner, sha: ShaId, size: Option<i64>, item_shas: &mut [ShaId]) {
        let at = sha as usize;
        match owner {
            Owner::Item(row) => {
                item_shas[row as usize] = sha;
                self.shas[at].items += 1;
                let max = &mut self.sha_sizes[at].0;
                *max = (*max).max(size);
            }
            Owner::Row(row) => item_shas[row as usize] = sha,
            Owner::Counted => self.shas[at].items += 1,
            Owner::Link(link) => {
                let link = &mut self.links[link as usize];
                link.sha = sha;
                let pinned = link.pinned;
                self.shas[at].links += 1;
                let max = &mut self.sha_sizes[at].1;
                *max = (*max).max(size);
                self.sha_pinned[at] |= pinned;
            }
        }
    }

    /// The position in `items` of the item with `id`.
    pub fn row_of(&self, id: i64) -> Option<usize> {
        match &self.rows {
            RowIndex::Dense { first, rows } => {
                let at = usize::try_from(id.checked_sub(*first)?).ok()?;
                rows.get(at)
                    .and_then(|&r| (r != u32::MAX).then_some(r as usize))
            }
            RowIndex::Search => self.items.binary_search_by_key(&id, |r| r.id).ok(),
        }
    }

    /// The links an item's [`ItemRow::links`] stands for (a manifest's), by digest.
    pub fn links_at(&self, links: u32) -> &[LinkRow] {
        if links == NO_LINKS {
            return &[];
        }
        self.manifests
            .get(links as usize)
            .and_then(|&(start, end)| self.links.get(start..end))
            .unwrap_or_default()
    }

    /// Pinned, or holding content a pinned manifest links to.
    pub fn protected(&self, row: &ItemRow) -> bool {
        row.pinned || (row.sha != NO_SHA && self.sha_pinned[row.sha as usize])
    }

    /// Bytes the cache holds: distinct blobs of items plus blobs only manifests link to
    /// (each at the largest size recorded for it).
    pub fn usage(&self) -> u64 {
        let total: i64 = self
            .shas
            .iter()
            .zip(&self.sha_sizes)
            .map(|(refs, &(item_max, link_max))| {
                if refs.items > 0 {
                    item_max.unwrap_or(0)
                } else {
                    link_max.unwrap_or(0)
                }
            })
            .fold(0i64, i64::saturating_add);
        total.max(0) as u64
    }

    /// The digest numbered `sha`, if it is a proper one.
    pub fn digest(&self, sha: ShaId) -> Option<crate::key::Digest> {
        self.digests
            .get(sha as usize)
            .copied()
            .map(crate::key::Digest)
    }

    /// The digest `sha` as stored.
    pub fn sha_name(&self, sha: ShaId) -> String {
        let at = sha as usize;
        match self.digests.get(at) {
            Some(digest) => crate::key::hex(digest),
            None => self
                .other_names
                .get(at - self.digests.len())
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// The proper digests referenced by anything in the registry, ascending.
    pub fn digests(&self) -> &[[u8; 32]] {
        &self.digests
    }
}

/// From item id to position in [`Census::items`]: a table when ids are dense (as they are,
/// being allocated in order), else a binary search.
enum RowIndex {
    Dense { first: i64, rows: Vec<u32> },
    Search,
}

impl RowIndex {
    fn new(items: &[ItemRow]) -> RowIndex {
        let (Some(first), Some(last)) = (items.first(), items.last()) else {
            return RowIndex::Search;
        };
        let span = last.id.saturating_sub(first.id).saturating_add(1);
        let dense = usize::try_from(span).ok().filter(|&span| {
            span <= items.len().saturating_mul(4) && items.len() < u32::MAX as usize
        });
        let Some(span) = dense else {
            return RowIndex::Search;
        };
        let mut rows = vec![u32::MAX; span];
        for (row, item) in items.iter().enumerate() {
            // In range: ids ascend from `first` to `last`.
            if let Some(slot) = usize::try_from(item.id - first.id)
                .ok()
                .and_then(|at| rows.get_mut(at))
            {
                *slot = row as u32;
            }
        }
        RowIndex::Dense {
            first: first.id,
            rows,
        }
    }
}

/// Who references a digest: an item (by row) or a link (by index). When only some items
/// are read, theirs are `Row`s, and every item's reference is `Counted` from the index.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Owner {
    Item(u32),
    Row(u32),
    Counted,
    Link(u32),
}

impl Owner {
    fn item(row: usize) -> Result<Owner> {
        Owner::check(row).map(Owner::Item)
    }

    fn row(row: usize) -> Result<Owner> {
        Owner::check(row).map(Owner::Row)
    }

    fn link(at: usize) -> Result<Owner> {
        Owner::check(at).map(Owner::Link)
    }

    fn check(n: usize) -> Result<u32> {
        u32::try_from(n)
            .ok()
            .filter(|&n| n != u32::MAX)
            .ok_or_else(|| Error::invalid("registry", "too many items to plan a gc"))
    }
}

/// A digest as read, who references it, and the size recorded with the reference.
type Ref<T> = (T, Owner, Option<i64>);

/// Values that lead with a digest, put in 256 buckets by its first byte as they come (on
/// the census worker, while rows are read). Once all are in, only each bucket needs
/// sorting, on every core, and the buckets in order are the whole, sorted. A bucket fits
/// in the processor's caches, where one sort of the whole list would go to memory at
/// every level.
pub(super) struct ByFirstByte<T>([Vec<T>; 256]);

impl<T: Ord + Send> ByFirstByte<T> {
    /// Room for about `expected` values: only reserved, so memory is touched as it fills.
    fn new(expected: usize) -> Self {
        let per_bucket = expected / 256 + expected / 4096 + 16;
        ByFirstByte(std::array::from_fn(|_| Vec::with_capacity(per_bucket)))
    }

    /// Adds `value`, whose digest begins with `first_byte`.
    fn push(&mut self, first_byte: u8, value: T) {
        self.0[usize::from(first_byte)].push(value);
    }

    /// Sorts every bucket.
    pub fn sort(&mut self) {
        self.0
            .par_iter_mut()
            .for_each(|bucket| bucket.sort_unstable());
    }

    /// The buckets, in order of first byte.
    pub fn buckets(&self) -> &[Vec<T>] {
        &self.0
    }

    fn len(&self) -> usize {
        self.0.iter().map(Vec::len).sum()
    }

    /// Every value, in order of first byte (sorted, after [`ByFirstByte::sort`]).
    fn into_values(self) -> impl Iterator<Item = T> {
        self.0.into_iter().flatten()
    }
}

/// The digests as read, numbered once all are in: sorted rather than looked up one by one.
struct Numbering {
    /// The proper digests.
    hex: ByFirstByte<Ref<[u8; 32]>>,
    /// Digests only to be counted, read in ascending order from the digest index (so
    /// merged in, not sorted), when only some items are read in full.
    counted: Vec<[u8; 32]>,
    other: Vec<Ref<String>>,
}

impl Numbering {
    fn new(expected: usize) -> Numbering {
        Numbering {
            hex: ByFirstByte::new(expected),
            counted: Vec::new(),
            other: Vec::new(),
        }
    }

    fn push_hex(&mut self, digest: [u8; 32], owner: Owner, size: Option<i64>) {
        self.hex.push(digest[0], (digest, owner, size));
    }

    fn add(&mut self, sha: &str, owner: Owner, size: Option<i64>) {
        match decode_digest(sha.as_bytes()) {
            Some(digest) => self.push_hex(digest, owner, size),
            None => self.other.push((sha.to_owned(), owner, size)),
        }
    }

    /// Adds a reference to be counted, from a list read in ascending order.
    fn count(&mut self, sha: &str) {
        match decode_digest(sha.as_bytes()) {
            // In order, as an index gives them (checked: any order stays correct).
            Some(digest) if self.counted.last().is_none_or(|last| *last <= digest) => {
                self.counted.push(digest)
            }
            Some(digest) => self.push_hex(digest, Owner::Counted, None),
            None => self.other.push((sha.to_owned(), Owner::Counted, None)),
        }
    }

    /// Numbers proper digests in ascending order, then the rest, and counts references.
    fn number(self, census: &mut Census) -> Result<()> {
        let Numbering {
            mut hex,
            counted,
            other,
        } = self;
        hex.sort();
        census.shas.reserve(hex.len().max(counted.len()));
        let mut item_shas = vec![NO_SHA; census.items.len()];
        let mut sha = NO_SHA;
        let mut counted = counted.into_iter().peekable();
        let mut take = |census: &mut Census, (digest, owner, size): Ref<[u8; 32]>| {
            if census.digests.last() != Some(&digest) {
                sha = census.new_sha()?;
                census.digests.push(digest);
            }
            census.assign(owner, sha, size, &mut item_shas);
            Ok::<_, Error>(())
        };
        for r in hex.into_values() {
            while let Some(c) = counted.next_if(|c| *c <= r.0) {
                take(census, (c, Owner::Counted, None))?;
            }
            take(census, r)?;
        }
        for c in counted {
            take(census, (c, Owner::Counted, None))?;
        }
        let mut others: HashMap<String, ShaId> = HashMap::new();
        for (name, owner, size) in other {
            let sha = match others.get(&name) {
                Some(&sha) => sha,
                None => {
                    let sha = census.new_sha()?;
                    census.other_names.push(name.clone());
                    others.insert(name, sha);
                    sha
                }
            };
            census.assign(owner, sha, size, &mut item_shas);
        }
        for (item, sha) in census.items.iter_mut().zip(item_shas) {
            item.sha = sha;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Census;
    use crate::cache::Cache;
    use crate::registry::NewItem;
    use crate::status::Status;

    /// 600 items over 400 contents: every bucket of first bytes that is hit holds a few
    /// digests, in no order as they arrive, and most contents are shared by several items.
    #[test]
    fn digests_are_numbered_in_order_and_counted_per_holder() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let mut holders = std::collections::HashMap::new();
        for i in 0..600 {
            let item = cache
                .put_bytes(
                    &NewItem::new(format!("s3://b/{i}")),
                    format!("{}", i % 400).as_bytes(),
                )
                .unwrap();
            if i % 9 == 4 {
                cache.trash(item.id).unwrap();
            }
            *holders.entry(item.sha256.unwrap()).or_insert(0u32) += 1;
        }
        for only in [None, Some(&[Status::Trash][..])] {
            let census = Census::read(cache.registry().db(), only, false).unwrap();
            let digests = census.digests();
            assert_eq!(digests.len(), 400);
            assert!(
                digests.windows(2).all(|w| w[0] < w[1]),
                "ascending, each once"
            );
            for (sha, refs) in census.shas.iter().enumerate() {
                let name = census.sha_name(sha as u32);
                assert_eq!(refs.items, holders[&name], "{name}");
            }
            for r in &census.items {
                let item = cache.get(r.id).unwrap();
                assert_eq!(census.digest(r.sha).map(|d| d.to_string()), item.sha256);
            }
        }
    }
}
