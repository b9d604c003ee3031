//! One read of the registry for planning: every item's status, times, size and blob, and
//! every manifest link, with each distinct blob digest numbered once. Pins, reference
//! counts, usage and orphan detection all work from it in memory, so planning asks SQLite
//! nothing per item.

use std::borrow::Cow;
use std::collections::HashMap;

use rusqlite::Connection;
use rusqlite::types::FromSqlError;

use super::PlannedKey;
use crate::error::Result;
use crate::registry::Db;
use crate::status::Status;

mod numbering;
mod rows;
mod scan;

pub(super) use numbering::{BUCKETS, ByFirstByte, Runs};
use numbering::{Digested, Numbering, Owner, RecordedSize};
pub(super) use rows::Rows;
use scan::{Part, on_every_connection};

/// The number of a distinct blob digest in a [`Census`].
pub(super) type ShaId = u32;

/// An item without content.
pub(super) const NO_SHA: ShaId = ShaId::MAX;

/// What planning needs of an item. Its URI is in its part's text (see [`Rows`]).
pub(super) struct ItemRow {
    pub id: i64,
    pub version: i64,
    /// Its key, as the digest keys are (zero for one that is not: see [`Census::key`]).
    pub key: [u8; 32],
    /// Where its URI starts in its part's text (its length is `uri_len`: see [`Rows`]).
    uri_at: usize,
    /// Its content's size in bytes (none, or a negative one, counts as 0).
    pub size: u64,
    pub updated: i64,
    /// When it was last used: accessed, or if never (see `accessed`), created.
    last_use: i64,
    uri_len: u32,
    pub sha: ShaId,
    /// Which of the census's manifests it is, if it has links: [`NO_LINKS`] if not.
    pub links: u32,
    /// `None` for a status this build does not know: no policy matches it.
    pub status: Option<Status>,
    pub pinned: bool,
    /// Whether it was ever accessed (so `last_use` is when).
    accessed: bool,
}

/// An item without links.
pub(super) const NO_LINKS: u32 = u32::MAX;

/// A READY item's key, version and row: what keep-last ranks.
pub(super) type Version = ([u8; 32], i64, usize);

impl ItemRow {
    /// When it was last used: accessed, or if never, created.
    pub fn last_use(&self) -> i64 {
        self.last_use
    }

    /// When it was last accessed, if ever.
    pub fn accessed(&self) -> Option<i64> {
        self.accessed.then_some(self.last_use)
    }
}

/// A manifest's link to a blob.
pub(super) struct LinkRow {
    pub item_id: i64,
    pub sha: ShaId,
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
    /// Every item, by ascending id, with its URI.
    pub items: Rows,
    /// The keys that are no digest, by row (none, unless the registry was edited by hand).
    odd_keys: HashMap<usize, String>,
    /// The notes of FAILED items, by row (the only ones plans show).
    notes: HashMap<usize, String>,
    /// When the writers' leases of WRITE items expire, by row (the only items whose
    /// lease anything looks at: a few, where an ItemRow field would cost every item).
    leases: HashMap<usize, i64>,
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
    sha_sizes: Vec<(RecordedSize, RecordedSize)>,
    /// The proper digests (64 lower-case hex digits), ascending: `ShaId` 0, 1, …
    digests: Vec<[u8; 32]>,
    /// The other values, numbered after the digests.
    other_names: Vec<String>,
    rows: RowIndex,
    /// When asked for: every READY item's [`Version`], by its key's first byte, each
    /// bucket sorted. Gathered while the rows are read.
    pub versions: Option<Runs<Version>>,
}

impl Census {
    /// Reads every item and link (two sequential scans, the items' shared out among
    /// `twins` and `db`'s connection, all in one snapshot); with `only`, just the items in
    /// those statuses, and the digests of the others from the digest index (the census
    /// then knows nothing of their sizes: [`Census::usage`] needs every item). With
    /// `versions`, it gathers [`Census::versions`] too.
    pub fn read(
        db: Db<'_>,
        twins: &mut [Connection],
        only: Option<&[Status]>,
        versions: bool,
    ) -> Result<Census> {
        let fail = db.err("reading the registry for gc");
        // Two subqueries: each is one step down the table's tree, where `min(id), max(id)`
        // in one query reads every row.
        let (first, last, bytes): (Option<i64>, Option<i64>, i64) = db
            .conn
            .query_row(
                "SELECT (SELECT min(id) FROM items), (SELECT max(id) FROM items),
                        (SELECT page_count FROM pragma_page_count())
                        * (SELECT page_size FROM pragma_page_size())",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(&fail)?;
        let (first, last) = (first.unwrap_or(0), last.unwrap_or(-1));
        // Ids are allocated in order, so their span is a good guess at the count. It is
        // only a hint, for reserving memory: capped by what the file could hold (a row
        // takes more than 64 bytes), in case the ids are sparse.
        let span = last.saturating_sub(first).saturating_add(1).max(0);
        let expected = usize::try_from(span.min(bytes / 64)).unwrap_or(0);
        let mut census = Census {
            items: Rows::default(),
            odd_keys: HashMap::new(),
            notes: HashMap::new(),
            leases: HashMap::new(),
            manifests: Vec::new(),
            links: Vec::new(),
            shas: Vec::new(),
            sha_pinned: Vec::new(),
            sha_sizes: Vec::new(),
            digests: Vec::new(),
            other_names: Vec::new(),
            rows: RowIndex::Search,
            versions: versions.then(Runs::new),
        };
        let mut numbering = Numbering::new(0);
        // One range of ids per connection, the first on this one; the first range is open
        // below, the last above.
        let parts = twins.len() + 1;
        let cut = |i: usize| match i {
            0 => i64::MIN,
            i => first.saturating_add(span / parts as i64 * i as i64),
        };
        // Each status once, in a fixed order.
        let statuses = only.map(|only| {
            let mut statuses = only.to_vec();
            statuses.sort_unstable();
            statuses.dedup();
            statuses
        });
        let sql = |last_part: bool| {
            let range = if last_part {
                "id >= ?1"
            } else {
                "id >= ?1 AND id < ?2"
            };
            let columns = format!(
                "SELECT id, status, pinned, size, sha256, updated, accessed, created,
                        lease_expires, key, version, uri, note
                 FROM items WHERE {range}"
            );
            match statuses.as_deref() {
                None => format!("{columns} ORDER BY id"),
                // The statuses' own names (no input goes into the SQL); an empty list
                // matches nothing.
                Some([]) => format!("{columns} AND status IN () ORDER BY id"),
                // One status at a time, each in id order from the status index, merged:
                // where `status IN (…) ORDER BY id` would sort every row it reads.
                Some(statuses) => {
                    let arms: Vec<String> = (statuses.iter())
                        .map(|s| format!("{columns} AND status = '{}'", s.as_str()))
                        .collect();
                    format!("{} ORDER BY 1", arms.join(" UNION ALL "))
                }
            }
        };
        let (bounded, open) = (sql(false), sql(true));
        // Room for a part's share, and some (reserved memory is only touched as it fills).
        let room = expected / parts + expected / 16 + 16;
        let how = (only.is_none(), versions);
        let fail_sync: scan::Fail<'_> = &fail;
        let scanned = on_every_connection(db.conn, twins, |conn, i| {
            let range = [cut(i), cut(i + 1)];
            let (sql, range) = if i + 1 == parts {
                (&open, &range[..1])
            } else {
                (&bounded, &range[..])
            };
            Part::scan(conn, sql, range, room, how, fail_sync)
        });
        for part in scanned {
            census.append(part?, &mut numbering)?;
        }
        // Rows are numbered in a u32 from here on (picks, owners, the row index).
        Owner::check(census.items.len())?;
        census.rows = RowIndex::new(&census.items);
        if only.is_some() {
            // Every item's digest, from the digest index, a range of first digits each.
            let counted = on_every_connection(db.conn, twins, |conn, i| {
                scan::digests(conn, (i, parts), expected / parts, fail_sync)
            });
            for part in counted {
                numbering.append(part?, 0);
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
            // NULL is no text (the column forbids it): an error, as any other type is.
            let sha = (r.get_ref(1).and_then(Digested::read))
                .and_then(|sha| sha.ok_or_else(|| FromSqlError::InvalidType.into()))
                .map_err(&fail)?;
            numbering.add(sha, Owner::link(census.links.len())?, size);
            census.links.push(LinkRow {
                item_id,
                sha: NO_SHA,
                pinned: r.get::<_, i64>(3).map_err(&fail)? != 0,
            });
        }
        drop(rows);
        drop(st);
        // Keep-last's versions are sorted beside the numbering: neither needs the other.
        let mut gathered = census.versions.take();
        let sort = || gathered.as_mut().map(Runs::sort);
        let (numbered, _) = rayon::join(|| numbering.number(&mut census), sort);
        numbered?;
        census.versions = gathered;
        let mut start = 0;
        while start < census.links.len() {
            let id = census.links[start].item_id;
            let end = start + census.links[start..].partition_point(|l| l.item_id == id);
            if let Some(row) = census.row_of(id)
                && let Ok(at) = u32::try_from(census.manifests.len())
                && at != NO_LINKS
                && let Some(item) = census.items.get_mut(row)
            {
                item.links = at;
                census.manifests.push((start, end));
            }
            start = end;
        }
        Ok(census)
    }

    /// Only the rows, with their URIs, odd keys, notes and leases, and the digests: what a plan
    /// makes its items from. References, links and pins are let go (the plan has counted
    /// them), so only those may be asked of it.
    pub fn into_rows(self) -> Census {
        Census {
            items: self.items,
            odd_keys: self.odd_keys,
            notes: self.notes,
            leases: self.leases,
            digests: self.digests,
            manifests: Vec::new(),
            links: Vec::new(),
            shas: Vec::new(),
            sha_pinned: Vec::new(),
            sha_sizes: Vec::new(),
            other_names: Vec::new(),
            rows: RowIndex::Search,
            versions: None,
        }
    }

    /// The key of the item at `row`.
    pub fn key(&self, row: usize) -> Cow<'_, str> {
        match self.odd_keys.get(&row) {
            Some(key) => Cow::Borrowed(key),
            None => Cow::Owned(crate::key::hex(&self.items[row].key)),
        }
    }

    /// The key of the item at `row`, as a plan holds it.
    pub fn planned_key(&self, row: usize) -> PlannedKey {
        match self.odd_keys.get(&row) {
            Some(key) => PlannedKey::Text(key.clone()),
            None => PlannedKey::Digest(crate::key::Digest(self.items[row].key)),
        }
    }

    /// Whether every item's [`ItemRow::key`] is its key.
    pub fn keys_are_digests(&self) -> bool {
        self.odd_keys.is_empty()
    }

    /// The URI of the item at `row`.
    pub fn uri(&self, row: usize) -> &str {
        self.items.uri(row)
    }

    /// The note of the FAILED item at `row`, if it has one.
    pub fn failure_note(&self, row: usize) -> Option<&str> {
        self.notes.get(&row).map(String::as_str)
    }

    /// When the lease of the writer of the WRITE item at `row` expires, if it has one.
    pub fn lease_expires(&self, row: usize) -> Option<i64> {
        self.leases.get(&row).copied()
    }

    /// The position in `items` of the item with `id`.
    pub fn row_of(&self, id: i64) -> Option<usize> {
        match &self.rows {
            RowIndex::Dense { first, rows } => {
                let at = usize::try_from(id.checked_sub(*first)?).ok()?;
                rows.get(at)
                    .and_then(|&r| (r != u32::MAX).then_some(r as usize))
            }
            RowIndex::Search => self.items.find(id),
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
        let total: i64 = (0..self.shas.len())
            .map(|sha| self.recorded_size(sha))
            .fold(0i64, i64::saturating_add);
        total.max(0) as u64
    }

    /// The bytes that freeing blob `sha` takes off [`Census::usage`].
    pub fn blob_size(&self, sha: ShaId) -> u64 {
        self.recorded_size(sha as usize).max(0) as u64
    }

    /// The largest size the items holding blob `sha` record, or if none holds it, the
    /// links to it (sizes of one content can differ only by hand edits).
    fn recorded_size(&self, sha: usize) -> i64 {
        let (item_max, link_max) = self.sha_sizes[sha];
        if self.shas[sha].items > 0 {
            item_max.or_zero()
        } else {
            link_max.or_zero()
        }
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
    fn new(items: &Rows) -> RowIndex {
        let (Some(first), Some(last)) = (items.iter().next(), items.last()) else {
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
