//! Nodes meeting on a Redis Cluster (`--redis-cluster-nodes`): the two-node
//! tests of `cluster`, `cluster_files`, `bus` and a call of `rooms_cluster`
//! again, and a master killed during a send burst. Needs `NATTER_TEST_REDIS_CLUSTER` (`scripts/test.sh`
//! starts 3 masters and 3 replicas); each test skips with a line without it.
//! The tests take turns, so that no other one runs through the failover.

use crate::support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{
    chat::{Client, User},
    cluster::{master_of, node, redis_cluster, redis_cluster_flags, sigkill, two_nodes_with},
    TestServer,
};
use tokio::sync::{Mutex, MutexGuard, Notify};
use wire::{model::ConversationId, protocol::ServerFrame};

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// The test run's Redis Cluster and this test's turn on it; `None` (skipped) without one.
async fn turn() -> Option<(String, MutexGuard<'static, ()>)> {
    let nodes = redis_cluster()?;
    Some((nodes, ONE_AT_A_TIME.lock().await))
}

/// Two nodes on the Redis Cluster, in this test's turn.
async fn two_nodes() -> Option<(MutexGuard<'static, ()>, (TestServer, TestServer))> {
    let (nodes, turn) = turn().await?;
    Some((turn, two_nodes_with(&redis_cluster_flags(&nodes)).await))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_on_two_nodes_chat() {
    let Some((_turn, (a, b))) = two_nodes().await else { return };
    crate::cluster::chat_across(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_crosses_nodes() {
    let Some((_turn, (a, b))) = two_nodes().await else { return };
    crate::cluster::presence_across(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instant_upload_proof_may_reach_another_node() {
    let Some((_turn, (a, b))) = two_nodes().await else { return };
    crate::cluster_files::instant_proof_across(a, b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_hears_only_the_conversations_of_its_users() {
    let Some((nodes, _turn)) = turn().await else { return };
    crate::bus::routed(&redis_cluster_flags(&nodes)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_call_spans_two_nodes() {
    let Some((nodes, _turn)) = turn().await else { return };
    let (a, b) = crate::rooms_cluster::relaying_nodes(&redis_cluster_flags(&nodes), [0, 0]).await;
    crate::rooms_cluster::call_across(&a, &b).await;
    a.stop().await;
    b.stop().await;
}

/// Messages each sender sends; the master dies after the first tenth.
const BURST: u64 = 40;
/// A generous bound on the failover, not a timing assertion of the bus.
const RESUMES_WITHIN: Duration = Duration::from_secs(30);

/// Ann on node a and bob on node b send into one group while the master of
/// its channel is SIGKILLed: cat (on a) and dan (on b) get every acked
/// message once, in order, once the cluster has failed over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_during_a_send_burst_loses_and_repeats_nothing() {
    let Some((nodes, _turn)) = turn().await else { return };
    let flags = redis_cluster_flags(&nodes);
    let (a, b) = (node(&flags, "node-a").await, node(&flags, "node-b").await);
    let (ann, bob) = (User::register(&a, "ann").await, User::register(&a, "bob").await);
    let (cat, dan) = (User::register(&a, "cat").await, User::register(&a, "dan").await);
    let group = ann.group("busy", &[&bob, &cat, &dan], json!({})).await;
    let channel = format!("natter:{}:c:{group}", flags[3]);
    let Some((master, pid)) = master_of(&nodes, &channel).await else {
        println!("skipped: the master of {channel} has no replica left to take over");
        return;
    };
    let (mut ann_ws, mut bob_ws) = (ann.connect_via(&a, vec![]).await, bob.connect_via(&b, vec![]).await);
    let (mut cat_ws, mut dan_ws) = (cat.connect_via(&a, vec![]).await, dan.connect_via(&b, vec![]).await);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let started = Notify::new();
    let kill = async {
        started.notified().await;
        sigkill(pid);
        println!("SIGKILLed the Redis master {master} holding the group's channel");
        Instant::now()
    };
    let all = 2 * BURST;
    let (ann_seqs, bob_seqs, killed_at, cat_got, dan_got) = tokio::join!(
        burst(&mut ann_ws, &group, "a", Some(&started)),
        burst(&mut bob_ws, &group, "b", None),
        kill,
        receive(&mut cat_ws, all),
        receive(&mut dan_ws, all),
    );
    let mut acked: Vec<u64> = ann_seqs.into_iter().chain(bob_seqs).collect();
    acked.sort_unstable();
    assert_eq!(acked, (1..=all).collect::<Vec<_>>(), "every send acked, one seq each");
    for (who, got) in [("cat on node a", cat_got), ("dan on node b", dan_got)] {
        let seqs: Vec<u64> = got.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(seqs, acked, "{who} got every acked message once, in order");
        let mut times = got.iter().map(|(_, at)| *at).filter(|at| *at >= killed_at);
        let first = times.next().expect("messages after the kill");
        let (stall, _) = times.fold((first - killed_at, first), |(longest, last), at| (longest.max(at - last), at));
        let done = got.last().unwrap().1 - killed_at;
        println!(
            "{who}: longest silence after the kill {:.1} s, all {all} messages {:.1} s after it",
            stall.as_secs_f64(),
            done.as_secs_f64()
        );
        assert!(stall <= RESUMES_WITHIN, "{who}: delivery resumed within {RESUMES_WITHIN:?}");
    }
    a.stop().await;
    b.stop().await;
}

/// Sends [`BURST`] messages, each once acked (a pause between them keeps
/// under the send budget); notifies `started` after the first tenth.
async fn burst(ws: &mut Client, group: &ConversationId, tag: &str, started: Option<&Notify>) -> Vec<u64> {
    let mut seqs = Vec::new();
    for i in 0..BURST {
        let id = format!("{tag}{i}");
        ws.send_text(group, &id, &id).await;
        match ws.answer(&id).await {
            ServerFrame::Ack { seq, .. } => seqs.push(seq),
            other => panic!("{id} not acked: {other:?}"),
        }
        if let Some(started) = started.filter(|_| i == BURST / 10) {
            started.notify_one();
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    seqs
}

/// The seqs of the messages `ws` gets until it has `count` of them (or a
/// minute goes by), each with when it came.
async fn receive(ws: &mut Client, count: u64) -> Vec<(u64, Instant)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while (got.len() as u64) < count {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match ws.next_within(left).await {
            Some(ServerFrame::Message { message }) => got.push((message.seq, Instant::now())),
            Some(_) => {}
            None => break,
        }
    }
    got
}
