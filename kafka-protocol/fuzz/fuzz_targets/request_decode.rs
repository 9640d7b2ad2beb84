#![no_main]
//! Decodes arbitrary bytes as a request body of any API at any version. Decoding must never
//! panic; whatever decodes must re-encode, and decoding that again must give the same bytes.
use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::RequestKind;
use libfuzzer_sys::fuzz_target;

mod common;

fuzz_target!(|data: &[u8]| {
    let Some((api, version, body)) = common::pick(data) else { return };
    let mut buf = Bytes::copy_from_slice(body);
    let Ok(msg) = RequestKind::decode(api, &mut buf, version) else { return };
    let mut once = BytesMut::new();
    msg.encode(&mut once, version).expect("a decoded message re-encodes");
    assert_eq!(once.len(), msg.encoded_len(version));
    let mut rd = once.clone().freeze();
    let again = RequestKind::decode(api, &mut rd, version).expect("re-encoded bytes decode");
    assert!(rd.is_empty());
    let mut twice = BytesMut::new();
    again.encode(&mut twice, version).expect("second encode");
    assert_eq!(once, twice);
});
