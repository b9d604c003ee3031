//! Printing: tables that fit the terminal, NDJSON, sizes and ages for people.

use std::io::{self, Write};

use cachet::Item;
use cachet::attr::format_datetime;
use cachet::preview::{cut, escape_controls, width};
pub use cachet::units::{count_of, format_age as age, format_size as human_size};
use chrono::{DateTime, Utc};

/// One item's line after a change (`12  3f9a1c2b7d4e@2  trashed`), the id padded to
/// `id_width` so that the lines of many line up.
pub fn changed_line(
    out: &mut impl Write,
    item: &Item,
    id_width: usize,
    what: &str,
) -> io::Result<()> {
    let key = cachet::key::abbrev(&item.key, 12);
    writeln!(
        out,
        "{:<id_width$}  {key}@{}  {what}",
        item.id, item.version
    )
}

/// The width of the widest of these ids.
pub fn id_width(ids: impl IntoIterator<Item = i64>) -> usize {
    ids.into_iter()
        .map(|id| id.to_string().len())
        .max()
        .unwrap_or(1)
}

/// Writes one line on stderr (errors, notes). One that cannot be written (stderr closed
/// or full) is dropped, where `eprintln!` would panic.
pub fn tell(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(io::stderr().lock(), "{line}");
}

/// Records that item `id` was read. Reading is done by then: a read-only registry that
/// cannot take the record gets a note, not a failure after the content went out; any
/// other failure is one. A cache opened to read only takes no records, and says nothing.
pub fn record_access(cache: &cachet::Cache, id: i64) -> cachet::Result<()> {
    if cache.access() != cachet::registry::Access::ReadWrite {
        return Ok(());
    }
    match cache.record_access(id) {
        Err(e) if e.is_read_only() => {
            tell(format_args!(
                "cachet: note: the access was not recorded: {}",
                one_line(&e.into())
            ));
            Ok(())
        }
        done => done,
    }
}

/// Prints one line on stdout. A closed pipe (`cachet gc --yes | head -1`) is an error,
/// which `main` ends on quietly, where `println!` panics.
pub fn say(line: std::fmt::Arguments<'_>) -> io::Result<()> {
    writeln!(stdout(), "{line}")
}

/// An error and its causes on one line, outermost first, without repeating a cause that
/// the outer message already quotes.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    // Errors quote what they were given (arguments, names from the registry): that must
    // never drive the terminal. Lines stay lines: a filter's error puts a caret under it.
    let lines: Vec<_> = out.split('\n').map(escape_controls).collect();
    lines.join("\n")
}

/// Standard output, where all the CLI prints goes. Its write errors are marked as the
/// output's ([`OutputFailed`]), so that `main` can tell them from any other: it names the
/// output in the message (a full disk under it is no damage in the cache), and ends
/// quietly on a closed pipe (`cachet ls | head`) only when the pipe is this one.
pub struct Stdout(io::StdoutLock<'static>);

/// Standard output, locked for as long as it is held (see [`Stdout`]).
pub fn stdout() -> Stdout {
    Stdout(io::stdout().lock())
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf).map_err(OutputFailed::mark)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().map_err(OutputFailed::mark)
    }
}

/// A write to standard output that failed: the OS error as it is, marked (see [`Stdout`]).
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct OutputFailed(io::Error);

impl OutputFailed {
    /// `e`, of the same kind (a write that was interrupted is tried again), marked.
    fn mark(e: io::Error) -> io::Error {
        io::Error::new(e.kind(), OutputFailed(e))
    }
}

/// The kind of the failed write to standard output that `err` comes from, if it does.
pub fn output_failure(err: &anyhow::Error) -> Option<io::ErrorKind> {
    err.chain()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .find(|io| io.get_ref().is_some_and(|e| e.is::<OutputFailed>()))
        .map(io::Error::kind)
}

/// Runs `write` on standard output through a buffer, then flushes it: a failed write, the
/// last one too (which would otherwise be lost at exit), is an error.
pub fn to_stdout<T>(
    write: impl FnOnce(&mut io::BufWriter<Stdout>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut out = io::BufWriter::new(stdout());
    let done = write(&mut out)?;
    out.flush()?;
    Ok(done)
}

/// Writes one JSON value as a line.
pub fn json_line(out: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// A stale WRITE's status in lists.
pub const STALE_WRITE: &str = "WRITE(stale)";

/// The status as shown in lists: a stale WRITE says so.
pub fn status_text(item: &Item, now: DateTime<Utc>) -> String {
    if item.is_stale(now) {
        STALE_WRITE.to_string()
    } else {
        item.status.to_string()
    }
}

/// Width of the terminal on stdout, if it is one.
pub fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if !io::stdout().is_terminal() {
        return None;
    }
    crossterm::terminal::size()
        .ok()
        .map(|(w, _)| usize::from(w))
}

/// A plain text table: columns padded to their widest cell; the last column is cut to
/// fit `width` when given.
pub fn print_table(
    out: &mut impl Write,
    header: &[&str],
    rows: &[Vec<String>],
    width: Option<usize>,
) -> io::Result<()> {
    Table::new(header, width).print(out, rows)
}

/// A plain text table printed a block of rows at a time, as they are read (`ls` of a
/// million items starts at once, and `ls | head` does not wait for the rest): columns
/// are padded to their widest cell so far, and never narrow. A later block with a wider
/// cell moves its column along from there on; [`Table::at_least`] gives a column the
/// width it will need when that is known ahead.
pub struct Table {
    header: Vec<String>,
    widths: Vec<usize>,
    /// The terminal's width, the last column being cut to fit.
    width: Option<usize>,
    started: bool,
}

impl Table {
    pub fn new(header: &[&str], width: Option<usize>) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            widths: header.iter().map(|h| self::width(h)).collect(),
            width,
            started: false,
        }
    }

    /// Makes column `at` at least `width` wide.
    pub fn at_least(&mut self, at: usize, width: usize) {
        if let Some(w) = self.widths.get_mut(at) {
            *w = (*w).max(width);
        }
    }

    /// Prints `rows`, after the header if it is the first block.
    pub fn print(&mut self, out: &mut impl Write, rows: &[Vec<String>]) -> io::Result<()> {
        // Cells are data (labels, URIs): never let them drive the terminal.
        let rows: Vec<Vec<String>> = rows
            .iter()
            .map(|row| {
                row.iter()
                    .map(|c| escape_controls(c).replace('\t', " "))
                    .collect()
            })
            .collect();
        for row in &rows {
            for (w, cell) in self.widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        if !std::mem::replace(&mut self.started, true) {
            self.line(out, &self.header)?;
        }
        for row in &rows {
            self.line(out, row)?;
        }
        Ok(())
    }

    fn line(&self, out: &mut impl Write, cells: &[String]) -> io::Result<()> {
        let mut text = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, (cell, width)) in cells.iter().zip(&self.widths).enumerate() {
            text.push_str(cell);
            if i != last {
                // By hand: `format!`'s width stops at 65,535 and a cell may be longer.
                let pad = width.saturating_sub(self::width(cell)) + 2;
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        if let Some(width) = self.width {
            text = cut(&text, width);
        }
        writeln!(out, "{}", text.trim_end())
    }
}

/// The detail view of `cachet show`.
pub fn print_item_details(
    out: &mut impl Write,
    item: &Item,
    versions: &[Item],
    manifest: Option<&cachet::registry::ManifestInfo>,
) -> io::Result<()> {
    let now = Utc::now();
    let mut field =
        |name: &str, value: String| writeln!(out, "{name:<13}{}", escape_controls(&value));
    field("id", item.id.to_string())?;
    field("key", item.key.clone())?;
    field("version", item.version.to_string())?;
    field("uri", item.uri.clone())?;
    field("params", cachet::key::canonical_json(&item.params))?;
    field("status", status_text(item, now))?;
    if let Some(from) = item.trashed_from {
        field("trashed from", from.to_string())?;
    }
    if let Some(note) = &item.note {
        field("note", note.clone())?;
    }
    if let Some(label) = &item.label {
        field("label", label.clone())?;
    }
    if let Some(name) = &item.filename {
        field("filename", name.clone())?;
    }
    if let Some(size) = item.size {
        field("size", format!("{} ({size} bytes)", human_size(size)))?;
    }
    if let Some(sha) = &item.sha256 {
        field("sha256", sha.clone())?;
    }
    field("created", format_datetime(&item.created))?;
    field("updated", format_datetime(&item.updated))?;
    field(
        "accessed",
        match item.accessed {
            Some(t) => format!(
                "{} ({})",
                format_datetime(&t),
                count_of(item.access_count, "read", "reads")
            ),
            None => "never".to_string(),
        },
    )?;
    if item.pinned {
        field("pinned", "yes".to_string())?;
    }
    if let Some(m) = manifest {
        field(
            "manifest",
            format!(
                "{}, {} linking {} (cachet manifest show {})",
                m.manifest_type,
                count_of(m.entries, "entry", "entries"),
                human_size(m.bytes),
                item.id
            ),
        )?;
    }
    if let Some(lease) = &item.lease {
        field(
            "lease",
            format!(
                "pid {} on {} until {}{}",
                lease.pid,
                lease.host,
                format_datetime(&lease.expires),
                if item.is_stale(now) {
                    " (expired: stale)"
                } else {
                    ""
                }
            ),
        )?;
    }
    if !item.attrs.is_empty() {
        writeln!(out, "attributes")?;
        for (name, value) in &item.attrs {
            let line = format!("  {name} ({}) = {value}", value.kind());
            writeln!(out, "{}", escape_controls(&line))?;
        }
    }
    if versions.len() > 1 {
        writeln!(out, "versions")?;
        for v in versions {
            let mark = if v.id == item.id { "*" } else { " " };
            writeln!(
                out,
                " {mark}{:>4}  id {:<8} {:<13} {}",
                v.version,
                v.id,
                status_text(v, now),
                v.size.map(human_size).unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_skips_repeated_causes() {
        let err = anyhow::anyhow!("disk full").context("writing x");
        assert_eq!(one_line(&err), "writing x: disk full");
    }

    #[test]
    fn errors_quote_control_characters_escaped_and_keep_their_lines() {
        let err = anyhow::anyhow!("not found: item '\x1b]0;x\x07'\n  here\n  ^");
        assert_eq!(one_line(&err), "not found: item '^[]0;x^G'\n  here\n  ^");
    }

    /// A failed write is standard output's only when it was marked so: as it comes, or
    /// wrapped by the library or with context.
    #[test]
    fn only_standard_outputs_failures_are_taken_for_its() {
        let closed = || io::Error::from(io::ErrorKind::BrokenPipe);
        let marked = anyhow::Error::from(OutputFailed::mark(closed()));
        assert_eq!(output_failure(&marked), Some(io::ErrorKind::BrokenPipe));
        let wrapped = anyhow::Error::from(cachet::Error::Io {
            path: cachet::error::OUTPUT.into(),
            source: OutputFailed::mark(closed()),
        })
        .context("copying");
        assert_eq!(output_failure(&wrapped), Some(io::ErrorKind::BrokenPipe));
        let full = OutputFailed::mark(io::Error::from_raw_os_error(libc::ENOSPC));
        assert_eq!(full.to_string(), "No space left on device (os error 28)");
        assert_eq!(
            output_failure(&full.into()),
            Some(io::ErrorKind::StorageFull)
        );
        // Another stream's closed pipe (a socket, a FIFO given as a file).
        assert_eq!(output_failure(&closed().into()), None);
        let elsewhere = anyhow::Error::from(closed()).context("writing out.bin");
        assert_eq!(output_failure(&elsewhere), None);
    }
}
