//! Topic helpers for tests, built on the blocking [`Connection`].

use std::time::Duration;

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, DeleteTopicsRequest, MetadataRequest, MetadataResponse,
};
use kafka_protocol::{ErrorCode, Uuid};

use crate::wait_for;
use crate::wire::{Connection, WireError};

/// Sends CreateTopics for one topic and returns the per-topic error code.
pub fn try_create_topic(
    c: &mut Connection,
    name: &str,
    partitions: i32,
) -> Result<ErrorCode, WireError> {
    let resp = c.send(CreateTopicsRequest {
        topics: vec![CreatableTopic {
            name: name.to_string(),
            num_partitions: partitions,
            replication_factor: 1,
            configs: topic_configs(),
            ..Default::default()
        }],
        timeout_ms: 30_000,
        ..Default::default()
    })?;
    let t = resp
        .topics
        .first()
        .ok_or_else(|| WireError::Unexpected("empty CreateTopics response".into()))?;
    Ok(ErrorCode::from(t.error_code))
}

/// [`crate::TEST_TOPIC_CONFIGS`] as CreateTopics wants them.
pub fn topic_configs() -> Vec<CreatableTopicConfig> {
    crate::TEST_TOPIC_CONFIGS
        .iter()
        .map(|(name, value)| CreatableTopicConfig {
            name: name.to_string(),
            value: Some(value.to_string()),
            ..Default::default()
        })
        .collect()
}

/// Fetches metadata for one topic (never auto-creating it).
pub fn topic_metadata(c: &mut Connection, name: &str) -> Result<MetadataResponse, WireError> {
    c.send(MetadataRequest {
        topics: Some(vec![MetadataRequestTopic {
            name: Some(name.to_string()),
            ..Default::default()
        }]),
        allow_auto_topic_creation: false,
        ..Default::default()
    })
}

/// Creates a topic (replication factor 1), waits up to 30 s until every partition has a
/// leader, and returns its topic id.
pub fn create_topic(c: &mut Connection, name: &str, partitions: i32) -> Result<Uuid, WireError> {
    let code = try_create_topic(c, name, partitions)?;
    if code != ErrorCode::None {
        return Err(WireError::Unexpected(format!("creating {name}: {code}")));
    }
    wait_for(Duration::from_secs(30), || {
        let md = topic_metadata(c, name).ok()?;
        let t = md.topics.first()?;
        let ready = t.error_code == 0
            && t.partitions.len() == partitions as usize
            && t.partitions.iter().all(|p| p.leader_id >= 0);
        ready.then_some(t.topic_id)
    })
    .ok_or_else(|| WireError::Unexpected(format!("topic {name} had no leaders within 30 s")))
}

/// Deletes a topic by name and returns the per-topic error code.
pub fn delete_topic(c: &mut Connection, name: &str) -> Result<ErrorCode, WireError> {
    // v6+ names topics in `topics` (name or id); older versions in `topic_names`.
    let by_state = c.negotiated(ApiKey::DeleteTopics).is_some_and(|v| v >= 6);
    let resp = c.send(DeleteTopicsRequest {
        topic_names: if by_state {
            Vec::new()
        } else {
            vec![name.to_string()]
        },
        topics: if by_state {
            vec![DeleteTopicState {
                name: Some(name.to_string()),
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        timeout_ms: 30_000,
        ..Default::default()
    })?;
    let r = resp
        .responses
        .first()
        .ok_or_else(|| WireError::Unexpected(format!("empty DeleteTopics response: {resp:?}")))?;
    Ok(ErrorCode::from(r.error_code))
}
