//! Record batches (placeholder: being written).
