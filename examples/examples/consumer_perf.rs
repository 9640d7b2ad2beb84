//! Consumer throughput: reads `--records` records from every partition of `--topic` (no group,
//! from the beginning) and prints one JSON line in the format of `../shared/bench` (records/s and
//! MiB/s of values, timed from the first record to the N-th).
//!
//! ```sh
//! cargo run --release -p examples --example consumer_perf -- \
//!   --bootstrap 127.0.0.1:9092 --topic t --records 1000000 --size 100
//! ```
//!
//! Accepts (and ignores) the bench driver's `--acks`, `--mode` and `--partitions` flags.

use std::time::{Duration, Instant};

use kafka_consumer::{AutoOffsetReset, Consumer, ConsumerConfig, TopicPartition};

struct Args {
    bootstrap: String,
    topic: String,
    records: u64,
    size: usize,
    timeout: Duration,
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("[ours] FAILED: {msg}");
    std::process::exit(1)
}

fn parse() -> Args {
    let mut a = Args {
        bootstrap: String::new(),
        topic: String::new(),
        records: 0,
        size: 0,
        timeout: Duration::from_secs(300),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let val = it
            .next()
            .unwrap_or_else(|| fail(format!("{flag} needs a value")));
        match flag.as_str() {
            "--bootstrap" => a.bootstrap = val,
            "--topic" => a.topic = val,
            "--records" => a.records = val.parse().unwrap_or_else(|_| fail("bad --records")),
            "--size" => a.size = val.parse().unwrap_or_else(|_| fail("bad --size")),
            "--timeout-s" => {
                a.timeout =
                    Duration::from_secs(val.parse().unwrap_or_else(|_| fail("bad --timeout-s")))
            }
            "--acks" | "--mode" | "--partitions" => {}
            other => fail(format!("unknown flag {other}")),
        }
    }
    if a.bootstrap.is_empty() || a.topic.is_empty() || a.records == 0 {
        fail("--bootstrap, --topic and --records are required");
    }
    a
}

fn main() {
    let args = parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(e));
    rt.block_on(run(args));
}

async fn run(a: Args) {
    let cfg = ConsumerConfig::builder()
        .bootstrap_servers(a.bootstrap.clone())
        .client_id("consumer-perf")
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .max_poll_records(10_000)
        .max_partition_fetch_bytes(4 * 1024 * 1024)
        .check_crcs(true)
        .build()
        .unwrap_or_else(|e| fail(e));
    let mut c = Consumer::new(cfg).await.unwrap_or_else(|e| fail(e));
    let md = c
        .client()
        .refresh_metadata([a.topic.clone()])
        .await
        .unwrap_or_else(|e| fail(e));
    let parts = md.topic(&a.topic).map_or(0, |t| t.partitions.len()) as i32;
    if parts == 0 {
        fail(format!("topic {} has no partitions", a.topic));
    }
    c.assign((0..parts).map(|p| TopicPartition::new(a.topic.clone(), p)))
        .await
        .unwrap_or_else(|e| fail(e));
    let deadline = Instant::now() + a.timeout;
    let mut start = None;
    let (mut n, mut bytes) = (0u64, 0u64);
    while n < a.records {
        if Instant::now() > deadline {
            fail(format!("timeout after {n} of {} records", a.records));
        }
        let recs = c
            .poll(Duration::from_millis(100))
            .await
            .unwrap_or_else(|e| fail(e));
        if !recs.is_empty() {
            start.get_or_insert_with(Instant::now);
        }
        for r in &recs {
            n += 1;
            bytes += r.value.as_ref().map_or(0, |v| v.len() as u64);
        }
    }
    let secs = start.map_or(0.0, |s| s.elapsed().as_secs_f64()).max(1e-9);
    let rps = n as f64 / secs;
    let mbps = bytes as f64 / (1024.0 * 1024.0) / secs;
    println!(
        "{{\"client\":\"ours\",\"mode\":\"consume\",\"records\":{n},\"bytes\":{bytes},\"size\":{},\
         \"acks\":\"all\",\"seconds\":{secs:.4},\"records_per_s\":{rps:.1},\"mb_per_s\":{mbps:.3},\
         \"p50_ms\":null,\"p99_ms\":null}}",
        a.size
    );
    let _ = c.close().await;
}
