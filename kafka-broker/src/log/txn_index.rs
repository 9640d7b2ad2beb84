//! The aborted-transaction index of a segment (`<base offset>.txnindex`), the counterpart of
//! Kafka's `TransactionIndex`.
//!
//! One entry per transaction aborted by a marker in the segment, in marker order. Each entry
//! is 34 bytes, big-endian: version (`i16`, 0), producer id (`i64`), first offset of the
//! transaction in this partition (`i64`), offset of the abort marker (`i64`) and the last
//! stable offset right after the abort (`i64`). `read_committed` fetches return the entries
//! that overlap the fetched range so consumers can drop the aborted records.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use super::LogError;
use super::index::{read_optional, remove_if_exists, write_atomically};

const ENTRY_SIZE: usize = 34;
const VERSION: i16 = 0;

/// One aborted transaction of a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    /// The producer that aborted.
    pub producer_id: i64,
    /// The first offset the transaction wrote in this partition.
    pub first_offset: i64,
    /// The offset of the abort marker.
    pub last_offset: i64,
    /// The partition's last stable offset once the abort was written.
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    fn encode(&self) -> [u8; ENTRY_SIZE] {
        let mut b = [0u8; ENTRY_SIZE];
        b[0..2].copy_from_slice(&VERSION.to_be_bytes());
        b[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        b[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        b[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        b[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        b
    }

    fn decode(b: &[u8]) -> Option<AbortedTxn> {
        let i64_at = |at: usize| {
            b.get(at..at + 8)
                .and_then(|s| s.try_into().ok())
                .map(i64::from_be_bytes)
        };
        let version = i16::from_be_bytes(b.get(0..2)?.try_into().ok()?);
        if version != VERSION {
            return None;
        }
        Some(AbortedTxn {
            producer_id: i64_at(2)?,
            first_offset: i64_at(10)?,
            last_offset: i64_at(18)?,
            last_stable_offset: i64_at(26)?,
        })
    }
}

/// The aborted transactions whose markers are in one segment.
#[derive(Debug)]
pub(crate) struct TxnIndex {
    path: PathBuf,
    entries: Vec<AbortedTxn>,
}

impl TxnIndex {
    /// An empty index for a new segment (no file until the first entry).
    pub(crate) fn new(path: PathBuf) -> TxnIndex {
        TxnIndex {
            path,
            entries: Vec::new(),
        }
    }

    /// Loads the file if present; a torn or unknown trailing entry ends the index (recovery
    /// re-adds what the log still holds).
    pub(crate) fn load(path: PathBuf) -> Result<TxnIndex, LogError> {
        let mut entries = Vec::new();
        if let Some(data) = read_optional(&path)? {
            for chunk in data.chunks(ENTRY_SIZE) {
                match AbortedTxn::decode(chunk) {
                    Some(e) if chunk.len() == ENTRY_SIZE => entries.push(e),
                    _ => break,
                }
            }
        }
        Ok(TxnIndex { path, entries })
    }

    /// The entries, in marker order.
    pub(crate) fn entries(&self) -> &[AbortedTxn] {
        &self.entries
    }

    /// Whether an entry for the marker at `last_offset` exists.
    pub(crate) fn contains_marker(&self, last_offset: i64) -> bool {
        self.entries.iter().any(|e| e.last_offset == last_offset)
    }

    /// Appends an entry (written to the file at once; fsynced with the segment).
    pub(crate) fn append(&mut self, e: AbortedTxn) -> Result<(), LogError> {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(&e.encode())?;
        self.entries.push(e);
        Ok(())
    }

    /// Drops entries whose marker is at or after `offset` (after the log was cut there) and
    /// rewrites the file when something was dropped.
    pub(crate) fn truncate_to(&mut self, offset: i64) -> Result<(), LogError> {
        let before = self.entries.len();
        self.entries.retain(|e| e.last_offset < offset);
        if self.entries.len() != before {
            self.rewrite()?;
        }
        Ok(())
    }

    /// Inserts an entry found by recovery, keeping marker order, and rewrites the file.
    pub(crate) fn insert_recovered(&mut self, e: AbortedTxn) -> Result<(), LogError> {
        if self.contains_marker(e.last_offset) {
            return Ok(());
        }
        let at = self
            .entries
            .partition_point(|x| x.last_offset < e.last_offset);
        self.entries.insert(at, e);
        self.rewrite()
    }

    fn rewrite(&self) -> Result<(), LogError> {
        if self.entries.is_empty() {
            remove_if_exists(&self.path)?;
            return Ok(());
        }
        let mut data = Vec::with_capacity(self.entries.len() * ENTRY_SIZE);
        for e in &self.entries {
            data.extend_from_slice(&e.encode());
        }
        write_atomically(&self.path, &data, true)?;
        Ok(())
    }

    /// Adds to `out` the entries whose transaction overlaps `[from, upper)`: marker at or
    /// after `from` and first offset below `upper`.
    pub(crate) fn collect(&self, from: i64, upper: i64, out: &mut Vec<AbortedTxn>) {
        out.extend(
            self.entries
                .iter()
                .filter(|e| e.last_offset >= from && e.first_offset < upper),
        );
    }

    /// Fsyncs the file if it exists.
    pub(crate) fn sync(&self) -> Result<(), LogError> {
        if !self.entries.is_empty()
            && let Ok(f) = std::fs::File::open(&self.path)
        {
            f.sync_all()?;
        }
        Ok(())
    }

    /// Deletes the file.
    pub(crate) fn delete_file(&self) -> Result<(), LogError> {
        remove_if_exists(&self.path)?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_truncate_and_survive_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.txnindex");
        let mut idx = TxnIndex::new(path.clone());
        let a = AbortedTxn {
            producer_id: 7,
            first_offset: 0,
            last_offset: 3,
            last_stable_offset: 4,
        };
        let b = AbortedTxn {
            producer_id: 8,
            first_offset: 5,
            last_offset: 9,
            last_stable_offset: 10,
        };
        idx.append(a).unwrap();
        idx.append(b).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 68);
        let mut out = Vec::new();
        idx.collect(4, 100, &mut out);
        assert_eq!(out, vec![b]);
        out.clear();
        idx.collect(0, 5, &mut out);
        assert_eq!(out, vec![a]);

        // A torn trailing entry is ignored on load.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[0, 0, 1]).unwrap();
        let mut loaded = TxnIndex::load(path.clone()).unwrap();
        assert_eq!(loaded.entries(), &[a, b]);
        loaded.truncate_to(9).unwrap();
        assert_eq!(loaded.entries(), &[a]);
        assert_eq!(TxnIndex::load(path.clone()).unwrap().entries(), &[a]);
        loaded.insert_recovered(b).unwrap();
        loaded.insert_recovered(b).unwrap();
        assert_eq!(TxnIndex::load(path).unwrap().entries(), &[a, b]);
    }
}
