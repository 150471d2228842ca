//! Conversations and real-time messaging end to end: real websocket clients
//! against a running server, on both stores.

use crate::support;

use std::time::Duration;

use futures_util::SinkExt;
use reqwest::Method;
use serde_json::json;
use support::{chat::User, TestServer};
use tokio_tungstenite::tungstenite::{protocol::frame::coding::CloseCode, Message as WsMessage};
use wire::{
    api::{ConversationSummary, DirectoryEntry},
    model::{ConversationId, Message},
    protocol::{close, ClientFrame, Position, ServerFrame, WsErrorCode},
};

async fn delivery_reaches_members_only(server: &TestServer) {
    let (ann, bob, cat) = (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "cat").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let cats_own = cat.group("cat's", &[], json!({})).await;
    let (mut a, mut b, mut c) = (ann.connect().await, bob.connect().await, cat.connect().await);
    a.send_text(&room, "m1", "hello <b>bob</b>").await;
    let ServerFrame::Ack { seq, duplicate, .. } = a.answer("m1").await else { panic!("no ack") };
    assert_eq!((seq, duplicate), (1, false));
    let got = b.message().await;
    assert_eq!((got.seq, got.content.as_str(), got.sender_id.0.as_str()), (1, "hello <b>bob</b>", ann.id.as_str()));
    assert_eq!(a.message().await.seq, 1, "the sender's own connections get it too");
    // Cat hears nothing of it: the first thing she receives is her own message.
    c.send_text(&cats_own, "c1", "alone").await;
    let first = loop {
        match c.next().await {
            ServerFrame::Message { message } => break message,
            ServerFrame::Ack { .. } | ServerFrame::Notice { .. } => continue,
            other => panic!("cat got {other:?}"),
        }
    };
    assert_eq!(first.conversation_id, cats_own);

    // A non-member's send is refused and nothing is stored.
    c.send_text(&room, "x", "let me in").await;
    assert_eq!(c.error().await, (WsErrorCode::NotMember, Some("x".into())));
    let (status, history) = ann.call(Method::GET, &format!("/api/conversations/{room}/messages"), None).await;
    assert_eq!((status, history.as_array().unwrap().len()), (200, 1));
    let (status, _) = cat.call(Method::GET, &format!("/api/conversations/{room}/messages"), None).await;
    assert_eq!(status, 404, "a non-member cannot read the history");
}

async fn resends_are_stored_and_delivered_once(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let (mut a, mut b) = (ann.connect().await, bob.connect().await);
    a.send_text(&room, "same", "once").await;
    let ServerFrame::Ack { seq: first, .. } = a.answer("same").await else { panic!() };
    // The connection drops before the client saw the ack; it sends again on a new one.
    let mut a2 = ann.connect().await;
    a2.send_text(&room, "same", "once").await;
    let ServerFrame::Ack { seq, duplicate, .. } = a2.answer("same").await else { panic!() };
    assert_eq!((seq, duplicate), (first, true));
    a2.send_text(&room, "next", "twice?").await;
    a2.answer("next").await;
    let seqs = [b.message().await.seq, b.message().await.seq];
    assert_eq!(seqs, [1, 2], "bob got the resent message once");
}

async fn offline_clients_catch_up_exactly(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    let mut b = bob.connect().await;
    a.send_text(&room, "0", "before").await;
    a.answer("0").await;
    let seen = b.message().await.seq;
    drop(b);
    for i in 1..=7 {
        a.send_text(&room, &i.to_string(), &format!("missed {i}")).await;
        a.answer(&i.to_string()).await;
    }
    let mut b = bob.connect_resuming(vec![Position { conversation_id: room.clone(), seq: seen }]).await;
    let mut got = Vec::new();
    for _ in 0..7 {
        got.push(b.message().await);
    }
    assert_eq!(got.iter().map(|m| m.seq).collect::<Vec<_>>(), (2..=8).collect::<Vec<u64>>());
    assert_eq!(got[0].content, "missed 1");
    assert!(b.next_within(Duration::from_millis(300)).await.is_none(), "nothing twice");
}

async fn messages_during_catch_up_arrive_once_each(server: &TestServer) {
    let (ann, bob, cat) =
        (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "cat").await);
    let room = ann.group("room", &[&bob, &cat], json!({})).await;
    let mut earlier = ann.connect().await;
    for i in 0..25 {
        earlier.send_text(&room, &format!("a{i}"), "earlier").await;
        assert!(matches!(earlier.answer(&format!("a{i}")).await, ServerFrame::Ack { .. }));
    }
    // Cat sends (within her own send budget) while Bob connects and catches
    // up from the start.
    let mut a = cat.connect().await;
    let live_room = room.clone();
    let sender = tokio::spawn(async move {
        for i in 0..25 {
            a.send_text(&live_room, &format!("b{i}"), "during").await;
            assert!(matches!(a.answer(&format!("b{i}")).await, ServerFrame::Ack { .. }));
        }
        a
    });
    let mut b = bob.connect_resuming(vec![Position { conversation_id: room.clone(), seq: 0 }]).await;
    let mut seqs = Vec::new();
    while seqs.len() < 50 {
        seqs.push(b.message().await.seq);
    }
    sender.await.unwrap();
    assert_eq!(seqs, (1..=50).collect::<Vec<u64>>(), "in order, no gap, no repeat");
    while let Some(frame) = b.next_within(Duration::from_millis(300)).await {
        assert!(!matches!(frame, ServerFrame::Message { .. }), "nothing twice: {frame:?}");
    }
}

async fn concurrent_senders_are_seen_in_one_order(server: &TestServer) {
    let (ann, bob, cat) = (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "cat").await);
    let room = ann.group("room", &[&bob, &cat], json!({})).await;
    let mut c = cat.connect().await;
    let mut tasks = Vec::new();
    for (who, user) in [("a", &ann), ("b", &bob)] {
        let mut ws = user.connect().await;
        let room = room.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                let id = format!("{who}{i}");
                ws.send_text(&room, &id, &id).await;
                assert!(matches!(ws.answer(&id).await, ServerFrame::Ack { .. }));
            }
        }));
    }
    let mut got = Vec::new();
    while got.len() < 40 {
        got.push(c.message().await);
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(got.iter().map(|m| m.seq).collect::<Vec<_>>(), (1..=40).collect::<Vec<u64>>());
    for who in ["a", "b"] {
        let own: Vec<_> = got.iter().filter(|m| m.content.starts_with(who)).map(|m| m.content.clone()).collect();
        assert_eq!(own, (0..20).map(|i| format!("{who}{i}")).collect::<Vec<_>>(), "each sender's order kept");
    }

    // Paging the whole history back gives every message once.
    let mut before: Option<u64> = None;
    let mut seen = Vec::new();
    loop {
        let path = match before {
            Some(b) => format!("/api/conversations/{room}/messages?limit=7&before={b}"),
            None => format!("/api/conversations/{room}/messages?limit=7"),
        };
        let (_, page) = cat.call(Method::GET, &path, None).await;
        let page: Vec<Message> = serde_json::from_value(page).unwrap();
        if page.is_empty() {
            break;
        }
        before = page.last().map(|m| m.seq);
        seen.extend(page.iter().map(|m| m.seq));
    }
    assert_eq!(seen, (1..=40).rev().collect::<Vec<u64>>());
    let (status, body) = cat.call(Method::GET, &format!("/api/conversations/{room}/messages?limit=101"), None).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")));
}

async fn bad_frames_get_error_frames_and_the_connection_stays(server: &TestServer) {
    let ann = User::register(server, "ann").await;
    let room = ann.group("room", &[], json!({})).await;
    let mut a = ann.connect().await;
    a.stream.send(WsMessage::Text("{not json".into())).await.unwrap();
    assert_eq!(a.error().await.0, WsErrorCode::BadFrame);
    a.stream.send(WsMessage::Text(r#"{"type":"teleport"}"#.into())).await.unwrap();
    assert_eq!(a.error().await.0, WsErrorCode::BadFrame);
    a.stream.send(WsMessage::Binary(vec![1, 2, 3].into())).await.unwrap();
    assert_eq!(a.error().await.0, WsErrorCode::BadFrame);
    a.stream.send(WsMessage::Text(format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(70_000)).into())).await.unwrap();
    assert_eq!(a.error().await.0, WsErrorCode::FrameTooLarge);
    a.send_text(&room, "long", &"字".repeat(4001)).await;
    assert_eq!(a.error().await, (WsErrorCode::TooLong, Some("long".into())));
    a.send_text(&room, "blank", "   ").await;
    assert_eq!(a.error().await, (WsErrorCode::BadRequest, Some("blank".into())));
    a.send_text(&room, "", "no id").await;
    assert_eq!(a.error().await.0, WsErrorCode::BadRequest);
    a.assert_alive().await;
    let (_, history) = ann.call(Method::GET, &format!("/api/conversations/{room}/messages"), None).await;
    assert_eq!(history.as_array().unwrap().len(), 0, "nothing stored");

    // 4,000 characters exactly are fine, and stored as sent.
    a.send_text(&room, "max", &"字".repeat(4000)).await;
    assert!(matches!(a.answer("max").await, ServerFrame::Ack { .. }));

    // Without a token there is no websocket.
    let anonymous = tokio_tungstenite::connect_async(format!("ws://{}/ws", server.addr)).await;
    assert!(anonymous.is_err());
}


async fn signing_in_again_closes_the_old_websocket(server: &TestServer) {
    let ann = User::register(server, "ann").await;
    let mut ws = ann.connect().await;
    let body = json!({ "email": "ann@example.org", "password": "correct horse", "device_id": "d1" });
    assert_eq!(server.client.post(server.url("/api/auth/login")).json(&body).send().await.unwrap().status(), 200);
    let closed = ws.closed().await;
    assert_eq!(closed.code, CloseCode::from(close::SIGNED_IN_AGAIN));
    assert_eq!(closed.reason.as_str(), "signed in again on this device");
}

async fn members_hear_join_leave_and_presence(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[], json!({ "visibility": "public", "join_policy": "open" })).await;
    let mut a = ann.connect().await;
    let mut notices = Vec::new();
    let mut expect = |frame: ServerFrame| match frame {
        ServerFrame::Notice { conversation_id, user_id, notice } if user_id.0 == bob.id => {
            assert_eq!(conversation_id, room);
            notices.push(format!("{notice:?}"));
            true
        }
        ServerFrame::Presence { conversation_id, user_id, presence } if user_id.0 == bob.id => {
            assert_eq!(conversation_id, room);
            notices.push(format!("{presence:?}"));
            true
        }
        _ => false,
    };
    assert_eq!(bob.call(Method::POST, &format!("/api/conversations/{room}/join"), None).await.0, 200);
    while !expect(a.next().await) {}
    let b = bob.connect().await;
    while !expect(a.next().await) {}
    drop(b);
    while !expect(a.next().await) {}
    assert_eq!(bob.call(Method::POST, &format!("/api/conversations/{room}/leave"), None).await.0, 204);
    while !expect(a.next().await) {}
    assert_eq!(notices, vec!["Join", "Online", "Offline", "Leave"]);
}

async fn invitations_and_setting_changes_are_announced(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[], json!({})).await;
    let mut a = ann.connect().await;
    let mut b = bob.connect().await;
    let invite = json!({ "user_id": bob.id });
    assert_eq!(ann.call(Method::POST, &format!("/api/conversations/{room}/invite"), Some(invite)).await.0, 204);
    let heard = loop {
        if let ServerFrame::Notice { conversation_id, user_id, notice } = b.next().await {
            break (conversation_id, user_id.0, notice);
        }
    };
    assert_eq!(heard, (room.clone(), bob.id.clone(), wire::protocol::NoticeKind::Invite));
    let rename = json!({ "name": "renamed" });
    assert_eq!(ann.call(Method::PATCH, &format!("/api/conversations/{room}"), Some(rename)).await.0, 200);
    let heard = loop {
        if let ServerFrame::Notice { notice: wire::protocol::NoticeKind::Update, user_id, .. } = a.next().await {
            break user_id.0;
        }
    };
    assert_eq!(heard, ann.id, "members hear who changed it");
}

async fn conversations_over_http(server: &TestServer) {
    let (ann, bob, cat) = (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "cat").await);
    // One private chat per pair, whoever asks.
    let (s1, first) = ann.call(Method::POST, "/api/conversations/private", Some(json!({ "user_id": bob.id }))).await;
    let (s2, again) = bob.call(Method::POST, "/api/conversations/private", Some(json!({ "user_id": ann.id }))).await;
    assert_eq!((s1, s2), (201, 200));
    assert_eq!(first["conversation"]["id"], again["conversation"]["id"]);
    assert_eq!(first["peer"]["nickname"], "bob");
    let (status, body) = ann.call(Method::POST, "/api/conversations/private", Some(json!({ "user_id": ann.id }))).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("user_id")));

    let open = ann.group("open house", &[], json!({ "visibility": "public", "join_policy": "open" })).await;
    let closed = ann.group("members only", &[], json!({ "visibility": "public", "join_policy": "invite_only" })).await;
    let (_, directory) = cat.call(Method::GET, "/api/conversations/public", None).await;
    let directory: Vec<DirectoryEntry> = serde_json::from_value(directory).unwrap();
    assert_eq!(directory.len(), 2);
    assert!(directory.iter().all(|e| !e.joined && e.members == 1));

    assert_eq!(cat.call(Method::POST, &format!("/api/conversations/{open}/join"), None).await.0, 200);
    let (status, body) = cat.call(Method::POST, &format!("/api/conversations/{closed}/join"), None).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    assert_eq!(ann.call(Method::POST, &format!("/api/conversations/{closed}/invite"), Some(json!({ "user_id": cat.id }))).await.0, 204);
    let (_, invitations) = cat.call(Method::GET, "/api/invitations", None).await;
    assert_eq!(invitations[0]["id"], closed.0.as_str());
    assert_eq!(cat.call(Method::POST, &format!("/api/conversations/{closed}/join"), None).await.0, 200);

    // Only owners and admins change a group.
    let (status, _) = cat.call(Method::PATCH, &format!("/api/conversations/{open}"), Some(json!({ "name": "mine now" }))).await;
    assert_eq!(status, 403);
    let (status, body) = ann.call(Method::PATCH, &format!("/api/conversations/{open}"), Some(json!({ "name": "" }))).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("name")));
    let (status, body) = ann.call(Method::PATCH, &format!("/api/conversations/{open}"), Some(json!({ "name": "Open House", "description": "all welcome" }))).await;
    assert_eq!((status, body["name"].as_str()), (200, Some("Open House")));
    let (_, details) = cat.call(Method::GET, &format!("/api/conversations/{open}"), None).await;
    assert_eq!(details["members"].as_array().unwrap().len(), 2);
    assert_eq!(details["my_role"], "member");

    // Unread counts rise with others' messages and clear when read.
    let mut a = ann.connect().await;
    for i in 0..3 {
        a.send_text(&open, &format!("u{i}"), "news").await;
        a.answer(&format!("u{i}")).await;
    }
    let unread = |list: Vec<ConversationSummary>, id: &ConversationId| list.into_iter().find(|s| &s.conversation.id == id).unwrap();
    let (cats, anns) = (cat.summary_once_unread(&open, 3).await, ann.summary_once_unread(&open, 0).await);
    assert_eq!((cats.unread, cats.conversation.last_message.as_ref().unwrap().text.as_str()), (3, "news"));
    assert_eq!(anns.unread, 0, "one's own messages are read");
    assert_eq!(cat.summaries().await[0].conversation.id, open, "newest activity first");
    assert_eq!(cat.call(Method::POST, &format!("/api/conversations/{open}/read"), Some(json!({ "seq": 3 }))).await.0, 204);
    assert_eq!(unread(cat.summaries().await, &open).unread, 0);

    // Leaving: the owner hands the group on.
    assert_eq!(ann.call(Method::POST, &format!("/api/conversations/{open}/leave"), None).await.0, 204);
    let (_, details) = cat.call(Method::GET, &format!("/api/conversations/{open}"), None).await;
    assert_eq!(details["my_role"], "owner");
    a.send_text(&open, "gone", "still here?").await;
    assert_eq!(a.error().await, (WsErrorCode::NotMember, Some("gone".into())));
    let (status, _) = ann.call(Method::POST, &format!("/api/conversations/{}/leave", first["conversation"]["id"].as_str().unwrap()), None).await;
    assert_eq!(status, 403, "a private chat cannot be left");
    assert_eq!(ann.call(Method::GET, "/api/conversations/nope", None).await.0, 404);
}

/// A read position past the end counts only up to the last message, through
/// either door, so later messages still count as unread; a non-member's
/// `read` frame is refused like its HTTP request.
async fn read_positions_stop_at_the_last_message(server: &TestServer) {
    let (ann, bob, cat) = (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "cat").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    for i in 0..3 {
        a.send_text(&room, &format!("m{i}"), "hello").await;
        a.answer(&format!("m{i}")).await;
    }
    bob.summary_once_unread(&room, 3).await;
    let read = format!("/api/conversations/{room}/read");
    assert_eq!(bob.call(Method::POST, &read, Some(json!({ "seq": 1_000_000 }))).await.0, 204);
    a.send_text(&room, "m3", "after the read").await;
    a.answer("m3").await;
    let summary = bob.summary_once_unread(&room, 1).await;
    assert_eq!((summary.unread, summary.read_seq), (1, 3), "the HTTP door clamps to the last seq");

    // The websocket door too, and the user's other devices hear the clamped position.
    let (mut b, mut b2) = (bob.connect().await, bob.connect().await);
    b.send(&ClientFrame::Read { conversation_id: room.clone(), seq: 1_000_000 }).await;
    let seq = loop {
        match b2.next().await {
            ServerFrame::Read { seq, .. } => break seq,
            _ => continue,
        }
    };
    assert_eq!(seq, 4);
    a.send_text(&room, "m4", "and another").await;
    a.answer("m4").await;
    let summary = bob.summary_once_unread(&room, 1).await;
    assert_eq!((summary.unread, summary.read_seq), (1, 4), "and so does the websocket's");

    // A stranger's read frame is refused and changes nothing.
    let mut c = cat.connect().await;
    c.send(&ClientFrame::Read { conversation_id: room.clone(), seq: 2 }).await;
    assert_eq!(c.error().await.0, WsErrorCode::NotMember);
    let (status, _) = cat.call(Method::POST, &read, Some(json!({ "seq": 2 }))).await;
    assert_eq!(status, 404);
}

on_both_stores!(
    delivery_reaches_members_only,
    resends_are_stored_and_delivered_once,
    offline_clients_catch_up_exactly,
    messages_during_catch_up_arrive_once_each,
    concurrent_senders_are_seen_in_one_order,
    bad_frames_get_error_frames_and_the_connection_stays,
    signing_in_again_closes_the_old_websocket,
    members_hear_join_leave_and_presence,
    invitations_and_setting_changes_are_announced,
    conversations_over_http,
    read_positions_stop_at_the_last_message,
);

/// The send budget, on a server with a small one.
mod budget {
    use super::*;

    /// One send a second after a burst of three: however slowly a loaded store
    /// takes the burst below, it cannot earn back what it spends.
    async fn slow_sends(store: &str) -> TestServer {
        TestServer::on_store_with(store, &["--sends-per-sec", "1"]).await
    }

    async fn a_burst_beyond_the_budget_is_refused_and_the_connection_stays(server: &TestServer) {
        let ann = User::register(server, "ann").await;
        let room = ann.group("room", &[], json!({})).await;
        let mut a = ann.connect().await;
        for i in 0..20 {
            a.send_text(&room, &format!("r{i}"), "spam").await;
        }
        let ServerFrame::Error { code, .. } = a.answer("never").await else { unreachable!() };
        assert_eq!(code, WsErrorCode::RateLimited);
        a.assert_alive().await;
    }

    on_both_stores!(with slow_sends; a_burst_beyond_the_budget_is_refused_and_the_connection_stays);
}

/// Graceful shutdown closes every websocket with "going away" (1001).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_server_closes_websockets_with_going_away() {
    let server = TestServer::on_store("embedded").await;
    let ann = User::register(&server, "ann").await;
    let mut ws = ann.connect().await;
    let stopping = tokio::spawn(server.stop());
    let closed = ws.closed().await;
    assert_eq!(closed.code, CloseCode::Away);
    stopping.await.unwrap();
}

/// A store outage: sends get the retryable `retry` error and nothing is
/// acked that was not stored; once the store is back, the resend goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_outage_answers_retry_and_loses_nothing_acked() {
    let proxy = support::SwitchProxy::start(support::mongodb_addr(), true).await;
    let uri = format!("mongodb://{}/?directConnection=true", proxy.addr);
    let db = format!("natter_test_{}", natter_server::store::new_id());
    let server = TestServer::start(&["--mongodb-uri", &uri, "--mongodb-db", &db]).await;
    server.wait_for_status("/readyz", 200, Duration::from_secs(20)).await;
    let (ann, bob) = (User::register(&server, "ann").await, User::register(&server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    a.send_text(&room, "before", "stored").await;
    assert!(matches!(a.answer("before").await, ServerFrame::Ack { seq: 1, .. }));

    proxy.set_up(false);
    a.send_text(&room, "during", "not yet").await;
    assert_eq!(a.error().await, (WsErrorCode::Retry, Some("during".into())));

    proxy.set_up(true);
    server.wait_for_status("/readyz", 200, Duration::from_secs(20)).await;
    a.send_text(&room, "during", "not yet").await;
    let ServerFrame::Ack { seq, duplicate, .. } = a.answer("during").await else { panic!("no ack") };
    assert_eq!((seq, duplicate), (2, false));
    let (_, history) = bob.call(Method::GET, &format!("/api/conversations/{room}/messages"), None).await;
    let seqs: Vec<u64> = history.as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![2, 1]);
    server.stop().await;
}
