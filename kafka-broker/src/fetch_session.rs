//! Incremental fetch sessions (KIP-227), after Kafka's `FetchSession.scala`.
//!
//! A FetchRequest carries `(session_id, session_epoch)`:
//!
//! | session_id | epoch | meaning |
//! |---|---|---|
//! | 0 | -1 | sessionless full fetch |
//! | 0 | 0 | full fetch that creates a session (its id is returned) |
//! | id | -1 | close session `id`, then a sessionless full fetch |
//! | id | 0 | close session `id`, then a full fetch creating a new session |
//! | id | n>0 | incremental fetch: `n` must equal the session's epoch |
//!
//! An incremental request lists only partitions that are new or whose fetch position changed,
//! and `forgotten_topics_data` lists partitions to drop. The response lists only partitions
//! with records, an error, or a changed high watermark / last stable offset / log start.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use kafka_protocol::{ErrorCode, Uuid};

/// A partition in a fetch: by name (v<13, `topic_id` zero) or by id (v13+, `topic` empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct FetchKey {
    pub(crate) topic: String,
    pub(crate) topic_id: Uuid,
    pub(crate) partition: i32,
}

/// What the client asked for, per partition.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchParams {
    pub(crate) fetch_offset: i64,
    pub(crate) max_bytes: i32,
    pub(crate) current_leader_epoch: i32,
}

/// What was last sent for a partition (for incremental change detection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sent {
    pub(crate) high_watermark: i64,
    pub(crate) last_stable_offset: i64,
    pub(crate) log_start_offset: i64,
}

struct CachedPartition {
    params: FetchParams,
    sent: Option<Sent>,
}

struct Session {
    epoch: i32,
    uses_topic_ids: bool,
    partitions: BTreeMap<FetchKey, CachedPartition>,
    last_used: Instant,
}

/// How a fetch's response is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContextKind {
    /// No session; every partition is answered.
    Sessionless,
    /// Create a session after the read; every partition is answered.
    Full,
    /// An existing session; changed partitions only.
    Incremental(i32),
}

/// The resolved fetch: which partitions to read and how to answer.
pub(crate) struct FetchPlan {
    pub(crate) kind: ContextKind,
    pub(crate) uses_topic_ids: bool,
    pub(crate) partitions: Vec<(FetchKey, FetchParams)>,
}

/// Next epoch after `e` (wrapping past i32::MAX to 1, as Kafka).
fn next_epoch(e: i32) -> i32 {
    if e == i32::MAX { 1 } else { e + 1 }
}

/// The broker's fetch-session cache.
pub(crate) struct FetchSessionCache {
    sessions: HashMap<i32, Session>,
    capacity: usize,
}

impl FetchSessionCache {
    pub(crate) fn new(capacity: usize) -> Self {
        FetchSessionCache {
            sessions: HashMap::new(),
            capacity,
        }
    }

    /// Number of live sessions.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Resolves a request into a plan, or the top-level error to answer with.
    pub(crate) fn new_context(
        &mut self,
        session_id: i32,
        epoch: i32,
        uses_topic_ids: bool,
        requested: Vec<(FetchKey, FetchParams)>,
        forgotten: Vec<FetchKey>,
    ) -> Result<FetchPlan, ErrorCode> {
        if epoch == 0 || epoch == -1 {
            if session_id != 0 {
                self.sessions.remove(&session_id);
            }
            return Ok(FetchPlan {
                kind: if epoch == -1 {
                    ContextKind::Sessionless
                } else {
                    ContextKind::Full
                },
                uses_topic_ids,
                partitions: requested,
            });
        }
        let Some(s) = self.sessions.get_mut(&session_id) else {
            return Err(ErrorCode::FetchSessionIdNotFound);
        };
        if s.epoch != epoch {
            return Err(ErrorCode::InvalidFetchSessionEpoch);
        }
        if s.uses_topic_ids != uses_topic_ids {
            return Err(ErrorCode::FetchSessionTopicIdError);
        }
        for (k, p) in requested {
            match s.partitions.get_mut(&k) {
                Some(c) => c.params = p,
                None => {
                    s.partitions.insert(
                        k,
                        CachedPartition {
                            params: p,
                            sent: None,
                        },
                    );
                }
            }
        }
        for k in forgotten {
            s.partitions.remove(&k);
        }
        if s.partitions.is_empty() {
            self.sessions.remove(&session_id);
            return Ok(FetchPlan {
                kind: ContextKind::Sessionless,
                uses_topic_ids,
                partitions: Vec::new(),
            });
        }
        s.epoch = next_epoch(s.epoch);
        s.last_used = Instant::now();
        Ok(FetchPlan {
            kind: ContextKind::Incremental(session_id),
            uses_topic_ids,
            partitions: s
                .partitions
                .iter()
                .map(|(k, c)| (k.clone(), c.params))
                .collect(),
        })
    }

    /// After the read: creates or updates the session and decides which partitions the
    /// response lists (by index into `results`). Returns the response's session id.
    pub(crate) fn finish(
        &mut self,
        plan: &FetchPlan,
        results: &[(FetchKey, Sent, bool)],
        mut new_session_id: impl FnMut() -> i32,
    ) -> (i32, Vec<bool>) {
        match plan.kind {
            ContextKind::Sessionless => (0, vec![true; results.len()]),
            ContextKind::Full => {
                if self.sessions.len() >= self.capacity {
                    // evict the least recently used session
                    let oldest = self
                        .sessions
                        .iter()
                        .min_by_key(|(_, s)| s.last_used)
                        .map(|(id, _)| *id);
                    if let Some(id) = oldest {
                        self.sessions.remove(&id);
                    }
                }
                if self.capacity == 0 || plan.partitions.is_empty() {
                    return (0, vec![true; results.len()]);
                }
                let mut id = new_session_id();
                while id <= 0 || self.sessions.contains_key(&id) {
                    id = new_session_id();
                }
                let mut partitions = BTreeMap::new();
                for (k, p) in &plan.partitions {
                    let sent = results.iter().find(|r| &r.0 == k).map(|r| r.1);
                    partitions.insert(k.clone(), CachedPartition { params: *p, sent });
                }
                self.sessions.insert(
                    id,
                    Session {
                        epoch: 1,
                        uses_topic_ids: plan.uses_topic_ids,
                        partitions,
                        last_used: Instant::now(),
                    },
                );
                (id, vec![true; results.len()])
            }
            ContextKind::Incremental(id) => {
                let Some(s) = self.sessions.get_mut(&id) else {
                    return (id, vec![true; results.len()]);
                };
                let include = results
                    .iter()
                    .map(|(k, sent, interesting)| match s.partitions.get_mut(k) {
                        Some(c) => {
                            let changed = c.sent != Some(*sent);
                            c.sent = Some(*sent);
                            changed || *interesting
                        }
                        None => true,
                    })
                    .collect();
                (id, include)
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn key(p: i32) -> FetchKey {
        FetchKey {
            topic: "t".into(),
            topic_id: Uuid::ZERO,
            partition: p,
        }
    }
    fn params(o: i64) -> FetchParams {
        FetchParams {
            fetch_offset: o,
            max_bytes: 1000,
            current_leader_epoch: -1,
        }
    }
    fn sent(h: i64) -> Sent {
        Sent {
            high_watermark: h,
            last_stable_offset: h,
            log_start_offset: 0,
        }
    }

    #[test]
    fn full_then_incremental() {
        let mut c = FetchSessionCache::new(10);
        let plan = c
            .new_context(
                0,
                0,
                false,
                vec![(key(0), params(0)), (key(1), params(0))],
                vec![],
            )
            .unwrap();
        assert_eq!(plan.kind, ContextKind::Full);
        let (id, inc) = c.finish(
            &plan,
            &[(key(0), sent(5), true), (key(1), sent(0), false)],
            || 42,
        );
        assert_eq!(id, 42);
        assert_eq!(inc, vec![true, true]);
        // wrong epoch
        assert_eq!(
            c.new_context(42, 2, false, vec![], vec![]).err(),
            Some(ErrorCode::InvalidFetchSessionEpoch)
        );
        assert_eq!(
            c.new_context(7, 1, false, vec![], vec![]).err(),
            Some(ErrorCode::FetchSessionIdNotFound)
        );
        // incremental: only partition 0 changes offset; partition 1 unchanged and quiet
        let plan = c
            .new_context(42, 1, false, vec![(key(0), params(5))], vec![])
            .unwrap();
        assert_eq!(plan.kind, ContextKind::Incremental(42));
        assert_eq!(plan.partitions.len(), 2);
        assert_eq!(plan.partitions[0].1.fetch_offset, 5);
        let (_, inc) = c.finish(
            &plan,
            &[(key(0), sent(5), false), (key(1), sent(3), false)],
            || 0,
        );
        assert_eq!(inc, vec![false, true]);
        // forget everything: session removed
        let plan = c
            .new_context(42, 2, false, vec![], vec![key(0), key(1)])
            .unwrap();
        assert_eq!(plan.kind, ContextKind::Sessionless);
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn close_session_with_final_epoch() {
        let mut c = FetchSessionCache::new(10);
        let plan = c
            .new_context(0, 0, false, vec![(key(0), params(0))], vec![])
            .unwrap();
        let (id, _) = c.finish(&plan, &[(key(0), sent(0), false)], || 9);
        assert_eq!(c.len(), 1);
        let plan = c
            .new_context(id, -1, false, vec![(key(0), params(0))], vec![])
            .unwrap();
        assert_eq!(plan.kind, ContextKind::Sessionless);
        assert_eq!(c.len(), 0);
    }
}
