//! Client configuration: a typed builder, and [`ClientConfig::from_properties`] accepting the
//! Java client's property names.
//!
//! Role configurations (producer, consumer, admin) embed [`ClientConfig`]: they read their own
//! keys from a [`Properties`], hand the same `Properties` to [`ClientConfig::take_from`], and
//! finally call [`Properties::finish`], which reports any key nobody consumed.
//!
//! ```
//! use kafka_client::config::{ClientConfig, Properties};
//!
//! // A role config consumes its own keys, then lets ClientConfig take the common ones.
//! let mut props = Properties::new([
//!     ("bootstrap.servers", "localhost:9092"),
//!     ("acks", "all"),
//!     ("request.timeout.ms", "5000"),
//! ]);
//! let acks = props.take("acks");
//! let client = ClientConfig::take_from(&mut props).unwrap();
//! props.finish().unwrap();
//! assert_eq!(acks.as_deref(), Some("all"));
//! assert_eq!(client.request_timeout.as_millis(), 5000);
//!
//! // Unknown keys are errors that name the key.
//! let err = ClientConfig::from_properties([("bootstrap.servers", "h:1"), ("linger.msx", "5")]).unwrap_err();
//! assert!(err.to_string().contains("linger.msx"));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::sasl::SaslConfig;
use crate::tls::TlsConfig;

/// How connections to brokers are secured (`security.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecurityProtocol {
    /// Plain TCP.
    #[default]
    Plaintext,
    /// TLS.
    Ssl,
    /// SASL over plain TCP.
    SaslPlaintext,
    /// SASL over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Whether connections use TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether connections authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl FromStr for SecurityProtocol {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Ok(SecurityProtocol::Plaintext),
            "SSL" => Ok(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Ok(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Ok(SecurityProtocol::SaslSsl),
            other => Err(format!(
                "expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, got {other:?}"
            )),
        }
    }
}

/// A broker address from `bootstrap.servers`: a host name or IP literal and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl FromStr for HostPort {
    type Err = String;
    /// Parses `host:port`, `[v6]:port` or a bare IPv6 literal with a port after the last colon.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        let s = s
            .strip_prefix("PLAINTEXT://")
            .or_else(|| s.strip_prefix("SSL://"))
            .or_else(|| s.strip_prefix("SASL_PLAINTEXT://"))
            .or_else(|| s.strip_prefix("SASL_SSL://"))
            .unwrap_or(s);
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (h, p) = rest
                .split_once("]:")
                .ok_or_else(|| format!("{s:?} is not [host]:port"))?;
            (h, p)
        } else {
            s.rsplit_once(':')
                .ok_or_else(|| format!("{s:?} has no port (expected host:port)"))?
        };
        if host.is_empty() {
            return Err(format!("{s:?} has no host"));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("{s:?} has an invalid port"))?;
        Ok(HostPort {
            host: host.to_string(),
            port,
        })
    }
}

/// Settings shared by every client role. Build with [`ClientConfig::builder`] or
/// [`ClientConfig::from_properties`].
///
/// Defaults follow the Java client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// `bootstrap.servers`: brokers tried in order to fetch the first metadata.
    pub bootstrap_servers: Vec<HostPort>,
    /// `client.id`: sent in every request header.
    pub client_id: String,
    /// `client.rack`: the client's rack, for fetching from the closest replica.
    pub client_rack: Option<String>,
    /// `security.protocol`.
    pub security_protocol: SecurityProtocol,
    /// TLS settings, used when the protocol is SSL or SASL_SSL.
    pub tls: TlsConfig,
    /// SASL settings, required when the protocol is SASL_PLAINTEXT or SASL_SSL.
    pub sasl: Option<SaslConfig>,
    /// `request.timeout.ms` (30 s): how long one request waits for its response.
    pub request_timeout: Duration,
    /// `default.api.timeout.ms` (60 s): overall deadline of an operation including retries.
    pub default_api_timeout: Duration,
    /// `retry.backoff.ms` (100 ms): first delay between retries.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms` (1 s): largest delay between retries.
    pub retry_backoff_max: Duration,
    /// `reconnect.backoff.ms` (50 ms): first delay before reconnecting to a broker.
    pub reconnect_backoff: Duration,
    /// `reconnect.backoff.max.ms` (1 s): largest delay before reconnecting.
    pub reconnect_backoff_max: Duration,
    /// `metadata.max.age.ms` (5 min): metadata is refreshed at least this often.
    pub metadata_max_age: Duration,
    /// `socket.connection.setup.timeout.ms` (10 s): TCP connect (per address), TLS handshake,
    /// ApiVersions and SASL must finish within it.
    pub socket_connection_setup_timeout: Duration,
    /// `max.in.flight.requests.per.connection` (5): requests pipelined on one connection.
    pub max_in_flight_requests_per_connection: usize,
    /// `connections.max.idle.ms` (9 min): idle connections are closed after this long.
    pub connections_max_idle: Duration,
    /// `receive.message.max.bytes` (100 MiB): largest response frame accepted.
    pub max_response_size: usize,
    /// `client.software.name`, sent in ApiVersions v3+.
    pub client_software_name: String,
    /// `client.software.version`, sent in ApiVersions v3+.
    pub client_software_version: String,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            bootstrap_servers: Vec::new(),
            client_id: "kafka-rust".into(),
            client_rack: None,
            security_protocol: SecurityProtocol::Plaintext,
            tls: TlsConfig::default(),
            sasl: None,
            request_timeout: Duration::from_secs(30),
            default_api_timeout: Duration::from_secs(60),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(1),
            metadata_max_age: Duration::from_secs(300),
            socket_connection_setup_timeout: Duration::from_secs(10),
            max_in_flight_requests_per_connection: 5,
            connections_max_idle: Duration::from_secs(540),
            max_response_size: kafka_protocol::frame::DEFAULT_MAX_FRAME,
            client_software_name: "kafka-rust".into(),
            client_software_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

impl ClientConfig {
    /// A builder with the defaults.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kafka_client::ClientConfig;
    ///
    /// let cfg = ClientConfig::builder()
    ///     .bootstrap_servers("b1:9092,b2:9092")
    ///     .client_id("orders-service")
    ///     .request_timeout(Duration::from_secs(10))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(cfg.bootstrap_servers.len(), 2);
    /// assert!(ClientConfig::builder().build().is_err()); // no bootstrap servers
    /// ```
    pub fn builder() -> ClientConfigBuilder {
        ClientConfigBuilder {
            cfg: ClientConfig::default(),
            bootstrap: None,
        }
    }

    /// Reads a configuration from Java client property names; unknown keys and malformed
    /// values are errors naming the key.
    ///
    /// ```
    /// use kafka_client::config::{ClientConfig, SecurityProtocol};
    ///
    /// let cfg = ClientConfig::from_properties([
    ///     ("bootstrap.servers", "localhost:9092"),
    ///     ("security.protocol", "SASL_PLAINTEXT"),
    ///     ("sasl.mechanism", "SCRAM-SHA-256"),
    ///     ("sasl.jaas.config", r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="s3cr\"et";"#),
    /// ]).unwrap();
    /// assert_eq!(cfg.security_protocol, SecurityProtocol::SaslPlaintext);
    /// let sasl = cfg.sasl.unwrap();
    /// assert_eq!(sasl.username.as_deref(), Some("alice"));
    /// assert_eq!(sasl.password.as_deref(), Some("s3cr\"et"));
    ///
    /// let err = ClientConfig::from_properties([("bootstrap.servers", "h:1"), ("request.timeout.ms", "soon")]).unwrap_err();
    /// assert!(err.to_string().contains("request.timeout.ms"));
    /// ```
    pub fn from_properties<K, V>(props: impl IntoIterator<Item = (K, V)>) -> Result<ClientConfig>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut p = Properties::new(props);
        let cfg = ClientConfig::take_from(&mut p)?;
        p.finish()?;
        Ok(cfg)
    }

    /// Consumes the client-level keys from `props` (leaving other keys for the caller) and
    /// builds a validated configuration.
    pub fn take_from(p: &mut Properties) -> Result<ClientConfig> {
        let mut c = ClientConfig::default();
        let bootstrap = p
            .take("bootstrap.servers")
            .ok_or_else(|| Error::config("bootstrap.servers", "is required"))?;
        c.bootstrap_servers = parse_bootstrap(&bootstrap)?;
        if let Some(v) = p.take("client.id") {
            c.client_id = v;
        }
        c.client_rack = p.take("client.rack").filter(|s| !s.is_empty());
        if let Some(v) = p.take_parsed::<SecurityProtocol>("security.protocol")? {
            c.security_protocol = v;
        }
        p.take_ms("request.timeout.ms", &mut c.request_timeout)?;
        p.take_ms("default.api.timeout.ms", &mut c.default_api_timeout)?;
        p.take_ms("retry.backoff.ms", &mut c.retry_backoff)?;
        p.take_ms("retry.backoff.max.ms", &mut c.retry_backoff_max)?;
        p.take_ms("reconnect.backoff.ms", &mut c.reconnect_backoff)?;
        p.take_ms("reconnect.backoff.max.ms", &mut c.reconnect_backoff_max)?;
        p.take_ms("metadata.max.age.ms", &mut c.metadata_max_age)?;
        p.take_ms(
            "socket.connection.setup.timeout.ms",
            &mut c.socket_connection_setup_timeout,
        )?;
        // Accepted for compatibility; the per-attempt timeout above is what we apply.
        let _ = p.take_parsed::<u64>("socket.connection.setup.timeout.max.ms")?;
        p.take_ms("connections.max.idle.ms", &mut c.connections_max_idle)?;
        if let Some(v) = p.take_parsed::<usize>("max.in.flight.requests.per.connection")? {
            c.max_in_flight_requests_per_connection = v;
        }
        if let Some(v) = p.take_parsed::<usize>("receive.message.max.bytes")? {
            c.max_response_size = v;
        }
        if let Some(v) = p.take("client.software.name") {
            c.client_software_name = v;
        }
        if let Some(v) = p.take("client.software.version") {
            c.client_software_version = v;
        }
        if let Some(v) = p.take("client.dns.lookup")
            && v != "use_all_dns_ips"
        {
            return Err(Error::config(
                "client.dns.lookup",
                format!("only use_all_dns_ips is supported, got {v:?}"),
            ));
        }

        // TLS.
        let ca = p.take("ssl.ca.location");
        let truststore = p.take("ssl.truststore.location");
        if let Some(t) = &truststore {
            let lower = t.to_ascii_lowercase();
            if lower.ends_with(".jks") || lower.ends_with(".p12") || lower.ends_with(".pfx") {
                return Err(Error::config(
                    "ssl.truststore.location",
                    "JKS/PKCS12 trust stores are not supported; give a PEM file (or use ssl.ca.location)",
                ));
            }
        }
        if let Some(t) = p.take("ssl.truststore.type")
            && !t.eq_ignore_ascii_case("PEM")
        {
            return Err(Error::config(
                "ssl.truststore.type",
                format!("only PEM is supported, got {t:?}"),
            ));
        }
        c.tls.ca_file = ca.or(truststore).map(PathBuf::from);
        c.tls.cert_file = p.take("ssl.certificate.location").map(PathBuf::from);
        c.tls.key_file = p.take("ssl.key.location").map(PathBuf::from);
        if let Some(alg) = p.take("ssl.endpoint.identification.algorithm") {
            c.tls.verify_hostname = match alg.trim().to_ascii_lowercase().as_str() {
                "https" => true,
                "" | "none" => false,
                other => {
                    return Err(Error::config(
                        "ssl.endpoint.identification.algorithm",
                        format!("expected https or an empty value, got {other:?}"),
                    ));
                }
            };
        }

        // SASL.
        let mechanism = p.take("sasl.mechanism");
        let jaas = p.take("sasl.jaas.config");
        let mut username = p.take("sasl.username");
        let mut password = p.take("sasl.password");
        if let Some(j) = &jaas {
            let (u, pw) = parse_jaas(j).map_err(|m| Error::config("sasl.jaas.config", m))?;
            username = username.or(u);
            password = password.or(pw);
        }
        if c.security_protocol.uses_sasl() {
            let mechanism = mechanism.unwrap_or_else(|| "GSSAPI".into());
            let upper = mechanism.to_ascii_uppercase();
            if !matches!(
                upper.as_str(),
                "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" | "OAUTHBEARER"
            ) {
                return Err(Error::config(
                    "sasl.mechanism",
                    format!(
                        "{mechanism} is not supported; use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER"
                    ),
                ));
            }
            c.sasl = Some(SaslConfig {
                mechanism: upper,
                username,
                password,
                ..Default::default()
            });
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks values and combinations; [`ClientConfigBuilder::build`] and
    /// [`crate::Client::connect`] call it.
    pub fn validate(&self) -> Result<()> {
        if self.bootstrap_servers.is_empty() {
            return Err(Error::config(
                "bootstrap.servers",
                "at least one host:port is required",
            ));
        }
        if self.max_in_flight_requests_per_connection == 0 {
            return Err(Error::config(
                "max.in.flight.requests.per.connection",
                "must be at least 1",
            ));
        }
        for (key, d) in [
            ("request.timeout.ms", self.request_timeout),
            ("default.api.timeout.ms", self.default_api_timeout),
            (
                "socket.connection.setup.timeout.ms",
                self.socket_connection_setup_timeout,
            ),
        ] {
            if d.is_zero() {
                return Err(Error::config(key, "must be positive"));
            }
        }
        if self.security_protocol.uses_sasl() && self.sasl.is_none() {
            return Err(Error::config(
                "sasl.mechanism",
                "security.protocol uses SASL but no SASL settings are given",
            ));
        }
        if !self.security_protocol.uses_sasl() && self.sasl.is_some() {
            return Err(Error::config(
                "security.protocol",
                "SASL settings are given but security.protocol is not SASL_PLAINTEXT or SASL_SSL",
            ));
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return Err(Error::config(
                "ssl.key.location",
                "a client certificate needs both ssl.certificate.location and ssl.key.location",
            ));
        }
        Ok(())
    }
}

fn parse_bootstrap(s: &str) -> Result<Vec<HostPort>> {
    let v = s
        .split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(|x| {
            x.parse::<HostPort>()
                .map_err(|m| Error::config("bootstrap.servers", m))
        })
        .collect::<Result<Vec<_>>>()?;
    if v.is_empty() {
        return Err(Error::config(
            "bootstrap.servers",
            "at least one host:port is required",
        ));
    }
    Ok(v)
}

/// Reads `username` and `password` out of a JAAS line such as
/// `org.apache.kafka.common.security.plain.PlainLoginModule required username="a" password="b";`.
fn parse_jaas(s: &str) -> std::result::Result<(Option<String>, Option<String>), String> {
    let s = s.trim();
    let s = s.strip_suffix(';').unwrap_or(s).trim_end();
    let mut words = s.splitn(3, char::is_whitespace);
    let module = words.next().unwrap_or_default();
    if !(module.ends_with("PlainLoginModule")
        || module.ends_with("ScramLoginModule")
        || module.ends_with("OAuthBearerLoginModule"))
    {
        return Err(format!(
            "login module {module:?} is not supported (PlainLoginModule, ScramLoginModule, OAuthBearerLoginModule)"
        ));
    }
    let flag = words.next().unwrap_or_default();
    if !matches!(flag, "required" | "requisite" | "sufficient" | "optional") {
        return Err(format!(
            "expected a control flag after the module, got {flag:?}"
        ));
    }
    let mut rest = words.next().unwrap_or_default().chars().peekable();
    let (mut user, mut pass) = (None, None);
    loop {
        while rest.peek().is_some_and(|c| c.is_whitespace()) {
            rest.next();
        }
        if rest.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = rest.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            rest.next();
        }
        if rest.next() != Some('=') {
            return Err(format!("expected key=value after {key:?}"));
        }
        let mut value = String::new();
        if rest.peek() == Some(&'"') {
            rest.next();
            loop {
                match rest.next() {
                    Some('\\') => match rest.next() {
                        Some(c) => value.push(c),
                        None => return Err("unterminated escape".into()),
                    },
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => return Err(format!("unterminated quoted value for {key:?}")),
                }
            }
        } else {
            while let Some(&c) = rest.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(c);
                rest.next();
            }
        }
        match key.as_str() {
            "username" => user = Some(value),
            "password" => pass = Some(value),
            _ => {}
        }
    }
    Ok((user, pass))
}

/// A builder for [`ClientConfig`]; `build` validates.
#[derive(Debug, Clone)]
pub struct ClientConfigBuilder {
    cfg: ClientConfig,
    bootstrap: Option<String>,
}

macro_rules! setters {
    ($($(#[$m:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$m])*
            pub fn $name(mut self, v: $ty) -> Self {
                self.cfg.$name = v;
                self
            }
        )*
    };
}

impl ClientConfigBuilder {
    /// `bootstrap.servers` as a comma-separated list of `host:port`.
    pub fn bootstrap_servers(mut self, servers: impl Into<String>) -> Self {
        self.bootstrap = Some(servers.into());
        self
    }

    /// `client.id`.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.cfg.client_id = id.into();
        self
    }

    /// `client.rack`.
    pub fn client_rack(mut self, rack: impl Into<String>) -> Self {
        self.cfg.client_rack = Some(rack.into());
        self
    }

    /// SASL settings (also pass a SASL `security_protocol`).
    pub fn sasl(mut self, sasl: SaslConfig) -> Self {
        self.cfg.sasl = Some(sasl);
        self
    }

    setters! {
        /// `security.protocol`.
        security_protocol: SecurityProtocol;
        /// TLS settings.
        tls: TlsConfig;
        /// `request.timeout.ms`.
        request_timeout: Duration;
        /// `default.api.timeout.ms`.
        default_api_timeout: Duration;
        /// `retry.backoff.ms`.
        retry_backoff: Duration;
        /// `retry.backoff.max.ms`.
        retry_backoff_max: Duration;
        /// `reconnect.backoff.ms`.
        reconnect_backoff: Duration;
        /// `reconnect.backoff.max.ms`.
        reconnect_backoff_max: Duration;
        /// `metadata.max.age.ms`.
        metadata_max_age: Duration;
        /// `socket.connection.setup.timeout.ms`.
        socket_connection_setup_timeout: Duration;
        /// `max.in.flight.requests.per.connection`.
        max_in_flight_requests_per_connection: usize;
        /// `connections.max.idle.ms`.
        connections_max_idle: Duration;
        /// Largest response frame accepted.
        max_response_size: usize;
    }

    /// Validates and returns the configuration.
    pub fn build(mut self) -> Result<ClientConfig> {
        if let Some(b) = &self.bootstrap {
            self.cfg.bootstrap_servers = parse_bootstrap(b)?;
        }
        self.cfg.validate()?;
        Ok(self.cfg)
    }
}

/// A set of `key = value` properties that remembers which keys were consumed, so several
/// configuration layers can each take their keys and unknown keys are reported once at the end.
#[derive(Debug, Clone, Default)]
pub struct Properties {
    map: BTreeMap<String, String>,
    consumed: BTreeSet<String>,
}

impl Properties {
    /// Properties from pairs (a later duplicate key wins). Keys are trimmed.
    pub fn new<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Properties {
        Properties {
            map: pairs
                .into_iter()
                .map(|(k, v)| (k.into().trim().to_string(), v.into()))
                .collect(),
            consumed: BTreeSet::new(),
        }
    }

    /// Takes a key's raw value (trimmed), marking it consumed.
    pub fn take(&mut self, key: &str) -> Option<String> {
        let v = self.map.remove(key)?;
        self.consumed.insert(key.to_string());
        Some(v.trim().to_string())
    }

    /// Takes and parses a key; a value that does not parse is an error naming the key.
    pub fn take_parsed<T>(&mut self, key: &str) -> Result<Option<T>>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.take(key) {
            None => Ok(None),
            Some(v) => v
                .parse::<T>()
                .map(Some)
                .map_err(|e| Error::config(key, format!("cannot parse {v:?}: {e}"))),
        }
    }

    /// Takes a millisecond value into `out` (left unchanged when absent).
    pub fn take_ms(&mut self, key: &str, out: &mut Duration) -> Result<()> {
        if let Some(ms) = self.take_parsed::<u64>(key)? {
            *out = Duration::from_millis(ms);
        }
        Ok(())
    }

    /// Takes a boolean (`true`/`false`, any case).
    pub fn take_bool(&mut self, key: &str) -> Result<Option<bool>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => match v.to_ascii_lowercase().as_str() {
                "true" => Ok(Some(true)),
                "false" => Ok(Some(false)),
                _ => Err(Error::config(
                    key,
                    format!("expected true or false, got {v:?}"),
                )),
            },
        }
    }

    /// Whether a key was consumed by someone.
    pub fn was_consumed(&self, key: &str) -> bool {
        self.consumed.contains(key)
    }

    /// Keys nobody consumed yet.
    pub fn remaining(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// Fails with an error naming the first unconsumed key, if any.
    pub fn finish(self) -> Result<()> {
        match self.map.keys().next() {
            None => Ok(()),
            Some(k) => Err(Error::config(k.clone(), "unknown configuration key")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn java_names_and_defaults() {
        let c = ClientConfig::from_properties([
            ("bootstrap.servers", " a:1, [::1]:2 ,PLAINTEXT://c:3"),
            ("client.id", "me"),
            ("client.rack", "r1"),
            ("retry.backoff.ms", "7"),
            ("retry.backoff.max.ms", "70"),
            ("reconnect.backoff.ms", "8"),
            ("reconnect.backoff.max.ms", "80"),
            ("metadata.max.age.ms", "1000"),
            ("socket.connection.setup.timeout.ms", "999"),
            ("max.in.flight.requests.per.connection", "9"),
            ("connections.max.idle.ms", "5000"),
            ("default.api.timeout.ms", "4000"),
        ])
        .unwrap();
        assert_eq!(
            c.bootstrap_servers,
            vec![
                HostPort {
                    host: "a".into(),
                    port: 1
                },
                HostPort {
                    host: "::1".into(),
                    port: 2
                },
                HostPort {
                    host: "c".into(),
                    port: 3
                },
            ]
        );
        assert_eq!(c.bootstrap_servers[1].to_string(), "[::1]:2");
        assert_eq!(c.client_id, "me");
        assert_eq!(c.client_rack.as_deref(), Some("r1"));
        assert_eq!(c.retry_backoff, Duration::from_millis(7));
        assert_eq!(c.retry_backoff_max, Duration::from_millis(70));
        assert_eq!(c.reconnect_backoff, Duration::from_millis(8));
        assert_eq!(c.reconnect_backoff_max, Duration::from_millis(80));
        assert_eq!(c.metadata_max_age, Duration::from_secs(1));
        assert_eq!(
            c.socket_connection_setup_timeout,
            Duration::from_millis(999)
        );
        assert_eq!(c.max_in_flight_requests_per_connection, 9);
        assert_eq!(c.connections_max_idle, Duration::from_secs(5));
        assert_eq!(c.default_api_timeout, Duration::from_secs(4));
        assert_eq!(c.request_timeout, Duration::from_secs(30));
    }

    #[test]
    fn errors_name_the_key() {
        for (k, v) in [
            ("bootstrap.servers", "nohost"),
            ("security.protocol", "TLS"),
            ("max.in.flight.requests.per.connection", "0"),
            ("metadata.max.age.ms", "-1"),
            ("ssl.truststore.location", "/x/store.jks"),
            ("ssl.endpoint.identification.algorithm", "dns"),
        ] {
            let mut props = vec![("bootstrap.servers", "h:1")];
            if k == "bootstrap.servers" {
                props.clear();
            }
            props.push((k, v));
            let e = ClientConfig::from_properties(props).unwrap_err();
            assert!(
                matches!(&e, Error::Config { key, .. } if key == k),
                "{k}: {e}"
            );
        }
        let e = ClientConfig::from_properties([("client.id", "x")]).unwrap_err();
        assert!(e.to_string().contains("bootstrap.servers"));
        let e = ClientConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("security.protocol", "SASL_SSL"),
        ])
        .unwrap_err();
        assert!(
            matches!(&e, Error::Config { key, .. } if key == "sasl.mechanism"),
            "{e}"
        );
    }

    #[test]
    fn tls_and_sasl_keys() {
        let c = ClientConfig::from_properties([
            ("bootstrap.servers", "h:1"),
            ("security.protocol", "sasl_ssl"),
            ("sasl.mechanism", "PLAIN"),
            (
                "sasl.jaas.config",
                "org.apache.kafka.common.security.plain.PlainLoginModule required username=bob password=\"p w\";",
            ),
            ("ssl.ca.location", "/ca.pem"),
            ("ssl.certificate.location", "/c.pem"),
            ("ssl.key.location", "/k.pem"),
            ("ssl.endpoint.identification.algorithm", ""),
        ])
        .unwrap();
        assert!(c.security_protocol.uses_tls());
        assert_eq!(
            c.tls.ca_file.as_deref(),
            Some(std::path::Path::new("/ca.pem"))
        );
        assert!(!c.tls.verify_hostname);
        let s = c.sasl.unwrap();
        assert_eq!(s.mechanism, "PLAIN");
        assert_eq!(s.username.as_deref(), Some("bob"));
        assert_eq!(s.password.as_deref(), Some("p w"));
    }

    #[test]
    fn jaas_errors() {
        assert!(parse_jaas("com.example.Krb5LoginModule required;").is_err());
        assert!(parse_jaas("x.PlainLoginModule maybe username=a;").is_err());
        assert!(parse_jaas("x.PlainLoginModule required username=\"a;").is_err());
        assert_eq!(
            parse_jaas("x.ScramLoginModule required\n  username=\"a\"\n  password=\"b\";").unwrap(),
            (Some("a".into()), Some("b".into()))
        );
    }

    #[test]
    fn properties_track_consumption() {
        let mut p = Properties::new([("a", "1"), ("b", "x")]);
        assert_eq!(p.take_parsed::<u32>("a").unwrap(), Some(1));
        assert!(p.was_consumed("a"));
        assert_eq!(p.remaining().collect::<Vec<_>>(), vec!["b"]);
        assert!(matches!(p.finish(), Err(Error::Config { key, .. }) if key == "b"));
    }
}
