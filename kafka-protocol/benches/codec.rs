//! Codec benchmarks: record batch encode/decode (1,000 × 100-byte records, every codec),
//! ProduceRequest encode and FetchResponse decode. Throughput is reported in bytes of
//! uncompressed record data (batches) or of encoded message (requests/responses).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kafka_protocol::compression::Compression;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{FetchResponse, ProduceRequest};
use kafka_protocol::prelude::*;
use kafka_protocol::records::{RecordBatch, RecordBatchBuilder};

const N: usize = 1000;
const SIZE: usize = 100;

fn values() -> Vec<Vec<u8>> {
    // semi-compressible payloads: a counter and repeated text, like real events
    (0..N)
        .map(|i| {
            let mut v = format!(
                "{{\"id\":{i},\"user\":\"user-{}\",\"event\":\"click\",\"pad\":\"",
                i % 97
            )
            .into_bytes();
            while v.len() < SIZE - 2 {
                v.push(b'a' + (i % 26) as u8);
            }
            v.extend_from_slice(b"\"}");
            v.truncate(SIZE);
            v
        })
        .collect()
}

fn build(codec: Compression, vals: &[Vec<u8>]) -> Bytes {
    let mut b = RecordBatchBuilder::new(0).compression(codec);
    for (i, v) in vals.iter().enumerate() {
        b.append(1_700_000_000_000 + i as i64, None, Some(v), &[])
            .unwrap();
    }
    b.build().unwrap()
}

fn batches(c: &mut Criterion) {
    let vals = values();
    let mut g = c.benchmark_group("batch_1000x100");
    g.throughput(Throughput::Bytes((N * SIZE) as u64));
    for codec in Compression::ALL {
        g.bench_function(format!("encode/{}", codec.name()), |b| {
            b.iter(|| black_box(build(codec, &vals)))
        });
        let encoded = build(codec, &vals);
        g.bench_function(format!("decode/{}", codec.name()), |b| {
            b.iter(|| {
                let batch = RecordBatch::parse(encoded.clone()).unwrap();
                batch.validate_crc().unwrap();
                let mut total = 0usize;
                for r in batch.records() {
                    let r = r.unwrap();
                    total += r.value.as_ref().map_or(0, Bytes::len);
                }
                assert_eq!(total, N * SIZE);
                black_box(total)
            })
        });
    }
    g.finish();
}

fn produce_fetch(c: &mut Criterion) {
    let vals = values();
    let batch = build(Compression::None, &vals);
    let partitions = 16;
    let req = ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: "bench-topic".into(),
            partition_data: (0..partitions)
                .map(|p| PartitionProduceData {
                    index: p,
                    records: Some(batch.clone()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let version = 11;
    let len = req.encoded_len(version);
    let mut g = c.benchmark_group("messages");
    g.throughput(Throughput::Bytes(len as u64));
    g.bench_function("produce_request_encode/16x100KB", |b| {
        let mut buf = BytesMut::with_capacity(len);
        b.iter(|| {
            buf.clear();
            req.encode(&mut buf, version).unwrap();
            black_box(buf.len())
        })
    });

    let resp = FetchResponse {
        responses: vec![FetchableTopicResponse {
            topic: "bench-topic".into(),
            partitions: (0..partitions)
                .map(|p| PartitionData {
                    partition_index: p,
                    high_watermark: 1000,
                    records: Some(batch.clone()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let fv = 12;
    let mut buf = BytesMut::new();
    resp.encode(&mut buf, fv).unwrap();
    let wire = buf.freeze();
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.bench_function("fetch_response_decode/16x100KB", |b| {
        b.iter(|| {
            let mut rd = wire.clone();
            let r = FetchResponse::decode(&mut rd, fv).unwrap();
            black_box(r.responses.len())
        })
    });
    g.bench_function("fetch_response_decode_and_read_records/16x100KB", |b| {
        b.iter(|| {
            let mut rd = wire.clone();
            let r = FetchResponse::decode(&mut rd, fv).unwrap();
            let mut n = 0;
            for t in &r.responses {
                for p in &t.partitions {
                    let batch = RecordBatch::parse(p.records.clone().unwrap()).unwrap();
                    batch.validate_crc().unwrap();
                    n += batch.records().count();
                }
            }
            black_box(n)
        })
    });
    g.finish();
}

criterion_group!(benches, batches, produce_fetch);
criterion_main!(benches);
