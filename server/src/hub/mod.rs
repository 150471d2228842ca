//! The real-time hub: which websocket connections of this node receive which
//! events, and the [`Fanout`] through which every node's events reach every
//! node. One node uses [`LocalFanout`]; a cluster puts a Redis bus behind the
//! same trait, so nothing else changes.
//!
//! The bus is a wake-up signal, not the truth: the store's sequence is.
//! `crate::chat` stores a message, then publishes it through the
//! [`Fanout`]; each node's [`Hub`] routes it to its connections in that
//! conversation (`core.rs`, no I/O), and each session (`crate::session`)
//! delivers it in sequence order, filling any gap from the store.
//!
//! In a cluster a node hears only the topics its connections need
//! (`topic.rs`); what it missed of them is filled from the store by
//! `crate::chat::repair`, through [`Hub::watched`] and [`Hub::repair`].
//!
//! Each connection's [`Mailbox`] (`mailbox.rs`) is bounded; a full one skips
//! messages its session fills from the store once drained, so readers that
//! read are never dropped. While too many are behind, [`Pressure`]
//! (`pressure.rs`) holds the node's senders instead.
//!
//! The hub imports nothing of the server above it: no store, no session.

mod core;
mod delivery;
pub mod event;
mod mailbox;
mod pressure;
pub mod redis;
mod topic;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Instant,
};

use async_trait::async_trait;
use tokio::sync::{watch, Notify};
use wire::model::{ConversationId, Message, MessageKind, UserId};

use self::core::HubCore;
pub use self::{
    core::ConnId,
    delivery::Delivery,
    event::HubEvent,
    mailbox::{Mailbox, Next},
    pressure::{Pressure, HOLD_LIMIT},
    topic::Topic,
};

/// How events published on any node reach the hubs of all nodes:
/// [`LocalFanout`] for one node, [`redis::RedisFanout`] for a cluster.
#[async_trait]
pub trait Fanout: Send + Sync {
    async fn publish(&self, event: HubEvent);
}

/// The fan-out of a single node: straight into its own hub.
pub struct LocalFanout(pub Arc<Hub>);

#[async_trait]
impl Fanout for LocalFanout {
    async fn publish(&self, event: HubEvent) {
        self.0.deliver(event);
    }
}

#[derive(Default)]
struct Inner {
    core: HubCore,
    mailboxes: HashMap<ConnId, Arc<Mailbox>>,
}

/// Sees every entry stored in the cluster (see [`Hub::observe`]).
type Observer = Box<dyn Fn(&ConversationId, MessageKind) + Send + Sync>;

/// This node's connections and their mailboxes.
pub struct Hub {
    inner: Mutex<Inner>,
    closing: watch::Sender<bool>,
    observers: Mutex<Vec<Observer>>,
    /// Wakes the bus when the topics the node needs may have changed.
    topics_changed: Notify,
    /// Conversations the bus subscribed to (again) since the repairs last looked.
    subscribed: Mutex<HashSet<ConversationId>>,
    subscribed_notify: Notify,
    pressure: Arc<Pressure>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            inner: Mutex::default(),
            closing: watch::Sender::new(false),
            observers: Mutex::default(),
            topics_changed: Notify::new(),
            subscribed: Mutex::default(),
            subscribed_notify: Notify::new(),
            pressure: Arc::default(),
        }
    }
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a connection, unless `device` has `per_device` on this
    /// node already. Its mailbox closes when it disconnects, or when its
    /// reader stops (see `mailbox.rs`).
    pub fn connect(
        &self,
        user: &UserId,
        device: &str,
        conversations: &[ConversationId],
        per_device: usize,
    ) -> Option<(ConnId, Arc<Mailbox>)> {
        let mut inner = self.lock();
        if inner.core.device_connections(user, device) >= per_device {
            return None;
        }
        let mailbox = Arc::new(Mailbox::new(self.pressure.clone()));
        let id = inner.core.connect(user, device, conversations);
        inner.mailboxes.insert(id, mailbox.clone());
        self.counted(&inner);
        Some((id, mailbox))
    }

    pub fn disconnect(&self, id: ConnId) {
        let mut inner = self.lock();
        inner.core.disconnect(id);
        if let Some(mailbox) = inner.mailboxes.remove(&id) {
            mailbox.close();
        }
        self.counted(&inner);
    }

    fn counted(&self, inner: &Inner) {
        self.pressure.set_connections(inner.core.len());
        metrics::gauge!("natter_ws_connections").set(inner.core.len() as f64);
        self.topics_changed.notify_one();
    }

    /// Whether this node's readers keep up: what holds and releases sends.
    pub fn pressure(&self) -> &Arc<Pressure> {
        &self.pressure
    }

    /// Calls `observer` with the conversation and kind of every entry stored
    /// in the cluster from now on, whichever node stored it: services that
    /// follow the store without a connection (the search index). It runs on
    /// the delivering task, so it must only note the entry and return.
    pub fn observe(&self, observer: impl Fn(&ConversationId, MessageKind) + Send + Sync + 'static) {
        self.observers.lock().unwrap_or_else(|p| p.into_inner()).push(Box::new(observer));
    }

    /// Tells the observers of an entry stored (on another node: see `redis.rs`).
    pub fn stored(&self, conversation: &ConversationId, kind: MessageKind) {
        for observer in self.observers.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            observer(conversation, kind);
        }
    }

    /// Hands an event to every connection of this node it concerns.
    pub fn deliver(&self, event: HubEvent) {
        self.dispatch(Delivery::new(event), HubCore::route);
    }

    /// Hands the bus's copy of an event, which came on its topic of rank
    /// `rank` of `topics`, to the connections that copy is for.
    pub fn deliver_via(&self, event: HubEvent, rank: usize, topics: usize) {
        self.dispatch(Delivery::new(event), |core, event| core.route_via(event, rank, topics));
    }

    /// Offers a stored message again to the connections of its conversation,
    /// because the bus may have lost it or some before it: those behind fill
    /// the gap from the store, the others skip it (see `crate::chat::repair`).
    pub fn repair(&self, message: Message) {
        self.dispatch(Delivery::repair(message), HubCore::route);
    }

    fn dispatch(&self, delivery: Delivery, route: impl FnOnce(&mut HubCore, &HubEvent) -> Vec<ConnId>) {
        if let (HubEvent::Message { message }, false) = (&delivery.event, delivery.repair) {
            self.stored(&message.conversation_id, message.kind);
        }
        let mut inner = self.lock();
        let recipients = route(&mut inner.core, &delivery.event);
        if matches!(delivery.event, HubEvent::Joined { .. } | HubEvent::Left { .. }) {
            self.topics_changed.notify_one();
        }
        let delivery = Arc::new(delivery);
        let now = Instant::now();
        for id in recipients {
            let Some(mailbox) = inner.mailboxes.get(&id) else { continue };
            if !mailbox.push(&delivery, now) {
                // The reader stopped: its session ends (1013), and the client
                // catches up from its last sequence on reconnect.
                inner.mailboxes.remove(&id);
            }
        }
    }

    pub fn connections(&self) -> usize {
        self.lock().core.len()
    }

    /// Starts noting which topics the node needs, for a bus.
    pub fn track_topics(&self) {
        self.lock().core.track_topics();
    }

    /// Completes when the topics the node needs may have changed.
    pub async fn topics_changed(&self) {
        self.topics_changed.notified().await
    }

    /// The topics whose need changed since the last call, and whether each is needed now.
    pub fn changed_topics(&self) -> Vec<(Topic, bool)> {
        let mut inner = self.lock();
        let changed = inner.core.take_changed();
        changed.into_iter().map(|topic| {
            let needed = inner.core.needs(&topic);
            (topic, needed)
        }).collect()
    }

    /// Every topic the node needs now.
    pub fn topics(&self) -> Vec<Topic> {
        self.lock().core.topics()
    }

    /// The conversations this node's connections receive, and the highest
    /// seq of each the hub routed (none yet: `None`).
    pub fn watched(&self) -> Vec<(ConversationId, Option<u64>)> {
        self.lock().core.watched()
    }

    /// The bus now hears these conversations (again): what it may have
    /// missed before is for the repairs to check.
    pub fn subscribed(&self, conversations: impl IntoIterator<Item = ConversationId>) {
        self.subscribed.lock().unwrap_or_else(|p| p.into_inner()).extend(conversations);
        self.subscribed_notify.notify_one();
    }

    /// Waits for conversations the bus subscribed to, and takes them.
    pub async fn take_subscribed(&self) -> Vec<ConversationId> {
        loop {
            let taken: Vec<_> = self.subscribed.lock().unwrap_or_else(|p| p.into_inner()).drain().collect();
            if !taken.is_empty() {
                return taken;
            }
            self.subscribed_notify.notified().await;
        }
    }

    /// Tells every connection that the server is stopping.
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }

    /// Completes when [`Hub::close_all`] was called.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }
}
