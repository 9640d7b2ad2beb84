//! Async Kafka client core: connections, metadata, routing, retries, TLS and SASL (not yet implemented).
//!
//! Not yet implemented: this crate is a placeholder in the workspace layout and exposes nothing.
