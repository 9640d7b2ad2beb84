//! CreateTopics (key 19), v2-v7.
//!
//! * v1+: error messages; v5+: the created topic's partitions, replication factor and configs
//!   in the response; v7: topic ids.
//! * `num_partitions`/`replication_factor` of -1 mean the broker defaults (`num.partitions`, 1).
//! * A replication factor above 1 is INVALID_REPLICATION_FACTOR (one broker). Manual
//!   assignments are accepted only if every replica list is exactly this node, with partition
//!   indexes 0..n; otherwise INVALID_REPLICA_ASSIGNMENT.
//! * Configs are validated against the known topic configs (INVALID_CONFIG).
//! * `validate_only` checks everything without creating.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};
use kafka_protocol::{ErrorCode, Uuid};

use crate::handlers::describe_configs::topic_entries;
use crate::metadata::{AdminError, validate_topic_name};
use crate::state::{Shared, blocking};

/// Checks one topic's request; returns (partitions, configs).
fn plan(s: &Shared, t: &CreatableTopic) -> Result<(i32, BTreeMap<String, String>), AdminError> {
    validate_topic_name(&t.name).map_err(|m| (ErrorCode::InvalidTopicException, m))?;
    let partitions = if !t.assignments.is_empty() {
        if t.num_partitions != -1 || t.replication_factor != -1 {
            return Err((
                ErrorCode::InvalidRequest,
                "Both numPartitions or replicationFactor and replicasAssignments were set. Both cannot be used at the same time.".into(),
            ));
        }
        let mut seen: Vec<i32> = t.assignments.iter().map(|a| a.partition_index).collect();
        seen.sort_unstable();
        if seen.iter().enumerate().any(|(i, p)| *p != i as i32) {
            return Err((
                ErrorCode::InvalidReplicaAssignment,
                "Partitions should be consecutive and start from 0.".into(),
            ));
        }
        for a in &t.assignments {
            if a.broker_ids != [s.node_id] {
                return Err((
                    ErrorCode::InvalidReplicaAssignment,
                    format!(
                        "Replica assignment {:?} for partition {} is invalid: the only broker is {}.",
                        a.broker_ids, a.partition_index, s.node_id
                    ),
                ));
            }
        }
        t.assignments.len() as i32
    } else {
        let p = match t.num_partitions {
            -1 => s.config.num_partitions,
            n if n <= 0 => {
                return Err((
                    ErrorCode::InvalidPartitions,
                    "Number of partitions was set to an invalid non-positive value.".into(),
                ));
            }
            n => n,
        };
        match t.replication_factor {
            -1 | 1 => {}
            n if n <= 0 => {
                return Err((
                    ErrorCode::InvalidReplicationFactor,
                    "Replication factor must be larger than 0, or -1 to use the default value."
                        .into(),
                ));
            }
            n => {
                return Err((
                    ErrorCode::InvalidReplicationFactor,
                    format!(
                        "Unable to replicate the partition {n} time(s): The target replication factor of {n} cannot be reached because only 1 broker(s) are registered."
                    ),
                ));
            }
        }
        p
    };
    let mut configs = BTreeMap::new();
    for c in &t.configs {
        let Some(v) = &c.value else {
            return Err((
                ErrorCode::InvalidConfig,
                format!("Null value not supported for topic configs: {}", c.name),
            ));
        };
        configs.insert(c.name.clone(), v.clone());
    }
    Ok((partitions, configs))
}

pub(crate) async fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for t in &req.topics {
        *counts.entry(t.name.as_str()).or_default() += 1;
    }
    let mut results = Vec::new();
    for t in &req.topics {
        let outcome = if counts.get(t.name.as_str()).copied().unwrap_or(0) > 1 {
            Err((
                ErrorCode::InvalidRequest,
                format!("Found multiple entries for topic {}", t.name),
            ))
        } else {
            match plan(s, t) {
                Err(e) => Err(e),
                Ok((partitions, configs)) => {
                    let s2 = s.clone();
                    let name = t.name.clone();
                    let validate_only = req.validate_only;
                    let cfg = configs.clone();
                    match blocking(move || {
                        s2.metadata
                            .create_topic(&name, partitions, cfg, validate_only)
                    })
                    .await
                    {
                        Some(Ok(topic)) => Ok((topic.id, partitions, configs)),
                        Some(Err(e)) => Err(e),
                        None => Err((ErrorCode::UnknownServerError, "internal error".into())),
                    }
                }
            }
        };
        let mut r = CreatableTopicResult {
            name: t.name.clone(),
            ..Default::default()
        };
        match outcome {
            Ok((id, partitions, configs)) => {
                if version >= 7 && !req.validate_only {
                    r.topic_id = id;
                }
                if version >= 5 {
                    r.num_partitions = partitions;
                    r.replication_factor = 1;
                    r.configs = Some(
                        topic_entries(s, &configs)
                            .into_iter()
                            .map(|e| CreatableTopicConfigs {
                                name: e.name.to_string(),
                                value: Some(e.value),
                                read_only: false,
                                config_source: e.source,
                                is_sensitive: false,
                                ..Default::default()
                            })
                            .collect(),
                    );
                }
            }
            Err((code, message)) => {
                tracing::debug!(topic = %t.name, %code, "create topic failed: {message}");
                r.error_code = code.code();
                r.error_message = Some(message);
                r.topic_id = Uuid::ZERO;
                if version >= 5 {
                    r.num_partitions = -1;
                    r.replication_factor = -1;
                }
            }
        }
        results.push(r);
    }
    CreateTopicsResponse {
        topics: results,
        ..Default::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::handlers::testutil::{round_trip, state};
    use kafka_protocol::messages::create_topics_request::{
        CreatableReplicaAssignment, CreatableTopicConfig,
    };

    fn topic(name: &str, p: i32, rf: i16) -> CreatableTopic {
        CreatableTopic {
            name: name.into(),
            num_partitions: p,
            replication_factor: rf,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn creates_and_reports_errors() {
        let st = state();
        let s = &st.shared;
        let mut bad_cfg = topic("c", 1, 1);
        bad_cfg.configs.push(CreatableTopicConfig {
            name: "retention.ms".into(),
            value: Some("soon".into()),
            ..Default::default()
        });
        let mut assigned_ok = topic("d", -1, -1);
        assigned_ok.assignments = vec![CreatableReplicaAssignment {
            partition_index: 0,
            broker_ids: vec![1],
            ..Default::default()
        }];
        let mut assigned_bad = topic("e", -1, -1);
        assigned_bad.assignments = vec![CreatableReplicaAssignment {
            partition_index: 0,
            broker_ids: vec![2],
            ..Default::default()
        }];
        let req = CreateTopicsRequest {
            topics: vec![
                topic("a", 3, 1),
                topic("b", -1, -1),
                bad_cfg,
                assigned_ok,
                assigned_bad,
                topic("f", 1, 3),
                topic("bad name", 1, 1),
                topic("dup", 1, 1),
                topic("dup", 1, 1),
            ],
            timeout_ms: 1000,
            validate_only: false,
            ..Default::default()
        };
        let r = handle(s, 7, req.clone()).await;
        let codes: Vec<ErrorCode> = r
            .topics
            .iter()
            .map(|t| ErrorCode::from(t.error_code))
            .collect();
        assert_eq!(
            codes,
            vec![
                ErrorCode::None,
                ErrorCode::None,
                ErrorCode::InvalidConfig,
                ErrorCode::None,
                ErrorCode::InvalidReplicaAssignment,
                ErrorCode::InvalidReplicationFactor,
                ErrorCode::InvalidTopicException,
                ErrorCode::InvalidRequest,
                ErrorCode::InvalidRequest,
            ]
        );
        assert_eq!(r.topics[0].num_partitions, 3);
        assert_ne!(r.topics[0].topic_id, Uuid::ZERO);
        for v in 2..=7 {
            round_trip(&handle(s, v, req.clone()).await, v);
        }
        let again = handle(
            s,
            7,
            CreateTopicsRequest {
                topics: vec![topic("a", 1, 1)],
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            again.topics[0].error_code,
            ErrorCode::TopicAlreadyExists.code()
        );
        let vo = handle(
            s,
            7,
            CreateTopicsRequest {
                topics: vec![topic("vo", 1, 1)],
                validate_only: true,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(vo.topics[0].error_code, 0);
        assert!(!s.metadata.snapshot().by_name.contains_key("vo"));
    }
}
