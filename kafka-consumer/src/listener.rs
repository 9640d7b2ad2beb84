//! Rebalance listeners and interceptors.

use std::collections::BTreeMap;

use crate::assignor::TopicPartition;
use crate::record::{ConsumerRecord, OffsetAndMetadata};

/// Called by [`Consumer::poll`](crate::Consumer::poll) (never from a background task) when the
/// group changes this member's partitions. Java's `ConsumerRebalanceListener`.
///
/// Order, as in Java:
/// - **eager** protocols (range, roundrobin, sticky): before rejoining, `on_partitions_revoked`
///   with every owned partition; after the rebalance, `on_partitions_assigned` with the full new
///   assignment.
/// - **cooperative** (cooperative-sticky, KIP-848): after the rebalance,
///   `on_partitions_revoked` with only the partitions that moved away (then the member rejoins
///   at once), and `on_partitions_assigned` with only the added partitions (possibly empty).
/// - `on_partitions_lost` instead of revoked when the membership was lost (session timeout,
///   fenced generation, `max.poll.interval.ms` exceeded): the partitions may already belong to
///   another member, so do not commit for them.
///
/// With `enable.auto.commit`, the consumed offsets are committed before any revocation.
///
/// ```
/// use kafka_consumer::{ConsumerRebalanceListener, TopicPartition};
///
/// struct Log;
/// impl ConsumerRebalanceListener for Log {
///     fn on_partitions_assigned(&mut self, partitions: &[TopicPartition]) {
///         println!("got {partitions:?}");
///     }
///     fn on_partitions_revoked(&mut self, partitions: &[TopicPartition]) {
///         println!("lost {partitions:?}");
///     }
/// }
/// ```
pub trait ConsumerRebalanceListener: Send {
    /// Partitions taken away in an orderly rebalance (their offsets may still be committed).
    fn on_partitions_revoked(&mut self, partitions: &[TopicPartition]);
    /// Partitions added to this member.
    fn on_partitions_assigned(&mut self, partitions: &[TopicPartition]);
    /// Partitions lost without an orderly revocation. Defaults to `on_partitions_revoked`, as
    /// in Java.
    fn on_partitions_lost(&mut self, partitions: &[TopicPartition]) {
        self.on_partitions_revoked(partitions);
    }
}

/// Sees every polled batch and every successful commit (Java's `ConsumerInterceptor`).
///
/// `on_consume` runs in `poll` after deserialization and may filter or modify records;
/// `on_commit` runs after a commit succeeds (from the committing task for async commits).
///
/// ```
/// use kafka_consumer::{ConsumerInterceptor, ConsumerRecord};
/// use bytes::Bytes;
///
/// struct DropTombstones;
/// impl ConsumerInterceptor<Option<Bytes>, Option<Bytes>> for DropTombstones {
///     fn on_consume(&self, mut records: Vec<ConsumerRecord<Option<Bytes>, Option<Bytes>>>)
///         -> Vec<ConsumerRecord<Option<Bytes>, Option<Bytes>>> {
///         records.retain(|r| r.value.is_some());
///         records
///     }
/// }
/// ```
pub trait ConsumerInterceptor<K, V>: Send + Sync {
    /// Filters or modifies records before `poll` returns them.
    fn on_consume(&self, records: Vec<ConsumerRecord<K, V>>) -> Vec<ConsumerRecord<K, V>> {
        records
    }
    /// Called with the offsets of each successful commit.
    fn on_commit(&self, offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>) {
        let _ = offsets;
    }
}

/// A listener that does nothing (the default).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopListener;

impl ConsumerRebalanceListener for NoopListener {
    fn on_partitions_revoked(&mut self, _: &[TopicPartition]) {}
    fn on_partitions_assigned(&mut self, _: &[TopicPartition]) {}
}
