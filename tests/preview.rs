//! Preview engine, through the public API only, on archives generated here: every format,
//! nesting, empty inputs, bombs, hostile names, truncated and corrupt data.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use cachet::Error;
use cachet::preview::{
    self, Body, Content, Layer, Limit, Member, MemberKind, Preview, PreviewOpts,
};
use tempfile::TempDir;

// ---------------------------------------------------------------- builders

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn bz2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zst(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).unwrap()
}

const MTIME: u64 = 1_700_000_000;

/// A tar of regular files.
fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(MTIME);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A tar header with a raw name the tar crate would refuse to set.
fn raw_header(name: &[u8], kind: tar::EntryType, size: u64, link: &[u8]) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o777);
    h.set_mtime(MTIME);
    h.set_cksum();
    h
}

fn zip_of(files: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let when = zip::DateTime::from_date_and_time(2024, 3, 5, 10, 20, 30).unwrap();
    for (name, data) in files {
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(when);
        if name.ends_with('/') {
            w.add_directory(*name, o).unwrap();
        } else {
            w.start_file(*name, o).unwrap();
            w.write_all(data).unwrap();
        }
    }
    w.finish().unwrap().into_inner()
}

/// A zip member written by hand, for what zip writers refuse to produce.
struct Raw {
    name: Vec<u8>,
    method: u16,
    flags: u16,
    stored: Vec<u8>,
    size: u32,
    crc: u32,
    unix_mode: Option<u32>,
}

impl Raw {
    fn stored(name: &[u8], data: &[u8]) -> Raw {
        Raw {
            name: name.to_vec(),
            method: 0,
            flags: 0,
            stored: data.to_vec(),
            size: data.len() as u32,
            crc: crc32fast::hash(data),
            unix_mode: None,
        }
    }
}

/// Local headers, central directory and end record. `prefix` is prepended without
/// adjusting offsets, like a self-extracting stub.
fn raw_zip(entries: &[Raw], prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = out.len() as u32;
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&e.flags.to_le_bytes());
        out.extend_from_slice(&e.method.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // time
        out.extend_from_slice(&0x21u16.to_le_bytes()); // 1980-01-01
        out.extend_from_slice(&e.crc.to_le_bytes());
        out.extend_from_slice(&(e.stored.len() as u32).to_le_bytes());
        out.extend_from_slice(&e.size.to_le_bytes());
        out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&e.name);
        out.extend_from_slice(&e.stored);

        central.extend_from_slice(b"PK\x01\x02");
        let made_by: u16 = if e.unix_mode.is_some() {
            0x031e
        } else {
            0x001e
        };
        central.extend_from_slice(&made_by.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        central.extend_from_slice(&e.flags.to_le_bytes());
        central.extend_from_slice(&e.method.to_le_bytes());
        central.extend_from_slice(&0u16.to_le_bytes());
        central.extend_from_slice(&0x21u16.to_le_bytes());
        central.extend_from_slice(&e.crc.to_le_bytes());
        central.extend_from_slice(&(e.stored.len() as u32).to_le_bytes());
        central.extend_from_slice(&e.size.to_le_bytes());
        central.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0; 8]); // extra, comment, disk, internal attrs
        central.extend_from_slice(&(e.unix_mode.unwrap_or(0) << 16).to_le_bytes());
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(&e.name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    [prefix, &out].concat()
}

// ---------------------------------------------------------------- helpers

struct Dir(TempDir);

impl Dir {
    fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap())
    }

    fn put(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Everything under the directory, to prove previews write nothing.
    fn listing(&self) -> Vec<PathBuf> {
        let mut all: Vec<PathBuf> = std::fs::read_dir(self.0.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        all.sort();
        all
    }
}

fn opts() -> PreviewOpts {
    PreviewOpts::default()
}

fn open(path: &Path) -> Preview {
    preview::open(path, None, &opts()).unwrap()
}

fn members(p: &Preview) -> &[Member] {
    match &p.body {
        Body::Members { members, .. } => members,
        other => panic!("expected members, got {other:?}"),
    }
}

fn names(p: &Preview) -> Vec<&str> {
    members(p).iter().map(|m| m.path.as_str()).collect()
}

fn content(p: &Preview) -> &Content {
    match &p.body {
        Body::Content { content } => content,
        other => panic!("expected content, got {other:?}"),
    }
}

fn text(p: &Preview) -> Vec<&str> {
    match content(p) {
        Content::Text { lines, .. } => lines.iter().map(String::as_str).collect(),
        other => panic!("expected text, got {other:?}"),
    }
}

fn layers(p: &Preview) -> Vec<Layer> {
    p.format.layers.clone()
}

fn error(p: &Preview) -> &str {
    p.error
        .as_deref()
        .unwrap_or_else(|| panic!("expected an error in {p:?}"))
}

const TEXT: &[u8] = b"alpha\nbeta\ngamma\n";

fn sample_tar() -> Vec<u8> {
    tar_of(&[
        ("dir/a.txt", TEXT),
        ("dir/b.bin", &[0, 1, 2, 3]),
        ("c.csv", b"x,y\n1,2\n"),
    ])
}

// ---------------------------------------------------------------- formats

#[test]
fn single_stream_compressions_show_decompressed_text() {
    let d = Dir::new();
    let cases: [(&str, Vec<u8>, Layer); 4] = [
        ("notes.txt.gz", gz(TEXT), Layer::Gzip),
        ("notes.txt.bz2", bz2(TEXT), Layer::Bzip2),
        ("notes.txt.xz", xz(TEXT), Layer::Xz),
        ("notes.txt.zst", zst(TEXT), Layer::Zstd),
    ];
    for (name, bytes, layer) in cases {
        let path = d.put(name, &bytes);
        assert_eq!(
            preview::sniff(&path, None).unwrap().layers,
            vec![layer],
            "{name}"
        );
        let p = open(&path);
        assert_eq!(layers(&p), vec![layer], "{name}");
        assert_eq!(text(&p), vec!["alpha", "beta", "gamma"], "{name}");
        assert_eq!(p.truncated, None, "{name}");
        assert_eq!(p.error, None, "{name}");
        assert!(p.notes.is_empty(), "{name}: {:?}", p.notes);
    }
}

#[test]
fn tar_in_every_compression_lists_members() {
    let d = Dir::new();
    let tar = sample_tar();
    let cases: [(&str, Vec<u8>, Vec<Layer>); 6] = [
        ("a.tar", tar.clone(), vec![Layer::Tar]),
        ("a.tar.gz", gz(&tar), vec![Layer::Gzip, Layer::Tar]),
        ("a.tgz", gz(&tar), vec![Layer::Gzip, Layer::Tar]),
        ("a.tar.bz2", bz2(&tar), vec![Layer::Bzip2, Layer::Tar]),
        ("a.tar.xz", xz(&tar), vec![Layer::Xz, Layer::Tar]),
        ("a.tar.zst", zst(&tar), vec![Layer::Zstd, Layer::Tar]),
    ];
    for (name, bytes, want) in cases {
        let path = d.put(name, &bytes);
        assert_eq!(preview::sniff(&path, None).unwrap().layers, want, "{name}");
        let p = open(&path);
        assert_eq!(layers(&p), want, "{name}");
        assert_eq!(names(&p), vec!["dir/a.txt", "dir/b.bin", "c.csv"], "{name}");
        let m = &members(&p)[0];
        assert_eq!(
            (m.kind, m.size, m.mtime),
            (MemberKind::File, 17, Some(MTIME as i64))
        );
        assert!(!m.unsafe_path && !m.non_utf8);
        assert_eq!(p.error, None, "{name}");

        let a = preview::member(&path, None, "dir/a.txt", &opts()).unwrap();
        assert_eq!(text(&a), vec!["alpha", "beta", "gamma"], "{name}");
        assert_eq!(
            a.member.as_ref().map(|m| m.path.as_str()),
            Some("dir/a.txt")
        );
        let b = preview::member(&path, None, "./dir/b.bin", &opts()).unwrap();
        let Content::Hex { rows } = content(&b) else {
            panic!("{b:?}")
        };
        assert_eq!(rows[0].bytes, vec![0, 1, 2, 3]);
        let c = preview::member(&path, None, "c.csv", &opts()).unwrap();
        let Content::Table { header, rows, .. } = content(&c) else {
            panic!("{c:?}")
        };
        assert_eq!(
            (header.clone(), rows.clone()),
            (
                vec!["x".into(), "y".into()],
                vec![vec!["1".into(), "2".into()]]
            )
        );
    }
}

#[test]
fn zip_lists_from_central_directory_and_reads_members() {
    let d = Dir::new();
    let files: &[(&str, &[u8])] = &[
        ("docs/", b""),
        ("docs/readme.md", TEXT),
        ("data.json", b"{\"k\":[1,2]}"),
    ];
    for method in [
        zip::CompressionMethod::Stored,
        zip::CompressionMethod::Deflated,
        zip::CompressionMethod::Bzip2,
        zip::CompressionMethod::Zstd,
    ] {
        let path = d.put("a.zip", &zip_of(files, method));
        let p = open(&path);
        assert_eq!(layers(&p), vec![Layer::Zip]);
        assert_eq!(
            names(&p),
            vec!["docs/", "docs/readme.md", "data.json"],
            "{method:?}"
        );
        let Body::Members { total, .. } = &p.body else {
            unreachable!()
        };
        assert_eq!(*total, Some(3));
        let ms = members(&p);
        assert_eq!(ms[0].kind, MemberKind::Dir);
        assert_eq!((ms[1].kind, ms[1].size), (MemberKind::File, 17));
        assert_eq!(ms[1].mtime, Some(1_709_634_030), "2024-03-05 10:20:30");
        let m = preview::member(&path, None, "docs/readme.md", &opts()).unwrap();
        assert_eq!(text(&m), vec!["alpha", "beta", "gamma"], "{method:?}");
        assert_eq!(m.error, None);
        let j = preview::member(&path, None, "data.json", &opts()).unwrap();
        let Content::Json { lines, .. } = content(&j) else {
            panic!("{j:?}")
        };
        assert_eq!(lines, &["{", "  \"k\": [", "    1,", "    2", "  ]", "}"]);
        let dir = preview::member(&path, None, "docs", &opts()).unwrap();
        assert_eq!(dir.member.unwrap().kind, MemberKind::Dir);
        assert_eq!(dir.body, Body::Nothing);
    }
}

#[test]
fn zip_lzma_and_zip64_members() {
    let d = Dir::new();
    // LZMA (method 14) as zip stores it: version, property size, properties, raw stream.
    let data = b"lzma in a zip\n".repeat(20);
    let opts_lzma = liblzma::stream::LzmaOptions::new_preset(1).unwrap();
    let stream = liblzma::stream::Stream::new_lzma_encoder(&opts_lzma).unwrap();
    let mut e = liblzma::write::XzEncoder::new_stream(Vec::new(), stream);
    e.write_all(&data).unwrap();
    let alone = e.finish().unwrap();
    let mut stored = vec![9, 20, 5, 0];
    stored.extend_from_slice(&alone[..5]);
    stored.extend_from_slice(&alone[13..]);
    let raw = Raw {
        method: 14,
        flags: 0x2,
        stored,
        size: data.len() as u32,
        crc: crc32fast::hash(&data),
        ..Raw::stored(b"l.txt", b"")
    };
    let path = d.put("l.zip", &raw_zip(&[raw], b""));
    let p = preview::member(&path, None, "l.txt", &opts()).unwrap();
    assert_eq!(p.error, None);
    assert_eq!(text(&p).len(), 20);
    assert_eq!(text(&p)[0], "lzma in a zip");

    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default().large_file(true);
    w.start_file("big.txt", o).unwrap();
    w.write_all(TEXT).unwrap();
    let path = d.put("z64.zip", &w.finish().unwrap().into_inner());
    assert_eq!(names(&open(&path)), vec!["big.txt"]);
    let p = preview::member(&path, None, "big.txt", &opts()).unwrap();
    assert_eq!(text(&p), vec!["alpha", "beta", "gamma"]);
}

#[test]
fn nested_layers_are_recognised() {
    let d = Dir::new();
    // gzip inside gzip
    let path = d.put("twice.gz", &gz(&gz(TEXT)));
    let p = open(&path);
    assert_eq!(layers(&p), vec![Layer::Gzip, Layer::Gzip]);
    assert_eq!(text(&p), vec!["alpha", "beta", "gamma"]);
    // a tar.xz inside a zstd stream, named without any extension
    let path = d.put("blob", &zst(&xz(&sample_tar())));
    assert_eq!(
        preview::sniff(&path, None).unwrap().layers,
        vec![Layer::Zstd, Layer::Xz, Layer::Tar]
    );
    assert_eq!(names(&open(&path)).len(), 3);
    // a tar.gz member inside a zip, and a csv.gz member inside a tar
    let inner = gz(&tar_of(&[("deep/x.txt", b"deep\n")]));
    let path = d.put(
        "outer.zip",
        &zip_of(&[("inner.tar.gz", &inner)], zip::CompressionMethod::Stored),
    );
    let p = preview::member(&path, None, "inner.tar.gz", &opts()).unwrap();
    assert_eq!(layers(&p), vec![Layer::Zip, Layer::Gzip, Layer::Tar]);
    assert_eq!(names(&p), vec!["deep/x.txt"]);
    let path = d.put("outer.tar", &tar_of(&[("t.csv.gz", &gz(b"a,b\n1,2\n"))]));
    let p = preview::member(&path, None, "t.csv.gz", &opts()).unwrap();
    assert_eq!(layers(&p), vec![Layer::Tar, Layer::Gzip]);
    assert!(matches!(content(&p), Content::Table { source, .. } if source == "csv"));
}

#[test]
fn zip_inside_gzip_is_named_not_listed() {
    let d = Dir::new();
    let path = d.put(
        "a.zip.gz",
        &gz(&zip_of(&[("x", b"x")], zip::CompressionMethod::Stored)),
    );
    let p = open(&path);
    assert_eq!(layers(&p), vec![Layer::Gzip, Layer::Zip]);
    assert!(error(&p).contains("zip inside gzip"), "{p:?}");
    assert!(matches!(content(&p), Content::Hex { .. }));
    assert!(matches!(
        preview::member(&path, None, "x", &opts()),
        Err(Error::Unsupported { .. })
    ));
}

// ---------------------------------------------------------------- empty

#[test]
fn empty_inputs() {
    let d = Dir::new();
    let p = open(&d.put("empty.txt", b""));
    assert_eq!(text(&p), Vec::<&str>::new());
    assert_eq!(p.error, None);

    let p = open(&d.put("empty.tar.gz", b""));
    assert!(error(&p).contains("empty file"), "{p:?}");
    assert!(error(&p).contains("empty.tar.gz"), "names the file: {p:?}");

    let p = open(&d.put("nothing.gz", &gz(b"")));
    assert_eq!(layers(&p), vec![Layer::Gzip]);
    assert_eq!(text(&p), Vec::<&str>::new());

    let p = open(&d.put("none.tar", &tar_of(&[])));
    assert_eq!(layers(&p), vec![Layer::Tar]);
    assert!(names(&p).is_empty());
    assert_eq!(p.error, None);

    let p = open(&d.put("none.tar.gz", &gz(&tar_of(&[]))));
    assert_eq!(layers(&p), vec![Layer::Gzip, Layer::Tar]);
    assert!(names(&p).is_empty());

    let p = open(&d.put("none.zip", &zip_of(&[], zip::CompressionMethod::Stored)));
    assert_eq!(layers(&p), vec![Layer::Zip]);
    assert!(names(&p).is_empty());
    assert_eq!(p.error, None);
}

// ---------------------------------------------------------------- limits

#[test]
fn gzip_bomb_stops_at_max_bytes() {
    let d = Dir::new();
    let zeros = vec![0u8; 64 << 20];
    let bomb = gz(&zeros);
    assert!(bomb.len() < 1 << 20, "ratio > 64");
    let path = d.put("bomb.gz", &bomb);
    let o = PreviewOpts {
        max_bytes: 4096,
        ..opts()
    };
    let p = preview::open(&path, None, &o).unwrap();
    let Content::Hex { rows } = content(&p) else {
        panic!("{p:?}")
    };
    assert!(rows.len() <= o.max_lines);
    assert_eq!(p.truncated, Some(Limit::MaxBytes(4096)));
    assert_eq!(p.error, None);

    // text bomb: one endless line, cut and marked
    let path = d.put("line.gz", &gz(&vec![b'a'; 8 << 20]));
    let o = PreviewOpts {
        max_line_len: 80,
        ..opts()
    };
    let p = preview::open(&path, None, &o).unwrap();
    let Content::Text { lines, cut_lines } = content(&p) else {
        panic!()
    };
    assert_eq!(
        (lines.len(), lines[0].len(), cut_lines.as_slice()),
        (1, 80, &[0][..])
    );
    assert_eq!(p.truncated, Some(Limit::MaxBytes(o.max_bytes)));
    assert!(preview::render(&p).contains(&format!("{}…\n", "a".repeat(80))));
}

#[test]
fn zip_bomb_member_window_is_bounded() {
    let d = Dir::new();
    let path = d.put(
        "bomb.zip",
        &zip_of(
            &[("zeros", &vec![0u8; 32 << 20]), ("after", b"ok\n")],
            zip::CompressionMethod::Deflated,
        ),
    );
    assert!(std::fs::metadata(&path).unwrap().len() < 1 << 20);
    let p = open(&path);
    assert_eq!(members(&p)[0].size, 32 << 20);
    let o = PreviewOpts {
        max_bytes: 1000,
        ..opts()
    };
    let p = preview::member(&path, None, "zeros", &o).unwrap();
    assert!(
        matches!(
            p.truncated,
            Some(Limit::MaxBytes(1000) | Limit::MaxLines(_))
        ),
        "{p:?}"
    );
    assert_eq!(p.error, None);
}

#[test]
fn huge_tar_member_is_skipped_only_within_the_scan_budget() {
    let d = Dir::new();
    let tar = tar_of(&[
        ("first", b"1"),
        ("huge", &vec![0u8; 16 << 20]),
        ("last", b"3"),
    ]);
    let path = d.put("h.tar.gz", &gz(&tar));
    let o = PreviewOpts {
        max_scan_bytes: 1 << 20,
        ..opts()
    };
    let p = preview::open(&path, None, &o).unwrap();
    assert_eq!(names(&p), vec!["first", "huge"]);
    assert_eq!(p.truncated, Some(Limit::MaxScanBytes(1 << 20)));
    assert_eq!(p.error, None);
    let p = preview::member(&path, None, "last", &o).unwrap();
    assert_eq!(p.truncated, Some(Limit::MaxScanBytes(1 << 20)));
    assert_eq!(p.body, Body::Nothing);
    // with the default budget the whole archive is read
    assert_eq!(names(&open(&path)), vec!["first", "huge", "last"]);
}

#[test]
fn max_entries_and_max_lines() {
    let d = Dir::new();
    let files: Vec<(String, Vec<u8>)> = (0..30)
        .map(|i| (format!("f{i:02}"), vec![b'x'; i]))
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let o = PreviewOpts {
        max_entries: 10,
        ..opts()
    };
    let tar = d.put("many.tar.gz", &gz(&tar_of(&refs)));
    let p = preview::open(&tar, None, &o).unwrap();
    assert_eq!(members(&p).len(), 10);
    assert_eq!(p.truncated, Some(Limit::MaxEntries(10)));
    let zip = d.put("many.zip", &zip_of(&refs, zip::CompressionMethod::Deflated));
    let p = preview::open(&zip, None, &o).unwrap();
    assert_eq!(names(&p)[9], "f09");
    assert_eq!(p.truncated, Some(Limit::MaxEntries(10)));
    assert!(matches!(
        p.body,
        Body::Members {
            total: Some(30),
            ..
        }
    ));

    let lines: String = (0..100).map(|i| format!("line {i}\n")).collect();
    let path = d.put("l.txt.zst", &zst(lines.as_bytes()));
    let o = PreviewOpts {
        max_lines: 5,
        ..opts()
    };
    let p = preview::open(&path, None, &o).unwrap();
    assert_eq!(
        text(&p),
        vec!["line 0", "line 1", "line 2", "line 3", "line 4"]
    );
    assert_eq!(p.truncated, Some(Limit::MaxLines(5)));
    // exactly max_lines lines is complete
    let path = d.put("five.txt", b"1\n2\n3\n4\n5\n");
    let p = preview::open(&path, None, &o).unwrap();
    assert_eq!(p.truncated, None);
}

#[test]
fn cancel_flag_stops_every_entry_point() {
    let d = Dir::new();
    let flag = Arc::new(AtomicBool::new(true));
    let o = PreviewOpts {
        cancel: Some(flag.clone()),
        ..opts()
    };
    let tgz = d.put("a.tar.gz", &gz(&sample_tar()));
    let zip = d.put(
        "a.zip",
        &zip_of(&[("a", TEXT)], zip::CompressionMethod::Deflated),
    );
    assert!(matches!(
        preview::open(&tgz, None, &o),
        Err(Error::Cancelled)
    ));
    assert!(matches!(
        preview::open(&zip, None, &o),
        Err(Error::Cancelled)
    ));
    assert!(matches!(
        preview::member(&tgz, None, "dir/a.txt", &o),
        Err(Error::Cancelled)
    ));
    assert!(matches!(
        preview::member(&zip, None, "a", &o),
        Err(Error::Cancelled)
    ));
    let mut out = Vec::new();
    assert!(matches!(
        preview::copy_out(&tgz, None, None, &mut out, Some(flag.clone())),
        Err(Error::Cancelled)
    ));
    assert!(out.is_empty());
    flag.store(false, std::sync::atomic::Ordering::Relaxed);
    assert!(preview::open(&tgz, None, &o).is_ok());
}

// ---------------------------------------------------------------- hostile names

#[test]
fn hostile_tar_names_are_listed_never_followed() {
    let d = Dir::new();
    let mut b = tar::Builder::new(Vec::new());
    // (name, type, link target, data)
    type Entry<'a> = (&'a [u8], tar::EntryType, &'a [u8], &'a [u8]);
    let evil: &[Entry] = &[
        (b"../escape.txt", tar::EntryType::Regular, b"", b"up\n"),
        (b"/etc/passwd", tar::EntryType::Regular, b"", b"root::0:0\n"),
        (b"link", tar::EntryType::Symlink, b"/etc/shadow", b""),
        (b"hard", tar::EntryType::Link, b"../../outside", b""),
        (b"caf\xe9.txt", tar::EntryType::Regular, b"", b"latin1\n"),
        (b"esc\x1b[2Jape", tar::EntryType::Regular, b"", b""),
    ];
    for (name, kind, link, data) in evil {
        let h = raw_header(name, *kind, data.len() as u64, link);
        b.append(&h, *data).unwrap();
    }
    let path = d.put("evil.tar", &b.into_inner().unwrap());
    let before = d.listing();
    let p = open(&path);
    let ms = members(&p);
    assert_eq!(ms.len(), 6);
    assert!(ms[0].unsafe_path && ms[1].unsafe_path && !ms[2].unsafe_path);
    assert_eq!(ms[1].path, "/etc/passwd");
    assert_eq!(
        (ms[2].kind, ms[2].link_target.as_deref()),
        (MemberKind::Symlink, Some("/etc/shadow"))
    );
    assert_eq!(
        (ms[3].kind, ms[3].link_target.as_deref()),
        (MemberKind::Hardlink, Some("../../outside"))
    );
    assert!(ms[4].non_utf8);
    assert_eq!(ms[4].path, "caf\u{fffd}.txt");
    let shown = preview::render(&p);
    assert!(
        !shown.contains('\x1b'),
        "terminal escapes are neutralised: {shown}"
    );
    assert!(shown.contains("esc^[[2Jape"));
    assert!(shown.contains("[unsafe path]") && shown.contains("[non-UTF-8 name]"));

    // previewing them reads archive data only
    let m = preview::member(&path, None, "../escape.txt", &opts()).unwrap();
    assert_eq!(text(&m), vec!["up"]);
    let m = preview::member(&path, None, "link", &opts()).unwrap();
    assert_eq!(m.body, Body::Nothing);
    assert_eq!(
        m.member.unwrap().link_target.as_deref(),
        Some("/etc/shadow")
    );
    let m = preview::member(&path, None, "caf\u{fffd}.txt", &opts()).unwrap();
    assert_eq!(text(&m), vec!["latin1"]);
    // Copied out, a link is refused, and said so in words.
    let err = preview::copy_out(&path, None, Some("link"), &mut Vec::new(), None)
        .unwrap_err()
        .to_string();
    assert!(err.ends_with("link: is a symlink, not a file"), "{err}");
    assert_eq!(d.listing(), before, "nothing written next to the archive");
}

#[test]
fn hostile_zip_names_and_symlinks() {
    let d = Dir::new();
    let link = Raw {
        unix_mode: Some(0o120_777),
        ..Raw::stored(b"ln", b"/etc/passwd")
    };
    let entries = [
        Raw::stored(b"../../x", b"x\n"),
        Raw::stored(b"C:\\windows\\evil.dll", b"MZ"),
        Raw::stored(b"\xff\xfe.bin", b"?"),
        link,
    ];
    let path = d.put("evil.zip", &raw_zip(&entries, b""));
    let before = d.listing();
    let p = open(&path);
    let ms = members(&p);
    assert!(ms[0].unsafe_path && ms[1].unsafe_path);
    assert!(ms[2].non_utf8);
    assert_eq!(ms[3].kind, MemberKind::Symlink);
    assert_eq!(ms[3].link_target, None, "listing reads no member data");
    let m = preview::member(&path, None, "ln", &opts()).unwrap();
    assert_eq!(
        m.member.unwrap().link_target.as_deref(),
        Some("/etc/passwd")
    );
    assert_eq!(m.body, Body::Nothing);
    assert_eq!(d.listing(), before);
}

// ---------------------------------------------------------------- bad input

#[test]
fn truncated_tar_gz_keeps_what_was_read() {
    let d = Dir::new();
    let files: Vec<(String, Vec<u8>)> = (0..50)
        .map(|i| {
            (
                format!("f{i:02}.txt"),
                format!("{i}\n").repeat(2000).into_bytes(),
            )
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let full = gz(&tar_of(&refs));
    let path = d.put("cut.tar.gz", &full[..full.len() / 2]);
    let p = open(&path);
    let n = members(&p).len();
    assert!(n > 5 && n < 50, "{n}");
    let e = error(&p);
    assert!(e.contains("cut.tar.gz"), "names the item: {e}");
    assert!(e.contains("truncated"), "{e}");
    assert!(
        e.contains(&format!("after member 'f{:02}.txt'", n - 1)),
        "names the member: {e}"
    );
    let shown = preview::render(&p);
    assert!(
        shown.contains("f00.txt") && shown.contains("[error: "),
        "{shown}"
    );
}

#[test]
fn truncated_gzip_text_shows_lines_before_the_cut() {
    let d = Dir::new();
    let lines: String = (0..20_000).map(|i| format!("row {i}\n")).collect();
    let full = gz(lines.as_bytes());
    let path = d.put("log.txt.gz", &full[..full.len() * 3 / 4]);
    let o = PreviewOpts {
        max_lines: 100_000,
        max_bytes: 64 << 20,
        ..opts()
    };
    let p = preview::open(&path, None, &o).unwrap();
    let got = text(&p);
    assert!(got.len() > 1000 && got.len() < 20_000, "{}", got.len());
    assert_eq!(got[1000], "row 1000");
    assert!(error(&p).contains("truncated"), "{p:?}");
    // a header-only stub has nothing to show but still says why
    let p = open(&d.put("stub.gz", &full[..5]));
    assert_eq!(layers(&p), vec![Layer::Gzip]);
    assert!(error(&p).contains("stub.gz"));
}

#[test]
fn corrupt_inputs_give_clear_errors() {
    let d = Dir::new();
    // gzip with its deflate data scrambled
    let mut bad = gz(&b"some text that compresses a little bit bit bit\n".repeat(100));
    for b in &mut bad[20..40] {
        *b ^= 0x55;
    }
    let p = open(&d.put("bad.txt.gz", &bad));
    assert!(
        error(&p).contains("corrupt") || error(&p).contains("truncated"),
        "{p:?}"
    );

    // tar whose second header is damaged
    let mut tar = sample_tar();
    let second = 512 + 512; // header + one data block of the first file
    tar[second + 10] ^= 0xff;
    let p = open(&d.put("bad.tar", &tar));
    assert_eq!(names(&p), vec!["dir/a.txt"]);
    let e = error(&p);
    assert!(
        e.contains("checksum") && e.contains("after member 'dir/a.txt'"),
        "{e}"
    );

    // zip whose stored data was changed: the CRC catches it when the member is read whole
    let mut zip = raw_zip(&[Raw::stored(b"a.txt", TEXT)], b"");
    let at = 30 + 5;
    zip[at] = b'A';
    let path = d.put("bad.zip", &zip);
    let p = preview::member(&path, None, "a.txt", &opts()).unwrap();
    let e = error(&p);
    assert!(e.contains("member 'a.txt'") && e.contains("CRC"), "{e}");
    assert_eq!(text(&p)[0], "Alpha", "partial content shown with the error");
    let mut sink = Vec::new();
    let err = preview::copy_out(&path, None, Some("a.txt"), &mut sink, None).unwrap_err();
    assert!(err.to_string().contains("CRC"), "{err}");

    // zip cut short: no end record
    let good = zip_of(&[("a", TEXT)], zip::CompressionMethod::Deflated);
    let p = open(&d.put("short.zip", &good[..good.len() - 30]));
    assert_eq!(layers(&p), vec![Layer::Zip]);
    assert!(error(&p).contains("end-of-central-directory"), "{p:?}");

    // zip whose directory is garbage
    let mut z = good.clone();
    let cd = z.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    z[cd + 1] = b'X';
    let p = open(&d.put("garbled.zip", &z));
    assert!(error(&p).contains("central directory record 1"), "{p:?}");
}

#[test]
fn encrypted_zip_member_is_listed_and_refused() {
    let d = Dir::new();
    let secret = Raw {
        flags: 0x1,
        ..Raw::stored(b"secret.txt", b"\x12\x34garbage")
    };
    let path = d.put(
        "locked.zip",
        &raw_zip(&[secret, Raw::stored(b"open.txt", b"hi\n")], b""),
    );
    let p = open(&path);
    assert!(members(&p)[0].encrypted && !members(&p)[1].encrypted);
    let m = preview::member(&path, None, "secret.txt", &opts()).unwrap();
    let e = error(&m);
    assert!(
        e.contains("member 'secret.txt'") && e.contains("encrypted"),
        "{e}"
    );
    assert_eq!(m.body, Body::Nothing);
    let ok = preview::member(&path, None, "open.txt", &opts()).unwrap();
    assert_eq!(text(&ok), vec!["hi"]);
}

#[test]
fn wrong_extensions() {
    let d = Dir::new();
    // gzip named .zip: the content wins, the mismatch is noted
    let p = open(&d.put("really-gz.zip", &gz(TEXT)));
    assert_eq!(layers(&p), vec![Layer::Gzip]);
    assert_eq!(text(&p), vec!["alpha", "beta", "gamma"]);
    assert!(
        p.notes.iter().any(|n| n.contains("name suggests zip")),
        "{:?}",
        p.notes
    );
    // plain text named .tar.gz: shown, with an error saying it is not what it claims
    let p = open(&d.put("fake.tar.gz", TEXT));
    assert!(layers(&p).is_empty());
    assert_eq!(text(&p), vec!["alpha", "beta", "gamma"]);
    assert!(
        error(&p).contains("fake.tar.gz") && error(&p).contains("gzip+tar"),
        "{p:?}"
    );
    // a name hint overrides the blob's file name in messages
    let blob = d.put("0123abcd", TEXT);
    let p = preview::open(&blob, Some("report.csv.gz"), &opts()).unwrap();
    assert!(error(&p).contains("report.csv.gz"), "{p:?}");
    // member of something that is no archive
    assert!(matches!(
        preview::member(&blob, None, "x", &opts()),
        Err(Error::InvalidInput { .. })
    ));
}

#[test]
fn self_extracting_zip_with_a_prefix() {
    let d = Dir::new();
    let zip = raw_zip(&[Raw::stored(b"inside.txt", TEXT)], &[b'#'; 700]);
    let path = d.put("setup.zip", &zip);
    let p = open(&path);
    assert_eq!(names(&p), vec!["inside.txt"]);
    let m = preview::member(&path, None, "inside.txt", &opts()).unwrap();
    assert_eq!(text(&m), vec!["alpha", "beta", "gamma"]);
}

#[test]
fn missing_things() {
    let d = Dir::new();
    let tgz = d.put("a.tar.gz", &gz(&sample_tar()));
    let zip = d.put(
        "a.zip",
        &zip_of(&[("a", TEXT)], zip::CompressionMethod::Deflated),
    );
    assert!(matches!(
        preview::member(&tgz, None, "nope", &opts()),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        preview::member(&zip, None, "nope", &opts()),
        Err(Error::NotFound { .. })
    ));
    let gone = d.0.path().join("gone");
    assert!(matches!(
        preview::open(&gone, None, &opts()),
        Err(Error::Io { .. })
    ));
}

// ---------------------------------------------------------------- content kinds

#[test]
fn content_kinds() {
    let d = Dir::new();
    let p = open(&d.put("t.tsv", b"id\tname\n1\tAda\n2\tGrace Hopper\n"));
    let Content::Table {
        source,
        header,
        rows,
        ..
    } = content(&p)
    else {
        panic!("{p:?}")
    };
    assert_eq!((source.as_str(), header.len(), rows.len()), ("tsv", 2, 2));
    let shown = preview::render(&p);
    assert!(
        shown.contains("id  name\n--  ------------\n1   Ada\n2   Grace Hopper\n"),
        "{shown}"
    );

    // CSV sniffed without a telling name, quoted fields with commas
    let p = open(&d.put("noext", b"a,b,c\n1,\"x, y\",3\n4,5,6\n"));
    let Content::Table { rows, .. } = content(&p) else {
        panic!("{p:?}")
    };
    assert_eq!(rows[0], vec!["1", "x, y", "3"]);

    let p = open(&d.put(
        "e.jsonl.gz",
        &gz(b"{\"z\":1,\"a\":\"q\"}\n{\"z\":2,\"b\":null}\n"),
    ));
    let Content::Table {
        source,
        header,
        rows,
        ..
    } = content(&p)
    else {
        panic!("{p:?}")
    };
    assert_eq!(source, "jsonl");
    assert_eq!(header, &["z", "a", "b"]);
    assert_eq!(rows[1], vec!["2", "", ""]);

    let p = open(&d.put("arr.json", b"[1, \"two\", {\"three\": 3}]"));
    let Content::Json { lines, .. } = content(&p) else {
        panic!("{p:?}")
    };
    assert_eq!(
        lines,
        &[
            "[",
            "  1,",
            "  \"two\",",
            "  {",
            "    \"three\": 3",
            "  }",
            "]"
        ]
    );

    // JSON cut by the window is still pretty-printed as far as it goes
    let big = format!(
        "{{\"items\": [{}]}}",
        (0..5000)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    let o = PreviewOpts {
        max_bytes: 200,
        ..opts()
    };
    let p = preview::open(&d.put("big.json", big.as_bytes()), None, &o).unwrap();
    let Content::Json { lines, .. } = content(&p) else {
        panic!("{p:?}")
    };
    assert_eq!(&lines[..3], &["{", "  \"items\": [", "    0,"]);
    assert_eq!(p.truncated, Some(Limit::MaxBytes(200)));

    // invalid JSON stays text
    let p = open(&d.put("bad.json", b"{not json}\n"));
    assert_eq!(text(&p), vec!["{not json}"]);

    // latin-1 text: lossy, still text; control characters neutralised
    let p = open(&d.put(
        "l1.txt",
        b"na\xefve caf\xe9 text with words\nred \x1b[31malert\n",
    ));
    assert_eq!(
        text(&p),
        vec![
            "na\u{fffd}ve caf\u{fffd} text with words",
            "red ^[[31malert"
        ]
    );

    // binary gets an xxd-style dump
    let p = open(&d.put("b.bin", b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0"));
    assert_eq!(
        preview::render(&p).lines().nth(1),
        Some("00000000: 7f45 4c46 0201 0100 0000 0000 0000 0000  .ELF............")
    );
}

#[test]
fn preview_serialises_for_json_output() {
    let d = Dir::new();
    let p = open(&d.put("a.tar.gz", &gz(&sample_tar())));
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["format"], serde_json::json!(["gzip", "tar"]));
    assert_eq!(v["body"]["kind"], "members");
    assert_eq!(v["body"]["members"][0]["kind"], "file");
    assert_eq!(v["truncated"], serde_json::Value::Null);
    let o = PreviewOpts {
        max_entries: 1,
        ..opts()
    };
    let v = serde_json::to_value(preview::open(&d.put("b.tar", &sample_tar()), None, &o).unwrap())
        .unwrap();
    assert_eq!(
        v["truncated"],
        serde_json::json!({"limit": "max_entries", "value": 1})
    );
    let m = preview::member(&d.put("c.tar", &sample_tar()), None, "dir/a.txt", &opts()).unwrap();
    let v = serde_json::to_value(&m).unwrap();
    assert_eq!(v["body"]["content"]["kind"], "text");
    assert_eq!(v["body"]["content"]["lines"][1], "beta");
}

// ---------------------------------------------------------------- copy_out

#[test]
fn copy_out_decompresses_items_and_members() {
    let d = Dir::new();
    let big: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let mut out = Vec::new();
    let n = preview::copy_out(&d.put("x.bin.xz", &xz(&big)), None, None, &mut out, None).unwrap();
    assert_eq!((n, out == big), (big.len() as u64, true));

    let tar = tar_of(&[("a", TEXT), ("big", &big)]);
    let tgz = d.put("t.tgz", &gz(&tar));
    let mut out = Vec::new();
    preview::copy_out(&tgz, None, Some("big"), &mut out, None).unwrap();
    assert!(out == big);
    let mut out = Vec::new();
    preview::copy_out(&tgz, None, None, &mut out, None).unwrap();
    assert!(out == tar, "a tar.gz without a member gives the tar");

    let zip = d.put(
        "z.zip",
        &zip_of(&[("a", TEXT), ("big", &big)], zip::CompressionMethod::Zstd),
    );
    let mut out = Vec::new();
    preview::copy_out(&zip, None, Some("big"), &mut out, None).unwrap();
    assert!(out == big);
    assert!(matches!(
        preview::copy_out(&zip, None, None, &mut Vec::new(), None),
        Err(Error::InvalidInput { .. })
    ));
    assert!(matches!(
        preview::copy_out(&zip, None, Some("nope"), &mut Vec::new(), None),
        Err(Error::NotFound { .. })
    ));

    let full = gz(&big);
    let cut = d.put("cut.gz", &full[..full.len() / 2]);
    let err = preview::copy_out(&cut, None, None, &mut Vec::new(), None).unwrap_err();
    assert!(
        matches!(&err, Error::Archive { message, .. } if message.contains("truncated")),
        "{err}"
    );
}
