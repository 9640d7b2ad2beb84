//! The records of `__consumer_offsets`, in Kafka's formats.
//!
//! Every record's key and value start with an `int16` version. For keys the version is the
//! record type (Kafka's `CoordinatorRecordType`): 0/1 offset commit, 2 classic group metadata,
//! 3.. KIP-848 consumer-group records. The rest of the key is the key struct encoded at that
//! version. Values carry their own schema version. A null value is a tombstone.
//!
//! Written versions: offset commits v3 (v1 when the commit has an explicit expire timestamp,
//! as Kafka writes), classic group metadata v3, KIP-848 records v0 — what Kafka 4.x writes, so
//! a data directory's topic can be read by Kafka's own tools.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::internal::{
    ConsumerGroupCurrentMemberAssignmentKey, ConsumerGroupCurrentMemberAssignmentValue,
    ConsumerGroupMemberMetadataKey, ConsumerGroupMemberMetadataValue, ConsumerGroupMetadataKey,
    ConsumerGroupMetadataValue, ConsumerGroupPartitionMetadataKey,
    ConsumerGroupTargetAssignmentMemberKey, ConsumerGroupTargetAssignmentMemberValue,
    ConsumerGroupTargetAssignmentMetadataKey, ConsumerGroupTargetAssignmentMetadataValue,
    GroupMetadataKey, GroupMetadataValue, OffsetCommitKey, OffsetCommitValue,
};
use kafka_protocol::{Decodable, Encodable};

/// The internal topic holding offsets and group metadata.
pub(crate) const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Java's `String.hashCode` over UTF-16 code units.
pub(crate) fn java_string_hash(s: &str) -> i32 {
    let mut h: i32 = 0;
    for u in s.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(u));
    }
    h
}

/// The `__consumer_offsets` partition of a group, as Kafka computes it
/// (`Utils.abs(groupId.hashCode()) % n`, where `abs(MIN_VALUE)` is 0).
pub(crate) fn partition_for(group: &str, partitions: i32) -> i32 {
    let h = java_string_hash(group);
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}

/// One decoded record of the topic.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CoordinatorRecord {
    /// An offset commit (value `None`: deleted).
    Offset(OffsetCommitKey, Option<OffsetCommitValue>),
    /// Classic group metadata (value `None`: group deleted).
    Group(GroupMetadataKey, Option<GroupMetadataValue>),
    /// KIP-848 group epoch record.
    ConsumerGroup(ConsumerGroupMetadataKey, Option<ConsumerGroupMetadataValue>),
    /// KIP-848 member subscription.
    ConsumerMember(
        ConsumerGroupMemberMetadataKey,
        Option<ConsumerGroupMemberMetadataValue>,
    ),
    /// KIP-848 target assignment epoch.
    TargetMetadata(
        ConsumerGroupTargetAssignmentMetadataKey,
        Option<ConsumerGroupTargetAssignmentMetadataValue>,
    ),
    /// KIP-848 target assignment of one member.
    TargetMember(
        ConsumerGroupTargetAssignmentMemberKey,
        Option<ConsumerGroupTargetAssignmentMemberValue>,
    ),
    /// KIP-848 current assignment of one member.
    CurrentMember(
        ConsumerGroupCurrentMemberAssignmentKey,
        Option<ConsumerGroupCurrentMemberAssignmentValue>,
    ),
    /// A record type we read past (partition metadata, other coordinators' types).
    Other,
}

fn versioned<T: Encodable>(version: i16, msg: &T) -> Result<Bytes, String> {
    let mut b = BytesMut::with_capacity(2 + msg.encoded_len(version));
    b.put_i16(version);
    msg.encode(&mut b, version).map_err(|e| e.to_string())?;
    Ok(b.freeze())
}

fn decode_value<T: Decodable>(value: Option<Bytes>) -> Result<Option<T>, String> {
    let Some(mut v) = value else { return Ok(None) };
    if v.remaining() < 2 {
        return Err("value shorter than its version".into());
    }
    let version = v.get_i16();
    T::decode(&mut v, version)
        .map(Some)
        .map_err(|e| e.to_string())
}

impl CoordinatorRecord {
    /// Key and value bytes (value `None` for a tombstone).
    pub(crate) fn encode(&self) -> Result<(Bytes, Option<Bytes>), String> {
        fn kv<K: Encodable, V: Encodable>(
            kver: i16,
            k: &K,
            vver: i16,
            v: &Option<V>,
        ) -> Result<(Bytes, Option<Bytes>), String> {
            let key = versioned(kver, k)?;
            let value = match v {
                Some(v) => Some(versioned(vver, v)?),
                None => None,
            };
            Ok((key, value))
        }
        match self {
            CoordinatorRecord::Offset(k, v) => {
                let vver = if v.as_ref().is_some_and(|v| v.expire_timestamp >= 0) {
                    1
                } else {
                    3
                };
                kv(1, k, vver, v)
            }
            CoordinatorRecord::Group(k, v) => kv(2, k, 3, v),
            CoordinatorRecord::ConsumerGroup(k, v) => kv(3, k, 0, v),
            CoordinatorRecord::ConsumerMember(k, v) => kv(5, k, 0, v),
            CoordinatorRecord::TargetMetadata(k, v) => kv(6, k, 0, v),
            CoordinatorRecord::TargetMember(k, v) => kv(7, k, 0, v),
            CoordinatorRecord::CurrentMember(k, v) => kv(8, k, 0, v),
            CoordinatorRecord::Other => Err("cannot encode an unknown record".into()),
        }
    }

    /// Decodes a record read back from the topic.
    pub(crate) fn decode(key: Bytes, value: Option<Bytes>) -> Result<CoordinatorRecord, String> {
        let mut k = key;
        if k.remaining() < 2 {
            return Err("key shorter than its version".into());
        }
        let ver = k.get_i16();
        let err = |e: kafka_protocol::ProtocolError| e.to_string();
        Ok(match ver {
            0 | 1 => CoordinatorRecord::Offset(
                OffsetCommitKey::decode(&mut k, ver).map_err(err)?,
                decode_value(value)?,
            ),
            2 => CoordinatorRecord::Group(
                GroupMetadataKey::decode(&mut k, ver).map_err(err)?,
                decode_value(value)?,
            ),
            3 => CoordinatorRecord::ConsumerGroup(
                ConsumerGroupMetadataKey::decode(&mut k, ver).map_err(err)?,
                decode_value(value)?,
            ),
            4 => {
                let _ = ConsumerGroupPartitionMetadataKey::decode(&mut k, ver).map_err(err)?;
                CoordinatorRecord::Other
            }
            5 => CoordinatorRecord::ConsumerMember(
                ConsumerGroupMemberMetadataKey::decode(&mut k, ver).map_err(err)?,
                decode_value(value)?,
            ),
            6 => CoordinatorRecord::TargetMetadata(
                ConsumerGroupTargetAssignmentMetadataKey::decode(&mut k, ver).map_err(err)?,
                decode_value(value)?,
            ),
            7 => CoordinatorRecord::TargetMember(
                ConsumerGroupTargetAssignmentMemberKey::decode(&mut k, ver).map_err(err)?,
                decode_value(value)?,
            ),
            8 => CoordinatorRecord::CurrentMember(
                ConsumerGroupCurrentMemberAssignmentKey::decode(&mut k, ver).map_err(err)?,
                decode_value(value)?,
            ),
            _ => CoordinatorRecord::Other,
        })
    }

    /// The group this record belongs to (`None` for [`CoordinatorRecord::Other`]).
    pub(crate) fn group_id(&self) -> Option<&str> {
        Some(match self {
            CoordinatorRecord::Offset(k, _) => &k.group,
            CoordinatorRecord::Group(k, _) => &k.group,
            CoordinatorRecord::ConsumerGroup(k, _) => &k.group_id,
            CoordinatorRecord::ConsumerMember(k, _) => &k.group_id,
            CoordinatorRecord::TargetMetadata(k, _) => &k.group_id,
            CoordinatorRecord::TargetMember(k, _) => &k.group_id,
            CoordinatorRecord::CurrentMember(k, _) => &k.group_id,
            CoordinatorRecord::Other => return None,
        })
    }
}

/// Builds one record batch (no producer id, compression none) from records.
pub(crate) fn build_batch(records: &[CoordinatorRecord], now_ms: i64) -> Result<Bytes, String> {
    let mut b = kafka_protocol::records::RecordBatchBuilder::new(0);
    for r in records {
        let (k, v) = r.encode()?;
        b.append(now_ms, Some(&k), v.as_deref(), &[])
            .map_err(|e| e.to_string())?;
    }
    b.build().map_err(|e| e.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn partitions_match_kafka() {
        // Values computed with Java's String.hashCode.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("group"), 98_629_247);
        assert_eq!(partition_for("group", 50), 98_629_247 % 50);
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(partition_for("polygenelubricants", 50), 0);
    }

    #[test]
    fn records_round_trip() {
        let r = CoordinatorRecord::Offset(
            OffsetCommitKey {
                group: "g".into(),
                topic: "t".into(),
                partition: 3,
            },
            Some(OffsetCommitValue {
                offset: 42,
                leader_epoch: 1,
                metadata: "m".into(),
                commit_timestamp: 7,
                expire_timestamp: -1,
                ..Default::default()
            }),
        );
        let (k, v) = r.encode().unwrap();
        assert_eq!(&k[..2], &[0, 1]);
        assert_eq!(v.as_ref().map(|v| v[1]), Some(3));
        assert_eq!(CoordinatorRecord::decode(k, v).unwrap(), r);
        let t = CoordinatorRecord::Group(GroupMetadataKey { group: "g".into() }, None);
        let (k, v) = t.encode().unwrap();
        assert_eq!(CoordinatorRecord::decode(k, v).unwrap(), t);
    }
}
