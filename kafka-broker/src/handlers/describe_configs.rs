//! DescribeConfigs (key 32), v1-v4.
//!
//! * TOPIC (2): every known topic config with its effective value and source
//!   (1 topic override, 3 dynamic broker default, 4 static broker config, 5 default).
//! * BROKER (4), name "" or this node's id: the broker keys this broker uses, and the
//!   broker-level defaults of topic configs (`log.retention.ms`, ...).
//! * v1+: synonyms when asked; v3+: config type and documentation when asked.
//! * Other resource types: INVALID_REQUEST.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::ErrorCode;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{DescribeConfigsRequest, DescribeConfigsResponse};

use crate::config::{Kind, TOPIC_CONFIGS, TopicConfigDef};
use crate::state::Shared;

pub(crate) const RESOURCE_TOPIC: i8 = 2;
pub(crate) const RESOURCE_BROKER: i8 = 4;

/// One described config.
pub(crate) struct Entry {
    pub(crate) name: &'static str,
    pub(crate) value: String,
    pub(crate) source: i8,
    pub(crate) read_only: bool,
    pub(crate) kind: Kind,
    pub(crate) doc: &'static str,
    pub(crate) synonyms: Vec<(&'static str, String, i8)>,
}

/// The effective topic configs for these overrides.
pub(crate) fn topic_entries(s: &Shared, overrides: &BTreeMap<String, String>) -> Vec<Entry> {
    let dynamic = s.metadata.dynamic_defaults();
    TOPIC_CONFIGS
        .iter()
        .map(|d| {
            let (value, source) = s.metadata.effective(overrides, &dynamic, d.name);
            Entry {
                name: d.name,
                value,
                source,
                read_only: false,
                kind: d.kind,
                doc: d.doc,
                synonyms: synonyms(s, d, overrides, &dynamic),
            }
        })
        .collect()
}

fn synonyms(
    s: &Shared,
    d: &TopicConfigDef,
    overrides: &BTreeMap<String, String>,
    dynamic: &BTreeMap<String, String>,
) -> Vec<(&'static str, String, i8)> {
    let mut out = Vec::new();
    if let Some(v) = overrides.get(d.name) {
        out.push((d.name, v.clone(), 1));
    }
    let bk = d.broker_key.unwrap_or(d.name);
    if let Some(v) = dynamic.get(d.name) {
        out.push((bk, v.clone(), 3));
    }
    if let Some(v) = s.metadata.static_defaults().get(d.name) {
        out.push((bk, v.clone(), 4));
    }
    out.push((bk, d.default.to_string(), 5));
    out
}

/// The broker resource's configs.
pub(crate) fn broker_entries(s: &Shared) -> Vec<Entry> {
    let fixed = |name: &'static str, value: String, kind: Kind, doc: &'static str| Entry {
        name,
        value,
        source: 4,
        read_only: true,
        kind,
        doc,
        synonyms: Vec::new(),
    };
    let mut out = vec![
        fixed(
            "node.id",
            s.node_id.to_string(),
            Kind::Int { min: 0 },
            "This broker's id.",
        ),
        fixed(
            "broker.id",
            s.node_id.to_string(),
            Kind::Int { min: 0 },
            "Same as node.id.",
        ),
        fixed(
            "listeners",
            format!("PLAINTEXT://{}", s.config.listener),
            Kind::List(&[]),
            "The client listener.",
        ),
        fixed(
            "advertised.listeners",
            format!("PLAINTEXT://{}:{}", s.advertised_host, s.advertised_port),
            Kind::List(&[]),
            "The address given to clients.",
        ),
        fixed(
            "log.dirs",
            s.data_dir.display().to_string(),
            Kind::Str,
            "The data directory.",
        ),
        fixed(
            "num.partitions",
            s.config.num_partitions.to_string(),
            Kind::Int { min: 1 },
            "Default partition count of new topics.",
        ),
        fixed(
            "default.replication.factor",
            "1".into(),
            Kind::Int { min: 1 },
            "Always 1 on a single node.",
        ),
        fixed(
            "auto.create.topics.enable",
            s.config.auto_create_topics.to_string(),
            Kind::Bool,
            "Create unknown topics on Metadata requests.",
        ),
        fixed(
            "socket.request.max.bytes",
            s.config.socket_request_max_bytes.to_string(),
            Kind::Int { min: 1024 },
            "Largest request accepted.",
        ),
        fixed(
            "log.retention.check.interval.ms",
            s.config.maintenance_interval.as_millis().to_string(),
            Kind::Long { min: 1 },
            "How often logs run retention and compaction.",
        ),
    ];
    let dynamic = s.metadata.dynamic_defaults();
    let none = BTreeMap::new();
    for d in TOPIC_CONFIGS {
        let Some(bk) = d.broker_key else { continue };
        if out.iter().any(|e| e.name == bk) {
            continue;
        }
        let (value, source) = s.metadata.effective(&none, &dynamic, d.name);
        out.push(Entry {
            name: bk,
            value,
            source,
            read_only: false,
            kind: d.kind,
            doc: d.doc,
            synonyms: synonyms(s, d, &none, &dynamic),
        });
    }
    out
}

pub(crate) fn handle(
    s: &Arc<Shared>,
    version: i16,
    req: DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let catalog = s.metadata.snapshot();
    let results = req
        .resources
        .into_iter()
        .map(|r| {
            let mut res = DescribeConfigsResult {
                resource_type: r.resource_type,
                resource_name: r.resource_name.clone(),
                ..Default::default()
            };
            let entries = match r.resource_type {
                RESOURCE_TOPIC => match catalog.by_name.get(&r.resource_name) {
                    Some(t) => Ok(topic_entries(s, &t.configs)),
                    None => Err((
                        ErrorCode::UnknownTopicOrPartition,
                        format!("Topic '{}' does not exist.", r.resource_name),
                    )),
                },
                RESOURCE_BROKER => {
                    if r.resource_name.is_empty() || r.resource_name == s.node_id.to_string() {
                        Ok(broker_entries(s))
                    } else {
                        Err((
                            ErrorCode::InvalidRequest,
                            format!(
                                "Unexpected broker id, expected {}, got {}",
                                s.node_id, r.resource_name
                            ),
                        ))
                    }
                }
                t => Err((
                    ErrorCode::InvalidRequest,
                    format!("Unsupported resource type {t}"),
                )),
            };
            match entries {
                Err((code, m)) => {
                    res.error_code = code.code();
                    res.error_message = Some(m);
                }
                Ok(entries) => {
                    res.configs = entries
                        .into_iter()
                        .filter(|e| {
                            r.configuration_keys
                                .as_ref()
                                .is_none_or(|keys| keys.iter().any(|k| k == e.name))
                        })
                        .map(|e| DescribeConfigsResourceResult {
                            name: e.name.to_string(),
                            value: Some(e.value),
                            read_only: e.read_only,
                            config_source: e.source,
                            is_sensitive: false,
                            synonyms: if req.include_synonyms {
                                e.synonyms
                                    .into_iter()
                                    .map(|(n, v, src)| DescribeConfigsSynonym {
                                        name: n.to_string(),
                                        value: Some(v),
                                        source: src,
                                        ..Default::default()
                                    })
                                    .collect()
                            } else {
                                Vec::new()
                            },
                            config_type: if version >= 3 {
                                e.kind.config_type()
                            } else {
                                0
                            },
                            documentation: (version >= 3 && req.include_documentation)
                                .then(|| e.doc.to_string()),
                            ..Default::default()
                        })
                        .collect();
                }
            }
            res
        })
        .collect();
    DescribeConfigsResponse {
        results,
        ..Default::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::handlers::testutil::{round_trip, state};
    use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;

    #[tokio::test]
    async fn describes_topic_and_broker() {
        let st = state();
        let s = &st.shared;
        let mut cfg = BTreeMap::new();
        cfg.insert("retention.ms".to_string(), "1234".to_string());
        s.metadata.create_topic("dc", 1, cfg, false).unwrap();
        let req = DescribeConfigsRequest {
            resources: vec![
                DescribeConfigsResource {
                    resource_type: 2,
                    resource_name: "dc".into(),
                    configuration_keys: None,
                    ..Default::default()
                },
                DescribeConfigsResource {
                    resource_type: 2,
                    resource_name: "nope".into(),
                    configuration_keys: None,
                    ..Default::default()
                },
                DescribeConfigsResource {
                    resource_type: 4,
                    resource_name: "1".into(),
                    configuration_keys: Some(vec!["log.retention.ms".into()]),
                    ..Default::default()
                },
            ],
            include_synonyms: true,
            include_documentation: true,
            ..Default::default()
        };
        let r = handle(s, 4, req.clone());
        let ret = r.results[0]
            .configs
            .iter()
            .find(|c| c.name == "retention.ms")
            .unwrap();
        assert_eq!(ret.value.as_deref(), Some("1234"));
        assert_eq!(ret.config_source, 1);
        assert_eq!(
            r.results[1].error_code,
            ErrorCode::UnknownTopicOrPartition.code()
        );
        assert_eq!(r.results[2].configs.len(), 1);
        for v in 1..=4 {
            round_trip(&handle(s, v, req.clone()), v);
        }
    }
}
