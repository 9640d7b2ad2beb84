//! Transaction metadata and its state machine (Kafka's `TransactionMetadata` and
//! `TransactionState`), with the `__transaction_state` record formats.

use std::collections::BTreeSet;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::internal::transaction_log_value::PartitionsSchema;
use kafka_protocol::messages::internal::{TransactionLogKey, TransactionLogValue};
use kafka_protocol::{Decodable, Encodable};

/// The state of one transactional id. The numbers are Kafka's persisted status ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnState {
    /// No transaction in progress.
    Empty,
    /// Partitions were added; the transaction is open.
    Ongoing,
    /// EndTxn(commit) accepted; commit markers being written.
    PrepareCommit,
    /// EndTxn(abort) or a timeout/fence accepted; abort markers being written.
    PrepareAbort,
    /// The last transaction committed.
    CompleteCommit,
    /// The last transaction aborted.
    CompleteAbort,
    /// The transactional id expired.
    Dead,
    /// An ongoing transaction is being fenced (an abort with a bumped epoch follows).
    PrepareEpochFence,
}

impl TxnState {
    /// Kafka's persisted status id.
    pub(crate) fn id(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    /// The state for a persisted status id.
    pub(crate) fn from_id(id: i8) -> Option<TxnState> {
        Some(match id {
            0 => TxnState::Empty,
            1 => TxnState::Ongoing,
            2 => TxnState::PrepareCommit,
            3 => TxnState::PrepareAbort,
            4 => TxnState::CompleteCommit,
            5 => TxnState::CompleteAbort,
            6 => TxnState::Dead,
            7 => TxnState::PrepareEpochFence,
            _ => return None,
        })
    }

    /// The name DescribeTransactions/ListTransactions use.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    /// Whether the state machine allows moving from `self` to `next` (Kafka's valid previous
    /// states of each state).
    pub(crate) fn can_transition_to(self, next: TxnState) -> bool {
        use TxnState::*;
        match next {
            Empty => matches!(self, Empty | CompleteCommit | CompleteAbort),
            Ongoing => matches!(self, Ongoing | Empty | CompleteCommit | CompleteAbort),
            PrepareCommit => self == Ongoing,
            PrepareAbort => matches!(self, Ongoing | PrepareEpochFence),
            CompleteCommit => self == PrepareCommit,
            CompleteAbort => self == PrepareAbort,
            Dead => matches!(self, Empty | CompleteCommit | CompleteAbort),
            PrepareEpochFence => self == Ongoing,
        }
    }

    /// Whether markers are being written (requests other than retries must wait).
    pub(crate) fn is_preparing(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }
}

/// Everything the coordinator knows about one transactional id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TxnMetadata {
    pub(crate) producer_id: i64,
    pub(crate) prev_producer_id: i64,
    pub(crate) next_producer_id: i64,
    pub(crate) epoch: i16,
    pub(crate) last_epoch: i16,
    pub(crate) timeout_ms: i32,
    pub(crate) state: TxnState,
    pub(crate) partitions: BTreeSet<(String, i32)>,
    /// When the current transaction started (-1 when none).
    pub(crate) start_ts: i64,
    pub(crate) update_ts: i64,
}

/// A refused state change (a coordinator bug if it happens; logged and answered as an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IllegalTransition {
    pub(crate) from: TxnState,
    pub(crate) to: TxnState,
}

impl TxnMetadata {
    /// A new transactional id in state Empty.
    pub(crate) fn new(producer_id: i64, timeout_ms: i32, now_ms: i64) -> TxnMetadata {
        TxnMetadata {
            producer_id,
            prev_producer_id: -1,
            next_producer_id: -1,
            epoch: 0,
            last_epoch: -1,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            start_ts: -1,
            update_ts: now_ms,
        }
    }

    /// Moves to `next`, checking the state machine.
    pub(crate) fn transition(
        &mut self,
        next: TxnState,
        now_ms: i64,
    ) -> Result<(), IllegalTransition> {
        if !self.state.can_transition_to(next) {
            return Err(IllegalTransition {
                from: self.state,
                to: next,
            });
        }
        match next {
            TxnState::Ongoing if self.state != TxnState::Ongoing => self.start_ts = now_ms,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort => {
                self.partitions.clear();
            }
            _ => {}
        }
        self.state = next;
        self.update_ts = now_ms;
        Ok(())
    }

    /// Whether the open transaction has run past its timeout at `now_ms`.
    pub(crate) fn expired(&self, now_ms: i64) -> bool {
        self.state == TxnState::Ongoing
            && self.start_ts >= 0
            && now_ms.saturating_sub(self.start_ts) > i64::from(self.timeout_ms)
    }

    /// The `__transaction_state` value.
    pub(crate) fn to_value(&self) -> TransactionLogValue {
        let mut topics: Vec<PartitionsSchema> = Vec::new();
        for (t, p) in &self.partitions {
            match topics.last_mut() {
                Some(last) if &last.topic == t => last.partition_ids.push(*p),
                _ => topics.push(PartitionsSchema {
                    topic: t.clone(),
                    partition_ids: vec![*p],
                    ..Default::default()
                }),
            }
        }
        TransactionLogValue {
            producer_id: self.producer_id,
            previous_producer_id: self.prev_producer_id,
            next_producer_id: self.next_producer_id,
            producer_epoch: self.epoch,
            transaction_timeout_ms: self.timeout_ms,
            transaction_status: self.state.id(),
            transaction_partitions: if self.state == TxnState::Empty {
                None
            } else {
                Some(topics)
            },
            transaction_last_update_timestamp_ms: self.update_ts,
            transaction_start_timestamp_ms: self.start_ts,
            client_transaction_version: 0,
            unknown_tagged_fields: Vec::new(),
        }
    }

    /// The metadata a persisted value describes (`None` for an unknown status).
    pub(crate) fn from_value(v: &TransactionLogValue) -> Option<TxnMetadata> {
        let mut partitions = BTreeSet::new();
        for t in v.transaction_partitions.iter().flatten() {
            for p in &t.partition_ids {
                partitions.insert((t.topic.clone(), *p));
            }
        }
        Some(TxnMetadata {
            producer_id: v.producer_id,
            prev_producer_id: v.previous_producer_id,
            next_producer_id: v.next_producer_id,
            epoch: v.producer_epoch,
            last_epoch: -1,
            timeout_ms: v.transaction_timeout_ms,
            state: TxnState::from_id(v.transaction_status)?,
            partitions,
            start_ts: v.transaction_start_timestamp_ms,
            update_ts: v.transaction_last_update_timestamp_ms,
        })
    }
}

/// Version of the key written (Kafka writes key version 0).
const KEY_VERSION: i16 = 0;
/// Version of the value written (1: flexible, with the tagged previous/next producer ids).
const VALUE_VERSION: i16 = 1;

fn versioned<T: Encodable>(version: i16, msg: &T) -> Result<Bytes, String> {
    let mut b = BytesMut::with_capacity(2 + msg.encoded_len(version));
    b.put_i16(version);
    msg.encode(&mut b, version).map_err(|e| e.to_string())?;
    Ok(b.freeze())
}

/// Key and value bytes of a `__transaction_state` record (`None`: a tombstone).
pub(crate) fn encode_record(
    transactional_id: &str,
    meta: Option<&TxnMetadata>,
) -> Result<(Bytes, Option<Bytes>), String> {
    let key = versioned(
        KEY_VERSION,
        &TransactionLogKey {
            transactional_id: transactional_id.to_string(),
        },
    )?;
    let value = match meta {
        Some(m) => Some(versioned(VALUE_VERSION, &m.to_value())?),
        None => None,
    };
    Ok((key, value))
}

/// Decodes a `__transaction_state` record: the transactional id and its metadata (`None`
/// for a tombstone).
pub(crate) fn decode_record(
    key: Bytes,
    value: Option<Bytes>,
) -> Result<(String, Option<TxnMetadata>), String> {
    let mut k = key;
    if k.remaining() < 2 {
        return Err("key shorter than its version".into());
    }
    let kver = k.get_i16();
    if kver != 0 {
        return Err(format!("unknown transaction log key version {kver}"));
    }
    let key = TransactionLogKey::decode(&mut k, kver).map_err(|e| e.to_string())?;
    let Some(mut v) = value else {
        return Ok((key.transactional_id, None));
    };
    if v.remaining() < 2 {
        return Err("value shorter than its version".into());
    }
    let vver = v.get_i16();
    let value = TransactionLogValue::decode(&mut v, vver).map_err(|e| e.to_string())?;
    let meta = TxnMetadata::from_value(&value)
        .ok_or_else(|| format!("unknown transaction status {}", value.transaction_status))?;
    Ok((key.transactional_id, Some(meta)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    #[test]
    fn state_ids_round_trip_and_transitions_follow_kafka() {
        for s in ALL {
            assert_eq!(TxnState::from_id(s.id()), Some(s));
        }
        assert_eq!(TxnState::from_id(8), None);
        use TxnState::*;
        let valid = [
            (Empty, Ongoing),
            (Ongoing, Ongoing),
            (Ongoing, PrepareCommit),
            (Ongoing, PrepareAbort),
            (Ongoing, PrepareEpochFence),
            (PrepareEpochFence, PrepareAbort),
            (PrepareCommit, CompleteCommit),
            (PrepareAbort, CompleteAbort),
            (CompleteCommit, Ongoing),
            (CompleteAbort, Empty),
            (CompleteCommit, Dead),
        ];
        for (a, b) in valid {
            assert!(a.can_transition_to(b), "{a:?} -> {b:?}");
        }
        let invalid = [
            (Empty, PrepareCommit),
            (Empty, CompleteCommit),
            (PrepareCommit, PrepareAbort),
            (PrepareCommit, Ongoing),
            (PrepareAbort, CompleteCommit),
            (CompleteAbort, PrepareAbort),
            (Ongoing, Empty),
            (Ongoing, Dead),
            (Dead, Empty),
        ];
        for (a, b) in invalid {
            assert!(!a.can_transition_to(b), "{a:?} -> {b:?}");
        }
        // The count of valid pairs matches Kafka's table (3 + 4 + 1 + 2 + 1 + 1 + 3 + 1).
        let n = ALL
            .iter()
            .flat_map(|a| ALL.iter().map(move |b| a.can_transition_to(*b)))
            .filter(|ok| *ok)
            .count();
        assert_eq!(n, 3 + 4 + 1 + 2 + 1 + 1 + 3 + 1);
    }

    #[test]
    fn metadata_transitions_clear_partitions_and_set_start() {
        let mut m = TxnMetadata::new(5, 60_000, 100);
        assert!(m.transition(TxnState::PrepareCommit, 110).is_err());
        m.partitions.insert(("t".into(), 0));
        m.transition(TxnState::Ongoing, 120).unwrap();
        assert_eq!(m.start_ts, 120);
        m.transition(TxnState::Ongoing, 130).unwrap();
        assert_eq!(m.start_ts, 120, "adding partitions keeps the start");
        assert!(!m.expired(60_120));
        assert!(m.expired(60_121));
        m.transition(TxnState::PrepareCommit, 140).unwrap();
        assert!(!m.expired(1 << 40));
        m.transition(TxnState::CompleteCommit, 150).unwrap();
        assert!(m.partitions.is_empty());
        assert_eq!(
            m.transition(TxnState::CompleteAbort, 160),
            Err(IllegalTransition {
                from: TxnState::CompleteCommit,
                to: TxnState::CompleteAbort
            })
        );
    }

    #[test]
    fn records_round_trip() {
        let mut m = TxnMetadata::new(42, 30_000, 1_000);
        m.epoch = 3;
        m.prev_producer_id = 41;
        m.transition(TxnState::Ongoing, 2_000).unwrap();
        m.partitions.insert(("a".into(), 1));
        m.partitions.insert(("a".into(), 0));
        m.partitions.insert(("b".into(), 2));
        let (k, v) = encode_record("tx-1", Some(&m)).unwrap();
        let (id, back) = decode_record(k.clone(), v).unwrap();
        assert_eq!(id, "tx-1");
        let back = back.unwrap();
        assert_eq!(back.partitions, m.partitions);
        assert_eq!(
            (
                back.producer_id,
                back.prev_producer_id,
                back.epoch,
                back.state
            ),
            (42, 41, 3, TxnState::Ongoing)
        );
        assert_eq!(
            (back.start_ts, back.update_ts, back.timeout_ms),
            (2_000, 2_000, 30_000)
        );
        assert_eq!(decode_record(k, None).unwrap(), ("tx-1".to_string(), None));
        assert!(decode_record(Bytes::from_static(&[0]), None).is_err());
        // Kafka's value version 0 (no tagged fields) decodes as well.
        let v0 = versioned(
            0,
            &TransactionLogValue {
                producer_epoch: 1,
                previous_producer_id: -1,
                ..m.to_value()
            },
        )
        .unwrap();
        let key = versioned(
            0,
            &TransactionLogKey {
                transactional_id: "x".into(),
            },
        )
        .unwrap();
        let Ok((_, Some(old))) = decode_record(key, Some(v0)) else {
            panic!("v0 value")
        };
        assert_eq!(old.epoch, 1);
    }
}
