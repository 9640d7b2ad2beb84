//! Classic group membership: JoinGroup (with KIP-394's MEMBER_ID_REQUIRED retry), SyncGroup
//! with the leader running the chosen assignor, the background heartbeat task (which also
//! enforces `max.poll.interval.ms`), LeaveGroup, and the eager/cooperative listener calls.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_client::{Client, SendOptions, Target};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, HeartbeatRequest, JoinGroupRequest, LeaveGroupRequest, SyncGroupRequest,
};
use tokio::time::Instant;

use crate::assignor::{
    CONSUMER_PROTOCOL_TYPE, ClusterView, ConsumerPartitionAssignor, PreviousAssignment,
    RebalanceProtocol, Subscription, TopicPartition, decode_assignment, decode_subscription,
    encode_assignment, encode_subscription,
};
use crate::config::ConsumerConfig;
use crate::error::{Error, Result};
use crate::fetcher::Shared;

/// Membership shared with the heartbeat task.
#[derive(Debug)]
pub(crate) struct Membership {
    pub(crate) member_id: String,
    pub(crate) generation: i32,
    /// Joined and synced; heartbeats flow.
    pub(crate) stable: bool,
    /// The coordinator asked for a rejoin (or the subscription changed).
    pub(crate) rejoin_needed: bool,
    /// The generation was lost (fenced, session expired, poll interval exceeded).
    pub(crate) lost: bool,
    /// Unrecoverable (fenced static member, fatal group code).
    pub(crate) fatal: Option<(ErrorCode, String)>,
    pub(crate) last_poll: Instant,
    pub(crate) closed: bool,
    next_beat: Option<Instant>,
}

impl Membership {
    pub(crate) fn new() -> Self {
        Membership {
            member_id: String::new(),
            generation: -1,
            stable: false,
            rejoin_needed: true,
            lost: false,
            fatal: None,
            last_poll: Instant::now(),
            closed: false,
            next_beat: None,
        }
    }

    /// Forgets the generation (and, for UNKNOWN_MEMBER_ID, the member id).
    pub(crate) fn reset(&mut self, forget_member: bool) {
        self.generation = -1;
        self.stable = false;
        self.rejoin_needed = true;
        self.lost = true;
        if forget_member {
            self.member_id.clear();
        }
    }
}

pub(crate) type SharedMembership = Arc<Mutex<Membership>>;

pub(crate) fn lock(m: &SharedMembership) -> std::sync::MutexGuard<'_, Membership> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The rebalance protocol: cooperative only when every configured assignor supports it.
pub(crate) fn rebalance_protocol(
    assignors: &[Arc<dyn ConsumerPartitionAssignor>],
) -> RebalanceProtocol {
    if !assignors.is_empty()
        && assignors.iter().all(|a| {
            a.supported_protocols()
                .contains(&RebalanceProtocol::Cooperative)
        })
    {
        RebalanceProtocol::Cooperative
    } else {
        RebalanceProtocol::Eager
    }
}

/// The outcome of one JoinGroup + SyncGroup round.
pub(crate) struct Joined {
    pub(crate) generation: i32,
    pub(crate) member_id: String,
    pub(crate) assignment: Vec<TopicPartition>,
}

/// Joins and syncs. `owned` is what this member owns now (sent as owned partitions).
pub(crate) async fn join_and_sync(
    client: &Client,
    cfg: &ConsumerConfig,
    group_id: &str,
    membership: &SharedMembership,
    topics: &BTreeSet<String>,
    owned: &BTreeSet<TopicPartition>,
    previous: Option<&PreviousAssignment>,
) -> Result<Joined> {
    let target = Target::GroupCoordinator(group_id.to_string());
    let deadline = Instant::now() + cfg.client.default_api_timeout + cfg.max_poll_interval;
    let rebalance_timeout = cfg.max_poll_interval;
    let req_opts = SendOptions::default()
        .timeout(rebalance_timeout + Duration::from_secs(5))
        .request_timeout(rebalance_timeout + Duration::from_secs(5));
    let topic_list: Vec<String> = topics.iter().cloned().collect();
    let mut attempt = 0u32;
    loop {
        if Instant::now() > deadline {
            return Err(Error::Client(kafka_client::Error::Timeout {
                what: format!("joining group {group_id}"),
                timeout: cfg.client.default_api_timeout,
                last: None,
            }));
        }
        let (member_id, generation) = {
            let m = lock(membership);
            (m.member_id.clone(), m.generation)
        };
        let mut protocols = Vec::new();
        for a in &cfg.assignors {
            let sub = Subscription {
                topics: topic_list.clone(),
                user_data: a.subscription_user_data(&topic_list, previous),
                owned_partitions: owned.iter().cloned().collect(),
                generation_id: Some(generation),
                rack_id: cfg.client.client_rack.clone(),
                group_instance_id: None,
            };
            protocols.push(JoinGroupRequestProtocol {
                name: a.name().to_string(),
                metadata: encode_subscription(&sub, 3)?,
                ..Default::default()
            });
        }
        let req = JoinGroupRequest {
            group_id: group_id.to_string(),
            session_timeout_ms: ms(cfg.session_timeout),
            rebalance_timeout_ms: ms(rebalance_timeout),
            member_id: member_id.clone(),
            group_instance_id: cfg.group_instance_id.clone(),
            protocol_type: CONSUMER_PROTOCOL_TYPE.to_string(),
            protocols,
            reason: None,
            ..Default::default()
        };
        let resp = match client
            .send_checked(&target, &req, req_opts.clone(), |r| {
                let c = ErrorCode::from_i16(r.error_code);
                if kafka_client::retry::is_coordinator_error(c) {
                    c
                } else {
                    ErrorCode::None
                }
            })
            .await
        {
            Ok(r) => r,
            Err(e) if e.is_retriable() => {
                attempt += 1;
                backoff(cfg, attempt).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let code = ErrorCode::from_i16(resp.error_code);
        match code {
            ErrorCode::None => {}
            ErrorCode::MemberIdRequired => {
                lock(membership).member_id = resp.member_id.clone();
                continue;
            }
            ErrorCode::UnknownMemberId => {
                lock(membership).member_id.clear();
                continue;
            }
            ErrorCode::RebalanceInProgress | ErrorCode::IllegalGeneration => {
                attempt += 1;
                backoff(cfg, attempt).await;
                continue;
            }
            ErrorCode::FencedInstanceId => {
                let id = cfg.group_instance_id.clone().unwrap_or_default();
                lock(membership).fatal = Some((code, id.clone()));
                return Err(Error::FencedInstanceId(id));
            }
            c if c.is_retriable() => {
                attempt += 1;
                backoff(cfg, attempt).await;
                continue;
            }
            c => {
                return Err(Error::Group {
                    group: group_id.to_string(),
                    code: c,
                    message: None,
                });
            }
        }
        {
            let mut m = lock(membership);
            m.member_id = resp.member_id.clone();
            m.generation = resp.generation_id;
        }
        let protocol = resp.protocol_name.clone().unwrap_or_default();
        let assignments = if resp.leader == resp.member_id && !resp.skip_assignment {
            leader_assign(client, cfg, &protocol, &resp.members).await?
        } else {
            Vec::new()
        };
        let sreq = SyncGroupRequest {
            group_id: group_id.to_string(),
            generation_id: resp.generation_id,
            member_id: resp.member_id.clone(),
            group_instance_id: cfg.group_instance_id.clone(),
            protocol_type: Some(CONSUMER_PROTOCOL_TYPE.to_string()),
            protocol_name: Some(protocol.clone()),
            assignments,
            ..Default::default()
        };
        let sresp = match client
            .send_checked(&target, &sreq, req_opts.clone(), |r| {
                let c = ErrorCode::from_i16(r.error_code);
                if kafka_client::retry::is_coordinator_error(c) {
                    c
                } else {
                    ErrorCode::None
                }
            })
            .await
        {
            Ok(r) => r,
            Err(e) if e.is_retriable() => {
                attempt += 1;
                backoff(cfg, attempt).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        match ErrorCode::from_i16(sresp.error_code) {
            ErrorCode::None => {}
            ErrorCode::RebalanceInProgress => continue,
            ErrorCode::UnknownMemberId => {
                lock(membership).reset(true);
                continue;
            }
            ErrorCode::IllegalGeneration => {
                lock(membership).generation = -1;
                continue;
            }
            ErrorCode::FencedInstanceId => {
                let id = cfg.group_instance_id.clone().unwrap_or_default();
                lock(membership).fatal = Some((ErrorCode::FencedInstanceId, id.clone()));
                return Err(Error::FencedInstanceId(id));
            }
            c if c.is_retriable() => {
                attempt += 1;
                backoff(cfg, attempt).await;
                continue;
            }
            c => {
                return Err(Error::Group {
                    group: group_id.to_string(),
                    code: c,
                    message: None,
                });
            }
        }
        let assignment = if sresp.assignment.is_empty() {
            Vec::new()
        } else {
            decode_assignment(&sresp.assignment)?.partitions
        };
        return Ok(Joined {
            generation: resp.generation_id,
            member_id: resp.member_id,
            assignment,
        });
    }
}

async fn leader_assign(
    client: &Client,
    cfg: &ConsumerConfig,
    protocol: &str,
    members: &[kafka_protocol::messages::join_group_response::JoinGroupResponseMember],
) -> Result<Vec<SyncGroupRequestAssignment>> {
    let assignor = cfg
        .assignors
        .iter()
        .find(|a| a.name() == protocol)
        .ok_or_else(|| {
            Error::IllegalState(format!(
                "the coordinator chose assignor {protocol:?} which this consumer does not have"
            ))
        })?;
    let mut subs: BTreeMap<String, Subscription> = BTreeMap::new();
    let mut all_topics = BTreeSet::new();
    for m in members {
        let mut s = decode_subscription(&m.metadata)?;
        s.group_instance_id = m.group_instance_id.clone();
        all_topics.extend(s.topics.iter().cloned());
        subs.insert(m.member_id.clone(), s);
    }
    let md = client.refresh_metadata(all_topics.iter().cloned()).await?;
    let mut cluster = ClusterView::new();
    for t in &all_topics {
        if let Some(tm) = md.topic(t)
            && !tm.partitions.is_empty()
        {
            cluster.insert_topic(t.clone(), tm.partitions.len() as i32);
        }
    }
    let out = assignor.assign(&cluster, &subs)?;
    tracing::info!(
        assignor = protocol,
        members = subs.len(),
        "leader computed the assignment"
    );
    let mut v = Vec::new();
    for id in subs.keys() {
        let a = out.get(id).cloned().unwrap_or_default();
        v.push(SyncGroupRequestAssignment {
            member_id: id.clone(),
            assignment: encode_assignment(&a, 3)?,
            ..Default::default()
        });
    }
    Ok(v)
}

async fn backoff(cfg: &ConsumerConfig, attempt: u32) {
    let base = cfg.client.retry_backoff.saturating_mul(attempt.min(10));
    tokio::time::sleep(base.min(cfg.client.retry_backoff_max)).await;
}

pub(crate) fn ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// Sends LeaveGroup (dynamic members only; static members just stop, as in Java).
pub(crate) async fn leave(
    client: &Client,
    cfg: &ConsumerConfig,
    group_id: &str,
    member_id: &str,
    reason: &str,
) {
    if cfg.group_instance_id.is_some() || member_id.is_empty() {
        return;
    }
    let v = client.negotiated_version(ApiKey::LeaveGroup).unwrap_or(3);
    let req = if v >= 3 {
        LeaveGroupRequest {
            group_id: group_id.to_string(),
            members: vec![MemberIdentity {
                member_id: member_id.to_string(),
                group_instance_id: None,
                reason: Some(reason.to_string()),
                ..Default::default()
            }],
            ..Default::default()
        }
    } else {
        LeaveGroupRequest {
            group_id: group_id.to_string(),
            member_id: member_id.to_string(),
            ..Default::default()
        }
    };
    let opts =
        SendOptions::default().timeout(cfg.client.request_timeout.min(Duration::from_secs(5)));
    match client
        .send_opts(Target::GroupCoordinator(group_id.to_string()), req, opts)
        .await
    {
        Ok(r) if r.error_code != 0 => {
            tracing::debug!(code = %ErrorCode::from_i16(r.error_code), "LeaveGroup")
        }
        Ok(_) => tracing::info!(group_id, member_id, reason, "left the group"),
        Err(e) => tracing::debug!(error = %e, "LeaveGroup failed"),
    }
}

/// The heartbeat task: heartbeats while stable, flags rebalances for `poll`, and leaves the
/// group when `poll` is not called within `max.poll.interval.ms`.
pub(crate) async fn heartbeat_loop(
    client: Client,
    cfg: ConsumerConfig,
    group_id: String,
    membership: SharedMembership,
    shared: std::sync::Weak<Shared>,
) {
    let target = Target::GroupCoordinator(group_id.clone());
    loop {
        tokio::time::sleep(
            cfg.heartbeat_interval
                .min(Duration::from_millis(500))
                .max(Duration::from_millis(10)),
        )
        .await;
        let Some(sh) = shared.upgrade() else { return };
        let (stable, member_id, generation, last_poll, closed) = {
            let m = lock(&membership);
            (
                m.stable,
                m.member_id.clone(),
                m.generation,
                m.last_poll,
                m.closed,
            )
        };
        if closed {
            return;
        }
        if stable && last_poll.elapsed() > cfg.max_poll_interval {
            tracing::warn!(
                group_id,
                "poll was not called within max.poll.interval.ms ({:?}); leaving the group",
                cfg.max_poll_interval
            );
            {
                let mut m = lock(&membership);
                m.reset(cfg.group_instance_id.is_none());
            }
            leave(
                &client,
                &cfg,
                &group_id,
                &member_id,
                "consumer poll timeout has expired",
            )
            .await;
            sh.wake_poll.notify_one();
            continue;
        }
        if !stable {
            continue;
        }
        if !heartbeat_due(&membership, cfg.heartbeat_interval) {
            continue;
        }
        let req = HeartbeatRequest {
            group_id: group_id.clone(),
            generation_id: generation,
            member_id: member_id.clone(),
            group_instance_id: cfg.group_instance_id.clone(),
            ..Default::default()
        };
        let opts =
            SendOptions::default().timeout(cfg.session_timeout.min(cfg.client.request_timeout));
        let resp = client
            .send_checked(&target, &req, opts, |r| {
                let c = ErrorCode::from_i16(r.error_code);
                if kafka_client::retry::is_coordinator_error(c) {
                    c
                } else {
                    ErrorCode::None
                }
            })
            .await;
        let code = match resp {
            Ok(r) => ErrorCode::from_i16(r.error_code),
            Err(e) => {
                tracing::debug!(error = %e, "heartbeat failed");
                continue;
            }
        };
        let mut m = lock(&membership);
        if m.generation != generation || m.member_id != member_id {
            continue; // a rejoin happened meanwhile
        }
        match code {
            ErrorCode::None => {}
            ErrorCode::RebalanceInProgress => {
                tracing::info!(group_id, "group is rebalancing");
                m.rejoin_needed = true;
                drop(m);
                sh.wake_poll.notify_one();
            }
            ErrorCode::IllegalGeneration | ErrorCode::UnknownMemberId => {
                tracing::info!(group_id, %code, "membership lost");
                m.reset(code == ErrorCode::UnknownMemberId);
                drop(m);
                sh.wake_poll.notify_one();
            }
            ErrorCode::FencedInstanceId => {
                m.fatal = Some((code, cfg.group_instance_id.clone().unwrap_or_default()));
                m.stable = false;
                drop(m);
                sh.wake_poll.notify_one();
            }
            other => tracing::debug!(code = %other, "heartbeat error"),
        }
    }
}

/// Heartbeats go out every `heartbeat.interval.ms`; the loop ticks faster so that the poll
/// interval check and rebalance detection stay responsive.
fn heartbeat_due(membership: &SharedMembership, interval: Duration) -> bool {
    let mut m = lock(membership);
    let now = Instant::now();
    match m.next_beat {
        Some(t) if t > now => false,
        _ => {
            m.next_beat = Some(now + interval);
            true
        }
    }
}
