//! One account doing too much at once, over many connections, devices and
//! nodes: each budget is the user's, counted over all of them, and others
//! are served meanwhile.

use crate::support;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use support::{
    chat::{Client, User},
    cluster::{redis_addr, two_nodes},
    TestServer,
};
use wire::{
    call::CallMedia,
    endpoint,
    model::{ConversationId, UserId},
    protocol::{close, ClientFrame, Position, ServerFrame, WsErrorCode, MAX_REPLAY_PER_CONVERSATION, MAX_RESUME_POSITIONS},
    room::{RoomKind, RoomRole},
};

/// Sends `per_socket` messages from each of `sockets` as fast as they go;
/// the acks and refusals they got back.
async fn flood(sockets: &mut [Client], room: &ConversationId, per_socket: usize) -> (Vec<u64>, usize) {
    for (s, ws) in sockets.iter_mut().enumerate() {
        for i in 0..per_socket {
            ws.send_text(room, &format!("s{s}-{i}"), "spam").await;
        }
    }
    let (mut acked, mut refused) = (Vec::new(), 0);
    for ws in sockets.iter_mut() {
        let mut answered = 0;
        while answered < per_socket {
            // Generous: on a loaded machine with FerretDB, 80 stored sends take a while; budgets are the point.
            match ws.next_within(Duration::from_secs(30)).await.expect("an answer within 30 s") {
                ServerFrame::Ack { seq, .. } => acked.push(seq),
                ServerFrame::Error { code: WsErrorCode::RateLimited, client_id: Some(_), .. } => refused += 1,
                ServerFrame::Error { code, message, .. } => panic!("{code:?}: {message}"),
                _ => continue,
            }
            answered += 1;
        }
    }
    (acked, refused)
}

/// What a send budget of a burst of 30, then 10 a second, allows in `elapsed`.
fn send_allowance(elapsed: Duration) -> usize {
    30 + (elapsed.as_secs_f64() * 10.0).ceil() as usize + 1
}

/// Another user's message arrives in normal time while the flood goes on.
async fn others_are_served(from: &User<'_>, to: &mut Client, room: &ConversationId) {
    let mut ws = from.connect().await;
    let start = Instant::now();
    ws.send_text(room, "hello", "still here?").await;
    assert!(matches!(ws.answer("hello").await, ServerFrame::Ack { .. }));
    loop {
        if let ServerFrame::Message { message } = to.next().await {
            if message.client_id == "hello" {
                break;
            }
        }
    }
    assert!(start.elapsed() < Duration::from_secs(1), "delivered in {:?}", start.elapsed());
}

async fn history_len(user: &User<'_>, room: &ConversationId) -> usize {
    let (status, history) = user.call(Method::GET, &format!("/api/conversations/{room}/messages?limit=100"), None).await;
    assert_eq!(status, 200, "{history}");
    history.as_array().unwrap().len()
}

async fn sends_over_many_sockets_share_one_budget(server: &TestServer) {
    let (ann, bob, cat) =
        (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "cat").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let quiet = bob.group("quiet", &[&cat], json!({})).await;
    let mut sockets = Vec::new();
    for _ in 0..8 {
        sockets.push(ann.connect().await);
    }
    let mut cat_ws = cat.connect().await;
    let start = Instant::now();
    let (acked, refused) = flood(&mut sockets, &room, 20).await;
    others_are_served(&bob, &mut cat_ws, &quiet).await;
    let elapsed = start.elapsed();
    assert!(acked.len() <= send_allowance(elapsed), "{} of 160 sent in {elapsed:?}", acked.len());
    assert_eq!(acked.len() + refused, 160);
    assert_eq!(history_len(&ann, &room).await, acked.len(), "every message acknowledged is stored, no other");
}

/// The attack of the issue: many sockets of one token ringing, joining
/// rooms and creating groups; each is cut down to the user's budget.
async fn calls_rooms_typing_and_groups_take_the_users_budget(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let private = ann.private_chat(&bob).await;
    let mut ws = ann.connect().await;
    let mut rang = 0;
    let calling = Instant::now();
    for _ in 0..15 {
        ws.send(&ClientFrame::CallInvite { conversation_id: private.clone(), callee_id: UserId(bob.id.clone()), media: CallMedia::Voice }).await;
        let call_id = loop {
            match ws.next().await {
                ServerFrame::CallRinging { call } => break Some(call.call_id),
                ServerFrame::Error { code: WsErrorCode::CallRateLimited, .. } => break None,
                ServerFrame::Error { code, message, .. } => panic!("{code:?}: {message}"),
                _ => {}
            }
        };
        let Some(call_id) = call_id else { continue };
        rang += 1;
        ws.send(&ClientFrame::CallHangup { call_id }).await;
        while !matches!(ws.next().await, ServerFrame::CallEnded { .. }) {}
    }
    let allowed = 10 + (calling.elapsed().as_secs_f64() / 6.0) as usize;
    assert!((10..=allowed).contains(&rang), "ten calls, then one every six seconds: {rang} rang");

    // Room joins: each costs a join, even one whose offer is refused.
    let group = ann.group("group", &[&bob], json!({})).await;
    let mut codes = Vec::new();
    for _ in 0..12 {
        let join = ClientFrame::RoomJoin {
            conversation_id: group.clone(),
            kind: RoomKind::Call,
            role: RoomRole::Participant,
            video: false,
            sdp: "v=0".into(),
        };
        ws.send(&join).await;
        codes.push(ws.error().await.0);
    }
    assert_eq!(codes[..10], [WsErrorCode::BadSdp; 10]);
    assert_eq!(codes[10..], [WsErrorCode::RoomRateLimited; 2]);

    // Typing over many sockets and conversations reaches others at the user's pace.
    let mut rooms = vec![group.clone()];
    for i in 0..4 {
        rooms.push(bob.group(&format!("g{i}"), &[&ann], json!({})).await);
    }
    let mut watcher = bob.connect().await;
    let mut typists = Vec::new();
    for _ in 0..6 {
        typists.push(ann.connect().await);
    }
    let start = Instant::now();
    for typist in &mut typists {
        for room in &rooms {
            typist.send(&ClientFrame::Typing { conversation_id: room.clone() }).await;
        }
    }
    let mut seen = 0;
    while let Some(frame) = watcher.next_within(Duration::from_millis(500)).await {
        seen += usize::from(matches!(frame, ServerFrame::Typing { .. }));
    }
    let allowed = 10 + (start.elapsed().as_secs_f64() * 2.0).ceil() as usize;
    assert!(seen <= allowed, "30 typing frames made {seen} notices in {:?}", start.elapsed());

    // Groups: ann made one already; nine more, then 429 with a wait.
    for i in 0..9 {
        let (status, body) = ann.call(Method::POST, endpoint::CONVERSATIONS, Some(json!({ "name": format!("n{i}") }))).await;
        assert_eq!(status, 201, "{body}");
    }
    let resp = server
        .client
        .post(server.url(endpoint::CONVERSATIONS))
        .bearer_auth(&ann.token)
        .json(&json!({ "name": "one too many" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!((body["code"].as_str(), body["retry_after_secs"].as_u64()), (Some("rate_limited"), Some(wait)));
    assert!((1..=60).contains(&wait), "{wait}");
    ws.assert_alive().await;
}

async fn a_resume_replays_the_newest_and_says_what_it_skipped(server: &TestServer) {
    // 10 members send 25 each (within their budgets): 250 messages.
    let mut members = Vec::new();
    for i in 0..10 {
        members.push(User::register(server, &format!("m{i}")).await);
    }
    let others: Vec<&User> = members[1..].iter().collect();
    let room = members[0].group("room", &others, json!({})).await;
    for member in &members {
        let mut ws = member.connect().await;
        for i in 0..25 {
            ws.send_text(&room, &format!("{i}"), "hello").await;
        }
        for i in 0..25 {
            assert!(matches!(ws.answer(&format!("{i}")).await, ServerFrame::Ack { .. }));
        }
    }
    let reader = &members[0];
    let mut ws = reader.connect_resuming(vec![Position { conversation_id: room.clone(), seq: 10 }]).await;
    let upto = 250 - MAX_REPLAY_PER_CONVERSATION;
    let (mut skipped, mut seqs) = (None, Vec::new());
    while let Some(frame) = ws.next_within(Duration::from_secs(1)).await {
        match frame {
            ServerFrame::Skipped { conversation_id, upto } if seqs.is_empty() => skipped = Some((conversation_id, upto)),
            ServerFrame::Message { message } => seqs.push(message.seq),
            _ => {}
        }
    }
    assert_eq!(skipped, Some((room.clone(), upto)), "the skip is told before the replay");
    assert_eq!(seqs, (upto + 1..=250).collect::<Vec<_>>());

    // Too many positions in one frame: refused, the connection stays.
    let positions = vec![Position { conversation_id: room.clone(), seq: 0 }; MAX_RESUME_POSITIONS + 1];
    ws.send(&ClientFrame::Resume { positions }).await;
    assert_eq!(ws.error().await.0, WsErrorCode::BadRequest);
    ws.assert_alive().await;
}

on_both_stores!(
    sends_over_many_sockets_share_one_budget,
    calls_rooms_typing_and_groups_take_the_users_budget,
    a_resume_replays_the_newest_and_says_what_it_skipped,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_are_capped_per_device_and_per_user() {
    let server = TestServer::start(&["--sockets-per-device", "3", "--sockets-per-user", "5"]).await;
    let ann = User::register(&server, "ann").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(ann.open(server.addr).await.expect("within the device's cap"));
    }
    assert_eq!(ann.open(server.addr).await.err(), Some(close::TOO_MANY_CONNECTIONS), "a fourth on one device");
    let phone = ann.on_device("phone").await;
    for _ in 0..2 {
        open.push(phone.open(server.addr).await.expect("within the user's cap"));
    }
    assert_eq!(phone.open(server.addr).await.err(), Some(close::TOO_MANY_CONNECTIONS), "a sixth for the user");
    // Someone else is not affected.
    let bob = User::register(&server, "bob").await;
    bob.open(server.addr).await.expect("another user connects");
    // A closed one makes room again.
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    while phone.open(server.addr).await.is_err() {
        assert!(Instant::now() < deadline, "the closed connection was never counted out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.stop().await;
}

/// Two nodes count one budget: a flood over both is held to what one node allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_holds_across_nodes() {
    let (a, b) = two_nodes(redis_addr()).await;
    let (ann, bob) = (User::register(&a, "ann").await, User::register(&a, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut sockets = Vec::new();
    for node in [&a, &b, &a, &b] {
        sockets.push(ann.connect_via(node, vec![]).await);
    }
    let start = Instant::now();
    let (acked, _) = flood(&mut sockets, &room, 20).await;
    let elapsed = start.elapsed();
    assert!(acked.len() <= send_allowance(elapsed), "{} of 80 sent over two nodes in {elapsed:?}", acked.len());
    b.stop().await;
    a.stop().await;
}
