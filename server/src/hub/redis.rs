//! Fan-out across server nodes through Redis pub/sub, routed: each event goes
//! to the channel of its conversation or user (`topic.rs`), and each node
//! listens only to the channels its connections need, on one connection.
//!
//! Every event goes to this node's hub at once, so a node keeps serving its
//! own users whatever Redis does, and is queued for the other nodes. A
//! background task publishes whatever is queued in one pipeline per round
//! trip; another subscribes and follows the hub's topics. Both reconnect with
//! backoff. Durability stays in the store: what the bus loses (a full queue,
//! a subscription cut, Redis away) is filled from it by `crate::chat::repair`,
//! told of every (re)subscription through [`Hub::subscribed`].
//!
//! On the wire a copy is `<node> <rank> <topics>\n<event as JSON>`: a node
//! skips its own copies without decoding them, and `rank` says which of the
//! event's topics this copy came on (see [`Hub::deliver_via`]). The search
//! index of every node follows every conversation, so the nodes also tell
//! each other what they stored, on `<ns>:stored`: one notice per pipeline,
//! of conversation ids and kinds only.

use std::{collections::HashSet, sync::Arc};

use async_trait::async_trait;
use futures_util::future::try_join_all;
use redis::Value;
use tokio::sync::mpsc;
use wire::model::{ConversationId, MessageKind};

use super::{event::HubEvent, Fanout, Hub, Topic};
use crate::{
    backoff::Backoff,
    redis_conn::{Backend, Messages, Subscriptions},
};

/// The prefix of every Redis key and channel of a deployment: the name of
/// its data (`Store::deployment`), so that deployments (and test runs)
/// sharing one Redis never mix.
pub fn namespace(deployment: &str) -> String {
    format!("natter:{deployment}")
}

/// Copies waiting for Redis beyond this are dropped (and repaired from the store).
const QUEUE: usize = 10_000;
/// Most copies in one pipeline.
const PIPELINE: usize = 1_000;

/// One copy of an event for one channel.
struct Outgoing {
    channel: String,
    payload: Vec<u8>,
    /// For a message: what the other nodes' search indexes are told.
    stored: Option<(ConversationId, MessageKind)>,
}

pub struct RedisFanout {
    hub: Arc<Hub>,
    namespace: String,
    node_id: String,
    outbox: mpsc::Sender<Outgoing>,
}

impl RedisFanout {
    /// Starts the publishing and subscribing tasks of the deployment's bus.
    pub fn start(backend: Backend, namespace: &str, hub: Arc<Hub>, node_id: String) -> RedisFanout {
        let (outbox, queue) = mpsc::channel(QUEUE);
        hub.track_topics();
        let node = Node { hub: hub.clone(), id: node_id.clone(), stored: format!("{namespace}:stored") };
        tokio::spawn(publish_loop(backend.clone(), node.stored.clone(), node_id.clone(), queue));
        tokio::spawn(subscribe_loop(backend, namespace.to_owned(), node));
        RedisFanout { hub, namespace: namespace.to_owned(), node_id, outbox }
    }
}

#[async_trait]
impl Fanout for RedisFanout {
    async fn publish(&self, event: HubEvent) {
        for piece in event.pieces() {
            let topics = piece.topics();
            let body = serde_json::to_vec(&piece).expect("events serialize");
            let mut stored = match &piece {
                HubEvent::Message { message } => Some((message.conversation_id.clone(), message.kind)),
                _ => None,
            };
            self.hub.deliver(piece);
            for (rank, topic) in topics.iter().enumerate() {
                let payload = encode(&self.node_id, rank, topics.len(), &body);
                let copy = Outgoing { channel: topic.channel(&self.namespace), payload, stored: stored.take() };
                if self.outbox.try_send(copy).is_err() {
                    metrics::counter!("natter_bus_dropped_total", "node" => self.node_id.clone()).increment(1);
                }
            }
        }
    }
}

async fn publish_loop(
    backend: Backend,
    stored_channel: String,
    node_id: String,
    mut queue: mpsc::Receiver<Outgoing>,
) {
    let mut backoff = Backoff::default();
    let published = metrics::counter!("natter_bus_published_total", "node" => node_id.clone());
    let mut conn = None;
    let mut batch = Vec::with_capacity(PIPELINE);
    loop {
        if batch.is_empty() && queue.recv_many(&mut batch, PIPELINE).await == 0 {
            return; // the fan-out is gone: the server is stopping
        }
        let connection = match &mut conn {
            Some(connection) => connection,
            None => match backend.connect().await {
                Ok(connection) => conn.insert(connection),
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff.delay(), "cannot publish to Redis");
                    backoff.wait().await;
                    continue;
                }
            },
        };
        let mut commands = Vec::with_capacity(batch.len() + 1);
        let mut stored = HashSet::new();
        for copy in &batch {
            commands.push(backend.publish(&copy.channel, &copy.payload));
            stored.extend(copy.stored.clone());
        }
        if !stored.is_empty() {
            let mut notice = format!("{node_id}\n").into_bytes();
            serde_json::to_writer(&mut notice, &stored.into_iter().collect::<Vec<_>>()).expect("ids serialize");
            commands.push(backend.publish(&stored_channel, notice));
        }
        match connection.each::<Value>(commands).await {
            Ok(_) => {
                published.increment(batch.len() as u64);
                batch.clear();
                backoff.reset();
            }
            Err(e) => {
                // The batch is sent again: a copy may arrive twice, which the
                // sessions' cursors skip for messages.
                tracing::warn!(error = %e, "publishing to Redis failed; reconnecting");
                conn = None;
                backoff.wait().await;
            }
        }
    }
}

/// What the subscriber hands its copies to.
struct Node {
    hub: Arc<Hub>,
    id: String,
    /// The channel of the stored-entry notices.
    stored: String,
}

async fn subscribe_loop(backend: Backend, namespace: String, node: Node) {
    let mut backoff = Backoff::default();
    loop {
        match backend.subscriber().await {
            Ok((sink, stream)) => {
                match follow(sink, stream, &namespace, &node, &mut backoff).await {
                    Ok(()) => tracing::warn!("lost the Redis subscription; subscribing again"),
                    Err(e) => tracing::warn!(error = %e, "cannot subscribe on Redis"),
                }
            }
            Err(e) => tracing::warn!(error = %e, retry_in = ?backoff.delay(), "cannot reach Redis"),
        }
        backoff.wait().await;
    }
}

/// Subscribes to every channel the hub needs, then hands over what arrives
/// and follows the hub's changes, until the connection ends.
async fn follow(
    sink: Subscriptions,
    mut stream: Messages,
    namespace: &str,
    node: &Node,
    backoff: &mut Backoff,
) -> redis::RedisResult<()> {
    let hub = &node.hub;
    hub.changed_topics(); // all of them are in the full list below
    let mut subscribed = HashSet::new();
    each_channel(&sink, Change::On, std::slice::from_ref(&node.stored)).await?;
    change(&sink, Change::On, &mut subscribed, hub.topics(), namespace, hub).await?;
    tracing::info!(channels = subscribed.len(), "subscribed on Redis");
    backoff.reset();
    let received = metrics::counter!("natter_bus_received_total", "node" => node.id.clone());
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(message) => {
                    if message.get_channel_name() == node.stored {
                        on_stored(node, message.get_payload_bytes());
                    } else {
                        received.increment(1);
                        on_copy(node, message.get_payload_bytes());
                    }
                }
                None => return Ok(()),
            },
            _ = hub.topics_changed() => {
                let (on, off): (Vec<_>, Vec<_>) = hub.changed_topics().into_iter().partition(|(_, needed)| *needed);
                let on = on.into_iter().map(|(t, _)| t).filter(|t| !subscribed.contains(t)).collect();
                let off = off.into_iter().map(|(t, _)| t).filter(|t| subscribed.contains(t)).collect();
                change(&sink, Change::On, &mut subscribed, on, namespace, hub).await?;
                change(&sink, Change::Off, &mut subscribed, off, namespace, hub).await?;
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Change {
    On,
    Off,
}

/// Subscribes to (or unsubscribes from) the channels of `topics`, keeping
/// `subscribed` in step and telling the hub which conversations it hears now.
async fn change(
    sink: &Subscriptions,
    change: Change,
    subscribed: &mut HashSet<Topic>,
    topics: Vec<Topic>,
    namespace: &str,
    hub: &Hub,
) -> redis::RedisResult<()> {
    if topics.is_empty() {
        return Ok(());
    }
    let channels: Vec<String> = topics.iter().map(|t| t.channel(namespace)).collect();
    each_channel(sink, change, &channels).await?;
    if let Change::Off = change {
        for topic in &topics {
            subscribed.remove(topic);
        }
        return Ok(());
    }
    let conversations = topics.iter().filter_map(|t| match t {
        Topic::Conversation(c) => Some(c.clone()),
        Topic::User(_) => None,
    });
    hub.subscribed(conversations.collect::<Vec<_>>());
    subscribed.extend(topics);
    Ok(())
}

/// One command per channel, all at once: each gets its own confirmation, so
/// when this returns Redis is sending every one of them.
async fn each_channel(sink: &Subscriptions, change: Change, channels: &[String]) -> redis::RedisResult<()> {
    try_join_all(channels.iter().map(|channel| {
        let mut sink = sink.clone();
        async move {
            match change {
                Change::On => sink.subscribe(channel).await,
                Change::Off => sink.unsubscribe(channel).await,
            }
        }
    }))
    .await
    .map(drop)
}

/// A copy's wire form: `<node> <rank> <topics>\n<event as JSON>`.
fn encode(node: &str, rank: usize, topics: usize, body: &[u8]) -> Vec<u8> {
    let mut payload = format!("{node} {rank} {topics}\n").into_bytes();
    payload.extend_from_slice(body);
    payload
}

/// A copy of an event: handed to the hub unless this node published it.
fn on_copy(node: &Node, payload: &[u8]) {
    let Some((header, body)) = split_line(payload) else { return malformed() };
    let mut fields = header.split(|b| *b == b' ');
    let (Some(from), Some(rank), Some(topics)) = (fields.next(), fields.next(), fields.next()) else {
        return malformed();
    };
    if from == node.id.as_bytes() {
        return; // delivered when published
    }
    let (Some(rank), Some(topics)) = (number(rank), number(topics)) else { return malformed() };
    match serde_json::from_slice::<HubEvent>(body) {
        Ok(event) => node.hub.deliver_via(event, rank, topics),
        Err(e) => tracing::warn!(error = %e, "ignoring a malformed event from Redis"),
    }
}

/// Another node's notice of what it stored: for the search index.
fn on_stored(node: &Node, payload: &[u8]) {
    let Some((from, body)) = split_line(payload) else { return malformed() };
    if from == node.id.as_bytes() {
        return;
    }
    match serde_json::from_slice::<Vec<(ConversationId, MessageKind)>>(body) {
        Ok(entries) => entries.iter().for_each(|(c, kind)| node.hub.stored(c, *kind)),
        Err(e) => tracing::warn!(error = %e, "ignoring a malformed notice from Redis"),
    }
}

fn split_line(payload: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = payload.iter().position(|b| *b == b'\n')?;
    Some((&payload[..at], &payload[at + 1..]))
}

fn number(field: &[u8]) -> Option<usize> {
    std::str::from_utf8(field).ok()?.parse().ok()
}

fn malformed() {
    tracing::warn!("ignoring a malformed copy from Redis");
}

/// Hands each message on `channel` to `on_message` for as long as the server
/// runs, subscribing again with backoff whenever Redis is lost.
pub async fn subscribe(backend: Backend, channel: String, mut on_message: impl FnMut(String) + Send) {
    let mut backoff = Backoff::default();
    loop {
        match backend.subscriber().await {
            Ok((mut sink, mut messages)) => match sink.subscribe(&channel).await {
                Ok(()) => {
                    tracing::info!(%channel, "subscribed on Redis");
                    backoff.reset();
                    while let Some(message) = messages.next().await {
                        if let Ok(payload) = message.get_payload::<String>() {
                            on_message(payload);
                        }
                    }
                    tracing::warn!(%channel, "lost the Redis subscription; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "cannot subscribe on Redis"),
            },
            Err(e) => tracing::warn!(error = %e, retry_in = ?backoff.delay(), "cannot reach Redis"),
        }
        backoff.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use wire::model::{Message, UserId};

    use super::*;
    use crate::hub::Next;

    fn node() -> Node {
        Node { hub: Arc::new(Hub::default()), id: "node-a".into(), stored: "ns:stored".into() }
    }

    #[test]
    fn copies_from_other_nodes_reach_the_hub_and_own_or_malformed_ones_do_not() {
        let node = node();
        let c = ConversationId::from("c");
        let (_, mailbox) = node.hub.connect(&UserId::from("b"), "d", std::slice::from_ref(&c), 1).unwrap();
        let message = Message { conversation_id: c, seq: 4, ..Default::default() };
        let body = serde_json::to_vec(&HubEvent::Message { message }).unwrap();
        on_copy(&node, &encode("node-a", 0, 1, &body));
        on_copy(&node, b"node-b 0 1 no newline");
        on_copy(&node, &encode("node-b", 0, 1, b"{not json"));
        assert!(mailbox.try_next().is_none(), "its own copy and malformed ones are dropped");
        on_copy(&node, &encode("node-b", 0, 1, &body));
        let Some(Next::Event(delivery)) = mailbox.try_next() else { panic!("the other node's copy is delivered") };
        assert!(matches!(&delivery.event, HubEvent::Message { message } if message.seq == 4));
    }

    #[test]
    fn stored_notices_of_other_nodes_reach_the_observers() {
        let node = node();
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let noted = seen.clone();
        node.hub.observe(move |c, kind| noted.lock().unwrap().push((c.clone(), kind)));
        on_stored(&node, b"node-a\n[[\"c1\",\"text\"]]");
        on_stored(&node, b"node-b\n[[\"c2\",\"edit\"]]");
        assert_eq!(*seen.lock().unwrap(), [(ConversationId::from("c2"), MessageKind::Edit)]);
    }
}
