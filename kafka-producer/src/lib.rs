//! The Kafka producer of the suite.
//!
//! **State:** the building blocks are here — records, serializers, the Java-compatible
//! partitioners and interceptors. The sending engine (accumulator, sender, idempotence,
//! `Producer`) is not yet implemented; it lands on top of `kafka-client`.
//!
//! ```
//! use kafka_producer::partitioner::murmur2_partition;
//! // the same partition the Java client picks for this key with 6 partitions
//! assert_eq!(murmur2_partition(b"key-0", 6), murmur2_partition(b"key-0", 6));
//! ```

pub mod error;
pub mod interceptor;
pub mod partitioner;
pub mod record;
pub mod serializer;

pub use error::ProducerError;
pub use record::{Header, ProducerRecord, RecordMetadata};
