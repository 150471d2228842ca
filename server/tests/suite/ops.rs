//! Operational endpoints of a running server: health, readiness (also with
//! the database going away and coming back), metrics, and the rendered app.

use crate::support;

use std::time::Duration;

use support::{mongodb_addr, SwitchProxy, TestServer};

#[tokio::test]
async fn healthz_readyz_and_metrics_on_the_embedded_store() {
    let server = TestServer::start(&["--node-id", "alpha"]).await;
    let health = server.get("/healthz").await;
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");

    let ready = server.wait_for_status("/readyz", 200, Duration::from_secs(10)).await;
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["store"], "embedded");
    assert_eq!(ready["node_id"], "alpha");
    assert_eq!(ready["protocol_version"], wire::protocol::PROTOCOL_VERSION);
    assert!(ready.get("store_error").is_none());

    let metrics = server.get("/metrics").await;
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("natter_http_requests_total"), "{text}");
    assert!(text.contains(r#"route="/readyz""#), "{text}");
    assert!(text.contains("natter_http_request_duration_seconds_bucket"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn pages_are_rendered_on_the_server_in_the_asked_language() {
    let server = TestServer::start(&[]).await;
    let zh = server
        .client
        .get(server.url("/"))
        .header("accept-language", "zh-CN,zh;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(zh.status(), 200);
    let html = zh.text().await.unwrap();
    assert!(html.contains("欢迎使用 Natter"), "{html}");
    assert!(html.contains(r#"lang="zh-CN""#), "{html}");

    let cookie = server.client.get(server.url("/")).header("cookie", "natter_lang=en").send().await.unwrap();
    assert!(cookie.text().await.unwrap().contains("Welcome to Natter"));

    let missing = server.get("/no/such/page").await;
    assert_eq!(missing.status(), 404);
    server.stop().await;
}

/// MongoDB unreachable at start-up, then reachable, then gone, then back:
/// `/readyz` follows, the server keeps serving and never crashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_database_down_and_back() {
    let proxy = SwitchProxy::start(mongodb_addr(), false).await;
    let uri = format!("mongodb://{}/?directConnection=true", proxy.addr);
    let db = format!("natter_test_{}", natter_server::store::new_id());
    let server = TestServer::start(&["--mongodb-uri", &uri, "--mongodb-db", &db]).await;

    let down = server.wait_for_status("/readyz", 503, Duration::from_secs(10)).await;
    assert_eq!(down["ready"], false);
    assert_eq!(down["store"], "mongodb");
    assert!(down["store_error"].is_string(), "{down}");
    assert_eq!(server.get("/healthz").await.status(), 200, "alive while the database is down");

    proxy.set_up(true);
    server.wait_for_status("/readyz", 200, Duration::from_secs(20)).await;

    proxy.set_up(false);
    let down = server.wait_for_status("/readyz", 503, Duration::from_secs(20)).await;
    assert!(down["store_error"].as_str().unwrap().contains("unavailable"), "{down}");

    proxy.set_up(true);
    server.wait_for_status("/readyz", 200, Duration::from_secs(20)).await;
    server.stop().await;
}
