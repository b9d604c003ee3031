//! Copying an item's or a member's decompressed bytes out, for `cachet cat`.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::archive::{Member, MemberKind, name_matches};
use super::format::{Format, Layer, peel};
use super::limits::{Metered, Stop};
use super::tar::{EntryData, TarStream};
use super::walk::{find_zip_record, not_found};
use super::{Item, describe, nested_zip, start, tar_hint, whole_stream, zip};
use crate::error::{Error, Result};

/// Writes the item's decompressed content to `out` (every compression layer removed; a
/// tar comes out as a tar), or with `member`, that member's data as stored in the
/// archive. Returns the number of bytes written. No size limits apply; `cancel` stops it.
pub fn copy_out(
    path: &Path,
    name_hint: Option<&str>,
    member: Option<&str>,
    out: &mut dyn Write,
    cancel: Option<Arc<AtomicBool>>,
) -> Result<u64> {
    let item = Item::new(path, name_hint);
    let (file, head, zip) = start(&item)?;
    if zip {
        let Some(wanted) = member else {
            return Err(Error::invalid(
                &item.name,
                "a zip archive: name a member to copy out",
            ));
        };
        let (dir, entry) = find_zip_record(&item, file, wanted, cancel.as_deref())?;
        let entry = entry.ok_or_else(|| not_found(&item, wanted))?;
        let m = Member::from_zip(&entry);
        if m.kind == MemberKind::Dir {
            return Err(Error::invalid(wanted, "is a directory"));
        }
        let data = zip::open_member(item.open()?, &dir, &entry)
            .map_err(|e| item.err(Some(&m.path), describe(&e)))?;
        return pump(&item, Some(&m.path), data, out, cancel);
    }
    let peeled = peel(whole_stream(file, head), tar_hint(&item.name))
        .map_err(|failed| item.err(None, describe(&failed.error)))?;
    let Some(wanted) = member else {
        return pump(&item, None, peeled.reader, out, cancel);
    };
    match peeled.layers.last() {
        Some(Layer::Tar) => {}
        Some(Layer::Zip) => {
            return Err(nested_zip(
                &item,
                &Format {
                    layers: peeled.layers,
                },
            ));
        }
        _ => {
            return Err(Error::invalid(
                &item.name,
                "not an archive, it has no members",
            ));
        }
    }
    let (reader, meter) = Metered::new(peeled.reader, u64::MAX, cancel.clone());
    let mut tar = TarStream::new(reader);
    loop {
        match tar.next_entry() {
            Ok(Some(e)) if name_matches(&e.path, wanted) => {
                let m = Member::from_tar(&e);
                if m.kind != MemberKind::File {
                    return Err(Error::invalid(
                        wanted,
                        format!("is {}, not a file", m.kind.noun()),
                    ));
                }
                return pump(
                    &item,
                    Some(&m.path),
                    Box::new(EntryData(&mut tar)),
                    out,
                    cancel,
                );
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err(not_found(&item, wanted)),
            Err(e) => {
                if meter.stopped() == Some(Stop::Cancelled) {
                    return Err(Error::Cancelled);
                }
                return Err(item.err(Some(wanted), format!("looking for it: {}", describe(&e))));
            }
        }
    }
}

/// Copies `data` to `out`, checking the cancel flag between blocks.
fn pump(
    item: &Item,
    member: Option<&str>,
    data: Box<dyn Read + '_>,
    out: &mut dyn Write,
    cancel: Option<Arc<AtomicBool>>,
) -> Result<u64> {
    let (mut data, meter) = Metered::new(data, u64::MAX, cancel);
    crate::blob::copy_into(&mut data, out, |e, total| {
        if meter.stopped() == Some(Stop::Cancelled) {
            return Error::Cancelled;
        }
        item.err(member, format!("{} (after {total} bytes)", describe(&e)))
    })
}
