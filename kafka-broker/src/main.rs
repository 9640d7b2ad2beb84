//! `kafka-broker`: the bundled single-node Kafka broker.
//!
//! ```text
//! kafka-broker [--config server.properties] [--override key=value]...
//! ```
//!
//! Prints `listening on HOST:PORT` on stdout once it accepts connections; SIGTERM or Ctrl-C
//! shut it down gracefully. Logs go to stderr (`RUST_LOG` filters, default `info`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use kafka_broker::{Broker, BrokerConfig, BrokerError};

/// The bundled single-node Kafka broker.
#[derive(Parser, Debug)]
#[command(name = "kafka-broker", version, about)]
struct Args {
    /// A Kafka `server.properties` file. Unknown keys are rejected (a few Kafka keys that mean
    /// nothing on one node are accepted with a log line).
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// `key=value`, applied after the file; repeatable.
    #[arg(long = "override", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

fn load(args: &Args) -> Result<BrokerConfig, BrokerError> {
    let (config, notes) = kafka_broker::config::load(args.config.as_deref(), &args.overrides)?;
    for n in notes {
        tracing::info!("config: {n}");
    }
    Ok(config)
}

async fn run(args: Args) -> Result<(), BrokerError> {
    let config = load(&args)?;
    let broker = Broker::builder().config(config).start().await?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {}", broker.addr());
        let _ = out.flush();
    }
    kafka_broker::shutdown_signal().await;
    tracing::info!("shutting down");
    broker.shutdown().await
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kafka-broker: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kafka-broker: {e}");
            ExitCode::FAILURE
        }
    }
}
