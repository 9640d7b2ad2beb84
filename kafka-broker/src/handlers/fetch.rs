//! Fetch (key 1), v4-v18.
//!
//! * v4+: isolation level and last stable offset. `read_committed` returns only batches below
//!   the partition's last stable offset, with the aborted transactions (producer id, first
//!   offset) from the segments' `.txnindex` that overlap the returned range;
//!   v5+: log start offset; v7+: fetch sessions (KIP-227, see `crate::fetch_session`);
//!   v11+: rack id (ignored; preferred read replica always -1); v12+: flexible, tagged
//!   diverging epoch / current leader (left unset); v13+: topics by id (UNKNOWN_TOPIC_ID).
//! * `max_bytes` bounds the response and `partition_max_bytes` each partition, except that
//!   the first non-empty partition always returns at least one whole batch (as Kafka since
//!   v3), so a batch larger than the limits still makes progress.
//! * `min_bytes`/`max_wait_ms`: if fewer bytes than `min_bytes` are available, the fetch waits
//!   (a delayed fetch) until an append to one of its partitions, the deadline, or shutdown,
//!   then reads again. Errors answer at once.
//! * Records are the log's `Bytes`, placed in the response without copying (the only copy
//!   is the one into the outgoing frame).

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use kafka_protocol::{ErrorCode, Uuid};
use tokio::sync::Notify;

use crate::fetch_session::{FetchKey, FetchParams, FetchPlan, Sent};
use crate::handlers::check_leader_epoch;
use crate::metadata::{Catalog, Partition};
use crate::state::{Shared, blocking};
use crate::util::random_u64;

/// A partition of the plan with what it resolved to.
type Target = (FetchKey, FetchParams, Result<Arc<Partition>, ErrorCode>);

fn resolve(catalog: &Catalog, key: &FetchKey, by_id: bool) -> Result<Arc<Partition>, ErrorCode> {
    let topic = if by_id {
        if key.topic_id == Uuid::ZERO {
            None
        } else {
            catalog.by_id.get(&key.topic_id)
        }
    } else {
        catalog.by_name.get(&key.topic)
    };
    match topic {
        None if by_id => Err(ErrorCode::UnknownTopicId),
        None => Err(ErrorCode::UnknownTopicOrPartition),
        Some(t) => t
            .partition(key.partition)
            .cloned()
            .ok_or(ErrorCode::UnknownTopicOrPartition),
    }
}

fn error_data(index: i32, code: ErrorCode) -> PartitionData {
    PartitionData {
        partition_index: index,
        error_code: code.code(),
        high_watermark: -1,
        last_stable_offset: -1,
        log_start_offset: -1,
        records: Some(bytes::Bytes::new()),
        ..Default::default()
    }
}

/// Reads every partition of the plan once. Returns the data and the bytes read.
fn read_all(
    targets: &[Target],
    max_bytes: usize,
    read_committed: bool,
) -> (Vec<PartitionData>, usize, bool) {
    let mut remaining = max_bytes;
    let mut first = true;
    let mut total = 0usize;
    let mut any_error = false;
    let mut out = Vec::with_capacity(targets.len());
    for (key, params, target) in targets {
        let data = match target {
            Err(code) => error_data(key.partition, *code),
            Ok(p) => {
                let epoch_err = check_leader_epoch(params.current_leader_epoch);
                if epoch_err != ErrorCode::None {
                    error_data(key.partition, epoch_err)
                } else {
                    let limit = usize::try_from(params.max_bytes)
                        .unwrap_or(0)
                        .min(remaining);
                    let read = p.with_log(|l| {
                        if read_committed {
                            l.read_committed(params.fetch_offset, limit, first)
                                .map(|(r, a)| (r, Some(a)))
                        } else {
                            l.read(params.fetch_offset, limit, first).map(|r| (r, None))
                        }
                    });
                    match read {
                        None => error_data(key.partition, ErrorCode::UnknownTopicOrPartition),
                        Some(Err(e)) => error_data(key.partition, e.error_code()),
                        Some(Ok((r, aborted))) => {
                            let n = r.records.len();
                            if n > 0 {
                                first = false;
                                total += n;
                                remaining = remaining.saturating_sub(n);
                            }
                            PartitionData {
                                partition_index: key.partition,
                                error_code: 0,
                                high_watermark: r.high_watermark,
                                last_stable_offset: r.last_stable_offset,
                                log_start_offset: r.log_start_offset,
                                aborted_transactions: aborted.map(|a| {
                                    a.into_iter()
                                        .map(|t| AbortedTransaction {
                                            producer_id: t.producer_id,
                                            first_offset: t.first_offset,
                                            ..Default::default()
                                        })
                                        .collect()
                                }),
                                preferred_read_replica: -1,
                                records: Some(r.records),
                                ..Default::default()
                            }
                        }
                    }
                }
            }
        };
        any_error |= data.error_code != 0;
        out.push(data);
    }
    (out, total, any_error)
}

pub(crate) async fn handle(s: &Arc<Shared>, version: i16, req: FetchRequest) -> FetchResponse {
    let by_id = version >= 13;
    let mut requested = Vec::new();
    for t in &req.topics {
        for p in &t.partitions {
            requested.push((
                FetchKey {
                    topic: if by_id {
                        String::new()
                    } else {
                        t.topic.clone()
                    },
                    topic_id: if by_id { t.topic_id } else { Uuid::ZERO },
                    partition: p.partition,
                },
                FetchParams {
                    fetch_offset: p.fetch_offset,
                    max_bytes: p.partition_max_bytes,
                    current_leader_epoch: p.current_leader_epoch,
                },
            ));
        }
    }
    let mut forgotten = Vec::new();
    for t in &req.forgotten_topics_data {
        for p in &t.partitions {
            forgotten.push(FetchKey {
                topic: if by_id {
                    String::new()
                } else {
                    t.topic.clone()
                },
                topic_id: if by_id { t.topic_id } else { Uuid::ZERO },
                partition: *p,
            });
        }
    }
    let plan: Result<FetchPlan, ErrorCode> = match s.fetch_sessions.lock() {
        Ok(mut c) => c.new_context(
            req.session_id,
            req.session_epoch,
            by_id,
            requested,
            forgotten,
        ),
        Err(_) => Err(ErrorCode::UnknownServerError),
    };
    let plan = match plan {
        Ok(p) => p,
        Err(code) => {
            return FetchResponse {
                error_code: code.code(),
                session_id: 0,
                ..Default::default()
            };
        }
    };

    let catalog = s.metadata.snapshot();
    let targets: Arc<Vec<Target>> = Arc::new(
        plan.partitions
            .iter()
            .map(|(k, p)| (k.clone(), *p, resolve(&catalog, k, by_id)))
            .collect(),
    );
    drop(catalog);
    let max_bytes = usize::try_from(req.max_bytes).unwrap_or(0);
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    let read_committed = req.isolation_level == 1;
    let deadline = tokio::time::Instant::now()
        + Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0));
    let notify = Arc::new(Notify::new());
    let mut shutdown = s.shutdown.clone();
    let data = loop {
        // register before reading so an append during the read wakes us
        for (_, _, t) in targets.iter() {
            if let Ok(p) = t {
                p.watch(&notify);
            }
        }
        let t2 = targets.clone();
        let Some((data, total, any_error)) =
            blocking(move || read_all(&t2, max_bytes, read_committed)).await
        else {
            return FetchResponse {
                error_code: ErrorCode::UnknownServerError.code(),
                ..Default::default()
            };
        };
        if total >= min_bytes
            || any_error
            || targets.is_empty()
            || tokio::time::Instant::now() >= deadline
            || *shutdown.borrow()
        {
            break data;
        }
        tokio::select! {
            _ = notify.notified() => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = shutdown.changed() => {}
        }
    };

    // session bookkeeping and incremental filtering
    let results: Vec<(FetchKey, Sent, bool)> = targets
        .iter()
        .zip(&data)
        .map(|((k, _, _), d)| {
            (
                k.clone(),
                Sent {
                    high_watermark: d.high_watermark,
                    last_stable_offset: d.last_stable_offset,
                    log_start_offset: d.log_start_offset,
                },
                d.error_code != 0 || d.records.as_ref().is_some_and(|r| !r.is_empty()),
            )
        })
        .collect();
    let (session_id, include) = match s.fetch_sessions.lock() {
        Ok(mut c) => c.finish(&plan, &results, || (random_u64() & 0x7fff_ffff) as i32),
        Err(_) => (0, vec![true; results.len()]),
    };

    let mut responses: Vec<FetchableTopicResponse> = Vec::new();
    for (((key, _, _), d), inc) in targets.iter().zip(data).zip(include) {
        if !inc {
            continue;
        }
        let same = responses
            .last()
            .is_some_and(|t| t.topic == key.topic && t.topic_id == key.topic_id);
        if !same {
            responses.push(FetchableTopicResponse {
                topic: key.topic.clone(),
                topic_id: key.topic_id,
                ..Default::default()
            });
        }
        if let Some(t) = responses.last_mut() {
            let mut d = d;
            if version < 5 {
                d.log_start_offset = -1;
            }
            t.partitions.push(d);
        }
    }
    FetchResponse {
        error_code: 0,
        session_id: if version >= 7 { session_id } else { 0 },
        responses,
        ..Default::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::handlers::testutil::{round_trip, state};
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use std::collections::BTreeMap;

    fn freq(topic: &str, id: Uuid, offset: i64, session: (i32, i32), wait: i32) -> FetchRequest {
        FetchRequest {
            replica_id: -1,
            max_wait_ms: wait,
            min_bytes: 1,
            max_bytes: 1 << 20,
            session_id: session.0,
            session_epoch: session.1,
            topics: vec![FetchTopic {
                topic: topic.into(),
                topic_id: id,
                partitions: vec![FetchPartition {
                    partition: 0,
                    fetch_offset: offset,
                    partition_max_bytes: 1 << 20,
                    current_leader_epoch: -1,
                    last_fetched_epoch: -1,
                    log_start_offset: -1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn append(s: &Shared, topic: &str) {
        let c = s.metadata.snapshot();
        let p = c.by_name[topic].partitions[0].clone();
        let mut b = kafka_protocol::records::RecordBatchBuilder::new(0);
        b.append(1, Some(b"k"), Some(b"v"), &[]).unwrap();
        p.with_log(|l| l.append(b.build().unwrap(), 0, 0))
            .unwrap()
            .unwrap();
        p.wake();
    }

    #[tokio::test]
    async fn reads_waits_and_sessions() {
        let st = state();
        let s = &st.shared;
        let t = s
            .metadata
            .create_topic("f", 1, BTreeMap::new(), false)
            .unwrap();
        append(s, "f");
        let r = handle(s, 12, freq("f", Uuid::ZERO, 0, (0, -1), 0)).await;
        assert_eq!(r.responses[0].partitions[0].high_watermark, 1);
        assert!(
            !r.responses[0].partitions[0]
                .records
                .as_ref()
                .unwrap()
                .is_empty()
        );
        for v in 4..=12 {
            round_trip(&r, v);
        }
        // v13 by id
        let r = handle(s, 13, freq("", t.id, 0, (0, -1), 0)).await;
        assert_eq!(r.responses[0].partitions[0].error_code, 0);
        round_trip(&r, 13);
        let r = handle(s, 13, freq("", Uuid::from_u128(3), 0, (0, -1), 0)).await;
        assert_eq!(
            r.responses[0].partitions[0].error_code,
            ErrorCode::UnknownTopicId.code()
        );
        // out of range
        let r = handle(s, 12, freq("f", Uuid::ZERO, 5, (0, -1), 0)).await;
        assert_eq!(
            r.responses[0].partitions[0].error_code,
            ErrorCode::OffsetOutOfRange.code()
        );

        // long poll woken by an append
        let s2 = s.clone();
        let waiter = tokio::spawn(async move {
            handle(&s2, 12, freq("f", Uuid::ZERO, 1, (0, -1), 10_000)).await
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = std::time::Instant::now();
        append(s, "f");
        let r = waiter.await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(r.responses[0].partitions[0].high_watermark, 2);
        // long poll times out
        let started = std::time::Instant::now();
        let r = handle(s, 12, freq("f", Uuid::ZERO, 2, (0, -1), 200)).await;
        assert!(started.elapsed() >= Duration::from_millis(190));
        assert!(
            r.responses[0].partitions[0]
                .records
                .as_ref()
                .unwrap()
                .is_empty()
        );

        // sessions: full creates, incremental omits unchanged partitions
        let r = handle(s, 12, freq("f", Uuid::ZERO, 2, (0, 0), 0)).await;
        let id = r.session_id;
        assert!(id > 0);
        assert_eq!(r.responses.len(), 1);
        let mut inc = freq("f", Uuid::ZERO, 2, (id, 1), 0);
        inc.topics.clear();
        let r = handle(s, 12, inc.clone()).await;
        assert_eq!(r.error_code, 0);
        assert!(r.responses.is_empty(), "{r:?}");
        inc.session_epoch = 5;
        let r = handle(s, 12, inc.clone()).await;
        assert_eq!(r.error_code, ErrorCode::InvalidFetchSessionEpoch.code());
        inc.session_id = id + 1;
        let r = handle(s, 12, inc).await;
        assert_eq!(r.error_code, ErrorCode::FetchSessionIdNotFound.code());
        round_trip(&r, 7);
    }
}
