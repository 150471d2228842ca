//! What someone outside a conversation, or a stranger to a user, can learn
//! and do: nothing of a conversation's messages.

#[macro_use]
mod support;

use reqwest::Method;
use serde_json::json;
use support::{chat::User, TestServer};
use wire::{api::DirectoryEntry, endpoint, protocol::ServerFrame};

async fn outsiders_see_no_message_of_a_group(server: &TestServer) {
    let (ann, bob, cat) =
        (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "cat").await);
    let club = ann.group("club", &[&bob], json!({ "visibility": "public", "join_policy": "invite_only" })).await;
    let mut a = ann.connect().await;
    a.send_text(&club, "s1", "the secret plan").await;
    assert!(matches!(a.answer("s1").await, ServerFrame::Ack { .. }));
    let no_content = |c: &serde_json::Value| c["last_seq"] == 0 && c["last_message"].is_null();

    let (_, directory) = cat.call(Method::GET, "/api/conversations/public", None).await;
    let directory: Vec<DirectoryEntry> = serde_json::from_value(directory).unwrap();
    let entry = directory.iter().find(|e| e.conversation.id == club).unwrap();
    assert!(entry.conversation.last_message.is_none() && entry.conversation.last_seq == 0, "{entry:?}");
    let (status, details) = cat.call(Method::GET, &format!("/api/conversations/{club}"), None).await;
    assert_eq!(status, 200);
    assert!(no_content(&details["conversation"]), "{details}");
    let (status, _) = cat.call(Method::GET, &format!("/api/conversations/{club}/messages"), None).await;
    assert_eq!(status, 404);

    // Invited, not yet in: still nothing.
    let invite = json!({ "user_id": cat.id });
    assert_eq!(ann.call(Method::POST, &format!("/api/conversations/{club}/invite"), Some(invite)).await.0, 204);
    let (_, invitations) = cat.call(Method::GET, endpoint::INVITATIONS, None).await;
    assert!(no_content(&invitations[0]), "{invitations}");

    // Members see it all.
    let (_, details) = bob.call(Method::GET, &format!("/api/conversations/{club}"), None).await;
    assert_eq!(details["conversation"]["last_message"]["text"], "the secret plan");
    assert_eq!(cat.call(Method::POST, &format!("/api/conversations/{club}/join"), None).await.0, 200);
    let (_, details) = cat.call(Method::GET, &format!("/api/conversations/{club}"), None).await;
    assert_eq!(details["conversation"]["last_seq"], 1);
}

on_both_stores!(outsiders_see_no_message_of_a_group);
