//! Kafka record data: record batches v2 (magic 2, read and write) and legacy message sets
//! (magic 0 and 1, read; a small writer for tests and tools).
//!
//! * [`RecordBatchBuilder`] writes a v2 batch in one buffer (optionally compressed).
//! * [`RecordBatch`] reads one v2 batch without copying: record keys, values and header values
//!   are [`Bytes`] slices of the input (or of one decompressed buffer per compressed batch).
//! * [`RecordBatches`] walks the concatenated batches of a Fetch response's `records` field,
//!   dispatching magic 0/1 entries to the legacy reader so the same [`Batch`] and [`Record`]
//!   types work for old data. A truncated final batch (normal in Fetch responses) ends the
//!   iteration cleanly.
//!
//! ```
//! use bytes::BytesMut;
//! use kafka_protocol::compression::Compression;
//! use kafka_protocol::records::{RecordBatchBuilder, RecordBatches};
//!
//! let mut fetched = BytesMut::new();
//! for (base, codec) in [(0, Compression::None), (2, Compression::Snappy)] {
//!     let mut b = RecordBatchBuilder::new(base).compression(codec);
//!     b.append(1000, Some(b"k"), Some(b"v1"), &[]).unwrap();
//!     b.append(1001, Some(b"k"), Some(b"v2"), &[]).unwrap();
//!     fetched.extend_from_slice(&b.build().unwrap());
//! }
//! fetched.extend_from_slice(&[0, 0, 0]); // a partial batch at the end, as brokers send
//!
//! let mut batches = RecordBatches::new(fetched.freeze());
//! let mut offsets = Vec::new();
//! for batch in &mut batches {
//!     let batch = batch.unwrap();
//!     batch.validate_crc().unwrap();
//!     for record in batch.records() {
//!         offsets.push(record.unwrap().offset);
//!     }
//! }
//! assert_eq!(offsets, [0, 1, 2, 3]);
//! assert!(batches.has_partial_tail());
//! ```

use bytes::Bytes;

use crate::compression::{self, Compression};
use crate::error::{ProtocolError, Result};

mod batch;
mod control;
pub mod legacy;
mod record;

pub use batch::{LOG_OVERHEAD, RECORD_BATCH_OVERHEAD, RecordBatch, RecordBatchBuilder};
pub use control::{CONTROL_TYPE_ABORT, CONTROL_TYPE_COMMIT, ControlRecord, ControlRecordKind};
pub use legacy::LegacyBatch;
pub use record::{Headers, HeadersIter, Record};

use legacy::LegacyIter;
use record::RecordContext;

/// "No timestamp" (magic-0 data, empty batches).
pub const NO_TIMESTAMP: i64 = -1;
/// "No producer id" (non-idempotent producers).
pub const NO_PRODUCER_ID: i64 = -1;
/// "No producer epoch".
pub const NO_PRODUCER_EPOCH: i16 = -1;
/// "No sequence number".
pub const NO_SEQUENCE: i32 = -1;
/// "No partition leader epoch".
pub const NO_PARTITION_LEADER_EPOCH: i32 = -1;

/// The meaning of record timestamps (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TimestampType {
    /// Set by the producer.
    #[default]
    CreateTime,
    /// Set by the broker when appending to the log.
    LogAppendTime,
}

/// One entry of a record set: a v2 batch or a legacy (magic 0/1) message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Batch {
    /// A record batch, magic 2.
    V2(RecordBatch),
    /// A legacy message (plain or compressed wrapper), magic 0 or 1.
    Legacy(LegacyBatch),
}

impl Batch {
    /// Parses the entry at the front of `buf`, by its magic byte.
    pub fn parse(buf: Bytes) -> Result<Batch> {
        match buf.get(16).copied() {
            Some(2) => RecordBatch::parse(buf).map(Batch::V2),
            Some(0 | 1) => LegacyBatch::parse(buf).map(Batch::Legacy),
            Some(m) => Err(ProtocolError::UnsupportedVersion {
                what: "record batch magic",
                version: (m as i8).into(),
                min: 0,
                max: 2,
            }),
            None => Err(ProtocolError::Truncated {
                what: "record batch magic",
                needed: 17,
                remaining: buf.len(),
            }),
        }
    }

    /// The magic byte: 0, 1 or 2.
    pub fn magic(&self) -> i8 {
        match self {
            Batch::V2(b) => b.magic(),
            Batch::Legacy(b) => b.magic(),
        }
    }

    /// First offset of a v2 batch. For a legacy entry, its offset (for a compressed wrapper
    /// that is the *last* inner offset; iterate the records for exact offsets).
    pub fn base_offset(&self) -> i64 {
        match self {
            Batch::V2(b) => b.base_offset(),
            Batch::Legacy(b) => b.offset(),
        }
    }

    /// Offset of the last record.
    pub fn last_offset(&self) -> i64 {
        match self {
            Batch::V2(b) => b.last_offset(),
            Batch::Legacy(b) => b.offset(),
        }
    }

    /// The offset after this entry (where the next fetch starts).
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    /// Size in bytes, including the offset and length fields.
    pub fn size_in_bytes(&self) -> usize {
        match self {
            Batch::V2(b) => b.size_in_bytes(),
            Batch::Legacy(b) => b.size_in_bytes(),
        }
    }

    /// The entry's raw bytes.
    pub fn as_bytes(&self) -> &Bytes {
        match self {
            Batch::V2(b) => b.as_bytes(),
            Batch::Legacy(b) => b.as_bytes(),
        }
    }

    /// Compression codec.
    pub fn compression(&self) -> Compression {
        match self {
            Batch::V2(b) => b.compression(),
            Batch::Legacy(b) => b.compression(),
        }
    }

    /// Timestamp type.
    pub fn timestamp_type(&self) -> TimestampType {
        match self {
            Batch::V2(b) => b.timestamp_type(),
            Batch::Legacy(b) => b.timestamp_type(),
        }
    }

    /// Largest timestamp (v2 `maxTimestamp`; legacy: the message timestamp, -1 for magic 0).
    pub fn max_timestamp(&self) -> i64 {
        match self {
            Batch::V2(b) => b.max_timestamp(),
            Batch::Legacy(b) => b.timestamp(),
        }
    }

    /// Whether the batch is transactional (never for legacy data).
    pub fn is_transactional(&self) -> bool {
        matches!(self, Batch::V2(b) if b.is_transactional())
    }

    /// Whether the batch is a control batch (never for legacy data).
    pub fn is_control(&self) -> bool {
        matches!(self, Batch::V2(b) if b.is_control())
    }

    /// Producer id (-1 for legacy data).
    pub fn producer_id(&self) -> i64 {
        match self {
            Batch::V2(b) => b.producer_id(),
            Batch::Legacy(_) => NO_PRODUCER_ID,
        }
    }

    /// Producer epoch (-1 for legacy data).
    pub fn producer_epoch(&self) -> i16 {
        match self {
            Batch::V2(b) => b.producer_epoch(),
            Batch::Legacy(_) => NO_PRODUCER_EPOCH,
        }
    }

    /// Base sequence (-1 for legacy data).
    pub fn base_sequence(&self) -> i32 {
        match self {
            Batch::V2(b) => b.base_sequence(),
            Batch::Legacy(_) => NO_SEQUENCE,
        }
    }

    /// Partition leader epoch (-1 for legacy data).
    pub fn partition_leader_epoch(&self) -> i32 {
        match self {
            Batch::V2(b) => b.partition_leader_epoch(),
            Batch::Legacy(_) => NO_PARTITION_LEADER_EPOCH,
        }
    }

    /// Checks the stored checksum (CRC32C for v2, CRC32 for legacy).
    pub fn validate_crc(&self) -> Result<()> {
        match self {
            Batch::V2(b) => b.validate_crc(),
            Batch::Legacy(b) => b.validate_crc(),
        }
    }

    /// Iterates over the records (see [`RecordBatch::records`], [`LegacyBatch::records`]).
    pub fn records(&self) -> Records {
        match self {
            Batch::V2(b) => b.records(),
            Batch::Legacy(b) => b.records(),
        }
    }

    /// Like [`records`](Self::records), with a custom bound on the decompressed size.
    pub fn records_with_limit(&self, max_decompressed: usize) -> Records {
        match self {
            Batch::V2(b) => b.records_with_limit(max_decompressed),
            Batch::Legacy(b) => b.records_with_limit(max_decompressed),
        }
    }
}

/// Iterator over the entries of a record set (e.g. a Fetch response's `records` field).
///
/// Yields one [`Batch`] per v2 batch or top-level legacy message. A final entry cut short ends
/// the iteration without error ([`has_partial_tail`](Self::has_partial_tail) then reports it).
/// After an error (a corrupt entry) the iteration ends.
#[derive(Debug, Clone)]
pub struct RecordBatches {
    buf: Bytes,
    partial_tail: bool,
    done: bool,
}

impl RecordBatches {
    /// Iterates over the entries in `buf`.
    pub fn new(buf: Bytes) -> RecordBatches {
        RecordBatches {
            buf,
            partial_tail: false,
            done: false,
        }
    }

    /// Whether iteration stopped at an incomplete final entry.
    pub fn has_partial_tail(&self) -> bool {
        self.partial_tail
    }

    /// The bytes not consumed yet (the partial tail, once iteration has ended on one).
    pub fn remaining(&self) -> &Bytes {
        &self.buf
    }

    fn next_batch(&mut self) -> Option<Result<Batch>> {
        if self.buf.is_empty() {
            return None;
        }
        let header = self.buf.get(..LOG_OVERHEAD)?;
        let size = i32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        let size = match usize::try_from(size) {
            Ok(s) if s >= legacy::MESSAGE_OVERHEAD_V0 => s,
            _ => {
                return Some(Err(ProtocolError::InvalidLength {
                    what: "record batch size",
                    length: size.into(),
                }));
            }
        };
        let total = LOG_OVERHEAD + size;
        if total > self.buf.len() {
            return None;
        }
        let entry = self.buf.split_to(total);
        Some(Batch::parse(entry))
    }
}

impl Iterator for RecordBatches {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        if self.done {
            return None;
        }
        let item = self.next_batch();
        match &item {
            None => {
                self.done = true;
                self.partial_tail = !self.buf.is_empty();
            }
            Some(Err(_)) => self.done = true,
            Some(Ok(_)) => {}
        }
        item
    }
}

/// Iterator over the records of one batch (v2 or legacy), yielding `Result<Record>`.
///
/// For a compressed batch the records section is decompressed on the first call to `next`,
/// into one buffer that all yielded records share. Iteration stops after the first error.
#[derive(Debug, Clone)]
pub struct Records {
    inner: RecordsInner,
}

#[derive(Debug, Clone)]
enum RecordsInner {
    V2(Box<V2Records>),
    Legacy(LegacyIter),
    Done,
}

#[derive(Debug, Clone)]
struct V2Records {
    /// Compressed section, codec and bound, until the first `next`.
    pending: Option<(Compression, Bytes, usize)>,
    data: Bytes,
    remaining: u32,
    ctx: RecordContext,
}

impl Records {
    pub(crate) fn v2(
        section: Bytes,
        codec: Compression,
        max: usize,
        count: u32,
        ctx: RecordContext,
    ) -> Records {
        let (pending, data) = if codec == Compression::None {
            (None, section)
        } else {
            (Some((codec, section, max)), Bytes::new())
        };
        Records {
            inner: RecordsInner::V2(Box::new(V2Records {
                pending,
                data,
                remaining: count,
                ctx,
            })),
        }
    }

    pub(crate) fn legacy(iter: LegacyIter) -> Records {
        Records {
            inner: RecordsInner::Legacy(iter),
        }
    }
}

impl V2Records {
    fn next_record(&mut self) -> Option<Result<Record>> {
        if let Some((codec, section, max)) = self.pending.take() {
            match compression::decompress(codec, &section, max) {
                Ok(d) => self.data = d,
                Err(e) => return Some(Err(e)),
            }
        }
        if self.remaining == 0 {
            if self.data.is_empty() {
                return None;
            }
            return Some(Err(ProtocolError::InvalidRecord(
                "record batch has bytes after its last record",
            )));
        }
        self.remaining -= 1;
        Some(record::decode_v2(&mut self.data, &self.ctx))
    }
}

impl Iterator for Records {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        let item = match &mut self.inner {
            RecordsInner::V2(v) => v.next_record(),
            RecordsInner::Legacy(l) => l.next_record(),
            RecordsInner::Done => return None,
        };
        if !matches!(item, Some(Ok(_))) {
            self.inner = RecordsInner::Done;
        }
        item
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
