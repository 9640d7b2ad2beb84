//! The bundled single-node Kafka broker: an embeddable test cluster and the `kafka-broker`
//! binary, speaking the Kafka protocol through `kafka-protocol` only.
//!
//! # Embedding
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), kafka_broker::BrokerError> {
//! use kafka_broker::Broker;
//!
//! let broker = Broker::builder()
//!     .listener("127.0.0.1:0") // any free port
//!     .num_partitions(3)
//!     .auto_create_topics(true)
//!     .start() // no data_dir: a temporary directory, removed on shutdown
//!     .await?;
//! println!("bootstrap.servers={}", broker.bootstrap());
//! broker.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What it serves
//!
//! | API | versions | notes |
//! |---|---|---|
//! | ApiVersions | 0-4 | unknown versions answered with v0 + UNSUPPORTED_VERSION |
//! | Metadata | 0-13 | auto-creation, topic ids, lookup by id |
//! | Produce | 3-13 | acks 0/1/-1, topic ids (v13) |
//! | Fetch | 4-18 | fetch sessions, long polling, topic ids (v13+) |
//! | ListOffsets | 1-11 | earliest/latest/max-timestamp/by-timestamp |
//! | CreateTopics, DeleteTopics, CreatePartitions | 2-7, 1-6, 0-3 | |
//! | DescribeConfigs, AlterConfigs, IncrementalAlterConfigs | 1-4, 0-2, 0-1 | TOPIC and BROKER |
//! | DeleteRecords, OffsetForLeaderEpoch, InitProducerId | 0-2, 2-4, 0-5 | transactional ids (fencing, KIP-360) |
//! | DescribeLogDirs, DescribeCluster | 1-5, 0-2 | |
//! | FindCoordinator | 0-6 | group and transaction keys (this node), v4+ batches |
//! | JoinGroup, SyncGroup, Heartbeat, LeaveGroup | 0-9, 0-5, 0-4, 0-5 | classic groups, static members |
//! | OffsetCommit, OffsetFetch, OffsetDelete | 2-10, 1-10, 0 | offsets in `__consumer_offsets` |
//! | ListGroups, DescribeGroups, DeleteGroups | 0-5, 0-6, 0-2 | |
//! | ConsumerGroupHeartbeat, ConsumerGroupDescribe | 0-1, 0-1 | KIP-848, `uniform`/`range` assignors |
//! | AddPartitionsToTxn, AddOffsetsToTxn, EndTxn | 0-5, 0-4, 0-4 | v4+ AddPartitionsToTxn batches and `verify_only` |
//! | TxnOffsetCommit, WriteTxnMarkers | 0-5, 1-2 | pending offsets visible on commit |
//! | DescribeTransactions, ListTransactions, DescribeProducers | 0, 0-1, 0 | |
//!
//! Transactions are transaction version 1 (KIP-98 with KIP-360/588/890-part-1 fencing and
//! produce verification): the `transaction.version` feature is not advertised, so clients add
//! partitions with AddPartitionsToTxn; EndTxn v5 and ListTransactions v2 are not served.
//! `read_committed` fetches stop at the last stable offset and list the aborted transactions.
//!
//! Not yet: transaction version 2, ACLs, SASL/TLS, quotas.
//! Each handler module documents its version differences.
//!
//! # Design
//!
//! * `server`: one task reads a connection's frames, one handles them in
//!   order and writes responses in order.
//! * `metadata`: topics and configs persisted in the data directory;
//!   readers use lock-free snapshots, each partition log has its own lock; log I/O runs on
//!   blocking threads.
//! * `fetch_session`: KIP-227 sessions; delayed fetches wait on the
//!   partitions they read and are woken by appends.
//! * A background task runs each log's `maintain` (retention, compaction) every
//!   `log.retention.check.interval.ms`.
//! * `group`: the group coordinator (classic and KIP-848 groups); its state is written to the
//!   compacted internal topic `__consumer_offsets` and replayed at start; one timer task runs
//!   its deadlines (rebalance delays, session timeouts, offset retention).
//! * `txn`: the transaction coordinator; transactional ids in the compacted internal topic
//!   `__transaction_state` (replayed at start, unfinished `Prepare*` transactions completed);
//!   EndTxn writes commit/abort markers to every partition of the transaction before
//!   answering; a task aborts transactions past their timeout
//!   (`transaction.abort.timed.out.transaction.cleanup.interval.ms`) and removes transactional
//!   ids idle for `transactional.id.expiration.ms`.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod config;
mod error;
mod fetch_session;
mod group;
mod handlers;
pub mod log;
mod metadata;
mod producer_ids;
mod server;
mod state;
mod txn;
mod util;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::BrokerConfig;
pub use error::{BrokerError, Result};
pub use group::GroupConfig;
pub use txn::TxnConfig;

use crate::fetch_session::FetchSessionCache;
use crate::log::LogConfig;
use crate::metadata::Metadata;
use crate::producer_ids::ProducerIds;
use crate::state::{Shared, blocking};

/// Entry point: `Broker::builder()`.
#[derive(Debug)]
pub struct Broker;

impl Broker {
    /// A builder with Kafka's defaults, listening on `127.0.0.1:9092`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), kafka_broker::BrokerError> {
    /// let dir = tempfile::tempdir()?;
    /// let broker = kafka_broker::Broker::builder()
    ///     .data_dir(dir.path()) // durable: topics survive a restart on the same dir
    ///     .listener("127.0.0.1:0")
    ///     .config_properties([("log.retention.hours", "1"), ("num.partitions", "2")])
    ///     .start()
    ///     .await?;
    /// assert!(broker.addr().port() > 0);
    /// broker.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder() -> BrokerBuilder {
        BrokerBuilder::default()
    }
}

/// Typed broker options; see [`Broker::builder`].
#[derive(Debug, Default)]
pub struct BrokerBuilder {
    base: Option<BrokerConfig>,
    properties: BTreeMap<String, String>,
    data_dir: Option<PathBuf>,
    listener: Option<String>,
    advertised: Option<String>,
    node_id: Option<i32>,
    num_partitions: Option<i32>,
    auto_create: Option<bool>,
    log_config: Option<LogConfig>,
    max_request: Option<usize>,
    maintenance: Option<Duration>,
}

impl BrokerBuilder {
    /// Starts from a complete [`BrokerConfig`] (the binary uses this); typed options set
    /// afterwards still apply.
    pub fn config(mut self, config: BrokerConfig) -> Self {
        self.base = Some(config);
        self
    }

    /// Data directory (created if missing). Without it, a fresh temporary directory is used
    /// and removed on shutdown.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Address to listen on, `host:port`; port 0 picks a free port.
    pub fn listener(mut self, addr: impl Into<String>) -> Self {
        self.listener = Some(addr.into());
        self
    }

    /// Address advertised to clients in Metadata, `host:port` (default: the bound address).
    pub fn advertised_listener(mut self, addr: impl Into<String>) -> Self {
        self.advertised = Some(addr.into());
        self
    }

    /// `node.id` (default 1).
    pub fn node_id(mut self, id: i32) -> Self {
        self.node_id = Some(id);
        self
    }

    /// `num.partitions`: partitions of auto-created topics and of CreateTopics with -1.
    pub fn num_partitions(mut self, n: i32) -> Self {
        self.num_partitions = Some(n);
        self
    }

    /// `auto.create.topics.enable` (default true).
    pub fn auto_create_topics(mut self, on: bool) -> Self {
        self.auto_create = Some(on);
        self
    }

    /// Broker-wide defaults of the partition logs' settings (what `log.*` keys set).
    pub fn log_config(mut self, config: LogConfig) -> Self {
        self.log_config = Some(config);
        self
    }

    /// `socket.request.max.bytes`.
    pub fn socket_request_max_bytes(mut self, n: usize) -> Self {
        self.max_request = Some(n);
        self
    }

    /// How often partition logs run retention/compaction (`log.retention.check.interval.ms`).
    pub fn maintenance_interval(mut self, every: Duration) -> Self {
        self.maintenance = Some(every);
        self
    }

    /// Kafka `server.properties` keys (validated at [`start`](Self::start); unknown keys are
    /// an error). Typed options win over properties.
    pub fn config_properties<K: Into<String>, V: Into<String>>(
        mut self,
        props: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        for (k, v) in props {
            self.properties.insert(k.into(), v.into());
        }
        self
    }

    fn resolve(self) -> Result<BrokerConfig> {
        let mut c = self.base.unwrap_or_default();
        if !self.properties.is_empty() {
            let (from_props, notes) = BrokerConfig::from_properties(&self.properties)?;
            for n in notes {
                tracing::info!("config: {n}");
            }
            let explicit_listener = self.properties.contains_key("listeners");
            let explicit_dir =
                self.properties.contains_key("log.dirs") || self.properties.contains_key("log.dir");
            let old = c;
            c = from_props;
            if !explicit_listener {
                c.listener = old.listener;
            }
            if !explicit_dir {
                c.data_dir = old.data_dir;
            }
        }
        if let Some(v) = self.data_dir {
            c.data_dir = Some(v);
        }
        if let Some(v) = self.listener {
            c.listener = v;
        }
        if let Some(v) = self.advertised {
            c.advertised = Some(v);
        }
        if let Some(v) = self.node_id {
            c.node_id = v;
        }
        if let Some(v) = self.num_partitions {
            if v < 1 {
                return Err(BrokerError::Config("num.partitions must be >= 1".into()));
            }
            c.num_partitions = v;
        }
        if let Some(v) = self.auto_create {
            c.auto_create_topics = v;
        }
        if let Some(v) = self.max_request {
            c.socket_request_max_bytes = v;
        }
        if let Some(v) = self.maintenance {
            c.maintenance_interval = v;
        }
        if let Some(lc) = self.log_config {
            c.topic_defaults
                .extend(config::log_config_to_topic_configs(&lc));
        }
        Ok(c)
    }

    /// Opens the data directory and logs, binds the listener and starts serving.
    pub async fn start(self) -> Result<BrokerHandle> {
        let config = self.resolve()?;
        let (data_dir, temp) = match &config.data_dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(error::file_err(d))?;
                (d.clone(), None)
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("kafka-broker-")
                    .tempdir()
                    .map_err(BrokerError::Io)?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        let node_id = config.node_id;
        let (cluster_id, metadata, producer_ids) = {
            let dir = data_dir.clone();
            let defaults = config.topic_defaults.clone();
            blocking(move || -> Result<_> {
                let cluster = metadata::load_meta_properties(&dir, node_id)?;
                let md = Metadata::open(&dir, defaults)?;
                let pids = ProducerIds::open(&dir)?;
                Ok((cluster, md, pids))
            })
            .await
            .ok_or_else(|| BrokerError::Config("startup task failed".into()))??
        };
        let listener = TcpListener::bind(config.listener.as_str()).await?;
        let addr = listener.local_addr()?;
        let (adv_host, adv_port) = match &config.advertised {
            Some(a) => split_host_port(a)?,
            None => {
                let host = if addr.ip().is_unspecified() {
                    tracing::warn!(
                        "listening on {addr}; advertising 127.0.0.1 — set advertised.listeners for remote clients"
                    );
                    "127.0.0.1".to_string()
                } else {
                    addr.ip().to_string()
                };
                (host, addr.port())
            }
        };
        let (tx, rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            node_id,
            cluster_id,
            advertised_host: adv_host.clone(),
            advertised_port: i32::from(adv_port),
            data_dir: data_dir.clone(),
            metadata,
            producer_ids: Mutex::new(producer_ids),
            fetch_sessions: Mutex::new(FetchSessionCache::new(1000)),
            groups: group::GroupCoordinator::new(config.groups.clone()),
            txns: txn::TxnCoordinator::new(config.transactions.clone()),
            shutdown: rx,
            config,
        });
        {
            let s = shared.clone();
            blocking(move || {
                s.groups.load(&s.metadata);
                s.txns.load(&s);
            })
            .await;
        }
        let serve = tokio::spawn(server::serve(listener, shared.clone()));
        let maintain = tokio::spawn(maintenance(shared.clone()));
        let timers = tokio::spawn(group::run_timers(shared.clone()));
        let txn_expiry = tokio::spawn(txn::run_expiry(shared.clone()));
        tracing::info!(%addr, cluster_id = %shared.cluster_id, node_id, dir = %data_dir.display(), "broker started");
        Ok(BrokerHandle {
            addr,
            advertised: format!("{adv_host}:{adv_port}"),
            shutdown: tx,
            tasks: Some([serve, maintain, timers, txn_expiry]),
            shared,
            temp,
        })
    }
}

fn split_host_port(a: &str) -> Result<(String, u16)> {
    let (h, p) = a.rsplit_once(':').ok_or_else(|| {
        BrokerError::Config(format!("advertised listener `{a}` is not host:port"))
    })?;
    let port = p
        .parse()
        .map_err(|_| BrokerError::Config(format!("advertised listener `{a}`: bad port")))?;
    Ok((h.trim_matches(['[', ']']).to_string(), port))
}

async fn maintenance(s: Arc<Shared>) {
    let mut shutdown = s.shutdown.clone();
    let mut tick = tokio::time::interval(s.config.maintenance_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let s2 = s.clone();
        blocking(move || {
            let now = util::now_ms();
            for p in s2.metadata.all_partitions() {
                if let Some(Err(e)) = p.with_log(|l| l.maintain(now)) {
                    tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "log maintenance failed");
                }
            }
        })
        .await;
    }
}

/// A running broker. Dropping it without [`shutdown`](Self::shutdown) stops it in the
/// background without waiting.
#[derive(Debug)]
pub struct BrokerHandle {
    addr: SocketAddr,
    advertised: String,
    shutdown: watch::Sender<bool>,
    tasks: Option<[JoinHandle<()>; 4]>,
    shared: Arc<Shared>,
    temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("node_id", &self.node_id)
            .field("cluster_id", &self.cluster_id)
            .finish_non_exhaustive()
    }
}

impl BrokerHandle {
    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `bootstrap.servers` string for clients (the advertised `host:port`).
    pub fn bootstrap(&self) -> String {
        self.advertised.clone()
    }

    /// The cluster id (persisted in `meta.properties`).
    pub fn cluster_id(&self) -> &str {
        &self.shared.cluster_id
    }

    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.shared.data_dir
    }

    /// Graceful shutdown: stop accepting, let connections finish the requests already read,
    /// wake long-polling fetches, flush and close every log, remove a temporary data dir.
    pub async fn shutdown(mut self) -> Result<()> {
        let _ = self.shutdown.send(true);
        // serve, maintenance, group timers, transaction timeouts
        for task in self.tasks.take().into_iter().flatten() {
            let _ = task.await;
        }
        let s = self.shared.clone();
        blocking(move || s.metadata.close_all()).await;
        if let Some(t) = self.temp.take() {
            t.close().map_err(BrokerError::Io)?;
        }
        tracing::info!("broker stopped");
        Ok(())
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// Waits for SIGTERM or Ctrl-C (Ctrl-C only where there are no Unix signals): what the
/// `kafka-broker` binary and `kafka broker` wait for before a graceful shutdown.
///
/// ```no_run
/// # async fn demo() {
/// kafka_broker::shutdown_signal().await;
/// # }
/// ```
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
