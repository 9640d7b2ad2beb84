//! Consumed records, offsets, and deserializers.

use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
pub use kafka_protocol::records::{Headers, TimestampType};

use crate::assignor::TopicPartition;

/// One record as the application sees it.
///
/// `key` and `value` are what the consumer's deserializers made of the bytes; with the default
/// [`BytesDeserializer`] they are `Option<Bytes>` slices of the fetch response (no copy).
/// Headers keep duplicates, in wire order.
#[derive(Debug, Clone)]
pub struct ConsumerRecord<K, V> {
    /// Topic (shared, cheap to clone).
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp in milliseconds (-1 when the record has none).
    pub timestamp: i64,
    /// What the timestamp means.
    pub timestamp_type: TimestampType,
    /// The partition leader epoch of the record's batch (None for old message formats).
    pub leader_epoch: Option<i32>,
    /// Size of the serialized key (-1 for a null key).
    pub serialized_key_size: i32,
    /// Size of the serialized value (-1 for a null value).
    pub serialized_value_size: i32,
    /// The deserialized key.
    pub key: K,
    /// The deserialized value.
    pub value: V,
    /// Headers: a zero-copy view; duplicates kept.
    pub headers: Headers,
}

impl<K, V> ConsumerRecord<K, V> {
    /// The record's partition as a [`TopicPartition`].
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(&*self.topic, self.partition)
    }
}

/// A committed offset with its metadata string and leader epoch.
///
/// ```
/// use kafka_consumer::OffsetAndMetadata;
/// let o = OffsetAndMetadata::new(42).with_metadata("batch-7");
/// assert_eq!(o.offset, 42);
/// assert_eq!(o.metadata, "batch-7");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The offset of the next record to consume.
    pub offset: i64,
    /// Leader epoch of the last consumed record, if known.
    pub leader_epoch: Option<i32>,
    /// Free-form metadata stored with the offset.
    pub metadata: String,
}

impl OffsetAndMetadata {
    /// An offset without metadata.
    pub fn new(offset: i64) -> Self {
        OffsetAndMetadata {
            offset,
            leader_epoch: None,
            metadata: String::new(),
        }
    }

    /// Sets the metadata string.
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = metadata.into();
        self
    }

    /// Sets the leader epoch.
    pub fn with_leader_epoch(mut self, epoch: i32) -> Self {
        self.leader_epoch = Some(epoch);
        self
    }
}

/// An offset found by timestamp ([`Consumer::offsets_for_times`](crate::Consumer::offsets_for_times)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetAndTimestamp {
    /// The earliest offset whose timestamp is at least the one asked for.
    pub offset: i64,
    /// That record's timestamp.
    pub timestamp: i64,
    /// Its leader epoch, if known.
    pub leader_epoch: Option<i32>,
}

/// Turns key or value bytes (`None` for null) into `T`.
///
/// Implementations must be cheap to call from the polling task; errors become
/// [`Error::Deserialization`](crate::Error::Deserialization) naming the record.
///
/// ```
/// use bytes::Bytes;
/// use kafka_consumer::{Deserializer, Headers};
///
/// struct Upper;
/// impl Deserializer<String> for Upper {
///     fn deserialize(&self, _topic: &str, _h: &Headers, data: Option<Bytes>) -> Result<String, String> {
///         let b = data.ok_or("null")?;
///         Ok(std::str::from_utf8(&b).map_err(|e| e.to_string())?.to_uppercase())
///     }
/// }
/// assert_eq!(Upper.deserialize("t", &Headers::empty(), Some(Bytes::from_static(b"ab"))).unwrap(), "AB");
/// ```
pub trait Deserializer<T>: Send + Sync {
    /// Deserializes one key or value.
    fn deserialize(&self, topic: &str, headers: &Headers, data: Option<Bytes>)
    -> Result<T, String>;
}

/// Raw bytes, zero-copy: `Option<Bytes>` (None for null).
///
/// ```
/// use bytes::Bytes;
/// use kafka_consumer::{BytesDeserializer, Deserializer, Headers};
/// let b = BytesDeserializer.deserialize("t", &Headers::empty(), Some(Bytes::from_static(b"x"))).unwrap();
/// assert_eq!(b.as_deref(), Some(&b"x"[..]));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesDeserializer;

impl Deserializer<Option<Bytes>> for BytesDeserializer {
    fn deserialize(
        &self,
        _: &str,
        _: &Headers,
        data: Option<Bytes>,
    ) -> Result<Option<Bytes>, String> {
        Ok(data)
    }
}

/// UTF-8 text: `Option<String>` (None for null); invalid UTF-8 is an error.
///
/// ```
/// use bytes::Bytes;
/// use kafka_consumer::{Deserializer, Headers, StringDeserializer};
/// let h = Headers::empty();
/// assert_eq!(StringDeserializer.deserialize("t", &h, Some(Bytes::from_static(b"hi"))).unwrap().as_deref(), Some("hi"));
/// assert!(StringDeserializer.deserialize("t", &h, Some(Bytes::from_static(&[0xff]))).is_err());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct StringDeserializer;

impl Deserializer<Option<String>> for StringDeserializer {
    fn deserialize(
        &self,
        _: &str,
        _: &Headers,
        data: Option<Bytes>,
    ) -> Result<Option<String>, String> {
        data.map(|b| String::from_utf8(b.to_vec()).map_err(|e| e.to_string()))
            .transpose()
    }
}

macro_rules! int_deser {
    ($(#[$m:meta])* $name:ident, $ty:ty, $n:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $name;
        impl Deserializer<Option<$ty>> for $name {
            fn deserialize(&self, _: &str, _: &Headers, data: Option<Bytes>) -> Result<Option<$ty>, String> {
                match data {
                    None => Ok(None),
                    Some(b) => {
                        let arr: [u8; $n] = b.as_ref().try_into().map_err(|_| {
                            format!("expected {} bytes for {}, got {}", $n, stringify!($ty), b.len())
                        })?;
                        Ok(Some(<$ty>::from_be_bytes(arr)))
                    }
                }
            }
        }
    };
}

int_deser!(
    /// Big-endian `i16` (Java's `ShortDeserializer`).
    I16Deserializer, i16, 2);
int_deser!(
    /// Big-endian `i32` (Java's `IntegerDeserializer`).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use kafka_consumer::{Deserializer, Headers, I32Deserializer};
    /// let v = I32Deserializer.deserialize("t", &Headers::empty(), Some(Bytes::from_static(&[0, 0, 1, 0]))).unwrap();
    /// assert_eq!(v, Some(256));
    /// ```
    I32Deserializer, i32, 4);
int_deser!(
    /// Big-endian `i64` (Java's `LongDeserializer`).
    I64Deserializer, i64, 8);
int_deser!(
    /// Big-endian `f64` (Java's `DoubleDeserializer`).
    F64Deserializer, f64, 8);

/// JSON through serde: `Option<T>` (None for null).
///
/// ```
/// use bytes::Bytes;
/// use kafka_consumer::{Deserializer, Headers, JsonDeserializer};
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// struct Order { id: u32 }
/// let d = JsonDeserializer::<Order>::new();
/// let v = d.deserialize("t", &Headers::empty(), Some(Bytes::from_static(br#"{"id":7}"#))).unwrap();
/// assert_eq!(v, Some(Order { id: 7 }));
/// assert!(d.deserialize("t", &Headers::empty(), Some(Bytes::from_static(b"{"))).is_err());
/// ```
pub struct JsonDeserializer<T>(PhantomData<fn() -> T>);

impl<T> JsonDeserializer<T> {
    /// A JSON deserializer for `T`.
    pub fn new() -> Self {
        JsonDeserializer(PhantomData)
    }
}

impl<T> Default for JsonDeserializer<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> std::fmt::Debug for JsonDeserializer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JsonDeserializer")
    }
}

impl<T: serde::de::DeserializeOwned> Deserializer<Option<T>> for JsonDeserializer<T> {
    fn deserialize(&self, _: &str, _: &Headers, data: Option<Bytes>) -> Result<Option<T>, String> {
        data.map(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            .transpose()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_nulls() {
        let h = Headers::empty();
        let b = |s: &'static [u8]| Some(Bytes::from_static(s));
        assert_eq!(
            I16Deserializer.deserialize("t", &h, b(&[1, 2])).unwrap(),
            Some(258)
        );
        assert_eq!(
            I64Deserializer
                .deserialize("t", &h, b(&[0, 0, 0, 0, 0, 0, 0, 9]))
                .unwrap(),
            Some(9)
        );
        assert_eq!(
            F64Deserializer
                .deserialize("t", &h, Some(Bytes::copy_from_slice(&1.5f64.to_be_bytes())))
                .unwrap(),
            Some(1.5)
        );
        assert!(I32Deserializer.deserialize("t", &h, b(&[1])).is_err());
        assert_eq!(I32Deserializer.deserialize("t", &h, None).unwrap(), None);
        assert_eq!(StringDeserializer.deserialize("t", &h, None).unwrap(), None);
        assert_eq!(
            JsonDeserializer::<u8>::new()
                .deserialize("t", &h, None)
                .unwrap(),
            None
        );
    }
}
