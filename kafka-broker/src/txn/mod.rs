//! The transaction coordinator: transactional ids, their producer ids and epochs, and the
//! two-phase completion of transactions, persisted in the compacted internal topic
//! `__transaction_state`.
//!
//! This single node coordinates every transactional id (FindCoordinator with key type 1
//! names it). The state lives in memory behind one lock ([`TxnCoordinator`]); every change
//! Kafka persists is appended to the id's `__transaction_state` partition
//! (`abs(javaHashCode(id)) % transaction.state.log.num.partitions`, Kafka's
//! `TransactionLogKey`/`TransactionLogValue` formats) before the request is answered, and
//! [`TxnCoordinator::load`] replays the topic at broker start.
//!
//! Ending a transaction follows Kafka's protocol, done synchronously because every partition
//! is local: the state moves to `PrepareCommit`/`PrepareAbort` (persisted), a control batch
//! with the commit or abort marker is appended to every partition of the transaction
//! ([`AppendOrigin::Coordinator`]; `__consumer_offsets` partitions go through the group
//! coordinator, which applies or drops the pending transactional offsets), then the state
//! moves to `CompleteCommit`/`CompleteAbort` (persisted). A crash between the two writes
//! leaves a `Prepare*` state in the log; [`TxnCoordinator::load`] writes the markers again and
//! completes it. Transactions still `Ongoing` after a restart keep their start time and are
//! aborted by the timeout check like any other, as in Kafka.
//!
//! Only transaction version 1 (KIP-98 with KIP-360/588 fencing) is served: the broker does
//! not advertise the `transaction.version` feature, so clients add partitions with
//! AddPartitionsToTxn and keep one epoch per producer session. Transactional ids idle for
//! `transactional.id.expiration.ms` are removed by the same periodic task.

pub(crate) mod state;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use kafka_protocol::ErrorCode;
use kafka_protocol::records::{
    ControlRecord, ControlRecordKind, RecordBatchBuilder, RecordBatches,
};

use self::state::{TxnMetadata, TxnState, decode_record, encode_record};
use crate::group::store::{OFFSETS_TOPIC, partition_for};
use crate::log::AppendOrigin;
use crate::state::Shared;
use crate::util::now_ms;

/// The internal topic holding the transaction log.
pub(crate) const TXN_TOPIC: &str = "__transaction_state";

/// Transaction coordinator settings (Kafka's broker keys and defaults).
#[derive(Debug, Clone)]
pub struct TxnConfig {
    /// `transaction.state.log.num.partitions` (50).
    pub state_partitions: i32,
    /// `transaction.max.timeout.ms` (900000): larger `transaction.timeout.ms` values are
    /// refused with INVALID_TRANSACTION_TIMEOUT.
    pub max_timeout_ms: i32,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms` (10000): how often
    /// transactions past their timeout are looked for and aborted (and expired transactional
    /// ids removed).
    pub abort_check_interval_ms: u64,
    /// `transactional.id.expiration.ms` (7 days): a transactional id with no transaction open
    /// and no update for this long is removed (a tombstone in `__transaction_state`).
    pub id_expiration_ms: i64,
}

impl Default for TxnConfig {
    fn default() -> Self {
        TxnConfig {
            state_partitions: 50,
            max_timeout_ms: 900_000,
            abort_check_interval_ms: 10_000,
            id_expiration_ms: 604_800_000,
        }
    }
}

/// One row of ListTransactions.
pub(crate) struct ListedTxn {
    pub(crate) transactional_id: String,
    pub(crate) producer_id: i64,
    pub(crate) state: &'static str,
}

/// The transaction coordinator of this node. See the [module docs](self).
pub(crate) struct TxnCoordinator {
    pub(crate) cfg: TxnConfig,
    txns: Mutex<HashMap<String, TxnMetadata>>,
    /// Test hook: stop after writing `Prepare*` (a simulated crash before the markers).
    #[cfg(test)]
    pub(crate) stop_after_prepare: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for TxnCoordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxnCoordinator").finish_non_exhaustive()
    }
}

impl TxnCoordinator {
    /// An empty coordinator (call [`load`](Self::load) to rebuild persisted state).
    pub(crate) fn new(cfg: TxnConfig) -> TxnCoordinator {
        TxnCoordinator {
            cfg,
            txns: Mutex::new(HashMap::new()),
            #[cfg(test)]
            stop_after_prepare: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, TxnMetadata>> {
        match self.txns.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// Creates `__transaction_state` unless it exists. Blocking.
    pub(crate) fn ensure_topic(&self, s: &Shared) -> Result<(), ErrorCode> {
        if s.metadata.snapshot().by_name.contains_key(TXN_TOPIC) {
            return Ok(());
        }
        let mut configs = BTreeMap::new();
        configs.insert("cleanup.policy".to_string(), "compact".to_string());
        configs.insert("segment.bytes".to_string(), "104857600".to_string());
        configs.insert("compression.type".to_string(), "producer".to_string());
        match s
            .metadata
            .create_topic(TXN_TOPIC, self.cfg.state_partitions, configs, false)
        {
            Ok(_) | Err((ErrorCode::TopicAlreadyExists, _)) => Ok(()),
            Err((e, m)) => {
                tracing::error!(error = %m, code = e.name(), "cannot create {TXN_TOPIC}");
                Err(ErrorCode::CoordinatorNotAvailable)
            }
        }
    }

    /// Appends the state of `id` to its `__transaction_state` partition.
    fn persist(&self, s: &Shared, id: &str, meta: &TxnMetadata) -> Result<(), ErrorCode> {
        self.append_record(s, id, Some(meta))
    }

    /// Appends the record of `id` (`None`: a tombstone) to its `__transaction_state` partition.
    fn append_record(
        &self,
        s: &Shared,
        id: &str,
        meta: Option<&TxnMetadata>,
    ) -> Result<(), ErrorCode> {
        self.ensure_topic(s)?;
        let snap = s.metadata.snapshot();
        let topic = snap
            .by_name
            .get(TXN_TOPIC)
            .ok_or(ErrorCode::CoordinatorNotAvailable)?;
        let p = partition_for(id, topic.partitions.len() as i32);
        let part = topic
            .partition(p)
            .ok_or(ErrorCode::CoordinatorNotAvailable)?;
        let now = now_ms();
        let (k, v) = encode_record(id, meta).map_err(|e| {
            tracing::error!(error = %e, "cannot encode a {TXN_TOPIC} record");
            ErrorCode::UnknownServerError
        })?;
        let mut b = RecordBatchBuilder::new(0);
        b.append(now, Some(&k), v.as_deref(), &[])
            .map_err(|_| ErrorCode::UnknownServerError)?;
        let batch = b.build().map_err(|_| ErrorCode::UnknownServerError)?;
        match part.with_log(|l| l.append_with_origin(batch, 0, now, AppendOrigin::Coordinator)) {
            Some(Ok(_)) => {
                part.wake();
                Ok(())
            }
            Some(Err(e)) => {
                tracing::error!(partition = p, error = %e, "writing {TXN_TOPIC} failed");
                Err(ErrorCode::CoordinatorNotAvailable)
            }
            None => Err(ErrorCode::CoordinatorNotAvailable),
        }
    }

    /// Rebuilds every transactional id from `__transaction_state` and completes transactions
    /// caught between `Prepare*` and `Complete*` (broker start; after the group coordinator
    /// loaded, so pending transactional offsets exist).
    pub(crate) fn load(&self, s: &Shared) {
        let snap = s.metadata.snapshot();
        let Some(topic) = snap.by_name.get(TXN_TOPIC) else {
            return;
        };
        let mut txns = self.lock();
        let mut count = 0usize;
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
                        continue;
                    }
                    for rec in batch.records() {
                        let Ok(rec) = rec else { break };
                        let Some(key) = rec.key else { continue };
                        match decode_record(key, rec.value) {
                            Ok((id, Some(meta))) => {
                                txns.insert(id, meta);
                                count += 1;
                            }
                            Ok((id, None)) => {
                                txns.remove(&id);
                            }
                            Err(e) => {
                                tracing::warn!(partition = part.index, offset = rec.offset, error = %e, "skipping undecodable {TXN_TOPIC} record")
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
        txns.retain(|_, m| m.state != TxnState::Dead);
        let ids: Vec<String> = txns
            .iter()
            .filter(|(_, m)| m.state.is_preparing() || m.state == TxnState::PrepareEpochFence)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            let Some(mut m) = txns.get(&id).cloned() else {
                continue;
            };
            let result = match m.state {
                TxnState::PrepareCommit => self.finish(s, &id, &mut m, true),
                TxnState::PrepareAbort => self.finish(s, &id, &mut m, false),
                // Fencing was interrupted before its abort was written: abort now.
                _ => {
                    m.state = TxnState::Ongoing;
                    self.complete(s, &id, &mut m, false)
                }
            };
            match result {
                Ok(()) => {
                    tracing::info!(transactional_id = %id, state = m.state.name(), "completed a transaction found unfinished at start")
                }
                Err(e) => {
                    tracing::warn!(transactional_id = %id, error = e.name(), "could not complete a transaction at start")
                }
            }
            txns.insert(id, m);
        }
        tracing::info!(
            transactional_ids = txns.len(),
            records = count,
            "transaction coordinator loaded {TXN_TOPIC}"
        );
    }

    /// InitProducerId with a transactional id: a new producer id, or the existing one with
    /// its epoch bumped (fencing older producers; an ongoing transaction is aborted first).
    /// `expected` is the v3+ producer id/epoch of a client re-initialising itself.
    pub(crate) fn init_producer_id(
        &self,
        s: &Shared,
        id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), ErrorCode> {
        if id.is_empty() {
            return Err(ErrorCode::InvalidRequest);
        }
        if timeout_ms <= 0 || timeout_ms > self.cfg.max_timeout_ms {
            return Err(ErrorCode::InvalidTransactionTimeout);
        }
        self.ensure_topic(s)?;
        let now = now_ms();
        let mut txns = self.lock();
        let Some(mut m) = txns.get(id).cloned() else {
            let pid = allocate_pid(s)?;
            let m = TxnMetadata::new(pid, timeout_ms, now);
            self.persist(s, id, &m)?;
            txns.insert(id.to_string(), m);
            return Ok((pid, 0));
        };
        if m.state.is_preparing() || m.state == TxnState::PrepareEpochFence {
            return Err(ErrorCode::ConcurrentTransactions);
        }
        if let Some((epid, eepoch)) = expected.filter(|(p, _)| *p >= 0) {
            let current = epid == m.producer_id && eepoch == m.epoch;
            // A retry of an init that already bumped: answer with the current id/epoch.
            let retried = (epid == m.prev_producer_id && m.epoch == 0)
                || (epid == m.producer_id && m.last_epoch >= 0 && eepoch == m.last_epoch);
            if retried && m.state == TxnState::Empty {
                return Ok((m.producer_id, m.epoch));
            }
            if !current {
                return Err(ErrorCode::ProducerFenced);
            }
        }
        if m.state == TxnState::Ongoing {
            self.fence_and_abort(s, id, &mut m)?;
            txns.insert(id.to_string(), m.clone());
        }
        if m.epoch >= i16::MAX - 1 {
            m.prev_producer_id = m.producer_id;
            m.producer_id = allocate_pid(s)?;
            m.epoch = 0;
            m.last_epoch = -1;
        } else {
            m.last_epoch = m.epoch;
            m.epoch += 1;
        }
        m.timeout_ms = timeout_ms;
        m.transition(TxnState::Empty, now)
            .map_err(|_| ErrorCode::ConcurrentTransactions)?;
        m.start_ts = -1;
        self.persist(s, id, &m)?;
        let out = (m.producer_id, m.epoch);
        txns.insert(id.to_string(), m);
        Ok(out)
    }

    /// Checks the producer id and epoch of a request against the id's state.
    fn check_producer(
        txns: &HashMap<String, TxnMetadata>,
        id: &str,
        producer_id: i64,
        epoch: i16,
    ) -> Result<TxnMetadata, ErrorCode> {
        let m = txns.get(id).ok_or(ErrorCode::InvalidProducerIdMapping)?;
        if m.producer_id != producer_id {
            return Err(ErrorCode::InvalidProducerIdMapping);
        }
        if m.epoch != epoch {
            return Err(ErrorCode::ProducerFenced);
        }
        Ok(m.clone())
    }

    /// TxnOffsetCommit's checks: `producer_id`/`epoch` are the current producer of `id`, and
    /// the group's `__consumer_offsets` partition is in its open transaction (added by
    /// AddOffsetsToTxn), else INVALID_TXN_STATE as Kafka answers.
    pub(crate) fn verify_offsets(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        offsets_partition: i32,
    ) -> Result<(), ErrorCode> {
        let txns = self.lock();
        let m = Self::check_producer(&txns, id, producer_id, epoch)?;
        let key = (OFFSETS_TOPIC.to_string(), offsets_partition);
        if m.state != TxnState::Ongoing || !m.partitions.contains(&key) {
            return Err(ErrorCode::InvalidTxnState);
        }
        Ok(())
    }

    /// Checks that `producer_id`/`epoch` are the current producer of `id` (TxnOffsetCommit).
    pub(crate) fn check_current(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
    ) -> Result<(), ErrorCode> {
        let txns = self.lock();
        Self::check_producer(&txns, id, producer_id, epoch).map(|_| ())
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn: adds partitions to the open transaction (opening
    /// one if none is).
    pub(crate) fn add_partitions(
        &self,
        s: &Shared,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<(), ErrorCode> {
        let now = now_ms();
        let mut txns = self.lock();
        let mut m = Self::check_producer(&txns, id, producer_id, epoch)?;
        if m.state.is_preparing() || m.state == TxnState::PrepareEpochFence {
            return Err(ErrorCode::ConcurrentTransactions);
        }
        if m.state == TxnState::Ongoing && partitions.iter().all(|p| m.partitions.contains(p)) {
            return Ok(());
        }
        m.partitions.extend(partitions.iter().cloned());
        m.transition(TxnState::Ongoing, now)
            .map_err(|_| ErrorCode::InvalidTxnState)?;
        self.persist(s, id, &m)?;
        txns.insert(id.to_string(), m);
        Ok(())
    }

    /// AddPartitionsToTxn v4+ with `verify_only`: whether each partition is in the open
    /// transaction (`Err` for the whole transaction).
    pub(crate) fn verify_partitions(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<Vec<bool>, ErrorCode> {
        let txns = self.lock();
        let m = Self::check_producer(&txns, id, producer_id, epoch)?;
        Ok(partitions
            .iter()
            .map(|p| m.state == TxnState::Ongoing && m.partitions.contains(p))
            .collect())
    }

    /// Produce-time check of a transactional batch of `id` (Kafka's partition verification,
    /// with the produce-side codes Apache Kafka answers).
    pub(crate) fn verify_produce(
        &self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
    ) -> Result<(), ErrorCode> {
        let txns = self.lock();
        let m = match Self::check_producer(&txns, id, producer_id, epoch) {
            Ok(m) => m,
            Err(ErrorCode::ProducerFenced) => return Err(ErrorCode::InvalidProducerEpoch),
            Err(e) => return Err(e),
        };
        if m.state.is_preparing() || m.state == TxnState::PrepareEpochFence {
            return Err(ErrorCode::NotEnoughReplicas);
        }
        let key = (topic.to_string(), partition);
        if m.state != TxnState::Ongoing || !m.partitions.contains(&key) {
            return Err(ErrorCode::TransactionAbortable);
        }
        Ok(())
    }

    /// EndTxn: commits or aborts the open transaction. A retry of an end that already
    /// completed succeeds.
    pub(crate) fn end_txn(
        &self,
        s: &Shared,
        id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> Result<(), ErrorCode> {
        let mut txns = self.lock();
        let mut m = Self::check_producer(&txns, id, producer_id, epoch)?;
        match (m.state, commit) {
            (TxnState::Ongoing, _) => {
                let r = self.complete(s, id, &mut m, commit);
                txns.insert(id.to_string(), m);
                r
            }
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => Ok(()),
            (TxnState::PrepareCommit, true) | (TxnState::PrepareAbort, false) => {
                Err(ErrorCode::ConcurrentTransactions)
            }
            (TxnState::PrepareEpochFence, _) => Err(ErrorCode::ConcurrentTransactions),
            _ => Err(ErrorCode::InvalidTxnState),
        }
    }

    /// Bumps the epoch of an ongoing transaction (fencing its producer) and aborts it.
    fn fence_and_abort(&self, s: &Shared, id: &str, m: &mut TxnMetadata) -> Result<(), ErrorCode> {
        if m.epoch < i16::MAX {
            m.last_epoch = m.epoch;
            m.epoch += 1;
        }
        self.complete(s, id, m, false)
    }

    /// Ongoing → Prepare* (persisted) → markers → Complete* (persisted).
    fn complete(
        &self,
        s: &Shared,
        id: &str,
        m: &mut TxnMetadata,
        commit: bool,
    ) -> Result<(), ErrorCode> {
        let now = now_ms();
        let before = m.clone();
        let prepare = if commit {
            TxnState::PrepareCommit
        } else {
            TxnState::PrepareAbort
        };
        m.transition(prepare, now)
            .map_err(|_| ErrorCode::InvalidTxnState)?;
        if let Err(e) = self.persist(s, id, m) {
            *m = before;
            return Err(e);
        }
        #[cfg(test)]
        if self
            .stop_after_prepare
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(());
        }
        self.finish(s, id, m, commit)
    }

    /// Writes the markers of a prepared transaction and completes it.
    fn finish(
        &self,
        s: &Shared,
        id: &str,
        m: &mut TxnMetadata,
        commit: bool,
    ) -> Result<(), ErrorCode> {
        write_markers(s, m.producer_id, m.epoch, commit, m.partitions.iter())?;
        let done = if commit {
            TxnState::CompleteCommit
        } else {
            TxnState::CompleteAbort
        };
        m.transition(done, now_ms())
            .map_err(|_| ErrorCode::InvalidTxnState)?;
        // The markers are written: a failure to log the completion is repaired at the next
        // load (which writes the markers again, harmlessly).
        if let Err(e) = self.persist(s, id, m) {
            tracing::warn!(transactional_id = %id, error = e.name(), "transaction completion not persisted");
        }
        Ok(())
    }

    /// Aborts every ongoing transaction past its timeout (with an epoch bump, so the producer
    /// is fenced), as Kafka's periodic check does. Returns how many were aborted.
    pub(crate) fn abort_expired(&self, s: &Shared, now_ms: i64) -> usize {
        let mut txns = self.lock();
        let expired: Vec<String> = txns
            .iter()
            .filter(|(_, m)| m.expired(now_ms))
            .map(|(id, _)| id.clone())
            .collect();
        let mut n = 0;
        for id in expired {
            let Some(mut m) = txns.get(&id).cloned() else {
                continue;
            };
            match self.fence_and_abort(s, &id, &mut m) {
                Ok(()) => {
                    n += 1;
                    tracing::info!(transactional_id = %id, "aborted a transaction past its timeout");
                }
                Err(e) => {
                    tracing::warn!(transactional_id = %id, error = e.name(), "aborting a timed-out transaction failed")
                }
            }
            txns.insert(id, m);
        }
        n
    }

    /// Writes the markers of transactions left in `PrepareCommit`/`PrepareAbort` by a failed
    /// marker write (a storage error) and completes them. Returns how many completed.
    pub(crate) fn retry_prepared(&self, s: &Shared) -> usize {
        let mut txns = self.lock();
        let stuck: Vec<String> = txns
            .iter()
            .filter(|(_, m)| m.state.is_preparing())
            .map(|(id, _)| id.clone())
            .collect();
        let mut n = 0;
        for id in stuck {
            let Some(mut m) = txns.get(&id).cloned() else {
                continue;
            };
            let commit = m.state == TxnState::PrepareCommit;
            match self.finish(s, &id, &mut m, commit) {
                Ok(()) => {
                    n += 1;
                    txns.insert(id, m);
                }
                Err(e) => {
                    tracing::warn!(transactional_id = %id, error = e.name(), "writing transaction markers failed again")
                }
            }
        }
        n
    }

    /// Removes transactional ids idle for `transactional.id.expiration.ms` with no transaction
    /// open (Kafka: state Dead, then a tombstone). Returns how many were removed.
    pub(crate) fn remove_expired_ids(&self, s: &Shared, now_ms: i64) -> usize {
        let mut txns = self.lock();
        let expired: Vec<String> = txns
            .iter()
            .filter(|(_, m)| {
                matches!(
                    m.state,
                    TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
                ) && now_ms.saturating_sub(m.update_ts) >= self.cfg.id_expiration_ms
            })
            .map(|(id, _)| id.clone())
            .collect();
        let mut n = 0;
        for id in expired {
            match self.append_record(s, &id, None) {
                Ok(()) => {
                    txns.remove(&id);
                    n += 1;
                    tracing::info!(transactional_id = %id, "removed an expired transactional id");
                }
                Err(e) => {
                    tracing::warn!(transactional_id = %id, error = e.name(), "removing an expired transactional id failed")
                }
            }
        }
        n
    }

    /// DescribeTransactions of one id.
    pub(crate) fn describe(&self, id: &str) -> Option<TxnMetadata> {
        self.lock().get(id).cloned()
    }

    /// ListTransactions with Kafka's filters: states (empty = all), producer ids (empty =
    /// all), `min_duration_ms` (-1 = no filter; else only ongoing transactions running
    /// longer).
    pub(crate) fn list(
        &self,
        states: &[String],
        producer_ids: &[i64],
        min_duration_ms: i64,
        now_ms: i64,
    ) -> Vec<ListedTxn> {
        let txns = self.lock();
        let mut out: Vec<ListedTxn> = txns
            .iter()
            .filter(|(_, m)| states.is_empty() || states.iter().any(|s| s == m.state.name()))
            .filter(|(_, m)| producer_ids.is_empty() || producer_ids.contains(&m.producer_id))
            .filter(|(_, m)| {
                min_duration_ms < 0
                    || (m.state == TxnState::Ongoing
                        && m.start_ts >= 0
                        && now_ms.saturating_sub(m.start_ts) > min_duration_ms)
            })
            .map(|(id, m)| ListedTxn {
                transactional_id: id.clone(),
                producer_id: m.producer_id,
                state: m.state.name(),
            })
            .collect();
        out.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        out
    }
}

/// A fresh producer id from the broker's persisted counter.
fn allocate_pid(s: &Shared) -> Result<i64, ErrorCode> {
    match s.producer_ids.lock() {
        Ok(mut p) => p.allocate().map_err(|e| {
            tracing::error!("allocating a producer id failed: {e}");
            ErrorCode::KafkaStorageError
        }),
        Err(_) => Err(ErrorCode::UnknownServerError),
    }
}

/// Appends a commit or abort marker of `producer_id`/`epoch` to each partition.
/// `__consumer_offsets` partitions are handed to the group coordinator (which applies or
/// drops the transaction's offsets); partitions of deleted topics are skipped, as Kafka does.
pub(crate) fn write_markers<'a>(
    s: &Shared,
    producer_id: i64,
    epoch: i16,
    commit: bool,
    partitions: impl Iterator<Item = &'a (String, i32)>,
) -> Result<(), ErrorCode> {
    let now = now_ms();
    let snap = s.metadata.snapshot();
    let marker = ControlRecord {
        kind: if commit {
            ControlRecordKind::Commit
        } else {
            ControlRecordKind::Abort
        },
        coordinator_epoch: 0,
    };
    for (topic, p) in partitions {
        if topic == OFFSETS_TOPIC {
            s.groups
                .complete_txn(&s.metadata, *p, producer_id, epoch, commit)?;
            continue;
        }
        let Some(part) = snap.by_name.get(topic).and_then(|t| t.partition(*p)) else {
            tracing::debug!(topic = %topic, partition = p, "marker skipped: partition gone");
            continue;
        };
        let batch = RecordBatchBuilder::control_batch(0, now, 0, producer_id, epoch, marker)
            .map_err(|_| ErrorCode::UnknownServerError)?;
        match part.with_log(|l| l.append_with_origin(batch, 0, now, AppendOrigin::Coordinator)) {
            Some(Ok(_)) => part.wake(),
            Some(Err(e)) => {
                tracing::error!(topic = %topic, partition = p, error = %e, "writing a transaction marker failed");
                return Err(ErrorCode::CoordinatorNotAvailable);
            }
            None => {}
        }
    }
    Ok(())
}

/// The abort check task: every `transaction.abort.timed.out.transaction.cleanup.interval.ms`
/// retries the markers of transactions a storage error left prepared, aborts transactions past
/// their timeout and removes expired transactional ids (one blocking pass per tick).
pub(crate) async fn run_expiry(s: Arc<Shared>) {
    let mut shutdown = s.shutdown.clone();
    let every = std::time::Duration::from_millis(s.txns.cfg.abort_check_interval_ms.max(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let s2 = s.clone();
        crate::state::blocking(move || {
            let now = now_ms();
            s2.txns.retry_prepared(&s2);
            s2.txns.abort_expired(&s2, now);
            s2.txns.remove_expired_ids(&s2, now);
        })
        .await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
