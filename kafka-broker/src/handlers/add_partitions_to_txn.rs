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
