//! DescribeProducers (key 61), v0.
//!
//! The producer state of each partition (producer id, epoch, last sequence, last timestamp,
//! coordinator epoch, first offset of the open transaction), as the log's producer state
//! manager holds it; non-idempotent writes leave no state. Unknown partitions are
//! UNKNOWN_TOPIC_OR_PARTITION.

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse};

use crate::state::{Shared, blocking};

pub(crate) async fn handle(
    s: &Arc<Shared>,
    _version: i16,
    req: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let s2 = s.clone();
    blocking(move || {
        let catalog = s2.metadata.snapshot();
        let topics = req
            .topics
            .iter()
            .map(|t| TopicResponse {
                name: t.name.clone(),
                partitions: t
                    .partition_indexes
                    .iter()
                    .map(|p| {
                        let producers = catalog
                            .by_name
                            .get(&t.name)
                            .and_then(|topic| topic.partition(*p))
                            .and_then(|part| part.with_log(|l| l.active_producers()));
                        match producers {
                            None => PartitionResponse {
                                partition_index: *p,
                                error_code: ErrorCode::UnknownTopicOrPartition.code(),
                                ..Default::default()
                            },
                            Some(list) => PartitionResponse {
                                partition_index: *p,
                                active_producers: list
                                    .into_iter()
                                    .map(|i| ProducerState {
                                        producer_id: i.producer_id,
                                        producer_epoch: i32::from(i.producer_epoch),
                                        last_sequence: i.last_sequence,
                                        last_timestamp: i.last_timestamp,
                                        coordinator_epoch: i.coordinator_epoch,
                                        current_txn_start_offset: i.current_txn_start_offset,
                                        ..Default::default()
                                    })
                                    .collect(),
                                ..Default::default()
                            },
                        }
                    })
                    .collect(),
                ..Default::default()
            })
            .collect();
        DescribeProducersResponse {
            topics,
            ..Default::default()
        }
    })
    .await
    .unwrap_or_default()
}
