//! One Redis connection shared by a part of the server (presence, calls, rate
//! limits): opened on first use, dropped after a failure and opened again by
//! the next call, with short timeouts so that a dead Redis never stalls a request.

use std::{future::Future, time::Duration};

use redis::{aio::MultiplexedConnection, AsyncConnectionConfig, RedisError};
use tokio::sync::Mutex;

const TIMEOUT: Duration = Duration::from_secs(2);

/// A registry (calls, rooms, presence) could not reach the state the nodes
/// share; the single-node registries, in memory, never fail.
#[derive(Debug, thiserror::Error)]
#[error("registry unavailable: {0}")]
pub struct Unavailable(pub String);

pub struct SharedConnection {
    client: redis::Client,
    conn: Mutex<Option<MultiplexedConnection>>,
}

impl SharedConnection {
    pub fn new(client: redis::Client) -> SharedConnection {
        SharedConnection { client, conn: Mutex::new(None) }
    }

    async fn get(&self) -> Result<MultiplexedConnection, RedisError> {
        let mut conn = self.conn.lock().await;
        if let Some(c) = conn.as_ref() {
            return Ok(c.clone());
        }
        let config = AsyncConnectionConfig::new().set_connection_timeout(TIMEOUT).set_response_timeout(TIMEOUT);
        let c = self.client.get_multiplexed_async_connection_with_config(&config).await?;
        *conn = Some(c.clone());
        Ok(c)
    }

    /// Runs `f` on the connection; a failure drops it so that the next call reconnects.
    pub async fn run<T, F, Fut>(&self, f: F) -> Result<T, RedisError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
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
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        self.run(f).await.map_err(|e| Unavailable(e.to_string()))
    }
}
