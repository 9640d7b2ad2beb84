//! SyncGroup (key 14), v0-v5.
//!
//! * v3+: `group_instance_id`; v4+ flexible; v5+: protocol type and name, checked against the
//!   group's (INCONSISTENT_GROUP_PROTOCOL) and echoed in the response.
//!
//! A follower's answer waits for the leader's SyncGroup (delayed like JoinGroup).

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use crate::group::classic::SyncOutcome;
use crate::group::wait;
use crate::state::Shared;

pub(crate) async fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: SyncGroupRequest,
) -> SyncGroupResponse {
    let (pt, pn) = if version >= 5 {
        (req.protocol_type.as_deref(), req.protocol_name.as_deref())
    } else {
        (None, None)
    };
    let reply = s.groups.sync(
        &s.metadata,
        &req.group_id,
        &req.member_id,
        if version >= 3 {
            req.group_instance_id.as_deref()
        } else {
            None
        },
        req.generation_id,
        pt,
        pn,
        req.assignments
            .into_iter()
            .map(|a| (a.member_id, a.assignment))
            .collect(),
    );
    let o = wait(s, reply, || SyncOutcome {
        error: ErrorCode::NotCoordinator,
        protocol_type: None,
        protocol_name: None,
        assignment: Bytes::new(),
    })
    .await;
    SyncGroupResponse {
        error_code: o.error.code(),
        protocol_type: if version >= 5 { o.protocol_type } else { None },
        protocol_name: if version >= 5 { o.protocol_name } else { None },
        assignment: o.assignment,
        ..Default::default()
    }
}
