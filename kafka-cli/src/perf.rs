//! `kafka perf produce|consume`: throughput and latency, human summary or one JSON line.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafka_admin::NewTopic;
use kafka_producer::{Producer, ProducerRecord};
use kafka_protocol::ErrorCode;

use clap::{Args, Subcommand};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kafka_consumer::Consumer;

use crate::common::{CliError, CliResult, Global, failed};
use crate::consume::{consumer_config, partitions_of};
use crate::produce::{AcksArg, Codec, producer_config};

/// Perf commands.
#[derive(Subcommand, Debug)]
pub(crate) enum PerfCmd {
    /// Consumer throughput, like kafka-consumer-perf-test: reads N records from the beginning
    /// of every partition and reports records/s, MiB/s and record age percentiles.
    Consume(PerfConsumeArgs),
    /// Producer throughput and latency, like kafka-producer-perf-test: sends N records of a
    /// given size and reports records/s, MiB/s and send-to-ack latency p50/p99/p99.9.
    Produce(PerfProduceArgs),
}

/// `kafka perf produce` flags.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  kafka perf produce --topic bench --records 1000000 --size 100
  kafka perf produce --topic bench --records 100000 --size 1024 --acks 1 --compression lz4 --throughput 50000
  # the JSON line of ../shared/bench (OURS_PRODUCE_CMD):
  kafka perf produce -b {bootstrap} --topic {topic} --records {records} --size {size} --acks {acks} --partitions {partitions} --json")]
pub(crate) struct PerfProduceArgs {
    /// Topic (created with --partitions when missing).
    #[arg(long, short = 't')]
    topic: String,
    /// Records to send.
    #[arg(long, alias = "num-records", short = 'n')]
    records: u64,
    /// Value size in bytes.
    #[arg(long, alias = "record-size", default_value_t = 100)]
    size: usize,
    /// Partitions of the topic when it has to be created.
    #[arg(long, default_value_t = 6)]
    partitions: i32,
    /// Acknowledgements.
    #[arg(long, value_enum, default_value_t = AcksArg::All)]
    acks: AcksArg,
    /// Compression codec.
    #[arg(long, short = 'z', value_enum, default_value_t = Codec::None)]
    compression: Codec,
    /// batch.size in bytes (1,000,000 like the shared bench's peers).
    #[arg(long, default_value_t = 1_000_000)]
    batch_size: usize,
    /// linger.ms.
    #[arg(long, default_value_t = 5)]
    linger_ms: u64,
    /// Records per second to aim for (-1: as fast as possible).
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    throughput: i64,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_s: u64,
    /// Print one JSON line (the shared bench format, plus p999_ms) instead of the summary.
    #[arg(long)]
    json: bool,
    /// A producer setting `key=value`; repeatable.
    #[arg(long = "property", short = 'X', value_name = "KEY=VALUE", value_parser = crate::common::key_value)]
    properties: Vec<(String, String)>,
    /// Accepted for the bench driver's templates and ignored.
    #[arg(long, hide = true)]
    mode: Option<String>,
}

/// `kafka perf consume` flags.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  kafka perf consume --topic bench --messages 1000000
  kafka perf consume --topic bench --messages 1000000 --group perf-1
  # the JSON line of ../shared/bench (OURS_CONSUME_CMD):
  kafka perf consume -b {bootstrap} --topic {topic} --messages {records} --size {size} --json")]
pub(crate) struct PerfConsumeArgs {
    /// Topic to read.
    #[arg(long, short = 't')]
    topic: String,
    /// Records to read.
    #[arg(long, alias = "records", short = 'n')]
    messages: u64,
    /// Read as a member of this group (default: manual assignment of every partition).
    #[arg(long, short = 'g')]
    group: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_s: u64,
    /// Record size to report in the JSON line (the bench driver passes it).
    #[arg(long, default_value_t = 0)]
    size: usize,
    /// Print one JSON line (the shared bench format) instead of the human summary.
    #[arg(long)]
    json: bool,
    /// A consumer setting `key=value`; repeatable.
    #[arg(long = "property", short = 'X', value_name = "KEY=VALUE", value_parser = crate::common::key_value)]
    properties: Vec<(String, String)>,
    /// Accepted for the bench driver's templates and ignored.
    #[arg(long, hide = true)]
    acks: Option<String>,
    /// Accepted for the bench driver's templates and ignored.
    #[arg(long, hide = true)]
    partitions: Option<i32>,
}

pub(crate) async fn run(g: &Global, cmd: PerfCmd) -> CliResult {
    match cmd {
        PerfCmd::Consume(a) => consume(g, a).await,
        PerfCmd::Produce(a) => produce(g, a).await,
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn bar(total: u64, hidden: bool) -> ProgressBar {
    let pb = ProgressBar::new(total);
    if hidden {
        pb.set_draw_target(ProgressDrawTarget::hidden());
    } else {
        pb.set_draw_target(ProgressDrawTarget::stderr());
    }
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} records ({per_sec}, eta {eta})",
    ) {
        pb.set_style(style);
    }
    pb
}

async fn consume(g: &Global, a: PerfConsumeArgs) -> CliResult {
    if a.messages == 0 {
        return Err(CliError::Usage("--messages must be at least 1".into()));
    }
    let mut implied = vec![
        ("auto.offset.reset", "earliest"),
        ("client.id", "kafka-cli-perf"),
        ("max.poll.records", "10000"),
        ("max.partition.fetch.bytes", "4194304"),
    ];
    if let Some(gid) = &a.group {
        implied.push(("group.id", gid.as_str()));
    }
    let cfg = consumer_config(g, &a.properties, &implied)?;
    let t0 = Instant::now();
    let mut c = Consumer::new(cfg)
        .await
        .map_err(|e| failed(&format!("cannot connect to {}", g.bootstrap_server), e))?;
    if a.group.is_some() {
        c.subscribe([a.topic.clone()])
            .await
            .map_err(|e| failed("subscribing", e))?;
    } else {
        let tps = partitions_of(&c, &a.topic).await?;
        c.assign(tps.clone())
            .await
            .map_err(|e| failed("assigning", e))?;
        c.seek_to_beginning(&tps)
            .map_err(|e| failed("seeking", e))?;
    }
    let pb = bar(a.messages, a.json);
    let deadline = Instant::now() + Duration::from_secs(a.timeout_s);
    let mut hist = Histogram::<u64>::new_with_bounds(1, 3_600_000, 3)
        .map_err(|e| CliError::Failed(format!("histogram: {e}")))?;
    let (mut n, mut bytes) = (0u64, 0u64);
    let mut first: Option<Instant> = None;
    let mut polls = 0u64;
    while n < a.messages {
        if Instant::now() > deadline {
            pb.abandon();
            let _ = c.close().await;
            return Err(CliError::Failed(format!(
                "timed out after {} s with {n} of {} records",
                a.timeout_s, a.messages
            )));
        }
        let recs = c
            .poll(Duration::from_millis(100))
            .await
            .map_err(|e| failed("polling", e))?;
        polls += 1;
        if recs.is_empty() {
            continue;
        }
        first.get_or_insert_with(Instant::now);
        let now = now_ms();
        for r in &recs {
            if n >= a.messages {
                break;
            }
            n += 1;
            bytes += r.value.as_ref().map_or(0, |v| v.len() as u64);
            if r.timestamp >= 0 {
                let _ = hist.record((now - r.timestamp).max(1) as u64);
            }
        }
        pb.set_position(n);
    }
    pb.finish_and_clear();
    let secs = first.map_or(0.0, |s| s.elapsed().as_secs_f64()).max(1e-9);
    let total = t0.elapsed().as_secs_f64();
    let rps = n as f64 / secs;
    let mbps = bytes as f64 / (1024.0 * 1024.0) / secs;
    let _ = tokio::time::timeout(Duration::from_secs(10), c.close()).await;
    if a.json {
        println!(
            "{{\"client\":\"ours\",\"mode\":\"consume\",\"records\":{n},\"bytes\":{bytes},\"size\":{},\
             \"acks\":\"{}\",\"seconds\":{secs:.4},\"records_per_s\":{rps:.1},\"mb_per_s\":{mbps:.3},\
             \"p50_ms\":null,\"p99_ms\":null}}",
            a.size,
            a.acks.as_deref().unwrap_or("all")
        );
    } else {
        println!("records:        {n}");
        println!(
            "bytes:          {bytes} ({:.3} MiB)",
            bytes as f64 / (1024.0 * 1024.0)
        );
        println!(
            "time:           {secs:.3} s from the first record ({total:.3} s with connecting, {polls} polls)"
        );
        println!("throughput:     {rps:.1} records/s, {mbps:.3} MiB/s");
        if !hist.is_empty() {
            println!(
                "record age ms:  p50 {} p99 {} p99.9 {} max {} (now - record timestamp)",
                hist.value_at_quantile(0.50),
                hist.value_at_quantile(0.99),
                hist.value_at_quantile(0.999),
                hist.max()
            );
        }
    }
    Ok(())
}

async fn ensure_topic(g: &Global, topic: &str, partitions: i32) -> CliResult {
    let admin = g.admin().await?;
    let t = NewTopic::new(topic, partitions, 1);
    let r = admin
        .create_topics([t], Default::default())
        .await
        .map_err(|e| failed("creating the topic", e));
    admin.close();
    match r?.per_topic.into_iter().next() {
        Some((_, Err(e))) if e.error_code() != Some(ErrorCode::TopicAlreadyExists) => {
            Err(failed(&format!("creating topic {topic}"), e))
        }
        _ => Ok(()),
    }
}

/// What `perf produce`'s delivery callbacks record: a latency slot per record (microseconds, 0
/// until acknowledged) so that a callback takes no lock; the histogram is built at the end.
struct ProduceStats {
    latency_us: Vec<AtomicU32>,
    acked: AtomicU64,
    errors: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ProduceStats {
    fn record(&self, i: usize, sent: Instant, err: Option<kafka_producer::ProducerError>) {
        match err {
            None => {
                let us = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
                if let Some(slot) = self.latency_us.get(i) {
                    slot.store(us.max(1), Ordering::Relaxed);
                }
                self.acked.fetch_add(1, Ordering::Relaxed);
            }
            Some(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut f) = self.first_error.lock()
                    && f.is_none()
                {
                    *f = Some(e.to_string());
                }
            }
        }
    }

    fn histogram(&self) -> Result<Histogram<u64>, CliError> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)
            .map_err(|e| CliError::Failed(format!("histogram: {e}")))?;
        for us in &self.latency_us {
            let v = us.load(Ordering::Relaxed);
            if v > 0 {
                let _ = h.record(u64::from(v));
            }
        }
        Ok(h)
    }
}

async fn produce(g: &Global, a: PerfProduceArgs) -> CliResult {
    if a.records == 0 {
        return Err(CliError::Usage("--records must be at least 1".into()));
    }
    ensure_topic(g, &a.topic, a.partitions).await?;
    let cfg = producer_config(
        g,
        &[
            ("acks", a.acks.name().to_string()),
            ("compression.type", a.compression.name().to_string()),
            ("batch.size", a.batch_size.to_string()),
            ("linger.ms", a.linger_ms.to_string()),
            ("client.id", "kafka-cli-perf".to_string()),
        ],
        &a.properties,
    )?;
    let producer: Producer<Bytes, Bytes> = Producer::new(cfg)
        .await
        .map_err(|e| failed(&format!("cannot connect to {}", g.bootstrap_server), e))?;
    let payload = Bytes::from(
        (0..a.size)
            .map(|i| b'a' + (i % 23) as u8)
            .collect::<Vec<u8>>(),
    );
    // Warm-up: metadata, connections, producer id (excluded from the timing, as the peers do).
    let warm = async {
        producer
            .send(ProducerRecord::new(&a.topic, None, payload.clone()))
            .await?
            .await
    };
    tokio::time::timeout(Duration::from_secs(60), warm)
        .await
        .map_err(|_| {
            CliError::Failed("the warm-up record was not acknowledged within 60 s".into())
        })?
        .map_err(|e| failed("warm-up record", e))?;

    let stats = Arc::new(ProduceStats {
        latency_us: (0..a.records).map(|_| AtomicU32::new(0)).collect(),
        acked: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        first_error: Mutex::new(None),
    });
    let acked = &stats.acked;
    let pb = bar(a.records, a.json);
    let start = Instant::now();
    let run = async {
        for i in 0..a.records {
            if a.throughput > 0 {
                let due = start + Duration::from_secs_f64(i as f64 / a.throughput as f64);
                if due > Instant::now() {
                    tokio::time::sleep_until(due.into()).await;
                }
            }
            let st = stats.clone();
            let sent = Instant::now();
            producer
                .send_with_callback(
                    ProducerRecord::new(&a.topic, None, payload.clone()),
                    move |r| st.record(i as usize, sent, r.err()),
                )
                .await
                .map_err(|e| failed("sending", e))?;
            if i % 4096 == 0 {
                pb.set_position(acked.load(Ordering::Relaxed));
            }
        }
        producer.flush().await;
        Ok::<(), CliError>(())
    };
    match tokio::time::timeout(Duration::from_secs(a.timeout_s), run).await {
        Ok(r) => r?,
        Err(_) => {
            pb.abandon();
            return Err(CliError::Failed(format!(
                "timed out after {} s with {} of {} records acknowledged",
                a.timeout_s,
                acked.load(Ordering::Relaxed),
                a.records
            )));
        }
    }
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    pb.finish_and_clear();
    let _ = producer.close(Duration::from_secs(10)).await;
    let failed_n = stats.errors.load(Ordering::Relaxed);
    if failed_n > 0 {
        let first = stats
            .first_error
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .unwrap_or_default();
        return Err(CliError::Failed(format!(
            "{failed_n} record(s) failed, first: {first}"
        )));
    }
    let n = a.records;
    let bytes = n * a.size as u64;
    let rps = n as f64 / secs;
    let mbps = bytes as f64 / (1024.0 * 1024.0) / secs;
    let hist = stats.histogram()?;
    let (p50, p99, p999, max) = match Some(&hist) {
        Some(h) if !h.is_empty() => (
            h.value_at_quantile(0.50) as f64 / 1000.0,
            h.value_at_quantile(0.99) as f64 / 1000.0,
            h.value_at_quantile(0.999) as f64 / 1000.0,
            h.max() as f64 / 1000.0,
        ),
        _ => (f64::NAN, f64::NAN, f64::NAN, f64::NAN),
    };
    let num = |x: f64| {
        if x.is_finite() {
            format!("{x:.3}")
        } else {
            "null".into()
        }
    };
    if a.json {
        println!(
            "{{\"client\":\"ours\",\"mode\":\"produce\",\"records\":{n},\"bytes\":{bytes},\"size\":{},\
             \"acks\":\"{}\",\"seconds\":{secs:.4},\"records_per_s\":{rps:.1},\"mb_per_s\":{mbps:.3},\
             \"p50_ms\":{},\"p99_ms\":{},\"p999_ms\":{}}}",
            a.size,
            a.acks.name(),
            num(p50),
            num(p99),
            num(p999)
        );
    } else {
        println!(
            "records:        {n} x {} B, acks={}, compression={}",
            a.size,
            a.acks.name(),
            a.compression.name()
        );
        println!("time:           {secs:.3} s (after one warm-up record, until flush returned)");
        println!("throughput:     {rps:.1} records/s, {mbps:.3} MiB/s");
        println!(
            "latency ms:     p50 {} p99 {} p99.9 {} max {} (send to acknowledgement)",
            num(p50),
            num(p99),
            num(p999),
            num(max)
        );
    }
    Ok(())
}
