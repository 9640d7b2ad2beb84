//! WriteTxnMarkers (key 27), v1-v2.
//!
//! In Kafka the transaction coordinator sends this to partition leaders; here the coordinator
//! writes markers itself, so the API is served for completeness (tools, tests): each marker is
//! appended to its partitions as a control batch with coordinator origin. Unknown partitions
//! are UNKNOWN_TOPIC_OR_PARTITION; an older producer epoch than the partition's is
//! INVALID_PRODUCER_EPOCH. `__consumer_offsets` partitions also complete the producer's pending
//! transactional offsets. v1+ flexible.

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::write_txn_markers_response::{
    WritableTxnMarkerPartitionResult, WritableTxnMarkerResult, WritableTxnMarkerTopicResult,
};
use kafka_protocol::messages::{WriteTxnMarkersRequest, WriteTxnMarkersResponse};

use crate::state::{Shared, blocking};

pub(crate) async fn handle(
    s: &Arc<Shared>,
    _version: i16,
    req: WriteTxnMarkersRequest,
) -> WriteTxnMarkersResponse {
    let s2 = s.clone();
    blocking(move || {
        let catalog = s2.metadata.snapshot();
        let markers = req
            .markers
            .iter()
            .map(|m| WritableTxnMarkerResult {
                producer_id: m.producer_id,
                topics: m
                    .topics
                    .iter()
                    .map(|t| WritableTxnMarkerTopicResult {
                        name: t.name.clone(),
                        partitions: t
                            .partition_indexes
                            .iter()
                            .map(|p| {
                                let exists = catalog
                                    .by_name
                                    .get(&t.name)
                                    .is_some_and(|topic| topic.partition(*p).is_some());
                                let code = if !exists {
                                    ErrorCode::UnknownTopicOrPartition
                                } else {
                                    let key = [(t.name.clone(), *p)];
                                    match crate::txn::write_markers(
                                        &s2,
                                        m.producer_id,
                                        m.producer_epoch,
                                        m.transaction_result,
                                        key.iter(),
                                    ) {
                                        Ok(()) => ErrorCode::None,
                                        Err(e) => e,
                                    }
                                };
                                WritableTxnMarkerPartitionResult {
                                    partition_index: *p,
                                    error_code: code.code(),
                                    ..Default::default()
                                }
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        WriteTxnMarkersResponse {
            markers,
            ..Default::default()
        }
    })
    .await
    .unwrap_or_default()
}
