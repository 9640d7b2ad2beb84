//! ConsumerGroupDescribe (key 69), v0-v1 (KIP-848).
//!
//! Group epoch, assignment epoch, assignor, and per member its epoch, subscription, current
//! and target assignment. A group that does not exist or is a classic group:
//! GROUP_ID_NOT_FOUND. Authorized operations are not computed (i32::MIN).

use std::sync::Arc;

use kafka_protocol::messages::consumer_group_describe_response::DescribedGroup;
use kafka_protocol::messages::{ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse};

use crate::state::Shared;

pub(crate) fn handle(
    s: &Arc<Shared>,
    _version: i16,
    req: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    ConsumerGroupDescribeResponse {
        groups: req
            .group_ids
            .into_iter()
            .map(|id| match s.groups.describe_consumer(&s.metadata, &id) {
                Ok(d) => d,
                Err(e) => DescribedGroup {
                    error_code: e.code(),
                    error_message: Some(format!("Group {id} is not a consumer group.")),
                    group_id: id,
                    ..Default::default()
                },
            })
            .collect(),
        ..Default::default()
    }
}
