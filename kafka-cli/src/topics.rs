//! `kafka topics list|describe|create|delete|alter`.

use std::collections::BTreeMap;

use clap::Subcommand;
use kafka_admin::{
    AlterConfigOp, ConfigResource, ConfigSource, CreateTopicsOptions, DescribeConfigsOptions,
    ListTopicsOptions, NewPartitions, NewTopic, Options,
};
use kafka_protocol::ErrorCode;

use crate::common::{CliError, CliResult, Global, Table, failed, ids, key_value, out};

/// Topic commands.
#[derive(Subcommand, Debug)]
pub(crate) enum TopicsCmd {
    /// List topic names, one per line.
    #[command(after_help = "Examples:\n  kafka topics list\n  kafka topics list --internal")]
    List {
        /// Include internal topics (__consumer_offsets, …).
        #[arg(long)]
        internal: bool,
    },
    /// Describe topics: partitions, leaders, replicas, ISR and non-default configs.
    #[command(
        after_help = "Examples:\n  kafka topics describe orders\n  kafka topics describe        # every topic"
    )]
    Describe {
        /// Topics to describe (default: all).
        topics: Vec<String>,
    },
    /// Create a topic.
    #[command(
        after_help = "Examples:\n  kafka topics create orders --partitions 6\n  kafka topics create audit --config cleanup.policy=compact --config retention.ms=-1"
    )]
    Create {
        /// Topic name.
        topic: String,
        /// Partitions (default: the broker's num.partitions).
        #[arg(long, short = 'p')]
        partitions: Option<i32>,
        /// Replication factor (default: the broker's default.replication.factor).
        #[arg(long, short = 'r')]
        replication_factor: Option<i16>,
        /// Topic config `key=value`; repeatable.
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = key_value)]
        configs: Vec<(String, String)>,
        /// Succeed when the topic already exists.
        #[arg(long)]
        if_not_exists: bool,
    },
    /// Delete topics.
    #[command(after_help = "Examples:\n  kafka topics delete orders payments")]
    Delete {
        /// Topics to delete.
        #[arg(required = true)]
        topics: Vec<String>,
        /// Succeed when a topic does not exist.
        #[arg(long)]
        if_exists: bool,
    },
    /// Grow a topic's partitions and/or change its configs.
    #[command(
        after_help = "Examples:\n  kafka topics alter orders --partitions 12\n  kafka topics alter orders --config retention.ms=86400000 --delete-config cleanup.policy"
    )]
    Alter {
        /// Topic name.
        topic: String,
        /// New total partition count (can only grow).
        #[arg(long, short = 'p')]
        partitions: Option<i32>,
        /// Set a topic config `key=value`; repeatable.
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = key_value)]
        configs: Vec<(String, String)>,
        /// Remove a config override (back to the default); repeatable.
        #[arg(long = "delete-config", value_name = "KEY")]
        delete_configs: Vec<String>,
    },
}

pub(crate) async fn run(g: &Global, cmd: TopicsCmd) -> CliResult {
    let admin = g.admin().await?;
    let r = match cmd {
        TopicsCmd::List { internal } => {
            let topics = admin
                .list_topics(ListTopicsOptions::default().list_internal(internal))
                .await
                .map_err(|e| failed("listing topics", e))?;
            let mut s = String::new();
            for name in topics.keys() {
                s.push_str(name);
                s.push('\n');
            }
            out(&s);
            Ok(())
        }
        TopicsCmd::Describe { topics } => describe(&admin, topics).await,
        TopicsCmd::Create {
            topic,
            partitions,
            replication_factor,
            configs,
            if_not_exists,
        } => {
            let mut t = NewTopic::with_defaults(&topic);
            t.num_partitions = partitions;
            t.replication_factor = replication_factor;
            t.configs = configs.into_iter().collect();
            let r = admin
                .create_topics([t], CreateTopicsOptions::default())
                .await
                .map_err(|e| failed("creating topic", e))?;
            match r.per_topic.into_iter().next() {
                Some((_, Ok(c))) => {
                    out(&format!(
                        "Created topic {topic} ({} partitions, replication factor {}).\n",
                        c.num_partitions, c.replication_factor
                    ));
                    Ok(())
                }
                Some((_, Err(e))) if e.error_code() == Some(ErrorCode::TopicAlreadyExists) => {
                    if if_not_exists {
                        out(&format!("Topic {topic} already exists.\n"));
                        Ok(())
                    } else {
                        Err(failed(&format!("creating topic {topic}"), e))
                    }
                }
                Some((_, Err(e))) => Err(failed(&format!("creating topic {topic}"), e)),
                None => Err(CliError::Failed("no answer for the topic".into())),
            }
        }
        TopicsCmd::Delete { topics, if_exists } => {
            let r = admin
                .delete_topics(topics, Options::default())
                .await
                .map_err(|e| failed("deleting topics", e))?;
            let mut bad = Vec::new();
            for (t, res) in r.per_topic {
                match res {
                    Ok(()) => out(&format!("Deleted topic {t}.\n")),
                    Err(e)
                        if if_exists
                            && e.error_code() == Some(ErrorCode::UnknownTopicOrPartition) =>
                    {
                        out(&format!("Topic {t} does not exist.\n"))
                    }
                    Err(e) => bad.push(format!("{t}: {e}")),
                }
            }
            if bad.is_empty() {
                Ok(())
            } else {
                Err(CliError::Failed(format!(
                    "deleting topics failed: {}",
                    bad.join("; ")
                )))
            }
        }
        TopicsCmd::Alter {
            topic,
            partitions,
            configs,
            delete_configs,
        } => {
            if partitions.is_none() && configs.is_empty() && delete_configs.is_empty() {
                return Err(CliError::Usage(
                    "nothing to alter: give --partitions, --config or --delete-config".into(),
                ));
            }
            if let Some(n) = partitions {
                let r = admin
                    .create_partitions(
                        [(topic.clone(), NewPartitions::increase_to(n))],
                        Default::default(),
                    )
                    .await
                    .map_err(|e| failed("adding partitions", e))?;
                if let Some(e) = r.first_error() {
                    return Err(failed(&format!("adding partitions to {topic}"), e));
                }
                out(&format!("Topic {topic} now has {n} partitions.\n"));
            }
            let ops: Vec<AlterConfigOp> = configs
                .into_iter()
                .map(|(k, v)| AlterConfigOp::set(k, v))
                .chain(delete_configs.into_iter().map(AlterConfigOp::delete))
                .collect();
            if !ops.is_empty() {
                let n = ops.len();
                let r = admin
                    .incremental_alter_configs(
                        [(ConfigResource::topic(&topic), ops)],
                        Default::default(),
                    )
                    .await
                    .map_err(|e| failed("altering configs", e))?;
                if let Some(e) = r.first_error() {
                    return Err(failed(&format!("altering configs of {topic}"), e));
                }
                out(&format!("Changed {n} config(s) of topic {topic}.\n"));
            }
            Ok(())
        }
    };
    admin.close();
    r
}

async fn describe(admin: &kafka_admin::AdminClient, topics: Vec<String>) -> CliResult {
    let names: Vec<String> = if topics.is_empty() {
        admin
            .list_topics(Default::default())
            .await
            .map_err(|e| failed("listing topics", e))?
            .into_keys()
            .collect()
    } else {
        topics
    };
    if names.is_empty() {
        out("(no topics)\n");
        return Ok(());
    }
    let d = admin
        .describe_topics(names.clone(), Default::default())
        .await
        .map_err(|e| failed("describing topics", e))?;
    let cfgs = admin
        .describe_configs(
            names.iter().map(|n| (ConfigResource::topic(n), None)),
            DescribeConfigsOptions::default(),
        )
        .await
        .ok();
    let mut missing = Vec::new();
    for (name, r) in d.per_topic {
        let t = match r {
            Ok(t) => t,
            Err(e) => {
                missing.push(format!("{name}: {e}"));
                continue;
            }
        };
        let rf = t.partitions.first().map_or(0, |p| p.replicas.len());
        let overrides: BTreeMap<String, String> = cfgs
            .as_ref()
            .and_then(|c| c.per_resource.get(&ConfigResource::topic(&name)))
            .and_then(|r| r.as_ref().ok())
            .map(|m| {
                m.values()
                    .filter(|e| e.source == ConfigSource::DynamicTopicConfig)
                    .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let configs = overrides
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        out(&format!(
            "Topic: {name}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {rf}\tConfigs: {configs}\n",
            t.topic_id,
            t.partitions.len()
        ));
        let mut table = Table::new(["PARTITION", "LEADER", "REPLICAS", "ISR"]);
        for p in &t.partitions {
            table.row([
                p.partition.to_string(),
                p.leader.map_or("none".into(), |l| l.to_string()),
                ids(&p.replicas),
                ids(&p.isr),
            ]);
        }
        table.print();
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(missing.join("; ")))
    }
}
