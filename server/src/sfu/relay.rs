//! Room signalling between the nodes of a cluster: what a connection asks of
//! a room hosted on another node goes to that node, and what the host has
//! for the connection comes back, each addressed to one node. One node
//! never relays (it hosts every room); [`LocalRelay`] hands anything sent
//! back to itself. A cluster uses [`RedisRelay`]: one pub/sub channel per
//! node, `<ns>:node:<node id>`.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use wire::{
    model::{ConversationId, UserId},
    protocol::ServerFrame,
    room::RoomRole,
};

use super::{rooms::RoomKey, RoomError};
use crate::{
    hub::ConnId,
    redis_conn::{Backend, SharedConnection},
};

/// A websocket connection anywhere in the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tab {
    pub node: String,
    pub conn: ConnId,
}

/// What nodes tell each other about rooms.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Relayed {
    // To the hosting node, from a participant's node; each request is answered with a `Reply`.
    Join { request: u64, from: Tab, key: RoomKey, user: UserId, role: RoomRole, video: bool, offer: String },
    Answer { request: u64, from: Tab, key: RoomKey, answer: String },
    Leave { request: u64, from: Tab, key: RoomKey },
    /// The connection closed.
    Gone { from: Tab },
    /// The user is no longer a member of the conversation.
    CutOff { conversation: ConversationId, user: UserId },
    // Back to the participant's node.
    /// How a request went: the SDP answer of a join, empty for the others.
    Reply { request: u64, result: Result<String, RoomError> },
    /// A frame for one connection (offers, leaving).
    Frame { conn: ConnId, frame: ServerFrame },
}

/// How room messages reach a node.
#[async_trait]
pub trait Relay: Send + Sync {
    async fn send(&self, node: &str, message: Relayed);
}

/// The relay of a single node: whatever it sends comes back to itself.
pub struct LocalRelay(pub mpsc::UnboundedSender<Relayed>);

#[async_trait]
impl Relay for LocalRelay {
    async fn send(&self, _node: &str, message: Relayed) {
        let _ = self.0.send(message);
    }
}

/// The relay of a cluster node: publishes to the addressed node's channel
/// and hands what arrives on its own to the node's inbox.
pub struct RedisRelay {
    conn: SharedConnection,
    namespace: String,
}

fn channel(namespace: &str, node: &str) -> String {
    format!("{namespace}:node:{node}")
}

impl RedisRelay {
    /// Subscribes to this node's channel; messages arriving go to `inbox`.
    pub fn start(backend: Backend, namespace: &str, node: &str, inbox: mpsc::UnboundedSender<Relayed>) -> Arc<RedisRelay> {
        let own = channel(namespace, node);
        tokio::spawn(crate::hub::redis::subscribe(backend.clone(), own, move |payload| {
            match serde_json::from_str::<Relayed>(&payload) {
                Ok(message) => drop(inbox.send(message)),
                Err(e) => tracing::warn!(error = %e, "ignoring a malformed room message from Redis"),
            }
        }));
        Arc::new(RedisRelay { conn: SharedConnection::new(backend), namespace: namespace.to_owned() })
    }
}

#[async_trait]
impl Relay for RedisRelay {
    async fn send(&self, node: &str, message: Relayed) {
        let payload = serde_json::to_string(&message).expect("room messages serialize");
        let to = channel(&self.namespace, node);
        let publish = self.conn.backend().publish(&to, payload);
        let sent = self.conn.run(|mut c| async move { publish.query_async::<i64>(&mut c).await }).await;
        if let Err(e) = sent {
            // The request times out, or the frame is lost like a dropped datagram.
            tracing::warn!(error = %e, node, "cannot relay a room message");
        }
    }
}
