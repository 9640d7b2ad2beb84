//! A minimal blocking Kafka connection for tests: frames requests with `kafka-protocol`,
//! negotiates versions with ApiVersions, and reads responses with a timeout.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::frame::{decode_response, encode_request};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, RequestHeader, RequestKind, ResponseKind,
};
use kafka_protocol::{ProtocolError, Request, VersionRange};

/// What can go wrong on the wire.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// Socket failure (including the broker closing the connection).
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// Encoding or decoding failed.
    #[error("protocol: {0}")]
    Protocol(#[from] ProtocolError),
    /// A response did not match the request.
    #[error("unexpected response: {0}")]
    Unexpected(String),
    /// The broker does not support this API, or no version is common.
    #[error("no common version for {0:?}")]
    NoCommonVersion(ApiKey),
}

/// One blocking connection to a broker.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    correlation: i32,
    versions: HashMap<i16, VersionRange>,
}

impl Connection {
    /// Connects and negotiates versions with ApiVersions (highest version both sides know).
    pub fn connect(addr: &str) -> Result<Connection, WireError> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        let mut c = Connection {
            stream,
            correlation: 0,
            versions: HashMap::new(),
        };
        let v = ApiKey::ApiVersions.versions().max;
        let req = ApiVersionsRequest {
            client_software_name: "kafka-suite-tests".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        };
        // A broker that does not know our ApiVersions version answers UNSUPPORTED_VERSION in
        // the v0 layout, listing what it supports; then ask again at its highest version.
        let frame = c.send_frame(RequestKind::from(req.clone()), v)?;
        let r = match decode_response(frame.clone(), ApiKey::ApiVersions, v) {
            Ok((_, ResponseKind::ApiVersions(r))) if r.error_code == 0 => r,
            _ => {
                let (_, old) = decode_response(frame, ApiKey::ApiVersions, 0)?;
                let ResponseKind::ApiVersions(old) = old else {
                    return Err(WireError::Unexpected("ApiVersions".into()));
                };
                let theirs = old
                    .api_keys
                    .iter()
                    .find(|k| k.api_key == ApiKey::ApiVersions.key())
                    .map(|k| k.max_version.min(v))
                    .unwrap_or(0);
                match c.send_at(req.into(), theirs)? {
                    ResponseKind::ApiVersions(r) => r,
                    _ => return Err(WireError::Unexpected("ApiVersions".into())),
                }
            }
        };
        for k in r.api_keys {
            c.versions.insert(
                k.api_key,
                VersionRange {
                    min: k.min_version,
                    max: k.max_version,
                },
            );
        }
        Ok(c)
    }

    /// The versions the broker advertised, by API key.
    pub fn broker_versions(&self) -> &HashMap<i16, VersionRange> {
        &self.versions
    }

    /// The highest version of `api` both sides support.
    pub fn negotiated(&self, api: ApiKey) -> Option<i16> {
        self.versions
            .get(&api.key())?
            .intersect(&api.versions())
            .map(|r| r.max)
    }

    /// The versions of `api` both sides support.
    pub fn common_range(&self, api: ApiKey) -> Option<VersionRange> {
        self.versions.get(&api.key())?.intersect(&api.versions())
    }

    /// Sends a request at the negotiated version and returns its typed response.
    pub fn send<R>(&mut self, req: R) -> Result<R::Response, WireError>
    where
        R: Request + Into<RequestKind>,
        R::Response: TryFrom<ResponseKind, Error = ResponseKind>,
    {
        let v = self
            .negotiated(R::API_KEY)
            .ok_or(WireError::NoCommonVersion(R::API_KEY))?;
        self.send_typed(req, v)
    }

    /// Sends a request at `version` and returns its typed response.
    pub fn send_typed<R>(&mut self, req: R, version: i16) -> Result<R::Response, WireError>
    where
        R: Request + Into<RequestKind>,
        R::Response: TryFrom<ResponseKind, Error = ResponseKind>,
    {
        let resp = self.send_at(req.into(), version)?;
        R::Response::try_from(resp).map_err(|r| WireError::Unexpected(format!("{:?}", r.api_key())))
    }

    /// Sends any request body at `version` and decodes the response.
    pub fn send_at(&mut self, body: RequestKind, version: i16) -> Result<ResponseKind, WireError> {
        let api = body.api_key();
        let frame = self.send_frame(body, version)?;
        let (h, resp) = decode_response(frame, api, version)?;
        if h.correlation_id != self.correlation {
            return Err(WireError::Unexpected(format!(
                "correlation id {} for request {}",
                h.correlation_id, self.correlation
            )));
        }
        Ok(resp)
    }

    /// Sends a request body at `version` and returns the raw response frame.
    fn send_frame(&mut self, body: RequestKind, version: i16) -> Result<Bytes, WireError> {
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
        self.read_frame()
    }

    fn read_frame(&mut self) -> Result<Bytes, WireError> {
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size)?;
        let n = i32::from_be_bytes(size);
        if !(0..=256 << 20).contains(&n) {
            return Err(WireError::Unexpected(format!("frame size {n}")));
        }
        let mut buf = vec![0u8; n as usize];
        self.stream.read_exact(&mut buf)?;
        Ok(Bytes::from(buf))
    }
}
