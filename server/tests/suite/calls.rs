//! 1:1 calls end to end: real websocket clients ring, accept, relay
//! signals and hang up, on both stores and across two nodes (FerretDB +
//! Redis); every ending is recorded once as a call message, and no call
//! state outlives its call.

use crate::support;

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use support::{
    chat::{Client, User},
    cluster::{cluster_flags, node, redis_addr},
    TestServer,
};
use wire::{
    call::{CallEnd, CallInfo, CallMedia, PeerState, Signal, MAX_SDP_BYTES},
    endpoint,
    model::{CallOutcome, ConversationId, Message, MessageKind, UserId},
    protocol::{ClientFrame, ServerFrame, WsErrorCode},
};

/// Calls ring for 2 s and a dropped tab has 1 s to come back.
const QUICK: [&str; 4] = ["--call-ring-secs", "2", "--call-grace-secs", "1"];

async fn quick(store: &str) -> TestServer {
    TestServer::on_store_with(store, &QUICK).await
}

/// Two users and their private chat.
async fn pair<'a>(server: &'a TestServer, first: &str, second: &str) -> (User<'a>, User<'a>, ConversationId) {
    let (a, b) = (User::register(server, first).await, User::register(server, second).await);
    let chat = private_chat(&a, &b).await;
    (a, b, chat)
}

async fn private_chat(a: &User<'_>, b: &User<'_>) -> ConversationId {
    a.private_chat(b).await
}

fn invite(chat: &ConversationId, callee: &User<'_>, media: CallMedia) -> ClientFrame {
    ClientFrame::CallInvite { conversation_id: chat.clone(), callee_id: UserId(callee.id.clone()), media }
}

/// Reads until `pick` takes a frame; other frames (presence, …) are skipped.
async fn until<T>(client: &mut Client, mut pick: impl FnMut(ServerFrame) -> Option<T>) -> T {
    loop {
        if let Some(found) = pick(client.next().await) {
            return found;
        }
    }
}

async fn ringing(client: &mut Client) -> CallInfo {
    until(client, |f| match f {
        ServerFrame::CallRinging { call } => Some(call),
        ServerFrame::Error { code, message, .. } => panic!("no ringing: {code:?} {message}"),
        _ => None,
    })
    .await
}

async fn incoming(client: &mut Client) -> CallInfo {
    until(client, |f| match f {
        ServerFrame::CallIncoming { call } => Some(call),
        _ => None,
    })
    .await
}

async fn accepted(client: &mut Client) -> String {
    until(client, |f| match f {
        ServerFrame::CallAccepted { call_id } => Some(call_id),
        _ => None,
    })
    .await
}

async fn ended(client: &mut Client) -> (CallEnd, Option<u64>) {
    until(client, |f| match f {
        ServerFrame::CallEnded { reason, duration_ms, .. } => Some((reason, duration_ms)),
        _ => None,
    })
    .await
}

async fn signal(client: &mut Client) -> Signal {
    until(client, |f| match f {
        ServerFrame::CallSignal { signal, .. } => Some(signal),
        _ => None,
    })
    .await
}

async fn call_error(client: &mut Client) -> WsErrorCode {
    until(client, |f| match f {
        ServerFrame::Error { code, client_id: None, .. } => Some(code),
        _ => None,
    })
    .await
}

async fn call_message(client: &mut Client) -> Message {
    until(client, |f| match f {
        ServerFrame::Message { message } if message.call.is_some() => Some(message),
        _ => None,
    })
    .await
}

/// Whether any call frame reaches `client` within a short while.
async fn hears_no_call_frame(client: &mut Client) -> bool {
    while let Some(frame) = client.next_within(Duration::from_millis(300)).await {
        if matches!(
            frame,
            ServerFrame::CallIncoming { .. }
                | ServerFrame::CallAccepted { .. }
                | ServerFrame::CallSignal { .. }
                | ServerFrame::CallEnded { .. }
        ) {
            return false;
        }
    }
    true
}

fn offer() -> Signal {
    Signal::Offer { sdp: "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n".into() }
}

fn candidate(line: &str) -> Signal {
    Signal::Candidate { candidate: line.into(), sdp_mid: Some("0".into()), sdp_m_line_index: Some(0) }
}

fn send_signal(call_id: &str, signal: Signal) -> ClientFrame {
    ClientFrame::CallSignal { call_id: call_id.into(), signal }
}

/// A call in progress: invited by `caller`, taken by `callee`. Answers the call id.
async fn answered_call(caller: &mut Client, callee: &mut Client, chat: &ConversationId, callee_user: &User<'_>) -> String {
    caller.send(&invite(chat, callee_user, CallMedia::Video)).await;
    let call = ringing(caller).await;
    assert_eq!(incoming(callee).await.call_id, call.call_id);
    callee.send(&ClientFrame::CallAccept { call_id: call.call_id.clone() }).await;
    assert_eq!(accepted(caller).await, call.call_id);
    assert_eq!(accepted(callee).await, call.call_id);
    call.call_id
}

async fn every_tab_rings_and_the_first_to_accept_takes_the_call(server: &TestServer) {
    let (ann, bob, chat) = pair(server, "ann", "bob").await;
    let (mut a, mut b1, mut b2) = (ann.connect().await, bob.connect().await, bob.connect().await);
    a.send(&invite(&chat, &bob, CallMedia::Video)).await;
    let call = ringing(&mut a).await;
    assert_eq!((call.caller.nickname.as_str(), call.media, &call.conversation_id), ("ann", CallMedia::Video, &chat));
    for tab in [&mut b1, &mut b2] {
        let rung = incoming(tab).await;
        assert_eq!((rung.call_id.as_str(), rung.caller.id.0.as_str()), (call.call_id.as_str(), ann.id.as_str()));
    }
    b1.send(&ClientFrame::CallAccept { call_id: call.call_id.clone() }).await;
    assert_eq!(accepted(&mut a).await, call.call_id);
    assert_eq!(accepted(&mut b1).await, call.call_id);
    assert_eq!(ended(&mut b2).await, (CallEnd::AnsweredElsewhere, None), "the other tab stops ringing");
    b2.send(&ClientFrame::CallAccept { call_id: call.call_id.clone() }).await;
    assert_eq!(call_error(&mut b2).await, WsErrorCode::NotInCall, "too late");

    // Signals go between the two tabs in the call only.
    a.send(&send_signal(&call.call_id, offer())).await;
    assert_eq!(signal(&mut b1).await, offer());
    let answer = Signal::Answer { sdp: "v=0\r\ns=answer\r\n".into() };
    b1.send(&send_signal(&call.call_id, answer.clone())).await;
    assert_eq!(signal(&mut a).await, answer);
    let host = candidate("candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host");
    b1.send(&send_signal(&call.call_id, host.clone())).await;
    assert_eq!(signal(&mut a).await, host);
    let muted = Signal::State(PeerState { muted: true, ..PeerState::default() });
    a.send(&send_signal(&call.call_id, muted.clone())).await;
    assert_eq!(signal(&mut b1).await, muted);
    assert!(hears_no_call_frame(&mut b2).await, "the tab that lost hears nothing of the call");
    b2.send(&send_signal(&call.call_id, offer())).await;
    assert_eq!(call_error(&mut b2).await, WsErrorCode::NotInCall);

    tokio::time::sleep(Duration::from_millis(200)).await;
    b1.send(&ClientFrame::CallHangup { call_id: call.call_id.clone() }).await;
    for tab in [&mut a, &mut b1] {
        let (reason, duration) = ended(tab).await;
        assert_eq!(reason, CallEnd::HungUp);
        assert!(duration.unwrap() >= 200, "{duration:?}");
    }
    for tab in [&mut a, &mut b1, &mut b2] {
        let message = call_message(tab).await;
        let record = message.call.unwrap();
        assert_eq!((message.kind, record.outcome, message.sender_id.0.as_str()), (MessageKind::VideoCall, CallOutcome::Ended, ann.id.as_str()));
        assert!(record.duration_ms.unwrap() >= 200);
    }
    // Nothing of the call is left: both can call again at once.
    b1.send(&invite(&chat, &ann, CallMedia::Voice)).await;
    let again = ringing(&mut b1).await;
    b1.send(&ClientFrame::CallHangup { call_id: again.call_id }).await;
    assert_eq!(ended(&mut b1).await.0, CallEnd::Cancelled);
}

async fn declined_cancelled_and_missed_calls_are_recorded(server: &TestServer) {
    let (ann, bob, chat) = pair(server, "ann", "bob").await;
    let (mut a, mut b) = (ann.connect().await, bob.connect().await);
    // Declined.
    a.send(&invite(&chat, &bob, CallMedia::Voice)).await;
    let call = ringing(&mut a).await;
    incoming(&mut b).await;
    b.send(&ClientFrame::CallDecline { call_id: call.call_id.clone() }).await;
    assert_eq!(ended(&mut a).await, (CallEnd::Declined, None));
    assert_eq!(ended(&mut b).await, (CallEnd::Declined, None));
    // Cancelled.
    a.send(&invite(&chat, &bob, CallMedia::Video)).await;
    let call = ringing(&mut a).await;
    incoming(&mut b).await;
    a.send(&ClientFrame::CallHangup { call_id: call.call_id.clone() }).await;
    assert_eq!(ended(&mut b).await, (CallEnd::Cancelled, None));
    // Missed: nobody answers within the ring time (2 s here).
    a.send(&invite(&chat, &bob, CallMedia::Voice)).await;
    ringing(&mut a).await;
    incoming(&mut b).await;
    assert_eq!(ended(&mut a).await, (CallEnd::Missed, None));

    let expected = [
        (MessageKind::VoiceCall, CallOutcome::Declined),
        (MessageKind::VideoCall, CallOutcome::Cancelled),
        (MessageKind::VoiceCall, CallOutcome::Missed),
    ];
    let missed = call_message(&mut b).await;
    assert_eq!(missed.call.unwrap().outcome, CallOutcome::Missed, "the others went by while ringing");
    for user in [&ann, &bob] {
        let (_, history) = user.call(Method::GET, &format!("/api/conversations/{chat}/messages"), None).await;
        let mut history: Vec<Message> = serde_json::from_value(history).unwrap();
        history.reverse();
        let got: Vec<_> = history.iter().map(|m| (m.kind, m.call.as_ref().unwrap().outcome, m.content.as_str())).collect();
        assert_eq!(got, expected.map(|(kind, outcome)| (kind, outcome, "")));
    }
    // They count toward unread like any message, for the callee only.
    assert_eq!(bob.summary_once_unread(&chat, 3).await.unread, 3);
    assert_eq!(ann.summary_once_unread(&chat, 0).await.unread, 0);
}

async fn busy_callee_or_caller_is_told_busy(server: &TestServer) {
    let (ann, bob, chat) = pair(server, "ann", "bob").await;
    let cat = User::register(server, "cat").await;
    let (cat_bob, cat_ann) = (private_chat(&cat, &bob).await, private_chat(&cat, &ann).await);
    let (mut a, mut b, mut c) = (ann.connect().await, bob.connect().await, cat.connect().await);
    let call_id = answered_call(&mut a, &mut b, &chat, &bob).await;
    c.send(&invite(&cat_bob, &bob, CallMedia::Voice)).await;
    assert_eq!(call_error(&mut c).await, WsErrorCode::Busy);
    let busy = call_message(&mut c).await;
    assert_eq!((busy.conversation_id, busy.call.unwrap().outcome), (cat_bob.clone(), CallOutcome::Busy));
    // Busy while ringing too, and on another tab of someone in a call.
    let mut a2 = ann.connect().await;
    a2.send(&invite(&cat_ann, &cat, CallMedia::Voice)).await;
    assert_eq!(call_error(&mut a2).await, WsErrorCode::Busy, "the caller is in a call");
    a.send(&invite(&cat_ann, &cat, CallMedia::Voice)).await;
    assert_eq!(call_error(&mut a).await, WsErrorCode::Busy, "this very tab is in a call");
    a.send(&ClientFrame::CallHangup { call_id }).await;
    assert_eq!(ended(&mut b).await.0, CallEnd::HungUp);
    c.send(&invite(&cat_bob, &bob, CallMedia::Voice)).await;
    ringing(&mut c).await;
}

async fn bad_call_frames_get_error_frames(server: &TestServer) {
    let (ann, bob, chat) = pair(server, "ann", "bob").await;
    let cat = User::register(server, "cat").await;
    let group = ann.group("room", &[&bob], json!({})).await;
    let (mut a, mut b, mut c) = (ann.connect().await, bob.connect().await, cat.connect().await);
    a.send(&invite(&chat, &ann, CallMedia::Voice)).await;
    assert_eq!(call_error(&mut a).await, WsErrorCode::CannotCall, "oneself");
    a.send(&invite(&chat, &cat, CallMedia::Voice)).await;
    assert_eq!(call_error(&mut a).await, WsErrorCode::CannotCall, "someone outside the chat");
    a.send(&invite(&group, &bob, CallMedia::Voice)).await;
    assert_eq!(call_error(&mut a).await, WsErrorCode::CannotCall, "a group");
    c.send(&invite(&chat, &bob, CallMedia::Voice)).await;
    assert_eq!(call_error(&mut c).await, WsErrorCode::NotMember, "a chat one is not in");
    a.send(&send_signal("no-such-call", offer())).await;
    assert_eq!(call_error(&mut a).await, WsErrorCode::NotInCall);
    a.send(&ClientFrame::CallHangup { call_id: "no-such-call".into() }).await;
    assert_eq!(call_error(&mut a).await, WsErrorCode::NotInCall);

    let call_id = answered_call(&mut a, &mut b, &chat, &bob).await;
    for (signal, why) in [
        (Signal::Offer { sdp: "hello".into() }, "not SDP"),
        (Signal::Answer { sdp: format!("v=0\r\n{}", "a=x\r\n".repeat(MAX_SDP_BYTES / 5)) }, "too large"),
        (candidate("1 1 udp 2122260223 127.0.0.1 50000 typ host"), "not a candidate"),
        (candidate(&format!("candidate:{}", "9".repeat(2000))), "candidate too large"),
    ] {
        a.send(&send_signal(&call_id, signal)).await;
        assert_eq!(call_error(&mut a).await, WsErrorCode::BadSignal, "{why}");
    }
    a.send(&ClientFrame::CallSignal { call_id: call_id.clone(), signal: offer() }).await;
    assert_eq!(signal(&mut b).await, offer(), "the connection stays usable");
    // Others may not touch the call.
    for frame in [
        ClientFrame::CallAccept { call_id: call_id.clone() },
        ClientFrame::CallDecline { call_id: call_id.clone() },
        ClientFrame::CallHangup { call_id: call_id.clone() },
        ClientFrame::CallRejoin { call_id: call_id.clone() },
        send_signal(&call_id, offer()),
    ] {
        c.send(&frame).await;
        assert_eq!(call_error(&mut c).await, WsErrorCode::NotInCall, "{frame:?}");
    }
    // A flood of signals is cut off; the connection stays.
    let host = candidate("candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host");
    for _ in 0..150 {
        a.send(&send_signal(&call_id, host.clone())).await;
    }
    assert_eq!(call_error(&mut a).await, WsErrorCode::RateLimited);
    a.assert_alive().await;
    b.send(&ClientFrame::CallHangup { call_id }).await;
    assert_eq!(ended(&mut a).await.0, CallEnd::HungUp);
}

async fn a_dropped_tab_ends_its_call_unless_it_comes_back(server: &TestServer) {
    let (ann, bob, chat) = pair(server, "ann", "bob").await;
    let (mut a, mut b) = (ann.connect().await, bob.connect().await);
    let call_id = answered_call(&mut a, &mut b, &chat, &bob).await;
    // Bob's tab drops and reconnects within the grace period (1 s here).
    drop(b);
    let mut b = bob.connect().await;
    b.send(&ClientFrame::CallRejoin { call_id: call_id.clone() }).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    a.send(&send_signal(&call_id, offer())).await;
    assert_eq!(signal(&mut b).await, offer(), "the call goes on with the new tab");
    // Ann's tab drops for good.
    drop(a);
    let (reason, duration) = ended(&mut b).await;
    assert_eq!(reason, CallEnd::Dropped);
    assert!(duration.unwrap() >= 1500);
    assert_eq!(call_message(&mut b).await.call.unwrap().outcome, CallOutcome::Ended);
    // A caller dropping while it rings cancels the call.
    let mut a = ann.connect().await;
    a.send(&invite(&chat, &bob, CallMedia::Voice)).await;
    ringing(&mut a).await;
    incoming(&mut b).await;
    drop(a);
    assert_eq!(ended(&mut b).await, (CallEnd::Cancelled, None));
}

/// The Decline of a push notification: the service worker posts it.
async fn a_call_is_declined_over_http(server: &TestServer) {
    let (ann, bob, chat) = pair(server, "ann", "bob").await;
    let (mut a, mut b) = (ann.connect().await, bob.connect().await);
    a.send(&invite(&chat, &bob, CallMedia::Video)).await;
    let call = ringing(&mut a).await;
    incoming(&mut b).await;
    for (who, id) in [(&ann, call.call_id.as_str()), (&bob, "no-such-call"), (&bob, &"x".repeat(500))] {
        let (status, body) = who.call(Method::POST, &endpoint::call_decline(id), None).await;
        assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "the caller cannot decline; {body}");
    }
    let (status, body) = bob.call(Method::POST, &endpoint::call_decline(&call.call_id), None).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(ended(&mut a).await, (CallEnd::Declined, None));
    assert_eq!(ended(&mut b).await, (CallEnd::Declined, None));
    let (status, _) = bob.call(Method::POST, &endpoint::call_decline(&call.call_id), None).await;
    assert_eq!(status, 404, "a call that no longer rings");
    let (_, history) = ann.call(Method::GET, &format!("/api/conversations/{chat}/messages"), None).await;
    let history: Vec<Message> = serde_json::from_value(history).unwrap();
    assert_eq!(history[0].call.as_ref().unwrap().outcome, CallOutcome::Declined);
}

on_both_stores!(
    with quick;
    every_tab_rings_and_the_first_to_accept_takes_the_call,
    declined_cancelled_and_missed_calls_are_recorded,
    a_call_is_declined_over_http,
    busy_callee_or_caller_is_told_busy,
    bad_call_frames_get_error_frames,
    a_dropped_tab_ends_its_call_unless_it_comes_back,
);

/// Two nodes on one fresh database with quick call timings.
async fn quick_cluster() -> (TestServer, TestServer, redis::Client, String) {
    let mut flags = cluster_flags(redis_addr());
    flags.extend(QUICK.map(String::from));
    let database = flags[3].clone();
    let (a, b) = (node(&flags, "node-a").await, node(&flags, "node-b").await);
    // Both nodes must be subscribed before the first event.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let redis = redis::Client::open(format!("redis://{}/", redis_addr())).unwrap();
    (a, b, redis, format!("natter:{database}:call:*"))
}

/// The cluster's call keys: none may outlive its call.
async fn call_keys(redis: &redis::Client, pattern: &str) -> Vec<String> {
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("KEYS").arg(pattern).query_async(&mut conn).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callee_on_another_node_rings_and_answers() {
    let (node_a, node_b, redis, keys) = quick_cluster().await;
    let (ann, bob, chat) = pair(&node_a, "ann", "bob").await;
    let mut a = ann.connect_via(&node_a, vec![]).await;
    let mut b = bob.connect_via(&node_b, vec![]).await;
    let call_id = answered_call(&mut a, &mut b, &chat, &bob).await;
    assert!(!call_keys(&redis, &keys).await.is_empty(), "the call lives in Redis");
    a.send(&send_signal(&call_id, offer())).await;
    assert_eq!(signal(&mut b).await, offer());
    let host = candidate("candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host");
    b.send(&send_signal(&call_id, host.clone())).await;
    assert_eq!(signal(&mut a).await, host);
    a.send(&ClientFrame::CallHangup { call_id }).await;
    assert_eq!(ended(&mut b).await.0, CallEnd::HungUp);
    assert_eq!(call_message(&mut b).await.call.unwrap().outcome, CallOutcome::Ended);
    assert_eq!(call_message(&mut a).await.call.unwrap().outcome, CallOutcome::Ended);
    // A missed call across nodes, and nothing left afterwards.
    b.send(&invite(&chat, &ann, CallMedia::Voice)).await;
    ringing(&mut b).await;
    incoming(&mut a).await;
    assert_eq!(ended(&mut a).await, (CallEnd::Missed, None));
    assert_eq!(call_message(&mut a).await.call.unwrap().outcome, CallOutcome::Missed);
    assert_eq!(call_keys(&redis, &keys).await, Vec::<String>::new());
    node_a.stop().await;
    node_b.stop().await;
}

/// Whether a tab that accepted took the call.
async fn took_the_call(tab: &mut Client) -> bool {
    let (mut elsewhere, mut too_late) = (false, false);
    while !(elsewhere && too_late) {
        match tab.next().await {
            ServerFrame::CallAccepted { .. } => return true,
            ServerFrame::CallEnded { reason: CallEnd::AnsweredElsewhere, .. } => elsewhere = true,
            ServerFrame::Error { code: WsErrorCode::NotInCall, .. } => too_late = true,
            _ => {}
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tabs_on_two_nodes_accepting_at_once_get_one_winner() {
    let (node_a, node_b, redis, keys) = quick_cluster().await;
    let (ann, bob, chat) = pair(&node_a, "ann", "bob").await;
    let mut a = ann.connect_via(&node_a, vec![]).await;
    let mut b1 = bob.connect_via(&node_a, vec![]).await;
    let mut b2 = bob.connect_via(&node_b, vec![]).await;
    for round in 0..5 {
        a.send(&invite(&chat, &bob, CallMedia::Video)).await;
        let call = ringing(&mut a).await;
        incoming(&mut b1).await;
        incoming(&mut b2).await;
        let accept = ClientFrame::CallAccept { call_id: call.call_id.clone() };
        tokio::join!(b1.send(&accept), b2.send(&accept));
        accepted(&mut a).await;
        // Each tab hears either that it took the call, or both that the
        // other did and that its own accept came too late (in either order).
        let (won1, won2) = (took_the_call(&mut b1).await, took_the_call(&mut b2).await);
        assert!(won1 != won2, "round {round}: exactly one tab wins ({won1}, {won2})");
        a.send(&ClientFrame::CallHangup { call_id: call.call_id.clone() }).await;
        assert_eq!(ended(&mut a).await.0, CallEnd::HungUp);
        assert_eq!(call_message(&mut a).await.call.unwrap().outcome, CallOutcome::Ended);
        for tab in [&mut b1, &mut b2] {
            call_message(tab).await;
        }
    }
    assert_eq!(call_keys(&redis, &keys).await, Vec::<String>::new());
    node_a.stop().await;
    node_b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_the_ice_servers_with_turn_credentials() {
    let plain = TestServer::on_store("embedded").await;
    let ann = User::register(&plain, "ann").await;
    assert_eq!(ann.call(Method::GET, "/api/rtc/config", None).await, (200, json!({ "ice_servers": [] })));
    assert_eq!(plain.get("/api/rtc/config").await.status(), 401, "signed-in users only");
    plain.stop().await;

    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "turn-shared-secret\n").unwrap();
    let urls = "stun:stun.example.org:3478,turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349";
    let path = secret.path().display().to_string();
    let server = TestServer::start(&["--ice-servers", urls, "--turn-secret-file", &path]).await;
    let ann = User::register(&server, "ann").await;
    let (status, body) = ann.call(Method::GET, "/api/rtc/config", None).await;
    assert_eq!(status, 200);
    let config: wire::call::RtcConfig = serde_json::from_value(body).unwrap();
    assert_eq!(config.ice_servers[0].urls, vec!["stun:stun.example.org:3478"]);
    let turn = &config.ice_servers[1];
    assert_eq!(turn.urls.len(), 2);
    let username = turn.username.as_deref().unwrap();
    let (expiry, user) = username.split_once(':').unwrap();
    assert_eq!(user, ann.id);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let expiry = expiry.parse::<u64>().unwrap();
    assert!(expiry > now + 3500 && expiry <= now + 3601, "credentials last an hour, not {}", expiry - now);
    assert_eq!(turn.credential.as_ref().map(String::len), Some(28), "base64 of a 20-byte HMAC-SHA1");
    // Minting relay credentials takes the user's budget: ten, then one every 30 s.
    for _ in 1..10 {
        assert_eq!(ann.call(Method::GET, "/api/rtc/config", None).await.0, 200);
    }
    let (status, body) = ann.call(Method::GET, "/api/rtc/config", None).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")), "{body}");
    assert!(body["retry_after_secs"].as_u64().is_some_and(|s| (1..=30).contains(&s)), "{body}");
    server.stop().await;
}
