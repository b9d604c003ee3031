//! Format detection from magic bytes, with the file name only as a hint, and the chain of
//! streaming decoders that peels compression layers off a reader.

use std::fmt;
use std::io::{self, Cursor, Read};

use serde::Serialize;

/// One layer of a stored item: a compression or an archive container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    Gzip,
    Bzip2,
    Xz,
    Zstd,
    Zip,
    Tar,
}

impl Layer {
    /// The layer's short name, as used in [`Format`]'s display (`gzip`, `tar`, …).
    pub fn name(self) -> &'static str {
        match self {
            Layer::Gzip => "gzip",
            Layer::Bzip2 => "bzip2",
            Layer::Xz => "xz",
            Layer::Zstd => "zstd",
            Layer::Zip => "zip",
            Layer::Tar => "tar",
        }
    }

    /// A single-stream compression (as opposed to an archive container).
    pub fn is_compression(self) -> bool {
        !matches!(self, Layer::Zip | Layer::Tar)
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The layers of an item from the outside in: `[gzip, tar]` for a `.tar.gz`; empty for
/// plain content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Format {
    pub layers: Vec<Layer>,
}

impl Format {
    /// The innermost layer is an archive whose members can be listed.
    pub fn is_archive(&self) -> bool {
        matches!(self.layers.last(), Some(Layer::Tar | Layer::Zip))
    }

    /// No compression and no archive: the bytes are the content.
    pub fn is_plain(&self) -> bool {
        self.layers.is_empty()
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.layers.is_empty() {
            return f.write_str("plain");
        }
        for (i, layer) in self.layers.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            f.write_str(layer.name())?;
        }
        Ok(())
    }
}

/// How many bytes of a stream's head [`detect`] wants (a tar header block).
pub(crate) const HEAD_LEN: usize = 512;

/// Most layers peeled before we call it a decompression loop.
const MAX_LAYERS: usize = 8;

/// Memory the xz decoder may use (its dictionary); larger streams are refused, not obeyed.
const XZ_MEMLIMIT: u64 = 256 * 1024 * 1024;

/// The layer whose magic bytes start `head`, if any.
pub(crate) fn detect(head: &[u8]) -> Option<Layer> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(Layer::Gzip)
    } else if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
        Some(Layer::Bzip2)
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some(Layer::Xz)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Layer::Zstd)
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some(Layer::Zip)
    } else if is_tar_header(head) {
        Some(Layer::Tar)
    } else {
        None
    }
}

/// A tar header: the `ustar` magic at 257, or (old v7 tar) a header whose checksum holds.
fn is_tar_header(head: &[u8]) -> bool {
    let Some(block) = head.get(..512) else {
        return false;
    };
    if &block[257..262] == b"ustar" {
        return true;
    }
    if block.iter().all(|&b| b == 0) {
        return false;
    }
    super::tar::checksum_ok(block)
}

/// A head that is all zero bytes: an empty tar archive, if the name says tar.
pub(crate) fn is_zero_block(head: &[u8]) -> bool {
    head.len() >= 512 && head[..512].iter().all(|&b| b == 0)
}

/// The layers a file name suggests (`x.tar.gz` → `[gzip, tar]`), outside in.
pub(crate) fn hint_layers(name: &str) -> Vec<Layer> {
    let lower = name.to_ascii_lowercase();
    let mut rest = lower.as_str();
    // Suffixes read from the end name layers from the outside in.
    let mut layers_found = Vec::new();
    while let Some((stem, ext)) = rest.rsplit_once('.') {
        let layers: &[Layer] = match ext {
            "gz" | "gzip" => &[Layer::Gzip],
            "bz2" | "bzip2" => &[Layer::Bzip2],
            "xz" => &[Layer::Xz],
            "zst" | "zstd" => &[Layer::Zstd],
            "zip" | "jar" | "whl" | "apk" | "xpi" => &[Layer::Zip],
            "tar" => &[Layer::Tar],
            "tgz" => &[Layer::Gzip, Layer::Tar],
            "tbz" | "tbz2" => &[Layer::Bzip2, Layer::Tar],
            "txz" => &[Layer::Xz, Layer::Tar],
            "tzst" => &[Layer::Zstd, Layer::Tar],
            _ => break,
        };
        layers_found.extend_from_slice(layers);
        rest = stem;
        if matches!(
            ext,
            "zip" | "jar" | "whl" | "apk" | "xpi" | "tar" | "tgz" | "tbz"
        ) || matches!(ext, "tbz2" | "txz" | "tzst")
        {
            break;
        }
    }
    layers_found
}

/// The name of the content once the compression suffixes are gone (`data.csv.gz` →
/// `data.csv`), so the content renderer can use its extension as a hint.
pub(crate) fn content_name(name: &str) -> &str {
    let mut rest = name;
    while let Some((stem, ext)) = rest.rsplit_once('.') {
        match ext.to_ascii_lowercase().as_str() {
            "gz" | "gzip" | "bz2" | "bzip2" | "xz" | "zst" | "zstd" => rest = stem,
            _ => break,
        }
    }
    rest
}

/// Reads up to `n` bytes, fewer only at end of stream.
pub(crate) fn read_head(r: &mut dyn Read, n: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// A streaming decoder for one compression layer.
pub(crate) fn decoder<'a>(layer: Layer, r: Box<dyn Read + 'a>) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match layer {
        Layer::Gzip => Box::new(flate2::read::MultiGzDecoder::new(r)),
        Layer::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(r)),
        Layer::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                XZ_MEMLIMIT,
                liblzma::stream::CONCATENATED,
            )
            .map_err(io::Error::other)?;
            Box::new(liblzma::read::XzDecoder::new_stream(r, stream))
        }
        Layer::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
        Layer::Zip | Layer::Tar => r,
    })
}

/// A stream with its compression layers peeled off.
pub(crate) struct Peeled<'a> {
    /// Layers found, outside in; ends with `Tar` or `Zip` when the content is an archive.
    pub layers: Vec<Layer>,
    /// The innermost stream, positioned at its start.
    pub reader: Box<dyn Read + 'a>,
}

/// A stream that failed to decode while its head was peeked at.
pub(crate) struct PeelError {
    /// Layers recognised before the failure.
    pub layers: Vec<Layer>,
    /// Bytes of the innermost layer read before the failure.
    pub partial: Vec<u8>,
    pub error: io::Error,
}

/// Peels every compression layer off `reader` by peeking into each decompressed head.
pub(crate) fn peel<'a>(
    mut reader: Box<dyn Read + 'a>,
    tar_hint: bool,
) -> Result<Peeled<'a>, PeelError> {
    let mut layers = Vec::new();
    loop {
        let mut head = Vec::with_capacity(HEAD_LEN);
        if let Err(error) = (&mut reader).take(HEAD_LEN as u64).read_to_end(&mut head) {
            return Err(PeelError {
                layers,
                partial: head,
                error,
            });
        }
        let found =
            detect(&head).or_else(|| (tar_hint && is_zero_block(&head)).then_some(Layer::Tar));
        let reader_again: Box<dyn Read + 'a> = Box::new(Cursor::new(head).chain(reader));
        match found {
            Some(layer) if layer.is_compression() && layers.len() < MAX_LAYERS => {
                layers.push(layer);
                reader = match decoder(layer, reader_again) {
                    Ok(r) => r,
                    Err(error) => {
                        return Err(PeelError {
                            layers,
                            partial: Vec::new(),
                            error,
                        });
                    }
                };
            }
            Some(layer) if !layer.is_compression() => {
                layers.push(layer);
                return Ok(Peeled {
                    layers,
                    reader: reader_again,
                });
            }
            _ => {
                return Ok(Peeled {
                    layers,
                    reader: reader_again,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_read_outside_in() {
        assert_eq!(hint_layers("a.tar.gz"), vec![Layer::Gzip, Layer::Tar]);
        assert_eq!(hint_layers("a.TGZ"), vec![Layer::Gzip, Layer::Tar]);
        assert_eq!(hint_layers("a.csv.zst"), vec![Layer::Zstd]);
        assert_eq!(
            hint_layers("a.tar.gz.xz"),
            vec![Layer::Xz, Layer::Gzip, Layer::Tar]
        );
        assert_eq!(hint_layers("x.zip"), vec![Layer::Zip]);
        assert_eq!(hint_layers("backup.zip.tar"), vec![Layer::Tar]);
        assert!(hint_layers("README").is_empty());
        assert!(hint_layers("data.csv").is_empty());
    }

    #[test]
    fn content_name_strips_compression_only() {
        assert_eq!(content_name("data.csv.gz"), "data.csv");
        assert_eq!(content_name("data.json.xz.zst"), "data.json");
        assert_eq!(content_name("a.tar"), "a.tar");
    }

    #[test]
    fn detect_magic() {
        assert_eq!(detect(&[0x1f, 0x8b, 8]), Some(Layer::Gzip));
        assert_eq!(detect(b"BZh9"), Some(Layer::Bzip2));
        assert_eq!(detect(b"BZhx"), None);
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Some(Layer::Zstd));
        assert_eq!(detect(b"PK\x05\x06"), Some(Layer::Zip));
        assert_eq!(detect(b"hello"), None);
        assert_eq!(detect(&[]), None);
        assert_eq!(detect(&[0u8; 512]), None);
    }
}
