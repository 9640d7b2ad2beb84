//! Transactions and exactly-once: the transactional producer (`kafka-producer`) against a
//! cluster with a transaction coordinator, checked with `read_committed` and
//! `read_uncommitted` consumers (`kafka-consumer`).
//!
//! Every case first requires AddPartitionsToTxn and EndTxn, so it is skipped on a broker
//! without transactions. Against Apache Kafka 4.x the cluster finalizes
//! `transaction.version=2` and the producer uses the KIP-890 path (no AddPartitionsToTxn);
//! with `transaction.version=1` (`FeatureCommand downgrade`) the same cases run the
//! AddPartitionsToTxn path. `eos::restart_*` only run when `scripts/txn-restart-test.sh`
//! drives them (`EOS_RESTART_PHASE`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafka_client::{Client, ConsumerGroupMetadata};
use kafka_consumer::{
    AutoOffsetReset, Consumer, ConsumerConfig, IsolationLevel, StringDeserializer, TopicPartition,
};
use kafka_producer::{DeliveryFuture, Producer, ProducerError, ProducerRecord, TxnOffset};
use kafka_protocol::messages::ApiKey;

use crate::{Ctx, Skip, require_api};

pub(crate) const CASES: &[crate::Case] = &[
    (
        "eos::mixed_transactions_read_committed_sees_exactly_the_committed",
        mixed_transactions,
    ),
    ("eos::zombie_producer_is_fenced", zombie_producer_is_fenced),
    (
        "eos::offsets_visible_only_on_commit",
        offsets_visible_only_on_commit,
    ),
    (
        "eos::abort_drops_unsent_records_and_begins_again",
        abort_drops_unsent_records,
    ),
    (
        "eos::group_member_offsets_and_stale_generation",
        group_member_offsets_and_stale_generation,
    ),
    (
        "eos::restart_ongoing_transaction",
        restart_ongoing_transaction,
    ),
];

fn require_txn(ctx: &Ctx) {
    require_api(ctx, ApiKey::AddPartitionsToTxn);
    require_api(ctx, ApiKey::EndTxn);
}

/// Prints the transaction protocol the producer chose and, when `EOS_EXPECT_TRANSACTION_VERSION`
/// is set (scripts/txn-restart-test.sh sets it), checks it.
fn check_transaction_version(p: &Producer<String, String>) {
    let tv = p.transaction_version();
    println!("  transaction protocol version {tv:?}");
    if let Ok(want) = std::env::var("EOS_EXPECT_TRANSACTION_VERSION") {
        assert_eq!(tv, want.parse().ok(), "EOS_EXPECT_TRANSACTION_VERSION");
    }
}

fn rt() -> tokio::runtime::Runtime {
    crate::common::rt()
}

async fn admin_client(ctx: &Ctx) -> Client {
    Client::connect(crate::common::client_config(&ctx.bootstrap, "it-eos"))
        .await
        .unwrap()
}

fn unique(prefix: &str) -> String {
    integration_tests::unique_topic(prefix)
}

async fn txn_producer(ctx: &Ctx, txn_id: &str, extra: &[(&str, &str)]) -> Producer<String, String> {
    let mut props = vec![
        ("bootstrap.servers", ctx.bootstrap.as_str()),
        ("client.id", "it-eos"),
        ("transactional.id", txn_id),
        ("default.api.timeout.ms", "30000"),
        ("linger.ms", "0"),
    ];
    props.extend_from_slice(extra);
    let cfg = kafka_producer::ProducerConfig::from_properties(props).unwrap();
    Producer::new(cfg).await.unwrap()
}

fn consumer_config(
    ctx: &Ctx,
    isolation: IsolationLevel,
    group: Option<&str>,
) -> kafka_consumer::ConsumerConfigBuilder {
    let mut b = ConsumerConfig::builder()
        .bootstrap_servers(ctx.bootstrap.clone())
        .client_id("it-eos")
        .default_api_timeout(Duration::from_secs(30))
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100))
        .isolation_level(isolation);
    if let Some(g) = group {
        b = b.group_id(g);
    }
    b
}

/// Every record of `topic` visible at `isolation`, per partition, as (offset, value), reading
/// up to the end offset (last stable offset in read_committed).
///
/// EndTxn is answered before the coordinator has written every marker, so right after a
/// commit the last stable offset may still lag: read_committed reads first wait (30 s at most)
/// until it equals the high watermark, i.e. no transaction is open any more.
async fn read_all(
    ctx: &Ctx,
    topic: &str,
    partitions: i32,
    isolation: IsolationLevel,
) -> BTreeMap<i32, Vec<(i64, String)>> {
    read_all_opts(ctx, topic, partitions, isolation, true).await
}

async fn read_all_opts(
    ctx: &Ctx,
    topic: &str,
    partitions: i32,
    isolation: IsolationLevel,
    wait_stable: bool,
) -> BTreeMap<i32, Vec<(i64, String)>> {
    let cfg = consumer_config(ctx, isolation, None).build().unwrap();
    let mut c = Consumer::with_deserializers(cfg, StringDeserializer, StringDeserializer)
        .await
        .unwrap();
    let tps: Vec<TopicPartition> = (0..partitions)
        .map(|p| TopicPartition::new(topic, p))
        .collect();
    c.assign(tps.clone()).await.unwrap();
    let mut ends = c.end_offsets(&tps).await.unwrap();
    if wait_stable && isolation == IsolationLevel::ReadCommitted {
        let cfg = consumer_config(ctx, IsolationLevel::ReadUncommitted, None)
            .build()
            .unwrap();
        let hw_reader = Consumer::new(cfg).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let hw = hw_reader.end_offsets(&tps).await.unwrap();
            if ends == hw {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "a transaction stays open: last stable offsets {ends:?}, high watermarks {hw:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            ends = c.end_offsets(&tps).await.unwrap();
        }
        hw_reader.close().await.unwrap();
    }
    let mut out: BTreeMap<i32, Vec<(i64, String)>> =
        (0..partitions).map(|p| (p, Vec::new())).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut done = true;
        for tp in &tps {
            if c.position(tp).await.unwrap() < ends[tp] {
                done = false;
            }
        }
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "did not reach the end offsets {ends:?}"
        );
        for r in c.poll(Duration::from_millis(300)).await.unwrap() {
            if r.offset < ends[&TopicPartition::new(topic, r.partition)] {
                out.entry(r.partition)
                    .or_default()
                    .push((r.offset, r.value.unwrap_or_default()));
            }
        }
    }
    c.close().await.unwrap();
    out
}

/// A small deterministic generator (xorshift), seeded per run and printed.
struct Rng(u64);
impl Rng {
    fn new() -> Rng {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7)
            | 1;
        println!("  eos seed {seed}");
        Rng(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const TRANSACTIONS: usize = 1000;
const PARTITIONS: i32 = 4;

fn mixed_transactions(ctx: &Ctx) {
    require_txn(ctx);
    rt().block_on(async {
        let client = admin_client(ctx).await;
        let topic = crate::common::create_topic(&client, "it-eos-mixed", PARTITIONS).await;
        let producer = txn_producer(ctx, &unique("txn-mixed"), &[]).await;
        producer.init_transactions().await.unwrap();
        check_transaction_version(&producer);
        let mut rng = Rng::new();
        // What read_committed must show, and every record the log holds (acknowledged).
        let mut committed: BTreeMap<i32, Vec<String>> = BTreeMap::new();
        let mut acked: BTreeMap<i32, BTreeMap<i64, String>> = BTreeMap::new();
        let (mut commits, mut aborts) = (0, 0);
        for t in 0..TRANSACTIONS {
            producer.begin_transaction().unwrap();
            let n = 1 + rng.below(4) as usize;
            let mut sent: Vec<(i32, String, DeliveryFuture)> = Vec::new();
            for j in 0..n {
                let p = rng.below(PARTITIONS as u64) as i32;
                let v = format!("t{t}-r{j}");
                let rec =
                    ProducerRecord::new(&topic, Some(format!("k{t}")), v.clone()).with_partition(p);
                sent.push((p, v, producer.send(rec).await.unwrap()));
            }
            let commit = rng.below(2) == 0;
            if commit {
                producer.commit_transaction().await.unwrap();
                commits += 1;
            } else {
                // Half of the aborted transactions reach the log first (then read_committed
                // must filter them), the other half may be dropped unsent.
                if rng.below(2) == 0 {
                    producer.flush().await;
                }
                producer.abort_transaction().await.unwrap();
                aborts += 1;
            }
            for (p, v, fut) in sent {
                match fut.await {
                    Ok(md) => {
                        assert_eq!(md.partition, p);
                        acked.entry(p).or_default().insert(md.offset, v.clone());
                        if commit {
                            committed.entry(p).or_default().push(v);
                        }
                    }
                    Err(ProducerError::TransactionAborted) => {
                        assert!(!commit, "a committed record failed");
                    }
                    Err(e) => panic!("record {v} failed: {e}"),
                }
            }
        }
        producer.close(Duration::from_secs(10)).await.unwrap();
        println!("  {commits} committed, {aborts} aborted transactions");
        assert!(commits > 0 && aborts > 0);

        let rc = read_all(ctx, &topic, PARTITIONS, IsolationLevel::ReadCommitted).await;
        let mut total = 0;
        for p in 0..PARTITIONS {
            let got: Vec<String> = rc[&p].iter().map(|(_, v)| v.clone()).collect();
            let want = committed.get(&p).cloned().unwrap_or_default();
            assert_eq!(
                got.len(),
                want.len(),
                "partition {p}: committed record count"
            );
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g, w, "partition {p}, committed record #{i}");
            }
            // offsets strictly increase and every visible record was acknowledged there
            for (o, v) in &rc[&p] {
                assert_eq!(acked[&p].get(o), Some(v), "partition {p} offset {o}");
            }
            total += got.len();
        }
        println!("  read_committed saw {total} records, exactly the committed ones in order");

        let ru = read_all(ctx, &topic, PARTITIONS, IsolationLevel::ReadUncommitted).await;
        for p in 0..PARTITIONS {
            let got: BTreeMap<i64, String> = ru[&p].iter().cloned().collect();
            let want = acked.get(&p).cloned().unwrap_or_default();
            assert_eq!(
                got, want,
                "partition {p}: read_uncommitted sees every acknowledged record"
            );
        }
    });
}

fn zombie_producer_is_fenced(ctx: &Ctx) {
    require_txn(ctx);
    rt().block_on(async {
        let client = admin_client(ctx).await;
        let topic = crate::common::create_topic(&client, "it-eos-zombie", 2).await;
        let id = unique("txn-zombie");
        let zombie = txn_producer(ctx, &id, &[]).await;
        zombie.init_transactions().await.unwrap();
        zombie.begin_transaction().unwrap();
        zombie
            .send(ProducerRecord::new(&topic, None, "zombie-1".to_string()).with_partition(0))
            .await
            .unwrap()
            .await
            .unwrap();

        // A new instance with the same transactional.id fences the zombie and aborts its
        // open transaction.
        let fresh = txn_producer(ctx, &id, &[]).await;
        fresh.init_transactions().await.unwrap();
        fresh.begin_transaction().unwrap();
        let fresh_ack = fresh
            .send(ProducerRecord::new(&topic, None, "fresh-1".to_string()).with_partition(1))
            .await
            .unwrap();

        // The zombie's next send fails with a fatal fenced error, and so does its commit.
        let r = match zombie
            .send(ProducerRecord::new(&topic, None, "zombie-2".to_string()).with_partition(0))
            .await
        {
            Ok(fut) => fut.await,
            Err(e) => Err(e),
        };
        let e = r.expect_err("the zombie's send must fail");
        assert!(e.is_fenced(), "send: {e}");
        let e = zombie
            .commit_transaction()
            .await
            .expect_err("the zombie must not commit");
        assert!(e.is_fatal() && e.is_fenced(), "commit: {e}");
        let e = zombie.begin_transaction().expect_err("fatal stays fatal");
        assert!(e.is_fatal(), "{e}");
        zombie.close(Duration::from_secs(5)).await.ok();

        fresh.commit_transaction().await.unwrap();
        fresh_ack.await.unwrap();
        fresh.close(Duration::from_secs(10)).await.unwrap();

        let rc = read_all(ctx, &topic, 2, IsolationLevel::ReadCommitted).await;
        let values: Vec<&str> = rc.values().flatten().map(|(_, v)| v.as_str()).collect();
        assert_eq!(
            values,
            ["fresh-1"],
            "only the new instance's transaction is visible"
        );
    });
}

fn offsets_visible_only_on_commit(ctx: &Ctx) {
    require_txn(ctx);
    rt().block_on(async {
        let client = admin_client(ctx).await;
        let input = crate::common::create_topic(&client, "it-eos-in", 1).await;
        let output = crate::common::create_topic(&client, "it-eos-out", 1).await;
        let group = unique("it-eos-group");
        let tp = TopicPartition::new(&input, 0);
        let cfg = consumer_config(ctx, IsolationLevel::ReadCommitted, Some(&group))
            .build()
            .unwrap();
        let consumer = Consumer::with_deserializers(cfg, StringDeserializer, StringDeserializer)
            .await
            .unwrap();
        let meta = consumer.consumer_group_metadata().unwrap();
        assert_eq!(
            meta,
            ConsumerGroupMetadata::new(&group),
            "not a member: generation -1"
        );

        let producer = txn_producer(ctx, &unique("txn-offsets"), &[]).await;
        producer.init_transactions().await.unwrap();

        // Aborted: the offset does not become the group's.
        producer.begin_transaction().unwrap();
        let _unsent_or_aborted = producer
            .send(ProducerRecord::new(&output, None, "aborted".to_string()))
            .await
            .unwrap();
        producer
            .send_offsets_to_transaction([TxnOffset::new(&input, 0, 5)], &meta)
            .await
            .unwrap();
        producer.abort_transaction().await.unwrap();
        let c = consumer.committed(std::slice::from_ref(&tp)).await.unwrap();
        assert_eq!(
            c[&tp], None,
            "offsets of an aborted transaction stay invisible"
        );

        // Committed: it does.
        producer.begin_transaction().unwrap();
        let ack = producer
            .send(ProducerRecord::new(&output, None, "committed".to_string()))
            .await
            .unwrap();
        producer
            .send_offsets_to_transaction([TxnOffset::new(&input, 0, 7).with_metadata("eos")], &meta)
            .await
            .unwrap();
        // Not visible before the commit either (a stable-offsets fetch may also wait for
        // the transaction: a timeout counts as not visible).
        let c = tokio::time::timeout(
            Duration::from_secs(2),
            consumer.committed(std::slice::from_ref(&tp)),
        )
        .await;
        assert!(
            !matches!(&c, Ok(Ok(m)) if m[&tp].is_some()),
            "pending offsets must not be visible: {c:?}"
        );
        producer.commit_transaction().await.unwrap();
        ack.await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let committed = loop {
            match consumer.committed(std::slice::from_ref(&tp)).await {
                Ok(m) if m[&tp].is_some() => break m[&tp].clone().unwrap(),
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "the committed offset never showed"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(committed.offset, 7);
        assert_eq!(committed.metadata, "eos");
        producer.close(Duration::from_secs(10)).await.unwrap();
        consumer.close().await.unwrap();

        let rc = read_all(ctx, &output, 1, IsolationLevel::ReadCommitted).await;
        let values: Vec<&str> = rc[&0].iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(values, ["committed"]);
    });
}

fn abort_drops_unsent_records(ctx: &Ctx) {
    require_txn(ctx);
    rt().block_on(async {
        let client = admin_client(ctx).await;
        let topic = crate::common::create_topic(&client, "it-eos-abort", 1).await;
        // A long linger keeps the records buffered until the abort.
        let producer = txn_producer(ctx, &unique("txn-abort"), &[("linger.ms", "60000")]).await;
        producer.init_transactions().await.unwrap();
        producer.begin_transaction().unwrap();
        let mut futs = Vec::new();
        for i in 0..5 {
            let rec = ProducerRecord::new(&topic, None, format!("dropped-{i}"));
            futs.push(producer.send(rec).await.unwrap());
        }
        let called = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let c2 = called.clone();
        producer
            .send_with_callback(
                ProducerRecord::new(&topic, None, "dropped-cb".to_string()),
                move |r| {
                    c2.lock().unwrap().push(r.map(|_| ()));
                },
            )
            .await
            .unwrap();
        producer.abort_transaction().await.unwrap();
        for f in futs {
            assert!(
                matches!(f.await, Err(ProducerError::TransactionAborted)),
                "an unsent record's future fails with TransactionAborted"
            );
        }
        let cb = called.lock().unwrap().clone();
        assert!(
            matches!(cb.as_slice(), [Err(ProducerError::TransactionAborted)]),
            "{cb:?}"
        );

        // The producer goes on.
        producer.begin_transaction().unwrap();
        let mut kept = Vec::new();
        for i in 0..3 {
            let rec = ProducerRecord::new(&topic, None, format!("kept-{i}"));
            kept.push(producer.send(rec).await.unwrap());
        }
        producer.commit_transaction().await.unwrap();
        for f in kept {
            f.await.unwrap();
        }
        producer.close(Duration::from_secs(10)).await.unwrap();
        let rc = read_all(ctx, &topic, 1, IsolationLevel::ReadCommitted).await;
        let values: Vec<&str> = rc[&0].iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(values, ["kept-0", "kept-1", "kept-2"]);
        let ru = read_all(ctx, &topic, 1, IsolationLevel::ReadUncommitted).await;
        assert_eq!(ru[&0].len(), 3, "the dropped records never reached the log");

        // Closing with an open transaction aborts it (read_all waits, 30 s at most, for no
        // open transaction: without the abort it would stay open for transaction.timeout.ms).
        let producer = txn_producer(
            ctx,
            &unique("txn-close"),
            &[("transaction.timeout.ms", "300000")],
        )
        .await;
        producer.init_transactions().await.unwrap();
        producer.begin_transaction().unwrap();
        let sent = producer
            .send(ProducerRecord::new(&topic, None, "closed-open".to_string()))
            .await
            .unwrap();
        sent.await.unwrap();
        producer.close(Duration::from_secs(10)).await.unwrap();
        let rc = read_all(ctx, &topic, 1, IsolationLevel::ReadCommitted).await;
        let values: Vec<&str> = rc[&0].iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(
            values,
            ["kept-0", "kept-1", "kept-2"],
            "the open transaction was aborted"
        );
    });
}

/// Driven by `scripts/txn-restart-test.sh`, which restarts the broker between the phases:
///
/// - `EOS_RESTART_PHASE=begin`: commits transaction A, then writes transaction B (acknowledged,
///   in the log) and exits without ending it; the topic and transactional id go to
///   `EOS_RESTART_STATE`.
/// - (the broker restarts on the same data)
/// - `EOS_RESTART_PHASE=check`: read_committed sees A and stops before B (no partial
///   visibility); a new producer with the same transactional.id aborts B at
///   `init_transactions`, commits C; then read_committed sees exactly A and C, and
///   read_uncommitted sees A, B and C.
fn restart_ongoing_transaction(ctx: &Ctx) {
    let (Ok(phase), Ok(state)) = (
        std::env::var("EOS_RESTART_PHASE"),
        std::env::var("EOS_RESTART_STATE"),
    ) else {
        std::panic::panic_any(Skip(
            "run by scripts/txn-restart-test.sh (EOS_RESTART_PHASE, EOS_RESTART_STATE)".into(),
        ));
    };
    require_txn(ctx);
    rt().block_on(async {
        match phase.as_str() {
            "begin" => {
                let client = admin_client(ctx).await;
                let topic = crate::common::create_topic(&client, "it-eos-restart", 2).await;
                let id = unique("txn-restart");
                std::fs::write(&state, format!("{topic}\n{id}\n")).unwrap();
                let p = txn_producer(ctx, &id, &[("transaction.timeout.ms", "600000")]).await;
                p.init_transactions().await.unwrap();
                check_transaction_version(&p);
                p.begin_transaction().unwrap();
                let mut futs = Vec::new();
                for i in 0..4 {
                    let rec =
                        ProducerRecord::new(&topic, None, format!("A-{i}")).with_partition(i % 2);
                    futs.push(p.send(rec).await.unwrap());
                }
                p.commit_transaction().await.unwrap();
                for f in futs.drain(..) {
                    f.await.unwrap();
                }
                p.begin_transaction().unwrap();
                for i in 0..4 {
                    let rec =
                        ProducerRecord::new(&topic, None, format!("B-{i}")).with_partition(i % 2);
                    futs.push(p.send(rec).await.unwrap());
                }
                for f in futs {
                    f.await.unwrap();
                }
                // Leave B open: the process ends without commit or abort.
                std::mem::forget(p);
            }
            "check" => {
                let text = std::fs::read_to_string(&state).unwrap();
                let mut lines = text.lines();
                let topic = lines.next().unwrap().to_string();
                let id = lines.next().unwrap().to_string();
                let rc = read_all_opts(ctx, &topic, 2, IsolationLevel::ReadCommitted, false).await;
                let seen: BTreeSet<&str> = rc.values().flatten().map(|(_, v)| v.as_str()).collect();
                assert_eq!(
                    seen,
                    ["A-0", "A-1", "A-2", "A-3"].into_iter().collect(),
                    "before recovery read_committed sees A only"
                );
                let p = txn_producer(ctx, &id, &[]).await;
                p.init_transactions().await.unwrap();
                check_transaction_version(&p);
                p.begin_transaction().unwrap();
                let mut futs = Vec::new();
                for i in 0..2 {
                    let rec =
                        ProducerRecord::new(&topic, None, format!("C-{i}")).with_partition(i % 2);
                    futs.push(p.send(rec).await.unwrap());
                }
                p.commit_transaction().await.unwrap();
                for f in futs {
                    f.await.unwrap();
                }
                p.close(Duration::from_secs(10)).await.unwrap();
                let rc = read_all(ctx, &topic, 2, IsolationLevel::ReadCommitted).await;
                let seen: BTreeSet<&str> = rc.values().flatten().map(|(_, v)| v.as_str()).collect();
                let want: BTreeSet<&str> = ["A-0", "A-1", "A-2", "A-3", "C-0", "C-1"]
                    .into_iter()
                    .collect();
                assert_eq!(seen, want, "B was aborted, A and C committed");
                let ru = read_all(ctx, &topic, 2, IsolationLevel::ReadUncommitted).await;
                let all: BTreeSet<&str> = ru.values().flatten().map(|(_, v)| v.as_str()).collect();
                assert_eq!(all.len(), 10, "A, B and C are all in the log: {all:?}");
                println!("  restart: B aborted after the restart, A and C visible");
            }
            other => panic!("unknown EOS_RESTART_PHASE {other:?}"),
        }
    });
}

/// Offsets sent with a live member's group metadata (generation >= 0) commit; with a
/// generation the group does not have, TxnOffsetCommit fails with ILLEGAL_GENERATION, which
/// is abortable (as in Java): the producer aborts and goes on.
fn group_member_offsets_and_stale_generation(ctx: &Ctx) {
    require_txn(ctx);
    rt().block_on(async {
        let client = admin_client(ctx).await;
        let input = crate::common::create_topic(&client, "it-eos-member", 1).await;
        let group = unique("it-eos-member-group");
        let tp = TopicPartition::new(&input, 0);
        let cfg = consumer_config(ctx, IsolationLevel::ReadCommitted, Some(&group))
            .enable_auto_commit(false)
            .session_timeout(Duration::from_secs(10))
            .heartbeat_interval(Duration::from_millis(500))
            .build()
            .unwrap();
        let mut consumer =
            Consumer::with_deserializers(cfg, StringDeserializer, StringDeserializer)
                .await
                .unwrap();
        consumer.subscribe([input.as_str()]).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let meta = loop {
            consumer.poll(Duration::from_millis(200)).await.unwrap();
            let m = consumer.consumer_group_metadata().unwrap();
            if m.generation_id >= 0 && !m.member_id.is_empty() {
                break m;
            }
            assert!(Instant::now() < deadline, "the consumer never joined");
        };
        let producer = txn_producer(ctx, &unique("txn-member"), &[]).await;
        producer.init_transactions().await.unwrap();

        producer.begin_transaction().unwrap();
        producer
            .send_offsets_to_transaction([TxnOffset::new(&input, 0, 3)], &meta)
            .await
            .unwrap();
        producer.commit_transaction().await.unwrap();
        let c = consumer.committed(std::slice::from_ref(&tp)).await.unwrap();
        assert_eq!(c[&tp].as_ref().map(|o| o.offset), Some(3));

        let stale = ConsumerGroupMetadata {
            generation_id: meta.generation_id + 5,
            ..meta.clone()
        };
        producer.begin_transaction().unwrap();
        let e = producer
            .send_offsets_to_transaction([TxnOffset::new(&input, 0, 9)], &stale)
            .await
            .expect_err("a wrong generation must be refused");
        assert!(e.is_abortable(), "{e}");
        assert_eq!(
            e.error_code(),
            Some(kafka_protocol::ErrorCode::IllegalGeneration),
            "{e}"
        );
        assert!(
            producer
                .commit_transaction()
                .await
                .unwrap_err()
                .is_abortable()
        );
        producer.abort_transaction().await.unwrap();

        producer.begin_transaction().unwrap();
        producer
            .send_offsets_to_transaction([TxnOffset::new(&input, 0, 4)], &meta)
            .await
            .unwrap();
        producer.commit_transaction().await.unwrap();
        let c = consumer.committed(std::slice::from_ref(&tp)).await.unwrap();
        assert_eq!(
            c[&tp].as_ref().map(|o| o.offset),
            Some(4),
            "9 never became visible"
        );
        producer.close(Duration::from_secs(10)).await.unwrap();
        consumer.close().await.unwrap();
    });
}
