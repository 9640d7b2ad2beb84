//! The transaction manager's state: the state machine of Java's `TransactionManager`, the
//! partitions of the current transaction, and how errors are classified.
//!
//! Locking: one `Mutex` over [`TxnInner`]. The engine calls [`TxnManager::may_drain`] while it
//! holds a partition's lock, so this lock is always taken *after* a partition lock and never
//! held while taking one.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use kafka_protocol::ErrorCode;
use tokio::sync::Notify;

use crate::ProducerError;

/// The states of a transactional producer (Java's `TransactionManager.State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnState {
    /// `init_transactions` was not called yet.
    Uninitialized,
    /// InitProducerId is under way.
    Initializing,
    /// Between transactions.
    Ready,
    /// `begin_transaction` was called; records and offsets join the transaction.
    InTransaction,
    /// `commit_transaction`: flushing, then EndTxn(commit).
    CommittingTransaction,
    /// `abort_transaction`: dropping unsent records, then EndTxn(abort).
    AbortingTransaction,
    /// The transaction failed; only an abort can follow.
    AbortableError,
    /// The producer cannot go on.
    FatalError,
}

impl TxnState {
    /// Whether `self -> to` is a transition the state machine allows (Java's
    /// `isTransitionValid`, without the two-phase-commit states).
    pub(crate) fn can_move_to(self, to: TxnState) -> bool {
        use TxnState::*;
        match to {
            Uninitialized => false,
            Initializing => matches!(self, Uninitialized | AbortingTransaction),
            Ready => matches!(
                self,
                Initializing | CommittingTransaction | AbortingTransaction
            ),
            InTransaction => self == Ready,
            CommittingTransaction => self == InTransaction,
            AbortingTransaction => matches!(self, InTransaction | AbortableError),
            AbortableError => {
                matches!(self, InTransaction | CommittingTransaction | AbortableError)
            }
            FatalError => true,
        }
    }
}

/// How a transactional producer reacts to an error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxnErrorKind {
    /// Try again (after a coordinator lookup for coordinator errors).
    Retriable,
    /// The transaction must be aborted; the producer then goes on.
    Abortable,
    /// The producer must be closed.
    Fatal,
}

/// Classifies an error code the way Java's transaction manager does: fencing, authorization
/// of the transactional id, an invalid transaction state and unsupported versions are fatal;
/// retriable codes (including CONCURRENT_TRANSACTIONS and the coordinator codes) are retried;
/// everything else fails the current transaction, which must then be aborted.
pub(crate) fn classify(code: ErrorCode) -> TxnErrorKind {
    match code {
        ErrorCode::ProducerFenced
        | ErrorCode::InvalidProducerEpoch
        | ErrorCode::TransactionalIdAuthorizationFailed
        | ErrorCode::ClusterAuthorizationFailed
        | ErrorCode::UnsupportedVersion
        | ErrorCode::UnsupportedForMessageFormat
        | ErrorCode::InvalidTxnState => TxnErrorKind::Fatal,
        c if c.is_retriable() => TxnErrorKind::Retriable,
        _ => TxnErrorKind::Abortable,
    }
}

/// Classifies a failed operation: Kafka codes by [`classify`], transport errors and timeouts
/// (no code) as retriable.
pub(crate) fn classify_client(e: &kafka_client::Error) -> TxnErrorKind {
    match e.error_code() {
        Some(code) => classify(code),
        None if e.is_retriable() => TxnErrorKind::Retriable,
        None => TxnErrorKind::Abortable,
    }
}

/// The mutable part of the transaction manager.
#[derive(Debug)]
pub(crate) struct TxnInner {
    pub(crate) state: TxnState,
    /// The error that moved the producer to `AbortableError` or `FatalError`.
    pub(crate) last_error: Option<ProducerError>,
    /// Transaction version 2 (KIP-890): partitions join implicitly through Produce v12+,
    /// offsets through TxnOffsetCommit v5, and every EndTxn (v5) bumps the epoch.
    pub(crate) tv2: bool,
    /// Partitions the coordinator knows are in the transaction: their batches may be sent.
    pub(crate) added: HashSet<(Arc<str>, i32)>,
    /// Partitions that need AddPartitionsToTxn.
    pub(crate) new_partitions: BTreeSet<(Arc<str>, i32)>,
    /// Partitions of the AddPartitionsToTxn request in flight.
    pub(crate) pending: BTreeSet<(Arc<str>, i32)>,
    /// Something (a partition or a group's offsets) joined the transaction on the
    /// coordinator, so ending it needs an EndTxn.
    pub(crate) started: bool,
    /// A batch with a sequence failed: its sequence is unresolved, so (transaction version 1)
    /// the epoch is bumped with InitProducerId after the abort (KIP-360).
    pub(crate) bump_required: bool,
}

/// The transaction manager of one producer.
#[derive(Debug)]
pub(crate) struct TxnManager {
    pub(crate) transactional_id: String,
    pub(crate) timeout: Duration,
    inner: Mutex<TxnInner>,
    /// Wakes the task that sends AddPartitionsToTxn.
    pub(crate) wake: Notify,
}

impl TxnManager {
    pub(crate) fn new(transactional_id: String, timeout: Duration) -> TxnManager {
        TxnManager {
            transactional_id,
            timeout,
            inner: Mutex::new(TxnInner {
                state: TxnState::Uninitialized,
                last_error: None,
                tv2: false,
                added: HashSet::new(),
                new_partitions: BTreeSet::new(),
                pending: BTreeSet::new(),
                started: false,
                bump_required: false,
            }),
            wake: Notify::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, TxnInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn state(&self) -> TxnState {
        self.lock().state
    }

    pub(crate) fn tv2(&self) -> bool {
        self.lock().tv2
    }

    /// Moves to `to`, or explains why the call that wants it is not allowed now.
    pub(crate) fn transition(&self, to: TxnState, op: &str) -> Result<(), ProducerError> {
        let mut g = self.lock();
        Self::transition_locked(&mut g, to, op)
    }

    pub(crate) fn transition_locked(
        g: &mut TxnInner,
        to: TxnState,
        op: &str,
    ) -> Result<(), ProducerError> {
        if let Some(e) = Self::error_of(g) {
            // An abortable error only lets an abort through.
            if !(g.state == TxnState::AbortableError && to == TxnState::AbortingTransaction) {
                return Err(e);
            }
        }
        if !g.state.can_move_to(to) {
            return Err(ProducerError::InvalidTxnState(format!(
                "{op} is not allowed in state {:?}",
                g.state
            )));
        }
        g.state = to;
        Ok(())
    }

    /// The error that blocks new work, if the producer is in an error state.
    pub(crate) fn error_of(g: &TxnInner) -> Option<ProducerError> {
        let cause = || {
            g.last_error
                .clone()
                .unwrap_or_else(|| ProducerError::Fatal("unknown".into()))
        };
        match g.state {
            TxnState::FatalError => Some(wrap_fatal(cause())),
            TxnState::AbortableError => Some(wrap_abortable(cause())),
            _ => None,
        }
    }

    /// Records a fatal error; returns it wrapped.
    pub(crate) fn fatal(&self, e: ProducerError) -> ProducerError {
        let mut g = self.lock();
        if g.state != TxnState::FatalError {
            tracing::error!(transactional_id = %self.transactional_id, error = %e, "transactional producer: fatal error");
            g.last_error = Some(unwrap_txn(e));
            g.state = TxnState::FatalError;
        }
        Self::error_of(&g).unwrap_or_else(|| ProducerError::Fatal("fatal".into()))
    }

    /// Records an abortable error (ignored while aborting or after a fatal error); returns
    /// the error the caller should see.
    pub(crate) fn abortable(&self, e: ProducerError) -> ProducerError {
        let mut g = self.lock();
        match g.state {
            TxnState::InTransaction | TxnState::CommittingTransaction => {
                tracing::info!(transactional_id = %self.transactional_id, error = %e, "transaction must be aborted");
                g.last_error = Some(unwrap_txn(e));
                g.state = TxnState::AbortableError;
            }
            TxnState::AbortableError | TxnState::FatalError => {}
            _ => return wrap_abortable(e),
        }
        Self::error_of(&g).unwrap_or_else(|| wrap_abortable(ProducerError::Fatal("?".into())))
    }

    /// Classifies a failed produce (or add) of the current transaction and records it;
    /// returns the error state's error when this call moved the producer into it (then the
    /// caller fails every unsent batch with it, as Java's sender does).
    pub(crate) fn on_batch_error(&self, e: &ProducerError) -> Option<ProducerError> {
        if matches!(e, ProducerError::TransactionAborted) {
            return None;
        }
        let kind = match e {
            ProducerError::Client(c) => classify_client(c),
            ProducerError::DeliveryTimeout { .. } => TxnErrorKind::Abortable,
            ProducerError::TxnFatal(_) | ProducerError::Fatal(_) => TxnErrorKind::Fatal,
            _ => TxnErrorKind::Abortable,
        };
        let before = self.state();
        let out = match kind {
            TxnErrorKind::Fatal => self.fatal(e.clone()),
            _ => self.abortable(e.clone()),
        };
        (self.state() != before).then_some(out)
    }

    /// Called before a record is appended to `partition`: checks that a transaction is open
    /// and remembers the partition (transaction version 1: it needs AddPartitionsToTxn before
    /// its first batch is sent; version 2: Produce adds it).
    pub(crate) fn maybe_add_partition(
        &self,
        topic: &Arc<str>,
        partition: i32,
    ) -> Result<(), ProducerError> {
        let mut g = self.lock();
        if let Some(e) = Self::error_of(&g) {
            return Err(e);
        }
        if g.state != TxnState::InTransaction {
            return Err(ProducerError::InvalidTxnState(format!(
                "cannot send in state {:?}: call begin_transaction first",
                g.state
            )));
        }
        let key = (topic.clone(), partition);
        if g.tv2 {
            g.added.insert(key);
            return Ok(());
        }
        if g.added.contains(&key) || g.pending.contains(&key) {
            return Ok(());
        }
        if g.new_partitions.insert(key) {
            drop(g);
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Whether the sender may drain a batch of this partition now (it has joined the
    /// transaction, and the transaction is not being aborted or failed for good).
    pub(crate) fn may_drain(&self, topic: &Arc<str>, partition: i32) -> bool {
        let g = self.lock();
        matches!(
            g.state,
            TxnState::InTransaction | TxnState::CommittingTransaction
        ) && g.added.contains(&(topic.clone(), partition))
    }

    /// A batch of the transaction went out: the transaction is open on the coordinator (for
    /// transaction version 2, where Produce adds the partition).
    pub(crate) fn mark_started(&self) {
        self.lock().started = true;
    }

    /// Ends the transaction locally: back to Ready, nothing added.
    pub(crate) fn complete(&self) -> Result<(), ProducerError> {
        let mut g = self.lock();
        Self::transition_locked(&mut g, TxnState::Ready, "completing the transaction")?;
        g.added.clear();
        g.new_partitions.clear();
        g.pending.clear();
        g.started = false;
        g.last_error = None;
        Ok(())
    }
}

fn unwrap_txn(e: ProducerError) -> ProducerError {
    match e {
        ProducerError::TxnAbortable(inner) | ProducerError::TxnFatal(inner) => *inner,
        other => other,
    }
}

pub(crate) fn wrap_fatal(e: ProducerError) -> ProducerError {
    ProducerError::TxnFatal(Box::new(unwrap_txn(e)))
}

pub(crate) fn wrap_abortable(e: ProducerError) -> ProducerError {
    ProducerError::TxnAbortable(Box::new(unwrap_txn(e)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use TxnState::*;

    const ALL: [TxnState; 8] = [
        Uninitialized,
        Initializing,
        Ready,
        InTransaction,
        CommittingTransaction,
        AbortingTransaction,
        AbortableError,
        FatalError,
    ];

    #[test]
    fn transitions_follow_javas_state_machine() {
        let allowed: &[(TxnState, TxnState)] = &[
            (Uninitialized, Initializing),
            (AbortingTransaction, Initializing),
            (Initializing, Ready),
            (CommittingTransaction, Ready),
            (AbortingTransaction, Ready),
            (Ready, InTransaction),
            (InTransaction, CommittingTransaction),
            (InTransaction, AbortingTransaction),
            (AbortableError, AbortingTransaction),
            (InTransaction, AbortableError),
            (CommittingTransaction, AbortableError),
            (AbortableError, AbortableError),
        ];
        for from in ALL {
            for to in ALL {
                let want = to == FatalError || allowed.contains(&(from, to));
                assert_eq!(from.can_move_to(to), want, "{from:?} -> {to:?}");
            }
        }
    }

    fn client(code: ErrorCode) -> ProducerError {
        ProducerError::Client(kafka_client::Error::kafka(code, None))
    }

    #[test]
    fn errors_are_classified_like_java() {
        for c in [
            ErrorCode::ProducerFenced,
            ErrorCode::InvalidProducerEpoch,
            ErrorCode::TransactionalIdAuthorizationFailed,
            ErrorCode::UnsupportedVersion,
            ErrorCode::InvalidTxnState,
        ] {
            assert_eq!(classify(c), TxnErrorKind::Fatal, "{c:?}");
        }
        for c in [
            ErrorCode::ConcurrentTransactions,
            ErrorCode::CoordinatorLoadInProgress,
            ErrorCode::NotCoordinator,
            ErrorCode::CoordinatorNotAvailable,
            ErrorCode::NotLeaderOrFollower,
        ] {
            assert_eq!(classify(c), TxnErrorKind::Retriable, "{c:?}");
        }
        for c in [
            ErrorCode::TransactionAbortable,
            ErrorCode::GroupAuthorizationFailed,
            ErrorCode::TopicAuthorizationFailed,
            ErrorCode::UnknownMemberId,
            ErrorCode::IllegalGeneration,
            ErrorCode::FencedInstanceId,
            ErrorCode::MessageTooLarge,
            ErrorCode::UnknownProducerId,
        ] {
            assert_eq!(classify(c), TxnErrorKind::Abortable, "{c:?}");
        }
        let timeout = kafka_client::Error::kafka(ErrorCode::RequestTimedOut, None);
        assert_eq!(classify_client(&timeout), TxnErrorKind::Retriable);
    }

    fn in_txn(tv2: bool) -> TxnManager {
        let m = TxnManager::new("t".into(), Duration::from_secs(60));
        m.transition(Initializing, "init").unwrap();
        m.lock().tv2 = tv2;
        m.transition(Ready, "init").unwrap();
        m.transition(InTransaction, "begin").unwrap();
        m
    }

    #[test]
    fn calls_in_the_wrong_state_are_refused() {
        let m = TxnManager::new("t".into(), Duration::from_secs(60));
        let e = m
            .transition(InTransaction, "begin_transaction")
            .unwrap_err();
        assert!(matches!(e, ProducerError::InvalidTxnState(_)), "{e}");
        let t: Arc<str> = "x".into();
        assert!(matches!(
            m.maybe_add_partition(&t, 0),
            Err(ProducerError::InvalidTxnState(_))
        ));
        let m = in_txn(false);
        assert!(m.transition(InTransaction, "begin_transaction").is_err());
        m.transition(CommittingTransaction, "commit").unwrap();
        assert!(
            m.maybe_add_partition(&t, 0).is_err(),
            "no sends while committing"
        );
    }

    #[test]
    fn tv1_partitions_wait_for_add_partitions_to_txn() {
        let m = in_txn(false);
        let t: Arc<str> = "x".into();
        m.maybe_add_partition(&t, 1).unwrap();
        m.maybe_add_partition(&t, 1).unwrap();
        assert!(!m.may_drain(&t, 1), "not added yet");
        assert_eq!(m.lock().new_partitions.len(), 1);
        {
            let mut g = m.lock();
            let p: Vec<_> = std::mem::take(&mut g.new_partitions).into_iter().collect();
            g.added.extend(p);
        }
        assert!(m.may_drain(&t, 1));
        assert!(!m.may_drain(&t, 2));
        m.transition(AbortingTransaction, "abort").unwrap();
        assert!(!m.may_drain(&t, 1), "nothing more is sent once aborting");
        m.complete().unwrap();
        assert_eq!(m.state(), Ready);
        assert!(m.lock().added.is_empty());
    }

    #[test]
    fn tv2_partitions_join_at_once() {
        let m = in_txn(true);
        let t: Arc<str> = "x".into();
        m.maybe_add_partition(&t, 3).unwrap();
        assert!(m.may_drain(&t, 3));
        assert!(m.lock().new_partitions.is_empty());
    }

    #[test]
    fn abortable_errors_allow_only_abort_and_fatal_errors_nothing() {
        let m = in_txn(false);
        let t: Arc<str> = "x".into();
        m.maybe_add_partition(&t, 0).unwrap();
        m.lock().added.insert((t.clone(), 0));
        assert!(m.may_drain(&t, 0));
        let moved = m.on_batch_error(&client(ErrorCode::MessageTooLarge));
        assert!(moved.is_some_and(|e| e.is_abortable()));
        assert!(
            m.on_batch_error(&client(ErrorCode::MessageTooLarge))
                .is_none(),
            "already there"
        );
        assert_eq!(m.state(), AbortableError);
        assert!(!m.may_drain(&t, 0), "nothing more is sent after an error");
        let e = m.maybe_add_partition(&t, 0).unwrap_err();
        assert!(e.is_abortable(), "{e}");
        assert_eq!(e.error_code(), Some(ErrorCode::MessageTooLarge));
        let e = m.transition(CommittingTransaction, "commit").unwrap_err();
        assert!(e.is_abortable());
        m.transition(AbortingTransaction, "abort").unwrap();
        // errors of batches failing during the abort do not change the state
        m.on_batch_error(&client(ErrorCode::MessageTooLarge));
        m.on_batch_error(&ProducerError::TransactionAborted);
        assert_eq!(m.state(), AbortingTransaction);
        m.complete().unwrap();
        m.transition(InTransaction, "begin").unwrap();

        let moved = m.on_batch_error(&client(ErrorCode::ProducerFenced));
        assert!(moved.is_some_and(|e| e.is_fatal()));
        assert_eq!(m.state(), FatalError);
        let e = m.transition(AbortingTransaction, "abort").unwrap_err();
        assert!(e.is_fatal() && e.is_fenced(), "{e}");
        // a later abortable error does not hide the fatal one
        m.on_batch_error(&client(ErrorCode::MessageTooLarge));
        assert_eq!(m.state(), FatalError);
        assert!(m.maybe_add_partition(&t, 0).unwrap_err().is_fatal());
    }
}
