//! The crate's single error type, [`Error`], and its context.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::{ErrorCode, ProtocolError, VersionRange};

/// Result alias used throughout `kafka-client`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where an error happened: the broker, the API and the partition when they are known.
///
/// Displayed as a short suffix such as ` [broker 1 at 127.0.0.1:9092, Produce v11, orders-3]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorContext {
    /// Broker node id (negative for bootstrap connections whose id is not known yet).
    pub broker: Option<i32>,
    /// Broker address as `host:port`.
    pub addr: Option<String>,
    /// The API of the request.
    pub api: Option<ApiKey>,
    /// The version the request was sent at.
    pub version: Option<i16>,
    /// Topic, when the request concerned one.
    pub topic: Option<String>,
    /// Partition, when the request concerned one.
    pub partition: Option<i32>,
}

impl ErrorContext {
    /// A context naming a broker.
    pub fn broker(id: i32, addr: impl Into<String>) -> Self {
        ErrorContext {
            broker: Some(id),
            addr: Some(addr.into()),
            ..Default::default()
        }
    }

    /// Adds the API and version.
    pub fn with_api(mut self, api: ApiKey, version: i16) -> Self {
        self.api = Some(api);
        self.version = Some(version);
        self
    }

    /// Adds a topic and partition.
    pub fn with_partition(mut self, topic: impl Into<String>, partition: i32) -> Self {
        self.topic = Some(topic.into());
        self.partition = Some(partition);
        self
    }

    fn is_empty(&self) -> bool {
        *self == ErrorContext::default()
    }
}

impl fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return Ok(());
        }
        let mut parts: Vec<String> = Vec::new();
        match (self.broker, &self.addr) {
            (Some(id), Some(a)) => parts.push(format!("broker {id} at {a}")),
            (Some(id), None) => parts.push(format!("broker {id}")),
            (None, Some(a)) => parts.push(format!("broker at {a}")),
            (None, None) => {}
        }
        if let Some(api) = self.api {
            match self.version {
                Some(v) => parts.push(format!("{} v{v}", api.name())),
                None => parts.push(api.name().to_string()),
            }
        }
        match (&self.topic, self.partition) {
            (Some(t), Some(p)) => parts.push(format!("{t}-{p}")),
            (Some(t), None) => parts.push(t.clone()),
            _ => {}
        }
        write!(f, " [{}]", parts.join(", "))
    }
}

/// Everything that can go wrong in the client core.
///
/// Errors are `Clone` (I/O errors are shared behind an `Arc`) because one connection failure
/// fails every request waiting on it. [`Error::is_retriable`] is the one classifier the retry
/// logic uses; [`Error::error_code`] gives the Kafka error code where there is one.
///
/// ```
/// use kafka_client::Error;
/// use kafka_protocol::ErrorCode;
///
/// let e = Error::kafka(ErrorCode::NotLeaderOrFollower, None);
/// assert!(e.is_retriable());
/// assert_eq!(e.error_code(), Some(ErrorCode::NotLeaderOrFollower));
/// let e = Error::Config { key: "acks".into(), message: "expected all, 0 or 1".into() };
/// assert!(!e.is_retriable());
/// assert_eq!(e.to_string(), "invalid configuration `acks`: expected all, 0 or 1");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error on an established connection.
    #[error("I/O error: {source}{context}")]
    Io {
        /// The underlying error.
        source: Arc<std::io::Error>,
        /// Where.
        context: Box<ErrorContext>,
    },
    /// A connection could not be established (every resolved address was tried).
    #[error("cannot connect to {addr}: {message}")]
    Connect {
        /// The `host:port` tried.
        addr: String,
        /// Why.
        message: String,
    },
    /// The connection closed while the request was queued or waiting for its response.
    #[error("connection closed{context}")]
    Disconnected {
        /// Where.
        context: Box<ErrorContext>,
    },
    /// No response arrived within the request timeout.
    #[error("request timed out after {timeout:?}{context}")]
    RequestTimeout {
        /// The timeout that expired.
        timeout: Duration,
        /// Where.
        context: Box<ErrorContext>,
    },
    /// An operation's overall deadline (for example `default.api.timeout.ms`) passed; `last`
    /// holds the last error seen while retrying, if any.
    #[error("{what} did not complete within {timeout:?}{}", last.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default())]
    Timeout {
        /// What was being done.
        what: String,
        /// The deadline.
        timeout: Duration,
        /// The last retriable error.
        last: Option<Box<Error>>,
    },
    /// Bytes from the broker could not be decoded, or a request could not be encoded.
    #[error("protocol error: {source}{context}")]
    Protocol {
        /// The codec's error.
        source: ProtocolError,
        /// Where.
        context: Box<ErrorContext>,
    },
    /// A response carried a correlation id other than the one of the oldest request in flight.
    #[error("correlation id mismatch: expected {expected}, got {got}{context}")]
    CorrelationMismatch {
        /// The id expected.
        expected: i32,
        /// The id received.
        got: i32,
        /// Where.
        context: Box<ErrorContext>,
    },
    /// A response arrived when no request was in flight.
    #[error("unexpected response with correlation id {got}{context}")]
    UnexpectedResponse {
        /// The id received.
        got: i32,
        /// Where.
        context: Box<ErrorContext>,
    },
    /// The broker returned a Kafka error code.
    #[error("{code}{}{context}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Kafka {
        /// The code.
        code: ErrorCode,
        /// The broker's error message, if it sent one.
        message: Option<String>,
        /// Where.
        context: Box<ErrorContext>,
    },
    /// Neither side supports a common version of the API.
    #[error("no common version for {}: client supports {}..={}, broker {}{context}", api.name(), ours.min, ours.max, theirs.map(|t| format!("{}..={}", t.min, t.max)).unwrap_or_else(|| "none".into()))]
    UnsupportedVersion {
        /// The API.
        api: ApiKey,
        /// Versions this crate implements.
        ours: VersionRange,
        /// Versions the broker advertised (None: it does not support the API at all).
        theirs: Option<VersionRange>,
        /// Where.
        context: Box<ErrorContext>,
    },
    /// The partition has no known leader (retriable: metadata is refreshed).
    #[error("no leader known for {topic}-{partition}")]
    NoLeader {
        /// Topic.
        topic: String,
        /// Partition.
        partition: i32,
    },
    /// A broker id is not in the cluster metadata.
    #[error("broker {0} is not in the cluster metadata")]
    UnknownBroker(i32),
    /// SASL authentication failed or was misconfigured.
    #[error("SASL: {0}")]
    Sasl(String),
    /// TLS setup or handshake failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// A configuration key is unknown, malformed or contradicts another.
    #[error("invalid configuration `{key}`: {message}")]
    Config {
        /// The key (Java client name where there is one).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The client was shut down.
    #[error("client closed")]
    Closed,
}

impl Error {
    /// A Kafka error code without context.
    pub fn kafka(code: ErrorCode, message: Option<String>) -> Error {
        Error::Kafka {
            code,
            message,
            context: Box::default(),
        }
    }

    /// A configuration error for `key`.
    pub fn config(key: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// Whether the operation may succeed if tried again (after a backoff, and after a
    /// metadata refresh when [`Error::invalidates_metadata`] says so).
    ///
    /// Transport failures (I/O, disconnects, request timeouts, failed connects), partitions
    /// without a leader and retriable Kafka codes are retriable; codec errors, correlation
    /// mismatches, configuration, TLS and SASL errors, unsupported versions and expired
    /// deadlines are not.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Io { .. }
            | Error::Connect { .. }
            | Error::Disconnected { .. }
            | Error::RequestTimeout { .. }
            | Error::NoLeader { .. }
            | Error::UnknownBroker(_) => true,
            Error::Kafka { code, .. } => code.is_retriable(),
            _ => false,
        }
    }

    /// The Kafka error code, where there is one.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Error::Kafka { code, .. } => Some(*code),
            Error::NoLeader { .. } => Some(ErrorCode::LeaderNotAvailable),
            _ => None,
        }
    }

    /// Whether cached metadata (leaders, brokers) is probably stale after this error.
    pub fn invalidates_metadata(&self) -> bool {
        match self {
            Error::NoLeader { .. } | Error::UnknownBroker(_) | Error::Connect { .. } => true,
            Error::Kafka { code, .. } => crate::retry::is_stale_metadata(*code),
            _ => false,
        }
    }

    /// The context attached to the error, if any.
    pub fn context(&self) -> Option<&ErrorContext> {
        match self {
            Error::Io { context, .. }
            | Error::Disconnected { context }
            | Error::RequestTimeout { context, .. }
            | Error::Protocol { context, .. }
            | Error::CorrelationMismatch { context, .. }
            | Error::UnexpectedResponse { context, .. }
            | Error::Kafka { context, .. }
            | Error::UnsupportedVersion { context, .. } => Some(context),
            _ => None,
        }
    }

    /// Fills in topic and partition on errors that carry a context and lack them.
    pub fn with_partition(mut self, topic: &str, partition: i32) -> Error {
        match &mut self {
            Error::Io { context, .. }
            | Error::Disconnected { context }
            | Error::RequestTimeout { context, .. }
            | Error::Protocol { context, .. }
            | Error::Kafka { context, .. }
                if context.topic.is_none() =>
            {
                context.topic = Some(topic.to_string());
                context.partition = Some(partition);
            }
            _ => {}
        }
        self
    }
}

impl From<ProtocolError> for Error {
    fn from(source: ProtocolError) -> Self {
        Error::Protocol {
            source,
            context: Box::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_includes_context() {
        let e = Error::Kafka {
            code: ErrorCode::NotLeaderOrFollower,
            message: None,
            context: Box::new(
                ErrorContext::broker(1, "h:9092")
                    .with_api(ApiKey::Produce, 11)
                    .with_partition("t", 3),
            ),
        };
        let s = e.to_string();
        assert!(s.contains("NOT_LEADER_OR_FOLLOWER"), "{s}");
        assert!(s.contains("broker 1 at h:9092, Produce v11, t-3"), "{s}");
        assert!(e.is_retriable());
        assert!(e.invalidates_metadata());
    }

    #[test]
    fn errors_are_send_sync() {
        fn assert<T: Send + Sync + 'static>() {}
        assert::<Error>();
    }
}
