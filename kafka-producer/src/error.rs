//! The producer's error type.

use std::time::Duration;

/// Errors raised by the producer and its components.
///
/// Errors are `Clone`: one failed batch fails every record in it with the same error.
///
/// ```
/// use kafka_producer::ProducerError;
/// let e = ProducerError::Config { key: "acks".into(), message: "expected all, -1, 0 or 1".into() };
/// assert!(e.to_string().contains("acks"));
/// assert!(!e.is_retriable());
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ProducerError {
    /// A serializer could not turn a key or value into bytes.
    #[error("serialization failed: {0}")]
    Serialization(String),
    /// An interceptor failed; the producer logs these and carries on.
    #[error("interceptor failed: {0}")]
    Interceptor(String),
    /// A record named a partition outside the topic's partitions.
    #[error("partition {partition} is out of range for a topic with {partitions} partitions")]
    InvalidPartition {
        /// The requested partition.
        partition: i32,
        /// How many partitions the topic has.
        partitions: i32,
    },
    /// A configuration value or combination is invalid.
    #[error("invalid configuration `{key}`: {message}")]
    Config {
        /// The property (Java name) at fault.
        key: String,
        /// Why.
        message: String,
    },
    /// The serialized record is larger than `max.request.size` or `buffer.memory`.
    #[error("the record is {size} bytes when serialized, larger than {limit} ({key})")]
    RecordTooLarge {
        /// Estimated size of the record in a batch.
        size: usize,
        /// The limit.
        limit: usize,
        /// The setting that sets the limit.
        key: &'static str,
    },
    /// `send` waited `max.block.ms` for metadata or buffer space.
    #[error("{what} not available within max.block.ms ({timeout:?})")]
    MaxBlock {
        /// What was awaited.
        what: String,
        /// The configured `max.block.ms`.
        timeout: Duration,
    },
    /// The record was not acknowledged within `delivery.timeout.ms`.
    #[error(
        "record expired: not acknowledged within delivery.timeout.ms ({timeout:?}){}",
        last.as_ref().map(|e| format!("; last error: {e}")).unwrap_or_default()
    )]
    DeliveryTimeout {
        /// The configured delivery timeout.
        timeout: Duration,
        /// The last retriable error, if the batch was tried.
        last: Option<Box<kafka_client::Error>>,
    },
    /// The broker or the connection failed the record (error codes, transport, protocol).
    #[error("{0}")]
    Client(#[from] kafka_client::Error),
    /// The producer was closed before the record could be sent.
    #[error("the producer is closed")]
    Closed,
    /// The producer hit an error it cannot recover from (for example an authorization failure
    /// on InitProducerId); every later send fails with it.
    #[error("fatal producer error: {0}")]
    Fatal(String),
    /// The feature is not implemented yet.
    #[error("{0} not yet supported")]
    Unsupported(&'static str),
    /// The record was still buffered (not sent) when its transaction was aborted; it was
    /// dropped.
    #[error("the transaction was aborted before the record was sent")]
    TransactionAborted,
    /// The current transaction hit an error and can only be aborted
    /// ([`abort_transaction`](crate::Producer::abort_transaction)); after the abort the
    /// producer can begin a new transaction.
    #[error("the transaction must be aborted: {0}")]
    TxnAbortable(Box<ProducerError>),
    /// The transactional producer cannot go on (fenced by a newer producer with the same
    /// `transactional.id`, not authorized, unsupported by the broker): close it.
    #[error("fatal transactional error: {0}")]
    TxnFatal(Box<ProducerError>),
    /// A transactional call made in the wrong state (for example `begin_transaction` before
    /// `init_transactions`, or on a producer without `transactional.id`).
    #[error("invalid transactional state: {0}")]
    InvalidTxnState(String),
}

impl ProducerError {
    pub(crate) fn config(key: impl Into<String>, message: impl Into<String>) -> Self {
        ProducerError::Config {
            key: key.into(),
            message: message.into(),
        }
    }

    /// Whether sending the record again may succeed (transport errors, leader changes,
    /// timeouts waiting for space or acknowledgement).
    pub fn is_retriable(&self) -> bool {
        match self {
            ProducerError::Client(e) => e.is_retriable(),
            ProducerError::MaxBlock { .. } | ProducerError::DeliveryTimeout { .. } => true,
            _ => false,
        }
    }

    /// The Kafka error code behind the failure, if there is one.
    pub fn error_code(&self) -> Option<kafka_protocol::ErrorCode> {
        match self {
            ProducerError::Client(e) => e.error_code(),
            ProducerError::DeliveryTimeout { last: Some(e), .. } => e.error_code(),
            ProducerError::TxnAbortable(e) | ProducerError::TxnFatal(e) => e.error_code(),
            _ => None,
        }
    }

    /// Whether the producer cannot be used any more (a fatal transactional error such as
    /// PRODUCER_FENCED, or [`ProducerError::Fatal`]): close it.
    ///
    /// ```
    /// use kafka_producer::ProducerError;
    /// let e = ProducerError::TxnFatal(Box::new(ProducerError::Fatal("fenced".into())));
    /// assert!(e.is_fatal() && !e.is_abortable());
    /// ```
    pub fn is_fatal(&self) -> bool {
        matches!(self, ProducerError::TxnFatal(_) | ProducerError::Fatal(_))
    }

    /// Whether the current transaction must be aborted before the producer can go on.
    pub fn is_abortable(&self) -> bool {
        matches!(self, ProducerError::TxnAbortable(_))
    }

    /// Whether this is a fencing error: another producer with the same `transactional.id`
    /// took over (PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH which older coordinators send).
    pub fn is_fenced(&self) -> bool {
        matches!(
            self.error_code(),
            Some(kafka_protocol::ErrorCode::ProducerFenced)
                | Some(kafka_protocol::ErrorCode::InvalidProducerEpoch)
        )
    }
}
