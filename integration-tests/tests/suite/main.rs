//! The integration suite: one list of cases, run against the cluster chosen by
//! [`TestCluster::from_env`]. A custom runner (not libtest) so that cases the chosen cluster
//! cannot run are reported as skipped, never counted as passed, and every case has a deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use integration_tests::{EmbeddedBroker, TestCluster};

mod protocol;
mod records;

/// What a case needs: the cluster and its first bootstrap address.
pub(crate) struct Ctx {
    /// Its first bootstrap address.
    pub(crate) bootstrap: String,
}

pub(crate) type Case = (&'static str, fn(&Ctx));

fn cases() -> Vec<Case> {
    let mut v: Vec<Case> = Vec::new();
    v.extend_from_slice(protocol::CASES);
    v.extend_from_slice(records::CASES);
    v
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let cluster = TestCluster::from_env();
    let deadline = Duration::from_secs(
        std::env::var("SUITE_CASE_TIMEOUT_S")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(120),
    );
    let (mut passed, mut failed, skipped) = (0, 0, 0);
    println!("integration suite against: {}", cluster.name());
    let embedded = match &cluster {
        TestCluster::Embedded => match EmbeddedBroker::start() {
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
    for (name, f) in cases() {
        if !filter.is_empty() && !filter.iter().any(|p| name.contains(p.as_str())) {
            continue;
        }
        let bootstrap = match &cluster {
            TestCluster::Embedded => embedded
                .as_ref()
                .map(EmbeddedBroker::bootstrap)
                .unwrap_or_default(),
            TestCluster::ApacheKafka { bootstrap } | TestCluster::External { bootstrap } => {
                bootstrap
                    .split(',')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_string()
            }
        };
        let ctx = Ctx { bootstrap };
        let started = Instant::now();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let r = std::panic::catch_unwind(AssertUnwindSafe(|| f(&ctx)));
            let _ = tx.send(r.is_ok());
        });
        match rx.recv_timeout(deadline) {
            Ok(true) => {
                println!("PASS {name} ({:.1}s)", started.elapsed().as_secs_f64());
                passed += 1;
            }
            Ok(false) => {
                println!("FAIL {name}");
                failed += 1;
            }
            Err(_) => {
                println!("FAIL {name}: no result within {deadline:?}");
                failed += 1;
            }
        }
    }
    println!(
        "integration suite ({}): {passed} passed, {failed} failed, {skipped} skipped",
        cluster.name()
    );
    if let Some(b) = embedded
        && let Err(e) = b.shutdown()
    {
        println!("embedded broker shutdown failed: {e}");
        failed += 1;
    }
    std::process::exit(if failed > 0 { 1 } else { 0 });
}
