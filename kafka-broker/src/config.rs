//! Broker configuration: the typed [`BrokerConfig`], Kafka's `server.properties` keys, and the
//! table of topic-level configs (validation, defaults, broker synonyms, mapping to
//! [`LogConfig`]).
//!
//! # Broker keys
//!
//! Used: `listeners`, `advertised.listeners`, `log.dirs` (or `log.dir`; one directory),
//! `node.id` (or `broker.id`), `num.partitions`, `default.replication.factor` (must be 1),
//! `auto.create.topics.enable`, `socket.request.max.bytes`, `log.retention.check.interval.ms`
//! (how often partition logs run retention/compaction), and the broker-level defaults of topic
//! configs: `log.segment.bytes`, `log.roll.ms`/`log.roll.hours`, `log.retention.ms`/
//! `.minutes`/`.hours`, `log.retention.bytes`, `log.cleanup.policy`,
//! `log.cleaner.delete.retention.ms`, `log.cleaner.min.compaction.lag.ms`, `message.max.bytes`,
//! `log.message.timestamp.type`, `log.index.interval.bytes`, `log.flush.interval.messages`,
//! `log.flush.interval.ms`, `min.insync.replicas`, `compression.type` (only `producer`).
//!
//! Group coordinator ([`GroupConfig`](crate::GroupConfig)): `group.initial.rebalance.delay.ms`,
//! `group.min.session.timeout.ms`, `group.max.session.timeout.ms`, `group.max.size`,
//! `offsets.topic.num.partitions`, `offsets.retention.minutes`,
//! `offsets.retention.check.interval.ms`, `offset.metadata.max.bytes`,
//! `group.consumer.session.timeout.ms`, `group.consumer.heartbeat.interval.ms`,
//! `group.consumer.max.size`.
//!
//! Transaction coordinator ([`TxnConfig`](crate::TxnConfig)):
//! `transaction.state.log.num.partitions`, `transaction.max.timeout.ms`,
//! `transaction.abort.timed.out.transaction.cleanup.interval.ms`,
//! `transactional.id.expiration.ms`.
//!
//! Accepted with a log line because they mean nothing for one node without the group and
//! transaction coordinators: see [`IGNORED_BROKER_KEYS`]. Every other key is an error naming it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{BrokerError, Result};
use crate::log::{CleanupPolicy, LogConfig, LogTimestampType};

/// Kafka keys accepted (with an `info` log line) although they have no effect on a single-node
/// broker: KRaft controller settings, thread and socket buffer sizes, replication settings of
/// internal topics.
pub const IGNORED_BROKER_KEYS: &[&str] = &[
    "process.roles",
    "controller.quorum.voters",
    "controller.quorum.bootstrap.servers",
    "controller.listener.names",
    "listener.security.protocol.map",
    "inter.broker.listener.name",
    "num.network.threads",
    "num.io.threads",
    "num.replica.fetchers",
    "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes",
    "num.recovery.threads.per.data.dir",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "share.coordinator.state.topic.replication.factor",
    "share.coordinator.state.topic.min.isr",
    "unclean.leader.election.enable",
    "auto.leader.rebalance.enable",
    "delete.topic.enable",
];

/// The value type of a config (also its `config_type` in DescribeConfigs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Int {
        min: i64,
    },
    Long {
        min: i64,
    },
    Double,
    /// A comma-separated list whose items must be among these.
    List(&'static [&'static str]),
    /// One of these strings.
    Enum(&'static [&'static str]),
    Str,
}

impl Kind {
    /// DescribeConfigs `config_type`.
    pub(crate) fn config_type(self) -> i8 {
        match self {
            Kind::Bool => 1,
            Kind::Str | Kind::Enum(_) => 2,
            Kind::Int { .. } => 3,
            Kind::Long { .. } => 5,
            Kind::Double => 6,
            Kind::List(_) => 7,
        }
    }

    fn validate(self, name: &str, v: &str) -> std::result::Result<(), String> {
        let v = v.trim();
        let bad = |why: &str| Err(format!("Invalid value {v} for configuration {name}: {why}"));
        match self {
            Kind::Bool => match v.to_ascii_lowercase().as_str() {
                "true" | "false" => Ok(()),
                _ => bad("expected true or false"),
            },
            Kind::Int { min } => match v.parse::<i32>() {
                Ok(n) if i64::from(n) >= min => Ok(()),
                Ok(_) => bad(&format!("value must be at least {min}")),
                Err(_) => bad("not an int"),
            },
            Kind::Long { min } => match v.parse::<i64>() {
                Ok(n) if n >= min => Ok(()),
                Ok(_) => bad(&format!("value must be at least {min}")),
                Err(_) => bad("not a long"),
            },
            Kind::Double => match v.parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(()),
                _ => bad("not a number"),
            },
            Kind::List(allowed) => {
                let items: Vec<&str> = v.split(',').map(str::trim).collect();
                if items.is_empty() || items.iter().any(|i| !allowed.contains(i)) {
                    bad(&format!("allowed values are {}", allowed.join(", ")))
                } else {
                    Ok(())
                }
            }
            Kind::Enum(allowed) => {
                if allowed.contains(&v) {
                    Ok(())
                } else {
                    bad(&format!("supported values are {}", allowed.join(", ")))
                }
            }
            Kind::Str => Ok(()),
        }
    }
}

/// One topic-level config.
#[derive(Debug)]
pub(crate) struct TopicConfigDef {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) default: &'static str,
    /// The broker-level key that sets its default (`log.retention.ms` for `retention.ms`).
    pub(crate) broker_key: Option<&'static str>,
    pub(crate) doc: &'static str,
}

const NO_EFFECT: &str = "Accepted for compatibility; no effect on a single-node broker.";

/// Every topic config Kafka 4.x knows that this broker accepts.
pub(crate) const TOPIC_CONFIGS: &[TopicConfigDef] = &[
    TopicConfigDef {
        name: "cleanup.policy",
        kind: Kind::List(&["delete", "compact"]),
        default: "delete",
        broker_key: Some("log.cleanup.policy"),
        doc: "delete, compact or both: how old log segments are removed.",
    },
    TopicConfigDef {
        name: "compression.type",
        kind: Kind::Enum(&["producer"]),
        default: "producer",
        broker_key: Some("compression.type"),
        doc: "Only `producer` (keep the producer's compression) is supported.",
    },
    TopicConfigDef {
        name: "delete.retention.ms",
        kind: Kind::Long { min: 0 },
        default: "86400000",
        broker_key: Some("log.cleaner.delete.retention.ms"),
        doc: "How long tombstones are kept in compacted topics.",
    },
    TopicConfigDef {
        name: "file.delete.delay.ms",
        kind: Kind::Long { min: 0 },
        default: "60000",
        broker_key: Some("log.segment.delete.delay.ms"),
        doc: NO_EFFECT,
    },
    TopicConfigDef {
        name: "flush.messages",
        kind: Kind::Long { min: 1 },
        default: "9223372036854775807",
        broker_key: Some("log.flush.interval.messages"),
        doc: "fsync after this many messages.",
    },
    TopicConfigDef {
        name: "flush.ms",
        kind: Kind::Long { min: 0 },
        default: "9223372036854775807",
        broker_key: Some("log.flush.interval.ms"),
        doc: "fsync after this many milliseconds.",
    },
    TopicConfigDef {
        name: "follower.replication.throttled.replicas",
        kind: Kind::Str,
        default: "",
        broker_key: None,
        doc: NO_EFFECT,
    },
    TopicConfigDef {
        name: "index.interval.bytes",
        kind: Kind::Int { min: 0 },
        default: "4096",
        broker_key: Some("log.index.interval.bytes"),
        doc: "Bytes between offset index entries.",
    },
    TopicConfigDef {
        name: "leader.replication.throttled.replicas",
        kind: Kind::Str,
        default: "",
        broker_key: None,
        doc: NO_EFFECT,
    },
    TopicConfigDef {
        name: "local.retention.bytes",
        kind: Kind::Long { min: -2 },
        default: "-2",
        broker_key: Some("log.local.retention.bytes"),
        doc: NO_EFFECT,
    },
    TopicConfigDef {
        name: "local.retention.ms",
        kind: Kind::Long { min: -2 },
        default: "-2",
        broker_key: Some("log.local.retention.ms"),
        doc: NO_EFFECT,
    },
    TopicConfigDef {
        name: "max.compaction.lag.ms",
        kind: Kind::Long { min: 1 },
        default: "9223372036854775807",
        broker_key: Some("log.cleaner.max.compaction.lag.ms"),
        doc: NO_EFFECT,
    },
    TopicConfigDef {
        name: "max.message.bytes",
        kind: Kind::Int { min: 0 },
        default: "1048588",
        broker_key: Some("message.max.bytes"),
        doc: "Largest record batch the topic accepts.",
    },
    TopicConfigDef {
        name: "message.timestamp.after.max.ms",
        kind: Kind::Long { min: 0 },
        default: "3600000",
        broker_key: Some("log.message.timestamp.after.max.ms"),
        doc: NO_EFFECT,
    },
    TopicConfigDef {
        name: "message.timestamp.before.max.ms",
        kind: Kind::Long { min: 0 },
        default: "9223372036854775807",
        broker_key: Some("log.message.timestamp.before.max.ms"),
        doc: NO_EFFECT,
    },
    TopicConfigDef {
        name: "message.timestamp.type",
        kind: Kind::Enum(&["CreateTime", "LogAppendTime"]),
        default: "CreateTime",
        broker_key: Some("log.message.timestamp.type"),
        doc: "CreateTime (producer's) or LogAppendTime (broker's).",
    },
    TopicConfigDef {
        name: "min.cleanable.dirty.ratio",
        kind: Kind::Double,
        default: "0.5",
        broker_key: Some("log.cleaner.min.cleanable.ratio"),
        doc: NO_EFFECT,
    },
    TopicConfigDef {
        name: "min.compaction.lag.ms",
        kind: Kind::Long { min: 0 },
        default: "0",
        broker_key: Some("log.cleaner.min.compaction.lag.ms"),
        doc: "Minimum age before a record may be compacted.",
    },
    TopicConfigDef {
        name: "min.insync.replicas",
        kind: Kind::Int { min: 1 },
        default: "1",
        broker_key: Some("min.insync.replicas"),
        doc: "acks=all produce fails with NOT_ENOUGH_REPLICAS when this exceeds 1 (one node).",
    },
    TopicConfigDef {
        name: "preallocate",
        kind: Kind::Bool,
        default: "false",
        broker_key: Some("log.preallocate"),
        doc: NO_EFFECT,
    },
    TopicConfigDef {
        name: "remote.storage.enable",
        kind: Kind::Enum(&["false"]),
        default: "false",
        broker_key: None,
        doc: "Tiered storage is not supported.",
    },
    TopicConfigDef {
        name: "retention.bytes",
        kind: Kind::Long { min: -1 },
        default: "-1",
        broker_key: Some("log.retention.bytes"),
        doc: "Size limit per partition (-1: none).",
    },
    TopicConfigDef {
        name: "retention.ms",
        kind: Kind::Long { min: -1 },
        default: "604800000",
        broker_key: Some("log.retention.ms"),
        doc: "Time limit (-1: none).",
    },
    TopicConfigDef {
        name: "segment.bytes",
        kind: Kind::Int { min: 14 },
        default: "1073741824",
        broker_key: Some("log.segment.bytes"),
        doc: "Segment file size.",
    },
    TopicConfigDef {
        name: "segment.index.bytes",
        kind: Kind::Int { min: 4 },
        default: "10485760",
        broker_key: Some("log.index.size.max.bytes"),
        doc: NO_EFFECT,
    },
    TopicConfigDef {
        name: "segment.jitter.ms",
        kind: Kind::Long { min: 0 },
        default: "0",
        broker_key: Some("log.roll.jitter.ms"),
        doc: NO_EFFECT,
    },
    TopicConfigDef {
        name: "segment.ms",
        kind: Kind::Long { min: 1 },
        default: "604800000",
        broker_key: Some("log.roll.ms"),
        doc: "Roll a segment after this time.",
    },
    TopicConfigDef {
        name: "unclean.leader.election.enable",
        kind: Kind::Bool,
        default: "false",
        broker_key: Some("unclean.leader.election.enable"),
        doc: NO_EFFECT,
    },
];

/// The definition of topic config `name`.
pub(crate) fn topic_def(name: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.name == name)
}

/// The topic config that broker key `key` sets the default of.
pub(crate) fn topic_def_for_broker_key(key: &str) -> Option<&'static TopicConfigDef> {
    TOPIC_CONFIGS.iter().find(|d| d.broker_key == Some(key))
}

/// Validates one topic config; the error is Kafka's INVALID_CONFIG message.
pub(crate) fn validate_topic_config(name: &str, value: &str) -> std::result::Result<(), String> {
    match topic_def(name) {
        None => Err(format!("Unknown topic config name: {name}")),
        Some(d) => d.kind.validate(name, value),
    }
}

/// Builds the log settings from effective topic configs (`lookup` returns the value of a
/// topic config after overrides and broker defaults).
pub(crate) fn log_config_from(lookup: impl Fn(&str) -> String) -> LogConfig {
    let long = |k: &str| lookup(k).trim().parse::<i64>().ok();
    let unlimited = |v: Option<i64>| v.filter(|n| *n != i64::MAX);
    let d = LogConfig::default();
    let policy = lookup("cleanup.policy");
    let (del, comp) = (policy.contains("delete"), policy.contains("compact"));
    LogConfig {
        segment_bytes: long("segment.bytes")
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(d.segment_bytes),
        segment_ms: long("segment.ms").and_then(|n| u64::try_from(n).ok()),
        retention_ms: long("retention.ms").filter(|n| *n >= 0),
        retention_bytes: long("retention.bytes")
            .filter(|n| *n >= 0)
            .and_then(|n| u64::try_from(n).ok()),
        cleanup_policy: match (del, comp) {
            (true, true) => CleanupPolicy::CompactDelete,
            (false, true) => CleanupPolicy::Compact,
            _ => CleanupPolicy::Delete,
        },
        delete_retention_ms: long("delete.retention.ms")
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(d.delete_retention_ms),
        min_compaction_lag_ms: long("min.compaction.lag.ms")
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(d.min_compaction_lag_ms),
        max_message_bytes: long("max.message.bytes")
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(d.max_message_bytes),
        timestamp_type: if lookup("message.timestamp.type").trim() == "LogAppendTime" {
            LogTimestampType::LogAppendTime
        } else {
            LogTimestampType::CreateTime
        },
        index_interval_bytes: long("index.interval.bytes")
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(d.index_interval_bytes),
        flush_interval_messages: unlimited(long("flush.messages"))
            .and_then(|n| u64::try_from(n).ok()),
        flush_interval_ms: unlimited(long("flush.ms")).and_then(|n| u64::try_from(n).ok()),
    }
}

/// The topic-config view of a [`LogConfig`] (used when the embedder passes one).
pub(crate) fn log_config_to_topic_configs(c: &LogConfig) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.to_string(), v);
    };
    put(
        "segment.bytes",
        c.segment_bytes.min(i32::MAX as u64).to_string(),
    );
    put(
        "segment.ms",
        c.segment_ms.map_or(i64::MAX.to_string(), |v| v.to_string()),
    );
    put("retention.ms", c.retention_ms.unwrap_or(-1).to_string());
    put(
        "retention.bytes",
        c.retention_bytes
            .map_or("-1".to_string(), |v| v.to_string()),
    );
    put(
        "cleanup.policy",
        match c.cleanup_policy {
            CleanupPolicy::Delete => "delete",
            CleanupPolicy::Compact => "compact",
            CleanupPolicy::CompactDelete => "compact,delete",
        }
        .to_string(),
    );
    put("delete.retention.ms", c.delete_retention_ms.to_string());
    put("min.compaction.lag.ms", c.min_compaction_lag_ms.to_string());
    put("max.message.bytes", c.max_message_bytes.to_string());
    put(
        "message.timestamp.type",
        match c.timestamp_type {
            LogTimestampType::CreateTime => "CreateTime",
            LogTimestampType::LogAppendTime => "LogAppendTime",
        }
        .to_string(),
    );
    put("index.interval.bytes", c.index_interval_bytes.to_string());
    put(
        "flush.messages",
        c.flush_interval_messages
            .map_or(i64::MAX.to_string(), |v| v.to_string()),
    );
    put(
        "flush.ms",
        c.flush_interval_ms
            .map_or(i64::MAX.to_string(), |v| v.to_string()),
    );
    m
}

/// The broker's static configuration.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `node.id`.
    pub node_id: i32,
    /// Address to bind, `host:port` (port 0 = any free port).
    pub listener: String,
    /// Address advertised to clients, `host:port`; defaults to the bound address.
    pub advertised: Option<String>,
    /// Data directory; `None` = a fresh temporary directory removed on shutdown.
    pub data_dir: Option<PathBuf>,
    /// `num.partitions`: default partition count of new topics.
    pub num_partitions: i32,
    /// `auto.create.topics.enable`.
    pub auto_create_topics: bool,
    /// `socket.request.max.bytes`.
    pub socket_request_max_bytes: usize,
    /// `log.retention.check.interval.ms`: how often partition logs run `maintain`.
    pub maintenance_interval: Duration,
    /// Broker-level defaults of topic configs, by topic-config name (`retention.ms`, ...).
    pub topic_defaults: BTreeMap<String, String>,
    /// Group coordinator settings.
    pub groups: crate::GroupConfig,
    /// Transaction coordinator settings.
    pub transactions: crate::TxnConfig,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            node_id: 1,
            listener: "127.0.0.1:9092".into(),
            advertised: None,
            data_dir: None,
            num_partitions: 1,
            auto_create_topics: true,
            socket_request_max_bytes: kafka_protocol::frame::DEFAULT_MAX_FRAME,
            maintenance_interval: Duration::from_millis(300_000),
            topic_defaults: BTreeMap::new(),
            groups: crate::GroupConfig::default(),
            transactions: crate::TxnConfig::default(),
        }
    }
}

fn parse_num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T> {
    v.trim()
        .parse()
        .map_err(|_| BrokerError::Config(format!("{key}: `{v}` is not a valid number")))
}

/// One entry of `listeners`: `NAME://host:port`.
fn parse_listeners(key: &str, v: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for item in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((name, addr)) = item.split_once("://") else {
            return Err(BrokerError::Config(format!(
                "{key}: `{item}` is not NAME://host:port"
            )));
        };
        let host_port = if addr.starts_with(':') {
            format!("0.0.0.0{addr}")
        } else {
            addr.to_string()
        };
        out.push((name.to_string(), host_port));
    }
    Ok(out)
}

impl BrokerConfig {
    /// Parses `server.properties` content (already split into key/value pairs). Returns the
    /// config and notes about accepted-but-ignored keys (to be logged).
    pub fn from_properties(
        props: &BTreeMap<String, String>,
    ) -> Result<(BrokerConfig, Vec<String>)> {
        let mut c = BrokerConfig::default();
        let mut notes = Vec::new();
        let controller_names: Vec<String> = props
            .get("controller.listener.names")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default();
        let protocol_map: BTreeMap<String, String> = props
            .get("listener.security.protocol.map")
            .map(|v| {
                v.split(',')
                    .filter_map(|kv| kv.split_once(':'))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let mut listener_name = None;
        // retention.ms precedence: ms > minutes > hours (as Kafka)
        let mut retention: (Option<i64>, Option<i64>, Option<i64>) = (None, None, None);
        let mut roll: (Option<i64>, Option<i64>) = (None, None);
        for (key, value) in props {
            let v = value.trim();
            match key.as_str() {
                "listeners" => {
                    let ls: Vec<_> = parse_listeners(key, v)?
                        .into_iter()
                        .filter(|(n, _)| {
                            let ctl = controller_names.contains(n);
                            if ctl {
                                notes.push(format!(
                                    "listener {n} is a controller listener; ignored (no KRaft controller on a single node)"
                                ));
                            }
                            !ctl
                        })
                        .collect();
                    let [(name, addr)] = ls.as_slice() else {
                        return Err(BrokerError::Config(format!(
                            "listeners: exactly one client listener is supported, got `{v}`"
                        )));
                    };
                    let proto = protocol_map.get(name).map(String::as_str).unwrap_or(name);
                    if proto != "PLAINTEXT" {
                        return Err(BrokerError::Config(format!(
                            "listeners: security protocol {proto} of listener {name} is not supported (PLAINTEXT only)"
                        )));
                    }
                    listener_name = Some(name.clone());
                    c.listener = addr.clone();
                }
                "advertised.listeners" => {
                    let ls = parse_listeners(key, v)?;
                    let chosen = ls
                        .iter()
                        .find(|(n, _)| Some(n) == listener_name.as_ref())
                        .or_else(|| ls.iter().find(|(n, _)| !controller_names.contains(n)));
                    c.advertised = chosen.map(|(_, a)| a.clone());
                }
                "log.dirs" | "log.dir" => {
                    let dirs: Vec<&str> = v
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .collect();
                    let [dir] = dirs.as_slice() else {
                        return Err(BrokerError::Config(format!(
                            "{key}: exactly one log directory is supported, got `{v}`"
                        )));
                    };
                    c.data_dir = Some(PathBuf::from(dir));
                }
                "node.id" | "broker.id" => c.node_id = parse_num(key, v)?,
                "num.partitions" => {
                    c.num_partitions = parse_num(key, v)?;
                    if c.num_partitions < 1 {
                        return Err(BrokerError::Config("num.partitions must be >= 1".into()));
                    }
                }
                "default.replication.factor" => {
                    let rf: i32 = parse_num(key, v)?;
                    if rf != 1 {
                        return Err(BrokerError::Config(format!(
                            "default.replication.factor={rf}: a single-node broker supports only 1"
                        )));
                    }
                }
                "auto.create.topics.enable" => {
                    c.auto_create_topics = match v {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(BrokerError::Config(format!(
                                "{key}: expected true or false, got `{v}`"
                            )));
                        }
                    }
                }
                "socket.request.max.bytes" => {
                    let n: i64 = parse_num(key, v)?;
                    c.socket_request_max_bytes = usize::try_from(n)
                        .ok()
                        .filter(|n| *n >= 1024)
                        .ok_or_else(|| BrokerError::Config(format!("{key} must be >= 1024")))?;
                }
                "log.retention.check.interval.ms" => {
                    let n: u64 = parse_num(key, v)?;
                    c.maintenance_interval = Duration::from_millis(n.max(1));
                }
                "group.initial.rebalance.delay.ms" => {
                    c.groups.initial_rebalance_delay_ms = parse_num(key, v)?;
                }
                "group.min.session.timeout.ms" => {
                    c.groups.min_session_timeout_ms = parse_num(key, v)?;
                }
                "group.max.session.timeout.ms" => {
                    c.groups.max_session_timeout_ms = parse_num(key, v)?;
                }
                "group.max.size" => {
                    let n: i64 = parse_num(key, v)?;
                    c.groups.max_size = usize::try_from(n.max(1)).unwrap_or(usize::MAX);
                }
                "group.consumer.max.size" => {
                    let n: i64 = parse_num(key, v)?;
                    c.groups.consumer_max_size = usize::try_from(n.max(1)).unwrap_or(usize::MAX);
                }
                "group.consumer.session.timeout.ms" => {
                    c.groups.consumer_session_timeout_ms = parse_num(key, v)?;
                }
                "group.consumer.heartbeat.interval.ms" => {
                    c.groups.consumer_heartbeat_interval_ms = parse_num(key, v)?;
                }
                "offsets.topic.num.partitions" => {
                    let n: i32 = parse_num(key, v)?;
                    if n < 1 {
                        return Err(BrokerError::Config(format!("{key} must be >= 1")));
                    }
                    c.groups.offsets_partitions = n;
                }
                "offsets.retention.minutes" => {
                    let n: i64 = parse_num(key, v)?;
                    c.groups.offsets_retention_ms = n.max(1).saturating_mul(60_000);
                }
                "offsets.retention.check.interval.ms" => {
                    let n: u64 = parse_num(key, v)?;
                    c.groups.offsets_retention_check_ms = n.max(1);
                }
                "transaction.state.log.num.partitions" => {
                    let n: i32 = parse_num(key, v)?;
                    if n < 1 {
                        return Err(BrokerError::Config(format!("{key} must be >= 1")));
                    }
                    c.transactions.state_partitions = n;
                }
                "transaction.max.timeout.ms" => {
                    let n: i32 = parse_num(key, v)?;
                    if n < 1 {
                        return Err(BrokerError::Config(format!("{key} must be >= 1")));
                    }
                    c.transactions.max_timeout_ms = n;
                }
                "transactional.id.expiration.ms" => {
                    let n: i64 = parse_num(key, v)?;
                    if n < 1 {
                        return Err(BrokerError::Config(format!("{key} must be >= 1")));
                    }
                    c.transactions.id_expiration_ms = n;
                }
                "transaction.abort.timed.out.transaction.cleanup.interval.ms" => {
                    let n: u64 = parse_num(key, v)?;
                    c.transactions.abort_check_interval_ms = n.max(1);
                }
                "offset.metadata.max.bytes" => {
                    let n: usize = parse_num(key, v)?;
                    c.groups.offset_metadata_max_bytes = n;
                }
                "log.retention.ms" => retention.0 = Some(parse_num(key, v)?),
                "log.retention.minutes" => retention.1 = Some(parse_num(key, v)?),
                "log.retention.hours" => retention.2 = Some(parse_num(key, v)?),
                "log.roll.ms" => roll.0 = Some(parse_num(key, v)?),
                "log.roll.hours" => roll.1 = Some(parse_num(key, v)?),
                k if IGNORED_BROKER_KEYS.contains(&k) => {
                    notes.push(format!("{k}={v} accepted; it has no effect on this broker"));
                }
                k => {
                    let Some(def) = topic_def_for_broker_key(k) else {
                        return Err(BrokerError::UnknownConfigKey(k.to_string()));
                    };
                    def.kind.validate(k, v).map_err(BrokerError::Config)?;
                    c.topic_defaults.insert(def.name.to_string(), v.to_string());
                }
            }
        }
        let retention_ms = retention
            .0
            .or(retention.1.map(|m| m.saturating_mul(60_000)))
            .or(retention.2.map(|h| h.saturating_mul(3_600_000)));
        if let Some(ms) = retention_ms {
            let ms = if ms < 0 { -1 } else { ms };
            c.topic_defaults
                .insert("retention.ms".into(), ms.to_string());
        }
        if let Some(ms) = roll.0.or(roll.1.map(|h| h.saturating_mul(3_600_000))) {
            Kind::Long { min: 1 }
                .validate("log.roll.ms", &ms.to_string())
                .map_err(BrokerError::Config)?;
            c.topic_defaults.insert("segment.ms".into(), ms.to_string());
        }
        Ok((c, notes))
    }
}

/// Loads a broker configuration the way the `kafka-broker` binary does: the optional
/// `server.properties` file, then `key=value` overrides on top. Returns the config and notes
/// about accepted-but-ignored keys (to be logged). Shared with the `kafka broker` CLI command.
pub fn load(
    file: Option<&std::path::Path>,
    overrides: &[String],
) -> Result<(BrokerConfig, Vec<String>)> {
    let mut props = match file {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| BrokerError::File {
                path: p.to_path_buf(),
                source,
            })?;
            parse_properties(&text)?
        }
        None => BTreeMap::new(),
    };
    for o in overrides {
        let (k, v) = o
            .split_once('=')
            .ok_or_else(|| BrokerError::Config(format!("--override `{o}` is not key=value")))?;
        props.insert(k.trim().to_string(), v.trim().to_string());
    }
    BrokerConfig::from_properties(&props)
}

/// Parses Java properties text: `key=value` or `key: value` lines, `#`/`!` comments,
/// backslash line continuations.
pub fn parse_properties(text: &str) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut pending = String::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_start();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with('!'))
        {
            continue;
        }
        if let Some(stripped) = line.strip_suffix('\\') {
            pending.push_str(stripped);
            continue;
        }
        pending.push_str(line);
        let full = std::mem::take(&mut pending);
        let idx = full.find(['=', ':']);
        let Some(idx) = idx else {
            return Err(BrokerError::Config(format!(
                "line {}: `{full}` is not key=value",
                n + 1
            )));
        };
        let key = full[..idx].trim().to_string();
        let value = full[idx + 1..].trim().to_string();
        out.insert(key, value);
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_kafka_stock_server_properties() {
        let text = "process.roles=broker,controller\nnode.id=3\ncontroller.quorum.bootstrap.servers=localhost:9093\n\
            listeners=PLAINTEXT://:9092,CONTROLLER://:9093\ninter.broker.listener.name=PLAINTEXT\n\
            advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093\n\
            controller.listener.names=CONTROLLER\n\
            listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n\
            log.dirs=/tmp/kraft-combined-logs\nnum.partitions=2\nlog.retention.hours=168\n\
            log.segment.bytes=1073741824\nlog.retention.check.interval.ms=300000\n";
        let props = parse_properties(text).unwrap();
        let (c, notes) = BrokerConfig::from_properties(&props).unwrap();
        assert_eq!(c.node_id, 3);
        assert_eq!(c.listener, "0.0.0.0:9092");
        assert_eq!(c.advertised.as_deref(), Some("localhost:9092"));
        assert_eq!(c.num_partitions, 2);
        assert_eq!(c.topic_defaults["retention.ms"], "604800000");
        assert!(!notes.is_empty());
    }

    #[test]
    fn unknown_key_is_named() {
        let props = parse_properties("log.retention.hourz=1").unwrap();
        let e = BrokerConfig::from_properties(&props).unwrap_err();
        assert!(e.to_string().contains("log.retention.hourz"), "{e}");
    }

    #[test]
    fn topic_config_validation() {
        assert!(validate_topic_config("retention.ms", "1000").is_ok());
        assert!(validate_topic_config("retention.ms", "x").is_err());
        assert!(validate_topic_config("cleanup.policy", "compact,delete").is_ok());
        assert!(validate_topic_config("cleanup.policy", "nope").is_err());
        assert!(validate_topic_config("no.such", "1").is_err());
    }

    #[test]
    fn log_config_round_trip() {
        let lc = LogConfig {
            retention_ms: Some(5),
            cleanup_policy: CleanupPolicy::Compact,
            ..Default::default()
        };
        let m = log_config_to_topic_configs(&lc);
        let back = log_config_from(|k| m.get(k).cloned().unwrap_or_default());
        assert_eq!(back.retention_ms, Some(5));
        assert!(matches!(back.cleanup_policy, CleanupPolicy::Compact));
    }
}
