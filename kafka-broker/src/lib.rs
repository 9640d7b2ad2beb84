//! The bundled single-node Kafka broker (not yet implemented).
//!
//! Today the crate holds the partition log storage engine, [`log`]; the server, request
//! handlers and binary are later work.

pub mod log;
