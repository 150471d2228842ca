//! Uploads, downloads, instant uploads and attachment messages, end to end
//! over HTTP and the websocket, on both stores.

use crate::support;

use std::io::Cursor;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use reqwest::{header, Method};
use serde_json::{json, Value};
use support::{
    chat::{file_send, User},
    files::{instant_proof, sha256},
    files_under, TestServer,
};
use wire::{
    api::{FileInfo, InstantChallenge},
    model::{FileId, MessageKind},
    protocol::{ClientFrame, ServerFrame, WsErrorCode},
};

/// Bytes no sniffer takes for text or a known format.
fn noise(len: usize, seed: u8) -> Vec<u8> {
    let mut x = u32::from(seed) | 0x1000;
    (0..len)
        .map(|i| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            if i == 0 { 0 } else { (x >> 24) as u8 }
        })
        .collect()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image: DynamicImage = RgbImage::from_fn(width, height, |x, y| Rgb([x as u8, y as u8, 90])).into();
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A JPEG carrying an EXIF segment with a (made-up) camera name.
fn jpeg_with_exif() -> Vec<u8> {
    let image: DynamicImage = RgbImage::from_fn(400, 300, |x, _| Rgb([x as u8, 80, 160])).into();
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Jpeg).unwrap();
    let jpeg = out.into_inner();
    let make = b"SecretCam GPS 51.5N\0";
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend(1u16.to_be_bytes()); // one entry: Make, ASCII, its length, at offset 26
    tiff.extend(0x010Fu16.to_be_bytes());
    tiff.extend(2u16.to_be_bytes());
    tiff.extend((make.len() as u32).to_be_bytes());
    tiff.extend(26u32.to_be_bytes());
    tiff.extend(0u32.to_be_bytes());
    tiff.extend(make);
    let payload = [b"Exif\0\0".as_slice(), &tiff].concat();
    let mut with = jpeg[..2].to_vec();
    with.extend([0xFF, 0xE1]);
    with.extend(((payload.len() + 2) as u16).to_be_bytes());
    with.extend(payload);
    with.extend(&jpeg[2..]);
    with
}

/// An ELF header and some padding: an executable, whatever its name says.
fn elf() -> Vec<u8> {
    let mut bytes = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0>\0".to_vec();
    bytes.resize(4096, 0x90);
    bytes
}

/// The start of an Ogg stream, as a voice note recorder writes it.
fn ogg() -> Vec<u8> {
    let mut bytes = b"OggS\0\x02".to_vec();
    bytes.extend(noise(2000, 7));
    bytes
}

/// The start of a WebM file (EBML header).
fn webm() -> Vec<u8> {
    let mut bytes = vec![0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84];
    bytes.extend(b"webm");
    bytes.extend(noise(3000, 9));
    bytes
}

impl User<'_> {
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.server.client.request(method, self.server.url(path)).bearer_auth(&self.token)
    }

    async fn upload_raw(&self, query: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut req = self.request(Method::POST, &format!("/api/files?{query}")).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    async fn upload(&self, name: &str, kind: &str, body: &[u8]) -> FileInfo {
        let query = format!("name={}&kind={kind}", urlencode(name));
        let (status, info) = self.upload_raw(&query, body.to_vec(), &[]).await;
        assert_eq!(status, 201, "{info}");
        serde_json::from_value(info).unwrap()
    }

    async fn download(&self, path: &str, range: Option<&str>) -> reqwest::Response {
        let mut req = self.request(Method::GET, path);
        if let Some(range) = range {
            req = req.header(header::RANGE, range);
        }
        req.send().await.unwrap()
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every regular file under `dir`.
async fn uploads_come_back_byte_for_byte_with_ranges(server: &TestServer) {
    let ann = User::register(server, "ann").await;
    let bytes = noise(300_000, 1);
    let info = ann.upload("data 报告.bin", "file", &bytes).await;
    assert_eq!((info.size, info.sha256.as_str(), info.mime.as_str()), (300_000, sha256(&bytes).as_str(), "application/octet-stream"));
    assert_eq!(info.name, "data 报告.bin");
    assert!(!info.thumbnail);

    let path = format!("/api/files/{}", info.id);
    let resp = ann.download(&path, None).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h[header::CONTENT_TYPE], "application/octet-stream");
    assert_eq!(h[header::ACCEPT_RANGES], "bytes");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h[header::CONTENT_DISPOSITION], "attachment; filename=\"data __.bin\"; filename*=UTF-8''data%20%E6%8A%A5%E5%91%8A.bin");
    assert_eq!(resp.bytes().await.unwrap(), bytes);

    let resp = ann.download(&path, Some("bytes=1000-1999")).await;
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.headers()[header::CONTENT_RANGE], "bytes 1000-1999/300000");
    assert_eq!(resp.bytes().await.unwrap(), bytes[1000..2000]);
    let resp = ann.download(&path, Some("bytes=-10")).await;
    assert_eq!((resp.status().as_u16(), resp.bytes().await.unwrap().to_vec()), (206, bytes[299_990..].to_vec()));
    let resp = ann.download(&path, Some("bytes=300000-")).await;
    assert_eq!(resp.status(), 416);
    assert_eq!(resp.headers()[header::CONTENT_RANGE], "bytes */300000");
    // A last byte at u64::MAX saturates to the end instead of wrapping into a malformed answer.
    let resp = ann.download(&path, Some("bytes=1-18446744073709551615")).await;
    assert_eq!(resp.status(), 206);
    assert_eq!(resp.headers()[header::CONTENT_RANGE], "bytes 1-299999/300000");
    assert_eq!(resp.headers()[header::CONTENT_LENGTH], "299999");
    assert_eq!(resp.bytes().await.unwrap(), bytes[1..]);
    let resp = ann.download(&path, Some("bytes=18446744073709551615-18446744073709551615")).await;
    assert_eq!((resp.status().as_u16(), resp.headers()[header::CONTENT_RANGE].to_str().unwrap()), (416, "bytes */300000"));

    // The same content again is stored once on disk, under a new record.
    let again = ann.upload("copy.bin", "file", &bytes).await;
    assert_ne!(again.id, info.id);
    assert_eq!(server.stored_uploads().await, [info.sha256.clone()]);

    let (status, body) = ann.call(Method::GET, "/api/files/nope", None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
}

async fn images_get_thumbnails_and_lose_their_exif(server: &TestServer) {
    let ann = User::register(server, "ann").await;
    let jpeg = jpeg_with_exif();
    assert!(jpeg.windows(9).any(|w| w == b"SecretCam"));
    let info = ann.upload("photo.png", "image", &jpeg).await;
    assert_eq!((info.mime.as_str(), info.width, info.height, info.thumbnail), ("image/jpeg", Some(400), Some(300), true));

    let resp = ann.download(&format!("/api/files/{}", info.id), None).await;
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "image/jpeg");
    assert!(resp.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().starts_with("inline;"));
    let served = resp.bytes().await.unwrap();
    assert!(!served.windows(4).any(|w| w == b"Exif") && !served.windows(9).any(|w| w == b"SecretCam"), "EXIF is gone");
    let decoded = image::load_from_memory_with_format(&served, ImageFormat::Jpeg).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (400, 300));
    let original = image::load_from_memory_with_format(&jpeg, ImageFormat::Jpeg).unwrap();
    assert!(decoded == original, "the same compressed pixels: the metadata went, nothing was re-encoded");

    let resp = ann.download(&format!("/api/files/{}/thumbnail", info.id), None).await;
    assert_eq!((resp.status().as_u16(), resp.headers()[header::CONTENT_TYPE].to_str().unwrap()), (200, "image/webp"));
    let thumb = image::load_from_memory_with_format(&resp.bytes().await.unwrap(), ImageFormat::WebP).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 240));

    let other = ann.upload("notes.txt", "file", b"just text").await;
    assert_eq!(other.mime, "text/plain");
    let resp = ann.download(&format!("/api/files/{}/thumbnail", other.id), None).await;
    assert_eq!(resp.status(), 404);
}

/// Runs on a server that takes at most 1 MiB.
async fn bad_uploads_are_refused_and_leave_nothing(server: &TestServer) {
    let ann = User::register(server, "ann").await;
    let over = noise((1 << 20) + 1, 2);
    let text = b"plain words, not a picture".to_vec();
    let zeros = "0".repeat(64);
    // What, query, body, headers; then the status, code and field expected.
    type Case<'a> = (&'a str, &'a str, Vec<u8>, Vec<(&'a str, &'a str)>, u16, &'a str, Option<&'a str>);
    let cases: Vec<Case> = vec![
        ("empty", "name=empty.txt", vec![], vec![], 400, "bad_request", Some("body")),
        ("a lying type", "name=a.png", text.clone(), vec![("content-type", "image/png")], 415, "unsupported_media_type", None),
        ("an executable as an image", "name=cat.png&kind=image", elf(), vec![], 415, "unsupported_media_type", None),
        ("text as a voice note", "name=a.ogg&kind=voice", text.clone(), vec![], 415, "unsupported_media_type", None),
        ("no name", "kind=file", text.clone(), vec![], 400, "bad_request", Some("name")),
        ("a path", "name=..%2F..%2Fetc%2Fpasswd", text.clone(), vec![], 400, "bad_request", Some("name")),
        ("a control character", "name=a%07b.txt", text.clone(), vec![], 400, "bad_request", Some("name")),
        ("a right-to-left trick", "name=gnp%E2%80%AEexe.png", elf(), vec![], 400, "bad_request", Some("name")),
        ("a wrong hash", "name=a.txt", text.clone(), vec![("x-content-sha256", zeros.as_str())], 400, "bad_request", Some("sha256")),
        ("a malformed hash", "name=a.txt", text.clone(), vec![("x-content-sha256", "abc")], 400, "bad_request", Some("sha256")),
        ("an unknown kind", "name=a.txt&kind=hologram", text.clone(), vec![], 400, "bad_request", None),
    ];
    for (what, query, body, headers, status, code, field) in cases {
        let (got, error) = ann.upload_raw(query, body, &headers).await;
        assert_eq!((got, error["code"].as_str()), (status, Some(code)), "{what}: {error}");
        assert_eq!(error["field"].as_str(), field, "{what}: {error}");
    }
    // Over the limit without a declared length: refused while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = over.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let resp = ann.request(Method::POST, "/api/files?name=big.bin").body(body).send().await.unwrap();
    assert_eq!(resp.status(), 413);
    let error: Value = resp.json().await.unwrap();
    assert_eq!(error["code"], "payload_too_large");
    // With a declared length over the limit: refused before reading, and the
    // connection closes (said in the answer, so it is not reused). The
    // client may still be sending when it closes.
    let resp = ann.request(Method::POST, "/api/files?name=big.bin").body(over.clone()).send().await;
    if let Ok(resp) = resp {
        assert_eq!(resp.status(), 413);
        assert_eq!(resp.headers()[header::CONNECTION], "close");
    }

    let left = server.stored_uploads().await;
    assert!(left.is_empty(), "nothing stored: {left:?}");
    let left = files_under(&server.data_dir().join("files"));
    assert!(left.is_empty(), "nothing left on disk: {left:?}");
    for content in [over, text, elf()] {
        let claim = json!({ "sha256": sha256(&content), "size": content.len(), "name": "x" });
        let (status, _) = ann.call(Method::POST, "/api/files/instant", Some(claim)).await;
        assert_eq!(status, 404, "no content recorded");
    }
    // The executable may travel as a plain file: sniffed as what it is.
    let info = ann.upload("cat.png", "file", &elf()).await;
    assert_eq!(info.mime, "application/x-executable");
    let resp = ann.download(&format!("/api/files/{}", info.id), None).await;
    assert!(resp.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment;"));
}

async fn only_members_of_a_conversation_it_was_posted_in_may_download(server: &TestServer) {
    let (ann, bob, cat) = (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "cat").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let info = ann.upload("plan.txt", "file", b"the plan").await;
    let path = format!("/api/files/{}", info.id);
    assert_eq!(bob.download(&path, None).await.status(), 403, "not posted yet");

    let mut a = ann.connect().await;
    a.send(&file_send(&room, "f1", MessageKind::File, &info.id, None, "")).await;
    assert!(matches!(a.answer("f1").await, ServerFrame::Ack { .. }));
    let resp = bob.download(&path, None).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap(), "the plan");
    let resp = cat.download(&path, None).await;
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "forbidden");
    let resp = server.client.get(server.url(&path)).send().await.unwrap();
    assert_eq!(resp.status(), 401, "not signed in");
}

async fn instant_uploads_need_proof_of_possession(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let bytes = noise(100_000, 3);
    let original = ann.upload("big.bin", "file", &bytes).await;
    let claim = json!({ "sha256": sha256(&bytes), "size": bytes.len(), "name": "mine.bin" });
    // Instant upload is offered only for content the claimer may read:
    // for anyone else the server does not say whether it holds it.
    let (status, body) = bob.call(Method::POST, "/api/files/instant", Some(claim.clone())).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "not posted where bob is: {body}");
    ann.share_file(&bob, &original.id).await;

    // A wrong proof is refused, and uses the challenge up.
    let (status, body) = bob.call(Method::POST, "/api/files/instant", Some(claim.clone())).await;
    assert_eq!(status, 200, "{body}");
    let challenge: InstantChallenge = serde_json::from_value(body).unwrap();
    assert_eq!(challenge.ranges.len(), 3);
    let path = format!("/api/files/instant/{}", challenge.challenge_id);
    let (status, body) = bob.call(Method::POST, &path, Some(json!({ "proof": sha256(b"guess") }))).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")));
    let right = instant_proof(&challenge, &bytes);
    let (status, _) = bob.call(Method::POST, &path, Some(json!({ "proof": right }))).await;
    assert_eq!(status, 404, "a challenge answers once");
    // Another user's challenge is not found either.
    let (_, body) = bob.call(Method::POST, "/api/files/instant", Some(claim.clone())).await;
    let challenge: InstantChallenge = serde_json::from_value(body).unwrap();
    let path = format!("/api/files/instant/{}", challenge.challenge_id);
    let (status, _) = ann.call(Method::POST, &path, Some(json!({ "proof": instant_proof(&challenge, &bytes) }))).await;
    assert_eq!(status, 404);

    // The right proof gets bob his own record of the content, with no bytes sent.
    let (status, body) = bob.call(Method::POST, &path, Some(json!({ "proof": instant_proof(&challenge, &bytes) }))).await;
    assert_eq!(status, 201, "{body}");
    let mine: FileInfo = serde_json::from_value(body).unwrap();
    assert_ne!(mine.id, original.id);
    assert_eq!((mine.name.as_str(), mine.sha256.as_str(), mine.size), ("mine.bin", original.sha256.as_str(), original.size));
    assert_eq!(bob.download(&format!("/api/files/{}", mine.id), None).await.bytes().await.unwrap(), bytes);
    assert_eq!(server.stored_uploads().await.len(), 1);

    // A stranger to the file: the same answer as for content never uploaded;
    // sending the bytes stores them once all the same.
    let cat = User::register(server, "cat").await;
    let (status, body) = cat.call(Method::POST, "/api/files/instant", Some(claim.clone())).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{body}");
    let theirs = cat.upload("same.bin", "file", &bytes).await;
    assert_eq!(theirs.sha256, original.sha256);
    assert_eq!(server.stored_uploads().await.len(), 1, "stored once");

    let cases = [
        (json!({ "sha256": sha256(b"never uploaded"), "size": 14, "name": "x" }), 404),
        (json!({ "sha256": sha256(&bytes), "size": 99, "name": "x" }), 404),
        (json!({ "sha256": "not-a-hash", "size": 1, "name": "x" }), 400),
        (json!({ "sha256": sha256(&bytes), "size": bytes.len(), "name": "../x" }), 400),
        (json!({ "sha256": sha256(&bytes), "size": bytes.len(), "name": "x", "kind": "image" }), 415),
    ];
    for (claim, status) in cases {
        assert_eq!(bob.call(Method::POST, "/api/files/instant", Some(claim.clone())).await.0, status, "{claim}");
    }
    let (status, _) = bob.call(Method::POST, "/api/files/instant/unknown", Some(json!({ "proof": "00" }))).await;
    assert_eq!(status, 404);
}

/// Issue "Safe on the internet (1)", item 9: one user re-claiming their own
/// file more often than the node's whole table holds (10,000) used to fill
/// it and turn instant upload off for everyone.
async fn one_user_reclaiming_in_a_loop_leaves_instant_upload_to_the_others(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let bytes = noise(20_000, 5);
    let original = ann.upload("mine.bin", "file", &bytes).await;
    ann.share_file(&bob, &original.id).await;
    let claim = json!({ "sha256": sha256(&bytes), "size": bytes.len(), "name": "again.bin" });
    let started = std::time::Instant::now();
    let mut first = None;
    let mut last = None;
    for _ in 0..10_001 {
        let (status, body) = ann.call(Method::POST, "/api/files/instant", Some(claim.clone())).await;
        assert_eq!(status, 200, "ann's own claims are never refused: her oldest make way ({body})");
        let challenge: InstantChallenge = serde_json::from_value(body).unwrap();
        first.get_or_insert(challenge.clone());
        last = Some(challenge);
    }
    eprintln!("10,001 claims in {:?}", started.elapsed());

    // Bob is still served, within a normal request's time, and gets his file.
    let asked = std::time::Instant::now();
    let (status, body) = bob.call(Method::POST, "/api/files/instant", Some(claim.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert!(asked.elapsed() < std::time::Duration::from_secs(2), "bob waited {:?}", asked.elapsed());
    let challenge: InstantChallenge = serde_json::from_value(body).unwrap();
    let path = format!("/api/files/instant/{}", challenge.challenge_id);
    assert_eq!(bob.call(Method::POST, &path, Some(json!({ "proof": instant_proof(&challenge, &bytes) }))).await.0, 201);

    // Ann's newest challenge still answers; her oldest made way.
    let (first, last) = (first.unwrap(), last.unwrap());
    let path = format!("/api/files/instant/{}", first.challenge_id);
    let (status, _) = ann.call(Method::POST, &path, Some(json!({ "proof": instant_proof(&first, &bytes) }))).await;
    assert_eq!(status, 404);
    let path = format!("/api/files/instant/{}", last.challenge_id);
    assert_eq!(ann.call(Method::POST, &path, Some(json!({ "proof": instant_proof(&last, &bytes) }))).await.0, 201);

    // Nothing stored was lost: the original still comes back whole.
    assert_eq!(ann.download(&format!("/api/files/{}", original.id), None).await.bytes().await.unwrap(), bytes);
    assert_eq!(server.stored_uploads().await.len(), 1);
}

async fn attachment_messages_travel_over_the_websocket(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let (mut a, mut b) = (ann.connect().await, bob.connect().await);
    let image = ann.upload("pic.png", "image", &png(64, 48)).await;
    let voice = ann.upload("note.ogg", "voice", &ogg()).await;
    let video = ann.upload("clip.webm", "video", &webm()).await;
    let file = ann.upload("data.bin", "file", &noise(500, 4)).await;
    let sends = [
        (MessageKind::Image, &image, None),
        (MessageKind::Voice, &voice, Some(4200)),
        (MessageKind::Video, &video, Some(9000)),
        (MessageKind::File, &file, None),
    ];
    for (i, (kind, info, duration)) in sends.iter().enumerate() {
        a.send(&file_send(&room, &format!("m{i}"), *kind, &info.id, *duration, &format!("caption {i}"))).await;
        assert!(matches!(a.answer(&format!("m{i}")).await, ServerFrame::Ack { .. }));
        let got = b.message().await;
        assert_eq!((got.kind, got.content.clone()), (*kind, format!("caption {i}")));
        assert_eq!(got.attachment, Some(Box::new((*info).clone().attach(*duration))));
    }
    let (status, history) = bob.call(Method::GET, &format!("/api/conversations/{room}/messages"), None).await;
    assert_eq!(status, 200);
    assert_eq!(history[0]["attachment"]["file_id"], json!(file.id), "history keeps attachments");
    assert_eq!(history[0]["attachment"]["mime"], "application/octet-stream");
    // The newest message is recorded on the conversation just after the ack.
    let summary = bob.summary_once_unread(&room, 4).await;
    assert_eq!(summary.conversation.last_message.as_ref().unwrap().kind, MessageKind::File);

    // Refused: another's file, a file of the wrong kind, a missing or extra attachment, a call.
    let bobs = bob.upload("b.txt", "file", b"bob's").await;
    let wrong = [
        file_send(&room, "x1", MessageKind::File, &bobs.id, None, ""),
        file_send(&room, "x2", MessageKind::Image, &file.id, None, ""),
        file_send(&room, "x3", MessageKind::Voice, &image.id, None, ""),
        file_send(&room, "x4", MessageKind::Video, &image.id, None, ""),
        file_send(&room, "x5", MessageKind::Text, &file.id, None, ""),
        file_send(&room, "x6", MessageKind::File, &FileId::from("nope"), None, ""),
        file_send(&room, "x7", MessageKind::VoiceCall, &file.id, None, ""),
        file_send(&room, "x8", MessageKind::Voice, &voice.id, Some(100 * 24 * 3600 * 1000), ""),
        {
            let mut frame = file_send(&room, "x9", MessageKind::Image, &file.id, None, "hi");
            if let ClientFrame::Send { attachment, .. } = &mut frame {
                *attachment = None;
            }
            frame
        },
    ];
    for frame in wrong {
        let ClientFrame::Send { client_id, .. } = &frame else { unreachable!() };
        let client_id = client_id.clone();
        a.send(&frame).await;
        match a.answer(&client_id).await {
            ServerFrame::Error { code, client_id: Some(id), .. } => assert_eq!((code, id), (WsErrorCode::BadRequest, client_id)),
            other => panic!("{client_id}: {other:?}"),
        }
    }
    let (_, history) = bob.call(Method::GET, &format!("/api/conversations/{room}/messages"), None).await;
    assert_eq!(history.as_array().unwrap().len(), 4, "nothing refused was stored");
}

mod limits {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instant_upload_claims_are_capped_per_user() {
        let server = TestServer::on_store("embedded").await;
        one_user_reclaiming_in_a_loop_leaves_instant_upload_to_the_others(&server).await;
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bad_uploads_on_the_embedded_store() {
        let server = TestServer::on_store_with("embedded", &["--max-upload-mib", "1"]).await;
        bad_uploads_are_refused_and_leave_nothing(&server).await;
        server.stop().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bad_uploads_on_mongodb() {
        let server = TestServer::on_store_with("mongodb", &["--max-upload-mib", "1"]).await;
        bad_uploads_are_refused_and_leave_nothing(&server).await;
        server.stop().await;
    }
}

/// Data at rest is the server's user's only: a data dir found open is
/// closed, and every directory and file the server makes in it (database,
/// uploads, thumbnails, avatars) is private, whatever the umask.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_at_rest_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let (data, secret) = support::fresh_data_dir();
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let server = TestServer::start_in(data, &secret, &[]).await;
    let ann = User::register(&server, "ann").await;
    ann.upload("notes.bin", "file", &noise(5000, 3)).await;
    ann.upload("photo.jpg", "image", &jpeg_with_exif()).await;
    let resp = server.client.post(server.url("/api/me/avatar")).bearer_auth(&ann.token).body(png(64, 64)).send().await;
    assert_eq!(resp.unwrap().status(), 200);

    let root = server.data_dir();
    assert_eq!(mode(root), 0o700, "the data dir");
    let mut walked = vec![];
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path.clone());
            }
            walked.push((mode(&path), path));
        }
    }
    for want in [natter_server::store::EMBEDDED_FILE, "avatars", "files"] {
        assert!(walked.iter().any(|(_, p)| p.starts_with(root.join(want))), "{want} in {walked:?}");
    }
    let open: Vec<_> = walked.iter().filter(|(m, _)| m & 0o077 != 0).collect();
    assert!(open.is_empty(), "open to others: {open:?}");
    server.stop().await;
}

on_both_stores!(
    uploads_come_back_byte_for_byte_with_ranges,
    images_get_thumbnails_and_lose_their_exif,
    only_members_of_a_conversation_it_was_posted_in_may_download,
    instant_uploads_need_proof_of_possession,
    attachment_messages_travel_over_the_websocket,
);
