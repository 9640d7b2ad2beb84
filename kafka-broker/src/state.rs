//! State shared by every connection.

use std::path::PathBuf;
use std::sync::Mutex;

use tokio::sync::watch;

use crate::config::BrokerConfig;
use crate::fetch_session::FetchSessionCache;
use crate::metadata::Metadata;
use crate::producer_ids::ProducerIds;

/// Everything a request handler may touch.
pub(crate) struct Shared {
    pub(crate) config: BrokerConfig,
    pub(crate) node_id: i32,
    pub(crate) cluster_id: String,
    pub(crate) advertised_host: String,
    pub(crate) advertised_port: i32,
    pub(crate) data_dir: PathBuf,
    pub(crate) metadata: Metadata,
    pub(crate) producer_ids: Mutex<ProducerIds>,
    pub(crate) fetch_sessions: Mutex<FetchSessionCache>,
    pub(crate) groups: crate::group::GroupCoordinator,
    pub(crate) txns: crate::txn::TxnCoordinator,
    pub(crate) shutdown: watch::Receiver<bool>,
}

/// Runs blocking work (log I/O, metadata writes) off the reactor threads.
pub(crate) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> Option<R> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::error!(error = %e, "blocking task failed");
            None
        }
    }
}
