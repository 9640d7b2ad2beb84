//! Records and offsets: list offsets (earliest/latest/timestamp/max timestamp), delete
//! records.

use std::collections::BTreeMap;

use kafka_client::Target;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{DeleteRecordsRequest, ListOffsetsRequest};
use tokio::time::Instant;

use crate::client::{AdminClient, ms_i32, options};
use crate::error::{Result, check};
use crate::types::{TopicPartition, by_topic};

/// Which offset [`AdminClient::list_offsets`] looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The log end offset (high watermark; last stable offset with `read_committed`).
    Latest,
    /// The offset of the record with the largest timestamp (ListOffsets v7+).
    MaxTimestamp,
    /// The first offset whose timestamp is at least this (ms since the epoch).
    Timestamp(i64),
}

impl OffsetSpec {
    fn wire(self) -> i64 {
        match self {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
            OffsetSpec::MaxTimestamp => -3,
            OffsetSpec::Timestamp(t) => t,
        }
    }
}

/// A listed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListedOffset {
    /// The offset (-1 when no record matches a timestamp).
    pub offset: i64,
    /// The record's timestamp (-1 when not applicable).
    pub timestamp: i64,
    /// The leader epoch (None: unknown).
    pub leader_epoch: Option<i32>,
}

/// Per-partition results (list offsets, delete records, …).
#[derive(Debug, Clone)]
pub struct PartitionsResult<T> {
    /// One result per requested partition.
    pub per_partition: BTreeMap<TopicPartition, Result<T>>,
}

impl<T> PartitionsResult<T> {
    /// The first failure, if any partition failed.
    pub fn first_error(&self) -> Option<&crate::AdminError> {
        self.per_partition.values().find_map(|r| r.as_ref().err())
    }
    /// Whether every partition succeeded.
    pub fn is_ok(&self) -> bool {
        self.first_error().is_none()
    }
}

/// Transaction isolation of [`AdminClient::list_offsets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    /// Latest is the high watermark.
    #[default]
    ReadUncommitted,
    /// Latest is the last stable offset.
    ReadCommitted,
}

options!(
    /// Options of [`AdminClient::list_offsets`].
    ListOffsetsOptions {
        /// Isolation level.
        isolation_level: IsolationLevel = IsolationLevel::ReadUncommitted,
    }
);

impl AdminClient {
    /// Lists offsets of partitions, asking each partition's leader; partitions whose leader
    /// moved are retried within the timeout.
    ///
    /// ```no_run
    /// # async fn demo(admin: kafka_admin::AdminClient) -> Result<(), kafka_admin::AdminError> {
    /// use kafka_admin::{ListOffsetsOptions, OffsetSpec, TopicPartition};
    /// let r = admin.list_offsets([(TopicPartition::new("orders", 0), OffsetSpec::Latest)],
    ///     ListOffsetsOptions::default()).await?;
    /// println!("{:?}", r.per_partition);
    /// # Ok(()) }
    /// ```
    ///
    /// Cancel safe.
    pub async fn list_offsets(
        &self,
        specs: impl IntoIterator<Item = (TopicPartition, OffsetSpec)>,
        opts: ListOffsetsOptions,
    ) -> Result<PartitionsResult<ListedOffset>> {
        let t = self.timeout_of(opts.timeout);
        let specs: BTreeMap<TopicPartition, OffsetSpec> = specs.into_iter().collect();
        self.within("ListOffsets", t, async {
            let deadline = Instant::now() + t;
            let specs = &specs;
            let per_partition = self
                .by_leader(
                    specs.keys().cloned().collect(),
                    deadline,
                    |leader, tps| async move {
                        let req = ListOffsetsRequest {
                            replica_id: -1,
                            isolation_level: match opts.isolation_level {
                                IsolationLevel::ReadUncommitted => 0,
                                IsolationLevel::ReadCommitted => 1,
                            },
                            topics: by_topic(&tps)
                                .into_iter()
                                .map(|(topic, parts)| ListOffsetsTopic {
                                    partitions: parts
                                        .iter()
                                        .map(|p| ListOffsetsPartition {
                                            partition_index: *p,
                                            current_leader_epoch: -1,
                                            timestamp: specs
                                                .get(&TopicPartition::new(topic.clone(), *p))
                                                .map(|s| s.wire())
                                                .unwrap_or(-1),
                                            ..Default::default()
                                        })
                                        .collect(),
                                    name: topic,
                                    ..Default::default()
                                })
                                .collect(),
                            timeout_ms: ms_i32(t),
                            ..Default::default()
                        };
                        let resp = self.send(Target::Broker(leader), &req, deadline).await?;
                        Ok(resp
                            .topics
                            .into_iter()
                            .flat_map(|tr| {
                                let name = tr.name;
                                tr.partitions.into_iter().map(move |p| {
                                    (
                                        TopicPartition::new(name.clone(), p.partition_index),
                                        check(p.error_code, None).map(|()| ListedOffset {
                                            offset: p.offset,
                                            timestamp: p.timestamp,
                                            leader_epoch: (p.leader_epoch >= 0)
                                                .then_some(p.leader_epoch),
                                        }),
                                    )
                                })
                            })
                            .collect())
                    },
                )
                .await;
            Ok(PartitionsResult { per_partition })
        })
        .await
    }

    /// Deletes records before the given offsets (-1: the high watermark); each partition's
    /// answer is its new low watermark.
    ///
    /// Cancel safe.
    pub async fn delete_records(
        &self,
        before: impl IntoIterator<Item = (TopicPartition, i64)>,
        opts: crate::Options,
    ) -> Result<PartitionsResult<i64>> {
        let t = self.timeout_of(opts.timeout);
        let before: BTreeMap<TopicPartition, i64> = before.into_iter().collect();
        self.within("DeleteRecords", t, async {
            let deadline = Instant::now() + t;
            let before = &before;
            let per_partition = self
                .by_leader(
                    before.keys().cloned().collect(),
                    deadline,
                    |leader, tps| async move {
                        let req = DeleteRecordsRequest {
                            topics: by_topic(&tps)
                                .into_iter()
                                .map(|(topic, parts)| DeleteRecordsTopic {
                                    partitions: parts
                                        .iter()
                                        .map(|p| DeleteRecordsPartition {
                                            partition_index: *p,
                                            offset: before
                                                .get(&TopicPartition::new(topic.clone(), *p))
                                                .copied()
                                                .unwrap_or(-1),
                                            ..Default::default()
                                        })
                                        .collect(),
                                    name: topic,
                                    ..Default::default()
                                })
                                .collect(),
                            timeout_ms: ms_i32(t),
                            ..Default::default()
                        };
                        let resp = self.send(Target::Broker(leader), &req, deadline).await?;
                        Ok(resp
                            .topics
                            .into_iter()
                            .flat_map(|tr| {
                                let name = tr.name;
                                tr.partitions.into_iter().map(move |p| {
                                    (
                                        TopicPartition::new(name.clone(), p.partition_index),
                                        check(p.error_code, None).map(|()| p.low_watermark),
                                    )
                                })
                            })
                            .collect())
                    },
                )
                .await;
            Ok(PartitionsResult { per_partition })
        })
        .await
    }
}
