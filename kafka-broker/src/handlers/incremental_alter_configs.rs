//! IncrementalAlterConfigs (key 44), v0-v1: SET (0), DELETE (1), APPEND (2) and SUBTRACT (3)
//! on individual configs of a TOPIC or BROKER resource (see [`super::alter_configs`] for what
//! a BROKER resource may change). APPEND/SUBTRACT apply to list configs only (INVALID_CONFIG
//! otherwise); duplicate keys in one resource are INVALID_REQUEST.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::incremental_alter_configs_request::AlterableConfig;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse};

use crate::config::{Kind, topic_def};
use crate::handlers::alter_configs::{broker_key_to_topic, check_broker_name};
use crate::handlers::describe_configs::{RESOURCE_BROKER, RESOURCE_TOPIC};
use crate::metadata::AdminError;
use crate::state::{Shared, blocking};

/// Applies the operations (keys already mapped to topic-config names) to `current`;
/// `effective` gives the value in force for APPEND/SUBTRACT.
fn apply(
    current: &BTreeMap<String, String>,
    ops: &[(String, i8, Option<String>)],
    effective: &dyn Fn(&str) -> String,
) -> Result<BTreeMap<String, String>, AdminError> {
    let mut out = current.clone();
    for (name, op, value) in ops {
        let def = topic_def(name).ok_or_else(|| {
            (
                ErrorCode::InvalidConfig,
                format!("Unknown topic config name: {name}"),
            )
        })?;
        let is_list = matches!(def.kind, Kind::List(_));
        match op {
            0 => {
                let v = value.clone().ok_or_else(|| {
                    (
                        ErrorCode::InvalidRequest,
                        format!("Null value not supported for: {name}"),
                    )
                })?;
                out.insert(name.clone(), v);
            }
            1 => {
                out.remove(name);
            }
            2 | 3 => {
                if !is_list {
                    return Err((
                        ErrorCode::InvalidConfig,
                        format!(
                            "Config value append/subtract is not allowed for config key {name} because its type is not LIST"
                        ),
                    ));
                }
                let cur = out.get(name).cloned().unwrap_or_else(|| effective(name));
                let mut items: Vec<String> = cur
                    .split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect();
                let given: Vec<String> = value
                    .as_deref()
                    .unwrap_or("")
                    .split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect();
                if *op == 2 {
                    for g in given {
                        if !items.contains(&g) {
                            items.push(g);
                        }
                    }
                } else {
                    items.retain(|i| !given.contains(i));
                }
                out.insert(name.clone(), items.join(","));
            }
            o => {
                return Err((
                    ErrorCode::InvalidRequest,
                    format!("Unknown config operation {o}"),
                ));
            }
        }
    }
    Ok(out)
}

fn ops_of(configs: &[AlterableConfig]) -> Result<Vec<(String, i8, Option<String>)>, AdminError> {
    let mut seen = HashSet::new();
    for c in configs {
        if !seen.insert(c.name.as_str()) {
            return Err((
                ErrorCode::InvalidRequest,
                format!("Error due to duplicate config keys: {}", c.name),
            ));
        }
    }
    Ok(configs
        .iter()
        .map(|c| (c.name.clone(), c.config_operation, c.value.clone()))
        .collect())
}

pub(crate) async fn handle(
    s: &Arc<Shared>,
    _version: i16,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::new();
    for r in req.resources {
        let s2 = s.clone();
        let (rt, name, vo) = (r.resource_type, r.resource_name.clone(), req.validate_only);
        let ops = ops_of(&r.configs);
        let outcome = match ops {
            Err(e) => Err(e),
            Ok(ops) => blocking(move || -> Result<(), AdminError> {
                match rt {
                    RESOURCE_TOPIC => {
                        let dynamic = s2.metadata.dynamic_defaults();
                        let none = BTreeMap::new();
                        let eff = |k: &str| s2.metadata.effective(&none, &dynamic, k).0;
                        s2.metadata
                            .set_topic_configs(&name, |cur| apply(cur, &ops, &eff), vo)
                    }
                    RESOURCE_BROKER => {
                        check_broker_name(&s2, &name)?;
                        let mut mapped = Vec::new();
                        for (k, op, v) in ops {
                            mapped.push((broker_key_to_topic(&k)?.to_string(), op, v));
                        }
                        let none = BTreeMap::new();
                        let stat = s2.metadata.static_defaults().clone();
                        let eff = |k: &str| s2.metadata.effective(&none, &stat, k).0;
                        s2.metadata
                            .set_dynamic_defaults(|cur| apply(cur, &mapped, &eff), vo)
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
    IncrementalAlterConfigsResponse {
        responses,
        ..Default::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::handlers::testutil::{round_trip, state};
    use kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;

    #[tokio::test]
    async fn set_delete_append() {
        let st = state();
        let s = &st.shared;
        s.metadata
            .create_topic("ia", 1, BTreeMap::new(), false)
            .unwrap();
        let op = |k: &str, o: i8, v: Option<&str>| AlterableConfig {
            name: k.into(),
            config_operation: o,
            value: v.map(String::from),
            ..Default::default()
        };
        let req = |configs| IncrementalAlterConfigsRequest {
            resources: vec![AlterConfigsResource {
                resource_type: 2,
                resource_name: "ia".into(),
                configs,
                ..Default::default()
            }],
            ..Default::default()
        };
        let r = handle(
            s,
            1,
            req(vec![
                op("retention.ms", 0, Some("5")),
                op("cleanup.policy", 2, Some("compact")),
            ]),
        )
        .await;
        assert_eq!(
            r.responses[0].error_code, 0,
            "{:?}",
            r.responses[0].error_message
        );
        let t = s.metadata.snapshot().by_name["ia"].configs.clone();
        assert_eq!(t["retention.ms"], "5");
        assert_eq!(t["cleanup.policy"], "delete,compact");
        let r = handle(s, 1, req(vec![op("retention.ms", 1, None)])).await;
        assert_eq!(r.responses[0].error_code, 0);
        assert!(
            !s.metadata.snapshot().by_name["ia"]
                .configs
                .contains_key("retention.ms")
        );
        let r = handle(s, 1, req(vec![op("retention.ms", 2, Some("1"))])).await;
        assert_eq!(r.responses[0].error_code, ErrorCode::InvalidConfig.code());
        for v in 0..=1 {
            round_trip(&r, v);
        }
    }
}
