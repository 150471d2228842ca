//! What an attacker without an account did: many wrong sign-ins at once,
//! from several addresses, each one a 19 MiB password hash. The server hashes
//! a bounded number at once, turns the rest away with 429 and `Retry-After`,
//! and keeps serving signed-in users meanwhile; nothing stored is lost.

use crate::support;

use std::{
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

use futures_util::future::join_all;
use reqwest::{header, Method};
use serde_json::json;
use support::{chat::User, TestServer};
use wire::{endpoint, protocol::ServerFrame};

/// One hash at a time, two waiting, for at most 300 ms; the sign-in rate
/// for everyone high enough not to be what refuses.
const ONE_HASH: &[&str] =
    &["--hash-concurrency", "1", "--hash-queue", "2", "--hash-wait-ms", "300", "--sign-ins-per-sec", "1000"];

/// Addresses the attackers come from: each stays under the per-address limit (30 a minute).
const SOURCES: u8 = 4;

/// A client whose connections come from 127.0.0.`n`.
fn client_from(n: u8) -> reqwest::Client {
    reqwest::Client::builder().local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))).build().unwrap()
}

/// `count` wrong sign-ins at once, to accounts that do not exist (each its
/// own, so the per-account limit is not what refuses), spread over
/// [`SOURCES`] addresses: each answer's status and `Retry-After`.
async fn wrong_sign_ins(server: &TestServer, count: usize) -> Vec<(u16, Option<u64>, String)> {
    let clients: Vec<_> = (0..SOURCES).map(|i| client_from(2 + i)).collect();
    let attempts = (0..count).map(|i| {
        let client = &clients[i % clients.len()];
        let body = json!({ "email": format!("nobody{i}@example.org"), "password": "guess guess", "device_id": "d" });
        async move {
            let resp = client.post(server.url(endpoint::AUTH_LOGIN)).json(&body).send().await.unwrap();
            let status = resp.status().as_u16();
            let retry = resp.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().parse().unwrap());
            let body: serde_json::Value = resp.json().await.unwrap();
            (status, retry, body["code"].as_str().unwrap().to_owned())
        }
    });
    join_all(attempts).await
}

async fn sign_in(server: &TestServer, name: &str) -> u16 {
    let body = json!({ "email": format!("{name}@example.org"), "password": "correct horse", "device_id": "d2" });
    server.client.post(server.url(endpoint::AUTH_LOGIN)).json(&body).send().await.unwrap().status().as_u16()
}

async fn one_hash_at_a_time(store: &str) -> TestServer {
    TestServer::on_store_with(store, ONE_HASH).await
}

async fn a_sign_in_flood_is_turned_away_and_others_are_served(server: &TestServer) {
    let alice = User::register(server, "alice").await;
    let bob = User::register(server, "bob").await;
    let room = alice.group("room", &[&bob], json!({})).await;
    let mut alice_ws = alice.connect().await;
    let mut bob_ws = bob.connect().await;

    let flood = wrong_sign_ins(server, 60);
    let meanwhile = async {
        // Let the flood fill the hasher and its queue first.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let start = Instant::now();
        let (status, _) = alice.call(Method::GET, endpoint::CONVERSATIONS, None).await;
        assert_eq!(status, 200);
        let api = start.elapsed();
        let start = Instant::now();
        alice_ws.send_text(&room, "during", "still here").await;
        assert!(matches!(alice_ws.answer("during").await, ServerFrame::Ack { .. }));
        let got = bob_ws.message().await;
        assert_eq!(got.content, "still here");
        (api, start.elapsed())
    };
    let (answers, (api, delivered)) = tokio::join!(flood, meanwhile);

    assert!(api < Duration::from_secs(1), "an API call took {api:?} during the flood");
    assert!(delivered < Duration::from_secs(1), "a message took {delivered:?} during the flood");
    let refused: Vec<_> = answers.iter().filter(|(status, ..)| *status == 429).collect();
    let wrong = answers.iter().filter(|(status, ..)| *status == 401).count();
    assert_eq!(refused.len() + wrong, answers.len(), "only 401 or 429: {answers:?}");
    assert!(wrong >= 3, "the one hashing and the two queued are answered: {answers:?}");
    assert!(refused.len() >= 40, "most are turned away at once: {answers:?}");
    for (_, retry, code) in refused {
        assert_eq!(code, "rate_limited");
        assert!(matches!(retry, Some(1..=5)), "Retry-After {retry:?}");
    }

    // The right password still works, and what was sent is kept.
    assert_eq!(sign_in(server, "alice").await, 200);
    let (status, history) = bob.call(Method::GET, &format!("/api/conversations/{room}/messages"), None).await;
    assert_eq!(status, 200);
    assert_eq!(history[0]["content"], "still here");
}

on_both_stores!(with one_hash_at_a_time; a_sign_in_flood_is_turned_away_and_others_are_served);

/// Many addresses, each under its own limit, still meet the limit for everyone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_from_all_addresses_have_a_rate() {
    let server = TestServer::start(&["--sign-ins-per-sec", "3", "--hash-queue", "100", "--hash-wait-ms", "10000"]).await;
    let answers = wrong_sign_ins(&server, 12).await;
    let refused: Vec<_> = answers.iter().filter(|(status, ..)| *status == 429).collect();
    // Three a second: within the time the twelve come in, at most two windows' worth pass.
    assert!(refused.len() >= 6, "{answers:?}");
    assert!(refused.iter().all(|(_, retry, code)| code == "rate_limited" && *retry == Some(1)), "{answers:?}");
    assert!(answers.iter().all(|(status, ..)| matches!(status, 401 | 429)), "{answers:?}");
    server.stop().await;
}
