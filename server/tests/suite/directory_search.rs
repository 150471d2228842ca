//! The people and group directory searched as messages are (issue 21):
//! Chinese nicknames by any part, traditional and simplified alike, both
//! widths of Latin, pinyin; best match first; blocks, e-mail privacy and
//! hidden groups respected; bad input refused with message search's codes;
//! on both stores.

use crate::support;

use reqwest::Method;
use serde_json::{json, Value};
use support::{chat::User, url_escape, with_query, TestServer};
use wire::{
    api::{DirectoryParams, MAX_PEOPLE_QUERY_CHARS, MAX_SEARCH_QUERY_CHARS},
    endpoint,
};

/// Signs `name` up and names them `nickname`.
async fn person<'a>(server: &'a TestServer, name: &str, nickname: &str) -> User<'a> {
    let user = User::register(server, name).await;
    let (status, body) = user.call(Method::PATCH, endpoint::ME, Some(json!({ "nickname": nickname }))).await;
    assert_eq!(status, 200, "{body}");
    user
}

/// The nicknames `GET /api/users?q=` answers `who`, in order.
async fn people(who: &User<'_>, q: &str) -> Vec<String> {
    let (status, body) = who.call(Method::GET, &format!("{}?q={}", endpoint::USERS, url_escape(q)), None).await;
    assert_eq!(status, 200, "{q}: {body}");
    body.as_array().unwrap().iter().map(|p| p["nickname"].as_str().unwrap().to_owned()).collect()
}

/// The names of the public groups `GET /api/conversations/public` answers for `params`.
async fn groups(who: &User<'_>, params: &DirectoryParams) -> Vec<String> {
    let (status, body) = who.call(Method::GET, &with_query(endpoint::PUBLIC_CONVERSATIONS, params.pairs()), None).await;
    assert_eq!(status, 200, "{params:?}: {body}");
    body.as_array().unwrap().iter().map(|e| e["conversation"]["name"].as_str().unwrap().to_owned()).collect()
}

fn q(text: &str) -> DirectoryParams {
    DirectoryParams { q: Some(text.into()), ..DirectoryParams::default() }
}

async fn people_are_found_by_any_part_of_their_nickname(server: &TestServer) {
    let me = person(server, "me", "我").await;
    for (name, nickname) in [("zsf", "張三豐"), ("zs", "张三"), ("abc", "ＡＢＣ"), ("li", "李小龙"), ("ann", "Ann Lee")] {
        person(server, name, nickname).await;
    }
    let cases: &[(&str, &[&str])] = &[
        ("三丰", &["張三豐"]),
        ("張三", &["张三", "張三豐"]),
        ("张三丰", &["張三豐"]),
        ("abc", &["ＡＢＣ"]),
        ("ABC", &["ＡＢＣ"]),
        ("zhangsan", &["张三", "張三豐"]),
        ("zhang", &["张三", "張三豐"]),
        ("xiaolong", &["李小龙"]),
        ("lxl", &["李小龙"]),
        ("ann l", &["Ann Lee"]),
        ("LEE", &["Ann Lee"]),
        ("%", &[]),
        (".*", &[]),
        ("我", &[]),
    ];
    for (text, want) in cases {
        assert_eq!(people(&me, text).await, *want, "{text}");
    }
    // Exact, then prefix, then any part; a page is at most `limit`.
    assert_eq!(people(&me, "an").await, ["Ann Lee", "张三", "張三豐"]);
    let (_, one) = me.call(Method::GET, &format!("{}?q=an&limit=1", endpoint::USERS), None).await;
    assert_eq!(one.as_array().unwrap().len(), 1);
}

async fn people_search_keeps_to_privacy(server: &TestServer) {
    let ann = person(server, "ann", "安娜").await;
    let bob = person(server, "bob", "安德鲁").await;
    let cat = person(server, "cat", "安琪").await;
    assert_eq!(people(&ann, "安").await, ["安德鲁", "安琪"], "never oneself");
    let (status, _) = cat.call(Method::PUT, &endpoint::block(&wire::model::UserId(ann.id.clone())), None).await;
    assert!(status < 300);
    assert_eq!(people(&ann, "安").await, ["安德鲁"], "a block keeps both apart");
    assert_eq!(people(&cat, "安").await, ["安德鲁"]);
    assert!(people(&ann, "bob@example.org").await.is_empty(), "an e-mail finds only who allows it");
    let findable = json!({ "contact": "everyone", "findable_by_email": true });
    assert_eq!(bob.call(Method::PUT, "/api/me/privacy", Some(findable.clone())).await.0, 200);
    assert_eq!(people(&ann, "BOB@example.org").await, ["安德鲁"]);
    assert_eq!(cat.call(Method::PUT, "/api/me/privacy", Some(findable)).await.0, 200);
    assert!(people(&ann, "cat@example.org").await.is_empty(), "nor through a block");
}

async fn public_groups_are_found_by_name_and_description(server: &TestServer) {
    let ann = person(server, "ann", "Ann").await;
    let bob = person(server, "bob", "Bob").await;
    let public = |description: &str| json!({ "visibility": "public", "description": description });
    ann.group("台湾美食", &[], public("小吃")).await;
    ann.group("Taipei Runners", &[], public("每周在臺北跑步")).await;
    ann.group("台湾秘密", &[], json!({ "visibility": "hidden" })).await;
    ann.group("台湾", &[], public("")).await;
    let cases: &[(&str, &[&str])] = &[
        ("臺灣", &["台湾", "台湾美食"]),
        ("台北", &["Taipei Runners"]),
        ("RUNNER", &["Taipei Runners"]),
        ("小吃", &["台湾美食"]),
        ("秘密", &[]),
        ("*", &[]),
    ];
    for (text, want) in cases {
        assert_eq!(groups(&bob, &q(text)).await, *want, "{text}");
    }
    let second = DirectoryParams { skip: 1, limit: Some(1), ..q("臺灣") };
    assert_eq!(groups(&bob, &second).await, ["台湾美食"]);
    let all = groups(&bob, &DirectoryParams::default()).await;
    assert_eq!(all.len(), 3, "without a query, every public group: {all:?}");
    assert!(!all.iter().any(|n| n == "台湾秘密"), "a hidden group is never listed");
}

async fn bad_queries_are_refused_with_their_code(server: &TestServer) {
    let ann = person(server, "ann", "Ann").await;
    let long = |n: usize| url_escape(&"字".repeat(n + 1));
    let refused: Vec<(String, &str, &str)> = vec![
        (format!("{}?q=", endpoint::USERS), "empty_query", "q"),
        (format!("{}?q=%20%09", endpoint::USERS), "empty_query", "q"),
        (format!("{}", endpoint::USERS), "bad_request", ""),
        (format!("{}?q={}", endpoint::USERS, long(MAX_PEOPLE_QUERY_CHARS)), "query_too_long", "q"),
        (format!("{}?q=a&limit=0", endpoint::USERS), "bad_request", "limit"),
        (format!("{}?q=a&limit=51", endpoint::USERS), "bad_request", "limit"),
        (format!("{}?q=", endpoint::PUBLIC_CONVERSATIONS), "empty_query", "q"),
        (format!("{}?q={}", endpoint::PUBLIC_CONVERSATIONS, long(MAX_SEARCH_QUERY_CHARS)), "query_too_long", "q"),
        (format!("{}?limit=0", endpoint::PUBLIC_CONVERSATIONS), "bad_request", "limit"),
        (format!("{}?limit=101", endpoint::PUBLIC_CONVERSATIONS), "bad_request", "limit"),
        (format!("{}?q=a&skip=480&limit=50", endpoint::PUBLIC_CONVERSATIONS), "bad_request", "skip"),
        (format!("{}?skip=-1", endpoint::PUBLIC_CONVERSATIONS), "bad_request", ""),
    ];
    for (path, code, field) in &refused {
        let (status, body): (u16, Value) = ann.call(Method::GET, path, None).await;
        assert_eq!((status, body["code"].as_str()), (400, Some(*code)), "{path}: {body}");
        assert_eq!(body["field"].as_str().unwrap_or(""), *field, "{path}: {body}");
    }
}

on_both_stores!(
    people_are_found_by_any_part_of_their_nickname,
    people_search_keeps_to_privacy,
    public_groups_are_found_by_name_and_description,
    bad_queries_are_refused_with_their_code,
);
