//! The filter bar and `f`: keys in, effects and the list out, over a real cache.

use cachet::filter::{Col, SortKey};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use tui_input::InputRequest;

use super::{Harness, render_check};
use crate::tui::filter_bar::cell_term;
use crate::tui::keymap;
use crate::tui::model::Tab;
use crate::tui::update::{Action, Effect, update};

impl Harness {
    /// Types `text` into the open filter bar, one character at a time (so `<` is a
    /// character here, not a key name).
    pub(super) fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            self.act(Action::Edit(InputRequest::InsertChar(c)));
        }
    }

    fn filter_text(&self) -> &str {
        self.app.list.query.filter.as_str()
    }
}

#[test]
fn typing_a_filter_asks_the_worker_and_narrows_the_list() {
    let mut h = Harness::sample((80, 24));
    h.keys("/");
    assert!(h.app.filter.editing);
    let fx = update(&mut h.app, Action::Edit(InputRequest::InsertChar('r')));
    let Some(Effect::Filter(req)) = fx.first() else {
        panic!("no filter request: {fx:?}");
    };
    assert_eq!(req.query.filter.as_str(), "r");
    assert_eq!(req.seq, h.app.filter.seq);
    h.run(fx);
    h.type_text("ows>=1000");
    assert_eq!(h.filter_text(), "rows>=1000");
    assert_eq!(h.app.list.len(), 3);
    assert_eq!(h.selected_uri(), "https://example.org/data/part-10.csv");
    // The tabs count under the filter.
    let counts = h.app.counts.expect("counted");
    assert_eq!((counts.all.n, counts.ready.n, counts.failed.n), (3, 3, 0));
    assert!(counts.all.exact);
    h.keys("<enter>");
    assert!(!h.app.filter.editing);
    assert_eq!(h.filter_text(), "rows>=1000");
    // Tabs and sorts keep the filter, and the selection on its item.
    h.keys("2S");
    assert_eq!(h.app.list.len(), 3);
    assert_eq!(h.selected_uri(), "https://example.org/data/part-10.csv");
    h.keys("gg");
    assert_eq!(h.selected_uri(), "https://example.org/data/part-12.csv");
}

#[test]
fn ctrl_w_deletes_a_term_and_alt_backspace_a_word() {
    let mut h = Harness::sample((80, 24));
    h.keys("/");
    h.type_text("source=web  rows>=1000");
    h.keys("<c-w>");
    assert_eq!(h.app.filter.input.value(), "source=web  ");
    assert_eq!(h.app.list.len(), 12, "the rows follow the text");
    h.type_text("rows>=1000");
    h.keys("<a-bs>");
    assert_eq!(h.app.filter.input.value(), "source=web  rows>=");
    // In the middle of the text, only what is before the cursor goes.
    h.keys("<home><right><right><c-w>");
    assert_eq!(h.app.filter.input.value(), "urce=web  rows>=");
    assert_eq!(h.app.filter.input.cursor(), 0);
    // A quoted value goes whole, its spaces and escaped quotes with it.
    h.keys("<c-u>");
    h.type_text(r#"rows>=1 label="a b \"c d\" e"  "#);
    h.keys("<c-w>");
    assert_eq!(h.app.filter.input.value(), "rows>=1 ");
    assert!(h.app.filter.error.is_none());
}

#[test]
fn a_bad_filter_keeps_the_last_good_rows_and_says_where() {
    let mut h = Harness::sample((80, 24));
    h.keys("/");
    h.type_text("rows>=1000 (");
    let error = h.app.filter.error.clone().expect("a parse error");
    assert_eq!(error.pos, Some(12), "{error:?}");
    assert_eq!(h.filter_text(), "rows>=1000");
    assert_eq!(h.app.list.len(), 3);
    // A value of the wrong type is found by the worker, against the catalogue.
    h.keys("<c-u>");
    assert_eq!(h.app.list.len(), 15);
    h.type_text("source=web rows>=1");
    assert_eq!(h.app.list.len(), 12);
    h.type_text("x");
    let error = h.app.filter.error.clone().expect("a type error");
    assert_eq!(error.pos, Some(17), "{error:?}");
    assert_eq!(h.filter_text(), "source=web rows>=1");
    assert_eq!(h.app.list.len(), 12);
    // enter does not keep a broken filter; esc goes back to the one before.
    h.keys("<enter>");
    assert!(h.app.filter.editing);
    h.keys("<esc>");
    assert!(!h.app.filter.editing);
    assert_eq!(h.app.filter.error, None);
    assert_eq!(h.filter_text(), "");
}

#[test]
fn unknown_names_give_a_notice_with_a_suggestion() {
    let mut h = Harness::sample((80, 24));
    h.keys("/");
    h.type_text("rowz>1");
    assert_eq!(h.app.filter.error, None);
    let notice = h.app.filter.notices.first().expect("a notice");
    assert!(notice.message.contains("rows"), "{notice:?}");
    assert_eq!(h.app.list.len(), 0);
}

#[test]
fn esc_cancels_an_edit_and_then_clears_the_filter() {
    let mut h = Harness::sample((80, 24));
    h.keys("/");
    h.type_text("source=web");
    h.keys("<enter>");
    assert_eq!(h.app.list.len(), 12);
    h.keys("/");
    h.type_text(" rows>=1200");
    assert_eq!(h.app.list.len(), 1);
    h.keys("<esc>");
    assert_eq!(h.filter_text(), "source=web");
    assert_eq!(h.app.list.len(), 12);
    h.keys("<esc>");
    assert_eq!(h.filter_text(), "");
    assert_eq!(h.app.list.len(), 15);
    assert_eq!(h.app.counts.expect("counted").all.n, 15);
}

#[test]
fn up_and_down_recall_recent_filters() {
    let mut h = Harness::sample((80, 24));
    for f in ["rows>=1000", "status:failed"] {
        h.keys("/<c-u>");
        h.type_text(f);
        h.keys("<enter>");
    }
    h.keys("/<c-u>");
    h.type_text("sour");
    h.keys("<up>");
    assert_eq!(h.app.filter.input.value(), "status:failed");
    assert_eq!(h.app.list.len(), 1);
    h.keys("<up><up>");
    assert_eq!(h.app.filter.input.value(), "rows>=1000");
    assert_eq!(h.app.list.len(), 3);
    h.keys("<down>");
    assert_eq!(h.app.filter.input.value(), "status:failed");
    h.keys("<down>");
    assert_eq!(h.app.filter.input.value(), "sour");
    h.keys("<enter>");
    // Kept once, newest last.
    assert_eq!(
        h.app.filter.history,
        vec!["rows>=1000", "status:failed", "sour"]
    );
    // Reopened on the filter in force, the first up goes to the one before it.
    h.keys("/<up>");
    assert_eq!(h.app.filter.input.value(), "status:failed");
}

#[test]
fn f_adds_the_sort_columns_value_of_the_row() {
    let mut h = Harness::sample((80, 24));
    // Sorted by id: ids are unique, so f takes the status.
    h.keys("f");
    assert_eq!(h.filter_text(), "status:ready");
    assert_eq!(h.app.list.len(), 12);
    // Sorted by name: the URI (part-01 has two versions).
    h.keys("s");
    h.keys("f");
    assert_eq!(
        h.filter_text(),
        "status:ready uri=https://example.org/data/part-01.csv"
    );
    assert_eq!(h.app.list.len(), 2);
    assert_eq!(
        h.app.filter.history.last().map(String::as_str),
        Some(h.filter_text())
    );
    // Again on a row the filter matches: the term is there already, once.
    h.keys("f");
    assert_eq!(
        h.filter_text(),
        "status:ready uri=https://example.org/data/part-01.csv"
    );
    assert!(h.said().contains("already"), "{}", h.said());
    // An or-filter goes in parentheses.
    h.keys("<esc>/");
    h.type_text("rows=300 | rows=400");
    h.keys("<enter>sss");
    assert_eq!(h.app.list.query.sort.key, SortKey::Col(Col::Size));
    h.keys("f");
    assert_eq!(h.filter_text(), "(rows=300 | rows=400) size=8");
}

#[test]
fn f_terms_for_each_kind_of_column() {
    let h = Harness::sample((80, 24));
    let cache = h.cache();
    let now = h.app.now;
    let item = cache.get(3).expect("item 3");
    let term = |key: SortKey| cell_term(&item, &key, now);
    assert_eq!(
        term(SortKey::Col(Col::Status)).as_deref(),
        Some("status:failed")
    );
    assert_eq!(
        term(SortKey::Col(Col::Version)).as_deref(),
        Some("version=1")
    );
    let attr = |name: &str| SortKey::Attr(cachet::filter::Scope::Attr, name.into());
    assert_eq!(term(attr("rows")).as_deref(), Some("rows=300"));
    assert_eq!(term(attr("nope")).as_deref(), Some("!has:nope"));
    // An attribute named as a built-in field, named in full: `note=` is the field.
    let mut noted = item.clone();
    noted
        .attrs
        .insert("note".into(), cachet::AttrValue::Text("checked".into()));
    let term = cell_term(&noted, &attr("note"), now).unwrap();
    assert_eq!(term, "attr.note=checked");
    let filter = cachet::filter::Filter::parse(&term).unwrap();
    let conn = cache.registry().db().conn;
    cache.set_attrs(3, &noted.attrs).unwrap();
    let page = cachet::filter::count(conn, &filter, now).unwrap();
    assert_eq!(page, 1, "the item it was taken from matches it");
    assert_eq!(
        cell_term(&item, &attr("note"), now).as_deref(),
        Some("!has:attr.note")
    );
    let stale = cache.get(15).expect("the dead writer");
    assert_eq!(
        cell_term(&stale, &SortKey::Col(Col::Uri), now).as_deref(),
        Some("uri=https://example.org/big/model.bin"),
        "sorted by URI the column shows the URI, not the label"
    );
    assert_eq!(
        cell_term(&stale, &SortKey::Col(Col::Id), now).as_deref(),
        Some("status:stale")
    );
    assert_eq!(cell_term(&stale, &SortKey::Col(Col::Note), now), None);
}

#[test]
fn a_filtered_window_pages_and_reads_its_end_backwards() {
    let mut h = Harness::big(1500, (80, 24));
    h.keys("/");
    // Every item but those ending in 7: 1350 rows, past the count cap.
    h.type_text("!uri~*7");
    h.keys("<enter>");
    assert_eq!(h.app.list.len(), 1350);
    assert!(h.app.counts.expect("counted").all.exact);
    h.keys("G");
    assert_eq!(h.selected_uri(), "file:///data/001499");
    h.keys("<pgup><pgup>");
    let sel = h.app.list.sel;
    let want = (0..1500).filter(|i| i % 10 != 7).nth(sel).expect("a row");
    assert_eq!(h.selected_uri(), format!("file:///data/{want:06}"));
    h.keys("gg");
    assert_eq!(h.selected_uri(), "file:///data/000000");
}

#[test]
fn filter_bar_with_an_error_80x24() {
    let mut h = Harness::sample((80, 24));
    h.keys("/");
    h.type_text("source=web rows>=1x");
    render_check("filter_error_80x24", &h);
}

/// An empty list under a filter being typed that does not parse names the filter it
/// is the list of: the last that read, not what is typed.
#[test]
fn an_empty_list_under_a_bad_filter_names_the_last_that_read() {
    let mut h = Harness::sample((80, 24));
    h.keys("/");
    h.type_text("created<7q");
    let shown = super::render::screen(&h);
    assert!(
        shown.contains("nothing matches the last filter that read: created\n")
            || shown.contains("nothing matches the last filter that read: created "),
        "{shown}"
    );
    // Before any filter read, on an empty cache: nothing to name.
    let mut empty = Harness::big(0, (80, 24));
    empty.keys("/(");
    let shown = super::render::screen(&empty);
    assert!(
        shown.contains("no items here") && !shown.contains("last filter"),
        "{shown}"
    );
    // Back to the word, which reads: it is the filter, and nothing matches it.
    h.keys("<bs><bs><bs>");
    let shown = super::render::screen(&h);
    assert!(shown.contains("nothing matches the filter "), "{shown}");
}

#[test]
fn filter_bar_with_an_error_40x12() {
    let mut h = Harness::sample((40, 12));
    h.keys("/");
    h.type_text("rows>=1000 (");
    render_check("filter_error_40x12", &h);
}

#[test]
fn filter_in_force_and_a_notice_80x24() {
    let mut h = Harness::sample((80, 24));
    h.keys("/");
    h.type_text("status:ready sorce=web");
    render_check("filter_notice_80x24", &h);
    h.keys("<esc>/");
    h.type_text("rows>=1000");
    h.keys("<enter>");
    render_check("filter_kept_80x24", &h);
}

#[test]
fn a_tab_chosen_while_a_filter_is_on_its_way_is_the_one_listed() {
    let mut h = Harness::sample((80, 24));
    h.keys("/rows>=1000<enter>5");
    assert_eq!(h.app.list.len(), 0);
    // esc drops the filter, and `1` goes back to All before the worker answers.
    let mut held = Vec::new();
    for code in [KeyCode::Esc, KeyCode::Char('1')] {
        let event = Event::Key(KeyEvent::new(code, KeyModifiers::NONE));
        let action = keymap::action(&h.app, &event).expect("a bound key");
        held.extend(update(&mut h.app, action));
    }
    h.run(held);
    assert_eq!(h.filter_text(), "");
    assert_eq!(h.app.tab(), Tab::All);
    assert_eq!(h.app.list.query.tab, Tab::All);
    assert_eq!(h.app.list.len(), 15);
}

#[test]
fn a_filter_bar_left_as_it_was_keeps_the_selection() {
    let mut h = Harness::sample((80, 24));
    h.keys("jjjj");
    let before = h.app.list.selected().map(|i| i.id);
    assert_eq!(before, Some(5));
    h.keys("/<esc>");
    assert_eq!(
        h.app.list.selected().map(|i| i.id),
        before,
        "esc, nothing typed"
    );
    // A new filter starts at its first row.
    h.keys("/");
    h.type_text("rows>=300");
    h.keys("<enter>");
    assert_eq!(h.app.list.selected().map(|i| i.id), Some(3));
}

/// Typing a filter shows its best matches from the top; a filter cleared, or a term added
/// with `f` (which the row matches), keeps the selection on its item, on its screen row.
#[test]
fn a_cleared_or_added_to_filter_keeps_the_selection() {
    let mut h = Harness::big(1000, (80, 24));
    h.keys("/");
    h.type_text("uri~data/00");
    h.keys("<enter>");
    for _ in 0..25 {
        h.keys("<pgdn>");
    }
    h.keys("k");
    let (uri, row) = (h.selected_uri(), h.screen_row());
    assert!(h.app.list.sel > 300, "{}", h.app.list.sel);

    h.keys("<esc>");
    assert_eq!(h.filter_text(), "");
    assert_eq!(h.selected_uri(), uri, "cleared");
    assert_eq!(h.screen_row(), row);
    h.keys("f");
    assert_eq!(h.filter_text(), "status:ready");
    assert_eq!(h.selected_uri(), uri, "a term added");
    assert_eq!(h.screen_row(), row);

    // Typing: the first match.
    h.keys("/");
    h.type_text(" uri~data/0009");
    assert_eq!(h.selected_uri(), "file:///data/000900");
    // Given up: back to the item selected before the edit.
    h.keys("<esc>");
    assert_eq!(h.filter_text(), "status:ready");
    assert_eq!(h.selected_uri(), uri, "given up");
    assert_eq!(h.screen_row(), row);

    // Near the end of its page (where a count not in yet made the list look shorter),
    // cleared: still on its row.
    h.keys("<esc>");
    h.keys("/");
    h.type_text("uri~data/00");
    h.keys("<enter>");
    let target = 2 * crate::tui::list::PAGE - 5;
    while h.app.list.sel < target {
        h.keys("<pgdn>");
    }
    h.keys("k");
    let (uri, row) = (h.selected_uri(), h.screen_row());
    h.keys("<esc>");
    assert_eq!(h.selected_uri(), uri);
    assert_eq!(h.screen_row(), row, "cleared near a page's end");
}

/// A new filter's rows come before its counts: until they do, the tabs say `…`, not the
/// counts of the filter before (on a million items those stayed for seconds beside a list
/// that said nothing matched).
#[test]
fn tabs_count_nothing_of_the_filter_before() {
    let mut h = Harness::sample((120, 24));
    assert_eq!(h.app.counts.expect("counted").all.n, 15);
    h.keys("/");
    let fx = update(&mut h.app, Action::Edit(InputRequest::InsertChar('r')));
    let Some(Effect::Filter(req)) = fx.into_iter().next() else {
        panic!("no filter request");
    };
    let filtered = crate::tui::worker::run(&h.source, Effect::Filter(req));
    // The rows are in; the count asked for is not done yet.
    let counting = update(&mut h.app, filtered);
    assert!(
        counting.iter().any(|e| matches!(e, Effect::Count { .. })),
        "{counting:?}"
    );
    assert_eq!(h.app.list.query.filter.as_str(), "r");
    assert!(h.app.counts.is_none(), "counts of the filter before");
    super::render::line_with(&h, "1 All …");
    h.run(counting);
    assert!(h.app.counts.expect("counted").all.n < 15);
}

/// In the filter bar `?` is typed (a glob's one character); F1 shows the filter
/// language over the bar, which is still open, with what was typed, once it is closed.
#[test]
fn f1_shows_the_filter_language_over_the_bar() {
    let mut h = Harness::sample((80, 24));
    h.keys("/uri~part-0?");
    assert_eq!(h.app.filter.input.value(), "uri~part-0?");
    h.keys("<f1>");
    assert!(matches!(h.app.popup, Some(crate::tui::app::Popup::Help)));
    let shown = super::render::screen(&h);
    assert!(shown.contains("status:ready,stale"), "{shown}");
    h.keys("<esc>");
    assert!(h.app.popup.is_none() && h.app.filter.editing);
    assert_eq!(h.app.filter.input.value(), "uri~part-0?");
}
