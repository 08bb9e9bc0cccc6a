//! Reading the archive Mailchimp serves a finished batch's results in: a gzipped tar
//! (`response_body_url`) whose files are JSON arrays of operation results.
//!
//! The workspace has no gzip, inflate or tar crate (reqwest's `gzip` feature only
//! undoes `Content-Encoding`, and Mailchimp's archive is a plain file, not an encoded
//! response), so this module has the three small decoders it needs: CRC-32, DEFLATE
//! (RFC 1951: stored, fixed and dynamic Huffman blocks), gzip members (RFC 1952, CRC
//! and length checked) and the tar format (POSIX ustar and GNU headers, checksums
//! checked, everything but regular files skipped). Every size is capped so a hostile
//! or broken archive can neither exhaust memory nor make a decoder loop; every
//! malformation is an error, never a panic.
//!
//! With the `sandbox` feature (and in tests) it also writes archives in the same
//! format, using stored DEFLATE blocks, which every gzip reader accepts.

use std::fmt;

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
// CRC-32 (the IEEE polynomial, reflected), as gzip's trailer uses it.

const CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
}

/// The CRC-32 of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for byte in data {
        crc = CRC_TABLE[((crc ^ u32::from(*byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc ^ 0xffff_ffff
}

// ---------------------------------------------------------------------------------
// DEFLATE.

/// Reads bits least-significant first, as DEFLATE packs them.
struct Bits<'a> {
    data: &'a [u8],
    /// The next byte to load.
    position: usize,
    buffer: u64,
    count: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            position: 0,
            buffer: 0,
            count: 0,
        }
    }

    fn need(&mut self, bits: u32) -> Result<(), ArchiveError> {
        while self.count < bits {
            let Some(byte) = self.data.get(self.position) else {
                return Err(error("the compressed data ends early"));
            };
            self.buffer |= u64::from(*byte) << self.count;
            self.position += 1;
            self.count += 8;
        }
        Ok(())
    }

    fn take(&mut self, bits: u32) -> Result<u32, ArchiveError> {
        if bits == 0 {
            return Ok(0);
        }
        self.need(bits)?;
        let value = (self.buffer & ((1u64 << bits) - 1)) as u32;
        self.buffer >>= bits;
        self.count -= bits;
        Ok(value)
    }

    /// Drops the bits left of the current byte (stored blocks start on a byte).
    fn align(&mut self) {
        let partial = self.count % 8;
        self.buffer >>= partial;
        self.count -= partial;
    }

    /// Takes whole bytes, after [`Bits::align`].
    fn bytes(&mut self, len: usize) -> Result<&'a [u8], ArchiveError> {
        // Give back whole bytes still in the buffer first.
        let buffered = (self.count / 8) as usize;
        self.position -= buffered;
        self.buffer = 0;
        self.count = 0;
        let end = self
            .position
            .checked_add(len)
            .filter(|end| *end <= self.data.len())
            .ok_or_else(|| error("a stored block runs past the end of the data"))?;
        let slice = &self.data[self.position..end];
        self.position = end;
        Ok(slice)
    }

    /// The offset of the first byte not consumed (the partial byte counts as used).
    fn consumed(&self) -> usize {
        self.position - (self.count / 8) as usize
    }
}

/// A canonical Huffman code: how many codes have each length, and the symbols in
/// code order.
struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Result<Self, ArchiveError> {
        let mut counts = [0u16; 16];
        for &len in lengths {
            counts[usize::from(len)] += 1;
        }
        counts[0] = 0;
        // Each length may use at most the codes left by the shorter ones.
        let mut left: i32 = 1;
        for &count in &counts[1..] {
            left = left * 2 - i32::from(count);
            if left < 0 {
                return Err(error("an over-subscribed Huffman code"));
            }
        }
        let mut offsets = [0u16; 16];
        for len in 1..15 {
            offsets[len + 1] = offsets[len] + counts[len];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (symbol, &len) in lengths.iter().enumerate() {
            if len != 0 {
                let slot = &mut offsets[usize::from(len)];
                symbols[usize::from(*slot)] = symbol as u16;
                *slot += 1;
            }
        }
        Ok(Self { counts, symbols })
    }

    fn decode(&self, bits: &mut Bits<'_>) -> Result<u16, ArchiveError> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= bits.take(1)? as i32;
            let count = i32::from(self.counts[len]);
            if code - first < count {
                return self
                    .symbols
                    .get((index + code - first) as usize)
                    .copied()
                    .ok_or_else(|| error("a Huffman code outside its table"));
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err(error("an invalid Huffman code"))
    }
}

const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DISTANCE_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DISTANCE_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// The order code-length code lengths are sent in (RFC 1951 §3.2.7).
const CODE_LENGTH_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

fn fixed_codes() -> Result<(Huffman, Huffman), ArchiveError> {
    let mut lengths = [0u8; 288];
    for (symbol, len) in lengths.iter_mut().enumerate() {
        *len = match symbol {
            0..=143 => 8,
            144..=255 => 9,
            256..=279 => 7,
            _ => 8,
        };
    }
    Ok((Huffman::new(&lengths)?, Huffman::new(&[5u8; 30])?))
}

fn dynamic_codes(bits: &mut Bits<'_>) -> Result<(Huffman, Huffman), ArchiveError> {
    let literals = bits.take(5)? as usize + 257;
    let distances = bits.take(5)? as usize + 1;
    let code_lengths = bits.take(4)? as usize + 4;
    if literals > 286 || distances > 30 {
        return Err(error("too many codes in a dynamic block"));
    }
    let mut length_lengths = [0u8; 19];
    for &slot in CODE_LENGTH_ORDER.iter().take(code_lengths) {
        length_lengths[slot] = bits.take(3)? as u8;
    }
    let length_code = Huffman::new(&length_lengths)?;
    let mut lengths = vec![0u8; literals + distances];
    let mut filled = 0;
    while filled < lengths.len() {
        let symbol = length_code.decode(bits)?;
        let (value, repeat) = match symbol {
            0..=15 => (symbol as u8, 1),
            16 => {
                let previous = filled
                    .checked_sub(1)
                    .map(|i| lengths[i])
                    .ok_or_else(|| error("a repeat with no previous length"))?;
                (previous, 3 + bits.take(2)? as usize)
            }
            17 => (0, 3 + bits.take(3)? as usize),
            _ => (0, 11 + bits.take(7)? as usize),
        };
        if filled + repeat > lengths.len() {
            return Err(error("code lengths overflow their table"));
        }
        lengths[filled..filled + repeat].fill(value);
        filled += repeat;
    }
    if lengths[256] == 0 {
        return Err(error("a dynamic block without an end-of-block code"));
    }
    Ok((
        Huffman::new(&lengths[..literals])?,
        Huffman::new(&lengths[literals..])?,
    ))
}

/// Inflates one DEFLATE stream from the start of `data`, producing at most
/// `max_output` bytes. Returns the output and how many input bytes the stream took.
pub fn inflate(data: &[u8], max_output: usize) -> Result<(Vec<u8>, usize), ArchiveError> {
    let mut bits = Bits::new(data);
    let mut out: Vec<u8> = Vec::new();
    loop {
        let last = bits.take(1)? == 1;
        match bits.take(2)? {
            0 => {
                bits.align();
                let header = bits.bytes(4)?;
                let len = u16::from_le_bytes([header[0], header[1]]);
                let complement = u16::from_le_bytes([header[2], header[3]]);
                if len != !complement {
                    return Err(error("a stored block's length check fails"));
                }
                if out.len() + usize::from(len) > max_output {
                    return Err(error("the data inflates beyond the size limit"));
                }
                out.extend_from_slice(bits.bytes(usize::from(len))?);
            }
            kind @ (1 | 2) => {
                let (literals, distances) = if kind == 1 {
                    fixed_codes()?
                } else {
                    dynamic_codes(&mut bits)?
                };
                loop {
                    let symbol = literals.decode(&mut bits)?;
                    if symbol < 256 {
                        if out.len() >= max_output {
                            return Err(error("the data inflates beyond the size limit"));
                        }
                        out.push(symbol as u8);
                        continue;
                    }
                    if symbol == 256 {
                        break;
                    }
                    let index = usize::from(symbol - 257);
                    let (Some(base), Some(extra)) =
                        (LENGTH_BASE.get(index), LENGTH_EXTRA.get(index))
                    else {
                        return Err(error("an invalid length code"));
                    };
                    let length = usize::from(*base) + bits.take(u32::from(*extra))? as usize;
                    let index = usize::from(distances.decode(&mut bits)?);
                    let (Some(base), Some(extra)) =
                        (DISTANCE_BASE.get(index), DISTANCE_EXTRA.get(index))
                    else {
                        return Err(error("an invalid distance code"));
                    };
                    let distance = usize::from(*base) + bits.take(u32::from(*extra))? as usize;
                    if distance > out.len() {
                        return Err(error("a distance reaches before the start"));
                    }
                    if out.len() + length > max_output {
                        return Err(error("the data inflates beyond the size limit"));
                    }
                    let start = out.len() - distance;
                    // Byte by byte: the copy may overlap what it produces.
                    for i in 0..length {
                        let byte = out[start + i];
                        out.push(byte);
                    }
                }
            }
            _ => return Err(error("an invalid block type")),
        }
        if last {
            return Ok((out, bits.consumed()));
        }
    }
}

// ---------------------------------------------------------------------------------
// gzip.

const FLAG_HCRC: u8 = 0x02;
const FLAG_EXTRA: u8 = 0x04;
const FLAG_NAME: u8 = 0x08;
const FLAG_COMMENT: u8 = 0x10;

/// Decompresses gzip data (every member, when several are concatenated), producing
/// at most `max_output` bytes. Each member's CRC-32 and length are checked.
pub fn gunzip(data: &[u8], max_output: usize) -> Result<Vec<u8>, ArchiveError> {
    let mut out = Vec::new();
    let mut rest = data;
    loop {
        let (member, used) = gunzip_member(rest, max_output - out.len())?;
        out.extend_from_slice(&member);
        rest = &rest[used..];
        // Trailing zero padding after the last member is tolerated, as gzip(1) does.
        if !is_gzip(rest) {
            return Ok(out);
        }
    }
}

fn gunzip_member(data: &[u8], max_output: usize) -> Result<(Vec<u8>, usize), ArchiveError> {
    if data.len() < 18 || !is_gzip(data) {
        return Err(error("not gzip data"));
    }
    if data[2] != 8 {
        return Err(error("a gzip member not compressed with DEFLATE"));
    }
    let flags = data[3];
    let mut at = 10;
    let truncated = || error("a truncated gzip header");
    if flags & FLAG_EXTRA != 0 {
        let len = data.get(at..at + 2).ok_or_else(truncated)?;
        at += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    for flag in [FLAG_NAME, FLAG_COMMENT] {
        if flags & flag != 0 {
            let end = data
                .get(at..)
                .and_then(|tail| tail.iter().position(|b| *b == 0))
                .ok_or_else(truncated)?;
            at += end + 1;
        }
    }
    if flags & FLAG_HCRC != 0 {
        at += 2;
    }
    let body = data.get(at..).ok_or_else(truncated)?;
    let (out, used) = inflate(body, max_output)?;
    let trailer = body
        .get(used..used + 8)
        .ok_or_else(|| error("a gzip member without its trailer"))?;
    let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    if crc != crc32(&out) || size != out.len() as u32 {
        return Err(error("the gzip checksum does not match the data"));
    }
    Ok((out, at + used + 8))
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
pub fn untar(data: &[u8]) -> Result<Vec<TarEntry>, ArchiveError> {
    let mut entries = Vec::new();
    let mut at = 0;
    let mut long_name: Option<String> = None;
    while at + BLOCK <= data.len() {
        let header = &data[at..at + BLOCK];
        if header.iter().all(|b| *b == 0) {
            // The end-of-archive marker.
            return Ok(entries);
        }
        check_header_sum(header)?;
        let size = header_number(&header[124..136])?;
        let size = usize::try_from(size).map_err(|_| error("a tar entry too large"))?;
        let start = at + BLOCK;
        let end = start
            .checked_add(size)
            .filter(|end| *end <= data.len())
            .ok_or_else(|| error("a tar entry runs past the end of the archive"))?;
        let content = &data[start..end];
        match header[156] {
            b'0' | 0 | b'7' => {
                let name = long_name.take().unwrap_or_else(|| header_name(header));
                entries.push(TarEntry {
                    name,
                    data: content.to_vec(),
                });
            }
            b'L' => {
                long_name = Some(c_string(content));
            }
            b'x' => {
                long_name = pax_path(content).or(long_name);
            }
            _ => {}
        }
        at = start + size.div_ceil(BLOCK) * BLOCK;
    }
    // Archives cut after the last entry, without the zero blocks, are still read.
    if at < data.len() && data[at..].iter().any(|b| *b != 0) {
        return Err(error("a truncated tar header"));
    }
    Ok(entries)
}

fn check_header_sum(header: &[u8]) -> Result<(), ArchiveError> {
    let stored = header_number(&header[148..156])?;
    let sum: u64 = header
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                u64::from(b' ')
            } else {
                u64::from(*b)
            }
        })
        .sum();
    if sum == stored {
        Ok(())
    } else {
        Err(error("a tar header checksum does not match"))
    }
}

/// A numeric header field: octal text, or GNU base-256 when the high bit is set.
fn header_number(field: &[u8]) -> Result<u64, ArchiveError> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut value: u64 = u64::from(field[0] & 0x7f);
        for byte in &field[1..] {
            value = value
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(*byte)))
                .ok_or_else(|| error("a tar number too large"))?;
        }
        return Ok(value);
    }
    let text: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| char::from(*b))
        .collect();
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| error("a tar number that is not octal"))
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// The name of a ustar header: `prefix/name` when the prefix is set.
fn header_name(header: &[u8]) -> String {
    let name = c_string(&header[0..100]);
    let is_ustar = &header[257..262] == b"ustar";
    let prefix = if is_ustar {
        c_string(&header[345..500])
    } else {
        String::new()
    };
    if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    }
}

/// The `path` record of a pax extended header (`"<len> path=<value>\n"` records).
fn pax_path(records: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(records);
    text.lines().find_map(|line| {
        let (_, record) = line.split_once(' ')?;
        record.strip_prefix("path=").map(str::to_owned)
    })
}

// ---------------------------------------------------------------------------------
// Writing, for the sandbox fake and tests.

/// A tar archive of regular files (ustar headers, mode 0644, mtime 0).
#[cfg(any(test, feature = "sandbox"))]
pub fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut header = [0u8; BLOCK];
        let name = name.as_bytes();
        let len = name.len().min(100);
        header[..len].copy_from_slice(&name[..len]);
        header[100..108].copy_from_slice(b"0000644\0");
        header[108..116].copy_from_slice(b"0000000\0");
        header[116..124].copy_from_slice(b"0000000\0");
        header[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        header[136..148].copy_from_slice(b"00000000000\0");
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].fill(b' ');
        let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
        header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
    }
    out.resize(out.len() + 2 * BLOCK, 0);
    out
}

/// One gzip member holding `data` in stored (uncompressed) DEFLATE blocks.
#[cfg(any(test, feature = "sandbox"))]
pub fn gzip_stored(data: &[u8]) -> Vec<u8> {
    // Magic, DEFLATE, no flags, no mtime, no extra flags, OS unknown.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut chunks = data.chunks(usize::from(u16::MAX)).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        out.push(u8::from(last));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn stored_gzip_round_trips() {
        for size in [0usize, 1, 65_535, 65_536, 200_000] {
            let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let packed = gzip_stored(&data);
            assert_eq!(gunzip(&packed, usize::MAX).unwrap(), data, "{size}");
        }
    }

    #[test]
    fn fixed_huffman_block() {
        // "hello hello hello" as raw DEFLATE by zlib with the Z_FIXED strategy: a
        // literal run and one back-reference.
        let packed = [0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0xc8, 0x40, 0x90, 0x00];
        let (out, used) = inflate(&packed, 1024).unwrap();
        assert_eq!(out, b"hello hello hello");
        assert_eq!(used, packed.len());
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
    fn size_limits_hold() {
        let data = vec![b'a'; 10_000];
        let packed = gzip_stored(&data);
        assert!(gunzip(&packed, 9_999).is_err());
        assert!(gunzip(&packed, 10_000).is_ok());
    }

    #[test]
    fn checksums_are_checked() {
        let mut packed = gzip_stored(b"some results");
        let crc_at = packed.len() - 8;
        packed[crc_at] ^= 1;
        assert!(gunzip(&packed, 1024).is_err());
        let mut archive = tar(&[("a.json", b"[]")]);
        archive[0] = b'b';
        assert!(untar(&archive).is_err());
    }

    #[test]
    fn tar_round_trips_and_skips_non_files() {
        let archive = tar(&[("x/1.json", b"[1]"), ("x/2.json", &[b'z'; 700])]);
        let entries = untar(&archive).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name, "x/1.json");
        assert_eq!(entries[0].data, b"[1]");
        assert_eq!(entries[1].data.len(), 700);
        assert!(untar(&[]).unwrap().is_empty());
        // Cut inside the second entry's content.
        assert!(untar(&archive[..1800]).is_err());
    }

    proptest! {
        #[test]
        fn inflate_never_panics_on_garbage(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = inflate(&data, 1 << 16);
            let _ = gunzip(&data, 1 << 16);
            let _ = untar(&data);
        }

        #[test]
        fn stored_round_trip(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            prop_assert_eq!(gunzip(&gzip_stored(&data), usize::MAX).unwrap(), data);
        }
    }
}
