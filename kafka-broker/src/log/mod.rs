// STAND-IN: replaced by the real log engine on merge
//! Partition log (stand-in).
//!
//! An in-memory log with the same API as the real segment-based log engine (branch `log`),
//! so the broker can be built and tested before that engine is merged. It keeps whole batches
//! in memory, validates their structure and CRC, assigns offsets, de-duplicates idempotent
//! retries of the last batch per producer and honours `delete_records_before` and retention
//! by size. Nothing is written to disk.

use std::collections::HashMap;
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use kafka_protocol::ErrorCode;
use kafka_protocol::records::RecordBatch;

/// How old data is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CleanupPolicy {
    /// Delete whole segments past retention.
    #[default]
    Delete,
    /// Keep the last value per key.
    Compact,
    /// Both.
    CompactDelete,
}

/// Which timestamp records carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogTimestampType {
    /// The producer's timestamp.
    #[default]
    CreateTime,
    /// The broker's append time.
    LogAppendTime,
}

/// Per-partition log settings (Kafka's topic configs).
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `segment.bytes`.
    pub segment_bytes: u64,
    /// `segment.ms`.
    pub segment_ms: Option<u64>,
    /// `retention.ms` (`None` = unlimited).
    pub retention_ms: Option<i64>,
    /// `retention.bytes` (`None` = unlimited).
    pub retention_bytes: Option<u64>,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `delete.retention.ms`.
    pub delete_retention_ms: u64,
    /// `min.compaction.lag.ms`.
    pub min_compaction_lag_ms: u64,
    /// `max.message.bytes`.
    pub max_message_bytes: usize,
    /// `message.timestamp.type`.
    pub timestamp_type: LogTimestampType,
    /// `index.interval.bytes`.
    pub index_interval_bytes: usize,
    /// `flush.messages`.
    pub flush_interval_messages: Option<u64>,
    /// `flush.ms`.
    pub flush_interval_ms: Option<u64>,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: Some(7 * 24 * 3600 * 1000),
            retention_ms: Some(7 * 24 * 3600 * 1000),
            retention_bytes: None,
            cleanup_policy: CleanupPolicy::Delete,
            delete_retention_ms: 24 * 3600 * 1000,
            min_compaction_lag_ms: 0,
            max_message_bytes: 1_048_588,
            timestamp_type: LogTimestampType::CreateTime,
            index_interval_bytes: 4096,
            flush_interval_messages: None,
            flush_interval_ms: None,
        }
    }
}

/// Log failures.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A batch failed its CRC or structure check.
    #[error("corrupt record batch: {0}")]
    Corrupt(String),
    /// A batch is larger than `max.message.bytes`.
    #[error("record batch of {size} bytes exceeds max.message.bytes {max}")]
    RecordTooLarge {
        /// Batch size.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// An offset outside `[log_start, log_end]`.
    #[error("offset {offset} out of range [{start}, {end}]")]
    OffsetOutOfRange {
        /// Requested offset.
        offset: i64,
        /// Log start.
        start: i64,
        /// Log end.
        end: i64,
    },
    /// Sequence gap for an idempotent producer.
    #[error("out of order sequence for producer {0}")]
    OutOfOrderSequence(i64),
    /// File-system failure.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl LogError {
    /// The Kafka error code for this failure.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            LogError::Corrupt(_) => ErrorCode::CorruptMessage,
            LogError::RecordTooLarge { .. } => ErrorCode::MessageTooLarge,
            LogError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
            LogError::OutOfOrderSequence(_) => ErrorCode::OutOfOrderSequenceNumber,
            LogError::Io(_) => ErrorCode::KafkaStorageError,
        }
    }
}

/// Result of an append.
#[derive(Debug, Clone)]
pub struct AppendOutcome {
    /// First offset assigned.
    pub base_offset: i64,
    /// Last offset assigned.
    pub last_offset: i64,
    /// Append time (-1 unless LogAppendTime).
    pub log_append_time: i64,
    /// Log start offset after the append.
    pub log_start_offset: i64,
    /// The batch was a retry of one already appended.
    pub duplicate: bool,
}

/// Result of a read.
#[derive(Debug, Clone)]
pub struct ReadOutcome {
    /// Whole batches.
    pub records: Bytes,
    /// High watermark.
    pub high_watermark: i64,
    /// Last stable offset.
    pub last_stable_offset: i64,
    /// Log start offset.
    pub log_start_offset: i64,
}

struct StoredBatch {
    base: i64,
    last: i64,
    max_ts: i64,
    epoch: i32,
    bytes: Bytes,
}

/// One partition's log (stand-in: in memory).
pub struct PartitionLog {
    dir: PathBuf,
    config: LogConfig,
    batches: Vec<StoredBatch>,
    start: i64,
    end: i64,
    size: u64,
    producers: HashMap<i64, (i16, i32, i64, i64)>, // pid -> (epoch, last seq, base, last)
}

impl PartitionLog {
    /// Opens (creates) the log in `dir`.
    pub fn open(dir: PathBuf, config: LogConfig) -> Result<Self, LogError> {
        std::fs::create_dir_all(&dir)?;
        Ok(PartitionLog {
            dir,
            config,
            batches: Vec::new(),
            start: 0,
            end: 0,
            size: 0,
            producers: HashMap::new(),
        })
    }

    /// Appends one or more v2 batches.
    pub fn append(
        &mut self,
        records: Bytes,
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendOutcome, LogError> {
        if records.len() > self.config.max_message_bytes {
            return Err(LogError::RecordTooLarge {
                size: records.len(),
                max: self.config.max_message_bytes,
            });
        }
        let mut parsed = Vec::new();
        let mut rest = records;
        while !rest.is_empty() {
            if rest.len() < 12 {
                return Err(LogError::Corrupt("truncated batch".into()));
            }
            let len = i32::from_be_bytes([rest[8], rest[9], rest[10], rest[11]]);
            let total = 12usize.saturating_add(usize::try_from(len).unwrap_or(usize::MAX));
            if len < 0 || total > rest.len() {
                return Err(LogError::Corrupt("batch length beyond input".into()));
            }
            let one = rest.split_to(total);
            let b = RecordBatch::parse(one).map_err(|e| LogError::Corrupt(e.to_string()))?;
            b.validate_crc()
                .map_err(|e| LogError::Corrupt(e.to_string()))?;
            if b.record_count() <= 0 {
                return Err(LogError::Corrupt("empty batch".into()));
            }
            parsed.push(b);
        }
        if parsed.is_empty() {
            return Err(LogError::Corrupt("no batches".into()));
        }
        // idempotent duplicate of the last batch of this producer
        if let [b] = parsed.as_slice()
            && b.producer_id() >= 0
            && let Some(&(e, seq, base, last)) = self.producers.get(&b.producer_id())
            && e == b.producer_epoch()
            && seq == b.base_sequence()
        {
            return Ok(AppendOutcome {
                base_offset: base,
                last_offset: last,
                log_append_time: -1,
                log_start_offset: self.start,
                duplicate: true,
            });
        }
        let base_offset = self.end;
        let log_append_time = match self.config.timestamp_type {
            LogTimestampType::LogAppendTime => now_ms,
            LogTimestampType::CreateTime => -1,
        };
        for b in parsed {
            let count = i64::from(b.last_offset_delta()) + 1;
            let base = self.end;
            let mut bytes = BytesMut::from(&b.as_bytes()[..]);
            bytes[0..8].copy_from_slice(&base.to_be_bytes());
            bytes[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
            let last = base + count - 1;
            if b.producer_id() >= 0 {
                self.producers.insert(
                    b.producer_id(),
                    (b.producer_epoch(), b.base_sequence(), base, last),
                );
            }
            self.size += bytes.len() as u64;
            self.batches.push(StoredBatch {
                base,
                last,
                max_ts: b.max_timestamp(),
                epoch: leader_epoch,
                bytes: bytes.freeze(),
            });
            self.end = last + 1;
        }
        if let Some(limit) = self.config.retention_bytes {
            while self.size > limit && self.batches.len() > 1 {
                let b = self.batches.remove(0);
                self.size -= b.bytes.len() as u64;
                self.start = b.last + 1;
            }
        }
        Ok(AppendOutcome {
            base_offset,
            last_offset: self.end - 1,
            log_append_time,
            log_start_offset: self.start,
            duplicate: false,
        })
    }

    /// Reads whole batches from `offset`.
    pub fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<ReadOutcome, LogError> {
        if offset < self.start || offset > self.end {
            return Err(LogError::OffsetOutOfRange {
                offset,
                start: self.start,
                end: self.end,
            });
        }
        let mut out = BytesMut::new();
        for b in self.batches.iter().filter(|b| b.last >= offset) {
            if out.len() + b.bytes.len() > max_bytes && !(out.is_empty() && min_one_batch) {
                break;
            }
            out.extend_from_slice(&b.bytes);
        }
        Ok(ReadOutcome {
            records: out.freeze(),
            high_watermark: self.end,
            last_stable_offset: self.end,
            log_start_offset: self.start,
        })
    }

    /// First offset still in the log.
    pub fn log_start_offset(&self) -> i64 {
        self.start
    }
    /// Next offset to be assigned.
    pub fn log_end_offset(&self) -> i64 {
        self.end
    }
    /// High watermark (single node: the log end).
    pub fn high_watermark(&self) -> i64 {
        self.end
    }

    /// First offset with a timestamp >= `ts`, with its timestamp (batch granularity here).
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        Ok(self
            .batches
            .iter()
            .find(|b| b.max_ts >= ts)
            .map(|b| (b.base.max(self.start), b.max_ts)))
    }

    /// Largest timestamp and its offset.
    pub fn max_timestamp(&self) -> Option<(i64, i64)> {
        self.batches
            .iter()
            .max_by_key(|b| b.max_ts)
            .map(|b| (b.max_ts, b.last))
    }

    /// Moves the log start offset to `offset` (must be <= high watermark).
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64, LogError> {
        if offset > self.end || offset < 0 {
            return Err(LogError::OffsetOutOfRange {
                offset,
                start: self.start,
                end: self.end,
            });
        }
        if offset > self.start {
            self.start = offset;
            let before = self.batches.len();
            self.batches.retain(|b| b.last >= offset);
            if before != self.batches.len() {
                self.size = self.batches.iter().map(|b| b.bytes.len() as u64).sum();
            }
        }
        Ok(self.start)
    }

    /// (epoch, end offset) for the largest epoch <= `epoch`.
    pub fn end_offset_for_epoch(&self, epoch: i32) -> (i32, i64) {
        let mut found: Option<i32> = None;
        for b in &self.batches {
            if b.epoch <= epoch {
                found = Some(b.epoch);
            }
        }
        match found {
            None if self.batches.is_empty() && epoch >= 0 => (epoch, self.end),
            None => (-1, -1),
            Some(e) => {
                let end = self
                    .batches
                    .iter()
                    .find(|b| b.epoch > e)
                    .map(|b| b.base)
                    .unwrap_or(self.end);
                (e, end)
            }
        }
    }

    /// Periodic retention work.
    pub fn maintain(&mut self, now_ms: i64) -> Result<(), LogError> {
        if let Some(ms) = self.config.retention_ms {
            while self.batches.len() > 1
                && self.batches.first().is_some_and(|b| b.max_ts + ms < now_ms)
            {
                let b = self.batches.remove(0);
                self.size -= b.bytes.len() as u64;
                self.start = b.last + 1;
            }
        }
        Ok(())
    }

    /// Flushes to disk (no-op here).
    pub fn flush(&mut self) -> Result<(), LogError> {
        Ok(())
    }
    /// Closes the log.
    pub fn close(self) -> Result<(), LogError> {
        Ok(())
    }
    /// Replaces the configuration.
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }
    /// Bytes held.
    pub fn size_bytes(&self) -> u64 {
        self.size
    }
    /// Deletes the log and its directory.
    pub fn delete(self) -> Result<(), LogError> {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
