//! Length-prefixed framing: every Kafka request and response travels as a big-endian `i32`
//! size followed by that many bytes. These helpers split frames out of a read buffer with a
//! maximum-size guard, and build request/response frames with their headers.
//!
//! ```
//! use bytes::BytesMut;
//! use kafka_protocol::frame::{try_split_frame, DEFAULT_MAX_FRAME};
//!
//! let mut buf = BytesMut::from(&[0u8, 0, 0, 3, b'a', b'b', b'c', 0, 0][..]);
//! let frame = try_split_frame(&mut buf, DEFAULT_MAX_FRAME).unwrap().unwrap();
//! assert_eq!(&frame[..], b"abc");
//! // an incomplete frame stays in the buffer
//! assert!(try_split_frame(&mut buf, DEFAULT_MAX_FRAME).unwrap().is_none());
//! ```

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{ProtocolError, Result};
use crate::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use crate::{Decodable, Encodable};

/// Kafka's default `socket.request.max.bytes` (100 MiB).
pub const DEFAULT_MAX_FRAME: usize = 104_857_600;

/// Splits one complete frame (without its size prefix) off the front of `buf`.
///
/// Returns `Ok(None)` while the frame is incomplete, and an error for a negative size or one
/// above `max`, so a hostile peer cannot make the reader buffer without bound.
pub fn try_split_frame(buf: &mut BytesMut, max: usize) -> Result<Option<Bytes>> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let size = i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if size < 0 || size as usize > max {
        return Err(ProtocolError::FrameTooLarge {
            size: size as i64,
            max,
        });
    }
    let size = size as usize;
    if buf.len() < 4 + size {
        buf.reserve(4 + size - buf.len());
        return Ok(None);
    }
    buf.advance(4);
    Ok(Some(buf.split_to(size).freeze()))
}

/// Appends a size-prefixed frame holding a request header and body.
///
/// ```
/// use bytes::BytesMut;
/// use kafka_protocol::frame::{decode_request, encode_request};
/// use kafka_protocol::messages::{ApiVersionsRequest, RequestHeader, RequestKind};
///
/// let header = RequestHeader { request_api_key: 18, request_api_version: 3, correlation_id: 7, client_id: Some("me".into()), ..Default::default() };
/// let body = RequestKind::from(ApiVersionsRequest::default());
/// let mut out = BytesMut::new();
/// encode_request(&mut out, &header, &body).unwrap();
/// let (h, b) = decode_request(out.freeze().slice(4..)).unwrap();
/// assert_eq!((h, b), (header, body));
/// ```
pub fn encode_request(
    out: &mut BytesMut,
    header: &RequestHeader,
    body: &RequestKind,
) -> Result<()> {
    let version = header.request_api_version;
    let hv = body.api_key().request_header_version(version);
    put_frame(
        out,
        "request frame",
        header,
        hv,
        body.encoded_len(version),
        |out| body.encode(out, version),
    )
}

/// Writes the size prefix, the header at version `hv`, then the body through `body`.
fn put_frame<H: Encodable>(
    out: &mut BytesMut,
    what: &'static str,
    header: &H,
    hv: i16,
    body_len: usize,
    body: impl FnOnce(&mut BytesMut) -> Result<()>,
) -> Result<()> {
    let size = header.encoded_len(hv) + body_len;
    if size > i32::MAX as usize {
        return Err(ProtocolError::TooLong { what, length: size });
    }
    out.reserve(4 + size);
    out.put_i32(size as i32);
    header.encode(out, hv)?;
    body(out)
}

/// Decodes a request frame (without its size prefix): header, then the body by API key and
/// version.
pub fn decode_request(mut frame: Bytes) -> Result<(RequestHeader, RequestKind)> {
    let (key, version) = peek_request_key(&frame)?;
    let api = ApiKey::try_from(key)?;
    let header = RequestHeader::decode(&mut frame, api.request_header_version(version))?;
    let body = RequestKind::decode(api, &mut frame, version)?;
    Ok((header, body))
}

/// Reads the API key and version at the front of a request frame without consuming it.
pub fn peek_request_key(frame: &Bytes) -> Result<(i16, i16)> {
    if frame.len() < 4 {
        return Err(ProtocolError::Truncated {
            what: "request header",
            needed: 4,
            remaining: frame.len(),
        });
    }
    Ok((
        i16::from_be_bytes([frame[0], frame[1]]),
        i16::from_be_bytes([frame[2], frame[3]]),
    ))
}

/// Appends a size-prefixed frame holding a response header and body for API `api` at `version`.
pub fn encode_response(
    out: &mut BytesMut,
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    body: &ResponseKind,
) -> Result<()> {
    let header = ResponseHeader {
        correlation_id,
        ..Default::default()
    };
    let hv = api.response_header_version(version);
    put_frame(
        out,
        "response frame",
        &header,
        hv,
        body.encoded_len(version),
        |out| body.encode(out, version),
    )
}

/// Decodes a response frame (without its size prefix) for the API and version of the request
/// it answers.
///
/// ```
/// use bytes::BytesMut;
/// use kafka_protocol::frame::{decode_response, encode_response};
/// use kafka_protocol::messages::{ApiKey, HeartbeatResponse, ResponseKind};
///
/// let body = ResponseKind::from(HeartbeatResponse { throttle_time_ms: 5, ..Default::default() });
/// let mut out = BytesMut::new();
/// encode_response(&mut out, 42, ApiKey::Heartbeat, 4, &body).unwrap();
/// let (h, b) = decode_response(out.freeze().slice(4..), ApiKey::Heartbeat, 4).unwrap();
/// assert_eq!(h.correlation_id, 42);
/// assert_eq!(b, body);
/// ```
pub fn decode_response(
    mut frame: Bytes,
    api: ApiKey,
    version: i16,
) -> Result<(ResponseHeader, ResponseKind)> {
    let header = ResponseHeader::decode(&mut frame, api.response_header_version(version))?;
    let body = ResponseKind::decode(api, &mut frame, version)?;
    Ok((header, body))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rejects_oversized_and_negative_frames() {
        let mut b = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            try_split_frame(&mut b, 1024),
            Err(ProtocolError::FrameTooLarge { .. })
        ));
        let mut b = BytesMut::from(&[0xff, 0xff, 0xff, 0xfe][..]);
        assert!(matches!(
            try_split_frame(&mut b, 1024),
            Err(ProtocolError::FrameTooLarge { .. })
        ));
    }

    #[test]
    fn unknown_api_key_is_an_error() {
        let frame = Bytes::from_static(&[0x7f, 0x00, 0x00, 0x00, 0, 0, 0, 1, 0xff, 0xff]);
        assert_eq!(
            decode_request(frame).unwrap_err(),
            ProtocolError::UnknownApiKey(0x7f00)
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut g = crate::primitives::testgen::Gen::new(1);
        for _ in 0..20_000 {
            let n = g.below(64) as usize;
            let mut v: Vec<u8> = (0..n).map(|_| g.next_u64() as u8).collect();
            if v.len() >= 4 {
                // steer towards known keys and versions so bodies get decoded
                v[0] = 0;
                v[1] = g.below(90) as u8;
                v[2] = 0;
                v[3] = g.below(20) as u8;
            }
            let _ = decode_request(Bytes::from(v));
        }
    }
}

/// Buffers kept for reuse (request frames, record batches): a large buffer allocated afresh
/// for every request faults in new pages as it is written (one fault per 4 KiB) and is
/// `madvise`d away when freed. [`give`](BufferPool::give) keeps a buffer once nothing else
/// holds it; [`take`](BufferPool::take) hands it out again, cleared. One lock per buffer, never
/// per record.
///
/// ```
/// use kafka_protocol::frame::BufferPool;
/// let pool = BufferPool::new(2, 0, 1 << 20);
/// let mut b = pool.take(4096);
/// b.extend_from_slice(b"frame");
/// pool.give(b.freeze()); // the only handle: kept
/// assert!(pool.take(16).capacity() >= 4096);
/// ```
#[derive(Debug)]
pub struct BufferPool {
    bufs: std::sync::Mutex<Vec<BytesMut>>,
    keep: usize,
    min_capacity: usize,
    max_capacity: usize,
}

impl BufferPool {
    /// A pool keeping at most `keep` idle buffers whose capacity is within
    /// `min_capacity..=max_capacity`.
    pub fn new(keep: usize, min_capacity: usize, max_capacity: usize) -> BufferPool {
        BufferPool {
            bufs: std::sync::Mutex::new(Vec::new()),
            keep,
            min_capacity,
            max_capacity,
        }
    }

    /// An empty buffer with room for `size` bytes: a kept one when there is one.
    pub fn take(&self, size: usize) -> BytesMut {
        let mut b = self
            .bufs
            .lock()
            .ok()
            .and_then(|mut v| v.pop())
            .unwrap_or_default();
        b.clear();
        b.reserve(size);
        b
    }

    /// Keeps `bytes`' buffer for reuse if this is its only handle and its capacity fits.
    pub fn give(&self, bytes: Bytes) {
        if let Ok(b) = bytes.try_into_mut()
            && (self.min_capacity..=self.max_capacity).contains(&b.capacity())
            && let Ok(mut v) = self.bufs.lock()
            && v.len() < self.keep
        {
            v.push(b);
        }
    }
}

/// Large incoming frames (fetch responses) read into recycled memory: a frame taken from
/// [`take`](RecyclePool::take) becomes [`Bytes`] with
/// [`PooledFrame::freeze`] and goes back to the pool by itself when its last handle (every
/// record slice cut from it included) is dropped. Reading megabytes into fresh allocations
/// makes the kernel fault in and zero every page again; a recycled buffer stays resident and
/// is not even re-initialised (its old contents are overwritten by the read).
///
/// ```
/// use kafka_protocol::frame::RecyclePool;
/// let pool = RecyclePool::new(2, 1 << 20);
/// let mut f = pool.take(5);
/// f.as_mut().copy_from_slice(b"hello");
/// let bytes = f.freeze();
/// let record = bytes.slice(1..3);
/// drop(bytes);
/// assert_eq!(pool.idle(), 0); // a slice still holds the memory
/// drop(record);
/// assert_eq!(pool.idle(), 1); // back in the pool
/// ```
#[derive(Debug, Clone)]
pub struct RecyclePool {
    inner: std::sync::Arc<RecycleInner>,
}

#[derive(Debug)]
struct RecycleInner {
    bufs: std::sync::Mutex<Vec<Vec<u8>>>,
    keep: usize,
    max_capacity: usize,
}

impl RecyclePool {
    /// A pool keeping at most `keep` idle buffers of at most `max_capacity` bytes each.
    pub fn new(keep: usize, max_capacity: usize) -> RecyclePool {
        RecyclePool {
            inner: std::sync::Arc::new(RecycleInner {
                bufs: std::sync::Mutex::new(Vec::new()),
                keep,
                max_capacity,
            }),
        }
    }

    /// A frame buffer of exactly `size` bytes (contents unspecified: to be overwritten).
    pub fn take(&self, size: usize) -> PooledFrame {
        let reused = self.inner.bufs.lock().ok().and_then(|mut v| {
            // The smallest idle buffer that already holds `size` bytes, else the largest.
            let i = v
                .iter()
                .enumerate()
                .filter(|(_, b)| b.capacity() >= size)
                .min_by_key(|(_, b)| b.capacity())
                .or_else(|| v.iter().enumerate().max_by_key(|(_, b)| b.capacity()))
                .map(|(i, _)| i)?;
            Some(v.swap_remove(i))
        });
        let mut buf = reused.unwrap_or_default();
        if buf.capacity() < size {
            // Growing would copy the old contents along: start empty instead.
            buf.clear();
        }
        if buf.len() < size {
            buf.resize(size, 0);
        } else {
            buf.truncate(size);
        }
        PooledFrame {
            buf,
            pool: self.clone(),
        }
    }

    /// How many idle buffers the pool holds.
    pub fn idle(&self) -> usize {
        self.inner.bufs.lock().map_or(0, |v| v.len())
    }

    fn give(&self, buf: Vec<u8>) {
        if buf.capacity() <= self.inner.max_capacity
            && let Ok(mut v) = self.inner.bufs.lock()
            && v.len() < self.inner.keep
        {
            v.push(buf);
        }
    }
}

/// A frame buffer from a [`RecyclePool`]; returns to it when dropped (directly, or as the last
/// handle of the [`Bytes`] made by [`freeze`](PooledFrame::freeze)).
#[derive(Debug)]
pub struct PooledFrame {
    buf: Vec<u8>,
    pool: RecyclePool,
}

impl PooledFrame {
    /// Shares the frame as `Bytes`; slices of it keep the buffer out of the pool until dropped.
    pub fn freeze(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl AsRef<[u8]> for PooledFrame {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl AsMut<[u8]> for PooledFrame {
    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }
}

impl Drop for PooledFrame {
    fn drop(&mut self) {
        self.pool.give(std::mem::take(&mut self.buf));
    }
}
