//! AddPartitionsToTxn (key 24), v0-v5.
//!
//! * v0-v3 (what clients send with transaction version 1): one transaction
//!   (`v3_and_below_*` fields); every partition gets the same answer. If any partition is
//!   unknown, those are UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED
//!   (nothing is added). Fencing: PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before
//!   (as Kafka).
//! * v4+: a batch of transactions, each answered on its own (the broker-to-coordinator form of
//!   KIP-890). `verify_only` answers from the coordinator's state without adding: partitions in
//!   the open transaction get no error, the others INVALID_TXN_STATE. v5 is served as v4.
//! * v3+ flexible.

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{AddPartitionsToTxnRequest, AddPartitionsToTxnResponse};

use crate::state::{Shared, blocking};

/// The topics of one transaction, answered partition by partition.
fn answer(
    s: &Shared,
    version: i16,
    id: &str,
    producer_id: i64,
    epoch: i16,
    verify_only: bool,
    topics: &[AddPartitionsToTxnTopic],
) -> Vec<AddPartitionsToTxnTopicResult> {
    let catalog = s.metadata.snapshot();
    let mut parts: Vec<(String, i32)> = Vec::new();
    let mut unknown = false;
    for t in topics {
        for p in &t.partitions {
            let exists = catalog
                .by_name
                .get(&t.name)
                .is_some_and(|topic| topic.partition(*p).is_some());
            unknown |= !exists;
            parts.push((t.name.clone(), *p));
        }
    }
    let codes: Vec<ErrorCode> = if unknown {
        parts
            .iter()
            .map(|(t, p)| {
                let exists = catalog
                    .by_name
                    .get(t)
                    .is_some_and(|topic| topic.partition(*p).is_some());
                if exists {
                    ErrorCode::OperationNotAttempted
                } else {
                    ErrorCode::UnknownTopicOrPartition
                }
            })
            .collect()
    } else if verify_only {
        match s.txns.verify_partitions(id, producer_id, epoch, &parts) {
            Ok(v) => v
                .into_iter()
                .map(|ok| {
                    if ok {
                        ErrorCode::None
                    } else {
                        ErrorCode::InvalidTxnState
                    }
                })
                .collect(),
            Err(e) => vec![e; parts.len()],
        }
    } else {
        let e = match s.txns.add_partitions(s, id, producer_id, epoch, &parts) {
            Ok(()) => ErrorCode::None,
            Err(e) => super::fenced(e, version, 2),
        };
        vec![e; parts.len()]
    };
    let mut out: Vec<AddPartitionsToTxnTopicResult> = Vec::new();
    for ((t, p), code) in parts.into_iter().zip(codes) {
        if out.last().is_none_or(|r| r.name != t) {
            out.push(AddPartitionsToTxnTopicResult {
                name: t.clone(),
                ..Default::default()
            });
        }
        if let Some(r) = out.last_mut() {
            r.results_by_partition
                .push(AddPartitionsToTxnPartitionResult {
                    partition_index: p,
                    partition_error_code: code.code(),
                    ..Default::default()
                });
        }
    }
    out
}

pub(crate) async fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let s2 = s.clone();
    blocking(move || {
        if version < 4 {
            let results = answer(
                &s2,
                version,
                &req.v3_and_below_transactional_id,
                req.v3_and_below_producer_id,
                req.v3_and_below_producer_epoch,
                false,
                &req.v3_and_below_topics,
            );
            return AddPartitionsToTxnResponse {
                results_by_topic_v3_and_below: results,
                ..Default::default()
            };
        }
        let results = req
            .transactions
            .iter()
            .map(|t| AddPartitionsToTxnResult {
                transactional_id: t.transactional_id.clone(),
                topic_results: answer(
                    &s2,
                    version,
                    &t.transactional_id,
                    t.producer_id,
                    t.producer_epoch,
                    t.verify_only,
                    &t.topics,
                ),
                ..Default::default()
            })
            .collect();
        AddPartitionsToTxnResponse {
            results_by_transaction: results,
            ..Default::default()
        }
    })
    .await
    .unwrap_or_else(|| AddPartitionsToTxnResponse {
        error_code: ErrorCode::UnknownServerError.code(),
        ..Default::default()
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::handlers::testutil::{round_trip, state};
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTransaction;
    use kafka_protocol::messages::{EndTxnRequest, InitProducerIdRequest};

    fn topics(name: &str, parts: &[i32]) -> Vec<AddPartitionsToTxnTopic> {
        vec![AddPartitionsToTxnTopic {
            name: name.into(),
            partitions: parts.to_vec(),
            ..Default::default()
        }]
    }

    fn codes(r: &[AddPartitionsToTxnTopicResult]) -> Vec<ErrorCode> {
        r.iter()
            .flat_map(|t| &t.results_by_partition)
            .map(|p| ErrorCode::from(p.partition_error_code))
            .collect()
    }

    #[tokio::test]
    async fn client_and_batched_forms_with_verify_only_and_fencing() {
        let st = state();
        let s = &st.shared;
        s.metadata
            .create_topic("t", 2, Default::default(), false)
            .map_err(|e| e.1)
            .unwrap();
        let init = crate::handlers::init_producer_id::handle(
            s,
            4,
            InitProducerIdRequest {
                transactional_id: Some("tx".into()),
                transaction_timeout_ms: 10_000,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(init.error_code, 0);
        let (pid, epoch) = (init.producer_id, init.producer_epoch);
        let v3 = |parts: &[i32], epoch: i16| AddPartitionsToTxnRequest {
            v3_and_below_transactional_id: "tx".into(),
            v3_and_below_producer_id: pid,
            v3_and_below_producer_epoch: epoch,
            v3_and_below_topics: topics("t", parts),
            ..Default::default()
        };
        // Unknown partition: nothing added.
        let r = handle(s, 3, v3(&[0, 7], epoch)).await;
        assert_eq!(
            codes(&r.results_by_topic_v3_and_below),
            vec![
                ErrorCode::OperationNotAttempted,
                ErrorCode::UnknownTopicOrPartition
            ]
        );
        for v in 0..=3 {
            round_trip(&r, v);
        }
        let r = handle(s, 3, v3(&[0], epoch)).await;
        assert_eq!(
            codes(&r.results_by_topic_v3_and_below),
            vec![ErrorCode::None]
        );
        // A stale epoch: PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before.
        let r = handle(s, 2, v3(&[1], epoch - 1)).await;
        assert_eq!(
            codes(&r.results_by_topic_v3_and_below),
            vec![ErrorCode::ProducerFenced]
        );
        let r = handle(s, 1, v3(&[1], epoch - 1)).await;
        assert_eq!(
            codes(&r.results_by_topic_v3_and_below),
            vec![ErrorCode::InvalidProducerEpoch]
        );
        // v4 verify_only answers from the state without adding.
        let verify = AddPartitionsToTxnRequest {
            transactions: vec![AddPartitionsToTxnTransaction {
                transactional_id: "tx".into(),
                producer_id: pid,
                producer_epoch: epoch,
                verify_only: true,
                topics: topics("t", &[0, 1]),
                ..Default::default()
            }],
            ..Default::default()
        };
        let r = handle(s, 4, verify.clone()).await;
        assert_eq!(
            codes(&r.results_by_transaction[0].topic_results),
            vec![ErrorCode::None, ErrorCode::InvalidTxnState]
        );
        round_trip(&r, 4);
        round_trip(&r, 5);
        assert_eq!(
            s.txns.describe("tx").unwrap().partitions.len(),
            1,
            "verify_only adds nothing"
        );
        let end = crate::handlers::end_txn::handle(
            s,
            4,
            EndTxnRequest {
                transactional_id: "tx".into(),
                producer_id: pid,
                producer_epoch: epoch,
                committed: true,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(end.error_code, 0);
        for v in 0..=4 {
            round_trip(&end, v);
        }
        let r = handle(s, 4, verify).await;
        assert_eq!(
            codes(&r.results_by_transaction[0].topic_results),
            vec![ErrorCode::InvalidTxnState, ErrorCode::InvalidTxnState],
            "nothing is open after the commit"
        );
    }
}
