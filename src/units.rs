//! Sizes and durations as people write them: `10MB`, `2GiB`, `7d`, `12h`.

use std::time::Duration;

use crate::error::{Error, Result};

/// A byte count: `123`, `1.5GB`, `10k`, `2MiB`. `kB/MB/GB/TB/PB/EB` are powers of 1000,
/// `KiB/MiB/GiB/TiB/PiB/EiB` and the bare `K/M/G/T/P/E` powers of 1024. At most 9 EB.
pub fn parse_size(raw: &str) -> Option<u64> {
    let bytes = size_as_written(raw)?.round();
    (bytes <= MAX_SIZE).then_some(bytes as u64)
}

/// The largest size [`parse_size`] takes (registries hold sizes as i64, up to 9.2EB).
const MAX_SIZE: f64 = 9.0e18;

/// The bytes `raw` says, however many.
fn size_as_written(raw: &str) -> Option<f64> {
    let raw = raw.trim();
    let split = raw
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(raw.len());
    let (num, unit) = raw.split_at(split);
    let n: f64 = num.parse().ok()?;
    let (base, power): (f64, i32) = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => (1.0, 0),
        "kb" => (1e3, 1),
        "mb" => (1e3, 2),
        "gb" => (1e3, 3),
        "tb" => (1e3, 4),
        "pb" => (1e3, 5),
        "eb" => (1e3, 6),
        "k" | "kib" => (1024.0, 1),
        "m" | "mib" => (1024.0, 2),
        "g" | "gib" => (1024.0, 3),
        "t" | "tib" => (1024.0, 4),
        "p" | "pib" => (1024.0, 5),
        "e" | "eib" => (1024.0, 6),
        _ => return None,
    };
    let bytes = n * base.powi(power);
    (bytes.is_finite() && bytes >= 0.0).then_some(bytes)
}

/// A duration: `90s`, `30m`, `12h`, `7d`, `2w`, `1y` (365 days).
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let (n, secs) = duration_as_written(raw)?;
    n.parse::<u64>()
        .ok()?
        .checked_mul(secs)
        .map(Duration::from_secs)
}

/// The digits of a duration and its unit in seconds, if it is written as one.
fn duration_as_written(raw: &str) -> Option<(&str, u64)> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = raw.split_at(split);
    let secs: u64 = match unit {
        "s" | "sec" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => return None,
    };
    (!num.is_empty()).then_some((num, secs))
}

/// `1 item`, `3 items`: a count with its noun, plural when it is not one.
pub fn count_of(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `1.5 MiB`-style sizes, for people.
pub fn format_size(bytes: u64) -> String {
    // Up to EiB, which a u64 holds 16 of; from 1000 of a unit on, no decimal: every size
    // fits in 9 characters (the browser's column).
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value >= 999.95 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `5m`, `3h`, `12d` since `when`, for people.
pub fn format_age(
    when: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let secs = (now - when).num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s if s < 86_400 * 365 => format!("{}d", s / 86_400),
        s => format!("{}y", s / (86_400 * 365)),
    }
}

/// [`parse_size`] with an error naming `what`.
pub fn size(what: &str, raw: &str) -> Result<u64> {
    parse_size(raw).ok_or_else(|| {
        let problem = match size_as_written(raw) {
            Some(_) => format!("'{raw}' is too large: at most 9EB"),
            None => format!("'{raw}' is not a size like 512, 10MB or 2GiB"),
        };
        Error::invalid(what, problem)
    })
}

/// [`parse_duration`] with an error naming `what`.
pub fn duration(what: &str, raw: &str) -> Result<Duration> {
    parse_duration(raw).ok_or_else(|| {
        let problem = match duration_as_written(raw) {
            Some(_) => format!("'{raw}' is too long: count in a larger unit, or fewer of them"),
            None => format!("'{raw}' is not a duration like 30m, 12h, 7d or 2w"),
        };
        Error::invalid(what, problem)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_the_plural_unless_one() {
        assert_eq!(count_of(1, "item", "items"), "1 item");
        assert_eq!(count_of(0, "item", "items"), "0 items");
        assert_eq!(count_of(2, "temp file", "temp files"), "2 temp files");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("10MB"), Some(10_000_000));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("1.5k"), Some(1536));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("-1"), None);
        assert_eq!(parse_size("1e30"), None);
        // Up to exbibytes: what sizes are shown in can be read back.
        assert_eq!(parse_size("1.5 PiB"), Some(3 << 49));
        assert_eq!(parse_size("2EB"), Some(2_000_000_000_000_000_000));
        assert_eq!(parse_size("9EB"), Some(9_000_000_000_000_000_000));
        let too_large = size("--max-size", "15EiB").unwrap_err().to_string();
        assert!(too_large.contains("too large"), "{too_large}");
        let not_one = size("--max-size", "15XB").unwrap_err().to_string();
        assert!(not_one.contains("not a size"), "{not_one}");
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(1023), "1023 B");
        assert_eq!(format_size(1536), "1.5 KiB");
        assert_eq!(format_size(5 << 30), "5.0 GiB");
        assert_eq!(format_size(i64::MAX as u64), "8.0 EiB");
        assert_eq!(format_size(1020 << 10), "1020 KiB");
        assert_eq!(format_size(1023 * 1024 + 1000), "1024 KiB");
        assert_eq!(format_size(999 * 1024 + 1000), "1000 KiB");
        // The widest of each unit fits the browser's column.
        for power in 0..6 {
            for n in [999.94, 999.96, 1023.99] {
                let shown = format_size((n * 1024f64.powi(power)) as u64);
                assert!(shown.chars().count() <= 9, "{shown}");
            }
        }
        assert_eq!(format_size(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("2w"), Some(Duration::from_secs(14 * 86_400)));
        assert_eq!(parse_duration("7"), None);
        assert_eq!(parse_duration("d"), None);
        assert_eq!(parse_duration("99999999999999999999d"), None);
        let too_long = duration("--grace", "9223372036854775807m").unwrap_err();
        assert!(too_long.to_string().contains("too long"), "{too_long}");
        assert!(
            duration("--max-age", "soon")
                .unwrap_err()
                .to_string()
                .contains("--max-age")
        );
    }
}
