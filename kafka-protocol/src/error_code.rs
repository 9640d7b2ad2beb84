//! Kafka protocol error codes (placeholder: being written).

/// A Kafka protocol error code (placeholder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// No error.
    None,
}
