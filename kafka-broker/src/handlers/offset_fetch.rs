//! OffsetFetch (key 9), v1-v10.
//!
//! * v1: named partitions only; v2+: null topics = every committed offset, top-level error;
//!   v3+ throttle time; v5+ leader epoch; v6+ flexible; v7+ `require_stable`: a partition
//!   with a pending transactional offset (TxnOffsetCommit of an open transaction) answers
//!   UNSTABLE_OFFSET_COMMIT with offset -1.
//! * v8+: a batch of groups, each answered on its own.
//! * v9+: `member_id`/`member_epoch` of a KIP-848 member are validated (UNKNOWN_MEMBER_ID,
//!   STALE_MEMBER_EPOCH).
//! * v10: topics by `topic_id` (UNKNOWN_TOPIC_ID per partition when unknown).
//!
//! Partitions without a committed offset answer offset -1, epoch -1, metadata "" and no
//! error, as Kafka; so does a group that does not exist.

use std::sync::Arc;

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse};
use kafka_protocol::{ErrorCode, Uuid};

use crate::group::OffsetEntry;
use crate::state::Shared;

/// (topic name, topic id, partitions (index, entry, error)) of one group, or a group error.
/// A partition, its committed offset and its error.
type PartitionAnswer = (i32, Option<OffsetEntry>, ErrorCode);
type GroupAnswer = Result<Vec<(String, Uuid, Vec<PartitionAnswer>)>, ErrorCode>;

fn fetch_group(
    s: &Shared,
    group: &str,
    member: Option<(&str, i32)>,
    topics: Option<Vec<(String, Uuid, Vec<i32>)>>,
    by_id: bool,
    require_stable: bool,
) -> GroupAnswer {
    let catalog = s.metadata.snapshot();
    let mut unknown: Vec<(String, Uuid, Vec<i32>)> = Vec::new();
    let named = topics.map(|ts| {
        let mut v = Vec::new();
        for (name, id, ps) in ts {
            if by_id {
                match catalog.by_id.get(&id) {
                    Some(t) => v.push((t.name.clone(), ps)),
                    None => unknown.push((name, id, ps)),
                }
            } else {
                v.push((name, ps));
            }
        }
        v
    });
    let found = s.groups.fetch(group, member, named)?;
    let mut out: Vec<(String, Uuid, Vec<PartitionAnswer>)> = found
        .into_iter()
        .filter_map(|(name, ps)| {
            let id = catalog.by_name.get(&name).map(|t| t.id);
            if by_id && id.is_none() {
                return None;
            }
            let parts = ps
                .into_iter()
                .map(|(p, e)| {
                    if require_stable && s.groups.has_pending_txn_offset(group, &name, p) {
                        (p, None, ErrorCode::UnstableOffsetCommit)
                    } else {
                        (p, e, ErrorCode::None)
                    }
                })
                .collect();
            Some((name, id.unwrap_or(Uuid::ZERO), parts))
        })
        .collect();
    for (name, id, ps) in unknown {
        out.push((
            name,
            id,
            ps.into_iter()
                .map(|p| (p, None, ErrorCode::UnknownTopicId))
                .collect(),
        ));
    }
    Ok(out)
}

pub(crate) fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: OffsetFetchRequest,
) -> OffsetFetchResponse {
    if version < 8 {
        let topics = req.topics.map(|ts| {
            ts.into_iter()
                .map(|t| (t.name, Uuid::ZERO, t.partition_indexes))
                .collect()
        });
        return match fetch_group(
            s,
            &req.group_id,
            None,
            topics,
            false,
            version >= 7 && req.require_stable,
        ) {
            Err(e) => OffsetFetchResponse {
                error_code: if version >= 2 { e.code() } else { 0 },
                ..Default::default()
            },
            Ok(ts) => OffsetFetchResponse {
                topics: ts
                    .into_iter()
                    .map(|(name, _, ps)| OffsetFetchResponseTopic {
                        name,
                        partitions: ps
                            .into_iter()
                            .map(|(p, e, err)| OffsetFetchResponsePartition {
                                partition_index: p,
                                committed_offset: e.as_ref().map_or(-1, |e| e.offset),
                                committed_leader_epoch: if version >= 5 {
                                    e.as_ref().map_or(-1, |e| e.leader_epoch)
                                } else {
                                    -1
                                },
                                metadata: Some(e.map(|e| e.metadata).unwrap_or_default()),
                                error_code: err.code(),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
        };
    }
    let by_id = version >= 10;
    let groups = req
        .groups
        .into_iter()
        .map(|g| {
            let member = if version >= 9 {
                g.member_id.as_deref().map(|m| (m, g.member_epoch))
            } else {
                None
            };
            let topics = g.topics.map(|ts| {
                ts.into_iter()
                    .map(|t| (t.name, t.topic_id, t.partition_indexes))
                    .collect()
            });
            match fetch_group(s, &g.group_id, member, topics, by_id, req.require_stable) {
                Err(e) => OffsetFetchResponseGroup {
                    group_id: g.group_id,
                    error_code: e.code(),
                    ..Default::default()
                },
                Ok(ts) => OffsetFetchResponseGroup {
                    group_id: g.group_id,
                    topics: ts
                        .into_iter()
                        .map(|(name, id, ps)| OffsetFetchResponseTopics {
                            name: if by_id { String::new() } else { name },
                            topic_id: if by_id { id } else { Uuid::ZERO },
                            partitions: ps
                                .into_iter()
                                .map(|(p, e, err)| OffsetFetchResponsePartitions {
                                    partition_index: p,
                                    committed_offset: e.as_ref().map_or(-1, |e| e.offset),
                                    committed_leader_epoch: e
                                        .as_ref()
                                        .map_or(-1, |e| e.leader_epoch),
                                    metadata: Some(e.map(|e| e.metadata).unwrap_or_default()),
                                    error_code: err.code(),
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                },
            }
        })
        .collect();
    OffsetFetchResponse {
        groups,
        ..Default::default()
    }
}
