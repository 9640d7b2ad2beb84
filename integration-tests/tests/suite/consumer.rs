//! `kafka-consumer` against a real cluster: assign + poll from the beginning (data written
//! with raw Produce), seek/position/offsets_for_times/end offsets, and — where the cluster has a
//! group coordinator — group membership: one member gets every partition, two then three
//! members rebalance (range and cooperative-sticky), commits resume in a new consumer, and a
//! static member restarts without losing its assignment. Must-show group cases: three members on
//! twelve partitions join and leave for each assignor (no partition ever owned by two members,
//! nothing lost, committed offsets resume exactly), cooperative rebalances keep consuming the
//! partitions that stay, and a member exceeding `max.poll.interval.ms` is removed. Fetch
//! sessions: pause/resume and assignment changes mid-stream deliver every record once, in
//! order; `current_lag` is the end offset minus the position.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integration_tests::unique_topic;
use kafka_client::{Client, ClientConfig};
use kafka_consumer::assignor::{
    CooperativeStickyAssignor, RangeAssignor, RoundRobinAssignor, StickyAssignor,
};
use kafka_consumer::{
    AutoOffsetReset, Consumer, ConsumerConfig, ConsumerRebalanceListener, StringDeserializer,
    TimestampType, TopicPartition,
};
use kafka_protocol::ErrorCode;
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
    (
        "consumer::fetch_session_pause_resume_and_reassign_exactly_once",
        fetch_session_pause_resume_and_reassign_exactly_once,
    ),
    (
        "consumer::current_lag_is_end_offset_minus_position",
        current_lag_is_end_offset_minus_position,
    ),
    (
        "consumer::caught_up_partition_does_not_hold_back_others",
        caught_up_partition_does_not_hold_back_others,
    ),
    (
        "consumer::undeserializable_record_stops_the_partition_until_seek",
        undeserializable_record_stops_the_partition_until_seek,
    ),
    (
        "consumer::group_three_members_twelve_partitions_range",
        group_three_members_range,
    ),
    (
        "consumer::group_three_members_twelve_partitions_roundrobin",
        group_three_members_roundrobin,
    ),
    (
        "consumer::group_three_members_twelve_partitions_sticky",
        group_three_members_sticky,
    ),
    (
        "consumer::group_three_members_twelve_partitions_cooperative_sticky",
        group_three_members_cooperative_sticky,
    ),
    (
        "consumer::slow_member_exceeding_max_poll_interval_is_removed",
        slow_member_exceeding_max_poll_interval_is_removed,
    ),
    (
        "consumer::committed_epoch_validated_against_the_leader",
        committed_epoch_validated_against_the_leader,
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

/// What a listener saw: `'a'` assigned, `'r'` revoked, `'l'` lost, when, and which partitions.
type Events = Arc<Mutex<Vec<(Instant, char, Vec<TopicPartition>)>>>;

#[derive(Default)]
struct Calls(Arc<Mutex<Vec<String>>>, Events);

impl Calls {
    fn note(&self, kind: char, what: &str, p: &[TopicPartition]) {
        self.0.lock().unwrap().push(format!("{what} {}", p.len()));
        self.1
            .lock()
            .unwrap()
            .push((Instant::now(), kind, p.to_vec()));
    }
}

impl ConsumerRebalanceListener for Calls {
    fn on_partitions_revoked(&mut self, p: &[TopicPartition]) {
        self.note('r', "revoked", p);
    }
    fn on_partitions_assigned(&mut self, p: &[TopicPartition]) {
        self.note('a', "assigned", p);
    }
    fn on_partitions_lost(&mut self, p: &[TopicPartition]) {
        self.note('l', "lost", p);
    }
}

/// A group member polling in its own task.
struct Member {
    assignment: Arc<Mutex<BTreeSet<TopicPartition>>>,
    generation: Arc<Mutex<i32>>,
    consumed: Arc<Mutex<Vec<(i32, i64)>>>,
    /// `(partition, offset, generation after the poll that returned it)`.
    log: Arc<Mutex<Vec<(i32, i64, i32)>>>,
    calls: Arc<Mutex<Vec<String>>>,
    events: Events,
    stop: Arc<AtomicBool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Member {
    async fn start(cfg: ConsumerConfig, topic: &str) -> Member {
        let mut c = Consumer::new(cfg).await.unwrap();
        let calls = Calls::default();
        let calls_view = calls.0.clone();
        let events = calls.1.clone();
        c.set_rebalance_listener(calls);
        c.subscribe([topic]).await.unwrap();
        let assignment = Arc::new(Mutex::new(BTreeSet::new()));
        let generation = Arc::new(Mutex::new(-1));
        let consumed = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, g, cons, lg, s) = (
            assignment.clone(),
            generation.clone(),
            consumed.clone(),
            log.clone(),
            stop.clone(),
        );
        let task = tokio::spawn(async move {
            while !s.load(Ordering::SeqCst) {
                let recs = c.poll(Duration::from_millis(100)).await.unwrap();
                cons.lock()
                    .unwrap()
                    .extend(recs.iter().map(|r| (r.partition, r.offset)));
                let generation = c.group_metadata().map_or(-1, |m| m.1);
                lg.lock()
                    .unwrap()
                    .extend(recs.iter().map(|r| (r.partition, r.offset, generation)));
                *a.lock().unwrap() = c.assignment();
                *g.lock().unwrap() = generation;
            }
            c.close().await.unwrap();
        });
        Member {
            assignment,
            generation,
            consumed,
            log,
            calls: calls_view,
            events,
            stop,
            task: Mutex::new(Some(task)),
        }
    }

    fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.assignment.lock().unwrap().clone()
    }

    /// What a failing case prints of this member: its task, generation, assignment, and
    /// the last offset it consumed per partition.
    fn describe(&self) -> String {
        let task = match self.task.lock().unwrap().as_ref() {
            None => "stopped",
            Some(t) if t.is_finished() => "task ended (panicked?)",
            Some(_) => "polling",
        };
        let mut last: BTreeMap<i32, i64> = BTreeMap::new();
        for (p, o) in self.consumed.lock().unwrap().iter() {
            let e = last.entry(*p).or_insert(*o);
            *e = (*e).max(*o);
        }
        format!(
            "[{task}, generation {}, assigned {:?}, last consumed {:?}]",
            self.generation.lock().unwrap(),
            self.assignment()
                .iter()
                .map(|tp| tp.partition)
                .collect::<Vec<_>>(),
            last
        )
    }

    /// Stops polling and closes the consumer (the member's records stay readable).
    async fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let task = self.task.lock().unwrap().take();
        if let Some(task) = task {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .unwrap()
                .unwrap();
        }
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

// ---------------------------------------------------------------- fetch sessions, lag

/// Polls until `done(seen)` holds, recording every record and checking none comes from a
/// partition outside `allowed`.
async fn poll_until(
    c: &mut Consumer,
    seen: &mut BTreeMap<i32, Vec<i64>>,
    allowed: &[i32],
    done: impl Fn(&BTreeMap<i32, Vec<i64>>) -> bool,
) {
    let end = Instant::now() + Duration::from_secs(30);
    while !done(seen) {
        assert!(Instant::now() < end, "not done within 30 s: {seen:?}");
        for r in c.poll(Duration::from_millis(200)).await.unwrap() {
            assert!(
                allowed.contains(&r.partition),
                "record from partition {} (allowed {allowed:?})",
                r.partition
            );
            seen.entry(r.partition).or_default().push(r.offset);
        }
    }
}

fn count_at_least(n: usize, parts: &'static [i32]) -> impl Fn(&BTreeMap<i32, Vec<i64>>) -> bool {
    move |seen| parts.iter().all(|p| seen.get(p).map_or(0, Vec::len) >= n)
}

/// With fetch sessions, partitions leave and re-enter the session (pause/resume, assignment
/// changes) while records keep arriving: every record is delivered once, in order.
fn fetch_session_pause_resume_and_reassign_exactly_once(ctx: &Ctx) {
    rt().block_on(async {
        let (client, topic) = setup(ctx, 4, 30).await;
        let tps = all_partitions(&topic, 4);
        let cfg = consumer_config(ctx, None)
            .max_poll_records(7)
            .build()
            .unwrap();
        let mut c = Consumer::new(cfg).await.unwrap();
        c.assign(tps.clone()).await.unwrap();
        let mut seen: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        poll_until(&mut c, &mut seen, &[0, 1, 2, 3], |s| {
            s.values().map(Vec::len).sum::<usize>() >= 40
        })
        .await;
        // One broker (the cluster's single leader or several): a session per broker in use.
        let sessions = c.fetch_sessions();
        assert!(
            !sessions.is_empty() && sessions.values().all(|id| *id != 0),
            "{sessions:?}"
        );

        // Pause 0 and 1 while more data arrives everywhere: only 2 and 3 deliver.
        c.pause(&tps[0..2]);
        for p in 0..4 {
            produce(&client, &topic, p, 20).await;
        }
        poll_until(&mut c, &mut seen, &[2, 3], count_at_least(50, &[2, 3])).await;
        assert!(c.poll(Duration::from_millis(300)).await.unwrap().is_empty());
        c.resume(&tps[0..2]);

        // Drop partition 3 from the assignment (the session forgets it), keep consuming.
        let p3 = c.position(&tps[3]).await.unwrap();
        c.assign(tps[0..3].to_vec()).await.unwrap();
        for p in 0..4 {
            produce(&client, &topic, p, 20).await;
        }
        poll_until(
            &mut c,
            &mut seen,
            &[0, 1, 2],
            count_at_least(70, &[0, 1, 2]),
        )
        .await;

        // Add it back where it stopped.
        c.assign(tps.clone()).await.unwrap();
        c.seek(&tps[3], p3).unwrap();
        poll_until(&mut c, &mut seen, &[0, 1, 2, 3], count_at_least(70, &[3])).await;
        assert!(c.poll(Duration::from_millis(300)).await.unwrap().is_empty());
        for p in 0..4 {
            assert_eq!(
                seen[&p],
                (0..70).collect::<Vec<_>>(),
                "partition {p}: every record once, in order"
            );
        }
        // The same sessions served every incremental fetch (an epoch or id error would have
        // started new ones).
        for (broker, id) in &sessions {
            assert_eq!(c.fetch_sessions().get(broker), Some(id), "{broker}");
        }
        c.close().await.unwrap();
        // close() closed the session: the broker no longer knows its id (single-broker
        // clusters, where the bootstrap address is that broker).
        if client.metadata().brokers.len() == 1 {
            let (&broker, &id) = sessions.iter().next().unwrap();
            assert_eq!(client.metadata().brokers.keys().next(), Some(&broker));
            let probe = kafka_protocol::messages::FetchRequest {
                replica_id: -1,
                session_id: id,
                session_epoch: 1,
                ..Default::default()
            };
            let end = Instant::now() + Duration::from_secs(10);
            loop {
                let mut conn =
                    integration_tests::wire::Connection::connect(&ctx.bootstrap).unwrap();
                let code = ErrorCode::from_i16(conn.send(probe.clone()).unwrap().error_code);
                if code == ErrorCode::FetchSessionIdNotFound {
                    break;
                }
                // Still open: the epoch does not match.
                assert_eq!(code, ErrorCode::InvalidFetchSessionEpoch);
                assert!(Instant::now() < end, "the fetch session was not closed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
}

/// A partition at its end must not long-poll (`fetch.max.wait.ms`, 20 s here) while another
/// partition of the same broker waits only for the application to take its buffered data:
/// p0 needs 30 fetches (one batch each), the application is slow, p1 is empty. Holding p0
/// back behind p1's long poll would take minutes; the case's deadline is 90 s.
fn caught_up_partition_does_not_hold_back_others(ctx: &Ctx) {
    rt().block_on(async {
        let client = Client::connect(client_config(ctx)).await.unwrap();
        let topic = create_topic(&client, 2).await;
        for _ in 0..30 {
            produce(&client, &topic, 0, 10).await;
        }
        let cfg = consumer_config(ctx, None)
            .fetch_max_wait(Duration::from_secs(20))
            .max_partition_fetch_bytes(1)
            .max_poll_records(10)
            .build()
            .unwrap();
        let mut c = Consumer::new(cfg).await.unwrap();
        c.assign(all_partitions(&topic, 2)).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut got = 0;
        while got < 300 {
            assert!(
                Instant::now() < deadline,
                "only {got} of p0's 300 records in 90 s: p0 waited behind p1's long polls"
            );
            got += c.poll(Duration::from_millis(200)).await.unwrap().len();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The caught-up partition still gets what arrives later.
        produce(&client, &topic, 1, 1).await;
        let r = loop {
            assert!(Instant::now() < deadline, "p1's new record never arrived");
            if let Some(r) = c.poll(Duration::from_millis(500)).await.unwrap().pop() {
                break r;
            }
        };
        assert_eq!((r.partition, r.offset), (1, 0));
        c.close().await.unwrap();
    });
}

/// A value that does not deserialize: the records before it are returned, then `poll` fails
/// with `Deserialization` at its offset, again and again (the position stays at it, nothing
/// after it is returned) until the application seeks past it.
fn undeserializable_record_stops_the_partition_until_seek(ctx: &Ctx) {
    rt().block_on(async {
        let client = Client::connect(client_config(ctx)).await.unwrap();
        let topic = create_topic(&client, 1).await;
        let values: [&[u8]; 6] = [b"a", b"b", b"c", &[0xff, 0xfe], b"e", b"f"];
        let mut b = RecordBatchBuilder::new(0);
        for (i, v) in values.iter().enumerate() {
            b.append(T0 + i as i64, None, Some(v), &[]).unwrap();
        }
        crate::common::produce_batches(&client, &topic, 0, b.build().unwrap()).await;
        let cfg = consumer_config(ctx, None)
            .max_poll_records(10)
            .build()
            .unwrap();
        let mut c = Consumer::with_deserializers(cfg, StringDeserializer, StringDeserializer)
            .await
            .unwrap();
        let tp = TopicPartition::new(&topic, 0);
        c.assign([tp.clone()]).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut got: Vec<(i64, Option<String>)> = Vec::new();
        let next_error = async |c: &mut Consumer<Option<String>, Option<String>>,
                                got: &mut Vec<(i64, Option<String>)>| loop {
            assert!(Instant::now() < deadline, "no error within 30 s: {got:?}");
            match c.poll(Duration::from_millis(300)).await {
                Ok(recs) => got.extend(recs.into_iter().map(|r| (r.offset, r.value))),
                Err(e) => break e,
            }
        };
        let check = |e: kafka_consumer::Error| match e {
            kafka_consumer::Error::Deserialization {
                tp: t,
                offset,
                what,
                ..
            } => assert_eq!((t, offset, what), (tp.clone(), 3, "value")),
            other => panic!("expected a deserialization error, got {other:?}"),
        };
        check(next_error(&mut c, &mut got).await);
        let before = |v: &str, o: i64| (o, Some(v.to_string()));
        assert_eq!(got, vec![before("a", 0), before("b", 1), before("c", 2)]);
        assert_eq!(c.position(&tp).await.unwrap(), 3);
        check(next_error(&mut c, &mut got).await);
        assert_eq!(got.len(), 3, "nothing after the bad record: {got:?}");
        c.seek(&tp, 4).unwrap();
        while got.len() < 5 {
            assert!(Instant::now() < deadline, "records after the seek: {got:?}");
            let recs = c.poll(Duration::from_millis(300)).await.unwrap();
            got.extend(recs.into_iter().map(|r| (r.offset, r.value)));
        }
        assert_eq!(&got[3..], &[before("e", 4), before("f", 5)]);
        c.close().await.unwrap();
    });
}

fn current_lag_is_end_offset_minus_position(ctx: &Ctx) {
    rt().block_on(async {
        let (client, topic) = setup(ctx, 2, 50).await;
        let tp = TopicPartition::new(&topic, 0);
        let cfg = consumer_config(ctx, None)
            .max_poll_records(10)
            .build()
            .unwrap();
        let mut c = Consumer::new(cfg).await.unwrap();
        c.assign([tp.clone()]).await.unwrap();
        assert_eq!(c.current_lag(&tp), None, "no position or fetch yet");
        assert_eq!(c.current_lag(&TopicPartition::new(&topic, 1)), None);
        poll_one(&mut c).await;
        let check = |c: &Consumer, pos: i64, end: i64| {
            assert!(pos > 0 && pos <= end, "{pos} {end}");
            assert_eq!(c.current_lag(&tp), Some(end - pos));
        };
        let pos = c.position(&tp).await.unwrap();
        let end = c.end_offsets(std::slice::from_ref(&tp)).await.unwrap()[&tp];
        assert_eq!(end, 50);
        check(&c, pos, end);
        // More data: the lag follows the new high watermark after the next fetch.
        produce(&client, &topic, 0, 25).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            assert!(Instant::now() < deadline, "lag never saw the new end");
            c.poll(Duration::from_millis(200)).await.unwrap();
            let pos = c.position(&tp).await.unwrap();
            if c.current_lag(&tp) == Some(75 - pos) {
                break;
            }
        }
        let pos = c.position(&tp).await.unwrap();
        check(
            &c,
            pos,
            c.end_offsets(std::slice::from_ref(&tp)).await.unwrap()[&tp],
        );
        c.close().await.unwrap();
    });
}

// ---------------------------------------------------------------- must-show group cases

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Assignor {
    Range,
    RoundRobin,
    Sticky,
    CooperativeSticky,
}

fn group_cfg(ctx: &Ctx, group: &str, a: Assignor) -> ConsumerConfig {
    let b = consumer_config(ctx, Some(group)).auto_commit_interval(Duration::from_millis(200));
    match a {
        Assignor::Range => b.assignor(RangeAssignor::new()),
        Assignor::RoundRobin => b.assignor(RoundRobinAssignor::new()),
        Assignor::Sticky => b.assignor(StickyAssignor::new()),
        Assignor::CooperativeSticky => b.assignor(CooperativeStickyAssignor::new()),
    }
    .build()
    .unwrap()
}

/// Produces one record to every partition every 50 ms until stopped (at most 20 s).
fn spawn_producer(
    client: Client,
    topic: String,
    partitions: i32,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for _ in 0..400 {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            for p in 0..partitions {
                produce(&client, &topic, p, 1).await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// Ownership intervals from the members' listener events; panics if two members ever owned
/// the same partition at the same time.
fn assert_single_owner(members: &[&Member]) {
    let mut intervals: BTreeMap<TopicPartition, Vec<(Instant, Option<Instant>, usize)>> =
        BTreeMap::new();
    for (i, m) in members.iter().enumerate() {
        let mut open: BTreeMap<TopicPartition, Instant> = BTreeMap::new();
        for (at, kind, tps) in m.events.lock().unwrap().iter() {
            for tp in tps {
                if *kind == 'a' {
                    open.insert(tp.clone(), *at);
                } else if let Some(from) = open.remove(tp) {
                    intervals
                        .entry(tp.clone())
                        .or_default()
                        .push((from, Some(*at), i));
                }
            }
        }
        for (tp, from) in open {
            intervals.entry(tp).or_default().push((from, None, i));
        }
    }
    for (tp, mut v) in intervals {
        v.sort_by_key(|x| x.0);
        for w in v.windows(2) {
            let (prev_end, next_start) = (w[0].1, w[1].0);
            assert!(
                prev_end.is_some_and(|e| e <= next_start),
                "{tp} owned by members {} and {} at once",
                w[0].2,
                w[1].2
            );
        }
    }
}

/// Waits until every offset below the end offsets was consumed by some member.
async fn wait_all_consumed(members: &[&Member], ends: &BTreeMap<TopicPartition, i64>) {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let all: BTreeSet<(i32, i64)> = members
            .iter()
            .flat_map(|m| m.consumed.lock().unwrap().clone())
            .collect();
        let missing: Vec<(i32, i64)> = ends
            .iter()
            .flat_map(|(tp, e)| (0..*e).map(move |o| (tp.partition, o)))
            .filter(|k| !all.contains(k))
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            Instant::now() < end,
            "{} records never consumed, first {:?}; members: {}",
            missing.len(),
            &missing[..missing.len().min(5)],
            members
                .iter()
                .map(|m| m.describe())
                .collect::<Vec<_>>()
                .join("; ")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn member_set(m: &Member) -> BTreeSet<TopicPartition> {
    m.assignment()
}

/// Waits until every member reports the same generation (each has finished the rebalance)
/// and returns it.
async fn wait_same_generation(members: &[&Member]) -> i32 {
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let gens: Vec<i32> = members
            .iter()
            .map(|m| *m.generation.lock().unwrap())
            .collect();
        if gens[0] > 0 && gens.iter().all(|g| *g == gens[0]) {
            return gens[0];
        }
        assert!(Instant::now() < end, "generations never settled: {gens:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Three members on twelve partitions: a, then b, then c join while records keep arriving,
/// c leaves; every record is consumed, each member sees its partitions in order, no
/// partition is ever owned by two members; a new member resumes exactly at the committed
/// offsets. Cooperative: the partitions a keeps are never revoked and are consumed between
/// the two rebalance rounds.
fn three_members_twelve_partitions(ctx: &Ctx, assignor: Assignor) {
    crate::require_api(ctx, ApiKey::JoinGroup);
    rt().block_on(async {
        let (client, topic) = setup(ctx, 12, 10).await;
        let group = unique_topic("it-group");
        let a = Member::start(group_cfg(ctx, &group, assignor), &topic).await;
        wait_balanced(&[&a], 12, &[12]).await;
        let stop = Arc::new(AtomicBool::new(false));
        let producer = spawn_producer(client.clone(), topic.clone(), 12, stop.clone());
        let b = Member::start(group_cfg(ctx, &group, assignor), &topic).await;
        wait_balanced(&[&a, &b], 12, &[6, 6]).await;
        let gen_before = wait_same_generation(&[&a, &b]).await;
        let a_before = member_set(&a);
        let a_events_before = a.events.lock().unwrap().len();
        let c = Member::start(group_cfg(ctx, &group, assignor), &topic).await;
        wait_balanced(&[&a, &b, &c], 12, &[4, 4, 4]).await;
        let gen_after = wait_same_generation(&[&a, &b, &c]).await;
        let a_after = member_set(&a);
        if assignor == Assignor::CooperativeSticky {
            let kept: BTreeSet<TopicPartition> = a_before.intersection(&a_after).cloned().collect();
            assert_eq!(kept.len(), 4, "sticky: a keeps 4 of its 6");
            let revoked: Vec<TopicPartition> = a.events.lock().unwrap()[a_events_before..]
                .iter()
                .filter(|(_, k, _)| *k != 'a')
                .flat_map(|(_, _, tps)| tps.clone())
                .collect();
            assert_eq!(revoked.len(), 2, "only the moved partitions: {revoked:?}");
            assert!(revoked.iter().all(|tp| !kept.contains(tp)), "{revoked:?}");
            let kept_ids: BTreeSet<i32> = kept.iter().map(|tp| tp.partition).collect();
            let during = a
                .log
                .lock()
                .unwrap()
                .iter()
                .filter(|(p, _, g)| kept_ids.contains(p) && *g > gen_before && *g < gen_after)
                .count();
            assert!(
                during > 0,
                "a consumed nothing of its kept partitions between the rebalance rounds \
                 (generations {gen_before}..{gen_after})"
            );
        }
        c.stop().await;
        wait_balanced(&[&a, &b], 12, &[6, 6]).await;
        stop.store(true, Ordering::SeqCst);
        producer.await.unwrap();
        let tps = all_partitions(&topic, 12);
        let probe = Consumer::new(consumer_config(ctx, None).build().unwrap())
            .await
            .unwrap();
        let ends = probe.end_offsets(&tps).await.unwrap();
        wait_all_consumed(&[&a, &b, &c], &ends).await;
        // In order within each ownership (generation) of a partition. Across an eager
        // rebalance a member may legitimately read again what it read before the revocation
        // when its offsets were not committed in time (at-least-once, as with Java).
        for m in [&a, &b, &c] {
            let mut last: BTreeMap<(i32, i32), i64> = BTreeMap::new();
            for (p, o, g) in m.log.lock().unwrap().iter() {
                if let Some(prev) = last.insert((*p, *g), *o) {
                    assert!(
                        *o > prev,
                        "partition {p}: {o} after {prev} in one member (generation {g})"
                    );
                }
            }
        }
        a.stop().await;
        b.stop().await;
        assert_single_owner(&[&a, &b, &c]);

        // Committed offsets: a new member starts exactly where the group stopped.
        let d = Member::start(group_cfg(ctx, &group, assignor), &topic).await;
        wait_balanced(&[&d], 12, &[12]).await;
        for p in 0..12 {
            produce(&client, &topic, p, 1).await;
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while d.consumed.lock().unwrap().len() < 12 {
            assert!(
                Instant::now() < deadline,
                "new member got too little in 60 s: consumed {:?}, ends {:?}, {}",
                d.consumed.lock().unwrap(),
                ends,
                d.describe()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let got: BTreeSet<(i32, i64)> = d.consumed.lock().unwrap().iter().cloned().collect();
        let want: BTreeSet<(i32, i64)> = ends.iter().map(|(tp, e)| (tp.partition, *e)).collect();
        assert_eq!(
            got, want,
            "resumed at the committed offsets, nothing lost or repeated"
        );
        assert_eq!(d.consumed.lock().unwrap().len(), 12);
        d.stop().await;
        probe.close().await.unwrap();
    });
}

fn group_three_members_range(ctx: &Ctx) {
    three_members_twelve_partitions(ctx, Assignor::Range);
}

fn group_three_members_roundrobin(ctx: &Ctx) {
    three_members_twelve_partitions(ctx, Assignor::RoundRobin);
}

fn group_three_members_sticky(ctx: &Ctx) {
    three_members_twelve_partitions(ctx, Assignor::Sticky);
}

fn group_three_members_cooperative_sticky(ctx: &Ctx) {
    three_members_twelve_partitions(ctx, Assignor::CooperativeSticky);
}

/// A member whose processing outlasts `max.poll.interval.ms` (3 s) leaves the group; its
/// partitions move to the other member; its commit then fails; its next poll reports the
/// partitions lost and rejoins.
fn slow_member_exceeding_max_poll_interval_is_removed(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::JoinGroup);
    rt().block_on(async {
        let (_client, topic) = setup(ctx, 4, 10).await;
        let group = unique_topic("it-group");
        let b = Member::start(group_cfg(ctx, &group, Assignor::Range), &topic).await;
        wait_balanced(&[&b], 4, &[4]).await;
        let cfg = consumer_config(ctx, Some(&group))
            .assignor(RangeAssignor::new())
            .enable_auto_commit(false)
            .max_poll_interval(Duration::from_secs(3))
            .build()
            .unwrap();
        let mut slow = Consumer::new(cfg).await.unwrap();
        let calls = Calls::default();
        let calls_view = calls.0.clone();
        slow.set_rebalance_listener(calls);
        slow.subscribe([topic.as_str()]).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !(slow.assignment().len() == 2 && b.assignment().len() == 2) {
            assert!(
                Instant::now() < deadline,
                "slow member never got 2 partitions"
            );
            slow.poll(Duration::from_millis(100)).await.unwrap();
        }
        // "Processing" longer than max.poll.interval.ms, without polling.
        tokio::time::sleep(Duration::from_secs(5)).await;
        wait_balanced(&[&b], 4, &[4]).await;
        assert_eq!(slow.group_metadata().map(|m| m.1), Some(-1));
        let err = slow.commit_sync().await.unwrap_err();
        assert!(
            matches!(err, kafka_consumer::Error::CommitFailed(_)),
            "{err}"
        );
        // The next poll: partitions lost, then a rejoin that balances the group again.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !(slow.assignment().len() == 2 && b.assignment().len() == 2) {
            assert!(Instant::now() < deadline, "slow member never rejoined");
            slow.poll(Duration::from_millis(100)).await.unwrap();
        }
        let calls = calls_view.lock().unwrap().clone();
        assert!(calls.contains(&"lost 2".to_string()), "{calls:?}");
        slow.close().await.unwrap();
        b.stop().await;
    });
}

/// KIP-320 on a committed position: a committed offset whose leader epoch the leader does not
/// know is a truncation — `LogTruncation` with `auto.offset.reset=none`, a reset with a
/// policy; a committed offset with the partition's real epoch validates and resumes there.
fn committed_epoch_validated_against_the_leader(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::OffsetCommit);
    crate::require_api(ctx, ApiKey::OffsetForLeaderEpoch);
    rt().block_on(async {
        let (_client, topic) = setup(ctx, 1, 20).await;
        let tp = TopicPartition::new(&topic, 0);
        let group = unique_topic("it-group");
        let cfg = |reset: AutoOffsetReset| {
            consumer_config(ctx, Some(&group))
                .enable_auto_commit(false)
                .auto_offset_reset(reset)
                .build()
                .unwrap()
        };
        // The partition's real leader epoch, from a record.
        let mut probe = Consumer::new(consumer_config(ctx, None).build().unwrap())
            .await
            .unwrap();
        probe.assign([tp.clone()]).await.unwrap();
        let epoch = loop {
            if let Some(r) = probe
                .poll(Duration::from_millis(300))
                .await
                .unwrap()
                .first()
            {
                break r.leader_epoch.unwrap();
            }
        };
        probe.close().await.unwrap();

        let offs = |offset: i64, epoch: i32| {
            [(
                tp.clone(),
                kafka_consumer::OffsetAndMetadata::new(offset).with_leader_epoch(epoch),
            )]
            .into()
        };
        let mut c = Consumer::new(cfg(AutoOffsetReset::None)).await.unwrap();
        c.assign([tp.clone()]).await.unwrap();
        c.commit_offsets_sync(offs(10, epoch + 5)).await.unwrap();
        let end = Instant::now() + Duration::from_secs(20);
        let err = loop {
            assert!(Instant::now() < end, "no truncation reported");
            match c.poll(Duration::from_millis(200)).await {
                Ok(recs) => assert!(recs.is_empty(), "records from an unvalidated position"),
                Err(e) => break e,
            }
        };
        assert!(
            matches!(
                err,
                kafka_consumer::Error::LogTruncation {
                    offset: 10,
                    divergent_offset: None,
                    ..
                }
            ),
            "{err}"
        );
        // Until a seek, it stays reported; a seek moves on.
        c.seek(&tp, 15).unwrap();
        assert_eq!(poll_one(&mut c).await, 15);
        c.close().await.unwrap();

        // With a policy, the unknown epoch resets (earliest).
        let mut c = Consumer::new(cfg(AutoOffsetReset::Earliest)).await.unwrap();
        c.assign([tp.clone()]).await.unwrap();
        assert_eq!(poll_one(&mut c).await, 0);
        // The real epoch validates: consumption resumes at the committed offset.
        c.commit_offsets_sync(offs(12, epoch)).await.unwrap();
        c.close().await.unwrap();
        let mut c = Consumer::new(cfg(AutoOffsetReset::None)).await.unwrap();
        c.assign([tp.clone()]).await.unwrap();
        assert_eq!(poll_one(&mut c).await, 12);
        c.close().await.unwrap();
    });
}
