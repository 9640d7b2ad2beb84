//! The cluster metadata cache: brokers, controller, topics (with ids), partitions, leaders and
//! leader epochs. Snapshots are immutable and shared as `Arc<ClusterMetadata>`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kafka_protocol::messages::MetadataResponse;
use kafka_protocol::{ErrorCode, Uuid};
use tokio::time::Instant;

use crate::config::HostPort;

/// One broker as the metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Node id.
    pub node_id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
    /// Rack, if configured.
    pub rack: Option<String>,
}

impl BrokerInfo {
    /// The address to connect to (None if the port is out of range).
    pub fn host_port(&self) -> Option<HostPort> {
        Some(HostPort {
            host: self.host.clone(),
            port: u16::try_from(self.port).ok()?,
        })
    }
}

/// One partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    /// Partition index.
    pub partition: i32,
    /// Leader node id (None when there is no leader).
    pub leader: Option<i32>,
    /// Leader epoch (-1 when unknown).
    pub leader_epoch: i32,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
    /// Offline replica node ids.
    pub offline_replicas: Vec<i32>,
    /// The partition-level error, if any (LEADER_NOT_AVAILABLE, …).
    pub error: Option<ErrorCode>,
}

/// One topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    /// Name.
    pub name: String,
    /// Topic id ([`Uuid::ZERO`] from brokers that predate topic ids).
    pub id: Uuid,
    /// Whether the topic is internal (`__consumer_offsets`, …).
    pub is_internal: bool,
    /// The topic-level error, if any (UNKNOWN_TOPIC_OR_PARTITION, …).
    pub error: Option<ErrorCode>,
    /// Partitions sorted by index.
    pub partitions: Vec<PartitionMetadata>,
}

impl TopicMetadata {
    /// A partition by index.
    pub fn partition(&self, partition: i32) -> Option<&PartitionMetadata> {
        self.partitions
            .binary_search_by_key(&partition, |p| p.partition)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }
}

/// An immutable snapshot of what the client knows about the cluster.
///
/// ```
/// use kafka_client::ClusterMetadata;
/// let md = ClusterMetadata::default();
/// assert!(md.leader_for("t", 0).is_none());
/// assert_eq!(md.generation, 0);
/// ```
#[derive(Debug, Clone)]
pub struct ClusterMetadata {
    /// Cluster id.
    pub cluster_id: Option<String>,
    /// The controller's node id (in KRaft clusters: a broker that forwards controller
    /// requests).
    pub controller_id: Option<i32>,
    /// Brokers by node id.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Topics by name.
    pub topics: BTreeMap<String, TopicMetadata>,
    /// Topic names by id.
    pub topic_names: HashMap<Uuid, String>,
    /// When this snapshot was built.
    pub fetched_at: Instant,
    /// Increases with every refresh (0 before the first).
    pub generation: u64,
}

impl Default for ClusterMetadata {
    fn default() -> Self {
        ClusterMetadata {
            cluster_id: None,
            controller_id: None,
            brokers: BTreeMap::new(),
            topics: BTreeMap::new(),
            topic_names: HashMap::new(),
            fetched_at: Instant::now(),
            generation: 0,
        }
    }
}

impl ClusterMetadata {
    /// A topic by name.
    pub fn topic(&self, name: &str) -> Option<&TopicMetadata> {
        self.topics.get(name)
    }

    /// A topic by id.
    pub fn topic_by_id(&self, id: Uuid) -> Option<&TopicMetadata> {
        self.topic_names.get(&id).and_then(|n| self.topics.get(n))
    }

    /// The leader's node id and epoch for a partition, if known.
    pub fn leader_for(&self, topic: &str, partition: i32) -> Option<(i32, i32)> {
        let p = self.topic(topic)?.partition(partition)?;
        p.leader.map(|l| (l, p.leader_epoch))
    }

    /// A broker by id.
    pub fn broker(&self, id: i32) -> Option<&BrokerInfo> {
        self.brokers.get(&id)
    }

    /// Builds the next snapshot from a response.
    ///
    /// `requested` is the topic list that was asked for (None = all topics): with all topics,
    /// topics missing from the response are dropped; otherwise other cached topics are kept.
    /// A partition whose leader epoch went backwards keeps its cached (newer) state.
    pub fn merge(&self, resp: &MetadataResponse, requested: Option<&BTreeSet<String>>) -> Self {
        let brokers: BTreeMap<i32, BrokerInfo> = resp
            .brokers
            .iter()
            .map(|b| {
                (
                    b.node_id,
                    BrokerInfo {
                        node_id: b.node_id,
                        host: b.host.clone(),
                        port: b.port,
                        rack: b.rack.clone(),
                    },
                )
            })
            .collect();
        let mut topics = match requested {
            None => BTreeMap::new(),
            Some(_) => self.topics.clone(),
        };
        for t in &resp.topics {
            let Some(name) = t
                .name
                .clone()
                .or_else(|| self.topic_names.get(&t.topic_id).cloned())
            else {
                continue;
            };
            let old = self.topics.get(&name);
            let mut partitions: Vec<PartitionMetadata> = t
                .partitions
                .iter()
                .map(|p| {
                    let fresh = PartitionMetadata {
                        partition: p.partition_index,
                        leader: (p.leader_id >= 0).then_some(p.leader_id),
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes.clone(),
                        isr: p.isr_nodes.clone(),
                        offline_replicas: p.offline_replicas.clone(),
                        error: nonzero(p.error_code),
                    };
                    match old.and_then(|o| o.partition(p.partition_index)) {
                        Some(o)
                            if o.leader_epoch >= 0
                                && p.leader_epoch >= 0
                                && p.leader_epoch < o.leader_epoch =>
                        {
                            o.clone()
                        }
                        _ => fresh,
                    }
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            partitions.dedup_by_key(|p| p.partition);
            topics.insert(
                name.clone(),
                TopicMetadata {
                    name,
                    id: t.topic_id,
                    is_internal: t.is_internal,
                    error: nonzero(t.error_code),
                    partitions,
                },
            );
        }
        let topic_names = topics
            .values()
            .filter(|t| t.id != Uuid::ZERO)
            .map(|t| (t.id, t.name.clone()))
            .collect();
        ClusterMetadata {
            cluster_id: resp.cluster_id.clone(),
            controller_id: (resp.controller_id >= 0).then_some(resp.controller_id),
            brokers,
            topics,
            topic_names,
            fetched_at: Instant::now(),
            generation: self.generation + 1,
        }
    }
}

fn nonzero(code: i16) -> Option<ErrorCode> {
    (code != 0).then(|| ErrorCode::from_i16(code))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use kafka_protocol::messages::metadata_response::{
        MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
    };

    fn resp(epoch: i32, leader: i32) -> MetadataResponse {
        MetadataResponse {
            brokers: vec![MetadataResponseBroker {
                node_id: 1,
                host: "h".into(),
                port: 9092,
                ..Default::default()
            }],
            controller_id: 1,
            topics: vec![MetadataResponseTopic {
                name: Some("t".into()),
                topic_id: Uuid::from_u128(7),
                partitions: vec![MetadataResponsePartition {
                    partition_index: 0,
                    leader_id: leader,
                    leader_epoch: epoch,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn merge_keeps_newer_epochs_and_ids() {
        let md = ClusterMetadata::default().merge(&resp(5, 1), None);
        assert_eq!(md.leader_for("t", 0), Some((1, 5)));
        assert_eq!(md.topic_by_id(Uuid::from_u128(7)).unwrap().name, "t");
        assert_eq!(md.generation, 1);
        let md2 = md.merge(&resp(4, 2), None);
        assert_eq!(md2.leader_for("t", 0), Some((1, 5)), "stale epoch ignored");
        let md3 = md2.merge(&resp(6, -1), None);
        assert_eq!(md3.leader_for("t", 0), None);
        assert_eq!(md3.controller_id, Some(1));
    }
}
