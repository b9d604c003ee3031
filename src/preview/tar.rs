//! A small streaming tar reader: headers (ustar, GNU long names, pax) and entry data, one
//! block at a time. Our own rather than the `tar` crate's so that long-name and pax
//! records have a size cap, a bad header never panics, and nothing is ever written.

use std::io::{self, Read};

/// Longest GNU long-name or pax record we accept; real ones are a few hundred bytes.
const META_MAX: u64 = 1024 * 1024;

const BLOCK: u64 = 512;

/// Buffer for skipping entry data.
const SKIP_BUF: usize = 256 * 1024;

/// One entry's header, with long names and pax overrides applied.
#[derive(Debug, Clone)]
pub(crate) struct TarEntry {
    pub path: Vec<u8>,
    pub link: Option<Vec<u8>>,
    pub size: u64,
    pub mtime: Option<i64>,
    pub typeflag: u8,
}

/// Reads a tar stream entry by entry.
pub(crate) struct TarStream<R> {
    r: R,
    /// Data bytes of the current entry not yet read.
    data_left: u64,
    /// Padding after the current entry's data.
    pad_left: u64,
    /// Stream offset, for error messages.
    offset: u64,
    done: bool,
    skip_buf: Vec<u8>,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl<R: Read> TarStream<R> {
    pub(crate) fn new(r: R) -> Self {
        TarStream {
            r,
            data_left: 0,
            pad_left: 0,
            offset: 0,
            done: false,
            skip_buf: Vec::new(),
        }
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        // Skipping is most of the work of listing a compressed tar: read in large blocks
        // (io::copy's 8 KiB would cost a decoder call per 8 KiB).
        let mut copied = 0u64;
        if n > 0 && self.skip_buf.is_empty() {
            self.skip_buf = vec![0u8; SKIP_BUF];
        }
        while copied < n {
            let want = usize::try_from(n - copied)
                .unwrap_or(usize::MAX)
                .min(self.skip_buf.len());
            let got = match self.r.read(&mut self.skip_buf[..want]) {
                Ok(0) => break,
                Ok(got) => got,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            copied += got as u64;
            self.offset = self.offset.saturating_add(got as u64);
        }
        if copied < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "tar stream ends inside an entry's data (at byte {})",
                    self.offset
                ),
            ));
        }
        Ok(())
    }

    /// Reads a header block; `None` at a clean end of stream.
    fn block(&mut self) -> io::Result<Option<[u8; 512]>> {
        let mut block = [0u8; 512];
        let mut got = 0;
        while got < block.len() {
            let n = self.r.read(&mut block[got..])?;
            if n == 0 {
                break;
            }
            got += n;
        }
        self.offset = self.offset.saturating_add(got as u64);
        match got {
            0 => Ok(None),
            512 => Ok(Some(block)),
            _ => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("tar stream ends inside a header (at byte {})", self.offset),
            )),
        }
    }

    /// Reads the data of a metadata entry (long name, pax), capped at [`META_MAX`].
    fn meta(&mut self, size: u64) -> io::Result<Vec<u8>> {
        if size > META_MAX {
            return Err(invalid(format!(
                "tar metadata record of {size} bytes at byte {} (limit {META_MAX})",
                self.offset
            )));
        }
        let mut data = Vec::new();
        (&mut self.r).take(size).read_to_end(&mut data)?;
        self.offset = self.offset.saturating_add(data.len() as u64);
        if (data.len() as u64) < size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "tar stream ends inside a metadata record",
            ));
        }
        self.skip(padding(size))?;
        Ok(data)
    }

    /// The next entry, skipping whatever is left of the current one.
    pub(crate) fn next_entry(&mut self) -> io::Result<Option<TarEntry>> {
        if self.done {
            return Ok(None);
        }
        let left = self.data_left.saturating_add(self.pad_left);
        self.data_left = 0;
        self.pad_left = 0;
        self.skip(left)?;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax = Pax::default();
        loop {
            let header_at = self.offset;
            let Some(block) = self.block()? else {
                // No end-of-archive blocks: accept, as GNU tar does (with a warning).
                self.done = true;
                return Ok(None);
            };
            if block.iter().all(|&b| b == 0) {
                self.done = true;
                return Ok(None);
            }
            if !checksum_ok(&block) {
                return Err(invalid(format!(
                    "bad tar header checksum at byte {header_at}"
                )));
            }
            let size = numeric(&block[124..136]).ok_or_else(|| {
                invalid(format!("bad size field in tar header at byte {header_at}"))
            })?;
            let typeflag = block[156];
            match typeflag {
                b'L' => long_name = Some(trim_nul(&self.meta(size)?).to_vec()),
                b'K' => long_link = Some(trim_nul(&self.meta(size)?).to_vec()),
                b'x' => pax.parse(&self.meta(size)?),
                b'g' => {
                    self.meta(size)?;
                }
                _ => {
                    let path = pax
                        .path
                        .take()
                        .or(long_name)
                        .unwrap_or_else(|| header_name(&block));
                    let link = pax
                        .linkpath
                        .take()
                        .or(long_link)
                        .or_else(|| Some(trim_nul(&block[157..257]).to_vec()))
                        .filter(|l| !l.is_empty());
                    let size = pax.size.unwrap_or(size);
                    let mtime = pax
                        .mtime
                        .or_else(|| numeric(&block[136..148]).and_then(|m| i64::try_from(m).ok()));
                    // Links, directories and devices carry no data whatever their size says.
                    let data = match typeflag {
                        b'1' | b'2' | b'3' | b'4' | b'5' | b'6' => 0,
                        _ => size,
                    };
                    self.data_left = data;
                    self.pad_left = padding(data);
                    return Ok(Some(TarEntry {
                        path,
                        link,
                        size,
                        mtime,
                        typeflag,
                    }));
                }
            }
        }
    }

    /// Reads the current entry's data.
    pub(crate) fn read_data(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.data_left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.data_left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.r.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "tar stream ends inside an entry's data ({} bytes missing)",
                    self.data_left
                ),
            ));
        }
        self.data_left -= n as u64;
        self.offset = self.offset.saturating_add(n as u64);
        Ok(n)
    }
}

/// The current entry's data as a reader.
pub(crate) struct EntryData<'a, R>(pub &'a mut TarStream<R>);

impl<R: Read> Read for EntryData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_data(buf)
    }
}

fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

fn trim_nul(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

fn header_name(block: &[u8; 512]) -> Vec<u8> {
    let name = trim_nul(&block[0..100]);
    // POSIX ustar keeps a path prefix at 345; GNU ("ustar  ") uses that space for times.
    if &block[257..263] == b"ustar\0" {
        let prefix = trim_nul(&block[345..500]);
        if !prefix.is_empty() {
            let mut full = prefix.to_vec();
            full.push(b'/');
            full.extend_from_slice(name);
            return full;
        }
    }
    name.to_vec()
}

/// A numeric header field: octal text, or GNU base-256 when the high bit is set.
fn numeric(field: &[u8]) -> Option<u64> {
    let first = *field.first()?;
    if first & 0x80 != 0 {
        if first == 0xff {
            return None; // negative
        }
        let mut v: u64 = u64::from(first & 0x7f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let text = trim_nul(field);
    let text = std::str::from_utf8(text).ok()?.trim_matches(' ');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

/// The header's checksum field matches its bytes (unsigned, or signed as some old tars).
pub(crate) fn checksum_ok(block: &[u8]) -> bool {
    let Some(block) = block.get(..512) else {
        return false;
    };
    let Some(want) = numeric(&block[148..156]) else {
        return false;
    };
    let mut unsigned: u64 = 0;
    let mut signed: i64 = 0;
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    want == unsigned || i64::try_from(want).is_ok_and(|w| w == signed)
}

#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
    mtime: Option<i64>,
}

impl Pax {
    /// Parses `"<len> <key>=<value>\n"` records; malformed records end the parse.
    fn parse(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let Some(space) = data.iter().position(|&b| b == b' ') else {
                return;
            };
            let Some(len) = std::str::from_utf8(&data[..space])
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
            else {
                return;
            };
            let Some(record) = data.get(space + 1..len.max(space + 1)) else {
                return;
            };
            data = &data[len.max(space + 1)..];
            let record = record.strip_suffix(b"\n").unwrap_or(record);
            let Some(eq) = record.iter().position(|&b| b == b'=') else {
                continue;
            };
            let (key, value) = (&record[..eq], &record[eq + 1..]);
            match key {
                b"path" => self.path = Some(value.to_vec()),
                b"linkpath" => self.linkpath = Some(value.to_vec()),
                b"size" => self.size = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok()),
                b"mtime" => {
                    self.mtime = std::str::from_utf8(value)
                        .ok()
                        .and_then(|s| s.split('.').next())
                        .and_then(|s| s.parse().ok())
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_fields() {
        assert_eq!(numeric(b"0000644\0"), Some(0o644));
        assert_eq!(numeric(b"   12 \0"), Some(0o12));
        assert_eq!(numeric(b"\0\0\0\0"), Some(0));
        assert_eq!(numeric(b"9999"), None);
        assert_eq!(numeric(&[0x80, 0, 0, 0, 0, 0, 0, 1, 0]), Some(256));
        assert_eq!(
            numeric(&[0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            None
        );
        assert_eq!(numeric(&[0xff; 12]), None);
    }

    #[test]
    fn pax_records() {
        let mut pax = Pax::default();
        pax.parse(b"20 path=a/long/name\n22 mtime=1700000000.5\n12 size=999\n");
        assert_eq!(pax.path.as_deref(), Some(&b"a/long/name"[..]));
        assert_eq!(pax.mtime, Some(1_700_000_000));
        assert_eq!(pax.size, Some(999));
        let mut bad = Pax::default();
        bad.parse(b"999999 path=x\n");
        bad.parse(b"x");
        bad.parse(b"3 \n");
        assert!(bad.path.is_none());
    }
}
