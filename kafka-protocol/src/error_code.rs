//! Kafka protocol error codes: the `error_code` values carried inside responses.
//!
//! The table below lists every code Apache Kafka 4.3 defines, from `-1`
//! (`UNKNOWN_SERVER_ERROR`) through `133` (`SHARE_SESSION_LIMIT_REACHED`), with Kafka's name
//! for each code and whether Kafka's exception for it is retriable (extends
//! `RetriableException`). The short messages are this crate's own wording.
//!
//! Codes this crate does not know decode to [`ErrorCode::Unknown`], so newer brokers never
//! make decoding fail.

use std::fmt;

/// Defines [`ErrorCode`] and its lookup tables from one list of rows.
///
/// Each row is `Variant => code, "KAFKA_NAME", retriable, "short message"`, so every fact
/// about a code lives in exactly one place. Rows must be in ascending code order.
macro_rules! error_codes {
    ($($variant:ident => $code:literal, $name:literal, $retriable:literal, $msg:literal;)+) => {
        /// A Kafka protocol error code, as carried in the `error_code` fields of responses.
        ///
        /// Every code Apache Kafka 4.3 defines has its own variant; any other value is kept
        /// as [`ErrorCode::Unknown`] so it survives a round trip unchanged.
        ///
        /// ```
        /// use kafka_protocol::ErrorCode;
        ///
        /// let err = ErrorCode::from_i16(6);
        /// assert_eq!(err, ErrorCode::NotLeaderOrFollower);
        /// assert_eq!(err.name(), "NOT_LEADER_OR_FOLLOWER");
        /// assert!(err.is_retriable());
        /// assert_eq!(i16::from(err), 6);
        /// assert!(err.ok_or_err().is_err());
        ///
        /// assert!(ErrorCode::from_i16(0).is_ok());
        /// assert_eq!(ErrorCode::from_i16(9999), ErrorCode::Unknown(9999));
        /// println!("{err}"); // NOT_LEADER_OR_FOLLOWER (6): ...
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $(
                #[doc = concat!("`", $name, "` (", stringify!($code), "): ", $msg)]
                $variant,
            )+
            /// A code this crate does not know (for example one added by a newer Kafka).
            Unknown(i16),
        }

        /// Every known code, in ascending order.
        const ALL: &[ErrorCode] = &[$(ErrorCode::$variant,)+];

        impl ErrorCode {
            /// Maps a wire value to its code; values this crate does not know become
            /// [`ErrorCode::Unknown`].
            pub const fn from_i16(code: i16) -> ErrorCode {
                match code {
                    $($code => ErrorCode::$variant,)+
                    other => ErrorCode::Unknown(other),
                }
            }

            /// The wire value of this code.
            pub const fn code(self) -> i16 {
                match self {
                    $(ErrorCode::$variant => $code,)+
                    ErrorCode::Unknown(code) => code,
                }
            }

            /// Kafka's name for this code, such as `"NOT_LEADER_OR_FOLLOWER"`; `"UNKNOWN"`
            /// for [`ErrorCode::Unknown`].
            pub const fn name(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)+
                    ErrorCode::Unknown(_) => "UNKNOWN",
                }
            }

            /// Whether Kafka treats this error as transient, so the same request may succeed
            /// if sent again (possibly after refreshing metadata). Unknown codes are not
            /// retriable.
            pub const fn is_retriable(self) -> bool {
                match self {
                    $(ErrorCode::$variant => $retriable,)+
                    ErrorCode::Unknown(_) => false,
                }
            }

            /// A short human-readable description of this code.
            pub const fn message(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $msg,)+
                    ErrorCode::Unknown(_) => "An error code this library does not recognise.",
                }
            }
        }
    };
}

error_codes! {
    UnknownServerError => -1, "UNKNOWN_SERVER_ERROR", false,
        "The broker hit an unexpected internal failure while handling the request.";
    None => 0, "NONE", false,
        "Success: no error.";
    OffsetOutOfRange => 1, "OFFSET_OUT_OF_RANGE", false,
        "The requested offset lies outside the range the partition's log retains.";
    CorruptMessage => 2, "CORRUPT_MESSAGE", true,
        "A record failed its checksum, is over-sized, lacks a key on a compacted topic, or is otherwise malformed.";
    UnknownTopicOrPartition => 3, "UNKNOWN_TOPIC_OR_PARTITION", true,
        "This broker does not know the topic or partition.";
    InvalidFetchSize => 4, "INVALID_FETCH_SIZE", false,
        "The fetch size in the request is not acceptable.";
    LeaderNotAvailable => 5, "LEADER_NOT_AVAILABLE", true,
        "The partition has no leader right now, typically because an election is under way.";
    NotLeaderOrFollower => 6, "NOT_LEADER_OR_FOLLOWER", true,
        "This broker is not the partition's leader, or not one of its replicas.";
    RequestTimedOut => 7, "REQUEST_TIMED_OUT", true,
        "The request did not complete in time.";
    BrokerNotAvailable => 8, "BROKER_NOT_AVAILABLE", false,
        "The broker is not available.";
    ReplicaNotAvailable => 9, "REPLICA_NOT_AVAILABLE", true,
        "The replica for the partition is not available.";
    MessageTooLarge => 10, "MESSAGE_TOO_LARGE", false,
        "A record is larger than the broker's maximum message size.";
    StaleControllerEpoch => 11, "STALE_CONTROLLER_EPOCH", false,
        "The request came from a controller that has since been replaced.";
    OffsetMetadataTooLarge => 12, "OFFSET_METADATA_TOO_LARGE", false,
        "The metadata string attached to a committed offset is too long.";
    NetworkException => 13, "NETWORK_EXCEPTION", true,
        "The connection was lost before a response arrived.";
    CoordinatorLoadInProgress => 14, "COORDINATOR_LOAD_IN_PROGRESS", true,
        "The coordinator is still loading its state and cannot serve requests yet.";
    CoordinatorNotAvailable => 15, "COORDINATOR_NOT_AVAILABLE", true,
        "No coordinator is available at the moment.";
    NotCoordinator => 16, "NOT_COORDINATOR", true,
        "This broker is not the coordinator for the requested key.";
    InvalidTopicException => 17, "INVALID_TOPIC_EXCEPTION", false,
        "The topic name is invalid, or the operation is not allowed on this topic.";
    RecordListTooLarge => 18, "RECORD_LIST_TOO_LARGE", false,
        "A record batch is larger than the broker's configured segment size.";
    NotEnoughReplicas => 19, "NOT_ENOUGH_REPLICAS", true,
        "Too few in-sync replicas are available to accept the write.";
    NotEnoughReplicasAfterAppend => 20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true,
        "The write was appended, but reached fewer in-sync replicas than required.";
    InvalidRequiredAcks => 21, "INVALID_REQUIRED_ACKS", false,
        "The produce request asked for an unsupported acks value.";
    IllegalGeneration => 22, "ILLEGAL_GENERATION", false,
        "The group generation id in the request is not the current one.";
    InconsistentGroupProtocol => 23, "INCONSISTENT_GROUP_PROTOCOL", false,
        "The member's protocols do not fit the group's, or its protocol list is empty.";
    InvalidGroupId => 24, "INVALID_GROUP_ID", false,
        "The group id is not valid.";
    UnknownMemberId => 25, "UNKNOWN_MEMBER_ID", false,
        "The coordinator does not recognise this member id.";
    InvalidSessionTimeout => 26, "INVALID_SESSION_TIMEOUT", false,
        "The session timeout is outside the range the broker allows.";
    RebalanceInProgress => 27, "REBALANCE_IN_PROGRESS", false,
        "The group is rebalancing, so the member has to rejoin.";
    InvalidCommitOffsetSize => 28, "INVALID_COMMIT_OFFSET_SIZE", false,
        "The offset commit data has an invalid size.";
    TopicAuthorizationFailed => 29, "TOPIC_AUTHORIZATION_FAILED", false,
        "Not authorized to access the topic.";
    GroupAuthorizationFailed => 30, "GROUP_AUTHORIZATION_FAILED", false,
        "Not authorized to access the group.";
    ClusterAuthorizationFailed => 31, "CLUSTER_AUTHORIZATION_FAILED", false,
        "Not authorized to perform the cluster-level operation.";
    InvalidTimestamp => 32, "INVALID_TIMESTAMP", false,
        "A record timestamp is outside the accepted range.";
    UnsupportedSaslMechanism => 33, "UNSUPPORTED_SASL_MECHANISM", false,
        "The broker does not offer the requested SASL mechanism.";
    IllegalSaslState => 34, "ILLEGAL_SASL_STATE", false,
        "The request is not allowed in the current state of the SASL exchange.";
    UnsupportedVersion => 35, "UNSUPPORTED_VERSION", false,
        "The broker does not support this version of the API.";
    TopicAlreadyExists => 36, "TOPIC_ALREADY_EXISTS", false,
        "A topic with this name already exists.";
    InvalidPartitions => 37, "INVALID_PARTITIONS", false,
        "The partition count is not valid.";
    InvalidReplicationFactor => 38, "INVALID_REPLICATION_FACTOR", false,
        "The replication factor is not valid or exceeds the number of available brokers.";
    InvalidReplicaAssignment => 39, "INVALID_REPLICA_ASSIGNMENT", false,
        "The replica assignment is not valid.";
    InvalidConfig => 40, "INVALID_CONFIG", false,
        "The configuration is not valid.";
    NotController => 41, "NOT_CONTROLLER", true,
        "This node is not the active controller.";
    InvalidRequest => 42, "INVALID_REQUEST", false,
        "The request is malformed or not valid for this broker; the broker log has details.";
    UnsupportedForMessageFormat => 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false,
        "The broker's message format version cannot serve this request.";
    PolicyViolation => 44, "POLICY_VIOLATION", false,
        "The request breaks a policy configured on the broker.";
    OutOfOrderSequenceNumber => 45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false,
        "The broker saw a producer sequence number out of order.";
    DuplicateSequenceNumber => 46, "DUPLICATE_SEQUENCE_NUMBER", false,
        "The broker saw a producer sequence number it already has.";
    InvalidProducerEpoch => 47, "INVALID_PRODUCER_EPOCH", false,
        "The producer sent with an epoch that is no longer current.";
    InvalidTxnState => 48, "INVALID_TXN_STATE", false,
        "The transactional operation is not valid in the transaction's current state.";
    InvalidProducerIdMapping => 49, "INVALID_PRODUCER_ID_MAPPING", false,
        "The producer id is not the one currently assigned to this transactional id.";
    InvalidTransactionTimeout => 50, "INVALID_TRANSACTION_TIMEOUT", false,
        "The transaction timeout exceeds the broker's maximum.";
    ConcurrentTransactions => 51, "CONCURRENT_TRANSACTIONS", true,
        "Another operation on the same transaction is still in progress.";
    TransactionCoordinatorFenced => 52, "TRANSACTION_COORDINATOR_FENCED", false,
        "The transaction coordinator that sent this request is no longer the current one.";
    TransactionalIdAuthorizationFailed => 53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false,
        "Not authorized to use the transactional id.";
    SecurityDisabled => 54, "SECURITY_DISABLED", false,
        "Security features are turned off on the broker.";
    OperationNotAttempted => 55, "OPERATION_NOT_ATTEMPTED", false,
        "The broker skipped this operation, usually because another part of the batch failed.";
    KafkaStorageError => 56, "KAFKA_STORAGE_ERROR", true,
        "The broker hit a disk error while accessing the log.";
    LogDirNotFound => 57, "LOG_DIR_NOT_FOUND", false,
        "The requested log directory is not configured on the broker.";
    SaslAuthenticationFailed => 58, "SASL_AUTHENTICATION_FAILED", false,
        "SASL authentication failed.";
    UnknownProducerId => 59, "UNKNOWN_PRODUCER_ID", false,
        "The broker holds no state for this producer id, for example because its records expired.";
    ReassignmentInProgress => 60, "REASSIGNMENT_IN_PROGRESS", false,
        "A partition reassignment is already running.";
    DelegationTokenAuthDisabled => 61, "DELEGATION_TOKEN_AUTH_DISABLED", false,
        "Delegation tokens are not enabled.";
    DelegationTokenNotFound => 62, "DELEGATION_TOKEN_NOT_FOUND", false,
        "The delegation token does not exist.";
    DelegationTokenOwnerMismatch => 63, "DELEGATION_TOKEN_OWNER_MISMATCH", false,
        "The principal is neither the token's owner nor one of its renewers.";
    DelegationTokenRequestNotAllowed => 64, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", false,
        "Delegation token requests are not allowed on this kind of connection or authentication.";
    DelegationTokenAuthorizationFailed => 65, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", false,
        "Not authorized for the delegation token operation.";
    DelegationTokenExpired => 66, "DELEGATION_TOKEN_EXPIRED", false,
        "The delegation token has expired.";
    InvalidPrincipalType => 67, "INVALID_PRINCIPAL_TYPE", false,
        "The principal type is not supported.";
    NonEmptyGroup => 68, "NON_EMPTY_GROUP", false,
        "The group still has members.";
    GroupIdNotFound => 69, "GROUP_ID_NOT_FOUND", false,
        "The group does not exist.";
    FetchSessionIdNotFound => 70, "FETCH_SESSION_ID_NOT_FOUND", true,
        "The broker does not know this fetch session id.";
    InvalidFetchSessionEpoch => 71, "INVALID_FETCH_SESSION_EPOCH", true,
        "The fetch session epoch does not match the broker's.";
    ListenerNotFound => 72, "LISTENER_NOT_FOUND", true,
        "The leader has no listener matching the one the request arrived on.";
    TopicDeletionDisabled => 73, "TOPIC_DELETION_DISABLED", false,
        "Topic deletion is turned off.";
    FencedLeaderEpoch => 74, "FENCED_LEADER_EPOCH", true,
        "The leader epoch in the request is older than the broker's.";
    UnknownLeaderEpoch => 75, "UNKNOWN_LEADER_EPOCH", true,
        "The leader epoch in the request is newer than any the broker knows.";
    UnsupportedCompressionType => 76, "UNSUPPORTED_COMPRESSION_TYPE", false,
        "The client cannot handle the compression type the data uses.";
    StaleBrokerEpoch => 77, "STALE_BROKER_EPOCH", false,
        "The broker epoch in the request is out of date.";
    OffsetNotAvailable => 78, "OFFSET_NOT_AVAILABLE", true,
        "The new leader's high watermark has not caught up yet, so offsets cannot be served safely.";
    MemberIdRequired => 79, "MEMBER_ID_REQUIRED", false,
        "The member must rejoin with the member id the coordinator just assigned.";
    PreferredLeaderNotAvailable => 80, "PREFERRED_LEADER_NOT_AVAILABLE", true,
        "The preferred leader replica is not available.";
    GroupMaxSizeReached => 81, "GROUP_MAX_SIZE_REACHED", false,
        "The group already has its maximum number of members.";
    FencedInstanceId => 82, "FENCED_INSTANCE_ID", false,
        "Another member with the same static instance id has fenced this one.";
    EligibleLeadersNotAvailable => 83, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true,
        "No replica eligible to become leader is available for the election.";
    ElectionNotNeeded => 84, "ELECTION_NOT_NEEDED", true,
        "The partition already has the desired leader, so no election was run.";
    NoReassignmentInProgress => 85, "NO_REASSIGNMENT_IN_PROGRESS", false,
        "There is no partition reassignment to act on.";
    GroupSubscribedToTopic => 86, "GROUP_SUBSCRIBED_TO_TOPIC", false,
        "The group is still subscribed to the topic, so its offsets cannot be deleted.";
    InvalidRecord => 87, "INVALID_RECORD", false,
        "The broker rejected a record as invalid.";
    UnstableOffsetCommit => 88, "UNSTABLE_OFFSET_COMMIT", true,
        "Transactional offset commits for this partition are still pending.";
    ThrottlingQuotaExceeded => 89, "THROTTLING_QUOTA_EXCEEDED", true,
        "The request went over a throttling quota.";
    ProducerFenced => 90, "PRODUCER_FENCED", false,
        "A newer producer with the same transactional id has taken over.";
    ResourceNotFound => 91, "RESOURCE_NOT_FOUND", false,
        "The referenced resource does not exist.";
    DuplicateResource => 92, "DUPLICATE_RESOURCE", false,
        "The request names the same resource more than once.";
    UnacceptableCredential => 93, "UNACCEPTABLE_CREDENTIAL", false,
        "The credential does not meet the broker's requirements.";
    InconsistentVoterSet => 94, "INCONSISTENT_VOTER_SET", false,
        "The sender's voter set does not match the receiver's.";
    InvalidUpdateVersion => 95, "INVALID_UPDATE_VERSION", false,
        "The update version is not valid.";
    FeatureUpdateFailed => 96, "FEATURE_UPDATE_FAILED", false,
        "A server-side failure stopped the feature update from being applied.";
    PrincipalDeserializationFailure => 97, "PRINCIPAL_DESERIALIZATION_FAILURE", false,
        "The principal attached to a forwarded request could not be decoded.";
    SnapshotNotFound => 98, "SNAPSHOT_NOT_FOUND", false,
        "The requested snapshot does not exist.";
    PositionOutOfRange => 99, "POSITION_OUT_OF_RANGE", false,
        "The requested snapshot position is negative or past the end of the snapshot.";
    UnknownTopicId => 100, "UNKNOWN_TOPIC_ID", true,
        "This broker does not know the topic id.";
    DuplicateBrokerRegistration => 101, "DUPLICATE_BROKER_REGISTRATION", false,
        "Another broker has already registered this broker id.";
    BrokerIdNotRegistered => 102, "BROKER_ID_NOT_REGISTERED", false,
        "The broker id has not been registered.";
    InconsistentTopicId => 103, "INCONSISTENT_TOPIC_ID", true,
        "The topic id does not match the one recorded in the log.";
    InconsistentClusterId => 104, "INCONSISTENT_CLUSTER_ID", false,
        "The cluster id does not match the server's.";
    TransactionalIdNotFound => 105, "TRANSACTIONAL_ID_NOT_FOUND", false,
        "The transactional id does not exist.";
    FetchSessionTopicIdError => 106, "FETCH_SESSION_TOPIC_ID_ERROR", true,
        "The fetch session used topic ids inconsistently.";
    IneligibleReplica => 107, "INELIGIBLE_REPLICA", false,
        "The proposed in-sync replica set contains a replica that is not eligible.";
    NewLeaderElected => 108, "NEW_LEADER_ELECTED", false,
        "The partition change was applied, but leadership has moved.";
    OffsetMovedToTieredStorage => 109, "OFFSET_MOVED_TO_TIERED_STORAGE", false,
        "The requested offset is now only in tiered storage.";
    FencedMemberEpoch => 110, "FENCED_MEMBER_EPOCH", false,
        "The member epoch was fenced; the member must drop its partitions and rejoin.";
    UnreleasedInstanceId => 111, "UNRELEASED_INSTANCE_ID", false,
        "Another member still holds this instance id and must leave first.";
    UnsupportedAssignor => 112, "UNSUPPORTED_ASSIGNOR", false,
        "The group does not support the requested assignor or assignor version.";
    StaleMemberEpoch => 113, "STALE_MEMBER_EPOCH", false,
        "The member epoch is out of date; retry once a heartbeat supplies the current one.";
    MismatchedEndpointType => 114, "MISMATCHED_ENDPOINT_TYPE", false,
        "The request reached an endpoint of the wrong kind.";
    UnsupportedEndpointType => 115, "UNSUPPORTED_ENDPOINT_TYPE", false,
        "This kind of endpoint is not supported yet.";
    UnknownControllerId => 116, "UNKNOWN_CONTROLLER_ID", false,
        "The controller id is not known.";
    UnknownSubscriptionId => 117, "UNKNOWN_SUBSCRIPTION_ID", false,
        "The telemetry subscription id is unknown or out of date.";
    TelemetryTooLarge => 118, "TELEMETRY_TOO_LARGE", false,
        "The pushed telemetry payload is larger than the broker accepts.";
    InvalidRegistration => 119, "INVALID_REGISTRATION", false,
        "The controller rejected the broker's registration.";
    TransactionAbortable => 120, "TRANSACTION_ABORTABLE", false,
        "The transaction ran into a problem; abort it to keep using the transactional id.";
    InvalidRecordState => 121, "INVALID_RECORD_STATE", false,
        "The record's delivery state does not allow this acknowledgement.";
    ShareSessionNotFound => 122, "SHARE_SESSION_NOT_FOUND", true,
        "The share session does not exist.";
    InvalidShareSessionEpoch => 123, "INVALID_SHARE_SESSION_EPOCH", true,
        "The share session epoch does not match the broker's.";
    FencedStateEpoch => 124, "FENCED_STATE_EPOCH", false,
        "The share coordinator rejected the request: the share-group state epoch does not match.";
    InvalidVoterKey => 125, "INVALID_VOTER_KEY", false,
        "The voter key does not match the receiving replica.";
    DuplicateVoter => 126, "DUPLICATE_VOTER", false,
        "The voter is already in the voter set.";
    VoterNotFound => 127, "VOTER_NOT_FOUND", false,
        "The voter is not in the voter set.";
    InvalidRegularExpression => 128, "INVALID_REGULAR_EXPRESSION", false,
        "The regular expression is not valid.";
    RebootstrapRequired => 129, "REBOOTSTRAP_REQUIRED", false,
        "The client's metadata is stale; it must bootstrap again to get fresh metadata.";
    StreamsInvalidTopology => 130, "STREAMS_INVALID_TOPOLOGY", false,
        "The streams topology sent is not valid.";
    StreamsInvalidTopologyEpoch => 131, "STREAMS_INVALID_TOPOLOGY_EPOCH", false,
        "The streams topology epoch sent is not valid.";
    StreamsTopologyFenced => 132, "STREAMS_TOPOLOGY_FENCED", false,
        "The streams topology epoch sent is out of date.";
    ShareSessionLimitReached => 133, "SHARE_SESSION_LIMIT_REACHED", true,
        "No new share session can be opened because the session limit has been reached.";
}

impl ErrorCode {
    /// `true` only for [`ErrorCode::None`] (code `0`).
    pub const fn is_ok(self) -> bool {
        matches!(self, ErrorCode::None)
    }

    /// `Ok(())` for [`ErrorCode::None`], otherwise `Err(self)`; handy with `?`.
    ///
    /// ```
    /// use kafka_protocol::ErrorCode;
    ///
    /// assert_eq!(ErrorCode::from_i16(0).ok_or_err(), Ok(()));
    /// assert_eq!(ErrorCode::from_i16(3).ok_or_err(), Err(ErrorCode::UnknownTopicOrPartition));
    /// ```
    pub fn ok_or_err(self) -> Result<(), ErrorCode> {
        if self.is_ok() { Ok(()) } else { Err(self) }
    }

    /// Every code this crate knows, in ascending numeric order (`-1` first).
    pub fn all() -> &'static [ErrorCode] {
        ALL
    }
}

impl From<i16> for ErrorCode {
    fn from(code: i16) -> Self {
        ErrorCode::from_i16(code)
    }
}

impl From<ErrorCode> for i16 {
    fn from(code: ErrorCode) -> Self {
        code.code()
    }
}

impl fmt::Display for ErrorCode {
    /// Formats as `NAME (code): message`, e.g. `REQUEST_TIMED_OUT (7): ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name(), self.code(), self.message())
    }
}

impl std::error::Error for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::ErrorCode;
    use std::collections::HashSet;

    /// Highest code Apache Kafka 4.3 defines.
    const MAX_CODE: i16 = 133;

    #[test]
    fn every_code_round_trips() {
        for &e in ErrorCode::all() {
            assert_eq!(ErrorCode::from_i16(e.code()), e, "{e:?}");
            assert_eq!(ErrorCode::from(i16::from(e)), e);
            assert!(!matches!(e, ErrorCode::Unknown(_)));
        }
    }

    #[test]
    fn codes_are_contiguous_and_ascending() {
        // Kafka has no gaps from -1 to the highest code.
        let codes: Vec<i16> = ErrorCode::all().iter().map(|e| e.code()).collect();
        let expected: Vec<i16> = (-1..=MAX_CODE).collect();
        assert_eq!(codes, expected);
        assert_eq!(ErrorCode::all().len(), 135);
        assert_eq!(
            ErrorCode::from_i16(MAX_CODE + 1),
            ErrorCode::Unknown(MAX_CODE + 1)
        );
        assert_eq!(ErrorCode::from_i16(-2), ErrorCode::Unknown(-2));
    }

    #[test]
    fn names_and_messages_are_well_formed() {
        let mut names = HashSet::new();
        for &e in ErrorCode::all() {
            let name = e.name();
            assert!(names.insert(name), "duplicate name {name}");
            assert!(
                !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'),
                "bad name {name}"
            );
            assert!(!e.message().is_empty());
            assert_ne!(name, "UNKNOWN");
        }
    }

    #[test]
    fn well_known_entries() {
        let cases: &[(i16, &str, bool)] = &[
            (-1, "UNKNOWN_SERVER_ERROR", false),
            (0, "NONE", false),
            (1, "OFFSET_OUT_OF_RANGE", false),
            (2, "CORRUPT_MESSAGE", true),
            (3, "UNKNOWN_TOPIC_OR_PARTITION", true),
            (5, "LEADER_NOT_AVAILABLE", true),
            (6, "NOT_LEADER_OR_FOLLOWER", true),
            (7, "REQUEST_TIMED_OUT", true),
            (10, "MESSAGE_TOO_LARGE", false),
            (13, "NETWORK_EXCEPTION", true),
            (14, "COORDINATOR_LOAD_IN_PROGRESS", true),
            (15, "COORDINATOR_NOT_AVAILABLE", true),
            (16, "NOT_COORDINATOR", true),
            (22, "ILLEGAL_GENERATION", false),
            (25, "UNKNOWN_MEMBER_ID", false),
            (27, "REBALANCE_IN_PROGRESS", false),
            (35, "UNSUPPORTED_VERSION", false),
            (41, "NOT_CONTROLLER", true),
            (47, "INVALID_PRODUCER_EPOCH", false),
            (51, "CONCURRENT_TRANSACTIONS", true),
            (56, "KAFKA_STORAGE_ERROR", true),
            (59, "UNKNOWN_PRODUCER_ID", false),
            (74, "FENCED_LEADER_EPOCH", true),
            (79, "MEMBER_ID_REQUIRED", false),
            (89, "THROTTLING_QUOTA_EXCEEDED", true),
            (90, "PRODUCER_FENCED", false),
            (99, "POSITION_OUT_OF_RANGE", false),
            (100, "UNKNOWN_TOPIC_ID", true),
            (110, "FENCED_MEMBER_EPOCH", false),
            (113, "STALE_MEMBER_EPOCH", false),
            (120, "TRANSACTION_ABORTABLE", false),
            (122, "SHARE_SESSION_NOT_FOUND", true),
            (129, "REBOOTSTRAP_REQUIRED", false),
            (132, "STREAMS_TOPOLOGY_FENCED", false),
            (133, "SHARE_SESSION_LIMIT_REACHED", true),
        ];
        for &(code, name, retriable) in cases {
            let e = ErrorCode::from_i16(code);
            assert_eq!(e.name(), name, "code {code}");
            assert_eq!(e.is_retriable(), retriable, "{name}");
        }
        assert_eq!(ErrorCode::from_i16(6), ErrorCode::NotLeaderOrFollower);
        assert_eq!(ErrorCode::from_i16(90), ErrorCode::ProducerFenced);
    }

    #[test]
    fn retriable_set_matches_kafka() {
        let retriable: Vec<i16> = ErrorCode::all()
            .iter()
            .filter(|e| e.is_retriable())
            .map(|e| e.code())
            .collect();
        assert_eq!(
            retriable,
            [
                2, 3, 5, 6, 7, 9, 13, 14, 15, 16, 19, 20, 41, 51, 56, 70, 71, 72, 74, 75, 78, 80,
                83, 84, 88, 89, 100, 103, 106, 122, 123, 133
            ]
        );
    }

    #[test]
    fn unknown_codes() {
        let e = ErrorCode::from_i16(9999);
        assert_eq!(e, ErrorCode::Unknown(9999));
        assert_eq!(e.code(), 9999);
        assert_eq!(e.name(), "UNKNOWN");
        assert!(!e.is_retriable());
        assert!(!e.is_ok());
        assert_eq!(e.ok_or_err(), Err(e));
        assert!(e.to_string().starts_with("UNKNOWN (9999): "));
    }

    #[test]
    fn ok_and_display() {
        assert!(ErrorCode::None.is_ok());
        assert_eq!(ErrorCode::None.ok_or_err(), Ok(()));
        assert!(!ErrorCode::UnknownServerError.is_ok());
        let shown = ErrorCode::RequestTimedOut.to_string();
        assert!(shown.starts_with("REQUEST_TIMED_OUT (7): "), "{shown}");
        let boxed: Box<dyn std::error::Error> = Box::new(ErrorCode::ProducerFenced);
        assert!(boxed.to_string().contains("PRODUCER_FENCED"));
    }
}
