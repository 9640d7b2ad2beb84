//! Small shared types: partitions, ACL operations, config resources.

use std::collections::BTreeSet;
use std::fmt;

/// A topic partition.
///
/// ```
/// use kafka_admin::TopicPartition;
/// let tp = TopicPartition::new("orders", 3);
/// assert_eq!(tp.to_string(), "orders-3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// A topic partition.
    pub fn new(topic: impl Into<String>, partition: i32) -> TopicPartition {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Groups partitions by topic, partitions ascending.
pub(crate) fn by_topic<'a>(
    parts: impl IntoIterator<Item = &'a TopicPartition>,
) -> std::collections::BTreeMap<String, Vec<i32>> {
    let mut m: std::collections::BTreeMap<String, Vec<i32>> = Default::default();
    for tp in parts {
        m.entry(tp.topic.clone()).or_default().push(tp.partition);
    }
    for v in m.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    m
}

macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident : $repr:ty { $($(#[$vm:meta])* $v:ident = $n:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $v,)*
            /// A value this crate does not know.
            Unknown($repr),
        }
        impl $name {
            /// The wire value.
            pub fn code(self) -> $repr {
                match self { $($name::$v => $n,)* $name::Unknown(c) => c }
            }
            /// From the wire value.
            pub fn from_code(c: $repr) -> Self {
                match c { $($n => $name::$v,)* other => $name::Unknown(other) }
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum!(
    /// An ACL operation (also the unit of "authorized operations" in describe results).
    ///
    /// ```
    /// use kafka_admin::AclOperation;
    /// assert_eq!(AclOperation::from_code(3), AclOperation::Read);
    /// assert_eq!(AclOperation::Describe.code(), 8);
    /// ```
    AclOperation: i8 {
        /// Matches any operation (filters only).
        Any = 1,
        /// All operations.
        All = 2,
        /// Read.
        Read = 3,
        /// Write.
        Write = 4,
        /// Create.
        Create = 5,
        /// Delete.
        Delete = 6,
        /// Alter.
        Alter = 7,
        /// Describe.
        Describe = 8,
        /// Cluster action.
        ClusterAction = 9,
        /// Describe configs.
        DescribeConfigs = 10,
        /// Alter configs.
        AlterConfigs = 11,
        /// Idempotent write.
        IdempotentWrite = 12,
        /// Create delegation tokens.
        CreateTokens = 13,
        /// Describe delegation tokens.
        DescribeTokens = 14,
        /// Two-phase commit.
        TwoPhaseCommit = 15,
    }
);

/// Decodes an `authorized_operations` bit field (`i32::MIN`: not requested / not provided).
///
/// ```
/// use kafka_admin::{AclOperation, authorized_operations};
/// assert_eq!(authorized_operations(i32::MIN), None);
/// let ops = authorized_operations((1 << 3) | (1 << 8)).unwrap();
/// assert!(ops.contains(&AclOperation::Read) && ops.contains(&AclOperation::Describe));
/// ```
pub fn authorized_operations(bits: i32) -> Option<BTreeSet<AclOperation>> {
    if bits == i32::MIN {
        return None;
    }
    Some(
        (0..31)
            .filter(|i| bits & (1 << i) != 0)
            .map(|i| AclOperation::from_code(i as i8))
            .collect(),
    )
}

wire_enum!(
    /// The type of a config resource.
    ConfigResourceType: i8 {
        /// A topic.
        Topic = 2,
        /// A broker (empty name: the cluster-wide default).
        Broker = 4,
        /// A broker's loggers.
        BrokerLogger = 8,
        /// Client metrics subscriptions (KIP-714).
        ClientMetrics = 16,
        /// A group.
        Group = 32,
    }
);

/// A resource whose configuration can be described or altered.
///
/// ```
/// use kafka_admin::ConfigResource;
/// assert_eq!(ConfigResource::broker(1).name, "1");
/// assert_eq!(ConfigResource::broker_default().name, "");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigResource {
    /// Its type.
    pub kind: ConfigResourceType,
    /// Its name (topic, broker id, client-metrics subscription, group).
    pub name: String,
}

impl ConfigResource {
    /// A topic.
    pub fn topic(name: impl Into<String>) -> Self {
        ConfigResource {
            kind: ConfigResourceType::Topic,
            name: name.into(),
        }
    }
    /// A broker.
    pub fn broker(id: i32) -> Self {
        ConfigResource {
            kind: ConfigResourceType::Broker,
            name: id.to_string(),
        }
    }
    /// The cluster-wide broker default.
    pub fn broker_default() -> Self {
        ConfigResource {
            kind: ConfigResourceType::Broker,
            name: String::new(),
        }
    }
    /// A broker's loggers.
    pub fn broker_logger(id: i32) -> Self {
        ConfigResource {
            kind: ConfigResourceType::BrokerLogger,
            name: id.to_string(),
        }
    }
    /// A client-metrics subscription.
    pub fn client_metrics(name: impl Into<String>) -> Self {
        ConfigResource {
            kind: ConfigResourceType::ClientMetrics,
            name: name.into(),
        }
    }
    /// A group.
    pub fn group(name: impl Into<String>) -> Self {
        ConfigResource {
            kind: ConfigResourceType::Group,
            name: name.into(),
        }
    }

    /// The broker that must serve requests for this resource (broker and broker-logger
    /// resources with an id), else None (any broker).
    pub(crate) fn node(&self) -> Option<i32> {
        match self.kind {
            ConfigResourceType::Broker | ConfigResourceType::BrokerLogger => self.name.parse().ok(),
            _ => None,
        }
    }
}

impl fmt::Display for ConfigResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}:{}", self.kind, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        for c in 0..20 {
            assert_eq!(AclOperation::from_code(c).code(), c);
        }
        assert_eq!(
            ConfigResourceType::from_code(99),
            ConfigResourceType::Unknown(99)
        );
    }

    #[test]
    fn broker_resources_route_to_their_broker() {
        assert_eq!(ConfigResource::broker(3).node(), Some(3));
        assert_eq!(ConfigResource::broker_default().node(), None);
        assert_eq!(ConfigResource::topic("7").node(), None);
    }
}
