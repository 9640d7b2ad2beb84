//! The quickstart: create a topic, produce records with keys and headers, consume them in a
//! consumer group, commit, and show the group's lag.
//!
//! ```sh
//! cargo run --release -p examples --example quickstart
//! # against an existing cluster instead of the bundled broker:
//! KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 cargo run --release -p examples --example quickstart
//! ```
//!
//! Without `KAFKA_BOOTSTRAP_SERVERS` the bundled broker is started in-process on a free port
//! with a temporary data directory, and shut down (and the directory removed) at the end.
//! When the cluster has no group coordinator (FindCoordinator not served), the group part is
//! skipped with a message instead of waiting.

use std::time::{Duration, Instant};

use kafka_admin::{AdminClient, AdminConfig, NewTopic, Options};
use kafka_consumer::{AutoOffsetReset, Consumer, ConsumerConfig, StringDeserializer};
use kafka_producer::{Producer, ProducerConfig, ProducerRecord};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::ApiKey;

const TOPIC: &str = "quickstart-events";
const GROUP: &str = "quickstart-group";
const RECORDS: usize = 6;

use examples::BoxError;

async fn run(bootstrap: &str) -> Result<(), BoxError> {
    // 1. A topic, with the admin client.
    let admin = AdminClient::connect(AdminConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("default.api.timeout.ms", "30000"),
        ("client.id", "quickstart-admin"),
    ])?)
    .await?;
    let created = admin
        .create_topics([NewTopic::new(TOPIC, 3, 1)], Default::default())
        .await?;
    match created.per_topic.get(TOPIC) {
        Some(Ok(_)) => println!("created topic {TOPIC} with 3 partitions"),
        Some(Err(e)) if e.error_code() == Some(ErrorCode::TopicAlreadyExists) => {
            println!("topic {TOPIC} already exists")
        }
        Some(Err(e)) => return Err(e.clone().into()),
        None => return Err("no answer for the topic".into()),
    }

    // 2. Records with keys and headers, with the producer; wait for each acknowledgement.
    let producer: Producer<String, String> = Producer::new(ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("client.id", "quickstart-producer"),
        ("linger.ms", "5"),
    ])?)
    .await?;
    let mut acks = Vec::new();
    for i in 0..RECORDS {
        let user = format!("user-{}", i % 3);
        let rec = ProducerRecord::new(TOPIC, Some(user.clone()), format!("event #{i} of {user}"))
            .with_header("source", Some(&b"quickstart"[..]))
            .with_header("seq", Some(i.to_string().into_bytes()));
        acks.push(producer.send(rec).await?);
    }
    for a in acks {
        let md = a.await?;
        println!(
            "produced to {}-{} at offset {}",
            md.topic, md.partition, md.offset
        );
    }
    producer.close(Duration::from_secs(10)).await?;

    // 3. Consume in a group and commit, if the cluster has a group coordinator.
    let serves_groups = admin
        .api_versions(Options::default())
        .await?
        .values()
        .filter_map(|r| r.as_ref().ok())
        .any(|v| v.contains_key(&(ApiKey::FindCoordinator as i16)));
    if !serves_groups {
        println!(
            "this cluster does not serve consumer groups (no FindCoordinator API): \
             skipping the group consume, commit and lag"
        );
        admin.close();
        return Ok(());
    }
    let cfg = ConsumerConfig::builder()
        .bootstrap_servers(bootstrap)
        .client_id("quickstart-consumer")
        .group_id(GROUP)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .enable_auto_commit(false)
        .build()?;
    let mut consumer =
        Consumer::with_deserializers(cfg, StringDeserializer, StringDeserializer).await?;
    consumer.subscribe([TOPIC]).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    while seen < RECORDS {
        if Instant::now() > deadline {
            return Err(format!("only {seen} of {RECORDS} records consumed within 60 s").into());
        }
        for r in consumer.poll(Duration::from_millis(500)).await? {
            let headers: Vec<String> = r
                .headers
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        String::from_utf8_lossy(v.as_deref().unwrap_or(b""))
                    )
                })
                .collect();
            println!(
                "consumed {}-{}@{}: key={:?} value={:?} headers=[{}]",
                r.topic,
                r.partition,
                r.offset,
                r.key.as_deref().unwrap_or(""),
                r.value.as_deref().unwrap_or(""),
                headers.join(", ")
            );
            seen += 1;
        }
    }
    consumer.commit_sync().await?;
    println!("committed the group's offsets");
    consumer.close().await?;

    // 4. The group's lag, as the admin client sees it.
    let lag = admin.lag(GROUP, Options::default()).await?;
    for (tp, l) in &lag.per_partition {
        let end = l
            .end_offset
            .as_ref()
            .map_or("?".to_string(), |e| e.to_string());
        println!(
            "lag {tp}: committed {} end {end} lag {:?}",
            l.committed, l.lag
        );
    }
    println!("total lag of {GROUP}: {}", lag.total());
    admin.close();
    Ok(())
}

fn main() {
    examples::main_with_cluster(
        "quickstart",
        Duration::from_secs(120),
        |bootstrap| async move { run(&bootstrap).await },
    );
}
