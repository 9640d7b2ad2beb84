//! Configs: describe (synonyms, documentation), alter (legacy), incremental alter.

use std::collections::BTreeMap;

use kafka_client::Target;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::{
    AlterConfigsRequest, DescribeConfigsRequest, IncrementalAlterConfigsRequest,
    alter_configs_request, incremental_alter_configs_request,
};
use tokio::time::Instant;

use crate::client::{AdminClient, options};
use crate::error::{AdminError, Result, check};
use crate::topics::{all_ok, fill_missing};
use crate::types::{ConfigResource, ConfigResourceType, wire_enum};

wire_enum!(
    /// Where a config value comes from.
    ConfigSource: i8 {
        /// Set dynamically on the topic.
        DynamicTopicConfig = 1,
        /// Set dynamically on this broker.
        DynamicBrokerConfig = 2,
        /// Set dynamically as the cluster-wide broker default.
        DynamicDefaultBrokerConfig = 3,
        /// From the broker's `server.properties`.
        StaticBrokerConfig = 4,
        /// Kafka's default.
        DefaultConfig = 5,
        /// A dynamic broker logger level.
        DynamicBrokerLoggerConfig = 6,
        /// Client metrics subscription config.
        DynamicClientMetricsConfig = 7,
        /// Group config.
        DynamicGroupConfig = 8,
    }
);

wire_enum!(
    /// The type of a config value (DescribeConfigs v3+).
    ConfigType: i8 {
        /// Boolean.
        Boolean = 1,
        /// String.
        String = 2,
        /// Int.
        Int = 3,
        /// Short.
        Short = 4,
        /// Long.
        Long = 5,
        /// Double.
        Double = 6,
        /// List.
        List = 7,
        /// Class.
        Class = 8,
        /// Password.
        Password = 9,
    }
);

/// A synonym of a config (the value from another source, in precedence order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSynonym {
    /// Name (may differ from the config's: broker defaults use `log.` names).
    pub name: String,
    /// Value (None when sensitive).
    pub value: Option<String>,
    /// Source.
    pub source: ConfigSource,
}

/// One config entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    /// Name.
    pub name: String,
    /// Value (None when sensitive or unset).
    pub value: Option<String>,
    /// Source.
    pub source: ConfigSource,
    /// Read-only.
    pub read_only: bool,
    /// Sensitive (value hidden).
    pub sensitive: bool,
    /// Synonyms, when asked for.
    pub synonyms: Vec<ConfigSynonym>,
    /// Type (DescribeConfigs v3+; `Unknown(0)` otherwise).
    pub config_type: ConfigType,
    /// Documentation, when asked for (v3+).
    pub documentation: Option<String>,
}

/// Per-resource results of [`AdminClient::describe_configs`]: config name → entry.
#[derive(Debug, Clone)]
pub struct DescribeConfigsResult {
    /// One result per requested resource.
    pub per_resource: BTreeMap<ConfigResource, Result<BTreeMap<String, ConfigEntry>>>,
}
all_ok!(DescribeConfigsResult, per_resource);

/// Per-resource results of the alter calls.
#[derive(Debug, Clone)]
pub struct AlterConfigsResult {
    /// One result per requested resource.
    pub per_resource: BTreeMap<ConfigResource, Result<()>>,
}
all_ok!(AlterConfigsResult, per_resource);

options!(
    /// Options of [`AdminClient::describe_configs`].
    DescribeConfigsOptions {
        /// Include synonyms (v1+).
        include_synonyms: bool = false,
        /// Include documentation (v3+).
        include_documentation: bool = false,
    }
);
options!(
    /// Options of [`AdminClient::alter_configs`] and [`AdminClient::incremental_alter_configs`].
    AlterConfigsOptions {
        /// Only validate.
        validate_only: bool = false,
    }
);

/// The operation of an incremental config change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlterConfigOpType {
    /// Set the value.
    Set,
    /// Remove the override (back to the default).
    Delete,
    /// Append to a list config.
    Append,
    /// Remove from a list config.
    Subtract,
}

/// One incremental config change.
///
/// ```
/// use kafka_admin::AlterConfigOp;
/// let ops = [AlterConfigOp::set("retention.ms", "60000"), AlterConfigOp::delete("cleanup.policy")];
/// assert_eq!(ops[1].value, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterConfigOp {
    /// Config name.
    pub name: String,
    /// Operation.
    pub op: AlterConfigOpType,
    /// Value (None for delete).
    pub value: Option<String>,
}

impl AlterConfigOp {
    /// Set `name` to `value`.
    pub fn set(name: impl Into<String>, value: impl Into<String>) -> Self {
        AlterConfigOp {
            name: name.into(),
            op: AlterConfigOpType::Set,
            value: Some(value.into()),
        }
    }
    /// Remove the override of `name`.
    pub fn delete(name: impl Into<String>) -> Self {
        AlterConfigOp {
            name: name.into(),
            op: AlterConfigOpType::Delete,
            value: None,
        }
    }
    /// Append `value` to the list config `name`.
    pub fn append(name: impl Into<String>, value: impl Into<String>) -> Self {
        AlterConfigOp {
            name: name.into(),
            op: AlterConfigOpType::Append,
            value: Some(value.into()),
        }
    }
    /// Remove `value` from the list config `name`.
    pub fn subtract(name: impl Into<String>, value: impl Into<String>) -> Self {
        AlterConfigOp {
            name: name.into(),
            op: AlterConfigOpType::Subtract,
            value: Some(value.into()),
        }
    }
}

/// Groups resources by the broker that must serve them (None: any broker).
fn by_node<T>(
    items: BTreeMap<ConfigResource, T>,
) -> BTreeMap<Option<i32>, Vec<(ConfigResource, T)>> {
    let mut m: BTreeMap<Option<i32>, Vec<(ConfigResource, T)>> = BTreeMap::new();
    for (r, v) in items {
        m.entry(r.node()).or_default().push((r, v));
    }
    m
}

fn target(node: Option<i32>) -> Target {
    node.map(Target::Broker).unwrap_or(Target::AnyBroker)
}

impl AdminClient {
    /// Describes configs. Broker and broker-logger resources go to that broker; the others
    /// to any broker. `keys` per resource limits the names returned (None: all).
    ///
    /// ```no_run
    /// # async fn demo(admin: kafka_admin::AdminClient) -> Result<(), kafka_admin::AdminError> {
    /// use kafka_admin::{ConfigResource, DescribeConfigsOptions};
    /// let r = admin.describe_configs([(ConfigResource::topic("orders"), None)],
    ///     DescribeConfigsOptions::default().include_synonyms(true)).await?;
    /// if let Ok(cfg) = &r.per_resource[&ConfigResource::topic("orders")] {
    ///     println!("retention.ms = {:?}", cfg.get("retention.ms").and_then(|e| e.value.clone()));
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// Cancel safe.
    pub async fn describe_configs(
        &self,
        resources: impl IntoIterator<Item = (ConfigResource, Option<Vec<String>>)>,
        opts: DescribeConfigsOptions,
    ) -> Result<DescribeConfigsResult> {
        let t = self.timeout_of(opts.timeout);
        let resources: BTreeMap<ConfigResource, Option<Vec<String>>> =
            resources.into_iter().collect();
        let asked: Vec<ConfigResource> = resources.keys().cloned().collect();
        self.within("DescribeConfigs", t, async {
            let deadline = Instant::now() + t;
            let mut per_resource = BTreeMap::new();
            for (node, items) in by_node(resources) {
                let req = DescribeConfigsRequest {
                    resources: items
                        .iter()
                        .map(|(r, keys)| DescribeConfigsResource {
                            resource_type: r.kind.code(),
                            resource_name: r.name.clone(),
                            configuration_keys: keys.clone(),
                            ..Default::default()
                        })
                        .collect(),
                    include_synonyms: opts.include_synonyms,
                    include_documentation: opts.include_documentation,
                    ..Default::default()
                };
                match self.send(target(node), &req, deadline).await {
                    Ok(resp) => {
                        for r in resp.results {
                            let key = ConfigResource {
                                kind: ConfigResourceType::from_code(r.resource_type),
                                name: r.resource_name,
                            };
                            let res = check(r.error_code, r.error_message).map(|()| {
                                r.configs
                                    .into_iter()
                                    .map(|c| {
                                        (
                                            c.name.clone(),
                                            ConfigEntry {
                                                name: c.name,
                                                value: c.value,
                                                source: ConfigSource::from_code(c.config_source),
                                                read_only: c.read_only,
                                                sensitive: c.is_sensitive,
                                                synonyms: c
                                                    .synonyms
                                                    .into_iter()
                                                    .map(|s| ConfigSynonym {
                                                        name: s.name,
                                                        value: s.value,
                                                        source: ConfigSource::from_code(s.source),
                                                    })
                                                    .collect(),
                                                config_type: ConfigType::from_code(c.config_type),
                                                documentation: c.documentation,
                                            },
                                        )
                                    })
                                    .collect()
                            });
                            per_resource.insert(key, res);
                        }
                    }
                    Err(e) => {
                        for (r, _) in items {
                            per_resource.insert(r, Err(e.clone()));
                        }
                    }
                }
            }
            fill_missing(&mut per_resource, asked.iter());
            Ok(DescribeConfigsResult { per_resource })
        })
        .await
    }

    /// Incrementally alters configs (set/delete/append/subtract; IncrementalAlterConfigs,
    /// Kafka 2.3+). Broker and broker-logger resources go to that broker.
    ///
    /// ```no_run
    /// # async fn demo(admin: kafka_admin::AdminClient) -> Result<(), kafka_admin::AdminError> {
    /// use kafka_admin::{AlterConfigOp, AlterConfigsOptions, ConfigResource};
    /// let r = admin.incremental_alter_configs(
    ///     [(ConfigResource::topic("orders"), vec![AlterConfigOp::set("retention.ms", "3600000")])],
    ///     AlterConfigsOptions::default()).await?;
    /// assert!(r.is_ok());
    /// # Ok(()) }
    /// ```
    ///
    /// Cancel safe.
    pub async fn incremental_alter_configs(
        &self,
        changes: impl IntoIterator<Item = (ConfigResource, Vec<AlterConfigOp>)>,
        opts: AlterConfigsOptions,
    ) -> Result<AlterConfigsResult> {
        use incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
        let t = self.timeout_of(opts.timeout);
        let changes: BTreeMap<ConfigResource, Vec<AlterConfigOp>> = changes.into_iter().collect();
        let asked: Vec<ConfigResource> = changes.keys().cloned().collect();
        self.within("IncrementalAlterConfigs", t, async {
            let deadline = Instant::now() + t;
            let mut per_resource = BTreeMap::new();
            for (node, items) in by_node(changes) {
                let req = IncrementalAlterConfigsRequest {
                    resources: items
                        .iter()
                        .map(|(r, ops)| AlterConfigsResource {
                            resource_type: r.kind.code(),
                            resource_name: r.name.clone(),
                            configs: ops
                                .iter()
                                .map(|o| AlterableConfig {
                                    name: o.name.clone(),
                                    config_operation: match o.op {
                                        AlterConfigOpType::Set => 0,
                                        AlterConfigOpType::Delete => 1,
                                        AlterConfigOpType::Append => 2,
                                        AlterConfigOpType::Subtract => 3,
                                    },
                                    value: o.value.clone(),
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    validate_only: opts.validate_only,
                    ..Default::default()
                };
                self.alter_answers(
                    self.send(target(node), &req, deadline).await.map(|r| {
                        r.responses
                            .into_iter()
                            .map(|x| {
                                (
                                    x.resource_type,
                                    x.resource_name,
                                    x.error_code,
                                    x.error_message,
                                )
                            })
                            .collect()
                    }),
                    items.into_iter().map(|(r, _)| r),
                    &mut per_resource,
                );
            }
            fill_missing(&mut per_resource, asked.iter());
            Ok(AlterConfigsResult { per_resource })
        })
        .await
    }

    /// Replaces the whole dynamic config of each resource (legacy AlterConfigs: keys not given
    /// are reset). Prefer [`AdminClient::incremental_alter_configs`].
    ///
    /// Cancel safe.
    pub async fn alter_configs(
        &self,
        configs: impl IntoIterator<Item = (ConfigResource, BTreeMap<String, String>)>,
        opts: AlterConfigsOptions,
    ) -> Result<AlterConfigsResult> {
        use alter_configs_request::{AlterConfigsResource, AlterableConfig};
        let t = self.timeout_of(opts.timeout);
        let configs: BTreeMap<ConfigResource, BTreeMap<String, String>> =
            configs.into_iter().collect();
        let asked: Vec<ConfigResource> = configs.keys().cloned().collect();
        self.within("AlterConfigs", t, async {
            let deadline = Instant::now() + t;
            let mut per_resource = BTreeMap::new();
            for (node, items) in by_node(configs) {
                let req = AlterConfigsRequest {
                    resources: items
                        .iter()
                        .map(|(r, kv)| AlterConfigsResource {
                            resource_type: r.kind.code(),
                            resource_name: r.name.clone(),
                            configs: kv
                                .iter()
                                .map(|(k, v)| AlterableConfig {
                                    name: k.clone(),
                                    value: Some(v.clone()),
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    validate_only: opts.validate_only,
                    ..Default::default()
                };
                self.alter_answers(
                    self.send(target(node), &req, deadline).await.map(|r| {
                        r.responses
                            .into_iter()
                            .map(|x| {
                                (
                                    x.resource_type,
                                    x.resource_name,
                                    x.error_code,
                                    x.error_message,
                                )
                            })
                            .collect()
                    }),
                    items.into_iter().map(|(r, _)| r),
                    &mut per_resource,
                );
            }
            fill_missing(&mut per_resource, asked.iter());
            Ok(AlterConfigsResult { per_resource })
        })
        .await
    }

    #[allow(clippy::type_complexity)]
    fn alter_answers(
        &self,
        answers: Result<Vec<(i8, String, i16, Option<String>)>>,
        asked: impl Iterator<Item = ConfigResource>,
        out: &mut BTreeMap<ConfigResource, Result<()>>,
    ) {
        match answers {
            Ok(list) => {
                for (kind, name, code, msg) in list {
                    out.insert(
                        ConfigResource {
                            kind: ConfigResourceType::from_code(kind),
                            name,
                        },
                        check(code, msg),
                    );
                }
            }
            Err(e) => {
                for r in asked {
                    out.insert(r, Err::<(), AdminError>(e.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_groups_broker_resources() {
        let mut m = BTreeMap::new();
        m.insert(ConfigResource::topic("a"), ());
        m.insert(ConfigResource::broker(1), ());
        m.insert(ConfigResource::broker_logger(1), ());
        m.insert(ConfigResource::broker_default(), ());
        let g = by_node(m);
        assert_eq!(g[&None].len(), 2);
        assert_eq!(g[&Some(1)].len(), 2);
    }

    #[test]
    fn sources_decode() {
        assert_eq!(ConfigSource::from_code(5), ConfigSource::DefaultConfig);
        assert_eq!(ConfigType::from_code(0), ConfigType::Unknown(0));
    }
}
