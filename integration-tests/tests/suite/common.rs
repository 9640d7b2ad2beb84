//! Helpers shared by the cases that drive the async crates (client, producer, consumer).

use std::time::{Duration, Instant};

use integration_tests::unique_topic;
use kafka_client::{Client, ClientConfig, Target};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::CreateTopicsRequest;
use kafka_protocol::messages::create_topics_request::CreatableTopic;

/// A two-worker Tokio runtime for one case.
pub(crate) fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A client configuration for `bootstrap` with a 30 s API timeout.
pub(crate) fn client_config(bootstrap: &str, client_id: &str) -> ClientConfig {
    ClientConfig::builder()
        .bootstrap_servers(bootstrap)
        .client_id(client_id)
        .default_api_timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Creates a uniquely named topic through the controller and waits (30 s at most) until every
/// partition has a leader; returns its name.
pub(crate) async fn create_topic(client: &Client, prefix: &str, partitions: i32) -> String {
    let topic = unique_topic(prefix);
    let resp = client
        .send(
            Target::Controller,
            CreateTopicsRequest {
                topics: vec![CreatableTopic {
                    name: topic.clone(),
                    num_partitions: partitions,
                    replication_factor: 1,
                    configs: integration_tests::admin::topic_configs(),
                    ..Default::default()
                }],
                timeout_ms: 30_000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        ErrorCode::from_i16(resp.topics[0].error_code),
        ErrorCode::None,
        "{:?}",
        resp.topics[0].error_message
    );
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let md = client.refresh_metadata([topic.clone()]).await.unwrap();
        if md.topic(&topic).is_some_and(|t| {
            t.error.is_none()
                && t.partitions.len() == partitions as usize
                && t.partitions.iter().all(|p| p.leader.is_some())
        }) {
            return topic;
        }
        assert!(Instant::now() < end, "topic {topic} never got leaders");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A raw acks=all Produce request (30 s timeout) carrying `records` for one partition; the
/// topic named and, when known, identified by `topic_id` (`Uuid::ZERO` otherwise).
pub(crate) fn produce_request(
    topic: &str,
    topic_id: kafka_protocol::Uuid,
    partition: i32,
    records: bytes::Bytes,
) -> kafka_protocol::messages::ProduceRequest {
    use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
    kafka_protocol::messages::ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: topic.to_string(),
            topic_id,
            partition_data: vec![PartitionProduceData {
                index: partition,
                records: Some(records),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Appends `records` (one or more v2 batches) to a partition with acks=all by a raw Produce
/// request; returns the base offset the broker assigned (panics on an error code).
pub(crate) async fn produce_batches(
    client: &Client,
    topic: &str,
    partition: i32,
    records: bytes::Bytes,
) -> i64 {
    use kafka_client::SendOptions;
    let id = client.metadata().topic(topic).unwrap().id;
    let req = produce_request(topic, id, partition, records);
    let resp = client
        .send_checked(
            &Target::leader(topic, partition),
            &req,
            SendOptions::default(),
            |r| ErrorCode::from_i16(r.responses[0].partition_responses[0].error_code),
        )
        .await
        .unwrap();
    resp.responses[0].partition_responses[0].base_offset
}
