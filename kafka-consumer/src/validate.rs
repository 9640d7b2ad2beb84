//! Position validation after leader changes (KIP-320), as Java's consumer does it.
//!
//! A position carries the leader epoch of the record before it. When the partition's leader
//! epoch moves on (a new leader), or a position comes from a committed offset with an epoch,
//! the consumer asks the leader with OffsetForLeaderEpoch for the end offset of that epoch
//! before fetching again. An end offset below the position means the log was truncated under
//! the consumer (an unclean leader election): with a reset policy the position moves back to
//! the first offset known to diverge; with `auto.offset.reset=none` the application gets
//! [`Error::LogTruncation`](crate::Error::LogTruncation). Fetch v12+ reports the same through
//! `diverging_epoch`, which is decided the same way.

use crate::config::AutoOffsetReset;

/// What to do with a position once the leader told us the end of its epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// No truncation: fetch on from the position.
    Valid,
    /// Truncated: continue from the first offset known to diverge, with this epoch.
    SeekTo {
        /// The divergence offset.
        offset: i64,
        /// Its leader epoch.
        epoch: i32,
    },
    /// The broker knows no such epoch: reset with the policy.
    Reset(AutoOffsetReset),
    /// Truncated and `auto.offset.reset=none`: fail with `LogTruncation`.
    Truncated {
        /// The first diverging offset, when known.
        divergent_offset: Option<i64>,
    },
}

/// Decides from the broker's `(end_epoch, end_offset)` for the position's epoch. `-1` in
/// either means the broker has no such epoch.
pub(crate) fn decide(
    position: i64,
    end_epoch: i32,
    end_offset: i64,
    policy: AutoOffsetReset,
) -> Outcome {
    let has_policy = policy != AutoOffsetReset::None;
    if end_epoch < 0 || end_offset < 0 {
        if has_policy {
            Outcome::Reset(policy)
        } else {
            Outcome::Truncated {
                divergent_offset: None,
            }
        }
    } else if end_offset < position {
        if has_policy {
            Outcome::SeekTo {
                offset: end_offset,
                epoch: end_epoch,
            }
        } else {
            Outcome::Truncated {
                divergent_offset: Some(end_offset),
            }
        }
    } else {
        Outcome::Valid
    }
}

/// Whether a position with `position_epoch`, last fetched under `known_leader_epoch`, needs
/// validation now that the metadata says the leader epoch is `metadata_epoch`.
pub(crate) fn needs_validation(
    position_epoch: Option<i32>,
    known_leader_epoch: Option<i32>,
    metadata_epoch: i32,
) -> bool {
    match (position_epoch, known_leader_epoch) {
        (Some(_), Some(known)) => metadata_epoch > known,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_offset_at_or_past_position_is_valid() {
        assert_eq!(decide(10, 3, 10, AutoOffsetReset::Earliest), Outcome::Valid);
        assert_eq!(decide(10, 3, 15, AutoOffsetReset::None), Outcome::Valid);
    }

    #[test]
    fn truncation_moves_to_the_divergence_point_or_fails() {
        assert_eq!(
            decide(10, 2, 7, AutoOffsetReset::Latest),
            Outcome::SeekTo {
                offset: 7,
                epoch: 2
            }
        );
        assert_eq!(
            decide(10, 2, 7, AutoOffsetReset::None),
            Outcome::Truncated {
                divergent_offset: Some(7)
            }
        );
    }

    #[test]
    fn unknown_epoch_resets_by_policy_or_fails() {
        assert_eq!(
            decide(10, -1, -1, AutoOffsetReset::Earliest),
            Outcome::Reset(AutoOffsetReset::Earliest)
        );
        assert_eq!(
            decide(10, -1, -1, AutoOffsetReset::None),
            Outcome::Truncated {
                divergent_offset: None
            }
        );
    }

    #[test]
    fn validation_only_after_a_newer_leader_epoch() {
        assert!(needs_validation(Some(1), Some(1), 2));
        assert!(!needs_validation(Some(1), Some(2), 2));
        assert!(!needs_validation(Some(1), Some(3), 2));
        // No epoch on the position (e.g. a plain seek): nothing to validate against.
        assert!(!needs_validation(None, Some(1), 2));
        // First fetch of the partition: the epoch is learnt, not compared.
        assert!(!needs_validation(Some(1), None, 2));
    }
}
