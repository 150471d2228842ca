//! An event on its way from this node's hub to each connection it concerns.

use std::sync::OnceLock;

use tokio_tungstenite::tungstenite::Utf8Bytes;
use wire::{model::Message, protocol::ServerFrame};

use super::event::HubEvent;

/// One event shared by all its recipients on this node. A message reaches a
/// whole conversation with the same frame, so it is serialized once, by the
/// first connection that sends it, rather than once per recipient.
pub struct Delivery {
    pub event: HubEvent,
    /// A stored message offered again by the bus's repairs, not a live one:
    /// only connections that follow its conversation's sequence take it.
    pub repair: bool,
    message_frame: OnceLock<Utf8Bytes>,
}

impl Delivery {
    pub fn new(event: HubEvent) -> Self {
        Delivery { event, repair: false, message_frame: OnceLock::new() }
    }

    pub fn repair(message: Message) -> Self {
        Delivery { event: HubEvent::Message { message }, repair: true, message_frame: OnceLock::new() }
    }

    /// The `message` frame of a message event, as JSON text.
    pub fn message_frame(&self) -> Option<Utf8Bytes> {
        let HubEvent::Message { message } = &self.event else { return None };
        let frame = self.message_frame.get_or_init(|| {
            let frame = ServerFrame::Message { message: message.clone() };
            serde_json::to_string(&frame).expect("frames serialize").into()
        });
        Some(frame.clone())
    }
}

#[cfg(test)]
mod tests {
    use wire::model::{ConversationId, Message, MessageId, MessageKind, UserId};

    use super::*;

    #[test]
    fn the_message_frame_is_the_protocol_frame_and_only_for_messages() {
        let message = Message {
            id: MessageId::from("m"),
            conversation_id: ConversationId::from("c"),
            seq: 7,
            sender_id: UserId::from("a"),
            client_id: "k".into(),
            kind: MessageKind::Text,
            content: "hi".into(),
            created_ms: 1,
            ..Default::default()
        };
        let delivery = Delivery::new(HubEvent::Message { message: message.clone() });
        let text = delivery.message_frame().unwrap();
        assert_eq!(serde_json::from_str::<ServerFrame>(text.as_str()).unwrap(), ServerFrame::Message { message });
        assert_eq!(delivery.message_frame().unwrap().as_str(), text.as_str());

        let typing = HubEvent::Typing { conversation_id: ConversationId::from("c"), user_id: UserId::from("a") };
        assert!(Delivery::new(typing).message_frame().is_none());
    }
}
