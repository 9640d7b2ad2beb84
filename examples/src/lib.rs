//! Runnable examples for the Kafka suite.
//!
//! Not yet implemented: this crate is a placeholder in the workspace layout and exposes nothing.
