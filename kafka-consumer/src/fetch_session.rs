//! The client side of incremental fetch sessions (KIP-227), one [`FetchSessionHandler`] per
//! broker, modelled on the behaviour of Java's `FetchSessionHandler`.
//!
//! The first request to a broker is a full fetch that asks for a session
//! (`session_id` 0, `session_epoch` 0) and lists every partition. When the broker answers with
//! a session id, later requests are incremental: they list only partitions that are new or
//! whose fetch parameters changed, name removed partitions in `forgotten_topics_data`, and
//! carry the session epoch, incremented per request (wrapping from `i32::MAX` to 1). The
//! broker's incremental responses leave out partitions with nothing new; those keep their
//! state. Any session error (FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH,
//! FETCH_SESSION_TOPIC_ID_ERROR, ...) or a failed request sends the next request as a full
//! fetch again.

use std::collections::BTreeMap;

use kafka_protocol::{ErrorCode, Uuid};

use crate::assignor::TopicPartition;

/// `session_id` meaning "no session".
pub(crate) const INVALID_SESSION_ID: i32 = 0;
/// Epoch of a full fetch that creates a session.
pub(crate) const INITIAL_EPOCH: i32 = 0;
/// Epoch that closes a session (and makes the request sessionless).
pub(crate) const FINAL_EPOCH: i32 = -1;

/// What a fetch asks for one partition; a change in any field makes the partition part of
/// the next incremental request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PartitionParams {
    pub(crate) topic_id: Uuid,
    pub(crate) fetch_offset: i64,
    pub(crate) current_leader_epoch: i32,
    pub(crate) last_fetched_epoch: i32,
    pub(crate) max_bytes: i32,
}

/// One request worked out by [`FetchSessionHandler::build`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionRequest {
    pub(crate) session_id: i32,
    pub(crate) epoch: i32,
    /// Whether this is a full fetch (every partition listed).
    pub(crate) full: bool,
    /// Whether every partition of the session has a topic id (Fetch v13+ may be used).
    pub(crate) uses_topic_ids: bool,
    /// Partitions to list in `topics`, in topic-partition order.
    pub(crate) to_send: Vec<(TopicPartition, PartitionParams)>,
    /// Partitions to list in `forgotten_topics_data`, with their topic ids.
    pub(crate) forgotten: Vec<(TopicPartition, Uuid)>,
}

/// Per-broker fetch session state.
#[derive(Debug, Clone)]
pub(crate) struct FetchSessionHandler {
    session_id: i32,
    /// Epoch of the next request (0: full fetch).
    epoch: i32,
    uses_topic_ids: bool,
    /// The partitions in the session, with the parameters last sent for each.
    partitions: BTreeMap<TopicPartition, PartitionParams>,
}

impl Default for FetchSessionHandler {
    fn default() -> Self {
        FetchSessionHandler {
            session_id: INVALID_SESSION_ID,
            epoch: INITIAL_EPOCH,
            uses_topic_ids: false,
            partitions: BTreeMap::new(),
        }
    }
}

/// The epoch after `e`: +1, wrapping from `i32::MAX` to 1 (0 means "full").
pub(crate) fn next_epoch(e: i32) -> i32 {
    if (0..i32::MAX).contains(&e) { e + 1 } else { 1 }
}

impl FetchSessionHandler {
    /// The session id in use (0 when none).
    pub(crate) fn session_id(&self) -> i32 {
        self.session_id
    }

    /// The epoch the next request will carry.
    #[cfg(test)]
    pub(crate) fn epoch(&self) -> i32 {
        self.epoch
    }

    /// Works out the next request given every partition this broker should fetch now. The
    /// session's partitions become `next`.
    pub(crate) fn build(
        &mut self,
        next: impl IntoIterator<Item = (TopicPartition, PartitionParams)>,
    ) -> SessionRequest {
        let next: BTreeMap<TopicPartition, PartitionParams> = next.into_iter().collect();
        let uses_topic_ids = next.values().all(|p| p.topic_id != Uuid::ZERO);
        let full = self.epoch == INITIAL_EPOCH
            || self.session_id == INVALID_SESSION_ID
            || uses_topic_ids != self.uses_topic_ids;
        if full {
            // A full fetch; a session id with epoch 0 also closes the old session.
            if self.epoch != INITIAL_EPOCH {
                self.epoch = INITIAL_EPOCH;
            }
            self.uses_topic_ids = uses_topic_ids;
            self.partitions = next;
            return SessionRequest {
                session_id: self.session_id,
                epoch: INITIAL_EPOCH,
                full: true,
                uses_topic_ids,
                to_send: self
                    .partitions
                    .iter()
                    .map(|(tp, p)| (tp.clone(), *p))
                    .collect(),
                forgotten: Vec::new(),
            };
        }
        let mut forgotten = Vec::new();
        let mut to_send = Vec::new();
        for (tp, old) in &self.partitions {
            match next.get(tp) {
                None => forgotten.push((tp.clone(), old.topic_id)),
                Some(new) if new.topic_id != old.topic_id => {
                    // The topic was re-created: forget the old id, add the new one.
                    forgotten.push((tp.clone(), old.topic_id));
                    to_send.push((tp.clone(), *new));
                }
                Some(new) if new != old => to_send.push((tp.clone(), *new)),
                Some(_) => {}
            }
        }
        for (tp, new) in &next {
            if !self.partitions.contains_key(tp) {
                to_send.push((tp.clone(), *new));
            }
        }
        to_send.sort_by(|a, b| a.0.cmp(&b.0));
        self.partitions = next;
        SessionRequest {
            session_id: self.session_id,
            epoch: self.epoch,
            full: false,
            uses_topic_ids,
            to_send,
            forgotten,
        }
    }

    /// Takes the response to `req` (its top-level error, session id, throttle and whether it
    /// listed any topic). Returns false when the response's partition data must not be used.
    pub(crate) fn handle_response(
        &mut self,
        req: &SessionRequest,
        error: ErrorCode,
        session_id: i32,
        throttle_ms: i32,
        has_topics: bool,
    ) -> bool {
        if !error.is_ok() {
            if error == ErrorCode::FetchSessionIdNotFound {
                self.session_id = INVALID_SESSION_ID;
            }
            // Any other error: close the session we have and start over with a full fetch.
            self.epoch = INITIAL_EPOCH;
            return false;
        }
        if req.full {
            if !has_topics && throttle_ms > 0 && !self.partitions.is_empty() {
                // KIP-219: a throttled broker answers a full fetch with nothing.
                self.session_id = INVALID_SESSION_ID;
                self.epoch = INITIAL_EPOCH;
                return false;
            }
            if session_id == INVALID_SESSION_ID {
                // No session was created (the broker has no room, or predates sessions).
                self.session_id = INVALID_SESSION_ID;
                self.epoch = INITIAL_EPOCH;
            } else {
                self.session_id = session_id;
                self.epoch = 1;
            }
        } else if session_id == INVALID_SESSION_ID {
            // The broker closed the session.
            self.session_id = INVALID_SESSION_ID;
            self.epoch = INITIAL_EPOCH;
        } else {
            self.epoch = next_epoch(self.epoch);
        }
        true
    }

    /// The request failed (connection, timeout): the next request is a full fetch, closing
    /// the session if there is one.
    pub(crate) fn handle_error(&mut self) {
        self.epoch = INITIAL_EPOCH;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn id(n: u8) -> Uuid {
        Uuid([n; 16])
    }

    fn p(topic_id: Uuid, offset: i64) -> PartitionParams {
        PartitionParams {
            topic_id,
            fetch_offset: offset,
            current_leader_epoch: 0,
            last_fetched_epoch: -1,
            max_bytes: 1024,
        }
    }

    fn tp(t: &str, n: i32) -> TopicPartition {
        TopicPartition::new(t, n)
    }

    fn names(v: &[(TopicPartition, PartitionParams)]) -> Vec<String> {
        v.iter().map(|(tp, _)| tp.to_string()).collect()
    }

    /// Full fetch, then a session: only changed/new partitions, forgotten ones, epochs.
    #[test]
    fn full_then_incremental() {
        let mut h = FetchSessionHandler::default();
        let r = h.build([(tp("a", 0), p(id(1), 0)), (tp("a", 1), p(id(1), 0))]);
        assert!(r.full);
        assert_eq!((r.session_id, r.epoch), (0, 0));
        assert_eq!(names(&r.to_send), ["a-0", "a-1"]);
        assert!(r.uses_topic_ids);
        assert!(h.handle_response(&r, ErrorCode::None, 77, 0, true));
        assert_eq!((h.session_id(), h.epoch()), (77, 1));

        // a-0 advanced, a-1 unchanged, a-2 new.
        let r = h.build([
            (tp("a", 0), p(id(1), 5)),
            (tp("a", 1), p(id(1), 0)),
            (tp("a", 2), p(id(1), 0)),
        ]);
        assert!(!r.full);
        assert_eq!((r.session_id, r.epoch), (77, 1));
        assert_eq!(names(&r.to_send), ["a-0", "a-2"]);
        assert!(r.forgotten.is_empty());
        assert!(h.handle_response(&r, ErrorCode::None, 77, 0, false));
        assert_eq!(h.epoch(), 2);

        // Nothing changed: an empty incremental request. Then a-1 is removed (paused).
        let r = h.build([
            (tp("a", 0), p(id(1), 5)),
            (tp("a", 1), p(id(1), 0)),
            (tp("a", 2), p(id(1), 0)),
        ]);
        assert!(r.to_send.is_empty() && r.forgotten.is_empty() && !r.full);
        assert!(h.handle_response(&r, ErrorCode::None, 77, 0, false));
        let r = h.build([(tp("a", 0), p(id(1), 5)), (tp("a", 2), p(id(1), 0))]);
        assert_eq!(r.epoch, 3);
        assert!(r.to_send.is_empty());
        assert_eq!(r.forgotten, vec![(tp("a", 1), id(1))]);
        assert!(h.handle_response(&r, ErrorCode::None, 77, 0, false));
        // Resumed: it is added again.
        let r = h.build([
            (tp("a", 0), p(id(1), 5)),
            (tp("a", 1), p(id(1), 3)),
            (tp("a", 2), p(id(1), 0)),
        ]);
        assert_eq!((r.epoch, names(&r.to_send)), (4, vec!["a-1".to_string()]));
    }

    #[test]
    fn leader_epoch_change_is_a_change() {
        let mut h = FetchSessionHandler::default();
        let r = h.build([(tp("a", 0), p(id(1), 0))]);
        h.handle_response(&r, ErrorCode::None, 5, 0, true);
        let mut q = p(id(1), 0);
        q.current_leader_epoch = 3;
        let r = h.build([(tp("a", 0), q)]);
        assert_eq!(names(&r.to_send), ["a-0"]);
    }

    #[test]
    fn session_errors_go_back_to_a_full_fetch() {
        for (code, expect_id) in [
            (ErrorCode::FetchSessionIdNotFound, 0),
            (ErrorCode::InvalidFetchSessionEpoch, 9),
            (ErrorCode::FetchSessionTopicIdError, 9),
        ] {
            let mut h = FetchSessionHandler::default();
            let r = h.build([(tp("a", 0), p(id(1), 0))]);
            h.handle_response(&r, ErrorCode::None, 9, 0, true);
            let r = h.build([(tp("a", 0), p(id(1), 4))]);
            assert!(!r.full);
            assert!(!h.handle_response(&r, code, 0, 0, false), "{code}");
            let r = h.build([(tp("a", 0), p(id(1), 4)), (tp("b", 0), p(id(2), 0))]);
            assert!(r.full, "{code}");
            assert_eq!((r.session_id, r.epoch), (expect_id, 0), "{code}");
            assert_eq!(names(&r.to_send), ["a-0", "b-0"]);
        }
    }

    #[test]
    fn transport_error_closes_and_restarts() {
        let mut h = FetchSessionHandler::default();
        let r = h.build([(tp("a", 0), p(id(1), 0))]);
        h.handle_response(&r, ErrorCode::None, 9, 0, true);
        h.handle_error();
        let r = h.build([(tp("a", 0), p(id(1), 0))]);
        assert!(r.full);
        assert_eq!((r.session_id, r.epoch), (9, 0));
        // The broker answers with a new session.
        h.handle_response(&r, ErrorCode::None, 10, 0, true);
        assert_eq!((h.session_id(), h.epoch()), (10, 1));
    }

    #[test]
    fn no_session_from_broker_keeps_full_fetches() {
        let mut h = FetchSessionHandler::default();
        for _ in 0..3 {
            let r = h.build([(tp("a", 0), p(id(1), 0))]);
            assert!(r.full);
            assert_eq!((r.session_id, r.epoch), (0, 0));
            assert!(h.handle_response(&r, ErrorCode::None, 0, 0, true));
        }
        // A throttled, empty full response is not used.
        let r = h.build([(tp("a", 0), p(id(1), 0))]);
        assert!(!h.handle_response(&r, ErrorCode::None, 4, 100, false));
        assert!(h.build([(tp("a", 0), p(id(1), 0))]).full);
    }

    #[test]
    fn broker_closing_the_session_restarts() {
        let mut h = FetchSessionHandler::default();
        let r = h.build([(tp("a", 0), p(id(1), 0))]);
        h.handle_response(&r, ErrorCode::None, 9, 0, true);
        let r = h.build([(tp("a", 0), p(id(1), 1))]);
        assert!(h.handle_response(&r, ErrorCode::None, 0, 0, true));
        let r = h.build([(tp("a", 0), p(id(1), 1))]);
        assert!(r.full);
        assert_eq!((r.session_id, r.epoch), (0, 0));
    }

    #[test]
    fn topic_ids_switch_and_recreated_topic() {
        let mut h = FetchSessionHandler::default();
        let r = h.build([(tp("a", 0), p(id(1), 0))]);
        h.handle_response(&r, ErrorCode::None, 9, 0, true);
        // Same topic with a new id: forget the old, send the new.
        let r = h.build([(tp("a", 0), p(id(2), 0))]);
        assert!(!r.full);
        assert_eq!(r.forgotten, vec![(tp("a", 0), id(1))]);
        assert_eq!(names(&r.to_send), ["a-0"]);
        h.handle_response(&r, ErrorCode::None, 9, 0, false);
        // A partition without a topic id: ids can no longer be used -> full fetch.
        let r = h.build([(tp("a", 0), p(id(2), 0)), (tp("b", 0), p(Uuid::ZERO, 0))]);
        assert!(r.full && !r.uses_topic_ids);
        assert_eq!((r.session_id, r.epoch), (9, 0));
    }

    #[test]
    fn epochs_wrap_to_one() {
        assert_eq!(next_epoch(1), 2);
        assert_eq!(next_epoch(i32::MAX), 1);
        let mut h = FetchSessionHandler::default();
        let r = h.build([(tp("a", 0), p(id(1), 0))]);
        h.handle_response(&r, ErrorCode::None, 9, 0, true);
        h.epoch = i32::MAX;
        let r = h.build([(tp("a", 0), p(id(1), 0))]);
        assert_eq!(r.epoch, i32::MAX);
        h.handle_response(&r, ErrorCode::None, 9, 0, false);
        assert_eq!(h.build([(tp("a", 0), p(id(1), 0))]).epoch, 1);
    }
}
