//! ListTransactions (key 66), v0-v1 (v2's transactional-id regex is not served).
//!
//! Every transactional id the coordinator knows, filtered by state names (unknown names are
//! echoed in `unknown_state_filters`, as Kafka) and producer ids; v1+: `duration_filter` keeps
//! only transactions open for longer than that many milliseconds (-1: no filter).

use std::sync::Arc;

use kafka_protocol::messages::list_transactions_response::TransactionState;
use kafka_protocol::messages::{ListTransactionsRequest, ListTransactionsResponse};

use crate::state::Shared;
use crate::util::now_ms;

const STATES: [&str; 8] = [
    "Empty",
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "CompleteCommit",
    "CompleteAbort",
    "Dead",
    "PrepareEpochFence",
];

pub(crate) fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: ListTransactionsRequest,
) -> ListTransactionsResponse {
    let (known, unknown): (Vec<String>, Vec<String>) = req
        .state_filters
        .iter()
        .cloned()
        .partition(|f| STATES.contains(&f.as_str()));
    if !req.state_filters.is_empty() && known.is_empty() {
        return ListTransactionsResponse {
            unknown_state_filters: unknown,
            ..Default::default()
        };
    }
    let duration = if version >= 1 {
        req.duration_filter
    } else {
        -1
    };
    let listed = s
        .txns
        .list(&known, &req.producer_id_filters, duration, now_ms());
    ListTransactionsResponse {
        unknown_state_filters: unknown,
        transaction_states: listed
            .into_iter()
            .map(|t| TransactionState {
                transactional_id: t.transactional_id,
                producer_id: t.producer_id,
                transaction_state: t.state.to_string(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
