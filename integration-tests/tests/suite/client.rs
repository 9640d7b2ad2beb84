//! The `kafka-client` core against a real cluster: connect and negotiate, metadata, leader
//! routing, coordinators, many pipelined requests on one connection, a broker outage in the
//! middle of traffic (through a local TCP proxy the test kills and restarts), and an
//! unreachable bootstrap.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use integration_tests::unique_topic;
use kafka_client::{Client, ClientConfig, CoordinatorType, Error, SendOptions, Target};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, MetadataRequest};
use kafka_protocol::records::RecordBatchBuilder;

use crate::Ctx;
use crate::proxy::Proxy;

pub(crate) const CASES: &[crate::Case] = &[
    ("client::connect_and_negotiate", connect_and_negotiate),
    (
        "client::metadata_of_a_created_topic",
        metadata_of_a_created_topic,
    ),
    ("client::leader_routing_produce", leader_routing_produce),
    (
        "client::find_coordinator_for_groups",
        find_coordinator_for_groups,
    ),
    (
        "client::five_hundred_concurrent_requests_on_one_connection",
        five_hundred_concurrent_requests_on_one_connection,
    ),
    (
        "client::broker_outage_mid_traffic_through_proxy",
        broker_outage_mid_traffic_through_proxy,
    ),
    (
        "client::unreachable_bootstrap_fails_before_the_deadline",
        unreachable_bootstrap_fails_before_the_deadline,
    ),
];

fn rt() -> tokio::runtime::Runtime {
    crate::common::rt()
}

fn config(ctx: &Ctx) -> ClientConfig {
    crate::common::client_config(&ctx.bootstrap, "it-client")
}

async fn create_topic(client: &Client, partitions: i32) -> String {
    crate::common::create_topic(client, "it-client", partitions).await
}

fn connect_and_negotiate(ctx: &Ctx) {
    rt().block_on(async {
        let client = Client::connect(config(ctx)).await.unwrap();
        let md = client.metadata();
        assert!(!md.brokers.is_empty());
        assert!(md.cluster_id.is_some());
        let node = *md.brokers.keys().next().unwrap();
        let conn = client.broker_connection(node).await.unwrap();
        for api in [
            ApiKey::Produce,
            ApiKey::Fetch,
            ApiKey::Metadata,
            ApiKey::FindCoordinator,
        ] {
            match conn.versions().broker_range(api) {
                Some(theirs) => {
                    let v = conn.version_for(api).unwrap();
                    assert_eq!(v, theirs.max.min(api.versions().max), "{}", api.name());
                }
                // an API the broker does not advertise has no negotiated version
                None => assert_eq!(conn.version_for(api), None, "{}", api.name()),
            }
        }
        assert_eq!(
            client.negotiated_version(ApiKey::Metadata),
            conn.version_for(ApiKey::Metadata)
        );
    });
}

fn metadata_of_a_created_topic(ctx: &Ctx) {
    rt().block_on(async {
        let client = Client::connect(config(ctx)).await.unwrap();
        let topic = create_topic(&client, 3).await;
        let md = client.metadata();
        let t = md.topic(&topic).unwrap();
        assert_ne!(t.id, kafka_protocol::Uuid::ZERO);
        assert_eq!(md.topic_by_id(t.id).unwrap().name, topic);
        assert_eq!(
            t.partitions.iter().map(|p| p.partition).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        for p in &t.partitions {
            let leader = p.leader.unwrap();
            assert!(md.broker(leader).is_some());
            assert!(p.leader_epoch >= 0);
            assert!(p.replicas.contains(&leader));
        }
        let (leader, epoch) = client.leader_for(&topic, 2).await.unwrap();
        assert_eq!(Some((leader, epoch)), md.leader_for(&topic, 2));
        // Unknown topics are reported as such, not auto-created.
        let missing = unique_topic("it-client-missing");
        let md = client.refresh_metadata([missing.clone()]).await.unwrap();
        assert_eq!(
            md.topic(&missing).and_then(|t| t.error),
            Some(ErrorCode::UnknownTopicOrPartition)
        );
    });
}

fn produce(
    client: &Client,
    topic: &str,
    id: kafka_protocol::Uuid,
    partition: i32,
    n: i64,
) -> impl Future<Output = Result<i64, Error>> {
    let mut b = RecordBatchBuilder::new(0);
    for i in 0..n {
        let v = format!("value-{i}");
        b.append(1_700_000_000_000 + i, Some(b"k"), Some(v.as_bytes()), &[])
            .unwrap();
    }
    let records: Bytes = b.build().unwrap();
    let req = crate::common::produce_request(topic, id, partition, records);
    let client = client.clone();
    let target = Target::leader(topic, partition);
    async move {
        let resp = client
            .send_checked(&target, &req, SendOptions::default(), |r| {
                r.responses
                    .first()
                    .and_then(|t| t.partition_responses.first())
                    .map(|p| ErrorCode::from_i16(p.error_code))
                    .unwrap_or(ErrorCode::UnknownServerError)
            })
            .await?;
        Ok(resp.responses[0].partition_responses[0].base_offset)
    }
}

fn leader_routing_produce(ctx: &Ctx) {
    rt().block_on(async {
        let client = Client::connect(config(ctx)).await.unwrap();
        let topic = create_topic(&client, 2).await;
        let id = client.metadata().topic(&topic).unwrap().id;
        assert_eq!(produce(&client, &topic, id, 1, 10).await.unwrap(), 0);
        assert_eq!(produce(&client, &topic, id, 1, 5).await.unwrap(), 10);
        assert_eq!(produce(&client, &topic, id, 0, 5).await.unwrap(), 0);
        // A partition that does not exist is a clear, non-hanging error.
        let mut c = config(ctx);
        c.default_api_timeout = Duration::from_secs(3);
        let short = Client::connect(c).await.unwrap();
        let err = produce(&short, &topic, id, 7, 1).await.unwrap_err();
        assert!(
            matches!(err, Error::NoLeader { .. } | Error::Timeout { .. }),
            "{err}"
        );
    });
}

fn find_coordinator_for_groups(ctx: &Ctx) {
    crate::require_api(ctx, kafka_protocol::messages::ApiKey::FindCoordinator);
    rt().block_on(async {
        let client = Client::connect(config(ctx)).await.unwrap();
        let group = unique_topic("it-group");
        let id = client
            .find_coordinator(CoordinatorType::Group, &group)
            .await
            .unwrap();
        assert!(client.metadata().broker(id).is_some());
        assert_eq!(
            client.cached_coordinator(CoordinatorType::Group, &group),
            Some(id)
        );
        let keys: Vec<String> = (0..3).map(|i| format!("{group}-{i}")).collect();
        let res = client
            .find_coordinators(CoordinatorType::Group, &keys)
            .await
            .unwrap();
        assert_eq!(res.len(), 3);
        for (k, r) in res {
            let node = r.unwrap_or_else(|e| panic!("{k}: {e}"));
            assert!(client.metadata().broker(node).is_some());
        }
        // A request routed to the coordinator.
        let resp = client
            .send(
                Target::GroupCoordinator(group.clone()),
                kafka_protocol::messages::DescribeGroupsRequest {
                    groups: vec![group.clone()],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(resp.groups[0].group_id, group);
    });
}

fn five_hundred_concurrent_requests_on_one_connection(ctx: &Ctx) {
    rt().block_on(async {
        let mut cfg = config(ctx);
        cfg.max_in_flight_requests_per_connection = 50;
        let client = Client::connect(cfg).await.unwrap();
        let node = *client.metadata().brokers.keys().next().unwrap();
        let conn = client.broker_connection(node).await.unwrap();
        let version = conn.version_for(ApiKey::Metadata).unwrap();
        let mut tasks = Vec::new();
        for i in 0..500 {
            let conn = conn.clone();
            tasks.push(tokio::spawn(async move {
                let name = format!("it-client-nonexistent-{i}");
                let req = MetadataRequest {
                    topics: Some(vec![MetadataRequestTopic {
                        name: Some(name.clone()),
                        ..Default::default()
                    }]),
                    allow_auto_topic_creation: version < 4,
                    ..Default::default()
                };
                let resp = conn.send(&req).await.unwrap();
                assert_eq!(resp.topics.len(), 1);
                assert_eq!(resp.topics[0].name.as_deref(), Some(name.as_str()));
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert!(!conn.is_closed());
        assert_eq!(conn.connection().in_flight(), 0);
    });
}

fn broker_outage_mid_traffic_through_proxy(ctx: &Ctx) {
    rt().block_on(async {
        let mut proxy = Proxy::start(ctx.bootstrap.clone()).await;
        let proxy_addr = proxy.addr;
        // Every broker address goes through the proxy (single-node cluster).
        let dialer = proxy.dialer();
        let dials = proxy.dials.clone();
        let cfg = ClientConfig::builder()
            .bootstrap_servers(proxy_addr.to_string())
            .reconnect_backoff(Duration::from_millis(20))
            .reconnect_backoff_max(Duration::from_millis(200))
            .retry_backoff(Duration::from_millis(20))
            .retry_backoff_max(Duration::from_millis(200))
            .request_timeout(Duration::from_secs(5))
            .default_api_timeout(Duration::from_secs(20))
            .build()
            .unwrap();
        let client = Client::connect_with_dialer(cfg, dialer).await.unwrap();
        let topic = create_topic(&client, 1).await;
        let id = client.metadata().topic(&topic).unwrap().id;

        // Traffic: 4 workers producing continuously, each record batch of 1.
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for _ in 0..4 {
            let (client, topic, stop, ok) =
                (client.clone(), topic.clone(), stop.clone(), ok.clone());
            workers.push(tokio::spawn(async move {
                let mut errors = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    match produce(&client, &topic, id, 0, 1).await {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => errors.push(e),
                    }
                }
                errors
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = ok.load(Ordering::SeqCst);
        assert!(before > 0, "no traffic before the outage");
        proxy.stop();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let early = ok.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let during = ok.load(Ordering::SeqCst);
        assert_eq!(early, during, "nothing can succeed while the proxy is down");
        let dials_before = dials.load(Ordering::SeqCst);
        proxy.restart().await;
        // Traffic resumes on new connections.
        let end = Instant::now() + Duration::from_secs(20);
        while ok.load(Ordering::SeqCst) < during + 20 {
            assert!(
                Instant::now() < end,
                "traffic did not resume after the outage"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            dials.load(Ordering::SeqCst) > dials_before,
            "the client reconnected"
        );
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            // The outage is shorter than the api timeout: retries hide it entirely.
            let errors = w.await.unwrap();
            assert!(errors.is_empty(), "errors: {errors:?}");
        }
        // Offsets are contiguous: every acknowledged produce is in the log.
        let last = produce(&client, &topic, id, 0, 1).await.unwrap();
        assert!(last >= ok.load(Ordering::SeqCst) as i64);
        proxy.stop();
    });
}

fn unreachable_bootstrap_fails_before_the_deadline(_ctx: &Ctx) {
    rt().block_on(async {
        // A port nobody listens on (bound then released).
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = l.local_addr().unwrap();
        drop(l);
        let cfg = ClientConfig::builder()
            .bootstrap_servers(format!("{dead},localhost:{}", dead.port()))
            .default_api_timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        let t0 = Instant::now();
        let err = Client::connect(cfg).await.unwrap_err();
        let took = t0.elapsed();
        assert!(took <= Duration::from_millis(3500), "took {took:?}");
        let s = err.to_string();
        assert!(
            s.contains(&dead.to_string()) || s.contains(&format!(":{}", dead.port())),
            "{s}"
        );
        assert!(matches!(err, Error::Timeout { .. }), "{s}");
        // An unresolvable host is also a clear error.
        let cfg = ClientConfig::builder()
            .bootstrap_servers("no-such-host.invalid:9092")
            .default_api_timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        let t0 = Instant::now();
        let err = Client::connect(cfg).await.unwrap_err();
        assert!(t0.elapsed() <= Duration::from_millis(3500));
        assert!(err.to_string().contains("no-such-host.invalid"), "{err}");
    });
}
