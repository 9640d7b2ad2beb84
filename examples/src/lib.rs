//! Runnable examples for the Kafka suite; see the `examples/` folder of this crate.
//!
//! - `consumer_worker_pool`: one consumer feeding a bounded worker pool with per-partition
//!   ordering, committing only processed offsets, draining and committing on revocation.
//! - `codec_demo`: builds a ProduceRequest carrying record batches in every codec, frames it
//!   as a client would, decodes it as a broker would, and reads the records back.

use std::future::Future;
use std::time::Duration;

/// The error type of the examples' `run` functions.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The `main` of an example: runs `run` with the bootstrap address of the cluster in
/// `KAFKA_BOOTSTRAP_SERVERS` when it is set, else of the bundled broker started in-process in a
/// temporary data directory (stopped and removed afterwards), within `limit`. Prints
/// `"{name} done"`, or the error and exits with status 1.
///
/// ```no_run
/// use std::time::Duration;
/// examples::main_with_cluster("demo", Duration::from_secs(60), |bootstrap| async move {
///     println!("would talk to {bootstrap}");
///     Ok(())
/// });
/// ```
pub fn main_with_cluster<F, Fut>(name: &str, limit: Duration, run: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let timed_out = || format!("timed out after {} s", limit.as_secs());
    let result: Result<(), String> = rt.block_on(async {
        match std::env::var("KAFKA_BOOTSTRAP_SERVERS") {
            Ok(b) if !b.trim().is_empty() => {
                println!("using the cluster at {b}");
                tokio::time::timeout(limit, run(b))
                    .await
                    .map_err(|_| timed_out())?
                    .map_err(|e| e.to_string())
            }
            _ => {
                let dir = std::env::temp_dir().join(format!("kafka-{name}-{}", std::process::id()));
                let broker = kafka_broker::Broker::builder()
                    .listener("127.0.0.1:0")
                    .data_dir(&dir)
                    .start()
                    .await
                    .map_err(|e| format!("bundled broker: {e}"))?;
                println!(
                    "started the bundled broker at {} (data in {})",
                    broker.bootstrap(),
                    dir.display()
                );
                let r = tokio::time::timeout(limit, run(broker.bootstrap()))
                    .await
                    .map_err(|_| timed_out())
                    .and_then(|r| r.map_err(|e| e.to_string()));
                let _ = broker.shutdown().await;
                let _ = std::fs::remove_dir_all(&dir);
                println!("stopped the bundled broker");
                r
            }
        }
    });
    match result {
        Ok(()) => println!("{name} done"),
        Err(e) => {
            eprintln!("{name} failed: {e}");
            std::process::exit(1);
        }
    }
}
