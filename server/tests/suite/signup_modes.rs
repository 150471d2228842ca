//! Sign-up modes (`--signup open|invite|closed`) and invitation links, tried
//! the way a stranger or an ordinary user would: each refusal is a 403 with
//! its code, and leaves no account behind.

use crate::support;

use reqwest::{header, Method};
use serde_json::{json, Value};
use support::{
    chat::{sign_up, User},
    TestServer,
};
use wire::{api::SignupMode, endpoint};

use natter_server::{
    clock::now_millis,
    signup::token_id,
    store::{signup::InviteRecord, DynStore},
};

async fn mode(server: &TestServer) -> SignupMode {
    let info: Value = server.get(endpoint::SIGNUP).await.json().await.unwrap();
    serde_json::from_value(info["mode"].clone()).unwrap()
}

/// Asserts a sign-up of `name` is refused with `code`, and made no account.
async fn refused(server: &TestServer, store: &DynStore, name: &str, invite: Option<&str>, code: &str) {
    let (status, body) = sign_up(server, name, invite).await;
    assert_eq!((status, body["code"].as_str()), (403, Some(code)), "{name}: {body}");
    assert_eq!(store.user_by_email(&format!("{name}@example.org")).await.unwrap(), None, "{name} was not made");
}

async fn is_admin(user: &User<'_>) -> bool {
    let (status, me) = user.call(Method::GET, endpoint::ME, None).await;
    assert_eq!(status, 200);
    me["is_admin"].as_bool().unwrap()
}

/// A new invitation link of `admin`'s: its token and id.
async fn new_link(admin: &User<'_>, max_uses: u32) -> (String, String) {
    let (status, made) = admin.call(Method::POST, endpoint::SIGNUP_INVITES, Some(json!({ "max_uses": max_uses }))).await;
    assert_eq!(status, 201, "{made}");
    (made["token"].as_str().unwrap().to_owned(), made["invite"]["id"].as_str().unwrap().to_owned())
}

async fn closed_server(store: &str) -> TestServer {
    TestServer::on_store_with(store, &["--signup", "closed"]).await
}

async fn invite_server(store: &str) -> TestServer {
    TestServer::on_store_with(store, &["--signup", "invite"]).await
}

/// A closed server takes its first account, its administrator, and no one
/// after, not even with an invitation link.
async fn closed_takes_the_first_account_only(server: &TestServer) {
    let store = server.store().await;
    assert_eq!(mode(server).await, SignupMode::Open, "the first account may sign up");
    let ann = User::register(server, "ann").await;
    assert!(is_admin(&ann).await);
    assert_eq!(mode(server).await, SignupMode::Closed);
    refused(server, &store, "bob", None, "signup_closed").await;
    let (token, _) = new_link(&ann, 5).await;
    refused(server, &store, "bob", Some(&token), "signup_closed").await;
    let signin = json!({ "email": "bob@example.org", "password": "correct horse", "device_id": "d1" });
    let resp = server.client.post(server.url(endpoint::AUTH_LOGIN)).json(&signin).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let (_, links) = ann.call(Method::GET, endpoint::SIGNUP_INVITES, None).await;
    assert_eq!(links[0]["uses_left"], 5, "nothing used: {links}");
}

/// On an invite-only server only a valid link signs up, each use once.
async fn invite_mode_takes_valid_links_only(server: &TestServer) {
    let store = server.store().await;
    let ann = User::register(server, "ann").await;
    assert_eq!(mode(server).await, SignupMode::Invite);
    refused(server, &store, "bob", None, "invite_required").await;
    refused(server, &store, "bob", Some(""), "invite_required").await;
    refused(server, &store, "bob", Some("made-up-token"), "invite_invalid").await;

    let (token, id) = new_link(&ann, 1).await;
    let bob = User::invited(server, "bob", Some(&token)).await;
    assert!(!is_admin(&bob).await, "only the first account administers");
    refused(server, &store, "cat", Some(&token), "invite_invalid").await;
    let (_, links) = ann.call(Method::GET, endpoint::SIGNUP_INVITES, None).await;
    assert_eq!((links[0]["id"].as_str(), links[0]["uses_left"].as_u64()), (Some(id.as_str()), Some(0)), "{links}");

    let (revoked, id) = new_link(&ann, 3).await;
    assert_eq!(ann.call(Method::DELETE, &endpoint::signup_invite(&id), None).await.0, 204);
    assert_eq!(ann.call(Method::DELETE, &endpoint::signup_invite(&id), None).await.0, 404);
    refused(server, &store, "cat", Some(&revoked), "invite_invalid").await;

    let expired = InviteRecord {
        id: token_id("an-expired-token"),
        created_by: store.user_by_email("ann@example.org").await.unwrap().unwrap().id,
        created_ms: now_millis() - 10_000,
        expires_ms: now_millis() - 1,
        max_uses: 1,
    };
    store.insert_invite(&expired).await.unwrap();
    refused(server, &store, "cat", Some("an-expired-token"), "invite_invalid").await;
}

/// Four strangers race for the last use of a link: exactly one gets in.
async fn racing_for_the_last_use_lets_exactly_one_in(server: &TestServer) {
    let store = server.store().await;
    let ann = User::register(server, "ann").await;
    let (token, _) = new_link(&ann, 1).await;
    let names = ["r1", "r2", "r3", "r4"];
    let answers = futures_util::future::join_all(names.iter().map(|name| sign_up(server, name, Some(&token)))).await;
    let (won, lost): (Vec<_>, Vec<_>) = answers.iter().partition(|(status, _)| *status == 201);
    assert_eq!(won.len(), 1, "{answers:?}");
    assert!(lost.iter().all(|(status, body)| *status == 403 && body["code"] == "invite_invalid"), "{answers:?}");
    let mut made = 0;
    for name in names {
        made += store.user_by_email(&format!("{name}@example.org")).await.unwrap().is_some() as usize;
    }
    assert_eq!(made, 1);
}

/// Only administrators see, make and revoke links; `--admin` names one more.
async fn only_administrators_manage_links(server: &TestServer) {
    let ann = User::register(server, "ann").await;
    let (bob, cat) = (User::register(server, "bob").await, User::register(server, "cat").await);
    assert_eq!(mode(server).await, SignupMode::Open);
    assert!(is_admin(&ann).await && is_admin(&bob).await && !is_admin(&cat).await);
    let (_, id) = new_link(&bob, 2).await;
    for (method, path, body) in [
        (Method::GET, endpoint::SIGNUP_INVITES.to_owned(), None),
        (Method::POST, endpoint::SIGNUP_INVITES.to_owned(), Some(json!({}))),
        (Method::DELETE, endpoint::signup_invite(&id), None),
    ] {
        let (status, answer) = cat.call(method.clone(), &path, body.clone()).await;
        assert_eq!((status, answer["code"].as_str()), (403, Some("forbidden")), "{method} {path}");
        let anonymous = server.client.request(method, server.url(&path)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
    }
    let (_, links) = ann.call(Method::GET, endpoint::SIGNUP_INVITES, None).await;
    assert_eq!(links.as_array().unwrap().len(), 1, "none made, none revoked: {links}");
    let (status, too_many) = ann.call(Method::POST, endpoint::SIGNUP_INVITES, Some(json!({ "max_uses": 101 }))).await;
    assert_eq!((status, too_many["field"].as_str()), (400, Some("max_uses")));
}

async fn admin_server(store: &str) -> TestServer {
    TestServer::on_store_with(store, &["--admin", "Bob@Example.org"]).await
}

mod closed {
    use super::*;
    on_both_stores!(with closed_server; closed_takes_the_first_account_only);
}

mod invite {
    use super::*;
    on_both_stores!(with invite_server; invite_mode_takes_valid_links_only, racing_for_the_last_use_lets_exactly_one_in);
}

mod admins {
    use super::*;
    on_both_stores!(with admin_server; only_administrators_manage_links);
}

/// Guessing invitation tokens from one address slows down; another address
/// is not held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_guesses_slow_down_their_address() {
    let server = TestServer::start(&["--signup", "invite", "--trusted-proxy", "127.0.0.1"]).await;
    User::register(&server, "ann").await;
    let guess = |from: &'static str, n: u32| {
        let body = json!({
            "email": format!("g{n}@example.org"), "nickname": "g", "password": "correct horse",
            "device_id": "d1", "invite": format!("guess-{n}"),
        });
        server.client.post(server.url(endpoint::AUTH_REGISTER)).header("x-forwarded-for", from).json(&body).send()
    };
    for n in 0..5 {
        assert_eq!(guess("203.0.113.66", n).await.unwrap().status(), 403);
    }
    let slowed = guess("203.0.113.66", 5).await.unwrap();
    assert_eq!(slowed.status(), 429);
    assert!(slowed.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(guess("198.51.100.7", 6).await.unwrap().status(), 403, "another address guesses on");
    server.stop().await;
}
