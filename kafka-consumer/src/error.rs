//! The consumer's [`Error`].

use kafka_protocol::ErrorCode;

use crate::assignor::{AssignorError, TopicPartition};

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything a consumer operation can fail with.
///
/// ```
/// use kafka_consumer::{Error, TopicPartition};
/// let e = Error::NoOffset(TopicPartition::new("t", 0));
/// assert!(e.to_string().contains("t-0"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A client-core failure: connection, timeout, configuration, or a Kafka error code.
    #[error(transparent)]
    Client(#[from] kafka_client::Error),
    /// The group leader's assignor failed, or consumer protocol metadata was malformed.
    #[error("assignor: {0}")]
    Assignor(#[from] AssignorError),
    /// A record's key or value could not be deserialized. The position stays at the record;
    /// `seek` past it to skip it.
    #[error("cannot deserialize the {what} of {tp} at offset {offset}: {message}")]
    Deserialization {
        /// The partition.
        tp: TopicPartition,
        /// The record's offset.
        offset: i64,
        /// `key` or `value`.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// Corrupt record data (bad CRC or undecodable batch) at this position.
    #[error("corrupt record data in {tp} at offset {offset}: {message}")]
    CorruptRecord {
        /// The partition.
        tp: TopicPartition,
        /// The fetch position.
        offset: i64,
        /// Why.
        message: String,
    },
    /// No committed offset and `auto.offset.reset=none`.
    #[error("no committed offset for {0} and auto.offset.reset is none")]
    NoOffset(TopicPartition),
    /// The position is out of range and `auto.offset.reset=none`.
    #[error("offset {offset} is out of range for {tp} and auto.offset.reset is none")]
    OffsetOutOfRange {
        /// The partition.
        tp: TopicPartition,
        /// The position.
        offset: i64,
    },
    /// The log was truncated under the position (found by validating it against the leader
    /// after a leader change, KIP-320) and `auto.offset.reset=none`. `seek` to continue, e.g.
    /// to `divergent_offset`.
    #[error("log truncation detected for {tp} at offset {offset}{}", divergent_offset.map(|o| format!(" (first diverging offset {o})")).unwrap_or_default())]
    LogTruncation {
        /// The partition.
        tp: TopicPartition,
        /// The position that was validated.
        offset: i64,
        /// The first offset known to diverge, when the leader knew the position's epoch.
        divergent_offset: Option<i64>,
    },
    /// The commit cannot complete: the group rebalanced (or this member was removed) since
    /// these records were polled. Offsets were not committed; the partitions may be consumed
    /// again by their new owner.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// This static member was fenced by another instance with the same `group.instance.id`;
    /// the consumer is unusable.
    #[error("fenced: another consumer joined with group.instance.id {0}")]
    FencedInstanceId(String),
    /// A group operation failed with a fatal code (INCONSISTENT_GROUP_PROTOCOL,
    /// GROUP_AUTHORIZATION_FAILED, GROUP_MAX_SIZE_REACHED, ...).
    #[error("group {group}: {code}{}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Group {
        /// The group.
        group: String,
        /// The code.
        code: ErrorCode,
        /// The broker's message.
        message: Option<String>,
    },
    /// The operation needs `group.id`.
    #[error("{0} needs group.id")]
    NoGroup(&'static str),
    /// The call is not valid in the consumer's state (e.g. `position` of an unassigned
    /// partition, `subscribe` after `assign`).
    #[error("illegal state: {0}")]
    IllegalState(String),
    /// The consumer was closed.
    #[error("consumer closed")]
    Closed,
}

impl Error {
    pub(crate) fn config(key: &str, message: impl Into<String>) -> Error {
        Error::Client(kafka_client::Error::config(key, message))
    }

    /// The Kafka error code, where there is one.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Error::Client(e) => e.error_code(),
            Error::Group { code, .. } => Some(*code),
            Error::FencedInstanceId(_) => Some(ErrorCode::FencedInstanceId),
            _ => None,
        }
    }

    /// Whether retrying the same call may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Client(e) => e.is_retriable(),
            _ => false,
        }
    }
}
