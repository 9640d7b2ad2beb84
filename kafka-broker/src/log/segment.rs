//! One log segment: `<base offset>.log` with its `.index` and `.timeindex`.
//!
//! The `.log` file holds v2 record batches back to back, exactly as stored by the append path.
//! All file access is positional (`read_at` / `write_all_at`), so reads need only `&self`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::RecordBatch;

use super::LogError;
use super::index::{OffsetIndex, remove_if_exists};
use super::time_index::TimeIndex;
use super::txn_index::{AbortedTxn, TxnIndex};

/// Size of a v2 batch header (up to and including the record count).
pub(crate) const HEADER_SIZE: usize = 61;
/// Size of the offset and length fields.
pub(crate) const LOG_OVERHEAD: usize = 12;

const TRANSACTIONAL_BIT: i16 = 1 << 4;
const CONTROL_BIT: i16 = 1 << 5;

/// Suffix of the aborted-transaction index.
pub(crate) const TXN_INDEX_SUFFIX: &str = ".txnindex";

/// File name of a segment file: the base offset, 20 digits, and the suffix.
pub(crate) fn file_name(base_offset: i64, suffix: &str) -> String {
    format!("{base_offset:020}{suffix}")
}

/// The fixed fields of a v2 batch header, read without touching the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchHeader {
    pub(crate) base_offset: i64,
    pub(crate) batch_length: i32,
    pub(crate) partition_leader_epoch: i32,
    pub(crate) magic: i8,
    pub(crate) attributes: i16,
    pub(crate) last_offset_delta: i32,
    pub(crate) base_timestamp: i64,
    pub(crate) max_timestamp: i64,
    pub(crate) producer_id: i64,
    pub(crate) producer_epoch: i16,
    pub(crate) base_sequence: i32,
    pub(crate) record_count: i32,
}

fn be<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

impl BatchHeader {
    /// Parses the first 61 bytes of `b`; `None` if too short, not magic 2, or the length is
    /// smaller than a header.
    pub(crate) fn parse(b: &[u8]) -> Option<BatchHeader> {
        let h = BatchHeader {
            base_offset: i64::from_be_bytes(be(b, 0)?),
            batch_length: i32::from_be_bytes(be(b, 8)?),
            partition_leader_epoch: i32::from_be_bytes(be(b, 12)?),
            magic: i8::from_be_bytes(be(b, 16)?),
            attributes: i16::from_be_bytes(be(b, 21)?),
            last_offset_delta: i32::from_be_bytes(be(b, 23)?),
            base_timestamp: i64::from_be_bytes(be(b, 27)?),
            max_timestamp: i64::from_be_bytes(be(b, 35)?),
            producer_id: i64::from_be_bytes(be(b, 43)?),
            producer_epoch: i16::from_be_bytes(be(b, 51)?),
            base_sequence: i32::from_be_bytes(be(b, 53)?),
            record_count: i32::from_be_bytes(be(b, 57)?),
        };
        let valid = h.magic == 2
            && h.batch_length >= (HEADER_SIZE - LOG_OVERHEAD) as i32
            && h.last_offset_delta >= 0;
        valid.then_some(h)
    }

    /// Size of the batch in bytes, offset and length fields included.
    pub(crate) fn size(&self) -> u64 {
        LOG_OVERHEAD as u64 + self.batch_length.max(0) as u64
    }

    /// Offset of the last record.
    pub(crate) fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(self.last_offset_delta.into())
    }

    /// Whether the batch is transactional.
    pub(crate) fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// Whether the batch is a control batch.
    pub(crate) fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// Sequence number of the last record, wrapping at `i32::MAX`; -1 without sequence.
    pub(crate) fn last_sequence(&self) -> i32 {
        wrapping_sequence(self.base_sequence, self.last_offset_delta)
    }
}

/// `base + delta` in Kafka's sequence space (wraps from `i32::MAX` to 0); -1 stays -1.
pub(crate) fn wrapping_sequence(base: i32, delta: i32) -> i32 {
    if base < 0 {
        return base;
    }
    let next = i64::from(base) + i64::from(delta);
    if next > i64::from(i32::MAX) {
        (next - i64::from(i32::MAX) - 1) as i32
    } else {
        next as i32
    }
}

/// What the append path tells a segment about each batch it writes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AppendedBatch {
    pub(crate) base_offset: i64,
    pub(crate) last_offset: i64,
    pub(crate) max_timestamp: i64,
    pub(crate) size: u64,
}

/// Streams whole batches from a segment file, for recovery, cleaning and state rebuilds.
pub(crate) struct BatchReader<'a> {
    file: &'a File,
    /// File position of the next byte to read into `buf`.
    read_pos: u64,
    end: u64,
    buf: BytesMut,
    /// File position of `buf[0]`.
    buf_pos: u64,
}

/// One step of a [`BatchReader`].
pub(crate) enum ReadItem {
    /// A complete batch (header checked, CRC not) at a position.
    Batch(u64, RecordBatch),
    /// Clean end of the file.
    End,
    /// Garbage or a torn batch starts at this position.
    Invalid(u64),
}

const READ_CHUNK: usize = 1 << 20;

impl<'a> BatchReader<'a> {
    /// Reads from `start` to `end` (file positions).
    pub(crate) fn new(file: &'a File, start: u64, end: u64) -> BatchReader<'a> {
        BatchReader {
            file,
            read_pos: start,
            end,
            buf: BytesMut::new(),
            buf_pos: start,
        }
    }

    /// Makes `buf` hold at least `n` bytes; false at end of data.
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        while self.buf.len() < n {
            let left = self.end.saturating_sub(self.read_pos);
            if left == 0 {
                return Ok(false);
            }
            let want = (n - self.buf.len()).max(READ_CHUNK).min(left as usize);
            let old = self.buf.len();
            self.buf.resize(old + want, 0);
            let got = match self.buf.get_mut(old..) {
                Some(dst) => self.file.read_at(dst, self.read_pos)?,
                None => 0,
            };
            self.buf.truncate(old + got);
            if got == 0 {
                return Ok(false);
            }
            self.read_pos += got as u64;
        }
        Ok(true)
    }

    /// The next batch.
    pub(crate) fn next_batch(&mut self) -> io::Result<ReadItem> {
        if self.buf.is_empty() && self.read_pos >= self.end {
            return Ok(ReadItem::End);
        }
        let pos = self.buf_pos;
        if !self.fill(HEADER_SIZE)? {
            return Ok(ReadItem::Invalid(pos));
        }
        let Some(h) = BatchHeader::parse(&self.buf) else {
            return Ok(ReadItem::Invalid(pos));
        };
        let Ok(size) = usize::try_from(h.size()) else {
            return Ok(ReadItem::Invalid(pos));
        };
        if !self.fill(size)? {
            return Ok(ReadItem::Invalid(pos));
        }
        let bytes = self.buf.split_to(size).freeze();
        self.buf_pos += size as u64;
        match RecordBatch::parse(bytes) {
            Ok(b) => Ok(ReadItem::Batch(pos, b)),
            Err(_) => Ok(ReadItem::Invalid(pos)),
        }
    }
}

/// One segment.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) base_offset: i64,
    log_path: PathBuf,
    file: File,
    size: u64,
    index: OffsetIndex,
    time_index: TimeIndex,
    txn_index: TxnIndex,
    max_timestamp: i64,
    offset_of_max_timestamp: i64,
    next_offset: i64,
    bytes_since_index: u64,
    rolling_base_timestamp: Option<i64>,
    created_ms: i64,
    unsynced: bool,
}

/// What opening a segment found.
pub(crate) struct OpenReport {
    /// Bytes cut from the end of the file (recovery only).
    pub(crate) truncated_bytes: u64,
}

impl Segment {
    fn paths(dir: &Path, base_offset: i64) -> (PathBuf, PathBuf, PathBuf) {
        (
            dir.join(file_name(base_offset, ".log")),
            dir.join(file_name(base_offset, ".index")),
            dir.join(file_name(base_offset, ".timeindex")),
        )
    }

    /// Creates a new empty segment (replacing any file of the same name).
    pub(crate) fn create(dir: &Path, base_offset: i64, now_ms: i64) -> Result<Segment, LogError> {
        let (log, idx, tidx) = Self::paths(dir, base_offset);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&log)?;
        remove_if_exists(&idx)?;
        remove_if_exists(&tidx)?;
        let txn_path = dir.join(file_name(base_offset, TXN_INDEX_SUFFIX));
        remove_if_exists(&txn_path)?;
        Ok(Segment {
            base_offset,
            log_path: log,
            file,
            size: 0,
            index: OffsetIndex::new(idx),
            time_index: TimeIndex::new(tidx),
            txn_index: TxnIndex::new(txn_path),
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            next_offset: base_offset,
            bytes_since_index: 0,
            rolling_base_timestamp: None,
            created_ms: now_ms,
            unsynced: false,
        })
    }

    /// Opens an existing segment. With `recover`, or when its indexes are missing or fail the
    /// sanity check, or its tail is not made of whole batches, every batch is read and its CRC
    /// checked, the file is truncated at the first invalid batch and the indexes are rebuilt;
    /// `on_batch` then sees every valid batch header.
    pub(crate) fn open(
        dir: &Path,
        base_offset: i64,
        index_interval: usize,
        recover: bool,
        now_ms: i64,
        on_batch: &mut dyn FnMut(&BatchHeader),
    ) -> Result<(Segment, OpenReport), LogError> {
        let (log, idx, tidx) = Self::paths(dir, base_offset);
        let file = OpenOptions::new().read(true).write(true).open(&log)?;
        let size = file.metadata()?.len();
        let mut seg = Segment {
            base_offset,
            log_path: log,
            file,
            size,
            index: OffsetIndex::new(idx.clone()),
            time_index: TimeIndex::new(tidx.clone()),
            txn_index: TxnIndex::load(dir.join(file_name(base_offset, TXN_INDEX_SUFFIX)))?,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            next_offset: base_offset,
            bytes_since_index: 0,
            rolling_base_timestamp: None,
            created_ms: now_ms,
            unsynced: false,
        };
        if !recover
            && let (Some(index), Some(time_index)) =
                (OffsetIndex::load(idx, size)?, TimeIndex::load(tidx)?)
            && seg.load_tail(index, time_index)?
        {
            seg.txn_index.truncate_to(seg.next_offset)?;
            return Ok((seg, OpenReport { truncated_bytes: 0 }));
        }
        let truncated_bytes = seg.recover(index_interval, on_batch)?;
        seg.txn_index.truncate_to(seg.next_offset)?;
        Ok((seg, OpenReport { truncated_bytes }))
    }

    /// With loaded indexes: scans the headers after the last index entry to find the next
    /// offset and the maximum timestamp. False if the tail is not whole, valid batches.
    fn load_tail(&mut self, index: OffsetIndex, time_index: TimeIndex) -> Result<bool, LogError> {
        let start = index.last().map_or(0, |e| u64::from(e.position));
        if let Some(t) = time_index.last() {
            self.max_timestamp = t.timestamp;
            self.offset_of_max_timestamp = self.base_offset + i64::from(t.relative_offset);
        }
        self.index = index;
        self.time_index = time_index;
        if let Some(first) = self.read_header_at(0)? {
            self.rolling_base_timestamp = Some(first.max_timestamp);
        } else if self.size > 0 {
            return Ok(false);
        }
        let mut pos = start;
        let mut expected = self.base_offset;
        while pos < self.size {
            let Some(h) = self.read_header_at(pos)? else {
                return Ok(false);
            };
            if pos + h.size() > self.size || h.base_offset < expected {
                return Ok(false);
            }
            if h.max_timestamp > self.max_timestamp {
                self.max_timestamp = h.max_timestamp;
                self.offset_of_max_timestamp = h.last_offset();
            }
            expected = h.last_offset().saturating_add(1);
            self.next_offset = expected;
            pos += h.size();
        }
        self.bytes_since_index = self.size - start;
        Ok(true)
    }

    /// Reads every batch, checks it, truncates at the first invalid one and rebuilds the
    /// indexes. Returns the number of bytes cut.
    fn recover(
        &mut self,
        index_interval: usize,
        on_batch: &mut dyn FnMut(&BatchHeader),
    ) -> Result<u64, LogError> {
        self.index.clear();
        self.time_index.clear();
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = -1;
        self.next_offset = self.base_offset;
        self.bytes_since_index = 0;
        self.rolling_base_timestamp = None;
        let mut valid_end = 0u64;
        {
            let file = self.file.try_clone()?;
            let mut reader = BatchReader::new(&file, 0, self.size);
            loop {
                match reader.next_batch()? {
                    ReadItem::End => break,
                    ReadItem::Invalid(_) => break,
                    ReadItem::Batch(pos, batch) => {
                        let Some(h) = BatchHeader::parse(batch.as_bytes()) else {
                            break;
                        };
                        if batch.validate_crc().is_err()
                            || h.base_offset < self.next_offset
                            || h.last_offset() - self.base_offset > i64::from(i32::MAX)
                            || i64::from(h.record_count) > i64::from(h.last_offset_delta) + 1
                        {
                            break;
                        }
                        on_batch(&h);
                        // Same bookkeeping as an append.
                        self.track(
                            pos,
                            &AppendedBatch {
                                base_offset: h.base_offset,
                                last_offset: h.last_offset(),
                                max_timestamp: h.max_timestamp,
                                size: h.size(),
                            },
                            index_interval,
                        );
                        valid_end = pos + h.size();
                    }
                }
            }
        }
        let cut = self.size.saturating_sub(valid_end);
        if cut > 0 {
            self.file.set_len(valid_end)?;
            self.file.sync_all()?;
            self.size = valid_end;
        }
        self.index.invalidate_file();
        self.time_index.invalidate_file();
        // Recovered data may still be only in the page cache: the next flush syncs it.
        self.unsynced = true;
        self.index.persist(false)?;
        self.time_index.persist(false)?;
        Ok(cut)
    }

    /// Index and timestamp bookkeeping for a batch written at `pos`.
    fn track(&mut self, pos: u64, b: &AppendedBatch, index_interval: usize) {
        if self.bytes_since_index > index_interval as u64 {
            let rel = (b.base_offset - self.base_offset) as u32;
            self.index.append(rel, pos as u32);
            if self.max_timestamp >= 0 {
                let rel_max = (self.offset_of_max_timestamp - self.base_offset) as u32;
                self.time_index.maybe_append(self.max_timestamp, rel_max);
            }
            self.bytes_since_index = 0;
        }
        self.bytes_since_index += b.size;
        if b.max_timestamp > self.max_timestamp {
            self.max_timestamp = b.max_timestamp;
            self.offset_of_max_timestamp = b.last_offset;
        }
        if self.rolling_base_timestamp.is_none() {
            self.rolling_base_timestamp = Some(b.max_timestamp);
        }
        self.next_offset = b.last_offset.saturating_add(1);
    }

    /// Appends `data` (the batches described by `batches`, back to back) at the end.
    pub(crate) fn append(
        &mut self,
        parts: &[Bytes],
        batches: &[AppendedBatch],
        index_interval: usize,
    ) -> Result<(), LogError> {
        let start = self.size;
        let written = write_parts(&self.file, parts, start);
        let len = match written {
            Ok(len) => len,
            Err(e) => {
                // Do not leave a partial write behind for readers.
                let _ = self.file.set_len(start);
                return Err(e.into());
            }
        };
        let mut pos = start;
        for b in batches {
            self.track(pos, b, index_interval);
            pos += b.size;
        }
        self.size = start + len;
        self.unsynced = true;
        Ok(())
    }

    /// Bytes in the `.log` file.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The offset after the last batch (the base offset when empty).
    pub(crate) fn next_offset(&self) -> i64 {
        self.next_offset
    }

    /// Largest batch timestamp, -1 when none.
    pub(crate) fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    /// Last offset of the batch that holds the largest timestamp.
    pub(crate) fn offset_of_max_timestamp(&self) -> i64 {
        self.offset_of_max_timestamp
    }

    /// Whether the segment holds no batch.
    pub(crate) fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Whether the segment must roll before appending `extra` bytes up to `last_offset`.
    pub(crate) fn should_roll(
        &self,
        extra: u64,
        last_offset: i64,
        segment_bytes: u64,
        segment_ms: Option<u64>,
        now_ms: i64,
    ) -> bool {
        if self.is_empty() {
            return false;
        }
        let by_size = self.size + extra > segment_bytes || self.size + extra > u64::from(u32::MAX);
        let by_offset = last_offset - self.base_offset > i64::from(i32::MAX);
        by_size || by_offset || self.index.is_full() || self.time_index.is_full() || {
            self.due_by_time(segment_ms, now_ms)
        }
    }

    /// Whether `segment_ms` has passed since the segment's first batch.
    pub(crate) fn due_by_time(&self, segment_ms: Option<u64>, now_ms: i64) -> bool {
        let Some(ms) = segment_ms else {
            return false;
        };
        if self.is_empty() {
            return false;
        }
        let base = match self.rolling_base_timestamp {
            Some(t) if t >= 0 => t,
            _ => self.created_ms,
        };
        now_ms.saturating_sub(base) > i64::try_from(ms).unwrap_or(i64::MAX)
    }

    /// Reads the batch header at `pos`; `None` when fewer than a header's bytes remain or the
    /// header is not a valid v2 header.
    pub(crate) fn read_header_at(&self, pos: u64) -> Result<Option<BatchHeader>, LogError> {
        if pos + HEADER_SIZE as u64 > self.size {
            return Ok(None);
        }
        let mut buf = [0u8; HEADER_SIZE];
        self.file.read_exact_at(&mut buf, pos)?;
        Ok(BatchHeader::parse(&buf))
    }

    /// Position and header of the first batch whose last offset is `>= offset`.
    pub(crate) fn find_batch(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, LogError> {
        let rel = u32::try_from(offset.saturating_sub(self.base_offset).max(0)).unwrap_or(u32::MAX);
        let mut pos = u64::from(self.index.lookup(rel));
        while pos < self.size {
            let Some(h) = self.read_header_at(pos)? else {
                return Err(LogError::CorruptRecord(format!(
                    "invalid batch header at position {pos} of {}",
                    self.log_path.display()
                )));
            };
            if h.last_offset() >= offset {
                return Ok(Some((pos, h)));
            }
            pos += h.size();
        }
        Ok(None)
    }

    /// Whole batches from the one holding `offset`, at most `max_bytes` (or the first batch
    /// whatever its size with `min_one_batch`). `None` if no batch here reaches `offset`.
    pub(crate) fn read(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
    ) -> Result<Option<Bytes>, LogError> {
        let Some((pos, first)) = self.find_batch(offset)? else {
            return Ok(None);
        };
        let available = self.size - pos;
        let want = (max_bytes as u64).min(available);
        let first_size = first.size();
        let len = if first_size > want {
            if !min_one_batch {
                return Ok(Some(Bytes::new()));
            }
            first_size.min(available)
        } else {
            want
        };
        let mut buf = vec![0u8; len as usize];
        self.file.read_exact_at(&mut buf, pos)?;
        // Cut at the last whole batch.
        let mut end = 0usize;
        while let Some(h) = buf.get(end..).and_then(BatchHeader::parse) {
            let Ok(size) = usize::try_from(h.size()) else {
                break;
            };
            if end + size > buf.len() {
                break;
            }
            end += size;
        }
        buf.truncate(end);
        Ok(Some(Bytes::from(buf)))
    }

    /// Reads the whole batch at `pos`.
    pub(crate) fn read_batch_at(&self, pos: u64, size: u64) -> Result<RecordBatch, LogError> {
        let mut buf = vec![0u8; size as usize];
        self.file.read_exact_at(&mut buf, pos)?;
        RecordBatch::parse(Bytes::from(buf)).map_err(|e| LogError::CorruptRecord(e.to_string()))
    }

    /// A reader over all batches.
    pub(crate) fn batches(&self) -> BatchReader<'_> {
        BatchReader::new(&self.file, 0, self.size)
    }

    /// A reader over the batches from file position `pos`.
    pub(crate) fn batches_at(&self, pos: u64) -> BatchReader<'_> {
        BatchReader::new(&self.file, pos.min(self.size), self.size)
    }

    /// A reader over the batches from the one containing `offset`.
    pub(crate) fn batches_from(&self, offset: i64) -> Result<BatchReader<'_>, LogError> {
        let start = match self.find_batch(offset)? {
            Some((pos, _)) => pos,
            None => self.size,
        };
        Ok(BatchReader::new(&self.file, start, self.size))
    }

    /// Relative offset after which the first record with timestamp `>= ts` is, per the time
    /// index; the scan start position for it.
    pub(crate) fn time_lookup_position(&self, ts: i64) -> u64 {
        match self.time_index.lookup_before(ts) {
            Some(rel) => u64::from(self.index.lookup(rel)),
            None => 0,
        }
    }

    /// Writes the final time index entry, persists the indexes and fsyncs everything (done when
    /// the segment stops being the active one, and at close).
    pub(crate) fn seal(&mut self) -> Result<(), LogError> {
        if self.max_timestamp >= 0 {
            let rel = (self.offset_of_max_timestamp - self.base_offset) as u32;
            self.time_index.maybe_append(self.max_timestamp, rel);
        }
        self.flush(true)
    }

    /// Fsyncs the log file (if written since) and writes the index files (fsynced when
    /// `sync_indexes`).
    pub(crate) fn flush(&mut self, sync_indexes: bool) -> Result<(), LogError> {
        self.sync_log()?;
        self.index.persist(sync_indexes)?;
        self.time_index.persist(sync_indexes)?;
        if sync_indexes {
            self.txn_index.sync()?;
        }
        Ok(())
    }

    /// Fsyncs the log file if it was written since the last sync.
    pub(crate) fn sync_log(&mut self) -> Result<(), LogError> {
        if self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Deletes the segment's files.
    pub(crate) fn delete_files(&self) -> Result<(), LogError> {
        remove_if_exists(&self.log_path)?;
        self.index.delete_file()?;
        self.time_index.delete_file()?;
        self.txn_index.delete_file()?;
        Ok(())
    }

    /// Deletes the index files (before the log file is replaced).
    pub(crate) fn delete_index_files(&self) -> Result<(), LogError> {
        self.index.delete_file()?;
        self.time_index.delete_file()?;
        Ok(())
    }

    /// Records a transaction aborted by a marker in this segment.
    pub(crate) fn append_aborted(&mut self, e: AbortedTxn) -> Result<(), LogError> {
        self.txn_index.append(e)
    }

    /// Adds an aborted transaction found while rebuilding state (no duplicate).
    pub(crate) fn insert_recovered_aborted(&mut self, e: AbortedTxn) -> Result<(), LogError> {
        self.txn_index.insert_recovered(e)
    }

    /// The aborted transactions of this segment overlapping `[from, upper)`.
    pub(crate) fn collect_aborted(&self, from: i64, upper: i64, out: &mut Vec<AbortedTxn>) {
        self.txn_index.collect(from, upper, out);
    }

    /// Every aborted transaction of this segment.
    pub(crate) fn aborted(&self) -> &[AbortedTxn] {
        self.txn_index.entries()
    }
}

/// Parts at least this large are written by their own `pwrite`; smaller neighbours are
/// gathered into one buffer first (a patched batch header with a small batch's records).
const DIRECT_WRITE_BYTES: usize = 16 * 1024;

/// Writes `parts` back to back at `at`; returns the bytes written.
fn write_parts(file: &File, parts: &[Bytes], at: u64) -> std::io::Result<u64> {
    let mut pos = at;
    let mut staged: Vec<u8> = Vec::new();
    for p in parts {
        if p.len() >= DIRECT_WRITE_BYTES {
            if !staged.is_empty() {
                file.write_all_at(&staged, pos)?;
                pos += staged.len() as u64;
                staged.clear();
            }
            file.write_all_at(p, pos)?;
            pos += p.len() as u64;
        } else {
            staged.extend_from_slice(p);
        }
    }
    if !staged.is_empty() {
        file.write_all_at(&staged, pos)?;
        pos += staged.len() as u64;
    }
    Ok(pos - at)
}
