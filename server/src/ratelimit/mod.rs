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

use crate::{clock::now_millis, redis_conn::SharedConnection};

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

/// Records a wrong password for a key: the count, and when (ms).
const FAILED: &str = r#"
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
redis.call('HSET', KEYS[1], 'last', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n
"#;

/// Failures per key, with a growing wait: the first `free` cost nothing,
/// each further one doubles the wait before the next attempt (from `base`
/// up to `max`); a success, or `forget` without failures, starts afresh.
/// No one is locked out for long, and a guesser slows down exponentially.
pub struct Backoff {
    name: &'static str,
    free: u32,
    base: Duration,
    max: Duration,
    forget: Duration,
    local: Mutex<HashMap<String, (u32, Instant)>>,
    shared: Option<(SharedCounts, Script)>,
}

impl Backoff {
    pub fn new(name: &'static str, free: u32, base: Duration, max: Duration, shared: Option<SharedCounts>) -> Backoff {
        let forget = (max * 4).max(Duration::from_secs(3600));
        Backoff { name, free, base, max, forget, local: Mutex::default(), shared: shared.map(|s| (s, Script::new(FAILED))) }
    }

    /// The wait after `n` failures.
    fn wait_after(&self, n: u32) -> Duration {
        match n.checked_sub(self.free) {
            None => Duration::ZERO,
            Some(over) => self.base.saturating_mul(1u32 << over.min(20)).min(self.max),
        }
    }

    fn redis_key(&self, counts: &SharedCounts, key: &str) -> String {
        format!("{}:backoff:{}:{key}", counts.namespace, self.name)
    }

    /// Whether `key` may try now; if not, how long until it may.
    pub async fn check(&self, key: &str) -> Result<(), Duration> {
        if let Some((counts, _)) = &self.shared {
            let redis_key = self.redis_key(counts, key);
            let read: Result<(Option<u32>, Option<i64>), _> =
                counts.conn.run(|mut c| async move { redis::cmd("HMGET").arg(redis_key).arg("n").arg("last").query_async(&mut c).await }).await;
            match read {
                Ok((n, last)) => {
                    let since = Duration::from_millis((now_millis() - last.unwrap_or(0)).max(0) as u64);
                    return self.left(n.unwrap_or(0), since);
                }
                Err(e) => tracing::debug!(error = %e, "back-off read on this node only"),
            }
        }
        let hits = self.local.lock().unwrap_or_else(|p| p.into_inner());
        match hits.get(key) {
            Some((n, last)) => self.left(*n, last.elapsed()),
            None => Ok(()),
        }
    }

    fn left(&self, n: u32, since_last: Duration) -> Result<(), Duration> {
        match self.wait_after(n).checked_sub(since_last) {
            Some(left) if !left.is_zero() => Err(left),
            _ => Ok(()),
        }
    }

    /// Counts a failure of `key`.
    pub async fn failed(&self, key: &str) {
        if let Some((counts, script)) = &self.shared {
            let redis_key = self.redis_key(counts, key);
            let (now, forget) = (now_millis(), self.forget.as_millis() as u64);
            let counted: Result<u32, _> = counts
                .conn
                .run(|mut c| async move { script.key(redis_key).arg(now).arg(forget).invoke_async(&mut c).await })
                .await;
            match counted {
                Ok(_) => return,
                Err(e) => tracing::debug!(error = %e, "back-off counted on this node only"),
            }
        }
        let now = Instant::now();
        let mut hits = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if hits.len() >= SWEEP_AT {
            hits.retain(|_, (_, last)| now.duration_since(*last) < self.forget);
        }
        let entry = hits.entry(key.to_owned()).or_insert((0, now));
        if now.duration_since(entry.1) >= self.forget {
            entry.0 = 0;
        }
        *entry = (entry.0 + 1, now);
    }

    /// Forgets `key`'s failures.
    pub async fn succeeded(&self, key: &str) {
        if let Some((counts, _)) = &self.shared {
            let redis_key = self.redis_key(counts, key);
            let deleted: Result<(), _> =
                counts.conn.run(|mut c| async move { redis::cmd("DEL").arg(redis_key).query_async(&mut c).await }).await;
            if let Err(e) = deleted {
                tracing::debug!(error = %e, "back-off not cleared in Redis");
            }
        }
        self.local.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

/// The limits on signing up and signing in.
pub struct AuthLimits {
    pub register_per_ip: RateLimiter,
    pub login_per_ip: RateLimiter,
    /// Wrong passwords per (account, client address): a growing wait, so
    /// guessing from one place slows down and the owner elsewhere is not locked out.
    pub login_backoff: Backoff,
    /// Every attempt on one account, from everywhere: a ceiling well above
    /// one person's, against guessing spread over many addresses.
    pub login_per_account: RateLimiter,
    /// Sign-ins and sign-ups from all addresses together, per second: many
    /// addresses each under their own limit still meet this one.
    pub login_total: RateLimiter,
    /// Invitation tokens that were not valid, per client address: guessing
    /// slows down like wrong passwords do.
    pub invite_backoff: Backoff,
}

/// Wrong passwords from one address for one account before each further one
/// doubles the wait (2 s, 4 s, … up to 15 minutes).
pub const LOGIN_FREE_FAILURES: u32 = 5;

/// The key of [`AuthLimits::login_total`]: one count for everyone.
pub const EVERYONE: &str = "all";

/// The back-off of guesses at a secret: the first few free, then 2 s, 4 s, … up to 15 minutes.
fn guesses(name: &'static str, shared: Option<SharedCounts>) -> Backoff {
    Backoff::new(name, LOGIN_FREE_FAILURES, Duration::from_secs(2), Duration::from_secs(15 * 60), shared)
}

impl AuthLimits {
    pub fn new(shared: Option<SharedCounts>, sign_ins_per_sec: u32, sign_ups_per_address: u32) -> AuthLimits {
        AuthLimits {
            register_per_ip: RateLimiter::new("register-ip", sign_ups_per_address, Duration::from_secs(600), shared.clone()),
            login_per_ip: RateLimiter::new("login-ip", 30, Duration::from_secs(60), shared.clone()),
            login_backoff: guesses("login-pair", shared.clone()),
            login_per_account: RateLimiter::new("login-account", 100, Duration::from_secs(900), shared.clone()),
            invite_backoff: guesses("invite-ip", shared.clone()),
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
    async fn failures_make_a_growing_wait_per_key_and_success_forgets_them() {
        let backoff = Backoff::new("t", 2, Duration::from_millis(40), Duration::from_millis(100), None);
        for _ in 0..2 {
            assert!(backoff.check("a").await.is_ok());
            backoff.failed("a").await;
        }
        let first = backoff.check("a").await.unwrap_err();
        assert!(first <= Duration::from_millis(40) && first > Duration::from_millis(20), "{first:?}");
        assert!(backoff.check("b").await.is_ok(), "other keys are not affected");
        tokio::time::sleep(first).await;
        backoff.failed("a").await;
        let second = backoff.check("a").await.unwrap_err();
        assert!(second > Duration::from_millis(60), "the wait grows: {second:?}");
        backoff.failed("a").await;
        backoff.failed("a").await;
        assert!(backoff.check("a").await.unwrap_err() <= Duration::from_millis(100), "up to the most");
        backoff.succeeded("a").await;
        assert!(backoff.check("a").await.is_ok());
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
