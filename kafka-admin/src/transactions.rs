//! Transactions: list, describe, abort (hanging transactions); describe producers; fence
//! producers.

use std::collections::{BTreeMap, BTreeSet};

use kafka_client::{CoordinatorType, Target};
use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::write_txn_markers_request::{
    WritableTxnMarker, WritableTxnMarkerTopic,
};
use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeTransactionsRequest, InitProducerIdRequest,
    ListTransactionsRequest, WriteTxnMarkersRequest,
};
use tokio::time::Instant;

use crate::client::{AdminClient, options};
use crate::error::{AdminError, Result, check};
use crate::groups::GroupsResult;
use crate::offsets::PartitionsResult;
use crate::topics::fill_missing;
use crate::types::{TopicPartition, by_topic};

options!(
    /// Options of [`AdminClient::list_transactions`].
    ListTransactionsOptions {
        /// Only these states (`Ongoing`, `PrepareCommit`, …).
        states: Vec<String> = Vec::new(),
        /// Only these producer ids.
        producer_ids: Vec<i64> = Vec::new(),
        /// Only transactions running longer than this many ms (ListTransactions v1+; -1: any).
        duration_filter_ms: i64 = -1,
    }
);

/// A listed transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionListing {
    /// Transactional id.
    pub transactional_id: String,
    /// Producer id.
    pub producer_id: i64,
    /// State.
    pub state: String,
}

/// What [`AdminClient::list_transactions`] returns (every broker is asked).
#[derive(Debug, Clone)]
pub struct ListTransactionsResult {
    /// Transactions by id.
    pub transactions: BTreeMap<String, TransactionListing>,
    /// Brokers that failed.
    pub broker_errors: BTreeMap<i32, AdminError>,
}

/// A described transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionDescription {
    /// Coordinator node id.
    pub coordinator: i32,
    /// State.
    pub state: String,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Timeout in ms.
    pub timeout_ms: i32,
    /// Start time (ms since the epoch; -1: no transaction ongoing).
    pub start_time_ms: i64,
    /// Partitions in the transaction.
    pub partitions: BTreeSet<TopicPartition>,
}

/// An active producer on a partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerState {
    /// Producer id.
    pub producer_id: i64,
    /// Epoch.
    pub producer_epoch: i32,
    /// Last sequence.
    pub last_sequence: i32,
    /// Last timestamp.
    pub last_timestamp: i64,
    /// Coordinator epoch (-1: none).
    pub coordinator_epoch: i32,
    /// First offset of its open transaction (None: no open transaction).
    pub current_txn_start_offset: Option<i64>,
}

/// What to abort ([`AdminClient::abort_transaction`]): a hanging transaction of a producer on
/// one partition, as [`AdminClient::describe_producers`] shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbortTransactionSpec {
    /// The partition.
    pub partition: TopicPartition,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Coordinator epoch.
    pub coordinator_epoch: i32,
}

/// A fenced producer: its new id and epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FencedProducer {
    /// Producer id.
    pub producer_id: i64,
    /// The bumped epoch.
    pub producer_epoch: i16,
}

impl AdminClient {
    /// Lists transactions on every broker.
    ///
    /// Cancel safe.
    pub async fn list_transactions(
        &self,
        opts: ListTransactionsOptions,
    ) -> Result<ListTransactionsResult> {
        let t = self.timeout_of(opts.timeout);
        self.within("ListTransactions", t, async {
            let deadline = Instant::now() + t;
            let v = self
                .version_of(kafka_protocol::messages::ApiKey::ListTransactions)
                .await
                .unwrap_or(0);
            let req = ListTransactionsRequest {
                state_filters: opts.states.clone(),
                producer_id_filters: opts.producer_ids.clone(),
                duration_filter: if v >= 1 { opts.duration_filter_ms } else { -1 },
                ..Default::default()
            };
            let mut transactions = BTreeMap::new();
            let mut broker_errors = BTreeMap::new();
            for id in self.broker_ids().await? {
                let r = self
                    .send_retry(Target::Broker(id), &req, deadline, None, |r| r.error_code)
                    .await
                    .and_then(|r| check(r.error_code, None).map(|()| r));
                match r {
                    Ok(resp) => {
                        for s in resp.transaction_states {
                            transactions.insert(
                                s.transactional_id.clone(),
                                TransactionListing {
                                    transactional_id: s.transactional_id,
                                    producer_id: s.producer_id,
                                    state: s.transaction_state,
                                },
                            );
                        }
                    }
                    Err(e) => {
                        broker_errors.insert(id, e);
                    }
                }
            }
            Ok(ListTransactionsResult {
                transactions,
                broker_errors,
            })
        })
        .await
    }

    /// Describes transactions (at their coordinators).
    ///
    /// Cancel safe.
    pub async fn describe_transactions<S: Into<String>>(
        &self,
        ids: impl IntoIterator<Item = S>,
        opts: crate::Options,
    ) -> Result<GroupsResult<TransactionDescription>> {
        let t = self.timeout_of(opts.timeout);
        let ids: BTreeSet<String> = ids.into_iter().map(Into::into).collect();
        self.within("DescribeTransactions", t, async {
            let deadline = Instant::now() + t;
            let mut per_group = self
                .by_coordinator(
                    CoordinatorType::Transaction,
                    ids.iter().cloned().collect(),
                    deadline,
                    |node, ks| async move {
                        let req = DescribeTransactionsRequest {
                            transactional_ids: ks,
                            ..Default::default()
                        };
                        let resp = self.send(Target::Broker(node), &req, deadline).await?;
                        Ok(resp
                            .transaction_states
                            .into_iter()
                            .map(|s| {
                                let id = s.transactional_id.clone();
                                let r =
                                    check(s.error_code, None).map(|()| TransactionDescription {
                                        coordinator: node,
                                        state: s.transaction_state,
                                        producer_id: s.producer_id,
                                        producer_epoch: s.producer_epoch,
                                        timeout_ms: s.transaction_timeout_ms,
                                        start_time_ms: s.transaction_start_time_ms,
                                        partitions: s
                                            .topics
                                            .into_iter()
                                            .flat_map(|t| {
                                                let n = t.topic;
                                                t.partitions
                                                    .into_iter()
                                                    .map(move |p| TopicPartition::new(n.clone(), p))
                                            })
                                            .collect(),
                                    });
                                (id, r)
                            })
                            .collect())
                    },
                )
                .await;
            fill_missing(&mut per_group, ids.iter());
            Ok(GroupsResult { per_group })
        })
        .await
    }

    /// Active producers of partitions (asked of each leader).
    ///
    /// Cancel safe.
    pub async fn describe_producers(
        &self,
        partitions: impl IntoIterator<Item = TopicPartition>,
        opts: crate::Options,
    ) -> Result<PartitionsResult<Vec<ProducerState>>> {
        let t = self.timeout_of(opts.timeout);
        let partitions: Vec<TopicPartition> = partitions.into_iter().collect();
        self.within("DescribeProducers", t, async {
            let deadline = Instant::now() + t;
            let per_partition = self
                .by_leader(partitions, deadline, |leader, tps| async move {
                    let req = DescribeProducersRequest {
                        topics: by_topic(&tps)
                            .into_iter()
                            .map(|(name, partition_indexes)| TopicRequest {
                                name,
                                partition_indexes,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    };
                    let resp = self.send(Target::Broker(leader), &req, deadline).await?;
                    Ok(resp
                        .topics
                        .into_iter()
                        .flat_map(|tr| {
                            let n = tr.name;
                            tr.partitions.into_iter().map(move |p| {
                                (
                                    TopicPartition::new(n.clone(), p.partition_index),
                                    check(p.error_code, p.error_message).map(|()| {
                                        p.active_producers
                                            .into_iter()
                                            .map(|s| ProducerState {
                                                producer_id: s.producer_id,
                                                producer_epoch: s.producer_epoch,
                                                last_sequence: s.last_sequence,
                                                last_timestamp: s.last_timestamp,
                                                coordinator_epoch: s.coordinator_epoch,
                                                current_txn_start_offset: (s
                                                    .current_txn_start_offset
                                                    >= 0)
                                                    .then_some(s.current_txn_start_offset),
                                            })
                                            .collect()
                                    }),
                                )
                            })
                        })
                        .collect())
                })
                .await;
            Ok(PartitionsResult { per_partition })
        })
        .await
    }

    /// Aborts a hanging transaction on one partition by writing an abort marker at the
    /// partition leader (WriteTxnMarkers), as `kafka-transactions.sh abort` does.
    ///
    /// Cancel safe.
    pub async fn abort_transaction(
        &self,
        spec: AbortTransactionSpec,
        opts: crate::Options,
    ) -> Result<()> {
        let t = self.timeout_of(opts.timeout);
        self.within("AbortTransaction", t, async {
            let deadline = Instant::now() + t;
            let spec = &spec;
            let mut r = self
                .by_leader(
                    vec![spec.partition.clone()],
                    deadline,
                    |leader, _| async move {
                        let req = WriteTxnMarkersRequest {
                            markers: vec![WritableTxnMarker {
                                producer_id: spec.producer_id,
                                producer_epoch: spec.producer_epoch,
                                transaction_result: false,
                                topics: vec![WritableTxnMarkerTopic {
                                    name: spec.partition.topic.clone(),
                                    partition_indexes: vec![spec.partition.partition],
                                    ..Default::default()
                                }],
                                coordinator_epoch: spec.coordinator_epoch,
                                ..Default::default()
                            }],
                            ..Default::default()
                        };
                        let resp = self.send(Target::Broker(leader), &req, deadline).await?;
                        Ok(resp
                            .markers
                            .into_iter()
                            .flat_map(|m| m.topics)
                            .flat_map(|tr| {
                                let n = tr.name;
                                tr.partitions.into_iter().map(move |p| {
                                    (
                                        TopicPartition::new(n.clone(), p.partition_index),
                                        check(p.error_code, None),
                                    )
                                })
                            })
                            .collect())
                    },
                )
                .await;
            r.remove(&spec.partition)
                .unwrap_or_else(|| Err(AdminError::Malformed("no answer".into())))
        })
        .await
    }

    /// Fences the producers of transactional ids (InitProducerId at their coordinators bumps
    /// the epoch, so the old producers fail with PRODUCER_FENCED), per id.
    ///
    /// Cancel safe.
    pub async fn fence_producers<S: Into<String>>(
        &self,
        ids: impl IntoIterator<Item = S>,
        opts: crate::Options,
    ) -> Result<GroupsResult<FencedProducer>> {
        let t = self.timeout_of(opts.timeout);
        let ids: BTreeSet<String> = ids.into_iter().map(Into::into).collect();
        self.within("FenceProducers", t, async {
            let deadline = Instant::now() + t;
            let mut per_group = self
                .by_coordinator(
                    CoordinatorType::Transaction,
                    ids.iter().cloned().collect(),
                    deadline,
                    |node, ks| async move {
                        let mut out = Vec::new();
                        for k in ks {
                            let req = InitProducerIdRequest {
                                transactional_id: Some(k.clone()),
                                transaction_timeout_ms: 60_000,
                                producer_id: -1,
                                producer_epoch: -1,
                                ..Default::default()
                            };
                            let r = match self.send(Target::Broker(node), &req, deadline).await {
                                Ok(resp) => check(resp.error_code, None).map(|()| FencedProducer {
                                    producer_id: resp.producer_id,
                                    producer_epoch: resp.producer_epoch,
                                }),
                                Err(e) => Err(e),
                            };
                            out.push((k, r));
                        }
                        Ok(out)
                    },
                )
                .await;
            fill_missing(&mut per_group, ids.iter());
            Ok(GroupsResult { per_group })
        })
        .await
    }
}
