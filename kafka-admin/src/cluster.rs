//! Cluster: describe cluster, describe features, API versions per broker.

use std::collections::{BTreeMap, BTreeSet};

use kafka_client::Target;
use kafka_protocol::VersionRange;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, DescribeClusterRequest, MetadataRequest,
};
use tokio::time::Instant;

use crate::client::AdminClient;
use crate::error::{Result, check};
use crate::types::{AclOperation, authorized_operations};

/// A broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerNode {
    /// Node id.
    pub id: i32,
    /// Host.
    pub host: String,
    /// Port.
    pub port: i32,
    /// Rack.
    pub rack: Option<String>,
    /// Fenced (DescribeCluster v2+ with fenced brokers included; else false).
    pub is_fenced: bool,
}

/// What [`AdminClient::describe_cluster`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    /// Cluster id.
    pub cluster_id: String,
    /// Controller id as brokers report it (None: unknown).
    pub controller_id: Option<i32>,
    /// Brokers.
    pub brokers: Vec<BrokerNode>,
    /// What the caller may do on the cluster resource (DescribeCluster only).
    pub authorized_operations: Option<BTreeSet<AclOperation>>,
}

/// Finalized and supported feature levels ([`AdminClient::describe_features`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeatureMetadata {
    /// Finalized feature → (min, max) level.
    pub finalized: BTreeMap<String, (i16, i16)>,
    /// Epoch of the finalized features (None: not reported).
    pub finalized_epoch: Option<i64>,
    /// Supported feature → (min, max) version on the answering broker.
    pub supported: BTreeMap<String, (i16, i16)>,
}

impl AdminClient {
    /// Describes the cluster: DescribeCluster (Kafka 2.8+), else Metadata.
    ///
    /// Cancel safe.
    pub async fn describe_cluster(&self, opts: crate::Options) -> Result<ClusterDescription> {
        let t = self.timeout_of(opts.timeout);
        self.within("DescribeCluster", t, async {
            let deadline = Instant::now() + t;
            if self.supports(ApiKey::DescribeCluster).await {
                let req = DescribeClusterRequest {
                    include_cluster_authorized_operations: true,
                    endpoint_type: 1,
                    ..Default::default()
                };
                let resp = self
                    .send_retry(Target::AnyBroker, &req, deadline, None, |r| r.error_code)
                    .await?;
                check(resp.error_code, resp.error_message)?;
                return Ok(ClusterDescription {
                    cluster_id: resp.cluster_id,
                    controller_id: (resp.controller_id >= 0).then_some(resp.controller_id),
                    brokers: resp
                        .brokers
                        .into_iter()
                        .map(|b| BrokerNode {
                            id: b.broker_id,
                            host: b.host,
                            port: b.port,
                            rack: b.rack,
                            is_fenced: b.is_fenced,
                        })
                        .collect(),
                    authorized_operations: authorized_operations(
                        resp.cluster_authorized_operations,
                    ),
                });
            }
            let req = MetadataRequest {
                topics: Some(Vec::new()),
                ..Default::default()
            };
            let resp = self.send(Target::AnyBroker, &req, deadline).await?;
            Ok(ClusterDescription {
                cluster_id: resp.cluster_id.unwrap_or_default(),
                controller_id: (resp.controller_id >= 0).then_some(resp.controller_id),
                brokers: resp
                    .brokers
                    .into_iter()
                    .map(|b| BrokerNode {
                        id: b.node_id,
                        host: b.host,
                        port: b.port,
                        rack: b.rack,
                        is_fenced: false,
                    })
                    .collect(),
                authorized_operations: None,
            })
        })
        .await
    }

    /// Describes feature levels (from an ApiVersions answer, v3+).
    ///
    /// Cancel safe.
    pub async fn describe_features(&self, opts: crate::Options) -> Result<FeatureMetadata> {
        let t = self.timeout_of(opts.timeout);
        self.within("DescribeFeatures", t, async {
            let deadline = Instant::now() + t;
            let cfg = self.client.config();
            let req = ApiVersionsRequest {
                client_software_name: cfg.client_software_name.clone(),
                client_software_version: cfg.client_software_version.clone(),
                ..Default::default()
            };
            let resp = self
                .send_retry(Target::AnyBroker, &req, deadline, None, |r| r.error_code)
                .await?;
            check(resp.error_code, None)?;
            Ok(FeatureMetadata {
                finalized: resp
                    .finalized_features
                    .into_iter()
                    .map(|f| (f.name, (f.min_version_level, f.max_version_level)))
                    .collect(),
                finalized_epoch: (resp.finalized_features_epoch >= 0)
                    .then_some(resp.finalized_features_epoch),
                supported: resp
                    .supported_features
                    .into_iter()
                    .map(|f| (f.name, (f.min_version, f.max_version)))
                    .collect(),
            })
        })
        .await
    }

    /// The API versions each broker advertised (from its connection's ApiVersions
    /// handshake), per broker: one unreachable broker does not hide the others.
    ///
    /// Cancel safe.
    pub async fn api_versions(
        &self,
        opts: crate::Options,
    ) -> Result<BTreeMap<i32, Result<BTreeMap<i16, VersionRange>>>> {
        let t = self.timeout_of(opts.timeout);
        self.within("ApiVersions", t, async {
            let mut out = BTreeMap::new();
            for id in self.broker_ids().await? {
                let r = match self.client.broker_connection(id).await {
                    Ok(c) => Ok(c.versions().iter().collect()),
                    Err(e) => Err(e.into()),
                };
                out.insert(id, r);
            }
            Ok(out)
        })
        .await
    }
}
