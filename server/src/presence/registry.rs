//! Where the nodes' tallies meet. One node keeps them in memory
//! ([`LocalRegistry`]); a cluster keeps them in Redis
//! ([`super::redis::RedisRegistry`]), where a node that stops renewing its
//! heartbeat has its users' connections taken away by the others.

use std::{
    collections::HashMap,
    sync::Mutex,
};

use async_trait::async_trait;
use wire::model::UserId;

use super::tally::Tally;

/// A user's cluster-wide tally before and after something changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub user: UserId,
    pub before: Tally,
    pub after: Tally,
}

pub use crate::redis_conn::Unavailable;

#[async_trait]
pub trait Registry: Send + Sync {
    /// Records this node's tally of `user`; answers with the cluster's.
    async fn record(&self, user: &UserId, node: Tally) -> Result<Transition, Unavailable>;

    /// The cluster-wide tallies of `users` (absent: not connected).
    async fn tallies(&self, users: &[UserId]) -> Result<HashMap<UserId, Tally>, Unavailable>;

    /// Periodic upkeep: renews this node's heartbeat and takes the
    /// connections of nodes whose heartbeat ran out away; answers the
    /// transitions that caused. On the first call it also clears what an
    /// earlier run of this node left behind.
    async fn upkeep(&self) -> Result<Vec<Transition>, Unavailable>;
}

/// The registry of a single node: its own tallies are the cluster's.
#[derive(Default)]
pub struct LocalRegistry(Mutex<HashMap<UserId, Tally>>);

#[async_trait]
impl Registry for LocalRegistry {
    async fn record(&self, user: &UserId, node: Tally) -> Result<Transition, Unavailable> {
        let mut tallies = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let before = if node.connected() { tallies.insert(user.clone(), node) } else { tallies.remove(user) };
        Ok(Transition { user: user.clone(), before: before.unwrap_or_default(), after: node })
    }

    async fn tallies(&self, users: &[UserId]) -> Result<HashMap<UserId, Tally>, Unavailable> {
        let tallies = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Ok(users.iter().filter_map(|u| tallies.get(u).map(|t| (u.clone(), *t))).collect())
    }

    async fn upkeep(&self) -> Result<Vec<Transition>, Unavailable> {
        Ok(Vec::new())
    }
}
