//! One consumer feeding a bounded pool of worker tasks, committing only what was processed.
//!
//! ```sh
//! cargo run --release -p examples --example consumer_worker_pool
//! # against an existing cluster instead of the bundled broker:
//! KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 cargo run --release -p examples --example consumer_worker_pool
//! ```
//!
//! - **Per-partition order**: every partition maps to one worker (by hash), and each worker
//!   has a bounded queue, so a partition's records are processed in offset order while
//!   different partitions run in parallel. A full queue makes the poll loop wait
//!   (backpressure) instead of buffering without bound.
//! - **Commit what was processed**: per partition the loop remembers the offsets handed out,
//!   in order; a worker marks its record done; the commit point is one past the highest
//!   offset below which everything is done. The loop commits those points every 500 ms
//!   (asynchronously, so the workers keep being fed).
//! - **Revocation drains**: when the group takes partitions away (here a second pool joins
//!   half-way), the rebalance listener waits for the revoked partitions' in-flight records
//!   to finish, then commits their offsets (through [`OffsetCommitter`]) before the new
//!   owner starts, so nothing is lost or processed twice. Lost partitions (the member was
//!   kicked out) are dropped without committing.
//!
//! Bounded: it produces 3,000 records to a fresh 6-partition topic, consumes them with two
//! pools in one group, prints a summary (records per pool and worker, duplicates, order
//! violations, committed offsets against end offsets) and exits non-zero if a record was
//! missed, processed out of order, or left uncommitted. Without `KAFKA_BOOTSTRAP_SERVERS` the
//! bundled broker runs in-process with a temporary data directory.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_admin::{AdminClient, AdminConfig, NewTopic, Options};
use kafka_consumer::assignor::CooperativeStickyAssignor;
use kafka_consumer::{
    AutoOffsetReset, Consumer, ConsumerConfig, ConsumerRebalanceListener, OffsetAndMetadata,
    OffsetCommitter, StringDeserializer, TopicPartition,
};
use kafka_producer::{Producer, ProducerConfig, ProducerRecord};
use tokio::sync::{Notify, mpsc};

const PARTITIONS: i32 = 6;
const RECORDS: usize = 3_000;
const WORKERS: usize = 3;
const QUEUE: usize = 32;

use examples::BoxError;

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Seconds since the start, for the log lines.
fn t() -> String {
    format!(
        "{:6.2}s",
        START.get_or_init(Instant::now).elapsed().as_secs_f64()
    )
}

// ------------------------------------------------------------------ progress tracking

/// One partition's records handed to a worker and not yet committable, in offset order.
#[derive(Default)]
struct Progress {
    pending: VecDeque<(i64, bool)>,
    /// One past the highest offset below which everything handed out is done.
    commit_point: Option<i64>,
    committed: Option<i64>,
}

impl Progress {
    fn done(&mut self, offset: i64) {
        if let Some(slot) = self.pending.iter_mut().find(|(o, _)| *o == offset) {
            slot.1 = true;
        }
        while let Some(&(o, true)) = self.pending.front() {
            self.pending.pop_front();
            self.commit_point = Some(o + 1);
        }
    }
}

/// The partitions this consumer owns and their progress; `changed` wakes drain waits.
#[derive(Default)]
struct Tracker {
    parts: Mutex<HashMap<TopicPartition, Progress>>,
    changed: Notify,
}

impl Tracker {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TopicPartition, Progress>> {
        self.parts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a record before it goes to a worker; false if the partition is not owned.
    fn dispatch(&self, tp: &TopicPartition, offset: i64) -> bool {
        match self.lock().get_mut(tp) {
            Some(p) => {
                p.pending.push_back((offset, false));
                true
            }
            None => false,
        }
    }

    fn done(&self, tp: &TopicPartition, offset: i64) {
        if let Some(p) = self.lock().get_mut(tp) {
            p.done(offset);
        }
        self.changed.notify_waiters();
    }

    fn in_flight(&self, tps: &[TopicPartition]) -> usize {
        let parts = self.lock();
        tps.iter()
            .filter_map(|tp| parts.get(tp))
            .map(|p| p.pending.len())
            .sum()
    }

    /// Commit points that moved since the last commit (of `only`, or of every partition).
    fn due(&self, only: Option<&[TopicPartition]>) -> BTreeMap<TopicPartition, OffsetAndMetadata> {
        self.lock()
            .iter()
            .filter(|(tp, _)| only.is_none_or(|o| o.contains(tp)))
            .filter_map(|(tp, p)| match p.commit_point {
                Some(c) if p.committed != Some(c) => Some((tp.clone(), OffsetAndMetadata::new(c))),
                _ => None,
            })
            .collect()
    }

    fn mark_committed(&self, offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>) {
        let mut parts = self.lock();
        for (tp, o) in offsets {
            if let Some(p) = parts.get_mut(tp) {
                p.committed = Some(o.offset);
            }
        }
    }
}

// ------------------------------------------------------------------ what happened, for the summary

#[derive(Default)]
struct Stats {
    /// How many times each (partition, offset) was processed.
    processed: Mutex<BTreeMap<(i32, i64), u32>>,
    unique: AtomicUsize,
    order_violations: AtomicUsize,
    per_worker: Mutex<BTreeMap<String, usize>>,
}

impl Stats {
    fn record(&self, worker: &str, partition: i32, offset: i64) {
        let mut p = self.processed.lock().unwrap_or_else(|e| e.into_inner());
        let n = p.entry((partition, offset)).or_insert(0);
        *n += 1;
        if *n == 1 {
            self.unique.fetch_add(1, Ordering::SeqCst);
        }
        drop(p);
        *self
            .per_worker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(worker.to_string())
            .or_insert(0) += 1;
    }
}

// ------------------------------------------------------------------ the worker pool

struct Job {
    tp: TopicPartition,
    offset: i64,
    value: String,
}

struct Pool {
    queues: Vec<mpsc::Sender<Job>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Pool {
    fn start(name: &str, tracker: Arc<Tracker>, stats: Arc<Stats>) -> Pool {
        let mut queues = Vec::new();
        let mut workers = Vec::new();
        for w in 0..WORKERS {
            let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
            let (tracker, stats) = (tracker.clone(), stats.clone());
            let id = format!("{name}/worker-{w}");
            workers.push(tokio::spawn(async move {
                let mut last: HashMap<TopicPartition, i64> = HashMap::new();
                while let Some(job) = rx.recv().await {
                    if last.get(&job.tp).is_some_and(|&prev| prev >= job.offset) {
                        stats.order_violations.fetch_add(1, Ordering::SeqCst);
                    }
                    last.insert(job.tp.clone(), job.offset);
                    // The "work": a short pause for every tenth record, longer for some.
                    if job.offset % 10 == 0 {
                        let pause = if job.value.ends_with('7') { 5 } else { 2 };
                        tokio::time::sleep(Duration::from_millis(pause)).await;
                    } else {
                        tokio::task::yield_now().await;
                    }
                    stats.record(&id, job.tp.partition, job.offset);
                    tracker.done(&job.tp, job.offset);
                }
            }));
            queues.push(tx);
        }
        Pool { queues, workers }
    }

    /// Hands a job to its partition's worker, waiting while that worker's queue is full.
    async fn submit(&self, job: Job) -> Result<(), BoxError> {
        let mut h = DefaultHasher::new();
        job.tp.hash(&mut h);
        let w = (h.finish() % self.queues.len() as u64) as usize;
        self.queues[w]
            .send(job)
            .await
            .map_err(|_| "a worker stopped".into())
    }

    async fn stop(self) {
        drop(self.queues);
        for w in self.workers {
            let _ = w.await;
        }
    }
}

// ------------------------------------------------------------------ rebalance listener

/// Revoked partitions: wait for their in-flight records, then commit them. Lost: forget.
struct DrainAndCommit {
    name: String,
    tracker: Arc<Tracker>,
    committer: OffsetCommitter,
    runtime: tokio::runtime::Handle,
}

impl ConsumerRebalanceListener for DrainAndCommit {
    fn on_partitions_assigned(&mut self, partitions: &[TopicPartition]) {
        let mut parts = self.tracker.lock();
        for tp in partitions {
            parts.entry(tp.clone()).or_default();
        }
        drop(parts);
        println!("{} [{}] assigned {}", t(), self.name, names(partitions));
    }

    fn on_partitions_revoked(&mut self, partitions: &[TopicPartition]) {
        if partitions.is_empty() {
            return;
        }
        let started = Instant::now();
        // Listener callbacks are synchronous and run inside poll: block this worker thread
        // (the runtime is multi-threaded) while the pool drains and the commit completes.
        let (tracker, committer) = (self.tracker.clone(), self.committer.clone());
        let result = tokio::task::block_in_place(|| {
            self.runtime.block_on(async {
                let deadline = Instant::now() + Duration::from_secs(30);
                while tracker.in_flight(partitions) > 0 && Instant::now() < deadline {
                    let _ =
                        tokio::time::timeout(Duration::from_millis(10), tracker.changed.notified())
                            .await;
                }
                let offsets = tracker.due(Some(partitions));
                let r = committer.commit(offsets.clone()).await;
                if r.is_ok() {
                    tracker.mark_committed(&offsets);
                }
                r.map(|()| offsets)
            })
        });
        match result {
            Ok(offsets) => println!(
                "{} [{}] revoked {}: drained in {:?}, {}",
                t(),
                self.name,
                names(partitions),
                started.elapsed(),
                if offsets.is_empty() {
                    "everything was already committed".to_string()
                } else {
                    let v: Vec<String> = offsets
                        .iter()
                        .map(|(tp, o)| format!("{}@{}", tp.partition, o.offset))
                        .collect();
                    format!("committed {}", v.join(" "))
                }
            ),
            Err(e) => eprintln!("[{}] commit on revocation failed: {e}", self.name),
        }
        let mut parts = self.tracker.lock();
        for tp in partitions {
            parts.remove(tp);
        }
    }

    fn on_partitions_lost(&mut self, partitions: &[TopicPartition]) {
        // Another member may own them already: do not commit.
        let mut parts = self.tracker.lock();
        for tp in partitions {
            parts.remove(tp);
        }
        drop(parts);
        println!("{} [{}] lost {}", t(), self.name, names(partitions));
    }
}

fn names(tps: &[TopicPartition]) -> String {
    let v: Vec<String> = tps.iter().map(|tp| tp.partition.to_string()).collect();
    format!("partitions [{}]", v.join(","))
}

// ------------------------------------------------------------------ one pool member

async fn member(
    name: String,
    bootstrap: String,
    topic: String,
    group: String,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
) -> Result<(), BoxError> {
    let cfg = ConsumerConfig::builder()
        .bootstrap_servers(bootstrap)
        .client_id(name.clone())
        .group_id(group)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .enable_auto_commit(false)
        .max_poll_records(200)
        // Notice rebalances quickly (the default heartbeat is 3 s).
        .heartbeat_interval(Duration::from_millis(500))
        .assignor(CooperativeStickyAssignor::new())
        .build()?;
    let mut consumer =
        Consumer::with_deserializers(cfg, StringDeserializer, StringDeserializer).await?;
    consumer.subscribe([topic]).await?;
    let tracker = Arc::new(Tracker::default());
    consumer.set_rebalance_listener(DrainAndCommit {
        name: name.clone(),
        tracker: tracker.clone(),
        committer: consumer.offset_committer()?,
        runtime: tokio::runtime::Handle::current(),
    });
    let pool = Pool::start(&name, tracker.clone(), stats);
    let mut last_commit = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        for r in consumer.poll(Duration::from_millis(200)).await? {
            let tp = TopicPartition::new(&*r.topic, r.partition);
            if !tracker.dispatch(&tp, r.offset) {
                continue;
            }
            let value = r.value.unwrap_or_default();
            pool.submit(Job {
                tp,
                offset: r.offset,
                value,
            })
            .await?;
        }
        if last_commit.elapsed() >= Duration::from_millis(500) {
            last_commit = Instant::now();
            let offsets = tracker.due(None);
            if !offsets.is_empty() {
                // Asynchronous: a commit queues behind the broker's long-polling fetch on
                // the same connection, and the loop should keep feeding the workers.
                let handle = consumer.commit_offsets_async(offsets.clone());
                let (tracker, name) = (tracker.clone(), name.clone());
                tokio::spawn(async move {
                    match handle.await {
                        Ok(()) => tracker.mark_committed(&offsets),
                        // A rebalance got in between: the listener commits on revocation.
                        Err(e) => eprintln!("[{name}] periodic commit failed: {e}"),
                    }
                });
            }
        }
    }
    // close() revokes every partition: the listener drains and commits them.
    consumer.close().await?;
    pool.stop().await;
    Ok(())
}

// ------------------------------------------------------------------ the run

async fn run(bootstrap: &str) -> Result<(), BoxError> {
    let suffix = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let topic = format!("worker-pool-{suffix}");
    let group = format!("worker-pool-group-{suffix}");
    let admin = AdminClient::connect(AdminConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("client.id", "worker-pool-admin"),
    ])?)
    .await?;
    let created = admin
        .create_topics([NewTopic::new(&topic, PARTITIONS, 1)], Default::default())
        .await?;
    if let Some(Err(e)) = created.per_topic.get(&topic) {
        return Err(e.clone().into());
    }
    println!("created topic {topic} with {PARTITIONS} partitions");

    let producer: Producer<String, String> = Producer::new(ProducerConfig::from_properties([
        ("bootstrap.servers", bootstrap),
        ("client.id", "worker-pool-producer"),
        ("linger.ms", "5"),
    ])?)
    .await?;
    let mut acks = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let rec = ProducerRecord::new(
            &topic,
            Some(format!("key-{}", i % 60)),
            format!("event-{i}"),
        );
        acks.push(producer.send(rec).await?);
    }
    for a in acks {
        a.await?;
    }
    producer.close(Duration::from_secs(10)).await?;
    println!("{} produced {RECORDS} records", t());

    let started = Instant::now();
    let stats = Arc::new(Stats::default());
    let stop = Arc::new(AtomicBool::new(false));
    let spawn = |name: &str| {
        tokio::spawn(member(
            name.to_string(),
            bootstrap.to_string(),
            topic.clone(),
            group.clone(),
            stop.clone(),
            stats.clone(),
        ))
    };
    let a = spawn("pool-a");
    let wait_for = |n: usize, what: &'static str| {
        let stats = stats.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(90);
            while stats.unique.load(Ordering::SeqCst) < n {
                if Instant::now() > deadline {
                    return Err::<(), BoxError>(format!("timed out waiting for {what}").into());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(())
        }
    };
    wait_for(RECORDS / 3, "the first third").await?;
    println!(
        "{} a second pool joins the group after {} records",
        t(),
        RECORDS / 3
    );
    let b = spawn("pool-b");
    let waited = wait_for(RECORDS, "every record").await;
    println!("{} every record processed; closing both pools", t());
    stop.store(true, Ordering::SeqCst);
    for (name, h) in [("pool-a", a), ("pool-b", b)] {
        match h.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("{name}: {e}").into()),
            Err(e) => return Err(format!("{name} panicked: {e}").into()),
        }
    }
    waited?;
    let elapsed = started.elapsed();

    // Summary: what was processed, and what the group committed.
    let processed = stats
        .processed
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let duplicates: u32 = processed.values().map(|n| n - 1).sum();
    let violations = stats.order_violations.load(Ordering::SeqCst);
    println!(
        "processed {} distinct records in {elapsed:?} ({duplicates} processed twice, {violations} out of order)",
        processed.len()
    );
    for (worker, n) in stats
        .per_worker
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        println!("  {worker}: {n} records");
    }
    let lag = admin.lag(&group, Options::default()).await?;
    for (tp, l) in &lag.per_partition {
        println!(
            "  committed {}-{}: {} of {}",
            tp.topic,
            tp.partition,
            l.committed,
            l.end_offset
                .as_ref()
                .map_or("?".to_string(), |e| e.to_string())
        );
    }
    admin.close();
    if processed.len() != RECORDS || violations > 0 || lag.total() != 0 {
        return Err(format!(
            "{} of {RECORDS} processed, {violations} out of order, {} left uncommitted",
            processed.len(),
            lag.total()
        )
        .into());
    }
    println!("all {RECORDS} records processed in partition order and committed (lag 0)");
    Ok(())
}

fn main() {
    START.get_or_init(Instant::now);
    examples::main_with_cluster(
        "worker-pool",
        Duration::from_secs(180),
        |bootstrap| async move { run(&bootstrap).await },
    );
}
