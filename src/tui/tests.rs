//! Tests of the browser without a terminal: a real cache in a temp dir, keys through the
//! keymap and `update`, effects run by the worker's own functions on this thread.

#[path = "tests/actions.rs"]
mod actions;
#[path = "tests/filter.rs"]
mod filter;
#[path = "tests/gc.rs"]
mod gc;
#[path = "tests/preview.rs"]
mod preview;
#[path = "tests/render.rs"]
mod render;
#[path = "tests/state.rs"]
mod state;

use std::collections::VecDeque;

use cachet::{AttrValue, Cache, CacheOpts, IngestContent, IngestItem, NewItem};
use chrono::{DateTime, Duration, Utc};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use tempfile::TempDir;

use super::app::App;
use super::keymap;
use super::source::Source;
use super::update::{Action, Effect, update};
use super::worker;

/// Compares the screen with a committed snapshot.
pub fn render_check(name: &str, h: &Harness) {
    render::check(name, h);
}

/// A browser over a temp cache, driven synchronously.
pub struct Harness {
    pub dir: TempDir,
    pub source: Source,
    pub app: App,
    /// What was sent to the clipboard.
    pub clipboard: Vec<String>,
}

/// A small cache with items in every status, attributes, versions and shared content.
pub fn sample_cache() -> (TempDir, Cache) {
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = CacheOpts {
        sync: false,
        ..CacheOpts::default()
    };
    let cache = Cache::open_with(dir.path(), opts).expect("open");
    for i in 1..=12 {
        let new = NewItem::new(format!("https://example.org/data/part-{i:02}.csv"))
            .attr("rows", AttrValue::Int(i * 100))
            .attr("source", AttrValue::Text("web".into()));
        cache
            .put_bytes(&new, format!("a,b\n{i},{}\n", i * 2).as_bytes())
            .expect("put");
    }
    // A second version of part-01, and an item sharing part-02's content.
    cache
        .put_bytes(
            &NewItem::new("https://example.org/data/part-01.csv"),
            b"a,b\n1,2\n1,3\n",
        )
        .expect("put v2");
    cache
        .put_bytes(&NewItem::new("s3://bucket/copy-of-02.csv"), b"a,b\n2,4\n")
        .expect("put shared");
    cache.fail(3, "upstream returned 500").expect("fail");
    cache.trash(4).expect("trash");
    cache.pin(5, true).expect("pin");
    // A writer that died: its lease has run out.
    let short = Cache::open_with(
        dir.path(),
        CacheOpts {
            lease: std::time::Duration::from_millis(1),
            sync: false,
        },
    )
    .expect("open short lease");
    let writer = short
        .create(&NewItem::new("https://example.org/big/model.bin").label("model (dead writer)"))
        .expect("create");
    std::mem::forget(writer);
    std::thread::sleep(std::time::Duration::from_millis(5));
    (dir, cache)
}

/// A cache of `n` plain READY items.
pub fn big_cache(n: usize) -> (TempDir, Cache) {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = Cache::open_with(
        dir.path(),
        CacheOpts {
            sync: false,
            ..CacheOpts::default()
        },
    )
    .expect("open");
    let items = (0..n).map(|i| {
        Ok(IngestItem {
            item: NewItem::new(format!("file:///data/{i:06}")),
            content: IngestContent::Bytes(format!("{}", i % 7).into_bytes()),
        })
    });
    cache.ingest(items, &mut |_| {}).expect("ingest");
    (dir, cache)
}

impl Harness {
    pub fn new(dir: TempDir, cache: Cache, size: (u16, u16)) -> Harness {
        // Ages are shown against a clock one day ahead, so they read `1d` in snapshots.
        let now: DateTime<Utc> = Utc::now() + Duration::days(1);
        let mut app = App::new("/cache", now, size);
        app.no_color = true;
        let mut h = Harness {
            dir,
            source: Source::new(cache),
            app,
            clipboard: Vec::new(),
        };
        let fx = crate::tui::update::start(&mut h.app);
        h.run(fx);
        h
    }

    /// A browser over `cachet::demo`.
    pub fn demo(size: (u16, u16)) -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        cachet::demo::build(dir.path()).expect("demo");
        let cache = Cache::open(dir.path()).expect("open");
        Harness::new(dir, cache, size)
    }

    /// A browser over `big_cache(n)`.
    pub fn big(n: usize, size: (u16, u16)) -> Harness {
        let (dir, cache) = big_cache(n);
        Harness::new(dir, cache, size)
    }

    /// The screen row of the selection, from the top of the list.
    pub fn screen_row(&self) -> usize {
        self.app.list.sel - self.app.list.offset
    }

    pub fn sample(size: (u16, u16)) -> Harness {
        let (dir, cache) = sample_cache();
        Harness::new(dir, cache, size)
    }

    /// Runs effects (and the effects of their results) until there are none left.
    pub fn run(&mut self, effects: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = effects.into();
        let mut steps = 0;
        while let Some(effect) = queue.pop_front() {
            steps += 1;
            assert!(steps < 10_000, "effects never settle");
            if let Effect::Clipboard(text) = effect {
                self.clipboard.push(text);
                continue;
            }
            if !worker::counts::wanted(&self.source, &effect) {
                continue;
            }
            let action = worker::run(&self.source, effect);
            queue.extend(update(&mut self.app, action));
        }
    }

    /// Applies one action and everything it leads to.
    pub fn act(&mut self, action: Action) {
        let fx = update(&mut self.app, action);
        self.run(fx);
    }

    /// Types keys: characters as they are, `<enter>`, `<esc>`, `<tab>`, `<space>`,
    /// `<down>`, `<up>`, `<left>`, `<right>`, `<pgdn>`, `<end>`, `<home>`, `<bs>`, `<f1>` by name,
    /// `<c-u>` with ctrl, `<a-bs>` with alt.
    pub fn keys(&mut self, keys: &str) {
        let mut rest = keys;
        while !rest.is_empty() {
            let mut mods = KeyModifiers::NONE;
            let (code, len) = if let Some(end) = rest.strip_prefix('<').and_then(|r| r.find('>')) {
                let name = &rest[1..=end];
                let code = match name {
                    "bs" => KeyCode::Backspace,
                    "a-bs" => {
                        mods = KeyModifiers::ALT;
                        KeyCode::Backspace
                    }
                    ctrl if ctrl.starts_with("c-") => {
                        mods = KeyModifiers::CONTROL;
                        KeyCode::Char(ctrl.chars().nth(2).expect("a key after c-"))
                    }
                    "enter" => KeyCode::Enter,
                    "esc" => KeyCode::Esc,
                    "tab" => KeyCode::Tab,
                    "space" => KeyCode::Char(' '),
                    "down" => KeyCode::Down,
                    "up" => KeyCode::Up,
                    "pgdn" => KeyCode::PageDown,
                    "pgup" => KeyCode::PageUp,
                    "end" => KeyCode::End,
                    "home" => KeyCode::Home,
                    "f1" => KeyCode::F(1),
                    "left" => KeyCode::Left,
                    "right" => KeyCode::Right,
                    other => panic!("unknown key <{other}>"),
                };
                (code, end + 2)
            } else {
                let c = rest.chars().next().expect("a key");
                (KeyCode::Char(c), c.len_utf8())
            };
            rest = &rest[len..];
            let event = Event::Key(KeyEvent::new(code, mods));
            if let Some(action) = keymap::action(&self.app, &event) {
                self.act(action);
            }
        }
    }

    /// The footer's message, empty when there is none.
    pub fn said(&self) -> &str {
        self.app.message.as_ref().map_or("", |m| m.text.as_str())
    }

    /// The name of the selected row's item.
    pub fn selected_uri(&self) -> String {
        self.app
            .list
            .selected()
            .map(|i| i.uri.clone())
            .unwrap_or_default()
    }

    pub fn cache(&self) -> &Cache {
        self.source.cache()
    }
}
