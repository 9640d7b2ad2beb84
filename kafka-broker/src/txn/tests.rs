//! Transaction coordinator tests: the protocol through the coordinator's API, the partition
//! logs it writes markers to, and restarts on the same data directory.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use kafka_protocol::ErrorCode;
use kafka_protocol::records::{RecordBatchBuilder, RecordBatches};

use super::state::TxnState;
use crate::config::BrokerConfig;
use crate::group::CommitPartition;
use crate::handlers::testutil::shared_in;
use crate::state::Shared;
use crate::util::now_ms;

const T: &str = "data";

fn config() -> BrokerConfig {
    let mut c = BrokerConfig::default();
    c.groups.offsets_partitions = 3;
    c.transactions.state_partitions = 3;
    c
}

fn open(dir: &std::path::Path) -> (Arc<Shared>, tokio::sync::watch::Sender<bool>) {
    let (s, tx) = shared_in(dir, config());
    if !s.metadata.snapshot().by_name.contains_key(T) {
        s.metadata
            .create_topic(T, 2, BTreeMap::new(), false)
            .map_err(|e| e.1)
            .unwrap();
    }
    (s, tx)
}

fn produce(
    s: &Shared,
    partition: i32,
    pid: i64,
    epoch: i16,
    seq: i32,
    txn: bool,
) -> Result<(), ErrorCode> {
    let mut b = RecordBatchBuilder::new(0)
        .producer(pid, epoch, seq)
        .transactional(txn);
    b.append(now_ms(), Some(b"k"), Some(b"v"), &[]).unwrap();
    let records = b.build().unwrap();
    let snap = s.metadata.snapshot();
    let part = snap.by_name[T].partition(partition).unwrap().clone();
    if txn {
        let id = s
            .txns
            .list(&[], &[pid], -1, now_ms())
            .first()
            .map(|t| t.transactional_id.clone())
            .unwrap_or_default();
        s.txns.verify_produce(&id, pid, epoch, T, partition)?;
    }
    part.with_log(|l| l.append(records, 0, now_ms()))
        .unwrap()
        .map(|_| ())
        .map_err(|e| e.error_code())
}

/// (high watermark, last stable offset, committed data offsets, aborted producer ids).
fn committed_view(s: &Shared, partition: i32) -> (i64, i64, Vec<i64>, Vec<i64>) {
    let snap = s.metadata.snapshot();
    let part = snap.by_name[T].partition(partition).unwrap().clone();
    part.with_log(|l| {
        let (r, aborted) = l.read_committed(0, 1 << 20, true).unwrap();
        let mut offsets = Vec::new();
        for b in RecordBatches::new(r.records.clone()) {
            let b = b.unwrap();
            if b.is_control() {
                continue;
            }
            let aborted_here = aborted.iter().any(|a| {
                a.producer_id == b.producer_id()
                    && a.first_offset <= b.base_offset()
                    && b.base_offset() < a.last_offset
            });
            if !aborted_here {
                offsets.extend(b.records().map(|r| r.unwrap().offset));
            }
        }
        (
            r.high_watermark,
            r.last_stable_offset,
            offsets,
            aborted.iter().map(|a| a.producer_id).collect(),
        )
    })
    .unwrap()
}

fn parts(list: &[i32]) -> Vec<(String, i32)> {
    list.iter().map(|p| (T.to_string(), *p)).collect()
}

#[test]
fn commit_and_abort_write_markers_and_move_the_lso() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _tx) = open(dir.path());
    let (pid, epoch) = s.txns.init_producer_id(&s, "tx", 60_000, None).unwrap();
    assert_eq!(epoch, 0);
    // Not added yet: produce refused.
    assert_eq!(
        produce(&s, 0, pid, epoch, 0, true),
        Err(ErrorCode::TransactionAbortable)
    );
    s.txns
        .add_partitions(&s, "tx", pid, epoch, &parts(&[0, 1]))
        .unwrap();
    assert_eq!(s.txns.describe("tx").unwrap().state, TxnState::Ongoing);
    produce(&s, 0, pid, epoch, 0, true).unwrap();
    produce(&s, 1, pid, epoch, 0, true).unwrap();
    assert_eq!(committed_view(&s, 0), (1, 0, vec![], vec![]));
    s.txns.end_txn(&s, "tx", pid, epoch, true).unwrap();
    // Retrying the commit succeeds; switching to abort does not.
    s.txns.end_txn(&s, "tx", pid, epoch, true).unwrap();
    assert_eq!(
        s.txns.end_txn(&s, "tx", pid, epoch, false),
        Err(ErrorCode::InvalidTxnState)
    );
    assert_eq!(committed_view(&s, 0), (2, 2, vec![0], vec![]));
    assert_eq!(committed_view(&s, 1), (2, 2, vec![0], vec![]));

    // Second transaction: aborted.
    s.txns
        .add_partitions(&s, "tx", pid, epoch, &parts(&[0]))
        .unwrap();
    produce(&s, 0, pid, epoch, 1, true).unwrap();
    s.txns.end_txn(&s, "tx", pid, epoch, false).unwrap();
    assert_eq!(committed_view(&s, 0), (4, 4, vec![0], vec![pid]));
    let m = s.txns.describe("tx").unwrap();
    assert_eq!((m.state, m.partitions.len()), (TxnState::CompleteAbort, 0));
    // Ending with nothing open is refused; unknown ids and producers are mapping errors.
    assert_eq!(
        s.txns.end_txn(&s, "tx", pid, epoch, false),
        Ok(()),
        "a retried abort succeeds"
    );
    assert_eq!(
        s.txns.end_txn(&s, "nope", pid, epoch, true),
        Err(ErrorCode::InvalidProducerIdMapping)
    );
    assert_eq!(
        s.txns
            .add_partitions(&s, "tx", pid + 1, epoch, &parts(&[0])),
        Err(ErrorCode::InvalidProducerIdMapping)
    );
}

#[test]
fn reinit_fences_the_old_epoch_and_aborts_its_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _tx) = open(dir.path());
    assert_eq!(
        s.txns.init_producer_id(&s, "tx", 0, None),
        Err(ErrorCode::InvalidTransactionTimeout)
    );
    assert_eq!(
        s.txns.init_producer_id(&s, "tx", 900_001, None),
        Err(ErrorCode::InvalidTransactionTimeout)
    );
    assert_eq!(
        s.txns.init_producer_id(&s, "", 1000, None),
        Err(ErrorCode::InvalidRequest)
    );
    let (pid, e0) = s.txns.init_producer_id(&s, "tx", 60_000, None).unwrap();
    s.txns
        .add_partitions(&s, "tx", pid, e0, &parts(&[0]))
        .unwrap();
    produce(&s, 0, pid, e0, 0, true).unwrap();
    // A second producer with the same id takes over.
    let (pid2, e2) = s.txns.init_producer_id(&s, "tx", 60_000, None).unwrap();
    assert_eq!(pid2, pid);
    assert_eq!(
        e2,
        e0 + 2,
        "one bump to fence and abort, one for the new session"
    );
    // The old transaction was aborted: LSO at the end, data listed as aborted.
    assert_eq!(committed_view(&s, 0), (2, 2, vec![], vec![pid]));
    // The old producer is fenced everywhere.
    assert_eq!(
        s.txns.add_partitions(&s, "tx", pid, e0, &parts(&[1])),
        Err(ErrorCode::ProducerFenced)
    );
    assert_eq!(
        s.txns.end_txn(&s, "tx", pid, e0, true),
        Err(ErrorCode::ProducerFenced)
    );
    assert_eq!(
        produce(&s, 0, pid, e0, 1, true),
        Err(ErrorCode::InvalidProducerEpoch)
    );
    // KIP-360: a client re-initialising with a stale epoch is fenced; with its current
    // epoch it gets a bump.
    assert_eq!(
        s.txns.init_producer_id(&s, "tx", 60_000, Some((pid, e0))),
        Err(ErrorCode::ProducerFenced)
    );
    let (_, e3) = s
        .txns
        .init_producer_id(&s, "tx", 60_000, Some((pid2, e2)))
        .unwrap();
    assert_eq!(e3, e2 + 1);
}

#[test]
fn timed_out_transactions_are_aborted_and_fenced() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _tx) = open(dir.path());
    let (pid, epoch) = s.txns.init_producer_id(&s, "slow", 1000, None).unwrap();
    s.txns
        .add_partitions(&s, "slow", pid, epoch, &parts(&[1]))
        .unwrap();
    produce(&s, 1, pid, epoch, 0, true).unwrap();
    let start = s.txns.describe("slow").unwrap().start_ts;
    assert_eq!(s.txns.abort_expired(&s, start + 1000), 0, "not yet");
    let listed = s.txns.list(&[], &[], 500, start + 1000);
    assert_eq!(listed.len(), 1, "running longer than 500 ms");
    assert_eq!(s.txns.abort_expired(&s, start + 1001), 1);
    let m = s.txns.describe("slow").unwrap();
    assert_eq!((m.state, m.epoch), (TxnState::CompleteAbort, epoch + 1));
    assert_eq!(committed_view(&s, 1), (2, 2, vec![], vec![pid]));
    assert_eq!(
        s.txns.end_txn(&s, "slow", pid, epoch, true),
        Err(ErrorCode::ProducerFenced)
    );
    assert!(
        s.txns
            .list(&["Ongoing".into()], &[], -1, now_ms())
            .is_empty()
    );
    assert_eq!(s.txns.list(&[], &[pid], -1, now_ms()).len(), 1);
    assert!(s.txns.list(&[], &[pid + 1], -1, now_ms()).is_empty());
}

#[test]
fn transactional_offsets_are_visible_after_commit_only() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _tx) = open(dir.path());
    let (pid, epoch) = s.txns.init_producer_id(&s, "tx", 60_000, None).unwrap();
    let commit = |offset| {
        vec![CommitPartition {
            topic: T.into(),
            partition: 0,
            offset,
            leader_epoch: -1,
            metadata: String::new(),
        }]
    };
    let fetched = |s: &Shared| {
        s.groups
            .fetch("g", None, Some(vec![(T.to_string(), vec![0])]))
            .unwrap()[0]
            .1[0]
            .1
            .as_ref()
            .map(|e| e.offset)
    };
    let p = crate::group::store::partition_for("g", 3);
    let offsets_part = [(crate::group::store::OFFSETS_TOPIC.to_string(), p)];
    s.txns
        .add_partitions(&s, "tx", pid, epoch, &offsets_part)
        .unwrap();
    s.groups
        .txn_commit(&s.metadata, "g", pid, epoch, -1, "", None, commit(5))
        .unwrap();
    assert_eq!(fetched(&s), None);
    assert!(s.groups.has_pending_txn_offset("g", T, 0));
    s.txns.end_txn(&s, "tx", pid, epoch, true).unwrap();
    assert_eq!(fetched(&s), Some(5));
    assert!(!s.groups.has_pending_txn_offset("g", T, 0));

    // Aborted: dropped.
    s.txns
        .add_partitions(&s, "tx", pid, epoch, &offsets_part)
        .unwrap();
    s.groups
        .txn_commit(&s.metadata, "g", pid, epoch, -1, "", None, commit(9))
        .unwrap();
    s.txns.end_txn(&s, "tx", pid, epoch, false).unwrap();
    assert_eq!(fetched(&s), Some(5));

    // Pending across a restart, then committed by the coordinator.
    s.txns
        .add_partitions(&s, "tx", pid, epoch, &offsets_part)
        .unwrap();
    s.groups
        .txn_commit(&s.metadata, "g", pid, epoch, -1, "", None, commit(12))
        .unwrap();
    s.txns.stop_after_prepare.store(true, Ordering::Relaxed);
    s.txns.end_txn(&s, "tx", pid, epoch, true).unwrap();
    assert_eq!(
        s.txns.describe("tx").unwrap().state,
        TxnState::PrepareCommit
    );
    assert_eq!(
        s.txns.end_txn(&s, "tx", pid, epoch, true),
        Err(ErrorCode::ConcurrentTransactions),
        "markers pending"
    );
    s.metadata.close_all();
    drop(s);
    let (s, _tx2) = open(dir.path());
    assert_eq!(
        s.txns.describe("tx").unwrap().state,
        TxnState::CompleteCommit
    );
    assert_eq!(fetched(&s), Some(12));
    assert!(!s.groups.has_pending_txn_offset("g", T, 0));
}

#[test]
fn restart_completes_prepared_and_keeps_ongoing_until_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (s, tx) = open(dir.path());
    // "a": prepared to commit when the broker stops (markers not written).
    let (pa, ea) = s.txns.init_producer_id(&s, "a", 60_000, None).unwrap();
    s.txns
        .add_partitions(&s, "a", pa, ea, &parts(&[0]))
        .unwrap();
    produce(&s, 0, pa, ea, 0, true).unwrap();
    // "b": ongoing when the broker stops.
    let (pb, eb) = s.txns.init_producer_id(&s, "b", 1_000, None).unwrap();
    s.txns
        .add_partitions(&s, "b", pb, eb, &parts(&[0]))
        .unwrap();
    produce(&s, 0, pb, eb, 0, true).unwrap();
    produce(&s, 0, 999, 0, 0, false).unwrap();
    s.txns.stop_after_prepare.store(true, Ordering::Relaxed);
    s.txns.end_txn(&s, "a", pa, ea, true).unwrap();
    assert_eq!(committed_view(&s, 0), (3, 0, vec![], vec![]));
    assert_eq!(
        s.txns.init_producer_id(&s, "a", 60_000, None),
        Err(ErrorCode::ConcurrentTransactions)
    );
    // A crash: logs are not closed cleanly.
    drop(tx);
    drop(s);

    let (s, _tx) = open(dir.path());
    // "a" was completed at load: its record is visible; "b" still holds the LSO.
    assert_eq!(
        s.txns.describe("a").unwrap().state,
        TxnState::CompleteCommit
    );
    let m = s.txns.describe("b").unwrap();
    assert_eq!(m.state, TxnState::Ongoing);
    assert_eq!(committed_view(&s, 0), (4, 1, vec![0], vec![]));
    // "b" times out (its start time survived the restart) and is aborted.
    assert_eq!(s.txns.abort_expired(&s, m.start_ts + 1_001), 1);
    let (hw, lso, data, aborted) = committed_view(&s, 0);
    assert_eq!((hw, lso), (5, 5));
    assert_eq!(
        data,
        vec![0, 2],
        "no partial visibility of the aborted transaction"
    );
    assert_eq!(aborted, vec![pb]);
    s.metadata.close_all();
    drop(s);

    // And once more: everything stays complete.
    let (s, _tx) = open(dir.path());
    assert_eq!(s.txns.describe("b").unwrap().state, TxnState::CompleteAbort);
    assert_eq!(committed_view(&s, 0), (5, 5, vec![0, 2], vec![pb]));
}

#[test]
fn idle_transactional_ids_expire_and_stay_gone_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _tx) = open(dir.path());
    let (pid, epoch) = s.txns.init_producer_id(&s, "idle", 60_000, None).unwrap();
    let (opid, oepoch) = s.txns.init_producer_id(&s, "open", 60_000, None).unwrap();
    s.txns
        .add_partitions(&s, "open", opid, oepoch, &parts(&[0]))
        .unwrap();
    let later = s.txns.describe("idle").unwrap().update_ts + s.txns.cfg.id_expiration_ms;
    assert_eq!(s.txns.remove_expired_ids(&s, later - 1), 0);
    assert_eq!(
        s.txns.remove_expired_ids(&s, later + 10),
        1,
        "open transactions stay"
    );
    assert!(s.txns.describe("idle").is_none());
    assert!(s.txns.describe("open").is_some());
    assert_eq!(
        s.txns.end_txn(&s, "idle", pid, epoch, true),
        Err(ErrorCode::InvalidProducerIdMapping)
    );
    s.metadata.close_all();
    drop(s);
    let (s, _tx) = open(dir.path());
    assert!(
        s.txns.describe("idle").is_none(),
        "the tombstone wins at load"
    );
    assert_eq!(s.txns.describe("open").unwrap().state, TxnState::Ongoing);
    // The id can be used again: a new producer id.
    let (pid2, _) = s.txns.init_producer_id(&s, "idle", 60_000, None).unwrap();
    assert_ne!(pid2, pid);
}

#[test]
fn prepared_transactions_are_retried_by_the_periodic_task() {
    let dir = tempfile::tempdir().unwrap();
    let (s, _tx) = open(dir.path());
    let (pid, epoch) = s.txns.init_producer_id(&s, "r", 60_000, None).unwrap();
    s.txns
        .add_partitions(&s, "r", pid, epoch, &parts(&[0]))
        .unwrap();
    produce(&s, 0, pid, epoch, 0, true).unwrap();
    s.txns.stop_after_prepare.store(true, Ordering::Relaxed);
    s.txns.end_txn(&s, "r", pid, epoch, false).unwrap();
    s.txns.stop_after_prepare.store(false, Ordering::Relaxed);
    assert_eq!(committed_view(&s, 0), (1, 0, vec![], vec![]));
    assert_eq!(s.txns.retry_prepared(&s), 1);
    assert_eq!(s.txns.describe("r").unwrap().state, TxnState::CompleteAbort);
    assert_eq!(committed_view(&s, 0), (2, 2, vec![], vec![pid]));
    assert_eq!(s.txns.retry_prepared(&s), 0);
}
