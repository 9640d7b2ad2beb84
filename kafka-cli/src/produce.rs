//! `kafka produce`: lines from stdin or a file become records.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, ValueEnum};
use kafka_producer::{Producer, ProducerConfig, ProducerRecord};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::{CliError, CliResult, Global, failed, key_value, usage};

/// Compression codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Codec {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Codec {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Gzip => "gzip",
            Codec::Snappy => "snappy",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
        }
    }
}

/// Acknowledgement levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum AcksArg {
    /// Wait for all in-sync replicas (idempotence on).
    All,
    /// Wait for the leader only.
    #[value(name = "1")]
    One,
    /// Do not wait.
    #[value(name = "0")]
    Zero,
}

impl AcksArg {
    pub(crate) fn name(self) -> &'static str {
        match self {
            AcksArg::All => "all",
            AcksArg::One => "1",
            AcksArg::Zero => "0",
        }
    }
}

/// `kafka produce` flags.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  echo 'hello' | kafka produce greetings
  printf 'k1:v1\\nk2:v2\\n' | kafka produce orders --key-separator :
  kafka produce orders --file events.txt --header source=import --compression zstd
  kafka produce orders --partition 0 --acks 1 < lines.txt")]
pub(crate) struct ProduceArgs {
    /// Topic to write to.
    topic: String,
    /// Read lines from this file (default: stdin).
    #[arg(long, short = 'F')]
    file: Option<PathBuf>,
    /// Split each line at the first SEP into key and value (default: no key).
    #[arg(long, short = 'K', value_name = "SEP")]
    key_separator: Option<String>,
    /// A header `key=value` added to every record; repeatable.
    #[arg(long = "header", short = 'H', value_name = "KEY=VALUE", value_parser = key_value)]
    headers: Vec<(String, String)>,
    /// Write every record to this partition (default: the partitioner: keys hash like Java's).
    #[arg(long, short = 'p')]
    partition: Option<i32>,
    /// Compression codec.
    #[arg(long, short = 'z', value_enum, default_value_t = Codec::None)]
    compression: Codec,
    /// Acknowledgements to wait for.
    #[arg(long, value_enum, default_value_t = AcksArg::All)]
    acks: AcksArg,
    /// Skip empty lines.
    #[arg(long)]
    skip_empty: bool,
    /// A producer setting `key=value` (Java names); repeatable; wins over --command-config.
    #[arg(long = "property", short = 'X', value_name = "KEY=VALUE", value_parser = key_value)]
    properties: Vec<(String, String)>,
}

/// The producer configuration: command-config, then what the flags imply, then -X.
pub(crate) fn producer_config(
    g: &Global,
    implied: &[(&str, String)],
    extra: &[(String, String)],
) -> CliResult<ProducerConfig> {
    let mut props = g.properties()?;
    props.remove("default.api.timeout.ms");
    for (k, v) in implied {
        props.insert((*k).to_string(), v.clone());
    }
    for (k, v) in extra {
        props.insert(k.clone(), v.clone());
    }
    ProducerConfig::from_properties(props)
        .map_err(|e| usage(format!("producer configuration: {e}")))
}

pub(crate) async fn run(g: &Global, a: ProduceArgs) -> CliResult {
    let cfg = producer_config(
        g,
        &[
            ("acks", a.acks.name().to_string()),
            ("compression.type", a.compression.name().to_string()),
            ("client.id", "kafka-cli-producer".to_string()),
        ],
        &a.properties,
    )?;
    if a.key_separator.as_deref() == Some("") {
        return Err(usage("--key-separator must not be empty"));
    }
    let producer: Producer<Bytes, Bytes> = tokio::time::timeout(g.timeout(), Producer::new(cfg))
        .await
        .map_err(|_| {
            CliError::Failed(format!(
                "cannot reach {} within {} ms",
                g.bootstrap_server, g.timeout_ms
            ))
        })?
        .map_err(|e| failed(&format!("cannot connect to {}", g.bootstrap_server), e))?;
    let n = tokio::time::timeout(g.timeout(), producer.partitions_for(&a.topic))
        .await
        .map_err(|_| {
            CliError::Failed(format!(
                "no metadata for topic {} within {} ms",
                a.topic, g.timeout_ms
            ))
        })?
        .map_err(|e| failed(&format!("topic {}", a.topic), e))?;
    if let Some(p) = a.partition
        && (p < 0 || p >= n)
    {
        return Err(usage(format!(
            "topic {} has no partition {p} (it has {n})",
            a.topic
        )));
    }
    let input: Box<dyn tokio::io::AsyncRead + Unpin + Send> = match &a.file {
        Some(f) => Box::new(
            tokio::fs::File::open(f)
                .await
                .map_err(|e| usage(format!("cannot open {}: {e}", f.display())))?,
        ),
        None => Box::new(tokio::io::stdin()),
    };
    let mut lines = BufReader::new(input).lines();
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(std::sync::Mutex::new(None::<String>));
    let mut sent = 0u64;
    loop {
        let line = match lines.next_line().await {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => return Err(failed("reading input", e)),
        };
        if a.skip_empty && line.is_empty() {
            continue;
        }
        let (key, value) = match &a.key_separator {
            Some(sep) => match line.split_once(sep.as_str()) {
                Some((k, v)) => (Some(Bytes::from(k.to_string())), Bytes::from(v.to_string())),
                None => (None, Bytes::from(line)),
            },
            None => (None, Bytes::from(line)),
        };
        let mut rec = ProducerRecord::new(&a.topic, key, value);
        for (k, v) in &a.headers {
            rec = rec.with_header(k.clone(), Some(Bytes::from(v.clone())));
        }
        if let Some(p) = a.partition {
            rec = rec.with_partition(p);
        }
        let (errs, first) = (errors.clone(), first_error.clone());
        producer
            .send_with_callback(rec, move |r| {
                if let Err(e) = r {
                    errs.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut f) = first.lock()
                        && f.is_none()
                    {
                        *f = Some(e.to_string());
                    }
                }
            })
            .await
            .map_err(|e| failed("sending", e))?;
        sent += 1;
    }
    let closed = producer.close(Duration::from_secs(30)).await;
    let failed_n = errors.load(Ordering::Relaxed);
    eprintln!(
        "Produced {} of {sent} records to {}",
        sent.saturating_sub(failed_n),
        a.topic
    );
    if let Err(e) = closed {
        return Err(failed("flushing", e));
    }
    if failed_n > 0 {
        let first = first_error
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .unwrap_or_default();
        return Err(CliError::Failed(format!(
            "{failed_n} record(s) failed, first: {first}"
        )));
    }
    Ok(())
}
