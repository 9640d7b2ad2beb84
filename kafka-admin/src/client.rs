//! [`AdminClient`], [`AdminConfig`], per-call options and shared helpers.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use kafka_client::config::Properties;
use kafka_client::{Client, ClientConfig, SendOptions, Target};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::{ErrorCode, Request};
use tokio::time::Instant;

use crate::error::{AdminError, Result};
use crate::types::TopicPartition;

/// Configuration of an [`AdminClient`]: the client core's settings (bootstrap servers,
/// security, timeouts) — the admin client adds none of its own beyond
/// `default.api.timeout.ms`, the timeout of calls whose options leave `timeout` unset.
///
/// ```
/// use std::time::Duration;
/// use kafka_admin::AdminConfig;
/// let cfg = AdminConfig::from_properties([
///     ("bootstrap.servers", "localhost:9092"),
///     ("default.api.timeout.ms", "15000"),
///     ("client.id", "ops-bot"),
/// ]).unwrap();
/// assert_eq!(cfg.default_api_timeout(), Duration::from_secs(15));
/// assert!(AdminConfig::from_properties([("bootstrap.servers", "h:1"), ("linger.ms", "5")]).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// The client core's configuration.
    pub client: ClientConfig,
}

impl AdminConfig {
    /// From a client configuration.
    pub fn new(client: ClientConfig) -> AdminConfig {
        AdminConfig { client }
    }

    /// With only bootstrap servers set (`host:port[,host:port…]`).
    pub fn bootstrap(servers: impl Into<String>) -> Result<AdminConfig> {
        Ok(AdminConfig {
            client: ClientConfig::builder().bootstrap_servers(servers).build()?,
        })
    }

    /// From Java AdminClient property names (`bootstrap.servers`, `default.api.timeout.ms`,
    /// `request.timeout.ms`, `security.protocol`, `sasl.*`, `ssl.*`, …). Unknown keys are
    /// errors naming the key.
    pub fn from_properties<K, V>(props: impl IntoIterator<Item = (K, V)>) -> Result<AdminConfig>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut p = Properties::new(props);
        let client = ClientConfig::take_from(&mut p)?;
        p.finish()?;
        Ok(AdminConfig { client })
    }

    /// The timeout of calls that do not set one.
    pub fn default_api_timeout(&self) -> Duration {
        self.client.default_api_timeout
    }
}

macro_rules! options {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $f:ident : $t:ty = $d:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub struct $name {
            /// Deadline of the whole call, retries included (default: `default.api.timeout.ms`).
            pub timeout: Option<std::time::Duration>,
            $($(#[$fm])* pub $f: $t,)*
        }
        impl Default for $name {
            fn default() -> Self {
                $name { timeout: None, $($f: $d,)* }
            }
        }
        impl $name {
            /// Sets the call's timeout.
            pub fn timeout(mut self, d: std::time::Duration) -> Self {
                self.timeout = Some(d);
                self
            }
            $(
                $(#[$fm])*
                pub fn $f(mut self, v: $t) -> Self {
                    self.$f = v;
                    self
                }
            )*
        }
    };
}
pub(crate) use options;

options!(
    /// Options of calls that have nothing but a timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// let o = kafka_admin::Options::default().timeout(Duration::from_secs(3));
    /// assert_eq!(o.timeout, Some(Duration::from_secs(3)));
    /// ```
    Options {}
);

/// Kafka's AdminClient: every admin operation, typed, with a timeout on every call and results
/// reported per entity (one topic can fail while the others succeed).
///
/// Cheap to clone. Built on [`kafka_client::Client`] (routing, retries of transport failures,
/// metadata); available as [`AdminClient::client`] for anything not covered here.
///
/// ```no_run
/// # async fn demo() -> Result<(), kafka_admin::AdminError> {
/// use kafka_admin::{AdminClient, AdminConfig, NewTopic, CreateTopicsOptions};
/// let admin = AdminClient::connect(AdminConfig::bootstrap("localhost:9092")?).await?;
/// let res = admin
///     .create_topics([NewTopic::new("orders", 3, 1)], CreateTopicsOptions::default())
///     .await?;
/// for (topic, r) in &res.per_topic {
///     match r {
///         Ok(created) => println!("{topic}: created with id {}", created.topic_id),
///         Err(e) => println!("{topic}: {e}"),
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AdminClient {
    pub(crate) client: Client,
    pub(crate) default_timeout: Duration,
}

impl AdminClient {
    /// Connects (bootstrap metadata within `default.api.timeout.ms`).
    ///
    /// Cancel safe.
    pub async fn connect(cfg: AdminConfig) -> Result<AdminClient> {
        let default_timeout = cfg.client.default_api_timeout;
        let client = Client::connect(cfg.client).await?;
        Ok(AdminClient {
            client,
            default_timeout,
        })
    }

    /// Wraps an existing client core (shares its connections and metadata).
    pub fn from_client(client: Client) -> AdminClient {
        let default_timeout = client.config().default_api_timeout;
        AdminClient {
            client,
            default_timeout,
        }
    }

    /// The client core, for requests this crate does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Closes every connection.
    pub fn close(&self) {
        self.client.close();
    }

    // ----- helpers shared by the operation modules -----

    pub(crate) fn timeout_of(&self, t: Option<Duration>) -> Duration {
        t.unwrap_or(self.default_timeout)
    }

    /// Runs `fut` within `timeout`, naming `operation` when it expires.
    pub(crate) async fn within<T>(
        &self,
        operation: &str,
        timeout: Duration,
        fut: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(AdminError::Timeout {
                operation: operation.to_string(),
                timeout,
            }),
        }
    }

    /// Sends with retries of transport failures and of the retriable top-level code
    /// `code_of` returns, until `deadline`.
    pub(crate) async fn send_retry<R, F>(
        &self,
        target: Target,
        req: &R,
        deadline: Instant,
        max_version: Option<i16>,
        code_of: F,
    ) -> Result<R::Response>
    where
        R: Request + Sync,
        F: Fn(&R::Response) -> i16,
    {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut opts = SendOptions::default().timeout(left.max(Duration::from_millis(1)));
        if let Some(v) = max_version {
            opts = opts.max_version(v);
        }
        let resp = self
            .client
            .send_checked(&target, req, opts, |r| {
                let c = ErrorCode::from_i16(code_of(r));
                if c.is_retriable() { c } else { ErrorCode::None }
            })
            .await?;
        Ok(resp)
    }

    /// Sends once per transport retry policy; error codes are left to the caller.
    pub(crate) async fn send<R: Request + Sync>(
        &self,
        target: Target,
        req: &R,
        deadline: Instant,
    ) -> Result<R::Response> {
        self.send_retry(target, req, deadline, None, |_| 0).await
    }

    /// The version the cluster speaks for `api` (None: not served, or no live connection).
    pub(crate) async fn version_of(&self, api: ApiKey) -> Option<i16> {
        if let Some(v) = self.client.negotiated_version(api) {
            return Some(v);
        }
        let conn = self.client.connection_for(&Target::AnyBroker).await.ok()?;
        conn.version_for(api)
    }

    /// Whether the cluster serves `api`.
    pub(crate) async fn supports(&self, api: ApiKey) -> bool {
        self.version_of(api).await.is_some()
    }

    /// Node ids of every broker in the metadata.
    pub(crate) async fn broker_ids(&self) -> Result<Vec<i32>> {
        let mut md = self.client.metadata();
        if md.brokers.is_empty() {
            md = self.client.refresh_metadata(Vec::<String>::new()).await?;
        }
        Ok(md.brokers.keys().copied().collect())
    }

    /// Fans partitions out to their leaders: `f(leader, partitions)` answers per partition;
    /// partitions with retriable errors (or no leader) are retried after a metadata refresh
    /// until `deadline`, then keep their last error.
    pub(crate) async fn by_leader<T, F, Fut>(
        &self,
        parts: Vec<TopicPartition>,
        deadline: Instant,
        f: F,
    ) -> BTreeMap<TopicPartition, Result<T>>
    where
        F: Fn(i32, Vec<TopicPartition>) -> Fut,
        Fut: Future<Output = Result<Vec<(TopicPartition, Result<T>)>>>,
    {
        let mut out: BTreeMap<TopicPartition, Result<T>> = BTreeMap::new();
        let mut todo = parts;
        let mut backoff = Duration::from_millis(50);
        loop {
            let topics: Vec<String> = todo.iter().map(|tp| tp.topic.clone()).collect();
            let md = match self.client.refresh_metadata(topics).await {
                Ok(md) => md,
                Err(e) => {
                    let e = AdminError::from(e);
                    for tp in todo {
                        out.insert(tp, Err(e.clone()));
                    }
                    return out;
                }
            };
            let mut groups: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
            let mut retry = Vec::new();
            for tp in todo {
                match md.topic(&tp.topic) {
                    Some(t) if t.error.is_some_and(|e| !e.is_retriable()) => {
                        let code = t.error.unwrap_or(ErrorCode::UnknownServerError);
                        out.insert(tp, Err(AdminError::from_code(code, None)));
                    }
                    Some(t) if t.error.is_none() && t.partition(tp.partition).is_none() => {
                        out.insert(
                            tp,
                            Err(AdminError::from_code(
                                ErrorCode::UnknownTopicOrPartition,
                                None,
                            )),
                        );
                    }
                    _ => match md.leader_for(&tp.topic, tp.partition) {
                        Some((leader, _)) if leader >= 0 => {
                            groups.entry(leader).or_default().push(tp)
                        }
                        _ => {
                            out.insert(
                                tp.clone(),
                                Err(AdminError::from_code(ErrorCode::LeaderNotAvailable, None)),
                            );
                            retry.push(tp);
                        }
                    },
                }
            }
            for (leader, tps) in groups {
                match f(leader, tps.clone()).await {
                    Ok(answers) => {
                        let mut seen = std::collections::BTreeSet::new();
                        for (tp, r) in answers {
                            seen.insert(tp.clone());
                            if let Err(e) = &r
                                && e.is_retriable()
                            {
                                retry.push(tp.clone());
                            }
                            out.insert(tp, r);
                        }
                        for tp in tps {
                            if !seen.contains(&tp) {
                                out.insert(
                                    tp.clone(),
                                    Err(AdminError::Malformed(format!(
                                        "broker {leader} did not answer for {tp}"
                                    ))),
                                );
                            }
                        }
                    }
                    Err(e) => {
                        let retriable = e.is_retriable();
                        for tp in tps {
                            if retriable {
                                retry.push(tp.clone());
                            }
                            out.insert(tp, Err(e.clone()));
                        }
                    }
                }
            }
            if retry.is_empty() || Instant::now() + backoff >= deadline {
                return out;
            }
            self.client.invalidate_metadata();
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
            todo = retry;
        }
    }
}

/// Milliseconds of a duration as Kafka's `int32` timeouts want them.
pub(crate) fn ms_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn futures_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        fn assert_sync<T: Send + Sync>() {}
        assert_sync::<AdminClient>();
        assert_sync::<AdminError>();
        let f = AdminClient::connect(AdminConfig {
            client: ClientConfig::default(),
        });
        assert_send(&f);
    }

    #[test]
    fn ms_saturates() {
        assert_eq!(ms_i32(Duration::from_secs(u64::MAX / 2000)), i32::MAX);
        assert_eq!(ms_i32(Duration::from_millis(1500)), 1500);
    }
}
