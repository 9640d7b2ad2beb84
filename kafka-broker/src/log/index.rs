//! The sparse offset index of a segment (`<base offset>.index`).
//!
//! Each entry maps a relative offset (`offset - segment base offset`, u32) to the byte position
//! (u32) of the batch holding it, big-endian, 8 bytes per entry, as Kafka's `OffsetIndex`.
//! Entries are added every `index.interval.bytes` of appended data. The entries live in memory;
//! the file is appended to on flush and rewritten after a truncation. A file that fails the
//! sanity check (size not a multiple of 8, entries not increasing, positions past the log) is
//! discarded and the index rebuilt from the log.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Kafka's default `segment.index.bytes` (10 MiB): the segment rolls when an index is full.
pub(crate) const MAX_INDEX_BYTES: usize = 10 * 1024 * 1024;

/// Persistence state shared by the offset and time indexes: the file path, how many entries
/// the file already holds, and whether it must be rewritten.
#[derive(Debug)]
pub(crate) struct IndexFile {
    pub(crate) path: PathBuf,
    persisted: usize,
    rewrite: bool,
}

impl IndexFile {
    pub(crate) fn new(path: PathBuf, persisted: usize, rewrite: bool) -> IndexFile {
        IndexFile {
            path,
            persisted,
            rewrite,
        }
    }

    /// Marks the file for a full rewrite (after entries were removed).
    pub(crate) fn invalidate(&mut self) {
        self.rewrite = true;
    }

    /// Writes entries the file lacks. `encode` appends the encoding of entries `from..` to the
    /// buffer; `len` is the number of entries in memory.
    pub(crate) fn persist(
        &mut self,
        len: usize,
        sync: bool,
        encode: impl Fn(usize, &mut Vec<u8>),
    ) -> io::Result<()> {
        if self.rewrite || self.persisted > len {
            let mut buf = Vec::new();
            encode(0, &mut buf);
            write_atomically(&self.path, &buf, sync)?;
            self.persisted = len;
            self.rewrite = false;
            return Ok(());
        }
        if self.persisted == len {
            if sync && self.path.exists() {
                File::open(&self.path)?.sync_all()?;
            } else if !self.path.exists() {
                write_atomically(&self.path, &[], sync)?;
            }
            return Ok(());
        }
        let mut buf = Vec::new();
        encode(self.persisted, &mut buf);
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(&buf)?;
        if sync {
            f.sync_data()?;
        }
        self.persisted = len;
        Ok(())
    }

    /// Renames the file along with its segment (after cleaning); the in-memory state is kept.
    pub(crate) fn delete(&self) -> io::Result<()> {
        remove_if_exists(&self.path)
    }
}

/// Removes a file, ignoring "not found".
pub(crate) fn remove_if_exists(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Writes `data` to `path` through a temporary file and a rename, so readers see the old or
/// the new content, never a mix.
pub(crate) fn write_atomically(path: &Path, data: &[u8], sync: bool) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = File::create(&tmp)?;
        f.write_all(data)?;
        if sync {
            f.sync_all()?;
        }
    }
    fs::rename(&tmp, path)?;
    if sync && let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Fsyncs a directory so that file creations, renames and deletions in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Reads a whole file, `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// One offset index entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    /// Offset relative to the segment's base offset.
    pub(crate) relative_offset: u32,
    /// Byte position of the batch in the `.log` file.
    pub(crate) position: u32,
}

const OFFSET_ENTRY_SIZE: usize = 8;

/// The sparse offset index of one segment.
#[derive(Debug)]
pub(crate) struct OffsetIndex {
    entries: Vec<OffsetEntry>,
    file: IndexFile,
}

impl OffsetIndex {
    /// A new, empty index (the file is created on the first persist).
    pub(crate) fn new(path: PathBuf) -> OffsetIndex {
        OffsetIndex {
            entries: Vec::new(),
            file: IndexFile::new(path, 0, true),
        }
    }

    /// Loads and sanity-checks the index file; `Ok(None)` when it is missing or not valid for
    /// a log of `log_size` bytes.
    pub(crate) fn load(path: PathBuf, log_size: u64) -> io::Result<Option<OffsetIndex>> {
        let Some(data) = read_optional(&path)? else {
            return Ok(None);
        };
        if data.len() % OFFSET_ENTRY_SIZE != 0 {
            return Ok(None);
        }
        let mut entries = Vec::with_capacity(data.len() / OFFSET_ENTRY_SIZE);
        for chunk in data.chunks_exact(OFFSET_ENTRY_SIZE) {
            let (r, p) = chunk.split_at(4);
            let (Ok(r), Ok(p)) = (<[u8; 4]>::try_from(r), <[u8; 4]>::try_from(p)) else {
                return Ok(None);
            };
            let e = OffsetEntry {
                relative_offset: u32::from_be_bytes(r),
                position: u32::from_be_bytes(p),
            };
            if u64::from(e.position) >= log_size {
                return Ok(None);
            }
            if let Some(last) = entries.last()
                && !is_after(last, &e)
            {
                return Ok(None);
            }
            entries.push(e);
        }
        let n = entries.len();
        Ok(Some(OffsetIndex {
            entries,
            file: IndexFile::new(path, n, false),
        }))
    }

    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether another entry would exceed the maximum index size.
    pub(crate) fn is_full(&self) -> bool {
        (self.entries.len() + 1) * OFFSET_ENTRY_SIZE > MAX_INDEX_BYTES
    }

    /// The last entry.
    pub(crate) fn last(&self) -> Option<OffsetEntry> {
        self.entries.last().copied()
    }

    /// Adds an entry if it is after the last one (ignored otherwise).
    pub(crate) fn append(&mut self, relative_offset: u32, position: u32) {
        let e = OffsetEntry {
            relative_offset,
            position,
        };
        if self.entries.last().is_none_or(|last| is_after(last, &e)) {
            self.entries.push(e);
        }
    }

    /// The position to start scanning from for `relative_offset`: the entry with the largest
    /// relative offset `<=` the target, or position 0.
    pub(crate) fn lookup(&self, relative_offset: u32) -> u32 {
        let i = self
            .entries
            .partition_point(|e| e.relative_offset <= relative_offset);
        match i.checked_sub(1).and_then(|i| self.entries.get(i)) {
            Some(e) => e.position,
            None => 0,
        }
    }

    /// Removes entries at or after byte `position` (the log was truncated there).
    #[cfg(test)]
    pub(crate) fn truncate_to_position(&mut self, position: u64) {
        let keep = self
            .entries
            .partition_point(|e| u64::from(e.position) < position);
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
                buf.extend_from_slice(&e.relative_offset.to_be_bytes());
                buf.extend_from_slice(&e.position.to_be_bytes());
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

fn is_after(last: &OffsetEntry, e: &OffsetEntry) -> bool {
    e.relative_offset > last.relative_offset && e.position > last.position
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.index");
        let mut idx = OffsetIndex::new(path.clone());
        assert_eq!(idx.lookup(5), 0);
        idx.append(10, 100);
        idx.append(20, 200);
        idx.append(15, 300); // not after: ignored
        assert_eq!(idx.len(), 2);
        assert_eq!(idx.lookup(9), 0);
        assert_eq!(idx.lookup(10), 100);
        assert_eq!(idx.lookup(19), 100);
        assert_eq!(idx.lookup(u32::MAX), 200);
        idx.persist(true).unwrap();
        idx.append(30, 400);
        idx.persist(false).unwrap();
        let loaded = OffsetIndex::load(path.clone(), 1000).unwrap().unwrap();
        assert_eq!(loaded.len(), 3);
        assert!(OffsetIndex::load(path.clone(), 300).unwrap().is_none());
        idx.truncate_to_position(200);
        idx.persist(false).unwrap();
        assert_eq!(
            OffsetIndex::load(path.clone(), 1000)
                .unwrap()
                .unwrap()
                .len(),
            1
        );
        std::fs::write(&path, [1, 2, 3]).unwrap();
        assert!(OffsetIndex::load(path, 1000).unwrap().is_none());
    }
}
