//! Keeps track of whether the store answers, for `/readyz`.
//!
//! A supervisor task prepares the store (indexes, migrations) and then pings
//! it periodically. While the store is down it retries with exponential
//! backoff and logs why; it never gives up and never takes the server down.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use tokio::sync::watch;

use super::DynStore;
use crate::backoff::Backoff;

/// Time between pings while the store is healthy.
const CHECK_EVERY: Duration = Duration::from_secs(2);
/// First and largest wait between attempts while it is not.

/// What the supervisor last saw; cheap to read on every `/readyz`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StoreStatus {
    #[default]
    Starting,
    Ready,
    /// The store did not answer; the reason, for `/readyz` and the log.
    Down(String),
}

#[derive(Clone, Default)]
pub struct StoreHealth(Arc<RwLock<StoreStatus>>);

impl StoreHealth {
    pub fn status(&self) -> StoreStatus {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, status: StoreStatus) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = status;
    }
}

/// Runs until `shutdown` turns true.
pub async fn supervise(store: DynStore, health: StoreHealth, mut shutdown: watch::Receiver<bool>) {
    let mut prepared = false;
    let mut backoff = Backoff::default();
    loop {
        let result = match prepared {
            false => store.prepare().await.map(|()| prepared = true),
            true => store.ping().await,
        };
        let wait = match result {
            Ok(()) => {
                if health.status() != StoreStatus::Ready {
                    tracing::info!(store = store.kind(), "store is ready");
                }
                health.set(StoreStatus::Ready);
                backoff.reset();
                CHECK_EVERY
            }
            Err(e) => {
                let reason = e.to_string();
                if health.status() != StoreStatus::Down(reason.clone()) {
                    tracing::warn!(store = store.kind(), error = %reason, retry_in = ?backoff.delay(), "store is not reachable");
                }
                health.set(StoreStatus::Down(reason));
                backoff.take()
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
    }
}
