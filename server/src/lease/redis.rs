//! The cluster's leases in Redis: keys under a prefix, `<ns>:call:`
//! for 1:1 calls and `<ns>:room:` for rooms (see `crate::hub::redis::namespace`). A claim is one `SET NX PX` and, when it
//! loses, a `GET` in the same script, so nodes never see half of one.

use std::time::Duration;

use async_trait::async_trait;
use redis::Script;

use super::{Leases, Unavailable};
use crate::redis_conn::{Backend, SharedConnection};

const CLAIM: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return ARGV[1] end
return redis.call('GET', KEYS[1])
"#;

const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"#;

pub struct RedisLeases {
    conn: SharedConnection,
    prefix: String,
    claim: Script,
    release: Script,
}

fn millis(ttl: Duration) -> u64 {
    ttl.as_millis().max(1) as u64
}

impl RedisLeases {
    /// A registry of the keys under `prefix`.
    pub fn new(backend: Backend, prefix: String) -> RedisLeases {
        RedisLeases {
            conn: SharedConnection::new(backend),
            prefix,
            claim: Script::new(CLAIM),
            release: Script::new(RELEASE),
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }
}

#[async_trait]
impl Leases for RedisLeases {
    async fn claim(&self, key: &str, value: &str, ttl: Duration) -> Result<String, Unavailable> {
        self.conn.query(|mut c| async move {
            self.claim.key(self.key(key)).arg(value).arg(millis(ttl)).invoke_async(&mut c).await
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<String>, Unavailable> {
        self.conn.query(|mut c| async move { redis::cmd("GET").arg(self.key(key)).query_async(&mut c).await }).await
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>, Unavailable> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        self.conn.query(|mut c| async move { redis::cmd("MGET").arg(keys).query_async(&mut c).await }).await
    }

    async fn put(&self, key: &str, value: &str, ttl: Duration) -> Result<(), Unavailable> {
        self.conn.query(|mut c| async move {
            redis::cmd("SET").arg(self.key(key)).arg(value).arg("PX").arg(millis(ttl)).query_async(&mut c).await
        })
        .await
    }

    async fn keep(&self, keys: &[String], ttl: Duration) -> Result<(), Unavailable> {
        let commands = keys.iter().map(|key| redis::cmd("PEXPIRE").arg(self.key(key)).arg(millis(ttl)).clone()).collect();
        self.conn.query(|mut c| async move { c.each::<i64>(commands).await }).await.map(drop)
    }

    async fn release(&self, key: &str, value: &str) -> Result<(), Unavailable> {
        self.conn.query(|mut c| async move {
            self.release.key(self.key(key)).arg(value).invoke_async::<i64>(&mut c).await
        })
        .await
        .map(drop)
    }

    async fn remove(&self, keys: &[String]) -> Result<(), Unavailable> {
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        self.conn.query(|mut c| async move { redis::cmd("DEL").arg(keys).query_async::<i64>(&mut c).await }).await.map(drop)
    }
}
