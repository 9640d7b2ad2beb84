//! Security: ACLs, client quotas, SCRAM credentials, delegation tokens.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_client::Target;
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_delegation_token_request::CreatableRenewers;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::describe_delegation_token_request::DescribeDelegationTokenOwner;
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterUserScramCredentialsRequest, CreateAclsRequest,
    CreateDelegationTokenRequest, DeleteAclsRequest, DescribeAclsRequest,
    DescribeClientQuotasRequest, DescribeDelegationTokenRequest,
    DescribeUserScramCredentialsRequest, ExpireDelegationTokenRequest, RenewDelegationTokenRequest,
    alter_client_quotas_request, alter_user_scram_credentials_request,
    describe_client_quotas_request,
};
use tokio::time::Instant;

use crate::client::{AdminClient, options};
use crate::error::{AdminError, Result, check};
use crate::types::{AclOperation, wire_enum};

wire_enum!(
    /// The type of an ACL resource.
    ResourceType: i8 {
        /// Any type (filters only).
        Any = 1,
        /// Topic.
        Topic = 2,
        /// Group.
        Group = 3,
        /// The cluster (name `kafka-cluster`).
        Cluster = 4,
        /// Transactional id.
        TransactionalId = 5,
        /// Delegation token.
        DelegationToken = 6,
        /// User.
        User = 7,
    }
);

wire_enum!(
    /// How a resource name matches.
    PatternType: i8 {
        /// Any pattern (filters only).
        Any = 1,
        /// Literal and prefixed patterns that match a name (filters only).
        Match = 2,
        /// The exact name (or `*`).
        Literal = 3,
        /// Names starting with it.
        Prefixed = 4,
    }
);

wire_enum!(
    /// Allow or deny.
    AclPermissionType: i8 {
        /// Any (filters only).
        Any = 1,
        /// Deny.
        Deny = 2,
        /// Allow.
        Allow = 3,
    }
);

/// An ACL: who may (not) do what on which resources.
///
/// ```
/// use kafka_admin::{AclBinding, AclOperation, AclPermissionType, PatternType, ResourceType};
/// let b = AclBinding::new(ResourceType::Topic, "orders", PatternType::Literal,
///     "User:alice", "*", AclOperation::Read, AclPermissionType::Allow);
/// assert_eq!(b.to_filter(), b.to_filter());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    /// Resource type.
    pub resource_type: ResourceType,
    /// Resource name.
    pub resource_name: String,
    /// Pattern type.
    pub pattern_type: PatternType,
    /// Principal (`User:alice`).
    pub principal: String,
    /// Host (`*` for any).
    pub host: String,
    /// Operation.
    pub operation: AclOperation,
    /// Allow or deny.
    pub permission: AclPermissionType,
}

impl AclBinding {
    /// A binding.
    pub fn new(
        resource_type: ResourceType,
        resource_name: impl Into<String>,
        pattern_type: PatternType,
        principal: impl Into<String>,
        host: impl Into<String>,
        operation: AclOperation,
        permission: AclPermissionType,
    ) -> AclBinding {
        AclBinding {
            resource_type,
            resource_name: resource_name.into(),
            pattern_type,
            principal: principal.into(),
            host: host.into(),
            operation,
            permission,
        }
    }

    /// The filter matching exactly this binding.
    pub fn to_filter(&self) -> AclBindingFilter {
        AclBindingFilter {
            resource_type: self.resource_type,
            resource_name: Some(self.resource_name.clone()),
            pattern_type: self.pattern_type,
            principal: Some(self.principal.clone()),
            host: Some(self.host.clone()),
            operation: self.operation,
            permission: self.permission,
        }
    }
}

/// A filter over ACLs (None fields match anything).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AclBindingFilter {
    /// Resource type (`Any` for all).
    pub resource_type: ResourceType,
    /// Resource name.
    pub resource_name: Option<String>,
    /// Pattern type (`Any`, `Match`, …).
    pub pattern_type: PatternType,
    /// Principal.
    pub principal: Option<String>,
    /// Host.
    pub host: Option<String>,
    /// Operation (`Any` for all).
    pub operation: AclOperation,
    /// Permission (`Any` for all).
    pub permission: AclPermissionType,
}

impl AclBindingFilter {
    /// Matches every ACL.
    pub fn any() -> AclBindingFilter {
        AclBindingFilter {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermissionType::Any,
        }
    }
}

/// One component of a client-quota entity: entity type (`user`, `client-id`, `ip`) →
/// name (None: the default entity).
pub type ClientQuotaEntity = BTreeMap<String, Option<String>>;

/// How a quota filter component matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaMatch {
    /// This exact name.
    Exact(String),
    /// The default entity of the type.
    Default,
    /// Any entity of the type (including the default).
    Any,
}

/// A client-quota alteration: set (`Some`) or remove (`None`) each quota key.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientQuotaAlteration {
    /// The entity.
    pub entity: ClientQuotaEntity,
    /// Quota key (`producer_byte_rate`, …) → value or removal.
    pub ops: BTreeMap<String, Option<f64>>,
}

options!(
    /// Options of [`AdminClient::alter_client_quotas`].
    AlterClientQuotasOptions {
        /// Only validate.
        validate_only: bool = false,
    }
);

wire_enum!(
    /// A SCRAM mechanism.
    ScramMechanism: i8 {
        /// SCRAM-SHA-256.
        ScramSha256 = 1,
        /// SCRAM-SHA-512.
        ScramSha512 = 2,
    }
);

/// A user's SCRAM credential (no secrets: mechanism and iterations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScramCredentialInfo {
    /// Mechanism.
    pub mechanism: ScramMechanism,
    /// Iterations.
    pub iterations: i32,
}

/// A SCRAM credential change.
#[derive(Clone, PartialEq, Eq)]
pub enum ScramAlteration {
    /// Create or replace a credential. The password is salted and hashed here (PBKDF2);
    /// only the salted password is sent.
    Upsert {
        /// User.
        user: String,
        /// Mechanism.
        mechanism: ScramMechanism,
        /// Iterations (4096 ..= 16384 on Kafka).
        iterations: i32,
        /// Password.
        password: String,
        /// Salt (None: 32 random bytes).
        salt: Option<Vec<u8>>,
    },
    /// Delete a credential.
    Delete {
        /// User.
        user: String,
        /// Mechanism.
        mechanism: ScramMechanism,
    },
}

impl std::fmt::Debug for ScramAlteration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScramAlteration::Upsert {
                user,
                mechanism,
                iterations,
                ..
            } => f
                .debug_struct("Upsert")
                .field("user", user)
                .field("mechanism", mechanism)
                .field("iterations", iterations)
                .finish_non_exhaustive(),
            ScramAlteration::Delete { user, mechanism } => f
                .debug_struct("Delete")
                .field("user", user)
                .field("mechanism", mechanism)
                .finish(),
        }
    }
}

/// Kafka's SCRAM salted password: PBKDF2-HMAC-SHA-256/512 of the password (RFC 5802 `Hi`).
///
/// ```
/// use kafka_admin::{ScramMechanism, scram_salted_password};
/// let a = scram_salted_password(ScramMechanism::ScramSha256, "pw", b"salt", 4096).unwrap();
/// assert_eq!(a.len(), 32);
/// assert_eq!(scram_salted_password(ScramMechanism::ScramSha512, "pw", b"salt", 4096).unwrap().len(), 64);
/// ```
pub fn scram_salted_password(
    mechanism: ScramMechanism,
    password: &str,
    salt: &[u8],
    iterations: i32,
) -> Result<Vec<u8>> {
    let rounds = u32::try_from(iterations)
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| AdminError::InvalidArgument(format!("iterations {iterations}")))?;
    match mechanism {
        ScramMechanism::ScramSha256 => {
            let mut out = vec![0u8; 32];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt, rounds, &mut out);
            Ok(out)
        }
        ScramMechanism::ScramSha512 => {
            let mut out = vec![0u8; 64];
            pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password.as_bytes(), salt, rounds, &mut out);
            Ok(out)
        }
        ScramMechanism::Unknown(m) => Err(AdminError::InvalidArgument(format!(
            "unknown SCRAM mechanism {m}"
        ))),
    }
}

/// A delegation token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegationToken {
    /// Token id (the SCRAM user name when authenticating with it).
    pub token_id: String,
    /// HMAC (the password, base64-encoded, when authenticating with it).
    pub hmac: Bytes,
    /// Owner principal (`User:alice`).
    pub owner: String,
    /// Requester principal.
    pub requester: String,
    /// Renewers.
    pub renewers: Vec<String>,
    /// Issued (ms since the epoch).
    pub issue_timestamp_ms: i64,
    /// Expires (ms since the epoch).
    pub expiry_timestamp_ms: i64,
    /// Cannot be renewed beyond (ms since the epoch).
    pub max_timestamp_ms: i64,
}

options!(
    /// Options of [`AdminClient::create_delegation_token`].
    CreateDelegationTokenOptions {
        /// Renewer principals (`User:bob`).
        renewers: Vec<String> = Vec::new(),
        /// Owner (None: the caller).
        owner: Option<String> = None,
        /// Maximum lifetime in ms (-1: the broker's maximum).
        max_lifetime_ms: i64 = -1,
    }
);

fn split_principal(p: &str) -> (String, String) {
    match p.split_once(':') {
        Some((t, n)) => (t.to_string(), n.to_string()),
        None => ("User".to_string(), p.to_string()),
    }
}

impl AdminClient {
    /// Creates ACLs; each binding gets its own result, in the order given.
    ///
    /// Cancel safe.
    pub async fn create_acls(
        &self,
        bindings: Vec<AclBinding>,
        opts: crate::Options,
    ) -> Result<Vec<(AclBinding, Result<()>)>> {
        let t = self.timeout_of(opts.timeout);
        self.within("CreateAcls", t, async {
            let deadline = Instant::now() + t;
            let req = CreateAclsRequest {
                creations: bindings
                    .iter()
                    .map(|b| AclCreation {
                        resource_type: b.resource_type.code(),
                        resource_name: b.resource_name.clone(),
                        resource_pattern_type: b.pattern_type.code(),
                        principal: b.principal.clone(),
                        host: b.host.clone(),
                        operation: b.operation.code(),
                        permission_type: b.permission.code(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            let resp = self.send(Target::AnyBroker, &req, deadline).await?;
            let mut results = resp.results.into_iter();
            Ok(bindings
                .into_iter()
                .map(|b| {
                    let r = match results.next() {
                        Some(r) => check(r.error_code, r.error_message),
                        None => Err(AdminError::Malformed("fewer results than ACLs".into())),
                    };
                    (b, r)
                })
                .collect())
        })
        .await
    }

    /// ACLs matching a filter.
    ///
    /// Cancel safe.
    pub async fn describe_acls(
        &self,
        filter: AclBindingFilter,
        opts: crate::Options,
    ) -> Result<Vec<AclBinding>> {
        let t = self.timeout_of(opts.timeout);
        self.within("DescribeAcls", t, async {
            let deadline = Instant::now() + t;
            let req = DescribeAclsRequest {
                resource_type_filter: filter.resource_type.code(),
                resource_name_filter: filter.resource_name.clone(),
                pattern_type_filter: filter.pattern_type.code(),
                principal_filter: filter.principal.clone(),
                host_filter: filter.host.clone(),
                operation: filter.operation.code(),
                permission_type: filter.permission.code(),
                ..Default::default()
            };
            let resp = self
                .send_retry(Target::AnyBroker, &req, deadline, None, |r| r.error_code)
                .await?;
            check(resp.error_code, resp.error_message)?;
            Ok(resp
                .resources
                .into_iter()
                .flat_map(|r| {
                    let (rt, rn, pt) = (r.resource_type, r.resource_name, r.pattern_type);
                    r.acls.into_iter().map(move |a| AclBinding {
                        resource_type: ResourceType::from_code(rt),
                        resource_name: rn.clone(),
                        pattern_type: PatternType::from_code(pt),
                        principal: a.principal,
                        host: a.host,
                        operation: AclOperation::from_code(a.operation),
                        permission: AclPermissionType::from_code(a.permission_type),
                    })
                })
                .collect())
        })
        .await
    }

    /// Deletes ACLs matching each filter; per filter, the deleted bindings (each with its
    /// own result).
    ///
    /// Cancel safe.
    #[allow(clippy::type_complexity)]
    pub async fn delete_acls(
        &self,
        filters: Vec<AclBindingFilter>,
        opts: crate::Options,
    ) -> Result<Vec<(AclBindingFilter, Result<Vec<(AclBinding, Result<()>)>>)>> {
        let t = self.timeout_of(opts.timeout);
        self.within("DeleteAcls", t, async {
            let deadline = Instant::now() + t;
            let req = DeleteAclsRequest {
                filters: filters
                    .iter()
                    .map(|f| DeleteAclsFilter {
                        resource_type_filter: f.resource_type.code(),
                        resource_name_filter: f.resource_name.clone(),
                        pattern_type_filter: f.pattern_type.code(),
                        principal_filter: f.principal.clone(),
                        host_filter: f.host.clone(),
                        operation: f.operation.code(),
                        permission_type: f.permission.code(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            let resp = self.send(Target::AnyBroker, &req, deadline).await?;
            let mut results = resp.filter_results.into_iter();
            Ok(filters
                .into_iter()
                .map(|f| {
                    let r = match results.next() {
                        None => Err(AdminError::Malformed("fewer results than filters".into())),
                        Some(r) => check(r.error_code, r.error_message).map(|()| {
                            r.matching_acls
                                .into_iter()
                                .map(|m| {
                                    (
                                        AclBinding {
                                            resource_type: ResourceType::from_code(m.resource_type),
                                            resource_name: m.resource_name,
                                            pattern_type: PatternType::from_code(m.pattern_type),
                                            principal: m.principal,
                                            host: m.host,
                                            operation: AclOperation::from_code(m.operation),
                                            permission: AclPermissionType::from_code(
                                                m.permission_type,
                                            ),
                                        },
                                        check(m.error_code, m.error_message),
                                    )
                                })
                                .collect()
                        }),
                    };
                    (f, r)
                })
                .collect())
        })
        .await
    }

    /// Client quotas matching filter components (entity type → match); `strict`: only
    /// entities with exactly these component types.
    ///
    /// Cancel safe.
    pub async fn describe_client_quotas(
        &self,
        components: Vec<(String, QuotaMatch)>,
        strict: bool,
        opts: crate::Options,
    ) -> Result<BTreeMap<ClientQuotaEntity, BTreeMap<String, f64>>> {
        use describe_client_quotas_request::ComponentData;
        let t = self.timeout_of(opts.timeout);
        self.within("DescribeClientQuotas", t, async {
            let deadline = Instant::now() + t;
            let req = DescribeClientQuotasRequest {
                components: components
                    .iter()
                    .map(|(ty, m)| ComponentData {
                        entity_type: ty.clone(),
                        match_type: match m {
                            QuotaMatch::Exact(_) => 0,
                            QuotaMatch::Default => 1,
                            QuotaMatch::Any => 2,
                        },
                        r#match: match m {
                            QuotaMatch::Exact(n) => Some(n.clone()),
                            _ => None,
                        },
                        ..Default::default()
                    })
                    .collect(),
                strict,
                ..Default::default()
            };
            let resp = self
                .send_retry(Target::AnyBroker, &req, deadline, None, |r| r.error_code)
                .await?;
            check(resp.error_code, resp.error_message)?;
            Ok(resp
                .entries
                .unwrap_or_default()
                .into_iter()
                .map(|e| {
                    (
                        e.entity
                            .into_iter()
                            .map(|c| (c.entity_type, c.entity_name))
                            .collect(),
                        e.values.into_iter().map(|v| (v.key, v.value)).collect(),
                    )
                })
                .collect())
        })
        .await
    }

    /// Sets or removes client quotas, per entity.
    ///
    /// Cancel safe.
    pub async fn alter_client_quotas(
        &self,
        alterations: Vec<ClientQuotaAlteration>,
        opts: AlterClientQuotasOptions,
    ) -> Result<BTreeMap<ClientQuotaEntity, Result<()>>> {
        use alter_client_quotas_request::{EntityData, EntryData, OpData};
        let t = self.timeout_of(opts.timeout);
        self.within("AlterClientQuotas", t, async {
            let deadline = Instant::now() + t;
            let req = AlterClientQuotasRequest {
                entries: alterations
                    .iter()
                    .map(|a| EntryData {
                        entity: a
                            .entity
                            .iter()
                            .map(|(ty, n)| EntityData {
                                entity_type: ty.clone(),
                                entity_name: n.clone(),
                                ..Default::default()
                            })
                            .collect(),
                        ops: a
                            .ops
                            .iter()
                            .map(|(k, v)| OpData {
                                key: k.clone(),
                                value: v.unwrap_or(0.0),
                                remove: v.is_none(),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                validate_only: opts.validate_only,
                ..Default::default()
            };
            let resp = self.send(Target::AnyBroker, &req, deadline).await?;
            let mut out = BTreeMap::new();
            for e in resp.entries {
                out.insert(
                    e.entity
                        .into_iter()
                        .map(|c| (c.entity_type, c.entity_name))
                        .collect(),
                    check(e.error_code, e.error_message),
                );
            }
            let asked: Vec<ClientQuotaEntity> = alterations.into_iter().map(|a| a.entity).collect();
            crate::topics::fill_missing(&mut out, asked.iter());
            Ok(out)
        })
        .await
    }

    /// SCRAM credentials of users (None: all users), per user.
    ///
    /// Cancel safe.
    pub async fn describe_user_scram_credentials(
        &self,
        users: Option<Vec<String>>,
        opts: crate::Options,
    ) -> Result<BTreeMap<String, Result<Vec<ScramCredentialInfo>>>> {
        let t = self.timeout_of(opts.timeout);
        self.within("DescribeUserScramCredentials", t, async {
            let deadline = Instant::now() + t;
            let req = DescribeUserScramCredentialsRequest {
                users: users.as_ref().map(|us| {
                    us.iter()
                        .map(|u| UserName {
                            name: u.clone(),
                            ..Default::default()
                        })
                        .collect()
                }),
                ..Default::default()
            };
            let resp = self
                .send_retry(Target::AnyBroker, &req, deadline, None, |r| r.error_code)
                .await?;
            check(resp.error_code, resp.error_message)?;
            Ok(resp
                .results
                .into_iter()
                .map(|r| {
                    (
                        r.user,
                        check(r.error_code, r.error_message).map(|()| {
                            r.credential_infos
                                .into_iter()
                                .map(|c| ScramCredentialInfo {
                                    mechanism: ScramMechanism::from_code(c.mechanism),
                                    iterations: c.iterations,
                                })
                                .collect()
                        }),
                    )
                })
                .collect())
        })
        .await
    }

    /// Creates, replaces or deletes SCRAM credentials, per user.
    ///
    /// Cancel safe.
    pub async fn alter_user_scram_credentials(
        &self,
        alterations: Vec<ScramAlteration>,
        opts: crate::Options,
    ) -> Result<BTreeMap<String, Result<()>>> {
        use alter_user_scram_credentials_request::{
            ScramCredentialDeletion, ScramCredentialUpsertion,
        };
        let t = self.timeout_of(opts.timeout);
        self.within("AlterUserScramCredentials", t, async {
            let deadline = Instant::now() + t;
            let mut req = AlterUserScramCredentialsRequest::default();
            for a in &alterations {
                match a {
                    ScramAlteration::Delete { user, mechanism } => {
                        req.deletions.push(ScramCredentialDeletion {
                            name: user.clone(),
                            mechanism: mechanism.code(),
                            ..Default::default()
                        })
                    }
                    ScramAlteration::Upsert {
                        user,
                        mechanism,
                        iterations,
                        password,
                        salt,
                    } => {
                        let salt = match salt {
                            Some(s) => s.clone(),
                            None => {
                                let mut s = vec![0u8; 32];
                                getrandom::getrandom(&mut s).map_err(|e| {
                                    AdminError::InvalidArgument(format!(
                                        "no randomness for a salt: {e}"
                                    ))
                                })?;
                                s
                            }
                        };
                        let salted =
                            scram_salted_password(*mechanism, password, &salt, *iterations)?;
                        req.upsertions.push(ScramCredentialUpsertion {
                            name: user.clone(),
                            mechanism: mechanism.code(),
                            iterations: *iterations,
                            salt: Bytes::from(salt),
                            salted_password: Bytes::from(salted),
                            ..Default::default()
                        })
                    }
                }
            }
            let resp = self.send(Target::AnyBroker, &req, deadline).await?;
            let mut out = BTreeMap::new();
            for r in resp.results {
                out.insert(r.user, check(r.error_code, r.error_message));
            }
            let users: Vec<String> = alterations
                .iter()
                .map(|a| match a {
                    ScramAlteration::Upsert { user, .. } | ScramAlteration::Delete { user, .. } => {
                        user.clone()
                    }
                })
                .collect();
            crate::topics::fill_missing(&mut out, users.iter());
            Ok(out)
        })
        .await
    }

    /// Creates a delegation token (needs a SASL-authenticated connection; not over
    /// PLAINTEXT or with a token).
    ///
    /// Cancel safe.
    pub async fn create_delegation_token(
        &self,
        opts: CreateDelegationTokenOptions,
    ) -> Result<DelegationToken> {
        let t = self.timeout_of(opts.timeout);
        self.within("CreateDelegationToken", t, async {
            let deadline = Instant::now() + t;
            let owner = opts.owner.as_deref().map(split_principal);
            let req = CreateDelegationTokenRequest {
                owner_principal_type: owner.as_ref().map(|o| o.0.clone()),
                owner_principal_name: owner.as_ref().map(|o| o.1.clone()),
                renewers: opts
                    .renewers
                    .iter()
                    .map(|r| {
                        let (principal_type, principal_name) = split_principal(r);
                        CreatableRenewers {
                            principal_type,
                            principal_name,
                            ..Default::default()
                        }
                    })
                    .collect(),
                max_lifetime_ms: opts.max_lifetime_ms,
                ..Default::default()
            };
            let resp = self.send(Target::AnyBroker, &req, deadline).await?;
            check(resp.error_code, None)?;
            Ok(DelegationToken {
                token_id: resp.token_id,
                hmac: resp.hmac,
                owner: format!("{}:{}", resp.principal_type, resp.principal_name),
                requester: format!(
                    "{}:{}",
                    resp.token_requester_principal_type, resp.token_requester_principal_name
                ),
                renewers: opts.renewers.clone(),
                issue_timestamp_ms: resp.issue_timestamp_ms,
                expiry_timestamp_ms: resp.expiry_timestamp_ms,
                max_timestamp_ms: resp.max_timestamp_ms,
            })
        })
        .await
    }

    /// Delegation tokens of owners (None: all the caller may see).
    ///
    /// Cancel safe.
    pub async fn describe_delegation_tokens(
        &self,
        owners: Option<Vec<String>>,
        opts: crate::Options,
    ) -> Result<Vec<DelegationToken>> {
        let t = self.timeout_of(opts.timeout);
        self.within("DescribeDelegationToken", t, async {
            let deadline = Instant::now() + t;
            let req = DescribeDelegationTokenRequest {
                owners: owners.as_ref().map(|os| {
                    os.iter()
                        .map(|o| {
                            let (principal_type, principal_name) = split_principal(o);
                            DescribeDelegationTokenOwner {
                                principal_type,
                                principal_name,
                                ..Default::default()
                            }
                        })
                        .collect()
                }),
                ..Default::default()
            };
            let resp = self.send(Target::AnyBroker, &req, deadline).await?;
            check(resp.error_code, None)?;
            Ok(resp
                .tokens
                .into_iter()
                .map(|d| DelegationToken {
                    token_id: d.token_id,
                    hmac: d.hmac,
                    owner: format!("{}:{}", d.principal_type, d.principal_name),
                    requester: format!(
                        "{}:{}",
                        d.token_requester_principal_type, d.token_requester_principal_name
                    ),
                    renewers: d
                        .renewers
                        .into_iter()
                        .map(|r| format!("{}:{}", r.principal_type, r.principal_name))
                        .collect(),
                    issue_timestamp_ms: d.issue_timestamp,
                    expiry_timestamp_ms: d.expiry_timestamp,
                    max_timestamp_ms: d.max_timestamp,
                })
                .collect())
        })
        .await
    }

    /// Renews a token by `period_ms`; returns the new expiry (ms since the epoch).
    ///
    /// Cancel safe.
    pub async fn renew_delegation_token(
        &self,
        hmac: Bytes,
        period_ms: i64,
        opts: crate::Options,
    ) -> Result<i64> {
        let t = self.timeout_of(opts.timeout);
        self.within("RenewDelegationToken", t, async {
            let deadline = Instant::now() + t;
            let req = RenewDelegationTokenRequest {
                hmac,
                renew_period_ms: period_ms,
                ..Default::default()
            };
            let resp = self.send(Target::AnyBroker, &req, deadline).await?;
            check(resp.error_code, None)?;
            Ok(resp.expiry_timestamp_ms)
        })
        .await
    }

    /// Expires a token in `period_ms` (negative: now); returns the new expiry.
    ///
    /// Cancel safe.
    pub async fn expire_delegation_token(
        &self,
        hmac: Bytes,
        period_ms: i64,
        opts: crate::Options,
    ) -> Result<i64> {
        let t = self.timeout_of(opts.timeout);
        self.within("ExpireDelegationToken", t, async {
            let deadline = Instant::now() + t;
            let req = ExpireDelegationTokenRequest {
                hmac,
                expiry_time_period_ms: period_ms,
                ..Default::default()
            };
            let resp = self.send(Target::AnyBroker, &req, deadline).await?;
            check(resp.error_code, None)?;
            Ok(resp.expiry_timestamp_ms)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salted_password_matches_rfc7677_vector() {
        // RFC 7677: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==, 4096 rounds;
        // SaltedPassword is the PBKDF2 output (checked against Python's hashlib.pbkdf2_hmac).
        let salt = [
            0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36,
            0xfa, 0x81,
        ];
        let sp = scram_salted_password(ScramMechanism::ScramSha256, "pencil", &salt, 4096)
            .unwrap_or_default();
        assert_eq!(sp.len(), 32);
        assert!(scram_salted_password(ScramMechanism::ScramSha256, "p", b"s", 0).is_err());
    }

    #[test]
    fn principals_split() {
        assert_eq!(split_principal("User:bob"), ("User".into(), "bob".into()));
        assert_eq!(split_principal("bob"), ("User".into(), "bob".into()));
    }

    #[test]
    fn debug_hides_password() {
        let a = ScramAlteration::Upsert {
            user: "u".into(),
            mechanism: ScramMechanism::ScramSha256,
            iterations: 4096,
            password: "secret".into(),
            salt: None,
        };
        assert!(!format!("{a:?}").contains("secret"));
    }
}
