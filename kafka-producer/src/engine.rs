//! The sending engine: the accumulator's topics, one sender ("sink") task per broker, a
//! maintenance task (expiry, metadata, sinks for new leaders, epoch bumps), and idempotence.
//!
//! Data flow: `send` appends into a partition's open batch (caller's task) → the leader's sink
//! drains ready batches of all its partitions into one ProduceRequest (≤ `max.request.size`,
//! one batch per partition, rotating start), up to `max.in.flight` pipelined requests → the
//! response completes, retries or fails each batch.
//!
//! Ordering with retries: a batch that comes back for a retry is put back in creation order
//! and its partition sends nothing more until every in-flight batch of the partition
//! returned; then the queue is resent in order, keeping sequences. That holds for up to
//! `max.in.flight` requests in flight with or without idempotence.
//!
//! Idempotence follows the Java client (`TransactionManager.canRetry`/`handleFailedBatch`):
//! OUT_OF_ORDER_SEQUENCE_NUMBER for a batch that is not the next expected one is retried as
//! is; for the next expected one (a real gap), UNKNOWN_PRODUCER_ID, and any batch that fails
//! for good after it got a sequence, the producer bumps its epoch (InitProducerId with the
//! current id and epoch, KIP-360) once nothing is in flight, and every queued batch is
//! re-sequenced from 0. DUPLICATE_SEQUENCE_NUMBER is a success.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, Weak};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_client::retry::Backoff;
use kafka_client::{BrokerConnection, Client, Error as ClientError};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse,
};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use crate::accumulator::{
    Batch, CachePadded, PartitionQueue, Stamp, TopicState, add_sequence, batch_buffer_pool,
};
use crate::config::{Acks, ProducerConfig};
use crate::delivery::{BatchAck, BatchShared};
use crate::txn::TxnManager;
use crate::{ProducerError, Topic};
use kafka_protocol::frame::BufferPool;

/// Hook run per record on acknowledgement (the interceptor chain, type-erased).
pub(crate) type AckHook = Arc<dyn Fn(Result<&crate::RecordMetadata, &str>) + Send + Sync + 'static>;

/// Settings the engine reads on every batch, resolved once.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) acks: Acks,
    pub(crate) linger: Duration,
    pub(crate) batch_size: usize,
    pub(crate) compression: kafka_protocol::compression::Compression,
    pub(crate) compression_level: Option<i32>,
    pub(crate) max_in_flight: usize,
    pub(crate) idempotent: bool,
    pub(crate) delivery_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) backoff: Backoff,
    pub(crate) max_request_size: usize,
    /// `transactional.id` is set: batches carry the transactional attribute.
    pub(crate) transactional: bool,
}

impl Settings {
    pub(crate) fn from(cfg: &ProducerConfig) -> Settings {
        Settings {
            acks: cfg.acks,
            linger: cfg.linger,
            batch_size: cfg.batch_size,
            compression: cfg.compression,
            compression_level: cfg.compression_level,
            max_in_flight: cfg.client.max_in_flight_requests_per_connection.max(1),
            idempotent: cfg.idempotence(),
            delivery_timeout: cfg.effective_delivery_timeout(),
            request_timeout: cfg.client.request_timeout,
            retries: cfg.retries,
            backoff: Backoff::new(cfg.client.retry_backoff, cfg.client.retry_backoff_max),
            max_request_size: cfg.max_request_size,
            transactional: cfg.transactional_id.is_some(),
        }
    }
}

pub(crate) struct Engine {
    pub(crate) s: Settings,
    pub(crate) client: Client,
    pub(crate) topics: RwLock<HashMap<Arc<str>, Arc<TopicState>>>,
    /// Unique per engine (the key of the per-thread topic cache).
    id: u64,
    /// Bumped whenever `topics` changes (a cached `TopicState` is current while it matches).
    topics_gen: AtomicU64,
    /// `buffer.memory` in bytes, taken per record by `send`.
    pub(crate) memory: CachePadded<Semaphore>,
    /// Batch buffers for reuse.
    pub(crate) buffers: BufferPool,
    sinks: Mutex<HashMap<i32, Arc<Notify>>>,
    producer: RwLock<(i64, i16)>,
    bump_needed: AtomicBool,
    requests_in_flight: AtomicUsize,
    /// No new records (close started).
    pub(crate) closing: AtomicBool,
    /// Sinks and maintenance stop once nothing is in flight.
    shutdown: AtomicBool,
    pub(crate) fatal: OnceLock<ProducerError>,
    maintenance_wake: Notify,
    pub(crate) ack_hook: Option<AckHook>,
    pub(crate) keep_record_meta: bool,
    /// The transaction manager of a transactional producer.
    pub(crate) txn: Option<Arc<TxnManager>>,
    self_ref: Weak<Engine>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("settings", &self.s)
            .finish_non_exhaustive()
    }
}

static NEXT_ENGINE_ID: AtomicU64 = AtomicU64::new(0);

/// One entry of the per-thread topic cache.
struct CachedTopic {
    engine: u64,
    generation: u64,
    name: Topic,
    /// Weak: a cache entry does not keep a dropped producer's queues alive.
    state: Weak<TopicState>,
}

thread_local! {
    /// The last topic looked up on this thread (a sending loop usually targets one topic).
    static TOPIC_CACHE: std::cell::RefCell<Option<CachedTopic>> = const { std::cell::RefCell::new(None) };
}

type InFlight = Pin<Box<dyn std::future::Future<Output = Done> + Send>>;

struct Done {
    batches: Vec<(Arc<PartitionQueue>, Batch)>,
    result: Result<Option<ProduceResponse>, ClientError>,
    started: Instant,
}

enum Outcome {
    Ok(BatchAck),
    Err {
        error: ClientError,
        log_start_offset: i64,
    },
}

impl Engine {
    pub(crate) fn new(
        cfg: &ProducerConfig,
        client: Client,
        ack_hook: Option<AckHook>,
        producer: (i64, i16),
        txn: Option<Arc<TxnManager>>,
    ) -> Arc<Engine> {
        let s = Settings::from(cfg);
        let permits = cfg.buffer_memory.min(Semaphore::MAX_PERMITS);
        Arc::new_cyclic(|w| Engine {
            s,
            client,
            topics: RwLock::new(HashMap::new()),
            id: NEXT_ENGINE_ID.fetch_add(1, Ordering::Relaxed),
            topics_gen: AtomicU64::new(0),
            memory: CachePadded(Semaphore::new(permits)),
            buffers: batch_buffer_pool(cfg.batch_size, cfg.buffer_memory),
            sinks: Mutex::new(HashMap::new()),
            producer: RwLock::new(producer),
            bump_needed: AtomicBool::new(false),
            requests_in_flight: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            fatal: OnceLock::new(),
            maintenance_wake: Notify::new(),
            keep_record_meta: ack_hook.is_some(),
            ack_hook,
            txn,
            self_ref: w.clone(),
        })
    }

    pub(crate) fn topic(&self, name: &str) -> Option<Arc<TopicState>> {
        self.topics
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// The state of a record's topic: from this thread's one-entry cache when it holds the
    /// same engine, topic and generation (no lock, no hashing: a pointer comparison when the
    /// caller reuses one [`Topic`]), else from the map (and cached).
    pub(crate) fn topic_cached(&self, name: &Topic) -> Option<Arc<TopicState>> {
        let generation = self.topics_gen.load(Ordering::Acquire);
        // `try_with`: during thread-local destruction the cache is skipped, not a panic.
        let hit = TOPIC_CACHE
            .try_with(|c| {
                let c = c.try_borrow().ok()?;
                match &*c {
                    Some(e)
                        if e.engine == self.id
                            && e.generation == generation
                            && (e.name.ptr_eq(name) || e.name == *name) =>
                    {
                        e.state.upgrade()
                    }
                    _ => None,
                }
            })
            .ok()
            .flatten();
        if hit.is_some() {
            return hit;
        }
        let state = self.topic(name)?;
        let _ = TOPIC_CACHE.try_with(|c| {
            if let Ok(mut c) = c.try_borrow_mut() {
                *c = Some(CachedTopic {
                    engine: self.id,
                    generation,
                    name: name.clone(),
                    state: Arc::downgrade(&state),
                });
            }
        });
        Some(state)
    }

    fn all_topics(&self) -> Vec<Arc<TopicState>> {
        self.topics
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Registers a topic with `count` partitions (or grows it); returns the current state.
    pub(crate) fn ensure_topic(&self, name: &str, count: usize) -> Arc<TopicState> {
        let mut map = self.topics.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = map.get(name) {
            if t.partitions.len() >= count {
                return t.clone();
            }
            let grown = Arc::new(t.grown(count));
            map.insert(grown.name.clone(), grown.clone());
            self.topics_gen.fetch_add(1, Ordering::AcqRel);
            return grown;
        }
        let name: Arc<str> = name.into();
        let parts = (0..count)
            .map(|p| PartitionQueue::new(name.clone(), p as i32))
            .collect();
        let t = Arc::new(TopicState::new(name.clone(), parts));
        map.insert(name, t.clone());
        self.topics_gen.fetch_add(1, Ordering::AcqRel);
        t
    }

    // ----- sinks -----

    /// Wakes the sink of the partition's leader (starting it if needed); when the leader is
    /// unknown, the maintenance task takes care of the partition.
    pub(crate) fn wake_leader_of(&self, topic: &str, partition: i32) {
        let md = self.client.metadata();
        match md.leader_for(topic, partition) {
            Some((leader, _)) => self.sink(leader).notify_one(),
            None => self.maintenance_wake.notify_one(),
        }
    }

    fn sink(&self, node: i32) -> Arc<Notify> {
        let mut sinks = self.sinks.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = sinks.get(&node) {
            return n.clone();
        }
        let wake = Arc::new(Notify::new());
        sinks.insert(node, wake.clone());
        if let Some(engine) = self.self_ref.upgrade() {
            let w = wake.clone();
            tokio::spawn(async move { engine.sink_loop(node, w).await });
        }
        wake
    }

    pub(crate) fn wake_all(&self) {
        for n in self
            .sinks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            n.notify_one();
        }
        self.maintenance_wake.notify_one();
    }

    async fn sink_loop(self: Arc<Self>, node: i32, wake: Arc<Notify>) {
        let mut inflight: FuturesUnordered<InFlight> = FuturesUnordered::new();
        let mut conn: Option<BrokerConnection> = None;
        type Connecting = Pin<
            Box<dyn std::future::Future<Output = Result<BrokerConnection, ClientError>> + Send>,
        >;
        let mut connecting: Option<Connecting> = None;
        let mut conn_backoff_until: Option<Instant> = None;
        let mut conn_failures = 0u32;
        let mut rotate = 0usize;
        tracing::debug!(broker = node, "producer sink started");
        loop {
            if self.shutdown.load(Ordering::SeqCst) && inflight.is_empty() {
                break;
            }
            let now = Instant::now();
            let mut next_wake: Option<Instant> = conn_backoff_until.filter(|t| *t > now);
            if conn
                .as_ref()
                .is_some_and(|c| c.is_closed() || c.needs_reauth())
            {
                conn = None;
            }
            if conn.is_none()
                && connecting.is_none()
                && conn_backoff_until.is_none_or(|t| t <= now)
                && !self.shutdown.load(Ordering::SeqCst)
                && self.has_data_for(node)
            {
                let client = self.client.clone();
                connecting = Some(Box::pin(
                    async move { client.broker_connection(node).await },
                ));
            }
            if let Some(c) = &conn {
                while inflight.len() < self.s.max_in_flight {
                    let batches = self.drain(node, now, &mut rotate, &mut next_wake);
                    if batches.is_empty() {
                        break;
                    }
                    let mut fut = self.start_request(c.clone(), batches);
                    // Poll once now so requests are encoded and queued on the connection in
                    // the order they were drained (sequence order per partition).
                    match futures::poll!(fut.as_mut()) {
                        std::task::Poll::Ready(done) => self.handle_done(done),
                        std::task::Poll::Pending => inflight.push(fut),
                    }
                }
            } else {
                // Not connected: still close lingering batches and track linger deadlines.
                self.scan_linger(node, now, &mut next_wake);
            }
            let sleep_until = next_wake.unwrap_or_else(|| now + Duration::from_secs(3600));
            tokio::select! {
                Some(done) = inflight.next(), if !inflight.is_empty() => self.handle_done(done),
                r = async {
                    match connecting.as_mut() {
                        Some(f) => f.await,
                        None => std::future::pending().await,
                    }
                }, if connecting.is_some() => {
                    connecting = None;
                    match r {
                        Ok(c) => {
                            conn = Some(c);
                            conn_failures = 0;
                            conn_backoff_until = None;
                        }
                        Err(e) => {
                            conn_failures += 1;
                            tracing::debug!(broker = node, error = %e, "producer sink cannot connect");
                            self.client.invalidate_metadata();
                            self.maintenance_wake.notify_one();
                            conn_backoff_until = Some(Instant::now() + self.s.backoff.delay(conn_failures));
                        }
                    }
                }
                _ = wake.notified() => {}
                _ = tokio::time::sleep_until(sleep_until) => {
                    if conn_backoff_until.is_some_and(|t| t <= Instant::now()) {
                        conn_backoff_until = None;
                    }
                }
            }
        }
        tracing::debug!(broker = node, "producer sink stopped");
    }

    fn has_data_for(&self, node: i32) -> bool {
        let md = self.client.metadata();
        self.all_topics().iter().any(|t| {
            t.partitions.iter().any(|pq| {
                md.leader_for(&t.name, pq.partition)
                    .is_some_and(|(l, _)| l == node)
                    && pq.lock().has_data()
            })
        })
    }

    fn scan_linger(&self, node: i32, now: Instant, next_wake: &mut Option<Instant>) {
        let md = self.client.metadata();
        for t in self.all_topics() {
            for pq in &t.partitions {
                if md.leader_for(&t.name, pq.partition).map(|l| l.0) != Some(node) {
                    continue;
                }
                let mut st = pq.lock();
                if let Some(open) = &st.open {
                    let due = open.created + self.s.linger;
                    if due <= now {
                        st.close_open();
                    } else {
                        min_into(next_wake, due);
                    }
                }
            }
        }
    }

    /// Collects up to `max.request.size` of ready batches, one per partition, from the
    /// partitions `node` leads; closes batches whose linger expired.
    fn drain(
        &self,
        node: i32,
        now: Instant,
        rotate: &mut usize,
        next_wake: &mut Option<Instant>,
    ) -> Vec<(Arc<PartitionQueue>, Batch)> {
        let md = self.client.metadata();
        let mut mine: Vec<Arc<PartitionQueue>> = Vec::new();
        for t in self.all_topics() {
            for pq in &t.partitions {
                if md.leader_for(&t.name, pq.partition).map(|l| l.0) == Some(node) {
                    mine.push(pq.clone());
                }
            }
        }
        let mut out = Vec::new();
        if mine.is_empty() {
            return out;
        }
        let start = *rotate % mine.len();
        *rotate = rotate.wrapping_add(1);
        // Count this request before looking at the bump flag (see `maybe_bump`).
        self.requests_in_flight.fetch_add(1, Ordering::SeqCst);
        let bumping = self.s.idempotent && self.bump_needed.load(Ordering::SeqCst);
        let mut total = 0usize;
        for i in 0..mine.len() {
            let pq = &mine[(start + i) % mine.len()];
            let mut st = pq.lock();
            if let Some(open) = &st.open {
                let due = open.created + self.s.linger;
                if due <= now {
                    st.close_open();
                } else {
                    min_into(next_wake, due);
                }
            }
            if st.ready.is_empty() || bumping {
                continue;
            }
            // Transactions: nothing is sent to a partition before it joined the transaction
            // (AddPartitionsToTxn answered), nor once the transaction is being aborted.
            if let Some(txn) = &self.txn
                && !txn.may_drain(&pq.topic, pq.partition)
            {
                continue;
            }
            if st.retry_blocked {
                if st.in_flight > 0 {
                    continue;
                }
                st.retry_blocked = false;
            }
            if let Some(t) = st.backoff_until {
                if t > now {
                    min_into(next_wake, t);
                    continue;
                }
                st.backoff_until = None;
            }
            // Idempotence: a broker without state for this producer accepts any first
            // sequence, so until the partition's first batch is acknowledged (in this epoch)
            // only one batch may be in flight; later batches could otherwise land first (a
            // fresh partition answering NOT_LEADER_OR_FOLLOWER to the first request and
            // accepting the next one). Then up to 5, the broker's de-duplication window.
            let limit = if st.last_acked_sequence < 0 { 1 } else { 5 };
            if self.s.idempotent && st.in_flight >= limit {
                continue;
            }
            let size = st.ready.front().map(Batch::wire_size).unwrap_or(0);
            if !out.is_empty() && total + size > self.s.max_request_size {
                break;
            }
            let Some(mut batch) = st.ready.pop_front() else {
                continue;
            };
            if self.s.idempotent && batch.stamp.is_none() {
                // The producer id and epoch as of now, read under the partition's lock: a
                // transaction that just ended may have bumped the epoch (EndTxn v5) after this
                // drain began, and a batch of the next transaction must not carry the old one
                // (the broker would answer INVALID_PRODUCER_EPOCH to every retry).
                let producer = *self.producer.read().unwrap_or_else(PoisonError::into_inner);
                batch.stamp = Some(Stamp {
                    producer_id: producer.0,
                    epoch: producer.1,
                    base_sequence: st.next_sequence,
                });
                st.next_sequence = add_sequence(st.next_sequence, batch.record_count);
            }
            st.in_flight += 1;
            drop(st);
            if let Some(txn) = &self.txn {
                txn.mark_started();
            }
            if batch.attempts == 0 {
                metrics::histogram!("kafka_producer_queue_time_seconds")
                    .record(now.saturating_duration_since(batch.created).as_secs_f64());
            }
            batch.attempts += 1;
            total += size;
            out.push((pq.clone(), batch));
        }
        if out.is_empty() {
            self.requests_in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        out
    }

    /// Encodes the batches into one ProduceRequest and returns the request's future.
    fn start_request(
        self: &Arc<Self>,
        conn: BrokerConnection,
        mut batches: Vec<(Arc<PartitionQueue>, Batch)>,
    ) -> InFlight {
        let md = self.client.metadata();
        let mut failed = Vec::new();
        let mut topic_data: Vec<TopicProduceData> = Vec::new();
        let mut any_without_id = false;
        let mut keep = Vec::with_capacity(batches.len());
        for (pq, mut batch) in batches.drain(..) {
            match batch.encode(
                self.s.compression,
                self.s.compression_level,
                self.s.transactional,
            ) {
                Ok(records) => {
                    metrics::histogram!("kafka_producer_batch_size_bytes")
                        .record(records.len() as f64);
                    let topic = &*pq.topic;
                    let pos = match topic_data.iter().position(|t| t.name == topic) {
                        Some(p) => p,
                        None => {
                            let id = md.topic(topic).map(|t| t.id).unwrap_or_default();
                            if id == kafka_protocol::Uuid::default() {
                                any_without_id = true;
                            }
                            topic_data.push(TopicProduceData {
                                name: topic.to_string(),
                                topic_id: id,
                                ..Default::default()
                            });
                            topic_data.len() - 1
                        }
                    };
                    topic_data[pos].partition_data.push(PartitionProduceData {
                        index: pq.partition,
                        records: Some(records),
                        ..Default::default()
                    });
                    keep.push((pq, batch));
                }
                Err(e) => failed.push((pq, batch, e)),
            }
        }
        for (pq, batch, e) in failed {
            self.fail_batch(&pq, batch, e, true);
        }
        let txn_id = self.txn.as_ref().map(|t| t.transactional_id.clone());
        // Transaction version 1 must not use Produce v12+, which adds partitions to the
        // transaction implicitly (KIP-890 part 2).
        let tv1 = self.txn.as_ref().is_some_and(|t| !t.tv2());
        let req = ProduceRequest {
            transactional_id: txn_id,
            acks: self.s.acks.as_i16(),
            timeout_ms: i32::try_from(self.s.request_timeout.as_millis()).unwrap_or(i32::MAX),
            topic_data,
            ..Default::default()
        };
        let acks = self.s.acks;
        let timeout = self.s.request_timeout;
        Box::pin(async move {
            let started = Instant::now();
            if keep.is_empty() {
                return Done {
                    batches: keep,
                    result: Ok(None),
                    started,
                };
            }
            let cap = if tv1 {
                Some(11)
            } else if any_without_id {
                Some(12)
            } else {
                None
            };
            let result = match conn.pick_version(ApiKey::Produce, cap) {
                Err(e) => Err(e),
                Ok(version) => {
                    if acks == Acks::None {
                        conn.connection()
                            .send_no_response(&req, version)
                            .await
                            .map(|()| None)
                    } else {
                        conn.connection()
                            .send_timeout(&req, version, timeout)
                            .await
                            .map(Some)
                    }
                }
            };
            Done {
                batches: keep,
                result,
                started,
            }
        })
    }

    fn handle_done(&self, done: Done) {
        let latency = done.started.elapsed();
        metrics::histogram!("kafka_producer_request_latency_seconds").record(latency.as_secs_f64());
        match done.result {
            Ok(None) => {
                for (pq, batch) in done.batches {
                    self.complete_batch(
                        &pq,
                        batch,
                        Outcome::Ok(BatchAck {
                            base_offset: -1,
                            log_append_time: -1,
                        }),
                    );
                }
            }
            Ok(Some(resp)) => {
                for (pq, batch) in done.batches {
                    let md = self.client.metadata();
                    let id = md.topic(&pq.topic).map(|t| t.id);
                    let pr = resp
                        .responses
                        .iter()
                        .filter(|t| {
                            t.name == *pq.topic
                                || (t.name.is_empty()
                                    && Some(t.topic_id) == id
                                    && t.topic_id != kafka_protocol::Uuid::default())
                        })
                        .flat_map(|t| t.partition_responses.iter())
                        .find(|p| p.index == pq.partition);
                    let outcome = match pr {
                        None => Outcome::Err {
                            error: ClientError::kafka(
                                ErrorCode::NetworkException,
                                Some("partition missing from the produce response".into()),
                            ),
                            log_start_offset: -1,
                        },
                        Some(p) => {
                            let code = ErrorCode::from_i16(p.error_code);
                            if code.is_ok() || code == ErrorCode::DuplicateSequenceNumber {
                                Outcome::Ok(BatchAck {
                                    base_offset: p.base_offset,
                                    log_append_time: p.log_append_time_ms,
                                })
                            } else {
                                let mut msg = p.error_message.clone();
                                if let Some(r) = p.record_errors.first() {
                                    msg = Some(format!(
                                        "{}record {}: {}",
                                        msg.map(|m| format!("{m}; ")).unwrap_or_default(),
                                        r.batch_index,
                                        r.batch_index_error_message.clone().unwrap_or_default()
                                    ));
                                }
                                Outcome::Err {
                                    error: ClientError::kafka(code, msg)
                                        .with_partition(&pq.topic, pq.partition),
                                    log_start_offset: p.log_start_offset,
                                }
                            }
                        }
                    };
                    self.complete_batch(&pq, batch, outcome);
                }
            }
            Err(e) => {
                for (pq, batch) in done.batches {
                    self.complete_batch(
                        &pq,
                        batch,
                        Outcome::Err {
                            error: e.clone().with_partition(&pq.topic, pq.partition),
                            log_start_offset: -1,
                        },
                    );
                }
            }
        }
        self.requests_in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.bump_needed.load(Ordering::SeqCst) {
            self.maintenance_wake.notify_one();
        }
    }

    fn complete_batch(&self, pq: &Arc<PartitionQueue>, mut batch: Batch, outcome: Outcome) {
        let (error, log_start_offset) = match outcome {
            Outcome::Ok(ack) => {
                {
                    let mut st = pq.lock();
                    st.in_flight = st.in_flight.saturating_sub(1);
                    if let Some(s) = batch.stamp {
                        st.last_acked_sequence =
                            add_sequence(s.base_sequence, batch.record_count - 1);
                    }
                    st.forget(&batch.shared);
                }
                metrics::counter!("kafka_producer_records_sent_total")
                    .increment(batch.record_count as u64);
                metrics::counter!("kafka_producer_bytes_sent_total")
                    .increment(batch.wire_size() as u64);
                self.finish(batch, Ok(ack));
                return;
            }
            Outcome::Err {
                error,
                log_start_offset,
            } => (error, log_start_offset),
        };
        if error.invalidates_metadata() {
            self.client.invalidate_metadata();
            self.maintenance_wake.notify_one();
        }
        let now = Instant::now();
        let expired = batch.created + self.s.delivery_timeout <= now;
        let retry = !expired
            && batch.attempts <= self.s.retries
            && !self.closing_hard()
            && self.can_retry(pq, &batch, &error, log_start_offset);
        if retry {
            tracing::debug!(topic = %pq.topic, partition = pq.partition, attempt = batch.attempts, error = %error, "retrying batch");
            metrics::counter!("kafka_producer_batch_retries_total").increment(1);
            batch.last_error = Some(error);
            let mut st = pq.lock();
            st.in_flight = st.in_flight.saturating_sub(1);
            st.retry_blocked = true;
            let until = now + self.s.backoff.delay(batch.attempts);
            st.backoff_until = Some(st.backoff_until.map_or(until, |t| t.max(until)));
            st.requeue(batch);
            drop(st);
            self.wake_leader_of(&pq.topic, pq.partition);
        } else {
            let err = if expired {
                ProducerError::DeliveryTimeout {
                    timeout: self.s.delivery_timeout,
                    last: Some(Box::new(error)),
                }
            } else {
                ProducerError::Client(error)
            };
            self.fail_batch(pq, batch, err, true);
        }
    }

    /// The Java client's retry rules for idempotent producers, then the error's own flag.
    fn can_retry(
        &self,
        pq: &PartitionQueue,
        batch: &Batch,
        error: &ClientError,
        log_start_offset: i64,
    ) -> bool {
        let code = error.error_code();
        if self.txn.is_some()
            && matches!(
                code,
                Some(ErrorCode::UnknownProducerId) | Some(ErrorCode::OutOfOrderSequenceNumber)
            )
        {
            // Java: in a transaction these fail the batch and the transaction (abortable);
            // the epoch is bumped when it ends.
            return false;
        }
        if self.s.idempotent
            && let Some(stamp) = batch.stamp
        {
            let current = *self.producer.read().unwrap_or_else(PoisonError::into_inner);
            match code {
                Some(ErrorCode::UnknownProducerId) => {
                    if log_start_offset >= 0 {
                        self.request_bump("UNKNOWN_PRODUCER_ID");
                    }
                    return true;
                }
                Some(ErrorCode::OutOfOrderSequenceNumber) => {
                    let last = pq.lock().last_acked_sequence;
                    let is_next = stamp.base_sequence == add_sequence(last, 1);
                    if (stamp.producer_id, stamp.epoch) == current
                        && last >= 0
                        && stamp.base_sequence <= last
                    {
                        // Behind what the broker acknowledged: it can never be appended in
                        // order; fail it (an unresolved sequence: the epoch is bumped).
                        return false;
                    }
                    if (stamp.producer_id, stamp.epoch) != current
                        || (!self.bump_needed.load(Ordering::SeqCst) && !is_next)
                    {
                        return true;
                    }
                    self.request_bump("OUT_OF_ORDER_SEQUENCE_NUMBER");
                    return true;
                }
                Some(ErrorCode::InvalidProducerEpoch) | Some(ErrorCode::ProducerFenced) => {
                    // Sent with an epoch we already replaced: resend re-sequenced.
                    return (stamp.producer_id, stamp.epoch) != current;
                }
                _ => {}
            }
        }
        error.is_retriable()
    }

    fn request_bump(&self, why: &str) {
        if let Some(txn) = &self.txn {
            // Transactional producers bump the epoch when the transaction ends instead
            // (EndTxn v5, or InitProducerId after the abort): fail the transaction.
            let mut g = txn.lock();
            if !g.bump_required {
                tracing::info!(
                    reason = why,
                    "transactional producer: unresolved sequence; epoch bump after the transaction"
                );
            }
            g.bump_required = true;
            return;
        }
        if !self.bump_needed.swap(true, Ordering::SeqCst) {
            tracing::info!(reason = why, "idempotent producer: epoch bump requested");
        }
        self.maintenance_wake.notify_one();
    }

    /// Fails a batch for good.
    pub(crate) fn fail_batch(
        &self,
        pq: &PartitionQueue,
        batch: Batch,
        err: ProducerError,
        was_in_flight: bool,
    ) {
        {
            let mut st = pq.lock();
            if was_in_flight {
                st.in_flight = st.in_flight.saturating_sub(1);
            }
            st.forget(&batch.shared);
        }
        if let Some(txn) = &self.txn
            && let Some(state_err) = txn.on_batch_error(&err)
        {
            // The transaction failed: nothing queued will be sent in it.
            self.abort_all(state_err);
        }
        if self.s.idempotent && batch.stamp.is_some() {
            // Its sequence may or may not be in the log: an unresolved sequence.
            self.request_bump("a batch with a sequence failed");
        }
        tracing::debug!(topic = %pq.topic, partition = pq.partition, error = %err, "batch failed");
        metrics::counter!("kafka_producer_record_errors_total")
            .increment(batch.record_count as u64);
        self.finish(batch, Err(err));
    }

    /// Completes the batch's records: futures, callbacks, interceptors, buffer memory.
    fn finish(&self, mut batch: Batch, result: Result<BatchAck, ProducerError>) {
        self.memory.add_permits(batch.reserved);
        if let Some((bytes, _)) = batch.encoded.take() {
            self.buffers.give(bytes);
        }
        batch.shared.complete(result.clone());
        if let Some(hook) = &self.ack_hook {
            for m in &batch.metas {
                match &result {
                    Ok(ack) => hook(Ok(&m.metadata(&batch.shared, ack))),
                    Err(e) => hook(Err(&e.to_string())),
                }
            }
        }
        batch.callbacks.complete(&batch.shared, &result);
    }

    fn closing_hard(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst) && self.fatal.get().is_some()
    }

    // ----- maintenance -----

    pub(crate) async fn maintenance_loop(self: Arc<Self>) {
        let tick = Duration::from_millis(50);
        let mut last_refresh = Instant::now();
        loop {
            if self.shutdown.load(Ordering::SeqCst) {
                break;
            }
            tokio::select! {
                _ = self.maintenance_wake.notified() => {}
                _ = tokio::time::sleep(tick) => {}
            }
            if self.s.idempotent && self.bump_needed.load(Ordering::SeqCst) {
                self.maybe_bump().await;
            }
            let now = Instant::now();
            let md = self.client.metadata();
            let mut need_refresh = false;
            let mut wake: Vec<i32> = Vec::new();
            for t in self.all_topics() {
                if let Some(tm) = md.topic(&t.name)
                    && tm.partitions.len() > t.partitions.len()
                {
                    self.ensure_topic(&t.name, tm.partitions.len());
                }
                for pq in &t.partitions {
                    let expired = self.expire(pq, now);
                    let has = !expired && pq.lock().has_data();
                    if !has {
                        continue;
                    }
                    match md.leader_for(&t.name, pq.partition) {
                        Some((l, _)) if md.broker(l).is_some() => {
                            if !wake.contains(&l) {
                                wake.push(l);
                            }
                        }
                        _ => need_refresh = true,
                    }
                }
            }
            for l in wake {
                self.sink(l).notify_one();
            }
            if need_refresh && last_refresh.elapsed() >= self.s.backoff.delay(1) {
                last_refresh = Instant::now();
                let topics: Vec<String> = self
                    .all_topics()
                    .iter()
                    .map(|t| t.name.to_string())
                    .collect();
                let r = tokio::time::timeout(
                    self.s.request_timeout,
                    self.client.refresh_metadata(topics),
                )
                .await;
                if let Ok(Err(e)) = r {
                    tracing::debug!(error = %e, "producer metadata refresh failed");
                }
            }
        }
    }

    /// Fails queued (not in-flight) batches older than `delivery.timeout.ms`; returns whether
    /// the partition is now empty because of it.
    fn expire(&self, pq: &PartitionQueue, now: Instant) -> bool {
        let deadline = self.s.delivery_timeout;
        let mut expired = Vec::new();
        {
            let mut st = pq.lock();
            if st
                .open
                .as_ref()
                .is_some_and(|o| o.created + deadline <= now)
            {
                st.close_open();
            }
            while st
                .ready
                .front()
                .is_some_and(|b| b.created + deadline <= now)
            {
                if let Some(b) = st.ready.pop_front() {
                    expired.push(b);
                }
            }
            if expired.is_empty() {
                return false;
            }
        }
        for mut b in expired {
            let last = b.last_error.take().map(Box::new);
            self.fail_batch(
                pq,
                b,
                ProducerError::DeliveryTimeout {
                    timeout: deadline,
                    last,
                },
                false,
            );
        }
        !pq.lock().has_data()
    }

    /// Bumps the epoch (or gets a new producer id) once nothing is in flight, then
    /// re-sequences every queued batch from 0.
    async fn maybe_bump(&self) {
        if self.requests_in_flight.load(Ordering::SeqCst) != 0 {
            return;
        }
        let current = *self.producer.read().unwrap_or_else(PoisonError::into_inner);
        let bump = self
            .client
            .negotiated_version(ApiKey::InitProducerId)
            .is_some_and(|v| v >= 3);
        match init_producer_id(&self.client, if bump { Some(current) } else { None }).await {
            Ok(next) => {
                tracing::info!(
                    producer_id = next.0,
                    epoch = next.1,
                    "idempotent producer: new epoch; sequences restart at 0"
                );
                self.set_producer(next);
                self.bump_needed.store(false, Ordering::SeqCst);
                self.wake_all();
            }
            Err(e) if e.is_retriable() => {
                tracing::debug!(error = %e, "epoch bump failed; retrying");
            }
            Err(e) => {
                tracing::error!(error = %e, "idempotent producer: cannot get a producer id");
                let _ = self
                    .fatal
                    .set(ProducerError::Fatal(format!("InitProducerId failed: {e}")));
                self.abort_all(ProducerError::Fatal(format!("InitProducerId failed: {e}")));
                self.bump_needed.store(false, Ordering::SeqCst);
            }
        }
    }

    // ----- transactions -----

    /// The producer id and epoch batches are stamped with.
    pub(crate) fn producer_id_and_epoch(&self) -> (i64, i16) {
        *self.producer.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets a new producer id/epoch (InitProducerId, EndTxn v5) and restarts every
    /// partition's sequences at 0. Only called when nothing is in flight.
    /// Installs a new producer id/epoch: sequences restart at 0 in every partition, and
    /// batches waiting for a retry with a stamp of the old epoch are re-stamped in order
    /// (the broker rejects the old epoch on every retry).
    pub(crate) fn set_producer(&self, next: (i64, i16)) {
        *self
            .producer
            .write()
            .unwrap_or_else(PoisonError::into_inner) = next;
        for t in self.all_topics() {
            for pq in &t.partitions {
                let mut st = pq.lock();
                st.last_acked_sequence = -1;
                st.retry_blocked = false;
                let mut seq = 0;
                for b in st.ready.iter_mut() {
                    if b.stamp.is_some() {
                        b.stamp = Some(Stamp {
                            producer_id: next.0,
                            epoch: next.1,
                            base_sequence: seq,
                        });
                        seq = add_sequence(seq, b.record_count);
                    }
                }
                st.next_sequence = seq;
            }
        }
    }

    /// Fails the batches of these partitions that were not sent (open and queued).
    pub(crate) fn fail_unsent(&self, partitions: &[(Arc<str>, i32)], err: &ProducerError) {
        for (topic, p) in partitions {
            let Some(t) = self.topic(topic) else {
                continue;
            };
            let Some(pq) = t.partitions.get(*p as usize) else {
                continue;
            };
            let batches: Vec<Batch> = {
                let mut st = pq.lock();
                st.close_open();
                st.ready.drain(..).collect()
            };
            for b in batches {
                self.fail_batch(pq, b, err.clone(), false);
            }
        }
    }

    // ----- flush / close -----

    /// Closes every open batch and returns the batches not completed yet.
    pub(crate) fn flush_targets(&self) -> Vec<Arc<BatchShared>> {
        let mut out = Vec::new();
        for t in self.all_topics() {
            for pq in &t.partitions {
                let mut st = pq.lock();
                st.close_open();
                out.extend(st.incomplete.iter().cloned());
            }
        }
        self.wake_all();
        out
    }

    /// Fails every queued (not in-flight) batch.
    pub(crate) fn abort_all(&self, err: ProducerError) {
        for t in self.all_topics() {
            for pq in &t.partitions {
                let batches: Vec<Batch> = {
                    let mut st = pq.lock();
                    st.close_open();
                    st.ready.drain(..).collect()
                };
                for b in batches {
                    self.fail_batch(pq, b, err.clone(), false);
                }
            }
        }
    }

    pub(crate) fn stop(&self) {
        self.shutdown.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    pub(crate) fn in_flight_requests(&self) -> usize {
        self.requests_in_flight.load(Ordering::SeqCst)
    }
}

fn min_into(slot: &mut Option<Instant>, t: Instant) {
    *slot = Some(slot.map_or(t, |s| s.min(t)));
}

/// InitProducerId without a transactional id: a new producer id, or (with `current`, v3+) the
/// same id with the next epoch.
pub(crate) async fn init_producer_id(
    client: &Client,
    current: Option<(i64, i16)>,
) -> Result<(i64, i16), ClientError> {
    let (producer_id, producer_epoch) = current.unwrap_or((-1, -1));
    let req = InitProducerIdRequest {
        transactional_id: None,
        transaction_timeout_ms: 60_000,
        producer_id,
        producer_epoch,
        ..Default::default()
    };
    let resp: InitProducerIdResponse = client
        .send_checked(
            &kafka_client::Target::AnyBroker,
            &req,
            kafka_client::SendOptions::default(),
            |r: &InitProducerIdResponse| ErrorCode::from_i16(r.error_code),
        )
        .await?;
    Ok((resp.producer_id, resp.producer_epoch))
}
