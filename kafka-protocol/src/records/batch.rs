//! Record batches v2 (magic 2): the zero-copy reader [`RecordBatch`] and the writer
//! [`RecordBatchBuilder`].

use bytes::{Bytes, BytesMut};

use super::control::ControlRecord;
use super::record::{self, RecordContext};
use super::{
    NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, NO_TIMESTAMP,
    Records, TimestampType,
};
use crate::compression::{self, Compression, DEFAULT_MAX_DECOMPRESSED_SIZE};
use crate::error::{ProtocolError, Result};
use crate::primitives::{get_i8, get_i16, get_i32, get_i64, get_u32};

/// Size of the v2 batch header, up to and including the record count.
pub const RECORD_BATCH_OVERHEAD: usize = 61;
/// Size of the offset and length fields that start every batch or legacy entry.
pub const LOG_OVERHEAD: usize = 12;
/// Byte position of the CRC field in a v2 batch.
const CRC_OFFSET: usize = 17;
/// Byte position of the attributes field, where the CRC coverage starts.
const ATTRIBUTES_OFFSET: usize = 21;

const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_BIT: i16 = 1 << 3;
const TRANSACTIONAL_BIT: i16 = 1 << 4;
const CONTROL_BIT: i16 = 1 << 5;
const DELETE_HORIZON_BIT: i16 = 1 << 6;

/// A parsed v2 record batch over a shared [`Bytes`] buffer.
///
/// Parsing reads and checks the 61-byte header only; records are decoded lazily by
/// [`records`](RecordBatch::records), and the CRC is checked only by
/// [`validate_crc`](RecordBatch::validate_crc).
///
/// ```
/// use kafka_protocol::compression::Compression;
/// use kafka_protocol::records::{RecordBatch, RecordBatchBuilder};
///
/// let mut builder = RecordBatchBuilder::new(100).compression(Compression::Lz4);
/// builder.append(1_700_000_000_000, Some(b"key"), Some(b"value"), &[("trace", Some(b"abc".as_slice()))]).unwrap();
/// builder.append(1_700_000_000_001, None, None, &[]).unwrap();
/// let bytes = builder.build().unwrap();
///
/// let batch = RecordBatch::parse(bytes).unwrap();
/// batch.validate_crc().unwrap();
/// assert_eq!(batch.base_offset(), 100);
/// assert_eq!(batch.last_offset(), 101);
/// assert_eq!(batch.compression(), Compression::Lz4);
/// let records: Vec<_> = batch.records().collect::<Result<_, _>>().unwrap();
/// assert_eq!(records[0].key.as_deref(), Some(b"key".as_slice()));
/// assert_eq!(records[0].headers.to_vec()[0].0, "trace");
/// assert_eq!(records[1].offset, 101);
/// assert_eq!(records[1].value, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordBatch {
    buf: Bytes,
    base_offset: i64,
    partition_leader_epoch: i32,
    crc: u32,
    attributes: i16,
    compression: Compression,
    last_offset_delta: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    record_count: i32,
}

impl RecordBatch {
    /// Parses the batch at the front of `buf` (bytes after it are ignored).
    ///
    /// Checks the header: sizes, magic 2, a known compression codec and a non-negative record
    /// count. A batch whose length exceeds the bytes present is [`ProtocolError::Truncated`].
    pub fn parse(buf: Bytes) -> Result<RecordBatch> {
        if buf.len() < RECORD_BATCH_OVERHEAD {
            return Err(ProtocolError::Truncated {
                what: "record batch header",
                needed: RECORD_BATCH_OVERHEAD,
                remaining: buf.len(),
            });
        }
        let mut h = buf.clone();
        let base_offset = get_i64(&mut h)?;
        let batch_length = get_i32(&mut h)?;
        let partition_leader_epoch = get_i32(&mut h)?;
        let magic = get_i8(&mut h)?;
        if magic != 2 {
            return Err(ProtocolError::UnsupportedVersion {
                what: "record batch magic",
                version: magic.into(),
                min: 2,
                max: 2,
            });
        }
        let min_len = (RECORD_BATCH_OVERHEAD - LOG_OVERHEAD) as i32;
        if batch_length < min_len {
            return Err(ProtocolError::InvalidLength {
                what: "record batch length",
                length: batch_length.into(),
            });
        }
        let size = batch_length as usize + LOG_OVERHEAD;
        if size > buf.len() {
            return Err(ProtocolError::Truncated {
                what: "record batch",
                needed: size,
                remaining: buf.len(),
            });
        }
        let crc = get_u32(&mut h)?;
        let attributes = get_i16(&mut h)?;
        let compression = Compression::from_id((attributes & COMPRESSION_MASK) as u8)?;
        let last_offset_delta = get_i32(&mut h)?;
        let base_timestamp = get_i64(&mut h)?;
        let max_timestamp = get_i64(&mut h)?;
        let producer_id = get_i64(&mut h)?;
        let producer_epoch = get_i16(&mut h)?;
        let base_sequence = get_i32(&mut h)?;
        let record_count = get_i32(&mut h)?;
        if record_count < 0 {
            return Err(ProtocolError::InvalidLength {
                what: "record batch record count",
                length: record_count.into(),
            });
        }
        Ok(RecordBatch {
            buf: buf.slice(..size),
            base_offset,
            partition_leader_epoch,
            crc,
            attributes,
            compression,
            last_offset_delta,
            base_timestamp,
            max_timestamp,
            producer_id,
            producer_epoch,
            base_sequence,
            record_count,
        })
    }

    /// The whole batch, as found on the wire.
    pub fn as_bytes(&self) -> &Bytes {
        &self.buf
    }

    /// Size of the batch in bytes, including the offset and length fields.
    pub fn size_in_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Offset of the first record (`baseOffset`).
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Offset of the last record: `baseOffset + lastOffsetDelta`.
    pub fn last_offset(&self) -> i64 {
        self.base_offset.wrapping_add(self.last_offset_delta.into())
    }

    /// The offset after this batch: `last_offset() + 1`.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    /// `lastOffsetDelta`.
    pub fn last_offset_delta(&self) -> i32 {
        self.last_offset_delta
    }

    /// `batchLength`: size in bytes after the length field.
    pub fn batch_length(&self) -> i32 {
        (self.buf.len() - LOG_OVERHEAD) as i32
    }

    /// `partitionLeaderEpoch` (-1 when unknown).
    pub fn partition_leader_epoch(&self) -> i32 {
        self.partition_leader_epoch
    }

    /// Always 2.
    pub fn magic(&self) -> i8 {
        2
    }

    /// The stored CRC32C.
    pub fn crc(&self) -> u32 {
        self.crc
    }

    /// CRC32C computed over the batch from the attributes field to the end.
    pub fn compute_crc(&self) -> u32 {
        crc32c::crc32c(self.buf.get(ATTRIBUTES_OFFSET..).unwrap_or_default())
    }

    /// Checks the stored CRC against the batch contents.
    pub fn validate_crc(&self) -> Result<()> {
        let computed = self.compute_crc();
        if computed == self.crc {
            Ok(())
        } else {
            Err(ProtocolError::ChecksumMismatch {
                what: "record batch",
                stored: self.crc,
                computed,
            })
        }
    }

    /// The raw attributes field.
    pub fn attributes(&self) -> i16 {
        self.attributes
    }

    /// Compression codec of the records section.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Whether record timestamps are create times or the broker's log-append time.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// Whether the batch holds control records (transaction markers and the like).
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// The delete horizon (ms) when the batch has one: it is then stored as `baseTimestamp`.
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        (self.attributes & DELETE_HORIZON_BIT != 0).then_some(self.base_timestamp)
    }

    /// `baseTimestamp`: the first record's timestamp (or the delete horizon).
    pub fn base_timestamp(&self) -> i64 {
        self.base_timestamp
    }

    /// `maxTimestamp`: the largest record timestamp, or the log-append time.
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    /// `producerId` (-1 when not idempotent).
    pub fn producer_id(&self) -> i64 {
        self.producer_id
    }

    /// `producerEpoch` (-1 when not idempotent).
    pub fn producer_epoch(&self) -> i16 {
        self.producer_epoch
    }

    /// `baseSequence` (-1 when not idempotent).
    pub fn base_sequence(&self) -> i32 {
        self.base_sequence
    }

    /// Sequence number of the last record (wrapping at `i32::MAX` as Kafka does), or -1.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence == NO_SEQUENCE {
            return NO_SEQUENCE;
        }
        let next = i64::from(self.base_sequence) + i64::from(self.last_offset_delta);
        if next > i64::from(i32::MAX) {
            (next - i64::from(i32::MAX) - 1) as i32
        } else {
            next as i32
        }
    }

    /// The number of records announced by the header.
    pub fn record_count(&self) -> i32 {
        self.record_count
    }

    /// The (possibly compressed) records section.
    pub fn records_section(&self) -> Bytes {
        self.buf.slice(RECORD_BATCH_OVERHEAD..)
    }

    fn context(&self) -> RecordContext {
        RecordContext {
            base_offset: self.base_offset,
            base_timestamp: self.base_timestamp,
            log_append_time: (self.timestamp_type() == TimestampType::LogAppendTime)
                .then_some(self.max_timestamp),
        }
    }

    /// Iterates over the records, decompressing the records section (once, on the first call
    /// to `next`) with the default bound [`DEFAULT_MAX_DECOMPRESSED_SIZE`].
    ///
    /// Iteration stops after the first error. Exactly `record_count()` records must fill the
    /// records section.
    pub fn records(&self) -> Records {
        self.records_with_limit(DEFAULT_MAX_DECOMPRESSED_SIZE)
    }

    /// Like [`records`](RecordBatch::records), with a custom bound on the decompressed size.
    pub fn records_with_limit(&self, max_decompressed: usize) -> Records {
        Records::v2(
            self.records_section(),
            self.compression,
            max_decompressed,
            self.record_count as u32,
            self.context(),
        )
    }

    /// Decodes the control record of a control batch: `Ok(None)` for control types other than
    /// abort/commit markers. Fails if the batch is not a control batch or has no record.
    pub fn control_record(&self) -> Result<Option<ControlRecord>> {
        if !self.is_control() {
            return Err(ProtocolError::InvalidRecord("not a control batch"));
        }
        match self.records().next() {
            Some(r) => ControlRecord::parse(&r?),
            None => Err(ProtocolError::InvalidRecord("control batch has no record")),
        }
    }
}

/// Writes a v2 record batch.
///
/// Options are set with the chained methods before the first [`append`](Self::append).
/// Records are encoded straight into the output buffer as they are appended; [`build`](Self::build)
/// then fills in the header and CRC (and, for compressed batches, compresses the records section
/// once, right after the header). Offset deltas are sequential from 0.
///
/// ```
/// use kafka_protocol::compression::Compression;
/// use kafka_protocol::records::{RecordBatch, RecordBatchBuilder, TimestampType};
///
/// let mut b = RecordBatchBuilder::new(0)
///     .compression(Compression::Zstd)
///     .producer(42, 1, 7)
///     .transactional(true);
/// for i in 0..10u8 {
///     b.append(1000 + i64::from(i), Some(&[i]), Some(b"payload"), &[]).unwrap();
/// }
/// let batch = RecordBatch::parse(b.build().unwrap()).unwrap();
/// assert!(batch.is_transactional());
/// assert_eq!(batch.producer_id(), 42);
/// assert_eq!(batch.last_sequence(), 16);
/// assert_eq!(batch.timestamp_type(), TimestampType::CreateTime);
/// assert_eq!(batch.max_timestamp(), 1009);
/// assert_eq!(batch.records().count(), 10);
/// ```
#[derive(Debug, Clone)]
pub struct RecordBatchBuilder {
    base_offset: i64,
    partition_leader_epoch: i32,
    compression: Compression,
    level: Option<i32>,
    timestamp_type: TimestampType,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    transactional: bool,
    control: bool,
    delete_horizon: Option<i64>,
    base_timestamp: Option<i64>,
    max_timestamp: i64,
    count: i32,
    /// Header placeholder followed by the encoded (uncompressed) records.
    buf: BytesMut,
}

impl RecordBatchBuilder {
    /// A builder for a batch starting at `base_offset`, uncompressed, create-time timestamps,
    /// no producer id.
    pub fn new(base_offset: i64) -> RecordBatchBuilder {
        Self::with_capacity(base_offset, 0)
    }

    /// Like [`new`](Self::new), reserving room for `capacity` bytes of records.
    pub fn with_capacity(base_offset: i64, capacity: usize) -> RecordBatchBuilder {
        Self::with_buffer(base_offset, BytesMut::new(), capacity)
    }

    /// Like [`with_capacity`](Self::with_capacity), writing into `buf` (cleared first): a
    /// buffer kept from an earlier batch is reused without a new allocation when it is large
    /// enough, which is how a producer avoids fresh (page-faulting) memory for every batch.
    ///
    /// ```
    /// # use kafka_protocol::records::RecordBatchBuilder;
    /// let mut b = RecordBatchBuilder::with_buffer(0, bytes::BytesMut::with_capacity(4096), 1024);
    /// b.append(0, None, Some(b"v"), &[]).unwrap();
    /// let batch = b.build().unwrap();
    /// let reused = batch.try_into_mut().unwrap(); // the only handle: back to a buffer
    /// assert!(reused.capacity() >= 4096);
    /// ```
    pub fn with_buffer(base_offset: i64, mut buf: BytesMut, capacity: usize) -> RecordBatchBuilder {
        buf.clear();
        buf.reserve(RECORD_BATCH_OVERHEAD + capacity);
        buf.resize(RECORD_BATCH_OVERHEAD, 0);
        RecordBatchBuilder {
            base_offset,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            compression: Compression::None,
            level: None,
            timestamp_type: TimestampType::CreateTime,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            base_sequence: NO_SEQUENCE,
            transactional: false,
            control: false,
            delete_horizon: None,
            base_timestamp: None,
            max_timestamp: NO_TIMESTAMP,
            count: 0,
            buf,
        }
    }

    /// Compression codec for the records section.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Codec-specific compression level (see [`compression::compress`]); `None` is the default.
    pub fn compression_level(mut self, level: Option<i32>) -> Self {
        self.level = level;
        self
    }

    /// Timestamp type. With [`TimestampType::LogAppendTime`], pass the append time as each
    /// record's timestamp.
    pub fn timestamp_type(mut self, timestamp_type: TimestampType) -> Self {
        self.timestamp_type = timestamp_type;
        self
    }

    /// Producer id, epoch and the sequence number of the first record (idempotence).
    pub fn producer(mut self, producer_id: i64, producer_epoch: i16, base_sequence: i32) -> Self {
        self.producer_id = producer_id;
        self.producer_epoch = producer_epoch;
        self.base_sequence = base_sequence;
        self
    }

    /// Marks the batch as part of a transaction.
    pub fn transactional(mut self, transactional: bool) -> Self {
        self.transactional = transactional;
        self
    }

    /// Marks the batch as a control batch.
    pub fn control(mut self, control: bool) -> Self {
        self.control = control;
        self
    }

    /// The partition leader epoch (default -1).
    pub fn partition_leader_epoch(mut self, epoch: i32) -> Self {
        self.partition_leader_epoch = epoch;
        self
    }

    /// Sets a delete horizon (ms): it becomes `baseTimestamp` and attribute bit 6 is set.
    /// Must be set before the first append.
    pub fn delete_horizon(mut self, delete_horizon_ms: Option<i64>) -> Self {
        self.delete_horizon = delete_horizon_ms;
        self
    }

    /// Number of records appended so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no record was appended yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size the batch would have uncompressed, header included.
    pub fn uncompressed_size(&self) -> usize {
        self.buf.len()
    }

    /// The offset the next appended record will get.
    pub fn next_offset(&self) -> i64 {
        self.base_offset.wrapping_add(self.count.into())
    }

    /// Appends a record and returns its offset.
    ///
    /// The first record's timestamp becomes the batch's `baseTimestamp` (unless a delete
    /// horizon was set); later timestamps are stored as deltas and may be smaller.
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[(&str, Option<&[u8]>)],
    ) -> Result<i64> {
        if self.count == i32::MAX {
            return Err(ProtocolError::TooLong {
                what: "record batch record count",
                length: self.count as usize,
            });
        }
        let base_timestamp = *self
            .base_timestamp
            .get_or_insert(self.delete_horizon.unwrap_or(timestamp));
        let timestamp_delta = timestamp.wrapping_sub(base_timestamp);
        let offset_delta = self.count;
        let body_len = record::body_len_v2(timestamp_delta, offset_delta, key, value, headers)?;
        if self.buf.len().saturating_add(body_len + 5) > i32::MAX as usize {
            return Err(ProtocolError::TooLong {
                what: "record batch",
                length: self.buf.len() + body_len,
            });
        }
        record::encode_v2(
            &mut self.buf,
            body_len,
            timestamp_delta,
            offset_delta,
            key,
            value,
            headers,
        );
        self.count += 1;
        if timestamp > self.max_timestamp {
            self.max_timestamp = timestamp;
        }
        Ok(self.base_offset.wrapping_add(offset_delta.into()))
    }

    fn attributes(&self) -> i16 {
        let mut a = i16::from(self.compression.id());
        if self.timestamp_type == TimestampType::LogAppendTime {
            a |= TIMESTAMP_TYPE_BIT;
        }
        if self.transactional {
            a |= TRANSACTIONAL_BIT;
        }
        if self.control {
            a |= CONTROL_BIT;
        }
        if self.delete_horizon.is_some() {
            a |= DELETE_HORIZON_BIT;
        }
        a
    }

    fn write_header(&self, out: &mut BytesMut) -> Result<()> {
        let batch_length =
            i32::try_from(out.len() - LOG_OVERHEAD).map_err(|_| ProtocolError::TooLong {
                what: "record batch",
                length: out.len(),
            })?;
        let base_timestamp = self
            .delete_horizon
            .or(self.base_timestamp)
            .unwrap_or(NO_TIMESTAMP);
        let last_offset_delta = (self.count - 1).max(0);
        let mut h = [0u8; RECORD_BATCH_OVERHEAD];
        let mut w = Writer {
            buf: &mut h,
            pos: 0,
        };
        w.put(&self.base_offset.to_be_bytes());
        w.put(&batch_length.to_be_bytes());
        w.put(&self.partition_leader_epoch.to_be_bytes());
        w.put(&[2]);
        w.put(&[0; 4]); // CRC, filled below
        w.put(&self.attributes().to_be_bytes());
        w.put(&last_offset_delta.to_be_bytes());
        w.put(&base_timestamp.to_be_bytes());
        w.put(&self.max_timestamp.to_be_bytes());
        w.put(&self.producer_id.to_be_bytes());
        w.put(&self.producer_epoch.to_be_bytes());
        w.put(&self.base_sequence.to_be_bytes());
        w.put(&self.count.to_be_bytes());
        if let Some(dst) = out.get_mut(..RECORD_BATCH_OVERHEAD) {
            dst.copy_from_slice(&h);
        }
        let crc = crc32c::crc32c(out.get(ATTRIBUTES_OFFSET..).unwrap_or_default());
        if let Some(dst) = out.get_mut(CRC_OFFSET..ATTRIBUTES_OFFSET) {
            dst.copy_from_slice(&crc.to_be_bytes());
        }
        Ok(())
    }

    /// Finishes the batch: compresses the records section if a codec was chosen, writes the
    /// header and CRC, and returns the encoded batch.
    pub fn build(self) -> Result<Bytes> {
        if let Some(h) = self.delete_horizon
            && self.base_timestamp.is_some_and(|b| b != h)
        {
            return Err(ProtocolError::InvalidRecord(
                "delete horizon set after records were appended",
            ));
        }
        if self.compression == Compression::None {
            let mut this = self;
            let mut out = std::mem::take(&mut this.buf);
            this.write_header(&mut out)?;
            return Ok(out.freeze());
        }
        let records = self.buf.get(RECORD_BATCH_OVERHEAD..).unwrap_or_default();
        let mut out = BytesMut::with_capacity(RECORD_BATCH_OVERHEAD + records.len() / 2 + 64);
        out.resize(RECORD_BATCH_OVERHEAD, 0);
        compression::compress_into(self.compression, records, self.level, &mut out)?;
        self.write_header(&mut out)?;
        Ok(out.freeze())
    }

    /// Builds a control batch holding one transaction marker (commit or abort), as the
    /// transaction coordinator writes it: transactional and control attributes set, producer
    /// id and epoch of the transaction, no sequence.
    pub fn control_batch(
        base_offset: i64,
        timestamp: i64,
        partition_leader_epoch: i32,
        producer_id: i64,
        producer_epoch: i16,
        marker: ControlRecord,
    ) -> Result<Bytes> {
        let mut b = RecordBatchBuilder::new(base_offset)
            .partition_leader_epoch(partition_leader_epoch)
            .producer(producer_id, producer_epoch, NO_SEQUENCE)
            .transactional(true)
            .control(true);
        let key = marker.key_bytes();
        let value = marker.value_bytes();
        b.append(timestamp, Some(&key), Some(&value), &[])?;
        b.build()
    }
}

/// Writes into a fixed array; the caller sizes the array exactly.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, data: &[u8]) {
        let end = self.pos + data.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(data);
        }
        self.pos = end;
    }
}
