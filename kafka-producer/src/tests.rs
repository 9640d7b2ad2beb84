//! Engine tests against the bundled broker in-process: linger, batch.size, flush,
//! buffer.memory blocking with max.block.ms.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_client::{Client, ClientConfig, Target};
use kafka_protocol::messages::CreateTopicsRequest;
use kafka_protocol::messages::create_topics_request::CreatableTopic;

use crate::config::ProducerConfig;
use crate::{Producer, ProducerError, ProducerRecord};

async fn broker_with_topic(partitions: i32) -> (kafka_broker::BrokerHandle, String) {
    let broker = kafka_broker::Broker::builder()
        .listener("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let client = Client::connect(
        ClientConfig::builder()
            .bootstrap_servers(broker.bootstrap())
            .build()
            .unwrap(),
    )
    .await
    .unwrap();
    client
        .send(
            Target::Controller,
            CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: "t".into(),
                    num_partitions: partitions,
                    replication_factor: 1,
                    ..Default::default()
                }],
                timeout_ms: 10_000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    client.close();
    (broker, "t".to_string())
}

fn rec(topic: &str, size: usize) -> ProducerRecord<Bytes, Bytes> {
    ProducerRecord::new(topic, None, Bytes::from(vec![b'x'; size])).with_partition(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn linger_holds_records_in_one_batch_and_flush_sends_at_once() {
    let (broker, topic) = broker_with_topic(1).await;
    let cfg = ProducerConfig::builder(broker.bootstrap())
        .linger(Duration::from_millis(300))
        .build()
        .unwrap();
    let p: Producer<Bytes, Bytes> = Producer::new(cfg).await.unwrap();
    let started = Instant::now();
    let mut futs = Vec::new();
    for _ in 0..10 {
        futs.push(p.send(rec(&topic, 10)).await.unwrap());
    }
    let mut offsets = Vec::new();
    for f in futs {
        offsets.push(f.await.unwrap().offset);
    }
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "sent before linger.ms: {:?}",
        started.elapsed()
    );
    assert_eq!(offsets, (0..10).collect::<Vec<i64>>());

    // flush ignores linger.ms
    let p2 = p.clone();
    let cfg = ProducerConfig::builder(broker.bootstrap())
        .linger(Duration::from_secs(30))
        .build()
        .unwrap();
    let slow: Producer<Bytes, Bytes> = Producer::new(cfg).await.unwrap();
    let f = slow.send(rec(&topic, 10)).await.unwrap();
    let t = Instant::now();
    slow.flush().await;
    assert!(f.is_done());
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(f.await.unwrap().offset, 10);
    slow.close(Duration::from_secs(5)).await.unwrap();
    p2.close(Duration::from_secs(5)).await.unwrap();
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_batches_go_without_waiting_for_linger() {
    let (broker, topic) = broker_with_topic(1).await;
    let cfg = ProducerConfig::builder(broker.bootstrap())
        .linger(Duration::from_secs(30))
        .batch_size(1_000)
        .build()
        .unwrap();
    let p: Producer<Bytes, Bytes> = Producer::new(cfg).await.unwrap();
    let started = Instant::now();
    let mut futs = Vec::new();
    for _ in 0..40 {
        futs.push(p.send(rec(&topic, 100)).await.unwrap());
    }
    // every record except those of the last, partial batch completes without linger
    for f in futs.drain(..30) {
        f.await.unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        !futs.last().unwrap().is_done(),
        "partial batch waits for linger.ms"
    );
    p.flush().await;
    for f in futs {
        f.await.unwrap();
    }
    p.close(Duration::from_secs(5)).await.unwrap();
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buffer_memory_blocks_send_up_to_max_block() {
    let (broker, topic) = broker_with_topic(1).await;
    let cfg = ProducerConfig::builder(broker.bootstrap())
        .buffer_memory(4_000)
        .max_block(Duration::from_millis(400))
        .build()
        .unwrap();
    let p: Producer<Bytes, Bytes> = Producer::new(cfg).await.unwrap();
    p.send(rec(&topic, 10)).await.unwrap().await.unwrap(); // metadata cached
    // a record larger than buffer.memory fails at once
    let big = p.send(rec(&topic, 5_000)).await;
    assert!(matches!(
        big,
        Err(ProducerError::RecordTooLarge {
            key: "buffer.memory",
            ..
        })
    ));
    broker.shutdown().await.unwrap(); // nothing is acknowledged any more
    let mut queued = 0;
    let err = loop {
        let t = Instant::now();
        match p.send(rec(&topic, 500)).await {
            Ok(_) => queued += 1,
            Err(e) => break (e, t.elapsed()),
        }
        assert!(queued < 100, "buffer.memory is not enforced");
    };
    assert!(
        matches!(err.0, ProducerError::MaxBlock { .. }),
        "{:?}",
        err.0
    );
    assert!(err.1 >= Duration::from_millis(350), "{:?}", err.1);
    assert!(
        (4..=8).contains(&queued),
        "{queued} records of ~536 bytes in 4000"
    );
    let _ = p.close(Duration::from_millis(200)).await;
    // closed: sends fail at once
    assert!(matches!(
        p.send(rec(&topic, 1)).await,
        Err(ProducerError::Closed)
    ));
}

#[allow(dead_code)]
fn public_types_are_send_sync_and_futures_send(p: Producer<String, String>) {
    fn send_sync_clone<T: Send + Sync + Clone>(_: &T) {}
    fn send<T: Send>(_: T) {}
    send_sync_clone(&p);
    send(p.send(ProducerRecord::new("t", None, String::new())));
    send(p.flush());
    send(p.close(Duration::from_secs(1)));
    send(Producer::<String, String>::new(
        ProducerConfig::builder("h:1").build().unwrap(),
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactional_calls_check_the_state_before_any_request() {
    let (broker, topic) = broker_with_topic(1).await;
    // Without transactional.id every transactional call is refused.
    let plain: Producer<Bytes, Bytes> =
        Producer::new(ProducerConfig::builder(broker.bootstrap()).build().unwrap())
            .await
            .unwrap();
    assert_eq!(plain.transaction_version(), None);
    for e in [
        plain.begin_transaction().unwrap_err(),
        plain.init_transactions().await.unwrap_err(),
        plain.commit_transaction().await.unwrap_err(),
        plain.abort_transaction().await.unwrap_err(),
    ] {
        assert!(matches!(e, ProducerError::InvalidTxnState(_)), "{e}");
    }
    plain.close(Duration::from_secs(5)).await.unwrap();

    // With one, nothing may happen before init_transactions.
    let cfg = ProducerConfig::builder(broker.bootstrap())
        .transactional_id("tx-state")
        .build()
        .unwrap();
    let p: Producer<Bytes, Bytes> = Producer::new(cfg).await.unwrap();
    assert_eq!(p.transaction_version(), None);
    assert!(matches!(
        p.begin_transaction(),
        Err(ProducerError::InvalidTxnState(_))
    ));
    let e = p.send(rec(&topic, 10)).await.unwrap_err();
    assert!(matches!(e, ProducerError::InvalidTxnState(_)), "{e}");
    assert!(matches!(
        p.commit_transaction().await,
        Err(ProducerError::InvalidTxnState(_))
    ));
    assert!(matches!(
        p.abort_transaction().await,
        Err(ProducerError::InvalidTxnState(_))
    ));
    let group = kafka_client::ConsumerGroupMetadata::new("g");
    assert!(matches!(
        p.send_offsets_to_transaction([crate::TxnOffset::new(&topic, 0, 1)], &group)
            .await,
        Err(ProducerError::InvalidTxnState(_))
    ));
    p.close(Duration::from_secs(5)).await.unwrap();
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn producers_on_one_thread_keep_their_own_topic_state() {
    // One thread, one shared `Topic`: the per-thread topic cache must not hand one producer's
    // partition queues to another.
    let (broker, topic) = broker_with_topic(1).await;
    let topic = crate::Topic::from(&topic);
    let cfg = || {
        ProducerConfig::builder(broker.bootstrap())
            .linger(Duration::from_millis(1))
            .build()
            .unwrap()
    };
    let a: Producer<Bytes, Bytes> = Producer::new(cfg()).await.unwrap();
    let b: Producer<Bytes, Bytes> = Producer::new(cfg()).await.unwrap();
    let value = Bytes::from_static(b"v");
    let record = || ProducerRecord::new(topic.clone(), None, value.clone()).with_partition(0);
    // Both know the topic, then a's lookup is the cached one when b sends.
    assert_eq!(a.partitions_for(&topic).await.unwrap(), 1);
    assert_eq!(b.partitions_for(&topic).await.unwrap(), 1);
    // A mix-up shows as a record that is never sent: give up after a minute instead of hanging.
    let run = async {
        let fa = a.send(record()).await.unwrap();
        let fb = b.send(record()).await.unwrap();
        a.flush().await;
        assert!(fa.is_done(), "a's flush covers a's record");
        fa.await.unwrap();
        a.close(Duration::from_secs(5)).await.unwrap();
        fb.await.unwrap();
        // a is closed: b's records still go through b's own queues.
        let (tx, rx) = tokio::sync::oneshot::channel();
        b.send_with_callback(record(), move |r| {
            let _ = tx.send(r.map(|m| m.offset));
        })
        .await
        .unwrap();
        let f = b.send(record()).await.unwrap();
        let first = rx.await.unwrap().unwrap();
        assert_eq!(f.await.unwrap().offset, first + 1);
        assert_eq!(first, 2);
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("records of both producers acknowledged");
    b.close(Duration::from_secs(5)).await.unwrap();
    broker.shutdown().await.unwrap();
}
