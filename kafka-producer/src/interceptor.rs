//! Producer interceptors: see or rewrite each record before it is sent, and see each
//! acknowledgement. An interceptor that fails is logged and skipped; it never fails the send
//! or stops the producer (as in the Java client).
//!
//! ```
//! use kafka_producer::interceptor::{InterceptorChain, ProducerInterceptor};
//! use kafka_producer::{ProducerError, ProducerRecord, RecordMetadata};
//!
//! #[derive(Debug)]
//! struct Tag;
//! impl ProducerInterceptor<String, String> for Tag {
//!     fn on_send(&self, r: &ProducerRecord<String, String>) -> Result<Option<ProducerRecord<String, String>>, ProducerError> {
//!         Ok(Some(r.clone().with_header("via", Some(&b"tag"[..]))))
//!     }
//! }
//! let chain = InterceptorChain::new(vec![std::sync::Arc::new(Tag)]);
//! let out = chain.on_send(ProducerRecord::new("t", None, "v".to_string()));
//! assert_eq!(out.headers[0].key, "via");
//! ```

use std::sync::Arc;

use crate::{ProducerError, ProducerRecord, RecordMetadata};

/// A producer interceptor.
pub trait ProducerInterceptor<K, V>: Send + Sync + std::fmt::Debug {
    /// Called before serialization. Return `Ok(None)` to keep the record, `Ok(Some(r))` to
    /// replace it. An error is logged and the record passes on unchanged.
    fn on_send(
        &self,
        record: &ProducerRecord<K, V>,
    ) -> Result<Option<ProducerRecord<K, V>>, ProducerError> {
        let _ = record;
        Ok(None)
    }

    /// Called once per record when it is acknowledged (`Ok`) or fails (`Err`).
    fn on_acknowledgement(&self, result: Result<&RecordMetadata, &str>) {
        let _ = result;
    }
}

/// Interceptors applied in order.
#[derive(Debug)]
pub struct InterceptorChain<K, V> {
    interceptors: Vec<Arc<dyn ProducerInterceptor<K, V>>>,
}

impl<K, V> Default for InterceptorChain<K, V> {
    fn default() -> Self {
        InterceptorChain {
            interceptors: Vec::new(),
        }
    }
}

impl<K, V> InterceptorChain<K, V> {
    /// A chain of these interceptors, applied in order.
    pub fn new(interceptors: Vec<Arc<dyn ProducerInterceptor<K, V>>>) -> Self {
        InterceptorChain { interceptors }
    }

    /// Whether the chain is empty (the producer then skips it entirely).
    pub fn is_empty(&self) -> bool {
        self.interceptors.is_empty()
    }

    /// Runs every interceptor's `on_send`; failures are logged and skipped.
    pub fn on_send(&self, mut record: ProducerRecord<K, V>) -> ProducerRecord<K, V> {
        for i in &self.interceptors {
            match i.on_send(&record) {
                Ok(None) => {}
                Ok(Some(r)) => record = r,
                Err(e) => {
                    tracing::warn!(interceptor = ?i, error = %e, "producer interceptor on_send failed; record passed on unchanged")
                }
            }
        }
        record
    }

    /// Runs every interceptor's `on_acknowledgement`; a panicking interceptor is contained.
    pub fn on_acknowledgement(&self, result: Result<&RecordMetadata, &str>) {
        for i in &self.interceptors {
            let call = std::panic::AssertUnwindSafe(|| i.on_acknowledgement(result));
            if std::panic::catch_unwind(call).is_err() {
                tracing::warn!(interceptor = ?i, "producer interceptor on_acknowledgement panicked");
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug)]
    struct Failing;
    impl ProducerInterceptor<String, String> for Failing {
        fn on_send(
            &self,
            _r: &ProducerRecord<String, String>,
        ) -> Result<Option<ProducerRecord<String, String>>, ProducerError> {
            Err(ProducerError::Interceptor("boom".into()))
        }
        fn on_acknowledgement(&self, _r: Result<&RecordMetadata, &str>) {
            panic!("interceptor bug");
        }
    }

    #[derive(Debug, Default)]
    struct Upper(AtomicUsize);
    impl ProducerInterceptor<String, String> for Upper {
        fn on_send(
            &self,
            r: &ProducerRecord<String, String>,
        ) -> Result<Option<ProducerRecord<String, String>>, ProducerError> {
            let mut r = r.clone();
            r.value = r.value.map(|v| v.to_uppercase());
            Ok(Some(r))
        }
        fn on_acknowledgement(&self, _r: Result<&RecordMetadata, &str>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn failures_are_contained_and_later_interceptors_still_run() {
        let upper = Arc::new(Upper::default());
        let chain: InterceptorChain<String, String> =
            InterceptorChain::new(vec![Arc::new(Failing), upper.clone()]);
        let out = chain.on_send(ProducerRecord::new("t", None, "abc".to_string()));
        assert_eq!(out.value.as_deref(), Some("ABC"));
        chain.on_acknowledgement(Err("timed out"));
        assert_eq!(upper.0.load(Ordering::Relaxed), 1);
    }
}
