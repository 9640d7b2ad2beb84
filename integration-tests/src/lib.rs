//! The integration suite's harness: which cluster a test runs against, a small blocking wire
//! connection built on `kafka-protocol`, and helpers (unique topic names, topic creation,
//! waiting with a deadline).
//!
//! A suite is written once and runs against whatever [`TestCluster::from_env`] returns:
//!
//! - `KAFKA_BOOTSTRAP_SERVERS=host:port` — an existing cluster ([`TestCluster::External`]);
//!   `scripts/integration` starts real Apache Kafka 4.x from Maven Central jars and sets it.
//! - otherwise the bundled broker in-process ([`TestCluster::Embedded`]): `kafka-broker` on a
//!   free loopback port with a temporary data directory ([`EmbeddedBroker`]).
//!
//! ```no_run
//! use integration_tests::{EmbeddedBroker, TestCluster};
//! let cluster = TestCluster::from_env();
//! let embedded = match cluster {
//!     TestCluster::Embedded => Some(EmbeddedBroker::start().unwrap()),
//!     _ => None,
//! };
//! let bootstrap = cluster.first_bootstrap().or_else(|| embedded.as_ref().map(|b| b.bootstrap())).unwrap();
//! let mut conn = integration_tests::wire::Connection::connect(&bootstrap).unwrap();
//! println!("{} APIs", conn.broker_versions().len());
//! ```

pub mod admin;
pub mod secure;
pub mod wire;

use std::time::{Duration, Instant};

/// Where the integration suite runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestCluster {
    /// The bundled broker, started in-process for the test.
    Embedded,
    /// Real Apache Kafka started as a local process by `scripts/apache-kafka.sh`.
    ApacheKafka {
        /// Its bootstrap address.
        bootstrap: String,
    },
    /// Any existing cluster named by `KAFKA_BOOTSTRAP_SERVERS`.
    External {
        /// Its bootstrap address(es), comma separated.
        bootstrap: String,
    },
}

impl TestCluster {
    /// Chooses the cluster from the environment: `KAFKA_BOOTSTRAP_SERVERS` (with
    /// `KAFKA_SUITE_CLUSTER=apache-kafka` when `scripts/integration` started it), else embedded.
    pub fn from_env() -> TestCluster {
        match std::env::var("KAFKA_BOOTSTRAP_SERVERS") {
            Ok(b) if !b.trim().is_empty() => {
                if std::env::var("KAFKA_SUITE_CLUSTER").as_deref() == Ok("apache-kafka") {
                    TestCluster::ApacheKafka { bootstrap: b }
                } else {
                    TestCluster::External { bootstrap: b }
                }
            }
            _ => TestCluster::Embedded,
        }
    }

    /// A short name for test output.
    pub fn name(&self) -> &'static str {
        match self {
            TestCluster::Embedded => "embedded",
            TestCluster::ApacheKafka { .. } => "apache-kafka",
            TestCluster::External { .. } => "external",
        }
    }

    /// The first bootstrap address of an existing cluster; `None` for [`TestCluster::Embedded`],
    /// whose address is known once an [`EmbeddedBroker`] has been started.
    pub fn first_bootstrap(&self) -> Option<String> {
        match self {
            TestCluster::Embedded => None,
            TestCluster::ApacheKafka { bootstrap } | TestCluster::External { bootstrap } => {
                bootstrap.split(',').next().map(|s| s.trim().to_string())
            }
        }
    }
}

/// The bundled broker running in-process on its own Tokio runtime: a free loopback port and
/// a temporary data directory, removed when it is shut down or dropped.
#[derive(Debug)]
pub struct EmbeddedBroker {
    runtime: tokio::runtime::Runtime,
    handle: Option<kafka_broker::BrokerHandle>,
    bootstrap: String,
}

impl EmbeddedBroker {
    /// Starts the broker (`127.0.0.1:0`, temporary data dir, topics auto-created,
    /// `group.initial.rebalance.delay.ms=0` as `scripts/apache-kafka.sh` configures Kafka).
    pub fn start() -> Result<EmbeddedBroker, kafka_broker::BrokerError> {
        Self::start_with(None)
    }

    /// Like [`start`](Self::start) on a durable data directory: a broker started again on the
    /// same directory after [`shutdown`](Self::shutdown) finds its topics, committed offsets
    /// and groups.
    pub fn start_in(dir: &std::path::Path) -> Result<EmbeddedBroker, kafka_broker::BrokerError> {
        Self::start_with(Some(dir))
    }

    fn start_with(
        dir: Option<&std::path::Path>,
    ) -> Result<EmbeddedBroker, kafka_broker::BrokerError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("embedded-broker")
            .enable_all()
            .build()?;
        let mut builder = kafka_broker::Broker::builder()
            .config_properties([("group.initial.rebalance.delay.ms", "0")])
            .listener("127.0.0.1:0")
            .auto_create_topics(true);
        if let Some(d) = dir {
            builder = builder.data_dir(d);
        }
        let handle = runtime.block_on(builder.start())?;
        let bootstrap = handle.bootstrap();
        Ok(EmbeddedBroker {
            runtime,
            handle: Some(handle),
            bootstrap,
        })
    }

    /// Its bootstrap address.
    pub fn bootstrap(&self) -> String {
        self.bootstrap.clone()
    }

    /// Graceful shutdown (also done on drop).
    pub fn shutdown(mut self) -> Result<(), kafka_broker::BrokerError> {
        match self.handle.take() {
            Some(h) => self.runtime.block_on(h.shutdown()),
            None => Ok(()),
        }
    }
}

impl Drop for EmbeddedBroker {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = self.runtime.block_on(h.shutdown());
        }
    }
}

/// Topic configuration every test topic is created with: time retention off.
///
/// The cases write records with fixed timestamps (from 2023-11-14, so that timestamp lookups
/// are exact); under a broker's default seven-day retention those are already expired, and
/// the broker's periodic retention check (every five minutes in Apache Kafka) would delete
/// them in the middle of whichever case happens to be running then.
pub const TEST_TOPIC_CONFIGS: &[(&str, &str)] = &[("retention.ms", "-1")];

/// A topic name unique to this test and process.
pub fn unique_topic(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Polls `f` until it returns `Some` or `deadline` passes.
pub fn wait_for<T>(deadline: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
