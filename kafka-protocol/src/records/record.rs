//! One record ([`Record`]), its lazily decoded headers ([`Headers`]) and the v2 record codec.

use std::fmt;

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{ProtocolError, Result};
use crate::primitives::{get_varint, put_i8, put_varint, put_varlong, varint_len, varlong_len};

/// One record, from a v2 record batch or a legacy (v0/v1) message.
///
/// `key`, `value` and the header values are [`Bytes`] slices of the batch buffer (or of the
/// batch's single decompressed buffer): reading records copies no payload bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    /// Absolute offset of the record in its partition.
    pub offset: i64,
    /// Timestamp in milliseconds, or [`NO_TIMESTAMP`](super::NO_TIMESTAMP) (-1) for magic-0 data.
    /// For log-append-time batches this is the batch's append time, as in Kafka.
    pub timestamp: i64,
    /// Record key; `None` for a null key.
    pub key: Option<Bytes>,
    /// Record value; `None` for a null value (a tombstone).
    pub value: Option<Bytes>,
    /// Record headers (always empty for legacy messages).
    pub headers: Headers,
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("offset", &self.offset)
            .field("timestamp", &self.timestamp)
            .field("key", &self.key)
            .field("value", &self.value)
            .field("headers", &self.headers)
            .finish()
    }
}

/// The headers of one record: a lazy, already validated view over the record's bytes.
///
/// Headers are a list: duplicate keys are kept, in order. Creating the view allocates nothing;
/// [`iter`](Headers::iter) yields `(key, value)` pairs whose values are [`Bytes`] slices.
///
/// ```
/// use kafka_protocol::records::{RecordBatch, RecordBatchBuilder};
///
/// let mut b = RecordBatchBuilder::new(0);
/// b.append(1, None, Some(b"v"), &[("k", Some(b"1".as_slice())), ("k", None)]).unwrap();
/// let batch = RecordBatch::parse(b.build().unwrap()).unwrap();
/// let rec = batch.records().next().unwrap().unwrap();
/// let hs: Vec<_> = rec.headers.iter().collect();
/// assert_eq!(hs.len(), 2);
/// assert_eq!(hs[0].0, "k");
/// assert_eq!(hs[0].1.as_deref(), Some(b"1".as_slice()));
/// assert_eq!(hs[1], ("k", None));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    count: u32,
    data: Bytes,
}

impl Headers {
    /// No headers.
    pub fn empty() -> Headers {
        Headers::default()
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Iterates over `(key, value)` pairs in wire order; `None` is a null header value.
    pub fn iter(&self) -> HeadersIter<'_> {
        HeadersIter {
            all: &self.data,
            cur: self.data.clone(),
            left: self.count,
        }
    }

    /// The value of the last header with key `key` (as Kafka's `lastHeader`), if any.
    pub fn last(&self, key: &str) -> Option<Option<Bytes>> {
        self.iter()
            .filter(|(k, _)| *k == key)
            .last()
            .map(|(_, v)| v)
    }

    /// Collects the headers into owned pairs (values stay zero-copy slices).
    pub fn to_vec(&self) -> Vec<(String, Option<Bytes>)> {
        self.iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// The raw encoded headers (after the header count), as found on the wire.
    pub fn raw(&self) -> &Bytes {
        &self.data
    }

    /// Validates `count` headers filling exactly `data` (key lengths, UTF-8 keys, value lengths)
    /// and returns the view.
    pub(crate) fn parse(count: u32, data: Bytes) -> Result<Headers> {
        if count == 0 {
            if !data.is_empty() {
                return Err(ProtocolError::InvalidRecord(
                    "record has bytes after its last header",
                ));
            }
            return Ok(Headers { count, data });
        }
        // Every header takes at least two bytes: reject absurd counts before looping.
        if count as usize > data.len() / 2 {
            return Err(ProtocolError::InvalidLength {
                what: "record header count",
                length: count.into(),
            });
        }
        let mut cur = data.clone();
        for _ in 0..count {
            let klen = get_varint(&mut cur)?;
            let klen = usize::try_from(klen)
                .ok()
                .filter(|&l| l <= cur.len())
                .ok_or(ProtocolError::InvalidLength {
                    what: "record header key",
                    length: klen.into(),
                })?;
            let key = cur.get(..klen).unwrap_or_default();
            if std::str::from_utf8(key).is_err() {
                return Err(ProtocolError::InvalidUtf8 {
                    what: "record header key",
                });
            }
            cur.advance(klen);
            let vlen = get_varint(&mut cur)?;
            if vlen >= 0 {
                let vlen = vlen as usize;
                if vlen > cur.len() {
                    return Err(ProtocolError::InvalidLength {
                        what: "record header value",
                        length: vlen as i64,
                    });
                }
                cur.advance(vlen);
            } else if vlen != -1 {
                return Err(ProtocolError::InvalidLength {
                    what: "record header value",
                    length: vlen.into(),
                });
            }
        }
        if !cur.is_empty() {
            return Err(ProtocolError::InvalidRecord(
                "record has bytes after its last header",
            ));
        }
        Ok(Headers { count, data })
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a str, Option<Bytes>);
    type IntoIter = HeadersIter<'a>;

    fn into_iter(self) -> HeadersIter<'a> {
        self.iter()
    }
}

/// Iterator over a record's headers: `(key, value)` with `None` for a null value.
#[derive(Debug, Clone)]
pub struct HeadersIter<'a> {
    all: &'a Bytes,
    cur: Bytes,
    left: u32,
}

impl<'a> HeadersIter<'a> {
    fn next_inner(&mut self) -> Option<(&'a str, Option<Bytes>)> {
        let klen = usize::try_from(get_varint(&mut self.cur).ok()?).ok()?;
        let kstart = self.all.len().checked_sub(self.cur.len())?;
        let key = self.all.get(kstart..kstart.checked_add(klen)?)?;
        let key = std::str::from_utf8(key).ok()?;
        if klen > self.cur.len() {
            return None;
        }
        self.cur.advance(klen);
        let vlen = get_varint(&mut self.cur).ok()?;
        let value = if vlen < 0 {
            None
        } else {
            let vlen = vlen as usize;
            if vlen > self.cur.len() {
                return None;
            }
            Some(self.cur.split_to(vlen))
        };
        Some((key, value))
    }
}

impl<'a> Iterator for HeadersIter<'a> {
    type Item = (&'a str, Option<Bytes>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // The view was validated on construction, so this cannot fail; if it somehow did, the
        // iteration just ends.
        let item = self.next_inner();
        if item.is_none() {
            self.left = 0;
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

// ---------------------------------------------------------------- v2 record codec

/// A bounds-checked reader over the record bytes, for the per-record hot path: it reads
/// positions only, so a record costs no reference-count traffic beyond its key and value.
struct SliceReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl SliceReader<'_> {
    #[inline]
    fn byte(&mut self, what: &'static str) -> Result<u8> {
        match self.data.get(self.pos) {
            Some(&b) => {
                self.pos += 1;
                Ok(b)
            }
            None => Err(ProtocolError::Truncated {
                what,
                needed: 1,
                remaining: 0,
            }),
        }
    }

    /// Zigzag varint of at most 5 bytes (same rules as [`crate::primitives::get_varint`]).
    #[inline]
    fn varint(&mut self) -> Result<i32> {
        let mut v: u32 = 0;
        for i in 0..5 {
            let b = self.byte("varint")?;
            if i == 4 && b > 0x0F {
                return Err(ProtocolError::VarintTooLong);
            }
            v |= u32::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((v >> 1) as i32) ^ -((v & 1) as i32));
            }
        }
        Err(ProtocolError::VarintTooLong)
    }

    /// Zigzag varlong of at most 10 bytes (same rules as [`crate::primitives::get_varlong`]).
    #[inline]
    fn varlong(&mut self) -> Result<i64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.byte("varlong")?;
            if i == 9 && b > 0x01 {
                return Err(ProtocolError::VarintTooLong);
            }
            v |= u64::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(((v >> 1) as i64) ^ -((v & 1) as i64));
            }
        }
        Err(ProtocolError::VarintTooLong)
    }

    /// A varint-length-prefixed nullable field: its byte range, or `None` for null.
    #[inline]
    fn nullable(&mut self, what: &'static str) -> Result<Option<std::ops::Range<usize>>> {
        let len = self.varint()?;
        if len == -1 {
            return Ok(None);
        }
        match usize::try_from(len) {
            Ok(l) if l <= self.data.len() - self.pos => {
                let start = self.pos;
                self.pos += l;
                Ok(Some(start..self.pos))
            }
            _ => Err(ProtocolError::InvalidLength {
                what,
                length: len.into(),
            }),
        }
    }
}

/// Context needed to turn a v2 record's deltas into absolute values.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordContext {
    pub(crate) base_offset: i64,
    pub(crate) base_timestamp: i64,
    /// `Some(max_timestamp)` for log-append-time batches.
    pub(crate) log_append_time: Option<i64>,
}

/// Decodes one v2 record from the front of `buf`, advancing past it.
pub(crate) fn decode_v2(buf: &mut Bytes, ctx: &RecordContext) -> Result<Record> {
    let all: &[u8] = buf;
    let mut r = SliceReader { data: all, pos: 0 };
    let len = r.varint()?;
    let end = match usize::try_from(len) {
        Ok(l) if l <= all.len() - r.pos => r.pos + l,
        _ => {
            return Err(ProtocolError::InvalidLength {
                what: "record",
                length: len.into(),
            });
        }
    };
    // Bound the reader to this record.
    r.data = all.get(..end).unwrap_or_default();
    let _attributes = r.byte("record attributes")?;
    let timestamp_delta = r.varlong()?;
    let offset_delta = r.varint()?;
    let key = r.nullable("record key")?;
    let value = r.nullable("record value")?;
    let header_count = r.varint()?;
    let header_count = u32::try_from(header_count).map_err(|_| ProtocolError::InvalidLength {
        what: "record header count",
        length: header_count.into(),
    })?;
    let headers = if header_count == 0 {
        if r.pos != end {
            return Err(ProtocolError::InvalidRecord(
                "record has bytes after its last header",
            ));
        }
        Headers::empty()
    } else {
        Headers::parse(header_count, buf.slice(r.pos..end))?
    };
    let record = Record {
        offset: ctx.base_offset.wrapping_add(offset_delta.into()),
        timestamp: ctx
            .log_append_time
            .unwrap_or_else(|| ctx.base_timestamp.wrapping_add(timestamp_delta)),
        key: key.map(|k| buf.slice(k)),
        value: value.map(|v| buf.slice(v)),
        headers,
    };
    buf.advance(end);
    Ok(record)
}

fn nullable_len(v: Option<&[u8]>) -> Result<(i32, usize)> {
    match v {
        None => Ok((-1, varint_len(-1))),
        Some(b) => {
            let l = i32::try_from(b.len()).map_err(|_| ProtocolError::TooLong {
                what: "record field",
                length: b.len(),
            })?;
            Ok((l, varint_len(l) + b.len()))
        }
    }
}

/// Size of a v2 record body (everything after the length varint).
pub(crate) fn body_len_v2(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(&str, Option<&[u8]>)],
) -> Result<usize> {
    let mut size = 1 + varlong_len(timestamp_delta) + varint_len(offset_delta);
    size += nullable_len(key)?.1;
    size += nullable_len(value)?.1;
    let count = i32::try_from(headers.len()).map_err(|_| ProtocolError::TooLong {
        what: "record headers",
        length: headers.len(),
    })?;
    size += varint_len(count);
    for (k, v) in headers {
        size += nullable_len(Some(k.as_bytes()))?.1;
        size += nullable_len(*v)?.1;
    }
    if size > i32::MAX as usize {
        return Err(ProtocolError::TooLong {
            what: "record",
            length: size,
        });
    }
    Ok(size)
}

fn put_nullable(buf: &mut BytesMut, v: Option<&[u8]>) {
    match v {
        None => put_varint(buf, -1),
        Some(b) => {
            put_varint(buf, b.len() as i32);
            buf.extend_from_slice(b);
        }
    }
}

/// Writes one v2 record whose body size `body_len` was computed by [`body_len_v2`].
pub(crate) fn encode_v2(
    buf: &mut BytesMut,
    body_len: usize,
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[(&str, Option<&[u8]>)],
) {
    buf.reserve(body_len + 5);
    put_varint(buf, body_len as i32);
    put_i8(buf, 0);
    put_varlong(buf, timestamp_delta);
    put_varint(buf, offset_delta);
    put_nullable(buf, key);
    put_nullable(buf, value);
    put_varint(buf, headers.len() as i32);
    for (k, v) in headers {
        put_nullable(buf, Some(k.as_bytes()));
        put_nullable(buf, *v);
    }
}
