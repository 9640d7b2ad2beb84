//! snappy: the xerial-framed stream used by Kafka's Java client, plus raw snappy blocks.
//!
//! The xerial stream (snappy-java's `SnappyOutputStream`) is a 16-byte header,
//! `0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00`, a big-endian `i32` version and a big-endian `i32`
//! minimum compatible version (both 1), followed by chunks of `[i32 BE length][raw snappy
//! block]`, each block holding up to 32 KiB of input. Input that does not start with the header
//! is decoded as a single raw snappy block, as snappy-java does.

use bytes::{Bytes, BytesMut};

use super::{codec_err, too_large};
use crate::error::Result;

const NAME: &str = "snappy";

/// The xerial stream magic.
pub const XERIAL_MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Length of the xerial header: magic, version, compatible version.
pub const XERIAL_HEADER_LEN: usize = 16;
/// Uncompressed bytes per xerial chunk (snappy-java's default block size).
pub const XERIAL_BLOCK_SIZE: usize = 32 * 1024;
const XERIAL_VERSION: i32 = 1;
const XERIAL_COMPAT_VERSION: i32 = 1;

/// Compresses `input` into a xerial-framed snappy stream.
pub fn compress(input: &[u8]) -> Result<Bytes> {
    let mut out = BytesMut::new();
    compress_into(input, &mut out)?;
    Ok(out.freeze())
}

pub(crate) fn compress_into(input: &[u8], out: &mut BytesMut) -> Result<()> {
    out.reserve(XERIAL_HEADER_LEN + input.len() / 2 + 64);
    out.extend_from_slice(&XERIAL_MAGIC);
    out.extend_from_slice(&XERIAL_VERSION.to_be_bytes());
    out.extend_from_slice(&XERIAL_COMPAT_VERSION.to_be_bytes());
    let mut enc = snap::raw::Encoder::new();
    for chunk in input.chunks(XERIAL_BLOCK_SIZE) {
        let max = snap::raw::max_compress_len(chunk.len());
        let start = out.len();
        // Room for the length prefix and the worst-case block.
        out.resize(start + 4 + max, 0);
        let dst = out.get_mut(start + 4..).unwrap_or_default();
        let n = match enc.compress(chunk, dst) {
            Ok(n) => n,
            Err(e) => {
                out.truncate(start);
                return Err(codec_err(NAME, e));
            }
        };
        let len = i32::try_from(n).map_err(|_| codec_err(NAME, "block too large"))?;
        out.truncate(start + 4 + n);
        if let Some(prefix) = out.get_mut(start..start + 4) {
            prefix.copy_from_slice(&len.to_be_bytes());
        }
    }
    Ok(())
}

/// Compresses `input` into one raw snappy block (no framing). Kafka clients write the xerial
/// format; this exists for tests and for peers that send raw blocks.
pub fn compress_raw(input: &[u8]) -> Result<Bytes> {
    snap::raw::Encoder::new()
        .compress_vec(input)
        .map(Bytes::from)
        .map_err(|e| codec_err(NAME, e))
}

/// Decompresses a xerial-framed stream, or a raw snappy block when the input does not start
/// with the xerial magic, producing at most `max_output` bytes.
pub fn decompress(input: &[u8], max_output: usize) -> Result<Bytes> {
    if input.starts_with(&XERIAL_MAGIC) {
        decompress_xerial(input, max_output)
    } else {
        let mut out = Vec::new();
        decompress_block(input, max_output, &mut out)?;
        Ok(Bytes::from(out))
    }
}

/// Appends the decompression of one raw block to `out`, keeping `out` within `max_output`.
fn decompress_block(block: &[u8], max_output: usize, out: &mut Vec<u8>) -> Result<()> {
    if block.is_empty() {
        return Ok(());
    }
    let len = snap::raw::decompress_len(block).map_err(|e| codec_err(NAME, e))?;
    let start = out.len();
    if len > max_output.saturating_sub(start) {
        return Err(too_large(NAME, max_output));
    }
    out.resize(start + len, 0);
    let dst = out.get_mut(start..).unwrap_or_default();
    match snap::raw::Decoder::new().decompress(block, dst) {
        Ok(n) => {
            out.truncate(start + n);
            Ok(())
        }
        Err(e) => Err(codec_err(NAME, e)),
    }
}

fn read_be_i32(input: &[u8], at: usize) -> Option<i32> {
    let b: [u8; 4] = input.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(i32::from_be_bytes(b))
}

fn decompress_xerial(input: &[u8], max_output: usize) -> Result<Bytes> {
    let mut out = Vec::with_capacity(input.len().saturating_mul(2).min(max_output));
    let mut pos = 0usize;
    while pos < input.len() {
        let rest = input.get(pos..).unwrap_or_default();
        // A header at the start, or again mid-stream (concatenated streams, as snappy-java reads).
        if rest.starts_with(&XERIAL_MAGIC) {
            if rest.len() < XERIAL_HEADER_LEN {
                return Err(codec_err(NAME, "truncated xerial header"));
            }
            let compat = read_be_i32(rest, 12).unwrap_or(0);
            if compat > XERIAL_COMPAT_VERSION {
                return Err(codec_err(
                    NAME,
                    format_args!("unsupported xerial compatible version {compat}"),
                ));
            }
            pos += XERIAL_HEADER_LEN;
            continue;
        }
        let len = read_be_i32(rest, 0).ok_or_else(|| codec_err(NAME, "truncated chunk length"))?;
        let len = usize::try_from(len).map_err(|_| codec_err(NAME, "negative chunk length"))?;
        let block = rest
            .get(4..)
            .and_then(|r| r.get(..len))
            .ok_or_else(|| codec_err(NAME, "truncated chunk"))?;
        decompress_block(block, max_output, &mut out)?;
        pos += 4 + len;
    }
    Ok(Bytes::from(out))
}
