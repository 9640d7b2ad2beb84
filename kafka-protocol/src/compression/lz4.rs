//! lz4: Kafka's LZ4 frame (what `KafkaLZ4BlockOutputStream` writes), on top of `lz4_flex`'s
//! block API.
//!
//! Frame layout (all integers little-endian):
//!
//! * magic `0x184D2204`;
//! * `FLG`: version `01` in bits 6-7, block independence (bit 5, required), block checksum
//!   (bit 4), content size (bit 3), content checksum (bit 2); bits 0-1 must be zero;
//! * `BD`: block maximum size in bits 4-6 (4 = 64 KiB … 7 = 4 MiB), other bits zero;
//! * optional 8-byte content size;
//! * `HC`: `(xxh32(descriptor, seed 0) >> 8) & 0xFF`, where the descriptor is `FLG` up to
//!   (excluding) `HC`. Old Kafka clients writing magic-0 messages computed it over the magic
//!   bytes too; [`decompress`] accepts either;
//! * blocks: `u32` size with the high bit set when the block is stored uncompressed, the data,
//!   then a `u32` xxh32 of the data if block checksums are on;
//! * end mark `0u32`, then a `u32` xxh32 of the whole content if content checksums are on.

use bytes::{Bytes, BytesMut};
use twox_hash::XxHash32;

use super::{codec_err, too_large};
use crate::error::Result;

const NAME: &str = "lz4";

/// LZ4 frame magic number.
pub const MAGIC: u32 = 0x184D_2204;
/// Block size written by this crate (and by Kafka): 64 KiB.
pub const BLOCK_SIZE: usize = 64 * 1024;
const INCOMPRESSIBLE: u32 = 0x8000_0000;
const FLG_VERSION: u8 = 0b01 << 6;
const FLG_BLOCK_INDEPENDENCE: u8 = 1 << 5;
const FLG_BLOCK_CHECKSUM: u8 = 1 << 4;
const FLG_CONTENT_SIZE: u8 = 1 << 3;
const FLG_CONTENT_CHECKSUM: u8 = 1 << 2;
const BD_64KB: u8 = 4 << 4;

/// Options for writing an LZ4 frame.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameOptions {
    /// Write an xxh32 checksum after every block (Kafka's default is off).
    pub block_checksum: bool,
    /// Compute the header checksum the broken way old Kafka clients did for magic-0 messages
    /// (over the magic bytes as well as the descriptor). Only for producing legacy data.
    pub broken_header_checksum: bool,
}

/// Compresses `input` into a Kafka LZ4 frame with default options.
pub fn compress(input: &[u8]) -> Bytes {
    compress_with(input, FrameOptions::default())
}

/// Compresses `input` into a Kafka LZ4 frame with the given options.
pub fn compress_with(input: &[u8], options: FrameOptions) -> Bytes {
    let mut out = BytesMut::new();
    compress_into(input, options, &mut out);
    out.freeze()
}

fn xxh32(data: &[u8]) -> u32 {
    XxHash32::oneshot(0, data)
}

fn header_checksum(data: &[u8]) -> u8 {
    ((xxh32(data) >> 8) & 0xFF) as u8
}

pub(crate) fn compress_into(input: &[u8], options: FrameOptions, out: &mut BytesMut) {
    let blocks = input.len().div_ceil(BLOCK_SIZE);
    out.reserve(7 + 4 + blocks * 8 + lz4_flex::block::get_maximum_output_size(input.len()));
    let start = out.len();
    out.extend_from_slice(&MAGIC.to_le_bytes());
    let mut flg = FLG_VERSION | FLG_BLOCK_INDEPENDENCE;
    if options.block_checksum {
        flg |= FLG_BLOCK_CHECKSUM;
    }
    out.extend_from_slice(&[flg, BD_64KB]);
    let from = if options.broken_header_checksum {
        start
    } else {
        start + 4
    };
    let hc = header_checksum(out.get(from..).unwrap_or_default());
    out.extend_from_slice(&[hc]);

    for block in input.chunks(BLOCK_SIZE) {
        let size_at = out.len();
        let data_at = size_at + 4;
        out.resize(
            data_at + lz4_flex::block::get_maximum_output_size(block.len()),
            0,
        );
        let compressed = out
            .get_mut(data_at..)
            .and_then(|dst| lz4_flex::block::compress_into(block, dst).ok())
            .filter(|&n| n < block.len());
        let (size_field, n) = match compressed {
            Some(n) => (n as u32, n),
            None => {
                // Incompressible (or the encoder refused): store the block as is.
                out.truncate(data_at);
                out.extend_from_slice(block);
                (block.len() as u32 | INCOMPRESSIBLE, block.len())
            }
        };
        out.truncate(data_at + n);
        if let Some(s) = out.get_mut(size_at..data_at) {
            s.copy_from_slice(&size_field.to_le_bytes());
        }
        if options.block_checksum {
            let sum = xxh32(out.get(data_at..).unwrap_or_default());
            out.extend_from_slice(&sum.to_le_bytes());
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
}

/// A little-endian reader over a byte slice that never panics.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| codec_err(NAME, format_args!("truncated {what}")))?;
        let s = self
            .data
            .get(self.pos..end)
            .ok_or_else(|| codec_err(NAME, format_args!("truncated {what}")))?;
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?.first().copied().unwrap_or(0))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let s = self.take(4, what)?;
        let b: [u8; 4] = s
            .try_into()
            .map_err(|_| codec_err(NAME, format_args!("truncated {what}")))?;
        Ok(u32::from_le_bytes(b))
    }
}

/// Decompresses a Kafka LZ4 frame, producing at most `max_output` bytes.
///
/// The header checksum may be either the correct one or the broken one old clients wrote for
/// magic-0 messages. Block and content checksums are verified when their flags are set.
/// Dependent blocks and dictionaries are rejected, as Kafka does. Bytes after the end mark (and
/// the content checksum, if any) are ignored.
pub fn decompress(input: &[u8], max_output: usize) -> Result<Bytes> {
    let mut cur = Cursor {
        data: input,
        pos: 0,
    };
    if cur.u32("magic")? != MAGIC {
        return Err(codec_err(NAME, "invalid frame magic"));
    }
    let flg = cur.u8("frame descriptor")?;
    let bd = cur.u8("frame descriptor")?;
    if flg & 0b1100_0000 != FLG_VERSION {
        return Err(codec_err(
            NAME,
            format_args!("unsupported frame version {}", flg >> 6),
        ));
    }
    if flg & 0b11 != 0 {
        return Err(codec_err(NAME, "reserved FLG bits (or dictionary id) set"));
    }
    if flg & FLG_BLOCK_INDEPENDENCE == 0 {
        return Err(codec_err(NAME, "dependent blocks are not supported"));
    }
    if bd & 0b1000_1111 != 0 {
        return Err(codec_err(NAME, "reserved BD bits set"));
    }
    let size_code = (bd >> 4) & 0b111;
    if !(4..=7).contains(&size_code) {
        return Err(codec_err(
            NAME,
            format_args!("invalid block maximum size code {size_code}"),
        ));
    }
    let max_block = 1usize << (2 * size_code as u32 + 8);
    if flg & FLG_CONTENT_SIZE != 0 {
        cur.take(8, "content size")?;
    }
    let descriptor_end = cur.pos;
    let hc = cur.u8("header checksum")?;
    let correct = header_checksum(input.get(4..descriptor_end).unwrap_or_default());
    let broken = header_checksum(input.get(..descriptor_end).unwrap_or_default());
    if hc != correct && hc != broken {
        return Err(crate::ProtocolError::ChecksumMismatch {
            what: "lz4 frame header",
            stored: hc.into(),
            computed: correct.into(),
        });
    }
    let block_checksum = flg & FLG_BLOCK_CHECKSUM != 0;

    let mut out: Vec<u8> = Vec::with_capacity(input.len().saturating_mul(2).min(max_output));
    loop {
        let size_field = cur.u32("block size")?;
        if size_field == 0 {
            break;
        }
        let stored = size_field & INCOMPRESSIBLE != 0;
        let size = (size_field & !INCOMPRESSIBLE) as usize;
        if size > max_block {
            return Err(codec_err(
                NAME,
                format_args!("block size {size} exceeds maximum {max_block}"),
            ));
        }
        let block = cur.take(size, "block")?;
        if block_checksum {
            let stored_sum = cur.u32("block checksum")?;
            let computed = xxh32(block);
            if stored_sum != computed {
                return Err(crate::ProtocolError::ChecksumMismatch {
                    what: "lz4 block",
                    stored: stored_sum,
                    computed,
                });
            }
        }
        let budget = max_output.saturating_sub(out.len());
        if stored {
            if block.len() > budget {
                return Err(too_large(NAME, max_output));
            }
            out.extend_from_slice(block);
        } else {
            let start = out.len();
            let room = max_block.min(budget);
            out.resize(start + room, 0);
            let result =
                lz4_flex::block::decompress_into(block, out.get_mut(start..).unwrap_or_default());
            match result {
                Ok(n) => out.truncate(start + n),
                Err(lz4_flex::block::DecompressError::OutputTooSmall { .. })
                    if room < max_block =>
                {
                    return Err(too_large(NAME, max_output));
                }
                Err(e) => return Err(codec_err(NAME, e)),
            }
        }
    }
    if flg & FLG_CONTENT_CHECKSUM != 0 {
        let stored_sum = cur.u32("content checksum")?;
        let computed = xxh32(&out);
        if stored_sum != computed {
            return Err(crate::ProtocolError::ChecksumMismatch {
                what: "lz4 content",
                stored: stored_sum,
                computed,
            });
        }
    }
    Ok(Bytes::from(out))
}
