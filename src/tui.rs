//! The terminal browser, in The Elm Architecture: [`app::App`] is plain data,
//! [`update::update`] the only place it changes, [`ui::draw`] a pure function of it.
//! This file is the runtime: one channel carries terminal input, worker results and the
//! registry watcher's news; the loop waits for one message, drains the rest, updates,
//! then draws once.

// Explicit paths: `benches/tui.rs` compiles these same files with `#[path]`, where the
// default lookup would differ.
#[path = "tui/action.rs"]
pub mod action;
#[path = "tui/app.rs"]
pub mod app;
#[path = "tui/columns.rs"]
pub mod columns;
#[path = "tui/filter_bar.rs"]
pub mod filter_bar;
#[path = "tui/gc.rs"]
pub mod gc;
#[path = "tui/inspect.rs"]
pub mod inspect;
#[path = "tui/keymap.rs"]
pub mod keymap;
#[path = "tui/list.rs"]
pub mod list;
#[path = "tui/marks.rs"]
pub mod marks;
#[path = "tui/model.rs"]
pub mod model;
#[path = "tui/preview.rs"]
pub mod preview;
#[path = "tui/remember.rs"]
pub mod remember;
#[path = "tui/source.rs"]
pub mod source;
#[path = "tui/text.rs"]
pub mod text;
#[path = "tui/ui.rs"]
pub mod ui;
#[path = "tui/update.rs"]
pub mod update;
#[path = "tui/worker.rs"]
pub mod worker;

#[cfg(test)]
#[path = "tui/tests.rs"]
mod tests;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};

use anyhow::{Context, Result};
use cachet::Cache;
use chrono::Utc;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};

use app::App;
use update::{Action, Effect, update};

/// One message to the UI loop.
pub enum Msg {
    Input(crossterm::event::Event),
    Action(Action),
}

/// Opens the browser on the cache at `root` and runs it until the user quits.
pub fn run(root: &Path) -> Result<()> {
    // Fail before the screen changes when the cache cannot be opened.
    let access = Cache::open_to_read(root)
        .with_context(|| format!("opening the cache at {}", root.display()))?
        .access();
    let (tx, rx) = mpsc::channel::<Msg>();
    let worker = worker::spawn(root.to_path_buf(), tx.clone());
    let counter = worker::spawn_counter(root.to_path_buf(), tx.clone());
    let (previews, previewer) = worker::spawn_preview(root.to_path_buf(), tx.clone());
    let (watching, watcher) = worker::watch(root, access, tx.clone())?;
    spawn_input(tx.clone());
    let mut workers = Workers {
        queries: worker,
        counts: counter,
        previews,
        cancel: None,
        root: root.to_path_buf(),
        out: tx.clone(),
        previewer,
        watcher,
        watching,
    };

    let mut terminal = ratatui::init();
    crossterm::execute!(std::io::stdout(), EnableMouseCapture).context("enabling the mouse")?;
    let remembered_at = remember::path();
    let outcome = (|| -> Result<remember::Remembered> {
        let size = terminal.size().context("reading the terminal size")?;
        let mut app = App::new(
            root.display().to_string(),
            Utc::now(),
            (size.width, size.height),
        );
        app.no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        app.access = access;
        // The gc dialog starts from the configured policy, as `cachet gc` does.
        let configured = cachet::config::path()
            .map(|path| cachet::config::load(&path).and_then(|c| c.gc.policy()))
            .transpose();
        match configured {
            Ok(Some(policy)) => {
                let dialog = gc::GcDialog::from_policy(&policy);
                app.gc_chosen = Some((dialog.chosen, dialog.typed));
            }
            Ok(None) => {}
            Err(e) => app.warn(format!("config: {e} (gc starts from the built-in policy)")),
        }
        if let Some(path) = &remembered_at {
            match remember::recall(path, root) {
                Ok(Some(remembered)) => remember::apply(&mut app, remembered),
                Ok(None) => {}
                Err(e) => app.warn(format!("{e:#} (columns and sort start afresh)")),
            }
        }
        workers.dispatch(update::start(&mut app));
        loop {
            terminal
                .draw(|frame| ui::draw(frame, &app))
                .context("drawing")?;
            let first = rx.recv().context("the event channel closed")?;
            for msg in std::iter::once(first).chain(rx.try_iter()) {
                let action = match msg {
                    Msg::Input(event) => keymap::action(&app, &event),
                    Msg::Action(action) => Some(action),
                };
                if let Some(action) = action {
                    workers.dispatch(update(&mut app, action));
                }
                if app.quit {
                    return Ok(remember::of(&app, root));
                }
            }
        }
    })();
    let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    workers.close();
    let remembered = outcome?;
    // Not remembering is no failure of the browser: said, on the terminal it is back on.
    if let Some(path) = &remembered_at
        && let Err(e) = remember::keep(path, remembered)
    {
        eprintln!("cachet: the columns and sort are not remembered: {e:#}");
    }
    Ok(())
}

/// Where effects go: the query worker, the count thread, the preview thread, or the
/// terminal.
struct Workers {
    queries: worker::Queue<u64>,
    /// Tab counts, on a thread of their own so that pages never wait for them.
    counts: worker::Queue<String>,
    previews: Sender<worker::PreviewJob>,
    /// The flag of the preview job last sent, raised when the next one goes.
    cancel: Option<Arc<AtomicBool>>,
    /// For jobs that get a thread of their own (gc).
    root: std::path::PathBuf,
    out: Sender<Msg>,
    /// The preview thread, and the watch on the registry (which `watching`, dropped,
    /// stops): to wait for on closing, besides the queues' threads.
    previewer: std::thread::JoinHandle<()>,
    watcher: std::thread::JoinHandle<()>,
    watching: Sender<()>,
}

impl Workers {
    /// Stops what runs, drops what waits, and waits for every thread that holds a
    /// connection to the registry to end, so that the last to close removes SQLite's
    /// `-wal` and `-shm` files (they stayed behind when the process ended with the
    /// connections open). The watch goes first: a read-only connection closing last
    /// would leave them. (The browser does not quit while a gc is being applied.)
    fn close(self) {
        if let Some(flag) = &self.cancel {
            flag.store(true, Ordering::Relaxed);
        }
        let Workers {
            queries,
            counts,
            previews,
            previewer,
            watcher,
            watching,
            ..
        } = self;
        drop(watching);
        let _ = watcher.join();
        drop(previews);
        let queues = [queries.close(), counts.close()];
        for thread in queues.into_iter().chain([previewer]) {
            let _ = thread.join();
        }
    }

    fn dispatch(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Clipboard(text) => {
                    // OSC 52: the terminal (also through ssh and tmux) sets its clipboard.
                    let mut out = std::io::stdout();
                    let _ = write!(out, "\x1b]52;c;{}\x07", base64(text.as_bytes()));
                    let _ = out.flush();
                }
                Effect::LoadPreview(req) => {
                    if let Some(old) = self.cancel.take() {
                        old.store(true, Ordering::Relaxed);
                    }
                    let flag = Arc::new(AtomicBool::new(false));
                    self.cancel = Some(flag.clone());
                    // A closed worker shows up as a missing result, reported when it closed.
                    let _ = self.previews.send((req, flag));
                }
                Effect::Count { .. } => {
                    self.counts.send(effect);
                }
                Effect::PlanGc { policy, asked } => {
                    worker::gc::spawn_plan(self.root.clone(), *policy, asked, self.out.clone())
                }
                Effect::ApplyGc(plan) => {
                    worker::gc::spawn_apply(self.root.clone(), *plan, self.out.clone())
                }
                other => {
                    self.queries.send(other);
                }
            }
        }
    }
}

/// Reads terminal events on a thread of their own.
fn spawn_input(tx: Sender<Msg>) {
    std::thread::spawn(move || {
        while let Ok(event) = crossterm::event::read() {
            if tx.send(Msg::Input(event)).is_err() {
                return;
            }
        }
    });
}

/// Standard base64 with padding, for OSC 52.
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod clipboard_tests {
    #[test]
    fn base64_matches_the_standard() {
        assert_eq!(super::base64(b""), "");
        assert_eq!(super::base64(b"f"), "Zg==");
        assert_eq!(super::base64(b"fo"), "Zm8=");
        assert_eq!(super::base64(b"foo"), "Zm9v");
        assert_eq!(super::base64(b"foob"), "Zm9vYg==");
    }
}
