//! FindCoordinator (key 10), v0-v6.
//!
//! * v0: group key only; v1+: `key_type` (0 group, 1 transaction); v1+ throttle time and error
//!   message; v4+: a batch of `coordinator_keys` answered per key in `coordinators`.
//! * This single node is every group's coordinator. The first group lookup creates
//!   `__consumer_offsets` (as Kafka does), so a failure to create it is
//!   COORDINATOR_NOT_AVAILABLE.
//! * Transaction keys (type 1) are answered with this node too; the first lookup creates
//!   `__transaction_state` (COORDINATOR_NOT_AVAILABLE if that fails).
//! * Share-group keys (type 2, KIP-932) and unknown types: INVALID_REQUEST.

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};

use crate::state::{Shared, blocking};

fn answer(s: &Shared, key: &str, key_type: i8, topic_ok: Result<(), ErrorCode>) -> Coordinator {
    let err = match key_type {
        0 | 1 => topic_ok.err(),
        t => {
            return Coordinator {
                key: key.to_string(),
                node_id: -1,
                host: String::new(),
                port: -1,
                error_code: ErrorCode::InvalidRequest.code(),
                error_message: Some(format!("Unsupported key type {t}")),
                ..Default::default()
            };
        }
    };
    match err {
        Some(e) => Coordinator {
            key: key.to_string(),
            node_id: -1,
            host: String::new(),
            port: -1,
            error_code: e.code(),
            error_message: Some(e.message().to_string()),
            ..Default::default()
        },
        None => Coordinator {
            key: key.to_string(),
            node_id: s.node_id,
            host: s.advertised_host.clone(),
            port: s.advertised_port,
            error_code: 0,
            error_message: None,
            ..Default::default()
        },
    }
}

pub(crate) async fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: FindCoordinatorRequest,
) -> FindCoordinatorResponse {
    let keys: Vec<String> = if version >= 4 {
        req.coordinator_keys.clone()
    } else {
        vec![req.key.clone()]
    };
    let key_type = if version >= 1 { req.key_type } else { 0 };
    let topic_ok = if matches!(key_type, 0 | 1) && !keys.is_empty() {
        let s2 = s.clone();
        blocking(move || {
            if key_type == 0 {
                s2.groups.ensure_topic(&s2.metadata)
            } else {
                s2.txns.ensure_topic(&s2)
            }
        })
        .await
        .unwrap_or(Err(ErrorCode::CoordinatorNotAvailable))
    } else {
        Ok(())
    };
    let answers: Vec<Coordinator> = keys
        .iter()
        .map(|k| answer(s, k, key_type, topic_ok))
        .collect();
    if version >= 4 {
        return FindCoordinatorResponse {
            coordinators: answers,
            ..Default::default()
        };
    }
    let Some(a) = answers.into_iter().next() else {
        return FindCoordinatorResponse::default();
    };
    FindCoordinatorResponse {
        error_code: a.error_code,
        error_message: if version >= 1 { a.error_message } else { None },
        node_id: a.node_id,
        host: a.host,
        port: a.port,
        ..Default::default()
    }
}
