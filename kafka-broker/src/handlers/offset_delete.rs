//! OffsetDelete (key 47), v0.
//!
//! Deletes committed offsets of a group (tombstones in `__consumer_offsets`). Unknown group:
//! GROUP_ID_NOT_FOUND. A non-empty group whose members' subscriptions are not known (not the
//! `consumer` protocol): NON_EMPTY_GROUP. A topic a live member subscribes to:
//! GROUP_SUBSCRIBED_TO_TOPIC for its partitions. Unknown topics: UNKNOWN_TOPIC_OR_PARTITION.

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse};

use crate::state::{Shared, blocking};

pub(crate) async fn handle(
    s: &Arc<Shared>,
    _version: i16,
    req: OffsetDeleteRequest,
) -> OffsetDeleteResponse {
    let catalog = s.metadata.snapshot();
    let mut unknown = Vec::new();
    let mut known = Vec::new();
    for t in req.topics {
        let ps: Vec<i32> = t.partitions.iter().map(|p| p.partition_index).collect();
        if catalog.by_name.contains_key(&t.name) {
            known.push((t.name, ps));
        } else {
            unknown.push((t.name, ps));
        }
    }
    let s2 = s.clone();
    let group = req.group_id.clone();
    let r = blocking(move || s2.groups.delete_offsets(&s2.metadata, &group, known))
        .await
        .unwrap_or(Err(ErrorCode::UnknownServerError));
    match r {
        Err(e) => OffsetDeleteResponse {
            error_code: e.code(),
            ..Default::default()
        },
        Ok(ts) => {
            let unknown = unknown.into_iter().map(|(t, ps)| {
                (
                    t,
                    ps.into_iter()
                        .map(|p| (p, ErrorCode::UnknownTopicOrPartition))
                        .collect::<Vec<_>>(),
                )
            });
            OffsetDeleteResponse {
                topics: ts
                    .into_iter()
                    .chain(unknown)
                    .map(|(name, ps)| OffsetDeleteResponseTopic {
                        name,
                        partitions: ps
                            .into_iter()
                            .map(|(p, e)| OffsetDeleteResponsePartition {
                                partition_index: p,
                                error_code: e.code(),
                            })
                            .collect(),
                    })
                    .collect(),
                ..Default::default()
            }
        }
    }
}
