//! DeleteRecords (key 21), v0-v2.
//!
//! Moves each partition's log start offset up to the given offset (-1: the high watermark);
//! answers the new low watermark. Offsets above the high watermark are OFFSET_OUT_OF_RANGE.

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use crate::state::{Shared, blocking};

pub(crate) async fn handle(
    s: &Arc<Shared>,
    _version: i16,
    req: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let catalog = s.metadata.snapshot();
    let topics = blocking(move || {
        req.topics
            .into_iter()
            .map(|t| {
                let topic = catalog.by_name.get(&t.name).cloned();
                DeleteRecordsTopicResult {
                    partitions: t
                        .partitions
                        .into_iter()
                        .map(|p| {
                            let outcome = topic
                                .as_ref()
                                .and_then(|t| t.partition(p.partition_index))
                                .and_then(|part| {
                                    part.with_log(|l| {
                                        let target = if p.offset == -1 {
                                            l.high_watermark()
                                        } else {
                                            p.offset
                                        };
                                        if target < 0 || target > l.high_watermark() {
                                            return Err(ErrorCode::OffsetOutOfRange);
                                        }
                                        l.delete_records_before(target).map_err(|e| e.error_code())
                                    })
                                })
                                .unwrap_or(Err(ErrorCode::UnknownTopicOrPartition));
                            let (low, code) = match outcome {
                                Ok(low) => (low, ErrorCode::None),
                                Err(c) => (-1, c),
                            };
                            DeleteRecordsPartitionResult {
                                partition_index: p.partition_index,
                                low_watermark: low,
                                error_code: code.code(),
                                ..Default::default()
                            }
                        })
                        .collect(),
                    name: t.name,
                    ..Default::default()
                }
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    DeleteRecordsResponse {
        topics,
        ..Default::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::handlers::testutil::{round_trip, state};
    use kafka_protocol::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    use std::collections::BTreeMap;

    #[tokio::test]
    async fn moves_log_start() {
        let st = state();
        let s = &st.shared;
        let t = s
            .metadata
            .create_topic("dr", 1, BTreeMap::new(), false)
            .unwrap();
        let mut b = kafka_protocol::records::RecordBatchBuilder::new(0);
        for i in 0..5 {
            b.append(i, None, Some(b"x"), &[]).unwrap();
        }
        t.partitions[0]
            .with_log(|l| l.append(b.build().unwrap(), 0, 0))
            .unwrap()
            .unwrap();
        let req = |o| DeleteRecordsRequest {
            topics: vec![DeleteRecordsTopic {
                name: "dr".into(),
                partitions: vec![DeleteRecordsPartition {
                    partition_index: 0,
                    offset: o,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let r = handle(s, 2, req(3)).await;
        assert_eq!(r.topics[0].partitions[0].low_watermark, 3);
        let r = handle(s, 2, req(99)).await;
        assert_eq!(
            r.topics[0].partitions[0].error_code,
            ErrorCode::OffsetOutOfRange.code()
        );
        let r = handle(s, 2, req(-1)).await;
        assert_eq!(r.topics[0].partitions[0].low_watermark, 5);
        for v in 0..=2 {
            round_trip(&r, v);
        }
    }
}
