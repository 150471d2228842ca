//! The cluster's bus: a node hears only the conversations and users of its
//! own connections, and what its subscription missed reaches every
//! recipient from the store, in order, exactly once. Two nodes on the test
//! run's FerretDB and Redis (`scripts/test.sh` starts both).

use crate::support;

use std::{net::SocketAddr, time::Duration};

use serde_json::json;
use support::{
    chat::{Client, User},
    cluster::{bus_metric, cluster_flags, node, node_id, reaching, redis_addr},
    SwitchProxy,
};
use wire::{
    model::ConversationId,
    protocol::{NoticeKind, ServerFrame},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_hears_only_the_conversations_of_its_users() {
    routed(&cluster_flags(redis_addr())).await;
}

/// On a cluster of `flags`, node b hears nothing of a group wholly on node a,
/// and every message of a group with a member on b.
pub async fn routed(flags: &[String]) {
    let (a, b) = (node(flags, "node-a").await, node(&flags, "node-b").await);
    let b_id = node_id(flags, "node-b");
    let (ann, cat) = (User::register(&a, "ann").await, User::register(&a, "cat").await);
    let (dan, bob) = (User::register(&a, "dan").await, User::register(&a, "bob").await);
    let here = ann.group("here", &[&cat], json!({})).await;
    let across = dan.group("across", &[&bob], json!({})).await;
    let mut ann_ws = ann.connect_via(&a, vec![]).await;
    let mut cat_ws = cat.connect_via(&a, vec![]).await;
    let mut dan_ws = dan.connect_via(&a, vec![]).await;
    let mut bob_ws = bob.connect_via(&b, vec![]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let before = bus_metric(&b, "natter_bus_received_total", &b_id).await;
    for i in 0..20 {
        say(&mut ann_ws, &here, &format!("h{i}")).await;
    }
    for _ in 0..20 {
        cat_ws.message().await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = bus_metric(&b, "natter_bus_received_total", &b_id).await;
    println!("node b received {} bus copies while node a's own group had 20 messages", after - before);
    assert_eq!(after, before, "node b heard a conversation none of its users is in");

    for i in 0..5 {
        say(&mut dan_ws, &across, &format!("x{i}")).await;
    }
    for seq in 1..=5 {
        assert_eq!(bob_ws.message().await.seq, seq);
    }
    assert!(bus_metric(&b, "natter_bus_received_total", &b_id).await >= after + 5, "node b hears its user's group");
    a.stop().await;
    b.stop().await;
}

/// A user on node b added to a group of node a: b hears of it on the user's
/// channel, listens to the group from then on, and the join is told once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_added_on_another_node_hears_the_group_from_then_on() {
    let flags = cluster_flags(redis_addr());
    let (a, b) = (node(&flags, "node-a").await, node(&flags, "node-b").await);
    let (ann, bob) = (User::register(&a, "ann").await, User::register(&a, "bob").await);
    let mut bob_ws = bob.connect_via(&b, vec![]).await;
    let mut ann_ws = ann.connect_via(&a, vec![]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let room = ann.group("room", &[&bob], json!({})).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    for i in 1..=5 {
        say(&mut ann_ws, &room, &format!("m{i}")).await;
    }
    let (mut joins, mut seqs) = (0, Vec::new());
    while let Some(frame) = bob_ws.next_within(Duration::from_secs(2)).await {
        match frame {
            ServerFrame::Notice { user_id, notice: NoticeKind::Join, .. } if user_id.0 == bob.id => joins += 1,
            ServerFrame::Message { message } => seqs.push(message.seq),
            _ => {}
        }
    }
    assert_eq!(joins, 1, "bob hears of his join once");
    assert_eq!(seqs, [1, 2, 3, 4, 5]);
    a.stop().await;
    b.stop().await;
}

/// Node b's subscription is cut while messages flow, and cannot come back
/// before the last ones of the conversation are sent: its users still get
/// every message, in order, once, filled from the store when it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_subscription_is_repaired_from_the_store_in_order() {
    let proxy = SwitchProxy::start(redis_addr(), true).await;
    let flags = cluster_flags(redis_addr());
    let a = node(&flags, "node-a").await;
    let b = node(&reaching(&flags, proxy.addr), "node-b").await;
    let b_id = node_id(&flags, "node-b");
    let (ann, bob) = (User::register(&a, "ann").await, User::register(&a, "bob").await);
    let cat = User::register(&a, "cat").await;
    let room = ann.group("room", &[&bob, &cat], json!({})).await;
    let mut ann_ws = ann.connect_via(&a, vec![]).await;
    let mut bob_ws = bob.connect_via(&b, vec![]).await;
    let mut cat_ws = cat.connect_via(&b, vec![]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    const SENT: u64 = 30;
    let repairs_before = bus_metric(&b, "natter_bus_gap_repairs_total", &b_id).await;
    for i in 1..=SENT {
        if i == SENT - 8 {
            proxy.admit(false);
            let cut = cut_subscriptions(&proxy).await;
            assert!(cut > 0, "node b's subscription was found");
        }
        say(&mut ann_ws, &room, &format!("m{i}")).await;
    }
    proxy.admit(true);
    for ws in [&mut bob_ws, &mut cat_ws] {
        let got = messages_until(ws, SENT, Duration::from_secs(20)).await;
        assert_eq!(got, (1..=SENT).collect::<Vec<_>>(), "every message, in order, once");
        while let Some(frame) = ws.next_within(Duration::from_millis(300)).await {
            assert!(!matches!(frame, ServerFrame::Message { .. }), "nothing twice: {frame:?}");
        }
    }
    let repairs = bus_metric(&b, "natter_bus_gap_repairs_total", &b_id).await - repairs_before;
    println!("node b repaired {repairs} gaps from the store");
    assert!(repairs >= 1, "the cut lost messages that a repair filled");
    a.stop().await;
    b.stop().await;
}

async fn say(ws: &mut Client, conversation: &ConversationId, client_id: &str) {
    ws.send_text(conversation, client_id, client_id).await;
    assert!(matches!(ws.answer(client_id).await, ServerFrame::Ack { .. }));
}

/// The seqs of the messages `ws` gets until it has `upto`, or `within` ends.
async fn messages_until(ws: &mut Client, upto: u64, within: Duration) -> Vec<u64> {
    let deadline = tokio::time::Instant::now() + within;
    let mut got = Vec::new();
    while got.last() != Some(&upto) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match ws.next_within(left).await {
            Some(ServerFrame::Message { message }) => got.push(message.seq),
            Some(_) => {}
            None => break,
        }
    }
    got
}

/// Kills (`CLIENT KILL ID`) the pub/sub connections Redis has from `proxy`'s
/// side: the subscriptions of the node behind it, nothing else. How many.
async fn cut_subscriptions(proxy: &SwitchProxy) -> usize {
    let from: Vec<SocketAddr> = proxy.outbound();
    let redis = redis::Client::open(format!("redis://{}/", redis_addr())).unwrap();
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").arg("TYPE").arg("pubsub").query_async(&mut conn).await.unwrap();
    let mut cut = 0;
    for line in list.lines() {
        let field = |name: &str| line.split(' ').find_map(|f| f.strip_prefix(name)).map(str::to_owned);
        let (Some(id), Some(addr)) = (field("id="), field("addr=")) else { continue };
        if from.iter().any(|a| a.to_string() == addr) {
            let kill = redis::cmd("CLIENT").arg("KILL").arg("ID").arg(&id).clone();
            kill.query_async::<redis::Value>(&mut conn).await.unwrap();
            cut += 1;
        }
    }
    cut
}
