//! SASL OAUTHBEARER ([RFC 7628](https://www.rfc-editor.org/rfc/rfc7628)) as Apache Kafka
//! speaks it (KIP-255, extensions from KIP-342).
//!
//! The client sends `n,,\x01auth=Bearer <token>\x01[key=value\x01]*\x01`. The broker answers
//! with empty bytes on success; on failure it sends a JSON error challenge, to which the client
//! answers `\x01` and the broker then fails the `SaslAuthenticate`.
//!
//! Tokens come from an [`OAuthTokenProvider`]: [`StaticToken`] for a token obtained elsewhere,
//! [`UnsecuredJws`] for test brokers that use Kafka's unsecured validator (the counterpart of
//! Kafka's `OAuthBearerUnsecuredLoginCallbackHandler`).
//!
//! ```
//! use kafka_client::sasl::{OAuthBearer, SaslMechanism, StaticToken};
//! use std::sync::Arc;
//! let mech = OAuthBearer::new(Arc::new(StaticToken::new("eyJhbGciOiJub25lIn0.e30.")));
//! let mut s = mech.start()?;
//! assert_eq!(s.step(None)?.unwrap(), b"n,,\x01auth=Bearer eyJhbGciOiJub25lIn0.e30.\x01\x01");
//! assert_eq!(s.step(Some(b""))?, None);
//! # Ok::<(), kafka_client::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;

use super::{SaslMechanism, SaslSession};
use crate::Error;

const SEP: char = '\u{1}';

/// An OAuth 2 bearer token, as Kafka's `OAuthBearerToken`.
///
/// ```
/// let t = kafka_client::sasl::OAuthToken::new("abc.def.");
/// assert_eq!(t.value, "abc.def.");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthToken {
    /// The compact token (typically a JWS), sent after `Bearer `. Redacted from `Debug`.
    pub value: String,
    /// When the token expires, in milliseconds since the Unix epoch (`i64::MAX` if unknown).
    pub lifetime_ms: i64,
    /// The principal the token names (informational on the client side).
    pub principal: String,
    /// SASL extensions to send with this token (KIP-342); they override
    /// [`super::SaslConfig::extensions`] of the same name.
    pub extensions: BTreeMap<String, String>,
}

impl OAuthToken {
    /// A token with no known expiry, principal or extensions.
    ///
    /// ```
    /// assert_eq!(kafka_client::sasl::OAuthToken::new("t").lifetime_ms, i64::MAX);
    /// ```
    pub fn new(value: impl Into<String>) -> OAuthToken {
        OAuthToken {
            value: value.into(),
            lifetime_ms: i64::MAX,
            principal: String::new(),
            extensions: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for OAuthToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthToken")
            .field("value", &"<redacted>")
            .field("lifetime_ms", &self.lifetime_ms)
            .field("principal", &self.principal)
            .field("extensions", &self.extensions)
            .finish()
    }
}

/// Supplies OAUTHBEARER tokens; called once per authentication, so a provider can cache and
/// refresh (Kafka's login callback handler).
///
/// ```
/// use kafka_client::sasl::{OAuthToken, OAuthTokenProvider};
/// #[derive(Debug)]
/// struct FromEnv;
/// impl OAuthTokenProvider for FromEnv {
///     fn token(&self) -> Result<OAuthToken, kafka_client::Error> {
///         std::env::var("KAFKA_TOKEN")
///             .map(OAuthToken::new)
///             .map_err(|e| kafka_client::Error::Sasl(format!("KAFKA_TOKEN: {e}")))
///     }
/// }
/// ```
pub trait OAuthTokenProvider: Send + Sync + fmt::Debug {
    /// A currently valid token.
    fn token(&self) -> Result<OAuthToken, Error>;
}

/// Always returns the same token.
///
/// ```
/// use kafka_client::sasl::{OAuthTokenProvider, StaticToken};
/// assert_eq!(StaticToken::new("t").token()?.value, "t");
/// # Ok::<(), kafka_client::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct StaticToken(pub OAuthToken);

impl StaticToken {
    /// A provider for the token `value`.
    ///
    /// ```
    /// let _ = kafka_client::sasl::StaticToken::new("abc");
    /// ```
    pub fn new(value: impl Into<String>) -> StaticToken {
        StaticToken(OAuthToken::new(value))
    }
}

impl OAuthTokenProvider for StaticToken {
    fn token(&self) -> Result<OAuthToken, Error> {
        Ok(self.0.clone())
    }
}

/// Makes unsecured JWS tokens (`{"alg":"none"}`, no signature) for brokers that use Kafka's
/// `OAuthBearerUnsecuredValidatorCallbackHandler` — test setups only, as Kafka's
/// `OAuthBearerUnsecuredLoginCallbackHandler` (`unsecuredLoginStringClaim_sub`, …).
///
/// ```
/// use kafka_client::sasl::{OAuthTokenProvider, UnsecuredJws};
/// let t = UnsecuredJws::new("alice").token()?;
/// assert!(t.value.starts_with("eyJhbGciOiJub25lIn0.") && t.value.ends_with('.'));
/// assert_eq!(t.principal, "alice");
/// # Ok::<(), kafka_client::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct UnsecuredJws {
    /// The principal, put in the `sub` claim.
    pub principal: String,
    /// How long tokens are valid (Kafka's `unsecuredLoginLifetimeSeconds`, default 3600 s).
    pub lifetime: Duration,
    /// Scopes for the `scope` claim (omitted when empty).
    pub scope: Vec<String>,
    /// Extensions to send with each token (Kafka's `unsecuredLoginExtension_<name>`).
    pub extensions: BTreeMap<String, String>,
}

impl UnsecuredJws {
    /// Tokens for `principal`, valid for an hour.
    ///
    /// ```
    /// assert_eq!(kafka_client::sasl::UnsecuredJws::new("bob").lifetime.as_secs(), 3600);
    /// ```
    pub fn new(principal: impl Into<String>) -> UnsecuredJws {
        UnsecuredJws {
            principal: principal.into(),
            lifetime: Duration::from_secs(3600),
            scope: Vec::new(),
            extensions: BTreeMap::new(),
        }
    }
}

impl OAuthTokenProvider for UnsecuredJws {
    fn token(&self) -> Result<OAuthToken, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| Error::Sasl(format!("clock before 1970: {e}")))?;
        let iat = now.as_secs();
        let exp = iat.saturating_add(self.lifetime.as_secs().max(1));
        let mut claims = serde_json::Map::new();
        claims.insert("iat".into(), iat.into());
        claims.insert("exp".into(), exp.into());
        claims.insert("sub".into(), self.principal.clone().into());
        if !self.scope.is_empty() {
            claims.insert("scope".into(), self.scope.clone().into());
        }
        let header = B64URL.encode(br#"{"alg":"none"}"#);
        let payload = B64URL.encode(serde_json::Value::Object(claims).to_string());
        Ok(OAuthToken {
            value: format!("{header}.{payload}."),
            lifetime_ms: i64::try_from(exp.saturating_mul(1000)).unwrap_or(i64::MAX),
            principal: self.principal.clone(),
            extensions: self.extensions.clone(),
        })
    }
}

/// The OAUTHBEARER mechanism.
///
/// ```
/// use kafka_client::sasl::{OAuthBearer, SaslMechanism, UnsecuredJws};
/// let m = OAuthBearer::new(std::sync::Arc::new(UnsecuredJws::new("alice")));
/// assert_eq!(m.name(), "OAUTHBEARER");
/// ```
#[derive(Debug, Clone)]
pub struct OAuthBearer {
    /// Where tokens come from.
    pub provider: Arc<dyn OAuthTokenProvider>,
    /// Authorization identity for the GS2 header, if any.
    pub authzid: Option<String>,
    /// Extensions sent with every token (the token's own win on conflicts).
    pub extensions: BTreeMap<String, String>,
}

impl OAuthBearer {
    /// OAUTHBEARER with tokens from `provider`.
    ///
    /// ```
    /// use kafka_client::sasl::{OAuthBearer, StaticToken};
    /// let m = OAuthBearer::new(std::sync::Arc::new(StaticToken::new("t")));
    /// assert!(m.extensions.is_empty());
    /// ```
    pub fn new(provider: Arc<dyn OAuthTokenProvider>) -> OAuthBearer {
        OAuthBearer {
            provider,
            authzid: None,
            extensions: BTreeMap::new(),
        }
    }
}

impl SaslMechanism for OAuthBearer {
    fn name(&self) -> &str {
        "OAUTHBEARER"
    }

    fn start(&self) -> Result<Box<dyn SaslSession>, Error> {
        let token = self.provider.token()?;
        let mut extensions = self.extensions.clone();
        extensions.extend(token.extensions.clone());
        Ok(Box::new(OAuthBearerSession {
            first: Some(client_first(
                &token.value,
                self.authzid.as_deref(),
                &extensions,
            )?),
            server_error: None,
            done: false,
        }))
    }
}

/// Builds the RFC 7628 initial client response, checking the token and extensions with
/// Kafka's rules.
fn client_first(
    token: &str,
    authzid: Option<&str>,
    extensions: &BTreeMap<String, String>,
) -> Result<Vec<u8>, Error> {
    let valid_token = {
        let body = token.trim_end_matches('=');
        !body.is_empty()
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
    };
    if !valid_token {
        return Err(Error::Sasl(
            "OAUTHBEARER token is not a valid bearer token (RFC 6750 b64token)".into(),
        ));
    }
    check_extensions(extensions)?;
    let authzid = match authzid {
        Some(a) => format!("a={}", a.replace('=', "=3D").replace(',', "=2C")),
        None => String::new(),
    };
    let mut msg = format!("n,{authzid},{SEP}auth=Bearer {token}");
    for (k, v) in extensions {
        msg.push(SEP);
        msg.push_str(k);
        msg.push('=');
        msg.push_str(v);
    }
    msg.push(SEP);
    msg.push(SEP);
    Ok(msg.into_bytes())
}

/// Kafka's extension rules: names `[A-Za-z]+` other than `auth`, values `[\x21-\x7E \t\r\n]+`.
pub(crate) fn check_extensions(ext: &BTreeMap<String, String>) -> Result<(), Error> {
    for (k, v) in ext {
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphabetic()) || k == "auth" {
            return Err(Error::Config {
                key: "sasl.extensions".into(),
                message: format!("invalid OAUTHBEARER extension name {k:?}"),
            });
        }
        if v.is_empty()
            || !v
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) || b" \t\r\n".contains(&b))
        {
            return Err(Error::Config {
                key: "sasl.extensions".into(),
                message: format!("invalid OAUTHBEARER extension value for {k:?}"),
            });
        }
    }
    Ok(())
}

struct OAuthBearerSession {
    first: Option<Vec<u8>>,
    server_error: Option<String>,
    done: bool,
}

impl SaslSession for OAuthBearerSession {
    fn step(&mut self, server: Option<&[u8]>) -> Result<Option<Vec<u8>>, Error> {
        if let Some(err) = self.server_error.take() {
            return Err(Error::Sasl(format!(
                "OAUTHBEARER rejected by the server: {err}"
            )));
        }
        match (server, self.first.take()) {
            (None, Some(msg)) => Ok(Some(msg)),
            (Some([]), None) if !self.done => {
                self.done = true;
                Ok(None)
            }
            (Some(b), None) if !self.done => {
                // RFC 7628 §3.2.3: the server's error challenge is answered with a single
                // kvsep; the server then fails the exchange.
                self.server_error = Some(String::from_utf8_lossy(b).into_owned());
                Ok(Some(vec![0x01]))
            }
            _ => Err(Error::Sasl("OAUTHBEARER: step called out of order".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn rfc7628_initial_response_and_kafka_extensions() {
        let mut ext = BTreeMap::new();
        ext.insert("traceId".to_string(), "123".to_string());
        ext.insert("logicalCluster".to_string(), "lkc-1".to_string());
        let msg = client_first("vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==", None, &ext).unwrap();
        assert_eq!(
            msg,
            b"n,,\x01auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01logicalCluster=lkc-1\x01traceId=123\x01\x01"
        );
        let msg = client_first("tok", Some("user@example.com"), &BTreeMap::new()).unwrap();
        assert_eq!(msg, b"n,a=user@example.com,\x01auth=Bearer tok\x01\x01");
    }

    #[test]
    fn invalid_tokens_and_extensions() {
        assert!(client_first("", None, &BTreeMap::new()).is_err());
        assert!(client_first("has space", None, &BTreeMap::new()).is_err());
        assert!(client_first("a\x01b", None, &BTreeMap::new()).is_err());
        for (k, v) in [
            ("auth", "x"),
            ("bad1", "x"),
            ("", "x"),
            ("ok", ""),
            ("ok", "\x01"),
        ] {
            let mut ext = BTreeMap::new();
            ext.insert(k.to_string(), v.to_string());
            assert!(client_first("t", None, &ext).is_err(), "{k:?}={v:?}");
        }
    }

    #[test]
    fn server_error_challenge_is_answered_then_fails() {
        let m = OAuthBearer::new(Arc::new(StaticToken::new("t")));
        let mut s = m.start().unwrap();
        s.step(None).unwrap();
        let challenge = br#"{"status":"invalid_token"}"#;
        assert_eq!(s.step(Some(challenge)).unwrap(), Some(vec![1]));
        let e = s.step(Some(b"")).unwrap_err();
        assert!(e.to_string().contains("invalid_token"), "{e}");
    }

    #[test]
    fn token_extensions_override_config_extensions() {
        let mut jws = UnsecuredJws::new("alice");
        jws.extensions.insert("a".into(), "token".into());
        let mut m = OAuthBearer::new(Arc::new(jws));
        m.extensions.insert("a".into(), "config".into());
        m.extensions.insert("b".into(), "config".into());
        let first = m.start().unwrap().step(None).unwrap().unwrap();
        let text = String::from_utf8(first).unwrap();
        assert!(
            text.ends_with("\x01a=token\x01b=config\x01\x01"),
            "{text:?}"
        );
    }

    #[test]
    fn unsecured_jws_claims() {
        let mut p = UnsecuredJws::new("alice");
        p.scope = vec!["read".into(), "write".into()];
        let t = p.token().unwrap();
        let parts: Vec<&str> = t.value.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2], "");
        let header: serde_json::Value =
            serde_json::from_slice(&B64URL.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "none");
        let claims: serde_json::Value =
            serde_json::from_slice(&B64URL.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["scope"][1], "write");
        let (iat, exp) = (
            claims["iat"].as_u64().unwrap(),
            claims["exp"].as_u64().unwrap(),
        );
        assert_eq!(exp - iat, 3600);
        assert_eq!(t.lifetime_ms, (exp * 1000) as i64);
        assert!(!format!("{t:?}").contains(&t.value));
    }
}
