//! Domain types that travel between server, browser and tools: identifiers,
//! users' public data and messages. Store-only fields (password hashes, …)
//! never appear here.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

id_type!(
    /// A user's opaque, permanent id (a UUIDv7 string made by the server).
    UserId
);
id_type!(
    /// A conversation's opaque, permanent id.
    ConversationId
);
id_type!(
    /// A stored message's opaque, permanent id.
    MessageId
);
id_type!(
    /// An uploaded file's opaque, permanent id: one upload (or instant
    /// upload) by one user, whatever content it shares with others.
    FileId
);

/// Milliseconds since the Unix epoch, UTC: the one time format on the wire.
pub type Millis = i64;

/// Seed 000's `gender` field (0 unknown, 1 male, 2 female).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    #[default]
    Unknown,
    Male,
    Female,
}

impl Gender {
    /// The seed's numeric code, which is also how the stores keep it.
    pub fn code(self) -> i32 {
        match self {
            Gender::Unknown => 0,
            Gender::Male => 1,
            Gender::Female => 2,
        }
    }

    pub fn from_code(code: i32) -> Option<Gender> {
        [Gender::Unknown, Gender::Male, Gender::Female].into_iter().find(|g| g.code() == code)
    }
}

/// Seed 000's `msgtype`: what a message carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    #[default]
    Text,
    Image,
    Voice,
    Video,
    File,
    VoiceCall,
    VideoCall,
    /// A live broadcast to a group; carries a [`CallRecord`] once it ended.
    LiveStream,
    // The changes: entries of the sequence that change the earlier message
    // their `target` names. Members see the message changed, never these.
    /// Its sender's new text for the target (a text or a caption).
    Edit,
    /// The target's text and attachment are gone; the sender removed it.
    Delete,
    /// The sender reacted to the target with the emoji in `content`.
    React,
    /// The sender took back their reaction `content`.
    Unreact,
    Pin,
    Unpin,
}

impl MessageKind {
    pub const ALL: [MessageKind; 14] = [
        MessageKind::Text,
        MessageKind::Image,
        MessageKind::Voice,
        MessageKind::Video,
        MessageKind::File,
        MessageKind::VoiceCall,
        MessageKind::VideoCall,
        MessageKind::LiveStream,
        MessageKind::Edit,
        MessageKind::Delete,
        MessageKind::React,
        MessageKind::Unreact,
        MessageKind::Pin,
        MessageKind::Unpin,
    ];

    /// Whether entries of this kind change an earlier message rather than
    /// show as one (and so count for no one's unread).
    pub fn is_change(self) -> bool {
        matches!(
            self,
            MessageKind::Edit
                | MessageKind::Delete
                | MessageKind::React
                | MessageKind::Unreact
                | MessageKind::Pin
                | MessageKind::Unpin
        )
    }

    /// The seed's numeric code, which is also how the stores keep it.
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: i32) -> Option<MessageKind> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The name it has in JSON and in query strings.
    pub fn name(self) -> &'static str {
        match self {
            MessageKind::Text => "text",
            MessageKind::Image => "image",
            MessageKind::Voice => "voice",
            MessageKind::Video => "video",
            MessageKind::File => "file",
            MessageKind::VoiceCall => "voice_call",
            MessageKind::VideoCall => "video_call",
            MessageKind::LiveStream => "live_stream",
            MessageKind::Edit => "edit",
            MessageKind::Delete => "delete",
            MessageKind::React => "react",
            MessageKind::Unreact => "unreact",
            MessageKind::Pin => "pin",
            MessageKind::Unpin => "unpin",
        }
    }
}

/// A message as stored and delivered. `seq` numbers the messages of one
/// conversation 1, 2, 3, … with no gap and no repeat, whichever node stored them.
/// Messages and the changes to them share that sequence (see [`crate::fold`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    pub conversation_id: ConversationId,
    pub seq: u64,
    /// How many messages members see up to this entry: changes are not
    /// counted, so unread counts are differences of these.
    #[serde(default)]
    pub shown: u64,
    pub sender_id: UserId,
    /// The sender's own id for the message, which makes resending idempotent.
    pub client_id: String,
    pub kind: MessageKind,
    /// The text, or an attachment's caption (possibly empty).
    pub content: String,
    pub created_ms: Millis,
    /// The file an image, voice, video or file message carries (boxed:
    /// most messages have none, and a message travels in many enums).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Box<Attachment>>,
    /// What a voice call, video call or live broadcast came to (the server
    /// makes these messages; boxed like the attachment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<Box<CallRecord>>,
    /// For a change ([`MessageKind::is_change`]): the seq of the message it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<u64>,
    /// The seq of the message this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<u64>,
    /// The members the text mentions, by id (`@all` is [`MENTION_ALL`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<UserId>,
}

/// The mention of every member of a group, which owners and admins may make.
pub const MENTION_ALL: &str = "all";

/// Names a file the sender uploaded (`POST /api/files`) for a message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    pub file_id: FileId,
    /// A voice note's or video's length in milliseconds, as recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// What a voice call, video call or live broadcast message records.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallRecord {
    pub outcome: CallOutcome,
    /// How long it lasted once answered (or broadcast), in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcome {
    /// Nobody answered in time.
    Missed,
    Declined,
    /// The caller gave up before an answer.
    Cancelled,
    /// The callee was in another call.
    Busy,
    /// It was answered (or broadcast) and then ended; see the duration.
    Ended,
}

/// A file as a message carries it: what the message list needs to show it
/// without asking the server again. Served at `/api/files/{file_id}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attachment {
    pub file_id: FileId,
    /// The uploader's name for it, cleaned ([`crate::api::check_file_name`]).
    pub name: String,
    /// The type sniffed from the bytes, never the client's claim.
    pub mime: String,
    pub size: u64,
    /// Hex SHA-256 of the uploaded bytes.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// A voice note's or video's length, as the sender's client measured it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Whether `/api/files/{file_id}/thumbnail` exists (decodable images).
    #[serde(default)]
    pub thumbnail: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for k in MessageKind::ALL {
            assert_eq!(MessageKind::from_code(k.code()), Some(k));
        }
        assert_eq!(MessageKind::VideoCall.code(), 6);
        assert_eq!(MessageKind::LiveStream.code(), 7);
        assert_eq!((MessageKind::Edit.code(), MessageKind::Unpin.code()), (8, 13));
        assert_eq!(MessageKind::from_code(14), None);
        for k in MessageKind::ALL {
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.name()));
        }
        assert_eq!(Gender::from_code(2), Some(Gender::Female));
        assert_eq!(Gender::from_code(3), None);
    }

    #[test]
    fn a_private_chat_names_its_two_users() {
        let (ann, bob) = (UserId::from("ann-1"), UserId::from("bob"));
        let id = Conversation::private_id(&ann, &bob);
        assert_eq!(Conversation::private_peer(&id, &ann), Some(bob.clone()));
        assert_eq!(Conversation::private_peer(&id, &bob), Some(ann));
        assert_eq!(Conversation::private_peer(&id, &UserId::from("cat")), None);
        assert_eq!(Conversation::private_peer(&ConversationId::from("g1"), &bob), None);
    }

    #[test]
    fn presence_follows_status_connection_and_activity() {
        use Presence as P;
        assert_eq!(P::shown(Status::Online, true, true), P::Online);
        assert_eq!(P::shown(Status::Online, true, false), P::Away);
        assert_eq!(P::shown(Status::Busy, true, false), P::Busy);
        assert_eq!(P::shown(Status::Away, true, true), P::Away);
        assert_eq!(P::shown(Status::Invisible, true, true), P::Offline);
        for status in Status::ALL {
            assert_eq!(P::shown(status, false, false), P::Offline);
        }
    }

    #[test]
    fn call_records_are_small_json() {
        let missed = CallRecord { outcome: CallOutcome::Missed, duration_ms: None };
        assert_eq!(serde_json::to_string(&missed).unwrap(), r#"{"outcome":"missed"}"#);
        let ended: CallRecord = serde_json::from_str(r#"{"outcome":"ended","duration_ms":61000}"#).unwrap();
        assert_eq!(ended.duration_ms, Some(61000));
    }

    #[test]
    fn ids_are_plain_strings_on_the_wire() {
        let json = serde_json::to_string(&UserId::from("u1")).unwrap();
        assert_eq!(json, "\"u1\"");
    }
}

/// What a user chooses to show others (seed 000 item 20), everywhere or in
/// one conversation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Online,
    Away,
    Busy,
    /// Connected, but shown as offline and left out of online lists and counts.
    Invisible,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Online, Status::Away, Status::Busy, Status::Invisible];
}

/// What others see of a user: their chosen [`Status`] while connected,
/// `Away` on its own after a while without activity, `Offline` otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Online,
    Away,
    Busy,
    #[default]
    Offline,
}

impl Presence {
    /// How a user with `status` shows, given whether any of their devices is
    /// connected and whether any connected one is in use.
    pub fn shown(status: Status, connected: bool, active: bool) -> Presence {
        match (connected, status) {
            (false, _) | (true, Status::Invisible) => Presence::Offline,
            (true, Status::Busy) => Presence::Busy,
            (true, Status::Away) => Presence::Away,
            (true, Status::Online) if active => Presence::Online,
            (true, Status::Online) => Presence::Away,
        }
    }

    /// Whether others count the user as online (online, away or busy).
    pub fn is_online(self) -> bool {
        self != Presence::Offline
    }
}

/// Seed 000's `sessiontype`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKind {
    /// Between exactly two users; one per pair.
    Private,
    #[default]
    Group,
}

/// Seed 000's `visabletype`: whether a group is listed in the public directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    Public,
    #[default]
    Hidden,
}

/// Seed 000's `jointype`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinPolicy {
    /// Anyone who finds the group may join.
    Open,
    /// Only those a member invited may join.
    #[default]
    InviteOnly,
}

/// A member's rights in a conversation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    #[default]
    Member,
    Admin,
    Owner,
}

/// What a conversation list shows of its newest message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePreview {
    pub seq: u64,
    /// How many messages members see up to this one (changes are not
    /// counted): unread counts are differences of these.
    #[serde(default)]
    pub shown: u64,
    pub sender_id: UserId,
    pub kind: MessageKind,
    /// The start of the text, at most [`PREVIEW_CHARS`] characters.
    pub text: String,
    pub created_ms: Millis,
}

/// Longest text a [`MessagePreview`] keeps.
pub const PREVIEW_CHARS: usize = 120;

impl MessagePreview {
    pub fn of(message: &Message) -> MessagePreview {
        MessagePreview {
            seq: message.seq,
            shown: message.shown,
            sender_id: message.sender_id.clone(),
            kind: message.kind,
            text: message.content.chars().take(PREVIEW_CHARS).collect(),
            created_ms: message.created_ms,
        }
    }
}

/// A private chat or a group (seed 000's `sessions`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: ConversationId,
    pub kind: ConversationKind,
    pub visibility: Visibility,
    pub join_policy: JoinPolicy,
    pub name: String,
    pub description: String,
    pub creator_id: UserId,
    /// For a private chat: the other participant, seen from the creator.
    pub peer_id: Option<UserId>,
    pub created_ms: Millis,
    /// Sequence number of the newest message; 0 before the first.
    pub last_seq: u64,
    pub last_message: Option<MessagePreview>,
    /// When the newest message was sent, or the conversation created.
    pub last_activity_ms: Millis,
}

impl Conversation {
    /// The one id a private chat between two users can have, whoever starts it.
    pub fn private_id(a: &UserId, b: &UserId) -> ConversationId {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        ConversationId(format!("p-{low}-{high}"))
    }

    /// The other user of the private chat `id`, seen from `me` (one of its two).
    pub fn private_peer(id: &ConversationId, me: &UserId) -> Option<UserId> {
        let pair = id.0.strip_prefix("p-")?;
        let other = match (pair.strip_prefix(me.0.as_str()), pair.strip_suffix(me.0.as_str())) {
            (Some(rest), _) if rest.starts_with('-') => &rest[1..],
            (_, Some(rest)) if rest.ends_with('-') => &rest[..rest.len() - 1],
            _ => return None,
        };
        Some(UserId(other.to_owned()))
    }

    /// What someone outside the conversation may see of it (the directory, a
    /// group's page, an invitation): no message, no sequence number.
    pub fn for_outsiders(self) -> Conversation {
        Conversation { last_seq: 0, last_message: None, ..self }
    }
}
