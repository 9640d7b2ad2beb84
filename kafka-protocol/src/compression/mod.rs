//! Kafka's compression codecs, all in pure Rust: gzip, snappy, lz4 and zstd.
//!
//! The byte formats are the ones the Java client reads and writes:
//!
//! * **gzip**: a standard gzip stream (concatenated members are accepted on read).
//! * **snappy**: the xerial-framed stream (`0x82 "SNAPPY" 0x00`, version, then
//!   length-prefixed raw snappy blocks of 32 KiB input). Raw, unframed snappy blocks are also
//!   accepted on read.
//! * **lz4**: Kafka's LZ4 frame (64 KiB independent blocks). On read, the historically broken
//!   header checksum written for magic-0 messages is accepted as well as the correct one.
//! * **zstd**: a standard zstd frame (several frames and skippable frames are accepted on read).
//!
//! Decompression is always bounded by a `max_output` byte count so that a small malicious
//! payload (a "decompression bomb") yields an error instead of exhausting memory.
//!
//! ```
//! use kafka_protocol::compression::{compress, decompress, Compression, DEFAULT_MAX_DECOMPRESSED_SIZE};
//!
//! let data = b"hello hello hello hello hello".repeat(100);
//! for codec in [Compression::Gzip, Compression::Snappy, Compression::Lz4, Compression::Zstd] {
//!     let packed = compress(codec, &data, None).unwrap();
//!     assert!(packed.len() < data.len());
//!     let unpacked = decompress(codec, &packed, DEFAULT_MAX_DECOMPRESSED_SIZE).unwrap();
//!     assert_eq!(&unpacked[..], &data[..]);
//! }
//! // A limit smaller than the real size is an error, never a huge allocation.
//! let packed = compress(Compression::Gzip, &data, None).unwrap();
//! assert!(decompress(Compression::Gzip, &packed, 100).is_err());
//! ```

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use bytes::{Bytes, BytesMut};

use crate::error::{ProtocolError, Result};

pub mod gzip;
pub mod lz4;
pub mod snappy;
pub mod zstd;

/// Default bound on the decompressed size of one compressed payload (64 MiB).
///
/// Record batches are decompressed into one buffer; Kafka's default `message.max.bytes` is about
/// 1 MiB, so 64 MiB leaves plenty of room for highly compressible data.
pub const DEFAULT_MAX_DECOMPRESSED_SIZE: usize = 64 * 1024 * 1024;

/// A compression codec, as stored in bits 0-2 of record batch (and legacy message) attributes.
///
/// ```
/// use kafka_protocol::compression::Compression;
///
/// let c: Compression = "lz4".parse().unwrap();
/// assert_eq!(c, Compression::Lz4);
/// assert_eq!(c.id(), 3);
/// assert_eq!(Compression::from_id(3).unwrap(), c);
/// assert_eq!(c.name(), "lz4");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Compression {
    /// No compression (id 0).
    #[default]
    None,
    /// gzip (id 1).
    Gzip,
    /// snappy, xerial-framed (id 2).
    Snappy,
    /// lz4, Kafka's LZ4 frame (id 3).
    Lz4,
    /// zstd (id 4); only allowed in record batches v2.
    Zstd,
}

impl Compression {
    /// All codecs, in id order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec with the given attribute id (0..=4).
    pub fn from_id(id: u8) -> Result<Compression> {
        match id {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            other => Err(ProtocolError::UnknownCompression(other)),
        }
    }

    /// The codec's attribute id (0..=4).
    pub const fn id(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Snappy => 2,
            Compression::Lz4 => 3,
            Compression::Zstd => 4,
        }
    }

    /// The codec's name as used in Kafka configuration (`compression.type`).
    pub const fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error returned when parsing an unknown compression name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseCompressionError(String);

impl fmt::Display for ParseCompressionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown compression type {:?} (expected none, gzip, snappy, lz4 or zstd)",
            self.0
        )
    }
}

impl std::error::Error for ParseCompressionError {}

impl FromStr for Compression {
    type Err = ParseCompressionError;

    /// Parses `none`, `gzip`, `snappy`, `lz4` or `zstd` (ASCII case-insensitive).
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Compression::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseCompressionError(s.to_owned()))
    }
}

/// Compresses `input` with `codec` into the byte format Kafka's Java client reads.
///
/// `level` is codec-specific; `None` means the codec's default:
///
/// * gzip: 0..=9 (default 6, like Java's `Deflater.DEFAULT_COMPRESSION`); out-of-range values
///   are clamped, `-1` means the default.
/// * snappy and lz4: ignored (a single fast level).
/// * zstd: ignored for now: the pure-Rust encoder implements only its `Fastest` level (about
///   zstd level 1), which any Kafka reader decodes.
/// * none: ignored; the input is copied.
pub fn compress(codec: Compression, input: &[u8], level: Option<i32>) -> Result<Bytes> {
    let mut out = BytesMut::new();
    compress_into(codec, input, level, &mut out)?;
    Ok(out.freeze())
}

/// Like [`compress`], appending to `out` (used by the record batch writer to compress straight
/// after the batch header).
pub(crate) fn compress_into(
    codec: Compression,
    input: &[u8],
    level: Option<i32>,
    out: &mut BytesMut,
) -> Result<()> {
    match codec {
        Compression::None => {
            out.extend_from_slice(input);
            Ok(())
        }
        Compression::Gzip => gzip::compress_into(input, level, out),
        Compression::Snappy => snappy::compress_into(input, out),
        Compression::Lz4 => {
            lz4::compress_into(input, lz4::FrameOptions::default(), out);
            Ok(())
        }
        Compression::Zstd => {
            zstd::compress_into(input, level, out);
            Ok(())
        }
    }
}

/// Decompresses `input` written by `codec`, producing at most `max_output` bytes.
///
/// Output that would exceed `max_output` is an error ([`ProtocolError::Compression`]), so memory
/// use stays bounded whatever the input. Corrupt input is an error too; this never panics.
/// Use [`DEFAULT_MAX_DECOMPRESSED_SIZE`] when there is no better bound.
pub fn decompress(codec: Compression, input: &[u8], max_output: usize) -> Result<Bytes> {
    match codec {
        Compression::None => {
            if input.len() > max_output {
                return Err(too_large("none", max_output));
            }
            Ok(Bytes::copy_from_slice(input))
        }
        Compression::Gzip => gzip::decompress(input, max_output),
        Compression::Snappy => snappy::decompress(input, max_output),
        Compression::Lz4 => lz4::decompress(input, max_output),
        Compression::Zstd => zstd::decompress(input, max_output),
    }
}

/// A codec error with a message.
pub(crate) fn codec_err(codec: &'static str, message: impl fmt::Display) -> ProtocolError {
    ProtocolError::Compression {
        codec,
        message: message.to_string(),
    }
}

/// The error for output beyond the caller's bound.
pub(crate) fn too_large(codec: &'static str, max_output: usize) -> ProtocolError {
    codec_err(
        codec,
        format_args!("decompressed data exceeds the limit of {max_output} bytes"),
    )
}

/// Reads `reader` to the end, failing once more than `max_output` bytes come out.
pub(crate) fn read_bounded<R: Read>(
    reader: R,
    max_output: usize,
    size_hint: usize,
    codec: &'static str,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(size_hint.min(max_output));
    let limit = (max_output as u64).saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| codec_err(codec, e))?;
    if out.len() > max_output {
        return Err(too_large(codec, max_output));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
