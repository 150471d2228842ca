//! Push-back on senders: how many of this node's connections are late
//! (their oldest queued event waited half a second) or behind (their
//! mailbox skipping messages, see `mailbox.rs`), and the gate that holds
//! sends while too many are.
//!
//! While more than half of the connections are late, at least
//! [`LATE_FLOOR`] of them (the node as a whole cannot keep up: a few slow
//! readers, or a session waiting on its own send, are not that), or more
//! than one in [`BEHIND_SHARE`] is behind, a send waits (its ack comes later) instead of adding deliveries the readers
//! cannot take; one held past the session's bound is refused with `retry`
//! and a `retry_after_ms`. When the readers have caught up, held sends are
//! let go in growing rounds (1, 2, 4, … per [`ROUND`]) rather than all at
//! once: a burst would fill the mailboxes again. Any sign of readers
//! falling behind again starts the rounds over from one.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed},
        Mutex,
    },
    time::Duration,
};

use tokio::time::Instant;

/// How long a send may wait before it is refused.
pub const HOLD_LIMIT: Duration = Duration::from_secs(2);
/// More than one connection in this many behind holds the senders.
pub const BEHIND_SHARE: usize = 10;
/// Late connections there must be at least, beyond half of all, to hold the senders.
const LATE_FLOOR: usize = 16;
/// How long each round of releases lasts; the next may release twice as many.
const ROUND: Duration = Duration::from_millis(20);
/// How often a held send looks whether it may go.
const POLL: Duration = Duration::from_millis(20);

pub struct Pressure {
    connections: AtomicUsize,
    late: AtomicUsize,
    behind: AtomicUsize,
    /// Sends held on this node now.
    held: AtomicUsize,
    /// Readers fell behind since the last release: the rounds start over.
    squeezed: AtomicBool,
    rounds: Mutex<Rounds>,
}

struct Rounds {
    started: Instant,
    released: usize,
    quota: usize,
}

impl Default for Pressure {
    fn default() -> Self {
        Pressure {
            connections: AtomicUsize::new(0),
            late: AtomicUsize::new(0),
            behind: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            squeezed: AtomicBool::new(false),
            rounds: Mutex::new(Rounds { started: Instant::now(), released: 0, quota: 1 }),
        }
    }
}

impl Pressure {
    pub(super) fn set_connections(&self, connections: usize) {
        self.connections.store(connections, Relaxed);
    }

    pub(super) fn fell_late(&self) {
        let late = self.late.fetch_add(1, Relaxed) + 1;
        metrics::gauge!("natter_ws_late").set(late as f64);
    }

    pub(super) fn on_time(&self) {
        let late = self.late.fetch_sub(1, Relaxed) - 1;
        metrics::gauge!("natter_ws_late").set(late as f64);
    }

    /// Connections of this node whose mailbox is late now.
    pub fn late(&self) -> usize {
        self.late.load(Relaxed)
    }

    pub(super) fn fell_behind(&self) {
        let behind = self.behind.fetch_add(1, Relaxed) + 1;
        metrics::gauge!("natter_ws_behind").set(behind as f64);
    }

    pub(super) fn caught_up(&self) {
        let behind = self.behind.fetch_sub(1, Relaxed) - 1;
        metrics::gauge!("natter_ws_behind").set(behind as f64);
    }

    /// Connections of this node whose mailbox is skipping messages now.
    pub fn behind(&self) -> usize {
        self.behind.load(Relaxed)
    }

    /// Whether more than half of the connections are late (and at least
    /// [`LATE_FLOOR`]), or more than one in [`BEHIND_SHARE`] is behind.
    pub fn over(&self) -> bool {
        let (connections, late, behind) = (self.connections.load(Relaxed), self.late(), self.behind());
        (late >= LATE_FLOOR && late * 2 > connections) || (behind > 0 && behind * BEHIND_SHARE > connections)
    }

    /// Whether a send arriving now must wait: the readers are behind, or
    /// other sends wait already (they go first).
    pub fn must_wait(&self) -> bool {
        self.held.load(Relaxed) > 0 || self.over()
    }

    /// A websocket's send is held (until [`Pressure::let_go`]).
    pub fn hold(&self) {
        self.held.fetch_add(1, Relaxed);
        metrics::counter!("natter_ws_sends_held_total").increment(1);
    }

    pub fn let_go(&self, sends: usize) {
        self.held.fetch_sub(sends, Relaxed);
    }

    /// Waits as one held send for at most [`HOLD_LIMIT`]: true when it may
    /// go. Cancel-safe: the hold ends with the wait, however it ends.
    pub async fn wait_turn(&self) -> bool {
        struct Holding<'a>(&'a Pressure);
        impl Drop for Holding<'_> {
            fn drop(&mut self) {
                self.0.let_go(1);
            }
        }
        self.held.fetch_add(1, Relaxed);
        let _holding = Holding(self);
        self.turn(Instant::now() + HOLD_LIMIT).await
    }

    /// Waits until a held send may go (true), or until `deadline` (false).
    /// Cancel-safe: a release is taken only when the answer is true.
    pub async fn turn(&self, deadline: Instant) -> bool {
        loop {
            let now = Instant::now();
            if self.release(now) {
                return true;
            }
            if now >= deadline {
                return false;
            }
            tokio::time::sleep_until((now + POLL).min(deadline)).await;
        }
    }

    fn release(&self, now: Instant) -> bool {
        if self.over() {
            self.squeezed.store(true, Relaxed);
            return false;
        }
        let mut rounds = self.rounds.lock().unwrap_or_else(|p| p.into_inner());
        if self.squeezed.swap(false, Relaxed) {
            *rounds = Rounds { started: now, released: 0, quota: 1 };
        } else if now.duration_since(rounds.started) >= ROUND {
            let quota = rounds.quota.saturating_mul(2);
            *rounds = Rounds { started: now, released: 0, quota };
        }
        if rounds.released >= rounds.quota {
            return false;
        }
        rounds.released += 1;
        true
    }

    /// How long a refused sender waits before trying again: half a second
    /// to one and a half, spread by connection so that they do not all
    /// come back at once.
    pub fn retry_after(connection: u64) -> Duration {
        Duration::from_millis(500 + connection.wrapping_mul(389) % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_wait_while_more_than_a_share_of_readers_is_behind() {
        let pressure = Pressure::default();
        pressure.set_connections(20);
        pressure.fell_behind();
        pressure.fell_behind();
        assert!(!pressure.over(), "two in twenty is one in ten");
        pressure.fell_behind();
        assert!(pressure.over() && pressure.must_wait());
        pressure.caught_up();
        assert!(!pressure.must_wait());
        pressure.hold();
        assert!(pressure.must_wait(), "behind those held already");
        pressure.let_go(1);
        assert!(!pressure.must_wait());
    }

    #[test]
    fn senders_wait_while_more_than_half_of_the_readers_are_late() {
        let pressure = Pressure::default();
        pressure.set_connections(2 * LATE_FLOOR);
        (0..LATE_FLOOR).for_each(|_| pressure.fell_late());
        assert!(!pressure.over(), "half");
        pressure.fell_late();
        assert!(pressure.over());
        pressure.on_time();
        assert!(!pressure.over());
        pressure.set_connections(3);
        (0..2).for_each(|_| pressure.on_time());
        assert!(!pressure.over(), "{} of 3 late, but too few to say the node is overloaded", pressure.late());
    }

    #[test]
    fn held_sends_go_in_growing_rounds_and_not_while_readers_are_behind() {
        let pressure = Pressure::default();
        pressure.set_connections(1);
        pressure.fell_behind();
        assert!(!pressure.release(Instant::now()));
        pressure.caught_up();
        let start = Instant::now();
        let mut released = Vec::new();
        for round in 0..4 {
            let now = start + ROUND * round;
            released.push((0..100).filter(|_| pressure.release(now)).count());
        }
        assert_eq!(released, [1, 2, 4, 8]);
    }
}
