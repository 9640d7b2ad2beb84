//! OffsetCommit, OffsetFetch and ListOffsets round trips (free functions, so commit tasks can
//! run them without the consumer).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_client::retry::Deadline;
use kafka_client::{Client, SendOptions, Target};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    ApiKey, ListOffsetsRequest, OffsetCommitRequest, OffsetFetchRequest,
};
use kafka_protocol::{ErrorCode, Uuid};

use crate::assignor::TopicPartition;
use crate::error::{Error, Result};
use crate::record::OffsetAndMetadata;

/// Who commits: generation/epoch, member id and instance id (all empty for simple consumers).
#[derive(Debug, Clone)]
pub(crate) struct Committer {
    pub(crate) group_id: String,
    pub(crate) generation: i32,
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
}

/// Gives the current KIP-848 member id and epoch (None outside the group): OffsetFetch v9+
/// carries them, and retries with the latest ones after STALE_MEMBER_EPOCH.
pub(crate) type MemberFn = Box<dyn Fn() -> Option<(String, i32)> + Send + Sync>;

fn topic_id(client: &Client, topic: &str) -> Uuid {
    client
        .metadata()
        .topic(topic)
        .map(|t| t.id)
        .unwrap_or(Uuid::ZERO)
}

fn topic_name(client: &Client, name: &str, id: Uuid) -> Option<String> {
    if !name.is_empty() {
        return Some(name.to_string());
    }
    client.metadata().topic_names.get(&id).cloned()
}

fn group_code(c: ErrorCode) -> bool {
    matches!(
        c,
        ErrorCode::RebalanceInProgress
            | ErrorCode::IllegalGeneration
            | ErrorCode::UnknownMemberId
            | ErrorCode::FencedInstanceId
            | ErrorCode::StaleMemberEpoch
            | ErrorCode::FencedMemberEpoch
    )
}

/// Commits `offsets` for the group; retriable failures are retried until `timeout`.
pub(crate) async fn commit(
    client: &Client,
    who: &Committer,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    timeout: Duration,
) -> Result<()> {
    if offsets.is_empty() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    let mut zero_id = false;
    for (tp, o) in offsets {
        let p = OffsetCommitRequestPartition {
            partition_index: tp.partition,
            committed_offset: o.offset,
            committed_leader_epoch: o.leader_epoch.unwrap_or(-1),
            committed_metadata: Some(o.metadata.clone()),
            ..Default::default()
        };
        match topics.last_mut() {
            Some(t) if t.name == tp.topic => t.partitions.push(p),
            _ => {
                let id = topic_id(client, &tp.topic);
                zero_id |= id == Uuid::ZERO;
                topics.push(OffsetCommitRequestTopic {
                    name: tp.topic.clone(),
                    topic_id: id,
                    partitions: vec![p],
                    ..Default::default()
                })
            }
        }
    }
    let req = OffsetCommitRequest {
        group_id: who.group_id.clone(),
        generation_id_or_member_epoch: who.generation,
        member_id: who.member_id.clone(),
        group_instance_id: who.instance_id.clone(),
        topics,
        ..Default::default()
    };
    let mut opts = SendOptions::default().timeout(timeout);
    if zero_id {
        opts = opts.max_version(9);
    }
    let resp = client
        .send_checked(
            &Target::GroupCoordinator(who.group_id.clone()),
            &req,
            opts,
            |r| {
                r.topics
                    .iter()
                    .flat_map(|t| t.partitions.iter())
                    .map(|p| ErrorCode::from_i16(p.error_code))
                    .find(|c| c.is_retriable() && !group_code(*c))
                    .unwrap_or(ErrorCode::None)
            },
        )
        .await?;
    metrics::histogram!("kafka_consumer_commit_latency_seconds")
        .record(started.elapsed().as_secs_f64());
    for t in &resp.topics {
        for p in &t.partitions {
            let code = ErrorCode::from_i16(p.error_code);
            if code.is_ok() {
                continue;
            }
            let name = topic_name(client, &t.name, t.topic_id).unwrap_or_default();
            return Err(match code {
                ErrorCode::RebalanceInProgress
                | ErrorCode::IllegalGeneration
                | ErrorCode::UnknownMemberId
                | ErrorCode::StaleMemberEpoch
                | ErrorCode::FencedMemberEpoch => Error::CommitFailed(format!(
                    "{code} committing {name}-{}: the group rebalanced; poll again and retry",
                    p.partition_index
                )),
                ErrorCode::FencedInstanceId => {
                    Error::FencedInstanceId(who.instance_id.clone().unwrap_or_default())
                }
                other => Error::Client(
                    kafka_client::Error::kafka(other, None)
                        .with_partition(&name, p.partition_index),
                ),
            });
        }
    }
    Ok(())
}

/// The committed offsets of `tps` (None where nothing is committed). A KIP-848 `member` sends
/// its id and epoch (OffsetFetch v9+); STALE_MEMBER_EPOCH and UNKNOWN_MEMBER_ID are retried
/// with the member's latest epoch while it is in the group, until `timeout`.
pub(crate) async fn fetch_committed(
    client: &Client,
    group_id: &str,
    member: Option<&MemberFn>,
    tps: &BTreeSet<TopicPartition>,
    timeout: Duration,
) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
    let Some(member) = member else {
        return fetch_committed_once(client, group_id, None, tps, timeout).await;
    };
    let deadline = Deadline::after(timeout);
    let mut attempt = 0u32;
    loop {
        let now = member();
        let r = fetch_committed_once(client, group_id, now, tps, deadline.remaining()).await;
        match r {
            Err(e)
                if matches!(
                    e.error_code(),
                    Some(ErrorCode::StaleMemberEpoch | ErrorCode::UnknownMemberId)
                ) && member().is_some()
                    && !deadline.expired() =>
            {
                attempt += 1;
                tracing::debug!(error = %e, "OffsetFetch with a stale member epoch; retrying");
                let wait = client.config().retry_backoff * attempt.min(10);
                tokio::time::sleep(deadline.cap(wait)).await;
            }
            other => return other,
        }
    }
}

async fn fetch_committed_once(
    client: &Client,
    group_id: &str,
    member: Option<(String, i32)>,
    tps: &BTreeSet<TopicPartition>,
    timeout: Duration,
) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in tps {
        by_topic.entry(&tp.topic).or_default().push(tp.partition);
    }
    let mut out = BTreeMap::new();
    if tps.is_empty() {
        return Ok(out);
    }
    let v = client.negotiated_version(ApiKey::OffsetFetch).unwrap_or(8);
    let zero_id = by_topic.keys().any(|t| topic_id(client, t) == Uuid::ZERO);
    let req = if v >= 8 {
        OffsetFetchRequest {
            groups: vec![OffsetFetchRequestGroup {
                group_id: group_id.to_string(),
                member_id: member.as_ref().map(|(id, _)| id.clone()),
                member_epoch: member.as_ref().map_or(-1, |(_, e)| *e),
                topics: Some(
                    by_topic
                        .iter()
                        .map(|(t, ps)| OffsetFetchRequestTopics {
                            name: t.to_string(),
                            topic_id: topic_id(client, t),
                            partition_indexes: ps.clone(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }],
            require_stable: true,
            ..Default::default()
        }
    } else {
        OffsetFetchRequest {
            group_id: group_id.to_string(),
            topics: Some(
                by_topic
                    .iter()
                    .map(|(t, ps)| OffsetFetchRequestTopic {
                        name: t.to_string(),
                        partition_indexes: ps.clone(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            require_stable: v >= 7,
            ..Default::default()
        }
    };
    let mut opts = SendOptions::default().timeout(timeout);
    if zero_id {
        opts = opts.max_version(9);
    }
    let resp = client
        .send_checked(
            &Target::GroupCoordinator(group_id.to_string()),
            &req,
            opts,
            |r| {
                let top = r
                    .groups
                    .first()
                    .map(|g| g.error_code)
                    .unwrap_or(r.error_code);
                let top = ErrorCode::from_i16(top);
                if !top.is_ok() {
                    return top;
                }
                let parts = r
                    .groups
                    .iter()
                    .flat_map(|g| {
                        g.topics
                            .iter()
                            .flat_map(|t| t.partitions.iter().map(|p| p.error_code))
                    })
                    .chain(
                        r.topics
                            .iter()
                            .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
                    );
                parts
                    .map(ErrorCode::from_i16)
                    .find(|c| c.is_retriable())
                    .unwrap_or(ErrorCode::None)
            },
        )
        .await?;
    let mut add =
        |name: String, idx: i32, off: i64, epoch: i32, meta: Option<String>, code: i16| {
            let code = ErrorCode::from_i16(code);
            if !code.is_ok() {
                return Err(Error::Client(
                    kafka_client::Error::kafka(code, None).with_partition(&name, idx),
                ));
            }
            let v = (off >= 0).then(|| OffsetAndMetadata {
                offset: off,
                leader_epoch: (epoch >= 0).then_some(epoch),
                metadata: meta.unwrap_or_default(),
            });
            out.insert(TopicPartition::new(name, idx), v);
            Ok(())
        };
    for g in resp.groups {
        for t in g.topics {
            let Some(name) = topic_name(client, &t.name, t.topic_id) else {
                continue;
            };
            for p in t.partitions {
                add(
                    name.clone(),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.metadata,
                    p.error_code,
                )?;
            }
        }
    }
    for t in resp.topics {
        for p in t.partitions {
            add(
                t.name.clone(),
                p.partition_index,
                p.committed_offset,
                p.committed_leader_epoch,
                p.metadata,
                p.error_code,
            )?;
        }
    }
    for tp in tps {
        out.entry(tp.clone()).or_insert(None);
    }
    Ok(out)
}

/// `timestamp` -2 = earliest, -1 = latest, else the first offset with a timestamp at or after it.
pub(crate) const EARLIEST: i64 = -2;
/// See [`EARLIEST`].
pub(crate) const LATEST: i64 = -1;

/// ListOffsets for each partition (grouped by leader), retrying leader changes until `timeout`.
/// Values: `(offset, timestamp, leader_epoch)`; offset -1 when no record matches.
pub(crate) async fn list_offsets(
    client: &Client,
    query: &BTreeMap<TopicPartition, i64>,
    isolation: i8,
    timeout: Duration,
) -> Result<BTreeMap<TopicPartition, (i64, i64, Option<i32>)>> {
    let deadline = Deadline::after(timeout);
    let mut todo: BTreeMap<TopicPartition, i64> = query.clone();
    let mut out = BTreeMap::new();
    let topics: BTreeSet<String> = todo.keys().map(|tp| tp.topic.clone()).collect();
    if client
        .metadata()
        .topics
        .keys()
        .filter(|t| topics.contains(*t))
        .count()
        < topics.len()
    {
        client.refresh_metadata(topics.iter().cloned()).await?;
    }
    let mut attempt = 0u32;
    while !todo.is_empty() {
        let md = client.metadata();
        let mut by_leader: BTreeMap<i32, Vec<(TopicPartition, i64, i32)>> = BTreeMap::new();
        let mut missing = false;
        for (tp, ts) in &todo {
            match md.leader_for(&tp.topic, tp.partition) {
                Some((leader, epoch)) => {
                    by_leader
                        .entry(leader)
                        .or_default()
                        .push((tp.clone(), *ts, epoch))
                }
                None => missing = true,
            }
        }
        let mut retry = missing;
        let sends = by_leader.into_iter().map(|(leader, parts)| {
            let mut topics: Vec<ListOffsetsTopic> = Vec::new();
            for (tp, ts, epoch) in &parts {
                let p = ListOffsetsPartition {
                    partition_index: tp.partition,
                    current_leader_epoch: *epoch,
                    timestamp: *ts,
                    ..Default::default()
                };
                match topics.last_mut() {
                    Some(t) if t.name == tp.topic => t.partitions.push(p),
                    _ => topics.push(ListOffsetsTopic {
                        name: tp.topic.clone(),
                        partitions: vec![p],
                        ..Default::default()
                    }),
                }
            }
            let req = ListOffsetsRequest {
                replica_id: -1,
                isolation_level: isolation,
                topics,
                timeout_ms: i32::try_from(deadline.remaining().as_millis()).unwrap_or(i32::MAX),
                ..Default::default()
            };
            let opts = SendOptions::default().timeout(deadline.remaining());
            async move { client.send_opts(Target::Broker(leader), req, opts).await }
        });
        let results = futures::future::join_all(sends).await;
        for r in results {
            let resp = match r {
                Ok(r) => r,
                Err(e) if e.is_retriable() => {
                    retry = true;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            for t in resp.topics {
                for p in t.partitions {
                    let tp = TopicPartition::new(t.name.clone(), p.partition_index);
                    let code = ErrorCode::from_i16(p.error_code);
                    if code.is_ok() {
                        todo.remove(&tp);
                        let epoch = (p.leader_epoch >= 0).then_some(p.leader_epoch);
                        out.insert(tp, (p.offset, p.timestamp, epoch));
                    } else if code.is_retriable() {
                        client.invalidate_metadata();
                        retry = true;
                    } else {
                        return Err(Error::Client(
                            kafka_client::Error::kafka(code, None)
                                .with_partition(&tp.topic, tp.partition),
                        ));
                    }
                }
            }
        }
        if todo.is_empty() {
            break;
        }
        if deadline.expired() {
            return Err(Error::Client(kafka_client::Error::Timeout {
                what: "ListOffsets".into(),
                timeout,
                last: None,
            }));
        }
        if retry {
            attempt += 1;
            let backoff = client.config().retry_backoff * attempt.min(10);
            tokio::time::sleep(deadline.cap(backoff)).await;
            let _ = client.refresh_metadata(topics.iter().cloned()).await;
        }
    }
    Ok(out)
}
