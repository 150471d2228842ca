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
//! The hub imports nothing of the server above it: no store, no session.

mod core;
mod delivery;
pub mod event;
pub mod redis;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use tokio::sync::{mpsc, watch};
use wire::model::{ConversationId, UserId};

pub use self::{core::ConnId, delivery::Delivery, event::HubEvent};
use self::core::HubCore;

/// Events a connection may have queued before it counts as too slow; a
/// connection that falls this far behind is closed and resumes on reconnect.
const MAILBOX: usize = 1024;

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
    mailboxes: HashMap<ConnId, mpsc::Sender<Arc<Delivery>>>,
}

/// Sees every event a hub delivers (see [`Hub::observe`]).
type Observer = Box<dyn Fn(&HubEvent) + Send + Sync>;

/// This node's connections and their mailboxes.
pub struct Hub {
    inner: Mutex<Inner>,
    closing: watch::Sender<bool>,
    observers: Mutex<Vec<Observer>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub { inner: Mutex::default(), closing: watch::Sender::new(false), observers: Mutex::default() }
    }
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a connection, unless `device` has `per_device` on this
    /// node already; its mailbox ends when the hub drops it.
    pub fn connect(
        &self,
        user: &UserId,
        device: &str,
        conversations: &[ConversationId],
        per_device: usize,
    ) -> Option<(ConnId, mpsc::Receiver<Arc<Delivery>>)> {
        let mut inner = self.lock();
        if inner.core.device_connections(user, device) >= per_device {
            return None;
        }
        let (tx, rx) = mpsc::channel(MAILBOX);
        let id = inner.core.connect(user, device, conversations);
        inner.mailboxes.insert(id, tx);
        metrics::gauge!("natter_ws_connections").set(inner.core.len() as f64);
        Some((id, rx))
    }

    pub fn disconnect(&self, id: ConnId) {
        let mut inner = self.lock();
        inner.core.disconnect(id);
        inner.mailboxes.remove(&id);
        metrics::gauge!("natter_ws_connections").set(inner.core.len() as f64);
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
        for id in recipients {
            let Some(mailbox) = inner.mailboxes.get(&id) else { continue };
            if mailbox.try_send(delivery.clone()).is_err() {
                // Too slow (or gone): dropping its mailbox ends the connection,
                // and the client catches up from its last sequence on reconnect.
                inner.mailboxes.remove(&id);
                metrics::counter!("natter_ws_dropped_slow_total").increment(1);
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
