//! KIP-848 group membership (`group.protocol=consumer`), as Java's `AsyncKafkaConsumer` with its
//! `ConsumerMembershipManager` and `ConsumerHeartbeatRequestManager`.
//!
//! - A background task sends ConsumerGroupHeartbeat (API 68) to the group coordinator: joining
//!   with member epoch 0 and a member id generated here (a random UUID, required by v1),
//!   then at the interval the coordinator returns, at once when an assignment must be
//!   acknowledged, and with epoch -1 (dynamic) or -2 (static member) to leave. As Java, the full
//!   state goes out when joining and after any error; other heartbeats carry only the fields
//!   that changed since the last one sent (rebalance timeout, subscription, server assignor,
//!   owned partitions).
//! - The coordinator computes the assignment and sends a target (topic ids and partitions).
//!   [`Consumer::poll`](crate::Consumer::poll) reconciles toward it: topic ids are resolved
//!   through metadata, revoked partitions are committed (with `enable.auto.commit`) and handed
//!   to `on_partitions_revoked`, added ones to `on_partitions_assigned`, and the next heartbeat
//!   reports the partitions now owned. The coordinator only hands out partitions that no other
//!   member still owns, so a partition is never owned by two members.
//! - FENCED_MEMBER_EPOCH / UNKNOWN_MEMBER_ID: `on_partitions_lost`, then a rejoin with epoch 0.
//!   Coordinator errors: rediscover the coordinator and retry with the full state. Other codes
//!   (UNRELEASED_INSTANCE_ID, FENCED_INSTANCE_ID, GROUP_MAX_SIZE_REACHED, UNSUPPORTED_ASSIGNOR,
//!   INVALID_REQUEST, GROUP_AUTHORIZATION_FAILED, INVALID_REGULAR_EXPRESSION, ...) are fatal:
//!   `poll` returns them as typed errors.
//! - `max.poll.interval.ms` exceeded: the task leaves the group at once (the member is *stale*);
//!   the next `poll` calls `on_partitions_lost` and rejoins.
//!
//! The state machine ([`Member`], [`plan_reconciliation`]) is pure and unit-tested; the task and
//! the `poll`-side glue are below it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use kafka_client::{Client, CoordinatorType, SendOptions, Target};
use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
use kafka_protocol::messages::{
    ApiKey, ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse,
};
use kafka_protocol::{ErrorCode, Uuid};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Consumer, Subscription};
use crate::assignor::TopicPartition;
use crate::config::ConsumerConfig;
use crate::error::{Error, Result};
use crate::fetcher::Shared;
use crate::offsets::{self, Committer, MemberFn};
use crate::record::OffsetAndMetadata;
use crate::state::{PartitionState, Pending};

/// Member epoch of a dynamic member leaving the group.
pub(crate) const LEAVE_EPOCH: i32 = -1;
/// Member epoch of a static member leaving temporarily (it keeps its partitions until its
/// session expires or its `group.instance.id` rejoins).
pub(crate) const LEAVE_STATIC_EPOCH: i32 = -2;

/// Partitions by topic id (what the coordinator sends and expects back).
pub(crate) type IdAssignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// Where the member stands (Java's `MemberState`, with reconciling/acknowledging folded into
/// [`Member::needs_reconcile`] and [`Member::ack_pending`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberState {
    /// Not subscribed: no heartbeats.
    Unsubscribed,
    /// The next heartbeat joins (epoch 0, full state).
    Joining,
    /// Joined: heartbeats at the coordinator's interval.
    InGroup,
    /// Fenced by the coordinator: the partitions are lost; `poll` releases them and rejoins.
    Fenced,
    /// Left because `max.poll.interval.ms` passed; `poll` releases the partitions and rejoins.
    Stale,
    /// Sending the leave heartbeat.
    Leaving,
    /// Unrecoverable error: `poll` fails with it.
    Fatal,
}

/// What the member is subscribed to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum SubscribedTo {
    /// Nothing yet.
    #[default]
    Nothing,
    /// Topic names (explicit, or a pattern resolved on the client for ConsumerGroupHeartbeat v0).
    Topics(BTreeSet<String>),
    /// A regular expression the coordinator resolves (ConsumerGroupHeartbeat v1+).
    Regex(String),
}

/// Fields of the last heartbeat sent, to send only what changed (Java's `SentFields`).
#[derive(Debug, Clone, Default, PartialEq)]
struct SentFields {
    rebalance_timeout_ms: Option<i32>,
    topics: Option<BTreeSet<String>>,
    regex: Option<String>,
    assignor: Option<String>,
    owned: Option<(u64, IdAssignment)>,
}

/// The membership state shared by the heartbeat task and `poll`. No I/O.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) group_id: String,
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) rack_id: Option<String>,
    pub(crate) server_assignor: Option<String>,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) epoch: i32,
    pub(crate) state: MemberState,
    pub(crate) subscription: SubscribedTo,
    /// The latest target assignment from the coordinator.
    pub(crate) target: IdAssignment,
    /// Bumped for every target received.
    pub(crate) target_seq: u64,
    /// The `target_seq` the owned partitions reflect.
    pub(crate) reconciled_seq: u64,
    /// Topics of the target whose names metadata did not give yet (reconcile again later).
    pub(crate) unresolved: BTreeSet<Uuid>,
    /// What this member owns (reported in heartbeats).
    pub(crate) owned: IdAssignment,
    /// The same, by name (what the application sees).
    pub(crate) owned_names: BTreeSet<TopicPartition>,
    /// Topic names of owned partitions, by id.
    pub(crate) names: HashMap<Uuid, String>,
    /// Bumped when the owned partitions change (so the next heartbeat reports them).
    owned_version: u64,
    /// A reconciled assignment waits for the heartbeat that acknowledges it.
    pub(crate) ack_pending: bool,
    /// The owned partitions must be released as lost (fenced, stale, fatal).
    pub(crate) lost: bool,
    pub(crate) fatal: Option<(ErrorCode, Option<String>)>,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) last_poll: Instant,
    /// Bumped whenever membership is lost or (re)joined: a reconciliation that started
    /// before must not be acknowledged.
    pub(crate) incarnation: u64,
    sent: SentFields,
}

/// What the task does after a heartbeat error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorAction {
    /// Find the coordinator again and retry at once.
    Rediscover,
    /// Retry after a backoff.
    Backoff,
    /// The member lost its membership or failed: wake `poll`.
    WakePoll,
}

/// A random member id: a version 4 UUID in Kafka's base64 form, never starting with `-` (as
/// Java's `Uuid.randomUuid`).
pub(crate) fn random_member_id() -> String {
    loop {
        let mut v = fastrand::u128(..);
        v = (v & !(0xF << 76)) | (0x4 << 76);
        v = (v & !(0x3 << 62)) | (0x2 << 62);
        let s = Uuid::from_u128(v).to_string();
        if !s.starts_with('-') {
            return s;
        }
    }
}

impl Member {
    /// A member of `group_id` that has not subscribed yet.
    pub(crate) fn new(cfg: &ConsumerConfig, group_id: &str) -> Member {
        Member {
            group_id: group_id.to_string(),
            member_id: random_member_id(),
            instance_id: cfg.group_instance_id.clone(),
            rack_id: cfg.client.client_rack.clone(),
            server_assignor: cfg.group_remote_assignor.clone(),
            rebalance_timeout_ms: i32::try_from(cfg.max_poll_interval.as_millis())
                .unwrap_or(i32::MAX),
            epoch: 0,
            state: MemberState::Unsubscribed,
            subscription: SubscribedTo::Nothing,
            target: BTreeMap::new(),
            target_seq: 0,
            reconciled_seq: 0,
            unresolved: BTreeSet::new(),
            owned: BTreeMap::new(),
            owned_names: BTreeSet::new(),
            names: HashMap::new(),
            owned_version: 0,
            ack_pending: false,
            lost: false,
            fatal: None,
            heartbeat_interval: cfg.heartbeat_interval,
            last_poll: Instant::now(),
            incarnation: 0,
            sent: SentFields::default(),
        }
    }

    /// The epoch a leave heartbeat carries: -2 for a static member, -1 otherwise.
    pub(crate) fn leave_epoch(&self) -> i32 {
        if self.instance_id.is_some() {
            LEAVE_STATIC_EPOCH
        } else {
            LEAVE_EPOCH
        }
    }

    /// Part of the group (heartbeats flow, the poll timer runs).
    pub(crate) fn in_group(&self) -> bool {
        matches!(self.state, MemberState::Joining | MemberState::InGroup)
    }

    /// The target differs from what was reconciled (or had unresolved topics).
    pub(crate) fn needs_reconcile(&self) -> bool {
        self.state == MemberState::InGroup
            && (self.reconciled_seq != self.target_seq || !self.unresolved.is_empty())
    }

    /// Whether the heartbeat should go out now rather than at the interval.
    pub(crate) fn heartbeat_now(&self) -> bool {
        match self.state {
            MemberState::Joining | MemberState::Leaving => true,
            MemberState::InGroup => self.ack_pending,
            _ => false,
        }
    }

    /// Forgets what was sent: the next heartbeat carries the full state (after errors).
    pub(crate) fn reset_sent(&mut self) {
        self.sent = SentFields::default();
    }

    /// The next heartbeat: every field when joining, otherwise only the changed ones.
    pub(crate) fn build_request(&mut self) -> ConsumerGroupHeartbeatRequest {
        let all = self.state == MemberState::Joining;
        if all {
            self.sent = SentFields::default();
        }
        let mut req = ConsumerGroupHeartbeatRequest {
            group_id: self.group_id.clone(),
            member_id: self.member_id.clone(),
            member_epoch: self.epoch,
            instance_id: self.instance_id.clone(),
            ..Default::default()
        };
        if all {
            req.rack_id = self.rack_id.clone();
        }
        if self.sent.rebalance_timeout_ms != Some(self.rebalance_timeout_ms) {
            req.rebalance_timeout_ms = self.rebalance_timeout_ms;
            self.sent.rebalance_timeout_ms = Some(self.rebalance_timeout_ms);
        }
        match &self.subscription {
            SubscribedTo::Nothing => {
                if all {
                    req.subscribed_topic_names = Some(Vec::new());
                }
            }
            SubscribedTo::Topics(t) => {
                if self.sent.topics.as_ref() != Some(t) {
                    req.subscribed_topic_names = Some(t.iter().cloned().collect());
                    self.sent.topics = Some(t.clone());
                    if self.sent.regex.take().is_some() {
                        // Switching from a regex: an empty one clears it.
                        req.subscribed_topic_regex = Some(String::new());
                    }
                }
            }
            SubscribedTo::Regex(r) => {
                if self.sent.regex.as_ref() != Some(r) {
                    req.subscribed_topic_regex = Some(r.clone());
                    self.sent.regex = Some(r.clone());
                    if self.sent.topics.take().is_some() {
                        req.subscribed_topic_names = Some(Vec::new());
                    }
                }
            }
        }
        if let Some(a) = &self.server_assignor
            && self.sent.assignor.as_ref() != Some(a)
        {
            req.server_assignor = Some(a.clone());
            self.sent.assignor = Some(a.clone());
        }
        let owned = if all {
            (self.owned_version, BTreeMap::new())
        } else {
            (self.owned_version, self.owned.clone())
        };
        if self.sent.owned.as_ref() != Some(&owned) {
            req.topic_partitions = Some(
                owned
                    .1
                    .iter()
                    .map(|(id, ps)| TopicPartitions {
                        topic_id: *id,
                        partitions: ps.iter().copied().collect(),
                        ..Default::default()
                    })
                    .collect(),
            );
            self.sent.owned = Some(owned);
        }
        if self.state == MemberState::InGroup && self.ack_pending {
            // The acknowledgement is on its way (Java: ACKNOWLEDGING -> STABLE when sent).
            self.ack_pending = false;
        }
        req
    }

    /// A successful heartbeat response. Returns true when `poll` has work (a new target).
    pub(crate) fn on_success(&mut self, resp: &ConsumerGroupHeartbeatResponse) -> bool {
        match self.state {
            MemberState::Leaving => {
                self.state = MemberState::Unsubscribed;
                return false;
            }
            MemberState::Joining | MemberState::InGroup => {}
            // Fenced, stale, fatal or unsubscribed meanwhile: a late response changes nothing.
            _ => return false,
        }
        if let Some(id) = resp.member_id.as_ref().filter(|s| !s.is_empty()) {
            self.member_id.clone_from(id);
        }
        if resp.heartbeat_interval_ms > 0 {
            self.heartbeat_interval =
                Duration::from_millis(u64::try_from(resp.heartbeat_interval_ms).unwrap_or(0));
        }
        self.epoch = resp.member_epoch;
        if self.state == MemberState::Joining {
            self.state = MemberState::InGroup;
        }
        match &resp.assignment {
            Some(a) => {
                let mut target: IdAssignment = BTreeMap::new();
                for tp in &a.topic_partitions {
                    target
                        .entry(tp.topic_id)
                        .or_default()
                        .extend(tp.partitions.iter().copied());
                }
                target.retain(|_, ps| !ps.is_empty());
                self.target = target;
                self.target_seq += 1;
                true
            }
            None => false,
        }
    }

    /// A heartbeat response with an error code.
    pub(crate) fn on_error(&mut self, code: ErrorCode, message: Option<String>) -> ErrorAction {
        self.reset_sent();
        match code {
            ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable => {
                ErrorAction::Rediscover
            }
            ErrorCode::CoordinatorLoadInProgress => ErrorAction::Backoff,
            ErrorCode::FencedMemberEpoch | ErrorCode::UnknownMemberId => {
                if matches!(self.state, MemberState::Leaving | MemberState::Unsubscribed) {
                    self.state = MemberState::Unsubscribed;
                } else if matches!(self.state, MemberState::Joining | MemberState::InGroup) {
                    self.fence();
                }
                ErrorAction::WakePoll
            }
            c if c.is_retriable() => ErrorAction::Backoff,
            c => {
                self.state = MemberState::Fatal;
                self.fatal = Some((c, message));
                self.lost = !self.owned_names.is_empty();
                self.incarnation += 1;
                ErrorAction::WakePoll
            }
        }
    }

    /// The coordinator fenced this member: its partitions are lost, it rejoins after `poll`
    /// released them.
    pub(crate) fn fence(&mut self) {
        self.state = MemberState::Fenced;
        self.epoch = 0;
        self.lost = true;
        self.ack_pending = false;
        self.incarnation += 1;
        self.reset_sent();
    }

    /// Checks the poll timer: when `max.poll.interval.ms` passed since the last `poll`, the
    /// member becomes stale and the returned leave heartbeat must be sent.
    pub(crate) fn check_poll_timer(
        &mut self,
        now: Instant,
        max_poll_interval: Duration,
    ) -> Option<ConsumerGroupHeartbeatRequest> {
        if !self.in_group() || now.saturating_duration_since(self.last_poll) <= max_poll_interval {
            return None;
        }
        self.epoch = self.leave_epoch();
        let req = ConsumerGroupHeartbeatRequest {
            group_id: self.group_id.clone(),
            member_id: self.member_id.clone(),
            member_epoch: self.epoch,
            instance_id: self.instance_id.clone(),
            ..Default::default()
        };
        self.state = MemberState::Stale;
        self.lost = true;
        self.ack_pending = false;
        self.incarnation += 1;
        self.reset_sent();
        Some(req)
    }

    /// Called by `poll` once lost partitions were released: rejoin with epoch 0.
    pub(crate) fn transition_to_joining(&mut self) {
        if self.state == MemberState::Fatal {
            return;
        }
        self.epoch = 0;
        self.state = MemberState::Joining;
        self.target.clear();
        self.unresolved.clear();
        self.reconciled_seq = self.target_seq;
        self.ack_pending = false;
        self.incarnation += 1;
        self.reset_sent();
    }

    /// Forgets the owned partitions (after they were released as revoked or lost).
    pub(crate) fn clear_owned(&mut self) {
        self.owned.clear();
        self.owned_names.clear();
        self.names.clear();
        self.owned_version += 1;
        self.lost = false;
    }

    /// Starts leaving: the returned heartbeat carries the leave epoch. None when the member is
    /// not in the group.
    pub(crate) fn leave(&mut self) -> Option<ConsumerGroupHeartbeatRequest> {
        let was_in = self.in_group();
        self.clear_owned();
        self.target.clear();
        self.unresolved.clear();
        self.reconciled_seq = self.target_seq;
        self.ack_pending = false;
        self.incarnation += 1;
        self.reset_sent();
        if !was_in {
            if self.state != MemberState::Fatal {
                self.state = MemberState::Unsubscribed;
            }
            self.epoch = 0;
            return None;
        }
        self.epoch = self.leave_epoch();
        self.state = MemberState::Leaving;
        Some(ConsumerGroupHeartbeatRequest {
            group_id: self.group_id.clone(),
            member_id: self.member_id.clone(),
            member_epoch: self.epoch,
            instance_id: self.instance_id.clone(),
            ..Default::default()
        })
    }

    /// Records a completed reconciliation: `plan` is now owned and the next heartbeat
    /// acknowledges it.
    pub(crate) fn apply(&mut self, plan: &Plan) {
        let changed = self.owned != plan.assigned;
        self.owned.clone_from(&plan.assigned);
        self.owned_names.clone_from(&plan.assigned_names);
        self.names.clone_from(&plan.names);
        self.unresolved.clone_from(&plan.unresolved);
        if changed {
            self.owned_version += 1;
        }
        if plan.incarnation != self.incarnation || self.state != MemberState::InGroup {
            // Fenced or left meanwhile: the partitions are released on the next poll.
            return;
        }
        self.reconciled_seq = plan.target_seq;
        if changed {
            self.ack_pending = true;
        }
    }
}

/// One reconciliation step: what to revoke, what to add, what is owned afterwards.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Plan {
    pub(crate) revoked: Vec<TopicPartition>,
    pub(crate) added: Vec<TopicPartition>,
    /// The resolved part of the target: owned once the plan is applied.
    pub(crate) assigned: IdAssignment,
    pub(crate) assigned_names: BTreeSet<TopicPartition>,
    pub(crate) names: HashMap<Uuid, String>,
    /// Target topics whose name is not known yet (their partitions wait).
    pub(crate) unresolved: BTreeSet<Uuid>,
    pub(crate) target_seq: u64,
    pub(crate) incarnation: u64,
}

/// Computes the reconciliation of `m` toward its target; `lookup` names topic ids that are not
/// owned already (from metadata). Pure.
pub(crate) fn plan_reconciliation(m: &Member, lookup: impl Fn(&Uuid) -> Option<String>) -> Plan {
    let mut plan = Plan {
        target_seq: m.target_seq,
        incarnation: m.incarnation,
        ..Plan::default()
    };
    for (id, ps) in &m.target {
        let name = m.names.get(id).cloned().or_else(|| lookup(id));
        let Some(name) = name else {
            plan.unresolved.insert(*id);
            continue;
        };
        plan.names.insert(*id, name.clone());
        plan.assigned.insert(*id, ps.clone());
        for p in ps {
            plan.assigned_names
                .insert(TopicPartition::new(name.clone(), *p));
        }
    }
    plan.revoked = m
        .owned_names
        .difference(&plan.assigned_names)
        .cloned()
        .collect();
    plan.added = plan
        .assigned_names
        .difference(&m.owned_names)
        .cloned()
        .collect();
    plan
}

pub(crate) type SharedMember = Arc<Mutex<Member>>;

pub(crate) fn lock(m: &SharedMember) -> MutexGuard<'_, Member> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The consumer's handle on its KIP-848 membership.
pub(crate) struct Kip848 {
    pub(crate) member: SharedMember,
    /// Wakes the heartbeat task (acknowledgement, join).
    pub(crate) wake: Arc<Notify>,
    pub(crate) task: Option<JoinHandle<()>>,
    /// The pattern is resolved here (ConsumerGroupHeartbeat v0) rather than by the coordinator.
    pub(crate) client_side_pattern: bool,
    pub(crate) next_pattern_check: Instant,
    pub(crate) next_metadata_refresh: Instant,
}

impl Kip848 {
    pub(crate) fn new(cfg: &ConsumerConfig, group_id: &str) -> Kip848 {
        Kip848 {
            member: Arc::new(Mutex::new(Member::new(cfg, group_id))),
            wake: Arc::new(Notify::new()),
            task: None,
            client_side_pattern: false,
            next_pattern_check: Instant::now(),
            next_metadata_refresh: Instant::now(),
        }
    }

    /// Stops the heartbeat task.
    pub(crate) fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    /// (member id, epoch) for OffsetFetch/OffsetCommit while in the group.
    pub(crate) fn member_fn(&self) -> MemberFn {
        let m = self.member.clone();
        Box::new(move || {
            let g = lock(&m);
            (g.in_group() && g.epoch > 0).then(|| (g.member_id.clone(), g.epoch))
        })
    }
}

/// The heartbeat task (one per consumer, while subscribed).
pub(crate) async fn heartbeat_task(
    client: Client,
    cfg: ConsumerConfig,
    member: SharedMember,
    wake: Arc<Notify>,
    shared: Weak<Shared>,
) {
    let group_id = lock(&member).group_id.clone();
    let target = Target::GroupCoordinator(group_id.clone());
    let mut next_beat = Instant::now();
    let mut backoff_until = Instant::now();
    let mut attempt: u32 = 0;
    let opts = SendOptions::default()
        .timeout(cfg.client.request_timeout)
        .no_retry();
    loop {
        let Some(sh) = shared.upgrade() else { return };
        let now = Instant::now();
        let (req, leaving_stale) = {
            let mut m = lock(&member);
            if let Some(leave) = m.check_poll_timer(now, cfg.max_poll_interval) {
                tracing::warn!(
                    group_id,
                    member_id = m.member_id,
                    "poll was not called within max.poll.interval.ms ({:?}); leaving the group",
                    cfg.max_poll_interval
                );
                (Some(leave), true)
            } else if now >= backoff_until
                && (m.heartbeat_now() || (m.in_group() && now >= next_beat))
                && m.state != MemberState::Leaving
            {
                (Some(m.build_request()), false)
            } else {
                (None, false)
            }
        };
        let Some(req) = req else {
            let wait = next_beat
                .max(backoff_until)
                .saturating_duration_since(now)
                .clamp(Duration::from_millis(10), Duration::from_millis(250));
            drop(sh);
            let _ = tokio::time::timeout(wait, wake.notified()).await;
            continue;
        };
        if leaving_stale {
            sh.wake_poll.notify_one();
        }
        let interval = lock(&member).heartbeat_interval;
        next_beat = Instant::now() + interval;
        let resp = client
            .send_checked(&target, &req, opts.clone(), |_| ErrorCode::None)
            .await;
        if leaving_stale {
            // The response of a leave is not waited for (Java ignores it too).
            continue;
        }
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                let e = client.on_error(&target, e);
                tracing::debug!(group_id, error = %e, "ConsumerGroupHeartbeat failed");
                client.invalidate_coordinator(CoordinatorType::Group, &group_id);
                lock(&member).reset_sent();
                attempt = attempt.saturating_add(1);
                backoff_until = Instant::now() + backoff(&cfg, attempt);
                next_beat = backoff_until;
                continue;
            }
        };
        let code = ErrorCode::from_i16(resp.error_code);
        let mut m = lock(&member);
        if m.epoch != req.member_epoch && !matches!(m.state, MemberState::Leaving) {
            // The membership moved on (fenced, stale, rejoined) while the request was out.
            continue;
        }
        if code.is_ok() {
            attempt = 0;
            let work = m.on_success(&resp);
            next_beat = Instant::now() + m.heartbeat_interval;
            drop(m);
            if work {
                sh.wake_poll.notify_one();
            }
            continue;
        }
        let message = resp.error_message.clone();
        tracing::info!(group_id, %code, message, "ConsumerGroupHeartbeat error");
        match m.on_error(code, message) {
            ErrorAction::Rediscover => {
                drop(m);
                client.invalidate_coordinator(CoordinatorType::Group, &group_id);
                backoff_until = Instant::now() + cfg.client.retry_backoff;
                next_beat = backoff_until;
            }
            ErrorAction::Backoff => {
                drop(m);
                attempt = attempt.saturating_add(1);
                backoff_until = Instant::now() + backoff(&cfg, attempt);
                next_beat = backoff_until;
            }
            ErrorAction::WakePoll => {
                drop(m);
                next_beat = Instant::now();
                sh.wake_poll.notify_one();
            }
        }
    }
}

fn backoff(cfg: &ConsumerConfig, attempt: u32) -> Duration {
    cfg.client
        .retry_backoff
        .saturating_mul(attempt.min(10))
        .min(cfg.client.retry_backoff_max)
}

/// Sends a leave heartbeat and waits (briefly) for the answer.
async fn send_leave(client: &Client, cfg: &ConsumerConfig, req: ConsumerGroupHeartbeatRequest) {
    let target = Target::GroupCoordinator(req.group_id.clone());
    let opts =
        SendOptions::default().timeout(cfg.client.request_timeout.min(Duration::from_secs(5)));
    match client
        .send_checked(&target, &req, opts, |_| ErrorCode::None)
        .await
    {
        Ok(r) if r.error_code != 0 => {
            tracing::debug!(code = %ErrorCode::from_i16(r.error_code), "leave heartbeat")
        }
        Ok(_) => tracing::info!(
            group_id = req.group_id,
            member_id = req.member_id,
            epoch = req.member_epoch,
            "left the group"
        ),
        Err(e) => tracing::debug!(error = %e, "leave heartbeat failed"),
    }
}

/// Commits with the consumer protocol: OffsetCommit carries the member id and epoch; a
/// STALE_MEMBER_EPOCH or UNKNOWN_MEMBER_ID is retried with the latest epoch while the member is
/// still in the group (as Java), until `timeout`.
pub(crate) async fn commit_retrying(
    client: &Client,
    base: &Committer,
    member: &MemberFn,
    offsets_: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut attempt = 0u32;
    loop {
        let mut who = base.clone();
        if let Some((id, epoch)) = member() {
            who.member_id = id;
            who.generation = epoch;
        }
        let r = offsets::commit(
            client,
            &who,
            offsets_,
            deadline.saturating_duration_since(Instant::now()),
        )
        .await;
        match r {
            Err(Error::CommitFailed(m)) if member().is_some() && Instant::now() < deadline => {
                attempt += 1;
                tracing::debug!(message = m, "commit with a stale member epoch; retrying");
                let wait = client
                    .config()
                    .retry_backoff
                    .saturating_mul(attempt.min(10))
                    .min(deadline.saturating_duration_since(Instant::now()));
                tokio::time::sleep(wait).await;
            }
            other => return other,
        }
    }
}

// ------------------------------------------------------------------ poll-side glue

impl<K: Send + 'static, V: Send + 'static> Consumer<K, V> {
    /// Sets the KIP-848 subscription from the consumer's current one (`pattern`: the raw
    /// pattern of `subscribe_pattern`).
    pub(super) fn kip848_subscribe(&mut self, pattern: Option<&str>) {
        let server_regex = self
            .client
            .negotiated_version(ApiKey::ConsumerGroupHeartbeat)
            .is_some_and(|v| v >= 1);
        let topics = self.kip848_pattern_topics();
        let Some(k) = self.kip848.as_mut() else {
            return;
        };
        let sub = match (&self.subscription, pattern) {
            (Subscription::Pattern(_), Some(p)) if server_regex => {
                k.client_side_pattern = false;
                SubscribedTo::Regex(p.to_string())
            }
            (Subscription::Pattern(_), _) => {
                k.client_side_pattern = true;
                k.next_pattern_check = Instant::now()
                    + self
                        .cfg
                        .client
                        .metadata_max_age
                        .min(Duration::from_secs(30));
                SubscribedTo::Topics(topics)
            }
            (Subscription::Topics(t), _) => {
                k.client_side_pattern = false;
                SubscribedTo::Topics(t.clone())
            }
            _ => SubscribedTo::Nothing,
        };
        lock(&k.member).subscription = sub;
        k.wake.notify_one();
    }

    /// Topics of the cluster matching a client-side pattern subscription.
    fn kip848_pattern_topics(&self) -> BTreeSet<String> {
        match &self.subscription {
            Subscription::Pattern(re) => self
                .client
                .metadata()
                .topics
                .values()
                .filter(|t| !(self.cfg.exclude_internal_topics && t.is_internal))
                .filter(|t| re.is_match(&t.name))
                .map(|t| t.name.clone())
                .collect(),
            _ => BTreeSet::new(),
        }
    }

    /// The member id and epoch while in the group (for group_metadata).
    pub(super) fn kip848_metadata(&self) -> Option<(String, i32)> {
        self.kip848.as_ref().map(|k| {
            let m = lock(&k.member);
            (m.member_id.clone(), m.epoch)
        })
    }

    /// Topics of a server-resolved pattern subscription: those of the owned partitions.
    pub(super) fn kip848_subscription(&self) -> Option<BTreeSet<String>> {
        let k = self.kip848.as_ref()?;
        let m = lock(&k.member);
        match &m.subscription {
            SubscribedTo::Topics(t) => Some(t.clone()),
            SubscribedTo::Regex(_) => {
                Some(m.owned_names.iter().map(|tp| tp.topic.clone()).collect())
            }
            SubscribedTo::Nothing => Some(BTreeSet::new()),
        }
    }

    /// What `poll` does for a KIP-848 member: releases lost partitions, (re)joins, surfaces
    /// fatal errors, and reconciles toward the coordinator's target.
    pub(super) async fn kip848_poll(&mut self) -> Result<()> {
        // A client-side pattern follows topic creation and deletion.
        let pattern_due = self
            .kip848
            .as_ref()
            .is_some_and(|k| k.client_side_pattern && Instant::now() >= k.next_pattern_check);
        if pattern_due {
            let _ = self.client.refresh_all_metadata().await;
            let topics = self.kip848_pattern_topics();
            if let Some(k) = self.kip848.as_mut() {
                k.next_pattern_check = Instant::now()
                    + self
                        .cfg
                        .client
                        .metadata_max_age
                        .min(Duration::from_secs(30));
                let mut m = lock(&k.member);
                if m.subscription != SubscribedTo::Topics(topics.clone()) {
                    m.subscription = SubscribedTo::Topics(topics);
                }
            }
        }
        let Some(k) = self.kip848.as_mut() else {
            return Ok(());
        };
        let (lost, fatal, owned) = {
            let mut m = lock(&k.member);
            m.last_poll = Instant::now();
            let owned: Vec<TopicPartition> = m.owned_names.iter().cloned().collect();
            (m.lost, m.fatal.clone(), owned)
        };
        if lost {
            lock(&k.member).clear_owned();
            {
                let mut st = self.shared.lock();
                st.parts.clear();
            }
            if !owned.is_empty() {
                tracing::info!(partitions = owned.len(), "partitions lost");
                self.listener.on_partitions_lost(&owned);
            }
        }
        let Some(k) = self.kip848.as_mut() else {
            return Ok(());
        };
        if let Some((code, message)) = fatal {
            return Err(match code {
                ErrorCode::FencedInstanceId => {
                    Error::FencedInstanceId(self.cfg.group_instance_id.clone().unwrap_or_default())
                }
                code => Error::Group {
                    group: self.cfg.group_id.clone().unwrap_or_default(),
                    code,
                    message,
                },
            });
        }
        {
            let mut m = lock(&k.member);
            let subscribed = m.subscription != SubscribedTo::Nothing;
            match m.state {
                MemberState::Fenced | MemberState::Stale => {
                    tracing::info!(
                        group_id = m.group_id,
                        member_id = m.member_id,
                        "rejoining the group"
                    );
                    m.transition_to_joining();
                    k.wake.notify_one();
                }
                MemberState::Unsubscribed if subscribed => {
                    m.transition_to_joining();
                    k.wake.notify_one();
                }
                _ => {}
            }
        }
        if k.task.as_ref().is_none_or(|t| t.is_finished()) {
            k.task = Some(tokio::spawn(heartbeat_task(
                self.client.clone(),
                self.cfg.clone(),
                k.member.clone(),
                k.wake.clone(),
                Arc::downgrade(&self.shared),
            )));
        }
        if lock(&k.member).needs_reconcile() {
            self.kip848_reconcile().await?;
        }
        Ok(())
    }

    /// One reconciliation toward the target: commit and revoke, then assign, then acknowledge.
    async fn kip848_reconcile(&mut self) -> Result<()> {
        let Some(k) = self.kip848.as_mut() else {
            return Ok(());
        };
        let member = k.member.clone();
        let md = self.client.metadata();
        let mut plan = plan_reconciliation(&lock(&member), |id| md.topic_names.get(id).cloned());
        if !plan.unresolved.is_empty() && Instant::now() >= k.next_metadata_refresh {
            k.next_metadata_refresh = Instant::now()
                + self
                    .cfg
                    .client
                    .retry_backoff
                    .max(Duration::from_millis(500));
            if let Err(e) = self.client.refresh_all_metadata().await {
                tracing::debug!(error = %e, "metadata refresh for assigned topic ids failed");
            }
            let md = self.client.metadata();
            plan = plan_reconciliation(&lock(&member), |id| md.topic_names.get(id).cloned());
        }
        if !plan.revoked.is_empty() || !plan.added.is_empty() {
            tracing::info!(
                group_id = self.cfg.group_id,
                revoked = plan.revoked.len(),
                added = plan.added.len(),
                unresolved = plan.unresolved.len(),
                "reconciling the assignment"
            );
        }
        if !plan.revoked.is_empty() {
            self.auto_commit_sync().await;
            {
                let mut st = self.shared.lock();
                for tp in &plan.revoked {
                    st.parts.remove(tp);
                }
            }
            self.listener.on_partitions_revoked(&plan.revoked);
        }
        let changed = !plan.revoked.is_empty() || !plan.added.is_empty();
        if !plan.added.is_empty() {
            let mut st = self.shared.lock();
            for tp in &plan.added {
                st.parts.entry(tp.clone()).or_insert_with(|| {
                    PartitionState::new(Arc::from(tp.topic.as_str()), Pending::Committed)
                });
            }
        }
        if changed {
            self.listener.on_partitions_assigned(&plan.added);
            metrics::counter!("kafka_consumer_rebalances_total").increment(1);
            self.shared.wake_fetcher.notify_one();
        }
        if let Some(k) = self.kip848.as_ref() {
            lock(&k.member).apply(&plan);
            k.wake.notify_one();
        }
        Ok(())
    }

    /// Leaves the group: commits (auto commit), revokes the owned partitions, sends the leave
    /// heartbeat (epoch -1, or -2 for a static member) and stops heartbeating.
    pub(super) async fn kip848_leave(&mut self) {
        let Some(k) = self.kip848.as_ref() else {
            return;
        };
        let (in_group, lost, owned) = {
            let m = lock(&k.member);
            (
                m.in_group() && m.epoch > 0,
                m.lost,
                m.owned_names.iter().cloned().collect::<Vec<_>>(),
            )
        };
        if in_group && !lost {
            self.auto_commit_sync().await;
        }
        {
            let mut st = self.shared.lock();
            st.parts.clear();
        }
        if !owned.is_empty() {
            if lost {
                self.listener.on_partitions_lost(&owned);
            } else {
                self.listener.on_partitions_revoked(&owned);
            }
        }
        let Some(k) = self.kip848.as_mut() else {
            return;
        };
        k.stop();
        let req = lock(&k.member).leave();
        if let Some(req) = req {
            send_leave(&self.client, &self.cfg, req).await;
        }
        if let Some(k) = self.kip848.as_ref() {
            let mut m = lock(&k.member);
            if m.state == MemberState::Leaving {
                m.state = MemberState::Unsubscribed;
            }
            m.subscription = SubscribedTo::Nothing;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kafka_protocol::messages::consumer_group_heartbeat_response::{
        Assignment, TopicPartitions as RespTp,
    };

    fn cfg(instance: Option<&str>) -> ConsumerConfig {
        let mut b = ConsumerConfig::builder()
            .bootstrap_servers("h:1")
            .group_id("g")
            .group_protocol(crate::GroupProtocol::Consumer)
            .max_poll_interval(Duration::from_secs(60))
            .client_rack("r1")
            .group_remote_assignor("uniform");
        if let Some(i) = instance {
            b = b.group_instance_id(i);
        }
        b.build().unwrap()
    }

    fn t(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn names(id: &Uuid) -> Option<String> {
        match id.as_u128() {
            1 => Some("a".into()),
            2 => Some("b".into()),
            _ => None,
        }
    }

    fn resp(epoch: i32, assignment: Option<&[(u128, &[i32])]>) -> ConsumerGroupHeartbeatResponse {
        ConsumerGroupHeartbeatResponse {
            member_epoch: epoch,
            heartbeat_interval_ms: 500,
            assignment: assignment.map(|a| Assignment {
                topic_partitions: a
                    .iter()
                    .map(|(id, ps)| RespTp {
                        topic_id: t(*id),
                        partitions: ps.to_vec(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn joined(instance: Option<&str>) -> Member {
        let mut m = Member::new(&cfg(instance), "g");
        m.subscription = SubscribedTo::Topics(["a".to_string(), "b".to_string()].into());
        m.transition_to_joining();
        m
    }

    fn tps(v: &[(&str, i32)]) -> Vec<TopicPartition> {
        v.iter().map(|(t, p)| TopicPartition::new(*t, *p)).collect()
    }

    #[test]
    fn member_id_is_a_client_generated_uuid() {
        let a = random_member_id();
        let b = random_member_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 22);
        assert!(!a.starts_with('-'));
        let v = Uuid::parse(&a).unwrap().as_u128();
        assert_eq!((v >> 76) & 0xF, 4, "version 4");
    }

    #[test]
    fn join_sends_everything_then_only_changes() {
        let mut m = joined(None);
        let r = m.build_request();
        assert_eq!(r.member_epoch, 0);
        assert_eq!(r.member_id.len(), 22);
        assert_eq!(r.rebalance_timeout_ms, 60_000);
        assert_eq!(r.rack_id.as_deref(), Some("r1"));
        assert_eq!(r.server_assignor.as_deref(), Some("uniform"));
        assert_eq!(r.subscribed_topic_names, Some(vec!["a".into(), "b".into()]));
        assert_eq!(r.topic_partitions, Some(Vec::new()), "empty when joining");
        assert!(m.on_success(&resp(3, Some(&[(1, &[0, 1])]))));
        assert_eq!(m.epoch, 3);
        assert_eq!(m.state, MemberState::InGroup);
        assert_eq!(m.heartbeat_interval, Duration::from_millis(500));
        // Nothing changed: a bare heartbeat.
        let r = m.build_request();
        assert_eq!(r.member_epoch, 3);
        assert_eq!(r.rebalance_timeout_ms, -1);
        assert_eq!(r.subscribed_topic_names, None);
        assert_eq!(r.server_assignor, None);
        assert_eq!(r.rack_id, None);
        assert_eq!(r.topic_partitions, None);
        // The subscription changes: only it is sent.
        m.subscription = SubscribedTo::Topics(["a".to_string()].into());
        let r = m.build_request();
        assert_eq!(r.subscribed_topic_names, Some(vec!["a".into()]));
        assert_eq!(r.topic_partitions, None);
        // An error: the full state again.
        assert_eq!(
            m.on_error(ErrorCode::CoordinatorLoadInProgress, None),
            ErrorAction::Backoff
        );
        let r = m.build_request();
        assert_eq!(r.rebalance_timeout_ms, 60_000);
        assert_eq!(r.subscribed_topic_names, Some(vec!["a".into()]));
        assert_eq!(r.server_assignor.as_deref(), Some("uniform"));
        assert_eq!(r.topic_partitions, Some(Vec::new()));
    }

    #[test]
    fn regex_subscription_is_sent_as_regex() {
        let mut m = Member::new(&cfg(None), "g");
        m.subscription = SubscribedTo::Regex("t-.*".into());
        m.transition_to_joining();
        let r = m.build_request();
        assert_eq!(r.subscribed_topic_regex.as_deref(), Some("t-.*"));
        assert_eq!(r.subscribed_topic_names, None);
        m.on_success(&resp(1, Some(&[])));
        assert_eq!(m.build_request().subscribed_topic_regex, None);
        m.subscription = SubscribedTo::Topics(["x".to_string()].into());
        let r = m.build_request();
        assert_eq!(r.subscribed_topic_names, Some(vec!["x".into()]));
        assert_eq!(r.subscribed_topic_regex.as_deref(), Some(""));
    }

    #[test]
    fn reconcile_assigns_then_acknowledges() {
        let mut m = joined(None);
        m.build_request();
        m.on_success(&resp(1, Some(&[(1, &[0, 1]), (2, &[0])])));
        assert!(m.needs_reconcile());
        let plan = plan_reconciliation(&m, names);
        assert!(plan.revoked.is_empty());
        assert_eq!(plan.added, tps(&[("a", 0), ("a", 1), ("b", 0)]));
        m.apply(&plan);
        assert!(!m.needs_reconcile());
        assert!(m.heartbeat_now(), "the acknowledgement goes out at once");
        let r = m.build_request();
        let owned: Vec<(Uuid, Vec<i32>)> = r
            .topic_partitions
            .unwrap()
            .into_iter()
            .map(|tp| (tp.topic_id, tp.partitions))
            .collect();
        assert_eq!(owned, vec![(t(1), vec![0, 1]), (t(2), vec![0])]);
        assert!(!m.heartbeat_now());
        // The same assignment again (epoch bump only): nothing to do, nothing re-sent.
        m.on_success(&resp(2, None));
        assert!(!m.needs_reconcile());
        assert_eq!(m.build_request().topic_partitions, None);
    }

    #[test]
    fn revocation_comes_before_the_new_epoch_is_acknowledged() {
        let mut m = joined(None);
        m.build_request();
        m.on_success(&resp(1, Some(&[(1, &[0, 1, 2, 3])])));
        let p = plan_reconciliation(&m, names);
        m.apply(&p);
        m.build_request();
        // The coordinator takes 2 and 3 away (same epoch while they are unrevoked).
        m.on_success(&resp(1, Some(&[(1, &[0, 1])])));
        let p = plan_reconciliation(&m, names);
        assert_eq!(p.revoked, tps(&[("a", 2), ("a", 3)]));
        assert!(p.added.is_empty());
        // Until applied (listener called), heartbeats still report all four.
        let r = m.build_request();
        assert_eq!(r.topic_partitions, None, "unchanged since last sent");
        m.apply(&p);
        let r = m.build_request();
        assert_eq!(r.topic_partitions.unwrap()[0].partitions, vec![0, 1]);
        // Then the epoch moves and new partitions come.
        m.on_success(&resp(2, Some(&[(1, &[0, 1]), (2, &[5])])));
        let p = plan_reconciliation(&m, names);
        assert_eq!(p.added, tps(&[("b", 5)]));
        assert!(p.revoked.is_empty());
    }

    #[test]
    fn unknown_topic_ids_wait_for_metadata() {
        let mut m = joined(None);
        m.build_request();
        m.on_success(&resp(1, Some(&[(1, &[0]), (9, &[0, 1])])));
        let p = plan_reconciliation(&m, names);
        assert_eq!(p.added, tps(&[("a", 0)]));
        assert_eq!(p.unresolved, [t(9)].into());
        m.apply(&p);
        assert!(
            m.needs_reconcile(),
            "reconciled again once metadata knows t9"
        );
        let p = plan_reconciliation(&m, |id| {
            (id.as_u128() == 9)
                .then(|| "z".to_string())
                .or_else(|| names(id))
        });
        assert_eq!(p.added, tps(&[("z", 0), ("z", 1)]));
        m.apply(&p);
        assert!(!m.needs_reconcile());
    }

    #[test]
    fn fenced_member_loses_partitions_and_rejoins_with_epoch_zero() {
        for code in [ErrorCode::FencedMemberEpoch, ErrorCode::UnknownMemberId] {
            let mut m = joined(None);
            let id = m.member_id.clone();
            m.build_request();
            m.on_success(&resp(4, Some(&[(1, &[0])])));
            let p = plan_reconciliation(&m, names);
            m.apply(&p);
            assert_eq!(m.on_error(code, None), ErrorAction::WakePoll);
            assert_eq!(m.state, MemberState::Fenced);
            assert!(m.lost);
            assert!(
                !m.heartbeat_now(),
                "no heartbeat until the partitions are released"
            );
            m.clear_owned();
            m.transition_to_joining();
            let r = m.build_request();
            assert_eq!((r.member_epoch, r.member_id.as_str()), (0, id.as_str()));
            assert_eq!(r.topic_partitions, Some(Vec::new()));
            assert!(r.subscribed_topic_names.is_some());
        }
    }

    #[test]
    fn reconciliation_started_before_a_fence_is_not_acknowledged() {
        let mut m = joined(None);
        m.build_request();
        m.on_success(&resp(1, Some(&[(1, &[0])])));
        let p = plan_reconciliation(&m, names);
        m.on_error(ErrorCode::FencedMemberEpoch, None);
        m.apply(&p);
        assert!(!m.ack_pending);
        assert_eq!(m.owned_names.len(), 1, "released as lost by the next poll");
        assert!(m.lost);
    }

    #[test]
    fn fatal_codes_stop_the_member() {
        for code in [
            ErrorCode::UnreleasedInstanceId,
            ErrorCode::FencedInstanceId,
            ErrorCode::GroupMaxSizeReached,
            ErrorCode::UnsupportedAssignor,
            ErrorCode::InvalidRequest,
            ErrorCode::GroupAuthorizationFailed,
        ] {
            let mut m = joined(Some("i"));
            m.build_request();
            assert_eq!(m.on_error(code, Some("why".into())), ErrorAction::WakePoll);
            assert_eq!(m.state, MemberState::Fatal, "{code}");
            assert_eq!(m.fatal, Some((code, Some("why".into()))));
            assert!(!m.heartbeat_now());
            m.transition_to_joining();
            assert_eq!(m.state, MemberState::Fatal, "never rejoins");
        }
        let mut m = joined(None);
        assert_eq!(
            m.on_error(ErrorCode::NotCoordinator, None),
            ErrorAction::Rediscover
        );
        assert_eq!(m.state, MemberState::Joining);
    }

    #[test]
    fn poll_timeout_leaves_and_marks_partitions_lost() {
        for (instance, epoch) in [(None, LEAVE_EPOCH), (Some("i"), LEAVE_STATIC_EPOCH)] {
            let mut m = joined(instance);
            m.build_request();
            m.on_success(&resp(2, Some(&[(1, &[0])])));
            let p = plan_reconciliation(&m, names);
            m.apply(&p);
            let now = Instant::now();
            assert!(m.check_poll_timer(now, Duration::from_secs(60)).is_none());
            let leave = m
                .check_poll_timer(now + Duration::from_secs(61), Duration::from_secs(60))
                .unwrap();
            assert_eq!(leave.member_epoch, epoch);
            assert_eq!(leave.instance_id.as_deref(), instance);
            assert_eq!(m.state, MemberState::Stale);
            assert!(m.lost);
            assert!(!m.heartbeat_now() && !m.in_group());
            // A late successful response changes nothing.
            assert!(!m.on_success(&resp(3, Some(&[(1, &[0, 1])]))));
            m.clear_owned();
            m.transition_to_joining();
            assert_eq!(m.build_request().member_epoch, 0);
        }
    }

    #[test]
    fn leave_uses_the_static_epoch_for_static_members() {
        let mut m = joined(Some("i"));
        m.build_request();
        m.on_success(&resp(5, None));
        let r = m.leave().unwrap();
        assert_eq!(r.member_epoch, LEAVE_STATIC_EPOCH);
        assert_eq!(r.instance_id.as_deref(), Some("i"));
        assert_eq!(m.state, MemberState::Leaving);
        m.on_success(&resp(-2, None));
        assert_eq!(m.state, MemberState::Unsubscribed);

        let mut m = joined(None);
        m.build_request();
        m.on_success(&resp(5, None));
        assert_eq!(m.leave().unwrap().member_epoch, LEAVE_EPOCH);
        // Not in the group: nothing to send.
        let mut m = Member::new(&cfg(None), "g");
        assert!(m.leave().is_none());
    }
}
