//! Walking archives: listing members, and finding one member's data, for tar streams
//! (read in order, stopping early) and zips (central directory records, one at a time).

use std::fs::File;
use std::io::Read;
use std::sync::atomic::AtomicBool;

use super::archive::{Member, MemberKind, name_matches};
use super::format::Layer;
use super::limits::{self, Limit, Meter, Metered, PreviewOpts};
use super::tar::{EntryData, TarStream};
use super::{Body, Item, Preview, describe, escape_controls, settle, show_stream, zip};
use crate::error::{Error, IoResultExt, Result};

pub(super) fn list_tar(
    item: &Item,
    reader: &mut dyn Read,
    meter: &Meter,
    member: Option<&str>,
    opts: &PreviewOpts,
    p: &mut Preview,
) -> Result<()> {
    let mut tar = TarStream::new(reader);
    let mut members: Vec<Member> = Vec::new();
    loop {
        if opts.cancelled() {
            return Err(Error::Cancelled);
        }
        if members.len() >= opts.max_entries {
            p.truncated = Some(Limit::MaxEntries(opts.max_entries));
            break;
        }
        match tar.next_entry() {
            Ok(Some(e)) => members.push(Member::from_tar(&e)),
            Ok(None) => break,
            Err(e) => {
                let what = match (member, members.last()) {
                    (_, Some(last)) => format!(
                        "after member '{}': {}",
                        escape_controls(&last.path),
                        describe(&e)
                    ),
                    (_, None) => describe(&e),
                };
                settle(p, meter, opts, item.err(member, what))?;
                break;
            }
        }
    }
    p.body = Body::Members {
        members,
        total: None,
    };
    Ok(())
}

pub(super) fn tar_member(
    item: &Item,
    reader: Metered<Box<dyn Read + '_>>,
    meter: &Meter,
    wanted: &str,
    opts: &PreviewOpts,
    p: &mut Preview,
) -> Result<()> {
    let mut tar = TarStream::new(reader);
    loop {
        if opts.cancelled() {
            return Err(Error::Cancelled);
        }
        match tar.next_entry() {
            Ok(Some(e)) if name_matches(&e.path, wanted) => {
                let m = Member::from_tar(&e);
                p.member = Some(m.clone());
                if m.kind == MemberKind::File {
                    show_stream(
                        item,
                        Box::new(EntryData(&mut tar)),
                        Some(&m.path),
                        &m.path,
                        opts,
                        p,
                    )?;
                }
                return Ok(());
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err(not_found(item, wanted)),
            Err(e) => {
                let what = format!("looking for it: {}", describe(&e));
                settle(p, meter, opts, item.err(Some(wanted), what))?;
                if p.error.is_none() {
                    p.notes.push(format!(
                        "member '{}' not found before the limit",
                        escape_controls(wanted)
                    ));
                }
                return Ok(());
            }
        }
    }
}

pub(super) fn not_found(item: &Item, wanted: &str) -> Error {
    Error::not_found(format!(
        "member '{}' in {}",
        escape_controls(wanted),
        escape_controls(&item.name)
    ))
}

pub(super) fn list_zip(
    item: &Item,
    mut file: File,
    opts: &PreviewOpts,
    p: &mut Preview,
) -> Result<()> {
    p.format.layers = vec![Layer::Zip];
    let dir = match zip::directory(&mut file) {
        Ok(dir) => dir,
        Err(e) => {
            p.error = Some(item.err(None, describe(&e)).to_string());
            return Ok(());
        }
    };
    let mut records = zip::Records::new(file, &dir).at(item.path)?;
    let mut members: Vec<Member> = Vec::new();
    loop {
        if opts.cancelled() {
            return Err(Error::Cancelled);
        }
        if members.len() >= opts.max_entries {
            if (members.len() as u64) < dir.entries {
                p.truncated = Some(Limit::MaxEntries(opts.max_entries));
            }
            break;
        }
        match records.next_record() {
            Ok(Some(e)) => members.push(Member::from_zip(&e)),
            Ok(None) => break,
            Err(e) => {
                let what = format!(
                    "central directory record {}: {}",
                    members.len() + 1,
                    describe(&e)
                );
                p.error = Some(item.err(None, what).to_string());
                break;
            }
        }
    }
    p.body = Body::Members {
        members,
        total: Some(dir.entries),
    };
    Ok(())
}

/// Finds a zip member's central record, scanning the directory (no index is built, so
/// memory stays flat whatever the member count).
pub(super) fn find_zip_record(
    item: &Item,
    mut file: File,
    wanted: &str,
    cancel: Option<&AtomicBool>,
) -> Result<(zip::Directory, Option<zip::ZipEntry>)> {
    let dir = zip::directory(&mut file).map_err(|e| item.err(None, describe(&e)))?;
    let mut records = zip::Records::new(file, &dir).at(item.path)?;
    let mut n = 0u64;
    loop {
        if limits::is_cancelled(cancel) {
            return Err(Error::Cancelled);
        }
        n += 1;
        match records.next_record() {
            Ok(Some(e)) if name_matches(&e.name, wanted) => return Ok((dir, Some(e))),
            Ok(Some(_)) => {}
            Ok(None) => return Ok((dir, None)),
            Err(e) => {
                let what = format!("central directory record {n}: {}", describe(&e));
                return Err(item.err(None, what));
            }
        }
    }
}

pub(super) fn zip_member(
    item: &Item,
    file: File,
    wanted: &str,
    opts: &PreviewOpts,
    p: &mut Preview,
) -> Result<()> {
    p.format.layers = vec![Layer::Zip];
    let (dir, entry) = match find_zip_record(item, file, wanted, opts.cancel.as_deref()) {
        Ok(found) => found,
        Err(e @ Error::Archive { .. }) => {
            p.error = Some(e.to_string());
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let Some(entry) = entry else {
        return Err(not_found(item, wanted));
    };
    let mut m = Member::from_zip(&entry);
    if m.kind == MemberKind::Dir {
        p.member = Some(m);
        return Ok(());
    }
    let data = match zip::open_member(item.open()?, &dir, &entry) {
        Ok(data) => data,
        Err(e) => {
            p.error = Some(item.err(Some(&m.path), describe(&e)).to_string());
            p.member = Some(m);
            return Ok(());
        }
    };
    if m.kind == MemberKind::Symlink {
        // A zip symlink's target is its data: read a little of it, show it, never follow it.
        let (mut data, meter) = Metered::new(data, 4096, opts.cancel.clone());
        let mut target = Vec::new();
        match data.read_to_end(&mut target) {
            Ok(_) => m.link_target = Some(String::from_utf8_lossy(&target).into_owned()),
            Err(e) => settle(p, &meter, opts, item.err(Some(&m.path), describe(&e)))?,
        }
        p.member = Some(m);
        return Ok(());
    }
    let name = m.path.clone();
    p.member = Some(m);
    show_stream(item, data, Some(&name), &name, opts, p)
}
