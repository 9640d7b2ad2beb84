//! Partitions: elect leaders, alter/list partition reassignments, describe log dirs, alter
//! replica log dirs.

use std::collections::{BTreeMap, BTreeSet};

use kafka_client::Target;
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::alter_replica_log_dirs_request::{
    AlterReplicaLogDir, AlterReplicaLogDirTopic,
};
use kafka_protocol::messages::describe_log_dirs_request::DescribableLogDirTopic;
use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, AlterReplicaLogDirsRequest, DescribeLogDirsRequest,
    ElectLeadersRequest, ListPartitionReassignmentsRequest,
};
use tokio::time::Instant;

use crate::client::{AdminClient, ms_i32};
use crate::error::{AdminError, Result, check};
use crate::offsets::PartitionsResult;
use crate::topics::fill_missing;
use crate::types::{TopicPartition, by_topic};

/// The kind of leader election.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElectionType {
    /// Move leadership to the preferred (first) replica.
    Preferred,
    /// Elect an out-of-sync replica when no in-sync one is available (may lose data).
    Unclean,
}

/// An ongoing reassignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionReassignment {
    /// Current replicas.
    pub replicas: Vec<i32>,
    /// Replicas being added.
    pub adding_replicas: Vec<i32>,
    /// Replicas being removed.
    pub removing_replicas: Vec<i32>,
}

/// One replica in a log dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaInfo {
    /// Size in bytes.
    pub size: i64,
    /// Lag behind the current replica (future replicas) or the high watermark.
    pub offset_lag: i64,
    /// Whether this is a future replica (being moved here).
    pub is_future: bool,
}

/// One log dir of a broker.
#[derive(Debug, Clone)]
pub struct LogDirDescription {
    /// The dir's error (e.g. KAFKA_STORAGE_ERROR), if any.
    pub error: Option<AdminError>,
    /// Total bytes of the volume (-1: unknown).
    pub total_bytes: i64,
    /// Usable bytes (-1: unknown).
    pub usable_bytes: i64,
    /// Replicas in the dir.
    pub replicas: BTreeMap<TopicPartition, ReplicaInfo>,
}

/// A replica on a broker, for [`AdminClient::alter_replica_log_dirs`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReplicaOnBroker {
    /// The partition.
    pub partition: TopicPartition,
    /// The broker.
    pub broker: i32,
}

impl AdminClient {
    /// Elects leaders (controller). `partitions` None: every partition that needs it.
    /// ELECTION_NOT_NEEDED is reported per partition like any other code.
    ///
    /// Cancel safe.
    pub async fn elect_leaders(
        &self,
        election: ElectionType,
        partitions: Option<Vec<TopicPartition>>,
        opts: crate::Options,
    ) -> Result<PartitionsResult<()>> {
        let t = self.timeout_of(opts.timeout);
        self.within("ElectLeaders", t, async {
            let deadline = Instant::now() + t;
            let req = ElectLeadersRequest {
                election_type: match election {
                    ElectionType::Preferred => 0,
                    ElectionType::Unclean => 1,
                },
                topic_partitions: partitions.as_ref().map(|ps| {
                    by_topic(ps)
                        .into_iter()
                        .map(|(topic, partitions)| TopicPartitions {
                            topic,
                            partitions,
                            ..Default::default()
                        })
                        .collect()
                }),
                timeout_ms: ms_i32(t),
                ..Default::default()
            };
            let resp = self
                .send_retry(Target::Controller, &req, deadline, None, |r| r.error_code)
                .await?;
            check(resp.error_code, None)?;
            let mut per_partition = BTreeMap::new();
            for r in resp.replica_election_results {
                for p in r.partition_result {
                    per_partition.insert(
                        TopicPartition::new(r.topic.clone(), p.partition_id),
                        check(p.error_code, p.error_message),
                    );
                }
            }
            if let Some(ps) = &partitions {
                fill_missing(&mut per_partition, ps.iter());
            }
            Ok(PartitionsResult { per_partition })
        })
        .await
    }

    /// Starts (Some(replicas)) or cancels (None) partition reassignments (controller).
    ///
    /// Cancel safe.
    pub async fn alter_partition_reassignments(
        &self,
        reassignments: impl IntoIterator<Item = (TopicPartition, Option<Vec<i32>>)>,
        opts: crate::Options,
    ) -> Result<PartitionsResult<()>> {
        let t = self.timeout_of(opts.timeout);
        let ra: BTreeMap<TopicPartition, Option<Vec<i32>>> = reassignments.into_iter().collect();
        self.within("AlterPartitionReassignments", t, async {
            let deadline = Instant::now() + t;
            let mut topics: BTreeMap<String, Vec<ReassignablePartition>> = BTreeMap::new();
            for (tp, r) in &ra {
                topics
                    .entry(tp.topic.clone())
                    .or_default()
                    .push(ReassignablePartition {
                        partition_index: tp.partition,
                        replicas: r.clone(),
                        ..Default::default()
                    });
            }
            let req = AlterPartitionReassignmentsRequest {
                timeout_ms: ms_i32(t),
                allow_replication_factor_change: true,
                topics: topics
                    .into_iter()
                    .map(|(name, partitions)| ReassignableTopic {
                        name,
                        partitions,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            let resp = self
                .send_retry(Target::Controller, &req, deadline, None, |r| r.error_code)
                .await?;
            check(resp.error_code, resp.error_message)?;
            let mut per_partition = BTreeMap::new();
            for r in resp.responses {
                for p in r.partitions {
                    per_partition.insert(
                        TopicPartition::new(r.name.clone(), p.partition_index),
                        check(p.error_code, p.error_message),
                    );
                }
            }
            fill_missing(&mut per_partition, ra.keys());
            Ok(PartitionsResult { per_partition })
        })
        .await
    }

    /// Ongoing reassignments (controller), of the given partitions or all.
    ///
    /// Cancel safe.
    pub async fn list_partition_reassignments(
        &self,
        partitions: Option<Vec<TopicPartition>>,
        opts: crate::Options,
    ) -> Result<BTreeMap<TopicPartition, PartitionReassignment>> {
        let t = self.timeout_of(opts.timeout);
        self.within("ListPartitionReassignments", t, async {
            let deadline = Instant::now() + t;
            let req = ListPartitionReassignmentsRequest {
                timeout_ms: ms_i32(t),
                topics: partitions.as_ref().map(|ps| {
                    by_topic(ps)
                        .into_iter()
                        .map(
                            |(name, partition_indexes)| ListPartitionReassignmentsTopics {
                                name,
                                partition_indexes,
                                ..Default::default()
                            },
                        )
                        .collect()
                }),
                ..Default::default()
            };
            let resp = self
                .send_retry(Target::Controller, &req, deadline, None, |r| r.error_code)
                .await?;
            check(resp.error_code, resp.error_message)?;
            Ok(resp
                .topics
                .into_iter()
                .flat_map(|t| {
                    let n = t.name;
                    t.partitions.into_iter().map(move |p| {
                        (
                            TopicPartition::new(n.clone(), p.partition_index),
                            PartitionReassignment {
                                replicas: p.replicas,
                                adding_replicas: p.adding_replicas,
                                removing_replicas: p.removing_replicas,
                            },
                        )
                    })
                })
                .collect())
        })
        .await
    }

    /// Log dirs of brokers (each asked directly): broker → dir path → description.
    /// `partitions` None: every replica.
    ///
    /// Cancel safe.
    pub async fn describe_log_dirs(
        &self,
        brokers: impl IntoIterator<Item = i32>,
        partitions: Option<Vec<TopicPartition>>,
        opts: crate::Options,
    ) -> Result<BTreeMap<i32, Result<BTreeMap<String, LogDirDescription>>>> {
        let t = self.timeout_of(opts.timeout);
        let brokers: BTreeSet<i32> = brokers.into_iter().collect();
        self.within("DescribeLogDirs", t, async {
            let deadline = Instant::now() + t;
            let req = DescribeLogDirsRequest {
                topics: partitions.as_ref().map(|ps| {
                    by_topic(ps)
                        .into_iter()
                        .map(|(topic, partitions)| DescribableLogDirTopic {
                            topic,
                            partitions,
                            ..Default::default()
                        })
                        .collect()
                }),
                ..Default::default()
            };
            let mut out = BTreeMap::new();
            for b in brokers {
                let r = self
                    .send_retry(Target::Broker(b), &req, deadline, None, |r| r.error_code)
                    .await
                    .and_then(|resp| {
                        check(resp.error_code, None)?;
                        Ok(resp
                            .results
                            .into_iter()
                            .map(|d| {
                                let replicas = d
                                    .topics
                                    .into_iter()
                                    .flat_map(|t| {
                                        let n = t.name;
                                        t.partitions.into_iter().map(move |p| {
                                            (
                                                TopicPartition::new(n.clone(), p.partition_index),
                                                ReplicaInfo {
                                                    size: p.partition_size,
                                                    offset_lag: p.offset_lag,
                                                    is_future: p.is_future_key,
                                                },
                                            )
                                        })
                                    })
                                    .collect();
                                (
                                    d.log_dir,
                                    LogDirDescription {
                                        error: check(d.error_code, None).err(),
                                        total_bytes: d.total_bytes,
                                        usable_bytes: d.usable_bytes,
                                        replicas,
                                    },
                                )
                            })
                            .collect())
                    });
                out.insert(b, r);
            }
            Ok(out)
        })
        .await
    }

    /// Moves replicas between log dirs of their broker (each broker asked directly). Needs a
    /// broker with several `log.dirs`; a single-dir broker answers per replica errors.
    ///
    /// Cancel safe.
    pub async fn alter_replica_log_dirs(
        &self,
        moves: impl IntoIterator<Item = (ReplicaOnBroker, String)>,
        opts: crate::Options,
    ) -> Result<BTreeMap<ReplicaOnBroker, Result<()>>> {
        let t = self.timeout_of(opts.timeout);
        let moves: BTreeMap<ReplicaOnBroker, String> = moves.into_iter().collect();
        self.within("AlterReplicaLogDirs", t, async {
            let deadline = Instant::now() + t;
            let mut per_broker: BTreeMap<i32, BTreeMap<String, Vec<TopicPartition>>> =
                BTreeMap::new();
            for (r, dir) in &moves {
                per_broker
                    .entry(r.broker)
                    .or_default()
                    .entry(dir.clone())
                    .or_default()
                    .push(r.partition.clone());
            }
            let mut out = BTreeMap::new();
            for (b, dirs) in per_broker {
                let req = AlterReplicaLogDirsRequest {
                    dirs: dirs
                        .iter()
                        .map(|(path, tps)| AlterReplicaLogDir {
                            path: path.clone(),
                            topics: by_topic(tps)
                                .into_iter()
                                .map(|(name, partitions)| AlterReplicaLogDirTopic {
                                    name,
                                    partitions,
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                };
                match self.send(Target::Broker(b), &req, deadline).await {
                    Ok(resp) => {
                        for tr in resp.results {
                            for p in tr.partitions {
                                out.insert(
                                    ReplicaOnBroker {
                                        partition: TopicPartition::new(
                                            tr.topic_name.clone(),
                                            p.partition_index,
                                        ),
                                        broker: b,
                                    },
                                    check(p.error_code, None),
                                );
                            }
                        }
                    }
                    Err(e) => {
                        for tps in dirs.values() {
                            for tp in tps {
                                out.insert(
                                    ReplicaOnBroker {
                                        partition: tp.clone(),
                                        broker: b,
                                    },
                                    Err(e.clone()),
                                );
                            }
                        }
                    }
                }
            }
            fill_missing(&mut out, moves.keys());
            Ok(out)
        })
        .await
    }
}
