//! The browser at scale: a registry of a million items (built once with `Cache::ingest`
//! and kept under the target dir, or given with `CACHET_BENCH_ROOT`), driven through the
//! real `App`/`update`/`draw` with the real worker thread and a `TestBackend`.
//!
//! Reports, does not assert: start to first frame and to the first frame with rows,
//! keypress-to-frame (p50/p99) for navigation, tab switches, sorts and each keystroke of
//! a few filters typed into the filter bar (one key every 150 ms, as a quick typist; the
//! worker's debounce only waits when keys come closer), the slowest keystroke's queries
//! timed one by one, and resident memory. `CACHET_BENCH_ITEMS` changes the size
//! (default 1 000 000).
//!
//! `cargo bench --bench tui`

// The browser lives in the binary; the benchmark compiles the same files.
#[allow(dead_code, unused_imports)]
#[path = "../src/tui.rs"]
mod tui;

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use cachet::{Cache, CacheOpts, IngestContent, IngestItem, NewItem};
use chrono::Utc;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use tui::Msg;
use tui::app::App;
use tui::update::{Action, Effect, update};

const SIZE: (u16, u16) = (100, 30);

fn main() {
    let n: usize = std::env::var("CACHET_BENCH_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let root = registry(n);
    println!("registry: {} ({n} items)", root.display());

    let mut b = Bench::start(&root);
    b.report_start();
    let nav = b.measure(&["j"; 2000], "j (down)");
    let pg = b.measure(&["pgdn"; 300], "PgDn");
    let up = b.measure(&["k"; 500], "k (up)");
    let jumps = b.measure(&["G", "gg"].repeat(10), "G / gg");
    let mut all = [nav, pg, up, jumps].concat();
    summary("navigation, all keys", &mut all);
    let mut tabs = b.measure(&["2", "1"].repeat(10), "tab switch 2/1");
    summary("tab switch", &mut tabs);
    let mut sorts = b.measure(&["s"; 12], "sort (s)");
    summary("sort", &mut sorts);
    // Moving through a list sorted by a column without an index: each new page sorts.
    b.measure(&["s"], "sort by name");
    let mut by_name = b.measure(&["j"; 1000], "j, sorted by name");
    summary("navigation sorted by name", &mut by_name);
    b.measure(&["s"; 5], "sort back to id");
    let mut typed = Vec::new();
    let mut slowest: Option<(Duration, String)> = None;
    for text in FILTERS {
        let times = b.type_filter(text);
        for (i, t) in times.iter().enumerate() {
            if slowest.as_ref().is_none_or(|(s, _)| t > s) {
                slowest = Some((*t, text.chars().take(i + 1).collect()));
            }
        }
        typed.extend(times);
    }
    summary("filter, every keystroke", &mut typed);
    if let Some((t, prefix)) = slowest {
        println!("slowest keystroke: {t:.1?} for the text {prefix:?}");
        queries(&root, &prefix);
    }
    println!(
        "memory: VmRSS {} MiB, VmHWM (peak) {} MiB",
        status_kib("VmRSS:") / 1024,
        status_kib("VmHWM:") / 1024
    );
}

/// Filters typed key by key: an attribute, a status (through bare-word prefixes), a
/// substring of the URI, a range with a size, a word one item has and a word none has
/// (their prefixes are searches too).
const FILTERS: [&str; 6] = [
    "batch=7",
    "status:failed",
    "uri~run-0042",
    "batch>=10 batch<12 size>10",
    "part-0123457",
    "zebra",
];

/// Times the queries one keystroke costs, one by one, for `text`.
fn queries(root: &Path, text: &str) {
    let Ok(filter) = cachet::filter::Filter::parse(text.trim_end()) else {
        println!("  (the text does not parse: no query)");
        return;
    };
    let cache = Cache::open(root).expect("open");
    let conn = &cache.registry().db().conn;
    let now = Utc::now();
    let time = |what: &str, f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        println!("  {what:<32} {:>9.2?}", t.elapsed());
    };
    time("check (catalogue)", &mut || {
        let _ = cachet::filter::check(conn, &filter);
    });
    let q = cachet::filter::Query {
        filter: filter.clone(),
        limit: 200,
        ..Default::default()
    };
    time("first page (200 ids)", &mut || {
        let _ = cachet::filter::page(conn, &q, now);
    });
    time("tab counts, capped at 1000", &mut || {
        let _ = cachet::filter::count_by_status(conn, &filter, now, Some(1000));
    });
    time("tab counts, exact (count thread)", &mut || {
        let _ = cachet::filter::count_by_status(conn, &filter, now, None);
    });
}

/// The registry to run on: `CACHET_BENCH_ROOT`, or one built once under the target dir.
fn registry(n: usize) -> PathBuf {
    if let Some(root) = std::env::var_os("CACHET_BENCH_ROOT") {
        return PathBuf::from(root);
    }
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("tui-bench-{n}"));
    let cache = Cache::open_with(
        &root,
        CacheOpts {
            sync: false,
            ..CacheOpts::default()
        },
    )
    .expect("open the bench registry");
    if !cache.list_ids(None, false, 0, 1).expect("list").is_empty() {
        return root;
    }
    let t = Instant::now();
    let items = (0..n).map(|i| {
        let status_kinds = ["csv", "json", "bin", "tar.gz"];
        Ok(IngestItem {
            item: NewItem::new(format!(
                "s3://bench/run-{:04}/part-{i:07}.{}",
                i / 1000,
                status_kinds[i % 4]
            ))
            .attr("batch", cachet::AttrValue::Int((i % 50) as i64)),
            // A few hundred distinct contents: the blob store stays small.
            content: IngestContent::Bytes(format!("content {}", i % 397).into_bytes()),
        })
    });
    cache.ingest(items, &mut |_| {}).expect("ingest");
    // Some variety for the tabs.
    for id in (1..=n as i64).step_by(1000) {
        let _ = cache.trash(id);
    }
    for id in (2..=n as i64).step_by(2000) {
        let _ = cache.fail(id, "bench");
    }
    println!("built {n} items in {:.1?}", t.elapsed());
    root
}

struct Bench {
    app: App,
    rx: Receiver<Msg>,
    worker: tui::worker::Queue<u64>,
    counter: tui::worker::Queue<String>,
    terminal: Terminal<TestBackend>,
    started: Instant,
    first_frame: Duration,
    first_rows: Duration,
    counted: Duration,
}

impl Bench {
    fn start(root: &Path) -> Bench {
        let started = Instant::now();
        let (tx, rx) = mpsc::channel();
        let worker = tui::worker::spawn(root.to_path_buf(), tx.clone());
        let counter = tui::worker::spawn_counter(root.to_path_buf(), tx);
        let app = App::new(root.display().to_string(), Utc::now(), SIZE);
        let terminal = Terminal::new(TestBackend::new(SIZE.0, SIZE.1)).expect("terminal");
        let mut b = Bench {
            app,
            rx,
            worker,
            counter,
            terminal,
            started,
            first_frame: Duration::ZERO,
            first_rows: Duration::ZERO,
            counted: Duration::ZERO,
        };
        let fx = tui::update::start(&mut b.app);
        b.dispatch(fx);
        b.draw();
        b.first_frame = started.elapsed();
        b.settle_rows();
        b.draw();
        b.first_rows = started.elapsed();
        b.settle();
        b.draw();
        b.counted = started.elapsed();
        b
    }

    fn report_start(&self) {
        println!(
            "start: first frame {:.1?}, first frame with rows {:.1?}, with the tab counts {:.1?}",
            self.first_frame, self.first_rows, self.counted
        );
        let _ = self.started;
    }

    fn draw(&mut self) {
        let app = &self.app;
        self.terminal.draw(|f| tui::ui::draw(f, app)).expect("draw");
    }

    fn dispatch(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Clipboard(_) => {}
                Effect::Count { .. } => assert!(self.counter.send(e), "counter alive"),
                e => assert!(self.worker.send(e), "worker alive"),
            }
        }
    }

    /// Runs worker results through `update` until the first row is there.
    fn settle_rows(&mut self) {
        while self.app.list.row(0).is_none() {
            match self.rx.recv_timeout(Duration::from_secs(60)) {
                Ok(Msg::Action(a)) => {
                    let fx = update(&mut self.app, a);
                    self.dispatch(fx);
                }
                Ok(Msg::Input(_)) => {}
                Err(e) => panic!("no first page from the worker: {e}"),
            }
        }
    }

    /// Runs worker results through `update` until the selected row is on screen.
    fn settle(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.app.counts.is_none()
            || (!self.app.list.is_empty() && self.app.list.selected().is_none())
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Msg::Action(a)) => {
                    let fx = update(&mut self.app, a);
                    self.dispatch(fx);
                }
                Ok(Msg::Input(_)) => {}
                Err(e) => panic!("no result from the worker: {e}"),
            }
        }
    }

    /// Opens the filter bar, types `text` a key at a time, and times each key to the
    /// frame that shows its answer (the rows of the new filter, or the error at once);
    /// then clears it again.
    fn type_filter(&mut self, text: &str) -> Vec<Duration> {
        let fx = update(&mut self.app, Action::OpenFilter);
        self.dispatch(fx);
        let mut times = Vec::new();
        for c in text.chars() {
            std::thread::sleep(Duration::from_millis(150));
            self.drain();
            let t = Instant::now();
            let fx = update(
                &mut self.app,
                Action::Edit(tui_input::InputRequest::InsertChar(c)),
            );
            let asked = fx.iter().any(|e| matches!(e, Effect::Filter(_)));
            self.dispatch(fx);
            let deadline = Instant::now() + Duration::from_secs(60);
            while asked
                && self.app.list.query.filter.as_str() != self.app.filter.input.value().trim_end()
                && self.app.filter.error.is_none()
            {
                match self
                    .rx
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                {
                    Ok(Msg::Action(a)) => {
                        let fx = update(&mut self.app, a);
                        self.dispatch(fx);
                    }
                    Ok(Msg::Input(_)) => {}
                    Err(e) => panic!("no answer for the filter: {e}"),
                }
            }
            self.settle();
            self.draw();
            times.push(t.elapsed());
        }
        let mut sorted = times.clone();
        summary(&format!("filter {text:?}"), &mut sorted);
        for action in [Action::Confirm, Action::Back] {
            let fx = update(&mut self.app, action);
            self.dispatch(fx);
        }
        self.settle();
        times
    }

    /// Takes the results that came since the last frame.
    fn drain(&mut self) {
        while let Ok(msg) = self.rx.try_recv() {
            if let Msg::Action(a) = msg {
                let fx = update(&mut self.app, a);
                self.dispatch(fx);
            }
        }
    }

    /// Keypress to frame for each key: update, worker round trips until the selected row
    /// is loaded, then one draw.
    fn measure(&mut self, keys: &[&str], what: &str) -> Vec<Duration> {
        let mut times = Vec::with_capacity(keys.len());
        for key in keys {
            let t = Instant::now();
            for action in actions(key) {
                let fx = update(&mut self.app, action);
                self.dispatch(fx);
            }
            self.settle();
            self.draw();
            times.push(t.elapsed());
            // Results that arrive after the frame (pages ahead) are taken before the next key.
            while let Ok(msg) = self.rx.try_recv() {
                if let Msg::Action(a) = msg {
                    let fx = update(&mut self.app, a);
                    self.dispatch(fx);
                }
            }
        }
        let mut sorted = times.clone();
        summary(what, &mut sorted);
        times
    }
}

fn actions(key: &str) -> Vec<Action> {
    match key {
        "j" => vec![Action::Down],
        "k" => vec![Action::Up],
        "pgdn" => vec![Action::PageDown],
        "G" => vec![Action::Bottom],
        "gg" => vec![Action::Prefix('g'), Action::Top],
        "s" => vec![Action::SortNext],
        "1" => vec![Action::SetTab(tui::model::Tab::All)],
        "2" => vec![Action::SetTab(tui::model::Tab::Ready)],
        other => panic!("no action for {other}"),
    }
}

fn summary(what: &str, times: &mut [Duration]) {
    times.sort();
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    println!(
        "{what:<28} n={:<5} p50 {:>9.2?}  p99 {:>9.2?}  max {:>9.2?}",
        times.len(),
        pct(0.5),
        pct(0.99),
        times[times.len() - 1]
    );
}

/// A field of /proc/self/status in KiB (0 where there is none).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
