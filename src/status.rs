//! The item lifecycle: UNINITIALIZED → WRITE → READY | FAILED, anything → TRASH,
//! TRASH → back to where it was (restore) or gone (purge).

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// Where an item version is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Registered, nobody writing yet.
    Uninitialized,
    /// A writer holds a lease and is producing the content.
    Write,
    /// Content is complete and its blob verified at commit.
    Ready,
    /// The writer gave up, died, or the content was found corrupt.
    Failed,
    /// Removed by a user; reversible until purged.
    Trash,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 5] = [
        Status::Uninitialized,
        Status::Write,
        Status::Ready,
        Status::Failed,
        Status::Trash,
    ];

    /// The name stored in the registry and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Uninitialized => "UNINITIALIZED",
            Status::Write => "WRITE",
            Status::Ready => "READY",
            Status::Failed => "FAILED",
            Status::Trash => "TRASH",
        }
    }

    /// The statuses an item may move to `self` from. Restore out of TRASH is not listed
    /// here: it goes back to the status recorded when the item was trashed.
    pub fn allowed_from(self) -> &'static [Status] {
        match self {
            Status::Uninitialized => &[],
            Status::Write => &[Status::Uninitialized],
            Status::Ready => &[Status::Write],
            // READY → FAILED is how verification marks content found corrupt on disk.
            Status::Failed => &[Status::Uninitialized, Status::Write, Status::Ready],
            Status::Trash => &[
                Status::Uninitialized,
                Status::Write,
                Status::Ready,
                Status::Failed,
            ],
        }
    }

    /// Whether the lifecycle allows `from → self`.
    pub fn can_follow(self, from: Status) -> bool {
        self.allowed_from().contains(&from)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::invalid(
                    format!("status '{s}'"),
                    "expected one of uninitialized, write, ready, failed, trash",
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_allows_only_documented_moves() {
        use Status::*;
        assert!(Write.can_follow(Uninitialized));
        assert!(Ready.can_follow(Write));
        assert!(Failed.can_follow(Write));
        assert!(!Ready.can_follow(Uninitialized));
        assert!(!Ready.can_follow(Failed));
        assert!(!Write.can_follow(Ready));
        assert!(!Trash.can_follow(Trash));
        for s in [Uninitialized, Write, Ready, Failed] {
            assert!(Trash.can_follow(s));
        }
    }

    #[test]
    fn parses_case_insensitively() {
        assert_eq!("ready".parse::<Status>().unwrap(), Status::Ready);
        assert_eq!("TRASH".parse::<Status>().unwrap(), Status::Trash);
        assert!("done".parse::<Status>().is_err());
    }
}
