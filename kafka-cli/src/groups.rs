//! `kafka groups list|describe|delete|reset-offsets`.

use std::collections::{BTreeMap, BTreeSet};

use clap::{Args, Subcommand};
use kafka_admin::{
    AdminClient, ListOffsetsOptions, OffsetAndMetadata, OffsetSpec, Options, TopicPartition,
};

use crate::common::{CliError, CliResult, Global, Table, failed, out, parse_timestamp, usage};

/// Group commands.
#[derive(Subcommand, Debug)]
pub(crate) enum GroupsCmd {
    /// List consumer groups with state and type.
    #[command(after_help = "Examples:\n  kafka groups list")]
    List,
    /// Describe groups: state, members and their assignments, and the lag table.
    #[command(after_help = "Examples:\n  kafka groups describe billing")]
    Describe {
        /// Groups to describe.
        #[arg(required = true)]
        groups: Vec<String>,
    },
    /// Delete (empty) groups.
    #[command(after_help = "Examples:\n  kafka groups delete billing old-group")]
    Delete {
        /// Groups to delete.
        #[arg(required = true)]
        groups: Vec<String>,
    },
    /// Reset a group's committed offsets. Prints the plan (dry run) unless --execute is given;
    /// the group must have no active members to apply.
    ResetOffsets(ResetArgs),
}

/// `kafka groups reset-offsets` flags.
#[derive(Args, Debug)]
#[command(after_help = "Examples:
  kafka groups reset-offsets billing --topic orders --to-earliest            # dry run
  kafka groups reset-offsets billing --topic orders:0,1 --shift-by -10 --execute
  kafka groups reset-offsets billing --all-topics --to-datetime 2024-05-01T00:00:00Z --execute")]
pub(crate) struct ResetArgs {
    /// The group.
    group: String,
    /// `TOPIC` or `TOPIC:P,P…`; repeatable.
    #[arg(long, required_unless_present = "all_topics")]
    topic: Vec<String>,
    /// Every topic the group has committed offsets for.
    #[arg(long, conflicts_with = "topic")]
    all_topics: bool,
    /// To the log start offset.
    #[arg(long, group = "target")]
    to_earliest: bool,
    /// To the log end offset.
    #[arg(long, group = "target")]
    to_latest: bool,
    /// To the first offset at or after this time (ms since the epoch or a date-time).
    #[arg(long, group = "target", value_parser = parse_timestamp)]
    to_datetime: Option<i64>,
    /// Move the committed offset by N (negative: back), within the log.
    #[arg(long, group = "target", allow_hyphen_values = true)]
    shift_by: Option<i64>,
    /// To this offset, within the log.
    #[arg(long, group = "target")]
    to_offset: Option<i64>,
    /// Apply the plan (default: only print it).
    #[arg(long)]
    execute: bool,
}

pub(crate) async fn run(g: &Global, cmd: GroupsCmd) -> CliResult {
    let admin = g.admin().await?;
    let r = match cmd {
        GroupsCmd::List => list(&admin).await,
        GroupsCmd::Describe { groups } => describe(&admin, groups).await,
        GroupsCmd::Delete { groups } => {
            let r = admin
                .delete_consumer_groups(groups, Options::default())
                .await
                .map_err(|e| failed("deleting groups", e))?;
            let mut bad = Vec::new();
            for (gid, res) in r.per_group {
                match res {
                    Ok(()) => out(&format!("Deleted group {gid}.\n")),
                    Err(e) => bad.push(format!("{gid}: {e}")),
                }
            }
            if bad.is_empty() {
                Ok(())
            } else {
                Err(CliError::Failed(format!(
                    "deleting groups failed: {}",
                    bad.join("; ")
                )))
            }
        }
        GroupsCmd::ResetOffsets(a) => reset(&admin, a).await,
    };
    admin.close();
    r.map_err(|e| match e {
        CliError::Failed(m) => CliError::Failed(hint(m)),
        other => other,
    })
}

/// Adds a hint when the cluster lacks the group APIs (the bundled broker before its group
/// coordinator).
fn hint(e: String) -> String {
    if e.contains("no common version") || e.contains("UNSUPPORTED_VERSION") {
        format!("{e} (this cluster does not serve consumer groups)")
    } else {
        e
    }
}

async fn list(admin: &AdminClient) -> CliResult {
    let r = admin
        .list_groups(Default::default())
        .await
        .map_err(|e| failed("listing groups", e))?;
    let mut t = Table::new(["GROUP", "STATE", "TYPE", "PROTOCOL"]);
    for gl in r.groups.values() {
        t.row([
            gl.group_id.clone(),
            gl.state.clone().unwrap_or_else(|| "-".into()),
            gl.group_type.clone().unwrap_or_else(|| "-".into()),
            if gl.protocol_type.is_empty() {
                "-".into()
            } else {
                gl.protocol_type.clone()
            },
        ]);
    }
    if t.is_empty() {
        out("(no groups)\n");
    } else {
        t.print();
    }
    if !r.broker_errors.is_empty() {
        let errs: Vec<String> = r
            .broker_errors
            .iter()
            .map(|(b, e)| hint(format!("broker {b}: {e}")))
            .collect();
        return Err(CliError::Failed(format!(
            "some brokers could not list groups: {}",
            errs.join("; ")
        )));
    }
    Ok(())
}

async fn describe(admin: &AdminClient, groups: Vec<String>) -> CliResult {
    let d = admin
        .describe_consumer_groups(groups.clone(), Default::default())
        .await
        .map_err(|e| failed("describing groups", e))?;
    let mut bad = Vec::new();
    for gid in &groups {
        let desc = match d.per_group.get(gid) {
            Some(Ok(x)) => x,
            Some(Err(e)) => {
                bad.push(format!("{gid}: {e}"));
                continue;
            }
            None => continue,
        };
        out(&format!(
            "Group: {gid}\tState: {}\tAssignor: {}\tCoordinator: {}\tMembers: {}\n",
            desc.state,
            if desc.assignor.is_empty() {
                "-"
            } else {
                &desc.assignor
            },
            desc.coordinator,
            desc.members.len()
        ));
        let mut owner: BTreeMap<TopicPartition, (String, String)> = BTreeMap::new();
        for m in &desc.members {
            for tp in &m.assignment {
                owner.insert(
                    tp.clone(),
                    (m.member_id.clone(), format!("{}{}", m.client_host, "")),
                );
            }
        }
        let lag = match admin.lag(gid, Options::default()).await {
            Ok(l) => l,
            Err(e) => {
                bad.push(format!("{gid}: lag: {e}"));
                continue;
            }
        };
        let mut t = Table::new([
            "TOPIC",
            "PARTITION",
            "CURRENT-OFFSET",
            "LOG-END-OFFSET",
            "LAG",
            "CONSUMER-ID",
            "HOST",
        ]);
        let mut seen = BTreeSet::new();
        for (tp, l) in &lag.per_partition {
            seen.insert(tp.clone());
            let (m, h) = owner
                .get(tp)
                .cloned()
                .unwrap_or_else(|| ("-".into(), "-".into()));
            t.row([
                tp.topic.clone(),
                tp.partition.to_string(),
                l.committed.to_string(),
                l.end_offset.as_ref().map_or("?".into(), |e| e.to_string()),
                l.lag.map_or("?".into(), |x| x.to_string()),
                m,
                h,
            ]);
        }
        for (tp, (m, h)) in &owner {
            if !seen.contains(tp) {
                t.row([
                    tp.topic.clone(),
                    tp.partition.to_string(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    m.clone(),
                    h.clone(),
                ]);
            }
        }
        if t.is_empty() {
            out("(no committed offsets and no assigned partitions)\n");
        } else {
            t.print();
        }
        out(&format!("Total lag: {}\n", lag.total()));
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(CliError::Failed(bad.join("; ")))
    }
}

fn parse_topic_spec(s: &str) -> CliResult<(String, Option<Vec<i32>>)> {
    match s.split_once(':') {
        None => Ok((s.to_string(), None)),
        Some((t, ps)) => {
            let parts: Result<Vec<i32>, _> =
                ps.split(',').map(|p| p.trim().parse::<i32>()).collect();
            let parts =
                parts.map_err(|_| usage(format!("--topic `{s}`: expected TOPIC or TOPIC:P,P…")))?;
            Ok((t.to_string(), Some(parts)))
        }
    }
}

async fn reset(admin: &AdminClient, a: ResetArgs) -> CliResult {
    if !(a.to_earliest
        || a.to_latest
        || a.to_datetime.is_some()
        || a.shift_by.is_some()
        || a.to_offset.is_some())
    {
        return Err(usage(
            "give a target: --to-earliest, --to-latest, --to-datetime, --shift-by or --to-offset",
        ));
    }
    let committed_all = admin
        .list_consumer_group_offsets([(a.group.clone(), None)], Options::default())
        .await
        .map_err(|e| failed("fetching committed offsets", e))?;
    let committed: BTreeMap<TopicPartition, i64> = match committed_all.per_group.get(&a.group) {
        Some(Ok(m)) => m
            .iter()
            .filter_map(|(tp, o)| o.as_ref().ok().map(|o| (tp.clone(), o.offset)))
            .collect(),
        Some(Err(e)) => return Err(failed(&format!("committed offsets of {}", a.group), e)),
        None => BTreeMap::new(),
    };
    let mut tps: BTreeSet<TopicPartition> = BTreeSet::new();
    if a.all_topics {
        tps.extend(committed.keys().cloned());
    } else {
        let specs: Vec<(String, Option<Vec<i32>>)> = a
            .topic
            .iter()
            .map(|s| parse_topic_spec(s))
            .collect::<CliResult<_>>()?;
        let need: Vec<String> = specs
            .iter()
            .filter(|(_, p)| p.is_none())
            .map(|(t, _)| t.clone())
            .collect();
        let described = if need.is_empty() {
            None
        } else {
            Some(
                admin
                    .describe_topics(need, Default::default())
                    .await
                    .map_err(|e| failed("describing topics", e))?,
            )
        };
        for (t, parts) in specs {
            match parts {
                Some(ps) => tps.extend(ps.into_iter().map(|p| TopicPartition::new(&t, p))),
                None => {
                    let d = described
                        .as_ref()
                        .and_then(|d| d.per_topic.get(&t))
                        .ok_or_else(|| CliError::Failed(format!("topic {t}: no answer")))?
                        .as_ref()
                        .map_err(|e| failed(&format!("topic {t}"), e))?;
                    tps.extend(
                        d.partitions
                            .iter()
                            .map(|p| TopicPartition::new(&t, p.partition)),
                    );
                }
            }
        }
    }
    if tps.is_empty() {
        return Err(CliError::Failed(format!(
            "group {} has no partitions to reset",
            a.group
        )));
    }
    let lookup = |spec: OffsetSpec| {
        let tps = tps.clone();
        async move {
            admin
                .list_offsets(
                    tps.into_iter().map(|tp| (tp, spec)),
                    ListOffsetsOptions::default(),
                )
                .await
                .map_err(|e| failed("listing offsets", e))
                .and_then(|r| {
                    r.per_partition
                        .into_iter()
                        .map(|(tp, o)| {
                            o.map(|o| (tp.clone(), o.offset))
                                .map_err(|e| failed(&tp.to_string(), e))
                        })
                        .collect::<CliResult<BTreeMap<TopicPartition, i64>>>()
                })
        }
    };
    let earliest = lookup(OffsetSpec::Earliest).await?;
    let latest = lookup(OffsetSpec::Latest).await?;
    let by_time = match a.to_datetime {
        Some(ts) => Some(lookup(OffsetSpec::Timestamp(ts)).await?),
        None => None,
    };
    let mut plan: BTreeMap<TopicPartition, (Option<i64>, i64)> = BTreeMap::new();
    for tp in &tps {
        let lo = earliest.get(tp).copied().unwrap_or(0);
        let hi = latest.get(tp).copied().unwrap_or(lo);
        let cur = committed.get(tp).copied();
        let target = if a.to_earliest {
            lo
        } else if a.to_latest {
            hi
        } else if let Some(bt) = &by_time {
            bt.get(tp).copied().filter(|o| *o >= 0).unwrap_or(hi)
        } else if let Some(n) = a.shift_by {
            cur.unwrap_or(hi).saturating_add(n).clamp(lo, hi)
        } else if let Some(o) = a.to_offset {
            o.clamp(lo, hi)
        } else {
            hi
        };
        plan.insert(tp.clone(), (cur, target));
    }
    let mut t = Table::new([
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "NEW-OFFSET",
    ]);
    for (tp, (cur, new)) in &plan {
        t.row([
            a.group.clone(),
            tp.topic.clone(),
            tp.partition.to_string(),
            cur.map_or("-".into(), |c| c.to_string()),
            new.to_string(),
        ]);
    }
    t.print();
    if !a.execute {
        out("(dry run: nothing changed; add --execute to apply)\n");
        return Ok(());
    }
    let r = admin
        .alter_consumer_group_offsets(
            &a.group,
            plan.iter()
                .map(|(tp, (_, new))| (tp.clone(), OffsetAndMetadata::new(*new))),
            Options::default(),
        )
        .await
        .map_err(|e| failed("committing the new offsets", e))?;
    let bad: Vec<String> = r
        .iter()
        .filter_map(|(tp, r)| r.as_ref().err().map(|e| format!("{tp}: {e}")))
        .collect();
    if bad.is_empty() {
        out(&format!(
            "Reset {} partition(s) of group {}.\n",
            plan.len(),
            a.group
        ));
        Ok(())
    } else {
        Err(CliError::Failed(format!(
            "resetting offsets failed (a group with active members cannot be reset): {}",
            bad.join("; ")
        )))
    }
}
