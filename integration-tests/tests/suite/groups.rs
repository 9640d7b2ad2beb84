//! Consumer groups over raw protocol requests (the classic protocol): joins of two and three
//! members, rebalances on leave and on session timeout, static-member restarts, committed
//! offsets across a broker restart, ListGroups/DescribeGroups/DeleteGroups and OffsetDelete.
//! Every case checks outcomes both Apache Kafka and the bundled broker must produce.

use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use integration_tests::wire::Connection;
use integration_tests::{EmbeddedBroker, TestCluster, unique_topic};
use kafka_protocol::ErrorCode;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ApiKey, DeleteGroupsRequest, DescribeGroupsRequest, DescribeGroupsResponse,
    FindCoordinatorRequest, HeartbeatRequest, JoinGroupRequest, JoinGroupResponse,
    LeaveGroupRequest, ListGroupsRequest, MetadataRequest, OffsetCommitRequest,
    OffsetDeleteRequest, OffsetFetchRequest, SyncGroupRequest,
};

use crate::{Ctx, require_api};

pub(crate) const CASES: &[crate::Case] = &[
    (
        "groups::two_then_three_members_join",
        two_then_three_members_join,
    ),
    ("groups::rebalance_on_leave", rebalance_on_leave),
    (
        "groups::rebalance_on_session_timeout",
        rebalance_on_session_timeout,
    ),
    (
        "groups::static_member_restart_without_rebalance",
        static_member_restart_without_rebalance,
    ),
    (
        "groups::committed_offsets_survive_restart",
        committed_offsets_survive_restart,
    ),
    (
        "groups::list_describe_delete_groups",
        list_describe_delete_groups,
    ),
    ("groups::offset_delete", offset_delete),
    (
        "groups::consumer_offsets_is_internal",
        consumer_offsets_is_internal,
    ),
    (
        "groups::kip848_incremental_revocation",
        kip848_incremental_revocation,
    ),
];

const SESSION_MS: i32 = 6_000;
const REBALANCE_MS: i32 = 20_000;

fn subscription(topic: &str) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(1);
    b.put_i16(topic.len() as i16);
    b.put_slice(topic.as_bytes());
    b.put_i32(-1);
    b.freeze()
}

fn retriable_coordinator(e: ErrorCode) -> bool {
    matches!(
        e,
        ErrorCode::CoordinatorLoadInProgress
            | ErrorCode::CoordinatorNotAvailable
            | ErrorCode::NotCoordinator
    )
}

/// FindCoordinator until the group's coordinator is ready (Apache Kafka loads it lazily).
fn find_coordinator(c: &mut Connection, group: &str) {
    let v4 = c
        .negotiated(ApiKey::FindCoordinator)
        .is_some_and(|v| v >= 4);
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let r = c
            .send(FindCoordinatorRequest {
                key: if v4 { String::new() } else { group.into() },
                key_type: 0,
                coordinator_keys: if v4 { vec![group.into()] } else { Vec::new() },
                ..Default::default()
            })
            .unwrap();
        let (e, port) = if v4 {
            let k = &r.coordinators[0];
            (ErrorCode::from(k.error_code), k.port)
        } else {
            (ErrorCode::from(r.error_code), r.port)
        };
        if e == ErrorCode::None {
            assert!(port > 0);
            return;
        }
        assert!(retriable_coordinator(e), "FindCoordinator: {e}");
        assert!(Instant::now() < end, "no coordinator for {group}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One group member on its own connection.
struct Member {
    conn: Connection,
    group: String,
    topic: String,
    id: String,
    instance: Option<String>,
    generation: i32,
}

impl Member {
    fn new(ctx: &Ctx, group: &str, topic: &str, instance: Option<&str>) -> Member {
        let mut conn = Connection::connect(&ctx.bootstrap).unwrap();
        find_coordinator(&mut conn, group);
        Member {
            conn,
            group: group.into(),
            topic: topic.into(),
            id: String::new(),
            instance: instance.map(str::to_string),
            generation: -1,
        }
    }

    fn join_once(&mut self) -> JoinGroupResponse {
        self.conn
            .send(JoinGroupRequest {
                group_id: self.group.clone(),
                session_timeout_ms: SESSION_MS,
                rebalance_timeout_ms: REBALANCE_MS,
                member_id: self.id.clone(),
                group_instance_id: self.instance.clone(),
                protocol_type: "consumer".into(),
                protocols: vec![JoinGroupRequestProtocol {
                    name: "range".into(),
                    metadata: subscription(&self.topic),
                    ..Default::default()
                }],
                ..Default::default()
            })
            .unwrap()
    }

    /// JoinGroup, following MEMBER_ID_REQUIRED and coordinator-loading retries.
    fn join(&mut self) -> JoinGroupResponse {
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.join_once();
            let e = ErrorCode::from(r.error_code);
            match e {
                ErrorCode::MemberIdRequired => self.id = r.member_id,
                e if retriable_coordinator(e) => std::thread::sleep(Duration::from_millis(200)),
                _ => {
                    assert_eq!(e, ErrorCode::None, "JoinGroup: {r:?}");
                    self.id = r.member_id.clone();
                    self.generation = r.generation_id;
                    return r;
                }
            }
            assert!(Instant::now() < end, "JoinGroup did not complete");
        }
    }

    fn sync(&mut self, assignments: Vec<(String, Bytes)>) -> (ErrorCode, Bytes) {
        let r = self
            .conn
            .send(SyncGroupRequest {
                group_id: self.group.clone(),
                generation_id: self.generation,
                member_id: self.id.clone(),
                group_instance_id: self.instance.clone(),
                protocol_type: Some("consumer".into()),
                protocol_name: Some("range".into()),
                assignments: assignments
                    .into_iter()
                    .map(|(member_id, assignment)| SyncGroupRequestAssignment {
                        member_id,
                        assignment,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .unwrap();
        (ErrorCode::from(r.error_code), r.assignment)
    }

    fn heartbeat(&mut self) -> ErrorCode {
        let r = self
            .conn
            .send(HeartbeatRequest {
                group_id: self.group.clone(),
                generation_id: self.generation,
                member_id: self.id.clone(),
                group_instance_id: self.instance.clone(),
                ..Default::default()
            })
            .unwrap();
        ErrorCode::from(r.error_code)
    }

    fn leave(&mut self) -> ErrorCode {
        let batched = self
            .conn
            .negotiated(ApiKey::LeaveGroup)
            .is_some_and(|v| v >= 3);
        let r = self
            .conn
            .send(LeaveGroupRequest {
                group_id: self.group.clone(),
                member_id: if batched {
                    String::new()
                } else {
                    self.id.clone()
                },
                members: if !batched {
                    Vec::new()
                } else {
                    vec![MemberIdentity {
                        member_id: self.id.clone(),
                        group_instance_id: self.instance.clone(),
                        ..Default::default()
                    }]
                },
                ..Default::default()
            })
            .unwrap();
        let top = ErrorCode::from(r.error_code);
        if top != ErrorCode::None {
            return top;
        }
        r.members
            .first()
            .map_or(ErrorCode::None, |m| ErrorCode::from(m.error_code))
    }

    /// Heartbeats until the group asks for a rejoin (REBALANCE_IN_PROGRESS).
    fn await_rebalance(&mut self, within: Duration) {
        let end = Instant::now() + within;
        loop {
            match self.heartbeat() {
                ErrorCode::RebalanceInProgress => return,
                ErrorCode::None => {}
                e => panic!("heartbeat: {e}"),
            }
            assert!(Instant::now() < end, "no rebalance within {within:?}");
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// Rejoins every member concurrently (each JoinGroup waits for the others).
fn join_all(members: &mut [Member]) -> Vec<JoinGroupResponse> {
    std::thread::scope(|s| {
        let hs: Vec<_> = members
            .iter_mut()
            .map(|m| s.spawn(move || m.join()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Syncs every member concurrently; the leader assigns `assignment-<index>`.
fn sync_all(members: &mut [Member], joins: &[JoinGroupResponse]) -> Vec<Bytes> {
    let leader = joins[0].leader.clone();
    let assignments: Vec<(String, Bytes)> = members
        .iter()
        .map(|m| (m.id.clone(), Bytes::from(format!("assignment-{}", m.id))))
        .collect();
    std::thread::scope(|s| {
        let hs: Vec<_> = members
            .iter_mut()
            .map(|m| {
                let a = if m.id == leader {
                    assignments.clone()
                } else {
                    Vec::new()
                };
                s.spawn(move || {
                    let (e, got) = m.sync(a);
                    assert_eq!(e, ErrorCode::None);
                    got
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn check_joins(joins: &[JoinGroupResponse], n: usize) -> i32 {
    let generation = joins[0].generation_id;
    let leader = &joins[0].leader;
    for j in joins {
        assert_eq!(j.generation_id, generation);
        assert_eq!(&j.leader, leader);
        assert_eq!(j.protocol_name.as_deref(), Some("range"));
        let expect = if &j.member_id == leader { n } else { 0 };
        assert_eq!(j.members.len(), expect, "members seen by {}", j.member_id);
    }
    assert_eq!(joins.iter().filter(|j| &j.member_id == leader).count(), 1);
    generation
}

fn setup(ctx: &Ctx, prefix: &str, partitions: i32) -> (String, String) {
    require_api(ctx, ApiKey::JoinGroup);
    let mut c = Connection::connect(&ctx.bootstrap).unwrap();
    let topic = unique_topic(prefix);
    integration_tests::admin::create_topic(&mut c, &topic, partitions).unwrap();
    (unique_topic(&format!("{prefix}-group")), topic)
}

/// Runs one member like a consumer until the group is stable with `n` members: join (unless
/// `joined`), sync (the leader assigns `assignment-<member id>`), heartbeat, and rejoin
/// whenever the group rebalances. Returns the last JoinGroup answer and the assignment.
fn converge(
    m: &mut Member,
    n: usize,
    joined: Option<JoinGroupResponse>,
) -> (JoinGroupResponse, Bytes) {
    let end = Instant::now() + Duration::from_secs(90);
    let mut last = joined;
    let mut assignment = Bytes::new();
    let mut synced = last.is_some();
    loop {
        assert!(
            Instant::now() < end,
            "group did not settle with {n} members"
        );
        if !synced {
            let j = m.join();
            let assign: Vec<(String, Bytes)> = if j.leader == m.id {
                j.members
                    .iter()
                    .map(|x| {
                        (
                            x.member_id.clone(),
                            Bytes::from(format!("assignment-{}", x.member_id)),
                        )
                    })
                    .collect()
            } else {
                Vec::new()
            };
            last = Some(j);
            let (e, a) = m.sync(assign);
            match e {
                ErrorCode::None => {
                    assignment = a;
                    synced = true;
                }
                ErrorCode::RebalanceInProgress => continue,
                e => panic!("SyncGroup: {e}"),
            }
        }
        match m.heartbeat() {
            ErrorCode::None => {}
            ErrorCode::RebalanceInProgress => {
                synced = false;
                continue;
            }
            e => panic!("heartbeat: {e}"),
        }
        let group = m.group.clone();
        let d = describe(&mut m.conn, &group);
        let g = &d.groups[0];
        if g.group_state == "Stable"
            && g.members.len() == n
            && let Some(j) = last.clone().filter(|j| j.generation_id == m.generation)
        {
            if assignment.is_empty() {
                assignment = g
                    .members
                    .iter()
                    .find(|x| x.member_id == m.id)
                    .map(|x| x.member_assignment.clone())
                    .unwrap_or_default();
            }
            return (j, assignment);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Converges every member concurrently (`joined`: members already in the group).
fn converge_all(
    members: &mut [Member],
    joined: &[Option<JoinGroupResponse>],
) -> Vec<(JoinGroupResponse, Bytes)> {
    let n = members.len();
    std::thread::scope(|s| {
        let hs: Vec<_> = members
            .iter_mut()
            .zip(joined.iter().cloned())
            .map(|(m, j)| s.spawn(move || converge(m, n, j)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Forms a group of `instances.len()` members and completes the rebalance.
fn form(ctx: &Ctx, group: &str, topic: &str, instances: &[Option<&str>]) -> (Vec<Member>, i32) {
    let mut members: Vec<Member> = instances
        .iter()
        .map(|i| Member::new(ctx, group, topic, *i))
        .collect();
    let none = vec![None; members.len()];
    let out = converge_all(&mut members, &none);
    let joins: Vec<JoinGroupResponse> = out.iter().map(|(j, _)| j.clone()).collect();
    let generation = check_joins(&joins, members.len());
    for (m, (_, a)) in members.iter().zip(&out) {
        assert_eq!(a, &Bytes::from(format!("assignment-{}", m.id)));
    }
    (members, generation)
}

fn describe(c: &mut Connection, group: &str) -> DescribeGroupsResponse {
    c.send(DescribeGroupsRequest {
        groups: vec![group.into()],
        ..Default::default()
    })
    .unwrap()
}

fn two_then_three_members_join(ctx: &Ctx) {
    let (group, topic) = setup(ctx, "it-groups-join", 3);
    let (mut members, g1) = form(ctx, &group, &topic, &[None, None]);
    // A third member: the other two see the rebalance through their heartbeats and rejoin.
    let stale: Vec<Option<JoinGroupResponse>> = members
        .iter()
        .map(|m| {
            Some(JoinGroupResponse {
                generation_id: m.generation,
                ..Default::default()
            })
        })
        .collect();
    members.push(Member::new(ctx, &group, &topic, None));
    let mut joined = stale;
    joined.push(None);
    let out = converge_all(&mut members, &joined);
    let joins: Vec<JoinGroupResponse> = out.iter().map(|(j, _)| j.clone()).collect();
    let g2 = check_joins(&joins, 3);
    assert!(g2 > g1);
    for (m, (_, a)) in members.iter().zip(&out) {
        assert_eq!(a, &Bytes::from(format!("assignment-{}", m.id)));
    }
    for m in &mut members {
        assert_eq!(m.heartbeat(), ErrorCode::None);
    }
    for m in &mut members {
        assert_eq!(m.leave(), ErrorCode::None);
    }
}

fn rebalance_on_leave(ctx: &Ctx) {
    let (group, topic) = setup(ctx, "it-groups-leave", 2);
    let (mut members, g1) = form(ctx, &group, &topic, &[None, None]);
    let mut gone = members.pop().unwrap();
    assert_eq!(gone.leave(), ErrorCode::None);
    members[0].await_rebalance(Duration::from_secs(10));
    let joins = join_all(&mut members);
    let g2 = check_joins(&joins, 1);
    assert_eq!(g2, g1 + 1);
    assert_eq!(joins[0].leader, members[0].id);
    sync_all(&mut members, &joins);
    assert_eq!(gone.heartbeat(), ErrorCode::UnknownMemberId);
    assert_eq!(members[0].leave(), ErrorCode::None);
}

fn rebalance_on_session_timeout(ctx: &Ctx) {
    let (group, topic) = setup(ctx, "it-groups-session", 2);
    let (mut members, g1) = form(ctx, &group, &topic, &[None, None]);
    let mut silent = members.pop().unwrap();
    // Only the first member heartbeats; the silent one expires after SESSION_MS.
    members[0].await_rebalance(Duration::from_secs(30));
    let joins = join_all(&mut members);
    assert_eq!(check_joins(&joins, 1), g1 + 1);
    sync_all(&mut members, &joins);
    assert_eq!(silent.heartbeat(), ErrorCode::UnknownMemberId);
    assert_eq!(members[0].leave(), ErrorCode::None);
}

fn static_member_restart_without_rebalance(ctx: &Ctx) {
    let (group, topic) = setup(ctx, "it-groups-static", 2);
    let (mut members, generation) = form(ctx, &group, &topic, &[Some("inst-a"), Some("inst-b")]);
    let old_b = members[1].id.clone();
    let old_assignment = Bytes::from(format!("assignment-{old_b}"));
    // "b" restarts: a new connection and no member id, the same instance id.
    let mut b = Member::new(ctx, &group, &topic, Some("inst-b"));
    let r = b.join_once();
    assert_eq!(ErrorCode::from(r.error_code), ErrorCode::None, "{r:?}");
    assert_eq!(r.generation_id, generation);
    assert_ne!(r.member_id, old_b);
    b.id = r.member_id;
    b.generation = r.generation_id;
    let (e, got) = b.sync(Vec::new());
    assert_eq!(e, ErrorCode::None);
    assert_eq!(got, old_assignment);
    // No rebalance for the other member; the old incarnation is fenced.
    assert_eq!(members[0].heartbeat(), ErrorCode::None);
    assert_eq!(members[1].heartbeat(), ErrorCode::FencedInstanceId);
    let d = describe(&mut b.conn, &group);
    assert_eq!(d.groups[0].group_state, "Stable");
    assert_eq!(d.groups[0].members.len(), 2);
    assert_eq!(b.leave(), ErrorCode::None);
    assert_eq!(members[0].leave(), ErrorCode::None);
}

fn commit(
    c: &mut Connection,
    group: &str,
    topic: &str,
    generation: i32,
    member: &str,
    offsets: &[(i32, i64)],
) -> Vec<ErrorCode> {
    // v10 names topics by id; these cases use names.
    let v = c.negotiated(ApiKey::OffsetCommit).unwrap().min(9);
    let r = c
        .send_typed(
            OffsetCommitRequest {
                group_id: group.into(),
                generation_id_or_member_epoch: generation,
                member_id: member.into(),
                topics: vec![OffsetCommitRequestTopic {
                    name: topic.into(),
                    partitions: offsets
                        .iter()
                        .map(|(p, o)| OffsetCommitRequestPartition {
                            partition_index: *p,
                            committed_offset: *o,
                            committed_metadata: Some(format!("meta-{p}")),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            },
            v,
        )
        .unwrap();
    r.topics[0]
        .partitions
        .iter()
        .map(|p| ErrorCode::from(p.error_code))
        .collect()
}

/// (partition, offset, metadata) committed for `group`, by the newest OffsetFetch version
/// (multi-group form from v8).
fn fetch(
    c: &mut Connection,
    group: &str,
    topic: &str,
    partitions: &[i32],
) -> Vec<(i32, i64, String)> {
    let v = c.negotiated(ApiKey::OffsetFetch).unwrap();
    if v >= 8 {
        let r = c
            .send_typed(
                OffsetFetchRequest {
                    groups: vec![OffsetFetchRequestGroup {
                        group_id: group.into(),
                        topics: Some(vec![OffsetFetchRequestTopics {
                            name: topic.into(),
                            partition_indexes: partitions.to_vec(),
                            ..Default::default()
                        }]),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
                v.min(9),
            )
            .unwrap();
        let g = &r.groups[0];
        assert_eq!(g.error_code, 0);
        g.topics[0]
            .partitions
            .iter()
            .map(|p| {
                assert_eq!(p.error_code, 0);
                (
                    p.partition_index,
                    p.committed_offset,
                    p.metadata.clone().unwrap_or_default(),
                )
            })
            .collect()
    } else {
        let r = c
            .send(OffsetFetchRequest {
                group_id: group.into(),
                topics: Some(vec![OffsetFetchRequestTopic {
                    name: topic.into(),
                    partition_indexes: partitions.to_vec(),
                    ..Default::default()
                }]),
                ..Default::default()
            })
            .unwrap();
        r.topics[0]
            .partitions
            .iter()
            .map(|p| {
                (
                    p.partition_index,
                    p.committed_offset,
                    p.metadata.clone().unwrap_or_default(),
                )
            })
            .collect()
    }
}

fn committed_offsets_survive_restart(ctx: &Ctx) {
    require_api(ctx, ApiKey::OffsetCommit);
    let embedded = TestCluster::from_env() == TestCluster::Embedded;
    // The embedded case runs its own broker on a data dir it can restart.
    let dir = std::env::temp_dir().join(unique_topic("it-groups-restart-dir"));
    let mut own = if embedded {
        Some(EmbeddedBroker::start_in(&dir).unwrap())
    } else {
        None
    };
    let bootstrap = own
        .as_ref()
        .map_or_else(|| ctx.bootstrap.clone(), EmbeddedBroker::bootstrap);
    let own_ctx = Ctx { bootstrap };
    let (group, topic) = setup(&own_ctx, "it-groups-restart", 2);
    let (mut members, generation) = form(&own_ctx, &group, &topic, &[None]);
    let m = &mut members[0];
    let id = m.id.clone();
    assert_eq!(
        commit(
            &mut m.conn,
            &group,
            &topic,
            generation,
            &id,
            &[(0, 42), (1, 7)]
        ),
        vec![ErrorCode::None, ErrorCode::None]
    );
    // A stale generation is refused.
    assert_eq!(
        commit(&mut m.conn, &group, &topic, generation + 1, &id, &[(0, 1)]),
        vec![ErrorCode::IllegalGeneration]
    );
    assert_eq!(m.leave(), ErrorCode::None);
    drop(members);
    let expected = vec![(0, 42, "meta-0".to_string()), (1, 7, "meta-1".to_string())];
    let mut c = Connection::connect(&own_ctx.bootstrap).unwrap();
    assert_eq!(fetch(&mut c, &group, &topic, &[0, 1]), expected);
    drop(c);
    let after_ctx = if let Some(b) = own.take() {
        b.shutdown().unwrap();
        let b = EmbeddedBroker::start_in(&dir).unwrap();
        let ctx = Ctx {
            bootstrap: b.bootstrap(),
        };
        own = Some(b);
        ctx
    } else {
        own_ctx
    };
    let mut c = Connection::connect(&after_ctx.bootstrap).unwrap();
    find_coordinator(&mut c, &group);
    assert_eq!(fetch(&mut c, &group, &topic, &[0, 1, 5]), {
        let mut e = expected;
        e.push((5, -1, String::new()));
        e
    });
    let d = describe(&mut c, &group);
    assert_eq!(d.groups[0].group_state, "Empty");
    drop(c);
    if let Some(b) = own {
        b.shutdown().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn list_describe_delete_groups(ctx: &Ctx) {
    let (group, topic) = setup(ctx, "it-groups-admin", 1);
    let (mut members, _) = form(ctx, &group, &topic, &[None]);
    let mut c = Connection::connect(&ctx.bootstrap).unwrap();
    let listed = c.send(ListGroupsRequest::default()).unwrap();
    let g = listed
        .groups
        .iter()
        .find(|g| g.group_id == group)
        .expect("group listed");
    assert_eq!(g.protocol_type, "consumer");
    if c.negotiated(ApiKey::ListGroups).is_some_and(|v| v >= 4) {
        assert_eq!(g.group_state, "Stable");
        let empty_only = c
            .send(ListGroupsRequest {
                states_filter: vec!["Empty".into()],
                ..Default::default()
            })
            .unwrap();
        assert!(!empty_only.groups.iter().any(|g| g.group_id == group));
    }
    let d = describe(&mut c, &group);
    let dg = &d.groups[0];
    assert_eq!(dg.error_code, 0);
    assert_eq!(dg.group_state, "Stable");
    assert_eq!(dg.protocol_type, "consumer");
    assert_eq!(dg.protocol_data, "range");
    assert_eq!(dg.members.len(), 1);
    assert_eq!(dg.members[0].member_id, members[0].id);
    assert_eq!(dg.members[0].client_id, "kafka-suite-tests");
    assert_eq!(
        dg.members[0].member_assignment,
        Bytes::from(format!("assignment-{}", members[0].id))
    );
    let del = |c: &mut Connection| {
        let r = c
            .send(DeleteGroupsRequest {
                groups_names: vec![group.clone()],
                ..Default::default()
            })
            .unwrap();
        ErrorCode::from(r.results[0].error_code)
    };
    assert_eq!(del(&mut c), ErrorCode::NonEmptyGroup);
    assert_eq!(members[0].leave(), ErrorCode::None);
    assert_eq!(describe(&mut c, &group).groups[0].group_state, "Empty");
    assert_eq!(del(&mut c), ErrorCode::None);
    assert_eq!(del(&mut c), ErrorCode::GroupIdNotFound);
    let d = describe(&mut c, &group);
    if c.negotiated(ApiKey::DescribeGroups).is_some_and(|v| v >= 6) {
        assert_eq!(
            ErrorCode::from(d.groups[0].error_code),
            ErrorCode::GroupIdNotFound
        );
    } else {
        assert_eq!(d.groups[0].group_state, "Dead");
    }
    let listed = c.send(ListGroupsRequest::default()).unwrap();
    assert!(!listed.groups.iter().any(|g| g.group_id == group));
}

fn offset_delete(ctx: &Ctx) {
    let (group, topic) = setup(ctx, "it-groups-offdel", 2);
    require_api(ctx, ApiKey::OffsetDelete);
    let mut c = Connection::connect(&ctx.bootstrap).unwrap();
    find_coordinator(&mut c, &group);
    // A simple group: generation -1, no member id.
    assert_eq!(
        commit(&mut c, &group, &topic, -1, "", &[(0, 10), (1, 20)]),
        vec![ErrorCode::None, ErrorCode::None]
    );
    let del = |c: &mut Connection, group: &str| {
        c.send(OffsetDeleteRequest {
            group_id: group.into(),
            topics: vec![OffsetDeleteRequestTopic {
                name: topic.clone(),
                partitions: vec![OffsetDeleteRequestPartition { partition_index: 0 }],
            }],
        })
        .unwrap()
    };
    let r = del(&mut c, &group);
    assert_eq!(r.error_code, 0);
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    assert_eq!(
        fetch(&mut c, &group, &topic, &[0, 1]),
        vec![(0, -1, String::new()), (1, 20, "meta-1".into())]
    );
    let r = del(&mut c, &unique_topic("it-groups-nogroup"));
    assert_eq!(ErrorCode::from(r.error_code), ErrorCode::GroupIdNotFound);
    // A live consumer group subscribed to the topic keeps its offsets.
    let live = unique_topic("it-groups-offdel-live");
    let (mut members, generation) = form(ctx, &live, &topic, &[None]);
    let id = members[0].id.clone();
    assert_eq!(
        commit(
            &mut members[0].conn,
            &live,
            &topic,
            generation,
            &id,
            &[(0, 5)]
        ),
        vec![ErrorCode::None]
    );
    let r = del(&mut c, &live);
    assert_eq!(r.error_code, 0);
    assert_eq!(
        ErrorCode::from(r.topics[0].partitions[0].error_code),
        ErrorCode::GroupSubscribedToTopic
    );
    assert_eq!(members[0].leave(), ErrorCode::None);
}

fn consumer_offsets_is_internal(ctx: &Ctx) {
    require_api(ctx, ApiKey::FindCoordinator);
    let mut c = Connection::connect(&ctx.bootstrap).unwrap();
    find_coordinator(&mut c, &unique_topic("it-groups-internal"));
    let md = c
        .send(MetadataRequest {
            topics: Some(vec![
                kafka_protocol::messages::metadata_request::MetadataRequestTopic {
                    name: Some("__consumer_offsets".into()),
                    ..Default::default()
                },
            ]),
            allow_auto_topic_creation: false,
            ..Default::default()
        })
        .unwrap();
    let t = &md.topics[0];
    assert_eq!(t.error_code, 0);
    assert!(t.is_internal);
    assert!(!t.partitions.is_empty());
}

type Owned = std::collections::BTreeMap<kafka_protocol::Uuid, std::collections::BTreeSet<i32>>;

/// One KIP-848 member driven by raw ConsumerGroupHeartbeat requests.
struct NewMember {
    conn: Connection,
    group: String,
    topic: String,
    id: String,
    epoch: i32,
    owned: Owned,
}

impl NewMember {
    fn heartbeat(&mut self) -> kafka_protocol::messages::ConsumerGroupHeartbeatResponse {
        use kafka_protocol::messages::ConsumerGroupHeartbeatRequest;
        use kafka_protocol::messages::consumer_group_heartbeat_request::TopicPartitions;
        let joining = self.epoch == 0;
        let r = self
            .conn
            .send(ConsumerGroupHeartbeatRequest {
                group_id: self.group.clone(),
                member_id: self.id.clone(),
                member_epoch: self.epoch,
                rebalance_timeout_ms: if joining { 30_000 } else { -1 },
                subscribed_topic_names: joining.then(|| vec![self.topic.clone()]),
                topic_partitions: Some(
                    self.owned
                        .iter()
                        .map(|(t, ps)| TopicPartitions {
                            topic_id: *t,
                            partitions: ps.iter().copied().collect(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            })
            .unwrap();
        if r.error_code == 0 {
            self.epoch = r.member_epoch;
            if let Some(id) = &r.member_id {
                self.id = id.clone();
            }
            if let Some(a) = &r.assignment {
                // The member revokes/takes at once what the assignment says.
                self.owned = a
                    .topic_partitions
                    .iter()
                    .map(|tp| (tp.topic_id, tp.partitions.iter().copied().collect()))
                    .filter(|(_, ps): &(_, std::collections::BTreeSet<i32>)| !ps.is_empty())
                    .collect();
            }
        }
        r
    }

    fn count(&self) -> usize {
        self.owned.values().map(|p| p.len()).sum()
    }
}

fn kip848_incremental_revocation(ctx: &Ctx) {
    require_api(ctx, ApiKey::ConsumerGroupHeartbeat);
    let mut c = Connection::connect(&ctx.bootstrap).unwrap();
    let topic = unique_topic("it-groups-848");
    let topic_id = integration_tests::admin::create_topic(&mut c, &topic, 4).unwrap();
    let group = unique_topic("it-groups-848-group");
    find_coordinator(&mut c, &group);
    let member = |id: &str| NewMember {
        conn: Connection::connect(&ctx.bootstrap).unwrap(),
        group: group.clone(),
        topic: topic.clone(),
        id: id.to_string(),
        epoch: 0,
        owned: Owned::new(),
    };
    let mut a = member("member-a-00000000000000");
    let mut b = member("member-b-00000000000000");
    // A alone gets all four partitions.
    let end = Instant::now() + Duration::from_secs(30);
    while a.count() < 4 {
        let r = a.heartbeat();
        assert!(
            r.error_code == 0 || retriable_coordinator(ErrorCode::from(r.error_code)),
            "{r:?}"
        );
        assert!(Instant::now() < end, "A never got its partitions");
        std::thread::sleep(Duration::from_millis(100));
    }
    let a_epoch = a.epoch;
    // B joins: partitions move from A to B only after A gave them up; never owned twice.
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        for m in [&mut b, &mut a] {
            let r = m.heartbeat();
            assert_eq!(r.error_code, 0, "{r:?}");
        }
        let a_ps = a.owned.get(&topic_id).cloned().unwrap_or_default();
        let b_ps = b.owned.get(&topic_id).cloned().unwrap_or_default();
        assert!(a_ps.is_disjoint(&b_ps), "owned twice: {a_ps:?} {b_ps:?}");
        if a.count() == 2 && b.count() == 2 && a.epoch == b.epoch {
            break;
        }
        assert!(Instant::now() < end, "no convergence: {a_ps:?} {b_ps:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(a.epoch > a_epoch);
    // Offset commits carry the member epoch (v9+).
    let v = c.negotiated(ApiKey::OffsetCommit).unwrap().min(9);
    if v >= 9 {
        let first = a.owned[&topic_id].iter().copied().next().unwrap();
        let commit = |c: &mut Connection, epoch: i32| {
            let r = c
                .send_typed(
                    OffsetCommitRequest {
                        group_id: group.clone(),
                        generation_id_or_member_epoch: epoch,
                        member_id: a.id.clone(),
                        topics: vec![OffsetCommitRequestTopic {
                            name: topic.clone(),
                            partitions: vec![OffsetCommitRequestPartition {
                                partition_index: first,
                                committed_offset: 3,
                                ..Default::default()
                            }],
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                    v,
                )
                .unwrap();
            ErrorCode::from(r.topics[0].partitions[0].error_code)
        };
        assert_eq!(commit(&mut c, a.epoch), ErrorCode::None);
        assert_eq!(commit(&mut c, a.epoch + 1), ErrorCode::StaleMemberEpoch);
        assert_eq!(commit(&mut c, 0), ErrorCode::StaleMemberEpoch);
        // An older epoch is accepted for a partition held since then (Kafka 4.2+).
        assert_eq!(commit(&mut c, a.epoch - 1), ErrorCode::None);
    }
    // The group is a consumer group: classic APIs do not see it as theirs.
    let d = describe(&mut c, &group);
    if c.negotiated(ApiKey::DescribeGroups).is_some_and(|v| v >= 6) {
        assert_eq!(
            ErrorCode::from(d.groups[0].error_code),
            ErrorCode::GroupIdNotFound
        );
    }
    let r = c
        .send(JoinGroupRequest {
            group_id: group.clone(),
            session_timeout_ms: SESSION_MS,
            rebalance_timeout_ms: REBALANCE_MS,
            member_id: String::new(),
            protocol_type: "connect".into(),
            protocols: vec![JoinGroupRequestProtocol {
                name: "default".into(),
                metadata: Bytes::new(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        ErrorCode::from(r.error_code),
        ErrorCode::InconsistentGroupProtocol
    );
    let cd = c
        .send(kafka_protocol::messages::ConsumerGroupDescribeRequest {
            group_ids: vec![group.clone()],
            ..Default::default()
        })
        .unwrap();
    let g = &cd.groups[0];
    assert_eq!(g.error_code, 0);
    assert_eq!(g.group_state, "Stable");
    assert_eq!(g.members.len(), 2);
    let listed = c
        .send(ListGroupsRequest::default())
        .unwrap()
        .groups
        .into_iter()
        .find(|x| x.group_id == group)
        .expect("listed");
    assert_eq!(listed.protocol_type, "consumer");
    // Both leave (epoch -1).
    for m in [&mut a, &mut b] {
        m.epoch = -1;
        let r = m.heartbeat();
        assert_eq!(r.error_code, 0, "{r:?}");
        assert_eq!(r.member_epoch, -1);
    }
}
