//! `cachet preview` and `cachet cat`: look inside items, compressed or archived.

use std::io::Write;

use anyhow::{Result, bail};
use cachet::preview::{self, Layer, PreviewOpts};
use cachet::{Cache, Item};
use clap::Args;

use super::Global;
use super::output::{self, json_line};

#[derive(Args, Debug)]
pub struct PreviewArgs {
    /// An item id, a key prefix, KEY@VERSION, or a URI (of one key).
    #[arg(value_parser = super::lifecycle::non_blank)]
    pub item: String,
    /// A member of an archive item.
    #[arg(long, value_name = "PATH")]
    pub member: Option<String>,
    /// Show at most this many lines (or members).
    #[arg(long, default_value_t = 50)]
    pub lines: usize,
    /// Read at most this many decompressed bytes.
    #[arg(long, value_name = "N", default_value_t = 1 << 20)]
    pub bytes: u64,
}

#[derive(Args, Debug)]
pub struct CatArgs {
    /// An item id, a key prefix, KEY@VERSION, or a URI (of one key).
    #[arg(value_parser = super::lifecycle::non_blank)]
    pub item: String,
    /// Write this member of an archive item (decompressed).
    #[arg(long, value_name = "PATH", conflicts_with = "raw")]
    pub member: Option<String>,
    /// Write the stored bytes as they are (checked against the digest), without
    /// decompressing.
    #[arg(long)]
    pub raw: bool,
}

fn open_item(g: &Global, reference: &str) -> Result<(Cache, Item, std::path::PathBuf)> {
    let cache = g.open_to_read()?;
    let item = cache.resolve(reference, true)?;
    let path = cache.content_path(&item)?;
    Ok((cache, item, path))
}

pub fn preview(g: &Global, a: PreviewArgs) -> Result<()> {
    let (_cache, item, path) = open_item(g, &a.item)?;
    let hint = item.file_name().to_string();
    let opts = PreviewOpts {
        max_entries: a.lines,
        max_lines: a.lines,
        max_bytes: a.bytes,
        ..PreviewOpts::default()
    };
    let shown = match &a.member {
        Some(m) => preview::member(&path, Some(&hint), m, &opts)?,
        None => preview::open(&path, Some(&hint), &opts)?,
    };
    // A look is no use: it counts as an access neither here nor in the browser, so
    // checking an old item before a gc does not keep it from max-age. (`cat` and `get` do.)
    let mut out = output::stdout();
    if g.json {
        json_line(&mut out, &shown)?;
    } else {
        out.write_all(preview::render(&shown).as_bytes())?;
    }
    out.flush()?;
    if let Some(err) = &shown.error {
        bail!("{err} (item {}, shown up to where it broke)", item.id);
    }
    Ok(())
}

pub fn cat(g: &Global, a: CatArgs) -> Result<()> {
    let (cache, item, path) = open_item(g, &a.item)?;
    let hint = item.file_name().to_string();
    let layers = preview::sniff(&path, Some(&hint))?.layers;
    // Plain content, and a zip, go out as stored (checked against the digest in the same
    // pass) unless a member is asked for: then the archive is opened, and plain content
    // says it has none.
    let as_stored =
        a.member.is_none() && (layers.is_empty() || layers.first() == Some(&Layer::Zip));
    output::to_stdout(|out| {
        if a.raw || as_stored {
            cache.copy_content(&item, out)?;
        } else {
            // Decompressing reads the blob on its own terms: check the digest first.
            if let Some(sha) = &item.sha256 {
                cache.blobs().verify(sha)?;
            }
            preview::copy_out(&path, Some(&hint), a.member.as_deref(), out, None)?;
        }
        Ok(())
    })?;
    output::record_access(&cache, item.id)?;
    Ok(())
}
