//! Listener and connection tasks.
//!
//! One task reads frames from a connection (size-guarded by `socket.request.max.bytes`),
//! decodes them and queues them; a second task handles the queued requests one at a time, in
//! arrival order, and writes each response before handling the next — the per-connection
//! ordering Kafka guarantees (and idempotent producers rely on). Reading the next request
//! overlaps with handling the current one.
//!
//! A frame that cannot be served — unknown API key, an API or version not advertised, an
//! undecodable body, an oversized or negative size — closes that connection with a `warn` line;
//! other connections are unaffected. An ApiVersions request at a version we do not know is
//! answered with a v0 body carrying UNSUPPORTED_VERSION and our API list, as Kafka does.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::frame::{
    BufferPool, decode_request, encode_response, peek_request_key, try_split_frame,
};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::handlers::{self, Outcome};
use crate::state::Shared;

/// Accepts connections until shutdown, then waits for every connection to finish.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, peer)) => {
                    conns.spawn(connection(stream, peer, shared.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

/// Frames at least this large are read into a buffer of their own, taken from the
/// connection's [`BufferPool`] and given back once the request has been handled: produce
/// requests then land in memory that is already mapped instead of fresh pages every time
/// (fresh pages cost a page fault per 4 KiB as the socket data is copied in).
const OWN_BUFFER_FRAME: usize = 64 * 1024;

/// Buffers of large frames, reused by one connection (two idle, at most 64 MiB each).
fn frame_pool() -> Arc<BufferPool> {
    Arc::new(BufferPool::new(2, 0, 64 << 20))
}

/// The size of the frame at the front of `buf` when it is large and not complete yet (an
/// invalid size is left to `try_split_frame` to reject).
fn incomplete_large_frame(buf: &[u8], max: usize) -> Option<usize> {
    let size = i32::from_be_bytes(buf.get(..4)?.try_into().ok()?);
    let size = usize::try_from(size).ok()?;
    (size >= OWN_BUFFER_FRAME && size <= max && buf.len() < 4 + size).then_some(size)
}

/// A request ready for the handler task.
enum Job {
    /// Decoded request.
    Request(Box<(RequestHeader, RequestKind)>),
    /// A response already encoded (ApiVersions at an unknown version).
    Raw(Bytes),
}

/// Why a frame closes the connection.
fn prepare(frame: Bytes) -> Result<Job, String> {
    let (key, version) = peek_request_key(&frame).map_err(|e| format!("bad header: {e}"))?;
    let Some(api) = ApiKey::from_i16(key) else {
        return Err(format!("unknown api key {key}"));
    };
    if api == ApiKey::ApiVersions && !ApiKey::ApiVersions.versions().contains(version) {
        if frame.len() < 8 {
            return Err("truncated ApiVersions header".into());
        }
        let correlation = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let body = ResponseKind::from(handlers::api_versions::unsupported_version());
        let mut out = BytesMut::new();
        encode_response(&mut out, correlation, ApiKey::ApiVersions, 0, &body)
            .map_err(|e| format!("encoding ApiVersions error response: {e}"))?;
        return Ok(Job::Raw(out.freeze()));
    }
    match handlers::api_versions::range(api) {
        Some(r) if r.contains(version) => {}
        Some(r) => {
            return Err(format!(
                "{api:?} v{version} is not supported (v{}..=v{})",
                r.min, r.max
            ));
        }
        None => return Err(format!("{api:?} is not supported by this broker")),
    }
    let (header, body) = decode_request(frame).map_err(|e| format!("{api:?} v{version}: {e}"))?;
    Ok(Job::Request(Box::new((header, body))))
}

async fn connection(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    tracing::debug!(%peer, "connection opened");
    let (mut rd, wr) = stream.into_split();
    // A few requests read ahead at most (Kafka reads none ahead): bounds memory per connection.
    let (tx, rx) = mpsc::channel::<(Job, Option<Bytes>)>(4);
    let (closed_tx, mut closed_rx) = watch::channel(false);
    let pool = frame_pool();
    let handler = tokio::spawn(handle_jobs(
        rx,
        wr,
        shared.clone(),
        peer,
        closed_tx,
        pool.clone(),
    ));
    let mut shutdown = shared.shutdown.clone();
    let max = shared.config.socket_request_max_bytes;
    let mut buf = BytesMut::with_capacity(64 * 1024);
    'conn: loop {
        loop {
            if let Some(size) = incomplete_large_frame(&buf, max) {
                // Read the rest of this frame, and only it, into a pooled buffer.
                let mut fb = pool.take(size);
                fb.extend_from_slice(buf.get(4..).unwrap_or_default());
                buf.clear();
                while fb.len() < size {
                    let mut rest = (&mut rd).take((size - fb.len()) as u64);
                    tokio::select! {
                        r = rest.read_buf(&mut fb) => match r {
                            Ok(0) => break 'conn,
                            Ok(_) => {}
                            Err(e) => {
                                tracing::debug!(%peer, error = %e, "read failed");
                                break 'conn;
                            }
                        },
                        _ = closed_rx.changed() => break 'conn,
                        _ = shutdown.changed() => break 'conn,
                    }
                }
                let frame = fb.freeze();
                match prepare(frame.clone()) {
                    Ok(job) => {
                        if tx.send((job, Some(frame))).await.is_err() {
                            break 'conn;
                        }
                    }
                    Err(reason) => {
                        tracing::warn!(%peer, "closing connection: {reason}");
                        break 'conn;
                    }
                }
                continue;
            }
            match try_split_frame(&mut buf, max) {
                Ok(Some(frame)) => match prepare(frame) {
                    Ok(job) => {
                        if tx.send((job, None)).await.is_err() {
                            break 'conn;
                        }
                    }
                    Err(reason) => {
                        tracing::warn!(%peer, "closing connection: {reason}");
                        break 'conn;
                    }
                },
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(%peer, "closing connection: {e}");
                    break 'conn;
                }
            }
        }
        tokio::select! {
            r = rd.read_buf(&mut buf) => match r {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "read failed");
                    break;
                }
            },
            _ = closed_rx.changed() => break,
            _ = shutdown.changed() => break,
        }
    }
    drop(tx);
    let _ = handler.await;
    tracing::debug!(%peer, "connection closed");
}

async fn handle_jobs(
    mut rx: mpsc::Receiver<(Job, Option<Bytes>)>,
    wr: tokio::net::tcp::OwnedWriteHalf,
    shared: Arc<Shared>,
    peer: SocketAddr,
    closed: watch::Sender<bool>,
    pool: Arc<BufferPool>,
) {
    let mut wr = BufWriter::with_capacity(64 * 1024, wr);
    let mut out = BytesMut::new();
    while let Some((job, frame)) = rx.recv().await {
        let (header, body) = match job {
            Job::Raw(bytes) => {
                if wr.write_all(&bytes).await.is_err() {
                    break;
                }
                if rx.is_empty() && wr.flush().await.is_err() {
                    break;
                }
                continue;
            }
            Job::Request(hb) => *hb,
        };
        let api = body.api_key();
        let version = header.request_api_version;
        let span = tracing::debug_span!("request", ?api, version, correlation = header.correlation_id, client = ?header.client_id);
        let outcome = {
            let _e = span.enter();
            tracing::trace!("handling");
            drop(_e);
            handlers::dispatch(&shared, &header, peer, body).await
        };
        if let Some(frame) = frame {
            pool.give(frame);
        }
        match outcome {
            Outcome::Respond(resp) => {
                out.clear();
                if let Err(e) =
                    encode_response(&mut out, header.correlation_id, api, version, &resp)
                {
                    tracing::error!(%peer, ?api, version, error = %e, "cannot encode response; closing connection");
                    break;
                }
                // Large fetch responses: write header+body without an extra copy of the records
                // is left to the codec; `out` is reused between responses.
                if wr.write_all(&out).await.is_err() {
                    break;
                }
                if out.capacity() > (8 << 20) {
                    out = BytesMut::new();
                }
            }
            Outcome::NoResponse => {}
            Outcome::Close(reason) => {
                tracing::info!(%peer, ?api, "closing connection: {reason}");
                break;
            }
        }
        if rx.is_empty() && wr.flush().await.is_err() {
            break;
        }
    }
    let _ = wr.flush().await;
    let _ = wr.shutdown().await;
    let _ = closed.send(true);
}
