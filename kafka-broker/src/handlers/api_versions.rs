//! ApiVersions (key 18), v0-v4.
//!
//! * v0-v2: error code + API list (+ throttle time from v1).
//! * v3+: flexible; the request carries client software name/version, which must match
//!   Kafka's pattern (else INVALID_REQUEST).
//! * A request at a version we do not know is answered by the server with a v0 body, error
//!   UNSUPPORTED_VERSION and the API list, so the client can retry at a version we know.
//!
//! The list advertises exactly the APIs this broker implements, at every version the codec
//! knows (Kafka 4.x minimums), except versions Kafka marks unstable, EndTxn v5 and
//! ListTransactions v2. No finalized features are advertised, in particular not
//! `transaction.version` >= 2, so transactional clients use transaction version 1
//! (AddPartitionsToTxn from the client, one epoch per producer session).

use kafka_protocol::ErrorCode;
use kafka_protocol::VersionRange;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};

/// The APIs this broker serves.
pub(crate) const SUPPORTED: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::ApiVersions,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::DeleteRecords,
    ApiKey::InitProducerId,
    ApiKey::OffsetForLeaderEpoch,
    ApiKey::DescribeConfigs,
    ApiKey::AlterConfigs,
    ApiKey::DescribeLogDirs,
    ApiKey::CreatePartitions,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::DescribeCluster,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::SyncGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::OffsetDelete,
    ApiKey::ListGroups,
    ApiKey::DescribeGroups,
    ApiKey::DeleteGroups,
    ApiKey::ConsumerGroupHeartbeat,
    ApiKey::ConsumerGroupDescribe,
    ApiKey::AddPartitionsToTxn,
    ApiKey::AddOffsetsToTxn,
    ApiKey::EndTxn,
    ApiKey::WriteTxnMarkers,
    ApiKey::TxnOffsetCommit,
    ApiKey::DescribeTransactions,
    ApiKey::ListTransactions,
    ApiKey::DescribeProducers,
];

/// The versions advertised for `api`, if it is served.
pub(crate) fn range(api: ApiKey) -> Option<VersionRange> {
    if !SUPPORTED.contains(&api) {
        return None;
    }
    let mut r = api.versions();
    if api.latest_version_unstable() && r.max > r.min {
        r.max -= 1;
    }
    // Transaction version 2 (KIP-890 part 2) is not served: EndTxn v5 answers with a new
    // epoch per transaction, which only TV2 clients expect; ListTransactions v2 filters by
    // regular expression, which is not implemented.
    match api {
        ApiKey::EndTxn => r.max = r.max.min(4),
        ApiKey::ListTransactions => r.max = r.max.min(1),
        _ => {}
    }
    Some(r)
}

fn api_list() -> Vec<ApiVersion> {
    SUPPORTED
        .iter()
        .filter_map(|a| {
            range(*a).map(|r| ApiVersion {
                api_key: a.key(),
                min_version: r.min,
                max_version: r.max,
                ..Default::default()
            })
        })
        .collect()
}

/// The v0 answer to an ApiVersions request at a version we do not know.
pub(crate) fn unsupported_version() -> ApiVersionsResponse {
    ApiVersionsResponse {
        error_code: ErrorCode::UnsupportedVersion.code(),
        api_keys: api_list(),
        ..Default::default()
    }
}

fn valid_software_field(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'.')
}

pub(crate) fn handle(version: i16, req: ApiVersionsRequest) -> ApiVersionsResponse {
    if version >= 3
        && !(valid_software_field(&req.client_software_name)
            && valid_software_field(&req.client_software_version))
    {
        return ApiVersionsResponse {
            error_code: ErrorCode::InvalidRequest.code(),
            ..Default::default()
        };
    }
    ApiVersionsResponse {
        error_code: 0,
        api_keys: api_list(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testutil::round_trip;

    #[test]
    fn lists_supported_apis_at_every_version() {
        for v in 0..=4 {
            let r = handle(
                v,
                ApiVersionsRequest {
                    client_software_name: "x".into(),
                    client_software_version: "1.0".into(),
                    ..Default::default()
                },
            );
            assert_eq!(r.error_code, 0);
            assert_eq!(r.api_keys.len(), SUPPORTED.len());
            round_trip(&r, v);
        }
        let init = range(ApiKey::InitProducerId);
        assert!(init.is_some_and(|r| r.max < ApiKey::InitProducerId.versions().max));
        assert!(range(ApiKey::JoinGroup).is_some());
        assert!(range(ApiKey::AddPartitionsToTxn).is_some());
        assert_eq!(range(ApiKey::EndTxn).map(|r| r.max), Some(4));
        assert!(range(ApiKey::ShareFetch).is_none());
    }

    #[test]
    fn rejects_bad_software_name_on_v3() {
        let r = handle(3, ApiVersionsRequest::default());
        assert_eq!(r.error_code, ErrorCode::InvalidRequest.code());
        round_trip(&unsupported_version(), 0);
    }
}
