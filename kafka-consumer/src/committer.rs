//! [`OffsetCommitter`]: commits for a consumer's group from other tasks or from a rebalance
//! listener.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_client::Client;

use crate::assignor::TopicPartition;
use crate::error::{Error, Result};
use crate::group::{self, SharedMembership};
use crate::offsets::{self, Committer};
use crate::record::OffsetAndMetadata;

/// A cloneable handle that commits offsets for a consumer's group without borrowing the
/// consumer ([`Consumer::offset_committer`](crate::Consumer::offset_committer)). Each commit
/// uses the member id and generation current at that moment, so a rebalance listener can
/// commit what was processed for partitions being revoked, as Java's listeners call
/// `commitSync`.
///
/// Listener callbacks are synchronous: inside one, run the commit with
/// `tokio::task::block_in_place(|| handle.block_on(committer.commit(offsets)))` on a
/// multi-threaded runtime.
///
/// ```no_run
/// # async fn demo(consumer: &kafka_consumer::Consumer) -> Result<(), kafka_consumer::Error> {
/// use kafka_consumer::{OffsetAndMetadata, TopicPartition};
/// let committer = consumer.offset_committer()?;
/// let task = tokio::spawn(async move {
///     committer
///         .commit([(TopicPartition::new("orders", 0), OffsetAndMetadata::new(42))].into())
///         .await
/// });
/// # let _ = task; Ok(()) }
/// ```
#[derive(Clone)]
pub struct OffsetCommitter {
    pub(crate) client: Client,
    pub(crate) group_id: String,
    pub(crate) instance_id: Option<String>,
    /// The group membership when the consumer subscribed (None: manual assignment).
    pub(crate) membership: Option<SharedMembership>,
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for OffsetCommitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OffsetCommitter")
            .field("group_id", &self.group_id)
            .finish_non_exhaustive()
    }
}

impl OffsetCommitter {
    /// Commits `offsets` (the offset of the *next* record to read per partition) and waits,
    /// retrying retriable errors up to `default.api.timeout.ms`.
    ///
    /// [`Error::CommitFailed`] when the group rebalanced past this member (the consumer then
    /// rejoins on its next poll).
    ///
    /// Cancel safe in that nothing is corrupted; whether a dropped commit reached the broker
    /// is unknown.
    pub async fn commit(&self, offsets: BTreeMap<TopicPartition, OffsetAndMetadata>) -> Result<()> {
        let (member_id, generation) = match &self.membership {
            Some(m) => {
                let m = group::lock(m);
                (m.member_id.clone(), m.generation)
            }
            None => (String::new(), -1),
        };
        let who = Committer {
            group_id: self.group_id.clone(),
            generation,
            member_id,
            instance_id: self.instance_id.clone(),
        };
        let r = offsets::commit(&self.client, &who, &offsets, self.timeout).await;
        if let (Err(Error::CommitFailed(_)), Some(m)) = (&r, &self.membership) {
            group::lock(m).rejoin_needed = true;
        }
        r
    }

    /// The group this handle commits for.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }
}
