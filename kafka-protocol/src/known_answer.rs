//! Known-answer tests: bytes written by Apache Kafka's own Java library (kafka-clients 4.3.1,
//! captured by `scripts/capture-fixtures.sh` into `tests/fixtures/java/`) must decode to the
//! values Kafka's JSON converter printed for them, and re-encode byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use bytes::Bytes;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/java")
}

/// Every key Java printed must be present in our view with an equal value.
fn compare(path: &str, java: &Value, ours: &Value, errors: &mut Vec<String>) {
    match (java, ours) {
        (Value::Object(j), Value::Object(o)) => {
            for (k, jv) in j {
                match o.get(k) {
                    Some(ov) => compare(&format!("{path}.{k}"), jv, ov, errors),
                    None => errors.push(format!("{path}.{k}: missing in our decoding")),
                }
            }
        }
        (Value::Array(j), Value::Array(o)) => {
            if j.len() != o.len() {
                errors.push(format!(
                    "{path}: {} elements in Java, {} decoded",
                    j.len(),
                    o.len()
                ));
                return;
            }
            for (i, (jv, ov)) in j.iter().zip(o).enumerate() {
                compare(&format!("{path}[{i}]"), jv, ov, errors);
            }
        }
        (Value::Number(j), Value::Number(o)) => {
            if j.as_f64() != o.as_f64() {
                errors.push(format!("{path}: Java {j}, decoded {o}"));
            }
        }
        (j, o) => {
            if j != o {
                errors.push(format!("{path}: Java {j}, decoded {o}"));
            }
        }
    }
}

#[test]
fn java_messages_decode_and_reencode_identically() {
    let index: Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("messages/index.json")).unwrap())
            .unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for entry in index["messages"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let version = entry["version"].as_i64().unwrap() as i16;
        let bin = Bytes::from(
            std::fs::read(
                fixtures()
                    .join("messages")
                    .join(entry["bin"].as_str().unwrap()),
            )
            .unwrap(),
        );
        let java: Value = serde_json::from_slice(
            &std::fs::read(
                fixtures()
                    .join("messages")
                    .join(entry["json"].as_str().unwrap()),
            )
            .unwrap(),
        )
        .unwrap();
        let Some(result) = crate::messages::tests::decode_named(name, version, bin.clone()) else {
            failures.push(format!("{name} v{version}: unknown message name"));
            continue;
        };
        match result {
            Err(e) => failures.push(format!("{name} v{version}: {e}")),
            Ok((ours, reencoded)) => {
                let mut errs = Vec::new();
                compare(name, &java, &ours, &mut errs);
                if reencoded != bin {
                    errs.push(format!(
                        "re-encoded {} bytes differ from Java's {}",
                        reencoded.len(),
                        bin.len()
                    ));
                }
                failures.extend(errs.into_iter().map(|e| format!("{name} v{version}: {e}")));
            }
        }
        checked += 1;
    }
    assert!(checked >= 100, "only {checked} fixtures found");
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn java_request_frames_decode_and_reencode_identically() {
    let dir = fixtures().join("frames");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "bin") {
            continue;
        }
        let bytes = Bytes::from(std::fs::read(&p).unwrap());
        let (header, body) = crate::frame::decode_request(bytes.clone()).unwrap();
        let mut out = bytes::BytesMut::new();
        crate::frame::encode_request(&mut out, &header, &body).unwrap();
        assert_eq!(&out[4..], &bytes[..], "{}", p.display());
        n += 1;
    }
    assert_eq!(n, 3);
}
