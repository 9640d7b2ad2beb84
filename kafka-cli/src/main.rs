//! `kafka`: the suite's command-line tool — run the bundled broker, manage topics, configs,
//! groups and ACLs, read records, and measure throughput.
//!
//! ```text
//! kafka [--bootstrap-server HOST:PORT] [--command-config FILE] <COMMAND>
//! ```
//!
//! Exit codes: 0 success, 1 the operation failed, 2 usage or configuration error.

mod acls;
mod broker;
mod common;
mod configs;
mod consume;
mod groups;
mod perf;
mod produce;
mod topics;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::common::{CliError, Global};

/// The Kafka suite's command-line tool.
#[derive(Parser, Debug)]
#[command(
    name = "kafka",
    version,
    about = "Kafka from the command line: the bundled broker, topics, producing, consuming, groups, configs, ACLs, perf.",
    after_help = "Examples:
  kafka broker --override log.dirs=/tmp/kb --override listeners=PLAINTEXT://127.0.0.1:9092
  kafka topics create orders --partitions 3
  kafka topics describe orders
  printf 'k1:v1\\nk2:v2\\n' | kafka produce orders --key-separator : --header source=cli
  kafka consume orders --from-beginning --exit-at-end -f '%p:%o %k=%s\\n'
  kafka groups describe billing
  kafka groups reset-offsets billing --topic orders --to-earliest --execute
  kafka configs alter --topic orders --set retention.ms=86400000
  kafka cluster describe
  kafka perf produce --topic bench --records 100000 --size 100
  kafka perf consume --topic bench --messages 100000

The bootstrap server comes from --bootstrap-server, else KAFKA_BOOTSTRAP_SERVERS, else
localhost:9092. Exit codes: 0 ok, 1 the operation failed, 2 usage or configuration error."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the bundled single-node broker (same flags as `kafka-broker`).
    Broker(broker::BrokerArgs),
    /// List, describe, create, delete and alter topics.
    #[command(subcommand)]
    Topics(topics::TopicsCmd),
    /// Write lines from stdin or a file as records.
    Produce(produce::ProduceArgs),
    /// Read records to stdout.
    Consume(consume::ConsumeArgs),
    /// Consumer groups: list, describe with lag, delete, reset offsets.
    #[command(subcommand)]
    Groups(groups::GroupsCmd),
    /// Describe and alter topic, broker and group configs.
    #[command(subcommand)]
    Configs(configs::ConfigsCmd),
    /// List, add and remove ACLs.
    #[command(subcommand)]
    Acls(acls::AclsCmd),
    /// Describe the cluster.
    #[command(subcommand)]
    Cluster(configs::ClusterCmd),
    /// Throughput tests.
    #[command(subcommand)]
    Perf(perf::PerfCmd),
}

async fn dispatch(cli: Cli) -> Result<(), CliError> {
    let g = &cli.global;
    match cli.command {
        Command::Broker(a) => broker::run(a).await,
        Command::Topics(c) => topics::run(g, c).await,
        Command::Produce(a) => produce::run(g, a).await,
        Command::Consume(a) => consume::run(g, a).await,
        Command::Groups(c) => groups::run(g, c).await,
        Command::Configs(c) => configs::run(g, c).await,
        Command::Acls(c) => acls::run(g, c).await,
        Command::Cluster(c) => configs::cluster(g, c).await,
        Command::Perf(c) => perf::run(g, c).await,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = if matches!(cli.command, Command::Broker(_)) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kafka: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(dispatch(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kafka: error: {}", e.message());
            ExitCode::from(e.exit_code())
        }
    }
}
