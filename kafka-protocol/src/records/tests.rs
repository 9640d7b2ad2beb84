//! Record batch and legacy message set tests.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::legacy::{LegacyMessage, write_message_set};
use super::*;
use crate::compression::{self, Compression};
use crate::primitives::testgen::Gen;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

// Record sets captured from Kafka 0.11 (v2, v1) and 0.10 (v0) brokers, as published in
// kafka-python's test suite (test/record/test_records.py).
const BROKER_V2: &[u8] = &[
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3b, 0x00, 0x00, 0x00, 0x01,
    0x02, 0x03, 0x18, 0xa2, 0x70, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x5d, 0xff,
    0x7b, 0x06, 0x3c, 0x00, 0x00, 0x01, 0x5d, 0xff, 0x7b, 0x06, 0x3c, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x12, 0x00, 0x00,
    0x00, 0x01, 0x06, 0x31, 0x32, 0x33, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x02, 0x02, 0xc8, 0x5c, 0xbd, 0x23, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x01, 0x00, 0x00, 0x01, 0x5d, 0xff, 0x7c, 0xdd, 0x6c, 0x00, 0x00, 0x01, 0x5d, 0xff, 0x7c,
    0xde, 0x14, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x00, 0x00, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x00, 0xd0, 0x02, 0x02,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x3b, 0x00,
    0x00, 0x00, 0x02, 0x02, 0x2e, 0x0b, 0x85, 0xb7, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x5d, 0xff, 0x7c, 0xe7, 0x9d, 0x00, 0x00, 0x01, 0x5d, 0xff, 0x7c, 0xe7, 0x9d, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01,
    0x12, 0x00, 0x00, 0x00, 0x01, 0x06, 0x31, 0x32, 0x33, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x00, 0x00, 0x00, 0x02, 0x5c, 0xd8, 0xef, 0x52, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x65, 0x85, 0xb6, 0xf3, 0xc1, 0x00, 0x00, 0x01,
    0x65, 0x85, 0xb6, 0xf3, 0xc1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x26, 0x00, 0x00, 0x00, 0x01, 0x06, 0x68, 0x64, 0x72,
    0x02, 0x08, 0x68, 0x6b, 0x65, 0x79, 0x08, 0x68, 0x76, 0x61, 0x6c,
];
const BROKER_V1: &[u8] = &[
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x19, 0x47, 0x86, 0x28, 0xc2,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x5e, 0x18, 0x67, 0xab, 0xae, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00,
    0x00, 0x03, 0x31, 0x32, 0x33, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x16, 0xef, 0x98, 0xc9, 0x20, 0x01, 0x00, 0x00, 0x00, 0x01, 0x5e, 0x18, 0x67, 0xaf, 0xc0, 0xff,
    0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
    0x00, 0x00, 0x16, 0x5f, 0xaf, 0xfb, 0x5e, 0x01, 0x00, 0x00, 0x00, 0x01, 0x5e, 0x18, 0x67, 0xb0,
    0x72, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x03, 0x00, 0x00, 0x00, 0x19, 0xa8, 0x12, 0x57, 0x20, 0x01, 0x00, 0x00, 0x00, 0x01, 0x5e, 0x18,
    0x67, 0xb8, 0x03, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x03, 0x31, 0x32, 0x33,
];
const BROKER_V0: &[u8] = &[
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0xfe, 0xb0, 0x1d, 0xbf,
    0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x03, 0x31, 0x32, 0x33, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0e, 0x79, 0x57, 0x48, 0xe0, 0x00, 0x00, 0xff,
    0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
    0x00, 0x00, 0x0e, 0x79, 0x57, 0x48, 0xe0, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x11, 0xfe, 0xb0, 0x1d,
    0xbf, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x03, 0x31, 0x32, 0x33,
];

/// An owned record, for comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owned {
    offset: i64,
    timestamp: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

fn owned(r: &Record) -> Owned {
    Owned {
        offset: r.offset,
        timestamp: r.timestamp,
        key: r.key.as_ref().map(|b| b.to_vec()),
        value: r.value.as_ref().map(|b| b.to_vec()),
        headers: r
            .headers
            .iter()
            .map(|(k, v)| (k.to_owned(), v.map(|v| v.to_vec())))
            .collect(),
    }
}

fn read_all(batch: &Batch) -> Vec<Owned> {
    batch.records().map(|r| owned(&r.unwrap())).collect()
}

/// Builds a batch from owned records (offsets must be base_offset + i).
fn build(builder: RecordBatchBuilder, records: &[Owned]) -> Bytes {
    let mut b = builder;
    for r in records {
        let headers: Vec<(&str, Option<&[u8]>)> = r
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_deref()))
            .collect();
        b.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &headers)
            .unwrap();
    }
    b.build().unwrap()
}

fn sample_records(base_offset: i64, n: usize, big: bool) -> Vec<Owned> {
    let mut g = Gen::new(n as u64 ^ 0x5EED);
    (0..n)
        .map(|i| {
            let value = match i % 7 {
                0 => None,
                1 => Some(Vec::new()),
                2 if big => Some(
                    (0..200_000)
                        .map(|j| (j % 251) as u8 ^ g.next_u64() as u8 & 1)
                        .collect(),
                ),
                _ => Some(format!("value-{i}-{}", "x".repeat(i % 50)).into_bytes()),
            };
            let key = if i % 3 == 0 {
                None
            } else {
                Some(format!("key-{}", i % 10).into_bytes())
            };
            let headers = match i % 4 {
                0 => vec![],
                1 => vec![("h".to_owned(), Some(b"1".to_vec()))],
                2 => vec![
                    ("dup".to_owned(), Some(b"a".to_vec())),
                    ("dup".to_owned(), None),
                    ("dup".to_owned(), Some(Vec::new())),
                    ("é€".to_owned(), Some(b"unicode".to_vec())),
                ],
                _ => vec![("".to_owned(), None)],
            };
            Owned {
                offset: base_offset + i as i64,
                // Not monotonic on purpose: deltas may be negative.
                timestamp: 1_700_000_000_000 + (i as i64 * 37 % 101) - 50,
                key,
                value,
                headers,
            }
        })
        .collect()
}

#[test]
fn broker_v2_vectors() {
    let mut data = BROKER_V2.to_vec();
    data.extend_from_slice(&[0, 0, 0, 0]);
    let mut it = RecordBatches::new(Bytes::from(data));
    let batches: Vec<Batch> = (&mut it).map(|b| b.unwrap()).collect();
    assert!(it.has_partial_tail());
    assert_eq!(it.remaining().len(), 4);
    assert_eq!(batches.len(), 4);
    assert_eq!(batches.iter().map(Batch::size_in_bytes).sum::<usize>(), 299);
    for b in &batches {
        assert_eq!(b.magic(), 2);
        b.validate_crc().unwrap();
        assert_eq!(b.compression(), Compression::None);
        assert_eq!(b.producer_id(), -1);
        assert!(!b.is_transactional() && !b.is_control());
    }
    let r = read_all(&batches[0]);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].value.as_deref(), Some(b"123".as_slice()));
    assert_eq!(r[0].key, None);
    assert_eq!(r[0].timestamp, 1_503_229_838_908);
    assert!(r[0].headers.is_empty());
    assert_eq!(batches[0].partition_leader_epoch(), 1);
    let r = read_all(&batches[1]);
    assert_eq!(r.len(), 2);
    assert_eq!(r.iter().map(|r| r.offset).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(batches[1].last_offset(), 2);
    let r = read_all(&batches[2]);
    assert_eq!(
        (r[0].offset, r[0].value.as_deref()),
        (3, Some(b"123".as_slice()))
    );
    let r = read_all(&batches[3]);
    assert_eq!(r[0].value.as_deref(), Some(b"hdr".as_slice()));
    assert_eq!(
        r[0].headers,
        vec![("hkey".to_owned(), Some(b"hval".to_vec()))]
    );
}

#[test]
fn builder_reproduces_broker_bytes() {
    // The first broker batch: leader epoch 1, one record, null key, value "123".
    let mut b = RecordBatchBuilder::new(0).partition_leader_epoch(1);
    b.append(1_503_229_838_908, None, Some(b"123"), &[])
        .unwrap();
    assert_eq!(&b.build().unwrap()[..], &BROKER_V2[..71]);
    // The fourth: a header.
    let mut b = RecordBatchBuilder::new(0).partition_leader_epoch(0);
    let ts = RecordBatch::parse(Bytes::from_static(&BROKER_V2[299 - 81..]))
        .unwrap()
        .base_timestamp();
    b.append(
        ts,
        None,
        Some(b"hdr"),
        &[("hkey", Some(b"hval".as_slice()))],
    )
    .unwrap();
    assert_eq!(&b.build().unwrap()[..], &BROKER_V2[299 - 81..]);
}

#[test]
fn broker_legacy_vectors() {
    for (data, magic, crc) in [
        (BROKER_V1, 1, 1_199_974_594u32),
        (BROKER_V0, 0, (-22_012_481i32) as u32),
    ] {
        let batches: Vec<Batch> = RecordBatches::new(Bytes::from_static(data))
            .map(|b| b.unwrap())
            .collect();
        assert_eq!(batches.len(), 4);
        let Batch::Legacy(first) = &batches[0] else {
            panic!("legacy expected")
        };
        assert_eq!(first.crc(), crc);
        for (i, b) in batches.iter().enumerate() {
            assert_eq!(b.magic(), magic);
            b.validate_crc().unwrap();
            let r = read_all(b);
            assert_eq!(r.len(), 1);
            assert_eq!(r[0].offset, i as i64);
            assert_eq!(r[0].key, None);
            let expect: &[u8] = if i == 0 || i == 3 { b"123" } else { b"" };
            assert_eq!(r[0].value.as_deref(), Some(expect));
        }
        let ts = read_all(&batches[0])[0].timestamp;
        assert_eq!(
            ts,
            if magic == 1 {
                1_503_648_000_942
            } else {
                NO_TIMESTAMP
            }
        );
    }
}

#[test]
fn round_trip_every_codec() {
    for codec in CODECS {
        for (n, big) in [(0, false), (1, false), (20, true), (1000, false)] {
            let recs = sample_records(500, n, big);
            let bytes = build(RecordBatchBuilder::new(500).compression(codec), &recs);
            let batch = RecordBatch::parse(bytes.clone()).unwrap();
            batch.validate_crc().unwrap();
            assert_eq!(batch.compression(), codec);
            assert_eq!(batch.record_count() as usize, n);
            assert_eq!(batch.size_in_bytes(), bytes.len());
            assert_eq!(batch.base_offset(), 500);
            assert_eq!(batch.last_offset(), 500 + (n as i64 - 1).max(0));
            let back: Vec<Owned> = batch.records().map(|r| owned(&r.unwrap())).collect();
            assert_eq!(back, recs, "{codec} n={n}");
            if n > 0 {
                assert_eq!(batch.base_timestamp(), recs[0].timestamp);
                assert_eq!(
                    batch.max_timestamp(),
                    recs.iter().map(|r| r.timestamp).max().unwrap()
                );
            } else {
                assert_eq!(batch.max_timestamp(), NO_TIMESTAMP);
            }
        }
    }
}

#[test]
fn compressed_batches_are_smaller_and_uncompressed_size_is_exact() {
    let recs = sample_records(0, 300, false);
    let mut sizes = Vec::new();
    for codec in CODECS {
        let mut b = RecordBatchBuilder::new(0).compression(codec);
        for r in &recs {
            b.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &[])
                .unwrap();
        }
        let uncompressed = b.uncompressed_size();
        assert_eq!(b.len(), 300);
        let bytes = b.build().unwrap();
        if codec == Compression::None {
            assert_eq!(bytes.len(), uncompressed);
        } else {
            assert!(
                bytes.len() < uncompressed / 2,
                "{codec}: {} vs {uncompressed}",
                bytes.len()
            );
        }
        sizes.push(bytes.len());
    }
}

#[test]
fn headers_view() {
    let mut b = RecordBatchBuilder::new(0);
    b.append(
        0,
        None,
        None,
        &[
            ("a", Some(b"1".as_slice())),
            ("b", None),
            ("a", Some(b"2".as_slice())),
        ],
    )
    .unwrap();
    let batch = RecordBatch::parse(b.build().unwrap()).unwrap();
    let rec = batch.records().next().unwrap().unwrap();
    let h = &rec.headers;
    assert_eq!(h.len(), 3);
    assert!(!h.is_empty());
    assert_eq!(h.last("a"), Some(Some(Bytes::from_static(b"2"))));
    assert_eq!(h.last("b"), Some(None));
    assert_eq!(h.last("c"), None);
    let keys: Vec<&str> = h.iter().map(|(k, _)| k).collect();
    assert_eq!(keys, ["a", "b", "a"]);
    assert_eq!(h.iter().size_hint(), (0, Some(3)));
    assert_eq!(
        format!("{h:?}"),
        r#"[("a", Some(b"1")), ("b", None), ("a", Some(b"2"))]"#
    );
    assert_eq!((&rec.headers).into_iter().count(), 3);
    assert!(Headers::empty().is_empty());
}

#[test]
fn zero_copy_slices() {
    let recs = sample_records(0, 50, false);
    let bytes = build(RecordBatchBuilder::new(0), &recs);
    let range = bytes.as_ptr() as usize..bytes.as_ptr() as usize + bytes.len();
    let batch = RecordBatch::parse(bytes.clone()).unwrap();
    for r in batch.records() {
        let r = r.unwrap();
        for b in [&r.key, &r.value]
            .into_iter()
            .flatten()
            .filter(|b| !b.is_empty())
        {
            assert!(range.contains(&(b.as_ptr() as usize)));
        }
        for (_, v) in r.headers.iter() {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                assert!(range.contains(&(v.as_ptr() as usize)));
            }
        }
    }
    // Compressed: all values come from one decompressed buffer, in order and contiguous.
    let bytes = build(
        RecordBatchBuilder::new(0).compression(Compression::Lz4),
        &recs,
    );
    let batch = RecordBatch::parse(bytes).unwrap();
    let ptrs: Vec<usize> = batch
        .records()
        .filter_map(|r| r.unwrap().value)
        .map(|v| v.as_ptr() as usize)
        .collect();
    assert!(ptrs.windows(2).all(|w| w[0] <= w[1]));
    assert!(ptrs.last().unwrap() - ptrs[0] < 10_000);
}

#[test]
fn header_layout_and_attributes() {
    let mut b = RecordBatchBuilder::new(7)
        .compression(Compression::Gzip)
        .timestamp_type(TimestampType::LogAppendTime)
        .producer(99, 3, 12)
        .transactional(true)
        .partition_leader_epoch(4);
    b.append(5000, Some(b"k"), Some(b"v"), &[]).unwrap();
    b.append(4000, Some(b"k"), Some(b"v"), &[]).unwrap();
    let bytes = b.build().unwrap();
    assert_eq!(&bytes[0..8], &7i64.to_be_bytes());
    assert_eq!(
        i32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize,
        bytes.len() - 12
    );
    assert_eq!(&bytes[12..16], &4i32.to_be_bytes());
    assert_eq!(bytes[16], 2);
    assert_eq!(
        u32::from_be_bytes(bytes[17..21].try_into().unwrap()),
        crc32c::crc32c(&bytes[21..])
    );
    assert_eq!(
        i16::from_be_bytes(bytes[21..23].try_into().unwrap()),
        1 | 8 | 16
    );
    assert_eq!(&bytes[23..27], &1i32.to_be_bytes());
    assert_eq!(&bytes[27..35], &5000i64.to_be_bytes());
    assert_eq!(&bytes[35..43], &5000i64.to_be_bytes());
    assert_eq!(&bytes[43..51], &99i64.to_be_bytes());
    assert_eq!(&bytes[51..53], &3i16.to_be_bytes());
    assert_eq!(&bytes[53..57], &12i32.to_be_bytes());
    assert_eq!(&bytes[57..61], &2i32.to_be_bytes());
    let batch = RecordBatch::parse(bytes).unwrap();
    assert_eq!(batch.timestamp_type(), TimestampType::LogAppendTime);
    assert!(batch.is_transactional() && !batch.is_control());
    assert_eq!(batch.last_sequence(), 13);
    assert_eq!(batch.delete_horizon_ms(), None);
    // Log-append time: every record carries the batch's max timestamp.
    assert!(batch.records().all(|r| r.unwrap().timestamp == 5000));
}

#[test]
fn delete_horizon_and_sequences() {
    let mut b = RecordBatchBuilder::new(0)
        .delete_horizon(Some(1234))
        .producer(1, 0, i32::MAX - 1);
    b.append(2000, None, Some(b"a"), &[]).unwrap();
    b.append(2001, None, Some(b"b"), &[]).unwrap();
    b.append(2002, None, Some(b"c"), &[]).unwrap();
    let batch = RecordBatch::parse(b.build().unwrap()).unwrap();
    assert_eq!(batch.delete_horizon_ms(), Some(1234));
    assert_eq!(batch.attributes() & 0x40, 0x40);
    assert_eq!(batch.last_sequence(), 0);
    let ts: Vec<i64> = batch.records().map(|r| r.unwrap().timestamp).collect();
    assert_eq!(ts, [2000, 2001, 2002]);
    // Setting a horizon after appending is refused.
    let mut b = RecordBatchBuilder::new(0);
    b.append(1, None, None, &[]).unwrap();
    assert!(b.delete_horizon(Some(5)).build().is_err());
}

#[test]
fn control_batches() {
    for (kind, epoch) in [
        (ControlRecordKind::Commit, 7),
        (ControlRecordKind::Abort, -1),
    ] {
        let marker = ControlRecord {
            kind,
            coordinator_epoch: epoch,
        };
        let bytes = RecordBatchBuilder::control_batch(42, 999, 3, 1000, 5, marker).unwrap();
        let batch = RecordBatch::parse(bytes.clone()).unwrap();
        batch.validate_crc().unwrap();
        assert!(batch.is_control() && batch.is_transactional());
        assert_eq!(
            (
                batch.producer_id(),
                batch.producer_epoch(),
                batch.base_sequence()
            ),
            (1000, 5, -1)
        );
        assert_eq!(batch.partition_leader_epoch(), 3);
        assert_eq!(batch.control_record().unwrap(), Some(marker));
        let rec = batch.records().next().unwrap().unwrap();
        assert_eq!(rec.offset, 42);
        assert_eq!(
            rec.key.as_deref(),
            Some(&[0, 0, 0, kind.type_id() as u8][..])
        );
        assert_eq!(ControlRecord::parse(&rec).unwrap(), Some(marker));
        let any = Batch::parse(bytes).unwrap();
        assert!(any.is_control() && any.is_transactional());
    }
    // Other control types (e.g. leader change = 2) are not transaction markers.
    let mut b = RecordBatchBuilder::new(0).control(true);
    b.append(0, Some(&[0, 0, 0, 2]), Some(&[0, 0]), &[])
        .unwrap();
    let batch = RecordBatch::parse(b.build().unwrap()).unwrap();
    assert_eq!(batch.control_record().unwrap(), None);
    // Malformed markers.
    let rec = |key: Option<&[u8]>, value: Option<&[u8]>| Record {
        offset: 0,
        timestamp: 0,
        key: key.map(Bytes::copy_from_slice),
        value: value.map(Bytes::copy_from_slice),
        headers: Headers::empty(),
    };
    assert!(ControlRecord::parse(&rec(None, Some(&[0; 6]))).is_err());
    assert!(ControlRecord::parse(&rec(Some(&[0, 0, 0]), Some(&[0; 6]))).is_err());
    assert!(ControlRecord::parse(&rec(Some(&[0, 0, 0, 1]), Some(&[0; 5]))).is_err());
    assert!(ControlRecord::parse(&rec(Some(&[0, 0, 0, 1]), None)).is_err());
    assert!(ControlRecord::parse(&rec(Some(&[0xFF, 0xFF, 0, 1]), Some(&[0; 6]))).is_err());
    // Not a control batch.
    let mut b = RecordBatchBuilder::new(0);
    b.append(0, None, None, &[]).unwrap();
    assert!(
        RecordBatch::parse(b.build().unwrap())
            .unwrap()
            .control_record()
            .is_err()
    );
}

#[test]
fn crc_detects_every_corrupted_byte() {
    for codec in CODECS {
        let bytes = build(
            RecordBatchBuilder::new(0).compression(codec),
            &sample_records(0, 10, false),
        );
        for i in 17..bytes.len() {
            let mut m = bytes.to_vec();
            m[i] ^= 0x01;
            match RecordBatch::parse(Bytes::from(m)) {
                Ok(b) => assert!(
                    matches!(
                        b.validate_crc(),
                        Err(ProtocolError::ChecksumMismatch { .. })
                    ),
                    "{codec} byte {i}"
                ),
                Err(_) => assert!(
                    (21..23).contains(&i) || (57..61).contains(&i),
                    "{codec} byte {i}"
                ),
            }
        }
    }
}

#[test]
fn record_count_mismatches_are_errors() {
    let bytes = build(RecordBatchBuilder::new(0), &sample_records(0, 3, false));
    for (count, ok) in [(2i32, 2), (4, 3), (0, 0)] {
        let mut m = bytes.to_vec();
        m[57..61].copy_from_slice(&count.to_be_bytes());
        let batch = RecordBatch::parse(Bytes::from(m)).unwrap();
        let results: Vec<_> = batch.records().collect();
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), ok);
        assert!(results.last().unwrap().is_err(), "count {count}");
    }
    let mut m = bytes.to_vec();
    m[57..61].copy_from_slice(&(-1i32).to_be_bytes());
    assert!(RecordBatch::parse(Bytes::from(m)).is_err());
}

#[test]
fn parse_errors() {
    let bytes = build(RecordBatchBuilder::new(0), &sample_records(0, 3, false));
    assert!(matches!(
        RecordBatch::parse(bytes.slice(..60)),
        Err(ProtocolError::Truncated { .. })
    ));
    assert!(matches!(
        RecordBatch::parse(bytes.slice(..bytes.len() - 1)),
        Err(ProtocolError::Truncated { .. })
    ));
    let mut m = bytes.to_vec();
    m[16] = 3;
    assert!(matches!(
        RecordBatch::parse(Bytes::from(m.clone())),
        Err(ProtocolError::UnsupportedVersion { .. })
    ));
    assert!(Batch::parse(Bytes::from(m)).is_err());
    let mut m = bytes.to_vec();
    m[22] = 5;
    assert_eq!(
        RecordBatch::parse(Bytes::from(m)),
        Err(ProtocolError::UnknownCompression(5))
    );
    let mut m = bytes.to_vec();
    m[8..12].copy_from_slice(&10i32.to_be_bytes());
    assert!(RecordBatch::parse(Bytes::from(m)).is_err());
    // Trailing bytes after one batch are ignored by parse.
    let mut m = bytes.to_vec();
    m.extend_from_slice(b"junk");
    assert_eq!(
        RecordBatch::parse(Bytes::from(m)).unwrap().size_in_bytes(),
        bytes.len()
    );
}

#[test]
fn truncated_fetch_tail_ends_cleanly() {
    let mut all = BytesMut::new();
    let mut ends = Vec::new();
    for (i, codec) in CODECS.iter().enumerate() {
        let base = i as i64 * 100;
        all.extend_from_slice(&build(
            RecordBatchBuilder::new(base).compression(*codec),
            &sample_records(base, 5, false),
        ));
        ends.push(all.len());
    }
    let legacy = [LegacyMessage {
        timestamp: 1,
        key: None,
        value: Some(b"old"),
    }];
    all.extend_from_slice(
        &write_message_set(
            1,
            Compression::Snappy,
            TimestampType::CreateTime,
            600,
            &legacy,
        )
        .unwrap(),
    );
    ends.push(all.len());
    let all = all.freeze();
    for cut in 0..=all.len() {
        let mut it = RecordBatches::new(all.slice(..cut));
        let mut n = 0;
        for b in &mut it {
            let b = b.unwrap();
            b.validate_crc().unwrap();
            assert!(b.records().all(|r| r.is_ok()));
            n += 1;
        }
        let complete = ends.iter().filter(|&&e| e <= cut).count();
        assert_eq!(n, complete, "cut {cut}");
        assert_eq!(
            it.has_partial_tail(),
            !(cut == 0 || ends.contains(&cut)),
            "cut {cut}"
        );
        assert!(it.next().is_none());
    }
}

#[test]
fn corrupt_entry_size_stops_iteration() {
    let one = build(RecordBatchBuilder::new(0), &sample_records(0, 2, false));
    let mut data = one.to_vec();
    data.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 3, 1, 2, 3]);
    data.extend_from_slice(&one);
    let mut it = RecordBatches::new(Bytes::from(data));
    assert!(it.next().unwrap().is_ok());
    assert!(matches!(
        it.next(),
        Some(Err(ProtocolError::InvalidLength { .. }))
    ));
    assert!(it.next().is_none());
    assert!(!it.has_partial_tail());
}

#[test]
fn legacy_message_sets() {
    let msgs = [
        LegacyMessage {
            timestamp: 100,
            key: Some(b"k1"),
            value: Some(b"v1"),
        },
        LegacyMessage {
            timestamp: 300,
            key: None,
            value: None,
        },
        LegacyMessage {
            timestamp: 200,
            key: Some(b""),
            value: Some(b""),
        },
    ];
    for magic in [0i8, 1] {
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
        ] {
            for tt in [TimestampType::CreateTime, TimestampType::LogAppendTime] {
                let bytes = write_message_set(magic, codec, tt, 1000, &msgs).unwrap();
                let batches: Vec<Batch> = RecordBatches::new(bytes).map(|b| b.unwrap()).collect();
                assert_eq!(
                    batches.len(),
                    if codec == Compression::None { 3 } else { 1 }
                );
                let mut recs = Vec::new();
                for b in &batches {
                    assert_eq!(b.magic(), magic);
                    assert_eq!(b.compression(), codec);
                    b.validate_crc().unwrap();
                    recs.extend(read_all(b));
                }
                let what = format!("magic {magic} {codec} {tt:?}");
                assert_eq!(
                    recs.iter().map(|r| r.offset).collect::<Vec<_>>(),
                    [1000, 1001, 1002],
                    "{what}"
                );
                assert_eq!(recs[0].key.as_deref(), Some(b"k1".as_slice()));
                assert_eq!(recs[1].key, None);
                assert_eq!(recs[1].value, None);
                assert_eq!(recs[2].value.as_deref(), Some(b"".as_slice()));
                assert!(recs.iter().all(|r| r.headers.is_empty()));
                let ts: Vec<i64> = recs.iter().map(|r| r.timestamp).collect();
                let expect = match (magic, tt, codec) {
                    (0, _, _) => vec![-1, -1, -1],
                    (_, TimestampType::LogAppendTime, Compression::None) => vec![100, 300, 200],
                    (_, TimestampType::LogAppendTime, _) => vec![300, 300, 300],
                    _ => vec![100, 300, 200],
                };
                assert_eq!(ts, expect, "{what}");
                let last = batches.last().unwrap();
                assert_eq!(last.last_offset(), 1002);
                assert_eq!(last.next_offset(), 1003);
                assert_eq!(last.producer_id(), -1);
                assert_eq!(last.base_sequence(), -1);
                assert_eq!(last.partition_leader_epoch(), -1);
                assert_eq!(
                    last.timestamp_type(),
                    if magic == 1 {
                        tt
                    } else {
                        TimestampType::CreateTime
                    }
                );
            }
        }
    }
    assert!(write_message_set(1, Compression::Zstd, TimestampType::CreateTime, 0, &msgs).is_err());
    assert!(write_message_set(2, Compression::None, TimestampType::CreateTime, 0, &msgs).is_err());
}

#[test]
fn legacy_magic0_lz4_uses_broken_header_checksum() {
    let msgs = [LegacyMessage {
        timestamp: 0,
        key: None,
        value: Some(b"x"),
    }];
    let bytes =
        write_message_set(0, Compression::Lz4, TimestampType::CreateTime, 0, &msgs).unwrap();
    let Batch::Legacy(b) = Batch::parse(bytes).unwrap() else {
        panic!("legacy expected")
    };
    let frame = b.value().unwrap();
    let broken = ((twox_hash::XxHash32::oneshot(0, &frame[..6]) >> 8) & 0xFF) as u8;
    assert_eq!(frame[6], broken);
    assert_eq!(
        read_all(&Batch::Legacy(b))[0].value.as_deref(),
        Some(b"x".as_slice())
    );
}

/// Writes one legacy message entry by hand.
fn legacy_entry(
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    value: Option<&[u8]>,
) -> Vec<u8> {
    let mut body = vec![magic as u8, attributes as u8];
    if magic == 1 {
        body.extend_from_slice(&timestamp.to_be_bytes());
    }
    body.extend_from_slice(&(-1i32).to_be_bytes());
    match value {
        Some(v) => {
            body.extend_from_slice(&(v.len() as i32).to_be_bytes());
            body.extend_from_slice(v);
        }
        None => body.extend_from_slice(&(-1i32).to_be_bytes()),
    }
    let mut out = offset.to_be_bytes().to_vec();
    out.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

#[test]
fn legacy_wrapper_edge_cases() {
    // Magic-1 wrapper with relative offsets 0, 2 (gaps after compaction): anchored on the last.
    let mut inner = legacy_entry(0, 1, 0, 10, Some(b"a"));
    inner.extend(legacy_entry(2, 1, 0, 11, Some(b"b")));
    let z = compression::compress(Compression::Gzip, &inner, None).unwrap();
    let wrapper = legacy_entry(52, 1, 1, 11, Some(&z));
    let b = Batch::parse(Bytes::from(wrapper)).unwrap();
    assert_eq!(
        read_all(&b).iter().map(|r| r.offset).collect::<Vec<_>>(),
        [50, 52]
    );

    // Nested compression is refused.
    let nested = legacy_entry(0, 1, 1, 0, Some(&z));
    let z2 = compression::compress(Compression::Gzip, &nested, None).unwrap();
    let b = Batch::parse(Bytes::from(legacy_entry(0, 1, 1, 0, Some(&z2)))).unwrap();
    assert!(b.records().any(|r| r.is_err()));

    // Null or empty wrapper value, garbage inner data, decompression bound.
    for v in [None, Some(&b""[..]), Some(&b"garbage"[..])] {
        let b = Batch::parse(Bytes::from(legacy_entry(0, 1, 2, 0, v))).unwrap();
        let r: Vec<_> = b.records().collect();
        assert_eq!(r.len(), 1);
        assert!(r[0].is_err());
    }
    let b = Batch::parse(Bytes::from(legacy_entry(52, 1, 1, 0, Some(&z)))).unwrap();
    assert!(b.records_with_limit(10).next().unwrap().is_err());
    // zstd is not allowed for legacy messages; unknown magic neither.
    assert!(Batch::parse(Bytes::from(legacy_entry(0, 1, 4, 0, Some(b"x")))).is_err());
    let mut m = legacy_entry(0, 1, 0, 0, Some(b"x"));
    m[16] = 7;
    assert!(Batch::parse(Bytes::from(m)).is_err());
    // Bytes after the value inside the message size are refused.
    let mut m = legacy_entry(0, 0, 0, 0, Some(b"x"));
    m[11] += 1;
    m.push(0);
    assert!(LegacyBatch::parse(Bytes::from(m)).is_err());
}

/// Parses `data` as a record set and consumes everything, returning how much was read.
fn consume(data: Bytes) -> usize {
    let mut n = 0;
    let mut it = RecordBatches::new(data);
    for b in &mut it {
        let Ok(b) = b else { break };
        let _ = b.validate_crc();
        let _ = (
            b.base_offset(),
            b.last_offset(),
            b.max_timestamp(),
            b.is_control(),
            b.timestamp_type(),
        );
        if let Batch::V2(v2) = &b {
            let _ = v2.control_record();
            let _ = v2.last_sequence();
        }
        for r in b.records_with_limit(1 << 20) {
            let Ok(r) = r else { break };
            n += r.headers.to_vec().len() + r.value.map_or(0, |v| v.len());
            let _ = format!("{:?}", r.headers);
        }
    }
    let _ = it.has_partial_tail();
    n
}

#[test]
fn no_panic_on_truncation_and_corruption() {
    let mut g = Gen::new(0xBADC0DE);
    let mut inputs = Vec::new();
    for codec in CODECS {
        let mut b = RecordBatchBuilder::new(10)
            .compression(codec)
            .producer(5, 1, 0);
        for r in sample_records(10, 12, false) {
            let headers: Vec<(&str, Option<&[u8]>)> = r
                .headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_deref()))
                .collect();
            b.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &headers)
                .unwrap();
        }
        inputs.push(b.build().unwrap());
    }
    for magic in [0, 1] {
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
        ] {
            let msgs = [
                LegacyMessage {
                    timestamp: 5,
                    key: Some(b"key"),
                    value: Some(b"value one"),
                },
                LegacyMessage {
                    timestamp: 6,
                    key: None,
                    value: Some(b"value two"),
                },
            ];
            inputs.push(
                write_message_set(magic, codec, TimestampType::CreateTime, 3, &msgs).unwrap(),
            );
        }
    }
    inputs.push(
        RecordBatchBuilder::control_batch(
            0,
            0,
            0,
            1,
            1,
            ControlRecord {
                kind: ControlRecordKind::Abort,
                coordinator_epoch: 1,
            },
        )
        .unwrap(),
    );
    for input in &inputs {
        assert!(consume(input.clone()) > 0 || input.len() < 100);
        for cut in 0..input.len() {
            consume(input.slice(..cut));
            let _ = RecordBatch::parse(input.slice(..cut));
            let _ = LegacyBatch::parse(input.slice(..cut));
        }
        for _ in 0..3000 {
            let mut m = input.to_vec();
            let flips = 1 + g.below(3);
            for _ in 0..flips {
                // Half the flips land in the first 70 bytes (headers), the rest anywhere.
                let span = if g.bool() { m.len().min(70) } else { m.len() };
                let i = g.below(span as u64) as usize;
                m[i] = match g.below(3) {
                    0 => m[i] ^ (1 << g.below(8)),
                    1 => [0x00, 0xFF, 0x7F, 0x80, 0x01][g.below(5) as usize],
                    _ => g.next_u64() as u8,
                };
            }
            consume(Bytes::from(m));
        }
    }
    // Pure garbage and garbage behind a valid batch header prefix.
    for _ in 0..2000 {
        let n = g.below(200) as usize;
        let mut m: Vec<u8> = (0..n).map(|_| g.next_u64() as u8).collect();
        if m.len() > 17 && g.bool() {
            m[8..12].copy_from_slice(&((n - 12) as i32).to_be_bytes());
            m[16] = g.below(3) as u8;
        }
        consume(Bytes::from(m));
    }
}

#[test]
fn decode_thousand_small_records() {
    let value = [7u8; 100];
    let mut b = RecordBatchBuilder::with_capacity(0, 1000 * 110);
    for i in 0..1000 {
        b.append(1_700_000_000_000 + i, None, Some(&value), &[])
            .unwrap();
    }
    let bytes = b.build().unwrap();
    let batch = RecordBatch::parse(bytes).unwrap();
    batch.validate_crc().unwrap();
    let mut total = 0;
    for r in batch.records() {
        total += r.unwrap().value.map_or(0, |v| v.len());
    }
    assert_eq!(total, 100_000);
}

#[test]
fn records_with_many_empty_fields_and_extreme_deltas_round_trip() {
    // Long runs of short varints between byte strings (null key and value, empty header keys,
    // null header values) and 10-byte timestamp deltas.
    let many: Vec<(String, Option<Vec<u8>>)> = (0..40)
        .map(|i| (String::new(), (i % 3 == 0).then(Vec::new)))
        .collect();
    let records = vec![
        Owned {
            offset: 0,
            timestamp: 0,
            key: None,
            value: None,
            headers: many.clone(),
        },
        Owned {
            offset: 1,
            timestamp: i64::MAX / 2,
            key: Some(Vec::new()),
            value: Some(vec![7; 200]),
            headers: many,
        },
        Owned {
            offset: 2,
            timestamp: i64::MIN / 2,
            key: Some(vec![1; 300]),
            value: None,
            headers: vec![("k".into(), Some(vec![2; 130]))],
        },
    ];
    let batch = RecordBatch::parse(build(RecordBatchBuilder::new(0), &records)).unwrap();
    batch.validate_crc().unwrap();
    let back: Vec<Owned> = batch.records().map(|r| owned(&r.unwrap())).collect();
    assert_eq!(back, records);
}

type ArbRecord = (
    i64,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(String, Option<Vec<u8>>)>,
);

fn arb_record() -> impl Strategy<Value = ArbRecord> {
    (
        -1_000_000i64..1_000_000,
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)),
        proptest::collection::vec(
            (
                "\\PC{0,8}",
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
            ),
            0..4,
        ),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn prop_batch_round_trip(
        base_offset in 0i64..i64::MAX / 2,
        base_ts in 0i64..4_000_000_000_000,
        codec in 0u8..5,
        transactional in any::<bool>(),
        recs in proptest::collection::vec(arb_record(), 0..40),
    ) {
        let codec = Compression::from_id(codec).unwrap();
        let records: Vec<Owned> = recs
            .into_iter()
            .enumerate()
            .map(|(i, (dt, key, value, headers))| Owned {
                offset: base_offset + i as i64,
                timestamp: base_ts + dt,
                key,
                value,
                headers,
            })
            .collect();
        let bytes = build(
            RecordBatchBuilder::new(base_offset).compression(codec).transactional(transactional),
            &records,
        );
        let batch = RecordBatch::parse(bytes).unwrap();
        prop_assert!(batch.validate_crc().is_ok());
        prop_assert_eq!(batch.is_transactional(), transactional);
        prop_assert_eq!(batch.record_count() as usize, records.len());
        let back: Vec<Owned> = batch.records().map(|r| owned(&r.unwrap())).collect();
        prop_assert_eq!(back, records);
    }
}
