//! The fetch task: one Fetch request in flight per broker, covering every fetchable partition
//! that broker leads; responses are buffered per partition (at most [`MAX_BUFFERED`] responses
//! ahead of the application per partition) and decoded lazily by `poll`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_client::Client;
use kafka_protocol::messages::FetchRequest;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::{ErrorCode, Uuid};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::assignor::TopicPartition;
use crate::config::{AutoOffsetReset, ConsumerConfig};
use crate::state::{Completed, Pending, State, next_fetch_offset};

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
}

impl Shared {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct Planned {
    broker: i32,
    parts: Vec<(TopicPartition, u64, i64)>,
}

type FetchResult = (
    Planned,
    Result<kafka_protocol::messages::FetchResponse, kafka_client::Error>,
);

/// Runs until the consumer closes (or the last `Arc<Shared>` other than ours is dropped).
pub(crate) async fn run(shared: Arc<Shared>, client: Client, cfg: ConsumerConfig) {
    let mut inflight: FuturesUnordered<
        std::pin::Pin<Box<dyn std::future::Future<Output = FetchResult> + Send>>,
    > = FuturesUnordered::new();
    let mut busy: HashSet<i32> = HashSet::new();
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
        let mut plans: BTreeMap<i32, Vec<(TopicPartition, u64, i64, i32)>> = BTreeMap::new();
        let mut need_metadata = std::mem::take(&mut force_refresh);
        {
            let mut st = shared.lock();
            for (tp, p) in st.parts.iter_mut() {
                if !p.fetchable(now, MAX_BUFFERED) {
                    continue;
                }
                match md.leader_for(&tp.topic, tp.partition) {
                    Some((leader, epoch)) if !busy.contains(&leader) => {
                        plans.entry(leader).or_default().push((
                            tp.clone(),
                            p.generation,
                            p.fetch_offset,
                            epoch,
                        ));
                    }
                    Some(_) => {}
                    None => need_metadata = true,
                }
            }
            for parts in plans.values() {
                for (tp, ..) in parts {
                    if let Some(p) = st.parts.get_mut(tp) {
                        p.in_flight = true;
                    }
                }
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
        for (broker, parts) in plans {
            busy.insert(broker);
            let req = build_request(&cfg, &md, &parts);
            let capped = if parts
                .iter()
                .any(|(tp, ..)| md.topic(&tp.topic).is_none_or(|t| t.id == Uuid::ZERO))
            {
                Some(12)
            } else {
                None
            };
            let planned = Planned {
                broker,
                parts: parts.into_iter().map(|(tp, g, o, _)| (tp, g, o)).collect(),
            };
            let client = client.clone();
            inflight.push(Box::pin(async move {
                let r = async {
                    let conn = client.broker_connection(broker).await?;
                    conn.send_opts(&req, capped, req_timeout).await
                }
                .await;
                (planned, r)
            }));
        }
        tokio::select! {
            Some((planned, res)) = inflight.next(), if !inflight.is_empty() => {
                busy.remove(&planned.broker);
                force_refresh |= handle_response(&shared, &client, &cfg, planned, res);
            }
            _ = shared.wake_fetcher.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

fn build_request(
    cfg: &ConsumerConfig,
    md: &kafka_client::ClusterMetadata,
    parts: &[(TopicPartition, u64, i64, i32)],
) -> FetchRequest {
    let mut topics: Vec<FetchTopic> = Vec::new();
    for (tp, _, offset, epoch) in parts {
        let fp = FetchPartition {
            partition: tp.partition,
            current_leader_epoch: *epoch,
            fetch_offset: *offset,
            last_fetched_epoch: -1,
            log_start_offset: -1,
            partition_max_bytes: cfg.max_partition_fetch_bytes,
            ..Default::default()
        };
        match topics.last_mut() {
            Some(t) if t.topic == tp.topic => t.partitions.push(fp),
            _ => topics.push(FetchTopic {
                topic: tp.topic.clone(),
                topic_id: md.topic(&tp.topic).map(|t| t.id).unwrap_or(Uuid::ZERO),
                partitions: vec![fp],
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
        session_id: 0,
        session_epoch: -1,
        topics,
        rack_id: cfg.client.client_rack.clone().unwrap_or_default(),
        ..Default::default()
    }
}

fn handle_response(
    shared: &Shared,
    client: &Client,
    cfg: &ConsumerConfig,
    planned: Planned,
    res: Result<kafka_protocol::messages::FetchResponse, kafka_client::Error>,
) -> bool {
    let mut refresh = false;
    let backoff = Instant::now() + cfg.client.retry_backoff;
    let mut st = shared.lock();
    let mut sent: HashMap<TopicPartition, (u64, i64)> = HashMap::new();
    for (tp, g, o) in planned.parts {
        if let Some(p) = st.parts.get_mut(&tp) {
            p.in_flight = false;
        }
        sent.insert(tp, (g, o));
    }
    let resp = match res {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(broker = planned.broker, error = %e, "fetch failed");
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
    let top = ErrorCode::from_i16(resp.error_code);
    if !top.is_ok() {
        tracing::debug!(broker = planned.broker, code = %top, "fetch error");
        for tp in sent.keys() {
            if let Some(p) = st.parts.get_mut(tp) {
                p.backoff_until = Some(backoff);
            }
        }
        return true;
    }
    let md = client.metadata();
    let mut got_data = false;
    let mut total_bytes = 0u64;
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
                continue;
            };
            let Some(p) = st.parts.get_mut(&tp) else {
                continue;
            };
            if p.generation != generation || p.fetch_offset != fetched_at {
                continue; // seeked or reset meanwhile
            }
            let code = ErrorCode::from_i16(pd.error_code);
            match code {
                ErrorCode::None => {
                    p.high_watermark = pd.high_watermark;
                    p.last_stable_offset = pd.last_stable_offset;
                    p.log_start_offset = pd.log_start_offset;
                    p.backoff_until = None;
                    let records = pd.records.unwrap_or_default();
                    if let Some(next) = next_fetch_offset(&records)
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
    metrics::counter!("kafka_consumer_fetch_requests_total").increment(1);
    metrics::counter!("kafka_consumer_fetched_bytes_total").increment(total_bytes);
    if got_data {
        shared.wake_poll.notify_one();
    }
    refresh
}
