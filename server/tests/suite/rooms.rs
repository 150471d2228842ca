//! Group calls and live broadcasts end to end: real websocket clients do the
//! signalling, str0m clients (`sfu::probe`) send and receive media through
//! the server's forwarding unit on loopback.

use crate::support;

use std::{sync::atomic::Ordering::Relaxed, time::Duration};

use natter_server::sfu::{
    probe::{Probe, ProbeStats, Publish},
    rooms::MAX_CALL_PARTICIPANTS,
};
use reqwest::Method;
use serde_json::json;
use support::{
    chat::User,
    room::{all_receive, join, room_update, LOOPBACK, VIDEO_BPS},
    TestServer,
};
use wire::{
    model::{CallOutcome, MessageKind},
    protocol::{ClientFrame, ServerFrame, WsErrorCode},
    room::{RoomKind, RoomLeftReason, RoomRole, MAX_SDP_BYTES},
};

/// A server whose media port is any free one.
async fn server(store: &str) -> TestServer {
    TestServer::on_store_with(store, &["--media-udp-port", "0"]).await
}

async fn bad_room_requests_get_stable_codes(server: &TestServer) {
    let (ann, bob, eve) =
        (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "eve").await);
    let group = ann.group("g", &[&bob], json!({})).await;
    let join = |kind, role, sdp: &str| ClientFrame::RoomJoin {
        conversation_id: group.clone(),
        kind,
        role,
        video: false,
        sdp: sdp.to_owned(),
    };
    let (_probe, offer) = Probe::start(LOOPBACK, Publish::Video(VIDEO_BPS)).await.unwrap();

    let mut e = eve.connect().await;
    e.send(&join(RoomKind::Call, RoomRole::Participant, &offer)).await;
    assert_eq!(e.error().await.0, WsErrorCode::NotMember, "a non-member cannot call");
    e.send(&join(RoomKind::Live, RoomRole::Viewer, &offer)).await;
    assert_eq!(e.error().await.0, WsErrorCode::NotMember, "nor watch");

    let mut a = ann.connect().await;
    for bad in ["", "v=0\r\nnonsense", "hello"] {
        a.send(&join(RoomKind::Call, RoomRole::Participant, bad)).await;
        assert_eq!(a.error().await.0, WsErrorCode::BadSdp, "{bad:?}");
    }
    a.send(&join(RoomKind::Call, RoomRole::Participant, &"x".repeat(MAX_SDP_BYTES + 1))).await;
    assert_eq!(a.error().await.0, WsErrorCode::BadSdp);
    a.send(&join(RoomKind::Live, RoomRole::Viewer, &offer)).await;
    assert_eq!(a.error().await.0, WsErrorCode::NoRoom, "nobody broadcasts");
    a.send(&join(RoomKind::Call, RoomRole::Viewer, &offer)).await;
    assert_eq!(a.error().await.0, WsErrorCode::BadRequest, "calls have no viewers");
    let answer = ClientFrame::RoomAnswer { conversation_id: group.clone(), kind: RoomKind::Call, sdp: "v=0".into() };
    a.send(&answer).await;
    assert_eq!(a.error().await.0, WsErrorCode::NoRoom, "an answer outside a room");
    a.send(&ClientFrame::RoomLeave { conversation_id: group.clone(), kind: RoomKind::Live }).await;
    assert_eq!(a.error().await.0, WsErrorCode::NoRoom);
    a.send(&ClientFrame::RoomJoin { conversation_id: group.clone(), kind: RoomKind::Live, role: RoomRole::Broadcaster, video: true, sdp: offer.clone() }).await;
    loop {
        match a.next().await {
            ServerFrame::RoomJoined { .. } => break,
            ServerFrame::Error { code, message, .. } => panic!("{code:?} {message}"),
            _ => {}
        }
    }
    let (_other, offer) = Probe::start(LOOPBACK, Publish::Video(VIDEO_BPS)).await.unwrap();
    let mut b = bob.connect().await;
    b.send(&ClientFrame::RoomJoin { conversation_id: group.clone(), kind: RoomKind::Live, role: RoomRole::Broadcaster, video: true, sdp: offer }).await;
    assert_eq!(b.error().await.0, WsErrorCode::RoomFull, "one broadcaster at a time");
    let answer = ClientFrame::RoomAnswer { conversation_id: group.clone(), kind: RoomKind::Live, sdp: "garbage".into() };
    a.send(&answer).await;
    assert_eq!(a.error().await.0, WsErrorCode::BadSdp);
    a.assert_alive().await;
    e.assert_alive().await;
}

async fn a_broadcast_reaches_every_viewer_and_ends_with_its_broadcaster(server: &TestServer) {
    let (ann, bob, cat) =
        (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "cat").await);
    let group = ann.group("g", &[&bob, &cat], json!({})).await;
    let mut watcher = cat.connect().await;
    let mut host = join(&ann, &group, RoomKind::Live, RoomRole::Broadcaster, Publish::Video(VIDEO_BPS)).await;
    let state = room_update(&mut watcher, RoomKind::Live).await.expect("live now");
    assert_eq!(state.participants[0].user_id.0, ann.id);

    let mut viewers = vec![
        join(&bob, &group, RoomKind::Live, RoomRole::Viewer, Publish::Nothing).await,
        join(&cat, &group, RoomKind::Live, RoomRole::Viewer, Publish::Nothing).await,
    ];
    for viewer in &mut viewers {
        viewer.receives_video(20).await;
        assert!(viewer.probe.stats.audio_frames.load(Relaxed) > 0, "the sound comes too");
    }
    while room_update(&mut watcher, RoomKind::Live).await.expect("still live").viewers < 2 {}
    // The broadcaster uploads one stream whatever the number of viewers.
    let sent = host.probe.stats.bytes_sent.load(Relaxed) as f64;
    let received = viewers[0].probe.stats.bytes_received.load(Relaxed) as f64;
    assert!(sent < received * 1.6, "sent {sent} bytes for 2 viewers who got {received} each");

    // The broadcaster's connection drops: the broadcast ends for everyone and is recorded.
    drop(host.ws);
    for viewer in &mut viewers {
        let left = viewer.until(|f| matches!(f, ServerFrame::RoomLeft { .. })).await;
        assert!(matches!(left, ServerFrame::RoomLeft { reason: RoomLeftReason::Ended, .. }), "{left:?}");
    }
    while room_update(&mut watcher, RoomKind::Live).await.is_some() {}
    let record = watcher.message().await;
    assert_eq!((record.kind, record.sender_id.0.as_str()), (MessageKind::LiveStream, ann.id.as_str()));
    let call = record.call.expect("a call record");
    assert_eq!(call.outcome, CallOutcome::Ended);
    assert!(call.duration_ms.unwrap() > 0);
    host.ws = ann.connect().await;
    host.ws.assert_alive().await;
}

async fn a_removed_viewer_is_cut_off_at_once(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let group = ann.group("g", &[&bob], json!({})).await;
    let mut host = join(&ann, &group, RoomKind::Live, RoomRole::Broadcaster, Publish::Video(VIDEO_BPS)).await;
    let mut viewer = join(&bob, &group, RoomKind::Live, RoomRole::Viewer, Publish::Nothing).await;
    viewer.receives_video(5).await;
    assert_eq!(bob.call(Method::POST, &format!("/api/conversations/{group}/leave"), None).await.0, 204);
    let left = viewer.until(|f| matches!(f, ServerFrame::RoomLeft { .. })).await;
    assert!(matches!(left, ServerFrame::RoomLeft { reason: RoomLeftReason::Removed, .. }), "{left:?}");
    let frames = viewer.probe.stats.video_frames.load(Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(viewer.probe.stats.video_frames.load(Relaxed) <= frames + 1, "no media after the cut");
    host.room_where(|s| s.viewers == 0).await;
    let (_probe, offer) = Probe::start(LOOPBACK, Publish::Nothing).await.unwrap();
    viewer.ws.send(&ClientFrame::RoomJoin { conversation_id: group, kind: RoomKind::Live, role: RoomRole::Viewer, video: false, sdp: offer }).await;
    assert_eq!(viewer.ws.error().await.0, WsErrorCode::NotMember);
}

async fn a_group_call_forwards_everyone_and_records_its_length(server: &TestServer) {
    let (ann, bob, cat) =
        (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "cat").await);
    let group = ann.group("g", &[&bob, &cat], json!({})).await;
    let mut a = join(&ann, &group, RoomKind::Call, RoomRole::Participant, Publish::Video(VIDEO_BPS)).await;
    let mut b = join(&bob, &group, RoomKind::Call, RoomRole::Participant, Publish::Video(VIDEO_BPS)).await;
    let mut c = join(&cat, &group, RoomKind::Call, RoomRole::Participant, Publish::Video(VIDEO_BPS)).await;
    // Everyone gets both others' video.
    for joined in [&mut a, &mut b, &mut c] {
        joined.receives_video(60).await;
        while joined.probe.stats.video_streams.load(Relaxed) < 2 {
            joined.receives_video(joined.probe.stats.video_frames.load(Relaxed) + 1).await;
        }
    }
    let state = c.room_where(|s| s.participants.len() == 3 && s.participants.iter().all(|p| p.speaking)).await;
    assert!(state.video);
    c.leave().await;
    let left = c.until(|f| matches!(f, ServerFrame::RoomLeft { .. })).await;
    assert!(matches!(left, ServerFrame::RoomLeft { reason: RoomLeftReason::Left, .. }));
    drop(b);
    a.room_where(|s| s.participants.len() == 1).await;
    a.leave().await;
    let record = c.ws.message().await;
    assert_eq!((record.kind, record.sender_id.0.as_str()), (MessageKind::VideoCall, ann.id.as_str()));
    assert_eq!(record.call.map(|c| c.outcome), Some(CallOutcome::Ended));
}

async fn a_full_voice_call_forwards_everyone_to_everyone(server: &TestServer) {
    call_of(server, MAX_CALL_PARTICIPANTS, Publish::Audio).await;
}

async fn a_video_call_of_eight_forwards_everyone_to_everyone(server: &TestServer) {
    call_of(server, 8, Publish::Video(VIDEO_BPS)).await;
}

/// `people` join a call publishing `publish`; each receives every other's
/// streams, all flowing; when one leaves the others see it.
async fn call_of(server: &TestServer, people: usize, publish: Publish) {
    let mut users = Vec::new();
    for i in 0..people {
        users.push(User::register(server, &format!("u{i}")).await);
    }
    let members: Vec<&User> = users[1..].iter().collect();
    let group = users[0].group("g", &members, json!({})).await;
    let mut joined = Vec::new();
    for user in &users {
        joined.push(join(user, &group, RoomKind::Call, RoomRole::Participant, publish).await);
    }
    let video = matches!(publish, Publish::Video(_));
    let others = people as u64 - 1;
    let (videos, frames) = if video { (others, 10 * others) } else { (0, 0) };
    let every_stream =
        |_: usize, s: &ProbeStats| s.audio_streams.load(Relaxed) >= others && s.video_streams.load(Relaxed) >= videos;
    all_receive(&mut joined, every_stream).await;
    let frames_of = |s: &ProbeStats| (s.audio_frames.load(Relaxed), s.video_frames.load(Relaxed));
    let had: Vec<(u64, u64)> = joined.iter().map(|j| frames_of(&j.probe.stats)).collect();
    let flowing = |i: usize, s: &ProbeStats| {
        s.audio_frames.load(Relaxed) >= had[i].0 + 10 * others && s.video_frames.load(Relaxed) >= had[i].1 + frames
    };
    all_receive(&mut joined, flowing).await;
    for one in &joined {
        assert_eq!(one.probe.stats.audio_streams.load(Relaxed), others);
        assert_eq!(one.probe.stats.video_streams.load(Relaxed), videos);
    }
    let state = joined[0].room_where(|s| s.participants.len() == people && s.participants.iter().all(|p| p.speaking)).await;
    assert_eq!(state.video, video);

    // One leaves; the others see it.
    let mut leaving = joined.pop().expect("they joined");
    leaving.leave().await;
    leaving.until(|f| matches!(f, ServerFrame::RoomLeft { reason: RoomLeftReason::Left, .. })).await;
    for one in &mut joined {
        one.room_where(|s| s.participants.len() == people - 1).await;
    }
}

async fn a_participant_whose_media_dies_is_dropped(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let group = ann.group("g", &[&bob], json!({})).await;
    let mut a = join(&ann, &group, RoomKind::Call, RoomRole::Participant, Publish::Video(VIDEO_BPS)).await;
    let mut b = join(&bob, &group, RoomKind::Call, RoomRole::Participant, Publish::Video(VIDEO_BPS)).await;
    b.receives_video(10).await;
    a.receives_video(10).await;
    // Bob's media goes silent (his network died) while his websocket stays.
    drop(b.probe);
    let left = loop {
        match b.ws.next_within(Duration::from_secs(40)).await.expect("dropped within 40 s") {
            f @ ServerFrame::RoomLeft { .. } => break f,
            _ => continue,
        }
    };
    assert!(matches!(left, ServerFrame::RoomLeft { reason: RoomLeftReason::Failed, .. }), "{left:?}");
    a.room_where(|s| s.participants.len() == 1).await;
}

async fn a_new_connection_learns_the_rooms_in_progress(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let group = ann.group("g", &[&bob], json!({})).await;
    let _host = join(&ann, &group, RoomKind::Live, RoomRole::Broadcaster, Publish::Video(VIDEO_BPS)).await;
    let mut later = bob.connect().await;
    let state = room_update(&mut later, RoomKind::Live).await.expect("in progress");
    assert_eq!(state.participants[0].user_id.0, ann.id);
}

on_both_stores!(with server;
    bad_room_requests_get_stable_codes,
    a_broadcast_reaches_every_viewer_and_ends_with_its_broadcaster,
    a_removed_viewer_is_cut_off_at_once,
    a_group_call_forwards_everyone_and_records_its_length,
    a_full_voice_call_forwards_everyone_to_everyone,
    a_video_call_of_eight_forwards_everyone_to_everyone,
    a_participant_whose_media_dies_is_dropped,
    a_new_connection_learns_the_rooms_in_progress,
);
