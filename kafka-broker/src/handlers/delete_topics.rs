//! DeleteTopics (key 20), v1-v6.
//!
//! * v1-v5: `topic_names`; v5+: error messages; v6: `topics` by name or by id (UNKNOWN_TOPIC_ID
//!   for an unknown id; INVALID_REQUEST if both name and id are given).

use std::sync::Arc;

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse};
use kafka_protocol::{ErrorCode, Uuid};

use crate::state::{Shared, blocking};

pub(crate) async fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    // (name as requested, id as requested)
    let targets: Vec<(Option<String>, Uuid)> = if version >= 6 {
        req.topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        req.topic_names
            .into_iter()
            .map(|n| (Some(n), Uuid::ZERO))
            .collect()
    };
    let mut responses = Vec::new();
    for (name, id) in targets {
        let catalog = s.metadata.snapshot();
        let resolved: Result<String, (ErrorCode, String)> = match (&name, id) {
            (Some(n), id) if id != Uuid::ZERO && !n.is_empty() => Err((
                ErrorCode::InvalidRequest,
                "Only one of topic name or topic id may be given".into(),
            )),
            (Some(n), _) if !n.is_empty() => Ok(n.clone()),
            (_, id) if id != Uuid::ZERO => match catalog.by_id.get(&id) {
                Some(t) => Ok(t.name.clone()),
                None => Err((
                    ErrorCode::UnknownTopicId,
                    "This server does not host this topic ID.".into(),
                )),
            },
            _ => Err((
                ErrorCode::InvalidRequest,
                "Neither topic name nor topic id given".into(),
            )),
        };
        let outcome = match resolved {
            Err(e) => Err(e),
            Ok(n) => {
                let s2 = s.clone();
                let n2 = n.clone();
                match blocking(move || s2.metadata.delete_topic(&n2)).await {
                    Some(Ok(t)) => Ok((t.name.clone(), t.id)),
                    Some(Err(e)) => Err(e),
                    None => Err((ErrorCode::UnknownServerError, "internal error".into())),
                }
            }
        };
        let mut r = DeletableTopicResult {
            name: name.clone(),
            ..Default::default()
        };
        match outcome {
            Ok((n, tid)) => {
                r.name = Some(n);
                if version >= 6 {
                    r.topic_id = tid;
                }
            }
            Err((code, message)) => {
                r.error_code = code.code();
                if version >= 6 {
                    r.topic_id = id;
                }
                if version >= 5 {
                    r.error_message = Some(message);
                }
            }
        }
        if version < 6 && r.name.is_none() {
            r.name = Some(String::new());
        }
        responses.push(r);
    }
    DeleteTopicsResponse {
        responses,
        ..Default::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::handlers::testutil::{round_trip, state};
    use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
    use std::collections::BTreeMap;

    #[tokio::test]
    async fn deletes_by_name_and_id() {
        let st = state();
        let s = &st.shared;
        s.metadata
            .create_topic("x", 1, BTreeMap::new(), false)
            .unwrap();
        let y = s
            .metadata
            .create_topic("y", 1, BTreeMap::new(), false)
            .unwrap();
        let r = handle(
            s,
            5,
            DeleteTopicsRequest {
                topic_names: vec!["x".into(), "zz".into()],
                ..Default::default()
            },
        )
        .await;
        assert_eq!(r.responses[0].error_code, 0);
        assert_eq!(
            r.responses[1].error_code,
            ErrorCode::UnknownTopicOrPartition.code()
        );
        round_trip(&r, 5);
        let r = handle(
            s,
            6,
            DeleteTopicsRequest {
                topics: vec![
                    DeleteTopicState {
                        name: None,
                        topic_id: y.id,
                        ..Default::default()
                    },
                    DeleteTopicState {
                        name: None,
                        topic_id: Uuid::from_u128(77),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
        )
        .await;
        assert_eq!(r.responses[0].error_code, 0);
        assert_eq!(r.responses[0].name.as_deref(), Some("y"));
        assert_eq!(r.responses[1].error_code, ErrorCode::UnknownTopicId.code());
        round_trip(&r, 6);
        assert!(s.metadata.snapshot().by_name.is_empty());
    }
}
