//! Numbering the digests the census read: every reference (an item's content, a
//! manifest's link) is gathered as it comes, in buckets by first byte; once all are in,
//! the buckets are sorted and walked in order, so each distinct digest gets its number
//! without a lookup per reference.

use std::collections::HashMap;

use rayon::prelude::*;
use rusqlite::types::{FromSqlError, ValueRef};

use super::{Census, NO_SHA, ShaId, ShaRefs};
use crate::error::{Error, Result};
use crate::key::{blob_digest, decode_digest};

impl Census {
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
}

/// Who references a digest: an item (by row) or a link (by index). When only some items
/// are read, theirs are `Row`s, and every item's reference is `Counted` from the index.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Owner {
    Item(u32),
    Row(u32),
    Counted,
    Link(u32),
}

impl Owner {
    pub(super) fn item(row: usize) -> Result<Owner> {
        Owner::check(row).map(Owner::Item)
    }

    pub(super) fn row(row: usize) -> Result<Owner> {
        Owner::check(row).map(Owner::Row)
    }

    pub(super) fn link(at: usize) -> Result<Owner> {
        Owner::check(at).map(Owner::Link)
    }

    pub(super) fn check(n: usize) -> Result<u32> {
        u32::try_from(n)
            .ok()
            .filter(|&n| n != u32::MAX)
            .ok_or_else(|| Error::invalid("registry", "too many items to plan a gc"))
    }
}

/// A value of a column that holds digests (an item's content or key, a link's content):
/// the digest when it is one, else its text.
pub(super) enum Digested<'a> {
    Digest([u8; 32]),
    Other(&'a str),
}

impl<'a> Digested<'a> {
    /// Reads a text value, `None` for NULL. It is decoded from its bytes and checked as
    /// UTF-8 only when it is no digest (hex digits are ASCII): millions of values are read
    /// per plan. Anything but text is an error.
    pub(super) fn read(value: ValueRef<'a>) -> rusqlite::Result<Option<Digested<'a>>> {
        let bytes = match value {
            ValueRef::Null => return Ok(None),
            ValueRef::Text(bytes) => bytes,
            _ => return Err(FromSqlError::InvalidType.into()),
        };
        Ok(Some(match decode_digest(bytes) {
            Some(digest) => Digested::Digest(digest),
            None => Digested::Other(std::str::from_utf8(bytes)?),
        }))
    }
}

/// A digest as read, who references it, and the size recorded with the reference.
type Ref<T> = (T, Owner, Option<i64>);

/// A value that leads with a digest, and is ordered by it first (as a tuple whose first
/// field is the digest is).
pub(in crate::gc) trait LeadingDigest: Ord {
    fn digest(&self) -> &[u8; 32];
}

impl<A: Ord, B: Ord> LeadingDigest for ([u8; 32], A, B) {
    fn digest(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Values that lead with a digest, put in 256 buckets by its first byte as they come (by
/// the threads that read the rows). Once all are in, only each bucket needs
/// sorting, on every core, and the buckets in order are the whole, sorted. A bucket fits
/// in the processor's caches, where one sort of the whole list would go to memory at
/// every level.
pub(in crate::gc) struct ByFirstByte<T>([Vec<T>; 256]);

impl<T: Ord + Send> ByFirstByte<T> {
    /// Room for about `expected` values: only reserved, so memory is touched as it fills.
    pub(super) fn new(expected: usize) -> Self {
        let per_bucket = expected / 256 + expected / 4096 + 16;
        ByFirstByte(std::array::from_fn(|_| Vec::with_capacity(per_bucket)))
    }

    /// Adds `value`, whose digest begins with `first_byte`.
    pub(super) fn push(&mut self, first_byte: u8, value: T) {
        self.0[usize::from(first_byte)].push(value);
    }

    /// Moves every value of `other` into the same bucket here, changed by `f` (which
    /// must leave its digest as it is).
    pub(super) fn append(&mut self, other: Self, f: impl Fn(T) -> T) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            mine.extend(theirs.into_iter().map(&f));
        }
    }

    /// Sorts every bucket.
    pub(in crate::gc) fn sort(&mut self)
    where
        T: LeadingDigest,
    {
        // By the digest's first eight bytes as a number first, which tells nearly every
        // two apart, then in full: the same order as `T`'s, where comparing the digests'
        // bytes each time was a call to `memcmp` per comparison.
        let lead = |v: &T| {
            let d = v.digest();
            u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
        };
        self.0.par_iter_mut().for_each(|bucket| {
            bucket.sort_unstable_by(|a, b| lead(a).cmp(&lead(b)).then_with(|| a.cmp(b)))
        });
    }

    /// The buckets, in order of first byte.
    pub(in crate::gc) fn buckets(&self) -> &[Vec<T>] {
        &self.0
    }

    pub(super) fn len(&self) -> usize {
        self.0.iter().map(Vec::len).sum()
    }

    /// Every value, in order of first byte (sorted, after [`ByFirstByte::sort`]).
    pub(super) fn into_values(self) -> impl Iterator<Item = T> {
        self.0.into_iter().flatten()
    }
}

/// The digests as read, numbered once all are in: sorted rather than looked up one by one.
pub(super) struct Numbering {
    /// The proper digests.
    hex: ByFirstByte<Ref<[u8; 32]>>,
    /// Digests only to be counted, read in ascending order from the digest index (so
    /// merged in, not sorted), when only some items are read in full.
    counted: Vec<[u8; 32]>,
    other: Vec<Ref<String>>,
}

impl Numbering {
    /// Room for about `expected` references: only reserved (see [`ByFirstByte::new`]).
    pub(super) fn new(expected: usize) -> Numbering {
        Numbering {
            hex: ByFirstByte::new(expected),
            counted: Vec::new(),
            other: Vec::new(),
        }
    }

    /// Room for about `expected` references to be counted, in ascending order.
    pub(super) fn counting(expected: usize) -> Numbering {
        Numbering {
            hex: ByFirstByte::new(0),
            counted: Vec::with_capacity(expected),
            other: Vec::new(),
        }
    }

    fn push_hex(&mut self, digest: [u8; 32], owner: Owner, size: Option<i64>) {
        self.hex.push(digest[0], (digest, owner, size));
    }

    pub(super) fn add(&mut self, sha: Digested<'_>, owner: Owner, size: Option<i64>) {
        match sha {
            Digested::Digest(digest) => self.push_hex(digest, owner, size),
            Digested::Other(name) => self.other.push((name.to_owned(), owner, size)),
        }
    }

    /// Adds a reference to be counted, from a list read in ascending order.
    pub(super) fn count(&mut self, sha: Digested<'_>) {
        match sha {
            // In order, as an index gives them (checked: any order stays correct).
            Digested::Digest(digest) if self.counted.last().is_none_or(|last| *last <= digest) => {
                self.counted.push(digest)
            }
            other => self.add(other, Owner::Counted, None),
        }
    }

    /// Moves in the references `other` gathered, their owners changed by `shift`. Its
    /// counted digests follow those here (as the digest index's ranges do).
    pub(super) fn append(&mut self, other: Numbering, shift: impl Fn(Owner) -> Owner) {
        (self.hex).append(other.hex, |(digest, owner, size)| {
            (digest, shift(owner), size)
        });
        (self.other).extend(
            (other.other.into_iter()).map(|(name, owner, size)| (name, shift(owner), size)),
        );
        self.counted.reserve(other.counted.len());
        for digest in other.counted {
            self.count(Digested::Digest(digest));
        }
    }

    /// Numbers proper digests in ascending order, then the rest, and counts references.
    pub(super) fn number(self, census: &mut Census) -> Result<()> {
        let Numbering {
            mut hex,
            counted,
            other,
        } = self;
        // A digest in capitals (edited by hand, or written by another tool) names the same
        // blob as in lower case (see `blob_digest`): counted as that digest, the blob is
        // no orphan, nor freed while something still holds it.
        let mut rest = Vec::new();
        for (name, owner, size) in other {
            match blob_digest(&name).and_then(|d| decode_digest(d.as_bytes())) {
                Some(digest) => hex.push(digest[0], (digest, owner, size)),
                None => rest.push((name, owner, size)),
            }
        }
        let other = rest;
        hex.sort();
        // At most one digest per reference: room for them all, so that the lists never
        // move as they grow.
        let most = hex.len().max(counted.len());
        census.shas.reserve(most);
        census.sha_pinned.reserve(most);
        census.sha_sizes.reserve(most);
        census.digests.reserve(most);
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
            let mut snapshot = cache.registry().snapshot(1).unwrap();
            let (db, twins) = snapshot.split();
            let census = Census::read(db, twins, only, false).unwrap();
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
