//! `kafka broker`: the bundled broker, same flags and configuration as `kafka-broker`.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use kafka_broker::Broker;

use crate::common::{CliError, CliResult};

/// `kafka broker` flags (those of the `kafka-broker` binary).
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  kafka broker --override log.dirs=/tmp/kb --override listeners=PLAINTEXT://127.0.0.1:9092
  kafka broker --config server.properties     # Kafka's own file; controller keys are ignored

Prints `listening on HOST:PORT` when ready; SIGTERM or Ctrl-C shut it down gracefully.")]
pub(crate) struct BrokerArgs {
    /// A Kafka `server.properties` file. Unknown keys are rejected.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// `key=value`, applied after the file; repeatable.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

pub(crate) async fn run(a: BrokerArgs) -> CliResult {
    let (config, notes) = kafka_broker::config::load(a.config.as_deref(), &a.overrides)
        .map_err(|e| CliError::Usage(format!("broker configuration: {e}")))?;
    for n in notes {
        tracing::info!("config: {n}");
    }
    let broker = Broker::builder()
        .config(config)
        .start()
        .await
        .map_err(|e| CliError::Failed(format!("cannot start the broker: {e}")))?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {}", broker.addr());
        let _ = out.flush();
    }
    kafka_broker::shutdown_signal().await;
    tracing::info!("shutting down");
    broker
        .shutdown()
        .await
        .map_err(|e| CliError::Failed(format!("shutdown: {e}")))
}
