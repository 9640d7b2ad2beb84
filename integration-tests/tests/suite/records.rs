//! Record batches written by our codec, with every compression codec, are accepted by the
//! broker through Produce at several versions and come back unchanged through Fetch at several
//! versions (names and topic ids).

use bytes::Bytes;
use integration_tests::unique_topic;
use integration_tests::wire::Connection;
use kafka_protocol::ErrorCode;
use kafka_protocol::Uuid;
use kafka_protocol::compression::Compression;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, FetchRequest, ProduceRequest};
use kafka_protocol::records::{RecordBatchBuilder, RecordBatches};

use crate::Ctx;

pub(crate) const CASES: &[crate::Case] = &[(
    "records::every_codec_produce_and_fetch_at_every_version",
    every_codec_produce_and_fetch_at_every_version,
)];

fn batch(codec: Compression, tag: &str, n: i64) -> Bytes {
    let mut b = RecordBatchBuilder::new(0).compression(codec);
    for i in 0..n {
        let key = format!("{tag}-k{i}");
        let value = format!("{tag}-value-{i}-{}", "x".repeat((i as usize * 37) % 300));
        b.append(
            1_700_000_000_000 + i,
            Some(key.as_bytes()),
            Some(value.as_bytes()),
            &[("h", Some(b"1")), ("h", None)],
        )
        .unwrap();
    }
    b.build().unwrap()
}

fn every_codec_produce_and_fetch_at_every_version(ctx: &Ctx) {
    let mut c = Connection::connect(&ctx.bootstrap).unwrap();
    let topic = unique_topic("it-records");
    let topic_id = integration_tests::admin::create_topic(&mut c, &topic, 1).unwrap();
    assert_ne!(topic_id, Uuid::ZERO);

    // Produce: each codec at each common version (zstd needs v7+).
    let pr = c.common_range(ApiKey::Produce).unwrap();
    let mut expected: Vec<(String, Vec<u8>)> = Vec::new();
    let mut produced = 0;
    for v in pr.min..=pr.max {
        for codec in Compression::ALL {
            if codec == Compression::Zstd && v < 7 {
                continue;
            }
            let tag = format!("v{v}-{}", codec.name());
            let n = 20;
            let resp = c
                .send_typed(
                    ProduceRequest {
                        acks: -1,
                        timeout_ms: 30_000,
                        topic_data: vec![TopicProduceData {
                            name: if v < 13 { topic.clone() } else { String::new() },
                            topic_id: if v >= 13 { topic_id } else { Uuid::ZERO },
                            partition_data: vec![PartitionProduceData {
                                index: 0,
                                records: Some(batch(codec, &tag, n)),
                                ..Default::default()
                            }],
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                    v,
                )
                .unwrap();
            let p = &resp.responses[0].partition_responses[0];
            assert_eq!(
                ErrorCode::from(p.error_code),
                ErrorCode::None,
                "produce {tag}: {:?}",
                p.error_message
            );
            assert_eq!(p.base_offset, produced, "produce {tag}");
            for i in 0..n {
                expected.push((
                    format!("{tag}-k{i}"),
                    format!("{tag}-value-{i}-{}", "x".repeat((i as usize * 37) % 300)).into_bytes(),
                ));
            }
            produced += n;
        }
    }

    // Fetch everything back at each common version.
    let fr = c.common_range(ApiKey::Fetch).unwrap();
    for v in fr.min..=fr.max {
        let mut got: Vec<(String, Vec<u8>)> = Vec::new();
        let mut offset = 0i64;
        let mut rounds = 0;
        while offset < produced {
            rounds += 1;
            assert!(rounds < 1000, "fetch v{v} makes no progress at {offset}");
            let resp = c
                .send_typed(
                    FetchRequest {
                        replica_id: -1,
                        max_wait_ms: 100,
                        min_bytes: 1,
                        max_bytes: 1 << 20,
                        session_epoch: -1,
                        topics: vec![FetchTopic {
                            topic: if v < 13 { topic.clone() } else { String::new() },
                            topic_id: if v >= 13 { topic_id } else { Uuid::ZERO },
                            partitions: vec![FetchPartition {
                                partition: 0,
                                fetch_offset: offset,
                                partition_max_bytes: 64 << 10,
                                current_leader_epoch: -1,
                                last_fetched_epoch: -1,
                                log_start_offset: -1,
                                ..Default::default()
                            }],
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                    v,
                )
                .unwrap();
            assert_eq!(
                ErrorCode::from(resp.error_code),
                ErrorCode::None,
                "fetch v{v}"
            );
            let p = &resp.responses[0].partitions[0];
            assert_eq!(ErrorCode::from(p.error_code), ErrorCode::None, "fetch v{v}");
            assert_eq!(p.high_watermark, produced, "fetch v{v}");
            let records = p.records.clone().unwrap_or_default();
            for b in RecordBatches::new(records) {
                let b = b.unwrap();
                for r in b.records() {
                    let r = r.unwrap();
                    if r.offset < offset {
                        continue; // a compressed batch may start before the fetch offset
                    }
                    assert_eq!(r.offset, offset, "fetch v{v}");
                    let hs: Vec<_> = r.headers.iter().map(|(k, v)| (k.to_string(), v)).collect();
                    assert_eq!(
                        hs,
                        vec![
                            ("h".to_string(), Some(Bytes::from_static(b"1"))),
                            ("h".to_string(), None)
                        ]
                    );
                    got.push((
                        String::from_utf8(r.key.unwrap().to_vec()).unwrap(),
                        r.value.unwrap().to_vec(),
                    ));
                    offset += 1;
                }
            }
        }
        assert_eq!(got, expected, "fetch v{v}: records differ");
    }
    println!(
        "produced {produced} records over Produce v{}..=v{} and read them back over Fetch v{}..=v{}",
        pr.min, pr.max, fr.min, fr.max
    );
}
