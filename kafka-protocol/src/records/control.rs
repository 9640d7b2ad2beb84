//! Control records: the transaction markers (commit/abort) found in control batches.
//!
//! A control record's key is `version: i16` (0) then `type: i16`; for end-transaction markers
//! (type 0 = abort, 1 = commit) the value is `version: i16` (0) then `coordinatorEpoch: i32`.

use bytes::Bytes;

use super::record::Record;
use crate::error::{ProtocolError, Result};

/// Control record type id of an abort marker.
pub const CONTROL_TYPE_ABORT: i16 = 0;
/// Control record type id of a commit marker.
pub const CONTROL_TYPE_COMMIT: i16 = 1;

/// Which end-transaction marker a control record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ControlRecordKind {
    /// The transaction was aborted (type 0).
    Abort,
    /// The transaction was committed (type 1).
    Commit,
}

impl ControlRecordKind {
    /// The control type id (0 or 1).
    pub fn type_id(self) -> i16 {
        match self {
            ControlRecordKind::Abort => CONTROL_TYPE_ABORT,
            ControlRecordKind::Commit => CONTROL_TYPE_COMMIT,
        }
    }
}

/// An end-transaction marker: the record of a transaction control batch.
///
/// ```
/// use kafka_protocol::records::{ControlRecord, ControlRecordKind, RecordBatch, RecordBatchBuilder};
///
/// let marker = ControlRecord { kind: ControlRecordKind::Commit, coordinator_epoch: 5 };
/// let bytes = RecordBatchBuilder::control_batch(10, 1000, 0, 42, 1, marker).unwrap();
/// let batch = RecordBatch::parse(bytes).unwrap();
/// assert!(batch.is_control() && batch.is_transactional());
/// assert_eq!(batch.control_record().unwrap(), Some(marker));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlRecord {
    /// Commit or abort.
    pub kind: ControlRecordKind,
    /// Epoch of the transaction coordinator that wrote the marker.
    pub coordinator_epoch: i32,
}

impl ControlRecord {
    /// Reads the control type id from a control record key (`version: i16, type: i16`).
    pub fn control_type(key: &[u8]) -> Result<i16> {
        let b: [u8; 4] =
            key.get(..4)
                .and_then(|s| s.try_into().ok())
                .ok_or(ProtocolError::InvalidRecord(
                    "control record key shorter than 4 bytes",
                ))?;
        let version = i16::from_be_bytes([b[0], b[1]]);
        if version < 0 {
            return Err(ProtocolError::InvalidRecord(
                "negative control record key version",
            ));
        }
        Ok(i16::from_be_bytes([b[2], b[3]]))
    }

    /// Decodes a record of a control batch. Returns `Ok(None)` for control types other than
    /// commit/abort (leader change, snapshot markers, …), which callers normally skip.
    pub fn parse(record: &Record) -> Result<Option<ControlRecord>> {
        let key = record.key.as_deref().ok_or(ProtocolError::InvalidRecord(
            "control record has a null key",
        ))?;
        let kind = match Self::control_type(key)? {
            CONTROL_TYPE_ABORT => ControlRecordKind::Abort,
            CONTROL_TYPE_COMMIT => ControlRecordKind::Commit,
            _ => return Ok(None),
        };
        let value = record.value.as_deref().ok_or(ProtocolError::InvalidRecord(
            "transaction marker has a null value",
        ))?;
        let b: [u8; 6] =
            value
                .get(..6)
                .and_then(|s| s.try_into().ok())
                .ok_or(ProtocolError::InvalidRecord(
                    "transaction marker value shorter than 6 bytes",
                ))?;
        let version = i16::from_be_bytes([b[0], b[1]]);
        if version < 0 {
            return Err(ProtocolError::InvalidRecord(
                "negative transaction marker version",
            ));
        }
        Ok(Some(ControlRecord {
            kind,
            coordinator_epoch: i32::from_be_bytes([b[2], b[3], b[4], b[5]]),
        }))
    }

    /// The encoded record key: version 0, then the type.
    pub fn key_bytes(&self) -> Bytes {
        let mut k = [0u8; 4];
        k[2..].copy_from_slice(&self.kind.type_id().to_be_bytes());
        Bytes::copy_from_slice(&k)
    }

    /// The encoded record value: version 0, then the coordinator epoch.
    pub fn value_bytes(&self) -> Bytes {
        let mut v = [0u8; 6];
        v[2..].copy_from_slice(&self.coordinator_epoch.to_be_bytes());
        Bytes::copy_from_slice(&v)
    }
}
