//! AlterConfigs (key 33), v0-v2: replaces the whole set of overrides of a resource.
//!
//! * TOPIC: the given configs become the topic's overrides (validated; null values are
//!   INVALID_REQUEST); applied to the partition logs at once and persisted.
//! * BROKER ("" or this node): only the broker-level defaults of topic configs
//!   (`log.retention.ms`, `log.segment.bytes`, ...) may change dynamically; they apply to every
//!   topic without an override and are persisted. Other keys: INVALID_REQUEST.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{AlterConfigsRequest, AlterConfigsResponse};

use crate::config::topic_def_for_broker_key;
use crate::handlers::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::metadata::AdminError;
use crate::state::{Shared, blocking};

/// Maps broker keys to topic-config names; errors name keys that cannot change dynamically.
pub(crate) fn broker_key_to_topic(key: &str) -> Result<&'static str, AdminError> {
    topic_def_for_broker_key(key)
        .map(|d| d.name)
        .ok_or_else(|| {
            (
                ErrorCode::InvalidRequest,
                format!("Cannot update these configs dynamically: {key}"),
            )
        })
}

/// Checks that a BROKER resource names this node (or the cluster default "").
pub(crate) fn check_broker_name(s: &Shared, name: &str) -> Result<(), AdminError> {
    if name.is_empty() || name == s.node_id.to_string() {
        Ok(())
    } else {
        Err((
            ErrorCode::InvalidRequest,
            format!("Unexpected broker id, expected {}, got {name}", s.node_id),
        ))
    }
}

pub(crate) async fn handle(
    s: &Arc<Shared>,
    _version: i16,
    req: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let mut responses = Vec::new();
    for r in req.resources {
        let mut map: Result<BTreeMap<String, String>, AdminError> = Ok(BTreeMap::new());
        for c in &r.configs {
            if let Ok(m) = &mut map {
                match &c.value {
                    None => {
                        map = Err((
                            ErrorCode::InvalidRequest,
                            format!("Null value not supported for: {}", c.name),
                        ))
                    }
                    Some(v) => {
                        m.insert(c.name.clone(), v.clone());
                    }
                }
            }
        }
        let s2 = s.clone();
        let (rt, name, vo) = (r.resource_type, r.resource_name.clone(), req.validate_only);
        let outcome = match map {
            Err(e) => Err(e),
            Ok(map) => blocking(move || -> Result<(), AdminError> {
                match rt {
                    RESOURCE_TOPIC => s2.metadata.set_topic_configs(&name, |_| Ok(map), vo),
                    RESOURCE_BROKER => {
                        check_broker_name(&s2, &name)?;
                        let mut topic_map = BTreeMap::new();
                        for (k, v) in map {
                            topic_map.insert(broker_key_to_topic(&k)?.to_string(), v);
                        }
                        s2.metadata.set_dynamic_defaults(|_| Ok(topic_map), vo)
                    }
                    t => Err((
                        ErrorCode::InvalidRequest,
                        format!("Unsupported resource type {t}"),
                    )),
                }
            })
            .await
            .unwrap_or_else(|| Err((ErrorCode::UnknownServerError, "internal error".into()))),
        };
        let (code, message) = match outcome {
            Ok(()) => (ErrorCode::None, None),
            Err((c, m)) => (c, Some(m)),
        };
        responses.push(AlterConfigsResourceResponse {
            error_code: code.code(),
            error_message: message,
            resource_type: r.resource_type,
            resource_name: r.resource_name,
            ..Default::default()
        });
    }
    AlterConfigsResponse {
        responses,
        ..Default::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::handlers::testutil::{round_trip, state};
    use kafka_protocol::messages::alter_configs_request::{AlterConfigsResource, AlterableConfig};

    #[tokio::test]
    async fn replaces_topic_and_broker_configs() {
        let st = state();
        let s = &st.shared;
        s.metadata
            .create_topic("ac", 1, BTreeMap::new(), false)
            .unwrap();
        let res = |t: i8, n: &str, k: &str, v: &str| AlterConfigsResource {
            resource_type: t,
            resource_name: n.into(),
            configs: vec![AlterableConfig {
                name: k.into(),
                value: Some(v.into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let r = handle(
            s,
            2,
            AlterConfigsRequest {
                resources: vec![
                    res(2, "ac", "retention.ms", "99"),
                    res(2, "ac", "retention.ms", "x"),
                    res(4, "", "log.retention.bytes", "1000"),
                    res(4, "", "num.io.threads", "3"),
                ],
                ..Default::default()
            },
        )
        .await;
        let codes: Vec<i16> = r.responses.iter().map(|x| x.error_code).collect();
        assert_eq!(
            codes,
            vec![
                0,
                ErrorCode::InvalidConfig.code(),
                0,
                ErrorCode::InvalidRequest.code()
            ]
        );
        assert_eq!(
            s.metadata.snapshot().by_name["ac"].configs["retention.ms"],
            "99"
        );
        assert_eq!(s.metadata.dynamic_defaults()["retention.bytes"], "1000");
        for v in 0..=2 {
            round_trip(&r, v);
        }
    }
}
