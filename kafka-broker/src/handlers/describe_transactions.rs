//! DescribeTransactions (key 65), v0.
//!
//! The coordinator's state of each transactional id: state name (Kafka's), timeout, start
//! time (-1 when no transaction is open), producer id and epoch, and the partitions of the open
//! transaction. Unknown ids are TRANSACTIONAL_ID_NOT_FOUND.

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{DescribeTransactionsRequest, DescribeTransactionsResponse};

use crate::state::Shared;

pub(crate) fn handle(
    s: &Arc<Shared>,
    _version: i16,
    req: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let transaction_states = req
        .transactional_ids
        .iter()
        .map(|id| match s.txns.describe(id) {
            None => TransactionState {
                error_code: ErrorCode::TransactionalIdNotFound.code(),
                transactional_id: id.clone(),
                transaction_state: String::new(),
                transaction_timeout_ms: 0,
                transaction_start_time_ms: -1,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            },
            Some(m) => {
                let mut topics: Vec<TopicData> = Vec::new();
                for (t, p) in &m.partitions {
                    if topics.last().is_none_or(|x| &x.topic != t) {
                        topics.push(TopicData {
                            topic: t.clone(),
                            ..Default::default()
                        });
                    }
                    if let Some(x) = topics.last_mut() {
                        x.partitions.push(*p);
                    }
                }
                TransactionState {
                    error_code: 0,
                    transactional_id: id.clone(),
                    transaction_state: m.state.name().to_string(),
                    transaction_timeout_ms: m.timeout_ms,
                    transaction_start_time_ms: m.start_ts,
                    producer_id: m.producer_id,
                    producer_epoch: m.epoch,
                    topics,
                    ..Default::default()
                }
            }
        })
        .collect();
    DescribeTransactionsResponse {
        transaction_states,
        ..Default::default()
    }
}
