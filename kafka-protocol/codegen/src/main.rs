//! Generates `kafka-protocol/src/messages/` from the JSON message specs.
fn main() {}
