//! The fetch task: one Fetch request in flight per broker, covering every fetchable partition
//! that broker leads, inside an incremental fetch session per broker (KIP-227, see
//! [`crate::fetch_session`]); responses are buffered per partition (at most [`MAX_BUFFERED`]
//! responses ahead of the application per partition) and decoded lazily by `poll`.
//!
//! The task also validates positions after leader changes (KIP-320, see [`crate::validate`]):
//! a partition whose leader epoch moved on is not fetched until OffsetForLeaderEpoch confirmed
//! its position, and Fetch v12+ `diverging_epoch` answers are handled the same way.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_client::Client;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::{
    ApiKey, FetchRequest, FetchResponse, OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
};
use kafka_protocol::{ErrorCode, Uuid};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::assignor::TopicPartition;
use crate::config::{AutoOffsetReset, ConsumerConfig};
use crate::fetch_session::{FINAL_EPOCH, FetchSessionHandler, PartitionParams, SessionRequest};
use crate::state::{Completed, PartitionState, Pending, State, last_batch};
use crate::validate::{self, Outcome};

/// Fetch responses buffered per partition before it is fetched again.
pub(crate) const MAX_BUFFERED: usize = 2;

/// What the consumer and the fetch task share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    /// Wakes the fetch task (new partitions, positions, consumed data).
    pub(crate) wake_fetcher: Notify,
    /// Wakes `poll` (data arrived, rebalance needed).
    pub(crate) wake_poll: Notify,
    /// Open fetch sessions: broker id -> session id (closed by `Consumer::close`).
    pub(crate) sessions: Mutex<HashMap<i32, i32>>,
}

impl Shared {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<i32, i32>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One partition of a planned fetch: where it was when the request was built.
struct PlannedPart {
    tp: TopicPartition,
    generation: u64,
    fetch_offset: i64,
}

struct Planned {
    broker: i32,
    parts: Vec<PlannedPart>,
    session: SessionRequest,
    started: Instant,
}

/// A position sent for validation: `(tp, position, position epoch)`.
type ValidatedPart = (TopicPartition, i64, i32);

enum Done {
    Fetch(Planned, Result<FetchResponse, kafka_client::Error>),
    /// `Ok(None)`: the broker has no OffsetForLeaderEpoch v3+; positions count as valid.
    Validate(
        i32,
        Vec<ValidatedPart>,
        Result<Option<OffsetForLeaderEpochResponse>, kafka_client::Error>,
    ),
}

type DoneFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Done> + Send>>;

/// Runs until the consumer closes (or the last `Arc<Shared>` other than ours is dropped).
pub(crate) async fn run(shared: Arc<Shared>, client: Client, cfg: ConsumerConfig) {
    let mut inflight: FuturesUnordered<DoneFuture> = FuturesUnordered::new();
    let mut busy: HashSet<i32> = HashSet::new();
    let mut sessions: HashMap<i32, FetchSessionHandler> = HashMap::new();
    let mut last_refresh: Option<Instant> = None;
    let mut force_refresh = false;
    let refreshing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let max_wait = cfg.fetch_max_wait;
    let req_timeout = cfg.client.request_timeout + max_wait;
    loop {
        if shared.lock().closed || Arc::strong_count(&shared) == 1 {
            return;
        }
        // Plan requests for idle brokers.
        let md = client.metadata();
        let now = Instant::now();
        let mut plans: BTreeMap<i32, Vec<(TopicPartition, u64, PartitionParams)>> = BTreeMap::new();
        let mut validations: BTreeMap<i32, Vec<(ValidatedPart, i32)>> = BTreeMap::new();
        let mut need_metadata = std::mem::take(&mut force_refresh);
        // Brokers with a partition that may have data but cannot be fetched this round (its
        // buffer is full, it is being validated or backing off), and brokers with a planned
        // partition that may have data: a fetch of nothing but caught-up partitions would
        // wait `fetch.max.wait.ms` at the broker and keep the held-back partitions from being
        // fetched meanwhile, so it is not sent until they can come along (the loop wakes on
        // every poll that took records and every 100 ms).
        let mut held_back: HashSet<i32> = HashSet::new();
        let mut has_data: HashSet<i32> = HashSet::new();
        {
            let mut st = shared.lock();
            for (tp, p) in st.parts.iter_mut() {
                if p.position.is_none() {
                    continue;
                }
                let Some((leader, epoch)) = md.leader_for(&tp.topic, tp.partition) else {
                    if p.fetchable(now, MAX_BUFFERED) || p.awaiting_validation {
                        need_metadata = true;
                    }
                    continue;
                };
                observe_leader_epoch(p, epoch);
                if p.awaiting_validation {
                    if !p.validating
                        && p.error.is_none()
                        && p.backoff_until.is_none_or(|t| t <= now)
                        && let (Some(pos), Some(pos_epoch)) = (p.position, p.last_epoch)
                    {
                        p.validating = true;
                        validations
                            .entry(leader)
                            .or_default()
                            .push(((tp.clone(), pos, pos_epoch), epoch));
                    }
                    if blocks_long_poll(p) {
                        held_back.insert(leader);
                    }
                    continue;
                }
                if busy.contains(&leader) {
                    continue;
                }
                if !p.fetchable(now, MAX_BUFFERED) {
                    if blocks_long_poll(p) {
                        held_back.insert(leader);
                    }
                    continue;
                }
                if !p.nothing_new && (p.high_watermark < 0 || p.fetch_offset < p.high_watermark) {
                    has_data.insert(leader);
                }
                let topic_id = md.topic(&tp.topic).map(|t| t.id).unwrap_or(Uuid::ZERO);
                plans.entry(leader).or_default().push((
                    tp.clone(),
                    p.generation,
                    PartitionParams {
                        topic_id,
                        fetch_offset: p.fetch_offset,
                        current_leader_epoch: epoch,
                        last_fetched_epoch: p.fetch_epoch.unwrap_or(-1),
                        max_bytes: cfg.max_partition_fetch_bytes,
                    },
                ));
                p.in_flight = true;
            }
        }
        if need_metadata
            && !refreshing.load(std::sync::atomic::Ordering::SeqCst)
            && last_refresh.is_none_or(|t| t.elapsed() >= cfg.client.retry_backoff)
        {
            last_refresh = Some(Instant::now());
            refreshing.store(true, std::sync::atomic::Ordering::SeqCst);
            let (c, r, s) = (client.clone(), refreshing.clone(), shared.clone());
            let topics: Vec<String> = {
                let st = shared.lock();
                st.parts
                    .keys()
                    .map(|tp| tp.topic.clone())
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect()
            };
            tokio::spawn(async move {
                if let Err(e) = c.refresh_metadata(topics).await {
                    tracing::debug!(error = %e, "consumer metadata refresh failed");
                }
                r.store(false, std::sync::atomic::Ordering::SeqCst);
                s.wake_fetcher.notify_one();
            });
        }
        for (broker, parts) in validations {
            inflight.push(validate_future(client.clone(), broker, parts, req_timeout));
        }
        let deferred: Vec<i32> = plans
            .keys()
            .filter(|b| held_back.contains(b) && !has_data.contains(b))
            .copied()
            .collect();
        if !deferred.is_empty() {
            let mut st = shared.lock();
            for b in &deferred {
                for (tp, _, _) in plans.remove(b).unwrap_or_default() {
                    if let Some(p) = st.parts.get_mut(&tp) {
                        p.in_flight = false;
                    }
                }
            }
        }
        for (broker, parts) in plans {
            busy.insert(broker);
            let handler = sessions.entry(broker).or_default();
            let session = handler.build(parts.iter().map(|(tp, _, p)| (tp.clone(), *p)));
            if tracing::enabled!(tracing::Level::TRACE) {
                tracing::trace!(
                    broker,
                    session_id = session.session_id,
                    epoch = session.epoch,
                    full = session.full,
                    send = ?session.to_send.iter().map(|(tp, p)| (tp.partition, p.fetch_offset)).collect::<Vec<_>>(),
                    forget = ?session.forgotten.iter().map(|(tp, _)| tp.partition).collect::<Vec<_>>(),
                    planned = ?parts.iter().map(|(tp, g, p)| (tp.partition, *g, p.fetch_offset)).collect::<Vec<_>>(),
                    "fetch request"
                );
            }
            let req = build_request(&cfg, &session);
            let capped = (!session.uses_topic_ids).then_some(12);
            let planned = Planned {
                broker,
                parts: parts
                    .into_iter()
                    .map(|(tp, generation, p)| PlannedPart {
                        tp,
                        generation,
                        fetch_offset: p.fetch_offset,
                    })
                    .collect(),
                session,
                started: Instant::now(),
            };
            let client = client.clone();
            inflight.push(Box::pin(async move {
                let r = async {
                    let conn = client.broker_connection(broker).await?;
                    let version = conn.pick_version(ApiKey::Fetch, capped)?;
                    let mut req = req;
                    if version < 12 {
                        for t in &mut req.topics {
                            for p in &mut t.partitions {
                                p.last_fetched_epoch = -1;
                            }
                        }
                    }
                    conn.send_opts(&req, Some(version), req_timeout).await
                }
                .await;
                Done::Fetch(planned, r)
            }));
        }
        tokio::select! {
            Some(done) = inflight.next(), if !inflight.is_empty() => match done {
                Done::Fetch(planned, res) => {
                    busy.remove(&planned.broker);
                    let handler = sessions.entry(planned.broker).or_default();
                    force_refresh |= handle_response(&shared, &client, &cfg, handler, planned, res);
                }
                Done::Validate(broker, parts, res) => {
                    force_refresh |= handle_validation(&shared, &client, &cfg, broker, parts, res);
                }
            },
            _ = shared.wake_fetcher.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

/// Whether a partition left out of this round's fetch may have data at the broker and will be
/// fetchable soon (buffer drained, validation or backoff over): a long poll of only caught-up
/// partitions would then hold it back. Paused or failed partitions do not count.
fn blocks_long_poll(p: &PartitionState) -> bool {
    !p.paused && p.error.is_none() && (p.high_watermark < 0 || p.fetch_offset < p.high_watermark)
}

/// Learns the partition's current leader epoch from metadata; a newer epoch than the one the
/// partition was fetched under asks for position validation (KIP-320).
fn observe_leader_epoch(p: &mut PartitionState, metadata_epoch: i32) {
    if validate::needs_validation(p.last_epoch, p.leader_epoch, metadata_epoch) {
        tracing::debug!(
            epoch = metadata_epoch,
            "leader epoch changed; validating the position"
        );
        p.request_validation();
    }
    if metadata_epoch >= 0 && p.leader_epoch.is_none_or(|e| metadata_epoch > e) {
        p.leader_epoch = Some(metadata_epoch);
    }
}

fn build_request(cfg: &ConsumerConfig, session: &SessionRequest) -> FetchRequest {
    let mut topics: Vec<FetchTopic> = Vec::new();
    for (tp, params) in &session.to_send {
        let fp = FetchPartition {
            partition: tp.partition,
            current_leader_epoch: params.current_leader_epoch,
            fetch_offset: params.fetch_offset,
            last_fetched_epoch: params.last_fetched_epoch,
            log_start_offset: -1,
            partition_max_bytes: params.max_bytes,
            ..Default::default()
        };
        match topics.last_mut() {
            Some(t) if t.topic == tp.topic && t.topic_id == params.topic_id => {
                t.partitions.push(fp)
            }
            _ => topics.push(FetchTopic {
                topic: tp.topic.clone(),
                topic_id: params.topic_id,
                partitions: vec![fp],
                ..Default::default()
            }),
        }
    }
    let mut forgotten: Vec<ForgottenTopic> = Vec::new();
    for (tp, id) in &session.forgotten {
        match forgotten
            .iter_mut()
            .find(|f| f.topic == tp.topic && f.topic_id == *id)
        {
            Some(f) => f.partitions.push(tp.partition),
            None => forgotten.push(ForgottenTopic {
                topic: tp.topic.clone(),
                topic_id: *id,
                partitions: vec![tp.partition],
                ..Default::default()
            }),
        }
    }
    FetchRequest {
        replica_id: -1,
        max_wait_ms: i32::try_from(cfg.fetch_max_wait.as_millis()).unwrap_or(i32::MAX),
        min_bytes: cfg.fetch_min_bytes,
        max_bytes: cfg.fetch_max_bytes,
        isolation_level: cfg.isolation_level.id(),
        session_id: session.session_id,
        session_epoch: session.epoch,
        topics,
        forgotten_topics_data: forgotten,
        rack_id: cfg.client.client_rack.clone().unwrap_or_default(),
        ..Default::default()
    }
}

fn validate_future(
    client: Client,
    broker: i32,
    parts: Vec<(ValidatedPart, i32)>,
    timeout: Duration,
) -> DoneFuture {
    Box::pin(async move {
        let mut topics: Vec<OffsetForLeaderTopic> = Vec::new();
        for ((tp, _, pos_epoch), leader_epoch) in &parts {
            let p = OffsetForLeaderPartition {
                partition: tp.partition,
                current_leader_epoch: *leader_epoch,
                leader_epoch: *pos_epoch,
                ..Default::default()
            };
            match topics.iter_mut().find(|t| t.topic == tp.topic) {
                Some(t) => t.partitions.push(p),
                None => topics.push(OffsetForLeaderTopic {
                    topic: tp.topic.clone(),
                    partitions: vec![p],
                    ..Default::default()
                }),
            }
        }
        let req = OffsetForLeaderEpochRequest {
            replica_id: -1,
            topics,
            ..Default::default()
        };
        let r = async {
            let conn = client.broker_connection(broker).await?;
            // Consumers may use OffsetForLeaderEpoch from v3 on (as Java's client).
            match conn.pick_version(ApiKey::OffsetForLeaderEpoch, None) {
                Ok(v) if v >= 3 => conn.send_opts(&req, Some(v), timeout).await.map(Some),
                _ => Ok(None),
            }
        }
        .await;
        Done::Validate(broker, parts.into_iter().map(|(part, _)| part).collect(), r)
    })
}

/// Applies an OffsetForLeaderEpoch answer. Returns whether metadata must be refreshed.
fn handle_validation(
    shared: &Shared,
    client: &Client,
    cfg: &ConsumerConfig,
    broker: i32,
    parts: Vec<ValidatedPart>,
    res: Result<Option<OffsetForLeaderEpochResponse>, kafka_client::Error>,
) -> bool {
    let backoff = Instant::now() + cfg.client.retry_backoff;
    let mut refresh = false;
    let mut wake_poll = false;
    let mut st = shared.lock();
    let mut results: HashMap<(String, i32), (ErrorCode, i32, i64)> = HashMap::new();
    let transport_failed = match res {
        Ok(Some(resp)) => {
            for t in resp.topics {
                for p in t.partitions {
                    results.insert(
                        (t.topic.clone(), p.partition),
                        (
                            ErrorCode::from_i16(p.error_code),
                            p.leader_epoch,
                            p.end_offset,
                        ),
                    );
                }
            }
            false
        }
        Ok(None) => {
            for (tp, pos, _) in &parts {
                if let Some(p) = st.parts.get_mut(tp) {
                    p.validating = false;
                    if p.position == Some(*pos) {
                        p.awaiting_validation = false;
                    }
                }
            }
            drop(st);
            shared.wake_fetcher.notify_one();
            return false;
        }
        Err(e) => {
            tracing::debug!(broker, error = %e, "OffsetForLeaderEpoch failed");
            if e.invalidates_metadata() || e.is_retriable() {
                client.invalidate_metadata();
                refresh = true;
            }
            true
        }
    };
    for (tp, pos, _) in parts {
        let Some(p) = st.parts.get_mut(&tp) else {
            continue;
        };
        p.validating = false;
        if !p.awaiting_validation || p.position != Some(pos) {
            continue; // seeked or reset meanwhile
        }
        if transport_failed {
            p.backoff_until = Some(backoff);
            continue;
        }
        let Some(&(code, end_epoch, end_offset)) = results.get(&(tp.topic.clone(), tp.partition))
        else {
            p.backoff_until = Some(backoff);
            continue;
        };
        if !code.is_ok() {
            if matches!(
                code,
                ErrorCode::NotLeaderOrFollower
                    | ErrorCode::FencedLeaderEpoch
                    | ErrorCode::UnknownLeaderEpoch
                    | ErrorCode::LeaderNotAvailable
                    | ErrorCode::UnknownTopicOrPartition
                    | ErrorCode::KafkaStorageError
            ) {
                tracing::debug!(%tp, %code, "position validation failed; retrying");
                client.invalidate_metadata();
                refresh = true;
                p.backoff_until = Some(backoff);
            } else if code.is_retriable() {
                tracing::debug!(%tp, %code, "position validation failed; retrying");
                p.backoff_until = Some(backoff);
            } else {
                // Not something a retry fixes (e.g. authorization): fetch on from the
                // position; the fetch reports what is wrong.
                tracing::warn!(%tp, %code, "position validation not possible; fetching without it");
                p.awaiting_validation = false;
            }
            continue;
        }
        wake_poll |= apply_outcome(
            p,
            &tp,
            pos,
            validate::decide(pos, end_epoch, end_offset, cfg.auto_offset_reset),
        );
    }
    drop(st);
    shared.wake_fetcher.notify_one();
    if wake_poll {
        shared.wake_poll.notify_one();
    }
    refresh
}

/// Applies a validation outcome for position `pos`; true when `poll` has something to do.
fn apply_outcome(p: &mut PartitionState, tp: &TopicPartition, pos: i64, outcome: Outcome) -> bool {
    match outcome {
        Outcome::Valid => {
            p.awaiting_validation = false;
            false
        }
        Outcome::SeekTo { offset, epoch } => {
            tracing::info!(%tp, position = pos, offset, epoch, "log truncation detected; moving to the first diverging offset");
            p.seek(offset, Some(epoch));
            false
        }
        Outcome::Reset(policy) => {
            tracing::info!(%tp, position = pos, ?policy, "log truncation detected and the epoch is unknown; resetting");
            p.reset(Pending::Reset(policy));
            true
        }
        Outcome::Truncated { divergent_offset } => {
            tracing::warn!(%tp, position = pos, ?divergent_offset, "log truncation detected and auto.offset.reset is none");
            p.error = Some(crate::Error::LogTruncation {
                tp: tp.clone(),
                offset: pos,
                divergent_offset,
            });
            true
        }
    }
}

/// KIP-320 via Fetch v12+: the leader says the log diverged from what this consumer read at
/// `(epoch, end_offset)`. The response's records are not used. Returns whether `poll` has
/// something to do.
fn on_diverging_epoch(
    p: &mut PartitionState,
    tp: &TopicPartition,
    fetched_at: i64,
    (epoch, end_offset): (i32, i64),
    policy: AutoOffsetReset,
) -> bool {
    let pos = p.position.unwrap_or(fetched_at);
    let outcome = validate::decide(pos, epoch, end_offset, policy);
    let last = p.last_epoch;
    match outcome {
        // Only data fetched ahead of the position diverged (or the error is to be reported
        // at the position): drop the prefetched data and fetch from the position again.
        Outcome::Valid | Outcome::Truncated { .. } => p.seek(pos, last),
        Outcome::SeekTo { .. } | Outcome::Reset(_) => {}
    }
    apply_outcome(p, tp, pos, outcome)
}

fn handle_response(
    shared: &Shared,
    client: &Client,
    cfg: &ConsumerConfig,
    session: &mut FetchSessionHandler,
    planned: Planned,
    res: Result<FetchResponse, kafka_client::Error>,
) -> bool {
    let mut refresh = false;
    let backoff = Instant::now() + cfg.client.retry_backoff;
    let mut st = shared.lock();
    let mut sent: HashMap<TopicPartition, (u64, i64)> = HashMap::new();
    for part in planned.parts {
        if let Some(p) = st.parts.get_mut(&part.tp) {
            p.in_flight = false;
        }
        sent.insert(part.tp, (part.generation, part.fetch_offset));
    }
    let resp = match res {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(broker = planned.broker, error = %e, "fetch failed");
            session.handle_error();
            if e.invalidates_metadata() || e.is_retriable() {
                client.invalidate_metadata();
                refresh = true;
            }
            for tp in sent.keys() {
                if let Some(p) = st.parts.get_mut(tp) {
                    p.backoff_until = Some(backoff);
                }
            }
            return refresh;
        }
    };
    metrics::histogram!("kafka_consumer_fetch_latency_seconds")
        .record(planned.started.elapsed().as_secs_f64());
    metrics::counter!("kafka_consumer_fetch_requests_total").increment(1);
    let top = ErrorCode::from_i16(resp.error_code);
    let usable = session.handle_response(
        &planned.session,
        top,
        resp.session_id,
        resp.throttle_time_ms,
        !resp.responses.is_empty(),
    );
    {
        let mut open = shared.sessions();
        if session.session_id() == 0 {
            open.remove(&planned.broker);
        } else {
            open.insert(planned.broker, session.session_id());
        }
    }
    if !top.is_ok() {
        tracing::debug!(broker = planned.broker, code = %top, "fetch error");
        match top {
            // The session is gone or out of step: the next request is a full fetch, at once.
            ErrorCode::FetchSessionIdNotFound | ErrorCode::InvalidFetchSessionEpoch => {
                metrics::counter!("kafka_consumer_fetch_session_resets_total").increment(1);
                return false;
            }
            ErrorCode::FetchSessionTopicIdError => {
                metrics::counter!("kafka_consumer_fetch_session_resets_total").increment(1);
                client.invalidate_metadata();
                return true;
            }
            _ => {}
        }
        for tp in sent.keys() {
            if let Some(p) = st.parts.get_mut(tp) {
                p.backoff_until = Some(backoff);
            }
        }
        return true;
    }
    if !usable {
        return false;
    }
    let md = client.metadata();
    let mut got_data = false;
    let mut total_bytes = 0u64;
    // A planned partition the response leaves out has nothing new (those it lists are set
    // back below).
    for (tp, &(generation, fetched_at)) in &sent {
        if let Some(p) = st.parts.get_mut(tp)
            && p.generation == generation
            && p.fetch_offset == fetched_at
        {
            p.nothing_new = true;
        }
    }
    for t in resp.responses {
        let name = if t.topic.is_empty() {
            match md.topic_names.get(&t.topic_id) {
                Some(n) => n.clone(),
                None => continue,
            }
        } else {
            t.topic
        };
        for pd in t.partitions {
            let tp = TopicPartition::new(name.clone(), pd.partition_index);
            let Some(&(generation, fetched_at)) = sent.get(&tp) else {
                tracing::trace!(%tp, "fetch response for a partition not planned");
                continue;
            };
            let Some(p) = st.parts.get_mut(&tp) else {
                tracing::trace!(%tp, "fetch response for a partition no longer assigned");
                continue;
            };
            p.nothing_new = false;
            if p.generation != generation || p.fetch_offset != fetched_at {
                tracing::trace!(%tp, generation, fetched_at, now_generation = p.generation, now_offset = p.fetch_offset, "stale fetch response dropped");
                continue; // seeked or reset meanwhile
            }
            let code = ErrorCode::from_i16(pd.error_code);
            tracing::trace!(%tp, %code, fetched_at, bytes = pd.records.as_ref().map_or(0, |r| r.len()), next = ?pd.records.as_ref().and_then(last_batch), hw = pd.high_watermark, "fetch response partition");
            match code {
                ErrorCode::None if pd.diverging_epoch.epoch >= 0 => {
                    got_data |= on_diverging_epoch(
                        p,
                        &tp,
                        fetched_at,
                        (pd.diverging_epoch.epoch, pd.diverging_epoch.end_offset),
                        cfg.auto_offset_reset,
                    );
                }
                ErrorCode::None => {
                    p.high_watermark = pd.high_watermark;
                    p.last_stable_offset = pd.last_stable_offset;
                    p.log_start_offset = pd.log_start_offset;
                    p.backoff_until = None;
                    let records = pd.records.unwrap_or_default();
                    if let Some((next, epoch)) = last_batch(&records)
                        && next > p.fetch_offset
                    {
                        total_bytes += records.len() as u64;
                        let mut aborted: Vec<(i64, i64)> = pd
                            .aborted_transactions
                            .unwrap_or_default()
                            .into_iter()
                            .map(|a| (a.first_offset, a.producer_id))
                            .collect();
                        aborted.sort_unstable();
                        p.fetch_offset = next;
                        if epoch.is_some() {
                            p.fetch_epoch = epoch;
                        }
                        p.buffered.push_back(Completed {
                            generation,
                            bytes: records.len(),
                            records,
                            aborted,
                        });
                        got_data = true;
                    }
                }
                ErrorCode::OffsetOutOfRange => {
                    if p.position == Some(fetched_at) {
                        match cfg.auto_offset_reset {
                            AutoOffsetReset::None => {
                                p.error = Some(crate::Error::OffsetOutOfRange {
                                    tp: tp.clone(),
                                    offset: fetched_at,
                                });
                                got_data = true;
                            }
                            policy => {
                                tracing::info!(%tp, offset = fetched_at, ?policy, "offset out of range; resetting");
                                p.reset(Pending::Reset(policy));
                                got_data = true; // wake poll to resolve the reset
                            }
                        }
                    }
                }
                ErrorCode::NotLeaderOrFollower
                | ErrorCode::FencedLeaderEpoch
                | ErrorCode::UnknownLeaderEpoch
                | ErrorCode::LeaderNotAvailable
                | ErrorCode::UnknownTopicOrPartition
                | ErrorCode::UnknownTopicId
                | ErrorCode::InconsistentTopicId
                | ErrorCode::FetchSessionTopicIdError
                | ErrorCode::KafkaStorageError
                | ErrorCode::ReplicaNotAvailable
                | ErrorCode::OffsetNotAvailable => {
                    // A newer leader epoch in the refreshed metadata then validates the
                    // position before the next fetch (KIP-320).
                    tracing::debug!(%tp, %code, "fetch partition error; refreshing metadata");
                    client.invalidate_metadata();
                    refresh = true;
                    p.backoff_until = Some(backoff);
                }
                other => {
                    tracing::warn!(%tp, code = %other, "unexpected fetch error");
                    p.backoff_until = Some(backoff);
                }
            }
        }
    }
    drop(st);
    metrics::counter!("kafka_consumer_fetched_bytes_total").increment(total_bytes);
    if got_data {
        shared.wake_poll.notify_one();
    }
    refresh
}

/// Closes the open fetch sessions (a final-epoch Fetch with no partitions per broker), best
/// effort within `timeout`. The fetch task must be stopped first.
pub(crate) async fn close_sessions(shared: Arc<Shared>, client: Client, timeout: Duration) {
    let open: Vec<(i32, i32)> = shared.sessions().drain().collect();
    if open.is_empty() {
        return;
    }
    let sends = open.into_iter().map(|(broker, session_id)| {
        let client = client.clone();
        async move {
            let req = FetchRequest {
                replica_id: -1,
                max_wait_ms: 0,
                min_bytes: 0,
                session_id,
                session_epoch: FINAL_EPOCH,
                ..Default::default()
            };
            let r = async {
                let conn = client.broker_connection(broker).await?;
                conn.send_opts(&req, None, timeout).await
            }
            .await;
            if let Err(e) = r {
                tracing::debug!(broker, session_id, error = %e, "closing the fetch session failed");
            }
        }
    });
    let _ = tokio::time::timeout(timeout, futures::future::join_all(sends)).await;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn part(pending_pos: i64, last_epoch: Option<i32>) -> PartitionState {
        let mut p = PartitionState::new("t".into(), Pending::Committed);
        p.seek(pending_pos, last_epoch);
        p
    }

    #[test]
    fn partitions_that_keep_a_long_poll_back() {
        let mut p = part(10, Some(0));
        assert!(
            blocks_long_poll(&p),
            "high watermark unknown: may have data"
        );
        p.high_watermark = 10;
        assert!(!blocks_long_poll(&p), "caught up");
        p.high_watermark = 20;
        assert!(blocks_long_poll(&p), "behind the high watermark");
        p.paused = true;
        assert!(
            !blocks_long_poll(&p),
            "paused: the application does not want it"
        );
        p.paused = false;
        p.error = Some(crate::Error::OffsetOutOfRange {
            tp: TopicPartition::new("t", 0),
            offset: 10,
        });
        assert!(!blocks_long_poll(&p), "failed: waits for the application");
    }

    #[test]
    fn request_carries_session_and_forgotten_partitions() {
        let cfg = ConsumerConfig::builder()
            .bootstrap_servers("localhost:9092")
            .build()
            .unwrap();
        let id = Uuid([7; 16]);
        let params = |o| PartitionParams {
            topic_id: id,
            fetch_offset: o,
            current_leader_epoch: 4,
            last_fetched_epoch: 3,
            max_bytes: 99,
        };
        let mut h = FetchSessionHandler::default();
        let s = h.build([
            (TopicPartition::new("a", 0), params(1)),
            (TopicPartition::new("a", 1), params(2)),
        ]);
        let req = build_request(&cfg, &s);
        assert_eq!((req.session_id, req.session_epoch), (0, 0));
        assert_eq!(req.topics.len(), 1);
        assert_eq!(req.topics[0].topic_id, id);
        let p = &req.topics[0].partitions[1];
        assert_eq!(
            (p.partition, p.fetch_offset, p.current_leader_epoch),
            (1, 2, 4)
        );
        assert_eq!((p.last_fetched_epoch, p.partition_max_bytes), (3, 99));
        h.handle_response(&s, ErrorCode::None, 42, 0, true);
        let s = h.build([(TopicPartition::new("a", 0), params(5))]);
        let req = build_request(&cfg, &s);
        assert_eq!((req.session_id, req.session_epoch), (42, 1));
        assert_eq!(req.topics[0].partitions.len(), 1);
        assert_eq!(req.forgotten_topics_data.len(), 1);
        assert_eq!(req.forgotten_topics_data[0].partitions, vec![1]);
        assert_eq!(req.forgotten_topics_data[0].topic_id, id);
    }

    #[test]
    fn newer_leader_epoch_parks_the_partition_for_validation() {
        let mut p = part(10, Some(2));
        observe_leader_epoch(&mut p, 2); // first sight: learnt, nothing to validate
        assert!(!p.awaiting_validation);
        assert!(p.fetchable(Instant::now(), MAX_BUFFERED));
        p.fetch_offset = 30; // fetched ahead
        let generation = p.generation;
        observe_leader_epoch(&mut p, 3);
        assert!(p.awaiting_validation);
        assert!(!p.fetchable(Instant::now(), MAX_BUFFERED));
        assert_eq!(p.fetch_offset, 10, "prefetched data dropped");
        assert!(p.generation > generation);
        assert_eq!(p.leader_epoch, Some(3));
        observe_leader_epoch(&mut p, 3);
        assert!(p.awaiting_validation);
    }

    #[test]
    fn diverging_epoch_in_a_fetch_response() {
        let tp = TopicPartition::new("t", 0);
        // Divergence after the position, inside prefetched data: refetch from the position.
        let mut p = part(10, Some(2));
        p.fetch_offset = 30;
        p.buffered.push_back(Completed {
            generation: p.generation,
            records: bytes::Bytes::new(),
            aborted: Vec::new(),
            bytes: 0,
        });
        assert!(!on_diverging_epoch(
            &mut p,
            &tp,
            30,
            (2, 20),
            AutoOffsetReset::Earliest
        ));
        assert_eq!((p.position, p.fetch_offset), (Some(10), 10));
        assert!(p.buffered.is_empty());
        // Divergence below the position: move back to it.
        let mut p = part(10, Some(2));
        on_diverging_epoch(&mut p, &tp, 10, (1, 7), AutoOffsetReset::Latest);
        assert_eq!(
            (p.position, p.last_epoch, p.fetch_epoch),
            (Some(7), Some(1), Some(1))
        );
        // No reset policy: LogTruncation at the position, nothing buffered behind it.
        let mut p = part(10, Some(2));
        p.fetch_offset = 30;
        assert!(on_diverging_epoch(
            &mut p,
            &tp,
            30,
            (1, 7),
            AutoOffsetReset::None
        ));
        assert_eq!(p.fetch_offset, 10);
        assert!(matches!(
            p.error,
            Some(crate::Error::LogTruncation {
                offset: 10,
                divergent_offset: Some(7),
                ..
            })
        ));
    }

    #[test]
    fn outcomes_move_reset_or_fail() {
        let tp = TopicPartition::new("t", 0);
        let mut p = part(10, Some(2));
        p.awaiting_validation = true;
        assert!(!apply_outcome(&mut p, &tp, 10, Outcome::Valid));
        assert!(!p.awaiting_validation);

        let mut p = part(10, Some(2));
        p.awaiting_validation = true;
        apply_outcome(
            &mut p,
            &tp,
            10,
            Outcome::SeekTo {
                offset: 6,
                epoch: 1,
            },
        );
        assert_eq!(
            (p.position, p.last_epoch, p.fetch_offset),
            (Some(6), Some(1), 6)
        );
        assert!(!p.awaiting_validation);

        let mut p = part(10, Some(2));
        assert!(apply_outcome(
            &mut p,
            &tp,
            10,
            Outcome::Reset(AutoOffsetReset::Earliest)
        ));
        assert_eq!(p.position, None);
        assert_eq!(p.pending, Some(Pending::Reset(AutoOffsetReset::Earliest)));

        let mut p = part(10, Some(2));
        assert!(apply_outcome(
            &mut p,
            &tp,
            10,
            Outcome::Truncated {
                divergent_offset: Some(6)
            }
        ));
        assert!(matches!(
            p.error,
            Some(crate::Error::LogTruncation {
                offset: 10,
                divergent_offset: Some(6),
                ..
            })
        ));
    }
}
