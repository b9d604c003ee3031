//! Typed loading, as cas-manifest does: register a Rust type per manifest type, then load a
//! manifest by digest into the type its descriptor names.

use std::any::Any;
use std::collections::HashMap;

use super::read::{Entries, ReadOpts};
use super::{Descriptor, Entry};
use crate::cache::Cache;
use crate::error::{Error, Result};

/// A Rust type that a manifest of type [`ManifestType::TYPE`] loads into.
pub trait ManifestType: Sized + 'static {
    /// The descriptor's `type`.
    const TYPE: &'static str;

    /// Builds the value from the manifest's entries (refs resolved, descriptor skipped).
    fn from_entries(descriptor: &Descriptor, entries: Vec<Entry>) -> Result<Self>;
}

type Loader = Box<dyn Fn(&Descriptor, Vec<Entry>) -> Result<Box<dyn Any>>>;

/// The manifest types a program knows.
#[derive(Default)]
pub struct Loaders {
    by_type: HashMap<&'static str, Loader>,
}

impl Loaders {
    /// No types registered.
    pub fn new() -> Self {
        Loaders::default()
    }

    /// Registers `T` for manifests of type `T::TYPE`.
    pub fn register<T: ManifestType>(&mut self) -> &mut Self {
        self.by_type.insert(
            T::TYPE,
            Box::new(|d, entries| Ok(Box::new(T::from_entries(d, entries)?) as Box<dyn Any>)),
        );
        self
    }

    /// Whether a loader is registered for `manifest_type`.
    pub fn knows(&self, manifest_type: &str) -> bool {
        self.by_type.contains_key(manifest_type)
    }

    /// Loads the manifest blob `sha256` into whatever type its descriptor names.
    pub fn load(&self, cache: &Cache, sha256: &str) -> Result<Box<dyn Any>> {
        let descriptor = Descriptor::read(cache, sha256)?;
        let loader = self
            .by_type
            .get(descriptor.manifest_type.as_str())
            .ok_or_else(|| Error::Unsupported {
                what: format!(
                    "manifest type '{}' (registered: {})",
                    descriptor.manifest_type,
                    self.names()
                ),
            })?;
        let entries = Entries::open(cache, sha256, ReadOpts::default())?
            .map(|r| r.map(|l| l.entry))
            .collect::<Result<Vec<_>>>()?;
        loader(&descriptor, entries)
    }

    /// Loads the manifest blob `sha256` as `T`; a manifest of another type is an error.
    pub fn load_as<T: ManifestType>(&self, cache: &Cache, sha256: &str) -> Result<T> {
        let value = self.load(cache, sha256)?;
        value
            .downcast::<T>()
            .map(|b| *b)
            .map_err(|_| Error::Unsupported {
                what: format!("manifest {sha256} is not a '{}' manifest", T::TYPE),
            })
    }

    fn names(&self) -> String {
        let mut names: Vec<_> = self.by_type.keys().copied().collect();
        names.sort();
        names.join(", ")
    }
}
