//! Push-back on senders: how many of this node's connections are late
//! (their oldest queued event waited [`LATE`]) or behind (their
//! mailbox skipping messages, see `mailbox.rs`), and the gate that holds
//! sends while too many are.
//!
//! While more than half of the connections are late, at least
//! [`LATE_FLOOR`] of them (the node as a whole cannot keep up: a few slow
//! readers, or a session waiting on its own send, are not that), or more
//! than one in [`BEHIND_SHARE`] is behind, the node is over: no send goes,
//! each waits (its ack comes later), and one held past the session's bound
//! is refused with `retry` and a `retry_after_ms`.
//!
//! Once over, the node admits sends at a rate of its own until they no
//! longer use it up ([`Gate`]): letting them all go when the readers have
//! caught up would fill the mailboxes again within a second, and the
//! readers would fall behind by seconds before the next hold. The rate
//! starts at [`CUT`] of what went in the second before, is cut so again
//! each [`LATE`] the node is over, and grows by [`GROWTH`] a second
//! otherwise, so it settles near what the readers take.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering::Relaxed},
        Mutex,
    },
    time::Duration,
};

use tokio::time::Instant;

use super::mailbox::LATE;

/// How long a send may wait before it is refused.
pub const HOLD_LIMIT: Duration = Duration::from_secs(2);
/// More than one connection in this many behind holds the senders.
pub const BEHIND_SHARE: usize = 10;
/// Late connections there must be at least, beyond half of all, to hold the senders.
const LATE_FLOOR: usize = 16;
/// How often a held send looks whether it may go.
const POLL: Duration = Duration::from_millis(20);
/// The admitted rate is cut to this share of itself while the node is over.
const CUT: f64 = 0.7;
/// How much the admitted rate grows a second while the node keeps up.
const GROWTH: f64 = 0.05;
/// The least the admitted rate is cut to, sends a second.
const MIN_RATE: f64 = 10.0;
/// Sends the gate lets go at once, as seconds of its rate.
const BURST: f64 = 0.1;
/// How long the sends must leave the gate's allowance unused before it opens.
const UNUSED_FOR: Duration = Duration::from_secs(2);

pub struct Pressure {
    connections: AtomicUsize,
    /// Connections whose mailbox is late now.
    pub(super) late: Count,
    /// Connections whose mailbox is skipping messages now.
    pub(super) behind: Count,
    /// Sends held on this node now.
    held: AtomicUsize,
    gate: Mutex<Gate>,
}

/// A number of connections, shown as a gauge in `/metrics`.
pub(super) struct Count {
    value: AtomicUsize,
    gauge: &'static str,
}

impl Count {
    fn new(gauge: &'static str) -> Count {
        Count { value: AtomicUsize::new(0), gauge }
    }

    pub(super) fn up(&self) {
        let value = self.value.fetch_add(1, Relaxed) + 1;
        metrics::gauge!(self.gauge).set(value as f64);
    }

    pub(super) fn down(&self) {
        let value = self.value.fetch_sub(1, Relaxed) - 1;
        metrics::gauge!(self.gauge).set(value as f64);
    }

    pub(super) fn get(&self) -> usize {
        self.value.load(Relaxed)
    }
}

/// The sends this node lets go: all as they come, or, since it was last
/// over and until they stop using it up, a rate (a token bucket).
struct Gate {
    /// Sends a second while admitting at a rate; `None` while open.
    rate: Option<f64>,
    /// Sends that may go now while admitting at a rate.
    tokens: f64,
    /// When `tokens` and `rate` were last brought up to date.
    updated: Instant,
    /// When the rate was last cut.
    cut: Instant,
    /// Since when the allowance has gone unused, while admitting at a rate.
    unused_since: Option<Instant>,
    /// Sends let go in the second from `second`, and in the one before.
    second: Instant,
    this_second: u32,
    last_second: u32,
}

impl Gate {
    fn new(now: Instant) -> Gate {
        Gate {
            rate: None,
            tokens: 0.0,
            updated: now,
            cut: now,
            unused_since: None,
            second: now,
            this_second: 0,
            last_second: 0,
        }
    }

    /// The node is over: nothing goes, and the rate is (once per [`LATE`]) cut.
    fn over(&mut self, now: Instant) {
        self.roll(now);
        match self.rate {
            None => self.rate = Some((f64::from(self.last_second.max(self.this_second)) * CUT).max(MIN_RATE)),
            Some(rate) if now.duration_since(self.cut) >= LATE => self.rate = Some((rate * CUT).max(MIN_RATE)),
            Some(_) => return,
        }
        self.cut = now;
        self.tokens = 0.0;
        self.unused_since = None;
        self.updated = now;
    }

    /// Whether a send may go now; if so, it has taken its turn.
    fn admit(&mut self, now: Instant) -> bool {
        self.roll(now);
        if let Some(rate) = self.rate {
            let secs = now.duration_since(self.updated).as_secs_f64();
            self.updated = now;
            let rate = rate * (1.0 + GROWTH * secs);
            let burst = (rate * BURST).max(1.0);
            self.tokens = (self.tokens + rate * secs).min(burst);
            self.rate = Some(rate);
            if self.tokens < burst {
                self.unused_since = None;
            } else if now.duration_since(*self.unused_since.get_or_insert(now)) >= UNUSED_FOR {
                self.rate = None;
            }
            if self.rate.is_some() {
                if self.tokens < 1.0 {
                    return false;
                }
                self.tokens -= 1.0;
            }
        }
        self.this_second += 1;
        true
    }

    fn roll(&mut self, now: Instant) {
        let secs = now.duration_since(self.second).as_secs();
        if secs >= 1 {
            self.last_second = if secs == 1 { self.this_second } else { 0 };
            self.this_second = 0;
            self.second += Duration::from_secs(secs);
        }
    }
}

impl Default for Pressure {
    fn default() -> Self {
        Pressure {
            connections: AtomicUsize::new(0),
            late: Count::new("natter_ws_late"),
            behind: Count::new("natter_ws_behind"),
            held: AtomicUsize::new(0),
            gate: Mutex::new(Gate::new(Instant::now())),
        }
    }
}

impl Pressure {
    pub(super) fn set_connections(&self, connections: usize) {
        self.connections.store(connections, Relaxed);
    }

    /// Whether more than half of the connections are late (and at least
    /// [`LATE_FLOOR`]), or more than one in [`BEHIND_SHARE`] is behind.
    pub fn over(&self) -> bool {
        let (connections, late, behind) = (self.connections.load(Relaxed), self.late.get(), self.behind.get());
        (late >= LATE_FLOOR && late * 2 > connections) || (behind > 0 && behind * BEHIND_SHARE > connections)
    }

    /// Whether a send arriving now must wait: other sends wait already
    /// (they go first), or the gate does not let it go. When false, the
    /// send has taken its turn: it goes now.
    pub fn must_wait(&self) -> bool {
        self.held.load(Relaxed) > 0 || !self.take_turn(Instant::now())
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
    /// Cancel-safe: a turn is taken only when the answer is true.
    pub async fn turn(&self, deadline: Instant) -> bool {
        loop {
            let now = Instant::now();
            if self.take_turn(now) {
                return true;
            }
            if now >= deadline {
                return false;
            }
            tokio::time::sleep_until((now + POLL).min(deadline)).await;
        }
    }

    fn take_turn(&self, now: Instant) -> bool {
        let over = self.over();
        let mut gate = self.gate.lock().unwrap_or_else(|p| p.into_inner());
        let before = gate.rate;
        let admitted = if over {
            gate.over(now);
            false
        } else {
            gate.admit(now)
        };
        // Shown when the gate closes, cuts or opens, not at every send: the rate at its last cut, 0 while open.
        if (over && gate.rate != before) || gate.rate.is_some() != before.is_some() {
            metrics::gauge!("natter_ws_admitted_rate").set(gate.rate.unwrap_or(0.0));
        }
        admitted
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
        pressure.behind.up();
        pressure.behind.up();
        assert!(!pressure.over(), "two in twenty is one in ten");
        pressure.behind.up();
        assert!(pressure.over() && pressure.must_wait());
        pressure.behind.down();
        assert!(!pressure.over());
        pressure.hold();
        assert!(pressure.must_wait(), "behind those held already");
        pressure.let_go(1);
    }

    #[test]
    fn senders_wait_while_more_than_half_of_the_readers_are_late() {
        let pressure = Pressure::default();
        pressure.set_connections(2 * LATE_FLOOR);
        (0..LATE_FLOOR).for_each(|_| pressure.late.up());
        assert!(!pressure.over(), "half");
        pressure.late.up();
        assert!(pressure.over());
        pressure.late.down();
        assert!(!pressure.over());
        pressure.set_connections(3);
        (0..2).for_each(|_| pressure.late.down());
        assert!(!pressure.over(), "{} of 3 late, but too few to say the node is overloaded", pressure.late.get());
    }

    /// Sends let go by `gate` offered `per_sec` evenly for `secs` from `start`.
    fn offer(gate: &mut Gate, start: Instant, per_sec: u32, secs: u32) -> usize {
        let every = Duration::from_secs(1) / per_sec;
        (0..per_sec * secs).filter(|&i| gate.admit(start + every * i)).count()
    }

    #[test]
    fn once_over_the_node_admits_a_rate_cut_from_what_went_before_and_growing_until_unused() {
        let start = Instant::now();
        let mut gate = Gate::new(start);
        assert_eq!(offer(&mut gate, start, 1000, 2), 2000, "open: all go");
        let over = start + Duration::from_secs(2);
        gate.over(over);
        assert!(!gate.admit(over), "nothing goes while over");
        let rate = gate.rate.expect("admitting at a rate");
        assert!((rate - 700.0).abs() < 1.0, "{rate}: cut from the 1,000 a second before");
        gate.over(over + LATE / 2);
        assert_eq!(gate.rate, Some(rate), "cut at most once a LATE");
        gate.over(over + LATE);
        assert!((gate.rate.unwrap() - 490.0).abs() < 1.0);
        // Offered 1,000 a second, a little over the rate goes, the rate growing.
        let went = offer(&mut gate, over + LATE, 1000, 1);
        assert!((490..600).contains(&went), "{went}");
        // Offered 100 a second, the allowance goes unused and the gate opens.
        offer(&mut gate, over + LATE + Duration::from_secs(1), 100, 3);
        assert!(gate.rate.is_none(), "open again");
    }
}
