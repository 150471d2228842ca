//! The attacker's cases against uploads: a storage quota per user, a cap on
//! uploads running at once, the upload rate taken by avatars too, and the
//! sweep of files never posted (with the disk gauges in `/metrics`).

use crate::support;

use std::{io::Cursor, time::Duration};

use futures_util::stream;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::{
    chat::{file_send, User},
    files_under, TestServer,
};
use tokio::sync::mpsc;
use wire::{
    api::{FileInfo, InstantChallenge},
    model::MessageKind,
    protocol::ServerFrame,
};

const QUOTA: u64 = 1 << 20;
const PER_MINUTE: usize = 5;

/// A server with a 1 MiB quota, 3 uploads at once and 5 a minute per user.
async fn limited(store: &str) -> TestServer {
    let per_minute = PER_MINUTE.to_string();
    let flags = ["--upload-quota-mib", "1", "--concurrent-uploads", "3", "--uploads-per-minute", &per_minute];
    TestServer::on_store_with(store, &flags).await
}

/// `len` bytes sniffed as nothing in particular (a zero first), different for each `seed`.
fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| if i == 0 { 0 } else { (i as u32).wrapping_mul(2_654_435_761).rotate_left(u32::from(seed)) as u8 }).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn png(side: u32, shade: u8) -> Vec<u8> {
    let image: DynamicImage = RgbImage::from_fn(side, side, |x, y| Rgb([x as u8, y as u8, shade])).into();
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}


/// Uploads being received now: their temporary files.
fn receiving(server: &TestServer) -> usize {
    files_under(&server.data_dir().join("files").join("tmp")).len()
}

async fn upload(user: &User<'_>, name: &str, body: reqwest::Body) -> (u16, Value, Option<String>) {
    let url = user.server.url(&format!("/api/files?name={name}"));
    let resp = user.server.client.post(url).bearer_auth(&user.token).body(body).send().await.unwrap();
    let retry = resp.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null), retry)
}

async fn upload_ok(user: &User<'_>, name: &str, content: &[u8]) -> FileInfo {
    let (status, body, _) = upload(user, name, content.to_vec().into()).await;
    assert_eq!(status, 201, "{body}");
    serde_json::from_value(body).unwrap()
}


/// A body that sends `first` and then whatever the sender sends, until it is dropped.
fn held_body(first: Vec<u8>) -> (mpsc::Sender<Vec<u8>>, reqwest::Body) {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(4);
    let chunks = stream::unfold((Some(first), rx), |(first, mut rx)| async move {
        let chunk = match first {
            Some(first) => first,
            None => rx.recv().await?,
        };
        Some((Ok::<_, std::io::Error>(chunk), (None, rx)))
    });
    (tx, reqwest::Body::wrap_stream(chunks))
}

async fn download_status(user: &User<'_>, id: &str) -> u16 {
    user.call(Method::GET, &format!("/api/files/{id}"), None).await.0
}

async fn uploads_beyond_the_quota_are_refused_and_store_nothing(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let first = bytes(600_000, 1);
    upload_ok(&ann, "first.bin", &first).await;
    let kept = server.stored_uploads().await;

    // The same content again: kept once on disk, but it counts for each upload.
    let (status, body, _) = upload(&ann, "again.bin", first.clone().into()).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("quota_exceeded")), "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("600000 bytes") && message.contains(&format!("{QUOTA} bytes")), "used and allowed: {message}");

    // Without a length the body is read until it passes what is left.
    let (tx, streamed) = held_body(bytes(600_000, 2));
    drop(tx);
    let (status, body, _) = upload(&ann, "streamed.bin", streamed).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("quota_exceeded")), "{body}");
    assert_eq!(server.stored_uploads().await, kept, "nothing stored");

    // An instant upload counts too (of content ann may read: bob posted it to her).
    let theirs = bytes(500_000, 3);
    let posted = upload_ok(&bob, "theirs.bin", &theirs).await;
    bob.share_file(&ann, &posted.id).await;
    let claim = json!({ "sha256": sha256_hex(&theirs), "size": theirs.len(), "name": "mine.bin" });
    let (status, body) = ann.call(Method::POST, "/api/files/instant", Some(claim)).await;
    assert_eq!(status, 200, "{body}");
    let challenge: InstantChallenge = serde_json::from_value(body).unwrap();
    let mut proof = Sha256::new();
    proof.update(challenge.nonce.as_bytes());
    for &(start, end) in &challenge.ranges {
        proof.update(&theirs[start as usize..end as usize]);
    }
    let proof: String = proof.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let path = format!("/api/files/instant/{}", challenge.challenge_id);
    let (status, body) = ann.call(Method::POST, &path, Some(json!({ "proof": proof }))).await;
    assert_eq!((status, body["code"].as_str()), (413, Some("quota_exceeded")), "{body}");

    // What fits still does.
    upload_ok(&ann, "small.bin", &bytes(400_000, 4)).await;
}

async fn a_fourth_upload_at_once_waits_while_others_still_upload(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let mut held = Vec::new();
    for i in 0..3 {
        let (tx, body) = held_body(bytes(1000, i));
        let (url, token, client) = (server.url(&format!("/api/files?name=slow{i}.bin")), ann.token.clone(), server.client.clone());
        let request = tokio::spawn(async move { client.post(url).bearer_auth(token).body(body).send().await });
        held.push((tx, request));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while receiving(server) < 3 {
        assert!(tokio::time::Instant::now() < deadline, "the three uploads never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (status, body, retry) = upload(&ann, "fourth.bin", bytes(100, 9).into()).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")), "{body}");
    assert!(retry.is_some_and(|s| s.parse::<u64>().unwrap() >= 1), "Retry-After");
    upload_ok(&bob, "other.bin", &bytes(100, 10)).await;

    // A request broken off gives its slot back.
    let (tx, request) = held.pop().unwrap();
    request.abort();
    drop(tx);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body, _) = upload(&ann, "after.bin", bytes(100, 11).into()).await;
        if status == 201 {
            break;
        }
        assert_eq!(status, 429, "{body}");
        assert!(tokio::time::Instant::now() < deadline, "the broken upload kept its slot");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The others finish normally once their bodies end.
    for (tx, request) in held {
        drop(tx);
        assert_eq!(request.await.unwrap().unwrap().status(), StatusCode::CREATED);
    }
}

async fn avatar_uploads_take_from_the_upload_rate(server: &TestServer) {
    let ann = User::register(server, "ann").await;
    let avatar = |shade| {
        let req = server.client.post(server.url("/api/me/avatar")).bearer_auth(&ann.token).body(png(64, shade));
        async move { req.send().await.unwrap() }
    };
    for shade in 0..PER_MINUTE as u8 {
        assert_eq!(avatar(shade).await.status(), 200);
    }
    let refused = avatar(99).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    let (status, body, _) = upload(&ann, "file.bin", bytes(100, 1).into()).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")), "files and avatars share one rate");
}

on_both_stores!(
    with limited;
    uploads_beyond_the_quota_are_refused_and_store_nothing,
    a_fourth_upload_at_once_waits_while_others_still_upload,
    avatar_uploads_take_from_the_upload_rate,
);

/// A gauge's value in the `/metrics` text.
fn gauge(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Files never posted within the age are swept with their bytes; a posted
/// file, a fresh one, content a posted file shares and content uploaded
/// again stay. One test for both
/// stores, one after the other, so that no other server of this binary sets
/// the disk gauges meanwhile (they are the process's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unposted_files_are_swept_with_their_bytes() {
    for store in ["embedded", "mongodb"] {
        let server = TestServer::on_store_with(store, &["--unposted-file-ttl-secs", "2"]).await;
        sweep_scenario(&server).await;
        server.stop().await;
    }
}

async fn sweep_scenario(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let (posted_bytes, old_bytes, fresh_bytes, again_bytes) = (bytes(3000, 1), bytes(5000, 2), bytes(7000, 3), bytes(9000, 4));
    let posted = upload_ok(&ann, "posted.bin", &posted_bytes).await;
    let shares = upload_ok(&ann, "copy.bin", &posted_bytes).await;
    let first_copy = upload_ok(&ann, "again.bin", &again_bytes).await;
    // The last old one: once it is gone, so are those before it.
    let old = upload_ok(&ann, "old.bin", &old_bytes).await;
    let mut ws = ann.connect().await;
    ws.send(&file_send(&room, "c1", MessageKind::File, &posted.id, None, "")).await;
    assert!(matches!(ws.answer("c1").await, ServerFrame::Ack { .. }));
    assert!(server.stored_uploads().await.contains(&old.sha256), "the old file's bytes");

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let fresh = upload_ok(&ann, "fresh.bin", &fresh_bytes).await;
    let second_copy = upload_ok(&bob, "again.bin", &again_bytes).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while download_status(&ann, &old.id.0).await != 404 {
        assert!(tokio::time::Instant::now() < deadline, "the unposted file was never swept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(download_status(&ann, &shares.id.0).await, 404, "unposted, though its content stays");
    assert_eq!(download_status(&bob, &posted.id.0).await, 200, "the posted file stays");
    assert_eq!(download_status(&ann, &fresh.id.0).await, 200, "the fresh file stays");
    assert_eq!(download_status(&ann, &first_copy.id.0).await, 404, "swept");
    assert_eq!(download_status(&bob, &second_copy.id.0).await, 200, "content uploaded again stays");
    let left = server.stored_uploads().await;
    assert!(!left.contains(&old.sha256), "the swept file's bytes are gone");
    let mut want = vec![posted.sha256.clone(), fresh.sha256.clone(), second_copy.sha256.clone()];
    want.sort();
    assert_eq!(left, want);

    let expected_bytes = (posted_bytes.len() + fresh_bytes.len() + again_bytes.len()) as f64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = server.get("/metrics").await.text().await.unwrap();
        let (blobs, bytes) = (gauge(&text, "natter_files_blobs"), gauge(&text, "natter_files_bytes"));
        if (blobs, bytes) == (Some(3.0), Some(expected_bytes)) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "disk gauges {blobs:?} {bytes:?}, wanted 3 and {expected_bytes}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
