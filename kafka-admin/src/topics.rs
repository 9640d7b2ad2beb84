//! Topics: create, delete (by name or id), list, describe, create partitions.

use std::collections::{BTreeMap, BTreeSet};

use kafka_client::Target;
use kafka_protocol::Uuid;
use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_topic_partitions_request::TopicRequest;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiKey, CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest,
    DescribeTopicPartitionsRequest, MetadataRequest,
};
use tokio::time::Instant;

use crate::client::{AdminClient, ms_i32, options};
use crate::error::{AdminError, Result, check};
use crate::types::{AclOperation, authorized_operations};

/// A topic to create.
///
/// ```
/// use kafka_admin::NewTopic;
/// let t = NewTopic::new("orders", 6, 3).config("cleanup.policy", "compact");
/// assert_eq!(t.num_partitions, Some(6));
/// let manual = NewTopic::with_assignment("pinned", [(0, vec![1, 2]), (1, vec![2, 1])]);
/// assert_eq!(manual.replica_assignment.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewTopic {
    /// Name.
    pub name: String,
    /// Partitions (None: the broker's `num.partitions`).
    pub num_partitions: Option<i32>,
    /// Replication factor (None: the broker's `default.replication.factor`).
    pub replication_factor: Option<i16>,
    /// Manual replica assignment, partition → brokers (then partitions/RF must be None).
    pub replica_assignment: BTreeMap<i32, Vec<i32>>,
    /// Topic configs.
    pub configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// `partitions` partitions with `replication_factor` replicas.
    pub fn new(name: impl Into<String>, partitions: i32, replication_factor: i16) -> NewTopic {
        NewTopic {
            name: name.into(),
            num_partitions: Some(partitions),
            replication_factor: Some(replication_factor),
            ..Default::default()
        }
    }
    /// With the broker's default partitions and replication factor.
    pub fn with_defaults(name: impl Into<String>) -> NewTopic {
        NewTopic {
            name: name.into(),
            ..Default::default()
        }
    }
    /// With an explicit replica assignment.
    pub fn with_assignment(
        name: impl Into<String>,
        assignment: impl IntoIterator<Item = (i32, Vec<i32>)>,
    ) -> NewTopic {
        NewTopic {
            name: name.into(),
            replica_assignment: assignment.into_iter().collect(),
            ..Default::default()
        }
    }
    /// Adds a topic config.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> NewTopic {
        self.configs.insert(key.into(), value.into());
        self
    }
}

/// A created (or, with `validate_only`, validated) topic.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicCreated {
    /// The topic id ([`Uuid::ZERO`] before CreateTopics v7 or when only validated).
    pub topic_id: Uuid,
    /// Partitions (-1 when the broker did not say: before v5).
    pub num_partitions: i32,
    /// Replication factor (-1 when the broker did not say).
    pub replication_factor: i16,
    /// The topic's configs as created (empty before v5).
    pub configs: BTreeMap<String, Option<String>>,
}

/// Per-topic results of [`AdminClient::create_topics`].
#[derive(Debug, Clone)]
pub struct CreateTopicsResult {
    /// One result per requested topic.
    pub per_topic: BTreeMap<String, Result<TopicCreated>>,
}

/// Per-topic results of [`AdminClient::delete_topics`] / [`AdminClient::create_partitions`].
#[derive(Debug, Clone)]
pub struct TopicsResult {
    /// One result per requested topic.
    pub per_topic: BTreeMap<String, Result<()>>,
}

/// Per-id results of [`AdminClient::delete_topics_by_id`]: the deleted topic's name.
#[derive(Debug, Clone)]
pub struct DeleteTopicsByIdResult {
    /// One result per requested id.
    pub per_id: BTreeMap<Uuid, Result<Option<String>>>,
}

macro_rules! all_ok {
    ($t:ty, $f:ident) => {
        impl $t {
            /// The first failure, if any entity failed.
            pub fn first_error(&self) -> Option<&AdminError> {
                self.$f.values().find_map(|r| r.as_ref().err())
            }
            /// Whether every entity succeeded.
            pub fn is_ok(&self) -> bool {
                self.first_error().is_none()
            }
        }
    };
}
pub(crate) use all_ok;
all_ok!(CreateTopicsResult, per_topic);
all_ok!(TopicsResult, per_topic);
all_ok!(DeleteTopicsByIdResult, per_id);

options!(
    /// Options of [`AdminClient::create_topics`].
    CreateTopicsOptions {
        /// Only validate (nothing is created).
        validate_only: bool = false,
    }
);
options!(
    /// Options of [`AdminClient::create_partitions`].
    CreatePartitionsOptions {
        /// Only validate.
        validate_only: bool = false,
    }
);
options!(
    /// Options of [`AdminClient::list_topics`].
    ListTopicsOptions {
        /// Include internal topics (`__consumer_offsets`, …).
        list_internal: bool = false,
    }
);
options!(
    /// Options of [`AdminClient::describe_topics`].
    DescribeTopicsOptions {
        /// Ask for the operations the caller may perform on each topic.
        include_authorized_operations: bool = false,
    }
);

/// One topic in [`AdminClient::list_topics`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicListing {
    /// Name.
    pub name: String,
    /// Id.
    pub topic_id: Uuid,
    /// Whether it is internal.
    pub is_internal: bool,
}

/// One partition of a described topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Index.
    pub partition: i32,
    /// Leader (None: no leader).
    pub leader: Option<i32>,
    /// Leader epoch.
    pub leader_epoch: i32,
    /// Replicas.
    pub replicas: Vec<i32>,
    /// In-sync replicas.
    pub isr: Vec<i32>,
    /// Offline replicas.
    pub offline_replicas: Vec<i32>,
    /// Eligible leader replicas (KIP-966; DescribeTopicPartitions only).
    pub eligible_leader_replicas: Option<Vec<i32>>,
}

/// A described topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    /// Name.
    pub name: String,
    /// Id.
    pub topic_id: Uuid,
    /// Whether it is internal.
    pub is_internal: bool,
    /// Partitions by index.
    pub partitions: Vec<PartitionInfo>,
    /// What the caller may do with it (when asked for and provided).
    pub authorized_operations: Option<BTreeSet<AclOperation>>,
}

/// Per-topic results of [`AdminClient::describe_topics`].
#[derive(Debug, Clone)]
pub struct DescribeTopicsResult {
    /// One result per requested topic.
    pub per_topic: BTreeMap<String, Result<TopicDescription>>,
}
all_ok!(DescribeTopicsResult, per_topic);

/// The new partition count of a topic, for [`AdminClient::create_partitions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPartitions {
    /// The total partition count after the call.
    pub total_count: i32,
    /// Replicas of each new partition (None: the broker decides).
    pub assignments: Option<Vec<Vec<i32>>>,
}

impl NewPartitions {
    /// Grow to `total_count` partitions.
    pub fn increase_to(total_count: i32) -> NewPartitions {
        NewPartitions {
            total_count,
            assignments: None,
        }
    }
}

impl AdminClient {
    /// Creates topics (sent to the controller). Each topic gets its own result; a topic
    /// that already exists is `Err(TOPIC_ALREADY_EXISTS)` while the others are created.
    ///
    /// ```no_run
    /// # async fn demo(admin: kafka_admin::AdminClient) -> Result<(), kafka_admin::AdminError> {
    /// use kafka_admin::{CreateTopicsOptions, NewTopic};
    /// let r = admin.create_topics([NewTopic::new("t", 1, 1)], CreateTopicsOptions::default().validate_only(true)).await?;
    /// assert!(r.is_ok());
    /// # Ok(()) }
    /// ```
    ///
    /// Cancel safe.
    pub async fn create_topics(
        &self,
        topics: impl IntoIterator<Item = NewTopic>,
        opts: CreateTopicsOptions,
    ) -> Result<CreateTopicsResult> {
        let t = self.timeout_of(opts.timeout);
        let topics: Vec<NewTopic> = topics.into_iter().collect();
        self.within("CreateTopics", t, async {
            let deadline = Instant::now() + t;
            let mut names = BTreeSet::new();
            for nt in &topics {
                if nt.name.is_empty() || !names.insert(nt.name.clone()) {
                    return Err(AdminError::InvalidArgument(format!(
                        "empty or duplicate topic name {:?}",
                        nt.name
                    )));
                }
            }
            let req = CreateTopicsRequest {
                topics: topics
                    .iter()
                    .map(|nt| CreatableTopic {
                        name: nt.name.clone(),
                        num_partitions: nt.num_partitions.unwrap_or(-1),
                        replication_factor: nt.replication_factor.unwrap_or(-1),
                        assignments: nt
                            .replica_assignment
                            .iter()
                            .map(|(p, b)| CreatableReplicaAssignment {
                                partition_index: *p,
                                broker_ids: b.clone(),
                                ..Default::default()
                            })
                            .collect(),
                        configs: nt
                            .configs
                            .iter()
                            .map(|(k, v)| CreatableTopicConfig {
                                name: k.clone(),
                                value: Some(v.clone()),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                timeout_ms: ms_i32(t),
                validate_only: opts.validate_only,
                ..Default::default()
            };
            let resp = self.send(Target::Controller, &req, deadline).await?;
            let mut per_topic: BTreeMap<String, Result<TopicCreated>> = BTreeMap::new();
            for r in resp.topics {
                let res = check(r.error_code, r.error_message).map(|()| TopicCreated {
                    topic_id: r.topic_id,
                    num_partitions: r.num_partitions,
                    replication_factor: r.replication_factor,
                    configs: r
                        .configs
                        .unwrap_or_default()
                        .into_iter()
                        .map(|c| (c.name, c.value))
                        .collect(),
                });
                per_topic.insert(r.name, res);
            }
            fill_missing(&mut per_topic, names.iter());
            Ok(CreateTopicsResult { per_topic })
        })
        .await
    }

    /// Deletes topics by name (controller).
    ///
    /// Cancel safe.
    pub async fn delete_topics<S: Into<String>>(
        &self,
        names: impl IntoIterator<Item = S>,
        opts: crate::Options,
    ) -> Result<TopicsResult> {
        let t = self.timeout_of(opts.timeout);
        let names: BTreeSet<String> = names.into_iter().map(Into::into).collect();
        self.within("DeleteTopics", t, async {
            let deadline = Instant::now() + t;
            let v = self.version_of(ApiKey::DeleteTopics).await.unwrap_or(6);
            let mut req = DeleteTopicsRequest {
                timeout_ms: ms_i32(t),
                ..Default::default()
            };
            if v >= 6 {
                req.topics = names
                    .iter()
                    .map(|n| DeleteTopicState {
                        name: Some(n.clone()),
                        ..Default::default()
                    })
                    .collect();
            } else {
                req.topic_names = names.iter().cloned().collect();
            }
            let resp = self.send(Target::Controller, &req, deadline).await?;
            let mut per_topic = BTreeMap::new();
            for r in resp.responses {
                if let Some(n) = r.name {
                    per_topic.insert(n, check(r.error_code, r.error_message));
                }
            }
            fill_missing(&mut per_topic, names.iter());
            Ok(TopicsResult { per_topic })
        })
        .await
    }

    /// Deletes topics by id (controller; DeleteTopics v6+, Kafka 2.8+).
    ///
    /// Cancel safe.
    pub async fn delete_topics_by_id(
        &self,
        ids: impl IntoIterator<Item = Uuid>,
        opts: crate::Options,
    ) -> Result<DeleteTopicsByIdResult> {
        let t = self.timeout_of(opts.timeout);
        let ids: BTreeSet<Uuid> = ids.into_iter().collect();
        self.within("DeleteTopics", t, async {
            let deadline = Instant::now() + t;
            if self.version_of(ApiKey::DeleteTopics).await.unwrap_or(0) < 6 {
                return Err(AdminError::Unsupported(
                    "deleting topics by id needs DeleteTopics v6".into(),
                ));
            }
            let req = DeleteTopicsRequest {
                topics: ids
                    .iter()
                    .map(|id| DeleteTopicState {
                        name: None,
                        topic_id: *id,
                        ..Default::default()
                    })
                    .collect(),
                timeout_ms: ms_i32(t),
                ..Default::default()
            };
            let resp = self.send(Target::Controller, &req, deadline).await?;
            let mut per_id = BTreeMap::new();
            for r in resp.responses {
                per_id.insert(
                    r.topic_id,
                    check(r.error_code, r.error_message).map(|()| r.name),
                );
            }
            fill_missing(&mut per_id, ids.iter());
            Ok(DeleteTopicsByIdResult { per_id })
        })
        .await
    }

    /// Lists topics (Metadata for all topics), internal ones only when asked.
    ///
    /// Cancel safe.
    pub async fn list_topics(
        &self,
        opts: ListTopicsOptions,
    ) -> Result<BTreeMap<String, TopicListing>> {
        let t = self.timeout_of(opts.timeout);
        self.within("ListTopics", t, async {
            let deadline = Instant::now() + t;
            let req = MetadataRequest {
                topics: None,
                ..Default::default()
            };
            let resp = self.send(Target::AnyBroker, &req, deadline).await?;
            Ok(resp
                .topics
                .into_iter()
                .filter(|tp| opts.list_internal || !tp.is_internal)
                .filter_map(|tp| {
                    let name = tp.name?;
                    Some((
                        name.clone(),
                        TopicListing {
                            name,
                            topic_id: tp.topic_id,
                            is_internal: tp.is_internal,
                        },
                    ))
                })
                .collect())
        })
        .await
    }

    /// Describes topics: DescribeTopicPartitions (paged, KIP-966) where the cluster serves it,
    /// else Metadata.
    ///
    /// Cancel safe.
    pub async fn describe_topics<S: Into<String>>(
        &self,
        names: impl IntoIterator<Item = S>,
        opts: DescribeTopicsOptions,
    ) -> Result<DescribeTopicsResult> {
        let t = self.timeout_of(opts.timeout);
        let names: BTreeSet<String> = names.into_iter().map(Into::into).collect();
        self.within("DescribeTopics", t, async {
            let deadline = Instant::now() + t;
            let mut per_topic = if self.supports(ApiKey::DescribeTopicPartitions).await {
                self.describe_topics_dtp(&names, opts.include_authorized_operations, deadline)
                    .await?
            } else {
                self.describe_topics_metadata(&names, opts.include_authorized_operations, deadline)
                    .await?
            };
            per_topic.retain(|k, _| names.contains(k));
            fill_missing(&mut per_topic, names.iter());
            Ok(DescribeTopicsResult { per_topic })
        })
        .await
    }

    async fn describe_topics_dtp(
        &self,
        names: &BTreeSet<String>,
        auth_ops: bool,
        deadline: Instant,
    ) -> Result<BTreeMap<String, Result<TopicDescription>>> {
        let mut out: BTreeMap<String, Result<TopicDescription>> = BTreeMap::new();
        let mut req = DescribeTopicPartitionsRequest {
            topics: names
                .iter()
                .map(|n| TopicRequest {
                    name: n.clone(),
                    ..Default::default()
                })
                .collect(),
            response_partition_limit: 2000,
            cursor: None,
            ..Default::default()
        };
        loop {
            let resp = self.send(Target::AnyBroker, &req, deadline).await?;
            for tp in resp.topics {
                let Some(name) = tp.name else { continue };
                let parts: Vec<PartitionInfo> = tp
                    .partitions
                    .into_iter()
                    .map(|p| PartitionInfo {
                        partition: p.partition_index,
                        leader: (p.leader_id >= 0).then_some(p.leader_id),
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes,
                        isr: p.isr_nodes,
                        offline_replicas: p.offline_replicas,
                        eligible_leader_replicas: p.eligible_leader_replicas,
                    })
                    .collect();
                if let Err(e) = check(tp.error_code, None) {
                    out.insert(name, Err(e));
                    continue;
                }
                match out.get_mut(&name) {
                    Some(Ok(d)) => d.partitions.extend(parts),
                    _ => {
                        out.insert(
                            name.clone(),
                            Ok(TopicDescription {
                                name,
                                topic_id: tp.topic_id,
                                is_internal: tp.is_internal,
                                partitions: parts,
                                authorized_operations: if auth_ops {
                                    authorized_operations(tp.topic_authorized_operations)
                                } else {
                                    None
                                },
                            }),
                        );
                    }
                }
            }
            match resp.next_cursor {
                Some(c) => {
                    // continue from the cursor with the topics that remain
                    req.topics.retain(|t| t.name >= c.topic_name);
                    req.cursor = Some(
                        kafka_protocol::messages::describe_topic_partitions_request::Cursor {
                            topic_name: c.topic_name,
                            partition_index: c.partition_index,
                            ..Default::default()
                        },
                    );
                }
                None => break,
            }
        }
        for d in out.values_mut().flatten() {
            d.partitions.sort_by_key(|p| p.partition);
        }
        Ok(out)
    }

    async fn describe_topics_metadata(
        &self,
        names: &BTreeSet<String>,
        auth_ops: bool,
        deadline: Instant,
    ) -> Result<BTreeMap<String, Result<TopicDescription>>> {
        let req = MetadataRequest {
            topics: Some(
                names
                    .iter()
                    .map(|n| MetadataRequestTopic {
                        name: Some(n.clone()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            allow_auto_topic_creation: false,
            include_topic_authorized_operations: auth_ops,
            ..Default::default()
        };
        let resp = self.send(Target::AnyBroker, &req, deadline).await?;
        let mut out = BTreeMap::new();
        for tp in resp.topics {
            let Some(name) = tp.name else { continue };
            let r = check(tp.error_code, None).map(|()| {
                let mut partitions: Vec<PartitionInfo> = tp
                    .partitions
                    .into_iter()
                    .map(|p| PartitionInfo {
                        partition: p.partition_index,
                        leader: (p.leader_id >= 0).then_some(p.leader_id),
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes,
                        isr: p.isr_nodes,
                        offline_replicas: p.offline_replicas,
                        eligible_leader_replicas: None,
                    })
                    .collect();
                partitions.sort_by_key(|p| p.partition);
                TopicDescription {
                    name: name.clone(),
                    topic_id: tp.topic_id,
                    is_internal: tp.is_internal,
                    partitions,
                    authorized_operations: if auth_ops {
                        authorized_operations(tp.topic_authorized_operations)
                    } else {
                        None
                    },
                }
            });
            out.insert(name, r);
        }
        Ok(out)
    }

    /// Adds partitions to topics (controller).
    ///
    /// Cancel safe.
    pub async fn create_partitions(
        &self,
        topics: impl IntoIterator<Item = (String, NewPartitions)>,
        opts: CreatePartitionsOptions,
    ) -> Result<TopicsResult> {
        let t = self.timeout_of(opts.timeout);
        let topics: BTreeMap<String, NewPartitions> = topics.into_iter().collect();
        self.within("CreatePartitions", t, async {
            let deadline = Instant::now() + t;
            let req = CreatePartitionsRequest {
                topics: topics
                    .iter()
                    .map(|(n, np)| CreatePartitionsTopic {
                        name: n.clone(),
                        count: np.total_count,
                        assignments: np.assignments.as_ref().map(|a| {
                            a.iter()
                                .map(|b| CreatePartitionsAssignment {
                                    broker_ids: b.clone(),
                                    ..Default::default()
                                })
                                .collect()
                        }),
                        ..Default::default()
                    })
                    .collect(),
                timeout_ms: ms_i32(t),
                validate_only: opts.validate_only,
                ..Default::default()
            };
            let resp = self.send(Target::Controller, &req, deadline).await?;
            let mut per_topic = BTreeMap::new();
            for r in resp.results {
                per_topic.insert(r.name, check(r.error_code, r.error_message));
            }
            fill_missing(&mut per_topic, topics.keys());
            Ok(TopicsResult { per_topic })
        })
        .await
    }
}

/// Every requested key the broker did not answer for gets a `Malformed` error.
pub(crate) fn fill_missing<'a, K, T>(
    out: &mut BTreeMap<K, Result<T>>,
    asked: impl Iterator<Item = &'a K>,
) where
    K: Ord + Clone + std::fmt::Debug + 'a,
{
    for k in asked {
        if !out.contains_key(k) {
            out.insert(
                k.clone(),
                Err(AdminError::Malformed(format!("no result for {k:?}"))),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::ErrorCode;

    #[test]
    fn missing_entities_are_errors_and_first_error_is_found() {
        let mut m: BTreeMap<String, Result<()>> = BTreeMap::new();
        m.insert("a".into(), Ok(()));
        let asked = ["a".to_string(), "b".to_string()];
        fill_missing(&mut m, asked.iter());
        let r = TopicsResult { per_topic: m };
        assert!(!r.is_ok());
        assert!(matches!(r.first_error(), Some(AdminError::Malformed(_))));
        assert!(r.per_topic["a"].is_ok());
    }

    #[test]
    fn per_topic_codes_map() {
        let r = check(ErrorCode::TopicAlreadyExists.code(), Some("x".into()));
        assert_eq!(
            r.err().and_then(|e| e.error_code()),
            Some(ErrorCode::TopicAlreadyExists)
        );
        assert!(check(0, None).is_ok());
    }
}
