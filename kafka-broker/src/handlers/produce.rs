//! Produce (key 0), v3-v13.
//!
//! * acks 0 (no response; the connection is closed if any partition failed, as Kafka does so
//!   the client notices), 1 and -1 (on one node the same once appended; `min.insync.replicas`
//!   above 1 makes acks=-1 fail with NOT_ENOUGH_REPLICAS). Other acks: INVALID_REQUIRED_ACKS.
//! * v5+: log start offset; v8+: error messages; v13: topics by id (UNKNOWN_TOPIC_ID).
//! * Transactional batches need the request's `transactional_id` (else the whole request is
//!   TRANSACTIONAL_ID_AUTHORIZATION_FAILED) and are verified with the transaction coordinator
//!   (Kafka's `transaction.partition.verification.enable`, on by default): the partition must
//!   be in that id's open transaction, else TRANSACTION_ABORTABLE, as Apache Kafka 4.3
//!   answers (see `verify_txn` for the other codes).
//! * Produce never auto-creates topics (Metadata does). Internal topics (`__consumer_offsets`)
//!   are INVALID_TOPIC_EXCEPTION, as in Kafka.
//!
//! All partitions of one request are appended in one blocking task, each under its own
//! partition lock; records are handed to the log as the `Bytes` slice of the request frame.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::{ErrorCode, Uuid};

use crate::handlers::Outcome;
use crate::metadata::Partition;
use crate::state::{Shared, blocking};
use crate::util::now_ms;

struct Work {
    topic: usize,
    index: i32,
    target: Result<Arc<Partition>, ErrorCode>,
    records: Option<Bytes>,
}

struct Done {
    error: ErrorCode,
    message: Option<String>,
    base_offset: i64,
    log_append_time: i64,
    log_start_offset: i64,
}

pub(crate) async fn handle(s: &Arc<Shared>, version: i16, req: ProduceRequest) -> Outcome {
    let acks = req.acks;
    // Kafka: transactional records need the request's transactional id (which it authorizes);
    // without it the whole request is TRANSACTIONAL_ID_AUTHORIZATION_FAILED.
    let txn_id = req.transactional_id.clone();
    let has_txn_records = req.topic_data.iter().any(|t| {
        t.partition_data.iter().any(|p| {
            p.records
                .as_ref()
                .is_some_and(|r| first_txn_batch(r).is_some())
        })
    });
    let txn_refused = has_txn_records && txn_id.is_none();
    let catalog = s.metadata.snapshot();
    let mut topics: Vec<TopicProduceResponse> = Vec::new();
    let mut work: Vec<Work> = Vec::new();
    for (ti, td) in req.topic_data.into_iter().enumerate() {
        let topic = if version >= 13 {
            catalog
                .by_id
                .get(&td.topic_id)
                .filter(|_| td.topic_id != Uuid::ZERO)
        } else {
            catalog.by_name.get(&td.name)
        };
        let missing = if version >= 13 {
            ErrorCode::UnknownTopicId
        } else {
            ErrorCode::UnknownTopicOrPartition
        };
        let min_isr_fail = topic.is_some_and(|t| acks == -1 && s.metadata.min_insync(t) > 1);
        for pd in td.partition_data {
            let target = if txn_refused {
                Err(ErrorCode::TransactionalIdAuthorizationFailed)
            } else if !matches!(acks, -1..=1) {
                Err(ErrorCode::InvalidRequiredAcks)
            } else {
                match topic {
                    None => Err(missing),
                    // Internal topics are written by the coordinators only (Kafka:
                    // "Cannot append to internal topic").
                    Some(t) if crate::group::is_internal_topic(&t.name) => {
                        Err(ErrorCode::InvalidTopicException)
                    }
                    Some(t) => match t.partition(pd.index) {
                        None => Err(ErrorCode::UnknownTopicOrPartition),
                        Some(_) if min_isr_fail => Err(ErrorCode::NotEnoughReplicas),
                        Some(p) => Ok(p.clone()),
                    },
                }
            };
            work.push(Work {
                topic: ti,
                index: pd.index,
                target,
                records: pd.records,
            });
        }
        topics.push(TopicProduceResponse {
            name: if version < 13 { td.name } else { String::new() },
            topic_id: if version >= 13 {
                td.topic_id
            } else {
                Uuid::ZERO
            },
            ..Default::default()
        });
    }

    let s2 = s.clone();
    let done = blocking(move || {
        let now = now_ms();
        let mut out = Vec::with_capacity(work.len());
        for w in work {
            let d = match (&w.target, w.records.clone()) {
                (Err(code), _) => Done::err(*code, None),
                (Ok(_), None) => Done::err(ErrorCode::InvalidRecord, Some("null records".into())),
                (Ok(p), Some(records)) => match verify_txn(&s2, txn_id.as_deref(), p, &records) {
                    Err(code) => Done::err(
                        code,
                        Some("the partition is not part of the producer's open transaction".into()),
                    ),
                    Ok(()) => match p.with_log(|l| l.append(records, 0, now)) {
                        None => Done::err(ErrorCode::UnknownTopicOrPartition, None),
                        Some(Err(e)) => Done::err(e.error_code(), Some(e.to_string())),
                        Some(Ok(o)) => {
                            if !o.duplicate {
                                p.wake();
                            }
                            Done {
                                error: ErrorCode::None,
                                message: None,
                                base_offset: o.base_offset,
                                log_append_time: o.log_append_time,
                                log_start_offset: o.log_start_offset,
                            }
                        }
                    },
                },
            };
            out.push((w.topic, w.index, d));
        }
        out
    })
    .await
    .unwrap_or_default();

    let mut any_error = false;
    for (ti, index, d) in done {
        any_error |= d.error != ErrorCode::None;
        if d.error != ErrorCode::None {
            tracing::debug!(partition = index, code = %d.error, "produce failed: {:?}", d.message);
        }
        if let Some(t) = topics.get_mut(ti) {
            t.partition_responses.push(PartitionProduceResponse {
                index,
                error_code: d.error.code(),
                base_offset: d.base_offset,
                log_append_time_ms: d.log_append_time,
                log_start_offset: if version >= 5 { d.log_start_offset } else { -1 },
                error_message: if version >= 8 { d.message } else { None },
                ..Default::default()
            });
        }
    }
    if acks == 0 {
        return if any_error {
            Outcome::Close("acks=0 produce failed".into())
        } else {
            Outcome::NoResponse
        };
    }
    ProduceResponse {
        responses: topics,
        ..Default::default()
    }
    .into()
}

/// The producer id and epoch of the first batch when it is a transactional data batch.
fn first_txn_batch(records: &Bytes) -> Option<(i64, i16)> {
    match kafka_protocol::records::RecordBatches::new(records.clone()).next() {
        Some(Ok(kafka_protocol::records::Batch::V2(b)))
            if b.is_transactional() && !b.is_control() =>
        {
            Some((b.producer_id(), b.producer_epoch()))
        }
        _ => None,
    }
}

/// Kafka's produce-time verification of transactional batches
/// (`transaction.partition.verification.enable`): the partition must be in the open
/// transaction of the request's transactional id. Errors as Apache Kafka 4.3 answers them
/// to transaction-version-1 producers: a partition outside the transaction is
/// TRANSACTION_ABORTABLE (KIP-1050), a stale epoch INVALID_PRODUCER_EPOCH, an unknown
/// producer INVALID_PRODUCER_ID_MAPPING, a transaction being completed NOT_ENOUGH_REPLICAS
/// (retriable).
fn verify_txn(
    s: &Shared,
    txn_id: Option<&str>,
    p: &Partition,
    records: &Bytes,
) -> Result<(), ErrorCode> {
    let (Some(id), Some((pid, epoch))) = (txn_id, first_txn_batch(records)) else {
        return Ok(());
    };
    s.txns.verify_produce(id, pid, epoch, &p.topic, p.index)
}

impl Done {
    fn err(error: ErrorCode, message: Option<String>) -> Done {
        Done {
            error,
            message,
            base_offset: -1,
            log_append_time: -1,
            log_start_offset: -1,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::handlers::testutil::{round_trip, state};
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    use kafka_protocol::records::RecordBatchBuilder;
    use std::collections::BTreeMap;

    pub(crate) fn batch(n: usize) -> Bytes {
        let mut b = RecordBatchBuilder::new(0);
        for i in 0..n {
            b.append(1000 + i as i64, Some(b"k"), Some(b"v"), &[])
                .unwrap();
        }
        b.build().unwrap()
    }

    fn req(topic: &str, id: Uuid, acks: i16, parts: &[i32]) -> ProduceRequest {
        ProduceRequest {
            acks,
            timeout_ms: 1000,
            topic_data: vec![TopicProduceData {
                name: topic.into(),
                topic_id: id,
                partition_data: parts
                    .iter()
                    .map(|p| PartitionProduceData {
                        index: *p,
                        records: Some(batch(2)),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn resp(o: Outcome) -> ProduceResponse {
        match o {
            Outcome::Respond(kafka_protocol::messages::ResponseKind::Produce(r)) => r,
            _ => panic!("expected a produce response"),
        }
    }

    #[tokio::test]
    async fn appends_and_reports_per_partition() {
        let st = state();
        let s = &st.shared;
        let t = s
            .metadata
            .create_topic("p", 2, BTreeMap::new(), false)
            .unwrap();
        let r = resp(handle(s, 9, req("p", Uuid::ZERO, -1, &[0, 1, 5])).await);
        let ps = &r.responses[0].partition_responses;
        assert_eq!(ps[0].error_code, 0);
        assert_eq!(ps[0].base_offset, 0);
        assert_eq!(ps[2].error_code, ErrorCode::UnknownTopicOrPartition.code());
        let r = resp(handle(s, 9, req("p", Uuid::ZERO, 1, &[0])).await);
        assert_eq!(r.responses[0].partition_responses[0].base_offset, 2);
        for v in 3..=12 {
            round_trip(&r, v);
        }
        // topic ids on v13
        let r = resp(handle(s, 13, req("", t.id, 1, &[1])).await);
        assert_eq!(r.responses[0].partition_responses[0].base_offset, 2);
        round_trip(&r, 13);
        let r = resp(handle(s, 13, req("", Uuid::from_u128(5), 1, &[1])).await);
        assert_eq!(
            r.responses[0].partition_responses[0].error_code,
            ErrorCode::UnknownTopicId.code()
        );
        // bad acks
        let r = resp(handle(s, 9, req("p", Uuid::ZERO, 2, &[0])).await);
        assert_eq!(
            r.responses[0].partition_responses[0].error_code,
            ErrorCode::InvalidRequiredAcks.code()
        );
        // acks=0: nothing, or close on error
        assert!(matches!(
            handle(s, 9, req("p", Uuid::ZERO, 0, &[0])).await,
            Outcome::NoResponse
        ));
        assert!(matches!(
            handle(s, 9, req("nope", Uuid::ZERO, 0, &[0])).await,
            Outcome::Close(_)
        ));
    }
}
