//! Emulation of the Java behaviour the assignors' outputs depend on: `String.hashCode`,
//! `String.compareTo`, `TopicPartition.hashCode` and the iteration order of `java.util.HashMap`
//! / `HashSet` (buckets by spread hash, insertion order within a bucket, resizes at 0.75 load).
//!
//! Java's assignors iterate hash maps in several places where the order decides the result
//! (which member keeps `maxQuota` partitions, which of several equal previous owners wins,
//! which moved partition is moved back). Reproducing those orders is what makes the outputs
//! identical rather than merely equivalent.

use std::cmp::Ordering;

use super::TopicPartition;

/// Java's `String.hashCode()`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 code units.
pub(crate) fn string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// Java's `TopicPartition.hashCode()`.
pub(crate) fn topic_partition_hash(tp: &TopicPartition) -> i32 {
    let result = 31i32.wrapping_add(tp.partition);
    result.wrapping_mul(31).wrapping_add(string_hash(&tp.topic))
}

/// Java's `String.compareTo` (lexicographic over UTF-16 code units).
pub(crate) fn java_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `HashMap.hash`: the high half folded into the low half.
fn spread(h: i32) -> u32 {
    let h = h as u32;
    h ^ (h >> 16)
}

const DEFAULT_CAPACITY: usize = 16;
const TREEIFY_THRESHOLD: usize = 8;
const MIN_TREEIFY_CAPACITY: usize = 64;

/// The key order of a `java.util.HashMap` / `HashSet` created with the default constructor.
///
/// Only the keys are tracked. Bins that Java would turn into trees (9+ colliding keys in a
/// table of 64+) keep list order here; with the key counts assignors see this does not occur.
#[derive(Debug, Clone)]
pub(crate) struct JavaHashOrder<K> {
    table: Vec<Vec<(u32, K)>>,
    threshold: usize,
    size: usize,
}

impl<K: PartialEq> JavaHashOrder<K> {
    /// `new HashMap<>()`.
    pub(crate) fn new() -> Self {
        Self {
            table: Vec::new(),
            threshold: 0,
            size: 0,
        }
    }

    fn resize(&mut self) {
        let old_cap = self.table.len();
        let (new_cap, mut new_thr) = if old_cap > 0 {
            let thr = if old_cap >= DEFAULT_CAPACITY {
                self.threshold * 2
            } else {
                0
            };
            (old_cap * 2, thr)
        } else if self.threshold > 0 {
            (self.threshold, 0)
        } else {
            (DEFAULT_CAPACITY, DEFAULT_CAPACITY * 3 / 4)
        };
        if new_thr == 0 {
            new_thr = new_cap * 3 / 4;
        }
        let mut table: Vec<Vec<(u32, K)>> = (0..new_cap).map(|_| Vec::new()).collect();
        for bin in std::mem::take(&mut self.table) {
            for (h, k) in bin {
                table[(h as usize) & (new_cap - 1)].push((h, k));
            }
        }
        self.table = table;
        self.threshold = new_thr;
    }

    /// `put(key, ..)`: returns false (and keeps the position) when the key is already there.
    pub(crate) fn insert(&mut self, key: K, hash: i32) -> bool {
        if self.table.is_empty() {
            self.resize();
        }
        let h = spread(hash);
        let idx = (h as usize) & (self.table.len() - 1);
        if self.table[idx].iter().any(|(_, k)| *k == key) {
            return false;
        }
        let bin_len_before = self.table[idx].len();
        self.table[idx].push((h, key));
        if bin_len_before >= TREEIFY_THRESHOLD && self.table.len() < MIN_TREEIFY_CAPACITY {
            self.resize();
        }
        self.size += 1;
        if self.size > self.threshold {
            self.resize();
        }
        true
    }

    /// `remove(key)`.
    pub(crate) fn remove(&mut self, key: &K, hash: i32) -> bool {
        if self.table.is_empty() {
            return false;
        }
        let idx = (spread(hash) as usize) & (self.table.len() - 1);
        match self.table[idx].iter().position(|(_, k)| k == key) {
            Some(pos) => {
                self.table[idx].remove(pos);
                self.size -= 1;
                true
            }
            None => false,
        }
    }

    /// Whether no key is left.
    pub(crate) fn is_empty(&self) -> bool {
        self.size == 0
    }

    /// Keys in Java's iteration order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &K> {
        self.table.iter().flatten().map(|(_, k)| k)
    }
}

/// The iteration order of a default `HashMap<String, _>` / `HashSet<String>` filled with
/// `keys` in the given order (duplicates keep their first position).
pub(crate) fn string_order<'a, I>(keys: I) -> Vec<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut map = JavaHashOrder::new();
    for k in keys {
        map.insert(k, string_hash(k));
    }
    map.iter().copied().collect()
}

/// A `HashSet<TopicPartition>` in Java's iteration order.
pub(crate) type PartitionSet = JavaHashOrder<TopicPartition>;

impl PartitionSet {
    /// `add(tp)` with `TopicPartition.hashCode()`.
    pub(crate) fn add(&mut self, tp: TopicPartition) -> bool {
        let h = topic_partition_hash(&tp);
        self.insert(tp, h)
    }

    /// `remove(tp)` with `TopicPartition.hashCode()`.
    pub(crate) fn remove_partition(&mut self, tp: &TopicPartition) -> bool {
        self.remove(tp, topic_partition_hash(tp))
    }

    /// `iterator().next()`.
    pub(crate) fn first(&self) -> Option<&TopicPartition> {
        self.iter().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_hash_matches_java() {
        assert_eq!(string_hash(""), 0);
        assert_eq!(string_hash("a"), 97);
        assert_eq!(string_hash("Aa"), string_hash("BB"));
        assert_eq!(string_hash("hello"), 99_162_322);
        assert_eq!(string_hash("polygenelubricants"), i32::MIN);
    }

    #[test]
    fn hash_order_is_bucket_then_insertion() {
        // "Aa" and "BB" collide: insertion order decides.
        assert_eq!(string_order(["BB", "Aa"]), vec!["BB", "Aa"]);
        assert_eq!(string_order(["Aa", "BB"]), vec!["Aa", "BB"]);
        // 'a' (97) lands in bucket 1, 'b' in 2: bucket order regardless of insertion.
        assert_eq!(string_order(["b", "a"]), vec!["a", "b"]);
    }

    #[test]
    fn java_compare_uses_utf16_units() {
        // U+FF61 sorts before U+1F600 by code point but after its surrogate pair in UTF-16.
        assert_eq!(java_cmp("\u{ff61}", "\u{1f600}"), Ordering::Greater);
        assert_eq!(java_cmp("a", "b"), Ordering::Less);
    }
}
