//! What a name that matches nothing likely meant: notes for unknown attribute and param
//! names, with the nearest known one (a built-in name too: `staus` is `status` misspelt).

use super::Notice;
use super::ast::{Col, Scope};
use super::lex::char_pos;
use super::typecheck::Catalogue;
use crate::error::Result;

/// Notices for names that match nothing, with the closest known name when there is one.
pub(crate) fn hints(
    cat: &Catalogue<'_>,
    input: &str,
    unknown: &[(Scope, String, usize)],
) -> Result<Vec<Notice>> {
    let mut out = Vec::new();
    for (scope, name, at) in unknown {
        // A URI pasted as it is (`s3://b/x`) reads as an attribute and a value.
        let uri = (input.get(*at..))
            .and_then(|rest| rest.strip_prefix(name.as_str()))
            .is_some_and(|rest| rest.starts_with("://"));
        let meant = if uri {
            Meant::Said("a URI is matched with uri=… (uri~… for a pattern), or as a word in quotes")
        } else {
            Meant::Nearest { builtins: true }
        };
        out.push(Notice {
            pos: char_pos(input, *at),
            message: unknown_name(cat, *scope, name, "it matches nothing", meant)?,
        });
    }
    Ok(out)
}

/// What a note on a name that matches nothing says was likely meant.
pub(crate) enum Meant<'a> {
    /// The nearest known name, if one is near enough; with `builtins`, a built-in name
    /// may be that (where one could stand instead: a filter, a sort).
    Nearest { builtins: bool },
    /// What these words say, where a spelling near the name would be no help.
    Said(&'a str),
}

/// "no attribute is named 'x', so `then`", with what `name` likely `meant`.
pub(crate) fn unknown_name(
    cat: &Catalogue<'_>,
    scope: Scope,
    name: &str,
    then: &str,
    meant: Meant<'_>,
) -> Result<String> {
    let mut message = format!("no {} is named '{name}', so {then}", scope.noun());
    match meant {
        Meant::Nearest { builtins } => {
            if let Some(k) = nearest(cat, scope, name, builtins)? {
                message.push_str(&format!("; did you mean '{k}'?"));
            }
        }
        Meant::Said(words) => message.push_str(&format!("; {words}")),
    }
    Ok(message)
}

/// The names a filter knows besides attributes and params: the columns and `has`.
const BUILTIN_NAMES: [&str; Col::ALL.len() + 1] = {
    let mut names = ["has"; Col::ALL.len() + 1];
    let mut i = 0;
    while i < Col::ALL.len() {
        names[i] = Col::ALL[i].name();
        i += 1;
    }
    names
};

/// Whether a filter reads `name` as one of its own (a column such as `size`, an alias of
/// one such as `digest`, or `has`) rather than an attribute's: an attribute of that name
/// is filtered as `attr.NAME`.
pub fn is_builtin_name(name: &str) -> bool {
    Col::from_name(name).is_some() || BUILTIN_NAMES.contains(&name.to_ascii_lowercase().as_str())
}

/// What `name`, unknown in `scope`, likely meant: the same name in the other scope
/// (`param.epoch`, `attr.rows`), else the catalogued name of `scope` nearest to it when
/// one is near enough to be a typo of it (for an attribute, with `builtins`, a built-in
/// name too: `staus` is `status` misspelt, not an attribute).
fn nearest(
    cat: &Catalogue<'_>,
    scope: Scope,
    name: &str,
    builtins: bool,
) -> Result<Option<String>> {
    let other = match scope {
        Scope::Attr => Scope::Param,
        Scope::Param => Scope::Attr,
    };
    if cat.names(other)?.iter().any(|k| k == name) {
        return Ok(Some(format!("{}.{name}", other.prefix())));
    }
    let known = cat.names(scope)?;
    let builtins = match scope {
        Scope::Attr if builtins => &BUILTIN_NAMES[..],
        _ => &[],
    };
    let names = known
        .iter()
        .map(String::as_str)
        .chain(builtins.iter().copied());
    Ok(closest(names, name).map(|k| match scope {
        Scope::Attr => k.to_string(),
        Scope::Param => format!("param.{k}"),
    }))
}

/// Of `known`, the name nearest to `name` when one is near enough to be a typo of it.
pub(crate) fn closest<'a>(known: impl Iterator<Item = &'a str>, name: &str) -> Option<&'a str> {
    known
        .map(|k| (edit_distance(&k.to_lowercase(), &name.to_lowercase()), k))
        // Up to a third of its letters (at least two), and not all of them: `u` is no
        // typo of `b`.
        .filter(|(d, k)| *d <= 2.max(k.chars().count() / 3) && *d < k.chars().count())
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
