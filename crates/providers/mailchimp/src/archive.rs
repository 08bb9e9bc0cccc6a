//! Reading the archive Mailchimp serves a finished batch's results in: a gzipped tar
//! (`response_body_url`) whose files are JSON arrays of operation results.
//!
//! The decoding is `flate2`'s (gzip members, CRC-32 and length checked) and `tar`'s
//! (POSIX ustar, GNU and pax headers, checksums checked); this module only bounds
//! them and keeps what the batch reader needs. Every size is capped so a hostile or
//! broken archive cannot exhaust memory: the gzip output is read through a limit (a
//! gzip bomb stops at `max_output` bytes), and a tar entry whose declared size runs
//! past the end of the archive is refused before anything of it is read. Only
//! regular files are kept: directories, links, devices and extended headers are
//! skipped. Entry names are reported as written in the archive (`../` included) and
//! never used as paths: nothing is unpacked to disk. Every malformation is an error,
//! never a panic.
//!
//! With the `sandbox` feature (and in tests) it also writes archives in the same
//! format, with the same crates.

use std::{
    fmt,
    io::{self, Read},
};

use flate2::bufread::GzDecoder;

/// Why an archive could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveError(pub String);

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArchiveError {}

fn error(message: impl Into<String>) -> ArchiveError {
    ArchiveError(message.into())
}

/// Whether `bytes` start like a gzip member.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

// ---------------------------------------------------------------------------------
// gzip.

/// Decompresses gzip data (every member, when several are concatenated), producing
/// at most `max_output` bytes. Each member's CRC-32 and length are checked.
pub fn gunzip(data: &[u8], max_output: usize) -> Result<Vec<u8>, ArchiveError> {
    if !is_gzip(data) {
        return Err(error("not gzip data"));
    }
    let mut out = Vec::new();
    let mut rest = data;
    loop {
        let mut member = GzDecoder::new(rest);
        // One byte past the room left tells an over-long member from one that fits.
        let room = max_output.saturating_sub(out.len());
        let limit = u64::try_from(room).unwrap_or(u64::MAX).saturating_add(1);
        (&mut member)
            .take(limit)
            .read_to_end(&mut out)
            .map_err(gzip_error)?;
        if out.len() > max_output {
            return Err(error("the data inflates beyond the size limit"));
        }
        // The decoder took exactly its member, trailer included.
        rest = member.into_inner();
        // Trailing zero padding after the last member is tolerated, as gzip(1) does.
        if !is_gzip(rest) {
            return Ok(out);
        }
    }
}

fn gzip_error(err: io::Error) -> ArchiveError {
    if err.kind() == io::ErrorKind::UnexpectedEof {
        error("the gzip data ends early")
    } else {
        error(format!("corrupt gzip data: {err}"))
    }
}

// ---------------------------------------------------------------------------------
// tar.

const BLOCK: usize = 512;

/// One regular file of a tar archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarEntry {
    pub name: String,
    pub data: Vec<u8>,
}

/// The regular files of a tar archive, in order. Directories, links and extended
/// headers are skipped (a GNU long name or a pax `path` renames the next file).
/// Archives cut after the last entry, without the zero blocks or the last block's
/// padding, are still read.
pub fn untar(data: &[u8]) -> Result<Vec<TarEntry>, ArchiveError> {
    let malformed = |err: io::Error| error(format!("a malformed tar archive: {err}"));
    let padding = data.len().next_multiple_of(BLOCK) - data.len();
    let mut archive = ::tar::Archive::new(data.chain(io::repeat(0).take(padding as u64)));
    let mut entries = Vec::new();
    for entry in archive.entries().map_err(malformed)? {
        let mut entry = entry.map_err(malformed)?;
        let end = entry.raw_file_position().checked_add(entry.size());
        if end.is_none_or(|end| end > data.len() as u64) {
            return Err(error("a tar entry runs past the end of the archive"));
        }
        if !matches!(
            entry.header().entry_type(),
            ::tar::EntryType::Regular | ::tar::EntryType::Continuous
        ) {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        // Within the archive, as checked above: at most what is left of `data`.
        let mut content = Vec::new();
        entry.read_to_end(&mut content).map_err(malformed)?;
        entries.push(TarEntry {
            name,
            data: content,
        });
    }
    Ok(entries)
}

// ---------------------------------------------------------------------------------
// Writing, for the sandbox fake and tests.

/// A tar archive of regular files (ustar headers, mode 0644, mtime 0). A name the
/// format cannot hold, or one with `..`, is an error.
#[cfg(any(test, feature = "sandbox"))]
pub fn tar(files: &[(&str, &[u8])]) -> io::Result<Vec<u8>> {
    let mut builder = ::tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut header = ::tar::Header::new_ustar();
        header.set_entry_type(::tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_size(data.len() as u64);
        builder.append_data(&mut header, name, *data)?;
    }
    builder.into_inner()
}

/// One gzip member holding `data`.
#[cfg(any(test, feature = "sandbox"))]
pub fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data)?;
    encoder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::tar::{Builder, EntryType, Header};
    use proptest::prelude::*;

    /// An archive with one header written by hand: any name (`..` included), type
    /// and declared size, followed by `data`.
    fn raw_entry(name: &[u8], kind: EntryType, size: u64, data: &[u8]) -> Vec<u8> {
        let mut header = Header::new_gnu();
        header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
        header.set_entry_type(kind);
        header.set_mode(0o644);
        header.set_size(size);
        header.set_cksum();
        let mut out = header.as_bytes().to_vec();
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn gzip_round_trips() {
        for size in [0usize, 1, 65_535, 65_536, 200_000] {
            let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let packed = gzip(&data).unwrap();
            assert_eq!(gunzip(&packed, usize::MAX).unwrap(), data, "{size}");
        }
    }

    #[test]
    fn gzip_with_dynamic_huffman_blocks() {
        // Written by Python's tarfile + gzip (level 9): GNU tar headers, a directory
        // entry and two JSON files, compressed with dynamic Huffman codes.
        let packed = include_bytes!("../tests/mailchimp/fixtures/batch-results.tar.gz");
        assert_eq!(packed[10] & 0b111, 0b101, "a final dynamic block");
        let archive = gunzip(packed, 1 << 20).unwrap();
        assert_eq!(archive.len(), 10_240);
        let entries = untar(&archive).unwrap();
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["7d94c0ca2a/2b6f1e0c9a.json", "7d94c0ca2a/9e3d5a7f1b.json"]
        );
        assert!(entries[0].data.starts_with(b"[{\"status_code\": 200"));
    }

    #[test]
    fn concatenated_members_and_trailing_zeros() {
        let mut packed = gzip(b"first ").unwrap();
        packed.extend_from_slice(&gzip(b"second").unwrap());
        packed.extend_from_slice(&[0; 16]);
        assert_eq!(gunzip(&packed, 1024).unwrap(), b"first second");
        // The limit counts every member.
        assert!(gunzip(&packed, 11).is_err());
        assert!(gunzip(&packed, 12).is_ok());
    }

    #[test]
    fn size_limits_hold() {
        let data = vec![b'a'; 10_000];
        let packed = gzip(&data).unwrap();
        assert!(gunzip(&packed, 9_999).is_err());
        assert!(gunzip(&packed, 10_000).is_ok());
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit() {
        // 64 MiB of zeros packs into well under 100 KiB.
        let member = gzip(&vec![0u8; 64 << 20]).unwrap();
        assert!(member.len() < 100 << 10, "{}", member.len());
        let err = gunzip(&member, 1 << 20).unwrap_err();
        assert_eq!(err.0, "the data inflates beyond the size limit");

        // 16 GiB in one member, from 16 MiB: a fully flushed MiB of zeros starts
        // afresh, so its blocks can be repeated. Only a bounded reader refuses it at
        // once, before the (unwritten) trailer; any other would run out of memory.
        let mut deflate = flate2::Compress::new(flate2::Compression::best(), false);
        let mut block = Vec::with_capacity(64 << 10);
        let status = deflate
            .compress_vec(&vec![0u8; 1 << 20], &mut block, flate2::FlushCompress::Full)
            .unwrap();
        assert_eq!((status, deflate.total_in()), (flate2::Status::Ok, 1 << 20));
        let header = &gzip(b"").unwrap()[..10];
        let mut bomb = [header, &block.repeat(16 << 10)].concat();
        assert!(bomb.len() < 20 << 20, "{}", bomb.len());
        bomb.extend_from_slice(&[0x03, 0x00]); // An empty final block.
        bomb.extend_from_slice(&[0; 8]);
        let err = gunzip(&bomb, 1 << 20).unwrap_err();
        assert_eq!(err.0, "the data inflates beyond the size limit");
        // The same stream cut to 4 MiB, with its trailer, is well formed.
        let zeros = vec![0u8; 4 << 20];
        let mut crc = flate2::Crc::new();
        crc.update(&zeros);
        let mut small = [header, &block.repeat(4), &[0x03, 0x00]].concat();
        small.extend_from_slice(&crc.sum().to_le_bytes());
        small.extend_from_slice(&crc.amount().to_le_bytes());
        assert_eq!(gunzip(&small, 8 << 20).unwrap(), zeros);
    }

    #[test]
    fn truncated_and_foreign_gzip_is_refused() {
        let packed = gzip(&[b'z'; 5_000]).unwrap();
        for cut in [3, 10, packed.len() / 2, packed.len() - 4] {
            assert!(gunzip(&packed[..cut], 1 << 20).is_err(), "cut at {cut}");
        }
        assert_eq!(gunzip(b"plain", 1024).unwrap_err().0, "not gzip data");
        assert!(gunzip(&[0x1f, 0x8b, 1, 2, 3], 1024).is_err());
        // Not DEFLATE (method 7).
        let mut other = packed.clone();
        other[2] = 7;
        assert!(gunzip(&other, 1 << 20).is_err());
    }

    #[test]
    fn checksums_are_checked() {
        let mut packed = gzip(b"some results").unwrap();
        let crc_at = packed.len() - 8;
        packed[crc_at] ^= 1;
        assert!(gunzip(&packed, 1024).is_err());
        let mut packed = gzip(b"some results").unwrap();
        let size_at = packed.len() - 4;
        packed[size_at] ^= 1;
        assert!(gunzip(&packed, 1024).is_err());
        let mut archive = tar(&[("a.json", b"[]")]).unwrap();
        archive[0] = b'b';
        assert!(untar(&archive).is_err());
    }

    #[test]
    fn tar_round_trips() {
        let archive = tar(&[("x/1.json", b"[1]"), ("x/2.json", &[b'z'; 700])]).unwrap();
        let entries = untar(&archive).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name, "x/1.json");
        assert_eq!(entries[0].data, b"[1]");
        assert_eq!(entries[1].data.len(), 700);
        assert!(untar(&[]).unwrap().is_empty());
        // Without the end-of-archive blocks, and without the last block's padding.
        let bare = &archive[..512 + 512 + 512 + 700];
        assert_eq!(untar(bare).unwrap(), entries);
        // Long names (a GNU long-name or pax header) are read back whole.
        let long = format!("{}/results.json", "d".repeat(150));
        let entries = untar(&tar(&[(long.as_str(), b"[]")]).unwrap()).unwrap();
        assert_eq!(entries[0].name, long);
    }

    #[test]
    fn truncated_tar_is_refused() {
        let archive = tar(&[("x/1.json", b"[1]"), ("x/2.json", &[b'z'; 700])]).unwrap();
        // Cut inside the second entry's content.
        assert!(untar(&archive[..1800]).is_err());
        // Cut inside the second header.
        assert!(untar(&archive[..1024 + 200]).is_err());
        // A header that claims more than the archive holds, however large.
        for size in [10_000, u64::MAX >> 2] {
            let err = untar(&raw_entry(b"big.json", EntryType::Regular, size, b"[]")).unwrap_err();
            assert_eq!(err.0, "a tar entry runs past the end of the archive");
        }
    }

    #[test]
    fn only_regular_files_are_kept() {
        let mut builder = Builder::new(Vec::new());
        let mut add = |name: &str, kind: EntryType, data: &[u8]| {
            let mut header = Header::new_ustar();
            header.set_entry_type(kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            if kind.is_symlink() || kind.is_hard_link() {
                header.set_link_name("/etc/passwd").unwrap();
            }
            builder.append_data(&mut header, name, data).unwrap();
        };
        add("dir/", EntryType::Directory, b"");
        add("dir/link", EntryType::Symlink, b"");
        add("dir/hard", EntryType::Link, b"");
        add("dir/fifo", EntryType::Fifo, b"");
        add("dir/dev", EntryType::Char, b"");
        add("global", EntryType::XGlobalHeader, b"20 comment=anything\n");
        add("dir/a.json", EntryType::Regular, b"[1]");
        add("dir/b.json", EntryType::Continuous, b"[2]");
        let archive = builder.into_inner().unwrap();
        let entries = untar(&archive).unwrap();
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["dir/a.json", "dir/b.json"]);
        assert_eq!(entries[1].data, b"[2]");
    }

    #[test]
    fn traversal_names_are_labels_not_paths() {
        // The writer refuses them; a hostile archive has them all the same.
        assert!(tar(&[("../escape.json", b"[]")]).is_err());
        for name in [&b"../../etc/passwd"[..], b"/etc/shadow", b"a/../../b.json"] {
            let mut archive = raw_entry(name, EntryType::Regular, 2, b"[]");
            archive.resize(2048, 0);
            let entries = untar(&archive).unwrap();
            assert_eq!(entries.len(), 1);
            assert_eq!(entries[0].name.as_bytes(), name);
            assert_eq!(entries[0].data, b"[]");
        }
    }

    proptest! {
        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = gunzip(&data, 1 << 16);
            let mut with_magic = vec![0x1f, 0x8b, 8];
            with_magic.extend_from_slice(&data);
            let _ = gunzip(&with_magic, 1 << 16);
            let _ = untar(&data);
        }

        #[test]
        fn gzip_round_trip(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            prop_assert_eq!(gunzip(&gzip(&data).unwrap(), usize::MAX).unwrap(), data);
        }
    }
}
