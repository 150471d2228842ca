//! Leases: keys set only if absent, each with a time to live. When two
//! nodes race (two tabs accepting a call at once, two nodes starting the
//! same room), exactly one claim wins, without a lock or a leader; a key
//! that is not renewed lapses, so a crashed node's claims free themselves.
//!
//! One node keeps them in memory ([`LocalLeases`]); a cluster keeps them in
//! Redis ([`redis::RedisLeases`]) with `SET NX PX`, atomic across nodes.
//! 1:1 calls (`crate::calls`) keep their state here under `<ns>:call:`, and
//! rooms (`crate::sfu::hosts`) which node hosts each under `<ns>:room:`.

pub mod redis;

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;

pub use crate::redis_conn::Unavailable;

#[async_trait]
pub trait Leases: Send + Sync {
    /// Sets `key` to `value` unless it holds something: answers what it
    /// holds afterwards, which is `value` when this call set it.
    async fn claim(&self, key: &str, value: &str, ttl: Duration) -> Result<String, Unavailable>;

    async fn get(&self, key: &str) -> Result<Option<String>, Unavailable>;

    /// The values of `keys`, in their order.
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, Unavailable>;

    /// Sets `key` to `value`, whatever it held.
    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), Unavailable>;

    /// Gives those of `keys` that exist a new time to live.
    async fn keep(&self, keys: &[String], ttl: Duration) -> Result<(), Unavailable>;

    /// Removes `key` if it holds `value`.
    async fn release(&self, key: &str, value: &str) -> Result<(), Unavailable>;

    async fn remove(&self, keys: &[String]) -> Result<(), Unavailable>;
}

/// The registry of a single node.
#[derive(Default)]
pub struct LocalLeases(Mutex<HashMap<String, (String, Instant)>>);

impl LocalLeases {
    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        let mut keys = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        keys.retain(|_, (_, expires)| *expires > now);
        keys
    }
}

#[async_trait]
impl Leases for LocalLeases {
    async fn claim(&self, key: &str, value: &str, ttl: Duration) -> Result<String, Unavailable> {
        let mut keys = self.live();
        let held = keys.entry(key.to_owned()).or_insert_with(|| (value.to_owned(), Instant::now() + ttl));
        Ok(held.0.clone())
    }

    async fn get(&self, key: &str) -> Result<Option<String>, Unavailable> {
        Ok(self.live().get(key).map(|(v, _)| v.clone()))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, Unavailable> {
        let held = self.live();
        Ok(keys.iter().map(|k| held.get(k).map(|(v, _)| v.clone())).collect())
    }

    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), Unavailable> {
        self.live().insert(key.to_owned(), (value.to_owned(), Instant::now() + ttl));
        Ok(())
    }

    async fn keep(&self, keys: &[String], ttl: Duration) -> Result<(), Unavailable> {
        let mut held = self.live();
        for key in keys {
            if let Some((_, expires)) = held.get_mut(key) {
                *expires = Instant::now() + ttl;
            }
        }
        Ok(())
    }

    async fn release(&self, key: &str, value: &str) -> Result<(), Unavailable> {
        let mut keys = self.live();
        if keys.get(key).is_some_and(|(v, _)| v == value) {
            keys.remove(key);
        }
        Ok(())
    }

    async fn remove(&self, keys: &[String]) -> Result<(), Unavailable> {
        let mut held = self.live();
        for key in keys {
            held.remove(key);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(60);
    const SHORT: Duration = Duration::from_millis(30);

    #[tokio::test]
    async fn the_first_claim_wins_until_released_or_expired() {
        let r = LocalLeases::default();
        assert_eq!(r.claim("k", "a", TTL).await.unwrap(), "a");
        assert_eq!(r.claim("k", "b", TTL).await.unwrap(), "a");
        r.release("k", "b").await.unwrap();
        assert_eq!(r.get("k").await.unwrap().as_deref(), Some("a"), "only the holder releases");
        r.release("k", "a").await.unwrap();
        assert_eq!(r.claim("k", "b", SHORT).await.unwrap(), "b");
        tokio::time::sleep(SHORT * 2).await;
        assert_eq!(r.get("k").await.unwrap(), None, "expired");
        r.put("k", "c", SHORT).await.unwrap();
        r.keep(&["k".to_owned(), "absent".to_owned()], TTL).await.unwrap();
        tokio::time::sleep(SHORT * 2).await;
        assert_eq!(r.get("k").await.unwrap().as_deref(), Some("c"), "kept");
        assert_eq!(r.get_many(&["absent".to_owned(), "k".to_owned()]).await.unwrap(), vec![None, Some("c".to_owned())]);
        r.remove(&["k".to_owned()]).await.unwrap();
        assert!(r.live().is_empty());
    }
}
