//! Metadata (key 3), v0-v13.
//!
//! * v0: an empty topic list means all topics; v1+: null means all, empty means none.
//! * v1+: controller id; v2+: cluster id; v4+: `allow_auto_topic_creation` (always on before).
//! * v5+: offline replicas; v7+: leader epoch; v8+: authorized operations (not computed:
//!   i32::MIN, "not requested"); v10+: topic ids; v12+: topics may be named by id only.
//!
//! Unknown topics are created when both the request and `auto.create.topics.enable` allow it
//! (with `num.partitions` partitions); the created topic is described in the same response.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{MetadataRequest, MetadataResponse};
use kafka_protocol::{ErrorCode, Uuid};

use crate::metadata::{Topic, validate_topic_name};
use crate::state::{Shared, blocking};

pub(crate) fn describe_topic(s: &Shared, t: &Topic, version: i16) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: 0,
        name: Some(t.name.clone()),
        topic_id: if version >= 10 { t.id } else { Uuid::ZERO },
        is_internal: crate::group::is_internal_topic(&t.name),
        partitions: t
            .partitions
            .iter()
            .map(|p| MetadataResponsePartition {
                error_code: 0,
                partition_index: p.index,
                leader_id: s.node_id,
                leader_epoch: if version >= 7 { 0 } else { -1 },
                replica_nodes: vec![s.node_id],
                isr_nodes: vec![s.node_id],
                offline_replicas: Vec::new(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn error_topic(name: Option<String>, id: Uuid, code: ErrorCode) -> MetadataResponseTopic {
    MetadataResponseTopic {
        error_code: code.code(),
        name,
        topic_id: id,
        ..Default::default()
    }
}

pub(crate) async fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: MetadataRequest,
) -> MetadataResponse {
    let catalog = s.metadata.snapshot();
    let all = match &req.topics {
        None => true,
        Some(t) => version == 0 && t.is_empty(),
    };
    let auto = (version < 4 || req.allow_auto_topic_creation) && s.config.auto_create_topics;
    let mut topics = Vec::new();
    if all {
        for t in catalog.by_name.values() {
            topics.push(describe_topic(s, t, version));
        }
    } else {
        for rt in req.topics.unwrap_or_default() {
            match rt.name {
                None => {
                    let id = rt.topic_id;
                    match catalog.by_id.get(&id) {
                        Some(t) if id != Uuid::ZERO => topics.push(describe_topic(s, t, version)),
                        _ => topics.push(error_topic(None, id, ErrorCode::UnknownTopicId)),
                    }
                }
                Some(name) => {
                    if let Some(t) = catalog.by_name.get(&name) {
                        topics.push(describe_topic(s, t, version));
                        continue;
                    }
                    if let Err(m) = validate_topic_name(&name) {
                        tracing::debug!("metadata for invalid topic: {m}");
                        topics.push(error_topic(
                            Some(name),
                            Uuid::ZERO,
                            ErrorCode::InvalidTopicException,
                        ));
                        continue;
                    }
                    if !auto {
                        topics.push(error_topic(
                            Some(name),
                            Uuid::ZERO,
                            ErrorCode::UnknownTopicOrPartition,
                        ));
                        continue;
                    }
                    let s2 = s.clone();
                    let n2 = name.clone();
                    let parts = s.config.num_partitions;
                    let created = blocking(move || {
                        s2.metadata.create_topic(&n2, parts, BTreeMap::new(), false)
                    })
                    .await;
                    match created {
                        Some(Ok(t)) => topics.push(describe_topic(s, &t, version)),
                        Some(Err((ErrorCode::TopicAlreadyExists, _))) => {
                            match s.metadata.snapshot().by_name.get(&name) {
                                Some(t) => topics.push(describe_topic(s, t, version)),
                                None => topics.push(error_topic(
                                    Some(name),
                                    Uuid::ZERO,
                                    ErrorCode::LeaderNotAvailable,
                                )),
                            }
                        }
                        Some(Err((code, m))) => {
                            tracing::warn!(topic = %name, "auto-creating topic failed: {m}");
                            topics.push(error_topic(Some(name), Uuid::ZERO, code));
                        }
                        None => topics.push(error_topic(
                            Some(name),
                            Uuid::ZERO,
                            ErrorCode::UnknownServerError,
                        )),
                    }
                }
            }
        }
    }
    if version < 10 {
        for t in &mut topics {
            t.topic_id = Uuid::ZERO;
        }
    }
    MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: s.node_id,
            host: s.advertised_host.clone(),
            port: s.advertised_port,
            rack: None,
            ..Default::default()
        }],
        cluster_id: (version >= 2).then(|| s.cluster_id.clone()),
        controller_id: if version >= 1 { s.node_id } else { -1 },
        topics,
        ..Default::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::handlers::testutil::{round_trip, state};
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;

    #[tokio::test]
    async fn auto_creates_and_describes_at_every_version() {
        let st = state();
        let s = &st.shared;
        for v in 0..=13 {
            let name = format!("auto-{v}");
            let req = MetadataRequest {
                topics: Some(vec![MetadataRequestTopic {
                    name: Some(name.clone()),
                    ..Default::default()
                }]),
                allow_auto_topic_creation: true,
                ..Default::default()
            };
            let r = handle(s, v, req).await;
            assert_eq!(r.topics[0].error_code, 0, "v{v}");
            assert_eq!(r.topics[0].partitions.len(), 1);
            assert_eq!(r.topics[0].topic_id != Uuid::ZERO, v >= 10);
            round_trip(&r, v);
        }
        // no auto-create when the request forbids it
        let r = handle(
            s,
            9,
            MetadataRequest {
                topics: Some(vec![MetadataRequestTopic {
                    name: Some("nope".into()),
                    ..Default::default()
                }]),
                allow_auto_topic_creation: false,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            r.topics[0].error_code,
            ErrorCode::UnknownTopicOrPartition.code()
        );
        // invalid name
        let r = handle(
            s,
            9,
            MetadataRequest {
                topics: Some(vec![MetadataRequestTopic {
                    name: Some("bad/name".into()),
                    ..Default::default()
                }]),
                allow_auto_topic_creation: true,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(
            r.topics[0].error_code,
            ErrorCode::InvalidTopicException.code()
        );
        // all topics; lookup by id
        let all = handle(
            s,
            12,
            MetadataRequest {
                topics: None,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(all.topics.len(), 14);
        let id = all.topics[0].topic_id;
        let by_id = handle(
            s,
            12,
            MetadataRequest {
                topics: Some(vec![MetadataRequestTopic {
                    topic_id: id,
                    name: None,
                    ..Default::default()
                }]),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(by_id.topics[0].name, all.topics[0].name);
    }
}
