//! Text measured and fitted in terminal columns, as the CLI's tables and the browser's
//! panes lay it out: a CJK character or an emoji takes two columns, a combining mark none,
//! and what a terminal draws as one character is kept or cut whole.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// The columns `text` takes on a terminal: a CJK character or an emoji takes two, a
/// combining mark none. What columns and cuts are measured in, so that they line up.
pub fn width(text: &str) -> usize {
    UnicodeWidthStr::width(text)
}

/// The start of `text` in at most `width` columns (see [`width()`]), `…` marking the cut:
/// text fitted to a column or a line, in the CLI and the browser alike.
pub fn cut(text: &str, width: usize) -> String {
    if self::width(text) <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    // Whole characters as the terminal draws them (an emoji with its modifiers, a letter
    // with its accents), each measured as it stands.
    let mut end = 0;
    let mut used = 0;
    for (at, g) in text.grapheme_indices(true) {
        used += self::width(g);
        if used >= width {
            break;
        }
        end = at + g.len();
    }
    let mut s = text[..end].to_string();
    // Measured whole, a few sequences take fewer columns than their parts: never more.
    while self::width(&s) >= width {
        match s.grapheme_indices(true).next_back() {
            Some((at, _)) => s.truncate(at),
            None => break,
        }
    }
    s.push('…');
    s
}

/// `text` in exactly `width` columns: cut as by [`cut`], or padded with spaces.
pub fn fit(text: &str, width: usize) -> String {
    let mut s = cut(text, width);
    let pad = width.saturating_sub(self::width(&s));
    s.extend(std::iter::repeat_n(' ', pad));
    s
}

/// The end of `text` in at most `width` columns (see [`width()`]), `…` marking the cut:
/// the end of a URI or a path (its file name) says more than its start.
pub fn cut_start(text: &str, width: usize) -> String {
    if self::width(text) <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    // As [`cut`] does, from the other end.
    let mut start = text.len();
    let mut used = 0;
    for (at, g) in text.grapheme_indices(true).rev() {
        used += self::width(g);
        if used >= width {
            break;
        }
        start = at;
    }
    let mut kept = &text[start..];
    while self::width(kept) >= width {
        match kept.grapheme_indices(true).nth(1) {
            Some((at, _)) => kept = &kept[at..],
            None => kept = "",
        }
    }
    format!("…{kept}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_marks_the_cut() {
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("abc", 4), "abc");
        assert_eq!(cut_start("abcdef", 4), "…def");
        assert_eq!(cut_start("abc", 3), "abc");
    }

    #[test]
    fn cuts_count_the_columns_wide_characters_take() {
        assert_eq!(width("日本語"), 6);
        assert_eq!(cut("日本語ラベル", 7), "日本語…");
        // A wide character that would overrun the last column is left out whole.
        assert_eq!(cut("日本語ラベル", 6), "日本…");
        assert_eq!(cut_start("データ.csv", 8), "…タ.csv");
        assert!(width(&cut("é日x", 3)) <= 3);
        // What a terminal draws as one character is kept or cut whole, and never
        // overruns: an emoji and its variation selector, a letter and its accent.
        for text in [
            "❤️❤️❤️❤️❤️ hearts",
            "👍🏽👍🏽👍🏽 ok",
            "e\u{301}e\u{301}e\u{301}e\u{301}",
            "a\tbcdef",
            "🇯🇵🇯🇵🇯🇵",
        ] {
            for w in 0..12 {
                for shown in [cut(text, w), cut_start(text, w)] {
                    assert!(width(&shown) <= w, "{text:?} at {w}: {shown:?}");
                }
                assert_eq!(width(&fit(text, w)), w, "{text:?} at {w}");
            }
        }
        assert_eq!(
            cut("e\u{301}e\u{301}e\u{301}e\u{301}", 3),
            "e\u{301}e\u{301}…"
        );
        assert_eq!(
            (cut("abc", 0), cut_start("abc", 0), fit("abc", 0)),
            Default::default()
        );
        assert_eq!(fit("日本", 6), "日本  ");
        assert_eq!(fit("日本語", 5), "日本…");
    }
}
