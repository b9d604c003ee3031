//! `cachet import`: many items from NDJSON in one transaction.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cachet::attr::{AttrValue, Attrs, validate_name};
use cachet::{Error, IngestContent, IngestItem, NewItem};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use serde_json::Value as Json;

use super::Global;
use super::output::{self, count_of, json_line};

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// NDJSON file, one item per line: {"uri", "params", "attrs", "label", "filename",
    /// "path" | "text"}; `-` reads standard input. Relative paths are taken from the
    /// file's directory.
    pub file: PathBuf,
}

/// One line of the import file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    uri: String,
    #[serde(default)]
    params: Json,
    #[serde(default)]
    attrs: serde_json::Map<String, Json>,
    label: Option<String>,
    filename: Option<String>,
    path: Option<PathBuf>,
    text: Option<String>,
}

pub fn import(g: &Global, a: ImportArgs) -> Result<()> {
    let cache = g.create()?;
    let from_stdin = a.file.as_os_str() == "-";
    let (reader, base): (Box<dyn BufRead>, PathBuf) = if from_stdin {
        (Box::new(io::stdin().lock()), PathBuf::from("."))
    } else {
        let file = File::open(&a.file).with_context(|| format!("opening {}", a.file.display()))?;
        let base = a.file.parent().map(Path::to_path_buf).unwrap_or_default();
        (Box::new(BufReader::new(file)), base)
    };
    let source = if from_stdin {
        PathBuf::from("<stdin>")
    } else {
        a.file.clone()
    };
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} importing: {pos} items ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let items = reader.lines().enumerate().filter_map(|(i, line)| {
        let lineno = i as u64 + 1;
        match line {
            Err(e) => Some(Err(Error::Io {
                path: source.clone(),
                source: e,
            })),
            Ok(text) if text.trim().is_empty() => None,
            Ok(text) => Some(parse_line(&text, &base).map_err(|message| Error::BadLine {
                path: source.clone(),
                line: lineno,
                message,
            })),
        }
    });
    let ids = cache.ingest(items, &mut |n| {
        if n % 256 == 0 {
            bar.set_position(n);
        }
    })?;
    bar.finish_and_clear();
    if g.json {
        json_line(
            &mut output::stdout(),
            &serde_json::json!({"imported": ids.len()}),
        )?;
    } else {
        output::say(format_args!(
            "imported {}",
            count_of(ids.len() as u64, "item", "items")
        ))?;
    }
    Ok(())
}

fn parse_line(text: &str, base: &Path) -> Result<IngestItem, String> {
    let line: Line = serde_json::from_str(text).map_err(|e| {
        // The line number is the file's (given before this); serde's counts from the
        // line itself, so only its column is said.
        let message = e.to_string();
        let at = format!(" at line {} column {}", e.line(), e.column());
        let what = message.strip_suffix(&at).unwrap_or(&message);
        format!("column {}: {what}", e.column())
    })?;
    if !matches!(line.params, Json::Object(_) | Json::Null) {
        return Err("\"params\" must be an object".into());
    }
    let mut attrs = Attrs::new();
    for (name, value) in &line.attrs {
        validate_name(name).map_err(|e| e.to_string())?;
        attrs.insert(
            name.clone(),
            AttrValue::from_json(name, value).map_err(|e| e.to_string())?,
        );
    }
    let (content, filename) = match (line.path, line.text) {
        (Some(path), None) => {
            let full = if path.is_absolute() {
                path.clone()
            } else {
                base.join(&path)
            };
            // Checked here too, so that a missing file is named with its line.
            if let Err(e) = std::fs::metadata(&full) {
                return Err(format!("{}: {e}", full.display()));
            }
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            (IngestContent::File(full), line.filename.or(name))
        }
        (None, Some(text)) => (IngestContent::Bytes(text.into_bytes()), line.filename),
        _ => return Err("give exactly one of \"path\" or \"text\"".into()),
    };
    Ok(IngestItem {
        item: NewItem {
            uri: line.uri,
            params: line.params,
            attrs,
            label: line.label,
            filename,
        },
        content,
    })
}
