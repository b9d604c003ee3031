//! The preview pane over the demo cache: listings, members, tables, latest wins.

use cachet::preview::{Body, Content};

use super::Harness;
use crate::tui::app::Focus;
use crate::tui::preview::PaneView;
use crate::tui::update::{Action, Effect, update};

/// The id of the first item listed whose URI `is` says it is.
fn id_where(h: &Harness, is: impl Fn(&str) -> bool) -> i64 {
    (0..h.app.list.len())
        .find_map(|i| h.app.list.row(i).filter(|r| is(&r.uri)))
        .map(|r| r.id)
        .expect("an item listed with such a URI")
}

fn select(h: &mut Harness, id: i64) {
    let row = (0..h.app.list.len())
        .find(|i| h.app.list.row(*i).map(|r| r.id) == Some(id))
        .expect("row");
    h.app.list.select(row);
    let fx = update(&mut h.app, Action::Refresh);
    h.run(fx);
}

#[test]
fn csv_shows_as_columns_and_follows_the_selection() {
    let mut h = Harness::demo((120, 30));
    h.keys("v");
    assert_eq!(h.app.view, PaneView::Preview);
    let shown = h
        .app
        .preview
        .shown
        .clone()
        .expect("a result")
        .expect("a preview");
    let Body::Content {
        content: Content::Table { header, .. },
    } = &shown.body
    else {
        panic!("not a table: {:?}", shown.body);
    };
    assert_eq!(header, &["date", "station", "temp_c", "rain_mm"]);
    // Moving the selection previews the next item.
    h.keys("j");
    assert_eq!(h.app.preview.want.as_ref().map(|w| w.id), Some(2));
    super::render_check("preview_csv_120x30", &h);
    // G shows the last screenful, not the last row alone (here all rows fit).
    h.keys("k<enter>G");
    let screen = super::render::screen(&h);
    assert!(screen.contains("2026-01-24"), "last row shown:\n{screen}");
    // The footer offers no member to open in content that has none.
    assert!(
        screen.contains("j/k scroll") && !screen.contains("open member"),
        "{screen}"
    );
    assert!(
        screen.contains("2026-01-01"),
        "a screenful, not one row:\n{screen}"
    );
    assert_eq!(h.app.preview.scroll, 0);
}

#[test]
fn archives_list_members_and_enter_opens_one() {
    let mut h = Harness::demo((80, 24));
    select(&mut h, 9);
    h.keys("v");
    assert_eq!(h.app.focus, Focus::Detail, "v opens the pane at 80 columns");
    let listing = h.app.preview.shown.clone().unwrap().unwrap();
    let Body::Members { members, .. } = &listing.body else {
        panic!("not a listing: {:?}", listing.body);
    };
    assert_eq!(members.len(), 4);
    assert_eq!(listing.format.to_string(), "gzip+tar");
    super::render_check("preview_tar_80x24", &h);
    h.keys("jj<enter>");
    let member = h.app.preview.shown.clone().unwrap().unwrap();
    assert_eq!(
        member.member.as_ref().map(|m| m.path.as_str()),
        Some("toolkit/data/sample.csv")
    );
    h.keys("<esc>");
    assert!(matches!(
        h.app.preview.shown.clone().unwrap().unwrap().body,
        Body::Members { .. }
    ));
    assert_eq!(h.app.preview.sel, 2);
    h.keys("<esc>");
    assert_eq!(h.app.focus, Focus::List);
}

#[test]
fn a_late_preview_for_an_old_selection_is_dropped() {
    let mut h = Harness::demo((120, 30));
    h.keys("v");
    let old = h.app.preview.want.clone().expect("request");
    h.keys("j");
    let current = h.app.preview.shown.clone();
    // The result for the first item arrives after the move.
    let late = crate::tui::worker::run(&h.source, Effect::LoadPreview(old));
    let fx = update(&mut h.app, late);
    assert!(fx.is_empty());
    assert_eq!(
        format!("{:?}", h.app.preview.shown),
        format!("{current:?}"),
        "the late result replaced the current one"
    );
}

#[test]
fn items_without_content_say_why_and_binary_shows_hex() {
    let mut h = Harness::demo((120, 30));
    select(&mut h, 13);
    h.keys("v");
    let err = h.app.preview.shown.clone().unwrap().unwrap_err();
    assert!(err.contains("FAILED"), "{err}");
    select(&mut h, 5);
    let p = h.app.preview.shown.clone().unwrap().unwrap();
    assert!(matches!(
        p.body,
        Body::Content {
            content: Content::Hex { .. }
        }
    ));
    assert!(
        p.truncated.is_some(),
        "256 KiB of binary is cut and says so"
    );
    super::render_check("preview_hex_120x30", &h);
    // Wide enough for 16 bytes a line: G goes to the last of those lines, not past them.
    h.act(Action::Resize(200, 30));
    h.keys("<enter>G");
    let screen = super::render::screen(&h);
    let hex_rows = screen.lines().filter(|l| l.contains("│000")).count();
    assert!(
        hex_rows > 20,
        "a screenful of hex, not blank rows:\n{screen}"
    );
}

#[test]
fn the_manifest_inspector_follows_refs_and_expands_shards() {
    let mut h = Harness::demo((80, 24));
    select(&mut h, 20);
    h.keys("m");
    assert_eq!(h.app.view, PaneView::Manifest);
    assert_eq!(h.app.focus, Focus::Detail);
    let rows = |h: &Harness| h.app.inspect.shown.clone().unwrap().unwrap().rows;
    let kinds: Vec<String> = rows(&h).iter().map(|r| r.kind.clone()).collect();
    // The ref's entries under a row for the ref they were reached through.
    assert_eq!(kinds, ["shard", "shard", "shard", "manifest_ref", "file"]);
    assert_eq!(rows(&h)[3].depth, 0);
    assert_eq!(rows(&h)[4].depth, 1, "reached through the ref");
    // That file is also an item of its own: enter on it shows that item and its versions.
    h.keys("G<enter>");
    let shown = h.app.detail.shown.clone().expect("jumped");
    assert!(shown.uri.ends_with("labels-extra.csv"), "{}", shown.uri);
    // The pane names it: its keys act on it, not on the row still selected.
    let screen = super::render::screen(&h);
    let title = format!("Detail: item {} (v1)", shown.id);
    assert!(screen.contains(&title), "{screen}");
    assert_eq!(h.app.view, PaneView::Detail);
    assert_eq!(h.app.detail.key.as_deref(), Some(shown.key.as_str()));
    assert_eq!(
        h.app
            .detail
            .versions
            .iter()
            .map(|v| v.id)
            .collect::<Vec<_>>(),
        [shown.id]
    );
    // `m` and `esc` go back to the inspector it was followed from, on the entry.
    for back in ["m", "<esc>"] {
        h.keys(back);
        assert_eq!(h.app.view, PaneView::Manifest, "{back}");
        assert_eq!(h.app.focus, Focus::Detail, "{back}");
        assert_eq!(h.app.inspect.sel, 4, "{back}");
        assert!(h.app.detail.shown.is_none(), "{back}");
        h.keys("<enter>");
        assert_eq!(h.app.detail.shown.as_ref().map(|i| i.id), Some(shown.id));
    }
    h.keys("<esc><esc>");
    assert_eq!(h.app.focus, Focus::List);
    select(&mut h, 20);
    h.keys("m");
    assert_eq!(rows(&h).len(), 5);
    h.keys("x");
    let expanded = rows(&h);
    assert_eq!(
        expanded.len(),
        16,
        "ten clips, labels and the appended file, under three shards and the ref"
    );
    // Each shard's members under its row.
    let heads: Vec<(usize, &str, bool)> = (expanded.iter().enumerate())
        .filter(|(_, r)| r.depth == 0)
        .map(|(at, r)| (at, r.key.as_str(), r.followed))
        .collect();
    assert_eq!(
        heads,
        [
            (0, "shards/shard-00001.tar.gz", false),
            (5, "shards/shard-00002.tar.gz", false),
            (10, "shards/shard-00003.tar.gz", false),
            (14, "parts/part-00001.jsonl", true)
        ]
    );
    super::render_check("manifest_80x24", &h);
    // The followed ref says so beside its key.
    h.keys("G");
    super::render::line_with(&h, "↪ parts/part-00001.jsonl (followed)");
    h.keys("gg");
    h.keys("xo");
    assert_eq!(
        rows(&h).last().map(|r| r.kind.as_str()),
        Some("manifest_ref")
    );
    // A blob no item holds is previewed: here the ref's part, a manifest of its own.
    h.keys("<enter>");
    assert_eq!(h.app.view, PaneView::Preview);
    let shard = h.app.preview.shown.clone().unwrap().unwrap();
    assert_eq!(shard.name, "shards/shard-00001.tar.gz");
    assert!(
        matches!(shard.body, Body::Members { .. }),
        "{:?}",
        shard.body
    );
    // A plain item is not a manifest.
    h.keys("<esc>");
    select(&mut h, 1);
    h.keys("m");
    let err = h.app.inspect.shown.clone().unwrap().unwrap_err();
    assert!(err.contains("not a manifest"), "{err}");
}

#[test]
fn an_empty_tab_shows_no_manifest_or_preview_of_an_item_left_behind() {
    let mut h = Harness::demo((120, 30));
    select(&mut h, 20);
    h.keys("m");
    assert!(h.app.inspect.shown.is_some());
    // The Failed tab under a filter nothing matches: no row, nothing inspected.
    h.keys("<esc>/");
    for c in "label~nothing-is-called-this".chars() {
        h.act(Action::Edit(tui_input::InputRequest::InsertChar(c)));
    }
    h.keys("<enter>");
    assert!(h.app.list.is_empty());
    assert!(h.app.inspect.shown.is_none() && h.app.inspect.want.is_none());
    let screen = super::render::screen(&h);
    assert!(!screen.contains("Manifest ("), "{screen}");
    h.keys("v");
    assert!(h.app.preview.shown.is_none() && h.app.preview.want.is_none());
}

/// On a wide screen the inspector stands beside the list, which keeps the keys after
/// `m`: `x` and `o` still reach the inspector.
#[test]
fn shards_and_refs_toggle_from_the_list_beside_the_inspector() {
    let mut h = Harness::demo((120, 30));
    select(&mut h, 20);
    h.keys("m");
    assert_eq!((h.app.view, h.app.focus), (PaneView::Manifest, Focus::List));
    // The footer says so.
    let footer = super::render::line_with(&h, "? help");
    assert!(footer.contains("x shards  o refs"), "{footer}");
    h.keys("x");
    assert!(h.app.inspect.expand_shards);
    let rows = h.app.inspect.shown.clone().unwrap().unwrap().rows;
    assert_eq!(rows.len(), 16, "expanded");
    h.keys("o");
    assert!(!h.app.inspect.follow_refs);
    // The list kept the keys: j still moves it.
    h.keys("j");
    assert_eq!(h.app.list.selected().map(|i| i.id), Some(21));
}

/// A pane's title too long for its border is cut with a mark, its start kept.
#[test]
fn a_long_pane_title_is_cut_with_a_mark() {
    let mut h = Harness::demo((50, 20));
    select(&mut h, 8);
    h.keys("v");
    h.keys("jj<enter>");
    let top = super::render::line_with(&h, "Preview: toolkit-1.4.zip");
    assert!(top.contains("…┐"), "{top}");
}

/// A text line wider than the pane is cut at its edge with a mark.
#[test]
fn a_line_wider_than_the_pane_is_cut_with_a_mark() {
    let mut h = Harness::demo((120, 30));
    select(&mut h, 6);
    h.keys("v");
    let line = super::render::line_with(&h, "The weather data comes");
    assert!(line.contains("…│"), "{line}");
}

/// A table (CSV, JSON lines) wider than the pane is cut at its edge with a mark, as a long
/// text line is: the manifest's columns ran into the border (`shar│`).
#[test]
fn a_table_wider_than_the_pane_is_cut_with_a_mark() {
    let mut h = Harness::demo((120, 30));
    select(&mut h, 19);
    h.keys("v");
    let row = super::render::line_with(&h, "│shard │ b26a");
    let pane = row.split('│').skip(1).collect::<Vec<_>>().join("│");
    assert!(pane.trim_end_matches(['"', ' ']).ends_with("…│"), "{row}");
}

/// Names holding control characters (an archive member's, an item's URI) are shown in
/// caret notation: the terminal would not show ESC or a tab, yet they counted in the
/// column's width and pushed the member's size out of line.
#[test]
fn control_characters_in_names_are_shown_and_keep_columns_in_line() {
    let (dir, cache) = super::sample_cache();
    let mut tar = tar::Builder::new(Vec::new());
    for (name, body) in [("plain.txt", "abc"), ("odd\u{1b}[31m\tname.txt", "defg")] {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(0o644);
        // The name byte for byte, as any tool may have written it.
        let bytes = name.as_bytes();
        header.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        header.set_cksum();
        tar.append(&header, body.as_bytes()).unwrap();
    }
    let archive = tar.into_inner().unwrap();
    let item = cache
        .put_bytes(
            &cachet::NewItem::new("s3://b/odd\u{1b}]0;title\u{7}.tar"),
            &archive,
        )
        .unwrap();
    let mut h = super::Harness::new(dir, cache, (120, 30));
    select(&mut h, item.id);
    h.keys("v");
    let odd = super::render::line_with(&h, "odd^[[31m^Iname.txt");
    let plain = super::render::line_with(&h, "plain.txt");
    let size_end = |line: &str, size: &str| line.find(size).map(|at| line[..at].chars().count());
    assert_eq!(
        size_end(&odd, "4 B"),
        size_end(&plain, "3 B"),
        "sizes in one column:\n{odd}\n{plain}"
    );
    super::render::line_with(&h, "odd^[]0;title^G.tar");
}

/// Files a manifest links that no item holds are previewed from the inspector: a loose
/// one, and one inside a shard archive (only the archive is in the store).
#[test]
fn the_inspector_previews_files_only_a_manifest_links() {
    let mut h = Harness::demo((80, 24));
    select(&mut h, 20);
    h.keys("mx");
    let rows = h.app.inspect.shown.clone().unwrap().unwrap().rows;
    let at = rows
        .iter()
        .position(|r| r.in_shard.is_some())
        .expect("a file in a shard");
    let member = rows[at].key.clone();
    for _ in 0..at {
        h.keys("j");
    }
    // A change elsewhere reads the list again; the inspector keeps its place.
    h.act(Action::Changed);
    assert_eq!(h.app.inspect.sel, at);
    h.keys("<enter>");
    assert_eq!(h.app.view, PaneView::Preview);
    let shown = h.app.preview.shown.clone().unwrap().unwrap();
    assert_eq!(
        shown.member.as_ref().map(|m| m.path.as_str()),
        Some(member.as_str())
    );
    let Body::Content { content } = &shown.body else {
        panic!("no content: {:?}", shown.body);
    };
    assert!(!matches!(content, Content::Hex { .. }), "{content:?}");
    // The pane says what it shows: the archive and the file in it.
    let title = super::render::line_with(&h, "Preview:");
    assert!(title.contains(&member), "{title}");
    // The list's selection is the manifest still: the preview stays on the file through a
    // change (the list is read again).
    h.act(Action::Changed);
    let again = h.app.preview.shown.clone().unwrap().unwrap();
    assert_eq!(
        again.member.as_ref().map(|m| m.path.as_str()),
        Some(member.as_str())
    );
    // esc goes back to the inspector, on the entry it came from.
    h.keys("<esc>");
    assert_eq!(h.app.view, PaneView::Manifest);
    assert_eq!(h.app.focus, Focus::Detail);
    assert_eq!(h.app.inspect.sel, at);
    // v then previews the manifest item itself, not the blob seen last.
    h.keys("v");
    assert_eq!(h.app.view, PaneView::Preview);
    let own = h.app.preview.want.clone().expect("a preview");
    assert_eq!((own.id, own.blob, own.member), (20, None, None));
    // Left by `m` rather than `esc`, the blob is let go all the same, and the inspector
    // is back on the entry it came from.
    h.keys("m");
    for _ in 0..at {
        h.keys("j");
    }
    h.keys("<enter>");
    assert!(
        h.app
            .preview
            .want
            .as_ref()
            .is_some_and(|w| w.blob.is_some())
    );
    h.keys("m");
    assert_eq!(h.app.view, PaneView::Manifest);
    assert_eq!(h.app.inspect.sel, at);
    h.keys("v");
    let own = h.app.preview.want.clone().expect("a preview");
    assert_eq!((own.id, own.blob, own.member), (20, None, None));
}

/// A label cut to its column keeps its start (a URI keeps its end, its file name).
#[test]
fn labels_are_cut_at_their_end_and_uris_at_their_start() {
    let h = Harness::demo((52, 24));
    let screen = super::render::screen(&h);
    let label = screen
        .lines()
        .find(|l| l.contains("resnet"))
        .expect("the labelled row");
    assert!(label.contains("resnet50 weig"), "{label}");
    assert!(!label.contains("…net50"), "{label}");
    let uri = super::render::line_with(&h, "/weather/daily.csv");
    assert!(uri.contains('…'), "cut at its start: {uri}");
}

/// The detail pane says when an item is a manifest, and how to look inside.
#[test]
fn the_detail_of_a_manifest_says_so() {
    let mut h = Harness::demo((120, 40));
    select(&mut h, 20);
    let line = super::render::line_with(&h, "manifest ");
    assert!(line.contains("dataset, 4 entries (m inspects)"), "{line}");
    select(&mut h, 1);
    assert!(!super::render::screen(&h).contains("(m inspects)"));
}

/// A file in a shard opened from the inspector after a member of another archive was
/// open: `esc` goes back to the inspector, not to that other archive's listing.
#[test]
fn a_shard_file_opened_after_a_listing_goes_back_to_the_inspector() {
    let mut h = Harness::demo((80, 24));
    select(&mut h, 20);
    h.keys("mx");
    // The first shard's archive, as a listing; a member of it opened.
    h.keys("<enter>");
    assert!(h.app.preview.members() > 0, "a listing");
    h.keys("<enter>");
    assert!(h.app.preview.listing.is_some(), "a member open");
    // Back to the inspector with m, and a file of the second shard opened from there.
    h.keys("m");
    assert_eq!(h.app.view, PaneView::Manifest);
    let rows = h.app.inspect.shown.clone().unwrap().unwrap().rows;
    let at = (rows.iter())
        .position(|r| {
            r.in_shard
                .as_ref()
                .is_some_and(|(_, key)| key.contains("00002"))
        })
        .expect("a file of the second shard");
    h.keys("gg");
    for _ in 0..at {
        h.keys("j");
    }
    h.keys("<enter>");
    assert!(
        h.app.preview.listing.is_none(),
        "no listing of the first archive"
    );
    h.keys("<esc>");
    assert_eq!(h.app.view, PaneView::Manifest);
}

/// Where an entry's blob is (`enter` in the inspector) comes back later: an answer for an
/// inspector left, or for another manifest's entries, is dropped.
#[test]
fn a_late_answer_for_an_entry_is_dropped() {
    let mut h = Harness::demo((80, 24));
    select(&mut h, 20);
    h.keys("m");
    let seq = h.app.inspect.seq;
    let answer = |seq| Action::Jumped {
        sha: "ab".repeat(32),
        name: "x.txt".into(),
        seq,
        item: None,
    };
    // Left for the detail before it came.
    h.keys("m");
    assert_eq!(h.app.view, PaneView::Detail);
    h.act(answer(seq));
    assert_eq!(h.app.view, PaneView::Detail);
    // Back in an inspector read again since: the old answer is not for it.
    h.keys("m");
    assert!(h.app.inspect.seq > seq);
    h.act(answer(seq));
    assert_eq!(h.app.view, PaneView::Manifest);
    // Its own answer opens the blob.
    h.act(answer(h.app.inspect.seq));
    assert_eq!(h.app.view, PaneView::Preview);
}

/// `w` wraps a text's long lines onto the next rows, from the list beside the preview
/// as from the preview; the last rows can be scrolled to; `w` again cuts them at the
/// edge, as at first.
#[test]
fn long_lines_wrap_and_scroll_to_their_end() {
    let mut h = Harness::demo((110, 16));
    let readme = id_where(&h, |uri| uri.ends_with("README.md"));
    select(&mut h, readme);
    h.keys("v");
    let whole = "The weather data comes from the mirror; release 3 is not reviewed yet.";
    let cut = super::render::screen(&h);
    assert!(
        cut.contains("The weather data") && !cut.contains("reviewed yet."),
        "{cut}"
    );
    h.keys("w");
    assert!(h.app.preview.wrap);
    let rows: Vec<String> = super::render::screen(&h)
        .lines()
        .filter_map(|l| l.split('│').nth(1).map(str::trim_end).map(String::from))
        .collect();
    assert!(rows.join(" ").contains(whole), "{rows:#?}");
    // Narrower: more rows than fit, and the end is in reach.
    h.act(Action::Resize(40, 7));
    h.keys("<enter>v");
    assert_eq!(
        (h.app.focus, h.app.view),
        (Focus::Detail, PaneView::Preview)
    );
    h.keys("G");
    let rows = super::render::screen(&h);
    assert!(rows.contains("yet."), "{rows}");
    h.keys("w");
    assert!(!h.app.preview.wrap);
    assert!(!super::render::screen(&h).contains("yet."));
}

/// `w` keeps the line at the top of the preview where it is, wrapping or not: toggling
/// it does not throw the reader back to the start.
#[test]
fn wrapping_keeps_the_line_at_the_top() {
    let mut h = Harness::demo((80, 16));
    let text: String = (1..=60)
        .map(|i| format!("line {i:02} {}\n", "long words ".repeat(i % 3 * 5)))
        .collect();
    let item = put_file(&h, "lines.txt", text.as_bytes());
    h.keys("r");
    select(&mut h, item.id);
    h.keys("<enter>v");
    let top = |h: &Harness| {
        let screen = super::render::screen(h);
        let first = screen.lines().find_map(|l| {
            let inside = l.split('│').nth(1)?;
            inside.starts_with("line ").then(|| inside[..7].to_string())
        });
        first.unwrap_or_else(|| panic!("no line in sight:\n{screen}"))
    };
    h.keys("jjjjjjjjjjjjjjjjjjjjjjjjjjjjjj");
    assert_eq!(top(&h), "line 31");
    h.keys("w");
    assert!(h.app.preview.wrap);
    assert_eq!(top(&h), "line 31");
    // Down into the second row of line 32 (a line wider than the pane), then back
    // unwrapped: line 32 is at the top, not the line after it.
    h.keys("j");
    assert_eq!(top(&h), "line 32");
    h.keys("j");
    assert_eq!(top(&h), "line 33");
    h.keys("w");
    assert!(!h.app.preview.wrap);
    assert_eq!(top(&h), "line 32");
}

/// A table wider than the pane is read a column at a time: `→` moves it along, `←` back,
/// and at its first column `←` goes back as anywhere. A one-column table is not cut short
/// of the pane, and a tab in a cell shows as a space.
#[test]
fn a_wide_table_moves_along_its_columns() {
    let mut h = Harness::demo((100, 20));
    let header: Vec<String> = (0..20).map(|c| format!("column_{c:02}")).collect();
    let row: Vec<String> = (0..20).map(|c| format!("value_{c:02}")).collect();
    let csv = format!("{}\n{}\n", header.join(","), row.join(","));
    let wide = put_file(&h, "wide.csv", csv.as_bytes());
    let long = format!("only\n{}\ttab\n", "x".repeat(40));
    let narrow = put_file(&h, "one.csv", long.as_bytes());
    // The pane's rows (it has the whole width, with the focus), first the header's.
    let pane_text = |h: &Harness| -> String {
        let screen = super::render::screen(h);
        let rows: Vec<String> = (screen.lines())
            .map(|l| l.trim_matches('"'))
            .filter_map(|l| l.strip_prefix('│')?.strip_suffix('│').map(str::trim_end))
            .map(String::from)
            .collect();
        rows.join("\n")
    };
    h.keys("r");
    select(&mut h, wide.id);
    h.keys("<enter>v");
    let text = pane_text(&h);
    assert!(text.starts_with("column_00 │ column_01"), "{text}");
    assert!(!text.contains("column_19"), "{text}");
    h.keys("ll");
    let text = pane_text(&h);
    assert!(text.starts_with("column_02 │ column_03"), "{text}");
    assert!(super::render::screen(&h).contains("from column 3 of 20"));
    h.keys("<right>".repeat(30).as_str());
    assert!(
        pane_text(&h).starts_with("column_19"),
        "the last column stays in sight"
    );
    h.keys("<left>");
    assert!(pane_text(&h).starts_with("column_18 │ column_19"));
    h.keys("gg");
    for _ in 0..18 {
        h.keys("h");
    }
    assert!(pane_text(&h).starts_with("column_00"));
    assert_eq!(h.app.focus, Focus::Detail);
    h.keys("h");
    assert_eq!(
        h.app.focus,
        Focus::List,
        "at the first column, back to the list"
    );

    select(&mut h, narrow.id);
    h.keys("<enter>v");
    let text = pane_text(&h);
    assert!(text.contains(&format!("{} tab", "x".repeat(40))), "{text}");

    // A ragged row further down: `→` goes to its last column, and that column shows.
    let mut ragged = String::from("a,b\n");
    for i in 0..40 {
        ragged.push_str(&format!("{i},{i}\n"));
    }
    ragged.push_str("1,2,3,4,far_out\n");
    let ragged = put_file(&h, "ragged.csv", ragged.as_bytes());
    h.keys("<esc>r");
    select(&mut h, ragged.id);
    h.keys("<enter>vllllllG");
    assert!(super::render::screen(&h).contains("from column 5 of 5"));
    let text = pane_text(&h);
    assert!(text.contains("far_out"), "{text}");
}

/// The keys line offers the inspector's keys only where there are entries to use them
/// on: beside an item that is no manifest it does not.
#[test]
fn the_inspector_offers_its_keys_only_over_entries() {
    let mut h = Harness::demo((120, 30));
    let footer = |h: &Harness| {
        super::render::screen(h)
            .lines()
            .last()
            .unwrap_or("")
            .to_string()
    };
    select(&mut h, 19);
    h.keys("m");
    assert!(footer(&h).contains("x shards"), "{}", footer(&h));
    h.keys("<enter>");
    assert!(footer(&h).contains("x shards"), "{}", footer(&h));
    h.keys("<esc>");
    select(&mut h, 1);
    assert_eq!(h.app.view, PaneView::Manifest);
    assert!(!footer(&h).contains("shards"), "{}", footer(&h));
    h.keys("<enter>");
    assert!(!footer(&h).contains("shards"), "{}", footer(&h));
}

/// What the preview says under it wraps to the pane: where it stopped, and an error,
/// which names the blob by its whole path before it says what is wrong.
#[test]
fn notes_and_errors_under_a_preview_wrap_to_be_read_whole() {
    let mut h = Harness::demo((40, 16));
    let hourly = id_where(&h, |uri| uri.contains("hourly"));
    select(&mut h, hourly);
    h.keys("<enter>v");
    let text = pane_text(&h);
    assert!(
        text.contains("truncated: stopped after 500 lines (max_lines)"),
        "{text}"
    );

    let broken = put_file(
        &h,
        "broken.zip",
        b"PK\x03\x04 this is no zip archive at all",
    );
    h.keys("<esc><esc>r");
    select(&mut h, broken.id);
    h.keys("<enter>v");
    let text = pane_text(&h);
    assert!(text.contains("end-of-central-directory"), "{text}");
}

/// Puts `bytes` as `s3://b/NAME`, with the file name `name` (which previews go by).
fn put_file(h: &Harness, name: &str, bytes: &[u8]) -> cachet::Item {
    let new = cachet::NewItem::new(format!("s3://b/{name}")).filename(name);
    h.cache().put_bytes(&new, bytes).unwrap()
}

/// The text inside the pane's borders, its rows joined (a row's last space dropped).
fn pane_text(h: &Harness) -> String {
    let screen = super::render::screen(h);
    let rows: Vec<&str> = (screen.lines())
        .filter_map(|l| l.split('│').nth(1))
        .map(str::trim_end)
        .collect();
    rows.join(" ")
}

/// A manifest read up to the inspector's cap says in its title that the count is of the
/// first entries only (the detail counts them all).
#[test]
fn a_manifest_past_the_cap_says_its_count_is_of_the_first_entries() {
    use cachet::manifest::{Entry, FileEntry};
    let mut h = Harness::sample((120, 30));
    let blob = h
        .cache()
        .put_bytes(&cachet::NewItem::new("s3://b/one"), b"1")
        .unwrap();
    let n = crate::tui::inspect::MAX_ENTRIES + 1;
    let entries = (0..n).map(|i| {
        Ok(Entry::File(FileEntry {
            key: format!("f/{i:05}"),
            sha256: blob.sha256.clone(),
            size_bytes: Some(1),
            ..FileEntry::default()
        }))
    });
    let new = cachet::NewItem::new("dataset://big");
    let big = cachet::manifest::create_from_entries(h.cache(), &new, entries, "dataset")
        .unwrap()
        .item;
    h.keys("r");
    select(&mut h, big.id);
    h.keys("m");
    let title = super::render::line_with(&h, "Manifest (dataset)");
    assert!(title.contains("the first 2000 entries"), "{title}");
    // And where all of them can be read.
    let text = pane_text(&h);
    assert!(
        text.contains(&format!("(all: cachet manifest show {})", big.id)),
        "{text}"
    );
}
