//! The Kafka producer of the suite.
//!
//! [`Producer`] batches records per partition and sends them to the partition leaders:
//!
//! - **Accumulator**: one open batch per partition ([`RecordBatchBuilder`] into one buffer of
//!   `batch.size`), closed at `batch.size` or after `linger.ms`; `buffer.memory` bounds what is
//!   queued, and `send` waits for space up to `max.block.ms`.
//! - **Sender**: one task per broker drains the ready batches of *all* its partitions into one
//!   ProduceRequest (≤ `max.request.size`, rotating start), compresses each batch once, and
//!   pipelines up to `max.in.flight.requests.per.connection` requests (`acks=0` requests get no
//!   response and complete once written).
//! - **Retries** within `delivery.timeout.ms`, with metadata refresh on leader changes;
//!   per-partition errors reach the futures of that partition's records only.
//! - **Idempotence** (on by default, as in the Java client ≥ 3.0): producer id from
//!   InitProducerId, per-partition sequence numbers, order kept with up to 5 requests in flight,
//!   epoch bump on unresolved sequences; no duplicates and no reordering after retries.
//! - **Partitioning**: the Java client's murmur2 for keyed records (same partitions), uniform
//!   sticky for keyless ones (KIP-480/794), round-robin, or a custom [`partitioner::Partitioner`].
//! - **Interceptors** ([`interceptor`]), serializers ([`serializer`]), headers with duplicate
//!   keys, explicit partitions and timestamps.
//! - **Transactions** (`transactional.id`): [`Producer::init_transactions`],
//!   [`begin_transaction`](Producer::begin_transaction),
//!   [`send_offsets_to_transaction`](Producer::send_offsets_to_transaction) for
//!   consume-transform-produce, [`commit_transaction`](Producer::commit_transaction) and
//!   [`abort_transaction`](Producer::abort_transaction), with Java's state machine: an error
//!   inside a transaction is either abortable ([`ProducerError::is_abortable`]: abort, then go
//!   on) or fatal ([`ProducerError::is_fatal`]: fenced by a newer instance with the same
//!   `transactional.id`, not authorized, unsupported; close the producer). Both transaction
//!   protocols are spoken, picked from the cluster's finalized `transaction.version`: version 2
//!   (KIP-890, the Apache Kafka 4.x default) and version 1 (AddPartitionsToTxn before a
//!   partition's first batch, AddOffsetsToTxn).
//!
//! [`RecordBatchBuilder`]: kafka_protocol::records::RecordBatchBuilder
//!
//! ```no_run
//! use std::time::Duration;
//! use kafka_producer::{Producer, ProducerRecord, config::ProducerConfig};
//!
//! # async fn demo() -> Result<(), kafka_producer::ProducerError> {
//! let config = ProducerConfig::from_properties([
//!     ("bootstrap.servers", "localhost:9092"),
//!     ("compression.type", "lz4"),
//! ])?;
//! let producer: Producer<String, String> = Producer::new(config).await?;
//! let md = producer
//!     .send(ProducerRecord::new("orders", Some("order-1".to_string()), "created".to_string())
//!         .with_header("source", Some(&b"web"[..])))
//!     .await? // queued
//!     .await?; // acknowledged
//! println!("written at {}-{}@{}", md.topic, md.partition, md.offset);
//! producer.close(Duration::from_secs(10)).await?;
//! # Ok(()) }
//! ```
//!
//! Exactly-once consume-transform-produce (see `examples/exactly_once.rs` for the whole loop):
//!
//! ```no_run
//! use kafka_producer::{ConsumerGroupMetadata, Producer, ProducerRecord, TxnOffset, config::ProducerConfig};
//!
//! # async fn demo(group: ConsumerGroupMetadata) -> Result<(), kafka_producer::ProducerError> {
//! let producer: Producer<String, String> = Producer::new(ProducerConfig::from_properties([
//!     ("bootstrap.servers", "localhost:9092"),
//!     ("transactional.id", "invoicer-0"),
//! ])?)
//! .await?;
//! producer.init_transactions().await?; // fences older instances of "invoicer-0"
//! producer.begin_transaction()?;
//! producer.send(ProducerRecord::new("invoices", Some("order-1".to_string()), "42 EUR".to_string())).await?;
//! producer.send_offsets_to_transaction([TxnOffset::new("orders", 0, 101)], &group).await?;
//! if let Err(e) = producer.commit_transaction().await {
//!     if e.is_fatal() {
//!         return Err(e); // fenced: another instance took over
//!     }
//!     producer.abort_transaction().await?; // then reprocess from the committed offsets
//! }
//! # Ok(()) }
//! ```
//!
//! # Metrics
//!
//! Through the [`metrics`](https://docs.rs/metrics) facade: `kafka_producer_records_sent_total`,
//! `kafka_producer_bytes_sent_total`, `kafka_producer_record_errors_total`,
//! `kafka_producer_batch_retries_total` (counters; rates give records/s and bytes/s),
//! `kafka_producer_batch_size_bytes`, `kafka_producer_request_latency_seconds` and
//! `kafka_producer_queue_time_seconds` (histograms), beside the client core's per-request
//! metrics.

mod accumulator;
pub mod config;
mod delivery;
mod engine;
pub mod error;
pub mod interceptor;
pub mod partitioner;
mod producer;
pub mod record;
pub mod serializer;
mod transaction;
mod txn;

#[cfg(test)]
mod tests;

pub use config::{Acks, ProducerConfig};
pub use delivery::DeliveryFuture;
pub use error::ProducerError;
pub use kafka_client::ConsumerGroupMetadata;
pub use producer::{Producer, ProducerBuilder};
pub use record::{Header, ProducerRecord, RecordMetadata, Topic};
pub use transaction::TxnOffset;
