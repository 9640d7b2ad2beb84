//! Runnable examples for the Kafka suite; see the `examples/` folder of this crate.
//!
//! - `consumer_worker_pool`: one consumer feeding a bounded worker pool with per-partition
//!   ordering, committing only processed offsets, draining and committing on revocation.
//! - `codec_demo`: builds a ProduceRequest carrying record batches in every codec, frames it
//!   as a client would, decodes it as a broker would, and reads the records back.
