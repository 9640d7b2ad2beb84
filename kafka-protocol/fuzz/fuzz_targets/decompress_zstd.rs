#![no_main]
//! Decompresses arbitrary bytes as zstd with a bounded output size: an error or data, never a
//! panic or an unbounded allocation; what decompresses must survive a compress round trip.
use kafka_protocol::compression::{compress, decompress, Compression};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(out) = decompress(Compression::Zstd, data, 1 << 20) {
        let again = compress(Compression::Zstd, &out, None).expect("compress");
        let back = decompress(Compression::Zstd, &again, 1 << 21).expect("round trip");
        assert_eq!(back, out);
    }
});
