//! TLS for broker connections (Kafka's `SSL` and `SASL_SSL` security protocols), built on
//! [rustls](https://docs.rs/rustls) through [`tokio_rustls`].
//!
//! - **Trust:** a PEM bundle ([`TlsConfig::ca_file`] or [`TlsConfig::ca_pem`]); with neither,
//!   Mozilla's root certificates compiled in from the `webpki-roots` crate (feature
//!   `webpki-roots`, on by default). A compiled-in bundle behaves the same on every machine and
//!   in minimal containers without `/etc/ssl`, as the JDK's own `cacerts` does for Java clients.
//! - **Client certificate** (mutual TLS): [`TlsConfig::cert_file`] + [`TlsConfig::key_file`]
//!   (or the `_pem` fields), the key as PKCS#8, PKCS#1 (RSA) or SEC1 (EC) PEM.
//! - **Hostname verification** is on by default ([`TlsConfig::verify_hostname`]). Turning it off
//!   (Java's `ssl.endpoint.identification.algorithm=` empty) still verifies the certificate
//!   chain up to a trusted root, its validity dates and the signature of the handshake; only
//!   the match between the certificate's names and the host is skipped.
//! - **Crypto provider:** pure Rust by default (`rustcrypto` feature, `rustls-rustcrypto`), so
//!   building needs no C compiler. The opt-in features `ring` and `aws-lc-rs` select those
//!   providers instead (aws-lc-rs first, then ring, then rustcrypto); [`TlsConfig::crypto_provider`]
//!   overrides the choice per connection.
//!
//! ```no_run
//! use kafka_client::tls::{server_name, TlsConfig};
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let cfg = TlsConfig {
//!     ca_file: Some("/etc/kafka/ca.pem".into()),
//!     ..TlsConfig::default()
//! };
//! let connector = cfg.connector()?;
//! let tcp = tokio::net::TcpStream::connect("broker-1.example.com:9093").await?;
//! let tls = connector.connect(server_name("broker-1.example.com")?, tcp).await?;
//! # drop(tls); Ok(()) }
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use tokio_rustls;
pub use tokio_rustls::rustls;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::Error;

/// How to set up TLS towards brokers. `Default` trusts the compiled-in Mozilla roots (feature
/// `webpki-roots`), sends no client certificate and verifies hostnames.
///
/// Each trust or identity item can come from a file or from PEM text in memory; when both are
/// set, the in-memory PEM wins.
///
/// ```
/// use kafka_client::tls::TlsConfig;
/// let cfg = TlsConfig {
///     ca_pem: Some(std::fs::read_to_string("ca.pem").unwrap_or_default()),
///     verify_hostname: false, // ssl.endpoint.identification.algorithm=
///     ..TlsConfig::default()
/// };
/// assert!(!cfg.verify_hostname);
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    /// PEM bundle of trusted CA certificates (`ssl.ca.location`; Java: the truststore).
    pub ca_file: Option<PathBuf>,
    /// PEM bundle of trusted CA certificates, in memory (`ssl.ca.pem`).
    pub ca_pem: Option<String>,
    /// PEM client certificate chain, leaf first (`ssl.certificate.location`).
    pub cert_file: Option<PathBuf>,
    /// PEM client certificate chain, in memory (`ssl.certificate.pem`).
    pub cert_pem: Option<String>,
    /// PEM private key of the client certificate: PKCS#8, PKCS#1 or SEC1, unencrypted
    /// (`ssl.key.location`).
    pub key_file: Option<PathBuf>,
    /// PEM private key, in memory (`ssl.key.pem`). Redacted from `Debug`.
    pub key_pem: Option<String>,
    /// Check that the broker's certificate names the host connected to (default `true`).
    /// `false` is Java's `ssl.endpoint.identification.algorithm=` (empty): the chain is still
    /// verified.
    pub verify_hostname: bool,
    /// Crypto provider to use instead of the one chosen by the crate features.
    pub crypto_provider: Option<Arc<CryptoProvider>>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            ca_file: None,
            ca_pem: None,
            cert_file: None,
            cert_pem: None,
            key_file: None,
            key_pem: None,
            verify_hostname: true,
            crypto_provider: None,
        }
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("ca_file", &self.ca_file)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "<pem>"))
            .field("cert_file", &self.cert_file)
            .field("cert_pem", &self.cert_pem.as_ref().map(|_| "<pem>"))
            .field("key_file", &self.key_file)
            .field("key_pem", &self.key_pem.as_ref().map(|_| "<redacted>"))
            .field("verify_hostname", &self.verify_hostname)
            .field("crypto_provider", &self.crypto_provider.is_some())
            .finish()
    }
}

impl TlsConfig {
    /// A `tokio-rustls` connector for this configuration. Reads and checks every file now, so
    /// a bad path or PEM is a [`Error::Config`] here rather than at connect time.
    ///
    /// ```
    /// use kafka_client::tls::TlsConfig;
    /// # #[cfg(feature = "webpki-roots")]
    /// let connector = TlsConfig::default().connector().unwrap();
    /// ```
    pub fn connector(&self) -> Result<tokio_rustls::TlsConnector, Error> {
        Ok(tokio_rustls::TlsConnector::from(self.client_config()?))
    }

    /// The rustls client configuration behind [`TlsConfig::connector`], for blocking use
    /// (`rustls::StreamOwned`) or further tuning.
    ///
    /// ```
    /// use kafka_client::tls::TlsConfig;
    /// let err = TlsConfig { ca_file: Some("/nonexistent/ca.pem".into()), ..TlsConfig::default() }
    ///     .client_config()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("ssl.ca.location"));
    /// ```
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, Error> {
        let provider = match &self.crypto_provider {
            Some(p) => p.clone(),
            None => default_provider()?,
        };
        let roots = Arc::new(self.root_store()?);
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(format!("crypto provider: {e}")))?;
        let builder = if self.verify_hostname {
            builder.with_root_certificates(roots)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnlyVerifier { roots, provider }))
        };
        let config = match self.client_identity()? {
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| config_err("ssl.key.location", format!("client key: {e}")))?,
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }

    fn root_store(&self) -> Result<RootCertStore, Error> {
        let mut roots = RootCertStore::empty();
        let certs = if let Some(pem) = &self.ca_pem {
            Some(parse_certs(pem.as_bytes(), "ssl.ca.pem")?)
        } else if let Some(path) = &self.ca_file {
            Some(parse_certs(
                &read_file(path, "ssl.ca.location")?,
                "ssl.ca.location",
            )?)
        } else {
            None
        };
        match certs {
            Some(certs) => {
                for cert in certs {
                    roots.add(cert).map_err(|e| {
                        config_err("ssl.ca.location", format!("CA certificate: {e}"))
                    })?;
                }
            }
            None => add_default_roots(&mut roots)?,
        }
        Ok(roots)
    }

    #[allow(clippy::type_complexity)]
    fn client_identity(
        &self,
    ) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>, Error> {
        let chain = if let Some(pem) = &self.cert_pem {
            Some(parse_certs(pem.as_bytes(), "ssl.certificate.pem")?)
        } else if let Some(path) = &self.cert_file {
            let key = "ssl.certificate.location";
            Some(parse_certs(&read_file(path, key)?, key)?)
        } else {
            None
        };
        let key = if let Some(pem) = &self.key_pem {
            Some(parse_key(pem.as_bytes(), "ssl.key.pem")?)
        } else if let Some(path) = &self.key_file {
            Some(parse_key(
                &read_file(path, "ssl.key.location")?,
                "ssl.key.location",
            )?)
        } else {
            None
        };
        match (chain, key) {
            (Some(chain), Some(key)) => Ok(Some((chain, key))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(config_err(
                "ssl.key.location",
                "a client certificate needs its private key",
            )),
            (None, Some(_)) => Err(config_err(
                "ssl.certificate.location",
                "a private key needs its client certificate",
            )),
        }
    }
}

/// Turns a broker host (`broker-1.example.com`, `127.0.0.1`, `[::1]` or `::1`) into the name
/// rustls verifies the certificate against and sends as SNI (IP addresses are matched against
/// the certificate's IP subject alternative names and send no SNI).
///
/// ```
/// use kafka_client::tls::server_name;
/// assert!(server_name("broker-1.example.com").is_ok());
/// assert!(server_name("[::1]").is_ok());
/// assert!(server_name("not a host").is_err());
/// ```
pub fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    let h = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    ServerName::try_from(h.to_string())
        .map_err(|e| Error::Tls(format!("invalid server name {host:?}: {e}")))
}

/// The crypto provider chosen by the crate features: `aws-lc-rs`, else `ring`, else the
/// pure-Rust `rustcrypto` (default), else whatever the process installed with
/// `CryptoProvider::install_default`.
///
/// ```
/// # #[cfg(feature = "rustcrypto")]
/// assert!(!kafka_client::tls::default_provider().unwrap().cipher_suites.is_empty());
/// ```
pub fn default_provider() -> Result<Arc<CryptoProvider>, Error> {
    #[cfg(feature = "aws-lc-rs")]
    return Ok(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    return Ok(Arc::new(rustls::crypto::ring::default_provider()));
    #[cfg(all(
        feature = "rustcrypto",
        not(any(feature = "ring", feature = "aws-lc-rs"))
    ))]
    return Ok(Arc::new(rustls_rustcrypto::provider()));
    #[allow(unreachable_code)]
    CryptoProvider::get_default().cloned().ok_or_else(|| {
        Error::Tls(
            "no TLS crypto provider: enable feature rustcrypto, ring or aws-lc-rs, or install one \
             with rustls::crypto::CryptoProvider::install_default"
                .into(),
        )
    })
}

fn add_default_roots(roots: &mut RootCertStore) -> Result<(), Error> {
    #[cfg(feature = "webpki-roots")]
    {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Ok(())
    }
    #[cfg(not(feature = "webpki-roots"))]
    {
        let _ = roots;
        Err(config_err(
            "ssl.ca.location",
            "no CA configured and built without the webpki-roots feature",
        ))
    }
}

fn config_err(key: &str, message: impl Into<String>) -> Error {
    Error::Config {
        key: key.into(),
        message: message.into(),
    }
}

fn read_file(path: &Path, key: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| config_err(key, format!("{}: {e}", path.display())))
}

fn parse_certs(pem: &[u8], key: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| config_err(key, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(config_err(key, "no CERTIFICATE in PEM"));
    }
    Ok(certs)
}

fn parse_key(pem: &[u8], key: &str) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        config_err(
            key,
            format!("no usable private key (PKCS#8, PKCS#1 or SEC1, unencrypted): {e}"),
        )
    })
}

/// Verifies the chain, dates and handshake signatures but not the host name: Java's
/// `ssl.endpoint.identification.algorithm=` (empty).
#[derive(Debug)]
struct ChainOnlyVerifier {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ChainOnlyVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        rustls::client::verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.provider.signature_verification_algorithms.all,
        )?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn default_verifies_hostnames() {
        assert!(TlsConfig::default().verify_hostname);
    }

    #[cfg(feature = "webpki-roots")]
    #[test]
    fn default_config_builds_with_webpki_roots() {
        TlsConfig::default().client_config().unwrap();
        TlsConfig {
            verify_hostname: false,
            ..TlsConfig::default()
        }
        .client_config()
        .unwrap();
    }

    #[test]
    fn missing_and_bad_files_are_config_errors() {
        let e = TlsConfig {
            ca_pem: Some("not pem".into()),
            ..TlsConfig::default()
        }
        .client_config()
        .unwrap_err();
        assert!(
            matches!(e, Error::Config { ref key, .. } if key == "ssl.ca.pem"),
            "{e}"
        );
        let e = TlsConfig {
            key_file: Some("/nonexistent/key.pem".into()),
            ..TlsConfig::default()
        }
        .client_config()
        .unwrap_err();
        assert!(
            matches!(e, Error::Config { ref key, .. } if key == "ssl.key.location"),
            "{e}"
        );
    }

    #[test]
    fn server_names() {
        assert!(matches!(
            server_name("127.0.0.1").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("[::1]").unwrap(),
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("localhost").unwrap(),
            ServerName::DnsName(_)
        ));
        assert!(server_name("").is_err());
    }

    #[test]
    fn debug_redacts_the_key() {
        let cfg = TlsConfig {
            key_pem: Some("-----BEGIN PRIVATE KEY-----secret".into()),
            ..TlsConfig::default()
        };
        assert!(!format!("{cfg:?}").contains("secret"));
    }
}
