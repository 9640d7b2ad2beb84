//! `kafka-admin` against a real cluster: every operation, with `require_api` skipping those
//! the cluster does not serve (the bundled broker has no groups, ACLs, quotas, SCRAM,
//! transactions, elections or reassignments yet). The `security::admin_*` cases need the
//! sasl-ssl Apache Kafka (ACL authorizer, SCRAM, delegation tokens).
//!
//! Not tested because Apache Kafka 4.x cannot do it on the suite's single-node, single-dir
//! broker: moving a replica to another log dir (needs several `log.dirs`; the case checks the
//! per-replica error instead), an actual reassignment to other brokers and unclean elections
//! (one broker), and aborting a real hanging transaction (needs a transactional producer; the
//! case checks the marker path on a partition without one).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use integration_tests::unique_topic;
use kafka_admin::*;
use kafka_client::{SendOptions, Target};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::records::RecordBatchBuilder;

use crate::Ctx;

pub(crate) const CASES: &[crate::Case] = &[
    ("admin::topics_lifecycle", topics_lifecycle),
    ("admin::configs_describe_alter_incremental", configs),
    ("admin::cluster_features_api_versions", cluster),
    (
        "admin::list_offsets_and_delete_records",
        offsets_and_records,
    ),
    ("admin::groups_offsets_lag_delete", groups),
    ("admin::kip848_and_share_groups_describe", new_groups),
    ("admin::partitions_elect_reassign_logdirs", partitions),
    ("admin::transactions_producers_fence", transactions),
    ("admin::every_call_honours_its_timeout", timeouts),
    ("security::admin_acls", acls),
    ("security::admin_client_quotas", quotas),
    ("security::admin_scram_credentials", scram),
    ("security::admin_delegation_tokens", tokens),
];

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn is_kafka() -> bool {
    std::env::var("KAFKA_SUITE_CLUSTER").is_ok_and(|v| v == "apache-kafka")
}

async fn admin(ctx: &Ctx) -> AdminClient {
    AdminClient::connect(
        AdminConfig::from_properties([
            ("bootstrap.servers", ctx.bootstrap.as_str()),
            ("default.api.timeout.ms", "30000"),
            ("client.id", "it-admin"),
        ])
        .unwrap(),
    )
    .await
    .unwrap()
}

async fn topic(a: &AdminClient, partitions: i32) -> String {
    let name = unique_topic("it-admin");
    let r = a
        .create_topics(
            [integration_tests::TEST_TOPIC_CONFIGS
                .iter()
                .fold(NewTopic::new(&name, partitions, 1), |t, (k, v)| {
                    t.config(*k, *v)
                })],
            Default::default(),
        )
        .await
        .unwrap();
    r.per_topic[&name].as_ref().unwrap();
    // wait until every partition has a leader
    for _ in 0..100 {
        let d = a
            .describe_topics([&name], Default::default())
            .await
            .unwrap();
        if let Ok(t) = &d.per_topic[&name]
            && t.partitions.len() == partitions as usize
            && t.partitions.iter().all(|p| p.leader.is_some())
        {
            return name;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} has no leaders");
}

async fn produce(a: &AdminClient, topic: &str, partition: i32, n: i64) {
    let mut b = RecordBatchBuilder::new(0);
    for i in 0..n {
        b.append(1_700_000_000_000 + i, Some(b"k"), Some(b"v"), &[])
            .unwrap();
    }
    let records: Bytes = b.build().unwrap();
    let c = a.client();
    let md = c.refresh_metadata([topic]).await.unwrap();
    let req =
        crate::common::produce_request(topic, md.topic(topic).unwrap().id, partition, records);
    let resp = c
        .send_checked(
            &Target::leader(topic, partition),
            &req,
            SendOptions::default(),
            |r| {
                r.responses
                    .first()
                    .and_then(|t| t.partition_responses.first())
                    .map(|p| ErrorCode::from_i16(p.error_code))
                    .unwrap_or(ErrorCode::UnknownServerError)
            },
        )
        .await
        .unwrap();
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
}

fn topics_lifecycle(ctx: &Ctx) {
    rt().block_on(async {
        let a = admin(ctx).await;
        let t1 = topic(&a, 2).await;
        // one topic fails (exists), the other is created
        let t2 = unique_topic("it-admin");
        let r = a
            .create_topics(
                [
                    NewTopic::new(&t1, 1, 1),
                    NewTopic::new(&t2, 3, 1).config("retention.ms", "600000"),
                ],
                Default::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            r.per_topic[&t1].as_ref().unwrap_err().error_code(),
            Some(ErrorCode::TopicAlreadyExists)
        );
        let created = r.per_topic[&t2].as_ref().unwrap();
        assert!(!r.is_ok());
        // validate only creates nothing
        let t3 = unique_topic("it-admin");
        let r = a
            .create_topics(
                [NewTopic::new(&t3, 1, 1)],
                CreateTopicsOptions::default().validate_only(true),
            )
            .await
            .unwrap();
        assert!(r.is_ok(), "{r:?}");
        // bad replication factor is a per-topic error
        let r = a
            .create_topics(
                [NewTopic::new(unique_topic("it-admin"), 1, 50)],
                Default::default(),
            )
            .await
            .unwrap();
        assert!(r.first_error().is_some());
        // list
        let list = a.list_topics(Default::default()).await.unwrap();
        assert!(list.contains_key(&t1) && list.contains_key(&t2));
        assert!(!list.contains_key(&t3));
        assert!(list.values().all(|t| !t.is_internal));
        // describe: one exists, one does not
        let d = a
            .describe_topics(
                [t1.clone(), "it-admin-missing-topic".to_string()],
                DescribeTopicsOptions::default().include_authorized_operations(true),
            )
            .await
            .unwrap();
        let desc = d.per_topic[&t1].as_ref().unwrap();
        assert_eq!(desc.partitions.len(), 2);
        assert!(
            desc.partitions
                .iter()
                .all(|p| p.replicas.len() == 1 && p.isr == p.replicas)
        );
        assert_eq!(
            d.per_topic["it-admin-missing-topic"]
                .as_ref()
                .unwrap_err()
                .error_code(),
            Some(ErrorCode::UnknownTopicOrPartition)
        );
        if is_kafka() {
            let ops = desc
                .authorized_operations
                .as_ref()
                .expect("authorized operations");
            assert!(ops.contains(&AclOperation::Read), "{ops:?}");
        }
        // create partitions
        if a.client()
            .negotiated_version(ApiKey::CreatePartitions)
            .is_some()
        {
            let r = a
                .create_partitions(
                    [(t1.clone(), NewPartitions::increase_to(4))],
                    Default::default(),
                )
                .await
                .unwrap();
            assert!(r.is_ok(), "{r:?}");
            let r = a
                .create_partitions(
                    [(t1.clone(), NewPartitions::increase_to(1))],
                    Default::default(),
                )
                .await
                .unwrap();
            assert_eq!(
                r.per_topic[&t1].as_ref().unwrap_err().error_code(),
                Some(ErrorCode::InvalidPartitions)
            );
        }
        // delete by name and by id
        let r = a
            .delete_topics([t1.clone()], Default::default())
            .await
            .unwrap();
        assert!(r.is_ok(), "{r:?}");
        if a.client().negotiated_version(ApiKey::DeleteTopics) >= Some(6)
            && created.topic_id != kafka_protocol::Uuid::ZERO
        {
            let r = a
                .delete_topics_by_id([created.topic_id], Default::default())
                .await
                .unwrap();
            assert!(r.is_ok(), "{r:?}");
        } else {
            a.delete_topics([t2.clone()], Default::default())
                .await
                .unwrap();
        }
        let r = a
            .delete_topics(["it-admin-missing-topic"], Default::default())
            .await
            .unwrap();
        assert_eq!(
            r.per_topic["it-admin-missing-topic"]
                .as_ref()
                .unwrap_err()
                .error_code(),
            Some(ErrorCode::UnknownTopicOrPartition)
        );
    });
}

/// Describes `res` until `done` holds for its entries (15 s at most) and returns the last
/// answer. Apache Kafka (KRaft) answers an alter once the controller has committed it; the broker
/// answering DescribeConfigs applies the change from the metadata log a moment later, so a
/// describe right after an alter may still see the old value (the Java admin client's callers
/// wait the same way).
async fn describe_until(
    a: &AdminClient,
    res: &ConfigResource,
    keys: Option<Vec<String>>,
    opts: DescribeConfigsOptions,
    done: impl Fn(&BTreeMap<String, ConfigEntry>) -> bool,
) -> BTreeMap<String, ConfigEntry> {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let d = a
            .describe_configs([(res.clone(), keys.clone())], opts.clone())
            .await
            .unwrap();
        let cfg = d.per_resource[res].as_ref().unwrap().clone();
        if done(&cfg) || std::time::Instant::now() >= deadline {
            return cfg;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn configs(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::DescribeConfigs);
    rt().block_on(async {
        let a = admin(ctx).await;
        let t = topic(&a, 1).await;
        let res = ConfigResource::topic(&t);
        let r = a
            .incremental_alter_configs(
                [(
                    res.clone(),
                    vec![
                        AlterConfigOp::set("retention.ms", "123456"),
                        AlterConfigOp::append("cleanup.policy", "compact"),
                    ],
                )],
                Default::default(),
            )
            .await
            .unwrap();
        assert!(r.is_ok(), "{r:?}");
        let cfg = describe_until(
            &a,
            &res,
            None,
            DescribeConfigsOptions::default()
                .include_synonyms(true)
                .include_documentation(true),
            |c| c["retention.ms"].value.as_deref() == Some("123456"),
        )
        .await;
        let e = &cfg["retention.ms"];
        assert_eq!(e.value.as_deref(), Some("123456"));
        assert_eq!(e.source, ConfigSource::DynamicTopicConfig);
        assert!(!e.synonyms.is_empty());
        assert!(
            cfg["cleanup.policy"]
                .value
                .as_deref()
                .unwrap_or("")
                .contains("compact"),
            "{:?}",
            cfg["cleanup.policy"]
        );
        if is_kafka() {
            assert!(e.documentation.as_deref().is_some_and(|d| !d.is_empty()));
            assert_eq!(e.config_type, ConfigType::Long);
        }
        // subtract and delete
        let r = a
            .incremental_alter_configs(
                [(
                    res.clone(),
                    vec![
                        AlterConfigOp::subtract("cleanup.policy", "compact"),
                        AlterConfigOp::delete("retention.ms"),
                    ],
                )],
                Default::default(),
            )
            .await
            .unwrap();
        assert!(r.is_ok(), "{r:?}");
        let cfg = describe_until(
            &a,
            &res,
            Some(vec!["retention.ms".into()]),
            Default::default(),
            |c| c["retention.ms"].source != ConfigSource::DynamicTopicConfig,
        )
        .await;
        assert_ne!(cfg["retention.ms"].source, ConfigSource::DynamicTopicConfig);
        // legacy alter (validate only) and a bad value failing only its resource
        if a.client()
            .negotiated_version(ApiKey::AlterConfigs)
            .is_some()
        {
            let r = a
                .alter_configs(
                    [(
                        res.clone(),
                        BTreeMap::from([("retention.ms".to_string(), "1000".to_string())]),
                    )],
                    AlterConfigsOptions::default().validate_only(true),
                )
                .await
                .unwrap();
            assert!(r.is_ok(), "{r:?}");
        }
        let bad = a
            .incremental_alter_configs(
                [
                    (
                        res.clone(),
                        vec![AlterConfigOp::set("retention.ms", "not-a-number")],
                    ),
                    (
                        ConfigResource::topic("it-admin-missing-topic"),
                        vec![AlterConfigOp::set("retention.ms", "1")],
                    ),
                ],
                Default::default(),
            )
            .await
            .unwrap();
        assert!(bad.per_resource.values().all(|r| r.is_err()), "{bad:?}");
        // brokers
        let cluster = a.describe_cluster(Default::default()).await.unwrap();
        let b = cluster.brokers[0].id;
        let d = a
            .describe_configs([(ConfigResource::broker(b), None)], Default::default())
            .await
            .unwrap();
        let cfg = d.per_resource[&ConfigResource::broker(b)].as_ref().unwrap();
        assert!(
            cfg.contains_key("log.retention.hours") || cfg.contains_key("num.partitions"),
            "{:?}",
            cfg.keys().take(5).collect::<Vec<_>>()
        );
        if is_kafka() {
            // broker logger level, and a client-metrics subscription
            let lr = ConfigResource::broker_logger(b);
            let r = a
                .incremental_alter_configs(
                    [(
                        lr.clone(),
                        vec![AlterConfigOp::set("kafka.server.ReplicaManager", "DEBUG")],
                    )],
                    Default::default(),
                )
                .await
                .unwrap();
            assert!(r.is_ok(), "{r:?}");
            let d = a
                .describe_configs([(lr.clone(), None)], Default::default())
                .await
                .unwrap();
            assert_eq!(
                d.per_resource[&lr].as_ref().unwrap()["kafka.server.ReplicaManager"]
                    .value
                    .as_deref(),
                Some("DEBUG")
            );
            a.incremental_alter_configs(
                [(
                    lr,
                    vec![AlterConfigOp::delete("kafka.server.ReplicaManager")],
                )],
                Default::default(),
            )
            .await
            .unwrap();
            let cm = ConfigResource::client_metrics(unique_topic("it-metrics"));
            let r = a
                .incremental_alter_configs(
                    [(
                        cm.clone(),
                        vec![
                            AlterConfigOp::set("interval.ms", "60000"),
                            AlterConfigOp::set("metrics", "org.apache.kafka.producer."),
                        ],
                    )],
                    Default::default(),
                )
                .await
                .unwrap();
            assert!(r.is_ok(), "{r:?}");
            let cfg = describe_until(&a, &cm, None, Default::default(), |c| {
                c.get("interval.ms").and_then(|e| e.value.as_deref()) == Some("60000")
            })
            .await;
            assert_eq!(
                cfg.get("interval.ms").and_then(|e| e.value.as_deref()),
                Some("60000")
            );
        }
        a.delete_topics([t], Default::default()).await.unwrap();
    });
}

fn cluster(ctx: &Ctx) {
    rt().block_on(async {
        let a = admin(ctx).await;
        let c = a.describe_cluster(Default::default()).await.unwrap();
        assert!(!c.cluster_id.is_empty());
        assert!(!c.brokers.is_empty());
        let f = a.describe_features(Default::default()).await.unwrap();
        if is_kafka() {
            assert!(f.finalized.contains_key("metadata.version"), "{f:?}");
            assert!(c.controller_id.is_some());
        }
        let v = a.api_versions(Default::default()).await.unwrap();
        assert_eq!(v.len(), c.brokers.len());
        for r in v.values() {
            assert!(r.as_ref().unwrap().contains_key(&ApiKey::Metadata.key()));
        }
    });
}

fn offsets_and_records(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::DeleteRecords);
    rt().block_on(async {
        let a = admin(ctx).await;
        let t = topic(&a, 2).await;
        produce(&a, &t, 0, 10).await;
        let p0 = TopicPartition::new(&t, 0);
        let p1 = TopicPartition::new(&t, 1);
        let missing = TopicPartition::new(&t, 9);
        let get = |specs: Vec<(TopicPartition, OffsetSpec)>| {
            let a = a.clone();
            async move {
                a.list_offsets(
                    specs,
                    ListOffsetsOptions::default().timeout(Duration::from_secs(5)),
                )
                .await
                .unwrap()
            }
        };
        let r = get(vec![
            (p0.clone(), OffsetSpec::Latest),
            (p1.clone(), OffsetSpec::Latest),
            (missing.clone(), OffsetSpec::Latest),
        ])
        .await;
        assert_eq!(r.per_partition[&p0].as_ref().unwrap().offset, 10);
        assert_eq!(r.per_partition[&p1].as_ref().unwrap().offset, 0);
        assert!(r.per_partition[&missing].is_err());
        let r = get(vec![(p0.clone(), OffsetSpec::Earliest)]).await;
        assert_eq!(r.per_partition[&p0].as_ref().unwrap().offset, 0);
        let r = get(vec![(p0.clone(), OffsetSpec::Timestamp(1_700_000_000_003))]).await;
        assert_eq!(r.per_partition[&p0].as_ref().unwrap().offset, 3);
        if a.client().negotiated_version(ApiKey::ListOffsets) >= Some(7) {
            let r = get(vec![(p0.clone(), OffsetSpec::MaxTimestamp)]).await;
            let o = r.per_partition[&p0].as_ref().unwrap();
            assert_eq!((o.offset, o.timestamp), (9, 1_700_000_000_009));
        }
        let r = a
            .delete_records([(p0.clone(), 4), (p1.clone(), 5)], Default::default())
            .await
            .unwrap();
        assert_eq!(*r.per_partition[&p0].as_ref().unwrap(), 4);
        assert_eq!(
            r.per_partition[&p1].as_ref().unwrap_err().error_code(),
            Some(ErrorCode::OffsetOutOfRange)
        );
        let r = get(vec![(p0.clone(), OffsetSpec::Earliest)]).await;
        assert_eq!(r.per_partition[&p0].as_ref().unwrap().offset, 4);
        a.delete_topics([t], Default::default()).await.unwrap();
    });
}

fn groups(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::OffsetCommit);
    crate::require_api(ctx, ApiKey::FindCoordinator);
    rt().block_on(async {
        let a = admin(ctx).await;
        let t = topic(&a, 3).await;
        produce(&a, &t, 0, 10).await;
        produce(&a, &t, 1, 4).await;
        let g = unique_topic("it-admin-group");
        let g2 = unique_topic("it-admin-group");
        let p = |i| TopicPartition::new(&t, i);
        let r = a
            .alter_consumer_group_offsets(
                &g,
                [
                    (p(0), OffsetAndMetadata::new(3)),
                    (
                        p(1),
                        OffsetAndMetadata {
                            offset: 4,
                            leader_epoch: None,
                            metadata: "m".into(),
                        },
                    ),
                ],
                Default::default(),
            )
            .await
            .unwrap();
        assert!(r.values().all(|r| r.is_ok()), "{r:?}");
        a.alter_consumer_group_offsets(
            &g2,
            [(p(2), OffsetAndMetadata::new(0))],
            Default::default(),
        )
        .await
        .unwrap();
        // several groups in one call
        let r = a
            .list_consumer_group_offsets(
                [(g.clone(), None), (g2.clone(), Some(vec![p(2)]))],
                Default::default(),
            )
            .await
            .unwrap();
        let o = r.per_group[&g].as_ref().unwrap();
        assert_eq!(o.len(), 2);
        assert_eq!(o[&p(1)].as_ref().unwrap().metadata, "m");
        assert_eq!(
            r.per_group[&g2].as_ref().unwrap()[&p(2)]
                .as_ref()
                .unwrap()
                .offset,
            0
        );
        // lag
        let lag = a.lag(&g, Default::default()).await.unwrap();
        assert_eq!(lag.per_partition[&p(0)].lag, Some(7));
        assert_eq!(lag.per_partition[&p(1)].lag, Some(0));
        assert_eq!(lag.total(), 7);
        // list (with filters) and describe
        if a.client().negotiated_version(ApiKey::ListGroups).is_some() {
            let l = a.list_groups(Default::default()).await.unwrap();
            assert!(l.is_ok());
            assert!(l.groups.contains_key(&g), "{:?}", l.groups.keys());
            let l = a
                .list_groups(ListGroupsOptions::default().states(vec!["Empty".into()]))
                .await
                .unwrap();
            assert!(l.groups.contains_key(&g));
            let l = a
                .list_groups(ListGroupsOptions::default().states(vec!["Stable".into()]))
                .await
                .unwrap();
            assert!(!l.groups.contains_key(&g));
            if is_kafka() {
                let l = a
                    .list_groups(ListGroupsOptions::default().types(vec!["classic".into()]))
                    .await
                    .unwrap();
                assert!(l.groups.contains_key(&g));
                let l = a
                    .list_groups(ListGroupsOptions::default().types(vec!["share".into()]))
                    .await
                    .unwrap();
                assert!(!l.groups.contains_key(&g));
            }
        }
        let d = a
            .describe_consumer_groups([g.clone()], Default::default())
            .await
            .unwrap();
        let desc = d.per_group[&g].as_ref().unwrap();
        assert_eq!(desc.state, "Empty");
        assert!(desc.members.is_empty());
        // remove members: nothing to remove, and an unknown static member fails alone
        assert!(
            a.remove_members_from_consumer_group(&g, MembersToRemove::All, Default::default())
                .await
                .unwrap()
                .is_empty()
        );
        let r = a
            .remove_members_from_consumer_group(
                &g,
                MembersToRemove::Instances(vec!["nobody".into()]),
                Default::default(),
            )
            .await;
        match r {
            Ok(m) => assert_eq!(
                m["nobody"].as_ref().unwrap_err().error_code(),
                Some(ErrorCode::UnknownMemberId)
            ),
            Err(e) => assert_eq!(e.error_code(), Some(ErrorCode::UnknownMemberId), "{e}"),
        }
        // delete offsets, then groups (one deleted, one unknown)
        let r = a
            .delete_consumer_group_offsets(&g, [p(1)], Default::default())
            .await
            .unwrap();
        assert!(r[&p(1)].is_ok(), "{r:?}");
        let o = a
            .list_consumer_group_offsets([(g.clone(), None)], Default::default())
            .await
            .unwrap();
        assert_eq!(o.per_group[&g].as_ref().unwrap().len(), 1);
        let missing = unique_topic("it-admin-nogroup");
        let r = a
            .delete_consumer_groups([g.clone(), g2.clone(), missing.clone()], Default::default())
            .await
            .unwrap();
        assert!(r.per_group[&g].is_ok() && r.per_group[&g2].is_ok(), "{r:?}");
        assert_eq!(
            r.per_group[&missing].as_ref().unwrap_err().error_code(),
            Some(ErrorCode::GroupIdNotFound)
        );
        a.delete_topics([t], Default::default()).await.unwrap();
    });
}

fn new_groups(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::ConsumerGroupDescribe);
    rt().block_on(async {
        let a = admin(ctx).await;
        let g = unique_topic("it-admin-848");
        let r = a
            .describe_kip848_groups([g.clone()], Default::default())
            .await
            .unwrap();
        assert_eq!(
            r.per_group[&g].as_ref().unwrap_err().error_code(),
            Some(ErrorCode::GroupIdNotFound)
        );
        if a.client()
            .negotiated_version(ApiKey::ShareGroupDescribe)
            .is_some()
        {
            let r = a
                .describe_share_groups([g.clone()], Default::default())
                .await
                .unwrap();
            assert!(r.per_group[&g].is_err());
        }
    });
}

fn partitions(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::DescribeLogDirs);
    rt().block_on(async {
        let a = admin(ctx).await;
        let t = topic(&a, 1).await;
        produce(&a, &t, 0, 3).await;
        let p0 = TopicPartition::new(&t, 0);
        let c = a.describe_cluster(Default::default()).await.unwrap();
        let b = c.brokers[0].id;
        let dirs = a
            .describe_log_dirs([b], Some(vec![p0.clone()]), Default::default())
            .await
            .unwrap();
        let dirs = dirs[&b].as_ref().unwrap();
        let (path, dir) = dirs
            .iter()
            .find(|(_, d)| d.replicas.contains_key(&p0))
            .expect("a dir holds the replica");
        assert!(dir.replicas[&p0].size > 0);
        if a.client()
            .negotiated_version(ApiKey::AlterReplicaLogDirs)
            .is_some()
        {
            // single-dir broker: moving to a dir it does not have fails for that replica only
            let r = a
                .alter_replica_log_dirs(
                    [(
                        ReplicaOnBroker {
                            partition: p0.clone(),
                            broker: b,
                        },
                        format!("{path}-nonexistent"),
                    )],
                    Default::default(),
                )
                .await
                .unwrap();
            assert!(r.values().all(|r| r.is_err()), "{r:?}");
        }
        if a.client()
            .negotiated_version(ApiKey::ElectLeaders)
            .is_some()
        {
            let r = a
                .elect_leaders(
                    ElectionType::Preferred,
                    Some(vec![p0.clone()]),
                    Default::default(),
                )
                .await
                .unwrap();
            assert_eq!(
                r.per_partition[&p0].as_ref().unwrap_err().error_code(),
                Some(ErrorCode::ElectionNotNeeded)
            );
        }
        if a.client()
            .negotiated_version(ApiKey::ListPartitionReassignments)
            .is_some()
        {
            let l = a
                .list_partition_reassignments(None, Default::default())
                .await
                .unwrap();
            assert!(!l.contains_key(&p0));
            let r = a
                .alter_partition_reassignments([(p0.clone(), Some(vec![b]))], Default::default())
                .await
                .unwrap();
            assert!(r.is_ok(), "{r:?}");
            let r = a
                .alter_partition_reassignments([(p0.clone(), None)], Default::default())
                .await
                .unwrap();
            assert_eq!(
                r.per_partition[&p0].as_ref().unwrap_err().error_code(),
                Some(ErrorCode::NoReassignmentInProgress)
            );
        }
        a.delete_topics([t], Default::default()).await.unwrap();
    });
}

fn transactions(ctx: &Ctx) {
    crate::require_api(ctx, ApiKey::DescribeTransactions);
    rt().block_on(async {
        let a = admin(ctx).await;
        let t = topic(&a, 1).await;
        let id = unique_topic("it-admin-txn");
        // fencing an unknown id creates it (InitProducerId) with epoch 0; again bumps it
        let f1 = a
            .fence_producers([id.clone()], Default::default())
            .await
            .unwrap();
        let e1 = f1.per_group[&id].as_ref().unwrap().producer_epoch;
        let f2 = a
            .fence_producers([id.clone()], Default::default())
            .await
            .unwrap();
        let f2 = f2.per_group[&id].as_ref().unwrap();
        assert!(f2.producer_epoch > e1);
        let l = a.list_transactions(Default::default()).await.unwrap();
        assert!(l.broker_errors.is_empty());
        assert_eq!(l.transactions[&id].producer_id, f2.producer_id);
        let d = a
            .describe_transactions(
                [id.clone(), "it-admin-no-such-txn".to_string()],
                Default::default(),
            )
            .await
            .unwrap();
        let desc = d.per_group[&id].as_ref().unwrap();
        assert_eq!(desc.state, "Empty");
        assert_eq!(desc.producer_id, f2.producer_id);
        assert_eq!(
            d.per_group["it-admin-no-such-txn"]
                .as_ref()
                .unwrap_err()
                .error_code(),
            Some(ErrorCode::TransactionalIdNotFound)
        );
        produce(&a, &t, 0, 2).await;
        let p0 = TopicPartition::new(&t, 0);
        let pr = a
            .describe_producers([p0.clone()], Default::default())
            .await
            .unwrap();
        assert!(
            pr.per_partition[&p0].as_ref().unwrap().is_empty(),
            "non-idempotent produce leaves no producer state"
        );
        // abort on a partition where the producer has no open transaction: the broker's answer
        // is reported (no panic, no hang)
        let r = a
            .abort_transaction(
                AbortTransactionSpec {
                    partition: p0.clone(),
                    producer_id: f2.producer_id,
                    producer_epoch: f2.producer_epoch,
                    coordinator_epoch: 0,
                },
                Options::default().timeout(Duration::from_secs(10)),
            )
            .await;
        println!("  abort without an open transaction: {r:?}");
        a.delete_topics([t], Default::default()).await.unwrap();
    });
}

fn timeouts(ctx: &Ctx) {
    rt().block_on(async {
        let a = admin(ctx).await;
        let t0 = std::time::Instant::now();
        let r = a
            .list_offsets(
                [(
                    TopicPartition::new("it-admin-never-created", 0),
                    OffsetSpec::Latest,
                )],
                ListOffsetsOptions::default().timeout(Duration::from_millis(700)),
            )
            .await;
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        match r {
            Ok(r) => assert!(r.per_partition.values().all(|r| r.is_err())),
            Err(e) => assert!(matches!(e, AdminError::Timeout { .. }), "{e}"),
        }
        let r = a
            .describe_cluster(Options::default().timeout(Duration::from_nanos(1)))
            .await;
        assert!(matches!(r, Err(AdminError::Timeout { .. }) | Ok(_)));
    });
}

// ----- security (sasl-ssl Apache Kafka) -----

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"))
}

fn sasl_props(user: &str, password: &str, mechanism: &str) -> Vec<(String, String)> {
    vec![
        ("bootstrap.servers".into(), env("KAFKA_SASL_SSL_BOOTSTRAP")),
        ("security.protocol".into(), "SASL_SSL".into()),
        ("sasl.mechanism".into(), mechanism.into()),
        (
            "sasl.jaas.config".into(),
            format!(
                r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="{user}" password="{password}";"#
            ),
        ),
        ("ssl.ca.location".into(), env("KAFKA_CA_FILE")),
        ("default.api.timeout.ms".into(), "20000".into()),
    ]
}

async fn sasl_admin() -> AdminClient {
    let p = sasl_props(
        &env("KAFKA_SASL_ADMIN_USER"),
        &env("KAFKA_SASL_ADMIN_PASSWORD"),
        "SCRAM-SHA-512",
    );
    AdminClient::connect(AdminConfig::from_properties(p).unwrap())
        .await
        .unwrap()
}

fn acls(_: &Ctx) {
    rt().block_on(async {
        let a = sasl_admin().await;
        let t = topic(&a, 1).await;
        let read = AclBinding::new(
            ResourceType::Topic,
            &t,
            PatternType::Literal,
            "User:alice",
            "*",
            AclOperation::Read,
            AclPermissionType::Allow,
        );
        let prefixed = AclBinding::new(
            ResourceType::Group,
            "it-admin-",
            PatternType::Prefixed,
            "User:alice",
            "*",
            AclOperation::Read,
            AclPermissionType::Allow,
        );
        let bad = AclBinding::new(
            ResourceType::Topic,
            &t,
            PatternType::Literal,
            "not-a-principal",
            "*",
            AclOperation::Read,
            AclPermissionType::Allow,
        );
        let r = a
            .create_acls(
                vec![read.clone(), prefixed.clone(), bad],
                Default::default(),
            )
            .await
            .unwrap();
        assert!(r[0].1.is_ok() && r[1].1.is_ok(), "{r:?}");
        assert!(r[2].1.is_err(), "{r:?}");
        // ACLs propagate through the metadata log: poll
        let mut found = Vec::new();
        for _ in 0..50 {
            found = a
                .describe_acls(
                    AclBindingFilter {
                        resource_name: Some(t.clone()),
                        ..AclBindingFilter::any()
                    },
                    Default::default(),
                )
                .await
                .unwrap();
            if !found.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(found, vec![read.clone()]);
        // alice can now describe the topic; other principals are denied (ACLs exist on it)
        let alice = AdminClient::connect(
            AdminConfig::from_properties(sasl_props(
                &env("KAFKA_SASL_USER"),
                &env("KAFKA_SASL_PASSWORD"),
                "SCRAM-SHA-512",
            ))
            .unwrap(),
        )
        .await
        .unwrap();
        let d = alice
            .describe_topics(
                [&t],
                DescribeTopicsOptions::default().include_authorized_operations(true),
            )
            .await
            .unwrap();
        let ops = d.per_topic[&t]
            .as_ref()
            .unwrap()
            .authorized_operations
            .clone()
            .unwrap_or_default();
        assert!(
            ops.contains(&AclOperation::Read) && !ops.contains(&AclOperation::Write),
            "{ops:?}"
        );
        let r = a
            .delete_acls(
                vec![read.to_filter(), prefixed.to_filter()],
                Default::default(),
            )
            .await
            .unwrap();
        assert_eq!(r[0].1.as_ref().unwrap().len(), 1, "{r:?}");
        assert_eq!(r[1].1.as_ref().unwrap()[0].0, prefixed);
        a.delete_topics([t], Default::default()).await.unwrap();
    });
}

fn quotas(_: &Ctx) {
    rt().block_on(async {
        let a = sasl_admin().await;
        let user = unique_topic("it-quota-user");
        let entity: ClientQuotaEntity = BTreeMap::from([("user".to_string(), Some(user.clone()))]);
        let r = a
            .alter_client_quotas(
                vec![ClientQuotaAlteration {
                    entity: entity.clone(),
                    ops: BTreeMap::from([
                        ("producer_byte_rate".to_string(), Some(1024.0)),
                        ("consumer_byte_rate".to_string(), Some(2048.0)),
                    ]),
                }],
                Default::default(),
            )
            .await
            .unwrap();
        assert!(r[&entity].is_ok(), "{r:?}");
        let mut got = BTreeMap::new();
        for _ in 0..50 {
            got = a
                .describe_client_quotas(
                    vec![("user".into(), QuotaMatch::Exact(user.clone()))],
                    false,
                    Default::default(),
                )
                .await
                .unwrap();
            if !got.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(got[&entity]["producer_byte_rate"], 1024.0);
        let r = a
            .alter_client_quotas(
                vec![ClientQuotaAlteration {
                    entity: entity.clone(),
                    ops: BTreeMap::from([
                        ("producer_byte_rate".to_string(), None),
                        ("consumer_byte_rate".to_string(), None),
                    ]),
                }],
                Default::default(),
            )
            .await
            .unwrap();
        assert!(r[&entity].is_ok());
        // an unknown quota key fails its entity (validate only)
        let r = a
            .alter_client_quotas(
                vec![ClientQuotaAlteration {
                    entity: entity.clone(),
                    ops: BTreeMap::from([("no_such_quota".to_string(), Some(1.0))]),
                }],
                AlterClientQuotasOptions::default().validate_only(true),
            )
            .await;
        match r {
            Ok(m) => assert!(m[&entity].is_err()),
            Err(e) => assert!(e.error_code().is_some(), "{e}"),
        }
    });
}

fn scram(_: &Ctx) {
    rt().block_on(async {
        let a = sasl_admin().await;
        let user = unique_topic("carol");
        // Kafka refuses two alterations of one user in one request (DUPLICATE_RESOURCE)
        let r = a
            .alter_user_scram_credentials(
                vec![
                    ScramAlteration::Upsert {
                        user: user.clone(),
                        mechanism: ScramMechanism::ScramSha256,
                        iterations: 8192,
                        password: "carol-secret".into(),
                        salt: None,
                    },
                    ScramAlteration::Upsert {
                        user: user.clone(),
                        mechanism: ScramMechanism::ScramSha512,
                        iterations: 4096,
                        password: "carol-secret".into(),
                        salt: None,
                    },
                ],
                Default::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            r[&user].as_ref().unwrap_err().error_code(),
            Some(ErrorCode::DuplicateResource)
        );
        for (mechanism, iterations) in [
            (ScramMechanism::ScramSha256, 8192),
            (ScramMechanism::ScramSha512, 4096),
        ] {
            let r = a
                .alter_user_scram_credentials(
                    vec![ScramAlteration::Upsert {
                        user: user.clone(),
                        mechanism,
                        iterations,
                        password: "carol-secret".into(),
                        salt: None,
                    }],
                    Default::default(),
                )
                .await
                .unwrap();
            assert!(r[&user].is_ok(), "{r:?}");
        }
        let d = a
            .describe_user_scram_credentials(
                Some(vec![user.clone(), "nobody-here".into()]),
                Default::default(),
            )
            .await
            .unwrap();
        let infos = d[&user].as_ref().unwrap();
        assert!(
            infos.contains(&ScramCredentialInfo {
                mechanism: ScramMechanism::ScramSha256,
                iterations: 8192
            }),
            "{infos:?}"
        );
        assert_eq!(
            d["nobody-here"].as_ref().unwrap_err().error_code(),
            Some(ErrorCode::ResourceNotFound)
        );
        // the new user can log in with the password (the salted password was right)
        let mut ok = false;
        for _ in 0..30 {
            if let Ok(cfg) =
                AdminConfig::from_properties(sasl_props(&user, "carol-secret", "SCRAM-SHA-256"))
                && AdminClient::connect(cfg).await.is_ok()
            {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(ok, "carol could not log in with SCRAM-SHA-256");
        let r = a
            .alter_user_scram_credentials(
                vec![ScramAlteration::Delete {
                    user: user.clone(),
                    mechanism: ScramMechanism::ScramSha256,
                }],
                Default::default(),
            )
            .await
            .unwrap();
        assert!(r[&user].is_ok(), "{r:?}");
        let r = a
            .alter_user_scram_credentials(
                vec![ScramAlteration::Delete {
                    user: user.clone(),
                    mechanism: ScramMechanism::ScramSha512,
                }],
                Default::default(),
            )
            .await
            .unwrap();
        assert!(r[&user].is_ok(), "{r:?}");
    });
}

fn tokens(_: &Ctx) {
    rt().block_on(async {
        let a = sasl_admin().await;
        let tok = a
            .create_delegation_token(
                CreateDelegationTokenOptions::default().renewers(vec!["User:admin".into()]),
            )
            .await
            .unwrap();
        assert!(!tok.token_id.is_empty() && !tok.hmac.is_empty());
        assert_eq!(tok.owner, "User:admin");
        // tokens propagate through the metadata log: poll
        let mut seen = false;
        for _ in 0..50 {
            let all = a
                .describe_delegation_tokens(None, Default::default())
                .await
                .unwrap();
            if all.iter().any(|t| t.token_id == tok.token_id) {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(seen, "token {} not described", tok.token_id);
        let exp = a
            .renew_delegation_token(tok.hmac.clone(), 60_000, Default::default())
            .await
            .unwrap();
        assert!(exp > 0);
        a.expire_delegation_token(tok.hmac.clone(), -1, Default::default())
            .await
            .unwrap();
        let mut gone = false;
        for _ in 0..50 {
            let all = a
                .describe_delegation_tokens(None, Default::default())
                .await
                .unwrap();
            if !all.iter().any(|t| t.token_id == tok.token_id) {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(gone, "expired token still described");
    });
}
