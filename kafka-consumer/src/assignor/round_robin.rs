//! The `roundrobin` assignor (Java's `RoundRobinAssignor`).

use std::collections::BTreeMap;

use super::java::java_cmp;
use super::{
    Assignment, AssignorError, ClusterView, ConsumerPartitionAssignor, MemberId, Subscription,
    TopicPartition, java_member_order, member_info_cmp,
};

/// Lays out all subscribed partitions (topics by name, then partition) and deals them to the
/// members in turn (static members by `group.instance.id` first, then the rest by member id),
/// skipping members not subscribed to the partition's topic.
///
/// ```
/// use std::collections::BTreeMap;
/// use kafka_consumer::assignor::*;
///
/// let cluster = ClusterView::new().with_topic("t0", 3).with_topic("t1", 3);
/// let members: BTreeMap<MemberId, Subscription> = [
///     ("c0".to_string(), Subscription::new(["t0", "t1"])),
///     ("c1".to_string(), Subscription::new(["t0", "t1"])),
/// ]
/// .into_iter()
/// .collect();
/// let out = RoundRobinAssignor::new().assign(&cluster, &members)?;
/// let tp = TopicPartition::new;
/// assert_eq!(out["c0"].partitions, vec![tp("t0", 0), tp("t0", 2), tp("t1", 1)]);
/// assert_eq!(out["c1"].partitions, vec![tp("t0", 1), tp("t1", 0), tp("t1", 2)]);
/// # Ok::<(), AssignorError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RoundRobinAssignor;

impl RoundRobinAssignor {
    /// The assignor's protocol name.
    pub const NAME: &'static str = "roundrobin";

    /// A round-robin assignor.
    ///
    /// ```
    /// # use kafka_consumer::assignor::{ConsumerPartitionAssignor, RoundRobinAssignor};
    /// assert_eq!(RoundRobinAssignor::new().name(), "roundrobin");
    /// ```
    pub fn new() -> Self {
        Self
    }
}

impl ConsumerPartitionAssignor for RoundRobinAssignor {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn assign(
        &self,
        metadata: &ClusterView,
        subscriptions: &BTreeMap<MemberId, Subscription>,
    ) -> Result<BTreeMap<MemberId, Assignment>, AssignorError> {
        let mut result: BTreeMap<MemberId, Assignment> = subscriptions
            .keys()
            .map(|m| (m.clone(), Assignment::default()))
            .collect();
        let mut members: Vec<(&str, &Subscription)> = java_member_order(subscriptions)
            .into_iter()
            .filter_map(|m| subscriptions.get(m).map(|s| (m, s)))
            .collect();
        members.sort_by(|a, b| {
            member_info_cmp(
                (a.0, a.1.group_instance_id.as_deref()),
                (b.0, b.1.group_instance_id.as_deref()),
            )
        });
        let mut topics: Vec<&str> = subscriptions
            .values()
            .flat_map(|s| s.topics.iter().map(String::as_str))
            .collect();
        topics.sort_by(|a, b| java_cmp(a, b));
        topics.dedup();
        let mut cursor = 0usize;
        for topic in topics {
            let Some(count) = metadata.partition_count(topic) else {
                continue;
            };
            for partition in 0..count {
                // Skip members not subscribed to the topic (at least one is).
                let mut skipped = 0;
                while !members[cursor].1.topics.iter().any(|t| t == topic) {
                    cursor = (cursor + 1) % members.len();
                    skipped += 1;
                    if skipped > members.len() {
                        return Err(AssignorError::Inconsistent(format!(
                            "no subscriber for topic {topic}"
                        )));
                    }
                }
                if let Some(a) = result.get_mut(members[cursor].0) {
                    a.partitions.push(TopicPartition::new(topic, partition));
                }
                cursor = (cursor + 1) % members.len();
            }
        }
        Ok(result)
    }
}
