//! Serializers: turning keys and values into bytes.
//!
//! ```
//! use kafka_producer::serializer::{JsonSerializer, Serializer, StringSerializer};
//! let s = StringSerializer;
//! assert_eq!(&s.serialize("t", &"hé".to_string()).unwrap()[..], "hé".as_bytes());
//! let j = JsonSerializer::default();
//! assert_eq!(&j.serialize("t", &serde_json::json!({"a": 1})).unwrap()[..], br#"{"a":1}"#);
//! ```

use bytes::Bytes;

use crate::ProducerError;

/// Turns a `T` into bytes for a topic.
pub trait Serializer<T: ?Sized>: Send + Sync {
    /// Serializes `value` for `topic`.
    fn serialize(&self, topic: &str, value: &T) -> Result<Bytes, ProducerError>;

    /// Serializes a value the caller gives up, as the producer does with a record's key and
    /// value. The default calls [`serialize`](Serializer::serialize); an implementation can
    /// pass the value on without a copy or a reference-count update ([`BytesSerializer`] does
    /// for `Bytes` and `Vec<u8>`, [`StringSerializer`] for `String`).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use kafka_producer::serializer::{BytesSerializer, Serializer};
    /// let v = Bytes::from_static(b"abc");
    /// let out = BytesSerializer.serialize_owned("t", v.clone()).unwrap();
    /// assert_eq!(out.as_ptr(), v.as_ptr()); // the same bytes, not a copy
    /// ```
    fn serialize_owned(&self, topic: &str, value: T) -> Result<Bytes, ProducerError>
    where
        T: Sized,
    {
        self.serialize(topic, &value)
    }
}

/// Bytes as they are (`Bytes`, `Vec<u8>`, `&[u8]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct BytesSerializer;

impl Serializer<Bytes> for BytesSerializer {
    fn serialize(&self, _topic: &str, value: &Bytes) -> Result<Bytes, ProducerError> {
        Ok(value.clone())
    }

    fn serialize_owned(&self, _topic: &str, value: Bytes) -> Result<Bytes, ProducerError> {
        Ok(value)
    }
}

impl Serializer<Vec<u8>> for BytesSerializer {
    fn serialize(&self, _topic: &str, value: &Vec<u8>) -> Result<Bytes, ProducerError> {
        Ok(Bytes::copy_from_slice(value))
    }

    fn serialize_owned(&self, _topic: &str, value: Vec<u8>) -> Result<Bytes, ProducerError> {
        Ok(Bytes::from(value))
    }
}

impl Serializer<[u8]> for BytesSerializer {
    fn serialize(&self, _topic: &str, value: &[u8]) -> Result<Bytes, ProducerError> {
        Ok(Bytes::copy_from_slice(value))
    }
}

/// UTF-8 strings, as the Java `StringSerializer` writes them.
#[derive(Debug, Clone, Copy, Default)]
pub struct StringSerializer;

impl Serializer<String> for StringSerializer {
    fn serialize(&self, _topic: &str, value: &String) -> Result<Bytes, ProducerError> {
        Ok(Bytes::copy_from_slice(value.as_bytes()))
    }

    fn serialize_owned(&self, _topic: &str, value: String) -> Result<Bytes, ProducerError> {
        Ok(Bytes::from(value.into_bytes()))
    }
}

impl Serializer<str> for StringSerializer {
    fn serialize(&self, _topic: &str, value: &str) -> Result<Bytes, ProducerError> {
        Ok(Bytes::copy_from_slice(value.as_bytes()))
    }
}

impl Serializer<&str> for StringSerializer {
    fn serialize(&self, _topic: &str, value: &&str) -> Result<Bytes, ProducerError> {
        Ok(Bytes::copy_from_slice(value.as_bytes()))
    }
}

/// Big-endian integers, as the Java `ShortSerializer`/`IntegerSerializer`/`LongSerializer` write them.
#[derive(Debug, Clone, Copy, Default)]
pub struct IntegerSerializer;

macro_rules! int_ser {
    ($($t:ty),*) => {$(
        impl Serializer<$t> for IntegerSerializer {
            fn serialize(&self, _topic: &str, value: &$t) -> Result<Bytes, ProducerError> {
                Ok(Bytes::copy_from_slice(&value.to_be_bytes()))
            }
        }
    )*};
}
int_ser!(i16, i32, i64, u16, u32, u64);

/// Types with a serializer the producer picks by itself ([`Producer::new`](crate::Producer::new),
/// [`ProducerBuilder::default_serializers`](crate::ProducerBuilder::default_serializers)):
/// `Bytes`, `Vec<u8>`, `String`, the integers (big-endian, as Java) and `serde_json::Value`.
///
/// ```
/// use kafka_producer::serializer::DefaultSerializer;
/// let s = String::default_serializer();
/// assert_eq!(&s.serialize("t", &"x".to_string()).unwrap()[..], b"x");
/// ```
pub trait DefaultSerializer: Sized + Send + Sync + 'static {
    /// The serializer for this type.
    fn default_serializer() -> std::sync::Arc<dyn Serializer<Self>>;
}

macro_rules! default_ser {
    ($($t:ty => $s:expr),* $(,)?) => {$(
        impl DefaultSerializer for $t {
            fn default_serializer() -> std::sync::Arc<dyn Serializer<Self>> {
                std::sync::Arc::new($s)
            }
        }
    )*};
}
default_ser!(
    Bytes => BytesSerializer,
    Vec<u8> => BytesSerializer,
    String => StringSerializer,
    i16 => IntegerSerializer,
    i32 => IntegerSerializer,
    i64 => IntegerSerializer,
    u16 => IntegerSerializer,
    u32 => IntegerSerializer,
    u64 => IntegerSerializer,
    serde_json::Value => JsonSerializer,
);

/// Any `serde::Serialize` value as JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonSerializer;

impl<T: serde::Serialize> Serializer<T> for JsonSerializer {
    fn serialize(&self, _topic: &str, value: &T) -> Result<Bytes, ProducerError> {
        serde_json::to_vec(value)
            .map(Bytes::from)
            .map_err(|e| ProducerError::Serialization(e.to_string()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_big_endian_like_java() {
        assert_eq!(
            &IntegerSerializer.serialize("t", &1i32).unwrap()[..],
            &[0, 0, 0, 1]
        );
        assert_eq!(
            &IntegerSerializer.serialize("t", &-2i64).unwrap()[..],
            &[0xff; 8][..7]
                .iter()
                .copied()
                .chain([0xfe])
                .collect::<Vec<_>>()[..]
        );
        assert_eq!(
            &IntegerSerializer.serialize("t", &258i16).unwrap()[..],
            &[1, 2]
        );
    }

    #[test]
    fn json_errors_are_typed() {
        let mut m = std::collections::HashMap::new();
        m.insert(vec![1u8], 1); // non-string map keys cannot be JSON object keys
        assert!(matches!(
            JsonSerializer.serialize("t", &m),
            Err(ProducerError::Serialization(_))
        ));
    }
}
