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

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Instant,
};

use async_trait::async_trait;
use tokio::sync::watch;
use wire::model::{ConversationId, UserId};

use self::core::HubCore;
pub use self::{
    core::ConnId,
    delivery::Delivery,
    event::HubEvent,
    mailbox::{Mailbox, Next},
    pressure::Pressure,
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

/// Sees every event a hub delivers (see [`Hub::observe`]).
type Observer = Box<dyn Fn(&HubEvent) + Send + Sync>;

/// This node's connections and their mailboxes.
pub struct Hub {
    inner: Mutex<Inner>,
    closing: watch::Sender<bool>,
    observers: Mutex<Vec<Observer>>,
    pressure: Arc<Pressure>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            inner: Mutex::default(),
            closing: watch::Sender::new(false),
            observers: Mutex::default(),
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
    }

    /// Whether this node's readers keep up: what holds and releases sends.
    pub fn pressure(&self) -> &Arc<Pressure> {
        &self.pressure
    }

    /// Calls `observer` with every event this hub delivers from now on,
    /// whichever node published it: services that follow the cluster's
    /// events without a connection (the search index). It runs on the
    /// delivering task, so it must only note the event and return.
    pub fn observe(&self, observer: impl Fn(&HubEvent) + Send + Sync + 'static) {
        self.observers.lock().unwrap_or_else(|p| p.into_inner()).push(Box::new(observer));
    }

    /// Hands an event to every connection of this node it concerns.
    pub fn deliver(&self, event: HubEvent) {
        for observer in self.observers.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            observer(&event);
        }
        let mut inner = self.lock();
        let recipients = inner.core.route(&event);
        let delivery = Arc::new(Delivery::new(event));
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

    /// Tells every connection that the server is stopping.
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }

    /// Completes when [`Hub::close_all`] was called.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }
}
