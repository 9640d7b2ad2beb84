//! Exactly-once consume-transform-produce: a `read_committed` consumer in a group reads
//! orders, a transactional producer writes the transformed records and commits the consumed
//! offsets in the same transaction (`send_offsets_to_transaction`), so every input record is
//! reflected in the output exactly once — even across a failed (aborted) attempt, which the
//! example provokes once on purpose.
//!
//! ```sh
//! KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 cargo run --release -p examples --example exactly_once
//! ```
//!
//! Without `KAFKA_BOOTSTRAP_SERVERS` the bundled broker (which has a transaction coordinator) is
//! started in-process as in the quickstart; with it, any cluster with transactions (Apache
//! Kafka 2.5+). Bounded: 120 s at most.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kafka_admin::{AdminClient, AdminConfig, NewTopic, Options};
use kafka_consumer::{
    AutoOffsetReset, Consumer, ConsumerConfig, IsolationLevel, StringDeserializer, TopicPartition,
};
use kafka_producer::{Producer, ProducerConfig, ProducerRecord, TxnOffset};
use kafka_protocol::messages::ApiKey;

const RECORDS: usize = 30;
const PARTITIONS: i32 = 3;

use examples::BoxError;

async fn run(bootstrap: &str) -> Result<(), BoxError> {
    let admin = AdminClient::connect(AdminConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("default.api.timeout.ms", "30000"),
        ("client.id", "eos-admin"),
    ])?)
    .await?;
    let serves_txn = admin
        .api_versions(Options::default())
        .await?
        .values()
        .filter_map(|r| r.as_ref().ok())
        .any(|v| {
            v.contains_key(&(ApiKey::AddPartitionsToTxn as i16))
                && v.contains_key(&(ApiKey::EndTxn as i16))
        });
    if !serves_txn {
        admin.close();
        return Err(
            "this cluster does not serve transactions (no AddPartitionsToTxn/EndTxn): \
                    point KAFKA_BOOTSTRAP_SERVERS at a cluster with a transaction coordinator"
                .into(),
        );
    }
    // Fresh names per run, so a rerun against the same cluster starts clean.
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let input = format!("eos-orders-{run_id}");
    let output = format!("eos-invoices-{run_id}");
    let group = format!("eos-app-{run_id}");
    let created = admin
        .create_topics(
            [
                NewTopic::new(&input, PARTITIONS, 1),
                NewTopic::new(&output, PARTITIONS, 1),
            ],
            Default::default(),
        )
        .await?;
    for (t, r) in &created.per_topic {
        if let Err(e) = r {
            return Err(format!("creating {t}: {e}").into());
        }
    }
    println!("topics {input} -> {output}, group {group}");

    // 1. Input: orders, with a plain (idempotent) producer.
    let plain: Producer<String, String> = Producer::new(ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("client.id", "eos-input-writer"),
    ])?)
    .await?;
    let mut acks = Vec::new();
    for i in 0..RECORDS {
        let rec = ProducerRecord::new(&input, Some(format!("order-{i}")), format!("{}", 10 * i));
        acks.push(plain.send(rec).await?);
    }
    for a in acks {
        a.await?;
    }
    plain.close(Duration::from_secs(10)).await?;
    println!("wrote {RECORDS} orders");

    // 2. The processor: read_committed consumer + transactional producer.
    let cfg = ConsumerConfig::builder()
        .bootstrap_servers(bootstrap)
        .client_id("eos-processor")
        .group_id(&group)
        .isolation_level(IsolationLevel::ReadCommitted)
        .enable_auto_commit(false)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .max_poll_records(8)
        .build()?;
    let mut consumer =
        Consumer::with_deserializers(cfg, StringDeserializer, StringDeserializer).await?;
    consumer.subscribe([input.as_str()]).await?;
    let producer: Producer<String, String> = Producer::new(ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("client.id", "eos-processor"),
        ("transactional.id", format!("{group}-processor-0").as_str()),
        ("transaction.timeout.ms", "30000"),
    ])?)
    .await?;
    producer.init_transactions().await?;
    println!(
        "transactional producer ready (transaction protocol version {})",
        producer.transaction_version().unwrap_or(0)
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    let mut processed = 0usize;
    let mut failed_once = false;
    while processed < RECORDS {
        if Instant::now() > deadline {
            return Err(format!("only {processed} of {RECORDS} orders processed in 60 s").into());
        }
        let batch = consumer.poll(Duration::from_millis(500)).await?;
        if batch.is_empty() {
            continue;
        }
        producer.begin_transaction()?;
        let mut next: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        let mut first: BTreeMap<TopicPartition, i64> = BTreeMap::new();
        for r in &batch {
            let order = r.key.clone().unwrap_or_default();
            let amount: i64 = r.value.as_deref().unwrap_or("0").parse().unwrap_or(0);
            let invoice = format!("invoice for {order}: {} EUR incl. VAT", amount * 12 / 10);
            // The delivery outcome is not awaited one by one: commit_transaction fails if
            // any record of the transaction failed.
            let _queued = producer
                .send(ProducerRecord::new(&output, Some(order), invoice))
                .await?;
            let tp = TopicPartition::new(r.topic.to_string(), r.partition);
            first.entry(tp.clone()).or_insert(r.offset);
            next.insert(tp, r.offset + 1);
        }
        let offsets: Vec<TxnOffset> = next
            .iter()
            .map(|(tp, o)| TxnOffset::new(&tp.topic, tp.partition, *o))
            .collect();
        let group_meta = consumer
            .consumer_group_metadata()
            .ok_or("the consumer has no group")?;
        producer
            .send_offsets_to_transaction(offsets, &group_meta)
            .await?;
        if !failed_once {
            // A simulated crash of the transform: abort, rewind, and process again. Nothing of
            // this attempt becomes visible, neither invoices nor offsets.
            failed_once = true;
            producer.abort_transaction().await?;
            for (tp, o) in &first {
                consumer.seek(tp, *o)?;
            }
            println!(
                "attempt with {} orders aborted on purpose; reprocessing",
                batch.len()
            );
            continue;
        }
        match producer.commit_transaction().await {
            Ok(()) => {
                processed += batch.len();
                println!(
                    "committed {} invoices and their offsets ({processed}/{RECORDS})",
                    batch.len()
                );
            }
            Err(e) if e.is_abortable() => {
                producer.abort_transaction().await?;
                for (tp, o) in &first {
                    consumer.seek(tp, *o)?;
                }
                println!("transaction failed ({e}); reprocessing");
            }
            Err(e) => return Err(e.into()),
        }
    }
    producer.close(Duration::from_secs(10)).await?;
    consumer.close().await?;

    // 3. Check: a read_committed reader sees each order's invoice exactly once.
    let cfg = ConsumerConfig::builder()
        .bootstrap_servers(bootstrap)
        .client_id("eos-checker")
        .isolation_level(IsolationLevel::ReadCommitted)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()?;
    let mut checker =
        Consumer::with_deserializers(cfg, StringDeserializer, StringDeserializer).await?;
    let tps: Vec<TopicPartition> = (0..PARTITIONS)
        .map(|p| TopicPartition::new(&output, p))
        .collect();
    checker.assign(tps.clone()).await?;
    let ends = checker.end_offsets(&tps).await?;
    let mut seen: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut done = true;
        for tp in &tps {
            if checker.position(tp).await? < ends[tp] {
                done = false;
            }
        }
        if done {
            break;
        }
        if Instant::now() > deadline {
            return Err("the checker did not reach the end of the output".into());
        }
        for r in checker.poll(Duration::from_millis(300)).await? {
            seen.push(r.key.unwrap_or_default());
        }
    }
    checker.close().await?;
    let distinct: BTreeSet<&String> = seen.iter().collect();
    println!(
        "output: {} invoices for {} distinct orders (expected {RECORDS} and {RECORDS})",
        seen.len(),
        distinct.len()
    );
    admin.close();
    if seen.len() != RECORDS || distinct.len() != RECORDS {
        return Err("exactly-once violated".into());
    }
    Ok(())
}

fn main() {
    examples::main_with_cluster(
        "exactly-once",
        Duration::from_secs(120),
        |bootstrap| async move { run(&bootstrap).await },
    );
}
