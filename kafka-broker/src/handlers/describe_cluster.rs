//! DescribeCluster (key 60), v0-v2.
//!
//! This node as the only broker and the controller. v1+: `endpoint_type` 1 (brokers) only;
//! 2 (controllers) is MISMATCHED_ENDPOINT_TYPE (this is a broker endpoint), others
//! UNSUPPORTED_ENDPOINT_TYPE. v2: fencing flag (never fenced). Authorized operations are not
//! computed (i32::MIN).

use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{DescribeClusterRequest, DescribeClusterResponse};

use crate::state::Shared;

pub(crate) fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let mut r = DescribeClusterResponse {
        cluster_id: s.cluster_id.clone(),
        controller_id: s.node_id,
        ..Default::default()
    };
    if version >= 1 {
        match req.endpoint_type {
            1 => {}
            2 => {
                r.error_code = ErrorCode::MismatchedEndpointType.code();
                r.error_message = Some("The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER".into());
                return r;
            }
            t => {
                r.error_code = ErrorCode::UnsupportedEndpointType.code();
                r.error_message = Some(format!("Unsupported endpoint type {t}"));
                return r;
            }
        }
    }
    r.brokers = vec![DescribeClusterBroker {
        broker_id: s.node_id,
        host: s.advertised_host.clone(),
        port: s.advertised_port,
        rack: None,
        is_fenced: false,
        ..Default::default()
    }];
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handlers::testutil::{round_trip, state};

    #[test]
    fn describes_this_node() {
        let st = state();
        for v in 0..=2 {
            let r = handle(
                &st.shared,
                v,
                DescribeClusterRequest {
                    endpoint_type: 1,
                    ..Default::default()
                },
            );
            assert_eq!(r.error_code, 0);
            assert_eq!(r.brokers.len(), 1);
            round_trip(&r, v);
        }
        let r = handle(
            &st.shared,
            1,
            DescribeClusterRequest {
                endpoint_type: 2,
                ..Default::default()
            },
        );
        assert_eq!(r.error_code, ErrorCode::MismatchedEndpointType.code());
    }
}
