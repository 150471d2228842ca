//! Files in a cluster without a shared file system: nodes with data dirs of
//! their own, sharing MongoDB (FerretDB: uploads, thumbnails and avatars in
//! GridFS) and Redis (instant-upload challenges). Needs
//! `NATTER_TEST_MONGODB_URI` and `NATTER_TEST_REDIS_URL`.

use crate::support;

use std::time::Duration;

use reqwest::{header, Method, StatusCode};

const OK: StatusCode = StatusCode::OK;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use support::{
    chat::{change_send, file_send, User},
    cluster::{cluster_flags, redis_addr, two_nodes, NodeProcess},
    files::{hex, instant_proof, sha256},
    TestServer,
};
use wire::{
    api::{FileInfo, InstantChallenge},
    model::MessageKind,
    protocol::ServerFrame,
};

/// `len` bytes sniffed as nothing in particular, different for each `seed`.
fn noise(len: usize, seed: u8) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(seed);
    let mut bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    bytes[0] = 0;
    bytes
}

fn png(side: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(side, side, |x, y| image::Rgb([x as u8, y as u8, 99]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// `user`'s request, sent to `node` (which need not be the node they signed up on).
fn on(node: &TestServer, user: &User<'_>, method: Method, path: &str) -> reqwest::RequestBuilder {
    node.client.request(method, node.url(path)).bearer_auth(&user.token)
}

async fn upload(node: &TestServer, user: &User<'_>, name: &str, kind: &str, body: Vec<u8>) -> FileInfo {
    let path = format!("/api/files?name={name}&kind={kind}");
    let resp = on(node, user, Method::POST, &path).body(body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

async fn call(node: &TestServer, user: &User<'_>, method: Method, path: &str, body: Value) -> (u16, Value) {
    let resp = on(node, user, method, path).json(&body).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

/// A file uploaded through node A comes back through node B, whole and by
/// ranges (one across a GridFS chunk boundary), with its thumbnail; an
/// avatar set through A is served by B; a message deleted through B takes
/// its attachment's bytes with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_uploaded_through_one_node_is_served_by_another() {
    let (a, b) = two_nodes(redis_addr()).await;
    let (ann, bob) = (User::register(&a, "ann").await, User::register(&a, "bob").await);
    let bytes = noise(700_000, 1);
    let info = upload(&a, &ann, "data.bin", "file", bytes.clone()).await;
    let path = format!("/api/files/{}", info.id);

    let whole = on(&b, &ann, Method::GET, &path).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()[header::CONTENT_LENGTH], "700000");
    assert_eq!(whole.bytes().await.unwrap(), bytes);
    // GridFS chunks are 255 KiB (261,120 bytes): this range ends in the second one.
    let ranged = on(&b, &ann, Method::GET, &path).header(header::RANGE, "bytes=261000-262999").send().await.unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.headers()[header::CONTENT_RANGE], "bytes 261000-262999/700000");
    assert_eq!(ranged.bytes().await.unwrap(), bytes[261_000..263_000]);
    let tail = on(&b, &ann, Method::GET, &path).header(header::RANGE, "bytes=-5").send().await.unwrap();
    assert_eq!(tail.status(), 206);
    assert_eq!(tail.bytes().await.unwrap(), bytes[699_995..]);
    let past = on(&b, &ann, Method::GET, &path).header(header::RANGE, "bytes=700000-").send().await.unwrap();
    assert_eq!(past.status(), 416);

    let image = upload(&a, &ann, "pic.png", "image", png(400)).await;
    let thumb = on(&b, &ann, Method::GET, &format!("/api/files/{}/thumbnail", image.id)).send().await.unwrap();
    assert_eq!((thumb.status(), thumb.headers()[header::CONTENT_TYPE].to_str().unwrap()), (OK, "image/webp"));
    let clean = on(&b, &ann, Method::GET, &format!("/api/files/{}", image.id)).send().await.unwrap();
    assert_eq!(clean.status(), 200);
    assert!(image::load_from_memory(&clean.bytes().await.unwrap()).is_ok(), "the clean copy is an image");

    let resp = on(&a, &ann, Method::POST, "/api/me/avatar").body(png(300)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let me: Value = resp.json().await.unwrap();
    let avatar = me["avatar"].as_str().expect("an avatar URL").to_owned();
    let served = b.client.get(b.url(&avatar)).send().await.unwrap();
    assert_eq!((served.status(), served.headers()[header::CONTENT_TYPE].to_str().unwrap()), (OK, "image/webp"));

    // Posted through A, read by a member through B, deleted through B: gone from GridFS.
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut ws_a = ann.connect_via(&a, vec![]).await;
    ws_a.send(&file_send(&room, "f1", MessageKind::File, &info.id, None, "")).await;
    let ServerFrame::Ack { seq, .. } = ws_a.answer("f1").await else { panic!("not acked") };
    assert_eq!(on(&b, &bob, Method::GET, &path).send().await.unwrap().bytes().await.unwrap(), bytes);
    assert!(b.stored_uploads().await.contains(&info.sha256), "{:?}", b.stored_uploads().await);
    let mut ws_b = ann.connect_via(&b, vec![]).await;
    ws_b.send(&change_send(&room, "d1", MessageKind::Delete, seq, "")).await;
    assert!(matches!(ws_b.answer("d1").await, ServerFrame::Ack { .. }));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while b.stored_uploads().await.contains(&info.sha256) {
        assert!(tokio::time::Instant::now() < deadline, "the deleted message's file stayed in GridFS");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(on(&a, &bob, Method::GET, &path).send().await.unwrap().status(), 404);
    a.stop().await;
    b.stop().await;
}

/// The challenge of an instant upload claimed through node A is answered
/// through node B, once; another user's attempt uses nothing up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instant_upload_proof_may_reach_another_node() {
    let (a, b) = two_nodes(redis_addr()).await;
    instant_proof_across(a, b).await;
}

/// A claim on node `a` answered with its proof on `b`: once, by its user only.
pub async fn instant_proof_across(a: TestServer, b: TestServer) {
    let (ann, bob) = (User::register(&a, "ann").await, User::register(&a, "bob").await);
    let bytes = noise(300_000, 2);
    let original = upload(&a, &ann, "big.bin", "file", bytes.clone()).await;
    let claim = json!({ "sha256": original.sha256, "size": bytes.len(), "name": "again.bin" });
    let (status, body) = call(&a, &ann, Method::POST, "/api/files/instant", claim).await;
    assert_eq!(status, 200, "{body}");
    let challenge: InstantChallenge = serde_json::from_value(body).unwrap();
    let path = format!("/api/files/instant/{}", challenge.challenge_id);
    let answer = json!({ "proof": instant_proof(&challenge, &bytes) });

    assert_eq!(call(&b, &bob, Method::POST, &path, answer.clone()).await.0, 404, "not bob's");
    let (status, body) = call(&b, &ann, Method::POST, &path, answer.clone()).await;
    assert_eq!(status, 201, "the proof reached another node than the claim: {body}");
    let mine: FileInfo = serde_json::from_value(body).unwrap();
    assert_eq!((mine.sha256.as_str(), mine.name.as_str()), (original.sha256.as_str(), "again.bin"));
    assert_eq!(call(&a, &ann, Method::POST, &path, answer).await.0, 404, "a challenge answers once, on any node");
    let got = on(&a, &ann, Method::GET, &format!("/api/files/{}", mine.id)).send().await.unwrap();
    assert_eq!(got.bytes().await.unwrap(), bytes);
    a.stop().await;
    b.stop().await;
}

/// The resident memory of a process, in KiB (`VmRSS`).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A 48 MiB file uploaded through node A and downloaded through node B,
/// two processes of their own: B streams it from GridFS a few chunks at a
/// time, so its memory grows by a small part of the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serving_a_large_file_from_gridfs_holds_little_of_it_in_memory() {
    const SIZE: usize = 48 << 20;
    let flags = cluster_flags(redis_addr());
    let (a, b) = (NodeProcess::start(&flags, "node-a").await, NodeProcess::start(&flags, "node-b").await);
    let client = support::http_client();
    let body = json!({ "email": "ann@example.org", "nickname": "ann", "password": "correct horse", "device_id": "d1" });
    let resp = client.post(format!("http://{}/api/auth/register", a.addr)).json(&body).send().await.unwrap();
    let token = resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let bytes = noise(SIZE, 3);
    let want = sha256(&bytes);
    let started = std::time::Instant::now();
    let resp = client
        .post(format!("http://{}/api/files?name=big.bin", a.addr))
        .bearer_auth(&token)
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let info: FileInfo = resp.json().await.unwrap();
    let uploaded = started.elapsed();

    let before = rss_kib(b.pid());
    let started = std::time::Instant::now();
    let mut resp =
        client.get(format!("http://{}/api/files/{}", b.addr, info.id)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let (mut hasher, mut got, mut peak) = (Sha256::new(), 0usize, before);
    while let Some(chunk) = resp.chunk().await.unwrap() {
        hasher.update(&chunk);
        got += chunk.len();
        peak = peak.max(rss_kib(b.pid()));
    }
    let downloaded = started.elapsed();
    assert_eq!((got, hex(&hasher.finalize())), (SIZE, want));
    let grown = peak.saturating_sub(before);
    eprintln!(
        "48 MiB: upload through A {uploaded:?}, download through B {downloaded:?}; \
         B's resident memory {before} KiB before, {peak} KiB at most while serving (+{grown} KiB)"
    );
    assert!(grown < 16 * 1024, "node B grew by {grown} KiB serving a 48 MiB file");
}
