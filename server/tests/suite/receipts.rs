//! Receipts, mention badges, one message fetched alone, and files that go
//! with their last message (issue "Everyday messaging"); on both stores, and
//! a receipt across two nodes.

use crate::support;

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use support::{
    chat::{file_send, Client, User},
    cluster::{redis_addr, two_nodes},
    TestServer,
};
use wire::{
    api::{ConversationSummary, Receipt, Receipts},
    endpoint,
    fold::Shown,
    model::{ConversationId, FileId, MessageKind, UserId, MENTION_ALL},
    protocol::{ClientFrame, ServerFrame},
};

/// Sends a text mentioning `mentions`; its seq.
async fn say(client: &mut Client, room: &ConversationId, client_id: &str, mentions: &[&str]) -> u64 {
    let frame = ClientFrame::Send {
        conversation_id: room.clone(),
        client_id: client_id.into(),
        kind: MessageKind::Text,
        content: format!("text of {client_id}"),
        attachment: None,
        target: None,
        reply_to: None,
        mentions: mentions.iter().map(|m| UserId((*m).into())).collect(),
    };
    client.send(&frame).await;
    match client.answer(client_id).await {
        ServerFrame::Ack { seq, .. } => seq,
        other => panic!("not acked: {other:?}"),
    }
}

/// Reads until a receipt of `room` arrives.
async fn receipt(client: &mut Client, room: &ConversationId) -> Receipt {
    loop {
        if let ServerFrame::Receipt { conversation_id, receipt } = client.next().await {
            if conversation_id == *room {
                return receipt;
            }
        }
    }
}

/// Reads whatever comes for a while: none of it may be a receipt.
async fn no_receipt(client: &mut Client) {
    while let Some(frame) = client.next_within(Duration::from_millis(500)).await {
        assert!(!matches!(frame, ServerFrame::Receipt { .. }), "no receipt expected: {frame:?}");
    }
}

fn receipt_of(user: &User<'_>, delivered_seq: u64, read_seq: u64) -> Receipt {
    Receipt { user_id: UserId(user.id.clone()), delivered_seq, read_seq }
}

async fn receipts(user: &User<'_>, room: &ConversationId) -> (u16, Value) {
    user.call(Method::GET, &endpoint::conversation_receipts(room), None).await
}

async fn read(user: &User<'_>, room: &ConversationId, seq: u64) {
    let (status, body) = user.call(Method::POST, &endpoint::conversation_read(room), Some(json!({ "seq": seq }))).await;
    assert_eq!(status, 204, "{body}");
}

async fn receipts_off(user: &User<'_>) {
    let (_, mut privacy) = user.call(Method::GET, endpoint::ME_PRIVACY, None).await;
    assert_eq!(privacy["read_receipts"], json!(true), "on unless turned off: {privacy}");
    privacy["read_receipts"] = json!(false);
    let (status, body) = user.call(Method::PUT, endpoint::ME_PRIVACY, Some(privacy)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(user.call(Method::GET, endpoint::ME_PRIVACY, None).await.1["read_receipts"], json!(false));
}

fn summary_of(summaries: Vec<ConversationSummary>, room: &ConversationId) -> ConversationSummary {
    summaries.into_iter().find(|s| s.conversation.id == *room).unwrap()
}

/// The user's `mention_seq` in `room` once it is `want`, or after 5 s
/// whatever it is: mentions are recorded just after the sender's ack.
async fn mention_seq(user: &User<'_>, room: &ConversationId, want: u64) -> u64 {
    let mut got = summary_of(user.summaries().await, room).mention_seq;
    for _ in 0..50 {
        if got == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        got = summary_of(user.summaries().await, room).mention_seq;
    }
    got
}

async fn receipts_follow_delivery_and_reading_on_any_device(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.private_chat(&bob).await;
    let bob_phone = bob.on_device("phone").await;
    let (mut a, mut b, mut phone) = (ann.connect().await, bob.connect().await, bob_phone.connect().await);
    let first = say(&mut a, &room, "m1", &[]).await;
    let second = say(&mut a, &room, "m2", &[]).await;

    b.send(&ClientFrame::Delivered { conversation_id: room.clone(), seq: first }).await;
    assert_eq!(receipt(&mut a, &room).await, receipt_of(&bob, first, 0));
    // Past the newest entry is the newest entry; the same position again tells nobody.
    phone.send(&ClientFrame::Delivered { conversation_id: room.clone(), seq: 999 }).await;
    assert_eq!(receipt(&mut a, &room).await, receipt_of(&bob, second, 0));
    b.send(&ClientFrame::Delivered { conversation_id: room.clone(), seq: second }).await;
    no_receipt(&mut a).await;

    // Read on the phone: the receipt moves, and the laptop's unread clears.
    phone.send(&ClientFrame::Read { conversation_id: room.clone(), seq: first }).await;
    assert_eq!(receipt(&mut a, &room).await, receipt_of(&bob, second, first));
    loop {
        if let ServerFrame::Read { seq, .. } = b.next().await {
            assert_eq!(seq, first);
            break;
        }
    }
    read(&bob, &room, second).await;
    assert_eq!(receipt(&mut a, &room).await, receipt_of(&bob, second, second));
    read(&bob, &room, first).await;
    no_receipt(&mut a).await;
    let (status, body) = receipts(&ann, &room).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_value::<Receipts>(body).unwrap().receipts, [receipt_of(&bob, second, second)]);
    // Ann's own position, as Bob sees it: she has read what she wrote.
    let (_, body) = receipts(&bob, &room).await;
    assert_eq!(serde_json::from_value::<Receipts>(body).unwrap().receipts, [receipt_of(&ann, second, second)]);

    let eve = User::register(server, "eve").await;
    let (status, body) = receipts(&eve, &room).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "nothing told to outsiders");
    let mut e = eve.connect().await;
    e.send(&ClientFrame::Delivered { conversation_id: room.clone(), seq: 1 }).await;
    assert!(matches!(e.next().await, ServerFrame::Error { .. }));
}

async fn who_turns_receipts_off_neither_sends_nor_sees_them(server: &TestServer) {
    let (ann, bob, cat) =
        (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "cat").await);
    let room = ann.group("room", &[&bob, &cat], json!({})).await;
    receipts_off(&cat).await;
    let (mut a, mut c) = (ann.connect().await, cat.connect().await);
    let seq = say(&mut a, &room, "m1", &[]).await;
    read(&cat, &room, seq).await;
    no_receipt(&mut a).await;
    read(&bob, &room, seq).await;
    assert_eq!(receipt(&mut a, &room).await, receipt_of(&bob, seq, seq));
    no_receipt(&mut c).await;
    let (status, body) = receipts(&cat, &room).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("receipts_off")), "{body}");
    let (_, body) = receipts(&ann, &room).await;
    let seen: Vec<UserId> = serde_json::from_value::<Receipts>(body).unwrap().receipts.into_iter().map(|r| r.user_id).collect();
    assert_eq!(seen, [UserId(bob.id.clone())], "cat's is not told");
}

/// A block keeps two members of a group apart in receipts too, either way.
async fn a_block_keeps_receipts_apart(server: &TestServer) {
    let (ann, bob, cat) =
        (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "cat").await);
    let room = ann.group("room", &[&bob, &cat], json!({})).await;
    let (status, body) = ann.call(Method::PUT, &endpoint::block(&UserId(bob.id.clone())), None).await;
    assert!(status < 300, "{body}");
    let mut a = ann.connect().await;
    let seq = say(&mut a, &room, "m1", &[]).await;
    read(&bob, &room, seq).await;
    no_receipt(&mut a).await;
    read(&cat, &room, seq).await;
    assert_eq!(receipt(&mut a, &room).await, receipt_of(&cat, seq, seq));
    let seen = |body: Value| -> Vec<UserId> {
        serde_json::from_value::<Receipts>(body).unwrap().receipts.into_iter().map(|r| r.user_id).collect()
    };
    assert_eq!(seen(receipts(&ann, &room).await.1), [UserId(cat.id.clone())], "the blocked one's is not told");
    assert!(!seen(receipts(&bob, &room).await.1).contains(&UserId(ann.id.clone())), "nor the blocker's to them");
}

async fn mention_badges_follow_mentions_edits_and_reading(server: &TestServer) {
    let (ann, bob, cat) =
        (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "cat").await);
    let room = ann.group("room", &[&bob, &cat], json!({})).await;
    let (mut a, mut b) = (ann.connect().await, bob.connect().await);
    let to_bob = say(&mut a, &room, "m1", &[&bob.id]).await;
    assert_eq!(mention_seq(&bob, &room, to_bob).await, to_bob);
    say(&mut a, &room, "m2", &[]).await;
    // A message whose after-store steps ran after the plain one's: they would have.
    let later = say(&mut a, &room, "m2b", &[&bob.id]).await;
    assert_eq!(mention_seq(&bob, &room, later).await, later);
    assert_eq!(mention_seq(&cat, &room, 0).await, 0, "a plain message mentions nobody");
    let to_all = say(&mut a, &room, "m3", &[MENTION_ALL]).await;
    assert_eq!(
        (mention_seq(&bob, &room, to_all).await, mention_seq(&cat, &room, to_all).await, mention_seq(&ann, &room, 0).await),
        (to_all, to_all, 0),
        "everyone but the sender"
    );
    let by_member = say(&mut b, &room, "m4", &[MENTION_ALL]).await;
    // Bob's own next mention of cat shows his @all was dropped, not late.
    let marker = say(&mut b, &room, "m4b", &[&cat.id]).await;
    assert_eq!(mention_seq(&cat, &room, marker).await, marker);
    let bobs = bob.call(Method::GET, &endpoint::conversation_message(&room, by_member), None).await.1;
    assert_eq!(bobs["message"]["mentions"], Value::Null, "@all only from owners and admins: {bobs}");
    read(&bob, &room, marker).await;
    let bobs = summary_of(bob.summaries().await, &room);
    assert!(bobs.read_seq >= bobs.mention_seq, "read: no badge");

    // An edit that mentions cat: her badge moves to the edit; bob's, mentioned before, stays.
    let hello = say(&mut a, &room, "m5", &[&bob.id]).await;
    let edit = ClientFrame::Send {
        conversation_id: room.clone(),
        client_id: "e1".into(),
        kind: MessageKind::Edit,
        content: "hello bob and cat".into(),
        attachment: None,
        target: Some(hello),
        reply_to: None,
        mentions: vec![UserId(bob.id.clone()), UserId(cat.id.clone())],
    };
    a.send(&edit).await;
    let ServerFrame::Ack { seq: edited, .. } = a.answer("e1").await else { panic!("the edit is acked") };
    assert_eq!((mention_seq(&cat, &room, edited).await, mention_seq(&bob, &room, hello).await), (edited, hello));
    // Over HTTP too: `@all` from a member is dropped from an edit as from a send.
    let (status, body) = bob
        .call(Method::PATCH, &endpoint::conversation_message(&room, marker), Some(json!({ "content": "hi", "mentions": [MENTION_ALL] })))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["mentions"], Value::Null, "{body}");

    // One message alone, its edit folded in.
    let (status, body) = bob.call(Method::GET, &endpoint::conversation_message(&room, hello), None).await;
    assert_eq!(status, 200, "{body}");
    let shown: Shown = serde_json::from_value(body).unwrap();
    assert_eq!(shown.message.content, "hello bob and cat");
    assert_eq!(shown.message.mentions, [UserId(bob.id.clone()), UserId(cat.id.clone())]);
    assert!(shown.edited_ms.is_some());
    for (user, seq, code) in [(&bob, edited, "no_such_message"), (&bob, 999, "no_such_message")] {
        let (status, body) = user.call(Method::GET, &endpoint::conversation_message(&room, seq), None).await;
        assert_eq!((status, body["code"].as_str()), (404, Some(code)), "seq {seq}: {body}");
    }
    let eve = User::register(server, "eve").await;
    let (status, body) = eve.call(Method::GET, &endpoint::conversation_message(&room, hello), None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{body}");
}

async fn upload(user: &User<'_>, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let url = user.server.url(&format!("/api/files?name={name}&kind=file"));
    let resp = user.server.client.post(url).bearer_auth(&user.token).body(bytes).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

fn bytes(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 0x1000;
    (0..len)
        .map(|i| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            if i == 0 { 0 } else { (x >> 24) as u8 }
        })
        .collect()
}

async fn a_file_goes_with_the_last_message_that_carries_it(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let (status, info) = upload(&ann, "a.bin", bytes(600_000, 1)).await;
    assert_eq!(status, 201, "{info}");
    let file = FileId(info["id"].as_str().unwrap().to_owned());
    let mut a = ann.connect().await;
    let mut seqs = Vec::new();
    for client_id in ["f1", "f2"] {
        a.send(&file_send(&room, client_id, MessageKind::File, &file, None, "")).await;
        let ServerFrame::Ack { seq, .. } = a.answer(client_id).await else { panic!("the file is posted") };
        seqs.push(seq);
    }
    let (status, body) = upload(&ann, "b.bin", bytes(600_000, 2)).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("quota_exceeded")), "{body}");
    let get = async || bob.call(Method::GET, &endpoint::file(&file), None).await.0;

    let delete = async |seq: u64| ann.call(Method::DELETE, &endpoint::conversation_message(&room, seq), None).await.0;
    assert_eq!(delete(seqs[0]).await, 201);
    assert_eq!(get().await, 200, "the other message still carries it");
    assert_eq!(delete(seqs[1]).await, 201);
    assert_eq!(get().await, 404, "gone with the last");
    let (status, body) = upload(&ann, "b.bin", bytes(600_000, 2)).await;
    assert_eq!(status, 201, "the quota is given back: {body}");
}

/// A server with a 1 MiB upload quota, so that giving it back shows.
async fn server(store: &str) -> TestServer {
    TestServer::on_store_with(store, &["--upload-quota-mib", "1"]).await
}

on_both_stores!(
    with server;
    receipts_follow_delivery_and_reading_on_any_device,
    who_turns_receipts_off_neither_sends_nor_sees_them,
    a_block_keeps_receipts_apart,
    mention_badges_follow_mentions_edits_and_reading,
    a_file_goes_with_the_last_message_that_carries_it,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_over_the_limit_keep_no_receipts() {
    let server = TestServer::start(&["--receipts-group-limit", "2"]).await;
    let (ann, bob, cat) =
        (User::register(&server, "ann").await, User::register(&server, "bob").await, User::register(&server, "cat").await);
    let pair = ann.group("pair", &[&bob], json!({})).await;
    let trio = ann.group("trio", &[&bob, &cat], json!({})).await;
    let mut a = ann.connect().await;
    let seq = say(&mut a, &trio, "m1", &[]).await;
    read(&bob, &trio, seq).await;
    no_receipt(&mut a).await;
    let (status, body) = receipts(&ann, &trio).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("group_too_large_for_receipts")), "{body}");
    let seq = say(&mut a, &pair, "m2", &[]).await;
    read(&bob, &pair, seq).await;
    assert_eq!(receipt(&mut a, &pair).await, receipt_of(&bob, seq, seq), "within the limit");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_reaches_a_member_on_another_node() {
    let (node_a, node_b) = two_nodes(redis_addr()).await;
    let (ann, bob) = (User::register(&node_a, "ann").await, User::register(&node_a, "bob").await);
    let room = ann.private_chat(&bob).await;
    let mut a = ann.connect_via(&node_a, vec![]).await;
    let mut b = bob.connect_via(&node_b, vec![]).await;
    // Both nodes must be subscribed before the first event.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seq = say(&mut a, &room, "m1", &[]).await;
    b.send(&ClientFrame::Delivered { conversation_id: room.clone(), seq }).await;
    assert_eq!(receipt(&mut a, &room).await, receipt_of(&bob, seq, 0));
    b.send(&ClientFrame::Read { conversation_id: room.clone(), seq }).await;
    assert_eq!(receipt(&mut a, &room).await, receipt_of(&bob, seq, seq));
    node_a.stop().await;
    node_b.stop().await;
}
