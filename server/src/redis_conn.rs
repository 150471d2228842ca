//! What the nodes of a cluster share state through: one Redis, or a Redis
//! Cluster ([`Backend`]), behind one connection type ([`Conn`]) so that every
//! part of the server (presence, calls, rate limits, the bus) runs on either.
//!
//! On a Redis Cluster the keys one script or command touches must share a
//! slot, so such keys carry a hash tag (`<ns>:presence:{<user>}`); commands
//! of different slots cannot share a pipeline, so [`Conn::each`] sends them
//! side by side on the multiplexed connection instead (still one round trip
//! per batch, not per command). Pub/sub is sharded there (`SPUBLISH`,
//! `SSUBSCRIBE`): a channel lives on the shard of its slot, so the bus's load
//! spreads over the masters like the keys'.
//!
//! [`SharedConnection`] is one connection shared by a part of the server:
//! opened on first use, dropped after a failure and opened again by the next
//! call, with short timeouts so that a dead Redis never stalls a request.

use std::{future::Future, time::Duration};

use futures_util::{future::try_join_all, StreamExt};
use redis::{
    aio::{ConnectionLike, MultiplexedConnection, PubSubSink, PubSubStream},
    cluster::ClusterClientBuilder,
    cluster_async::ClusterConnection,
    AsyncConnectionConfig, Cmd, FromRedisValue, Msg, Pipeline, PushKind, RedisError, RedisFuture, RedisResult, Value,
};
use tokio::sync::{mpsc, Mutex};

const TIMEOUT: Duration = Duration::from_secs(2);

/// A registry (calls, rooms, presence) could not reach the state the nodes
/// share; the single-node registries, in memory, never fail.
#[derive(Debug, thiserror::Error)]
#[error("registry unavailable: {0}")]
pub struct Unavailable(pub String);

/// Where a cluster's nodes meet.
#[derive(Clone)]
pub enum Backend {
    Single(redis::Client),
    /// The `redis://host:port` of some of the cluster's nodes; the rest are found from them.
    Cluster(Vec<String>),
}

impl Backend {
    /// `url` for one Redis, or `nodes` (`host:port`, at least one) for a Redis Cluster.
    pub fn open(url: Option<&str>, nodes: &[String]) -> RedisResult<Option<Backend>> {
        if let Some(url) = url {
            return redis::Client::open(url).map(|c| Some(Backend::Single(c)));
        }
        if nodes.is_empty() {
            return Ok(None);
        }
        let urls: Vec<String> = nodes.iter().map(|n| format!("redis://{n}/")).collect();
        ClusterClientBuilder::new(urls.clone()).build()?; // checks the addresses
        Ok(Some(Backend::Cluster(urls)))
    }

    /// A connection for commands, with short timeouts.
    pub async fn connect(&self) -> RedisResult<Conn> {
        match self {
            Backend::Single(client) => {
                let config =
                    AsyncConnectionConfig::new().set_connection_timeout(TIMEOUT).set_response_timeout(TIMEOUT);
                Ok(Conn::Single(client.get_multiplexed_async_connection_with_config(&config).await?))
            }
            Backend::Cluster(urls) => {
                let client = ClusterClientBuilder::new(urls.clone())
                    .connection_timeout(TIMEOUT)
                    .response_timeout(TIMEOUT)
                    .build()?;
                Ok(Conn::Cluster(client.get_async_connection().await?))
            }
        }
    }

    /// The command that publishes on a channel: sharded on a cluster.
    pub fn publish(&self, channel: &str, payload: impl redis::ToRedisArgs) -> Cmd {
        let name = match self {
            Backend::Single(_) => "PUBLISH",
            Backend::Cluster(_) => "SPUBLISH",
        };
        let mut cmd = redis::cmd(name);
        cmd.arg(channel).arg(payload);
        cmd
    }

    /// A subscription of its own (pub/sub needs a connection apart).
    pub async fn subscriber(&self) -> RedisResult<(Subscriptions, Messages)> {
        match self {
            Backend::Single(client) => {
                let (sink, stream) = client.get_async_pubsub().await?.split();
                Ok((Subscriptions::Single(sink), Messages::Single(stream)))
            }
            Backend::Cluster(urls) => {
                let (pushes, received) = mpsc::unbounded_channel();
                let client = ClusterClientBuilder::new(urls.clone())
                    .use_protocol(redis::ProtocolVersion::RESP3)
                    .push_sender(pushes)
                    .connection_timeout(TIMEOUT)
                    .response_timeout(TIMEOUT)
                    .build()?;
                let conn = client.get_async_connection().await?;
                Ok((Subscriptions::Cluster(conn), Messages::Cluster(received)))
            }
        }
    }
}

/// A connection to one Redis or to a cluster.
#[derive(Clone)]
pub enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Conn {
    /// Runs `commands` with one round trip: one pipeline on one Redis, side
    /// by side on a cluster (where a pipeline must stay in one slot).
    pub async fn each<T: FromRedisValue>(&mut self, commands: Vec<Cmd>) -> RedisResult<Vec<T>> {
        match self {
            Conn::Single(conn) => {
                let mut pipe = Pipeline::with_capacity(commands.len());
                for cmd in commands {
                    pipe.add_command(cmd);
                }
                pipe.query_async(conn).await
            }
            Conn::Cluster(conn) => {
                try_join_all(commands.iter().map(|cmd| {
                    let mut conn = conn.clone();
                    async move { cmd.query_async::<T>(&mut conn).await }
                }))
                .await
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(&'a mut self, cmd: &'a Pipeline, offset: usize, count: usize) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// The side of a subscription that changes which channels it hears.
#[derive(Clone)]
pub enum Subscriptions {
    Single(PubSubSink),
    Cluster(ClusterConnection),
}

impl Subscriptions {
    /// Each command confirms before it returns, so Redis is sending what follows.
    pub async fn subscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Subscriptions::Single(sink) => sink.subscribe(channel).await,
            Subscriptions::Cluster(conn) => conn.ssubscribe(channel).await,
        }
    }

    pub async fn unsubscribe(&mut self, channel: &str) -> RedisResult<()> {
        match self {
            Subscriptions::Single(sink) => sink.unsubscribe(channel).await,
            Subscriptions::Cluster(conn) => conn.sunsubscribe(channel).await,
        }
    }
}

/// What a subscription hears.
pub enum Messages {
    Single(PubSubStream),
    Cluster(mpsc::UnboundedReceiver<redis::PushInfo>),
}

impl Messages {
    /// The next message; `None` when the subscription is lost. On a cluster
    /// that is when any shard's connection closes (a master died or was
    /// replaced): its channels would be silent until the client noticed, so
    /// the caller subscribes again from scratch (and repairs from the store).
    pub async fn next(&mut self) -> Option<Msg> {
        match self {
            Messages::Single(stream) => stream.next().await,
            Messages::Cluster(pushes) => loop {
                let push = pushes.recv().await?;
                match push.kind {
                    PushKind::Disconnection => return None,
                    PushKind::SMessage => return Msg::from_push_info(push),
                    _ => {} // the confirmations of (un)subscribing
                }
            },
        }
    }
}

pub struct SharedConnection {
    backend: Backend,
    conn: Mutex<Option<Conn>>,
}

impl SharedConnection {
    pub fn new(backend: Backend) -> SharedConnection {
        SharedConnection { backend, conn: Mutex::new(None) }
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    async fn get(&self) -> Result<Conn, RedisError> {
        let mut conn = self.conn.lock().await;
        if let Some(c) = conn.as_ref() {
            return Ok(c.clone());
        }
        let c = self.backend.connect().await?;
        *conn = Some(c.clone());
        Ok(c)
    }

    /// Runs `f` on the connection; a failure drops it so that the next call reconnects.
    pub async fn run<T, F, Fut>(&self, f: F) -> Result<T, RedisError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let result = f(self.get().await?).await;
        if result.is_err() {
            *self.conn.lock().await = None;
        }
        result
    }

    /// [`run`](Self::run) for a registry kept in Redis: any failure is [`Unavailable`].
    pub async fn query<T, F, Fut>(&self, f: F) -> Result<T, Unavailable>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        self.run(f).await.map_err(|e| Unavailable(e.to_string()))
    }
}
