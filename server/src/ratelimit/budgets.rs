//! How often each user may do each thing, across all of their connections
//! and, in a cluster, all nodes: a token bucket per user and action (a
//! burst, then a pace). In a cluster the buckets live in Redis, as the
//! generic cell rate algorithm's one timestamp per bucket ("the theoretical
//! arrival time"), so a spend is one key and one script call; while Redis is
//! unreachable (and on a single node) each node counts in memory.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::Duration,
};

use redis::Script;
use wire::model::UserId;

use super::SharedCounts;
use crate::budget::Budget;

/// Something a user does that costs the server work for others: each has a
/// budget of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// A message sent.
    Send,
    /// An HTTP send that waits while the node's readers are behind.
    HeldSend,
    /// A typing notice passed on.
    Typing,
    /// A change between active and idle reported to the presence.
    Activity,
    /// A resume (a replay of missed messages) asked for.
    Resume,
    /// A 1:1 call placed (it rings the callee's every tab).
    Call,
    /// A call signal (SDP, ICE candidate) relayed.
    Signal,
    /// A group call or broadcast joined.
    RoomJoin,
    /// A group created.
    CreateGroup,
    /// Call credentials (TURN) minted.
    IceConfig,
    /// An upload started (a file or an avatar), before its body is read.
    Upload,
    /// An invitation sent: into a group, or a stranger asked into a private chat.
    Invite,
    /// A search for users (the box asks as one types).
    Search,
    /// A page of the public group directory, or a search of it.
    Directory,
    /// A search of messages (the search box asks as one types).
    SearchMessages,
    /// A delivered position reported, or the receipts of a conversation asked for.
    Receipts,
    /// One message, or a conversation's pinned ones, looked up.
    Lookup,
}

/// A burst, then so many a second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Allowance {
    pub burst: u32,
    pub per_second: f64,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Send => "send",
            Action::HeldSend => "held_send",
            Action::Typing => "typing",
            Action::Activity => "activity",
            Action::Resume => "resume",
            Action::Call => "call",
            Action::Signal => "signal",
            Action::RoomJoin => "room",
            Action::CreateGroup => "group",
            Action::IceConfig => "ice",
            Action::Upload => "upload",
            Action::Invite => "invite",
            Action::Search => "search",
            Action::Directory => "directory",
            Action::SearchMessages => "search_messages",
            Action::Receipts => "receipts",
            Action::Lookup => "lookup",
        }
    }

    /// What every user may do (documented in the README's limits table).
    fn allowance(self, configured: Configured) -> Allowance {
        let (burst, per_second) = match self {
            // A burst of three seconds' worth.
            Action::Send => (configured.sends_per_sec.saturating_mul(3), f64::from(configured.sends_per_sec)),
            // Only while the node is overloaded, so not `--sends-per-sec`:
            // with a wait of at most `hub::HOLD_LIMIT` (2 s), a user has at
            // most 40 HTTP sends waiting at once.
            Action::HeldSend => (20, 10.0),
            // A burst of a minute's worth.
            Action::Upload => (configured.uploads_per_minute, f64::from(configured.uploads_per_minute) / 60.0),
            // One a conversation every two seconds is all a client sends.
            Action::Typing => (10, 2.0),
            Action::Activity => (10, 0.5),
            // One when each tab opens; a restart reconnects them all at once.
            Action::Resume => (20, 0.2),
            // Ten at once, then one every six seconds: a caller retrying a
            // bad line or calling round is never stopped; a flood rings ten.
            Action::Call => (10, 1.0 / 6.0),
            // ICE candidates come in bursts of a few dozen when a call starts.
            Action::Signal => (100, 20.0),
            Action::RoomJoin => (10, 0.2),
            Action::CreateGroup => (10, 1.0 / 60.0),
            Action::IceConfig => (10, 1.0 / 30.0),
            Action::Invite => (20, 1.0 / 30.0),
            // As one types (after a pause); an exact e-mail address is a
            // guess, so guessing stays slow.
            Action::Search => (30, 2.0),
            Action::Directory => (60, 4.0),
            // Results as one types (after a pause) and pages as one scrolls.
            Action::SearchMessages => (60, 4.0),
            // Clients report deliveries a moment after messages arrive, per
            // conversation: a reconnect reports many conversations at once.
            Action::Receipts => (60, 5.0),
            // A chat opening looks up its pins and the originals its replies quote.
            Action::Lookup => (100, 10.0),
        };
        Allowance { burst, per_second }
    }
}

/// Spends one token of a bucket kept as its theoretical arrival time (TAT),
/// in milliseconds of Redis's clock (one clock for every node). Answers 0
/// when spent, else the milliseconds until a token is there.
const SPEND: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return wait end
redis.call('SET', KEYS[1], tat + interval, 'PX', tat + interval - now)
return 0
"#;

/// Buckets kept in memory before full ones (nothing to remember) are swept.
const SWEEP_AT: usize = 10_000;

/// The allowances set by flags (`--sends-per-sec`, `--uploads-per-minute`).
#[derive(Clone, Copy, Debug)]
pub struct Configured {
    pub sends_per_sec: u32,
    pub uploads_per_minute: u32,
}

pub struct UserBudgets {
    configured: Configured,
    local: Mutex<HashMap<(Action, UserId), Budget>>,
    shared: Option<(SharedCounts, Script)>,
}

impl UserBudgets {
    pub fn new(configured: Configured, shared: Option<SharedCounts>) -> UserBudgets {
        let configured = Configured {
            sends_per_sec: configured.sends_per_sec.max(1),
            uploads_per_minute: configured.uploads_per_minute.max(1),
        };
        UserBudgets { configured, local: Mutex::default(), shared: shared.map(|s| (s, Script::new(SPEND))) }
    }

    /// Spends one of `user`'s `action`s; when none is left, how long until one is.
    pub async fn spend(&self, action: Action, user: &UserId) -> Result<(), Duration> {
        if let Some((counts, script)) = &self.shared {
            let key = format!("{}:budget:{}:{}", counts.namespace, action.name(), user.0);
            let Allowance { burst, per_second } = action.allowance(self.configured);
            let interval_ms = (1000.0 / per_second).ceil() as u64;
            let spent: Result<u64, _> = counts
                .conn
                .run(|mut c| async move { script.key(key).arg(interval_ms).arg(burst).invoke_async(&mut c).await })
                .await;
            match spent {
                Ok(0) => return Ok(()),
                Ok(wait_ms) => return Err(Duration::from_millis(wait_ms)),
                Err(e) => tracing::debug!(error = %e, "budget counted on this node only"),
            }
        }
        self.spend_locally(action, user)
    }

    fn spend_locally(&self, action: Action, user: &UserId) -> Result<(), Duration> {
        let mut buckets = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= SWEEP_AT {
            buckets.retain(|_, budget| !budget.is_full());
        }
        let Allowance { burst, per_second } = action.allowance(self.configured);
        let budget = buckets.entry((action, user.clone())).or_insert_with(|| Budget::new(f64::from(burst), per_second));
        match budget.take() {
            true => Ok(()),
            false => Err(budget.wait()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_burst_then_a_pace_per_user_and_action() {
        let budgets = UserBudgets::new(Configured { sends_per_sec: 10, uploads_per_minute: 2 }, None);
        let (ada, bob) = (UserId::from("ada"), UserId::from("bob"));
        for _ in 0..10 {
            budgets.spend(Action::Call, &ada).await.unwrap();
        }
        let wait = budgets.spend(Action::Call, &ada).await.unwrap_err();
        assert!(wait > Duration::from_secs(5) && wait <= Duration::from_secs(6), "{wait:?}");
        assert!(budgets.spend(Action::Call, &bob).await.is_ok(), "other users are not affected");
        assert!(budgets.spend(Action::Send, &ada).await.is_ok(), "other actions are not affected");
    }

    #[tokio::test]
    async fn configured_allowances_apply() {
        let budgets = UserBudgets::new(Configured { sends_per_sec: 10, uploads_per_minute: 2 }, None);
        let ada = UserId::from("ada");
        assert!(budgets.spend(Action::Upload, &ada).await.is_ok() && budgets.spend(Action::Upload, &ada).await.is_ok());
        let wait = budgets.spend(Action::Upload, &ada).await.unwrap_err();
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30), "{wait:?}");
        for _ in 0..30 {
            budgets.spend(Action::Send, &ada).await.unwrap();
        }
        assert!(budgets.spend(Action::Send, &ada).await.is_err(), "30 at once, three seconds' worth");
    }
}
