//! Uploads of images that decode to far more memory than they weigh: the
//! server decodes a bounded number at once, turns the rest away clearly,
//! keeps serving other users and loses nothing stored.

use crate::support;

use std::time::{Duration, Instant};

use image::{codecs::png::PngEncoder, ExtendedColorType, ImageEncoder};
use reqwest::{header, Method};
use serde_json::{json, Value};
use support::{chat::User, TestServer};
use wire::protocol::ServerFrame;

/// A 6000×6000 PNG of one colour: about 100 KiB that decodes to 108 MB.
fn picture_bomb() -> Vec<u8> {
    let (side, mut out) = (6000u32, Vec::new());
    let pixels = vec![200u8; (side * side * 3) as usize];
    let encoder = PngEncoder::new_with_quality(&mut out, image::codecs::png::CompressionType::Best, Default::default());
    encoder.write_image(&pixels, side, side, ExtendedColorType::Rgb8).unwrap();
    assert!(out.len() < 1 << 20, "{} bytes", out.len());
    out
}

async fn upload(user: &User<'_>, kind: &str, body: Vec<u8>) -> (u16, Option<String>, Value) {
    let url = user.server.url(&format!("/api/files?name=picture.png&kind={kind}"));
    let resp = user.server.client.post(url).bearer_auth(&user.token).body(body).send().await.unwrap();
    let retry_after = resp.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
    (resp.status().as_u16(), retry_after, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn concurrent_picture_bombs_are_answered_while_others_are_served() {
    let server = TestServer::start(&["--image-decodes", "1", "--image-decode-queue", "1", "--max-image-megapixels", "40"]).await;
    let (ann, bob, mallory) =
        (User::register(&server, "ann").await, User::register(&server, "bob").await, User::register(&server, "mallory").await);
    let kept = b"ann's notes, stored before the attack".to_vec();
    let (status, _, before) = upload(&ann, "file", kept.clone()).await;
    assert_eq!(status, 201, "{before}");
    let group = ann.group("friends", &[&bob], json!({})).await;
    let mut ann_live = ann.connect().await;
    let mut bob_live = bob.connect().await;

    let bomb = picture_bomb();
    let attack: Vec<_> = (0..8)
        .map(|_| {
            let (server, token, bomb) = (&server, mallory.token.clone(), bomb.clone());
            async move {
                let user = User { server, id: String::new(), token };
                upload(&user, "image", bomb).await
            }
        })
        .collect();
    let attack = futures_util::future::join_all(attack);
    let others = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let started = Instant::now();
        let (status, _) = bob.call(Method::GET, "/api/conversations", None).await;
        assert_eq!(status, 200);
        bob_live.send_text(&group, "c1", "still there?").await;
        loop {
            if let ServerFrame::Message { message } = ann_live.next().await {
                assert_eq!(message.content, "still there?");
                break;
            }
        }
        started.elapsed()
    };
    let (answers, others_took) = tokio::join!(attack, others);
    assert!(others_took < Duration::from_secs(2), "another user waited {others_took:?}");

    let stored = answers.iter().filter(|(status, ..)| *status == 201).count();
    for (status, retry_after, body) in &answers {
        match status {
            201 => assert_eq!(body["thumbnail"], true, "{body}"),
            429 => {
                assert_eq!(body["code"], "rate_limited", "{body}");
                assert!(retry_after.as_deref().is_some_and(|s| s.parse::<u64>().unwrap() >= 1), "{body}");
            }
            _ => panic!("unclear answer {status}: {body}"),
        }
    }
    assert!(stored >= 1 && stored < answers.len(), "{answers:?}");

    let id = before["id"].as_str().unwrap();
    let resp = ann.server.client.get(server.url(&format!("/api/files/{id}"))).bearer_auth(&ann.token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().as_ref(), kept.as_slice(), "what was stored is intact");
    server.stop().await;
}

#[tokio::test]
async fn message_images_above_the_pixel_cap_go_as_plain_files() {
    let server = TestServer::start(&[]).await;
    let ann = User::register(&server, "ann").await;
    let bomb = picture_bomb();
    let (status, _, body) = upload(&ann, "image", bomb.clone()).await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(body["code"], "unsupported_media_type");
    assert!(body["message"].as_str().unwrap().contains("at most 24 megapixels"), "{body}");
    let (status, _, body) = upload(&ann, "file", bomb).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["thumbnail"], false, "stored and downloadable, without a thumbnail");
    server.stop().await;
}

/// A 6000×4000 photo's worth of noise as a JPEG: megabytes, 72 MB of pixels.
fn noisy_photo() -> Vec<u8> {
    let (width, height) = (6000u32, 4000u32);
    let pixels = image::RgbImage::from_fn(width, height, |x, y| {
        let noise = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)) >> 11 & 31;
        image::Rgb([(x / 24 + noise) as u8, (y / 16 + noise) as u8, ((x + y) / 40) as u8])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&pixels).unwrap();
    assert!(out.len() > 1 << 20, "{} bytes", out.len());
    out
}

#[tokio::test]
async fn a_photo_at_the_pixel_cap_is_kept_bit_for_bit_with_a_thumbnail() {
    let server = TestServer::start(&[]).await;
    let ann = User::register(&server, "ann").await;
    let photo = noisy_photo();
    let (status, _, body) = upload(&ann, "image", photo.clone()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!((&body["width"], &body["height"], &body["thumbnail"]), (&json!(6000), &json!(4000), &json!(true)));
    let id = body["id"].as_str().unwrap();
    let get = |path: String| ann.server.client.get(server.url(&path)).bearer_auth(&ann.token).send();
    let served = get(format!("/api/files/{id}")).await.unwrap().bytes().await.unwrap();
    assert!(served.as_ref() == photo.as_slice(), "no metadata to drop: the very same bytes, not a re-encoding");
    let thumbnail = get(format!("/api/files/{id}/thumbnail")).await.unwrap().bytes().await.unwrap();
    let thumbnail = image::load_from_memory_with_format(&thumbnail, image::ImageFormat::WebP).unwrap();
    assert_eq!((thumbnail.width(), thumbnail.height()), (320, 213));
    server.stop().await;
}

#[tokio::test]
async fn uploads_beyond_a_users_budget_are_refused_before_the_body_is_read() {
    let server = TestServer::start(&["--uploads-per-minute", "2"]).await;
    let (ann, bob) = (User::register(&server, "ann").await, User::register(&server, "bob").await);
    for n in 0..2 {
        let (status, _, body) = upload(&ann, "file", format!("file {n}").into_bytes()).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, retry_after, body) = upload(&ann, "file", b"one too many".to_vec()).await;
    assert_eq!((status, body["code"].as_str()), (429, Some("rate_limited")), "{body}");
    let wait: u64 = retry_after.unwrap().parse().unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    let (status, ..) = upload(&bob, "file", b"bob's own budget".to_vec()).await;
    assert_eq!(status, 201, "another user is not affected");
    server.stop().await;
}
