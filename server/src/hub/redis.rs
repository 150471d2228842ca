//! Fan-out across server nodes through Redis pub/sub.
//!
//! Every event goes to this node's hub at once, so a node keeps serving its
//! own users whatever Redis does, and is queued for the other nodes. A
//! background task publishes the queue and another subscribes; both reconnect
//! with backoff. Durability stays in the store: a message event lost while
//! Redis is away heals when the client's next message shows the gap, or when
//! it reconnects and resumes.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::{event::HubEvent, Fanout, Hub};
use crate::backoff::Backoff;

/// The prefix of every Redis key and channel of a deployment: its database
/// name, so that deployments (and test runs) sharing one Redis never mix.
pub fn namespace(database: &str) -> String {
    format!("natter:{database}")
}
/// Events waiting for Redis beyond this are dropped (and healed by resume).
const QUEUE: usize = 10_000;

/// What travels on the channel: the event and the node it came from.
#[derive(Serialize, Deserialize)]
struct Envelope {
    node: String,
    event: HubEvent,
}

pub struct RedisFanout {
    hub: Arc<Hub>,
    node_id: String,
    outbox: mpsc::Sender<String>,
}

impl RedisFanout {
    /// Starts the publishing and subscribing tasks on the deployment's channel.
    pub fn start(client: redis::Client, namespace: &str, hub: Arc<Hub>, node_id: String) -> RedisFanout {
        let (outbox, queue) = mpsc::channel(QUEUE);
        let channel = format!("{namespace}:events");
        tokio::spawn(publish_loop(client.clone(), channel.clone(), queue));
        tokio::spawn(subscribe_loop(client, channel, hub.clone(), node_id.clone()));
        RedisFanout { hub, node_id, outbox }
    }
}

#[async_trait]
impl Fanout for RedisFanout {
    async fn publish(&self, event: HubEvent) {
        let envelope = Envelope { node: self.node_id.clone(), event };
        let payload = serde_json::to_string(&envelope).expect("events serialize");
        self.hub.deliver(envelope.event);
        if self.outbox.try_send(payload).is_err() {
            metrics::counter!("natter_bus_dropped_total").increment(1);
        }
    }
}

async fn publish_loop(client: redis::Client, channel: String, mut queue: mpsc::Receiver<String>) {
    let mut backoff = Backoff::default();
    let mut pending: Option<String> = None;
    loop {
        let mut conn = match client.get_multiplexed_async_connection().await {
            Ok(conn) => {
                backoff.reset();
                conn
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff.delay(), "cannot publish to Redis");
                backoff.wait().await;
                continue;
            }
        };
        loop {
            let payload = match pending.take() {
                Some(payload) => payload,
                None => match queue.recv().await {
                    Some(payload) => payload,
                    None => return, // the fan-out is gone: the server is stopping
                },
            };
            if let Err(e) = redis::cmd("PUBLISH").arg(&channel).arg(&payload).query_async::<i64>(&mut conn).await {
                tracing::warn!(error = %e, "publishing to Redis failed; reconnecting");
                pending = Some(payload);
                break;
            }
        }
    }
}

async fn subscribe_loop(client: redis::Client, channel: String, hub: Arc<Hub>, node_id: String) {
    subscribe(client, channel, move |payload| match serde_json::from_str::<Envelope>(&payload) {
        Ok(envelope) if envelope.node != node_id => hub.deliver(envelope.event),
        Ok(_) => {} // our own, delivered when published
        Err(e) => tracing::warn!(error = %e, "ignoring a malformed event from Redis"),
    })
    .await
}

/// Hands each message on `channel` to `on_message` for as long as the server
/// runs, subscribing again with backoff whenever Redis is lost.
pub async fn subscribe(client: redis::Client, channel: String, mut on_message: impl FnMut(String) + Send) {
    let mut backoff = Backoff::default();
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    tracing::info!(%channel, "subscribed on Redis");
                    backoff.reset();
                    let mut messages = pubsub.on_message();
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
