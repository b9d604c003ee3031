//! Stable item keys: sha256 of the canonical JSON of `{"params": …, "uri": …}`.
//!
//! Canonical means sorted object keys, no whitespace, serde_json's number and string
//! encoding (so `3`, `3.0` and `"3"` are three different keys). The encoding is written
//! here rather than relying on `serde_json::Map` ordering, which a dependency's
//! `preserve_order` feature would silently change.

use serde_json::Value as Json;
use sha2::{Digest as _, Sha256};

/// Canonical JSON text of `value`.
pub fn canonical_json(value: &Json) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Json, out: &mut String) {
    match value {
        Json::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Json::from(k.as_str()).to_string());
                out.push(':');
                write_canonical(v, out);
            }
            out.push('}');
        }
        Json::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The key of `uri` with `params` (a JSON object; `null` is taken as `{}`).
pub fn item_key(uri: &str, params: &Json) -> String {
    let params = match params {
        Json::Null => Json::Object(Default::default()),
        other => other.clone(),
    };
    let doc = serde_json::json!({ "uri": uri, "params": params });
    sha256_hex(canonical_json(&doc).as_bytes())
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // Written by pairs into a buffer of the final size: gc plans format a digest for each
    // of up to a million items, and a character at a time cost a tenth of a plan.
    let mut out = vec![0u8; bytes.len() * 2];
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0xf)];
    }
    String::from_utf8(out).unwrap_or_default()
}

/// A sha256 digest, shown and serialised as its 64 lower-case hex digits. Held as bytes
/// where many are kept at once (a gc plan of a million items), instead of a string each.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 32]);

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The first `chars` characters of `text` (all of it if shorter): a digest or key
/// abbreviated for people. Cut at a character, never inside one: a key edited by hand
/// may be any text.
pub fn abbrev(text: &str, chars: usize) -> &str {
    text.char_indices()
        .nth(chars)
        .map_or(text, |(end, _)| &text[..end])
}

/// 64 lower-case hex digits as 32 bytes.
pub fn decode_digest(hex: &[u8]) -> Option<[u8; 32]> {
    let hex: &[u8; 64] = hex.try_into().ok()?;
    // In fixed-size steps over every digit, the misfits noticed once at the end: the
    // compiler does many digits at once (registries hold millions of digests, and gc
    // decodes them all). Through `decode_hex`, pair by pair, it was four times slower.
    let values = hex.map(hex_value);
    let misfit = values.iter().fold(0, |m, v| m | v) & 0xf0;
    let mut out = [0u8; 32];
    for (byte, &[hi, lo]) in out.iter_mut().zip(values.as_chunks::<2>().0) {
        *byte = (hi << 4) | lo;
    }
    (misfit == 0).then_some(out)
}

/// The value of a lower-case hex digit, and `NOT_HEX` for any other byte: plain
/// arithmetic and comparisons, which the compiler makes branch-free and does for many
/// digits at once.
fn hex_value(c: u8) -> u8 {
    let (digit, letter) = (c.wrapping_sub(b'0'), c.wrapping_sub(b'a'));
    if digit < 10 {
        digit
    } else if letter < 6 {
        letter + 10
    } else {
        NOT_HEX
    }
}

const NOT_HEX: u8 = 0xff;

/// Decodes lower-case hex into `out` (exactly twice its length); false on anything else.
pub fn decode_hex(hex: &[u8], out: &mut [u8]) -> bool {
    if hex.len() != out.len() * 2 {
        return false;
    }
    let mut misfit = 0u8;
    for (byte, &[hi, lo]) in out.iter_mut().zip(hex.as_chunks::<2>().0) {
        let (hi, lo) = (hex_value(hi), hex_value(lo));
        misfit |= (hi | lo) & 0xf0;
        *byte = (hi << 4) | (lo & 0x0f);
    }
    misfit == 0
}

/// Whether `s` is a full lower-case sha256 hex digest.
pub fn is_sha256_hex(s: &str) -> bool {
    decode_digest(s.as_bytes()).is_some()
}

/// The blob a registry value names: a digest as cachet writes it, or all in capitals (as
/// some tools write them, or a hand edit), given back in lower case; `None` for anything
/// else, which names no blob. Whatever deletes blobs holds to this one rule, and SQL
/// matches it with `sha256 IN (?1, upper(?1))`.
pub fn blob_digest(value: &str) -> Option<String> {
    if value.bytes().any(|b| b.is_ascii_lowercase()) {
        // Lower case throughout, or mixed (which names nothing).
        return is_sha256_hex(value).then(|| value.to_owned());
    }
    let lower = value.to_ascii_lowercase();
    is_sha256_hex(&lower).then_some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_blob_is_named_in_lower_case_or_all_in_capitals() {
        let lower = sha256_hex(b"x");
        let upper = lower.to_uppercase();
        let mixed = format!("{}{}", &lower[..32], &upper[32..]);
        assert_eq!(blob_digest(&lower).as_deref(), Some(lower.as_str()));
        assert_eq!(blob_digest(&upper).as_deref(), Some(lower.as_str()));
        assert_eq!(blob_digest(&mixed), None);
        assert_eq!(blob_digest(&"0".repeat(64)), Some("0".repeat(64)));
        assert_eq!(blob_digest("abc"), None);
    }

    #[test]
    fn an_abbreviation_is_cut_at_a_character() {
        assert_eq!(abbrev("0123456789abcdef", 12), "0123456789ab");
        assert_eq!(abbrev("k", 12), "k");
        assert_eq!(abbrev("", 12), "");
        assert_eq!(abbrev("aééé", 3), "aéé");
        assert_eq!(abbrev("aééé", 4), "aééé");
    }

    #[test]
    fn hex_round_trips_and_only_lower_case_hex_decodes() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = hex(&bytes);
        assert_eq!(&text[..8], "00010203");
        assert_eq!(&text[text.len() - 4..], "feff");
        let mut back = vec![0u8; bytes.len()];
        assert!(decode_hex(text.as_bytes(), &mut back));
        assert_eq!(back, bytes);
        let digest = sha256_hex(b"x");
        assert_eq!(
            decode_digest(digest.as_bytes()).map(|d| hex(&d)),
            Some(digest.clone())
        );
        for c in 0..=255u8 {
            let ok = c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
            for at in [0, 31, 63] {
                let mut s = digest.clone().into_bytes();
                s[at] = c;
                assert_eq!(decode_digest(&s).is_some(), ok, "{c:#x} at {at}");
                assert_eq!(decode_hex(&s, &mut [0; 32]), ok, "{c:#x} at {at}");
            }
        }
        assert_eq!(decode_digest(&digest.as_bytes()[1..]), None);
        assert!(!decode_hex(b"abc", &mut [0u8; 1]));
    }

    #[test]
    fn canonical_form_sorts_and_strips() {
        let v = json!({"b": [1, {"z": 1, "a": "x"}], "a": 0.5, "c": "é\n"});
        assert_eq!(
            canonical_json(&v),
            r#"{"a":0.5,"b":[1,{"a":"x","z":1}],"c":"é\n"}"#
        );
    }

    // Vectors computed independently (Python: hashlib.sha256(json.dumps(doc,
    // sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())).
    #[test]
    fn key_vectors() {
        assert_eq!(
            item_key("https://example.org/a.csv", &json!({})),
            "ecde82c6e497e4ad969ef3021b3c172db5e300b5fce97136edc54813e8e1de6b"
        );
        assert_eq!(
            item_key(
                "https://example.org/a.csv",
                &json!({"release": 3, "organism": "human"})
            ),
            "ce91e3b285e32a749eee83091a8d0a7007817b60f28777cc49fb111ac1d139c1"
        );
        assert_eq!(
            item_key(
                "https://example.org/a.csv",
                &json!({"release": "3", "organism": "human"})
            ),
            "410bd5ce9a8a84e1d8f135502c5a679af7ea332f3f175aa8f0fe0cb457cda611"
        );
        assert_eq!(
            item_key("s3://b/ü", &Json::Null),
            item_key("s3://b/ü", &json!({}))
        );
    }

    #[test]
    fn numbers_and_strings_differ() {
        let a = item_key("u", &json!({"n": 3}));
        let b = item_key("u", &json!({"n": "3"}));
        let c = item_key("u", &json!({"n": 3.0}));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(b, c);
    }
}
