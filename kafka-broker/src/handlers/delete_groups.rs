//! DeleteGroups (key 42), v0-v2.
//!
//! * v2+ flexible. Per group: GROUP_ID_NOT_FOUND when unknown, NON_EMPTY_GROUP while it has
//!   members; otherwise tombstones for its offsets and metadata are written and it is gone.

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use crate::state::{Shared, blocking};

pub(crate) async fn handle(
    s: &Arc<Shared>,
    _version: i16,
    req: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let ids = req.groups_names;
    let s2 = s.clone();
    let ids2 = ids.clone();
    let errors = blocking(move || s2.groups.delete_groups(&s2.metadata, &ids2))
        .await
        .unwrap_or_else(|| vec![ErrorCode::UnknownServerError; ids.len()]);
    DeleteGroupsResponse {
        results: ids
            .into_iter()
            .zip(errors)
            .map(|(group_id, e)| DeletableGroupResult {
                group_id,
                error_code: e.code(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
