//! Unit tests over in-memory transports with a tiny scripted fake broker.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::frame::{decode_request, encode_response, try_split_frame};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::{ErrorCode, Uuid};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::time::Instant;

use crate::broker::{BoxTransport, BrokerConnection, BrokerSlot, DialFuture, Dialer};
use crate::config::{ClientConfig, HostPort};
use crate::connection::{Connection, ConnectionOptions};
use crate::retry::Deadline;
use crate::{Client, CoordinatorType, Error, SendOptions, Target};

// ---------------------------------------------------------------------------------------------
// The fake broker

/// What the fake broker does with one request.
enum Action {
    Reply(ResponseKind),
    /// Reply with this correlation id instead of the request's.
    ReplyAs(i32, ResponseKind),
    /// Write these bytes as-is (a whole frame including its size, or garbage).
    Raw(Vec<u8>),
    /// Reply after a delay (other requests wait: the fake answers in order).
    Delay(Duration, Box<Action>),
    /// Never answer.
    Ignore,
    /// Drop the connection.
    Close,
}

type Handler = Arc<dyn Fn(&RequestHeader, RequestKind) -> Action + Send + Sync>;
/// A handler that also sees which host was dialed.
type HostHandler = Arc<dyn Fn(&str, &RequestHeader, RequestKind) -> Action + Send + Sync>;

async fn serve(mut io: DuplexStream, handler: Handler) {
    let mut buf = BytesMut::new();
    loop {
        let frame = loop {
            match try_split_frame(&mut buf, 1 << 24) {
                Ok(Some(f)) => break f,
                Ok(None) => {}
                Err(_) => return,
            }
            match io.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        };
        let Ok((header, body)) = decode_request(frame) else {
            return;
        };
        let mut action = handler(&header, body);
        while let Action::Delay(d, next) = action {
            tokio::time::sleep(d).await;
            action = *next;
        }
        let api = ApiKey::try_from(header.request_api_key).unwrap();
        let v = header.request_api_version;
        let mut out = BytesMut::new();
        match action {
            Action::Reply(body) => {
                encode_response(&mut out, header.correlation_id, api, v, &body).unwrap()
            }
            Action::ReplyAs(id, body) => encode_response(&mut out, id, api, v, &body).unwrap(),
            Action::Raw(bytes) => out.extend_from_slice(&bytes),
            Action::Ignore => continue,
            Action::Close => return,
            Action::Delay(..) => unreachable!(),
        }
        if io.write_all(&out).await.is_err() {
            return;
        }
    }
}

fn all_versions() -> ApiVersionsResponse {
    ApiVersionsResponse {
        api_keys: ApiKey::ALL
            .iter()
            .map(|k| ApiVersion {
                api_key: k.key(),
                min_version: k.versions().min,
                max_version: k.versions().max,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn metadata(leader: i32, epoch: i32) -> MetadataResponse {
    MetadataResponse {
        brokers: vec![
            MetadataResponseBroker {
                node_id: 1,
                host: "fake1".into(),
                port: 9092,
                ..Default::default()
            },
            MetadataResponseBroker {
                node_id: 2,
                host: "fake2".into(),
                port: 9092,
                ..Default::default()
            },
        ],
        cluster_id: Some("c".into()),
        controller_id: 1,
        topics: vec![MetadataResponseTopic {
            name: Some("t".into()),
            topic_id: Uuid::from_u128(42),
            partitions: vec![MetadataResponsePartition {
                partition_index: 0,
                leader_id: leader,
                leader_epoch: epoch,
                replica_nodes: vec![1, 2],
                isr_nodes: vec![1, 2],
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Standard answers: ApiVersions, Metadata (leader from `leader`), FindCoordinator (node 2).
fn standard(header: &RequestHeader, body: &RequestKind, leader: i32) -> Option<Action> {
    match body {
        RequestKind::ApiVersions(_) => Some(Action::Reply(all_versions().into())),
        RequestKind::Metadata(_) => Some(Action::Reply(metadata(leader, 3).into())),
        RequestKind::FindCoordinator(_) if header.request_api_version < 4 => Some(Action::Reply(
            FindCoordinatorResponse {
                node_id: 2,
                host: "fake2".into(),
                port: 9092,
                ..Default::default()
            }
            .into(),
        )),
        RequestKind::FindCoordinator(r) => Some(Action::Reply(
            FindCoordinatorResponse {
                coordinators: r
                    .coordinator_keys
                    .iter()
                    .map(|k| Coordinator {
                        key: k.clone(),
                        node_id: 2,
                        host: "fake2".into(),
                        port: 9092,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
            .into(),
        )),
        _ => None,
    }
}

/// A raw connection to a fake broker.
fn fake_conn(opts: ConnectionOptions, handler: Handler) -> Connection {
    let (a, b) = tokio::io::duplex(1 << 16);
    tokio::spawn(serve(b, handler));
    Connection::spawn(a, opts)
}

/// A dialer to fake brokers; the handler also gets the dialed host so tests can tell brokers
/// apart. Counts dials.
fn fake_dialer(handler: HostHandler, dials: Arc<AtomicUsize>) -> Dialer {
    Arc::new(move |hp: HostPort| {
        dials.fetch_add(1, Ordering::SeqCst);
        let (a, b) = tokio::io::duplex(1 << 16);
        let h = handler.clone();
        let host = hp.host.clone();
        tokio::spawn(serve(b, Arc::new(move |hd, body| h(&host, hd, body))));
        Box::pin(async move { Ok(Box::new(a) as BoxTransport) }) as DialFuture
    })
}

fn cfg() -> ClientConfig {
    ClientConfig::builder()
        .bootstrap_servers("boot:9092")
        .retry_backoff(Duration::from_millis(10))
        .retry_backoff_max(Duration::from_millis(100))
        .default_api_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn hb(i: i32) -> HeartbeatRequest {
    HeartbeatRequest {
        group_id: format!("g{i}"),
        generation_id: i,
        member_id: "m".into(),
        ..Default::default()
    }
}

fn hb_reply(body: &RequestKind, code: ErrorCode) -> Action {
    let RequestKind::Heartbeat(r) = body else {
        return Action::Close;
    };
    Action::Reply(
        HeartbeatResponse {
            throttle_time_ms: r.generation_id,
            error_code: code.code(),
            ..Default::default()
        }
        .into(),
    )
}

/// Guards against hangs in real-time tests.
async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("test step hung")
}

// ---------------------------------------------------------------------------------------------
// Connection

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_within_the_in_flight_limit() {
    // The fake answers only once it holds 4 requests, so the client must pipeline exactly 4.
    let held: Arc<Mutex<Vec<(RequestHeader, RequestKind)>>> = Arc::default();
    let max_seen = Arc::new(AtomicUsize::new(0));
    let (a, mut b) = tokio::io::duplex(1 << 16);
    let conn = Connection::spawn(a, ConnectionOptions::default().max_in_flight(4));
    let h2 = held.clone();
    let m2 = max_seen.clone();
    tokio::spawn(async move {
        let mut buf = BytesMut::new();
        loop {
            while let Ok(Some(f)) = try_split_frame(&mut buf, 1 << 20) {
                h2.lock().unwrap().push(decode_request(f).unwrap());
            }
            let n = h2.lock().unwrap().len();
            m2.fetch_max(n, Ordering::SeqCst);
            if n >= 4 {
                let batch: Vec<_> = h2.lock().unwrap().drain(..).collect();
                let mut out = BytesMut::new();
                for (h, body) in batch {
                    let RequestKind::Heartbeat(r) = body else {
                        panic!()
                    };
                    let resp = ResponseKind::from(HeartbeatResponse {
                        throttle_time_ms: r.generation_id,
                        ..Default::default()
                    });
                    encode_response(
                        &mut out,
                        h.correlation_id,
                        ApiKey::Heartbeat,
                        h.request_api_version,
                        &resp,
                    )
                    .unwrap();
                }
                b.write_all(&out).await.unwrap();
                continue;
            }
            if b.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                return;
            }
        }
    });
    let mut tasks = Vec::new();
    for i in 0..40 {
        let c = conn.clone();
        tasks.push(tokio::spawn(async move {
            c.send(&hb(i), 4).await.map(|r| (i, r))
        }));
    }
    for t in tasks {
        let (i, r) = within(t).await.unwrap().unwrap();
        assert_eq!(r.throttle_time_ms, i, "each caller gets its own response");
    }
    assert_eq!(max_seen.load(Ordering::SeqCst), 4);
    assert_eq!(conn.in_flight(), 0);
    assert_eq!(conn.available_permits(), 4);
}

#[tokio::test]
async fn correlation_mismatch_is_a_typed_error_and_closes_the_connection() {
    let conn = fake_conn(
        ConnectionOptions::default(),
        Arc::new(|_, body| {
            let RequestKind::Heartbeat(_) = body else {
                return Action::Close;
            };
            Action::ReplyAs(9999, HeartbeatResponse::default().into())
        }),
    );
    let err = within(conn.send(&hb(1), 4)).await.unwrap_err();
    assert!(
        matches!(err, Error::CorrelationMismatch { got: 9999, .. }),
        "{err}"
    );
    within(conn.closed()).await;
    let err = within(conn.send(&hb(2), 4)).await.unwrap_err();
    assert!(matches!(err, Error::CorrelationMismatch { .. }), "{err}");
}

#[tokio::test]
async fn dropped_connection_fails_every_waiter_promptly() {
    let seen = Arc::new(AtomicUsize::new(0));
    let s2 = seen.clone();
    let conn = fake_conn(
        ConnectionOptions::default().max_in_flight(3),
        Arc::new(move |_, _| {
            if s2.fetch_add(1, Ordering::SeqCst) == 2 {
                Action::Close
            } else {
                Action::Ignore
            }
        }),
    );
    let mut tasks = Vec::new();
    for i in 0..6 {
        let c = conn.clone();
        tasks.push(tokio::spawn(async move { c.send(&hb(i), 4).await }));
    }
    let started = std::time::Instant::now();
    for t in tasks {
        let err = within(t).await.unwrap().unwrap_err();
        assert!(err.is_retriable(), "{err}");
        assert!(matches!(err, Error::Disconnected { .. }), "{err}");
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(conn.is_closed());
    assert_eq!(conn.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn request_timeout_fails_the_request_and_closes_the_connection() {
    let conn = fake_conn(
        ConnectionOptions::default().request_timeout(Duration::from_millis(500)),
        Arc::new(|_, _| Action::Ignore),
    );
    let t0 = Instant::now();
    let err = conn.send(&hb(1), 4).await.unwrap_err();
    assert!(matches!(err, Error::RequestTimeout { .. }), "{err}");
    assert!(err.is_retriable());
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_millis(500) && waited < Duration::from_millis(600));
    conn.closed().await;
    assert_eq!(conn.in_flight(), 0);
}

#[tokio::test(start_paused = true)]
async fn cancelled_requests_are_cleaned_up() {
    // max_in_flight 1: the first request is held by the fake until released.
    let release = Arc::new(tokio::sync::Notify::new());
    let r2 = release.clone();
    let (a, mut b) = tokio::io::duplex(1 << 16);
    let conn = Connection::spawn(a, ConnectionOptions::default().max_in_flight(1));
    let received: Arc<Mutex<Vec<i32>>> = Arc::default();
    let rec2 = received.clone();
    tokio::spawn(async move {
        let mut buf = BytesMut::new();
        loop {
            let f = loop {
                if let Ok(Some(f)) = try_split_frame(&mut buf, 1 << 20) {
                    break f;
                }
                if b.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
            };
            let (h, body) = decode_request(f).unwrap();
            let RequestKind::Heartbeat(r) = body else {
                return;
            };
            rec2.lock().unwrap().push(r.generation_id);
            if r.generation_id == 1 || r.generation_id == 3 {
                r2.notified().await;
            }
            let mut out = BytesMut::new();
            let resp = ResponseKind::from(HeartbeatResponse {
                throttle_time_ms: r.generation_id,
                ..Default::default()
            });
            encode_response(&mut out, h.correlation_id, ApiKey::Heartbeat, 4, &resp).unwrap();
            b.write_all(&out).await.unwrap();
        }
    });
    // 1 is written and held; 2 waits for the permit and is cancelled before being written.
    let c1 = conn.clone();
    let first = tokio::spawn(async move { c1.send(&hb(1), 4).await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let second = tokio::time::timeout(Duration::from_millis(50), conn.send(&hb(2), 4)).await;
    assert!(
        second.is_err(),
        "2 cannot finish while 1 holds the only permit"
    );
    release.notify_one();
    assert_eq!(first.await.unwrap().unwrap().throttle_time_ms, 1);
    // 3 is written, then its caller gives up; its response is read and discarded.
    let third = tokio::time::timeout(Duration::from_millis(50), conn.send(&hb(3), 4)).await;
    assert!(third.is_err());
    release.notify_one();
    let r4 = conn.send(&hb(4), 4).await.unwrap();
    assert_eq!(
        r4.throttle_time_ms, 4,
        "the stale response of 3 was not handed to 4"
    );
    assert_eq!(
        *received.lock().unwrap(),
        vec![1, 3, 4],
        "2 was never written"
    );
    assert_eq!(conn.in_flight(), 0);
    assert_eq!(conn.available_permits(), 1);
}

#[tokio::test]
async fn malformed_and_truncated_responses_are_typed_errors() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("negative size", vec![0xff, 0xff, 0xff, 0xf0]),
        ("oversized frame", vec![0x7f, 0, 0, 0]),
        ("frame shorter than a header", vec![0, 0, 0, 2, 0, 0]),
        // correlation id 1, then a body cut short (Heartbeat v4 wants throttle + code + tags)
        ("truncated body", vec![0, 0, 0, 6, 0, 0, 0, 1, 0, 0]),
    ];
    for (what, raw) in cases {
        let raw2 = raw.clone();
        let conn = fake_conn(
            ConnectionOptions::default().max_frame(1 << 20),
            Arc::new(move |_, _| Action::Raw(raw2.clone())),
        );
        let err = within(conn.send(&hb(1), 4)).await.unwrap_err();
        assert!(matches!(err, Error::Protocol { .. }), "{what}: {err}");
        assert!(!err.is_retriable(), "{what}");
    }
    // Half a frame, then EOF.
    let conn = fake_conn(
        ConnectionOptions::default(),
        Arc::new(|_, _| Action::Raw(vec![0, 0, 0, 50, 0, 0, 0, 1])),
    );
    let c2 = conn.clone();
    let pending = tokio::spawn(async move { c2.send(&hb(1), 4).await });
    tokio::time::sleep(Duration::from_millis(20)).await;
    conn.close();
    let err = within(pending).await.unwrap().unwrap_err();
    assert!(matches!(err, Error::Disconnected { .. }), "{err}");
}

#[tokio::test]
async fn random_garbage_never_panics_or_hangs() {
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..200 {
        let len = rng.usize(0..40);
        let mut raw: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        if raw.len() >= 8 && rng.bool() {
            // plausible size and correlation id
            let n = (raw.len() - 4) as u32;
            raw[..4].copy_from_slice(&n.to_be_bytes());
            raw[4..8].copy_from_slice(&1i32.to_be_bytes());
        }
        let conn = fake_conn(
            ConnectionOptions::default()
                .max_frame(1 << 16)
                .request_timeout(Duration::from_millis(200)),
            Arc::new(move |_, _| Action::Raw(raw.clone())),
        );
        let _ = within(conn.send(&hb(1), 4)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// ApiVersions negotiation and SASL

#[tokio::test]
async fn api_versions_unsupported_version_falls_back_to_the_advertised_version() {
    // An "old broker" that speaks ApiVersions 0..=2 and Metadata 0..=7 only.
    let seen: Arc<Mutex<Vec<i16>>> = Arc::default();
    let s2 = seen.clone();
    let handler: Handler = Arc::new(move |h, _| {
        s2.lock().unwrap().push(h.request_api_version);
        let keys = vec![
            ApiVersion {
                api_key: 18,
                min_version: 0,
                max_version: 2,
                ..Default::default()
            },
            ApiVersion {
                api_key: 3,
                min_version: 0,
                max_version: 7,
                ..Default::default()
            },
        ];
        if h.request_api_version > 2 {
            // Kafka answers an unsupported ApiVersions version in v0 format.
            let body = ResponseKind::from(ApiVersionsResponse {
                error_code: ErrorCode::UnsupportedVersion.code(),
                api_keys: vec![keys[0].clone()],
                ..Default::default()
            });
            let mut out = BytesMut::new();
            encode_response(&mut out, h.correlation_id, ApiKey::ApiVersions, 0, &body).unwrap();
            return Action::Raw(out.to_vec());
        }
        Action::Reply(
            ApiVersionsResponse {
                api_keys: keys,
                ..Default::default()
            }
            .into(),
        )
    });
    let (a, b) = tokio::io::duplex(1 << 16);
    tokio::spawn(serve(b, handler));
    let bc = within(BrokerConnection::handshake(
        a,
        1,
        "old:9092".parse().unwrap(),
        &cfg(),
    ))
    .await
    .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![ApiKey::ApiVersions.versions().max, 2]
    );
    assert_eq!(bc.version_for(ApiKey::Metadata), Some(7));
    assert_eq!(bc.version_for(ApiKey::Produce), None);
    let err = bc.pick_version(ApiKey::Produce, None).unwrap_err();
    assert!(
        matches!(err, Error::UnsupportedVersion { theirs: None, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn api_versions_without_advertised_range_retries_v0() {
    let seen: Arc<Mutex<Vec<i16>>> = Arc::default();
    let s2 = seen.clone();
    let handler: Handler = Arc::new(move |h, _| {
        s2.lock().unwrap().push(h.request_api_version);
        let body = if h.request_api_version > 0 {
            ApiVersionsResponse {
                error_code: ErrorCode::UnsupportedVersion.code(),
                ..Default::default()
            }
        } else {
            all_versions()
        };
        let mut out = BytesMut::new();
        encode_response(
            &mut out,
            h.correlation_id,
            ApiKey::ApiVersions,
            0,
            &body.into(),
        )
        .unwrap();
        Action::Raw(out.to_vec())
    });
    let (a, b) = tokio::io::duplex(1 << 16);
    tokio::spawn(serve(b, handler));
    let bc = within(BrokerConnection::handshake(
        a,
        1,
        "old:9092".parse().unwrap(),
        &cfg(),
    ))
    .await
    .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        vec![ApiKey::ApiVersions.versions().max, 0]
    );
    assert!(bc.version_for(ApiKey::Metadata).is_some());
}

#[derive(Debug)]
struct TestPlain;
struct TestPlainSession(u8);
impl crate::sasl::SaslMechanism for TestPlain {
    fn name(&self) -> &str {
        "PLAIN"
    }
    fn start(&self) -> Result<Box<dyn crate::sasl::SaslSession>, Error> {
        Ok(Box::new(TestPlainSession(0)))
    }
}
impl crate::sasl::SaslSession for TestPlainSession {
    fn step(&mut self, _server: Option<&[u8]>) -> Result<Option<Vec<u8>>, Error> {
        self.0 += 1;
        Ok((self.0 == 1).then(|| b"\0alice\0secret".to_vec()))
    }
}

#[tokio::test(start_paused = true)]
async fn sasl_handshake_authenticate_and_reauth_timing() {
    let handler: Handler = Arc::new(|_, body| match body {
        RequestKind::ApiVersions(_) => Action::Reply(all_versions().into()),
        RequestKind::SaslHandshake(r) => Action::Reply(
            SaslHandshakeResponse {
                error_code: if r.mechanism == "PLAIN" { 0 } else { 33 },
                mechanisms: vec!["PLAIN".into()],
            }
            .into(),
        ),
        RequestKind::SaslAuthenticate(r) => Action::Reply(
            SaslAuthenticateResponse {
                error_code: if &r.auth_bytes[..] == b"\0alice\0secret" {
                    0
                } else {
                    58
                },
                session_lifetime_ms: 10_000,
                ..Default::default()
            }
            .into(),
        ),
        _ => Action::Close,
    });
    let (a, b) = tokio::io::duplex(1 << 16);
    tokio::spawn(serve(b, handler));
    let conn = Connection::spawn(a, ConnectionOptions::default());
    let versions = crate::broker::ApiVersions::from_response(&all_versions().api_keys);
    let bc = BrokerConnection::for_tests(conn, versions);
    let reauth_at = crate::broker::authenticate_for_tests(&bc, &TestPlain)
        .await
        .unwrap();
    let at = reauth_at.expect("a session lifetime gives a re-authentication time");
    let d = at - Instant::now();
    assert!(
        d >= Duration::from_millis(8_500) && d <= Duration::from_millis(9_500),
        "{d:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Broker slots: reconnect backoff

#[tokio::test(start_paused = true)]
async fn reconnect_backoff_grows_exponentially_within_jitter_bounds() {
    let attempts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let a2 = attempts.clone();
    let dialer: Dialer = Arc::new(move |hp: HostPort| {
        a2.lock().unwrap().push(Instant::now());
        Box::pin(async move {
            Err(Error::Connect {
                addr: hp.to_string(),
                message: "refused".into(),
            })
        }) as DialFuture
    });
    let cfg = ClientConfig::builder()
        .bootstrap_servers("x:1")
        .reconnect_backoff(Duration::from_millis(100))
        .reconnect_backoff_max(Duration::from_millis(1000))
        .build()
        .unwrap();
    let slot = BrokerSlot::new(1, "x:1".parse().unwrap());
    for _ in 0..8 {
        let err = slot
            .get(&cfg, &dialer, Deadline::after(Duration::from_secs(60)))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Connect { .. }));
    }
    let t = attempts.lock().unwrap().clone();
    assert_eq!(t.len(), 8);
    for (i, w) in t.windows(2).enumerate() {
        let gap = (w[1] - w[0]).as_secs_f64();
        let base = (0.1 * 2f64.powi(i as i32)).min(1.0);
        assert!(
            gap >= base * 0.8 - 0.002 && gap <= base * 1.2 + 0.002,
            "gap {i}: {gap} vs base {base}"
        );
    }
    // A deadline that ends inside the backoff fails at once with the last connect error.
    let t0 = Instant::now();
    let err = slot
        .get(&cfg, &dialer, Deadline::after(Duration::from_millis(10)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

// ---------------------------------------------------------------------------------------------
// Client: bootstrap, metadata, routing, coordinators

#[tokio::test(start_paused = true)]
async fn unreachable_bootstrap_fails_before_the_deadline() {
    let dialer: Dialer = Arc::new(|hp: HostPort| {
        Box::pin(async move {
            Err(Error::Connect {
                addr: hp.to_string(),
                message: "connection refused".into(),
            })
        }) as DialFuture
    });
    let mut c = cfg();
    c.default_api_timeout = Duration::from_secs(3);
    let t0 = Instant::now();
    let err = Client::connect_with_dialer(c, dialer).await.unwrap_err();
    assert!(t0.elapsed() <= Duration::from_secs(3), "{:?}", t0.elapsed());
    let s = err.to_string();
    assert!(matches!(err, Error::Timeout { .. }), "{s}");
    assert!(
        s.contains("bootstrap") && s.contains("connection refused"),
        "{s}"
    );
}

#[tokio::test(start_paused = true)]
async fn concurrent_metadata_refreshes_are_coalesced() {
    let md_requests = Arc::new(AtomicUsize::new(0));
    let m2 = md_requests.clone();
    let dialer = fake_dialer(
        Arc::new(move |_, h, body| {
            if let RequestKind::Metadata(_) = body {
                m2.fetch_add(1, Ordering::SeqCst);
                return Action::Delay(
                    Duration::from_millis(100),
                    Box::new(Action::Reply(metadata(1, 3).into())),
                );
            }
            standard(h, &body, 1).unwrap_or(Action::Close)
        }),
        Arc::default(),
    );
    let client = Client::connect_with_dialer(cfg(), dialer).await.unwrap();
    assert_eq!(md_requests.load(Ordering::SeqCst), 1);
    let md = client.metadata();
    assert_eq!(md.leader_for("t", 0), Some((1, 3)));
    assert_eq!(md.topic("t").unwrap().id, Uuid::from_u128(42));
    assert_eq!(md.brokers.len(), 2);
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move { c.refresh_metadata(["t"]).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        md_requests.load(Ordering::SeqCst),
        2,
        "16 concurrent refreshes, 1 request"
    );
    assert_eq!(client.metadata_requests_sent(), 2);
}

#[tokio::test(start_paused = true)]
async fn periodic_refresh_follows_metadata_max_age() {
    let md_requests = Arc::new(AtomicUsize::new(0));
    let m2 = md_requests.clone();
    let dialer = fake_dialer(
        Arc::new(move |_, h, body| {
            if let RequestKind::Metadata(_) = body {
                m2.fetch_add(1, Ordering::SeqCst);
            }
            standard(h, &body, 1).unwrap_or(Action::Close)
        }),
        Arc::default(),
    );
    let mut c = cfg();
    c.metadata_max_age = Duration::from_secs(10);
    let client = Client::connect_with_dialer(c, dialer).await.unwrap();
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert_eq!(md_requests.load(Ordering::SeqCst), 4);
    drop(client);
}

#[tokio::test(start_paused = true)]
async fn leader_routing_and_refresh_on_not_leader() {
    // Leadership moves from broker 1 to broker 2 after the first produce attempt.
    let moved = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hosts: Arc<Mutex<Vec<String>>> = Arc::default();
    let (m2, h2) = (moved.clone(), hosts.clone());
    let dialer = fake_dialer(
        Arc::new(move |host, h, body| {
            let leader = if m2.load(Ordering::SeqCst) { 2 } else { 1 };
            if let RequestKind::Heartbeat(_) = &body {
                h2.lock().unwrap().push(host.to_string());
                let code = if host == format!("fake{leader}") && host == "fake2" {
                    ErrorCode::None
                } else {
                    m2.store(true, Ordering::SeqCst);
                    ErrorCode::NotLeaderOrFollower
                };
                return hb_reply(&body, code);
            }
            standard(h, &body, leader).unwrap_or(Action::Close)
        }),
        Arc::default(),
    );
    let client = Client::connect_with_dialer(cfg(), dialer).await.unwrap();
    let r = client
        .send_checked(
            &Target::leader("t", 0),
            &hb(5),
            SendOptions::default(),
            |r| ErrorCode::from_i16(r.error_code),
        )
        .await
        .unwrap();
    assert_eq!(r.throttle_time_ms, 5);
    assert_eq!(*hosts.lock().unwrap(), vec!["fake1", "fake2"]);
    assert_eq!(client.leader_for("t", 0).await.unwrap(), (2, 3));
    // Fatal codes are not retried and carry context.
    let err = client
        .send_checked(
            &Target::leader("t", 0),
            &hb(6),
            SendOptions::default(),
            |_| ErrorCode::GroupAuthorizationFailed,
        )
        .await
        .unwrap_err();
    assert_eq!(err.error_code(), Some(ErrorCode::GroupAuthorizationFailed));
    let ctx = err.context().unwrap();
    assert_eq!(
        (ctx.broker, ctx.topic.as_deref(), ctx.partition),
        (Some(2), Some("t"), Some(0))
    );
}

#[tokio::test(start_paused = true)]
async fn coordinator_is_cached_and_invalidated_on_not_coordinator() {
    let finds = Arc::new(AtomicUsize::new(0));
    let hbs = Arc::new(AtomicUsize::new(0));
    let (f2, hb2) = (finds.clone(), hbs.clone());
    let dialer = fake_dialer(
        Arc::new(move |host, h, body| match &body {
            RequestKind::FindCoordinator(_) => {
                f2.fetch_add(1, Ordering::SeqCst);
                standard(h, &body, 1).unwrap()
            }
            RequestKind::Heartbeat(_) => {
                assert_eq!(host, "fake2", "routed to the coordinator");
                let n = hb2.fetch_add(1, Ordering::SeqCst);
                hb_reply(
                    &body,
                    if n == 1 {
                        ErrorCode::NotCoordinator
                    } else {
                        ErrorCode::None
                    },
                )
            }
            _ => standard(h, &body, 1).unwrap_or(Action::Close),
        }),
        Arc::default(),
    );
    let client = Client::connect_with_dialer(cfg(), dialer).await.unwrap();
    let target = Target::GroupCoordinator("g".into());
    let check = |r: &HeartbeatResponse| ErrorCode::from_i16(r.error_code);
    client
        .send_checked(&target, &hb(1), SendOptions::default(), check)
        .await
        .unwrap();
    assert_eq!(
        client.cached_coordinator(CoordinatorType::Group, "g"),
        Some(2)
    );
    assert_eq!(finds.load(Ordering::SeqCst), 1);
    // Second heartbeat: NOT_COORDINATOR -> cache dropped -> FindCoordinator again -> retry ok.
    client
        .send_checked(&target, &hb(2), SendOptions::default(), check)
        .await
        .unwrap();
    assert_eq!(finds.load(Ordering::SeqCst), 2);
    assert_eq!(hbs.load(Ordering::SeqCst), 3);
    // Batched lookup (v4+): one request for several keys; cached keys need none.
    let keys: Vec<String> = vec!["g".into(), "h".into(), "i".into()];
    let res = client
        .find_coordinators(CoordinatorType::Group, &keys)
        .await
        .unwrap();
    assert!(res.values().all(|r| matches!(r, Ok(2))));
    assert_eq!(finds.load(Ordering::SeqCst), 3);
    client.invalidate_coordinator(CoordinatorType::Group, "g");
    assert_eq!(client.cached_coordinator(CoordinatorType::Group, "g"), None);
}

#[tokio::test(start_paused = true)]
async fn broker_connections_reconnect_after_a_drop() {
    let dials = Arc::new(AtomicUsize::new(0));
    let kill = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let k2 = kill.clone();
    let dialer = fake_dialer(
        Arc::new(move |_, h, body| {
            if let RequestKind::Heartbeat(_) = &body {
                if k2.swap(false, Ordering::SeqCst) {
                    return Action::Close;
                }
                return hb_reply(&body, ErrorCode::None);
            }
            standard(h, &body, 1).unwrap_or(Action::Close)
        }),
        dials.clone(),
    );
    let client = Client::connect_with_dialer(cfg(), dialer).await.unwrap();
    client.send(Target::Broker(1), hb(1)).await.unwrap();
    let before = dials.load(Ordering::SeqCst);
    kill.store(true, Ordering::SeqCst);
    // The drop fails the attempt (retriable), the client reconnects and retries.
    let r = client.send(Target::Broker(1), hb(2)).await.unwrap();
    assert_eq!(r.throttle_time_ms, 2);
    assert_eq!(dials.load(Ordering::SeqCst), before + 1);
    // Without retries the caller sees the typed, retriable error.
    kill.store(true, Ordering::SeqCst);
    let err = client
        .send_opts(Target::Broker(1), hb(3), SendOptions::default().no_retry())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Disconnected { .. }), "{err}");
    assert!(
        client.negotiated_version(ApiKey::Metadata).is_some()
            || client.broker_connection(1).await.is_ok()
    );
    client.close();
    assert!(matches!(
        client.send(Target::AnyBroker, hb(4)).await,
        Err(Error::Closed)
    ));
}

#[test]
fn public_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _g = rt.enter();
    let (a, _b) = tokio::io::duplex(16);
    let conn = Connection::spawn(a, ConnectionOptions::default());
    let req = hb(1);
    assert_send(&conn.send(&req, 4));
    let client_fut = Client::connect(cfg());
    assert_send(&client_fut);
    fn check_client(c: &Client) {
        assert_send(&c.send(Target::AnyBroker, hb(1)));
        assert_send(&c.refresh_metadata(["t"]));
        assert_send(&c.find_coordinator(CoordinatorType::Group, "g"));
    }
    let _ = check_client;
    let _ = Bytes::new();
}
