//! The Kafka consumer of the suite, on the [`kafka_client`] core.
//!
//! - [`Consumer`]: `subscribe` (topics or a regex) as a consumer-group member, or `assign`
//!   partitions by hand; [`Consumer::poll`] batches or a [`futures::Stream`]
//!   ([`Consumer::stream`]); offsets ([`Consumer::commit_sync`], [`Consumer::commit_async`],
//!   auto commit, `committed`, `position`, `seek*`, `offsets_for_times`,
//!   `beginning_offsets`/`end_offsets`); `pause`/`resume`; [`Consumer::close`].
//! - [`ConsumerConfig`]: typed builder or the Java consumer's property names.
//! - Deserializers ([`Deserializer`]): bytes (zero-copy), `String`, big-endian integers, serde
//!   JSON.
//! - Group membership: the classic protocol (JoinGroup with KIP-394 member ids, SyncGroup with
//!   the leader running an [`assignor`], heartbeats in a background task, `max.poll.interval.ms`
//!   enforced, eager and cooperative rebalancing, static membership).
//!   [`ConsumerRebalanceListener`] and [`ConsumerInterceptor`] hook into it.
//! - The KIP-848 consumer group protocol with `group.protocol=consumer`
//!   ([`GroupProtocol::Consumer`]), as Java's `AsyncKafkaConsumer`: the coordinator assigns
//!   (`group.remote.assignor` picks its assignor), a background task sends
//!   ConsumerGroupHeartbeat, and `poll` reconciles incrementally — revoked partitions are
//!   committed (auto commit) and passed to `on_partitions_revoked` before the next heartbeat
//!   reports them released, and only then can another member get them. Fencing calls
//!   `on_partitions_lost` and rejoins; fatal coordinator answers (UNRELEASED_INSTANCE_ID,
//!   GROUP_MAX_SIZE_REACHED, UNSUPPORTED_ASSIGNOR, ...) are [`Error::Group`] from `poll`.
//!   Commits and offset fetches carry the member id and epoch. `session.timeout.ms`,
//!   `heartbeat.interval.ms` and `partition.assignment.strategy` do not apply (the broker's
//!   `group.consumer.*` settings do).
//! - The fetcher: one Fetch in flight per broker for all partitions it leads, inside an
//!   incremental fetch session per broker (KIP-227: only changed partitions are sent, removed
//!   ones forgotten; session errors fall back to a full fetch; sessions closed on `close`), up
//!   to two responses buffered per partition ahead of `poll`, records decoded lazily as
//!   zero-copy slices, control records hidden, aborted transactions dropped in
//!   `read_committed`, OFFSET_OUT_OF_RANGE reset per `auto.offset.reset`, leader changes
//!   followed through metadata refreshes.
//! - KIP-320: after a leader epoch change (and for committed offsets carrying an epoch) the
//!   position is checked with OffsetForLeaderEpoch before fetching; Fetch v12+
//!   `diverging_epoch` too. Truncation moves the position to the first diverging offset, or
//!   fails with [`Error::LogTruncation`] under `auto.offset.reset=none`.
//! - [`OffsetCommitter`]: commit from other tasks or a rebalance listener (see the
//!   `consumer_worker_pool` example).
//! - [`assignor`]: Range, RoundRobin, Sticky and CooperativeSticky, identical to Java's.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kafka_consumer::Error> {
//! use std::time::Duration;
//! use kafka_consumer::{Consumer, ConsumerConfig, TopicPartition};
//!
//! // No group: read partition 0 of "events" from the beginning.
//! let cfg = ConsumerConfig::from_properties([
//!     ("bootstrap.servers", "localhost:9092"),
//!     ("auto.offset.reset", "earliest"),
//! ])?;
//! let mut consumer = Consumer::new(cfg).await?;
//! consumer.assign([TopicPartition::new("events", 0)]).await?;
//! let records = consumer.poll(Duration::from_secs(1)).await?;
//! for r in &records {
//!     println!("offset {} value {:?} headers {}", r.offset, r.value, r.headers.len());
//! }
//! # Ok(()) }
//! ```
//!
//! The same consumer with the KIP-848 protocol:
//!
//! ```no_run
//! # async fn demo() -> Result<(), kafka_consumer::Error> {
//! use std::time::Duration;
//! use kafka_consumer::{Consumer, ConsumerConfig, GroupProtocol};
//!
//! let cfg = ConsumerConfig::from_properties([
//!     ("bootstrap.servers", "localhost:9092"),
//!     ("group.id", "billing"),
//!     ("group.protocol", "consumer"),
//!     ("group.remote.assignor", "uniform"),
//! ])?;
//! assert_eq!(cfg.group_protocol, GroupProtocol::Consumer);
//! let mut consumer = Consumer::new(cfg).await?;
//! consumer.subscribe_pattern("orders-.*").await?;
//! let records = consumer.poll(Duration::from_secs(1)).await?;
//! println!("{} records; member {:?}", records.len(), consumer.group_metadata());
//! consumer.close().await?;
//! # Ok(()) }
//! ```
//!
//! # Observability
//!
//! `tracing` events for joins, rebalances, resets, truncation and errors; through the
//! `metrics` facade: `kafka_consumer_records_consumed_total`,
//! `kafka_consumer_fetch_requests_total` (its rate is the fetch rate),
//! `kafka_consumer_fetch_latency_seconds` (histogram), `kafka_consumer_fetched_bytes_total`,
//! `kafka_consumer_fetch_session_resets_total`, `kafka_consumer_records_lag` (gauge, labels
//! `topic` and `partition`, updated by `poll`), `kafka_consumer_records_lag_max` (the largest
//! of those at the last `poll`), `kafka_consumer_commit_latency_seconds` (histogram),
//! `kafka_consumer_rebalances_total`. Per-partition lag also from [`Consumer::current_lag`]
//! (KIP-695) and the open fetch sessions from [`Consumer::fetch_sessions`].
//!
//! # Not yet
//!
//! `poll` blocks while a group (re)join is in progress (Java returns fetched records
//! meanwhile); fetching goes on in the background.

pub mod assignor;
mod committer;
pub mod config;
mod consumer;
mod error;
mod fetch_session;
mod fetcher;
mod group;
mod listener;
mod offsets;
mod record;
mod state;
mod validate;

pub use assignor::TopicPartition;
pub use committer::OffsetCommitter;
pub use config::{
    AutoOffsetReset, ConsumerConfig, ConsumerConfigBuilder, GroupProtocol, IsolationLevel,
};
pub use consumer::{CommitHandle, Consumer, RecordStream};
pub use error::{Error, Result};
pub use listener::{ConsumerInterceptor, ConsumerRebalanceListener, NoopListener};
pub use record::{
    BytesDeserializer, ConsumerRecord, Deserializer, F64Deserializer, Headers, I16Deserializer,
    I32Deserializer, I64Deserializer, JsonDeserializer, OffsetAndMetadata, OffsetAndTimestamp,
    StringDeserializer, TimestampType,
};
