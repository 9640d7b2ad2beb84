//! LeaveGroup (key 13), v0-v5.
//!
//! * v0-v2: one `member_id`, the error is top-level.
//! * v3+: a batch of members (by member id and/or `group_instance_id`), an error per member
//!   and a top-level error for group-level failures; v4+ flexible; v5+: reason per member.

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use crate::state::{Shared, blocking};

pub(crate) async fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: LeaveGroupRequest,
) -> LeaveGroupResponse {
    let members: Vec<(String, Option<String>)> = if version >= 3 {
        req.members
            .iter()
            .map(|m| (m.member_id.clone(), m.group_instance_id.clone()))
            .collect()
    } else {
        vec![(req.member_id.clone(), None)]
    };
    let s2 = s.clone();
    let group = req.group_id.clone();
    let m2 = members.clone();
    let r = blocking(move || s2.groups.leave(&s2.metadata, &group, &m2))
        .await
        .unwrap_or(Err(ErrorCode::UnknownServerError));
    match r {
        Err(e) => LeaveGroupResponse {
            error_code: e.code(),
            ..Default::default()
        },
        Ok(errors) if version < 3 => LeaveGroupResponse {
            error_code: errors.first().copied().unwrap_or(ErrorCode::None).code(),
            ..Default::default()
        },
        Ok(errors) => LeaveGroupResponse {
            error_code: 0,
            members: members
                .into_iter()
                .zip(errors)
                .map(|((member_id, group_instance_id), e)| MemberResponse {
                    member_id,
                    group_instance_id,
                    error_code: e.code(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        },
    }
}
