//! Numbering the digests the census read: every reference (an item's content, a
//! manifest's link) is gathered as it comes, in buckets by first byte, by each part of the
//! scan on its own; once all are in, the buckets are sorted and walked in order, the
//! parts' merged, so each distinct digest gets its number without a lookup per reference.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::Relaxed;

use rayon::prelude::*;
use rusqlite::types::{FromSqlError, ValueRef};

use super::{Census, LinkRow, NO_SHA, ShaId, ShaRefs, Version};
use crate::error::{Error, Result};
use crate::key::{blob_digest, decode_digest};

/// What a census records of each digest, or of a stretch of them (a bucket's), to be
/// filled in as references are taken.
struct Tally<'a> {
    refs: &'a mut [ShaRefs],
    pinned: &'a mut [bool],
    sizes: &'a mut [(RecordedSize, RecordedSize)],
}

impl<'a> Tally<'a> {
    /// The first `n` digests' stretch, and the rest.
    fn split(self, n: usize) -> (Tally<'a>, Tally<'a>) {
        let (refs, more_refs) = self.refs.split_at_mut(n);
        let (pinned, more_pinned) = self.pinned.split_at_mut(n);
        let (sizes, more_sizes) = self.sizes.split_at_mut(n);
        let stretch = Tally {
            refs,
            pinned,
            sizes,
        };
        let rest = Tally {
            refs: more_refs,
            pinned: more_pinned,
            sizes: more_sizes,
        };
        (stretch, rest)
    }

    /// Records that `owner`, of `size`, references the digest at `at` here, numbered
    /// `sha`. Items' digests are noted in `item_shas`, by row, and links' in `linked`:
    /// references come in digest order, and the rows and links are not this stretch's.
    fn assign(
        &mut self,
        at: usize,
        sha: ShaId,
        (owner, size): (Owner, RecordedSize),
        to: &mut Owners<'_>,
    ) {
        match owner {
            Owner::Item(row) => {
                if let Some(item) = to.item_shas.get(row as usize) {
                    item.store(sha, Relaxed);
                }
                self.refs[at].items += 1;
                let max = &mut self.sizes[at].0;
                *max = (*max).max(size);
            }
            Owner::Row(row) => {
                if let Some(item) = to.item_shas.get(row as usize) {
                    item.store(sha, Relaxed);
                }
            }
            Owner::Counted => self.refs[at].items += 1,
            Owner::Link(link) => {
                to.linked.push((link, sha));
                self.refs[at].links += 1;
                let max = &mut self.sizes[at].1;
                *max = (*max).max(size);
                self.pinned[at] |= to.links.get(link as usize).is_some_and(|l| l.pinned);
            }
        }
    }
}

/// Where [`Tally::assign`] notes whose each digest is.
struct Owners<'a> {
    /// By row: the number of its digest.
    item_shas: &'a [AtomicU32],
    /// The census's links (read for their pins).
    links: &'a [LinkRow],
    /// Links and the numbers of their digests.
    linked: Vec<(u32, ShaId)>,
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

    /// The owner as numbered in a census whose part that read it begins at row `start`
    /// (checked to fit with all its rows: see [`Owner::check`]).
    fn shifted(self, start: u32) -> Owner {
        match self {
            Owner::Item(row) => Owner::Item(row + start),
            Owner::Row(row) => Owner::Row(row + start),
            other => other,
        }
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
type Ref<T> = (T, Owner, RecordedSize);

/// A size a reference records, in 8 bytes where an `Option<i64>` takes 16 (there is one
/// in every reference, and two for every digest): none is below every size, so the
/// largest of several is as with `Option`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct RecordedSize(i64);

impl RecordedSize {
    pub(super) const NONE: RecordedSize = RecordedSize(i64::MIN);

    fn new(size: Option<i64>) -> RecordedSize {
        // `i64::MIN` itself (only a hand edit records a negative size) is taken as one
        // more, so that it still counts as a size, as `Cache::usage_totals` counts it.
        size.map_or(RecordedSize::NONE, |size| {
            RecordedSize(size.max(i64::MIN + 1))
        })
    }

    /// The size, or 0 for none.
    pub(super) fn or_zero(self) -> i64 {
        if self == RecordedSize::NONE {
            0
        } else {
            self.0
        }
    }
}

/// A value a part of the scan gathers: it leads with a digest, and is ordered by it first
/// (as a tuple whose first field is the digest is), and it names a row of that part.
pub(in crate::gc) trait LeadingDigest: Ord + Copy {
    fn digest(&self) -> &[u8; 32];

    /// The value with its row counted from the census's first, where its part begins at
    /// row `start` (checked to fit with all its rows: see [`Owner::check`]).
    fn shifted(self, start: u32) -> Self;
}

impl LeadingDigest for Ref<[u8; 32]> {
    fn digest(&self) -> &[u8; 32] {
        &self.0
    }

    fn shifted(self, start: u32) -> Self {
        (self.0, self.1.shifted(start), self.2)
    }
}

impl LeadingDigest for Version {
    fn digest(&self) -> &[u8; 32] {
        &self.0
    }

    fn shifted(self, start: u32) -> Self {
        (self.0, self.1, self.2 + start as usize)
    }
}

/// Values that lead with a digest, put in 256 buckets by its first byte as they come (by
/// the threads that read the rows). Once all are in, only each bucket needs
/// sorting, on every core, and the buckets in order are the whole, sorted. A bucket fits
/// in the processor's caches, where one sort of the whole list would go to memory at
/// every level.
pub(in crate::gc) struct ByFirstByte<T>([Vec<T>; BUCKETS]);

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

    /// Sorts every bucket.
    pub(in crate::gc) fn sort(&mut self)
    where
        T: LeadingDigest,
    {
        self.0
            .par_iter_mut()
            .for_each(|bucket| bucket.sort_unstable_by(in_order));
    }
}

/// The order of values that lead with a digest (`T`'s own): by the digest's first eight
/// bytes as a number first, which tells nearly every two apart, then in full, where
/// comparing the digests' bytes each time was a call to `memcmp` per comparison.
fn in_order<T: LeadingDigest>(a: &T, b: &T) -> Ordering {
    let lead = |v: &T| {
        let d = v.digest();
        u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    };
    lead(a).cmp(&lead(b)).then_with(|| a.cmp(b))
}

/// Values gathered in buckets by the parts of a scan, each part's with the row it begins
/// at. Each part's buckets are sorted on their own and read out merged, bucket by bucket:
/// no part is ever copied into another.
pub(in crate::gc) struct Runs<T>(Vec<(ByFirstByte<T>, u32)>);

impl<T: LeadingDigest + Send> Runs<T> {
    pub(super) fn new() -> Self {
        Runs(Vec::new())
    }

    /// Adds the values of a part that begins at row `start`.
    pub(super) fn push(&mut self, part: ByFirstByte<T>, start: u32) {
        self.0.push((part, start));
    }

    /// Sorts every part's buckets.
    pub(in crate::gc) fn sort(&mut self) {
        for (part, _) in &mut self.0 {
            part.sort();
        }
    }

    /// Calls `f` with every value in bucket `bucket` (of [`BUCKETS`]) in order (after
    /// [`Runs::sort`]), the parts' merged, each [`LeadingDigest::shifted`] by the row its
    /// part begins at.
    pub(in crate::gc) fn merged(&self, bucket: usize, mut f: impl FnMut(T)) {
        let mut heads: Vec<(&[T], u32)> = (self.0.iter())
            .filter_map(|(part, start)| Some((part.0.get(bucket)?.as_slice(), *start)))
            .filter(|(run, _)| !run.is_empty())
            .collect();
        while heads.len() > 1 {
            let head = |(run, start): &(&[T], u32)| run[0].shifted(*start);
            let (mut least, mut value) = (0, head(&heads[0]));
            for (i, other) in heads.iter().enumerate().skip(1) {
                let other = head(other);
                if in_order(&other, &value).is_lt() {
                    (least, value) = (i, other);
                }
            }
            f(value);
            let (run, _) = &mut heads[least];
            *run = &run[1..];
            if run.is_empty() {
                heads.swap_remove(least);
            }
        }
        // The rest of the last run, as it is.
        for (run, start) in heads {
            run.iter().for_each(|&value| f(value.shifted(start)));
        }
    }
}

/// The number of buckets values are put in (see [`ByFirstByte`]).
pub(in crate::gc) const BUCKETS: usize = 256;

/// The digests as read, numbered once all are in: sorted rather than looked up one by one.
pub(super) struct Numbering {
    /// The proper digests gathered here (a manifest's links, say).
    hex: ByFirstByte<Ref<[u8; 32]>>,
    /// Those the parts of the scan gathered (see [`Numbering::append`]).
    parts: Runs<Ref<[u8; 32]>>,
    other: Vec<Ref<String>>,
}

impl Numbering {
    /// Room for about `expected` references: only reserved (see [`ByFirstByte::new`]).
    pub(super) fn new(expected: usize) -> Numbering {
        Numbering {
            hex: ByFirstByte::new(expected),
            parts: Runs::new(),
            other: Vec::new(),
        }
    }

    pub(super) fn add(&mut self, sha: Digested<'_>, owner: Owner, size: Option<i64>) {
        let size = RecordedSize::new(size);
        match sha {
            Digested::Digest(digest) => self.hex.push(digest[0], (digest, owner, size)),
            Digested::Other(name) => self.other.push((name.to_owned(), owner, size)),
        }
    }

    /// Takes in the references a part gathered, whose rows begin at `start` (checked to
    /// fit with all of them: see [`Owner::check`]).
    pub(super) fn append(&mut self, part: Numbering, start: u32) {
        self.parts.push(part.hex, start);
        for (run, at) in part.parts.0 {
            self.parts.push(run, at + start);
        }
        for (name, owner, size) in part.other {
            self.other.push((name, owner.shifted(start), size));
        }
    }

    /// Numbers proper digests in ascending order, then the rest, and counts references.
    /// Each bucket of digests is numbered on its own, on every core: first how many
    /// distinct ones each holds, which says the number each begins at.
    pub(super) fn number(self, census: &mut Census) -> Result<()> {
        let Numbering {
            mut hex,
            mut parts,
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
        parts.push(hex, 0);
        parts.sort();
        let distinct: Vec<usize> = (0..BUCKETS)
            .into_par_iter()
            .map(|bucket| {
                let (mut n, mut last) = (0, None);
                parts.merged(bucket, |(digest, ..)| {
                    if last != Some(digest) {
                        (n, last) = (n + 1, Some(digest));
                    }
                });
                n
            })
            .collect();
        let proper: usize = distinct.iter().sum();
        // The other values, numbered after the digests in the order first met.
        let mut names: HashMap<&str, usize> = HashMap::new();
        for (name, ..) in &rest {
            let next = names.len();
            names.entry(name).or_insert(next);
        }
        let total = proper + names.len();
        ShaId::try_from(total)
            .ok()
            .filter(|&n| n != NO_SHA)
            .ok_or_else(|| Error::invalid("registry", "too many distinct blobs to plan a gc"))?;
        census.shas = vec![ShaRefs::default(); total];
        census.sha_pinned = vec![false; total];
        census.sha_sizes = vec![(RecordedSize::NONE, RecordedSize::NONE); total];
        census.digests = vec![[0; 32]; proper];
        let item_shas: Vec<AtomicU32> = (0..census.items.len())
            .map(|_| AtomicU32::new(NO_SHA))
            .collect();
        let links = &census.links;
        let owners = || Owners {
            item_shas: &item_shas,
            links,
            linked: Vec::new(),
        };
        let mut tally = Tally {
            refs: &mut census.shas,
            pinned: &mut census.sha_pinned,
            sizes: &mut census.sha_sizes,
        };
        let mut digests = census.digests.as_mut_slice();
        let mut stretches = Vec::with_capacity(BUCKETS);
        let mut first = 0;
        for (bucket, &n) in distinct.iter().enumerate() {
            let (stretch, more) = tally.split(n);
            let (stretch_digests, more_digests) = std::mem::take(&mut digests).split_at_mut(n);
            stretches.push((bucket, first, stretch, stretch_digests));
            (tally, digests, first) = (more, more_digests, first + n);
        }
        let mut linked: Vec<Vec<(u32, ShaId)>> = stretches
            .into_par_iter()
            .map(|(bucket, first, mut tally, digests)| {
                let mut to = owners();
                let mut at: Option<usize> = None;
                parts.merged(bucket, |(digest, owner, size)| {
                    let i = match at {
                        Some(i) if digests.get(i) == Some(&digest) => i,
                        _ => at.map_or(0, |i| i + 1),
                    };
                    if let Some(slot) = digests.get_mut(i) {
                        *slot = digest;
                        at = Some(i);
                        // Within `total`, which fits (checked above).
                        let sha = (first + i) as ShaId;
                        tally.assign(i, sha, (owner, size), &mut to);
                    }
                });
                to.linked
            })
            .collect();
        // `tally` is now what follows the digests: the other values'.
        let mut to = owners();
        for (name, owner, size) in &rest {
            if let Some(&at) = names.get(name.as_str()) {
                tally.assign(at, (proper + at) as ShaId, (*owner, *size), &mut to);
            }
        }
        linked.push(to.linked);
        let mut other_names = vec![String::new(); names.len()];
        for (name, at) in names {
            other_names[at] = name.to_owned();
        }
        census.other_names = other_names;
        for (link, sha) in linked.into_iter().flatten() {
            if let Some(link) = census.links.get_mut(link as usize) {
                link.sha = sha;
            }
        }
        for (item, sha) in census.items.iter_mut().zip(item_shas) {
            item.sha = sha.into_inner();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{BUCKETS, ByFirstByte, Census, Runs};
    use crate::cache::Cache;
    use crate::registry::NewItem;
    use crate::status::Status;

    /// Three parts' values, some digests in two parts, most buckets empty in some part:
    /// read out bucket by bucket, they are every value once, in order, each part's rows
    /// shifted by where it begins.
    #[test]
    fn parts_are_read_out_merged_in_order() {
        let digest = |first: u8, last: u8| {
            let mut d = [0u8; 32];
            (d[0], d[31]) = (first, last);
            d
        };
        let mut runs = Runs::new();
        let mut expected = Vec::new();
        for (start, values) in [
            (0u32, vec![(7, 3), (7, 1), (200, 9), (0, 0)]),
            (4, vec![(7, 2), (200, 9), (255, 255)]),
            (7, vec![(7, 1), (1, 4)]),
        ] {
            let mut part = ByFirstByte::new(0);
            for (row, (first, last)) in (0usize..).zip(values) {
                let d = digest(first, last);
                part.push(first, (d, 0i64, row));
                expected.push((d, 0i64, row + start as usize));
            }
            runs.push(part, start);
        }
        runs.sort();
        let mut read = Vec::new();
        for bucket in 0..BUCKETS {
            runs.merged(bucket, |value| read.push(value));
        }
        expected.sort();
        assert_eq!(read, expected);
    }

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
            for r in census.items.iter() {
                let item = cache.get(r.id).unwrap();
                assert_eq!(census.digest(r.sha).map(|d| d.to_string()), item.sha256);
            }
        }
    }
}
