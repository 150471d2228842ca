//! Group calls and live broadcasts across two nodes sharing FerretDB and
//! Redis: whichever node a member's websocket is on, a conversation holds
//! one room of each kind, hosted by one node, and media flows straight
//! between each browser (a str0m probe) and that node. Needs
//! `NATTER_TEST_MONGODB_URI` and `NATTER_TEST_REDIS_URL`.

use crate::support;

use std::{sync::atomic::Ordering::Relaxed, time::Duration};

use natter_server::sfu::probe::{Probe, Publish};
use reqwest::Method;
use serde_json::json;
use support::{
    chat::{Client, User},
    cluster::{cluster_flags, node, redis_addr, NodeProcess},
    room::{join_via, room_update, Joined, LOOPBACK, VIDEO_BPS},
    TestServer,
};
use wire::{
    model::{ConversationId, MessageKind},
    protocol::{ClientFrame, ServerFrame, WsErrorCode},
    room::{RoomKind, RoomLeftReason, RoomRole},
};

/// The flags of a cluster's node relaying media on UDP port `port`, and the
/// pattern of the cluster's room keys in Redis.
fn with_media_port(flags: &[String], port: u16) -> Vec<String> {
    let mut flags = flags.to_vec();
    flags.extend(["--media-udp-port".to_owned(), port.to_string()]);
    flags
}

fn room_key_pattern(flags: &[String]) -> String {
    format!("natter:{}:room:*", flags[3])
}

/// Two nodes on one fresh database, each relaying media on its own UDP port
/// (`ports`: the tests run at once, so each has its pair, or 0 for any free
/// one), and the pattern of the cluster's room keys.
async fn cluster(ports: [u16; 2]) -> (TestServer, TestServer, String) {
    let flags = cluster_flags(redis_addr());
    let (a, b) = relaying_nodes(&flags, ports).await;
    (a, b, room_key_pattern(&flags))
}

/// Two nodes started with `flags`, relaying media on `ports`.
pub async fn relaying_nodes(flags: &[String], ports: [u16; 2]) -> (TestServer, TestServer) {
    let with_port = |port| with_media_port(flags, port);
    let (a, b) = (node(&with_port(ports[0]), "node-a").await, node(&with_port(ports[1]), "node-b").await);
    // Both nodes must be subscribed before the first event.
    tokio::time::sleep(Duration::from_secs(1)).await;
    (a, b)
}

async fn room_keys(pattern: &str) -> Vec<String> {
    let redis = redis::Client::open(format!("redis://{}/", redis_addr())).unwrap();
    let mut conn = redis.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("KEYS").arg(pattern).query_async(&mut conn).await.unwrap()
}

/// Waits until the cluster holds `count` room keys (the host writes and
/// removes them just after a room changes).
async fn room_keys_settle(pattern: &str, count: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let keys = room_keys(pattern).await;
        if keys.len() == count {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "wanted {count} room keys, found {keys:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Answers offers until the probe receives video from `streams` publishers.
async fn receives_streams(joined: &mut Joined, streams: u64) {
    joined.receives_video(30).await;
    while joined.probe.stats.video_streams.load(Relaxed) < streams {
        joined.receives_video(joined.probe.stats.video_frames.load(Relaxed) + 1).await;
    }
}

/// Whether a message reaches `client` within a short while.
async fn hears_no_message(client: &mut Client) -> bool {
    while let Some(frame) = client.next_within(Duration::from_millis(500)).await {
        if matches!(frame, ServerFrame::Message { .. }) {
            return false;
        }
    }
    true
}

fn join_frame(group: &ConversationId, kind: RoomKind, role: RoomRole, sdp: String) -> ClientFrame {
    ClientFrame::RoomJoin { conversation_id: group.clone(), kind, role, video: true, sdp }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_on_one_node_is_watched_from_the_other() {
    let (node_a, node_b, keys) = cluster([3960, 3961]).await;
    let (ann, bob, cat) =
        (User::register(&node_a, "ann").await, User::register(&node_a, "bob").await, User::register(&node_a, "cat").await);
    let group = ann.group("g", &[&bob, &cat], json!({})).await;
    let mut host = join_via(&ann, node_a.addr, &group, RoomKind::Live, RoomRole::Broadcaster, Publish::Video(VIDEO_BPS)).await;
    room_keys_settle(&keys, 2).await; // the host and the state of the room
    let mut viewer = join_via(&bob, node_b.addr, &group, RoomKind::Live, RoomRole::Viewer, Publish::Nothing).await;
    viewer.receives_video(20).await;
    assert!(viewer.probe.stats.audio_frames.load(Relaxed) > 0, "the sound comes too");

    // A viewer on node B who leaves the group is cut off by the host at once.
    let mut leaver = join_via(&cat, node_b.addr, &group, RoomKind::Live, RoomRole::Viewer, Publish::Nothing).await;
    leaver.receives_video(5).await;
    host.room_where(|s| s.viewers == 2).await;
    assert_eq!(cat.call(Method::POST, &format!("/api/conversations/{group}/leave"), None).await.0, 204);
    let left = leaver.until(|f| matches!(f, ServerFrame::RoomLeft { .. })).await;
    assert!(matches!(left, ServerFrame::RoomLeft { reason: RoomLeftReason::Removed, .. }), "{left:?}");
    host.room_where(|s| s.viewers == 1).await;

    drop(host.ws);
    // The end comes two ways, in either order: to the viewer, and to every member.
    let (mut left, mut ended) = (None, false);
    while left.is_none() || !ended {
        match viewer.ws.next().await {
            ServerFrame::RoomLeft { reason, .. } => left = Some(reason),
            ServerFrame::Room { room } => ended = room.kind == RoomKind::Live && room.state.is_none(),
            _ => {}
        }
    }
    assert_eq!(left, Some(RoomLeftReason::Ended));
    let record = viewer.ws.message().await;
    assert_eq!((record.kind, record.sender_id.0.as_str()), (MessageKind::LiveStream, ann.id.as_str()));
    room_keys_settle(&keys, 0).await;
    node_a.stop().await;
    node_b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_call_spans_two_nodes() {
    let (node_a, node_b, keys) = cluster([3962, 3963]).await;
    call_across(&node_a, &node_b).await;
    room_keys_settle(&keys, 0).await;
    node_a.stop().await;
    node_b.stop().await;
}

/// Ann on node A and bob on node B in one call, each receiving the other;
/// a connection opening on B hears of it; it ends recorded once.
pub async fn call_across(node_a: &TestServer, node_b: &TestServer) {
    let (ann, bob, cat) =
        (User::register(node_a, "ann").await, User::register(node_a, "bob").await, User::register(node_a, "cat").await);
    let group = ann.group("g", &[&bob, &cat], json!({})).await;
    let mut a = join_via(&ann, node_a.addr, &group, RoomKind::Call, RoomRole::Participant, Publish::Video(VIDEO_BPS)).await;
    let mut b = join_via(&bob, node_b.addr, &group, RoomKind::Call, RoomRole::Participant, Publish::Video(VIDEO_BPS)).await;
    receives_streams(&mut a, 1).await;
    receives_streams(&mut b, 1).await;
    a.room_where(|s| s.participants.len() == 2).await;

    // A connection opening on node B hears of the room node A hosts.
    let mut later = cat.connect_via(node_b, vec![]).await;
    let state = room_update(&mut later, RoomKind::Call).await.expect("in progress");
    assert_eq!(state.participants.len(), 2);

    b.leave().await;
    let left = b.until(|f| matches!(f, ServerFrame::RoomLeft { .. })).await;
    assert!(matches!(left, ServerFrame::RoomLeft { reason: RoomLeftReason::Left, .. }), "{left:?}");
    a.room_where(|s| s.participants.len() == 1).await;
    a.leave().await;
    let record = later.message().await;
    assert_eq!(record.kind, MessageKind::VideoCall);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_starting_a_call_at_once_start_one() {
    let (node_a, node_b, keys) = cluster([3964, 3965]).await;
    let (ann, bob) = (User::register(&node_a, "ann").await, User::register(&node_a, "bob").await);
    let group = ann.group("g", &[&bob], json!({})).await;
    for round in 0..4 {
        let (mut a, mut b) = tokio::join!(
            join_via(&ann, node_a.addr, &group, RoomKind::Call, RoomRole::Participant, Publish::Audio),
            join_via(&bob, node_b.addr, &group, RoomKind::Call, RoomRole::Participant, Publish::Audio),
        );
        // Each sees both in one room.
        a.room_where(|s| s.participants.len() == 2).await;
        b.room_where(|s| s.participants.len() == 2).await;
        for joined in [&mut a, &mut b] {
            joined.leave().await;
        }
        // One room, one record.
        assert_eq!(a.ws.message().await.kind, MessageKind::VoiceCall, "round {round}");
        assert!(hears_no_message(&mut a.ws).await, "round {round}: a second room was recorded");
        room_keys_settle(&keys, 0).await;
    }
    node_a.stop().await;
    node_b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_participant_whose_websocket_closes_is_dropped() {
    let (node_a, node_b, keys) = cluster([3966, 3967]).await;
    let (ann, bob, cat) =
        (User::register(&node_a, "ann").await, User::register(&node_a, "bob").await, User::register(&node_a, "cat").await);
    let group = ann.group("g", &[&bob, &cat], json!({})).await;
    let mut a = join_via(&ann, node_a.addr, &group, RoomKind::Call, RoomRole::Participant, Publish::Video(VIDEO_BPS)).await;
    let b = join_via(&bob, node_b.addr, &group, RoomKind::Call, RoomRole::Participant, Publish::Video(VIDEO_BPS)).await;
    let mut c = join_via(&cat, node_b.addr, &group, RoomKind::Call, RoomRole::Participant, Publish::Video(VIDEO_BPS)).await;
    receives_streams(&mut a, 2).await;
    receives_streams(&mut c, 2).await;
    drop(b);
    a.room_where(|s| s.participants.len() == 2).await;
    let state = c.room_where(|s| s.participants.len() == 2).await;
    assert!(state.participants.iter().all(|p| p.user_id.0 != bob.id), "bob is out");
    // Cat on node B still gets Ann's media after Bob's tracks went.
    let frames = c.probe.stats.video_frames.load(Relaxed);
    c.receives_video(frames + 10).await;
    drop(c);
    drop(a);
    room_keys_settle(&keys, 0).await;
    node_a.stop().await;
    node_b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_remote_room_requests_get_stable_codes() {
    let (node_a, node_b, keys) = cluster([0, 0]).await;
    let (ann, bob, eve) =
        (User::register(&node_a, "ann").await, User::register(&node_a, "bob").await, User::register(&node_a, "eve").await);
    let group = ann.group("g", &[&bob], json!({})).await;
    let (_probe, offer) = Probe::start(LOOPBACK, Publish::Video(VIDEO_BPS)).await.unwrap();
    let mut b = bob.connect_via(&node_b, vec![]).await;
    b.send(&join_frame(&group, RoomKind::Live, RoomRole::Viewer, offer.clone())).await;
    assert_eq!(b.error().await.0, WsErrorCode::NoRoom, "nobody broadcasts");

    let mut host = join_via(&ann, node_a.addr, &group, RoomKind::Live, RoomRole::Broadcaster, Publish::Video(VIDEO_BPS)).await;
    let mut e = eve.connect_via(&node_b, vec![]).await;
    e.send(&join_frame(&group, RoomKind::Live, RoomRole::Viewer, offer.clone())).await;
    assert_eq!(e.error().await.0, WsErrorCode::NotMember, "a non-member cannot watch");
    b.send(&join_frame(&group, RoomKind::Live, RoomRole::Viewer, "v=0\r\nnonsense".into())).await;
    assert_eq!(b.error().await.0, WsErrorCode::BadSdp, "the host refuses a bad offer");
    b.send(&join_frame(&group, RoomKind::Live, RoomRole::Broadcaster, offer.clone())).await;
    assert_eq!(b.error().await.0, WsErrorCode::RoomFull, "one broadcaster, whichever node");
    let answer = ClientFrame::RoomAnswer { conversation_id: group.clone(), kind: RoomKind::Live, sdp: "v=0".into() };
    b.send(&answer).await;
    assert_eq!(b.error().await.0, WsErrorCode::NoRoom, "an answer outside the room");

    let mut viewer = join_via(&bob, node_b.addr, &group, RoomKind::Live, RoomRole::Viewer, Publish::Nothing).await;
    viewer.receives_video(5).await;
    let answer = ClientFrame::RoomAnswer { conversation_id: group.clone(), kind: RoomKind::Live, sdp: "garbage".into() };
    viewer.ws.send(&answer).await;
    assert_eq!(viewer.ws.error().await.0, WsErrorCode::BadSdp, "the host checks a remote answer");
    viewer.ws.assert_alive().await;
    host.leave().await;
    host.until(|f| matches!(f, ServerFrame::RoomLeft { .. })).await;
    let left = viewer.until(|f| matches!(f, ServerFrame::RoomLeft { .. })).await;
    assert!(matches!(left, ServerFrame::RoomLeft { reason: RoomLeftReason::Ended, .. }), "{left:?}");
    room_keys_settle(&keys, 0).await;
    e.assert_alive().await;
    node_a.stop().await;
    node_b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rooms_of_a_node_that_dies_end_and_start_afresh() {
    let flags = cluster_flags(redis_addr());
    let pattern = room_key_pattern(&flags);
    let mut node_a = NodeProcess::start(&with_media_port(&flags, 3968), "node-a").await;
    let node_b = node(&with_media_port(&flags, 3969), "node-b").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (ann, bob) = (User::register(&node_b, "ann").await, User::register(&node_b, "bob").await);
    let group = ann.group("g", &[&bob], json!({})).await;
    let _a = join_via(&ann, node_a.addr, &group, RoomKind::Call, RoomRole::Participant, Publish::Video(VIDEO_BPS)).await;
    let mut b = join_via(&bob, node_b.addr, &group, RoomKind::Call, RoomRole::Participant, Publish::Video(VIDEO_BPS)).await;
    receives_streams(&mut b, 1).await;

    // Node A, hosting the call, dies: within the keys' time to live the call ends for Bob on node B.
    node_a.kill().await;
    let (mut left, mut ended) = (None, false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while left.is_none() || !ended {
        assert!(tokio::time::Instant::now() < deadline, "the call has not ended: {left:?} {ended}");
        match b.ws.next_within(Duration::from_secs(1)).await {
            Some(ServerFrame::RoomLeft { reason, .. }) => left = Some(reason),
            Some(ServerFrame::Room { room }) => ended = room.state.is_none(),
            _ => {}
        }
    }
    assert_eq!(left, Some(RoomLeftReason::Failed));
    room_keys_settle(&pattern, 0).await; // the dead node's keys expired

    // Joining again starts a fresh call, now hosted on node B.
    let mut again = join_via(&bob, node_b.addr, &group, RoomKind::Call, RoomRole::Participant, Publish::Audio).await;
    let state = again.room_where(|s| s.participants.len() == 1).await;
    assert_eq!(state.participants[0].user_id.0, bob.id);
    again.leave().await;
    room_keys_settle(&pattern, 0).await;
    node_b.stop().await;
}
