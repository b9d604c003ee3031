//! Values as the browser shows them: sizes, ages, names, statuses.

use std::borrow::Cow;

use cachet::Item;
use cachet::preview::escape_controls;
pub use cachet::units::{format_age as age, format_size as size};
use chrono::{DateTime, Utc};

/// The status as the list shows it: a stale WRITE says so.
pub fn status(item: &Item, now: DateTime<Utc>) -> &'static str {
    if item.is_stale(now) {
        "STALE"
    } else if item.status == cachet::Status::Uninitialized {
        "UNINIT"
    } else {
        item.status.as_str()
    }
}

/// `s` as the browser shows it: control characters (tabs too) in caret notation (`ESC` →
/// `^[`). The terminal would not show them, yet they would count in a column's width and
/// push the columns after them out of line; and a name should look as different as it is.
pub fn shown(s: &str) -> Cow<'_, str> {
    match escape_controls(s) {
        Cow::Borrowed(s) if !s.contains('\t') => Cow::Borrowed(s),
        escaped => Cow::Owned(escaped.replace('\t', "^I")),
    }
}

/// The end of `s` in at most `width` columns, `…` marking the cut: the end of a URI (its
/// file name) says more than its scheme and host. Shown as by [`shown`].
pub fn tail(s: &str, width: usize) -> String {
    cachet::preview::cut_start(&shown(s), width)
}

/// [`tail`] padded to exactly `width` columns: a name in a column of names, whatever
/// columns its characters take.
pub fn tail_in(s: &str, width: usize) -> String {
    cachet::preview::fit(&tail(s, width), width)
}

/// The start of `s` in at most `width` columns, `…` marking the cut: a label says most at
/// its start. Shown as by [`shown`].
pub fn head(s: &str, width: usize) -> String {
    cachet::preview::cut(&shown(s), width)
}

/// `s` in at most `width` columns, cut in the middle with `…` when wider: a message naming
/// a path keeps what it says and the path's end (the file's name).
pub fn middle(s: &str, width: usize) -> String {
    if cachet::preview::width(s) <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    // Each side gets its share with room for its own mark; the end's mark is dropped.
    let start = (width - 1) / 2;
    let end = width - start;
    let mut out = cachet::preview::cut(s, start + 1);
    out.pop();
    let end = cachet::preview::cut_start(s, end);
    out.push_str(&end);
    out
}

/// A time as `2026-01-02 03:04:05` UTC.
pub fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_cuts_read_well() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(tail("https://x/a.csv", 6), "…a.csv");
        assert_eq!(tail("abc", 3), "abc");
        assert_eq!(
            middle("copied path: /a/b/c/file.bin", 20),
            "copied pa…c/file.bin"
        );
        assert_eq!(middle("abc", 3), "abc");
        assert_eq!(head("resnet50 weights (epoch 90)", 10), "resnet50 …");
        assert_eq!(middle("abcd", 1), "…");
        assert_eq!(middle("日本語のとても長いパス", 9), "日本…パス");
        assert_eq!(tail("file:///データ.csv", 8), "…タ.csv");
        // Padded by the columns taken, so what follows a name in a column lines up.
        assert_eq!(tail_in("データ/名前.csv", 18), "データ/名前.csv   ");
        assert_eq!(tail_in("データ/名前.csv", 8), "…前.csv ");
    }
}
