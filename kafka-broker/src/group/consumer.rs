//! KIP-848 consumer groups: ConsumerGroupHeartbeat with server-side assignment.
//!
//! As Kafka's `GroupMetadataManager.consumerGroupHeartbeat` and `CurrentAssignmentBuilder`:
//!
//! * a member joins with epoch 0 and its subscription; any change of membership, subscriptions
//!   or subscribed topics' partition counts bumps the **group epoch**;
//! * when the group epoch is ahead of the **assignment epoch**, the group's assignor (`uniform`
//!   — sticky and balanced — or `range`; the one most members ask for, `uniform` by default)
//!   computes a new **target assignment**;
//! * each member then reconciles toward its target on its own heartbeats: partitions it must
//!   give up are revoked first (state `UNREVOKED_PARTITIONS`, epoch unchanged) and only when the
//!   member reports (in `TopicPartitions`) that it no longer owns them does it move to the new
//!   epoch; a partition joins a member's assignment only once no other member holds it
//!   (`UNRELEASED_PARTITIONS` until then) — incremental, cooperative revocation;
//! * a member that misses `group.consumer.session.timeout.ms` or does not revoke within its
//!   rebalance timeout is removed (fenced).
//!
//! Group records (`ConsumerGroupMetadata`, `MemberMetadata`, `TargetAssignment*`,
//! `CurrentMemberAssignment`) are written to `__consumer_offsets` and replayed at start.
//!
//! Regular-expression subscriptions (`SubscribedTopicRegex`, v1) match every existing topic
//! whose whole name matches (the `regex` crate's syntax, which is RE2's as Kafka's RE2J;
//! internal `__` topics excluded), re-evaluated as topics come and go; an invalid expression is
//! INVALID_REGULAR_EXPRESSION.
//!
//! Not implemented: rack-aware assignment, online migration between a non-empty classic group and a consumer
//! group. Static members (KIP-345 semantics): epoch -2 is a temporary leave that keeps the
//! member's partitions until its session expires; the same `instance_id` rejoining takes them
//! over without a rebalance; a rejoin while the old incarnation is active is
//! UNRELEASED_INSTANCE_ID.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use kafka_protocol::messages::consumer_group_describe_response as cgd;
use kafka_protocol::messages::internal::{
    ConsumerGroupCurrentMemberAssignmentKey, ConsumerGroupCurrentMemberAssignmentValue,
    ConsumerGroupMemberMetadataKey, ConsumerGroupMemberMetadataValue, ConsumerGroupMetadataKey,
    ConsumerGroupMetadataValue, ConsumerGroupTargetAssignmentMemberKey,
    ConsumerGroupTargetAssignmentMemberValue, ConsumerGroupTargetAssignmentMetadataKey,
    ConsumerGroupTargetAssignmentMetadataValue, consumer_group_current_member_assignment_value,
    consumer_group_target_assignment_member_value,
};
use kafka_protocol::{ErrorCode, Uuid};
use tokio::time::{Duration, Instant};

use super::classic::{Ctx, uuid_string};
use super::store::CoordinatorRecord;
use super::{Group, GroupConfig, Kind};
use crate::metadata::Metadata;

/// Server-side assignors, the first is the default (Kafka's `group.consumer.assignors`).
pub(crate) const ASSIGNORS: &[&str] = &["uniform", "range"];

/// The member epoch of a static member that left temporarily (it keeps its assignment until
/// its session expires or its instance rejoins).
const LEAVE_STATIC: i32 = -2;

/// Partitions by topic id.
pub(crate) type Assignment = BTreeMap<Uuid, BTreeSet<i32>>;

/// Reconciliation state of a member (values as Kafka's `MemberState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberState {
    /// Has its target assignment.
    Stable = 0,
    /// Must revoke partitions first.
    UnrevokedPartitions = 1,
    /// Waits for partitions other members still hold.
    UnreleasedPartitions = 2,
}

impl MemberState {
    fn from_i8(v: i8) -> MemberState {
        match v {
            1 => MemberState::UnrevokedPartitions,
            2 => MemberState::UnreleasedPartitions,
            _ => MemberState::Stable,
        }
    }
}

/// One KIP-848 member.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerMember {
    pub(crate) id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) rack_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) topics: Vec<String>,
    pub(crate) regex: Option<String>,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) assignor: Option<String>,
    pub(crate) epoch: i32,
    pub(crate) previous_epoch: i32,
    pub(crate) state: MemberState,
    pub(crate) assigned: Assignment,
    pub(crate) revoking: Assignment,
    /// The member epoch at which each assigned partition was given to it (commits with an
    /// older epoch than the member's are accepted for partitions held since then).
    since: HashMap<(Uuid, i32), i32>,
    session_deadline: Instant,
    revoke_deadline: Option<Instant>,
}

/// A KIP-848 consumer group.
#[derive(Debug)]
pub(crate) struct ConsumerGroup {
    pub(crate) id: String,
    pub(crate) epoch: i32,
    pub(crate) assignment_epoch: i32,
    pub(crate) members: BTreeMap<String, ConsumerMember>,
    pub(crate) target: HashMap<String, Assignment>,
    /// Partition counts of subscribed topics when the target was computed.
    topics_seen: BTreeMap<String, (Uuid, i32)>,
    pub(crate) empty_since_ms: i64,
}

/// A ConsumerGroupHeartbeat request, plus the caller's identity.
#[derive(Debug, Clone)]
pub(crate) struct HeartbeatParams {
    pub(crate) version: i16,
    pub(crate) group_id: String,
    pub(crate) member_id: String,
    pub(crate) member_epoch: i32,
    pub(crate) instance_id: Option<String>,
    pub(crate) rack_id: Option<String>,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) topics: Option<Vec<String>>,
    pub(crate) regex: Option<String>,
    pub(crate) assignor: Option<String>,
    pub(crate) owned: Option<Assignment>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
}

/// What the heartbeat answers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HeartbeatOutcome {
    pub(crate) error: ErrorCode,
    pub(crate) message: Option<String>,
    pub(crate) member_id: Option<String>,
    pub(crate) member_epoch: i32,
    pub(crate) heartbeat_interval_ms: i32,
    pub(crate) assignment: Option<Assignment>,
}

impl HeartbeatOutcome {
    fn error(error: ErrorCode, message: impl Into<String>) -> HeartbeatOutcome {
        HeartbeatOutcome {
            error,
            message: Some(message.into()),
            member_id: None,
            member_epoch: 0,
            heartbeat_interval_ms: 0,
            assignment: None,
        }
    }
}

/// A subscription regex, matching whole topic names; None when invalid.
fn compile_regex(r: &str) -> Option<regex::Regex> {
    regex::Regex::new(&format!("^(?:{r})$")).ok()
}

fn dur(ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn contains(a: &Assignment, t: &Uuid, p: i32) -> bool {
    a.get(t).is_some_and(|s| s.contains(&p))
}

fn count(a: &Assignment) -> usize {
    a.values().map(BTreeSet::len).sum()
}

impl ConsumerGroup {
    fn new(id: &str, now_ms: i64) -> ConsumerGroup {
        ConsumerGroup {
            id: id.to_string(),
            epoch: 0,
            assignment_epoch: 0,
            members: BTreeMap::new(),
            target: HashMap::new(),
            topics_seen: BTreeMap::new(),
            empty_since_ms: now_ms,
        }
    }

    /// Kafka's state name (`Empty`, `Assigning`, `Reconciling`, `Stable`).
    pub(crate) fn state_name(&self) -> &'static str {
        if self.members.is_empty() {
            "Empty"
        } else if self.epoch > self.assignment_epoch {
            "Assigning"
        } else if self
            .members
            .values()
            .any(|m| m.epoch != self.assignment_epoch || m.state != MemberState::Stable)
        {
            "Reconciling"
        } else {
            "Stable"
        }
    }

    /// Every subscribed topic name.
    pub(crate) fn subscribed_topics(&self) -> HashSet<String> {
        self.members
            .values()
            .flat_map(|m| m.topics.iter().cloned())
            .collect()
    }

    fn chosen_assignor(&self) -> &'static str {
        let mut votes: HashMap<&str, usize> = HashMap::new();
        for m in self.members.values() {
            if let Some(a) = &m.assignor {
                *votes.entry(a.as_str()).or_default() += 1;
            }
        }
        let mut best = ASSIGNORS[0];
        let mut n = 0;
        for a in ASSIGNORS {
            let v = votes.get(a).copied().unwrap_or(0);
            if v > n {
                best = a;
                n = v;
            }
        }
        best
    }

    /// Tombstones for the whole group (deletion, conversion).
    pub(crate) fn tombstones(&self) -> Vec<CoordinatorRecord> {
        let mut v = Vec::new();
        for id in self.members.keys() {
            v.extend(member_tombstones(&self.id, id));
        }
        v.push(CoordinatorRecord::TargetMetadata(
            ConsumerGroupTargetAssignmentMetadataKey {
                group_id: self.id.clone(),
            },
            None,
        ));
        v.push(CoordinatorRecord::ConsumerGroup(
            ConsumerGroupMetadataKey {
                group_id: self.id.clone(),
            },
            None,
        ));
        v
    }

    /// OffsetCommit validation for this group: the member's epoch, or an older one for
    /// partitions it has held since that epoch (Kafka 4.2+ accepts those too).
    pub(crate) fn validate_commit(
        &self,
        member_id: &str,
        epoch: i32,
        partitions: &[(Uuid, i32)],
    ) -> Result<(), ErrorCode> {
        if epoch < 0 && self.members.is_empty() {
            return Ok(());
        }
        let Some(m) = self.members.get(member_id) else {
            return Err(ErrorCode::UnknownMemberId);
        };
        if epoch == m.epoch {
            return Ok(());
        }
        let held_since = |t: &Uuid, p: i32| {
            contains(&m.assigned, t, p).then(|| m.since.get(&(*t, p)).copied().unwrap_or(m.epoch))
        };
        if epoch > m.epoch
            || partitions.is_empty()
            || partitions
                .iter()
                .any(|(t, p)| held_since(t, *p).is_none_or(|s| epoch < s))
        {
            return Err(ErrorCode::StaleMemberEpoch);
        }
        Ok(())
    }

    /// OffsetFetch (v9+ with a member) validation.
    pub(crate) fn validate_fetch(&self, member_id: &str, epoch: i32) -> Result<(), ErrorCode> {
        if epoch < 0 && member_id.is_empty() {
            return Ok(());
        }
        let Some(m) = self.members.get(member_id) else {
            return Err(ErrorCode::UnknownMemberId);
        };
        if epoch != m.epoch {
            return Err(ErrorCode::StaleMemberEpoch);
        }
        Ok(())
    }

    /// Arms session timers after a replay.
    pub(crate) fn after_load(&mut self, now: Instant, session_timeout_ms: i32) {
        for m in self.members.values_mut() {
            m.session_deadline = now + dur(session_timeout_ms);
        }
    }

    /// The earliest timer.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.members
            .values()
            .flat_map(|m| [Some(m.session_deadline), m.revoke_deadline])
            .flatten()
            .min()
    }

    /// Expires members (session timeout, revocation timeout).
    pub(crate) fn on_timers(
        &mut self,
        cx: &Ctx,
        _cfg: &GroupConfig,
        _md: &Metadata,
        out: &mut Vec<CoordinatorRecord>,
    ) {
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| {
                m.session_deadline <= cx.now || m.revoke_deadline.is_some_and(|d| d <= cx.now)
            })
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::info!(group = %self.id, member = %id, "consumer group member expired");
            self.remove_member(&id, cx.now_ms, out);
        }
    }

    fn remove_member(&mut self, id: &str, now_ms: i64, out: &mut Vec<CoordinatorRecord>) {
        if self.members.remove(id).is_none() {
            return;
        }
        self.target.remove(id);
        out.extend(member_tombstones(&self.id, id));
        self.bump_epoch(out);
        if self.members.is_empty() {
            self.empty_since_ms = now_ms;
        }
    }

    /// A static member's temporary leave (epoch -2): it keeps its partitions, no rebalance.
    fn leave_static(&mut self, id: &str, out: &mut Vec<CoordinatorRecord>) {
        let Some(m) = self.members.get_mut(id) else {
            return;
        };
        m.previous_epoch = m.epoch;
        m.epoch = LEAVE_STATIC;
        let m = m.clone();
        out.push(self.current_record(&m));
    }

    fn bump_epoch(&mut self, out: &mut Vec<CoordinatorRecord>) {
        self.epoch += 1;
        out.push(CoordinatorRecord::ConsumerGroup(
            ConsumerGroupMetadataKey {
                group_id: self.id.clone(),
            },
            Some(ConsumerGroupMetadataValue {
                epoch: self.epoch,
                ..Default::default()
            }),
        ));
    }

    /// Each member's topics: its names plus the existing topics its regex matches.
    fn resolved_subscriptions(&self, md: &Metadata) -> BTreeMap<String, Vec<String>> {
        let snap = md.snapshot();
        self.members
            .iter()
            .map(|(id, m)| {
                let mut topics: BTreeSet<String> = m.topics.iter().cloned().collect();
                if let Some(re) = m.regex.as_deref().and_then(compile_regex) {
                    topics.extend(
                        snap.by_name
                            .keys()
                            .filter(|t| !t.starts_with("__") && re.is_match(t))
                            .cloned(),
                    );
                }
                (id.clone(), topics.into_iter().collect())
            })
            .collect()
    }

    /// Subscribed topics (names and regex matches) that exist, with id and partition count.
    fn topic_metadata(&self, md: &Metadata) -> BTreeMap<String, (Uuid, i32)> {
        let snap = md.snapshot();
        let all: HashSet<String> = self
            .resolved_subscriptions(md)
            .into_values()
            .flatten()
            .collect();
        all.into_iter()
            .filter_map(|t| {
                let topic = snap.by_name.get(&t)?;
                Some((t, (topic.id, topic.partitions.len() as i32)))
            })
            .collect()
    }

    /// Recomputes the target assignment when the group epoch moved ahead.
    fn maybe_assign(&mut self, md: &Metadata, out: &mut Vec<CoordinatorRecord>) {
        let meta = self.topic_metadata(md);
        if meta != self.topics_seen {
            if !self.topics_seen.is_empty() || self.epoch == self.assignment_epoch {
                self.bump_epoch(out);
            }
            self.topics_seen = meta.clone();
        }
        if self.epoch <= self.assignment_epoch {
            return;
        }
        let subs = self.resolved_subscriptions(md);
        let new = match self.chosen_assignor() {
            "range" => assign_range(&subs, &meta),
            _ => assign_uniform(&subs, &meta, &self.target),
        };
        for (id, a) in &new {
            if self.target.get(id) != Some(a) {
                out.push(target_record(&self.id, id, a));
            }
        }
        self.target = new;
        self.assignment_epoch = self.epoch;
        out.push(CoordinatorRecord::TargetMetadata(
            ConsumerGroupTargetAssignmentMetadataKey {
                group_id: self.id.clone(),
            },
            Some(ConsumerGroupTargetAssignmentMetadataValue {
                assignment_epoch: self.assignment_epoch,
                ..Default::default()
            }),
        ));
        tracing::info!(group = %self.id, epoch = self.epoch, assignor = self.chosen_assignor(), "computed target assignment");
    }

    /// Partitions held (assigned or being revoked) by members other than `except`.
    fn held_by_others(&self, except: &str) -> Assignment {
        let mut held: Assignment = BTreeMap::new();
        for m in self.members.values().filter(|m| m.id != except) {
            for (t, ps) in m.assigned.iter().chain(m.revoking.iter()) {
                held.entry(*t).or_default().extend(ps.iter().copied());
            }
        }
        held
    }

    /// Moves one member toward its target (Kafka's `CurrentAssignmentBuilder`).
    fn reconcile(&mut self, id: &str, owned: Option<&Assignment>, now: Instant) -> bool {
        let target = self.target.get(id).cloned().unwrap_or_default();
        let held = self.held_by_others(id);
        let target_epoch = self.assignment_epoch;
        let Some(m) = self.members.get_mut(id) else {
            return false;
        };
        let before = (m.epoch, m.state, m.assigned.clone(), m.revoking.clone());
        if m.state == MemberState::UnrevokedPartitions {
            let still_owned = owned.is_none_or(|o| {
                m.revoking
                    .iter()
                    .any(|(t, ps)| ps.iter().any(|p| contains(o, t, *p)))
            });
            if still_owned {
                return false;
            }
            m.revoking.clear();
            m.revoke_deadline = None;
            m.state = MemberState::Stable;
        }
        if m.epoch == target_epoch && m.state == MemberState::Stable {
            return before != (m.epoch, m.state, m.assigned.clone(), m.revoking.clone());
        }
        // Keep what stays, revoke what goes.
        let mut keep: Assignment = BTreeMap::new();
        let mut revoke: Assignment = BTreeMap::new();
        for (t, ps) in &m.assigned {
            for p in ps {
                if contains(&target, t, *p) {
                    keep.entry(*t).or_default().insert(*p);
                } else {
                    revoke.entry(*t).or_default().insert(*p);
                }
            }
        }
        if !revoke.is_empty() {
            m.assigned = keep;
            m.revoking = revoke;
            m.state = MemberState::UnrevokedPartitions;
            m.revoke_deadline = Some(now + dur(m.rebalance_timeout_ms.max(1)));
        } else {
            let mut unreleased = false;
            let mut assigned = keep;
            for (t, ps) in &target {
                for p in ps {
                    if contains(&assigned, t, *p) {
                        continue;
                    }
                    if contains(&held, t, *p) {
                        unreleased = true;
                    } else {
                        assigned.entry(*t).or_default().insert(*p);
                    }
                }
            }
            m.assigned = assigned;
            if m.epoch != target_epoch {
                m.previous_epoch = m.epoch;
                m.epoch = target_epoch;
            }
            m.state = if unreleased {
                MemberState::UnreleasedPartitions
            } else {
                MemberState::Stable
            };
        }
        let e = m.epoch;
        let assigned = m.assigned.clone();
        m.since.retain(|(t, p), _| contains(&assigned, t, *p));
        for (t, ps) in &assigned {
            for p in ps {
                m.since.entry((*t, *p)).or_insert(e);
            }
        }
        before != (m.epoch, m.state, m.assigned.clone(), m.revoking.clone())
    }

    /// ConsumerGroupDescribe.
    pub(crate) fn describe(&self, md: &Metadata) -> cgd::DescribedGroup {
        let snap = md.snapshot();
        let conv = |a: &Assignment| cgd::Assignment {
            topic_partitions: a
                .iter()
                .map(|(t, ps)| cgd::TopicPartitions {
                    topic_id: *t,
                    topic_name: snap
                        .by_id
                        .get(t)
                        .map(|x| x.name.clone())
                        .unwrap_or_default(),
                    partitions: ps.iter().copied().collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        cgd::DescribedGroup {
            group_id: self.id.clone(),
            group_state: self.state_name().to_string(),
            group_epoch: self.epoch,
            assignment_epoch: self.assignment_epoch,
            assignor_name: self.chosen_assignor().to_string(),
            members: self
                .members
                .values()
                .map(|m| cgd::Member {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    rack_id: m.rack_id.clone(),
                    member_epoch: m.epoch,
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    subscribed_topic_names: m.topics.clone(),
                    subscribed_topic_regex: m.regex.clone(),
                    assignment: conv(&m.assigned),
                    target_assignment: conv(&self.target.get(&m.id).cloned().unwrap_or_default()),
                    member_type: 1,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn member_record(&self, m: &ConsumerMember) -> CoordinatorRecord {
        CoordinatorRecord::ConsumerMember(
            ConsumerGroupMemberMetadataKey {
                group_id: self.id.clone(),
                member_id: m.id.clone(),
            },
            Some(ConsumerGroupMemberMetadataValue {
                instance_id: m.instance_id.clone(),
                rack_id: m.rack_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                subscribed_topic_names: m.topics.clone(),
                subscribed_topic_regex: m.regex.clone(),
                rebalance_timeout_ms: m.rebalance_timeout_ms,
                server_assignor: m.assignor.clone(),
                ..Default::default()
            }),
        )
    }

    fn current_record(&self, m: &ConsumerMember) -> CoordinatorRecord {
        use consumer_group_current_member_assignment_value::TopicPartitions as Tp;
        let conv = |a: &Assignment| -> Vec<Tp> {
            a.iter()
                .map(|(t, ps)| Tp {
                    topic_id: *t,
                    partitions: ps.iter().copied().collect(),
                    ..Default::default()
                })
                .collect()
        };
        CoordinatorRecord::CurrentMember(
            ConsumerGroupCurrentMemberAssignmentKey {
                group_id: self.id.clone(),
                member_id: m.id.clone(),
            },
            Some(ConsumerGroupCurrentMemberAssignmentValue {
                member_epoch: m.epoch,
                previous_member_epoch: m.previous_epoch,
                state: m.state as i8,
                assigned_partitions: conv(&m.assigned),
                partitions_pending_revocation: conv(&m.revoking),
                ..Default::default()
            }),
        )
    }
}

fn member_tombstones(group: &str, member: &str) -> Vec<CoordinatorRecord> {
    vec![
        CoordinatorRecord::CurrentMember(
            ConsumerGroupCurrentMemberAssignmentKey {
                group_id: group.to_string(),
                member_id: member.to_string(),
            },
            None,
        ),
        CoordinatorRecord::TargetMember(
            ConsumerGroupTargetAssignmentMemberKey {
                group_id: group.to_string(),
                member_id: member.to_string(),
            },
            None,
        ),
        CoordinatorRecord::ConsumerMember(
            ConsumerGroupMemberMetadataKey {
                group_id: group.to_string(),
                member_id: member.to_string(),
            },
            None,
        ),
    ]
}

fn target_record(group: &str, member: &str, a: &Assignment) -> CoordinatorRecord {
    use consumer_group_target_assignment_member_value::TopicPartition;
    CoordinatorRecord::TargetMember(
        ConsumerGroupTargetAssignmentMemberKey {
            group_id: group.to_string(),
            member_id: member.to_string(),
        },
        Some(ConsumerGroupTargetAssignmentMemberValue {
            topic_partitions: a
                .iter()
                .map(|(t, ps)| TopicPartition {
                    topic_id: *t,
                    partitions: ps.iter().copied().collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
    )
}

/// The `range` assignor: per topic, members subscribed to it (by member id) get consecutive
/// ranges, the first `partitions % members` one extra.
pub(crate) fn assign_range(
    subs: &BTreeMap<String, Vec<String>>,
    meta: &BTreeMap<String, (Uuid, i32)>,
) -> HashMap<String, Assignment> {
    let mut out: HashMap<String, Assignment> =
        subs.keys().map(|m| (m.clone(), BTreeMap::new())).collect();
    for (topic, (id, n)) in meta {
        let members: Vec<&String> = subs
            .iter()
            .filter(|(_, ts)| ts.contains(topic))
            .map(|(m, _)| m)
            .collect();
        if members.is_empty() {
            continue;
        }
        let n = usize::try_from(*n).unwrap_or(0);
        let per = n / members.len();
        let extra = n % members.len();
        let mut next = 0usize;
        for (i, m) in members.iter().enumerate() {
            let take = per + usize::from(i < extra);
            let set = out.entry((*m).clone()).or_default().entry(*id).or_default();
            for p in next..next + take {
                set.insert(p as i32);
            }
            next += take;
        }
    }
    for a in out.values_mut() {
        a.retain(|_, ps| !ps.is_empty());
    }
    out
}

/// The `uniform` assignor: balanced (counts differ by at most one among members with the
/// same subscription) and sticky (a partition stays with its current owner when that keeps
/// the balance).
pub(crate) fn assign_uniform(
    subs: &BTreeMap<String, Vec<String>>,
    meta: &BTreeMap<String, (Uuid, i32)>,
    current: &HashMap<String, Assignment>,
) -> HashMap<String, Assignment> {
    let name_of: HashMap<Uuid, &String> = meta.iter().map(|(n, (id, _))| (*id, n)).collect();
    // Every (topic, partition) to place, in a stable order.
    let mut all: Vec<(Uuid, i32, &String)> = Vec::new();
    for (name, (id, n)) in meta {
        if subs.values().any(|ts| ts.contains(name)) {
            for p in 0..*n {
                all.push((*id, p, name));
            }
        }
    }
    let members: Vec<&String> = subs.keys().collect();
    let total = all.len();
    let quota_floor = if members.is_empty() {
        0
    } else {
        total / members.len()
    };
    let mut extra = if members.is_empty() {
        0
    } else {
        total % members.len()
    };
    let mut out: HashMap<String, Assignment> =
        subs.keys().map(|m| (m.clone(), BTreeMap::new())).collect();
    let mut placed: HashSet<(Uuid, i32)> = HashSet::new();
    // Sticky pass: keep current valid partitions up to the quota.
    for m in &members {
        let Some(cur) = current.get(*m) else { continue };
        let subscribed = subs.get(*m).cloned().unwrap_or_default();
        let mut kept = 0usize;
        let mut limit = quota_floor;
        if extra > 0 && count(cur) > quota_floor {
            limit += 1;
            extra -= 1;
        }
        for (t, ps) in cur {
            let Some(name) = name_of.get(t) else { continue };
            if !subscribed.contains(name) {
                continue;
            }
            let n = meta.get(*name).map_or(0, |(_, n)| *n);
            for p in ps {
                if *p < n && kept < limit && placed.insert((*t, *p)) {
                    out.entry((*m).clone())
                        .or_default()
                        .entry(*t)
                        .or_default()
                        .insert(*p);
                    kept += 1;
                }
            }
        }
    }
    // Place the rest on the subscribed member with the fewest partitions.
    for (t, p, name) in all {
        if placed.contains(&(t, p)) {
            continue;
        }
        let best = members
            .iter()
            .filter(|m| subs.get(**m).is_some_and(|ts| ts.contains(name)))
            .min_by_key(|m| (out.get(**m).map_or(0, count), (**m).clone()));
        if let Some(m) = best {
            out.entry((*m).clone())
                .or_default()
                .entry(t)
                .or_default()
                .insert(p);
            placed.insert((t, p));
        }
    }
    out
}

/// ConsumerGroupHeartbeat over the coordinator's groups.
pub(crate) fn heartbeat(
    groups: &mut HashMap<String, Group>,
    cx: &Ctx,
    cfg: &GroupConfig,
    md: &Metadata,
    p: HeartbeatParams,
    out: &mut Vec<CoordinatorRecord>,
) -> HeartbeatOutcome {
    use ErrorCode as E;
    if p.group_id.is_empty() {
        return HeartbeatOutcome::error(E::InvalidRequest, "GroupId can't be empty.");
    }
    if p.member_epoch == 0 {
        if p.rebalance_timeout_ms == -1 {
            return HeartbeatOutcome::error(
                E::InvalidRequest,
                "RebalanceTimeoutMs must be provided in first request.",
            );
        }
        if p.owned.as_ref().is_none_or(|o| !o.is_empty()) {
            return HeartbeatOutcome::error(
                E::InvalidRequest,
                "TopicPartitions must be empty when (re-)joining.",
            );
        }
        if p.topics.is_none() && p.regex.is_none() {
            return HeartbeatOutcome::error(
                E::InvalidRequest,
                "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.",
            );
        }
    } else if p.member_id.is_empty() {
        return HeartbeatOutcome::error(E::InvalidRequest, "MemberId can't be empty.");
    }
    if p.version >= 1 && p.member_id.is_empty() {
        return HeartbeatOutcome::error(E::InvalidRequest, "MemberId can't be empty.");
    }
    if let Some(a) = &p.assignor
        && !ASSIGNORS.contains(&a.as_str())
    {
        return HeartbeatOutcome::error(
            E::UnsupportedAssignor,
            format!("ServerAssignor {a} is not supported. Supported assignors: uniform, range."),
        );
    }
    if let Some(r) = p.regex.as_deref().filter(|r| !r.is_empty())
        && compile_regex(r).is_none()
    {
        return HeartbeatOutcome::error(
            E::InvalidRegularExpression,
            format!("SubscribedTopicRegex `{r}` is not a valid regular expression."),
        );
    }
    // The group, created or converted on a join.
    let exists = groups.contains_key(&p.group_id);
    if !exists {
        if p.member_epoch != 0 {
            return HeartbeatOutcome::error(
                E::GroupIdNotFound,
                format!("Group {} not found.", p.group_id),
            );
        }
        groups.insert(
            p.group_id.clone(),
            Group {
                kind: Kind::Consumer(ConsumerGroup::new(&p.group_id, cx.now_ms)),
                offsets: BTreeMap::new(),
            },
        );
    }
    let Some(g) = groups.get_mut(&p.group_id) else {
        return HeartbeatOutcome::error(E::UnknownServerError, "group vanished");
    };
    if let Kind::Classic(c) = &g.kind {
        if c.state != super::classic::ClassicState::Empty || p.member_epoch != 0 {
            return HeartbeatOutcome::error(
                E::GroupIdNotFound,
                format!("Group {} is not a consumer group.", p.group_id),
            );
        }
        // An empty classic (or simple) group becomes a consumer group; offsets stay.
        if c.protocol_type.is_some() {
            out.push(CoordinatorRecord::Group(
                kafka_protocol::messages::internal::GroupMetadataKey {
                    group: p.group_id.clone(),
                },
                None,
            ));
        }
        g.kind = Kind::Consumer(ConsumerGroup::new(&p.group_id, cx.now_ms));
    }
    let Kind::Consumer(cg) = &mut g.kind else {
        return HeartbeatOutcome::error(E::UnknownServerError, "not a consumer group");
    };
    let interval = cfg.consumer_heartbeat_interval_ms;
    // Leaving.
    if p.member_epoch < 0 {
        if !cg.members.contains_key(&p.member_id) {
            let by_instance = p
                .instance_id
                .as_ref()
                .and_then(|i| {
                    cg.members
                        .values()
                        .find(|m| m.instance_id.as_ref() == Some(i))
                })
                .map(|m| m.id.clone());
            match by_instance {
                Some(id) if p.member_epoch == LEAVE_STATIC => cg.leave_static(&id, out),
                Some(id) => cg.remove_member(&id, cx.now_ms, out),
                None => {
                    return HeartbeatOutcome::error(
                        E::UnknownMemberId,
                        format!(
                            "Member {} is not a member of group {}.",
                            p.member_id, p.group_id
                        ),
                    );
                }
            }
        } else if p.member_epoch == LEAVE_STATIC
            && cg
                .members
                .get(&p.member_id)
                .is_some_and(|m| m.instance_id.is_some())
        {
            cg.leave_static(&p.member_id, out);
        } else {
            cg.remove_member(&p.member_id, cx.now_ms, out);
        }
        tracing::info!(group = %p.group_id, member = %p.member_id, epoch = p.member_epoch, "consumer group member left");
        return HeartbeatOutcome {
            error: E::None,
            message: None,
            member_id: Some(p.member_id),
            member_epoch: p.member_epoch,
            heartbeat_interval_ms: 0,
            assignment: None,
        };
    }
    let member_id = if p.member_id.is_empty() {
        uuid_string()
    } else {
        p.member_id.clone()
    };
    let mut joined = false;
    match cg.members.get(&member_id) {
        None => {
            if p.member_epoch != 0 {
                return HeartbeatOutcome::error(
                    E::UnknownMemberId,
                    format!(
                        "Member {member_id} is not a member of group {}.",
                        p.group_id
                    ),
                );
            }
            if cg.members.len() >= cfg.consumer_max_size {
                return HeartbeatOutcome::error(
                    E::GroupMaxSizeReached,
                    format!(
                        "The consumer group has reached its maximum capacity of {} members.",
                        cfg.consumer_max_size
                    ),
                );
            }
            // A static member replacing its previous incarnation.
            if let Some(i) = &p.instance_id {
                let old = cg
                    .members
                    .values()
                    .find(|m| m.instance_id.as_ref() == Some(i))
                    .map(|m| (m.id.clone(), m.epoch));
                if let Some((_, epoch)) = &old
                    && *epoch != LEAVE_STATIC
                {
                    return HeartbeatOutcome::error(
                        E::UnreleasedInstanceId,
                        format!("Static member with instance id {i} is still in use."),
                    );
                }
                if let Some((old, _)) = old
                    && let Some(mut m) = cg.members.remove(&old)
                {
                    out.extend(member_tombstones(&cg.id, &old));
                    let t = cg.target.remove(&old);
                    m.id = member_id.clone();
                    m.epoch = 0;
                    m.previous_epoch = 0;
                    if let Some(t) = t {
                        out.push(target_record(&cg.id, &member_id, &t));
                        cg.target.insert(member_id.clone(), t);
                    }
                    cg.members.insert(member_id.clone(), m);
                }
            }
            if !cg.members.contains_key(&member_id) {
                cg.members.insert(
                    member_id.clone(),
                    ConsumerMember {
                        id: member_id.clone(),
                        instance_id: p.instance_id.clone(),
                        rack_id: p.rack_id.clone(),
                        client_id: p.client_id.clone(),
                        client_host: p.client_host.clone(),
                        topics: Vec::new(),
                        regex: None,
                        rebalance_timeout_ms: p.rebalance_timeout_ms,
                        assignor: None,
                        epoch: 0,
                        previous_epoch: 0,
                        state: MemberState::Stable,
                        assigned: BTreeMap::new(),
                        revoking: BTreeMap::new(),
                        since: HashMap::new(),
                        session_deadline: cx.now,
                        revoke_deadline: None,
                    },
                );
            }
            joined = true;
        }
        Some(m) => {
            if p.member_epoch == 0 {
                // A rejoin: the member lost its partitions.
                if (m.previous_epoch != 0 || m.epoch != 0)
                    && let Some(m) = cg.members.get_mut(&member_id)
                {
                    m.epoch = 0;
                    m.previous_epoch = 0;
                    m.assigned.clear();
                    m.revoking.clear();
                    m.state = MemberState::Stable;
                    m.revoke_deadline = None;
                }
                joined = true;
            } else if p.member_epoch > m.epoch {
                return HeartbeatOutcome::error(
                    E::FencedMemberEpoch,
                    format!(
                        "The consumer group member has a greater member epoch ({}) than the one known by the group coordinator ({}).",
                        p.member_epoch, m.epoch
                    ),
                );
            } else if p.member_epoch < m.epoch {
                let owned_ok = p.owned.as_ref().is_none_or(|o| {
                    o.iter()
                        .all(|(t, ps)| ps.iter().all(|x| contains(&m.assigned, t, *x)))
                });
                if p.member_epoch != m.previous_epoch || !owned_ok {
                    return HeartbeatOutcome::error(
                        E::FencedMemberEpoch,
                        format!(
                            "The consumer group member has a smaller member epoch ({}) than the one known by the group coordinator ({}).",
                            p.member_epoch, m.epoch
                        ),
                    );
                }
            }
        }
    }
    // Update the subscription.
    let Some(m) = cg.members.get_mut(&member_id) else {
        return HeartbeatOutcome::error(E::UnknownServerError, "member vanished");
    };
    m.session_deadline = cx.now + dur(cfg.consumer_session_timeout_ms);
    let mut changed = joined && m.epoch == 0 && m.topics.is_empty() && m.regex.is_none();
    if let Some(ts) = &p.topics {
        let mut ts = ts.clone();
        ts.sort();
        ts.dedup();
        if ts != m.topics {
            m.topics = ts;
            changed = true;
        }
    }
    let regex = p.regex.clone().filter(|r| !r.is_empty());
    if p.regex.is_some() && regex != m.regex {
        // An empty expression clears the regex subscription.
        m.regex = regex;
        changed = true;
    }
    if p.assignor.is_some() && p.assignor != m.assignor {
        m.assignor = p.assignor.clone();
        changed = true;
    }
    if p.rebalance_timeout_ms > 0 {
        m.rebalance_timeout_ms = p.rebalance_timeout_ms;
    }
    if p.rack_id.is_some() {
        m.rack_id = p.rack_id.clone();
    }
    let snapshot = m.clone();
    if changed {
        out.push(cg.member_record(&snapshot));
        cg.bump_epoch(out);
    }
    cg.maybe_assign(md, out);
    let assigned_before = cg.members.get(&member_id).map(|m| m.assigned.clone());
    let moved = cg.reconcile(&member_id, p.owned.as_ref(), cx.now);
    let Some(m) = cg.members.get(&member_id) else {
        return HeartbeatOutcome::error(E::UnknownServerError, "member vanished");
    };
    if moved || joined {
        out.push(cg.current_record(m));
    }
    let send_assignment = joined
        || assigned_before.as_ref() != Some(&m.assigned)
        || p.owned.as_ref().is_some_and(|o| {
            let mut o = o.clone();
            o.retain(|_, ps| !ps.is_empty());
            o != m.assigned
        });
    HeartbeatOutcome {
        error: E::None,
        message: None,
        member_id: Some(member_id),
        member_epoch: m.epoch,
        heartbeat_interval_ms: interval,
        assignment: send_assignment.then(|| m.assigned.clone()),
    }
}

/// Applies a KIP-848 record read back from the log.
pub(crate) fn replay(groups: &mut HashMap<String, Group>, id: &str, r: CoordinatorRecord) {
    let get = |groups: &mut HashMap<String, Group>| {
        let g = groups.entry(id.to_string()).or_insert_with(|| Group {
            kind: Kind::Consumer(ConsumerGroup::new(id, 0)),
            offsets: BTreeMap::new(),
        });
        if matches!(g.kind, Kind::Classic(_)) {
            g.kind = Kind::Consumer(ConsumerGroup::new(id, 0));
        }
    };
    let now = Instant::now();
    let new_member = |mid: &str| ConsumerMember {
        id: mid.to_string(),
        instance_id: None,
        rack_id: None,
        client_id: String::new(),
        client_host: String::new(),
        topics: Vec::new(),
        regex: None,
        rebalance_timeout_ms: 300_000,
        assignor: None,
        epoch: 0,
        previous_epoch: 0,
        state: MemberState::Stable,
        assigned: BTreeMap::new(),
        revoking: BTreeMap::new(),
        since: HashMap::new(),
        session_deadline: now,
        revoke_deadline: None,
    };
    match r {
        CoordinatorRecord::ConsumerGroup(_, v) => match v {
            Some(v) => {
                get(groups);
                if let Some(Group {
                    kind: Kind::Consumer(c),
                    ..
                }) = groups.get_mut(id)
                {
                    c.epoch = v.epoch;
                }
            }
            None => {
                if let Some(g) = groups.remove(id)
                    && !g.offsets.is_empty()
                {
                    groups.insert(
                        id.to_string(),
                        Group {
                            kind: Kind::Classic(super::classic::ClassicGroup::new(id, 0)),
                            offsets: g.offsets,
                        },
                    );
                }
            }
        },
        other => {
            get(groups);
            let Some(Group {
                kind: Kind::Consumer(c),
                ..
            }) = groups.get_mut(id)
            else {
                return;
            };
            match other {
                CoordinatorRecord::ConsumerMember(k, v) => match v {
                    Some(v) => {
                        let m = c
                            .members
                            .entry(k.member_id.clone())
                            .or_insert_with(|| new_member(&k.member_id));
                        m.instance_id = v.instance_id;
                        m.rack_id = v.rack_id;
                        m.client_id = v.client_id;
                        m.client_host = v.client_host;
                        m.topics = v.subscribed_topic_names;
                        m.regex = v.subscribed_topic_regex;
                        m.rebalance_timeout_ms = v.rebalance_timeout_ms;
                        m.assignor = v.server_assignor;
                    }
                    None => {
                        c.members.remove(&k.member_id);
                    }
                },
                CoordinatorRecord::TargetMetadata(_, Some(v)) => {
                    c.assignment_epoch = v.assignment_epoch;
                }
                CoordinatorRecord::TargetMember(k, v) => match v {
                    Some(v) => {
                        let a = v
                            .topic_partitions
                            .into_iter()
                            .map(|tp| (tp.topic_id, tp.partitions.into_iter().collect()))
                            .collect();
                        c.target.insert(k.member_id, a);
                    }
                    None => {
                        c.target.remove(&k.member_id);
                    }
                },
                CoordinatorRecord::CurrentMember(k, Some(v)) => {
                    let m = c
                        .members
                        .entry(k.member_id.clone())
                        .or_insert_with(|| new_member(&k.member_id));
                    m.epoch = v.member_epoch;
                    m.previous_epoch = v.previous_member_epoch;
                    m.state = MemberState::from_i8(v.state);
                    m.assigned = v
                        .assigned_partitions
                        .into_iter()
                        .map(|tp| (tp.topic_id, tp.partitions.into_iter().collect()))
                        .collect();
                    m.revoking = v
                        .partitions_pending_revocation
                        .into_iter()
                        .map(|tp| (tp.topic_id, tp.partitions.into_iter().collect()))
                        .collect();
                }
                _ => {}
            }
        }
    }
}
