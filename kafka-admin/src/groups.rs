//! Consumer groups: list, describe (classic, KIP-848 and share groups), delete, offsets
//! (list several groups, alter, delete), remove members, and the [`AdminClient::lag`] helper.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use bytes::{Buf, Bytes};
use kafka_client::{CoordinatorType, Target};
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    ApiKey, ConsumerGroupDescribeRequest, ConsumerProtocolAssignment, DeleteGroupsRequest,
    DescribeGroupsRequest, LeaveGroupRequest, ListGroupsRequest, OffsetCommitRequest,
    OffsetDeleteRequest, OffsetFetchRequest, ShareGroupDescribeRequest,
};
use kafka_protocol::{Decodable, ErrorCode, Message};
use tokio::time::Instant;

use crate::client::{AdminClient, options};
use crate::error::{AdminError, Result, check};
use crate::offsets::{ListOffsetsOptions, OffsetSpec};
use crate::topics::fill_missing;
use crate::types::{AclOperation, TopicPartition, authorized_operations, by_topic};

options!(
    /// Options of [`AdminClient::list_groups`].
    ListGroupsOptions {
        /// Only groups in these states (`Stable`, `Empty`, …; ListGroups v4+, else filtered
        /// here).
        states: Vec<String> = Vec::new(),
        /// Only groups of these types (`classic`, `consumer`, `share`, `streams`; ListGroups
        /// v5+, else filtered here).
        types: Vec<String> = Vec::new(),
    }
);

/// A listed group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    /// Group id.
    pub group_id: String,
    /// Protocol type (`consumer` for consumer groups, empty for simple/share groups).
    pub protocol_type: String,
    /// State (None before ListGroups v4).
    pub state: Option<String>,
    /// Type (None before ListGroups v5).
    pub group_type: Option<String>,
}

/// What [`AdminClient::list_groups`] returns: the groups every broker that answered knows,
/// and the brokers that failed.
#[derive(Debug, Clone)]
pub struct ListGroupsResult {
    /// Groups by id.
    pub groups: BTreeMap<String, GroupListing>,
    /// Brokers that failed, with their error.
    pub broker_errors: BTreeMap<i32, AdminError>,
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    /// Member id.
    pub member_id: String,
    /// Static membership instance id.
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host.
    pub client_host: String,
    /// Assigned partitions (decoded when the group uses the consumer protocol).
    pub assignment: BTreeSet<TopicPartition>,
    /// Target assignment (KIP-848 groups only).
    pub target_assignment: Option<BTreeSet<TopicPartition>>,
    /// Subscribed topics (KIP-848 and share groups only).
    pub subscribed_topics: Vec<String>,
    /// Member epoch (KIP-848 and share groups only).
    pub member_epoch: Option<i32>,
}

/// A described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    /// Group id.
    pub group_id: String,
    /// State.
    pub state: String,
    /// Protocol type (classic groups), `consumer` / `share` for the new protocols.
    pub protocol_type: String,
    /// Assignor (classic: the protocol name; KIP-848/share: the server assignor).
    pub assignor: String,
    /// The coordinator's node id.
    pub coordinator: i32,
    /// Group epoch (KIP-848 and share groups).
    pub group_epoch: Option<i32>,
    /// Members.
    pub members: Vec<MemberDescription>,
    /// Authorized operations, when asked for.
    pub authorized_operations: Option<BTreeSet<AclOperation>>,
}

/// Per-group results.
#[derive(Debug, Clone)]
pub struct GroupsResult<T> {
    /// One result per requested group.
    pub per_group: BTreeMap<String, Result<T>>,
}

impl<T> GroupsResult<T> {
    /// The first failure, if any group failed.
    pub fn first_error(&self) -> Option<&AdminError> {
        self.per_group.values().find_map(|r| r.as_ref().err())
    }
    /// Whether every group succeeded.
    pub fn is_ok(&self) -> bool {
        self.first_error().is_none()
    }
}

options!(
    /// Options of the describe-groups calls.
    DescribeGroupsOptions {
        /// Ask for the caller's authorized operations.
        include_authorized_operations: bool = false,
    }
);

/// A committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// Offset.
    pub offset: i64,
    /// Leader epoch (None: unknown).
    pub leader_epoch: Option<i32>,
    /// Metadata string.
    pub metadata: String,
}

impl OffsetAndMetadata {
    /// An offset without epoch or metadata.
    pub fn new(offset: i64) -> OffsetAndMetadata {
        OffsetAndMetadata {
            offset,
            leader_epoch: None,
            metadata: String::new(),
        }
    }
}

/// Committed offsets of one group: partition → offset (partitions without a commit are
/// left out when all partitions were asked for).
pub type GroupOffsets = BTreeMap<TopicPartition, Result<OffsetAndMetadata>>;

/// Members to remove from a group ([`AdminClient::remove_members_from_consumer_group`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembersToRemove {
    /// Every current member (the group is described first).
    All,
    /// Static members by `group.instance.id`.
    Instances(Vec<String>),
    /// Dynamic members by member id.
    MemberIds(Vec<String>),
}

/// Lag of one partition.
#[derive(Debug, Clone)]
pub struct PartitionLag {
    /// Committed offset.
    pub committed: i64,
    /// End offset (high watermark), or why it is unknown.
    pub end_offset: Result<i64>,
    /// `end_offset - committed` (None when the end offset is unknown).
    pub lag: Option<i64>,
}

/// What [`AdminClient::lag`] returns.
#[derive(Debug, Clone)]
pub struct GroupLag {
    /// Group id.
    pub group_id: String,
    /// Lag per committed partition.
    pub per_partition: BTreeMap<TopicPartition, PartitionLag>,
}

impl GroupLag {
    /// Sum of the known lags.
    pub fn total(&self) -> i64 {
        self.per_partition.values().filter_map(|l| l.lag).sum()
    }
}

/// Decodes a classic consumer-protocol assignment (version prefix, then the body).
///
/// ```
/// use kafka_admin::decode_consumer_assignment;
/// // version 0, one topic "t" with partitions [0, 2], no user data
/// let bytes = [0u8, 0, 0, 0, 0, 1, 0, 1, b't', 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff];
/// let a = decode_consumer_assignment(&bytes).unwrap();
/// assert_eq!(a.len(), 2);
/// assert!(decode_consumer_assignment(&[]).unwrap().is_empty());
/// assert!(decode_consumer_assignment(&[0, 0, 0]).is_err());
/// ```
pub fn decode_consumer_assignment(bytes: &[u8]) -> Result<BTreeSet<TopicPartition>> {
    if bytes.is_empty() {
        return Ok(BTreeSet::new());
    }
    let mut buf = Bytes::copy_from_slice(bytes);
    if buf.remaining() < 2 {
        return Err(AdminError::Malformed(
            "assignment shorter than its version".into(),
        ));
    }
    let version = buf.get_i16();
    let v = version.clamp(0, ConsumerProtocolAssignment::VERSIONS.max);
    let a = ConsumerProtocolAssignment::decode(&mut buf, v)
        .map_err(|e| AdminError::Malformed(format!("consumer assignment: {e}")))?;
    Ok(a.assigned_partitions
        .into_iter()
        .flat_map(|t| {
            let topic = t.topic;
            t.partitions
                .into_iter()
                .map(move |p| TopicPartition::new(topic.clone(), p))
        })
        .collect())
}

impl AdminClient {
    /// Looks up coordinators of `keys` (one batched FindCoordinator), calls `f(coordinator,
    /// keys)` per coordinator, and retries keys whose answer is a retriable error (coordinator
    /// moved or loading) until `deadline`.
    pub(crate) async fn by_coordinator<T, F, Fut>(
        &self,
        kind: CoordinatorType,
        keys: Vec<String>,
        deadline: Instant,
        f: F,
    ) -> BTreeMap<String, Result<T>>
    where
        F: Fn(i32, Vec<String>) -> Fut,
        Fut: Future<Output = Result<Vec<(String, Result<T>)>>>,
    {
        let mut out: BTreeMap<String, Result<T>> = BTreeMap::new();
        let mut todo = keys;
        let mut backoff = Duration::from_millis(50);
        loop {
            let mut retry = Vec::new();
            match self.client.find_coordinators(kind, &todo).await {
                Err(e) => {
                    let e = AdminError::from(e);
                    for k in todo {
                        out.insert(k, Err(e.clone()));
                    }
                    return out;
                }
                Ok(found) => {
                    let mut groups: BTreeMap<i32, Vec<String>> = BTreeMap::new();
                    for (k, r) in found {
                        match r {
                            Ok(id) => groups.entry(id).or_default().push(k),
                            Err(e) => {
                                out.insert(k, Err(e.into()));
                            }
                        }
                    }
                    for (node, ks) in groups {
                        match f(node, ks.clone()).await {
                            Ok(answers) => {
                                for (k, r) in answers {
                                    if let Err(e) = &r
                                        && e.is_retriable()
                                    {
                                        self.client.invalidate_coordinator(kind, &k);
                                        retry.push(k.clone());
                                    }
                                    out.insert(k, r);
                                }
                            }
                            Err(e) => {
                                for k in ks {
                                    if e.is_retriable() {
                                        self.client.invalidate_coordinator(kind, &k);
                                        retry.push(k.clone());
                                    }
                                    out.insert(k, Err(e.clone()));
                                }
                            }
                        }
                    }
                }
            }
            if retry.is_empty() || Instant::now() + backoff >= deadline {
                return out;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
            todo = retry;
        }
    }

    /// Lists groups on every broker (ListGroups), with state and type filters.
    ///
    /// ```no_run
    /// # async fn demo(admin: kafka_admin::AdminClient) -> Result<(), kafka_admin::AdminError> {
    /// use kafka_admin::ListGroupsOptions;
    /// let r = admin.list_groups(ListGroupsOptions::default().states(vec!["Stable".into()])).await?;
    /// for g in r.groups.values() { println!("{} {:?}", g.group_id, g.state); }
    /// # Ok(()) }
    /// ```
    ///
    /// Cancel safe.
    pub async fn list_groups(&self, opts: ListGroupsOptions) -> Result<ListGroupsResult> {
        let t = self.timeout_of(opts.timeout);
        self.within("ListGroups", t, async {
            let deadline = Instant::now() + t;
            let v = self.version_of(ApiKey::ListGroups).await.unwrap_or(0);
            let req = ListGroupsRequest {
                states_filter: if v >= 4 {
                    opts.states.clone()
                } else {
                    Vec::new()
                },
                types_filter: if v >= 5 {
                    opts.types.clone()
                } else {
                    Vec::new()
                },
                ..Default::default()
            };
            let mut groups = BTreeMap::new();
            let mut broker_errors = BTreeMap::new();
            for id in self.broker_ids().await? {
                let r = self
                    .send_retry(Target::Broker(id), &req, deadline, None, |r| r.error_code)
                    .await
                    .and_then(|r| check(r.error_code, None).map(|()| r));
                match r {
                    Ok(resp) => {
                        for g in resp.groups {
                            let state = (!g.group_state.is_empty()).then_some(g.group_state);
                            let group_type = (!g.group_type.is_empty()).then_some(g.group_type);
                            if !opts.states.is_empty()
                                && state.as_ref().is_some_and(|s| {
                                    !opts.states.iter().any(|f| f.eq_ignore_ascii_case(s))
                                })
                            {
                                continue;
                            }
                            if !opts.types.is_empty()
                                && group_type.as_ref().is_some_and(|s| {
                                    !opts.types.iter().any(|f| f.eq_ignore_ascii_case(s))
                                })
                            {
                                continue;
                            }
                            groups.insert(
                                g.group_id.clone(),
                                GroupListing {
                                    group_id: g.group_id,
                                    protocol_type: g.protocol_type,
                                    state,
                                    group_type,
                                },
                            );
                        }
                    }
                    Err(e) => {
                        broker_errors.insert(id, e);
                    }
                }
            }
            Ok(ListGroupsResult {
                groups,
                broker_errors,
            })
        })
        .await
    }

    /// Describes groups through the classic DescribeGroups (state, protocol, members with
    /// decoded assignments, coordinator). Kafka 4.x also answers it for KIP-848 consumer
    /// groups; see [`AdminClient::describe_kip848_groups`] for epochs and target assignments.
    ///
    /// Cancel safe.
    pub async fn describe_consumer_groups<S: Into<String>>(
        &self,
        groups: impl IntoIterator<Item = S>,
        opts: DescribeGroupsOptions,
    ) -> Result<GroupsResult<GroupDescription>> {
        let t = self.timeout_of(opts.timeout);
        let groups: BTreeSet<String> = groups.into_iter().map(Into::into).collect();
        self.within("DescribeGroups", t, async {
            let deadline = Instant::now() + t;
            let mut per_group = self
                .by_coordinator(
                    CoordinatorType::Group,
                    groups.iter().cloned().collect(),
                    deadline,
                    |node, ks| async move {
                        let req = DescribeGroupsRequest {
                            groups: ks,
                            include_authorized_operations: opts.include_authorized_operations,
                            ..Default::default()
                        };
                        let resp = self.send(Target::Broker(node), &req, deadline).await?;
                        Ok(resp
                            .groups
                            .into_iter()
                            .map(|g| {
                                let id = g.group_id.clone();
                                let r =
                                    check(g.error_code, g.error_message.clone()).and_then(|()| {
                                        if g.group_state == "Dead" {
                                            return Err(AdminError::from_code(
                                                ErrorCode::GroupIdNotFound,
                                                Some(format!(
                                                    "group {} does not exist",
                                                    g.group_id
                                                )),
                                            ));
                                        }
                                        let consumer = g.protocol_type == "consumer"
                                            || g.protocol_type.is_empty();
                                        let mut members = Vec::new();
                                        for m in g.members {
                                            let assignment = if consumer {
                                                decode_consumer_assignment(&m.member_assignment)
                                                    .unwrap_or_default()
                                            } else {
                                                BTreeSet::new()
                                            };
                                            members.push(MemberDescription {
                                                member_id: m.member_id,
                                                group_instance_id: m.group_instance_id,
                                                client_id: m.client_id,
                                                client_host: m.client_host,
                                                assignment,
                                                target_assignment: None,
                                                subscribed_topics: Vec::new(),
                                                member_epoch: None,
                                            });
                                        }
                                        Ok(GroupDescription {
                                            group_id: g.group_id,
                                            state: g.group_state,
                                            protocol_type: g.protocol_type,
                                            assignor: g.protocol_data,
                                            coordinator: node,
                                            group_epoch: None,
                                            members,
                                            authorized_operations: authorized_operations(
                                                g.authorized_operations,
                                            ),
                                        })
                                    });
                                (id, r)
                            })
                            .collect())
                    },
                )
                .await;
            fill_missing(&mut per_group, groups.iter());
            Ok(GroupsResult { per_group })
        })
        .await
    }

    /// Describes KIP-848 consumer groups (ConsumerGroupDescribe, Kafka 4.0+): epochs,
    /// assignor, members with current and target assignments.
    ///
    /// Cancel safe.
    pub async fn describe_kip848_groups<S: Into<String>>(
        &self,
        groups: impl IntoIterator<Item = S>,
        opts: DescribeGroupsOptions,
    ) -> Result<GroupsResult<GroupDescription>> {
        let t = self.timeout_of(opts.timeout);
        let groups: BTreeSet<String> = groups.into_iter().map(Into::into).collect();
        self.within("ConsumerGroupDescribe", t, async {
            let deadline = Instant::now() + t;
            if !self.supports(ApiKey::ConsumerGroupDescribe).await {
                return Err(AdminError::Unsupported("ConsumerGroupDescribe (KIP-848)".into()));
            }
            let mut per_group = self
                .by_coordinator(
                    CoordinatorType::Group,
                    groups.iter().cloned().collect(),
                    deadline,
                    |node, ks| async move {
                        let req = ConsumerGroupDescribeRequest {
                            group_ids: ks,
                            include_authorized_operations: opts.include_authorized_operations,
                            ..Default::default()
                        };
                        let resp = self.send(Target::Broker(node), &req, deadline).await?;
                        let tps = |a: Vec<kafka_protocol::messages::consumer_group_describe_response::TopicPartitions>| {
                            a.into_iter()
                                .flat_map(|t| {
                                    let n = t.topic_name;
                                    t.partitions.into_iter().map(move |p| TopicPartition::new(n.clone(), p))
                                })
                                .collect::<BTreeSet<_>>()
                        };
                        Ok(resp
                            .groups
                            .into_iter()
                            .map(|g| {
                                let id = g.group_id.clone();
                                let r = check(g.error_code, g.error_message.clone()).map(|()| {
                                    GroupDescription {
                                        group_id: g.group_id,
                                        state: g.group_state,
                                        protocol_type: "consumer".into(),
                                        assignor: g.assignor_name,
                                        coordinator: node,
                                        group_epoch: Some(g.group_epoch),
                                        members: g
                                            .members
                                            .into_iter()
                                            .map(|m| MemberDescription {
                                                member_id: m.member_id,
                                                group_instance_id: m.instance_id,
                                                client_id: m.client_id,
                                                client_host: m.client_host,
                                                assignment: tps(m.assignment.topic_partitions),
                                                target_assignment: Some(tps(
                                                    m.target_assignment.topic_partitions,
                                                )),
                                                subscribed_topics: m.subscribed_topic_names,
                                                member_epoch: Some(m.member_epoch),
                                            })
                                            .collect(),
                                        authorized_operations: authorized_operations(
                                            g.authorized_operations,
                                        ),
                                    }
                                });
                                (id, r)
                            })
                            .collect())
                    },
                )
                .await;
            fill_missing(&mut per_group, groups.iter());
            Ok(GroupsResult { per_group })
        })
        .await
    }

    /// Describes share groups (ShareGroupDescribe, KIP-932).
    ///
    /// Cancel safe.
    pub async fn describe_share_groups<S: Into<String>>(
        &self,
        groups: impl IntoIterator<Item = S>,
        opts: DescribeGroupsOptions,
    ) -> Result<GroupsResult<GroupDescription>> {
        let t = self.timeout_of(opts.timeout);
        let groups: BTreeSet<String> = groups.into_iter().map(Into::into).collect();
        self.within("ShareGroupDescribe", t, async {
            let deadline = Instant::now() + t;
            if !self.supports(ApiKey::ShareGroupDescribe).await {
                return Err(AdminError::Unsupported(
                    "ShareGroupDescribe (KIP-932)".into(),
                ));
            }
            let mut per_group = self
                .by_coordinator(
                    CoordinatorType::Group,
                    groups.iter().cloned().collect(),
                    deadline,
                    |node, ks| async move {
                        let req = ShareGroupDescribeRequest {
                            group_ids: ks,
                            include_authorized_operations: opts.include_authorized_operations,
                            ..Default::default()
                        };
                        let resp = self.send(Target::Broker(node), &req, deadline).await?;
                        Ok(resp
                            .groups
                            .into_iter()
                            .map(|g| {
                                let id = g.group_id.clone();
                                let r = check(g.error_code, g.error_message.clone()).map(|()| {
                                    GroupDescription {
                                        group_id: g.group_id,
                                        state: g.group_state,
                                        protocol_type: "share".into(),
                                        assignor: g.assignor_name,
                                        coordinator: node,
                                        group_epoch: Some(g.group_epoch),
                                        members: g
                                            .members
                                            .into_iter()
                                            .map(|m| MemberDescription {
                                                member_id: m.member_id,
                                                group_instance_id: None,
                                                client_id: m.client_id,
                                                client_host: m.client_host,
                                                assignment: m
                                                    .assignment
                                                    .topic_partitions
                                                    .into_iter()
                                                    .flat_map(|t| {
                                                        let n = t.topic_name;
                                                        t.partitions.into_iter().map(move |p| {
                                                            TopicPartition::new(n.clone(), p)
                                                        })
                                                    })
                                                    .collect(),
                                                target_assignment: None,
                                                subscribed_topics: m.subscribed_topic_names,
                                                member_epoch: Some(m.member_epoch),
                                            })
                                            .collect(),
                                        authorized_operations: authorized_operations(
                                            g.authorized_operations,
                                        ),
                                    }
                                });
                                (id, r)
                            })
                            .collect())
                    },
                )
                .await;
            fill_missing(&mut per_group, groups.iter());
            Ok(GroupsResult { per_group })
        })
        .await
    }

    /// Deletes (empty) groups.
    ///
    /// Cancel safe.
    pub async fn delete_consumer_groups<S: Into<String>>(
        &self,
        groups: impl IntoIterator<Item = S>,
        opts: crate::Options,
    ) -> Result<GroupsResult<()>> {
        let t = self.timeout_of(opts.timeout);
        let groups: BTreeSet<String> = groups.into_iter().map(Into::into).collect();
        self.within("DeleteGroups", t, async {
            let deadline = Instant::now() + t;
            let mut per_group = self
                .by_coordinator(
                    CoordinatorType::Group,
                    groups.iter().cloned().collect(),
                    deadline,
                    |node, ks| async move {
                        let req = DeleteGroupsRequest {
                            groups_names: ks,
                            ..Default::default()
                        };
                        let resp = self.send(Target::Broker(node), &req, deadline).await?;
                        Ok(resp
                            .results
                            .into_iter()
                            .map(|r| (r.group_id, check(r.error_code, None)))
                            .collect())
                    },
                )
                .await;
            fill_missing(&mut per_group, groups.iter());
            Ok(GroupsResult { per_group })
        })
        .await
    }

    /// Committed offsets of several groups: group → partitions to fetch (None: all the
    /// group committed). One batched OffsetFetch (v8+) per coordinator; one request per group
    /// on older brokers.
    ///
    /// ```no_run
    /// # async fn demo(admin: kafka_admin::AdminClient) -> Result<(), kafka_admin::AdminError> {
    /// let r = admin.list_consumer_group_offsets([("billing".to_string(), None)], Default::default()).await?;
    /// if let Ok(offsets) = &r.per_group["billing"] {
    ///     for (tp, o) in offsets { println!("{tp}: {:?}", o.as_ref().map(|o| o.offset)); }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// Cancel safe.
    pub async fn list_consumer_group_offsets(
        &self,
        groups: impl IntoIterator<Item = (String, Option<Vec<TopicPartition>>)>,
        opts: crate::Options,
    ) -> Result<GroupsResult<GroupOffsets>> {
        let t = self.timeout_of(opts.timeout);
        let groups: BTreeMap<String, Option<Vec<TopicPartition>>> = groups.into_iter().collect();
        self.within("OffsetFetch", t, async {
            let deadline = Instant::now() + t;
            let v = self.version_of(ApiKey::OffsetFetch).await.unwrap_or(7);
            let groups_ref = &groups;
            let mut per_group = self
                .by_coordinator(
                    CoordinatorType::Group,
                    groups.keys().cloned().collect(),
                    deadline,
                    |node, ks| async move {
                        let mut answers = Vec::new();
                        if v >= 8 {
                            let req = OffsetFetchRequest {
                                groups: ks
                                    .iter()
                                    .map(|g| OffsetFetchRequestGroup {
                                        group_id: g.clone(),
                                        topics: groups_ref.get(g).cloned().flatten().map(|tps| {
                                            by_topic(&tps)
                                                .into_iter()
                                                .map(|(name, partition_indexes)| {
                                                    OffsetFetchRequestTopics {
                                                        name,
                                                        partition_indexes,
                                                        ..Default::default()
                                                    }
                                                })
                                                .collect()
                                        }),
                                        ..Default::default()
                                    })
                                    .collect(),
                                topics: Some(Vec::new()),
                                require_stable: true,
                                ..Default::default()
                            };
                            let resp = self
                                .send_retry(Target::Broker(node), &req, deadline, Some(9), |_| 0)
                                .await?;
                            for g in resp.groups {
                                let r = check(g.error_code, None).map(|()| {
                                    let mut m = GroupOffsets::new();
                                    for tpc in g.topics {
                                        for p in tpc.partitions {
                                            offset_entry(
                                                &mut m,
                                                &tpc.name,
                                                p.partition_index,
                                                p.committed_offset,
                                                p.committed_leader_epoch,
                                                p.metadata,
                                                p.error_code,
                                            );
                                        }
                                    }
                                    m
                                });
                                answers.push((g.group_id, r));
                            }
                        } else {
                            for g in ks {
                                let req = OffsetFetchRequest {
                                    group_id: g.clone(),
                                    topics: groups_ref.get(&g).cloned().flatten().map(|tps| {
                                        by_topic(&tps)
                                            .into_iter()
                                            .map(|(name, partition_indexes)| {
                                                OffsetFetchRequestTopic {
                                                    name,
                                                    partition_indexes,
                                                    ..Default::default()
                                                }
                                            })
                                            .collect()
                                    }),
                                    require_stable: v >= 7,
                                    ..Default::default()
                                };
                                let resp = self.send(Target::Broker(node), &req, deadline).await?;
                                let r = check(resp.error_code, None).map(|()| {
                                    let mut m = GroupOffsets::new();
                                    for tpc in resp.topics {
                                        for p in tpc.partitions {
                                            offset_entry(
                                                &mut m,
                                                &tpc.name,
                                                p.partition_index,
                                                p.committed_offset,
                                                p.committed_leader_epoch,
                                                p.metadata,
                                                p.error_code,
                                            );
                                        }
                                    }
                                    m
                                });
                                answers.push((g, r));
                            }
                        }
                        Ok(answers)
                    },
                )
                .await;
            fill_missing(&mut per_group, groups.keys());
            Ok(GroupsResult { per_group })
        })
        .await
    }

    /// Sets committed offsets of a group (it must have no active members), per partition.
    ///
    /// Cancel safe.
    pub async fn alter_consumer_group_offsets(
        &self,
        group: &str,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetAndMetadata)>,
        opts: crate::Options,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let t = self.timeout_of(opts.timeout);
        let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> = offsets.into_iter().collect();
        self.within("OffsetCommit", t, async {
            let deadline = Instant::now() + t;
            let mut topics: BTreeMap<String, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
            for (tp, o) in &offsets {
                topics
                    .entry(tp.topic.clone())
                    .or_default()
                    .push(OffsetCommitRequestPartition {
                        partition_index: tp.partition,
                        committed_offset: o.offset,
                        committed_leader_epoch: o.leader_epoch.unwrap_or(-1),
                        committed_metadata: Some(o.metadata.clone()),
                        ..Default::default()
                    });
            }
            let req = OffsetCommitRequest {
                group_id: group.to_string(),
                generation_id_or_member_epoch: -1,
                member_id: String::new(),
                group_instance_id: None,
                retention_time_ms: -1,
                topics: topics
                    .into_iter()
                    .map(|(name, partitions)| OffsetCommitRequestTopic {
                        name,
                        partitions,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            let mut r = self
                .by_coordinator(
                    CoordinatorType::Group,
                    vec![group.to_string()],
                    deadline,
                    |node, _| {
                        let req = &req;
                        async move {
                            let resp = self
                                .send_retry(Target::Broker(node), req, deadline, Some(9), |_| 0)
                                .await?;
                            let mut m = BTreeMap::new();
                            let mut retriable = None;
                            for tpc in resp.topics {
                                for p in tpc.partitions {
                                    let r = check(p.error_code, None);
                                    if let Err(e) = &r
                                        && e.is_retriable()
                                    {
                                        retriable = Some(e.clone());
                                    }
                                    m.insert(
                                        TopicPartition::new(tpc.name.clone(), p.partition_index),
                                        r,
                                    );
                                }
                            }
                            // a coordinator-level retriable code on any partition retries all
                            let out = match retriable {
                                Some(e) => Err(e),
                                None => Ok(m),
                            };
                            Ok(vec![(group.to_string(), out)])
                        }
                    },
                )
                .await;
            let mut m = r
                .remove(group)
                .unwrap_or_else(|| Err(AdminError::Malformed("no answer".into())))?;
            fill_missing(&mut m, offsets.keys());
            Ok(m)
        })
        .await
    }

    /// Deletes committed offsets of a group for partitions it no longer consumes.
    ///
    /// Cancel safe.
    pub async fn delete_consumer_group_offsets(
        &self,
        group: &str,
        partitions: impl IntoIterator<Item = TopicPartition>,
        opts: crate::Options,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let t = self.timeout_of(opts.timeout);
        let partitions: BTreeSet<TopicPartition> = partitions.into_iter().collect();
        self.within("OffsetDelete", t, async {
            let deadline = Instant::now() + t;
            let req = OffsetDeleteRequest {
                group_id: group.to_string(),
                topics: by_topic(&partitions)
                    .into_iter()
                    .map(|(name, ps)| OffsetDeleteRequestTopic {
                        name,
                        partitions: ps
                            .into_iter()
                            .map(|p| OffsetDeleteRequestPartition { partition_index: p })
                            .collect(),
                    })
                    .collect(),
            };
            let mut r = self
                .by_coordinator(
                    CoordinatorType::Group,
                    vec![group.to_string()],
                    deadline,
                    |node, _| {
                        let req = &req;
                        async move {
                            let resp = self.send(Target::Broker(node), req, deadline).await?;
                            let out = check(resp.error_code, None).map(|()| {
                                let mut m = BTreeMap::new();
                                for tpc in resp.topics {
                                    for p in tpc.partitions {
                                        m.insert(
                                            TopicPartition::new(
                                                tpc.name.clone(),
                                                p.partition_index,
                                            ),
                                            check(p.error_code, None),
                                        );
                                    }
                                }
                                m
                            });
                            Ok(vec![(group.to_string(), out)])
                        }
                    },
                )
                .await;
            let mut m = r
                .remove(group)
                .unwrap_or_else(|| Err(AdminError::Malformed("no answer".into())))?;
            fill_missing(&mut m, partitions.iter());
            Ok(m)
        })
        .await
    }

    /// Removes members from a classic group (LeaveGroup v3+): static members by instance id,
    /// dynamic ones by member id, or all current members. Per member (instance id or member
    /// id) result.
    ///
    /// Cancel safe.
    pub async fn remove_members_from_consumer_group(
        &self,
        group: &str,
        members: MembersToRemove,
        opts: crate::Options,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let t = self.timeout_of(opts.timeout);
        self.within("LeaveGroup", t, async {
            let deadline = Instant::now() + t;
            let identities: Vec<MemberIdentity> = match members {
                MembersToRemove::All => {
                    let d = self
                        .describe_consumer_groups(
                            [group],
                            DescribeGroupsOptions::default().timeout(t),
                        )
                        .await?;
                    let g = d
                        .per_group
                        .get(group)
                        .cloned()
                        .unwrap_or_else(|| Err(AdminError::Malformed("no answer".into())))?;
                    g.members
                        .into_iter()
                        .map(|m| MemberIdentity {
                            member_id: if m.group_instance_id.is_some() {
                                String::new()
                            } else {
                                m.member_id
                            },
                            group_instance_id: m.group_instance_id,
                            reason: Some("removed by admin".into()),
                            ..Default::default()
                        })
                        .collect()
                }
                MembersToRemove::Instances(ids) => ids
                    .into_iter()
                    .map(|i| MemberIdentity {
                        member_id: String::new(),
                        group_instance_id: Some(i),
                        reason: Some("removed by admin".into()),
                        ..Default::default()
                    })
                    .collect(),
                MembersToRemove::MemberIds(ids) => ids
                    .into_iter()
                    .map(|m| MemberIdentity {
                        member_id: m,
                        group_instance_id: None,
                        reason: Some("removed by admin".into()),
                        ..Default::default()
                    })
                    .collect(),
            };
            if identities.is_empty() {
                return Ok(BTreeMap::new());
            }
            let req = LeaveGroupRequest {
                group_id: group.to_string(),
                members: identities,
                ..Default::default()
            };
            let mut r = self
                .by_coordinator(
                    CoordinatorType::Group,
                    vec![group.to_string()],
                    deadline,
                    |node, _| {
                        let req = &req;
                        async move {
                            let resp = self.send(Target::Broker(node), req, deadline).await?;
                            let out = check(resp.error_code, None).map(|()| {
                                resp.members
                                    .into_iter()
                                    .map(|m| {
                                        (
                                            m.group_instance_id.unwrap_or(m.member_id),
                                            check(m.error_code, None),
                                        )
                                    })
                                    .collect::<BTreeMap<_, _>>()
                            });
                            Ok(vec![(group.to_string(), out)])
                        }
                    },
                )
                .await;
            r.remove(group)
                .unwrap_or_else(|| Err(AdminError::Malformed("no answer".into())))
        })
        .await
    }

    /// Lag of a group: its committed offsets joined with the partitions' end offsets.
    ///
    /// Cancel safe.
    pub async fn lag(&self, group: &str, opts: crate::Options) -> Result<GroupLag> {
        let t = self.timeout_of(opts.timeout);
        self.within("Lag", t, async {
            let deadline = Instant::now() + t;
            let mut r = self
                .list_consumer_group_offsets(
                    [(group.to_string(), None)],
                    crate::Options::default().timeout(t),
                )
                .await?;
            let committed: BTreeMap<TopicPartition, i64> = r
                .per_group
                .remove(group)
                .unwrap_or_else(|| Err(AdminError::Malformed("no answer".into())))?
                .into_iter()
                .filter_map(|(tp, o)| o.ok().map(|o| (tp, o.offset)))
                .collect();
            let left = deadline.saturating_duration_since(Instant::now());
            let ends = self
                .list_offsets(
                    committed.keys().map(|tp| (tp.clone(), OffsetSpec::Latest)),
                    ListOffsetsOptions::default().timeout(left.max(Duration::from_millis(1))),
                )
                .await?;
            let per_partition = committed
                .into_iter()
                .map(|(tp, c)| {
                    let end = ends
                        .per_partition
                        .get(&tp)
                        .cloned()
                        .unwrap_or_else(|| Err(AdminError::Malformed("no end offset".into())))
                        .map(|o| o.offset);
                    let lag = end.as_ref().ok().map(|e| (e - c).max(0));
                    (
                        tp,
                        PartitionLag {
                            committed: c,
                            end_offset: end,
                            lag,
                        },
                    )
                })
                .collect();
            Ok(GroupLag {
                group_id: group.to_string(),
                per_partition,
            })
        })
        .await
    }
}

fn offset_entry(
    m: &mut GroupOffsets,
    topic: &str,
    partition: i32,
    offset: i64,
    epoch: i32,
    metadata: Option<String>,
    code: i16,
) {
    let tp = TopicPartition::new(topic, partition);
    match check(code, None) {
        Err(e) => {
            m.insert(tp, Err(e));
        }
        Ok(()) if offset < 0 => {} // no commit
        Ok(()) => {
            m.insert(
                tp,
                Ok(OffsetAndMetadata {
                    offset,
                    leader_epoch: (epoch >= 0).then_some(epoch),
                    metadata: metadata.unwrap_or_default(),
                }),
            );
        }
    }
}

impl ListGroupsResult {
    /// Whether every broker answered.
    pub fn is_ok(&self) -> bool {
        self.broker_errors.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::Encodable;
    use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as Atp;

    #[test]
    fn assignment_round_trip_any_version() {
        let a = ConsumerProtocolAssignment {
            assigned_partitions: vec![Atp {
                topic: "x".into(),
                partitions: vec![1, 0],
            }],
            user_data: None,
        };
        for v in [0i16, 1, 3, 7] {
            let mut b = BytesMut::new();
            b.extend_from_slice(&v.to_be_bytes());
            a.encode(&mut b, v.min(ConsumerProtocolAssignment::VERSIONS.max))
                .unwrap_or_default();
            let got = decode_consumer_assignment(&b).unwrap_or_default();
            assert_eq!(got.len(), 2, "version {v}");
        }
    }

    #[test]
    fn missing_commits_are_skipped_and_errors_kept() {
        let mut m = GroupOffsets::new();
        offset_entry(&mut m, "t", 0, -1, -1, None, 0);
        offset_entry(&mut m, "t", 1, 5, 2, Some("m".into()), 0);
        offset_entry(
            &mut m,
            "t",
            2,
            -1,
            -1,
            None,
            ErrorCode::UnstableOffsetCommit.code(),
        );
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[&TopicPartition::new("t", 1)]
                .as_ref()
                .map(|o| o.offset)
                .ok(),
            Some(5)
        );
        assert!(
            m[&TopicPartition::new("t", 2)]
                .as_ref()
                .is_err_and(|e| e.is_retriable())
        );
    }

    #[test]
    fn lag_total() {
        let mut l = GroupLag {
            group_id: "g".into(),
            per_partition: BTreeMap::new(),
        };
        l.per_partition.insert(
            TopicPartition::new("t", 0),
            PartitionLag {
                committed: 1,
                end_offset: Ok(5),
                lag: Some(4),
            },
        );
        l.per_partition.insert(
            TopicPartition::new("t", 1),
            PartitionLag {
                committed: 1,
                end_offset: Err(AdminError::Malformed("x".into())),
                lag: None,
            },
        );
        assert_eq!(l.total(), 4);
    }
}
