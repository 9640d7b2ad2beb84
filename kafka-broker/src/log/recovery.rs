//! Opening a partition directory: cleanup of interrupted operations, segment loading,
//! crash recovery, and the rebuild of the leader epoch cache and producer state.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::epoch_cache::LeaderEpochCache;
use super::index::{read_optional, remove_if_exists, sync_dir, write_atomically};
use super::producer_state::ProducerStateManager;
use super::segment::{BatchHeader, Segment};
use super::txn_index::AbortedTxn;
use super::{
    DEFAULT_TIMESTAMP_AFTER_MAX_MS, DEFAULT_TIMESTAMP_BEFORE_MAX_MS, LogConfig, LogError,
    PartitionLog, now_ms,
};

/// The clean-shutdown marker file.
pub(crate) const CLEAN_SHUTDOWN: &str = ".clean-shutdown";
const CHECKPOINT: &str = "partition.checkpoint";

/// Offsets persisted in `partition.checkpoint`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Checkpoint {
    pub(crate) log_start_offset: i64,
    pub(crate) recovery_point: i64,
    pub(crate) cleaner_checkpoint: i64,
}

impl Checkpoint {
    fn read(dir: &Path) -> Result<Option<Checkpoint>, LogError> {
        let Some(data) = read_optional(&dir.join(CHECKPOINT))? else {
            return Ok(None);
        };
        let Ok(text) = std::str::from_utf8(&data) else {
            return Ok(None);
        };
        let mut lines = text.lines().map(str::trim);
        if lines.next() != Some("0") {
            return Ok(None);
        }
        let mut next = || lines.next().and_then(|l| l.parse::<i64>().ok());
        match (next(), next(), next()) {
            (Some(a), Some(b), Some(c)) if a >= 0 && b >= 0 && c >= 0 => Ok(Some(Checkpoint {
                log_start_offset: a,
                recovery_point: b,
                cleaner_checkpoint: c,
            })),
            _ => Ok(None),
        }
    }

    /// Writes the checkpoint atomically (fsynced).
    pub(crate) fn write(&self, dir: &Path) -> Result<(), LogError> {
        let text = format!(
            "0\n{}\n{}\n{}\n",
            self.log_start_offset, self.recovery_point, self.cleaner_checkpoint
        );
        write_atomically(&dir.join(CHECKPOINT), text.as_bytes(), true)?;
        Ok(())
    }
}

/// Removes leftovers of interrupted operations and returns the segment base offsets.
fn scan_dir(dir: &Path) -> Result<Vec<i64>, LogError> {
    let mut logs = Vec::new();
    let mut indexes: Vec<(i64, PathBuf)> = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let path = entry.path();
        if name.ends_with(".cleaned") || name.ends_with(".tmp") || name.ends_with(".deleted") {
            remove_if_exists(&path)?;
        } else if let Some(stem) = name.strip_suffix(".log") {
            if let Ok(base) = stem.parse::<i64>()
                && base >= 0
            {
                logs.push(base);
            }
        } else if let Some(stem) = name
            .strip_suffix(".index")
            .or_else(|| name.strip_suffix(".timeindex"))
            .or_else(|| name.strip_suffix(super::segment::TXN_INDEX_SUFFIX))
            && let Ok(base) = stem.parse::<i64>()
        {
            indexes.push((base, path));
        }
    }
    logs.sort_unstable();
    for (base, path) in indexes {
        if logs.binary_search(&base).is_err() {
            remove_if_exists(&path)?;
        }
    }
    Ok(logs)
}

impl PartitionLog {
    /// Opens the log in `dir`, creating the directory if needed.
    ///
    /// Without the clean-shutdown marker (a crash), every segment from the one holding the
    /// recovery point on is validated batch by batch (CRC, framing, increasing offsets) and
    /// truncated at the first invalid batch; later segments are then deleted. Indexes that
    /// are missing or fail their sanity check are rebuilt in any case. The producer state is
    /// the newest snapshot plus the batches after it; the leader epoch cache is cut to the
    /// log.
    pub fn open(dir: PathBuf, config: LogConfig) -> Result<Self, LogError> {
        fs::create_dir_all(&dir)?;
        let now = now_ms();
        let marker = dir.join(CLEAN_SHUTDOWN);
        let clean = marker.exists();
        if clean {
            // Gone before anything is written, so a crash from now on is seen as one.
            remove_if_exists(&marker)?;
            sync_dir(&dir)?;
        }
        let cp = Checkpoint::read(&dir)?;
        let cp_valid = cp.is_some();
        let cp = cp.unwrap_or_default();
        let bases = scan_dir(&dir)?;
        let (mut epochs, epochs_valid) = LeaderEpochCache::load(&dir)?;

        let mut segments: BTreeMap<i64, Segment> = BTreeMap::new();
        let mut rebuilt_any = false;
        let mut prev_next: Option<i64> = None;
        for (i, &base) in bases.iter().enumerate() {
            let next_base = bases.get(i + 1).copied();
            // Without a valid checkpoint, recover everything after a crash.
            let recover = !clean && (!cp_valid || next_base.is_none_or(|n| n > cp.recovery_point));
            let mut on_batch = |h: &BatchHeader| {
                epochs.assign(h.partition_leader_epoch, h.base_offset);
            };
            let (seg, report) = Segment::open(
                &dir,
                base,
                config.index_interval_bytes,
                recover,
                now,
                &mut on_batch,
            )?;
            rebuilt_any |= recover;
            if prev_next.is_some_and(|p| base < p) {
                return Err(LogError::Storage(format!(
                    "segment {base} overlaps the previous segment in {}",
                    dir.display()
                )));
            }
            prev_next = Some(seg.next_offset());
            let truncated = report.truncated_bytes > 0;
            segments.insert(base, seg);
            if truncated {
                // Everything after a cut is unreachable: drop later segments.
                for &later in bases.get(i + 1..).unwrap_or_default() {
                    for suffix in [".log", ".index", ".timeindex", ".txnindex"] {
                        remove_if_exists(&dir.join(super::segment::file_name(later, suffix)))?;
                    }
                }
                break;
            }
        }
        if segments.is_empty() {
            let base = cp.log_start_offset.max(0);
            segments.insert(base, Segment::create(&dir, base, now)?);
            sync_dir(&dir)?;
        }
        let first_base = segments.keys().next().copied().unwrap_or(0);
        let next_offset = segments
            .values()
            .next_back()
            .map_or(first_base, Segment::next_offset);
        let log_start_offset = cp.log_start_offset.max(first_base).min(next_offset);

        // Leader epochs: rebuild fully if the checkpoint was lost and not all segments were
        // scanned; then cut to the log.
        let mut epochs_changed = !epochs_valid;
        if !epochs_valid && !rebuilt_any {
            epochs.clear();
            for seg in segments.values() {
                scan_headers(seg, seg.base_offset, &mut |h| {
                    epochs.assign(h.partition_leader_epoch, h.base_offset);
                })?;
            }
        }
        epochs_changed |= epochs.truncate_from_end(next_offset);
        epochs_changed |= epochs.truncate_from_start(log_start_offset);
        if epochs_changed {
            epochs.persist()?;
        }

        // Producer state: snapshot + replay of the batch headers after it.
        let mut producers = match ProducerStateManager::load_snapshot(&dir, next_offset)? {
            Some(p) if p.map_end_offset() >= first_base => p,
            _ => {
                let mut p = ProducerStateManager::new();
                p.clear(first_base);
                p
            }
        };
        let replay_from = producers.map_end_offset();
        if replay_from < next_offset {
            // Abort markers replayed here re-create their aborted-transaction index entries
            // (lost when the index file was not written before a crash).
            let mut found: Vec<(i64, AbortedTxn)> = Vec::new();
            for seg in segments.values() {
                if seg.next_offset() <= replay_from {
                    continue;
                }
                let mut markers: Vec<(u64, BatchHeader)> = Vec::new();
                scan_headers_at(seg, replay_from, &mut |pos, h| {
                    if h.is_control() && h.producer_id >= 0 {
                        markers.push((pos, *h));
                    }
                })?;
                let mut pending = markers.into_iter().peekable();
                scan_headers(seg, replay_from, &mut |h| {
                    if pending
                        .peek()
                        .is_some_and(|(_, m)| m.base_offset == h.base_offset)
                        && let Some((pos, m)) = pending.next()
                        && is_abort_marker(seg, pos, &m)
                        && let Some(first) = producers
                            .get(m.producer_id)
                            .and_then(|e| e.txn_first_offset)
                    {
                        producers.replay(h);
                        let lso = producers
                            .first_unstable_offset()
                            .unwrap_or(h.last_offset() + 1);
                        found.push((
                            seg.base_offset,
                            AbortedTxn {
                                producer_id: m.producer_id,
                                first_offset: first,
                                last_offset: m.base_offset,
                                last_stable_offset: lso,
                            },
                        ));
                        return;
                    }
                    producers.replay(h);
                })?;
            }
            for (base, e) in found {
                if let Some(seg) = segments.get_mut(&base) {
                    seg.insert_recovered_aborted(e)?;
                }
            }
        }
        producers.set_map_end_offset(next_offset);
        producers.truncate_head(log_start_offset);

        let mut log = PartitionLog {
            dir,
            config,
            segments,
            log_start_offset,
            next_offset,
            recovery_point: cp.recovery_point.min(next_offset),
            cleaner_checkpoint: cp.cleaner_checkpoint.max(log_start_offset),
            producers,
            epochs,
            unflushed_messages: 0,
            last_flush_ms: now,
            timestamp_before_max_ms: DEFAULT_TIMESTAMP_BEFORE_MAX_MS,
            timestamp_after_max_ms: DEFAULT_TIMESTAMP_AFTER_MAX_MS,
            tombstone_horizon: None,
        };
        if clean {
            log.write_checkpoint()?;
        } else {
            // Make the recovered state durable and move the recovery point to the end.
            log.flush()?;
            log.producers.write_snapshot(&log.dir, true)?;
        }
        Ok(log)
    }
}

/// Whether the control batch `h` at `pos` is an abort marker.
fn is_abort_marker(seg: &Segment, pos: u64, h: &BatchHeader) -> bool {
    seg.read_batch_at(pos, h.size())
        .ok()
        .and_then(|b| b.control_record().ok().flatten())
        .is_some_and(|c| c.kind == kafka_protocol::records::ControlRecordKind::Abort)
}

/// Calls `f` with the header of every batch of `seg` whose last offset is `>= from`.
pub(crate) fn scan_headers(
    seg: &Segment,
    from: i64,
    f: &mut dyn FnMut(&BatchHeader),
) -> Result<(), LogError> {
    scan_headers_at(seg, from, &mut |_, h| f(h))
}

/// As [`scan_headers`], with each batch's file position.
pub(crate) fn scan_headers_at(
    seg: &Segment,
    from: i64,
    f: &mut dyn FnMut(u64, &BatchHeader),
) -> Result<(), LogError> {
    let Some((mut pos, _)) = seg.find_batch(from)? else {
        return Ok(());
    };
    while pos < seg.size() {
        let Some(h) = seg.read_header_at(pos)? else {
            return Err(LogError::CorruptRecord(format!(
                "invalid batch header at position {pos} of segment {}",
                seg.base_offset
            )));
        };
        f(pos, &h);
        pos += h.size();
    }
    Ok(())
}
