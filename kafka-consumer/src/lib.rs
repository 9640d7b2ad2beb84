//! Kafka consumer for the suite — so far only its partition assignors.
//!
//! **State:** the `Consumer` itself (fetching, group membership, offset commits) is not
//! implemented yet. What exists is [`assignor`]: the classic consumer protocol's client-side
//! partition assignors (`range`, `roundrobin`, `sticky`, `cooperative-sticky`), written to give
//! the same assignments as Apache Kafka's Java client for the same inputs, and the
//! encode/decode helpers for the subscription and assignment metadata they exchange through
//! the group coordinator.
//!
//! ```
//! use std::collections::BTreeMap;
//! use kafka_consumer::assignor::{ClusterView, ConsumerPartitionAssignor, RangeAssignor, Subscription};
//!
//! let cluster = ClusterView::new().with_topic("orders", 3);
//! let mut members = BTreeMap::new();
//! members.insert("a".to_string(), Subscription::new(["orders"]));
//! members.insert("b".to_string(), Subscription::new(["orders"]));
//! let assignment = RangeAssignor::new().assign(&cluster, &members)?;
//! assert_eq!(assignment["a"].partitions.len(), 2);
//! assert_eq!(assignment["b"].partitions.len(), 1);
//! # Ok::<(), kafka_consumer::assignor::AssignorError>(())
//! ```

pub mod assignor;
