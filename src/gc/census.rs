//! One read of the registry for planning: every item's status, times, size and blob, and
//! every manifest link, with each distinct blob digest numbered once. Pins, reference
//! counts, usage and orphan detection all work from it in memory, so planning asks SQLite
//! nothing per item.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rusqlite::types::ValueRef;

use crate::error::{Error, Result};
use crate::key::hex;
use crate::registry::Db;
use crate::status::Status;

/// The number of a distinct blob digest in a [`Census`].
pub(super) type ShaId = u32;

/// An item without content.
pub(super) const NO_SHA: ShaId = ShaId::MAX;

/// What planning needs of an item (its key, URI and note are read later, for the items
/// planned only).
pub(super) struct ItemRow {
    pub id: i64,
    /// `None` for a status this build does not know: no policy matches it.
    pub status: Option<Status>,
    pub pinned: bool,
    pub size: Option<i64>,
    pub sha: ShaId,
    pub updated: i64,
    pub accessed: Option<i64>,
    pub created: i64,
    pub lease_expires: Option<i64>,
}

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
}

/// Who references one blob.
#[derive(Default, Clone)]
pub(super) struct ShaRefs {
    /// Items whose content it is (any status).
    pub items: u32,
    /// Manifests linking it.
    pub links: u32,
    /// The largest size recorded by those items, and by those links.
    pub item_max: Option<i64>,
    pub link_max: Option<i64>,
    /// Linked by a pinned manifest: the items holding it are protected.
    pub pinned: bool,
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
    /// Every link, in `(item_id, sha256)` order.
    pub links: Vec<LinkRow>,
    /// References of each distinct digest, by [`ShaId`].
    pub shas: Vec<ShaRefs>,
    digests: Digests,
    rows: RowIndex,
}

impl Census {
    /// Reads items and links: two sequential scans.
    pub fn read(db: Db<'_>) -> Result<Census> {
        let mut census = Census {
            items: Vec::new(),
            links: Vec::new(),
            shas: Vec::new(),
            digests: Digests::default(),
            rows: RowIndex::Search,
        };
        let fail = db.err("reading the registry for gc");
        let mut st = db
            .conn
            .prepare(
                "SELECT id, status, pinned, size, sha256, updated, accessed, created, lease_expires
                 FROM items ORDER BY id",
            )
            .map_err(&fail)?;
        let mut rows = st.query([]).map_err(&fail)?;
        while let Some(r) = rows.next().map_err(&fail)? {
            let status = r
                .get_ref(1)
                .map_err(&fail)?
                .as_bytes()
                .map_err(|e| fail(e.into()))?;
            let status = Status::ALL
                .into_iter()
                .find(|s| s.as_str().as_bytes() == status);
            let size: Option<i64> = r.get(3).map_err(&fail)?;
            let sha = match r.get_ref(4).map_err(&fail)? {
                ValueRef::Null => NO_SHA,
                v => {
                    let sha = census.intern(v.as_str().map_err(|e| fail(e.into()))?)?;
                    let refs = &mut census.shas[sha as usize];
                    refs.items += 1;
                    refs.item_max = refs.item_max.max(size);
                    sha
                }
            };
            census.items.push(ItemRow {
                id: r.get(0).map_err(&fail)?,
                status,
                pinned: r.get::<_, i64>(2).map_err(&fail)? != 0,
                size,
                sha,
                updated: r.get(5).map_err(&fail)?,
                accessed: r.get(6).map_err(&fail)?,
                created: r.get(7).map_err(&fail)?,
                lease_expires: r.get(8).map_err(&fail)?,
            });
        }
        drop(rows);
        drop(st);
        census.rows = RowIndex::new(&census.items);

        let mut st = db
            .conn
            .prepare("SELECT item_id, sha256, size FROM links ORDER BY item_id, sha256")
            .map_err(&fail)?;
        let mut rows = st.query([]).map_err(&fail)?;
        while let Some(r) = rows.next().map_err(&fail)? {
            let item_id: i64 = r.get(0).map_err(&fail)?;
            let size: Option<i64> = r.get(2).map_err(&fail)?;
            let sha = census.intern(
                r.get_ref(1)
                    .map_err(&fail)?
                    .as_str()
                    .map_err(|e| fail(e.into()))?,
            )?;
            let pinned = census
                .row_of(item_id)
                .is_some_and(|row| census.items[row].pinned);
            let refs = &mut census.shas[sha as usize];
            refs.links += 1;
            refs.link_max = refs.link_max.max(size);
            refs.pinned |= pinned;
            census.links.push(LinkRow { item_id, sha, size });
        }
        Ok(census)
    }

    fn intern(&mut self, sha: &str) -> Result<ShaId> {
        let next = ShaId::try_from(self.shas.len())
            .ok()
            .filter(|&n| n != NO_SHA)
            .ok_or_else(|| Error::invalid("registry", "too many distinct blobs to plan a gc"))?;
        let id = self.digests.intern(sha, next);
        if id == next {
            self.shas.push(ShaRefs::default());
        }
        Ok(id)
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

    /// The links of the item at `row`, by digest.
    pub fn links_of(&self, row: usize) -> &[LinkRow] {
        let id = self.items[row].id;
        let start = self.links.partition_point(|l| l.item_id < id);
        let end = start + self.links[start..].partition_point(|l| l.item_id == id);
        &self.links[start..end]
    }

    /// Pinned, or holding content a pinned manifest links to.
    pub fn protected(&self, row: &ItemRow) -> bool {
        row.pinned || (row.sha != NO_SHA && self.shas[row.sha as usize].pinned)
    }

    /// Bytes the cache holds: distinct blobs of items plus blobs only manifests link to
    /// (each at the largest size recorded for it).
    pub fn usage(&self) -> u64 {
        let total: i64 = self
            .shas
            .iter()
            .map(|s| {
                if s.items > 0 {
                    s.item_max.unwrap_or(0)
                } else {
                    s.link_max.unwrap_or(0)
                }
            })
            .fold(0i64, i64::saturating_add);
        total.max(0) as u64
    }

    /// The digest `sha` as stored.
    pub fn sha_name(&self, sha: ShaId) -> String {
        self.digests.name(sha)
    }

    /// Whether anything in the registry references the blob with this digest.
    pub fn referenced(&self, digest: &[u8; 32]) -> bool {
        self.digests.hex.contains_key(digest)
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

/// Distinct digests, numbered in the order first seen. Proper ones (64 lower-case hex
/// digits) are kept as 32 bytes; anything else stored in the column keeps its text.
#[derive(Default)]
struct Digests {
    hex: HashMap<[u8; 32], ShaId, BuildHasherDefault<DigestHasher>>,
    other: HashMap<String, ShaId>,
    names: Vec<[u8; 32]>,
    other_names: HashMap<ShaId, String>,
}

impl Digests {
    /// The number of `sha`, which becomes `next` if it is new.
    fn intern(&mut self, sha: &str, next: ShaId) -> ShaId {
        match decode_digest(sha.as_bytes()) {
            Some(digest) => *self.hex.entry(digest).or_insert_with(|| {
                self.names.push(digest);
                next
            }),
            None => *self.other.entry(sha.to_owned()).or_insert_with(|| {
                self.names.push([0; 32]);
                self.other_names.insert(next, sha.to_owned());
                next
            }),
        }
    }

    fn name(&self, sha: ShaId) -> String {
        match self.other_names.get(&sha) {
            Some(name) => name.clone(),
            None => self
                .names
                .get(sha as usize)
                .map(|d| hex(d))
                .unwrap_or_default(),
        }
    }
}

/// 64 lower-case hex digits as 32 bytes.
pub(super) fn decode_digest(hex: &[u8]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    (hex.len() == 64 && decode_hex(hex, &mut out)).then_some(out)
}

/// Decodes lower-case hex into `out` (exactly twice its length); false on anything else.
pub(super) fn decode_hex(hex: &[u8], out: &mut [u8]) -> bool {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    if hex.len() != out.len() * 2 {
        return false;
    }
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        match (digit(pair[0]), digit(pair[1])) {
            (Some(hi), Some(lo)) => *byte = (hi << 4) | lo,
            _ => return false,
        }
    }
    true
}

/// Digests are already uniformly distributed: their first eight bytes make the hash.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(29) ^ u64::from_le_bytes(word);
    }
}
