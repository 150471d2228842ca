//! The browser-facing headers of the issue "Safe on the internet (2)",
//! item 4: every page runs only the scripts it was sent with (a nonce drawn
//! per render), none may be framed, and the API's answers are never stored.

use crate::support;

use reqwest::{header, Response};
use support::{chat::User, TestServer};

/// The page's policy, after checking the headers every answer carries.
fn policy_of(resp: &Response) -> String {
    let h = resp.headers();
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h[header::REFERRER_POLICY], "same-origin");
    let permissions = h["permissions-policy"].to_str().unwrap();
    for allowed in ["camera=(self)", "microphone=(self)", "display-capture=(self)"] {
        assert!(permissions.contains(allowed), "{permissions}");
    }
    h.get(header::CONTENT_SECURITY_POLICY).expect("a Content-Security-Policy").to_str().unwrap().to_owned()
}

/// The nonce a page's policy names; every inline script of the page carries it.
async fn nonce_of_page(server: &TestServer, path: &str) -> String {
    let resp = server.get(path).await;
    let policy = policy_of(&resp);
    for directive in ["frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'", "'wasm-unsafe-eval'"] {
        assert!(policy.contains(directive), "{path}: {policy}");
    }
    assert!(!policy.contains("unsafe-inline") && !policy.contains("'unsafe-eval'"), "{policy}");
    let nonce = policy.split("'nonce-").nth(1).and_then(|rest| rest.split('\'').next()).expect("a nonce").to_owned();
    let html = resp.text().await.unwrap();
    let script_tags: Vec<&str> = html.split("<script").skip(1).map(|rest| rest.split('>').next().unwrap()).collect();
    assert!(script_tags.len() >= 2, "{path}: the loader and the service worker's registration");
    for tag in script_tags {
        assert!(tag.contains(&format!("nonce=\"{nonce}\"")), "{path}: <script{tag}>");
    }
    nonce
}

#[tokio::test]
async fn pages_run_only_their_own_scripts_and_are_never_framed() {
    let server = TestServer::start(&[]).await;
    let first = nonce_of_page(&server, "/signin").await;
    assert!(first.len() >= 22, "at least 128 random bits: {first}");
    assert_ne!(nonce_of_page(&server, "/signin").await, first, "a nonce is drawn per page");
    nonce_of_page(&server, "/no/such/page").await;
    server.stop().await;
}

#[tokio::test]
async fn api_answers_are_never_stored_or_run() {
    let server = TestServer::start(&[]).await;
    let refused = server.get("/api/me").await;
    assert_eq!(refused.status(), 401);
    let ann = User::register(&server, "ann").await;
    let mine = server.client.get(server.url("/api/me")).bearer_auth(&ann.token).send().await.unwrap();
    assert_eq!(mine.status(), 200);
    for resp in [refused, mine] {
        assert_eq!(policy_of(&resp), "default-src 'none'; frame-ancestors 'none'");
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
    }
    server.stop().await;
}
