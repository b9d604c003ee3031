//! The worker thread: runs [`Effect`]s that touch the cache and sends the results back
//! as [`Action`]s. It owns its own [`Cache`]; the UI thread never waits on it.
//!
//! Requests that pile up while it is busy are thinned before they run: only the newest
//! list generation's pages, one count, and the last versions lookup survive.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use anyhow::{Context, Result};
use cachet::{Cache, Status};
use chrono::Utc;

use super::Msg;
use super::app::{Op, Plan};
use super::inspect::{EntryRow, MAX_ENTRIES, ManifestRequest, ManifestView};
use super::list::{Fetch, PAGE, PageData, PageRequest};
use super::preview::PreviewRequest;
use super::source::Source;
use super::update::{Action, Effect};

/// Starts the worker on the cache at `root`; effects sent to the returned channel run
/// in order.
pub fn spawn(root: PathBuf, out: Sender<Msg>) -> Sender<Effect> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let source = match Cache::open(&root) {
            Ok(cache) => Source::new(cache),
            Err(e) => {
                let _ = out.send(Msg::Action(Action::JobFailed(format!(
                    "opening the cache at {}: {e}",
                    root.display()
                ))));
                return;
            }
        };
        serve(&source, &rx, &out);
    });
    tx
}

fn serve(source: &Source, rx: &Receiver<Effect>, out: &Sender<Msg>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        for effect in thin(batch) {
            let action = run(source, effect);
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
    let last_versions = batch
        .iter()
        .rposition(|e| matches!(e, Effect::LoadVersions { .. }));
    let mut counted = false;
    let mut out = Vec::with_capacity(batch.len());
    for (i, effect) in batch.into_iter().enumerate() {
        let keep = match &effect {
            Effect::LoadPage(r) => Some(r.generation) == newest,
            Effect::LoadVersions { .. } => Some(i) == last_versions,
            Effect::Count => !std::mem::replace(&mut counted, true),
            _ => true,
        };
        if keep {
            out.push(effect);
        }
    }
    out
}

/// Runs one effect; every failure becomes an action the user sees.
pub fn run(source: &Source, effect: Effect) -> Action {
    match effect {
        Effect::Count => match source.counts(Utc::now()) {
            Ok(c) => Action::Counted(c),
            Err(e) => Action::JobFailed(format!("counting items: {e:#}")),
        },
        Effect::LoadPage(req) => {
            let generation = req.generation;
            match load_page(source, req) {
                Ok(data) => Action::PageLoaded(data),
                Err(e) => Action::PageFailed {
                    generation,
                    message: format!("{e:#}"),
                },
            }
        }
        Effect::LoadVersions { key } => match source.cache().versions(&key) {
            Ok(items) => Action::VersionsLoaded { key, items },
            Err(e) => Action::JobFailed(format!("listing versions: {e}")),
        },
        Effect::Plan { op, ids } => match plan(source.cache(), op, &ids) {
            Ok(p) => Action::Planned(p),
            Err(e) => Action::JobFailed(format!("{} failed: {e:#}", op.verb())),
        },
        Effect::Apply(plan) => apply(source.cache(), &plan),
        Effect::CopyOf { id, key } => copy_of(source.cache(), id, key),
        // Terminal output is the runtime's; it never reaches the worker.
        Effect::Clipboard(_) => Action::JobFailed("clipboard request sent to the worker".into()),
        // Normally run on the preview thread (see `spawn_preview`); here without a cancel.
        Effect::LoadPreview(req) => preview(source.cache(), &req, None),
        Effect::LoadManifest(req) => Action::ManifestLoaded {
            seq: req.seq,
            result: read_manifest(source.cache(), &req).map(Box::new),
        },
        Effect::FindBlob { sha } => {
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
                },
                Err(e) => Action::JobFailed(format!("looking up blob {sha}: {e}")),
            }
        }
        Effect::LoadColumns => match source.attr_names() {
            Ok(names) => Action::ColumnsLoaded(names),
            Err(e) => Action::JobFailed(format!("reading attribute names: {e:#}")),
        },
        Effect::PlanGc(policy) => Action::GcPlanned(
            cachet::gc::plan(source.cache(), &policy, Utc::now())
                .map(Box::new)
                .map_err(|e| format!("planning: {e}")),
        ),
        // Normally on a thread of its own (see `spawn_gc`), here without progress.
        Effect::ApplyGc(plan) => gc_apply(source.cache(), &plan, &mut |_| {}),
    }
}

fn load_page(source: &Source, req: PageRequest) -> Result<PageData> {
    let now = Utc::now();
    let (from, after) = match &req.fetch {
        Fetch::Forward { from, after } => (*from, after.clone()),
        Fetch::Backward { next } => {
            let (ids, start) = source.before(&req.query, next, PAGE, now)?;
            return Ok(PageData {
                generation: req.generation,
                asked: req.page,
                page: req.page,
                items: source.items(&ids)?,
                cursors: start.map(|c| (req.page, c)).into_iter().collect(),
                last: false,
            });
        }
        Fetch::Tail { rows } => {
            let (ids, start) = source.tail(&req.query, *rows, now)?;
            return Ok(PageData {
                generation: req.generation,
                asked: req.page,
                page: req.page,
                items: source.items(&ids)?,
                cursors: start.map(|c| (req.page, c)).into_iter().collect(),
                last: true,
            });
        }
    };
    let mut cursors = Vec::new();
    let mut after = after;
    let mut page = from;
    if req.page > from {
        let skipped = source.skip(&req.query, after.as_ref(), req.page - from, PAGE, now)?;
        for (i, c) in skipped.iter().enumerate() {
            cursors.push((from + i + 1, c.clone()));
        }
        page = from + skipped.len();
        if let Some(c) = skipped.last() {
            after = Some(c.clone());
        }
    }
    let ids = source.page(&req.query, after.as_ref(), PAGE, now)?;
    if let Some(next) = &ids.next {
        cursors.push((page + 1, next.clone()));
    }
    Ok(PageData {
        generation: req.generation,
        asked: req.page,
        page,
        items: source.items(&ids.ids)?,
        cursors,
        last: ids.next.is_none(),
    })
}

/// Applies a gc plan on a thread of its own (with its own cache), sending progress and
/// then the report.
pub fn spawn_gc(root: PathBuf, plan: cachet::gc::GcPlan, out: Sender<Msg>) {
    std::thread::spawn(move || {
        let action = match Cache::open(&root) {
            Ok(cache) => gc_apply(&cache, &plan, &mut |a| {
                let _ = out.send(Msg::Action(a));
            }),
            Err(e) => Action::GcApplied(Err(format!("opening the cache: {e}"))),
        };
        let _ = out.send(Msg::Action(action));
    });
}

/// Applies `plan`, reporting progress through `progress`.
pub fn gc_apply(
    cache: &Cache,
    plan: &cachet::gc::GcPlan,
    progress: &mut dyn FnMut(Action),
) -> Action {
    let outcome = cachet::gc::apply(
        cache,
        plan,
        &mut |p| {
            progress(Action::GcProgress {
                done: p.done,
                total: p.total,
            })
        },
        None,
    );
    Action::GcApplied(outcome.map(Box::new).map_err(|e| format!("applying: {e}")))
}

/// Reads up to [`MAX_ENTRIES`] entries of a manifest item for the inspector.
fn read_manifest(cache: &Cache, req: &ManifestRequest) -> Result<ManifestView, String> {
    let item = cache.get(req.id).map_err(|e| e.to_string())?;
    let info = cache
        .registry()
        .db()
        .manifest_info(req.id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("item {} is not a manifest (m shows manifests)", req.id))?;
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
        truncated: false,
        errors: Vec::new(),
    };
    for entry in entries {
        if view.rows.len() >= MAX_ENTRIES {
            view.truncated = true;
            break;
        }
        match entry {
            Ok(located) => view.rows.push(EntryRow {
                depth: located.depth + usize::from(located.shard.is_some()),
                kind: located.entry.kind().to_string(),
                key: located.entry.key().to_string(),
                size: located.entry.size(),
                sha256: located.entry.sha256().map(str::to_string),
            }),
            Err(e) => view.errors.push(e.to_string()),
        }
    }
    Ok(view)
}

/// A preview job and the flag that cancels it.
pub type PreviewJob = (PreviewRequest, Arc<AtomicBool>);

/// Starts the preview thread: only the newest waiting job runs, and a running one stops
/// when its flag is raised (the runtime raises it when the next job comes).
pub fn spawn_preview(root: PathBuf, out: Sender<Msg>) -> Sender<PreviewJob> {
    let (tx, rx) = std::sync::mpsc::channel::<PreviewJob>();
    std::thread::spawn(move || {
        let cache = match Cache::open(&root) {
            Ok(cache) => cache,
            Err(e) => {
                let _ = out.send(Msg::Action(Action::JobFailed(format!(
                    "opening the cache for previews: {e}"
                ))));
                return;
            }
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
    tx
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
    let result = cache
        .get(req.id)
        .and_then(|item| {
            let path = cache.content_path(&item)?;
            let name = item.filename.clone();
            match &req.member {
                None => cachet::preview::open(&path, name.as_deref(), &opts),
                Some(m) => cachet::preview::member(&path, name.as_deref(), m, &opts),
            }
        })
        .map(Box::new)
        .map_err(|e| e.to_string());
    Action::PreviewLoaded {
        seq: req.seq,
        result,
    }
}

/// Works out what `op` on `ids` would do, without doing it.
pub fn plan(cache: &Cache, op: Op, ids: &[i64]) -> Result<Plan> {
    let items = cache.get_many(ids).context("reading the items")?;
    let mut plan = Plan {
        op,
        ids: Vec::new(),
        skipped: Vec::new(),
        bytes: 0,
        exclusive: 0,
        pinned: 0,
    };
    let mut chosen = Vec::new();
    for item in items {
        let why = match (op, item.status) {
            (Op::Trash, Status::Trash) => Some("is already in the trash"),
            (Op::Restore | Op::Purge, s) if s != Status::Trash => Some("is not in the trash"),
            _ => None,
        };
        match why {
            Some(why) => plan.skipped.push((item.id, why.to_string())),
            None => {
                plan.ids.push(item.id);
                plan.bytes += item.size.unwrap_or(0);
                plan.pinned += usize::from(item.pinned);
                chosen.push(item);
            }
        }
    }
    if op == Op::Purge {
        plan.exclusive = exclusive_bytes(cache, &chosen)?;
    }
    Ok(plan)
}

/// Bytes of the blobs that only these items reference: no other item holds them as
/// content and no manifest outside the set links to them.
fn exclusive_bytes(cache: &Cache, items: &[cachet::Item]) -> Result<u64> {
    let conn = &cache.registry().db().conn;
    let chosen: HashSet<i64> = items.iter().map(|i| i.id).collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for item in items {
        let (Some(sha), Some(size)) = (&item.sha256, item.size) else {
            continue;
        };
        if !seen.insert(sha.clone()) {
            continue;
        }
        let holders: Vec<i64> = conn
            .prepare_cached(
                "SELECT id FROM items WHERE sha256 = ?1 UNION SELECT item_id FROM links WHERE sha256 = ?1",
            )
            .and_then(|mut st| {
                st.query_map([sha], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .context("counting blob references")?;
        if holders.iter().all(|id| chosen.contains(id)) {
            total += size;
        }
    }
    Ok(total)
}

fn apply(cache: &Cache, plan: &Plan) -> Action {
    let mut items = Vec::new();
    let mut errors = Vec::new();
    let mut freed = 0;
    for &id in &plan.ids {
        let result = match plan.op {
            Op::Trash => cache.trash(id),
            Op::Restore => cache.restore(id),
            Op::Pin => cache.pin(id, true),
            Op::Unpin => cache.pin(id, false),
            Op::Purge => cache.purge(id).map(|(item, blob_deleted)| {
                if blob_deleted {
                    freed += item.size.unwrap_or(0);
                }
                item
            }),
        };
        match result {
            Ok(item) => items.push(item),
            Err(e) => errors.push(format!("item {id}: {e}")),
        }
    }
    Action::Applied {
        op: plan.op,
        items,
        errors,
        freed,
    }
}

fn copy_of(cache: &Cache, id: i64, key: bool) -> Action {
    let item = match cache.get(id) {
        Ok(item) => item,
        Err(e) => return Action::JobFailed(e.to_string()),
    };
    if key {
        return Action::Copied {
            text: item.key,
            what: "key".into(),
        };
    }
    match cache.content_path(&item) {
        Ok(path) => Action::Copied {
            text: path.display().to_string(),
            what: "path".into(),
        },
        Err(e) => Action::JobFailed(format!("no content path: {e} (Y copies the key)")),
    }
}

/// Watches the registry for changes made by anyone (another process, or our worker) and
/// sends [`Action::Changed`]; sends the time now and then so ages and leases move on.
pub fn watch(root: &Path, out: Sender<Msg>) -> Result<()> {
    let path = root.join(cachet::cache::REGISTRY_FILE);
    let conn = rusqlite::Connection::open_with_flags(
        &path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {} to watch it", path.display()))?;
    std::thread::spawn(move || {
        let version = |c: &rusqlite::Connection| {
            c.query_row("PRAGMA data_version", [], |r| r.get::<_, i64>(0))
                .ok()
        };
        let mut last = version(&conn);
        let mut ticks = 0u32;
        loop {
            std::thread::sleep(Duration::from_millis(250));
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
    Ok(())
}
