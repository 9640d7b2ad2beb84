// STAND-IN: the real TLS module (rustls, CA file, client certificates, hostname
// verification) is written on the `security` branch and replaces this file on merge. This
// stand-in keeps the agreed interface compiling and supports no TLS at all.

//! TLS settings for SSL and SASL_SSL listeners (stand-in: TLS is not available in this build).

use std::path::PathBuf;

/// TLS settings: trusted CAs, an optional client certificate and hostname verification.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// PEM file with the certificate authorities to trust.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain (mutual TLS).
    pub cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    pub key_file: Option<PathBuf>,
    /// Whether the broker's certificate must match its host name (default true).
    pub verify_hostname: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            ca_file: None,
            cert_file: None,
            key_file: None,
            verify_hostname: true,
        }
    }
}

impl TlsConfig {
    /// Builds the connector used for every TLS connection.
    ///
    /// The stand-in always fails: TLS arrives with the security module.
    pub fn connector(&self) -> Result<tokio_rustls::TlsConnector, crate::Error> {
        Err(crate::Error::Tls(
            "TLS is not available in this build yet (stand-in module)".into(),
        ))
    }
}
