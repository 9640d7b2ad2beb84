//! The Kafka wire protocol for the whole suite: every request and response generated from
//! Apache Kafka's message specs, the primitive wire types, record batches (v2 plus legacy v0/v1
//! reading) and all four compression codecs in pure Rust.
//!
//! This crate does no I/O. Clients and the bundled broker share it, so both speak exactly the
//! same bytes.
//!
//! ```
//! use bytes::BytesMut;
//! use kafka_protocol::messages::api_versions_request::ApiVersionsRequest;
//! use kafka_protocol::prelude::*;
//!
//! let req = ApiVersionsRequest {
//!     client_software_name: "demo".into(),
//!     client_software_version: "1.0".into(),
//!     ..Default::default()
//! };
//! let mut buf = BytesMut::new();
//! req.encode(&mut buf, 3).unwrap();
//! assert_eq!(buf.len(), req.encoded_len(3));
//! let back = ApiVersionsRequest::decode(&mut buf.freeze(), 3).unwrap();
//! assert_eq!(back, req);
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod compression;
pub mod error;
pub mod error_code;
pub mod frame;
pub mod message;
pub mod messages;
pub mod primitives;
pub mod records;

#[cfg(test)]
mod known_answer;

pub use error::{ProtocolError, Result};
pub use error_code::ErrorCode;
pub use message::{Decodable, Encodable, Message, Request, VersionRange};
pub use primitives::{RawTaggedField, Uuid};

/// The traits needed to call `encode`, `decode` and `encoded_len` on messages.
pub mod prelude {
    pub use crate::{Decodable, Encodable, Message, Request};
}
