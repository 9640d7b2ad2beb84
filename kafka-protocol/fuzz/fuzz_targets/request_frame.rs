#![no_main]
//! Feeds arbitrary bytes to the frame splitter and the request decoder, as a broker would.
use bytes::BytesMut;
use kafka_protocol::frame::{decode_request, try_split_frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = try_split_frame(&mut buf, 1 << 20) {
        let _ = decode_request(frame);
    }
});
