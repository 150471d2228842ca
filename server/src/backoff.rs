//! Exponential backoff for reconnecting to Redis or the database: the first
//! retry after 250 ms, each next one twice as late up to 5 s, and back to the
//! start after a success.

use std::time::Duration;

const START: Duration = Duration::from_millis(250);
const MAX: Duration = Duration::from_secs(5);

pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { next: START }
    }
}

impl Backoff {
    /// How long the next retry waits.
    pub fn delay(&self) -> Duration {
        self.next
    }

    /// Takes the next wait and doubles the one after it.
    pub fn take(&mut self) -> Duration {
        let wait = self.next;
        self.next = (self.next * 2).min(MAX);
        wait
    }

    /// Sleeps out the next wait.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.take()).await;
    }

    /// After a success: the next failure retries soon again.
    pub fn reset(&mut self) {
        self.next = START;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_a_ceiling_and_resets() {
        let mut backoff = Backoff::default();
        let waits: Vec<u64> = (0..7).map(|_| backoff.take().as_millis() as u64).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 5000, 5000]);
        backoff.reset();
        assert_eq!(backoff.delay(), START);
    }
}
