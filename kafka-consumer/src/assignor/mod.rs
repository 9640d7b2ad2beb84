//! Client-side partition assignors of the classic consumer group protocol.
//!
//! The group leader runs one of these on the subscriptions of all members and sends the result
//! back through the coordinator. Each assignor reproduces Apache Kafka's Java implementation
//! (kafka-clients 4.3) so that a Rust leader hands out exactly the partitions a Java leader
//! would, member for member and in the same order:
//!
//! | assignor | [`ConsumerPartitionAssignor::name`] | protocols |
//! |---|---|---|
//! | [`RangeAssignor`] | `range` | eager |
//! | [`RoundRobinAssignor`] | `roundrobin` | eager |
//! | [`StickyAssignor`] | `sticky` | eager |
//! | [`CooperativeStickyAssignor`] | `cooperative-sticky` | cooperative, eager |
//!
//! [`encode_subscription`], [`decode_subscription`], [`encode_assignment`] and
//! [`decode_assignment`] convert to and from the version-prefixed `ConsumerProtocolSubscription`
//! / `ConsumerProtocolAssignment` bytes carried in JoinGroup and SyncGroup.
//!
//! # Matching Java exactly
//!
//! Java's assignors iterate `HashMap`s in places where the order decides the result; those
//! orders are reproduced here (String/TopicPartition hash codes, bucket order). The one input
//! Rust cannot see is the insertion order of Java's group-subscription map: it is taken to be
//! member-id order (what a `BTreeMap` gives). Java fills that map in JoinGroup response order,
//! so results can differ only between members whose ids collide in the same hash bucket.
//!
//! Each call behaves like a fresh Java assignor instance: Java's `AbstractStickyAssignor` keeps
//! the highest generation seen across calls, which is not reproduced.
//!
//! # Not supported
//!
//! Rack-aware assignment (Kafka 3.5+, KIP-881) is not implemented: [`Subscription::rack_id`]
//! is carried and encoded, and [`ClusterView`] holds no replica racks, so the assignors behave
//! as Java does when partition racks are unknown.

use std::collections::BTreeMap;
use std::fmt;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::{
    ConsumerProtocolAssignment, TopicPartition as AssignmentTopicPartition,
};
use kafka_protocol::messages::consumer_protocol_subscription::{
    ConsumerProtocolSubscription, TopicPartition as SubscriptionTopicPartition,
};
use kafka_protocol::{Decodable, Encodable, ProtocolError};

pub mod cooperative_sticky;
mod java;
pub mod range;
pub mod round_robin;
pub mod sticky;

pub use cooperative_sticky::CooperativeStickyAssignor;
pub use range::RangeAssignor;
pub use round_robin::RoundRobinAssignor;
pub use sticky::StickyAssignor;

/// A group member id, as the coordinator assigned it.
pub type MemberId = String;

/// The protocol type of classic consumer groups in JoinGroup (`"consumer"`).
pub const CONSUMER_PROTOCOL_TYPE: &str = "consumer";

/// The highest `ConsumerProtocolSubscription` / `ConsumerProtocolAssignment` version (3).
pub const CONSUMER_PROTOCOL_MAX_VERSION: i16 = 3;

/// A partition of a topic.
///
/// Ordered by topic, then partition; displayed as Java does (`orders-3`).
///
/// ```
/// use kafka_consumer::assignor::TopicPartition;
/// let tp = TopicPartition::new("orders", 3);
/// assert_eq!(tp.to_string(), "orders-3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// The topic name.
    pub topic: String,
    /// The partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// A partition of `topic`.
    ///
    /// ```
    /// # use kafka_consumer::assignor::TopicPartition;
    /// assert_eq!(TopicPartition::new("t", 0).partition, 0);
    /// ```
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// The rebalance protocols an assignor can work with.
///
/// ```
/// use kafka_consumer::assignor::RebalanceProtocol;
/// assert_eq!(RebalanceProtocol::Cooperative.id(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RebalanceProtocol {
    /// Every member revokes all its partitions before rejoining.
    Eager,
    /// Members keep their partitions across a rebalance; moved partitions are revoked first
    /// and handed out in a follow-up rebalance.
    Cooperative,
}

impl RebalanceProtocol {
    /// The protocol's id in Java's `RebalanceProtocol` (0 eager, 1 cooperative).
    ///
    /// ```
    /// # use kafka_consumer::assignor::RebalanceProtocol;
    /// assert_eq!(RebalanceProtocol::Eager.id(), 0);
    /// ```
    pub fn id(self) -> u8 {
        match self {
            RebalanceProtocol::Eager => 0,
            RebalanceProtocol::Cooperative => 1,
        }
    }
}

/// What the assignors know of the cluster: the partition count of each topic.
///
/// Topics with no partitions are treated as unknown, as Java does with missing metadata.
///
/// ```
/// use kafka_consumer::assignor::ClusterView;
/// let cluster = ClusterView::new().with_topic("orders", 6).with_topic("payments", 2);
/// assert_eq!(cluster.partition_count("orders"), Some(6));
/// assert_eq!(cluster.partition_count("missing"), None);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterView {
    topics: BTreeMap<String, i32>,
}

impl ClusterView {
    /// An empty view.
    ///
    /// ```
    /// # use kafka_consumer::assignor::ClusterView;
    /// assert_eq!(ClusterView::new().topics().count(), 0);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a topic with `partitions` partitions, builder style.
    ///
    /// ```
    /// # use kafka_consumer::assignor::ClusterView;
    /// let c = ClusterView::new().with_topic("t", 3);
    /// assert_eq!(c.partition_count("t"), Some(3));
    /// ```
    pub fn with_topic(mut self, topic: impl Into<String>, partitions: i32) -> Self {
        self.insert_topic(topic, partitions);
        self
    }

    /// Adds (or replaces) a topic with `partitions` partitions.
    ///
    /// ```
    /// # use kafka_consumer::assignor::ClusterView;
    /// let mut c = ClusterView::new();
    /// c.insert_topic("t", 2);
    /// assert_eq!(c.partition_count("t"), Some(2));
    /// ```
    pub fn insert_topic(&mut self, topic: impl Into<String>, partitions: i32) {
        self.topics.insert(topic.into(), partitions);
    }

    /// The partition count of `topic`, or `None` when the topic is unknown or has none.
    ///
    /// ```
    /// # use kafka_consumer::assignor::ClusterView;
    /// assert_eq!(ClusterView::new().with_topic("t", 0).partition_count("t"), None);
    /// ```
    pub fn partition_count(&self, topic: &str) -> Option<i32> {
        self.topics.get(topic).copied().filter(|n| *n > 0)
    }

    /// Every topic with its partition count, by name.
    ///
    /// ```
    /// # use kafka_consumer::assignor::ClusterView;
    /// let c = ClusterView::new().with_topic("b", 1).with_topic("a", 2);
    /// assert_eq!(c.topics().collect::<Vec<_>>(), vec![("a", 2), ("b", 1)]);
    /// ```
    pub fn topics(&self) -> impl Iterator<Item = (&str, i32)> {
        self.topics.iter().map(|(t, n)| (t.as_str(), *n))
    }
}

impl<S: Into<String>> FromIterator<(S, i32)> for ClusterView {
    fn from_iter<I: IntoIterator<Item = (S, i32)>>(iter: I) -> Self {
        let mut c = ClusterView::new();
        for (t, n) in iter {
            c.insert_topic(t, n);
        }
        c
    }
}

/// One member's subscription, as the leader sees it in the JoinGroup response.
///
/// ```
/// use kafka_consumer::assignor::{Subscription, TopicPartition};
/// let sub = Subscription {
///     owned_partitions: vec![TopicPartition::new("orders", 0)],
///     generation_id: Some(4),
///     ..Subscription::new(["orders"])
/// };
/// assert_eq!(sub.topics, vec!["orders".to_string()]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription {
    /// Subscribed topics, in the member's order.
    pub topics: Vec<String>,
    /// Assignor-specific data (see [`ConsumerPartitionAssignor::subscription_user_data`]).
    pub user_data: Option<Bytes>,
    /// Partitions the member owns now (subscription v1+).
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation the owned partitions are from (subscription v2+); negative means none.
    pub generation_id: Option<i32>,
    /// The member's `client.rack` (subscription v3+).
    pub rack_id: Option<String>,
    /// The member's `group.instance.id` (static membership; from JoinGroup, not the metadata).
    pub group_instance_id: Option<String>,
}

impl Subscription {
    /// A subscription to `topics` with nothing else set.
    ///
    /// ```
    /// # use kafka_consumer::assignor::Subscription;
    /// assert!(Subscription::new(["a", "b"]).owned_partitions.is_empty());
    /// ```
    pub fn new<I, S>(topics: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            topics: topics.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }

    /// The generation as Java's `Subscription.generationId()` sees it (negative → none).
    pub(crate) fn generation(&self) -> Option<i32> {
        self.generation_id.filter(|g| *g >= 0)
    }
}

/// The partitions handed to one member.
///
/// ```
/// use kafka_consumer::assignor::{Assignment, TopicPartition};
/// let a = Assignment::new(vec![TopicPartition::new("t", 1)]);
/// assert!(a.user_data.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    /// Assigned partitions, in the assignor's order.
    pub partitions: Vec<TopicPartition>,
    /// Assignor-specific data for the member (none of the built-in assignors sets it).
    pub user_data: Option<Bytes>,
}

impl Assignment {
    /// An assignment of `partitions` without user data.
    ///
    /// ```
    /// # use kafka_consumer::assignor::Assignment;
    /// assert!(Assignment::new(vec![]).partitions.is_empty());
    /// ```
    pub fn new(partitions: Vec<TopicPartition>) -> Self {
        Self {
            partitions,
            user_data: None,
        }
    }
}

/// What a member received in the last completed rebalance, for
/// [`ConsumerPartitionAssignor::subscription_user_data`] (Java's `onAssignment`).
///
/// ```
/// use kafka_consumer::assignor::{PreviousAssignment, TopicPartition};
/// let prev = PreviousAssignment { partitions: vec![TopicPartition::new("t", 0)], generation_id: 3 };
/// assert_eq!(prev.generation_id, 3);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreviousAssignment {
    /// The partitions assigned to the member.
    pub partitions: Vec<TopicPartition>,
    /// The generation of that assignment.
    pub generation_id: i32,
}

/// Why an assignment or a protocol conversion failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssignorError {
    /// The consumer protocol bytes could not be encoded or decoded.
    #[error("consumer protocol metadata: {0}")]
    Protocol(#[from] ProtocolError),
    /// A consumer protocol version below 0 was requested or found.
    #[error("unsupported consumer protocol version {0}")]
    UnsupportedVersion(i16),
    /// The assignor reached a state Java's assignor rejects (an `IllegalStateException` or
    /// a failed lookup there); only inconsistent inputs (e.g. a partition listed twice) lead here.
    #[error("assignment failed: {0}")]
    Inconsistent(String),
}

/// A client-side partition assignor (Java's `ConsumerPartitionAssignor`).
///
/// ```
/// use std::collections::BTreeMap;
/// use kafka_consumer::assignor::*;
///
/// let assignors: Vec<Box<dyn ConsumerPartitionAssignor>> = vec![
///     Box::new(RangeAssignor::new()),
///     Box::new(CooperativeStickyAssignor::new()),
/// ];
/// let cluster = ClusterView::new().with_topic("t", 4);
/// let members: BTreeMap<MemberId, Subscription> =
///     [("m1".to_string(), Subscription::new(["t"])), ("m2".to_string(), Subscription::new(["t"]))]
///         .into_iter()
///         .collect();
/// for a in &assignors {
///     let out = a.assign(&cluster, &members)?;
///     assert_eq!(out.values().map(|a| a.partitions.len()).sum::<usize>(), 4);
/// }
/// # Ok::<(), AssignorError>(())
/// ```
pub trait ConsumerPartitionAssignor: Send + Sync {
    /// The protocol name announced in JoinGroup (`range`, `roundrobin`, ...).
    fn name(&self) -> &'static str;

    /// The rebalance protocols supported, preferred first.
    fn supported_protocols(&self) -> &'static [RebalanceProtocol] {
        &[RebalanceProtocol::Eager]
    }

    /// The assignor's own version (Java's `version()`, 0 for all built-in assignors).
    fn version(&self) -> i16 {
        0
    }

    /// The user data a member puts in its subscription, given its topics and what it received
    /// in the last rebalance (`None` before the first one).
    fn subscription_user_data(
        &self,
        topics: &[String],
        previous: Option<&PreviousAssignment>,
    ) -> Option<Bytes> {
        let _ = (topics, previous);
        None
    }

    /// Computes every member's assignment. Every subscribing member appears in the result.
    fn assign(
        &self,
        metadata: &ClusterView,
        subscriptions: &BTreeMap<MemberId, Subscription>,
    ) -> Result<BTreeMap<MemberId, Assignment>, AssignorError>;
}

/// Members in the iteration order of Java's group-subscription `HashMap`, filled in member-id
/// order.
pub(crate) fn java_member_order(subscriptions: &BTreeMap<MemberId, Subscription>) -> Vec<&str> {
    let mut ids: Vec<&str> = subscriptions.keys().map(String::as_str).collect();
    ids.sort_by(|a, b| java::java_cmp(a, b));
    java::string_order(ids)
}

fn clamp_version(version: i16) -> Result<i16, AssignorError> {
    if version < 0 {
        Err(AssignorError::UnsupportedVersion(version))
    } else {
        Ok(version.min(CONSUMER_PROTOCOL_MAX_VERSION))
    }
}

/// Encodes a subscription as JoinGroup protocol metadata: an `int16` version, then
/// `ConsumerProtocolSubscription` at that version (versions above 3 are written as 3).
///
/// Like Java, topics and owned partitions are sorted; owned partitions need v1+, the
/// generation v2+ and the rack v3+ (older versions drop them). The group instance id is not
/// part of the metadata.
///
/// ```
/// use kafka_consumer::assignor::*;
/// let sub = Subscription { generation_id: Some(7), ..Subscription::new(["b", "a"]) };
/// let bytes = encode_subscription(&sub, 3)?;
/// let back = decode_subscription(&bytes)?;
/// assert_eq!(back.topics, vec!["a".to_string(), "b".to_string()]);
/// assert_eq!(back.generation_id, Some(7));
/// # Ok::<(), AssignorError>(())
/// ```
pub fn encode_subscription(
    subscription: &Subscription,
    version: i16,
) -> Result<Bytes, AssignorError> {
    let version = clamp_version(version)?;
    let mut topics = subscription.topics.clone();
    topics.sort_by(|a, b| java::java_cmp(a, b));
    let mut owned = subscription.owned_partitions.clone();
    owned.sort_by(|a, b| java::java_cmp(&a.topic, &b.topic).then(a.partition.cmp(&b.partition)));
    let mut owned_partitions: Vec<SubscriptionTopicPartition> = Vec::new();
    for tp in owned {
        match owned_partitions.last_mut() {
            Some(last) if last.topic == tp.topic => last.partitions.push(tp.partition),
            _ => owned_partitions.push(SubscriptionTopicPartition {
                topic: tp.topic,
                partitions: vec![tp.partition],
            }),
        }
    }
    let data = ConsumerProtocolSubscription {
        topics,
        user_data: subscription.user_data.clone(),
        owned_partitions,
        generation_id: subscription.generation_id.unwrap_or(-1),
        rack_id: subscription.rack_id.clone(),
    };
    let mut buf = BytesMut::with_capacity(2 + data.encoded_len(version));
    buf.put_i16(version);
    data.encode(&mut buf, version)?;
    Ok(buf.freeze())
}

fn read_version(buf: &mut Bytes) -> Result<i16, AssignorError> {
    if buf.remaining() < 2 {
        return Err(ProtocolError::Truncated {
            what: "consumer protocol version",
            needed: 2,
            remaining: buf.remaining(),
        }
        .into());
    }
    clamp_version(buf.get_i16())
}

/// Decodes JoinGroup protocol metadata written by [`encode_subscription`] or any Kafka client.
///
/// Versions above 3 are read as 3 (newer versions only append fields). A negative generation
/// and an empty rack decode as `None`.
///
/// ```
/// use kafka_consumer::assignor::*;
/// let bytes = encode_subscription(&Subscription::new(["t"]), 0)?;
/// assert_eq!(&bytes[..2], &[0, 0]);
/// assert_eq!(decode_subscription(&bytes)?.topics, vec!["t".to_string()]);
/// # Ok::<(), AssignorError>(())
/// ```
pub fn decode_subscription(bytes: &[u8]) -> Result<Subscription, AssignorError> {
    let mut buf = Bytes::copy_from_slice(bytes);
    let version = read_version(&mut buf)?;
    let data = ConsumerProtocolSubscription::decode(&mut buf, version)?;
    Ok(Subscription {
        topics: data.topics,
        user_data: data.user_data,
        owned_partitions: data
            .owned_partitions
            .into_iter()
            .flat_map(|t| {
                let topic = t.topic;
                t.partitions
                    .into_iter()
                    .map(move |p| TopicPartition::new(topic.clone(), p))
            })
            .collect(),
        generation_id: Some(data.generation_id).filter(|g| *g >= 0),
        rack_id: data.rack_id.filter(|r| !r.is_empty()),
        group_instance_id: None,
    })
}

/// Encodes an assignment as SyncGroup assignment bytes: an `int16` version, then
/// `ConsumerProtocolAssignment`. Partitions are grouped by topic in order of first appearance,
/// as Java does.
///
/// ```
/// use kafka_consumer::assignor::*;
/// let a = Assignment::new(vec![TopicPartition::new("t", 1), TopicPartition::new("u", 0), TopicPartition::new("t", 0)]);
/// let back = decode_assignment(&encode_assignment(&a, 3)?)?;
/// assert_eq!(back.partitions, vec![TopicPartition::new("t", 1), TopicPartition::new("t", 0), TopicPartition::new("u", 0)]);
/// # Ok::<(), AssignorError>(())
/// ```
pub fn encode_assignment(assignment: &Assignment, version: i16) -> Result<Bytes, AssignorError> {
    let version = clamp_version(version)?;
    let mut assigned: Vec<AssignmentTopicPartition> = Vec::new();
    for tp in &assignment.partitions {
        match assigned.iter_mut().find(|t| t.topic == tp.topic) {
            Some(t) => t.partitions.push(tp.partition),
            None => assigned.push(AssignmentTopicPartition {
                topic: tp.topic.clone(),
                partitions: vec![tp.partition],
            }),
        }
    }
    let data = ConsumerProtocolAssignment {
        assigned_partitions: assigned,
        user_data: assignment.user_data.clone(),
    };
    let mut buf = BytesMut::with_capacity(2 + data.encoded_len(version));
    buf.put_i16(version);
    data.encode(&mut buf, version)?;
    Ok(buf.freeze())
}

/// Decodes SyncGroup assignment bytes (versions above 3 are read as 3).
///
/// ```
/// use kafka_consumer::assignor::*;
/// assert!(decode_assignment(&[0]).is_err());
/// ```
pub fn decode_assignment(bytes: &[u8]) -> Result<Assignment, AssignorError> {
    let mut buf = Bytes::copy_from_slice(bytes);
    let version = read_version(&mut buf)?;
    let data = ConsumerProtocolAssignment::decode(&mut buf, version)?;
    Ok(Assignment {
        partitions: data
            .assigned_partitions
            .into_iter()
            .flat_map(|t| {
                let topic = t.topic;
                t.partitions
                    .into_iter()
                    .map(move |p| TopicPartition::new(topic.clone(), p))
            })
            .collect(),
        user_data: data.user_data,
    })
}

/// Java's `MemberInfo` order: members with a group instance id first (by instance id), then
/// the others by member id.
pub(crate) fn member_info_cmp(
    a: (&str, Option<&str>),
    b: (&str, Option<&str>),
) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.1, b.1) {
        (Some(x), Some(y)) => java::java_cmp(x, y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => java::java_cmp(a.0, b.0),
    }
}

/// Topics in the order of the `partitionsPerTopic` map Java's `AbstractPartitionAssignor`
/// builds: subscribed topics collected into a `HashSet` (members in `members` order), then
/// the ones with partitions put into a `HashMap`.
pub(crate) fn java_topic_order<'a>(
    metadata: &ClusterView,
    members: &[&'a str],
    subscriptions: &'a BTreeMap<MemberId, Subscription>,
) -> Vec<(&'a str, i32)> {
    let all = java::string_order(
        members
            .iter()
            .filter_map(|m| subscriptions.get(*m))
            .flat_map(|s| s.topics.iter().map(String::as_str)),
    );
    let with_metadata: Vec<&str> = all
        .into_iter()
        .filter(|t| metadata.partition_count(t).is_some())
        .collect();
    java::string_order(with_metadata)
        .into_iter()
        .filter_map(|t| metadata.partition_count(t).map(|n| (t, n)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_versions_drop_newer_fields() -> Result<(), AssignorError> {
        let sub = Subscription {
            owned_partitions: vec![TopicPartition::new("t", 1), TopicPartition::new("t", 0)],
            generation_id: Some(5),
            rack_id: Some("r1".into()),
            user_data: Some(Bytes::from_static(b"x")),
            ..Subscription::new(["t"])
        };
        let v0 = decode_subscription(&encode_subscription(&sub, 0)?)?;
        assert!(v0.owned_partitions.is_empty());
        assert_eq!(v0.generation_id, None);
        let v1 = decode_subscription(&encode_subscription(&sub, 1)?)?;
        assert_eq!(
            v1.owned_partitions,
            vec![TopicPartition::new("t", 0), TopicPartition::new("t", 1)]
        );
        assert_eq!(v1.generation_id, None);
        let v2 = decode_subscription(&encode_subscription(&sub, 2)?)?;
        assert_eq!(v2.generation_id, Some(5));
        assert_eq!(v2.rack_id, None);
        let v3 = decode_subscription(&encode_subscription(&sub, 9)?)?;
        assert_eq!(v3.rack_id.as_deref(), Some("r1"));
        assert_eq!(v3.user_data.as_deref(), Some(&b"x"[..]));
        assert!(encode_subscription(&sub, -1).is_err());
        Ok(())
    }

    #[test]
    fn truncated_metadata_is_an_error() -> Result<(), AssignorError> {
        let bytes = encode_subscription(&Subscription::new(["topic"]), 3)?;
        for n in 0..bytes.len() - 1 {
            assert!(decode_subscription(&bytes[..n]).is_err(), "{n}");
        }
        assert!(decode_assignment(&[0, 3, 0, 0]).is_err());
        Ok(())
    }
}
