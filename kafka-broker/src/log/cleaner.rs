//! Log compaction (`cleanup.policy=compact`), after Kafka's `LogCleaner`.
//!
//! One pass: the *cleanable* range is the non-active segments up to the first segment that
//! is younger than `min.compaction.lag.ms` or holds an ongoing transaction. An offset map
//! (key → latest offset) is built from its *dirty* part (from the cleaner checkpoint on);
//! then every cleanable segment is rewritten keeping, per key, only the newest record.
//! Tombstones (null values) are kept and their batch stamped with a delete horizon
//! (`now + delete.retention.ms`, Kafka's KIP-534 scheme); a later pass after the horizon
//! drops them. Keyless records are dropped. Offsets never change, so the log has gaps.
//!
//! Batches whose records all survive are copied byte for byte; the others are re-encoded with
//! the same base offset, last offset delta, producer id/epoch/base sequence, partition leader
//! epoch, attributes and codec, and each kept record's offset and timestamp. Control batches
//! are kept as they are. Records of aborted transactions (per the aborted-transaction index)
//! are removed and never enter the offset map, so they cannot displace committed records.
//!
//! A cleaned segment is written to `<base>.log.cleaned`, fsynced, its index files removed,
//! and renamed over `<base>.log` (atomic), then its indexes are rebuilt. A crash leaves
//! either the old or the new segment; stray `.cleaned` files are deleted at open and missing
//! indexes are rebuilt.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};

use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::{self, Compression};
use kafka_protocol::primitives::{put_varint, put_varlong, varint_len, varlong_len};
use kafka_protocol::records::{Record, RecordBatch, TimestampType};

use super::index::{remove_if_exists, sync_dir};
use super::segment::{HEADER_SIZE, LOG_OVERHEAD, ReadItem, Segment, file_name};
use super::{AbortedTxn, LogError, PartitionLog};

/// Kafka's default `min.cleanable.dirty.ratio`.
pub const MIN_CLEANABLE_DIRTY_RATIO: f64 = 0.5;

const DELETE_HORIZON_BIT: i16 = 1 << 6;

/// What one compaction pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanerStats {
    /// Segments rewritten.
    pub segments_cleaned: usize,
    /// Records examined.
    pub records_read: u64,
    /// Records removed.
    pub records_removed: u64,
    /// Bytes of the cleaned segments before the pass.
    pub bytes_before: u64,
    /// Bytes of the cleaned segments after the pass.
    pub bytes_after: u64,
}

fn corrupt(e: impl std::fmt::Display) -> LogError {
    LogError::CorruptRecord(e.to_string())
}

impl PartitionLog {
    /// Base offsets of the cleanable segments and the end of the cleanable range.
    fn cleanable(&self, now_ms: i64) -> (Vec<i64>, i64) {
        let lag = i64::try_from(self.config.min_compaction_lag_ms).unwrap_or(i64::MAX);
        let unstable = self.producers.first_unstable_offset().unwrap_or(i64::MAX);
        let inactive = self.segments.len().saturating_sub(1);
        let mut bases = Vec::new();
        let mut end = self.log_start_offset;
        for seg in self.segments.values().take(inactive) {
            if lag > 0 && seg.max_timestamp() > now_ms.saturating_sub(lag) {
                break;
            }
            if seg.next_offset() > unstable {
                break;
            }
            bases.push(seg.base_offset);
            end = seg.next_offset();
        }
        (bases, end)
    }

    /// Whether a compaction pass is due: the dirty part is at least
    /// [`MIN_CLEANABLE_DIRTY_RATIO`] of the cleanable bytes, or a kept tombstone's delete
    /// horizon has passed.
    pub(crate) fn compaction_due(&self, now_ms: i64) -> bool {
        if !self.config.cleanup_policy.compacts() {
            return false;
        }
        let (bases, _) = self.cleanable(now_ms);
        if bases.is_empty() {
            return false;
        }
        let first_dirty = self.cleaner_checkpoint.max(self.log_start_offset);
        let (mut total, mut dirty) = (0u64, 0u64);
        for b in &bases {
            if let Some(s) = self.segments.get(b) {
                total += s.size();
                if s.next_offset() > first_dirty {
                    dirty += s.size();
                }
            }
        }
        let ratio_due = dirty > 0 && dirty as f64 >= total as f64 * MIN_CLEANABLE_DIRTY_RATIO;
        ratio_due || self.tombstone_horizon.is_some_and(|h| h <= now_ms)
    }

    /// Runs one compaction pass now (whatever the dirty ratio), if the policy compacts.
    pub fn compact(&mut self, now_ms: i64) -> Result<CleanerStats, LogError> {
        let mut stats = CleanerStats::default();
        if !self.config.cleanup_policy.compacts() {
            return Ok(stats);
        }
        let (bases, end) = self.cleanable(now_ms);
        if bases.is_empty() {
            return Ok(stats);
        }
        let first_dirty = self.cleaner_checkpoint.max(self.log_start_offset);
        let aborted = self.aborted_transactions();
        let map = self.build_offset_map(&bases, first_dirty, &aborted)?;
        let first_base = self.segments.keys().next().copied();
        let mut horizon: Option<i64> = None;
        for base in bases {
            let h = self.clean_segment(
                base,
                &map,
                &aborted,
                now_ms,
                first_base == Some(base),
                &mut stats,
            )?;
            horizon = match (horizon, h) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        self.tombstone_horizon = horizon;
        self.cleaner_checkpoint = self.cleaner_checkpoint.max(end);
        self.write_checkpoint()?;
        Ok(stats)
    }

    /// Key → offset of its newest record in the dirty part of the cleanable range.
    fn build_offset_map(
        &self,
        bases: &[i64],
        first_dirty: i64,
        aborted: &[AbortedTxn],
    ) -> Result<HashMap<Bytes, i64>, LogError> {
        let mut map = HashMap::new();
        for base in bases {
            let Some(seg) = self.segments.get(base) else {
                continue;
            };
            if seg.next_offset() <= first_dirty {
                continue;
            }
            let mut reader = seg.batches_from(first_dirty)?;
            loop {
                match reader.next_batch()? {
                    ReadItem::End => break,
                    ReadItem::Invalid(p) => {
                        return Err(corrupt(format!("invalid batch at {p} in segment {base}")));
                    }
                    ReadItem::Batch(_, b) => {
                        if b.is_control() || in_aborted_txn(&b, aborted) {
                            continue;
                        }
                        for r in b.records() {
                            let r = r.map_err(corrupt)?;
                            if r.offset < first_dirty {
                                continue;
                            }
                            if let Some(k) = r.key {
                                map.insert(Bytes::copy_from_slice(&k), r.offset);
                            }
                        }
                    }
                }
            }
        }
        Ok(map)
    }

    /// Rewrites one segment; returns the earliest delete horizon of the tombstones it kept.
    fn clean_segment(
        &mut self,
        base: i64,
        map: &HashMap<Bytes, i64>,
        aborted: &[AbortedTxn],
        now_ms: i64,
        is_first: bool,
        stats: &mut CleanerStats,
    ) -> Result<Option<i64>, LogError> {
        let Some(seg) = self.segments.get(&base) else {
            return Ok(None);
        };
        let cleaned_path = self.dir.join(file_name(base, ".log.cleaned"));
        let log_path = self.dir.join(file_name(base, ".log"));
        let delete_retention = i64::try_from(self.config.delete_retention_ms).unwrap_or(i64::MAX);
        let mut min_horizon: Option<i64> = None;
        let result = (|| -> Result<(), LogError> {
            let mut out = BufWriter::new(File::create(&cleaned_path)?);
            let mut reader = seg.batches();
            let mut retained: Vec<Record> = Vec::new();
            loop {
                let b = match reader.next_batch()? {
                    ReadItem::End => break,
                    ReadItem::Invalid(p) => {
                        return Err(corrupt(format!("invalid batch at {p} in segment {base}")));
                    }
                    ReadItem::Batch(_, b) => b,
                };
                if b.is_control() {
                    out.write_all(b.as_bytes())?;
                    continue;
                }
                let horizon = b.delete_horizon_ms();
                let aborted_batch = in_aborted_txn(&b, aborted);
                retained.clear();
                let mut all = true;
                let mut tombstone = false;
                for r in b.records() {
                    let r = r.map_err(corrupt)?;
                    stats.records_read += 1;
                    let mut keep = match &r.key {
                        None => false,
                        Some(_) if aborted_batch => false,
                        Some(k) => map.get(k).is_none_or(|&o| r.offset >= o),
                    };
                    if keep && r.value.is_none() {
                        if horizon.is_some_and(|h| h <= now_ms) {
                            keep = false;
                        } else {
                            tombstone = true;
                        }
                    }
                    if keep {
                        retained.push(r);
                    } else {
                        all = false;
                        stats.records_removed += 1;
                    }
                }
                let new_horizon = if tombstone {
                    Some(horizon.unwrap_or(now_ms.saturating_add(delete_retention)))
                } else {
                    None
                };
                if let Some(h) = new_horizon {
                    min_horizon = Some(min_horizon.map_or(h, |m: i64| m.min(h)));
                }
                if all && (!tombstone || horizon.is_some()) {
                    out.write_all(b.as_bytes())?;
                } else if !retained.is_empty() {
                    let rebuilt = rebuild_batch(&b, &retained, new_horizon.or(horizon))?;
                    out.write_all(&rebuilt)?;
                }
            }
            out.flush()?;
            out.get_ref().sync_all()?;
            Ok(())
        })();
        if let Err(e) = result {
            let _ = remove_if_exists(&cleaned_path);
            return Err(e);
        }
        stats.bytes_before += seg.size();
        // Swap: indexes first (so a crash can only leave them missing, never stale).
        seg.delete_index_files()?;
        self.segments.remove(&base);
        fs::rename(&cleaned_path, &log_path)?;
        sync_dir(&self.dir)?;
        let interval = self.config.index_interval_bytes;
        let (mut seg, _) = Segment::open(&self.dir, base, interval, true, now_ms, &mut |_| {})?;
        seg.seal()?;
        stats.bytes_after += seg.size();
        stats.segments_cleaned += 1;
        if seg.is_empty() && !is_first {
            seg.delete_files()?;
        } else {
            self.segments.insert(base, seg);
        }
        Ok(min_horizon)
    }
}

/// Whether `batch` holds data of an aborted transaction (Kafka's cleaner removes those
/// records and keeps them out of the offset map, so they never shadow committed ones).
fn in_aborted_txn(batch: &RecordBatch, aborted: &[AbortedTxn]) -> bool {
    batch.is_transactional()
        && !batch.is_control()
        && aborted.iter().any(|a| {
            a.producer_id == batch.producer_id()
                && a.first_offset <= batch.base_offset()
                && batch.base_offset() < a.last_offset
        })
}

/// Re-encodes `batch` with only `retained` records (same offsets and timestamps).
fn rebuild_batch(
    batch: &RecordBatch,
    retained: &[Record],
    delete_horizon: Option<i64>,
) -> Result<Bytes, LogError> {
    let log_append = batch.timestamp_type() == TimestampType::LogAppendTime;
    let base_ts = match (delete_horizon, retained.first()) {
        (Some(h), _) => h,
        (None, Some(r)) => r.timestamp,
        (None, None) => batch.base_timestamp(),
    };
    let mut raw = BytesMut::new();
    let mut max_ts = -1i64;
    for r in retained {
        let ts_delta = r.timestamp.wrapping_sub(base_ts);
        let offset_delta = i32::try_from(r.offset - batch.base_offset())
            .map_err(|_| corrupt("record offset delta out of range"))?;
        let field_len = |f: &Option<Bytes>| match f {
            Some(b) => varint_len(b.len() as i32) + b.len(),
            None => varint_len(-1),
        };
        let hcount = r.headers.len() as i32;
        let body = 1
            + varlong_len(ts_delta)
            + varint_len(offset_delta)
            + field_len(&r.key)
            + field_len(&r.value)
            + varint_len(hcount)
            + r.headers.raw().len();
        put_varint(&mut raw, body as i32);
        raw.extend_from_slice(&[0]);
        put_varlong(&mut raw, ts_delta);
        put_varint(&mut raw, offset_delta);
        for f in [&r.key, &r.value] {
            match f {
                Some(b) => {
                    put_varint(&mut raw, b.len() as i32);
                    raw.extend_from_slice(b);
                }
                None => put_varint(&mut raw, -1),
            }
        }
        put_varint(&mut raw, hcount);
        raw.extend_from_slice(r.headers.raw());
        max_ts = max_ts.max(r.timestamp);
    }
    let codec = batch.compression();
    let section = if codec == Compression::None {
        raw.freeze()
    } else {
        compression::compress(codec, &raw, None).map_err(corrupt)?
    };
    let mut attributes = batch.attributes() & !DELETE_HORIZON_BIT;
    if delete_horizon.is_some() {
        attributes |= DELETE_HORIZON_BIT;
    }
    let max_timestamp = if log_append {
        batch.max_timestamp()
    } else {
        max_ts
    };
    let batch_length = i32::try_from(HEADER_SIZE - LOG_OVERHEAD + section.len())
        .map_err(|_| corrupt("rebuilt batch too large"))?;
    let mut out = BytesMut::with_capacity(HEADER_SIZE + section.len());
    out.extend_from_slice(&batch.base_offset().to_be_bytes());
    out.extend_from_slice(&batch_length.to_be_bytes());
    out.extend_from_slice(&batch.partition_leader_epoch().to_be_bytes());
    out.extend_from_slice(&[2]);
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&attributes.to_be_bytes());
    out.extend_from_slice(&batch.last_offset_delta().to_be_bytes());
    out.extend_from_slice(&base_ts.to_be_bytes());
    out.extend_from_slice(&max_timestamp.to_be_bytes());
    out.extend_from_slice(&batch.producer_id().to_be_bytes());
    out.extend_from_slice(&batch.producer_epoch().to_be_bytes());
    out.extend_from_slice(&batch.base_sequence().to_be_bytes());
    out.extend_from_slice(&(retained.len() as i32).to_be_bytes());
    out.extend_from_slice(&section);
    let crc = crc32c::crc32c(out.get(21..).unwrap_or_default());
    if let Some(dst) = out.get_mut(17..21) {
        dst.copy_from_slice(&crc.to_be_bytes());
    }
    Ok(out.freeze())
}
