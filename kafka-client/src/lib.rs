//! The async Kafka client core under the producer, consumer and admin client.
//!
//! - [`connection`]: one tokio task per broker connection, size-prefixed frames with a maximum
//!   size, correlation ids, pipelined requests (`max.in.flight.requests.per.connection`),
//!   per-request timeouts, and every waiter failed promptly when the connection dies.
//! - [`broker`]: dialing (TCP, TLS through [`tls::TlsConfig`]), ApiVersions negotiation (highest
//!   common version per API, UNSUPPORTED_VERSION fallback), SASL ([`sasl`]), reconnect backoff.
//! - [`metadata`]: the cluster metadata cache ([`ClusterMetadata`]).
//! - [`Client`]: routing by [`Target`] (partition leader, any broker, controller, group and
//!   transaction coordinators), coalesced metadata refreshes, retries with deadlines.
//! - [`retry`]: backoff with jitter, the retry classifier, deadlines.
//! - [`config`]: [`ClientConfig`] with a typed builder and the Java client's property names.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kafka_client::Error> {
//! use kafka_client::{Client, ClientConfig, Target};
//! use kafka_protocol::messages::DescribeClusterRequest;
//!
//! let cfg = ClientConfig::builder().bootstrap_servers("localhost:9092").build()?;
//! let client = Client::connect(cfg).await?;
//! let cluster = client.send(Target::AnyBroker, DescribeClusterRequest::default()).await?;
//! println!("cluster {} has {} brokers", cluster.cluster_id, cluster.brokers.len());
//! # Ok(()) }
//! ```
//!
//! # Observability
//!
//! Every request runs in a `kafka_request` [`tracing`] span (api, version, broker, correlation
//! id, latency in ms). Through the [`metrics`] facade the crate records
//! `kafka_client_requests_total{api}`, `kafka_client_request_errors_total{api}`,
//! `kafka_client_request_latency_seconds{api}` (histogram), `kafka_client_bytes_sent_total`,
//! `kafka_client_bytes_received_total`, `kafka_client_requests_in_flight` (gauge) and
//! `kafka_client_connections_{opened,closed}_total`.

pub mod broker;
mod client;
pub mod config;
pub mod connection;
pub mod error;
pub mod group_metadata;
pub mod metadata;
pub mod retry;
pub mod sasl;
pub mod tls;

#[cfg(test)]
mod tests;

pub use broker::BrokerConnection;
pub use client::{Client, CoordinatorType, SendOptions, Target};
pub use config::ClientConfig;
pub use error::{Error, ErrorContext, Result};
pub use group_metadata::ConsumerGroupMetadata;
pub use metadata::ClusterMetadata;
