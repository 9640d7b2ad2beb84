//! Heartbeat (key 12), v0-v4.
//!
//! * v1+: throttle time; v3+: `group_instance_id`; v4+ flexible.
//! * REBALANCE_IN_PROGRESS while the group prepares a rebalance (the member must rejoin);
//!   ILLEGAL_GENERATION for a stale generation; UNKNOWN_MEMBER_ID for a member the group does
//!   not know; FENCED_INSTANCE_ID for a replaced static member.

use std::sync::Arc;

use kafka_protocol::messages::{HeartbeatRequest, HeartbeatResponse};

use crate::state::Shared;

pub(crate) fn handle(s: &Arc<Shared>, version: i16, req: HeartbeatRequest) -> HeartbeatResponse {
    let instance = if version >= 3 {
        req.group_instance_id.as_deref()
    } else {
        None
    };
    let e = s
        .groups
        .heartbeat(&req.group_id, &req.member_id, instance, req.generation_id);
    HeartbeatResponse {
        error_code: e.code(),
        ..Default::default()
    }
}
