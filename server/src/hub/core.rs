//! The hub's routing state, with no sockets and no clock inside: it is told
//! who connected, who left which conversation, and which events happened, and
//! answers which connections each event goes to. `Hub` (in `mod.rs`) wraps it
//! with the channels; tests drive it directly.

use std::collections::{HashMap, HashSet};

use wire::model::{ConversationId, UserId};

use super::event::HubEvent;

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
    next_id: ConnId,
}

impl HubCore {
    /// Adds a connection of `user` that receives `conversations`.
    pub fn connect(&mut self, user: &UserId, device: &str, conversations: &[ConversationId]) -> ConnId {
        self.next_id += 1;
        let id = self.next_id;
        self.conns.insert(id, Conn { user: user.clone(), device: device.to_owned() });
        self.by_user.entry(user.clone()).or_default().insert(id);
        for conversation in conversations {
            self.by_conversation.entry(conversation.clone()).or_default().insert(id);
        }
        id
    }

    /// How many connections `user`'s `device` has on this node.
    pub fn device_connections(&self, user: &UserId, device: &str) -> usize {
        let Some(ids) = self.by_user.get(user) else { return 0 };
        ids.iter().filter(|id| self.conns.get(id).is_some_and(|c| c.device == device)).count()
    }

    pub fn disconnect(&mut self, id: ConnId) {
        let Some(conn) = self.conns.remove(&id) else { return };
        remove_from(&mut self.by_user, &conn.user, id);
        self.by_conversation.retain(|_, conns| {
            conns.remove(&id);
            !conns.is_empty()
        });
    }

    /// Applies what `event` changes about who receives what, and returns the
    /// connections it must be delivered to.
    pub fn route(&mut self, event: &HubEvent) -> Vec<ConnId> {
        let mut to: Vec<ConnId> = match event {
            HubEvent::Message { message } => self.in_conversation(&message.conversation_id),
            HubEvent::Joined { conversation_id, user_id } => {
                for id in self.of_user(user_id) {
                    self.by_conversation.entry(conversation_id.clone()).or_default().insert(id);
                }
                self.in_conversation(conversation_id)
            }
            HubEvent::Left { conversation_id, user_id } => {
                // Everyone who was in, the leaver's own connections included, hears it.
                let to = self.in_conversation(conversation_id);
                for id in self.of_user(user_id) {
                    remove_from(&mut self.by_conversation, conversation_id, id);
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

fn remove_from<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, HashSet<ConnId>>, key: &K, id: ConnId) {
    if let Some(set) = map.get_mut(key) {
        set.remove(&id);
        if set.is_empty() {
            map.remove(key);
        }
    }
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
}
