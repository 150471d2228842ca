//! Presence: who is connected, whether they are using a device, and what
//! they chose to show; turned into what each conversation sees of them
//! (`wire::model::Presence`) and announced through the fan-out on every change.
//!
//! Each node counts its own connections per user ([`tally`]); the
//! [`registry`] sums the nodes' counts (in memory on one node, in Redis in a
//! cluster, where a crashed node's users are taken offline once its heartbeat
//! runs out). Chosen statuses are stored (`store::statuses`). Only changes
//! others can see are announced: the first connection, the last one closing,
//! the first device becoming idle or active again, a new status.

pub mod redis;
pub mod registry;
pub mod tally;

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio::sync::{watch, Mutex};
use wire::{
    api::StatusSettings,
    model::{ConversationId, Presence, UserId},
};

use self::{
    registry::{Registry, Transition},
    tally::{Change, Tally},
};
use crate::{
    hub::{Fanout, HubEvent},
    store::{DynStore, StoreError},
};

/// The user has as many connections open as allowed.
#[derive(Debug)]
pub struct Crowded;

pub struct PresenceTracker {
    registry: Arc<dyn Registry>,
    store: DynStore,
    fanout: Arc<dyn Fanout>,
    /// This node's tallies, and whether the registry may have missed some of
    /// them (it was unreachable): then the next upkeep records them all again.
    node: Mutex<NodeTallies>,
}

#[derive(Default)]
struct NodeTallies {
    tallies: HashMap<UserId, Here>,
    unsynced: bool,
}

/// One user's connections on this node.
#[derive(Clone, Debug, Default)]
struct Here {
    tally: Tally,
    /// The conversation each connection that has one in view shows.
    viewing: Vec<ConversationId>,
}

impl Here {
    fn view(&mut self, from: Option<&ConversationId>, to: Option<&ConversationId>) {
        if let Some(i) = from.and_then(|from| self.viewing.iter().position(|c| c == from)) {
            self.viewing.swap_remove(i);
        }
        self.viewing.extend(to.cloned());
    }
}

impl PresenceTracker {
    pub fn new(registry: Arc<dyn Registry>, store: DynStore, fanout: Arc<dyn Fanout>) -> PresenceTracker {
        // Unsynced at first: the first upkeep clears what an earlier run of
        // this node left in the registry, then records the current tallies.
        let node = NodeTallies { tallies: HashMap::new(), unsynced: true };
        PresenceTracker { registry, store, fanout, node: Mutex::new(node) }
    }

    /// A connection of `user` on this node opened or changed activity.
    pub async fn change(&self, user: &UserId, change: Change) {
        let _ = self.apply(user, None, |here| here.tally = here.tally.apply(change)).await;
    }

    /// A connection of `user` on this node closed; it was active or not, and had `viewing` in view.
    pub async fn closed(&self, user: &UserId, active: bool, viewing: Option<&ConversationId>) {
        let closed = |here: &mut Here| {
            here.tally = here.tally.apply(Change::Closed { active });
            here.view(viewing, None);
        };
        let _ = self.apply(user, None, closed).await;
    }

    /// A connection of `user` on this node has `to` in view now, not `from`
    /// (see `wire::protocol::ClientFrame::Viewing`). Others see no change.
    pub async fn view(&self, user: &UserId, from: Option<&ConversationId>, to: Option<&ConversationId>) {
        let _ = self.apply(user, None, |here| here.view(from, to)).await;
    }

    /// A connection of `user` opens on this node, unless the user has `cap`
    /// open already. Nodes count their own exactly; in a cluster, what other
    /// nodes open at the same moment can be missed, so a user may end up a
    /// few over (at most one per node).
    pub async fn open(&self, user: &UserId, cap: u32) -> Result<(), Crowded> {
        self.apply(user, Some(cap), |here| here.tally = here.tally.apply(Change::Opened)).await
    }

    async fn apply(&self, user: &UserId, cap: Option<u32>, step: impl FnOnce(&mut Here)) -> Result<(), Crowded> {
        let transition = {
            // Held across the registry calls, so that records reach it in
            // order and no other opening on this node slips in between.
            let mut node = self.node.lock().await;
            let mut here = node.tallies.get(user).cloned().unwrap_or_default();
            let before = here.tally;
            if let Some(cap) = cap {
                let cluster = match self.registry.tallies(std::slice::from_ref(user)).await {
                    Ok(mut tallies) => tallies.remove(user).unwrap_or_default(),
                    Err(_) => before,
                };
                if cluster.connections.max(before.connections) >= cap {
                    return Err(Crowded);
                }
            }
            step(&mut here);
            let after = here.tally;
            let viewing = here.viewing.clone();
            if after.connected() {
                node.tallies.insert(user.clone(), here);
            } else {
                node.tallies.remove(user);
            }
            match self.registry.record(user, after, &viewing).await {
                Ok(transition) => transition,
                Err(e) => {
                    tracing::warn!(error = %e, "presence kept on this node only until the registry is back");
                    node.unsynced = true;
                    Transition { user: user.clone(), before, after }
                }
            }
        };
        self.announce_if_visible(transition).await;
        Ok(())
    }

    /// The user chose new statuses: tells the conversations where they show differently now.
    pub async fn status_changed(&self, user: &UserId, before: &StatusSettings, after: &StatusSettings) {
        let tally = self.tallies(std::slice::from_ref(user)).await.remove(user).unwrap_or_default();
        if let Err(e) = self.announce(user, (before, tally), (after, tally)).await {
            tracing::warn!(error = %e, "could not announce a status change");
        }
    }

    /// How each of `users` shows in `conversation`.
    pub async fn shown_in(
        &self,
        conversation: &ConversationId,
        users: &[UserId],
    ) -> Result<HashMap<UserId, Presence>, StoreError> {
        let pairs: Vec<(ConversationId, UserId)> = users.iter().map(|u| (conversation.clone(), u.clone())).collect();
        Ok(self.shown(&pairs).await?.into_iter().map(|((_, user), presence)| (user, presence)).collect())
    }

    /// How each user shows in the conversation paired with them.
    pub async fn shown(
        &self,
        pairs: &[(ConversationId, UserId)],
    ) -> Result<HashMap<(ConversationId, UserId), Presence>, StoreError> {
        let mut users: Vec<UserId> = pairs.iter().map(|(_, u)| u.clone()).collect();
        users.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        users.dedup();
        let tallies = self.tallies(&users).await;
        let settings: HashMap<UserId, StatusSettings> = self.store.status_settings_of(&users).await?.into_iter().collect();
        Ok(pairs
            .iter()
            .map(|(conversation, user)| {
                let tally = tallies.get(user).copied().unwrap_or_default();
                let status = settings.get(user).map(|s| s.status_in(conversation)).unwrap_or_default();
                ((conversation.clone(), user.clone()), Presence::shown(status, tally.connected(), tally.in_use()))
            })
            .collect())
    }

    /// Cluster tallies, or this node's while the registry is unreachable.
    async fn tallies(&self, users: &[UserId]) -> HashMap<UserId, Tally> {
        match self.registry.tallies(users).await {
            Ok(tallies) => tallies,
            Err(e) => {
                tracing::debug!(error = %e, "presence from this node only");
                let node = self.node.lock().await;
                users.iter().filter_map(|u| node.tallies.get(u).map(|h| (u.clone(), h.tally))).collect()
            }
        }
    }

    async fn announce_if_visible(&self, t: Transition) {
        if !t.before.shows_differently(t.after) {
            return;
        }
        let announced = match self.store.status_settings(&t.user).await {
            Ok(settings) => self.announce(&t.user, (&settings, t.before), (&settings, t.after)).await,
            Err(e) => Err(e),
        };
        if let Err(e) = announced {
            tracing::warn!(error = %e, user = %t.user, "could not announce a presence change");
        }
    }

    /// Tells the conversations of `user` where they show differently after
    /// than before how they show now.
    async fn announce(
        &self,
        user: &UserId,
        before: (&StatusSettings, Tally),
        after: (&StatusSettings, Tally),
    ) -> Result<(), StoreError> {
        let shown = |(settings, tally): (&StatusSettings, Tally), c: &ConversationId| {
            Presence::shown(settings.status_in(c), tally.connected(), tally.in_use())
        };
        let changed: Vec<(ConversationId, Presence)> = self
            .store
            .memberships_of(user)
            .await?
            .into_iter()
            .filter_map(|m| {
                let now = shown(after, &m.conversation_id);
                (shown(before, &m.conversation_id) != now).then_some((m.conversation_id, now))
            })
            .collect();
        if !changed.is_empty() {
            self.fanout.publish(HubEvent::Presence { user_id: user.clone(), shown: changed }).await;
        }
        Ok(())
    }

    /// Runs the registry's upkeep every `period` until `stop`, announcing the
    /// users it took offline and recording this node's tallies again whenever
    /// the registry may have missed them.
    pub async fn upkeep(self: Arc<Self>, period: Duration, mut stop: watch::Receiver<bool>) {
        loop {
            match self.registry.upkeep().await {
                Ok(transitions) => {
                    for transition in transitions {
                        self.announce_if_visible(transition).await;
                    }
                    self.resync().await;
                }
                Err(e) => tracing::warn!(error = %e, "presence upkeep failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = stop.wait_for(|stop| *stop) => return,
            }
        }
    }

    async fn resync(&self) {
        let transitions = {
            let mut node = self.node.lock().await;
            if !node.unsynced {
                return;
            }
            let mut transitions = Vec::new();
            for (user, here) in &node.tallies {
                match self.registry.record(user, here.tally, &here.viewing).await {
                    Ok(transition) => transitions.push(transition),
                    Err(_) => return, // still unsynced; the next upkeep tries again
                }
            }
            node.unsynced = false;
            transitions
        };
        for transition in transitions {
            self.announce_if_visible(transition).await;
        }
    }
}
