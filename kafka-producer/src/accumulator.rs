//! The record accumulator: per-partition queues of batches.
//!
//! Each partition has one `Mutex<PartitionState>`, the only lock on the per-record path: the
//! caller's task appends the record's bytes to the open [`RecordBatchBuilder`] under it. A
//! batch is *closed* when it reaches `batch.size`, when `linger.ms` passed (the sender closes
//! it), or on `flush`; closed batches wait in `ready` in creation order. Producer id, epoch and
//! sequence are assigned when a batch is drained for its first send (as the Java client
//! does), and it is compressed then, outside the lock, by the broker's sender task.

use std::any::Any;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::{Bytes, BytesMut};
use kafka_protocol::frame::BufferPool;
use kafka_protocol::records::{RECORD_BATCH_OVERHEAD, RecordBatchBuilder};
use tokio::time::Instant;

use crate::delivery::{BatchAck, BatchShared, RecordMeta};
use crate::{ProducerError, RecordMetadata};

/// The delivery callbacks of a batch's records, in record order, as runs of one closure type:
/// a sending loop passes the same closure type every time, so its callbacks are stored inline
/// in one growing vector per batch instead of one `Box` per record.
#[derive(Default)]
pub(crate) struct Callbacks {
    runs: Vec<Box<dyn CallbackRun>>,
    /// Capacity of the first run (the record count of the partition's previous batch), so
    /// a steady stream does not regrow the vector batch after batch.
    hint: usize,
}

/// A run of callbacks of one type (type-erased).
trait CallbackRun: Send {
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn complete(self: Box<Self>, shared: &BatchShared, result: &Result<BatchAck, ProducerError>);
}

struct Run<F>(Vec<(RecordMeta, F)>);

impl<F> CallbackRun for Run<F>
where
    F: FnOnce(Result<RecordMetadata, ProducerError>) + Send + 'static,
{
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn complete(self: Box<Self>, shared: &BatchShared, result: &Result<BatchAck, ProducerError>) {
        for (m, cb) in self.0 {
            let r = match result {
                Ok(ack) => Ok(m.metadata(shared, ack)),
                Err(e) => Err(e.clone()),
            };
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(r))).is_err() {
                tracing::warn!("producer delivery callback panicked");
            }
        }
    }
}

impl Callbacks {
    /// No callbacks yet; the first run gets room for `hint` records.
    pub(crate) fn with_hint(hint: usize) -> Callbacks {
        Callbacks {
            runs: Vec::new(),
            hint,
        }
    }

    /// Appends the callback of the record described by `meta`.
    pub(crate) fn push<F>(&mut self, meta: RecordMeta, callback: F)
    where
        F: FnOnce(Result<RecordMetadata, ProducerError>) + Send + 'static,
    {
        if let Some(last) = self.runs.last_mut()
            && let Some(run) = last.as_any_mut().downcast_mut::<Run<F>>()
        {
            run.0.push((meta, callback));
            return;
        }
        let capacity = if self.runs.is_empty() {
            self.hint.clamp(16, 1 << 16)
        } else {
            16
        };
        let mut v = Vec::with_capacity(capacity);
        v.push((meta, callback));
        self.runs.push(Box::new(Run(v)));
    }

    /// Calls every callback, in record order, with the batch's outcome.
    pub(crate) fn complete(self, shared: &BatchShared, result: &Result<BatchAck, ProducerError>) {
        for run in self.runs {
            run.complete(shared, result);
        }
    }
}

/// Producer id, epoch and base sequence stamped into a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) producer_id: i64,
    pub(crate) epoch: i16,
    pub(crate) base_sequence: i32,
}

/// A batch being filled.
pub(crate) struct OpenBatch {
    pub(crate) builder: RecordBatchBuilder,
    pub(crate) shared: Arc<BatchShared>,
    pub(crate) created: Instant,
    pub(crate) reserved: usize,
    pub(crate) metas: Vec<RecordMeta>,
    pub(crate) callbacks: Callbacks,
}

/// A closed batch: waiting, in flight, or back for a retry.
pub(crate) struct Batch {
    /// Creation order within the partition.
    pub(crate) no: u64,
    pub(crate) shared: Arc<BatchShared>,
    pub(crate) builder: Option<RecordBatchBuilder>,
    /// Encoded bytes and the stamp they carry, once built.
    pub(crate) encoded: Option<(Bytes, Option<Stamp>)>,
    pub(crate) record_count: i32,
    pub(crate) uncompressed: usize,
    pub(crate) reserved: usize,
    pub(crate) created: Instant,
    pub(crate) attempts: u32,
    pub(crate) stamp: Option<Stamp>,
    pub(crate) last_error: Option<kafka_client::Error>,
    pub(crate) metas: Vec<RecordMeta>,
    pub(crate) callbacks: Callbacks,
}

impl Batch {
    /// Size on the wire, best known (compressed size once built).
    pub(crate) fn wire_size(&self) -> usize {
        match &self.encoded {
            Some((b, _)) => b.len(),
            None => self.uncompressed,
        }
    }

    /// Encodes the batch (compressing once) or re-stamps already encoded bytes when the
    /// stamp changed (after an epoch bump).
    pub(crate) fn encode(
        &mut self,
        compression: kafka_protocol::compression::Compression,
        level: Option<i32>,
        transactional: bool,
    ) -> Result<Bytes, ProducerError> {
        if let Some((bytes, stamp)) = &self.encoded {
            if *stamp == self.stamp {
                return Ok(bytes.clone());
            }
            let restamped = restamp(bytes, self.stamp);
            self.encoded = Some((restamped.clone(), self.stamp));
            return Ok(restamped);
        }
        let Some(mut b) = self.builder.take() else {
            return Err(ProducerError::Fatal("batch has no records".into()));
        };
        b = b
            .compression(compression)
            .compression_level(level)
            .transactional(transactional);
        if let Some(s) = self.stamp {
            b = b.producer(s.producer_id, s.epoch, s.base_sequence);
        }
        let bytes = b
            .build()
            .map_err(|e| ProducerError::Client(kafka_client::Error::from(e)))?;
        self.encoded = Some((bytes.clone(), self.stamp));
        Ok(bytes)
    }
}

/// The pool of batch buffers, like the Java client's `BufferPool`: once a batch is
/// acknowledged or failed its buffer comes back (when nothing else still holds it) and the next
/// batch writes into it; fresh buffers per batch showed as a third of the producer's CPU at
/// 1 KiB records (page faults, `madvise`). At most half of `buffer.memory` idle (64 buffers),
/// buffers from `batch.size` to four times it.
pub(crate) fn batch_buffer_pool(batch_size: usize, buffer_memory: usize) -> BufferPool {
    let batch_size = batch_size.max(1);
    BufferPool::new(
        (buffer_memory / 2 / batch_size).clamp(1, 64),
        batch_size,
        batch_size.saturating_mul(4) + RECORD_BATCH_OVERHEAD,
    )
}

/// Rewrites producer id, epoch and base sequence of an encoded v2 batch and its CRC.
pub(crate) fn restamp(bytes: &Bytes, stamp: Option<Stamp>) -> Bytes {
    let s = stamp.unwrap_or(Stamp {
        producer_id: -1,
        epoch: -1,
        base_sequence: -1,
    });
    let mut b = BytesMut::from(&bytes[..]);
    if b.len() < RECORD_BATCH_OVERHEAD {
        return bytes.clone();
    }
    b[43..51].copy_from_slice(&s.producer_id.to_be_bytes());
    b[51..53].copy_from_slice(&s.epoch.to_be_bytes());
    b[53..57].copy_from_slice(&s.base_sequence.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b.freeze()
}

/// Adds `n` to a sequence number, wrapping at `i32::MAX` to 0 as Kafka does.
pub(crate) fn add_sequence(seq: i32, n: i32) -> i32 {
    if seq > i32::MAX - n {
        n - (i32::MAX - seq) - 1
    } else {
        seq + n
    }
}

/// The state of one partition's queue.
pub(crate) struct PartitionState {
    pub(crate) open: Option<OpenBatch>,
    pub(crate) ready: VecDeque<Batch>,
    pub(crate) in_flight: u32,
    /// A batch came back for a retry: send nothing until every in-flight batch returned, then
    /// resend in order.
    pub(crate) retry_blocked: bool,
    pub(crate) backoff_until: Option<Instant>,
    pub(crate) next_batch_no: u64,
    /// Records in the last closed batch (sizes the next batch's callback vector).
    pub(crate) last_batch_records: usize,
    pub(crate) next_sequence: i32,
    pub(crate) last_acked_sequence: i32,
    /// Every batch not completed yet (open, ready, in flight), for `flush`.
    pub(crate) incomplete: VecDeque<Arc<BatchShared>>,
}

impl PartitionState {
    /// Moves the open batch, if any, to the ready queue.
    pub(crate) fn close_open(&mut self) {
        if let Some(open) = self.open.take() {
            if open.builder.is_empty() {
                self.forget(&open.shared);
                return;
            }
            let no = self.next_batch_no;
            self.next_batch_no += 1;
            self.last_batch_records = open.builder.len();
            self.ready.push_back(Batch {
                no,
                shared: open.shared,
                record_count: open.builder.len() as i32,
                uncompressed: open.builder.uncompressed_size(),
                builder: Some(open.builder),
                encoded: None,
                reserved: open.reserved,
                created: open.created,
                attempts: 0,
                stamp: None,
                last_error: None,
                metas: open.metas,
                callbacks: open.callbacks,
            });
        }
    }

    /// Puts a batch back for a retry, in creation order.
    pub(crate) fn requeue(&mut self, batch: Batch) {
        let pos = self
            .ready
            .iter()
            .position(|b| b.no > batch.no)
            .unwrap_or(self.ready.len());
        self.ready.insert(pos, batch);
    }

    pub(crate) fn forget(&mut self, shared: &Arc<BatchShared>) {
        if let Some(pos) = self.incomplete.iter().position(|s| Arc::ptr_eq(s, shared)) {
            self.incomplete.remove(pos);
        }
    }

    pub(crate) fn has_data(&self) -> bool {
        self.open.is_some() || !self.ready.is_empty()
    }
}

/// One partition's queue.
pub(crate) struct PartitionQueue {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    state: Mutex<PartitionState>,
}

impl PartitionQueue {
    pub(crate) fn new(topic: Arc<str>, partition: i32) -> Arc<PartitionQueue> {
        Arc::new(PartitionQueue {
            topic,
            partition,
            state: Mutex::new(PartitionState {
                open: None,
                ready: VecDeque::new(),
                in_flight: 0,
                retry_blocked: false,
                backoff_until: None,
                next_batch_no: 0,
                last_batch_records: 0,
                next_sequence: 0,
                last_acked_sequence: -1,
                incomplete: VecDeque::new(),
            }),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, PartitionState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A value on cache lines of its own (128 bytes: CPUs prefetch lines in pairs), for the
/// atomics written on every record: reads of neighbouring fields by the sender threads would
/// otherwise take the line away from the sending thread between two records.
#[repr(align(128))]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The uniform sticky partitioner's state of one topic.
struct Sticky {
    partition: AtomicI32,
    bytes: AtomicUsize,
    rng: AtomicU64,
}

/// A topic's partitions and its keyless-record state (uniform sticky, round-robin counter).
pub(crate) struct TopicState {
    pub(crate) name: Arc<str>,
    pub(crate) partitions: Vec<Arc<PartitionQueue>>,
    sticky: CachePadded<Sticky>,
}

impl TopicState {
    pub(crate) fn new(name: Arc<str>, partitions: Vec<Arc<PartitionQueue>>) -> TopicState {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15)
            | 1;
        TopicState {
            name,
            partitions,
            sticky: CachePadded(Sticky {
                partition: AtomicI32::new(-1),
                bytes: AtomicUsize::new(0),
                rng: AtomicU64::new(seed),
            }),
        }
    }

    /// Grows to `count` partitions, keeping existing queues.
    pub(crate) fn grown(&self, count: usize) -> TopicState {
        let mut parts = self.partitions.clone();
        for p in parts.len()..count {
            parts.push(PartitionQueue::new(self.name.clone(), p as i32));
        }
        TopicState::new(self.name.clone(), parts)
    }

    fn random(&self) -> u64 {
        // xorshift; races between threads only mix the state further
        let mut x = self.sticky.rng.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.sticky.rng.store(x, Ordering::Relaxed);
        x
    }

    /// The uniform sticky partition (KIP-480/KIP-794) for a keyless record of `size` bytes:
    /// records stick to one partition until `batch_size` bytes went to it, then a different
    /// partition is picked at random. Lock-free.
    pub(crate) fn sticky(&self, size: usize, batch_size: usize) -> i32 {
        let n = self.partitions.len() as i32;
        if n <= 1 {
            return 0;
        }
        let mut p = self.sticky.partition.load(Ordering::Relaxed);
        if p < 0 || p >= n {
            let fresh = (self.random() % n as u64) as i32;
            p = match self.sticky.partition.compare_exchange(
                p,
                fresh,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => fresh,
                Err(cur) => cur,
            };
        }
        let total = self.sticky.bytes.fetch_add(size, Ordering::Relaxed) + size;
        if total >= batch_size.max(1) {
            let next = (p + 1 + (self.random() % (n as u64 - 1)) as i32) % n;
            if self
                .sticky
                .partition
                .compare_exchange(p, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                self.sticky.bytes.store(0, Ordering::Relaxed);
            }
        }
        p
    }
}

/// An upper bound of a record's size inside a v2 batch.
pub(crate) fn record_size_estimate(key: usize, value: usize, headers: &[(&str, usize)]) -> usize {
    // length, attributes, timestamp delta, offset delta, key/value lengths, header count:
    // at most 5 + 1 + 10 + 5 + 5 + 5 + 5 varint bytes.
    let mut n = 36 + key + value;
    for (k, v) in headers {
        n += header_size_estimate(k.len(), *v);
    }
    n
}

/// An upper bound of one header's size inside a record.
pub(crate) fn header_size_estimate(key: usize, value: usize) -> usize {
    10 + key + value
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kafka_protocol::records::RecordBatch;

    #[test]
    fn sequences_wrap_like_kafka() {
        assert_eq!(add_sequence(5, 10), 15);
        assert_eq!(add_sequence(i32::MAX - 1, 1), i32::MAX);
        assert_eq!(add_sequence(i32::MAX, 1), 0);
        assert_eq!(add_sequence(i32::MAX - 2, 5), 2);
    }

    #[test]
    fn restamp_rewrites_producer_fields_and_crc() {
        let mut b = RecordBatchBuilder::new(0).producer(7, 1, 0);
        b.append(1, Some(b"k"), Some(b"v"), &[]).unwrap();
        b.append(2, None, Some(b"w"), &[]).unwrap();
        let bytes = b.build().unwrap();
        let out = restamp(
            &bytes,
            Some(Stamp {
                producer_id: 9,
                epoch: 2,
                base_sequence: 40,
            }),
        );
        let parsed = RecordBatch::parse(out).unwrap();
        parsed.validate_crc().unwrap();
        assert_eq!(parsed.producer_id(), 9);
        assert_eq!(parsed.producer_epoch(), 2);
        assert_eq!(parsed.base_sequence(), 40);
        assert_eq!(parsed.last_sequence(), 41);
    }

    #[test]
    fn callbacks_run_in_record_order_across_closure_types() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut cbs = Callbacks::default();
        let meta = |index| RecordMeta {
            index,
            timestamp: 7,
            key_size: -1,
            value_size: 1,
        };
        for i in 0..10u32 {
            let s = seen.clone();
            if i % 3 == 2 {
                // another closure type in the middle starts a new run
                let tag = format!("b{i}");
                cbs.push(meta(i), move |r: Result<RecordMetadata, ProducerError>| {
                    s.lock().unwrap().push((tag, r.unwrap().offset));
                });
            } else {
                cbs.push(meta(i), move |r: Result<RecordMetadata, ProducerError>| {
                    let m = r.unwrap();
                    assert_eq!((m.topic.as_str(), m.partition, m.timestamp), ("t", 3, 7));
                    s.lock().unwrap().push((format!("a{i}"), m.offset));
                });
            }
        }
        assert_eq!(cbs.runs.len(), 7);
        let shared = BatchShared::new("t".into(), 3);
        let ack = BatchAck {
            base_offset: 100,
            log_append_time: -1,
        };
        cbs.complete(&shared, &Ok(ack));
        let seen = seen.lock().unwrap().clone();
        let want: Vec<(String, i64)> = (0..10)
            .map(|i| {
                let tag = if i % 3 == 2 { "b" } else { "a" };
                (format!("{tag}{i}"), 100 + i64::from(i))
            })
            .collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn callbacks_see_the_error_and_survive_a_panicking_one() {
        let count = Arc::new(AtomicUsize::new(0));
        let mut cbs = Callbacks::default();
        for i in 0..4u32 {
            let c = count.clone();
            cbs.push(
                RecordMeta {
                    index: i,
                    timestamp: 0,
                    key_size: -1,
                    value_size: -1,
                },
                move |r: Result<RecordMetadata, ProducerError>| {
                    assert!(matches!(r, Err(ProducerError::Closed)));
                    c.fetch_add(1, Ordering::SeqCst);
                    if i == 1 {
                        panic!("callback panics");
                    }
                },
            );
        }
        cbs.complete(
            &BatchShared::new("t".into(), 0),
            &Err(ProducerError::Closed),
        );
        assert_eq!(count.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn sticky_moves_after_batch_size_bytes() {
        let parts = (0..6).map(|p| PartitionQueue::new("t".into(), p)).collect();
        let t = TopicState::new("t".into(), parts);
        let first = t.sticky(100, 1000);
        for _ in 0..8 {
            assert_eq!(t.sticky(100, 1000), first);
        }
        assert_eq!(
            t.sticky(100, 1000),
            first,
            "the 10th record fills the batch"
        );
        assert_ne!(t.sticky(100, 1000), first, "then a new partition");
        let mut seen = std::collections::HashSet::new();
        for _ in 0..5000 {
            seen.insert(t.sticky(500, 1000));
        }
        assert_eq!(seen.len(), 6);
    }
}
