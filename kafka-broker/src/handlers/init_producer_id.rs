//! InitProducerId (key 22), v0-v5 (v6 is unstable in Kafka and not advertised).
//!
//! * No transactional id: a fresh producer id with epoch 0 (as Kafka, any producer id/epoch in
//!   the request is ignored). Ids come from a persisted counter, never reused after restart.
//! * A transactional id: transactions are not implemented yet, and FindCoordinator is not
//!   advertised, so transactional clients already fail at the coordinator lookup. Should a
//!   client send this anyway it gets INVALID_REQUEST — non-retriable, so it fails at once
//!   instead of retrying a coordinator error forever.

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};

use crate::state::{Shared, blocking};

pub(crate) async fn handle(
    s: &Arc<Shared>,
    _version: i16,
    req: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let fail = |code: ErrorCode| InitProducerIdResponse {
        error_code: code.code(),
        producer_id: -1,
        producer_epoch: -1,
        ..Default::default()
    };
    if req.transactional_id.is_some() {
        tracing::warn!(transactional_id = ?req.transactional_id, "transactions are not supported yet; InitProducerId answered INVALID_REQUEST");
        return fail(ErrorCode::InvalidRequest);
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
        assert_eq!(t.error_code, ErrorCode::InvalidRequest.code());
        for v in 0..=5 {
            round_trip(&a, v);
        }
    }
}
