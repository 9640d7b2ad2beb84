//! One connection to one broker: a tokio task that owns the stream, writes size-prefixed
//! request frames, reads response frames and hands each to the request waiting for it.
//!
//! Several requests may be in flight at once (up to `max_in_flight`); Kafka answers them in the
//! order they were sent, so a response whose correlation id is not the oldest one in flight is a
//! protocol violation ([`Error::CorrelationMismatch`]) and closes the connection. When the
//! connection dies — I/O error, EOF, malformed frame, [`Connection::close`], idle timeout —
//! every queued and in-flight request fails at once with the reason; no request ever waits
//! without a timeout.
//!
//! The transport is anything `AsyncRead + AsyncWrite`, so tests run over in-memory
//! [`tokio::io::duplex`] pipes:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use kafka_client::connection::{Connection, ConnectionOptions};
//! use kafka_protocol::messages::ApiVersionsRequest;
//!
//! let (client_end, _broker_end) = tokio::io::duplex(64 * 1024);
//! let conn = Connection::spawn(client_end, ConnectionOptions::default());
//! assert!(!conn.is_closed());
//! conn.close();
//! conn.closed().await;
//! let err = conn.send(&ApiVersionsRequest::default(), 0).await.unwrap_err();
//! assert!(err.is_retriable()); // Disconnected
//! # }
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::frame::{BufferPool, RecyclePool, try_split_frame};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::{Decodable, Encodable, Message, ProtocolError, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument;

use crate::error::{Error, ErrorContext, Result};

/// Settings of one connection.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectionOptions {
    /// Broker node id, for errors, spans and metrics (negative for bootstrap connections).
    pub broker_id: i32,
    /// Broker address, for errors and spans.
    pub addr: String,
    /// `client.id` sent in every request header.
    pub client_id: Option<String>,
    /// Requests written and not yet answered, at most (at least 1).
    pub max_in_flight: usize,
    /// Largest response frame accepted.
    pub max_frame: usize,
    /// Default per-request timeout.
    pub request_timeout: Duration,
    /// Close the connection after this long without traffic and nothing in flight.
    pub idle_timeout: Option<Duration>,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        ConnectionOptions {
            broker_id: -1,
            addr: "unknown".into(),
            client_id: Some("kafka-rust".into()),
            max_in_flight: 5,
            max_frame: kafka_protocol::frame::DEFAULT_MAX_FRAME,
            request_timeout: Duration::from_secs(30),
            idle_timeout: None,
        }
    }
}

impl ConnectionOptions {
    /// Options for broker `broker_id` at `addr`, other fields default.
    pub fn new(broker_id: i32, addr: impl Into<String>) -> Self {
        ConnectionOptions {
            broker_id,
            addr: addr.into(),
            ..Default::default()
        }
    }

    /// Sets `client.id`.
    pub fn client_id(mut self, id: Option<String>) -> Self {
        self.client_id = id;
        self
    }

    /// Sets the in-flight limit.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Sets the largest accepted response frame.
    pub fn max_frame(mut self, n: usize) -> Self {
        self.max_frame = n;
        self
    }

    /// Sets the default per-request timeout.
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Sets the idle timeout.
    pub fn idle_timeout(mut self, d: Option<Duration>) -> Self {
        self.idle_timeout = d;
        self
    }
}

/// A handle to a connection task. Cheap to clone; the task ends when the connection fails,
/// [`Connection::close`] is called, or the last handle is dropped.
#[derive(Debug, Clone)]
pub struct Connection {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Outgoing>,
}

#[derive(Debug)]
struct Shared {
    opts: ConnectionOptions,
    permits: Arc<Semaphore>,
    next_correlation: AtomicI32,
    closed: AtomicBool,
    reason: Mutex<Option<Error>>,
    close_tx: watch::Sender<bool>,
    in_flight: AtomicUsize,
    /// Written frames' buffers, reused for the next requests.
    frame_bufs: BufferPool,
    /// Large response frames' buffers, back here once their last slice is dropped.
    response_bufs: RecyclePool,
}

type Reply = oneshot::Sender<Result<Bytes>>;

#[derive(Debug)]
struct Outgoing {
    frame: Bytes,
    correlation_id: i32,
    expect_response: bool,
    reply: Reply,
    written: Arc<AtomicBool>,
    _permit: OwnedSemaphorePermit,
}

#[derive(Debug)]
struct Pending {
    correlation_id: i32,
    reply: Reply,
    _permit: OwnedSemaphorePermit,
}

/// Decrements the in-flight gauge however the request ends (response, error, cancellation).
struct InFlightGuard<'a>(&'a Shared);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        metrics::gauge!("kafka_client_requests_in_flight").decrement(1.0);
    }
}

impl Shared {
    fn context(&self) -> ErrorContext {
        ErrorContext::broker(self.opts.broker_id, self.opts.addr.clone())
    }

    fn disconnected(&self) -> Error {
        Error::Disconnected {
            context: Box::new(self.context()),
        }
    }

    /// The reason the connection closed, or a plain "disconnected".
    fn close_error(&self) -> Error {
        self.reason
            .lock()
            .ok()
            .and_then(|r| r.clone())
            .unwrap_or_else(|| self.disconnected())
    }

    fn mark_closed(&self, reason: Error) {
        if let Ok(mut r) = self.reason.lock()
            && r.is_none()
        {
            *r = Some(reason);
        }
        self.closed.store(true, Ordering::SeqCst);
        self.permits.close();
        let _ = self.close_tx.send(true);
    }
}

impl Connection {
    /// Starts the connection task on `io` (already connected, TLS done if any).
    ///
    /// Must be called within a tokio runtime.
    pub fn spawn<T>(io: T, opts: ConnectionOptions) -> Connection
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        let max_in_flight = opts.max_in_flight.max(1);
        let (tx, rx) = mpsc::unbounded_channel();
        let (close_tx, close_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            opts,
            permits: Arc::new(Semaphore::new(max_in_flight)),
            next_correlation: AtomicI32::new(1),
            closed: AtomicBool::new(false),
            reason: Mutex::new(None),
            close_tx,
            in_flight: AtomicUsize::new(0),
            // Two idle frames of at most 16 MiB per connection.
            frame_bufs: BufferPool::new(2, 0, 16 << 20),
            // Up to four idle response buffers of at most 64 MiB (fetch.max.bytes is 50 MiB).
            response_bufs: RecyclePool::new(4, 64 << 20),
        });
        let span = tracing::debug_span!(
            "kafka_connection",
            broker = shared.opts.broker_id,
            addr = %shared.opts.addr
        );
        tokio::spawn(run(io, rx, close_rx, shared.clone()).instrument(span));
        metrics::counter!("kafka_client_connections_opened_total").increment(1);
        Connection { shared, tx }
    }

    /// The options the connection was started with.
    pub fn options(&self) -> &ConnectionOptions {
        &self.shared.opts
    }

    /// Whether the connection has closed (no further request can succeed).
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Why the connection closed, once it has.
    pub fn close_reason(&self) -> Option<Error> {
        self.shared.reason.lock().ok().and_then(|r| r.clone())
    }

    /// Closes the connection: queued and in-flight requests fail with
    /// [`Error::Disconnected`].
    pub fn close(&self) {
        self.shared.mark_closed(self.shared.disconnected());
    }

    /// Waits until the connection has closed.
    ///
    /// Cancel safe.
    pub async fn closed(&self) {
        let mut rx = self.shared.close_tx.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Requests started and not yet finished (queued, written or awaiting their response,
    /// counting only requests whose caller still waits).
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Relaxed)
    }

    /// Permits for new requests currently free (`max_in_flight` minus requests queued or
    /// awaiting a response on the wire, including ones whose caller gave up).
    pub fn available_permits(&self) -> usize {
        self.shared.permits.available_permits()
    }

    /// Sends `req` at `version` and decodes its response, with the default request timeout.
    ///
    /// Cancel safe in the sense that dropping the future never corrupts the connection: a
    /// request not yet written is skipped, and the response of one already written is read
    /// and discarded.
    pub async fn send<R: Request + Sync>(&self, req: &R, version: i16) -> Result<R::Response> {
        self.send_timeout(req, version, self.shared.opts.request_timeout)
            .await
    }

    /// Like [`Connection::send`] with an explicit timeout for this request.
    ///
    /// When a request that was written times out the connection is closed (as the Java
    /// client does), since its in-order response stream can no longer be trusted to arrive.
    ///
    /// Cancel safe (see [`Connection::send`]).
    pub async fn send_timeout<R: Request + Sync>(
        &self,
        req: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response> {
        let api = R::API_KEY;
        if !R::VERSIONS.contains(version) {
            return Err(Error::UnsupportedVersion {
                api,
                ours: R::VERSIONS,
                theirs: None,
                context: Box::new(self.shared.context().with_api(api, version)),
            });
        }
        let frame = self.send_raw(api, version, req, timeout, true).await?;
        decode_response::<R::Response>(frame, api, version)
            .map_err(|source| self.protocol_error(source, api, version))
    }

    /// Sends a request for which the broker sends no response (Produce with `acks=0`);
    /// completes once the frame is written.
    ///
    /// Cancel safe (see [`Connection::send`]).
    pub async fn send_no_response<R: Request + Sync>(&self, req: &R, version: i16) -> Result<()> {
        self.send_raw(
            R::API_KEY,
            version,
            req,
            self.shared.opts.request_timeout,
            false,
        )
        .await
        .map(|_| ())
    }

    /// Sends a body that is already a message of API `api` and returns the response frame
    /// (header included) undecoded. The building block of the typed methods; useful for APIs
    /// that need special decoding (ApiVersions fallback).
    ///
    /// Cancel safe (see [`Connection::send`]).
    pub async fn send_raw(
        &self,
        api: ApiKey,
        version: i16,
        body: &(dyn Encodable + Sync),
        timeout: Duration,
        expect_response: bool,
    ) -> Result<Bytes> {
        let shared = &self.shared;
        let correlation_id = shared
            .next_correlation
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                Some(if c == i32::MAX { 1 } else { c + 1 })
            })
            .unwrap_or(1);
        let span = tracing::debug_span!(
            "kafka_request",
            api = api.name(),
            version,
            broker = shared.opts.broker_id,
            correlation_id,
            latency_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let api_label = api.name();
        metrics::counter!("kafka_client_requests_total", "api" => api_label).increment(1);
        let result = self
            .send_inner(api, version, correlation_id, body, timeout, expect_response)
            .instrument(span.clone())
            .await;
        let elapsed = started.elapsed();
        span.record("latency_ms", elapsed.as_secs_f64() * 1000.0);
        metrics::histogram!("kafka_client_request_latency_seconds", "api" => api_label)
            .record(elapsed.as_secs_f64());
        match &result {
            Ok(frame) => {
                metrics::counter!("kafka_client_bytes_received_total")
                    .increment(frame.len() as u64 + 4);
                tracing::trace!(parent: &span, "response received");
            }
            Err(e) => {
                metrics::counter!("kafka_client_request_errors_total", "api" => api_label)
                    .increment(1);
                tracing::debug!(parent: &span, error = %e, "request failed");
            }
        }
        result
    }

    async fn send_inner(
        &self,
        api: ApiKey,
        version: i16,
        correlation_id: i32,
        body: &(dyn Encodable + Sync),
        timeout: Duration,
        expect_response: bool,
    ) -> Result<Bytes> {
        let shared = &self.shared;
        let ctx = || shared.context().with_api(api, version);
        if self.is_closed() {
            return Err(shared.close_error());
        }
        shared.in_flight.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!("kafka_client_requests_in_flight").increment(1.0);
        let _guard = InFlightGuard(shared);
        let deadline = Instant::now() + timeout;

        // Encode first so encoding errors never touch the connection.
        let header = RequestHeader {
            request_api_key: api.key(),
            request_api_version: version,
            correlation_id,
            client_id: shared.opts.client_id.clone(),
            ..Default::default()
        };
        let hv = api.request_header_version(version);
        let size = header.encoded_len(hv) + body.encoded_len(version);
        let size32 = i32::try_from(size).map_err(|_| Error::Protocol {
            source: ProtocolError::TooLong {
                what: "request frame",
                length: size,
            },
            context: Box::new(ctx()),
        })?;
        let mut buf = shared.frame_bufs.take(size + 4);
        buf.extend_from_slice(&size32.to_be_bytes());
        header
            .encode(&mut buf, hv)
            .and_then(|()| body.encode(&mut buf, version))
            .map_err(|source| Error::Protocol {
                source,
                context: Box::new(ctx()),
            })?;
        let frame = buf.freeze();

        let timed_out = || Error::RequestTimeout {
            timeout,
            context: Box::new(ctx()),
        };
        let permit =
            match tokio::time::timeout_at(deadline, shared.permits.clone().acquire_owned()).await {
                Ok(Ok(p)) => p,
                Ok(Err(_closed)) => return Err(shared.close_error()),
                Err(_) => return Err(timed_out()),
            };
        let (reply, rx) = oneshot::channel();
        let written = Arc::new(AtomicBool::new(false));
        let sent_len = frame.len();
        self.tx
            .send(Outgoing {
                frame,
                correlation_id,
                expect_response,
                reply,
                written: written.clone(),
                _permit: permit,
            })
            .map_err(|_| shared.close_error())?;
        match tokio::time::timeout_at(deadline, rx).await {
            Ok(Ok(Ok(frame))) => {
                metrics::counter!("kafka_client_bytes_sent_total").increment(sent_len as u64);
                Ok(frame)
            }
            Ok(Ok(Err(e))) => Err(add_api(e, api, version)),
            Ok(Err(_dropped)) => Err(add_api(shared.close_error(), api, version)),
            Err(_) => {
                if written.load(Ordering::SeqCst) {
                    tracing::warn!(
                        broker = shared.opts.broker_id,
                        api = api.name(),
                        correlation_id,
                        ?timeout,
                        "request timed out; closing the connection"
                    );
                    shared.mark_closed(shared.disconnected());
                }
                Err(timed_out())
            }
        }
    }

    fn protocol_error(&self, source: ProtocolError, api: ApiKey, version: i16) -> Error {
        Error::Protocol {
            source,
            context: Box::new(self.shared.context().with_api(api, version)),
        }
    }
}

fn add_api(mut e: Error, api: ApiKey, version: i16) -> Error {
    if let Some(ctx) = match &mut e {
        Error::Io { context, .. }
        | Error::Disconnected { context }
        | Error::Protocol { context, .. }
        | Error::CorrelationMismatch { context, .. }
        | Error::UnexpectedResponse { context, .. }
        | Error::RequestTimeout { context, .. } => Some(context),
        _ => None,
    } && ctx.api.is_none()
    {
        ctx.api = Some(api);
        ctx.version = Some(version);
    }
    e
}

/// Decodes a response frame (header included) as `M` at `version`.
pub(crate) fn decode_response<M: Message>(
    mut frame: Bytes,
    api: ApiKey,
    version: i16,
) -> std::result::Result<M, ProtocolError> {
    let _header = ResponseHeader::decode(&mut frame, api.response_header_version(version))?;
    M::decode(&mut frame, version)
}

/// Frames of at least this size are read into a [`RecyclePool`] buffer.
const LARGE_FRAME: usize = 256 * 1024;

/// The size of the frame starting `buf` when it is large, valid and not yet complete.
fn large_frame_size(buf: &BytesMut, max: usize) -> Option<usize> {
    let head: [u8; 4] = buf.get(..4)?.try_into().ok()?;
    let size = usize::try_from(i32::from_be_bytes(head)).ok()?;
    (LARGE_FRAME..=max)
        .contains(&size)
        .then_some(size)
        .filter(|s| buf.len() < 4 + s)
}

async fn run<T>(
    io: T,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    mut close_rx: watch::Receiver<bool>,
    shared: Arc<Shared>,
) where
    T: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let pending: Mutex<VecDeque<Pending>> = Mutex::new(VecDeque::new());
    let last_activity = Mutex::new(Instant::now());
    let touch = || {
        if let Ok(mut t) = last_activity.lock() {
            *t = Instant::now();
        }
    };

    let writer = async {
        while let Some(out) = rx.recv().await {
            if out.reply.is_closed() {
                continue; // the caller gave up before we wrote it
            }
            let Outgoing {
                frame,
                correlation_id,
                expect_response,
                reply,
                written,
                _permit,
            } = out;
            let reply = if expect_response {
                if let Ok(mut p) = pending.lock() {
                    p.push_back(Pending {
                        correlation_id,
                        reply,
                        _permit,
                    });
                }
                None
            } else {
                Some(reply)
            };
            written.store(true, Ordering::SeqCst);
            if let Err(e) = wr.write_all(&frame).await {
                return Err(Error::Io {
                    source: Arc::new(e),
                    context: Box::new(shared.context()),
                });
            }
            if let Err(e) = wr.flush().await {
                return Err(Error::Io {
                    source: Arc::new(e),
                    context: Box::new(shared.context()),
                });
            }
            touch();
            shared.frame_bufs.give(frame);
            if let Some(reply) = reply {
                let _ = reply.send(Ok(Bytes::new()));
            }
        }
        // Every handle dropped: nobody can be waiting for anything.
        Err::<(), Error>(shared.disconnected())
    };

    // Hands one response frame to the request waiting for it.
    let deliver = |frame: Bytes| -> std::result::Result<(), Error> {
        touch();
        if frame.len() < 4 {
            return Err(Error::Protocol {
                source: ProtocolError::Truncated {
                    what: "response header",
                    needed: 4,
                    remaining: frame.len(),
                },
                context: Box::new(shared.context()),
            });
        }
        let got = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
        let front = pending.lock().ok().and_then(|mut p| p.pop_front());
        match front {
            None => Err(Error::UnexpectedResponse {
                got,
                context: Box::new(shared.context()),
            }),
            Some(p) if p.correlation_id != got => {
                let err = Error::CorrelationMismatch {
                    expected: p.correlation_id,
                    got,
                    context: Box::new(shared.context()),
                };
                let _ = p.reply.send(Err(err.clone()));
                Err(err)
            }
            Some(p) => {
                // A dropped receiver means the caller was cancelled: discard.
                let _ = p.reply.send(Ok(frame));
                Ok(())
            }
        }
    };
    let io_error = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            shared.disconnected()
        } else {
            Error::Io {
                source: Arc::new(e),
                context: Box::new(shared.context()),
            }
        }
    };

    let reader = async {
        let mut buf = BytesMut::with_capacity(64 * 1024);
        loop {
            // A large frame (a fetch response) is read straight into recycled memory.
            if let Some(size) = large_frame_size(&buf, shared.opts.max_frame) {
                let mut frame = shared.response_bufs.take(size);
                let have = buf.len() - 4;
                frame.as_mut()[..have].copy_from_slice(&buf[4..]);
                buf.clear();
                rd.read_exact(&mut frame.as_mut()[have..])
                    .await
                    .map_err(io_error)?;
                deliver(frame.freeze())?;
                continue;
            }
            match try_split_frame(&mut buf, shared.opts.max_frame) {
                Ok(Some(frame)) => deliver(frame)?,
                Ok(None) => match rd.read_buf(&mut buf).await {
                    Ok(0) => return Err::<(), Error>(shared.disconnected()),
                    Ok(_) => {}
                    Err(e) => return Err(io_error(e)),
                },
                Err(source) => {
                    return Err(Error::Protocol {
                        source,
                        context: Box::new(shared.context()),
                    });
                }
            }
        }
    };

    let idle = async {
        let Some(idle) = shared.opts.idle_timeout else {
            return std::future::pending::<Error>().await;
        };
        loop {
            let last = last_activity
                .lock()
                .map(|t| *t)
                .unwrap_or_else(|_| Instant::now());
            tokio::time::sleep_until(last + idle).await;
            let busy = pending.lock().map(|p| !p.is_empty()).unwrap_or(false)
                || shared.in_flight.load(Ordering::Relaxed) > 0;
            let last = last_activity
                .lock()
                .map(|t| *t)
                .unwrap_or_else(|_| Instant::now());
            if !busy && last.elapsed() >= idle {
                tracing::debug!("closing idle connection");
                return shared.disconnected();
            }
            if busy {
                tokio::time::sleep(idle.min(Duration::from_secs(1))).await;
            }
        }
    };

    let reason = tokio::select! {
        r = writer => r.err(),
        r = reader => r.err(),
        e = idle => Some(e),
        _ = close_rx.wait_for(|c| *c) => None,
    };
    let reason = reason.unwrap_or_else(|| shared.close_error());
    tracing::debug!(error = %reason, "connection closed");
    metrics::counter!("kafka_client_connections_closed_total").increment(1);
    shared.mark_closed(reason.clone());
    // Fail everything still waiting.
    rx.close();
    let drained: Vec<Pending> = pending
        .lock()
        .map(|mut p| p.drain(..).collect())
        .unwrap_or_default();
    for p in drained {
        let _ = p.reply.send(Err(reason.clone()));
    }
    while let Ok(out) = rx.try_recv() {
        let _ = out.reply.send(Err(reason.clone()));
    }
    let _ = wr.shutdown().await;
}
