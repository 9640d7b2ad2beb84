//! JoinGroup (key 11), v0-v9.
//!
//! * v0: no rebalance timeout (the session timeout is used); v1+: `rebalance_timeout_ms`.
//! * v4+: a new dynamic member first gets MEMBER_ID_REQUIRED with its member id (KIP-394).
//! * v5+: `group_instance_id` (static membership, KIP-345); v6+ flexible; v7+: protocol type
//!   and name in the response; v8+: reason; v9+: `skip_assignment` (a static leader rejoining a
//!   stable group).
//!
//! The answer may be delayed until the join phase completes (all members joined, or the
//! rebalance timeout / initial delay passed); later requests on the same connection wait
//! behind it, as in Kafka.

use std::net::SocketAddr;
use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse, RequestHeader};

use crate::group::classic::{JoinOutcome, JoinParams};
use crate::group::wait;
use crate::state::Shared;

pub(crate) async fn handle(
    s: &Arc<Shared>,
    h: &RequestHeader,
    peer: SocketAddr,
    version: i16,
    req: JoinGroupRequest,
) -> JoinGroupResponse {
    let params = JoinParams {
        member_id: req.member_id.clone(),
        instance_id: if version >= 5 {
            req.group_instance_id
        } else {
            None
        },
        protocol_type: req.protocol_type,
        protocols: req
            .protocols
            .into_iter()
            .map(|p| (p.name, p.metadata))
            .collect(),
        session_timeout_ms: req.session_timeout_ms,
        rebalance_timeout_ms: if version >= 1 {
            req.rebalance_timeout_ms
        } else {
            req.session_timeout_ms
        },
        client_id: h.client_id.clone().unwrap_or_default(),
        client_host: format!("/{}", peer.ip()),
        require_known_member_id: version >= 4,
    };
    let member_id = req.member_id;
    let reply = s.groups.join(&s.metadata, &req.group_id, params);
    let o = wait(s, reply, || {
        JoinOutcome::error(ErrorCode::NotCoordinator, &member_id)
    })
    .await;
    let protocol_name = if version >= 7 {
        o.protocol_name
    } else {
        Some(o.protocol_name.unwrap_or_default())
    };
    JoinGroupResponse {
        error_code: o.error.code(),
        generation_id: o.generation_id,
        protocol_type: if version >= 7 { o.protocol_type } else { None },
        protocol_name,
        leader: o.leader,
        skip_assignment: version >= 9 && o.skip_assignment,
        member_id: o.member_id,
        members: o
            .members
            .into_iter()
            .map(|m| JoinGroupResponseMember {
                member_id: m.member_id,
                group_instance_id: if version >= 5 { m.instance_id } else { None },
                metadata: m.metadata,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
