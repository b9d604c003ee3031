//! The browser end to end: the built binary in a pseudo-terminal, its screen parsed with
//! vt100, keys typed, and the cache on disk checked. Every wait is bounded and says what
//! it waited for and what the screen showed.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::num::NonZeroU16;
use std::path::Path;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use cachet::{AttrValue, Cache, NewItem, Status};
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

mod common;

const WAIT: Duration = Duration::from_secs(20);

/// The binary running in a pty, and what its screen shows.
struct Tui {
    child: Box<dyn Child + Send + Sync>,
    writer: Box<dyn Write + Send>,
    output: Receiver<Vec<u8>>,
    screen: vt100::Parser,
    _master: Box<dyn MasterPty + Send>,
}

impl Tui {
    fn start(root: &Path, args: &[&str], cols: u16, rows: u16) -> Tui {
        Tui::start_as(
            &[env!("CARGO_BIN_EXE_cachet").into()],
            root,
            args,
            (cols, rows),
        )
    }

    /// Starts the browser by the command line `argv` (the binary, or the binary run as
    /// another user) on the cache at `root`, in a terminal of `size` columns and rows.
    fn start_as(argv: &[OsString], root: &Path, args: &[&str], size: (u16, u16)) -> Tui {
        let (cols, rows) = size;
        let pty = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("open a pty");
        let mut cmd = CommandBuilder::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd.arg("--root");
        cmd.arg(root);
        for a in args {
            cmd.arg(a);
        }
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("NO_COLOR");
        // The tests' own configuration (none, unless a test writes it) and memory of
        // columns and sort, never the user's.
        cmd.env("CACHET_CONFIG", root.join("test-config.toml"));
        cmd.env("CACHET_STATE", root.join("test-state.toml"));
        let child = pty.slave.spawn_command(cmd).expect("spawn cachet");
        // Only the child keeps the slave open, so its exit ends our reads.
        drop(pty.slave);
        let mut reader = pty.master.try_clone_reader().expect("pty reader");
        let writer = pty.master.take_writer().expect("pty writer");
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                match reader.read(&mut buf) {
                    // EOF or EIO: the child is gone.
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Tui {
            child,
            writer,
            output,
            screen: vt100::Parser::new(
                NonZeroU16::new(rows).expect("rows"),
                NonZeroU16::new(cols).expect("cols"),
                0,
            ),
            _master: pty.master,
        }
    }

    fn text(&self) -> String {
        self.screen.screen().contents()
    }

    /// Waits until the screen shows `what`.
    fn wait_for(&mut self, what: &str) {
        self.wait_all(&[what]);
    }

    /// Waits until the screen shows all of `what` at once.
    fn wait_all(&mut self, what: &[&str]) {
        let deadline = Instant::now() + WAIT;
        while !what.iter().all(|w| self.text().contains(w)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self
                .output
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                Ok(bytes) => self.screen.process(&bytes),
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
                Err(e) => panic!(
                    "waited {WAIT:?} for {what:?} ({e:?}); the screen shows:\n{}",
                    self.text()
                ),
            }
        }
    }

    fn press(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).expect("type");
        self.writer.flush().expect("flush");
    }

    /// Waits for the process to exit; its exit must be a success.
    fn wait_exit(&mut self) {
        let deadline = Instant::now() + WAIT;
        loop {
            // Keep draining so the child never blocks on a full pty.
            while let Ok(bytes) = self.output.try_recv() {
                self.screen.process(&bytes);
            }
            if let Some(status) = self.child.try_wait().expect("child status") {
                assert!(status.success(), "cachet exited with {status:?}");
                return;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("cachet did not exit; the screen shows:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
    }
}

fn small_cache(root: &Path) -> Cache {
    let cache = Cache::open(root).expect("open");
    for i in 1..=5 {
        let new = NewItem::new(format!("https://example.org/part-{i}.csv"))
            .attr("rows", AttrValue::Int(i));
        cache
            .put_bytes(&new, format!("a,b\n{i},{i}\n").as_bytes())
            .expect("put");
    }
    cache
}

#[test]
fn trash_then_restore_through_the_keys_changes_the_cache() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = small_cache(dir.path());
    let mut tui = Tui::start(dir.path(), &[], 100, 30);
    tui.wait_for("https://example.org/part-5.csv");
    tui.wait_for("1 All 5");
    // Second row, trash it: a confirm popup first, nothing changed yet.
    tui.press("jd");
    tui.wait_for("Move item 2 (8 B) to the trash.");
    assert_eq!(cache.get(2).expect("item").status, Status::Ready);
    tui.press("y");
    tui.wait_for("trashed 1 item");
    tui.wait_for("5 Trash 1");
    assert_eq!(cache.get(2).expect("item").status, Status::Trash);
    // Over to the trash tab and back out of it.
    tui.press("5");
    tui.wait_all(&["1/1", "TRASH"]);
    tui.press("u");
    tui.wait_for("Restore item 2 (8 B) from the trash.");
    tui.press("\r");
    tui.wait_for("restored 1 item");
    assert_eq!(cache.get(2).expect("item").status, Status::Ready);
    tui.press("q");
    tui.wait_exit();
}

/// A cache whose directory the user cannot write (a read-only mount, another user's cache)
/// is browsed all the same: the status line says it is read as it stands, and a trash is
/// refused by saying why, with nothing changed.
#[test]
fn a_cache_that_cannot_be_written_is_browsed_read_only() {
    use std::os::unix::fs::PermissionsExt;
    let chmod = |path: &Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    let dir = tempfile::tempdir().expect("temp dir");
    chmod(dir.path(), 0o755);
    let root = dir.path().join("ro");
    drop(small_cache(&root));
    common::give_to_user(&root);
    chmod(&root, 0o555);
    let mut tui = Tui::start_as(&common::argv_as_user(), &root, &[], (100, 30));
    tui.wait_all(&["https://example.org/part-5.csv", "read-only snapshot"]);
    tui.press("d");
    tui.wait_for("Move item 1 (8 B) to the trash.");
    tui.press("y");
    // (The message's middle, the registry's path, gives way to a narrow screen.)
    tui.wait_all(&[
        "trashed 0 items; 1 failed",
        "(its directory cannot be written)",
    ]);
    tui.press("q");
    let exited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tui.wait_exit()));
    chmod(&root, 0o755);
    assert!(exited.is_ok(), "the browser quits as usual");
    let cache = Cache::open(&root).expect("open");
    assert_eq!(cache.get(1).expect("item").status, Status::Ready);
}

#[test]
fn changes_by_another_process_show_without_a_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = small_cache(dir.path());
    let mut tui = Tui::start(dir.path(), &["tui"], 80, 24);
    tui.wait_for("4 Failed 0");
    cache.fail(3, "disk on fire").expect("fail");
    tui.wait_for("4 Failed 1");
    tui.wait_for("FAILED");
    // Help, then quit with ctrl-c from inside it.
    tui.press("?");
    tui.wait_for("esc closes)");
    tui.press("\x03");
    tui.wait_exit();
}

#[test]
fn a_narrow_terminal_still_shows_the_list_and_the_keys() {
    let dir = tempfile::tempdir().expect("temp dir");
    small_cache(dir.path());
    let mut tui = Tui::start(dir.path(), &[], 40, 12);
    tui.wait_for("part-1.csv");
    tui.wait_for("? help");
    tui.press("\r");
    tui.wait_for("Detail: item 1");
    tui.press("q");
    tui.wait_exit();
}

#[test]
fn demo_builds_a_cache_and_opens_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let demo = dir.path().join("demo");
    let mut tui = Tui::start(dir.path(), &["demo", &demo.to_string_lossy()], 100, 30);
    tui.wait_all(&["6 Stale 1", "4 Failed 1", "toolkit-1.4.tar.zst"]);
    tui.press("6");
    // The Stale tab's one row (the All tab shows that item too: its position tells).
    tui.wait_all(&["checkpoint 6 (dead)", " 1/1"]);
    // Back on All, the selection stays on that item, row 18; from there to the zip.
    tui.press("1");
    tui.wait_for("18/21");
    for _ in 0..10 {
        tui.press("k");
    }
    tui.wait_for(" 8/21");
    // The preview pane on the zip: its members, then one member's text.
    tui.press("v");
    tui.wait_all(&[
        "Preview: toolkit-1.4.zip [zip]",
        "toolkit/config.json",
        "4 members",
    ]);
    tui.press("j\r");
    tui.wait_for("\"threads\": 4");
    tui.press("q");
    tui.wait_exit();
    // Back on the shell, it says how to come back.
    tui.wait_for("browse it again with: cachet --root");
    let cache = Cache::open(&demo).expect("open the demo");
    let stale = cache
        .get_many(
            &cache
                .list_ids(Some(Status::Write), false, 0, 100)
                .expect("list"),
        )
        .expect("items")
        .into_iter()
        .filter(|i| i.is_stale(chrono::Utc::now()))
        .count();
    assert_eq!(stale, 1);
}

#[test]
fn gc_plan_then_apply_purges_the_trash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = small_cache(dir.path());
    cache.trash(4).expect("trash");
    let mut tui = Tui::start(dir.path(), &[], 100, 30);
    tui.wait_for("5 Trash 1");
    tui.press("gc");
    tui.wait_for("Garbage collection: policies");
    tui.press("\r");
    tui.wait_all(&["1 item and", "part-4.csv", "y apply"]);
    // The plan changed nothing.
    assert_eq!(cache.get(4).expect("item").status, Status::Trash);
    tui.press("y");
    tui.wait_for("1 item removed");
    assert!(cache.get(4).is_err(), "item 4 was purged");
    tui.wait_for("5 Trash 0");
    tui.press("\x1b");
    // The footer shows the list's keys again once the dialog is closed.
    tui.wait_for("? help");
    tui.press("q");
    tui.wait_exit();
}

/// What a cache holds, to compare before and after: every item's id, status and attributes.
fn contents(cache: &Cache) -> Vec<String> {
    let ids = cache.list_ids(None, true, 0, 1000).expect("list");
    cache
        .get_many(&ids)
        .expect("items")
        .into_iter()
        .map(|i| format!("{} {} {:?} {:?}", i.id, i.status, i.attrs, i.updated))
        .collect()
}

#[test]
fn a_typed_filter_narrows_the_list_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = small_cache(dir.path());
    let before = contents(&cache);
    let mut tui = Tui::start(dir.path(), &[], 100, 30);
    tui.wait_all(&["part-1.csv", "1 All 5"]);
    tui.press("/rows>=4");
    tui.wait_all(&["/ rows>=4", "1 All 2", "part-5.csv", "1/2"]);
    assert!(!tui.text().contains("part-1.csv"), "{}", tui.text());
    // A mistake: the caret points at it and the rows stay.
    tui.press(" (");
    tui.wait_for("^ expected");
    assert!(tui.text().contains("part-4.csv"), "{}", tui.text());
    tui.press("\x7f\x7f\r");
    tui.wait_for("filter rows>=4");
    // esc on the list clears it.
    tui.press("\x1b");
    tui.wait_all(&["1 All 5", "part-1.csv"]);
    tui.press("q");
    tui.wait_exit();
    assert_eq!(contents(&cache), before);
}

/// `purge` on a terminal asks first, as `gc` does: purged is gone for good. A no changes
/// nothing; yes purges. (Elsewhere, and with `--yes`, it does not ask.)
#[test]
fn purge_on_a_terminal_asks_first() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = small_cache(dir.path());
    cache.trash(1).expect("trash");
    cache.trash(2).expect("trash");
    let mut cli = Tui::start(dir.path(), &["purge", "status:trash"], 100, 10);
    cli.wait_for("Purge 2 items for good? It frees 16 B on disk");
    cli.press("n\r");
    cli.wait_for("nothing changed");
    cli.wait_exit();
    assert_eq!(cache.get(1).expect("item").status, Status::Trash);
    let mut cli = Tui::start(dir.path(), &["purge", "1", "2"], 100, 10);
    cli.wait_for("[y/N]");
    cli.press("y\r");
    cli.wait_exit();
    assert!(cache.get(1).is_err() && cache.get(2).is_err(), "purged");
}

/// Quitting closes every connection the browser opened, so the last one removes SQLite's
/// `-wal` and `-shm` files (they stayed behind: the process ended with its workers'
/// connections open).
#[test]
fn quitting_leaves_no_write_ahead_log_behind() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(small_cache(dir.path()));
    let wal = dir.path().join("registry.sqlite-wal");
    assert!(!wal.exists(), "closed: no log");
    let mut tui = Tui::start(dir.path(), &[], 100, 20);
    tui.wait_all(&["part-1.csv", "1 All 5"]);
    // A filter, counts and a preview: every worker has its connection open.
    tui.press("/rows>=4\r");
    tui.wait_all(&["1 All 2", "1/2"]);
    tui.press("v");
    tui.wait_for("Preview");
    assert!(wal.exists(), "open: a log");
    tui.press("q");
    tui.wait_exit();
    assert!(!wal.exists(), "the log stayed behind");
    assert!(!dir.path().join("registry.sqlite-shm").exists());
}

/// The gc dialog starts from the configured policy, as `cachet gc` does: a setting none of
/// its choices means comes in typed.
#[test]
fn the_gc_dialog_starts_from_the_configuration() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(small_cache(dir.path()));
    std::fs::write(
        dir.path().join("test-config.toml"),
        "[gc]\nkeep_last = 3\nmax_size = \"50GiB\"\norphans = false\n",
    )
    .expect("config");
    let mut tui = Tui::start(dir.path(), &[], 100, 24);
    tui.wait_for("part-1.csv");
    tui.press("gc");
    // The dialog's key line is drawn after its rows (a frame is written top to bottom):
    // once it shows, so does the orphans row.
    tui.wait_all(&["[3 per key]", "[50GiB]", "enter plan"]);
    let orphans = tui.text();
    let line = orphans
        .lines()
        .find(|l| l.contains("orphan blobs"))
        .expect("the orphans row");
    assert!(line.contains("[off]"), "{line}");
    tui.press("\x1b");
    // The rows the dialog stood over: it is gone, and q is a key of its own, not alt-q.
    tui.wait_for("part-3.csv");
    tui.press("q");
    tui.wait_exit();
}

/// The columns chosen and the sort are there again when the browser is opened on the
/// same cache the next time.
#[test]
fn columns_and_sort_are_remembered_from_one_run_to_the_next() {
    let dir = tempfile::tempdir().expect("temp dir");
    drop(small_cache(dir.path()));
    let mut tui = Tui::start(dir.path(), &[], 100, 24);
    tui.wait_for("part-1.csv");
    assert!(!tui.text().contains("ROWS"), "{}", tui.text());
    // The rows column, then the order reversed.
    tui.press("c");
    tui.wait_for("[ ] rows");
    tui.press(" \r");
    tui.wait_for("ROWS");
    tui.press("S");
    tui.wait_for("id↓");
    tui.press("q");
    tui.wait_exit();
    let state = std::fs::read_to_string(dir.path().join("test-state.toml")).expect("state");
    assert!(state.contains("rows") && state.contains("-id"), "{state}");

    let mut tui = Tui::start(dir.path(), &[], 100, 24);
    tui.wait_all(&["ROWS", "id↓", "part-5.csv"]);
    let text = tui.text();
    let first = text.find("part-5.csv").expect("part 5");
    assert!(first < text.find("part-1.csv").expect("part 1"), "{text}");
    tui.press("q");
    tui.wait_exit();
}
