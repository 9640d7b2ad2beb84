//! Compression codec tests.

use super::*;
use crate::primitives::testgen::Gen;

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// Mixed data: compressible text runs with random bytes in between.
fn sample(len: usize, seed: u64) -> Vec<u8> {
    let mut g = Gen::new(seed);
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        if g.bool() {
            v.extend_from_slice(b"the quick brown fox jumps over the lazy dog ");
        } else {
            for _ in 0..g.below(64) {
                v.push(g.next_u64() as u8);
            }
        }
    }
    v.truncate(len);
    v
}

fn random(len: usize, seed: u64) -> Vec<u8> {
    let mut g = Gen::new(seed);
    (0..len).map(|_| g.next_u64() as u8).collect()
}

#[test]
fn ids_names_parse() {
    for (i, c) in CODECS.iter().enumerate() {
        assert_eq!(c.id() as usize, i);
        assert_eq!(Compression::from_id(i as u8).unwrap(), *c);
        assert_eq!(c.name().parse::<Compression>().unwrap(), *c);
        assert_eq!(c.to_string(), c.name());
    }
    assert_eq!("GZIP".parse::<Compression>().unwrap(), Compression::Gzip);
    assert!("brotli".parse::<Compression>().is_err());
    assert_eq!(
        Compression::from_id(5),
        Err(ProtocolError::UnknownCompression(5))
    );
    assert_eq!(Compression::default(), Compression::None);
}

#[test]
fn round_trip_all_codecs_many_sizes() {
    let sizes = [
        0,
        1,
        100,
        snappy::XERIAL_BLOCK_SIZE - 1,
        snappy::XERIAL_BLOCK_SIZE,
        snappy::XERIAL_BLOCK_SIZE + 1,
        lz4::BLOCK_SIZE - 1,
        lz4::BLOCK_SIZE,
        lz4::BLOCK_SIZE + 1,
        3 * lz4::BLOCK_SIZE + 17,
        300_000,
    ];
    for codec in CODECS {
        for (i, &n) in sizes.iter().enumerate() {
            for data in [sample(n, i as u64), random(n, i as u64 + 100)] {
                let packed = compress(codec, &data, None).unwrap();
                let back = decompress(codec, &packed, DEFAULT_MAX_DECOMPRESSED_SIZE).unwrap();
                assert_eq!(back.len(), data.len(), "{codec} size {n}");
                assert!(back == data, "{codec} size {n}");
                // Exactly enough room is fine.
                let exact = decompress(codec, &packed, data.len()).unwrap();
                assert_eq!(exact.len(), data.len());
            }
        }
    }
}

#[test]
fn levels() {
    let data = sample(50_000, 1);
    for level in [
        None,
        Some(-1),
        Some(0),
        Some(1),
        Some(9),
        Some(22),
        Some(100),
        Some(-5),
    ] {
        for codec in CODECS {
            let packed = compress(codec, &data, level).unwrap();
            assert_eq!(decompress(codec, &packed, usize::MAX).unwrap(), data);
        }
    }
    let fast = compress(Compression::Gzip, &data, Some(1)).unwrap();
    let best = compress(Compression::Gzip, &data, Some(9)).unwrap();
    assert!(best.len() <= fast.len());
}

#[test]
fn decompression_bomb_limit() {
    let zeros = vec![0u8; 4 << 20];
    for codec in CODECS {
        let packed = compress(codec, &zeros, None).unwrap();
        if codec != Compression::None {
            assert!(packed.len() < zeros.len() / 20, "{codec} compresses zeros");
        }
        for limit in [0, 1000, 64 * 1024, (4 << 20) - 1] {
            let err = decompress(codec, &packed, limit).unwrap_err();
            assert!(
                matches!(err, ProtocolError::Compression { .. }),
                "{codec}: {err}"
            );
        }
        assert_eq!(decompress(codec, &packed, 4 << 20).unwrap().len(), 4 << 20);
    }
}

#[test]
fn snappy_raw_block_claiming_huge_size_is_rejected_without_allocating() {
    // Varint length 0xFFFFFFFF then garbage.
    let bomb = [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00];
    assert!(decompress(Compression::Snappy, &bomb, DEFAULT_MAX_DECOMPRESSED_SIZE).is_err());
}

#[test]
fn snappy_xerial_format() {
    let data = sample(100_000, 7);
    let packed = snappy::compress(&data).unwrap();
    assert_eq!(&packed[..8], &snappy::XERIAL_MAGIC);
    assert_eq!(&packed[8..16], &[0, 0, 0, 1, 0, 0, 0, 1]);
    // Walk the chunks: 4 of at most 32 KiB input each.
    let mut pos = 16;
    let mut chunks = 0;
    let mut total = 0;
    while pos < packed.len() {
        let len = i32::from_be_bytes(packed[pos..pos + 4].try_into().unwrap()) as usize;
        let block = &packed[pos + 4..pos + 4 + len];
        let n = snap::raw::decompress_len(block).unwrap();
        assert!(n <= snappy::XERIAL_BLOCK_SIZE);
        total += n;
        chunks += 1;
        pos += 4 + len;
    }
    assert_eq!(chunks, 4);
    assert_eq!(total, data.len());
    // Empty input: header only.
    assert_eq!(
        snappy::compress(&[]).unwrap().len(),
        snappy::XERIAL_HEADER_LEN
    );
    assert!(
        decompress(Compression::Snappy, &snappy::compress(&[]).unwrap(), 10)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn snappy_raw_and_concatenated_xerial_read() {
    let data = sample(70_000, 3);
    let raw = snappy::compress_raw(&data).unwrap();
    assert_ne!(&raw[..8], &snappy::XERIAL_MAGIC);
    assert_eq!(
        decompress(Compression::Snappy, &raw, usize::MAX).unwrap(),
        data
    );

    let a = snappy::compress(&data[..40_000]).unwrap();
    let b = snappy::compress(&data[40_000..]).unwrap();
    let both = [a.as_ref(), b.as_ref()].concat();
    assert_eq!(
        decompress(Compression::Snappy, &both, usize::MAX).unwrap(),
        data
    );

    // Truncated xerial streams fail.
    let full = snappy::compress(&data).unwrap();
    for cut in [10, 17, 21, full.len() - 1] {
        assert!(
            decompress(Compression::Snappy, &full[..cut], usize::MAX).is_err(),
            "cut {cut}"
        );
    }
}

#[test]
fn lz4_frame_format() {
    let data = sample(200_000, 5);
    let packed = lz4::compress(&data);
    // Standard frame header for 64 KiB independent blocks, no checksums: 04 22 4D 18 60 40 82.
    assert_eq!(&packed[..7], &[0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82]);
    assert_eq!(&packed[packed.len() - 4..], &[0, 0, 0, 0]);
    // Blocks hold at most 64 KiB.
    let mut pos = 7;
    let mut blocks = 0;
    loop {
        let size = u32::from_le_bytes(packed[pos..pos + 4].try_into().unwrap());
        pos += 4;
        if size == 0 {
            break;
        }
        let len = (size & 0x7FFF_FFFF) as usize;
        pos += len;
        blocks += 1;
    }
    assert_eq!(blocks, 4);
    assert_eq!(pos, packed.len());
}

#[test]
fn lz4_incompressible_blocks_are_stored() {
    let data = random(100_000, 9);
    let packed = lz4::compress(&data);
    let first = u32::from_le_bytes(packed[7..11].try_into().unwrap());
    assert_eq!(first, 0x8000_0000 | lz4::BLOCK_SIZE as u32);
    assert_eq!(
        decompress(Compression::Lz4, &packed, usize::MAX).unwrap(),
        data
    );
}

#[test]
fn lz4_broken_header_checksum_is_accepted() {
    let data = sample(80_000, 11);
    let opts = lz4::FrameOptions {
        broken_header_checksum: true,
        ..Default::default()
    };
    let broken = lz4::compress_with(&data, opts);
    let good = lz4::compress(&data);
    assert_ne!(broken[6], good[6], "the two header checksums differ");
    assert_eq!(
        broken[6],
        ((twox_hash::XxHash32::oneshot(0, &broken[..6]) >> 8) & 0xFF) as u8
    );
    assert_eq!(
        decompress(Compression::Lz4, &broken, usize::MAX).unwrap(),
        data
    );
    // Any other header checksum is rejected.
    let mut bad = good.to_vec();
    bad[6] = bad[6].wrapping_add(1);
    if bad[6] == broken[6] {
        bad[6] = bad[6].wrapping_add(1);
    }
    assert!(matches!(
        decompress(Compression::Lz4, &bad, usize::MAX),
        Err(ProtocolError::ChecksumMismatch { .. })
    ));
}

#[test]
fn lz4_block_checksums() {
    let data = sample(150_000, 12);
    let opts = lz4::FrameOptions {
        block_checksum: true,
        ..Default::default()
    };
    let packed = lz4::compress_with(&data, opts);
    assert_eq!(packed[4], 0x70);
    assert_eq!(
        decompress(Compression::Lz4, &packed, usize::MAX).unwrap(),
        data
    );
    // Corrupt the last byte of the first block's data: checksum mismatch.
    let size = (u32::from_le_bytes(packed[7..11].try_into().unwrap()) & 0x7FFF_FFFF) as usize;
    let mut bad = packed.to_vec();
    bad[11 + size - 1] ^= 0x55;
    assert!(matches!(
        decompress(Compression::Lz4, &bad, usize::MAX),
        Err(ProtocolError::ChecksumMismatch {
            what: "lz4 block",
            ..
        })
    ));
}

/// Rewrites a frame's FLG byte (and fixes the header checksum).
fn with_flg(frame: &[u8], flg: u8, extra_descriptor: &[u8]) -> Vec<u8> {
    let mut v = frame[..4].to_vec();
    v.push(flg);
    v.push(frame[5]);
    v.extend_from_slice(extra_descriptor);
    let hc = ((twox_hash::XxHash32::oneshot(0, &v[4..]) >> 8) & 0xFF) as u8;
    v.push(hc);
    v.extend_from_slice(&frame[7..]);
    v
}

#[test]
fn lz4_content_checksum_and_size() {
    let data = sample(90_000, 13);
    let plain = lz4::compress(&data);
    // Content checksum flag (bit 2) plus content size (bit 3).
    let mut frame = with_flg(
        &plain,
        0x60 | 0x04 | 0x08,
        &(data.len() as u64).to_le_bytes(),
    );
    frame.extend_from_slice(&twox_hash::XxHash32::oneshot(0, &data).to_le_bytes());
    assert_eq!(
        decompress(Compression::Lz4, &frame, usize::MAX).unwrap(),
        data
    );
    let n = frame.len();
    frame[n - 1] ^= 1;
    assert!(matches!(
        decompress(Compression::Lz4, &frame, usize::MAX),
        Err(ProtocolError::ChecksumMismatch {
            what: "lz4 content",
            ..
        })
    ));
    // Dependent blocks, dictionary ids and other versions are rejected.
    for flg in [0x40, 0x61, 0x62, 0xA0, 0x20] {
        assert!(
            decompress(Compression::Lz4, &with_flg(&plain, flg, &[]), usize::MAX).is_err(),
            "{flg:#x}"
        );
    }
}

#[test]
fn zstd_frames() {
    let a = sample(100_000, 21);
    let b = sample(5_000, 22);
    let fa = zstd::compress(&a, None);
    let fb = zstd::compress(&b, Some(3));
    // Two frames with a skippable frame in between.
    let mut stream = fa.to_vec();
    stream.extend_from_slice(&0x184D_2A50u32.to_le_bytes());
    stream.extend_from_slice(&3u32.to_le_bytes());
    stream.extend_from_slice(&[1, 2, 3]);
    stream.extend_from_slice(&fb);
    let out = decompress(Compression::Zstd, &stream, usize::MAX).unwrap();
    assert_eq!(out.len(), a.len() + b.len());
    assert_eq!(&out[..a.len()], &a[..]);
    assert_eq!(&out[a.len()..], &b[..]);
    // The bound applies across frames.
    assert!(decompress(Compression::Zstd, &stream, a.len() + 10).is_err());
    // Truncation and trailing garbage fail.
    assert!(decompress(Compression::Zstd, &fa[..fa.len() - 1], usize::MAX).is_err());
    assert!(
        decompress(
            Compression::Zstd,
            &[fa.as_ref(), &[9, 9]].concat(),
            usize::MAX
        )
        .is_err()
    );
    assert!(decompress(Compression::Zstd, &[], usize::MAX).is_err());
}

#[test]
fn no_panic_on_garbage_and_mutations() {
    let mut g = Gen::new(0xC0FFEE);
    for codec in CODECS {
        // Pure garbage, with and without plausible magic prefixes.
        let prefixes: [&[u8]; 4] = [
            &[],
            &snappy::XERIAL_MAGIC,
            &[0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82],
            &[0x28, 0xB5, 0x2F, 0xFD],
        ];
        for i in 0..400 {
            let mut v = prefixes[i % prefixes.len()].to_vec();
            v.extend(random(g.below(300) as usize, g.next_u64()));
            let _ = decompress(codec, &v, 1 << 20);
        }
        // Mutations and truncations of valid streams.
        let data = sample(70_000, 31);
        let packed = compress(codec, &data, None).unwrap().to_vec();
        for cut in (0..packed.len())
            .step_by(97)
            .chain(packed.len().saturating_sub(40)..packed.len())
        {
            let _ = decompress(codec, &packed[..cut], 1 << 20);
        }
        for _ in 0..1500 {
            let mut m = packed.clone();
            for _ in 0..=g.below(3) {
                let i = g.below(m.len() as u64) as usize;
                m[i] = g.next_u64() as u8;
            }
            // Flips near the start hit headers; bias a third of them there.
            if g.below(3) == 0 {
                let i = g.below(m.len().min(24) as u64) as usize;
                m[i] ^= 1 << g.below(8);
            }
            let _ = decompress(codec, &m, 1 << 20);
        }
    }
}
