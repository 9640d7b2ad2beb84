//! `kafka acls list|add|remove`.

use clap::{Args, Subcommand, ValueEnum};
use kafka_admin::{
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourceType,
};

use crate::common::{CliError, CliResult, Global, Table, failed, out, usage};

/// ACL operations as flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Op {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
    CreateTokens,
    DescribeTokens,
}

impl Op {
    fn acl(self) -> AclOperation {
        match self {
            Op::All => AclOperation::All,
            Op::Read => AclOperation::Read,
            Op::Write => AclOperation::Write,
            Op::Create => AclOperation::Create,
            Op::Delete => AclOperation::Delete,
            Op::Alter => AclOperation::Alter,
            Op::Describe => AclOperation::Describe,
            Op::ClusterAction => AclOperation::ClusterAction,
            Op::DescribeConfigs => AclOperation::DescribeConfigs,
            Op::AlterConfigs => AclOperation::AlterConfigs,
            Op::IdempotentWrite => AclOperation::IdempotentWrite,
            Op::CreateTokens => AclOperation::CreateTokens,
            Op::DescribeTokens => AclOperation::DescribeTokens,
        }
    }
}

/// The resource an ACL is about.
#[derive(Args, Debug, Clone)]
pub(crate) struct Resource {
    /// A topic (`*` for all).
    #[arg(long)]
    topic: Option<String>,
    /// A consumer group (`*` for all).
    #[arg(long)]
    group: Option<String>,
    /// A transactional id (`*` for all).
    #[arg(long)]
    transactional_id: Option<String>,
    /// The cluster.
    #[arg(long)]
    cluster: bool,
    /// The name is a prefix (PREFIXED pattern) rather than literal.
    #[arg(long)]
    prefixed: bool,
}

impl Resource {
    fn get(&self) -> Option<(ResourceType, String)> {
        if let Some(t) = &self.topic {
            Some((ResourceType::Topic, t.clone()))
        } else if let Some(g) = &self.group {
            Some((ResourceType::Group, g.clone()))
        } else if let Some(t) = &self.transactional_id {
            Some((ResourceType::TransactionalId, t.clone()))
        } else if self.cluster {
            Some((ResourceType::Cluster, "kafka-cluster".into()))
        } else {
            None
        }
    }
}

/// ACL commands.
#[derive(Subcommand, Debug)]
pub(crate) enum AclsCmd {
    /// List ACLs (all, or those on a resource / of a principal).
    #[command(
        after_help = "Examples:\n  kafka acls list\n  kafka acls list --topic orders\n  kafka acls list --principal User:alice"
    )]
    List {
        #[command(flatten)]
        resource: Resource,
        /// Only this principal's ACLs.
        #[arg(long)]
        principal: Option<String>,
    },
    /// Add ACLs: one per operation.
    #[command(
        after_help = "Examples:\n  kafka acls add --principal User:alice --operation read --operation describe --topic orders\n  kafka acls add --principal User:app --operation all --topic app- --prefixed\n  kafka acls add --principal User:mallory --operation write --topic orders --deny"
    )]
    Add {
        #[command(flatten)]
        resource: Resource,
        /// Principal, e.g. `User:alice`.
        #[arg(long, required = true)]
        principal: String,
        /// Operation; repeatable.
        #[arg(long, value_enum, required = true)]
        operation: Vec<Op>,
        /// Host the principal connects from.
        #[arg(long, default_value = "*")]
        host: String,
        /// A DENY rule (default: ALLOW).
        #[arg(long)]
        deny: bool,
    },
    /// Remove ACLs matching the filter (resource, principal, operations).
    #[command(
        after_help = "Examples:\n  kafka acls remove --principal User:alice --topic orders\n  kafka acls remove --principal User:alice --operation read --topic orders"
    )]
    Remove {
        #[command(flatten)]
        resource: Resource,
        /// Principal.
        #[arg(long)]
        principal: Option<String>,
        /// Operation; repeatable (default: any).
        #[arg(long, value_enum)]
        operation: Vec<Op>,
    },
}

fn print(bindings: &[AclBinding]) {
    let mut t = Table::new([
        "PRINCIPAL",
        "HOST",
        "OPERATION",
        "PERMISSION",
        "RESOURCE",
        "NAME",
        "PATTERN",
    ]);
    for b in bindings {
        t.row([
            b.principal.clone(),
            b.host.clone(),
            format!("{:?}", b.operation),
            format!("{:?}", b.permission),
            format!("{:?}", b.resource_type),
            b.resource_name.clone(),
            format!("{:?}", b.pattern_type),
        ]);
    }
    if t.is_empty() {
        out("(no ACLs)\n");
    } else {
        t.print();
    }
}

fn filter(
    resource: &Resource,
    principal: Option<String>,
    op: Option<AclOperation>,
) -> AclBindingFilter {
    let mut f = AclBindingFilter::any();
    if let Some((rt, name)) = resource.get() {
        f.resource_type = rt;
        f.resource_name = Some(name);
        f.pattern_type = if resource.prefixed {
            PatternType::Prefixed
        } else {
            PatternType::Literal
        };
    }
    f.principal = principal;
    if let Some(op) = op {
        f.operation = op;
    }
    f
}

pub(crate) async fn run(g: &Global, cmd: AclsCmd) -> CliResult {
    let admin = g.admin().await?;
    let r = match cmd {
        AclsCmd::List {
            resource,
            principal,
        } => {
            let mut f = filter(&resource, principal, None);
            if resource.get().is_some() && !resource.prefixed {
                f.pattern_type = PatternType::Match;
            }
            let b = admin
                .describe_acls(f, Default::default())
                .await
                .map_err(|e| failed("listing ACLs", e))?;
            print(&b);
            Ok(())
        }
        AclsCmd::Add {
            resource,
            principal,
            operation,
            host,
            deny,
        } => {
            let (rt, name) = resource.get().ok_or_else(|| {
                usage("name a resource: --topic, --group, --transactional-id or --cluster")
            })?;
            let pattern = if resource.prefixed {
                PatternType::Prefixed
            } else {
                PatternType::Literal
            };
            let perm = if deny {
                AclPermissionType::Deny
            } else {
                AclPermissionType::Allow
            };
            let bindings: Vec<AclBinding> = operation
                .iter()
                .map(|op| {
                    AclBinding::new(
                        rt,
                        name.clone(),
                        pattern,
                        principal.clone(),
                        host.clone(),
                        op.acl(),
                        perm,
                    )
                })
                .collect();
            let r = admin
                .create_acls(bindings, Default::default())
                .await
                .map_err(|e| failed("adding ACLs", e))?;
            let mut ok = Vec::new();
            let mut bad = Vec::new();
            for (b, res) in r {
                match res {
                    Ok(()) => ok.push(b),
                    Err(e) => bad.push(format!("{:?} {}: {e}", b.operation, b.resource_name)),
                }
            }
            if !ok.is_empty() {
                out("Added:\n");
                print(&ok);
            }
            if bad.is_empty() {
                Ok(())
            } else {
                Err(CliError::Failed(format!(
                    "adding ACLs failed: {}",
                    bad.join("; ")
                )))
            }
        }
        AclsCmd::Remove {
            resource,
            principal,
            operation,
        } => {
            if resource.get().is_none() && principal.is_none() {
                return Err(usage(
                    "refusing to remove every ACL: name a resource and/or --principal",
                ));
            }
            let filters: Vec<AclBindingFilter> = if operation.is_empty() {
                vec![filter(&resource, principal, None)]
            } else {
                operation
                    .iter()
                    .map(|op| filter(&resource, principal.clone(), Some(op.acl())))
                    .collect()
            };
            let r = admin
                .delete_acls(filters, Default::default())
                .await
                .map_err(|e| failed("removing ACLs", e))?;
            let mut removed = Vec::new();
            let mut bad = Vec::new();
            for (_, res) in r {
                match res {
                    Ok(list) => {
                        for (b, r) in list {
                            match r {
                                Ok(()) => removed.push(b),
                                Err(e) => bad.push(e.to_string()),
                            }
                        }
                    }
                    Err(e) => bad.push(e.to_string()),
                }
            }
            out(&format!("Removed {} ACL(s).\n", removed.len()));
            if !removed.is_empty() {
                print(&removed);
            }
            if bad.is_empty() {
                Ok(())
            } else {
                Err(CliError::Failed(format!(
                    "removing ACLs failed: {}",
                    bad.join("; ")
                )))
            }
        }
    };
    admin.close();
    r
}
