#![no_main]
//! Reads arbitrary bytes as a Fetch response's records field: every batch, every record and
//! every header must come out as a value or an error, never a panic.
use bytes::Bytes;
use kafka_protocol::records::{Batch, ControlRecord, RecordBatches};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut it = RecordBatches::new(Bytes::copy_from_slice(data));
    for batch in it.by_ref() {
        let Ok(batch) = batch else { break };
        if let Batch::V2(b) = &batch {
            let _ = b.validate_crc();
            let _ = b.control_record();
        }
        for rec in batch.records().take(10_000) {
            let Ok(rec) = rec else { break };
            for (k, v) in rec.headers.iter() {
                let _ = (k.len(), v.map(|v| v.len()));
            }
            let _ = ControlRecord::parse(&rec);
        }
    }
    let _ = it.has_partial_tail();
});
