//! The integration suite: one list of cases, run against the cluster chosen by
//! [`TestCluster::from_env`] (the bundled broker in-process by default). A custom runner (not
//! libtest) so that cases the chosen cluster cannot run are reported as skipped, never counted as
//! passed, and every case has a deadline.
//!
//! A case that needs an API the cluster may not serve calls [`require_api`] first: when the
//! broker does not advertise it the case is skipped with the reason printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use integration_tests::{EmbeddedBroker, TestCluster};
use kafka_protocol::messages::ApiKey;

mod admin;
mod client;
mod common;
mod consumer;
mod consumer848;
mod eos;
mod groups;
mod producer;
mod protocol;
mod proxy;
mod records;
mod security;
mod transactions;

/// What a case needs: the cluster and its first bootstrap address.
pub(crate) struct Ctx {
    /// Its first bootstrap address.
    pub(crate) bootstrap: String,
}

pub(crate) type Case = (&'static str, fn(&Ctx));

/// Panic payload that marks a case as skipped (see [`require_api`]).
pub(crate) struct Skip(pub(crate) String);

/// Skips the calling case (with the reason printed) unless the cluster advertises `api`.
pub(crate) fn require_api(ctx: &Ctx, api: ApiKey) {
    let c = integration_tests::wire::Connection::connect(&ctx.bootstrap).expect("connect");
    if c.negotiated(api).is_none() {
        std::panic::panic_any(Skip(format!("the cluster does not serve {api:?}")));
    }
}

fn cases() -> Vec<Case> {
    let mut v: Vec<Case> = Vec::new();
    v.extend_from_slice(protocol::CASES);
    v.extend_from_slice(records::CASES);
    v.extend_from_slice(security::CASES);
    v.extend_from_slice(client::CASES);
    v.extend_from_slice(admin::CASES);
    v.extend_from_slice(consumer::CASES);
    v.extend_from_slice(consumer848::CASES);
    v.extend_from_slice(producer::CASES);
    v.extend_from_slice(groups::CASES);
    v.extend_from_slice(eos::CASES);
    v.extend_from_slice(transactions::CASES);
    v
}

enum Outcome {
    Pass,
    Fail,
    Skip(String),
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    // KAFKA_SUITE_LOG=<filter> (e.g. `kafka_consumer=debug`) logs the clients' tracing to stderr.
    if let Ok(f) = std::env::var("KAFKA_SUITE_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(f))
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .init();
    }
    let cluster = TestCluster::from_env();
    let deadline = Duration::from_secs(
        std::env::var("SUITE_CASE_TIMEOUT_S")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(120),
    );
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    println!("integration suite against: {}", cluster.name());
    // keep Skip payloads out of the panic output
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<Skip>().is_none() {
            default_hook(info);
        }
    }));
    let selected: Vec<Case> = cases()
        .into_iter()
        .filter(|(name, _)| filter.is_empty() || filter.iter().any(|p| name.contains(p.as_str())))
        .collect();
    let needs_main = selected
        .iter()
        .any(|(name, _)| !name.starts_with("security::"));
    let embedded = match &cluster {
        TestCluster::Embedded if needs_main => match EmbeddedBroker::start() {
            Ok(b) => {
                println!("embedded broker at {}", b.bootstrap());
                Some(b)
            }
            Err(e) => {
                println!("FAIL embedded broker did not start: {e}");
                std::process::exit(1);
            }
        },
        _ => None,
    };
    for (name, f) in selected {
        let bootstrap = if name.starts_with("security::") {
            // TLS/SASL cases need the sasl-ssl Apache Kafka, whatever the main cluster is.
            match security::bootstrap() {
                Some(b) => b,
                None => {
                    println!(
                        "SKIP {name}: {} not set (scripts/apache-kafka.sh start --security sasl-ssl writes it)",
                        security::ENV
                    );
                    skipped += 1;
                    continue;
                }
            }
        } else {
            cluster
                .first_bootstrap()
                .or_else(|| embedded.as_ref().map(EmbeddedBroker::bootstrap))
                .unwrap_or_default()
        };
        let ctx = Ctx { bootstrap };
        let started = Instant::now();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| f(&ctx)));
            let outcome = match r {
                Ok(()) => Outcome::Pass,
                Err(payload) => match payload.downcast::<Skip>() {
                    Ok(skip) => Outcome::Skip(skip.0),
                    Err(_) => Outcome::Fail,
                },
            };
            let _ = tx.send(outcome);
        });
        match rx.recv_timeout(deadline) {
            Ok(Outcome::Pass) => {
                println!("PASS {name} ({:.1}s)", started.elapsed().as_secs_f64());
                passed += 1;
            }
            Ok(Outcome::Skip(why)) => {
                println!("SKIP {name}: {why}");
                skipped += 1;
            }
            Ok(Outcome::Fail) => {
                println!("FAIL {name}");
                failed += 1;
            }
            Err(_) => {
                println!("FAIL {name}: no result within {deadline:?}");
                failed += 1;
            }
        }
    }
    if let Some(b) = embedded
        && let Err(e) = b.shutdown()
    {
        println!("FAIL embedded broker shutdown: {e}");
        failed += 1;
    }
    println!(
        "integration suite ({}): {passed} passed, {failed} failed, {skipped} skipped",
        cluster.name()
    );
    std::process::exit(if failed > 0 { 1 } else { 0 });
}
