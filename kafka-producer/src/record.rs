//! What a user sends and what comes back.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;

/// A topic name, cheap to clone (a shared `Arc<str>`): build it once and clone it into every
/// [`ProducerRecord`] instead of allocating a `String` per record.
///
/// Converts from `&str`, `String`, `&String` and `Arc<str>`, reads as a `&str` (`Deref`), and
/// compares with strings.
///
/// ```
/// use kafka_producer::{ProducerRecord, Topic};
/// let topic = Topic::from("events");
/// let a: ProducerRecord<(), String> = ProducerRecord::new(topic.clone(), None, "a".into());
/// let b: ProducerRecord<(), String> = ProducerRecord::new(&topic, None, "b".into());
/// assert_eq!(a.topic, "events");
/// assert!(a.topic.ptr_eq(&b.topic)); // one allocation shared by both records
/// assert_eq!(a.topic.len(), 6); // str methods through Deref
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Topic(Arc<str>);

impl Topic {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shared name.
    pub fn as_arc(&self) -> &Arc<str> {
        &self.0
    }

    /// Whether both share the same allocation (then they are equal without comparing bytes).
    pub fn ptr_eq(&self, other: &Topic) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Deref for Topic {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Topic {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Topic {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Topic {
    fn from(s: &str) -> Topic {
        Topic(s.into())
    }
}

impl From<String> for Topic {
    fn from(s: String) -> Topic {
        Topic(s.into())
    }
}

impl From<&String> for Topic {
    fn from(s: &String) -> Topic {
        Topic(s.as_str().into())
    }
}

impl From<Arc<str>> for Topic {
    fn from(s: Arc<str>) -> Topic {
        Topic(s)
    }
}

impl From<&Arc<str>> for Topic {
    fn from(s: &Arc<str>) -> Topic {
        Topic(s.clone())
    }
}

impl From<&Topic> for Topic {
    fn from(t: &Topic) -> Topic {
        t.clone()
    }
}

impl From<Topic> for Arc<str> {
    fn from(t: Topic) -> Arc<str> {
        t.0
    }
}

impl From<Topic> for String {
    fn from(t: Topic) -> String {
        t.0.to_string()
    }
}

impl PartialEq<str> for Topic {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Topic {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Topic {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Topic> for str {
    fn eq(&self, other: &Topic) -> bool {
        *self == *other.0
    }
}

impl PartialEq<Topic> for &str {
    fn eq(&self, other: &Topic) -> bool {
        **self == *other.0
    }
}

impl PartialEq<Topic> for String {
    fn eq(&self, other: &Topic) -> bool {
        **self == *other.0
    }
}

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
    /// Target topic (a shared name: clone a [`Topic`] into each record to avoid an allocation
    /// per record).
    pub topic: Topic,
    /// Explicit partition; `None` lets the partitioner choose.
    pub partition: Option<i32>,
    /// Key (`None` = null key).
    pub key: Option<K>,
    /// Value (`None` = null value, a tombstone on compacted topics).
    pub value: Option<V>,
    /// Create time in ms since the epoch; `None` = the time of `send` (on Linux the coarse wall
    /// clock, `CLOCK_REALTIME_COARSE`: at most one timer tick, 1 to 4 ms, behind the precise one).
    pub timestamp: Option<i64>,
    /// Headers, in order, duplicates kept.
    pub headers: Vec<Header>,
}

impl<K, V> ProducerRecord<K, V> {
    /// A record with a key (or none) and a value.
    pub fn new(topic: impl Into<Topic>, key: Option<K>, value: V) -> Self {
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
    pub fn tombstone(topic: impl Into<Topic>, key: K) -> Self {
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
    /// Topic (the producer's shared name: no allocation per acknowledged record).
    pub topic: Topic,
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
