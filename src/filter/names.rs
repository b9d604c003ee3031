//! Names a listing refers to that no item has: notes for a sort key, a column or a
//! grouping by such a name, with what was likely meant; and the attribute names items
//! do hold, for choosing columns.

use rusqlite::Connection;

use super::ast::Scope;
use super::sort::{SortKey, SortSpec};
use super::suggest::{Meant, closest, unknown_name};
use super::typecheck::Catalogue;
use crate::attr::{AttrType, Attrs};
use crate::error::Result;

/// A note when `sort` is by an attribute or param that no item has: every item then
/// sorts as one without a value, in id order, which is rarely what was meant.
pub fn check_sort(conn: &Connection, sort: &SortSpec) -> Result<Option<String>> {
    let SortKey::Attr(scope, name) = &sort.key else {
        return Ok(None);
    };
    let order = if sort.desc {
        "the list is in descending id order"
    } else {
        "the list is in id order"
    };
    // `name` is what listings show (the label, else the URI), whose nearest spelling
    // (`note`) is no help; else a built-in column sorts too: `sise` may be `size`.
    let meant = if name.eq_ignore_ascii_case("name") {
        Meant::Said("the name column shows the label, else the URI: sort by 'label' or 'uri'")
    } else {
        Meant::Nearest { builtins: true }
    };
    note_unknown(conn, *scope, name, order, meant)
}

/// Notes for the attributes in `attrs` whose type is not one the catalogue knows for
/// their name (`score` has been a float, and this one says `high`): stored as given, such
/// a value is compared as its own type, apart from the others' (`score>0.5` compares text
/// as text), which is rarely what was meant. An int where floats are, or the other way
/// round, is a number all the same: no note. Ask before the attributes are written, as
/// they are catalogued then.
pub fn check_attr_types(conn: &Connection, attrs: &Attrs) -> Result<Vec<String>> {
    let mut cat = Catalogue::new(conn);
    let mut notes = Vec::new();
    for (name, value) in attrs {
        let kind = value.kind();
        let known = cat.types(Scope::Attr, name)?;
        if known.is_empty()
            || known
                .iter()
                .any(|&t| t == kind || (t.is_numeric() && kind.is_numeric()))
        {
            continue;
        }
        let hint = match known.as_slice() {
            [one] => one.to_string(),
            _ => "TYPE".to_string(),
        };
        let known = super::typecheck::list(&known);
        notes.push(format!(
            "attribute '{name}' has been {known} so far, and '{value}' is {kind}: filters \
             and sorts compare it as {kind}, apart from the others ({name}:{hint}=VALUE \
             gives the type)"
        ));
    }
    Ok(notes)
}

/// A note when no item has an attribute named `name`: `then` says what follows from it
/// (`every item falls in one group`), and the note what may have been meant.
pub fn check_attr(conn: &Connection, name: &str, then: &str) -> Result<Option<String>> {
    // Only an attribute can be meant here.
    note_unknown(
        conn,
        Scope::Attr,
        name,
        then,
        Meant::Nearest { builtins: false },
    )
}

/// The note for `name` of `scope` when the catalogue has no type for it.
fn note_unknown(
    conn: &Connection,
    scope: Scope,
    name: &str,
    then: &str,
    meant: Meant<'_>,
) -> Result<Option<String>> {
    let mut cat = Catalogue::new(conn);
    if !cat.types(scope, name)?.is_empty() {
        return Ok(None);
    }
    unknown_name(&cat, scope, name, then, meant).map(Some)
}

/// A note when a listing's column `name` is neither one of `builtins` nor an attribute
/// any item has (a typo, most likely): its column would stay empty.
pub fn check_column(conn: &Connection, name: &str, builtins: &[&str]) -> Result<Option<String>> {
    if builtins.contains(&name) {
        return Ok(None);
    }
    let attr = name.strip_prefix("attr.").unwrap_or(name);
    let mut cat = Catalogue::new(conn);
    if !cat.types(Scope::Attr, attr)?.is_empty() {
        return Ok(None);
    }
    let names = cat.names(Scope::Attr)?;
    let known = builtins
        .iter()
        .copied()
        .chain(names.iter().map(String::as_str));
    let mut message = format!("no column or attribute is named '{name}', so its column is empty");
    if let Some(k) = closest(known, name) {
        message.push_str(&format!("; did you mean '{k}'?"));
    }
    Ok(Some(message))
}

/// The attribute names some item holds, each with the types its values have (a name
/// left by items since purged, or attributes since removed, is not among them).
pub fn attribute_names(conn: &Connection) -> Result<Vec<(String, Vec<AttrType>)>> {
    let mut out: Vec<(String, Vec<AttrType>)> = Vec::new();
    for (name, code) in Catalogue::new(conn).held(Scope::Attr)? {
        let Some(kind) = AttrType::from_code(code) else {
            continue;
        };
        match out.last_mut() {
            Some((last, types)) if *last == name => types.push(kind),
            _ => out.push((name, vec![kind])),
        }
    }
    Ok(out)
}
