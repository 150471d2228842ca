//! What an anonymous client on the internet could do to a node, from the
//! issue "Safe on the internet (1)": slow and idle connections (item 1) and
//! the open, growing `/metrics` (item 8); each attack next to a signed-in
//! pair whose messages must still go through. Timeouts are made short by
//! flags. On the embedded store: the store plays no part.

use crate::support;

use std::{
    net::{IpAddr, SocketAddr},
    time::{Duration, Instant},
};

use reqwest::Method;
use serde_json::{json, Value};
use support::{
    chat::{Client, User},
    files_under, TestServer,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};
use wire::model::ConversationId;

/// Two signed-in users with a shared conversation, both connected.
struct Pair<'a> {
    ann: User<'a>,
    bob: User<'a>,
    room: ConversationId,
    ann_ws: Client,
    bob_ws: Client,
    sent: usize,
}

impl<'a> Pair<'a> {
    async fn new(server: &'a TestServer) -> Pair<'a> {
        let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
        let room = ann.group("room", &[&bob], json!({})).await;
        let (ann_ws, bob_ws) = (ann.connect().await, bob.connect().await);
        Pair { ann, bob, room, ann_ws, bob_ws, sent: 0 }
    }

    /// Ann sends; bob gets it within a normal message's time.
    async fn still_talk(&mut self) {
        self.sent += 1;
        let text = format!("still here {}", self.sent);
        let started = Instant::now();
        self.ann_ws.send_text(&self.room, &format!("c{}", self.sent), &text).await;
        let got = self.bob_ws.message().await;
        assert_eq!(got.content, text);
        assert!(started.elapsed() < Duration::from_secs(2), "delivered after {:?}", started.elapsed());
    }

    /// Everything sent is stored: the history holds each message.
    async fn nothing_lost(&self) {
        let (status, history) =
            self.bob.call(Method::GET, &format!("/api/conversations/{}/messages", self.room), None).await;
        assert_eq!(status, 200);
        assert_eq!(history.as_array().unwrap().len(), self.sent, "{history}");
        let _ = &self.ann;
    }
}

/// A TCP connection to `server` from the loopback address `from`.
async fn connect_from(server: &TestServer, from: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from.parse::<IpAddr>().unwrap(), 0)).unwrap();
    socket.connect(server.addr).await.unwrap()
}

/// Reads until the server closes the connection; what it sent, and when.
async fn until_closed(tcp: &mut TcpStream, within: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((started + within).into(), tcp.read(&mut buf)).await {
            Err(_) => panic!("still open after {within:?}; got {:?}", String::from_utf8_lossy(&got)),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, started.elapsed()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Whether the server closes `tcp` within `within` (rather than keeping it open).
async fn closed_within(tcp: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    matches!(tokio::time::timeout(within, tcp.read(&mut buf)).await, Ok(Ok(0)) | Ok(Err(_)))
}

/// `/healthz` over a fresh connection from `from`, answered within a normal time.
async fn healthz_from(server: &TestServer, from: &str) -> bool {
    let mut tcp = connect_from(server, from).await;
    let started = Instant::now();
    let request = "GET /healthz HTTP/1.1\r\nHost: natter\r\nConnection: close\r\n\r\n";
    if tcp.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), tcp.read_to_end(&mut answer)).await;
    let ok = matches!(read, Ok(Ok(_))) && answer.starts_with(b"HTTP/1.1 200");
    ok && started.elapsed() < Duration::from_secs(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_sent_slowly_is_cut_off_at_the_header_timeout() {
    let server = TestServer::on_store_with("embedded", &["--header-timeout-secs", "1"]).await;
    let mut pair = Pair::new(&server).await;

    // The slow loris: a head that keeps coming, a byte at a time, never whole.
    let mut loris = connect_from(&server, "127.0.0.2").await;
    loris.write_all(b"GET /healthz HTTP/1.1\r\nHost: natter\r\n").await.unwrap();
    let trickle = tokio::spawn(async move {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if loris.write_all(b"X").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            let mut buf = [0u8; 256];
            match tokio::time::timeout(Duration::from_millis(1), loris.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
                Ok(Ok(n)) => panic!("answered a head that never ended: {:?}", String::from_utf8_lossy(&buf[..n])),
                Err(_) => {}
            }
        }
        started.elapsed()
    });
    // A silent one, never sending a byte.
    let mut silent = connect_from(&server, "127.0.0.3").await;
    pair.still_talk().await;
    assert!(healthz_from(&server, "127.0.0.4").await, "others are answered meanwhile");

    let cut = trickle.await.unwrap();
    assert!(cut >= Duration::from_millis(800) && cut < Duration::from_secs(3), "the loris was cut after {cut:?}");
    let (said, after) = until_closed(&mut silent, Duration::from_secs(3)).await;
    assert!(said.is_empty() && after < Duration::from_secs(3), "silent: {said:?} after {after:?}");

    pair.still_talk().await;
    pair.nothing_lost().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_whose_body_stalls_fails_at_the_body_timeout_and_stores_nothing() {
    let server = TestServer::on_store_with("embedded", &["--body-timeout-secs", "1"]).await;
    let mut pair = Pair::new(&server).await;
    let mut tcp = connect_from(&server, "127.0.0.2").await;
    let head = format!(
        "POST /api/files?name=slow.bin&kind=file HTTP/1.1\r\nHost: natter\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: 100000\r\n\r\n",
        pair.ann.token
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&[7u8; 1000]).await.unwrap();
    pair.still_talk().await;
    let (answer, after) = until_closed(&mut tcp, Duration::from_secs(5)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains(r#""code":"bad_request""#), "{answer}");
    assert!(after < Duration::from_secs(3), "answered after {after:?}");
    let stored = files_under(&server.data_dir().join("files"));
    assert!(stored.is_empty(), "the broken upload left {stored:?}");
    pair.still_talk().await;
    pair.nothing_lost().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_capped_per_address_and_in_total() {
    let server = TestServer::on_store_with(
        "embedded",
        &["--max-connections-per-ip", "5", "--max-connections", "12", "--header-timeout-secs", "60"],
    )
    .await;
    // The pair: two websockets and the client's pooled connection, from 127.0.0.1.
    let mut pair = Pair::new(&server).await;

    // One address opens idle connections: the first 5 are held, the rest closed at once.
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from(&server, "127.0.0.2").await);
    }
    for _ in 0..20 {
        let mut extra = connect_from(&server, "127.0.0.2").await;
        assert!(closed_within(&mut extra, Duration::from_secs(1)).await, "over the address's cap");
    }
    for tcp in &mut held {
        assert!(!closed_within(tcp, Duration::from_millis(20)).await, "the first five are kept");
    }
    // Another address is served meanwhile, and the pair talks on.
    assert!(healthz_from(&server, "127.0.0.3").await);
    pair.still_talk().await;

    // The total: more addresses fill it; beyond, everyone new is turned away...
    let mut others = Vec::new();
    for i in 0..10 {
        let mut tcp = connect_from(&server, &format!("127.0.1.{i}")).await;
        if closed_within(&mut tcp, Duration::from_millis(200)).await {
            break;
        }
        others.push(tcp);
    }
    let mut late = connect_from(&server, "127.0.0.9").await;
    assert!(closed_within(&mut late, Duration::from_secs(1)).await, "over the total");
    // ...while the connections already open carry on.
    pair.still_talk().await;

    // Closed connections give their places back.
    drop(held);
    drop(others);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(healthz_from(&server, "127.0.0.9").await);
    pair.nothing_lost().await;
    server.stop().await;
}

/// Series of the request counter in a `/metrics` text.
fn request_series(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with("natter_http_requests_total{")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_add_no_series_and_metrics_stay_on_this_machine() {
    let server = TestServer::on_store("embedded").await;
    let mut pair = Pair::new(&server).await;
    let _ = server.client.request(Method::from_bytes(b"WARMUP").unwrap(), server.url("/healthz")).send().await.unwrap();
    let before = request_series(&server.get("/metrics").await.text().await.unwrap());
    for i in 0..300 {
        let method = Method::from_bytes(format!("M{i}X").as_bytes()).unwrap();
        server.client.request(method, server.url("/healthz")).send().await.unwrap();
    }
    pair.still_talk().await;
    let text = server.get("/metrics").await.text().await.unwrap();
    assert!(text.contains(r#"method="other""#), "{text}");
    assert!(!text.contains("M17X"), "no made-up method is a label");
    // The /metrics scrape itself may add its own series; 300 methods add none.
    assert!(request_series(&text) <= before + 2, "{before} series, then {}", request_series(&text));

    // Forwarded to it by a proxy, /metrics says no (only this machine, unproxied).
    let resp = server.client.get(server.url("/metrics")).header("X-Forwarded-For", "203.0.113.9").send().await.unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "forbidden");
    pair.nothing_lost().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_metrics_answers_only_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("metrics-token");
    std::fs::write(&token_file, "scrape-me-0123456789\n").unwrap();
    let server = TestServer::on_store_with("embedded", &["--metrics-token-file", token_file.to_str().unwrap()]).await;
    let resp = server.get("/metrics").await;
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "unauthorized");
    let resp = server.client.get(server.url("/metrics")).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = server.client.get(server.url("/metrics")).bearer_auth("scrape-me-0123456789").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("natter_http_requests_total"));
    server.stop().await;
}
