//! `kafka-consumer` against a real cluster: assign + poll from the beginning (data written
//! with raw Produce), seek/position/offsets_for_times/end offsets, and — where the cluster has a
//! group coordinator — group membership: one member gets every partition, two then three
//! members rebalance (range and cooperative-sticky), commits resume in a new consumer, and a
//! static member restarts without losing its assignment.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integration_tests::unique_topic;
use kafka_client::{Client, ClientConfig};
use kafka_consumer::assignor::{CooperativeStickyAssignor, RangeAssignor};
use kafka_consumer::{
    AutoOffsetReset, Consumer, ConsumerConfig, ConsumerRebalanceListener, StringDeserializer,
    TimestampType, TopicPartition,
};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::records::RecordBatchBuilder;

use crate::Ctx;

pub(crate) const CASES: &[crate::Case] = &[
    (
        "consumer::assign_and_poll_from_beginning",
        assign_and_poll_from_beginning,
    ),
    (
        "consumer::seek_position_and_offset_lookups",
        seek_position_and_offset_lookups,
    ),
    ("consumer::stream_of_records", stream_of_records),
    (
        "consumer::group_single_member_gets_all_partitions",
        group_single_member_gets_all_partitions,
    ),
    (
        "consumer::group_range_two_then_three_members",
        group_range_two_then_three_members,
    ),
    (
        "consumer::group_cooperative_sticky_two_then_three_members",
        group_cooperative_sticky_two_then_three_members,
    ),
    (
        "consumer::commit_sync_then_new_consumer_resumes",
        commit_sync_then_new_consumer_resumes,
    ),
    (
        "consumer::static_member_restart_keeps_assignment",
        static_member_restart_keeps_assignment,
    ),
];

const T0: i64 = 1_700_000_000_000;

fn rt() -> tokio::runtime::Runtime {
    crate::common::rt()
}

fn client_config(ctx: &Ctx) -> ClientConfig {
    crate::common::client_config(&ctx.bootstrap, "it-consumer")
}

async fn create_topic(client: &Client, partitions: i32) -> String {
    crate::common::create_topic(client, "it-consumer", partitions).await
}

/// Produces `n` records `p<partition>-<i>` with timestamps `T0 + i` and two `h` headers.
async fn produce(client: &Client, topic: &str, partition: i32, n: i64) -> i64 {
    let mut b = RecordBatchBuilder::new(0);
    for i in 0..n {
        let v = format!("p{partition}-{i}");
        let k = format!("k{i}");
        b.append(
            T0 + i,
            Some(k.as_bytes()),
            Some(v.as_bytes()),
            &[("h", Some(b"1".as_slice())), ("h", Some(b"2".as_slice()))],
        )
        .unwrap();
    }
    crate::common::produce_batches(client, topic, partition, b.build().unwrap()).await
}

async fn setup(ctx: &Ctx, partitions: i32, per_partition: i64) -> (Client, String) {
    let client = Client::connect(client_config(ctx)).await.unwrap();
    let topic = create_topic(&client, partitions).await;
    for p in 0..partitions {
        produce(&client, &topic, p, per_partition).await;
    }
    (client, topic)
}

fn consumer_config(ctx: &Ctx, group: Option<&str>) -> kafka_consumer::ConsumerConfigBuilder {
    let mut b = ConsumerConfig::builder()
        .bootstrap_servers(ctx.bootstrap.clone())
        .client_id("it-consumer")
        .default_api_timeout(Duration::from_secs(30))
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100));
    if let Some(g) = group {
        b = b
            .group_id(g)
            .session_timeout(Duration::from_secs(10))
            .heartbeat_interval(Duration::from_millis(500))
            .max_poll_interval(Duration::from_secs(30));
    }
    b
}

fn all_partitions(topic: &str, n: i32) -> Vec<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(topic, p)).collect()
}

fn assign_and_poll_from_beginning(ctx: &Ctx) {
    rt().block_on(async {
        let (_client, topic) = setup(ctx, 3, 50).await;
        let cfg = consumer_config(ctx, None)
            .max_poll_records(40)
            .build()
            .unwrap();
        let mut c = Consumer::with_deserializers(cfg, StringDeserializer, StringDeserializer)
            .await
            .unwrap();
        c.assign(all_partitions(&topic, 3)).await.unwrap();
        let mut seen: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        let end = Instant::now() + Duration::from_secs(30);
        let mut total = 0;
        while total < 150 {
            assert!(Instant::now() < end, "only {total} of 150 records");
            let recs = c.poll(Duration::from_millis(500)).await.unwrap();
            assert!(recs.len() <= 40);
            for r in recs {
                let i = r.offset;
                assert_eq!(
                    r.value.as_deref(),
                    Some(format!("p{}-{i}", r.partition).as_str())
                );
                assert_eq!(r.key.as_deref(), Some(format!("k{i}").as_str()));
                assert_eq!(r.timestamp, T0 + i);
                assert_eq!(r.timestamp_type, TimestampType::CreateTime);
                let hs: Vec<_> = r.headers.iter().collect();
                assert_eq!(hs.len(), 2, "duplicate headers kept");
                assert_eq!(hs[0].0, "h");
                assert_eq!(hs[1].1.as_deref(), Some(b"2".as_slice()));
                assert!(r.leader_epoch.is_some());
                seen.entry(r.partition).or_default().push(r.offset);
                total += 1;
            }
        }
        for p in 0..3 {
            assert_eq!(
                seen[&p],
                (0..50).collect::<Vec<_>>(),
                "partition {p} in order, no gaps"
            );
            assert_eq!(
                c.position(&TopicPartition::new(&topic, p)).await.unwrap(),
                50
            );
        }
        assert!(c.poll(Duration::from_millis(200)).await.unwrap().is_empty());
        c.close().await.unwrap();
    });
}

fn seek_position_and_offset_lookups(ctx: &Ctx) {
    rt().block_on(async {
        let (client, topic) = setup(ctx, 1, 20).await;
        let tp = TopicPartition::new(&topic, 0);
        let cfg = consumer_config(ctx, None).build().unwrap();
        let mut c = Consumer::new(cfg).await.unwrap();
        c.assign([tp.clone()]).await.unwrap();
        assert_eq!(
            c.beginning_offsets(std::slice::from_ref(&tp))
                .await
                .unwrap()[&tp],
            0
        );
        assert_eq!(
            c.end_offsets(std::slice::from_ref(&tp)).await.unwrap()[&tp],
            20
        );
        let q: BTreeMap<_, _> = [(tp.clone(), T0 + 5)].into();
        let found = c.offsets_for_times(&q).await.unwrap()[&tp].unwrap();
        assert_eq!((found.offset, found.timestamp), (5, T0 + 5));
        let q: BTreeMap<_, _> = [(tp.clone(), T0 + 1000)].into();
        assert!(c.offsets_for_times(&q).await.unwrap()[&tp].is_none());

        assert_eq!(c.position(&tp).await.unwrap(), 0);
        c.seek(&tp, 7).unwrap();
        assert_eq!(c.position(&tp).await.unwrap(), 7);
        let first = poll_one(&mut c).await;
        assert_eq!(first, 7);
        c.seek_to_end(&[]).unwrap();
        assert_eq!(c.position(&tp).await.unwrap(), 20);
        produce(&client, &topic, 0, 3).await;
        assert_eq!(poll_one(&mut c).await, 20);
        c.seek_to_beginning(std::slice::from_ref(&tp)).unwrap();
        assert_eq!(poll_one(&mut c).await, 0);
        // Pause: nothing comes back; resume: data flows again.
        c.seek(&tp, 10).unwrap();
        c.pause(std::slice::from_ref(&tp));
        assert!(c.poll(Duration::from_millis(300)).await.unwrap().is_empty());
        c.resume(std::slice::from_ref(&tp));
        assert_eq!(poll_one(&mut c).await, 10);
        // An out-of-range position resets per auto.offset.reset (earliest).
        c.seek(&tp, 1_000).unwrap();
        assert_eq!(poll_one(&mut c).await, 0);
        c.close().await.unwrap();
    });
}

async fn poll_one<K: Send + 'static, V: Send + 'static>(c: &mut Consumer<K, V>) -> i64 {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < end, "no record within 20 s");
        if let Some(r) = c.poll(Duration::from_millis(300)).await.unwrap().first() {
            return r.offset;
        }
    }
}

fn stream_of_records(ctx: &Ctx) {
    use futures::StreamExt;
    rt().block_on(async {
        let (_client, topic) = setup(ctx, 2, 30).await;
        let cfg = consumer_config(ctx, None).build().unwrap();
        let mut c = Consumer::new(cfg).await.unwrap();
        c.assign(all_partitions(&topic, 2)).await.unwrap();
        let got: Vec<_> = tokio::time::timeout(
            Duration::from_secs(30),
            c.stream().take(60).collect::<Vec<_>>(),
        )
        .await
        .expect("60 records within 30 s");
        assert_eq!(got.len(), 60);
        assert!(got.iter().all(|r| r.is_ok()));
        c.close().await.unwrap();
    });
}

// ---------------------------------------------------------------- groups

#[derive(Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl ConsumerRebalanceListener for Calls {
    fn on_partitions_revoked(&mut self, p: &[TopicPartition]) {
        self.0.lock().unwrap().push(format!("revoked {}", p.len()));
    }
    fn on_partitions_assigned(&mut self, p: &[TopicPartition]) {
        self.0.lock().unwrap().push(format!("assigned {}", p.len()));
    }
    fn on_partitions_lost(&mut self, p: &[TopicPartition]) {
        self.0.lock().unwrap().push(format!("lost {}", p.len()));
    }
}

/// A group member polling in its own task.
struct Member {
    assignment: Arc<Mutex<BTreeSet<TopicPartition>>>,
    generation: Arc<Mutex<i32>>,
    consumed: Arc<Mutex<Vec<(i32, i64)>>>,
    calls: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Member {
    async fn start(cfg: ConsumerConfig, topic: &str) -> Member {
        let mut c = Consumer::new(cfg).await.unwrap();
        let calls = Calls::default();
        let calls_view = calls.0.clone();
        c.set_rebalance_listener(calls);
        c.subscribe([topic]).await.unwrap();
        let assignment = Arc::new(Mutex::new(BTreeSet::new()));
        let generation = Arc::new(Mutex::new(-1));
        let consumed = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, g, cons, s) = (
            assignment.clone(),
            generation.clone(),
            consumed.clone(),
            stop.clone(),
        );
        let task = tokio::spawn(async move {
            while !s.load(Ordering::SeqCst) {
                let recs = c.poll(Duration::from_millis(100)).await.unwrap();
                cons.lock()
                    .unwrap()
                    .extend(recs.iter().map(|r| (r.partition, r.offset)));
                *a.lock().unwrap() = c.assignment();
                *g.lock().unwrap() = c.group_metadata().map_or(-1, |m| m.1);
            }
            c.close().await.unwrap();
        });
        Member {
            assignment,
            generation,
            consumed,
            calls: calls_view,
            stop,
            task,
        }
    }

    fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.assignment.lock().unwrap().clone()
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

/// Waits until the members' assignments are disjoint, cover `n` partitions, and have the
/// given sizes (sorted).
async fn wait_balanced(members: &[&Member], n: usize, sizes: &[usize]) {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let sets: Vec<_> = members.iter().map(|m| m.assignment()).collect();
        let union: BTreeSet<_> = sets.iter().flatten().cloned().collect();
        let total: usize = sets.iter().map(BTreeSet::len).sum();
        let mut got: Vec<usize> = sets.iter().map(BTreeSet::len).collect();
        got.sort_unstable();
        if union.len() == n && total == n && got == sizes {
            return;
        }
        assert!(Instant::now() < end, "not balanced within 60 s: {sets:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn group_single_member_gets_all_partitions(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::JoinGroup);
    rt().block_on(async {
        let (_client, topic) = setup(ctx, 4, 10).await;
        let group = unique_topic("it-group");
        let m = Member::start(consumer_config(ctx, Some(&group)).build().unwrap(), &topic).await;
        wait_balanced(&[&m], 4, &[4]).await;
        let end = Instant::now() + Duration::from_secs(30);
        while m.consumed.lock().unwrap().len() < 40 {
            assert!(Instant::now() < end);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            m.calls.lock().unwrap().first().map(String::as_str),
            Some("assigned 4")
        );
        m.stop().await;
    });
}

fn rebalance_two_then_three(ctx: &Ctx, cooperative: bool) {
    crate::require_api(ctx, ApiKey::JoinGroup);
    rt().block_on(async {
        let (_client, topic) = setup(ctx, 6, 20).await;
        let group = unique_topic("it-group");
        let cfg = || {
            let b =
                consumer_config(ctx, Some(&group)).auto_commit_interval(Duration::from_millis(200));
            if cooperative {
                b.assignor(CooperativeStickyAssignor::new())
                    .build()
                    .unwrap()
            } else {
                b.assignor(RangeAssignor::new()).build().unwrap()
            }
        };
        let a = Member::start(cfg(), &topic).await;
        wait_balanced(&[&a], 6, &[6]).await;
        let b = Member::start(cfg(), &topic).await;
        wait_balanced(&[&a, &b], 6, &[3, 3]).await;
        let c = Member::start(cfg(), &topic).await;
        wait_balanced(&[&a, &b, &c], 6, &[2, 2, 2]).await;
        // Every record was consumed (commits before revocation: nothing skipped).
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let all: BTreeSet<(i32, i64)> = [&a, &b, &c]
                .iter()
                .flat_map(|m| m.consumed.lock().unwrap().clone())
                .collect();
            if all.len() == 120 {
                break;
            }
            assert!(
                Instant::now() < end,
                "{} of 120 records consumed",
                all.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let a_calls = a.calls.lock().unwrap().clone();
        if cooperative {
            // a gave up partitions without ever revoking everything.
            assert!(a_calls.contains(&"revoked 3".to_string()), "{a_calls:?}");
            assert!(!a_calls.contains(&"revoked 6".to_string()), "{a_calls:?}");
        } else {
            assert!(a_calls.contains(&"revoked 6".to_string()), "{a_calls:?}");
        }
        let gens: Vec<i32> = [&a, &b, &c]
            .iter()
            .map(|m| *m.generation.lock().unwrap())
            .collect();
        assert!(gens.iter().all(|g| *g > 0), "{gens:?}");
        c.stop().await;
        wait_balanced(&[&a, &b], 6, &[3, 3]).await;
        a.stop().await;
        b.stop().await;
    });
}

fn group_range_two_then_three_members(ctx: &Ctx) {
    rebalance_two_then_three(ctx, false);
}

fn group_cooperative_sticky_two_then_three_members(ctx: &Ctx) {
    rebalance_two_then_three(ctx, true);
}

fn commit_sync_then_new_consumer_resumes(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::JoinGroup);
    rt().block_on(async {
        let (_client, topic) = setup(ctx, 1, 30).await;
        let group = unique_topic("it-group");
        let tp = TopicPartition::new(&topic, 0);
        let cfg = || {
            consumer_config(ctx, Some(&group))
                .enable_auto_commit(false)
                .max_poll_records(10)
                .build()
                .unwrap()
        };
        let mut c1 = Consumer::new(cfg()).await.unwrap();
        c1.subscribe([topic.as_str()]).await.unwrap();
        let end = Instant::now() + Duration::from_secs(30);
        let mut got = Vec::new();
        while got.is_empty() {
            assert!(Instant::now() < end);
            got = c1.poll(Duration::from_millis(200)).await.unwrap();
        }
        assert_eq!(got.len(), 10);
        assert_eq!(got[0].offset, 0);
        c1.commit_sync().await.unwrap();
        let committed = c1.committed(std::slice::from_ref(&tp)).await.unwrap();
        assert_eq!(committed[&tp].as_ref().map(|o| o.offset), Some(10));
        // Explicit offsets with metadata.
        let offs = [(
            tp.clone(),
            kafka_consumer::OffsetAndMetadata::new(12).with_metadata("m"),
        )]
        .into();
        c1.commit_offsets_sync(offs).await.unwrap();
        let committed = c1.committed(std::slice::from_ref(&tp)).await.unwrap();
        let o = committed[&tp].clone().unwrap();
        assert_eq!((o.offset, o.metadata.as_str()), (12, "m"));
        c1.close().await.unwrap();

        let mut c2 = Consumer::new(cfg()).await.unwrap();
        c2.subscribe([topic.as_str()]).await.unwrap();
        assert_eq!(poll_one(&mut c2).await, 12);
        c2.commit_async().await.unwrap();
        c2.close().await.unwrap();
    });
}

fn static_member_restart_keeps_assignment(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::JoinGroup);
    rt().block_on(async {
        let (_client, topic) = setup(ctx, 4, 5).await;
        let group = unique_topic("it-group");
        let cfg = |id: &str| {
            consumer_config(ctx, Some(&group))
                .group_instance_id(id)
                .assignor(RangeAssignor::new())
                .build()
                .unwrap()
        };
        let a = Member::start(cfg("a"), &topic).await;
        let b = Member::start(cfg("b"), &topic).await;
        wait_balanced(&[&a, &b], 4, &[2, 2]).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let a_before = a.assignment();
        let b_gen = *b.generation.lock().unwrap();
        a.stop().await; // static: no LeaveGroup
        let a2 = Member::start(cfg("a"), &topic).await;
        let end = Instant::now() + Duration::from_secs(30);
        while a2.assignment().is_empty() {
            assert!(Instant::now() < end, "restarted static member got nothing");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(a2.assignment(), a_before, "same partitions after restart");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            *b.generation.lock().unwrap(),
            b_gen,
            "the other member did not rebalance"
        );
        a2.stop().await;
        b.stop().await;
    });
}
