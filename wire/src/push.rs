//! Notifications: a device's Web Push subscription, the user's notification
//! settings, and the payload a push carries to the service worker. The
//! server checks every input with the rules here; the browser may check
//! early with the same ones.

use serde::{Deserialize, Serialize};

use crate::{
    error::ApiError,
    model::{ConversationId, ConversationKind, MessageKind, Millis, UserId},
};

/// Longest subscription endpoint accepted: browsers' push services use a
/// few hundred characters; the server posts to it, so it is bounded.
pub const MAX_PUSH_ENDPOINT_CHARS: usize = 1024;
/// Seconds a device waits between two test pushes.
pub const PUSH_TEST_EVERY_SECS: u64 = 10;
/// Most push subscriptions one user may hold (one per signed-in device).
pub const MAX_PUSH_SUBSCRIPTIONS: usize = 16;
/// Most conversations whose notification level or mute a user sets.
pub const MAX_NOTIFY_CONVERSATIONS: usize = 1000;
/// Longest preview of a message a push carries, in characters.
pub const MAX_PUSH_PREVIEW_CHARS: usize = 120;
/// Minutes in a day: quiet hours' bounds are minutes after local midnight.
pub const MINUTES_PER_DAY: u16 = 24 * 60;
/// Time zones run from UTC−12:00 to UTC+14:00.
pub const MAX_UTC_OFFSET_MINUTES: i16 = 14 * 60;
/// A `muted_until_ms` at or past this mutes until the user unmutes.
pub const MUTED_FOREVER: Millis = i64::MAX;

/// `GET /api/push/key`: the server's VAPID public key, an uncompressed P-256
/// point in unpadded base64url: `pushManager.subscribe`'s `applicationServerKey`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushKey {
    pub public_key: String,
}

/// `PUT /api/me/push`: this device's subscription, as the browser's
/// `PushSubscription.toJSON()` gives it (other fields are ignored).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSubscription {
    pub endpoint: String,
    pub keys: PushKeys,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushKeys {
    /// The browser's P-256 public key: 65 bytes, unpadded base64url.
    pub p256dh: String,
    /// The browser's authentication secret: 16 bytes, unpadded base64url.
    pub auth: String,
}

/// Length in unpadded base64url of the 65-byte uncompressed P-256 point.
const P256DH_CHARS: usize = 87;
/// Length in unpadded base64url of the 16-byte authentication secret.
const AUTH_CHARS: usize = 22;

impl PushSubscription {
    /// Checks the subscription's shape: an `https` endpoint with a host name
    /// (no IP address, no `localhost`, no credentials) of at most
    /// [`MAX_PUSH_ENDPOINT_CHARS`], and keys of the right lengths in
    /// base64url (`=` padding is dropped). Whether `p256dh` is a point on the
    /// curve is the server's to check. `insecure` (tests and development
    /// only) also lets `http` and loopback endpoints through.
    pub fn check(mut self, insecure: bool) -> Result<PushSubscription, ApiError> {
        self.endpoint = self.endpoint.trim().to_owned();
        check_endpoint(&self.endpoint, insecure)?;
        let keys = [(&mut self.keys.p256dh, P256DH_CHARS, "keys.p256dh"), (&mut self.keys.auth, AUTH_CHARS, "keys.auth")];
        for (key, chars, field) in keys {
            let trimmed = key.trim_end_matches('=');
            let base64url = trimmed.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if trimmed.len() != chars || !base64url {
                return Err(ApiError::invalid(field, format!("{field}: {chars} characters of base64url")));
            }
            *key = trimmed.to_owned();
        }
        Ok(self)
    }
}

fn check_endpoint(endpoint: &str, insecure: bool) -> Result<(), ApiError> {
    let bad = |why: &str| Err(ApiError::invalid("endpoint", why));
    if endpoint.chars().count() > MAX_PUSH_ENDPOINT_CHARS || endpoint.chars().any(|c| c.is_control() || c == ' ') {
        return bad(&format!("the endpoint is a URL of at most {MAX_PUSH_ENDPOINT_CHARS} characters"));
    }
    let rest = match (endpoint.strip_prefix("https://"), endpoint.strip_prefix("http://")) {
        (Some(rest), _) => rest,
        (None, Some(rest)) if insecure => rest,
        _ => return bad("the endpoint must be an https URL"),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return bad("the endpoint carries no credentials");
    }
    let host = match authority.strip_prefix('[') {
        Some(_) => return if insecure { Ok(()) } else { bad("the endpoint's host is a name, not an address") },
        None => authority.rsplit_once(':').map_or(authority, |(host, _port)| host).to_ascii_lowercase(),
    };
    let labels_ok = !host.is_empty()
        && host.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !labels_ok {
        return bad("the endpoint has no valid host name");
    }
    let address = host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let local = host == "localhost" || host.ends_with(".localhost") || !host.contains('.');
    if (address || local) && !insecure {
        return bad("the endpoint's host is a public name, not an address or a local name");
    }
    Ok(())
}

/// How much of a conversation reaches the user when no page of theirs is open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyLevel {
    /// Every message.
    #[default]
    All,
    /// Messages that mention the user (by name or `@all`).
    Mentions,
    Nothing,
}

impl NotifyLevel {
    /// The level of a conversation the user has not chosen one for: all of
    /// private chats and of groups up to `group_size` members, mentions in larger ones.
    pub fn default_for(kind: ConversationKind, members: usize, group_size: usize) -> NotifyLevel {
        match kind {
            ConversationKind::Group if members > group_size => NotifyLevel::Mentions,
            _ => NotifyLevel::All,
        }
    }
}

/// A user's choice for one conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationNotify {
    pub conversation_id: ConversationId,
    /// `None`: the default ([`NotifyLevel::default_for`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<NotifyLevel>,
    /// Nothing reaches the user from this conversation until then;
    /// [`MUTED_FOREVER`] until they unmute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub muted_until_ms: Option<Millis>,
}

/// Daily hours without pushes, in the user's local time: from `start` to
/// `end` minutes after midnight (across midnight when `end < start`). The
/// offset is the browser's when it saved them, so a change of daylight
/// saving time shifts them until the settings are saved again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub start_minute: u16,
    pub end_minute: u16,
    /// Local time minus UTC, in minutes (UTC+8: 480).
    pub utc_offset_minutes: i16,
}

impl QuietHours {
    /// Whether `at` (milliseconds since the epoch) falls in the quiet hours.
    pub fn contains(&self, at: Millis) -> bool {
        let day = i64::from(MINUTES_PER_DAY);
        let minute = ((at.div_euclid(60_000) + i64::from(self.utc_offset_minutes)).rem_euclid(day)) as u16;
        match self.start_minute <= self.end_minute {
            true => (self.start_minute..self.end_minute).contains(&minute),
            false => minute >= self.start_minute || minute < self.end_minute,
        }
    }
}

/// `GET`/`PUT /api/me/notifications`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifySettings {
    /// The conversations with a level or mute of their own, at most [`MAX_NOTIFY_CONVERSATIONS`].
    #[serde(default)]
    pub conversations: Vec<ConversationNotify>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    /// Pushes say "New message" instead of showing what it says.
    #[serde(default)]
    pub hide_previews: bool,
}

impl NotifySettings {
    /// Checks the bounds and drops entries that choose nothing; a
    /// conversation named twice keeps its last entry.
    pub fn check(mut self) -> Result<NotifySettings, ApiError> {
        if self.conversations.len() > MAX_NOTIFY_CONVERSATIONS {
            let why = format!("at most {MAX_NOTIFY_CONVERSATIONS} conversations have settings of their own");
            return Err(ApiError::invalid("conversations", why));
        }
        if let Some(q) = self.quiet_hours {
            if q.start_minute >= MINUTES_PER_DAY || q.end_minute >= MINUTES_PER_DAY {
                return Err(ApiError::invalid("quiet_hours", "quiet hours are minutes after midnight, below 1440"));
            }
            if q.utc_offset_minutes.abs() > MAX_UTC_OFFSET_MINUTES {
                return Err(ApiError::invalid("quiet_hours", "a time zone's offset is at most 14 hours"));
            }
        }
        let mut seen = std::collections::HashSet::new();
        let mut kept: Vec<ConversationNotify> = Vec::with_capacity(self.conversations.len());
        for entry in self.conversations.into_iter().rev() {
            if (entry.level.is_some() || entry.muted_until_ms.is_some()) && seen.insert(entry.conversation_id.clone()) {
                kept.push(entry);
            }
        }
        kept.reverse();
        self.conversations = kept;
        Ok(self)
    }

    /// The user's own choice for `conversation`, if any.
    pub fn conversation(&self, conversation: &ConversationId) -> Option<&ConversationNotify> {
        self.conversations.iter().find(|c| &c.conversation_id == conversation)
    }
}

/// What a push carries to the service worker (JSON, encrypted), told apart
/// by `type`: room for pushes of other kinds (a call ringing, a
/// conversation read elsewhere) beside messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PushEvent {
    Message(PushPayload),
    /// The user read the conversation up to the messages they were pushed,
    /// on some device: its notifications close everywhere.
    Read { conversation_id: ConversationId },
    /// A call rings for a user with no page open.
    Call(CallPush),
    /// The user asked for a test (`POST /api/me/push/test`).
    Test,
}

/// A call ringing: the notification offers to answer it (the page it
/// opens rings while the call does) or to decline it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallPush {
    pub call_id: crate::call::CallId,
    pub conversation_id: ConversationId,
    /// The caller's nickname.
    pub caller: String,
    pub media: crate::call::CallMedia,
    /// How long it rings at most: the notification closes then.
    pub ring_ms: u64,
}

/// A new message: enough to show a notification without a request, under
/// a tag per conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushPayload {
    pub conversation_id: ConversationId,
    pub seq: u64,
    /// What was sent, for a notification without text ("Photo", "Voice message").
    pub kind: MessageKind,
    pub sender_id: UserId,
    /// The sender's nickname.
    pub sender: String,
    /// The group's name; `None` in a private chat (the sender is the title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<String>,
    /// The start of the text, at most [`MAX_PUSH_PREVIEW_CHARS`]; `None`
    /// when the user hides previews or the message has no text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<String>,
    /// Whether the message mentions the user.
    #[serde(default)]
    pub mention: bool,
}

/// The first [`MAX_PUSH_PREVIEW_CHARS`] characters of `text`, with `…` when cut.
pub fn preview_of(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut chars = text.char_indices();
    match chars.nth(MAX_PUSH_PREVIEW_CHARS) {
        None => Some(text.to_owned()),
        Some((cut, _)) => Some(format!("{}…", text[..cut].trim_end())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscription(endpoint: &str) -> PushSubscription {
        PushSubscription {
            endpoint: endpoint.into(),
            keys: PushKeys { p256dh: "B".repeat(P256DH_CHARS), auth: "A".repeat(AUTH_CHARS) + "==" },
        }
    }

    #[test]
    fn endpoints_are_public_https_urls() {
        let good = subscription(" https://fcm.googleapis.com/fcm/send/abc:def ").check(false).unwrap();
        assert_eq!(good.endpoint, "https://fcm.googleapis.com/fcm/send/abc:def");
        assert_eq!(good.keys.auth, "A".repeat(AUTH_CHARS), "padding is dropped");
        assert!(subscription("https://push.example.com:8443/x").check(false).is_ok());
        for bad in [
            "http://fcm.googleapis.com/x",
            "https://127.0.0.1/x",
            "https://10.0.0.1:443/x",
            "https://[::1]/x",
            "https://localhost/x",
            "https://redis/x",
            "https://user:pw@push.example.com/x",
            "https:///x",
            "ftp://push.example.com/x",
            "https://push.example.com/a b",
        ] {
            assert_eq!(subscription(bad).check(false).unwrap_err().field.as_deref(), Some("endpoint"), "{bad}");
        }
        let long = format!("https://push.example.com/{}", "x".repeat(MAX_PUSH_ENDPOINT_CHARS));
        assert!(subscription(&long).check(false).is_err());
        assert!(subscription("http://127.0.0.1:4000/x").check(true).is_ok(), "tests' local push service");
    }

    #[test]
    fn keys_have_their_lengths_in_base64url() {
        let mut s = subscription("https://push.example.com/x");
        s.keys.p256dh.pop();
        assert_eq!(s.check(false).unwrap_err().field.as_deref(), Some("keys.p256dh"));
        let mut s = subscription("https://push.example.com/x");
        s.keys.auth = "A".repeat(AUTH_CHARS - 1) + "+";
        assert_eq!(s.check(false).unwrap_err().field.as_deref(), Some("keys.auth"));
    }

    #[test]
    fn large_groups_default_to_mentions() {
        assert_eq!(NotifyLevel::default_for(ConversationKind::Private, 2, 50), NotifyLevel::All);
        assert_eq!(NotifyLevel::default_for(ConversationKind::Group, 50, 50), NotifyLevel::All);
        assert_eq!(NotifyLevel::default_for(ConversationKind::Group, 51, 50), NotifyLevel::Mentions);
    }

    #[test]
    fn quiet_hours_wrap_around_midnight_in_local_time() {
        let at = |h: i64, m: i64| (h * 60 + m) * 60_000; // UTC on 1970-01-01
        let night = QuietHours { start_minute: 22 * 60, end_minute: 7 * 60, utc_offset_minutes: 0 };
        assert!(night.contains(at(23, 0)) && night.contains(at(6, 59)) && night.contains(at(22, 0)));
        assert!(!night.contains(at(7, 0)) && !night.contains(at(12, 0)));
        let beijing = QuietHours { start_minute: 12 * 60, end_minute: 13 * 60, utc_offset_minutes: 480 };
        assert!(beijing.contains(at(4, 30)), "04:30 UTC is 12:30 in UTC+8");
        assert!(!beijing.contains(at(12, 30)));
        let none = QuietHours { start_minute: 600, end_minute: 600, utc_offset_minutes: 0 };
        assert!(!none.contains(at(10, 0)), "an empty span is never quiet");
    }

    #[test]
    fn settings_are_bounded_and_tidied() {
        let entry = |id: &str, level| ConversationNotify {
            conversation_id: ConversationId(id.into()),
            level,
            muted_until_ms: None,
        };
        let settings = NotifySettings {
            conversations: vec![
                entry("a", Some(NotifyLevel::All)),
                entry("b", None),
                entry("a", Some(NotifyLevel::Nothing)),
            ],
            ..NotifySettings::default()
        };
        let checked = settings.check().unwrap();
        assert_eq!(checked.conversations, vec![entry("a", Some(NotifyLevel::Nothing))]);
        let many = NotifySettings {
            conversations: (0..=MAX_NOTIFY_CONVERSATIONS).map(|i| entry(&i.to_string(), Some(NotifyLevel::All))).collect(),
            ..NotifySettings::default()
        };
        assert!(many.check().is_err());
        let late = QuietHours { start_minute: MINUTES_PER_DAY, end_minute: 0, utc_offset_minutes: 0 };
        assert!(NotifySettings { quiet_hours: Some(late), ..NotifySettings::default() }.check().is_err());
        let far = QuietHours { start_minute: 0, end_minute: 60, utc_offset_minutes: 15 * 60 };
        assert!(NotifySettings { quiet_hours: Some(far), ..NotifySettings::default() }.check().is_err());
    }

    #[test]
    fn pushes_say_their_type() {
        let message = PushPayload {
            conversation_id: ConversationId("g".into()),
            seq: 7,
            kind: MessageKind::Image,
            sender_id: UserId("u".into()),
            sender: "Ann".into(),
            conversation: None,
            preview: None,
            mention: false,
        };
        let json = serde_json::to_value(PushEvent::Message(message.clone())).unwrap();
        let fields = (json["type"].as_str(), json["kind"].as_str(), json["seq"].as_u64());
        assert_eq!(fields, (Some("message"), Some("image"), Some(7)));
        assert_eq!(serde_json::from_value::<PushEvent>(json).unwrap(), PushEvent::Message(message));
        assert_eq!(serde_json::to_string(&PushEvent::Test).unwrap(), r#"{"type":"test"}"#);
        let read = PushEvent::Read { conversation_id: ConversationId("g".into()) };
        assert_eq!(serde_json::to_string(&read).unwrap(), r#"{"type":"read","conversation_id":"g"}"#);
    }

    #[test]
    fn previews_are_cut_at_characters() {
        assert_eq!(preview_of("  hi  ").as_deref(), Some("hi"));
        assert_eq!(preview_of(" "), None);
        let long = "字".repeat(MAX_PUSH_PREVIEW_CHARS + 5);
        let cut = preview_of(&long).unwrap();
        assert_eq!(cut.chars().count(), MAX_PUSH_PREVIEW_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(preview_of(&"a".repeat(MAX_PUSH_PREVIEW_CHARS)).unwrap().len(), MAX_PUSH_PREVIEW_CHARS);
    }
}
