//! The sparse time index of a segment (`<base offset>.timeindex`).
//!
//! Each entry maps a timestamp (i64) to a relative offset (u32), big-endian, 12 bytes per entry,
//! as Kafka's `TimeIndex`: the entry `(t, o)` says that every record up to offset `o` has a
//! timestamp `<= t` (timestamps are the running maximum, `o` the last offset of the batch that
//! raised it). Entries are added with the offset index entries and when a segment is sealed.

use std::io;
use std::path::PathBuf;

use super::index::{IndexFile, MAX_INDEX_BYTES, read_optional};

/// One time index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    /// Largest timestamp seen up to `relative_offset`.
    pub(crate) timestamp: i64,
    /// Offset relative to the segment's base offset.
    pub(crate) relative_offset: u32,
}

const TIME_ENTRY_SIZE: usize = 12;

/// The sparse time index of one segment.
#[derive(Debug)]
pub(crate) struct TimeIndex {
    entries: Vec<TimeEntry>,
    file: IndexFile,
}

impl TimeIndex {
    /// A new, empty index.
    pub(crate) fn new(path: PathBuf) -> TimeIndex {
        TimeIndex {
            entries: Vec::new(),
            file: IndexFile::new(path, 0, true),
        }
    }

    /// Loads and sanity-checks the file; `Ok(None)` when missing or invalid. `max_relative`
    /// bounds the relative offsets (entries beyond it are invalid).
    pub(crate) fn load(path: PathBuf) -> io::Result<Option<TimeIndex>> {
        let Some(data) = read_optional(&path)? else {
            return Ok(None);
        };
        if data.len() % TIME_ENTRY_SIZE != 0 {
            return Ok(None);
        }
        let mut entries: Vec<TimeEntry> = Vec::with_capacity(data.len() / TIME_ENTRY_SIZE);
        for chunk in data.chunks_exact(TIME_ENTRY_SIZE) {
            let (t, o) = chunk.split_at(8);
            let (Ok(t), Ok(o)) = (<[u8; 8]>::try_from(t), <[u8; 4]>::try_from(o)) else {
                return Ok(None);
            };
            let e = TimeEntry {
                timestamp: i64::from_be_bytes(t),
                relative_offset: u32::from_be_bytes(o),
            };
            if let Some(last) = entries.last()
                && (e.timestamp <= last.timestamp || e.relative_offset < last.relative_offset)
            {
                return Ok(None);
            }
            entries.push(e);
        }
        let n = entries.len();
        Ok(Some(TimeIndex {
            entries,
            file: IndexFile::new(path, n, false),
        }))
    }

    /// Whether another entry would exceed the maximum index size.
    pub(crate) fn is_full(&self) -> bool {
        (self.entries.len() + 1) * TIME_ENTRY_SIZE > MAX_INDEX_BYTES
    }

    /// The last entry.
    pub(crate) fn last(&self) -> Option<TimeEntry> {
        self.entries.last().copied()
    }

    /// Adds `(timestamp, relative_offset)` if the timestamp is larger than the last entry's.
    pub(crate) fn maybe_append(&mut self, timestamp: i64, relative_offset: u32) {
        let ok = match self.entries.last() {
            None => true,
            Some(last) => timestamp > last.timestamp && relative_offset >= last.relative_offset,
        };
        if ok {
            self.entries.push(TimeEntry {
                timestamp,
                relative_offset,
            });
        }
    }

    /// The relative offset after which the first record with a timestamp `>= target` must
    /// be: the offset of the last entry whose timestamp is `< target`, if any.
    pub(crate) fn lookup_before(&self, target: i64) -> Option<u32> {
        let i = self.entries.partition_point(|e| e.timestamp < target);
        i.checked_sub(1)
            .and_then(|i| self.entries.get(i))
            .map(|e| e.relative_offset)
    }

    /// Removes entries for relative offsets `>= relative_offset`.
    #[cfg(test)]
    pub(crate) fn truncate_to_offset(&mut self, relative_offset: u32) {
        let keep = self
            .entries
            .partition_point(|e| e.relative_offset < relative_offset);
        if keep < self.entries.len() {
            self.entries.truncate(keep);
            self.file.invalidate();
        }
    }

    /// Removes all entries.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.file.invalidate();
    }

    /// Writes entries the file lacks.
    pub(crate) fn persist(&mut self, sync: bool) -> io::Result<()> {
        let entries = &self.entries;
        self.file.persist(entries.len(), sync, |from, buf| {
            for e in entries.iter().skip(from) {
                buf.extend_from_slice(&e.timestamp.to_be_bytes());
                buf.extend_from_slice(&e.relative_offset.to_be_bytes());
            }
        })
    }

    /// Deletes the file.
    pub(crate) fn delete_file(&self) -> io::Result<()> {
        self.file.delete()
    }

    /// Forces the next persist to rewrite the whole file.
    pub(crate) fn invalidate_file(&mut self) {
        self.file.invalidate();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.timeindex");
        let mut idx = TimeIndex::new(path.clone());
        idx.maybe_append(100, 1);
        idx.maybe_append(90, 2); // not larger: ignored
        idx.maybe_append(200, 5);
        assert_eq!(idx.lookup_before(100), None);
        assert_eq!(idx.lookup_before(101), Some(1));
        assert_eq!(idx.lookup_before(1000), Some(5));
        idx.persist(true).unwrap();
        let loaded = TimeIndex::load(path.clone()).unwrap().unwrap();
        assert_eq!(loaded.last(), idx.last());
        idx.truncate_to_offset(5);
        assert_eq!(idx.last().unwrap().relative_offset, 1);
        std::fs::write(&path, [0; 13]).unwrap();
        assert!(TimeIndex::load(path).unwrap().is_none());
    }
}
