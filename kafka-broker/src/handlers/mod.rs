//! One module per Kafka API, each headed by the versions it serves and what differs between
//! them (the layout of franz-go's kfake). [`dispatch`] routes a decoded request to its handler.

use std::net::SocketAddr;
use std::sync::Arc;

use kafka_protocol::messages::{RequestHeader, RequestKind, ResponseKind};

use crate::state::Shared;

pub(crate) mod add_offsets_to_txn;
pub(crate) mod add_partitions_to_txn;
pub(crate) mod alter_configs;
pub(crate) mod api_versions;
pub(crate) mod consumer_group_describe;
pub(crate) mod consumer_group_heartbeat;
pub(crate) mod create_partitions;
pub(crate) mod create_topics;
pub(crate) mod delete_groups;
pub(crate) mod delete_records;
pub(crate) mod delete_topics;
pub(crate) mod describe_cluster;
pub(crate) mod describe_configs;
pub(crate) mod describe_groups;
pub(crate) mod describe_log_dirs;
pub(crate) mod describe_producers;
pub(crate) mod describe_transactions;
pub(crate) mod end_txn;
pub(crate) mod fetch;
pub(crate) mod find_coordinator;
pub(crate) mod heartbeat;
pub(crate) mod incremental_alter_configs;
pub(crate) mod init_producer_id;
pub(crate) mod join_group;
pub(crate) mod leave_group;
pub(crate) mod list_groups;
pub(crate) mod list_offsets;
pub(crate) mod list_transactions;
pub(crate) mod metadata;
pub(crate) mod offset_commit;
pub(crate) mod offset_delete;
pub(crate) mod offset_fetch;
pub(crate) mod offset_for_leader_epoch;
pub(crate) mod produce;
pub(crate) mod sync_group;
pub(crate) mod txn_offset_commit;
pub(crate) mod write_txn_markers;

/// What to do after handling a request.
pub(crate) enum Outcome {
    /// Send this response.
    Respond(ResponseKind),
    /// Send nothing (acks=0 produce).
    NoResponse,
    /// Close the connection (acks=0 produce that failed, as Kafka does).
    Close(String),
}

impl<T: Into<ResponseKind>> From<T> for Outcome {
    fn from(r: T) -> Self {
        Outcome::Respond(r.into())
    }
}

/// Routes a request to its handler. Only advertised APIs reach this point.
pub(crate) async fn dispatch(
    s: &Arc<Shared>,
    h: &RequestHeader,
    peer: SocketAddr,
    body: RequestKind,
) -> Outcome {
    let v = h.request_api_version;
    match body {
        RequestKind::ApiVersions(r) => api_versions::handle(v, r).into(),
        RequestKind::Metadata(r) => metadata::handle(s, v, r).await.into(),
        RequestKind::Produce(r) => produce::handle(s, v, r).await,
        RequestKind::Fetch(r) => fetch::handle(s, v, r).await.into(),
        RequestKind::ListOffsets(r) => list_offsets::handle(s, v, r).await.into(),
        RequestKind::CreateTopics(r) => create_topics::handle(s, v, r).await.into(),
        RequestKind::DeleteTopics(r) => delete_topics::handle(s, v, r).await.into(),
        RequestKind::CreatePartitions(r) => create_partitions::handle(s, v, r).await.into(),
        RequestKind::DescribeConfigs(r) => describe_configs::handle(s, v, r).into(),
        RequestKind::AlterConfigs(r) => alter_configs::handle(s, v, r).await.into(),
        RequestKind::IncrementalAlterConfigs(r) => {
            incremental_alter_configs::handle(s, v, r).await.into()
        }
        RequestKind::DescribeCluster(r) => describe_cluster::handle(s, v, r).into(),
        RequestKind::DeleteRecords(r) => delete_records::handle(s, v, r).await.into(),
        RequestKind::OffsetForLeaderEpoch(r) => {
            offset_for_leader_epoch::handle(s, v, r).await.into()
        }
        RequestKind::InitProducerId(r) => init_producer_id::handle(s, v, r).await.into(),
        RequestKind::DescribeLogDirs(r) => describe_log_dirs::handle(s, v, r).await.into(),
        RequestKind::FindCoordinator(r) => find_coordinator::handle(s, v, r).await.into(),
        RequestKind::JoinGroup(r) => join_group::handle(s, h, peer, v, r).await.into(),
        RequestKind::SyncGroup(r) => sync_group::handle(s, v, r).await.into(),
        RequestKind::Heartbeat(r) => heartbeat::handle(s, v, r).into(),
        RequestKind::LeaveGroup(r) => leave_group::handle(s, v, r).await.into(),
        RequestKind::OffsetCommit(r) => offset_commit::handle(s, v, r).await.into(),
        RequestKind::OffsetFetch(r) => offset_fetch::handle(s, v, r).into(),
        RequestKind::OffsetDelete(r) => offset_delete::handle(s, v, r).await.into(),
        RequestKind::ListGroups(r) => list_groups::handle(s, v, r).into(),
        RequestKind::DescribeGroups(r) => describe_groups::handle(s, v, r).into(),
        RequestKind::DeleteGroups(r) => delete_groups::handle(s, v, r).await.into(),
        RequestKind::ConsumerGroupHeartbeat(r) => {
            consumer_group_heartbeat::handle(s, h, peer, v, r)
                .await
                .into()
        }
        RequestKind::ConsumerGroupDescribe(r) => consumer_group_describe::handle(s, v, r).into(),
        RequestKind::AddPartitionsToTxn(r) => add_partitions_to_txn::handle(s, v, r).await.into(),
        RequestKind::AddOffsetsToTxn(r) => add_offsets_to_txn::handle(s, v, r).await.into(),
        RequestKind::EndTxn(r) => end_txn::handle(s, v, r).await.into(),
        RequestKind::TxnOffsetCommit(r) => txn_offset_commit::handle(s, v, r).await.into(),
        RequestKind::WriteTxnMarkers(r) => write_txn_markers::handle(s, v, r).await.into(),
        RequestKind::DescribeProducers(r) => describe_producers::handle(s, v, r).await.into(),
        RequestKind::DescribeTransactions(r) => describe_transactions::handle(s, v, r).into(),
        RequestKind::ListTransactions(r) => list_transactions::handle(s, v, r).into(),
        other => Outcome::Close(format!("{:?} is not supported", other.api_key())),
    }
}

/// PRODUCER_FENCED as older versions of an API know it: INVALID_PRODUCER_EPOCH below
/// `since` (Kafka's conversion for clients from before KIP-588).
pub(crate) fn fenced(
    code: kafka_protocol::ErrorCode,
    version: i16,
    since: i16,
) -> kafka_protocol::ErrorCode {
    if code == kafka_protocol::ErrorCode::ProducerFenced && version < since {
        kafka_protocol::ErrorCode::InvalidProducerEpoch
    } else {
        code
    }
}

/// Checks a client's `current_leader_epoch` against ours (always 0 on a single node that
/// never changes leaders): -1 skips the check.
pub(crate) fn check_leader_epoch(current: i32) -> kafka_protocol::ErrorCode {
    use kafka_protocol::ErrorCode;
    match current {
        -1 | 0 => ErrorCode::None,
        e if e > 0 => ErrorCode::UnknownLeaderEpoch,
        _ => ErrorCode::FencedLeaderEpoch,
    }
}

/// Test helpers: a broker state in a temp dir, without a listener.
#[cfg(test)]
pub(crate) mod testutil {
    use std::sync::{Arc, Mutex};

    use crate::config::BrokerConfig;
    use crate::fetch_session::FetchSessionCache;
    use crate::metadata::Metadata;
    use crate::producer_ids::ProducerIds;
    use crate::state::Shared;

    /// A state plus the temp dir that holds it.
    pub(crate) struct TestState {
        pub(crate) shared: Arc<Shared>,
        pub(crate) _dir: tempfile::TempDir,
        pub(crate) _tx: tokio::sync::watch::Sender<bool>,
    }

    pub(crate) fn state() -> TestState {
        state_with(BrokerConfig::default())
    }

    /// A state with this config in a fresh temp dir.
    pub(crate) fn state_with(config: BrokerConfig) -> TestState {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (shared, tx) = shared_in(dir.path(), config);
        TestState {
            shared,
            _dir: dir,
            _tx: tx,
        }
    }

    /// A state over an existing data dir (groups loaded from it, as at broker start).
    pub(crate) fn shared_in(
        dir: &std::path::Path,
        config: BrokerConfig,
    ) -> (Arc<Shared>, tokio::sync::watch::Sender<bool>) {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let metadata =
            Metadata::open(dir, config.topic_defaults.clone()).unwrap_or_else(|e| panic!("{e}"));
        let groups = crate::group::GroupCoordinator::new(config.groups.clone());
        groups.load(&metadata);
        let shared = Arc::new(Shared {
            node_id: 1,
            cluster_id: "test-cluster".into(),
            advertised_host: "127.0.0.1".into(),
            advertised_port: 9092,
            data_dir: dir.to_path_buf(),
            metadata,
            producer_ids: Mutex::new(ProducerIds::open(dir).unwrap_or_else(|e| panic!("{e}"))),
            fetch_sessions: Mutex::new(FetchSessionCache::new(100)),
            groups,
            txns: crate::txn::TxnCoordinator::new(config.transactions.clone()),
            shutdown: rx,
            config,
        });
        shared.txns.load(&shared);
        (shared, tx)
    }

    /// Encodes a response at `version` and decodes it back (catches fields set in versions
    /// that lack them).
    pub(crate) fn round_trip<T: kafka_protocol::Message>(msg: &T, version: i16) {
        let mut buf = bytes::BytesMut::new();
        msg.encode(&mut buf, version)
            .unwrap_or_else(|e| panic!("{} v{version}: {e}", T::NAME));
        let back = T::decode(&mut buf.freeze(), version)
            .unwrap_or_else(|e| panic!("{} v{version}: {e}", T::NAME));
        drop(back);
    }
}
