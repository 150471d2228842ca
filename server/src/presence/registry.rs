//! Where the nodes' tallies meet. One node keeps them in memory
//! ([`LocalRegistry`]); a cluster keeps them in Redis
//! ([`super::redis::RedisRegistry`]), where a node that stops renewing its
//! heartbeat has its users' connections taken away by the others.

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
};

use async_trait::async_trait;
use wire::model::{ConversationId, UserId};

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
    /// Records this node's tally of `user` and the conversations its
    /// connections have in view (one entry per connection); answers with
    /// the cluster's tally.
    async fn record(&self, user: &UserId, node: Tally, viewing: &[ConversationId]) -> Result<Transition, Unavailable>;

    /// The cluster-wide tallies of `users` (absent: not connected).
    async fn tallies(&self, users: &[UserId]) -> Result<HashMap<UserId, Tally>, Unavailable>;

    /// Those of `users` with a connection, on any node, that has `conversation` in view.
    async fn viewers(&self, users: &[UserId], conversation: &ConversationId) -> Result<HashSet<UserId>, Unavailable>;

    /// Periodic upkeep: renews this node's heartbeat and takes the
    /// connections of nodes whose heartbeat ran out away; answers the
    /// transitions that caused. On the first call it also clears what an
    /// earlier run of this node left behind.
    async fn upkeep(&self) -> Result<Vec<Transition>, Unavailable>;
}

/// The registry of a single node: its own tallies are the cluster's.
#[derive(Default)]
pub struct LocalRegistry(Mutex<HashMap<UserId, (Tally, Vec<ConversationId>)>>);

#[async_trait]
impl Registry for LocalRegistry {
    async fn record(&self, user: &UserId, node: Tally, viewing: &[ConversationId]) -> Result<Transition, Unavailable> {
        let mut tallies = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let before = match node.connected() {
            true => tallies.insert(user.clone(), (node, viewing.to_vec())),
            false => tallies.remove(user),
        };
        Ok(Transition { user: user.clone(), before: before.map(|(t, _)| t).unwrap_or_default(), after: node })
    }

    async fn tallies(&self, users: &[UserId]) -> Result<HashMap<UserId, Tally>, Unavailable> {
        let tallies = self.0.lock().unwrap_or_else(|p| p.into_inner());
        Ok(users.iter().filter_map(|u| tallies.get(u).map(|(t, _)| (u.clone(), *t))).collect())
    }

    async fn viewers(&self, users: &[UserId], conversation: &ConversationId) -> Result<HashSet<UserId>, Unavailable> {
        let tallies = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let viewing = |u: &&UserId| tallies.get(*u).is_some_and(|(_, v)| v.contains(conversation));
        Ok(users.iter().filter(viewing).cloned().collect())
    }

    async fn upkeep(&self) -> Result<Vec<Transition>, Unavailable> {
        Ok(Vec::new())
    }
}
