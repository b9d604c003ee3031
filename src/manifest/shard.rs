//! Shard archives: many small files in one tar (or tar.gz) whose first member is an
//! internal manifest listing them, so a reader finds any member without scanning.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use super::entry::{Entry, FileEntry, INTERNAL_MANIFEST, ShardEntry};
use crate::blob::{BlobStore, HashingReader};
use crate::error::{Error, IoResultExt, Result};
use crate::key::hex;

/// How files are split into shards.
#[derive(Debug, Clone)]
pub struct ShardOpts {
    /// At most this many files in one shard.
    pub max_entries: usize,
    /// At most this many bytes of file content in one shard (a larger single file gets a
    /// shard of its own).
    pub max_bytes: u64,
    /// Compress shards with gzip.
    pub gzip: bool,
}

impl Default for ShardOpts {
    fn default() -> Self {
        ShardOpts {
            max_entries: 10_000,
            max_bytes: 1 << 30,
            gzip: true,
        }
    }
}

/// A file going into a shard, hashed beforehand so the internal manifest can come first.
#[derive(Debug, Clone)]
pub struct ShardFile {
    pub entry: FileEntry,
    pub source: PathBuf,
}

/// Upper bound on an internal manifest read into memory.
const MAX_INTERNAL_MANIFEST: u64 = 256 << 20;

/// Groups files by the limits, keeping their order.
pub fn split(files: Vec<ShardFile>, opts: &ShardOpts) -> Vec<Vec<ShardFile>> {
    let mut groups: Vec<Vec<ShardFile>> = Vec::new();
    let mut bytes = 0u64;
    for file in files {
        let size = file.entry.size_bytes.unwrap_or(0);
        let full = groups.last().is_none_or(|g| {
            g.len() >= opts.max_entries.max(1) || (bytes + size > opts.max_bytes && !g.is_empty())
        });
        if full {
            groups.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(group) = groups.last_mut() {
            group.push(file);
        }
    }
    groups
}

/// Writes one shard archive straight into the blob store and returns its entry.
pub fn write(
    blobs: &BlobStore,
    archive_key: &str,
    files: &[ShardFile],
    gzip: bool,
    sync: bool,
) -> Result<ShardEntry> {
    let mut internal = String::new();
    for f in files {
        let mut e = f.entry.clone();
        e.member_path = Some(e.key.clone());
        internal.push_str(&Entry::File(e).to_line());
        internal.push('\n');
    }
    let staged = blobs.stage()?;
    let staged_path = PathBuf::from(format!("shard {archive_key}"));
    let sealed = if gzip {
        let enc = GzEncoder::new(staged, Compression::fast());
        let enc = fill(enc, &internal, files, &staged_path)?;
        enc.finish().at(&staged_path)?.seal(sync)?
    } else {
        fill(staged, &internal, files, &staged_path)?.seal(sync)?
    };
    let content = sealed.content.clone();
    blobs.adopt(sealed, sync)?;
    Ok(ShardEntry {
        archive_key: archive_key.to_string(),
        format: "tar".into(),
        compression: gzip.then(|| "gzip".to_string()),
        internal_manifest_path: INTERNAL_MANIFEST.into(),
        count: files.len() as u64,
        size_bytes: content.size,
        sha256: Some(content.sha256),
        extra: Default::default(),
    })
}

fn fill<W: Write>(out: W, internal: &str, files: &[ShardFile], name: &Path) -> Result<W> {
    let mut tar = tar::Builder::new(out);
    tar.mode(tar::HeaderMode::Deterministic);
    append(
        &mut tar,
        INTERNAL_MANIFEST,
        internal.len() as u64,
        internal.as_bytes(),
        name,
    )?;
    for f in files {
        let file = File::open(&f.source).at(&f.source)?;
        let size = file.metadata().at(&f.source)?.len();
        if Some(size) != f.entry.size_bytes {
            return Err(Error::invalid(
                format!("{}", f.source.display()),
                "the file changed while the manifest was being built",
            ));
        }
        append(&mut tar, &f.entry.key, size, file, &f.source)?;
    }
    tar.into_inner().at(name)
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &str,
    size: u64,
    data: impl Read,
    source: &Path,
) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, path, data).at(source)
}

/// A reader over the decompressed tar stream of a shard archive.
fn open_tar(path: &Path) -> Result<tar::Archive<Box<dyn Read>>> {
    let mut file = BufReader::new(crate::blob::open_stored(path)?);
    let head = file.fill_buf().at(path)?;
    let reader: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(GzDecoder::new(file))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::Decoder::with_buffer(file).at(path)?)
    } else {
        Box::new(file)
    };
    Ok(tar::Archive::new(reader))
}

fn archive_error(path: &Path, e: io::Error) -> Error {
    Error::Archive {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Reads a shard's internal manifest (stopping at it: writers put it first). Each line is
/// parsed on its own, so one bad line does not hide the others.
pub fn read_internal_manifest(
    path: &Path,
    shard: &ShardEntry,
) -> Result<Vec<Result<(u64, Entry)>>> {
    let mut archive = open_tar(path)?;
    for member in archive.entries().map_err(|e| archive_error(path, e))? {
        let member = member.map_err(|e| archive_error(path, e))?;
        let name = member.path_bytes().into_owned();
        if name != shard.internal_manifest_path.as_bytes() {
            continue;
        }
        let where_ = PathBuf::from(format!(
            "{}#{}",
            shard.archive_key, shard.internal_manifest_path
        ));
        let reader = BufReader::new(member.take(MAX_INTERNAL_MANIFEST));
        let mut out = Vec::new();
        for (i, line) in reader.lines().enumerate() {
            let line_no = i as u64 + 1;
            let text = line.map_err(|e| archive_error(path, e))?;
            if text.trim().is_empty() {
                continue;
            }
            out.push(
                Entry::parse(&text)
                    .map(|e| (line_no, e))
                    .map_err(|message| Error::BadLine {
                        path: where_.clone(),
                        line: line_no,
                        message,
                    }),
            );
        }
        return Ok(out);
    }
    Err(Error::Archive {
        path: path.to_path_buf(),
        message: format!(
            "shard '{}' has no internal manifest '{}'",
            shard.archive_key, shard.internal_manifest_path
        ),
    })
}

/// Streams the member `member_path` of a shard into `out`.
pub fn copy_member(path: &Path, member_path: &str, out: &mut dyn Write) -> Result<u64> {
    let mut archive = open_tar(path)?;
    for member in archive.entries().map_err(|e| archive_error(path, e))? {
        let mut member = member.map_err(|e| archive_error(path, e))?;
        if member.path_bytes().as_ref() == member_path.as_bytes() {
            return crate::blob::copy_into(&mut member, out, |e, _| archive_error(path, e));
        }
    }
    Err(Error::not_found(format!(
        "member '{member_path}' in {}",
        path.display()
    )))
}

/// Compares a shard's members with its internal manifest: every listed member present with
/// its size and digest, nothing unlisted. Returns the number of members read and one
/// message per disagreement.
pub fn check_members(path: &Path, shard: &ShardEntry) -> Result<(u64, Vec<String>)> {
    let mut problems = Vec::new();
    let mut expected: HashMap<String, FileEntry> = HashMap::new();
    for item in read_internal_manifest(path, shard)? {
        match item {
            Ok((_, Entry::File(f))) => {
                let member = f.member_path.clone().unwrap_or_else(|| f.key.clone());
                expected.insert(member, f);
            }
            Ok((line, other)) => problems.push(format!(
                "internal manifest line {line}: unexpected {} entry",
                other.kind()
            )),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if expected.len() as u64 != shard.count {
        problems.push(format!(
            "shard '{}' says count {}, its internal manifest lists {}",
            shard.archive_key,
            shard.count,
            expected.len()
        ));
    }
    let mut found = Vec::new();
    let (compared, unlisted) = check_listed(
        path,
        &mut expected,
        &shard.internal_manifest_path,
        &mut found,
    )?;
    problems.extend(found.into_iter().map(|(_, message)| message));
    for name in &unlisted {
        problems.push(format!("member '{name}' is not in the internal manifest"));
    }
    for missing in expected.keys() {
        problems.push(format!(
            "member '{missing}' is listed but not in the archive"
        ));
    }
    problems.sort();
    Ok((compared + unlisted.len() as u64, problems))
}

/// Reads a shard archive once, checking each member `expected` lists (by its path in the
/// archive) against its size and digest; `expected` is left with those it did not find.
/// Returns the members compared, and the names of those it does not list (`skip`, the
/// internal manifest, aside). A disagreement is the member's name and a message naming it.
pub fn check_listed(
    path: &Path,
    expected: &mut HashMap<String, FileEntry>,
    skip: &str,
    problems: &mut Vec<(String, String)>,
) -> Result<(u64, Vec<String>)> {
    let (mut compared, mut unlisted) = (0, Vec::new());
    let mut archive = open_tar(path)?;
    for member in archive.entries().map_err(|e| archive_error(path, e))? {
        let member = member.map_err(|e| archive_error(path, e))?;
        let name = String::from_utf8_lossy(&member.path_bytes()).into_owned();
        if name == skip {
            continue;
        }
        let Some(want) = expected.remove(&name) else {
            unlisted.push(name);
            continue;
        };
        compared += 1;
        let mut reader = HashingReader::new(member);
        let size = io::copy(&mut reader, &mut io::sink()).map_err(|e| archive_error(path, e))?;
        if want.size_bytes.is_some_and(|s| s != size) {
            let message = format!(
                "member '{name}' has {size} bytes, the internal manifest says {}",
                want.size_bytes.unwrap_or_default()
            );
            problems.push((name.clone(), message));
        }
        if let Some(sha) = &want.sha256
            && let Err(e) = reader.check(sha, Path::new(&name))
        {
            problems.push((name, e.to_string()));
        }
    }
    Ok((compared, unlisted))
}

/// Hashes a file: (size, sha256).
pub fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut file = File::open(path).at(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).at(path),
        };
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex(&hasher.finalize())))
}
