//! Web Push (issue 22): each subscribed device is a real local push service
//! that decrypts what it is sent (RFC 8291) with the device's own key and
//! checks the VAPID token (RFC 8292), the way a browser's push service and
//! the browser would; on both stores, and once across two nodes.

use crate::support;

use std::{
    net::SocketAddr,
    sync::{
        atomic::{AtomicU16, Ordering},
        Arc,
    },
    time::Duration,
};

use aes_gcm::{aead::Aead, Aes128Gcm, KeyInit, Nonce};
use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
    Router,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hkdf::Hkdf;
use p256::{
    ecdsa::{signature::Verifier, Signature, VerifyingKey},
    elliptic_curve::sec1::ToEncodedPoint,
    PublicKey, SecretKey,
};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;
use support::{
    chat::{Client, User},
    cluster::{cluster_flags, node, redis_addr},
    TestServer,
};
use tokio::sync::{mpsc, Mutex};
use wire::{
    endpoint,
    call::CallMedia,
    model::{ConversationId, MessageKind, UserId},
    protocol::{ClientFrame, ServerFrame},
    push::{PushEvent, PushKey, PushPayload, MUTED_FOREVER},
};

/// A message's push as the device got it.
#[derive(Debug)]
struct Received {
    payload: PushPayload,
    headers: HeaderMap,
}

/// One browser's subscription with its own push service: the key pair and
/// authentication secret a browser makes, and the endpoint they are sent to.
struct Device {
    addr: SocketAddr,
    secret: SecretKey,
    auth: [u8; 16],
    received: Mutex<mpsc::UnboundedReceiver<(Bytes, HeaderMap)>>,
    /// What the service answers the next push (201, 410 for a subscription
    /// gone, 503 when busy); 201 after that, whenever the test gets to run.
    status: Arc<AtomicU16>,
}

impl Device {
    async fn start() -> Device {
        let mut scalar = [0u8; 32];
        getrandom::fill(&mut scalar).unwrap();
        let secret = SecretKey::from_slice(&scalar).unwrap();
        let mut auth = [0u8; 16];
        getrandom::fill(&mut auth).unwrap();
        let (tx, received) = mpsc::unbounded_channel();
        let status = Arc::new(AtomicU16::new(201));
        let answer = status.clone();
        let app = Router::new().route(
            "/push/device",
            post(move |State(tx): State<mpsc::UnboundedSender<(Bytes, HeaderMap)>>, headers: HeaderMap, body: Bytes| {
                let answer = answer.clone();
                async move {
                    let _ = tx.send((body, headers));
                    StatusCode::from_u16(answer.swap(201, Ordering::SeqCst)).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app.with_state(tx)).await });
        Device { addr, secret, auth, received: Mutex::new(received), status }
    }

    fn endpoint(&self) -> String {
        format!("http://{}/push/device", self.addr)
    }

    /// `PushSubscription.toJSON()` as the browser would give it.
    fn subscription(&self) -> Value {
        let p256dh = self.secret.public_key().to_encoded_point(false);
        json!({
            "endpoint": self.endpoint(),
            "expirationTime": null,
            "keys": { "p256dh": URL_SAFE_NO_PAD.encode(p256dh.as_bytes()), "auth": URL_SAFE_NO_PAD.encode(self.auth) },
        })
    }

    /// Subscribes `user`'s device to this service.
    async fn subscribe(&self, user: &User<'_>) {
        let (status, body) = user.call(Method::PUT, endpoint::ME_PUSH, Some(self.subscription())).await;
        assert_eq!(status, 204, "{body}");
    }

    /// The next push, within `wait`, decrypted; its VAPID token checked against `server`'s key.
    async fn event_within(&self, server: &TestServer, wait: Duration) -> Option<(PushEvent, HeaderMap)> {
        let (body, headers) = tokio::time::timeout(wait, self.received.lock().await.recv()).await.ok()??;
        self.check_vapid(server, &headers).await;
        assert_eq!(headers["content-encoding"], "aes128gcm");
        Some((serde_json::from_slice(&decrypt(&self.secret, &self.auth, &body)).unwrap(), headers))
    }

    /// The next push within `wait`, which must be a message's.
    async fn push_within(&self, server: &TestServer, wait: Duration) -> Option<Received> {
        match self.event_within(server, wait).await? {
            (PushEvent::Message(payload), headers) => Some(Received { payload, headers }),
            other => panic!("a message's push expected: {other:?}"),
        }
    }

    async fn push(&self, server: &TestServer) -> Received {
        self.push_within(server, Duration::from_secs(10)).await.expect("a push")
    }

    /// Nothing arrives for a while.
    async fn no_push(&self, server: &TestServer) {
        if let Some(push) = self.push_within(server, Duration::from_millis(1500)).await {
            panic!("no push expected: {push:?}");
        }
    }

    async fn check_vapid(&self, server: &TestServer, headers: &HeaderMap) {
        let key: PushKey = server.get(endpoint::PUSH_KEY).await.json().await.unwrap();
        let vapid = headers["authorization"].to_str().unwrap();
        let (token, k) = vapid.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
        assert_eq!(k, key.public_key);
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let verifying = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(k).unwrap()).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
        verifying.verify(signed.as_bytes(), &signature).expect("signed with the server's key");
        let claims = URL_SAFE_NO_PAD.decode(signed.split('.').nth(1).unwrap()).unwrap();
        let claims: Value = serde_json::from_slice(&claims).unwrap();
        assert_eq!(claims["aud"], format!("http://{}", self.addr), "the audience is the push service's origin");
    }
}

/// RFC 8291 decryption, written from the RFC rather than with the crate
/// the server encrypts with: one `aes128gcm` record (RFC 8188).
fn decrypt(secret: &SecretKey, auth: &[u8; 16], body: &[u8]) -> Vec<u8> {
    let (salt, rest) = body.split_at(16);
    let id_len = rest[4] as usize;
    let (key_id, ciphertext) = rest[5..].split_at(id_len);
    let sender = PublicKey::from_sec1_bytes(key_id).unwrap();
    let shared = p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), sender.as_affine());
    let mut info = b"WebPush: info\0".to_vec();
    info.extend_from_slice(secret.public_key().to_encoded_point(false).as_bytes());
    info.extend_from_slice(key_id);
    let mut ikm = [0u8; 32];
    Hkdf::<Sha256>::new(Some(auth), shared.raw_secret_bytes()).expand(&info, &mut ikm).unwrap();
    let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
    let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
    prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).unwrap();
    prk.expand(b"Content-Encoding: nonce\0", &mut nonce).unwrap();
    let mut plain = Aes128Gcm::new_from_slice(&cek).unwrap().decrypt(Nonce::from_slice(&nonce), ciphertext).unwrap();
    // The last record's padding: a 2 then zeros.
    while plain.last() == Some(&0) {
        plain.pop();
    }
    assert_eq!(plain.pop(), Some(2), "the last record's delimiter");
    plain
}

/// Sends `text` mentioning `mentions`; waits for the ack.
async fn say(client: &mut Client, room: &ConversationId, client_id: &str, text: &str, mentions: &[&str]) {
    let mentions = mentions.iter().map(|m| UserId((*m).into())).collect();
    client.send_mentioning(room, client_id, text, mentions).await;
    assert!(matches!(client.answer(client_id).await, ServerFrame::Ack { .. }));
}

async fn server(store: &str) -> TestServer {
    // A window far longer than any test waits: no push may slip past it on a slow machine.
    TestServer::on_store_with(store, &["--push-insecure-endpoints", "--push-coalesce-secs", "60"]).await
}

async fn a_message_to_an_offline_user_is_pushed_once_with_its_preview(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let chat = ann.private_chat(&bob).await;
    let phone = Device::start().await;
    phone.subscribe(&bob).await;
    let mut ws = ann.connect().await;
    say(&mut ws, &chat, "c1", "  lunch at one?  ", &[]).await;
    let push = phone.push(server).await;
    assert_eq!(push.payload.conversation_id, chat);
    assert_eq!((push.payload.seq, push.payload.kind, push.payload.sender.as_str()), (1, MessageKind::Text, "ann"));
    assert_eq!(push.payload.preview.as_deref(), Some("lunch at one?"));
    assert_eq!(push.payload.conversation, None, "a private chat's title is the sender");
    assert!(!push.payload.mention);
    assert_eq!(push.headers["ttl"], "86400");
    assert_eq!(push.headers["urgency"], "high", "private chats wake the phone");
    assert_eq!(push.headers["topic"].len(), 32);
    // The next ones within the window are coalesced into it.
    say(&mut ws, &chat, "c2", "or two", &[]).await;
    phone.no_push(server).await;
    // Another conversation has a window of its own; with previews hidden
    // its push says nothing of the text.
    let (status, body) = bob.call(Method::PUT, endpoint::ME_NOTIFICATIONS, Some(json!({ "hide_previews": true }))).await;
    assert_eq!(status, 200, "{body}");
    let group = ann.group("plans", &[&bob], json!({})).await;
    say(&mut ws, &group, "g1", "two it is", &[]).await;
    let push = phone.push(server).await;
    assert_eq!((push.payload.conversation_id, push.payload.preview), (group, None));
    assert_eq!(push.payload.conversation.as_deref(), Some("plans"));
}

async fn levels_mutes_and_mentions_decide_who_is_pushed(server: &TestServer) {
    let ann = User::register(server, "ann").await;
    let (bob, cat) = (User::register(server, "bob").await, User::register(server, "cat").await);
    let room = ann.group("lunch", &[&bob, &cat], json!({})).await;
    let (bobs, cats) = (Device::start().await, Device::start().await);
    bobs.subscribe(&bob).await;
    cats.subscribe(&cat).await;
    let mentions_only = json!({ "conversations": [{ "conversation_id": room, "level": "mentions" }] });
    assert_eq!(bob.call(Method::PUT, endpoint::ME_NOTIFICATIONS, Some(mentions_only)).await.0, 200);
    let muted = json!({ "conversations": [{ "conversation_id": room, "muted_until_ms": MUTED_FOREVER }] });
    assert_eq!(cat.call(Method::PUT, endpoint::ME_NOTIFICATIONS, Some(muted)).await.0, 200);
    let mut ws = ann.connect().await;
    say(&mut ws, &room, "plain", "anyone hungry?", &[]).await;
    say(&mut ws, &room, "to-bob", "bob?", &[&bob.id]).await;
    // Bob's first push is the mention: the plain message made none.
    let push = bobs.push(server).await;
    assert_eq!((push.payload.seq, push.payload.mention), (2, true));
    assert_eq!(push.payload.conversation.as_deref(), Some("lunch"));
    assert_eq!(push.headers["urgency"], "high");
    // A mute silences even mentions, until the user unmutes.
    say(&mut ws, &room, "to-cat", "cat?", &[&cat.id]).await;
    cats.no_push(server).await;
    assert_eq!(cat.call(Method::PUT, endpoint::ME_NOTIFICATIONS, Some(json!({}))).await.0, 200);
    say(&mut ws, &room, "again", "still hungry", &[]).await;
    let push = cats.push(server).await;
    assert_eq!((push.payload.seq, push.payload.mention), (4, false));
    assert_eq!(push.headers["urgency"], "normal");
}

async fn a_user_viewing_the_conversation_is_told_by_the_page_not_pushed(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let chat = ann.private_chat(&bob).await;
    let group = ann.group("elsewhere", &[&bob], json!({})).await;
    let phone = Device::start().await;
    phone.subscribe(&bob).await;
    let mut open = bob.connect().await;
    open.send(&ClientFrame::Viewing { conversation_id: Some(chat.clone()) }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ws = ann.connect().await;
    say(&mut ws, &chat, "c1", "are you there?", &[]).await;
    assert_eq!(open.message().await.seq, 1);
    phone.no_push(server).await;
    // In use, but showing another conversation: the phone rings for this one.
    say(&mut ws, &group, "g1", "over here", &[]).await;
    assert_eq!(phone.push(server).await.payload.conversation_id, group);
    // Idle: the page may be on a desk nobody sits at (told within the 2 s activity period).
    open.send(&ClientFrame::Activity { active: false }).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    say(&mut ws, &chat, "c2", "hello?", &[]).await;
    assert_eq!(phone.push(server).await.payload.seq, 2);
}

async fn a_gone_subscription_is_removed_and_a_bad_one_refused(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let chat = ann.private_chat(&bob).await;
    let phone = Device::start().await;
    phone.subscribe(&bob).await;
    let store = server.store().await;
    let bob_id = UserId(bob.id.clone());
    assert_eq!(store.push_subscriptions_of(&bob_id).await.unwrap().len(), 1);
    phone.status.store(410, Ordering::SeqCst);
    let mut ws = ann.connect().await;
    say(&mut ws, &chat, "c1", "hi", &[]).await;
    phone.push(server).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !store.push_subscriptions_of(&bob_id).await.unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the gone subscription is removed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Refused whatever the flags: a key that is no P-256 point, a scheme other than http(s).
    let mut bad = phone.subscription();
    bad["keys"]["p256dh"] = json!(URL_SAFE_NO_PAD.encode([4u8; 65]));
    let (status, body) = bob.call(Method::PUT, endpoint::ME_PUSH, Some(bad)).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("keys.p256dh")), "not a point on the curve");
    let mut bad = phone.subscription();
    bad["endpoint"] = json!("ftp://push.example.com/x");
    assert_eq!(bob.call(Method::PUT, endpoint::ME_PUSH, Some(bad)).await.0, 400);
    assert_eq!(bob.call(Method::DELETE, endpoint::ME_PUSH, None).await.0, 204);
}

async fn a_busy_push_service_is_tried_again(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let chat = ann.private_chat(&bob).await;
    let phone = Device::start().await;
    phone.subscribe(&bob).await;
    phone.status.store(503, Ordering::SeqCst);
    let mut ws = ann.connect().await;
    say(&mut ws, &chat, "c1", "knock knock", &[]).await;
    let first = phone.push(server).await;
    let again = phone.push(server).await;
    assert_eq!((first.payload.seq, again.payload.seq), (1, 1), "the same push, after a backoff");
    phone.no_push(server).await;
    let metrics = server.get(endpoint::METRICS).await.text().await.unwrap();
    for name in ["natter_push_sent_total", "natter_push_queue"] {
        assert!(metrics.contains(name), "{name} in /metrics");
    }
}

async fn a_block_keeps_pushes_apart(server: &TestServer) {
    let ann = User::register(server, "ann").await;
    let (bob, cat) = (User::register(server, "bob").await, User::register(server, "cat").await);
    let room = ann.group("shared", &[&bob, &cat], json!({})).await;
    let phone = Device::start().await;
    phone.subscribe(&bob).await;
    let (status, body) = bob.call(Method::PUT, &endpoint::block(&UserId(ann.id.clone())), None).await;
    assert!(status < 300, "{status} {body}");
    say(&mut ann.connect().await, &room, "from-ann", "hello", &[&bob.id]).await;
    say(&mut cat.connect().await, &room, "from-cat", "hi", &[]).await;
    let push = phone.push(server).await;
    assert_eq!((push.payload.seq, push.payload.sender.as_str()), (2, "cat"), "nothing of ann's reaches bob");
}

async fn a_device_can_ask_for_a_test_push_now_and_then(server: &TestServer) {
    let bob = User::register(server, "bob").await;
    let (status, body) = bob.call(Method::POST, endpoint::ME_PUSH_TEST, None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "no subscription yet");
    let phone = Device::start().await;
    phone.subscribe(&bob).await;
    assert_eq!(bob.call(Method::POST, endpoint::ME_PUSH_TEST, None).await.0, 202);
    let (event, headers) = phone.event_within(server, Duration::from_secs(10)).await.expect("the test push");
    assert_eq!(event, PushEvent::Test);
    assert_eq!(headers["urgency"], "high");
    let (status, body) = bob.call(Method::POST, endpoint::ME_PUSH_TEST, None).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")), "one every few seconds");
}

async fn reading_anywhere_closes_the_notifications(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let chat = ann.private_chat(&bob).await;
    let phone = Device::start().await;
    phone.subscribe(&bob).await;
    let mut ws = ann.connect().await;
    say(&mut ws, &chat, "c1", "one", &[]).await;
    say(&mut ws, &chat, "c2", "two", &[]).await;
    assert_eq!(phone.push(server).await.payload.seq, 1);
    // Read short of the pushed message: it still shows. Read to it: it closes.
    let read = |seq: u64| json!({ "seq": seq });
    let path = endpoint::conversation_read(&chat);
    assert_eq!(bob.call(Method::POST, &path, Some(read(0))).await.0, 204);
    assert!(phone.event_within(server, Duration::from_millis(800)).await.is_none());
    let mut laptop = bob.connect().await;
    laptop.send(&ClientFrame::Read { conversation_id: chat.clone(), seq: 2 }).await;
    let (event, headers) = phone.event_within(server, Duration::from_secs(10)).await.expect("a read push");
    assert_eq!(event, PushEvent::Read { conversation_id: chat.clone() });
    assert_eq!(headers["urgency"], "low");
    assert_eq!(headers["topic"], topic_of(&chat), "it replaces an undelivered message push");
    // Once per pushed stretch: reading again tells nothing.
    assert_eq!(bob.call(Method::POST, &path, Some(read(2))).await.0, 204);
    assert!(phone.event_within(server, Duration::from_millis(800)).await.is_none());
}

/// The topic the conversation's message pushes carry.
fn topic_of(conversation: &ConversationId) -> String {
    use sha2::Digest;
    URL_SAFE_NO_PAD.encode(&Sha256::digest(conversation.0.as_bytes())[..24])
}

async fn a_call_to_a_closed_app_rings_through_push(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let chat = ann.private_chat(&bob).await;
    let phone = Device::start().await;
    phone.subscribe(&bob).await;
    let mut ws = ann.connect().await;
    let invite = ClientFrame::CallInvite {
        conversation_id: chat.clone(),
        callee_id: UserId(bob.id.clone()),
        media: CallMedia::Video,
    };
    ws.send(&invite).await;
    let (event, headers) = phone.event_within(server, Duration::from_secs(10)).await.expect("a call push");
    let PushEvent::Call(call) = event else { panic!("a call's push expected: {event:?}") };
    assert_eq!((call.conversation_id, call.caller.as_str(), call.media), (chat, "ann", CallMedia::Video));
    assert!(call.ring_ms > 0, "the notification closes when the ringing would have stopped");
    assert_eq!(headers["urgency"], "high");
    assert!(headers["ttl"].to_str().unwrap().parse::<u64>().unwrap() <= 120, "not delivered after it stops ringing");
    // The page the notification opens rings.
    let mut opened = bob.connect().await;
    loop {
        match opened.next().await {
            ServerFrame::CallIncoming { call: ringing } => break assert_eq!(ringing.call_id, call.call_id),
            _ => continue,
        }
    }
    // With a page open, a call rings there and is not pushed.
    opened.send(&ClientFrame::CallDecline { call_id: call.call_id }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    ann.connect().await.send(&invite).await;
    assert!(phone.event_within(server, Duration::from_millis(1500)).await.is_none());
}

on_both_stores!(
    with server;
    a_device_can_ask_for_a_test_push_now_and_then,
    a_block_keeps_pushes_apart,
    a_busy_push_service_is_tried_again,
    a_message_to_an_offline_user_is_pushed_once_with_its_preview,
    levels_mutes_and_mentions_decide_who_is_pushed,
    a_user_viewing_the_conversation_is_told_by_the_page_not_pushed,
    a_gone_subscription_is_removed_and_a_bad_one_refused,
    reading_anywhere_closes_the_notifications,
    a_call_to_a_closed_app_rings_through_push,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_must_be_public_https_without_the_test_flag() {
    let server = TestServer::on_store("embedded").await;
    let bob = User::register(&server, "bob").await;
    let phone = Device::start().await;
    let (status, body) = bob.call(Method::PUT, endpoint::ME_PUSH, Some(phone.subscription())).await;
    assert_eq!((status, body["field"].as_str()), (400, Some("endpoint")), "{body}");
    let key: PushKey = server.get(endpoint::PUSH_KEY).await.json().await.unwrap();
    assert_eq!(URL_SAFE_NO_PAD.decode(&key.public_key).unwrap().len(), 65);
    server.stop().await;
}

/// The page applies the same default level as pushes: the list of
/// conversations says which groups are large enough for mentions only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_gives_each_conversation_its_default_level() {
    let server = TestServer::on_store_with("embedded", &["--notify-group-size", "2"]).await;
    let ann = User::register(&server, "ann").await;
    let (bob, cat) = (User::register(&server, "bob").await, User::register(&server, "cat").await);
    let pair = ann.group("pair", &[&bob], json!({})).await;
    let trio = ann.group("trio", &[&bob, &cat], json!({})).await;
    let chat = ann.private_chat(&bob).await;
    let (status, list) = bob.call(Method::GET, endpoint::CONVERSATIONS, None).await;
    assert_eq!(status, 200, "{list}");
    let default_of = |id: &ConversationId| {
        let entry = list.as_array().unwrap().iter().find(|s| s["conversation"]["id"] == id.0.as_str()).unwrap();
        entry["notify_default"].as_str().unwrap().to_owned()
    };
    assert_eq!(default_of(&pair), "all");
    assert_eq!(default_of(&trio), "mentions", "3 members, over the size of 2");
    assert_eq!(default_of(&chat), "all");
    server.stop().await;
}

/// Messages of one conversation stored by two nodes at once make one push.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_send_one_push() {
    let mut flags = cluster_flags(redis_addr());
    flags.extend(["--push-insecure-endpoints", "--push-coalesce-secs", "60"].map(String::from));
    let (a, b) = (node(&flags, "node-a").await, node(&flags, "node-b").await);
    let ann = User::register(&a, "ann").await;
    let (bob, cat) = (User::register(&a, "bob").await, User::register(&a, "cat").await);
    let room = ann.group("two nodes", &[&bob, &cat], json!({})).await;
    let phone = Device::start().await;
    phone.subscribe(&bob).await;
    let (mut on_a, mut on_b) = (ann.connect_via(&a, vec![]).await, cat.connect_via(&b, vec![]).await);
    tokio::join!(say(&mut on_a, &room, "from-a", "one", &[]), say(&mut on_b, &room, "from-b", "two", &[]));
    let push = phone.push(&a).await;
    assert!([1, 2].contains(&push.payload.seq));
    phone.no_push(&a).await;
    a.stop().await;
    b.stop().await;
}

/// A device in view of a conversation on one node keeps pushes for it
/// away from messages stored on the other; once it closes, they come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewing_on_one_node_counts_on_the_other() {
    let mut flags = cluster_flags(redis_addr());
    flags.extend(["--push-insecure-endpoints", "--push-coalesce-secs", "60"].map(String::from));
    let (a, b) = (node(&flags, "node-a").await, node(&flags, "node-b").await);
    let (ann, bob) = (User::register(&a, "ann").await, User::register(&a, "bob").await);
    let chat = ann.private_chat(&bob).await;
    let phone = Device::start().await;
    phone.subscribe(&bob).await;
    let mut open = bob.connect_via(&b, vec![]).await;
    open.send(&ClientFrame::Viewing { conversation_id: Some(chat.clone()) }).await;
    // A second tab of bob's, on node a, shows nothing: one in view is enough.
    let mut other = bob.connect_via(&a, vec![]).await;
    other.send(&ClientFrame::Viewing { conversation_id: None }).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut ws = ann.connect_via(&a, vec![]).await;
    say(&mut ws, &chat, "c1", "seen on b?", &[]).await;
    assert_eq!(open.message().await.seq, 1);
    phone.no_push(&a).await;
    drop(open);
    tokio::time::sleep(Duration::from_millis(500)).await;
    say(&mut ws, &chat, "c2", "gone?", &[]).await;
    assert_eq!(phone.push(&a).await.payload.seq, 2);
    drop(other);
    a.stop().await;
    b.stop().await;
}
