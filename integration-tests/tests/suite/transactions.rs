//! Transactions over raw protocol requests, as a transactional producer with transaction
//! version 1 drives them: FindCoordinator(transaction) → InitProducerId → AddPartitionsToTxn →
//! transactional Produce → EndTxn, then `read_committed` Fetch and ListOffsets (last stable
//! offset, aborted transactions), fencing by a second InitProducerId, TxnOffsetCommit with
//! AddOffsetsToTxn, DescribeTransactions/ListTransactions, and (bundled broker only) a restart
//! with an open transaction. Every case checks outcomes both Apache Kafka and the bundled
//! broker must produce; Apache Kafka writes markers asynchronously, so visibility after EndTxn
//! is polled for (bounded).
//!
//! Request versions are capped where a newer version means transaction version 2 (KIP-890):
//! Produce v11, AddPartitionsToTxn v3, AddOffsetsToTxn v3, EndTxn v4, TxnOffsetCommit v3.

use std::time::{Duration, Instant};

use bytes::Bytes;
use integration_tests::wire::Connection;
use integration_tests::{EmbeddedBroker, TestCluster, unique_topic, wait_for};
use kafka_protocol::ErrorCode;
use kafka_protocol::Uuid;
use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, ApiKey, DescribeTransactionsRequest,
    EndTxnRequest, FetchRequest, FindCoordinatorRequest, InitProducerIdRequest, ListOffsetsRequest,
    ListTransactionsRequest, OffsetFetchRequest, ProduceRequest, TxnOffsetCommitRequest,
};
use kafka_protocol::records::{ControlRecordKind, RecordBatchBuilder, RecordBatches};

use crate::{Ctx, require_api};

pub(crate) const CASES: &[crate::Case] = &[
    (
        "transactions::commit_abort_and_read_committed",
        commit_abort_and_read_committed,
    ),
    (
        "transactions::reinit_fences_the_old_epoch",
        reinit_fences_the_old_epoch,
    ),
    (
        "transactions::txn_offset_commit_visible_after_commit_only",
        txn_offset_commit_visible_after_commit_only,
    ),
    (
        "transactions::describe_and_list_transactions",
        describe_and_list_transactions,
    ),
    (
        "transactions::transaction_log_in_kafka_format",
        transaction_log_in_kafka_format,
    ),
    (
        "transactions::restart_with_open_transaction",
        restart_with_open_transaction,
    ),
];

const WAIT: Duration = Duration::from_secs(60);

fn retriable(e: ErrorCode) -> bool {
    matches!(
        e,
        ErrorCode::CoordinatorLoadInProgress
            | ErrorCode::CoordinatorNotAvailable
            | ErrorCode::NotCoordinator
            | ErrorCode::ConcurrentTransactions
    )
}

/// Runs `f` until it returns an error code that is not a coordinator/concurrency retry.
fn retry<T>(what: &str, mut f: impl FnMut() -> (ErrorCode, T)) -> (ErrorCode, T) {
    let end = Instant::now() + WAIT;
    loop {
        let (e, v) = f();
        if !retriable(e) {
            return (e, v);
        }
        assert!(Instant::now() < end, "{what}: still {e} after {WAIT:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn version(c: &Connection, api: ApiKey, cap: i16) -> i16 {
    c.negotiated(api)
        .unwrap_or_else(|| panic!("{api:?} not served"))
        .min(cap)
}

/// FindCoordinator for a key of `key_type` (0 group, 1 transaction) until it answers.
fn find_coordinator(c: &mut Connection, key: &str, key_type: i8) {
    let v4 = c
        .negotiated(ApiKey::FindCoordinator)
        .is_some_and(|v| v >= 4);
    let (e, port) = retry("FindCoordinator", || {
        let r = c
            .send(FindCoordinatorRequest {
                key: if v4 { String::new() } else { key.into() },
                key_type,
                coordinator_keys: if v4 { vec![key.into()] } else { Vec::new() },
                ..Default::default()
            })
            .unwrap();
        if v4 {
            let k = &r.coordinators[0];
            (ErrorCode::from(k.error_code), k.port)
        } else {
            (ErrorCode::from(r.error_code), r.port)
        }
    });
    assert_eq!(e, ErrorCode::None, "FindCoordinator({key_type}) {key}");
    assert!(port > 0);
}

/// One transactional producer on its own connection.
struct Producer {
    c: Connection,
    id: String,
    pid: i64,
    epoch: i16,
    seq: Vec<i32>,
}

impl Producer {
    fn new(bootstrap: &str, id: &str, timeout_ms: i32) -> Producer {
        let mut c = Connection::connect(bootstrap).unwrap();
        find_coordinator(&mut c, id, 1);
        let mut p = Producer {
            c,
            id: id.into(),
            pid: -1,
            epoch: -1,
            seq: vec![0; 8],
        };
        let e = p.init(timeout_ms);
        assert_eq!(e, ErrorCode::None, "InitProducerId");
        p
    }

    fn init(&mut self, timeout_ms: i32) -> ErrorCode {
        let (e, r) = retry("InitProducerId", || {
            let r = self
                .c
                .send(InitProducerIdRequest {
                    transactional_id: Some(self.id.clone()),
                    transaction_timeout_ms: timeout_ms,
                    producer_id: -1,
                    producer_epoch: -1,
                    ..Default::default()
                })
                .unwrap();
            (ErrorCode::from(r.error_code), r)
        });
        if e == ErrorCode::None {
            self.pid = r.producer_id;
            self.epoch = r.producer_epoch;
            self.seq = vec![0; 8];
        }
        e
    }

    fn add_partitions(&mut self, topic: &str, partitions: &[i32]) -> Vec<ErrorCode> {
        let v = version(&self.c, ApiKey::AddPartitionsToTxn, 3);
        let (_, codes) = retry("AddPartitionsToTxn", || {
            let r = self
                .c
                .send_typed(
                    AddPartitionsToTxnRequest {
                        v3_and_below_transactional_id: self.id.clone(),
                        v3_and_below_producer_id: self.pid,
                        v3_and_below_producer_epoch: self.epoch,
                        v3_and_below_topics: vec![AddPartitionsToTxnTopic {
                            name: topic.into(),
                            partitions: partitions.to_vec(),
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                    v,
                )
                .unwrap();
            // In the order of `partitions` (the broker answers them in any order).
            let by_partition: std::collections::BTreeMap<i32, ErrorCode> = r
                .results_by_topic_v3_and_below
                .iter()
                .flat_map(|t| &t.results_by_partition)
                .map(|p| (p.partition_index, ErrorCode::from(p.partition_error_code)))
                .collect();
            let codes: Vec<ErrorCode> = partitions
                .iter()
                .map(|p| {
                    by_partition
                        .get(p)
                        .copied()
                        .unwrap_or(ErrorCode::UnknownServerError)
                })
                .collect();
            let first = codes.first().copied().unwrap_or(ErrorCode::None);
            (first, codes)
        });
        codes
    }

    fn add_offsets(&mut self, group: &str) -> ErrorCode {
        let v = version(&self.c, ApiKey::AddOffsetsToTxn, 3);
        retry("AddOffsetsToTxn", || {
            let r = self
                .c
                .send_typed(
                    AddOffsetsToTxnRequest {
                        transactional_id: self.id.clone(),
                        producer_id: self.pid,
                        producer_epoch: self.epoch,
                        group_id: group.into(),
                        ..Default::default()
                    },
                    v,
                )
                .unwrap();
            (ErrorCode::from(r.error_code), ())
        })
        .0
    }

    /// Produces `values` as one transactional batch to `partition`, retrying the retriable
    /// errors Apache Kafka answers while its partition verification warms up.
    fn produce(&mut self, topic: &str, partition: i32, values: &[&str]) -> ErrorCode {
        let seq = self.seq[partition as usize];
        let mut attempts = 0;
        let e = loop {
            let e = produce_batch(
                &mut self.c,
                Some(&self.id),
                topic,
                partition,
                transactional_batch(self.pid, self.epoch, seq, values),
            );
            attempts += 1;
            if !e.is_retriable() || attempts >= 50 {
                break e;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        if e == ErrorCode::None {
            self.seq[partition as usize] += values.len() as i32;
        }
        e
    }

    fn end(&mut self, commit: bool) -> ErrorCode {
        let v = version(&self.c, ApiKey::EndTxn, 4);
        retry("EndTxn", || {
            let r = self
                .c
                .send_typed(
                    EndTxnRequest {
                        transactional_id: self.id.clone(),
                        producer_id: self.pid,
                        producer_epoch: self.epoch,
                        committed: commit,
                        ..Default::default()
                    },
                    v,
                )
                .unwrap();
            (ErrorCode::from(r.error_code), ())
        })
        .0
    }
}

fn transactional_batch(pid: i64, epoch: i16, seq: i32, values: &[&str]) -> Bytes {
    let mut b = RecordBatchBuilder::new(0)
        .producer(pid, epoch, seq)
        .transactional(pid >= 0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    for v in values {
        b.append(now, Some(b"k"), Some(v.as_bytes()), &[]).unwrap();
    }
    b.build().unwrap()
}

fn produce_batch(
    c: &mut Connection,
    transactional_id: Option<&str>,
    topic: &str,
    partition: i32,
    records: Bytes,
) -> ErrorCode {
    let v = version(c, ApiKey::Produce, 11);
    let r = c
        .send_typed(
            ProduceRequest {
                transactional_id: transactional_id.map(str::to_string),
                ..crate::common::produce_request(topic, Uuid::ZERO, partition, records)
            },
            v,
        )
        .unwrap();
    ErrorCode::from(r.responses[0].partition_responses[0].error_code)
}

/// A non-transactional batch (no producer id).
fn plain(c: &mut Connection, topic: &str, partition: i32, values: &[&str]) -> ErrorCode {
    produce_batch(
        c,
        None,
        topic,
        partition,
        transactional_batch(-1, -1, -1, values),
    )
}

fn fetch(c: &mut Connection, topic: &str, partition: i32, read_committed: bool) -> PartitionData {
    let v = version(c, ApiKey::Fetch, 12);
    let r = c
        .send_typed(
            FetchRequest {
                replica_id: -1,
                max_wait_ms: 0,
                min_bytes: 0,
                max_bytes: 1 << 20,
                isolation_level: i8::from(read_committed),
                session_epoch: -1,
                topics: vec![FetchTopic {
                    topic: topic.into(),
                    topic_id: Uuid::ZERO,
                    partitions: vec![FetchPartition {
                        partition,
                        fetch_offset: 0,
                        partition_max_bytes: 1 << 20,
                        current_leader_epoch: -1,
                        last_fetched_epoch: -1,
                        log_start_offset: -1,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
            v,
        )
        .unwrap();
    assert_eq!(ErrorCode::from(r.error_code), ErrorCode::None);
    let p = r.responses[0].partitions[0].clone();
    assert_eq!(ErrorCode::from(p.error_code), ErrorCode::None, "fetch");
    p
}

/// The values a `read_committed` consumer delivers from a fetch answer: data of aborted
/// transactions (per `aborted_transactions`) and control batches are dropped, as the Java
/// consumer does.
fn committed_values(p: &PartitionData) -> Vec<String> {
    let mut pending: Vec<(i64, i64)> = p
        .aborted_transactions
        .iter()
        .flatten()
        .map(|a| (a.first_offset, a.producer_id))
        .collect();
    pending.sort_unstable();
    let mut pending = pending.into_iter().peekable();
    let mut aborted_now: Vec<i64> = Vec::new();
    let mut out = Vec::new();
    for b in RecordBatches::new(p.records.clone().unwrap_or_default()) {
        let kafka_protocol::records::Batch::V2(b) = b.unwrap() else {
            panic!("legacy batch")
        };
        while let Some((_, pid)) = pending.next_if(|(f, _)| *f <= b.last_offset()) {
            aborted_now.push(pid);
        }
        if b.is_control() {
            if let Ok(Some(m)) = b.control_record()
                && m.kind == ControlRecordKind::Abort
            {
                aborted_now.retain(|x| *x != b.producer_id());
            }
            continue;
        }
        if b.is_transactional() && aborted_now.contains(&b.producer_id()) {
            continue;
        }
        for r in b.records() {
            let r = r.unwrap();
            out.push(String::from_utf8(r.value.unwrap_or_default().to_vec()).unwrap());
        }
    }
    out
}

/// ListOffsets latest with the isolation level.
fn latest(c: &mut Connection, topic: &str, partition: i32, read_committed: bool) -> i64 {
    let r = c
        .send(ListOffsetsRequest {
            replica_id: -1,
            isolation_level: i8::from(read_committed),
            topics: vec![ListOffsetsTopic {
                name: topic.into(),
                partitions: vec![ListOffsetsPartition {
                    partition_index: partition,
                    current_leader_epoch: -1,
                    timestamp: -1,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })
        .unwrap();
    let p = &r.topics[0].partitions[0];
    assert_eq!(ErrorCode::from(p.error_code), ErrorCode::None);
    p.offset
}

fn setup(bootstrap: &str, prefix: &str, partitions: i32) -> (Connection, String) {
    let mut c = Connection::connect(bootstrap).unwrap();
    let topic = unique_topic(prefix);
    integration_tests::admin::create_topic(&mut c, &topic, partitions).unwrap();
    (c, topic)
}

fn require_txn(ctx: &Ctx) {
    require_api(ctx, ApiKey::InitProducerId);
    require_api(ctx, ApiKey::AddPartitionsToTxn);
    require_api(ctx, ApiKey::EndTxn);
}

fn commit_abort_and_read_committed(ctx: &Ctx) {
    require_txn(ctx);
    let (mut c, topic) = setup(&ctx.bootstrap, "it-txn", 2);
    let mut p = Producer::new(&ctx.bootstrap, &unique_topic("txn-a"), 60_000);

    // A transactional batch without the request's transactional id is refused as
    // unauthorized; one for a partition not in the transaction is refused as well.
    let stray = transactional_batch(p.pid, p.epoch, 0, &["stray"]);
    assert_eq!(
        produce_batch(&mut c, None, &topic, 0, stray),
        ErrorCode::TransactionalIdAuthorizationFailed
    );
    assert_eq!(
        p.produce(&topic, 0, &["stray"]),
        ErrorCode::TransactionAbortable,
        "produce outside the transaction (KIP-1050's answer to a failed verification)"
    );

    // Nothing open yet: EndTxn is refused; an unknown partition fails the whole add.
    assert_eq!(p.end(false), ErrorCode::InvalidTxnState);
    assert_eq!(
        p.add_partitions(&topic, &[0, 99]),
        vec![
            ErrorCode::OperationNotAttempted,
            ErrorCode::UnknownTopicOrPartition
        ]
    );

    // Transaction 1 (committed) over both partitions.
    assert_eq!(
        p.add_partitions(&topic, &[0, 1]),
        vec![ErrorCode::None, ErrorCode::None]
    );
    assert_eq!(p.produce(&topic, 0, &["c0", "c1", "c2"]), ErrorCode::None);
    assert_eq!(p.produce(&topic, 1, &["d0", "d1"]), ErrorCode::None);
    // Open: nothing is stable yet.
    let open = fetch(&mut c, &topic, 0, true);
    assert_eq!((open.high_watermark, open.last_stable_offset), (3, 0));
    assert!(committed_values(&open).is_empty());
    assert_eq!(latest(&mut c, &topic, 0, true), 0);
    assert_eq!(latest(&mut c, &topic, 0, false), 3);
    assert_eq!(
        committed_values(&fetch(&mut c, &topic, 0, false)),
        vec!["c0", "c1", "c2"],
        "read_uncommitted sees open data"
    );
    assert_eq!(p.end(true), ErrorCode::None);
    // A retried commit succeeds; an abort of the committed transaction does not.
    assert_eq!(p.end(true), ErrorCode::None);
    assert_eq!(p.end(false), ErrorCode::InvalidTxnState);

    // Transaction 2 (aborted), then a plain batch.
    assert_eq!(p.add_partitions(&topic, &[0]), vec![ErrorCode::None]);
    assert_eq!(p.produce(&topic, 0, &["a0", "a1"]), ErrorCode::None);
    assert_eq!(p.end(false), ErrorCode::None);
    // Apache Kafka writes markers after answering EndTxn: wait for the abort marker.
    let settled = wait_for(WAIT, || {
        let d = fetch(&mut c, &topic, 0, true);
        (d.last_stable_offset == d.high_watermark && d.high_watermark == 7).then_some(d)
    })
    .expect("LSO reaches the end after the abort");
    assert_eq!(plain(&mut c, &topic, 0, &["plain"]), ErrorCode::None);
    let d = fetch(&mut c, &topic, 0, true);
    assert_eq!((d.high_watermark, d.last_stable_offset), (8, 8));
    assert_eq!(committed_values(&d), vec!["c0", "c1", "c2", "plain"]);
    let aborted: Vec<(i64, i64)> = d
        .aborted_transactions
        .iter()
        .flatten()
        .map(|a| (a.producer_id, a.first_offset))
        .collect();
    // Transaction 2 started after the commit marker at offset 3.
    assert_eq!(aborted, vec![(p.pid, 4)]);
    assert_eq!(settled.aborted_transactions.as_ref().map(Vec::len), Some(1));
    assert_eq!(latest(&mut c, &topic, 0, true), 8);
    // read_uncommitted has no aborted list and sees the aborted data.
    let u = fetch(&mut c, &topic, 0, false);
    assert!(u.aborted_transactions.is_none_or(|a| a.is_empty()));
    let one = wait_for(WAIT, || {
        let d = fetch(&mut c, &topic, 1, true);
        (d.last_stable_offset == 3).then_some(d)
    })
    .expect("partition 1 committed");
    assert_eq!(committed_values(&one), vec!["d0", "d1"]);
}

fn reinit_fences_the_old_epoch(ctx: &Ctx) {
    require_txn(ctx);
    let (mut c, topic) = setup(&ctx.bootstrap, "it-txn-fence", 1);
    let id = unique_topic("txn-fence");
    let mut old = Producer::new(&ctx.bootstrap, &id, 60_000);
    assert_eq!(old.add_partitions(&topic, &[0]), vec![ErrorCode::None]);
    assert_eq!(old.produce(&topic, 0, &["zombie"]), ErrorCode::None);

    // A new instance with the same transactional id: same producer id, newer epoch; the old
    // instance's open transaction is aborted.
    let new = Producer::new(&ctx.bootstrap, &id, 60_000);
    assert_eq!(new.pid, old.pid);
    assert!(new.epoch > old.epoch, "{} > {}", new.epoch, old.epoch);
    let fenced = |e: ErrorCode| {
        matches!(
            e,
            ErrorCode::ProducerFenced | ErrorCode::InvalidProducerEpoch
        )
    };
    let e = old.end(true);
    assert!(fenced(e), "EndTxn of the old epoch: {e}");
    let codes = old.add_partitions(&topic, &[0]);
    assert!(
        fenced(codes[0]),
        "AddPartitionsToTxn of the old epoch: {codes:?}"
    );
    let e = old.produce(&topic, 0, &["late"]);
    assert!(
        fenced(e) || e == ErrorCode::InvalidTxnState,
        "produce of the old epoch: {e}"
    );
    let d = wait_for(WAIT, || {
        let d = fetch(&mut c, &topic, 0, true);
        (d.last_stable_offset == d.high_watermark).then_some(d)
    })
    .expect("the zombie transaction is aborted");
    assert!(
        committed_values(&d).is_empty(),
        "{:?}",
        committed_values(&d)
    );
    assert_eq!(
        d.aborted_transactions
            .iter()
            .flatten()
            .map(|a| a.producer_id)
            .collect::<Vec<_>>(),
        vec![old.pid]
    );

    // KIP-360: re-initialising with the current producer id/epoch bumps the epoch; with a
    // fenced one it is refused.
    let reinit = |c: &mut Connection, pid: i64, epoch: i16| {
        let v = version(c, ApiKey::InitProducerId, 5);
        assert!(v >= 4, "InitProducerId v{v}");
        retry("InitProducerId", || {
            let r = c
                .send_typed(
                    InitProducerIdRequest {
                        transactional_id: Some(id.clone()),
                        transaction_timeout_ms: 60_000,
                        producer_id: pid,
                        producer_epoch: epoch,
                        ..Default::default()
                    },
                    v,
                )
                .unwrap();
            (
                ErrorCode::from(r.error_code),
                (r.producer_id, r.producer_epoch),
            )
        })
    };
    let mut new = new;
    let (e, (pid, epoch)) = reinit(&mut new.c, new.pid, new.epoch);
    assert_eq!(e, ErrorCode::None);
    assert_eq!(pid, new.pid);
    assert!(epoch > new.epoch);
    let (e, _) = reinit(&mut old.c, old.pid, old.epoch);
    assert_eq!(e, ErrorCode::ProducerFenced, "re-init with a fenced epoch");

    // A transaction timeout above transaction.max.timeout.ms (15 min by default) is refused.
    let mut c2 = Connection::connect(&ctx.bootstrap).unwrap();
    find_coordinator(&mut c2, "txn-bad-timeout", 1);
    let r = c2
        .send(InitProducerIdRequest {
            transactional_id: Some(unique_topic("txn-bad-timeout")),
            transaction_timeout_ms: 3_600_000,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        ErrorCode::from(r.error_code),
        ErrorCode::InvalidTransactionTimeout
    );
}

/// OffsetFetch v7 (with `require_stable`) of one partition: (error, offset).
fn committed_offset(
    c: &mut Connection,
    group: &str,
    topic: &str,
    require_stable: bool,
) -> (ErrorCode, i64) {
    let r = c
        .send_typed(
            OffsetFetchRequest {
                group_id: group.into(),
                topics: Some(vec![OffsetFetchRequestTopic {
                    name: topic.into(),
                    partition_indexes: vec![0],
                    ..Default::default()
                }]),
                require_stable,
                ..Default::default()
            },
            7,
        )
        .unwrap();
    let p = &r.topics[0].partitions[0];
    (ErrorCode::from(p.error_code), p.committed_offset)
}

fn txn_offset_commit(p: &mut Producer, group: &str, topic: &str, offset: i64) -> ErrorCode {
    let v = version(&p.c, ApiKey::TxnOffsetCommit, 3);
    let (e, _) = retry("TxnOffsetCommit", || {
        let r =
            p.c.send_typed(
                TxnOffsetCommitRequest {
                    transactional_id: p.id.clone(),
                    group_id: group.into(),
                    producer_id: p.pid,
                    producer_epoch: p.epoch,
                    generation_id: -1,
                    member_id: String::new(),
                    group_instance_id: None,
                    topics: vec![TxnOffsetCommitRequestTopic {
                        name: topic.into(),
                        partitions: vec![TxnOffsetCommitRequestPartition {
                            partition_index: 0,
                            committed_offset: offset,
                            committed_leader_epoch: -1,
                            committed_metadata: Some(String::new()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                v,
            )
            .unwrap();
        (ErrorCode::from(r.topics[0].partitions[0].error_code), ())
    });
    e
}

fn txn_offset_commit_visible_after_commit_only(ctx: &Ctx) {
    require_txn(ctx);
    require_api(ctx, ApiKey::TxnOffsetCommit);
    let (mut c, topic) = setup(&ctx.bootstrap, "it-txn-offsets", 1);
    let group = unique_topic("txn-group");
    find_coordinator(&mut c, &group, 0);
    let mut p = Producer::new(&ctx.bootstrap, &unique_topic("txn-offsets"), 60_000);
    find_coordinator(&mut p.c, &group, 0);

    // Without AddOffsetsToTxn the group's partition is not in the transaction.
    assert_eq!(
        txn_offset_commit(&mut p, &group, &topic, 3),
        ErrorCode::InvalidTxnState
    );
    assert_eq!(p.add_partitions(&topic, &[0]), vec![ErrorCode::None]);
    assert_eq!(
        txn_offset_commit(&mut p, &group, &topic, 3),
        ErrorCode::InvalidTxnState
    );
    assert_eq!(p.add_offsets(&group), ErrorCode::None);
    assert_eq!(
        txn_offset_commit(&mut p, &group, &topic, 10),
        ErrorCode::None
    );
    // Pending: invisible, and unstable for require_stable.
    assert_eq!(
        committed_offset(&mut c, &group, &topic, false),
        (ErrorCode::None, -1)
    );
    assert_eq!(
        committed_offset(&mut c, &group, &topic, true).0,
        ErrorCode::UnstableOffsetCommit
    );
    assert_eq!(p.end(true), ErrorCode::None);
    wait_for(WAIT, || {
        (committed_offset(&mut c, &group, &topic, true) == (ErrorCode::None, 10)).then_some(())
    })
    .expect("committed offset becomes visible");

    // Aborted: the offset stays.
    assert_eq!(p.add_offsets(&group), ErrorCode::None);
    assert_eq!(
        txn_offset_commit(&mut p, &group, &topic, 20),
        ErrorCode::None
    );
    assert_eq!(p.end(false), ErrorCode::None);
    wait_for(WAIT, || {
        (committed_offset(&mut c, &group, &topic, true).0 == ErrorCode::None).then_some(())
    })
    .expect("the aborted offset is dropped");
    assert_eq!(
        committed_offset(&mut c, &group, &topic, false),
        (ErrorCode::None, 10)
    );
}

fn describe_and_list_transactions(ctx: &Ctx) {
    require_txn(ctx);
    require_api(ctx, ApiKey::DescribeTransactions);
    require_api(ctx, ApiKey::ListTransactions);
    let (mut c, topic) = setup(&ctx.bootstrap, "it-txn-describe", 2);
    let id = unique_topic("txn-describe");
    let mut p = Producer::new(&ctx.bootstrap, &id, 45_000);
    assert_eq!(
        p.add_partitions(&topic, &[1, 0]),
        vec![ErrorCode::None, ErrorCode::None]
    );
    let describe = |c: &mut Connection, ids: Vec<String>| {
        c.send(DescribeTransactionsRequest {
            transactional_ids: ids,
            ..Default::default()
        })
        .unwrap()
    };
    let d = describe(&mut p.c, vec![id.clone(), unique_topic("no-such-txn")]);
    let s = &d.transaction_states[0];
    assert_eq!(ErrorCode::from(s.error_code), ErrorCode::None);
    assert_eq!(s.transaction_state, "Ongoing");
    assert_eq!((s.producer_id, s.producer_epoch), (p.pid, p.epoch));
    assert_eq!(s.transaction_timeout_ms, 45_000);
    assert!(s.transaction_start_time_ms > 0);
    let mut parts: Vec<(String, i32)> = s
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.topic.clone(), *p)))
        .collect();
    parts.sort();
    assert_eq!(parts, vec![(topic.clone(), 0), (topic.clone(), 1)]);
    assert_eq!(
        ErrorCode::from(d.transaction_states[1].error_code),
        ErrorCode::TransactionalIdNotFound
    );

    let list = |c: &mut Connection, states: &[&str], pids: Vec<i64>| {
        c.send_typed(
            ListTransactionsRequest {
                state_filters: states.iter().map(|s| s.to_string()).collect(),
                producer_id_filters: pids,
                duration_filter: -1,
                ..Default::default()
            },
            0,
        )
        .unwrap()
    };
    let l = list(&mut c, &["Ongoing"], vec![p.pid]);
    assert_eq!(ErrorCode::from(l.error_code), ErrorCode::None);
    let found: Vec<(&str, i64, &str)> = l
        .transaction_states
        .iter()
        .map(|t| {
            (
                t.transactional_id.as_str(),
                t.producer_id,
                t.transaction_state.as_str(),
            )
        })
        .collect();
    assert_eq!(found, vec![(id.as_str(), p.pid, "Ongoing")]);
    let l = list(&mut c, &["NoSuchState"], Vec::new());
    assert_eq!(l.unknown_state_filters, vec!["NoSuchState".to_string()]);

    assert_eq!(p.end(true), ErrorCode::None);
    wait_for(WAIT, || {
        let d = describe(&mut c, vec![id.clone()]);
        (d.transaction_states[0].transaction_state == "CompleteCommit").then_some(())
    })
    .expect("the transaction completes");
    let l = list(&mut c, &["Ongoing"], vec![p.pid]);
    assert!(l.transaction_states.is_empty());
    let l = list(&mut c, &[], vec![p.pid]);
    assert_eq!(l.transaction_states.len(), 1);
    assert_eq!(l.transaction_states[0].transaction_state, "CompleteCommit");
}

/// The `__transaction_state` partition of a transactional id, as Kafka computes it
/// (`Utils.abs(id.hashCode()) % partitions`).
fn txn_partition(id: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for u in id.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(u));
    }
    if h == i32::MIN {
        0
    } else {
        h.abs() % partitions
    }
}

/// The records of `__transaction_state` for `id` are Kafka's `TransactionLogKey` /
/// `TransactionLogValue` (read back with the generated types): its last record names the
/// producer, the epoch, CompleteCommit (status 4) and no partitions.
fn transaction_log_in_kafka_format(ctx: &Ctx) {
    use bytes::Buf;
    use kafka_protocol::Decodable;
    use kafka_protocol::messages::internal::{TransactionLogKey, TransactionLogValue};
    require_txn(ctx);
    let (mut c, topic) = setup(&ctx.bootstrap, "it-txn-log", 1);
    let id = unique_topic("txn-log");
    let mut p = Producer::new(&ctx.bootstrap, &id, 30_000);
    assert_eq!(p.add_partitions(&topic, &[0]), vec![ErrorCode::None]);
    assert_eq!(p.produce(&topic, 0, &["x"]), ErrorCode::None);
    assert_eq!(p.end(true), ErrorCode::None);
    let md = integration_tests::admin::topic_metadata(&mut c, "__transaction_state").unwrap();
    let partitions = md.topics[0].partitions.len() as i32;
    assert!(partitions > 0, "__transaction_state exists");
    let part = txn_partition(&id, partitions);
    let last = wait_for(WAIT, || {
        let d = fetch(&mut c, "__transaction_state", part, false);
        let mut last: Option<TransactionLogValue> = None;
        for b in RecordBatches::new(d.records.clone().unwrap_or_default()) {
            for r in b.unwrap().records() {
                let r = r.unwrap();
                let mut k = r.key.clone().unwrap();
                let kver = k.get_i16();
                if TransactionLogKey::decode(&mut k, kver)
                    .unwrap()
                    .transactional_id
                    != id
                {
                    continue;
                }
                let mut v = r.value.clone().unwrap();
                let vver = v.get_i16();
                last = Some(TransactionLogValue::decode(&mut v, vver).unwrap());
            }
        }
        last.filter(|v| v.transaction_status == 4)
    })
    .expect("a CompleteCommit record for the id");
    assert_eq!((last.producer_id, last.producer_epoch), (p.pid, p.epoch));
    assert_eq!(last.transaction_timeout_ms, 30_000);
    assert!(
        last.transaction_partitions.is_none_or(|t| t.is_empty()),
        "a completed transaction lists no partitions"
    );
}

/// Bundled broker only (it needs a restart on the same data directory): a committed and an
/// open transaction when the broker stops; after the restart the open one is aborted at its
/// timeout, so the last stable offset advances and none of its data becomes visible.
fn restart_with_open_transaction(ctx: &Ctx) {
    require_txn(ctx);
    if TestCluster::from_env() != TestCluster::Embedded {
        std::panic::panic_any(crate::Skip(
            "needs to restart the broker (bundled broker only)".into(),
        ));
    }
    let dir = std::env::temp_dir().join(unique_topic("it-txn-restart-dir"));
    let broker = EmbeddedBroker::start_in(&dir).unwrap();
    let (mut c, topic) = setup(&broker.bootstrap(), "it-txn-restart", 1);
    let mut done = Producer::new(&broker.bootstrap(), "txn-restart-done", 60_000);
    assert_eq!(done.add_partitions(&topic, &[0]), vec![ErrorCode::None]);
    assert_eq!(done.produce(&topic, 0, &["kept"]), ErrorCode::None);
    let mut open = Producer::new(&broker.bootstrap(), "txn-restart-open", 1_000);
    assert_eq!(open.add_partitions(&topic, &[0]), vec![ErrorCode::None]);
    assert_eq!(open.produce(&topic, 0, &["lost"]), ErrorCode::None);
    assert_eq!(done.end(true), ErrorCode::None);
    assert_eq!(plain(&mut c, &topic, 0, &["after"]), ErrorCode::None);
    let before = fetch(&mut c, &topic, 0, true);
    assert_eq!(before.last_stable_offset, 1, "held by the open transaction");
    drop((c, done, open));
    broker.shutdown().unwrap();

    let broker = EmbeddedBroker::start_in(&dir).unwrap();
    let mut c = Connection::connect(&broker.bootstrap()).unwrap();
    let d = wait_for(WAIT, || {
        let d = fetch(&mut c, &topic, 0, true);
        (d.last_stable_offset == d.high_watermark).then_some(d)
    })
    .expect("the open transaction is aborted after the restart");
    assert_eq!(committed_values(&d), vec!["kept", "after"]);
    assert_eq!(d.aborted_transactions.as_ref().map(Vec::len), Some(1));
    drop(c);
    broker.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
