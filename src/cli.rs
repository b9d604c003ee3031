//! Command-line interface. Parsing with clap, the work in the library, printing here.
//! Exit codes: 0 ok, 1 error, 2 usage.

mod cleanup;
mod import;
mod items;
mod lifecycle;
mod manifest;
mod output;
mod preview;
mod query;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use cachet::attr::AttrValue;
use cachet::cache::DEFAULT_APP;
use cachet::{Cache, Status};
use clap::{Args, Parser, Subcommand};

/// An artifact cache with a SQLite registry and a terminal browser.
#[derive(Parser, Debug)]
#[command(name = "cachet", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Cache root directory (default: the platform cache dir, e.g. ~/.cache/cachet).
    #[arg(long, global = true, env = "CACHET_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Open the platform cache of another application name.
    #[arg(long, global = true, value_name = "NAME", conflicts_with = "root")]
    pub app: Option<String>,
    /// Machine-readable output: JSON, lists as one object per line (NDJSON).
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Store a file (or standard input) as a new version of URI.
    Put(items::PutArgs),
    /// Add many items from an NDJSON file in one transaction.
    Import(import::ImportArgs),
    /// Copy an item's content out to a file.
    Get(items::GetArgs),
    /// Print the path of an item's content in the blob store.
    Path(items::ItemArg),
    /// Write an item's content to standard output, decompressed (or a member of it).
    Cat(preview::CatArgs),
    /// Look inside an item: archive members, or the first lines of (decompressed) content.
    Preview(preview::PreviewArgs),
    /// List items matching a filter, sorted, page by page.
    #[command(after_long_help = cachet::filter::SYNTAX)]
    Ls(query::LsArgs),
    /// Count items matching a filter (--by status for one count per status).
    #[command(after_long_help = cachet::filter::SYNTAX)]
    Count(query::CountArgs),
    /// Show everything about one item (a key names its newest version, in any status).
    Show(items::ItemArg),
    /// The best (highest READY) version of URI with params.
    Best(items::BestArgs),
    /// Set or remove attributes.
    #[command(subcommand)]
    Attr(lifecycle::AttrCommand),
    /// Move items to the trash (reversible).
    #[command(after_long_help = cachet::filter::SYNTAX)]
    Trash(lifecycle::ChangeArgs),
    /// Bring items back from the trash.
    #[command(after_long_help = cachet::filter::SYNTAX)]
    Restore(lifecycle::ChangeArgs),
    /// Delete trashed items for good (and blobs nothing else uses).
    #[command(after_long_help = cachet::filter::SYNTAX)]
    Purge(lifecycle::PurgeArgs),
    /// Mark items FAILED.
    #[command(after_long_help = cachet::filter::SYNTAX)]
    Fail(lifecycle::FailArgs),
    /// Collect garbage by policy: show the plan, then apply it.
    Gc(cleanup::GcArgs),
    /// Pin items: gc never collects them (nor what their manifests link to).
    #[command(after_long_help = cachet::filter::SYNTAX)]
    Pin(lifecycle::ItemsArg),
    /// Unpin items.
    #[command(after_long_help = cachet::filter::SYNTAX)]
    Unpin(lifecycle::ItemsArg),
    /// Rehash every READY item's content; mark missing or altered ones FAILED.
    Verify(cleanup::VerifyArgs),
    /// Disk usage by status, key or attribute.
    Du(cleanup::DuArgs),
    /// Manifests: datasets, shard sets, links between artifacts.
    #[command(subcommand)]
    Manifest(manifest::ManifestCommand),
    /// Browse the cache in the terminal (also what `cachet` alone does).
    Tui,
    /// Build a demo cache (every status, archives, manifests) in DIR and browse it.
    Demo(DemoArgs),
}

/// Runs the CLI and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let on_output = output::output_failure(&err);
            // A closed pipe (`cachet ls | head`) is not an error worth a message: one on
            // standard output, that is. Any other stream's is a failure like any other.
            if on_output == Some(std::io::ErrorKind::BrokenPipe) {
                return ExitCode::SUCCESS;
            }
            let mut message = output::one_line(&err);
            if on_output.is_some() && !message.contains(cachet::error::OUTPUT) {
                message = format!("{}: {message}", cachet::error::OUTPUT);
            }
            output::tell(format_args!("cachet: error: {message}"));
            // A filter that does not parse, or asks what the registry cannot answer
            // (a value of no type its attribute has), is a wrong argument: usage.
            if err.chain().any(|e| {
                matches!(
                    e.downcast_ref::<cachet::Error>(),
                    Some(cachet::Error::Filter { .. })
                )
            }) {
                return ExitCode::from(2);
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    let Some(command) = cli.command else {
        return browse(g);
    };
    match command {
        Command::Put(a) => items::put(g, a),
        Command::Import(a) => import::import(g, a),
        Command::Get(a) => items::get(g, a),
        Command::Path(a) => items::path(g, a),
        Command::Cat(a) => preview::cat(g, a),
        Command::Preview(a) => preview::preview(g, a),
        Command::Ls(a) => query::ls(g, a),
        Command::Count(a) => query::count(g, a),
        Command::Show(a) => items::show(g, a),
        Command::Best(a) => items::best(g, a),
        Command::Attr(a) => lifecycle::attr(g, a),
        Command::Trash(a) => lifecycle::change(g, a, lifecycle::Change::Trash, false),
        Command::Restore(a) => lifecycle::change(g, a, lifecycle::Change::Restore, false),
        Command::Purge(a) => lifecycle::purge(g, a),
        Command::Fail(a) => lifecycle::fail(g, a),
        Command::Manifest(a) => manifest::run(g, a),
        Command::Gc(a) => cleanup::gc(g, a),
        Command::Pin(a) => cleanup::pin(g, a, true),
        Command::Unpin(a) => cleanup::pin(g, a, false),
        Command::Verify(a) => cleanup::verify(g, a),
        Command::Du(a) => cleanup::du(g, a),
        Command::Tui => browse(g),
        Command::Demo(a) => demo(a),
    }
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where to build it (default: `cachet-demo` in the temp directory). An existing
    /// cache there is opened as it is.
    pub dir: Option<PathBuf>,
}

/// Builds the demo cache (unless one is there) and browses it.
fn demo(a: DemoArgs) -> Result<()> {
    let dir = a
        .dir
        .unwrap_or_else(|| std::env::temp_dir().join("cachet-demo"));
    // (Its errors name the directory.)
    let cache = Cache::open(&dir)?;
    let empty = cache.list_ids(None, false, 0, 1)?.is_empty();
    drop(cache);
    if empty {
        let report = cachet::demo::build(&dir)
            .with_context(|| format!("building the demo cache in {}", dir.display()))?;
        output::tell(format_args!(
            "cachet: built a demo cache of {} items ({} manifests) in {}",
            report.items,
            report.manifests,
            dir.display()
        ));
    } else {
        output::tell(format_args!(
            "cachet: opening the demo cache in {}",
            dir.display()
        ));
    }
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        output::tell(format_args!(
            "cachet: no terminal; browse it with: cachet --root {}",
            dir.display()
        ));
        return Ok(());
    }
    crate::tui::run(&dir)?;
    // Back on the shell: how to come back (the CLI works on it too).
    output::tell(format_args!(
        "cachet: browse it again with: cachet --root {}",
        dir.display()
    ));
    Ok(())
}

/// Opens the terminal browser on the selected cache; without a terminal, prints help.
fn browse(g: &Global) -> Result<()> {
    use std::io::IsTerminal;
    g.check_named_root()?;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        use clap::CommandFactory;
        Cli::command().print_help()?;
        anyhow::bail!("the browser needs a terminal (give a command to use the CLI)");
    }
    crate::tui::run(&g.root_dir()?)
}

impl Global {
    /// The cache root these options select.
    pub fn root_dir(&self) -> Result<PathBuf> {
        match (&self.root, &self.app) {
            (Some(root), _) => Ok(root.clone()),
            (None, Some(app)) => Ok(Cache::default_root(app)?),
            (None, None) => Ok(Cache::default_root(DEFAULT_APP)?),
        }
    }

    /// Opens the selected cache, which must exist when it was named (`--root`,
    /// `CACHET_ROOT`): a mistyped path lists nothing rather than starting a new, empty
    /// cache. The platform's own cache dir is created on first use.
    pub fn open(&self) -> Result<Cache> {
        self.check_named_root()?;
        self.create()
    }

    /// Opens the selected cache as [`Global::open`] does, for commands that only read: a
    /// cache whose directory cannot be written is opened to read only.
    pub fn open_to_read(&self) -> Result<Cache> {
        self.check_named_root()?;
        self.opened_with(|root| Cache::open_to_read(root))
    }

    /// Opens the selected cache, creating it where there is none (commands that add
    /// items).
    pub fn create(&self) -> Result<Cache> {
        self.opened_with(|root| Cache::open(root))
    }

    /// The selected cache as `open` opens it.
    fn opened_with(&self, open: fn(&std::path::Path) -> cachet::Result<Cache>) -> Result<Cache> {
        let root = self.root_dir()?;
        // Said where, once: most of the library's errors name the root already.
        open(&root).map_err(|e| {
            let named = e.to_string().contains(&*root.to_string_lossy());
            let e = anyhow::Error::new(e);
            if named {
                e
            } else {
                e.context(format!("opening the cache at {}", root.display()))
            }
        })
    }

    /// Fails when a root was named and holds no cache.
    fn check_named_root(&self) -> Result<()> {
        if let Some(root) = &self.root
            && !root.join(cachet::cache::REGISTRY_FILE).exists()
        {
            let what = if root.exists() {
                "the directory holds no registry"
            } else {
                "the directory does not exist"
            };
            anyhow::bail!(
                "no cache at {} ({what}); `cachet put` or `cachet import` starts one",
                root.display()
            );
        }
        Ok(())
    }
}

/// clap value parser for `name=value` / `name:type=value`.
pub fn parse_assignment(arg: &str) -> Result<(String, AttrValue), String> {
    AttrValue::parse_assignment(arg).map_err(|e| e.to_string())
}

/// clap value parser for a status name.
pub fn parse_status(arg: &str) -> Result<Status, String> {
    arg.parse().map_err(|e: cachet::Error| e.to_string())
}

/// For clap value parsers: the value `read`, or why it is none. A flag's value is so read
/// once, as it is parsed, and a bad one is a usage error (exit 2), which clap names by
/// its flag.
fn parsed<T>(read: cachet::Result<T>) -> Result<T, String> {
    read.map_err(|e| match e {
        cachet::Error::InvalidInput { message, .. } => message,
        e => e.to_string(),
    })
}
