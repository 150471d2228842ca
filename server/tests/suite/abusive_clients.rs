//! Websocket clients that misbehave on purpose: ones that stop reading, that
//! flood activity changes, that ask to replay a conversation hundreds of
//! times. Each is cut down to size while others are still served.

use crate::support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use support::{chat::User, TestServer};
use tokio_tungstenite::{
    client_async,
    tungstenite::{client::IntoClientRequest, Message as WsMessage},
    WebSocketStream,
};
use wire::{
    model::{ConversationId, Presence},
    protocol::{ClientFrame, Position, ServerFrame, WsErrorCode, WS_PATH},
};

/// Pings every second and drops a write after a second: the defaults are 30 s and 20 s.
const QUICK: &[&str] = &["--ws-ping-secs", "1", "--ws-write-timeout-secs", "1"];

/// A group of `members` holding `per_member` messages of 4,000 emoji (16 KB)
/// from each (each member within their send budget).
async fn long_history(members: &[&User<'_>], per_member: usize) -> ConversationId {
    let room = members[0].group("room", &members[1..], json!({})).await;
    for member in members {
        let mut ws = member.connect().await;
        for i in 0..per_member {
            ws.send_text(&room, &format!("{}-{i}", member.id), &"😀".repeat(4000)).await;
            assert!(matches!(ws.answer(&format!("{}-{i}", member.id)).await, ServerFrame::Ack { .. }));
        }
    }
    room
}

/// Reads until the server ends the connection; how long that took, or
/// `None` if it is still open after `within`.
async fn ends_within<S>(ws: &mut WebSocketStream<S>, within: Duration) -> Option<Duration>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return None,
            Ok(None | Some(Err(_)) | Some(Ok(WsMessage::Close(_)))) => return Some(start.elapsed()),
            Ok(Some(Ok(_))) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_and_others_are_served() {
    // Pings far apart: only the write timeout can drop it.
    let server = TestServer::start(&["--ws-ping-secs", "600", "--ws-write-timeout-secs", "1"]).await;
    // One after another: sign-ups share the bounded password hashing.
    let mut users = Vec::new();
    for name in ["ann", "bob", "cat", "dan", "eve", "fay", "gus", "hal", "ivy", "jon"] {
        users.push(User::register(&server, name).await);
    }
    let members: Vec<&User> = users.iter().collect();
    let room = long_history(&members, 30).await;

    // A client with a tiny receive window asks for the whole history (4.8 MB,
    // more than loopback's buffers hold) and never reads.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(server.addr).await.unwrap();
    let mut req = format!("ws://{}{WS_PATH}", server.addr).into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {}", users[1].token).parse().unwrap());
    let (mut stalled, _) = client_async(req, tcp).await.unwrap();
    let resume = ClientFrame::Resume { positions: vec![Position { conversation_id: room.clone(), seq: 0 }] };
    futures_util::SinkExt::send(&mut stalled, WsMessage::Text(serde_json::to_string(&resume).unwrap().into())).await.unwrap();

    // Meanwhile a message reaches another member at once.
    let (mut sender, mut reader) = (users[0].connect().await, users[2].connect().await);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sent = Instant::now();
    sender.send_text(&room, "meanwhile", "still here").await;
    let got = reader.message().await;
    assert_eq!(got.content, "still here");
    assert!(sent.elapsed() < Duration::from_secs(1), "delivered in {:?}", sent.elapsed());

    // The stalled client finds its connection gone once it reads again.
    assert!(ends_within(&mut stalled, Duration::from_secs(20)).await.is_some(), "the stalled socket is still open");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_answers_no_ping_is_closed() {
    let server = TestServer::start(QUICK).await;
    let ann = User::register(&server, "ann").await;
    let mut idle = ann.connect().await;
    // Not reading means not answering pings: after two of them it is closed.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut saw_close = None;
    while let Ok(Some(Ok(message))) = tokio::time::timeout(Duration::from_secs(5), idle.stream.next()).await {
        if let WsMessage::Close(frame) = message {
            saw_close = frame.map(|f| f.reason.to_string());
            break;
        }
    }
    assert_eq!(saw_close.as_deref(), Some("no answer to pings"));

    // One that reads (and so answers) stays open past several pings.
    let mut reading = ann.connect().await;
    assert_eq!(ends_within(&mut reading.stream, Duration::from_secs(4)).await, None);
    reading.assert_alive().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_heard_from_is_not_closed_for_an_unanswered_ping() {
    let server = TestServer::start(QUICK).await;
    let ann = User::register(&server, "ann").await;
    // It reads nothing, so answers no ping, for four pings' time; but it
    // sends a frame every quarter second, and any frame is a sign of life
    // (a server busy with a slow store may not have read the answer yet).
    let mut talking = ann.connect().await;
    for _ in 0..16 {
        talking.send(&ClientFrame::Ping).await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    talking.assert_alive().await;
    server.stop().await;
}

async fn a_resume_replays_each_conversation_once(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    for i in 0..5 {
        a.send_text(&room, &format!("m{i}"), "hello").await;
        a.answer(&format!("m{i}")).await;
    }
    // One frame naming the conversation 300 times from the start.
    let positions = vec![Position { conversation_id: room.clone(), seq: 0 }; 300];
    let mut b = bob.connect_resuming(positions).await;
    let mut seqs = Vec::new();
    while let Some(frame) = b.next_within(Duration::from_secs(2)).await {
        if let ServerFrame::Message { message } = frame {
            seqs.push(message.seq);
        }
    }
    assert_eq!(seqs, [1, 2, 3, 4, 5], "each message once");

    // Resuming again and again is refused after a burst of twenty.
    let mut refused = false;
    for _ in 0..25 {
        b.send(&ClientFrame::Resume { positions: vec![Position { conversation_id: room.clone(), seq: 4 }] }).await;
        loop {
            match b.next_within(Duration::from_secs(2)).await {
                Some(ServerFrame::Message { .. }) => break,
                Some(ServerFrame::Error { code: WsErrorCode::RateLimited, .. }) => {
                    refused = true;
                    break;
                }
                Some(_) => continue,
                None => panic!("no answer to a resume"),
            }
        }
    }
    assert!(refused, "25 resumes in a row are too many");
    b.assert_alive().await;
}

async fn flipping_activity_does_not_flood_watchers(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut watcher = ann.connect().await;
    let mut flipper = bob.connect().await;
    assert_eq!(watcher.presence_of(&room, &bob.id).await, Presence::Online);
    for i in 0..200 {
        flipper.send(&ClientFrame::Activity { active: i % 2 == 1 }).await;
    }
    // The last word was "active"; away at most for a moment in between.
    let mut changes = Vec::new();
    while let Some(frame) = watcher.next_within(Duration::from_secs(3)).await {
        if let ServerFrame::Presence { presence, .. } = frame {
            changes.push(presence);
        }
    }
    assert!(changes.len() <= 2, "200 activity frames made {} presence frames", changes.len());
    assert_eq!(changes.last().copied().unwrap_or(Presence::Online), Presence::Online);
    flipper.assert_alive().await;
}

on_both_stores!(a_resume_replays_each_conversation_once, flipping_activity_does_not_flood_watchers);
