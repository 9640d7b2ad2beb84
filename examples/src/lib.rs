//! Runnable examples for the Kafka suite; see the `examples/` folder of this crate.
//!
//! - `codec_demo`: builds a ProduceRequest carrying record batches in every codec, frames it
//!   as a client would, decodes it as a broker would, and reads the records back.
