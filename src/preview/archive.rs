//! Archive members as data: names are shown, never used as paths; links are shown, never
//! followed.

use serde::Serialize;

use super::tar::TarEntry;
use super::zip::ZipEntry;

/// What kind of thing a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    /// Devices, FIFOs, and tar entry types we do not know.
    Other,
}

impl MemberKind {
    /// What a member of this kind is, as a message says it (`a symlink`).
    pub fn noun(self) -> &'static str {
        match self {
            MemberKind::File => "a file",
            MemberKind::Dir => "a directory",
            MemberKind::Symlink => "a symlink",
            MemberKind::Hardlink => "a hard link",
            MemberKind::Other => "a special file (a device, a FIFO or an entry type not known)",
        }
    }
}

/// One archive member, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    /// The stored name, as UTF-8 (invalid bytes replaced). Pass it back to
    /// [`member`](super::member) to preview the member.
    pub path: String,
    /// The stored name was not valid UTF-8; `path` is a lossy rendering of it.
    pub non_utf8: bool,
    /// The name is absolute or climbs out with `..`: it would escape an extraction
    /// directory. Listed as is, never used as a path.
    pub unsafe_path: bool,
    pub kind: MemberKind,
    /// Uncompressed size in bytes, as the archive states it.
    pub size: u64,
    /// Stored size, for zip members.
    pub compressed_size: Option<u64>,
    /// Modification time, Unix seconds (zip DOS times have no zone and are taken as UTC).
    pub mtime: Option<i64>,
    /// Target of a symlink or hard link (tar; zip stores it as data, see [`member`](super::member)).
    pub link_target: Option<String>,
    /// Zip member encrypted with a password.
    pub encrypted: bool,
}

/// A name as UTF-8, and whether it had to be repaired.
fn lossy(bytes: &[u8]) -> (String, bool) {
    match String::from_utf8_lossy(bytes) {
        std::borrow::Cow::Borrowed(s) => (s.to_string(), false),
        std::borrow::Cow::Owned(s) => (s, true),
    }
}

/// Absolute (`/x`, `\x`, `C:x`) or containing a `..` component.
pub(crate) fn is_unsafe(path: &str) -> bool {
    let b = path.as_bytes();
    path.starts_with(['/', '\\'])
        || (b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic())
        || path.split(['/', '\\']).any(|c| c == "..")
}

impl Member {
    pub(crate) fn from_tar(e: &TarEntry) -> Member {
        let (path, non_utf8) = lossy(&e.path);
        let kind = match e.typeflag {
            b'0' | 0 | b'7' | b'S' => MemberKind::File,
            b'5' => MemberKind::Dir,
            b'2' => MemberKind::Symlink,
            b'1' => MemberKind::Hardlink,
            // Old tars mark directories only by a trailing slash.
            _ if e.path.ends_with(b"/") => MemberKind::Dir,
            _ => MemberKind::Other,
        };
        let link_target = match kind {
            MemberKind::Symlink | MemberKind::Hardlink => e.link.as_deref().map(|l| lossy(l).0),
            _ => None,
        };
        Member {
            unsafe_path: is_unsafe(&path),
            path,
            non_utf8,
            kind,
            size: if kind == MemberKind::File { e.size } else { 0 },
            compressed_size: None,
            mtime: e.mtime,
            link_target,
            encrypted: false,
        }
    }

    pub(crate) fn from_zip(e: &ZipEntry) -> Member {
        let (path, non_utf8) = lossy(&e.name);
        let kind = if e.is_symlink() {
            MemberKind::Symlink
        } else if e.is_dir() {
            MemberKind::Dir
        } else {
            MemberKind::File
        };
        Member {
            unsafe_path: is_unsafe(&path),
            path,
            non_utf8,
            kind,
            size: e.size,
            compressed_size: Some(e.compressed),
            mtime: e.mtime,
            link_target: None,
            encrypted: e.encrypted(),
        }
    }
}

/// Whether a stored name is the one asked for: exactly, as its lossy UTF-8 form, or with
/// a leading `./` or trailing `/` on either side.
pub(crate) fn name_matches(stored: &[u8], wanted: &str) -> bool {
    if stored == wanted.as_bytes() {
        return true;
    }
    let norm = |s: &str| -> String {
        let s = s.trim_start_matches("./");
        s.strip_suffix('/').unwrap_or(s).to_string()
    };
    let stored = String::from_utf8_lossy(stored);
    !wanted.is_empty() && norm(&stored) == norm(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names() {
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "\\\\server\\x",
            "C:x",
            "a\\..\\b",
        ] {
            assert!(is_unsafe(bad), "{bad}");
        }
        for ok in ["a/b", "..a", "a..", "./a", "a/.../b"] {
            assert!(!is_unsafe(ok), "{ok}");
        }
    }

    #[test]
    fn matching() {
        assert!(name_matches(b"./a/b", "a/b"));
        assert!(name_matches(b"dir/", "dir"));
        assert!(name_matches(b"caf\xe9", "caf\u{fffd}"));
        assert!(!name_matches(b"a/b", "a"));
        assert!(!name_matches(b"./", ""));
    }
}
