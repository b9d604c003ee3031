//! Zip archives read from their central directory, one record at a time, so listing the
//! first screen of a zip with a million members touches a few kilobytes. Member data is
//! read only for the member asked for, through a streaming decoder that checks size and
//! CRC-32 at the end.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

/// End-of-central-directory record plus the longest comment.
const EOCD_SEARCH: u64 = 22 + 65_535;

/// Memory the LZMA decoder may use (its dictionary).
const LZMA_MEMLIMIT: u64 = 256 * 1024 * 1024;

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        u64::from_le_bytes(a)
    })
}

/// Where the central directory is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Directory {
    /// File offset of the first central record.
    start: u64,
    size: u64,
    /// Number of members the end record claims.
    pub entries: u64,
    /// Bytes prepended to the archive (self-extractors); added to every stored offset.
    shift: u64,
}

/// Finds the end-of-central-directory record (and its zip64 form) at the end of `file`.
pub(crate) fn directory(file: &mut File) -> io::Result<Directory> {
    let len = file.seek(SeekFrom::End(0))?;
    let tail_len = len.min(EOCD_SEARCH);
    let tail_start = len - tail_len;
    file.seek(SeekFrom::Start(tail_start))?;
    let mut tail = Vec::new();
    file.take(tail_len).read_to_end(&mut tail)?;
    let pos = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..].starts_with(b"PK\x05\x06"))
        .ok_or_else(|| {
            invalid("no zip end-of-central-directory record (truncated or not a zip)")
        })?;
    let eocd = &tail[pos..];
    let eocd_at = tail_start + pos as u64;
    if u16_at(eocd, 4) != 0 || u16_at(eocd, 6) != 0 {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "multi-disk (spanned) zip archives",
        ));
    }
    let mut entries = u64::from(u16_at(eocd, 10));
    let mut size = u64::from(u32_at(eocd, 12));
    let mut offset = u64::from(u32_at(eocd, 16));
    let mut dir_end = eocd_at;
    let zip64 = entries == 0xffff || size == 0xffff_ffff || offset == 0xffff_ffff;
    if zip64 && pos >= 20 && tail[pos - 20..].starts_with(b"PK\x06\x07") {
        let rec_at = u64_at(&tail, pos - 20 + 8);
        let mut rec = [0u8; 56];
        // The record normally sits right before the locator; trust that over its offset
        // field when the archive has bytes prepended.
        let guess = eocd_at.saturating_sub(20 + 56);
        for at in [rec_at, guess] {
            file.seek(SeekFrom::Start(at))?;
            if file.read_exact(&mut rec).is_ok() && rec.starts_with(b"PK\x06\x06") {
                entries = u64_at(&rec, 32);
                size = u64_at(&rec, 40);
                offset = u64_at(&rec, 48);
                dir_end = at;
                break;
            }
        }
    }
    let start = dir_end
        .checked_sub(size)
        .ok_or_else(|| invalid("zip central directory size points before the file start"))?;
    let shift = start.saturating_sub(offset);
    Ok(Directory {
        start,
        size,
        entries,
        shift,
    })
}

/// One central directory record.
#[derive(Debug, Clone)]
pub(crate) struct ZipEntry {
    pub name: Vec<u8>,
    pub flags: u16,
    pub method: u16,
    pub crc: u32,
    pub compressed: u64,
    pub size: u64,
    local_offset: u64,
    pub mtime: Option<i64>,
    made_by_unix: bool,
    external: u32,
}

impl ZipEntry {
    pub fn encrypted(&self) -> bool {
        self.flags & 0x1 != 0 || self.method == 99
    }

    fn unix_type(&self) -> Option<u32> {
        self.made_by_unix
            .then_some((self.external >> 16) & 0o170_000)
    }

    pub fn is_dir(&self) -> bool {
        self.name.ends_with(b"/")
            || self.unix_type() == Some(0o040_000)
            || (!self.made_by_unix && self.external & 0x10 != 0)
    }

    pub fn is_symlink(&self) -> bool {
        self.unix_type() == Some(0o120_000)
    }
}

/// Walks the central directory record by record.
pub(crate) struct Records {
    r: io::Take<BufReader<File>>,
    left: u64,
}

impl Records {
    pub(crate) fn new(mut file: File, dir: &Directory) -> io::Result<Records> {
        file.seek(SeekFrom::Start(dir.start))?;
        Ok(Records {
            r: BufReader::with_capacity(64 * 1024, file).take(dir.size),
            left: dir.entries,
        })
    }

    /// The next record; `None` after the count the end record gave.
    pub(crate) fn next_record(&mut self) -> io::Result<Option<ZipEntry>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut fixed = [0u8; 46];
        self.r.read_exact(&mut fixed).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => invalid("zip central directory ends early"),
            _ => e,
        })?;
        if !fixed.starts_with(b"PK\x01\x02") {
            return Err(invalid(
                "corrupt zip central directory record (bad signature)",
            ));
        }
        let name_len = usize::from(u16_at(&fixed, 28));
        let extra_len = usize::from(u16_at(&fixed, 30));
        let comment_len = u64::from(u16_at(&fixed, 32));
        let mut name = vec![0u8; name_len];
        let mut extra = vec![0u8; extra_len];
        self.r.read_exact(&mut name)?;
        self.r.read_exact(&mut extra)?;
        io::copy(&mut (&mut self.r).take(comment_len), &mut io::sink())?;
        let mut entry = ZipEntry {
            name,
            flags: u16_at(&fixed, 8),
            method: u16_at(&fixed, 10),
            crc: u32_at(&fixed, 16),
            compressed: u64::from(u32_at(&fixed, 20)),
            size: u64::from(u32_at(&fixed, 24)),
            local_offset: u64::from(u32_at(&fixed, 42)),
            mtime: dos_time(u16_at(&fixed, 14), u16_at(&fixed, 12)),
            made_by_unix: fixed[5] == 3,
            external: u32_at(&fixed, 38),
        };
        apply_extra(&mut entry, &extra);
        Ok(Some(entry))
    }
}

/// Applies the zip64 sizes/offset and the extended timestamp from the extra field.
fn apply_extra(e: &mut ZipEntry, mut extra: &[u8]) {
    while extra.len() >= 4 {
        let id = u16_at(extra, 0);
        let len = usize::from(u16_at(extra, 2));
        let Some(data) = extra.get(4..4 + len) else {
            return;
        };
        match id {
            0x0001 => {
                let mut at = 0;
                for field in [&mut e.size, &mut e.compressed, &mut e.local_offset] {
                    if *field == 0xffff_ffff && at + 8 <= data.len() {
                        *field = u64_at(data, at);
                        at += 8;
                    }
                }
            }
            0x5455 if !data.is_empty() && data[0] & 1 != 0 && data.len() >= 5 => {
                e.mtime = Some(i64::from(u32_at(data, 1) as i32));
            }
            _ => {}
        }
        extra = &extra[4 + len..];
    }
}

/// MS-DOS date and time (local time, no zone: shown as if UTC) as Unix seconds.
fn dos_time(date: u16, time: u16) -> Option<i64> {
    let year = 1980 + i32::from(date >> 9);
    let month = u32::from((date >> 5) & 0xf);
    let day = u32::from(date & 0x1f);
    let (h, m, s) = (
        u32::from(time >> 11),
        u32::from((time >> 5) & 0x3f),
        u32::from(time & 0x1f) * 2,
    );
    let d = chrono::NaiveDate::from_ymd_opt(year, month, day)?;
    Some(d.and_hms_opt(h, m, s.min(59))?.and_utc().timestamp())
}

/// Opens a member's data as a decompressing reader that checks its size and CRC-32.
pub(crate) fn open_member(
    mut file: File,
    dir: &Directory,
    e: &ZipEntry,
) -> io::Result<Box<dyn Read>> {
    if e.encrypted() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "member is encrypted (passwords are not supported)",
        ));
    }
    let at = e
        .local_offset
        .checked_add(dir.shift)
        .ok_or_else(|| invalid("zip local header offset overflows"))?;
    file.seek(SeekFrom::Start(at))?;
    let mut local = [0u8; 30];
    file.read_exact(&mut local)
        .map_err(|_| invalid("zip local header lies past the end of the file"))?;
    if !local.starts_with(b"PK\x03\x04") {
        return Err(invalid(
            "corrupt zip: no local header where the directory points",
        ));
    }
    let skip = i64::from(u16_at(&local, 26)) + i64::from(u16_at(&local, 28));
    file.seek(SeekFrom::Current(skip))?;
    let raw = BufReader::with_capacity(64 * 1024, file).take(e.compressed);
    let data: Box<dyn Read> = match e.method {
        0 => Box::new(raw),
        8 => Box::new(flate2::read::DeflateDecoder::new(raw)),
        12 => Box::new(bzip2::read::BzDecoder::new(raw)),
        14 => lzma(raw, e)?,
        93 => Box::new(zstd::stream::read::Decoder::new(raw)?),
        95 => Box::new(liblzma::read::XzDecoder::new_multi_decoder(raw)),
        m => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("zip compression method {m}"),
            ));
        }
    };
    Ok(Box::new(Checked {
        inner: data,
        want_size: e.size,
        want_crc: e.crc,
        got: 0,
        crc: crc32fast::Hasher::new(),
    }))
}

/// Zip's LZMA: a 4-byte version/size header and the 5 property bytes, then raw LZMA. We
/// rebuild the `.lzma` ("alone") header the liblzma decoder wants in front of it.
fn lzma(mut raw: io::Take<BufReader<File>>, e: &ZipEntry) -> io::Result<Box<dyn Read>> {
    let mut head = [0u8; 9];
    raw.read_exact(&mut head)
        .map_err(|_| invalid("zip LZMA member too short"))?;
    if u16_at(&head, 2) != 5 {
        return Err(invalid("zip LZMA member has unexpected property size"));
    }
    let mut alone = head[4..9].to_vec();
    // Bit 1: the stream ends with an end marker, so its size is given as unknown.
    let size = if e.flags & 0x2 != 0 { u64::MAX } else { e.size };
    alone.extend_from_slice(&size.to_le_bytes());
    let stream =
        liblzma::stream::Stream::new_lzma_decoder(LZMA_MEMLIMIT).map_err(io::Error::other)?;
    let input = io::Cursor::new(alone).chain(raw);
    Ok(Box::new(liblzma::read::XzDecoder::new_stream(
        input, stream,
    )))
}

/// Checks that a member decompresses to exactly the size and CRC the directory gives.
struct Checked {
    inner: Box<dyn Read>,
    want_size: u64,
    want_crc: u32,
    got: u64,
    crc: crc32fast::Hasher,
}

impl Read for Checked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.got = self.got.saturating_add(n as u64);
        if self.got > self.want_size {
            return Err(invalid(format!(
                "member decompresses past its declared size of {} bytes",
                self.want_size
            )));
        }
        self.crc.update(&buf[..n]);
        if n == 0 {
            if self.got != self.want_size {
                return Err(invalid(format!(
                    "member data ends after {} of {} bytes",
                    self.got, self.want_size
                )));
            }
            let crc = self.crc.clone().finalize();
            if crc != self.want_crc {
                return Err(invalid(format!(
                    "CRC-32 mismatch: data has {crc:08x}, directory says {:08x}",
                    self.want_crc
                )));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_times() {
        // 2024-03-05 10:20:30
        let date = ((2024 - 1980) << 9) | (3 << 5) | 5;
        let time = (10 << 11) | (20 << 5) | 15;
        assert_eq!(dos_time(date, time), Some(1_709_634_030));
        assert_eq!(dos_time(0, 0), None); // month 0
    }

    #[test]
    fn extra_fields_never_panic() {
        let mut e = ZipEntry {
            name: Vec::new(),
            flags: 0,
            method: 0,
            crc: 0,
            compressed: 0xffff_ffff,
            size: 0xffff_ffff,
            local_offset: 0,
            mtime: None,
            made_by_unix: false,
            external: 0,
        };
        apply_extra(&mut e, &[1, 0, 200, 0, 1, 2]);
        apply_extra(&mut e, &[1, 0, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(e.size, 1);
        assert_eq!(e.compressed, 0xffff_ffff);
        apply_extra(&mut e, &[0x55, 0x54, 1, 0, 1]);
        assert_eq!(e.mtime, None);
    }
}
