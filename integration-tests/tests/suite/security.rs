//! TLS and SASL from `kafka-client` against real Apache Kafka started with
//! `scripts/apache-kafka.sh start --security sasl-ssl` (its `security.env` names the
//! listeners, the CA and the users). Driven through the blocking
//! [`integration_tests::secure::SecureConnection`] (mechanisms and TLS in isolation) and
//! through the async `kafka_client::Client` configured with Java property names.
//!
//! Skipped (with the reason printed) unless `KAFKA_SASL_SSL_BOOTSTRAP` is set.

use std::sync::Arc;

use crate::Ctx;
use integration_tests::secure::{SecureConnection, SecureError};
use kafka_client::sasl::{SaslConfig, UnsecuredJws, mechanism_from_config};
use kafka_client::tls::{TlsConfig, default_provider, rustls, server_name};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest};

/// The cases of this module.
pub(crate) const CASES: &[crate::Case] = &[
    ("security::tls_hostname_verified", tls_hostname_verified),
    ("security::tls_wrong_ca_fails", tls_wrong_ca_fails),
    (
        "security::tls_wrong_hostname_fails_unless_verification_off",
        tls_wrong_hostname_fails_unless_verification_off,
    ),
    (
        "security::tls12_and_tls13_handshakes",
        tls12_and_tls13_handshakes,
    ),
    ("security::ssl_client_certificate", ssl_client_certificate),
    ("security::sasl_ssl_plain", sasl_ssl_plain),
    ("security::sasl_ssl_scram_sha_256", sasl_ssl_scram_sha_256),
    ("security::sasl_ssl_scram_sha_512", sasl_ssl_scram_sha_512),
    (
        "security::sasl_ssl_wrong_password_fails",
        sasl_ssl_wrong_password_fails,
    ),
    ("security::sasl_ssl_oauthbearer", sasl_ssl_oauthbearer),
    ("security::sasl_plaintext_scram", sasl_plaintext_scram),
    (
        "security::sasl_unknown_mechanism_refused",
        sasl_unknown_mechanism_refused,
    ),
    (
        "security::async_client_sasl_ssl_scram_from_properties",
        async_client_sasl_ssl_scram_from_properties,
    ),
    (
        "security::async_client_sasl_ssl_wrong_password_fails",
        async_client_sasl_ssl_wrong_password_fails,
    ),
];

/// The async `kafka_client::Client`, configured with the Java client's property names, over
/// SASL_SSL with SCRAM-SHA-512 and hostname verification.
fn async_client(password: &str) -> Result<kafka_client::Client, kafka_client::Error> {
    let props = vec![
        ("bootstrap.servers".to_string(), env(ENV)),
        ("security.protocol".to_string(), "SASL_SSL".to_string()),
        ("sasl.mechanism".to_string(), "SCRAM-SHA-512".to_string()),
        (
            "sasl.jaas.config".to_string(),
            format!(
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="{}" password="{}";"#,
                env("KAFKA_SASL_USER"),
                password
            ),
        ),
        ("ssl.ca.location".to_string(), env("KAFKA_CA_FILE")),
        ("default.api.timeout.ms".to_string(), "15000".to_string()),
    ];
    let cfg = kafka_client::ClientConfig::from_properties(props)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| kafka_client::Error::Tls(e.to_string()))?;
    rt.block_on(async move {
        let client = kafka_client::Client::connect(cfg).await?;
        let md = client
            .send(
                kafka_client::Target::AnyBroker,
                MetadataRequest {
                    topics: None,
                    ..Default::default()
                },
            )
            .await?;
        assert!(!md.brokers.is_empty());
        client.close();
        Ok(client)
    })
}

fn async_client_sasl_ssl_scram_from_properties(_ctx: &Ctx) {
    async_client(&env("KAFKA_SASL_PASSWORD"))
        .expect("SASL_SSL + SCRAM-SHA-512 session answers Metadata");
}

fn async_client_sasl_ssl_wrong_password_fails(_ctx: &Ctx) {
    let err = async_client("not-the-password").expect_err("a wrong password must fail");
    assert_eq!(
        err.error_code(),
        Some(ErrorCode::SaslAuthenticationFailed),
        "{err}"
    );
}

/// The variable that enables these cases.
pub(crate) const ENV: &str = "KAFKA_SASL_SSL_BOOTSTRAP";

/// `Some(bootstrap)` when the security cases can run, else `None` (caller prints SKIP).
pub(crate) fn bootstrap() -> Option<String> {
    std::env::var(ENV).ok().filter(|s| !s.trim().is_empty())
}

fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!("{name} is not set (see scripts/apache-kafka.sh start --security sasl-ssl)"),
    }
}

fn tls(ca: &str) -> TlsConfig {
    TlsConfig {
        ca_file: Some(env(ca).into()),
        ..TlsConfig::default()
    }
}

fn port(addr: &str) -> i32 {
    addr.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(-1)
}

/// A Metadata request on an authenticated connection: the broker answers and lists itself on
/// the listener connected to.
fn prove_session(c: &mut SecureConnection, addr: &str) {
    let md = c
        .send(
            MetadataRequest {
                topics: None,
                ..Default::default()
            },
            12,
        )
        .unwrap_or_else(|e| panic!("metadata after authentication: {e}"));
    assert!(!md.brokers.is_empty(), "no brokers in metadata");
    assert!(
        md.brokers.iter().any(|b| b.port == port(addr)),
        "metadata does not advertise the listener {addr}: {:?}",
        md.brokers
    );
}

fn sasl(mechanism: &str, user: &str, password: &str) -> Arc<dyn kafka_client::sasl::SaslMechanism> {
    mechanism_from_config(&SaslConfig::new(mechanism).with_credentials(user, password))
        .unwrap_or_else(|e| panic!("{mechanism}: {e}"))
}

fn sasl_ssl_login(mechanism: &str, user: &str, password: &str) {
    let addr = env(ENV);
    let mut c = SecureConnection::tls(&addr, "localhost", &tls("KAFKA_CA_FILE"))
        .unwrap_or_else(|e| panic!("TLS to {addr}: {e}"));
    c.authenticate(sasl(mechanism, user, password).as_ref())
        .unwrap_or_else(|e| panic!("{mechanism} as {user}: {e}"));
    prove_session(&mut c, &addr);
}

fn tls_hostname_verified(_: &Ctx) {
    let addr = env(ENV);
    // The broker certificate names DNS:localhost and IP:127.0.0.1; both verify.
    for host in ["localhost", "127.0.0.1"] {
        let mut c = SecureConnection::tls(&addr, host, &tls("KAFKA_CA_FILE"))
            .unwrap_or_else(|e| panic!("TLS to {addr} as {host}: {e}"));
        println!(
            "  {host}: {:?} {:?}",
            c.tls_version.unwrap(),
            c.tls_suite.unwrap()
        );
        // ApiVersions is allowed before SASL: frames flow over the TLS channel.
        let req = ApiVersionsRequest {
            client_software_name: "kafka-suite-tests".into(),
            client_software_version: "0.1.0".into(),
            ..Default::default()
        };
        let r = c
            .send(req, 3)
            .unwrap_or_else(|e| panic!("ApiVersions over TLS: {e}"));
        assert_eq!(r.error_code, 0);
        assert!(!r.api_keys.is_empty());
    }
}

fn expect_tls_error(r: Result<SecureConnection, SecureError>, what: &str, needle: &str) {
    match r {
        Ok(_) => panic!("{what}: TLS handshake succeeded"),
        Err(SecureError::Io(e)) => {
            let text = format!("{e:?}");
            assert!(
                text.contains(needle),
                "{what}: expected {needle}, got {text}"
            );
            println!("  {what}: {e}");
        }
        Err(e) => panic!("{what}: expected a TLS error, got {e}"),
    }
}

fn tls_wrong_ca_fails(_: &Ctx) {
    let addr = env(ENV);
    expect_tls_error(
        SecureConnection::tls(&addr, "localhost", &tls("KAFKA_OTHER_CA_FILE")),
        "unrelated CA",
        "UnknownIssuer",
    );
    // Turning hostname verification off does not turn chain verification off.
    let cfg = TlsConfig {
        verify_hostname: false,
        ..tls("KAFKA_OTHER_CA_FILE")
    };
    expect_tls_error(
        SecureConnection::tls(&addr, "localhost", &cfg),
        "unrelated CA, hostname verification off",
        "UnknownIssuer",
    );
}

fn tls_wrong_hostname_fails_unless_verification_off(_: &Ctx) {
    let addr = env(ENV);
    for host in ["broker.wrong.example", "127.0.0.2"] {
        expect_tls_error(
            SecureConnection::tls(&addr, host, &tls("KAFKA_CA_FILE")),
            &format!("host {host}"),
            "NotValidForName",
        );
    }
    let cfg = TlsConfig {
        verify_hostname: false,
        ..tls("KAFKA_CA_FILE")
    };
    let mut c = SecureConnection::tls(&addr, "broker.wrong.example", &cfg)
        .unwrap_or_else(|e| panic!("hostname verification off: {e}"));
    c.authenticate(sasl("PLAIN", "alice", "alice-secret").as_ref())
        .unwrap_or_else(|e| panic!("PLAIN: {e}"));
    prove_session(&mut c, &addr);
}

/// Both protocol versions complete against the JDK's TLS with the default (pure-Rust)
/// provider.
fn tls12_and_tls13_handshakes(_: &Ctx) {
    let addr = env(ENV);
    let provider = default_provider().unwrap();
    let pem = std::fs::read(env("KAFKA_CA_FILE")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let roots = Arc::new(roots);
    for (version, name) in [
        (&rustls::version::TLS12, "TLS 1.2"),
        (&rustls::version::TLS13, "TLS 1.3"),
    ] {
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        let mut conn =
            rustls::ClientConnection::new(Arc::new(config), server_name("localhost").unwrap())
                .unwrap();
        let mut sock = std::net::TcpStream::connect(&addr).unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut sock)
                .unwrap_or_else(|e| panic!("{name} handshake: {e}"));
        }
        assert_eq!(conn.protocol_version(), Some(version.version));
        println!(
            "  {name}: {:?}",
            conn.negotiated_cipher_suite().map(|s| s.suite())
        );
    }
}

fn ssl_client_certificate(_: &Ctx) {
    let addr = env("KAFKA_SSL_BOOTSTRAP");
    for key in ["KAFKA_CLIENT_KEY_FILE", "KAFKA_CLIENT_PKCS8_KEY_FILE"] {
        let cfg = TlsConfig {
            cert_file: Some(env("KAFKA_CLIENT_CERT_FILE").into()),
            key_file: Some(env(key).into()),
            ..tls("KAFKA_CA_FILE")
        };
        let mut c = SecureConnection::tls(&addr, "localhost", &cfg)
            .unwrap_or_else(|e| panic!("mTLS with {key}: {e}"));
        prove_session(&mut c, &addr);
    }
    // Without a client certificate the broker (ssl.client.auth=required) refuses: in TLS 1.3
    // the refusal can arrive after the client considers the handshake done.
    let refused = SecureConnection::tls(&addr, "localhost", &tls("KAFKA_CA_FILE"))
        .and_then(|mut c| c.send(ApiVersionsRequest::default(), 3).map(|_| ()));
    assert!(
        refused.is_err(),
        "SSL listener accepted a client without a certificate"
    );
    println!("  without certificate: {}", refused.unwrap_err());
}

fn sasl_ssl_plain(_: &Ctx) {
    sasl_ssl_login(
        "PLAIN",
        &env("KAFKA_SASL_USER"),
        &env("KAFKA_SASL_PASSWORD"),
    );
    sasl_ssl_login(
        "PLAIN",
        &env("KAFKA_SASL_ADMIN_USER"),
        &env("KAFKA_SASL_ADMIN_PASSWORD"),
    );
}

fn sasl_ssl_scram_sha_256(_: &Ctx) {
    sasl_ssl_login(
        "SCRAM-SHA-256",
        &env("KAFKA_SASL_USER"),
        &env("KAFKA_SASL_PASSWORD"),
    );
}

fn sasl_ssl_scram_sha_512(_: &Ctx) {
    sasl_ssl_login(
        "SCRAM-SHA-512",
        &env("KAFKA_SASL_USER"),
        &env("KAFKA_SASL_PASSWORD"),
    );
    sasl_ssl_login(
        "SCRAM-SHA-512",
        &env("KAFKA_SASL_ADMIN_USER"),
        &env("KAFKA_SASL_ADMIN_PASSWORD"),
    );
}

fn sasl_ssl_wrong_password_fails(_: &Ctx) {
    let addr = env(ENV);
    let user = env("KAFKA_SASL_USER");
    for mech in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
        for (u, p) in [(user.as_str(), "wrong-password"), ("nobody", "whatever")] {
            let mut c = SecureConnection::tls(&addr, "localhost", &tls("KAFKA_CA_FILE"))
                .unwrap_or_else(|e| panic!("TLS: {e}"));
            match c.authenticate(sasl(mech, u, p).as_ref()) {
                Err(SecureError::Authenticate { code, message }) => {
                    assert_eq!(
                        code,
                        ErrorCode::SaslAuthenticationFailed,
                        "{mech}: {message}"
                    );
                    println!("  {mech} as {u}: {code:?}: {message}");
                }
                Ok(()) => panic!("{mech} as {u} with a wrong password authenticated"),
                Err(e) => panic!("{mech} as {u}: expected SASL_AUTHENTICATION_FAILED, got {e}"),
            }
        }
    }
}

fn sasl_ssl_oauthbearer(_: &Ctx) {
    let addr = env(ENV);
    let mut jws = UnsecuredJws::new(env("KAFKA_SASL_USER"));
    jws.extensions
        .insert("traceId".into(), "kafka-suite".into());
    let cfg = SaslConfig::new("OAUTHBEARER").with_token_provider(Arc::new(jws));
    let mech = mechanism_from_config(&cfg).unwrap();
    let mut c = SecureConnection::tls(&addr, "localhost", &tls("KAFKA_CA_FILE"))
        .unwrap_or_else(|e| panic!("TLS: {e}"));
    c.authenticate(mech.as_ref())
        .unwrap_or_else(|e| panic!("OAUTHBEARER: {e}"));
    prove_session(&mut c, &addr);

    // An expired/garbage token: the broker sends its error challenge, the client answers
    // with %x01 and the broker fails the exchange.
    let bad = SaslConfig::new("OAUTHBEARER").with_token_provider(Arc::new(
        kafka_client::sasl::StaticToken::new("bm90LWEtand0"),
    ));
    let mech = mechanism_from_config(&bad).unwrap();
    let mut c = SecureConnection::tls(&addr, "localhost", &tls("KAFKA_CA_FILE")).unwrap();
    match c.authenticate(mech.as_ref()) {
        Err(SecureError::Authenticate { code, message }) => {
            assert_eq!(code, ErrorCode::SaslAuthenticationFailed, "{message}");
            println!("  invalid token: {message}");
        }
        Err(SecureError::Client(e)) => println!("  invalid token: {e}"),
        Ok(()) => panic!("OAUTHBEARER with an invalid token authenticated"),
        Err(e) => panic!("invalid token: unexpected {e}"),
    }
}

fn sasl_plaintext_scram(_: &Ctx) {
    let addr = env("KAFKA_SASL_PLAINTEXT_BOOTSTRAP");
    for mech in ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] {
        let mut c = SecureConnection::plaintext(&addr).unwrap();
        c.authenticate(sasl(mech, &env("KAFKA_SASL_USER"), &env("KAFKA_SASL_PASSWORD")).as_ref())
            .unwrap_or_else(|e| panic!("{mech} over SASL_PLAINTEXT: {e}"));
        prove_session(&mut c, &addr);
    }
}

fn sasl_unknown_mechanism_refused(_: &Ctx) {
    #[derive(Debug)]
    struct Gssapi;
    impl kafka_client::sasl::SaslMechanism for Gssapi {
        fn name(&self) -> &str {
            "GSSAPI"
        }
        fn start(&self) -> Result<Box<dyn kafka_client::sasl::SaslSession>, kafka_client::Error> {
            Err(kafka_client::Error::Sasl("not used".into()))
        }
    }
    let addr = env(ENV);
    let mut c = SecureConnection::tls(&addr, "localhost", &tls("KAFKA_CA_FILE")).unwrap();
    match c.authenticate(&Gssapi) {
        Err(SecureError::Handshake { code, offered }) => {
            assert_eq!(code, ErrorCode::UnsupportedSaslMechanism);
            for m in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] {
                assert!(
                    offered.iter().any(|o| o == m),
                    "{m} not offered: {offered:?}"
                );
            }
        }
        other => panic!("expected UNSUPPORTED_SASL_MECHANISM, got {other:?}"),
    }
}
