//! The group coordinator: consumer groups and committed offsets, persisted in the internal
//! compacted topic `__consumer_offsets`.
//!
//! This single node coordinates every group (FindCoordinator always names it). State lives in
//! memory behind one lock ([`GroupCoordinator`]); every change that Kafka persists is written as
//! a record batch to the group's `__consumer_offsets` partition
//! (`abs(javaHashCode(groupId)) % offsets.topic.num.partitions`, with
//! [`AppendOrigin::Coordinator`](crate::log::AppendOrigin)) before the request is answered, and
//! [`GroupCoordinator::load`] replays the topic at broker start. The append happens while the
//! lock is held so that the log order is the order in which the state changed (small writes to
//! the page cache; the topic is not fsynced per write, as in Kafka).
//!
//! * [`classic`]: the classic protocol state machine (JoinGroup/SyncGroup/Heartbeat/LeaveGroup).
//! * [`consumer`]: the KIP-848 consumer protocol (ConsumerGroupHeartbeat), server-side assignors.
//! * [`store`]: the record formats.
//!
//! Timers (join/initial-rebalance delay, session timeouts, pending syncs, KIP-848 member
//! sessions and revocation timeouts, offset retention) are deadlines kept in the groups; one
//! task ([`run_timers`]) sleeps until the earliest one and is woken when an operation may have
//! made an earlier one.

pub(crate) mod classic;
pub(crate) mod consumer;
pub(crate) mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::internal::{OffsetCommitKey, OffsetCommitValue};
use kafka_protocol::records::{
    ControlRecord, ControlRecordKind, RecordBatchBuilder, RecordBatches,
};
use tokio::sync::Notify;
use tokio::time::{Duration, Instant};

use self::classic::{ClassicGroup, ClassicState, Ctx, JoinOutcome, JoinParams, Reply, SyncOutcome};
use self::consumer::ConsumerGroup;
use self::store::{CoordinatorRecord, OFFSETS_TOPIC, partition_for};
use crate::log::AppendOrigin;
use crate::metadata::Metadata;
use crate::state::Shared;
use crate::util::now_ms;

/// Whether `topic` is an internal topic (only the coordinators write it; Produce to it is
/// INVALID_TOPIC_EXCEPTION, as in Kafka).
pub(crate) fn is_internal_topic(topic: &str) -> bool {
    topic == OFFSETS_TOPIC || topic == "__transaction_state"
}

/// Coordinator settings (Kafka's broker keys and defaults).
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `group.initial.rebalance.delay.ms` (3000).
    pub initial_rebalance_delay_ms: u64,
    /// `group.min.session.timeout.ms` (6000).
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms` (1800000).
    pub max_session_timeout_ms: i32,
    /// `group.max.size` (unbounded).
    pub max_size: usize,
    /// `offsets.topic.num.partitions` (50).
    pub offsets_partitions: i32,
    /// `offsets.retention.minutes` in ms (7 days).
    pub offsets_retention_ms: i64,
    /// `offsets.retention.check.interval.ms` (600000).
    pub offsets_retention_check_ms: u64,
    /// `offset.metadata.max.bytes` (4096).
    pub offset_metadata_max_bytes: usize,
    /// `group.consumer.session.timeout.ms` (45000).
    pub consumer_session_timeout_ms: i32,
    /// `group.consumer.heartbeat.interval.ms` (5000).
    pub consumer_heartbeat_interval_ms: i32,
    /// `group.consumer.max.size` (unbounded).
    pub consumer_max_size: usize,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay_ms: 3000,
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 1_800_000,
            max_size: usize::MAX,
            offsets_partitions: 50,
            offsets_retention_ms: 7 * 24 * 3_600_000,
            offsets_retention_check_ms: 600_000,
            offset_metadata_max_bytes: 4096,
            consumer_session_timeout_ms: 45_000,
            consumer_heartbeat_interval_ms: 5_000,
            consumer_max_size: usize::MAX,
        }
    }
}

/// A committed offset.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OffsetEntry {
    pub(crate) offset: i64,
    pub(crate) leader_epoch: i32,
    pub(crate) metadata: String,
    pub(crate) commit_ts: i64,
    pub(crate) expire_ts: i64,
}

/// Which protocol a group uses (a group is one type at a time, as in Kafka 4.x).
#[derive(Debug)]
pub(crate) enum Kind {
    /// Classic (JoinGroup/SyncGroup) group, or a simple group that only holds offsets.
    Classic(ClassicGroup),
    /// KIP-848 consumer group.
    Consumer(ConsumerGroup),
}

/// One group and its committed offsets.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) kind: Kind,
    pub(crate) offsets: BTreeMap<(String, i32), OffsetEntry>,
}

impl Group {
    fn classic(id: &str, now_ms: i64) -> Group {
        Group {
            kind: Kind::Classic(ClassicGroup::new(id, now_ms)),
            offsets: BTreeMap::new(),
        }
    }

    /// Kafka's state name.
    pub(crate) fn state_name(&self) -> &'static str {
        match &self.kind {
            Kind::Classic(c) => c.state.name(),
            Kind::Consumer(c) => c.state_name(),
        }
    }

    /// `classic` or `consumer`.
    pub(crate) fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Classic(_) => "classic",
            Kind::Consumer(_) => "consumer",
        }
    }

    fn is_empty(&self) -> bool {
        match &self.kind {
            Kind::Classic(c) => c.state == ClassicState::Empty,
            Kind::Consumer(c) => c.members.is_empty(),
        }
    }

    fn protocol_type(&self) -> String {
        match &self.kind {
            Kind::Classic(c) => c.protocol_type.clone().unwrap_or_default(),
            Kind::Consumer(_) => "consumer".into(),
        }
    }
}

/// A topic's partitions and their committed offsets (`None`: nothing committed).
pub(crate) type TopicOffsets = (String, Vec<(i32, Option<OffsetEntry>)>);

/// A topic's partitions with an error each.
pub(crate) type TopicErrors = (String, Vec<(i32, ErrorCode)>);

/// One committed partition of an OffsetCommit request.
#[derive(Debug, Clone)]
pub(crate) struct CommitPartition {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) leader_epoch: i32,
    pub(crate) metadata: String,
}

/// A group as ListGroups shows it.
#[derive(Debug, Clone)]
pub(crate) struct ListedGroup {
    pub(crate) group_id: String,
    pub(crate) protocol_type: String,
    pub(crate) state: String,
    pub(crate) group_type: String,
}

/// A classic group as DescribeGroups shows it.
#[derive(Debug, Clone, Default)]
pub(crate) struct DescribedGroup {
    pub(crate) state: String,
    pub(crate) protocol_type: String,
    pub(crate) protocol_data: String,
    pub(crate) members: Vec<DescribedMember>,
}

/// A member as DescribeGroups shows it.
#[derive(Debug, Clone, Default)]
pub(crate) struct DescribedMember {
    pub(crate) member_id: String,
    pub(crate) instance_id: Option<String>,
    pub(crate) client_id: String,
    pub(crate) client_host: String,
    pub(crate) metadata: Bytes,
    pub(crate) assignment: Bytes,
}

/// Transactional offsets not yet committed or aborted: producer id → group → offsets.
type PendingTxnOffsets = HashMap<i64, HashMap<String, BTreeMap<(String, i32), OffsetEntry>>>;

struct Inner {
    groups: HashMap<String, Group>,
    next_retention: Instant,
    /// TxnOffsetCommit offsets waiting for their transaction's marker.
    pending_txn: PendingTxnOffsets,
}

/// The group coordinator of this node. See the [module docs](self).
pub(crate) struct GroupCoordinator {
    pub(crate) cfg: GroupConfig,
    inner: Mutex<Inner>,
    wake: Notify,
}

impl std::fmt::Debug for GroupCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCoordinator").finish_non_exhaustive()
    }
}

impl GroupCoordinator {
    /// An empty coordinator (call [`load`](Self::load) to rebuild persisted state).
    pub(crate) fn new(cfg: GroupConfig) -> GroupCoordinator {
        let next_retention = Instant::now() + Duration::from_millis(cfg.offsets_retention_check_ms);
        GroupCoordinator {
            cfg,
            inner: Mutex::new(Inner {
                groups: HashMap::new(),
                next_retention,
                pending_txn: HashMap::new(),
            }),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn ctx(&self) -> Ctx {
        Ctx {
            initial_delay_ms: self.cfg.initial_rebalance_delay_ms,
            max_size: self.cfg.max_size,
            now: Instant::now(),
            now_ms: now_ms(),
        }
    }

    /// Creates `__consumer_offsets` (compacted, `offsets.topic.num.partitions` partitions)
    /// unless it exists. Blocking.
    pub(crate) fn ensure_topic(&self, md: &Metadata) -> Result<(), ErrorCode> {
        if md.snapshot().by_name.contains_key(OFFSETS_TOPIC) {
            return Ok(());
        }
        let mut configs = BTreeMap::new();
        configs.insert("cleanup.policy".to_string(), "compact".to_string());
        configs.insert("segment.bytes".to_string(), "104857600".to_string());
        configs.insert("compression.type".to_string(), "producer".to_string());
        match md.create_topic(OFFSETS_TOPIC, self.cfg.offsets_partitions, configs, false) {
            Ok(_) => Ok(()),
            Err((ErrorCode::TopicAlreadyExists, _)) => Ok(()),
            Err((e, m)) => {
                tracing::error!(error = %m, code = e.name(), "cannot create {OFFSETS_TOPIC}");
                Err(ErrorCode::CoordinatorNotAvailable)
            }
        }
    }

    /// Appends records to the groups' partitions (one batch per partition).
    fn persist(&self, md: &Metadata, records: Vec<CoordinatorRecord>) -> Result<(), ErrorCode> {
        if records.is_empty() {
            return Ok(());
        }
        self.ensure_topic(md)?;
        let snap = md.snapshot();
        let Some(topic) = snap.by_name.get(OFFSETS_TOPIC) else {
            return Err(ErrorCode::CoordinatorNotAvailable);
        };
        let n = topic.partitions.len() as i32;
        let mut by_partition: BTreeMap<i32, Vec<CoordinatorRecord>> = BTreeMap::new();
        for r in records {
            let p = partition_for(r.group_id().unwrap_or_default(), n);
            by_partition.entry(p).or_default().push(r);
        }
        let now = now_ms();
        for (p, recs) in by_partition {
            let Some(part) = topic.partition(p) else {
                return Err(ErrorCode::CoordinatorNotAvailable);
            };
            let batch = store::build_batch(&recs, now).map_err(|e| {
                tracing::error!(error = %e, "cannot encode coordinator records");
                ErrorCode::UnknownServerError
            })?;
            match part.with_log(|l| l.append_with_origin(batch, 0, now, AppendOrigin::Coordinator))
            {
                Some(Ok(_)) => part.wake(),
                Some(Err(e)) => {
                    tracing::error!(partition = p, error = %e, "writing {OFFSETS_TOPIC} failed");
                    return Err(ErrorCode::CoordinatorNotAvailable);
                }
                None => return Err(ErrorCode::CoordinatorNotAvailable),
            }
        }
        Ok(())
    }

    /// Persists what a state change produced; failures are logged (the in-memory state has
    /// already moved on, as after a failed write in Kafka the next write repairs it).
    fn persist_logged(&self, md: &Metadata, out: Vec<CoordinatorRecord>) {
        if let Err(e) = self.persist(md, out) {
            tracing::warn!(error = e.name(), "group state change not persisted");
        }
    }

    /// Rebuilds every group and offset by reading `__consumer_offsets` (broker start).
    pub(crate) fn load(&self, md: &Metadata) {
        let snap = md.snapshot();
        let Some(topic) = snap.by_name.get(OFFSETS_TOPIC) else {
            return;
        };
        let mut inner = self.lock();
        let now = Instant::now();
        let mut count = 0usize;
        let mut txn_records: HashMap<i64, Vec<CoordinatorRecord>> = HashMap::new();
        for part in &topic.partitions {
            let mut offset = part.with_log(|l| l.log_start_offset()).unwrap_or(0);
            loop {
                let Some(Ok(read)) = part.with_log(|l| l.read(offset, 1 << 20, true)) else {
                    break;
                };
                if read.records.is_empty() {
                    break;
                }
                let mut next = offset;
                for batch in RecordBatches::new(read.records) {
                    let Ok(batch) = batch else { break };
                    next = next.max(batch.last_offset() + 1);
                    if batch.is_control() {
                        // A transaction marker: apply or drop that producer's offsets.
                        let commit = match &batch {
                            kafka_protocol::records::Batch::V2(b) => matches!(
                                b.control_record(),
                                Ok(Some(c)) if c.kind == ControlRecordKind::Commit
                            ),
                            _ => false,
                        };
                        if let Some(recs) = txn_records.remove(&batch.producer_id())
                            && commit
                        {
                            for r in recs {
                                replay(&mut inner.groups, r, now);
                            }
                        }
                        continue;
                    }
                    let txn = batch.is_transactional().then(|| batch.producer_id());
                    for rec in batch.records() {
                        let Ok(rec) = rec else { break };
                        let Some(key) = rec.key else { continue };
                        match CoordinatorRecord::decode(key, rec.value) {
                            Ok(r) => {
                                count += 1;
                                match txn {
                                    Some(pid) => txn_records.entry(pid).or_default().push(r),
                                    None => replay(&mut inner.groups, r, now),
                                }
                            }
                            Err(e) => {
                                tracing::warn!(partition = part.index, offset = rec.offset, error = %e, "skipping undecodable {OFFSETS_TOPIC} record");
                            }
                        }
                    }
                }
                if next <= offset {
                    break;
                }
                offset = next;
            }
        }
        // Offsets of transactions still open stay pending until the transaction coordinator
        // completes them.
        for (pid, recs) in txn_records {
            for r in recs {
                if let CoordinatorRecord::Offset(k, Some(v)) = r {
                    inner
                        .pending_txn
                        .entry(pid)
                        .or_default()
                        .entry(k.group)
                        .or_default()
                        .insert(
                            (k.topic, k.partition),
                            OffsetEntry {
                                offset: v.offset,
                                leader_epoch: v.leader_epoch,
                                metadata: v.metadata,
                                commit_ts: v.commit_timestamp,
                                expire_ts: v.expire_timestamp,
                            },
                        );
                }
            }
        }
        for g in inner.groups.values_mut() {
            if let Kind::Consumer(c) = &mut g.kind {
                c.after_load(now, self.cfg.consumer_session_timeout_ms);
            }
        }
        tracing::info!(
            groups = inner.groups.len(),
            records = count,
            "group coordinator loaded {OFFSETS_TOPIC}"
        );
    }

    /// The earliest timer across groups.
    fn next_deadline(&self) -> Instant {
        let inner = self.lock();
        inner
            .groups
            .values()
            .filter_map(|g| match &g.kind {
                Kind::Classic(c) => c.next_deadline(),
                Kind::Consumer(c) => c.next_deadline(),
            })
            .chain(std::iter::once(inner.next_retention))
            .min()
            .unwrap_or(inner.next_retention)
    }

    /// Runs the timers that are due (and the offset-retention pass when due).
    pub(crate) fn tick(&self, md: &Metadata) {
        let cx = self.ctx();
        let mut inner = self.lock();
        let mut out = Vec::new();
        for g in inner.groups.values_mut() {
            match &mut g.kind {
                Kind::Classic(c) => c.on_timers(&cx, &mut out),
                Kind::Consumer(c) => c.on_timers(&cx, &self.cfg, md, &mut out),
            }
        }
        if inner.next_retention <= cx.now {
            inner.next_retention =
                cx.now + Duration::from_millis(self.cfg.offsets_retention_check_ms.max(1));
            expire_offsets(
                &mut inner.groups,
                cx.now_ms,
                self.cfg.offsets_retention_ms,
                &mut out,
            );
        }
        self.persist_logged(md, out);
    }

    /// Runs the offset-retention pass now with wall clock `now_ms` (tests).
    #[cfg(test)]
    pub(crate) fn expire_offsets_at(&self, md: &Metadata, now_ms: i64) {
        let mut inner = self.lock();
        let mut out = Vec::new();
        expire_offsets(
            &mut inner.groups,
            now_ms,
            self.cfg.offsets_retention_ms,
            &mut out,
        );
        self.persist_logged(md, out);
    }

    /// JoinGroup.
    pub(crate) fn join(&self, md: &Metadata, group_id: &str, p: JoinParams) -> Reply<JoinOutcome> {
        let err = |e| Reply::Now(JoinOutcome::error(e, &p.member_id));
        if group_id.is_empty() {
            return err(ErrorCode::InvalidGroupId);
        }
        if p.session_timeout_ms < self.cfg.min_session_timeout_ms
            || p.session_timeout_ms > self.cfg.max_session_timeout_ms
        {
            return err(ErrorCode::InvalidSessionTimeout);
        }
        let cx = self.ctx();
        let mut inner = self.lock();
        let mut out = Vec::new();
        let reply = {
            let g = match inner.groups.get_mut(group_id) {
                Some(g) => g,
                None if !p.member_id.is_empty() => return err(ErrorCode::UnknownMemberId),
                None => inner
                    .groups
                    .entry(group_id.to_string())
                    .or_insert_with(|| Group::classic(group_id, cx.now_ms)),
            };
            if let Kind::Consumer(c) = &g.kind {
                if !c.members.is_empty() {
                    return err(ErrorCode::InconsistentGroupProtocol);
                }
                // An empty consumer group becomes a classic group (Kafka's online downgrade).
                out.extend(c.tombstones());
                g.kind = Kind::Classic(ClassicGroup::new(group_id, cx.now_ms));
            }
            match &mut g.kind {
                Kind::Classic(c) => c.join(&cx, p, &mut out),
                Kind::Consumer(_) => {
                    Reply::Now(JoinOutcome::error(ErrorCode::InconsistentGroupProtocol, ""))
                }
            }
        };
        self.persist_logged(md, out);
        drop(inner);
        self.wake.notify_one();
        reply
    }

    /// SyncGroup.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sync(
        &self,
        md: &Metadata,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
        protocol_type: Option<&str>,
        protocol_name: Option<&str>,
        assignments: Vec<(String, Bytes)>,
    ) -> Reply<SyncOutcome> {
        let cx = self.ctx();
        let mut inner = self.lock();
        let mut out = Vec::new();
        let reply = match inner.groups.get_mut(group_id).map(|g| &mut g.kind) {
            Some(Kind::Classic(c)) => c.sync(
                &cx,
                member_id,
                instance_id,
                generation,
                protocol_type,
                protocol_name,
                assignments,
                &mut out,
            ),
            _ => Reply::Now(SyncOutcome {
                error: ErrorCode::UnknownMemberId,
                protocol_type: None,
                protocol_name: None,
                assignment: Bytes::new(),
            }),
        };
        self.persist_logged(md, out);
        drop(inner);
        self.wake.notify_one();
        reply
    }

    /// Heartbeat.
    pub(crate) fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        instance_id: Option<&str>,
        generation: i32,
    ) -> ErrorCode {
        let cx = self.ctx();
        let mut inner = self.lock();
        let e = match inner.groups.get_mut(group_id).map(|g| &mut g.kind) {
            Some(Kind::Classic(c)) => c.heartbeat(&cx, member_id, instance_id, generation),
            _ => ErrorCode::UnknownMemberId,
        };
        drop(inner);
        self.wake.notify_one();
        e
    }

    /// LeaveGroup for a batch of (member id, instance id).
    pub(crate) fn leave(
        &self,
        md: &Metadata,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<ErrorCode>, ErrorCode> {
        let cx = self.ctx();
        let mut inner = self.lock();
        let mut out = Vec::new();
        let r = match inner.groups.get_mut(group_id).map(|g| &mut g.kind) {
            Some(Kind::Classic(c)) => c.leave(&cx, members, &mut out),
            _ => Err(ErrorCode::UnknownMemberId),
        };
        self.persist_logged(md, out);
        drop(inner);
        self.wake.notify_one();
        r
    }

    /// OffsetCommit: validates the member/generation, then writes and applies the offsets.
    /// `Err` applies to every partition.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn commit(
        &self,
        md: &Metadata,
        version: i16,
        group_id: &str,
        generation_or_epoch: i32,
        member_id: &str,
        instance_id: Option<&str>,
        retention_ms: i64,
        partitions: Vec<CommitPartition>,
    ) -> Result<(), ErrorCode> {
        if group_id.is_empty() {
            return Err(ErrorCode::InvalidGroupId);
        }
        let cx = self.ctx();
        let mut inner = self.lock();
        match inner.groups.get_mut(group_id) {
            None => {
                if generation_or_epoch >= 0 {
                    return Err(if version >= 9 {
                        ErrorCode::GroupIdNotFound
                    } else {
                        ErrorCode::IllegalGeneration
                    });
                }
            }
            Some(g) => match &mut g.kind {
                Kind::Classic(c) => {
                    validate_classic_commit(c, member_id, instance_id, generation_or_epoch, &cx)?
                }
                Kind::Consumer(c) => {
                    let snap = md.snapshot();
                    let ids: Vec<(kafka_protocol::Uuid, i32)> = partitions
                        .iter()
                        .map(|p| {
                            let id = snap
                                .by_name
                                .get(&p.topic)
                                .map_or(kafka_protocol::Uuid::ZERO, |t| t.id);
                            (id, p.partition)
                        })
                        .collect();
                    c.validate_commit(member_id, generation_or_epoch, &ids)?
                }
            },
        }
        let expire_ts = if retention_ms >= 0 {
            cx.now_ms.saturating_add(retention_ms)
        } else {
            -1
        };
        let entries: Vec<((String, i32), OffsetEntry)> = partitions
            .into_iter()
            .map(|p| {
                (
                    (p.topic, p.partition),
                    OffsetEntry {
                        offset: p.offset,
                        leader_epoch: p.leader_epoch,
                        metadata: p.metadata,
                        commit_ts: cx.now_ms,
                        expire_ts,
                    },
                )
            })
            .collect();
        let records = entries
            .iter()
            .map(|((t, p), e)| offset_record(group_id, t, *p, Some(e)))
            .collect();
        self.persist(md, records)?;
        let g = inner
            .groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::classic(group_id, cx.now_ms));
        g.offsets.extend(entries);
        Ok(())
    }

    /// TxnOffsetCommit: validates the member/generation like OffsetCommit, writes the offsets
    /// to the group's partition as a transactional batch of producer `producer_id`/`epoch`
    /// and keeps them pending until [`complete_txn`](Self::complete_txn).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn txn_commit(
        &self,
        md: &Metadata,
        group_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        partitions: Vec<CommitPartition>,
    ) -> Result<(), ErrorCode> {
        if group_id.is_empty() {
            return Err(ErrorCode::InvalidGroupId);
        }
        let cx = self.ctx();
        let mut inner = self.lock();
        match inner.groups.get_mut(group_id) {
            None => {
                if generation >= 0 {
                    return Err(ErrorCode::IllegalGeneration);
                }
            }
            Some(g) => match &mut g.kind {
                Kind::Classic(c) => {
                    validate_classic_commit(c, member_id, instance_id, generation, &cx)?
                }
                Kind::Consumer(c) => {
                    if generation >= 0 || !member_id.is_empty() {
                        let snap = md.snapshot();
                        let ids: Vec<(kafka_protocol::Uuid, i32)> = partitions
                            .iter()
                            .map(|p| {
                                let id = snap
                                    .by_name
                                    .get(&p.topic)
                                    .map_or(kafka_protocol::Uuid::ZERO, |t| t.id);
                                (id, p.partition)
                            })
                            .collect();
                        c.validate_commit(member_id, generation, &ids)?
                    }
                }
            },
        }
        let entries: Vec<((String, i32), OffsetEntry)> = partitions
            .into_iter()
            .map(|p| {
                (
                    (p.topic, p.partition),
                    OffsetEntry {
                        offset: p.offset,
                        leader_epoch: p.leader_epoch,
                        metadata: p.metadata,
                        commit_ts: cx.now_ms,
                        expire_ts: -1,
                    },
                )
            })
            .collect();
        if entries.is_empty() {
            return Ok(());
        }
        let records: Vec<CoordinatorRecord> = entries
            .iter()
            .map(|((t, p), e)| offset_record(group_id, t, *p, Some(e)))
            .collect();
        let (part, n) = self.group_partition(md, group_id)?;
        let mut b = RecordBatchBuilder::new(0)
            .producer(producer_id, producer_epoch, -1)
            .transactional(true);
        for r in &records {
            let (k, v) = r.encode().map_err(|_| ErrorCode::UnknownServerError)?;
            b.append(cx.now_ms, Some(&k), v.as_deref(), &[])
                .map_err(|_| ErrorCode::UnknownServerError)?;
        }
        let batch = b.build().map_err(|_| ErrorCode::UnknownServerError)?;
        match part
            .with_log(|l| l.append_with_origin(batch, 0, cx.now_ms, AppendOrigin::Coordinator))
        {
            Some(Ok(_)) => part.wake(),
            Some(Err(e)) => {
                let code = e.error_code();
                return Err(if code == ErrorCode::InvalidProducerEpoch {
                    code
                } else {
                    tracing::error!(partition = n, error = %e, "writing {OFFSETS_TOPIC} failed");
                    ErrorCode::CoordinatorNotAvailable
                });
            }
            None => return Err(ErrorCode::CoordinatorNotAvailable),
        }
        inner
            .pending_txn
            .entry(producer_id)
            .or_default()
            .entry(group_id.to_string())
            .or_default()
            .extend(entries);
        Ok(())
    }

    /// The `__consumer_offsets` partition of a group and its index.
    fn group_partition(
        &self,
        md: &Metadata,
        group_id: &str,
    ) -> Result<(Arc<crate::metadata::Partition>, i32), ErrorCode> {
        self.ensure_topic(md)?;
        let snap = md.snapshot();
        let topic = snap
            .by_name
            .get(OFFSETS_TOPIC)
            .ok_or(ErrorCode::CoordinatorNotAvailable)?;
        let p = partition_for(group_id, topic.partitions.len() as i32);
        let part = topic
            .partition(p)
            .cloned()
            .ok_or(ErrorCode::CoordinatorNotAvailable)?;
        Ok((part, p))
    }

    /// Writes the end marker of producer `producer_id`'s transaction to `__consumer_offsets`
    /// partition `partition` and applies (commit) or drops (abort) its pending offsets of the
    /// groups stored there. Called by the transaction coordinator.
    pub(crate) fn complete_txn(
        &self,
        md: &Metadata,
        partition: i32,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> Result<(), ErrorCode> {
        let now = now_ms();
        let mut inner = self.lock();
        let snap = md.snapshot();
        let Some(topic) = snap.by_name.get(OFFSETS_TOPIC) else {
            return Ok(());
        };
        let n = topic.partitions.len() as i32;
        let Some(part) = topic.partition(partition) else {
            return Ok(());
        };
        let marker = ControlRecord {
            kind: if commit {
                ControlRecordKind::Commit
            } else {
                ControlRecordKind::Abort
            },
            coordinator_epoch: 0,
        };
        let batch =
            RecordBatchBuilder::control_batch(0, now, 0, producer_id, producer_epoch, marker)
                .map_err(|_| ErrorCode::UnknownServerError)?;
        match part.with_log(|l| l.append_with_origin(batch, 0, now, AppendOrigin::Coordinator)) {
            Some(Ok(_)) => part.wake(),
            Some(Err(e)) => {
                tracing::error!(partition, error = %e, "writing a marker to {OFFSETS_TOPIC} failed");
                return Err(e.error_code());
            }
            None => return Err(ErrorCode::CoordinatorNotAvailable),
        }
        let Some(by_group) = inner.pending_txn.get_mut(&producer_id) else {
            return Ok(());
        };
        let done: Vec<String> = by_group
            .keys()
            .filter(|g| partition_for(g, n) == partition)
            .cloned()
            .collect();
        let mut applied = Vec::new();
        for g in done {
            if let Some(offsets) = by_group.remove(&g) {
                applied.push((g, offsets));
            }
        }
        if by_group.is_empty() {
            inner.pending_txn.remove(&producer_id);
        }
        if commit {
            for (g, offsets) in applied {
                let group = inner
                    .groups
                    .entry(g.clone())
                    .or_insert_with(|| Group::classic(&g, now));
                group.offsets.extend(offsets);
            }
        }
        Ok(())
    }

    /// Whether a transaction holds an uncommitted offset for this group and partition
    /// (OffsetFetch `require_stable` answers UNSTABLE_OFFSET_COMMIT then).
    pub(crate) fn has_pending_txn_offset(
        &self,
        group_id: &str,
        topic: &str,
        partition: i32,
    ) -> bool {
        let inner = self.lock();
        let key = (topic.to_string(), partition);
        inner
            .pending_txn
            .values()
            .any(|g| g.get(group_id).is_some_and(|o| o.contains_key(&key)))
    }

    /// OffsetFetch for one group: `topics` `None` = every committed offset. `Err` is a group
    /// error.
    pub(crate) fn fetch(
        &self,
        group_id: &str,
        member: Option<(&str, i32)>,
        topics: Option<Vec<(String, Vec<i32>)>>,
    ) -> Result<Vec<TopicOffsets>, ErrorCode> {
        let inner = self.lock();
        let g = inner.groups.get(group_id);
        if let (
            Some((member_id, epoch)),
            Some(Group {
                kind: Kind::Consumer(c),
                ..
            }),
        ) = (member, g)
        {
            c.validate_fetch(member_id, epoch)?;
        }
        let offsets = g.map(|g| &g.offsets);
        Ok(match topics {
            Some(ts) => ts
                .into_iter()
                .map(|(t, ps)| {
                    let parts = ps
                        .into_iter()
                        .map(|p| {
                            let e = offsets.and_then(|o| o.get(&(t.clone(), p))).cloned();
                            (p, e)
                        })
                        .collect();
                    (t, parts)
                })
                .collect(),
            None => {
                let mut by_topic: BTreeMap<String, Vec<(i32, Option<OffsetEntry>)>> =
                    BTreeMap::new();
                for ((t, p), e) in offsets.into_iter().flatten() {
                    by_topic
                        .entry(t.clone())
                        .or_default()
                        .push((*p, Some(e.clone())));
                }
                by_topic.into_iter().collect()
            }
        })
    }

    /// OffsetDelete: `Err` is a group-level error; otherwise an error per partition.
    pub(crate) fn delete_offsets(
        &self,
        md: &Metadata,
        group_id: &str,
        topics: Vec<(String, Vec<i32>)>,
    ) -> Result<Vec<TopicErrors>, ErrorCode> {
        let mut inner = self.lock();
        let Some(g) = inner.groups.get_mut(group_id) else {
            return Err(ErrorCode::GroupIdNotFound);
        };
        let subscribed = match &g.kind {
            Kind::Classic(c) => match c.state {
                ClassicState::Dead => return Err(ErrorCode::GroupIdNotFound),
                ClassicState::Empty => None,
                _ => match c.subscribed_topics() {
                    Some(s) => Some(s),
                    None => return Err(ErrorCode::NonEmptyGroup),
                },
            },
            Kind::Consumer(c) => Some(c.subscribed_topics()),
        };
        let mut records = Vec::new();
        let mut result = Vec::new();
        let mut removed = Vec::new();
        for (t, ps) in topics {
            let busy = subscribed.as_ref().is_some_and(|s| s.contains(&t));
            let mut pr = Vec::new();
            for p in ps {
                if busy {
                    pr.push((p, ErrorCode::GroupSubscribedToTopic));
                    continue;
                }
                if g.offsets.contains_key(&(t.clone(), p)) {
                    records.push(offset_record(group_id, &t, p, None));
                    removed.push((t.clone(), p));
                }
                pr.push((p, ErrorCode::None));
            }
            result.push((t, pr));
        }
        self.persist(md, records)?;
        for k in removed {
            g.offsets.remove(&k);
        }
        Ok(result)
    }

    /// ListGroups with Kafka's (case-insensitive) state and type filters.
    pub(crate) fn list(&self, states: &[String], types: &[String]) -> Vec<ListedGroup> {
        let inner = self.lock();
        let mut v: Vec<ListedGroup> = inner
            .groups
            .iter()
            .filter(|(_, g)| !matches!(&g.kind, Kind::Classic(c) if c.state == ClassicState::Dead))
            .filter(|(_, g)| {
                states.is_empty()
                    || states
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(g.state_name()))
            })
            .filter(|(_, g)| {
                types.is_empty() || types.iter().any(|t| t.eq_ignore_ascii_case(g.type_name()))
            })
            .map(|(id, g)| ListedGroup {
                group_id: id.clone(),
                protocol_type: g.protocol_type(),
                state: g.state_name().to_string(),
                group_type: g.type_name().to_string(),
            })
            .collect();
        v.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        v
    }

    /// DescribeGroups of one group: `Err(GroupIdNotFound)` when unknown or not classic.
    pub(crate) fn describe(&self, group_id: &str) -> Result<DescribedGroup, ErrorCode> {
        let inner = self.lock();
        let Some(g) = inner.groups.get(group_id) else {
            return Err(ErrorCode::GroupIdNotFound);
        };
        let Kind::Classic(c) = &g.kind else {
            return Err(ErrorCode::GroupIdNotFound);
        };
        let stable = c.state == ClassicState::Stable;
        let protocol = c.protocol_name.clone().unwrap_or_default();
        Ok(DescribedGroup {
            state: c.state.name().to_string(),
            protocol_type: c.protocol_type.clone().unwrap_or_default(),
            protocol_data: if stable {
                protocol.clone()
            } else {
                String::new()
            },
            members: c
                .members
                .iter()
                .map(|m| DescribedMember {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata(&protocol)
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
        })
    }

    /// ConsumerGroupDescribe of one group.
    pub(crate) fn describe_consumer(
        &self,
        md: &Metadata,
        group_id: &str,
    ) -> Result<kafka_protocol::messages::consumer_group_describe_response::DescribedGroup, ErrorCode>
    {
        let inner = self.lock();
        match inner.groups.get(group_id).map(|g| &g.kind) {
            Some(Kind::Consumer(c)) => Ok(c.describe(md)),
            Some(Kind::Classic(_)) => Err(ErrorCode::GroupIdNotFound),
            None => Err(ErrorCode::GroupIdNotFound),
        }
    }

    /// ConsumerGroupHeartbeat.
    pub(crate) fn consumer_heartbeat(
        &self,
        md: &Metadata,
        req: consumer::HeartbeatParams,
    ) -> consumer::HeartbeatOutcome {
        let cx = self.ctx();
        let mut inner = self.lock();
        let mut out = Vec::new();
        let r = consumer::heartbeat(&mut inner.groups, &cx, &self.cfg, md, req, &mut out);
        self.persist_logged(md, out);
        drop(inner);
        self.wake.notify_one();
        r
    }

    /// DeleteGroups: an error per group.
    pub(crate) fn delete_groups(&self, md: &Metadata, ids: &[String]) -> Vec<ErrorCode> {
        let cx = self.ctx();
        let mut inner = self.lock();
        let mut results = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(g) = inner.groups.get_mut(id) else {
                results.push(ErrorCode::GroupIdNotFound);
                continue;
            };
            if matches!(&g.kind, Kind::Classic(c) if c.state == ClassicState::Dead) {
                results.push(ErrorCode::GroupIdNotFound);
                continue;
            }
            if !g.is_empty() {
                results.push(ErrorCode::NonEmptyGroup);
                continue;
            }
            let records = group_tombstones(id, g);
            if let Err(e) = self.persist(md, records) {
                results.push(e);
                continue;
            }
            if let Kind::Classic(c) = &mut g.kind {
                c.kill(cx.now_ms);
            }
            inner.groups.remove(id);
            tracing::info!(group = %id, "deleted group");
            results.push(ErrorCode::None);
        }
        results
    }
}

/// Every tombstone that removes a group and its offsets.
fn group_tombstones(id: &str, g: &Group) -> Vec<CoordinatorRecord> {
    let mut records: Vec<CoordinatorRecord> = g
        .offsets
        .keys()
        .map(|(t, p)| offset_record(id, t, *p, None))
        .collect();
    match &g.kind {
        Kind::Classic(_) => records.push(CoordinatorRecord::Group(
            kafka_protocol::messages::internal::GroupMetadataKey {
                group: id.to_string(),
            },
            None,
        )),
        Kind::Consumer(c) => records.extend(c.tombstones()),
    }
    records
}

fn validate_classic_commit(
    c: &ClassicGroup,
    member_id: &str,
    instance_id: Option<&str>,
    generation: i32,
    _cx: &Ctx,
) -> Result<(), ErrorCode> {
    if c.state == ClassicState::Dead {
        return Err(ErrorCode::CoordinatorNotAvailable);
    }
    if generation < 0 && c.state == ClassicState::Empty {
        return Ok(());
    }
    if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
        if let Some(i) = instance_id
            && c.members
                .iter()
                .any(|m| m.instance_id.as_deref() == Some(i) && m.id != member_id)
        {
            return Err(ErrorCode::FencedInstanceId);
        }
        if !c.has_member(member_id) {
            return Err(ErrorCode::UnknownMemberId);
        }
        if generation != c.generation {
            return Err(ErrorCode::IllegalGeneration);
        }
    } else if c.state != ClassicState::Empty {
        return Err(ErrorCode::UnknownMemberId);
    }
    if c.state == ClassicState::CompletingRebalance {
        return Err(ErrorCode::RebalanceInProgress);
    }
    Ok(())
}

fn offset_record(
    group: &str,
    topic: &str,
    partition: i32,
    e: Option<&OffsetEntry>,
) -> CoordinatorRecord {
    CoordinatorRecord::Offset(
        OffsetCommitKey {
            group: group.to_string(),
            topic: topic.to_string(),
            partition,
        },
        e.map(|e| OffsetCommitValue {
            offset: e.offset,
            leader_epoch: e.leader_epoch,
            metadata: e.metadata.clone(),
            commit_timestamp: e.commit_ts,
            expire_timestamp: e.expire_ts,
            ..Default::default()
        }),
    )
}

/// Applies one record read back from the log.
fn replay(groups: &mut HashMap<String, Group>, r: CoordinatorRecord, now: Instant) {
    let Some(id) = r.group_id().map(str::to_string) else {
        return;
    };
    match r {
        CoordinatorRecord::Offset(k, v) => match v {
            Some(v) => {
                let g = groups
                    .entry(id.clone())
                    .or_insert_with(|| Group::classic(&id, v.commit_timestamp));
                g.offsets.insert(
                    (k.topic, k.partition),
                    OffsetEntry {
                        offset: v.offset,
                        leader_epoch: v.leader_epoch,
                        metadata: v.metadata,
                        commit_ts: v.commit_timestamp,
                        expire_ts: v.expire_timestamp,
                    },
                );
            }
            None => {
                if let Some(g) = groups.get_mut(&id) {
                    g.offsets.remove(&(k.topic, k.partition));
                }
            }
        },
        CoordinatorRecord::Group(_, v) => match v {
            Some(v) => {
                let offsets = groups.remove(&id).map(|g| g.offsets).unwrap_or_default();
                groups.insert(
                    id.clone(),
                    Group {
                        kind: Kind::Classic(ClassicGroup::from_record(&id, &v, now)),
                        offsets,
                    },
                );
            }
            None => {
                if let Some(g) = groups.remove(&id)
                    && !g.offsets.is_empty()
                {
                    groups.insert(
                        id.clone(),
                        Group {
                            kind: Kind::Classic(ClassicGroup::new(&id, 0)),
                            offsets: g.offsets,
                        },
                    );
                }
            }
        },
        other => consumer::replay(groups, &id, other),
    }
}

/// Offset retention (Kafka's rules for groups without members): an explicit expire timestamp
/// wins; otherwise offsets of an empty group expire `retention` after the group became empty
/// (after the commit for simple groups without a protocol). An empty group left without
/// offsets is deleted.
fn expire_offsets(
    groups: &mut HashMap<String, Group>,
    now_ms: i64,
    retention_ms: i64,
    out: &mut Vec<CoordinatorRecord>,
) {
    let mut dead = Vec::new();
    for (id, g) in groups.iter_mut() {
        let base = match &g.kind {
            // A group waiting for KIP-394 pending members to join is kept.
            Kind::Classic(c) if c.state == ClassicState::Empty && c.has_pending() => continue,
            Kind::Classic(c) if c.state == ClassicState::Empty => {
                if c.protocol_type.is_some() {
                    Some(c.state_ts_ms)
                } else {
                    None
                }
            }
            Kind::Consumer(c) if c.members.is_empty() => Some(c.empty_since_ms),
            _ => continue,
        };
        let expired: Vec<(String, i32)> = g
            .offsets
            .iter()
            .filter(|(_, e)| {
                if e.expire_ts >= 0 {
                    now_ms >= e.expire_ts
                } else {
                    now_ms.saturating_sub(base.unwrap_or(e.commit_ts)) >= retention_ms
                }
            })
            .map(|(k, _)| k.clone())
            .collect();
        for (t, p) in expired {
            out.push(offset_record(id, &t, p, None));
            g.offsets.remove(&(t, p));
        }
        if g.offsets.is_empty() {
            out.extend(group_tombstones(id, g));
            dead.push(id.clone());
        }
    }
    for id in dead {
        tracing::info!(group = %id, "removed empty group whose offsets expired");
        groups.remove(&id);
    }
}

/// The coordinator's timer task: sleeps until the earliest deadline (or a wake-up).
pub(crate) async fn run_timers(s: Arc<Shared>) {
    let mut shutdown = s.shutdown.clone();
    loop {
        let next = s.groups.next_deadline();
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = s.groups.wake.notified() => {}
            _ = shutdown.changed() => return,
        }
        s.groups.tick(&s.metadata);
    }
}

/// Awaits a delayed answer; on shutdown (or a dropped group) answers `on_drop`.
pub(crate) async fn wait<T>(s: &Shared, r: Reply<T>, on_drop: impl FnOnce() -> T) -> T {
    match r {
        Reply::Now(v) => v,
        Reply::Later(rx) => {
            let mut shutdown = s.shutdown.clone();
            tokio::select! {
                v = rx => v.unwrap_or_else(|_| on_drop()),
                _ = shutdown.changed() => on_drop(),
            }
        }
    }
}

#[cfg(test)]
mod tests;
