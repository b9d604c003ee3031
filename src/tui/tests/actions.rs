//! Actions on items from the browser: marks, trash, restore, purge, pin, copy; each
//! asked first where it should be, and the cache checked on disk.

use cachet::Status;

use super::Harness;
use crate::tui::app::{Op, Popup};
use crate::tui::list::PAGE;

#[test]
fn trash_asks_first_then_restore_brings_it_back() {
    let mut h = Harness::sample((80, 24));
    h.keys("d");
    let Some(Popup::Confirm(plan)) = &h.app.popup else {
        panic!("no confirm popup: {:?}", h.app.popup);
    };
    assert_eq!(plan.op, Op::Trash);
    assert_eq!(plan.ids, vec![1]);
    assert_eq!(plan.bytes, 8);
    // Cancelling changes nothing.
    h.keys("n");
    assert!(h.app.popup.is_none());
    assert_eq!(h.cache().get(1).unwrap().status, Status::Ready);
    h.keys("dy");
    assert_eq!(h.cache().get(1).unwrap().status, Status::Trash);
    assert_eq!(h.app.counts.unwrap().trash.n, 2);
    assert!(h.said().contains("trashed 1 item"));
    // Again: nothing to do, and which item says why.
    h.keys("d");
    assert!(h.app.popup.is_none());
    assert!(
        h.said()
            .ends_with("nothing to do (item 1 is already in the trash)"),
        "{}",
        h.said()
    );
    h.keys("5");
    assert_eq!(h.app.list.len(), 2);
    h.keys("u");
    assert!(matches!(&h.app.popup, Some(Popup::Confirm(p)) if p.op == Op::Restore));
    h.keys("<enter>");
    assert_eq!(h.cache().get(1).unwrap().status, Status::Ready);
}

/// Selects the row of item `id` in the list shown.
fn select_id(h: &mut Harness, id: i64) {
    let at = (0..h.app.list.len())
        .find(|i| h.app.list.row(*i).map(|r| r.id) == Some(id))
        .unwrap_or_else(|| panic!("item {id} is not listed"));
    h.app.list.select(at);
}

/// Marks never outlive the action they were for: one it skipped (in the trash already)
/// is unmarked too, not left for the next action. A restore says what it brings back,
/// and a write trashed mid-write comes back FAILED, as the dialog said it would.
#[test]
fn skipped_marks_go_and_a_restore_says_what_comes_back() {
    let mut h = Harness::demo((100, 30));
    // A READY file, the dead writer, and an item in the trash already.
    for id in [1, 18, 14] {
        select_id(&mut h, id);
        h.keys("<space>");
    }
    h.keys("d");
    let Some(Popup::Confirm(plan)) = &h.app.popup else {
        panic!("no confirm popup: {:?}", h.app.popup);
    };
    assert_eq!((plan.ids.as_slice(), plan.skipped.len()), (&[1, 18][..], 1));
    h.keys("y");
    assert!(h.app.marks.is_empty(), "{:?}", h.app.marks);

    h.keys("5");
    for id in [1, 18] {
        select_id(&mut h, id);
        h.keys("<space>");
    }
    h.keys("u");
    let Some(Popup::Confirm(plan)) = &h.app.popup else {
        panic!("no confirm popup: {:?}", h.app.popup);
    };
    assert_eq!((plan.op, plan.to_failed), (Op::Restore, 1));
    let shown = super::render::screen(&h);
    assert!(
        shown.contains("One trashed mid-write comes back FAILED."),
        "{shown}"
    );
    h.keys("y");
    assert_eq!(h.said(), "restored 2 items: 1 READY, 1 FAILED");
    let back = h.cache().get(18).unwrap();
    assert_eq!(
        (back.status, back.note.as_deref()),
        (Status::Failed, Some("trashed while it was being written"))
    );
}

#[test]
fn marks_apply_to_many_and_purge_counts_shared_bytes() {
    let mut h = Harness::sample((80, 24));
    // Mark part-02 and the item sharing its content, trash both.
    h.keys("j<space>");
    h.keys("G<up><space>");
    assert_eq!(h.app.marks.len(), 2);
    assert_eq!(h.app.targets(), vec![2, 14]);
    h.keys("dy");
    assert!(h.app.marks.is_empty());
    assert_eq!(h.cache().get(14).unwrap().status, Status::Trash);
    // Purging one of the two frees nothing: the other still uses the blob (also when its
    // digest is written in capitals, as another tool may).
    rusqlite::Connection::open(h.dir.path().join("registry.sqlite"))
        .unwrap()
        .execute("UPDATE items SET sha256 = upper(sha256) WHERE id = 14", [])
        .unwrap();
    h.keys("5");
    let two = (0..h.app.list.len())
        .find(|i| h.app.list.row(*i).map(|r| r.id) == Some(2))
        .unwrap();
    h.app.list.select(two);
    h.keys("D");
    let Some(Popup::Confirm(plan)) = h.app.popup.clone() else {
        panic!("no confirm popup");
    };
    assert_eq!((plan.op, plan.bytes, plan.frees.content), (Op::Purge, 8, 0));
    h.keys("y");
    assert!(h.cache().get(2).is_err(), "purged");
    // Purging a READY item is refused before any popup.
    h.keys("1ggD");
    assert!(h.app.popup.is_none());
    assert!(h.app.message.as_ref().unwrap().error);
    assert_eq!(h.cache().get(1).unwrap().status, Status::Ready);
}

#[test]
fn pin_toggles_without_a_popup() {
    let mut h = Harness::sample((80, 24));
    h.keys("p");
    assert!(h.cache().get(1).unwrap().pinned);
    assert!(h.app.list.selected().unwrap().pinned);
    h.keys("p");
    assert!(!h.cache().get(1).unwrap().pinned);
}

/// `p` on a version the detail pane shows (not the row's) pins it, and again unpins it.
#[test]
fn pin_toggles_the_version_the_detail_pane_shows() {
    let mut h = Harness::sample((120, 30));
    // part-01 v2 (item 13), then its v1 (item 1) in the pane.
    h.keys("G");
    while h.app.list.selected().map(|i| i.id) != Some(13) {
        h.keys("k");
    }
    h.keys("<enter>k<enter>");
    assert_eq!(h.app.detail.shown.as_ref().map(|i| i.id), Some(1));
    h.keys("p");
    assert!(h.cache().get(1).unwrap().pinned, "{}", h.said());
    assert!(!h.cache().get(13).unwrap().pinned);
    h.keys("p");
    assert!(!h.cache().get(1).unwrap().pinned, "{}", h.said());
    assert!(h.said().contains("unpinned 1 item"), "{}", h.said());
}

#[test]
fn copy_sends_the_content_path_or_the_key() {
    let mut h = Harness::sample((80, 24));
    h.keys("y");
    let path = h.clipboard.last().expect("copied").clone();
    assert!(path.contains("blobs-v1"), "{path}");
    // The path is longer than the line: the line keeps its end, the blob's name.
    let name = &path[path.len() - 12..];
    let line = super::render::line_with(&h, "copied path");
    assert!(line.contains(name), "{line}");
    h.keys("Y");
    assert_eq!(h.clipboard.last(), Some(&h.cache().get(1).unwrap().key));
    // A failed item has no content: an error, nothing copied.
    h.keys("jj");
    h.keys("y");
    assert_eq!(h.clipboard.len(), 2);
    assert!(h.app.message.as_ref().unwrap().error);
}

#[test]
fn pin_with_marks_pins_them_all_whatever_the_row_under_the_cursor() {
    let mut h = Harness::sample((80, 24));
    h.keys("<space><space>jj");
    assert_eq!(
        h.app.list.selected().map(|i| (i.id, i.pinned)),
        Some((5, true))
    );
    h.keys("p");
    assert!(h.cache().get(1).unwrap().pinned);
    assert!(h.cache().get(2).unwrap().pinned);
    assert!(
        h.cache().get(5).unwrap().pinned,
        "the cursor's row is no target"
    );
    assert!(h.said().contains("pinned 2 items"));
    // Every target pinned: p unpins; one already so is skipped, not counted.
    h.keys("gg<space><space>p");
    assert!(!h.cache().get(1).unwrap().pinned);
    assert!(!h.cache().get(2).unwrap().pinned);
}

#[test]
fn actions_in_a_version_view_apply_to_the_version_shown() {
    let mut h = Harness::sample((80, 24));
    h.keys("<enter>j<enter>");
    assert_eq!(h.app.detail_item().map(|i| i.id), Some(13));
    h.keys("d");
    let Some(Popup::Confirm(plan)) = &h.app.popup else {
        panic!("no confirm popup: {:?}", h.app.popup);
    };
    assert_eq!(
        plan.ids,
        vec![13],
        "the version on screen, not the list's row"
    );
    h.keys("y");
    assert_eq!(h.cache().get(13).unwrap().status, Status::Trash);
    assert_eq!(h.cache().get(1).unwrap().status, Status::Ready);
}

/// `a` marks every row of the list (the tab's, under the filter), not only those loaded,
/// with their sizes; a list longer than the cap is not marked, and says so.
#[test]
fn a_marks_every_row_of_the_list() {
    let mut h = Harness::big(700, (80, 24));
    h.keys("2");
    let ready = h.app.list.len();
    assert!(ready > PAGE, "more rows than one page: {ready}");
    h.keys("a");
    assert_eq!(h.app.marks.len(), ready, "{}", h.said());
    assert!(
        h.said().contains(&format!("marked {ready} items")),
        "{}",
        h.said()
    );
    let ids: Vec<i64> = h.app.marks.keys().copied().collect();
    let items = h.cache().get_many(&ids).unwrap();
    assert!(items.iter().all(|i| i.status == Status::Ready));
    let bytes: u64 = items.iter().map(|i| i.size.unwrap_or(0)).sum();
    assert_eq!(h.app.marks.values().sum::<u64>(), bytes);
    // The trash takes them all, after asking.
    h.keys("d");
    let Some(Popup::Confirm(plan)) = &h.app.popup else {
        panic!("no confirmation: {}", h.said());
    };
    assert_eq!(plan.ids.len(), ready);
    // Past the cap: nothing marked.
    let query = h.app.list.query.clone();
    let now = chrono::Utc::now();
    let capped = h.source.rows_and_sizes(&query, ready - 1, now).unwrap();
    assert_eq!(capped, None);
}

/// Trashing an item whose writer is at work says what that does to the write, before it
/// is done: the writer's commit will fail.
#[test]
fn trashing_a_live_write_says_it_fails_the_write() {
    let mut h = Harness::demo((120, 30));
    let now = chrono::Utc::now();
    let live = (0..h.app.list.len())
        .filter_map(|i| h.app.list.row(i))
        .find(|i| i.status == Status::Write && !i.is_stale(now))
        .map(|i| i.id)
        .expect("a live write in the demo");
    select_id(&mut h, live);
    h.keys("d");
    let Some(Popup::Confirm(plan)) = &h.app.popup else {
        panic!("no confirm popup: {:?}", h.app.popup);
    };
    assert_eq!(plan.writing, 1);
    let shown = super::render::screen(&h);
    assert!(shown.contains("It is being written"), "{shown}");
    h.keys("<esc>");
    // A READY item: no such word.
    select_id(&mut h, 1);
    h.keys("d");
    assert!(!super::render::screen(&h).contains("being written"));
}

/// The detail of an item in the trash says when it went there, as gc counts it.
#[test]
fn the_detail_says_when_an_item_was_trashed() {
    let mut h = Harness::demo((120, 30));
    h.keys("5");
    select_id(&mut h, 14);
    h.keys("<enter>");
    let item = h.cache().get(14).unwrap();
    let ago = crate::tui::text::age(item.updated, h.app.now);
    let screen = super::render::screen(&h);
    assert!(
        screen.contains(&format!("trashed  from READY, {ago} ago")),
        "{screen}"
    );
}
