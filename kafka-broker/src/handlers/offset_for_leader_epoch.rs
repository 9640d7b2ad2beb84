//! OffsetForLeaderEpoch (key 23), v2-v4.
//!
//! The end offset of the largest leader epoch <= the requested one, from the log's epoch
//! cache. `current_leader_epoch` is checked (-1 skips). v3+: replica id (ignored).

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};

use crate::handlers::check_leader_epoch;
use crate::state::{Shared, blocking};

pub(crate) async fn handle(
    s: &Arc<Shared>,
    _version: i16,
    req: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let catalog = s.metadata.snapshot();
    let topics = blocking(move || {
        req.topics
            .into_iter()
            .map(|t| {
                let topic = catalog.by_name.get(&t.topic).cloned();
                OffsetForLeaderTopicResult {
                    partitions: t
                        .partitions
                        .into_iter()
                        .map(|p| {
                            let mut r = EpochEndOffset {
                                partition: p.partition,
                                leader_epoch: -1,
                                end_offset: -1,
                                ..Default::default()
                            };
                            let Some(part) = topic.as_ref().and_then(|t| t.partition(p.partition))
                            else {
                                r.error_code = ErrorCode::UnknownTopicOrPartition.code();
                                return r;
                            };
                            let e = check_leader_epoch(p.current_leader_epoch);
                            if e != ErrorCode::None {
                                r.error_code = e.code();
                                return r;
                            }
                            match part.with_log(|l| l.end_offset_for_epoch(p.leader_epoch)) {
                                Some((epoch, end)) => {
                                    r.leader_epoch = epoch;
                                    r.end_offset = end;
                                }
                                None => r.error_code = ErrorCode::UnknownTopicOrPartition.code(),
                            }
                            r
                        })
                        .collect(),
                    topic: t.topic,
                    ..Default::default()
                }
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    OffsetForLeaderEpochResponse {
        topics,
        ..Default::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::handlers::testutil::{round_trip, state};
    use kafka_protocol::messages::offset_for_leader_epoch_request::{
        OffsetForLeaderPartition, OffsetForLeaderTopic,
    };
    use std::collections::BTreeMap;

    #[tokio::test]
    async fn answers_epoch_end() {
        let st = state();
        let s = &st.shared;
        s.metadata
            .create_topic("oe", 1, BTreeMap::new(), false)
            .unwrap();
        let req = OffsetForLeaderEpochRequest {
            replica_id: -1,
            topics: vec![OffsetForLeaderTopic {
                topic: "oe".into(),
                partitions: vec![
                    OffsetForLeaderPartition {
                        partition: 0,
                        current_leader_epoch: -1,
                        leader_epoch: 0,
                        ..Default::default()
                    },
                    OffsetForLeaderPartition {
                        partition: 0,
                        current_leader_epoch: 7,
                        leader_epoch: 0,
                        ..Default::default()
                    },
                    OffsetForLeaderPartition {
                        partition: 3,
                        current_leader_epoch: -1,
                        leader_epoch: 0,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        };
        let r = handle(s, 4, req).await;
        let ps = &r.topics[0].partitions;
        assert_eq!(ps[0].error_code, 0);
        assert_eq!(ps[1].error_code, ErrorCode::UnknownLeaderEpoch.code());
        assert_eq!(ps[2].error_code, ErrorCode::UnknownTopicOrPartition.code());
        for v in 2..=4 {
            round_trip(&r, v);
        }
    }
}
