//! gzip, through `flate2`'s pure-Rust (miniz_oxide) backend.

use std::io::Write;

use bytes::{BufMut, Bytes, BytesMut};
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::{codec_err, read_bounded};
use crate::error::Result;

const NAME: &str = "gzip";

/// Default gzip level (Java's `Deflater.DEFAULT_COMPRESSION`).
pub const DEFAULT_LEVEL: i32 = 6;

/// Compresses `input` into one gzip member. `level` is 0..=9 (clamped); `None` or `-1` means
/// [`DEFAULT_LEVEL`].
pub fn compress(input: &[u8], level: Option<i32>) -> Result<Bytes> {
    let mut out = BytesMut::new();
    compress_into(input, level, &mut out)?;
    Ok(out.freeze())
}

pub(crate) fn compress_into(input: &[u8], level: Option<i32>, out: &mut BytesMut) -> Result<()> {
    let level = match level {
        None | Some(-1) => DEFAULT_LEVEL,
        Some(l) => l.clamp(0, 9),
    };
    // Reserve roughly what typical record data compresses to, to avoid regrowth.
    out.reserve(input.len() / 2 + 64);
    let mut enc = GzEncoder::new(out.writer(), flate2::Compression::new(level.unsigned_abs()));
    enc.write_all(input).map_err(|e| codec_err(NAME, e))?;
    enc.finish().map_err(|e| codec_err(NAME, e))?;
    Ok(())
}

/// Decompresses a gzip stream (one or more members), producing at most `max_output` bytes.
pub fn decompress(input: &[u8], max_output: usize) -> Result<Bytes> {
    let out = read_bounded(
        MultiGzDecoder::new(input),
        max_output,
        input.len().saturating_mul(4),
        NAME,
    )?;
    Ok(Bytes::from(out))
}
