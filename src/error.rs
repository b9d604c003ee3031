//! The library's one error type. Every variant carries the context a user needs to act:
//! the path, the item, the line. The CLI and TUI wrap it with anyhow at their edges.

use std::io;
use std::path::{Path, PathBuf};

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong inside the library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file system operation failed on `path`.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },

    /// SQLite failed while doing `context` on the registry at `path`.
    #[error("registry {path}: {context}: {source}")]
    Sqlite {
        path: PathBuf,
        context: &'static str,
        source: rusqlite::Error,
    },

    /// The registry file exists but is not a cachet registry (another program's database,
    /// or not SQLite at all).
    #[error("{path} is not a cachet registry: {reason}")]
    ForeignRegistry { path: PathBuf, reason: String },

    /// The registry was written by a newer cachet; we refuse to touch it.
    #[error(
        "registry {path} has schema version {found}, this cachet understands up to {supported}: upgrade cachet"
    )]
    RegistryTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },

    /// The cache was opened to read only (its directory cannot be written), and a change
    /// was asked of it.
    #[error("registry {path}: the cache is read-only here (its directory cannot be written)")]
    ReadOnlyCache { path: PathBuf },

    /// No item, blob or member matched.
    #[error("not found: {what}")]
    NotFound { what: String },

    /// A prefix matched more than one key. `hint` says how to name one of them (or is
    /// empty).
    #[error("'{prefix}' is ambiguous: it matches {}{hint}", candidates.join(", "))]
    Ambiguous {
        prefix: String,
        candidates: Vec<String>,
        hint: String,
    },

    /// A status change that the lifecycle forbids.
    #[error("item {id}: {}", match (from, to) {
        (crate::Status::Trash, crate::Status::Trash) => "is in the trash already".to_string(),
        (from, to) if from == to => format!("is {to} already"),
        (from, to) => format!("cannot go from {from} to {to}"),
    })]
    InvalidTransition {
        id: i64,
        from: crate::Status,
        to: crate::Status,
    },

    /// Only an item in the trash can be restored.
    #[error("item {id} is not in the trash (it is {status})")]
    NotInTrash { id: i64, status: crate::Status },

    /// Content on disk is not what the registry says: `actual` says how (it hashes to
    /// another digest, it has another size).
    #[error("{path}: content altered: {actual}, expected {expected}")]
    Integrity {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    /// The registry names a blob that is not on disk.
    #[error("blob {sha256} is missing (expected at {path})")]
    MissingBlob { sha256: String, path: PathBuf },

    /// A user-supplied value (attribute, parameter, item reference, size, …) is malformed.
    #[error("{what}: {message}")]
    InvalidInput { what: String, message: String },

    /// A filter expression is malformed, or a value does not fit its attribute's type.
    /// `pos` is the character (not byte) index in `input` that the message is about; the
    /// message shows the input with a caret under it.
    #[error("{}", caret_message(input, *pos, message))]
    Filter {
        input: String,
        pos: usize,
        message: String,
    },

    /// A line of a line-oriented input (NDJSON import, JSONL manifest) is malformed.
    #[error("{path}:{line}: {message}")]
    BadLine {
        path: PathBuf,
        line: u64,
        message: String,
    },

    /// An archive or compressed stream is corrupt or truncated.
    #[error("{path}: {message}")]
    Archive { path: PathBuf, message: String },

    /// A format or feature we recognise but do not handle.
    #[error("unsupported: {what}")]
    Unsupported { what: String },

    /// A cancel flag was raised while the operation ran.
    #[error("cancelled")]
    Cancelled,
}

impl Error {
    /// Whether this refuses one item (it is not there, or not in a status for the change)
    /// rather than says the registry itself failed.
    pub fn is_about_an_item(&self) -> bool {
        matches!(
            self,
            Error::NotFound { .. } | Error::InvalidTransition { .. } | Error::NotInTrash { .. }
        )
    }

    /// Whether the registry refused a write because it is read-only (its file, the medium
    /// it is on, or a cache opened to read only).
    pub fn is_read_only(&self) -> bool {
        match self {
            Error::ReadOnlyCache { .. } => true,
            Error::Sqlite { source, .. } => {
                source.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly)
            }
            _ => false,
        }
    }

    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(what: impl Into<String>, message: impl Into<String>) -> Self {
        Error::InvalidInput {
            what: what.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(what: impl Into<String>) -> Self {
        Error::NotFound { what: what.into() }
    }
}

/// `message`, then `input` on its own line with a `^` under character `pos`. Control
/// characters are shown as spaces so the caret stays under the right character.
fn caret_message(input: &str, pos: usize, message: &str) -> String {
    let shown: String = input
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let pad = " ".repeat(pos.min(shown.chars().count()));
    format!(
        "invalid filter: {message}
  {shown}
  {pad}^"
    )
}

/// What a failed write to a caller's stream (standard output, a file it opened) names:
/// none of the cache's files, which the bytes were read from.
pub const OUTPUT: &str = "<output>";

/// Attaches a path to an `io::Result`, so no I/O error reaches the user without one.
pub trait IoResultExt<T> {
    /// Converts the error into [`Error::Io`] naming `path`.
    fn at(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoResultExt<T> for io::Result<T> {
    fn at(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        })
    }
}
