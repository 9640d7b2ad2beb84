//! The client's error type.
//!
//! STAND-IN: merged with the client engine's Error, which provides these same variants.

/// Everything the client can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SASL authentication failed or a SASL exchange was malformed.
    #[error("SASL: {0}")]
    Sasl(String),
    /// TLS configuration or handshake failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// A configuration value is missing or invalid.
    #[error("invalid config {key}: {message}")]
    Config {
        /// The configuration key, in Kafka's naming (`sasl.mechanism`, `ssl.ca.location`, …).
        key: String,
        /// What is wrong with it.
        message: String,
    },
}
