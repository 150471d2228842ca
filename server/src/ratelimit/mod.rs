//! Fixed-window rate limits per key (an IP address, an account). In a
//! cluster the windows are counted in Redis, so attempts spread over the
//! nodes count together; while Redis is unreachable (and on a single node)
//! each node counts in memory.
//!
//! | module | holds |
//! |---|---|
//! | here | fixed windows per key (sign-in limits) |
//! | `budgets` | token buckets per user and action, across connections and nodes |
//! | `slots` | uploads each user has running at once on a node |

pub mod budgets;
pub mod slots;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use redis::Script;

use crate::redis_conn::SharedConnection;

/// Counts one attempt in a window that starts with the first; answers the
/// count so far and the milliseconds left in the window.
const COUNT: &str = r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"#;

/// Where a cluster's limits are counted: the connection and the deployment's key prefix.
#[derive(Clone)]
pub struct SharedCounts {
    pub conn: Arc<SharedConnection>,
    pub namespace: String,
}

pub struct RateLimiter {
    name: &'static str,
    max: u32,
    window: Duration,
    local: Mutex<HashMap<String, (Instant, u32)>>,
    shared: Option<(SharedCounts, Script)>,
}

/// Keys kept before expired windows are swept.
const SWEEP_AT: usize = 10_000;

impl RateLimiter {
    /// `name` tells this limit's keys apart from other limits' in Redis.
    pub fn new(name: &'static str, max: u32, window: Duration, shared: Option<SharedCounts>) -> RateLimiter {
        RateLimiter { name, max, window, local: Mutex::default(), shared: shared.map(|s| (s, Script::new(COUNT))) }
    }

    /// Counts one attempt for `key`; when over the limit, how long until the window resets.
    pub async fn hit(&self, key: &str) -> Result<(), Duration> {
        if let Some((counts, script)) = &self.shared {
            let redis_key = format!("{}:limit:{}:{key}", counts.namespace, self.name);
            let window = self.window.as_millis() as u64;
            let counted: Result<(u32, i64), _> =
                counts.conn.run(|mut c| async move { script.key(redis_key).arg(window).invoke_async(&mut c).await }).await;
            match counted {
                Ok((n, _)) if n <= self.max => return Ok(()),
                Ok((_, left_ms)) => return Err(Duration::from_millis(left_ms.max(1) as u64)),
                Err(e) => tracing::debug!(error = %e, "rate limit counted on this node only"),
            }
        }
        self.hit_locally(key)
    }

    fn hit_locally(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut hits = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if hits.len() >= SWEEP_AT {
            hits.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = hits.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.max {
            return Err(self.window.saturating_sub(now.duration_since(entry.0)));
        }
        entry.1 += 1;
        Ok(())
    }
}

/// The limits on signing up and signing in.
pub struct AuthLimits {
    pub register_per_ip: RateLimiter,
    pub login_per_ip: RateLimiter,
    pub login_per_account: RateLimiter,
    /// Sign-ins and sign-ups from all addresses together, per second: many
    /// addresses each under their own limit still meet this one.
    pub login_total: RateLimiter,
}

/// The key of [`AuthLimits::login_total`]: one count for everyone.
pub const EVERYONE: &str = "all";

impl AuthLimits {
    pub fn new(shared: Option<SharedCounts>, sign_ins_per_sec: u32) -> AuthLimits {
        AuthLimits {
            register_per_ip: RateLimiter::new("register-ip", 30, Duration::from_secs(600), shared.clone()),
            login_per_ip: RateLimiter::new("login-ip", 30, Duration::from_secs(60), shared.clone()),
            login_per_account: RateLimiter::new("login-account", 10, Duration::from_secs(300), shared.clone()),
            login_total: RateLimiter::new("login-all", sign_ins_per_sec, Duration::from_secs(1), shared),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limits_per_key_and_says_when_to_retry() {
        let limiter = RateLimiter::new("t", 2, Duration::from_secs(60), None);
        assert!(limiter.hit("a").await.is_ok());
        assert!(limiter.hit("a").await.is_ok());
        let wait = limiter.hit("a").await.unwrap_err();
        assert!(wait > Duration::from_secs(58) && wait <= Duration::from_secs(60));
        assert!(limiter.hit("b").await.is_ok(), "other keys are not affected");
    }

    #[tokio::test]
    async fn a_new_window_starts_afresh() {
        let limiter = RateLimiter::new("t", 1, Duration::from_millis(20), None);
        assert!(limiter.hit("a").await.is_ok());
        assert!(limiter.hit("a").await.is_err());
        tokio::time::sleep(Duration::from_millis(25)).await;
        assert!(limiter.hit("a").await.is_ok());
    }
}
