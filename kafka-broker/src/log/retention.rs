//! Retention (`cleanup.policy=delete`): deleting old segments by time, by size, and below the
//! log start offset, as Kafka's `UnifiedLog.deleteOldSegments`. The active segment is never
//! deleted.

use super::{LogError, PartitionLog};

impl PartitionLog {
    /// Applies time and size retention (delete policies) and removes segments wholly below
    /// the log start offset (any policy).
    pub(crate) fn apply_retention(&mut self, now_ms: i64) -> Result<(), LogError> {
        let mut count = 0usize;
        if self.config.cleanup_policy.deletes() {
            count = count.max(self.deletable_by_time(now_ms));
            count = count.max(self.deletable_by_size());
        }
        let deleted = self.delete_oldest(count)?;
        let below_start = self.delete_segments_below_start()?;
        if deleted || below_start {
            self.after_log_start_moved()?;
        }
        Ok(())
    }

    /// Number of leading non-active segments whose newest timestamp is older than
    /// `retention_ms`.
    fn deletable_by_time(&self, now_ms: i64) -> usize {
        let Some(retention) = self.config.retention_ms.filter(|r| *r >= 0) else {
            return 0;
        };
        let inactive = self.segments.len().saturating_sub(1);
        self.segments
            .values()
            .take(inactive)
            .take_while(|s| !s.is_empty() && now_ms.saturating_sub(s.max_timestamp()) > retention)
            .count()
    }

    /// Number of leading non-active segments to delete to get under `retention_bytes`.
    fn deletable_by_size(&self) -> usize {
        let Some(limit) = self.config.retention_bytes else {
            return 0;
        };
        let mut excess = self.size_bytes().saturating_sub(limit);
        let inactive = self.segments.len().saturating_sub(1);
        let mut n = 0;
        for s in self.segments.values().take(inactive) {
            if excess < s.size() || excess == 0 {
                break;
            }
            excess -= s.size();
            n += 1;
        }
        n
    }

    /// Deletes the `count` oldest segments (never the active one) and moves the log start
    /// offset to the first remaining segment.
    fn delete_oldest(&mut self, count: usize) -> Result<bool, LogError> {
        let count = count.min(self.segments.len().saturating_sub(1));
        if count == 0 {
            return Ok(false);
        }
        for _ in 0..count {
            if let Some((_, seg)) = self.segments.pop_first() {
                seg.delete_files()?;
            }
        }
        if let Some(&first) = self.segments.keys().next() {
            self.log_start_offset = self.log_start_offset.max(first);
        }
        Ok(true)
    }

    /// Deletes non-active segments whose successor starts at or below the log start offset.
    pub(crate) fn delete_segments_below_start(&mut self) -> Result<bool, LogError> {
        let keys: Vec<i64> = self.segments.keys().copied().collect();
        let mut n = 0;
        for pair in keys.windows(2) {
            match pair {
                [_, next] if *next <= self.log_start_offset => n += 1,
                _ => break,
            }
        }
        self.delete_oldest(n)
    }
}
