//! Kafka consumer (not yet implemented).
//!
//! Not yet implemented: this crate is a placeholder in the workspace layout and exposes nothing.
