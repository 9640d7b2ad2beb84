//! `kafka perf consume` (and, once the producer engine lands, `kafka perf produce`).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kafka_consumer::Consumer;

use crate::common::{CliError, CliResult, Global, failed};
use crate::consume::{consumer_config, partitions_of};

/// Perf commands.
#[derive(Subcommand, Debug)]
pub(crate) enum PerfCmd {
    /// Consumer throughput, like kafka-consumer-perf-test: reads N records from the beginning
    /// of every partition and reports records/s, MiB/s and record age percentiles.
    Consume(PerfConsumeArgs),
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
        c.subscribe([a.topic.clone()]).await.map_err(|e| failed("subscribing", e))?;
    } else {
        let tps = partitions_of(&c, &a.topic).await?;
        c.assign(tps.clone()).await.map_err(|e| failed("assigning", e))?;
        c.seek_to_beginning(&tps).map_err(|e| failed("seeking", e))?;
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
        let recs = c.poll(Duration::from_millis(100)).await.map_err(|e| failed("polling", e))?;
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
        println!("bytes:          {bytes} ({:.3} MiB)", bytes as f64 / (1024.0 * 1024.0));
        println!("time:           {secs:.3} s from the first record ({total:.3} s with connecting, {polls} polls)");
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
