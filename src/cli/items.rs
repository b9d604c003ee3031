//! Commands that add, find and read items: put, get, path, cat, ls, show, best.

use std::io::{self, IsTerminal, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use cachet::attr::{AttrValue, Attrs};
use cachet::key::abbrev;
use cachet::preview::escape_controls;
use cachet::{Item, NewItem};
use chrono::Utc;
use clap::Args;
use serde_json::{Map, Value as Json};

use super::output::{self, human_size, json_line, status_text};
use super::{Global, parse_assignment};

#[derive(Args, Debug)]
pub struct PutArgs {
    /// What the content is: a URL, a path, any identifier.
    pub uri: String,
    /// The file to store; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub params: ParamArgs,
    /// An attribute: name=value (typed: 3 int, 0.5 float, true bool, RFC 3339 datetime,
    /// 'quoted' text) or name:type=value.
    #[arg(long = "attr", value_name = "NAME=VALUE", value_parser = parse_assignment)]
    pub attrs: Vec<(String, AttrValue)>,
    /// A human-readable label.
    #[arg(long)]
    pub label: Option<String>,
    /// The file name to remember (defaults to FILE's name).
    #[arg(long)]
    pub filename: Option<String>,
}

#[derive(Args, Debug)]
pub struct ParamArgs {
    /// A parameter of the key: name=value, typed like attributes.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_assignment)]
    pub params: Vec<(String, AttrValue)>,
}

impl ParamArgs {
    /// The params as the JSON object that goes into the key.
    pub fn to_json(&self) -> Json {
        Json::Object(
            self.params
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect::<Map<_, _>>(),
        )
    }
}

#[derive(Args, Debug)]
pub struct ItemArg {
    /// An item id, a key prefix (4+ hex digits), KEY@VERSION, or a URI (of one key).
    #[arg(value_parser = super::lifecycle::non_blank)]
    pub item: String,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    #[command(flatten)]
    pub item: ItemArg,
    /// Where to write the content, replacing a file there; a directory takes it under the
    /// item's file name (default: that name in the current directory), which must not
    /// exist yet; `-` is stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct BestArgs {
    /// The URI, as it was put.
    pub uri: String,
    #[command(flatten)]
    pub params: ParamArgs,
}

pub fn put(g: &Global, a: PutArgs) -> Result<()> {
    let cache = g.create()?;
    let new = NewItem {
        uri: a.uri,
        params: a.params.to_json(),
        attrs: a.attrs.into_iter().collect::<Attrs>(),
        label: a.label,
        filename: a.filename,
    };
    // Asked before the put, which catalogues the attributes' types.
    let notes = cachet::filter::check_attr_types(cache.registry().db().conn, &new.attrs)?;
    let item = match a.file.as_deref() {
        Some(path) if path.as_os_str() != "-" => cache.put_file(&new, path)?,
        _ => {
            let stdin = io::stdin();
            if stdin.is_terminal() {
                bail!("nothing to store: give a FILE, or pipe the content to standard input");
            }
            cache.put(&new, stdin.lock())?
        }
    };
    print_item_line(g, &item)?;
    for note in notes {
        output::tell(format_args!("cachet: note: {note}"));
    }
    Ok(())
}

pub fn get(g: &Global, a: GetArgs) -> Result<()> {
    let cache = g.open_to_read()?;
    let item = cache.resolve(&a.item.item, true)?;
    // Into a directory given with -o, as without it: under the item's own name, which
    // replaces nothing (only a file name the user gives may).
    let (dest, chosen) = match a.output {
        // `-o -`: the content on stdout, as `cat` gives it.
        Some(out) if out.as_os_str() == "-" => {
            output::to_stdout(|out| Ok(cache.copy_content(&item, out)?))?;
            output::record_access(&cache, item.id)?;
            return Ok(());
        }
        // A directory, or a name ending in a separator (one, whether it exists or not).
        Some(dir) if dir.is_dir() || dir.to_string_lossy().ends_with(std::path::is_separator) => {
            (dir.join(default_output(&item)), false)
        }
        Some(file) => (file, true),
        None => (default_output(&item), false),
    };
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dir.is_dir() {
        bail!(
            "{}: no such directory",
            escape_controls(&dir.to_string_lossy())
        );
    }
    // Write beside the destination and rename, so a failed check leaves nothing behind;
    // made as any new file is (the umask decides), not private as temporary files are.
    let mut builder = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder
        .tempfile_in(&dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    let shown = escape_controls(&dest.to_string_lossy()).into_owned();
    let size = (cache.copy_content(&item, &mut tmp)).with_context(|| format!("writing {shown}"))?;
    if chosen {
        tmp.persist(&dest)
            .with_context(|| format!("writing {shown}"))?;
    } else {
        // A name the item chose replaces nothing: only one the user gave may.
        let exists = || anyhow::anyhow!("{shown} exists: name the file to write with -o");
        match tmp.persist_noclobber(&dest) {
            Ok(_) => {}
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => return Err(exists()),
            // A file system that can neither rename without replacing nor link (vfat, some
            // FUSE mounts): look first, then rename.
            Err(_) if dest.exists() => return Err(exists()),
            Err(e) => {
                (e.file.persist(&dest)).with_context(|| format!("writing {shown}"))?;
            }
        };
    }
    output::record_access(&cache, item.id)?;
    if g.json {
        json_line(
            &mut output::stdout(),
            &serde_json::json!({"id": item.id, "path": dest, "size": size}),
        )?;
    } else {
        output::say(format_args!("{shown} ({})", human_size(size)))?;
    }
    Ok(())
}

/// Where `get` writes without `-o`: in the current directory, under the last part of the
/// item's file name; a name that is no plain file name (`..`, empty, with control
/// characters) gives way to the key and version. The file name is the item's data, from
/// whoever stored it: it must not lead anywhere else.
fn default_output(item: &Item) -> PathBuf {
    // One ordinary component, nothing a file system reads as more (`..`; on Windows a
    // drive's `C:`, a stream's `name:x`), no blank or control characters.
    let plain = |name: &&str| {
        let mut parts = Path::new(name).components();
        matches!(parts.next(), Some(Component::Normal(_)))
            && parts.next().is_none()
            && !name.trim().is_empty()
            && !name
                .chars()
                .any(|c| c.is_control() || (cfg!(windows) && c == ':'))
    };
    let name = (item.filename.as_deref())
        .and_then(|name| name.rsplit(['/', '\\']).next())
        .filter(plain);
    PathBuf::from(match name {
        Some(name) => name.to_owned(),
        None => {
            let key: String = (abbrev(&item.key, 12).chars())
                .filter(char::is_ascii_alphanumeric)
                .collect();
            format!("{key}-v{}", item.version)
        }
    })
}

pub fn path(g: &Global, a: ItemArg) -> Result<()> {
    let cache = g.open_to_read()?;
    let item = cache.resolve(&a.item, true)?;
    let path = cache.content_path(&item)?;
    output::record_access(&cache, item.id)?;
    if g.json {
        json_line(
            &mut output::stdout(),
            &serde_json::json!({"id": item.id, "path": path}),
        )?;
    } else {
        output::say(format_args!("{}", path.display()))?;
    }
    Ok(())
}

pub fn show(g: &Global, a: ItemArg) -> Result<()> {
    let cache = g.open_to_read()?;
    let item = cache.resolve(&a.item, false)?;
    let versions = cache.versions(&item.key)?;
    let manifest = cache.registry().db().manifest_info(item.id)?;
    let mut out = output::stdout();
    if g.json {
        let mut value = item.to_json();
        if let Json::Object(m) = &mut value {
            m.insert(
                "versions".into(),
                versions
                    .iter()
                    .map(|v| serde_json::json!({"id": v.id, "version": v.version, "status": v.status}))
                    .collect(),
            );
            if let Some(info) = &manifest {
                m.insert(
                    "manifest".into(),
                    serde_json::json!({
                        "type": info.manifest_type,
                        "schema_version": info.schema_version,
                        "entries": info.entries,
                        "bytes": info.bytes,
                    }),
                );
            }
        }
        json_line(&mut out, &value)?;
    } else {
        output::print_item_details(&mut out, &item, &versions, manifest.as_ref())?;
    }
    Ok(())
}

pub fn best(g: &Global, a: BestArgs) -> Result<()> {
    let cache = g.open_to_read()?;
    let params = a.params.to_json();
    match cache.best(&a.uri, &params)? {
        Some(item) => print_item_line(g, &item),
        None => {
            // The URI with other params (a --param forgotten, or one too many).
            let mut others = cache.ready_params(&a.uri, 4)?;
            let more = if others.len() > 3 { ", …" } else { "" };
            others.truncate(3);
            let others = if others.is_empty() {
                String::new()
            } else {
                let shown = escape_controls(&others.join(", ")).into_owned();
                format!(" (it has READY items with params {shown}{more}: give them with --param)")
            };
            bail!(
                "no READY version of {} with params {}{others}",
                escape_controls(&a.uri),
                cachet::key::canonical_json(&params)
            )
        }
    }
}

/// One line about an item: its JSON, or `id key@version STATUS size`.
pub fn print_item_line(g: &Global, item: &Item) -> Result<()> {
    let mut out = output::stdout();
    if g.json {
        json_line(&mut out, &item.to_json())?;
    } else {
        writeln!(
            out,
            "{}  {}@{}  {}  {}",
            item.id,
            abbrev(&item.key, 12),
            item.version,
            status_text(item, Utc::now()),
            item.size.map(human_size).unwrap_or_default()
        )?;
    }
    Ok(())
}
