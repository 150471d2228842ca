//! What the hubs of all nodes tell each other. Events carry no secrets and
//! serialize to JSON, so a cross-node bus (Redis) can carry them as they are.

use serde::{Deserialize, Serialize};
use wire::{
    api::Receipt,
    call::{CallEnd, CallId, CallInfo, Signal},
    model::{ConversationId, Message, Presence, UserId},
    room::RoomUpdate,
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubEvent {
    /// A message was stored.
    Message { message: Message },
    /// A user joined a conversation: their connections start receiving it.
    Joined { conversation_id: ConversationId, user_id: UserId },
    /// A user left or was removed: their connections stop receiving it.
    Left { conversation_id: ConversationId, user_id: UserId },
    /// A user was invited to a group: their connections hear of it.
    Invited { conversation_id: ConversationId, user_id: UserId },
    /// A member changed the conversation's settings.
    Updated { conversation_id: ConversationId, user_id: UserId },
    /// Someone blocked or unblocked the user, or the user someone: their
    /// connections look again at whose presence and typing they hide.
    Blocks { user_id: UserId },
    /// A user read a conversation up to `seq` (on one of their devices).
    Read { conversation_id: ConversationId, user_id: UserId, seq: u64, shown: u64 },
    /// A member's receipt moved: for the members `to` (those who see
    /// receipts, at most the receipts group limit), chosen when published.
    Receipt { conversation_id: ConversationId, receipt: Receipt, to: Vec<UserId> },
    /// How a user shows now in each of their conversations (see `crate::presence`).
    Presence { user_id: UserId, shown: Vec<(ConversationId, Presence)> },
    /// A user is typing in a conversation.
    Typing { conversation_id: ConversationId, user_id: UserId },
    /// A device's session ended: its connections close with `close_code`.
    SignedOut { user_id: UserId, device_id: String, close_code: u16 },
    // 1:1 calls (see `crate::calls`). Tabs are named by endpoint, `<node>/<connection>`.
    /// A call rings: every connection of the callee hears it.
    CallRing { call: CallInfo },
    /// The callee's tab `callee_endpoint` took the call.
    CallAnswered { call_id: CallId, caller_id: UserId, callee_id: UserId, caller_endpoint: String, callee_endpoint: String },
    /// After a reconnection `user_id`'s side of the call is held by `endpoint`.
    CallRejoined { call_id: CallId, user_id: UserId, peer_id: UserId, endpoint: String },
    /// A signal for one tab.
    CallSignal { call_id: CallId, to_user: UserId, to_endpoint: String, signal: Signal },
    CallEnded { call_id: CallId, caller_id: UserId, callee_id: UserId, reason: CallEnd, duration_ms: Option<u64> },
    // Group calls and live broadcasts (the selective forwarding unit).
    /// A room of a conversation started, changed or ended.
    Room { update: RoomUpdate },
}
