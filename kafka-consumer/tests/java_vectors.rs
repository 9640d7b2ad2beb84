//! Every case in `tests/fixtures/assignors/*.json` (written by Apache Kafka's Java assignors,
//! see `scripts/capture-assignor-vectors.sh`) must be reproduced exactly: same members, same
//! partitions, same order.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use kafka_consumer::assignor::{
    ClusterView, ConsumerPartitionAssignor, CooperativeStickyAssignor, MemberId, RangeAssignor,
    RoundRobinAssignor, StickyAssignor, Subscription, TopicPartition,
};
use serde_json::Value;

type Fixture = Result<(), String>;

fn tp(s: &str) -> Result<TopicPartition, String> {
    let (t, p) = s.rsplit_once('-').ok_or(format!("bad partition {s}"))?;
    Ok(TopicPartition::new(
        t,
        p.parse().map_err(|_| format!("bad partition {s}"))?,
    ))
}

fn tps(v: Option<&Value>) -> Result<Vec<TopicPartition>, String> {
    match v.and_then(Value::as_array) {
        None => Ok(Vec::new()),
        Some(a) => a.iter().map(|x| tp(x.as_str().unwrap_or(""))).collect(),
    }
}

fn hex(s: &str) -> Result<Bytes, String> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string()))
        .collect::<Result<Vec<u8>, _>>()
        .map(Bytes::from)
}

type Case = (
    ClusterView,
    BTreeMap<MemberId, Subscription>,
    BTreeMap<MemberId, Vec<TopicPartition>>,
);

fn parse_case(case: &Value) -> Result<Case, String> {
    let mut cluster = ClusterView::new();
    for (t, n) in case["topics"].as_object().ok_or("topics")? {
        cluster.insert_topic(t.clone(), n.as_i64().ok_or("count")? as i32);
    }
    let mut subs = BTreeMap::new();
    for m in case["members"].as_array().ok_or("members")? {
        let id = m["id"].as_str().ok_or("id")?.to_string();
        let sub = Subscription {
            topics: m["topics"]
                .as_array()
                .ok_or("topics")?
                .iter()
                .filter_map(|t| t.as_str().map(String::from))
                .collect(),
            user_data: m
                .get("user_data")
                .and_then(Value::as_str)
                .map(hex)
                .transpose()?,
            owned_partitions: tps(m.get("owned"))?,
            generation_id: m
                .get("generation")
                .and_then(Value::as_i64)
                .map(|g| g as i32),
            rack_id: None,
            group_instance_id: m.get("instance").and_then(Value::as_str).map(String::from),
        };
        subs.insert(id, sub);
    }
    let mut expected = BTreeMap::new();
    for (m, list) in case["expected"].as_object().ok_or("expected")? {
        expected.insert(m.clone(), tps(Some(list))?);
    }
    Ok((cluster, subs, expected))
}

fn check(file: &str, assignor: &dyn ConsumerPartitionAssignor) -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/assignors")
        .join(file);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    assert_eq!(doc["assignor"].as_str(), Some(assignor.name()));
    let cases = doc["cases"].as_array().ok_or("cases")?;
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        let (cluster, subs, expected) = parse_case(case)?;
        match assignor.assign(&cluster, &subs) {
            Ok(out) => {
                let got: BTreeMap<MemberId, Vec<TopicPartition>> =
                    out.into_iter().map(|(m, a)| (m, a.partitions)).collect();
                if got != expected {
                    failures.push(format!("{name}:\n  java: {expected:?}\n  rust: {got:?}"));
                }
            }
            Err(e) => failures.push(format!("{name}: error {e}")),
        }
    }
    println!(
        "{}: {}/{} Java cases match",
        assignor.name(),
        cases.len() - failures.len(),
        cases.len()
    );
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} cases differ from Java:\n{}",
            failures.len(),
            cases.len(),
            failures
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        ))
    }
}

#[test]
fn range_matches_java() -> Fixture {
    check("range.json", &RangeAssignor::new())
}

#[test]
fn roundrobin_matches_java() -> Fixture {
    check("roundrobin.json", &RoundRobinAssignor::new())
}

#[test]
fn sticky_matches_java() -> Fixture {
    check("sticky.json", &StickyAssignor::new())
}

#[test]
fn cooperative_sticky_matches_java() -> Fixture {
    check("cooperative_sticky.json", &CooperativeStickyAssignor::new())
}

/// `ConsumerProtocol.serializeSubscription` / `serializeAssignment` bytes at versions 0-3.
#[test]
fn consumer_protocol_bytes_match_java() -> Fixture {
    use kafka_consumer::assignor::{
        Assignment, decode_assignment, decode_subscription, encode_assignment, encode_subscription,
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/assignors/consumer_protocol.json");
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let cases = doc["cases"].as_array().ok_or("cases")?;
    for (i, case) in cases.iter().enumerate() {
        let topics: Vec<String> = case["topics"]
            .as_array()
            .ok_or("topics")?
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect();
        let partitions = tps(case.get("partitions"))?;
        let user_data = case
            .get("user_data")
            .and_then(Value::as_str)
            .map(hex)
            .transpose()?;
        let generation = case["generation"].as_i64().ok_or("generation")? as i32;
        let sub = Subscription {
            topics,
            user_data: user_data.clone(),
            owned_partitions: partitions.clone(),
            generation_id: Some(generation).filter(|g| *g >= 0),
            rack_id: case.get("rack").and_then(Value::as_str).map(String::from),
            group_instance_id: None,
        };
        let assignment = Assignment {
            partitions: partitions.clone(),
            user_data,
        };
        for v in 0..=3i16 {
            let java = hex(case["subscription"][v as usize].as_str().ok_or("sub")?)?;
            let rust = encode_subscription(&sub, v).map_err(|e| e.to_string())?;
            assert_eq!(rust, java, "case {i} subscription v{v}");
            let back = decode_subscription(&java).map_err(|e| e.to_string())?;
            assert_eq!(back.user_data, sub.user_data, "case {i} v{v}");
            if v >= 2 {
                assert_eq!(back.generation_id, sub.generation_id, "case {i} v{v}");
            }
            if v >= 3 {
                assert_eq!(back.rack_id, sub.rack_id, "case {i} v{v}");
            }
            let java = hex(case["assignment"][v as usize].as_str().ok_or("asg")?)?;
            let rust = encode_assignment(&assignment, v).map_err(|e| e.to_string())?;
            assert_eq!(rust, java, "case {i} assignment v{v}");
            let back = decode_assignment(&java).map_err(|e| e.to_string())?;
            let mut a = back.partitions.clone();
            let mut b = partitions.clone();
            a.sort();
            b.sort();
            assert_eq!(a, b, "case {i} assignment v{v}");
        }
    }
    Ok(())
}

/// Sticky user data written by Java's `StickyAssignor` (schema v1) re-encodes to the same bytes.
#[test]
fn sticky_user_data_matches_java() -> Fixture {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/assignors/sticky.json");
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let mut checked = 0;
    for case in doc["cases"].as_array().ok_or("cases")? {
        for m in case["members"].as_array().ok_or("members")? {
            let Some(ud) = m.get("user_data").and_then(Value::as_str) else {
                continue;
            };
            let bytes = hex(ud)?;
            if let Some((partitions, Some(generation))) = StickyAssignor::decode_user_data(&bytes) {
                assert_eq!(
                    StickyAssignor::encode_user_data(&partitions, generation),
                    bytes
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} user data blobs checked");
    Ok(())
}
