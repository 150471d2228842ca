//! What someone outside a conversation, or a stranger to a user, can learn
//! and do: nothing of a conversation's messages.

use crate::support;

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use support::{chat::User, TestServer};
use wire::{
    api::DirectoryEntry,
    call::CallMedia,
    endpoint,
    model::{ConversationId, UserId},
    protocol::{ClientFrame, NoticeKind, ServerFrame, WsErrorCode},
};

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


async fn private_chat(from: &User<'_>, to: &User<'_>) -> (u16, serde_json::Value) {
    from.call(Method::POST, endpoint::PRIVATE_CONVERSATIONS, Some(json!({ "user_id": to.id }))).await
}

/// A group made with `members` named, none of them accepting anything.
async fn named_group(owner: &User<'_>, name: &str, members: &[&User<'_>]) -> ConversationId {
    let body = json!({ "name": name, "members": members.iter().map(|u| u.id.clone()).collect::<Vec<_>>() });
    let (status, created) = owner.call(Method::POST, endpoint::CONVERSATIONS, Some(body)).await;
    assert_eq!(status, 201, "{created}");
    ConversationId(created["conversation"]["id"].as_str().unwrap().to_owned())
}

async fn befriend(a: &User<'_>, b: &User<'_>) {
    assert_eq!(a.call(Method::POST, &endpoint::friend(&UserId(b.id.clone())), None).await.0, 200);
    assert_eq!(b.call(Method::POST, &endpoint::friend(&UserId(a.id.clone())), None).await.0, 200);
}

/// A stranger's private chat waits as a request; friends are in at once;
/// someone who takes nothing from strangers refuses both chat and group.
async fn strangers_ask_friends_reach(server: &TestServer) {
    let (ann, bob, cat) =
        (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "cat").await);
    befriend(&ann, &bob).await;
    let mut a = ann.connect().await;

    // A friend's chat has both in it.
    let (status, body) = private_chat(&bob, &ann).await;
    assert_eq!(status, 201, "{body}");
    let (_, details) = ann.call(Method::GET, &format!("/api/conversations/{}", body["conversation"]["id"].as_str().unwrap()), None).await;
    assert_eq!(details["members"].as_array().unwrap().len(), 2);

    // A stranger's waits: cat may write, ann hears only of the request.
    let (status, body) = private_chat(&cat, &ann).await;
    assert_eq!(status, 201, "{body}");
    let request = ConversationId(body["conversation"]["id"].as_str().unwrap().to_owned());
    let mut c = cat.connect().await;
    c.send_text(&request, "hi", "hello, it's cat").await;
    assert!(matches!(c.answer("hi").await, ServerFrame::Ack { .. }));
    let mut heard = Vec::new();
    while let Some(frame) = a.next_within(Duration::from_millis(500)).await {
        heard.push(frame);
    }
    assert!(heard.iter().any(|f| matches!(f, ServerFrame::Notice { notice: NoticeKind::Invite, .. })), "{heard:?}");
    assert!(!heard.iter().any(|f| matches!(f, ServerFrame::Message { .. } | ServerFrame::Presence { .. })), "{heard:?}");
    let (_, invitations) = ann.call(Method::GET, endpoint::INVITATIONS, None).await;
    assert_eq!((invitations[0]["kind"].as_str(), invitations[0]["creator_id"].as_str()), (Some("private"), Some(cat.id.as_str())));
    assert!(invitations[0]["last_message"].is_null());
    let (status, _) = ann.call(Method::GET, &format!("/api/conversations/{request}/messages"), None).await;
    assert_eq!(status, 404, "not in it before accepting");
    // Calls need the callee in the chat.
    c.send(&ClientFrame::CallInvite { conversation_id: request.clone(), callee_id: UserId(ann.id.clone()), media: CallMedia::Voice }).await;
    assert_eq!(c.error().await.0, WsErrorCode::CannotCall);
    // Accepting is joining; the history is there.
    assert_eq!(ann.call(Method::POST, &format!("/api/conversations/{request}/join"), None).await.0, 200);
    let (_, history) = ann.call(Method::GET, &format!("/api/conversations/{request}/messages"), None).await;
    assert_eq!(history[0]["content"], "hello, it's cat");

    // A group: the friend is added, the stranger invited.
    let dan = User::register(server, "dan").await;
    let group = named_group(&ann, "g", &[&bob, &dan]).await;
    let (_, details) = ann.call(Method::GET, &format!("/api/conversations/{group}"), None).await;
    assert_eq!(details["members"].as_array().unwrap().len(), 2, "ann and bob; dan is asked");
    let (_, invitations) = dan.call(Method::GET, endpoint::INVITATIONS, None).await;
    assert_eq!(invitations[0]["id"], group.0.as_str());
    assert_eq!(dan.call(Method::DELETE, &endpoint::invitation(&group), None).await.0, 204, "declined");
    assert_eq!(dan.call(Method::DELETE, &endpoint::invitation(&group), None).await.0, 404);
    let (_, invitations) = dan.call(Method::GET, endpoint::INVITATIONS, None).await;
    assert_eq!(invitations.as_array().unwrap().len(), 0);

    // Friends only: strangers get nothing through.
    let closed = json!({ "contact": "friends", "findable_by_email": false });
    let answer = json!({ "contact": "friends", "findable_by_email": false, "read_receipts": true });
    assert_eq!(dan.call(Method::PUT, endpoint::ME_PRIVACY, Some(closed)).await, (200, answer), "receipts stay on unless said");
    let (status, body) = private_chat(&cat, &dan).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("not_accepting")), "{body}");
    let other = named_group(&cat, "other", &[&dan]).await;
    let (_, invitations) = dan.call(Method::GET, endpoint::INVITATIONS, None).await;
    assert_eq!(invitations.as_array().unwrap().len(), 0, "not even asked");
    let (status, body) = cat.call(Method::POST, &format!("/api/conversations/{other}/invite"), Some(json!({ "user_id": dan.id }))).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("not_accepting")));
}

/// A block stops messages, calls, friend requests, presence and being found, either way.
async fn a_block_keeps_two_apart(server: &TestServer) {
    let (ann, cat) = (User::register(server, "ann").await, User::register(server, "cat").await);
    befriend(&ann, &cat).await;
    let (_, body) = private_chat(&cat, &ann).await;
    let chat = ConversationId(body["conversation"]["id"].as_str().unwrap().to_owned());
    let group = ann.group("both", &[&cat], json!({})).await;
    let mut c = cat.connect().await;
    assert_eq!(ann.call(Method::PUT, &endpoint::block(&UserId(cat.id.clone())), None).await.0, 204);
    let (_, blocked) = ann.call(Method::GET, endpoint::BLOCKS, None).await;
    assert_eq!(blocked[0]["id"], cat.id.as_str());
    let (_, friends) = cat.call(Method::GET, endpoint::FRIENDS, None).await;
    assert_eq!(friends["friends"].as_array().unwrap().len(), 0, "the friendship ended");

    c.send_text(&chat, "m1", "are you there?").await;
    assert_eq!(c.error().await, (WsErrorCode::NotAccepting, Some("m1".into())));
    c.send(&ClientFrame::CallInvite { conversation_id: chat.clone(), callee_id: UserId(ann.id.clone()), media: CallMedia::Voice }).await;
    assert_eq!(c.error().await.0, WsErrorCode::NotAccepting);
    let (status, _) = cat.call(Method::POST, &endpoint::friend(&UserId(ann.id.clone())), None).await;
    assert_eq!(status, 403);
    let (status, _) = cat.call(Method::GET, &endpoint::user(&UserId(ann.id.clone())), None).await;
    assert_eq!(status, 404, "cannot look her up");
    let (_, found) = cat.call(Method::GET, &format!("{}?q=ann", endpoint::USERS), None).await;
    assert_eq!(found.as_array().unwrap().len(), 0, "cannot find her");
    // In the group they share, no presence or typing passes between them.
    let mut a = ann.connect().await;
    a.send(&ClientFrame::Typing { conversation_id: group.clone() }).await;
    while let Some(frame) = c.next_within(Duration::from_millis(500)).await {
        assert!(!matches!(frame, ServerFrame::Presence { .. } | ServerFrame::Typing { .. }), "{frame:?}");
    }
    let (_, details) = cat.call(Method::GET, &format!("/api/conversations/{group}"), None).await;
    let anns = details["members"].as_array().unwrap().iter().find(|m| m["profile"]["id"] == ann.id.as_str()).unwrap();
    assert_eq!(anns["presence"], "offline", "{details}");
    // The group itself goes on: messages still pass.
    a.send_text(&group, "g1", "hello all").await;
    assert_eq!(c.message().await.content, "hello all");

    // Unblocked: they may write again (the friendship stays ended).
    assert_eq!(ann.call(Method::DELETE, &endpoint::block(&UserId(cat.id.clone())), None).await.0, 204);
    assert_eq!(ann.call(Method::DELETE, &endpoint::block(&UserId(cat.id.clone())), None).await.0, 404);
    c.send_text(&chat, "m2", "hello again").await;
    assert!(matches!(c.answer("m2").await, ServerFrame::Ack { .. }));
}

/// Search finds by nickname; by e-mail only whoever allows it; and not too often.
async fn search_by_email_is_the_users_choice(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let by_email = format!("{}?q=bob@example.org", endpoint::USERS);
    let (_, found) = ann.call(Method::GET, &by_email, None).await;
    assert_eq!(found.as_array().unwrap().len(), 0);
    let open = json!({ "contact": "everyone", "findable_by_email": true });
    assert_eq!(bob.call(Method::PUT, endpoint::ME_PRIVACY, Some(open)).await.0, 200);
    let (_, found) = ann.call(Method::GET, &by_email, None).await;
    assert_eq!(found[0]["id"], bob.id.as_str());
    // A burst of 30, then 2 a second: 40 at once overdraw it however slowly
    // a loaded store answers each (one by one, the refill kept up on FerretDB).
    let search = format!("{}?q=b", endpoint::USERS);
    let answers = futures_util::future::join_all((0..40).map(|_| ann.call(Method::GET, &search, None))).await;
    let ok = answers.iter().filter(|(status, _)| *status == 200).count();
    let refused: Vec<_> = answers.iter().filter(|(status, _)| *status != 200).collect();
    assert!((28..40).contains(&ok), "{ok} answered");
    assert!(refused.iter().all(|(status, body)| (*status, body["code"].as_str()) == (429, Some("rate_limited"))));
}

on_both_stores!(
    outsiders_see_no_message_of_a_group,
    strangers_ask_friends_reach,
    a_block_keeps_two_apart,
    search_by_email_is_the_users_choice,
);
