//! The `range` assignor (Java's `RangeAssignor`).

use std::collections::BTreeMap;

use super::{
    Assignment, AssignorError, ClusterView, ConsumerPartitionAssignor, MemberId, Subscription,
    TopicPartition, java_member_order, java_topic_order, member_info_cmp,
};

/// Assigns each topic separately: its subscribers are ordered (static members by
/// `group.instance.id` first, then the rest by member id) and each gets a contiguous range of
/// partitions, the first `partitions % subscribers` one extra.
///
/// Co-partitioned topics therefore land on the same members. A member's list holds its topics
/// in the order Java's `HashMap` of topics iterates them.
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
/// let out = RangeAssignor::new().assign(&cluster, &members)?;
/// let tp = TopicPartition::new;
/// assert_eq!(out["c0"].partitions, vec![tp("t0", 0), tp("t0", 1), tp("t1", 0), tp("t1", 1)]);
/// assert_eq!(out["c1"].partitions, vec![tp("t0", 2), tp("t1", 2)]);
/// # Ok::<(), AssignorError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RangeAssignor;

impl RangeAssignor {
    /// The assignor's protocol name.
    pub const NAME: &'static str = "range";

    /// A range assignor.
    ///
    /// ```
    /// # use kafka_consumer::assignor::{ConsumerPartitionAssignor, RangeAssignor};
    /// assert_eq!(RangeAssignor::new().name(), "range");
    /// ```
    pub fn new() -> Self {
        Self
    }
}

impl ConsumerPartitionAssignor for RangeAssignor {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn assign(
        &self,
        metadata: &ClusterView,
        subscriptions: &BTreeMap<MemberId, Subscription>,
    ) -> Result<BTreeMap<MemberId, Assignment>, AssignorError> {
        let members = java_member_order(subscriptions);
        let mut result: BTreeMap<MemberId, Assignment> = subscriptions
            .keys()
            .map(|m| (m.clone(), Assignment::default()))
            .collect();
        for (topic, count) in java_topic_order(metadata, &members, subscriptions) {
            let mut consumers: Vec<(&str, Option<&str>)> = Vec::new();
            for m in &members {
                let Some(sub) = subscriptions.get(*m) else {
                    continue;
                };
                if sub.topics.iter().any(|t| t == topic) {
                    consumers.push((m, sub.group_instance_id.as_deref()));
                }
            }
            if consumers.is_empty() {
                continue;
            }
            consumers.sort_by(|a, b| member_info_cmp(*a, *b));
            let n = consumers.len() as i32;
            let per_consumer = count / n;
            let mut with_extra = count % n;
            let mut next = 0;
            for (consumer, _) in consumers {
                if next >= count {
                    break;
                }
                let take = per_consumer + i32::from(with_extra > 0);
                if take == 0 {
                    continue;
                }
                if take > per_consumer {
                    with_extra -= 1;
                }
                if let Some(a) = result.get_mut(consumer) {
                    a.partitions
                        .extend((next..next + take).map(|p| TopicPartition::new(topic, p)));
                }
                next += take;
            }
        }
        Ok(result)
    }
}
