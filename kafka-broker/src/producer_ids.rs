//! Producer-id allocation for InitProducerId, persisted in blocks (as Kafka's
//! ProducerIdManager): the end of the current block is written before any id in it is handed
//! out, so a restart never reuses an id.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::util::write_atomic;

const BLOCK: i64 = 1000;

#[derive(Serialize, Deserialize, Default)]
struct Persisted {
    next_block_start: i64,
}

/// The producer-id counter.
pub(crate) struct ProducerIds {
    path: PathBuf,
    next: i64,
    block_end: i64,
}

impl ProducerIds {
    /// Loads the counter from `dir/producer-ids.json`.
    pub(crate) fn open(dir: &Path) -> Result<ProducerIds> {
        let path = dir.join("producer-ids.json");
        let start = match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice::<Persisted>(&b)
                .map(|p| p.next_block_start)
                .map_err(|e| crate::error::BrokerError::CorruptMetadata {
                    path: path.clone(),
                    message: e.to_string(),
                })?,
            Err(_) => 0,
        };
        Ok(ProducerIds {
            path,
            next: start,
            block_end: start,
        })
    }

    /// A fresh producer id.
    pub(crate) fn allocate(&mut self) -> Result<i64> {
        if self.next >= self.block_end {
            let end = self.next + BLOCK;
            let data = serde_json::to_vec(&Persisted {
                next_block_start: end,
            })
            .map_err(|e| crate::error::BrokerError::Config(e.to_string()))?;
            write_atomic(&self.path, &data)?;
            self.block_end = end;
        }
        let id = self.next;
        self.next += 1;
        Ok(id)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_never_repeat_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = ProducerIds::open(dir.path()).unwrap();
        let x = a.allocate().unwrap();
        let y = a.allocate().unwrap();
        assert_eq!(y, x + 1);
        drop(a);
        let mut b = ProducerIds::open(dir.path()).unwrap();
        assert!(b.allocate().unwrap() > y);
    }
}
