//! The crate's error type.

use std::path::PathBuf;

/// Everything that can stop the broker from starting or make an operation fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// A configuration key or value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A configuration key this broker does not know.
    #[error(
        "unknown configuration key `{0}`: not a broker key this broker supports (the supported and the accepted-but-ignored keys are listed in the docs of `kafka_broker::config`)"
    )]
    UnknownConfigKey(String),
    /// Binding or using a socket failed.
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    /// Reading or writing a file in the data directory failed.
    #[error("{path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// A persisted metadata file could not be parsed.
    #[error("{path}: corrupt metadata: {message}")]
    CorruptMetadata {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A partition log failed to open, close or flush.
    #[error("partition log {partition}: {source}")]
    Log {
        /// `topic-partition`.
        partition: String,
        /// The failure.
        source: crate::log::LogError,
    },
    /// Kafka wire protocol failure.
    #[error("protocol: {0}")]
    Protocol(#[from] kafka_protocol::ProtocolError),
}

/// Shorthand for results in this crate.
pub type Result<T, E = BrokerError> = std::result::Result<T, E>;

pub(crate) fn file_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BrokerError {
    let path = path.into();
    move |source| BrokerError::File { path, source }
}
