//! Server-relayed rooms of a group: a group call (voice or video) that
//! members join and leave freely, and a live broadcast one member sends and
//! the others watch. Media goes through the server's selective forwarding
//! unit; these are the types of its signalling over the websocket
//! (`ClientFrame::RoomJoin`, `RoomAnswer`, `RoomLeave`; `ServerFrame::RoomJoined`,
//! `RoomOffer`, `RoomLeft`, `Room`).
//!
//! Negotiation: the joining client sends an SDP offer holding what it
//! publishes (its microphone and camera, or nothing) and a data channel; the
//! server answers. From then on only the server offers: whenever another
//! participant's tracks come or go, it sends `RoomOffer` and the client
//! answers with `RoomAnswer`, so the two sides never offer at once.

use serde::{Deserialize, Serialize};

use crate::model::{ConversationId, Millis, UserId};

/// The two kinds of room a group may hold, at most one of each at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    /// A group call: every participant may publish and hears and sees the others.
    Call,
    /// A live broadcast: the broadcaster publishes, everyone else watches.
    Live,
}

/// How a client takes part in a room.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomRole {
    /// Sends its own media and receives the others' (a call participant).
    #[default]
    Participant,
    /// Starts a live broadcast: sends, receives nothing. Only one per room.
    Broadcaster,
    /// Watches a live broadcast: receives, sends nothing.
    Viewer,
}

/// A room as the members of its conversation see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomState {
    /// For a call: whether it was started as a video call.
    pub video: bool,
    pub started_ms: Millis,
    /// Call participants, or the broadcaster of a live room.
    pub participants: Vec<RoomParticipant>,
    /// How many watch a live room (0 for calls).
    pub viewers: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomParticipant {
    pub user_id: UserId,
    /// Their microphone carried sound within the last moment.
    pub speaking: bool,
}

/// The longest SDP the server reads, in bytes (the frame limit is larger,
/// even with the JSON escapes of its line ends). Every m-line of a full call
/// takes about 1.1 KB: the server's offers in a video call of 16 (32 m-lines)
/// measured 35 KB, and the answers are about as long.
pub const MAX_SDP_BYTES: usize = 48 * 1024;

/// Why the server took a client out of a room (`ServerFrame::RoomLeft`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomLeftReason {
    /// The client asked to leave.
    Left,
    /// The broadcast this client watched ended.
    Ended,
    /// The user is no longer a member of the conversation.
    Removed,
    /// The media connection failed or timed out.
    Failed,
    /// The user took their place in the room from another tab or device.
    Elsewhere,
}

/// The room of a conversation, for the `Room` frame (`state: null` once it ended).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomUpdate {
    pub conversation_id: ConversationId,
    pub kind: RoomKind,
    pub state: Option<RoomState>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_updates_keep_their_json_shape() {
        let update = RoomUpdate {
            conversation_id: ConversationId::from("c"),
            kind: RoomKind::Live,
            state: Some(RoomState {
                video: true,
                started_ms: 5,
                participants: vec![RoomParticipant { user_id: UserId::from("a"), speaking: false }],
                viewers: 3,
            }),
        };
        let json = serde_json::to_value(&update).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"conversation_id": "c", "kind": "live", "state": {"video": true, "started_ms": 5,
                "participants": [{"user_id": "a", "speaking": false}], "viewers": 3}})
        );
        let ended = RoomUpdate { state: None, ..update };
        assert_eq!(serde_json::to_value(&ended).unwrap()["state"], serde_json::Value::Null);
    }
}
