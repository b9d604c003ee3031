//! Commands that change items: attr set/rm, trash, restore, purge, fail.

use std::collections::HashSet;
use std::io::{self, IsTerminal};

use anyhow::{Result, bail};
use cachet::Cache;
use cachet::attr::AttrValue;
use clap::{Args, Subcommand};

use super::items::print_item_line;
use super::output::{self, count_of, human_size, json_line};
use super::query;
use super::{Global, parse_assignment};

#[derive(Subcommand, Debug)]
pub enum AttrCommand {
    /// Set attributes: name=value or name:type=value.
    Set {
        /// An item id, a key prefix, KEY@VERSION, or a URI (of one key).
        item: String,
        /// `name=value` (typed: `n=3` int, `x=0.5` float, `ok=true` bool,
        /// `when=2026-01-01T00:00:00Z` datetime, else text) or `name:type=value`.
        #[arg(required = true, value_parser = parse_assignment)]
        attrs: Vec<(String, AttrValue)>,
    },
    /// Remove attributes by name.
    Rm {
        /// An item id, a key prefix, KEY@VERSION, or a URI (of one key).
        item: String,
        /// The attributes' names.
        #[arg(required = true)]
        names: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct ItemsArg {
    /// Item ids, key prefixes, KEY@VERSION, URIs, or a filter (`status:failed 'size>1GB'`).
    #[arg(required = true, value_parser = non_blank)]
    pub items: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ChangeArgs {
    #[command(flatten)]
    pub items: ItemsArg,
    /// Apply to every version of each item's key.
    #[arg(long)]
    pub all_versions: bool,
}

#[derive(Args, Debug)]
pub struct PurgeArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
    /// Purge without asking first (on a terminal it asks; elsewhere it never does).
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Args, Debug)]
pub struct FailArgs {
    #[command(flatten)]
    pub items: ItemsArg,
    /// Why the items failed.
    #[arg(long, default_value = "marked failed by hand")]
    pub reason: String,
}

/// What [`change`] does to each item.
#[derive(Clone, Copy, Debug)]
pub enum Change {
    Trash,
    Restore,
    Purge,
}

pub fn attr(g: &Global, a: AttrCommand) -> Result<()> {
    let cache = g.open()?;
    let item = match a {
        AttrCommand::Set { item, attrs } => {
            for (name, _) in &attrs {
                if cachet::filter::is_builtin_name(name) {
                    output::tell(format_args!(
                        "cachet: note: a filter reads '{name}' as its own field: filter this \
                         attribute as attr.{name}"
                    ));
                }
            }
            let item = cache.resolve(&item, false)?;
            let attrs = attrs.into_iter().collect();
            // Asked before they are set, which catalogues their types.
            let notes = cachet::filter::check_attr_types(cache.registry().db().conn, &attrs)?;
            let item = cache.set_attrs(item.id, &attrs)?;
            for note in notes {
                output::tell(format_args!("cachet: note: {note}"));
            }
            item
        }
        AttrCommand::Rm { item, names } => {
            let item = cache.resolve(&item, false)?;
            cache.remove_attrs(item.id, &names)?
        }
    };
    print_item_line(g, &item)
}

/// clap value parser for item references: a blank one (an empty shell variable, say)
/// would otherwise be an empty filter, which matches every item.
pub(super) fn non_blank(arg: &str) -> Result<String, String> {
    if arg.trim().is_empty() {
        return Err("an item reference or filter cannot be blank".into());
    }
    Ok(arg.to_owned())
}

/// Resolves every reference first, so a typo in the third one changes nothing. Words that
/// look like a filter (`status:failed`, `project=x`, …) are joined into one filter whose
/// matches are added, unless an item has the word for its URI (`manifest:model`,
/// `urn:isbn:123`): then it names that item, as `show` takes it.
pub fn resolve_all(cache: &Cache, refs: &[String]) -> Result<Vec<i64>> {
    let mut filters = Vec::new();
    // Each item once, however often named (`trash 3 3`, an id and its key, a match).
    let mut ids: Vec<i64> = Vec::new();
    let mut seen = HashSet::new();
    for word in refs {
        let item = match cache.resolve(word, false) {
            Ok(item) => item,
            Err(cachet::Error::NotFound { .. } | cachet::Error::InvalidInput { .. })
                if query::looks_like_filter(word) =>
            {
                filters.push(word);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if seen.insert(item.id) {
            ids.push(item.id);
        }
    }
    if !filters.is_empty() {
        let words: Vec<String> = filters.into_iter().cloned().collect();
        let f = query::build_filter(&words, None, false)?;
        let matches = query::matching_ids(cache, &f)?;
        if matches.is_empty() {
            // Not an error (there is nothing to change), but not silence either.
            output::tell(format_args!("cachet: no item matches '{}'", f.as_str()));
        }
        ids.extend(matches.into_iter().filter(|id| seen.insert(*id)));
    }
    Ok(ids)
}

pub fn purge(g: &Global, a: PurgeArgs) -> Result<()> {
    change(g, a.change, Change::Purge, !a.yes)
}

/// Trashes, restores or purges the items `a` names; with `ask`, on a terminal, only once
/// the user says yes.
pub fn change(g: &Global, a: ChangeArgs, what: Change, ask: bool) -> Result<()> {
    let cache = g.open()?;
    let mut ids = resolve_all(&cache, &a.items.items)?;
    if a.all_versions {
        let mut all = Vec::new();
        let mut seen = HashSet::new();
        for id in &ids {
            let key = cache.get(*id)?.key;
            for v in cache.versions(&key)? {
                // Only the versions the change applies to: trash what is not in the trash,
                // restore or purge what is.
                let in_trash = v.status == cachet::Status::Trash;
                let wanted = match what {
                    Change::Trash => !in_trash,
                    Change::Restore | Change::Purge => in_trash,
                };
                if wanted && seen.insert(v.id) {
                    all.push(v.id);
                }
            }
        }
        ids = all;
    }
    if ask && !ids.is_empty() && io::stdin().is_terminal() {
        // Those that can be read (the others are refused one by one below).
        let items: Vec<_> = (cache.get_each(&ids)?.into_iter())
            .filter_map(|(_, item)| item.ok())
            .collect();
        let frees = cache.purge_frees(&items)?;
        let question = format!(
            "Purge {} for good? It frees {} on disk (content no other item uses).",
            count_of(ids.len() as u64, "item", "items"),
            human_size(frees.content + frees.linked)
        );
        if !super::cleanup::confirm(&question)? {
            output::say(format_args!("nothing changed"))?;
            return Ok(());
        }
    }
    // Ids padded to the widest, so that the lines' columns line up.
    let id_width = output::id_width(ids.iter().copied());
    // Trash and restore take one transaction for them all (a filter may match many);
    // purge deletes files as it goes, so goes one by one.
    type Outcome = cachet::Result<(cachet::Item, Option<bool>)>;
    let outcomes: Box<dyn Iterator<Item = Outcome>> = match what {
        Change::Trash => Box::new(cache.trash_many(&ids)?.into_iter().map(without_blob)),
        Change::Restore => Box::new(cache.restore_many(&ids)?.into_iter().map(without_blob)),
        Change::Purge => Box::new(
            (ids.into_iter()).map(|id| cache.purge(id).map(|(item, freed)| (item, Some(freed)))),
        ),
    };
    let mut out = output::stdout();
    let mut failures = 0;
    for outcome in outcomes {
        match outcome {
            Ok((item, freed)) => {
                if g.json {
                    let mut v = item.to_json();
                    if let (serde_json::Value::Object(m), Some(freed)) = (&mut v, freed) {
                        m.insert("purged".into(), true.into());
                        m.insert("blob_deleted".into(), freed.into());
                    }
                    json_line(&mut out, &v)?;
                } else {
                    let verb = match what {
                        // Its writer, if at work still, cannot commit it now.
                        Change::Trash if item.trashed_from == Some(cachet::Status::Write) => {
                            "trashed mid-write (its writer's commit will fail; restored, it comes back FAILED)"
                                .to_string()
                        }
                        Change::Trash => "trashed".to_string(),
                        Change::Restore => format!("restored to {}", item.status),
                        Change::Purge => match (freed, item.size, item.sha256.as_deref()) {
                            (Some(true), Some(size), _) => {
                                format!("purged, freed {}", human_size(size))
                            }
                            (_, _, None) => "purged (it had no content)".to_string(),
                            (_, _, Some(sha)) if cachet::key::blob_digest(sha).is_none() => {
                                "purged (its digest names no blob)".to_string()
                            }
                            _ => "purged (content still used by another item)".to_string(),
                        },
                    };
                    // A pin holds off gc, not the user: said, as the browser says it.
                    let verb = match what {
                        Change::Trash if item.pinned => {
                            format!("{verb} (pinned: gc never purges it from the trash)")
                        }
                        Change::Purge if item.pinned => format!("{verb} (it was pinned)"),
                        _ => verb,
                    };
                    output::changed_line(&mut out, &item, id_width, &verb)?;
                }
            }
            Err(e) => {
                failures += 1;
                output::tell(format_args!("cachet: error: {e}"));
            }
        }
    }
    if failures > 0 {
        bail!("{failures} of the items could not be changed");
    }
    Ok(())
}

/// The outcome of a change that deletes no blob.
fn without_blob(
    outcome: cachet::Result<cachet::Item>,
) -> cachet::Result<(cachet::Item, Option<bool>)> {
    outcome.map(|item| (item, None))
}

pub fn fail(g: &Global, a: FailArgs) -> Result<()> {
    let cache = g.open()?;
    let ids = resolve_all(&cache, &a.items.items)?;
    for id in ids {
        let item = cache.fail(id, &a.reason)?;
        print_item_line(g, &item)?;
    }
    Ok(())
}
