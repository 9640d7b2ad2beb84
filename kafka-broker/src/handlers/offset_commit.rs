//! OffsetCommit (key 8), v2-v10.
//!
//! * v2-v4: `retention_time_ms` (-1: the broker's `offsets.retention.minutes`); v5+: none.
//! * v6+: `committed_leader_epoch`; v7+: `group_instance_id`; v8+ flexible.
//! * v9+: KIP-848 groups (`generation_id_or_member_epoch` is the member epoch); a commit with
//!   a generation to a group that does not exist is GROUP_ID_NOT_FOUND (ILLEGAL_GENERATION
//!   before v9).
//! * v10: topics by `topic_id` (UNKNOWN_TOPIC_ID when unknown).
//!
//! A commit with generation -1 and no member id to a group that does not exist creates a
//! "simple" group that only stores offsets (admin tools, `assign()` consumers). Unknown topics
//! are UNKNOWN_TOPIC_OR_PARTITION, metadata over `offset.metadata.max.bytes` is
//! OFFSET_METADATA_TOO_LARGE; group-level errors (fencing, generation) apply to every
//! partition.

use std::sync::Arc;

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};
use kafka_protocol::{ErrorCode, Uuid};

use crate::group::CommitPartition;
use crate::state::{Shared, blocking};

pub(crate) async fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let catalog = s.metadata.snapshot();
    let max_meta = s.groups.cfg.offset_metadata_max_bytes;
    // (topic index, partition index, error or pending)
    let mut topics: Vec<OffsetCommitResponseTopic> = Vec::new();
    let mut valid: Vec<(usize, usize, CommitPartition)> = Vec::new();
    for (ti, t) in req.topics.into_iter().enumerate() {
        let (name, topic_err) = if version >= 10 {
            match catalog
                .by_id
                .get(&t.topic_id)
                .filter(|_| t.topic_id != Uuid::ZERO)
            {
                Some(x) => (x.name.clone(), None),
                None => (String::new(), Some(ErrorCode::UnknownTopicId)),
            }
        } else if catalog.by_name.contains_key(&t.name) {
            (t.name.clone(), None)
        } else {
            (t.name.clone(), Some(ErrorCode::UnknownTopicOrPartition))
        };
        let mut parts = Vec::new();
        for (pi, p) in t.partitions.into_iter().enumerate() {
            let metadata = p.committed_metadata.unwrap_or_default();
            let err = topic_err.or_else(|| {
                (metadata.len() > max_meta).then_some(ErrorCode::OffsetMetadataTooLarge)
            });
            if err.is_none() {
                valid.push((
                    ti,
                    pi,
                    CommitPartition {
                        topic: name.clone(),
                        partition: p.partition_index,
                        offset: p.committed_offset,
                        leader_epoch: if version >= 6 {
                            p.committed_leader_epoch
                        } else {
                            -1
                        },
                        metadata,
                    },
                ));
            }
            parts.push(OffsetCommitResponsePartition {
                partition_index: p.partition_index,
                error_code: err.unwrap_or(ErrorCode::None).code(),
                ..Default::default()
            });
        }
        topics.push(OffsetCommitResponseTopic {
            name: if version >= 10 { String::new() } else { t.name },
            topic_id: if version >= 10 {
                t.topic_id
            } else {
                Uuid::ZERO
            },
            partitions: parts,
            ..Default::default()
        });
    }
    if !valid.is_empty() {
        let s2 = s.clone();
        let group = req.group_id.clone();
        let member = req.member_id.clone();
        let instance = if version >= 7 {
            req.group_instance_id.clone()
        } else {
            None
        };
        let generation = req.generation_id_or_member_epoch;
        let retention = if version <= 4 {
            req.retention_time_ms
        } else {
            -1
        };
        let commits: Vec<CommitPartition> = valid.iter().map(|(_, _, c)| c.clone()).collect();
        let r = blocking(move || {
            s2.groups.commit(
                &s2.metadata,
                version,
                &group,
                generation,
                &member,
                instance.as_deref(),
                retention,
                commits,
            )
        })
        .await
        .unwrap_or(Err(ErrorCode::UnknownServerError));
        if let Err(e) = r {
            for (ti, pi, _) in &valid {
                if let Some(p) = topics.get_mut(*ti).and_then(|t| t.partitions.get_mut(*pi)) {
                    p.error_code = e.code();
                }
            }
        }
    }
    OffsetCommitResponse {
        topics,
        ..Default::default()
    }
}
