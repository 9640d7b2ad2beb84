//! The traits every generated message implements.

use bytes::{Bytes, BytesMut};

use crate::error::Result;

/// An inclusive range of versions.
///
/// ```
/// use kafka_protocol::VersionRange;
/// let r = VersionRange { min: 3, max: 13 };
/// assert!(r.contains(9) && !r.contains(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionRange {
    /// Lowest version, inclusive.
    pub min: i16,
    /// Highest version, inclusive.
    pub max: i16,
}

impl VersionRange {
    /// Whether `v` lies in the range.
    pub const fn contains(&self, v: i16) -> bool {
        v >= self.min && v <= self.max
    }

    /// The overlap of two ranges, if any.
    pub fn intersect(&self, other: &VersionRange) -> Option<VersionRange> {
        let min = self.min.max(other.min);
        let max = self.max.min(other.max);
        (min <= max).then_some(VersionRange { min, max })
    }
}

/// A value that can be written at a given protocol version.
pub trait Encodable {
    /// Appends the encoding for `version` to `buf`. Fails if a field holds a value that the
    /// version cannot carry (a non-default value in a field the version lacks, or a null
    /// where the version is not nullable).
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<()>;
    /// The number of bytes [`Encodable::encode`] writes for `version`.
    fn encoded_len(&self, version: i16) -> usize;
}

/// A value that can be read at a given protocol version.
pub trait Decodable: Sized {
    /// Reads a value for `version`, advancing `buf`. Byte fields are slices of `buf`.
    fn decode(buf: &mut Bytes, version: i16) -> Result<Self>;
}

/// A top-level message: a request, a response, a header or a data record.
pub trait Message: Encodable + Decodable + Default + Clone + std::fmt::Debug + PartialEq {
    /// The message's name in the specs.
    const NAME: &'static str;
    /// The versions this crate can encode and decode.
    const VERSIONS: VersionRange;
    /// The first flexible version (compact encodings and tagged fields), if any.
    const FLEXIBLE_MIN: Option<i16>;

    /// Whether `version` uses the flexible encoding.
    fn is_flexible(version: i16) -> bool {
        matches!(Self::FLEXIBLE_MIN, Some(v) if version >= v)
    }
}

/// A request message, tied to its API key and response type.
pub trait Request: Message {
    /// The API key of this request.
    const API_KEY: crate::messages::ApiKey;
    /// The matching response type.
    type Response: Message;
}
