//! [`Client`]: connections to every broker, the metadata cache, request routing (leader, any
//! broker, controller, coordinators) and retries.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, FindCoordinatorRequest, MetadataRequest};
use kafka_protocol::{ErrorCode, Request};

use crate::broker::{BrokerConnection, BrokerSlot, Dialer, tcp_dialer};
use crate::config::{ClientConfig, HostPort};
use crate::error::{Error, ErrorContext, Result};
use crate::metadata::ClusterMetadata;
use crate::retry::{Backoff, Deadline, Retrier, is_coordinator_error};

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// Any broker (a connected one when possible).
    AnyBroker,
    /// A broker by node id.
    Broker(i32),
    /// The leader of a partition (from the metadata cache; refreshed when unknown or stale).
    Leader {
        /// Topic name.
        topic: String,
        /// Partition index.
        partition: i32,
    },
    /// The controller as the metadata names it (in KRaft, a broker that forwards).
    Controller,
    /// The coordinator of a consumer group (FindCoordinator, cached).
    GroupCoordinator(String),
    /// The coordinator of a transactional id (FindCoordinator, cached).
    TxnCoordinator(String),
}

impl Target {
    /// The leader of `topic`-`partition`.
    pub fn leader(topic: impl Into<String>, partition: i32) -> Target {
        Target::Leader {
            topic: topic.into(),
            partition,
        }
    }
}

/// The kind of coordinator FindCoordinator looks up (its `key_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CoordinatorType {
    /// Consumer group coordinator (key type 0).
    Group,
    /// Transaction coordinator (key type 1).
    Transaction,
    /// Share group coordinator (key type 2).
    Share,
}

impl CoordinatorType {
    fn key_type(self) -> i8 {
        match self {
            CoordinatorType::Group => 0,
            CoordinatorType::Transaction => 1,
            CoordinatorType::Share => 2,
        }
    }
}

/// Per-call options for [`Client::send_opts`].
///
/// ```
/// use std::time::Duration;
/// use kafka_client::SendOptions;
/// let o = SendOptions::default().max_version(12).timeout(Duration::from_secs(5)).no_retry();
/// assert_eq!(o.max_version, Some(12));
/// assert!(!o.retry);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SendOptions {
    /// Highest version to send at (the negotiated version is capped to it).
    pub max_version: Option<i16>,
    /// Overall deadline including retries (default `default.api.timeout.ms`).
    pub timeout: Option<Duration>,
    /// Timeout of each attempt (default `request.timeout.ms`).
    pub request_timeout: Option<Duration>,
    /// Whether retriable failures are retried (default true). Turn off for requests that
    /// must not be sent twice, such as non-idempotent Produce.
    pub retry: bool,
}

impl Default for SendOptions {
    fn default() -> Self {
        SendOptions {
            max_version: None,
            timeout: None,
            request_timeout: None,
            retry: true,
        }
    }
}

impl SendOptions {
    /// Caps the version.
    pub fn max_version(mut self, v: i16) -> Self {
        self.max_version = Some(v);
        self
    }
    /// Sets the overall deadline.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }
    /// Sets the per-attempt timeout.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = Some(d);
        self
    }
    /// Disables retries.
    pub fn no_retry(mut self) -> Self {
        self.retry = false;
        self
    }
}

/// The async Kafka client core shared by producer, consumer and admin: connections to every
/// broker (one task each, pipelined, reconnecting with backoff), negotiated API versions, the
/// metadata cache, routing and retries.
///
/// Cheap to clone (an `Arc` inside); the background metadata refresh ends when the last clone
/// is dropped.
///
/// ```no_run
/// # async fn demo() -> Result<(), kafka_client::Error> {
/// use kafka_client::{Client, ClientConfig, Target};
/// use kafka_protocol::messages::{ApiKey, ListGroupsRequest};
///
/// let client = Client::connect(ClientConfig::from_properties([("bootstrap.servers", "localhost:9092")])?).await?;
/// println!("Metadata v{:?}", client.negotiated_version(ApiKey::Metadata));
/// let groups = client.send(Target::AnyBroker, ListGroupsRequest::default()).await?;
/// println!("{} groups on one broker", groups.groups.len());
/// let md = client.refresh_metadata(["orders"]).await?;
/// println!("leader of orders-0: {:?}", md.leader_for("orders", 0));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tracked {
    All,
    Topics(BTreeSet<String>),
}

struct Inner {
    cfg: ClientConfig,
    dialer: Dialer,
    metadata: RwLock<Arc<ClusterMetadata>>,
    refresh_lock: tokio::sync::Mutex<()>,
    tracked: Mutex<Tracked>,
    last_refresh_all: AtomicBool,
    metadata_stale: AtomicBool,
    metadata_requests: AtomicU64,
    brokers: Mutex<HashMap<i32, Arc<BrokerSlot>>>,
    bootstrap: Vec<Arc<BrokerSlot>>,
    coordinators: Mutex<HashMap<(CoordinatorType, String), i32>>,
    closed: AtomicBool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("bootstrap", &self.cfg.bootstrap_servers)
            .field("client_id", &self.cfg.client_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects: builds the TCP/TLS dialer from `cfg`, fetches the first metadata from the
    /// bootstrap servers (each tried in turn, every resolved address of each, with backoff)
    /// within `default.api.timeout.ms`, and starts the periodic metadata refresh.
    ///
    /// Cancel safe: dropping the future leaves nothing running.
    pub async fn connect(cfg: ClientConfig) -> Result<Client> {
        cfg.validate()?;
        let dialer = tcp_dialer(&cfg)?;
        Client::connect_with_dialer(cfg, dialer).await
    }

    /// Like [`Client::connect`] with a custom transport dialer (in-memory pipes in tests, a
    /// proxy, a SOCKS tunnel…). TLS is the dialer's business.
    ///
    /// Cancel safe.
    pub async fn connect_with_dialer(cfg: ClientConfig, dialer: Dialer) -> Result<Client> {
        cfg.validate()?;
        let bootstrap = cfg
            .bootstrap_servers
            .iter()
            .enumerate()
            .map(|(i, hp)| Arc::new(BrokerSlot::new(-1 - i as i32, hp.clone())))
            .collect();
        let inner = Arc::new(Inner {
            cfg,
            dialer,
            metadata: RwLock::new(Arc::new(ClusterMetadata::default())),
            refresh_lock: tokio::sync::Mutex::new(()),
            tracked: Mutex::new(Tracked::Topics(BTreeSet::new())),
            last_refresh_all: AtomicBool::new(false),
            metadata_stale: AtomicBool::new(true),
            metadata_requests: AtomicU64::new(0),
            brokers: Mutex::new(HashMap::new()),
            bootstrap,
            coordinators: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
        });
        let client = Client { inner };
        let deadline = Deadline::after(client.inner.cfg.default_api_timeout);
        client
            .refresh(None, false, deadline, "bootstrap metadata")
            .await?;
        tokio::spawn(metadata_loop(Arc::downgrade(&client.inner)));
        Ok(client)
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.cfg
    }

    /// The current metadata snapshot (no I/O).
    pub fn metadata(&self) -> Arc<ClusterMetadata> {
        self.inner
            .metadata
            .read()
            .map(|m| m.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// How many Metadata requests this client has sent (observability and tests).
    pub fn metadata_requests_sent(&self) -> u64 {
        self.inner.metadata_requests.load(Ordering::Relaxed)
    }

    /// Adds `topics` to the tracked set and refreshes metadata now. Concurrent refreshes are
    /// coalesced: callers that arrive while a refresh is running wait for it and share its
    /// result when it covers their topics.
    ///
    /// Cancel safe.
    pub async fn refresh_metadata<I, S>(&self, topics: I) -> Result<Arc<ClusterMetadata>>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let want: BTreeSet<String> = topics.into_iter().map(Into::into).collect();
        let deadline = Deadline::after(self.inner.cfg.default_api_timeout);
        self.refresh(Some(want), false, deadline, "metadata refresh")
            .await
    }

    /// Refreshes metadata for every topic in the cluster (once; the tracked set is unchanged).
    ///
    /// Cancel safe.
    pub async fn refresh_all_metadata(&self) -> Result<Arc<ClusterMetadata>> {
        let deadline = Deadline::after(self.inner.cfg.default_api_timeout);
        self.refresh(None, true, deadline, "metadata refresh").await
    }

    /// Marks metadata stale: the next routed request refreshes it first.
    pub fn invalidate_metadata(&self) {
        self.inner.metadata_stale.store(true, Ordering::SeqCst);
    }

    /// The leader (node id, leader epoch) of a partition, refreshing metadata when the topic
    /// is not cached.
    ///
    /// Cancel safe.
    pub async fn leader_for(&self, topic: &str, partition: i32) -> Result<(i32, i32)> {
        let deadline = Deadline::after(self.inner.cfg.default_api_timeout);
        let md = self.topic_metadata(topic, deadline).await?;
        md.leader_for(topic, partition)
            .ok_or_else(|| Error::NoLeader {
                topic: topic.to_string(),
                partition,
            })
    }

    /// A ready connection to broker `node_id` (connecting if needed), for sink/source tasks
    /// that pipeline requests directly.
    ///
    /// Cancel safe.
    pub async fn broker_connection(&self, node_id: i32) -> Result<BrokerConnection> {
        let deadline = Deadline::after(self.inner.cfg.default_api_timeout);
        self.broker_until(node_id, deadline).await
    }

    /// A ready connection to the broker `target` routes to.
    ///
    /// Cancel safe.
    pub async fn connection_for(&self, target: &Target) -> Result<BrokerConnection> {
        let deadline = Deadline::after(self.inner.cfg.default_api_timeout);
        self.resolve(target, deadline).await
    }

    /// The version requests of `api` are sent at, from a live connection (None when no
    /// connection is up or the broker lacks the API).
    pub fn negotiated_version(&self, api: ApiKey) -> Option<i16> {
        self.live_connections()
            .first()
            .and_then(|c| c.version_for(api))
    }

    /// Sends `req` to `target` at the highest common version, retrying retriable failures
    /// (with metadata refresh or coordinator lookup as needed) until `default.api.timeout.ms`.
    ///
    /// Only transport-level and routing failures are seen here: error codes inside the
    /// response are the caller's (see [`Client::send_checked`]).
    ///
    /// Cancel safe: dropping the future abandons the request; the connection stays usable.
    pub async fn send<R: Request + Sync>(&self, target: Target, req: R) -> Result<R::Response> {
        self.send_checked(&target, &req, SendOptions::default(), |_| ErrorCode::None)
            .await
    }

    /// [`Client::send`] with options.
    ///
    /// Cancel safe.
    pub async fn send_opts<R: Request + Sync>(
        &self,
        target: Target,
        req: R,
        opts: SendOptions,
    ) -> Result<R::Response> {
        self.send_checked(&target, &req, opts, |_| ErrorCode::None)
            .await
    }

    /// Sends and checks the response with `error_of`, which returns the response's top-level
    /// error code: retriable codes invalidate metadata or the coordinator as appropriate and are
    /// retried; others become [`Error::Kafka`].
    ///
    /// ```no_run
    /// # async fn demo(client: kafka_client::Client) -> Result<(), kafka_client::Error> {
    /// use kafka_client::{SendOptions, Target};
    /// use kafka_protocol::messages::HeartbeatRequest;
    /// use kafka_protocol::ErrorCode;
    ///
    /// let req = HeartbeatRequest { group_id: "g".into(), generation_id: 1, member_id: "m".into(), ..Default::default() };
    /// client.send_checked(&Target::GroupCoordinator("g".into()), &req, SendOptions::default(),
    ///     |r| ErrorCode::from_i16(r.error_code)).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// Cancel safe.
    pub async fn send_checked<R, F>(
        &self,
        target: &Target,
        req: &R,
        opts: SendOptions,
        error_of: F,
    ) -> Result<R::Response>
    where
        R: Request + Sync,
        F: Fn(&R::Response) -> ErrorCode,
    {
        let cfg = &self.inner.cfg;
        let deadline = Deadline::after(opts.timeout.unwrap_or(cfg.default_api_timeout));
        let req_timeout = opts.request_timeout.unwrap_or(cfg.request_timeout);
        let mut retrier = Retrier::new(
            format!("{} to {target:?}", R::API_KEY.name()),
            self.retry_backoff(),
            deadline,
        );
        loop {
            let attempt = async {
                self.check_open()?;
                let conn = self.resolve(target, deadline).await?;
                let resp = conn
                    .send_opts(req, opts.max_version, deadline.cap(req_timeout))
                    .await?;
                let code = error_of(&resp);
                if code.is_ok() {
                    Ok(resp)
                } else {
                    let version = conn
                        .pick_version(R::API_KEY, opts.max_version)
                        .unwrap_or(-1);
                    Err(Error::Kafka {
                        code,
                        message: None,
                        context: Box::new(
                            ErrorContext::broker(conn.node_id(), conn.addr().to_string())
                                .with_api(R::API_KEY, version),
                        ),
                    })
                }
            };
            let err = match tokio::time::timeout_at(deadline.instant(), attempt).await {
                Ok(Ok(resp)) => return Ok(resp),
                Ok(Err(e)) => self.on_error(target, e),
                Err(_) => return Err(retrier.timed_out()),
            };
            if !opts.retry {
                return Err(err);
            }
            retrier.failed(err).await?;
        }
    }

    /// Reacts to a failed request: marks metadata stale, forgets a coordinator, adds context.
    /// Role crates call it for errors they find inside responses (per-partition codes).
    pub fn on_error(&self, target: &Target, e: Error) -> Error {
        if e.invalidates_metadata() {
            self.invalidate_metadata();
        }
        let coord = match target {
            Target::GroupCoordinator(g) => Some((CoordinatorType::Group, g)),
            Target::TxnCoordinator(t) => Some((CoordinatorType::Transaction, t)),
            _ => None,
        };
        if let Some((kind, key)) = coord {
            let stale = match &e {
                Error::Kafka { code, .. } => is_coordinator_error(*code),
                Error::Disconnected { .. } | Error::Io { .. } | Error::Connect { .. } => true,
                _ => false,
            };
            if stale {
                self.invalidate_coordinator(kind, key);
            }
        }
        match target {
            Target::Leader { topic, partition } => e.with_partition(topic, *partition),
            _ => e,
        }
    }

    /// Forgets the cached coordinator for `key`.
    pub fn invalidate_coordinator(&self, kind: CoordinatorType, key: &str) {
        if let Ok(mut c) = self.inner.coordinators.lock() {
            c.remove(&(kind, key.to_string()));
        }
    }

    /// The cached coordinator node id for `key`, if any (no I/O).
    pub fn cached_coordinator(&self, kind: CoordinatorType, key: &str) -> Option<i32> {
        self.inner
            .coordinators
            .lock()
            .ok()?
            .get(&(kind, key.to_string()))
            .copied()
    }

    /// The coordinator node id for `key`: from the cache, else FindCoordinator (retrying
    /// COORDINATOR_NOT_AVAILABLE and friends until `default.api.timeout.ms`).
    ///
    /// Cancel safe.
    pub async fn find_coordinator(&self, kind: CoordinatorType, key: &str) -> Result<i32> {
        let deadline = Deadline::after(self.inner.cfg.default_api_timeout);
        self.coordinator_until(kind, key, deadline).await
    }

    /// Looks up several coordinators at once: one FindCoordinator request with batched keys
    /// when the broker supports v4+, one request per key otherwise. Cached keys are answered
    /// from the cache; each key gets its own result.
    ///
    /// Cancel safe.
    pub async fn find_coordinators(
        &self,
        kind: CoordinatorType,
        keys: &[String],
    ) -> Result<BTreeMap<String, Result<i32>>> {
        let deadline = Deadline::after(self.inner.cfg.default_api_timeout);
        let mut out = BTreeMap::new();
        let mut todo: Vec<String> = Vec::new();
        for k in keys {
            match self.cached_coordinator(kind, k) {
                Some(id) => {
                    out.insert(k.clone(), Ok(id));
                }
                None => todo.push(k.clone()),
            }
        }
        let mut retrier = Retrier::new("FindCoordinator", self.retry_backoff(), deadline);
        while !todo.is_empty() {
            let res = tokio::time::timeout_at(
                deadline.instant(),
                self.find_coordinators_once(kind, &todo, deadline),
            )
            .await;
            let answers = match res {
                Err(_) => {
                    let e = retrier.timed_out();
                    for k in todo.drain(..) {
                        out.insert(k, Err(e.clone()));
                    }
                    break;
                }
                Ok(Err(e)) => {
                    if let Err(e) = retrier.failed(e).await {
                        for k in todo.drain(..) {
                            out.insert(k, Err(e.clone()));
                        }
                    }
                    continue;
                }
                Ok(Ok(a)) => a,
            };
            let mut retry_keys = Vec::new();
            let mut last_retriable = None;
            for (key, r) in answers {
                match r {
                    Ok(id) => {
                        out.insert(key, Ok(id));
                    }
                    Err(e) if e.is_retriable() => {
                        last_retriable = Some(e);
                        retry_keys.push(key);
                    }
                    Err(e) => {
                        out.insert(key, Err(e));
                    }
                }
            }
            todo = retry_keys;
            if let Some(e) = last_retriable
                && let Err(e) = retrier.failed(e).await
            {
                for k in todo.drain(..) {
                    out.insert(k, Err(e.clone()));
                }
            }
        }
        Ok(out)
    }

    /// Closes every connection; later requests fail with [`Error::Closed`].
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        for s in self.all_slots() {
            s.close();
        }
    }

    // ----- internals -----

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::SeqCst) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    fn retry_backoff(&self) -> Backoff {
        Backoff::new(
            self.inner.cfg.retry_backoff,
            self.inner.cfg.retry_backoff_max,
        )
    }

    fn all_slots(&self) -> Vec<Arc<BrokerSlot>> {
        let mut v: Vec<Arc<BrokerSlot>> = self
            .inner
            .brokers
            .lock()
            .map(|b| b.values().cloned().collect())
            .unwrap_or_default();
        v.extend(self.inner.bootstrap.iter().cloned());
        v
    }

    fn live_connections(&self) -> Vec<BrokerConnection> {
        self.all_slots().iter().filter_map(|s| s.live()).collect()
    }

    fn slot(&self, node_id: i32) -> Option<Arc<BrokerSlot>> {
        if let Some(s) = self
            .inner
            .brokers
            .lock()
            .ok()
            .and_then(|b| b.get(&node_id).cloned())
        {
            return Some(s);
        }
        let md = self.metadata();
        let hp = md.broker(node_id)?.host_port()?;
        let mut b = self.inner.brokers.lock().ok()?;
        Some(
            b.entry(node_id)
                .or_insert_with(|| Arc::new(BrokerSlot::new(node_id, hp)))
                .clone(),
        )
    }

    async fn broker_until(&self, node_id: i32, deadline: Deadline) -> Result<BrokerConnection> {
        self.check_open()?;
        let slot = match self.slot(node_id) {
            Some(s) => s,
            None => {
                self.refresh(Some(BTreeSet::new()), false, deadline, "metadata refresh")
                    .await?;
                self.slot(node_id).ok_or(Error::UnknownBroker(node_id))?
            }
        };
        slot.get(&self.inner.cfg, &self.inner.dialer, deadline)
            .await
    }

    /// Any broker: a live connection if there is one, else metadata brokers (not in backoff)
    /// in random order, else bootstrap servers in order.
    async fn any_connection(&self, deadline: Deadline) -> Result<BrokerConnection> {
        self.check_open()?;
        let live: Vec<BrokerConnection> = self
            .inner
            .brokers
            .lock()
            .map(|b| b.values().filter_map(|s| s.live()).collect())
            .unwrap_or_default();
        if !live.is_empty() {
            let i = fastrand::usize(..live.len());
            if let Some(c) = live.get(i) {
                return Ok(c.clone());
            }
        }
        let md = self.metadata();
        let mut ids: Vec<i32> = md.brokers.keys().copied().collect();
        fastrand::shuffle(&mut ids);
        let mut candidates: Vec<Arc<BrokerSlot>> =
            ids.iter().filter_map(|id| self.slot(*id)).collect();
        // Slots not in backoff first, then the bootstrap list.
        candidates.sort_by_key(|s| s.in_backoff());
        candidates.extend(self.inner.bootstrap.iter().cloned());
        let mut last = None;
        for s in candidates {
            if deadline.expired() {
                break;
            }
            if s.in_backoff() && last.is_some() {
                continue;
            }
            match s.get(&self.inner.cfg, &self.inner.dialer, deadline).await {
                Ok(c) => return Ok(c),
                Err(e) => last = Some(e),
            }
        }
        // No attempt could be made (deadline reached, or every broker in backoff): report the
        // last connection error a broker saw, so the cause is not lost.
        let cause = self
            .inner
            .bootstrap
            .iter()
            .find_map(|s| s.last_error_text());
        Err(last.unwrap_or_else(|| Error::Connect {
            addr: self
                .inner
                .cfg
                .bootstrap_servers
                .iter()
                .map(HostPort::to_string)
                .collect::<Vec<_>>()
                .join(","),
            message: match cause {
                Some(c) => format!("no broker reachable; last: {c}"),
                None => "no broker reachable".into(),
            },
        }))
    }

    async fn resolve(&self, target: &Target, deadline: Deadline) -> Result<BrokerConnection> {
        match target {
            Target::AnyBroker => self.any_connection(deadline).await,
            Target::Broker(id) => {
                self.refresh_if_stale(deadline).await;
                self.broker_until(*id, deadline).await
            }
            Target::Leader { topic, partition } => {
                let md = self.topic_metadata(topic, deadline).await?;
                let t = md.topic(topic);
                match md.leader_for(topic, *partition) {
                    Some((id, _)) => self.broker_until(id, deadline).await,
                    None => Err(match t.and_then(|t| t.error) {
                        Some(code) => Error::Kafka {
                            code,
                            message: None,
                            context: Box::new(ErrorContext {
                                topic: Some(topic.clone()),
                                partition: Some(*partition),
                                ..Default::default()
                            }),
                        },
                        None => Error::NoLeader {
                            topic: topic.clone(),
                            partition: *partition,
                        },
                    }),
                }
            }
            Target::Controller => {
                self.refresh_if_stale(deadline).await;
                match self.metadata().controller_id {
                    Some(id) => self.broker_until(id, deadline).await,
                    None => Err(Error::kafka(
                        ErrorCode::NotController,
                        Some("the metadata names no controller".into()),
                    )),
                }
            }
            Target::GroupCoordinator(g) => {
                let id = self
                    .coordinator_until(CoordinatorType::Group, g, deadline)
                    .await?;
                self.broker_until(id, deadline).await
            }
            Target::TxnCoordinator(t) => {
                let id = self
                    .coordinator_until(CoordinatorType::Transaction, t, deadline)
                    .await?;
                self.broker_until(id, deadline).await
            }
        }
    }

    async fn refresh_if_stale(&self, deadline: Deadline) {
        if self.inner.metadata_stale.load(Ordering::SeqCst)
            && let Err(e) = self
                .refresh(Some(BTreeSet::new()), false, deadline, "metadata refresh")
                .await
        {
            tracing::debug!(error = %e, "metadata refresh failed");
        }
    }

    /// Metadata that knows `topic` (refreshing when it is missing or metadata is stale).
    async fn topic_metadata(
        &self,
        topic: &str,
        deadline: Deadline,
    ) -> Result<Arc<ClusterMetadata>> {
        let md = self.metadata();
        if md.topic(topic).is_some() && !self.inner.metadata_stale.load(Ordering::SeqCst) {
            return Ok(md);
        }
        let want: BTreeSet<String> = [topic.to_string()].into();
        self.refresh(Some(want), false, deadline, "metadata refresh")
            .await
    }

    async fn coordinator_until(
        &self,
        kind: CoordinatorType,
        key: &str,
        deadline: Deadline,
    ) -> Result<i32> {
        if let Some(id) = self.cached_coordinator(kind, key) {
            return Ok(id);
        }
        let mut retrier = Retrier::new("FindCoordinator", self.retry_backoff(), deadline);
        let keys = [key.to_string()];
        loop {
            let r = tokio::time::timeout_at(
                deadline.instant(),
                self.find_coordinators_once(kind, &keys, deadline),
            )
            .await;
            let e = match r {
                Err(_) => return Err(retrier.timed_out()),
                Ok(Err(e)) => e,
                Ok(Ok(mut answers)) => match answers.pop() {
                    Some((_, Ok(id))) => return Ok(id),
                    Some((_, Err(e))) => e,
                    None => Error::kafka(ErrorCode::CoordinatorNotAvailable, None),
                },
            };
            retrier.failed(e).await?;
        }
    }

    /// One FindCoordinator round for `keys` (batched at v4+). Caches what it finds.
    async fn find_coordinators_once(
        &self,
        kind: CoordinatorType,
        keys: &[String],
        deadline: Deadline,
    ) -> Result<Vec<(String, Result<i32>)>> {
        let conn = self.any_connection(deadline).await?;
        let version = conn.pick_version(ApiKey::FindCoordinator, None)?;
        let timeout = deadline.cap(self.inner.cfg.request_timeout);
        let ctx = || {
            Box::new(
                ErrorContext::broker(conn.node_id(), conn.addr().to_string())
                    .with_api(ApiKey::FindCoordinator, version),
            )
        };
        let mut coords: Vec<Coordinator> = Vec::new();
        if version >= 4 {
            let req = FindCoordinatorRequest {
                key_type: kind.key_type(),
                coordinator_keys: keys.to_vec(),
                ..Default::default()
            };
            let resp = conn
                .connection()
                .send_timeout(&req, version, timeout)
                .await?;
            coords = resp.coordinators;
        } else {
            if version == 0 && kind != CoordinatorType::Group {
                return Err(Error::UnsupportedVersion {
                    api: ApiKey::FindCoordinator,
                    ours: ApiKey::FindCoordinator.versions(),
                    theirs: conn.versions().broker_range(ApiKey::FindCoordinator),
                    context: ctx(),
                });
            }
            for k in keys {
                let req = FindCoordinatorRequest {
                    key: k.clone(),
                    key_type: if version >= 1 { kind.key_type() } else { 0 },
                    ..Default::default()
                };
                let r = conn
                    .connection()
                    .send_timeout(&req, version, timeout)
                    .await?;
                coords.push(Coordinator {
                    key: k.clone(),
                    node_id: r.node_id,
                    host: r.host,
                    port: r.port,
                    error_code: r.error_code,
                    error_message: r.error_message,
                    ..Default::default()
                });
            }
        }
        let mut out = Vec::new();
        for c in coords {
            let code = ErrorCode::from_i16(c.error_code);
            if !code.is_ok() {
                out.push((
                    c.key,
                    Err(Error::Kafka {
                        code,
                        message: c.error_message,
                        context: ctx(),
                    }),
                ));
                continue;
            }
            if let Ok(port) = u16::try_from(c.port) {
                let hp = HostPort {
                    host: c.host.clone(),
                    port,
                };
                if let Ok(mut b) = self.inner.brokers.lock() {
                    b.entry(c.node_id)
                        .or_insert_with(|| Arc::new(BrokerSlot::new(c.node_id, hp.clone())))
                        .set_addr(hp);
                }
            }
            if let Ok(mut cache) = self.inner.coordinators.lock() {
                cache.insert((kind, c.key.clone()), c.node_id);
            }
            out.push((c.key, Ok(c.node_id)));
        }
        Ok(out)
    }

    /// The coalesced refresh. `want`: topics to add to the tracked set (None with
    /// `all = true`: every topic, once). Retries until `deadline`.
    async fn refresh(
        &self,
        want: Option<BTreeSet<String>>,
        all: bool,
        deadline: Deadline,
        what: &str,
    ) -> Result<Arc<ClusterMetadata>> {
        self.check_open()?;
        if let Some(w) = &want
            && let Ok(mut t) = self.inner.tracked.lock()
            && let Tracked::Topics(set) = &mut *t
        {
            set.extend(w.iter().cloned());
        }
        let seen_generation = self.metadata().generation;
        let mut retrier = Retrier::new(what, self.retry_backoff(), deadline);
        loop {
            let attempt = async {
                let _guard = self.inner.refresh_lock.lock().await;
                let cur = self.metadata();
                if cur.generation != seen_generation && self.covers(&cur, want.as_ref(), all) {
                    return Ok(cur); // someone refreshed while we waited
                }
                self.refresh_locked(all, deadline).await
            };
            let e = match tokio::time::timeout_at(deadline.instant(), attempt).await {
                Ok(Ok(md)) => return Ok(md),
                Ok(Err(e)) => e,
                Err(_) => return Err(retrier.timed_out()),
            };
            retrier.failed(e).await?;
        }
    }

    fn covers(&self, md: &ClusterMetadata, want: Option<&BTreeSet<String>>, all: bool) -> bool {
        if all {
            return self.inner.last_refresh_all.load(Ordering::SeqCst);
        }
        match want {
            None => true,
            Some(w) => w.iter().all(|t| md.topics.contains_key(t)),
        }
    }

    /// One Metadata request for the tracked topics; the caller holds the refresh lock.
    async fn refresh_locked(&self, all: bool, deadline: Deadline) -> Result<Arc<ClusterMetadata>> {
        let tracked = self
            .inner
            .tracked
            .lock()
            .map(|t| t.clone())
            .unwrap_or(Tracked::All);
        let requested: Option<BTreeSet<String>> = match (&tracked, all) {
            (_, true) | (Tracked::All, _) => None,
            (Tracked::Topics(s), false) => Some(s.clone()),
        };
        let conn = self.any_connection(deadline).await?;
        let version = conn.pick_version(ApiKey::Metadata, None)?;
        let topics = match &requested {
            None if version == 0 => Some(Vec::new()),
            None => None,
            Some(s) => Some(
                s.iter()
                    .map(|n| MetadataRequestTopic {
                        name: Some(n.clone()),
                        ..Default::default()
                    })
                    .collect(),
            ),
        };
        let req = MetadataRequest {
            topics,
            allow_auto_topic_creation: version < 4,
            ..Default::default()
        };
        self.inner.metadata_stale.store(false, Ordering::SeqCst);
        self.inner.metadata_requests.fetch_add(1, Ordering::Relaxed);
        let resp = match conn
            .send_opts(&req, None, deadline.cap(self.inner.cfg.request_timeout))
            .await
        {
            Ok(r) => r,
            Err(e) => {
                self.inner.metadata_stale.store(true, Ordering::SeqCst);
                return Err(e);
            }
        };
        let next = Arc::new(self.metadata().merge(&resp, requested.as_ref()));
        self.inner
            .last_refresh_all
            .store(requested.is_none(), Ordering::SeqCst);
        // Keep broker slots in line with the metadata.
        if let Ok(mut b) = self.inner.brokers.lock() {
            b.retain(|id, slot| {
                let keep = next.brokers.contains_key(id);
                if !keep {
                    slot.close();
                }
                keep
            });
            for (id, info) in &next.brokers {
                if let Some(hp) = info.host_port() {
                    b.entry(*id)
                        .or_insert_with(|| Arc::new(BrokerSlot::new(*id, hp.clone())))
                        .set_addr(hp);
                }
            }
        }
        // A bootstrap connection is no longer needed once real brokers are known.
        if !next.brokers.is_empty() {
            for s in &self.inner.bootstrap {
                s.release();
            }
        }
        if let Ok(mut m) = self.inner.metadata.write() {
            *m = next.clone();
        }
        tracing::debug!(
            generation = next.generation,
            brokers = next.brokers.len(),
            topics = next.topics.len(),
            "metadata refreshed"
        );
        Ok(next)
    }
}

async fn metadata_loop(inner: Weak<Inner>) {
    loop {
        let period = match inner.upgrade() {
            Some(i) => i.cfg.metadata_max_age,
            None => return,
        };
        tokio::time::sleep(period).await;
        let Some(i) = inner.upgrade() else { return };
        if i.closed.load(Ordering::SeqCst) {
            return;
        }
        let client = Client { inner: i };
        let deadline = Deadline::after(client.inner.cfg.default_api_timeout);
        if let Err(e) = client
            .refresh(
                Some(BTreeSet::new()),
                false,
                deadline,
                "periodic metadata refresh",
            )
            .await
        {
            tracing::warn!(error = %e, "periodic metadata refresh failed");
        }
    }
}
