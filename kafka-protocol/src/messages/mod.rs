//! Generated messages (placeholder: generator being written).

/// API keys (placeholder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKey {
    /// Produce.
    Produce = 0,
}
