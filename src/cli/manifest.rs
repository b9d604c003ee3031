//! `cachet manifest …`: create, show, ls, cat, verify, append, compact, trash.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use cachet::manifest::{self, CreateOpts, Entries, Entry, Located, ReadOpts, ShardOpts};
use cachet::{Cache, Error, Item, NewItem};
use clap::{Args, Subcommand};

use super::Global;
use super::items::{ParamArgs, print_item_line};
use super::output::{self, count_of, human_size, json_line};

#[derive(Subcommand, Debug)]
pub enum ManifestCommand {
    /// Create a manifest item from a directory or from an NDJSON file of entries.
    Create(CreateArgs),
    /// Show a manifest's entries (refs resolved).
    Show(ShowArgs),
    /// List entry keys, optionally under a prefix (shards expanded).
    Ls(LsArgs),
    /// Write one entry's content to standard output.
    Cat(CatArgs),
    /// Rehash every blob the manifest links to.
    Verify(VerifyArgs),
    /// Add entries as a new part: a new version of the manifest refers to it.
    Append(AppendArgs),
    /// Write a new version as one flat manifest (refs resolved).
    Compact(CompactArgs),
    /// Trash the manifest and, with --linked, the items it links to.
    Trash(TrashArgs),
}

#[derive(Args, Debug)]
pub struct Source {
    /// A directory whose files become the entries.
    pub dir: Option<PathBuf>,
    /// An NDJSON file of entries (`-` for standard input); a file entry may carry "path"
    /// to store a local file.
    #[arg(long, value_name = "FILE", conflicts_with = "dir")]
    pub from: Option<PathBuf>,
    /// Pack files into shard archives of at most this many files.
    #[arg(long, value_name = "N")]
    pub shard_max_entries: Option<usize>,
    /// Pack files into shard archives of at most this many bytes.
    #[arg(long, value_name = "BYTES")]
    pub shard_max_bytes: Option<u64>,
    /// Write shards as plain tar instead of tar.gz.
    #[arg(long)]
    pub no_gzip: bool,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[command(flatten)]
    pub source: Source,
    /// What the manifest is: dataset, model, shard-set, …
    #[arg(long = "type", default_value = "dataset")]
    pub manifest_type: String,
    /// The manifest item's URI (default: manifest:<directory or file name>).
    #[arg(long)]
    pub uri: Option<String>,
    #[command(flatten)]
    pub params: ParamArgs,
    /// A human name for the manifest item (shown instead of its URI).
    #[arg(long)]
    pub label: Option<String>,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The manifest item: an id, a key prefix, KEY@VERSION, or a URI (of one key).
    pub item: String,
    /// Expand shards into their members.
    #[arg(long)]
    pub expand: bool,
    /// Show refs as they are instead of following them.
    #[arg(long)]
    pub no_resolve: bool,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// The manifest item: an id, a key prefix, KEY@VERSION, or a URI (of one key).
    pub item: String,
    /// Only keys starting with this.
    #[arg(long, default_value = "")]
    pub prefix: String,
}

#[derive(Args, Debug)]
pub struct CatArgs {
    /// The manifest item: an id, a key prefix, KEY@VERSION, or a URI (of one key).
    pub item: String,
    /// The entry's key.
    pub key: String,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The manifest item: an id, a key prefix, KEY@VERSION, or a URI (of one key).
    pub item: String,
    /// Also check every shard's members against its internal manifest.
    #[arg(long)]
    pub deep: bool,
}

#[derive(Args, Debug)]
pub struct AppendArgs {
    /// The manifest item: an id, a key prefix, KEY@VERSION, or a URI (of one key).
    pub item: String,
    #[command(flatten)]
    pub source: Source,
}

#[derive(Args, Debug)]
pub struct CompactArgs {
    /// The manifest item: an id, a key prefix, KEY@VERSION, or a URI (of one key).
    pub item: String,
    /// Replace shards by their members (which keep linking to the archive).
    #[arg(long)]
    pub expand_shards: bool,
}

#[derive(Args, Debug)]
pub struct TrashArgs {
    /// The manifest item: an id, a key prefix, KEY@VERSION, or a URI (of one key).
    pub item: String,
    /// Also trash the items whose content the manifest links to.
    #[arg(long)]
    pub linked: bool,
}

pub fn run(g: &Global, cmd: ManifestCommand) -> Result<()> {
    let cache = match cmd {
        ManifestCommand::Create(_) => g.create()?,
        ManifestCommand::Show(_) | ManifestCommand::Ls(_) | ManifestCommand::Cat(_) => {
            g.open_to_read()?
        }
        _ => g.open()?,
    };
    match cmd {
        ManifestCommand::Create(a) => create(g, &cache, a),
        ManifestCommand::Show(a) => show(g, &cache, a),
        ManifestCommand::Ls(a) => ls(g, &cache, a),
        ManifestCommand::Cat(a) => {
            let item = resolve_manifest(&cache, &a.item)?;
            output::to_stdout(|out| Ok(manifest::copy_entry(&cache, &item, &a.key, out)?))?;
            Ok(())
        }
        ManifestCommand::Verify(a) => verify(g, &cache, a),
        ManifestCommand::Append(a) => {
            let item = resolve_manifest(&cache, &a.item)?;
            let entries = entries_from(&cache, &a.source)?;
            let built = manifest::append(&cache, &item, entries)?;
            print_item_line(g, &built.item)
        }
        ManifestCommand::Compact(a) => {
            let item = resolve_manifest(&cache, &a.item)?;
            let built = manifest::compact(&cache, &item, a.expand_shards)?;
            print_item_line(g, &built.item)
        }
        ManifestCommand::Trash(a) => {
            let item = resolve_manifest(&cache, &a.item)?;
            let report = manifest::trash(&cache, &item, a.linked)?;
            if g.json {
                json_line(&mut output::stdout(), &report)?;
            } else {
                output::say(format_args!(
                    "trashed {} ({}){}",
                    count_of(report.items, "item", "items"),
                    human_size(report.bytes),
                    if report.already_trashed > 0 {
                        format!(", {} already in the trash", report.already_trashed)
                    } else {
                        String::new()
                    }
                ))?;
            }
            Ok(())
        }
    }
}

/// The manifest item `reference` names. An item registered as a manifest, or whose first
/// line reads as a manifest entry (a JSONL manifest stored with `cachet put`); anything
/// else is refused in one line rather than reported line by line.
fn resolve_manifest(cache: &Cache, reference: &str) -> Result<Item> {
    let item = cache.resolve(reference, true)?;
    let sha = manifest::manifest_sha(&item)?;
    if cache.registry().db().manifest_info(item.id)?.is_some() {
        return Ok(item);
    }
    if let Err(why) = manifest::first_entry(cache, sha)? {
        bail!(
            "item {} ({}) is not a manifest: its first line is no manifest entry ({why})",
            item.id,
            item.uri
        );
    }
    Ok(item)
}

fn shard_opts(source: &Source) -> Option<ShardOpts> {
    if source.shard_max_entries.is_none() && source.shard_max_bytes.is_none() {
        return None;
    }
    let defaults = ShardOpts::default();
    Some(ShardOpts {
        max_entries: source.shard_max_entries.unwrap_or(defaults.max_entries),
        max_bytes: source.shard_max_bytes.unwrap_or(defaults.max_bytes),
        gzip: !source.no_gzip,
    })
}

/// The entries a `--from` file or a directory gives (files stored as they are read).
fn entries_from(cache: &Cache, source: &Source) -> Result<Vec<cachet::Result<Entry>>> {
    match (&source.dir, &source.from) {
        (Some(dir), None) => {
            let stored = manifest::store_dir(cache, dir, shard_opts(source).as_ref())?;
            report_skipped(&stored.skipped);
            Ok(stored.entries.into_iter().map(Ok).collect())
        }
        (None, Some(file)) => read_entry_lines(file),
        _ => bail!("give a directory or --from FILE"),
    }
}

fn report_skipped(skipped: &[PathBuf]) {
    for path in skipped {
        output::tell(format_args!(
            "cachet: skipped {} (not a regular file)",
            path.display()
        ));
    }
}

/// Reads NDJSON entries; relative `"path"` fields are taken from the file's directory.
fn read_entry_lines(file: &Path) -> Result<Vec<cachet::Result<Entry>>> {
    let (reader, base): (Box<dyn BufRead>, PathBuf) = if file.as_os_str() == "-" {
        (Box::new(io::stdin().lock()), PathBuf::from("."))
    } else {
        let f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
        (
            Box::new(BufReader::new(f)),
            file.parent().map(Path::to_path_buf).unwrap_or_default(),
        )
    };
    let mut out = Vec::new();
    // Keys twice are refused at their lines here, before any file they name is stored.
    let mut keys = manifest::KeysSeen::default();
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading {}", file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| Error::BadLine {
            path: file.to_path_buf(),
            line: i as u64 + 1,
            message,
        };
        let mut entry = Entry::parse(&line).map_err(bad)?;
        if let Some(first) = keys.note(&entry, i as u64 + 1) {
            return Err(bad(format!("key '{}' is on line {first} already", entry.key())).into());
        }
        if let Entry::File(f) = &mut entry
            && let Some(serde_json::Value::String(p)) = f.extra.get("path")
        {
            let p = PathBuf::from(p);
            let full = if p.is_absolute() { p } else { base.join(p) };
            f.extra
                .insert("path".into(), full.to_string_lossy().into_owned().into());
        }
        out.push(Ok(entry));
    }
    Ok(out)
}

fn create(g: &Global, cache: &Cache, a: CreateArgs) -> Result<()> {
    let name = a
        .source
        .dir
        .as_deref()
        .or(a.source.from.as_deref())
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "manifest".into());
    let new = NewItem {
        uri: a.uri.unwrap_or_else(|| format!("manifest:{name}")),
        params: a.params.to_json(),
        attrs: Default::default(),
        label: a.label,
        filename: Some(format!("{name}.jsonl")),
    };
    let built = match (&a.source.dir, &a.source.from) {
        (Some(dir), None) => {
            let opts = CreateOpts {
                manifest_type: a.manifest_type,
                shards: shard_opts(&a.source),
            };
            let built = manifest::create_from_dir(cache, &new, dir, &opts)?;
            report_skipped(&built.skipped);
            built
        }
        _ => {
            let entries = entries_from(cache, &a.source)?;
            manifest::create_from_entries(cache, &new, entries, &a.manifest_type)?
        }
    };
    if g.json {
        let mut v = built.item.to_json();
        if let serde_json::Value::Object(m) = &mut v {
            m.insert("entries".into(), built.entries.into());
            m.insert("files".into(), built.files.into());
            m.insert("shards".into(), built.shards.into());
            m.insert("bytes".into(), built.bytes.into());
        }
        json_line(&mut output::stdout(), &v)?;
    } else {
        print_item_line(g, &built.item)?;
        output::say(format_args!(
            "{}, {}{}, {}",
            count_of(built.entries, "entry", "entries"),
            count_of(built.files, "file", "files"),
            if built.shards > 0 {
                format!(" in {}", count_of(built.shards, "shard", "shards"))
            } else {
                String::new()
            },
            human_size(built.bytes)
        ))?;
    }
    Ok(())
}

fn walk<'c>(cache: &'c Cache, item: &Item, opts: ReadOpts) -> Result<Entries<'c>> {
    let sha = manifest::manifest_sha(item)?;
    Ok(Entries::open(cache, sha, opts)?)
}

/// Prints entries as they come; bad lines go to stderr and make the exit code 1, after
/// every good line was shown.
fn show(g: &Global, cache: &Cache, a: ShowArgs) -> Result<()> {
    let item = resolve_manifest(cache, &a.item)?;
    let opts = ReadOpts {
        resolve_refs: !a.no_resolve,
        expand_shards: a.expand,
        ..ReadOpts::default()
    };
    let descriptor = manifest::Descriptor::read(cache, manifest::manifest_sha(&item)?)?;
    let mut out = io::BufWriter::new(output::stdout());
    if !g.json {
        writeln!(
            out,
            "manifest {} ({}, schema {})",
            item.reference(),
            descriptor.manifest_type,
            descriptor.schema_version
        )?;
    }
    let mut errors = 0;
    let mut heads = manifest::Heads::default();
    for located in walk(cache, &item, opts)? {
        match located {
            Ok(l) => {
                if let Some(head) = heads.before(&l).filter(|_| !g.json) {
                    print_head(&mut out, &head)?;
                }
                print_entry(g, &mut out, &l)?
            }
            Err(e) => {
                out.flush()?;
                errors += 1;
                output::tell(format_args!("cachet: error: {e}"));
            }
        }
    }
    out.flush()?;
    if errors > 0 {
        bail!("{errors} entries could not be read");
    }
    Ok(())
}

fn print_entry(g: &Global, out: &mut impl Write, l: &Located) -> io::Result<()> {
    if g.json {
        let mut v: serde_json::Value =
            serde_json::from_str(&l.entry.to_line()).unwrap_or(serde_json::Value::Null);
        if let (serde_json::Value::Object(m), Some(shard)) = (&mut v, &l.shard) {
            m.insert("shard".into(), shard.clone().into());
        }
        return json_line(out, &v);
    }
    let indent = "  ".repeat(l.depth);
    let size = l.entry.size().map(human_size).unwrap_or_default();
    let sha = l.entry.sha256().map(manifest::short).unwrap_or("-");
    let extra = match &l.entry {
        Entry::Shard(s) => format!("  ({})", count_of(s.count, "file", "files")),
        Entry::Unknown { .. } => "  (unknown kind, kept)".to_string(),
        _ => String::new(),
    };
    writeln!(
        out,
        "{indent}{:<12} {:<12} {:>10}  {}{extra}",
        cachet::preview::escape_controls(l.entry.kind()),
        sha,
        size,
        cachet::preview::escape_controls(l.entry.key())
    )
}

/// The line above an expanded shard's members, or a followed ref's entries.
fn print_head(out: &mut impl Write, head: &manifest::Head) -> io::Result<()> {
    let done = if head.kind == "shard" {
        "(expanded)"
    } else {
        "(followed)"
    };
    writeln!(
        out,
        "{}{:<12} {:<12} {:>10}  {}  {done}",
        "  ".repeat(head.depth),
        head.kind,
        manifest::short(&head.sha256),
        "",
        cachet::preview::escape_controls(&head.key)
    )
}

fn ls(g: &Global, cache: &Cache, a: LsArgs) -> Result<()> {
    let item = resolve_manifest(cache, &a.item)?;
    let opts = ReadOpts {
        expand_shards: true,
        ..ReadOpts::default()
    };
    let mut out = io::BufWriter::new(output::stdout());
    let mut errors = 0;
    for located in walk(cache, &item, opts)? {
        match located {
            Ok(l) if l.entry.key().starts_with(&a.prefix) && !matches!(l.entry, Entry::Ref(_)) => {
                if g.json {
                    print_entry(g, &mut out, &l)?;
                } else {
                    writeln!(out, "{}", cachet::preview::escape_controls(l.entry.key()))?;
                }
            }
            Ok(_) => {}
            Err(e) => {
                errors += 1;
                output::tell(format_args!("cachet: error: {e}"));
            }
        }
    }
    out.flush()?;
    if errors > 0 {
        bail!("{errors} entries could not be read");
    }
    Ok(())
}

fn verify(g: &Global, cache: &Cache, a: VerifyArgs) -> Result<()> {
    let item = resolve_manifest(cache, &a.item)?;
    let report = manifest::verify(cache, &item, a.deep)?;
    let printed = (|| -> Result<()> {
        if g.json {
            json_line(&mut output::stdout(), &report)?;
            return Ok(());
        }
        for p in &report.problems {
            output::say(format_args!(
                "{}  {}  {}",
                if p.key.is_empty() { "-" } else { &p.key },
                p.sha256.as_deref().map(manifest::short).unwrap_or("-"),
                p.message
            ))?;
        }
        let members = (report.members)
            .map(|n| format!(" and {}", count_of(n, "shard member", "shard members")))
            .unwrap_or_default();
        output::say(format_args!(
            "{}, {} ({}){members} checked, {}",
            count_of(report.entries, "entry", "entries"),
            count_of(report.blobs, "blob", "blobs"),
            human_size(report.bytes),
            count_of(report.problems.len() as u64, "problem", "problems")
        ))?;
        Ok(())
    })();
    // What was found decides the exit, even when no one read the lines (a closed pipe).
    if !report.is_ok() {
        bail!(
            "manifest {} has {}",
            item.reference(),
            count_of(report.problems.len() as u64, "problem", "problems")
        );
    }
    printed
}
