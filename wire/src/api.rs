//! The JSON HTTP API: paths, request and response bodies, and the input rules
//! both sides check (the browser for early feedback, the server for real).
//! `docs/API.md` documents every endpoint; errors are [`ApiError`] bodies.
//!
//! [`ApiError`]: crate::protocol::ApiError

use serde::{Deserialize, Serialize};

use crate::{
    error::ApiError,
    model::{Gender, Millis, UserId},
};

/// Cookie carrying the browser's token (HttpOnly, SameSite=Lax).
pub const TOKEN_COOKIE: &str = "natter_token";
/// Its name when the server is reached over HTTPS (`--public-url https://…`):
/// the `__Host-` prefix makes browsers keep it only when set `Secure`, for the
/// whole site, by the site itself.
pub const SECURE_TOKEN_COOKIE: &str = "__Host-natter_token";

pub const MAX_NICKNAME_CHARS: usize = 64;
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 1024;
pub const MAX_EMAIL_CHARS: usize = 254;
/// Longest device id a client may send.
pub const MAX_DEVICE_ID_CHARS: usize = 128;
/// Square sizes, in pixels, of the stored avatar images.
pub const AVATAR_SIZES: [u32; 3] = [64, 128, 512];

/// `POST /api/auth/register`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisterRequest {
    pub email: String,
    pub nickname: String,
    pub password: String,
    /// The id this browser or client keeps for itself; see [`LoginRequest::device_id`].
    pub device_id: String,
    #[serde(default)]
    pub gender: Gender,
    /// The token of an invitation link (`/signup?invite=…`), which a server
    /// in [`SignupMode::Invite`] asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
}

/// `POST /api/auth/login`
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// A stable id the client keeps. Signing in again with the same id signs
    /// out the token that device had before.
    pub device_id: String,
}

/// Answer of register, login and `POST /api/auth/refresh`. Browsers also get
/// the token as an HttpOnly cookie; other clients send it as `Authorization: Bearer`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthResponse {
    pub token: String,
    pub expires_ms: Millis,
    pub user: Me,
}

/// The signed-in user's own profile: `GET /api/me`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub id: UserId,
    pub email: String,
    pub nickname: String,
    pub gender: Gender,
    /// URL of the 128-pixel avatar; the others are named by [`avatar_url`].
    pub avatar: Option<String>,
    pub created_ms: Millis,
    pub last_login_ms: Option<Millis>,
    pub login_count: u64,
    /// The user administers the server: creates invitation links.
    #[serde(default)]
    pub is_admin: bool,
}

/// What anyone signed in may see of a user: `GET /api/users/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicProfile {
    pub id: UserId,
    pub nickname: String,
    pub gender: Gender,
    pub avatar: Option<String>,
    /// The nickname's Chinese characters in toneless pinyin, whole syllables
    /// then initials (`张三` → `zhangsan zs`), for finding people by typing
    /// Latin letters; empty when the nickname has none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pinyin: String,
}

/// Who may message and call a user directly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactPolicy {
    /// Friends directly; anyone else may ask: their private chat or group
    /// invitation waits among the user's invitations until accepted.
    #[default]
    Everyone,
    /// Friends only: others cannot start a private chat, call or invite.
    Friends,
}

/// `GET`/`PUT /api/me/privacy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Privacy {
    pub contact: ContactPolicy,
    /// Whether someone searching for the user's exact e-mail address finds them.
    #[serde(default)]
    pub findable_by_email: bool,
    /// Whether others see how far the user has received and read; a user
    /// who sends none sees none either.
    #[serde(default = "yes")]
    pub read_receipts: bool,
}

impl Default for Privacy {
    fn default() -> Privacy {
        Privacy { contact: ContactPolicy::default(), findable_by_email: false, read_receipts: true }
    }
}

fn yes() -> bool {
    true
}

/// How far one member has a conversation: one entry of
/// `GET /api/conversations/{id}/receipts`, and of [`crate::protocol::ServerFrame::Receipt`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub user_id: UserId,
    /// The newest seq one of the member's devices has received.
    pub delivered_seq: u64,
    /// The newest seq the member has read.
    pub read_seq: u64,
}

/// `GET /api/conversations/{id}/receipts`: the other members who send
/// receipts. Private chats, and groups up to the server's receipt limit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipts {
    pub receipts: Vec<Receipt>,
}

/// Who may sign up (`--signup`). The first account may always.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignupMode {
    /// Anyone.
    #[default]
    Open,
    /// Whoever has an invitation link an administrator made.
    Invite,
    /// No one.
    Closed,
}

/// `GET /api/signup`: who may sign up now (before the first account: anyone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignupInfo {
    pub mode: SignupMode,
}

/// Most sign-ups one invitation link may admit.
pub const MAX_INVITE_USES: u32 = 100;
/// Longest an invitation link may stay valid, in days.
pub const MAX_INVITE_DAYS: u32 = 30;

/// `POST /api/signup/invites`: a new invitation link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateInvite {
    /// Sign-ups it admits, 1 to [`MAX_INVITE_USES`].
    #[serde(default = "one_use")]
    pub max_uses: u32,
    /// Days it stays valid, 1 to [`MAX_INVITE_DAYS`].
    #[serde(default = "one_week")]
    pub valid_days: u32,
}

fn one_use() -> u32 {
    1
}

fn one_week() -> u32 {
    7
}

impl Default for CreateInvite {
    fn default() -> Self {
        CreateInvite { max_uses: one_use(), valid_days: one_week() }
    }
}

impl CreateInvite {
    pub fn check(self) -> Result<Self, ApiError> {
        if !(1..=MAX_INVITE_USES).contains(&self.max_uses) {
            return Err(ApiError::invalid("max_uses", format!("an invitation admits 1 to {MAX_INVITE_USES} sign-ups")));
        }
        if !(1..=MAX_INVITE_DAYS).contains(&self.valid_days) {
            return Err(ApiError::invalid("valid_days", format!("an invitation is valid 1 to {MAX_INVITE_DAYS} days")));
        }
        Ok(self)
    }
}

/// An invitation link as administrators see it in `GET /api/signup/invites`
/// (its token is shown once, when it is made).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteInfo {
    /// Names it for revoking; not the token.
    pub id: String,
    pub created_ms: Millis,
    pub expires_ms: Millis,
    pub max_uses: u32,
    pub uses_left: u32,
}

/// Answer of `POST /api/signup/invites`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedInvite {
    /// Goes into the link: `/signup?invite=<token>`.
    pub token: String,
    pub invite: InviteInfo,
}

/// `PATCH /api/me`: fields left out stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Gender>,
}

/// `POST /api/me/password`: signs out every other device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

/// One entry of `GET /api/devices`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub device_id: String,
    pub user_agent: String,
    pub signed_in_ms: Millis,
    pub last_seen_ms: Millis,
    /// True for the device making the request.
    pub current: bool,
}

/// `GET /api/friends`
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Friends {
    pub friends: Vec<PublicProfile>,
    /// Requests others sent to this user.
    pub incoming: Vec<PublicProfile>,
    /// Requests this user sent that are not answered yet.
    pub outgoing: Vec<PublicProfile>,
    /// How each friend shows in their private chat with this user (whether
    /// or not it was started).
    #[serde(default)]
    pub presence: std::collections::HashMap<UserId, crate::model::Presence>,
}

/// URL of a user's avatar at one of [`AVATAR_SIZES`]; `version` changes with
/// every upload, so the images may be cached forever.
pub fn avatar_url(user: &UserId, version: &str, size: u32) -> String {
    crate::endpoint::avatar(user, version, &format!("{size}.webp"))
}

/// Trims and checks an e-mail address; returns it lower-cased (Rust's
/// Unicode case mapping: the server's; the browser checks with
/// [`check_email_address`], which keeps those tables out of the wasm).
pub fn check_email(email: &str) -> Result<String, ApiError> {
    check_email_address(email).map(str::to_lowercase)
}

/// Trims and checks an e-mail address; returns it trimmed, as typed.
pub fn check_email_address(email: &str) -> Result<&str, ApiError> {
    let email = email.trim();
    let bad = || ApiError::invalid("email", "enter a valid e-mail address");
    if email.is_empty() || email.chars().count() > MAX_EMAIL_CHARS || email.chars().any(char::is_whitespace) {
        return Err(bad());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(bad)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    if local.is_empty() || local.contains('@') || !domain_ok {
        return Err(bad());
    }
    Ok(email)
}

/// Trims and checks a nickname: 1 to [`MAX_NICKNAME_CHARS`] characters, no
/// hidden characters ([`is_hidden`]).
pub fn check_nickname(nickname: &str) -> Result<String, ApiError> {
    let nickname = nickname.trim();
    let n = nickname.chars().count();
    if n == 0 {
        return Err(ApiError::invalid("nickname", "enter a nickname"));
    }
    if n > MAX_NICKNAME_CHARS {
        return Err(ApiError::invalid("nickname", format!("at most {MAX_NICKNAME_CHARS} characters")));
    }
    check_visible(nickname, "nickname", "a nickname", false)?;
    Ok(nickname.to_owned())
}

/// Checks a new password's length; `field` names the form field for errors.
pub fn check_password(password: &str, field: &str) -> Result<(), ApiError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(ApiError::invalid(field, format!("at least {MIN_PASSWORD_CHARS} characters")));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(ApiError::invalid(field, format!("at most {MAX_PASSWORD_CHARS} characters")));
    }
    Ok(())
}

pub fn check_device_id(device_id: &str) -> Result<(), ApiError> {
    let n = device_id.chars().count();
    if n == 0 || n > MAX_DEVICE_ID_CHARS || !device_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(ApiError::invalid("device_id", "a device id is 1 to 128 letters, digits, '-' or '_'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_params_check_the_query_and_the_limit() {
        use crate::error::ErrorCode;
        let params = |q: &str, limit| SearchParams { q: q.into(), limit, ..SearchParams::default() };
        assert_eq!(params(" 上海 ", None).check(), Ok(("上海", DEFAULT_SEARCH_LIMIT)));
        assert_eq!(params("  ", None).check().unwrap_err().code, ErrorCode::EmptyQuery);
        let long = "字".repeat(MAX_SEARCH_QUERY_CHARS + 1);
        assert_eq!(params(&long, None).check().unwrap_err().code, ErrorCode::QueryTooLong);
        assert!(params(&long[3..], Some(MAX_SEARCH_LIMIT)).check().is_ok());
        for limit in [0, MAX_SEARCH_LIMIT + 1] {
            assert_eq!(params("x", Some(limit)).check().unwrap_err().field.as_deref(), Some("limit"));
        }
        let newest = SearchParams { order: SearchOrder::Newest, ..params("a b", Some(5)) };
        assert_eq!(newest.pairs(), [("q", "a b".into()), ("order", "newest".into()), ("limit", "5".into())]);
    }

    #[test]
    fn directory_params_check_the_query_the_limit_and_the_depth() {
        use crate::error::ErrorCode;
        let people = |q: &str, limit| PeopleParams { q: q.into(), limit };
        assert_eq!(people(" 三丰 ", None).check(), Ok(("三丰", DEFAULT_SEARCH_LIMIT)));
        assert_eq!(people(" ", None).check().unwrap_err().code, ErrorCode::EmptyQuery);
        let email = format!("{}@x.org", "a".repeat(MAX_PEOPLE_QUERY_CHARS - 6));
        assert!(people(&email, None).check().is_ok(), "an e-mail address of any length");
        assert_eq!(people(&format!("a{email}"), None).check().unwrap_err().code, ErrorCode::QueryTooLong);
        assert_eq!(people("x", Some(0)).check().unwrap_err().field.as_deref(), Some("limit"));

        let groups = |q: Option<&str>, skip, limit| DirectoryParams { q: q.map(str::to_owned), skip, limit };
        assert_eq!(groups(None, 5000, None).check(), Ok((None, DEFAULT_DIRECTORY_LIMIT)), "listing goes deep");
        assert_eq!(groups(Some(" 台湾 "), 450, Some(50)).check(), Ok((Some("台湾"), 50)));
        assert_eq!(groups(Some("台湾"), 451, Some(50)).check().unwrap_err().field.as_deref(), Some("skip"));
        assert_eq!(groups(Some(""), 0, None).check().unwrap_err().code, ErrorCode::EmptyQuery);
        assert_eq!(groups(None, 0, Some(MAX_DIRECTORY_LIMIT + 1)).check().unwrap_err().field.as_deref(), Some("limit"));
        let pairs = groups(Some("a b"), 2, Some(3)).pairs();
        assert_eq!(pairs, [("q", "a b".into()), ("skip", "2".into()), ("limit", "3".into())]);
    }

    #[test]
    fn hidden_characters_are_unicodes_format_characters_but_the_joiners() {
        use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let format = c.general_category() == GeneralCategory::Format;
            let joiner = matches!(c, '\u{200C}' | '\u{200D}');
            let expected = c.is_control() || (format && !joiner) || matches!(c, '\u{2028}' | '\u{2029}');
            assert_eq!(is_hidden(c), expected, "U+{:04X} (tables of Unicode {:?})", c as u32, unicode_properties::UNICODE_VERSION);
        }
    }

    #[test]
    fn emails() {
        assert_eq!(check_email("  Ada@Example.ORG ").unwrap(), "ada@example.org");
        assert_eq!(check_email("张三@例子.中国").unwrap(), "张三@例子.中国");
        for bad in ["", "ada", "ada@", "@example.org", "ada@example", "a b@example.org", "ada@exa..mple.org", "a@b@c.org"] {
            assert_eq!(check_email(bad).unwrap_err().field.as_deref(), Some("email"), "{bad}");
        }
    }

    #[test]
    fn email_addresses_are_checked_as_typed() {
        assert_eq!(check_email_address("  Ada@Example.ORG ").unwrap(), "Ada@Example.ORG");
        assert!(check_email_address("ada@example").is_err());
    }

    #[test]
    fn nicknames() {
        assert_eq!(check_nickname("  小明 ").unwrap(), "小明");
        assert!(check_nickname("   ").is_err());
        assert!(check_nickname(&"字".repeat(64)).is_ok());
        assert!(check_nickname(&"字".repeat(65)).is_err());
        assert!(check_nickname("a\u{0}b").is_err());
        assert_eq!(check_nickname("👨‍👩‍👧 Ana").unwrap(), "👨‍👩‍👧 Ana", "joiners of emoji sequences stay");
        assert_eq!(check_nickname("می‌خواهم").unwrap(), "می‌خواهم", "and the non-joiner of Persian");
    }

    /// Names and descriptions refuse what would hide or reorder text around it.
    #[test]
    fn names_refuse_spoofing_characters() {
        let spoofs = ["ann\u{202E}", "\u{202A}x", "a\u{2066}b", "a\u{2069}", "a\u{200E}", "a\u{200F}", "a\u{061C}", "a\u{0007}b"];
        let hidden = ["a\u{200B}b", "a\u{00AD}b", "a\u{2060}b", "\u{FEFF}a", "a\u{E0041}", "a\u{2028}b"];
        for bad in spoofs.iter().chain(&hidden) {
            assert_eq!(check_nickname(bad).unwrap_err().field.as_deref(), Some("nickname"), "{bad:?}");
            assert_eq!(check_group_name(bad).unwrap_err().field.as_deref(), Some("name"), "{bad:?}");
            assert_eq!(check_description(bad).unwrap_err().field.as_deref(), Some("description"), "{bad:?}");
            assert_eq!(check_file_name(bad).unwrap_err().field.as_deref(), Some("name"), "{bad:?}");
        }
        assert!(check_nickname("a\nb").is_err());
        assert!(check_group_name("a\nb").is_err());
        assert_eq!(check_description(" line one\r\nline two\n ").unwrap(), "line one\nline two");
        assert!(check_description("a\tb").is_err());
        assert!(check_description("a\u{0}b").is_err());
        assert_eq!(check_group_name("  家人 👨‍👩‍👧 ").unwrap(), "家人 👨‍👩‍👧");
    }

    #[test]
    fn passwords_and_devices() {
        assert!(check_password("1234567", "password").is_err());
        assert!(check_password("12345678", "password").is_ok());
        assert!(check_device_id("web-3f2a_9").is_ok());
        assert!(check_device_id("").is_err());
        assert!(check_device_id("../etc").is_err());
    }
}

pub const MAX_GROUP_NAME_CHARS: usize = 64;
pub const MAX_DESCRIPTION_CHARS: usize = 500;

/// One entry of `GET /api/conversations` (listJoinedSessions).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationSummary {
    pub conversation: crate::model::Conversation,
    pub role: crate::model::Role,
    /// The highest sequence number this user has read.
    pub read_seq: u64,
    /// The shown number at `read_seq` (see [`crate::model::Message::shown`]).
    #[serde(default)]
    pub read_shown: u64,
    /// The messages after `read_seq`: the newest message's shown number less `read_shown`.
    pub unread: u64,
    /// The newest seq whose message mentions this user (by name, or `@all`);
    /// 0 when none has. Above `read_seq`: the list shows an "@" badge.
    #[serde(default)]
    pub mention_seq: u64,
    /// For a private chat: the other participant.
    pub peer: Option<PublicProfile>,
    /// For a private chat: how the other participant shows in it.
    #[serde(default)]
    pub peer_presence: crate::model::Presence,
    /// The notification level here while the user has chosen none
    /// ([`crate::push::NotifyLevel::default_for`]: mentions only in large groups).
    #[serde(default)]
    pub notify_default: crate::push::NotifyLevel,
}

/// One entry of `GET /api/conversations/public` (listPublicSessions).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    pub conversation: crate::model::Conversation,
    pub members: u64,
    /// Whether the asking user is a member.
    pub joined: bool,
}

/// `GET /api/conversations/{id}` (getSessionInfo).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationDetails {
    pub conversation: crate::model::Conversation,
    pub members: Vec<MemberInfo>,
    /// The asking user's role; `None` when looking at a public group from outside.
    pub my_role: Option<crate::model::Role>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub profile: PublicProfile,
    pub role: crate::model::Role,
    /// How the member shows in this conversation.
    pub presence: crate::model::Presence,
}

/// `POST /api/conversations` (createGroupSession).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateGroup {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub visibility: crate::model::Visibility,
    #[serde(default)]
    pub join_policy: crate::model::JoinPolicy,
    /// Users added right away, besides the creator.
    #[serde(default)]
    pub members: Vec<UserId>,
}

/// `POST /api/conversations/private` (createPrivateSession) and
/// `POST /api/conversations/{id}/invite`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRef {
    pub user_id: UserId,
}

/// `PATCH /api/conversations/{id}` (updateSessionInfo); absent fields stay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateConversation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<crate::model::Visibility>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_policy: Option<crate::model::JoinPolicy>,
}

/// `POST /api/conversations/{id}/messages`: a message, as the websocket's
/// `send` frame carries it (a bot's door; the browser uses the websocket).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    /// The sender's own id for it: the same id again stores it once.
    pub client_id: String,
    #[serde(default)]
    pub kind: crate::model::MessageKind,
    #[serde(default)]
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<crate::model::AttachmentRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<crate::model::UserId>,
}

/// `PATCH /api/conversations/{id}/messages/{seq}`: the message's new text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditMessage {
    pub content: String,
    /// Members the new text mentions, as with a send; they replace the old text's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<UserId>,
}

/// `POST /api/conversations/{id}/read` (mark read).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkRead {
    pub seq: u64,
}

/// Longest search query, in characters.
pub const MAX_SEARCH_QUERY_CHARS: usize = 200;
/// Results one search page holds by default, and at most.
pub const DEFAULT_SEARCH_LIMIT: u32 = 20;
pub const MAX_SEARCH_LIMIT: u32 = 50;
/// How deep paging goes: results past this many are never returned (refine the query).
pub const MAX_SEARCH_DEPTH: u32 = 500;

/// How search results are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchOrder {
    /// Best match first; equally good ones newest first.
    #[default]
    Relevance,
    Newest,
}

/// The query string of `GET /api/search`. `q` is looked for in messages'
/// text and attachments' file names: every word (as a prefix) and every run
/// of Chinese, Japanese or Korean characters (as a substring) must occur;
/// text in double quotes must occur as it is, in that order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchParams {
    pub q: String,
    /// Only this conversation (one the user is in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<crate::model::ConversationId>,
    /// Only messages this user sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<UserId>,
    /// Only messages of this kind: `text`, `image`, `file`, `voice` or `video`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<crate::model::MessageKind>,
    /// Only messages sent at or after this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Millis>,
    /// Only messages sent before this time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Millis>,
    #[serde(default)]
    pub order: SearchOrder,
    /// Where the previous page ended ([`SearchResults::next_cursor`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// 1 to [`MAX_SEARCH_LIMIT`]; [`DEFAULT_SEARCH_LIMIT`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl SearchParams {
    /// The query string's pairs, values not yet percent-encoded.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![("q", self.q.clone())];
        let mut add = |name, value: Option<String>| pairs.extend(value.map(|v| (name, v)));
        add("conversation", self.conversation.as_ref().map(|c| c.0.clone()));
        add("from", self.from.as_ref().map(|u| u.0.clone()));
        add("kind", self.kind.map(|k| k.name().to_owned()));
        add("after", self.after.map(|t| t.to_string()));
        add("before", self.before.map(|t| t.to_string()));
        add("order", (self.order == SearchOrder::Newest).then(|| "newest".to_owned()));
        add("cursor", self.cursor.clone());
        add("limit", self.limit.map(|l| l.to_string()));
        pairs
    }

    /// Checks the query's length and the limit; the query, trimmed, and the limit.
    pub fn check(&self) -> Result<(&str, u32), ApiError> {
        let q = check_query(&self.q, MAX_SEARCH_QUERY_CHARS)?;
        let limit = self.limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
        if !(1..=MAX_SEARCH_LIMIT).contains(&limit) {
            return Err(ApiError::invalid("limit", format!("limit is 1 to {MAX_SEARCH_LIMIT}")));
        }
        Ok((q, limit))
    }
}

/// A search query (`q`) trimmed, or `empty_query`, or `query_too_long`
/// past `max_chars` characters: the rule of every search box.
pub fn check_query(q: &str, max_chars: usize) -> Result<&str, ApiError> {
    use crate::error::ErrorCode;
    let q = q.trim();
    if q.is_empty() {
        return Err(ApiError::new(ErrorCode::EmptyQuery, "the search query is empty").about("q"));
    }
    if q.chars().count() > max_chars {
        let message = format!("a search query is at most {max_chars} characters");
        return Err(ApiError::new(ErrorCode::QueryTooLong, message).about("q"));
    }
    Ok(q)
}

/// Longest query of `GET /api/users`: an exact e-mail address finds its owner.
pub const MAX_PEOPLE_QUERY_CHARS: usize = MAX_EMAIL_CHARS;

/// The query string of `GET /api/users`: people whose nickname (or its
/// pinyin, or initials) holds `q`, folded as message search folds it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeopleParams {
    pub q: String,
    /// 1 to [`MAX_SEARCH_LIMIT`]; [`DEFAULT_SEARCH_LIMIT`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl PeopleParams {
    /// The query, trimmed, and the limit.
    pub fn check(&self) -> Result<(&str, u32), ApiError> {
        let q = check_query(&self.q, MAX_PEOPLE_QUERY_CHARS)?;
        let limit = self.limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
        if !(1..=MAX_SEARCH_LIMIT).contains(&limit) {
            return Err(ApiError::invalid("limit", format!("limit is 1 to {MAX_SEARCH_LIMIT}")));
        }
        Ok((q, limit))
    }
}

/// Groups one page of `GET /api/conversations/public` holds by default, and at most.
pub const DEFAULT_DIRECTORY_LIMIT: u32 = 50;
pub const MAX_DIRECTORY_LIMIT: u32 = 100;

/// The query string of `GET /api/conversations/public`: public groups, most
/// recently active first, or with `q` those whose name or description
/// holds it (folded as message search folds it), best match first.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(default)]
    pub skip: u32,
    /// 1 to [`MAX_DIRECTORY_LIMIT`]; [`DEFAULT_DIRECTORY_LIMIT`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

impl DirectoryParams {
    /// The query string's pairs, values not yet percent-encoded.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs: Vec<_> = self.q.iter().map(|q| ("q", q.clone())).collect();
        pairs.push(("skip", self.skip.to_string()));
        pairs.extend(self.limit.map(|l| ("limit", l.to_string())));
        pairs
    }

    /// The query (trimmed), if any, and the limit; a query's pages go at
    /// most [`MAX_SEARCH_DEPTH`] deep.
    pub fn check(&self) -> Result<(Option<&str>, u32), ApiError> {
        let q = self.q.as_deref().map(|q| check_query(q, MAX_SEARCH_QUERY_CHARS)).transpose()?;
        let limit = self.limit.unwrap_or(DEFAULT_DIRECTORY_LIMIT);
        if !(1..=MAX_DIRECTORY_LIMIT).contains(&limit) {
            return Err(ApiError::invalid("limit", format!("limit is 1 to {MAX_DIRECTORY_LIMIT}")));
        }
        if q.is_some() && self.skip.saturating_add(limit) > MAX_SEARCH_DEPTH {
            let message = format!("a search goes at most {MAX_SEARCH_DEPTH} groups deep; refine the query");
            return Err(ApiError::invalid("skip", message));
        }
        Ok((q, limit))
    }
}

/// One message found by `GET /api/search`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchHit {
    pub conversation_id: crate::model::ConversationId,
    pub seq: u64,
    pub sender_id: UserId,
    pub kind: crate::model::MessageKind,
    pub created_ms: Millis,
    /// Part of the text (or, when only it matched, the attachment's file
    /// name) around the first match; `…` marks a cut.
    pub excerpt: String,
    /// What matched in `excerpt`: `[start, end)` ranges in characters
    /// (Unicode scalar values, not bytes or UTF-16 units), in order, not overlapping.
    pub highlights: Vec<[u32; 2]>,
}

/// `GET /api/search`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResults {
    pub hits: Vec<SearchHit>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

pub fn check_group_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > MAX_GROUP_NAME_CHARS {
        return Err(ApiError::invalid("name", format!("a group name is 1 to {MAX_GROUP_NAME_CHARS} characters")));
    }
    check_visible(name, "name", "a group name", false)?;
    Ok(name.to_owned())
}

/// Trims and checks a description; it may hold line breaks (`\r\n` becomes `\n`).
pub fn check_description(description: &str) -> Result<String, ApiError> {
    let description = description.trim().replace("\r\n", "\n");
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::invalid("description", format!("at most {MAX_DESCRIPTION_CHARS} characters")));
    }
    check_visible(&description, "description", "a description", true)?;
    Ok(description)
}

/// One emoji of `GET /api/emoji`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmojiEntry {
    pub emoji: String,
    /// Its Unicode name, in English: `grinning face`.
    pub name: String,
    /// Its `:shortcodes:` without the colons; some emoji have none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shortcodes: Vec<String>,
    pub group: EmojiGroup,
}

/// The categories of the emoji picker (Unicode's emoji groups).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmojiGroup {
    Smileys,
    People,
    Animals,
    Food,
    Travel,
    Activities,
    Objects,
    Symbols,
    Flags,
}

impl EmojiGroup {
    pub const ALL: [EmojiGroup; 9] = [
        EmojiGroup::Smileys,
        EmojiGroup::People,
        EmojiGroup::Animals,
        EmojiGroup::Food,
        EmojiGroup::Travel,
        EmojiGroup::Activities,
        EmojiGroup::Objects,
        EmojiGroup::Symbols,
        EmojiGroup::Flags,
    ];
}

/// A user's chosen statuses (`GET`/`PUT /api/me/status`): one for everywhere,
/// and overrides for single conversations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusSettings {
    pub status: crate::model::Status,
    #[serde(default)]
    pub conversations: Vec<ConversationStatus>,
}

impl StatusSettings {
    /// The status that applies in `conversation`.
    pub fn status_in(&self, conversation: &crate::model::ConversationId) -> crate::model::Status {
        self.conversations.iter().find(|c| &c.conversation_id == conversation).map_or(self.status, |c| c.status)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationStatus {
    pub conversation_id: crate::model::ConversationId,
    pub status: crate::model::Status,
}

/// `PUT /api/me/status`: sets the status everywhere, or with
/// `conversation_id` in that conversation only, where `status: null` removes
/// the override.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetStatus {
    pub status: Option<crate::model::Status>,
    #[serde(default)]
    pub conversation_id: Option<crate::model::ConversationId>,
}

/// Longest name, in characters, an uploaded file may have.
pub const MAX_FILE_NAME_CHARS: usize = 200;

/// Answer of `POST /api/files` and of a proven instant upload: the uploaded
/// file as the server recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    pub id: crate::model::FileId,
    pub name: String,
    /// Sniffed from the bytes.
    pub mime: String,
    pub size: u64,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// Whether the server made a thumbnail (decodable images only).
    pub thumbnail: bool,
    pub created_ms: Millis,
}

impl FileInfo {
    /// What a message carrying this file holds.
    pub fn attach(self, duration_ms: Option<u64>) -> crate::model::Attachment {
        crate::model::Attachment {
            file_id: self.id,
            name: self.name,
            mime: self.mime,
            size: self.size,
            sha256: self.sha256,
            width: self.width,
            height: self.height,
            duration_ms,
            thumbnail: self.thumbnail,
        }
    }
}

/// `POST /api/files/instant`: "I hold this content; let me post it without sending it."
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstantClaim {
    /// Hex SHA-256 of the content.
    pub sha256: String,
    pub size: u64,
    pub name: String,
    /// The message kind the file is meant for, as for `POST /api/files?kind=`.
    #[serde(default = "file_kind")]
    pub kind: crate::model::MessageKind,
}

fn file_kind() -> crate::model::MessageKind {
    crate::model::MessageKind::File
}

/// Answer of an instant-upload claim for content the server holds: prove
/// possession by hashing these ranges of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstantChallenge {
    pub challenge_id: String,
    /// Hex digits; hashed first, as their ASCII text.
    pub nonce: String,
    /// Byte ranges `[start, end)` of the content, hashed in this order after the nonce.
    pub ranges: Vec<(u64, u64)>,
    pub expires_ms: Millis,
}

/// `POST /api/files/instant/{challenge_id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstantProof {
    /// Hex SHA-256 of the nonce's text followed by the bytes of each range.
    pub proof: String,
}

/// Checks an uploaded file's name and returns it trimmed. A name is not a
/// path: path separators, `..`, control characters and the bidirectional
/// overrides that make `exe.png` out of `gnp.exe` are refused, not repaired.
pub fn check_file_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let bad = |why: &str| Err(ApiError::invalid("name", why));
    let n = name.chars().count();
    if n == 0 || n > MAX_FILE_NAME_CHARS {
        return bad(&format!("a file name is 1 to {MAX_FILE_NAME_CHARS} characters"));
    }
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return bad("a file name, not a path");
    }
    check_visible(name, "name", "a file name", false)?;
    Ok(name.to_owned())
}

/// Refuses [`is_hidden`] characters in `text`, but line feeds where `line_breaks`.
/// `what` names the text in the message: "a nickname".
fn check_visible(text: &str, field: &str, what: &str, line_breaks: bool) -> Result<(), ApiError> {
    match text.chars().any(|c| is_hidden(c) && !(line_breaks && c == '\n')) {
        true => Err(ApiError::invalid(field, format!("no control or text-direction characters in {what}"))),
        false => Ok(()),
    }
}

/// Whether `c` is a character that does not show but changes what the text
/// around it shows: controls, line and paragraph separators, and format
/// characters (soft hyphen, zero-width space, word joiner, byte-order mark,
/// invisible operators, tags, the bidirectional controls of
/// [`is_bidi_control`]). The zero-width joiner and non-joiner stay allowed:
/// emoji sequences and several scripts need them. The list is Unicode 16's
/// `Cf` category, written out so that the browser carries no tables (a test
/// holds it to the `unicode-properties` crate's).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || is_bidi_control(c)
        || matches!(
            c,
            '\u{00AD}'
                | '\u{0600}'..='\u{0605}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08E2}'
                | '\u{180E}'
                | '\u{200B}'
                | '\u{2028}'..='\u{2029}'
                | '\u{2060}'..='\u{2064}'
                | '\u{206A}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0001}'
                | '\u{E0020}'..='\u{E007F}'
        )
}

/// Unicode's invisible text-direction controls (LRE … RLO, LRI … PDI, the
/// marks): they can make `exe.png` out of `gnp.exe`.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether a file of type `mime` may travel as a `kind` message. `thumbnail`
/// says the server could decode it as an image. WebM, Ogg and MP4 are
/// containers: browsers record voice notes into them as well as videos.
pub fn attachment_fits(kind: crate::model::MessageKind, mime: &str, thumbnail: bool) -> Result<(), &'static str> {
    use crate::model::MessageKind::*;
    let container = matches!(mime, "video/webm" | "audio/webm" | "video/mp4" | "audio/mp4" | "audio/ogg" | "video/ogg");
    match kind {
        File => Ok(()),
        Image if thumbnail => Ok(()),
        Image => Err("an image message needs a PNG, JPEG, WebP or GIF image"),
        Voice if mime.starts_with("audio/") || container => Ok(()),
        Voice => Err("a voice message needs an audio file"),
        Video if mime.starts_with("video/") || container => Ok(()),
        Video => Err("a video message needs a video file"),
        Text | VoiceCall | VideoCall | LiveStream | Edit | Delete | React | Unreact | Pin | Unpin => {
            Err("this kind of message carries no file")
        }
    }
}

#[cfg(test)]
mod file_rules {
    use super::*;
    use crate::model::MessageKind;

    #[test]
    fn file_names_are_names_not_paths_or_tricks() {
        assert_eq!(check_file_name("  holiday photo.jpg ").unwrap(), "holiday photo.jpg");
        assert_eq!(check_file_name("报告.pdf").unwrap(), "报告.pdf");
        for bad in ["", "   ", "../etc/passwd", "a/b.txt", "a\\b.txt", "..", "a\nb", "a\u{0}b", "gnp\u{202E}exe.png", "x\u{2066}y"] {
            assert_eq!(check_file_name(bad).unwrap_err().field.as_deref(), Some("name"), "{bad:?}");
        }
        assert!(check_file_name(&"a".repeat(MAX_FILE_NAME_CHARS)).is_ok());
        assert!(check_file_name(&"a".repeat(MAX_FILE_NAME_CHARS + 1)).is_err());
    }

    #[test]
    fn kinds_take_the_files_they_can_show() {
        assert!(attachment_fits(MessageKind::Image, "image/png", true).is_ok());
        assert!(attachment_fits(MessageKind::Image, "image/png", false).is_err());
        assert!(attachment_fits(MessageKind::Voice, "video/webm", false).is_ok());
        assert!(attachment_fits(MessageKind::Voice, "audio/mpeg", false).is_ok());
        assert!(attachment_fits(MessageKind::Voice, "image/png", true).is_err());
        assert!(attachment_fits(MessageKind::Video, "audio/mpeg", false).is_err());
        assert!(attachment_fits(MessageKind::File, "application/x-executable", false).is_ok());
        assert!(attachment_fits(MessageKind::Text, "text/plain", false).is_err());
    }
}
