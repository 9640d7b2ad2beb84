//! configs
