//! `kafka-producer` against a real cluster: keyed records land where the Java partitioner puts
//! them, every codec, headers (duplicates kept), explicit partition and timestamp, acks 0/1/all,
//! max.block.ms on an unknown topic, and a broker outage mid-load (a TCP proxy killed and
//! restarted) with idempotence on → no loss, no duplicate, order kept per partition. Records are
//! read back with raw Fetch requests through `kafka-client`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use integration_tests::unique_topic;
use kafka_client::{Client, ClientConfig, Target};
use kafka_producer::config::{Acks, ProducerConfig};
use kafka_producer::partitioner::murmur2_partition;
use kafka_producer::{Producer, ProducerError, ProducerRecord};
use kafka_protocol::ErrorCode;
use kafka_protocol::compression::Compression;
use kafka_protocol::messages::FetchRequest;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::records::{Batch, RecordBatches};

use crate::Ctx;
use crate::proxy::Proxy;

pub(crate) const CASES: &[crate::Case] = &[
    (
        "producer::keyed_records_follow_the_java_partitioner",
        keyed_records_follow_the_java_partitioner,
    ),
    ("producer::every_codec_round_trips", every_codec_round_trips),
    (
        "producer::headers_explicit_partition_and_timestamp",
        headers_explicit_partition_and_timestamp,
    ),
    ("producer::acks_0_1_all", acks_0_1_all),
    (
        "producer::keyless_records_spread_sticky",
        keyless_records_spread_sticky,
    ),
    (
        "producer::unknown_topic_fails_after_max_block",
        unknown_topic_fails_after_max_block,
    ),
    (
        "producer::idempotent_expired_batches_bump_the_epoch",
        idempotent_expired_batches_bump_the_epoch,
    ),
    (
        "producer::idempotent_outage_mid_load_no_loss_no_duplicate",
        idempotent_outage_mid_load_no_loss_no_duplicate,
    ),
];

fn rt() -> tokio::runtime::Runtime {
    crate::common::rt()
}

fn client_config(bootstrap: &str) -> ClientConfig {
    crate::common::client_config(bootstrap, "it-producer")
}

async fn create_topic(client: &Client, partitions: i32) -> String {
    crate::common::create_topic(client, "it-producer", partitions).await
}

/// A record read back.
#[derive(Debug, Clone)]
struct Got {
    offset: i64,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
    headers: Vec<(String, Option<Bytes>)>,
    compression: Compression,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
}

/// Every record of a partition, by raw Fetch from offset 0 to the high watermark.
async fn fetch_all(client: &Client, topic: &str, partition: i32) -> Vec<Got> {
    let (leader, _) = client.leader_for(topic, partition).await.unwrap();
    let id = client.metadata().topic(topic).unwrap().id;
    let mut out = Vec::new();
    let mut offset = 0i64;
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let resp = client
            .send(
                Target::Broker(leader),
                FetchRequest {
                    replica_id: -1,
                    max_wait_ms: 100,
                    min_bytes: 1,
                    max_bytes: 50 << 20,
                    topics: vec![FetchTopic {
                        topic: topic.to_string(),
                        topic_id: id,
                        partitions: vec![FetchPartition {
                            partition,
                            fetch_offset: offset,
                            partition_max_bytes: 10 << 20,
                            current_leader_epoch: -1,
                            last_fetched_epoch: -1,
                            log_start_offset: -1,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let p = &resp.responses[0].partitions[0];
        assert_eq!(ErrorCode::from_i16(p.error_code), ErrorCode::None);
        let hw = p.high_watermark;
        for b in RecordBatches::new(p.records.clone().unwrap_or_default()) {
            let Batch::V2(b) = b.unwrap() else {
                panic!("legacy batch")
            };
            b.validate_crc().unwrap();
            for r in b.records() {
                let r = r.unwrap();
                if r.offset < offset {
                    continue;
                }
                offset = r.offset + 1;
                out.push(Got {
                    offset: r.offset,
                    timestamp: r.timestamp,
                    key: r.key.clone(),
                    value: r.value.clone(),
                    headers: r
                        .headers
                        .iter()
                        .map(|h| {
                            let (k, v) = h;
                            (k.to_string(), v)
                        })
                        .collect(),
                    compression: b.compression(),
                    producer_id: b.producer_id(),
                    producer_epoch: b.producer_epoch(),
                    base_sequence: b.base_sequence(),
                });
            }
            offset = offset.max(b.next_offset());
        }
        if offset >= hw {
            return out;
        }
        assert!(
            Instant::now() < end,
            "fetch did not reach the high watermark"
        );
    }
}

fn config(bootstrap: &str) -> kafka_producer::config::ProducerConfigBuilder {
    ProducerConfig::builder(bootstrap)
        .client_id("it-producer")
        .max_block(Duration::from_secs(20))
        .delivery_timeout(Duration::from_secs(60))
}

fn keyed_records_follow_the_java_partitioner(ctx: &Ctx) {
    rt().block_on(async {
        let client = Client::connect(client_config(&ctx.bootstrap))
            .await
            .unwrap();
        let topic = create_topic(&client, 6).await;
        let producer: Producer<String, String> =
            Producer::new(config(&ctx.bootstrap).build().unwrap())
                .await
                .unwrap();
        let mut acks = Vec::new();
        for i in 0..300 {
            let key = format!("key-{i}");
            let f = producer
                .send(ProducerRecord::new(
                    &topic,
                    Some(key.clone()),
                    format!("v{i}"),
                ))
                .await
                .unwrap();
            acks.push((key, f));
        }
        let mut expected: HashMap<String, i32> = HashMap::new();
        for (key, f) in acks {
            let md = f.await.unwrap();
            let want = murmur2_partition(key.as_bytes(), 6);
            assert_eq!(md.partition, want, "key {key}");
            assert!(md.offset >= 0);
            expected.insert(key, want);
        }
        let mut seen = 0;
        for p in 0..6 {
            for r in fetch_all(&client, &topic, p).await {
                let k = String::from_utf8(r.key.unwrap().to_vec()).unwrap();
                assert_eq!(expected[&k], p);
                seen += 1;
            }
        }
        assert_eq!(seen, 300);
        producer.close(Duration::from_secs(10)).await.unwrap();
    });
}

fn every_codec_round_trips(ctx: &Ctx) {
    rt().block_on(async {
        let client = Client::connect(client_config(&ctx.bootstrap))
            .await
            .unwrap();
        for codec in Compression::ALL {
            let topic = create_topic(&client, 1).await;
            let producer: Producer<Bytes, Bytes> = Producer::new(
                config(&ctx.bootstrap)
                    .compression(codec)
                    .linger(Duration::from_millis(20))
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap();
            let mut acks = Vec::new();
            for i in 0..500u32 {
                let v = Bytes::from(format!("{codec} record {i} {}", "x".repeat(50)));
                acks.push(
                    producer
                        .send(ProducerRecord::new(&topic, None, v))
                        .await
                        .unwrap(),
                );
            }
            for a in acks {
                a.await.unwrap();
            }
            let got = fetch_all(&client, &topic, 0).await;
            assert_eq!(got.len(), 500, "{codec}");
            for (i, r) in got.iter().enumerate() {
                assert_eq!(r.compression, codec);
                let want = format!("{codec} record {i} {}", "x".repeat(50));
                assert_eq!(r.value.as_deref(), Some(want.as_bytes()));
            }
            producer.close(Duration::from_secs(10)).await.unwrap();
        }
    });
}

fn headers_explicit_partition_and_timestamp(ctx: &Ctx) {
    rt().block_on(async {
        let client = Client::connect(client_config(&ctx.bootstrap))
            .await
            .unwrap();
        let topic = create_topic(&client, 3).await;
        let producer: Producer<String, String> =
            Producer::new(config(&ctx.bootstrap).build().unwrap())
                .await
                .unwrap();
        let r = ProducerRecord::new(&topic, Some("k".to_string()), "v".to_string())
            .with_partition(2)
            .with_timestamp(1_600_000_000_123)
            .with_header("trace", Some(&b"a"[..]))
            .with_header("trace", Some(&b"b"[..]))
            .with_header("empty", None::<Bytes>);
        let md = producer.send(r).await.unwrap().await.unwrap();
        assert_eq!(md.partition, 2);
        assert_eq!(md.timestamp, 1_600_000_000_123);
        assert_eq!(md.serialized_key_size, 1);
        let tomb = producer
            .send(
                ProducerRecord::<String, String>::tombstone(&topic, "k".to_string())
                    .with_partition(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        assert_eq!(tomb.serialized_value_size, -1);
        let bad = producer
            .send(ProducerRecord::new(&topic, None, "v".to_string()).with_partition(3))
            .await;
        assert!(matches!(bad, Err(ProducerError::InvalidPartition { .. })));
        let got = fetch_all(&client, &topic, 2).await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].offset, md.offset);
        assert_eq!(got[0].timestamp, 1_600_000_000_123);
        assert_eq!(
            got[0].headers,
            vec![
                ("trace".to_string(), Some(Bytes::from_static(b"a"))),
                ("trace".to_string(), Some(Bytes::from_static(b"b"))),
                ("empty".to_string(), None),
            ]
        );
        assert_eq!(got[1].value, None);
        producer.close(Duration::from_secs(10)).await.unwrap();
    });
}

fn acks_0_1_all(ctx: &Ctx) {
    rt().block_on(async {
        let client = Client::connect(client_config(&ctx.bootstrap))
            .await
            .unwrap();
        let topic = create_topic(&client, 1).await;
        let mut total = 0;
        for acks in [Acks::None, Acks::Leader, Acks::All] {
            let producer: Producer<String, String> =
                Producer::new(config(&ctx.bootstrap).acks(acks).build().unwrap())
                    .await
                    .unwrap();
            let mut futs = Vec::new();
            for i in 0..100 {
                futs.push(
                    producer
                        .send(ProducerRecord::new(&topic, None, format!("{acks:?}-{i}")))
                        .await
                        .unwrap(),
                );
            }
            for f in futs {
                let md = f.await.unwrap();
                if acks == Acks::None {
                    assert_eq!(md.offset, -1);
                } else {
                    assert!(md.offset >= 0);
                }
            }
            producer.close(Duration::from_secs(10)).await.unwrap();
            total += 100;
        }
        // acks=0 gives no confirmation; the records still arrive.
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let got = fetch_all(&client, &topic, 0).await;
            if got.len() == total {
                let first: Vec<String> = got[..100]
                    .iter()
                    .map(|r| String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap())
                    .collect();
                assert!(first.iter().all(|v| v.starts_with("None-")));
                break;
            }
            assert!(Instant::now() < end, "{} of {total} records", got.len());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

fn keyless_records_spread_sticky(ctx: &Ctx) {
    rt().block_on(async {
        let client = Client::connect(client_config(&ctx.bootstrap))
            .await
            .unwrap();
        let topic = create_topic(&client, 4).await;
        let producer: Producer<Bytes, Bytes> =
            Producer::new(config(&ctx.bootstrap).batch_size(2_000).build().unwrap())
                .await
                .unwrap();
        let mut per = [0usize; 4];
        let mut futs = Vec::new();
        for _ in 0..2_000 {
            futs.push(
                producer
                    .send(ProducerRecord::new(
                        &topic,
                        None,
                        Bytes::from(vec![b'x'; 100]),
                    ))
                    .await
                    .unwrap(),
            );
        }
        for f in futs {
            per[f.await.unwrap().partition as usize] += 1;
        }
        assert!(per.iter().all(|n| *n > 100), "uneven: {per:?}");
        producer.close(Duration::from_secs(10)).await.unwrap();
    });
}

fn unknown_topic_fails_after_max_block(ctx: &Ctx) {
    rt().block_on(async {
        let producer: Producer<Bytes, Bytes> = Producer::new(
            config(&ctx.bootstrap)
                .max_block(Duration::from_millis(1500))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
        let started = Instant::now();
        let r = producer
            .send(ProducerRecord::new(
                // the producer's Metadata requests (v4+) never ask for auto-creation
                unique_topic("it-producer-missing"),
                None,
                Bytes::from_static(b"v"),
            ))
            .await;
        assert!(
            matches!(r, Err(ProducerError::MaxBlock { .. })),
            "sent to a topic that does not exist: {r:?}"
        );
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(1400), "{waited:?}");
        assert!(waited < Duration::from_secs(10), "{waited:?}");
        producer.close(Duration::from_secs(5)).await.unwrap();
    });
}

fn idempotent_outage_mid_load_no_loss_no_duplicate(ctx: &Ctx) {
    rt().block_on(async {
        let admin = Client::connect(client_config(&ctx.bootstrap))
            .await
            .unwrap();
        let partitions = 4;
        let topic = create_topic(&admin, partitions).await;
        let mut proxy = Proxy::start(ctx.bootstrap.clone()).await;
        let proxy_addr = proxy.addr;
        let dialer = proxy.dialer();
        let cfg = ProducerConfig::builder(proxy_addr.to_string())
            .client(|c| {
                c.reconnect_backoff(Duration::from_millis(20))
                    .reconnect_backoff_max(Duration::from_millis(200))
                    .retry_backoff_max(Duration::from_millis(200))
                    .default_api_timeout(Duration::from_secs(20))
            })
            .retry_backoff(Duration::from_millis(20))
            .request_timeout(Duration::from_secs(5))
            .delivery_timeout(Duration::from_secs(60))
            .linger(Duration::from_millis(2))
            .batch_size(4_000)
            .build()
            .unwrap();
        assert!(cfg.idempotence());
        let producer: Producer<String, String> = Producer::builder(cfg)
            .default_serializers()
            .dialer(dialer)
            .build()
            .await
            .unwrap();

        // Keyed records: key = partition label, value = per-key sequence number.
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for w in 0..partitions {
            let (producer, topic, stop, sent) =
                (producer.clone(), topic.clone(), stop.clone(), sent.clone());
            workers.push(tokio::spawn(async move {
                let mut futs = Vec::new();
                let mut i = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let r = ProducerRecord::new(&topic, Some(format!("w{w}")), format!("{i}"))
                        .with_partition(w);
                    futs.push(producer.send(r).await.unwrap());
                    sent.fetch_add(1, Ordering::SeqCst);
                    i += 1;
                    if i.is_multiple_of(50) {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
                let mut last = -1i64;
                for f in futs {
                    let md = f.await.expect("record failed despite retries");
                    assert!(md.offset > last, "acks out of order");
                    last = md.offset;
                }
                i
            }));
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
        proxy.stop();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        proxy.restart().await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        proxy.stop();
        tokio::time::sleep(Duration::from_millis(300)).await;
        proxy.restart().await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        stop.store(true, Ordering::SeqCst);
        let mut counts = Vec::new();
        for w in workers {
            counts.push(w.await.unwrap());
        }
        producer.close(Duration::from_secs(30)).await.unwrap();
        proxy.stop();
        for p in 0..partitions {
            let got = fetch_all(&admin, &topic, p).await;
            let values: Vec<u64> = got
                .iter()
                .map(|r| {
                    std::str::from_utf8(r.value.as_deref().unwrap())
                        .unwrap()
                        .parse()
                        .unwrap()
                })
                .collect();
            assert_eq!(
                values.len() as u64,
                counts[p as usize],
                "partition {p}: count (loss or duplicate)"
            );
            for (i, v) in values.iter().enumerate() {
                assert_eq!(*v, i as u64, "partition {p}: order/duplicate at {i}");
            }
            assert!(
                got.iter()
                    .all(|r| r.producer_id >= 0 && r.base_sequence >= 0)
            );
        }
        assert!(sent.load(Ordering::SeqCst) > 1000);
    });
}

/// Batches that expire after they were sent leave their sequence numbers unresolved (the broker
/// may or may not have written them): the idempotent producer must bump its epoch (KIP-360)
/// before it sends again, and what it sends afterwards is accepted exactly once, in order.
fn idempotent_expired_batches_bump_the_epoch(ctx: &Ctx) {
    rt().block_on(async {
        let admin = Client::connect(client_config(&ctx.bootstrap))
            .await
            .unwrap();
        let topic = create_topic(&admin, 1).await;
        let mut proxy = Proxy::start(ctx.bootstrap.clone()).await;
        let cfg = ProducerConfig::builder(proxy.addr.to_string())
            .client(|c| {
                c.reconnect_backoff(Duration::from_millis(20))
                    .reconnect_backoff_max(Duration::from_millis(200))
                    .retry_backoff_max(Duration::from_millis(200))
                    .default_api_timeout(Duration::from_secs(60))
            })
            .retry_backoff(Duration::from_millis(20))
            .request_timeout(Duration::from_millis(1000))
            .delivery_timeout(Duration::from_millis(2000))
            .linger(Duration::ZERO)
            .build()
            .unwrap();
        let producer: Producer<String, String> = Producer::builder(cfg)
            .default_serializers()
            .dialer(proxy.dialer())
            .build()
            .await
            .unwrap();
        let send = |i: u32| {
            producer.send(ProducerRecord::new(&topic, None, i.to_string()).with_partition(0))
        };
        for i in 0..100 {
            send(i).await.unwrap().await.unwrap();
        }
        // The broker goes silent: these are sent (and may be written) but never acknowledged.
        proxy.swallow_responses(true);
        let mut lost = Vec::new();
        for i in 100..150 {
            lost.push(send(i).await.unwrap());
        }
        for f in lost {
            assert!(
                f.await.is_err(),
                "a record was acknowledged by a silent broker"
            );
        }
        proxy.stop();
        proxy.swallow_responses(false);
        proxy.restart().await;
        for i in 150..250 {
            send(i).await.unwrap().await.unwrap();
        }
        producer.close(Duration::from_secs(10)).await.unwrap();
        proxy.stop();

        let got = fetch_all(&admin, &topic, 0).await;
        let value = |g: &Got| -> u32 {
            std::str::from_utf8(g.value.as_deref().unwrap())
                .unwrap()
                .parse()
                .unwrap()
        };
        let before: Vec<&Got> = got.iter().filter(|g| value(g) < 100).collect();
        let after: Vec<&Got> = got.iter().filter(|g| value(g) >= 150).collect();
        assert_eq!(
            before.iter().map(|g| value(g)).collect::<Vec<_>>(),
            (0..100).collect::<Vec<_>>()
        );
        assert_eq!(
            after.iter().map(|g| value(g)).collect::<Vec<_>>(),
            (150..250).collect::<Vec<_>>()
        );
        // The unresolved ones appear at most once each.
        let mut middle: Vec<u32> = got
            .iter()
            .map(value)
            .filter(|v| (100..150).contains(v))
            .collect();
        let n = middle.len();
        middle.dedup();
        assert_eq!(middle.len(), n, "a timed-out record was written twice");
        let first = (before[0].producer_id, before[0].producer_epoch);
        let bumped = (after[0].producer_id, after[0].producer_epoch);
        assert!(
            bumped.0 != first.0 || bumped.1 > first.1,
            "no epoch bump after unresolved sequences: {first:?} then {bumped:?}"
        );
        assert_eq!(
            after[0].base_sequence, 0,
            "the new epoch starts at sequence 0"
        );
    });
}
