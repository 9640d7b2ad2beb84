//! A broker connection that is ready for requests: transport dialed (TCP, TLS), API versions
//! negotiated, SASL done; and the per-broker slot that reconnects with exponential backoff.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::{Decodable, ErrorCode, Request, VersionRange};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::config::{ClientConfig, HostPort};
use crate::connection::{Connection, ConnectionOptions};
use crate::error::{Error, ErrorContext, Result};
use crate::retry::{Backoff, Deadline};

/// A byte stream to a broker: TCP, TLS over TCP, or an in-memory pipe in tests.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// A boxed [`Transport`].
pub type BoxTransport = Box<dyn Transport>;

/// A boxed future returned by a [`Dialer`].
pub type DialFuture = Pin<Box<dyn Future<Output = Result<BoxTransport>> + Send>>;

/// Opens transports to brokers. [`Client::connect`](crate::Client::connect) uses the TCP/TLS
/// dialer built from the configuration; tests and proxies can supply their own through
/// [`Client::connect_with_dialer`](crate::Client::connect_with_dialer).
pub type Dialer = Arc<dyn Fn(HostPort) -> DialFuture + Send + Sync>;

/// The standard dialer: resolves the host (every address is tried in turn, each within
/// `socket.connection.setup.timeout.ms`), connects TCP with `TCP_NODELAY`, and wraps the
/// stream in TLS when the security protocol asks for it.
pub fn tcp_dialer(cfg: &ClientConfig) -> Result<Dialer> {
    let tls = if cfg.security_protocol.uses_tls() {
        Some(cfg.tls.connector()?)
    } else {
        None
    };
    let setup = cfg.socket_connection_setup_timeout;
    Ok(Arc::new(move |addr: HostPort| {
        let tls = tls.clone();
        Box::pin(async move {
            let tcp = connect_tcp(&addr, setup).await?;
            match tls {
                None => Ok(Box::new(tcp) as BoxTransport),
                Some(connector) => {
                    let name =
                        tokio_rustls::rustls::pki_types::ServerName::try_from(addr.host.clone())
                            .map_err(|e| {
                                Error::Tls(format!("invalid server name {}: {e}", addr.host))
                            })?;
                    let stream = tokio::time::timeout(setup, connector.connect(name, tcp))
                        .await
                        .map_err(|_| Error::Tls(format!("handshake with {addr} timed out")))?
                        .map_err(|e| Error::Tls(format!("handshake with {addr}: {e}")))?;
                    Ok(Box::new(stream) as BoxTransport)
                }
            }
        }) as DialFuture
    }))
}

async fn connect_tcp(addr: &HostPort, setup: Duration) -> Result<tokio::net::TcpStream> {
    let target = addr.to_string();
    let addrs: Vec<std::net::SocketAddr> = tokio::time::timeout(
        setup,
        tokio::net::lookup_host((addr.host.as_str(), addr.port)),
    )
    .await
    .map_err(|_| Error::Connect {
        addr: target.clone(),
        message: "DNS lookup timed out".into(),
    })?
    .map_err(|e| Error::Connect {
        addr: target.clone(),
        message: format!("DNS lookup failed: {e}"),
    })?
    .collect();
    if addrs.is_empty() {
        return Err(Error::Connect {
            addr: target,
            message: "DNS lookup returned no address".into(),
        });
    }
    let mut failures = Vec::new();
    for sa in addrs {
        match tokio::time::timeout(setup, tokio::net::TcpStream::connect(sa)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => failures.push(format!("{sa}: {e}")),
            Err(_) => failures.push(format!("{sa}: timed out after {setup:?}")),
        }
    }
    Err(Error::Connect {
        addr: target,
        message: failures.join("; "),
    })
}

/// The API versions a broker advertised, and the negotiated version per API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiVersions {
    broker: BTreeMap<i16, VersionRange>,
}

impl ApiVersions {
    /// From the broker's ApiVersions answer.
    pub fn from_response(keys: &[ApiVersion]) -> ApiVersions {
        ApiVersions {
            broker: keys
                .iter()
                .map(|k| {
                    (
                        k.api_key,
                        VersionRange {
                            min: k.min_version,
                            max: k.max_version,
                        },
                    )
                })
                .collect(),
        }
    }

    /// The broker's range for `api`, if it supports the API.
    pub fn broker_range(&self, api: ApiKey) -> Option<VersionRange> {
        self.broker.get(&api.key()).copied()
    }

    /// The highest version both this crate and the broker support.
    ///
    /// ```
    /// use kafka_client::broker::ApiVersions;
    /// use kafka_protocol::messages::ApiKey;
    /// use kafka_protocol::messages::api_versions_response::ApiVersion;
    ///
    /// let v = ApiVersions::from_response(&[ApiVersion { api_key: 3, min_version: 0, max_version: 99, ..Default::default() }]);
    /// assert_eq!(v.negotiated(ApiKey::Metadata), Some(ApiKey::Metadata.versions().max));
    /// assert_eq!(v.negotiated(ApiKey::Produce), None);
    /// ```
    pub fn negotiated(&self, api: ApiKey) -> Option<i16> {
        self.broker_range(api)
            .and_then(|r| r.intersect(&api.versions()))
            .map(|r| r.max)
    }

    /// Every API the broker advertised with its range.
    pub fn iter(&self) -> impl Iterator<Item = (i16, VersionRange)> + '_ {
        self.broker.iter().map(|(k, v)| (*k, *v))
    }
}

/// A ready connection to one broker: versions negotiated and SASL done. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BrokerConnection {
    conn: Connection,
    versions: Arc<ApiVersions>,
    node_id: i32,
    addr: HostPort,
    reauth_at: Option<Instant>,
}

impl BrokerConnection {
    /// Runs the connection handshake on `io`: ApiVersions (v3+ with the client software name
    /// and version, falling back to the version the broker advertises — or v0 — when it
    /// answers UNSUPPORTED_VERSION), then SaslHandshake v1 and SaslAuthenticate when SASL is
    /// configured.
    ///
    /// Not cancel safe in a useful sense: dropping it drops the half-set-up connection.
    pub async fn handshake<T>(
        io: T,
        node_id: i32,
        addr: HostPort,
        cfg: &ClientConfig,
    ) -> Result<BrokerConnection>
    where
        T: AsyncRead + AsyncWrite + Send + 'static,
    {
        let opts = ConnectionOptions::new(node_id, addr.to_string())
            .client_id(Some(cfg.client_id.clone()))
            .max_in_flight(cfg.max_in_flight_requests_per_connection)
            .max_frame(cfg.max_response_size)
            .request_timeout(cfg.request_timeout)
            .idle_timeout(Some(cfg.connections_max_idle));
        let conn = Connection::spawn(io, opts);
        let setup = cfg.socket_connection_setup_timeout;
        let result = async {
            let versions = negotiate_versions(&conn, cfg, setup).await?;
            let mut bc = BrokerConnection {
                conn: conn.clone(),
                versions: Arc::new(versions),
                node_id,
                addr,
                reauth_at: None,
            };
            if let Some(sasl) = &cfg.sasl {
                let mech = crate::sasl::mechanism_from_config(sasl)?;
                bc.reauth_at = authenticate(&bc, mech.as_ref(), setup).await?;
            }
            Ok(bc)
        }
        .await;
        if result.is_err() {
            conn.close();
        }
        result
    }

    /// The broker's node id (negative for a bootstrap connection).
    pub fn node_id(&self) -> i32 {
        self.node_id
    }

    /// The broker's address.
    pub fn addr(&self) -> &HostPort {
        &self.addr
    }

    /// The negotiated versions.
    pub fn versions(&self) -> &ApiVersions {
        &self.versions
    }

    /// The version requests of `api` go out at (highest common), if any.
    pub fn version_for(&self, api: ApiKey) -> Option<i16> {
        self.versions.negotiated(api)
    }

    /// The underlying connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Whether the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }

    /// Whether the SASL session is close to its end (85–95 % of `session_lifetime_ms`,
    /// jittered): new requests then go to a fresh, freshly authenticated connection and this
    /// one is left to drain.
    pub fn needs_reauth(&self) -> bool {
        self.reauth_at.is_some_and(|t| Instant::now() >= t)
    }

    /// Sends at the negotiated version with the default request timeout.
    ///
    /// Cancel safe (see [`Connection::send`]).
    pub async fn send<R: Request + Sync>(&self, req: &R) -> Result<R::Response> {
        self.send_opts(req, None, self.conn.options().request_timeout)
            .await
    }

    /// Sends at the negotiated version, capped at `max_version` when given.
    ///
    /// Cancel safe (see [`Connection::send`]).
    pub async fn send_opts<R: Request + Sync>(
        &self,
        req: &R,
        max_version: Option<i16>,
        timeout: Duration,
    ) -> Result<R::Response> {
        let version = self.pick_version(R::API_KEY, max_version)?;
        self.conn.send_timeout(req, version, timeout).await
    }

    /// The version to use for `api`, capped at `max_version`.
    pub fn pick_version(&self, api: ApiKey, max_version: Option<i16>) -> Result<i16> {
        let theirs = self.versions.broker_range(api);
        let ours = match max_version {
            Some(m) => VersionRange {
                min: api.versions().min,
                max: m.min(api.versions().max),
            },
            None => api.versions(),
        };
        theirs
            .and_then(|t| t.intersect(&ours))
            .map(|r| r.max)
            .ok_or_else(|| Error::UnsupportedVersion {
                api,
                ours,
                theirs,
                context: Box::new(ErrorContext::broker(self.node_id, self.addr.to_string())),
            })
    }
}

async fn negotiate_versions(
    conn: &Connection,
    cfg: &ClientConfig,
    timeout: Duration,
) -> Result<ApiVersions> {
    let mut version = ApiKey::ApiVersions.versions().max;
    for _ in 0..3 {
        let req = ApiVersionsRequest {
            client_software_name: if version >= 3 {
                sanitize_software(&cfg.client_software_name)
            } else {
                String::new()
            },
            client_software_version: if version >= 3 {
                sanitize_software(&cfg.client_software_version)
            } else {
                String::new()
            },
            ..Default::default()
        };
        let frame = conn
            .send_raw(ApiKey::ApiVersions, version, &req, timeout, true)
            .await?;
        let resp = decode_api_versions(frame, version).map_err(|source| Error::Protocol {
            source,
            context: Box::new(
                ErrorContext::broker(conn.options().broker_id, conn.options().addr.clone())
                    .with_api(ApiKey::ApiVersions, version),
            ),
        })?;
        match ErrorCode::from_i16(resp.error_code) {
            ErrorCode::None => return Ok(ApiVersions::from_response(&resp.api_keys)),
            ErrorCode::UnsupportedVersion if version > 0 => {
                // The broker says which ApiVersions versions it speaks, when it can.
                let advertised = resp
                    .api_keys
                    .iter()
                    .find(|k| k.api_key == ApiKey::ApiVersions.key())
                    .map(|k| k.max_version);
                let next = advertised.filter(|v| *v < version && *v >= 0).unwrap_or(0);
                tracing::debug!(
                    from = version,
                    to = next,
                    "ApiVersions: retrying with a lower version"
                );
                version = next;
            }
            code => {
                return Err(Error::Kafka {
                    code,
                    message: None,
                    context: Box::new(
                        ErrorContext::broker(conn.options().broker_id, conn.options().addr.clone())
                            .with_api(ApiKey::ApiVersions, version),
                    ),
                });
            }
        }
    }
    Err(Error::Kafka {
        code: ErrorCode::UnsupportedVersion,
        message: Some("ApiVersions negotiation did not converge".into()),
        context: Box::new(ErrorContext::broker(
            conn.options().broker_id,
            conn.options().addr.clone(),
        )),
    })
}

/// A broker that does not support the request's version answers in v0 format: try the
/// version asked for, then v0 (as the Java client does).
fn decode_api_versions(
    frame: bytes::Bytes,
    version: i16,
) -> std::result::Result<ApiVersionsResponse, kafka_protocol::ProtocolError> {
    let mut body = frame;
    let _ = kafka_protocol::messages::ResponseHeader::decode(&mut body, 0)?;
    let fallback = body.clone();
    match ApiVersionsResponse::decode(&mut body, version) {
        Ok(r) => Ok(r),
        Err(e) if version == 0 => Err(e),
        Err(_) => ApiVersionsResponse::decode(&mut fallback.clone(), 0),
    }
}

/// Kafka requires client software names/versions to match `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`.
fn sanitize_software(s: &str) -> String {
    let mapped: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "unknown".into()
    } else {
        trimmed.to_string()
    }
}

/// SaslHandshake v1 + SaslAuthenticate rounds. Returns when to re-authenticate, if the broker
/// gave the session a lifetime.
async fn authenticate(
    bc: &BrokerConnection,
    mech: &dyn crate::sasl::SaslMechanism,
    timeout: Duration,
) -> Result<Option<Instant>> {
    let hs_version = bc.pick_version(ApiKey::SaslHandshake, None)?;
    if hs_version < 1 {
        return Err(Error::Sasl(
            "the broker only supports SaslHandshake v0 (unframed SASL), which is not supported"
                .into(),
        ));
    }
    let resp = bc
        .send_opts(
            &SaslHandshakeRequest {
                mechanism: mech.name().to_string(),
            },
            None,
            timeout,
        )
        .await?;
    match ErrorCode::from_i16(resp.error_code) {
        ErrorCode::None => {}
        ErrorCode::UnsupportedSaslMechanism => {
            return Err(Error::kafka(
                ErrorCode::UnsupportedSaslMechanism,
                Some(format!(
                    "the broker does not enable {}; it offers {}",
                    mech.name(),
                    resp.mechanisms.join(", ")
                )),
            ));
        }
        code => return Err(Error::kafka(code, Some("SaslHandshake failed".into()))),
    }
    let mut session = mech.start()?;
    let mut server: Option<bytes::Bytes> = None;
    let mut lifetime_ms = 0i64;
    for _ in 0..32 {
        let Some(out) = session.step(server.as_deref())? else {
            let reauth = (lifetime_ms > 0).then(|| {
                let frac = 0.85 + 0.1 * fastrand::f64();
                Instant::now() + Duration::from_millis((lifetime_ms as f64 * frac) as u64)
            });
            return Ok(reauth);
        };
        let resp = bc
            .send_opts(
                &SaslAuthenticateRequest {
                    auth_bytes: out.into(),
                    ..Default::default()
                },
                None,
                timeout,
            )
            .await?;
        let code = ErrorCode::from_i16(resp.error_code);
        if !code.is_ok() {
            // keep the broker's code so callers can tell bad credentials from other failures
            return Err(Error::kafka(
                code,
                Some(format!(
                    "authentication with {} failed{}",
                    mech.name(),
                    resp.error_message
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                )),
            ));
        }
        lifetime_ms = resp.session_lifetime_ms;
        server = Some(resp.auth_bytes);
    }
    Err(Error::Sasl(format!(
        "{} did not finish within 32 rounds",
        mech.name()
    )))
}

/// Connection state for one broker (or bootstrap address): the current connection, and the
/// reconnect backoff after failures. Concurrent callers share one connection attempt.
pub(crate) struct BrokerSlot {
    pub(crate) node_id: i32,
    addr: Mutex<HostPort>,
    state: tokio::sync::Mutex<SlotState>,
    current: Mutex<Option<BrokerConnection>>,
}

#[derive(Default)]
struct SlotState {
    failures: u32,
    next_attempt: Option<Instant>,
    last_error: Option<Error>,
}

impl fmt::Debug for BrokerSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BrokerSlot")
            .field("node_id", &self.node_id)
            .field("addr", &self.addr())
            .finish()
    }
}

impl BrokerSlot {
    pub(crate) fn new(node_id: i32, addr: HostPort) -> Self {
        BrokerSlot {
            node_id,
            addr: Mutex::new(addr),
            state: tokio::sync::Mutex::new(SlotState::default()),
            current: Mutex::new(None),
        }
    }

    pub(crate) fn addr(&self) -> HostPort {
        self.addr
            .lock()
            .map(|a| a.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Moves the slot to a new address (the broker re-registered elsewhere).
    pub(crate) fn set_addr(&self, addr: HostPort) {
        if let Ok(mut a) = self.addr.lock()
            && *a != addr
        {
            *a = addr;
            if let Ok(mut c) = self.current.lock() {
                *c = None;
            }
        }
    }

    /// The live connection, if any, without connecting.
    pub(crate) fn live(&self) -> Option<BrokerConnection> {
        let c = self.current.lock().ok()?;
        c.as_ref()
            .filter(|c| !c.is_closed() && !c.needs_reauth())
            .cloned()
    }

    /// Whether a connection attempt would have to wait for the backoff.
    /// The text of the last connection error, if the slot has one (for error messages).
    pub(crate) fn last_error_text(&self) -> Option<String> {
        self.state
            .try_lock()
            .ok()
            .and_then(|s| s.last_error.as_ref().map(ToString::to_string))
    }

    pub(crate) fn in_backoff(&self) -> bool {
        self.state
            .try_lock()
            .map(|s| s.next_attempt.is_some_and(|t| t > Instant::now()))
            .unwrap_or(false)
    }

    /// The live connection, or a new one (after the remaining backoff, if any).
    ///
    /// Fails immediately with the last connection error when the backoff would end after
    /// `deadline`.
    pub(crate) async fn get(
        &self,
        cfg: &ClientConfig,
        dialer: &Dialer,
        deadline: Deadline,
    ) -> Result<BrokerConnection> {
        if let Some(c) = self.live() {
            return Ok(c);
        }
        let timeout_err = |last: Option<Error>| Error::Timeout {
            what: format!("connecting to broker {} at {}", self.node_id, self.addr()),
            timeout: deadline.timeout(),
            last: last.map(Box::new),
        };
        let mut st = match tokio::time::timeout_at(deadline.instant(), self.state.lock()).await {
            Ok(st) => st,
            Err(_) => return Err(timeout_err(None)),
        };
        if let Some(c) = self.live() {
            return Ok(c); // someone else connected while we waited
        }
        if let Some(t) = st.next_attempt
            && t > Instant::now()
        {
            if t >= deadline.instant() {
                return Err(st.last_error.clone().unwrap_or_else(|| timeout_err(None)));
            }
            tokio::time::sleep_until(t).await;
        }
        let addr = self.addr();
        let setup = deadline.cap(cfg.socket_connection_setup_timeout);
        let attempt = async {
            let io = dialer(addr.clone()).await?;
            BrokerConnection::handshake(io, self.node_id, addr.clone(), cfg).await
        };
        let result = match tokio::time::timeout(setup, attempt).await {
            Ok(r) => r,
            Err(_) => Err(Error::Connect {
                addr: addr.to_string(),
                message: format!("connection setup did not finish within {setup:?}"),
            }),
        };
        match result {
            Ok(c) => {
                st.failures = 0;
                st.next_attempt = None;
                st.last_error = None;
                if let Ok(mut cur) = self.current.lock() {
                    *cur = Some(c.clone());
                }
                tracing::debug!(broker = self.node_id, %addr, "connected");
                Ok(c)
            }
            Err(e) => {
                let backoff = Backoff::new(cfg.reconnect_backoff, cfg.reconnect_backoff_max);
                let delay = backoff.delay(st.failures);
                st.failures = st.failures.saturating_add(1);
                st.next_attempt = Some(Instant::now() + delay);
                st.last_error = Some(e.clone());
                tracing::debug!(broker = self.node_id, %addr, error = %e, ?delay, "connection failed");
                Err(e)
            }
        }
    }

    /// Drops the slot's handle on its connection without closing it: requests in flight
    /// finish, and the connection task ends when the last handle goes.
    pub(crate) fn release(&self) {
        if let Ok(mut c) = self.current.lock() {
            c.take();
        }
    }

    /// Closes the live connection, if any.
    pub(crate) fn close(&self) {
        if let Ok(mut c) = self.current.lock()
            && let Some(c) = c.take()
        {
            c.connection().close();
        }
    }
}

#[cfg(test)]
impl BrokerConnection {
    pub(crate) fn for_tests(conn: Connection, versions: ApiVersions) -> BrokerConnection {
        BrokerConnection {
            conn,
            versions: Arc::new(versions),
            node_id: 1,
            addr: HostPort {
                host: "test".into(),
                port: 1,
            },
            reauth_at: None,
        }
    }
}

#[cfg(test)]
pub(crate) async fn authenticate_for_tests(
    bc: &BrokerConnection,
    mech: &dyn crate::sasl::SaslMechanism,
) -> Result<Option<Instant>> {
    authenticate(bc, mech, Duration::from_secs(5)).await
}
