//! [`DeliveryFuture`]: the second phase of a send, resolving when the broker acknowledges the
//! record (or the record fails).
//!
//! Every record of a batch shares one completion cell ([`BatchShared`]): one allocation per
//! batch, not per record.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::{ProducerError, RecordMetadata, Topic};

/// What the broker said about a whole batch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchAck {
    /// Offset of the first record (-1 with acks=0 or an unknown duplicate).
    pub(crate) base_offset: i64,
    /// Log-append time when the topic uses it, else -1.
    pub(crate) log_append_time: i64,
}

/// The completion cell of one batch.
#[derive(Debug)]
pub(crate) struct BatchShared {
    pub(crate) topic: Arc<str>,
    pub(crate) partition: i32,
    result: OnceLock<Result<BatchAck, ProducerError>>,
    wakers: Mutex<Vec<(u32, Waker)>>,
}

impl BatchShared {
    pub(crate) fn new(topic: Arc<str>, partition: i32) -> Arc<BatchShared> {
        Arc::new(BatchShared {
            topic,
            partition,
            result: OnceLock::new(),
            wakers: Mutex::new(Vec::new()),
        })
    }

    /// Sets the outcome (first call wins) and wakes every waiter.
    pub(crate) fn complete(&self, r: Result<BatchAck, ProducerError>) {
        let _ = self.result.set(r);
        let wakers =
            std::mem::take(&mut *self.wakers.lock().unwrap_or_else(PoisonError::into_inner));
        for (_, w) in wakers {
            w.wake();
        }
    }

    pub(crate) fn result(&self) -> Option<&Result<BatchAck, ProducerError>> {
        self.result.get()
    }

    fn poll_done(&self, slot: u32, registered: &mut bool, cx: &mut Context<'_>) -> bool {
        if self.result.get().is_some() {
            return true;
        }
        let mut w = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        // Re-check under the lock: `complete` sets the result before taking the wakers.
        if self.result.get().is_some() {
            return true;
        }
        if *registered && let Some(e) = w.iter_mut().find(|(s, _)| *s == slot) {
            if !e.1.will_wake(cx.waker()) {
                e.1 = cx.waker().clone();
            }
            return false;
        }
        w.push((slot, cx.waker().clone()));
        *registered = true;
        false
    }

    /// Waits until the batch completed (used by `flush`).
    pub(crate) async fn wait(self: &Arc<Self>) {
        let mut registered = false;
        std::future::poll_fn(|cx| {
            if self.poll_done(u32::MAX, &mut registered, cx) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// Per-record data kept beside the batch to build its [`RecordMetadata`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordMeta {
    pub(crate) index: u32,
    pub(crate) timestamp: i64,
    pub(crate) key_size: i32,
    pub(crate) value_size: i32,
}

impl RecordMeta {
    pub(crate) fn metadata(&self, shared: &BatchShared, ack: &BatchAck) -> RecordMetadata {
        RecordMetadata {
            topic: Topic::from(&shared.topic),
            partition: shared.partition,
            offset: if ack.base_offset < 0 {
                -1
            } else {
                ack.base_offset + i64::from(self.index)
            },
            timestamp: if ack.log_append_time >= 0 {
                ack.log_append_time
            } else {
                self.timestamp
            },
            serialized_key_size: self.key_size,
            serialized_value_size: self.value_size,
        }
    }
}

/// Resolves to the record's [`RecordMetadata`] once the broker acknowledged it, or to the
/// error that failed it (after retries, within `delivery.timeout.ms`).
///
/// Returned by [`Producer::send`](crate::Producer::send) once the record is in the producer's
/// buffer. Dropping it does **not** cancel the record: it is still sent; only the outcome is
/// no longer observed. Awaiting it is cancel safe.
///
/// ```no_run
/// # async fn demo(p: kafka_producer::Producer<String, String>) -> Result<(), kafka_producer::ProducerError> {
/// use kafka_producer::ProducerRecord;
/// let delivery = p.send(ProducerRecord::new("t", None, "v".to_string())).await?; // queued
/// let md = delivery.await?; // acknowledged
/// println!("{}-{}@{}", md.topic, md.partition, md.offset);
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "the record is sent anyway; await the future to learn its outcome"]
pub struct DeliveryFuture {
    batch: Arc<BatchShared>,
    meta: RecordMeta,
    registered: bool,
}

impl DeliveryFuture {
    pub(crate) fn new(batch: Arc<BatchShared>, meta: RecordMeta) -> DeliveryFuture {
        DeliveryFuture {
            batch,
            meta,
            registered: false,
        }
    }

    /// Whether the outcome is known (awaiting would not wait).
    pub fn is_done(&self) -> bool {
        self.batch.result().is_some()
    }
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata, ProducerError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if !this
            .batch
            .poll_done(this.meta.index, &mut this.registered, cx)
        {
            return Poll::Pending;
        }
        Poll::Ready(match this.batch.result() {
            Some(Ok(ack)) => Ok(this.meta.metadata(&this.batch, ack)),
            Some(Err(e)) => Err(e.clone()),
            None => Err(ProducerError::Closed),
        })
    }
}
