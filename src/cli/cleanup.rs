//! Cleanup commands: gc (plan, then apply), pin/unpin, verify, du.

use std::io::{self, BufRead, IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cachet::cache::UsageBy;
use cachet::gc::{self, GcPlan, GcPolicy};
use cachet::key::abbrev;
use cachet::verify::{VerifyOpts, verify_all};
use cachet::{config, units};
use chrono::Utc;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::lifecycle::ItemsArg;
use super::output::{self, count_of, human_size, json_line};
use super::{Global, parsed};

#[derive(Args, Debug)]
pub struct GcArgs {
    /// Show the plan and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply without asking. Without it, gc asks on a terminal, and elsewhere shows the
    /// plan and stops with an error.
    #[arg(short, long)]
    pub yes: bool,
    /// Purge the trash: all, or items trashed longer ago than AGE.
    #[arg(long, value_name = "AGE", num_args = 0..=1, default_missing_value = "all", value_parser = age_or_all)]
    pub trash: Option<Duration>,
    /// Remove stale writes and failed items older than AGE (default 1d).
    #[arg(long, value_name = "AGE", num_args = 0..=1, default_missing_value = "1d", value_parser = age_or_all)]
    pub stale: Option<Duration>,
    /// Keep only the newest N READY versions of each key (1 or more).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_last: Option<u32>,
    /// Remove READY items not accessed for this long.
    #[arg(long, value_name = "AGE", value_parser = age_arg)]
    pub max_age: Option<Duration>,
    /// Shrink the cache to at most SIZE: empty the trash first (longest there first), then
    /// evict the least recently used READY items.
    #[arg(long, value_name = "SIZE", value_parser = size_arg)]
    pub max_size: Option<u64>,
    /// Delete blobs nothing references and leftovers in tmp/.
    #[arg(long)]
    pub orphans: bool,
    /// Leave orphan blobs and temp files younger than this (default 1h).
    #[arg(long, value_name = "AGE", value_parser = age_arg)]
    pub grace: Option<Duration>,
    /// How many planned items to list (the totals always cover all).
    #[arg(long, default_value_t = 20)]
    pub show: usize,
}

impl GcArgs {
    fn any_policy(&self) -> bool {
        self.trash.is_some()
            || self.stale.is_some()
            || self.keep_last.is_some()
            || self.max_age.is_some()
            || self.max_size.is_some()
            || self.orphans
    }

    /// The configured defaults when no policy is named here; only the named ones otherwise.
    fn policy(&self) -> Result<GcPolicy> {
        let mut p = if self.any_policy() {
            GcPolicy::none()
        } else {
            let path = config::path();
            match path {
                Some(path) => config::load(&path)?.gc.policy()?,
                None => GcPolicy::default(),
            }
        };
        // (Each value was read as the flags were parsed.)
        p.trash = self.trash.or(p.trash);
        p.stale = self.stale.or(p.stale);
        p.keep_last = self.keep_last.or(p.keep_last);
        p.max_age = self.max_age.or(p.max_age);
        p.max_size = self.max_size.or(p.max_size);
        p.orphans |= self.orphans;
        p.grace = self.grace.unwrap_or(p.grace);
        Ok(p)
    }
}

pub fn gc(g: &Global, a: GcArgs) -> Result<()> {
    let policy = a.policy()?;
    let cache = g.open()?;
    let plan = gc::plan(&cache, &policy, Utc::now())?;
    if g.json && a.dry_run {
        // Written as it is made: a plan may hold a million items, each made when read.
        return output::to_stdout(|out| Ok(json_line(out, &plan)?));
    }
    if !g.json {
        print_plan(&mut output::stdout(), &plan, a.show)?;
    }
    if a.dry_run || plan.is_empty() {
        return Ok(());
    }
    if !a.yes {
        // The plan is cachet's choice, not the user's: it goes only once they said yes.
        if !io::stdin().is_terminal() {
            bail!(
                "the plan was not applied: there is no terminal to ask on; \
                 pass --yes to apply it (as a scheduled job would)"
            );
        }
        if !confirm("Apply this plan?")? {
            output::say(format_args!("nothing changed"))?;
            return Ok(());
        }
    }
    let bar = ProgressBar::new((plan.items.len() + plan.files.len()) as u64).with_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} collecting")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = gc::apply(&cache, &plan, &mut |p| bar.set_position(p.done), None)?;
    bar.finish_and_clear();
    if g.json {
        json_line(&mut output::stdout(), &report)?;
    } else {
        output::say(format_args!("{report}"))?;
        for s in &report.skipped {
            let what = match (s.id, &s.path) {
                (Some(id), _) => format!("item {id}"),
                (None, Some(p)) => p.display().to_string(),
                _ => "-".into(),
            };
            output::say(format_args!("skipped {what}: {}", s.why))?;
        }
    }
    Ok(())
}

pub(super) fn confirm(question: &str) -> Result<bool> {
    // Not asked, not done: a question that cannot be shown is an error.
    let mut stderr = io::stderr().lock();
    write!(stderr, "{question} [y/N] ")?;
    stderr.flush()?;
    drop(stderr);
    let mut answer = String::new();
    io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

fn print_plan(out: &mut impl Write, plan: &GcPlan, show: usize) -> io::Result<()> {
    if plan.is_empty() {
        writeln!(out, "gc: nothing to collect")?;
    } else {
        writeln!(
            out,
            "gc plan: {}, {}; frees {} ({} stays, shared with other items)",
            units::count_of(plan.items.len() as u64, "item", "items"),
            units::count_of(plan.files.len() as u64, "file", "files"),
            human_size(plan.exclusive_bytes()),
            human_size(plan.shared_bytes())
        )?;
    }
    if let Some(account) = plan.cap_account() {
        writeln!(out, "{account}")?;
    }
    if plan.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<String>> = plan
        .totals
        .iter()
        .map(|(reason, t)| {
            vec![
                reason.to_string(),
                t.items.to_string(),
                t.files.to_string(),
                human_size(t.exclusive_bytes),
                human_size(t.shared_bytes),
            ]
        })
        .collect();
    output::print_table(
        out,
        &["REASON", "ITEMS", "FILES", "FREES", "SHARED"],
        &rows,
        None,
    )?;
    if !plan.items.is_empty() {
        writeln!(out)?;
        let rows: Vec<Vec<String>> = plan
            .items
            .iter()
            .take(show)
            .map(|i| {
                vec![
                    i.id.to_string(),
                    format!("{}@{}", abbrev(&i.key.to_string(), 10), i.version),
                    human_size(i.size),
                    match (&i.sha256, i.exclusive) {
                        (None, _) => "-".into(), // no content: no blob
                        (Some(_), true) => "frees".into(),
                        (Some(_), false) => "shared".into(),
                    },
                    i.reason.to_string(),
                    i.detail.to_string(),
                ]
            })
            .collect();
        output::print_table(
            out,
            &["ID", "KEY@VER", "SIZE", "BLOB", "REASON", "WHY"],
            &rows,
            output::terminal_width(),
        )?;
        if plan.items.len() > show {
            writeln!(
                out,
                "… and {} more items (--show N lists more)",
                plan.items.len() - show
            )?;
        }
    }
    for f in plan.files.iter().take(show) {
        writeln!(
            out,
            "{}  {}  {}",
            f.reason,
            human_size(f.size),
            f.path.display()
        )?;
    }
    if plan.files.len() > show {
        writeln!(out, "… and {} more files", plan.files.len() - show)?;
    }
    Ok(())
}

pub fn pin(g: &Global, a: ItemsArg, pinned: bool) -> Result<()> {
    let cache = g.open()?;
    let ids = super::lifecycle::resolve_all(&cache, &a.items)?;
    // Every item changed before a line is printed: a reader gone (a closed pipe) stops
    // the lines, not the change half-way.
    let items = (ids.into_iter())
        .map(|id| cache.pin(id, pinned))
        .collect::<cachet::Result<Vec<_>>>()?;
    let id_width = output::id_width(items.iter().map(|i| i.id));
    let mut out = output::stdout();
    for item in items {
        if g.json {
            json_line(&mut out, &item.to_json())?;
        } else {
            let done = if pinned { "pinned" } else { "unpinned" };
            output::changed_line(&mut out, &item, id_width, done)?;
        }
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Skip items verified within this long (e.g. 7d).
    #[arg(long, value_name = "AGE")]
    pub since: Option<String>,
    /// Report only; mark nothing FAILED.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn verify(g: &Global, a: VerifyArgs) -> Result<()> {
    let since = a
        .since
        .as_deref()
        .map(|s| units::duration("--since", s))
        .transpose()?;
    let cache = g.open()?;
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("{bar:30} {bytes}/{total_bytes} {bytes_per_sec} verifying")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let opts = VerifyOpts {
        since,
        dry_run: a.dry_run,
        ..VerifyOpts::default()
    };
    let report = verify_all(
        &cache,
        &opts,
        &|p| {
            bar.set_length(p.total_bytes);
            bar.set_position(p.bytes);
        },
        None,
    )
    .context("verifying")?;
    bar.finish_and_clear();
    let printed = (|| -> Result<()> {
        if g.json {
            json_line(&mut output::stdout(), &report)?;
            return Ok(());
        }
        for bad in &report.bad {
            output::say(format_args!(
                "{}  items {:?}  {}",
                abbrev(&bad.sha256, 12),
                bad.items,
                bad.problem
            ))?;
        }
        output::say(format_args!(
            "{} ({}) verified, {} bad, {} marked FAILED, {} skipped as recently verified",
            count_of(report.blobs, "blob", "blobs"),
            human_size(report.bytes),
            report.bad.len(),
            count_of(report.marked_failed, "item", "items"),
            report.skipped_recent
        ))?;
        Ok(())
    })();
    // What was found decides the exit, even when no one read the lines (a closed pipe).
    if !report.bad.is_empty() {
        bail!(
            "{} missing or altered",
            count_of(report.bad.len() as u64, "blob is", "blobs are")
        );
    }
    printed?;
    Ok(())
}

#[derive(Args, Debug)]
pub struct DuArgs {
    /// Group by `status`, `key` or an attribute's values: `attr:NAME` (e.g. --by
    /// attr:project).
    #[arg(long, value_name = "WHAT", default_value = "status", value_parser = usage_by)]
    pub by: UsageBy,
    /// At most this many groups.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

/// clap value parser for `du --by`.
fn usage_by(arg: &str) -> Result<UsageBy, String> {
    match arg {
        "status" => Ok(UsageBy::Status),
        "key" => Ok(UsageBy::Key),
        other => match (other.strip_prefix("attr:")).or_else(|| other.strip_prefix("attr=")) {
            Some(name) if !name.is_empty() => Ok(UsageBy::Attr(name.to_string())),
            _ => Err("takes status, key or attr:NAME".into()),
        },
    }
}

pub fn du(g: &Global, a: DuArgs) -> Result<()> {
    let by = a.by;
    let cache = g.open_to_read()?;
    if let UsageBy::Attr(name) = &by {
        let conn = cache.registry().db().conn;
        if let Some(note) = cachet::filter::check_attr(conn, name, "every item falls in one group")?
        {
            output::tell(format_args!("cachet: note: {note}"));
        }
    }
    let totals = cache.usage_totals()?;
    let rows = cache.usage(&by, a.limit)?;
    let mut out = output::stdout();
    if g.json {
        for r in &rows {
            json_line(&mut out, r)?;
        }
        json_line(&mut out, &serde_json::json!({"total": totals}))?;
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| vec![human_size(r.bytes), r.items.to_string(), r.group.clone()])
        .collect();
    output::print_table(
        &mut out,
        &["SIZE", "ITEMS", "GROUP"],
        &table,
        output::terminal_width(),
    )?;
    writeln!(
        out,
        "total: {}, {}; on disk {} (each blob once, with those only manifests link)",
        count_of(totals.items, "item", "items"),
        human_size(totals.logical_bytes),
        human_size(totals.stored_bytes)
    )?;
    Ok(())
}

/// Value parsers for the policy flags (see [`parsed`]).
fn age_arg(arg: &str) -> Result<Duration, String> {
    parsed(units::duration("age", arg))
}

/// An age, or `all` (the trash whatever its age, stale writes and failures of any age).
fn age_or_all(arg: &str) -> Result<Duration, String> {
    if arg == "all" {
        Ok(Duration::ZERO)
    } else {
        age_arg(arg)
    }
}

fn size_arg(arg: &str) -> Result<u64, String> {
    parsed(units::size("size", arg))
}
