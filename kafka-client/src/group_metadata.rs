//! [`ConsumerGroupMetadata`]: what a transactional producer needs to know about a consumer's
//! group membership to commit offsets inside a transaction (Java's `ConsumerGroupMetadata`).
//!
//! It lives in the client core because both role crates use it: the consumer hands it out,
//! the producer sends it with `TxnOffsetCommit` so the group coordinator can fence a zombie
//! consumer's offsets by generation and member id.

/// A consumer's group id, generation, member id and static instance id.
///
/// ```
/// use kafka_client::ConsumerGroupMetadata;
/// let m = ConsumerGroupMetadata::new("orders-app");
/// assert_eq!(m.generation_id, -1);
/// assert!(m.member_id.is_empty());
/// let joined = ConsumerGroupMetadata { generation_id: 4, member_id: "m-1".into(), ..m };
/// assert_eq!(joined.group_id, "orders-app");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConsumerGroupMetadata {
    /// The group id.
    pub group_id: String,
    /// The generation of the last join, -1 when unknown (then the coordinator skips the
    /// generation check, as for a consumer with manual assignment).
    pub generation_id: i32,
    /// The member id of the last join, empty when unknown.
    pub member_id: String,
    /// `group.instance.id` of a static member.
    pub group_instance_id: Option<String>,
}

impl ConsumerGroupMetadata {
    /// Metadata for `group_id` with no generation, member id or instance id (Java's
    /// `new ConsumerGroupMetadata(groupId)`).
    pub fn new(group_id: impl Into<String>) -> ConsumerGroupMetadata {
        ConsumerGroupMetadata {
            group_id: group_id.into(),
            generation_id: -1,
            member_id: String::new(),
            group_instance_id: None,
        }
    }
}
