//! CreatePartitions (key 37), v0-v3.
//!
//! Raises a topic's partition count. Errors: UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS
//! (not larger), INVALID_REPLICA_ASSIGNMENT (assignments must be one list per new partition,
//! each exactly this node), INVALID_REQUEST (duplicate topic). `validate_only` supported.

use std::collections::HashMap;
use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use crate::state::{Shared, blocking};

pub(crate) async fn handle(
    s: &Arc<Shared>,
    _version: i16,
    req: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in &req.topics {
        *counts.entry(t.name.as_str()).or_default() += 1;
    }
    let mut results = Vec::new();
    for t in &req.topics {
        let outcome: Result<(), (ErrorCode, String)> = if counts
            .get(t.name.as_str())
            .copied()
            .unwrap_or(0)
            > 1
        {
            Err((
                ErrorCode::InvalidRequest,
                "Duplicate topic in request.".into(),
            ))
        } else {
            let current = s
                .metadata
                .snapshot()
                .by_name
                .get(&t.name)
                .map(|x| x.partitions.len() as i32);
            let assignment_err = match (&t.assignments, current) {
                (Some(a), Some(cur)) => {
                    if a.len() as i64 != i64::from(t.count) - i64::from(cur) {
                        Some(format!(
                            "Increasing the number of partitions by {} but {} assignments provided.",
                            i64::from(t.count) - i64::from(cur),
                            a.len()
                        ))
                    } else if a.iter().any(|x| x.broker_ids != [s.node_id]) {
                        Some(format!("The only broker is {}.", s.node_id))
                    } else {
                        None
                    }
                }
                _ => None,
            };
            if let Some(m) = assignment_err {
                Err((ErrorCode::InvalidReplicaAssignment, m))
            } else {
                let s2 = s.clone();
                let name = t.name.clone();
                let (count, vo) = (t.count, req.validate_only);
                blocking(move || s2.metadata.create_partitions(&name, count, vo))
                    .await
                    .unwrap_or_else(|| {
                        Err((ErrorCode::UnknownServerError, "internal error".into()))
                    })
            }
        };
        let (code, message) = match outcome {
            Ok(()) => (ErrorCode::None, None),
            Err((c, m)) => (c, Some(m)),
        };
        results.push(CreatePartitionsTopicResult {
            name: t.name.clone(),
            error_code: code.code(),
            error_message: message,
            ..Default::default()
        });
    }
    CreatePartitionsResponse {
        results,
        ..Default::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::handlers::testutil::{round_trip, state};
    use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
    use std::collections::BTreeMap;

    #[tokio::test]
    async fn grows_and_rejects() {
        let st = state();
        let s = &st.shared;
        s.metadata
            .create_topic("g", 1, BTreeMap::new(), false)
            .unwrap();
        let t = |name: &str, count| CreatePartitionsTopic {
            name: name.into(),
            count,
            assignments: None,
            ..Default::default()
        };
        let r = handle(
            s,
            3,
            CreatePartitionsRequest {
                topics: vec![t("g", 3), t("nope", 2)],
                ..Default::default()
            },
        )
        .await;
        assert_eq!(r.results[0].error_code, 0);
        assert_eq!(
            r.results[1].error_code,
            ErrorCode::UnknownTopicOrPartition.code()
        );
        let r = handle(
            s,
            3,
            CreatePartitionsRequest {
                topics: vec![t("g", 2)],
                ..Default::default()
            },
        )
        .await;
        assert_eq!(r.results[0].error_code, ErrorCode::InvalidPartitions.code());
        for v in 0..=3 {
            round_trip(&r, v);
        }
        assert_eq!(s.metadata.snapshot().by_name["g"].partitions.len(), 3);
    }
}
