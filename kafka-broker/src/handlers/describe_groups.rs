//! DescribeGroups (key 15), v0-v6.
//!
//! * v1+ throttle time; v3+: authorized operations (not computed: i32::MIN); v4+:
//!   `group_instance_id`; v5+ flexible.
//! * Member metadata and assignments, and the protocol name, only when the group is Stable
//!   (as Kafka).
//! * A group that does not exist, or is not a classic group: v6+ GROUP_ID_NOT_FOUND with a
//!   message; before v6 state `Dead` and no error, as Kafka.

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use crate::state::Shared;

pub(crate) fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let groups = req
        .groups
        .into_iter()
        .map(|id| match s.groups.describe(&id) {
            Ok(d) => DescribedGroup {
                error_code: 0,
                group_id: id,
                group_state: d.state,
                protocol_type: d.protocol_type,
                protocol_data: d.protocol_data,
                members: d
                    .members
                    .into_iter()
                    .map(|m| DescribedGroupMember {
                        member_id: m.member_id,
                        group_instance_id: if version >= 4 { m.instance_id } else { None },
                        client_id: m.client_id,
                        client_host: m.client_host,
                        member_metadata: m.metadata,
                        member_assignment: m.assignment,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            },
            Err(e) if version >= 6 => {
                let is_consumer = s.groups.list(&[], &[]).iter().any(|g| g.group_id == id);
                DescribedGroup {
                    error_code: e.code(),
                    error_message: Some(if is_consumer {
                        format!("Group {id} is not a classic group.")
                    } else {
                        format!("Group {id} not found.")
                    }),
                    group_id: id,
                    group_state: "Dead".into(),
                    ..Default::default()
                }
            }
            Err(_) => DescribedGroup {
                error_code: ErrorCode::None.code(),
                group_id: id,
                group_state: "Dead".into(),
                ..Default::default()
            },
        })
        .collect();
    DescribeGroupsResponse {
        groups,
        ..Default::default()
    }
}
