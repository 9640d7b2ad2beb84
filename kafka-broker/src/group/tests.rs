//! State-machine tests with Tokio's paused clock (timers fire as time is advanced).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::ErrorCode;

use super::classic::{ClassicState, JoinOutcome, JoinParams, Reply, SyncOutcome};
use super::consumer::HeartbeatParams;
use super::{CommitPartition, Kind};
use crate::config::BrokerConfig;
use crate::handlers::testutil::{TestState, shared_in, state_with};
use crate::state::Shared;

const G: &str = "g1";

fn config() -> BrokerConfig {
    let mut c = BrokerConfig::default();
    c.groups.initial_rebalance_delay_ms = 100;
    c.groups.offsets_partitions = 3;
    c
}

fn setup() -> TestState {
    let st = state_with(config());
    tokio::spawn(super::run_timers(st.shared.clone()));
    st
}

/// A `ConsumerProtocolSubscription` v0 for `topics`.
fn subscription(topics: &[&str]) -> Bytes {
    let mut b = BytesMut::new();
    b.put_i16(0);
    b.put_i32(topics.len() as i32);
    for t in topics {
        b.put_i16(t.len() as i16);
        b.put_slice(t.as_bytes());
    }
    b.put_i32(-1);
    b.freeze()
}

fn params(member: &str, instance: Option<&str>) -> JoinParams {
    JoinParams {
        member_id: member.to_string(),
        instance_id: instance.map(str::to_string),
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), subscription(&["t"]))],
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        require_known_member_id: true,
    }
}

fn now<T: std::fmt::Debug>(r: Reply<T>) -> T {
    match r {
        Reply::Now(v) => v,
        Reply::Later(_) => panic!("expected an immediate answer"),
    }
}

async fn done<T>(r: Reply<T>) -> T {
    match r {
        Reply::Now(v) => v,
        Reply::Later(rx) => tokio::time::timeout(Duration::from_secs(600), rx)
            .await
            .expect("answer in time")
            .expect("answered"),
    }
}

/// KIP-394 two-step join: MEMBER_ID_REQUIRED, then the pending join.
fn join_new(s: &Shared, instance: Option<&str>) -> (String, Reply<JoinOutcome>) {
    let first = s.groups.join(&s.metadata, G, params("", instance));
    let id = match first {
        Reply::Now(o) if o.error == ErrorCode::MemberIdRequired => o.member_id,
        Reply::Now(o) => panic!("unexpected {o:?}"),
        Reply::Later(_) => panic!("static members join at once; use join_static"),
    };
    let r = s.groups.join(&s.metadata, G, params(&id, instance));
    (id, r)
}

fn sync(
    s: &Shared,
    member: &str,
    generation: i32,
    assign: Vec<(String, Bytes)>,
) -> Reply<SyncOutcome> {
    s.groups
        .sync(&s.metadata, G, member, None, generation, None, None, assign)
}

fn state(s: &Shared) -> ClassicState {
    let inner = s.groups.lock();
    match &inner.groups.get(G).expect("group").kind {
        Kind::Classic(c) => c.state,
        Kind::Consumer(_) => panic!("consumer group"),
    }
}

/// Joins `n` new members into a fresh group and completes the rebalance; returns
/// (member ids, generation).
async fn form_group(s: &Shared, n: usize) -> (Vec<String>, i32) {
    let mut ids = Vec::new();
    let mut pending = Vec::new();
    for _ in 0..n {
        let (id, r) = join_new(s, None);
        ids.push(id);
        pending.push(r);
    }
    let mut outcomes = Vec::new();
    for r in pending {
        outcomes.push(done(r).await);
    }
    let generation = outcomes[0].generation_id;
    let leader = outcomes[0].leader.clone();
    for o in &outcomes {
        assert_eq!(o.error, ErrorCode::None);
        assert_eq!(o.generation_id, generation);
        assert_eq!(o.leader, leader);
        assert_eq!(o.protocol_name.as_deref(), Some("range"));
        assert_eq!(o.members.len(), if o.member_id == leader { n } else { 0 });
    }
    let assign: Vec<(String, Bytes)> = ids
        .iter()
        .map(|id| (id.clone(), Bytes::from(format!("assignment-{id}"))))
        .collect();
    let mut syncs = Vec::new();
    for id in ids.iter().filter(|i| **i != leader) {
        syncs.push((id.clone(), sync(s, id, generation, Vec::new())));
    }
    syncs.push((leader.clone(), sync(s, &leader, generation, assign)));
    for (id, r) in syncs {
        let o = done(r).await;
        assert_eq!(o.error, ErrorCode::None);
        assert_eq!(o.assignment, Bytes::from(format!("assignment-{id}")));
    }
    assert_eq!(state(s), ClassicState::Stable);
    (ids, generation)
}

#[tokio::test(start_paused = true)]
async fn one_two_three_members_join_and_sync() {
    let st = setup();
    let s = &st.shared;
    let (ids, g1) = form_group(s, 1).await;
    assert_eq!(g1, 1);
    // A second member triggers a rebalance; the first learns it from its heartbeat.
    let (id2, r2) = join_new(s, None);
    assert_eq!(state(s), ClassicState::PreparingRebalance);
    assert_eq!(
        s.groups.heartbeat(G, &ids[0], None, g1),
        ErrorCode::RebalanceInProgress
    );
    let r1 = s.groups.join(&s.metadata, G, params(&ids[0], None));
    let (o1, o2) = (done(r1).await, done(r2).await);
    assert_eq!(o1.generation_id, 2);
    assert_eq!(o1.leader, ids[0]);
    assert_eq!(o1.members.len(), 2);
    assert!(o2.members.is_empty());
    let f = sync(s, &id2, 2, Vec::new());
    let l = sync(
        s,
        &ids[0],
        2,
        vec![
            (id2.clone(), Bytes::from_static(b"b")),
            (ids[0].clone(), Bytes::from_static(b"a")),
        ],
    );
    assert_eq!(done(f).await.assignment, Bytes::from_static(b"b"));
    assert_eq!(done(l).await.assignment, Bytes::from_static(b"a"));
    assert_eq!(s.groups.heartbeat(G, &id2, None, 2), ErrorCode::None);
    // A third member.
    let (id3, r3) = join_new(s, None);
    let r1 = s.groups.join(&s.metadata, G, params(&ids[0], None));
    let r2 = s.groups.join(&s.metadata, G, params(&id2, None));
    let outs = [done(r1).await, done(r2).await, done(r3).await];
    assert!(outs.iter().all(|o| o.generation_id == 3));
    assert_eq!(outs.iter().map(|o| o.members.len()).sum::<usize>(), 3);
    assert_eq!(outs[2].member_id, id3);
}

#[tokio::test(start_paused = true)]
async fn initial_delay_collects_members() {
    let st = setup();
    let s = &st.shared;
    // Both join within the initial delay: one generation with both.
    let (ids, generation) = form_group(s, 2).await;
    assert_eq!(generation, 1);
    assert_eq!(ids.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn member_id_required_only_from_v4() {
    let st = setup();
    let s = &st.shared;
    let mut p = params("", None);
    p.require_known_member_id = false;
    let o = done(s.groups.join(&s.metadata, G, p)).await;
    assert_eq!(o.error, ErrorCode::None);
    assert!(o.member_id.starts_with("c-"));
    let o = now(s.groups.join(&s.metadata, G, params("", None)));
    assert_eq!(o.error, ErrorCode::MemberIdRequired);
    assert!(o.member_id.starts_with("c-"));
    // Unknown member ids are refused.
    let o = now(s.groups.join(&s.metadata, "other", params("nope", None)));
    assert_eq!(o.error, ErrorCode::UnknownMemberId);
}

#[tokio::test(start_paused = true)]
async fn session_timeout_expires_member_and_rebalances() {
    let st = setup();
    let s = &st.shared;
    let (ids, generation) = form_group(s, 2).await;
    // ids[0] keeps heartbeating, ids[1] goes silent.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let e = s.groups.heartbeat(G, &ids[0], None, generation);
        if e == ErrorCode::RebalanceInProgress {
            break;
        }
        assert_eq!(e, ErrorCode::None);
    }
    assert_eq!(state(s), ClassicState::PreparingRebalance);
    let o = done(s.groups.join(&s.metadata, G, params(&ids[0], None))).await;
    assert_eq!(o.generation_id, generation + 1);
    assert_eq!(o.members.len(), 1);
    assert_eq!(
        s.groups.heartbeat(G, &ids[1], None, generation),
        ErrorCode::UnknownMemberId
    );
}

#[tokio::test(start_paused = true)]
async fn leave_triggers_rebalance_and_last_leave_empties() {
    let st = setup();
    let s = &st.shared;
    let (ids, generation) = form_group(s, 2).await;
    let r = s
        .groups
        .leave(
            &s.metadata,
            G,
            &[(ids[1].clone(), None), ("ghost".into(), None)],
        )
        .unwrap();
    assert_eq!(r, vec![ErrorCode::None, ErrorCode::UnknownMemberId]);
    assert_eq!(
        s.groups.heartbeat(G, &ids[0], None, generation),
        ErrorCode::RebalanceInProgress
    );
    let o = done(s.groups.join(&s.metadata, G, params(&ids[0], None))).await;
    assert_eq!((o.generation_id, o.members.len()), (generation + 1, 1));
    s.groups
        .leave(&s.metadata, G, &[(ids[0].clone(), None)])
        .unwrap();
    assert_eq!(state(s), ClassicState::Empty);
    assert!(s.groups.leave(&s.metadata, "nope", &[]).is_err());
}

#[tokio::test(start_paused = true)]
async fn illegal_generation_and_fencing() {
    let st = setup();
    let s = &st.shared;
    let (ids, generation) = form_group(s, 1).await;
    assert_eq!(
        s.groups.heartbeat(G, &ids[0], None, generation + 5),
        ErrorCode::IllegalGeneration
    );
    assert_eq!(
        now(sync(s, &ids[0], generation - 1, Vec::new())).error,
        ErrorCode::IllegalGeneration
    );
    let commit = |generation: i32, member: &str| {
        s.groups.commit(
            &s.metadata,
            8,
            G,
            generation,
            member,
            None,
            -1,
            vec![CommitPartition {
                topic: "t".into(),
                partition: 0,
                offset: 5,
                leader_epoch: -1,
                metadata: String::new(),
            }],
        )
    };
    assert_eq!(
        commit(generation + 1, &ids[0]),
        Err(ErrorCode::IllegalGeneration)
    );
    assert_eq!(commit(generation, "ghost"), Err(ErrorCode::UnknownMemberId));
    assert_eq!(commit(-1, ""), Err(ErrorCode::UnknownMemberId));
    assert_eq!(commit(generation, &ids[0]), Ok(()));
}

#[tokio::test(start_paused = true)]
async fn group_max_size() {
    let mut c = config();
    c.groups.max_size = 1;
    let st = state_with(c);
    tokio::spawn(super::run_timers(st.shared.clone()));
    let s = &st.shared;
    let _ = form_group(s, 1).await;
    let o = now(s.groups.join(&s.metadata, G, params("", None)));
    assert_eq!(o.error, ErrorCode::GroupMaxSizeReached);
}

#[tokio::test(start_paused = true)]
async fn static_member_restart_keeps_assignment_without_rebalance() {
    let st = setup();
    let s = &st.shared;
    let a = s.groups.join(&s.metadata, G, params("", Some("i-a")));
    let b = s.groups.join(&s.metadata, G, params("", Some("i-b")));
    let (oa, ob) = (done(a).await, done(b).await);
    let generation = oa.generation_id;
    let leader = oa.leader.clone();
    let (lead, follow) = if oa.member_id == leader {
        (&oa, &ob)
    } else {
        (&ob, &oa)
    };
    let f = sync(s, &follow.member_id, generation, Vec::new());
    let l = sync(
        s,
        &lead.member_id,
        generation,
        vec![
            (oa.member_id.clone(), Bytes::from_static(b"A")),
            (ob.member_id.clone(), Bytes::from_static(b"B")),
        ],
    );
    done(f).await;
    done(l).await;
    // "b" restarts: a new member id, same instance id, same subscription.
    let rejoin = now(s.groups.join(&s.metadata, G, params("", Some("i-b"))));
    assert_eq!(rejoin.error, ErrorCode::None);
    assert_eq!(rejoin.generation_id, generation);
    assert_ne!(rejoin.member_id, ob.member_id);
    assert_eq!(state(s), ClassicState::Stable);
    let o = now(s.groups.sync(
        &s.metadata,
        G,
        &rejoin.member_id,
        Some("i-b"),
        generation,
        None,
        None,
        Vec::new(),
    ));
    assert_eq!(o.assignment, Bytes::from_static(b"B"));
    // The other member saw no rebalance; the old incarnation is fenced.
    assert_eq!(
        s.groups
            .heartbeat(G, &oa.member_id, Some("i-a"), generation),
        ErrorCode::None
    );
    assert_eq!(
        s.groups
            .heartbeat(G, &ob.member_id, Some("i-b"), generation),
        ErrorCode::FencedInstanceId
    );
}

#[tokio::test(start_paused = true)]
async fn offsets_commit_fetch_delete_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let generation;
    let ids;
    {
        let (s, _tx) = shared_in(dir.path(), config());
        tokio::spawn(super::run_timers(s.clone()));
        s.metadata
            .create_topic("t", 2, Default::default(), false)
            .unwrap();
        (ids, generation) = form_group(&s, 2).await;
        let parts = |o: i64| {
            (0..2)
                .map(|p| CommitPartition {
                    topic: "t".into(),
                    partition: p,
                    offset: o + i64::from(p),
                    leader_epoch: 0,
                    metadata: "m".into(),
                })
                .collect::<Vec<_>>()
        };
        s.groups
            .commit(&s.metadata, 8, G, generation, &ids[0], None, -1, parts(10))
            .unwrap();
        // A simple group (no membership).
        s.groups
            .commit(&s.metadata, 8, "simple", -1, "", None, -1, parts(100))
            .unwrap();
        s.groups
            .commit(&s.metadata, 8, "gone", -1, "", None, -1, parts(7))
            .unwrap();
        assert_eq!(
            s.groups.delete_groups(&s.metadata, &["gone".into()]),
            vec![ErrorCode::None]
        );
        let f = s
            .groups
            .fetch(G, None, Some(vec![("t".into(), vec![0, 1, 9])]))
            .unwrap();
        let offs: Vec<i64> = f[0]
            .1
            .iter()
            .map(|(_, e)| e.as_ref().map_or(-1, |e| e.offset))
            .collect();
        assert_eq!(offs, vec![10, 11, -1]);
        // OffsetDelete on a subscribed topic of a live group is refused; on the simple group not.
        let r = s
            .groups
            .delete_offsets(&s.metadata, G, vec![("t".into(), vec![0])])
            .unwrap();
        assert_eq!(r[0].1[0].1, ErrorCode::GroupSubscribedToTopic);
        let r = s
            .groups
            .delete_offsets(&s.metadata, "simple", vec![("t".into(), vec![1])])
            .unwrap();
        assert_eq!(r[0].1[0].1, ErrorCode::None);
        s.metadata.close_all();
    }
    // Restart on the same directory: everything is rebuilt from __consumer_offsets.
    let (s, _tx) = shared_in(dir.path(), config());
    let f = s.groups.fetch(G, None, None).unwrap();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].1.len(), 2);
    assert_eq!(f[0].1[0].1.as_ref().map(|e| e.offset), Some(10));
    assert_eq!(f[0].1[0].1.as_ref().map(|e| e.metadata.as_str()), Some("m"));
    let simple = s.groups.fetch("simple", None, None).unwrap();
    assert_eq!(simple[0].1.len(), 1);
    assert!(s.groups.fetch("gone", None, None).unwrap().is_empty());
    let d = s.groups.describe(G).unwrap();
    assert_eq!(d.state, "Stable");
    assert_eq!(d.members.len(), 2);
    let listed: Vec<String> = s
        .groups
        .list(&[], &[])
        .into_iter()
        .map(|g| g.group_id)
        .collect();
    assert_eq!(listed, vec![G.to_string(), "simple".to_string()]);
    // The members can carry on in the same generation.
    assert_eq!(
        s.groups.heartbeat(G, &ids[0], None, generation),
        ErrorCode::None
    );
    assert_eq!(
        s.groups.delete_groups(&s.metadata, &[G.into()]),
        vec![ErrorCode::NonEmptyGroup]
    );
}

#[tokio::test(start_paused = true)]
async fn offsets_of_empty_groups_expire() {
    let st = setup();
    let s = &st.shared;
    s.groups
        .commit(
            &s.metadata,
            8,
            "simple",
            -1,
            "",
            None,
            -1,
            vec![CommitPartition {
                topic: "t".into(),
                partition: 0,
                offset: 1,
                leader_epoch: -1,
                metadata: String::new(),
            }],
        )
        .unwrap();
    let later = crate::util::now_ms() + s.groups.cfg.offsets_retention_ms + 1;
    s.groups.expire_offsets_at(&s.metadata, later - 60_000);
    assert_eq!(s.groups.list(&[], &[]).len(), 1);
    s.groups.expire_offsets_at(&s.metadata, later + 1000);
    assert!(s.groups.list(&[], &[]).is_empty());
}

fn hb(
    s: &Shared,
    member: &str,
    epoch: i32,
    owned: Option<super::consumer::Assignment>,
) -> super::consumer::HeartbeatOutcome {
    hb_static(s, member, None, epoch, owned)
}

fn hb_static(
    s: &Shared,
    member: &str,
    instance: Option<&str>,
    epoch: i32,
    owned: Option<super::consumer::Assignment>,
) -> super::consumer::HeartbeatOutcome {
    s.groups.consumer_heartbeat(
        &s.metadata,
        HeartbeatParams {
            version: 1,
            group_id: "cg".into(),
            member_id: member.into(),
            member_epoch: epoch,
            instance_id: instance.map(str::to_string),
            rack_id: None,
            rebalance_timeout_ms: if epoch == 0 { 30_000 } else { -1 },
            topics: (epoch == 0).then(|| vec!["t".to_string()]),
            regex: None,
            assignor: None,
            owned,
            client_id: "c".into(),
            client_host: "/127.0.0.1".into(),
        },
    )
}

#[tokio::test(start_paused = true)]
async fn kip848_incremental_revocation() {
    let st = setup();
    let s = &st.shared;
    let topic = s
        .metadata
        .create_topic("t", 4, Default::default(), false)
        .unwrap();
    let a = hb(s, "A", 0, Some(Default::default()));
    assert_eq!(a.error, ErrorCode::None);
    let a_assigned = a.assignment.clone().unwrap();
    assert_eq!(a_assigned[&topic.id].len(), 4);
    assert_eq!(a.member_epoch, 1);
    // B joins: it gets nothing until A revoked half.
    let b = hb(s, "B", 0, Some(Default::default()));
    assert_eq!(b.member_epoch, 2);
    assert!(
        b.assignment
            .as_ref()
            .is_some_and(|x| x.values().all(|p| p.is_empty()))
    );
    let a2 = hb(s, "A", 1, Some(a_assigned.clone()));
    assert_eq!(
        a2.member_epoch, 1,
        "epoch stays until revocation is acknowledged"
    );
    let kept = a2.assignment.clone().unwrap();
    assert_eq!(kept[&topic.id].len(), 2);
    let b2 = hb(s, "B", 2, Some(Default::default()));
    assert!(b2.assignment.is_none() || b2.assignment.as_ref().is_some_and(|x| x.is_empty()));
    // A acknowledges: it moves to epoch 2 and B then receives the released partitions.
    let a3 = hb(s, "A", 1, Some(kept.clone()));
    assert_eq!(a3.member_epoch, 2);
    let b3 = hb(s, "B", 2, Some(Default::default()));
    let got = b3.assignment.unwrap();
    assert_eq!(got[&topic.id].len(), 2);
    assert!(got[&topic.id].is_disjoint(&kept[&topic.id]));
    // Fencing and type exclusivity.
    assert_eq!(hb(s, "A", 7, None).error, ErrorCode::FencedMemberEpoch);
    assert_eq!(hb(s, "Z", 3, None).error, ErrorCode::UnknownMemberId);
    let o = now(s.groups.join(&s.metadata, "cg", params("", None)));
    assert_eq!(o.error, ErrorCode::InconsistentGroupProtocol);
    assert_eq!(
        s.groups.describe("cg").err(),
        Some(ErrorCode::GroupIdNotFound)
    );
    let d = s.groups.describe_consumer(&s.metadata, "cg").unwrap();
    assert_eq!(d.members.len(), 2);
    // A leaves: B gets everything.
    assert_eq!(hb(s, "A", -1, None).member_epoch, -1);
    let b4 = hb(s, "B", 2, Some(got));
    assert_eq!(b4.assignment.unwrap()[&topic.id].len(), 4);
}

#[test]
fn assignors_balance() {
    use std::collections::{BTreeMap, HashMap};
    let id = kafka_protocol::Uuid::from_u128(7);
    let mut meta = BTreeMap::new();
    meta.insert("t".to_string(), (id, 5));
    let subs: BTreeMap<String, Vec<String>> = ["a", "b"]
        .iter()
        .map(|m| (m.to_string(), vec!["t".to_string()]))
        .collect();
    let r = super::consumer::assign_range(&subs, &meta);
    assert_eq!(
        r["a"][&id].iter().copied().collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(r["b"][&id].iter().copied().collect::<Vec<_>>(), vec![3, 4]);
    let u = super::consumer::assign_uniform(&subs, &meta, &HashMap::new());
    let (na, nb) = (u["a"][&id].len(), u["b"][&id].len());
    assert_eq!(na + nb, 5);
    assert!(na.abs_diff(nb) <= 1);
    // Sticky: a third member takes partitions without moving the rest around needlessly.
    let mut subs3 = subs.clone();
    subs3.insert("c".into(), vec!["t".into()]);
    let u3 = super::consumer::assign_uniform(&subs3, &meta, &u);
    for m in ["a", "b"] {
        assert!(u3[m][&id].is_subset(&u[m][&id]));
    }
    let _ = Arc::new(());
}

#[tokio::test(start_paused = true)]
async fn kip848_static_member_temporary_leave() {
    let st = setup();
    let s = &st.shared;
    let topic = s
        .metadata
        .create_topic("t", 2, Default::default(), false)
        .unwrap();
    let a = hb_static(s, "A", Some("ia"), 0, Some(Default::default()));
    let b = hb_static(s, "B", Some("ib"), 0, Some(Default::default()));
    let a = hb_static(s, "A", Some("ia"), a.member_epoch, a.assignment.clone());
    let b = hb_static(s, "B", Some("ib"), b.member_epoch, Some(Default::default()));
    let a = hb_static(s, "A", Some("ia"), a.member_epoch, a.assignment.clone());
    let b = hb_static(s, "B", Some("ib"), b.member_epoch, b.assignment.clone());
    assert_eq!(a.member_epoch, b.member_epoch);
    let b_parts = b.assignment.clone().unwrap_or_default();
    assert_eq!(b_parts[&topic.id].len(), 1);
    let epoch = b.member_epoch;
    // Another process with B's instance id while B is active: refused.
    let dup = hb_static(s, "B2", Some("ib"), 0, Some(Default::default()));
    assert_eq!(dup.error, ErrorCode::UnreleasedInstanceId);
    // B leaves temporarily and comes back under a new member id: same partitions, no new epoch.
    assert_eq!(hb_static(s, "B", Some("ib"), -2, None).member_epoch, -2);
    let back = hb_static(s, "B3", Some("ib"), 0, Some(Default::default()));
    assert_eq!(back.error, ErrorCode::None);
    assert_eq!(back.member_epoch, epoch);
    assert_eq!(back.assignment.unwrap_or_default(), b_parts);
    let a2 = hb_static(s, "A", Some("ia"), a.member_epoch, None);
    assert_eq!(a2.member_epoch, epoch);
    assert!(a2.assignment.is_none());
}

#[tokio::test(start_paused = true)]
async fn kip848_regex_subscription_matches_existing_and_new_topics() {
    let st = setup();
    let s = &st.shared;
    let t1 = s
        .metadata
        .create_topic("re-a", 2, Default::default(), false)
        .unwrap();
    s.metadata
        .create_topic("other", 1, Default::default(), false)
        .unwrap();
    let join = |regex: &str| HeartbeatParams {
        version: 1,
        group_id: "cg".into(),
        member_id: "A".into(),
        member_epoch: 0,
        instance_id: None,
        rack_id: None,
        rebalance_timeout_ms: 30_000,
        topics: None,
        regex: Some(regex.to_string()),
        assignor: None,
        owned: Some(Default::default()),
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
    };
    let bad = s.groups.consumer_heartbeat(&s.metadata, join("re-(a"));
    assert_eq!(bad.error, ErrorCode::InvalidRegularExpression);
    let a = s.groups.consumer_heartbeat(&s.metadata, join("re-.*"));
    assert_eq!(a.error, ErrorCode::None);
    let got = a.assignment.unwrap();
    assert_eq!(got.len(), 1, "only the matching topic: {got:?}");
    assert_eq!(got[&t1.id].len(), 2);
    // A topic created later that matches joins the assignment.
    let t2 = s
        .metadata
        .create_topic("re-b", 1, Default::default(), false)
        .unwrap();
    let a2 = hb(s, "A", a.member_epoch, Some(got));
    let got2 = a2.assignment.unwrap();
    assert_eq!(got2[&t2.id].len(), 1);
    assert_eq!(got2[&t1.id].len(), 2);
    assert!(a2.member_epoch > a.member_epoch);
}
