//! Per-partition consumption state shared by the application-facing consumer and the fetch
//! task: positions, pause flags, resets, and fetched-but-not-yet-returned data.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::records::{Batch, ControlRecord, Record, RecordBatches, Records};

use crate::assignor::TopicPartition;
use crate::config::AutoOffsetReset;

/// Why a partition has no position yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pending {
    /// Look up the committed offset (group consumers), then fall back to the reset policy.
    Committed,
    /// Reset with this policy (`Earliest`/`Latest`; `None` = fail).
    Reset(AutoOffsetReset),
}

/// Raw data of one partition from one Fetch response.
#[derive(Debug)]
pub(crate) struct Completed {
    pub(crate) generation: u64,
    pub(crate) records: Bytes,
    /// `(first_offset, producer_id)` of aborted transactions (read_committed only).
    pub(crate) aborted: Vec<(i64, i64)>,
    pub(crate) bytes: usize,
}

/// A partition's state.
#[derive(Debug)]
pub(crate) struct PartitionState {
    pub(crate) topic: Arc<str>,
    /// Next offset to hand to the application (None while [`Pending`]).
    pub(crate) position: Option<i64>,
    /// Leader epoch of the last record handed out.
    pub(crate) last_epoch: Option<i32>,
    pub(crate) pending: Option<Pending>,
    /// Next offset to fetch (runs ahead of `position` by what is buffered).
    pub(crate) fetch_offset: i64,
    /// Bumped on every seek/reset: fetched data of older generations is dropped.
    pub(crate) generation: u64,
    pub(crate) paused: bool,
    pub(crate) in_flight: bool,
    /// No fetch before this instant (error backoff).
    pub(crate) backoff_until: Option<tokio::time::Instant>,
    pub(crate) buffered: VecDeque<Completed>,
    pub(crate) cursor: Option<Cursor>,
    pub(crate) high_watermark: i64,
    /// The last usable fetch response left this partition out (an incremental response
    /// does that when nothing changed): nothing new at `fetch_offset` as far as the broker
    /// knows, even while the high watermark is still unknown.
    pub(crate) nothing_new: bool,
    pub(crate) last_stable_offset: i64,
    pub(crate) log_start_offset: i64,
    /// An error to surface from the next poll (out of range with reset=none, corrupt data).
    pub(crate) error: Option<crate::Error>,
    /// Leader epoch of the last batch fetched (Fetch v12+ `last_fetched_epoch`).
    pub(crate) fetch_epoch: Option<i32>,
    /// The partition's leader epoch when it was last fetched (KIP-320).
    pub(crate) leader_epoch: Option<i32>,
    /// The position must be checked with OffsetForLeaderEpoch before fetching (KIP-320).
    pub(crate) awaiting_validation: bool,
    /// An OffsetForLeaderEpoch request for this partition is in flight.
    pub(crate) validating: bool,
}

impl PartitionState {
    pub(crate) fn new(topic: Arc<str>, pending: Pending) -> Self {
        PartitionState {
            topic,
            position: None,
            last_epoch: None,
            pending: Some(pending),
            fetch_offset: 0,
            generation: 0,
            paused: false,
            in_flight: false,
            backoff_until: None,
            buffered: VecDeque::new(),
            cursor: None,
            high_watermark: -1,
            nothing_new: false,
            last_stable_offset: -1,
            log_start_offset: -1,
            error: None,
            fetch_epoch: None,
            leader_epoch: None,
            awaiting_validation: false,
            validating: false,
        }
    }

    /// Moves the position: drops buffered data, invalidates in-flight fetches.
    pub(crate) fn seek(&mut self, offset: i64, epoch: Option<i32>) {
        self.position = Some(offset);
        self.last_epoch = epoch;
        self.fetch_offset = offset;
        self.fetch_epoch = epoch;
        self.pending = None;
        self.awaiting_validation = false;
        self.clear_buffer();
    }

    /// Moves the position to an offset whose epoch is to be checked against the leader before
    /// fetching (a committed offset with its leader epoch), as Java's `seekUnvalidated`.
    pub(crate) fn seek_unvalidated(&mut self, offset: i64, epoch: Option<i32>) {
        self.seek(offset, epoch);
        self.awaiting_validation = epoch.is_some();
    }

    /// The leader changed: drop what was fetched ahead of the position and check the
    /// position against the new leader before fetching again.
    pub(crate) fn request_validation(&mut self) {
        if let Some(pos) = self.position
            && self.last_epoch.is_some()
        {
            let epoch = self.last_epoch;
            self.seek(pos, epoch);
            self.awaiting_validation = true;
        }
    }

    /// Forgets the position; it is resolved again per `pending`.
    pub(crate) fn reset(&mut self, pending: Pending) {
        self.position = None;
        self.pending = Some(pending);
        self.awaiting_validation = false;
        self.clear_buffer();
    }

    fn clear_buffer(&mut self) {
        self.generation += 1;
        self.nothing_new = false;
        self.buffered.clear();
        self.cursor = None;
        self.error = None;
    }

    /// Whether the fetch task may include this partition in a request now.
    pub(crate) fn fetchable(&self, now: tokio::time::Instant, max_buffered: usize) -> bool {
        self.position.is_some()
            && !self.paused
            && !self.in_flight
            && !self.awaiting_validation
            && self.error.is_none()
            && self.buffered.len() < max_buffered
            && self.backoff_until.is_none_or(|t| t <= now)
    }

    pub(crate) fn buffered_bytes(&self) -> usize {
        self.buffered.iter().map(|c| c.bytes).sum()
    }

    /// The lag: high watermark (or LSO) minus position.
    pub(crate) fn lag(&self, read_committed: bool) -> Option<i64> {
        let end = if read_committed {
            self.last_stable_offset
        } else {
            self.high_watermark
        };
        match (self.position, end) {
            (Some(p), e) if e >= 0 => Some((e - p).max(0)),
            _ => None,
        }
    }
}

/// One record ready to hand out (not yet deserialized).
#[derive(Debug)]
pub(crate) struct RawRecord {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    pub(crate) record: Record,
    pub(crate) timestamp_type: kafka_protocol::records::TimestampType,
    pub(crate) leader_epoch: Option<i32>,
}

/// Decoding state over one [`Completed`].
#[derive(Debug)]
pub(crate) struct Cursor {
    batches: RecordBatches,
    current: Option<(BatchInfo, Records)>,
    aborted: BinaryHeap<Reverse<(i64, i64)>>,
    aborted_pids: HashSet<i64>,
    read_committed: bool,
    check_crcs: bool,
}

#[derive(Debug, Clone, Copy)]
struct BatchInfo {
    timestamp_type: kafka_protocol::records::TimestampType,
    leader_epoch: Option<i32>,
    next_offset: i64,
}

/// What the cursor produced.
#[derive(Debug)]
pub(crate) enum Next {
    Record(Record, kafka_protocol::records::TimestampType, Option<i32>),
    /// A control or aborted batch was skipped: the position moves to this offset.
    Skip(i64),
    Done,
    Corrupt(String),
}

impl Cursor {
    pub(crate) fn new(c: Completed, read_committed: bool, check_crcs: bool) -> Cursor {
        Cursor {
            batches: RecordBatches::new(c.records),
            current: None,
            aborted: c.aborted.into_iter().map(Reverse).collect(),
            aborted_pids: HashSet::new(),
            read_committed,
            check_crcs,
        }
    }

    /// The next record at or after `position`, skipping control batches and (read_committed)
    /// aborted transactional batches as Kafka's Java consumer does.
    pub(crate) fn next(&mut self, position: i64) -> Next {
        loop {
            if let Some((info, recs)) = &mut self.current {
                match recs.next() {
                    Some(Ok(r)) => {
                        if r.offset < position {
                            continue;
                        }
                        return Next::Record(r, info.timestamp_type, info.leader_epoch);
                    }
                    Some(Err(e)) => {
                        self.current = None;
                        return Next::Corrupt(e.to_string());
                    }
                    None => {
                        let next = info.next_offset;
                        self.current = None;
                        if next > position {
                            return Next::Skip(next);
                        }
                        continue;
                    }
                }
            }
            let batch = match self.batches.next() {
                None => return Next::Done,
                Some(Err(e)) => return Next::Corrupt(e.to_string()),
                Some(Ok(b)) => b,
            };
            if batch.next_offset() <= position {
                continue;
            }
            if self.check_crcs
                && let Err(e) = batch.validate_crc()
            {
                return Next::Corrupt(e.to_string());
            }
            if self.read_committed && batch.producer_id() >= 0 {
                while let Some(Reverse((first, pid))) = self.aborted.peek().copied() {
                    if first > batch.last_offset() {
                        break;
                    }
                    self.aborted.pop();
                    self.aborted_pids.insert(pid);
                }
                if batch.is_control() && is_abort_marker(&batch) {
                    self.aborted_pids.remove(&batch.producer_id());
                } else if batch.is_transactional()
                    && self.aborted_pids.contains(&batch.producer_id())
                {
                    return Next::Skip(batch.next_offset());
                }
            }
            if batch.is_control() {
                return Next::Skip(batch.next_offset());
            }
            let epoch = batch.partition_leader_epoch();
            let info = BatchInfo {
                timestamp_type: batch.timestamp_type(),
                leader_epoch: (epoch >= 0).then_some(epoch),
                next_offset: batch.next_offset(),
            };
            self.current = Some((info, batch.records()));
        }
    }
}

fn is_abort_marker(batch: &Batch) -> bool {
    let mut recs = batch.records();
    match recs.next() {
        Some(Ok(r)) => matches!(
            ControlRecord::parse(&r),
            Ok(Some(c)) if c.kind == kafka_protocol::records::ControlRecordKind::Abort
        ),
        _ => false,
    }
}

/// Offset just past the last complete batch in `records` (None when there is none).
#[cfg(test)]
pub(crate) fn next_fetch_offset(records: &Bytes) -> Option<i64> {
    last_batch(records).map(|(o, _)| o)
}

/// Offset just past the last complete batch in `records` and that batch's leader epoch
/// (None when there is no complete batch).
pub(crate) fn last_batch(records: &Bytes) -> Option<(i64, Option<i32>)> {
    let mut last = None;
    for b in RecordBatches::new(records.clone()) {
        match b {
            Ok(b) => {
                let e = b.partition_leader_epoch();
                last = Some((b.next_offset(), (e >= 0).then_some(e)));
            }
            Err(_) => break,
        }
    }
    last
}

/// The whole state map.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) parts: BTreeMap<TopicPartition, PartitionState>,
    /// Round-robin start for draining.
    pub(crate) rotate: usize,
    pub(crate) closed: bool,
}

impl State {
    /// Publishes `kafka_consumer_records_lag{topic,partition}` for every partition with a
    /// known lag and `kafka_consumer_records_lag_max` over them.
    pub(crate) fn record_lag_metrics(&self, read_committed: bool) {
        let mut max: Option<i64> = None;
        for (tp, p) in &self.parts {
            if let Some(lag) = p.lag(read_committed) {
                metrics::gauge!(
                    "kafka_consumer_records_lag",
                    "topic" => tp.topic.clone(),
                    "partition" => tp.partition.to_string()
                )
                .set(lag as f64);
                max = Some(max.map_or(lag, |m| m.max(lag)));
            }
        }
        if let Some(m) = max {
            metrics::gauge!("kafka_consumer_records_lag_max").set(m as f64);
        }
    }

    /// Takes up to `max` records, round-robin over partitions with data; positions advance.
    #[cfg(test)]
    pub(crate) fn drain(
        &mut self,
        max: usize,
        read_committed: bool,
        check_crcs: bool,
        out: &mut Vec<RawRecord>,
    ) -> Option<crate::Error> {
        self.drain_with(max, read_committed, check_crcs, |r| {
            out.push(r);
            Ok(())
        })
    }

    /// Hands up to `max` records, partition after partition (starting one further each call),
    /// to `take`, which turns them into what `poll` returns. A record `take` refuses (an error,
    /// e.g. it does not deserialize) is not consumed: its partition's position stays at it and
    /// the error is returned. Errors recorded by the fetcher are returned the same way, before
    /// any record or after the records already taken.
    pub(crate) fn drain_with(
        &mut self,
        max: usize,
        read_committed: bool,
        check_crcs: bool,
        mut take: impl FnMut(RawRecord) -> Result<(), crate::Error>,
    ) -> Option<crate::Error> {
        let mut taken = 0usize;
        let n = self.parts.len();
        if n == 0 {
            return None;
        }
        let start = self.rotate % n;
        self.rotate = self.rotate.wrapping_add(1);
        let keys: Vec<TopicPartition> = self
            .parts
            .keys()
            .skip(start)
            .chain(self.parts.keys().take(start))
            .cloned()
            .collect();
        for tp in keys {
            if taken >= max {
                break;
            }
            let Some(p) = self.parts.get_mut(&tp) else {
                continue;
            };
            if p.paused {
                continue;
            }
            if let Some(e) = p.error.take() {
                if taken > 0 {
                    p.error = Some(e);
                    return None;
                }
                return Some(e);
            }
            let Some(mut pos) = p.position else {
                continue;
            };
            loop {
                if taken >= max {
                    break;
                }
                if p.cursor.is_none() {
                    match p.buffered.pop_front() {
                        Some(c) if c.generation == p.generation => {
                            p.cursor = Some(Cursor::new(c, read_committed, check_crcs));
                        }
                        Some(_) => continue,
                        None => break,
                    }
                }
                let Some(cur) = p.cursor.as_mut() else {
                    break;
                };
                match cur.next(pos) {
                    Next::Record(r, tt, epoch) => {
                        let offset = r.offset;
                        let raw = RawRecord {
                            topic: p.topic.clone(),
                            partition: tp.partition,
                            record: r,
                            timestamp_type: tt,
                            leader_epoch: epoch,
                        };
                        if let Err(e) = take(raw) {
                            // Not consumed: the next poll starts at this record again.
                            let last = p.last_epoch;
                            p.seek(offset, last);
                            return Some(e);
                        }
                        taken += 1;
                        pos = offset + 1;
                        p.last_epoch = epoch.or(p.last_epoch);
                    }
                    Next::Skip(o) => pos = pos.max(o),
                    Next::Done => p.cursor = None,
                    Next::Corrupt(m) => {
                        p.cursor = None;
                        p.buffered.clear();
                        p.generation += 1;
                        p.fetch_offset = pos;
                        p.error = Some(crate::Error::CorruptRecord {
                            tp: tp.clone(),
                            offset: pos,
                            message: m,
                        });
                        break;
                    }
                }
            }
            p.position = Some(pos);
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::records::{ControlRecordKind, RecordBatchBuilder};

    fn batch(base: i64, n: i64) -> Bytes {
        let mut b = RecordBatchBuilder::new(base);
        for i in 0..n {
            b.append(
                1000 + i,
                None,
                Some(format!("v{}", base + i).as_bytes()),
                &[],
            )
            .unwrap();
        }
        b.build().unwrap()
    }

    fn txn_batch(base: i64, n: i64, pid: i64) -> Bytes {
        let mut b = RecordBatchBuilder::new(base)
            .producer(pid, 0, 0)
            .transactional(true);
        for i in 0..n {
            b.append(1000 + i, None, Some(b"t"), &[]).unwrap();
        }
        b.build().unwrap()
    }

    fn marker(offset: i64, pid: i64, kind: ControlRecordKind) -> Bytes {
        RecordBatchBuilder::control_batch(
            offset,
            1000,
            0,
            pid,
            0,
            ControlRecord {
                kind,
                coordinator_epoch: 0,
            },
        )
        .unwrap()
    }

    fn state_with(data: Bytes, aborted: Vec<(i64, i64)>, pos: i64) -> (State, TopicPartition) {
        let tp = TopicPartition::new("t", 0);
        let mut p = PartitionState::new("t".into(), Pending::Committed);
        p.seek(pos, None);
        p.buffered.push_back(Completed {
            generation: p.generation,
            bytes: data.len(),
            records: data,
            aborted,
        });
        let mut s = State::default();
        s.parts.insert(tp.clone(), p);
        (s, tp)
    }

    fn offsets(s: &mut State, rc: bool) -> Vec<i64> {
        let mut out = Vec::new();
        assert!(s.drain(1000, rc, true, &mut out).is_none());
        out.iter().map(|r| r.record.offset).collect()
    }

    #[test]
    fn positions_advance_and_skip_before_position() {
        let mut data = BytesMut::new();
        data.extend_from_slice(&batch(0, 5));
        data.extend_from_slice(&batch(5, 5));
        let (mut s, tp) = state_with(data.freeze(), vec![], 3);
        let mut out = Vec::new();
        s.drain(4, false, true, &mut out);
        assert_eq!(
            out.iter().map(|r| r.record.offset).collect::<Vec<_>>(),
            [3, 4, 5, 6]
        );
        assert_eq!(s.parts[&tp].position, Some(7));
        assert_eq!(offsets(&mut s, false), [7, 8, 9]);
        assert_eq!(s.parts[&tp].position, Some(10));
    }

    #[test]
    fn seek_drops_stale_generation() {
        let (mut s, tp) = state_with(batch(0, 3), vec![], 0);
        let p = s.parts.get_mut(&tp).unwrap();
        let stale = p.buffered.pop_front().unwrap();
        p.seek(1, None);
        p.buffered.push_back(stale);
        assert!(offsets(&mut s, false).is_empty());
        assert_eq!(s.parts[&tp].position, Some(1));
    }

    #[test]
    fn control_records_hidden_and_aborted_dropped_in_read_committed() {
        let mut data = BytesMut::new();
        data.extend_from_slice(&txn_batch(0, 2, 7)); // 0,1 aborted
        data.extend_from_slice(&marker(2, 7, ControlRecordKind::Abort)); // 2
        data.extend_from_slice(&txn_batch(3, 2, 8)); // 3,4 committed
        data.extend_from_slice(&marker(5, 8, ControlRecordKind::Commit)); // 5
        data.extend_from_slice(&batch(6, 1)); // 6
        let data = data.freeze();
        let (mut s, tp) = state_with(data.clone(), vec![(0, 7)], 0);
        assert_eq!(offsets(&mut s, true), [3, 4, 6]);
        assert_eq!(s.parts[&tp].position, Some(7));
        let (mut s, _) = state_with(data, vec![(0, 7)], 0);
        assert_eq!(offsets(&mut s, false), [0, 1, 3, 4, 6]);
    }

    #[test]
    fn position_moves_past_a_trailing_control_batch() {
        let mut data = BytesMut::new();
        data.extend_from_slice(&txn_batch(0, 1, 9));
        data.extend_from_slice(&marker(1, 9, ControlRecordKind::Commit));
        let (mut s, tp) = state_with(data.freeze(), vec![], 0);
        assert_eq!(offsets(&mut s, true), [0]);
        assert_eq!(s.parts[&tp].position, Some(2));
    }

    #[test]
    fn paused_partitions_return_nothing_and_next_fetch_offset() {
        let (mut s, tp) = state_with(batch(10, 2), vec![], 10);
        s.parts.get_mut(&tp).unwrap().paused = true;
        assert!(offsets(&mut s, false).is_empty());
        s.parts.get_mut(&tp).unwrap().paused = false;
        assert_eq!(offsets(&mut s, false), [10, 11]);
        assert_eq!(next_fetch_offset(&batch(10, 2)), Some(12));
        assert_eq!(next_fetch_offset(&Bytes::new()), None);
    }

    #[test]
    fn corrupt_batch_is_an_error_at_the_position() {
        let mut raw = batch(0, 2).to_vec();
        let last = raw.len() - 1;
        raw[last] ^= 0xff;
        let (mut s, tp) = state_with(Bytes::from(raw), vec![], 0);
        let mut out = Vec::new();
        assert!(s.drain(10, false, true, &mut out).is_none());
        let mut out = Vec::new();
        let err = s.drain(10, false, true, &mut out).unwrap();
        assert!(
            matches!(err, crate::Error::CorruptRecord { offset: 0, .. }),
            "{err}"
        );
        assert_eq!(s.parts[&tp].position, Some(0));
    }

    #[test]
    fn committed_epoch_is_validated_before_fetching() {
        let now = tokio::time::Instant::now();
        let mut p = PartitionState::new("t".into(), Pending::Committed);
        p.seek_unvalidated(5, Some(3));
        assert!(p.awaiting_validation && !p.fetchable(now, 2));
        assert_eq!(p.fetch_epoch, Some(3));
        p.seek_unvalidated(5, None);
        assert!(!p.awaiting_validation && p.fetchable(now, 2));
        // A plain seek clears a pending validation; a reset too.
        p.seek_unvalidated(5, Some(3));
        p.seek(7, None);
        assert!(!p.awaiting_validation);
        p.seek_unvalidated(5, Some(3));
        p.reset(Pending::Reset(AutoOffsetReset::Earliest));
        assert!(!p.awaiting_validation);
        // Without an epoch on the position there is nothing to validate.
        p.seek(9, None);
        p.request_validation();
        assert!(!p.awaiting_validation);
    }

    #[test]
    fn last_batch_reports_the_epoch() {
        let b = batch(3, 2);
        assert_eq!(last_batch(&b).map(|(o, _)| o), Some(5));
        assert_eq!(last_batch(&Bytes::new()), None);
    }

    /// Captures gauge values: `name{label=value,...}` -> last value.
    #[derive(Default)]
    struct Gauges(std::sync::Mutex<std::collections::BTreeMap<String, f64>>);

    struct OneGauge(Arc<Gauges>, String);

    impl metrics::GaugeFn for OneGauge {
        fn increment(&self, _: f64) {}
        fn decrement(&self, _: f64) {}
        fn set(&self, v: f64) {
            self.0.0.lock().unwrap().insert(self.1.clone(), v);
        }
    }

    struct Recorder(Arc<Gauges>);

    impl metrics::Recorder for Recorder {
        fn describe_counter(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_gauge(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn describe_histogram(
            &self,
            _: metrics::KeyName,
            _: Option<metrics::Unit>,
            _: metrics::SharedString,
        ) {
        }
        fn register_counter(
            &self,
            _: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Counter {
            metrics::Counter::noop()
        }
        fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            metrics::Gauge::from_arc(Arc::new(OneGauge(self.0.clone(), name)))
        }
        fn register_histogram(
            &self,
            _: &metrics::Key,
            _: &metrics::Metadata<'_>,
        ) -> metrics::Histogram {
            metrics::Histogram::noop()
        }
    }

    #[test]
    fn lag_gauges_are_end_minus_position_per_partition_and_max() {
        let mut s = State::default();
        for (n, pos, hw, lso) in [(0, 10, 50, 40), (1, 5, 8, 8), (2, 0, -1, -1)] {
            let mut p = PartitionState::new("t".into(), Pending::Committed);
            p.seek(pos, None);
            p.high_watermark = hw;
            p.last_stable_offset = lso;
            s.parts.insert(TopicPartition::new("t", n), p);
        }
        let gauges = Arc::new(Gauges::default());
        let rec = Recorder(gauges.clone());
        metrics::with_local_recorder(&rec, || s.record_lag_metrics(false));
        let g = gauges.0.lock().unwrap().clone();
        assert_eq!(
            g.get("kafka_consumer_records_lag{topic=t,partition=0}"),
            Some(&40.0)
        );
        assert_eq!(
            g.get("kafka_consumer_records_lag{topic=t,partition=1}"),
            Some(&3.0)
        );
        assert_eq!(
            g.get("kafka_consumer_records_lag{topic=t,partition=2}"),
            None,
            "never fetched"
        );
        assert_eq!(g.get("kafka_consumer_records_lag_max{}"), Some(&40.0));
        // read_committed measures against the last stable offset.
        metrics::with_local_recorder(&rec, || s.record_lag_metrics(true));
        let g = gauges.0.lock().unwrap().clone();
        assert_eq!(
            g.get("kafka_consumer_records_lag{topic=t,partition=0}"),
            Some(&30.0)
        );
    }
}
