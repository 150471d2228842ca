//! Overload (`server/src/hub/mailbox.rs`, `pressure.rs`): a reader that
//! reads slowly is not closed and gets every message in order, its full
//! mailbox filled from the store; the senders are held meanwhile, and one
//! held past the bound gets `retry` with a `retry_after_ms` (over HTTP, held
//! too, `rate_limited` with a `Retry-After`, and one user's many at once
//! held only up to a budget, the rest refused at once); a reader that
//! stops is closed and catches up when it resumes. On the embedded store.

use crate::support;

use std::{
    collections::{BTreeMap, HashSet},
    time::Duration,
};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use support::{
    chat::{Client, User},
    TestServer,
};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use wire::{
    model::{ConversationId, Message, MessageKind},
    protocol::{ClientFrame, Position, ServerFrame, WsErrorCode},
};

/// Connections sending at once: the writer batches their messages.
const SENDERS: usize = 4;
/// Messages each sender sends: together far more than a mailbox holds
/// beyond what the sockets take.
const EACH: usize = 1000;
/// Characters of each message (the most there may be, with the client id).
const TEXT: usize = 3900;
/// The slow reader's receive buffer, in bytes.
const SMALL: u32 = 8192;

async fn server(extra: &[&str]) -> TestServer {
    let mut flags = vec!["--sends-per-sec", "100000"];
    flags.extend(extra);
    TestServer::on_store_with("embedded", &flags).await
}

/// A group of `SENDERS` senders and a reader; the senders' users, the reader's, the group.
async fn group(server: &TestServer) -> (Vec<User<'_>>, User<'_>, ConversationId) {
    let mut senders = Vec::new();
    for i in 0..SENDERS {
        senders.push(User::register(server, &format!("sender{i}")).await);
    }
    let reader = User::register(server, "reader").await;
    let mut members: Vec<&User<'_>> = senders[1..].iter().collect();
    members.push(&reader);
    let room = senders[0].group("busy", &members, json!({})).await;
    (senders, reader, room)
}

fn send(room: &ConversationId, client_id: &str) -> WsMessage {
    let frame = ClientFrame::Send {
        conversation_id: room.clone(),
        client_id: client_id.into(),
        kind: MessageKind::Text,
        content: format!("{client_id} {}", "x".repeat(TEXT)),
        attachment: None,
        target: None,
        reply_to: None,
        mentions: Vec::new(),
    };
    WsMessage::Text(serde_json::to_string(&frame).unwrap().into())
}

/// Sends `EACH` messages as fast as the socket takes them, sending again
/// each one refused with `retry` after its `retry_after_ms`, until all are
/// acked; the `retry_after_ms` of each refusal.
async fn blast(client: Client, room: ConversationId, name: String) -> Vec<u64> {
    let (mut tx, mut rx) = client.stream.split();
    let (answers, mut answered) = tokio::sync::mpsc::unbounded_channel();
    let reading = tokio::spawn(async move {
        while let Some(Ok(frame)) = rx.next().await {
            let WsMessage::Text(text) = frame else { continue };
            let answer = match serde_json::from_str(text.as_str()).unwrap() {
                ServerFrame::Ack { client_id, .. } => (client_id, None),
                ServerFrame::Error { code, client_id: Some(client_id), retry_after_ms, .. } => {
                    assert_eq!(code, WsErrorCode::Retry, "{client_id} refused");
                    (client_id, Some(retry_after_ms.expect("a retry carries when")))
                }
                _ => continue,
            };
            if answers.send(answer).is_err() {
                return;
            }
        }
    });
    for i in 0..EACH {
        tx.send(send(&room, &format!("{name}-{i}"))).await.unwrap();
    }
    let (mut acked, mut refusals, mut due) = (HashSet::new(), Vec::new(), BTreeMap::<Instant, Vec<String>>::new());
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.len() < EACH {
        let next_due = due.keys().next().copied().unwrap_or(deadline);
        tokio::select! {
            answer = answered.recv() => match answer.expect("the sender's connection stays open") {
                (client_id, None) => {
                    acked.insert(client_id);
                }
                (client_id, Some(after)) => {
                    refusals.push(after);
                    due.entry(Instant::now() + Duration::from_millis(after)).or_default().push(client_id);
                }
            },
            _ = tokio::time::sleep_until(next_due) => {
                assert!(Instant::now() < deadline, "{name}: {} of {EACH} acked", acked.len());
                for client_id in due.pop_first().map(|(_, ids)| ids).unwrap_or_default() {
                    tx.send(send(&room, &client_id)).await.unwrap();
                }
            }
        }
    }
    reading.abort();
    refusals
}

/// Starts every sender's blast; their refusals once all are acked.
fn blast_all(senders: Vec<Client>, room: &ConversationId) -> tokio::task::JoinHandle<Vec<u64>> {
    let blasts: Vec<_> =
        senders.into_iter().enumerate().map(|(i, c)| tokio::spawn(blast(c, room.clone(), format!("s{i}")))).collect();
    tokio::spawn(async move {
        let mut refusals = Vec::new();
        for blast in blasts {
            refusals.extend(blast.await.unwrap());
        }
        refusals
    })
}

/// Reads messages until `count` have come, pausing `pause` every `every`;
/// panics if the connection closes.
async fn read_slowly(client: &mut Client, count: usize, every: usize, pause: Duration) -> Vec<Message> {
    let mut got = Vec::new();
    while got.len() < count {
        match client.next_within(Duration::from_secs(30)).await {
            Some(ServerFrame::Message { message }) => got.push(message),
            Some(_) => continue,
            None => panic!("only {} of {count} messages came", got.len()),
        }
        if got.len() % every == 0 {
            tokio::time::sleep(pause).await;
        }
    }
    got
}

/// Each seq from `first` on once, in order, and each sent text among them.
fn in_order(got: &[Message], first: u64) {
    let seqs: Vec<u64> = got.iter().map(|m| m.seq).collect();
    let expected: Vec<u64> = (first..first + got.len() as u64).collect();
    assert_eq!(seqs, expected, "every message once, in order");
}

async fn metric(server: &TestServer, name: &str) -> f64 {
    let text = server.get("/metrics").await.text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse().ok()).unwrap_or(0.0)
}

/// Sends over HTTP, one after another, until the server has held one
/// while its readers were behind, or `until`; whether it did. Each is
/// stored (201) or, held past the bound, refused with `rate_limited` and a
/// time to wait.
async fn http_send_held(server: &TestServer, user: &User<'_>, conversation: &ConversationId, until: Instant) -> bool {
    let path = format!("/api/conversations/{conversation}/messages");
    for i in 0.. {
        if metric(server, "natter_http_sends_held_total").await > 0.0 {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        let body = json!({ "client_id": format!("bot-{i}"), "kind": "text", "content": "hello" });
        match user.call(reqwest::Method::POST, &path, Some(body)).await {
            (201, _) => tokio::time::sleep(Duration::from_millis(50)).await,
            (429, answer) => {
                assert_eq!(answer["code"], "rate_limited", "{answer}");
                assert!(answer["retry_after_secs"].as_u64().is_some_and(|s| s >= 1), "{answer}");
            }
            other => panic!("an HTTP send got {other:?}"),
        }
    }
    false
}

async fn connect_senders(senders: &[User<'_>]) -> Vec<Client> {
    let mut clients = Vec::new();
    for sender in senders {
        clients.push(sender.connect().await);
    }
    clients
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_reader_gets_everything_in_order_while_senders_are_held_and_told_to_retry() {
    let server = server(&[]).await;
    let (senders, reader, room) = group(&server).await;
    let mut slow = reader.connect_small(SMALL).await;
    let bot = User::register(&server, "bot").await;
    let quiet = bot.group("quiet", &[], json!({})).await;
    let blasting = blast_all(connect_senders(&senders).await, &room);
    // The reader reads nothing for a while: its socket fills, then its mailbox,
    // which then skips; the senders are held, past the bound told to retry,
    // those over HTTP too, whatever conversation they send to.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (got, http_held) = tokio::join!(
        read_slowly(&mut slow, SENDERS * EACH, 100, Duration::from_millis(20)),
        http_send_held(&server, &bot, &quiet, Instant::now() + Duration::from_secs(30)),
    );
    let refusals = blasting.await.unwrap();
    in_order(&got, 1);
    let texts: HashSet<String> = got.iter().map(|m| m.content.split(' ').next().unwrap().to_owned()).collect();
    assert_eq!(texts.len(), SENDERS * EACH, "every message sent, each once");
    assert!(metric(&server, "natter_ws_skipped_total").await > 0.0, "the reader's mailbox was full");
    assert!(!refusals.is_empty(), "a send held past the bound is refused with retry");
    assert!(http_held, "sends over HTTP wait too");
    assert!(refusals.iter().all(|ms| (500..=1500).contains(ms)), "{refusals:?}");
    slow.assert_alive().await;
}

/// The budget of HTTP sends one user may have waiting (`Action::HeldSend`):
/// 20 at once, then 10 a second.
const HELD_BURST: f64 = 20.0;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_user_holds_a_few_http_sends_however_many_they_make_at_once() {
    let server = server(&[]).await;
    let (senders, reader, room) = group(&server).await;
    // A reader that reads nothing: the senders fill its mailbox and the node
    // holds sends until its write times out (20 s).
    let _stalled = reader.connect_small(SMALL).await;
    let bot = User::register(&server, "bot").await;
    let quiet = bot.group("quiet", &[], json!({})).await;
    let blasting = blast_all(connect_senders(&senders).await, &room);
    let deadline = Instant::now() + Duration::from_secs(15);
    while metric(&server, "natter_ws_behind").await < 1.0 {
        assert!(Instant::now() < deadline, "the stalled reader never fell behind");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let path = format!("/api/conversations/{quiet}/messages");
    let started = Instant::now();
    let answers = futures_util::future::join_all((0..100).map(|i| {
        let body = json!({ "client_id": format!("many-{i}"), "kind": "text", "content": "hello" });
        bot.call(reqwest::Method::POST, &path, Some(body))
    }))
    .await;
    let took = started.elapsed().as_secs_f64();
    blasting.abort();
    let held = metric(&server, "natter_http_sends_held_total").await;
    assert!(held >= 1.0, "the sends waited");
    assert!(held <= HELD_BURST + 10.0 * took + 1.0, "{held} held in {took:.1} s");
    // The held ones are stored if the readers caught up within 2 s, else
    // refused; every other one was refused at once.
    let mut refused = 0;
    for (status, answer) in &answers {
        if *status == 201 {
            continue;
        }
        assert_eq!(*status, 429, "{answer}");
        assert_eq!(answer["code"], "rate_limited", "{answer}");
        assert!(answer["retry_after_secs"].as_u64().is_some_and(|s| s >= 1), "{answer}");
        refused += 1;
    }
    assert!(refused as f64 >= 100.0 - held, "{refused} refused, {held} held");
    let (_, history) = bot.call(reqwest::Method::GET, &format!("{path}?limit=100"), None).await;
    let stored = history.as_array().unwrap().iter().filter(|m| m["content"] == "hello").count();
    assert_eq!(stored, 100 - refused, "only those let go are stored: {history}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_that_stops_is_closed_and_catches_up_when_it_resumes() {
    let server = server(&["--ws-write-timeout-secs", "1"]).await;
    let (senders, reader, room) = group(&server).await;
    let mut stopped = reader.connect_small(SMALL).await;
    let refusals = blast_all(connect_senders(&senders).await, &room).await.unwrap();
    assert!(refusals.iter().all(|ms| (500..=1500).contains(ms)), "{refusals:?}");
    // What the socket held, then the end: the server let the connection go.
    let mut got = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stopped.stream.next()).await.expect("closed within 10 s") {
            Some(Ok(WsMessage::Text(text))) => {
                if let ServerFrame::Message { message } = serde_json::from_str(text.as_str()).unwrap() {
                    got.push(message);
                }
            }
            Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
            Some(Ok(_)) => continue,
        }
    }
    in_order(&got, 1);
    assert!(got.len() < SENDERS * EACH, "the stopped reader was let go before the end");
    // Resuming, it gets the newest ones (a resume replays at most 200 and
    // says it skipped the rest: history pages load those).
    let had = got.last().map_or(0, |m| m.seq);
    let mut back = reader.connect_resuming(vec![Position { conversation_id: room.clone(), seq: had }]).await;
    let (mut from, mut rest) = (had + 1, Vec::new());
    while from + (rest.len() as u64) <= (SENDERS * EACH) as u64 {
        match back.next().await {
            ServerFrame::Skipped { upto, .. } if rest.is_empty() => from = upto + 1,
            ServerFrame::Message { message } => rest.push(message),
            _ => {}
        }
    }
    in_order(&rest, from);
}
