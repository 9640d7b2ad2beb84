//! Kafka's primitive wire types: fixed-width integers, varints (zigzag and unsigned), UUIDs,
//! classic and compact strings, bytes and arrays, and tagged-field sections.
//!
//! Readers take `&mut Bytes` and advance it; byte fields are returned as slices of the input
//! (no copy). Every length is checked against the bytes present before anything is allocated.
//! Writers append to a [`BytesMut`]; the `*_len` functions give the encoded size without writing.
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use kafka_protocol::primitives::*;
//!
//! let mut out = BytesMut::new();
//! put_varint(&mut out, -3);
//! put_compact_string(&mut out, "kafka").unwrap();
//! let mut input = out.freeze();
//! assert_eq!(get_varint(&mut input).unwrap(), -3);
//! assert_eq!(get_compact_string(&mut input).unwrap(), "kafka");
//! assert!(input.is_empty());
//! ```

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{ProtocolError, Result};

/// A 128-bit UUID as Kafka uses for topic ids and directory ids.
///
/// Displayed as Kafka does: URL-safe base64 without padding.
///
/// ```
/// use kafka_protocol::primitives::Uuid;
/// let id = Uuid::from_u128(1);
/// assert_eq!(id.to_string(), "AAAAAAAAAAAAAAAAAAAAAQ");
/// assert_eq!(Uuid::parse(&id.to_string()), Some(id));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub [u8; 16]);

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl Uuid {
    /// The all-zero UUID (Kafka's "no id").
    pub const ZERO: Uuid = Uuid([0; 16]);

    /// Builds a UUID from its 128-bit big-endian value.
    pub const fn from_u128(v: u128) -> Self {
        Uuid(v.to_be_bytes())
    }

    /// The 128-bit big-endian value.
    pub const fn as_u128(&self) -> u128 {
        u128::from_be_bytes(self.0)
    }

    /// Parses Kafka's URL-safe base64 form (22 characters, no padding).
    pub fn parse(s: &str) -> Option<Uuid> {
        let s = s.as_bytes();
        if s.len() != 22 {
            return None;
        }
        let mut acc: u128 = 0;
        for (i, c) in s.iter().enumerate() {
            let v = B64.iter().position(|b| b == c)? as u128;
            if i == 21 {
                // last char carries 2 bits (22*6 = 132 = 128 + 4 padding bits)
                if v & 0xF != 0 {
                    return None;
                }
                acc = (acc << 2) | (v >> 4);
            } else {
                acc = (acc << 6) | v;
            }
        }
        Some(Uuid::from_u128(acc))
    }
}

impl std::fmt::Display for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.as_u128();
        let mut out = [0u8; 22];
        for (i, slot) in out.iter_mut().enumerate() {
            let idx = if i == 21 {
                ((v & 0x3) << 4) as usize
            } else {
                ((v >> (122 - 6 * i)) & 0x3F) as usize
            };
            *slot = B64[idx];
        }
        // all bytes come from the ASCII table above
        f.write_str(std::str::from_utf8(&out).map_err(|_| std::fmt::Error)?)
    }
}

impl std::fmt::Debug for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Uuid({self})")
    }
}

/// A tagged field this crate does not know, kept verbatim so it survives a decode/encode cycle.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawTaggedField {
    /// The tag number.
    pub tag: u32,
    /// The field's bytes, as found on the wire.
    pub data: Bytes,
}

#[inline]
fn need(buf: &Bytes, n: usize, what: &'static str) -> Result<()> {
    if buf.remaining() < n {
        Err(ProtocolError::Truncated {
            what,
            needed: n,
            remaining: buf.remaining(),
        })
    } else {
        Ok(())
    }
}

macro_rules! fixed {
    ($get:ident, $put:ident, $t:ty, $n:expr, $bget:ident, $bput:ident, $what:expr) => {
        #[doc = concat!("Reads a big-endian `", stringify!($t), "`.")]
        #[inline]
        pub fn $get(buf: &mut Bytes) -> Result<$t> {
            need(buf, $n, $what)?;
            Ok(buf.$bget())
        }
        #[doc = concat!("Writes a big-endian `", stringify!($t), "`.")]
        #[inline]
        pub fn $put(buf: &mut BytesMut, v: $t) {
            buf.$bput(v)
        }
    };
}

fixed!(get_i8, put_i8, i8, 1, get_i8, put_i8, "int8");
fixed!(get_i16, put_i16, i16, 2, get_i16, put_i16, "int16");
fixed!(get_u16, put_u16, u16, 2, get_u16, put_u16, "uint16");
fixed!(get_i32, put_i32, i32, 4, get_i32, put_i32, "int32");
fixed!(get_u32, put_u32, u32, 4, get_u32, put_u32, "uint32");
fixed!(get_i64, put_i64, i64, 8, get_i64, put_i64, "int64");
fixed!(get_f64, put_f64, f64, 8, get_f64, put_f64, "float64");

/// Reads a boolean byte (any non-zero value is true, as in Kafka).
#[inline]
pub fn get_bool(buf: &mut Bytes) -> Result<bool> {
    need(buf, 1, "bool")?;
    Ok(buf.get_u8() != 0)
}

/// Writes a boolean byte.
#[inline]
pub fn put_bool(buf: &mut BytesMut, v: bool) {
    buf.put_u8(v as u8)
}

/// Reads a 16-byte UUID.
#[inline]
pub fn get_uuid(buf: &mut Bytes) -> Result<Uuid> {
    need(buf, 16, "uuid")?;
    let mut b = [0u8; 16];
    buf.copy_to_slice(&mut b);
    Ok(Uuid(b))
}

/// Writes a 16-byte UUID.
#[inline]
pub fn put_uuid(buf: &mut BytesMut, v: &Uuid) {
    buf.put_slice(&v.0)
}

// ---------------------------------------------------------------- varints

/// Reads an unsigned varint of at most 32 bits (5 bytes).
#[inline]
pub fn get_unsigned_varint(buf: &mut Bytes) -> Result<u32> {
    let mut value: u32 = 0;
    for i in 0..5 {
        need(buf, 1, "unsigned varint")?;
        let b = buf.get_u8();
        if i == 4 && b > 0x0F {
            return Err(ProtocolError::VarintTooLong);
        }
        value |= ((b & 0x7F) as u32) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(ProtocolError::VarintTooLong)
}

/// Reads an unsigned varint of at most 64 bits (10 bytes).
#[inline]
pub fn get_unsigned_varlong(buf: &mut Bytes) -> Result<u64> {
    let mut value: u64 = 0;
    for i in 0..10 {
        need(buf, 1, "unsigned varlong")?;
        let b = buf.get_u8();
        if i == 9 && b > 0x01 {
            return Err(ProtocolError::VarintTooLong);
        }
        value |= ((b & 0x7F) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(ProtocolError::VarintTooLong)
}

/// Reads a zigzag-encoded signed varint (32 bits).
#[inline]
pub fn get_varint(buf: &mut Bytes) -> Result<i32> {
    let v = get_unsigned_varint(buf)?;
    Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
}

/// Reads a zigzag-encoded signed varlong (64 bits).
#[inline]
pub fn get_varlong(buf: &mut Bytes) -> Result<i64> {
    let v = get_unsigned_varlong(buf)?;
    Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
}

/// Writes an unsigned varint.
#[inline]
pub fn put_unsigned_varint(buf: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Writes an unsigned varlong.
#[inline]
pub fn put_unsigned_varlong(buf: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// Writes a zigzag-encoded signed varint.
#[inline]
pub fn put_varint(buf: &mut BytesMut, v: i32) {
    put_unsigned_varint(buf, ((v << 1) ^ (v >> 31)) as u32)
}

/// Writes a zigzag-encoded signed varlong.
#[inline]
pub fn put_varlong(buf: &mut BytesMut, v: i64) {
    put_unsigned_varlong(buf, ((v << 1) ^ (v >> 63)) as u64)
}

/// Encoded size of an unsigned varint.
#[inline]
pub const fn unsigned_varint_len(v: u32) -> usize {
    match v {
        0..=0x7F => 1,
        0x80..=0x3FFF => 2,
        0x4000..=0x1F_FFFF => 3,
        0x20_0000..=0x0FFF_FFFF => 4,
        _ => 5,
    }
}

/// Encoded size of an unsigned varlong.
#[inline]
pub const fn unsigned_varlong_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Encoded size of a zigzag varint.
#[inline]
pub const fn varint_len(v: i32) -> usize {
    unsigned_varint_len(((v << 1) ^ (v >> 31)) as u32)
}

/// Encoded size of a zigzag varlong.
#[inline]
pub const fn varlong_len(v: i64) -> usize {
    unsigned_varlong_len(((v << 1) ^ (v >> 63)) as u64)
}

// ---------------------------------------------------------------- lengths

/// Reads a length prefix: `i16` (classic strings), `i32` (classic bytes/arrays) or an unsigned
/// varint holding length+1 (compact forms). Returns `None` for null (-1 / 0).
/// The length is checked against the bytes that remain.
#[inline]
fn get_len(
    buf: &mut Bytes,
    compact: bool,
    wide: bool,
    what: &'static str,
) -> Result<Option<usize>> {
    let len: i64 = if compact {
        get_unsigned_varint(buf)? as i64 - 1
    } else if wide {
        get_i32(buf)? as i64
    } else {
        get_i16(buf)? as i64
    };
    if len < -1 || (len >= 0 && len as u64 > buf.remaining() as u64) {
        return Err(ProtocolError::InvalidLength { what, length: len });
    }
    Ok(if len == -1 { None } else { Some(len as usize) })
}

#[inline]
fn put_len(
    buf: &mut BytesMut,
    len: Option<usize>,
    compact: bool,
    wide: bool,
    what: &'static str,
) -> Result<()> {
    match (len, compact) {
        (None, true) => put_unsigned_varint(buf, 0),
        (None, false) if wide => put_i32(buf, -1),
        (None, false) => put_i16(buf, -1),
        (Some(n), true) => {
            if n >= u32::MAX as usize {
                return Err(ProtocolError::TooLong { what, length: n });
            }
            put_unsigned_varint(buf, n as u32 + 1)
        }
        (Some(n), false) if wide => {
            if n > i32::MAX as usize {
                return Err(ProtocolError::TooLong { what, length: n });
            }
            put_i32(buf, n as i32)
        }
        (Some(n), false) => {
            if n > i16::MAX as usize {
                return Err(ProtocolError::TooLong { what, length: n });
            }
            put_i16(buf, n as i16)
        }
    }
    Ok(())
}

#[inline]
const fn len_len(len: Option<usize>, compact: bool, wide: bool) -> usize {
    if compact {
        match len {
            None => 1,
            Some(n) => unsigned_varint_len((n as u32).wrapping_add(1)),
        }
    } else if wide {
        4
    } else {
        2
    }
}

// ---------------------------------------------------------------- strings

fn to_string(b: Bytes, what: &'static str) -> Result<String> {
    match std::str::from_utf8(&b) {
        Ok(s) => Ok(s.to_owned()),
        Err(_) => Err(ProtocolError::InvalidUtf8 { what }),
    }
}

/// Reads a nullable string, classic (`i16` length) or compact.
#[inline]
pub fn get_nullable_str(buf: &mut Bytes, compact: bool) -> Result<Option<String>> {
    match get_len(buf, compact, false, "string")? {
        None => Ok(None),
        Some(n) => to_string(buf.split_to(n), "string").map(Some),
    }
}

/// Reads a non-null string, classic or compact.
#[inline]
pub fn get_str(buf: &mut Bytes, compact: bool) -> Result<String> {
    get_nullable_str(buf, compact)?.ok_or(ProtocolError::UnexpectedNull { what: "string" })
}

/// Reads a compact (varint-length) non-null string.
pub fn get_compact_string(buf: &mut Bytes) -> Result<String> {
    get_str(buf, true)
}

/// Writes a nullable string, classic or compact.
#[inline]
pub fn put_nullable_str(buf: &mut BytesMut, v: Option<&str>, compact: bool) -> Result<()> {
    put_len(buf, v.map(str::len), compact, false, "string")?;
    if let Some(s) = v {
        buf.put_slice(s.as_bytes());
    }
    Ok(())
}

/// Writes a non-null string, classic or compact.
#[inline]
pub fn put_str(buf: &mut BytesMut, v: &str, compact: bool) -> Result<()> {
    put_nullable_str(buf, Some(v), compact)
}

/// Writes a compact non-null string.
pub fn put_compact_string(buf: &mut BytesMut, v: &str) -> Result<()> {
    put_str(buf, v, true)
}

/// Encoded size of a nullable string.
#[inline]
pub fn nullable_str_len(v: Option<&str>, compact: bool) -> usize {
    len_len(v.map(str::len), compact, false) + v.map_or(0, str::len)
}

/// Encoded size of a string.
#[inline]
pub fn str_len(v: &str, compact: bool) -> usize {
    nullable_str_len(Some(v), compact)
}

// ---------------------------------------------------------------- bytes

/// Reads nullable bytes (classic `i32` length or compact) as a slice of the input.
#[inline]
pub fn get_nullable_bytes(buf: &mut Bytes, compact: bool) -> Result<Option<Bytes>> {
    Ok(get_len(buf, compact, true, "bytes")?.map(|n| buf.split_to(n)))
}

/// Reads non-null bytes as a slice of the input.
#[inline]
pub fn get_bytes(buf: &mut Bytes, compact: bool) -> Result<Bytes> {
    get_nullable_bytes(buf, compact)?.ok_or(ProtocolError::UnexpectedNull { what: "bytes" })
}

/// Writes nullable bytes.
#[inline]
pub fn put_nullable_bytes(buf: &mut BytesMut, v: Option<&[u8]>, compact: bool) -> Result<()> {
    put_len(buf, v.map(<[u8]>::len), compact, true, "bytes")?;
    if let Some(b) = v {
        buf.put_slice(b);
    }
    Ok(())
}

/// Writes non-null bytes.
#[inline]
pub fn put_bytes(buf: &mut BytesMut, v: &[u8], compact: bool) -> Result<()> {
    put_nullable_bytes(buf, Some(v), compact)
}

/// Encoded size of nullable bytes.
#[inline]
pub fn nullable_bytes_len(v: Option<&[u8]>, compact: bool) -> usize {
    len_len(v.map(<[u8]>::len), compact, true) + v.map_or(0, <[u8]>::len)
}

/// Encoded size of bytes.
#[inline]
pub fn bytes_len(v: &[u8], compact: bool) -> usize {
    nullable_bytes_len(Some(v), compact)
}

// ---------------------------------------------------------------- arrays

/// Reads an array count (classic `i32` or compact). `None` is a null array. The count is
/// checked against the remaining bytes, as Kafka does, so a hostile count cannot force a large
/// allocation.
#[inline]
pub fn get_array_len(buf: &mut Bytes, compact: bool) -> Result<Option<usize>> {
    get_len(buf, compact, true, "array")
}

/// Writes an array count (`None` is a null array).
#[inline]
pub fn put_array_len(buf: &mut BytesMut, len: Option<usize>, compact: bool) -> Result<()> {
    put_len(buf, len, compact, true, "array")
}

/// Encoded size of an array count.
#[inline]
pub const fn array_len_len(len: Option<usize>, compact: bool) -> usize {
    len_len(len, compact, true)
}

/// Capacity to reserve for `n` announced elements: never more than the bytes present.
#[inline]
pub fn safe_capacity(n: usize, buf: &Bytes) -> usize {
    n.min(buf.remaining()).min(1 << 16)
}

// ---------------------------------------------------------------- tagged fields

/// Reads the header of a tagged-field section: the number of fields.
#[inline]
pub fn get_tagged_count(buf: &mut Bytes) -> Result<u32> {
    let n = get_unsigned_varint(buf)?;
    if n as usize > buf.remaining() {
        return Err(ProtocolError::InvalidLength {
            what: "tagged field count",
            length: n as i64,
        });
    }
    Ok(n)
}

/// Reads one tagged field's tag and its data slice.
#[inline]
pub fn get_tagged_field(buf: &mut Bytes) -> Result<(u32, Bytes)> {
    let tag = get_unsigned_varint(buf)?;
    let size = get_unsigned_varint(buf)? as usize;
    need(buf, size, "tagged field")?;
    Ok((tag, buf.split_to(size)))
}

/// Writes a tagged-field header (tag and size).
#[inline]
pub fn put_tagged_header(buf: &mut BytesMut, tag: u32, size: usize) {
    put_unsigned_varint(buf, tag);
    put_unsigned_varint(buf, size as u32);
}

/// Encoded size of a tagged field with a payload of `size` bytes.
#[inline]
pub const fn tagged_field_len(tag: u32, size: usize) -> usize {
    unsigned_varint_len(tag) + unsigned_varint_len(size as u32) + size
}

/// Writes unknown tagged fields kept from decoding.
#[inline]
pub fn put_raw_tagged(buf: &mut BytesMut, fields: &[RawTaggedField]) {
    for f in fields {
        put_tagged_header(buf, f.tag, f.data.len());
        buf.put_slice(&f.data);
    }
}

/// Encoded size of unknown tagged fields.
#[inline]
pub fn raw_tagged_len(fields: &[RawTaggedField]) -> usize {
    fields
        .iter()
        .map(|f| tagged_field_len(f.tag, f.data.len()))
        .sum()
}

/// Fails if a tagged field's payload was not fully consumed by its decoder.
#[inline]
pub fn expect_consumed(buf: &Bytes, what: &'static str) -> Result<()> {
    if buf.has_remaining() {
        Err(ProtocolError::InvalidLength {
            what,
            length: buf.remaining() as i64,
        })
    } else {
        Ok(())
    }
}

/// A small deterministic random generator used to build random valid messages for property tests
/// and fuzzing.
#[cfg(any(test, feature = "arbitrary"))]
pub mod testgen {
    use super::{RawTaggedField, Uuid};
    use bytes::Bytes;

    /// Splitmix64-based generator.
    #[derive(Debug, Clone)]
    pub struct Gen {
        state: u64,
        /// Remaining depth budget for nested arrays, to keep messages small.
        pub depth: u32,
    }

    impl Gen {
        /// A generator seeded with `seed`.
        pub fn new(seed: u64) -> Self {
            Gen {
                state: seed,
                depth: 3,
            }
        }
        /// Next 64 random bits.
        pub fn next_u64(&mut self) -> u64 {
            self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
        /// A value below `n` (n > 0).
        pub fn below(&mut self, n: u64) -> u64 {
            self.next_u64() % n.max(1)
        }
        /// A random boolean.
        pub fn bool(&mut self) -> bool {
            self.next_u64() & 1 == 1
        }
        /// Random i8.
        pub fn i8(&mut self) -> i8 {
            self.next_u64() as i8
        }
        /// Random i16.
        pub fn i16(&mut self) -> i16 {
            self.next_u64() as i16
        }
        /// Random u16.
        pub fn u16(&mut self) -> u16 {
            self.next_u64() as u16
        }
        /// Random i32 (biased towards small values and edges).
        pub fn i32(&mut self) -> i32 {
            match self.below(4) {
                0 => self.below(10) as i32 - 1,
                1 => [i32::MIN, i32::MAX, -1, 0][self.below(4) as usize],
                _ => self.next_u64() as i32,
            }
        }
        /// Random u32.
        pub fn u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        /// Random i64.
        pub fn i64(&mut self) -> i64 {
            match self.below(4) {
                0 => self.below(10) as i64 - 1,
                1 => [i64::MIN, i64::MAX, -1, 0][self.below(4) as usize],
                _ => self.next_u64() as i64,
            }
        }
        /// Random finite f64.
        pub fn f64(&mut self) -> f64 {
            (self.next_u64() >> 11) as f64 / 7.0 - 1.0e9
        }
        /// Random UUID.
        pub fn uuid(&mut self) -> Uuid {
            Uuid::from_u128(((self.next_u64() as u128) << 64) | self.next_u64() as u128)
        }
        /// Random short string (including non-ASCII characters).
        pub fn string(&mut self) -> String {
            let n = self.below(12) as usize;
            (0..n)
                .map(|_| match self.below(10) {
                    0 => 'é',
                    1 => '€',
                    _ => (b'a' + self.below(26) as u8) as char,
                })
                .collect()
        }
        /// Random short byte string.
        pub fn bytes(&mut self) -> Bytes {
            let n = self.below(16) as usize;
            Bytes::from((0..n).map(|_| self.next_u64() as u8).collect::<Vec<u8>>())
        }
        /// Random array length, shrinking with nesting depth.
        pub fn array_len(&mut self) -> usize {
            if self.depth == 0 {
                0
            } else {
                self.below(4) as usize
            }
        }
        /// Random unknown tagged fields with tags far above any known tag, in ascending order.
        pub fn unknown_tagged(&mut self) -> Vec<RawTaggedField> {
            let n = self.below(3) as u32;
            (0..n)
                .map(|i| RawTaggedField {
                    tag: 10_000 + i * 7,
                    data: self.bytes(),
                })
                .collect()
        }
    }

    /// Builds a random value that is valid at a given version.
    pub trait Arbitrary: Sized {
        /// A random value valid at `version` (fields the version lacks keep their defaults).
        fn arbitrary(g: &mut Gen, version: i16) -> Self;
    }

    /// Encodes a random message at every supported version, decodes it back and checks that
    /// the value, the size and the re-encoded bytes all match.
    pub fn check_roundtrip<M: crate::Message + Arbitrary>(seed: u64) -> Result<(), String> {
        for v in M::VERSIONS.min..=M::VERSIONS.max {
            let mut g = Gen::new(seed ^ ((v as u64) << 48));
            let m = M::arbitrary(&mut g, v);
            let mut buf = bytes::BytesMut::new();
            m.encode(&mut buf, v)
                .map_err(|e| format!("{} v{v}: encode failed: {e}", M::NAME))?;
            if buf.len() != m.encoded_len(v) {
                return Err(format!(
                    "{} v{v}: encoded {} bytes, encoded_len says {}",
                    M::NAME,
                    buf.len(),
                    m.encoded_len(v)
                ));
            }
            let bytes = buf.freeze();
            let mut rd = bytes.clone();
            let back = M::decode(&mut rd, v)
                .map_err(|e| format!("{} v{v}: decode failed: {e}", M::NAME))?;
            if !rd.is_empty() {
                return Err(format!(
                    "{} v{v}: {} bytes left after decode",
                    M::NAME,
                    rd.len()
                ));
            }
            if back != m {
                return Err(format!(
                    "{} v{v}: decoded value differs\n{m:?}\n{back:?}",
                    M::NAME
                ));
            }
            let mut again = bytes::BytesMut::new();
            back.encode(&mut again, v)
                .map_err(|e| format!("{} v{v}: re-encode failed: {e}", M::NAME))?;
            if again.freeze() != bytes {
                return Err(format!("{} v{v}: re-encoded bytes differ", M::NAME));
            }
        }
        Ok(())
    }
}

/// JSON views of messages in the shape of Kafka's generated JSON converters, used to compare
/// decoded fixtures with what the Java library says they contain.
#[cfg(test)]
pub(crate) mod testjson {
    /// A JSON view of a message at a version.
    pub(crate) trait ToJson {
        /// Fields present at `version`, keyed by Kafka's camelCase names.
        fn to_json(&self, version: i16) -> serde_json::Value;
    }

    /// Standard base64 with padding, as Java's `Base64.getEncoder()` writes.
    pub(crate) fn base64(data: &[u8]) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}
