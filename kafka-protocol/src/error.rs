//! The crate's error type: everything that can go wrong while encoding or decoding Kafka bytes.
//!
//! Kafka's own protocol error codes (the `error_code` fields inside responses) are a different
//! thing: see [`crate::ErrorCode`].

/// Result alias used throughout `kafka-protocol`.
pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;

/// Everything that can go wrong while encoding or decoding Kafka protocol bytes.
///
/// Decoders return these instead of panicking, whatever the input.
///
/// ```
/// use bytes::Bytes;
/// use kafka_protocol::{primitives, ProtocolError};
///
/// let mut buf = Bytes::from_static(&[0x00, 0x01]);
/// let err = primitives::get_i32(&mut buf).unwrap_err();
/// assert!(matches!(err, ProtocolError::Truncated { needed: 4, remaining: 2, .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The input ended before a value was complete.
    #[error("truncated input while reading {what}: needed {needed} bytes, {remaining} remaining")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes left in the input.
        remaining: usize,
    },
    /// A length or count prefix is negative (and not the null marker) or larger than the input.
    #[error("invalid length {length} for {what}")]
    InvalidLength {
        /// What was being read.
        what: &'static str,
        /// The offending length.
        length: i64,
    },
    /// A null value was found where the field is not nullable.
    #[error("null {what} where a value is required")]
    UnexpectedNull {
        /// What was being read.
        what: &'static str,
    },
    /// A string was not valid UTF-8.
    #[error("{what} is not valid UTF-8")]
    InvalidUtf8 {
        /// What was being read.
        what: &'static str,
    },
    /// A variable-length integer used more bytes than its type allows.
    #[error("variable-length integer is too long")]
    VarintTooLong,
    /// A boolean byte other than 0 or 1 was read (Kafka accepts any non-zero; kept for strict readers).
    #[error("{what} version {version} is not supported (supported {min}..={max})")]
    UnsupportedVersion {
        /// Message or record format name.
        what: &'static str,
        /// The requested version.
        version: i16,
        /// Lowest supported version.
        min: i16,
        /// Highest supported version.
        max: i16,
    },
    /// An API key this crate does not know.
    #[error("unknown API key {0}")]
    UnknownApiKey(i16),
    /// Encoding a non-default value into a version that lacks the field (as Kafka refuses to).
    #[error(
        "{message}.{field} cannot be encoded at version {version}: the field does not exist there"
    )]
    FieldNotInVersion {
        /// Message or struct name.
        message: &'static str,
        /// Field name.
        field: &'static str,
        /// The version being encoded.
        version: i16,
    },
    /// Encoding null into a field that is not nullable at this version.
    #[error("{message}.{field} is null but not nullable at version {version}")]
    NullNotAllowed {
        /// Message or struct name.
        message: &'static str,
        /// Field name.
        field: &'static str,
        /// The version being encoded.
        version: i16,
    },
    /// A value is too long for its length prefix (e.g. a classic string over 32767 bytes).
    #[error("{what} of {length} bytes is too long to encode")]
    TooLong {
        /// What was being written.
        what: &'static str,
        /// Its length.
        length: usize,
    },
    /// A frame's size prefix exceeds the configured maximum.
    #[error("frame of {size} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// Size announced by the frame.
        size: i64,
        /// Configured maximum.
        max: usize,
    },
    /// A checksum did not match.
    #[error("{what} checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// Which checksum.
        what: &'static str,
        /// Value stored in the data.
        stored: u32,
        /// Value computed over the data.
        computed: u32,
    },
    /// A record batch or message set is structurally invalid.
    #[error("invalid record data: {0}")]
    InvalidRecord(&'static str),
    /// Unknown compression codec id in record attributes.
    #[error("unknown compression codec id {0}")]
    UnknownCompression(u8),
    /// Compression or decompression failed.
    #[error("{codec} error: {message}")]
    Compression {
        /// Codec name.
        codec: &'static str,
        /// What the codec reported.
        message: String,
    },
    /// An error while decoding a particular message, with the message name and version added.
    #[error("decoding {message} v{version}: {source}")]
    InMessage {
        /// Message name.
        message: &'static str,
        /// Message version.
        version: i16,
        /// The underlying error.
        source: Box<ProtocolError>,
    },
}

impl ProtocolError {
    /// Wraps this error with the name and version of the message being decoded.
    pub fn in_message(self, message: &'static str, version: i16) -> Self {
        match self {
            e @ ProtocolError::InMessage { .. } => e,
            e => ProtocolError::InMessage {
                message,
                version,
                source: Box::new(e),
            },
        }
    }
}
