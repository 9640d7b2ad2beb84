//! The partition log: Kafka's storage engine for one topic partition.
//!
//! A [`PartitionLog`] owns one directory holding:
//!
//! * segments named by their base offset (20 digits): `<base>.log` with the record batches
//!   exactly as received (only `baseOffset`, `partitionLeaderEpoch` and, for log-append time,
//!   `maxTimestamp`/attributes/CRC rewritten), `<base>.index` (sparse offset → position) and
//!   `<base>.timeindex` (sparse timestamp → offset);
//! * `<offset>.snapshot`: idempotent producer state;
//! * `leader-epoch-checkpoint`: leader epoch → start offset;
//! * `partition.checkpoint`: log start offset, recovery point and cleaner checkpoint;
//! * `.clean-shutdown`: present only between [`PartitionLog::close`] and the next open.
//!
//! # Durability
//!
//! Appends are written to the segment file with one positional `write` per request, so a
//! returned append survives a crash of the broker process (the data is in the OS page cache).
//! Whether it survives an OS crash or power loss depends on [`LogConfig`]:
//!
//! * `flush_interval_messages: Some(1)`: every append is `fsync`ed (`fdatasync`) before
//!   [`PartitionLog::append`] returns: an acknowledged batch is on disk.
//! * `flush_interval_messages: Some(n)`: the log is fsynced once `n` records were appended
//!   since the last flush; up to `n - 1` acknowledged records can be lost on power loss.
//! * `flush_interval_ms: Some(t)`: the log is fsynced by the first append or
//!   [`PartitionLog::maintain`] call at least `t` ms after the last flush; acknowledged data
//!   of roughly the last `t` ms (plus the maintenance period) can be lost on power loss.
//! * both `None` (Kafka's default): durability is left to the OS writeback and to the
//!   fsyncs at segment roll, [`PartitionLog::flush`] and [`PartitionLog::close`]; Kafka relies
//!   on replication instead, which a single node does not have.
//!
//! After a crash, [`PartitionLog::open`] validates every batch after the recovery point
//! (CRC, structure, increasing offsets), truncates at the first invalid or torn one and
//! rebuilds the indexes. A batch that was fsynced is never cut: it precedes any torn write.
//!
//! ```
//! use bytes::Bytes;
//! use kafka_broker::log::{LogConfig, PartitionLog};
//! use kafka_protocol::records::{RecordBatchBuilder, RecordBatches};
//!
//! let dir = std::env::temp_dir().join(format!("log-doc-{}", std::process::id()));
//! let _ = std::fs::remove_dir_all(&dir);
//! let mut log = PartitionLog::open(dir.clone(), LogConfig::default())?;
//! let mut b = RecordBatchBuilder::new(0);
//! b.append(1_000, Some(b"k"), Some(b"v"), &[]).unwrap();
//! let out = log.append(b.build().unwrap(), 0, 1_000)?;
//! assert_eq!((out.base_offset, out.last_offset), (0, 0));
//!
//! let read = log.read(0, 1 << 20, true)?;
//! let batch = RecordBatches::new(read.records).next().unwrap().unwrap();
//! assert_eq!(batch.base_offset(), 0);
//! assert_eq!(read.high_watermark, 1);
//! log.close()?;
//!
//! let log = PartitionLog::open(dir, LogConfig::default())?;
//! assert_eq!(log.log_end_offset(), 1);
//! log.delete()?;
//! # Ok::<(), kafka_broker::log::LogError>(())
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use kafka_protocol::ErrorCode;
use kafka_protocol::records::{Batch, RECORD_BATCH_OVERHEAD, RecordBatches};

mod cleaner;
mod epoch_cache;
mod index;
pub mod producer_state;
mod recovery;
mod retention;
mod segment;
mod time_index;
mod txn_index;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;

use epoch_cache::LeaderEpochCache;
use producer_state::{ProducerStateManager, SequenceCheck};
use segment::{AppendedBatch, BatchHeader, Segment};

pub use cleaner::{CleanerStats, MIN_CLEANABLE_DIRTY_RATIO};
pub use txn_index::AbortedTxn;

/// What happens to old data (`cleanup.policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CleanupPolicy {
    /// Delete segments by time and size retention.
    #[default]
    Delete,
    /// Keep the latest record per key (log compaction).
    Compact,
    /// Both compaction and retention.
    CompactDelete,
}

impl CleanupPolicy {
    /// Whether retention deletes segments.
    pub fn deletes(self) -> bool {
        matches!(self, CleanupPolicy::Delete | CleanupPolicy::CompactDelete)
    }

    /// Whether the log is compacted.
    pub fn compacts(self) -> bool {
        matches!(self, CleanupPolicy::Compact | CleanupPolicy::CompactDelete)
    }
}

/// Which timestamp the log keeps (`message.timestamp.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogTimestampType {
    /// The producer's timestamps.
    #[default]
    CreateTime,
    /// The broker's append time replaces them.
    LogAppendTime,
}

/// Per-partition log settings; `Default` is Kafka's defaults.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Roll a segment when it would exceed this size (`segment.bytes`, default 1 GiB).
    pub segment_bytes: u64,
    /// Roll a segment this long after its first batch's timestamp (`segment.ms`, 7 days).
    pub segment_ms: Option<u64>,
    /// Delete segments whose newest timestamp is older than this (`retention.ms`, 7 days);
    /// `None` keeps data forever.
    pub retention_ms: Option<i64>,
    /// Delete old segments while the log is larger than this (`retention.bytes`); `None`
    /// (default) for no limit.
    pub retention_bytes: Option<u64>,
    /// Delete, compact or both (`cleanup.policy`).
    pub cleanup_policy: CleanupPolicy,
    /// How long compaction keeps tombstones (`delete.retention.ms`, 1 day).
    pub delete_retention_ms: u64,
    /// Records younger than this are not compacted (`min.compaction.lag.ms`, 0).
    pub min_compaction_lag_ms: u64,
    /// Largest accepted batch in bytes (`max.message.bytes`, 1048588).
    pub max_message_bytes: usize,
    /// Create time or log-append time (`message.timestamp.type`).
    pub timestamp_type: LogTimestampType,
    /// Bytes between offset index entries (`index.interval.bytes`, 4096).
    pub index_interval_bytes: usize,
    /// Fsync after this many appended records (`flush.messages`); `None` leaves it to the OS.
    /// See the [module docs](self#durability).
    pub flush_interval_messages: Option<u64>,
    /// Fsync when this long has passed since the last flush (`flush.ms`); `None` leaves it to
    /// the OS.
    pub flush_interval_ms: Option<u64>,
}

impl Default for LogConfig {
    fn default() -> Self {
        const DAY_MS: u64 = 24 * 60 * 60 * 1000;
        LogConfig {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: Some(7 * DAY_MS),
            retention_ms: Some(7 * DAY_MS as i64),
            retention_bytes: None,
            cleanup_policy: CleanupPolicy::Delete,
            delete_retention_ms: DAY_MS,
            min_compaction_lag_ms: 0,
            max_message_bytes: 1_048_588,
            timestamp_type: LogTimestampType::CreateTime,
            index_interval_bytes: 4096,
            flush_interval_messages: None,
            flush_interval_ms: None,
        }
    }
}

/// Everything the log can fail with; [`LogError::error_code`] gives the Kafka error code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A filesystem operation failed (`KAFKA_STORAGE_ERROR`).
    #[error("log I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// A batch failed its CRC or its framing is broken (`CORRUPT_MESSAGE`).
    #[error("corrupt record: {0}")]
    CorruptRecord(String),
    /// A batch or record is structurally invalid or breaks a rule (`INVALID_RECORD`).
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// A batch is larger than `max.message.bytes` (`MESSAGE_TOO_LARGE`).
    #[error("batch of {size} bytes exceeds max.message.bytes {max}")]
    RecordTooLarge {
        /// Batch size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The request's batches are larger than a segment (`RECORD_LIST_TOO_LARGE`).
    #[error("record set of {size} bytes exceeds segment.bytes {segment_bytes}")]
    RecordSetTooLarge {
        /// Total size.
        size: usize,
        /// The segment size.
        segment_bytes: u64,
    },
    /// The offset is outside the log (`OFFSET_OUT_OF_RANGE`).
    #[error("offset {requested} out of range [{start}, {end}]")]
    OffsetOutOfRange {
        /// Requested offset.
        requested: i64,
        /// Log start offset.
        start: i64,
        /// Log end offset.
        end: i64,
    },
    /// An idempotent batch's sequence does not follow the last one (`OUT_OF_ORDER_SEQUENCE_NUMBER`).
    #[error(
        "out of order sequence for producer {producer_id}: expected {expected}, got {received}"
    )]
    OutOfOrderSequence {
        /// Producer id.
        producer_id: i64,
        /// Expected sequence.
        expected: i32,
        /// Received sequence.
        received: i32,
    },
    /// The batch's producer epoch is older than the current one (`INVALID_PRODUCER_EPOCH`).
    #[error("producer {producer_id} epoch {received} is older than current epoch {current}")]
    InvalidProducerEpoch {
        /// Producer id.
        producer_id: i64,
        /// Current epoch.
        current: i16,
        /// Received epoch.
        received: i16,
    },
    /// The producer id is unknown (`UNKNOWN_PRODUCER_ID`). Like Kafka 2.5+, the log accepts
    /// unknown producers at any sequence, so append does not return this today.
    #[error("unknown producer id {0}")]
    UnknownProducerId(i64),
    /// A create-time timestamp is outside the accepted window (`INVALID_TIMESTAMP`).
    #[error("timestamp {timestamp} is out of the accepted range at {now}")]
    InvalidTimestamp {
        /// The record's timestamp.
        timestamp: i64,
        /// The broker's time.
        now: i64,
    },
    /// A batch is not magic 2 (`INVALID_RECORD`, as Kafka's produce validation).
    #[error("unsupported record batch magic {0}")]
    UnsupportedMagic(i8),
    /// Stored data is inconsistent in a way recovery did not repair (`KAFKA_STORAGE_ERROR`).
    #[error("log storage inconsistency: {0}")]
    Storage(String),
}

impl LogError {
    /// The Kafka error code to answer with.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            LogError::Io(_) | LogError::Storage(_) => ErrorCode::KafkaStorageError,
            LogError::CorruptRecord(_) => ErrorCode::CorruptMessage,
            LogError::InvalidRecord(_) | LogError::UnsupportedMagic(_) => ErrorCode::InvalidRecord,
            LogError::RecordTooLarge { .. } => ErrorCode::MessageTooLarge,
            LogError::RecordSetTooLarge { .. } => ErrorCode::RecordListTooLarge,
            LogError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
            LogError::OutOfOrderSequence { .. } => ErrorCode::OutOfOrderSequenceNumber,
            LogError::InvalidProducerEpoch { .. } => ErrorCode::InvalidProducerEpoch,
            LogError::UnknownProducerId(_) => ErrorCode::UnknownProducerId,
            LogError::InvalidTimestamp { .. } => ErrorCode::InvalidTimestamp,
        }
    }
}

/// Who is appending: decides which checks apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AppendOrigin {
    /// A producer's Produce request: control batches are refused; idempotent sequence and
    /// epoch checks apply.
    #[default]
    Client,
    /// The broker's own coordinators (transaction markers, internal topics): control batches
    /// allowed, only producer epochs are checked.
    Coordinator,
}

/// The result of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Offset of the first record.
    pub base_offset: i64,
    /// Offset of the last record.
    pub last_offset: i64,
    /// The append time for log-append-time topics, -1 otherwise.
    pub log_append_time: i64,
    /// The log start offset after the append.
    pub log_start_offset: i64,
    /// True when the batch was a retry of one already in the log: nothing was written and the
    /// offsets are the original ones.
    pub duplicate: bool,
}

/// The result of a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOutcome {
    /// Whole batches starting with the one holding the requested offset (possibly empty).
    pub records: Bytes,
    /// High watermark (the log end offset on a single node).
    pub high_watermark: i64,
    /// Last stable offset: the first offset of the earliest ongoing transaction, or the high
    /// watermark.
    pub last_stable_offset: i64,
    /// Log start offset.
    pub log_start_offset: i64,
}

/// The state of one producer of a partition, as DescribeProducers reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerInfo {
    /// The producer id.
    pub producer_id: i64,
    /// Its current epoch.
    pub producer_epoch: i16,
    /// The last sequence number written (-1 if none is remembered).
    pub last_sequence: i32,
    /// The largest timestamp of its last batch.
    pub last_timestamp: i64,
    /// The coordinator epoch of its last transaction marker (-1 if none).
    pub coordinator_epoch: i32,
    /// The first offset of its open transaction (-1 if none).
    pub current_txn_start_offset: i64,
}

/// Kafka's default `log.message.timestamp.before.max.ms` (no limit).
pub const DEFAULT_TIMESTAMP_BEFORE_MAX_MS: i64 = i64::MAX;
/// Kafka's default `log.message.timestamp.after.max.ms` (1 hour, since Kafka 4.0).
pub const DEFAULT_TIMESTAMP_AFTER_MAX_MS: i64 = 3_600_000;

/// The log of one partition. See the [module docs](self) for files and durability.
///
/// ```
/// use kafka_broker::log::{LogConfig, PartitionLog};
/// use kafka_protocol::records::RecordBatchBuilder;
///
/// let dir = std::env::temp_dir().join(format!("partition-log-example-{}", std::process::id()));
/// let _ = std::fs::remove_dir_all(&dir);
/// let config = LogConfig { flush_interval_messages: Some(1), ..LogConfig::default() };
/// let mut log = PartitionLog::open(dir.clone(), config.clone())?;
/// let now = 1_700_000_000_000;
/// for i in 0..3 {
///     let mut b = RecordBatchBuilder::new(0).producer(42, 0, i * 2);
///     b.append(now, Some(b"key"), Some(b"a"), &[]).unwrap();
///     b.append(now + 1, Some(b"key"), Some(b"b"), &[]).unwrap();
///     let out = log.append(b.build().unwrap(), 0, now)?;
///     assert_eq!(out.base_offset, i64::from(i) * 2);
/// }
/// // A retried batch is recognised and not written again.
/// let mut retry = RecordBatchBuilder::new(0).producer(42, 0, 2);
/// retry.append(now, Some(b"key"), Some(b"a"), &[]).unwrap();
/// retry.append(now + 1, Some(b"key"), Some(b"b"), &[]).unwrap();
/// let dup = log.append(retry.build().unwrap(), 0, now)?;
/// assert!(dup.duplicate);
/// assert_eq!((dup.base_offset, dup.last_offset), (2, 3));
/// assert_eq!(log.log_end_offset(), 6);
/// assert_eq!(log.offset_for_timestamp(now + 1)?, Some((1, now + 1)));
/// assert_eq!(log.end_offset_for_epoch(0), (0, 6));
/// log.delete()?;
/// # Ok::<(), kafka_broker::log::LogError>(())
/// ```
#[derive(Debug)]
pub struct PartitionLog {
    dir: PathBuf,
    config: LogConfig,
    segments: BTreeMap<i64, Segment>,
    log_start_offset: i64,
    next_offset: i64,
    recovery_point: i64,
    cleaner_checkpoint: i64,
    producers: ProducerStateManager,
    epochs: LeaderEpochCache,
    unflushed_messages: u64,
    last_flush_ms: i64,
    timestamp_before_max_ms: i64,
    timestamp_after_max_ms: i64,
    /// Earliest delete horizon of a tombstone kept by the cleaner (a pass is then due).
    tombstone_horizon: Option<i64>,
}

/// What validation learned about one incoming batch.
struct IncomingBatch {
    /// Position in the request buffer.
    pos: usize,
    header: BatchHeader,
    /// Largest record timestamp.
    max_timestamp: i64,
    /// For a transaction marker: whether it aborts.
    aborts: bool,
}

fn put_at(buf: &mut [u8], at: usize, data: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at + data.len()) {
        dst.copy_from_slice(data);
    }
}

impl PartitionLog {
    /// Overrides the accepted create-time window (Kafka's
    /// `message.timestamp.before.max.ms` / `after.max.ms`; defaults
    /// [`DEFAULT_TIMESTAMP_BEFORE_MAX_MS`] and [`DEFAULT_TIMESTAMP_AFTER_MAX_MS`]).
    pub fn set_timestamp_limits(&mut self, before_max_ms: i64, after_max_ms: i64) {
        self.timestamp_before_max_ms = before_max_ms;
        self.timestamp_after_max_ms = after_max_ms;
    }

    /// The partition directory.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The current configuration.
    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Appends a Produce request's `records` (one or more v2 batches) as a client's write.
    /// See [`append_with_origin`](Self::append_with_origin).
    pub fn append(
        &mut self,
        records: Bytes,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendOutcome, LogError> {
        self.append_with_origin(records, leader_epoch, now_ms, AppendOrigin::Client)
    }

    /// Validates and appends batches: assigns offsets from the log end, stamps
    /// `leader_epoch` as every batch's partition leader epoch, applies log-append time, checks
    /// idempotent producers, and writes all batches with one write (fsynced per the flush
    /// settings). Either every batch is appended or none.
    pub fn append_with_origin(
        &mut self,
        records: Bytes,
        leader_epoch: i32,
        now_ms: i64,
        origin: AppendOrigin,
    ) -> Result<AppendOutcome, LogError> {
        let incoming = self.validate(&records, origin, now_ms)?;
        let total = records.len();
        if total as u64 > self.config.segment_bytes {
            return Err(LogError::RecordSetTooLarge {
                size: total,
                segment_bytes: self.config.segment_bytes,
            });
        }
        let log_append = self.config.timestamp_type == LogTimestampType::LogAppendTime;

        // Assign offsets (in the parsed headers only, for now).
        let mut headers: Vec<BatchHeader> = Vec::with_capacity(incoming.len());
        let mut next = self.next_offset;
        for b in &incoming {
            let mut h = b.header;
            h.base_offset = next;
            h.partition_leader_epoch = leader_epoch;
            h.max_timestamp = if log_append { now_ms } else { b.max_timestamp };
            next = h.last_offset() + 1;
            headers.push(h);
        }

        // Producer state checks, staged so that several batches of one producer chain.
        let mut staged: Vec<(i64, producer_state::ProducerEntry)> = Vec::new();
        // Transactions aborted by markers of this append: (producer, first offset, marker).
        let mut aborted: Vec<(i64, i64, i64)> = Vec::new();
        for (b, h) in incoming.iter().zip(&headers) {
            if h.producer_id < 0 {
                continue;
            }
            let current = staged
                .iter()
                .rev()
                .find(|(id, _)| *id == h.producer_id)
                .map(|(_, e)| e)
                .or_else(|| self.producers.get(h.producer_id));
            match origin {
                AppendOrigin::Client => {
                    if let SequenceCheck::Duplicate {
                        first_offset,
                        last_offset,
                    } = ProducerStateManager::check(current, h)?
                    {
                        let log_append_time = if log_append {
                            current
                                .and_then(|e| {
                                    e.batches.iter().find(|m| m.first_offset == first_offset)
                                })
                                .map_or(-1, |m| m.timestamp)
                        } else {
                            -1
                        };
                        return Ok(AppendOutcome {
                            base_offset: first_offset,
                            last_offset,
                            log_append_time,
                            log_start_offset: self.log_start_offset,
                            duplicate: true,
                        });
                    }
                }
                AppendOrigin::Coordinator => {
                    if let Some(e) = current
                        && h.producer_epoch < e.epoch
                    {
                        return Err(LogError::InvalidProducerEpoch {
                            producer_id: h.producer_id,
                            current: e.epoch,
                            received: h.producer_epoch,
                        });
                    }
                }
            }
            if b.aborts
                && let Some(first) = current.and_then(|e| e.txn_first_offset)
            {
                aborted.push((h.producer_id, first, h.base_offset));
            }
            let updated = ProducerStateManager::apply(current, h);
            staged.push((h.producer_id, updated));
        }

        // Roll if the active segment cannot take the batches.
        let last_offset = next - 1;
        let must_roll = self.active().is_some_and(|s| {
            s.should_roll(
                total as u64,
                last_offset,
                self.config.segment_bytes,
                self.config.segment_ms,
                now_ms,
            )
        });
        if must_roll {
            self.roll(now_ms)?;
        }

        // Each batch goes to disk as a patched copy of its 61-byte header (offsets, leader epoch,
        // and for log-append time the attributes, max timestamp and CRC) followed by its
        // records exactly as received: the records are never copied, and the request's buffer
        // is free for reuse once the append returns.
        let mut heads = BytesMut::with_capacity(RECORD_BATCH_OVERHEAD * incoming.len());
        let mut parts: Vec<Bytes> = Vec::with_capacity(2 * incoming.len());
        let mut appended = Vec::with_capacity(headers.len());
        for (b, h) in incoming.iter().zip(&headers) {
            let p = b.pos;
            let size = h.size() as usize;
            let (Some(head), Some(_)) = (
                records.get(p..p + RECORD_BATCH_OVERHEAD),
                records.get(p + RECORD_BATCH_OVERHEAD..p + size),
            ) else {
                return Err(LogError::CorruptRecord(
                    "batch extends past the request".into(),
                ));
            };
            let body = records.slice(p + RECORD_BATCH_OVERHEAD..p + size);
            heads.extend_from_slice(head);
            let mut head = heads.split();
            put_at(&mut head, 0, &h.base_offset.to_be_bytes());
            put_at(&mut head, 12, &leader_epoch.to_be_bytes());
            let want_attr = if log_append {
                b.header.attributes | (1 << 3)
            } else {
                b.header.attributes & !(1 << 3)
            };
            if want_attr != b.header.attributes || h.max_timestamp != b.header.max_timestamp {
                put_at(&mut head, 21, &want_attr.to_be_bytes());
                put_at(&mut head, 35, &h.max_timestamp.to_be_bytes());
                let crc = crc32c::crc32c_append(
                    crc32c::crc32c(head.get(21..).unwrap_or_default()),
                    &body,
                );
                put_at(&mut head, 17, &crc.to_be_bytes());
            }
            parts.push(head.freeze());
            parts.push(body);
            appended.push(AppendedBatch {
                base_offset: h.base_offset,
                last_offset: h.last_offset(),
                max_timestamp: h.max_timestamp,
                size: size as u64,
            });
        }
        let interval = self.config.index_interval_bytes;
        let active = self.active_mut()?;
        active.append(&parts, &appended, interval)?;

        // Commit the in-memory state.
        let base_offset = headers.first().map_or(self.next_offset, |h| h.base_offset);
        self.next_offset = next;
        for (id, e) in staged {
            self.producers.put(id, e);
        }
        self.producers.set_map_end_offset(next);
        if !aborted.is_empty() {
            let lso = self.last_stable_offset();
            let active = self.active_mut()?;
            for (producer_id, first_offset, last_offset) in aborted {
                active.append_aborted(AbortedTxn {
                    producer_id,
                    first_offset,
                    last_offset,
                    last_stable_offset: lso,
                })?;
            }
        }
        if self.epochs.assign(leader_epoch, base_offset) {
            self.epochs.persist()?;
        }
        let count: u64 = headers.iter().map(|h| h.record_count.max(0) as u64).sum();
        self.unflushed_messages += count;
        self.maybe_flush(now_ms)?;
        Ok(AppendOutcome {
            base_offset,
            last_offset,
            log_append_time: if log_append { now_ms } else { -1 },
            log_start_offset: self.log_start_offset,
            duplicate: false,
        })
    }

    /// Parses and checks every batch of a request (Kafka's `LogValidator` rules).
    fn validate(
        &self,
        records: &Bytes,
        origin: AppendOrigin,
        now_ms: i64,
    ) -> Result<Vec<IncomingBatch>, LogError> {
        let compacted = self.config.cleanup_policy.compacts();
        let create_time = self.config.timestamp_type == LogTimestampType::CreateTime;
        let mut out = Vec::with_capacity(1);
        let mut iter = RecordBatches::new(records.clone());
        let mut pos = 0usize;
        for item in &mut iter {
            let batch = item.map_err(|e| LogError::CorruptRecord(e.to_string()))?;
            let b = match batch {
                Batch::V2(b) => b,
                Batch::Legacy(l) => return Err(LogError::UnsupportedMagic(l.magic())),
            };
            let size = b.size_in_bytes();
            if size > self.config.max_message_bytes {
                return Err(LogError::RecordTooLarge {
                    size,
                    max: self.config.max_message_bytes,
                });
            }
            b.validate_crc()
                .map_err(|e| LogError::CorruptRecord(e.to_string()))?;
            let header = BatchHeader::parse(b.as_bytes())
                .ok_or_else(|| LogError::CorruptRecord("invalid batch header".into()))?;
            let count = b.record_count();
            if count <= 0 || i64::from(count) != i64::from(b.last_offset_delta()) + 1 {
                return Err(LogError::InvalidRecord(format!(
                    "batch record count {count} does not match last offset delta {}",
                    b.last_offset_delta()
                )));
            }
            if b.is_control() && origin == AppendOrigin::Client {
                return Err(LogError::InvalidRecord(
                    "clients may not write control batches".into(),
                ));
            }
            let aborts = if b.is_control() {
                match b.control_record() {
                    Ok(Some(c)) => c.kind == kafka_protocol::records::ControlRecordKind::Abort,
                    Ok(None) => false,
                    Err(e) => return Err(LogError::InvalidRecord(e.to_string())),
                }
            } else {
                false
            };
            if b.is_transactional() && b.producer_id() < 0 {
                return Err(LogError::InvalidRecord(
                    "transactional batch without producer id".into(),
                ));
            }
            if origin == AppendOrigin::Client && b.producer_id() >= 0 && b.base_sequence() < 0 {
                return Err(LogError::InvalidRecord(
                    "idempotent batch without sequence number".into(),
                ));
            }
            let mut max_timestamp = -1i64;
            let mut n = 0i64;
            for r in b.records() {
                let r = r.map_err(|e| LogError::InvalidRecord(e.to_string()))?;
                if r.offset != b.base_offset().wrapping_add(n) {
                    return Err(LogError::InvalidRecord(format!(
                        "record offset delta {} at position {n}",
                        r.offset.wrapping_sub(b.base_offset())
                    )));
                }
                n += 1;
                if compacted && r.key.is_none() && !b.is_control() {
                    return Err(LogError::InvalidRecord(
                        "compacted topic cannot accept message without key".into(),
                    ));
                }
                if create_time && r.timestamp != -1 {
                    let too_old = now_ms.saturating_sub(r.timestamp) > self.timestamp_before_max_ms;
                    let too_new = r.timestamp.saturating_sub(now_ms) > self.timestamp_after_max_ms;
                    if too_old || too_new || r.timestamp < -1 {
                        return Err(LogError::InvalidTimestamp {
                            timestamp: r.timestamp,
                            now: now_ms,
                        });
                    }
                }
                max_timestamp = max_timestamp.max(r.timestamp);
            }
            if n != i64::from(count) {
                return Err(LogError::InvalidRecord(format!(
                    "batch declares {count} records, holds {n}"
                )));
            }
            out.push(IncomingBatch {
                pos,
                header,
                max_timestamp,
                aborts,
            });
            pos += size;
        }
        if iter.has_partial_tail() {
            return Err(LogError::CorruptRecord(
                "record set ends with a partial batch".into(),
            ));
        }
        if out.is_empty() {
            return Err(LogError::InvalidRecord("no record batch in request".into()));
        }
        Ok(out)
    }

    fn active(&self) -> Option<&Segment> {
        self.segments.values().next_back()
    }

    fn active_mut(&mut self) -> Result<&mut Segment, LogError> {
        self.segments
            .values_mut()
            .next_back()
            .ok_or_else(|| LogError::Storage("log has no segment".into()))
    }

    /// Seals the active segment and starts a new one at the log end offset.
    fn roll(&mut self, now_ms: i64) -> Result<(), LogError> {
        if let Some(active) = self.segments.values_mut().next_back() {
            if active.is_empty() {
                return Ok(());
            }
            active.seal()?;
        }
        let seg = Segment::create(&self.dir, self.next_offset, now_ms)?;
        self.segments.insert(self.next_offset, seg);
        index::sync_dir(&self.dir)?;
        self.recovery_point = self.next_offset;
        self.unflushed_messages = 0;
        self.producers.write_snapshot(&self.dir, false)?;
        self.write_checkpoint()?;
        Ok(())
    }

    fn maybe_flush(&mut self, now_ms: i64) -> Result<(), LogError> {
        let by_count = self
            .config
            .flush_interval_messages
            .is_some_and(|n| self.unflushed_messages >= n.max(1));
        let by_time = self.config.flush_interval_ms.is_some_and(|ms| {
            self.unflushed_messages > 0
                && now_ms.saturating_sub(self.last_flush_ms)
                    >= i64::try_from(ms).unwrap_or(i64::MAX)
        });
        if by_count || by_time {
            // The hot-path flush: the segment data only. Indexes and checkpoints are rebuilt
            // or rewritten by recovery and by `flush`.
            self.active_mut()?.sync_log()?;
            self.unflushed_messages = 0;
            self.last_flush_ms = now_ms;
        }
        Ok(())
    }

    /// Reads whole batches from the one holding `offset`, at most `max_bytes` (but the first
    /// batch whatever its size when `min_one_batch`). Reads never span segments. Offsets in a
    /// gap left by compaction return the next batch. `offset` outside
    /// `[log_start_offset, log_end_offset]` is [`LogError::OffsetOutOfRange`]; at the log end
    /// the records are empty.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<ReadOutcome, LogError> {
        let outcome = |records| ReadOutcome {
            records,
            high_watermark: self.high_watermark(),
            last_stable_offset: self.last_stable_offset(),
            log_start_offset: self.log_start_offset,
        };
        if offset < self.log_start_offset || offset > self.next_offset {
            return Err(self.out_of_range(offset));
        }
        if offset == self.next_offset {
            return Ok(outcome(Bytes::new()));
        }
        let start_key = self
            .segments
            .range(..=offset)
            .next_back()
            .map_or(offset, |(k, _)| *k);
        for seg in self.segments.range(start_key..).map(|(_, s)| s) {
            if let Some(data) = seg.read(offset, max_bytes, min_one_batch)? {
                return Ok(outcome(data));
            }
        }
        Ok(outcome(Bytes::new()))
    }

    /// A `read_committed` read: as [`read`](Self::read), but only batches that end below the
    /// last stable offset, with the aborted transactions that overlap the returned range
    /// (marker at or after `offset`, first offset below the end of the data), oldest first.
    pub fn read_committed(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<(ReadOutcome, Vec<AbortedTxn>), LogError> {
        let mut out = self.read(offset, max_bytes, min_one_batch)?;
        let lso = out.last_stable_offset;
        let mut end = 0usize;
        let mut upper = offset;
        while let Some(h) = out.records.get(end..).and_then(BatchHeader::parse) {
            let Ok(size) = usize::try_from(h.size()) else {
                break;
            };
            if h.last_offset() >= lso || end + size > out.records.len() {
                break;
            }
            end += size;
            upper = h.last_offset() + 1;
        }
        out.records.truncate(end);
        let mut aborted = Vec::new();
        if end > 0 {
            let start_key = self
                .segments
                .range(..=offset)
                .next_back()
                .map_or(offset, |(k, _)| *k);
            for seg in self.segments.range(start_key..).map(|(_, s)| s) {
                if seg.base_offset >= upper {
                    break;
                }
                seg.collect_aborted(offset, upper, &mut aborted);
            }
        }
        Ok((out, aborted))
    }

    /// Every aborted transaction still indexed, oldest marker first.
    pub fn aborted_transactions(&self) -> Vec<AbortedTxn> {
        self.segments
            .values()
            .flat_map(|s| s.aborted().iter().copied())
            .collect()
    }

    fn out_of_range(&self, offset: i64) -> LogError {
        LogError::OffsetOutOfRange {
            requested: offset,
            start: self.log_start_offset,
            end: self.next_offset,
        }
    }

    /// The first offset readable.
    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    /// The offset the next appended record will get.
    pub fn log_end_offset(&self) -> i64 {
        self.next_offset
    }

    /// The high watermark: the log end offset on a single node.
    pub fn high_watermark(&self) -> i64 {
        self.next_offset
    }

    /// The last stable offset: the first offset of the earliest ongoing transaction, or the
    /// high watermark.
    pub fn last_stable_offset(&self) -> i64 {
        self.producers
            .first_unstable_offset()
            .map_or(self.high_watermark(), |o| o.min(self.high_watermark()))
    }

    /// The first record with a timestamp `>= ts` (ListOffsets), with its timestamp. Kafka's
    /// special values are answered too: -2 (earliest) gives `(log start, -1)`, -1 (latest)
    /// `(log end, -1)`, -3 (max timestamp) the record with the largest timestamp.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        match ts {
            -2 => return Ok(Some((self.log_start_offset, -1))),
            -1 => return Ok(Some((self.next_offset, -1))),
            -3 => return Ok(self.max_timestamp().map(|(t, o)| (o, t))),
            t if t < 0 => return Ok(None),
            _ => {}
        }
        for seg in self.segments.values() {
            if seg.max_timestamp() < ts || seg.next_offset() <= self.log_start_offset {
                continue;
            }
            let pos = seg.time_lookup_position(ts);
            let mut reader = seg.batches_at(pos);
            loop {
                match reader.next_batch()? {
                    segment::ReadItem::Batch(_, b) => {
                        if b.max_timestamp() < ts || b.last_offset() < self.log_start_offset {
                            continue;
                        }
                        for r in b.records() {
                            let r = r.map_err(|e| LogError::CorruptRecord(e.to_string()))?;
                            if r.timestamp >= ts && r.offset >= self.log_start_offset {
                                return Ok(Some((r.offset, r.timestamp)));
                            }
                        }
                    }
                    segment::ReadItem::End => break,
                    segment::ReadItem::Invalid(p) => {
                        return Err(LogError::CorruptRecord(format!(
                            "invalid batch at position {p} in segment {}",
                            seg.base_offset
                        )));
                    }
                }
            }
        }
        Ok(None)
    }

    /// The largest timestamp in the log and the offset of the first record that has it.
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        let mut best: Option<(&Segment, i64, i64)> = None;
        for seg in self.segments.values() {
            if seg.max_timestamp() >= 0 && best.is_none_or(|(_, t, _)| seg.max_timestamp() > t) {
                best = Some((seg, seg.max_timestamp(), seg.offset_of_max_timestamp()));
            }
        }
        let (seg, ts, batch_last) = best?;
        // Find the exact record; fall back to the batch's last offset.
        let exact = seg
            .find_batch(batch_last)
            .ok()
            .flatten()
            .and_then(|(pos, h)| {
                let b = seg.read_batch_at(pos, h.size()).ok()?;
                b.records()
                    .filter_map(Result::ok)
                    .find(|r| r.timestamp == ts)
                    .map(|r| r.offset)
            });
        Some((ts, exact.unwrap_or(batch_last)))
    }

    /// DeleteRecords: moves the log start offset up to `offset` (-1 means the high watermark)
    /// and deletes the segments wholly below it. Returns the new log start offset. An offset
    /// above the high watermark is [`LogError::OffsetOutOfRange`].
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, LogError> {
        let offset = if offset == -1 {
            self.high_watermark()
        } else {
            offset
        };
        if offset < 0 || offset > self.high_watermark() {
            return Err(self.out_of_range(offset));
        }
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        self.log_start_offset = offset;
        if offset == self.next_offset && self.active().is_some_and(|s| !s.is_empty()) {
            let now = now_ms();
            self.roll(now)?;
        }
        self.delete_segments_below_start()?;
        self.after_log_start_moved()?;
        Ok(self.log_start_offset)
    }

    /// `OffsetForLeaderEpoch`: `(epoch, end offset)` per Kafka's leader epoch cache rules;
    /// `(-1, -1)` when the epoch is unknown and newer than all known epochs.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        self.epochs.end_offset_for(epoch, self.next_offset)
    }

    /// Housekeeping, to be called periodically: rolls the active segment when `segment_ms`
    /// has passed, applies retention (delete policies), runs one compaction pass when due
    /// (compact policies), expires idle producers and flushes per `flush_interval_ms`.
    pub fn maintain(&mut self, now_ms: i64) -> Result<(), LogError> {
        if self
            .active()
            .is_some_and(|s| s.due_by_time(self.config.segment_ms, now_ms))
        {
            self.roll(now_ms)?;
        }
        self.apply_retention(now_ms)?;
        if self.compaction_due(now_ms) {
            self.compact(now_ms)?;
        }
        self.producers
            .expire(now_ms, producer_state::PRODUCER_ID_EXPIRATION_MS);
        self.maybe_flush(now_ms)?;
        Ok(())
    }

    /// Fsyncs every segment written since the last flush, writes the index files, and moves
    /// the recovery point to the log end (recorded in the checkpoint file).
    pub fn flush(&mut self) -> Result<(), LogError> {
        for seg in self.segments.values_mut() {
            seg.flush(false)?;
        }
        self.unflushed_messages = 0;
        self.last_flush_ms = now_ms();
        self.recovery_point = self.next_offset;
        self.write_checkpoint()?;
        Ok(())
    }

    /// Flushes everything, writes the producer state snapshot and the leader epoch checkpoint,
    /// and leaves the clean-shutdown marker so the next open skips recovery.
    pub fn close(mut self) -> Result<(), LogError> {
        if let Some(active) = self.segments.values_mut().next_back() {
            active.seal()?;
        }
        self.flush()?;
        self.producers.set_map_end_offset(self.next_offset);
        self.producers.write_snapshot(&self.dir, true)?;
        self.epochs.persist()?;
        index::write_atomically(&self.dir.join(recovery::CLEAN_SHUTDOWN), b"", true)?;
        Ok(())
    }

    /// Replaces the configuration (takes effect for later appends and maintenance).
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    /// Total bytes of the segment files.
    pub fn size_bytes(&self) -> u64 {
        self.segments.values().map(Segment::size).sum()
    }

    /// Number of segments.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// Base offsets of the segments, oldest first.
    pub fn segment_base_offsets(&self) -> Vec<i64> {
        self.segments.keys().copied().collect()
    }

    /// Number of producer ids with state.
    pub fn producer_count(&self) -> usize {
        self.producers.len()
    }

    /// The current epoch and last sequence of a producer, if known.
    pub fn producer_state(&self, producer_id: i64) -> Option<(i16, Option<i32>)> {
        self.producers
            .get(producer_id)
            .map(|e| (e.epoch, e.batches.back().map(|b| b.last_seq)))
    }

    /// Every producer with state in this partition, by producer id (DescribeProducers).
    pub fn active_producers(&self) -> Vec<ProducerInfo> {
        let mut out: Vec<ProducerInfo> = self
            .producers
            .iter()
            .map(|(id, e)| ProducerInfo {
                producer_id: id,
                producer_epoch: e.epoch,
                last_sequence: e.batches.back().map_or(-1, |b| b.last_seq),
                last_timestamp: e.last_timestamp,
                coordinator_epoch: e.coordinator_epoch,
                current_txn_start_offset: e.txn_first_offset.unwrap_or(-1),
            })
            .collect();
        out.sort_by_key(|p| p.producer_id);
        out
    }

    /// Deletes the partition directory and everything in it.
    pub fn delete(self) -> Result<(), LogError> {
        let dir = self.dir.clone();
        drop(self);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Writes `partition.checkpoint`.
    fn write_checkpoint(&self) -> Result<(), LogError> {
        recovery::Checkpoint {
            log_start_offset: self.log_start_offset,
            recovery_point: self.recovery_point,
            cleaner_checkpoint: self.cleaner_checkpoint,
        }
        .write(&self.dir)
    }

    /// State updates after the log start offset moved.
    fn after_log_start_moved(&mut self) -> Result<(), LogError> {
        self.producers.truncate_head(self.log_start_offset);
        if self.epochs.truncate_from_start(self.log_start_offset) {
            self.epochs.persist()?;
        }
        self.cleaner_checkpoint = self.cleaner_checkpoint.max(self.log_start_offset);
        self.write_checkpoint()
    }
}

/// Wall-clock milliseconds (for operations whose API carries no clock).
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
