//! [`Consumer`]: the application-facing consumer.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use kafka_client::Client;
use regex::Regex;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::assignor::{PreviousAssignment, RebalanceProtocol, TopicPartition};
use crate::config::{AutoOffsetReset, ConsumerConfig, GroupProtocol, IsolationLevel};
use crate::error::{Error, Result};
use crate::fetcher::{self, Shared};
use crate::group::{self, Membership, SharedMembership};
use crate::listener::{ConsumerInterceptor, ConsumerRebalanceListener, NoopListener};
use crate::offsets::{self, Committer, EARLIEST, LATEST};
use crate::record::{
    BytesDeserializer, ConsumerRecord, Deserializer, OffsetAndMetadata, OffsetAndTimestamp,
};
use crate::state::{PartitionState, Pending, RawRecord};

// KIP-848 (`group.protocol=consumer`) membership: a child module so that it can extend
// `Consumer` with the poll-side reconciliation.
#[path = "group_consumer.rs"]
mod group_consumer;

#[derive(Debug, Clone)]
enum Subscription {
    None,
    Topics(BTreeSet<String>),
    Pattern(Regex),
    Assigned,
}

struct GroupState {
    membership: SharedMembership,
    heartbeat: Option<JoinHandle<()>>,
    owned: BTreeSet<TopicPartition>,
    protocol: RebalanceProtocol,
    joined_topics: BTreeSet<String>,
    previous: Option<PreviousAssignment>,
    next_pattern_check: Instant,
}

/// A Kafka consumer: subscribe to topics as a member of a consumer group (or assign partitions
/// by hand), then [`poll`](Consumer::poll) for records or use it as a [`Stream`]
/// ([`Consumer::stream`]).
///
/// `K` and `V` are what the key and value deserializers produce; [`Consumer::new`] gives
/// `Option<Bytes>` for both (zero-copy slices of the fetch response).
///
/// Like Java's consumer, it is driven by the application: rebalance listener callbacks run
/// inside `poll`, and a member that does not call `poll` within `max.poll.interval.ms` leaves
/// its group. Fetching (one request in flight per broker, prefetching ahead of the
/// application) and group heartbeats run in background tasks on the Tokio runtime, so slow
/// processing between polls does not miss heartbeats.
///
/// ```no_run
/// # async fn demo() -> Result<(), kafka_consumer::Error> {
/// use std::time::Duration;
/// use kafka_consumer::{AutoOffsetReset, Consumer, ConsumerConfig, StringDeserializer};
///
/// let cfg = ConsumerConfig::builder()
///     .bootstrap_servers("localhost:9092")
///     .group_id("billing")
///     .auto_offset_reset(AutoOffsetReset::Earliest)
///     .build()?;
/// let mut consumer = Consumer::with_deserializers(cfg, StringDeserializer, StringDeserializer).await?;
/// consumer.subscribe(["orders"]).await?;
/// loop {
///     for r in consumer.poll(Duration::from_millis(500)).await? {
///         println!("{}-{}@{}: {:?}", r.topic, r.partition, r.offset, r.value);
///     }
/// #   break;
/// }
/// consumer.close().await?;
/// # Ok(()) }
/// ```
pub struct Consumer<K = Option<Bytes>, V = Option<Bytes>> {
    client: Client,
    cfg: ConsumerConfig,
    shared: Arc<Shared>,
    fetch_task: JoinHandle<()>,
    key_de: Arc<dyn Deserializer<K>>,
    value_de: Arc<dyn Deserializer<V>>,
    interceptors: Vec<Arc<dyn ConsumerInterceptor<K, V>>>,
    listener: Box<dyn ConsumerRebalanceListener>,
    subscription: Subscription,
    group: Option<GroupState>,
    /// KIP-848 membership (`group.protocol=consumer`); `group` is None then.
    kip848: Option<group_consumer::Kip848>,
    next_auto_commit: Instant,
    closed: bool,
}

impl<K, V> std::fmt::Debug for Consumer<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("group_id", &self.cfg.group_id)
            .field("subscription", &self.subscription)
            .finish_non_exhaustive()
    }
}

impl Consumer<Option<Bytes>, Option<Bytes>> {
    /// Connects (bootstrap metadata) with raw-bytes keys and values.
    ///
    /// Cancel safe: dropping the future leaves nothing running.
    pub async fn new(cfg: ConsumerConfig) -> Result<Self> {
        Consumer::with_deserializers(cfg, BytesDeserializer, BytesDeserializer).await
    }
}

impl<K: Send + 'static, V: Send + 'static> Consumer<K, V> {
    /// Connects with typed deserializers.
    ///
    /// ```no_run
    /// # async fn demo(cfg: kafka_consumer::ConsumerConfig) -> Result<(), kafka_consumer::Error> {
    /// use kafka_consumer::{Consumer, I64Deserializer, JsonDeserializer};
    /// #[derive(serde::Deserialize)]
    /// struct Order { id: u64 }
    /// let c: Consumer<Option<i64>, Option<Order>> =
    ///     Consumer::with_deserializers(cfg, I64Deserializer, JsonDeserializer::new()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// Cancel safe.
    pub async fn with_deserializers(
        cfg: ConsumerConfig,
        key: impl Deserializer<K> + 'static,
        value: impl Deserializer<V> + 'static,
    ) -> Result<Self> {
        cfg.validate()?;
        let kip848 = match (&cfg.group_id, cfg.group_protocol) {
            (Some(g), GroupProtocol::Consumer) => Some(group_consumer::Kip848::new(&cfg, g)),
            _ => None,
        };
        let client = Client::connect(cfg.client.clone()).await?;
        let shared = Arc::new(Shared::default());
        let fetch_task = tokio::spawn(fetcher::run(shared.clone(), client.clone(), cfg.clone()));
        let group = cfg.group_id.as_ref().map(|_| GroupState {
            membership: Arc::new(std::sync::Mutex::new(Membership::new())),
            heartbeat: None,
            owned: BTreeSet::new(),
            protocol: group::rebalance_protocol(&cfg.assignors),
            joined_topics: BTreeSet::new(),
            previous: None,
            next_pattern_check: Instant::now(),
        });
        // The classic membership is not used with group.protocol=consumer.
        let group = group.filter(|_| kip848.is_none());
        Ok(Consumer {
            next_auto_commit: Instant::now() + cfg.auto_commit_interval,
            client,
            cfg,
            shared,
            fetch_task,
            key_de: Arc::new(key),
            value_de: Arc::new(value),
            interceptors: Vec::new(),
            listener: Box::new(NoopListener),
            subscription: Subscription::None,
            group,
            kip848,
            closed: false,
        })
    }

    /// The client core underneath (metadata, raw requests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &ConsumerConfig {
        &self.cfg
    }

    /// Sets the rebalance listener (replacing the previous one).
    pub fn set_rebalance_listener(&mut self, listener: impl ConsumerRebalanceListener + 'static) {
        self.listener = Box::new(listener);
    }

    /// Adds an interceptor; interceptors run in the order added.
    pub fn add_interceptor(&mut self, i: impl ConsumerInterceptor<K, V> + 'static) {
        self.interceptors.push(Arc::new(i));
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Subscribes to `topics` as a group member (replacing any previous subscription); the
    /// group is joined by the next [`poll`](Consumer::poll).
    ///
    /// Cancel safe.
    pub async fn subscribe<I, S>(&mut self, topics: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.check_open()?;
        if self.group.is_none() && self.kip848.is_none() {
            return Err(Error::NoGroup("subscribe"));
        }
        if matches!(self.subscription, Subscription::Assigned) {
            return Err(Error::IllegalState(
                "subscribe after assign: call unsubscribe first".into(),
            ));
        }
        let topics: BTreeSet<String> = topics.into_iter().map(Into::into).collect();
        if topics.iter().any(|t| t.trim().is_empty()) {
            return Err(Error::IllegalState("empty topic name".into()));
        }
        self.client.refresh_metadata(topics.iter().cloned()).await?;
        self.subscription = Subscription::Topics(topics);
        self.request_rejoin();
        self.kip848_subscribe(None);
        Ok(())
    }

    /// Subscribes to every topic whose whole name matches `pattern` (the `regex` crate's
    /// syntax), re-evaluated as topics come and go. With `group.protocol=consumer` the
    /// coordinator resolves it (SubscribedTopicRegex, RE2 syntax) when it serves
    /// ConsumerGroupHeartbeat v1; with v0 it is resolved here.
    ///
    /// Cancel safe.
    pub async fn subscribe_pattern(&mut self, pattern: &str) -> Result<()> {
        self.check_open()?;
        if self.group.is_none() && self.kip848.is_none() {
            return Err(Error::NoGroup("subscribe_pattern"));
        }
        if matches!(self.subscription, Subscription::Assigned) {
            return Err(Error::IllegalState(
                "subscribe after assign: call unsubscribe first".into(),
            ));
        }
        let re = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| Error::IllegalState(format!("bad pattern {pattern:?}: {e}")))?;
        self.client.refresh_all_metadata().await?;
        self.subscription = Subscription::Pattern(re);
        self.request_rejoin();
        self.kip848_subscribe(Some(pattern));
        Ok(())
    }

    /// Assigns partitions by hand (no group membership, no rebalancing). Positions start from
    /// committed offsets when a group id is set, else from `auto.offset.reset`.
    ///
    /// Cancel safe.
    pub async fn assign<I>(&mut self, partitions: I) -> Result<()>
    where
        I: IntoIterator<Item = TopicPartition>,
    {
        self.check_open()?;
        if matches!(
            self.subscription,
            Subscription::Topics(_) | Subscription::Pattern(_)
        ) {
            return Err(Error::IllegalState(
                "assign after subscribe: call unsubscribe first".into(),
            ));
        }
        let want: BTreeSet<TopicPartition> = partitions.into_iter().collect();
        let topics: BTreeSet<String> = want.iter().map(|tp| tp.topic.clone()).collect();
        if !topics.is_empty() {
            self.client.refresh_metadata(topics).await?;
        }
        let pending = self.initial_pending();
        {
            let mut st = self.shared.lock();
            st.parts.retain(|tp, _| want.contains(tp));
            for tp in &want {
                st.parts
                    .entry(tp.clone())
                    .or_insert_with(|| PartitionState::new(Arc::from(tp.topic.as_str()), pending));
            }
        }
        self.subscription = if want.is_empty() {
            Subscription::None
        } else {
            Subscription::Assigned
        };
        self.shared.wake_fetcher.notify_one();
        Ok(())
    }

    /// Drops the subscription or assignment; a group member revokes its partitions (listener
    /// called, offsets auto-committed) and leaves the group.
    ///
    /// Cancel safe (a LeaveGroup already sent is not undone).
    pub async fn unsubscribe(&mut self) -> Result<()> {
        self.check_open()?;
        self.leave_group("the consumer unsubscribed").await;
        self.shared.lock().parts.clear();
        self.subscription = Subscription::None;
        Ok(())
    }

    fn initial_pending(&self) -> Pending {
        if self.cfg.group_id.is_some() {
            Pending::Committed
        } else {
            Pending::Reset(self.cfg.auto_offset_reset)
        }
    }

    fn request_rejoin(&mut self) {
        if let Some(g) = &self.group {
            group::lock(&g.membership).rejoin_needed = true;
        }
    }

    /// The partitions assigned to this consumer now.
    pub fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.shared.lock().parts.keys().cloned().collect()
    }

    /// The subscribed topics (for a pattern: the matching topics at the last rebalance).
    pub fn subscription(&self) -> BTreeSet<String> {
        match &self.subscription {
            Subscription::Topics(t) => t.clone(),
            Subscription::Pattern(_) => match self.kip848_subscription() {
                Some(t) => t,
                None => self
                    .group
                    .as_ref()
                    .map(|g| g.joined_topics.clone())
                    .unwrap_or_default(),
            },
            _ => BTreeSet::new(),
        }
    }

    /// The member id and generation of the last successful join (None outside a group); with
    /// `group.protocol=consumer`, the member id and the current member epoch.
    pub fn group_metadata(&self) -> Option<(String, i32)> {
        if self.kip848.is_some() {
            return self.kip848_metadata();
        }
        self.group.as_ref().map(|g| {
            let m = group::lock(&g.membership);
            (m.member_id.clone(), m.generation)
        })
    }

    /// The group metadata a transactional producer sends with its offsets
    /// (`send_offsets_to_transaction`): group id, generation and member id of the last
    /// successful join (-1 and empty outside a group) and `group.instance.id`. `None` without
    /// `group.id`.
    pub fn consumer_group_metadata(&self) -> Option<kafka_client::ConsumerGroupMetadata> {
        let group_id = self.cfg.group_id.clone()?;
        let (member_id, generation_id) = self.group_metadata().unwrap_or((String::new(), -1));
        Some(kafka_client::ConsumerGroupMetadata {
            group_id,
            generation_id,
            member_id,
            group_instance_id: self.cfg.group_instance_id.clone(),
        })
    }

    /// Returns the records fetched since the last call, at most `max.poll.records`, waiting up
    /// to `timeout` for some to arrive. Joins or rejoins the group, runs rebalance listener
    /// callbacks, resolves starting positions, and auto-commits as needed.
    ///
    /// A group (re)join can take longer than `timeout` (it waits for the other members, up to
    /// `max.poll.interval.ms`).
    ///
    /// Cancel safe: no record is lost when the future is dropped — records are taken from the
    /// buffers only in the final, synchronous step. A group join interrupted by cancellation
    /// restarts on the next call.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord<K, V>>> {
        self.check_open()?;
        let deadline = Instant::now() + timeout;
        if let Some(g) = &self.group {
            group::lock(&g.membership).last_poll = Instant::now();
        }
        loop {
            if self.group.is_some()
                && matches!(
                    self.subscription,
                    Subscription::Topics(_) | Subscription::Pattern(_)
                )
            {
                self.ensure_group().await?;
            } else if self.kip848.is_some()
                && matches!(
                    self.subscription,
                    Subscription::Topics(_) | Subscription::Pattern(_)
                )
            {
                self.kip848_poll().await?;
            }
            self.maybe_auto_commit();
            self.update_positions().await?;
            let recs = self.take_records()?;
            if !recs.is_empty() {
                self.shared.wake_fetcher.notify_one();
                let mut recs = recs;
                for i in &self.interceptors {
                    recs = i.on_consume(recs);
                }
                return Ok(recs);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let wait = (deadline - now).min(Duration::from_millis(200));
            let _ = tokio::time::timeout(wait, self.shared.wake_poll.notified()).await;
        }
    }

    fn take_records(&mut self) -> Result<Vec<ConsumerRecord<K, V>>> {
        let read_committed = self.cfg.isolation_level == IsolationLevel::ReadCommitted;
        let mut out = Vec::new();
        let (key_de, value_de) = (&self.key_de, &self.value_de);
        // One pass: each record is decoded and deserialized straight into what poll returns.
        let err = self.shared.lock().drain_with(
            self.cfg.max_poll_records,
            read_committed,
            self.cfg.check_crcs,
            |mut r: RawRecord| {
                let ksize = r.record.key.as_ref().map_or(-1, |b| b.len() as i32);
                let vsize = r.record.value.as_ref().map_or(-1, |b| b.len() as i32);
                // Key and value move into the deserializers (no reference-count update).
                let failed =
                    |r: &RawRecord, what: &'static str, message: String| Error::Deserialization {
                        tp: TopicPartition::new(&*r.topic, r.partition),
                        offset: r.record.offset,
                        what,
                        message,
                    };
                let key = match key_de.deserialize(&r.topic, &r.record.headers, r.record.key.take())
                {
                    Ok(k) => k,
                    Err(m) => return Err(failed(&r, "key", m)),
                };
                let value = match value_de.deserialize(
                    &r.topic,
                    &r.record.headers,
                    r.record.value.take(),
                ) {
                    Ok(v) => v,
                    Err(m) => return Err(failed(&r, "value", m)),
                };
                if out.capacity() == 0 {
                    out.reserve(self.cfg.max_poll_records.min(4096));
                }
                out.push(ConsumerRecord {
                    topic: r.topic,
                    partition: r.partition,
                    offset: r.record.offset,
                    timestamp: r.record.timestamp,
                    timestamp_type: r.timestamp_type,
                    leader_epoch: r.leader_epoch,
                    serialized_key_size: ksize,
                    serialized_value_size: vsize,
                    key,
                    value,
                    headers: r.record.headers,
                });
                Ok(())
            },
        );
        if !out.is_empty() {
            self.shared.lock().record_lag_metrics(read_committed);
        }
        match err {
            // The error comes back at the next poll (the position stayed at its record).
            Some(_) if !out.is_empty() => self.shared.wake_fetcher.notify_one(),
            Some(e) => {
                self.shared.wake_fetcher.notify_one();
                return Err(e);
            }
            None => {}
        }
        metrics::counter!("kafka_consumer_records_consumed_total").increment(out.len() as u64);
        Ok(out)
    }

    /// A [`Stream`] of records (one at a time, from batches of [`poll`](Consumer::poll)); errors
    /// are stream items and the stream goes on after them.
    ///
    /// ```no_run
    /// # async fn demo(mut consumer: kafka_consumer::Consumer) -> Result<(), kafka_consumer::Error> {
    /// use futures::StreamExt;
    /// let mut stream = consumer.stream();
    /// while let Some(record) = stream.next().await {
    ///     let record = record?;
    ///     println!("{}@{}", record.partition, record.offset);
    /// #   break;
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// Cancel safe: dropping `next()` loses nothing; records already polled stay in the stream.
    pub fn stream(&mut self) -> RecordStream<'_, K, V> {
        RecordStream {
            consumer: Some(self),
            buf: VecDeque::new(),
            fut: None,
        }
    }

    // ------------------------------------------------------------------ positions

    async fn update_positions(&mut self) -> Result<()> {
        let (committed, resets): (
            BTreeSet<TopicPartition>,
            Vec<(TopicPartition, AutoOffsetReset)>,
        ) = {
            let st = self.shared.lock();
            let mut c = BTreeSet::new();
            let mut r = Vec::new();
            for (tp, p) in &st.parts {
                match p.pending {
                    Some(Pending::Committed) => {
                        c.insert(tp.clone());
                    }
                    Some(Pending::Reset(policy)) => r.push((tp.clone(), policy)),
                    None => {}
                }
            }
            (c, r)
        };
        let mut resets = resets;
        if !committed.is_empty() {
            let group_id = self.cfg.group_id.clone().unwrap_or_default();
            let member = self.kip848.as_ref().map(|k| k.member_fn());
            let found = offsets::fetch_committed(
                &self.client,
                &group_id,
                member.as_ref(),
                &committed,
                self.cfg.client.default_api_timeout,
            )
            .await?;
            let mut st = self.shared.lock();
            for (tp, o) in found {
                let Some(p) = st.parts.get_mut(&tp) else {
                    continue;
                };
                if p.pending != Some(Pending::Committed) {
                    continue;
                }
                match o {
                    // KIP-320: a committed epoch is checked against the leader first.
                    Some(o) => p.seek_unvalidated(o.offset, o.leader_epoch),
                    None => {
                        p.pending = Some(Pending::Reset(self.cfg.auto_offset_reset));
                        resets.push((tp, self.cfg.auto_offset_reset));
                    }
                }
            }
        }
        if resets.is_empty() {
            return Ok(());
        }
        let mut query = BTreeMap::new();
        for (tp, policy) in &resets {
            match policy {
                AutoOffsetReset::Earliest => {
                    query.insert(tp.clone(), EARLIEST);
                }
                AutoOffsetReset::Latest => {
                    query.insert(tp.clone(), LATEST);
                }
                AutoOffsetReset::None => {
                    let mut st = self.shared.lock();
                    if let Some(p) = st.parts.get_mut(tp) {
                        p.pending = None;
                    }
                    return Err(Error::NoOffset(tp.clone()));
                }
            }
        }
        let found = offsets::list_offsets(
            &self.client,
            &query,
            self.cfg.isolation_level.id(),
            self.cfg.client.default_api_timeout,
        )
        .await?;
        let mut st = self.shared.lock();
        for (tp, (offset, _, epoch)) in found {
            if let Some(p) = st.parts.get_mut(&tp)
                && matches!(p.pending, Some(Pending::Reset(_)))
            {
                p.seek(offset.max(0), epoch);
            }
        }
        drop(st);
        self.shared.wake_fetcher.notify_one();
        Ok(())
    }

    /// The offset of the next record `poll` will return for `tp` (resolving a committed or
    /// reset position first if needed).
    ///
    /// Cancel safe.
    pub async fn position(&mut self, tp: &TopicPartition) -> Result<i64> {
        self.check_open()?;
        let p = self.shared.lock().parts.get(tp).map(|p| p.position);
        match p {
            None => Err(Error::IllegalState(format!(
                "{tp} is not assigned to this consumer"
            ))),
            Some(Some(p)) => Ok(p),
            Some(None) => {
                self.update_positions().await?;
                self.shared
                    .lock()
                    .parts
                    .get(tp)
                    .and_then(|p| p.position)
                    .ok_or_else(|| Error::IllegalState(format!("no position for {tp}")))
            }
        }
    }

    /// Moves the position of an assigned partition; the next `poll` returns records from
    /// `offset` on.
    pub fn seek(&mut self, tp: &TopicPartition, offset: i64) -> Result<()> {
        self.check_open()?;
        if offset < 0 {
            return Err(Error::IllegalState(format!(
                "seek to negative offset {offset}"
            )));
        }
        let mut st = self.shared.lock();
        let p = st
            .parts
            .get_mut(tp)
            .ok_or_else(|| Error::IllegalState(format!("{tp} is not assigned to this consumer")))?;
        p.seek(offset, None);
        drop(st);
        self.shared.wake_fetcher.notify_one();
        Ok(())
    }

    fn seek_policy(&mut self, tps: &[TopicPartition], policy: AutoOffsetReset) -> Result<()> {
        self.check_open()?;
        let mut st = self.shared.lock();
        let all: Vec<TopicPartition> = if tps.is_empty() {
            st.parts.keys().cloned().collect()
        } else {
            tps.to_vec()
        };
        for tp in all {
            let p = st.parts.get_mut(&tp).ok_or_else(|| {
                Error::IllegalState(format!("{tp} is not assigned to this consumer"))
            })?;
            p.reset(Pending::Reset(policy));
        }
        Ok(())
    }

    /// Seeks to the first offset of `tps` (every assigned partition when empty), resolved
    /// lazily by the next `poll` or `position`.
    pub fn seek_to_beginning(&mut self, tps: &[TopicPartition]) -> Result<()> {
        self.seek_policy(tps, AutoOffsetReset::Earliest)
    }

    /// Seeks to the log end of `tps` (every assigned partition when empty), lazily.
    pub fn seek_to_end(&mut self, tps: &[TopicPartition]) -> Result<()> {
        self.seek_policy(tps, AutoOffsetReset::Latest)
    }

    /// Pauses fetching and returning records for `tps` (positions are kept).
    pub fn pause(&mut self, tps: &[TopicPartition]) {
        let mut st = self.shared.lock();
        for tp in tps {
            if let Some(p) = st.parts.get_mut(tp) {
                p.paused = true;
            }
        }
    }

    /// Resumes `tps`.
    pub fn resume(&mut self, tps: &[TopicPartition]) {
        let mut st = self.shared.lock();
        for tp in tps {
            if let Some(p) = st.parts.get_mut(tp) {
                p.paused = false;
            }
        }
        drop(st);
        self.shared.wake_fetcher.notify_one();
    }

    /// The paused partitions.
    pub fn paused(&self) -> BTreeSet<TopicPartition> {
        self.shared
            .lock()
            .parts
            .iter()
            .filter(|(_, p)| p.paused)
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// Consumer lag of an assigned partition as of the last fetch response (high watermark,
    /// or last stable offset in read_committed, minus position).
    pub fn lag(&self, tp: &TopicPartition) -> Option<i64> {
        let rc = self.cfg.isolation_level == IsolationLevel::ReadCommitted;
        self.shared.lock().parts.get(tp).and_then(|p| p.lag(rc))
    }

    /// The lag of an assigned partition as of the last fetch response (KIP-695, Java's
    /// `currentLag`): the high watermark (last stable offset in read_committed) minus the
    /// position. None when the partition is not assigned, has no position yet, or has not
    /// been fetched; no request is sent.
    ///
    /// ```no_run
    /// # async fn demo(mut consumer: kafka_consumer::Consumer) -> Result<(), kafka_consumer::Error> {
    /// use std::time::Duration;
    /// use kafka_consumer::TopicPartition;
    /// let tp = TopicPartition::new("orders", 0);
    /// consumer.poll(Duration::from_millis(500)).await?;
    /// if let Some(lag) = consumer.current_lag(&tp) {
    ///     println!("{tp} is {lag} records behind");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn current_lag(&self, tp: &TopicPartition) -> Option<i64> {
        self.lag(tp)
    }

    /// The incremental fetch sessions (KIP-227) open now: broker id -> session id. A broker
    /// that declined a session (or before the first fetch) is absent.
    ///
    /// ```no_run
    /// # fn demo(consumer: &kafka_consumer::Consumer) {
    /// for (broker, session) in consumer.fetch_sessions() {
    ///     println!("broker {broker}: fetch session {session}");
    /// }
    /// # }
    /// ```
    pub fn fetch_sessions(&self) -> BTreeMap<i32, i32> {
        self.shared
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(b, s)| (*b, *s))
            .collect()
    }

    /// Bytes fetched and not yet returned by `poll`, over all partitions.
    pub fn buffered_bytes(&self) -> usize {
        self.shared
            .lock()
            .parts
            .values()
            .map(PartitionState::buffered_bytes)
            .sum()
    }

    // ------------------------------------------------------------------ offsets

    fn committer(&self) -> Result<Committer> {
        let group_id = self.cfg.group_id.clone().ok_or(Error::NoGroup("commit"))?;
        let (member_id, generation) = match (&self.group, &self.subscription) {
            (Some(g), Subscription::Topics(_) | Subscription::Pattern(_)) => {
                let m = group::lock(&g.membership);
                (m.member_id.clone(), m.generation)
            }
            _ => match self.kip848.as_ref().and_then(|k| (k.member_fn())()) {
                Some(m) => m,
                None => (String::new(), -1),
            },
        };
        Ok(Committer {
            group_id,
            generation,
            member_id,
            instance_id: self.cfg.group_instance_id.clone(),
        })
    }

    /// A cloneable handle that commits for this consumer's group from other tasks or from a
    /// rebalance listener (see [`OffsetCommitter`](crate::OffsetCommitter)). Take it after
    /// `subscribe` (or `assign`): it commits as a group member only when the consumer is
    /// subscribed.
    ///
    /// ```no_run
    /// # async fn demo(mut consumer: kafka_consumer::Consumer) -> Result<(), kafka_consumer::Error> {
    /// consumer.subscribe(["orders"]).await?;
    /// let committer = consumer.offset_committer()?;
    /// # let _ = committer; Ok(()) }
    /// ```
    pub fn offset_committer(&self) -> Result<crate::committer::OffsetCommitter> {
        let group_id = self.cfg.group_id.clone().ok_or(Error::NoGroup("commit"))?;
        let membership = match (&self.group, &self.subscription) {
            (Some(g), Subscription::Topics(_) | Subscription::Pattern(_)) => {
                Some(g.membership.clone())
            }
            _ => None,
        };
        Ok(crate::committer::OffsetCommitter {
            client: self.client.clone(),
            group_id,
            instance_id: self.cfg.group_instance_id.clone(),
            membership,
            timeout: self.cfg.client.default_api_timeout,
        })
    }

    /// The positions of every assigned partition, as offsets to commit.
    pub fn consumed_offsets(&self) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        self.shared
            .lock()
            .parts
            .iter()
            .filter_map(|(tp, p)| {
                p.position.map(|o| {
                    (
                        tp.clone(),
                        OffsetAndMetadata {
                            offset: o,
                            leader_epoch: p.last_epoch,
                            metadata: String::new(),
                        },
                    )
                })
            })
            .collect()
    }

    /// Commits the positions of all assigned partitions (what `poll` has returned) and waits.
    ///
    /// Cancel safe in that nothing is corrupted; whether a dropped commit reached the broker is
    /// unknown.
    pub async fn commit_sync(&mut self) -> Result<()> {
        let offsets = self.consumed_offsets();
        self.commit_offsets_sync(offsets).await
    }

    /// Commits explicit offsets (the offset of the *next* record to read, with metadata).
    ///
    /// ```no_run
    /// # async fn demo(mut consumer: kafka_consumer::Consumer) -> Result<(), kafka_consumer::Error> {
    /// use kafka_consumer::{OffsetAndMetadata, TopicPartition};
    /// consumer.commit_offsets_sync([(TopicPartition::new("orders", 0), OffsetAndMetadata::new(42).with_metadata("ok"))].into()).await?;
    /// # Ok(()) }
    /// ```
    ///
    /// Cancel safe (see [`commit_sync`](Consumer::commit_sync)).
    pub async fn commit_offsets_sync(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<()> {
        self.check_open()?;
        let who = self.committer()?;
        let timeout = self.cfg.client.default_api_timeout;
        let r = match self.kip848.as_ref().map(|k| k.member_fn()) {
            Some(member) => {
                group_consumer::commit_retrying(&self.client, &who, &member, &offsets, timeout)
                    .await
            }
            None => offsets::commit(&self.client, &who, &offsets, timeout).await,
        };
        self.after_commit(&r, &offsets);
        r
    }

    fn after_commit(&self, r: &Result<()>, offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>) {
        match r {
            Ok(()) => {
                for i in &self.interceptors {
                    i.on_commit(offsets);
                }
            }
            Err(Error::CommitFailed(_)) => self.request_rejoin_shared(),
            Err(_) => {}
        }
    }

    fn request_rejoin_shared(&self) {
        if let Some(g) = &self.group {
            group::lock(&g.membership).rejoin_needed = true;
        }
    }

    /// Starts committing the positions of all assigned partitions and returns at once; the
    /// returned [`CommitHandle`] resolves with the result (it may be dropped: the commit still
    /// completes).
    pub fn commit_async(&mut self) -> CommitHandle {
        let offsets = self.consumed_offsets();
        self.commit_offsets_async(offsets)
    }

    /// [`commit_async`](Consumer::commit_async) with explicit offsets.
    pub fn commit_offsets_async(
        &mut self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> CommitHandle {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let who = match self.check_open().and_then(|()| self.committer()) {
            Ok(w) => w,
            Err(e) => {
                let _ = tx.send(Err(e));
                return CommitHandle { rx };
            }
        };
        let client = self.client.clone();
        let timeout = self.cfg.client.default_api_timeout;
        let interceptors = self.interceptors.clone();
        let membership = self.group.as_ref().map(|g| g.membership.clone());
        tokio::spawn(async move {
            let r = offsets::commit(&client, &who, &offsets, timeout).await;
            match &r {
                Ok(()) => {
                    for i in &interceptors {
                        i.on_commit(&offsets);
                    }
                }
                Err(Error::CommitFailed(_)) => {
                    if let Some(m) = membership {
                        group::lock(&m).rejoin_needed = true;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "async commit failed"),
            }
            let _ = tx.send(r);
        });
        CommitHandle { rx }
    }

    fn maybe_auto_commit(&mut self) {
        if !self.cfg.enable_auto_commit || self.cfg.group_id.is_none() {
            return;
        }
        let now = Instant::now();
        if now < self.next_auto_commit {
            return;
        }
        self.next_auto_commit = now + self.cfg.auto_commit_interval;
        let offsets = self.consumed_offsets();
        if !offsets.is_empty() {
            drop(self.commit_offsets_async(offsets));
        }
    }

    async fn auto_commit_sync(&mut self) {
        if !self.cfg.enable_auto_commit || self.cfg.group_id.is_none() {
            return;
        }
        let offsets = self.consumed_offsets();
        if offsets.is_empty() {
            return;
        }
        if let Err(e) = self.commit_offsets_sync(offsets).await {
            tracing::warn!(error = %e, "auto commit before rebalance/close failed");
        }
    }

    /// The committed offsets of `tps` (None where the group has none).
    ///
    /// Cancel safe.
    pub async fn committed(
        &self,
        tps: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
        self.check_open()?;
        let group_id = self
            .cfg
            .group_id
            .as_deref()
            .ok_or(Error::NoGroup("committed"))?;
        let set: BTreeSet<TopicPartition> = tps.iter().cloned().collect();
        let member = self.kip848.as_ref().map(|k| k.member_fn());
        offsets::fetch_committed(
            &self.client,
            group_id,
            member.as_ref(),
            &set,
            self.cfg.client.default_api_timeout,
        )
        .await
    }

    /// For each partition, the earliest offset whose timestamp is at or after the given one
    /// (None when there is none).
    ///
    /// Cancel safe.
    pub async fn offsets_for_times(
        &self,
        query: &BTreeMap<TopicPartition, i64>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndTimestamp>>> {
        self.check_open()?;
        if let Some((tp, ts)) = query.iter().find(|(_, ts)| **ts < 0) {
            return Err(Error::IllegalState(format!(
                "negative timestamp {ts} for {tp}"
            )));
        }
        let found = offsets::list_offsets(
            &self.client,
            query,
            self.cfg.isolation_level.id(),
            self.cfg.client.default_api_timeout,
        )
        .await?;
        Ok(query
            .keys()
            .map(|tp| {
                let v = found
                    .get(tp)
                    .and_then(|&(offset, timestamp, leader_epoch)| {
                        (offset >= 0).then_some(OffsetAndTimestamp {
                            offset,
                            timestamp,
                            leader_epoch,
                        })
                    });
                (tp.clone(), v)
            })
            .collect())
    }

    /// The first offset of each partition (log start).
    ///
    /// Cancel safe.
    pub async fn beginning_offsets(
        &self,
        tps: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.special_offsets(tps, EARLIEST).await
    }

    /// The end offset of each partition (high watermark; last stable offset in read_committed).
    ///
    /// Cancel safe.
    pub async fn end_offsets(
        &self,
        tps: &[TopicPartition],
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.special_offsets(tps, LATEST).await
    }

    async fn special_offsets(
        &self,
        tps: &[TopicPartition],
        ts: i64,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        self.check_open()?;
        let query: BTreeMap<TopicPartition, i64> = tps.iter().map(|tp| (tp.clone(), ts)).collect();
        let found = offsets::list_offsets(
            &self.client,
            &query,
            self.cfg.isolation_level.id(),
            self.cfg.client.default_api_timeout,
        )
        .await?;
        Ok(found.into_iter().map(|(tp, (o, _, _))| (tp, o)).collect())
    }

    // ------------------------------------------------------------------ group

    fn current_topics(&self) -> BTreeSet<String> {
        match &self.subscription {
            Subscription::Topics(t) => t.clone(),
            Subscription::Pattern(re) => {
                let md = self.client.metadata();
                md.topics
                    .values()
                    .filter(|t| !(self.cfg.exclude_internal_topics && t.is_internal))
                    .filter(|t| re.is_match(&t.name))
                    .map(|t| t.name.clone())
                    .collect()
            }
            _ => BTreeSet::new(),
        }
    }

    async fn ensure_group(&mut self) -> Result<()> {
        let Some(g) = self.group.as_mut() else {
            return Ok(());
        };
        if let Subscription::Pattern(_) = self.subscription
            && Instant::now() >= g.next_pattern_check
        {
            g.next_pattern_check = Instant::now()
                + self
                    .cfg
                    .client
                    .metadata_max_age
                    .min(Duration::from_secs(30));
            let _ = self.client.refresh_all_metadata().await;
        }
        let topics = self.current_topics();
        let Some(g) = self.group.as_mut() else {
            return Ok(());
        };
        let (need, lost, fatal) = {
            let mut m = group::lock(&g.membership);
            if topics != g.joined_topics {
                m.rejoin_needed = true;
            }
            (
                m.rejoin_needed || m.generation < 0,
                std::mem::take(&mut m.lost),
                m.fatal.clone(),
            )
        };
        if let Some((code, id)) = fatal {
            return Err(if code == kafka_protocol::ErrorCode::FencedInstanceId {
                Error::FencedInstanceId(id)
            } else {
                Error::Group {
                    group: self.cfg.group_id.clone().unwrap_or_default(),
                    code,
                    message: None,
                }
            });
        }
        if lost {
            let owned: Vec<TopicPartition> = std::mem::take(&mut g.owned).into_iter().collect();
            g.previous = None;
            if !owned.is_empty() {
                self.remove_partitions(&owned);
                self.listener.on_partitions_lost(&owned);
            }
        }
        if !need {
            return Ok(());
        }
        self.rejoin(topics).await
    }

    fn remove_partitions(&mut self, tps: &[TopicPartition]) {
        let mut st = self.shared.lock();
        for tp in tps {
            st.parts.remove(tp);
        }
    }

    async fn rejoin(&mut self, topics: BTreeSet<String>) -> Result<()> {
        let Some(g) = self.group.as_ref() else {
            return Ok(());
        };
        let protocol = g.protocol;
        // onJoinPrepare: commit, then revoke (eager: everything; cooperative: partitions of
        // topics no longer subscribed).
        let generation_valid = group::lock(&g.membership).generation >= 0;
        if generation_valid {
            self.auto_commit_sync().await;
        }
        let Some(g) = self.group.as_mut() else {
            return Ok(());
        };
        let revoke: Vec<TopicPartition> = match protocol {
            RebalanceProtocol::Eager => g.owned.iter().cloned().collect(),
            RebalanceProtocol::Cooperative => g
                .owned
                .iter()
                .filter(|tp| !topics.contains(&tp.topic))
                .cloned()
                .collect(),
        };
        for tp in &revoke {
            g.owned.remove(tp);
        }
        if !revoke.is_empty() {
            self.remove_partitions(&revoke);
            self.listener.on_partitions_revoked(&revoke);
        }
        let Some(g) = self.group.as_mut() else {
            return Ok(());
        };
        {
            let mut m = group::lock(&g.membership);
            m.rejoin_needed = false;
            m.stable = false;
        }
        let group_id = self.cfg.group_id.clone().unwrap_or_default();
        let joined = match group::join_and_sync(
            &self.client,
            &self.cfg,
            &group_id,
            &g.membership,
            &topics,
            &g.owned,
            g.previous.as_ref(),
        )
        .await
        {
            Ok(j) => j,
            Err(e) => {
                group::lock(&g.membership).rejoin_needed = true;
                return Err(e);
            }
        };
        metrics::counter!("kafka_consumer_rebalances_total").increment(1);
        tracing::info!(
            group_id,
            generation = joined.generation,
            member_id = joined.member_id,
            partitions = joined.assignment.len(),
            "joined the group"
        );
        let new: BTreeSet<TopicPartition> = joined.assignment.iter().cloned().collect();
        g.joined_topics = topics;
        g.previous = Some(PreviousAssignment {
            partitions: joined.assignment.clone(),
            generation_id: joined.generation,
        });
        let (added, revoked): (Vec<TopicPartition>, Vec<TopicPartition>) = match protocol {
            RebalanceProtocol::Eager => (new.iter().cloned().collect(), Vec::new()),
            RebalanceProtocol::Cooperative => (
                new.difference(&g.owned).cloned().collect(),
                g.owned.difference(&new).cloned().collect(),
            ),
        };
        g.owned = new;
        {
            let mut m = group::lock(&g.membership);
            m.stable = true;
            m.generation = joined.generation;
            m.member_id = joined.member_id;
            if !revoked.is_empty() {
                m.rejoin_needed = true;
            }
        }
        if g.heartbeat.is_none() {
            g.heartbeat = Some(tokio::spawn(group::heartbeat_loop(
                self.client.clone(),
                self.cfg.clone(),
                group_id,
                g.membership.clone(),
                Arc::downgrade(&self.shared),
            )));
        }
        if !revoked.is_empty() {
            self.remove_partitions(&revoked);
            self.listener.on_partitions_revoked(&revoked);
        }
        let pending = self.initial_pending();
        {
            let mut st = self.shared.lock();
            for tp in &added {
                st.parts
                    .entry(tp.clone())
                    .or_insert_with(|| PartitionState::new(Arc::from(tp.topic.as_str()), pending));
            }
        }
        self.listener.on_partitions_assigned(&added);
        self.shared.wake_fetcher.notify_one();
        Ok(())
    }

    async fn leave_group(&mut self, reason: &str) {
        if self.kip848.is_some() {
            return self.kip848_leave().await;
        }
        let Some(g) = self.group.as_ref() else { return };
        let joined = group::lock(&g.membership).generation >= 0;
        if joined {
            self.auto_commit_sync().await;
        }
        let Some(g) = self.group.as_mut() else { return };
        let owned: Vec<TopicPartition> = std::mem::take(&mut g.owned).into_iter().collect();
        if !owned.is_empty() {
            self.remove_partitions(&owned);
            self.listener.on_partitions_revoked(&owned);
        }
        let Some(g) = self.group.as_mut() else { return };
        let member_id = {
            let mut m = group::lock(&g.membership);
            let id = m.member_id.clone();
            m.generation = -1;
            m.stable = false;
            m.rejoin_needed = true;
            if self.cfg.group_instance_id.is_none() {
                m.member_id.clear();
            }
            id
        };
        g.joined_topics.clear();
        g.previous = None;
        if joined {
            let group_id = self.cfg.group_id.clone().unwrap_or_default();
            group::leave(&self.client, &self.cfg, &group_id, &member_id, reason).await;
        }
    }

    /// Closes the consumer: commits consumed offsets (with auto commit), revokes partitions
    /// (listener called), leaves the group (dynamic members; static members stay until their
    /// session times out, as in Java — with `group.protocol=consumer` they send the epoch -2
    /// heartbeat that keeps their partitions for their next incarnation) and stops the
    /// background tasks.
    ///
    /// Cancel safe: dropping the future part-way still stops the background tasks when the
    /// consumer is dropped.
    pub async fn close(mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        if matches!(self.subscription, Subscription::Assigned) {
            self.auto_commit_sync().await;
        } else {
            self.leave_group("the consumer is being closed").await;
        }
        self.shutdown();
        // KIP-227: tell the brokers the fetch sessions can go. Best effort: a close request
        // queues behind a long-polling fetch on the same connection, so it finishes in the
        // background (bounded by the request timeout) when it takes more than a moment.
        let closing = tokio::spawn(fetcher::close_sessions(
            self.shared.clone(),
            self.client.clone(),
            self.cfg.client.request_timeout,
        ));
        let _ = tokio::time::timeout(Duration::from_millis(100), closing).await;
        Ok(())
    }

    fn shutdown(&mut self) {
        self.closed = true;
        self.shared.lock().closed = true;
        self.shared.wake_fetcher.notify_one();
        self.fetch_task.abort();
        if let Some(g) = &mut self.group {
            group::lock(&g.membership).closed = true;
            if let Some(h) = g.heartbeat.take() {
                h.abort();
            }
        }
        if let Some(k) = &mut self.kip848 {
            k.stop();
        }
    }
}

impl<K, V> Drop for Consumer<K, V> {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.fetch_task.abort();
        if let Some(g) = &mut self.group {
            group::lock(&g.membership).closed = true;
            if let Some(h) = g.heartbeat.take() {
                h.abort();
            }
        }
        if let Some(k) = &mut self.kip848 {
            k.stop();
        }
    }
}

/// The result of an asynchronous commit ([`Consumer::commit_async`]). Awaiting it is optional.
#[derive(Debug)]
pub struct CommitHandle {
    rx: tokio::sync::oneshot::Receiver<Result<()>>,
}

impl std::future::Future for CommitHandle {
    type Output = Result<()>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::Closed)))
    }
}

type PollFuture<'a, K, V> = Pin<
    Box<
        dyn std::future::Future<
                Output = (&'a mut Consumer<K, V>, Result<Vec<ConsumerRecord<K, V>>>),
            > + Send
            + 'a,
    >,
>;

/// A [`Stream`] of records borrowed from a consumer ([`Consumer::stream`]).
pub struct RecordStream<'a, K, V> {
    consumer: Option<&'a mut Consumer<K, V>>,
    buf: VecDeque<ConsumerRecord<K, V>>,
    fut: Option<PollFuture<'a, K, V>>,
}

// Nothing in the stream is pinned structurally (the poll future is boxed).
impl<K, V> Unpin for RecordStream<'_, K, V> {}

impl<K, V> std::fmt::Debug for RecordStream<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordStream")
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl<'a, K: Send + 'static, V: Send + 'static> Stream for RecordStream<'a, K, V> {
    type Item = Result<ConsumerRecord<K, V>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(r) = this.buf.pop_front() {
                return Poll::Ready(Some(Ok(r)));
            }
            if this.fut.is_none() {
                let Some(c) = this.consumer.take() else {
                    return Poll::Ready(None);
                };
                if c.closed {
                    return Poll::Ready(None);
                }
                this.fut = Some(Box::pin(async move {
                    let r = c.poll(Duration::from_secs(1)).await;
                    (c, r)
                }));
            }
            let Some(fut) = this.fut.as_mut() else {
                return Poll::Ready(None);
            };
            match fut.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready((c, r)) => {
                    this.fut = None;
                    this.consumer = Some(c);
                    match r {
                        Ok(v) => this.buf.extend(v),
                        Err(e) => return Poll::Ready(Some(Err(e))),
                    }
                }
            }
        }
    }
}
