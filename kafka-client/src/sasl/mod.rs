//! SASL authentication: PLAIN ([RFC 4616]), SCRAM-SHA-256 and SCRAM-SHA-512 ([RFC 5802],
//! [RFC 7677]) and OAUTHBEARER ([RFC 7628]), as Apache Kafka speaks them.
//!
//! The mechanisms are sans-I/O: a connection sends `SaslHandshake` with
//! [`SaslMechanism::name`], then calls [`SaslSession::step`] with `None` and sends each
//! returned message in a `SaslAuthenticate` request, feeding the response's `auth_bytes` back
//! into `step` until it returns `Ok(None)`. A broker-side failure arrives as a
//! `SaslAuthenticate` error code (`SASL_AUTHENTICATION_FAILED`), which the connection reports;
//! an `Err` from `step` means the server's message was wrong (bad SCRAM signature, …).
//!
//! ```
//! use kafka_client::sasl::{mechanism_from_config, SaslConfig};
//! let cfg = SaslConfig::new("PLAIN").with_credentials("alice", "alice-secret");
//! let mech = mechanism_from_config(&cfg)?;
//! assert_eq!(mech.name(), "PLAIN");
//! let mut session = mech.start()?;
//! let first = session.step(None)?.expect("PLAIN sends one message");
//! assert_eq!(first, b"\0alice\0alice-secret");
//! // … sent in SaslAuthenticate; the broker answers with empty auth_bytes:
//! assert_eq!(session.step(Some(b""))?, None);
//! # Ok::<(), kafka_client::Error>(())
//! ```
//!
//! [RFC 4616]: https://www.rfc-editor.org/rfc/rfc4616
//! [RFC 5802]: https://www.rfc-editor.org/rfc/rfc5802
//! [RFC 7677]: https://www.rfc-editor.org/rfc/rfc7677
//! [RFC 7628]: https://www.rfc-editor.org/rfc/rfc7628

pub mod oauthbearer;
pub mod plain;
pub mod scram;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::Error;

pub use oauthbearer::{OAuthBearer, OAuthToken, OAuthTokenProvider, StaticToken, UnsecuredJws};
pub use plain::Plain;
pub use scram::{Scram, ScramHash};

/// A SASL mechanism with its credentials: starts one [`SaslSession`] per connection.
///
/// ```
/// use kafka_client::sasl::{Plain, SaslMechanism};
/// let m = Plain::new("alice", "secret");
/// assert_eq!(m.name(), "PLAIN");
/// ```
pub trait SaslMechanism: Send + Sync + fmt::Debug {
    /// The mechanism name sent in `SaslHandshake` (`PLAIN`, `SCRAM-SHA-256`, …).
    fn name(&self) -> &str;
    /// Starts an exchange for one connection (OAUTHBEARER fetches its token here).
    fn start(&self) -> Result<Box<dyn SaslSession>, Error>;
}

/// One authentication exchange, client side.
///
/// ```
/// use kafka_client::sasl::{Plain, SaslMechanism};
/// let mut s = Plain::new("alice", "secret").start()?;
/// assert!(s.step(None)?.is_some()); // the client speaks first
/// assert!(s.step(Some(b""))?.is_none()); // done
/// # Ok::<(), kafka_client::Error>(())
/// ```
pub trait SaslSession: Send {
    /// Takes the server's last message (`None` for the first call) and returns the next
    /// message to send, or `Ok(None)` once authentication is complete on the client side
    /// (for SCRAM: after the server's signature has been verified).
    fn step(&mut self, server: Option<&[u8]>) -> Result<Option<Vec<u8>>, Error>;
}

/// SASL settings of a client (`sasl.mechanism`, `sasl.username`, `sasl.password`, …).
/// `Debug` redacts the password.
///
/// ```
/// use kafka_client::sasl::SaslConfig;
/// let cfg = SaslConfig::new("SCRAM-SHA-512").with_credentials("alice", "alice-secret");
/// assert!(!format!("{cfg:?}").contains("alice-secret"));
/// ```
#[derive(Clone, Default)]
pub struct SaslConfig {
    /// Mechanism name: `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512` or `OAUTHBEARER`
    /// (case-insensitive).
    pub mechanism: String,
    /// User name (PLAIN, SCRAM).
    pub username: Option<String>,
    /// Password (PLAIN, SCRAM).
    pub password: Option<String>,
    /// Authorization identity to act as, if different from the user (rarely used with Kafka,
    /// which rejects one that differs from the authenticated user).
    pub authzid: Option<String>,
    /// Extensions: sent in the SCRAM client-first message (Kafka's `tokenauth=true` for
    /// delegation tokens) or as OAUTHBEARER extensions (merged under the token's own).
    pub extensions: BTreeMap<String, String>,
    /// Where OAUTHBEARER tokens come from.
    pub oauth_token_provider: Option<Arc<dyn OAuthTokenProvider>>,
}

impl SaslConfig {
    /// A configuration for `mechanism` with nothing else set.
    ///
    /// ```
    /// assert_eq!(kafka_client::sasl::SaslConfig::new("PLAIN").mechanism, "PLAIN");
    /// ```
    pub fn new(mechanism: impl Into<String>) -> SaslConfig {
        SaslConfig {
            mechanism: mechanism.into(),
            ..SaslConfig::default()
        }
    }

    /// Sets the user name and password.
    ///
    /// ```
    /// let c = kafka_client::sasl::SaslConfig::new("PLAIN").with_credentials("u", "p");
    /// assert_eq!(c.username.as_deref(), Some("u"));
    /// ```
    pub fn with_credentials(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }

    /// Sets the OAUTHBEARER token provider.
    ///
    /// ```
    /// use kafka_client::sasl::{SaslConfig, UnsecuredJws};
    /// use std::sync::Arc;
    /// let c = SaslConfig::new("OAUTHBEARER").with_token_provider(Arc::new(UnsecuredJws::new("alice")));
    /// assert!(c.oauth_token_provider.is_some());
    /// ```
    pub fn with_token_provider(mut self, provider: Arc<dyn OAuthTokenProvider>) -> Self {
        self.oauth_token_provider = Some(provider);
        self
    }
}

impl fmt::Debug for SaslConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslConfig")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("authzid", &self.authzid)
            .field("extensions", &self.extensions.keys().collect::<Vec<_>>())
            .field("oauth_token_provider", &self.oauth_token_provider)
            .finish()
    }
}

/// Builds the mechanism named by `cfg.mechanism`, checking that what it needs is set.
///
/// ```
/// use kafka_client::sasl::{mechanism_from_config, SaslConfig};
/// let m = mechanism_from_config(&SaslConfig::new("scram-sha-256").with_credentials("u", "p"))?;
/// assert_eq!(m.name(), "SCRAM-SHA-256");
/// assert!(mechanism_from_config(&SaslConfig::new("GSSAPI")).is_err());
/// # Ok::<(), kafka_client::Error>(())
/// ```
pub fn mechanism_from_config(cfg: &SaslConfig) -> Result<Arc<dyn SaslMechanism>, Error> {
    let name = cfg.mechanism.trim().to_ascii_uppercase();
    let credentials = || -> Result<(String, String), Error> {
        let user = cfg.username.clone().ok_or_else(|| Error::Config {
            key: "sasl.username".into(),
            message: format!("required by SASL mechanism {name}"),
        })?;
        let pass = cfg.password.clone().ok_or_else(|| Error::Config {
            key: "sasl.password".into(),
            message: format!("required by SASL mechanism {name}"),
        })?;
        Ok((user, pass))
    };
    match name.as_str() {
        "PLAIN" => {
            let (u, p) = credentials()?;
            let mut m = Plain::new(u, p);
            m.authzid = cfg.authzid.clone();
            Ok(Arc::new(m))
        }
        "SCRAM-SHA-256" | "SCRAM-SHA-512" => {
            let hash = if name == "SCRAM-SHA-256" {
                ScramHash::Sha256
            } else {
                ScramHash::Sha512
            };
            let (u, p) = credentials()?;
            let mut m = Scram::new(hash, u, p);
            m.authzid = cfg.authzid.clone();
            m.extensions = cfg.extensions.clone();
            scram::check_extensions(&m.extensions)?;
            Ok(Arc::new(m))
        }
        "OAUTHBEARER" => {
            let provider = cfg
                .oauth_token_provider
                .clone()
                .ok_or_else(|| Error::Config {
                    key: "sasl.oauthbearer.token.provider".into(),
                    message: "OAUTHBEARER needs a token provider".into(),
                })?;
            let mut m = OAuthBearer::new(provider);
            m.authzid = cfg.authzid.clone();
            m.extensions = cfg.extensions.clone();
            oauthbearer::check_extensions(&m.extensions)?;
            Ok(Arc::new(m))
        }
        "" => Err(Error::Config {
            key: "sasl.mechanism".into(),
            message: "empty".into(),
        }),
        _ => Err(Error::Config {
            key: "sasl.mechanism".into(),
            message: format!(
                "unsupported mechanism {:?} (supported: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)",
                cfg.mechanism
            ),
        }),
    }
}

/// Fills `buf` from the operating system's random source.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<(), Error> {
    getrandom::getrandom(buf).map_err(|e| Error::Sasl(format!("no randomness for the nonce: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn config_requires_credentials() {
        let e = mechanism_from_config(&SaslConfig::new("PLAIN")).unwrap_err();
        assert!(matches!(e, Error::Config { ref key, .. } if key == "sasl.username"));
        let mut c = SaslConfig::new("SCRAM-SHA-512");
        c.username = Some("u".into());
        let e = mechanism_from_config(&c).unwrap_err();
        assert!(matches!(e, Error::Config { ref key, .. } if key == "sasl.password"));
        let e = mechanism_from_config(&SaslConfig::new("OAUTHBEARER")).unwrap_err();
        assert!(matches!(e, Error::Config { .. }));
        let e = mechanism_from_config(&SaslConfig::new("")).unwrap_err();
        assert!(matches!(e, Error::Config { ref key, .. } if key == "sasl.mechanism"));
    }

    #[test]
    fn names() {
        for (n, want) in [
            ("plain", "PLAIN"),
            ("SCRAM-SHA-256", "SCRAM-SHA-256"),
            ("scram-sha-512", "SCRAM-SHA-512"),
        ] {
            let m = mechanism_from_config(&SaslConfig::new(n).with_credentials("u", "p")).unwrap();
            assert_eq!(m.name(), want);
        }
        let m = mechanism_from_config(
            &SaslConfig::new("OAUTHBEARER").with_token_provider(Arc::new(UnsecuredJws::new("u"))),
        )
        .unwrap();
        assert_eq!(m.name(), "OAUTHBEARER");
    }

    #[test]
    fn bad_extensions_rejected() {
        let mut c =
            SaslConfig::new("OAUTHBEARER").with_token_provider(Arc::new(UnsecuredJws::new("u")));
        c.extensions.insert("auth".into(), "x".into());
        assert!(mechanism_from_config(&c).is_err());
        let mut c = SaslConfig::new("SCRAM-SHA-256").with_credentials("u", "p");
        c.extensions.insert("bad,key".into(), "x".into());
        assert!(mechanism_from_config(&c).is_err());
    }
}
