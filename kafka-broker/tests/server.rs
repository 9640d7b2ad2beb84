//! The broker over real sockets: malformed input closes only the offending connection,
//! responses come back in request order, unknown ApiVersions versions get a v0 answer, and a
//! restart serves the same topics and cluster id.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use bytes::BytesMut;
use kafka_broker::{Broker, BrokerHandle};
use kafka_protocol::frame::{decode_response, encode_request};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, CreateTopicsRequest, MetadataRequest, RequestHeader, RequestKind,
    ResponseKind,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(dir: Option<&std::path::Path>) -> BrokerHandle {
    let mut b = Broker::builder()
        .listener("127.0.0.1:0")
        .socket_request_max_bytes(64 * 1024);
    if let Some(d) = dir {
        b = b.data_dir(d);
    }
    b.start().await.unwrap()
}

fn frame(api: ApiKey, version: i16, correlation: i32, body: RequestKind) -> Vec<u8> {
    let header = RequestHeader {
        request_api_key: api.key(),
        request_api_version: version,
        correlation_id: correlation,
        client_id: Some("test".into()),
        ..Default::default()
    };
    let mut out = BytesMut::new();
    encode_request(&mut out, &header, &body).unwrap();
    out.to_vec()
}

async fn read_frame(s: &mut TcpStream) -> Option<bytes::Bytes> {
    let mut len = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut len))
        .await
        .ok()?
        .ok()?;
    let n = i32::from_be_bytes(len) as usize;
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).await.ok()?;
    Some(bytes::Bytes::from(buf))
}

async fn call(
    s: &mut TcpStream,
    api: ApiKey,
    version: i16,
    corr: i32,
    body: RequestKind,
) -> ResponseKind {
    s.write_all(&frame(api, version, corr, body)).await.unwrap();
    let f = read_frame(s).await.expect("response");
    let (h, b) = decode_response(f, api, version).unwrap();
    assert_eq!(h.correlation_id, corr);
    b
}

async fn assert_closed(mut s: TcpStream, what: &str) {
    let mut buf = [0u8; 64];
    let r = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await;
    match r {
        Ok(Ok(0)) | Ok(Err(_)) => {}
        other => panic!("{what}: connection not closed: {other:?}"),
    }
}

fn api_versions() -> RequestKind {
    RequestKind::from(ApiVersionsRequest {
        client_software_name: "t".into(),
        client_software_version: "1".into(),
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_closes_only_that_connection() {
    let broker = start(None).await;
    let addr = broker.addr();
    let mut good = TcpStream::connect(addr).await.unwrap();
    call(&mut good, ApiKey::ApiVersions, 3, 1, api_versions()).await;

    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage frame", {
            let mut v = 8i32.to_be_bytes().to_vec();
            v.extend_from_slice(&[0x7f, 0x13, 0xde, 0xad, 0xbe, 0xef, 0, 1]);
            v
        }),
        ("oversized frame", (1i32 << 20).to_be_bytes().to_vec()),
        ("negative size", (-5i32).to_be_bytes().to_vec()),
        ("unknown api key", {
            let mut f = frame(ApiKey::ApiVersions, 3, 9, api_versions());
            f[4] = 0x03;
            f[5] = 0xe7; // key 999
            f
        }),
        ("truncated body", {
            let f = frame(
                ApiKey::Metadata,
                12,
                3,
                RequestKind::from(MetadataRequest {
                    topics: Some(vec![MetadataRequestTopic {
                        name: Some("some-topic-name".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
            );
            let cut = f.len() - 8;
            let mut v = ((cut - 4) as i32).to_be_bytes().to_vec();
            v.extend_from_slice(&f[4..cut]);
            v
        }),
        ("unadvertised api", {
            frame(
                ApiKey::DescribeAcls,
                1,
                4,
                RequestKind::DescribeAcls(Default::default()),
            )
        }),
        ("unsupported version", {
            let mut f = frame(
                ApiKey::Metadata,
                12,
                5,
                RequestKind::from(MetadataRequest::default()),
            );
            f[6] = 0;
            f[7] = 99;
            f
        }),
    ];
    for (what, bytes) in cases {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(&bytes).await.unwrap();
        assert_closed(s, what).await;
        // the good connection keeps working
        let r = call(
            &mut good,
            ApiKey::Metadata,
            12,
            2,
            RequestKind::from(MetadataRequest::default()),
        )
        .await;
        assert!(matches!(r, ResponseKind::Metadata(_)), "{what}");
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_api_versions_version_gets_v0_error_and_list() {
    let broker = start(None).await;
    let mut s = TcpStream::connect(broker.addr()).await.unwrap();
    let mut f = frame(ApiKey::ApiVersions, 3, 77, api_versions());
    f[6] = 0;
    f[7] = 42; // v42
    s.write_all(&f).await.unwrap();
    let resp = read_frame(&mut s).await.unwrap();
    let (h, b) = decode_response(resp, ApiKey::ApiVersions, 0).unwrap();
    assert_eq!(h.correlation_id, 77);
    let ResponseKind::ApiVersions(b) = b else {
        panic!()
    };
    assert_eq!(b.error_code, 35);
    assert!(b.api_keys.iter().any(|k| k.api_key == 0));
    // the connection stays usable
    call(&mut s, ApiKey::ApiVersions, 3, 78, api_versions()).await;
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order() {
    let broker = start(None).await;
    let mut s = TcpStream::connect(broker.addr()).await.unwrap();
    let mut all = Vec::new();
    let mut expected = Vec::new();
    for i in 0..50 {
        let (api, v, body) = if i % 3 == 0 {
            (
                ApiKey::Metadata,
                12,
                RequestKind::from(MetadataRequest {
                    topics: None,
                    ..Default::default()
                }),
            )
        } else {
            (ApiKey::ApiVersions, 3, api_versions())
        };
        all.extend(frame(api, v, 1000 + i, body));
        expected.push((api, v, 1000 + i));
    }
    s.write_all(&all).await.unwrap();
    for (api, v, corr) in expected {
        let f = read_frame(&mut s).await.unwrap();
        let (h, _) = decode_response(f, api, v).unwrap();
        assert_eq!(h.correlation_id, corr);
    }
    broker.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_serves_the_same_topics() {
    let dir = tempfile::tempdir().unwrap();
    let broker = start(Some(dir.path())).await;
    let cluster = broker.cluster_id().to_string();
    let mut s = TcpStream::connect(broker.addr()).await.unwrap();
    let r = call(
        &mut s,
        ApiKey::CreateTopics,
        7,
        1,
        RequestKind::from(CreateTopicsRequest {
            topics: vec![CreatableTopic {
                name: "kept".into(),
                num_partitions: 4,
                replication_factor: 1,
                ..Default::default()
            }],
            timeout_ms: 1000,
            ..Default::default()
        }),
    )
    .await;
    let ResponseKind::CreateTopics(r) = r else {
        panic!()
    };
    let id = r.topics[0].topic_id;
    drop(s);
    broker.shutdown().await.unwrap();

    let broker = start(Some(dir.path())).await;
    assert_eq!(broker.cluster_id(), cluster);
    let mut s = TcpStream::connect(broker.addr()).await.unwrap();
    let md = call(
        &mut s,
        ApiKey::Metadata,
        12,
        2,
        RequestKind::from(MetadataRequest {
            topics: None,
            ..Default::default()
        }),
    )
    .await;
    let ResponseKind::Metadata(md) = md else {
        panic!()
    };
    assert_eq!(md.topics.len(), 1);
    assert_eq!(md.topics[0].topic_id, id);
    assert_eq!(md.topics[0].partitions.len(), 4);
    assert_eq!(md.cluster_id.as_deref(), Some(cluster.as_str()));
    broker.shutdown().await.unwrap();
}
