//! ListOffsets (key 2), v1-v11.
//!
//! Timestamps: -1 latest (high watermark, or last stable offset for read_committed, v2+),
//! -2 earliest (log start), -3 max timestamp (v7+), -4 earliest local (v8+; no tiered
//! storage, so the log start), -5 earliest pending upload (v9+; nothing is uploaded: offset
//! -1), otherwise the first offset whose timestamp is at or after the given one (-1 if none).
//! v4+: leader epoch in the answer and `current_leader_epoch` checked.

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use crate::handlers::check_leader_epoch;
use crate::state::{Shared, blocking};

pub(crate) async fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: ListOffsetsRequest,
) -> ListOffsetsResponse {
    let catalog = s.metadata.snapshot();
    let read_committed = req.isolation_level == 1;
    let topics = blocking(move || {
        req.topics
            .into_iter()
            .map(|t| {
                let topic = catalog.by_name.get(&t.name).cloned();
                let partitions = t
                    .partitions
                    .into_iter()
                    .map(|p| {
                        let mut r = ListOffsetsPartitionResponse {
                            partition_index: p.partition_index,
                            timestamp: -1,
                            offset: -1,
                            leader_epoch: -1,
                            ..Default::default()
                        };
                        let Some(part) =
                            topic.as_ref().and_then(|t| t.partition(p.partition_index))
                        else {
                            r.error_code = ErrorCode::UnknownTopicOrPartition.code();
                            return r;
                        };
                        let e = check_leader_epoch(p.current_leader_epoch);
                        if e != ErrorCode::None {
                            r.error_code = e.code();
                            return r;
                        }
                        let found: Option<Result<Option<(i64, i64)>, ErrorCode>> =
                            part.with_log(|l| match p.timestamp {
                                -1 => {
                                    let o = if read_committed {
                                        l.read(l.high_watermark(), 0, false)
                                            .map(|r| r.last_stable_offset)
                                            .unwrap_or_else(|_| l.high_watermark())
                                    } else {
                                        l.high_watermark()
                                    };
                                    Ok(Some((o, -1)))
                                }
                                -2 | -4 => Ok(Some((l.log_start_offset(), -1))),
                                -3 => Ok(l.max_timestamp().map(|(ts, o)| (o, ts))),
                                -5 => Ok(None),
                                ts => l.offset_for_timestamp(ts).map_err(|e| e.error_code()),
                            });
                        match found {
                            None => r.error_code = ErrorCode::UnknownTopicOrPartition.code(),
                            Some(Err(code)) => r.error_code = code.code(),
                            Some(Ok(None)) => {}
                            Some(Ok(Some((offset, ts)))) => {
                                r.offset = offset;
                                r.timestamp = ts;
                                if version >= 4 {
                                    r.leader_epoch = 0;
                                }
                            }
                        }
                        r
                    })
                    .collect();
                ListOffsetsTopicResponse {
                    name: t.name,
                    partitions,
                    ..Default::default()
                }
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    ListOffsetsResponse {
        topics,
        ..Default::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::handlers::testutil::{round_trip, state};
    use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
    use std::collections::BTreeMap;

    #[tokio::test]
    async fn earliest_latest_and_timestamps() {
        let st = state();
        let s = &st.shared;
        let t = s
            .metadata
            .create_topic("lo", 1, BTreeMap::new(), false)
            .unwrap();
        let mut b = kafka_protocol::records::RecordBatchBuilder::new(0);
        b.append(1000, None, Some(b"a"), &[]).unwrap();
        b.append(2000, None, Some(b"b"), &[]).unwrap();
        t.partitions[0]
            .with_log(|l| l.append(b.build().unwrap(), 0, 0))
            .unwrap()
            .unwrap();
        let q = |ts: i64| ListOffsetsRequest {
            replica_id: -1,
            topics: vec![
                ListOffsetsTopic {
                    name: "lo".into(),
                    partitions: vec![ListOffsetsPartition {
                        partition_index: 0,
                        timestamp: ts,
                        current_leader_epoch: -1,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                ListOffsetsTopic {
                    name: "missing".into(),
                    partitions: vec![ListOffsetsPartition {
                        partition_index: 0,
                        timestamp: ts,
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let r = handle(s, 9, q(-1)).await;
        assert_eq!(r.topics[0].partitions[0].offset, 2);
        assert_eq!(
            r.topics[1].partitions[0].error_code,
            ErrorCode::UnknownTopicOrPartition.code()
        );
        assert_eq!(handle(s, 9, q(-2)).await.topics[0].partitions[0].offset, 0);
        let m = handle(s, 9, q(-3)).await;
        assert_eq!(m.topics[0].partitions[0].timestamp, 2000);
        let none = handle(s, 9, q(5000)).await;
        assert_eq!(none.topics[0].partitions[0].offset, -1);
        for v in 1..=11 {
            round_trip(&handle(s, v, q(-1)).await, v);
        }
    }
}
