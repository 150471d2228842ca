//! A token bucket: a burst, then so many a second.

use std::time::Instant;

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
        let now = Instant::now();
        let earned = now.duration_since(self.refilled).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + earned).min(self.burst);
        self.refilled = now;
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}
