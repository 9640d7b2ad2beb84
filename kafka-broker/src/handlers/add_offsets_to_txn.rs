//! AddOffsetsToTxn (key 25), v0-v4.
//!
//! Adds the group's `__consumer_offsets` partition to the open transaction, so that a later
//! TxnOffsetCommit's offsets are committed or aborted with it. Fencing: PRODUCER_FENCED from
//! v2, INVALID_PRODUCER_EPOCH before (as Kafka). v3+ flexible; v4 is served as v3.

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};

use crate::group::store::{OFFSETS_TOPIC, partition_for};
use crate::state::{Shared, blocking};

pub(crate) async fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let s2 = s.clone();
    let r = blocking(move || -> Result<(), ErrorCode> {
        if req.group_id.is_empty() {
            return Err(ErrorCode::InvalidGroupId);
        }
        s2.groups.ensure_topic(&s2.metadata)?;
        let n = s2
            .metadata
            .snapshot()
            .by_name
            .get(OFFSETS_TOPIC)
            .map_or(0, |t| t.partitions.len() as i32);
        if n == 0 {
            return Err(ErrorCode::CoordinatorNotAvailable);
        }
        let p = partition_for(&req.group_id, n);
        s2.txns.add_partitions(
            &s2,
            &req.transactional_id,
            req.producer_id,
            req.producer_epoch,
            &[(OFFSETS_TOPIC.to_string(), p)],
        )
    })
    .await
    .unwrap_or(Err(ErrorCode::UnknownServerError));
    AddOffsetsToTxnResponse {
        error_code: r.err().map_or(0, |e| super::fenced(e, version, 2).code()),
        ..Default::default()
    }
}
