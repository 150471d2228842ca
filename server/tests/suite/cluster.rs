//! Several server nodes sharing one MongoDB (FerretDB) and one Redis: users on
//! different nodes chat in one conversation. Needs `NATTER_TEST_MONGODB_URI`
//! and `NATTER_TEST_REDIS_URL` (`scripts/test.sh` starts both).

use crate::support;

use std::time::Duration;

use std::collections::{BTreeMap, HashSet};

use reqwest::Method;
use serde_json::json;
use support::{
    chat::User,
    cluster::{bus_metric, cluster_flags, node, redis_addr, two_nodes, NodeProcess},
    SwitchProxy, TestServer,
};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use wire::{
    model::{ConversationId, Presence},
    protocol::{close, ClientFrame, Position, ServerFrame},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_on_two_nodes_chat_in_one_conversation() {
    let (a, b) = two_nodes(redis_addr()).await;
    chat_across(a, b).await;
}

/// Users on nodes `a` and `b` chat in one group, in order both ways.
pub async fn chat_across(a: TestServer, b: TestServer) {
    let ann = User::register(&a, "ann").await;
    let bob = User::register(&a, "bob").await;
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut ann_ws = ann.connect_via(&a, vec![]).await;
    let mut bob_ws = bob.connect_via(&b, vec![]).await;
    // Both nodes must be subscribed before the first message.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for i in 0..10 {
        ann_ws.send_text(&room, &format!("a{i}"), &format!("from node a {i}")).await;
        assert!(matches!(ann_ws.answer(&format!("a{i}")).await, ServerFrame::Ack { .. }));
    }
    let mut got = Vec::new();
    for _ in 0..10 {
        got.push(bob_ws.message().await.seq);
    }
    assert_eq!(got, (1..=10).collect::<Vec<u64>>(), "in order across nodes");
    bob_ws.send_text(&room, "b0", "from node b").await;
    assert!(matches!(bob_ws.answer("b0").await, ServerFrame::Ack { seq: 11, .. }));
    let back = loop {
        let m = ann_ws.message().await;
        if m.seq == 11 {
            break m;
        }
    };
    assert_eq!(back.content, "from node b");
    a.stop().await;
    b.stop().await;
}

/// Nodes on one machine may share a data dir: its embedded store is their
/// store and Redis their bus. A node of another data dir on the same Redis
/// is another deployment, and hears none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_sharing_a_data_dir_chat_and_another_data_dir_hears_nothing() {
    let redis = format!("redis://{}/", redis_addr());
    let tag = natter_server::store::new_id();
    let [a_id, b_id, other_id] = ["a", "b", "other"].map(|n| format!("{n}-{tag}"));
    let a = TestServer::start(&["--redis-url", &redis, "--node-id", &a_id]).await;
    let b = a.beside(&["--redis-url", &redis, "--node-id", &b_id]).await;
    let other = TestServer::start(&["--redis-url", &redis, "--node-id", &other_id]).await;
    for node in [&a, &b, &other] {
        node.wait_for_status(wire::endpoint::READYZ, 200, Duration::from_secs(20)).await;
    }
    chat_across(a, b).await;
    assert!(bus_metric(&other, "natter_bus_published_total", &a_id).await > 0, "the shared nodes used the bus");
    assert_eq!(bus_metric(&other, "natter_bus_received_total", &other_id).await, 0, "another deployment's node heard them");
    other.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_again_on_another_node_closes_the_old_websocket() {
    let (a, b) = two_nodes(redis_addr()).await;
    let ann = User::register(&a, "ann").await;
    let mut ws = ann.connect_via(&a, vec![]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let body = json!({ "email": "ann@example.org", "password": "correct horse", "device_id": "d1" });
    assert_eq!(b.client.post(b.url("/api/auth/login")).json(&body).send().await.unwrap().status(), 200);
    let closed = ws.closed().await;
    assert_eq!(closed.code, CloseCode::from(close::SIGNED_IN_AGAIN));
    a.stop().await;
    b.stop().await;
}

/// Redis away: each node keeps serving its own users; once it is back, the
/// other node's client fills what it missed from the store, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_keeps_nodes_serving_and_heals() {
    let proxy = SwitchProxy::start(redis_addr(), true).await;
    let (a, b) = two_nodes(proxy.addr).await;
    let (ann, bob, cat) = (User::register(&a, "ann").await, User::register(&a, "bob").await, User::register(&a, "cat").await);
    let room = ann.group("room", &[&bob, &cat], json!({})).await;
    let mut ann_ws = ann.connect_via(&a, vec![]).await;
    let mut cat_ws = cat.connect_via(&a, vec![]).await;
    let mut bob_ws = bob.connect_via(&b, vec![]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    proxy.set_up(false);
    ann_ws.send_text(&room, "while-down", "same node still works").await;
    assert!(matches!(ann_ws.answer("while-down").await, ServerFrame::Ack { seq: 1, .. }));
    assert_eq!(cat_ws.message().await.content, "same node still works");
    while let Some(frame) = bob_ws.next_within(Duration::from_millis(500)).await {
        assert!(!matches!(frame, ServerFrame::Message { .. }), "bob's node cannot hear it now");
    }

    proxy.set_up(true);
    // Keep talking until bob's node hears again; bob must then get everything, in order.
    let mut sent = 1;
    let mut got = Vec::new();
    for attempt in 0..40 {
        let id = format!("after-{attempt}");
        ann_ws.send_text(&room, &id, "after").await;
        assert!(matches!(ann_ws.answer(&id).await, ServerFrame::Ack { .. }));
        sent += 1;
        while let Some(frame) = bob_ws.next_within(Duration::from_millis(250)).await {
            if let ServerFrame::Message { message } = frame {
                got.push(message.seq);
            }
        }
        if !got.is_empty() {
            break;
        }
    }
    // What the bus lost comes by the store's repairs, which a busy machine may run seconds late.
    while got.len() < sent {
        if let ServerFrame::Message { message } = bob_ws.next_within(Duration::from_secs(30)).await.expect("all within 30 s") {
            got.push(message.seq);
        }
    }
    assert_eq!(got, (1..=sent as u64).collect::<Vec<_>>());
    a.stop().await;
    b.stop().await;
}

/// Presence and typing cross nodes; statuses chosen on one node show on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_and_typing_cross_nodes() {
    let (a, b) = two_nodes(redis_addr()).await;
    presence_across(a, b).await;
}

/// A user's presence, status and typing on node `b` reach a member on `a`.
pub async fn presence_across(a: TestServer, b: TestServer) {
    let (ann, bob) = (User::register(&a, "ann").await, User::register(&a, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut ann_ws = ann.connect_via(&a, vec![]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut bob_ws = bob.connect_via(&b, vec![]).await;
    assert_eq!(ann_ws.presence_of(&room, &bob.id).await, Presence::Online);
    let busy = b.client.put(b.url("/api/me/status")).bearer_auth(&bob.token).json(&json!({ "status": "busy" }));
    assert_eq!(busy.send().await.unwrap().status(), 200);
    assert_eq!(ann_ws.presence_of(&room, &bob.id).await, Presence::Busy);
    // Node A answers from the shared registry: bob is connected (to B) and busy.
    let (_, details) = ann.call(Method::GET, &format!("/api/conversations/{room}"), None).await;
    let bob_there = details["members"].as_array().unwrap().iter().find(|m| m["profile"]["id"] == bob.id.as_str()).unwrap();
    assert_eq!(bob_there["presence"], "busy");
    bob_ws.send(&ClientFrame::Typing { conversation_id: room.clone() }).await;
    loop {
        if let ServerFrame::Typing { user_id, .. } = ann_ws.next().await {
            assert_eq!(user_id.0, bob.id);
            break;
        }
    }
    drop(bob_ws);
    assert_eq!(ann_ws.presence_of(&room, &bob.id).await, Presence::Offline);
    a.stop().await;
    b.stop().await;
}

/// Redis down when a node starts: it serves its own users; once Redis is up,
/// the nodes hear each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_started_without_redis_serves_and_joins_later() {
    let proxy = SwitchProxy::start(redis_addr(), false).await;
    let flags = cluster_flags(proxy.addr);
    let a = node(&flags, "node-a").await;
    let (ann, bob) = (User::register(&a, "ann").await, User::register(&a, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut ann_ws = ann.connect_via(&a, vec![]).await;
    let mut bob_ws = bob.connect_via(&a, vec![]).await;
    ann_ws.send_text(&room, "m1", "no redis").await;
    assert!(matches!(ann_ws.answer("m1").await, ServerFrame::Ack { seq: 1, .. }));
    assert_eq!(bob_ws.message().await.content, "no redis");
    proxy.set_up(true);
    let b = node(&flags, "node-b").await;
    let mut bob_on_b = bob.connect_via(&b, vec![Position { conversation_id: room.clone(), seq: 1 }]).await;
    // Keep talking until node B hears node A through Redis.
    for attempt in 0..40 {
        let id = format!("m{}", attempt + 2);
        ann_ws.send_text(&room, &id, "with redis").await;
        assert!(matches!(ann_ws.answer(&id).await, ServerFrame::Ack { .. }));
        if let Some(ServerFrame::Message { message }) = bob_on_b.next_within(Duration::from_millis(250)).await {
            assert_eq!(message.seq, 2, "from the first message after its position, in order");
            break;
        }
        assert!(attempt < 39, "node B never heard node A");
    }
    a.stop().await;
    b.stop().await;
}

/// A node killed with SIGKILL in the middle of traffic: its users show
/// offline elsewhere within the node time-to-live, its clients reconnect to
/// another node, and no acknowledged message is lost or seen twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_loses_no_acknowledged_message_and_its_users_go_offline() {
    let flags = cluster_flags(redis_addr());
    let a = node(&flags, "node-a").await;
    let mut b = NodeProcess::start(&flags, "node-b").await;
    let (ann, bob) = (User::register(&a, "ann").await, User::register(&a, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut ann_ws = ann.connect_via(&a, vec![]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut bob_ws = bob.connect_to(b.addr, vec![]).await;
    assert_eq!(ann_ws.presence_of(&room, &bob.id).await, Presence::Online);

    // Bob sends through node B without waiting; node B dies mid-stream.
    // (26 sends stay within a connection's burst allowance of 30.)
    let sent: Vec<String> = (0..26).map(|i| format!("b{i}")).collect();
    let mut acked = HashSet::new();
    for (i, id) in sent.iter().enumerate() {
        bob_ws.send_text(&room, id, "through node b").await;
        if i == 25 {
            b.kill().await;
            break;
        }
        if i % 10 == 9 {
            loop {
                match bob_ws.next().await {
                    ServerFrame::Ack { client_id, .. } => {
                        let done = client_id == *id;
                        acked.insert(client_id);
                        if done {
                            break;
                        }
                    }
                    _ => continue,
                }
            }
        }
    }
    // Whatever else reached bob before the socket died.
    while let Ok(Some(Ok(frame))) = tokio::time::timeout(Duration::from_secs(2), futures_util::StreamExt::next(&mut bob_ws.stream)).await {
        if let Ok(ServerFrame::Ack { client_id, .. }) = serde_json::from_str::<ServerFrame>(frame.to_text().unwrap_or("")) {
            acked.insert(client_id);
        }
    }
    assert!(acked.len() >= 20, "only {} acks before the kill", acked.len());

    // Bob's connections vanish from the registry once B's heartbeat runs out
    // (3 s); meanwhile ann keeps receiving what node B published.
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match ann_ws.next_within(left).await.expect("bob shown offline within 15 s of the kill") {
            ServerFrame::Message { message } => seen.push(message.seq),
            ServerFrame::Presence { user_id, presence: Presence::Offline, .. } if user_id.0 == bob.id => break,
            _ => {}
        }
    }

    // Bob reconnects to node A and sends again what was not acked, as the browser does.
    let mut bob_ws = bob.connect_to(a.addr, vec![Position { conversation_id: room.clone(), seq: 0 }]).await;
    for id in sent.iter().filter(|id| !acked.contains(*id)) {
        bob_ws.send_text(&room, id, "through node b").await;
        assert!(matches!(bob_ws.answer(id).await, ServerFrame::Ack { .. }));
    }
    // A new message: anyone who missed one of node B's last ones sees the gap and fills it.
    bob_ws.send_text(&room, "final", "through node a").await;
    assert!(matches!(bob_ws.answer("final").await, ServerFrame::Ack { seq: 27, .. }));
    let stored = history(&ann, &room).await;
    let ids: Vec<&str> = stored.values().map(String::as_str).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "no message stored twice");
    assert_eq!(stored.keys().copied().collect::<Vec<_>>(), (1..=27).collect::<Vec<u64>>(), "gap-free");
    for id in &acked {
        assert!(unique.contains(id.as_str()), "acked {id} lost");
    }
    // Ann, on the surviving node, sees every one of them once, in order.
    while seen.len() < 27 {
        let m = ann_ws.message().await;
        seen.push(m.seq);
    }
    assert_eq!(seen, (1..=27).collect::<Vec<u64>>());
    a.stop().await;
}

/// Every stored message of a conversation: sequence number → client id.
async fn history(user: &User<'_>, room: &ConversationId) -> BTreeMap<u64, String> {
    let (status, page) = user.call(Method::GET, &format!("/api/conversations/{room}/messages?limit=100"), None).await;
    assert_eq!(status, 200, "{page}");
    page.as_array().unwrap().iter().map(|m| (m["seq"].as_u64().unwrap(), m["client_id"].as_str().unwrap().to_owned())).collect()
}

/// Sign-in attempts spread over the nodes count against one limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_count_across_nodes() {
    let (a, b) = two_nodes(redis_addr()).await;
    User::register(&a, "ann").await;
    let wrong = json!({ "email": "ann@example.org", "password": "not her password", "device_id": "d9" });
    let mut statuses = Vec::new();
    for i in 0..12 {
        let node = if i % 2 == 0 { &a } else { &b };
        statuses.push(node.client.post(node.url("/api/auth/login")).json(&wrong).send().await.unwrap().status().as_u16());
    }
    // Five wrong passwords from this address, then it waits (the back-off), on either node.
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 5, "{statuses:?}");
    assert_eq!(&statuses[5..], &[429; 7], "{statuses:?}");
    a.stop().await;
    b.stop().await;
}
