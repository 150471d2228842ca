//! The accounts API end to end, over HTTP, on both stores: sign-up, sign-in,
//! tokens and devices, profiles, avatars, friends — and the bad inputs the
//! issue names, each answered with a 4xx JSON error that changes nothing.

use crate::support;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};
use support::{TestServer, SECRET};

/// A client of the API holding one token.
struct Api<'a> {
    server: &'a TestServer,
    token: Option<String>,
}

impl<'a> Api<'a> {
    fn anonymous(server: &'a TestServer) -> Self {
        Api { server, token: None }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.server.client.request(method, self.server.url(path));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
}

async fn register<'a>(server: &'a TestServer, email: &str, nickname: &str, device: &str) -> Api<'a> {
    let body = json!({ "email": email, "nickname": nickname, "password": "correct horse", "device_id": device });
    let (status, answer) = Api::anonymous(server).post("/api/auth/register", body).await;
    assert_eq!(status, 201, "{answer}");
    Api { server, token: Some(answer["token"].as_str().unwrap().to_owned()) }
}

async fn login<'a>(server: &'a TestServer, email: &str, password: &str, device: &str) -> (StatusCode, Value, Api<'a>) {
    let body = json!({ "email": email, "password": password, "device_id": device });
    let (status, answer) = Api::anonymous(server).post("/api/auth/login", body).await;
    let token = answer["token"].as_str().map(str::to_owned);
    (status, answer, Api { server, token })
}

fn assert_error(status: StatusCode, body: &Value, want_status: u16, code: &str, field: Option<&str>) {
    assert_eq!(status.as_u16(), want_status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert_eq!(body["field"].as_str(), field, "{body}");
}

fn sign(claims: Value, secret: &[u8]) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &claims, &key).unwrap()
}

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn claims_of(token: &str) -> Value {
    serde_json::from_slice(&B64.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbaImage::from_fn(width, height, |x, y| image::Rgba([(x * 7) as u8, (y * 5) as u8, 90, 255]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn sign_up_sign_in_and_out(server: &TestServer) {
    let anon = Api::anonymous(server);
    let body = json!({ "email": " Ada@Example.org ", "nickname": " Ada ", "password": "correct horse", "device_id": "laptop" });
    let resp = server.client.post(server.url("/api/auth/register")).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 201);
    let cookie = resp.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("natter_token=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(answer["user"]["email"], "ada@example.org");
    assert_eq!(answer["user"]["nickname"], "Ada");
    assert_eq!(answer["user"]["login_count"], 1);
    let claims = claims_of(answer["token"].as_str().unwrap());
    assert_eq!(claims["dev"], "laptop");
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 15 * 60, "short-lived");

    // The cookie alone authenticates a browser.
    let me = server.client.get(server.url("/api/me")).header(header::COOKIE, cookie.split(';').next().unwrap()).send().await.unwrap();
    assert_eq!(me.status(), 200);

    let (status, _, phone) = login(server, "ADA@example.org", "correct horse", "phone").await;
    assert_eq!(status, 200);
    let (status, me) = phone.get("/api/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["login_count"], 2);
    assert!(me["last_login_ms"].as_i64().is_some());
    assert!(me.get("password_hash").is_none());

    let (status, _) = phone.call(Method::POST, "/api/auth/logout", None).await;
    assert_eq!(status, 204);
    let (status, body) = phone.get("/api/me").await;
    assert_error(status, &body, 401, "token_revoked", None);
    let (status, body) = anon.get("/api/me").await;
    assert_error(status, &body, 401, "unauthorized", None);
}

async fn bad_sign_ups_change_nothing(server: &TestServer) {
    register(server, "taken@example.org", "Taken", "d1").await;
    let anon = Api::anonymous(server);
    let cases = [
        (json!({ "email": "not-an-email", "nickname": "N", "password": "long enough", "device_id": "d" }), 400, "bad_request", Some("email")),
        (json!({ "email": "TAKEN@example.org", "nickname": "N", "password": "long enough", "device_id": "d" }), 409, "email_taken", Some("email")),
        (json!({ "email": "n1@example.org", "nickname": "   ", "password": "long enough", "device_id": "d" }), 400, "bad_request", Some("nickname")),
        (json!({ "email": "n2@example.org", "nickname": "x".repeat(65), "password": "long enough", "device_id": "d" }), 400, "bad_request", Some("nickname")),
        (json!({ "email": "n3@example.org", "nickname": "N", "password": "short", "device_id": "d" }), 400, "bad_request", Some("password")),
        (json!({ "email": "n4@example.org", "nickname": "N", "password": "long enough", "device_id": "../x" }), 400, "bad_request", Some("device_id")),
        (json!({ "email": "n5@example.org", "nickname": "N" }), 400, "bad_request", None),
    ];
    for (body, status_want, code, field) in cases {
        let (status, answer) = anon.post("/api/auth/register", body.clone()).await;
        assert_error(status, &answer, status_want, code, field);
        if let Some(email) = body["email"].as_str() {
            let (status, _, _) = login(server, email, "long enough", "d").await;
            assert!(matches!(status.as_u16(), 400 | 401), "{email} must not have signed up");
        }
    }
    let (status, _, _) = login(server, "taken@example.org", "correct horse", "d1").await;
    assert_eq!(status, 200, "the taken account is unchanged");

    let raw = server.client.post(server.url("/api/auth/register")).header(header::CONTENT_TYPE, "application/json").body("{oops").send().await.unwrap();
    assert_eq!(raw.status(), 400);
    assert_eq!(raw.json::<Value>().await.unwrap()["code"], "bad_request");
    let text = server.client.post(server.url("/api/auth/register")).body("email=x").send().await.unwrap();
    assert_eq!(text.status(), 415);
    assert_eq!(text.json::<Value>().await.unwrap()["code"], "unsupported_media_type");
}

async fn sign_in_errors_do_not_tell_accounts_apart(server: &TestServer) {
    register(server, "grace@example.org", "Grace", "d").await;
    let (s1, wrong_password, _) = login(server, "grace@example.org", "wrong password", "d").await;
    let (s2, unknown_user, _) = login(server, "nobody@example.org", "wrong password", "d").await;
    assert_error(s1, &wrong_password, 401, "invalid_credentials", None);
    assert_eq!((s1, &wrong_password), (s2, &unknown_user), "same answer for both");
    let (status, body, _) = login(server, "not an email", "whatever1", "d").await;
    assert_error(status, &body, 400, "bad_request", Some("email"));
}

async fn bad_tokens_are_refused(server: &TestServer) {
    let api = register(server, "tok@example.org", "Tok", "d1").await;
    let token = api.token.clone().unwrap();
    let claims = claims_of(&token);
    let with = |t: String| Api { server, token: Some(t) };

    let forged = sign(claims.clone(), b"another-key-another-key-another-key-123");
    let (status, body) = with(forged).get("/api/me").await;
    assert_error(status, &body, 401, "unauthorized", None);

    let header = B64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = B64.encode(serde_json::to_vec(&claims).unwrap());
    let (status, body) = with(format!("{header}.{payload}.")).get("/api/me").await;
    assert_error(status, &body, 401, "unauthorized", None);

    let mut tampered_claims = claims.clone();
    tampered_claims["sub"] = json!("someone-else");
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = B64.encode(serde_json::to_vec(&tampered_claims).unwrap());
    let (status, body) = with(parts.join(".")).get("/api/me").await;
    assert_error(status, &body, 401, "unauthorized", None);

    let mut long_ago = claims.clone();
    long_ago["iat"] = json!(now_secs() - 3600);
    long_ago["exp"] = json!(now_secs() - 1800);
    let long_expired = sign(long_ago, SECRET.as_bytes());
    let (status, body) = with(long_expired.clone()).get("/api/me").await;
    assert_error(status, &body, 401, "token_expired", None);
    // Past the renewal grace (5 minutes) it cannot be refreshed…
    let (status, body) = with(long_expired).call(Method::POST, "/api/auth/refresh", None).await;
    assert_error(status, &body, 401, "token_expired", None);
    let mut old = claims.clone();
    old["iat"] = json!(now_secs() - 16 * 60);
    old["exp"] = json!(now_secs() - 60);
    let expired = sign(old, SECRET.as_bytes());
    let (status, body) = with(expired.clone()).get("/api/me").await;
    assert_error(status, &body, 401, "token_expired", None);
    // …within it, the device may still refresh it while its session is alive.
    let (status, refreshed) = with(expired).call(Method::POST, "/api/auth/refresh", None).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(claims_of(refreshed["token"].as_str().unwrap())["jti"], claims["jti"], "a new token id");
    let (status, _) = with(refreshed["token"].as_str().unwrap().to_owned()).get("/api/me").await;
    assert_eq!(status, 200);

    let query = server.client.get(server.url(&format!("/api/me?token={token}"))).send().await.unwrap();
    assert_eq!(query.status(), 401, "never from the query string");

    // Signing in again on the same device revokes the older token at once;
    // other devices stay signed in.
    let (_, _, other_device) = login(server, "tok@example.org", "correct horse", "d2").await;
    let (_, _, again) = login(server, "tok@example.org", "correct horse", "d1").await;
    let (status, body) = api.get("/api/me").await;
    assert_error(status, &body, 401, "token_revoked", None);
    assert_eq!(again.get("/api/me").await.0, 200);
    assert_eq!(other_device.get("/api/me").await.0, 200);
}

async fn browsers_get_a_fresh_cookie_while_active(server: &TestServer) {
    let api = register(server, "cookie@example.org", "Cookie", "d1").await;
    let mut claims = claims_of(api.token.as_ref().unwrap());
    claims["iat"] = json!(now_secs() - 16 * 60);
    claims["exp"] = json!(now_secs() - 60);
    let expired = sign(claims.clone(), SECRET.as_bytes());
    let resp = server.client.get(server.url("/api/me")).header(header::COOKIE, format!("natter_token={expired}")).send().await.unwrap();
    assert_eq!(resp.status(), 200, "a live session's cookie is renewed, not refused");
    let cookie = resp.headers()[header::SET_COOKIE].to_str().unwrap();
    let fresh = cookie.trim_start_matches("natter_token=").split(';').next().unwrap();
    assert!(claims_of(fresh)["exp"].as_i64().unwrap() > now_secs());
    assert_ne!(claims_of(fresh)["jti"], claims["jti"], "renewal rotates the token id");
    // Past the renewal grace, the cookie is refused.
    claims["iat"] = json!(now_secs() - 30 * 60);
    claims["exp"] = json!(now_secs() - 15 * 60);
    let stale = sign(claims, SECRET.as_bytes());
    let resp = server.client.get(server.url("/api/me")).header(header::COOKIE, format!("natter_token={stale}")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}

async fn devices_and_password_change(server: &TestServer) {
    let laptop = register(server, "dev@example.org", "Dev", "laptop").await;
    let (_, _, phone) = login(server, "dev@example.org", "correct horse", "phone").await;
    let (_, _, tablet) = login(server, "dev@example.org", "correct horse", "tablet").await;
    let (status, devices) = laptop.get("/api/devices").await;
    assert_eq!(status, 200);
    let devices = devices.as_array().unwrap();
    assert_eq!(devices.len(), 3);
    assert_eq!(devices.iter().filter(|d| d["current"] == true).count(), 1);
    assert!(devices.iter().any(|d| d["device_id"] == "laptop" && d["current"] == true));

    let (status, _) = laptop.call(Method::DELETE, "/api/devices/tablet", None).await;
    assert_eq!(status, 204);
    assert_eq!(tablet.get("/api/me").await.1["code"], "token_revoked");
    let (status, body) = laptop.call(Method::DELETE, "/api/devices/tablet", None).await;
    assert_error(status, &body, 404, "not_found", None);

    let (status, body) = laptop.post("/api/me/password", json!({ "current_password": "wrong one", "new_password": "new password" })).await;
    assert_error(status, &body, 401, "invalid_credentials", Some("current_password"));
    let (status, body) = laptop.post("/api/me/password", json!({ "current_password": "correct horse", "new_password": "short" })).await;
    assert_error(status, &body, 400, "bad_request", Some("new_password"));
    assert_eq!(phone.get("/api/me").await.0, 200, "failed changes sign nobody out");

    let (status, _) = laptop.post("/api/me/password", json!({ "current_password": "correct horse", "new_password": "new password" })).await;
    assert_eq!(status, 204);
    assert_eq!(laptop.get("/api/me").await.0, 200, "this device stays signed in");
    assert_eq!(phone.get("/api/me").await.1["code"], "token_revoked", "every other device is signed out");
    assert_eq!(login(server, "dev@example.org", "correct horse", "x").await.0, 401);
    assert_eq!(login(server, "dev@example.org", "new password", "x").await.0, 200);
}

async fn profiles_and_search(server: &TestServer) {
    let ada = register(server, "ada@example.org", "Ada", "d").await;
    let adam = register(server, "adam@example.org", "adam", "d").await;
    let bob = register(server, "bob@example.org", "Bob", "d").await;

    let (status, me) = ada.call(Method::PATCH, "/api/me", Some(json!({ "nickname": "  Ada L. ", "gender": "female" }))).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!((me["nickname"].as_str(), me["gender"].as_str()), (Some("Ada L."), Some("female")));
    let (status, body) = ada.call(Method::PATCH, "/api/me", Some(json!({ "nickname": "" }))).await;
    assert_error(status, &body, 400, "bad_request", Some("nickname"));
    let (status, body) = ada.call(Method::PATCH, "/api/me", Some(json!({ "gender": "other" }))).await;
    assert_error(status, &body, 400, "bad_request", None);
    assert_eq!(ada.get("/api/me").await.1["nickname"], "Ada L.", "nothing changed");

    let id = me["id"].as_str().unwrap();
    let (status, public) = adam.get(&format!("/api/users/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(public["nickname"], "Ada L.");
    assert!(public.get("email").is_none(), "e-mail addresses are private");
    let (status, body) = adam.get("/api/users/nope").await;
    assert_error(status, &body, 404, "not_found", None);

    let (_, found) = adam.get("/api/users?q=ad").await;
    let names: Vec<&str> = found.as_array().unwrap().iter().map(|u| u["nickname"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Ada L."], "any part, ignoring case, without oneself");
    let (_, found) = ada.get("/api/users?q=BOB@example.org").await;
    assert_eq!(found.as_array().unwrap().len(), 0, "an e-mail address finds only who allows it");
    let findable = json!({ "contact": "everyone", "findable_by_email": true });
    assert_eq!(bob.call(Method::PUT, "/api/me/privacy", Some(findable)).await.0, 200);
    let (_, found) = ada.get("/api/users?q=BOB@example.org").await;
    assert_eq!(found[0]["nickname"], "Bob");
    let (_, found) = ada.get("/api/users?q=.*").await;
    assert_eq!(found.as_array().unwrap().len(), 0, "the query is literal");
    let (status, body) = ada.get("/api/users?q=").await;
    assert_error(status, &body, 400, "empty_query", Some("q"));
}

async fn friend_requests(server: &TestServer) {
    let ada = register(server, "fa@example.org", "Ada", "d").await;
    let bob = register(server, "fb@example.org", "Bob", "d").await;
    let ada_id = ada.get("/api/me").await.1["id"].as_str().unwrap().to_owned();
    let bob_id = bob.get("/api/me").await.1["id"].as_str().unwrap().to_owned();

    let (status, lists) = ada.post(&format!("/api/friends/{bob_id}"), Value::Null).await;
    assert_eq!(status, 200, "{lists}");
    assert_eq!(lists["outgoing"][0]["id"], bob_id.as_str());
    let (_, lists) = bob.get("/api/friends").await;
    assert_eq!(lists["incoming"][0]["id"], ada_id.as_str());
    let (_, lists) = bob.post(&format!("/api/friends/{ada_id}"), Value::Null).await;
    assert_eq!(lists["friends"][0]["id"], ada_id.as_str());
    assert_eq!(lists["incoming"].as_array().unwrap().len(), 0);
    let (_, lists) = ada.get("/api/friends").await;
    assert_eq!(lists["friends"][0]["id"], bob_id.as_str());

    let (status, lists) = ada.call(Method::DELETE, &format!("/api/friends/{bob_id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(lists["friends"].as_array().unwrap().len(), 0);
    assert_eq!(bob.get("/api/friends").await.1["friends"].as_array().unwrap().len(), 0);

    let (status, body) = ada.post(&format!("/api/friends/{ada_id}"), Value::Null).await;
    assert_error(status, &body, 400, "bad_request", Some("user_id"));
    let (status, body) = ada.post("/api/friends/nobody", Value::Null).await;
    assert_error(status, &body, 404, "not_found", None);
    let (status, body) = ada.call(Method::DELETE, &format!("/api/friends/{bob_id}"), None).await;
    assert_error(status, &body, 404, "not_found", None);
}

async fn avatars(server: &TestServer) {
    let api = register(server, "pic@example.org", "Pic", "d").await;
    let upload = |bytes: Vec<u8>| {
        server.client.post(server.url("/api/me/avatar")).bearer_auth(api.token.as_ref().unwrap()).body(bytes).send()
    };
    let resp = upload(png(300, 200)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let me: Value = resp.json().await.unwrap();
    let url = me["avatar"].as_str().unwrap().to_owned();
    assert!(url.starts_with("/avatars/") && url.ends_with("/128.webp"), "{url}");
    let img = server.get(&url).await;
    assert_eq!(img.status(), 200);
    assert_eq!(img.headers()[header::CONTENT_TYPE], "image/webp");
    assert!(img.headers()[header::CACHE_CONTROL].to_str().unwrap().contains("immutable"));
    let decoded = image::load_from_memory(&img.bytes().await.unwrap()).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (128, 128));

    let resp = upload(b"hello, I am text".to_vec()).await.unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "unsupported_media_type");
    let resp = upload(vec![0u8; 5 * 1024 * 1024 + 1]).await.unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "payload_too_large");
    // A decompression bomb: a tiny PNG that claims to be 60000 × 60000.
    let mut bomb = png(1, 1);
    bomb[16..20].copy_from_slice(&60000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&60000u32.to_be_bytes());
    let crc = crc32(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let resp = upload(bomb).await.unwrap();
    assert!(resp.status().is_client_error(), "{}", resp.status());
    assert_eq!(api.get("/api/me").await.1["avatar"], url.as_str(), "failed uploads change nothing");
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

async fn sign_in_is_rate_limited(server: &TestServer) {
    register(server, "rl@example.org", "Rl", "d").await;
    // Five wrong passwords from one address, then it must wait (2 s, growing).
    for _ in 0..5 {
        assert_eq!(login(server, "rl@example.org", "wrong password", "d").await.0, 401);
    }
    let resp = server
        .client
        .post(server.url("/api/auth/login"))
        .json(&json!({ "email": "rl@example.org", "password": "correct horse", "device_id": "d" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "rate_limited");
}

async fn unknown_endpoints_answer_json(server: &TestServer) {
    let (status, body) = Api::anonymous(server).get("/api/nope").await;
    assert_error(status, &body, 404, "not_found", None);
    let (status, body) = Api::anonymous(server).call(Method::PUT, "/api/auth/login", None).await;
    assert_error(status, &body, 405, "method_not_allowed", None);
}

on_both_stores!(
    sign_up_sign_in_and_out,
    bad_sign_ups_change_nothing,
    sign_in_errors_do_not_tell_accounts_apart,
    bad_tokens_are_refused,
    browsers_get_a_fresh_cookie_while_active,
    devices_and_password_change,
    profiles_and_search,
    friend_requests,
    avatars,
    sign_in_is_rate_limited,
    unknown_endpoints_answer_json,
);
