//! The cluster's presence registry in Redis. Keys start with the
//! deployment's namespace (see `crate::hub::redis::namespace`):
//!
//! - `<ns>:presence:{<user>}`: a hash from node id to that node's tally of
//!   the user (`"connections:active"`); the user's cluster tally is its sum.
//! - `<ns>:viewing:{<user>}`: a hash from node id to the conversations the
//!   user's connections there have in view, space-separated; written with
//!   the tally, gone with it. A key of its own: nodes of an earlier version,
//!   which sum every field of the tallies' hash, keep working beside it.
//! - `<ns>:node:<node>:users`: the users a node has a tally for (or had:
//!   added before a tally is written, removed after it is gone, so it never
//!   misses one; it is on another slot of a Redis Cluster than the user's
//!   keys, which carry the user as hash tag so that one script may hold both).
//! - `<ns>:node:<node>:alive`: the node's heartbeat, renewed every third of
//!   its time to live.
//! - `<ns>:nodes`: every node that ever recorded anything.
//!
//! A node whose heartbeat ran out crashed or lost Redis: the first node to
//! notice takes a short lock and removes the dead node's tallies, so its users
//! turn offline within the time to live plus one upkeep period. A node that
//! starts clears what its earlier run left behind in the same way. Changes
//! are made by one script each, so concurrent nodes never see half of one.

use std::{
    collections::{HashMap, HashSet},
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use async_trait::async_trait;
use redis::Script;
use wire::model::{ConversationId, UserId};

use super::{
    registry::{Registry, Transition, Unavailable},
    tally::Tally,
};
use crate::redis_conn::{Backend, SharedConnection};


/// Sets (or with 0 connections removes) one node's tally of a user and the
/// conversations in view there; returns the user's summed tally before and after.
const RECORD: &str = r#"
local function sum()
  local c, a = 0, 0
  for _, v in ipairs(redis.call('HVALS', KEYS[1])) do
    local i = string.find(v, ':')
    c = c + tonumber(string.sub(v, 1, i - 1))
    a = a + tonumber(string.sub(v, i + 1))
  end
  return c, a
end
local c0, a0 = sum()
if tonumber(ARGV[2]) > 0 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3])
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
if tonumber(ARGV[2]) > 0 and ARGV[4] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
else
  redis.call('HDEL', KEYS[2], ARGV[1])
end
local c1, a1 = sum()
return {c0, a0, c1, a1}
"#;

pub struct RedisRegistry {
    conn: SharedConnection,
    namespace: String,
    node: String,
    ttl: Duration,
    record: Script,
    /// Whether this run's first upkeep (which clears the earlier run's state) is done.
    started: AtomicBool,
}

fn parse(value: &str) -> Tally {
    let mut parts = value.split(':').map(|n| n.parse().unwrap_or(0));
    Tally { connections: parts.next().unwrap_or(0), active: parts.next().unwrap_or(0) }
}

impl RedisRegistry {
    /// `ttl`: how long a node's heartbeat lasts; upkeep must run every `ttl / 3`.
    pub fn new(backend: Backend, namespace: String, node: String, ttl: Duration) -> RedisRegistry {
        RedisRegistry {
            conn: SharedConnection::new(backend),
            namespace,
            node,
            ttl,
            record: Script::new(RECORD),
            started: AtomicBool::new(false),
        }
    }

    fn nodes_key(&self) -> String {
        format!("{}:nodes", self.namespace)
    }

    fn user_key(&self, user: &str) -> String {
        format!("{}:presence:{{{user}}}", self.namespace)
    }

    fn viewing_key(&self, user: &str) -> String {
        format!("{}:viewing:{{{user}}}", self.namespace)
    }

    fn node_key(&self, node: &str, what: &str) -> String {
        format!("{}:node:{node}:{what}", self.namespace)
    }

    async fn set(
        &self,
        node: &str,
        user: &UserId,
        tally: Tally,
        viewing: &[ConversationId],
    ) -> Result<Transition, Unavailable> {
        let viewing: Vec<&str> = viewing.iter().map(|c| c.0.as_str()).collect();
        let viewing = viewing.join(" ");
        let connected = tally.connections > 0;
        if connected {
            self.node_users(node, "SADD", user).await?;
        }
        let sums: Vec<u32> = self
            .conn
            .query(|mut c| async move {
                self.record
                    .key(self.user_key(&user.0))
                    .key(self.viewing_key(&user.0))
                    .arg(node)
                    .arg(tally.connections)
                    .arg(tally.active)
                    .arg(&viewing)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        if !connected {
            self.node_users(node, "SREM", user).await?;
        }
        let [c0, a0, c1, a1] = sums[..] else {
            return Err(Unavailable(format!("unexpected answer from the presence script: {sums:?}")));
        };
        Ok(Transition {
            user: user.clone(),
            before: Tally { connections: c0, active: a0 },
            after: Tally { connections: c1, active: a1 },
        })
    }

    /// Adds `user` to (`SADD`) or removes it from (`SREM`) the users `node` has a tally for.
    async fn node_users(&self, node: &str, change: &str, user: &UserId) -> Result<(), Unavailable> {
        let key = self.node_key(node, "users");
        self.conn.query(|mut c| async move { redis::cmd(change).arg(key).arg(&user.0).query_async::<i64>(&mut c).await })
            .await
            .map(drop)
    }

    /// Every node's field of the hash `key` gives for each of `users`.
    async fn fields(
        &self,
        users: &[UserId],
        key: impl Fn(&str) -> String,
    ) -> Result<Vec<Vec<String>>, Unavailable> {
        let commands = users.iter().map(|user| redis::cmd("HVALS").arg(key(&user.0)).clone()).collect();
        self.conn.query(|mut c| async move { c.each(commands).await }).await
    }

    /// Removes every tally `node` holds; answers the transitions.
    async fn clear(&self, node: &str) -> Result<Vec<Transition>, Unavailable> {
        let users: Vec<String> = self
            .conn
            .query(|mut c| async move { redis::cmd("SMEMBERS").arg(self.node_key(node, "users")).query_async(&mut c).await })
            .await?;
        let mut transitions = Vec::new();
        for user in users {
            transitions.push(self.set(node, &UserId(user), Tally::default(), &[]).await?);
        }
        Ok(transitions)
    }

    /// Clears the nodes whose heartbeat ran out, each by one node only.
    async fn reap(&self) -> Result<Vec<Transition>, Unavailable> {
        let nodes: Vec<String> =
            self.conn.query(|mut c| async move { redis::cmd("SMEMBERS").arg(self.nodes_key()).query_async(&mut c).await }).await?;
        let mut transitions = Vec::new();
        for node in nodes.into_iter().filter(|n| *n != self.node) {
            let claimed: Option<String> = self
                .conn
                .query(|mut c| {
                    let node = node.clone();
                    async move {
                        let alive: bool = redis::cmd("EXISTS").arg(self.node_key(&node, "alive")).query_async(&mut c).await?;
                        if alive {
                            return Ok(None);
                        }
                        redis::cmd("SET")
                            .arg(self.node_key(&node, "reaper"))
                            .arg(&self.node)
                            .arg("NX")
                            .arg("PX")
                            .arg(self.ttl.as_millis() as u64)
                            .query_async(&mut c)
                            .await
                    }
                })
                .await?;
            if claimed.is_some() {
                tracing::info!(%node, "a node's heartbeat ran out: its users' connections are gone");
                transitions.extend(self.clear(&node).await?);
                let node = node.clone();
                self.conn.query(|mut c| async move { redis::cmd("SREM").arg(self.nodes_key()).arg(node).query_async::<i64>(&mut c).await })
                    .await?;
            }
        }
        Ok(transitions)
    }
}

#[async_trait]
impl Registry for RedisRegistry {
    async fn record(&self, user: &UserId, node: Tally, viewing: &[ConversationId]) -> Result<Transition, Unavailable> {
        self.set(&self.node, user, node, viewing).await
    }

    async fn tallies(&self, users: &[UserId]) -> Result<HashMap<UserId, Tally>, Unavailable> {
        let values = self.fields(users, |u| self.user_key(u)).await?;
        Ok(users
            .iter()
            .zip(values)
            .map(|(user, values)| (user.clone(), Tally::sum(values.iter().map(|v| parse(v)))))
            .filter(|(_, tally)| tally.connected())
            .collect())
    }

    async fn viewers(&self, users: &[UserId], conversation: &ConversationId) -> Result<HashSet<UserId>, Unavailable> {
        let values = self.fields(users, |u| self.viewing_key(u)).await?;
        let viewing = |values: &Vec<String>| values.iter().any(|v| v.split(' ').any(|c| c == conversation.0));
        Ok(users.iter().zip(values).filter(|(_, values)| viewing(values)).map(|(user, _)| user.clone()).collect())
    }

    async fn upkeep(&self) -> Result<Vec<Transition>, Unavailable> {
        let mut transitions = Vec::new();
        if !self.started.load(Ordering::Acquire) {
            transitions.extend(self.clear(&self.node).await?);
            self.started.store(true, Ordering::Release);
        }
        let (node, ttl) = (self.node.clone(), self.ttl.as_millis() as u64);
        let commands = vec![
            redis::cmd("SET").arg(self.node_key(&node, "alive")).arg(1).arg("PX").arg(ttl).clone(),
            redis::cmd("SADD").arg(self.nodes_key()).arg(&node).clone(),
        ];
        self.conn.query(|mut c| async move { c.each::<redis::Value>(commands).await }).await?;
        transitions.extend(self.reap().await?);
        Ok(transitions)
    }
}
