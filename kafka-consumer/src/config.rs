//! [`ConsumerConfig`]: the consumer's settings, as a typed builder or from Java property names.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use kafka_client::ClientConfig;
use kafka_client::config::Properties;

use crate::assignor::{
    ConsumerPartitionAssignor, CooperativeStickyAssignor, RangeAssignor, RoundRobinAssignor,
    StickyAssignor,
};
use crate::error::{Error, Result};

/// `group.protocol`: which group membership protocol a subscribing consumer uses.
///
/// ```
/// use kafka_consumer::GroupProtocol;
/// assert_eq!("consumer".parse::<GroupProtocol>().unwrap(), GroupProtocol::Consumer);
/// assert_eq!("CLASSIC".parse::<GroupProtocol>().unwrap(), GroupProtocol::Classic);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupProtocol {
    /// JoinGroup / SyncGroup / Heartbeat with client-side assignors (the default).
    #[default]
    Classic,
    /// KIP-848: ConsumerGroupHeartbeat with server-side assignment (the coordinator's
    /// assignor, chosen with `group.remote.assignor`), incremental reconciliation.
    /// `session.timeout.ms`, `heartbeat.interval.ms` and `partition.assignment.strategy` do
    /// not apply: the broker's `group.consumer.*` settings decide.
    Consumer,
}

impl FromStr for GroupProtocol {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "classic" => Ok(GroupProtocol::Classic),
            "consumer" => Ok(GroupProtocol::Consumer),
            other => Err(format!("expected classic or consumer, got {other:?}")),
        }
    }
}

/// `auto.offset.reset`: where to start when there is no committed offset or the position is
/// out of range.
///
/// ```
/// use kafka_consumer::AutoOffsetReset;
/// assert_eq!("earliest".parse::<AutoOffsetReset>().unwrap(), AutoOffsetReset::Earliest);
/// assert!("sometime".parse::<AutoOffsetReset>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoOffsetReset {
    /// The log start offset.
    Earliest,
    /// The log end offset (the default, as in Java).
    #[default]
    Latest,
    /// No reset: `poll` fails with [`Error::NoOffset`] or [`Error::OffsetOutOfRange`].
    None,
}

impl FromStr for AutoOffsetReset {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "earliest" => Ok(AutoOffsetReset::Earliest),
            "latest" => Ok(AutoOffsetReset::Latest),
            "none" => Ok(AutoOffsetReset::None),
            other => Err(format!("expected earliest, latest or none, got {other:?}")),
        }
    }
}

/// `isolation.level`.
///
/// ```
/// use kafka_consumer::IsolationLevel;
/// assert_eq!("read_committed".parse::<IsolationLevel>().unwrap().id(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    /// Every record up to the high watermark, aborted transactional data included (default).
    #[default]
    ReadUncommitted,
    /// Records up to the last stable offset; aborted transactions are dropped.
    ReadCommitted,
}

impl IsolationLevel {
    /// The wire value (0 or 1).
    pub fn id(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

impl FromStr for IsolationLevel {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "read_uncommitted" => Ok(IsolationLevel::ReadUncommitted),
            "read_committed" => Ok(IsolationLevel::ReadCommitted),
            other => Err(format!(
                "expected read_uncommitted or read_committed, got {other:?}"
            )),
        }
    }
}

/// The consumer's settings. Build with [`ConsumerConfig::builder`] or
/// [`ConsumerConfig::from_properties`]; defaults follow the Java consumer.
///
/// ```
/// use std::time::Duration;
/// use kafka_consumer::{AutoOffsetReset, ConsumerConfig};
///
/// let cfg = ConsumerConfig::builder()
///     .bootstrap_servers("localhost:9092")
///     .group_id("orders")
///     .auto_offset_reset(AutoOffsetReset::Earliest)
///     .max_poll_records(100)
///     .session_timeout(Duration::from_secs(10))
///     .build()?;
/// assert_eq!(cfg.max_poll_records, 100);
/// assert!(cfg.enable_auto_commit);
/// # Ok::<(), kafka_consumer::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ConsumerConfig {
    /// Connection, security, timeouts and retries (every client-level key).
    pub client: ClientConfig,
    /// `group.id`; required by `subscribe` and offset commits.
    pub group_id: Option<String>,
    /// `group.instance.id`: makes the member static (KIP-345).
    pub group_instance_id: Option<String>,
    /// `group.protocol` (classic; `consumer` for KIP-848).
    pub group_protocol: GroupProtocol,
    /// `group.remote.assignor` for `group.protocol=consumer`: the server-side assignor
    /// (`uniform`, `range`; None: the broker's default).
    pub group_remote_assignor: Option<String>,
    /// `partition.assignment.strategy`, preferred first (range, cooperative-sticky); classic
    /// protocol only.
    pub assignors: Vec<Arc<dyn ConsumerPartitionAssignor>>,
    /// `enable.auto.commit` (true when a group id is set).
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms` (5 s).
    pub auto_commit_interval: Duration,
    /// `auto.offset.reset` (latest).
    pub auto_offset_reset: AutoOffsetReset,
    /// `session.timeout.ms` (45 s; classic protocol only).
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (3 s; classic protocol only — KIP-848 members heartbeat at the
    /// interval the coordinator returns).
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms` (5 min): a member that does not poll within it leaves the group.
    /// Also the rebalance timeout sent with JoinGroup / ConsumerGroupHeartbeat.
    pub max_poll_interval: Duration,
    /// `max.poll.records` (500).
    pub max_poll_records: usize,
    /// `fetch.min.bytes` (1).
    pub fetch_min_bytes: i32,
    /// `fetch.max.bytes` (50 MiB).
    pub fetch_max_bytes: i32,
    /// `fetch.max.wait.ms` (500 ms).
    pub fetch_max_wait: Duration,
    /// `max.partition.fetch.bytes` (1 MiB).
    pub max_partition_fetch_bytes: i32,
    /// `isolation.level` (read_uncommitted).
    pub isolation_level: IsolationLevel,
    /// `check.crcs` (true): verify each batch's CRC32C before handing records out.
    pub check_crcs: bool,
    /// `exclude.internal.topics` (true): pattern subscriptions never match internal topics.
    pub exclude_internal_topics: bool,
    /// `allow.auto.create.topics` is accepted and ignored: the consumer never creates topics.
    pub allow_auto_create_topics: bool,
}

impl fmt::Debug for ConsumerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumerConfig")
            .field("client", &self.client)
            .field("group_id", &self.group_id)
            .field("group_instance_id", &self.group_instance_id)
            .field("group_protocol", &self.group_protocol)
            .field(
                "assignors",
                &self.assignors.iter().map(|a| a.name()).collect::<Vec<_>>(),
            )
            .field("enable_auto_commit", &self.enable_auto_commit)
            .field("auto_offset_reset", &self.auto_offset_reset)
            .field("max_poll_records", &self.max_poll_records)
            .field("isolation_level", &self.isolation_level)
            .finish_non_exhaustive()
    }
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            client: ClientConfig::default(),
            group_id: None,
            group_instance_id: None,
            group_protocol: GroupProtocol::Classic,
            group_remote_assignor: None,
            assignors: vec![
                Arc::new(RangeAssignor::new()),
                Arc::new(CooperativeStickyAssignor::new()),
            ],
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            auto_offset_reset: AutoOffsetReset::Latest,
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            max_poll_interval: Duration::from_secs(300),
            max_poll_records: 500,
            fetch_min_bytes: 1,
            fetch_max_bytes: 52_428_800,
            fetch_max_wait: Duration::from_millis(500),
            max_partition_fetch_bytes: 1_048_576,
            isolation_level: IsolationLevel::ReadUncommitted,
            check_crcs: true,
            exclude_internal_topics: true,
            allow_auto_create_topics: true,
        }
    }
}

/// Parses one `partition.assignment.strategy` entry: a Java class name or a short name.
///
/// ```
/// use kafka_consumer::config::assignor_by_name;
/// assert_eq!(assignor_by_name("org.apache.kafka.clients.consumer.RoundRobinAssignor").unwrap().name(), "roundrobin");
/// assert_eq!(assignor_by_name("cooperative-sticky").unwrap().name(), "cooperative-sticky");
/// assert!(assignor_by_name("com.example.Mine").is_none());
/// ```
pub fn assignor_by_name(name: &str) -> Option<Arc<dyn ConsumerPartitionAssignor>> {
    let short = name.trim().rsplit('.').next().unwrap_or_default();
    Some(match short.to_ascii_lowercase().as_str() {
        "rangeassignor" | "range" => Arc::new(RangeAssignor::new()),
        "roundrobinassignor" | "roundrobin" => Arc::new(RoundRobinAssignor::new()),
        "stickyassignor" | "sticky" => Arc::new(StickyAssignor::new()),
        "cooperativestickyassignor" | "cooperative-sticky" => {
            Arc::new(CooperativeStickyAssignor::new())
        }
        _ => return None,
    })
}

impl ConsumerConfig {
    /// A builder with the defaults.
    pub fn builder() -> ConsumerConfigBuilder {
        ConsumerConfigBuilder {
            cfg: ConsumerConfig::default(),
            client: ClientConfig::builder(),
            client_given: false,
            auto_commit_set: false,
        }
    }

    /// Reads a configuration from the Java consumer's property names (client keys such as
    /// `bootstrap.servers` included). Unknown keys and malformed values are errors naming the
    /// key. `key.deserializer`/`value.deserializer` are rejected: deserializers are typed
    /// ([`Consumer::with_deserializers`](crate::Consumer::with_deserializers)).
    ///
    /// ```
    /// use kafka_consumer::{ConsumerConfig, GroupProtocol, IsolationLevel};
    ///
    /// let cfg = ConsumerConfig::from_properties([
    ///     ("bootstrap.servers", "localhost:9092"),
    ///     ("group.id", "billing"),
    ///     ("group.protocol", "classic"),
    ///     ("partition.assignment.strategy", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor"),
    ///     ("isolation.level", "read_committed"),
    ///     ("max.poll.records", "50"),
    /// ])?;
    /// assert_eq!(cfg.assignors[0].name(), "cooperative-sticky");
    /// assert_eq!(cfg.isolation_level, IsolationLevel::ReadCommitted);
    ///
    /// let err = ConsumerConfig::from_properties([("bootstrap.servers", "h:1"), ("fetch.min.byte", "1")]).unwrap_err();
    /// assert!(err.to_string().contains("fetch.min.byte"));
    /// # Ok::<(), kafka_consumer::Error>(())
    /// ```
    pub fn from_properties<K, V>(props: impl IntoIterator<Item = (K, V)>) -> Result<ConsumerConfig>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut p = Properties::new(props);
        let client = ClientConfig::take_from(&mut p)?;
        let mut c = ConsumerConfig {
            client,
            ..ConsumerConfig::default()
        };
        c.group_id = p.take("group.id").filter(|s| !s.is_empty());
        c.group_instance_id = p.take("group.instance.id").filter(|s| !s.is_empty());
        if let Some(v) = p.take_parsed::<GroupProtocol>("group.protocol")? {
            c.group_protocol = v;
        }
        c.group_remote_assignor = p.take("group.remote.assignor").filter(|s| !s.is_empty());
        if let Some(v) = p.take("partition.assignment.strategy") {
            let mut list = Vec::new();
            for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                list.push(assignor_by_name(name).ok_or_else(|| {
                    Error::config(
                        "partition.assignment.strategy",
                        format!("unknown assignor {name:?} (range, roundrobin, sticky, cooperative-sticky or their Java class names)"),
                    )
                })?);
            }
            c.assignors = list;
        }
        let auto_commit = p.take_bool("enable.auto.commit")?;
        c.enable_auto_commit = auto_commit.unwrap_or(c.group_id.is_some());
        p.take_ms("auto.commit.interval.ms", &mut c.auto_commit_interval)?;
        if let Some(v) = p.take_parsed::<AutoOffsetReset>("auto.offset.reset")? {
            c.auto_offset_reset = v;
        }
        p.take_ms("session.timeout.ms", &mut c.session_timeout)?;
        p.take_ms("heartbeat.interval.ms", &mut c.heartbeat_interval)?;
        p.take_ms("max.poll.interval.ms", &mut c.max_poll_interval)?;
        if let Some(v) = p.take_parsed::<usize>("max.poll.records")? {
            c.max_poll_records = v;
        }
        if let Some(v) = p.take_parsed::<i32>("fetch.min.bytes")? {
            c.fetch_min_bytes = v;
        }
        if let Some(v) = p.take_parsed::<i32>("fetch.max.bytes")? {
            c.fetch_max_bytes = v;
        }
        p.take_ms("fetch.max.wait.ms", &mut c.fetch_max_wait)?;
        if let Some(v) = p.take_parsed::<i32>("max.partition.fetch.bytes")? {
            c.max_partition_fetch_bytes = v;
        }
        if let Some(v) = p.take_parsed::<IsolationLevel>("isolation.level")? {
            c.isolation_level = v;
        }
        if let Some(v) = p.take_bool("check.crcs")? {
            c.check_crcs = v;
        }
        if let Some(v) = p.take_bool("exclude.internal.topics")? {
            c.exclude_internal_topics = v;
        }
        if let Some(v) = p.take_bool("allow.auto.create.topics")? {
            c.allow_auto_create_topics = v;
        }
        for key in ["key.deserializer", "value.deserializer"] {
            if p.take(key).is_some() {
                return Err(Error::config(
                    key,
                    "deserializers are typed in Rust: use Consumer::with_deserializers",
                ));
            }
        }
        p.finish()?;
        c.validate()?;
        Ok(c)
    }

    /// Checks contradictions (the builder and `from_properties` call it).
    pub fn validate(&self) -> Result<()> {
        if self.assignors.is_empty() {
            return Err(Error::config(
                "partition.assignment.strategy",
                "needs at least one assignor",
            ));
        }
        if self.max_poll_records == 0 {
            return Err(Error::config("max.poll.records", "must be at least 1"));
        }
        if self.heartbeat_interval >= self.session_timeout {
            return Err(Error::config(
                "heartbeat.interval.ms",
                "must be lower than session.timeout.ms",
            ));
        }
        if self.fetch_max_bytes <= 0 || self.max_partition_fetch_bytes <= 0 {
            return Err(Error::config(
                "fetch.max.bytes",
                "fetch.max.bytes and max.partition.fetch.bytes must be positive",
            ));
        }
        if self.group_protocol == GroupProtocol::Classic && self.group_remote_assignor.is_some() {
            // As Java's ConsumerConfig: the server-side assignor only exists for KIP-848.
            return Err(Error::config(
                "group.remote.assignor",
                "cannot be set when group.protocol=classic",
            ));
        }
        if self.group_instance_id.is_some() && self.group_id.is_none() {
            return Err(Error::config("group.instance.id", "needs group.id"));
        }
        if self.enable_auto_commit && self.group_id.is_none() {
            return Err(Error::config(
                "enable.auto.commit",
                "auto commit needs group.id (set enable.auto.commit=false to consume without a group)",
            ));
        }
        Ok(())
    }
}

/// Builder for [`ConsumerConfig`] (see there).
#[derive(Debug)]
pub struct ConsumerConfigBuilder {
    cfg: ConsumerConfig,
    client: kafka_client::config::ClientConfigBuilder,
    client_given: bool,
    auto_commit_set: bool,
}

macro_rules! setters {
    ($($(#[$m:meta])* $name:ident: $ty:ty;)*) => {$(
        $(#[$m])*
        pub fn $name(mut self, v: $ty) -> Self {
            self.cfg.$name = v;
            self
        }
    )*};
}

impl ConsumerConfigBuilder {
    /// `bootstrap.servers` (comma-separated `host:port`).
    pub fn bootstrap_servers(mut self, servers: impl Into<String>) -> Self {
        self.client = self.client.bootstrap_servers(servers);
        self
    }

    /// `client.id`.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client = self.client.client_id(id);
        self
    }

    /// `client.rack`: sent in Fetch requests so the broker can point at a closer replica.
    pub fn client_rack(mut self, rack: impl Into<String>) -> Self {
        self.client = self.client.client_rack(rack);
        self
    }

    /// Every client-level setting at once (replaces `bootstrap_servers`/`client_id`/...).
    pub fn client_config(mut self, client: ClientConfig) -> Self {
        self.cfg.client = client;
        self.client = kafka_client::ClientConfig::builder();
        self.client_given = true;
        self
    }

    /// `group.id`.
    pub fn group_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.group_id = Some(id.into());
        self
    }

    /// `group.instance.id` (static membership).
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.group_instance_id = Some(id.into());
        self
    }

    /// `partition.assignment.strategy`: the assignors, preferred first.
    pub fn assignors(mut self, assignors: Vec<Arc<dyn ConsumerPartitionAssignor>>) -> Self {
        self.cfg.assignors = assignors;
        self
    }

    /// One assignor only.
    pub fn assignor(self, assignor: impl ConsumerPartitionAssignor + 'static) -> Self {
        self.assignors(vec![Arc::new(assignor)])
    }

    /// `enable.auto.commit`.
    pub fn enable_auto_commit(mut self, v: bool) -> Self {
        self.cfg.enable_auto_commit = v;
        self.auto_commit_set = true;
        self
    }

    /// `group.remote.assignor` (KIP-848 only: `build` refuses it with `group.protocol=classic`).
    pub fn group_remote_assignor(mut self, name: impl Into<String>) -> Self {
        self.cfg.group_remote_assignor = Some(name.into());
        self
    }

    setters! {
        /// `group.protocol`.
        group_protocol: GroupProtocol;
        /// `auto.commit.interval.ms`.
        auto_commit_interval: Duration;
        /// `auto.offset.reset`.
        auto_offset_reset: AutoOffsetReset;
        /// `session.timeout.ms`.
        session_timeout: Duration;
        /// `heartbeat.interval.ms`.
        heartbeat_interval: Duration;
        /// `max.poll.interval.ms`.
        max_poll_interval: Duration;
        /// `max.poll.records`.
        max_poll_records: usize;
        /// `fetch.min.bytes`.
        fetch_min_bytes: i32;
        /// `fetch.max.bytes`.
        fetch_max_bytes: i32;
        /// `fetch.max.wait.ms`.
        fetch_max_wait: Duration;
        /// `max.partition.fetch.bytes`.
        max_partition_fetch_bytes: i32;
        /// `isolation.level`.
        isolation_level: IsolationLevel;
        /// `check.crcs`.
        check_crcs: bool;
    }

    /// Client-level overall operation deadline (`default.api.timeout.ms`).
    pub fn default_api_timeout(mut self, d: Duration) -> Self {
        self.client = self.client.default_api_timeout(d);
        self
    }

    /// Validates and builds.
    pub fn build(mut self) -> Result<ConsumerConfig> {
        if !self.client_given {
            self.cfg.client = self.client.build()?;
        }
        if !self.auto_commit_set && self.cfg.group_id.is_none() {
            self.cfg.enable_auto_commit = false;
        }
        self.cfg.validate()?;
        Ok(self.cfg)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn properties_with_java_names() {
        let c = ConsumerConfig::from_properties([
            ("bootstrap.servers", "a:1"),
            ("group.id", "g"),
            ("group.instance.id", "i-1"),
            ("group.protocol", "consumer"),
            (
                "partition.assignment.strategy",
                "org.apache.kafka.clients.consumer.RangeAssignor, roundrobin,sticky",
            ),
            ("enable.auto.commit", "false"),
            ("auto.commit.interval.ms", "1000"),
            ("auto.offset.reset", "earliest"),
            ("session.timeout.ms", "10000"),
            ("heartbeat.interval.ms", "1000"),
            ("max.poll.interval.ms", "20000"),
            ("max.poll.records", "7"),
            ("fetch.min.bytes", "10"),
            ("fetch.max.bytes", "1000000"),
            ("fetch.max.wait.ms", "100"),
            ("max.partition.fetch.bytes", "2000"),
            ("isolation.level", "read_committed"),
            ("client.rack", "r1"),
        ])
        .unwrap();
        assert_eq!(c.group_id.as_deref(), Some("g"));
        assert_eq!(c.group_instance_id.as_deref(), Some("i-1"));
        assert_eq!(c.group_protocol, GroupProtocol::Consumer);
        let names: Vec<_> = c.assignors.iter().map(|a| a.name()).collect();
        assert_eq!(names, ["range", "roundrobin", "sticky"]);
        assert!(!c.enable_auto_commit);
        assert_eq!(c.auto_commit_interval, Duration::from_secs(1));
        assert_eq!(c.auto_offset_reset, AutoOffsetReset::Earliest);
        assert_eq!(c.session_timeout, Duration::from_secs(10));
        assert_eq!(c.max_poll_interval, Duration::from_secs(20));
        assert_eq!(c.max_poll_records, 7);
        assert_eq!(c.fetch_min_bytes, 10);
        assert_eq!(c.fetch_max_bytes, 1_000_000);
        assert_eq!(c.fetch_max_wait, Duration::from_millis(100));
        assert_eq!(c.max_partition_fetch_bytes, 2000);
        assert_eq!(c.isolation_level, IsolationLevel::ReadCommitted);
        assert_eq!(c.client.client_rack.as_deref(), Some("r1"));
    }

    #[test]
    fn defaults_and_errors() {
        let c = ConsumerConfig::from_properties([("bootstrap.servers", "a:1")]).unwrap();
        assert!(!c.enable_auto_commit, "no group id: no auto commit");
        assert_eq!(c.max_poll_records, 500);
        assert_eq!(c.auto_offset_reset, AutoOffsetReset::Latest);
        let names: Vec<_> = c.assignors.iter().map(|a| a.name()).collect();
        assert_eq!(names, ["range", "cooperative-sticky"]);

        let cases: &[(&str, &str, &str)] = &[
            ("nope.key", "1", "nope.key"),
            ("auto.offset.reset", "middle", "auto.offset.reset"),
            (
                "partition.assignment.strategy",
                "x.Y",
                "partition.assignment.strategy",
            ),
            ("group.protocol", "share", "group.protocol"),
            ("max.poll.records", "0", "max.poll.records"),
            ("isolation.level", "dirty", "isolation.level"),
            (
                "value.deserializer",
                "org.apache.kafka.common.serialization.StringDeserializer",
                "value.deserializer",
            ),
            ("enable.auto.commit", "true", "enable.auto.commit"),
            ("group.instance.id", "x", "group.instance.id"),
            ("heartbeat.interval.ms", "60000", "heartbeat.interval.ms"),
            ("group.remote.assignor", "uniform", "group.remote.assignor"),
        ];
        for (k, v, named) in cases {
            let err = ConsumerConfig::from_properties([("bootstrap.servers", "a:1"), (k, v)])
                .unwrap_err()
                .to_string();
            assert!(err.contains(named), "{k}={v}: {err}");
        }
    }

    #[test]
    fn builder_defaults_auto_commit_from_group() {
        let c = ConsumerConfig::builder()
            .bootstrap_servers("a:1")
            .build()
            .unwrap();
        assert!(!c.enable_auto_commit);
        let c = ConsumerConfig::builder()
            .bootstrap_servers("a:1")
            .group_id("g")
            .build()
            .unwrap();
        assert!(c.enable_auto_commit);
        assert!(ConsumerConfig::builder().build().is_err());
    }
}
