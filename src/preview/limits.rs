//! Limits that bound every preview: how many entries, how many bytes, how long a line, and
//! a cancel flag. [`Metered`] enforces the byte budget and the cancel flag on a stream.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

/// Bounds for one preview. Every limit stops the preview early and reports it in
/// [`Preview::truncated`](super::Preview::truncated); hitting one is not an error.
#[derive(Debug, Clone)]
pub struct PreviewOpts {
    /// Most archive members listed.
    pub max_entries: usize,
    /// Most bytes of (decompressed) content kept for the content window.
    pub max_bytes: u64,
    /// Most lines (text, JSON, table rows, hex rows) in the content window.
    pub max_lines: usize,
    /// Longest line kept, in characters; longer lines are cut and marked.
    pub max_line_len: usize,
    /// Most decompressed bytes read in total, including bytes skipped while walking a tar
    /// stream towards a member or past a huge entry. Bounds the time a bomb can take.
    pub max_scan_bytes: u64,
    /// Raised by the caller when the result is no longer wanted; checked between entries
    /// and between blocks. A cancelled preview returns [`Error::Cancelled`](crate::Error).
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for PreviewOpts {
    fn default() -> Self {
        PreviewOpts {
            max_entries: 10_000,
            max_bytes: 1024 * 1024,
            max_lines: 1_000,
            max_line_len: 1_000,
            max_scan_bytes: 1024 * 1024 * 1024,
            cancel: None,
        }
    }
}

impl PreviewOpts {
    pub(crate) fn cancelled(&self) -> bool {
        is_cancelled(self.cancel.as_deref())
    }
}

pub(crate) fn is_cancelled(cancel: Option<&AtomicBool>) -> bool {
    cancel.is_some_and(|c| c.load(Ordering::Relaxed))
}

/// Which limit stopped a preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "limit", content = "value", rename_all = "snake_case")]
pub enum Limit {
    /// The listing reached [`PreviewOpts::max_entries`].
    MaxEntries(usize),
    /// The content window reached [`PreviewOpts::max_bytes`].
    MaxBytes(u64),
    /// The content window reached [`PreviewOpts::max_lines`].
    MaxLines(usize),
    /// Reading stopped after [`PreviewOpts::max_scan_bytes`] decompressed bytes.
    MaxScanBytes(u64),
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::MaxEntries(n) => write!(f, "stopped after {n} entries (max_entries)"),
            Limit::MaxBytes(n) => write!(f, "stopped after {n} bytes (max_bytes)"),
            Limit::MaxLines(n) => write!(f, "stopped after {n} lines (max_lines)"),
            Limit::MaxScanBytes(n) => {
                write!(
                    f,
                    "stopped after reading {n} decompressed bytes (max_scan_bytes)"
                )
            }
        }
    }
}

/// Why a [`Metered`] reader refused to read further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    Budget,
    Cancelled,
}

/// Shared view of a [`Metered`] reader's state, kept by the code that drives it so that an
/// I/O error coming out of a parser can be told apart from a limit or a cancel.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meter {
    stop: Rc<Cell<Option<Stop>>>,
    count: Rc<Cell<u64>>,
}

impl Meter {
    pub(crate) fn stopped(&self) -> Option<Stop> {
        self.stop.get()
    }
}

/// A reader that counts the bytes coming out of `inner`, refuses to go past `limit`, and
/// checks the cancel flag on every read (so between blocks of every decoder above it).
pub(crate) struct Metered<R> {
    inner: R,
    limit: u64,
    cancel: Option<Arc<AtomicBool>>,
    meter: Meter,
}

impl<R: Read> Metered<R> {
    pub(crate) fn new(inner: R, limit: u64, cancel: Option<Arc<AtomicBool>>) -> (Self, Meter) {
        let meter = Meter::default();
        let me = Metered {
            inner,
            limit,
            cancel,
            meter: meter.clone(),
        };
        (me, meter)
    }
}

impl<R: Read> Read for Metered<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if is_cancelled(self.cancel.as_deref()) {
            self.meter.stop.set(Some(Stop::Cancelled));
            // Not `Interrupted`: std retries those, which would spin on a raised flag.
            return Err(io::Error::other("cancelled"));
        }
        let used = self.meter.count.get();
        let left = self.limit.saturating_sub(used);
        if left == 0 {
            self.meter.stop.set(Some(Stop::Budget));
            return Err(io::Error::other("read limit reached"));
        }
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let n = self.inner.read(&mut buf[..want])?;
        self.meter.count.set(used.saturating_add(n as u64));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metered_stops_at_limit_and_says_why() {
        let data = [7u8; 100];
        let (mut r, meter) = Metered::new(&data[..], 30, None);
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(out.len(), 30);
        assert_eq!(meter.stopped(), Some(Stop::Budget));
        assert_eq!(err.kind(), io::ErrorKind::Other);
    }

    #[test]
    fn metered_honours_cancel() {
        let flag = Arc::new(AtomicBool::new(true));
        let data = [7u8; 100];
        let (mut r, meter) = Metered::new(&data[..], 1000, Some(flag));
        let mut buf = [0u8; 10];
        assert!(r.read(&mut buf).is_err());
        assert_eq!(meter.stopped(), Some(Stop::Cancelled));
    }
}
