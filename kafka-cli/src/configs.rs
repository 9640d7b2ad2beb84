//! `kafka configs describe|alter` and `kafka cluster describe`.

use clap::{Args, Subcommand};
use kafka_admin::{AlterConfigOp, ConfigResource, ConfigSource, DescribeConfigsOptions, Options};

use crate::common::{CliError, CliResult, Global, Table, failed, key_value, out, usage};

/// Which entity's configs.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub(crate) struct Entity {
    /// A topic.
    #[arg(long)]
    topic: Option<String>,
    /// A broker by id.
    #[arg(long)]
    broker: Option<i32>,
    /// The cluster-wide broker default.
    #[arg(long)]
    broker_default: bool,
    /// A consumer group (Kafka 4.0+).
    #[arg(long)]
    group: Option<String>,
}

impl Entity {
    fn resource(&self) -> CliResult<ConfigResource> {
        if let Some(t) = &self.topic {
            Ok(ConfigResource::topic(t))
        } else if let Some(b) = self.broker {
            Ok(ConfigResource::broker(b))
        } else if self.broker_default {
            Ok(ConfigResource::broker_default())
        } else if let Some(g) = &self.group {
            Ok(ConfigResource::group(g))
        } else {
            Err(usage(
                "name an entity: --topic, --broker, --broker-default or --group",
            ))
        }
    }
}

/// Config commands.
#[derive(Subcommand, Debug)]
pub(crate) enum ConfigsCmd {
    /// Show an entity's configs: overrides only, or every config with --all.
    #[command(
        after_help = "Examples:\n  kafka configs describe --topic orders\n  kafka configs describe --topic orders --all\n  kafka configs describe --broker 1 --all"
    )]
    Describe {
        #[command(flatten)]
        entity: Entity,
        /// Every config, defaults included.
        #[arg(long)]
        all: bool,
    },
    /// Set or remove configs (incremental).
    #[command(
        after_help = "Examples:\n  kafka configs alter --topic orders --set retention.ms=86400000\n  kafka configs alter --topic orders --delete retention.ms"
    )]
    Alter {
        #[command(flatten)]
        entity: Entity,
        /// `key=value` to set; repeatable.
        #[arg(long, value_name = "KEY=VALUE", value_parser = key_value)]
        set: Vec<(String, String)>,
        /// Config to remove (back to its default); repeatable.
        #[arg(long, value_name = "KEY")]
        delete: Vec<String>,
    },
}

fn source(s: ConfigSource) -> String {
    match s {
        ConfigSource::DynamicTopicConfig => "topic".into(),
        ConfigSource::DynamicBrokerConfig => "dynamic-broker".into(),
        ConfigSource::DynamicDefaultBrokerConfig => "dynamic-default-broker".into(),
        ConfigSource::StaticBrokerConfig => "static-broker".into(),
        ConfigSource::DefaultConfig => "default".into(),
        ConfigSource::DynamicBrokerLoggerConfig => "broker-logger".into(),
        ConfigSource::DynamicClientMetricsConfig => "client-metrics".into(),
        ConfigSource::DynamicGroupConfig => "group".into(),
        other => format!("{other:?}"),
    }
}

pub(crate) async fn run(g: &Global, cmd: ConfigsCmd) -> CliResult {
    let admin = g.admin().await?;
    let r = match cmd {
        ConfigsCmd::Describe { entity, all } => {
            let res = entity.resource()?;
            let r = admin
                .describe_configs([(res.clone(), None)], DescribeConfigsOptions::default())
                .await
                .map_err(|e| failed("describing configs", e))?;
            match r.per_resource.get(&res) {
                Some(Ok(m)) => {
                    let mut t = Table::new(["NAME", "VALUE", "SOURCE", "FLAGS"]);
                    for e in m.values() {
                        let is_default = matches!(
                            e.source,
                            ConfigSource::DefaultConfig | ConfigSource::StaticBrokerConfig
                        );
                        if !all && is_default {
                            continue;
                        }
                        let mut flags = Vec::new();
                        if e.read_only {
                            flags.push("read-only");
                        }
                        if e.sensitive {
                            flags.push("sensitive");
                        }
                        t.row([
                            e.name.clone(),
                            e.value.clone().unwrap_or_else(|| {
                                if e.sensitive {
                                    "(hidden)".into()
                                } else {
                                    "null".into()
                                }
                            }),
                            source(e.source),
                            flags.join(","),
                        ]);
                    }
                    if t.is_empty() {
                        out("(no overrides; --all shows every config)\n");
                    } else {
                        t.print();
                    }
                    Ok(())
                }
                Some(Err(e)) => Err(failed(
                    &format!("configs of {} {}", kind(&res), res.name),
                    e,
                )),
                None => Err(CliError::Failed("no answer for the entity".into())),
            }
        }
        ConfigsCmd::Alter {
            entity,
            set,
            delete,
        } => {
            let res = entity.resource()?;
            if set.is_empty() && delete.is_empty() {
                return Err(usage(
                    "nothing to alter: give --set KEY=VALUE or --delete KEY",
                ));
            }
            let ops: Vec<AlterConfigOp> = set
                .into_iter()
                .map(|(k, v)| AlterConfigOp::set(k, v))
                .chain(delete.into_iter().map(AlterConfigOp::delete))
                .collect();
            let n = ops.len();
            let r = admin
                .incremental_alter_configs([(res.clone(), ops)], Default::default())
                .await
                .map_err(|e| failed("altering configs", e))?;
            if let Some(e) = r.first_error() {
                Err(failed(
                    &format!("altering configs of {} {}", kind(&res), res.name),
                    e,
                ))
            } else {
                out(&format!(
                    "Changed {n} config(s) of {} {}.\n",
                    kind(&res),
                    if res.name.is_empty() {
                        "(default)"
                    } else {
                        &res.name
                    }
                ));
                Ok(())
            }
        }
    };
    admin.close();
    r
}

fn kind(r: &ConfigResource) -> String {
    format!("{:?}", r.kind).to_lowercase()
}

/// Cluster commands.
#[derive(Subcommand, Debug)]
pub(crate) enum ClusterCmd {
    /// Cluster id, controller and brokers.
    #[command(
        after_help = "Examples:\n  kafka cluster describe\n  kafka -b broker1:9092 cluster describe"
    )]
    Describe,
}

pub(crate) async fn cluster(g: &Global, cmd: ClusterCmd) -> CliResult {
    let admin = g.admin().await?;
    let r = match cmd {
        ClusterCmd::Describe => {
            let c = admin
                .describe_cluster(Options::default())
                .await
                .map_err(|e| failed("describing the cluster", e))?;
            out(&format!(
                "Cluster id: {}\nController: {}\n",
                c.cluster_id,
                c.controller_id.map_or("unknown".into(), |c| c.to_string())
            ));
            let mut t = Table::new(["ID", "HOST", "PORT", "RACK"]);
            for b in &c.brokers {
                t.row([
                    b.id.to_string(),
                    b.host.clone(),
                    b.port.to_string(),
                    b.rack.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
            t.print();
            Ok(())
        }
    };
    admin.close();
    r
}
