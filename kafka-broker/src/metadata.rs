//! Topics, partitions and configs, persisted in the data directory.
//!
//! Layout of the data directory:
//!
//! ```text
//! meta.properties        cluster.id, node.id (as Kafka's)
//! topics.json            every topic: name, id, partition count, config overrides
//! broker-configs.json    dynamic broker-level config defaults (AlterConfigs on BROKER)
//! producer-ids.json      the producer-id block high-water mark
//! <topic>-<partition>/   one partition log each (owned by the log engine)
//! ```
//!
//! Readers take a snapshot of the catalog (`Arc<Catalog>`; the `RwLock` is held only to clone
//! the `Arc`), so the produce/fetch path never waits on an admin operation. Admin operations
//! are serialized by one mutex, write the new state to disk atomically, then publish a new
//! snapshot. Each partition log sits behind its own mutex.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};

use kafka_protocol::{ErrorCode, Uuid};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::config;
use crate::error::{BrokerError, Result, file_err};
use crate::log::{LogConfig, PartitionLog};
use crate::util::{random_uuid, write_atomic};

/// An admin failure: the Kafka error code and message for the response.
pub(crate) type AdminError = (ErrorCode, String);

/// One partition: its log behind its own lock, and the delayed fetches watching it.
pub(crate) struct Partition {
    pub(crate) topic: String,
    pub(crate) index: i32,
    log: Mutex<Option<PartitionLog>>,
    /// Delayed fetches waiting on this partition (weak: a finished fetch leaves nothing).
    watchers: Mutex<Vec<Weak<Notify>>>,
}

impl Partition {
    /// Runs `f` on the log; `None` when the partition has been deleted (or its lock poisoned).
    pub(crate) fn with_log<R>(&self, f: impl FnOnce(&mut PartitionLog) -> R) -> Option<R> {
        let mut g = self.log.lock().ok()?;
        g.as_mut().map(f)
    }

    /// Registers a delayed fetch to be woken by the next append.
    pub(crate) fn watch(&self, n: &Arc<Notify>) {
        if let Ok(mut w) = self.watchers.lock() {
            w.retain(|x| x.strong_count() > 0);
            if !w.iter().any(|x| std::ptr::eq(x.as_ptr(), Arc::as_ptr(n))) {
                w.push(Arc::downgrade(n));
            }
        }
    }

    /// Wakes every delayed fetch watching this partition.
    pub(crate) fn wake(&self) {
        let ws = match self.watchers.lock() {
            Ok(mut w) => std::mem::take(&mut *w),
            Err(_) => return,
        };
        for w in ws.iter().filter_map(Weak::upgrade) {
            w.notify_one();
        }
    }

    fn take_log(&self) -> Option<PartitionLog> {
        self.log.lock().ok()?.take()
    }
}

/// One topic. Immutable: a config or partition change publishes a new `Topic` sharing the
/// unchanged partitions.
pub(crate) struct Topic {
    pub(crate) name: String,
    pub(crate) id: Uuid,
    pub(crate) configs: BTreeMap<String, String>,
    pub(crate) partitions: Vec<Arc<Partition>>,
}

impl Topic {
    pub(crate) fn partition(&self, index: i32) -> Option<&Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.get(i))
    }
}

/// A consistent view of all topics.
#[derive(Default)]
pub(crate) struct Catalog {
    pub(crate) by_name: BTreeMap<String, Arc<Topic>>,
    pub(crate) by_id: HashMap<Uuid, Arc<Topic>>,
}

impl Catalog {
    fn insert(&mut self, t: Arc<Topic>) {
        self.by_id.insert(t.id, t.clone());
        self.by_name.insert(t.name.clone(), t);
    }
    fn remove(&mut self, name: &str) -> Option<Arc<Topic>> {
        let t = self.by_name.remove(name)?;
        self.by_id.remove(&t.id);
        Some(t)
    }
}

#[derive(Serialize, Deserialize)]
struct PersistedTopic {
    name: String,
    id: String,
    partitions: i32,
    #[serde(default)]
    configs: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Default)]
struct PersistedTopics {
    topics: Vec<PersistedTopic>,
}

/// Whether `name` is a legal topic name (Kafka's rules); the error is the message.
pub(crate) fn validate_topic_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("Topic name is illegal, it can't be empty".into());
    }
    if name == "." || name == ".." {
        return Err("Topic name cannot be \".\" or \"..\"".into());
    }
    if name.len() > 249 {
        return Err(format!(
            "Topic name is illegal, it can't be longer than 249 characters, topic name: {name}"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(format!(
            "Topic name {name} is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// All topics and broker-level configs.
pub(crate) struct Metadata {
    dir: PathBuf,
    catalog: RwLock<Arc<Catalog>>,
    static_defaults: BTreeMap<String, String>,
    dynamic_defaults: RwLock<BTreeMap<String, String>>,
    admin: Mutex<()>,
}

fn lock_err<T>(_: T) -> AdminError {
    (
        ErrorCode::UnknownServerError,
        "internal lock poisoned".into(),
    )
}

impl Metadata {
    /// Loads topics and opens every partition log under `dir`.
    pub(crate) fn open(dir: &Path, static_defaults: BTreeMap<String, String>) -> Result<Metadata> {
        let dynamic_path = dir.join("broker-configs.json");
        let dynamic_defaults: BTreeMap<String, String> =
            read_json(&dynamic_path)?.unwrap_or_default();
        let md = Metadata {
            dir: dir.to_path_buf(),
            catalog: RwLock::new(Arc::new(Catalog::default())),
            static_defaults,
            dynamic_defaults: RwLock::new(dynamic_defaults),
            admin: Mutex::new(()),
        };
        let topics_path = dir.join("topics.json");
        let persisted: PersistedTopics = read_json(&topics_path)?.unwrap_or_default();
        let mut catalog = Catalog::default();
        for pt in persisted.topics {
            let id = Uuid::parse(&pt.id).ok_or_else(|| BrokerError::CorruptMetadata {
                path: topics_path.clone(),
                message: format!("topic {}: bad id {}", pt.name, pt.id),
            })?;
            let lc = md.log_config(&pt.configs);
            let mut partitions = Vec::new();
            for i in 0..pt.partitions {
                partitions.push(md.open_partition(&pt.name, i, lc.clone())?);
            }
            tracing::info!(topic = %pt.name, partitions = pt.partitions, "loaded topic");
            catalog.insert(Arc::new(Topic {
                name: pt.name,
                id,
                configs: pt.configs,
                partitions,
            }));
        }
        if let Ok(mut c) = md.catalog.write() {
            *c = Arc::new(catalog);
        }
        Ok(md)
    }

    fn open_partition(&self, topic: &str, index: i32, lc: LogConfig) -> Result<Arc<Partition>> {
        let pdir = self.dir.join(format!("{topic}-{index}"));
        let log = PartitionLog::open(pdir, lc).map_err(|source| BrokerError::Log {
            partition: format!("{topic}-{index}"),
            source,
        })?;
        Ok(Arc::new(Partition {
            topic: topic.to_string(),
            index,
            log: Mutex::new(Some(log)),
            watchers: Mutex::new(Vec::new()),
        }))
    }

    /// The current catalog snapshot.
    pub(crate) fn snapshot(&self) -> Arc<Catalog> {
        match self.catalog.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn publish(&self, c: Catalog) {
        match self.catalog.write() {
            Ok(mut g) => *g = Arc::new(c),
            Err(p) => *p.into_inner() = Arc::new(c),
        }
    }

    fn clone_catalog(&self) -> Catalog {
        let s = self.snapshot();
        Catalog {
            by_name: s.by_name.clone(),
            by_id: s.by_id.clone(),
        }
    }

    /// Dynamic broker defaults (topic-config names).
    pub(crate) fn dynamic_defaults(&self) -> BTreeMap<String, String> {
        self.dynamic_defaults
            .read()
            .map(|g| g.clone())
            .unwrap_or_default()
    }

    /// Static broker defaults (topic-config names).
    pub(crate) fn static_defaults(&self) -> &BTreeMap<String, String> {
        &self.static_defaults
    }

    /// The effective value of topic config `name` given a topic's overrides, with its source
    /// (DescribeConfigs `config_source`: 1 topic, 2/3 dynamic broker, 4 static broker, 5 default).
    pub(crate) fn effective(
        &self,
        overrides: &BTreeMap<String, String>,
        dynamic: &BTreeMap<String, String>,
        name: &str,
    ) -> (String, i8) {
        if let Some(v) = overrides.get(name) {
            return (v.clone(), 1);
        }
        if let Some(v) = dynamic.get(name) {
            return (v.clone(), 3);
        }
        if let Some(v) = self.static_defaults.get(name) {
            return (v.clone(), 4);
        }
        (
            config::topic_def(name)
                .map(|d| d.default.to_string())
                .unwrap_or_default(),
            5,
        )
    }

    /// The log settings for a topic with these overrides.
    pub(crate) fn log_config(&self, overrides: &BTreeMap<String, String>) -> LogConfig {
        let dynamic = self.dynamic_defaults();
        config::log_config_from(|k| self.effective(overrides, &dynamic, k).0)
    }

    /// `min.insync.replicas` of a topic.
    pub(crate) fn min_insync(&self, topic: &Topic) -> i64 {
        let dynamic = self.dynamic_defaults();
        self.effective(&topic.configs, &dynamic, "min.insync.replicas")
            .0
            .parse()
            .unwrap_or(1)
    }

    fn persist_topics(&self, c: &Catalog) -> std::result::Result<(), AdminError> {
        let p = PersistedTopics {
            topics: c
                .by_name
                .values()
                .map(|t| PersistedTopic {
                    name: t.name.clone(),
                    id: t.id.to_string(),
                    partitions: t.partitions.len() as i32,
                    configs: t.configs.clone(),
                })
                .collect(),
        };
        let data = serde_json::to_vec_pretty(&p)
            .map_err(|e| (ErrorCode::UnknownServerError, e.to_string()))?;
        write_atomic(&self.dir.join("topics.json"), &data)
            .map_err(|e| (ErrorCode::KafkaStorageError, e.to_string()))
    }

    /// Validates topic config overrides (INVALID_CONFIG on the first bad one).
    pub(crate) fn validate_configs(
        configs: &BTreeMap<String, String>,
    ) -> std::result::Result<(), AdminError> {
        for (k, v) in configs {
            config::validate_topic_config(k, v).map_err(|m| (ErrorCode::InvalidConfig, m))?;
        }
        Ok(())
    }

    /// Creates a topic (blocking: opens logs and writes metadata).
    pub(crate) fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: BTreeMap<String, String>,
        validate_only: bool,
    ) -> std::result::Result<Arc<Topic>, AdminError> {
        validate_topic_name(name).map_err(|m| (ErrorCode::InvalidTopicException, m))?;
        if partitions < 1 {
            return Err((
                ErrorCode::InvalidPartitions,
                "Number of partitions must be larger than 0.".into(),
            ));
        }
        if partitions > 100_000 {
            return Err((
                ErrorCode::InvalidPartitions,
                format!("Number of partitions {partitions} is too large for this broker."),
            ));
        }
        Self::validate_configs(&configs)?;
        let _g = self.admin.lock().map_err(lock_err)?;
        let mut c = self.clone_catalog();
        if c.by_name.contains_key(name) {
            return Err((
                ErrorCode::TopicAlreadyExists,
                format!("Topic '{name}' already exists."),
            ));
        }
        // Kafka forbids names that collide after mapping '.' to '_'.
        let norm = name.replace('.', "_");
        if let Some(other) = c.by_name.keys().find(|n| n.replace('.', "_") == norm) {
            return Err((
                ErrorCode::InvalidTopicException,
                format!("Topic '{name}' collides with existing topic: {other}"),
            ));
        }
        let id = loop {
            let id = random_uuid();
            if !c.by_id.contains_key(&id) {
                break id;
            }
        };
        if validate_only {
            return Ok(Arc::new(Topic {
                name: name.to_string(),
                id,
                configs,
                partitions: Vec::new(),
            }));
        }
        let lc = self.log_config(&configs);
        let mut parts = Vec::new();
        for i in 0..partitions {
            match self.open_partition(name, i, lc.clone()) {
                Ok(p) => parts.push(p),
                Err(e) => {
                    for p in parts {
                        if let Some(l) = p.take_log() {
                            let _ = l.delete();
                        }
                    }
                    return Err((ErrorCode::KafkaStorageError, e.to_string()));
                }
            }
        }
        let t = Arc::new(Topic {
            name: name.to_string(),
            id,
            configs,
            partitions: parts,
        });
        c.insert(t.clone());
        self.persist_topics(&c)?;
        self.publish(c);
        tracing::info!(topic = name, partitions, id = %id, "created topic");
        Ok(t)
    }

    /// Deletes a topic by name and its logs.
    pub(crate) fn delete_topic(&self, name: &str) -> std::result::Result<Arc<Topic>, AdminError> {
        let _g = self.admin.lock().map_err(lock_err)?;
        let mut c = self.clone_catalog();
        let Some(t) = c.remove(name) else {
            return Err((
                ErrorCode::UnknownTopicOrPartition,
                "This server does not host this topic-partition.".into(),
            ));
        };
        self.persist_topics(&c)?;
        self.publish(c);
        for p in &t.partitions {
            if let Some(l) = p.take_log()
                && let Err(e) = l.delete()
            {
                tracing::warn!(topic = name, partition = p.index, error = %e, "deleting partition log failed");
            }
            p.wake();
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(t)
    }

    /// Raises a topic's partition count.
    pub(crate) fn create_partitions(
        &self,
        name: &str,
        count: i32,
        validate_only: bool,
    ) -> std::result::Result<(), AdminError> {
        let _g = self.admin.lock().map_err(lock_err)?;
        let mut c = self.clone_catalog();
        let Some(t) = c.by_name.get(name).cloned() else {
            return Err((
                ErrorCode::UnknownTopicOrPartition,
                format!("The topic '{name}' does not exist."),
            ));
        };
        let current = t.partitions.len() as i32;
        if count < current {
            return Err((
                ErrorCode::InvalidPartitions,
                format!(
                    "Topic currently has {current} partitions, which is higher than the requested {count}."
                ),
            ));
        }
        if count == current {
            return Err((
                ErrorCode::InvalidPartitions,
                format!("Topic already has {current} partitions."),
            ));
        }
        if count > 100_000 {
            return Err((ErrorCode::InvalidPartitions, "too many partitions".into()));
        }
        if validate_only {
            return Ok(());
        }
        let lc = self.log_config(&t.configs);
        let mut parts = t.partitions.clone();
        for i in current..count {
            parts.push(
                self.open_partition(name, i, lc.clone())
                    .map_err(|e| (ErrorCode::KafkaStorageError, e.to_string()))?,
            );
        }
        c.insert(Arc::new(Topic {
            name: t.name.clone(),
            id: t.id,
            configs: t.configs.clone(),
            partitions: parts,
        }));
        self.persist_topics(&c)?;
        self.publish(c);
        tracing::info!(topic = name, from = current, to = count, "added partitions");
        Ok(())
    }

    /// Replaces a topic's config overrides and applies them to its logs.
    pub(crate) fn set_topic_configs(
        &self,
        name: &str,
        update: impl FnOnce(
            &BTreeMap<String, String>,
        ) -> std::result::Result<BTreeMap<String, String>, AdminError>,
        validate_only: bool,
    ) -> std::result::Result<(), AdminError> {
        let _g = self.admin.lock().map_err(lock_err)?;
        let mut c = self.clone_catalog();
        let Some(t) = c.by_name.get(name).cloned() else {
            return Err((
                ErrorCode::UnknownTopicOrPartition,
                format!("Topic {name} does not exist."),
            ));
        };
        let configs = update(&t.configs)?;
        Self::validate_configs(&configs)?;
        if validate_only {
            return Ok(());
        }
        let lc = self.log_config(&configs);
        for p in &t.partitions {
            p.with_log(|l| l.set_config(lc.clone()));
        }
        c.insert(Arc::new(Topic {
            name: t.name.clone(),
            id: t.id,
            configs,
            partitions: t.partitions.clone(),
        }));
        self.persist_topics(&c)?;
        self.publish(c);
        Ok(())
    }

    /// Replaces the dynamic broker defaults (topic-config names) and re-applies every
    /// topic's log settings.
    pub(crate) fn set_dynamic_defaults(
        &self,
        update: impl FnOnce(
            &BTreeMap<String, String>,
        ) -> std::result::Result<BTreeMap<String, String>, AdminError>,
        validate_only: bool,
    ) -> std::result::Result<(), AdminError> {
        let _g = self.admin.lock().map_err(lock_err)?;
        let new = update(&self.dynamic_defaults())?;
        Self::validate_configs(&new)?;
        if validate_only {
            return Ok(());
        }
        let data = serde_json::to_vec_pretty(&new)
            .map_err(|e| (ErrorCode::UnknownServerError, e.to_string()))?;
        write_atomic(&self.dir.join("broker-configs.json"), &data)
            .map_err(|e| (ErrorCode::KafkaStorageError, e.to_string()))?;
        if let Ok(mut g) = self.dynamic_defaults.write() {
            *g = new;
        }
        for t in self.snapshot().by_name.values() {
            let lc = self.log_config(&t.configs);
            for p in &t.partitions {
                p.with_log(|l| l.set_config(lc.clone()));
            }
        }
        Ok(())
    }

    /// Every partition of every topic.
    pub(crate) fn all_partitions(&self) -> Vec<Arc<Partition>> {
        self.snapshot()
            .by_name
            .values()
            .flat_map(|t| t.partitions.iter().cloned())
            .collect()
    }

    /// Flushes and closes every log (shutdown).
    pub(crate) fn close_all(&self) {
        for p in self.all_partitions() {
            if let Some(l) = p.take_log() {
                let mut l = l;
                if let Err(e) = l.flush() {
                    tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "flush on close failed");
                }
                if let Err(e) = l.close() {
                    tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "close failed");
                }
            }
            p.wake();
        }
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| BrokerError::CorruptMetadata {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(file_err(path)(e)),
    }
}

/// Reads or creates `meta.properties` (cluster id, node id). A node id different from the
/// stored one is an error, as in Kafka.
pub(crate) fn load_meta_properties(dir: &Path, node_id: i32) -> Result<String> {
    let path = dir.join("meta.properties");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let props = config::parse_properties(&text)?;
            let cluster =
                props
                    .get("cluster.id")
                    .cloned()
                    .ok_or_else(|| BrokerError::CorruptMetadata {
                        path: path.clone(),
                        message: "no cluster.id".into(),
                    })?;
            if let Some(stored) = props.get("node.id")
                && stored.trim() != node_id.to_string()
            {
                return Err(BrokerError::Config(format!(
                    "node.id {node_id} does not match node.id {stored} stored in {}",
                    path.display()
                )));
            }
            Ok(cluster)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let cluster = random_uuid().to_string();
            let text = format!(
                "#Written by kafka-broker\nversion=1\ncluster.id={cluster}\nnode.id={node_id}\n"
            );
            write_atomic(&path, text.as_bytes())?;
            Ok(cluster)
        }
        Err(e) => Err(file_err(&path)(e)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn finished_fetches_leave_no_watchers() {
        let dir = tempfile::tempdir().unwrap();
        let md = Metadata::open(dir.path(), BTreeMap::new()).unwrap();
        let t = md.create_topic("w", 2, BTreeMap::new(), false).unwrap();
        for _ in 0..100 {
            let n = Arc::new(Notify::new());
            t.partitions[0].watch(&n);
            t.partitions[1].watch(&n);
            t.partitions[1].watch(&n);
        }
        let n = Arc::new(Notify::new());
        t.partitions[0].watch(&n);
        assert_eq!(t.partitions[0].watchers.lock().unwrap().len(), 1);
        assert_eq!(t.partitions[1].watchers.lock().unwrap().len(), 1);
    }

    #[test]
    fn topic_names() {
        assert!(validate_topic_name("a.b_c-1").is_ok());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name("a/b").is_err());
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
    }

    #[test]
    fn topics_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let md = Metadata::open(dir.path(), BTreeMap::new()).unwrap();
        let mut cfg = BTreeMap::new();
        cfg.insert("retention.ms".to_string(), "1000".to_string());
        let t = md.create_topic("t1", 3, cfg, false).unwrap();
        assert_eq!(
            md.create_topic("t1", 1, BTreeMap::new(), false)
                .err()
                .map(|e| e.0),
            Some(ErrorCode::TopicAlreadyExists)
        );
        md.create_partitions("t1", 4, false).unwrap();
        md.close_all();
        drop(md);
        let md = Metadata::open(dir.path(), BTreeMap::new()).unwrap();
        let s = md.snapshot();
        let t2 = &s.by_name["t1"];
        assert_eq!(t2.id, t.id);
        assert_eq!(t2.partitions.len(), 4);
        assert_eq!(t2.configs["retention.ms"], "1000");
        md.delete_topic("t1").unwrap();
        assert!(md.snapshot().by_name.is_empty());
    }

    #[test]
    fn cluster_id_is_stable_and_node_id_checked() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_meta_properties(dir.path(), 1).unwrap();
        let b = load_meta_properties(dir.path(), 1).unwrap();
        assert_eq!(a, b);
        assert!(load_meta_properties(dir.path(), 2).is_err());
    }
}
