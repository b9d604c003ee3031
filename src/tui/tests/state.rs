//! State transitions: keys in, fields and effects out, the cache checked on disk.

use cachet::Status;
use cachet::filter::{Col, SortKey};

use super::Harness;
use crate::tui::app::{Focus, Popup};
use crate::tui::list::PAGE;
use crate::tui::model::Tab;
use crate::tui::preview::PaneView;
use crate::tui::update::{Action, Effect, update};

#[test]
fn opens_with_counts_and_the_first_page() {
    let h = Harness::sample((80, 24));
    let counts = h.app.counts.expect("counted");
    assert_eq!(counts.all.n, 15);
    assert_eq!(counts.ready.n, 12);
    assert_eq!(counts.failed.n, 1);
    assert_eq!(counts.trash.n, 1);
    assert_eq!(counts.write.n, 1);
    assert_eq!(counts.stale.n, 1);
    assert_eq!(h.app.list.len(), 15);
    assert_eq!(h.selected_uri(), "https://example.org/data/part-01.csv");
    // The detail pane's versions came with the selection.
    assert_eq!(h.app.detail.versions.len(), 2);
}

#[test]
fn moves_with_vim_keys_arrows_and_top_bottom() {
    let mut h = Harness::sample((80, 24));
    h.keys("jj<down>");
    assert_eq!(h.app.list.sel, 3);
    h.keys("k");
    assert_eq!(h.app.list.sel, 2);
    h.keys("G");
    assert_eq!(h.app.list.sel, 14);
    assert_eq!(h.app.list.selected().map(|i| i.id), Some(15));
    h.keys("gg");
    assert_eq!(h.app.list.sel, 0);
    assert_eq!(h.app.pending_key, None);
    h.keys("<end><home>");
    assert_eq!(h.app.list.sel, 0);
}

#[test]
fn tabs_switch_by_number_and_tab_key_and_list_only_their_items() {
    let mut h = Harness::sample((80, 24));
    h.keys("4");
    assert_eq!(h.app.tab(), Tab::Failed);
    assert_eq!(h.app.list.len(), 1);
    assert_eq!(
        h.app.list.selected().map(|i| i.status),
        Some(Status::Failed)
    );
    h.keys("<tab>");
    assert_eq!(h.app.tab(), Tab::Trash);
    assert_eq!(h.app.list.selected().map(|i| i.id), Some(4));
    h.keys("6");
    assert_eq!(h.app.list.selected().map(|i| i.id), Some(15));
    h.keys("1");
    assert_eq!(h.app.list.len(), 15);
}

#[test]
fn a_large_list_is_a_window_paged_on_demand() {
    let mut h = Harness::big(5000, (80, 24));
    assert_eq!(h.app.list.len(), 5000);
    h.keys("G");
    assert_eq!(h.app.list.sel, 4999);
    assert_eq!(h.selected_uri(), "file:///data/004999");
    // Only pages around the selection are held, not the 25 pages in between.
    let held = (0..5000).filter(|i| h.app.list.row(*i).is_some()).count();
    assert!(held <= 10 * PAGE, "{held} rows held");
    assert!(h.app.list.row(0).is_none(), "the first page was dropped");
    // Up from the bottom, across page boundaries, pages are read backwards.
    for _ in 0..3 {
        h.keys("<pgup>");
    }
    for _ in 0..200 {
        h.keys("k");
    }
    let sel = h.app.list.sel;
    assert!(sel < 4999 - 200, "{sel}");
    assert_eq!(h.selected_uri(), format!("file:///data/{sel:06}"));
    for i in (sel - 30..sel).rev() {
        assert_eq!(
            h.app.list.row(i).map(|r| r.uri.clone()),
            Some(format!("file:///data/{i:06}"))
        );
    }
    h.keys("gg");
    assert_eq!(h.selected_uri(), "file:///data/000000");
    for _ in 0..40 {
        h.keys("<pgdn>");
    }
    let sel = h.app.list.sel;
    assert!(sel > 600, "{sel}");
    assert_eq!(h.selected_uri(), format!("file:///data/{sel:06}"));
}

#[test]
fn the_end_of_a_sorted_list_is_read_from_the_end() {
    let mut h = Harness::big(1000, (80, 24));
    h.keys("sSG");
    assert_eq!(h.app.list.sel, 999);
    assert_eq!(h.selected_uri(), "file:///data/000000");
    for _ in 0..5 {
        h.keys("<pgup>");
    }
    let sel = h.app.list.sel;
    assert_eq!(h.selected_uri(), format!("file:///data/{:06}", 999 - sel));
}

#[test]
fn late_pages_of_an_old_list_are_dropped() {
    let mut h = Harness::sample((80, 24));
    let stale = h.app.list.wanted();
    assert!(stale.is_empty(), "everything visible is loaded");
    // Ask for the page of the All tab, then switch tabs before it arrives.
    h.app.list.reload();
    let requests = h.app.list.wanted();
    let old = requests.first().expect("a request").clone();
    h.keys("4");
    let data = match crate::tui::worker::run(&h.source, Effect::LoadPage(old)) {
        Action::PageLoaded(d) => d,
        other => panic!("{other:?}"),
    };
    let fx = update(&mut h.app, Action::PageLoaded(data));
    assert!(fx.is_empty());
    assert_eq!(h.app.list.len(), 1);
    assert_eq!(
        h.app.list.selected().map(|i| i.status),
        Some(Status::Failed)
    );
}

#[test]
fn sort_cycles_columns_and_reverses() {
    let mut h = Harness::sample((80, 24));
    h.keys("s");
    assert_eq!(h.app.list.query.sort.key, SortKey::Col(Col::Uri));
    h.keys("gg");
    assert_eq!(h.selected_uri(), "https://example.org/big/model.bin");
    h.keys("S");
    assert!(h.app.list.query.sort.desc);
    h.keys("gg");
    assert_eq!(h.selected_uri(), "s3://bucket/copy-of-02.csv");
    h.keys("sss");
    assert_eq!(h.app.list.query.sort.key, SortKey::Col(Col::Size));
    h.keys("Sgg");
    // Largest first: part-01 v2 has the most bytes.
    assert_eq!(h.app.list.selected().map(|i| i.id), Some(13));
}

/// Another order or tab keeps the selection on its item, on the same screen row, however
/// far down the list it is (its page is found without reading the rows before it); a
/// list without the item starts at the top.
#[test]
fn the_selection_stays_on_its_item_across_orders_and_tabs() {
    let mut h = Harness::big(5000, (80, 24));
    h.keys("G");
    for _ in 0..80 {
        h.keys("<pgup>");
    }
    h.keys("jjj");
    let (sel, row, uri) = (h.app.list.sel, h.screen_row(), h.selected_uri());
    assert!((1000..4000).contains(&sel) && row > 0, "{sel} {row}");
    assert_eq!(uri, format!("file:///data/{sel:06}"));

    // By name, descending: the same item, mirrored, on the same row.
    h.keys("sS");
    assert_eq!(h.selected_uri(), uri);
    assert_eq!(h.app.list.sel, 4999 - sel);
    assert_eq!(h.screen_row(), row);
    for i in h.app.list.offset..h.app.list.offset + h.app.list.height {
        let want = format!("file:///data/{:06}", 4999 - i);
        assert_eq!(h.app.list.row(i).map(|r| r.uri.clone()), Some(want));
    }
    // Moving on from there reads the neighbouring pages.
    for _ in 0..15 {
        h.keys("<pgdn>");
    }
    let moved = h.app.list.sel;
    assert_eq!(
        h.selected_uri(),
        format!("file:///data/{:06}", 4999 - moved)
    );
    h.keys("2");
    assert_eq!(
        h.selected_uri(),
        format!("file:///data/{:06}", 4999 - moved)
    );

    // The trash holds none of them; back in All, the list starts at the top.
    h.keys("5");
    assert!(h.app.list.is_empty());
    h.keys("1");
    assert_eq!((h.app.list.sel, h.app.list.offset), (0, 0));
    assert_eq!(h.selected_uri(), "file:///data/004999");
}

/// A refresh (the registry changed elsewhere) while the page of the selected item in its
/// new order is on its way still lands on the item.
#[test]
fn a_refresh_while_the_new_order_loads_keeps_the_selection() {
    let mut h = Harness::big(1000, (80, 24));
    for _ in 0..30 {
        h.keys("<pgdn>");
    }
    let uri = h.selected_uri();
    let in_flight = update(&mut h.app, Action::SortReverse);
    h.act(Action::Changed);
    h.run(in_flight);
    assert_eq!(h.selected_uri(), uri);
    assert!(h.app.list.query.sort.desc);

    // Two changes before the first one's page is in: the second looks for the same item.
    let mut fx = update(&mut h.app, Action::SortReverse);
    fx.extend(update(&mut h.app, Action::SortReverse));
    h.run(fx);
    assert_eq!(h.selected_uri(), uri);
    let mut fx = update(&mut h.app, Action::SetTab(Tab::Ready));
    fx.extend(update(&mut h.app, Action::SetTab(Tab::All)));
    h.run(fx);
    assert_eq!(h.selected_uri(), uri);
}

/// Moves made while the new order's page of the selected item is on its way are made
/// from that item once it lands (they were lost, and the selection landed near the top).
#[test]
fn moves_while_the_new_order_loads_are_made_from_the_item() {
    let mut h = Harness::big(1000, (80, 24));
    for _ in 0..30 {
        h.keys("<pgdn>");
    }
    let (sel, row) = (h.app.list.sel, h.screen_row());
    // By name (the same order as by id here), then two rows down before it is in.
    let mut fx = update(&mut h.app, Action::SortNext);
    fx.extend(update(&mut h.app, Action::Down));
    fx.extend(update(&mut h.app, Action::Down));
    h.run(fx);
    assert_eq!(h.app.list.query.sort.key, SortKey::Col(Col::Uri));
    assert_eq!(h.selected_uri(), format!("file:///data/{:06}", sel + 2));
    assert_eq!(h.screen_row(), (row + 2).min(h.app.list.height - 1));
}

/// A change made elsewhere, deep in a long list, keeps the selection on its screen row
/// (a capped count, come before the page, pulled the view to put it on the last row).
#[test]
fn a_refresh_deep_in_a_long_list_keeps_the_row() {
    let mut h = Harness::big(3000, (80, 24));
    h.keys("G");
    for _ in 0..20 {
        h.keys("<pgup>");
    }
    h.keys("jjj");
    let (uri, row) = (h.selected_uri(), h.screen_row());
    assert!(
        h.app.list.sel > 1500 && row < 10,
        "{} {row}",
        h.app.list.sel
    );
    h.act(Action::Changed);
    assert_eq!(h.selected_uri(), uri);
    assert_eq!(h.screen_row(), row);
}

/// `s` steps through the columns on screen, and the order by id: at 60 columns the ID
/// column is gone, yet the cycle comes back to id order (the footer says it is).
#[test]
fn sort_steps_through_the_columns_on_screen() {
    let mut h = Harness::sample((60, 24));
    let (mut seen, mut by_id) = (Vec::new(), String::new());
    for _ in 0..7 {
        h.keys("s");
        seen.push(h.app.list.query.sort.key.clone());
        if seen.last() == Some(&SortKey::Col(Col::Id)) {
            by_id = super::render::screen(&h);
        }
    }
    let cols = |c: &[Col]| c.iter().map(|c| SortKey::Col(*c)).collect::<Vec<_>>();
    let round = cols(&[
        Col::Uri,
        Col::Version,
        Col::Status,
        Col::Size,
        Col::Created,
        Col::Id,
        Col::Uri,
    ]);
    assert_eq!(seen, round, "left to right, then back to id order");
    assert!(by_id.contains("id↑"), "{by_id}");
}

#[test]
fn detail_pane_lists_versions_and_jumps_to_them() {
    let mut h = Harness::sample((80, 24));
    h.keys("<enter>");
    assert_eq!(h.app.focus, Focus::Detail);
    assert_eq!(h.app.detail.versions.len(), 2);
    assert_eq!(h.app.detail.sel, 0);
    h.keys("j<enter>");
    let shown = h.app.detail_item().cloned().unwrap();
    assert_eq!(shown.version, 2);
    // Named as any item the pane shows instead of the row's: by id and version.
    let title = format!("Detail: item {} (v2)", shown.id);
    assert!(super::render::line_with(&h, &title).contains(&title));
    h.keys("<esc>");
    assert_eq!(h.app.focus, Focus::List);
    assert_eq!(h.app.detail_item().map(|i| i.id), Some(1));
}

#[test]
fn changes_made_elsewhere_show_on_refresh() {
    let mut h = Harness::sample((80, 24));
    let other = cachet::Cache::open(h.dir.path()).unwrap();
    other.trash(6).unwrap();
    h.act(Action::Changed);
    assert_eq!(h.app.counts.unwrap().trash.n, 2);
    let six = h.app.list.row(5).unwrap();
    assert_eq!((six.id, six.status), (6, Status::Trash));
    // The selection stays on the same item.
    h.keys("jjj");
    other.trash(1).unwrap();
    h.keys("r");
    assert_eq!(h.app.list.selected().map(|i| i.id), Some(4));
}

#[test]
fn g_prefix_help_and_quit() {
    let mut h = Harness::sample((80, 24));
    h.keys("g");
    assert_eq!(h.app.pending_key, Some('g'));
    h.keys("c");
    assert!(matches!(h.app.popup, Some(Popup::Gc(_))));
    h.keys("<esc>jg");
    assert_eq!(h.app.pending_key, Some('g'));
    h.keys("x");
    assert_eq!((h.app.pending_key, h.app.list.sel), (None, 1));
    h.keys("?");
    assert!(matches!(h.app.popup, Some(Popup::Help)));
    h.keys("<esc>");
    assert!(h.app.popup.is_none());
    h.keys("q");
    assert!(h.app.quit);
}

#[test]
fn mouse_clicks_select_rows_and_tabs() {
    let mut h = Harness::sample((80, 24));
    h.act(Action::Click { column: 20, row: 4 });
    assert_eq!(h.app.list.sel, 2);
    // Below the last of the 15 rows: no row, the selection stays.
    h.act(Action::Click {
        column: 20,
        row: 20,
    });
    assert_eq!(h.app.list.sel, 2);
    h.act(Action::Scroll {
        delta: 3,
        column: 20,
        row: 4,
    });
    assert_eq!(h.app.list.offset, 0, "15 rows fit: nothing to scroll");
    // The tab line: " cachet " then " 1 All 15 " …
    h.act(Action::Click { column: 20, row: 0 });
    assert_eq!(h.app.tab(), Tab::Ready);
}

#[test]
fn resizing_keeps_the_selection_visible() {
    let mut h = Harness::big(300, (80, 24));
    h.keys("G");
    h.act(Action::Resize(40, 12));
    let l = &h.app.list;
    assert!(l.sel >= l.offset && l.sel < l.offset + l.height);
    assert_eq!(l.height, 9);
}

#[test]
fn attribute_columns_are_picked_from_the_catalogue() {
    let mut h = Harness::sample((100, 24));
    h.keys("c");
    let Some(Popup::Columns(picker)) = &h.app.popup else {
        panic!("no picker: {:?}", h.app.popup);
    };
    let names: Vec<&str> = picker.names.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["rows", "source"]);
    h.keys("<space>j<space>k<space><enter>");
    assert_eq!(h.app.columns, vec!["source".to_string()]);
    super::render_check("columns_100x24", &h);
    h.keys("c<esc>");
    assert_eq!(h.app.columns, vec!["source".to_string()]);
    // Sorted by that column, then the column goes: the order goes back to ids.
    for _ in 0..12 {
        if matches!(h.app.list.query.sort.key, SortKey::Attr(..)) {
            break;
        }
        h.keys("s");
    }
    assert!(matches!(&h.app.list.query.sort.key, SortKey::Attr(_, n) if n == "source"));
    h.keys("cj<space><enter>");
    assert!(h.app.columns.is_empty());
    assert_eq!(h.app.list.query.sort.key, SortKey::Col(Col::Id));
    // Narrower, the second one chosen has no room: said, not silently left out.
    h.act(Action::Resize(60, 24));
    h.keys("c<space>j<space><enter>");
    assert_eq!(h.app.columns, ["rows", "source"]);
    assert_eq!(h.said(), "no room for source at this width");
    // A name whose last holder lost it is offered no more.
    let holders: Vec<i64> = (0..h.app.list.len())
        .filter_map(|i| h.app.list.row(i))
        .filter(|r| r.attrs.contains_key("rows"))
        .map(|r| r.id)
        .collect();
    for id in holders {
        h.cache().remove_attrs(id, &["rows".to_string()]).unwrap();
    }
    h.keys("c");
    let Some(Popup::Columns(picker)) = &h.app.popup else {
        panic!("no picker: {:?}", h.app.popup);
    };
    let names: Vec<&str> = picker.names.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, vec!["source"]);
}

/// `?` in the column picker shows its keys over it; esc goes back to the picker as it
/// was, ticks and cursor kept.
#[test]
fn the_column_picker_shows_its_keys() {
    let mut h = Harness::sample((100, 24));
    h.keys("cj<space>?");
    let screen = super::render::screen(&h);
    assert!(screen.contains("Columns: keys"), "{screen}");
    assert!(screen.contains("show / hide the attribute"), "{screen}");
    // Keys of the picker do nothing under its help.
    h.keys("<space>");
    h.keys("<esc>");
    let Some(Popup::Columns(picker)) = &h.app.popup else {
        panic!("the picker closed: {:?}", h.app.popup);
    };
    assert!(!picker.help);
    assert_eq!(
        (picker.cursor, picker.chosen.clone()),
        (1, vec![false, true])
    );
    assert!(super::render::screen(&h).contains("[x] source"));
    h.keys("<enter>");
    assert_eq!(h.app.columns, ["source"]);
}

#[test]
fn on_a_narrow_screen_each_key_opens_its_own_view() {
    let mut h = Harness::sample((80, 24));
    h.keys("v");
    assert_eq!(
        (h.app.focus, h.app.view),
        (Focus::Detail, PaneView::Preview)
    );
    h.keys("<esc>v");
    assert_eq!(h.app.view, PaneView::Preview, "v again previews");
    h.keys("<esc><enter>");
    assert_eq!((h.app.focus, h.app.view), (Focus::Detail, PaneView::Detail));
    h.keys("<esc>m");
    assert_eq!(h.app.view, PaneView::Manifest);
    h.keys("<esc>m");
    assert_eq!(h.app.view, PaneView::Manifest, "m again inspects");
    // In sight, the keys switch between the view and the detail.
    h.keys("v");
    assert_eq!(h.app.view, PaneView::Preview);
    h.keys("v");
    assert_eq!(h.app.view, PaneView::Detail);
}

#[test]
fn the_detail_pane_scrolls_to_every_field_on_a_small_screen() {
    let mut h = Harness::sample((40, 12));
    h.keys("<enter>");
    let screen = |h: &Harness| super::render::screen(h);
    assert!(
        screen(&h).contains("status"),
        "opens at the top:\n{}",
        screen(&h)
    );
    assert!(!screen(&h).contains("accessed"));
    h.keys("G");
    let bottom = h.app.detail.scroll;
    assert!(bottom > 0);
    assert!(
        screen(&h).contains("accessed"),
        "the last fields:\n{}",
        screen(&h)
    );
    h.keys("<pgdn>");
    assert_eq!(h.app.detail.scroll, bottom, "not past the end");
    h.keys("<pgup>");
    assert!(h.app.detail.scroll < bottom);
    h.keys("gg");
    assert_eq!(h.app.detail.scroll, 0);
    assert!(screen(&h).contains("status"));
    // A page is the pane's height (less a row), not the hidden list's.
    h.keys("<pgdn>");
    assert_eq!(
        h.app.detail.scroll, 7,
        "8 rows inside the border at 40x12, less one"
    );
}

/// The clock's recount of the list shown keeps its exact counts on the tabs until the
/// new exact ones come: the capped first answer (`1000+`) made them blink every ten
/// seconds.
#[test]
fn a_recount_keeps_exact_counts_until_new_exact_ones_come() {
    let mut h = Harness::big(1500, (80, 24));
    let exact = h.app.counts.expect("counted").all;
    assert!(exact.exact && exact.n == 1500, "{exact:?}");
    let later = h.app.now + chrono::Duration::seconds(10);
    let recount = update(&mut h.app, Action::Clock(later));
    let capped = recount
        .into_iter()
        .find(|e| matches!(e, Effect::Count { exact: false, .. }))
        .expect("a recount");
    let answer = crate::tui::worker::run(&h.source, capped);
    let Action::Counted { counts, .. } = &answer else {
        panic!("{answer:?}");
    };
    assert!(!counts.all.exact, "the first answer is capped: {counts:?}");
    let then = update(&mut h.app, answer);
    assert_eq!(
        h.app.counts.expect("counted").all,
        exact,
        "shown as they were"
    );
    h.run(then);
    assert_eq!(h.app.counts.expect("counted").all, exact);
}

/// The clock's recount is made only when time can have changed the counts: under a
/// filter of ages, or when a lease ran out. Otherwise a costly filter was counted again
/// every ten seconds while the browser sat idle, for the same figures.
#[test]
fn the_clock_recounts_only_what_time_can_change() {
    let mut h = Harness::demo((100, 24));
    let all = |h: &Harness| h.app.counts.expect("counted").all.n;
    let before = all(&h);
    // Changed behind the browser's back (its watch does not run here): only a recount
    // would show it.
    h.cache()
        .put_bytes(&cachet::NewItem::new("s3://b/new"), b"new")
        .unwrap();
    let real_now = chrono::Utc::now();
    h.act(Action::Clock(real_now));
    assert_eq!(all(&h), before, "nothing time moves: not counted again");
    // A lease that runs out between two ticks.
    let writing = (0..h.app.list.len())
        .filter_map(|i| h.app.list.row(i))
        .find(|i| i.status == Status::Write && !i.is_stale(real_now))
        .map(|i| i.id)
        .expect("a live write in the demo");
    // The last tick a minute ago; the lease ran out half a minute ago.
    h.app.now = real_now - chrono::Duration::minutes(1);
    let expiry = (real_now - chrono::Duration::seconds(30)).timestamp_millis();
    let conn = h.cache().registry().db().conn;
    conn.execute(
        "UPDATE items SET lease_expires = ?1 WHERE id = ?2",
        [expiry, writing],
    )
    .unwrap();
    h.act(Action::Clock(real_now));
    assert_eq!(all(&h), before + 1, "a lease ran out: counted again");
    // Under a filter of ages, every tick counts.
    h.keys("/");
    h.type_text("created<100000d");
    h.keys("<enter>");
    let shown = all(&h);
    h.cache()
        .put_bytes(&cachet::NewItem::new("s3://b/newer"), b"newer")
        .unwrap();
    h.act(Action::Clock(chrono::Utc::now()));
    assert_eq!(all(&h), shown + 1);
    // With no counts shown (the last count failed), the next tick counts whatever time did.
    h.keys("<esc>");
    h.act(Action::Clock(chrono::Utc::now()));
    let before = all(&h);
    h.cache()
        .put_bytes(&cachet::NewItem::new("s3://b/newest"), b"newest")
        .unwrap();
    h.app.counts = None;
    h.act(Action::Clock(chrono::Utc::now()));
    assert_eq!(all(&h), before + 1);
}
