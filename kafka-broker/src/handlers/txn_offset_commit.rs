//! TxnOffsetCommit (key 28), v0-v5.
//!
//! Offsets committed as part of a transaction: written to the group's `__consumer_offsets`
//! partition as a transactional batch of the producer, kept pending by the group coordinator,
//! visible to OffsetFetch only once the transaction commits (dropped on abort); OffsetFetch
//! with `require_stable` answers UNSTABLE_OFFSET_COMMIT meanwhile.
//!
//! * v2+: committed leader epoch; v3+: flexible, `generation_id`/`member_id`/
//!   `group_instance_id`, validated like OffsetCommit when given (ILLEGAL_GENERATION,
//!   UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID); fencing: PRODUCER_FENCED from v3,
//!   INVALID_PRODUCER_EPOCH before (as Kafka). v4/v5 are served as v3.
//! * The producer must be the transactional id's current producer (checked with the
//!   transaction coordinator: INVALID_PRODUCER_ID_MAPPING / PRODUCER_FENCED), and the group's
//!   `__consumer_offsets` partition must be in its open transaction (AddOffsetsToTxn first),
//!   else INVALID_TXN_STATE, as Apache Kafka answers.

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use crate::group::CommitPartition;
use crate::group::store::{OFFSETS_TOPIC, partition_for};
use crate::state::{Shared, blocking};

pub(crate) async fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let mut parts: Vec<CommitPartition> = Vec::new();
    for t in &req.topics {
        for p in &t.partitions {
            parts.push(CommitPartition {
                topic: t.name.clone(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: if version >= 2 {
                    p.committed_leader_epoch
                } else {
                    -1
                },
                metadata: p.committed_metadata.clone().unwrap_or_default(),
            });
        }
    }
    let s2 = s.clone();
    let r2 = req.clone();
    let result = blocking(move || -> Result<(), ErrorCode> {
        let n = s2
            .metadata
            .snapshot()
            .by_name
            .get(OFFSETS_TOPIC)
            .map_or(0, |t| t.partitions.len() as i32);
        if n == 0 {
            // No AddOffsetsToTxn ever ran (it creates the topic): nothing can be in the
            // transaction, but the producer checks come first.
            s2.txns
                .check_current(&r2.transactional_id, r2.producer_id, r2.producer_epoch)?;
            return Err(ErrorCode::InvalidTxnState);
        }
        s2.txns.verify_offsets(
            &r2.transactional_id,
            r2.producer_id,
            r2.producer_epoch,
            partition_for(&r2.group_id, n),
        )?;
        let too_big = s2.groups.cfg.offset_metadata_max_bytes;
        if parts.iter().any(|p| p.metadata.len() > too_big) {
            return Err(ErrorCode::OffsetMetadataTooLarge);
        }
        s2.groups.txn_commit(
            &s2.metadata,
            &r2.group_id,
            r2.producer_id,
            r2.producer_epoch,
            if version >= 3 { r2.generation_id } else { -1 },
            if version >= 3 { &r2.member_id } else { "" },
            if version >= 3 {
                r2.group_instance_id.as_deref()
            } else {
                None
            },
            parts,
        )
    })
    .await
    .unwrap_or(Err(ErrorCode::UnknownServerError));
    let code = result
        .err()
        .map_or(ErrorCode::None, |e| super::fenced(e, version, 3));
    TxnOffsetCommitResponse {
        topics: req
            .topics
            .iter()
            .map(|t| TxnOffsetCommitResponseTopic {
                name: t.name.clone(),
                partitions: t
                    .partitions
                    .iter()
                    .map(|p| TxnOffsetCommitResponsePartition {
                        partition_index: p.partition_index,
                        error_code: code.code(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
