//! The `cooperative-sticky` assignor (Java's `CooperativeStickyAssignor`).

use std::collections::{BTreeMap, HashMap, HashSet};

use bytes::{Buf, Bytes};

use super::sticky::{MemberData, assign_sticky, into_assignments};
use super::{
    Assignment, AssignorError, ClusterView, ConsumerPartitionAssignor, MemberId,
    PreviousAssignment, RebalanceProtocol, Subscription, TopicPartition,
};

/// The sticky algorithm for the cooperative protocol: members keep their partitions while the
/// group rebalances, so a partition that has to move is left out of this round's assignment
/// (its owner revokes it) and handed to its new owner in the follow-up rebalance.
///
/// Previous ownership comes from the subscription's owned partitions and generation (or, for
/// subscriptions older than v2, the generation in this assignor's user data).
///
/// ```
/// use std::collections::BTreeMap;
/// use kafka_consumer::assignor::*;
///
/// let cluster = ClusterView::new().with_topic("t", 2);
/// let owner = Subscription {
///     owned_partitions: vec![TopicPartition::new("t", 0), TopicPartition::new("t", 1)],
///     generation_id: Some(1),
///     ..Subscription::new(["t"])
/// };
/// let mut members: BTreeMap<MemberId, Subscription> =
///     [("a".to_string(), owner), ("b".to_string(), Subscription::new(["t"]))].into_iter().collect();
/// let out = CooperativeStickyAssignor::new().assign(&cluster, &members)?;
/// // "a" keeps t-0 and gives up t-1, which nobody gets until "a" has revoked it.
/// assert_eq!(out["a"].partitions, vec![TopicPartition::new("t", 0)]);
/// assert!(out["b"].partitions.is_empty());
///
/// // Follow-up rebalance: "a" now owns only t-0, so t-1 goes to "b".
/// if let Some(a) = members.get_mut("a") {
///     a.owned_partitions = out["a"].partitions.clone();
/// }
/// let out = CooperativeStickyAssignor::new().assign(&cluster, &members)?;
/// assert_eq!(out["b"].partitions, vec![TopicPartition::new("t", 1)]);
/// # Ok::<(), AssignorError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CooperativeStickyAssignor;

impl CooperativeStickyAssignor {
    /// The assignor's protocol name.
    pub const NAME: &'static str = "cooperative-sticky";

    /// A cooperative sticky assignor.
    ///
    /// ```
    /// # use kafka_consumer::assignor::{ConsumerPartitionAssignor, CooperativeStickyAssignor};
    /// assert_eq!(CooperativeStickyAssignor::new().name(), "cooperative-sticky");
    /// ```
    pub fn new() -> Self {
        Self
    }
}

fn member_data(sub: &Subscription) -> MemberData {
    if let Some(g) = sub.generation() {
        return MemberData {
            partitions: sub.owned_partitions.clone(),
            generation: Some(g),
        };
    }
    let generation = sub.user_data.as_ref().map(|ud| {
        let mut b: &[u8] = ud;
        if b.remaining() >= 4 { b.get_i32() } else { -1 }
    });
    MemberData {
        partitions: sub.owned_partitions.clone(),
        generation,
    }
}

impl ConsumerPartitionAssignor for CooperativeStickyAssignor {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn supported_protocols(&self) -> &'static [RebalanceProtocol] {
        &[RebalanceProtocol::Cooperative, RebalanceProtocol::Eager]
    }

    /// The generation of the last assignment (-1 before the first one), as an `int32`.
    fn subscription_user_data(
        &self,
        _topics: &[String],
        previous: Option<&PreviousAssignment>,
    ) -> Option<Bytes> {
        let generation = previous.map_or(-1, |p| p.generation_id);
        Some(Bytes::copy_from_slice(&generation.to_be_bytes()))
    }

    fn assign(
        &self,
        metadata: &ClusterView,
        subscriptions: &BTreeMap<MemberId, Subscription>,
    ) -> Result<BTreeMap<MemberId, Assignment>, AssignorError> {
        let result = assign_sticky(metadata, subscriptions, member_data)?;
        let mut assignment = result.assignment;
        let transferring = match result.transferring {
            Some(t) => t,
            None => transferring_ownership(subscriptions, &assignment),
        };
        for (tp, consumer) in transferring {
            if let Some(list) = assignment.get_mut(&consumer)
                && let Some(pos) = list.iter().position(|x| *x == tp)
            {
                list.remove(pos);
            }
        }
        Ok(into_assignments(subscriptions, assignment))
    }
}

/// Partitions assigned to a member that another member owned and is losing.
fn transferring_ownership(
    subscriptions: &BTreeMap<MemberId, Subscription>,
    assignment: &HashMap<String, Vec<TopicPartition>>,
) -> HashMap<TopicPartition, String> {
    let mut added: HashMap<TopicPartition, String> = HashMap::new();
    let mut revoked: HashSet<TopicPartition> = HashSet::new();
    for (consumer, assigned) in assignment {
        let owned: &[TopicPartition] = subscriptions
            .get(consumer)
            .map_or(&[][..], |s| s.owned_partitions.as_slice());
        for tp in assigned {
            if !owned.contains(tp) {
                added.insert(tp.clone(), consumer.clone());
            }
        }
        for tp in owned {
            if !assigned.contains(tp) {
                revoked.insert(tp.clone());
            }
        }
    }
    added.retain(|tp, _| revoked.contains(tp));
    added
}
