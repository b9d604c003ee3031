//! Garbage collection through the dialog, on the demo cache.

use cachet::Status;

use super::render::screen;
use super::{Harness, big_cache, render_check};
use crate::tui::app::Popup;
use crate::tui::gc::Stage;
use crate::tui::update::{Action, update};

fn stage(h: &Harness) -> Stage {
    match &h.app.popup {
        Some(Popup::Gc(d)) => d.stage.clone(),
        other => panic!("no gc dialog: {other:?}"),
    }
}

#[test]
fn choose_plan_apply_and_report() {
    let mut h = Harness::demo((80, 24));
    h.keys("gc");
    assert!(matches!(stage(&h), Stage::Choose));
    render_check("gc_choose_80x24", &h);
    // The everyday policies, as they stand.
    h.keys("<enter>");
    let Stage::Plan(plan) = stage(&h) else {
        panic!("no plan: {:?}", stage(&h));
    };
    let mut ids: Vec<i64> = plan.items.iter().map(|i| i.id).collect();
    ids.sort_unstable();
    assert_eq!(ids, [13, 14, 18], "the failure, the trash, the dead writer");
    assert!(
        plan.files.iter().any(|f| f.sha256.is_some()),
        "the orphan blob"
    );
    render_check("gc_plan_80x24", &h);
    // Nothing changed yet.
    assert_eq!(h.cache().get(14).unwrap().status, Status::Trash);
    h.keys("y");
    let Stage::Report(report) = stage(&h) else {
        panic!("no report: {:?}", stage(&h));
    };
    render_check("gc_report_80x24", &h);
    assert_eq!(report.items_removed, 3);
    let said = h.app.message.as_ref().map(|m| m.text.as_str());
    assert!(
        said.is_some_and(|t| t.starts_with("gc: removed 3 items, 3 blobs")),
        "the status line tells the outcome: {said:?}"
    );
    assert!(
        report.blobs_deleted >= 3,
        "the blobs of the trashed and the failed item, and the orphan"
    );
    assert!(h.cache().get(14).is_err(), "purged");
    let counts = h.app.counts.unwrap();
    assert_eq!((counts.trash.n, counts.failed.n), (0, 0));
    h.keys("<esc>");
    assert!(h.app.popup.is_none());
}

#[test]
fn a_plan_with_nothing_to_do_says_so_and_goes_back() {
    let mut h = Harness::demo((40, 12));
    // Every policy off: trash and orphans have three settings, stale writes four.
    h.keys("gc<space><space>j<space><space>jjjj<space><space>");
    h.keys("<enter>");
    let Stage::Plan(plan) = stage(&h) else {
        panic!("no plan");
    };
    assert!(plan.is_empty(), "{:?}", plan.items);
    render_check("gc_empty_plan_40x12", &h);
    h.keys("y");
    assert!(
        matches!(stage(&h), Stage::Plan(_)),
        "y does nothing on an empty plan"
    );
    h.keys("<esc>");
    assert!(matches!(stage(&h), Stage::Choose));
    h.keys("<esc>");
    assert!(h.app.popup.is_none());
}

/// `esc` while a plan is being made goes back to the choices. A plan that comes after it
/// was let go is dropped, and never shown for another asked for since.
#[test]
fn a_plan_let_go_is_never_shown_for_another() {
    let mut h = Harness::demo((80, 24));
    h.keys("gc");
    // The everyday policies, the trash purged among them; the plan is held back.
    let with_trash = update(&mut h.app, Action::Confirm);
    assert!(matches!(stage(&h), Stage::Planning { .. }));
    h.keys("<esc>");
    assert!(matches!(stage(&h), Stage::Choose), "{:?}", stage(&h));
    // The trash left alone this time, held back as well.
    h.keys("<space><space>");
    let without_trash = update(&mut h.app, Action::Confirm);
    h.run(with_trash);
    assert!(
        matches!(stage(&h), Stage::Planning { .. }),
        "the plan let go is dropped: {:?}",
        stage(&h)
    );
    h.run(without_trash);
    let Stage::Plan(plan) = stage(&h) else {
        panic!("no plan: {:?}", stage(&h));
    };
    let mut ids: Vec<i64> = plan.items.iter().map(|i| i.id).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [13, 18],
        "the failure and the dead writer, not the trash"
    );
}

/// A browser of `size` with the gc dialog showing the plan to purge 300 trashed items.
fn plan_of_300_trashed(size: (u16, u16)) -> (Harness, Box<cachet::gc::GcPlan>) {
    let (dir, cache) = big_cache(300);
    for id in 1..=300 {
        cache.trash(id).unwrap();
    }
    let mut h = Harness::new(dir, cache, size);
    h.keys("gc<enter>");
    match stage(&h) {
        Stage::Plan(plan) => (h, plan),
        other => panic!("no plan: {other:?}"),
    }
}

#[test]
fn a_long_plan_scrolls_and_formats_only_what_is_shown() {
    let (mut h, plan) = plan_of_300_trashed((80, 24));
    assert_eq!(plan.items.len(), 300);
    let first = format!("#{:<6} ", plan.items.get(0).unwrap().id);
    let last = format!("#{:<6} ", plan.items.get(299).unwrap().id);
    let shown = screen(&h);
    assert!(shown.contains("what goes (1–"), "{shown}");
    assert!(shown.contains(" of 300):"), "{shown}");
    assert!(shown.contains(&first) && !shown.contains(&last), "{shown}");
    // The end: the last entry at the bottom (the dialog has room for 13 at 80x24).
    h.keys("G");
    let shown = screen(&h);
    assert!(shown.contains("(288–300 of 300"), "{shown}");
    assert!(shown.contains(&last) && !shown.contains(&first), "{shown}");
    h.keys("kk<pgup>");
    assert!(screen(&h).contains("(273–285 of 300"), "{}", screen(&h));
    h.keys("g");
    assert!(screen(&h).contains(&first));
    // Scrolling never leaves the plan: y still applies it.
    h.keys("jy");
    assert!(matches!(stage(&h), Stage::Report(_)), "{:?}", stage(&h));
}

#[test]
fn the_whole_plan_can_be_reached_on_the_smallest_screen() {
    // At 40x12 the summary wraps: the entries must still match the rows they get.
    let (mut h, plan) = plan_of_300_trashed((40, 12));
    let id = |at: usize| format!("#{:<6} ", plan.items.get(at).unwrap().id);
    // G before the dialog was ever drawn: it cannot know yet how many entries fit.
    h.keys("G");
    let shown = screen(&h);
    let position = shown
        .split("what goes (")
        .nth(1)
        .and_then(|rest| rest.split(" of 300)").next())
        .unwrap_or_else(|| panic!("no position: {shown}"));
    let (from, to) = position.split_once('–').unwrap();
    let (from, to): (usize, usize) = (from.parse().unwrap(), to.parse().unwrap());
    assert_eq!(to, 300, "{shown}");
    for at in from - 1..to {
        assert!(
            shown.contains(&id(at)),
            "entry {} of {from}–{to}: {shown}",
            at + 1
        );
    }
    // A page is what fits: one page up ends where this one began.
    h.keys("<pgup>");
    assert!(
        screen(&h).contains(&format!("–{} of 300", from - 1)),
        "{}",
        screen(&h)
    );
}

/// `←` steps a setting back, `→` and `space` on; `?` shows the dialog's keys in its
/// place, and `esc` goes back to the dialog as it was (it used to do nothing).
#[test]
fn settings_step_both_ways_and_question_mark_shows_the_keys() {
    let mut h = Harness::demo((80, 24));
    h.keys("gc");
    let chosen = |h: &Harness| match &h.app.popup {
        Some(Popup::Gc(d)) => d.chosen[0],
        other => panic!("no gc dialog: {other:?}"),
    };
    assert_eq!(chosen(&h), 1, "the trash: all of it");
    h.keys("<left>");
    assert_eq!(chosen(&h), 0, "off");
    h.keys("<left>");
    assert_eq!(chosen(&h), 2, "round to the last");
    h.keys("<right>");
    assert_eq!(chosen(&h), 0);
    h.keys(" ");
    assert_eq!(chosen(&h), 1);
    h.keys("?");
    assert!(screen(&h).contains("make the plan (nothing is deleted yet)"));
    // Under the keys, no setting is typed out of sight.
    h.keys("e");
    match &h.app.popup {
        Some(Popup::Gc(d)) => assert!(d.editing.is_none() && d.help),
        other => panic!("no gc dialog: {other:?}"),
    }
    h.keys("<esc>");
    assert!(matches!(stage(&h), Stage::Choose), "the dialog stays");
    assert!(!screen(&h).contains("make the plan (nothing is deleted yet)"));
    assert_eq!(chosen(&h), 1, "settings as they were");
    // Closed and opened again, it keeps its settings.
    h.keys("<left><esc>");
    assert!(h.app.popup.is_none());
    h.keys("gc");
    assert_eq!(chosen(&h), 0, "as it was left");
}

/// A plan under a cap says what the cache holds before and after, and when the cap cannot
/// be reached; so does a cap already met, with nothing to collect.
#[test]
fn a_plan_under_a_cap_gives_its_account() {
    let mut h = Harness::demo((80, 24));
    // Every other policy off; shrink the cache to 1 byte.
    h.keys("gc<space><space>j<space><space>jjjj<space><space>");
    h.keys("ke1B<enter><enter>");
    let Stage::Plan(plan) = stage(&h) else {
        panic!("no plan: {:?}", stage(&h));
    };
    // The pinned item and the failure stay.
    assert_eq!(plan.over_cap(), Some(63 + 12 - 1));
    let shown = screen(&h);
    assert!(
        shown.contains("max-size 1 B: the cache holds 290.0 KiB, 75 B after this gc, still 74 B"),
        "{shown}"
    );
    h.keys("<esc>e<c-u>1GiB<enter><enter>");
    let shown = screen(&h);
    assert!(shown.contains("Nothing to collect"), "{shown}");
    assert!(
        shown.contains("max-size 1.0 GiB: the cache holds 290.0 KiB, within the cap."),
        "{shown}"
    );
}

/// `e` types a setting's value (any size or age, not only the choices): a bad one is
/// refused where it is typed, `off` turns the setting off, and the plan follows.
#[test]
fn settings_can_be_typed() {
    let mut h = Harness::demo((80, 24));
    h.keys("gc");
    let dialog = |h: &Harness| match &h.app.popup {
        Some(Popup::Gc(d)) => d.clone(),
        other => panic!("no gc dialog: {other:?}"),
    };
    // Shrink the cache to: a size of one's own.
    h.keys("jjjj");
    h.keys("e");
    assert!(dialog(&h).editing.is_some());
    h.keys("lots");
    h.keys("<enter>");
    assert!(
        screen(&h).contains("'lots' is not a size"),
        "{}",
        screen(&h)
    );
    assert!(dialog(&h).editing.is_some(), "still typing");
    for _ in 0.."lots".len() {
        h.keys("<bs>");
    }
    h.keys("3KiB");
    h.keys("<enter>");
    let d = dialog(&h);
    assert!(d.editing.is_none());
    assert_eq!(d.typed[4].as_deref(), Some("3KiB"));
    assert_eq!(d.policy().max_size, Some(3 * 1024));
    assert!(screen(&h).contains("[3KiB]"), "{}", screen(&h));
    // Keep the newest versions: 2 per key, typed; then off again.
    h.keys("kke2<enter>");
    assert_eq!(dialog(&h).policy().keep_last, Some(2));
    // Shown as the choices read.
    assert!(screen(&h).contains("[2 per key]"), "{}", screen(&h));
    // Typed again, the value stands in the field to be edited.
    h.keys("e");
    assert_eq!(
        dialog(&h)
            .editing
            .map(|(input, _)| input.value().to_string()),
        Some("2".into())
    );
    // ^u clears the field, as in the filter bar (it typed a u).
    h.keys("<c-u>");
    let field = dialog(&h)
        .editing
        .map(|(input, _)| input.value().to_string());
    assert_eq!(field.as_deref(), Some(""));
    h.keys("off");
    h.keys("<enter>");
    assert_eq!(dialog(&h).policy().keep_last, None);
    assert_eq!(dialog(&h).chosen[2], 0);
    // esc leaves a value being typed as it was.
    h.keys("e9<esc>");
    assert_eq!(dialog(&h).policy().keep_last, None);
    assert!(matches!(stage(&h), Stage::Choose), "the dialog stays");
    // The plan is made with the typed cap: it evicts down to 3 KiB.
    h.keys("<enter>");
    let Stage::Plan(plan) = stage(&h) else {
        panic!("no plan: {:?}", stage(&h));
    };
    assert_eq!(plan.policy.max_size, Some(3 * 1024));
    assert!(
        plan.items
            .iter()
            .any(|i| i.reason == cachet::gc::Reason::MaxSize)
    );
}
