//! Message text on its way to the store: `:shortcodes:` become emoji, the
//! sensitive-word list masks or refuses, and an edited list takes effect
//! while the server runs. Also the emoji list of `GET /api/emoji` and the
//! flags' bad values.

use crate::support;

use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use natter_server::text::RELOAD_POLL;
use reqwest::Method;
use serde_json::json;
use support::{
    chat::{file_send, User},
    TestServer,
};
use wire::{
    api::{EmojiEntry, FileInfo},
    endpoint,
    model::{Message, MessageKind},
    protocol::{ServerFrame, WsErrorCode},
};

const WORDS: &str = "# test list\ndarn\n坏蛋\n";

/// A server whose word list is a file the test may edit.
struct Words {
    server: TestServer,
    file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Words {
    async fn start(store: &str, policy: &str) -> Words {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("words.txt");
        std::fs::write(&file, WORDS).unwrap();
        let path = file.display().to_string();
        let server = TestServer::on_store_with(store, &["--sensitive-words", &path, "--sensitive-policy", policy]).await;
        Words { server, file, _dir: dir }
    }

    async fn stop(self) {
        self.server.stop().await;
    }
}

async fn masking(store: &str) -> Words {
    Words::start(store, "mask").await
}

async fn refusing(store: &str) -> Words {
    Words::start(store, "refuse").await
}

async fn history(user: &User<'_>, room: &wire::model::ConversationId) -> Vec<Message> {
    let (status, body) = user.call(Method::GET, &format!("/api/conversations/{room}/messages"), None).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

async fn shortcodes_arrive_as_emoji(fx: &Words) {
    let (ann, bob) = (User::register(&fx.server, "ann").await, User::register(&fx.server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let (mut a, mut b) = (ann.connect().await, bob.connect().await);
    a.send_text(&room, "m1", "hi :wave::smile: at 10:30 :no_such_code:").await;
    let want = "hi 👋😄 at 10:30 :no_such_code:";
    let ServerFrame::Ack { seq: 1, content, .. } = a.answer("m1").await else { panic!("no ack") };
    assert_eq!(content.as_deref(), Some(want), "the ack tells the sender what was stored");
    a.send_text(&room, "m2", "plain").await;
    let ServerFrame::Ack { seq: 2, content: None, .. } = a.answer("m2").await else { panic!("unchanged text is not echoed") };
    assert_eq!(b.message().await.content, want, "the recipient");
    // (The sender's own copy may come before or after its ack; the ack's text was checked above.)
    assert_eq!(history(&ann, &room).await[1].content, want, "newest first");
}

async fn listed_words_are_stored_masked(fx: &Words) {
    let (ann, bob) = (User::register(&fx.server, "ann").await, User::register(&fx.server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let (mut a, mut b) = (ann.connect().await, bob.connect().await);
    a.send_text(&room, "m1", "DARN, 你这个坏蛋 :smile:").await;
    assert!(matches!(a.answer("m1").await, ServerFrame::Ack { seq: 1, .. }));
    let want = "****, 你这个** 😄";
    assert_eq!(b.message().await.content, want);
    assert_eq!(history(&bob, &room).await[0].content, want, "stored masked");
    // The list's preview is recorded just after the fan-out, so it may trail the delivery a little.
    let mut preview = None;
    for _ in 0..50 {
        let summary = bob.summaries().await.into_iter().find(|s| s.conversation.id == room).unwrap();
        preview = summary.conversation.last_message.map(|m| m.text);
        if preview.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(preview.as_deref(), Some(want), "the list's preview too");
    assert_counted(&fx.server, "natter_messages_masked_total").await;
}

/// The Prometheus text names `counter` with a value of at least 1 (the
/// recorder is shared by every server of this test process).
async fn assert_counted(server: &TestServer, counter: &str) {
    let text = server.get("/metrics").await.text().await.unwrap();
    let value = text.lines().find_map(|l| l.strip_prefix(counter)?.trim().parse::<f64>().ok());
    assert!(value.is_some_and(|v| v >= 1.0), "{counter} in {text}");
}

async fn captions_are_filtered_too(fx: &Words) {
    let (ann, bob) = (User::register(&fx.server, "ann").await, User::register(&fx.server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let upload = fx.server.client.post(fx.server.url("/api/files?name=notes.bin&kind=file")).bearer_auth(&ann.token);
    let resp = upload.body(vec![7u8; 300]).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let file: FileInfo = resp.json().await.unwrap();
    let (mut a, mut b) = (ann.connect().await, bob.connect().await);
    a.send(&file_send(&room, "f1", MessageKind::File, &file.id, None, "darn notes :memo:")).await;
    assert!(matches!(a.answer("f1").await, ServerFrame::Ack { .. }));
    let got = b.message().await;
    assert_eq!((got.kind, got.content.as_str()), (MessageKind::File, "**** notes 📝"));
}

/// Uploads `body` as a file named `name`: the status and the answer.
async fn upload(user: &User<'_>, name: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let url = user.server.url("/api/files?kind=file");
    let resp = user.server.client.post(url).query(&[("name", name)]).bearer_auth(&user.token).body(body).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// The answer is a 400 about `field`.
#[track_caller]
fn refused(answer: (u16, serde_json::Value), field: &str) {
    let (status, body) = answer;
    assert_eq!((status, body["code"].as_str(), body["field"].as_str()), (400, Some("bad_request"), Some(field)), "{body}");
}

async fn disguised_words_are_masked_too(fx: &Words) {
    let (ann, bob) = (User::register(&fx.server, "ann").await, User::register(&fx.server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let (mut a, mut b) = (ann.connect().await, bob.connect().await);
    a.send_text(&room, "m1", "ｄａｒｎ, d\u{200B}arn, d a r n, 你这个壞蛋").await;
    assert!(matches!(a.answer("m1").await, ServerFrame::Ack { seq: 1, .. }));
    assert_eq!(b.message().await.content, "****, *****, *******, 你这个**");
}

async fn names_and_file_names_are_stored_masked(fx: &Words) {
    let ann = User::register(&fx.server, "ann").await;
    let (status, me) = ann.call(Method::PATCH, endpoint::ME, Some(json!({ "nickname": "Darn Ann" }))).await;
    assert_eq!((status, me["nickname"].as_str()), (200, Some("**** Ann")), "{me}");
    let group = json!({ "name": "d a r n club", "description": "壞蛋 welcome\nall", "members": [] });
    let (status, created) = ann.call(Method::POST, endpoint::CONVERSATIONS, Some(group)).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["conversation"]["name"], "******* club");
    assert_eq!(created["conversation"]["description"], "** welcome\nall");
    let id = wire::model::ConversationId(created["conversation"]["id"].as_str().unwrap().to_owned());
    let (status, changed) = ann.call(Method::PATCH, &endpoint::conversation(&id), Some(json!({ "name": "DARN!" }))).await;
    assert_eq!((status, changed["name"].as_str()), (200, Some("****!")), "{changed}");
    let (status, file) = upload(&ann, "darn list.txt", vec![7; 100]).await;
    assert_eq!((status, file["name"].as_str()), (201, Some("**** list.txt")), "{file}");
}

async fn an_edited_list_takes_effect_while_running(fx: &Words) {
    let ann = User::register(&fx.server, "ann").await;
    let room = ann.group("room", &[], json!({})).await;
    let mut a = ann.connect().await;
    a.send_text(&room, "before", "gosh").await;
    assert_eq!(a.message().await.content, "gosh");

    std::fs::write(&fx.file, format!("{WORDS}gosh\n")).unwrap();
    // Probe until the new list is in force; it must be within a few polls.
    let deadline = Instant::now() + 5 * RELOAD_POLL;
    for probe in 0.. {
        let id = format!("probe-{probe}");
        a.send_text(&room, &id, "gosh").await;
        let ServerFrame::Ack { content, .. } = a.answer(&id).await else { panic!("no ack for {id}") };
        if content.as_deref() == Some("****") {
            break;
        }
        assert!(Instant::now() < deadline, "the edited list was not in force after {:?}", 5 * RELOAD_POLL);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(history(&ann, &room).await.last().unwrap().content, "gosh", "earlier messages stay as stored");
}

on_both_stores!(
    with masking;
    shortcodes_arrive_as_emoji,
    listed_words_are_stored_masked,
    disguised_words_are_masked_too,
    names_and_file_names_are_stored_masked,
    captions_are_filtered_too,
    an_edited_list_takes_effect_while_running,
);

mod refuse {
    use super::*;

    async fn refused_messages_are_not_stored(fx: &Words) {
        let (ann, bob) = (User::register(&fx.server, "ann").await, User::register(&fx.server, "bob").await);
        let room = ann.group("room", &[&bob], json!({})).await;
        let (mut a, mut b) = (ann.connect().await, bob.connect().await);
        a.send_text(&room, "bad", "well, 坏蛋").await;
        assert_eq!(a.error().await, (WsErrorCode::ContentRefused, Some("bad".into())));
        a.send_text(&room, "bad2", ":smile: Darn").await;
        assert_eq!(a.error().await, (WsErrorCode::ContentRefused, Some("bad2".into())));
        assert!(history(&ann, &room).await.is_empty(), "nothing stored");
        a.send_text(&room, "good", "fine :smile:").await;
        assert!(matches!(a.answer("good").await, ServerFrame::Ack { seq: 1, .. }), "the next send gets the next seq");
        let got = b.message().await;
        assert_eq!((got.seq, got.content.as_str()), (1, "fine 😄"), "the recipient saw only the good one");
        assert_counted(&fx.server, "natter_messages_refused_total").await;
    }

    /// Names under the list are refused as bad input, and nothing changes.
    async fn names_with_listed_words_are_refused(fx: &Words) {
        let server = &fx.server;
        let body = json!({ "email": "x@example.org", "nickname": "ｄａｒｎ", "password": "correct horse", "device_id": "d1" });
        let resp = server.client.post(server.url(endpoint::AUTH_REGISTER)).json(&body).send().await.unwrap();
        refused((resp.status().as_u16(), resp.json().await.unwrap()), "nickname");
        let ann = User::register(server, "ann").await;
        refused(ann.call(Method::PATCH, endpoint::ME, Some(json!({ "nickname": "da\u{00AD}rn" }))).await, "nickname");
        assert_eq!(ann.call(Method::GET, endpoint::ME, None).await.1["nickname"], "ann", "unchanged");
        let group = |name: &str, description: &str| Some(json!({ "name": name, "description": description, "members": [] }));
        refused(ann.call(Method::POST, endpoint::CONVERSATIONS, group("坏 蛋们", "")).await, "name");
        refused(ann.call(Method::POST, endpoint::CONVERSATIONS, group("fine", "you 壞蛋")).await, "description");
        let room = ann.group("fine", &[], json!({})).await;
        let rename = Some(json!({ "name": "DARN" }));
        refused(ann.call(Method::PATCH, &endpoint::conversation(&room), rename).await, "name");
        assert_eq!(ann.summaries().await.len(), 1, "no group was made by the refused ones");
        refused(upload(&ann, "d-a-r-n.txt", vec![7; 100]).await, "name");

        let (status, file) = upload(&ann, "notes.bin", vec![7; 100]).await;
        assert_eq!(status, 201);
        let file: FileInfo = serde_json::from_value(file).unwrap();
        let mut a = ann.connect().await;
        let caption = |client_id: &str, content: &str| file_send(&room, client_id, MessageKind::File, &file.id, None, content);
        a.send(&caption("f1", "my ｄａｒｎ notes")).await;
        assert_eq!(a.error().await, (WsErrorCode::ContentRefused, Some("f1".into())), "a caption");
        assert!(history(&ann, &room).await.is_empty());
    }

    on_both_stores!(with refusing; refused_messages_are_not_stored, names_with_listed_words_are_refused);
}

/// Characters that hide or reorder the text around them are refused in
/// names (400 about the field, nothing changed); message text keeps them,
/// the app shows it isolated.
#[tokio::test]
async fn spoofing_characters_are_refused_in_names() {
    let server = TestServer::start(&[]).await;
    let body = json!({ "email": "x@example.org", "nickname": "nna\u{202E}", "password": "correct horse", "device_id": "d1" });
    let resp = server.client.post(server.url(endpoint::AUTH_REGISTER)).json(&body).send().await.unwrap();
    refused((resp.status().as_u16(), resp.json().await.unwrap()), "nickname");
    let ann = User::register(&server, "ann").await;
    refused(ann.call(Method::PATCH, endpoint::ME, Some(json!({ "nickname": "\u{2067}ann" }))).await, "nickname");
    let group = |name: &str, description: &str| Some(json!({ "name": name, "description": description, "members": [] }));
    refused(ann.call(Method::POST, endpoint::CONVERSATIONS, group("team\u{202D}", "")).await, "name");
    refused(ann.call(Method::POST, endpoint::CONVERSATIONS, group("team", "bell\u{0007}")).await, "description");
    refused(ann.call(Method::POST, endpoint::CONVERSATIONS, group("team", "a\u{200F}b")).await, "description");
    let room = ann.group("team", &[], json!({ "description": "two\nlines" })).await;
    refused(ann.call(Method::PATCH, &endpoint::conversation(&room), Some(json!({ "name": "\u{061C}team" }))).await, "name");
    refused(upload(&ann, "gnp\u{202E}exe.png", vec![7; 100]).await, "name");
    let mut a = ann.connect().await;
    a.send_text(&room, "m1", "שלום \u{202E}abc").await;
    assert_eq!(a.message().await.content, "שלום \u{202E}abc", "message text keeps them");
    server.stop().await;
}

#[tokio::test]
async fn serves_the_emoji_list_cacheably() {
    let server = TestServer::start(&[]).await;
    let resp = server.get("/api/emoji").await;
    assert_eq!(resp.status(), 200);
    let etag = resp.headers()["etag"].to_str().unwrap().to_owned();
    assert!(resp.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    let list: Vec<EmojiEntry> = resp.json().await.unwrap();
    assert!(list.iter().any(|e| e.emoji == "👋" && e.shortcodes.contains(&"wave".to_owned())));
    let again = server.client.get(server.url("/api/emoji")).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    server.stop().await;
}

/// Runs the binary with `args` and expects exit code 2 and an error naming `needle`.
fn refuses(args: &[&str], needle: &str) {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_natter-server"))
        .args(["--data-dir", data.path().to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .args(args)
        .env("NATTER_JWT_SECRET", "a-long-enough-secret-for-the-tests-0123456789")
        .env_remove("NATTER_MONGODB_URI")
        .env_remove("NATTER_SENSITIVE_WORDS")
        .env_remove("NATTER_SENSITIVE_POLICY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
}

#[test]
fn bad_word_list_settings_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.txt");
    refuses(&["--sensitive-words", missing.to_str().unwrap()], "--sensitive-words");
    let binary = dir.path().join("binary.txt");
    std::fs::write(&binary, b"\xff\xfe\x00").unwrap();
    refuses(&["--sensitive-words", binary.to_str().unwrap()], "not UTF-8");
    refuses(&["--sensitive-policy", "delete"], "--sensitive-policy");
}
