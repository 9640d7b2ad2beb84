//! Transaction coordinator tests.
