//! The classic group protocol (JoinGroup/SyncGroup/Heartbeat/LeaveGroup): one group's state
//! machine, as Apache Kafka's `ClassicGroup` and the classic half of `GroupMetadataManager`.
//!
//! ```text
//!            join                   all joined / timeout            leader's SyncGroup
//!  Empty ───────────► PreparingRebalance ──────────► CompletingRebalance ──────────► Stable
//!    ▲                  ▲  │ (no member left)              │ join/leave/expiry          │
//!    └──────────────────┼──┘                               ▼                            │
//!                       └──────────────────────────────────┴────────────────────────────┘
//! ```
//!
//! Everything here is synchronous: operations run under the coordinator's lock, push the
//! records to persist into `out`, and answer at once ([`Reply::Now`]) or later through a
//! oneshot ([`Reply::Later`]) completed by another member's request or a timer.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::internal::group_metadata_value::MemberMetadata;
use kafka_protocol::messages::internal::{GroupMetadataKey, GroupMetadataValue};
use tokio::sync::oneshot;
use tokio::time::{Duration, Instant};

use super::store::CoordinatorRecord;

/// A classic group's state (names as Kafka prints them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClassicState {
    /// No members (offsets may exist).
    Empty,
    /// Waiting for members to (re)join.
    PreparingRebalance,
    /// Joined; waiting for the leader's assignment.
    CompletingRebalance,
    /// Assignment distributed.
    Stable,
    /// Deleted.
    Dead,
}

impl ClassicState {
    /// Kafka's name of the state.
    pub(crate) fn name(self) -> &'static str {
        match self {
            ClassicState::Empty => "Empty",
            ClassicState::PreparingRebalance => "PreparingRebalance",
            ClassicState::CompletingRebalance => "CompletingRebalance",
            ClassicState::Stable => "Stable",
            ClassicState::Dead => "Dead",
        }
    }
}

/// Settings and clock for one operation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx {
    /// `group.initial.rebalance.delay.ms`.
    pub(crate) initial_delay_ms: u64,
    /// `group.max.size`.
    pub(crate) max_size: usize,
    /// Monotonic now (timers).
    pub(crate) now: Instant,
    /// Wall-clock now, ms (persisted timestamps).
    pub(crate) now_ms: i64,
}

/// An answer now or later.
#[derive(Debug)]
pub(crate) enum Reply<T> {
    /// Answer at once.
    Now(T),
    /// Answer when the group completes this phase.
    Later(oneshot::Receiver<T>),
}

/// A member as listed to the leader in a JoinGroup response.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JoinedMember {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) metadata: Bytes,
}

/// The content of a JoinGroup response.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JoinOutcome {
    pub(crate) error: ErrorCode,
    pub(crate) member_id: String,
    pub(crate) generation_id: i32,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) leader: String,
    pub(crate) skip_assignment: bool,
    pub(crate) members: Vec<JoinedMember>,
}

impl JoinOutcome {
    /// An error answer.
    pub(crate) fn error(error: ErrorCode, member_id: &str) -> JoinOutcome {
        JoinOutcome {
            error,
            member_id: member_id.to_string(),
            generation_id: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            skip_assignment: false,
            members: Vec::new(),
        }
    }
}

/// The content of a SyncGroup response.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyncOutcome {
    pub(crate) error: ErrorCode,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) assignment: Bytes,
}

impl SyncOutcome {
    fn error(error: ErrorCode) -> SyncOutcome {
        SyncOutcome {
            error,
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// A JoinGroup request, version-normalised.
#[derive(Debug, Clone)]
pub(crate) struct JoinParams {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) protocol_type: String,
    pub(crate) protocols: Vec<(String, Bytes)>,
    pub(crate) session_timeout_ms: i32,
    pub(crate) rebalance_timeout_ms: i32,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    /// v4+: a new dynamic member first gets MEMBER_ID_REQUIRED (KIP-394).
    pub(crate) require_known_member_id: bool,
}

/// One member of a classic group.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) session_timeout_ms: i32,
    pub(crate) rebalance_timeout_ms: i32,
    /// Supported protocols in preference order, with their metadata.
    pub(crate) protocols: Vec<(String, Bytes)>,
    pub(crate) assignment: Bytes,
    join_tx: Option<oneshot::Sender<JoinOutcome>>,
    sync_tx: Option<oneshot::Sender<SyncOutcome>>,
    pub(crate) heartbeat_deadline: Instant,
}

impl Member {
    /// The metadata the member sent for `protocol`.
    pub(crate) fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    fn awaiting_join(&self) -> bool {
        self.join_tx.is_some()
    }

    fn awaiting_sync(&self) -> bool {
        self.sync_tx.is_some()
    }

    fn supports(&self, protocol: &str) -> bool {
        self.protocols.iter().any(|(n, _)| n == protocol)
    }

    fn refresh(&mut self, now: Instant) {
        self.heartbeat_deadline = now + ms(self.session_timeout_ms);
    }
}

fn ms(v: i32) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

/// One classic group.
#[derive(Debug)]
pub(crate) struct ClassicGroup {
    pub(crate) id: String,
    pub(crate) state: ClassicState,
    prev_state: ClassicState,
    pub(crate) state_ts_ms: i64,
    pub(crate) protocol_type: Option<String>,
    pub(crate) protocol_name: Option<String>,
    pub(crate) generation: i32,
    pub(crate) leader: Option<String>,
    /// In join order (the first one becomes leader).
    pub(crate) members: Vec<Member>,
    /// KIP-394: member ids handed out with MEMBER_ID_REQUIRED, not joined yet.
    pending: HashMap<String, Instant>,
    /// `group.instance.id` -> member id.
    statics: HashMap<String, String>,
    /// Members that got their JoinGroup answer but have not sent SyncGroup yet.
    pending_sync: HashSet<String>,
    join_deadline: Option<Instant>,
    /// Initial-rebalance delay in progress: (delay ms, remaining ms).
    initial: Option<(u64, u64)>,
    new_member_added: bool,
    sync_deadline: Option<Instant>,
}

impl ClassicGroup {
    /// A new empty group (also a "simple" group that only stores offsets).
    pub(crate) fn new(id: &str, now_ms: i64) -> ClassicGroup {
        ClassicGroup {
            id: id.to_string(),
            state: ClassicState::Empty,
            prev_state: ClassicState::Empty,
            state_ts_ms: now_ms,
            protocol_type: None,
            protocol_name: None,
            generation: 0,
            leader: None,
            members: Vec::new(),
            pending: HashMap::new(),
            statics: HashMap::new(),
            pending_sync: HashSet::new(),
            join_deadline: None,
            initial: None,
            new_member_added: false,
            sync_deadline: None,
        }
    }

    /// Rebuilds a group from its last metadata record (Stable with members, else Empty).
    pub(crate) fn from_record(id: &str, v: &GroupMetadataValue, now: Instant) -> ClassicGroup {
        let mut g = ClassicGroup::new(id, v.current_state_timestamp);
        g.protocol_type = Some(v.protocol_type.clone()).filter(|p| !p.is_empty());
        g.protocol_name = v.protocol.clone();
        g.generation = v.generation;
        g.leader = v.leader.clone();
        for m in &v.members {
            let protocol = v.protocol.clone().unwrap_or_default();
            let mut member = Member {
                id: m.member_id.clone(),
                instance_id: m.group_instance_id.clone(),
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                session_timeout_ms: m.session_timeout,
                rebalance_timeout_ms: m.rebalance_timeout,
                protocols: vec![(protocol, m.subscription.clone())],
                assignment: m.assignment.clone(),
                join_tx: None,
                sync_tx: None,
                heartbeat_deadline: now,
            };
            member.refresh(now);
            if let Some(i) = &m.group_instance_id {
                g.statics.insert(i.clone(), m.member_id.clone());
            }
            g.members.push(member);
        }
        if !g.members.is_empty() {
            g.state = ClassicState::Stable;
            if g.leader.is_none() {
                g.leader = g.members.first().map(|m| m.id.clone());
            }
        }
        g
    }

    /// The group metadata record of the current state.
    pub(crate) fn metadata_record(&self) -> CoordinatorRecord {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        CoordinatorRecord::Group(
            GroupMetadataKey {
                group: self.id.clone(),
            },
            Some(GroupMetadataValue {
                protocol_type: self.protocol_type.clone().unwrap_or_default(),
                generation: self.generation,
                protocol: self.protocol_name.clone(),
                leader: self.leader.clone(),
                current_state_timestamp: self.state_ts_ms,
                members: self
                    .members
                    .iter()
                    .map(|m| MemberMetadata {
                        member_id: m.id.clone(),
                        group_instance_id: m.instance_id.clone(),
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        rebalance_timeout: m.rebalance_timeout_ms,
                        session_timeout: m.session_timeout_ms,
                        subscription: m.metadata(&protocol),
                        assignment: m.assignment.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
        )
    }

    fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }

    /// Whether member ids handed out with MEMBER_ID_REQUIRED are still expected.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Whether `id` is a current member.
    pub(crate) fn has_member(&self, id: &str) -> bool {
        self.member(id).is_some()
    }

    fn is_leader(&self, id: &str) -> bool {
        self.leader.as_deref() == Some(id)
    }

    fn transition(&mut self, to: ClassicState, now_ms: i64) {
        self.prev_state = self.state;
        self.state = to;
        self.state_ts_ms = now_ms;
    }

    fn rebalance_timeout(&self) -> Duration {
        ms(self
            .members
            .iter()
            .map(|m| m.rebalance_timeout_ms)
            .max()
            .unwrap_or(0))
    }

    fn has_all_members_joined(&self) -> bool {
        self.members.iter().all(Member::awaiting_join) && self.pending.is_empty()
    }

    fn num_awaiting_join(&self) -> usize {
        self.members.iter().filter(|m| m.awaiting_join()).count()
    }

    /// Kafka's `supportsProtocols`.
    fn supports_protocols(&self, protocol_type: &str, protocols: &[(String, Bytes)]) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        if self.members.is_empty() {
            return true;
        }
        self.protocol_type.as_deref() == Some(protocol_type)
            && protocols
                .iter()
                .any(|(p, _)| self.members.iter().all(|m| m.supports(p)))
    }

    /// The protocol most members prefer among those every member supports.
    fn select_protocol(&self) -> Option<String> {
        let first = self.members.first()?;
        let candidates: Vec<&String> = first
            .protocols
            .iter()
            .map(|(n, _)| n)
            .filter(|p| self.members.iter().all(|m| m.supports(p)))
            .collect();
        let mut votes: HashMap<&String, usize> = HashMap::new();
        for m in &self.members {
            if let Some((n, _)) = m.protocols.iter().find(|(n, _)| candidates.contains(&n)) {
                *votes.entry(n).or_default() += 1;
            }
        }
        let mut best: Option<(&String, usize)> = None;
        for c in candidates {
            let v = votes.get(c).copied().unwrap_or(0);
            if best.is_none_or(|(_, b)| v > b) {
                best = Some((c, v));
            }
        }
        best.map(|(c, _)| c.clone())
    }

    fn accept_joining(&self, member_id: &str, max: usize) -> bool {
        match self.state {
            ClassicState::Empty | ClassicState::Dead => true,
            ClassicState::PreparingRebalance => {
                self.member(member_id).is_some_and(Member::awaiting_join)
                    || self.num_awaiting_join() < max
            }
            _ => self.has_member(member_id) || self.members.len() < max,
        }
    }

    /// Whether the group is past its join phase and waiting for nothing (for fencing).
    fn validate_member(&self, member_id: &str, instance_id: Option<&str>) -> ErrorCode {
        if let Some(i) = instance_id {
            match self.statics.get(i) {
                Some(m) if m != member_id => return ErrorCode::FencedInstanceId,
                Some(_) => {}
                None => return ErrorCode::UnknownMemberId,
            }
        }
        if self.has_member(member_id) {
            ErrorCode::None
        } else {
            ErrorCode::UnknownMemberId
        }
    }

    fn current_join_outcome(&self, member_id: &str) -> JoinOutcome {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let members = if self.is_leader(member_id) {
            self.members
                .iter()
                .map(|m| JoinedMember {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    metadata: m.metadata(&protocol),
                })
                .collect()
        } else {
            Vec::new()
        };
        JoinOutcome {
            error: ErrorCode::None,
            member_id: member_id.to_string(),
            generation_id: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            skip_assignment: false,
            members,
        }
    }

    /// JoinGroup. The caller checked the group id, session timeout and group type.
    pub(crate) fn join(
        &mut self,
        cx: &Ctx,
        p: JoinParams,
        out: &mut Vec<CoordinatorRecord>,
    ) -> Reply<JoinOutcome> {
        let now_err = |e| Reply::Now(JoinOutcome::error(e, &p.member_id));
        if !self.accept_joining(&p.member_id, cx.max_size) {
            return now_err(ErrorCode::GroupMaxSizeReached);
        }
        if self.state == ClassicState::Dead {
            return now_err(ErrorCode::CoordinatorNotAvailable);
        }
        if !self.supports_protocols(&p.protocol_type, &p.protocols) {
            return now_err(ErrorCode::InconsistentGroupProtocol);
        }
        if p.member_id.is_empty() {
            let new_id = format!("{}-{}", p.client_id, uuid_string());
            if let Some(inst) = p.instance_id.clone() {
                if let Some(old) = self.statics.get(&inst).cloned() {
                    return self.rejoin_static(cx, old, new_id, p, out);
                }
                return self.add_member(cx, new_id, p, out);
            }
            if p.require_known_member_id {
                let deadline = cx.now + ms(p.session_timeout_ms);
                self.pending.insert(new_id.clone(), deadline);
                return Reply::Now(JoinOutcome::error(ErrorCode::MemberIdRequired, &new_id));
            }
            return self.add_member(cx, new_id, p, out);
        }
        if self.pending.remove(&p.member_id).is_some() {
            let id = p.member_id.clone();
            return self.add_member(cx, id, p, out);
        }
        let e = self.validate_member(&p.member_id, p.instance_id.as_deref());
        if e != ErrorCode::None {
            return now_err(e);
        }
        let Some(member) = self.member(&p.member_id) else {
            return now_err(ErrorCode::UnknownMemberId);
        };
        let same = member.protocols == p.protocols;
        match self.state {
            ClassicState::PreparingRebalance => self.update_member(cx, p, out),
            ClassicState::CompletingRebalance => {
                if same {
                    Reply::Now(self.current_join_outcome(&p.member_id))
                } else {
                    self.update_member(cx, p, out)
                }
            }
            ClassicState::Stable => {
                if self.is_leader(&p.member_id) || !same {
                    self.update_member(cx, p, out)
                } else {
                    if let Some(m) = self.member_mut(&p.member_id) {
                        m.refresh(cx.now);
                    }
                    Reply::Now(self.current_join_outcome(&p.member_id))
                }
            }
            ClassicState::Empty | ClassicState::Dead => now_err(ErrorCode::UnknownMemberId),
        }
    }

    fn add_member(
        &mut self,
        cx: &Ctx,
        id: String,
        p: JoinParams,
        out: &mut Vec<CoordinatorRecord>,
    ) -> Reply<JoinOutcome> {
        let (tx, rx) = oneshot::channel();
        if self.members.is_empty() {
            self.protocol_type = Some(p.protocol_type.clone());
        }
        if let Some(i) = &p.instance_id {
            self.statics.insert(i.clone(), id.clone());
        }
        if self.leader.is_none() {
            self.leader = Some(id.clone());
        }
        let mut m = Member {
            id,
            instance_id: p.instance_id,
            client_id: p.client_id,
            client_host: p.client_host,
            session_timeout_ms: p.session_timeout_ms,
            rebalance_timeout_ms: p.rebalance_timeout_ms,
            protocols: p.protocols,
            assignment: Bytes::new(),
            join_tx: Some(tx),
            sync_tx: None,
            heartbeat_deadline: cx.now,
        };
        m.refresh(cx.now);
        self.members.push(m);
        if self.state == ClassicState::PreparingRebalance && self.generation == 0 {
            self.new_member_added = true;
        }
        self.rebalance_or_complete_join(cx, out);
        Reply::Later(rx)
    }

    fn update_member(
        &mut self,
        cx: &Ctx,
        p: JoinParams,
        out: &mut Vec<CoordinatorRecord>,
    ) -> Reply<JoinOutcome> {
        let (tx, rx) = oneshot::channel();
        let Some(m) = self.member_mut(&p.member_id) else {
            return Reply::Now(JoinOutcome::error(ErrorCode::UnknownMemberId, &p.member_id));
        };
        m.protocols = p.protocols;
        m.session_timeout_ms = p.session_timeout_ms;
        m.rebalance_timeout_ms = p.rebalance_timeout_ms;
        m.refresh(cx.now);
        if let Some(old) = m.join_tx.replace(tx) {
            let _ = old.send(JoinOutcome::error(
                ErrorCode::RebalanceInProgress,
                &p.member_id,
            ));
        }
        self.rebalance_or_complete_join(cx, out);
        Reply::Later(rx)
    }

    /// KIP-345: a static member rejoins with a new member id.
    fn rejoin_static(
        &mut self,
        cx: &Ctx,
        old_id: String,
        new_id: String,
        p: JoinParams,
        out: &mut Vec<CoordinatorRecord>,
    ) -> Reply<JoinOutcome> {
        let Some(m) = self.member_mut(&old_id) else {
            return Reply::Now(JoinOutcome::error(ErrorCode::UnknownMemberId, &p.member_id));
        };
        // The old instance is fenced: its pending answers fail.
        if let Some(tx) = m.join_tx.take() {
            let _ = tx.send(JoinOutcome::error(ErrorCode::FencedInstanceId, &old_id));
        }
        if let Some(tx) = m.sync_tx.take() {
            let _ = tx.send(SyncOutcome::error(ErrorCode::FencedInstanceId));
        }
        let old_protocols = std::mem::replace(&mut m.protocols, p.protocols.clone());
        m.id = new_id.clone();
        m.client_id = p.client_id.clone();
        m.client_host = p.client_host.clone();
        m.session_timeout_ms = p.session_timeout_ms;
        m.rebalance_timeout_ms = p.rebalance_timeout_ms;
        m.refresh(cx.now);
        if let Some(i) = &p.instance_id {
            self.statics.insert(i.clone(), new_id.clone());
        }
        if self.leader.as_deref() == Some(old_id.as_str()) {
            self.leader = Some(new_id.clone());
        }
        if self.pending_sync.remove(&old_id) {
            self.pending_sync.insert(new_id.clone());
        }
        let params = JoinParams {
            member_id: new_id.clone(),
            ..p
        };
        match self.state {
            ClassicState::Stable => {
                if self.select_protocol() == self.protocol_name {
                    out.push(self.metadata_record());
                    let mut o = self.current_join_outcome(&new_id);
                    o.members.clear();
                    if self.is_leader(&new_id) {
                        o = self.current_join_outcome(&new_id);
                        o.skip_assignment = true;
                    }
                    Reply::Now(o)
                } else {
                    if let Some(m) = self.member_mut(&new_id) {
                        m.protocols = old_protocols;
                    }
                    self.update_member(cx, params, out)
                }
            }
            _ => self.update_member(cx, params, out),
        }
    }

    fn rebalance_or_complete_join(&mut self, cx: &Ctx, out: &mut Vec<CoordinatorRecord>) {
        match self.state {
            ClassicState::Stable | ClassicState::CompletingRebalance | ClassicState::Empty => {
                self.prepare_rebalance(cx, out);
            }
            ClassicState::PreparingRebalance => self.maybe_complete_join(cx, out),
            ClassicState::Dead => {}
        }
    }

    fn prepare_rebalance(&mut self, cx: &Ctx, out: &mut Vec<CoordinatorRecord>) {
        if self.state == ClassicState::CompletingRebalance {
            for m in &mut self.members {
                m.assignment = Bytes::new();
                if let Some(tx) = m.sync_tx.take() {
                    let _ = tx.send(SyncOutcome::error(ErrorCode::RebalanceInProgress));
                }
            }
        }
        self.pending_sync.clear();
        self.sync_deadline = None;
        let initial = self.state == ClassicState::Empty;
        self.transition(ClassicState::PreparingRebalance, cx.now_ms);
        tracing::info!(group = %self.id, generation = self.generation, "preparing to rebalance");
        if initial {
            let delay = cx.initial_delay_ms;
            let total = self.rebalance_timeout().as_millis() as u64;
            self.initial = Some((delay, total.saturating_sub(delay)));
            self.join_deadline = Some(cx.now + Duration::from_millis(delay));
        } else {
            self.initial = None;
            self.join_deadline = Some(cx.now + self.rebalance_timeout());
            if self.has_all_members_joined() {
                self.complete_join(cx, out);
            }
        }
    }

    fn maybe_complete_join(&mut self, cx: &Ctx, out: &mut Vec<CoordinatorRecord>) {
        if self.state == ClassicState::PreparingRebalance
            && self.has_all_members_joined()
            && self.prev_state != ClassicState::Empty
        {
            self.complete_join(cx, out);
        }
    }

    fn remove_at(&mut self, idx: usize, why: ErrorCode) -> Option<Member> {
        if idx >= self.members.len() {
            return None;
        }
        let mut m = self.members.remove(idx);
        if let Some(tx) = m.join_tx.take() {
            let _ = tx.send(JoinOutcome::error(why, &m.id));
        }
        if let Some(tx) = m.sync_tx.take() {
            let _ = tx.send(SyncOutcome::error(why));
        }
        if let Some(i) = &m.instance_id
            && self.statics.get(i) == Some(&m.id)
        {
            self.statics.remove(i);
        }
        self.pending_sync.remove(&m.id);
        if self.leader.as_deref() == Some(m.id.as_str()) {
            self.leader = self.members.first().map(|m| m.id.clone());
        }
        Some(m)
    }

    fn complete_join(&mut self, cx: &Ctx, out: &mut Vec<CoordinatorRecord>) {
        self.join_deadline = None;
        self.initial = None;
        if self.state == ClassicState::Dead {
            return;
        }
        // Dynamic members that did not rejoin in time are dropped.
        while let Some(i) = self
            .members
            .iter()
            .position(|m| !m.awaiting_join() && m.instance_id.is_none())
        {
            if let Some(m) = self.remove_at(i, ErrorCode::UnknownMemberId) {
                tracing::info!(group = %self.id, member = %m.id, "removed member that did not rejoin");
            }
        }
        if !self.elect_joined_leader() && !self.members.is_empty() {
            // Only static members that have not rejoined: wait for them (or their expiry).
            self.join_deadline = Some(cx.now + self.rebalance_timeout());
            return;
        }
        self.generation += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.transition(ClassicState::Empty, cx.now_ms);
            out.push(self.metadata_record());
            tracing::info!(group = %self.id, generation = self.generation, "group is empty");
            return;
        }
        self.protocol_name = self.select_protocol();
        self.transition(ClassicState::CompletingRebalance, cx.now_ms);
        tracing::info!(group = %self.id, generation = self.generation, members = self.members.len(), protocol = ?self.protocol_name, "join phase complete");
        let ids: Vec<String> = self.members.iter().map(|m| m.id.clone()).collect();
        for id in &ids {
            let outcome = self.current_join_outcome(id);
            if let Some(m) = self.member_mut(id) {
                m.refresh(cx.now);
                if let Some(tx) = m.join_tx.take() {
                    let _ = tx.send(outcome);
                }
            }
        }
        self.pending_sync = ids.into_iter().collect();
        self.sync_deadline = Some(cx.now + self.rebalance_timeout());
    }

    fn elect_joined_leader(&mut self) -> bool {
        let Some(l) = self.leader.clone() else {
            return false;
        };
        if self.member(&l).is_some_and(Member::awaiting_join) {
            return true;
        }
        match self.members.iter().find(|m| m.awaiting_join()) {
            Some(m) => {
                self.leader = Some(m.id.clone());
                true
            }
            None => false,
        }
    }

    /// SyncGroup.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sync(
        &mut self,
        cx: &Ctx,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
        out: &mut Vec<CoordinatorRecord>,
    ) -> Reply<SyncOutcome> {
        let err = |e| Reply::Now(SyncOutcome::error(e));
        if self.state == ClassicState::Dead {
            return err(ErrorCode::CoordinatorNotAvailable);
        }
        let e = self.validate_member(member_id, instance_id);
        if e != ErrorCode::None {
            return err(e);
        }
        if generation != self.generation {
            return err(ErrorCode::IllegalGeneration);
        }
        if protocol_type.is_some_and(|t| Some(t) != self.protocol_type.as_deref())
            || protocol_name.is_some_and(|n| Some(n) != self.protocol_name.as_deref())
        {
            return err(ErrorCode::InconsistentGroupProtocol);
        }
        let (pt0, pn0) = (self.protocol_type.clone(), self.protocol_name.clone());
        let ok = move |assignment: Bytes| SyncOutcome {
            error: ErrorCode::None,
            protocol_type: pt0,
            protocol_name: pn0,
            assignment,
        };
        match self.state {
            ClassicState::Empty | ClassicState::Dead => err(ErrorCode::UnknownMemberId),
            ClassicState::PreparingRebalance => err(ErrorCode::RebalanceInProgress),
            ClassicState::Stable => {
                self.pending_sync.remove(member_id);
                if self.pending_sync.is_empty() {
                    self.sync_deadline = None;
                }
                let a = self.member(member_id).map(|m| m.assignment.clone());
                if let Some(m) = self.member_mut(member_id) {
                    m.refresh(cx.now);
                }
                Reply::Now(ok(a.unwrap_or_default()))
            }
            ClassicState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                self.pending_sync.remove(member_id);
                if let Some(m) = self.member_mut(member_id) {
                    m.refresh(cx.now);
                    m.sync_tx = Some(tx);
                }
                if self.is_leader(member_id) {
                    let mut by_id: HashMap<String, Bytes> = assignments.into_iter().collect();
                    for m in &mut self.members {
                        m.assignment = by_id.remove(&m.id).unwrap_or_default();
                    }
                    self.transition(ClassicState::Stable, cx.now_ms);
                    out.push(self.metadata_record());
                    let pt = self.protocol_type.clone();
                    let pn = self.protocol_name.clone();
                    for m in &mut self.members {
                        if let Some(tx) = m.sync_tx.take() {
                            let _ = tx.send(SyncOutcome {
                                error: ErrorCode::None,
                                protocol_type: pt.clone(),
                                protocol_name: pn.clone(),
                                assignment: m.assignment.clone(),
                            });
                        }
                    }
                    tracing::info!(group = %self.id, generation = self.generation, "group is stable");
                }
                if self.pending_sync.is_empty() {
                    self.sync_deadline = None;
                }
                Reply::Later(rx)
            }
        }
    }

    /// Heartbeat.
    pub(crate) fn heartbeat(
        &mut self,
        cx: &Ctx,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> ErrorCode {
        if self.state == ClassicState::Dead {
            return ErrorCode::CoordinatorNotAvailable;
        }
        let e = self.validate_member(member_id, instance_id);
        if e != ErrorCode::None {
            return e;
        }
        if generation != self.generation {
            return ErrorCode::IllegalGeneration;
        }
        let state = self.state;
        if let Some(m) = self.member_mut(member_id) {
            m.refresh(cx.now);
        }
        match state {
            ClassicState::Empty | ClassicState::Dead => ErrorCode::UnknownMemberId,
            ClassicState::PreparingRebalance => ErrorCode::RebalanceInProgress,
            ClassicState::CompletingRebalance | ClassicState::Stable => ErrorCode::None,
        }
    }

    /// LeaveGroup for a batch of members; `Err` is a group-level error.
    pub(crate) fn leave(
        &mut self,
        cx: &Ctx,
        leaving: &[(String, Option<String>)],
        out: &mut Vec<CoordinatorRecord>,
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        if self.state == ClassicState::Dead {
            return Err(ErrorCode::CoordinatorNotAvailable);
        }
        let mut results = Vec::with_capacity(leaving.len());
        for (member_id, instance_id) in leaving {
            let id = if member_id.is_empty() {
                match instance_id.as_ref().and_then(|i| self.statics.get(i)) {
                    Some(id) => id.clone(),
                    None => {
                        results.push(ErrorCode::UnknownMemberId);
                        continue;
                    }
                }
            } else {
                if self.pending.remove(member_id).is_some() {
                    results.push(ErrorCode::None);
                    self.maybe_complete_join(cx, out);
                    continue;
                }
                let e = self.validate_member(member_id, instance_id.as_deref());
                if e != ErrorCode::None {
                    results.push(e);
                    continue;
                }
                member_id.clone()
            };
            self.remove_member(cx, &id, "left the group", out);
            results.push(ErrorCode::None);
        }
        Ok(results)
    }

    /// Removes a member (leave or expiry) and rebalances or completes the join.
    fn remove_member(&mut self, cx: &Ctx, id: &str, why: &str, out: &mut Vec<CoordinatorRecord>) {
        let Some(i) = self.members.iter().position(|m| m.id == id) else {
            return;
        };
        self.remove_at(i, ErrorCode::UnknownMemberId);
        tracing::info!(group = %self.id, member = id, "member {why}");
        match self.state {
            ClassicState::Stable | ClassicState::CompletingRebalance => {
                self.prepare_rebalance(cx, out);
            }
            ClassicState::PreparingRebalance => self.maybe_complete_join(cx, out),
            ClassicState::Empty | ClassicState::Dead => {}
        }
    }

    /// The earliest timer of this group.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let members = self
            .members
            .iter()
            .filter(|m| !m.awaiting_join() && !m.awaiting_sync())
            .map(|m| m.heartbeat_deadline);
        [self.join_deadline, self.sync_deadline]
            .into_iter()
            .flatten()
            .chain(members)
            .chain(self.pending.values().copied())
            .min()
    }

    /// Runs the timers that are due.
    pub(crate) fn on_timers(&mut self, cx: &Ctx, out: &mut Vec<CoordinatorRecord>) {
        if self.join_deadline.is_some_and(|d| d <= cx.now) {
            match self.initial {
                Some((delay, remaining)) if self.new_member_added && remaining != 0 => {
                    self.new_member_added = false;
                    let next = cx.initial_delay_ms.min(remaining);
                    self.initial = Some((next, remaining.saturating_sub(delay)));
                    self.join_deadline = Some(cx.now + Duration::from_millis(next));
                }
                _ => self.complete_join(cx, out),
            }
        }
        if self.sync_deadline.is_some_and(|d| d <= cx.now) {
            self.sync_deadline = None;
            if matches!(
                self.state,
                ClassicState::CompletingRebalance | ClassicState::Stable
            ) && !self.pending_sync.is_empty()
            {
                let late: Vec<String> = self.pending_sync.iter().cloned().collect();
                for id in late {
                    if let Some(i) = self.members.iter().position(|m| m.id == id) {
                        self.remove_at(i, ErrorCode::UnknownMemberId);
                        tracing::info!(group = %self.id, member = %id, "removed member that did not sync in time");
                    }
                }
                self.prepare_rebalance(cx, out);
            }
        }
        let expired_pending: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, d)| **d <= cx.now)
            .map(|(k, _)| k.clone())
            .collect();
        if !expired_pending.is_empty() {
            for k in expired_pending {
                self.pending.remove(&k);
            }
            self.maybe_complete_join(cx, out);
        }
        while let Some(id) = self
            .members
            .iter()
            .find(|m| !m.awaiting_join() && !m.awaiting_sync() && m.heartbeat_deadline <= cx.now)
            .map(|m| m.id.clone())
        {
            self.remove_member(cx, &id, "expired (session timeout)", out);
        }
    }

    /// Marks the group deleted (Dead); answers still pending fail with NOT_COORDINATOR, so
    /// their clients look the coordinator up again.
    pub(crate) fn kill(&mut self, now_ms: i64) {
        while !self.members.is_empty() {
            self.remove_at(0, ErrorCode::NotCoordinator);
        }
        self.pending.clear();
        self.join_deadline = None;
        self.sync_deadline = None;
        self.transition(ClassicState::Dead, now_ms);
    }

    /// Topics the members subscribed to (consumer protocol), when known.
    pub(crate) fn subscribed_topics(&self) -> Option<HashSet<String>> {
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol_name.clone()?;
        let mut out = HashSet::new();
        for m in &self.members {
            out.extend(parse_subscription_topics(&m.metadata(&protocol))?);
        }
        Some(out)
    }
}

/// The topics of a `ConsumerProtocolSubscription` (any version: they come first).
pub(crate) fn parse_subscription_topics(b: &[u8]) -> Option<Vec<String>> {
    let mut r = b;
    let take = |r: &mut &[u8], n: usize| -> Option<Vec<u8>> {
        if r.len() < n {
            return None;
        }
        let (a, rest) = r.split_at(n);
        *r = rest;
        Some(a.to_vec())
    };
    let _version = take(&mut r, 2)?;
    let n = take(&mut r, 4)?;
    let n = i32::from_be_bytes([n[0], n[1], n[2], n[3]]);
    let mut topics = Vec::new();
    for _ in 0..n.max(0) {
        let l = take(&mut r, 2)?;
        let l = usize::try_from(i16::from_be_bytes([l[0], l[1]])).ok()?;
        topics.push(String::from_utf8(take(&mut r, l)?).ok()?);
    }
    Some(topics)
}

/// A random UUID in Java's `UUID.toString()` form (member ids).
pub(crate) fn uuid_string() -> String {
    let v = crate::util::random_uuid().as_u128();
    let h = format!("{v:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
