//! The wire contract shared by the server, the browser, the tests and the load
//! generator: API error bodies, stable error codes and status documents.
//! Changing a shape here is a protocol change: bump [`PROTOCOL_VERSION`].

use serde::{Deserialize, Serialize};

pub use crate::error::{ApiError, ErrorCode};

/// Version of the HTTP API and websocket frames defined in this module.
pub const PROTOCOL_VERSION: u16 = 5;

/// Answer of `GET /readyz`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    pub ready: bool,
    /// `"embedded"` or `"mongodb"`.
    pub store: String,
    /// Why the store is not usable, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store_error: Option<String>,
    pub node_id: String,
    pub protocol_version: u16,
}

/// Websocket endpoint; one connection per browser tab carries every conversation.
pub const WS_PATH: &str = "/ws";
/// Largest frame the server reads; larger ones get [`WsErrorCode::FrameTooLarge`].
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Longest message text, in characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Longest client id of a message.
pub const MAX_CLIENT_ID_CHARS: usize = 64;

/// Frames the client sends, as JSON text: `{"type": "send", …}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Sends a message. `client_id` is the client's own id for it: sending
    /// the same id again (after a dropped connection) stores it once.
    Send {
        conversation_id: crate::model::ConversationId,
        client_id: String,
        #[serde(default)]
        kind: crate::model::MessageKind,
        /// The text, or the caption of an attachment (may then be empty).
        content: String,
        /// The user's own uploaded file, for image, voice, video and file messages.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        attachment: Option<AttachmentRef>,
        /// For a change (edit, delete, reaction, pin; the `kind` says which):
        /// the seq of the message it changes. An edit's new text, or a
        /// reaction's emoji, is the `content`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<u64>,
        /// The seq of the message this one answers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<u64>,
        /// Members the text mentions; others are dropped. `all` (owners and admins only) is everyone.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<crate::model::UserId>,
    },
    /// The client has every message of these conversations up to the given
    /// sequence number; the server sends what follows, then the live stream.
    /// Conversations left out start from the live stream. The server starts
    /// the live stream after the client's first frame, so a client sends this
    /// first (with no positions if it has nothing to catch up on).
    Resume { positions: Vec<Position> },
    /// The user has read the conversation up to `seq`.
    Read { conversation_id: crate::model::ConversationId, seq: u64 },
    /// This device has received the conversation's messages up to `seq`
    /// (clients send it a moment after messages arrive, not for each one).
    Delivered { conversation_id: crate::model::ConversationId, seq: u64 },
    /// Keep-alive; answered with [`ServerFrame::Pong`].
    Ping,
    /// Whether the person is using this device: after a while without input
    /// the client says `false`, and the user shows as away while no device
    /// says `true`. Every connection starts active.
    Activity { active: bool },
    /// The conversation this tab shows while its page is visible and
    /// focused; `None` when it shows none, is hidden or in the background.
    /// A member with a device in view of a conversation is not pushed its
    /// messages (the page tells them). Every connection starts with none;
    /// a conversation the user is not in counts as none.
    Viewing {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation_id: Option<crate::model::ConversationId>,
    },
    /// The user is typing in the conversation; members hear it as
    /// [`ServerFrame::Typing`]. Clients repeat it every few seconds while typing.
    Typing { conversation_id: crate::model::ConversationId },
    // 1:1 calls (see `crate::call`).
    /// Calls `callee_id`, the other member of the private chat: every tab of
    /// the callee rings ([`ServerFrame::CallIncoming`]); this tab hears
    /// [`ServerFrame::CallRinging`], or an error (`busy`, `cannot_call`, …).
    CallInvite {
        conversation_id: crate::model::ConversationId,
        callee_id: crate::model::UserId,
        media: crate::call::CallMedia,
    },
    /// Takes a ringing call on this tab; the first tab to accept wins.
    CallAccept { call_id: crate::call::CallId },
    /// Declines a ringing call (every tab of the callee stops ringing).
    CallDecline { call_id: crate::call::CallId },
    /// Ends the call this tab is in: cancels it while it rings, hangs up once answered.
    CallHangup { call_id: crate::call::CallId },
    /// Passes a signal to the other tab in the call.
    CallSignal { call_id: crate::call::CallId, signal: crate::call::Signal },
    /// After a reconnection: this tab takes its side of the call back.
    CallRejoin { call_id: crate::call::CallId },
    // Group calls and live broadcasts (the selective forwarding unit; see `crate::room`).
    /// Joins the conversation's room of `kind` (starting it if there is
    /// none, except for viewers) with an SDP offer; answered by
    /// [`ServerFrame::RoomJoined`].
    RoomJoin {
        conversation_id: crate::model::ConversationId,
        kind: crate::room::RoomKind,
        #[serde(default)]
        role: crate::room::RoomRole,
        /// For a call this client starts: whether it is a video call.
        #[serde(default)]
        video: bool,
        sdp: String,
    },
    /// Answers the server's [`ServerFrame::RoomOffer`].
    RoomAnswer { conversation_id: crate::model::ConversationId, kind: crate::room::RoomKind, sdp: String },
    /// Leaves the room (a broadcaster leaving ends the broadcast).
    RoomLeave { conversation_id: crate::model::ConversationId, kind: crate::room::RoomKind },
}

/// How long a [`ServerFrame::Typing`] shows without being repeated, in ms.
pub const TYPING_SHOWS_MS: u64 = 6000;

pub use crate::model::AttachmentRef;

/// Positions one [`ClientFrame::Resume`] may hold (a client in more
/// conversations names its most recently active ones).
pub const MAX_RESUME_POSITIONS: usize = 1000;
/// Messages of one conversation a resume replays at most; earlier ones are
/// [`ServerFrame::Skipped`].
pub const MAX_REPLAY_PER_CONVERSATION: u64 = 200;
/// Messages one resume replays at most, over all its conversations.
pub const MAX_REPLAY_PER_RESUME: u64 = 2000;

/// How far a client has a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub conversation_id: crate::model::ConversationId,
    pub seq: u64,
}

/// Frames the server sends, as JSON text: `{"type": "message", …}`.
///
/// The browser reads them with [`ServerFrame::from_json`], through serde's
/// externally tagged form (`{"message": {…}}`): serde reads an internally
/// tagged enum by buffering each frame and its every nested type through a
/// second, generic deserializer, which made this one derive the largest
/// piece of the browser's wasm. The wire format is the same everywhere.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(not(feature = "browser"), serde(tag = "type"))]
#[serde(rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame of every connection.
    Hello { protocol_version: u16, user_id: crate::model::UserId, node_id: String },
    /// A stored message, live or caught up; per conversation in `seq` order, each once.
    Message { message: crate::model::Message },
    /// A resume's replay leaves out the conversation's messages up to
    /// `upto` (more than one replay carries, see [`MAX_REPLAY_PER_CONVERSATION`]):
    /// the client drops what it holds of the conversation, the replay goes
    /// on from `upto + 1`, and history pages fetch the rest when wanted.
    Skipped { conversation_id: crate::model::ConversationId, upto: u64 },
    /// The sender's message is stored durably under `seq`.
    Ack {
        client_id: String,
        conversation_id: crate::model::ConversationId,
        seq: u64,
        message_id: crate::model::MessageId,
        /// The entry's shown number (see [`crate::model::Message::shown`]).
        #[serde(default)]
        shown: u64,
        /// True when this client id had been stored before.
        duplicate: bool,
        /// The text as stored, when it differs from what was sent (the
        /// server turns `:shortcodes:` into emoji and masks listed words).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<String>,
    },
    /// Something happened in a conversation (seed 000's notices).
    Notice { conversation_id: crate::model::ConversationId, user_id: crate::model::UserId, notice: NoticeKind },
    /// One of the user's devices read a conversation up to `seq`, shown number `shown`.
    Read {
        conversation_id: crate::model::ConversationId,
        seq: u64,
        #[serde(default)]
        shown: u64,
    },
    /// Another member's receipt moved (private chats and groups up to the
    /// receipt limit; only between users who both send receipts).
    Receipt { conversation_id: crate::model::ConversationId, receipt: crate::api::Receipt },
    /// How a member shows in a conversation now (sent on every change).
    Presence {
        conversation_id: crate::model::ConversationId,
        user_id: crate::model::UserId,
        presence: crate::model::Presence,
    },
    /// A member is typing; shows for [`TYPING_SHOWS_MS`] unless repeated.
    Typing { conversation_id: crate::model::ConversationId, user_id: crate::model::UserId },
    Pong,
    // 1:1 calls (see `crate::call`).
    /// To the calling tab: the call exists and the callee's tabs ring.
    CallRinging { call: crate::call::CallInfo },
    /// To every tab of the callee: someone calls.
    CallIncoming { call: crate::call::CallInfo },
    /// To the two tabs in the call: the callee's tab took it; the caller sends the offer.
    CallAccepted { call_id: crate::call::CallId },
    /// From the other tab in the call.
    CallSignal { call_id: crate::call::CallId, signal: crate::call::Signal },
    /// The call ended, or stopped ringing on this tab. `duration_ms` counts
    /// from the answer, for a call that was answered.
    CallEnded {
        call_id: crate::call::CallId,
        reason: crate::call::CallEnd,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_ms: Option<u64>,
    },
    // Group calls and live broadcasts (the selective forwarding unit; see `crate::room`).
    /// The server's SDP answer to this client's [`ClientFrame::RoomJoin`].
    RoomJoined { conversation_id: crate::model::ConversationId, kind: crate::room::RoomKind, sdp: String },
    /// Other participants' tracks came or went: the client answers with
    /// [`ClientFrame::RoomAnswer`]. Each incoming stream's id is the user id
    /// of the participant it comes from.
    RoomOffer { conversation_id: crate::model::ConversationId, kind: crate::room::RoomKind, sdp: String },
    /// This client is out of the room, and why.
    RoomLeft {
        conversation_id: crate::model::ConversationId,
        kind: crate::room::RoomKind,
        reason: crate::room::RoomLeftReason,
    },
    /// A room of one of the user's conversations started, changed or ended
    /// (sent on every change, and for each room in progress when the
    /// connection opens).
    Room { room: crate::room::RoomUpdate },
    /// A request failed; the connection stays open. `client_id` names the send it answers.
    Error {
        code: WsErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// (Protocol 5.) With [`WsErrorCode::Retry`] for a send the server
        /// held while its readers were behind, and with
        /// [`WsErrorCode::RateLimited`]: how long to wait before sending
        /// again, in milliseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}

impl ServerFrame {
    /// Reads a frame as the server sends it.
    pub fn from_json(text: &str) -> serde_json::Result<ServerFrame> {
        #[cfg(feature = "browser")]
        let frame = {
            let text = externally_tagged(text).ok_or_else(|| serde::de::Error::custom("a frame must start with its type"))?;
            // Through `Value`: the browser's JSON parser is then one instance
            // of serde_json's, whatever it reads (see the app's `client::from_json`).
            serde_json::from_str::<serde_json::Value>(&text).and_then(serde_json::from_value)
        };
        #[cfg(not(feature = "browser"))]
        let frame = serde_json::from_str(text);
        frame
    }
}

/// `{"type":"x","a":1}` as `{"x":{"a":1}}`, and `{"type":"x"}` as `"x"`:
/// serde writes the tag of an internally tagged enum first, and the server
/// writes compact JSON, so the frame's type is a fixed prefix.
#[cfg_attr(not(any(feature = "browser", test)), allow(dead_code))]
fn externally_tagged(text: &str) -> Option<String> {
    let rest = text.strip_prefix(r#"{"type":""#)?;
    let (tag, rest) = rest.split_once('"')?;
    if rest == "}" {
        return Some(format!(r#""{tag}""#));
    }
    let fields = rest.strip_prefix(',')?;
    Some(format!(r#"{{"{tag}":{{{fields}}}"#))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Join,
    Leave,
    /// The user was removed from the conversation, or refused entry.
    Reject,
    /// The user (the one receiving this) was invited to the group.
    Invite,
    /// The user changed the group's name, description or settings.
    Update,
}

/// Stable codes of websocket error frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WsErrorCode {
    /// Not JSON, or not a known frame.
    BadFrame,
    FrameTooLarge,
    /// A field is invalid: empty text, a bad client id, an unknown kind for the content.
    BadRequest,
    TooLong,
    NotMember,
    RateLimited,
    Unauthorized,
    /// Nothing was stored; send again later: the store is unreachable, or
    /// the server held the send while its readers were behind and then
    /// refused it (with `retry_after_ms`).
    Retry,
    Internal,
    /// The text holds a word the server's sensitive-word list refuses: nothing was stored.
    ContentRefused,
    /// The other user does not take messages or calls from this user
    /// (their privacy settings, or a block either way; which is not said).
    NotAccepting,
    // 1:1 calls.
    /// The call does not exist (any more), or this tab is not in it.
    NotInCall,
    /// Not a call one can make: to oneself, to someone outside the private
    /// chat, in a group (group calls are rooms).
    CannotCall,
    /// A session description or ICE candidate of the wrong size or shape.
    BadSignal,
    /// The callee, or the caller, is in another call already.
    Busy,
    /// The user placed calls too often; wait a moment.
    CallRateLimited,
    // Group calls and live broadcasts (the selective forwarding unit).
    /// An SDP offer or answer that cannot be parsed or accepted.
    BadSdp,
    /// The room does not exist, or this connection is not in it.
    NoRoom,
    /// Someone else is broadcasting in this conversation already, or the call is full.
    RoomFull,
    /// The user joined rooms too often; wait a moment.
    RoomRateLimited,
    /// The server cannot relay media now (its UDP port could not be opened).
    MediaUnavailable,
    // Changes to messages (see `crate::fold`).
    /// The user may not do this to this message: another's message, or no right in the group.
    Forbidden,
    /// The change names a seq that holds no message.
    NoSuchMessage,
    /// The message was deleted: it takes no more changes or replies.
    MessageDeleted,
    /// Edits are allowed only for a while after sending.
    EditWindowClosed,
    /// The message has as many different reactions as it may.
    TooManyReactions,
}

impl WsErrorCode {
    /// Whether the code answers a call frame (which carries no client id).
    pub fn is_call_error(self) -> bool {
        matches!(
            self,
            WsErrorCode::NotInCall
                | WsErrorCode::CannotCall
                | WsErrorCode::BadSignal
                | WsErrorCode::Busy
                | WsErrorCode::CallRateLimited
                | WsErrorCode::NotAccepting
        )
    }

    /// Codes only a room's signalling (join, answer) is refused with: the
    /// open room hears them, whatever step they answer.
    pub fn is_room_error(self) -> bool {
        matches!(
            self,
            WsErrorCode::BadSdp
                | WsErrorCode::NoRoom
                | WsErrorCode::RoomFull
                | WsErrorCode::RoomRateLimited
                | WsErrorCode::MediaUnavailable
        )
    }
}

/// Close codes the server ends a websocket with, beyond the standard ones.
pub mod close {
    /// The device signed in again elsewhere with the same device id.
    pub const SIGNED_IN_AGAIN: u16 = 4001;
    /// The device was signed out (by the user, or by a password change).
    pub const SIGNED_OUT: u16 = 4002;
    /// The user (or this device) has as many connections open as the server
    /// allows; the client waits before trying again.
    pub const TOO_MANY_CONNECTIONS: u16 = 4003;
    /// The server is shutting down; reconnect to another node or later.
    pub const GOING_AWAY: u16 = 1001;
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value};

    use super::*;
    use crate::model::{ConversationId, UserId};

    /// What `externally_tagged` must make of a frame the server writes.
    fn expected(frame: &ServerFrame) -> Value {
        let Value::Object(mut fields) = serde_json::to_value(frame).unwrap() else { panic!("frames are objects") };
        let Some(Value::String(tag)) = fields.remove("type") else { panic!("frames have a type") };
        if fields.is_empty() {
            Value::String(tag)
        } else {
            Value::Object(Map::from_iter([(tag, Value::Object(fields))]))
        }
    }

    #[test]
    #[cfg_attr(feature = "browser", ignore = "frames must be written as the server writes them, without `browser`")]
    fn frames_read_in_the_browser_form_are_the_frames_sent() {
        let frames = [
            ServerFrame::Pong,
            ServerFrame::Read { conversation_id: ConversationId("c1".into()), seq: 7, shown: 5 },
            ServerFrame::Typing { conversation_id: ConversationId("c\"1}".into()), user_id: UserId("u{,}".into()) },
            ServerFrame::Error {
                code: WsErrorCode::BadFrame,
                message: r#"{"type":"x"}"#.into(),
                client_id: None,
                retry_after_ms: None,
            },
            ServerFrame::Error {
                code: WsErrorCode::Retry,
                message: "busy".into(),
                client_id: Some("k".into()),
                retry_after_ms: Some(900),
            },
        ];
        for frame in frames {
            let text = serde_json::to_string(&frame).unwrap();
            let browser = externally_tagged(&text).unwrap();
            assert_eq!(serde_json::from_str::<Value>(&browser).unwrap(), expected(&frame), "{text}");
            assert_eq!(ServerFrame::from_json(&text).unwrap(), frame);
        }
    }

    #[test]
    fn a_frame_not_starting_with_its_type_is_refused() {
        for text in [r#"{"seq":1,"type":"read"}"#, r#"{ "type":"pong"}"#, "[]", "", r#"{"type":"pong""#] {
            assert_eq!(externally_tagged(text), None, "{text}");
        }
    }
}
