//! zstd, through the pure-Rust `ruzstd` encoder and decoder (the default), or the C library's
//! encoder with the opt-in `zstd-c` feature.
//!
//! Level mapping: `ruzstd` implements one real compression level, `Fastest` (roughly zstd
//! level 1), so every requested level (Kafka accepts -131072..=22, default 3) currently maps to
//! it. The output is a standard zstd frame with a content checksum that every zstd reader,
//! including Kafka's, decodes.

use std::io::Read;

use bytes::{BufMut, Bytes, BytesMut};
use ruzstd::decoding::StreamingDecoder;
use ruzstd::encoding::CompressionLevel;

use super::{codec_err, too_large};
use crate::error::Result;

const NAME: &str = "zstd";
const FRAME_MAGIC: u32 = 0xFD2F_B528;
const SKIPPABLE_MIN: u32 = 0x184D_2A50;
const SKIPPABLE_MAX: u32 = 0x184D_2A5F;
/// Largest window a frame may ask for (memory bound independent of `max_output`).
const MAX_WINDOW: u64 = 128 * 1024 * 1024;

/// Default zstd level (Kafka's default, 3). See the module docs for how levels map.
pub const DEFAULT_LEVEL: i32 = 3;

/// Compresses `input` into one zstd frame. `level` is accepted for API symmetry; see the
/// module docs.
pub fn compress(input: &[u8], level: Option<i32>) -> Bytes {
    let mut out = BytesMut::new();
    compress_into(input, level, &mut out);
    out.freeze()
}

fn map_level(_level: Option<i32>) -> CompressionLevel {
    // Only `Fastest` (and `Uncompressed`) are implemented by ruzstd 0.9; the others panic.
    CompressionLevel::Fastest
}

#[cfg(not(feature = "zstd-c"))]
pub(crate) fn compress_into(input: &[u8], level: Option<i32>, out: &mut BytesMut) {
    out.reserve(input.len() / 2 + 64);
    ruzstd::encoding::compress(input, out.writer(), map_level(level));
}

/// With the opt-in `zstd-c` feature, compression uses the reference C library (through the
/// `zstd` crate, which needs a C compiler) and honours the requested level; decompression
/// stays on the bounded pure-Rust path.
#[cfg(feature = "zstd-c")]
pub(crate) fn compress_into(input: &[u8], level: Option<i32>, out: &mut BytesMut) {
    let _ = map_level;
    let level = level.unwrap_or(DEFAULT_LEVEL).clamp(-131_072, 22);
    match zstd_c::bulk::compress(input, level) {
        Ok(v) => out.extend_from_slice(&v),
        // the C encoder only fails on allocation failure; fall back to the pure-Rust one
        Err(_) => ruzstd::encoding::compress(input, out.writer(), CompressionLevel::Fastest),
    }
}

fn le_u32(input: &[u8], at: usize) -> Option<u32> {
    let b: [u8; 4] = input.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(b))
}

/// Decompresses one or more zstd frames (skippable frames are skipped), producing at most
/// `max_output` bytes. Content checksums are verified when present.
pub fn decompress(input: &[u8], max_output: usize) -> Result<Bytes> {
    let mut out: Vec<u8> = Vec::with_capacity(input.len().saturating_mul(3).min(max_output));
    let mut src: &[u8] = input;
    let mut frames = 0usize;
    while !src.is_empty() || frames == 0 {
        let magic = le_u32(src, 0).ok_or_else(|| codec_err(NAME, "truncated frame header"))?;
        if (SKIPPABLE_MIN..=SKIPPABLE_MAX).contains(&magic) {
            let len = le_u32(src, 4).ok_or_else(|| codec_err(NAME, "truncated skippable frame"))?
                as usize;
            src = src
                .get(8..)
                .and_then(|s| s.get(len..))
                .ok_or_else(|| codec_err(NAME, "truncated skippable frame"))?;
            frames += 1;
            continue;
        }
        if magic != FRAME_MAGIC {
            return Err(codec_err(NAME, "invalid frame magic"));
        }
        let mut dec = StreamingDecoder::new_with_max_window_size(&mut src, MAX_WINDOW)
            .map_err(|e| codec_err(NAME, e))?;
        let budget = max_output.saturating_sub(out.len());
        let before = out.len();
        (&mut dec)
            .take((budget as u64).saturating_add(1))
            .read_to_end(&mut out)
            .map_err(|e| codec_err(NAME, e))?;
        if out.len() - before > budget {
            return Err(too_large(NAME, max_output));
        }
        if !dec.decoder.is_finished() {
            return Err(codec_err(NAME, "truncated frame"));
        }
        if let (Some(stored), Some(computed)) = (
            dec.decoder.get_checksum_from_data(),
            dec.decoder.get_calculated_checksum(),
        ) && stored != computed
        {
            return Err(crate::ProtocolError::ChecksumMismatch {
                what: "zstd content",
                stored,
                computed,
            });
        }
        frames += 1;
    }
    Ok(Bytes::from(out))
}
