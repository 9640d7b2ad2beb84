//! The leader epoch cache (`leader-epoch-checkpoint`), as Kafka's `LeaderEpochFileCache`:
//! for each leader epoch, the first offset written in it. Persisted in Kafka's text format
//! (`0`, the entry count, then `epoch offset` lines) through a temporary file and a rename.

use std::path::{Path, PathBuf};

use super::LogError;
use super::index::{read_optional, write_atomically};

/// File name of the checkpoint.
pub(crate) const EPOCH_CHECKPOINT: &str = "leader-epoch-checkpoint";

/// Epoch → start offset entries, epochs and offsets increasing.
#[derive(Debug)]
pub(crate) struct LeaderEpochCache {
    path: PathBuf,
    entries: Vec<(i32, i64)>,
}

impl LeaderEpochCache {
    /// Loads the checkpoint in `dir` (an unreadable file counts as empty: the cache is then
    /// rebuilt from the batches' partition leader epochs during recovery).
    pub(crate) fn load(dir: &Path) -> Result<(LeaderEpochCache, bool), LogError> {
        let path = dir.join(EPOCH_CHECKPOINT);
        let mut entries = Vec::new();
        let mut valid = false;
        if let Some(data) = read_optional(&path)?
            && let Some(e) = parse(&data)
        {
            entries = e;
            valid = true;
        }
        Ok((LeaderEpochCache { path, entries }, valid))
    }

    /// The entries.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> &[(i32, i64)] {
        &self.entries
    }

    /// The latest epoch.
    pub(crate) fn latest_epoch(&self) -> Option<i32> {
        self.entries.last().map(|e| e.0)
    }

    /// Records that `epoch` starts at `start_offset`, if it is newer than the latest epoch.
    /// Returns whether the cache changed.
    pub(crate) fn assign(&mut self, epoch: i32, start_offset: i64) -> bool {
        if epoch < 0 {
            return false;
        }
        if let Some(&(last_epoch, _)) = self.entries.last()
            && epoch <= last_epoch
        {
            return false;
        }
        self.entries.retain(|&(_, o)| o < start_offset);
        self.entries.push((epoch, start_offset));
        true
    }

    /// Removes entries starting at or after `end_offset` (the log was truncated there).
    pub(crate) fn truncate_from_end(&mut self, end_offset: i64) -> bool {
        let before = self.entries.len();
        self.entries.retain(|&(_, o)| o < end_offset);
        before != self.entries.len()
    }

    /// Drops entries wholly before `start_offset` and moves the first remaining one up to it.
    pub(crate) fn truncate_from_start(&mut self, start_offset: i64) -> bool {
        let keep_from = self
            .entries
            .partition_point(|&(_, o)| o <= start_offset)
            .saturating_sub(1);
        let mut changed = keep_from > 0;
        self.entries.drain(..keep_from);
        if let Some(first) = self.entries.first_mut()
            && first.1 < start_offset
        {
            first.1 = start_offset;
            changed = true;
        }
        changed
    }

    /// Removes everything.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// Writes the checkpoint (fsynced).
    pub(crate) fn persist(&self) -> Result<(), LogError> {
        let mut s = format!("0\n{}\n", self.entries.len());
        for (e, o) in &self.entries {
            s.push_str(&format!("{e} {o}\n"));
        }
        write_atomically(&self.path, s.as_bytes(), true)?;
        Ok(())
    }

    /// `OffsetForLeaderEpoch` semantics (Kafka's `endOffsetFor`): for the latest epoch, the
    /// log end offset; for an older known epoch, the start offset of the next higher epoch and
    /// the largest epoch `<=` the requested one; for an epoch below all entries, the first
    /// entry's start offset; `(-1, -1)` for an unknown newer epoch, -1, or an empty cache.
    pub(crate) fn end_offset_for(&self, epoch: i32, log_end_offset: i64) -> (i32, i64) {
        if epoch < 0 {
            return (-1, -1);
        }
        if self.latest_epoch() == Some(epoch) {
            return (epoch, log_end_offset);
        }
        let higher = self.entries.iter().find(|&&(e, _)| e > epoch);
        let Some(&(_, higher_start)) = higher else {
            return (-1, -1);
        };
        match self.entries.iter().rev().find(|&&(e, _)| e <= epoch) {
            Some(&(floor_epoch, _)) => (floor_epoch, higher_start),
            None => (epoch, higher_start),
        }
    }
}

fn parse(data: &[u8]) -> Option<Vec<(i32, i64)>> {
    let text = std::str::from_utf8(data).ok()?;
    let mut lines = text.lines();
    if lines.next()?.trim() != "0" {
        return None;
    }
    let n: usize = lines.next()?.trim().parse().ok()?;
    let mut entries = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let mut parts = lines.next()?.split_whitespace();
        let e: i32 = parts.next()?.parse().ok()?;
        let o: i64 = parts.next()?.parse().ok()?;
        if let Some(&(le, lo)) = entries.last()
            && (e <= le || o < lo)
        {
            return None;
        }
        entries.push((e, o));
    }
    Some(entries)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn end_offsets_and_persistence() {
        let dir = tempfile::tempdir().unwrap();
        let (mut c, _) = LeaderEpochCache::load(dir.path()).unwrap();
        assert_eq!(c.end_offset_for(0, 10), (-1, -1));
        assert!(c.assign(1, 0));
        assert!(!c.assign(1, 5));
        assert!(c.assign(3, 10));
        assert!(c.assign(5, 20));
        assert_eq!(c.end_offset_for(5, 30), (5, 30));
        assert_eq!(c.end_offset_for(3, 30), (3, 20));
        assert_eq!(c.end_offset_for(4, 30), (3, 20));
        assert_eq!(c.end_offset_for(0, 30), (0, 0));
        assert_eq!(c.end_offset_for(6, 30), (-1, -1));
        assert_eq!(c.end_offset_for(-1, 30), (-1, -1));
        c.persist().unwrap();
        let (loaded, valid) = LeaderEpochCache::load(dir.path()).unwrap();
        assert!(valid);
        assert_eq!(loaded.entries(), c.entries());
        c.truncate_from_start(15);
        assert_eq!(c.entries(), &[(3, 15), (5, 20)]);
        c.truncate_from_end(20);
        assert_eq!(c.entries(), &[(3, 15)]);
    }
}
