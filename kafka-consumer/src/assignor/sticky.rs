//! The `sticky` assignor (Java's `StickyAssignor`) and the engine it shares with
//! `cooperative-sticky` (Java's `AbstractStickyAssignor`).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::java::{self, PartitionSet, java_cmp};
use super::{
    Assignment, AssignorError, ClusterView, ConsumerPartitionAssignor, MemberId,
    PreviousAssignment, Subscription, TopicPartition, java_member_order,
};

/// Java's `AbstractStickyAssignor.DEFAULT_GENERATION`.
const DEFAULT_GENERATION: i32 = -1;

/// Assigns partitions as evenly as possible while keeping as many of each member's previous
/// partitions as it can (eager protocol: members give up everything before rejoining and say
/// what they had in their subscription user data).
///
/// Two algorithms, as in Java: when every member subscribes to the same topics, a quota-based
/// one (each member keeps up to `floor`/`ceil(partitions / members)` of its previous
/// partitions, the rest are dealt round-robin); otherwise a general one that assigns the
/// leftovers to the least loaded eligible members and then moves partitions until the
/// assignment is balanced, preferring moves back to a partition's previous owner.
///
/// ```
/// use std::collections::BTreeMap;
/// use kafka_consumer::assignor::*;
///
/// let sticky = StickyAssignor::new();
/// let cluster = ClusterView::new().with_topic("t", 4);
/// let prev = PreviousAssignment {
///     partitions: vec![TopicPartition::new("t", 0), TopicPartition::new("t", 3)],
///     generation_id: 1,
/// };
/// let topics = vec!["t".to_string()];
/// let members: BTreeMap<MemberId, Subscription> = [
///     ("old".to_string(), Subscription {
///         user_data: sticky.subscription_user_data(&topics, Some(&prev)),
///         ..Subscription::new(["t"])
///     }),
///     ("new".to_string(), Subscription::new(["t"])),
/// ]
/// .into_iter()
/// .collect();
/// let out = sticky.assign(&cluster, &members)?;
/// assert_eq!(out["old"].partitions, prev.partitions); // kept
/// assert_eq!(out["new"].partitions.len(), 2);
/// # Ok::<(), AssignorError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct StickyAssignor;

impl StickyAssignor {
    /// The assignor's protocol name.
    pub const NAME: &'static str = "sticky";

    /// A sticky assignor.
    ///
    /// ```
    /// # use kafka_consumer::assignor::{ConsumerPartitionAssignor, StickyAssignor};
    /// assert_eq!(StickyAssignor::new().name(), "sticky");
    /// ```
    pub fn new() -> Self {
        Self
    }

    /// Encodes the sticky assignor's user data (Java's `StickyAssignor` schema v1: the previous
    /// assignment grouped by topic, then the generation).
    ///
    /// ```
    /// use kafka_consumer::assignor::{StickyAssignor, TopicPartition};
    /// let bytes = StickyAssignor::encode_user_data(&[TopicPartition::new("t", 2)], 5);
    /// let (partitions, generation) = StickyAssignor::decode_user_data(&bytes).unwrap_or_default();
    /// assert_eq!(partitions, vec![TopicPartition::new("t", 2)]);
    /// assert_eq!(generation, Some(5));
    /// ```
    pub fn encode_user_data(partitions: &[TopicPartition], generation: i32) -> Bytes {
        // Java groups with a HashMap keyed by topic: its iteration order decides the layout.
        let topics = java::string_order(partitions.iter().map(|tp| tp.topic.as_str()));
        let mut buf = BytesMut::new();
        buf.put_i32(topics.len() as i32);
        for topic in topics {
            buf.put_i16(topic.len() as i16);
            buf.put_slice(topic.as_bytes());
            let ps: Vec<i32> = partitions
                .iter()
                .filter(|tp| tp.topic == topic)
                .map(|tp| tp.partition)
                .collect();
            buf.put_i32(ps.len() as i32);
            for p in ps {
                buf.put_i32(p);
            }
        }
        buf.put_i32(generation);
        buf.freeze()
    }

    /// Decodes sticky user data: schema v1 (with generation) or, failing that, v0 (without).
    /// `None` when neither parses (Java then treats the member as owning nothing, with the
    /// default generation).
    ///
    /// ```
    /// use kafka_consumer::assignor::StickyAssignor;
    /// assert_eq!(StickyAssignor::decode_user_data(&[0, 0, 0, 0]), Some((vec![], None)));
    /// assert_eq!(StickyAssignor::decode_user_data(&[0, 0, 0, 9]), None);
    /// ```
    pub fn decode_user_data(bytes: &[u8]) -> Option<(Vec<TopicPartition>, Option<i32>)> {
        let mut buf = bytes;
        if let Some(partitions) = read_topic_partitions(&mut buf)
            && buf.remaining() >= 4
        {
            return Some((partitions, Some(buf.get_i32())));
        }
        let mut buf = bytes;
        read_topic_partitions(&mut buf).map(|p| (p, None))
    }
}

/// Reads `[topic: string, partitions: [int32]]` as Java's `Struct` schema does.
fn read_topic_partitions(buf: &mut &[u8]) -> Option<Vec<TopicPartition>> {
    if buf.remaining() < 4 {
        return None;
    }
    let n = buf.get_i32();
    if n < 0 || n as usize > buf.remaining() {
        return None;
    }
    let mut out = Vec::new();
    for _ in 0..n {
        if buf.remaining() < 2 {
            return None;
        }
        let len = buf.get_i16();
        if len < 0 || len as usize > buf.remaining() {
            return None;
        }
        let topic = String::from_utf8_lossy(&buf[..len as usize]).into_owned();
        buf.advance(len as usize);
        if buf.remaining() < 4 {
            return None;
        }
        let count = buf.get_i32();
        if count < 0 || count as usize > buf.remaining() {
            return None;
        }
        for _ in 0..count {
            if buf.remaining() < 4 {
                return None;
            }
            out.push(TopicPartition::new(topic.clone(), buf.get_i32()));
        }
    }
    Some(out)
}

impl ConsumerPartitionAssignor for StickyAssignor {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn subscription_user_data(
        &self,
        _topics: &[String],
        previous: Option<&PreviousAssignment>,
    ) -> Option<Bytes> {
        previous.map(|p| Self::encode_user_data(&p.partitions, p.generation_id))
    }

    fn assign(
        &self,
        metadata: &ClusterView,
        subscriptions: &BTreeMap<MemberId, Subscription>,
    ) -> Result<BTreeMap<MemberId, Assignment>, AssignorError> {
        let result = assign_sticky(metadata, subscriptions, sticky_member_data)?;
        Ok(into_assignments(subscriptions, result.assignment))
    }
}

/// What a member claims to own (Java's `MemberData`).
#[derive(Debug, Clone, Default)]
pub(crate) struct MemberData {
    pub(crate) partitions: Vec<TopicPartition>,
    pub(crate) generation: Option<i32>,
}

fn sticky_member_data(sub: &Subscription) -> MemberData {
    match sub.user_data.as_deref() {
        None | Some([]) => MemberData::default(),
        Some(bytes) => match StickyAssignor::decode_user_data(bytes) {
            Some((partitions, generation)) => MemberData {
                partitions,
                generation,
            },
            None => MemberData {
                partitions: Vec::new(),
                generation: Some(DEFAULT_GENERATION),
            },
        },
    }
}

pub(crate) fn into_assignments(
    subscriptions: &BTreeMap<MemberId, Subscription>,
    mut assignment: HashMap<String, Vec<TopicPartition>>,
) -> BTreeMap<MemberId, Assignment> {
    subscriptions
        .keys()
        .map(|m| {
            (
                m.clone(),
                Assignment::new(assignment.remove(m).unwrap_or_default()),
            )
        })
        .collect()
}

/// The engine's output.
pub(crate) struct StickyResult {
    pub(crate) assignment: HashMap<String, Vec<TopicPartition>>,
    /// Partitions moving between members, when the quota-based path computed them (Java sets
    /// this to null on the general path).
    pub(crate) transferring: Option<HashMap<TopicPartition, String>>,
}

fn inconsistent(what: &str) -> AssignorError {
    AssignorError::Inconsistent(what.to_string())
}

fn remove_first<T: PartialEq>(list: &mut Vec<T>, item: &T) {
    if let Some(pos) = list.iter().position(|x| x == item) {
        list.remove(pos);
    }
}

/// Java's `AbstractStickyAssignor.assignPartitions`.
pub(crate) fn assign_sticky(
    metadata: &ClusterView,
    subscriptions: &BTreeMap<MemberId, Subscription>,
    member_data: fn(&Subscription) -> MemberData,
) -> Result<StickyResult, AssignorError> {
    let members: Vec<&str> = java_member_order(subscriptions);
    let mut partitions_per_topic: BTreeMap<&str, i32> = BTreeMap::new();
    for m in &members {
        if let Some(sub) = subscriptions.get(*m) {
            for t in &sub.topics {
                if let Some(n) = metadata.partition_count(t) {
                    partitions_per_topic.insert(t.as_str(), n);
                }
            }
        }
    }

    // allSubscriptionsEqual: also collects each member's valid owned partitions.
    let mut all_equal = true;
    let mut subscribed: HashSet<&str> = HashSet::new();
    let mut max_generation = DEFAULT_GENERATION;
    let mut owned: Vec<(String, Vec<TopicPartition>)> = Vec::new();
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    let mut previous_owner: HashMap<TopicPartition, String> = HashMap::new();
    let mut multiple_owners: HashSet<TopicPartition> = HashSet::new();
    for m in &members {
        let Some(sub) = subscriptions.get(*m) else {
            continue;
        };
        if subscribed.is_empty() {
            subscribed.extend(sub.topics.iter().map(String::as_str));
        } else if all_equal
            && !(sub.topics.len() == subscribed.len()
                && sub.topics.iter().all(|t| subscribed.contains(t.as_str())))
        {
            all_equal = false;
        }
        let data = member_data(sub);
        let generation = data.generation.unwrap_or(DEFAULT_GENERATION);
        max_generation = max_generation.max(generation);
        let me = owned.len();
        owned.push((m.to_string(), Vec::new()));
        index_of.insert(m, me);
        for tp in data.partitions {
            if !partitions_per_topic.contains_key(tp.topic.as_str()) {
                continue;
            }
            match previous_owner.get(&tp).cloned() {
                None => {
                    owned[me].1.push(tp.clone());
                    previous_owner.insert(tp, m.to_string());
                }
                Some(other) => {
                    let other_generation = subscriptions
                        .get(&other)
                        .and_then(Subscription::generation)
                        .unwrap_or(DEFAULT_GENERATION);
                    let other_index = index_of.get(other.as_str()).copied();
                    if generation == other_generation {
                        multiple_owners.insert(tp.clone());
                        if let Some(i) = other_index {
                            remove_first(&mut owned[i].1, &tp);
                        }
                        previous_owner.insert(tp, m.to_string());
                    } else if generation > other_generation {
                        owned[me].1.push(tp.clone());
                        if let Some(i) = other_index {
                            remove_first(&mut owned[i].1, &tp);
                        }
                        previous_owner.insert(tp, m.to_string());
                    }
                }
            }
        }
    }

    if all_equal {
        let mut builder = Constrained::new(&partitions_per_topic, owned, multiple_owners);
        let assignment = builder.build()?;
        Ok(StickyResult {
            assignment,
            transferring: Some(builder.transferring),
        })
    } else {
        let builder = General::new(
            &partitions_per_topic,
            &members,
            subscriptions,
            owned,
            member_data,
            max_generation,
        );
        Ok(StickyResult {
            assignment: builder.build()?,
            transferring: None,
        })
    }
}

/// All partitions of `topics` (in that order), minus `assigned` — Java's sorted merge, kept
/// as is (it assumes `assigned` holds valid, distinct partitions).
fn unassigned_by_merge(
    all: impl Iterator<Item = TopicPartition>,
    assigned: &[TopicPartition],
) -> Vec<TopicPartition> {
    let mut out = Vec::new();
    let mut it = assigned.iter();
    let Some(mut next) = it.next() else {
        return all.collect();
    };
    let mut add_directly = false;
    for tp in all {
        if add_directly || *next != tp {
            out.push(tp);
        } else {
            match it.next() {
                Some(n) => next = n,
                None => add_directly = true,
            }
        }
    }
    out
}

/// Java's `ConstrainedAssignmentBuilder` (every member subscribes to the same topics).
struct Constrained<'a> {
    partitions_per_topic: &'a BTreeMap<&'a str, i32>,
    current: Vec<(String, Vec<TopicPartition>)>,
    multiple_owners: HashSet<TopicPartition>,
    maybe_revoked: HashMap<TopicPartition, String>,
    under_min: Vec<String>,
    exactly_min: std::collections::VecDeque<String>,
    min_quota: usize,
    max_quota: usize,
    expected_over_min: usize,
    current_over_min: usize,
    assignment: HashMap<String, Vec<TopicPartition>>,
    assigned: Vec<TopicPartition>,
    transferring: HashMap<TopicPartition, String>,
}

impl<'a> Constrained<'a> {
    fn new(
        partitions_per_topic: &'a BTreeMap<&'a str, i32>,
        current: Vec<(String, Vec<TopicPartition>)>,
        multiple_owners: HashSet<TopicPartition>,
    ) -> Self {
        let total: usize = partitions_per_topic.values().map(|n| *n as usize).sum();
        let members = current.len().max(1);
        let assignment = current
            .iter()
            .map(|(m, _)| (m.clone(), Vec::new()))
            .collect();
        Self {
            partitions_per_topic,
            current,
            multiple_owners,
            maybe_revoked: HashMap::new(),
            under_min: Vec::new(),
            exactly_min: Default::default(),
            min_quota: total / members,
            max_quota: total.div_ceil(members),
            expected_over_min: total % members,
            current_over_min: 0,
            assignment,
            assigned: Vec::new(),
            transferring: HashMap::new(),
        }
    }

    fn build(&mut self) -> Result<HashMap<String, Vec<TopicPartition>>, AssignorError> {
        self.assign_owned();
        let mut topics: Vec<&str> = self.partitions_per_topic.keys().copied().collect();
        topics.sort_by(|a, b| java_cmp(a, b));
        let mut assigned = std::mem::take(&mut self.assigned);
        assigned.sort_by(|a, b| java_cmp(&a.topic, &b.topic).then(a.partition.cmp(&b.partition)));
        let ppt = self.partitions_per_topic;
        let all = topics.into_iter().flat_map(|t| {
            let n = ppt.get(t).copied().unwrap_or(0);
            (0..n).map(move |p| TopicPartition::new(t, p))
        });
        let unassigned = unassigned_by_merge(all, &assigned);
        self.under_min.sort_by(|a, b| java_cmp(a, b));
        self.exactly_min
            .make_contiguous()
            .sort_by(|a, b| java_cmp(a, b));
        self.assign_round_robin(&unassigned)?;
        self.verify_unfilled()?;
        Ok(std::mem::take(&mut self.assignment))
    }

    fn assign_owned(&mut self) {
        let current = std::mem::take(&mut self.current);
        for (consumer, owned) in current {
            let mut owned = owned;
            owned.sort_by(|a, b| {
                a.partition
                    .cmp(&b.partition)
                    .then_with(|| java_cmp(&a.topic, &b.topic))
            });
            for tp in &self.multiple_owners {
                remove_first(&mut owned, tp);
            }
            let keep = if owned.len() < self.min_quota {
                self.under_min.push(consumer.clone());
                owned.len()
            } else if owned.len() >= self.max_quota
                && self.current_over_min < self.expected_over_min
            {
                self.current_over_min += 1;
                if self.current_over_min == self.expected_over_min {
                    self.exactly_min.clear();
                }
                self.max_quota
            } else {
                if self.current_over_min < self.expected_over_min {
                    self.exactly_min.push_back(consumer.clone());
                }
                self.min_quota
            };
            for tp in owned.drain(keep..) {
                self.maybe_revoked.insert(tp, consumer.clone());
            }
            self.assigned.extend(owned.iter().cloned());
            self.assignment.entry(consumer).or_default().extend(owned);
        }
    }

    fn assign_new(&mut self, tp: &TopicPartition, consumer: &str) -> usize {
        let list = self.assignment.entry(consumer.to_string()).or_default();
        list.push(tp.clone());
        let revoked_elsewhere = self
            .maybe_revoked
            .get(tp)
            .is_some_and(|owner| owner != consumer);
        if revoked_elsewhere || self.multiple_owners.contains(tp) {
            self.transferring.insert(tp.clone(), consumer.to_string());
        }
        list.len()
    }

    fn assign_round_robin(&mut self, unassigned: &[TopicPartition]) -> Result<(), AssignorError> {
        // An iterator over `under_min` with remove(): `pos` is the next index, `last` the
        // index `next()` returned last.
        let mut pos = 0usize;
        let mut last: Option<usize> = None;
        for tp in unassigned {
            let consumer = if pos < self.under_min.len() {
                last = Some(pos);
                pos += 1;
                self.under_min[pos - 1].clone()
            } else if self.under_min.is_empty() && self.exactly_min.is_empty() {
                return Err(inconsistent("no more unfilled consumers to be assigned"));
            } else if self.under_min.is_empty() {
                match self.exactly_min.pop_front() {
                    Some(c) => c,
                    None => return Err(inconsistent("no more unfilled consumers")),
                }
            } else {
                pos = 1;
                last = Some(0);
                self.under_min[0].clone()
            };
            let count = self.assign_new(tp, &consumer);
            if count == self.min_quota {
                match last.take() {
                    Some(i) if i < self.under_min.len() => {
                        self.under_min.remove(i);
                        pos = i;
                    }
                    _ => return Err(inconsistent("iterator state")),
                }
                self.exactly_min.push_back(consumer);
            } else if count == self.max_quota {
                self.current_over_min += 1;
            }
        }
        Ok(())
    }

    fn verify_unfilled(&self) -> Result<(), AssignorError> {
        if self.under_min.is_empty() {
            return Ok(());
        }
        if self.current_over_min != self.expected_over_min {
            return Err(inconsistent(
                "expected number of members above minQuota not reached",
            ));
        }
        for m in &self.under_min {
            let n = self.assignment.get(m).map_or(0, Vec::len);
            if n != self.min_quota {
                return Err(AssignorError::Inconsistent(format!(
                    "consumer {m} doesn't reach minQuota partitions"
                )));
            }
        }
        Ok(())
    }
}

/// Member ids ordered by Java's `String.compareTo`, for the sorted-consumers set.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JavaString(String);

impl Ord for JavaString {
    fn cmp(&self, other: &Self) -> Ordering {
        java_cmp(&self.0, &other.0)
    }
}

impl PartialOrd for JavaString {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Java's `ConsumerPair`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ConsumerPair {
    src: String,
    dst: String,
}

/// Java's `PartitionMovements`, with the partition sets in `HashSet` order.
#[derive(Default)]
struct PartitionMovements {
    by_topic: HashMap<String, HashMap<ConsumerPair, PartitionSet>>,
    movements: HashMap<TopicPartition, ConsumerPair>,
}

impl PartitionMovements {
    fn remove_record(&mut self, tp: &TopicPartition) -> Option<ConsumerPair> {
        let pair = self.movements.remove(tp)?;
        if let Some(topic_moves) = self.by_topic.get_mut(&tp.topic) {
            if let Some(set) = topic_moves.get_mut(&pair) {
                set.remove_partition(tp);
                if set.is_empty() {
                    topic_moves.remove(&pair);
                }
            }
            if topic_moves.is_empty() {
                self.by_topic.remove(&tp.topic);
            }
        }
        Some(pair)
    }

    fn add_record(&mut self, tp: &TopicPartition, pair: ConsumerPair) {
        self.movements.insert(tp.clone(), pair.clone());
        self.by_topic
            .entry(tp.topic.clone())
            .or_default()
            .entry(pair)
            .or_insert_with(PartitionSet::new)
            .add(tp.clone());
    }

    fn move_partition(&mut self, tp: &TopicPartition, old: &str, new: &str) {
        if self.movements.contains_key(tp) {
            if let Some(existing) = self.remove_record(tp)
                && existing.src != new
            {
                self.add_record(
                    tp,
                    ConsumerPair {
                        src: existing.src,
                        dst: new.to_string(),
                    },
                );
            }
        } else {
            self.add_record(
                tp,
                ConsumerPair {
                    src: old.to_string(),
                    dst: new.to_string(),
                },
            );
        }
    }

    fn actual_partition_to_move(
        &self,
        tp: &TopicPartition,
        old: &str,
        new: &str,
    ) -> TopicPartition {
        let Some(topic_moves) = self.by_topic.get(&tp.topic) else {
            return tp.clone();
        };
        let old = match self.movements.get(tp) {
            Some(pair) => pair.src.as_str(),
            None => old,
        };
        let reverse = ConsumerPair {
            src: new.to_string(),
            dst: old.to_string(),
        };
        topic_moves
            .get(&reverse)
            .and_then(PartitionSet::first)
            .cloned()
            .unwrap_or_else(|| tp.clone())
    }
}

/// Java's `GeneralAssignmentBuilder` (members subscribe to different topics).
struct General<'a> {
    partitions_per_topic: &'a BTreeMap<&'a str, i32>,
    total: usize,
    members: &'a [&'a str],
    subscriptions: &'a BTreeMap<MemberId, Subscription>,
    member_data: fn(&Subscription) -> MemberData,
    max_generation: i32,
    topic_consumers: BTreeMap<&'a str, Vec<String>>,
    consumer_topics: BTreeMap<String, Vec<&'a str>>,
    current: BTreeMap<String, Vec<TopicPartition>>,
    /// Iteration order of Java's currentAssignment map (member order).
    current_order: Vec<String>,
    partition_consumer: HashMap<TopicPartition, String>,
    sorted_all: Vec<TopicPartition>,
    sorted_consumers: BTreeSet<(usize, JavaString)>,
    revocation_required: bool,
    movements: PartitionMovements,
}

#[derive(Clone)]
struct PrevOwner {
    consumer: String,
    generation: i32,
}

impl<'a> General<'a> {
    fn new(
        partitions_per_topic: &'a BTreeMap<&'a str, i32>,
        members: &'a [&'a str],
        subscriptions: &'a BTreeMap<MemberId, Subscription>,
        owned: Vec<(String, Vec<TopicPartition>)>,
        member_data: fn(&Subscription) -> MemberData,
        max_generation: i32,
    ) -> Self {
        let total = partitions_per_topic.values().map(|n| *n as usize).sum();
        let mut topic_consumers: BTreeMap<&str, Vec<String>> = partitions_per_topic
            .keys()
            .map(|t| (*t, Vec::new()))
            .collect();
        let mut consumer_topics: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        let current_order: Vec<String> = owned.iter().map(|(m, _)| m.clone()).collect();
        let mut current: BTreeMap<String, Vec<TopicPartition>> = owned.into_iter().collect();
        let mut current_order = current_order;
        for m in members {
            let Some(sub) = subscriptions.get(*m) else {
                continue;
            };
            let mut topics: Vec<&'a str> = Vec::new();
            for t in &sub.topics {
                if let Some((name, _)) = partitions_per_topic.get_key_value(t.as_str()) {
                    topics.push(*name);
                }
            }
            for t in &topics {
                if let Some(list) = topic_consumers.get_mut(t) {
                    list.push(m.to_string());
                }
            }
            consumer_topics.insert(m.to_string(), topics);
            if !current.contains_key(*m) {
                current.insert(m.to_string(), Vec::new());
                current_order.push(m.to_string());
            }
        }
        let mut partition_consumer = HashMap::new();
        for m in &current_order {
            if let Some(list) = current.get(m) {
                for tp in list {
                    partition_consumer.insert(tp.clone(), m.clone());
                }
            }
        }
        let mut sorted_topics: Vec<&str> = topic_consumers.keys().copied().collect();
        sorted_topics.sort_by(|a, b| {
            let na = topic_consumers.get(a).map_or(0, Vec::len);
            let nb = topic_consumers.get(b).map_or(0, Vec::len);
            na.cmp(&nb).then_with(|| java_cmp(a, b))
        });
        let sorted_all = sorted_topics
            .iter()
            .flat_map(|t| {
                let n = partitions_per_topic.get(t).copied().unwrap_or(0);
                (0..n).map(move |p| TopicPartition::new(*t, p))
            })
            .collect();
        Self {
            partitions_per_topic,
            total,
            members,
            subscriptions,
            member_data,
            max_generation,
            topic_consumers,
            consumer_topics,
            current,
            current_order,
            partition_consumer,
            sorted_all,
            sorted_consumers: BTreeSet::new(),
            revocation_required: false,
            movements: PartitionMovements::default(),
        }
    }

    fn size_of(&self, consumer: &str) -> usize {
        self.current.get(consumer).map_or(0, Vec::len)
    }

    fn key(&self, consumer: &str) -> (usize, JavaString) {
        (self.size_of(consumer), JavaString(consumer.to_string()))
    }

    fn unsort(&mut self, consumer: &str) {
        let key = self.key(consumer);
        self.sorted_consumers.remove(&key);
    }

    fn resort(&mut self, consumer: &str) {
        let key = self.key(consumer);
        self.sorted_consumers.insert(key);
    }

    fn potential_consumers(&self, topic: &str) -> usize {
        self.topic_consumers.get(topic).map_or(0, Vec::len)
    }

    fn build(mut self) -> Result<HashMap<String, Vec<TopicPartition>>, AssignorError> {
        let prev = self.prepopulate();
        let assigned = self.assign_owned();
        let unassigned = self.unassigned(assigned);
        let consumers: Vec<String> = self.current.keys().cloned().collect();
        for c in consumers {
            self.resort(&c);
        }
        self.balance(&prev, unassigned)?;
        Ok(self.current.into_iter().collect())
    }

    fn prepopulate(&self) -> HashMap<TopicPartition, PrevOwner> {
        let mut prev: HashMap<TopicPartition, PrevOwner> = HashMap::new();
        let mut update = |partitions: &[TopicPartition], consumer: &str, generation: i32| {
            for tp in partitions {
                let replace = prev.get(tp).is_none_or(|p| generation > p.generation);
                if replace {
                    prev.insert(
                        tp.clone(),
                        PrevOwner {
                            consumer: consumer.to_string(),
                            generation,
                        },
                    );
                }
            }
        };
        for m in self.members {
            let Some(sub) = self.subscriptions.get(*m) else {
                continue;
            };
            let data = (self.member_data)(sub);
            match data.generation {
                Some(g) if g < self.max_generation => update(&data.partitions, m, g),
                None if self.max_generation > DEFAULT_GENERATION => {
                    update(&data.partitions, m, DEFAULT_GENERATION)
                }
                _ => {}
            }
        }
        prev
    }

    fn assign_owned(&mut self) -> Vec<TopicPartition> {
        let mut assigned = Vec::new();
        for m in self.current_order.clone() {
            let Some(sub) = self.subscriptions.get(&m) else {
                if let Some(list) = self.current.remove(&m) {
                    for tp in list {
                        self.partition_consumer.remove(&tp);
                    }
                }
                continue;
            };
            let Some(list) = self.current.get_mut(&m) else {
                continue;
            };
            let mut kept = Vec::with_capacity(list.len());
            for tp in list.drain(..) {
                if !self.topic_consumers.contains_key(tp.topic.as_str()) {
                    self.partition_consumer.remove(&tp);
                } else if !sub.topics.contains(&tp.topic) {
                    self.revocation_required = true;
                } else {
                    assigned.push(tp.clone());
                    kept.push(tp);
                }
            }
            *list = kept;
        }
        assigned
    }

    fn unassigned(&self, mut assigned: Vec<TopicPartition>) -> Vec<TopicPartition> {
        if assigned.is_empty() {
            return self.sorted_all.clone();
        }
        assigned.sort_by(|a, b| {
            self.potential_consumers(&a.topic)
                .cmp(&self.potential_consumers(&b.topic))
                .then_with(|| java_cmp(&a.topic, &b.topic))
                .then(a.partition.cmp(&b.partition))
        });
        unassigned_by_merge(self.sorted_all.iter().cloned(), &assigned)
    }

    fn max_assignment_size(&self, topics: &[&str]) -> usize {
        if topics.len() == self.partitions_per_topic.len() {
            self.total
        } else {
            topics
                .iter()
                .map(|t| self.partitions_per_topic.get(t).map_or(0, |n| *n as usize))
                .sum()
        }
    }

    fn can_consumer_participate(&self, consumer: &str) -> bool {
        let list = self.current.get(consumer).map_or(&[][..], Vec::as_slice);
        let topics = self
            .consumer_topics
            .get(consumer)
            .map_or(&[][..], Vec::as_slice);
        if list.len() < self.max_assignment_size(topics) {
            return true;
        }
        list.iter()
            .any(|tp| self.potential_consumers(&tp.topic) >= 2)
    }

    fn balance_score(assignment: &BTreeMap<String, Vec<TopicPartition>>) -> usize {
        let sizes: Vec<usize> = assignment.values().map(Vec::len).collect();
        let mut score = 0;
        for i in 0..sizes.len() {
            for j in i + 1..sizes.len() {
                score += sizes[i].abs_diff(sizes[j]);
            }
        }
        score
    }

    fn first_eligible(&self, topic: &str) -> Option<String> {
        self.sorted_consumers
            .iter()
            .find(|(_, c)| {
                self.consumer_topics
                    .get(&c.0)
                    .is_some_and(|ts| ts.contains(&topic))
            })
            .map(|(_, c)| c.0.clone())
    }

    fn balance(
        &mut self,
        prev: &HashMap<TopicPartition, PrevOwner>,
        mut unassigned: Vec<TopicPartition>,
    ) -> Result<(), AssignorError> {
        let initializing = match self.sorted_consumers.iter().next_back() {
            Some((_, c)) => self.size_of(&c.0) == 0,
            None => return Ok(()),
        };
        for tp in &unassigned {
            if self.potential_consumers(&tp.topic) == 0 {
                continue;
            }
            if let Some(c) = self.first_eligible(&tp.topic) {
                self.unsort(&c);
                if let Some(list) = self.current.get_mut(&c) {
                    list.push(tp.clone());
                }
                self.partition_consumer.insert(tp.clone(), c.clone());
                self.resort(&c);
            }
        }

        let fixed_topics: HashSet<&str> = self
            .topic_consumers
            .iter()
            .filter(|(_, cs)| cs.len() < 2)
            .map(|(t, _)| *t)
            .collect();
        self.sorted_all
            .retain(|tp| !fixed_topics.contains(tp.topic.as_str()));
        unassigned.retain(|tp| !fixed_topics.contains(tp.topic.as_str()));

        let mut fixed: Vec<(String, Vec<TopicPartition>)> = Vec::new();
        let consumers: Vec<String> = self.consumer_topics.keys().cloned().collect();
        for c in consumers {
            if !self.can_consumer_participate(&c) {
                self.unsort(&c);
                if let Some(list) = self.current.remove(&c) {
                    fixed.push((c, list));
                }
            }
        }

        let pre_balance = self.current.clone();
        let pre_partition_consumer = self.partition_consumer.clone();
        if !self.revocation_required {
            self.perform_reassignments(&unassigned, prev)?;
        }
        let sorted_all = self.sorted_all.clone();
        let performed = self.perform_reassignments(&sorted_all, prev)?;
        if !initializing
            && performed
            && Self::balance_score(&self.current) >= Self::balance_score(&pre_balance)
        {
            self.current = pre_balance;
            self.partition_consumer = pre_partition_consumer;
        }
        for (c, list) in fixed {
            self.current.insert(c, list);
        }
        Ok(())
    }

    fn is_balanced(&self) -> Result<bool, AssignorError> {
        let (Some((_, first)), Some((_, last))) = (
            self.sorted_consumers.iter().next(),
            self.sorted_consumers.iter().next_back(),
        ) else {
            return Ok(true);
        };
        let min = self.size_of(&first.0);
        let max = self.size_of(&last.0);
        if min + 1 >= max {
            return Ok(true);
        }
        let mut owner: HashMap<&TopicPartition, &str> = HashMap::new();
        for (c, list) in &self.current {
            for tp in list {
                owner.insert(tp, c);
            }
        }
        for (_, consumer) in &self.sorted_consumers {
            let consumer = consumer.0.as_str();
            let list = self.current.get(consumer).map_or(&[][..], Vec::as_slice);
            let topics = self
                .consumer_topics
                .get(consumer)
                .map_or(&[][..], Vec::as_slice);
            if list.len() == self.max_assignment_size(topics) {
                continue;
            }
            for topic in topics {
                let n = self.partitions_per_topic.get(topic).copied().unwrap_or(0);
                for p in 0..n {
                    let tp = TopicPartition::new(*topic, p);
                    if list.contains(&tp) {
                        continue;
                    }
                    let other = owner
                        .get(&tp)
                        .ok_or_else(|| inconsistent("partition without owner while balancing"))?;
                    if list.len() + 1 < self.size_of(other) {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    }

    fn perform_reassignments(
        &mut self,
        partitions: &[TopicPartition],
        prev: &HashMap<TopicPartition, PrevOwner>,
    ) -> Result<bool, AssignorError> {
        let mut performed = false;
        loop {
            let mut modified = false;
            for tp in partitions {
                if self.is_balanced()? {
                    break;
                }
                let consumer = self
                    .partition_consumer
                    .get(tp)
                    .cloned()
                    .ok_or_else(|| inconsistent("partition expected to be assigned"))?;
                let size = self
                    .current
                    .get(&consumer)
                    .map(Vec::len)
                    .ok_or_else(|| inconsistent("owner of a partition is not assignable"))?;
                if let Some(p) = prev.get(tp) {
                    let prev_size = self
                        .current
                        .get(&p.consumer)
                        .map(Vec::len)
                        .ok_or_else(|| inconsistent("previous owner is not assignable"))?;
                    if size > prev_size + 1 {
                        self.reassign_to(tp, &p.consumer);
                        performed = true;
                        modified = true;
                        continue;
                    }
                }
                let mut better = false;
                if let Some(others) = self.topic_consumers.get(tp.topic.as_str()) {
                    for other in others {
                        let other_size =
                            self.current.get(other).map(Vec::len).ok_or_else(|| {
                                inconsistent("potential consumer is not assignable")
                            })?;
                        if size > other_size + 1 {
                            better = true;
                            break;
                        }
                    }
                }
                if better {
                    let new = self
                        .first_eligible(&tp.topic)
                        .ok_or_else(|| inconsistent("no consumer for partition"))?;
                    self.reassign_to(tp, &new);
                    performed = true;
                    modified = true;
                }
            }
            if !modified {
                return Ok(performed);
            }
        }
    }

    fn reassign_to(&mut self, tp: &TopicPartition, new: &str) {
        let Some(consumer) = self.partition_consumer.get(tp).cloned() else {
            return;
        };
        let to_move = self.movements.actual_partition_to_move(tp, &consumer, new);
        let Some(old) = self.partition_consumer.get(&to_move).cloned() else {
            return;
        };
        self.unsort(&old);
        self.unsort(new);
        self.movements.move_partition(&to_move, &old, new);
        if let Some(list) = self.current.get_mut(&old) {
            remove_first(list, &to_move);
        }
        if let Some(list) = self.current.get_mut(new) {
            list.push(to_move.clone());
        }
        self.partition_consumer.insert(to_move, new.to_string());
        self.resort(new);
        self.resort(&old);
    }
}
