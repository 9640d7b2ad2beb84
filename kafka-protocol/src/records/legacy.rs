//! Legacy message sets, magic 0 and 1 (Kafka before 0.11): reading, plus a small writer.
//!
//! Each entry is `offset: i64, size: i32` then the message: `crc: u32` (CRC32 over the rest of
//! the message), `magic: i8`, `attributes: i8` (codec in bits 0-2; for magic 1 the timestamp
//! type in bit 3), `timestamp: i64` (magic 1 only), `key` and `value` as `i32`-length-prefixed
//! nullable bytes.
//!
//! A compressed message ("wrapper") holds a whole inner message set, compressed, as its value.
//! For magic 1 the inner offsets are relative (0, 1, …) and the wrapper's offset is the absolute
//! offset of the last inner message; for magic 0 inner offsets are absolute.

use bytes::{Buf, Bytes, BytesMut};

use super::record::{Headers, Record};
use super::{LOG_OVERHEAD, NO_TIMESTAMP, TimestampType};
use crate::compression::{self, Compression, DEFAULT_MAX_DECOMPRESSED_SIZE};
use crate::error::{ProtocolError, Result};
use crate::primitives::{get_i8, get_i32, get_i64, get_u32};

/// Smallest magic-0 message (after offset and size): crc, magic, attributes, two lengths.
pub const MESSAGE_OVERHEAD_V0: usize = 14;
/// Smallest magic-1 message: magic-0 overhead plus the timestamp.
pub const MESSAGE_OVERHEAD_V1: usize = 22;
const CODEC_MASK: i8 = 0x07;
const TIMESTAMP_TYPE_BIT: i8 = 1 << 3;

/// One top-level legacy message (magic 0 or 1): either a plain message or a compressed wrapper
/// around an inner message set. It plays the role of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyBatch {
    buf: Bytes,
    offset: i64,
    crc: u32,
    magic: i8,
    attributes: i8,
    compression: Compression,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
}

fn get_nullable_i32_bytes(buf: &mut Bytes, what: &'static str) -> Result<Option<Bytes>> {
    let len = get_i32(buf)?;
    if len == -1 {
        return Ok(None);
    }
    match usize::try_from(len) {
        Ok(l) if l <= buf.len() => Ok(Some(buf.split_to(l))),
        _ => Err(ProtocolError::InvalidLength {
            what,
            length: len.into(),
        }),
    }
}

impl LegacyBatch {
    /// Parses the legacy entry at the front of `buf` (bytes after it are ignored).
    pub fn parse(buf: Bytes) -> Result<LegacyBatch> {
        let mut h = buf.clone();
        let offset = get_i64(&mut h)?;
        let size = get_i32(&mut h)?;
        let size = usize::try_from(size)
            .ok()
            .filter(|&s| s >= MESSAGE_OVERHEAD_V0)
            .ok_or(ProtocolError::InvalidLength {
                what: "legacy message size",
                length: size.into(),
            })?;
        if size > h.len() {
            return Err(ProtocolError::Truncated {
                what: "legacy message",
                needed: size,
                remaining: h.len(),
            });
        }
        let mut m = h.split_to(size);
        let crc = get_u32(&mut m)?;
        let magic = get_i8(&mut m)?;
        if magic != 0 && magic != 1 {
            return Err(ProtocolError::UnsupportedVersion {
                what: "legacy message magic",
                version: magic.into(),
                min: 0,
                max: 1,
            });
        }
        let attributes = get_i8(&mut m)?;
        let compression = Compression::from_id((attributes & CODEC_MASK) as u8)?;
        if compression == Compression::Zstd {
            return Err(ProtocolError::InvalidRecord(
                "zstd compression requires record batch magic 2",
            ));
        }
        let timestamp = if magic == 1 {
            get_i64(&mut m)?
        } else {
            NO_TIMESTAMP
        };
        let key = get_nullable_i32_bytes(&mut m, "legacy message key")?;
        let value = get_nullable_i32_bytes(&mut m, "legacy message value")?;
        if !m.is_empty() {
            return Err(ProtocolError::InvalidRecord(
                "legacy message has bytes after its value",
            ));
        }
        Ok(LegacyBatch {
            buf: buf.slice(..LOG_OVERHEAD + size),
            offset,
            crc,
            magic,
            attributes,
            compression,
            timestamp,
            key,
            value,
        })
    }

    /// The whole entry, as found on the wire.
    pub fn as_bytes(&self) -> &Bytes {
        &self.buf
    }

    /// Size of the entry in bytes, including the offset and size fields.
    pub fn size_in_bytes(&self) -> usize {
        self.buf.len()
    }

    /// The entry's offset: the message's offset, or for a compressed wrapper the offset of its
    /// last inner message.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// 0 or 1.
    pub fn magic(&self) -> i8 {
        self.magic
    }

    /// The raw attributes byte.
    pub fn attributes(&self) -> i8 {
        self.attributes
    }

    /// Codec of a wrapper message (`None` for a plain message).
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Timestamp type (magic 1 bit 3; magic 0 has no timestamps and reports `CreateTime`).
    pub fn timestamp_type(&self) -> TimestampType {
        if self.magic >= 1 && self.attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// The message timestamp (-1 for magic 0).
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The message key.
    pub fn key(&self) -> Option<&Bytes> {
        self.key.as_ref()
    }

    /// The message value (the compressed inner message set for a wrapper).
    pub fn value(&self) -> Option<&Bytes> {
        self.value.as_ref()
    }

    /// The stored CRC32.
    pub fn crc(&self) -> u32 {
        self.crc
    }

    /// CRC32 (IEEE) computed over the message from the magic byte to the end.
    pub fn compute_crc(&self) -> u32 {
        crc32fast::hash(self.buf.get(LOG_OVERHEAD + 4..).unwrap_or_default())
    }

    /// Checks the stored CRC against the message contents.
    pub fn validate_crc(&self) -> Result<()> {
        let computed = self.compute_crc();
        if computed == self.crc {
            Ok(())
        } else {
            Err(ProtocolError::ChecksumMismatch {
                what: "legacy message",
                stored: self.crc,
                computed,
            })
        }
    }

    /// Iterates over the records: the message itself, or the inner messages of a wrapper
    /// (decompressed once, bounded by [`DEFAULT_MAX_DECOMPRESSED_SIZE`]).
    pub fn records(&self) -> super::Records {
        self.records_with_limit(DEFAULT_MAX_DECOMPRESSED_SIZE)
    }

    /// Like [`records`](Self::records), with a custom bound on the decompressed size.
    pub fn records_with_limit(&self, max_decompressed: usize) -> super::Records {
        super::Records::legacy(LegacyIter::new(self, max_decompressed))
    }

    fn to_record(&self, offset: i64, timestamp: i64) -> Record {
        Record {
            offset,
            timestamp,
            key: self.key.clone(),
            value: self.value.clone(),
            headers: Headers::empty(),
        }
    }
}

/// Iterator state over a legacy entry's records.
#[derive(Debug, Clone)]
pub(crate) enum LegacyIter {
    Single(Option<Record>),
    Deep(Box<Deep>),
    Done,
}

#[derive(Debug, Clone)]
pub(crate) struct Deep {
    /// Compressed inner set and bound, until the first `next`.
    pending: Option<(Compression, Bytes, usize)>,
    data: Bytes,
    wrapper_offset: i64,
    wrapper_magic: i8,
    /// Wrapper timestamp when it is log-append time (it then overrides inner timestamps).
    log_append_time: Option<i64>,
    /// Added to inner offsets (magic 1: relative offsets).
    offset_base: i64,
}

impl LegacyIter {
    fn new(batch: &LegacyBatch, max_decompressed: usize) -> LegacyIter {
        if batch.compression == Compression::None {
            return LegacyIter::Single(Some(batch.to_record(batch.offset, batch.timestamp)));
        }
        let value = batch.value.clone().unwrap_or_default();
        LegacyIter::Deep(Box::new(Deep {
            pending: Some((batch.compression, value, max_decompressed)),
            data: Bytes::new(),
            wrapper_offset: batch.offset,
            wrapper_magic: batch.magic,
            log_append_time: (batch.timestamp_type() == TimestampType::LogAppendTime)
                .then_some(batch.timestamp),
            offset_base: 0,
        }))
    }

    pub(crate) fn next_record(&mut self) -> Option<Result<Record>> {
        match self {
            LegacyIter::Single(r) => {
                let r = r.take();
                *self = LegacyIter::Done;
                r.map(Ok)
            }
            LegacyIter::Deep(d) => {
                let res = d.next_record();
                if !matches!(res, Some(Ok(_))) {
                    *self = LegacyIter::Done;
                }
                res
            }
            LegacyIter::Done => None,
        }
    }
}

impl Deep {
    fn start(&mut self, codec: Compression, value: Bytes, max: usize) -> Result<()> {
        if value.is_empty() {
            return Err(ProtocolError::InvalidRecord(
                "compressed legacy message has an empty value",
            ));
        }
        self.data = compression::decompress(codec, &value, max)?;
        if self.wrapper_magic >= 1 {
            // Inner offsets are relative: find the last one to anchor them to the wrapper offset.
            let mut scan = self.data.clone();
            let mut last = None;
            while !scan.is_empty() {
                let offset = get_i64(&mut scan)?;
                let size = get_i32(&mut scan)?;
                let size = usize::try_from(size)
                    .ok()
                    .filter(|&s| s <= scan.len())
                    .ok_or(ProtocolError::InvalidLength {
                        what: "inner legacy message size",
                        length: size.into(),
                    })?;
                scan.advance(size);
                last = Some(offset);
            }
            self.offset_base = self.wrapper_offset.wrapping_sub(last.unwrap_or(0));
        }
        Ok(())
    }

    fn next_record(&mut self) -> Option<Result<Record>> {
        if let Some((codec, value, max)) = self.pending.take()
            && let Err(e) = self.start(codec, value, max)
        {
            return Some(Err(e));
        }
        if self.data.is_empty() {
            return None;
        }
        let inner = match LegacyBatch::parse(self.data.clone()) {
            Ok(m) => m,
            Err(e) => return Some(Err(e)),
        };
        self.data
            .advance(inner.size_in_bytes().min(self.data.len()));
        if inner.compression != Compression::None {
            return Some(Err(ProtocolError::InvalidRecord(
                "nested compressed legacy message",
            )));
        }
        let offset = if self.wrapper_magic >= 1 {
            self.offset_base.wrapping_add(inner.offset)
        } else {
            inner.offset
        };
        let timestamp = match (inner.magic, self.log_append_time) {
            (0, _) => NO_TIMESTAMP,
            (_, Some(t)) => t,
            (_, None) => inner.timestamp,
        };
        Some(Ok(inner.to_record(offset, timestamp)))
    }
}

// ---------------------------------------------------------------- writer

/// One message for [`write_message_set`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegacyMessage<'a> {
    /// Timestamp (ignored for magic 0).
    pub timestamp: i64,
    /// Key, `None` for null.
    pub key: Option<&'a [u8]>,
    /// Value, `None` for null.
    pub value: Option<&'a [u8]>,
}

fn nullable_len(v: Option<&[u8]>) -> Result<i32> {
    match v {
        None => Ok(-1),
        Some(b) => i32::try_from(b.len()).map_err(|_| ProtocolError::TooLong {
            what: "legacy message field",
            length: b.len(),
        }),
    }
}

fn put_message(
    buf: &mut BytesMut,
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Result<()> {
    let klen = nullable_len(key)?;
    let vlen = nullable_len(value)?;
    let overhead = if magic == 0 {
        MESSAGE_OVERHEAD_V0
    } else {
        MESSAGE_OVERHEAD_V1
    };
    let size = overhead + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len);
    let size_i32 = i32::try_from(size).map_err(|_| ProtocolError::TooLong {
        what: "legacy message",
        length: size,
    })?;
    buf.reserve(LOG_OVERHEAD + size);
    buf.extend_from_slice(&offset.to_be_bytes());
    buf.extend_from_slice(&size_i32.to_be_bytes());
    let crc_at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    buf.extend_from_slice(&[magic as u8, attributes as u8]);
    if magic >= 1 {
        buf.extend_from_slice(&timestamp.to_be_bytes());
    }
    buf.extend_from_slice(&klen.to_be_bytes());
    buf.extend_from_slice(key.unwrap_or_default());
    buf.extend_from_slice(&vlen.to_be_bytes());
    buf.extend_from_slice(value.unwrap_or_default());
    let crc = crc32fast::hash(buf.get(crc_at + 4..).unwrap_or_default());
    if let Some(dst) = buf.get_mut(crc_at..crc_at + 4) {
        dst.copy_from_slice(&crc.to_be_bytes());
    }
    Ok(())
}

/// Writes a legacy message set (magic 0 or 1), as pre-0.11 producers and brokers did.
///
/// Uncompressed: one entry per message, offsets `base_offset`, `base_offset + 1`, …
/// Compressed (gzip, snappy or lz4): one wrapper entry with offset
/// `base_offset + messages.len() - 1` whose value is the compressed inner set (relative inner
/// offsets for magic 1, absolute for magic 0; lz4 frames for magic 0 carry the broken header
/// checksum old clients wrote). The magic-1 wrapper timestamp is the largest inner timestamp.
///
/// ```
/// use kafka_protocol::compression::Compression;
/// use kafka_protocol::records::{RecordBatches, TimestampType};
/// use kafka_protocol::records::legacy::{write_message_set, LegacyMessage};
///
/// let msgs = [
///     LegacyMessage { timestamp: 10, key: None, value: Some(b"a") },
///     LegacyMessage { timestamp: 11, key: Some(b"k"), value: Some(b"b") },
/// ];
/// let bytes = write_message_set(1, Compression::Gzip, TimestampType::CreateTime, 40, &msgs).unwrap();
/// let batch = RecordBatches::new(bytes).next().unwrap().unwrap();
/// assert_eq!(batch.magic(), 1);
/// let offsets: Vec<i64> = batch.records().map(|r| r.unwrap().offset).collect();
/// assert_eq!(offsets, [40, 41]);
/// ```
pub fn write_message_set(
    magic: i8,
    compression: Compression,
    timestamp_type: TimestampType,
    base_offset: i64,
    messages: &[LegacyMessage<'_>],
) -> Result<Bytes> {
    if magic != 0 && magic != 1 {
        return Err(ProtocolError::UnsupportedVersion {
            what: "legacy message magic",
            version: magic.into(),
            min: 0,
            max: 1,
        });
    }
    let ts_bit = if magic == 1 && timestamp_type == TimestampType::LogAppendTime {
        TIMESTAMP_TYPE_BIT
    } else {
        0
    };
    let mut out = BytesMut::new();
    if compression == Compression::None {
        for (i, m) in messages.iter().enumerate() {
            put_message(
                &mut out,
                base_offset.wrapping_add(i as i64),
                magic,
                ts_bit,
                m.timestamp,
                m.key,
                m.value,
            )?;
        }
        return Ok(out.freeze());
    }
    if compression == Compression::Zstd {
        return Err(ProtocolError::InvalidRecord(
            "zstd compression requires record batch magic 2",
        ));
    }
    let mut inner = BytesMut::new();
    for (i, m) in messages.iter().enumerate() {
        let offset = if magic == 1 {
            i as i64
        } else {
            base_offset.wrapping_add(i as i64)
        };
        put_message(
            &mut inner,
            offset,
            magic,
            ts_bit,
            m.timestamp,
            m.key,
            m.value,
        )?;
    }
    let compressed = if magic == 0 && compression == Compression::Lz4 {
        compression::lz4::compress_with(
            &inner,
            compression::lz4::FrameOptions {
                broken_header_checksum: true,
                ..Default::default()
            },
        )
    } else {
        compression::compress(compression, &inner, None)?
    };
    let max_ts = messages
        .iter()
        .map(|m| m.timestamp)
        .max()
        .unwrap_or(NO_TIMESTAMP);
    let last = base_offset.wrapping_add(messages.len().saturating_sub(1) as i64);
    let attributes = compression.id() as i8 | ts_bit;
    put_message(
        &mut out,
        last,
        magic,
        attributes,
        max_ts,
        None,
        Some(&compressed),
    )?;
    Ok(out.freeze())
}
