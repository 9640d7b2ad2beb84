//! [`Producer`]: the user-facing handle, and [`ProducerBuilder`].

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_client::Client;
use kafka_client::broker::Dialer;
use kafka_protocol::records::{RECORD_BATCH_OVERHEAD, RecordBatchBuilder};
use tokio::time::Instant;

use crate::accumulator::{
    Callbacks, OpenBatch, TopicState, header_size_estimate, record_size_estimate,
};
use crate::config::{PartitionerChoice, ProducerConfig};
use crate::delivery::{BatchShared, DeliveryFuture, RecordMeta};
use crate::engine::{AckHook, Engine, init_producer_id};
use crate::interceptor::{InterceptorChain, ProducerInterceptor};
use crate::partitioner::{
    DefaultPartitioner, PartitionRequest, Partitioner, RoundRobinPartitioner,
};
use crate::serializer::{DefaultSerializer, Serializer};
use crate::txn::{TxnManager, TxnState};
use crate::{Header, ProducerError, ProducerRecord, RecordMetadata, Topic};

/// A Kafka producer: batches records per partition and sends them to partition leaders, one
/// sender task per broker, with retries, idempotence (on by default) and ordering per
/// partition.
///
/// Cheap to clone (an `Arc` inside), `Send + Sync`: share it between tasks. Dropping the
/// last clone without [`close`](Producer::close) sends what is buffered in the background
/// (within `delivery.timeout.ms`) and then stops; call `close` to wait for that.
///
/// # Two phases
///
/// [`send`](Producer::send) is an `async fn` that waits only for what it needs to *queue* the
/// record — topic metadata and buffer space, each bounded by `max.block.ms` — and returns a
/// [`DeliveryFuture`] once the record is in a batch. That second future resolves when the
/// broker acknowledged the record (or when it failed for good). So records from one task are
/// queued in call order, and many records can be in flight without awaiting each ack:
///
/// ```no_run
/// use kafka_producer::{Producer, ProducerRecord, config::ProducerConfig};
///
/// # async fn demo() -> Result<(), kafka_producer::ProducerError> {
/// let config = ProducerConfig::from_properties([("bootstrap.servers", "localhost:9092"), ("linger.ms", "10")])?;
/// let producer: Producer<String, String> = Producer::new(config).await?;
/// let mut acks = Vec::new();
/// for i in 0..1000 {
///     let record = ProducerRecord::new("events", Some(format!("user-{i}")), format!("clicked {i}"));
///     acks.push(producer.send(record).await?); // queued
/// }
/// for ack in acks {
///     let md = ack.await?; // acknowledged
///     assert!(md.offset >= 0);
/// }
/// producer.close(std::time::Duration::from_secs(30)).await?;
/// # Ok(()) }
/// ```
pub struct Producer<K, V> {
    inner: Arc<Inner<K, V>>,
}

impl<K, V> Clone for Producer<K, V> {
    fn clone(&self) -> Self {
        Producer {
            inner: self.inner.clone(),
        }
    }
}

impl<K, V> std::fmt::Debug for Producer<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("engine", &self.inner.engine)
            .finish_non_exhaustive()
    }
}

enum Partitioning {
    Default,
    RoundRobin(RoundRobinPartitioner),
    Custom(Arc<dyn Partitioner>),
}

struct Inner<K, V> {
    engine: Arc<Engine>,
    key_ser: Arc<dyn Serializer<K>>,
    value_ser: Arc<dyn Serializer<V>>,
    interceptors: Arc<InterceptorChain<K, V>>,
    partitioning: Partitioning,
    ignore_keys: bool,
    max_block: Duration,
    buffer_memory: usize,
    max_request_size: usize,
    runtime: tokio::runtime::Handle,
}

impl<K, V> Drop for Inner<K, V> {
    fn drop(&mut self) {
        let engine = self.engine.clone();
        if engine
            .closing
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            engine.stop();
            engine.client.close();
            return;
        }
        // Send what is buffered, then stop (Java's close without waiting).
        let timeout = engine.s.delivery_timeout;
        self.runtime.spawn(async move {
            let targets = engine.flush_targets();
            let all = async {
                for t in targets {
                    t.wait().await;
                }
            };
            if tokio::time::timeout(timeout, all).await.is_err() {
                engine.abort_all(ProducerError::Closed);
            }
            engine.stop();
            engine.client.close();
        });
    }
}

impl<K, V> Producer<K, V> {
    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.inner.engine
    }
}

impl<K, V> Producer<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// A builder: serializers, interceptors, a custom partitioner, a custom dialer.
    pub fn builder(config: ProducerConfig) -> ProducerBuilder<K, V> {
        ProducerBuilder {
            config,
            key_ser: None,
            value_ser: None,
            interceptors: Vec::new(),
            partitioner: None,
            dialer: None,
        }
    }

    /// Connects with the default serializers of `K` and `V` (see [`DefaultSerializer`]).
    ///
    /// Cancel safe: dropping the future leaves nothing running.
    pub async fn new(config: ProducerConfig) -> Result<Producer<K, V>, ProducerError>
    where
        K: DefaultSerializer,
        V: DefaultSerializer,
    {
        Producer::builder(config)
            .default_serializers()
            .build()
            .await
    }

    /// Queues a record and returns a [`DeliveryFuture`] for its acknowledgement.
    ///
    /// Runs the interceptors' `on_send`, serializes key and value, waits for the topic's
    /// metadata and for buffer space (together at most `max.block.ms`), picks the partition
    /// (explicit, partitioner, or uniform sticky for keyless records) and appends the record
    /// to the partition's open batch.
    ///
    /// Errors here mean the record was not queued (serialization, unknown topic or no buffer
    /// space within `max.block.ms`, record too large, producer closed).
    ///
    /// Cancel safe: the record is queued only when the future completes; dropping it earlier
    /// leaves nothing queued.
    pub async fn send(
        &self,
        record: ProducerRecord<K, V>,
    ) -> Result<DeliveryFuture, ProducerError> {
        match self.enqueue::<NoCallback, true>(record, None).await? {
            Some((shared, meta)) => Ok(DeliveryFuture::new(shared, meta)),
            None => Err(ProducerError::Fatal(
                "record queued without a handle".into(),
            )),
        }
    }

    /// Queues a record like [`send`](Producer::send) and calls `callback` with its outcome
    /// once acknowledged or failed (on a producer task: keep it short and non-blocking).
    /// Fire-and-forget: nothing to await afterwards.
    ///
    /// When queueing fails the error is returned and the callback is not called.
    ///
    /// Cancel safe (see [`send`](Producer::send)).
    ///
    /// ```no_run
    /// # async fn demo(p: kafka_producer::Producer<String, String>) -> Result<(), kafka_producer::ProducerError> {
    /// use kafka_producer::ProducerRecord;
    /// p.send_with_callback(ProducerRecord::new("t", None, "v".to_string()), |r| {
    ///     if let Err(e) = r { eprintln!("lost: {e}") }
    /// }).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_with_callback<F>(
        &self,
        record: ProducerRecord<K, V>,
        callback: F,
    ) -> Result<(), ProducerError>
    where
        F: FnOnce(Result<RecordMetadata, ProducerError>) + Send + 'static,
    {
        self.enqueue::<F, false>(record, Some(callback)).await?;
        Ok(())
    }

    /// Sends every buffered record now (ignoring `linger.ms`) and waits until all records
    /// queued before the call are acknowledged or failed.
    ///
    /// Cancel safe: dropping the future only stops waiting.
    pub async fn flush(&self) {
        for t in self.inner.engine.flush_targets() {
            t.wait().await;
        }
    }

    /// Stops accepting records, flushes within `timeout`, fails what is still buffered after
    /// it with [`ProducerError::Closed`], and closes the connections. Other clones of the
    /// producer see it closed too.
    ///
    /// A transactional producer with an open transaction aborts it first (as Java's producer
    /// does on close), so `read_committed` consumers do not wait for `transaction.timeout.ms`.
    ///
    /// Cancel safe in the sense that dropping the future leaves the producer closed to new
    /// records; buffered records are then sent in the background.
    pub async fn close(&self, timeout: Duration) -> Result<(), ProducerError> {
        let engine = &self.inner.engine;
        let begun = Instant::now();
        if let Some(txn) = &engine.txn
            && matches!(
                txn.state(),
                TxnState::InTransaction | TxnState::AbortableError
            )
        {
            tracing::info!(transactional_id = %txn.transactional_id, "aborting the open transaction on close");
            if let Ok(Err(e)) = tokio::time::timeout(timeout, self.abort_transaction()).await {
                tracing::warn!(error = %e, "aborting the transaction on close failed");
            }
        }
        engine
            .closing
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let left = timeout.saturating_sub(begun.elapsed());
        let flushed = tokio::time::timeout(left, self.flush()).await.is_ok();
        if !flushed {
            engine.abort_all(ProducerError::Closed);
        }
        engine.stop();
        // In-flight requests finish (or fail) before the connections close.
        let end = Instant::now() + Duration::from_millis(500);
        while engine.in_flight_requests() > 0 && Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        engine.client.close();
        if flushed {
            Ok(())
        } else {
            Err(ProducerError::MaxBlock {
                what: "flush on close".into(),
                timeout,
            })
        }
    }

    /// The underlying client core (metadata, connections), shared with the producer.
    pub fn client(&self) -> &Client {
        &self.inner.engine.client
    }

    /// The number of partitions of `topic`, waiting for its metadata up to `max.block.ms`.
    ///
    /// Cancel safe.
    pub async fn partitions_for(&self, topic: &str) -> Result<i32, ProducerError> {
        let deadline = Instant::now() + self.inner.max_block;
        Ok(self.topic_state(topic, deadline).await?.partitions.len() as i32)
    }

    async fn topic_state(
        &self,
        name: &str,
        deadline: Instant,
    ) -> Result<Arc<TopicState>, ProducerError> {
        let engine = &self.inner.engine;
        if let Some(t) = engine.topic(name) {
            return Ok(t);
        }
        let mut attempt = 0;
        loop {
            let md = engine.client.metadata();
            if let Some(tm) = md.topic(name) {
                match tm.error {
                    None if !tm.partitions.is_empty() => {
                        return Ok(engine.ensure_topic(name, tm.partitions.len()));
                    }
                    Some(code)
                        if !code.is_retriable()
                            && code != kafka_protocol::ErrorCode::UnknownTopicOrPartition =>
                    {
                        return Err(ProducerError::Client(kafka_client::Error::kafka(
                            code,
                            Some(format!("topic {name}")),
                        )));
                    }
                    _ => {}
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ProducerError::MaxBlock {
                    what: format!("metadata for topic {name:?}"),
                    timeout: self.inner.max_block,
                });
            }
            if attempt > 0 {
                let pause = engine.s.backoff.delay(attempt).min(deadline - now);
                tokio::time::sleep(pause).await;
            }
            attempt += 1;
            match tokio::time::timeout_at(deadline, engine.client.refresh_metadata([name])).await {
                Ok(Err(e)) if !e.is_retriable() => return Err(ProducerError::Client(e)),
                _ => {}
            }
        }
    }

    /// Queues a record: the common case (topic known, buffer space free) runs without
    /// waiting and without nested futures; only metadata and buffer space are awaited.
    /// With `WANT`, returns what the [`DeliveryFuture`] needs.
    async fn enqueue<F, const WANT: bool>(
        &self,
        record: ProducerRecord<K, V>,
        callback: Option<F>,
    ) -> Result<Option<(Arc<BatchShared>, RecordMeta)>, ProducerError>
    where
        F: FnOnce(Result<RecordMetadata, ProducerError>) + Send + 'static,
    {
        let r = match self.prepare(record) {
            Ok(p) => {
                // max.block.ms starts when the first wait does (metadata or buffer memory):
                // the common path reads no clock here.
                let mut deadline: Option<Instant> = None;
                let topic = match self.inner.engine.topic_cached(&p.topic) {
                    Some(t) => Ok(t),
                    None => {
                        let d =
                            *deadline.get_or_insert_with(|| Instant::now() + self.inner.max_block);
                        self.topic_state(&p.topic, d).await
                    }
                };
                match topic.and_then(|t| self.route(&p, &t).map(|part| (t, part))) {
                    Err(e) => Err(e),
                    Ok((topic, partition)) => match self.reserve(p.size) {
                        Ok(()) => self.append::<F, WANT>(p, &topic, partition, callback),
                        Err(()) => {
                            let d = *deadline
                                .get_or_insert_with(|| Instant::now() + self.inner.max_block);
                            match self.reserve_wait(p.size, d).await {
                                Ok(()) => self.append::<F, WANT>(p, &topic, partition, callback),
                                Err(e) => Err(e),
                            }
                        }
                    },
                }
            }
            Err(e) => Err(e),
        };
        if let Err(e) = &r
            && !self.inner.interceptors.is_empty()
        {
            self.inner
                .interceptors
                .on_acknowledgement(Err(&e.to_string()));
        }
        r
    }

    /// Interceptors, serialization and the size checks.
    fn prepare(&self, record: ProducerRecord<K, V>) -> Result<Prepared, ProducerError> {
        let inner = &*self.inner;
        let engine = &inner.engine;
        if let Some(f) = engine.fatal.get() {
            return Err(f.clone());
        }
        if engine.closing.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(ProducerError::Closed);
        }
        let record = if inner.interceptors.is_empty() {
            record
        } else {
            inner.interceptors.on_send(record)
        };
        let ProducerRecord {
            topic,
            partition,
            key,
            value,
            timestamp,
            headers,
        } = record;
        let key: Option<Bytes> = match key {
            Some(k) => Some(inner.key_ser.serialize_owned(&topic, k)?),
            None => None,
        };
        let value: Option<Bytes> = match value {
            Some(v) => Some(inner.value_ser.serialize_owned(&topic, v)?),
            None => None,
        };
        let mut size = record_size_estimate(
            key.as_ref().map_or(0, Bytes::len),
            value.as_ref().map_or(0, Bytes::len),
            &[],
        );
        for h in &headers {
            size += header_size_estimate(h.key.len(), h.value.as_ref().map_or(0, Bytes::len));
        }
        if size + RECORD_BATCH_OVERHEAD > inner.max_request_size {
            return Err(ProducerError::RecordTooLarge {
                size,
                limit: inner.max_request_size,
                key: "max.request.size",
            });
        }
        if size > inner.buffer_memory {
            return Err(ProducerError::RecordTooLarge {
                size,
                limit: inner.buffer_memory,
                key: "buffer.memory",
            });
        }
        Ok(Prepared {
            topic,
            partition,
            timestamp,
            headers,
            key,
            value,
            size,
        })
    }

    /// The record's partition (explicit, partitioner, or uniform sticky); joins it to the
    /// open transaction.
    fn route(&self, p: &Prepared, topic: &TopicState) -> Result<i32, ProducerError> {
        let inner = &*self.inner;
        let engine = &inner.engine;
        let count = topic.partitions.len() as i32;
        let partition = match p.partition {
            Some(part) if part < 0 || part >= count => {
                return Err(ProducerError::InvalidPartition {
                    partition: part,
                    partitions: count,
                });
            }
            Some(part) => part,
            None => {
                let chosen = match &inner.partitioning {
                    Partitioning::Default => match &p.key {
                        Some(k) if !inner.ignore_keys => {
                            Some(crate::partitioner::murmur2_partition(k, count))
                        }
                        _ => None,
                    },
                    Partitioning::RoundRobin(rr) => rr.partition(&PartitionRequest {
                        topic: &p.topic,
                        key: p.key.as_deref(),
                        value: p.value.as_deref(),
                        num_partitions: count,
                        available_partitions: &[],
                    }),
                    Partitioning::Custom(c) => c.partition(&PartitionRequest {
                        topic: &p.topic,
                        key: if inner.ignore_keys {
                            None
                        } else {
                            p.key.as_deref()
                        },
                        value: p.value.as_deref(),
                        num_partitions: count,
                        available_partitions: &[],
                    }),
                };
                match chosen {
                    Some(part) if part >= 0 && part < count => part,
                    Some(part) => {
                        return Err(ProducerError::InvalidPartition {
                            partition: part,
                            partitions: count,
                        });
                    }
                    None => topic.sticky(p.size, engine.s.batch_size),
                }
            }
        };
        if let Some(txn) = &engine.txn {
            txn.maybe_add_partition(&topic.name, partition)?;
        }
        Ok(partition)
    }

    /// Takes `size` bytes of `buffer.memory` if free now.
    fn reserve(&self, size: usize) -> Result<(), ()> {
        let permits = u32::try_from(size).unwrap_or(u32::MAX);
        match self.inner.engine.memory.try_acquire_many(permits) {
            Ok(p) => {
                p.forget();
                Ok(())
            }
            Err(_) => Err(()),
        }
    }

    /// Waits for `size` bytes of `buffer.memory` until `deadline` (max.block.ms).
    async fn reserve_wait(&self, size: usize, deadline: Instant) -> Result<(), ProducerError> {
        let permits = u32::try_from(size).unwrap_or(u32::MAX);
        let memory = &self.inner.engine.memory;
        match tokio::time::timeout_at(deadline, memory.acquire_many(permits)).await {
            Ok(Ok(p)) => {
                p.forget();
                Ok(())
            }
            Ok(Err(_)) => Err(ProducerError::Closed),
            Err(_) => Err(ProducerError::MaxBlock {
                what: format!("{size} bytes of buffer.memory"),
                timeout: self.inner.max_block,
            }),
        }
    }

    /// Appends the record to its partition's open batch (`size` bytes of buffer memory
    /// already reserved; given back on failure).
    fn append<F, const WANT: bool>(
        &self,
        p: Prepared,
        topic: &TopicState,
        partition: i32,
        callback: Option<F>,
    ) -> Result<Option<(Arc<BatchShared>, RecordMeta)>, ProducerError>
    where
        F: FnOnce(Result<RecordMetadata, ProducerError>) + Send + 'static,
    {
        let inner = &*self.inner;
        let engine = &inner.engine;
        let size = p.size;
        let Some(pq) = topic.partitions.get(partition as usize) else {
            engine.memory.add_permits(size);
            return Err(ProducerError::InvalidPartition {
                partition,
                partitions: topic.partitions.len() as i32,
            });
        };
        let timestamp = p.timestamp.unwrap_or_else(now_ms);
        let headers: Vec<(&str, Option<&[u8]>)> = p
            .headers
            .iter()
            .map(|h| (h.key.as_str(), h.value.as_deref()))
            .collect();
        let mut wake = false;
        let result = {
            let mut st = pq.lock();
            if let Some(open) = &st.open
                && !open.builder.is_empty()
                && open.builder.uncompressed_size() + size > engine.s.batch_size
            {
                st.close_open();
                wake = true;
            }
            let hint = if callback.is_some() {
                st.last_batch_records
            } else {
                0
            };
            let open = match &mut st.open {
                Some(o) => o,
                slot @ None => {
                    let shared = BatchShared::new(topic.name.clone(), partition);
                    let capacity = engine.s.batch_size.max(size).min(inner.max_request_size);
                    wake = true;
                    slot.insert(OpenBatch {
                        builder: RecordBatchBuilder::with_buffer(
                            0,
                            engine.buffers.take(0),
                            capacity,
                        ),
                        shared,
                        created: Instant::now(),
                        reserved: 0,
                        metas: Vec::new(),
                        callbacks: Callbacks::with_hint(hint),
                    })
                }
            };
            let index = open.builder.len() as u32;
            match open
                .builder
                .append(timestamp, p.key.as_deref(), p.value.as_deref(), &headers)
            {
                Err(e) => Err(e),
                Ok(_) => {
                    open.reserved += size;
                    let meta = RecordMeta {
                        index,
                        timestamp,
                        key_size: p.key.as_ref().map_or(-1, |k| k.len() as i32),
                        value_size: p.value.as_ref().map_or(-1, |v| v.len() as i32),
                    };
                    if engine.keep_record_meta {
                        open.metas.push(meta);
                    }
                    if let Some(cb) = callback {
                        open.callbacks.push(meta, cb);
                    }
                    let handle = WANT.then(|| (open.shared.clone(), meta));
                    let full = open.builder.uncompressed_size() >= engine.s.batch_size;
                    if index == 0 {
                        let shared = open.shared.clone();
                        st.incomplete.push_back(shared);
                    }
                    if full {
                        st.close_open();
                        wake = true;
                    }
                    Ok(handle)
                }
            }
        };
        if wake {
            engine.wake_leader_of(&topic.name, partition);
        }
        match result {
            Ok(r) => Ok(r),
            Err(e) => {
                engine.memory.add_permits(size);
                Err(ProducerError::Client(kafka_client::Error::from(e)))
            }
        }
    }
}

/// A serialized record on its way into a batch.
struct Prepared {
    topic: Topic,
    partition: Option<i32>,
    timestamp: Option<i64>,
    headers: Vec<Header>,
    key: Option<Bytes>,
    value: Option<Bytes>,
    /// Upper bound of its size in a batch (what it reserves of `buffer.memory`).
    size: usize,
}

/// The callback type of [`Producer::send`], which has none.
type NoCallback = fn(Result<RecordMetadata, ProducerError>);

/// The wall clock in ms for records sent without a timestamp, read once per record.
///
/// On Linux this is `CLOCK_REALTIME_COARSE` (the time of the last timer tick, read from the
/// vDSO without touching the clock hardware): never ahead of the precise clock and at most one
/// tick (1 to 4 ms, by the kernel's `HZ`) behind it. The precise read was a tenth of the
/// sending thread's time at 100-byte records; Kafka timestamps are milliseconds.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn now_ms() -> i64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
    (t.tv_sec as i64)
        .saturating_mul(1000)
        .saturating_add(t.tv_nsec as i64 / 1_000_000)
}

/// The wall clock in ms for records sent without a timestamp.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Builds a [`Producer`]: serializers, interceptors, partitioner, transport.
///
/// ```no_run
/// use std::sync::Arc;
/// use kafka_producer::{Producer, config::ProducerConfig};
/// use kafka_producer::serializer::{JsonSerializer, StringSerializer};
///
/// # async fn demo() -> Result<(), kafka_producer::ProducerError> {
/// let producer: Producer<String, serde_json::Value> = Producer::builder(ProducerConfig::builder("localhost:9092").build()?)
///     .key_serializer(StringSerializer)
///     .value_serializer(JsonSerializer)
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
pub struct ProducerBuilder<K, V> {
    config: ProducerConfig,
    key_ser: Option<Arc<dyn Serializer<K>>>,
    value_ser: Option<Arc<dyn Serializer<V>>>,
    interceptors: Vec<Arc<dyn ProducerInterceptor<K, V>>>,
    partitioner: Option<Arc<dyn Partitioner>>,
    dialer: Option<Dialer>,
}

impl<K, V> std::fmt::Debug for ProducerBuilder<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<K, V> ProducerBuilder<K, V>
where
    K: Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// The key serializer.
    pub fn key_serializer(mut self, s: impl Serializer<K> + 'static) -> Self {
        self.key_ser = Some(Arc::new(s));
        self
    }

    /// The value serializer.
    pub fn value_serializer(mut self, s: impl Serializer<V> + 'static) -> Self {
        self.value_ser = Some(Arc::new(s));
        self
    }

    /// The default serializers of `K` and `V` (bytes, strings, integers, JSON values).
    pub fn default_serializers(mut self) -> Self
    where
        K: DefaultSerializer,
        V: DefaultSerializer,
    {
        self.key_ser = Some(K::default_serializer());
        self.value_ser = Some(V::default_serializer());
        self
    }

    /// Adds an interceptor (applied in the order added).
    pub fn interceptor(mut self, i: Arc<dyn ProducerInterceptor<K, V>>) -> Self {
        self.interceptors.push(i);
        self
    }

    /// A custom partitioner (overrides `partitioner.class`). When it returns `None` the record
    /// goes to the uniform sticky partition.
    pub fn partitioner(mut self, p: Arc<dyn Partitioner>) -> Self {
        self.partitioner = Some(p);
        self
    }

    /// A custom transport dialer (proxies, in-memory pipes in tests).
    pub fn dialer(mut self, d: Dialer) -> Self {
        self.dialer = Some(d);
        self
    }

    /// Validates, connects (first metadata), gets a producer id when idempotent, and starts
    /// the engine. Must run inside a Tokio runtime.
    ///
    /// Cancel safe: dropping the future leaves nothing running.
    pub async fn build(self) -> Result<Producer<K, V>, ProducerError> {
        let cfg = self.config;
        cfg.validate()?;
        let key_ser = self.key_ser.ok_or_else(|| {
            ProducerError::config(
                "key.serializer",
                "no key serializer: call key_serializer(..) or default_serializers()",
            )
        })?;
        let value_ser = self.value_ser.ok_or_else(|| {
            ProducerError::config(
                "value.serializer",
                "no value serializer: call value_serializer(..) or default_serializers()",
            )
        })?;
        let client = match self.dialer {
            Some(d) => Client::connect_with_dialer(cfg.client.clone(), d).await?,
            None => Client::connect(cfg.client.clone()).await?,
        };
        let producer = if cfg.transactional_id.is_some() {
            // The producer id comes from init_transactions.
            (-1, -1)
        } else if cfg.idempotence() {
            match init_producer_id(&client, None).await {
                Ok(p) => p,
                Err(e) => {
                    client.close();
                    return Err(ProducerError::Client(e));
                }
            }
        } else {
            (-1, -1)
        };
        let interceptors = Arc::new(InterceptorChain::new(self.interceptors));
        let hook: Option<AckHook> = if interceptors.is_empty() {
            None
        } else {
            let chain = interceptors.clone();
            Some(Arc::new(move |r: Result<&RecordMetadata, &str>| {
                chain.on_acknowledgement(r)
            }))
        };
        let txn = cfg
            .transactional_id
            .clone()
            .map(|id| Arc::new(TxnManager::new(id, cfg.transaction_timeout)));
        let engine = Engine::new(&cfg, client, hook, producer, txn);
        tokio::spawn(engine.clone().maintenance_loop());
        if engine.txn.is_some() {
            tokio::spawn(engine.clone().txn_loop());
        }
        let partitioning = match (self.partitioner, &cfg.partitioner) {
            (Some(p), _) => Partitioning::Custom(p),
            (None, PartitionerChoice::Custom(p)) => Partitioning::Custom(p.clone()),
            (None, PartitionerChoice::RoundRobin) => {
                Partitioning::RoundRobin(RoundRobinPartitioner::default())
            }
            (None, PartitionerChoice::Default) => Partitioning::Default,
        };
        let _ = DefaultPartitioner::default();
        Ok(Producer {
            inner: Arc::new(Inner {
                engine,
                key_ser,
                value_ser,
                interceptors,
                partitioning,
                ignore_keys: cfg.partitioner_ignore_keys,
                max_block: cfg.max_block,
                buffer_memory: cfg.buffer_memory,
                max_request_size: cfg.max_request_size,
                runtime: tokio::runtime::Handle::current(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    fn precise_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    #[test]
    fn record_clock_is_the_wall_clock_never_ahead() {
        for _ in 0..1000 {
            let before = precise_ms();
            let t = super::now_ms();
            let after = precise_ms();
            assert!(t <= after, "coarse clock ahead: {t} > {after}");
            // one timer tick at most (HZ >= 100), with room for a descheduled thread
            assert!(t >= before - 50, "coarse clock {t} far behind {before}");
        }
    }
}
