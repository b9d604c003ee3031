//! What the browser remembers of a cache from one run to the next: the attribute columns
//! it showed and its sort. They live in `browser.toml` in the platform state dir
//! (`~/.local/state/cachet` on Linux), or wherever `CACHET_STATE` points: one entry per
//! cache root, the most recent first. A file that cannot be read is said and left alone;
//! the browser starts as it would without it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cachet::filter::SortSpec;
use serde::{Deserialize, Serialize};

use super::app::App;

/// Caches remembered at most: the oldest are forgotten.
const KEPT: usize = 32;

/// The whole file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    #[serde(default)]
    cache: Vec<Remembered>,
}

/// What is remembered of one cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Remembered {
    pub root: PathBuf,
    #[serde(default)]
    pub columns: Vec<String>,
    /// As `ls --sort` takes it (`-size`, `attr.score`).
    #[serde(default)]
    pub sort: String,
}

/// Where the state is kept, if anywhere can be found.
pub fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CACHET_STATE") {
        return Some(PathBuf::from(p));
    }
    let dirs = directories::BaseDirs::new()?;
    let dir = dirs.state_dir().unwrap_or(dirs.data_local_dir());
    Some(dir.join("cachet").join("browser.toml"))
}

fn read(path: &Path) -> Result<State> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    toml::from_str(&text).with_context(|| format!("reading {}", path.display()))
}

/// What the state at `path` remembers of the cache at `root`.
pub fn recall(path: &Path, root: &Path) -> Result<Option<Remembered>> {
    let root = canonical(root);
    Ok(read(path)?.cache.into_iter().find(|c| c.root == root))
}

/// `root` as the same cache is named however it is reached (`--root .` or a full path).
fn canonical(root: &Path) -> PathBuf {
    std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())
}

/// Keeps `this` at `path`, first, in place of what was remembered of its cache. The file
/// is replaced whole (written beside it, then renamed), so a reader never sees half. Two
/// browsers quitting at the same moment may each keep only their own cache's entry (the
/// last rename wins): a loss of columns and sort, which is all the file holds.
pub fn keep(path: &Path, this: Remembered) -> Result<()> {
    let mut state = read(path)?;
    state.cache.retain(|c| c.root != this.root);
    state.cache.insert(0, this);
    state.cache.truncate(KEPT);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let text = toml::to_string(&state).context("writing the browser's state")?;
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing in {}", dir.display()))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .with_context(|| format!("writing in {}", dir.display()))?;
    file.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// What the browser shows now, to remember.
pub fn of(app: &App, root: &Path) -> Remembered {
    Remembered {
        root: canonical(root),
        columns: app.columns.clone(),
        sort: app.list.query.sort.to_string(),
    }
}

/// Shows the remembered columns and sort, before the first page is asked for; a sort
/// that no longer reads (the file edited by hand) is said and left out.
pub fn apply(app: &mut App, remembered: Remembered) {
    app.columns = remembered.columns;
    if remembered.sort.is_empty() {
        return;
    }
    match remembered.sort.parse::<SortSpec>() {
        Ok(sort) => app.list.query.sort = sort,
        Err(e) => app.warn(format!("remembered sort: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(root: &Path, sort: &str) -> Remembered {
        Remembered {
            root: root.to_path_buf(),
            columns: vec!["rows".into()],
            sort: sort.into(),
        }
    }

    /// One entry per cache, the latest first, the oldest forgotten past [`KEPT`]; a file
    /// that cannot be read is an error, and left as it was.
    #[test]
    fn each_cache_is_remembered_once_and_a_bad_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("browser.toml");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        assert_eq!(recall(&path, &a).unwrap(), None, "nothing yet");
        keep(&path, entry(&a, "-size")).unwrap();
        keep(&path, entry(&b, "id")).unwrap();
        keep(&path, entry(&a, "attr.rows")).unwrap();
        assert_eq!(recall(&path, &a).unwrap(), Some(entry(&a, "attr.rows")));
        let state = read(&path).unwrap();
        let roots: Vec<&Path> = state.cache.iter().map(|c| c.root.as_path()).collect();
        assert_eq!(roots, [a.as_path(), b.as_path()]);
        for i in 0..KEPT + 3 {
            keep(&path, entry(&dir.path().join(i.to_string()), "id")).unwrap();
        }
        assert_eq!(read(&path).unwrap().cache.len(), KEPT);
        assert_eq!(recall(&path, &a).unwrap(), None, "the oldest forgotten");

        std::fs::write(&path, "not [toml").unwrap();
        let err = recall(&path, &a).unwrap_err();
        assert!(format!("{err:#}").contains("browser.toml"), "{err:#}");
        assert!(keep(&path, entry(&a, "id")).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not [toml");
    }

    /// What is recalled shows; a sort that does not read (edited by hand) is said and the
    /// list keeps its own.
    #[test]
    fn a_sort_that_does_not_read_is_said() {
        let mut app = App::new("root", chrono::Utc::now(), (80, 24));
        apply(&mut app, entry(Path::new("root"), "-size"));
        assert_eq!(
            (
                app.columns.as_slice(),
                app.list.query.sort.to_string().as_str()
            ),
            (&["rows".to_string()][..], "-size")
        );
        let mut app = App::new("root", chrono::Utc::now(), (80, 24));
        apply(&mut app, entry(Path::new("root"), "no such!"));
        assert_eq!(app.list.query.sort, SortSpec::default());
        let said = app.message.map(|m| m.text).unwrap_or_default();
        assert!(said.starts_with("remembered sort:"), "{said}");
    }
}
