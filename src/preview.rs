//! Looking inside stored items without extracting them: format sniffing, archive member
//! listings, and bounded content windows (text, hex, JSON, tables).
//!
//! Every entry point streams and stops at [`PreviewOpts`]' limits, and checks the cancel
//! flag between entries and blocks, so a zip bomb, a huge archive or a stale request never
//! hangs or exhausts memory. Hitting a limit fills [`Preview::truncated`]; it is not an
//! error. Corrupt or truncated data is not an error either: the [`Preview`] carries what
//! could be read and a message in [`Preview::error`] naming the item and the member. The
//! functions return `Err` only when there is nothing to show at all: the file cannot be
//! opened, the member does not exist, the request makes no sense, or it was cancelled.
//!
//! Member names are data: they are listed (with [`Member::unsafe_path`] and
//! [`Member::non_utf8`] flags), never joined to a path, and links are never followed.

mod archive;
mod content;
mod copy;
mod format;
mod limits;
mod render;
mod table;
mod tar;
mod walk;
mod width;
mod zip;

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;

pub use archive::{Member, MemberKind};
pub use content::{Content, HexRow, escape_controls, table_columns};
pub use copy::copy_out;
pub use format::{Format, Layer};
pub use limits::{Limit, PreviewOpts};
pub use render::{one_line, render};
pub use width::{cut, cut_start, fit, width};

use crate::error::{Error, IoResultExt, Result};
use format::{HEAD_LEN, content_name, hint_layers, peel, read_head};
use limits::{Meter, Metered, Stop};
use walk::{list_tar, list_zip, tar_member, zip_member};

/// What a preview shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    /// An archive's members, in stored order. `total` is the member count the archive
    /// declares, when it declares one (zip does; tar is only known by reading it all).
    Members {
        members: Vec<Member>,
        total: Option<u64>,
    },
    /// The first lines or bytes of a file or member, decompressed.
    Content { content: Content },
    /// Nothing to show: a directory or link member, or data that could not be read.
    Nothing,
}

/// The result of [`open`] or [`member`]: possibly partial, never silently so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preview {
    /// The item's name (the name hint, or the file name).
    pub name: String,
    /// Layers from the outside in, including those of the member's own data:
    /// `[gzip, tar]`, or `[zip, gzip]` for a `.csv.gz` member of a zip.
    pub format: Format,
    /// The member previewed, for [`member`].
    pub member: Option<Member>,
    pub body: Body,
    /// Set when a limit stopped the preview early.
    pub truncated: Option<Limit>,
    /// Set when reading failed; `body` holds what was read before.
    pub error: Option<String>,
    /// Things worth knowing that are not errors (a name that disagrees with the content).
    pub notes: Vec<String>,
}

/// The item being previewed, for error messages.
struct Item<'a> {
    path: &'a Path,
    name: String,
}

impl<'a> Item<'a> {
    fn new(path: &'a Path, name_hint: Option<&str>) -> Self {
        let name = match name_hint {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        Item { path, name }
    }

    fn open(&self) -> Result<File> {
        crate::blob::open_stored(self.path)
    }

    /// An [`Error::Archive`] naming the item (when its name is not the file's) and member.
    fn err(&self, member: Option<&str>, what: impl std::fmt::Display) -> Error {
        let file_name = self.path.file_name().map(|n| n.to_string_lossy());
        let mut message = String::new();
        if file_name.as_deref() != Some(self.name.as_str()) {
            message.push_str(&escape_controls(&self.name));
            message.push_str(": ");
        }
        if let Some(m) = member {
            message.push_str(&format!("member '{}': ", escape_controls(m)));
        }
        message.push_str(&what.to_string());
        Error::Archive {
            path: self.path.to_path_buf(),
            message,
        }
    }

    fn preview(&self) -> Preview {
        Preview {
            name: self.name.clone(),
            format: Format::default(),
            member: None,
            body: Body::Nothing,
            truncated: None,
            error: None,
            notes: Vec::new(),
        }
    }
}

/// Describes a read failure for a user.
fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => format!("truncated: {e}"),
        io::ErrorKind::Unsupported => format!("unsupported: {e}"),
        _ => format!("corrupt: {e}"),
    }
}

/// Turns a read failure into the preview's state: a limit, a cancel, or an error.
fn settle(p: &mut Preview, meter: &Meter, opts: &PreviewOpts, error: Error) -> Result<()> {
    match meter.stopped() {
        Some(Stop::Cancelled) => return Err(Error::Cancelled),
        Some(Stop::Budget) => {
            p.truncated
                .get_or_insert(Limit::MaxScanBytes(opts.max_scan_bytes));
        }
        None => p.error = Some(error.to_string()),
    }
    Ok(())
}

/// A file is handled as a zip when it starts like one, or when its name says zip and an
/// end-of-central-directory record is found (zips with bytes prepended).
fn is_zip(item: &Item, head: &[u8], file: &mut File) -> bool {
    match format::detect(head) {
        Some(Layer::Zip) => true,
        Some(_) => false,
        None => hint_layers(&item.name).last() == Some(&Layer::Zip) && zip::directory(file).is_ok(),
    }
}

/// Opens the item, reads its head, and says whether it is a zip. The file is left
/// positioned just after the head.
fn start(item: &Item) -> Result<(File, Vec<u8>, bool)> {
    let mut file = item.open()?;
    let head = read_head(&mut file, HEAD_LEN).at(item.path)?;
    let zip = !head.is_empty() && is_zip(item, &head, &mut file);
    file.seek(SeekFrom::Start(head.len() as u64))
        .at(item.path)?;
    Ok((file, head, zip))
}

fn whole_stream<'a>(file: File, head: Vec<u8>) -> Box<dyn Read + 'a> {
    Box::new(Cursor::new(head).chain(BufReader::with_capacity(64 * 1024, file)))
}

fn tar_hint(name: &str) -> bool {
    hint_layers(name).last() == Some(&Layer::Tar)
}

/// Detects the item's layers from its content (`name_hint`, or the file name, only
/// helps recognise an empty tar or a zip with bytes prepended). Plain content gives an
/// empty [`Format`]. A stream that fails to decode gives the layers recognised so far.
pub fn sniff(path: &Path, name_hint: Option<&str>) -> Result<Format> {
    let item = Item::new(path, name_hint);
    let (file, head, zip) = start(&item)?;
    if zip {
        return Ok(Format {
            layers: vec![Layer::Zip],
        });
    }
    let layers = match peel(whole_stream(file, head), tar_hint(&item.name)) {
        Ok(peeled) => peeled.layers,
        Err(failed) => failed.layers,
    };
    Ok(Format { layers })
}

/// Previews an item: an archive's member listing, or the content window of a file
/// (decompressed through every compression layer).
pub fn open(path: &Path, name_hint: Option<&str>, opts: &PreviewOpts) -> Result<Preview> {
    let item = Item::new(path, name_hint);
    if opts.cancelled() {
        return Err(Error::Cancelled);
    }
    let (file, head, zip) = start(&item)?;
    let mut p = item.preview();
    let hint = hint_layers(&item.name);
    if head.is_empty() {
        if hint.is_empty() {
            p.body = Body::Content {
                content: Content::Text {
                    lines: Vec::new(),
                    cut_lines: Vec::new(),
                },
            };
            p.notes.push("empty file".to_string());
        } else {
            let hint = Format { layers: hint };
            p.error = Some(
                item.err(None, format!("empty file, not {hint} data"))
                    .to_string(),
            );
        }
        return Ok(p);
    }
    if zip {
        list_zip(&item, file, opts, &mut p)?;
    } else {
        let name = content_name(&item.name).to_string();
        show_stream(&item, whole_stream(file, head), None, &name, opts, &mut p)?;
    }
    if !hint.is_empty() && !p.format.layers.starts_with(&hint) {
        let hint = Format { layers: hint };
        if p.format.is_plain() && p.error.is_none() {
            let msg = format!("the name says {hint}, but the content is not: shown as plain data");
            p.error = Some(item.err(None, msg).to_string());
        } else if !p.format.is_plain() {
            p.notes.push(format!(
                "the name suggests {hint}, the content is {}",
                p.format
            ));
        }
    }
    Ok(p)
}

/// Previews one member of an archive item: its content window (decompressed, and listed
/// if it is itself a tar), or its metadata for directories and links. `member_path` is a
/// [`Member::path`] from the listing (a leading `./` or trailing `/` may differ).
pub fn member(
    path: &Path,
    name_hint: Option<&str>,
    member_path: &str,
    opts: &PreviewOpts,
) -> Result<Preview> {
    let item = Item::new(path, name_hint);
    if opts.cancelled() {
        return Err(Error::Cancelled);
    }
    let (file, head, zip) = start(&item)?;
    let mut p = item.preview();
    if zip {
        zip_member(&item, file, member_path, opts, &mut p)?;
        return Ok(p);
    }
    let peeled = match peel(whole_stream(file, head), tar_hint(&item.name)) {
        Ok(peeled) => peeled,
        Err(failed) => {
            p.format.layers = failed.layers;
            p.error = Some(item.err(None, describe(&failed.error)).to_string());
            return Ok(p);
        }
    };
    p.format.layers.clone_from(&peeled.layers);
    if !p.format.is_archive() {
        return Err(Error::invalid(
            &item.name,
            format!(
                "not an archive (content is {}), it has no members",
                p.format
            ),
        ));
    }
    if p.format.layers.last() == Some(&Layer::Zip) {
        return Err(nested_zip(&item, &p.format));
    }
    let (reader, meter) = Metered::new(peeled.reader, opts.max_scan_bytes, opts.cancel.clone());
    tar_member(&item, reader, &meter, member_path, opts, &mut p)?;
    Ok(p)
}

fn nested_zip(item: &Item, format: &Format) -> Error {
    Error::Unsupported {
        what: format!(
            "{}: a zip inside {format} cannot be read without extracting it first",
            item.name
        ),
    }
}

/// Peels the compression layers off `stream` and shows what is inside: a tar listing or
/// a content window. `member` names the member for messages; `name` hints the type.
fn show_stream(
    item: &Item,
    stream: Box<dyn Read + '_>,
    member: Option<&str>,
    name: &str,
    opts: &PreviewOpts,
    p: &mut Preview,
) -> Result<()> {
    let peeled = match peel(stream, tar_hint(name)) {
        Ok(peeled) => peeled,
        Err(failed) => {
            // The stream broke within its first bytes: show those, with the error.
            p.format.layers.extend(failed.layers);
            p.error = Some(item.err(member, describe(&failed.error)).to_string());
            if !failed.partial.is_empty() {
                let mut partial = &failed.partial[..];
                let meter = Meter::default();
                return show_window(
                    item,
                    &mut partial,
                    &meter,
                    member,
                    content_name(name),
                    opts,
                    p,
                );
            }
            return Ok(());
        }
    };
    p.format.layers.extend(peeled.layers.iter().copied());
    let (mut reader, meter) = Metered::new(peeled.reader, opts.max_scan_bytes, opts.cancel.clone());
    match peeled.layers.last() {
        Some(Layer::Tar) => list_tar(item, &mut reader, &meter, member, opts, p),
        Some(Layer::Zip) => {
            p.error = Some(nested_zip(item, &p.format).to_string());
            show_window(item, &mut reader, &meter, member, "", opts, p)
        }
        _ => show_window(
            item,
            &mut reader,
            &meter,
            member,
            content_name(name),
            opts,
            p,
        ),
    }
}

fn show_window(
    item: &Item,
    reader: &mut dyn Read,
    meter: &Meter,
    member: Option<&str>,
    name: &str,
    opts: &PreviewOpts,
    p: &mut Preview,
) -> Result<()> {
    let w = content::read_window(reader, opts);
    let failed = w.error.is_some();
    if let Some(e) = &w.error {
        settle(p, meter, opts, item.err(member, describe(e)))?;
    }
    let (content, limit) = content::build(&w.bytes, name, w.limit.is_some() || failed, opts);
    p.truncated = p.truncated.or(w.limit).or(limit);
    p.body = Body::Content { content };
    Ok(())
}
