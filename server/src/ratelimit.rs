//! Fixed-window rate limits kept in memory, per key (an IP address, an
//! account). A node counts its own requests; a cluster may let an attacker
//! spread attempts over its nodes, at most N times the limit.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

pub struct RateLimiter {
    max: u32,
    window: Duration,
    hits: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Keys kept before expired windows are swept.
const SWEEP_AT: usize = 10_000;

impl RateLimiter {
    pub fn new(max: u32, window: Duration) -> RateLimiter {
        RateLimiter { max, window, hits: Mutex::new(HashMap::new()) }
    }

    /// Counts one attempt for `key`; when over the limit, how long until the window resets.
    pub fn hit(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
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
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            register_per_ip: RateLimiter::new(30, Duration::from_secs(600)),
            login_per_ip: RateLimiter::new(30, Duration::from_secs(60)),
            login_per_account: RateLimiter::new(10, Duration::from_secs(300)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_and_says_when_to_retry() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.hit("a").is_ok());
        assert!(limiter.hit("a").is_ok());
        let wait = limiter.hit("a").unwrap_err();
        assert!(wait > Duration::from_secs(58) && wait <= Duration::from_secs(60));
        assert!(limiter.hit("b").is_ok(), "other keys are not affected");
    }

    #[test]
    fn a_new_window_starts_afresh() {
        let limiter = RateLimiter::new(1, Duration::from_millis(20));
        assert!(limiter.hit("a").is_ok());
        assert!(limiter.hit("a").is_err());
        std::thread::sleep(Duration::from_millis(25));
        assert!(limiter.hit("a").is_ok());
    }
}
