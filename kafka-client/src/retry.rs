//! Retry policy: exponential backoff with jitter, error classification and deadlines.
//!
//! One classifier decides what is retried: [`crate::Error::is_retriable`] (built on
//! [`ErrorCode::is_retriable`] for broker codes), plus two questions the router asks after a
//! retriable failure: does it make cached metadata stale ([`is_stale_metadata`]) and does it make
//! a cached coordinator stale ([`is_coordinator_error`]).

use std::time::Duration;

use kafka_protocol::ErrorCode;
use tokio::time::Instant;

/// Whether `code` means the client's view of leaders or brokers is out of date, so metadata
/// should be refreshed before retrying.
///
/// ```
/// use kafka_client::retry::is_stale_metadata;
/// use kafka_protocol::ErrorCode;
/// assert!(is_stale_metadata(ErrorCode::NotLeaderOrFollower));
/// assert!(!is_stale_metadata(ErrorCode::RequestTimedOut));
/// ```
pub fn is_stale_metadata(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NotLeaderOrFollower
            | ErrorCode::UnknownTopicOrPartition
            | ErrorCode::LeaderNotAvailable
            | ErrorCode::FencedLeaderEpoch
            | ErrorCode::UnknownLeaderEpoch
            | ErrorCode::NotController
            | ErrorCode::BrokerNotAvailable
            | ErrorCode::ReplicaNotAvailable
            | ErrorCode::KafkaStorageError
            | ErrorCode::UnknownTopicId
            | ErrorCode::InconsistentTopicId
            | ErrorCode::OffsetNotAvailable
    )
}

/// Whether `code` means a cached group or transaction coordinator should be looked up again.
///
/// ```
/// use kafka_client::retry::is_coordinator_error;
/// use kafka_protocol::ErrorCode;
/// assert!(is_coordinator_error(ErrorCode::NotCoordinator));
/// assert!(!is_coordinator_error(ErrorCode::UnknownMemberId));
/// ```
pub fn is_coordinator_error(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::NotCoordinator
            | ErrorCode::CoordinatorNotAvailable
            | ErrorCode::CoordinatorLoadInProgress
    )
}

/// Exponential backoff with ±20 % jitter (as the Java client does): `initial * 2^attempt`,
/// capped at `max`.
///
/// ```
/// use std::time::Duration;
/// use kafka_client::retry::Backoff;
///
/// let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
/// for attempt in 0..20 {
///     let d = b.delay(attempt);
///     assert!(d >= Duration::from_millis(80) && d <= Duration::from_millis(1200));
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// The largest delay (before jitter).
    pub max: Duration,
}

/// Relative jitter applied to every delay.
pub const JITTER: f64 = 0.2;

impl Backoff {
    /// A backoff from `initial` doubling up to `max` (`max` below `initial` is raised to it).
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
        }
    }

    /// The delay before retry number `attempt` (0 for the first retry), with jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let base = self.base(attempt).as_secs_f64();
        let factor = 1.0 + JITTER * (fastrand::f64() * 2.0 - 1.0);
        Duration::from_secs_f64((base * factor).max(0.0))
    }

    /// The delay before retry number `attempt`, without jitter.
    pub fn base(&self, attempt: u32) -> Duration {
        let mult = 2u32.saturating_pow(attempt.min(31));
        self.initial.saturating_mul(mult).min(self.max)
    }
}

/// A point in time by which an operation must finish.
///
/// Uses tokio's clock, so tests with paused time control it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    timeout: Duration,
}

impl Deadline {
    /// `timeout` from now.
    pub fn after(timeout: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
        }
    }

    /// The instant.
    pub fn instant(&self) -> Instant {
        self.at
    }

    /// The timeout the deadline was made from.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Time left (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        Instant::now() >= self.at
    }

    /// The smaller of `d` and the time left.
    pub fn cap(&self, d: Duration) -> Duration {
        d.min(self.remaining())
    }
}

/// Drives one operation's retries: after each failure, [`Retrier::failed`] either sleeps the
/// backoff and lets the caller try again, or returns the error to give up with (fatal error,
/// or the deadline would pass during the backoff).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use kafka_client::retry::{Backoff, Deadline, Retrier};
/// use kafka_client::Error;
/// use kafka_protocol::ErrorCode;
///
/// let mut r = Retrier::new("demo", Backoff::new(Duration::from_millis(1), Duration::from_millis(2)), Deadline::after(Duration::from_secs(5)));
/// let mut tries = 0;
/// let v = loop {
///     tries += 1;
///     let res: Result<u32, Error> = if tries < 3 { Err(Error::kafka(ErrorCode::NotCoordinator, None)) } else { Ok(7) };
///     match res {
///         Ok(v) => break v,
///         Err(e) => r.failed(e).await.unwrap(),
///     }
/// };
/// assert_eq!((v, tries), (7, 3));
/// # }
/// ```
#[derive(Debug)]
pub struct Retrier {
    what: String,
    backoff: Backoff,
    deadline: Deadline,
    attempt: u32,
    last: Option<crate::Error>,
}

impl Retrier {
    /// A retrier for the operation `what`.
    pub fn new(what: impl Into<String>, backoff: Backoff, deadline: Deadline) -> Retrier {
        Retrier {
            what: what.into(),
            backoff,
            deadline,
            attempt: 0,
            last: None,
        }
    }

    /// The deadline.
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// Attempts that failed so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Records a failure: returns `Err` with the error to report when it is not retriable or
    /// the next attempt could not start before the deadline; otherwise sleeps the backoff.
    ///
    /// Cancel safe.
    pub async fn failed(&mut self, e: crate::Error) -> Result<(), crate::Error> {
        if !e.is_retriable() {
            return Err(e);
        }
        let delay = self.backoff.delay(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        if Instant::now() + delay >= self.deadline.instant() {
            return Err(self.timed_out_with(e));
        }
        tracing::debug!(what = %self.what, attempt = self.attempt, ?delay, error = %e, "retrying");
        self.last = Some(e);
        tokio::time::sleep(delay).await;
        Ok(())
    }

    /// The error for a deadline that passed while an attempt was running.
    pub fn timed_out(&mut self) -> crate::Error {
        let last = self.last.take();
        crate::Error::Timeout {
            what: self.what.clone(),
            timeout: self.deadline.timeout(),
            last: last.map(Box::new),
        }
    }

    fn timed_out_with(&mut self, e: crate::Error) -> crate::Error {
        crate::Error::Timeout {
            what: self.what.clone(),
            timeout: self.deadline.timeout(),
            last: Some(Box::new(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_bounds() {
        let b = Backoff::new(Duration::from_millis(50), Duration::from_millis(1000));
        assert_eq!(b.base(0), Duration::from_millis(50));
        assert_eq!(b.base(1), Duration::from_millis(100));
        assert_eq!(b.base(4), Duration::from_millis(800));
        assert_eq!(b.base(5), Duration::from_millis(1000));
        assert_eq!(b.base(u32::MAX), Duration::from_millis(1000));
        for a in 0..64 {
            let d = b.delay(a);
            let base = b.base(a).as_secs_f64();
            assert!(d.as_secs_f64() >= base * 0.8 - 1e-9 && d.as_secs_f64() <= base * 1.2 + 1e-9);
        }
    }

    #[test]
    fn max_below_initial_is_raised() {
        let b = Backoff::new(Duration::from_millis(500), Duration::from_millis(100));
        assert_eq!(b.base(3), Duration::from_millis(500));
    }
}
