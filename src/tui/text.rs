//! Values as the browser shows them: sizes, ages, names, statuses.

use cachet::Item;
use chrono::{DateTime, Utc};

/// `1.5 MiB`-style sizes.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `5m`, `3h`, `12d` since `when`.
pub fn age(when: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - when).num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s if s < 86_400 * 365 => format!("{}d", s / 86_400),
        s => format!("{}y", s / (86_400 * 365)),
    }
}

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

/// The name people recognise an item by: label, else URI.
pub fn name(item: &Item) -> &str {
    item.label.as_deref().unwrap_or(&item.uri)
}

/// The end of `s` in at most `width` characters, `…` marking the cut: the end of a
/// URI (its file name) says more than its scheme and host.
pub fn tail(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::from("…");
    out.extend(s.chars().skip(n - (width - 1)));
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
    }
}
