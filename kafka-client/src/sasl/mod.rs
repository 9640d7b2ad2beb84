// STAND-IN: the real SASL module (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER) is written on the
// `security` branch and replaces this file on merge. This stand-in keeps the agreed interface
// compiling; `mechanism_from_config` supports no mechanism.

//! SASL mechanisms as a small mechanism/session interface (stand-in: no mechanism available).

use std::sync::Arc;

/// A SASL mechanism: its name (as sent in SaslHandshake) and a factory of sessions.
pub trait SaslMechanism: Send + Sync + std::fmt::Debug {
    /// The mechanism name, such as `SCRAM-SHA-256`.
    fn name(&self) -> &str;
    /// Starts one authentication exchange.
    fn start(&self) -> Result<Box<dyn SaslSession>, crate::Error>;
}

/// One authentication exchange.
pub trait SaslSession: Send {
    /// Next bytes to send given the server's last bytes (None at start); Ok(None) when done.
    fn step(&mut self, server: Option<&[u8]>) -> Result<Option<Vec<u8>>, crate::Error>;
}

/// Supplies OAUTHBEARER tokens.
pub trait OAuthTokenProvider: Send + Sync + std::fmt::Debug {
    /// A current token.
    fn token(&self) -> Result<String, crate::Error>;
}

/// SASL settings.
#[derive(Debug, Clone, Default)]
pub struct SaslConfig {
    /// PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 | OAUTHBEARER.
    pub mechanism: String,
    /// User name (PLAIN, SCRAM).
    pub username: Option<String>,
    /// Password (PLAIN, SCRAM).
    pub password: Option<String>,
    /// Token source (OAUTHBEARER).
    pub oauth_token_provider: Option<Arc<dyn OAuthTokenProvider>>,
}

/// The mechanism named by `cfg`.
///
/// The stand-in supports none and always fails.
pub fn mechanism_from_config(cfg: &SaslConfig) -> Result<Arc<dyn SaslMechanism>, crate::Error> {
    Err(crate::Error::Sasl(format!(
        "SASL mechanism {} is not available in this build yet (stand-in module)",
        cfg.mechanism
    )))
}
