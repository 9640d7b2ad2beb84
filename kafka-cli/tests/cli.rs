//! Runs the real `kafka` binary against a cluster: the bundled broker started with
//! `kafka broker` on port 0 (temporary data dir), or the cluster `KAFKA_BOOTSTRAP_SERVERS`
//! names. Every wait is bounded.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use assert_cmd::cargo::CommandCargoExt;

const CMD_TIMEOUT: Duration = Duration::from_secs(60);

struct Cluster {
    bootstrap: String,
    bundled: bool,
    _broker: Option<BrokerProcess>,
}

struct BrokerProcess {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The cluster of one test: its own bundled broker (stopped when the test ends), or the
/// external one.
fn cluster() -> Cluster {
    match std::env::var("KAFKA_BOOTSTRAP_SERVERS") {
        Ok(b) if !b.trim().is_empty() => Cluster {
            bootstrap: b,
            bundled: false,
            _broker: None,
        },
        _ => start_bundled(),
    }
}

fn start_bundled() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::cargo_bin("kafka")
        .unwrap()
        .args([
            "broker",
            "--override",
            &format!("log.dirs={}", dir.path().display()),
            "--override",
            "listeners=PLAINTEXT://127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(a) = line.strip_prefix("listening on ") {
                let _ = tx.send(a.to_string());
            }
        }
    });
    let addr = match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(a) => a,
        Err(_) => {
            let _ = child.kill();
            panic!("`kafka broker` did not print `listening on` within 30 s");
        }
    };
    Cluster {
        bootstrap: addr,
        bundled: true,
        _broker: Some(BrokerProcess { child, _dir: dir }),
    }
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `kafka ARGS` with `stdin`, killed after CMD_TIMEOUT.
fn kafka_in(c: &Cluster, args: &[&str], stdin: &str) -> Out {
    let mut child = Command::cargo_bin("kafka")
        .unwrap()
        .env_remove("KAFKA_BOOTSTRAP_SERVERS")
        .arg("--bootstrap-server")
        .arg(&c.bootstrap)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut i = child.stdin.take().unwrap();
        i.write_all(stdin.as_bytes()).unwrap();
    }
    let deadline = Instant::now() + CMD_TIMEOUT;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "`kafka {}` did not finish within {CMD_TIMEOUT:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn kafka(c: &Cluster, args: &[&str]) -> Out {
    kafka_in(c, args, "")
}

fn ok(c: &Cluster, args: &[&str]) -> String {
    let o = kafka(c, args);
    assert_eq!(
        o.code,
        0,
        "`kafka {}` failed: {}{}",
        args.join(" "),
        o.stdout,
        o.stderr
    );
    o.stdout
}

fn unique(prefix: &str) -> String {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{}", std::process::id(), n % 1_000_000_000)
}

#[test]
fn topics_create_list_describe_alter_delete() {
    let c = cluster();
    let t = unique("cli-topics");
    let out = ok(
        &c,
        &[
            "topics",
            "create",
            &t,
            "--partitions",
            "2",
            "--config",
            "retention.ms=3600000",
        ],
    );
    assert!(out.contains("Created topic"), "{out}");
    // creating again fails with exit 1 and says why; --if-not-exists succeeds
    let again = kafka(&c, &["topics", "create", &t, "--partitions", "2"]);
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("TOPIC_ALREADY_EXISTS"),
        "{}",
        again.stderr
    );
    ok(&c, &["topics", "create", &t, "--if-not-exists"]);
    assert!(ok(&c, &["topics", "list"]).lines().any(|l| l == t));
    let d = ok(&c, &["topics", "describe", &t]);
    assert!(d.contains("PartitionCount: 2"), "{d}");
    assert!(d.contains("retention.ms=3600000"), "{d}");
    ok(&c, &["topics", "alter", &t, "--partitions", "3"]);
    assert!(ok(&c, &["topics", "describe", &t]).contains("PartitionCount: 3"));
    ok(&c, &["topics", "delete", &t]);
    let gone = kafka(&c, &["topics", "delete", &t]);
    assert_eq!(gone.code, 1, "{}", gone.stderr);
    ok(&c, &["topics", "delete", &t, "--if-exists"]);
}

#[test]
fn produce_then_consume_exit_at_end() {
    let c = cluster();
    let t = unique("cli-consume");
    ok(&c, &["topics", "create", &t, "--partitions", "2"]);
    let p = kafka_in(
        &c,
        &[
            "produce",
            &t,
            "--key-separator",
            ":",
            "--header",
            "src=test",
        ],
        "k1:v1\nk2:v2\nk3:v3\n",
    );
    assert_eq!(p.code, 0, "{}", p.stderr);
    let out = ok(
        &c,
        &[
            "consume",
            &t,
            "--from-beginning",
            "--exit-at-end",
            "-f",
            "%k=%s|%h\\n",
        ],
    );
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        ["k1=v1|src=test", "k2=v2|src=test", "k3=v3|src=test"]
    );
    let json = ok(
        &c,
        &[
            "consume",
            &t,
            "--from-beginning",
            "--exit-at-end",
            "-o",
            "json",
            "--max-messages",
            "2",
        ],
    );
    assert_eq!(json.lines().count(), 2);
    for l in json.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["topic"], t.as_str());
        assert_eq!(v["headers"][0]["key"], "src");
    }
    // from the end: nothing, and --exit-at-end returns at once
    assert_eq!(ok(&c, &["consume", &t, "--exit-at-end"]), "");
    ok(&c, &["topics", "delete", &t]);
}

#[test]
fn configs_describe_and_alter() {
    let c = cluster();
    let t = unique("cli-configs");
    ok(&c, &["topics", "create", &t, "--partitions", "1"]);
    ok(
        &c,
        &[
            "configs",
            "alter",
            "--topic",
            &t,
            "--set",
            "retention.ms=7200000",
        ],
    );
    let d = ok(&c, &["configs", "describe", "--topic", &t]);
    assert!(d.contains("retention.ms") && d.contains("7200000"), "{d}");
    ok(
        &c,
        &[
            "configs",
            "alter",
            "--topic",
            &t,
            "--delete",
            "retention.ms",
        ],
    );
    assert!(!ok(&c, &["configs", "describe", "--topic", &t]).contains("7200000"));
    assert!(ok(&c, &["configs", "describe", "--topic", &t, "--all"]).contains("cleanup.policy"));
    ok(&c, &["topics", "delete", &t]);
}

#[test]
fn cluster_describe() {
    let c = cluster();
    let d = ok(&c, &["cluster", "describe"]);
    assert!(d.contains("Cluster id:"), "{d}");
    assert!(d.contains("HOST"), "{d}");
}

#[test]
fn groups_list() {
    let c = cluster();
    let o = kafka(&c, &["groups", "list"]);
    if c.bundled && o.code != 0 {
        // The bundled broker has no group coordinator yet: a clear failure, never a hang.
        assert_eq!(o.code, 1, "{}", o.stderr);
        assert!(
            o.stderr.contains("does not serve consumer groups"),
            "{}",
            o.stderr
        );
    } else {
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
}

#[test]
fn usage_errors_exit_2() {
    let c = cluster();
    let o = kafka(&c, &["topics", "create"]);
    assert_eq!(o.code, 2);
    let o = kafka(&c, &["consume", "x", "--offset", "soon"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("--offset"), "{}", o.stderr);
    let o = kafka(&c, &["consume", "x", "-X", "no.such.key=1"]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("no.such.key"), "{}", o.stderr);
    let o = kafka(
        &c,
        &[
            "topics",
            "list",
            "--command-config",
            "/nonexistent/file.properties",
        ],
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
}

#[test]
fn perf_json_lines() {
    let c = cluster();
    let t = unique("cli-perf");
    let p = ok(
        &c,
        &[
            "perf",
            "produce",
            "--topic",
            &t,
            "--records",
            "2000",
            "--size",
            "100",
            "--partitions",
            "2",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(p.trim()).unwrap();
    assert_eq!(v["mode"], "produce");
    assert_eq!(v["records"], 2000);
    assert!(v["p99_ms"].is_number());
    let cj = ok(
        &c,
        &[
            "perf",
            "consume",
            "--topic",
            &t,
            "--messages",
            "2000",
            "--size",
            "100",
            "--json",
            "--timeout-s",
            "50",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(cj.trim()).unwrap();
    assert_eq!(v["mode"], "consume");
    assert_eq!(v["bytes"], 200_000);
    ok(&c, &["topics", "delete", &t]);
}

#[test]
fn help_has_examples() {
    for sub in [
        vec!["--help"],
        vec!["topics", "create", "--help"],
        vec!["consume", "--help"],
        vec!["produce", "--help"],
        vec!["groups", "reset-offsets", "--help"],
        vec!["perf", "produce", "--help"],
        vec!["broker", "--help"],
    ] {
        let o = Command::cargo_bin("kafka")
            .unwrap()
            .args(&sub)
            .output()
            .unwrap();
        assert!(o.status.success());
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Examples:"),
            "{sub:?}"
        );
    }
}
