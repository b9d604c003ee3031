//! The worker thread: runs [`Effect`]s that touch the cache and sends the results back
//! as [`Action`]s. It owns its own [`Cache`]; the UI thread never waits on it.
//!
//! Requests that pile up while it is busy are thinned before they run: only the newest
//! list generation's pages, the newest filter, and the last versions lookup survive.
//! Filters typed fast are debounced lightly, and a new one stops the query of the one
//! before if it still runs ([`running`]). Counts run on a thread of their own
//! ([`spawn_counter`]), so that a slow exact count never holds up a page.

#[path = "worker/counts.rs"]
pub mod counts;
#[path = "worker/gc.rs"]
pub mod gc;
#[path = "worker/ops.rs"]
mod ops;
#[path = "worker/pages.rs"]
mod pages;
#[path = "worker/running.rs"]
mod running;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use cachet::Cache;
use cachet::registry::Access;
use chrono::Utc;

use super::Msg;
use super::inspect::{EntryRow, MAX_ENTRIES, ManifestRequest, ManifestView};
use super::preview::PreviewRequest;
use super::source::Source;
use super::update::{Action, Effect};

pub use counts::spawn_counter;
use running::Running;

/// The way to a worker thread: effects sent run in order, and one that makes the job
/// running now pointless (its answer would be dropped on arrival) stops it.
pub struct Queue<T> {
    tx: Sender<Effect>,
    running: Running<T>,
    /// Whether an effect just sent makes the running job, tagged `T`, pointless.
    supersedes: fn(&Effect, &T) -> bool,
    /// The worker, to be waited for when the browser closes (so its connection closes).
    thread: JoinHandle<()>,
    /// Raised when the browser closes: the worker runs nothing more of what it was sent.
    closing: Arc<AtomicBool>,
}

impl<T> Queue<T> {
    /// Queues `effect`; false when the worker is gone.
    pub fn send(&self, effect: Effect) -> bool {
        self.running.stop_if(|job| (self.supersedes)(&effect, job));
        self.tx.send(effect).is_ok()
    }

    /// Stops the running job and drops what waits, and lets the worker end once it has
    /// (its queue closes).
    pub fn close(self) -> JoinHandle<()> {
        self.closing.store(true, Ordering::Relaxed);
        self.running.stop_if(|_| true);
        self.thread
    }
}

/// Opens the cache at `root` for one of the browser's threads (`what` for); when it cannot
/// be, says so to the browser, and gives none.
fn open_for(root: &Path, what: &str, out: &Sender<Msg>) -> Option<Cache> {
    match Cache::open_to_read(root) {
        Ok(cache) => Some(cache),
        Err(e) => {
            let failed = format!("opening the cache {what}: {e}");
            let _ = out.send(Msg::Action(Action::JobFailed(failed)));
            None
        }
    }
}

/// Starts the worker on the cache at `root`; a filter sent stops an older one.
pub fn spawn(root: PathBuf, out: Sender<Msg>) -> Queue<u64> {
    let (tx, rx) = std::sync::mpsc::channel();
    let filters = Running::default();
    let running = filters.clone();
    let closing = Arc::new(AtomicBool::new(false));
    let stop = closing.clone();
    let thread = std::thread::spawn(move || {
        let Some(cache) = open_for(&root, &format!("at {}", root.display()), &out) else {
            return;
        };
        let source = Source::new(cache);
        running.attach(source.cache().registry().db().conn.get_interrupt_handle());
        serve(&source, &rx, &out, &running, &stop);
    });
    Queue {
        tx,
        running: filters,
        supersedes: |effect, &seq| matches!(effect, Effect::Filter(r) if r.seq > seq),
        thread,
        closing,
    }
}

/// Filters typed faster than this apart wait this long for the next keystroke.
const DEBOUNCE: Duration = Duration::from_millis(25);

fn serve(
    source: &Source,
    rx: &Receiver<Effect>,
    out: &Sender<Msg>,
    filters: &Running<u64>,
    closing: &AtomicBool,
) {
    let mut last_filter: Option<Instant> = None;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        // Typing fast: let the next keystroke come before querying for this one.
        while batch.iter().any(|e| matches!(e, Effect::Filter(_)))
            && last_filter.is_some_and(|t| t.elapsed() < DEBOUNCE * 4)
        {
            match rx.recv_timeout(DEBOUNCE) {
                Ok(e) => batch.push(e),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        if batch.iter().any(|e| matches!(e, Effect::Filter(_))) {
            last_filter = Some(Instant::now());
        }
        for effect in thin(batch) {
            if closing.load(Ordering::Relaxed) {
                return;
            }
            let action = match &effect {
                Effect::Filter(req) => filters.run(req.seq, || run(source, effect)),
                _ => Some(run(source, effect)),
            };
            let Some(action) = action else {
                continue; // stopped: a newer filter is on its way
            };
            if out.send(Msg::Action(action)).is_err() {
                return;
            }
        }
    }
}

/// Drops requests that newer ones in the same batch make pointless.
fn thin(batch: Vec<Effect>) -> Vec<Effect> {
    let newest = batch
        .iter()
        .filter_map(|e| match e {
            Effect::LoadPage(r) => Some(r.generation),
            _ => None,
        })
        .max();
    let last = |f: fn(&Effect) -> bool| batch.iter().rposition(f);
    let last_versions = last(|e| matches!(e, Effect::LoadVersions { .. }));
    let last_filter = last(|e| matches!(e, Effect::Filter(_)));
    let last_count = last(|e| matches!(e, Effect::Count { .. }));
    let mut out = Vec::with_capacity(batch.len());
    for (i, effect) in batch.into_iter().enumerate() {
        let keep = match &effect {
            Effect::LoadPage(r) => Some(r.generation) == newest,
            Effect::LoadVersions { .. } => Some(i) == last_versions,
            Effect::Filter(_) => Some(i) == last_filter,
            Effect::Count { .. } => Some(i) == last_count,
            _ => true,
        };
        if keep {
            out.push(effect);
        }
    }
    out
}

/// The most rows `a` marks at once: marks are held, counted and sized in the browser, and
/// acted on in one confirmation.
pub const MARK_ALL_CAP: usize = 100_000;

/// Runs one effect; every failure becomes an action the user sees.
pub fn run(source: &Source, effect: Effect) -> Action {
    match effect {
        Effect::Count { filter, exact, .. } => match source.counts(&filter, exact, Utc::now()) {
            Ok(counts) => Action::Counted {
                filter: filter.as_str().to_string(),
                counts,
            },
            Err(e) => Action::JobFailed(format!("counting items: {e:#}")),
        },
        Effect::Filter(req) => Action::Filtered {
            seq: req.seq,
            result: pages::filter_job(source, req).map(Box::new),
        },
        Effect::LoadPage(req) => {
            let generation = req.generation;
            match pages::load_page(source, req) {
                Ok(data) => Action::PageLoaded(data),
                Err(e) => Action::PageFailed {
                    generation,
                    message: format!("{e:#}"),
                },
            }
        }
        Effect::LoadVersions { key } => match source.cache().versions(&key) {
            Ok(items) => {
                let db = source.cache().registry().db();
                // A version whose manifest row cannot be read is shown without it.
                let manifests = (items.iter())
                    .filter_map(|i| db.manifest_info(i.id).ok().flatten().map(|m| (i.id, m)))
                    .collect();
                Action::VersionsLoaded {
                    key,
                    items,
                    manifests,
                }
            }
            Err(e) => Action::JobFailed(format!("listing versions: {e}")),
        },
        Effect::Plan { op, ids } => match ops::plan(source.cache(), op, &ids) {
            Ok(p) => Action::Planned(p),
            Err(e) => Action::JobFailed(format!("{} failed: {e:#}", op.verb())),
        },
        Effect::Apply(plan) => ops::apply(source.cache(), &plan),
        Effect::CopyOf { id, key } => ops::copy_of(source.cache(), id, key),
        // Terminal output is the runtime's; it never reaches the worker.
        Effect::Clipboard(_) => Action::JobFailed("clipboard request sent to the worker".into()),
        // Normally run on the preview thread (see `spawn_preview`); here without a cancel.
        Effect::LoadPreview(req) => preview(source.cache(), &req, None),
        Effect::LoadManifest(req) => Action::ManifestLoaded {
            seq: req.seq,
            result: read_manifest(source.cache(), &req).map(Box::new),
        },
        Effect::FindBlob { sha, name, seq } => {
            let found = source
                .cache()
                .registry()
                .db()
                .conn
                .prepare_cached("SELECT id FROM items WHERE sha256 = ?1 ORDER BY id DESC LIMIT 1")
                .and_then(|mut st| {
                    use rusqlite::OptionalExtension;
                    st.query_row([&sha], |r| r.get::<_, i64>(0)).optional()
                });
            match found {
                Ok(id) => Action::Jumped {
                    item: id.and_then(|id| source.cache().get(id).ok()).map(Box::new),
                    sha,
                    name,
                    seq,
                },
                Err(e) => Action::JobFailed(format!("looking up blob {sha}: {e}")),
            }
        }
        Effect::MarkAll(query) => {
            let result = match source.rows_and_sizes(&query, MARK_ALL_CAP, Utc::now()) {
                Ok(Some(rows)) => Ok(rows),
                Ok(None) => Err(format!(
                    "over {MARK_ALL_CAP} rows, not marked: narrow the filter, or use the CLI \
                     (cachet trash FILTER)"
                )),
                Err(e) => Err(format!("marking the list: {e:#}")),
            };
            Action::MarkedAll { query, result }
        }
        Effect::LoadColumns => match source.attr_names() {
            Ok(names) => Action::ColumnsLoaded(names),
            Err(e) => Action::JobFailed(format!("reading attribute names: {e:#}")),
        },
        // Normally each on a thread of its own (see `gc::spawn_plan` and `gc::spawn_apply`),
        // here in turn, without progress.
        Effect::PlanGc { policy, asked } => gc::plan(source.cache(), &policy, asked),
        Effect::ApplyGc(plan) => gc::apply(source.cache(), &plan, &mut |_| {}),
    }
}

/// Reads up to [`MAX_ENTRIES`] entries of a manifest item for the inspector.
fn read_manifest(cache: &Cache, req: &ManifestRequest) -> Result<ManifestView, String> {
    let item = cache.get(req.id).map_err(|e| e.to_string())?;
    let info = cache
        .registry()
        .db()
        .manifest_info(req.id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "item {} is not a manifest (m goes back to its detail)",
                req.id
            )
        })?;
    let sha = cachet::manifest::manifest_sha(&item).map_err(|e| e.to_string())?;
    let opts = cachet::manifest::ReadOpts {
        resolve_refs: req.follow_refs,
        expand_shards: req.expand_shards,
        ..Default::default()
    };
    let entries = cachet::manifest::Entries::open(cache, sha, opts).map_err(|e| e.to_string())?;
    let mut view = ManifestView {
        manifest_type: info.manifest_type,
        rows: Vec::new(),
        entries: 0,
        truncated: false,
        errors: Vec::new(),
    };
    // Rows above a shard's members and a followed ref's entries, where their own rows
    // stood (with the archive's or manifest's digest, so `enter` finds an item holding it).
    let mut heads = cachet::manifest::Heads::default();
    for entry in entries {
        if view.entries >= MAX_ENTRIES {
            view.truncated = true;
            break;
        }
        match entry {
            Ok(located) => {
                if let Some(head) = heads.before(&located) {
                    view.rows.push(EntryRow {
                        depth: head.depth,
                        kind: head.kind.to_string(),
                        followed: head.kind == "manifest_ref",
                        key: head.key,
                        size: None,
                        sha256: Some(head.sha256),
                        in_shard: None,
                    });
                }
                view.entries += 1;
                view.rows.push(EntryRow {
                    depth: located.depth,
                    kind: located.entry.kind().to_string(),
                    key: located.entry.key().to_string(),
                    size: located.entry.size(),
                    sha256: located.entry.sha256().map(str::to_string),
                    in_shard: (located.shard.clone()).map(|key| (located.source.clone(), key)),
                    followed: false,
                });
            }
            Err(e) => view.errors.push(e.to_string()),
        }
    }
    Ok(view)
}

/// A preview job and the flag that cancels it.
pub type PreviewJob = (PreviewRequest, Arc<AtomicBool>);

/// Starts the preview thread: only the newest waiting job runs, and a running one stops
/// when its flag is raised (the runtime raises it when the next job comes).
pub fn spawn_preview(root: PathBuf, out: Sender<Msg>) -> (Sender<PreviewJob>, JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel::<PreviewJob>();
    let thread = std::thread::spawn(move || {
        let Some(cache) = open_for(&root, "for previews", &out) else {
            return;
        };
        while let Ok(first) = rx.recv() {
            let Some((req, cancel)) = std::iter::once(first).chain(rx.try_iter()).last() else {
                continue;
            };
            let action = preview(&cache, &req, Some(cancel));
            if out.send(Msg::Action(action)).is_err() {
                return;
            }
        }
    });
    (tx, thread)
}

/// Previews an item, or a member of its archive.
pub fn preview(cache: &Cache, req: &PreviewRequest, cancel: Option<Arc<AtomicBool>>) -> Action {
    let opts = cachet::preview::PreviewOpts {
        max_lines: 500,
        max_bytes: 256 * 1024,
        max_entries: 5_000,
        cancel,
        ..Default::default()
    };
    let open = |path: &std::path::Path, name: &str| match &req.member {
        None => cachet::preview::open(path, Some(name), &opts),
        Some(m) => cachet::preview::member(path, Some(name), m, &opts),
    };
    let result = match &req.blob {
        Some(blob) => (cache.blobs().path(&blob.sha256))
            .and_then(|path| {
                if path.is_file() {
                    Ok(path)
                } else {
                    Err(cachet::Error::invalid(
                        format!("blob {}", cachet::key::abbrev(&blob.sha256, 12)),
                        format!("is missing from the store ({})", path.display()),
                    ))
                }
            })
            .and_then(|path| open(&path, &blob.name)),
        None => cache.get(req.id).and_then(|item| {
            let path = cache.content_path(&item)?;
            // The file name, or the URI's last segment: shown, and a format hint.
            open(&path, item.file_name())
        }),
    }
    .map(Box::new)
    .map_err(|e| e.to_string());
    Action::PreviewLoaded {
        seq: req.seq,
        result,
    }
}

/// Watches the registry for changes made by anyone (another process, or our worker) and
/// sends [`Action::Changed`]; sends the time now and then so ages and leases move on. It
/// stops when the sender it returns is dropped. `access` is what the cache was opened for.
pub fn watch(
    root: &Path,
    access: Access,
    out: Sender<Msg>,
) -> Result<(Sender<()>, JoinHandle<()>)> {
    let path = root.join(cachet::cache::REGISTRY_FILE);
    let conn = match access {
        // A cache that can be written is watched on a connection of its own that reads
        // only, never on a snapshot, which sees no change (`read_only_connection` falls
        // back to one on an error at its first read, which may be a passing one here).
        Access::ReadWrite => rusqlite::Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map(Some)
        .map_err(anyhow::Error::from),
        Access::ReadOnly => cachet::registry::read_only_connection(&path)
            .map(|(conn, _)| Some(conn))
            .map_err(anyhow::Error::from),
        // A snapshot never changes: only the clock is kept.
        Access::Snapshot => Ok(None),
    }
    .with_context(|| format!("opening {} to watch it", path.display()))?;
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let version = |c: &Option<rusqlite::Connection>| {
            c.as_ref()?
                .query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))
                .ok()
        };
        let mut last = version(&conn);
        let mut ticks = 0u32;
        loop {
            match stopped.recv_timeout(Duration::from_millis(250)) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            ticks += 1;
            let now = version(&conn);
            let msg = if now != last {
                last = now;
                Some(Action::Changed)
            } else if ticks.is_multiple_of(40) {
                Some(Action::Clock(Utc::now()))
            } else {
                None
            };
            if let Some(action) = msg
                && out.send(Msg::Action(action)).is_err()
            {
                return;
            }
        }
    });
    Ok((stop, thread))
}
