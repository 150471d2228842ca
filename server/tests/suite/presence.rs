//! Presence on one node, on both stores: online, away (chosen or after
//! inactivity), busy, invisible, per-conversation statuses, typing, and the
//! bad input around them.

use crate::support;

use futures_util::SinkExt;
use reqwest::Method;
use serde_json::json;
use support::{chat::User, TestServer};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use wire::{
    api::{ConversationDetails, ConversationSummary, StatusSettings},
    model::{ConversationId, Presence},
    protocol::{ClientFrame, ServerFrame, WsErrorCode},
};

async fn set_status(user: &User<'_>, body: serde_json::Value) -> StatusSettings {
    let (status, answer) = user.call(Method::PUT, "/api/me/status", Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    serde_json::from_value(answer).unwrap()
}

async fn member_presence(asker: &User<'_>, room: &ConversationId, who: &str) -> Presence {
    let (status, details) = asker.call(Method::GET, &format!("/api/conversations/{room}"), None).await;
    assert_eq!(status, 200);
    let details: ConversationDetails = serde_json::from_value(details).unwrap();
    details.members.into_iter().find(|m| m.profile.id.0 == who).unwrap().presence
}

async fn chosen_statuses_show_to_others(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    assert_eq!(member_presence(&ann, &room, &bob.id).await, Presence::Offline);
    let _b = bob.connect().await;
    assert_eq!(a.presence_of(&room, &bob.id).await, Presence::Online);
    assert_eq!(member_presence(&ann, &room, &bob.id).await, Presence::Online);
    for (status, shown) in [
        ("busy", Presence::Busy),
        ("away", Presence::Away),
        ("invisible", Presence::Offline),
        ("online", Presence::Online),
    ] {
        let settings = set_status(&bob, json!({ "status": status })).await;
        assert_eq!(serde_json::to_value(settings.status).unwrap(), status);
        assert_eq!(a.presence_of(&room, &bob.id).await, shown, "{status}");
        assert_eq!(member_presence(&ann, &room, &bob.id).await, shown, "{status}");
    }
    // The choice is kept: it is what bob's next session starts with.
    set_status(&bob, json!({ "status": "invisible" })).await;
    let (_, settings) = bob.call(Method::GET, "/api/me/status", None).await;
    assert_eq!(settings["status"], "invisible");
}

async fn invisible_users_are_left_out_of_online_lists(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let private = ann.private_chat(&bob).await;
    set_status(&bob, json!({ "status": "invisible" })).await;
    let mut a = ann.connect().await;
    let _b = bob.connect().await;
    // Connected, yet ann's list shows bob offline, and no online frame came.
    let peer = || async {
        let (_, list) = ann.call(Method::GET, "/api/conversations", None).await;
        let list: Vec<ConversationSummary> = serde_json::from_value(list).unwrap();
        list.into_iter().find(|s| s.conversation.id == private).unwrap().peer_presence
    };
    assert_eq!(peer().await, Presence::Offline);
    set_status(&bob, json!({ "status": "online" })).await;
    assert_eq!(a.presence_of(&private, &bob.id).await, Presence::Online, "the first presence frame is the change");
    assert_eq!(peer().await, Presence::Online);
}

async fn a_status_can_be_set_for_one_conversation(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let work = ann.group("work", &[&bob], json!({})).await;
    let fun = ann.group("fun", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    let _b = bob.connect().await;
    assert_eq!(a.presence_of(&work, &bob.id).await, Presence::Online);
    let settings = set_status(&bob, json!({ "status": "busy", "conversation_id": work })).await;
    assert_eq!(settings.conversations.len(), 1);
    assert_eq!(a.presence_of(&work, &bob.id).await, Presence::Busy);
    assert_eq!(member_presence(&ann, &work, &bob.id).await, Presence::Busy);
    assert_eq!(member_presence(&ann, &fun, &bob.id).await, Presence::Online);
    // Removing the override: back to the status of everywhere.
    let settings = set_status(&bob, json!({ "status": null, "conversation_id": work })).await;
    assert!(settings.conversations.is_empty());
    assert_eq!(a.presence_of(&work, &bob.id).await, Presence::Online);
}

async fn inactivity_shows_as_away_until_a_device_is_used(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    let mut laptop = bob.connect().await;
    assert_eq!(a.presence_of(&room, &bob.id).await, Presence::Online);
    laptop.send(&ClientFrame::Activity { active: false }).await;
    assert_eq!(a.presence_of(&room, &bob.id).await, Presence::Away);
    // Another device in use makes bob online again; closing it, away again.
    let phone = bob.connect().await;
    assert_eq!(a.presence_of(&room, &bob.id).await, Presence::Online);
    drop(phone);
    assert_eq!(a.presence_of(&room, &bob.id).await, Presence::Away);
    laptop.send(&ClientFrame::Activity { active: true }).await;
    assert_eq!(a.presence_of(&room, &bob.id).await, Presence::Online);
    // A chosen busy stays busy while idle.
    set_status(&bob, json!({ "status": "busy" })).await;
    assert_eq!(a.presence_of(&room, &bob.id).await, Presence::Busy);
    laptop.send(&ClientFrame::Activity { active: false }).await;
    laptop.assert_alive().await;
    assert_eq!(member_presence(&ann, &room, &bob.id).await, Presence::Busy);
}

async fn typing_reaches_the_other_members(server: &TestServer) {
    let (ann, bob, cat) =
        (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "cat").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let (mut a, mut b, mut c) = (ann.connect().await, bob.connect().await, cat.connect().await);
    a.send(&ClientFrame::Typing { conversation_id: room.clone() }).await;
    let heard = loop {
        if let ServerFrame::Typing { conversation_id, user_id } = b.next().await {
            break (conversation_id, user_id.0);
        }
    };
    assert_eq!(heard, (room.clone(), ann.id.clone()));
    // Not a member: an error, and nobody hears anything.
    c.send(&ClientFrame::Typing { conversation_id: room.clone() }).await;
    assert_eq!(c.error().await.0, WsErrorCode::NotMember);
    // The typist does not hear themselves.
    a.assert_alive().await;
    let mut own = false;
    while let Some(frame) = a.next_within(std::time::Duration::from_millis(300)).await {
        own |= matches!(frame, ServerFrame::Typing { .. });
    }
    assert!(!own);
}

async fn bad_statuses_are_refused(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let bobs = bob.group("bob's", &[], json!({})).await;
    let (status, body) = ann.call(Method::PUT, "/api/me/status", Some(json!({ "status": "sleepy" }))).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("sleepy"), "{body}");
    let (status, body) = ann.call(Method::PUT, "/api/me/status", Some(json!({ "status": null }))).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("status")), "{body}");
    let (status, body) = ann.call(Method::PUT, "/api/me/status", Some(json!({}))).await;
    assert_eq!(status, 400, "{body}");
    let not_mine = json!({ "status": "busy", "conversation_id": bobs });
    let (status, body) = ann.call(Method::PUT, "/api/me/status", Some(not_mine)).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{body}");
    // Nothing was stored by any of them.
    let (_, settings) = ann.call(Method::GET, "/api/me/status", None).await;
    assert_eq!(settings, json!({ "status": "online", "conversations": [] }));
    // Over the websocket, a malformed activity frame is a bad frame; the connection stays.
    let mut a = ann.connect().await;
    a.stream.send(WsMessage::Text(r#"{"type":"activity","active":"maybe"}"#.into())).await.unwrap();
    assert_eq!(a.error().await.0, WsErrorCode::BadFrame);
    a.assert_alive().await;
}

on_both_stores!(
    chosen_statuses_show_to_others,
    invisible_users_are_left_out_of_online_lists,
    a_status_can_be_set_for_one_conversation,
    inactivity_shows_as_away_until_a_device_is_used,
    typing_reaches_the_other_members,
    bad_statuses_are_refused,
);
