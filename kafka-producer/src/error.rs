//! The producer's error type.

/// Errors raised by producer components.
#[derive(Debug, thiserror::Error)]
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
}
