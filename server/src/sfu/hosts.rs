//! Where each room of the cluster is hosted, so that a conversation holds one
//! room of each kind whichever node its members' websockets are on.
//!
//! Kept in a [`Leases`] (memory on one node, Redis in a cluster) under
//! two keys per room: `<conversation>:<kind>` names the hosting node and the
//! media address it announces, and is claimed only if absent, so that two
//! nodes starting a room at the same moment get one host; and
//! `<conversation>:<kind>:state` holds the room as its members see it, for
//! the rooms-in-progress list of connections on other nodes. The host keeps
//! both alive while the room lives and removes them when it ends; if the
//! host dies they expire after [`HOST_TTL`], and the next join starts a
//! fresh room.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};
use wire::{
    model::ConversationId,
    room::{RoomKind, RoomUpdate},
};

use super::rooms::RoomKey;
use crate::lease::{Leases, Unavailable};

/// How long a room's keys outlive their last renewal (the hosting node died).
pub const HOST_TTL: Duration = Duration::from_secs(15);
/// How often the host renews them, and other nodes check their hosts live.
pub const KEEP_EVERY: Duration = Duration::from_secs(5);

/// A node that hosts rooms: its id and the address browsers send media to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    pub node: String,
    pub media: SocketAddr,
}

impl Host {
    fn encode(&self) -> String {
        format!("{} {}", self.node, self.media)
    }

    fn decode(value: &str) -> Option<Host> {
        let (node, media) = value.split_once(' ')?;
        Some(Host { node: node.to_owned(), media: media.parse().ok()? })
    }
}

/// What a room's state key holds: the room and who hosts it.
#[derive(Serialize, Deserialize)]
struct Shown {
    node: String,
    room: RoomUpdate,
}

fn host_key(key: &RoomKey) -> String {
    let kind = match key.kind {
        RoomKind::Call => "call",
        RoomKind::Live => "live",
    };
    format!("{}:{kind}", key.conversation)
}

fn state_key(key: &RoomKey) -> String {
    format!("{}:state", host_key(key))
}

/// This node's view of the cluster's room hosts.
pub struct RoomHosts {
    registry: Arc<dyn Leases>,
    me: Host,
}

impl RoomHosts {
    pub fn new(registry: Arc<dyn Leases>, me: Host) -> RoomHosts {
        RoomHosts { registry, me }
    }

    pub fn me(&self) -> &Host {
        &self.me
    }

    /// The node hosting the room of `key`, if it is on.
    pub async fn of(&self, key: &RoomKey) -> Result<Option<Host>, Unavailable> {
        Ok(self.registry.get(&host_key(key)).await?.as_deref().and_then(Host::decode))
    }

    /// The nodes hosting the rooms of `keys`, in their order, in one lookup.
    pub async fn of_each(&self, keys: &[RoomKey]) -> Result<Vec<Option<Host>>, Unavailable> {
        let names: Vec<String> = keys.iter().map(host_key).collect();
        let held = self.registry.get_many(&names).await?;
        Ok(held.iter().map(|value| value.as_deref().and_then(Host::decode)).collect())
    }

    /// The node hosting the room of `key`: this one unless another claimed it first.
    pub async fn claim(&self, key: &RoomKey) -> Result<Host, Unavailable> {
        let held = self.registry.claim(&host_key(key), &self.me.encode(), HOST_TTL).await?;
        Ok(Host::decode(&held).unwrap_or_else(|| self.me.clone()))
    }

    /// Records a change of a room this node hosts; an ended room's keys go.
    pub async fn record(&self, update: &RoomUpdate) -> Result<(), Unavailable> {
        let key = RoomKey { conversation: update.conversation_id.clone(), kind: update.kind };
        if update.state.is_none() {
            return self.vacate(&key).await;
        }
        let host = self.claim(&key).await?;
        if host.node != self.me.node {
            tracing::warn!(conversation = %key.conversation, other = %host.node, "another node hosts this room too");
            return Ok(());
        }
        let shown = Shown { node: self.me.node.clone(), room: update.clone() };
        let json = serde_json::to_string(&shown).expect("rooms serialize");
        self.registry.put(&state_key(&key), &json, HOST_TTL).await
    }

    /// Removes the keys of a room of this node that ended or never started.
    pub async fn vacate(&self, key: &RoomKey) -> Result<(), Unavailable> {
        let state = self.registry.get(&state_key(key)).await?;
        let shown = state.as_deref().and_then(|s| serde_json::from_str::<Shown>(s).ok());
        if shown.is_some_and(|s| s.node == self.me.node) {
            self.registry.remove(&[state_key(key)]).await?;
        }
        self.registry.release(&host_key(key), &self.me.encode()).await
    }

    /// Renews the keys of the rooms this node hosts, and claims again those
    /// that expired meanwhile (Redis was away); their state returns with
    /// the room's next change.
    pub async fn keep(&self, keys: &[RoomKey]) -> Result<(), Unavailable> {
        let held: Vec<String> = keys.iter().flat_map(|k| [host_key(k), state_key(k)]).collect();
        self.registry.keep(&held, HOST_TTL).await?;
        for key in keys {
            let host = self.claim(key).await?;
            if host.node != self.me.node {
                tracing::warn!(conversation = %key.conversation, other = %host.node, "another node hosts this room too");
            }
        }
        Ok(())
    }

    /// The rooms in progress in these conversations that other nodes host.
    pub async fn elsewhere(&self, conversations: &[ConversationId]) -> Result<Vec<RoomUpdate>, Unavailable> {
        let keys: Vec<String> = conversations
            .iter()
            .flat_map(|c| [RoomKind::Call, RoomKind::Live].map(|kind| state_key(&RoomKey { conversation: c.clone(), kind })))
            .collect();
        let states = self.registry.get_many(&keys).await?;
        let shown = states.into_iter().flatten().filter_map(|s| serde_json::from_str::<Shown>(&s).ok());
        Ok(shown.filter(|s| s.node != self.me.node).map(|s| s.room).collect())
    }
}

#[cfg(test)]
mod tests {
    use wire::{model::UserId, room::{RoomParticipant, RoomState}};

    use super::*;
    use crate::lease::LocalLeases;

    fn node(name: &str, port: u16) -> Host {
        Host { node: name.to_owned(), media: SocketAddr::from(([127, 0, 0, 1], port)) }
    }

    fn update(state: bool) -> RoomUpdate {
        let state = state.then(|| RoomState {
            video: true,
            started_ms: 1,
            participants: vec![RoomParticipant { user_id: UserId::from("a"), speaking: false }],
            viewers: 0,
        });
        RoomUpdate { conversation_id: ConversationId::from("g"), kind: RoomKind::Call, state }
    }

    #[test]
    fn hosts_read_back_as_written() {
        let host = node("node-a", 3960);
        assert_eq!(Host::decode(&host.encode()), Some(host));
        assert_eq!(Host::decode("node-a"), None);
        assert_eq!(Host::decode("node-a not-an-address"), None);
    }

    /// The host key expires (Redis lost it).
    async fn registry_forgets(hosts: &RoomHosts, key: &RoomKey) {
        hosts.registry.remove(&[host_key(key)]).await.unwrap();
    }

    #[tokio::test]
    async fn the_first_node_to_claim_hosts_and_others_see_its_room() {
        let registry: Arc<dyn Leases> = Arc::new(LocalLeases::default());
        let (a, b) = (RoomHosts::new(registry.clone(), node("a", 1)), RoomHosts::new(registry, node("b", 2)));
        let key = RoomKey { conversation: ConversationId::from("g"), kind: RoomKind::Call };
        assert_eq!(a.of(&key).await.unwrap(), None);
        assert_eq!(a.claim(&key).await.unwrap(), node("a", 1));
        assert_eq!(b.claim(&key).await.unwrap(), node("a", 1), "b joins a's room");
        let live = RoomKey { kind: RoomKind::Live, ..key.clone() };
        assert_eq!(b.of_each(&[live, key.clone()]).await.unwrap(), [None, Some(node("a", 1))]);
        assert!(b.of_each(&[]).await.unwrap().is_empty());
        a.record(&update(true)).await.unwrap();
        b.record(&update(true)).await.unwrap();
        let conversations = [ConversationId::from("g"), ConversationId::from("h")];
        assert_eq!(b.elsewhere(&conversations).await.unwrap(), vec![update(true)]);
        assert!(a.elsewhere(&conversations).await.unwrap().is_empty(), "a tells its own rooms itself");
        b.vacate(&key).await.unwrap();
        assert_eq!(b.of(&key).await.unwrap(), Some(node("a", 1)), "only the host removes its room");
        registry_forgets(&a, &key).await;
        a.keep(std::slice::from_ref(&key)).await.unwrap();
        assert_eq!(b.of(&key).await.unwrap(), Some(node("a", 1)), "an expired claim is made again");
        a.record(&update(false)).await.unwrap();
        assert_eq!(b.of(&key).await.unwrap(), None);
        assert!(b.elsewhere(&conversations).await.unwrap().is_empty());
        assert_eq!(b.claim(&key).await.unwrap(), node("b", 2), "a later room may start anywhere");
    }
}
