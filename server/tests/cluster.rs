//! Several server nodes sharing one MongoDB (FerretDB) and one Redis: users on
//! different nodes chat in one conversation. Needs `NATTER_TEST_MONGODB_URI`
//! and `NATTER_TEST_REDIS_URL` (`scripts/test.sh` starts both).

mod support;

use std::{net::SocketAddr, time::Duration};

use app::protocol::{close, ServerFrame};
use serde_json::json;
use support::{chat::User, SwitchProxy, TestServer};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

fn redis_addr() -> SocketAddr {
    let url = std::env::var("NATTER_TEST_REDIS_URL")
        .expect("NATTER_TEST_REDIS_URL must name a Redis server (scripts/test.sh starts one)");
    let host = url.trim_start_matches("redis://").split('/').next().unwrap().to_owned();
    host.parse().expect("NATTER_TEST_REDIS_URL must use an IP address and port")
}

/// Two nodes on one fresh database, reaching Redis at `redis`.
async fn two_nodes(redis: SocketAddr) -> (TestServer, TestServer) {
    let uri = std::env::var("NATTER_TEST_MONGODB_URI").expect("NATTER_TEST_MONGODB_URI");
    let db = format!("natter_test_{}", natter_server::store::new_id());
    let redis_url = format!("redis://{redis}/");
    let mut nodes = Vec::new();
    for id in ["node-a", "node-b"] {
        let node = TestServer::start(&["--mongodb-uri", &uri, "--mongodb-db", &db, "--redis-url", &redis_url, "--node-id", id]).await;
        node.wait_for_status("/readyz", 200, Duration::from_secs(20)).await;
        nodes.push(node);
    }
    let b = nodes.pop().unwrap();
    (nodes.pop().unwrap(), b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_on_two_nodes_chat_in_one_conversation() {
    let (a, b) = two_nodes(redis_addr()).await;
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
    assert!(bob_ws.next_within(Duration::from_millis(500)).await.is_none(), "bob's node cannot hear it now");

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
    while got.len() < sent {
        got.push(bob_ws.message().await.seq);
    }
    assert_eq!(got, (1..=sent as u64).collect::<Vec<_>>());
    a.stop().await;
    b.stop().await;
}
