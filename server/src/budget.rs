//! A token bucket: a burst, then so many a second.

use std::time::{Duration, Instant};

pub struct Budget {
    tokens: f64,
    burst: f64,
    per_second: f64,
    refilled: Instant,
}

impl Budget {
    pub fn new(burst: f64, per_second: f64) -> Budget {
        Budget { tokens: burst, burst, per_second, refilled: Instant::now() }
    }

    /// Spends one token if there is one.
    pub fn take(&mut self) -> bool {
        self.refill();
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }

    /// How long until a token can be taken.
    pub fn wait(&mut self) -> Duration {
        self.refill();
        Duration::from_secs_f64(((1.0 - self.tokens) / self.per_second).max(0.0))
    }

    /// Whether the bucket is back to its burst (nothing to remember).
    pub fn is_full(&mut self) -> bool {
        self.refill();
        self.tokens >= self.burst
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let earned = now.duration_since(self.refilled).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + earned).min(self.burst);
        self.refilled = now;
    }
}
