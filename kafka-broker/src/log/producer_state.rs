//! Idempotent-producer state, as Kafka's `ProducerStateManager`.
//!
//! Per producer id: the current epoch, the metadata of the last [`MAX_CACHED_BATCHES`] batches
//! (first/last sequence, first/last offset, timestamp) for duplicate detection, and the first
//! offset of an ongoing transaction (so the last stable offset can be computed; transaction
//! markers are written by the coordinator through [`super::AppendOrigin::Coordinator`]).
//!
//! Snapshots (`<offset>.snapshot`, offset = the log end offset the state is valid for) are
//! written on close, on segment roll and on flush; recovery loads the newest snapshot not
//! beyond the log end and replays the batch headers after it.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

use super::LogError;
use super::index::{read_optional, remove_if_exists, write_atomically};
use super::segment::{BatchHeader, file_name};

/// Batches remembered per producer for duplicate detection (Kafka's
/// `NUM_BATCHES_TO_RETAIN`, equal to the client's `max.in.flight.requests.per.connection`).
pub const MAX_CACHED_BATCHES: usize = 5;

/// Kafka's default `producer.id.expiration.ms` (1 day).
pub const PRODUCER_ID_EXPIRATION_MS: i64 = 86_400_000;

const SNAPSHOT_SUFFIX: &str = ".snapshot";
const SNAPSHOT_VERSION: u16 = 1;
const SNAPSHOTS_TO_KEEP: usize = 2;

/// One remembered batch of a producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchMetadata {
    pub(crate) first_seq: i32,
    pub(crate) last_seq: i32,
    pub(crate) first_offset: i64,
    pub(crate) last_offset: i64,
    pub(crate) timestamp: i64,
}

/// The state of one producer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProducerEntry {
    pub(crate) epoch: i16,
    pub(crate) batches: VecDeque<BatchMetadata>,
    pub(crate) coordinator_epoch: i32,
    /// First offset of the ongoing transaction, if any.
    pub(crate) txn_first_offset: Option<i64>,
    pub(crate) last_timestamp: i64,
}

impl ProducerEntry {
    fn new(epoch: i16) -> ProducerEntry {
        ProducerEntry {
            epoch,
            batches: VecDeque::new(),
            coordinator_epoch: -1,
            txn_first_offset: None,
            last_timestamp: -1,
        }
    }

    fn last_seq(&self) -> Option<i32> {
        self.batches.back().map(|b| b.last_seq)
    }

    fn last_offset(&self) -> i64 {
        self.batches.back().map_or(-1, |b| b.last_offset)
    }

    fn find_duplicate(&self, epoch: i16, first_seq: i32, last_seq: i32) -> Option<BatchMetadata> {
        if epoch != self.epoch {
            return None;
        }
        self.batches
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
            .copied()
    }

    fn push(&mut self, b: BatchMetadata) {
        if self.batches.len() == MAX_CACHED_BATCHES {
            self.batches.pop_front();
        }
        self.batches.push_back(b);
    }
}

/// Whether `next` follows `last` in Kafka's wrapping sequence space.
fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

/// The outcome of checking one batch against the producer state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SequenceCheck {
    /// Append it.
    Append,
    /// Already in the log at these offsets.
    Duplicate { first_offset: i64, last_offset: i64 },
}

/// All producers of a partition.
#[derive(Debug, Default)]
pub(crate) struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    /// Offset up to which the state is valid (exclusive).
    map_end_offset: i64,
}

impl ProducerStateManager {
    pub(crate) fn new() -> ProducerStateManager {
        ProducerStateManager::default()
    }

    /// The state of a producer.
    pub(crate) fn get(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Every producer and its state.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        self.producers.iter().map(|(id, e)| (*id, e))
    }

    /// Number of producers tracked.
    pub(crate) fn len(&self) -> usize {
        self.producers.len()
    }

    /// Offset up to which the state is valid.
    pub(crate) fn map_end_offset(&self) -> i64 {
        self.map_end_offset
    }

    /// Checks a client batch of a producer against `entry` (the current or staged state).
    /// Kafka's rules: a duplicate of a cached batch returns its offsets; an older epoch is
    /// fenced; a new epoch must start at sequence 0 (unless the producer is unknown); within
    /// an epoch the sequence must follow the last one. Unknown producers may start anywhere
    /// (their state may have been removed by retention).
    pub(crate) fn check(
        entry: Option<&ProducerEntry>,
        h: &BatchHeader,
    ) -> Result<SequenceCheck, LogError> {
        let Some(entry) = entry else {
            return Ok(SequenceCheck::Append);
        };
        if h.producer_epoch < entry.epoch {
            return Err(LogError::InvalidProducerEpoch {
                producer_id: h.producer_id,
                current: entry.epoch,
                received: h.producer_epoch,
            });
        }
        if h.is_control() || h.base_sequence < 0 {
            return Ok(SequenceCheck::Append);
        }
        let last_seq = h.last_sequence();
        if let Some(d) = entry.find_duplicate(h.producer_epoch, h.base_sequence, last_seq) {
            return Ok(SequenceCheck::Duplicate {
                first_offset: d.first_offset,
                last_offset: d.last_offset,
            });
        }
        if h.producer_epoch != entry.epoch {
            if h.base_sequence != 0 && entry.epoch >= 0 {
                return Err(LogError::OutOfOrderSequence {
                    producer_id: h.producer_id,
                    expected: 0,
                    received: h.base_sequence,
                });
            }
            return Ok(SequenceCheck::Append);
        }
        match entry.last_seq() {
            Some(last) if !in_sequence(last, h.base_sequence) => {
                Err(LogError::OutOfOrderSequence {
                    producer_id: h.producer_id,
                    expected: if last == i32::MAX { 0 } else { last + 1 },
                    received: h.base_sequence,
                })
            }
            _ => Ok(SequenceCheck::Append),
        }
    }

    /// The entry after applying batch `h` (written at its offsets) to `entry`.
    pub(crate) fn apply(entry: Option<&ProducerEntry>, h: &BatchHeader) -> ProducerEntry {
        let mut e = match entry {
            Some(e) => e.clone(),
            None => ProducerEntry::new(h.producer_epoch),
        };
        if h.producer_epoch != e.epoch {
            e.epoch = h.producer_epoch;
            e.batches.clear();
        }
        e.last_timestamp = h.max_timestamp;
        if h.is_control() {
            // A transaction marker ends the ongoing transaction.
            e.txn_first_offset = None;
            return e;
        }
        if h.is_transactional() && e.txn_first_offset.is_none() {
            e.txn_first_offset = Some(h.base_offset);
        }
        if h.base_sequence >= 0 {
            e.push(BatchMetadata {
                first_seq: h.base_sequence,
                last_seq: h.last_sequence(),
                first_offset: h.base_offset,
                last_offset: h.last_offset(),
                timestamp: h.max_timestamp,
            });
        }
        e
    }

    /// Stores an entry.
    pub(crate) fn put(&mut self, producer_id: i64, entry: ProducerEntry) {
        self.producers.insert(producer_id, entry);
    }

    /// Replays a batch read from the log (no checks), as recovery does.
    pub(crate) fn replay(&mut self, h: &BatchHeader) {
        if h.producer_id >= 0 {
            let e = Self::apply(self.producers.get(&h.producer_id), h);
            self.producers.insert(h.producer_id, e);
        }
        self.map_end_offset = self.map_end_offset.max(h.last_offset().saturating_add(1));
    }

    /// Marks the state valid up to `offset` (after an append).
    pub(crate) fn set_map_end_offset(&mut self, offset: i64) {
        self.map_end_offset = offset;
    }

    /// First offset of the earliest ongoing transaction.
    pub(crate) fn first_unstable_offset(&self) -> Option<i64> {
        self.producers
            .values()
            .filter_map(|e| e.txn_first_offset)
            .min()
    }

    /// Forgets producers whose last batch is below the new log start offset.
    pub(crate) fn truncate_head(&mut self, log_start_offset: i64) {
        self.producers.retain(|_, e| {
            e.txn_first_offset.is_some()
                || e.batches.is_empty()
                || e.last_offset() >= log_start_offset
        });
    }

    /// Forgets producers idle for longer than `expiration_ms` (no ongoing transaction).
    pub(crate) fn expire(&mut self, now_ms: i64, expiration_ms: i64) {
        self.producers.retain(|_, e| {
            e.txn_first_offset.is_some() || now_ms.saturating_sub(e.last_timestamp) < expiration_ms
        });
    }

    /// Drops all state (before a full rebuild).
    pub(crate) fn clear(&mut self, offset: i64) {
        self.producers.clear();
        self.map_end_offset = offset;
    }

    // ------------------------------------------------------------------ snapshots

    fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(16 + self.producers.len() * 64);
        body.extend_from_slice(&self.map_end_offset.to_be_bytes());
        body.extend_from_slice(&(self.producers.len() as u32).to_be_bytes());
        let mut ids: Vec<_> = self.producers.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some(e) = self.producers.get(&id) else {
                continue;
            };
            body.extend_from_slice(&id.to_be_bytes());
            body.extend_from_slice(&e.epoch.to_be_bytes());
            body.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
            body.extend_from_slice(&e.txn_first_offset.unwrap_or(-1).to_be_bytes());
            body.extend_from_slice(&e.last_timestamp.to_be_bytes());
            body.push(e.batches.len() as u8);
            for b in &e.batches {
                body.extend_from_slice(&b.first_seq.to_be_bytes());
                body.extend_from_slice(&b.last_seq.to_be_bytes());
                body.extend_from_slice(&b.first_offset.to_be_bytes());
                body.extend_from_slice(&b.last_offset.to_be_bytes());
                body.extend_from_slice(&b.timestamp.to_be_bytes());
            }
        }
        let mut out = Vec::with_capacity(body.len() + 6);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    fn decode(data: &[u8]) -> Option<ProducerStateManager> {
        let mut r = Reader { data, pos: 0 };
        if r.u16()? != SNAPSHOT_VERSION {
            return None;
        }
        let crc = r.u32()?;
        let body = data.get(6..)?;
        if crc32c::crc32c(body) != crc {
            return None;
        }
        let map_end_offset = r.i64()?;
        let count = r.u32()?;
        let mut producers = HashMap::new();
        for _ in 0..count {
            let id = r.i64()?;
            let epoch = r.u16()? as i16;
            let coordinator_epoch = r.u32()? as i32;
            let txn = r.i64()?;
            let last_timestamp = r.i64()?;
            let n = r.u8()?;
            let mut batches = VecDeque::new();
            for _ in 0..n {
                batches.push_back(BatchMetadata {
                    first_seq: r.u32()? as i32,
                    last_seq: r.u32()? as i32,
                    first_offset: r.i64()?,
                    last_offset: r.i64()?,
                    timestamp: r.i64()?,
                });
            }
            producers.insert(
                id,
                ProducerEntry {
                    epoch,
                    batches,
                    coordinator_epoch,
                    txn_first_offset: (txn >= 0).then_some(txn),
                    last_timestamp,
                },
            );
        }
        (r.pos == data.len()).then_some(ProducerStateManager {
            producers,
            map_end_offset,
        })
    }

    /// Writes `<map end offset>.snapshot` and keeps only the newest few snapshots.
    pub(crate) fn write_snapshot(&self, dir: &Path, sync: bool) -> Result<(), LogError> {
        let path = dir.join(file_name(self.map_end_offset, SNAPSHOT_SUFFIX));
        write_atomically(&path, &self.encode(), sync)?;
        let snaps = list_snapshots(dir)?;
        let excess = snaps.len().saturating_sub(SNAPSHOTS_TO_KEEP);
        for (_, p) in snaps.iter().take(excess) {
            remove_if_exists(p)?;
        }
        Ok(())
    }

    /// Loads the newest valid snapshot at or below `log_end_offset`, deleting snapshots beyond
    /// it. `None` when there is none.
    pub(crate) fn load_snapshot(
        dir: &Path,
        log_end_offset: i64,
    ) -> Result<Option<ProducerStateManager>, LogError> {
        let snaps = list_snapshots(dir)?;
        for (offset, path) in snaps.iter().rev() {
            if *offset > log_end_offset {
                remove_if_exists(path)?;
                continue;
            }
            if let Some(data) = read_optional(path)?
                && let Some(state) = Self::decode(&data)
                && state.map_end_offset == *offset
            {
                return Ok(Some(state));
            }
            remove_if_exists(path)?;
        }
        Ok(None)
    }
}

/// Snapshot files in `dir`, oldest first.
fn list_snapshots(dir: &Path) -> Result<Vec<(i64, PathBuf)>, LogError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if let Some(stem) = name.strip_suffix(SNAPSHOT_SUFFIX)
            && let Ok(offset) = stem.parse::<i64>()
        {
            out.push((offset, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let b = self.data.get(self.pos..self.pos.checked_add(N)?)?;
        self.pos += N;
        b.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(u8::from_be_bytes)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_be_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_be_bytes)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, base: i64, delta: i32) -> BatchHeader {
        BatchHeader {
            base_offset: base,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            attributes: 0,
            last_offset_delta: delta,
            base_timestamp: 0,
            max_timestamp: 10,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            record_count: delta + 1,
        }
    }

    #[test]
    fn sequence_rules_and_snapshot_round_trip() {
        let mut m = ProducerStateManager::new();
        let h0 = header(7, 0, 0, 0, 2);
        assert_eq!(
            ProducerStateManager::check(m.get(7), &h0).unwrap(),
            SequenceCheck::Append
        );
        m.replay(&h0);
        assert_eq!(
            ProducerStateManager::check(m.get(7), &h0).unwrap(),
            SequenceCheck::Duplicate {
                first_offset: 0,
                last_offset: 2
            }
        );
        assert!(ProducerStateManager::check(m.get(7), &header(7, 0, 5, 3, 0)).is_err());
        assert!(ProducerStateManager::check(m.get(7), &header(7, 0, 3, 3, 0)).is_ok());
        assert!(matches!(
            ProducerStateManager::check(m.get(7), &header(7, 1, 3, 3, 0)),
            Err(LogError::OutOfOrderSequence { .. })
        ));
        m.replay(&header(7, 1, 0, 3, 0));
        assert!(matches!(
            ProducerStateManager::check(m.get(7), &header(7, 0, 1, 4, 0)),
            Err(LogError::InvalidProducerEpoch { .. })
        ));
        assert!(in_sequence(i32::MAX, 0));
        let dir = tempfile::tempdir().unwrap();
        m.write_snapshot(dir.path(), true).unwrap();
        let loaded = ProducerStateManager::load_snapshot(dir.path(), 100)
            .unwrap()
            .unwrap();
        assert_eq!(loaded.producers, m.producers);
        assert!(
            ProducerStateManager::load_snapshot(dir.path(), 3)
                .unwrap()
                .is_none()
        );
    }
}
