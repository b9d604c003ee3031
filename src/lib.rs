//! cachet: an artifact cache with a SQLite registry and content-addressed blobs.
//!
//! The library has no knowledge of the CLI or the terminal UI; both are built on the
//! [`Cache`] facade.

pub mod attr;
pub mod error;
pub mod filter;
pub mod key;
pub mod registry;
pub mod status;

pub use attr::{AttrType, AttrValue, Attrs};
pub use error::{Error, Result};
pub use status::Status;
