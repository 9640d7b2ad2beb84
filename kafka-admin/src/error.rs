//! [`AdminError`]: every way an admin operation (or one entity of it) can fail.

use std::time::Duration;

use kafka_protocol::ErrorCode;

/// An admin operation's error, or the error of one entity (topic, group, partition…) inside a
/// result that reports entities separately.
///
/// ```
/// use kafka_admin::AdminError;
/// use kafka_protocol::ErrorCode;
/// let e = AdminError::from_code(ErrorCode::TopicAlreadyExists, Some("exists".into()));
/// assert_eq!(e.error_code(), Some(ErrorCode::TopicAlreadyExists));
/// assert!(!e.is_retriable());
/// assert!(e.to_string().contains("TOPIC_ALREADY_EXISTS"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The broker answered with a Kafka error code (for this entity or the whole request).
    #[error("{code}{}", message.as_ref().map(|m| format!(": {m}")).unwrap_or_default())]
    Kafka {
        /// The code.
        code: ErrorCode,
        /// The broker's message, if it sent one.
        message: Option<String>,
    },
    /// The client core failed (connection, routing, codec, version negotiation…).
    #[error(transparent)]
    Client(#[from] kafka_client::Error),
    /// The call's timeout passed before it completed.
    #[error("{operation} did not complete within {timeout:?}")]
    Timeout {
        /// The operation.
        operation: String,
        /// Its timeout.
        timeout: Duration,
    },
    /// The arguments are invalid (nothing was sent).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The cluster does not support what was asked (missing API or version).
    #[error("not supported by the cluster: {0}")]
    Unsupported(String),
    /// The broker's answer did not mention an entity that was asked for, or was malformed.
    #[error("malformed response: {0}")]
    Malformed(String),
}

impl AdminError {
    /// An error for a Kafka error code.
    pub fn from_code(code: ErrorCode, message: Option<String>) -> AdminError {
        AdminError::Kafka { code, message }
    }

    /// The Kafka error code, where there is one.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            AdminError::Kafka { code, .. } => Some(*code),
            AdminError::Client(e) => e.error_code(),
            _ => None,
        }
    }

    /// Whether retrying later may succeed (retriable Kafka codes and transport failures).
    pub fn is_retriable(&self) -> bool {
        match self {
            AdminError::Kafka { code, .. } => code.is_retriable(),
            AdminError::Client(e) => e.is_retriable(),
            _ => false,
        }
    }
}

/// `Ok(())` for code 0, else [`AdminError::Kafka`].
pub(crate) fn check(code: i16, message: Option<String>) -> Result<(), AdminError> {
    let code = ErrorCode::from_i16(code);
    if code.is_ok() {
        Ok(())
    } else {
        Err(AdminError::Kafka { code, message })
    }
}

/// The result type of admin operations.
pub type Result<T, E = AdminError> = std::result::Result<T, E>;
