//! A tour of `kafka-protocol` without a broker: build record batches with each compression
//! codec, wrap them in a ProduceRequest frame as a client would send it, decode the frame as a
//! broker would, and read the records back (zero-copy).
//!
//! Run: `cargo run --release -p examples --example codec_demo`

use bytes::BytesMut;
use kafka_protocol::compression::Compression;
use kafka_protocol::frame::{decode_request, encode_request};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, RequestHeader, RequestKind};
use kafka_protocol::records::{RecordBatchBuilder, RecordBatches};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let version = ApiKey::Produce.versions().max.min(12);
    let mut partitions = Vec::new();
    println!("record batches of 1,000 JSON-ish records (~100 bytes each):");
    for (i, codec) in Compression::ALL.iter().copied().enumerate() {
        let mut b = RecordBatchBuilder::new(0).compression(codec);
        for n in 0..1000 {
            let key = format!("user-{}", n % 10);
            let value = format!(
                "{{\"n\":{n},\"event\":\"page_view\",\"path\":\"/products/{}\"}}",
                n % 50
            );
            b.append(
                1_700_000_000_000 + n,
                Some(key.as_bytes()),
                Some(value.as_bytes()),
                &[("source", Some(b"demo"))],
            )?;
        }
        let raw = b.uncompressed_size();
        let batch = b.build()?;
        println!(
            "  {:<7} {:>7} bytes on the wire ({:>5.1}% of {raw} bytes of records)",
            codec.name(),
            batch.len(),
            100.0 * batch.len() as f64 / raw as f64
        );
        partitions.push(PartitionProduceData {
            index: i as i32,
            records: Some(batch),
            ..Default::default()
        });
    }

    let request = ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: "demo-topic".into(),
            partition_data: partitions,
            ..Default::default()
        }],
        ..Default::default()
    };
    let header = RequestHeader {
        request_api_key: ApiKey::Produce.key(),
        request_api_version: version,
        correlation_id: 1,
        client_id: Some("codec-demo".into()),
        ..Default::default()
    };
    let mut frame = BytesMut::new();
    encode_request(&mut frame, &header, &RequestKind::from(request))?;
    println!(
        "\nProduceRequest v{version} frame: {} bytes (header v{})",
        frame.len(),
        ApiKey::Produce.request_header_version(version)
    );

    // What a broker does with it.
    let frame = frame.freeze().slice(4..);
    let (h, body) = decode_request(frame)?;
    let RequestKind::Produce(req) = body else {
        return Err("not a produce request".into());
    };
    println!(
        "decoded: correlation id {}, client {:?}, acks {}",
        h.correlation_id,
        h.client_id.as_deref().unwrap_or(""),
        req.acks
    );
    for t in &req.topic_data {
        for p in &t.partition_data {
            let Some(records) = p.records.clone() else {
                continue;
            };
            for batch in RecordBatches::new(records) {
                let batch = batch?;
                let mut count = 0;
                let mut last = None;
                for r in batch.records() {
                    let r = r?;
                    count += 1;
                    last = Some(r);
                }
                let last = last.ok_or("empty batch")?;
                println!(
                    "  {}[{}] {:<6}: {count} records, last key {:?}, header source={:?}",
                    t.name,
                    p.index,
                    batch.compression().name(),
                    String::from_utf8_lossy(last.key.as_deref().unwrap_or_default()),
                    last.headers
                        .iter()
                        .next()
                        .and_then(|(_, v)| v)
                        .map(|v| String::from_utf8_lossy(&v).into_owned())
                );
            }
        }
    }
    println!("\nThe quickstart with a real broker arrives with the bundled broker; see README.md.");
    Ok(())
}
