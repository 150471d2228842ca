//! Edits, deletes, reactions and pins (issue "Everyday messaging"): each an
//! entry of the conversation's sequence, seen live by every member, carried
//! by resume and history exactly once, folded by `wire::fold` into what the
//! message shows; the rules of who may change what; the same over HTTP for
//! bots; on both stores.

use crate::support;

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use support::{
    chat::{Client, User},
    cluster::{redis_addr, two_nodes},
    TestServer,
};
use wire::{
    endpoint,
    fold::Thread,
    model::{ConversationId, Message, MessageKind::*, UserId},
    protocol::{Position, ServerFrame, WsErrorCode},
};

/// The seq an answer acked, or the error code it carried.
fn acked(frame: ServerFrame) -> Result<(u64, bool), WsErrorCode> {
    match frame {
        ServerFrame::Ack { seq, duplicate, .. } => Ok((seq, duplicate)),
        ServerFrame::Error { code, .. } => Err(code),
        other => panic!("not an answer: {other:?}"),
    }
}

/// Reads until an entry of `kind` arrives (one's own entries come back too).
async fn entry_of(client: &mut Client, kind: wire::model::MessageKind) -> Message {
    loop {
        let message = client.message().await;
        if message.kind == kind {
            return message;
        }
    }
}

/// Sends a text; its seq.
async fn say(client: &mut Client, room: &ConversationId, client_id: &str, text: &str) -> u64 {
    client.send_text(room, client_id, text).await;
    acked(client.answer(client_id).await).unwrap().0
}

/// The conversation's history as `user` reads it over HTTP, folded.
async fn folded(user: &User<'_>, room: &ConversationId) -> Thread {
    let (status, page) = user.call(Method::GET, &format!("/api/conversations/{room}/messages?limit=100"), None).await;
    assert_eq!(status, 200, "{page}");
    let mut thread = Thread::default();
    serde_json::from_value::<Vec<Message>>(page).unwrap().into_iter().for_each(|m| thread.add(m));
    thread
}

async fn everyone_sees_each_change_and_the_rules_hold(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let (mut a, mut b) = (ann.connect().await, bob.connect().await);
    let hello = say(&mut a, &room, "m1", "helo").await;
    b.message().await;

    assert_eq!(acked(a.change(&room, "e1", Edit, hello, "hello").await), Ok((hello + 1, false)));
    let edit = entry_of(&mut b, Edit).await;
    assert_eq!((edit.kind, edit.target, edit.content.as_str()), (Edit, Some(hello), "hello"));
    assert!(acked(b.change(&room, "r1", React, hello, "👍").await).is_ok());
    entry_of(&mut a, React).await;
    // Reacting again is no change and no error: acked as the first time.
    assert_eq!(acked(b.change(&room, "r2", React, hello, "👍").await), Ok((hello + 2, true)));
    assert_eq!(acked(a.change(&room, "p1", Pin, hello, "").await).map(|(_, dup)| dup), Ok(false), "the owner pins");

    // What members may not do, each refused with its code and nothing stored.
    let refused = [
        (b.change(&room, "x1", Edit, hello, "bob's words").await, WsErrorCode::Forbidden),
        (b.change(&room, "x2", Delete, hello, "").await, WsErrorCode::Forbidden),
        (b.change(&room, "x3", Pin, hello, "").await, WsErrorCode::Forbidden),
        (b.change(&room, "x4", React, hello, "not one emoji").await, WsErrorCode::BadRequest),
        (b.change(&room, "x5", React, 999, "👍").await, WsErrorCode::NoSuchMessage),
        (b.change(&room, "x6", React, hello + 1, "👍").await, WsErrorCode::NoSuchMessage),
    ];
    for (i, (answer, code)) in refused.into_iter().enumerate() {
        assert_eq!(acked(answer), Err(code), "refusal {i}");
    }

    assert!(acked(a.change(&room, "d1", Delete, hello, "").await).is_ok());
    entry_of(&mut b, Delete).await;
    assert_eq!(acked(b.change(&room, "r3", React, hello, "😮").await), Err(WsErrorCode::MessageDeleted));
    let thread = folded(&bob, &room).await;
    let shown = thread.shown(hello).unwrap();
    assert_eq!((shown.message.content.as_str(), shown.deleted_by), ("", Some(UserId(ann.id.clone()))));
    assert!(shown.reactions.is_empty() && thread.pinned().is_empty());
    // The store keeps no word of it: the message and its edit hold none.
    assert_eq!(thread.edits(hello).iter().map(|e| e.content.as_str()).collect::<Vec<_>>(), [""]);
}

async fn an_offline_member_catches_up_on_exactly_the_changes(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    let mut seqs = Vec::new();
    for i in 0..4 {
        seqs.push(say(&mut a, &room, &format!("m{i}"), &format!("text {i}")).await);
    }
    let seen = *seqs.last().unwrap();
    for (i, text) in ["one", "two", "three"].iter().enumerate() {
        acked(a.change(&room, &format!("e{i}"), Edit, seqs[0], text).await).unwrap();
    }
    acked(a.change(&room, "d1", Delete, seqs[1], "").await).unwrap();
    acked(a.change(&room, "d2", Delete, seqs[2], "").await).unwrap();
    for (i, emoji) in ["👍", "🎉", "😂", "❤️", "🙏"].iter().enumerate() {
        acked(a.change(&room, &format!("r{i}"), React, seqs[3], emoji).await).unwrap();
    }
    let mut b = bob.connect_resuming(vec![Position { conversation_id: room.clone(), seq: seen }]).await;
    let mut got = Vec::new();
    for _ in 0..10 {
        got.push(b.message().await);
    }
    assert_eq!(got.iter().map(|m| m.seq).collect::<Vec<_>>(), (seen + 1..=seen + 10).collect::<Vec<_>>());
    assert!(b.next_within(Duration::from_millis(300)).await.is_none(), "nothing twice");
    let mut thread = folded(&bob, &room).await;
    got.into_iter().for_each(|m| thread.add(m));
    assert_eq!(thread.shown(seqs[0]).unwrap().message.content, "three");
    assert!(thread.shown(seqs[1]).unwrap().deleted_by.is_some() && thread.shown(seqs[2]).unwrap().deleted_by.is_some());
    assert_eq!(thread.shown(seqs[3]).unwrap().reactions.len(), 5);
}

async fn unread_counts_ignore_changes(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    let first = say(&mut a, &room, "m1", "one").await;
    say(&mut a, &room, "m2", "two").await;
    acked(a.change(&room, "r1", React, first, "👍").await).unwrap();
    acked(a.change(&room, "e1", Edit, first, "one!").await).unwrap();
    assert_eq!(bob.summary_once_unread(&room, 2).await.unread, 2, "two messages, not four entries");
    // Bob reacts to the first: he has not read the second for it.
    let mut b = bob.connect().await;
    acked(b.change(&room, "r2", React, first, "🎉").await).unwrap();
    let summaries = bob.summaries().await;
    assert_eq!(summaries.iter().find(|s| s.conversation.id == room).unwrap().unread, 2);
    let anns = ann.summaries().await;
    assert_eq!(anns.iter().find(|s| s.conversation.id == room).unwrap().unread, 0, "a reaction is no message");
}

async fn replies_name_a_live_message(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    let first = say(&mut a, &room, "m1", "question?").await;
    let reply = |client_id: &str, reply_to: u64| wire::protocol::ClientFrame::Send {
        conversation_id: room.clone(),
        client_id: client_id.into(),
        kind: Text,
        content: "answer".into(),
        attachment: None,
        target: None,
        reply_to: Some(reply_to),
        mentions: vec![UserId(bob.id.clone()), UserId("a stranger".into())],
    };
    a.send(&reply("m2", first)).await;
    let (seq, _) = acked(a.answer("m2").await).unwrap();
    let stored = folded(&ann, &room).await.shown(seq).unwrap().message;
    assert_eq!((stored.reply_to, stored.mentions), (Some(first), vec![UserId(bob.id.clone())]), "strangers dropped");
    a.send(&reply("m3", 999)).await;
    assert_eq!(acked(a.answer("m3").await), Err(WsErrorCode::NoSuchMessage));
    acked(a.change(&room, "d1", Delete, first, "").await).unwrap();
    a.send(&reply("m4", first)).await;
    assert_eq!(acked(a.answer("m4").await), Err(WsErrorCode::MessageDeleted));
}

async fn bots_send_and_change_over_http(server: &TestServer) {
    let (ann, bob, eve) =
        (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "eve").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut b = bob.connect().await;
    let messages = endpoint::conversation_messages(&room);
    let hello = json!({ "client_id": "bot-1", "content": "helo :wave:" });
    let (status, sent) = ann.call(Method::POST, &messages, Some(hello.clone())).await;
    assert_eq!((status, sent["content"].as_str()), (201, Some("helo 👋")), "{sent}");
    let seq = sent["seq"].as_u64().unwrap();
    assert_eq!(b.message().await.seq, seq, "delivered live like any message");
    assert_eq!(ann.call(Method::POST, &messages, Some(hello)).await.0, 200, "a resent client id is stored once");

    let message = endpoint::conversation_message(&room, seq);
    let reaction = endpoint::message_reaction(&room, seq, "👍");
    let pin = endpoint::message_pin(&room, seq);
    let steps = [
        (&ann, Method::PATCH, message.as_str(), Some(json!({ "content": "hello" })), 201, None),
        (&bob, Method::PUT, reaction.as_str(), None, 201, None),
        (&bob, Method::PUT, reaction.as_str(), None, 200, None),
        (&ann, Method::PUT, pin.as_str(), None, 201, None),
        (&bob, Method::PATCH, message.as_str(), Some(json!({ "content": "mine now" })), 403, Some("forbidden")),
        (&bob, Method::DELETE, pin.as_str(), None, 403, Some("forbidden")),
        (&eve, Method::PUT, reaction.as_str(), None, 404, Some("not_found")),
        (&bob, Method::DELETE, reaction.as_str(), None, 201, None),
        (&ann, Method::DELETE, message.as_str(), None, 201, None),
        (&ann, Method::DELETE, message.as_str(), None, 410, Some("message_deleted")),
    ];
    for (i, (user, method, path, body, status, code)) in steps.into_iter().enumerate() {
        let (got, answer) = user.call(method, path, body).await;
        assert_eq!((got, answer["code"].as_str()), (status, code), "step {i}: {answer}");
    }
    let absent = endpoint::conversation_message(&room, 999);
    let (status, answer) = ann.call(Method::PATCH, &absent, Some(json!({ "content": "x" }))).await;
    assert_eq!((status, answer["code"].as_str()), (404, Some("no_such_message")));
    let change = json!({ "client_id": "bot-2", "kind": "edit", "content": "x" });
    assert_eq!(ann.call(Method::POST, &messages, Some(change)).await.0, 400, "changes have their own endpoints");
    let shown = folded(&bob, &room).await.shown(seq).unwrap();
    assert_eq!((shown.message.content.as_str(), shown.deleted_by.is_some()), ("", true));
}

/// The pinned bar's list: pins however old, the latest first, without the
/// unpinned or deleted; for members only.
async fn the_pinned_list_holds_pins_of_any_age(server: &TestServer) {
    let (ann, bob, eve) =
        (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "eve").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    let mut said = Vec::new();
    for n in 0..4 {
        said.push(say(&mut a, &room, &format!("m{n}"), &format!("text {n}")).await);
    }
    for (n, target) in said.iter().enumerate() {
        assert!(acked(a.change(&room, &format!("p{n}"), Pin, *target, "").await).is_ok());
    }
    assert!(acked(a.change(&room, "u1", Unpin, said[1], "").await).is_ok());
    assert!(acked(a.change(&room, "d2", Delete, said[2], "").await).is_ok());
    // Later messages: the list comes from the pins, not from what is newest.
    for n in 0..10 {
        say(&mut a, &room, &format!("f{n}"), "filler").await;
    }
    let pins = endpoint::conversation_pins(&room);
    let (status, list) = bob.call(Method::GET, &pins, None).await;
    assert_eq!(status, 200, "{list}");
    let list: Vec<wire::fold::Shown> = serde_json::from_value(list).unwrap();
    let pinned: Vec<(u64, &str)> = list.iter().map(|s| (s.message.seq, s.message.content.as_str())).collect();
    assert_eq!(pinned, [(said[3], "text 3"), (said[0], "text 0")]);
    assert_eq!(eve.call(Method::GET, &pins, None).await.0, 404, "not a member");
}

/// History pages fold right whichever page a change and its message are
/// on: an edit on the newest page of a message on the third.
async fn history_pages_fold_across_their_boundaries(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    let first = say(&mut a, &room, "m0", "first draft").await;
    for n in 1..5 {
        say(&mut a, &room, &format!("m{n}"), &format!("text {n}")).await;
    }
    acked(a.change(&room, "e1", Edit, first, "first, edited").await).unwrap();
    let mut thread = Thread::default();
    let mut before = None::<u64>;
    for _ in 0..3 {
        let at = before.map(|b| format!("&before={b}")).unwrap_or_default();
        let (status, page) = bob.call(Method::GET, &format!("/api/conversations/{room}/messages?limit=2{at}"), None).await;
        assert_eq!(status, 200, "{page}");
        let page: Vec<Message> = serde_json::from_value(page).unwrap();
        before = page.iter().map(|m| m.seq).min();
        page.into_iter().for_each(|m| thread.add(m));
    }
    assert_eq!(before, Some(first), "the message came on the third page");
    assert_eq!(thread.shown(first).unwrap().message.content, "first, edited");
}

/// A deleted message's words are gone from the store itself (read behind
/// the server's back), and so are those of its edits; others' stay.
async fn a_delete_leaves_no_word_in_the_store(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    let secret = say(&mut a, &room, "m1", "the door code is 4711-secret").await;
    acked(a.change(&room, "e1", Edit, secret, "the door code is 4712-secret").await).unwrap();
    say(&mut a, &room, "m2", "the meeting is at noon").await;
    assert!(server.store_holds_text("4711-secret").await && server.store_holds_text("4712-secret").await);
    acked(a.change(&room, "d1", Delete, secret, "").await).unwrap();
    assert!(!server.store_holds_text("4711-secret").await, "the message's words are gone");
    assert!(!server.store_holds_text("4712-secret").await, "and its edit's");
    assert!(server.store_holds_text("meeting is at noon").await, "others' stay");
    // The newest message deleted: the conversation's preview of it goes too.
    let last = say(&mut a, &room, "m3", "last words 0815-secret").await;
    acked(a.change(&room, "d2", Delete, last, "").await).unwrap();
    let summaries = ann.summaries().await;
    let preview = summaries.iter().find(|s| s.conversation.id == room).unwrap().conversation.last_message.clone().unwrap();
    assert_eq!((preview.seq, preview.text.as_str()), (last, ""));
    assert!(!server.store_holds_text("0815-secret").await);
}

on_both_stores!(
    bots_send_and_change_over_http,
    a_delete_leaves_no_word_in_the_store,
    history_pages_fold_across_their_boundaries,
    the_pinned_list_holds_pins_of_any_age,
    everyone_sees_each_change_and_the_rules_hold,
    an_offline_member_catches_up_on_exactly_the_changes,
    unread_counts_ignore_changes,
    replies_name_a_live_message,
);

#[tokio::test]
async fn limits_come_from_the_flags() {
    let server = TestServer::start(&["--edit-window-hours", "0", "--max-reactions", "2"]).await;
    let (ann, bob) = (User::register(&server, "ann").await, User::register(&server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    let first = say(&mut a, &room, "m1", "final").await;
    assert_eq!(acked(a.change(&room, "e1", Edit, first, "changed").await), Err(WsErrorCode::EditWindowClosed));
    acked(a.change(&room, "r1", React, first, "👍").await).unwrap();
    acked(a.change(&room, "r2", React, first, "🎉").await).unwrap();
    assert_eq!(acked(a.change(&room, "r3", React, first, "😂").await), Err(WsErrorCode::TooManyReactions));
    let mut b = bob.connect().await;
    assert!(acked(b.change(&room, "r4", React, first, "🎉").await).is_ok(), "one of the two given: fine");
    server.stop().await;
}

/// Two nodes: a change made through one reaches a member on the other, and
/// the sender's own device there, live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_reach_every_device_across_nodes() {
    let (node_a, node_b) = two_nodes(redis_addr()).await;
    let (ann, bob) = (User::register(&node_a, "ann").await, User::register(&node_a, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect_via(&node_a, vec![]).await;
    let mut a_elsewhere = ann.connect_via(&node_b, vec![]).await;
    let mut b = bob.connect_via(&node_b, vec![]).await;
    // Both nodes must be subscribed before the first event.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seq = say(&mut a, &room, "m1", "hello").await;
    acked(a.change(&room, "e1", Edit, seq, "hello, all").await).unwrap();
    acked(a.change(&room, "r1", React, seq, "👋").await).unwrap();
    for client in [&mut b, &mut a_elsewhere] {
        let edit = entry_of(client, Edit).await;
        let reaction = entry_of(client, React).await;
        assert_eq!((edit.target, edit.content.as_str()), (Some(seq), "hello, all"));
        assert_eq!((reaction.target, reaction.content.as_str()), (Some(seq), "👋"));
    }
    node_a.stop().await;
    node_b.stop().await;
}
