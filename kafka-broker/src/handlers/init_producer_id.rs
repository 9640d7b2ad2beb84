//! InitProducerId (key 22), v0-v5 (v6 is unstable in Kafka and not advertised).
//!
//! * No transactional id: a fresh producer id with epoch 0 (as Kafka, any producer id/epoch in
//!   the request is ignored). Ids come from a persisted counter, never reused after restart.
//! * A transactional id: the transaction coordinator (`crate::txn`) answers: a new producer id
//!   for a new id, else the same id with the epoch bumped (an ongoing transaction of the old
//!   epoch is aborted first). `transaction_timeout_ms` above `transaction.max.timeout.ms` (or
//!   not positive) is INVALID_TRANSACTION_TIMEOUT; an empty id INVALID_REQUEST; while a
//!   transaction is completing CONCURRENT_TRANSACTIONS.
//! * v3+: `producer_id`/`producer_epoch` of a client re-initialising (KIP-360); if they are not
//!   the current ones the client is fenced: PRODUCER_FENCED from v4, INVALID_PRODUCER_EPOCH
//!   before (as Kafka).

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};

use crate::state::{Shared, blocking};

pub(crate) async fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let fail = |code: ErrorCode| InitProducerIdResponse {
        error_code: code.code(),
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    if let Some(id) = req.transactional_id {
        let s2 = s.clone();
        let expected = (version >= 3).then_some((req.producer_id, req.producer_epoch));
        let timeout = req.transaction_timeout_ms;
        let r = blocking(move || s2.txns.init_producer_id(&s2, &id, timeout, expected)).await;
        return match r {
            Some(Ok((producer_id, producer_epoch))) => InitProducerIdResponse {
                producer_id,
                producer_epoch,
                ..Default::default()
            },
            Some(Err(e)) => fail(super::fenced(e, version, 4)),
            None => fail(ErrorCode::UnknownServerError),
        };
    }
    let s2 = s.clone();
    let id = blocking(move || match s2.producer_ids.lock() {
        Ok(mut p) => p.allocate().map_err(|e| e.to_string()),
        Err(_) => Err("lock poisoned".to_string()),
    })
    .await;
    match id {
        Some(Ok(id)) => InitProducerIdResponse {
            producer_id: id,
            producer_epoch: 0,
            ..Default::default()
        },
        Some(Err(e)) => {
            tracing::error!("allocating a producer id failed: {e}");
            fail(ErrorCode::KafkaStorageError)
        }
        None => fail(ErrorCode::UnknownServerError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testutil::{round_trip, state};

    #[tokio::test]
    async fn allocates_distinct_ids() {
        let st = state();
        let a = handle(
            &st.shared,
            4,
            InitProducerIdRequest {
                transactional_id: None,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            },
        )
        .await;
        let b = handle(
            &st.shared,
            4,
            InitProducerIdRequest {
                transactional_id: None,
                producer_id: -1,
                producer_epoch: -1,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(a.error_code, 0);
        assert_ne!(a.producer_id, b.producer_id);
        let t = handle(
            &st.shared,
            4,
            InitProducerIdRequest {
                transactional_id: Some("t".into()),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(t.error_code, ErrorCode::InvalidTransactionTimeout.code());
        for v in 0..=5 {
            round_trip(&a, v);
        }
    }
}
