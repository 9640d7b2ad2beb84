//! Tests of the partition log through its public API (plus a few file-level manipulations to
//! simulate crashes).

use std::fs;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use kafka_protocol::ErrorCode;
use kafka_protocol::compression::Compression;
use kafka_protocol::records::{RecordBatch, RecordBatchBuilder, RecordBatches, TimestampType};
use proptest::prelude::*;

use super::*;

const NOW: i64 = 1_700_000_000_000;

type KV<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);
type Rec = (i64, i64, Option<Vec<u8>>, Option<Vec<u8>>);

fn batch_with(
    codec: Compression,
    ts: i64,
    records: &[KV<'_>],
    producer: Option<(i64, i16, i32)>,
) -> Bytes {
    let mut b = RecordBatchBuilder::new(0).compression(codec);
    if let Some((id, epoch, seq)) = producer {
        b = b.producer(id, epoch, seq);
    }
    for (i, (k, v)) in records.iter().enumerate() {
        b.append(ts + i as i64, *k, *v, &[("h", Some(b"x".as_slice()))])
            .unwrap();
    }
    b.build().unwrap()
}

/// A batch of `n` records with values `v{i}` and keys `k{i}`.
fn simple(n: usize, ts: i64) -> Bytes {
    let owned: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
        .map(|i| (format!("k{i}").into_bytes(), format!("v{i}").into_bytes()))
        .collect();
    let recs: Vec<KV<'_>> = owned
        .iter()
        .map(|(k, v)| (Some(k.as_slice()), Some(v.as_slice())))
        .collect();
    batch_with(Compression::None, ts, &recs, None)
}

fn idem(pid: i64, epoch: i16, seq: i32, n: usize) -> Bytes {
    let recs: Vec<KV<'_>> = (0..n)
        .map(|_| (Some(b"k".as_slice()), Some(b"v".as_slice())))
        .collect();
    batch_with(Compression::None, NOW, &recs, Some((pid, epoch, seq)))
}

fn small_config() -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        index_interval_bytes: 128,
        ..LogConfig::default()
    }
}

fn open(dir: &Path, config: LogConfig) -> PartitionLog {
    PartitionLog::open(dir.to_path_buf(), config).unwrap()
}

/// All records from the log start to the end, checking each batch's CRC.
fn read_all(log: &PartitionLog) -> Vec<Rec> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let r = log.read(offset, 300, true).unwrap();
        assert!(!r.records.is_empty(), "no data at {offset}");
        let mut next = offset;
        for b in RecordBatches::new(r.records) {
            let b = b.unwrap();
            b.validate_crc().unwrap();
            for rec in b.records() {
                let rec = rec.unwrap();
                if rec.offset >= offset {
                    out.push((
                        rec.offset,
                        rec.timestamp,
                        rec.key.map(|k| k.to_vec()),
                        rec.value.map(|v| v.to_vec()),
                    ));
                }
            }
            next = b.next_offset();
        }
        assert!(next > offset);
        offset = next;
    }
    out
}

fn log_files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn round_trip_every_codec() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig::default());
    let mut expected = Vec::new();
    for (i, codec) in Compression::ALL.into_iter().enumerate() {
        let recs: Vec<KV<'_>> = vec![
            (Some(b"a"), Some(b"one")),
            (None, Some(b"two")),
            (Some(b"c"), None),
        ];
        let data = batch_with(codec, NOW + i as i64 * 10, &recs, None);
        let out = log.append(data.clone(), 3, NOW).unwrap();
        assert_eq!(out.base_offset, i as i64 * 3);
        assert_eq!(out.last_offset, i as i64 * 3 + 2);
        assert_eq!(out.log_append_time, -1);
        assert!(!out.duplicate);
        // Stored batch: same bytes apart from base offset, leader epoch (and CRC untouched).
        let read = log.read(out.base_offset, 1 << 20, false).unwrap();
        let stored = RecordBatch::parse(read.records.clone()).unwrap();
        stored.validate_crc().unwrap();
        assert_eq!(stored.compression(), codec);
        assert_eq!(stored.partition_leader_epoch(), 3);
        assert_eq!(
            stored.crc(),
            RecordBatch::parse(data.clone()).unwrap().crc()
        );
        assert_eq!(read.records.get(17..), data.get(17..));
        for (j, (k, v)) in recs.iter().enumerate() {
            expected.push((
                out.base_offset + j as i64,
                NOW + i as i64 * 10 + j as i64,
                k.map(<[u8]>::to_vec),
                v.map(<[u8]>::to_vec),
            ));
        }
    }
    assert_eq!(read_all(&log), expected);
    log.close().unwrap();
    let log = open(dir.path(), LogConfig::default());
    assert_eq!(read_all(&log), expected);
}

#[test]
fn offsets_across_batches_and_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig::default());
    let mut req = BytesMut::new();
    req.extend_from_slice(&simple(2, NOW));
    req.extend_from_slice(&simple(3, NOW));
    let out = log.append(req.freeze(), 0, NOW).unwrap();
    assert_eq!((out.base_offset, out.last_offset), (0, 4));
    let out = log.append(simple(1, NOW), 0, NOW).unwrap();
    assert_eq!((out.base_offset, out.last_offset), (5, 5));
    assert_eq!(log.log_end_offset(), 6);
    assert_eq!(log.high_watermark(), 6);
    let offs: Vec<i64> = read_all(&log).iter().map(|r| r.0).collect();
    assert_eq!(offs, (0..6).collect::<Vec<_>>());
    // The read of offset 3 starts with the batch holding it (base 2).
    let r = log.read(3, 1 << 20, false).unwrap();
    assert_eq!(RecordBatch::parse(r.records).unwrap().base_offset(), 2);
}

#[test]
fn read_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig::default());
    assert!(log.read(0, 100, true).unwrap().records.is_empty());
    log.append(simple(5, NOW), 0, NOW).unwrap();
    log.append(simple(5, NOW), 0, NOW).unwrap();
    assert!(log.read(10, 100, true).unwrap().records.is_empty());
    let e = log.read(11, 100, true).unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::OffsetOutOfRange);
    assert!(matches!(
        log.read(-1, 100, true),
        Err(LogError::OffsetOutOfRange {
            requested: -1,
            start: 0,
            end: 10
        })
    ));
    // max_bytes smaller than a batch: empty unless min_one_batch.
    assert!(log.read(0, 10, false).unwrap().records.is_empty());
    let one = log.read(0, 10, true).unwrap().records;
    assert_eq!(RecordBatches::new(one.clone()).count(), 1);
    // Exactly whole batches, never a partial one.
    let both = log.read(0, one.len() * 2 - 1, true).unwrap().records;
    assert_eq!(both.len(), one.len());
    let both = log.read(0, one.len() * 2, true).unwrap().records;
    assert_eq!(both.len(), one.len() * 2);
}

#[test]
fn many_small_segments_index_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config();
    let mut log = open(dir.path(), config.clone());
    for i in 0..300 {
        log.append(simple(1 + i % 3, NOW + i as i64), 0, NOW + 1000)
            .unwrap();
    }
    let end = log.log_end_offset();
    assert!(log.segment_count() > 20, "{}", log.segment_count());
    for f in log_files(dir.path(), ".log") {
        assert!(fs::metadata(&f).unwrap().len() <= config.segment_bytes);
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        assert_eq!(name.len(), 24, "{name}");
    }
    let check = |log: &PartitionLog| {
        for o in 0..end {
            let r = log.read(o, 1, true).unwrap();
            let b = RecordBatch::parse(r.records).unwrap();
            assert!(b.base_offset() <= o && o <= b.last_offset(), "offset {o}");
        }
    };
    check(&log);
    // Segment boundaries: reads at every base offset start at that segment.
    for base in log.segment_base_offsets() {
        if base < end {
            let r = log.read(base, 1, true).unwrap();
            assert_eq!(RecordBatch::parse(r.records).unwrap().base_offset(), base);
        }
    }
    let all = read_all(&log);
    log.close().unwrap();
    let log = open(dir.path(), config.clone());
    check(&log);
    assert_eq!(read_all(&log), all);
    drop(log);
    // Without index files (after a clean shutdown marker too).
    for f in log_files(dir.path(), "index") {
        fs::remove_file(f).unwrap();
    }
    let log = open(dir.path(), config);
    check(&log);
    assert_eq!(read_all(&log), all);
    assert_eq!(
        log.offset_for_timestamp(NOW + 150).unwrap().map(|x| x.1),
        Some(NOW + 150)
    );
}

#[test]
fn corrupt_index_files_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config());
    for i in 0..100 {
        log.append(simple(2, NOW + i), 0, NOW).unwrap();
    }
    let all = read_all(&log);
    log.close().unwrap();
    for f in log_files(dir.path(), ".index") {
        fs::write(f, [0xff; 16]).unwrap();
    }
    for f in log_files(dir.path(), ".timeindex") {
        fs::write(f, [1, 2, 3]).unwrap();
    }
    let log = open(dir.path(), small_config());
    assert_eq!(read_all(&log), all);
}

#[test]
fn torn_write_at_every_byte_of_the_last_batch() {
    let base = tempfile::tempdir().unwrap();
    let src = base.path().join("src");
    let mut log = open(&src, LogConfig::default());
    for i in 0..5 {
        log.append(simple(3, NOW + i), 0, NOW).unwrap();
    }
    let before = read_all(&log);
    let last = log.append(simple(4, NOW + 9), 0, NOW).unwrap();
    drop(log); // crash: no clean shutdown
    let seg = src.join(segment::file_name(0, ".log"));
    let full = fs::metadata(&seg).unwrap().len();
    let last_size = simple(4, NOW + 9).len() as u64;
    for cut in (full - last_size)..full {
        let d = base.path().join(format!("cut{cut}"));
        copy_dir(&src, &d);
        let f = fs::OpenOptions::new()
            .write(true)
            .open(d.join(segment::file_name(0, ".log")))
            .unwrap();
        f.set_len(cut).unwrap();
        drop(f);
        let mut log = open(&d, LogConfig::default());
        assert_eq!(log.log_end_offset(), last.base_offset, "cut at {cut}");
        assert_eq!(read_all(&log), before);
        // The log accepts appends after recovery.
        let out = log.append(simple(1, NOW), 0, NOW).unwrap();
        assert_eq!(out.base_offset, last.base_offset);
        fs::remove_dir_all(&d).unwrap();
    }
    // Corruption (bit flip) in the last batch: cut; earlier batches survive.
    for at in [full - last_size + 20, full - 1] {
        let d = base.path().join(format!("flip{at}"));
        copy_dir(&src, &d);
        let p = d.join(segment::file_name(0, ".log"));
        let mut data = fs::read(&p).unwrap();
        data[at as usize] ^= 0x40;
        fs::write(&p, data).unwrap();
        let log = open(&d, LogConfig::default());
        assert_eq!(log.log_end_offset(), last.base_offset);
        assert_eq!(read_all(&log), before);
    }
    // Garbage appended after the last batch.
    let d = base.path().join("garbage");
    copy_dir(&src, &d);
    let p = d.join(segment::file_name(0, ".log"));
    let mut data = fs::read(&p).unwrap();
    data.extend_from_slice(&[0u8; 100]);
    fs::write(&p, data).unwrap();
    let log = open(&d, LogConfig::default());
    assert_eq!(log.log_end_offset(), last.last_offset + 1);
}

#[test]
fn crash_recovery_drops_segments_after_a_cut() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config());
    for i in 0..60 {
        log.append(simple(2, NOW + i), 0, NOW).unwrap();
    }
    log.flush().unwrap();
    for i in 0..60 {
        log.append(simple(2, NOW + i), 0, NOW).unwrap();
    }
    let bases = log.segment_base_offsets();
    drop(log);
    // Lost checkpoint: every segment is recovered.
    fs::remove_file(dir.path().join("partition.checkpoint")).unwrap();
    // Corrupt the middle of a segment after the recovery point.
    let victim = bases[bases.len() - 3];
    let p = dir.path().join(segment::file_name(victim, ".log"));
    let mut data = fs::read(&p).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    fs::write(&p, data).unwrap();
    let log = open(dir.path(), small_config());
    assert!(log.log_end_offset() < bases[bases.len() - 2]);
    assert!(log.log_end_offset() >= victim);
    assert_eq!(*log.segment_base_offsets().last().unwrap(), victim);
    assert_eq!(read_all(&log).len() as i64, log.log_end_offset());
}

#[test]
fn validation_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(
        dir.path(),
        LogConfig {
            max_message_bytes: 500,
            ..LogConfig::default()
        },
    );
    // CRC mismatch.
    let mut bad = BytesMut::from(&simple(2, NOW)[..]);
    let n = bad.len();
    bad[n - 1] ^= 1;
    let e = log.append(bad.freeze(), 0, NOW).unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::CorruptMessage);
    // Too large.
    let e = log.append(simple(50, NOW), 0, NOW).unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::MessageTooLarge);
    // Partial trailing batch.
    let mut partial = BytesMut::from(&simple(1, NOW)[..]);
    partial.extend_from_slice(&simple(1, NOW)[..30]);
    let e = log.append(partial.freeze(), 0, NOW).unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::CorruptMessage);
    // Legacy magic.
    let legacy = kafka_protocol::records::legacy::write_message_set(
        1,
        Compression::None,
        TimestampType::CreateTime,
        0,
        &[kafka_protocol::records::legacy::LegacyMessage {
            timestamp: NOW,
            key: Some(b"k"),
            value: Some(b"v"),
        }],
    )
    .unwrap();
    let e = log.append(legacy, 0, NOW).unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::InvalidRecord);
    // Record count not matching the last offset delta (header edited, CRC fixed).
    let mut b = BytesMut::from(&simple(2, NOW)[..]);
    b[57..61].copy_from_slice(&3i32.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    let e = log.append(b.freeze(), 0, NOW).unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::InvalidRecord);
    // Timestamp too far in the future.
    let e = log
        .append(simple(1, NOW + 2 * 3_600_000), 0, NOW)
        .unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::InvalidTimestamp);
    // Empty.
    assert!(log.append(Bytes::new(), 0, NOW).is_err());
    // Control batch from a client.
    let ctl = RecordBatchBuilder::control_batch(
        0,
        NOW,
        0,
        5,
        0,
        kafka_protocol::records::ControlRecord {
            kind: kafka_protocol::records::ControlRecordKind::Commit,
            coordinator_epoch: 0,
        },
    )
    .unwrap();
    let e = log.append(ctl.clone(), 0, NOW).unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::InvalidRecord);
    log.append_with_origin(ctl, 0, NOW, AppendOrigin::Coordinator)
        .unwrap();
    // Segment too small for the request.
    log.set_config(LogConfig {
        segment_bytes: 50,
        ..LogConfig::default()
    });
    let e = log.append(simple(1, NOW), 0, NOW).unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::RecordListTooLarge);
    // Nothing but the control batch was written.
    assert_eq!(log.log_end_offset(), 1);
}

#[test]
fn log_append_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        timestamp_type: LogTimestampType::LogAppendTime,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config);
    for codec in [Compression::None, Compression::Lz4] {
        let data = batch_with(
            codec,
            5,
            &[(Some(b"k"), Some(b"v")), (Some(b"k"), None)],
            None,
        );
        let out = log.append(data, 0, NOW).unwrap();
        assert_eq!(out.log_append_time, NOW);
        let r = log.read(out.base_offset, 1 << 20, true).unwrap();
        let b = RecordBatch::parse(r.records).unwrap();
        b.validate_crc().unwrap();
        assert_eq!(b.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(b.max_timestamp(), NOW);
        assert!(b.records().all(|r| r.unwrap().timestamp == NOW));
    }
    assert_eq!(log.offset_for_timestamp(NOW).unwrap(), Some((0, NOW)));
}

#[test]
fn idempotent_producer_rules() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig::default());
    let a = log.append(idem(7, 0, 0, 3), 0, NOW).unwrap();
    assert_eq!((a.base_offset, a.last_offset), (0, 2));
    log.append(simple(2, NOW), 0, NOW).unwrap(); // someone else writes
    let b = log.append(idem(7, 0, 3, 2), 0, NOW).unwrap();
    assert_eq!((b.base_offset, b.last_offset), (5, 6));
    // Retries of either cached batch return the original offsets, writing nothing.
    let d = log.append(idem(7, 0, 0, 3), 0, NOW).unwrap();
    assert_eq!((d.base_offset, d.last_offset, d.duplicate), (0, 2, true));
    let d = log.append(idem(7, 0, 3, 2), 0, NOW).unwrap();
    assert_eq!((d.base_offset, d.last_offset, d.duplicate), (5, 6, true));
    assert_eq!(log.log_end_offset(), 7);
    // Gap.
    let e = log.append(idem(7, 0, 6, 1), 0, NOW).unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::OutOfOrderSequenceNumber);
    // New epoch must start at 0.
    let e = log.append(idem(7, 1, 5, 1), 0, NOW).unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::OutOfOrderSequenceNumber);
    log.append(idem(7, 1, 0, 1), 0, NOW).unwrap();
    // Old epoch fenced.
    let e = log.append(idem(7, 0, 5, 1), 0, NOW).unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::InvalidProducerEpoch);
    // Unknown producers may start anywhere (Kafka 2.5+).
    log.append(idem(8, 0, 42, 1), 0, NOW).unwrap();
    // Sequence wraps at i32::MAX.
    log.append(idem(9, 0, i32::MAX - 1, 2), 0, NOW).unwrap();
    log.append(idem(9, 0, 0, 1), 0, NOW).unwrap();
    assert_eq!(log.producer_state(9), Some((0, Some(0))));
    // Two batches of one producer in one request chain.
    let mut req = BytesMut::new();
    req.extend_from_slice(&idem(10, 0, 0, 2));
    req.extend_from_slice(&idem(10, 0, 2, 2));
    log.append(req.freeze(), 0, NOW).unwrap();
    let mut req = BytesMut::new();
    req.extend_from_slice(&idem(10, 0, 4, 2));
    req.extend_from_slice(&idem(10, 0, 7, 2));
    assert!(log.append(req.freeze(), 0, NOW).is_err());
    assert_eq!(log.producer_state(10), Some((0, Some(3))));
    // Only 5 batches are remembered.
    for i in 0..6 {
        log.append(idem(11, 0, i, 1), 0, NOW).unwrap();
    }
    assert!(log.append(idem(11, 0, 0, 1), 0, NOW).is_err());
    assert!(log.append(idem(11, 0, 1, 1), 0, NOW).unwrap().duplicate);
}

#[test]
fn producer_state_survives_close_and_crash() {
    for crash in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), small_config());
        let mut seq = 0;
        let mut last = None;
        for _ in 0..40 {
            last = Some(log.append(idem(3, 2, seq, 2), 0, NOW).unwrap());
            seq += 2;
        }
        let last = last.unwrap();
        if crash {
            drop(log);
        } else {
            log.close().unwrap();
        }
        let mut log = open(dir.path(), small_config());
        let d = log.append(idem(3, 2, seq - 2, 2), 0, NOW).unwrap();
        assert!(d.duplicate, "crash={crash}");
        assert_eq!(d.base_offset, last.base_offset);
        let e = log.append(idem(3, 2, seq + 1, 1), 0, NOW).unwrap_err();
        assert_eq!(e.error_code(), ErrorCode::OutOfOrderSequenceNumber);
        let e = log.append(idem(3, 1, 0, 1), 0, NOW).unwrap_err();
        assert_eq!(e.error_code(), ErrorCode::InvalidProducerEpoch);
        log.append(idem(3, 2, seq, 1), 0, NOW).unwrap();
        // Without any snapshot: rebuilt from the log.
        drop(log);
        for f in log_files(dir.path(), ".snapshot") {
            fs::remove_file(f).unwrap();
        }
        let mut log = open(dir.path(), small_config());
        assert_eq!(log.producer_state(3), Some((2, Some(seq))));
        assert!(log.append(idem(3, 2, seq, 1), 0, NOW).unwrap().duplicate);
    }
}

#[test]
fn retention_by_time_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: Some(10_000),
        segment_ms: None,
        ..small_config()
    };
    let mut log = open(dir.path(), config.clone());
    for i in 0..100 {
        log.append(simple(2, NOW + i * 100), 0, NOW + 20_000)
            .unwrap();
    }
    let segs = log.segment_count();
    assert!(segs > 5);
    // Nothing is old enough yet.
    log.maintain(NOW + 5_000).unwrap();
    assert_eq!(log.segment_count(), segs);
    assert_eq!(log.log_start_offset(), 0);
    // Segments whose newest record is older than 10 s at NOW + 15 s: timestamps < NOW + 5 s.
    log.maintain(NOW + 15_000).unwrap();
    let start = log.log_start_offset();
    assert!(start > 0);
    assert_eq!(log.segment_base_offsets()[0], start);
    // Batch i (offsets 2i, 2i+1) has max timestamp NOW + 100i + 1: only batches below
    // NOW + 5 s may go, i.e. offsets below 100.
    assert!(start <= 100, "{start}");
    assert!(matches!(
        log.read(start - 1, 100, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    // Far future: everything but the active segment.
    log.maintain(NOW + 1_000_000).unwrap();
    assert_eq!(log.segment_count(), 1);
    // Size.
    let dir2 = tempfile::tempdir().unwrap();
    let config = LogConfig {
        retention_ms: None,
        retention_bytes: Some(3000),
        ..small_config()
    };
    let mut log = open(dir2.path(), config.clone());
    for i in 0..100 {
        log.append(simple(2, NOW + i), 0, NOW).unwrap();
    }
    log.maintain(NOW).unwrap();
    assert!(
        log.size_bytes() <= 3000 + config.segment_bytes,
        "{}",
        log.size_bytes()
    );
    assert!(log.size_bytes() > 3000 - config.segment_bytes);
    let start = log.log_start_offset();
    log.close().unwrap();
    let log = open(dir2.path(), config);
    assert_eq!(log.log_start_offset(), start);
    assert_eq!(read_all(&log).len() as i64, log.log_end_offset() - start);
}

#[test]
fn roll_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_ms: Some(1000),
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config);
    log.append(simple(1, NOW), 0, NOW).unwrap();
    log.append(simple(1, NOW), 0, NOW + 500).unwrap();
    assert_eq!(log.segment_count(), 1);
    log.append(simple(1, NOW + 1500), 0, NOW + 1500).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2]);
    log.maintain(NOW + 3000).unwrap();
    assert_eq!(log.segment_base_offsets(), vec![0, 2, 3]);
}

#[test]
fn delete_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config());
    for i in 0..100 {
        log.append(simple(2, NOW + i), 0, NOW).unwrap();
    }
    let segs = log.segment_count();
    assert_eq!(log.delete_records_before(51).unwrap(), 51);
    assert_eq!(log.log_start_offset(), 51);
    assert!(log.segment_count() < segs);
    assert!(log.segment_base_offsets()[0] <= 51);
    assert!(matches!(
        log.read(50, 100, true),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    let recs = read_all(&log);
    assert_eq!(recs.first().unwrap().0, 51);
    assert_eq!(log.delete_records_before(10).unwrap(), 51);
    assert!(log.delete_records_before(1000).is_err());
    assert_eq!(log.offset_for_timestamp(NOW).unwrap().unwrap().0, 51);
    log.close().unwrap();
    let mut log = open(dir.path(), small_config());
    assert_eq!(log.log_start_offset(), 51);
    assert_eq!(log.delete_records_before(-1).unwrap(), 200);
    assert_eq!(log.segment_count(), 1);
    assert!(log.read(200, 100, true).unwrap().records.is_empty());
    drop(log);
    let mut log = open(dir.path(), small_config());
    assert_eq!(log.log_start_offset(), 200);
    assert_eq!(log.append(simple(1, NOW), 0, NOW).unwrap().base_offset, 200);
}

fn keyed(pairs: &[(&str, Option<&str>)], ts: i64) -> Bytes {
    let recs: Vec<KV<'_>> = pairs
        .iter()
        .map(|(k, v)| (Some(k.as_bytes()), v.map(str::as_bytes)))
        .collect();
    batch_with(Compression::None, ts, &recs, None)
}

#[test]
fn compaction_keeps_latest_per_key_and_tombstone_rules() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        delete_retention_ms: 1000,
        segment_bytes: 400,
        ..small_config()
    };
    let mut log = open(dir.path(), config.clone());
    // Keyless records are refused.
    let e = log
        .append(
            batch_with(Compression::None, NOW, &[(None, Some(b"v"))], None),
            0,
            NOW,
        )
        .unwrap_err();
    assert_eq!(e.error_code(), ErrorCode::InvalidRecord);
    let mut latest = std::collections::BTreeMap::new();
    for i in 0..63 {
        let key = if i < 55 {
            format!("key{}", i % 5)
        } else {
            format!("filler{i}")
        };
        let val = format!("val{i}");
        let codec = Compression::ALL[i % 5];
        let value = if i == 52 { None } else { Some(val.as_bytes()) };
        let data = batch_with(
            codec,
            NOW + i as i64,
            &[(Some(key.as_bytes()), value)],
            None,
        );
        let out = log.append(data, 0, NOW + 100).unwrap();
        latest.insert(key, (out.base_offset, value.map(<[u8]>::to_vec)));
    }
    let end = log.log_end_offset();
    let active_base = *log.segment_base_offsets().last().unwrap();
    let before_size = log.size_bytes();
    let stats = log.compact(NOW + 100).unwrap();
    assert!(stats.records_removed > 0);
    assert!(log.size_bytes() < before_size);
    assert_eq!(log.log_end_offset(), end);
    let recs = read_all(&log);
    // Cleaned part: one record per key (the newest); the active segment untouched.
    let cleaned: Vec<&Rec> = recs.iter().filter(|r| r.0 < active_base).collect();
    let mut seen = std::collections::HashSet::new();
    for r in &cleaned {
        assert!(
            seen.insert(r.2.clone()),
            "duplicate key in cleaned part: {r:?}"
        );
    }
    for (key, (offset, value)) in &latest {
        let r = recs.iter().find(|r| r.0 == *offset).unwrap();
        assert_eq!(r.2.as_deref(), Some(key.as_bytes()));
        assert_eq!(&r.3, value);
    }
    // The tombstone (offset 52) survives until its horizon.
    let tomb = latest.get("key2").unwrap().0;
    assert_eq!(tomb, 52);
    assert!(tomb < active_base);
    {
        assert!(recs.iter().any(|r| r.0 == tomb));
        log.compact(NOW + 500).unwrap();
        assert!(read_all(&log).iter().any(|r| r.0 == tomb));
        assert!(log.compaction_due(NOW + 2000));
        log.maintain(NOW + 2000).unwrap();
        assert!(
            !read_all(&log)
                .iter()
                .any(|r| r.0 == tomb || r.2.as_deref() == Some(b"key2"))
        );
    }
    // Every offset still readable (gaps are skipped).
    for o in 0..end {
        let r = log.read(o, 1, true).unwrap();
        let b = RecordBatch::parse(r.records).unwrap();
        assert!(b.last_offset() >= o);
    }
    let after = read_all(&log);
    log.close().unwrap();
    let log = open(dir.path(), config);
    assert_eq!(read_all(&log), after);
}

#[test]
fn compaction_respects_min_lag_and_multi_record_batches() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::CompactDelete,
        min_compaction_lag_ms: 10_000,
        retention_ms: None,
        segment_bytes: 300,
        ..small_config()
    };
    let mut log = open(dir.path(), config);
    for i in 0..20 {
        let data = keyed(
            &[("a", Some("x")), ("b", Some("y")), ("a", Some("z"))],
            NOW + i,
        );
        log.append(data, 0, NOW).unwrap();
    }
    let n = read_all(&log).len();
    // Too young.
    assert_eq!(log.compact(NOW + 5_000).unwrap().segments_cleaned, 0);
    assert_eq!(read_all(&log).len(), n);
    let stats = log.compact(NOW + 20_000).unwrap();
    assert!(stats.segments_cleaned > 0);
    let recs = read_all(&log);
    assert!(recs.len() < n);
    // The last batch's records remain; offsets kept.
    let last: Vec<i64> = recs.iter().rev().take(3).map(|r| r.0).collect();
    assert_eq!(last, vec![59, 58, 57]);
    for w in recs.windows(2) {
        assert!(w[0].0 < w[1].0);
    }
}

#[test]
fn offset_for_timestamp_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), small_config());
    assert_eq!(log.offset_for_timestamp(NOW).unwrap(), None);
    assert_eq!(log.max_timestamp(), None);
    // Batch i holds timestamps NOW + 10i, NOW + 10i + 1 (offsets 2i, 2i+1).
    for i in 0..100 {
        log.append(simple(2, NOW + 10 * i), 0, NOW + 2000).unwrap();
    }
    // An out-of-order batch in the middle of time.
    log.append(simple(1, NOW + 5), 0, NOW + 2000).unwrap();
    for i in 0..100i64 {
        let t = NOW + 10 * i;
        assert_eq!(log.offset_for_timestamp(t).unwrap(), Some((2 * i, t)));
        assert_eq!(
            log.offset_for_timestamp(t + 1).unwrap(),
            Some((2 * i + 1, t + 1))
        );
        if i < 99 {
            assert_eq!(
                log.offset_for_timestamp(t + 2).unwrap(),
                Some((2 * i + 2, t + 10))
            );
        }
    }
    assert_eq!(log.offset_for_timestamp(NOW + 2000).unwrap(), None);
    assert_eq!(log.offset_for_timestamp(-2).unwrap(), Some((0, -1)));
    assert_eq!(log.offset_for_timestamp(-1).unwrap(), Some((201, -1)));
    assert_eq!(log.max_timestamp(), Some((NOW + 991, 199)));
    assert_eq!(
        log.offset_for_timestamp(-3).unwrap(),
        Some((199, NOW + 991))
    );
    log.close().unwrap();
    let log = open(dir.path(), small_config());
    assert_eq!(
        log.offset_for_timestamp(NOW + 500).unwrap(),
        Some((100, NOW + 500))
    );
    assert_eq!(log.max_timestamp(), Some((NOW + 991, 199)));
}

#[test]
fn leader_epochs() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig::default());
    assert_eq!(log.end_offset_for_epoch(0), (-1, -1));
    log.append(simple(5, NOW), 1, NOW).unwrap(); // 0..5 epoch 1
    log.append(simple(5, NOW), 1, NOW).unwrap(); // 5..10
    log.append(simple(5, NOW), 3, NOW).unwrap(); // 10..15 epoch 3
    log.append(simple(5, NOW), 4, NOW).unwrap(); // 15..20 epoch 4
    assert_eq!(log.end_offset_for_epoch(4), (4, 20));
    assert_eq!(log.end_offset_for_epoch(3), (3, 15));
    assert_eq!(log.end_offset_for_epoch(2), (1, 10));
    assert_eq!(log.end_offset_for_epoch(1), (1, 10));
    assert_eq!(log.end_offset_for_epoch(0), (0, 0));
    assert_eq!(log.end_offset_for_epoch(5), (-1, -1));
    assert_eq!(log.end_offset_for_epoch(-1), (-1, -1));
    log.close().unwrap();
    let log = open(dir.path(), LogConfig::default());
    assert_eq!(log.end_offset_for_epoch(3), (3, 15));
    drop(log);
    // Lost checkpoint: rebuilt from the batches.
    fs::remove_file(dir.path().join(epoch_cache::EPOCH_CHECKPOINT)).unwrap();
    let log = open(dir.path(), LogConfig::default());
    assert_eq!(log.end_offset_for_epoch(2), (1, 10));
    assert_eq!(log.end_offset_for_epoch(4), (4, 20));
}

#[test]
fn flush_settings() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        flush_interval_messages: Some(1),
        flush_interval_ms: Some(0),
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config);
    for _ in 0..10 {
        log.append(simple(1, NOW), 0, NOW).unwrap();
    }
    log.flush().unwrap();
    drop(log);
    let log = open(dir.path(), LogConfig::default());
    assert_eq!(log.log_end_offset(), 10);
    log.delete().unwrap();
    assert!(!dir.path().exists());
}

#[test]
fn transactional_batches_hold_the_last_stable_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig::default());
    log.append(simple(2, NOW), 0, NOW).unwrap();
    let mut b = RecordBatchBuilder::new(0)
        .producer(5, 0, 0)
        .transactional(true);
    b.append(NOW, Some(b"k"), Some(b"v"), &[]).unwrap();
    log.append(b.build().unwrap(), 0, NOW).unwrap();
    log.append(simple(2, NOW), 0, NOW).unwrap();
    let r = log.read(0, 1 << 20, true).unwrap();
    assert_eq!((r.high_watermark, r.last_stable_offset), (5, 2));
    let ctl = RecordBatchBuilder::control_batch(
        0,
        NOW,
        0,
        5,
        0,
        kafka_protocol::records::ControlRecord {
            kind: kafka_protocol::records::ControlRecordKind::Commit,
            coordinator_epoch: 0,
        },
    )
    .unwrap();
    log.append_with_origin(ctl, 0, NOW, AppendOrigin::Coordinator)
        .unwrap();
    assert_eq!(log.last_stable_offset(), 6);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_appends_then_reopen_read_the_same(
        batches in proptest::collection::vec((1usize..6, 0usize..5, 0i64..1000), 1..40),
        crash in any::<bool>(),
        segment_bytes in 600u64..3000,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig { segment_bytes, index_interval_bytes: 64, ..LogConfig::default() };
        let mut log = open(dir.path(), config.clone());
        let mut expected_end = 0;
        for (n, codec, ts) in &batches {
            let owned: Vec<Vec<u8>> = (0..*n).map(|i| vec![i as u8; i * 7]).collect();
            let recs: Vec<KV<'_>> =
                owned.iter().map(|v| (Some(v.as_slice()), Some(v.as_slice()))).collect();
            let data = batch_with(Compression::ALL[*codec], NOW + ts, &recs, None);
            let out = log.append(data, 0, NOW).unwrap();
            prop_assert_eq!(out.base_offset, expected_end);
            expected_end += *n as i64;
        }
        let before = read_all(&log);
        let ts_before: Vec<_> = (0..1000).step_by(97)
            .map(|t| log.offset_for_timestamp(NOW + t).unwrap()).collect();
        if crash { drop(log) } else { log.close().unwrap() }
        let log = open(dir.path(), config);
        prop_assert_eq!(log.log_end_offset(), expected_end);
        prop_assert_eq!(read_all(&log), before);
        let ts_after: Vec<_> = (0..1000).step_by(97)
            .map(|t| log.offset_for_timestamp(NOW + t).unwrap()).collect();
        prop_assert_eq!(ts_after, ts_before);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Garbage in any file of the directory never panics: open recovers or fails, and reads
    /// of the recovered range succeed.
    #[test]
    fn garbage_files_never_panic(
        prefix_batches in 0usize..4,
        garbage in proptest::collection::vec(any::<u8>(), 0..400),
        index_garbage in proptest::collection::vec(any::<u8>(), 0..64),
        snapshot_garbage in proptest::collection::vec(any::<u8>(), 0..64),
        clean in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default());
        for i in 0..prefix_batches {
            log.append(simple(2, NOW + i as i64), 0, NOW).unwrap();
        }
        let good = read_all(&log);
        log.close().unwrap();
        let seg = dir.path().join(segment::file_name(0, ".log"));
        let mut data = fs::read(&seg).unwrap();
        data.extend_from_slice(&garbage);
        fs::write(&seg, data).unwrap();
        fs::write(dir.path().join(segment::file_name(0, ".index")), &index_garbage).unwrap();
        fs::write(dir.path().join(segment::file_name(0, ".snapshot")), &snapshot_garbage).unwrap();
        fs::write(dir.path().join(epoch_cache::EPOCH_CHECKPOINT), &index_garbage).unwrap();
        if !clean {
            let _ = fs::remove_file(dir.path().join(recovery::CLEAN_SHUTDOWN));
        }
        if let Ok(log) = PartitionLog::open(dir.path().to_path_buf(), LogConfig::default()) {
            let all = read_all(&log);
            prop_assert!(all.len() >= good.len());
            prop_assert_eq!(&all[..good.len()], &good[..]);
            let _ = log.offset_for_timestamp(NOW);
            let _ = log.max_timestamp();
        }
    }
}

#[test]
fn small_and_large_batches_in_one_append_keep_their_bytes() {
    // Small batches are gathered into one write, large ones (>= 16 KiB) written straight from
    // the request; either way offsets are assigned, CRCs hold, records are unchanged, and
    // log-append time rewrites the CRC over the untouched records.
    for ts_type in [
        LogTimestampType::CreateTime,
        LogTimestampType::LogAppendTime,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            timestamp_type: ts_type,
            ..LogConfig::default()
        };
        let mut log = open(dir.path(), config);
        let big = vec![b'x'; 40_000];
        let mut all = BytesMut::new();
        all.extend_from_slice(&simple(3, NOW));
        all.extend_from_slice(&batch_with(
            Compression::None,
            NOW,
            &[(Some(b"big"), Some(big.as_slice()))],
            None,
        ));
        all.extend_from_slice(&simple(2, NOW));
        let out = log.append(all.freeze(), 4, NOW + 5).unwrap();
        assert_eq!((out.base_offset, out.last_offset), (0, 5));
        let r = log.read(0, 1 << 20, true).unwrap();
        let batches: Vec<RecordBatch> = RecordBatches::new(r.records)
            .map(|b| match b.unwrap() {
                Batch::V2(b) => b,
                Batch::Legacy(_) => panic!("legacy batch"),
            })
            .collect();
        assert_eq!(batches.len(), 3);
        for b in &batches {
            b.validate_crc().unwrap();
            assert_eq!(b.partition_leader_epoch(), 4);
        }
        let bases: Vec<i64> = batches.iter().map(|b| b.base_offset()).collect();
        assert_eq!(bases, vec![0, 3, 4]);
        let rec = batches[1].records().next().unwrap().unwrap();
        assert_eq!(rec.value.as_deref(), Some(big.as_slice()));
        if ts_type == LogTimestampType::LogAppendTime {
            assert!(batches.iter().all(|b| b.max_timestamp() == NOW + 5));
        }
        assert_eq!(read_all(&log).len(), 6);
    }
}

fn txn_batch(pid: i64, epoch: i16, seq: i32, n: usize) -> Bytes {
    let mut b = RecordBatchBuilder::new(0)
        .producer(pid, epoch, seq)
        .transactional(true);
    for i in 0..n {
        b.append(NOW + i as i64, Some(b"k"), Some(b"v"), &[])
            .unwrap();
    }
    b.build().unwrap()
}

fn marker(pid: i64, epoch: i16, commit: bool) -> Bytes {
    use kafka_protocol::records::{ControlRecord, ControlRecordKind};
    let kind = if commit {
        ControlRecordKind::Commit
    } else {
        ControlRecordKind::Abort
    };
    RecordBatchBuilder::control_batch(
        0,
        NOW,
        0,
        pid,
        epoch,
        ControlRecord {
            kind,
            coordinator_epoch: 0,
        },
    )
    .unwrap()
}

/// Offsets of the data records (not markers) in `records`.
fn data_offsets(records: Bytes) -> Vec<i64> {
    let mut out = Vec::new();
    for b in RecordBatches::new(records) {
        let b = b.unwrap();
        if b.is_control() {
            continue;
        }
        for r in b.records() {
            out.push(r.unwrap().offset);
        }
    }
    out
}

#[test]
fn last_stable_offset_and_aborted_index_survive_restarts_and_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig::default());
    // pid 1: 0..=1 aborted (marker 4); pid 2: 2..=3 committed (marker 5); pid 3 ongoing from 6.
    log.append(txn_batch(1, 0, 0, 2), 0, NOW).unwrap();
    assert_eq!(log.last_stable_offset(), 0);
    log.append(txn_batch(2, 0, 0, 2), 0, NOW).unwrap();
    assert!(
        log.append(marker(1, 0, false), 0, NOW).is_err(),
        "clients cannot write markers"
    );
    log.append_with_origin(marker(1, 0, false), 0, NOW, AppendOrigin::Coordinator)
        .unwrap();
    assert_eq!(log.last_stable_offset(), 2, "pid 2 still open");
    log.append_with_origin(marker(2, 0, true), 0, NOW, AppendOrigin::Coordinator)
        .unwrap();
    assert_eq!(log.last_stable_offset(), 6);
    log.append(txn_batch(3, 0, 0, 1), 0, NOW).unwrap();
    log.append(simple(1, NOW), 0, NOW).unwrap();
    assert_eq!((log.last_stable_offset(), log.high_watermark()), (6, 8));

    let check = |log: &PartitionLog| {
        let (r, aborted) = log.read_committed(0, 1 << 20, true).unwrap();
        assert_eq!(r.last_stable_offset, 6);
        // Everything below the LSO, nothing of the open transaction or after it.
        assert_eq!(data_offsets(r.records), vec![0, 1, 2, 3]);
        assert_eq!(
            aborted,
            vec![AbortedTxn {
                producer_id: 1,
                first_offset: 0,
                last_offset: 4,
                last_stable_offset: 2,
            }]
        );
        // From after the aborted range: no aborted transaction overlaps.
        let (_, later) = log.read_committed(5, 1 << 20, true).unwrap();
        assert!(later.is_empty());
        // At the LSO: nothing yet.
        let (r, _) = log.read_committed(6, 1 << 20, true).unwrap();
        assert!(r.records.is_empty());
        // read_uncommitted still sees everything.
        assert_eq!(
            data_offsets(log.read(0, 1 << 20, true).unwrap().records),
            vec![0, 1, 2, 3, 6, 7]
        );
    };
    check(&log);
    log.close().unwrap();
    assert_eq!(log_files(dir.path(), ".txnindex").len(), 1);

    // Clean restart.
    let log = open(dir.path(), LogConfig::default());
    check(&log);
    drop(log); // a crash: no clean-shutdown marker

    // Crash with the index lost: recovery rebuilds it from the markers.
    for f in log_files(dir.path(), ".txnindex") {
        fs::remove_file(f).unwrap();
    }
    for f in log_files(dir.path(), ".snapshot") {
        fs::remove_file(f).unwrap();
    }
    let mut log = open(dir.path(), LogConfig::default());
    check(&log);
    assert_eq!(log.aborted_transactions().len(), 1);

    // Completing the open transaction moves the LSO to the end.
    log.append_with_origin(marker(3, 0, false), 0, NOW, AppendOrigin::Coordinator)
        .unwrap();
    assert_eq!(log.last_stable_offset(), log.high_watermark());
    let (r, aborted) = log.read_committed(0, 1 << 20, true).unwrap();
    assert_eq!(data_offsets(r.records), vec![0, 1, 2, 3, 6, 7]);
    assert_eq!(aborted.len(), 2);
    assert_eq!((aborted[1].producer_id, aborted[1].first_offset), (3, 6));

    // Deleting the segments removes their index files.
    log.delete_records_before(-1).unwrap();
    log.maintain(NOW).unwrap();
    assert!(log.aborted_transactions().is_empty());
    assert!(log_files(dir.path(), ".txnindex").is_empty());
}

#[test]
fn compaction_drops_aborted_transactional_records() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        cleanup_policy: CleanupPolicy::Compact,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config);
    let keyed =
        |value: &[u8]| batch_with(Compression::None, NOW, &[(Some(b"k"), Some(value))], None);
    log.append(keyed(b"committed"), 0, NOW).unwrap(); // 0
    let mut b = RecordBatchBuilder::new(0)
        .producer(9, 0, 0)
        .transactional(true);
    b.append(NOW, Some(b"k"), Some(b"aborted"), &[]).unwrap();
    log.append(b.build().unwrap(), 0, NOW).unwrap(); // 1
    log.append_with_origin(marker(9, 0, false), 0, NOW, AppendOrigin::Coordinator)
        .unwrap(); // 2
    let other = batch_with(
        Compression::None,
        NOW,
        &[(Some(b"x"), Some(b"other"))],
        None,
    );
    log.append(other, 0, NOW).unwrap(); // 3, another key
    log.roll(NOW).unwrap();
    let stats = log.compact(NOW).unwrap();
    assert!(stats.segments_cleaned >= 1);
    let mut values: Vec<Vec<u8>> = Vec::new();
    for b in RecordBatches::new(log.read(0, 1 << 20, true).unwrap().records) {
        let b = b.unwrap();
        if !b.is_control() {
            values.extend(b.records().map(|r| r.unwrap().value.unwrap().to_vec()));
        }
    }
    // The aborted record neither survives nor displaces the committed one of its key.
    assert_eq!(values, vec![b"committed".to_vec(), b"other".to_vec()]);
}
