//! Partitioners, identical to the Java client's where it has one.
//!
//! - [`DefaultPartitioner`]: keyed records go to `murmur2(key) & 0x7fffffff % partitions`
//!   exactly as the Java client computes it (tested against vectors printed by
//!   kafka-clients 4.3.1); keyless records are left to the producer's uniform sticky choice
//!   ([`StickyPartitions`], KIP-480/KIP-794): one partition takes records until `batch.size`
//!   bytes were produced to it, then another is picked at random among available partitions.
//! - [`RoundRobinPartitioner`]: every record (keyed or not) to the next available partition.
//! - Your own: implement [`Partitioner`].
//!
//! ```
//! use kafka_producer::partitioner::{DefaultPartitioner, PartitionRequest, Partitioner};
//! let p = DefaultPartitioner::default();
//! let req = PartitionRequest { topic: "t", key: Some(b"user-42"), value: None, num_partitions: 6, available_partitions: &[0, 1, 2, 3, 4, 5] };
//! assert_eq!(p.partition(&req), Some(kafka_producer::partitioner::murmur2_partition(b"user-42", 6)));
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Kafka's murmur2 hash (the 32-bit MurmurHash2 variant with seed `0x9747b28c` that the Java
/// client uses for keys).
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = 0x9747_b28c ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in chunks.by_ref() {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if let Some(&b) = rest.first() {
        h ^= u32::from(b);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition the Java client picks for a keyed record: `toPositive(murmur2(key)) % n`.
/// `num_partitions` must be positive; 0 or less yields 0.
pub fn murmur2_partition(key: &[u8], num_partitions: i32) -> i32 {
    if num_partitions <= 0 {
        return 0;
    }
    (murmur2(key) & 0x7fff_ffff) % num_partitions
}

/// What a partitioner is asked.
#[derive(Debug, Clone, Copy)]
pub struct PartitionRequest<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Serialized key, if any.
    pub key: Option<&'a [u8]>,
    /// Serialized value, if any.
    pub value: Option<&'a [u8]>,
    /// All partitions of the topic.
    pub num_partitions: i32,
    /// Partitions that currently have a leader.
    pub available_partitions: &'a [i32],
}

/// Chooses a partition for a record.
pub trait Partitioner: Send + Sync + std::fmt::Debug {
    /// The partition, or `None` to let the producer's uniform sticky logic choose (what the
    /// built-in partitioner does for keyless records).
    fn partition(&self, req: &PartitionRequest<'_>) -> Option<i32>;
}

/// The Java client's built-in behaviour: murmur2 for keyed records (unless `ignore_keys`, the
/// `partitioner.ignore.keys` setting), uniform sticky for the rest.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultPartitioner {
    /// Treat every record as keyless (`partitioner.ignore.keys=true`).
    pub ignore_keys: bool,
}

impl Partitioner for DefaultPartitioner {
    fn partition(&self, req: &PartitionRequest<'_>) -> Option<i32> {
        match req.key {
            Some(k) if !self.ignore_keys => Some(murmur2_partition(k, req.num_partitions)),
            _ => None,
        }
    }
}

/// Spreads records over available partitions in turn, per topic (like the Java client's
/// `RoundRobinPartitioner`).
#[derive(Debug, Default)]
pub struct RoundRobinPartitioner {
    counters: Mutex<HashMap<String, Arc<AtomicU64>>>,
}

impl Partitioner for RoundRobinPartitioner {
    fn partition(&self, req: &PartitionRequest<'_>) -> Option<i32> {
        let counter = {
            let mut map = self.counters.lock().unwrap_or_else(PoisonError::into_inner);
            map.entry(req.topic.to_string()).or_default().clone()
        };
        let n = counter.fetch_add(1, Ordering::Relaxed);
        if req.available_partitions.is_empty() {
            if req.num_partitions <= 0 {
                return Some(0);
            }
            return Some((n % req.num_partitions as u64) as i32);
        }
        req.available_partitions
            .get((n % req.available_partitions.len() as u64) as usize)
            .copied()
    }
}

/// The uniform sticky partition choice for keyless records (KIP-480 / KIP-794): each topic
/// sticks to one partition until `batch_size` bytes were produced to it, then switches to a
/// random available partition.
#[derive(Debug)]
pub struct StickyPartitions {
    batch_size: usize,
    state: Mutex<HashMap<String, (i32, usize)>>,
    rng: AtomicU64,
}

impl StickyPartitions {
    /// Switch after `batch_size` bytes (the producer's `batch.size`).
    pub fn new(batch_size: usize) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x2545_f491_4f6c_dd1d);
        StickyPartitions {
            batch_size: batch_size.max(1),
            state: Mutex::new(HashMap::new()),
            rng: AtomicU64::new(seed | 1),
        }
    }

    fn random(&self) -> u64 {
        // xorshift64*: good enough to spread load, not for security
        let mut x = self.rng.load(Ordering::Relaxed);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.store(x, Ordering::Relaxed);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick(&self, num_partitions: i32, available: &[i32], avoid: Option<i32>) -> i32 {
        let pool: Vec<i32> = if available.is_empty() {
            (0..num_partitions.max(1)).collect()
        } else {
            available.to_vec()
        };
        if pool.len() > 1
            && let Some(a) = avoid
        {
            let others: Vec<i32> = pool.iter().copied().filter(|p| *p != a).collect();
            return others[(self.random() % others.len() as u64) as usize];
        }
        pool[(self.random() % pool.len() as u64) as usize]
    }

    /// The partition for a keyless record of `record_bytes` bytes to `topic`.
    pub fn partition(
        &self,
        topic: &str,
        num_partitions: i32,
        available: &[i32],
        record_bytes: usize,
    ) -> i32 {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = match state.get_mut(topic) {
            Some(e) => e,
            None => {
                let p = self.pick(num_partitions, available, None);
                state.entry(topic.to_string()).or_insert((p, 0))
            }
        };
        let still_valid = entry.0 < num_partitions.max(1)
            && (available.is_empty() || available.contains(&entry.0));
        if !still_valid || entry.1 >= self.batch_size {
            entry.0 = self.pick(num_partitions, available, Some(entry.0));
            entry.1 = 0;
        }
        entry.1 += record_bytes;
        entry.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Vectors printed by the Java client (kafka-clients 4.3.1, `Utils.murmur2` and
    /// `BuiltInPartitioner.partitionForKey`) with tools/java-vectors/Murmur2Vectors.java.
    #[test]
    fn matches_java_client_vectors() {
        let text = include_str!("../tests/fixtures/murmur2_java.tsv");
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
        let counts: Vec<i32> = header[2..]
            .iter()
            .map(|h| h.trim_start_matches('p').parse().unwrap())
            .collect();
        let mut n = 0;
        for line in lines {
            let cols: Vec<&str> = line.split('\t').collect();
            let key = unhex(cols[0]);
            assert_eq!(
                murmur2(&key),
                cols[1].parse::<i32>().unwrap(),
                "murmur2 of {}",
                cols[0]
            );
            for (i, c) in counts.iter().enumerate() {
                assert_eq!(
                    murmur2_partition(&key, *c),
                    cols[2 + i].parse::<i32>().unwrap(),
                    "key {} n {c}",
                    cols[0]
                );
            }
            n += 1;
        }
        assert!(n > 200);
    }

    #[test]
    fn round_robin_cycles_available_partitions() {
        let p = RoundRobinPartitioner::default();
        let avail = [1, 3, 5];
        let got: Vec<i32> = (0..6)
            .map(|_| {
                p.partition(&PartitionRequest {
                    topic: "t",
                    key: Some(b"k"),
                    value: None,
                    num_partitions: 6,
                    available_partitions: &avail,
                })
                .unwrap()
            })
            .collect();
        assert_eq!(got, vec![1, 3, 5, 1, 3, 5]);
    }

    #[test]
    fn sticky_switches_after_batch_size_and_prefers_available() {
        let s = StickyPartitions::new(1000);
        let avail = [0, 2, 4];
        let first = s.partition("t", 6, &avail, 100);
        assert!(avail.contains(&first));
        for _ in 0..9 {
            assert_eq!(
                s.partition("t", 6, &avail, 100),
                first,
                "sticks until 1000 bytes"
            );
        }
        let next = s.partition("t", 6, &avail, 100);
        assert_ne!(next, first, "switches after batch.size bytes");
        assert!(avail.contains(&next));
        // over many switches, every available partition gets picked
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            seen.insert(s.partition("t", 6, &avail, 500));
        }
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn ignore_keys_leaves_choice_to_sticky() {
        let p = DefaultPartitioner { ignore_keys: true };
        let req = PartitionRequest {
            topic: "t",
            key: Some(b"k"),
            value: None,
            num_partitions: 3,
            available_partitions: &[],
        };
        assert_eq!(p.partition(&req), None);
    }
}
