//! Device sessions and their tokens, with real clients: expiry enforced on
//! the API and the websocket, token ids rotating on refresh and a rotated-away
//! one signing the device out, the absolute session lifetime, the cookie only
//! from the app's own origin, `Secure` `__Host-` cookies over HTTPS, client
//! addresses through trusted proxies, the sign-in back-off per (account,
//! address), the websocket's handshake refusals and its own re-check of its
//! session, and redacted URLs.

use crate::support;

use std::time::Duration;

use base64::Engine;
use clap::Parser;
use natter_server::config::Cli;
use reqwest::{header, Response};
use serde_json::{json, Value};
use support::{chat::User, TestServer};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Error as WsError};
use wire::{
    endpoint,
    model::UserId,
    protocol::{close, WS_PATH},
};

/// The `jti` of a token, read without checking it.
fn jti(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap();
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}

/// The token a `Set-Cookie` answer sets, if any.
fn cookie_token(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}="))?.split(';').next().map(str::to_owned))
        .filter(|t| !t.is_empty())
}

async fn code_of(resp: Response) -> (u16, String) {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

async fn me_bearer(server: &TestServer, token: &str) -> (u16, String) {
    code_of(server.client.get(server.url(endpoint::ME)).bearer_auth(token).send().await.unwrap()).await
}

async fn me_cookie(server: &TestServer, token: &str) -> Response {
    server.client.get(server.url(endpoint::ME)).header(header::COOKIE, format!("natter_token={token}")).send().await.unwrap()
}

/// Opens `/ws` with the given headers: the handshake's HTTP status (101 when it upgraded).
async fn ws_status(server: &TestServer, headers: &[(&'static str, String)]) -> u16 {
    let mut req = format!("ws://{}{WS_PATH}", server.addr).into_client_request().unwrap();
    for (name, value) in headers {
        req.headers_mut().insert(*name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((_, resp)) => resp.status().as_u16(),
        Err(WsError::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("websocket handshake failed: {e}"),
    }
}

fn own_origin(server: &TestServer) -> String {
    format!("http://{}", server.addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tokens_are_refused_on_the_api_and_the_socket_and_cookies_renew_only_within_the_grace() {
    let server = TestServer::start(&["--token-ttl-secs", "1", "--token-renew-grace-secs", "3"]).await;
    let alice = User::register(&server, "alice").await;
    assert_eq!(me_bearer(&server, &alice.token).await.0, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // Expired, within the renewal grace.
    assert_eq!(me_bearer(&server, &alice.token).await, (401, "token_expired".into()));
    assert_eq!(ws_status(&server, &[("authorization", format!("Bearer {}", alice.token))]).await, 401);
    let cookie = [("cookie", format!("natter_token={}", alice.token)), ("origin", own_origin(&server))];
    assert_eq!(ws_status(&server, &cookie).await, 401, "the socket renews nothing");
    let renewed = me_cookie(&server, &alice.token).await;
    assert_eq!(renewed.status(), 200, "the API renews a cookie just expired");
    let fresh = cookie_token(&renewed, "natter_token").expect("a renewed cookie");
    assert_ne!(jti(&fresh), jti(&alice.token), "renewal rotates the token id");
    assert_eq!(me_bearer(&server, &fresh).await.0, 200);
    // Past the grace: nothing renews or refreshes it.
    tokio::time::sleep(Duration::from_millis(4100)).await;
    let resp = me_cookie(&server, &fresh).await;
    assert!(cookie_token(&resp, "natter_token").is_none());
    assert_eq!(code_of(resp).await, (401, "token_expired".into()));
    let refresh = server.client.post(server.url(endpoint::AUTH_REFRESH)).bearer_auth(&fresh).send().await.unwrap();
    assert_eq!(code_of(refresh).await, (401, "token_expired".into()));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_the_token_id_and_reuse_of_the_old_one_after_the_grace_signs_the_device_out() {
    let server = TestServer::start(&["--token-reuse-grace-secs", "1"]).await;
    let alice = User::register(&server, "alice").await;
    let mut socket = alice.connect().await;
    let resp = server.client.post(server.url(endpoint::AUTH_REFRESH)).bearer_auth(&alice.token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let fresh = resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    assert_ne!(jti(&fresh), jti(&alice.token), "a refresh rotates the token id");
    assert_eq!(me_bearer(&server, &alice.token).await.0, 200, "the old one still works for requests under way");
    assert_eq!(me_bearer(&server, &fresh).await.0, 200);
    socket.assert_alive().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(me_bearer(&server, &alice.token).await, (401, "token_revoked".into()), "reuse after the grace");
    assert_eq!(me_bearer(&server, &fresh).await, (401, "token_revoked".into()), "the device is signed out");
    assert_eq!(socket.closed().await.code, close::SIGNED_OUT.into());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_refreshing_with_an_ageing_cookie_rotates_once_so_its_requests_under_way_still_count() {
    let server = TestServer::start(&["--token-ttl-secs", "2", "--token-reuse-grace-secs", "1"]).await;
    let alice = User::register(&server, "alice").await;
    tokio::time::sleep(Duration::from_millis(1100)).await; // past half its life
    let resp = server
        .client
        .post(server.url(endpoint::AUTH_REFRESH))
        .header(header::COOKIE, format!("natter_token={}", alice.token))
        .header("origin", own_origin(&server))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookies = resp.headers().get_all(header::SET_COOKIE).iter().count();
    assert_eq!(cookies, 1, "one new cookie");
    let fresh = cookie_token(&resp, "natter_token").unwrap();
    // A request sent with the old cookie just before still counts: the old
    // token id is the previous one, not an older one (which would sign the device out).
    assert_eq!(me_cookie(&server, &alice.token).await.status(), 200);
    assert_eq!(me_bearer(&server, &fresh).await.0, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_after_its_lifetime_however_active() {
    let server = TestServer::start(&["--session-lifetime", "3s", "--session-recheck-secs", "1"]).await;
    let alice = User::register(&server, "alice").await;
    let mut socket = alice.connect().await;
    let resp = server.client.post(server.url(endpoint::AUTH_REFRESH)).bearer_auth(&alice.token).send().await.unwrap();
    let fresh = resp.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(3200)).await;
    assert_eq!(me_bearer(&server, &fresh).await, (401, "token_expired".into()));
    let refresh = server.client.post(server.url(endpoint::AUTH_REFRESH)).bearer_auth(&fresh).send().await.unwrap();
    assert_eq!(code_of(refresh).await, (401, "token_expired".into()));
    assert_eq!(socket.closed().await.code, close::SIGNED_OUT.into());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_changes_nothing_and_opens_no_socket_from_a_foreign_origin() {
    let server = TestServer::start(&[]).await;
    let alice = User::register(&server, "alice").await;
    let cookie = format!("natter_token={}", alice.token);
    let post = |headers: &[(&'static str, &str)]| {
        let mut req = server.client.post(server.url(endpoint::AUTH_LOGOUT)).header(header::COOKIE, &cookie);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.send()
    };
    let (status, code) = code_of(post(&[("origin", "http://evil.example")]).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    let (status, code) = code_of(post(&[("sec-fetch-site", "cross-site")]).await.unwrap()).await;
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    let (status, _) = code_of(post(&[("origin", "null")]).await.unwrap()).await;
    assert_eq!(status, 403);
    assert_eq!(me_cookie(&server, &alice.token).await.status(), 200, "still signed in: nothing changed");
    // A bearer token is no ambient credential: any origin may use it.
    let refresh = server
        .client
        .post(server.url(endpoint::AUTH_REFRESH))
        .bearer_auth(&alice.token)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(refresh.status(), 200);
    let token = refresh.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let cookie = format!("natter_token={token}");
    // The websocket, likewise.
    assert_eq!(ws_status(&server, &[("cookie", cookie.clone()), ("origin", "http://evil.example".into())]).await, 403);
    assert_eq!(ws_status(&server, &[("cookie", cookie.clone()), ("sec-fetch-site", "cross-site".into())]).await, 403);
    assert_eq!(ws_status(&server, &[("cookie", cookie.clone()), ("origin", own_origin(&server))]).await, 101);
    assert_eq!(ws_status(&server, &[("cookie", cookie.clone()), ("sec-fetch-site", "same-origin".into())]).await, 101);
    assert_eq!(ws_status(&server, &[("authorization", format!("Bearer {token}")), ("origin", "http://evil.example".into())]).await, 101);
    // The app's own pages sign out fine.
    let own = server
        .client
        .post(server.url(endpoint::AUTH_LOGOUT))
        .header(header::COOKIE, &cookie)
        .header("origin", own_origin(&server))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 204);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_address_refuses_what_is_not_a_websocket_handshake_with_a_code() {
    let server = TestServer::start(&[]).await;
    let alice = User::register(&server, "alice").await;
    let bearer = format!("Bearer {}", alice.token);
    let plain = server.client.get(server.url(WS_PATH)).header(header::AUTHORIZATION, &bearer).send().await.unwrap();
    assert_eq!(code_of(plain).await, (400, "bad_request".to_owned()));
    let old_version = [("authorization", bearer.clone()), ("sec-websocket-version", "8".into())];
    assert_eq!(ws_status(&server, &old_version).await, 400);
    // Header tokens in any case and among others, as RFC 6455 has them.
    let listed = [("authorization", bearer.clone()), ("connection", "keep-alive, Upgrade".into()), ("upgrade", "WebSocket".into())];
    assert_eq!(ws_status(&server, &listed).await, 101);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_public_url_the_cookie_is_honoured_from_it_and_the_allowed_origins_only() {
    let server =
        TestServer::start(&["--public-url", "http://chat.example.org", "--allowed-origins", "http://other.example:8080"])
            .await;
    let alice = User::register(&server, "alice").await;
    let cookie = format!("natter_token={}", alice.token);
    for (origin, expected) in
        [(own_origin(&server), 403), ("http://chat.example.org".into(), 101), ("http://other.example:8080".into(), 101)]
    {
        assert_eq!(ws_status(&server, &[("cookie", cookie.clone()), ("origin", origin.clone())]).await, expected, "{origin}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_the_cookie_is_secure_and_host_prefixed() {
    let server = TestServer::start(&["--public-url", "https://chat.example.org"]).await;
    let body = json!({ "email": "alice@example.org", "nickname": "alice", "password": "correct horse", "device_id": "d1" });
    let resp = server.client.post(server.url(endpoint::AUTH_REGISTER)).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let set = resp.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    assert!(set.starts_with("__Host-natter_token="), "{set}");
    assert!(set.contains("; Secure") && set.contains("Path=/") && set.contains("HttpOnly") && !set.contains("Domain"), "{set}");
    let token = cookie_token(&resp, "__Host-natter_token").unwrap();
    let get = |cookie: String| server.client.get(server.url(endpoint::ME)).header(header::COOKIE, cookie).send();
    assert_eq!(get(format!("__Host-natter_token={token}")).await.unwrap().status(), 200);
    assert_eq!(get(format!("natter_token={token}")).await.unwrap().status(), 401, "only the name it sets");
    server.stop().await;
}

/// Signs in with an invalid e-mail address through a proxy saying it
/// forwards for `client`: the per-address limit counts it before anything else.
async fn sign_in_from(server: &TestServer, client: &str) -> u16 {
    let body = json!({ "email": "not an address", "password": "whatever1", "device_id": "d1" });
    let req = server.client.post(server.url(endpoint::AUTH_LOGIN)).header("x-forwarded-for", client).json(&body);
    req.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_a_trusted_proxy_each_forwarded_client_has_its_own_sign_in_limit() {
    let server = TestServer::start(&["--trusted-proxy", "127.0.0.1"]).await;
    for _ in 0..30 {
        assert_eq!(sign_in_from(&server, "203.0.113.1").await, 400);
    }
    assert_eq!(sign_in_from(&server, "203.0.113.1").await, 429);
    assert_eq!(sign_in_from(&server, "203.0.113.2").await, 400, "another client behind the same proxy");
    assert_eq!(sign_in_from(&server, "198.51.100.9, 203.0.113.2").await, 400, "the proxy's own word, not the client's");
    server.stop().await;

    let server = TestServer::start(&[]).await;
    for _ in 0..30 {
        assert_eq!(sign_in_from(&server, "203.0.113.1").await, 400);
    }
    assert_eq!(sign_in_from(&server, "203.0.113.2").await, 429, "without --trusted-proxy the header is ignored");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_through_a_trusted_proxy_answer_only_this_machine() {
    let server = TestServer::start(&["--trusted-proxy", "127.0.0.1"]).await;
    let metrics = |client: &'static str| server.client.get(server.url("/metrics")).header("x-forwarded-for", client).send();
    assert_eq!(metrics("203.0.113.1").await.unwrap().status(), 403);
    assert_eq!(metrics("127.0.0.1").await.unwrap().status(), 200);
    server.stop().await;
    let server = TestServer::start(&[]).await;
    let forwarded = server.client.get(server.url("/metrics")).header("x-forwarded-for", "127.0.0.1").send().await.unwrap();
    assert_eq!(forwarded.status(), 403, "from an untrusted peer, any forwarding header refuses");
    server.stop().await;
}

async fn login_from(server: &TestServer, client: &str, password: &str) -> Response {
    let body = json!({ "email": "alice@example.org", "password": password, "device_id": "d1" });
    server.client.post(server.url(endpoint::AUTH_LOGIN)).header("x-forwarded-for", client).json(&body).send().await.unwrap()
}

fn retry_after(resp: &Response) -> u64 {
    resp.headers().get(header::RETRY_AFTER).unwrap().to_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_slow_down_their_address_without_locking_the_owner_out() {
    let server = TestServer::start(&["--trusted-proxy", "127.0.0.1"]).await;
    User::register(&server, "alice").await;
    let guesser = "203.0.113.66";
    for _ in 0..5 {
        assert_eq!(login_from(&server, guesser, "wrong password").await.status(), 401);
    }
    let refused = login_from(&server, guesser, "wrong password").await;
    assert_eq!(refused.status(), 429);
    let first = retry_after(&refused);
    assert!((1..=2).contains(&first), "{first}");
    assert_eq!(login_from(&server, "198.51.100.7", "correct horse").await.status(), 200, "the owner, elsewhere");
    assert_eq!(login_from(&server, "2001:db8:1:2::1", "correct horse").await.status(), 200);
    tokio::time::sleep(Duration::from_secs(first)).await;
    assert_eq!(login_from(&server, guesser, "wrong password").await.status(), 401);
    let refused = login_from(&server, guesser, "wrong password").await;
    assert_eq!(refused.status(), 429);
    assert!(retry_after(&refused) > first, "the wait grows");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_closes_by_its_own_check_when_its_device_was_signed_out_without_an_event() {
    let server = TestServer::start(&["--session-recheck-secs", "1"]).await;
    let alice = User::register(&server, "alice").await;
    let bob = User::register(&server, "bob").await;
    let mut alice_socket = alice.connect().await;
    let mut bob_socket = bob.connect().await;
    // Straight in the store: no hub event tells the sessions.
    let store = natter_server::store::embedded::EmbeddedStore::open(
        &server.data_dir().join(natter_server::store::EMBEDDED_FILE),
    )
    .unwrap();
    use natter_server::store::devices::DeviceRepo;
    assert!(store.remove_device(&UserId(alice.id.clone()), "d1").await.unwrap());
    let mut device = store.device(&UserId(bob.id.clone()), "d1").await.unwrap().unwrap();
    device.signed_in_ms += 1;
    device.token_id = "another".into();
    store.put_device(&device).await.unwrap();
    assert_eq!(alice_socket.closed().await.code, close::SIGNED_OUT.into());
    assert_eq!(bob_socket.closed().await.code, close::SIGNED_IN_AGAIN.into());
    server.stop().await;
}

#[tokio::test]
async fn the_start_up_summary_hides_credentials_in_urls() {
    let data = tempfile::tempdir().unwrap();
    let secret = data.path().join("secret");
    std::fs::write(&secret, support::SECRET).unwrap();
    let uri = "mongodb://natter:hunter2@127.0.0.1:27099/?authSource=admin";
    let args = [
        "natter-server",
        "--data-dir",
        data.path().to_str().unwrap(),
        "--jwt-secret-file",
        secret.to_str().unwrap(),
        "--mongodb-uri",
        uri,
        "--redis-url",
        "redis://:redispw@127.0.0.1:6399/0?password=swordfish&token=abc123",
    ];
    let config = Cli::try_parse_from(args).unwrap().validate().await.unwrap();
    let summary = format!("{:?}", config.summary());
    for secret in ["hunter2", "swordfish", "redispw", "abc123"] {
        assert!(!summary.contains(secret), "{secret} shows in {summary}");
    }
    assert!(summary.contains("authSource=admin") && summary.contains("127.0.0.1:27099"), "{summary}");
}
