//! EndTxn (key 26), v0-v4 (v5 belongs to transaction version 2, which this broker does not
//! advertise, and is not served).
//!
//! Commits or aborts the open transaction: the markers are written to every partition before
//! the answer (see `crate::txn`). A retry after completion succeeds; ending a transaction that
//! is not open is INVALID_TXN_STATE; an unknown id or producer id INVALID_PRODUCER_ID_MAPPING.
//! Fencing: PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before (as Kafka). v3+ flexible.

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse};

use crate::state::{Shared, blocking};

pub(crate) async fn handle(s: &Arc<Shared>, version: i16, req: EndTxnRequest) -> EndTxnResponse {
    let s2 = s.clone();
    let r = blocking(move || {
        s2.txns.end_txn(
            &s2,
            &req.transactional_id,
            req.producer_id,
            req.producer_epoch,
            req.committed,
        )
    })
    .await
    .unwrap_or(Err(ErrorCode::UnknownServerError));
    EndTxnResponse {
        error_code: r.err().map_or(0, |e| super::fenced(e, version, 2).code()),
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    }
}
