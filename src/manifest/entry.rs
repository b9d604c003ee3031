//! Manifest lines: `file`, `shard` and `manifest_ref` entries (the s3exchange format, plus
//! our `sha256` field), and lines of kinds we do not know, kept as they are.

use std::collections::HashMap;
use std::collections::hash_map::{DefaultHasher, Entry as MapEntry};
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use crate::key::is_sha256_hex;

/// `content_type` of the descriptor entry that says what a manifest is.
pub const DESCRIPTOR_CONTENT_TYPE: &str = "application/vnd.cachet.manifest+json";

/// One line of a manifest.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    File(FileEntry),
    Shard(ShardEntry),
    Ref(RefEntry),
    /// A kind this reader does not know: kept and shown, never fatal, and written back
    /// exactly as it was read.
    Unknown {
        kind: String,
        raw: Json,
        text: String,
    },
}

/// A file: loose content in the blob store, or a member of a shard archive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FileEntry {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Inside a shard's internal manifest: the member's path in the archive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_path: Option<String>,
    /// Fields we do not interpret, written back unchanged.
    #[serde(flatten)]
    pub extra: Map<String, Json>,
}

/// A shard archive holding many files and an internal manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ShardEntry {
    pub archive_key: String,
    #[serde(default = "default_format")]
    pub format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    #[serde(default = "default_internal_manifest")]
    pub internal_manifest_path: String,
    #[serde(default)]
    pub count: u64,
    #[serde(default)]
    pub size_bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Json>,
}

/// A reference to another manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RefEntry {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Json>,
}

fn default_format() -> String {
    "tar".into()
}

/// Where a shard keeps its internal manifest.
pub const INTERNAL_MANIFEST: &str = "__manifest__.jsonl";

fn default_internal_manifest() -> String {
    INTERNAL_MANIFEST.into()
}

impl FileEntry {
    /// For an entry `compact --expand-shards` made of a shard's member: the digest of the
    /// archive that holds it and its path there (its content is no blob of its own).
    pub fn in_archive(&self) -> Option<(&str, &str)> {
        let archive = self.extra.get("archive_sha256")?.as_str()?;
        Some((archive, self.member_path.as_deref().unwrap_or(&self.key)))
    }
}

impl Entry {
    /// Parses one line; the message says what is wrong (the caller adds where).
    pub fn parse(line: &str) -> Result<Entry, String> {
        let value: Json = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
        let Json::Object(obj) = &value else {
            return Err("an entry must be a JSON object".into());
        };
        let kind = match obj.get("kind") {
            Some(Json::String(k)) => k.clone(),
            Some(_) => return Err("\"kind\" must be a string".into()),
            None => return Err("missing \"kind\"".into()),
        };
        let mut fields = obj.clone();
        fields.remove("kind");
        let fields = Json::Object(fields);
        let entry = match kind.as_str() {
            "file" => {
                Entry::File(serde_json::from_value(fields).map_err(|e| format!("file entry: {e}"))?)
            }
            "shard" => Entry::Shard(
                serde_json::from_value(fields).map_err(|e| format!("shard entry: {e}"))?,
            ),
            "manifest_ref" => Entry::Ref(
                serde_json::from_value(fields).map_err(|e| format!("manifest_ref entry: {e}"))?,
            ),
            _ => Entry::Unknown {
                kind,
                raw: value,
                text: line.trim().to_string(),
            },
        };
        entry.validate()?;
        Ok(entry)
    }

    /// Checks keys and digests: keys are relative paths without `..`, digests are sha256.
    pub fn validate(&self) -> Result<(), String> {
        let (keys, sha): (Vec<&str>, Option<&str>) = match self {
            Entry::File(f) => (
                std::iter::once(f.key.as_str())
                    .chain(f.member_path.as_deref())
                    .collect(),
                f.sha256.as_deref(),
            ),
            Entry::Shard(s) => (
                vec![s.archive_key.as_str(), s.internal_manifest_path.as_str()],
                s.sha256.as_deref(),
            ),
            Entry::Ref(r) => (vec![r.key.as_str()], r.sha256.as_deref()),
            Entry::Unknown { .. } => return Ok(()),
        };
        for key in keys {
            check_key(key)?;
        }
        match sha {
            Some(sha) if !is_sha256_hex(sha) => Err(format!(
                "\"sha256\" '{sha}' is not 64 lower-case hex digits"
            )),
            _ => Ok(()),
        }
    }

    /// The JSON line (without newline).
    pub fn to_line(&self) -> String {
        let (kind, fields) = match self {
            Entry::File(f) => ("file", serde_json::to_value(f)),
            Entry::Shard(s) => ("shard", serde_json::to_value(s)),
            Entry::Ref(r) => ("manifest_ref", serde_json::to_value(r)),
            Entry::Unknown { text, .. } => return text.clone(),
        };
        let mut obj = Map::new();
        obj.insert("kind".into(), kind.into());
        if let Ok(Json::Object(fields)) = fields {
            obj.extend(fields);
        }
        Json::Object(obj).to_string()
    }

    /// The entry's key (the archive key for a shard, the kind for an unknown line).
    pub fn key(&self) -> &str {
        match self {
            Entry::File(f) => &f.key,
            Entry::Shard(s) => &s.archive_key,
            Entry::Ref(r) => &r.key,
            Entry::Unknown { kind, .. } => kind,
        }
    }

    /// The kind as written in the line.
    pub fn kind(&self) -> &str {
        match self {
            Entry::File(_) => "file",
            Entry::Shard(_) => "shard",
            Entry::Ref(_) => "manifest_ref",
            Entry::Unknown { kind, .. } => kind,
        }
    }

    /// The linked digest, if any.
    pub fn sha256(&self) -> Option<&str> {
        match self {
            Entry::File(f) => f.sha256.as_deref(),
            Entry::Shard(s) => s.sha256.as_deref(),
            Entry::Ref(r) => r.sha256.as_deref(),
            Entry::Unknown { .. } => None,
        }
    }

    /// Bytes of content the entry stands for, when known.
    pub fn size(&self) -> Option<u64> {
        match self {
            Entry::File(f) => f.size_bytes,
            Entry::Shard(s) => Some(s.size_bytes),
            Entry::Ref(_) | Entry::Unknown { .. } => None,
        }
    }

    /// Whether this is the descriptor line that says what the manifest is.
    pub fn is_descriptor(&self) -> bool {
        matches!(self, Entry::File(f) if f.content_type.as_deref() == Some(DESCRIPTOR_CONTENT_TYPE))
    }
}

/// Entry keys are relative, `/`-separated paths with no `.`/`..` components: they name
/// content, and must never be able to name a place outside wherever they are extracted.
pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("empty key".into());
    }
    if key.starts_with('/') || key.starts_with('\\') || key.contains(":\\") {
        return Err(format!("key '{key}' is an absolute path"));
    }
    if key.contains('\0') {
        return Err(format!("key '{}' contains a NUL byte", key.escape_debug()));
    }
    if key
        .split(['/', '\\'])
        .any(|part| part == ".." || part == ".")
    {
        return Err(format!("key '{key}' has a '.' or '..' component"));
    }
    Ok(())
}

/// The keys of a manifest's entries as they go by, to refuse one twice: a key twice names
/// two contents for one path, and a reader only ever finds the first. Held as 128-bit
/// hashes rather than as the keys: a manifest may stream millions of entries. (Two keys
/// of one hash would refuse a good manifest; at 128 bits, among a billion keys, the odds
/// are below one in 10^20.)
#[derive(Default)]
pub struct KeysSeen(HashMap<u128, u64>);

impl KeysSeen {
    /// Notes `entry` as number `n` (of entry, or of line); gives the number of an earlier
    /// entry with its key, if there is one. Lines of unknown kinds have no key.
    pub fn note(&mut self, entry: &Entry, n: u64) -> Option<u64> {
        if matches!(entry, Entry::Unknown { .. }) {
            return None;
        }
        let half = |salt: u8| {
            let mut h = DefaultHasher::new();
            (salt, entry.key()).hash(&mut h);
            h.finish()
        };
        let hash = (u128::from(half(0)) << 64) | u128::from(half(1));
        match self.0.entry(hash) {
            MapEntry::Occupied(first) => Some(*first.get()),
            MapEntry::Vacant(slot) => {
                slot.insert(n);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_kinds_and_keeps_unknown_fields() {
        let line = r#"{"kind":"file","key":"train/0001.wav","id":"0001","meta":{"sr":16000},"size_bytes":123,"content_type":"audio/wav","sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824","x-extra":1}"#;
        let entry = Entry::parse(line).unwrap();
        let Entry::File(f) = &entry else { panic!() };
        assert_eq!(f.key, "train/0001.wav");
        assert_eq!(f.size_bytes, Some(123));
        assert_eq!(f.extra["x-extra"], 1);
        let back: Json = serde_json::from_str(&entry.to_line()).unwrap();
        let orig: Json = serde_json::from_str(line).unwrap();
        assert_eq!(back, orig, "round trip keeps every field");

        let shard = Entry::parse(r#"{"kind":"shard","archive_key":"shards/shard-00001.tar.gz","format":"tar","compression":"gzip","internal_manifest_path":"__manifest__.jsonl","count":10000,"size_bytes":987654321}"#).unwrap();
        assert!(matches!(
            shard,
            Entry::Shard(ShardEntry { count: 10000, .. })
        ));
        let r = Entry::parse(r#"{"kind":"manifest_ref","key":"parts/part-00001.jsonl"}"#).unwrap();
        assert_eq!(r.kind(), "manifest_ref");
    }

    #[test]
    fn unknown_kinds_are_kept() {
        let e = Entry::parse(r#"{"kind":"symlink","key":"a","target":"b"}"#).unwrap();
        assert_eq!(e.kind(), "symlink");
        assert_eq!(e.to_line(), r#"{"kind":"symlink","key":"a","target":"b"}"#);
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        let cases = [
            ("not json", "invalid JSON"),
            ("[1]", "JSON object"),
            (r#"{"key":"a"}"#, "missing \"kind\""),
            (r#"{"kind":"file"}"#, "missing field `key`"),
            (r#"{"kind":"file","key":"../etc/passwd"}"#, "'..'"),
            (r#"{"kind":"file","key":"/etc/passwd"}"#, "absolute"),
            (
                r#"{"kind":"file","key":"a","sha256":"xyz"}"#,
                "64 lower-case hex",
            ),
            (r#"{"kind":"file","key":"a","size_bytes":-1}"#, "file entry"),
        ];
        for (line, expected) in cases {
            let err = Entry::parse(line).unwrap_err();
            assert!(err.contains(expected), "{line}: {err}");
        }
    }

    #[test]
    fn a_key_seen_again_gives_where_it_was_first() {
        let entry = |line: &str| Entry::parse(line).unwrap();
        let a = entry(r#"{"kind":"file","key":"a"}"#);
        let b = entry(r#"{"kind":"manifest_ref","key":"b"}"#);
        let a_shard = entry(
            r#"{"kind":"shard","archive_key":"a","format":"tar","internal_manifest_path":"m","count":1,"size_bytes":1}"#,
        );
        let unknown = entry(r#"{"kind":"symlink","key":"a"}"#);
        let mut seen = KeysSeen::default();
        assert_eq!(seen.note(&a, 1), None);
        assert_eq!(seen.note(&b, 2), None);
        assert_eq!(seen.note(&unknown, 3), None);
        assert_eq!(
            seen.note(&unknown, 4),
            None,
            "lines of unknown kinds have no key"
        );
        assert_eq!(
            seen.note(&a_shard, 5),
            Some(1),
            "a shard's archive key is its key"
        );
        assert_eq!(seen.note(&b, 6), Some(2));
    }
}
