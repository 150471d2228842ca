//! Which bus channels each event travels on: one place for the whole map.
//!
//! A cluster's nodes do not all hear everything. An event goes to the
//! channel of its conversation, or of the user it is for, and a node listens
//! to the channels of the conversations and users its connections receive
//! (`core.rs` keeps the count). So a node hears exactly what one of its own
//! connections may need.
//!
//! Most events have one topic. A join has two (the joiner's devices must hear
//! it before their node listens to the conversation), and the end or answer
//! of a call goes to both its users. A node on both channels of such an event
//! hears it twice, so each copy carries its rank: a connection takes the copy
//! of the first topic that covers it (see [`super::core::HubCore::route_via`]).
//! A presence change is split into one event per conversation, each on its
//! conversation's channel.

use wire::model::{ConversationId, UserId};

use super::event::HubEvent;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    Conversation(ConversationId),
    User(UserId),
}

impl Topic {
    /// The channel's name under the deployment's namespace.
    pub fn channel(&self, namespace: &str) -> String {
        match self {
            Topic::Conversation(c) => format!("{namespace}:c:{c}"),
            Topic::User(u) => format!("{namespace}:u:{u}"),
        }
    }
}

impl HubEvent {
    /// The topics this event goes to, in rank order. A presence change with
    /// several conversations has several; [`HubEvent::pieces`] splits it first.
    pub fn topics(&self) -> Vec<Topic> {
        let c = |id: &ConversationId| Topic::Conversation(id.clone());
        let u = |id: &UserId| Topic::User(id.clone());
        match self {
            HubEvent::Message { message } => vec![c(&message.conversation_id)],
            HubEvent::Joined { conversation_id, user_id } => vec![u(user_id), c(conversation_id)],
            HubEvent::Left { conversation_id, .. }
            | HubEvent::Updated { conversation_id, .. }
            | HubEvent::Typing { conversation_id, .. }
            | HubEvent::Receipt { conversation_id, .. } => vec![c(conversation_id)],
            HubEvent::Room { update } => vec![c(&update.conversation_id)],
            HubEvent::Presence { shown, .. } => shown.iter().map(|(id, _)| c(id)).collect(),
            HubEvent::Read { user_id, .. }
            | HubEvent::Invited { user_id, .. }
            | HubEvent::Blocks { user_id }
            | HubEvent::SignedOut { user_id, .. }
            | HubEvent::CallRejoined { peer_id: user_id, .. }
            | HubEvent::CallSignal { to_user: user_id, .. } => vec![u(user_id)],
            HubEvent::CallRing { call } => vec![u(&call.callee_id)],
            HubEvent::CallAnswered { caller_id, callee_id, .. } | HubEvent::CallEnded { caller_id, callee_id, .. } => {
                vec![u(caller_id), u(callee_id)]
            }
        }
    }

    /// The event as it is published: a presence change as one event per
    /// conversation, anything else whole.
    pub fn pieces(self) -> Vec<HubEvent> {
        match self {
            HubEvent::Presence { user_id, shown } if shown.len() > 1 => shown
                .into_iter()
                .map(|entry| HubEvent::Presence { user_id: user_id.clone(), shown: vec![entry] })
                .collect(),
            event => vec![event],
        }
    }
}

#[cfg(test)]
mod tests {
    use wire::model::Presence;

    use super::*;

    #[test]
    fn channels_are_named_under_the_namespace() {
        assert_eq!(Topic::Conversation(ConversationId::from("g1")).channel("natter:db"), "natter:db:c:g1");
        assert_eq!(Topic::User(UserId::from("u1")).channel("natter:db"), "natter:db:u:u1");
    }

    #[test]
    fn a_join_goes_to_the_joiner_first_then_the_conversation() {
        let joined = HubEvent::Joined { conversation_id: ConversationId::from("c"), user_id: UserId::from("u") };
        assert_eq!(
            joined.topics(),
            [Topic::User(UserId::from("u")), Topic::Conversation(ConversationId::from("c"))]
        );
    }

    #[test]
    fn presence_is_split_into_one_event_per_conversation() {
        let shown = vec![(ConversationId::from("a"), Presence::Online), (ConversationId::from("b"), Presence::Away)];
        let pieces = HubEvent::Presence { user_id: UserId::from("u"), shown }.pieces();
        assert_eq!(pieces.len(), 2);
        for (piece, id) in pieces.iter().zip(["a", "b"]) {
            assert_eq!(piece.topics(), [Topic::Conversation(ConversationId::from(id))]);
        }
    }
}
