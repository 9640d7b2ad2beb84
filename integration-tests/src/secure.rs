//! A blocking test connection over TLS and/or SASL, built on `kafka-client`'s [`tls`] and
//! [`sasl`] modules and `kafka-protocol` frames: rustls' `StreamOwned` over a std `TcpStream`,
//! `SaslHandshake` v1 then `SaslAuthenticate` v2, then any request.
//!
//! It exists so that the security slice can be proven against real Apache Kafka before the
//! async client engine lands; it is not the client's connection.
//!
//! ```no_run
//! use integration_tests::secure::SecureConnection;
//! use kafka_client::sasl::{mechanism_from_config, SaslConfig};
//! use kafka_client::tls::TlsConfig;
//! let tls = TlsConfig { ca_file: Some("target/apache-kafka-sec/tls/ca.pem".into()), ..TlsConfig::default() };
//! let mut c = SecureConnection::tls("127.0.0.1:9094", "localhost", &tls).unwrap();
//! let mech = mechanism_from_config(&SaslConfig::new("SCRAM-SHA-512").with_credentials("alice", "alice-secret")).unwrap();
//! c.authenticate(mech.as_ref()).unwrap();
//! ```
//!
//! [`tls`]: kafka_client::tls
//! [`sasl`]: kafka_client::sasl

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_client::sasl::SaslMechanism;
use kafka_client::tls::{TlsConfig, rustls, server_name};
use kafka_protocol::frame::{decode_response, encode_request};
use kafka_protocol::messages::{
    RequestHeader, RequestKind, ResponseKind, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::{ErrorCode, ProtocolError, Request};

/// What can go wrong on a secured test connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecureError {
    /// Socket failure, including a failed TLS handshake (rustls errors arrive as
    /// `io::ErrorKind::InvalidData`).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Encoding or decoding failed.
    #[error("protocol: {0}")]
    Protocol(#[from] ProtocolError),
    /// TLS or SASL configuration, or a SASL exchange the client rejected.
    #[error("client: {0}")]
    Client(#[from] kafka_client::Error),
    /// The broker refused the mechanism in `SaslHandshake`.
    #[error("SaslHandshake: {code} (broker offers {offered:?})")]
    Handshake {
        /// The error code.
        code: ErrorCode,
        /// The mechanisms the broker has enabled.
        offered: Vec<String>,
    },
    /// The broker failed `SaslAuthenticate`.
    #[error("SaslAuthenticate: {code}: {message}")]
    Authenticate {
        /// The error code (`SASL_AUTHENTICATION_FAILED` for bad credentials).
        code: ErrorCode,
        /// The broker's message.
        message: String,
    },
    /// A response did not match the request.
    #[error("unexpected response: {0}")]
    Unexpected(String),
}

trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

/// One blocking connection, plaintext or TLS, optionally SASL-authenticated.
pub struct SecureConnection {
    stream: Box<dyn Stream>,
    correlation: i32,
    /// The negotiated TLS protocol version, for TLS connections.
    pub tls_version: Option<rustls::ProtocolVersion>,
    /// The negotiated TLS cipher suite, for TLS connections.
    pub tls_suite: Option<rustls::CipherSuite>,
}

impl std::fmt::Debug for SecureConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureConnection")
            .field("correlation", &self.correlation)
            .field("tls_version", &self.tls_version)
            .field("tls_suite", &self.tls_suite)
            .finish()
    }
}

fn tcp(addr: &str) -> Result<TcpStream, SecureError> {
    let s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.set_write_timeout(Some(Duration::from_secs(30)))?;
    s.set_nodelay(true)?;
    Ok(s)
}

impl SecureConnection {
    /// A plain TCP connection (for `SASL_PLAINTEXT`).
    pub fn plaintext(addr: &str) -> Result<SecureConnection, SecureError> {
        Ok(SecureConnection {
            stream: Box::new(tcp(addr)?),
            correlation: 0,
            tls_version: None,
            tls_suite: None,
        })
    }

    /// A TLS connection to `addr`, verifying the certificate against `host` (unless
    /// `cfg.verify_hostname` is off). The handshake completes before this returns.
    pub fn tls(addr: &str, host: &str, cfg: &TlsConfig) -> Result<SecureConnection, SecureError> {
        let config = cfg.client_config()?;
        let mut conn = rustls::ClientConnection::new(config, server_name(host)?)
            .map_err(|e| SecureError::Unexpected(format!("rustls: {e}")))?;
        let mut sock = tcp(addr)?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)?;
        }
        let tls_version = conn.protocol_version();
        let tls_suite = conn.negotiated_cipher_suite().map(|s| s.suite());
        Ok(SecureConnection {
            stream: Box::new(rustls::StreamOwned::new(conn, sock)),
            correlation: 0,
            tls_version,
            tls_suite,
        })
    }

    /// Runs `SaslHandshake` v1 and `SaslAuthenticate` v2 rounds until `mech`'s session is
    /// done; broker errors become [`SecureError::Handshake`] / [`SecureError::Authenticate`].
    pub fn authenticate(&mut self, mech: &dyn SaslMechanism) -> Result<(), SecureError> {
        let hs = self.send(
            SaslHandshakeRequest {
                mechanism: mech.name().to_string(),
            },
            1,
        )?;
        let code = ErrorCode::from_i16(hs.error_code);
        if !code.is_ok() {
            return Err(SecureError::Handshake {
                code,
                offered: hs.mechanisms,
            });
        }
        let mut session = mech.start()?;
        let mut server: Option<Bytes> = None;
        while let Some(out) = session.step(server.as_deref())? {
            let r = self.send(
                SaslAuthenticateRequest {
                    auth_bytes: Bytes::from(out),
                    ..Default::default()
                },
                2,
            )?;
            let code = ErrorCode::from_i16(r.error_code);
            if !code.is_ok() {
                return Err(SecureError::Authenticate {
                    code,
                    message: r.error_message.unwrap_or_default(),
                });
            }
            server = Some(r.auth_bytes);
        }
        Ok(())
    }

    /// Sends a request at `version` and returns its typed response.
    pub fn send<R>(&mut self, req: R, version: i16) -> Result<R::Response, SecureError>
    where
        R: Request + Into<RequestKind>,
        R::Response: TryFrom<ResponseKind, Error = ResponseKind>,
    {
        let resp = self.send_at(req.into(), version)?;
        R::Response::try_from(resp)
            .map_err(|r| SecureError::Unexpected(format!("{:?}", r.api_key())))
    }

    /// Sends any request body at `version` and decodes the response.
    pub fn send_at(
        &mut self,
        body: RequestKind,
        version: i16,
    ) -> Result<ResponseKind, SecureError> {
        self.correlation += 1;
        let api = body.api_key();
        let header = RequestHeader {
            request_api_key: api.key(),
            request_api_version: version,
            correlation_id: self.correlation,
            client_id: Some("kafka-suite-tests".into()),
            ..Default::default()
        };
        let mut out = BytesMut::new();
        encode_request(&mut out, &header, &body)?;
        self.stream.write_all(&out)?;
        self.stream.flush()?;
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size)?;
        let n = i32::from_be_bytes(size);
        if !(0..=256 << 20).contains(&n) {
            return Err(SecureError::Unexpected(format!("frame size {n}")));
        }
        let mut buf = vec![0u8; n as usize];
        self.stream.read_exact(&mut buf)?;
        let (h, resp) = decode_response(Bytes::from(buf), api, version)?;
        if h.correlation_id != self.correlation {
            return Err(SecureError::Unexpected(format!(
                "correlation id {} for request {}",
                h.correlation_id, self.correlation
            )));
        }
        Ok(resp)
    }
}
