//! Producer throughput and latency, printing one JSON line in the format of the side-by-side
//! benchmark (`../shared/bench`, `OURS_PRODUCE_CMD`):
//!
//! ```text
//! cargo run --release -p examples --example producer_perf -- \
//!     --bootstrap 127.0.0.1:9092 --topic perf --records 1000000 --size 100 --acks all --partitions 6
//! ```
//!
//! Flags: `--bootstrap --topic --records --size --acks all|1|0 --partitions P` (topic created
//! with P partitions when missing), optional `--batch-size B` (1,000,000 like the peers),
//! `--linger-ms L` (5), `--compression none|gzip|snappy|lz4|zstd`, `--timeout-s S`,
//! `--latency-every N` (16), `--property key=value` (any producer property by its Java name,
//! repeatable) and `--mode produce` (accepted for the driver's template).
//!
//! Timing starts after one warm-up record is acknowledged (connect, metadata and producer id
//! excluded) and ends when `flush` returns. Latency is measured from `send` to the record's
//! acknowledgement (delivery callback) on every N-th record (records 0, N, 2N, ...: a
//! systematic sample spread evenly over the run; `--latency-every 1` times every record), and
//! p50/p99 are those of the sample; the JSON line says how many records were timed
//! (`latency_samples`) and N (`latency_every`). Every record's outcome is checked. The send
//! loop reuses one [`Topic`] and one payload `Bytes`, as an application sending to one topic
//! would. Diagnostics go to stderr.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_client::{Client, ClientConfig, Target};
use kafka_producer::config::ProducerConfig;
use kafka_producer::{Producer, ProducerRecord, Topic};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::CreateTopicsRequest;
use kafka_protocol::messages::create_topics_request::CreatableTopic;

struct Args {
    bootstrap: String,
    topic: String,
    records: u64,
    size: usize,
    acks: String,
    partitions: i32,
    batch_size: usize,
    linger_ms: u64,
    /// Extra producer properties (`--property k=v`, repeatable).
    props: Vec<(String, String)>,
    compression: String,
    timeout: Duration,
    latency_every: u64,
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "error: {msg}\nusage: producer_perf --bootstrap H:P --topic T --records N --size B \
         [--acks all|1|0] [--partitions P] [--batch-size B] [--linger-ms L] \
         [--compression C] [--timeout-s S] [--property k=v] [--latency-every N]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        bootstrap: String::new(),
        topic: String::new(),
        records: 0,
        size: 0,
        acks: "all".into(),
        partitions: 6,
        batch_size: 1_000_000,
        linger_ms: 5,
        props: Vec::new(),
        compression: "none".into(),
        timeout: Duration::from_secs(300),
        latency_every: 16,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let num = |v: &str| -> u64 { v.parse().unwrap_or_else(|_| usage(&format!("bad {flag}"))) };
        match flag.as_str() {
            "--bootstrap" => a.bootstrap = v,
            "--topic" => a.topic = v,
            "--records" => a.records = num(&v),
            "--size" => a.size = num(&v) as usize,
            "--acks" => a.acks = v,
            "--partitions" => a.partitions = num(&v) as i32,
            "--batch-size" => a.batch_size = num(&v) as usize,
            "--linger-ms" => a.linger_ms = num(&v),
            "--property" => match v.split_once('=') {
                Some((k, val)) => a.props.push((k.to_string(), val.to_string())),
                None => usage("--property needs key=value"),
            },
            "--compression" => a.compression = v,
            "--timeout-s" => a.timeout = Duration::from_secs(num(&v)),
            "--latency-every" => a.latency_every = num(&v).max(1),
            "--mode" if v == "produce" => {}
            other => usage(&format!("unknown flag {other}")),
        }
    }
    if a.bootstrap.is_empty() || a.topic.is_empty() || a.records == 0 {
        usage("--bootstrap, --topic and --records are required");
    }
    a
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("[ours] FAILED: {msg}");
    std::process::exit(1)
}

async fn ensure_topic(a: &Args) {
    let cfg = ClientConfig::builder()
        .bootstrap_servers(a.bootstrap.clone())
        .build()
        .unwrap_or_else(|e| fail(e));
    let client = Client::connect(cfg).await.unwrap_or_else(|e| fail(e));
    let resp = client
        .send(
            Target::Controller,
            CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: a.topic.clone(),
                    num_partitions: a.partitions,
                    replication_factor: 1,
                    ..Default::default()
                }],
                timeout_ms: 30_000,
                ..Default::default()
            },
        )
        .await
        .unwrap_or_else(|e| fail(e));
    let code = resp
        .topics
        .first()
        .map_or(ErrorCode::None, |t| ErrorCode::from_i16(t.error_code));
    if !matches!(code, ErrorCode::None | ErrorCode::TopicAlreadyExists) {
        fail(format!("create topic: {code:?}"));
    }
    client.close();
}

/// Send-to-acknowledgement latency in µs of every `--latency-every`-th record (0 = not yet).
static LATENCIES: OnceLock<Vec<AtomicU32>> = OnceLock::new();
/// Records that failed.
static ERRORS: AtomicU64 = AtomicU64::new(0);

fn percentile_ms(sorted_us: &[u32], p: f64) -> Option<f64> {
    if sorted_us.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    let idx = rank.clamp(1, sorted_us.len()) - 1;
    Some(f64::from(sorted_us[idx]) / 1000.0)
}

#[tokio::main]
async fn main() {
    let a = parse_args();
    ensure_topic(&a).await;
    let mut props: Vec<(String, String)> = [
        ("bootstrap.servers", a.bootstrap.clone()),
        ("acks", a.acks.clone()),
        ("linger.ms", a.linger_ms.to_string()),
        ("batch.size", a.batch_size.to_string()),
        ("compression.type", a.compression.clone()),
        ("client.id", "producer-perf".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    props.extend(a.props.iter().cloned());
    let cfg = ProducerConfig::from_properties(props).unwrap_or_else(|e| fail(e));
    let producer: Producer<Bytes, Bytes> = Producer::new(cfg).await.unwrap_or_else(|e| fail(e));
    let payload = Bytes::from(
        (0..a.size)
            .map(|i| b'a' + (i % 23) as u8)
            .collect::<Vec<u8>>(),
    );
    // Warm-up: metadata, connections, producer id.
    producer
        .send(ProducerRecord::new(&a.topic, None, payload.clone()))
        .await
        .unwrap_or_else(|e| fail(e))
        .await
        .unwrap_or_else(|e| fail(e));

    let n = a.records;
    let every = a.latency_every;
    // Shared with the callbacks through statics, so a callback captures only its own send
    // time and slot (no reference counts touched per record).
    let latencies =
        LATENCIES.get_or_init(|| (0..n.div_ceil(every)).map(|_| AtomicU32::new(0)).collect());
    let topic = Topic::from(&a.topic);
    let start = Instant::now();
    let run = async {
        for i in 0..n {
            let timed = (i % every == 0).then(|| (Instant::now(), (i / every) as usize));
            producer
                .send_with_callback(
                    ProducerRecord::new(topic.clone(), None, payload.clone()),
                    move |r| match r {
                        Ok(_) => {
                            if let Some((sent, slot)) = timed {
                                let us =
                                    sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                                if let Some(l) = LATENCIES.get().and_then(|l| l.get(slot)) {
                                    l.store(us.max(1), Ordering::Relaxed);
                                }
                            }
                        }
                        Err(e) => {
                            if ERRORS.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!("[ours] record failed: {e}");
                            }
                        }
                    },
                )
                .await
                .unwrap_or_else(|e| fail(e));
        }
        producer.flush().await;
    };
    if tokio::time::timeout(a.timeout, run).await.is_err() {
        fail("timed out");
    }
    let seconds = start.elapsed().as_secs_f64();
    let failed = ERRORS.load(Ordering::Relaxed);
    if failed > 0 {
        fail(format!("{failed} records failed"));
    }
    let _ = producer.close(Duration::from_secs(10)).await;
    let mut v: Vec<u32> = latencies
        .iter()
        .map(|l| l.load(Ordering::Relaxed))
        .filter(|l| *l > 0)
        .collect();
    v.sort_unstable();
    let num = |x: Option<f64>| x.map_or("null".to_string(), |x| format!("{x:.3}"));
    let bytes = n * a.size as u64;
    let acks = if a.acks == "-1" {
        "all"
    } else {
        a.acks.as_str()
    };
    println!(
        "{{\"client\":\"ours\",\"mode\":\"produce\",\"records\":{n},\"bytes\":{bytes},\
         \"size\":{},\"acks\":\"{acks}\",\"seconds\":{seconds:.4},\"records_per_s\":{:.1},\
         \"mb_per_s\":{:.3},\"p50_ms\":{},\"p99_ms\":{},\"latency_every\":{every},\
         \"latency_samples\":{}}}",
        a.size,
        n as f64 / seconds,
        bytes as f64 / (1024.0 * 1024.0) / seconds,
        num(percentile_ms(&v, 50.0)),
        num(percentile_ms(&v, 99.0)),
        v.len(),
    );
}
