//! The configuration file: TOML in the platform config dir (`~/.config/cachet/config.toml`
//! on Linux), or wherever `CACHET_CONFIG` points. Today it holds the default garbage
//! collection policy (`assets/config.toml` is a commented example, the defaults):
//!
//! ```toml
//! [gc]
//! trash = true        # or "7d": only items trashed longer ago; false: leave the trash
//! stale = "1d"        # stale writes and failures older than this; false: off
//! keep_last = 3
//! max_age = "90d"
//! max_size = "50GB"
//! orphans = true
//! grace = "1h"
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::gc::GcPolicy;
use crate::units;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub gc: GcConfig,
}

/// `[gc]`: defaults for `cachet gc` without policy flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GcConfig {
    pub trash: Option<Toggle>,
    pub stale: Option<Toggle>,
    pub keep_last: Option<u32>,
    pub max_age: Option<String>,
    pub max_size: Option<String>,
    pub orphans: Option<bool>,
    pub grace: Option<String>,
}

/// On, off, or on for things older than a duration.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Toggle {
    Flag(bool),
    Older(String),
}

impl Toggle {
    fn resolve(&self, what: &str, on: Duration) -> Result<Option<Duration>> {
        match self {
            Toggle::Flag(false) => Ok(None),
            Toggle::Flag(true) => Ok(Some(on)),
            Toggle::Older(s) if s == "all" => Ok(Some(Duration::ZERO)),
            Toggle::Older(s) => units::duration(what, s).map(Some),
        }
    }
}

/// Where the configuration file is read from.
pub fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CACHET_CONFIG") {
        return Some(PathBuf::from(p));
    }
    directories::BaseDirs::new().map(|b| b.config_dir().join("cachet").join("config.toml"))
}

/// Reads the file at `path`; a file that does not exist is an empty configuration.
pub fn load(path: &Path) -> Result<Config> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    toml::from_str(&text).map_err(|e| Error::invalid(path.display().to_string(), e.to_string()))
}

impl GcConfig {
    /// The policy this section describes, on top of the built-in defaults.
    pub fn policy(&self) -> Result<GcPolicy> {
        let mut p = GcPolicy::default();
        if let Some(t) = &self.trash {
            p.trash = t.resolve("gc.trash", Duration::ZERO)?;
        }
        if let Some(t) = &self.stale {
            p.stale = t.resolve("gc.stale", Duration::from_secs(86_400))?;
        }
        if let Some(n) = self.keep_last {
            p.keep_last = Some(n);
        }
        if let Some(d) = &self.max_age {
            p.max_age = Some(units::duration("gc.max_age", d)?);
        }
        if let Some(s) = &self.max_size {
            p.max_size = Some(units::size("gc.max_size", s)?);
        }
        if let Some(o) = self.orphans {
            p.orphans = o;
        }
        if let Some(g) = &self.grace {
            p.grace = units::duration("gc.grace", g)?;
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_gc_section_over_the_defaults() {
        let c: Config = toml::from_str(
            "[gc]\ntrash = \"7d\"\nstale = false\nkeep_last = 3\nmax_size = \"10GB\"\n",
        )
        .unwrap();
        let p = c.gc.policy().unwrap();
        assert_eq!(p.trash, Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(p.stale, None);
        assert_eq!(p.keep_last, Some(3));
        assert_eq!(p.max_size, Some(10_000_000_000));
        assert!(p.orphans, "untouched defaults stay");
    }

    /// `assets/config.toml`, the example the README points to.
    const SHIPPED: &str = include_str!("../assets/config.toml");

    #[test]
    fn the_shipped_example_is_the_defaults_and_each_line_left_out_works() {
        let c: Config = toml::from_str(SHIPPED).unwrap();
        assert_eq!(c.gc.policy().unwrap(), GcPolicy::default());
        // The policies off by default are there as `# name = value`: each, turned on,
        // must be read as what it says.
        let commented: Vec<&str> = (SHIPPED.lines())
            .filter_map(|l| l.strip_prefix("# "))
            .filter(|l| {
                l.split_once(" = ").is_some_and(|(name, _)| {
                    name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                })
            })
            .collect();
        assert_eq!(commented.len(), 3, "{commented:?}");
        let on = commented.iter().fold(SHIPPED.to_string(), |text, line| {
            text.replace(&format!("# {line}"), line)
        });
        let p = toml::from_str::<Config>(&on).unwrap().gc.policy().unwrap();
        assert_eq!(p.keep_last, Some(3));
        assert_eq!(p.max_age, Some(Duration::from_secs(90 * 86_400)));
        assert_eq!(p.max_size, Some(50_000_000_000));
    }

    #[test]
    fn bad_files_name_the_file_and_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[gc]\nkeep_lsat = 3\n").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(
            err.contains("config.toml") && err.contains("keep_lsat"),
            "{err}"
        );
        std::fs::write(&path, "[gc]\nmax_age = \"soon\"\n").unwrap();
        let err = load(&path).unwrap().gc.policy().unwrap_err().to_string();
        assert!(err.contains("gc.max_age"), "{err}");
        assert!(load(&dir.path().join("missing.toml")).is_ok());
    }
}
