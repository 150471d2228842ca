//! The hub's routing state, with no sockets and no clock inside: it is told
//! who connected, who left which conversation, and which events happened, and
//! answers which connections each event goes to. `Hub` (in `mod.rs`) wraps it
//! with the channels; tests drive it directly.
//!
//! The same state says which bus topics the node needs: a conversation while
//! one of its connections receives it, a user while one is connected. Each
//! topic that starts or stops being needed is noted for the bus, which
//! subscribes and unsubscribes (`redis.rs`). For each conversation it also
//! keeps the highest seq routed, which the bus's repairs compare with the store.

use std::collections::{HashMap, HashSet};

use wire::model::{ConversationId, UserId};

use super::{event::HubEvent, topic::Topic};

/// One websocket connection of this node.
pub type ConnId = u64;

#[derive(Debug)]
struct Conn {
    user: UserId,
    device: String,
}

#[derive(Debug, Default)]
pub struct HubCore {
    conns: HashMap<ConnId, Conn>,
    by_user: HashMap<UserId, HashSet<ConnId>>,
    by_conversation: HashMap<ConversationId, HashSet<ConnId>>,
    /// The highest seq of each conversation's messages routed here.
    seen: HashMap<ConversationId, u64>,
    /// Topics whose need changed since the bus last looked; `None` while no bus asks.
    changed: Option<HashSet<Topic>>,
    next_id: ConnId,
}

impl HubCore {
    /// Adds a connection of `user` that receives `conversations`.
    pub fn connect(&mut self, user: &UserId, device: &str, conversations: &[ConversationId]) -> ConnId {
        self.next_id += 1;
        let id = self.next_id;
        self.conns.insert(id, Conn { user: user.clone(), device: device.to_owned() });
        if add_to(&mut self.by_user, user, id) {
            self.note(Topic::User(user.clone()));
        }
        for conversation in conversations {
            self.receive(conversation, id);
        }
        id
    }

    /// Starts tracking which topics the node needs: from now on every change
    /// is noted (see [`HubCore::take_changed`]).
    pub fn track_topics(&mut self) {
        self.changed.get_or_insert_with(HashSet::new);
    }

    /// The topics whose need changed since the last call.
    pub fn take_changed(&mut self) -> Vec<Topic> {
        self.changed.as_mut().map(|changed| changed.drain().collect()).unwrap_or_default()
    }

    /// Whether a connection of this node needs `topic`.
    pub fn needs(&self, topic: &Topic) -> bool {
        match topic {
            Topic::Conversation(c) => self.by_conversation.contains_key(c),
            Topic::User(u) => self.by_user.contains_key(u),
        }
    }

    /// Every topic the node needs.
    pub fn topics(&self) -> Vec<Topic> {
        let conversations = self.by_conversation.keys().map(|c| Topic::Conversation(c.clone()));
        conversations.chain(self.by_user.keys().map(|u| Topic::User(u.clone()))).collect()
    }

    /// The conversations with connections here, and the highest seq routed of each.
    pub fn watched(&self) -> Vec<(ConversationId, Option<u64>)> {
        self.by_conversation.keys().map(|c| (c.clone(), self.seen.get(c).copied())).collect()
    }

    fn note(&mut self, topic: Topic) {
        if let Some(changed) = &mut self.changed {
            changed.insert(topic);
        }
    }

    /// Connection `id` receives `conversation` from now on.
    fn receive(&mut self, conversation: &ConversationId, id: ConnId) {
        if add_to(&mut self.by_conversation, conversation, id) {
            self.note(Topic::Conversation(conversation.clone()));
        }
    }

    /// Connection `id` no longer receives `conversation`.
    fn unreceive(&mut self, conversation: &ConversationId, id: ConnId) {
        if remove_from(&mut self.by_conversation, conversation, id) {
            self.seen.remove(conversation);
            self.note(Topic::Conversation(conversation.clone()));
        }
    }

    /// How many connections `user`'s `device` has on this node.
    pub fn device_connections(&self, user: &UserId, device: &str) -> usize {
        let Some(ids) = self.by_user.get(user) else { return 0 };
        ids.iter().filter(|id| self.conns.get(id).is_some_and(|c| c.device == device)).count()
    }

    pub fn disconnect(&mut self, id: ConnId) {
        let Some(conn) = self.conns.remove(&id) else { return };
        if remove_from(&mut self.by_user, &conn.user, id) {
            self.note(Topic::User(conn.user));
        }
        let mut emptied = Vec::new();
        self.by_conversation.retain(|conversation, conns| {
            let keep = !(conns.remove(&id) && conns.is_empty());
            if !keep {
                emptied.push(conversation.clone());
            }
            keep
        });
        for conversation in emptied {
            self.seen.remove(&conversation);
            self.note(Topic::Conversation(conversation));
        }
    }

    /// Like [`HubCore::route`] for one copy of an event that came from the
    /// bus on its topic of rank `rank` among `topics` (its rank and their
    /// number travel with it): each connection takes the copy of the first
    /// topic that covers it, so none gets an event twice.
    pub fn route_via(&mut self, event: &HubEvent, rank: usize, topics: usize) -> Vec<ConnId> {
        let mut to = self.route(event);
        if topics > 1 {
            let topics = event.topics();
            to.retain(|id| topics.iter().position(|topic| self.covers(topic, *id)) == Some(rank));
        }
        to
    }

    fn covers(&self, topic: &Topic, id: ConnId) -> bool {
        match topic {
            Topic::Conversation(c) => self.by_conversation.get(c).is_some_and(|conns| conns.contains(&id)),
            Topic::User(u) => self.conns.get(&id).is_some_and(|conn| conn.user == *u),
        }
    }

    /// Applies what `event` changes about who receives what, and returns the
    /// connections it must be delivered to.
    pub fn route(&mut self, event: &HubEvent) -> Vec<ConnId> {
        let mut to: Vec<ConnId> = match event {
            HubEvent::Message { message } => {
                let conversation = &message.conversation_id;
                if self.by_conversation.contains_key(conversation) {
                    let seen = self.seen.entry(conversation.clone()).or_default();
                    *seen = (*seen).max(message.seq);
                }
                self.in_conversation(conversation)
            }
            HubEvent::Joined { conversation_id, user_id } => {
                for id in self.of_user(user_id) {
                    self.receive(conversation_id, id);
                }
                self.in_conversation(conversation_id)
            }
            HubEvent::Left { conversation_id, user_id } => {
                // Everyone who was in, the leaver's own connections included, hears it.
                let to = self.in_conversation(conversation_id);
                for id in self.of_user(user_id) {
                    self.unreceive(conversation_id, id);
                }
                to
            }
            HubEvent::Read { user_id, .. } | HubEvent::Invited { user_id, .. } | HubEvent::Blocks { user_id } => {
                self.of_user(user_id)
            }
            // Those named, on their connections that receive the conversation.
            HubEvent::Receipt { conversation_id, to, .. } => {
                let receiving = self.by_conversation.get(conversation_id);
                to.iter()
                    .flat_map(|user| self.of_user(user))
                    .filter(|id| receiving.is_some_and(|conns| conns.contains(id)))
                    .collect()
            }
            HubEvent::Updated { conversation_id, .. } | HubEvent::Typing { conversation_id, .. } => {
                self.in_conversation(conversation_id)
            }
            HubEvent::Presence { shown, .. } => {
                let mut to: Vec<ConnId> = shown.iter().flat_map(|(c, _)| self.in_conversation(c)).collect();
                to.sort_unstable();
                to.dedup();
                to
            }
            HubEvent::SignedOut { user_id, device_id, .. } => self
                .of_user(user_id)
                .into_iter()
                .filter(|id| self.conns.get(id).is_some_and(|c| &c.device == device_id))
                .collect(),
            // 1:1 calls: to the users concerned; each connection keeps what is for its tab.
            HubEvent::CallRing { call } => self.of_user(&call.callee_id),
            HubEvent::CallRejoined { peer_id: user_id, .. } | HubEvent::CallSignal { to_user: user_id, .. } => self.of_user(user_id),
            HubEvent::CallAnswered { caller_id, callee_id, .. } | HubEvent::CallEnded { caller_id, callee_id, .. } => {
                let mut to = self.of_user(caller_id);
                to.extend(self.of_user(callee_id));
                to
            }
            // Group calls and live broadcasts (the selective forwarding unit).
            HubEvent::Room { update } => self.in_conversation(&update.conversation_id),
        };
        to.sort_unstable();
        to
    }

    fn in_conversation(&self, conversation: &ConversationId) -> Vec<ConnId> {
        self.by_conversation.get(conversation).map(|s| s.iter().copied().collect()).unwrap_or_default()
    }

    fn of_user(&self, user: &UserId) -> Vec<ConnId> {
        self.by_user.get(user).map(|s| s.iter().copied().collect()).unwrap_or_default()
    }

    /// Number of open connections.
    pub fn len(&self) -> usize {
        self.conns.len()
    }
}

/// Adds `id` under `key`; true when the key is new.
fn add_to<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, HashSet<ConnId>>, key: &K, id: ConnId) -> bool {
    match map.get_mut(key) {
        Some(set) => {
            set.insert(id);
            false
        }
        None => {
            map.insert(key.clone(), HashSet::from([id]));
            true
        }
    }
}

/// Removes `id` from under `key`; true when that removed the key.
fn remove_from<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, HashSet<ConnId>>, key: &K, id: ConnId) -> bool {
    let Some(set) = map.get_mut(key) else { return false };
    set.remove(&id);
    if set.is_empty() {
        map.remove(key);
        return true;
    }
    false
}

#[cfg(test)]
mod tests {
    use wire::model::{Message, MessageId, MessageKind, Presence};

    use super::*;

    fn message(conversation: &str) -> HubEvent {
        HubEvent::Message {
            message: Message {
                id: MessageId::from("m"),
                conversation_id: ConversationId::from(conversation),
                seq: 1,
                sender_id: UserId::from("a"),
                client_id: "c".into(),
                kind: MessageKind::Text,
                content: "hi".into(),
                created_ms: 0,
                ..Default::default()
            },
        }
    }

    #[test]
    fn messages_reach_the_connections_of_the_conversation_only() {
        let mut hub = HubCore::default();
        let (c1, c2) = (ConversationId::from("c1"), ConversationId::from("c2"));
        let a1 = hub.connect(&UserId::from("a"), "laptop", std::slice::from_ref(&c1));
        let a2 = hub.connect(&UserId::from("a"), "phone", &[c1.clone(), c2.clone()]);
        let b = hub.connect(&UserId::from("b"), "laptop", std::slice::from_ref(&c2));
        assert_eq!(hub.route(&message("c1")), vec![a1, a2]);
        assert_eq!(hub.route(&message("c2")), vec![a2, b]);
        assert!(hub.route(&message("c3")).is_empty());
    }

    #[test]
    fn joining_and_leaving_change_who_receives() {
        let mut hub = HubCore::default();
        let c = ConversationId::from("c");
        let a = hub.connect(&UserId::from("a"), "d", std::slice::from_ref(&c));
        let b = hub.connect(&UserId::from("b"), "d", &[]);
        let joined = HubEvent::Joined { conversation_id: c.clone(), user_id: UserId::from("b") };
        assert_eq!(hub.route(&joined), vec![a, b]);
        assert_eq!(hub.route(&message("c")), vec![a, b]);
        let left = HubEvent::Left { conversation_id: c.clone(), user_id: UserId::from("b") };
        assert_eq!(hub.route(&left), vec![a, b], "the leaver hears it too");
        assert_eq!(hub.route(&message("c")), vec![a]);
    }

    #[test]
    fn presence_reaches_each_connection_of_the_conversations_once() {
        let mut hub = HubCore::default();
        let (c1, c2) = (ConversationId::from("c1"), ConversationId::from("c2"));
        let b = hub.connect(&UserId::from("b"), "d", &[c1.clone(), c2.clone()]);
        let c = hub.connect(&UserId::from("c"), "d", std::slice::from_ref(&c2));
        hub.connect(&UserId::from("d"), "d", &[]);
        let online = HubEvent::Presence {
            user_id: UserId::from("a"),
            shown: vec![(c1, Presence::Online), (c2, Presence::Online)],
        };
        assert_eq!(hub.route(&online), vec![b, c]);
    }

    #[test]
    fn call_events_reach_the_users_in_the_call() {
        use wire::call::{CallEnd, CallInfo, CallMedia, Signal};
        let mut hub = HubCore::default();
        let a = hub.connect(&UserId::from("a"), "d", &[]);
        let (b1, b2) = (hub.connect(&UserId::from("b"), "d1", &[]), hub.connect(&UserId::from("b"), "d2", &[]));
        hub.connect(&UserId::from("c"), "d", &[]);
        let caller = wire::api::PublicProfile {
            id: UserId::from("a"),
            nickname: "a".into(),
            gender: Default::default(),
            avatar: None,
            pinyin: String::new(),
        };
        let call = CallInfo {
            call_id: "k".into(),
            conversation_id: ConversationId::from("p-a-b"),
            caller,
            callee_id: UserId::from("b"),
            media: CallMedia::Voice,
            created_ms: 0,
        };
        assert_eq!(hub.route(&HubEvent::CallRing { call }), vec![b1, b2]);
        let signal = HubEvent::CallSignal {
            call_id: "k".into(),
            to_user: UserId::from("a"),
            to_endpoint: "n/1".into(),
            signal: Signal::Offer { sdp: "v=0".into() },
        };
        assert_eq!(hub.route(&signal), vec![a]);
        let ended = HubEvent::CallEnded {
            call_id: "k".into(),
            caller_id: UserId::from("a"),
            callee_id: UserId::from("b"),
            reason: CallEnd::HungUp,
            duration_ms: Some(1),
        };
        assert_eq!(hub.route(&ended), vec![a, b1, b2]);
    }

    #[test]
    fn sign_outs_reach_that_device_only_and_disconnects_clean_up() {
        let mut hub = HubCore::default();
        let c = ConversationId::from("c");
        let laptop = hub.connect(&UserId::from("a"), "laptop", std::slice::from_ref(&c));
        let phone = hub.connect(&UserId::from("a"), "phone", std::slice::from_ref(&c));
        let out = HubEvent::SignedOut { user_id: UserId::from("a"), device_id: "phone".into(), close_code: 4001 };
        assert_eq!(hub.route(&out), vec![phone]);
        let read = HubEvent::Read { conversation_id: c.clone(), user_id: UserId::from("a"), seq: 3, shown: 3 };
        assert_eq!(hub.route(&read), vec![laptop, phone]);
        let receipt = HubEvent::Receipt {
            conversation_id: c.clone(),
            receipt: wire::api::Receipt { user_id: UserId::from("b"), delivered_seq: 3, read_seq: 2 },
            to: vec![UserId::from("a"), UserId::from("z")],
        };
        assert_eq!(hub.route(&receipt), vec![laptop, phone], "to those named who receive the conversation");
        hub.disconnect(phone);
        hub.disconnect(phone);
        assert_eq!(hub.route(&message("c")), vec![laptop]);
        hub.disconnect(laptop);
        assert_eq!(hub.len(), 0);
        assert!(hub.by_conversation.is_empty() && hub.by_user.is_empty());
    }

    #[test]
    fn the_topics_a_node_needs_follow_its_connections() {
        let mut hub = HubCore::default();
        hub.track_topics();
        let (c, u) = (ConversationId::from("c"), UserId::from("a"));
        let a1 = hub.connect(&u, "d1", std::slice::from_ref(&c));
        let mut changed = hub.take_changed();
        changed.sort_by_key(|t| format!("{t:?}"));
        assert_eq!(changed, [Topic::Conversation(c.clone()), Topic::User(u.clone())]);
        let a2 = hub.connect(&u, "d2", std::slice::from_ref(&c));
        assert!(hub.take_changed().is_empty(), "already needed");
        hub.route(&message("c"));
        assert_eq!(hub.watched(), [(c.clone(), Some(1))]);
        hub.disconnect(a1);
        assert!(hub.take_changed().is_empty() && hub.needs(&Topic::Conversation(c.clone())));
        hub.disconnect(a2);
        assert_eq!(hub.take_changed().len(), 2);
        assert!(!hub.needs(&Topic::Conversation(c.clone())) && !hub.needs(&Topic::User(u)));
        assert!(hub.watched().is_empty() && hub.topics().is_empty());
    }

    #[test]
    fn a_joiner_needs_the_conversation_and_a_leaver_no_longer() {
        let mut hub = HubCore::default();
        hub.track_topics();
        let (c, b) = (ConversationId::from("c"), UserId::from("b"));
        hub.connect(&b, "d", &[]);
        hub.take_changed();
        hub.route(&HubEvent::Joined { conversation_id: c.clone(), user_id: b.clone() });
        assert_eq!(hub.take_changed(), [Topic::Conversation(c.clone())]);
        hub.route(&HubEvent::Left { conversation_id: c.clone(), user_id: b });
        assert_eq!(hub.take_changed(), [Topic::Conversation(c.clone())]);
        assert!(!hub.needs(&Topic::Conversation(c)));
    }

    #[test]
    fn each_connection_takes_one_copy_of_an_event_on_two_topics() {
        let mut hub = HubCore::default();
        let c = ConversationId::from("c");
        let a = hub.connect(&UserId::from("a"), "d", std::slice::from_ref(&c));
        let b = hub.connect(&UserId::from("b"), "d", &[]);
        let joined = HubEvent::Joined { conversation_id: c.clone(), user_id: UserId::from("b") };
        // Whichever copy comes first, the joiner's connection takes the user's, the others the conversation's.
        assert_eq!(hub.route_via(&joined, 1, 2), vec![a]);
        assert_eq!(hub.route_via(&joined, 0, 2), vec![b]);
        assert_eq!(hub.route_via(&message("c"), 0, 1), vec![a, b]);
    }
}
