//! The transactional producer's API ([`Producer::init_transactions`] and friends) and the task
//! that adds partitions to the transaction (AddPartitionsToTxn) before their first batch is
//! sent.
//!
//! Two protocols, chosen at `init_transactions` from the `transaction.version` feature the
//! cluster finalized (ApiVersions), as the Java client does:
//!
//! - **Version 1**: AddPartitionsToTxn (≤ v3) for each partition before its first batch leaves
//!   (the sender does not drain it before), AddOffsetsToTxn before TxnOffsetCommit (≤ v4),
//!   Produce ≤ v11, EndTxn ≤ v4; the epoch stays for the producer's life unless a sequence
//!   became unresolved, then InitProducerId with the current id and epoch after the abort
//!   (KIP-360).
//! - **Version 2** (KIP-890, what Apache Kafka 4.x finalizes by default): Produce v12+ adds the
//!   partition itself, TxnOffsetCommit v5 adds the group itself, and EndTxn v5 bumps the epoch
//!   every transaction (its response carries the new epoch; sequences restart at 0).
//!
//! The choice is made once, at `init_transactions`; unlike Java (which re-reads the features
//! its connections learnt at `begin_transaction`), a `transaction.version` change while the
//! producer runs is picked up by the next producer only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_client::{
    ConsumerGroupMetadata, CoordinatorType, Error as ClientError, SendOptions, Target,
};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest, ApiVersionsRequest,
    EndTxnRequest, EndTxnResponse, InitProducerIdRequest, InitProducerIdResponse,
    TxnOffsetCommitRequest,
};
use tokio::time::Instant;

use crate::engine::Engine;
use crate::txn::{TxnErrorKind, TxnManager, TxnState, classify, classify_client};
use crate::{Producer, ProducerError};

/// One consumed position to commit inside a transaction
/// ([`Producer::send_offsets_to_transaction`]): the offset of the *next* record to consume.
///
/// ```
/// use kafka_producer::TxnOffset;
/// let o = TxnOffset::new("orders", 3, 42).with_metadata("batch 7");
/// assert_eq!((o.partition, o.offset, o.leader_epoch), (3, 42, None));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnOffset {
    /// The consumed topic.
    pub topic: String,
    /// The consumed partition.
    pub partition: i32,
    /// The next offset to consume.
    pub offset: i64,
    /// The leader epoch of the last consumed record, if known.
    pub leader_epoch: Option<i32>,
    /// Metadata stored with the offset.
    pub metadata: Option<String>,
}

impl TxnOffset {
    /// An offset without leader epoch or metadata.
    pub fn new(topic: impl Into<String>, partition: i32, offset: i64) -> TxnOffset {
        TxnOffset {
            topic: topic.into(),
            partition,
            offset,
            leader_epoch: None,
            metadata: None,
        }
    }

    /// Sets the leader epoch of the last consumed record.
    pub fn with_leader_epoch(mut self, epoch: Option<i32>) -> TxnOffset {
        self.leader_epoch = epoch;
        self
    }

    /// Sets the metadata string.
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> TxnOffset {
        self.metadata = Some(metadata.into());
        self
    }
}

/// Backoff after CONCURRENT_TRANSACTIONS on AddPartitionsToTxn: the previous transaction's
/// markers are being written, which takes milliseconds (Java uses 20 ms as well).
const CONCURRENT_TXN_BACKOFF: Duration = Duration::from_millis(20);

impl<K, V> Producer<K, V> {
    fn txn(&self) -> Result<&Arc<TxnManager>, ProducerError> {
        self.engine().txn.as_ref().ok_or_else(|| {
            ProducerError::InvalidTxnState(
                "the producer has no transactional.id: transactions are not enabled".into(),
            )
        })
    }

    /// Turns a failed coordinator request into the error the caller sees, moving the
    /// producer to a fatal or abortable state as the error's class says (retriable errors,
    /// such as timeouts, leave the state as it is: the call may be repeated).
    fn txn_failure(&self, txn: &TxnManager, e: ClientError) -> ProducerError {
        let before = txn.state();
        let out = match classify_client(&e) {
            TxnErrorKind::Fatal => txn.fatal(ProducerError::Client(e)),
            TxnErrorKind::Abortable => txn.abortable(ProducerError::Client(e)),
            TxnErrorKind::Retriable => return ProducerError::Client(e),
        };
        let now = txn.state();
        if now != before && matches!(now, TxnState::AbortableError | TxnState::FatalError) {
            // Nothing buffered will be sent in this transaction: fail it now.
            self.engine().abort_all(out.clone());
        }
        out
    }

    /// Gets the producer id and epoch for `transactional.id` from the transaction
    /// coordinator (FindCoordinator, then InitProducerId with `transaction.timeout.ms`). This
    /// fences any earlier producer with the same `transactional.id`: its open transaction is
    /// aborted and its later requests fail with PRODUCER_FENCED. Call it once, before the
    /// first [`begin_transaction`](Producer::begin_transaction).
    ///
    /// COORDINATOR_LOAD_IN_PROGRESS, CONCURRENT_TRANSACTIONS and NOT_COORDINATOR are retried
    /// until `default.api.timeout.ms`; after a timeout the call may be repeated.
    ///
    /// ```no_run
    /// use kafka_producer::{Producer, ProducerRecord, config::ProducerConfig};
    ///
    /// # async fn demo() -> Result<(), kafka_producer::ProducerError> {
    /// let config = ProducerConfig::from_properties([
    ///     ("bootstrap.servers", "localhost:9092"),
    ///     ("transactional.id", "orders-writer-1"),
    /// ])?;
    /// let producer: Producer<String, String> = Producer::new(config).await?;
    /// producer.init_transactions().await?;
    /// producer.begin_transaction()?;
    /// producer.send(ProducerRecord::new("orders", Some("o-1".to_string()), "created".to_string())).await?;
    /// producer.send(ProducerRecord::new("audit", None, "o-1 created".to_string())).await?;
    /// match producer.commit_transaction().await {
    ///     Ok(()) => {}
    ///     Err(e) if e.is_abortable() => producer.abort_transaction().await?,
    ///     Err(e) => return Err(e), // fatal (fenced): close the producer
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// Cancel safe in the sense that dropping the future leaves the producer uninitialized
    /// or initialized, never half-way: the call can be repeated.
    pub async fn init_transactions(&self) -> Result<(), ProducerError> {
        let txn = self.txn()?.clone();
        {
            let mut g = txn.lock();
            if g.state != TxnState::Initializing {
                TxnManager::transition_locked(&mut g, TxnState::Initializing, "init_transactions")?;
            }
        }
        let engine = self.engine();
        let client = &engine.client;
        let tv2 = match transaction_version(client).await {
            Ok(v) => v >= 2,
            Err(e) => {
                txn.lock().state = TxnState::Uninitialized;
                return Err(ProducerError::Client(e));
            }
        };
        txn.lock().tv2 = tv2;
        let req = InitProducerIdRequest {
            transactional_id: Some(txn.transactional_id.clone()),
            transaction_timeout_ms: i32::try_from(txn.timeout.as_millis()).unwrap_or(i32::MAX),
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        };
        let r: Result<InitProducerIdResponse, ClientError> = client
            .send_checked(
                &Target::TxnCoordinator(txn.transactional_id.clone()),
                &req,
                SendOptions::default(),
                |r: &InitProducerIdResponse| ErrorCode::from_i16(r.error_code),
            )
            .await;
        match r {
            Ok(resp) => {
                tracing::info!(
                    transactional_id = %txn.transactional_id,
                    producer_id = resp.producer_id,
                    epoch = resp.producer_epoch,
                    transaction_version = if tv2 { 2 } else { 1 },
                    "transactional producer initialized"
                );
                engine.set_producer((resp.producer_id, resp.producer_epoch));
                txn.transition(TxnState::Ready, "init_transactions")
            }
            Err(e) => match classify_client(&e) {
                TxnErrorKind::Retriable => {
                    txn.lock().state = TxnState::Uninitialized;
                    Err(ProducerError::Client(e))
                }
                _ => Err(txn.fatal(ProducerError::Client(e))),
            },
        }
    }

    /// The transaction protocol in use after [`init_transactions`](Producer::init_transactions):
    /// `Some(2)` when the cluster finalized `transaction.version` 2 (KIP-890: partitions and
    /// groups join implicitly, every EndTxn bumps the epoch), `Some(1)` otherwise (explicit
    /// AddPartitionsToTxn / AddOffsetsToTxn); `None` before, or without `transactional.id`.
    pub fn transaction_version(&self) -> Option<i16> {
        let txn = self.engine().txn.as_ref()?;
        let g = txn.lock();
        match g.state {
            TxnState::Uninitialized | TxnState::Initializing => None,
            _ => Some(if g.tv2 { 2 } else { 1 }),
        }
    }

    /// Starts a transaction: records sent from now until
    /// [`commit_transaction`](Producer::commit_transaction) or
    /// [`abort_transaction`](Producer::abort_transaction) become visible to `read_committed`
    /// consumers together, or not at all. No request is sent here.
    pub fn begin_transaction(&self) -> Result<(), ProducerError> {
        self.txn()?
            .transition(TxnState::InTransaction, "begin_transaction")
    }

    /// Commits consumed offsets as part of the transaction, for consume-transform-produce
    /// (exactly-once): they become the group's committed offsets only if the transaction
    /// commits. `group` comes from the consumer
    /// (`Consumer::consumer_group_metadata`), so the group coordinator can refuse offsets from
    /// a consumer that is no longer a member (then the transaction must be aborted).
    ///
    /// Transaction version 1: AddOffsetsToTxn to the transaction coordinator, then
    /// TxnOffsetCommit to the group coordinator; version 2: TxnOffsetCommit v5 only.
    ///
    /// ```no_run
    /// use kafka_producer::{ConsumerGroupMetadata, Producer, TxnOffset};
    /// # async fn demo(producer: Producer<String, String>) -> Result<(), kafka_producer::ProducerError> {
    /// producer.begin_transaction()?;
    /// // ... send the transformed records ...
    /// let group = ConsumerGroupMetadata::new("my-app");
    /// producer.send_offsets_to_transaction([TxnOffset::new("input", 0, 1234)], &group).await?;
    /// producer.commit_transaction().await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_offsets_to_transaction<I>(
        &self,
        offsets: I,
        group: &ConsumerGroupMetadata,
    ) -> Result<(), ProducerError>
    where
        I: IntoIterator<Item = TxnOffset>,
    {
        let txn = self.txn()?.clone();
        let tv2 = {
            let g = txn.lock();
            if let Some(e) = TxnManager::error_of(&g) {
                return Err(e);
            }
            if g.state != TxnState::InTransaction {
                return Err(ProducerError::InvalidTxnState(format!(
                    "send_offsets_to_transaction needs an open transaction (state {:?})",
                    g.state
                )));
            }
            g.tv2
        };
        let engine = self.engine();
        let client = &engine.client;
        let (pid, epoch) = engine.producer_id_and_epoch();
        if !tv2 {
            let req = AddOffsetsToTxnRequest {
                transactional_id: txn.transactional_id.clone(),
                producer_id: pid,
                producer_epoch: epoch,
                group_id: group.group_id.clone(),
                ..Default::default()
            };
            let r: Result<AddOffsetsToTxnResponse, ClientError> = client
                .send_checked(
                    &Target::TxnCoordinator(txn.transactional_id.clone()),
                    &req,
                    SendOptions::default(),
                    |r: &AddOffsetsToTxnResponse| ErrorCode::from_i16(r.error_code),
                )
                .await;
            if let Err(e) = r {
                return Err(self.txn_failure(&txn, e));
            }
        }
        txn.mark_started();
        let mut todo: BTreeMap<(String, i32), TxnOffset> = offsets
            .into_iter()
            .map(|o| ((o.topic.clone(), o.partition), o))
            .collect();
        let deadline = Instant::now() + client.config().default_api_timeout;
        let backoff = &engine.s.backoff;
        let mut attempt = 0u32;
        while !todo.is_empty() {
            let mut topics: Vec<TxnOffsetCommitRequestTopic> = Vec::new();
            for ((topic, partition), o) in &todo {
                if topics.last().is_none_or(|t| &t.name != topic) {
                    topics.push(TxnOffsetCommitRequestTopic {
                        name: topic.clone(),
                        ..Default::default()
                    });
                }
                if let Some(t) = topics.last_mut() {
                    t.partitions.push(TxnOffsetCommitRequestPartition {
                        partition_index: *partition,
                        committed_offset: o.offset,
                        committed_leader_epoch: o.leader_epoch.unwrap_or(-1),
                        committed_metadata: o.metadata.clone(),
                        ..Default::default()
                    });
                }
            }
            let req = TxnOffsetCommitRequest {
                transactional_id: txn.transactional_id.clone(),
                group_id: group.group_id.clone(),
                producer_id: pid,
                producer_epoch: epoch,
                generation_id: group.generation_id,
                member_id: group.member_id.clone(),
                group_instance_id: group.group_instance_id.clone(),
                topics,
                ..Default::default()
            };
            let target = Target::GroupCoordinator(group.group_id.clone());
            let opts = SendOptions::default().max_version(if tv2 { 5 } else { 4 });
            let resp = match client.send_opts(target.clone(), req, opts).await {
                Ok(r) => r,
                Err(e) => return Err(self.txn_failure(&txn, e)),
            };
            let mut retry_code = None;
            for t in &resp.topics {
                for p in &t.partitions {
                    let code = ErrorCode::from_i16(p.error_code);
                    let key = (t.name.clone(), p.partition_index);
                    if code.is_ok() {
                        todo.remove(&key);
                        continue;
                    }
                    match classify(code) {
                        TxnErrorKind::Retriable => retry_code = Some(code),
                        _ => {
                            let e = ClientError::kafka(
                                code,
                                Some(format!(
                                    "TxnOffsetCommit of {}-{} for group {}",
                                    t.name, p.partition_index, group.group_id
                                )),
                            );
                            return Err(self.txn_failure(&txn, e));
                        }
                    }
                }
            }
            if todo.is_empty() {
                break;
            }
            let code = retry_code.unwrap_or(ErrorCode::UnknownServerError);
            if kafka_client::retry::is_coordinator_error(code) {
                client.invalidate_coordinator(CoordinatorType::Group, &group.group_id);
            }
            attempt += 1;
            let pause = backoff.delay(attempt);
            if Instant::now() + pause >= deadline {
                return Err(ProducerError::Client(ClientError::kafka(
                    code,
                    Some(format!(
                        "TxnOffsetCommit not accepted within default.api.timeout.ms ({} partitions left)",
                        todo.len()
                    )),
                )));
            }
            tokio::time::sleep(pause).await;
        }
        Ok(())
    }

    /// Commits the transaction: sends every buffered record (as
    /// [`flush`](Producer::flush)), and when all were acknowledged, EndTxn(commit) to the
    /// transaction coordinator. After it returns, `read_committed` consumers see the
    /// transaction's records and offsets.
    ///
    /// Errors: [`ProducerError::TxnAbortable`] when a record of the transaction failed (call
    /// [`abort_transaction`](Producer::abort_transaction)), [`ProducerError::TxnFatal`] when
    /// the producer was fenced (close it), or a retriable error (timeout) after which the call
    /// may be repeated.
    pub async fn commit_transaction(&self) -> Result<(), ProducerError> {
        let txn = self.txn()?.clone();
        {
            let mut g = txn.lock();
            if g.state != TxnState::CommittingTransaction {
                TxnManager::transition_locked(
                    &mut g,
                    TxnState::CommittingTransaction,
                    "commit_transaction",
                )?;
            }
        }
        for t in self.engine().flush_targets() {
            t.wait().await;
        }
        if let Some(e) = TxnManager::error_of(&txn.lock()) {
            return Err(e);
        }
        self.end_transaction(&txn, true).await
    }

    /// Aborts the transaction: records not sent yet are dropped (their futures and callbacks
    /// get [`ProducerError::TransactionAborted`]), records in flight are waited for, then
    /// EndTxn(abort) makes the coordinator write abort markers, so `read_committed` consumers
    /// never see the transaction. Afterwards a new transaction can begin.
    ///
    /// Allowed in a transaction and after an abortable error; not after a fatal one.
    pub async fn abort_transaction(&self) -> Result<(), ProducerError> {
        let txn = self.txn()?.clone();
        {
            let mut g = txn.lock();
            if g.state != TxnState::AbortingTransaction {
                TxnManager::transition_locked(
                    &mut g,
                    TxnState::AbortingTransaction,
                    "abort_transaction",
                )?;
            }
            g.new_partitions.clear();
        }
        let engine = self.engine();
        // Drop what was not sent; wait for what is in flight (batches that come back for a
        // retry are dropped on the next round) and for an AddPartitionsToTxn in flight.
        let deadline = Instant::now() + engine.s.delivery_timeout;
        loop {
            engine.abort_all(ProducerError::TransactionAborted);
            let targets = engine.flush_targets();
            let adding = !txn.lock().pending.is_empty();
            if targets.is_empty() && !adding {
                break;
            }
            if Instant::now() >= deadline {
                return Err(ProducerError::MaxBlock {
                    what: "in-flight records of the aborted transaction".into(),
                    timeout: engine.s.delivery_timeout,
                });
            }
            let all = async {
                for t in targets {
                    t.wait().await;
                }
            };
            let _ = tokio::time::timeout(Duration::from_millis(50), all).await;
        }
        self.end_transaction(&txn, false).await
    }

    /// EndTxn (when anything joined the transaction on the coordinator), the epoch bump it
    /// implies, and back to Ready.
    async fn end_transaction(&self, txn: &TxnManager, commit: bool) -> Result<(), ProducerError> {
        let engine = self.engine();
        let client = &engine.client;
        let (started, tv2) = {
            let g = txn.lock();
            (g.started, g.tv2)
        };
        let target = Target::TxnCoordinator(txn.transactional_id.clone());
        if started {
            let (pid, epoch) = engine.producer_id_and_epoch();
            let req = EndTxnRequest {
                transactional_id: txn.transactional_id.clone(),
                producer_id: pid,
                producer_epoch: epoch,
                committed: commit,
                ..Default::default()
            };
            let opts = SendOptions::default().max_version(if tv2 { 5 } else { 4 });
            let r: Result<EndTxnResponse, ClientError> = client
                .send_checked(&target, &req, opts, |r: &EndTxnResponse| {
                    ErrorCode::from_i16(r.error_code)
                })
                .await;
            match r {
                Ok(resp) => {
                    if resp.producer_id >= 0 {
                        // EndTxn v5 (transaction version 2) bumped the epoch.
                        engine.set_producer((resp.producer_id, resp.producer_epoch));
                        txn.lock().bump_required = false;
                    }
                }
                Err(e) => return Err(self.txn_failure(txn, e)),
            }
        }
        let bump = {
            let mut g = txn.lock();
            std::mem::take(&mut g.bump_required) && !commit
        };
        if bump {
            // A sequence of the aborted transaction is unresolved: a new epoch (KIP-360).
            let (pid, epoch) = engine.producer_id_and_epoch();
            let req = InitProducerIdRequest {
                transactional_id: Some(txn.transactional_id.clone()),
                transaction_timeout_ms: i32::try_from(txn.timeout.as_millis()).unwrap_or(i32::MAX),
                producer_id: pid,
                producer_epoch: epoch,
                ..Default::default()
            };
            let r: Result<InitProducerIdResponse, ClientError> = client
                .send_checked(&target, &req, SendOptions::default(), |r| {
                    ErrorCode::from_i16(r.error_code)
                })
                .await;
            match r {
                Ok(resp) => engine.set_producer((resp.producer_id, resp.producer_epoch)),
                Err(e) => {
                    txn.lock().bump_required = true;
                    return Err(self.txn_failure(txn, e));
                }
            }
        }
        txn.complete()?;
        tracing::debug!(transactional_id = %txn.transactional_id, commit, "transaction completed");
        Ok(())
    }
}

/// The `transaction.version` the cluster finalized (0 when it names none), from ApiVersions.
async fn transaction_version(client: &kafka_client::Client) -> Result<i16, ClientError> {
    let req = ApiVersionsRequest {
        client_software_name: "kafka-suite".into(),
        client_software_version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    };
    let resp = client.send(Target::AnyBroker, req).await?;
    Ok(resp
        .finalized_features
        .iter()
        .find(|f| f.name == "transaction.version")
        .map(|f| f.max_version_level)
        .unwrap_or(0))
}

impl Engine {
    /// Sends AddPartitionsToTxn for partitions that joined the transaction (transaction
    /// version 1), then lets the sender drain them. Runs for the producer's life.
    pub(crate) async fn txn_loop(self: Arc<Self>) {
        let Some(txn) = self.txn.clone() else {
            return;
        };
        let mut attempt = 0u32;
        loop {
            if self.is_stopped() {
                break;
            }
            let parts: Vec<(Arc<str>, i32)> = {
                let mut g = txn.lock();
                let open = matches!(
                    g.state,
                    TxnState::InTransaction | TxnState::CommittingTransaction
                );
                if open && !g.new_partitions.is_empty() && g.pending.is_empty() {
                    let p: Vec<_> = std::mem::take(&mut g.new_partitions).into_iter().collect();
                    g.pending.extend(p.iter().cloned());
                    p
                } else {
                    if !open {
                        g.new_partitions.clear();
                    }
                    Vec::new()
                }
            };
            if parts.is_empty() {
                tokio::select! {
                    _ = txn.wake.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
                continue;
            }
            let pause = self.add_partitions(&txn, parts).await;
            match pause {
                None => attempt = 0,
                Some(p) => {
                    attempt += 1;
                    let d = p.unwrap_or_else(|| self.s.backoff.delay(attempt));
                    tokio::time::sleep(d).await;
                }
            }
        }
    }

    /// One AddPartitionsToTxn round; returns `Some(backoff)` when partitions must be retried
    /// (`Some(None)`: the usual retry backoff).
    async fn add_partitions(
        &self,
        txn: &TxnManager,
        parts: Vec<(Arc<str>, i32)>,
    ) -> Option<Option<Duration>> {
        let (pid, epoch) = self.producer_id_and_epoch();
        let mut topics: Vec<AddPartitionsToTxnTopic> = Vec::new();
        for (t, p) in &parts {
            if topics.last().is_none_or(|x| x.name != **t) {
                topics.push(AddPartitionsToTxnTopic {
                    name: t.to_string(),
                    ..Default::default()
                });
            }
            if let Some(x) = topics.last_mut() {
                x.partitions.push(*p);
            }
        }
        let req = AddPartitionsToTxnRequest {
            v3_and_below_transactional_id: txn.transactional_id.clone(),
            v3_and_below_producer_id: pid,
            v3_and_below_producer_epoch: epoch,
            v3_and_below_topics: topics,
            ..Default::default()
        };
        let target = Target::TxnCoordinator(txn.transactional_id.clone());
        let r = self
            .client
            .send_opts(target.clone(), req, SendOptions::default().max_version(3))
            .await;
        let resp = match r {
            Ok(r) => r,
            Err(e) => {
                return self.add_partitions_failed(
                    txn,
                    &parts,
                    Vec::new(),
                    ProducerError::Client(e),
                );
            }
        };
        let mut ok = Vec::new();
        let mut retry = Vec::new();
        let mut retry_pause = None;
        let mut failure: Option<(TxnErrorKind, ClientError)> = None;
        for t in &resp.results_by_topic_v3_and_below {
            for p in &t.results_by_partition {
                let Some(key) = parts
                    .iter()
                    .find(|(n, i)| **n == *t.name && *i == p.partition_index)
                    .cloned()
                else {
                    continue;
                };
                let code = ErrorCode::from_i16(p.partition_error_code);
                if code.is_ok() {
                    ok.push(key);
                    continue;
                }
                let kind = if code == ErrorCode::OperationNotAttempted {
                    TxnErrorKind::Retriable
                } else {
                    classify(code)
                };
                match kind {
                    TxnErrorKind::Retriable => {
                        if kafka_client::retry::is_coordinator_error(code) {
                            self.client.invalidate_coordinator(
                                CoordinatorType::Transaction,
                                &txn.transactional_id,
                            );
                        }
                        if code == ErrorCode::ConcurrentTransactions {
                            retry_pause = Some(CONCURRENT_TXN_BACKOFF);
                        }
                        retry.push(key);
                    }
                    k => {
                        let worse = failure
                            .as_ref()
                            .is_none_or(|(f, _)| *f != TxnErrorKind::Fatal);
                        if worse {
                            let msg =
                                format!("AddPartitionsToTxn {}-{}", t.name, p.partition_index);
                            failure = Some((k, ClientError::kafka(code, Some(msg))));
                        }
                        retry.push(key);
                    }
                }
            }
        }
        // Partitions missing from the response are retried.
        for key in &parts {
            if !ok.contains(key) && !retry.contains(key) {
                retry.push(key.clone());
            }
        }
        {
            let mut g = txn.lock();
            for key in &ok {
                g.pending.remove(key);
                g.added.insert(key.clone());
                g.started = true;
            }
        }
        for (t, p) in &ok {
            self.wake_leader_of(t, *p);
        }
        if let Some((_, e)) = failure {
            return self.add_partitions_failed(txn, &retry, ok, ProducerError::Client(e));
        }
        let mut g = txn.lock();
        for key in retry.iter() {
            g.pending.remove(key);
            g.new_partitions.insert(key.clone());
        }
        if retry.is_empty() {
            None
        } else {
            Some(retry_pause)
        }
    }

    fn add_partitions_failed(
        &self,
        txn: &TxnManager,
        failed: &[(Arc<str>, i32)],
        _ok: Vec<(Arc<str>, i32)>,
        err: ProducerError,
    ) -> Option<Option<Duration>> {
        let kind = match &err {
            ProducerError::Client(c) => classify_client(c),
            _ => TxnErrorKind::Abortable,
        };
        {
            let mut g = txn.lock();
            for key in failed {
                g.pending.remove(key);
                if kind == TxnErrorKind::Retriable {
                    g.new_partitions.insert(key.clone());
                }
            }
        }
        match kind {
            TxnErrorKind::Retriable => {
                tracing::debug!(error = %err, "AddPartitionsToTxn failed; retrying");
                Some(None)
            }
            _ => {
                if let Some(state_err) = txn.on_batch_error(&err) {
                    self.abort_all(state_err);
                } else {
                    // Already failed: these partitions' records can never be sent.
                    self.fail_unsent(failed, &crate::txn::wrap_abortable(err));
                }
                None
            }
        }
    }
}
