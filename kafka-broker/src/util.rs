//! Small helpers: wall clock, randomness without extra dependencies, atomic file writes.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use kafka_protocol::Uuid;

use crate::error::{Result, file_err};

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A random u64 (SipHash keyed by the process's random state, a counter and the clock).
pub(crate) fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_i64(now_ms());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// A random version-4 UUID that is neither Kafka's zero nor its "metadata topic" id, and whose
/// base64 form does not start with '-' (Kafka avoids those too).
pub(crate) fn random_uuid() -> Uuid {
    loop {
        let mut v = (u128::from(random_u64()) << 64) | u128::from(random_u64());
        v &= !(0xF000u128 << 64);
        v |= 0x4000u128 << 64; // version 4
        v &= !(0xC0u128 << 56);
        v |= 0x80u128 << 56; // variant
        let id = Uuid::from_u128(v);
        if id != Uuid::ZERO && id != Uuid::from_u128(1) && !id.to_string().starts_with('-') {
            return id;
        }
    }
}

/// Writes `data` to `path` atomically (temp file, fsync, rename, fsync dir).
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp).map_err(file_err(&tmp))?;
        f.write_all(data).map_err(file_err(&tmp))?;
        f.sync_all().map_err(file_err(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(file_err(path))?;
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_distinct_and_v4() {
        let a = random_uuid();
        let b = random_uuid();
        assert_ne!(a, b);
        assert_eq!((a.as_u128() >> 76) & 0xF, 4);
    }
}
