//! Provisions topics from a declarative list with `kafka-admin`, idempotently: topics that
//! are missing are created, partition counts are grown, configs that differ are set, and a
//! second run reports that nothing changed. Then prints consumer lag as a table.
//!
//! ```sh
//! KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 cargo run -p examples --example admin_automation
//! # without the variable the bundled broker is started in-process (temporary data dir)
//! cargo run -p examples --example admin_automation
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_admin::{
    AdminClient, AdminConfig, AdminError, AlterConfigOp, ConfigResource, DescribeConfigsOptions,
    NewPartitions, NewTopic, Options,
};

/// One declared topic: name, partitions, configs.
type Declared = (&'static str, i32, Vec<(&'static str, &'static str)>);

/// The desired state.
fn desired() -> Vec<Declared> {
    vec![
        (
            "orders",
            3,
            vec![("retention.ms", "604800000"), ("cleanup.policy", "delete")],
        ),
        ("payments", 2, vec![("retention.ms", "86400000")]),
        ("customers", 1, vec![("cleanup.policy", "compact")]),
    ]
}

/// Brings the cluster to the desired state; returns what was changed.
async fn provision(admin: &AdminClient) -> Result<Vec<String>, AdminError> {
    let mut changes = Vec::new();
    let existing = admin.list_topics(Default::default()).await?;
    let missing: Vec<NewTopic> = desired()
        .into_iter()
        .filter(|(name, _, _)| !existing.contains_key(*name))
        .map(|(name, partitions, configs)| {
            configs
                .into_iter()
                .fold(NewTopic::new(name, partitions, 1), |t, (k, v)| {
                    t.config(k, v)
                })
        })
        .collect();
    if !missing.is_empty() {
        let r = admin.create_topics(missing, Default::default()).await?;
        for (topic, res) in r.per_topic {
            match res {
                Ok(_) => changes.push(format!("created topic {topic}")),
                Err(e) => return Err(e),
            }
        }
    }
    // Partition counts only grow.
    let names: Vec<&str> = desired().iter().map(|d| d.0).collect();
    let described = admin.describe_topics(names, Default::default()).await?;
    let mut grow = Vec::new();
    for (name, partitions, _) in desired() {
        let have = described.per_topic[name]
            .as_ref()
            .map_err(Clone::clone)?
            .partitions
            .len();
        if (have as i32) < partitions {
            grow.push((name.to_string(), NewPartitions::increase_to(partitions)));
            changes.push(format!("{name}: {have} -> {partitions} partitions"));
        }
    }
    if !grow.is_empty() {
        let r = admin.create_partitions(grow, Default::default()).await?;
        if let Some(e) = r.first_error() {
            return Err(e.clone());
        }
    }
    // Configs: set only what differs.
    let resources = desired()
        .into_iter()
        .map(|(n, _, _)| (ConfigResource::topic(n), None));
    let current = admin
        .describe_configs(resources, DescribeConfigsOptions::default())
        .await?;
    let mut alter = Vec::new();
    for (name, _, configs) in desired() {
        let res = ConfigResource::topic(name);
        let have = current.per_resource[&res].as_ref().map_err(Clone::clone)?;
        let ops: Vec<AlterConfigOp> = configs
            .into_iter()
            .filter(|(k, v)| have.get(*k).and_then(|e| e.value.as_deref()) != Some(*v))
            .map(|(k, v)| {
                changes.push(format!("{name}: {k}={v}"));
                AlterConfigOp::set(k, v)
            })
            .collect();
        if !ops.is_empty() {
            alter.push((res, ops));
        }
    }
    if !alter.is_empty() {
        let r = admin
            .incremental_alter_configs(alter, Default::default())
            .await?;
        if let Some(e) = r.first_error() {
            return Err(e.clone());
        }
    }
    Ok(changes)
}

async fn print_lag(admin: &AdminClient) -> Result<(), AdminError> {
    let groups = match admin.list_groups(Default::default()).await {
        Ok(g) => {
            for (broker, e) in &g.broker_errors {
                println!("consumer lag: broker {broker} cannot list groups ({e})");
            }
            g.groups.into_keys().collect::<Vec<_>>()
        }
        Err(e) => {
            println!("consumer lag: cannot list groups ({e})");
            return Ok(());
        }
    };
    println!(
        "{:<24} {:<20} {:>9} {:>12} {:>12} {:>8}",
        "GROUP", "TOPIC", "PARTITION", "COMMITTED", "END", "LAG"
    );
    if groups.is_empty() {
        println!("(no consumer groups)");
    }
    for g in groups {
        match admin.lag(&g, Options::default()).await {
            Ok(lag) => {
                for (tp, l) in &lag.per_partition {
                    let end = l
                        .end_offset
                        .as_ref()
                        .map(|e| e.to_string())
                        .unwrap_or_else(|e| format!("? ({e})"));
                    let lag_s = l.lag.map(|x| x.to_string()).unwrap_or_else(|| "?".into());
                    println!(
                        "{:<24} {:<20} {:>9} {:>12} {:>12} {:>8}",
                        g, tp.topic, tp.partition, l.committed, end, lag_s
                    );
                }
            }
            Err(e) => println!("{g:<24} error: {e}"),
        }
    }
    Ok(())
}

async fn run(bootstrap: String) -> Result<(), AdminError> {
    let admin = AdminClient::connect(AdminConfig::from_properties([
        ("bootstrap.servers", bootstrap.as_str()),
        ("default.api.timeout.ms", "30000"),
        ("client.id", "admin-automation"),
    ])?)
    .await?;
    for run in 1..=2 {
        let changes = provision(&admin).await?;
        if changes.is_empty() {
            println!("run {run}: nothing to change, cluster already matches the declared topics");
        } else {
            println!("run {run}: {} change(s)", changes.len());
            for c in changes {
                println!("  {c}");
            }
        }
    }
    let configs = admin
        .describe_configs(
            [(
                ConfigResource::topic("orders"),
                Some(vec!["retention.ms".into(), "cleanup.policy".into()]),
            )],
            Default::default(),
        )
        .await?;
    if let Ok(cfg) = &configs.per_resource[&ConfigResource::topic("orders")] {
        let kv: BTreeMap<_, _> = cfg
            .iter()
            .map(|(k, e)| (k.clone(), e.value.clone().unwrap_or_default()))
            .collect();
        println!("orders configs: {kv:?}");
    }
    print_lag(&admin).await?;
    admin.close();
    Ok(())
}

fn main() {
    examples::main_with_cluster(
        "admin-automation",
        Duration::from_secs(120),
        |bootstrap| async move { run(bootstrap).await.map_err(Into::into) },
    );
}
