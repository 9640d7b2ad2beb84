//! [`ProducerConfig`]: the producer's settings, with a typed builder and the Java client's
//! property names ([`ProducerConfig::from_properties`]).
//!
//! Defaults follow the Java client 4.x: `acks=all`, idempotence on, `linger.ms=5`,
//! `batch.size=16384`, `buffer.memory=32 MiB`, `max.in.flight.requests.per.connection=5`,
//! `delivery.timeout.ms=120000`, `request.timeout.ms=30000`, `max.block.ms=60000`,
//! `max.request.size=1 MiB`, `retries=i32::MAX`.
//!
//! Contradictions are rejected as the Java client does (3.0+): idempotence that was asked for
//! explicitly needs `acks=all`, `retries > 0` and at most 5 requests in flight; when
//! idempotence was *not* set explicitly, such settings silently turn it off.
//!
//! `transactional.id` makes the producer transactional (see
//! [`Producer::init_transactions`](crate::Producer::init_transactions)); as in Java it needs
//! idempotence: setting `enable.idempotence=false` with it, or a setting that turns implicit
//! idempotence off (`acks` other than all, `retries=0`, more than 5 requests in flight), is an
//! error naming the key. `transaction.timeout.ms` (60 s) is how long the coordinator lets a
//! transaction stay open before it aborts it.

use std::sync::Arc;
use std::time::Duration;

use kafka_client::ClientConfig;
use kafka_client::config::Properties;
use kafka_protocol::compression::Compression;

use crate::ProducerError;
use crate::partitioner::Partitioner;

/// How many acknowledgements the leader waits for before answering (`acks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acks {
    /// `acks=0`: no response at all; records complete once written to the socket, offset -1.
    None,
    /// `acks=1`: the leader's own write.
    Leader,
    /// `acks=all` (or `-1`): every in-sync replica. The default.
    #[default]
    All,
}

impl Acks {
    /// The wire value (0, 1, -1).
    pub fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

impl std::str::FromStr for Acks {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "0" => Ok(Acks::None),
            "1" => Ok(Acks::Leader),
            "all" | "-1" => Ok(Acks::All),
            other => Err(format!("expected all, -1, 0 or 1, got {other:?}")),
        }
    }
}

/// Which partitioner picks partitions for records without an explicit one.
#[derive(Debug, Clone, Default)]
pub enum PartitionerChoice {
    /// The Java client's built-in partitioner: murmur2 of the serialized key for keyed records
    /// (unless `partitioner.ignore.keys`), uniform sticky for keyless ones.
    #[default]
    Default,
    /// Round-robin over available partitions, keys ignored
    /// (`org.apache.kafka.clients.producer.RoundRobinPartitioner`).
    RoundRobin,
    /// A custom partitioner; when it returns `None` the uniform sticky choice applies.
    Custom(Arc<dyn Partitioner>),
}

/// The producer's settings. Build with [`ProducerConfig::builder`] or
/// [`ProducerConfig::from_properties`].
///
/// ```
/// use std::time::Duration;
/// use kafka_producer::config::{Acks, ProducerConfig};
///
/// let cfg = ProducerConfig::builder("localhost:9092")
///     .acks(Acks::All)
///     .linger(Duration::from_millis(10))
///     .compression("lz4".parse().unwrap())
///     .build()
///     .unwrap();
/// assert!(cfg.idempotence());
///
/// let cfg = ProducerConfig::from_properties([
///     ("bootstrap.servers", "localhost:9092"),
///     ("acks", "1"),
///     ("linger.ms", "20"),
/// ]).unwrap();
/// assert_eq!(cfg.acks, Acks::Leader);
/// assert!(!cfg.idempotence(), "acks=1 turns idempotence off when it was not asked for");
///
/// let err = ProducerConfig::from_properties([
///     ("bootstrap.servers", "localhost:9092"),
///     ("acks", "1"),
///     ("enable.idempotence", "true"),
/// ]).unwrap_err();
/// assert!(err.to_string().contains("acks"));
/// let err = ProducerConfig::from_properties([("bootstrap.servers", "h:1"), ("lingr.ms", "5")]).unwrap_err();
/// assert!(err.to_string().contains("lingr.ms"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ProducerConfig {
    /// Connection settings shared with every client role (`bootstrap.servers`, TLS, SASL,
    /// `request.timeout.ms`, `retry.backoff.ms`, `max.in.flight.requests.per.connection`, …).
    pub client: ClientConfig,
    /// `acks` (all).
    pub acks: Acks,
    /// `linger.ms` (5 ms): how long a batch waits for more records before it is sent.
    pub linger: Duration,
    /// `batch.size` (16384): a batch is sent once its records reach this many bytes.
    pub batch_size: usize,
    /// `buffer.memory` (32 MiB): bytes of records buffered before `send` waits.
    pub buffer_memory: usize,
    /// `compression.type` (none).
    pub compression: Compression,
    /// `compression.level`, or Java's `compression.{gzip,lz4,zstd}.level` for the chosen codec.
    pub compression_level: Option<i32>,
    /// `enable.idempotence` as given (`None` = not set: on unless other settings contradict it).
    pub enable_idempotence: Option<bool>,
    /// `delivery.timeout.ms` (120 s): upper bound from `send` to success or failure.
    pub delivery_timeout: Duration,
    /// `retries` (i32::MAX).
    pub retries: u32,
    /// `max.block.ms` (60 s): how long `send` waits for metadata and buffer space.
    pub max_block: Duration,
    /// `max.request.size` (1 MiB): largest record, and largest Produce request.
    pub max_request_size: usize,
    /// `partitioner.class`: default, round-robin, or a custom one.
    pub partitioner: PartitionerChoice,
    /// `partitioner.ignore.keys` (false): keyed records are spread like keyless ones.
    pub partitioner_ignore_keys: bool,
    /// `transactional.id`: makes the producer transactional (implies idempotence).
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms` (60 s): the longest a transaction may stay open before the
    /// coordinator aborts it.
    pub transaction_timeout: Duration,
    acks_explicit: bool,
    retries_explicit: bool,
    in_flight_explicit: bool,
    delivery_timeout_explicit: bool,
}

impl ProducerConfig {
    /// A builder with the Java defaults and these bootstrap servers.
    pub fn builder(bootstrap_servers: impl Into<String>) -> ProducerConfigBuilder {
        ProducerConfigBuilder {
            client: ClientConfig::builder().bootstrap_servers(bootstrap_servers),
            client_cfg: None,
            cfg: ProducerConfig::defaults(ClientConfig::default()),
        }
    }

    fn defaults(client: ClientConfig) -> ProducerConfig {
        ProducerConfig {
            client,
            acks: Acks::All,
            linger: Duration::from_millis(5),
            batch_size: 16_384,
            buffer_memory: 32 * 1024 * 1024,
            compression: Compression::None,
            compression_level: None,
            enable_idempotence: None,
            delivery_timeout: Duration::from_secs(120),
            retries: i32::MAX as u32,
            max_block: Duration::from_secs(60),
            max_request_size: 1024 * 1024,
            partitioner: PartitionerChoice::Default,
            partitioner_ignore_keys: false,
            transactional_id: None,
            transaction_timeout: Duration::from_secs(60),
            acks_explicit: false,
            retries_explicit: false,
            in_flight_explicit: false,
            delivery_timeout_explicit: false,
        }
    }

    /// Reads the Java producer property names (see the module docs) plus every client key
    /// [`ClientConfig::take_from`] knows. Unknown keys and malformed values are errors naming
    /// the key.
    pub fn from_properties<K, V>(
        props: impl IntoIterator<Item = (K, V)>,
    ) -> Result<ProducerConfig, ProducerError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut p = Properties::new(props);
        let c = |e: kafka_client::Error| match e {
            kafka_client::Error::Config { key, message } => ProducerError::Config { key, message },
            other => ProducerError::Client(other),
        };
        let acks = take_parsed::<Acks>(&mut p, "acks")?;
        let linger = p.take_parsed::<u64>("linger.ms").map_err(c)?;
        let batch_size = p.take_parsed::<usize>("batch.size").map_err(c)?;
        let buffer_memory = p.take_parsed::<usize>("buffer.memory").map_err(c)?;
        let compression = take_parsed::<Compression>(&mut p, "compression.type")?;
        let level = p.take_parsed::<i32>("compression.level").map_err(c)?;
        let gzip_level = p.take_parsed::<i32>("compression.gzip.level").map_err(c)?;
        let lz4_level = p.take_parsed::<i32>("compression.lz4.level").map_err(c)?;
        let zstd_level = p.take_parsed::<i32>("compression.zstd.level").map_err(c)?;
        let in_flight = p
            .take_parsed::<usize>("max.in.flight.requests.per.connection")
            .map_err(c)?;
        let idempotence = p.take_bool("enable.idempotence").map_err(c)?;
        let delivery = p.take_parsed::<u64>("delivery.timeout.ms").map_err(c)?;
        let retries = p.take_parsed::<i64>("retries").map_err(c)?;
        let max_block = p.take_parsed::<u64>("max.block.ms").map_err(c)?;
        let max_request = p.take_parsed::<usize>("max.request.size").map_err(c)?;
        let partitioner = p.take("partitioner.class");
        let ignore_keys = p.take_bool("partitioner.ignore.keys").map_err(c)?;
        let txn = p.take("transactional.id").filter(|s| !s.is_empty());
        let txn_timeout = p.take_parsed::<u64>("transaction.timeout.ms").map_err(c)?;
        let mut client = ClientConfig::take_from(&mut p).map_err(c)?;
        p.finish().map_err(c)?;

        let mut cfg = ProducerConfig::defaults(ClientConfig::default());
        if let Some(a) = acks {
            cfg.acks = a;
            cfg.acks_explicit = true;
        }
        if let Some(v) = linger {
            cfg.linger = Duration::from_millis(v);
        }
        if let Some(v) = batch_size {
            cfg.batch_size = v;
        }
        if let Some(v) = buffer_memory {
            cfg.buffer_memory = v;
        }
        if let Some(v) = compression {
            cfg.compression = v;
        }
        cfg.compression_level = level.or(match cfg.compression {
            Compression::Gzip => gzip_level,
            Compression::Lz4 => lz4_level,
            Compression::Zstd => zstd_level,
            _ => None,
        });
        if let Some(v) = in_flight {
            client.max_in_flight_requests_per_connection = v;
            cfg.in_flight_explicit = true;
        }
        cfg.enable_idempotence = idempotence;
        if let Some(v) = delivery {
            cfg.delivery_timeout = Duration::from_millis(v);
            cfg.delivery_timeout_explicit = true;
        }
        if let Some(v) = retries {
            if v < 0 {
                return Err(ProducerError::config("retries", "must be at least 0"));
            }
            cfg.retries = u32::try_from(v).unwrap_or(u32::MAX);
            cfg.retries_explicit = true;
        }
        if let Some(v) = max_block {
            cfg.max_block = Duration::from_millis(v);
        }
        if let Some(v) = max_request {
            cfg.max_request_size = v;
        }
        if let Some(name) = partitioner {
            cfg.partitioner = match name.as_str() {
                ""
                | "default"
                | "org.apache.kafka.clients.producer.internals.DefaultPartitioner" => {
                    PartitionerChoice::Default
                }
                "round-robin"
                | "roundrobin"
                | "round_robin"
                | "org.apache.kafka.clients.producer.RoundRobinPartitioner" => {
                    PartitionerChoice::RoundRobin
                }
                other => {
                    return Err(ProducerError::config(
                        "partitioner.class",
                        format!(
                            "expected default or round-robin, got {other:?} (custom partitioners are set with ProducerBuilder::partitioner)"
                        ),
                    ));
                }
            };
        }
        if let Some(v) = ignore_keys {
            cfg.partitioner_ignore_keys = v;
        }
        cfg.transactional_id = txn;
        if let Some(v) = txn_timeout {
            cfg.transaction_timeout = Duration::from_millis(v);
        }
        cfg.client = client;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Whether the idempotent producer is in effect (explicitly, or by default when nothing
    /// contradicts it).
    pub fn idempotence(&self) -> bool {
        match self.enable_idempotence {
            Some(v) => v,
            None => {
                self.acks == Acks::All
                    && self.retries > 0
                    && self.client.max_in_flight_requests_per_connection <= 5
            }
        }
    }

    /// Checks values and combinations.
    pub fn validate(&self) -> Result<(), ProducerError> {
        self.client.validate().map_err(|e| match e {
            kafka_client::Error::Config { key, message } => ProducerError::Config { key, message },
            other => ProducerError::Client(other),
        })?;
        if self.transactional_id.is_some() {
            if self.enable_idempotence == Some(false) {
                return Err(ProducerError::config(
                    "enable.idempotence",
                    "cannot be false with a transactional.id (transactions need idempotence)",
                ));
            }
            if !self.idempotence() {
                let key = if self.acks != Acks::All {
                    "acks"
                } else if self.retries == 0 {
                    "retries"
                } else {
                    "max.in.flight.requests.per.connection"
                };
                return Err(ProducerError::config(
                    key,
                    "contradicts the idempotence a transactional.id needs (acks=all, retries > 0, at most 5 in flight)",
                ));
            }
        }
        let ms = self.transaction_timeout.as_millis();
        if ms == 0 || ms > i32::MAX as u128 {
            return Err(ProducerError::config(
                "transaction.timeout.ms",
                "must be between 1 and 2147483647",
            ));
        }
        if self.enable_idempotence == Some(true) {
            if self.acks != Acks::All {
                return Err(ProducerError::config(
                    "acks",
                    "must be all (-1) when enable.idempotence=true",
                ));
            }
            if self.retries == 0 {
                return Err(ProducerError::config(
                    "retries",
                    "must be greater than 0 when enable.idempotence=true",
                ));
            }
            if self.client.max_in_flight_requests_per_connection > 5 {
                return Err(ProducerError::config(
                    "max.in.flight.requests.per.connection",
                    "must be at most 5 when enable.idempotence=true",
                ));
            }
        }
        let _ = (
            self.acks_explicit,
            self.retries_explicit,
            self.in_flight_explicit,
        );
        if self.buffer_memory == 0 {
            return Err(ProducerError::config("buffer.memory", "must be at least 1"));
        }
        if self.max_request_size == 0 {
            return Err(ProducerError::config(
                "max.request.size",
                "must be at least 1",
            ));
        }
        if self.max_request_size > i32::MAX as usize {
            return Err(ProducerError::config(
                "max.request.size",
                "must fit in an int32",
            ));
        }
        let min_delivery = self.linger + self.client.request_timeout;
        if self.delivery_timeout < min_delivery && self.delivery_timeout_explicit {
            return Err(ProducerError::config(
                "delivery.timeout.ms",
                format!(
                    "must be at least linger.ms + request.timeout.ms ({} ms)",
                    min_delivery.as_millis()
                ),
            ));
        }
        if let Some(l) = self.compression_level {
            let ok = match self.compression {
                Compression::Gzip => l == -1 || (1..=9).contains(&l),
                Compression::Lz4 => (1..=17).contains(&l),
                Compression::Zstd => (-131_072..=22).contains(&l),
                _ => true,
            };
            if !ok {
                return Err(ProducerError::config(
                    "compression.level",
                    format!("{l} is out of range for {}", self.compression),
                ));
            }
        }
        Ok(())
    }

    /// The effective delivery timeout (raised to `linger.ms + request.timeout.ms` when it was
    /// not set explicitly, as the Java client does).
    pub(crate) fn effective_delivery_timeout(&self) -> Duration {
        self.delivery_timeout
            .max(self.linger + self.client.request_timeout)
    }
}

fn take_parsed<T>(p: &mut Properties, key: &str) -> Result<Option<T>, ProducerError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match p.take(key) {
        None => Ok(None),
        Some(v) => v
            .parse::<T>()
            .map(Some)
            .map_err(|e| ProducerError::config(key, e.to_string())),
    }
}

/// Builder for [`ProducerConfig`]; `build` validates.
#[derive(Debug)]
pub struct ProducerConfigBuilder {
    client: kafka_client::config::ClientConfigBuilder,
    client_cfg: Option<ClientConfig>,
    cfg: ProducerConfig,
}

macro_rules! setter {
    ($(#[$doc:meta] $name:ident: $ty:ty => $field:ident $(, $flag:ident)?;)*) => {$(
        #[$doc]
        pub fn $name(mut self, v: $ty) -> Self {
            self.cfg.$field = v;
            $(self.cfg.$flag = true;)?
            self
        }
    )*};
}

impl ProducerConfigBuilder {
    setter! {
        /// `acks`.
        acks: Acks => acks, acks_explicit;
        /// `linger.ms`.
        linger: Duration => linger;
        /// `batch.size` in bytes.
        batch_size: usize => batch_size;
        /// `buffer.memory` in bytes.
        buffer_memory: usize => buffer_memory;
        /// `compression.type`.
        compression: Compression => compression;
        /// The codec's level (`None` = its default).
        compression_level: Option<i32> => compression_level;
        /// `delivery.timeout.ms`.
        delivery_timeout: Duration => delivery_timeout, delivery_timeout_explicit;
        /// `retries`.
        retries: u32 => retries, retries_explicit;
        /// `max.block.ms`.
        max_block: Duration => max_block;
        /// `max.request.size` in bytes.
        max_request_size: usize => max_request_size;
        /// `partitioner.ignore.keys`.
        partitioner_ignore_keys: bool => partitioner_ignore_keys;
        /// The partitioner (default, round-robin or custom).
        partitioner: PartitionerChoice => partitioner;
    }

    /// `enable.idempotence` (explicit; contradictions become errors).
    pub fn enable_idempotence(mut self, on: bool) -> Self {
        self.cfg.enable_idempotence = Some(on);
        self
    }

    /// `transactional.id`: makes the producer transactional.
    pub fn transactional_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.transactional_id = Some(id.into());
        self
    }

    /// `transaction.timeout.ms`.
    pub fn transaction_timeout(mut self, d: Duration) -> Self {
        self.cfg.transaction_timeout = d;
        self
    }

    /// `max.in.flight.requests.per.connection`.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.client = self.client.max_in_flight_requests_per_connection(n);
        self.cfg.in_flight_explicit = true;
        self
    }

    /// `request.timeout.ms`.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.client = self.client.request_timeout(d);
        self
    }

    /// `retry.backoff.ms`.
    pub fn retry_backoff(mut self, d: Duration) -> Self {
        self.client = self.client.retry_backoff(d);
        self
    }

    /// `client.id`.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client = self.client.client_id(id);
        self
    }

    /// Edits the client-level builder (TLS, SASL, backoffs, timeouts…).
    pub fn client(
        mut self,
        f: impl FnOnce(
            kafka_client::config::ClientConfigBuilder,
        ) -> kafka_client::config::ClientConfigBuilder,
    ) -> Self {
        self.client = f(self.client);
        self
    }

    /// Uses this complete client configuration (the bootstrap servers of `builder` and the
    /// client-level setters above are then ignored).
    pub fn client_config(mut self, cfg: ClientConfig) -> Self {
        self.client_cfg = Some(cfg);
        self
    }

    /// Validates and returns the configuration.
    pub fn build(self) -> Result<ProducerConfig, ProducerError> {
        let client = match self.client_cfg {
            Some(c) => c,
            None => self.client.build().map_err(|e| match e {
                kafka_client::Error::Config { key, message } => {
                    ProducerError::Config { key, message }
                }
                other => ProducerError::Client(other),
            })?,
        };
        let mut cfg = self.cfg;
        cfg.client = client;
        cfg.validate()?;
        Ok(cfg)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn props(extra: &[(&str, &str)]) -> Result<ProducerConfig, ProducerError> {
        let mut v = vec![("bootstrap.servers", "h:1")];
        v.extend_from_slice(extra);
        ProducerConfig::from_properties(v)
    }

    #[test]
    fn java_defaults() {
        let c = props(&[]).unwrap();
        assert_eq!(c.acks, Acks::All);
        assert_eq!(c.linger, Duration::from_millis(5));
        assert_eq!(c.batch_size, 16_384);
        assert_eq!(c.buffer_memory, 32 << 20);
        assert_eq!(c.max_request_size, 1 << 20);
        assert_eq!(c.retries, i32::MAX as u32);
        assert_eq!(c.delivery_timeout, Duration::from_secs(120));
        assert_eq!(c.max_block, Duration::from_secs(60));
        assert_eq!(c.client.max_in_flight_requests_per_connection, 5);
        assert!(c.idempotence());
    }

    #[test]
    fn java_names_are_read() {
        let c = props(&[
            ("acks", "-1"),
            ("linger.ms", "7"),
            ("batch.size", "1000"),
            ("buffer.memory", "2000000"),
            ("compression.type", "zstd"),
            ("compression.zstd.level", "3"),
            ("max.in.flight.requests.per.connection", "3"),
            ("delivery.timeout.ms", "60000"),
            ("request.timeout.ms", "10000"),
            ("retries", "10"),
            ("retry.backoff.ms", "50"),
            ("max.block.ms", "100"),
            ("max.request.size", "5000"),
            (
                "partitioner.class",
                "org.apache.kafka.clients.producer.RoundRobinPartitioner",
            ),
            ("partitioner.ignore.keys", "true"),
            ("client.id", "me"),
        ])
        .unwrap();
        assert_eq!(c.linger, Duration::from_millis(7));
        assert_eq!(c.batch_size, 1000);
        assert_eq!(c.compression, Compression::Zstd);
        assert_eq!(c.compression_level, Some(3));
        assert_eq!(c.client.max_in_flight_requests_per_connection, 3);
        assert_eq!(c.client.request_timeout, Duration::from_secs(10));
        assert_eq!(c.client.retry_backoff, Duration::from_millis(50));
        assert_eq!(c.retries, 10);
        assert!(matches!(c.partitioner, PartitionerChoice::RoundRobin));
        assert!(c.partitioner_ignore_keys);
        assert!(c.idempotence());
    }

    #[test]
    fn idempotence_contradictions() {
        // implicit idempotence is turned off silently
        assert!(!props(&[("acks", "0")]).unwrap().idempotence());
        assert!(!props(&[("retries", "0")]).unwrap().idempotence());
        assert!(
            !props(&[("max.in.flight.requests.per.connection", "6")])
                .unwrap()
                .idempotence()
        );
        // explicit idempotence + contradiction is an error naming the key
        for (k, v) in [
            ("acks", "1"),
            ("retries", "0"),
            ("max.in.flight.requests.per.connection", "6"),
        ] {
            let e = props(&[("enable.idempotence", "true"), (k, v)]).unwrap_err();
            assert!(e.to_string().contains(k), "{e}");
        }
        assert!(
            !props(&[("enable.idempotence", "false")])
                .unwrap()
                .idempotence()
        );
    }

    #[test]
    fn errors_name_the_key() {
        for (k, v) in [
            ("acks", "2"),
            ("linger.ms", "soon"),
            ("compression.type", "brotli"),
            ("partitioner.class", "com.example.Mine"),
            ("no.such.key", "1"),
            ("transaction.timeout.ms", "0"),
            ("retries", "-1"),
            ("buffer.memory", "0"),
            ("delivery.timeout.ms", "10"),
        ] {
            let e = props(&[(k, v)]).unwrap_err();
            assert!(e.to_string().contains(k), "{k}: {e}");
        }
    }

    #[test]
    fn transactional_id_implies_idempotence() {
        let c = props(&[("transactional.id", "tx")]).unwrap();
        assert_eq!(c.transactional_id.as_deref(), Some("tx"));
        assert!(c.idempotence());
        assert_eq!(c.transaction_timeout, Duration::from_secs(60));
        let c = props(&[
            ("transactional.id", "tx"),
            ("transaction.timeout.ms", "9000"),
        ])
        .unwrap();
        assert_eq!(c.transaction_timeout, Duration::from_millis(9000));
        let e = props(&[("transactional.id", "tx"), ("enable.idempotence", "false")]).unwrap_err();
        assert!(e.to_string().contains("enable.idempotence"), "{e}");
        let e = props(&[("transactional.id", "tx"), ("acks", "1")]).unwrap_err();
        assert!(e.to_string().contains("acks"), "{e}");
        let e = props(&[("transactional.id", "tx"), ("retries", "0")]).unwrap_err();
        assert!(e.to_string().contains("retries"), "{e}");
        // an empty id means "not transactional", as in Java
        assert!(
            props(&[("transactional.id", "")])
                .unwrap()
                .transactional_id
                .is_none()
        );
    }

    #[test]
    fn builder_validates() {
        assert!(
            ProducerConfig::builder("h:1")
                .acks(Acks::Leader)
                .enable_idempotence(true)
                .build()
                .is_err()
        );
        let c = ProducerConfig::builder("h:1")
            .acks(Acks::Leader)
            .max_in_flight(10)
            .build()
            .unwrap();
        assert!(!c.idempotence());
        assert!(ProducerConfig::builder("").build().is_err());
    }
}
