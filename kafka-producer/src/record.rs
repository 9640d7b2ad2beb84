//! What a user sends and what comes back.

use bytes::Bytes;

/// A record header. Headers are a list: a key may appear more than once, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header key.
    pub key: String,
    /// Header value; `None` is a null value.
    pub value: Option<Bytes>,
}

/// A record to send, before serialization.
///
/// ```
/// use kafka_producer::ProducerRecord;
/// let r = ProducerRecord::new("events", Some("user-1"), "clicked")
///     .with_header("trace", Some(&b"abc"[..]))
///     .with_header("trace", Some(&b"def"[..]))
///     .with_partition(2);
/// assert_eq!(r.headers.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ProducerRecord<K, V> {
    /// Target topic.
    pub topic: String,
    /// Explicit partition; `None` lets the partitioner choose.
    pub partition: Option<i32>,
    /// Key (`None` = null key).
    pub key: Option<K>,
    /// Value (`None` = null value, a tombstone on compacted topics).
    pub value: Option<V>,
    /// Create time in ms since the epoch; `None` = the time of `send`.
    pub timestamp: Option<i64>,
    /// Headers, in order, duplicates kept.
    pub headers: Vec<Header>,
}

impl<K, V> ProducerRecord<K, V> {
    /// A record with a key (or none) and a value.
    pub fn new(topic: impl Into<String>, key: Option<K>, value: V) -> Self {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key,
            value: Some(value),
            timestamp: None,
            headers: Vec::new(),
        }
    }

    /// A tombstone: a key with a null value.
    pub fn tombstone(topic: impl Into<String>, key: K) -> Self {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key: Some(key),
            value: None,
            timestamp: None,
            headers: Vec::new(),
        }
    }

    /// Sends to this partition instead of asking the partitioner.
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the create timestamp.
    pub fn with_timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }

    /// Appends a header (duplicates are kept in order).
    pub fn with_header(mut self, key: impl Into<String>, value: Option<impl Into<Bytes>>) -> Self {
        self.headers.push(Header {
            key: key.into(),
            value: value.map(Into::into),
        });
        self
    }
}

/// Where an acknowledged record landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset assigned by the broker (-1 with acks=0).
    pub offset: i64,
    /// The record's timestamp (the broker's log-append time when the topic uses it).
    pub timestamp: i64,
    /// Serialized key size in bytes (-1 for a null key).
    pub serialized_key_size: i32,
    /// Serialized value size in bytes (-1 for a null value).
    pub serialized_value_size: i32,
}
