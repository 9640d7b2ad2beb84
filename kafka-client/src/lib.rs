//! Async Kafka client core: connections, metadata, routing, retries, TLS and SASL.
//!
//! This branch holds the security slice: [`tls`] (rustls, pure-Rust crypto by default) and
//! [`sasl`] (PLAIN, SCRAM-SHA-256/512, OAUTHBEARER).

// STAND-IN: merged with the client engine's Error
pub mod error;
pub mod sasl;
pub mod tls;

pub use error::Error;
