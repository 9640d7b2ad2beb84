//! Property tests: the invariants Java's assignors guarantee, on random groups.

use std::collections::{BTreeMap, BTreeSet};

use kafka_consumer::assignor::{
    Assignment, ClusterView, ConsumerPartitionAssignor, CooperativeStickyAssignor, MemberId,
    PreviousAssignment, RangeAssignor, RoundRobinAssignor, StickyAssignor, Subscription,
    TopicPartition,
};
use proptest::prelude::*;

type Group = BTreeMap<MemberId, Subscription>;

#[derive(Debug, Clone)]
struct Scenario {
    cluster: ClusterView,
    group: Group,
    all_equal: bool,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        1usize..=4,
        prop::collection::vec(1i32..=12, 4),
        prop::collection::vec(
            (
                0u32..1000,
                prop::collection::vec(any::<bool>(), 4),
                any::<bool>(),
            ),
            1..=6,
        ),
        any::<bool>(),
    )
        .prop_map(|(topics, counts, members, all_equal)| {
            let names: Vec<String> = (0..topics).map(|i| format!("topic-{i}")).collect();
            let cluster: ClusterView = names.iter().cloned().zip(counts).collect();
            let mut group = Group::new();
            let mut first: Option<Vec<String>> = None;
            for (i, (tag, mask, is_static)) in members.into_iter().enumerate() {
                let mut subs: Vec<String> = names
                    .iter()
                    .zip(&mask)
                    .filter(|(_, m)| **m)
                    .map(|(n, _)| n.clone())
                    .collect();
                if subs.is_empty() {
                    subs = names.clone();
                }
                if all_equal {
                    subs = first.get_or_insert(subs).clone();
                }
                let sub = Subscription {
                    group_instance_id: is_static.then(|| format!("static-{tag}")),
                    ..Subscription::new(subs)
                };
                group.insert(format!("consumer-{i}-{tag}"), sub);
            }
            Scenario {
                cluster,
                group,
                all_equal,
            }
        })
}

fn subscribed_partitions(cluster: &ClusterView, group: &Group) -> BTreeSet<TopicPartition> {
    let topics: BTreeSet<&String> = group.values().flat_map(|s| &s.topics).collect();
    topics
        .into_iter()
        .filter_map(|t| cluster.partition_count(t).map(|n| (t, n)))
        .flat_map(|(t, n)| (0..n).map(move |p| TopicPartition::new(t.clone(), p)))
        .collect()
}

/// Every assigned partition exists, goes to a subscriber and to one member only. Returns
/// the assigned set.
fn check_valid(
    cluster: &ClusterView,
    group: &Group,
    out: &BTreeMap<MemberId, Assignment>,
) -> Result<BTreeSet<TopicPartition>, TestCaseError> {
    prop_assert_eq!(
        out.keys().collect::<Vec<_>>(),
        group.keys().collect::<Vec<_>>()
    );
    let mut seen = BTreeSet::new();
    for (m, a) in out {
        for tp in &a.partitions {
            prop_assert!(
                group[m].topics.contains(&tp.topic),
                "{} not subscribed to {}",
                m,
                tp
            );
            let n = cluster.partition_count(&tp.topic).unwrap_or(0);
            prop_assert!(tp.partition >= 0 && tp.partition < n);
            prop_assert!(seen.insert(tp.clone()), "{} assigned twice", tp);
        }
    }
    Ok(seen)
}

fn spread(out: &BTreeMap<MemberId, Assignment>) -> usize {
    let sizes = out.values().map(|a| a.partitions.len());
    sizes.clone().max().unwrap_or(0) - sizes.min().unwrap_or(0)
}

fn eager_assignors() -> Vec<Box<dyn ConsumerPartitionAssignor>> {
    vec![
        Box::new(RangeAssignor::new()),
        Box::new(RoundRobinAssignor::new()),
        Box::new(StickyAssignor::new()),
        Box::new(CooperativeStickyAssignor::new()),
    ]
}

/// The next round's group: members keep their subscriptions and report what they got.
fn next_round(
    assignor: &dyn ConsumerPartitionAssignor,
    group: &Group,
    out: &BTreeMap<MemberId, Assignment>,
    generation: i32,
) -> Group {
    group
        .iter()
        .map(|(m, s)| {
            let prev = PreviousAssignment {
                partitions: out[m].partitions.clone(),
                generation_id: generation,
            };
            let sub = Subscription {
                owned_partitions: prev.partitions.clone(),
                generation_id: Some(generation),
                user_data: assignor.subscription_user_data(&s.topics, Some(&prev)),
                ..s.clone()
            };
            (m.clone(), sub)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// From scratch every assignor hands out every subscribed partition exactly once, to
    /// subscribers only; all but range are balanced when subscriptions are equal.
    #[test]
    fn fresh_assignment_is_complete(s in scenario()) {
        for a in eager_assignors() {
            let out = a.assign(&s.cluster, &s.group).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let assigned = check_valid(&s.cluster, &s.group, &out)?;
            prop_assert_eq!(&assigned, &subscribed_partitions(&s.cluster, &s.group), "{}", a.name());
            if s.all_equal && a.name() != "range" {
                prop_assert!(spread(&out) <= 1, "{} unbalanced: {:?}", a.name(), out);
            }
        }
    }

    /// After a member leaves and one joins, the sticky assignors stay complete and balanced
    /// (equal subscriptions) and every remaining member keeps min(owned, floor quota) of its
    /// partitions.
    #[test]
    fn sticky_keeps_partitions(s in scenario(), leave in any::<prop::sample::Index>()) {
        let a = StickyAssignor::new();
        let out = a.assign(&s.cluster, &s.group).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut group = next_round(&a, &s.group, &out, 1);
        let gone = leave.get(&group.keys().cloned().collect::<Vec<_>>()).clone();
        if group.len() > 1 {
            group.remove(&gone);
        }
        let topics = s.group.values().next().map(|s| s.topics.clone()).unwrap_or_default();
        group.insert("zz-new".into(), Subscription::new(topics));
        let out2 = a.assign(&s.cluster, &group).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let assigned = check_valid(&s.cluster, &group, &out2)?;
        prop_assert_eq!(assigned, subscribed_partitions(&s.cluster, &group));
        if s.all_equal {
            prop_assert!(spread(&out2) <= 1);
            let total = subscribed_partitions(&s.cluster, &group).len();
            let min_quota = total / group.len();
            for (m, sub) in &group {
                let kept = out2[m].partitions.iter().filter(|tp| sub.owned_partitions.contains(tp)).count();
                prop_assert!(kept >= sub.owned_partitions.len().min(min_quota), "{} kept {}", m, kept);
            }
        }
    }

    /// Cooperative: a partition another member still owns is never given to a new owner in
    /// the same round; anything left unassigned is still owned by someone losing it; after
    /// the follow-up round everything is assigned again.
    #[test]
    fn cooperative_withholds_moving_partitions(s in scenario(), leave in any::<prop::sample::Index>()) {
        let a = CooperativeStickyAssignor::new();
        let out = a.assign(&s.cluster, &s.group).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut group = next_round(&a, &s.group, &out, 1);
        let ids: Vec<String> = group.keys().cloned().collect();
        let gone = leave.get(&ids).clone();
        if group.len() > 2 {
            group.remove(&gone);
        }
        let topics = s.group.values().next().map(|s| s.topics.clone()).unwrap_or_default();
        group.insert("aa-new".into(), Subscription::new(topics.clone()));
        group.insert("zz-new".into(), Subscription::new(topics));
        let out2 = a.assign(&s.cluster, &group).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let assigned = check_valid(&s.cluster, &group, &out2)?;
        for (m, asg) in &out2 {
            for tp in &asg.partitions {
                for (other, sub) in &group {
                    prop_assert!(
                        other == m || !sub.owned_partitions.contains(tp),
                        "{} given to {} while {} still owns it", tp, m, other
                    );
                }
            }
        }
        for tp in subscribed_partitions(&s.cluster, &group).difference(&assigned) {
            prop_assert!(
                group.iter().any(|(m, sub)| sub.owned_partitions.contains(tp) && !out2[m].partitions.contains(tp)),
                "{} withheld but nobody is revoking it", tp
            );
        }
        // Follow-up rebalance once the revocations are done.
        let group3 = next_round(&a, &group, &out2, 2);
        let out3 = a.assign(&s.cluster, &group3).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let assigned3 = check_valid(&s.cluster, &group3, &out3)?;
        let withheld_again: Vec<_> = subscribed_partitions(&s.cluster, &group3).difference(&assigned3).cloned().collect();
        for tp in &withheld_again {
            prop_assert!(
                group3.iter().any(|(m, sub)| sub.owned_partitions.contains(tp) && !out3[m].partitions.contains(tp)),
                "{} withheld but nobody is revoking it", tp
            );
        }
        if s.all_equal {
            // Equal subscriptions: the quota algorithm settles in one follow-up.
            prop_assert!(withheld_again.is_empty(), "still withheld: {:?}", withheld_again);
        }
    }
}
