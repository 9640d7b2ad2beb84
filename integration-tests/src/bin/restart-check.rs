//! Idempotent-producer check across a broker restart (driven by `scripts/producer-restart-test.sh`).
//!
//! ```text
//! restart-check produce --bootstrap B --topic T --partitions P --seconds S --acked FILE
//! restart-check verify  --bootstrap B --topic T --partitions P --acked FILE
//! ```
//!
//! `produce` creates the topic, then sends for S seconds (at most ~20,000 records/s) with our
//! producer (idempotence on, acks=all, 5 in flight, a 120 s delivery timeout) to every partition
//! in turn; each value is that partition's next sequence number. It writes the acknowledged
//! `(partition, sequence)` pairs to FILE and prints how many were acked and failed.
//!
//! `verify` reads every partition from the beginning to its end offset and checks, per
//! partition: sequence numbers strictly increase (no duplicate, no reordering) and every
//! acknowledged one is present (no loss). It exits 1 when any check fails.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use kafka_admin::{AdminClient, AdminConfig, NewTopic};
use kafka_consumer::{
    AutoOffsetReset, BytesDeserializer, Consumer, ConsumerConfig, TopicPartition,
};
use kafka_producer::{Producer, ProducerConfig, ProducerRecord};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Args {
    bootstrap: String,
    topic: String,
    partitions: i32,
    seconds: u64,
    acked: String,
}

fn parse(args: &[String]) -> Result<Args, BoxError> {
    let mut a = Args {
        bootstrap: String::new(),
        topic: String::new(),
        partitions: 6,
        seconds: 20,
        acked: String::new(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--bootstrap" => a.bootstrap = v.clone(),
            "--topic" => a.topic = v.clone(),
            "--partitions" => a.partitions = v.parse()?,
            "--seconds" => a.seconds = v.parse()?,
            "--acked" => a.acked = v.clone(),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    if a.bootstrap.is_empty() || a.topic.is_empty() || a.acked.is_empty() || a.partitions < 1 {
        return Err("--bootstrap, --topic, --acked and --partitions >= 1 are required".into());
    }
    Ok(a)
}

async fn produce(a: &Args) -> Result<bool, BoxError> {
    let admin = AdminClient::connect(AdminConfig::from_properties([(
        "bootstrap.servers",
        a.bootstrap.as_str(),
    )])?)
    .await?;
    let created = admin
        .create_topics(
            [NewTopic::new(a.topic.clone(), a.partitions, 1)],
            Default::default(),
        )
        .await?;
    if let Some(Err(e)) = created.per_topic.get(&a.topic) {
        return Err(format!("create topic {}: {e}", a.topic).into());
    }
    admin.close();

    let producer: Producer<Vec<u8>, Vec<u8>> = Producer::new(ProducerConfig::from_properties([
        ("bootstrap.servers", a.bootstrap.as_str()),
        ("client.id", "restart-check"),
        ("enable.idempotence", "true"),
        ("acks", "all"),
        ("max.in.flight.requests.per.connection", "5"),
        ("linger.ms", "5"),
        ("delivery.timeout.ms", "120000"),
        ("request.timeout.ms", "10000"),
    ])?)
    .await?;
    let mut next_seq = vec![0u64; a.partitions as usize];
    let mut pending = VecDeque::new();
    let mut acked: BTreeMap<i32, Vec<u64>> = BTreeMap::new();
    let mut failed = 0u64;
    let mut first_error: Option<String> = None;
    let end = Instant::now() + Duration::from_secs(a.seconds);
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut p = 0i32;
    let mut settle = |r: Result<kafka_producer::RecordMetadata, kafka_producer::ProducerError>,
                      part: i32,
                      seq: u64| match r {
        Ok(_) => acked.entry(part).or_default().push(seq),
        Err(e) => {
            failed += 1;
            first_error.get_or_insert_with(|| e.to_string());
        }
    };
    while Instant::now() < end {
        tick.tick().await;
        for _ in 0..20 {
            let seq = next_seq[p as usize];
            next_seq[p as usize] += 1;
            let rec =
                ProducerRecord::new(&a.topic, None, seq.to_string().into_bytes()).with_partition(p);
            pending.push_back((p, seq, producer.send(rec).await?));
            p = (p + 1) % a.partitions;
        }
        while pending.len() > 20_000 {
            if let Some((part, seq, fut)) = pending.pop_front() {
                settle(fut.await, part, seq);
            }
        }
    }
    while let Some((part, seq, fut)) = pending.pop_front() {
        settle(fut.await, part, seq);
    }
    producer.close(Duration::from_secs(30)).await?;
    let mut out = String::new();
    let mut n = 0usize;
    for (part, seqs) in &acked {
        for s in seqs {
            out.push_str(&format!("{part} {s}\n"));
            n += 1;
        }
    }
    std::fs::write(&a.acked, out)?;
    let sent: u64 = next_seq.iter().sum();
    println!("produce: sent={sent} acked={n} failed={failed}");
    if let Some(e) = first_error {
        println!("produce: first delivery error: {e}");
    }
    Ok(true)
}

async fn verify(a: &Args) -> Result<bool, BoxError> {
    let mut acked: BTreeMap<i32, BTreeSet<u64>> = BTreeMap::new();
    for line in std::fs::read_to_string(&a.acked)?.lines() {
        let mut f = line.split_whitespace();
        let (Some(p), Some(s)) = (f.next(), f.next()) else {
            return Err(format!("bad line in {}: {line}", a.acked).into());
        };
        acked.entry(p.parse()?).or_default().insert(s.parse()?);
    }
    let cfg = ConsumerConfig::builder()
        .bootstrap_servers(a.bootstrap.as_str())
        .client_id("restart-check-verify")
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()?;
    let mut c = Consumer::with_deserializers(cfg, BytesDeserializer, BytesDeserializer).await?;
    let tps: Vec<TopicPartition> = (0..a.partitions)
        .map(|p| TopicPartition::new(a.topic.clone(), p))
        .collect();
    c.assign(tps.clone()).await?;
    c.seek_to_beginning(&tps)?;
    let ends = c.end_offsets(&tps).await?;
    let mut remaining: BTreeMap<i32, i64> = ends.iter().map(|(tp, e)| (tp.partition, *e)).collect();
    let mut last: BTreeMap<i32, u64> = BTreeMap::new();
    let mut seen: BTreeMap<i32, BTreeSet<u64>> = BTreeMap::new();
    let (mut dups, mut reorders, mut bad) = (0u64, 0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(120);
    // `remaining` holds each partition's end offset until the record just before it is read.
    while remaining.values().any(|e| *e > 0) {
        if Instant::now() > deadline {
            return Err("verify: could not read every partition to its end within 120 s".into());
        }
        for r in c.poll(Duration::from_millis(500)).await? {
            let Some(s) = r
                .value
                .as_deref()
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.parse::<u64>().ok())
            else {
                bad += 1;
                continue;
            };
            let set = seen.entry(r.partition).or_default();
            if !set.insert(s) {
                dups += 1;
            }
            if let Some(prev) = last.get(&r.partition)
                && s <= *prev
            {
                reorders += 1;
            }
            last.insert(r.partition, s);
            if r.offset + 1 >= remaining.get(&r.partition).copied().unwrap_or(0) {
                remaining.insert(r.partition, 0);
            }
        }
    }
    let mut missing = 0usize;
    for (p, want) in &acked {
        let got = seen.get(p);
        let m = want
            .iter()
            .filter(|s| !got.is_some_and(|g| g.contains(s)))
            .count();
        if m > 0 {
            println!("verify: partition {p}: {m} acknowledged records missing");
        }
        missing += m;
    }
    let consumed: usize = seen.values().map(BTreeSet::len).sum();
    let n_acked: usize = acked.values().map(BTreeSet::len).sum();
    println!(
        "verify: acked={n_acked} consumed={consumed} lost={missing} duplicates={dups} \
         out_of_order={reorders} unreadable={bad}"
    );
    c.close().await?;
    Ok(missing == 0 && dups == 0 && reorders == 0 && bad == 0 && n_acked > 0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, rest) = match args.get(1) {
        Some(m) => (m.as_str(), &args[2..]),
        None => {
            eprintln!("usage: restart-check produce|verify --bootstrap B --topic T ...");
            std::process::exit(2);
        }
    };
    let parsed = match parse(rest) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("restart-check: {e}");
            std::process::exit(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("restart-check: runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = rt.block_on(async {
        match mode {
            "produce" => produce(&parsed).await,
            "verify" => verify(&parsed).await,
            other => Err(format!("unknown mode {other}").into()),
        }
    });
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("restart-check {mode}: {e}");
            std::process::exit(1);
        }
    }
}
