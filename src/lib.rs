//! cachet: an artifact cache with a SQLite registry and content-addressed blobs.
//!
//! Open a [`Cache`], put content under a URI and params ([`NewItem`]), find it again by
//! key, id or attributes. The library has no knowledge of the CLI or the terminal UI;
//! both are built on the [`Cache`] facade.

pub mod attr;
pub mod blob;
pub mod cache;
pub mod config;
pub mod demo;
pub mod error;
pub mod filter;
pub mod gc;
pub mod key;
pub mod manifest;
pub mod preview;
pub mod registry;
pub mod status;
pub mod units;
pub mod verify;
pub mod writer;

pub use attr::{AttrType, AttrValue, Attrs};
pub use cache::{BestOrNew, Cache, CacheOpts, IngestContent, IngestItem};
pub use error::{Error, Result};
pub use registry::{Item, Lease, Link, LinkKind, ManifestInfo, NewItem};
pub use status::Status;
pub use writer::ItemWriter;
