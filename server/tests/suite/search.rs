//! Message search (issue 21): Chinese found by any part, words by their
//! start, both forms of Chinese and both widths of Latin; phrases, filters
//! and pages; only members' conversations; deletes and edits followed; an
//! index rebuilt from the store answering the same; bad input refused with
//! its code, never a 500; on both stores, and across two nodes.

use crate::support;

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use support::{
    chat::{file_send, Client, User},
    cluster::{redis_addr, two_nodes},
    url_escape, with_query, TestServer,
};
use wire::{
    api::{FileInfo, SearchParams, SearchResults, MAX_SEARCH_QUERY_CHARS},
    endpoint,
    model::{ConversationId, MessageKind},
    protocol::ServerFrame,
};

/// How long the index may take to show a stored message.
const INDEXED_WITHIN: Duration = Duration::from_secs(10);

fn url(params: &SearchParams) -> String {
    with_query(endpoint::SEARCH, params.pairs())
}

fn q(text: &str) -> SearchParams {
    SearchParams { q: text.into(), ..SearchParams::default() }
}

/// One page of results, which must be answered 200.
async fn search(user: &User<'_>, params: &SearchParams) -> SearchResults {
    let (status, body) = user.call(Method::GET, &url(params), None).await;
    assert_eq!(status, 200, "{params:?}: {body}");
    serde_json::from_value(body).unwrap()
}

/// The seqs found, in order.
async fn seqs(user: &User<'_>, params: &SearchParams) -> Vec<u64> {
    search(user, params).await.hits.iter().map(|h| h.seq).collect()
}

/// Searches until the seqs found are `want` (the index follows the store a
/// moment later), failing after [`INDEXED_WITHIN`].
async fn until_found(user: &User<'_>, params: &SearchParams, want: &[u64]) {
    let deadline = tokio::time::Instant::now() + INDEXED_WITHIN;
    loop {
        let got = seqs(user, params).await;
        if got == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{params:?}: found {got:?}, wanted {want:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends a text; its seq.
async fn say(client: &mut Client, room: &ConversationId, client_id: &str, text: &str) -> u64 {
    client.send_text(room, client_id, text).await;
    acked(client.answer(client_id).await)
}

fn acked(frame: ServerFrame) -> u64 {
    match frame {
        ServerFrame::Ack { seq, .. } => seq,
        other => panic!("not acked: {other:?}"),
    }
}

/// Texts (and one file) whose searches the tests below check.
const TEXTS: [&str; 9] = [
    "我家在上海东边。",
    "今天要止损，注意健康",
    "你这个坏蛋",
    "abc and more",
    "拉个微信 WeChat 群聊吧",
    "see you at the station tomorrow",
    "tomorrow the station closes",
    "订单 20241202 已发货",
    "海上生明月",
];

async fn chinese_english_mixed_and_phrases_are_found(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    let mut at = Vec::new();
    for (i, text) in TEXTS.iter().enumerate() {
        at.push(say(&mut a, &room, &format!("m{i}"), text).await);
    }
    let (home, stop_loss, bad, abc, wechat, station, closes, order, moon) =
        (at[0], at[1], at[2], at[3], at[4], at[5], at[6], at[7], at[8]);
    // The index takes a conversation's entries in order: the last found, all are.
    until_found(&bob, &q("海上生"), &[moon]).await;
    let cases: &[(&str, Vec<u64>)] = &[
        ("止损", vec![stop_loss]),
        ("健康", vec![stop_loss]),
        ("上海东边", vec![home]),
        ("海东", vec![home]),
        ("壞蛋", vec![bad]),
        ("ＡＢＣ", vec![abc]),
        ("微信 WeChat 群", vec![wechat]),
        ("wech", vec![wechat]),
        ("2024", vec![order]),
        ("\"station tomorrow\"", vec![station]),
        ("上海 东边", vec![home]),
        ("东上", vec![]),
        ("海上生", vec![moon]),
    ];
    for (text, want) in cases {
        assert_eq!(&seqs(&bob, &q(text)).await, want, "{text}");
    }
    let mut both = seqs(&bob, &q("station tomorrow")).await;
    both.sort();
    assert_eq!(both, [station, closes]);
    // A single character finds every message holding it.
    let mut with_home = seqs(&bob, &q("家")).await;
    with_home.sort();
    assert_eq!(with_home, [home]);
    let mut with_sea = seqs(&bob, &q("海")).await;
    with_sea.sort();
    assert_eq!(with_sea, [home, moon]);

    // The hit says where it is and what matched.
    let hit = search(&bob, &q("上海")).await.hits.remove(0);
    assert_eq!((hit.conversation_id, hit.seq, hit.sender_id.0), (room.clone(), home, ann.id.clone()));
    assert_eq!((hit.excerpt.as_str(), hit.highlights), (TEXTS[0], vec![[3, 5]]));
    let hit = search(&bob, &q("ＷＥＣＨＡＴ 群")).await.hits.remove(0);
    assert_eq!(hit.highlights, [[5, 11], [12, 13]]);
}

async fn filters_order_pages_and_file_names(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let other = ann.group("other", &[&bob], json!({})).await;
    let (mut a, mut b) = (ann.connect().await, bob.connect().await);
    let first = say(&mut a, &room, "m1", "周报 weekly").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = say(&mut b, &room, "m2", "周报 again weekly").await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let elsewhere = say(&mut a, &other, "m3", "周报 elsewhere").await;
    let resp = server
        .client
        .post(server.url(&format!("{}?name={}&kind=file", endpoint::FILES, url_escape("季度周报-2024.pdf"))))
        .bearer_auth(&ann.token)
        .body(b"%PDF-1.4 not much of a pdf".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let file: FileInfo = resp.json().await.unwrap();
    a.send(&file_send(&room, "f1", MessageKind::File, &file.id, None, "")).await;
    let filed = acked(a.answer("f1").await);

    // Newest first, by kind, by sender, by conversation, by time.
    let newest = SearchParams { order: wire::api::SearchOrder::Newest, ..q("周报") };
    until_found(&bob, &SearchParams { conversation: Some(room.clone()), ..newest.clone() }, &[filed, second, first]).await;
    assert_eq!(seqs(&bob, &newest).await.len(), 4);
    let files = SearchParams { kind: Some(MessageKind::File), ..q("季度") };
    let found = search(&bob, &files).await.hits;
    assert_eq!(found.iter().map(|h| h.seq).collect::<Vec<_>>(), [filed]);
    assert_eq!((found[0].excerpt.as_str(), found[0].highlights.clone()), ("季度周报-2024.pdf", vec![[0, 2]]));
    let from_bob = SearchParams { from: Some(wire::model::UserId(bob.id.clone())), ..q("weekly") };
    assert_eq!(seqs(&bob, &from_bob).await, [second]);
    let in_other = SearchParams { conversation: Some(other.clone()), ..q("周报") };
    assert_eq!(seqs(&bob, &in_other).await, [elsewhere]);
    let all = search(&bob, &newest).await.hits;
    let cut = all.iter().find(|h| h.seq == second && h.conversation_id == room).unwrap().created_ms;
    let before = SearchParams { before: Some(cut), conversation: Some(room.clone()), ..q("周报") };
    assert_eq!(seqs(&bob, &before).await, [first]);
    let after = SearchParams { after: Some(cut), kind: Some(MessageKind::Text), ..newest.clone() };
    assert_eq!(seqs(&bob, &after).await, [elsewhere, second]);

    // Pages: a cursor goes on where the last page ended, and the last has none.
    let page = SearchParams { limit: Some(3), ..newest.clone() };
    let one = search(&bob, &page).await;
    let two = search(&bob, &SearchParams { cursor: one.next_cursor.clone(), ..page.clone() }).await;
    assert_eq!((one.hits.len(), two.hits.len(), two.next_cursor), (3, 1, None));
    let seen: Vec<_> = one.hits.iter().chain(&two.hits).map(|h| (h.conversation_id.clone(), h.seq)).collect();
    let whole: Vec<_> = all.iter().map(|h| (h.conversation_id.clone(), h.seq)).collect();
    assert_eq!(seen, whole);
}

async fn only_members_ever_find(server: &TestServer) {
    let (ann, bob, cat) =
        (User::register(server, "ann").await, User::register(server, "bob").await, User::register(server, "cat").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    let secret = say(&mut a, &room, "m1", "秘密计划 secret plan").await;
    until_found(&bob, &q("秘密"), &[secret]).await;
    assert_eq!(seqs(&cat, &q("秘密")).await, Vec::<u64>::new(), "not a member");
    let (status, body) = cat.call(Method::GET, &url(&SearchParams { conversation: Some(room.clone()), ..q("秘密") }), None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "nothing said of it");
    let (status, _) = bob.call(Method::POST, &endpoint::conversation_leave(&room), None).await;
    assert!(status < 300);
    assert_eq!(seqs(&bob, &q("秘密")).await, Vec::<u64>::new(), "a former member");
    assert_eq!(seqs(&ann, &q("secret")).await, [secret]);
}

async fn deletes_vanish_and_edits_are_found(server: &TestServer) {
    let (ann, bob) = (User::register(server, "ann").await, User::register(server, "bob").await);
    let room = ann.group("room", &[&bob], json!({})).await;
    let mut a = ann.connect().await;
    let typo = say(&mut a, &room, "m1", "原来的文字 original").await;
    let gone = say(&mut a, &room, "m2", "要删除的消息 doomed").await;
    until_found(&bob, &q("删除"), &[gone]).await;
    acked(a.change(&room, "e1", MessageKind::Edit, typo, "新的内容 fresh").await);
    acked(a.change(&room, "d1", MessageKind::Delete, gone, "").await);
    until_found(&bob, &q("新的"), &[typo]).await;
    assert_eq!(seqs(&bob, &q("原来")).await, Vec::<u64>::new());
    until_found(&bob, &q("doomed"), &[]).await;
    assert_eq!(seqs(&bob, &q("删除")).await, Vec::<u64>::new());
    // How far behind the index is shows in the metrics.
    let metrics = server.get(endpoint::METRICS).await.text().await.unwrap();
    for name in ["natter_search_lag_seconds", "natter_search_documents", "natter_search_entries_total"] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
}

async fn a_rebuilt_index_answers_the_same(server: TestServer) {
    let (ann_id, token) = {
        let ann = User::register(&server, "ann").await;
        let bob = User::register(&server, "bob").await;
        let room = ann.group("room", &[&bob], json!({})).await;
        let mut a = ann.connect().await;
        for (i, text) in TEXTS.iter().enumerate() {
            say(&mut a, &room, &format!("m{i}"), text).await;
        }
        let typo = say(&mut a, &room, "x1", "错字 typo").await;
        acked(a.change(&room, "e1", MessageKind::Edit, typo, "改好了 fixed").await);
        until_found(&ann, &q("改好"), &[typo]).await;
        (ann.id.clone(), ann.token.clone())
    };
    let queries = ["上海", "海", "微信 WeChat 群", "\"station tomorrow\"", "tomorrow", "改好", "错字", "2024"];
    let mut before = Vec::new();
    {
        let ann = User { server: &server, id: ann_id.clone(), token: token.clone() };
        for text in queries {
            before.push(search(&ann, &q(text)).await);
        }
    }
    let server = server.restart(|data| std::fs::remove_dir_all(data.join("search")).unwrap()).await;
    let ann = User { server: &server, id: ann_id, token };
    until_found(&ann, &q("改好"), &[before[5].hits[0].seq]).await;
    // The same hits; equally good ones may rank differently, since an
    // index counts the documents edits replaced until it merges them away.
    let sorted = |mut r: SearchResults| {
        r.hits.sort_by_key(|h| h.seq);
        r
    };
    for (text, want) in queries.iter().zip(before) {
        assert_eq!(sorted(search(&ann, &q(text)).await), sorted(want), "{text}");
    }
    server.stop().await;
}

async fn bad_input_is_refused_with_its_code(server: &TestServer) {
    let ann = User::register(server, "ann").await;
    let long = "字".repeat(MAX_SEARCH_QUERY_CHARS + 1);
    let refused = [
        ("q=", "empty_query", "q"),
        ("q=%20%20%09", "empty_query", "q"),
        ("", "bad_request", ""),
        ("q=%22*%3A(%22%20", "empty_query", "q"),
        ("q=(((", "empty_query", "q"),
        (&format!("q={}", url_escape(&long)) as &str, "query_too_long", "q"),
        ("q=x&limit=0", "bad_request", "limit"),
        ("q=x&limit=51", "bad_request", "limit"),
        ("q=x&limit=many", "bad_request", ""),
        ("q=x&cursor=999999", "bad_request", "cursor"),
        ("q=x&cursor=-1", "bad_request", "cursor"),
        ("q=x&kind=edit", "bad_request", "kind"),
        ("q=x&conversation=nope", "not_found", "conversation"),
        ("q=x&order=oldest", "bad_request", ""),
    ];
    for (query, code, field) in refused {
        let (status, body) = ann.call(Method::GET, &format!("{}?{query}", endpoint::SEARCH), None).await;
        let status_of_code = if code == "not_found" { 404 } else { 400 };
        assert_eq!((status, body["code"].as_str()), (status_of_code, Some(code)), "{query}: {body}");
        assert_eq!(body["field"].as_str().unwrap_or(""), field, "{query}: {body}");
    }
    // What a query language would make of these is taken literally.
    for text in ["a\"b*c:(d", "foo:bar", "\"unclosed 上海", "OR AND NOT", "-x +y ~z ^2", "a AND (b OR c)", "x\\y"] {
        search(&ann, &q(text)).await;
    }
    let anonymous = server.client.get(server.url(&format!("{}?q=x", endpoint::SEARCH))).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

on_both_stores!(
    chinese_english_mixed_and_phrases_are_found,
    filters_order_pages_and_file_names,
    only_members_ever_find,
    deletes_vanish_and_edits_are_found,
    bad_input_is_refused_with_its_code,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuilt_index_answers_the_same_on_the_embedded_store() {
    a_rebuilt_index_answers_the_same(TestServer::on_store("embedded").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuilt_index_answers_the_same_on_mongodb() {
    a_rebuilt_index_answers_the_same(TestServer::on_store("mongodb").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_sent_on_one_node_is_found_on_the_other_within_two_seconds() {
    let (a, b) = two_nodes(redis_addr()).await;
    let ann = User::register(&a, "ann").await;
    let bob = User::register(&a, "bob").await;
    let room = ann.group("room", &[&bob], json!({})).await;
    let bob_on_b = User { server: &b, id: bob.id.clone(), token: bob.token.clone() };
    let mut ws = ann.connect_via(&a, vec![]).await;
    // Both nodes must be subscribed to the bus before the message.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let seq = say(&mut ws, &room, "m1", "集群里的消息 cluster").await;
    let sent = tokio::time::Instant::now();
    loop {
        if seqs(&bob_on_b, &q("集群")).await == [seq] {
            break;
        }
        assert!(sent.elapsed() < Duration::from_secs(2), "not found on node b within 2 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a.stop().await;
    b.stop().await;
}
