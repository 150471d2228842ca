//! Fixed-window rate limits per key (an IP address, an account). In a
//! cluster the windows are counted in Redis, so attempts spread over the
//! nodes count together; while Redis is unreachable (and on a single node)
//! each node counts in memory. Also each user's uploads on this node: how
//! many they may start ([`UploadBudgets`]) and have running ([`UploadSlots`]).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use redis::Script;

use crate::{budget::Budget, redis_conn::SharedConnection};

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

/// Uploads each user may start on this node: a token bucket per user, so a
/// burst of as many as a minute allows, then that pace. (Counted per node,
/// not across a cluster: the work they bound is each node's own.)
pub struct UploadBudgets {
    per_minute: u32,
    buckets: Mutex<HashMap<String, Budget>>,
}

impl UploadBudgets {
    pub fn new(per_minute: u32) -> UploadBudgets {
        UploadBudgets { per_minute: per_minute.max(1), buckets: Mutex::default() }
    }

    /// Spends one of `key`'s uploads; when none is left, how long until one is.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= SWEEP_AT {
            buckets.retain(|_, budget| !budget.is_full());
        }
        let per_minute = f64::from(self.per_minute);
        let budget = buckets.entry(key.to_owned()).or_insert_with(|| Budget::new(per_minute, per_minute / 60.0));
        match budget.take() {
            true => Ok(()),
            false => Err(budget.wait()),
        }
    }
}

/// Uploads each user may have running at once on this node. A slot is an
/// [`UploadSlot`] guard: whichever way a request ends (answered, refused,
/// its body broken off, its connection dropped), dropping it gives the slot back.
pub struct UploadSlots {
    max: usize,
    running: Mutex<HashMap<String, usize>>,
}

pub struct UploadSlot {
    slots: Arc<UploadSlots>,
    key: String,
}

impl UploadSlots {
    pub fn new(max: usize) -> Arc<UploadSlots> {
        Arc::new(UploadSlots { max: max.max(1), running: Mutex::default() })
    }

    /// A slot for `key`, or `None` when it holds all of its own.
    pub fn enter(self: &Arc<Self>, key: &str) -> Option<UploadSlot> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let n = running.entry(key.to_owned()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(UploadSlot { slots: self.clone(), key: key.to_owned() })
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut running = self.slots.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = running.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                running.remove(&self.key); // only users uploading now are remembered
            }
        }
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

    #[test]
    fn uploads_come_in_a_burst_then_at_a_pace() {
        let budgets = UploadBudgets::new(2);
        assert!(budgets.take("a").is_ok() && budgets.take("a").is_ok());
        let wait = budgets.take("a").unwrap_err();
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30), "{wait:?}");
        assert!(budgets.take("b").is_ok(), "other users are not affected");
    }

    #[test]
    fn upload_slots_are_per_user_and_come_back_when_dropped() {
        let slots = UploadSlots::new(2);
        let (first, _second) = (slots.enter("a").unwrap(), slots.enter("a").unwrap());
        assert!(slots.enter("a").is_none(), "both taken");
        assert!(slots.enter("b").is_some(), "other users are not affected");
        drop(first);
        assert!(slots.enter("a").is_some(), "a dropped guard gives its slot back");
        assert!(slots.running.lock().unwrap().get("b").is_none(), "idle users are forgotten");
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
