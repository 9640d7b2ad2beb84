//! ListGroups (key 16), v0-v5.
//!
//! * v3+ flexible; v4+: `states_filter` and `group_state`; v5+: `types_filter` (`classic`,
//!   `consumer`) and `group_type`. Filters are case-insensitive; an empty filter matches all.
//! * Classic groups list their protocol type (`""` for simple offset-only groups); consumer
//!   groups `consumer`.

use std::sync::Arc;

use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{ListGroupsRequest, ListGroupsResponse};

use crate::state::Shared;

pub(crate) fn handle(s: &Arc<Shared>, version: i16, req: ListGroupsRequest) -> ListGroupsResponse {
    let states = if version >= 4 {
        req.states_filter
    } else {
        Vec::new()
    };
    let types = if version >= 5 {
        req.types_filter
    } else {
        Vec::new()
    };
    ListGroupsResponse {
        groups: s
            .groups
            .list(&states, &types)
            .into_iter()
            .map(|g| ListedGroup {
                group_id: g.group_id,
                protocol_type: g.protocol_type,
                group_state: if version >= 4 { g.state } else { String::new() },
                group_type: if version >= 5 {
                    g.group_type
                } else {
                    String::new()
                },
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
