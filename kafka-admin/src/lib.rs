//! Kafka's AdminClient for automation: every admin operation, typed, with a timeout on every
//! call, results reported per entity (one topic can fail while the others succeed) and no
//! panics. A thin layer over [`kafka_client::Client`], in the spirit of franz-go's `kadm`.
//!
//! | area | calls |
//! |---|---|
//! | topics | [`AdminClient::create_topics`], [`AdminClient::delete_topics`], [`AdminClient::delete_topics_by_id`], [`AdminClient::list_topics`], [`AdminClient::describe_topics`], [`AdminClient::create_partitions`] |
//! | configs | [`AdminClient::describe_configs`], [`AdminClient::alter_configs`], [`AdminClient::incremental_alter_configs`] |
//! | groups | [`AdminClient::list_groups`], [`AdminClient::describe_consumer_groups`], [`AdminClient::describe_kip848_groups`], [`AdminClient::describe_share_groups`], [`AdminClient::delete_consumer_groups`], [`AdminClient::list_consumer_group_offsets`], [`AdminClient::alter_consumer_group_offsets`], [`AdminClient::delete_consumer_group_offsets`], [`AdminClient::remove_members_from_consumer_group`], [`AdminClient::lag`] |
//! | cluster | [`AdminClient::describe_cluster`], [`AdminClient::describe_features`], [`AdminClient::api_versions`] |
//! | offsets | [`AdminClient::list_offsets`], [`AdminClient::delete_records`] |
//! | partitions | [`AdminClient::elect_leaders`], [`AdminClient::alter_partition_reassignments`], [`AdminClient::list_partition_reassignments`], [`AdminClient::describe_log_dirs`], [`AdminClient::alter_replica_log_dirs`] |
//! | security | [`AdminClient::create_acls`], [`AdminClient::describe_acls`], [`AdminClient::delete_acls`], [`AdminClient::describe_client_quotas`], [`AdminClient::alter_client_quotas`], [`AdminClient::describe_user_scram_credentials`], [`AdminClient::alter_user_scram_credentials`], delegation tokens |
//! | transactions | [`AdminClient::list_transactions`], [`AdminClient::describe_transactions`], [`AdminClient::abort_transaction`], [`AdminClient::describe_producers`], [`AdminClient::fence_producers`] |
//!
//! Routing follows Apache Kafka's `KafkaAdminClient`: topic creation/deletion, partition
//! creation, leader elections and reassignments go to the controller; broker and
//! broker-logger configs and log dirs to the named broker; offsets, records and producers to
//! partition leaders; group and transaction calls to their coordinators (looked up in one
//! batched FindCoordinator); listing groups and transactions asks every broker and reports
//! per-broker failures beside what the others answered; everything else goes to any broker.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kafka_admin::AdminError> {
//! use std::time::Duration;
//! use kafka_admin::{AdminClient, AdminConfig, Options};
//!
//! let admin = AdminClient::connect(AdminConfig::from_properties([
//!     ("bootstrap.servers", "localhost:9092"),
//!     ("default.api.timeout.ms", "30000"),
//! ])?).await?;
//! let cluster = admin.describe_cluster(Options::default().timeout(Duration::from_secs(5))).await?;
//! println!("cluster {} with {} brokers", cluster.cluster_id, cluster.brokers.len());
//! let lag = admin.lag("billing", Options::default()).await?;
//! for (tp, l) in &lag.per_partition {
//!     println!("{tp}: lag {:?}", l.lag);
//! }
//! # Ok(()) }
//! ```

mod client;
mod cluster;
mod configs;
mod error;
mod groups;
mod offsets;
mod partitions;
mod security;
mod topics;
mod transactions;
mod types;

pub use client::{AdminClient, AdminConfig, Options};
pub use cluster::*;
pub use configs::*;
pub use error::{AdminError, Result};
pub use groups::*;
pub use offsets::*;
pub use partitions::*;
pub use security::*;
pub use topics::*;
pub use transactions::*;
pub use types::{
    AclOperation, ConfigResource, ConfigResourceType, TopicPartition, authorized_operations,
};
