//! What a cluster's bus lost, filled from the store: a message dropped by a
//! full queue, published while a node's subscription was being cut or
//! restarted, or lost in a Redis failover, reaches every recipient all the
//! same, in order, even when it was the last one of its conversation.
//!
//! The hub knows, for each conversation its connections receive, the highest
//! seq it routed. Two checks compare it with the store's:
//! - when the bus (re)subscribes to a conversation, at once, with the
//!   conversation's last entry (`MessageRepo::last_seq`);
//! - every [`EVERY`], for all of them in batches, with the newest entry of
//!   any kind (a message or a change) the conversations record
//!   (`ConversationRepo::last_entries`), repairing only what was behind at
//!   the previous check too, so an entry on its way is not taken for a lost
//!   one.
//!
//! A repair offers the stored entry to the conversation's connections again
//! ([`Hub::repair`]); each session's cursor then fills what it lacks before
//! it from the store, or skips it (`crate::session`): exactly once, in order.

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio::sync::watch;
use wire::model::ConversationId;

use crate::{hub::Hub, store::DynStore};

/// How often every conversation with connections here is checked.
const EVERY: Duration = Duration::from_secs(3);
/// Conversations read from the store at once.
const BATCH: usize = 200;

/// Runs the checks until `stop` turns true.
pub async fn run(store: DynStore, hub: Arc<Hub>, node: String, mut stop: watch::Receiver<bool>) {
    let repairs = Repairs { store, hub, counter: metrics::counter!("natter_bus_gap_repairs_total", "node" => node) };
    let mut behind = Behind::default();
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            subscribed = repairs.hub.take_subscribed() => repairs.subscribed(subscribed).await,
            _ = tick.tick() => repairs.periodic(&mut behind).await,
            _ = async { stop.wait_for(|stopped| *stopped).await.map(drop) } => return,
        }
    }
}

struct Repairs {
    store: DynStore,
    hub: Arc<Hub>,
    counter: metrics::Counter,
}

impl Repairs {
    /// The bus hears these conversations from now on: anything stored before
    /// may have been missed.
    async fn subscribed(&self, conversations: Vec<ConversationId>) {
        let seen: HashMap<ConversationId, Option<u64>> = self.hub.watched().into_iter().collect();
        for conversation in conversations {
            // Not received here any more: nothing to repair.
            let Some(&seen) = seen.get(&conversation) else { continue };
            match self.store.last_seq(&conversation).await {
                // A conversation heard for the first time: its sessions resumed
                // from the store, and only those behind it take the entry.
                Ok(last) if seen.is_none_or(|seen| seen < last) => {
                    self.offer(&conversation, last, seen.is_some()).await
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, %conversation, "cannot check the bus against the store"),
            }
        }
    }

    async fn periodic(&self, behind: &mut Behind) {
        let watched = self.hub.watched();
        let mut last = HashMap::with_capacity(watched.len());
        for chunk in watched.chunks(BATCH) {
            let ids: Vec<ConversationId> = chunk.iter().map(|(c, _)| c.clone()).collect();
            match self.store.last_entries(&ids).await {
                Ok(found) => last.extend(found),
                Err(e) => tracing::warn!(error = %e, "cannot check the bus against the store"),
            }
        }
        for (conversation, seq) in behind.check(&watched, &last) {
            self.offer(&conversation, seq, true).await;
        }
    }

    /// Offers the stored entry `seq` to the conversation's connections again.
    async fn offer(&self, conversation: &ConversationId, seq: u64, counted: bool) {
        match self.store.message_at(conversation, seq).await {
            Ok(Some(message)) => {
                if counted {
                    tracing::info!(%conversation, seq, "the bus missed entries; filling them from the store");
                    self.counter.increment(1);
                }
                self.hub.repair(message);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, %conversation, "cannot repair from the store"),
        }
    }
}

/// The conversations found behind the store at the last check, without I/O.
#[derive(Default)]
struct Behind {
    last_check: HashMap<ConversationId, u64>,
}

impl Behind {
    /// Given what the hub saw of each conversation and the store's last
    /// seqs, the conversations to repair now and up to which entry: those
    /// still behind what the store had at the previous check.
    fn check(
        &mut self,
        watched: &[(ConversationId, Option<u64>)],
        store: &HashMap<ConversationId, u64>,
    ) -> Vec<(ConversationId, u64)> {
        let mut due = Vec::new();
        let mut now = HashMap::new();
        for (conversation, seen) in watched {
            let seen = seen.unwrap_or(0);
            let Some(&last) = store.get(conversation).filter(|last| **last > seen) else { continue };
            match self.last_check.get(conversation) {
                Some(&before) if before > seen => due.push((conversation.clone(), last)),
                _ => drop(now.insert(conversation.clone(), last)),
            }
        }
        self.last_check = now;
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c() -> ConversationId {
        ConversationId::from("c")
    }

    #[test]
    fn a_message_on_its_way_is_not_repaired_one_still_missing_a_check_later_is() {
        let mut behind = Behind::default();
        let store = HashMap::from([(c(), 5)]);
        assert!(behind.check(&[(c(), Some(4))], &store).is_empty(), "5 may be on its way");
        assert!(behind.check(&[(c(), Some(5))], &store).is_empty(), "it came");
        assert!(behind.check(&[(c(), Some(5))], &HashMap::from([(c(), 7)])).is_empty());
        assert_eq!(behind.check(&[(c(), Some(5))], &HashMap::from([(c(), 8)])), [(c(), 8)], "7 never came");
    }

    #[test]
    fn conversations_in_step_or_not_read_are_left_alone() {
        let mut behind = Behind::default();
        let watched = [(c(), Some(3)), (ConversationId::from("d"), None)];
        let store = HashMap::from([(c(), 3)]);
        assert!(behind.check(&watched, &store).is_empty());
        assert!(behind.check(&watched, &store).is_empty());
        let store = HashMap::from([(ConversationId::from("d"), 2)]);
        assert!(behind.check(&watched, &store).is_empty());
        assert_eq!(behind.check(&watched, &store), [(ConversationId::from("d"), 2)]);
    }
}
