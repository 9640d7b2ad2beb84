//! `kafka-consumer` with `group.protocol=consumer` (KIP-848): membership through
//! ConsumerGroupHeartbeat with the coordinator's server-side assignment. One member gets every
//! partition; three members converge to 4/4/4 on 12 partitions with no partition ever owned by
//! two members at once (checked from the rebalance listeners); a leaving member's partitions go
//! to the others; commits resume in a new member; a static member restarting gets its
//! partitions back; a pattern subscription.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use integration_tests::unique_topic;
use kafka_client::Client;
use kafka_consumer::{
    AutoOffsetReset, Consumer, ConsumerConfig, ConsumerConfigBuilder, ConsumerRebalanceListener,
    GroupProtocol, TopicPartition,
};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::records::RecordBatchBuilder;

use crate::Ctx;

pub(crate) const CASES: &[crate::Case] = &[
    (
        "consumer848::single_member_gets_all_partitions",
        single_member_gets_all_partitions,
    ),
    (
        "consumer848::three_members_balance_twelve_partitions",
        three_members_balance_twelve_partitions,
    ),
    (
        "consumer848::leaving_member_partitions_move_to_the_others",
        leaving_member_partitions_move_to_the_others,
    ),
    (
        "consumer848::commit_then_new_member_resumes",
        commit_then_new_member_resumes,
    ),
    (
        "consumer848::static_member_restart_gets_its_partitions_back",
        static_member_restart_gets_its_partitions_back,
    ),
    ("consumer848::subscribe_pattern", subscribe_pattern),
    (
        "consumer848::poll_interval_exceeded_loses_then_rejoins",
        poll_interval_exceeded_loses_then_rejoins,
    ),
    (
        "consumer848::fatal_errors_surface_from_poll",
        fatal_errors_surface_from_poll,
    ),
];

/// How long a group may take to settle (the coordinator's heartbeat interval is 5 s by default
/// in Apache Kafka, and a move takes a revoke, an acknowledgement and an assignment).
const SETTLE: Duration = Duration::from_secs(60);

fn rt() -> tokio::runtime::Runtime {
    crate::common::rt()
}

async fn connect(ctx: &Ctx) -> Client {
    Client::connect(crate::common::client_config(&ctx.bootstrap, "it-848"))
        .await
        .unwrap()
}

/// Produces `n` records `p<partition>-<i>` to one partition.
async fn produce(client: &Client, topic: &str, partition: i32, n: i64) {
    let mut b = RecordBatchBuilder::new(0);
    for i in 0..n {
        let v = format!("p{partition}-{i}");
        b.append(1_700_000_000_000 + i, None, Some(v.as_bytes()), &[])
            .unwrap();
    }
    crate::common::produce_batches(client, topic, partition, b.build().unwrap()).await;
}

async fn topic_with_data(client: &Client, prefix: &str, partitions: i32, per: i64) -> String {
    let topic = crate::common::create_topic(client, prefix, partitions).await;
    for p in 0..partitions {
        produce(client, &topic, p, per).await;
    }
    topic
}

fn config(ctx: &Ctx, group: &str) -> ConsumerConfigBuilder {
    ConsumerConfig::builder()
        .bootstrap_servers(ctx.bootstrap.clone())
        .client_id("it-848")
        .default_api_timeout(Duration::from_secs(30))
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100))
        .group_id(group)
        .group_protocol(GroupProtocol::Consumer)
        .auto_commit_interval(Duration::from_millis(200))
        .max_poll_interval(Duration::from_secs(30))
}

/// Who owns what, as the listeners of every member report it; a partition assigned while
/// another member still owns it is a violation.
#[derive(Default, Clone)]
struct Ownership {
    owner: Arc<Mutex<BTreeMap<TopicPartition, usize>>>,
    violations: Arc<Mutex<Vec<String>>>,
}

impl Ownership {
    fn violations(&self) -> Vec<String> {
        self.violations.lock().unwrap().clone()
    }
}

struct Listener {
    idx: usize,
    own: Ownership,
    calls: Arc<Mutex<Vec<String>>>,
}

impl ConsumerRebalanceListener for Listener {
    fn on_partitions_revoked(&mut self, p: &[TopicPartition]) {
        let mut o = self.own.owner.lock().unwrap();
        for tp in p {
            if o.get(tp) == Some(&self.idx) {
                o.remove(tp);
            } else {
                self.own
                    .violations
                    .lock()
                    .unwrap()
                    .push(format!("member {} revoked {tp} it did not own", self.idx));
            }
        }
        self.calls
            .lock()
            .unwrap()
            .push(format!("revoked {}", p.len()));
    }
    fn on_partitions_assigned(&mut self, p: &[TopicPartition]) {
        let mut o = self.own.owner.lock().unwrap();
        for tp in p {
            if let Some(other) = o.insert(tp.clone(), self.idx)
                && other != self.idx
            {
                self.own.violations.lock().unwrap().push(format!(
                    "{tp} assigned to member {} while member {other} owned it",
                    self.idx
                ));
            }
        }
        self.calls
            .lock()
            .unwrap()
            .push(format!("assigned {}", p.len()));
    }
    fn on_partitions_lost(&mut self, p: &[TopicPartition]) {
        let mut o = self.own.owner.lock().unwrap();
        for tp in p {
            if o.get(tp) == Some(&self.idx) {
                o.remove(tp);
            }
        }
        self.calls.lock().unwrap().push(format!("lost {}", p.len()));
    }
}

/// A group member polling in its own task.
struct Member {
    assignment: Arc<Mutex<BTreeSet<TopicPartition>>>,
    consumed: Arc<Mutex<Vec<(String, i32, i64)>>>,
    calls: Arc<Mutex<Vec<String>>>,
    member: Arc<Mutex<Option<(String, i32)>>>,
    /// Positions (for failure messages).
    positions: Arc<Mutex<BTreeMap<TopicPartition, i64>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

enum Sub<'a> {
    Topics(&'a [&'a str]),
    Pattern(&'a str),
}

impl Member {
    async fn start(cfg: ConsumerConfig, sub: Sub<'_>, idx: usize, own: &Ownership) -> Member {
        let mut c = Consumer::new(cfg).await.unwrap();
        let calls = Arc::new(Mutex::new(Vec::new()));
        c.set_rebalance_listener(Listener {
            idx,
            own: own.clone(),
            calls: calls.clone(),
        });
        match sub {
            Sub::Topics(t) => c.subscribe(t.iter().copied()).await.unwrap(),
            Sub::Pattern(p) => c.subscribe_pattern(p).await.unwrap(),
        }
        let assignment = Arc::new(Mutex::new(BTreeSet::new()));
        let consumed = Arc::new(Mutex::new(Vec::new()));
        let member = Arc::new(Mutex::new(None));
        let positions = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, cons, m, pos, s) = (
            assignment.clone(),
            consumed.clone(),
            member.clone(),
            positions.clone(),
            stop.clone(),
        );
        let task = tokio::spawn(async move {
            while !s.load(Ordering::SeqCst) {
                let recs = c.poll(Duration::from_millis(100)).await.unwrap();
                cons.lock().unwrap().extend(
                    recs.iter()
                        .map(|r| (r.topic.to_string(), r.partition, r.offset)),
                );
                *a.lock().unwrap() = c.assignment();
                *m.lock().unwrap() = c.group_metadata();
                *pos.lock().unwrap() = c
                    .consumed_offsets()
                    .into_iter()
                    .map(|(tp, o)| (tp, o.offset))
                    .collect();
            }
            c.close().await.unwrap();
        });
        Member {
            assignment,
            consumed,
            calls,
            member,
            positions,
            stop,
            task,
        }
    }

    fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.assignment.lock().unwrap().clone()
    }

    fn consumed(&self) -> BTreeSet<(String, i32, i64)> {
        self.consumed.lock().unwrap().iter().cloned().collect()
    }

    async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

/// Waits until the members' assignments are disjoint, cover `n` partitions and have the
/// given sizes (sorted).
async fn wait_balanced(members: &[&Member], n: usize, sizes: &[usize]) {
    let end = Instant::now() + SETTLE;
    loop {
        let sets: Vec<_> = members.iter().map(|m| m.assignment()).collect();
        let union: BTreeSet<_> = sets.iter().flatten().cloned().collect();
        let total: usize = sets.iter().map(BTreeSet::len).sum();
        let mut got: Vec<usize> = sets.iter().map(BTreeSet::len).collect();
        got.sort_unstable();
        if union.len() == n && total == n && got == sizes {
            return;
        }
        assert!(
            Instant::now() < end,
            "not balanced within {SETTLE:?}: {sets:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the members together consumed `n` distinct records.
async fn wait_consumed(members: &[&Member], n: usize) {
    let end = Instant::now() + SETTLE;
    loop {
        let all: BTreeSet<_> = members.iter().flat_map(|m| m.consumed()).collect();
        if all.len() == n {
            return;
        }
        assert!(
            Instant::now() < end,
            "{} of {n} records consumed; assignments {:?}, positions {:?}",
            all.len(),
            members.iter().map(|m| m.assignment()).collect::<Vec<_>>(),
            members
                .iter()
                .map(|m| m.positions.lock().unwrap().clone())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn single_member_gets_all_partitions(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::ConsumerGroupHeartbeat);
    rt().block_on(async {
        let client = connect(ctx).await;
        let topic = topic_with_data(&client, "it848-one", 4, 10).await;
        let group = unique_topic("it848-g");
        let own = Ownership::default();
        let m = Member::start(
            config(ctx, &group).build().unwrap(),
            Sub::Topics(&[&topic]),
            0,
            &own,
        )
        .await;
        wait_balanced(&[&m], 4, &[4]).await;
        wait_consumed(&[&m], 40).await;
        assert_eq!(
            m.calls.lock().unwrap().first().map(String::as_str),
            Some("assigned 4")
        );
        let (member_id, epoch) = m.member.lock().unwrap().clone().unwrap();
        assert_eq!(member_id.len(), 22, "a client-generated UUID: {member_id}");
        assert!(epoch > 0, "epoch {epoch}");
        m.stop().await;
        assert!(own.violations().is_empty(), "{:?}", own.violations());
    });
}

fn three_members_balance_twelve_partitions(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::ConsumerGroupHeartbeat);
    rt().block_on(async {
        let client = connect(ctx).await;
        let topic = topic_with_data(&client, "it848-bal", 12, 20).await;
        let group = unique_topic("it848-g");
        let own = Ownership::default();
        let cfg = || config(ctx, &group).build().unwrap();
        let a = Member::start(cfg(), Sub::Topics(&[&topic]), 0, &own).await;
        wait_balanced(&[&a], 12, &[12]).await;
        let b = Member::start(cfg(), Sub::Topics(&[&topic]), 1, &own).await;
        let c = Member::start(cfg(), Sub::Topics(&[&topic]), 2, &own).await;
        wait_balanced(&[&a, &b, &c], 12, &[4, 4, 4]).await;
        // Every record consumed: auto commit before revocation loses nothing.
        wait_consumed(&[&a, &b, &c], 240).await;
        let a_calls = a.calls.lock().unwrap().clone();
        assert_eq!(a_calls.first().map(String::as_str), Some("assigned 12"));
        assert!(
            !a_calls.contains(&"revoked 12".to_string()),
            "incremental: never everything revoked: {a_calls:?}"
        );
        let revoked: usize = a_calls
            .iter()
            .filter_map(|c| c.strip_prefix("revoked "))
            .map(|n| n.parse::<usize>().unwrap())
            .sum();
        assert_eq!(revoked, 8, "a gave up exactly 8 partitions: {a_calls:?}");
        for m in [&a, &b, &c] {
            assert!(
                !m.calls
                    .lock()
                    .unwrap()
                    .iter()
                    .any(|c| c.starts_with("lost")),
                "nothing lost"
            );
        }
        c.stop().await;
        b.stop().await;
        a.stop().await;
        assert!(own.violations().is_empty(), "{:?}", own.violations());
    });
}

fn leaving_member_partitions_move_to_the_others(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::ConsumerGroupHeartbeat);
    rt().block_on(async {
        let client = connect(ctx).await;
        let topic = topic_with_data(&client, "it848-leave", 6, 5).await;
        let group = unique_topic("it848-g");
        let own = Ownership::default();
        let cfg = || config(ctx, &group).build().unwrap();
        let a = Member::start(cfg(), Sub::Topics(&[&topic]), 0, &own).await;
        let b = Member::start(cfg(), Sub::Topics(&[&topic]), 1, &own).await;
        let c = Member::start(cfg(), Sub::Topics(&[&topic]), 2, &own).await;
        wait_balanced(&[&a, &b, &c], 6, &[2, 2, 2]).await;
        let c_had = c.assignment();
        let c_calls = c.calls.clone();
        c.stop().await; // close: revoke, then leave with epoch -1
        assert_eq!(
            c_calls.lock().unwrap().last().map(String::as_str),
            Some("revoked 2"),
            "close revokes"
        );
        wait_balanced(&[&a, &b], 6, &[3, 3]).await;
        let now: BTreeSet<_> = a.assignment().union(&b.assignment()).cloned().collect();
        assert!(c_had.is_subset(&now));
        // Produce more: the survivors read it all (30 before, 6 more).
        for p in 0..6 {
            produce(&client, &topic, p, 1).await;
        }
        let end = Instant::now() + SETTLE;
        loop {
            let all: BTreeSet<(i32, i64)> = [&a, &b]
                .iter()
                .flat_map(|m| m.consumed())
                .map(|(_, p, o)| (p, o))
                .collect();
            if (0..6).all(|p| all.contains(&(p, 5))) {
                break;
            }
            assert!(Instant::now() < end, "new records not consumed: {all:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        a.stop().await;
        b.stop().await;
        assert!(own.violations().is_empty(), "{:?}", own.violations());
    });
}

async fn poll_first_offset(c: &mut Consumer) -> i64 {
    let end = Instant::now() + SETTLE;
    loop {
        assert!(Instant::now() < end, "no record within {SETTLE:?}");
        if let Some(r) = c.poll(Duration::from_millis(300)).await.unwrap().first() {
            return r.offset;
        }
    }
}

fn commit_then_new_member_resumes(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::ConsumerGroupHeartbeat);
    rt().block_on(async {
        let client = connect(ctx).await;
        let topic = topic_with_data(&client, "it848-commit", 1, 30).await;
        let group = unique_topic("it848-g");
        let tp = TopicPartition::new(&topic, 0);
        let cfg = || {
            config(ctx, &group)
                .enable_auto_commit(false)
                .max_poll_records(10)
                .build()
                .unwrap()
        };
        let mut c1 = Consumer::new(cfg()).await.unwrap();
        c1.subscribe([topic.as_str()]).await.unwrap();
        assert_eq!(poll_first_offset(&mut c1).await, 0);
        // OffsetCommit with the member id and epoch.
        c1.commit_sync().await.unwrap();
        let committed = c1.committed(std::slice::from_ref(&tp)).await.unwrap();
        assert_eq!(committed[&tp].as_ref().map(|o| o.offset), Some(10));
        let offs = [(
            tp.clone(),
            kafka_consumer::OffsetAndMetadata::new(12).with_metadata("m"),
        )]
        .into();
        c1.commit_offsets_sync(offs).await.unwrap();
        let o = c1.committed(std::slice::from_ref(&tp)).await.unwrap()[&tp]
            .clone()
            .unwrap();
        assert_eq!((o.offset, o.metadata.as_str()), (12, "m"));
        c1.close().await.unwrap();

        let mut c2 = Consumer::new(cfg()).await.unwrap();
        c2.subscribe([topic.as_str()]).await.unwrap();
        assert_eq!(
            poll_first_offset(&mut c2).await,
            12,
            "resumes at the commit"
        );
        c2.commit_async().await.unwrap();
        c2.close().await.unwrap();
    });
}

fn static_member_restart_gets_its_partitions_back(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::ConsumerGroupHeartbeat);
    rt().block_on(async {
        let client = connect(ctx).await;
        let topic = topic_with_data(&client, "it848-static", 4, 5).await;
        let group = unique_topic("it848-g");
        let own = Ownership::default();
        let cfg = |id: &str| config(ctx, &group).group_instance_id(id).build().unwrap();
        let a = Member::start(cfg("a"), Sub::Topics(&[&topic]), 0, &own).await;
        let b = Member::start(cfg("b"), Sub::Topics(&[&topic]), 1, &own).await;
        wait_balanced(&[&a, &b], 4, &[2, 2]).await;
        wait_consumed(&[&a, &b], 20).await;
        let a_before = a.assignment();
        let b_before = b.assignment();
        let b_calls = b.calls.lock().unwrap().len();
        let a_id = a.member.lock().unwrap().clone().unwrap().0;
        a.stop().await; // static: leaves with epoch -2, keeps its partitions
        let a2 = Member::start(cfg("a"), Sub::Topics(&[&topic]), 0, &own).await;
        let end = Instant::now() + SETTLE;
        while a2.assignment().is_empty() {
            assert!(Instant::now() < end, "restarted static member got nothing");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(a2.assignment(), a_before, "same partitions after restart");
        let a2_id = a2.member.lock().unwrap().clone().unwrap().0;
        assert_ne!(a2_id, a_id, "a new member id for the new instance");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            b.assignment(),
            b_before,
            "the other member kept its partitions"
        );
        assert_eq!(
            b.calls.lock().unwrap().len(),
            b_calls,
            "the other member saw no rebalance: {:?}",
            b.calls.lock().unwrap()
        );
        a2.stop().await;
        b.stop().await;
    });
}

/// Escapes the regex metacharacters a topic name can hold.
fn escape(s: &str) -> String {
    s.replace('.', "\\.")
}

fn subscribe_pattern(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::ConsumerGroupHeartbeat);
    rt().block_on(async {
        let client = connect(ctx).await;
        let base = unique_topic("it848-re");
        let t1 = topic_with_data(&client, &format!("{base}-x"), 2, 3).await;
        let t2 = topic_with_data(&client, &format!("{base}-y"), 1, 3).await;
        let other = topic_with_data(&client, "it848-other", 1, 3).await;
        let group = unique_topic("it848-g");
        let own = Ownership::default();
        let pattern = format!("{}-[xy]-.*", escape(&base));
        let m = Member::start(
            config(ctx, &group).build().unwrap(),
            Sub::Pattern(&pattern),
            0,
            &own,
        )
        .await;
        wait_balanced(&[&m], 3, &[3]).await;
        let topics: BTreeSet<String> = m.assignment().into_iter().map(|tp| tp.topic).collect();
        assert_eq!(topics, [t1.clone(), t2.clone()].into());
        assert!(!topics.contains(&other));
        wait_consumed(&[&m], 9).await;
        // A matching topic created now joins the subscription.
        let t3 = topic_with_data(&client, &format!("{base}-y"), 1, 3).await;
        wait_balanced(&[&m], 4, &[4]).await;
        assert!(m.assignment().contains(&TopicPartition::new(&t3, 0)));
        wait_consumed(&[&m], 12).await;
        m.stop().await;
    });
}

fn poll_interval_exceeded_loses_then_rejoins(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::ConsumerGroupHeartbeat);
    rt().block_on(async {
        let client = connect(ctx).await;
        let topic = topic_with_data(&client, "it848-stale", 2, 5).await;
        let group = unique_topic("it848-g");
        let own = Ownership::default();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let cfg = config(ctx, &group)
            .max_poll_interval(Duration::from_secs(3))
            .build()
            .unwrap();
        let mut c = Consumer::new(cfg).await.unwrap();
        c.set_rebalance_listener(Listener {
            idx: 0,
            own: own.clone(),
            calls: calls.clone(),
        });
        c.subscribe([topic.as_str()]).await.unwrap();
        let end = Instant::now() + SETTLE;
        while c.assignment().len() < 2 {
            assert!(Instant::now() < end, "never assigned");
            c.poll(Duration::from_millis(100)).await.unwrap();
        }
        let (_, epoch) = c.group_metadata().unwrap();
        assert!(epoch > 0);
        // No poll for longer than max.poll.interval.ms: the member leaves in the background.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (_, left) = c.group_metadata().unwrap();
        assert!(left < 0, "left the group with epoch -1: {left}");
        // The next poll releases the partitions as lost and rejoins.
        c.poll(Duration::from_millis(10)).await.unwrap();
        assert_eq!(
            calls.lock().unwrap().get(1).map(String::as_str),
            Some("lost 2"),
            "{:?}",
            calls.lock().unwrap()
        );
        let end = Instant::now() + SETTLE;
        while c.assignment().len() < 2 {
            assert!(Instant::now() < end, "never reassigned");
            c.poll(Duration::from_millis(100)).await.unwrap();
        }
        assert_eq!(
            calls.lock().unwrap().last().map(String::as_str),
            Some("assigned 2")
        );
        c.close().await.unwrap();
        assert!(own.violations().is_empty(), "{:?}", own.violations());
    });
}

async fn poll_until_error(c: &mut Consumer) -> kafka_consumer::Error {
    let end = Instant::now() + SETTLE;
    loop {
        assert!(Instant::now() < end, "no error within {SETTLE:?}");
        if let Err(e) = c.poll(Duration::from_millis(100)).await {
            return e;
        }
    }
}

fn fatal_errors_surface_from_poll(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::ConsumerGroupHeartbeat);
    rt().block_on(async {
        let client = connect(ctx).await;
        let topic = topic_with_data(&client, "it848-fatal", 1, 1).await;
        // An assignor the coordinator does not have.
        let group = unique_topic("it848-g");
        let cfg = config(ctx, &group)
            .group_remote_assignor("no-such-assignor")
            .build()
            .unwrap();
        let mut c = Consumer::new(cfg).await.unwrap();
        c.subscribe([topic.as_str()]).await.unwrap();
        let e = poll_until_error(&mut c).await;
        assert_eq!(e.error_code(), Some(ErrorCode::UnsupportedAssignor), "{e}");
        assert!(
            c.poll(Duration::from_millis(10)).await.is_err(),
            "it stays failed"
        );
        c.close().await.unwrap();
        // A second live consumer with the same group.instance.id.
        let group = unique_topic("it848-g");
        let cfg = || {
            config(ctx, &group)
                .group_instance_id("same")
                .build()
                .unwrap()
        };
        let mut first = Consumer::new(cfg()).await.unwrap();
        first.subscribe([topic.as_str()]).await.unwrap();
        let end = Instant::now() + SETTLE;
        while first.assignment().is_empty() {
            assert!(Instant::now() < end, "first never assigned");
            first.poll(Duration::from_millis(100)).await.unwrap();
        }
        let mut second = Consumer::new(cfg()).await.unwrap();
        second.subscribe([topic.as_str()]).await.unwrap();
        let e = poll_until_error(&mut second).await;
        assert_eq!(e.error_code(), Some(ErrorCode::UnreleasedInstanceId), "{e}");
        assert!(second.assignment().is_empty());
        second.close().await.unwrap();
        first.poll(Duration::from_millis(10)).await.unwrap();
        first.close().await.unwrap();
    });
}
