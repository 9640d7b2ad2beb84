//! `kafka consume`: read records to stdout (plain, JSON lines, or a kcat-like template).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Args, ValueEnum};
use kafka_consumer::{Consumer, ConsumerConfig, ConsumerRecord, TopicPartition};

use crate::common::{CliError, CliResult, Global, failed, parse_timestamp, usage};

/// Where to start reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Start {
    Beginning,
    End,
    Offset(i64),
    Timestamp(i64),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    /// The value (with --print-key: key, tab, value), one record per line.
    Plain,
    /// One JSON object per record: topic, partition, offset, timestamp, key, value, headers.
    Json,
}

/// `kafka consume` flags.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  kafka consume orders --from-beginning --exit-at-end
  kafka consume orders --group billing --max-messages 10
  kafka consume orders --partition 0 --offset 42 -o json
  kafka consume orders --timestamp 2024-05-01T00:00:00Z --exit-at-end
  kafka consume orders --from-beginning -f 'Topic %t [%p] at offset %o: key %k: %s\\n'

Template escapes (-f): %t topic, %p partition, %o offset, %k key, %s value, %h headers
(k=v,k2=v2), %T timestamp (ms), %K key size, %S value size, %% a percent sign; \\n \\t \\\\.")]
pub(crate) struct ConsumeArgs {
    /// Topic to read.
    topic: String,
    /// Consume as a member of this consumer group (subscribe; offsets are committed).
    #[arg(long, short = 'g')]
    group: Option<String>,
    /// Read only these partitions (manual assignment; repeatable; default: all).
    #[arg(long, short = 'p', conflicts_with = "group")]
    partition: Vec<i32>,
    /// Start at the beginning (with --group: when the group has no committed offset).
    #[arg(long, conflicts_with_all = ["offset", "timestamp"])]
    from_beginning: bool,
    /// Start at this offset (`beginning`, `end`, or a number) in every read partition.
    #[arg(long, conflicts_with_all = ["group", "timestamp"])]
    offset: Option<String>,
    /// Start at the first record at or after this time (ms since the epoch or a date-time).
    #[arg(long, conflicts_with = "group", value_parser = parse_timestamp)]
    timestamp: Option<i64>,
    /// Stop after this many records.
    #[arg(long, short = 'n')]
    max_messages: Option<u64>,
    /// Stop when every partition is read up to the end offset it had when reading started.
    #[arg(long, short = 'e')]
    exit_at_end: bool,
    /// Stop when no record arrived for this long (milliseconds).
    #[arg(long)]
    idle_timeout_ms: Option<u64>,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Plain)]
    output: Output,
    /// A kcat-like output template (overrides --output), e.g. '%k\t%s\n'.
    #[arg(long, short = 'f')]
    format: Option<String>,
    /// Plain output: print the key and a tab before the value.
    #[arg(long, short = 'K')]
    print_key: bool,
    /// A consumer setting `key=value` (Java names); repeatable; wins over --command-config.
    #[arg(long = "property", short = 'X', value_name = "KEY=VALUE", value_parser = crate::common::key_value)]
    properties: Vec<(String, String)>,
}

fn text(b: &Option<Bytes>) -> String {
    match b {
        Some(b) => String::from_utf8_lossy(b).into_owned(),
        None => "null".into(),
    }
}

fn json_bytes(b: &Option<Bytes>) -> serde_json::Value {
    match b {
        Some(b) => serde_json::Value::String(String::from_utf8_lossy(b).into_owned()),
        None => serde_json::Value::Null,
    }
}

/// Renders a record with a kcat-like template.
pub(crate) fn render_template(
    tpl: &str,
    r: &ConsumerRecord<Option<Bytes>, Option<Bytes>>,
) -> String {
    let mut s = String::new();
    let mut chars = tpl.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '%' => match chars.next() {
                Some('t') => s.push_str(&r.topic),
                Some('p') => s.push_str(&r.partition.to_string()),
                Some('o') => s.push_str(&r.offset.to_string()),
                Some('k') => s.push_str(&text(&r.key)),
                Some('s') => s.push_str(&text(&r.value)),
                Some('T') => s.push_str(&r.timestamp.to_string()),
                Some('K') => s.push_str(&r.serialized_key_size.to_string()),
                Some('S') => s.push_str(&r.serialized_value_size.to_string()),
                Some('h') => {
                    let hs: Vec<String> = r
                        .headers
                        .iter()
                        .map(|(k, v)| match v {
                            Some(v) => format!("{k}={}", String::from_utf8_lossy(&v)),
                            None => k.to_string(),
                        })
                        .collect();
                    s.push_str(&hs.join(","));
                }
                Some('%') => s.push('%'),
                Some(o) => {
                    s.push('%');
                    s.push(o);
                }
                None => s.push('%'),
            },
            '\\' => match chars.next() {
                Some('n') => s.push('\n'),
                Some('t') => s.push('\t'),
                Some('r') => s.push('\r'),
                Some('0') => s.push('\0'),
                Some('\\') => s.push('\\'),
                Some(o) => {
                    s.push('\\');
                    s.push(o);
                }
                None => s.push('\\'),
            },
            c => s.push(c),
        }
    }
    s
}

fn render(a: &ConsumeArgs, r: &ConsumerRecord<Option<Bytes>, Option<Bytes>>) -> String {
    if let Some(f) = &a.format {
        return render_template(f, r);
    }
    match a.output {
        Output::Plain if a.print_key => format!("{}\t{}\n", text(&r.key), text(&r.value)),
        Output::Plain => format!("{}\n", text(&r.value)),
        Output::Json => {
            let headers: Vec<serde_json::Value> = r
                .headers
                .iter()
                .map(|(k, v)| {
                    serde_json::json!({"key": k, "value": json_bytes(&v.map(|v| Bytes::copy_from_slice(&v)))})
                })
                .collect();
            let v = serde_json::json!({
                "topic": &*r.topic,
                "partition": r.partition,
                "offset": r.offset,
                "timestamp": r.timestamp,
                "key": json_bytes(&r.key),
                "value": json_bytes(&r.value),
                "headers": headers,
            });
            format!("{v}\n")
        }
    }
}

/// The consumer configuration: command-config, then -X properties, then what the flags imply.
pub(crate) fn consumer_config(
    g: &Global,
    extra: &[(String, String)],
    implied: &[(&str, &str)],
) -> CliResult<ConsumerConfig> {
    let mut props = g.properties()?;
    for (k, v) in implied {
        props.insert((*k).to_string(), (*v).to_string());
    }
    for (k, v) in extra {
        props.insert(k.clone(), v.clone());
    }
    ConsumerConfig::from_properties(props)
        .map_err(|e| usage(format!("consumer configuration: {e}")))
}

pub(crate) async fn partitions_of(c: &Consumer, topic: &str) -> CliResult<Vec<TopicPartition>> {
    let md = c
        .client()
        .refresh_metadata([topic.to_string()])
        .await
        .map_err(|e| failed(&format!("metadata of {topic}"), e))?;
    let n = md.topic(topic).map_or(0, |t| t.partitions.len());
    if n == 0 {
        return Err(CliError::Failed(format!("topic {topic} does not exist")));
    }
    Ok((0..n as i32)
        .map(|p| TopicPartition::new(topic, p))
        .collect())
}

pub(crate) async fn run(g: &Global, a: ConsumeArgs) -> CliResult {
    let start = if a.from_beginning {
        Start::Beginning
    } else if let Some(ts) = a.timestamp {
        Start::Timestamp(ts)
    } else if let Some(o) = &a.offset {
        match o.as_str() {
            "beginning" | "earliest" => Start::Beginning,
            "end" | "latest" => Start::End,
            n => Start::Offset(n.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                usage(format!(
                    "--offset `{n}`: expected beginning, end or a non-negative number"
                ))
            })?),
        }
    } else {
        Start::End
    };
    let reset = if start == Start::Beginning {
        "earliest"
    } else {
        "latest"
    };
    let mut implied = vec![
        ("auto.offset.reset", reset),
        ("client.id", "kafka-cli-consumer"),
    ];
    if let Some(gid) = &a.group {
        implied.push(("group.id", gid.as_str()));
    }
    let cfg = consumer_config(g, &a.properties, &implied)?;
    let mut c = tokio::time::timeout(g.timeout(), Consumer::new(cfg))
        .await
        .map_err(|_| {
            CliError::Failed(format!(
                "cannot reach {} within {} ms",
                g.bootstrap_server, g.timeout_ms
            ))
        })?
        .map_err(|e| failed(&format!("cannot connect to {}", g.bootstrap_server), e))?;

    if a.group.is_some() {
        c.subscribe([a.topic.clone()])
            .await
            .map_err(|e| failed("subscribing", e))?;
    } else {
        let all = partitions_of(&c, &a.topic).await?;
        let tps: Vec<TopicPartition> = if a.partition.is_empty() {
            all
        } else {
            for p in &a.partition {
                if !all.iter().any(|tp| tp.partition == *p) {
                    return Err(usage(format!(
                        "topic {} has no partition {p} (it has {})",
                        a.topic,
                        all.len()
                    )));
                }
            }
            a.partition
                .iter()
                .map(|p| TopicPartition::new(&a.topic, *p))
                .collect()
        };
        c.assign(tps.clone())
            .await
            .map_err(|e| failed("assigning", e))?;
        match start {
            Start::Beginning => c
                .seek_to_beginning(&tps)
                .map_err(|e| failed("seeking", e))?,
            Start::End => c.seek_to_end(&tps).map_err(|e| failed("seeking", e))?,
            Start::Offset(o) => {
                for tp in &tps {
                    c.seek(tp, o).map_err(|e| failed("seeking", e))?;
                }
            }
            Start::Timestamp(ts) => {
                let q: BTreeMap<TopicPartition, i64> =
                    tps.iter().map(|tp| (tp.clone(), ts)).collect();
                let found = c
                    .offsets_for_times(&q)
                    .await
                    .map_err(|e| failed("looking up offsets for the timestamp", e))?;
                let mut to_end = Vec::new();
                for (tp, o) in found {
                    match o {
                        Some(o) => c.seek(&tp, o.offset).map_err(|e| failed("seeking", e))?,
                        None => to_end.push(tp),
                    }
                }
                if !to_end.is_empty() {
                    c.seek_to_end(&to_end).map_err(|e| failed("seeking", e))?;
                }
            }
        }
    }

    let result = consume_loop(&mut c, &a).await;
    if a.group.is_some()
        && result.is_ok()
        && let Err(e) = c.commit_sync().await
    {
        eprintln!("warning: final commit failed: {e}");
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), c.close()).await;
    result
}

async fn consume_loop(c: &mut Consumer, a: &ConsumeArgs) -> CliResult {
    let mut n = 0u64;
    let mut ends: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    let mut last_record = Instant::now();
    let mut stdout = std::io::stdout().lock();
    let started = Instant::now();
    loop {
        if a.max_messages.is_some_and(|m| n >= m) {
            break;
        }
        if let Some(idle) = a.idle_timeout_ms
            && last_record.elapsed() >= Duration::from_millis(idle)
        {
            eprintln!("no record for {idle} ms, stopping");
            break;
        }
        if a.exit_at_end && at_end(c, &mut ends).await? {
            break;
        }
        let recs = tokio::select! {
            r = c.poll(Duration::from_millis(200)) => r.map_err(|e| failed("polling", e))?,
            _ = tokio::signal::ctrl_c() => break,
        };
        if !recs.is_empty() {
            last_record = Instant::now();
        }
        for r in &recs {
            if a.max_messages.is_some_and(|m| n >= m) {
                break;
            }
            n += 1;
            if let Err(e) = stdout.write_all(render(a, r).as_bytes()) {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(());
                }
                return Err(failed("writing to stdout", e));
            }
        }
        let _ = stdout.flush();
        if a.group.is_some()
            && c.assignment().is_empty()
            && started.elapsed() > Duration::from_secs(60)
        {
            return Err(CliError::Failed(
                "no partitions assigned after 60 s: does the cluster serve consumer groups (FindCoordinator)?".into(),
            ));
        }
    }
    let _ = stdout.flush();
    eprintln!("Processed a total of {n} messages");
    Ok(())
}

/// Whether every assigned partition's position reached the end offset it had when first seen.
async fn at_end(c: &mut Consumer, ends: &mut BTreeMap<TopicPartition, i64>) -> CliResult<bool> {
    let assigned: BTreeSet<TopicPartition> = c.assignment();
    if assigned.is_empty() {
        return Ok(false);
    }
    let unknown: Vec<TopicPartition> = assigned
        .iter()
        .filter(|tp| !ends.contains_key(*tp))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        let e = c
            .end_offsets(&unknown)
            .await
            .map_err(|e| failed("looking up end offsets", e))?;
        ends.extend(e);
    }
    for tp in &assigned {
        let Some(end) = ends.get(tp) else {
            return Ok(false);
        };
        let pos = c.position(tp).await.map_err(|e| failed("position", e))?;
        if pos < *end {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_consumer::{Headers, TimestampType};

    #[test]
    fn template() {
        let r = ConsumerRecord {
            topic: "t".into(),
            partition: 2,
            offset: 7,
            timestamp: 1000,
            timestamp_type: TimestampType::CreateTime,
            leader_epoch: None,
            serialized_key_size: 1,
            serialized_value_size: 2,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"vv")),
            headers: Headers::empty(),
        };
        assert_eq!(
            render_template("%t/%p@%o %k=%s %T %K %S %% [%h]\\n", &r),
            "t/2@7 k=vv 1000 1 2 % []\n"
        );
    }
}
