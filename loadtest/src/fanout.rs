//! Conversations full of connected clients, sending at a paced rate: the
//! engine of the latency and fan-out scenarios, and the final check that
//! every acked message reached every client exactly once and in order.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

use futures_util::{stream, StreamExt};
use wire::model::ConversationId;

use crate::{
    client::Client,
    ledger::{self, Tally, Window, ACKED, DELIVERED, SENT},
    procs::{Proc, Usage},
    socket,
};

/// Connections opened at once.
const CONNECT_PARALLEL: usize = 64;
/// How often the pacer sends what the rate allows.
const TICK: Duration = Duration::from_millis(5);
/// The server lets a connection send 10 messages a second (after a burst);
/// the pacer keeps each sender under this.
pub const MAX_SENDER_RATE: f64 = 9.0;
/// Past this share of its core, the generator's own work sets the figures.
const TOOL_CPU_LIMIT: f64 = 90.0;

/// Where one client connects and whether it sends.
pub struct Seat {
    pub addr: SocketAddr,
    pub token: Option<String>,
    pub sends: bool,
}

/// One conversation and its connected clients.
pub struct Group {
    pub conversation: ConversationId,
    pub clients: Vec<Client>,
    senders: Vec<usize>,
}

pub struct Fleet {
    pub groups: Vec<Group>,
    next_client: usize,
    sent: AtomicU64,
    /// The percentage of sends that are changes (edits and reactions to
    /// the sender's own earlier messages) rather than messages.
    changes_percent: u64,
    /// What all its clients measured.
    window: Window,
}

/// What one step of a given rate measured.
pub struct Step {
    pub rate_per_group: f64,
    pub secs: f64,
    pub sent: u64,
    pub tally: Tally,
    /// Summed over the measured servers.
    pub server_cpu_percent: f64,
    pub server_rss_bytes: u64,
    /// This tool's own CPU use: it shares the machine with the servers.
    pub tool_cpu_percent: f64,
}

impl Step {
    pub fn deliveries_per_sec(&self) -> f64 {
        self.tally.deliveries as f64 / self.secs
    }

    pub fn acks_per_sec(&self) -> f64 {
        self.tally.acks as f64 / self.secs
    }

    /// p99 send → deliver, ms.
    pub fn p99_ms(&self) -> f64 {
        self.tally.deliver.value_at_quantile(0.99) as f64 / 1000.0
    }

    /// "load generator CPU n%", flagged past [`TOOL_CPU_LIMIT`]: the step
    /// then measured the generator as much as the server.
    pub fn tool_cpu(&self) -> String {
        let flag = if self.tool_cpu_percent > TOOL_CPU_LIMIT { " (GENERATOR PAST 90%)" } else { "" };
        format!("load generator CPU {:.0}%{flag}", self.tool_cpu_percent)
    }
}

/// The exactly-once, in-order check over every client.
#[derive(Debug, Default, Clone, Copy)]
pub struct Check {
    pub acked: u64,
    pub lost: u64,
    pub duplicated: u64,
    /// Acked sequence numbers that were not exactly 1..=n per conversation.
    pub misnumbered: u64,
    /// Clients the server closed (or whose socket failed).
    pub closed: u64,
    /// The part of `lost` that those closed clients missed.
    pub lost_by_closed: u64,
    /// Sends refused with a time to wait, and sent again.
    pub pushed_back: u64,
}

impl Fleet {
    pub fn new() -> Fleet {
        Fleet::with_changes(0)
    }

    /// A fleet whose sends are `changes_percent` % edits and reactions.
    pub fn with_changes(changes_percent: u64) -> Fleet {
        Fleet { groups: Vec::new(), next_client: 0, sent: AtomicU64::new(0), changes_percent, window: Window::default() }
    }

    /// Connects the seats of one conversation; `query` tells the baseline server which.
    pub async fn add_group(&mut self, conversation: ConversationId, seats: Vec<Seat>) -> Result<(), String> {
        let query = format!("?c={conversation}");
        let first = self.next_client;
        self.next_client += seats.len();
        let senders = seats.iter().enumerate().filter(|(_, s)| s.sends).map(|(i, _)| i).collect();
        let opened = stream::iter(seats.into_iter().enumerate())
            .map(|(i, seat)| {
                let (query, window) = (query.clone(), self.window.clone());
                async move {
                    let ws = socket::open(seat.addr, seat.token.as_deref(), &query).await?;
                    Ok::<_, String>(Client::start(ws, first + i, window))
                }
            })
            .buffered(CONNECT_PARALLEL)
            .collect::<Vec<_>>()
            .await;
        let clients = opened.into_iter().collect::<Result<Vec<_>, _>>()?;
        self.groups.push(Group { conversation, clients, senders });
        Ok(())
    }

    pub fn clients(&self) -> usize {
        self.groups.iter().map(|g| g.clients.len()).sum()
    }

    fn take_windows(&self) -> Tally {
        ledger::take_window(&self.window)
    }

    /// Sends `rate_per_group` messages a second into every group for `secs`,
    /// printing progress every second, and measures the window.
    pub async fn step(&self, label: &str, rate_per_group: f64, secs: f64, servers: &[&Proc]) -> Step {
        for group in &self.groups {
            let per_sender = rate_per_group / group.senders.len().max(1) as f64;
            if per_sender > MAX_SENDER_RATE {
                eprintln!("warning: {per_sender:.1} sends/s per connection exceeds the server's send budget");
            }
        }
        let _ = self.take_windows();
        let before: Vec<Usage> = servers.iter().map(|p| p.usage()).collect();
        let tool_before = Usage::of(std::process::id());
        let start = Instant::now();
        let mut credit = vec![0.0f64; self.groups.len()];
        let mut turn = vec![0usize; self.groups.len()];
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = Instant::now();
        let mut progress = Progress::new();
        let mut sent = 0u64;
        while start.elapsed().as_secs_f64() < secs {
            ticker.tick().await;
            let now = Instant::now();
            let dt = now.duration_since(last).as_secs_f64();
            last = now;
            for (g, group) in self.groups.iter().enumerate() {
                credit[g] += rate_per_group * dt;
                while credit[g] >= 1.0 && !group.senders.is_empty() {
                    credit[g] -= 1.0;
                    let sender = &group.clients[group.senders[turn[g] % group.senders.len()]];
                    turn[g] += 1;
                    // Spread evenly: exactly `changes_percent` of every hundred sends.
                    if (sent * self.changes_percent) % 100 + self.changes_percent >= 100 {
                        sender.send_change(&group.conversation, turn[g] as u64);
                    } else {
                        sender.send_text(&group.conversation, turn[g] as u64);
                    }
                    sent += 1;
                }
            }
            progress.maybe_print(label, servers);
        }
        let secs = start.elapsed().as_secs_f64();
        self.sent.fetch_add(sent, Ordering::Relaxed);
        let after: Vec<Usage> = servers.iter().map(|p| p.usage()).collect();
        let tool_cpu_percent = Usage::of(std::process::id()).cpu_percent_since(&tool_before);
        Step {
            tool_cpu_percent,
            rate_per_group,
            secs,
            sent,
            tally: self.take_windows(),
            server_cpu_percent: after.iter().zip(&before).map(|(a, b)| a.cpu_percent_since(b)).sum(),
            server_rss_bytes: after.iter().map(|u| u.rss_bytes).sum(),
        }
    }

    /// Waits until every send is answered and every client has everything
    /// acked in its conversation, for as long as something still arrives
    /// (giving up after `quiet` without progress); returns what arrived.
    /// What is missing after that is lost.
    pub async fn drain(&self, quiet: Duration) -> Tally {
        let mut tally = Tally::default();
        let mut progress = counters();
        let mut last_progress = Instant::now();
        loop {
            tally.merge(&self.take_windows());
            let answered: u64 =
                self.groups.iter().flat_map(|g| &g.clients).map(|c| c.ledger.lock().unwrap().answered).sum();
            if answered >= self.sent.load(Ordering::Relaxed) && self.check().lost == 0 {
                return tally;
            }
            let now = counters();
            if now != progress {
                progress = now;
                last_progress = Instant::now();
            } else if last_progress.elapsed() > quiet {
                return tally;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn check(&self) -> Check {
        let mut check = Check::default();
        for group in &self.groups {
            let ledgers: Vec<_> = group.clients.iter().map(|c| c.ledger.lock().unwrap()).collect();
            let (count, max_seq) = ledgers
                .iter()
                .filter_map(|l| l.acked.get(&group.conversation))
                .fold((0, 0), |(n, m), a| (n + a.count, m.max(a.max_seq)));
            check.acked += count;
            check.misnumbered += count.abs_diff(max_seq);
            for ledger in &ledgers {
                let cursor = ledger.cursors.get(&group.conversation.0).copied().unwrap_or(0);
                let lost = ledger.skipped + max_seq.saturating_sub(cursor);
                check.lost += lost;
                check.lost_by_closed += if ledger.closed.is_some() { lost } else { 0 };
                check.duplicated += ledger.duplicated;
                check.closed += u64::from(ledger.closed.is_some());
                check.pushed_back += ledger.pushed_back;
            }
        }
        check
    }

    /// The clients the server closed, by the close code it gave (1005: a
    /// close frame without one; 0: the socket failed or ended without one).
    pub fn close_codes(&self) -> BTreeMap<u16, u64> {
        let mut codes = BTreeMap::new();
        let clients = self.groups.iter().flat_map(|g| &g.clients);
        for code in clients.filter_map(|c| c.ledger.lock().unwrap().closed) {
            *codes.entry(code).or_insert(0) += 1;
        }
        codes
    }

    /// [`Fleet::close_codes`] as text: `2× 1013, 1× 0`.
    pub fn close_codes_text(&self) -> String {
        let codes: Vec<String> = self.close_codes().iter().map(|(code, n)| format!("{n}× {code}")).collect();
        codes.join(", ")
    }

    /// Closes every client.
    pub fn close(self) {
        for client in self.groups.into_iter().flat_map(|g| g.clients) {
            client.close();
        }
    }
}

impl Default for Fleet {
    fn default() -> Self {
        Fleet::new()
    }
}

/// The one-line progress report, once a second.
struct Progress {
    last: Instant,
    counts: [u64; 3],
}

impl Progress {
    fn new() -> Progress {
        Progress { last: Instant::now(), counts: counters() }
    }

    fn maybe_print(&mut self, label: &str, servers: &[&Proc]) {
        let secs = self.last.elapsed().as_secs_f64();
        if secs < 1.0 {
            return;
        }
        let now = counters();
        let rate = |i: usize| (now[i] - self.counts[i]) as f64 / secs;
        let rss: u64 = servers.iter().map(|p| p.usage().rss_bytes).sum();
        eprintln!(
            "  [{label}] sent {:.0}/s  acks {:.0}/s  deliveries {:.0}/s  server RSS {:.0} MB",
            rate(0),
            rate(1),
            rate(2),
            rss as f64 / 1e6
        );
        self.last = Instant::now();
        self.counts = now;
    }
}

fn counters() -> [u64; 3] {
    [SENT.load(Ordering::Relaxed), ACKED.load(Ordering::Relaxed), DELIVERED.load(Ordering::Relaxed)]
}
