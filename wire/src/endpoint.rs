//! Every HTTP endpoint's path, written once: the patterns the server's router
//! matches, and the URLs clients request. `docs/API.md` documents what each
//! one does; the websocket's path is [`crate::protocol::WS_PATH`].
//!
//! The JSON API lives under [`API`]: [`route`] holds its patterns relative
//! to that prefix (the server nests its API router there), and this module
//! the absolute URLs, as constants for fixed paths and functions for paths
//! with ids in them. Ids are written as they are (they are made by the
//! server and need no escaping); query strings are the caller's.

use crate::model::{ConversationId, FileId, UserId};

/// Declares each API endpoint once: its pattern in [`route`] (relative to
/// the prefix) and its absolute URL, a constant, or for a pattern with
/// `{placeholders}` a function taking one argument per placeholder.
macro_rules! api_paths {
    (prefix $api:ident = $prefix:literal; $($(#[$doc:meta])* $name:ident $($url:ident($($arg:ident: $ty:ty),*))? = $path:literal;)*) => {
        /// Prefix of every JSON API path.
        pub const $api: &str = $prefix;

        /// The API router's patterns, relative to [`API`], in axum's syntax.
        pub mod route {
            $($(#[$doc])* pub const $name: &str = $path;)*
        }

        $(api_paths!(@url $prefix, $(#[$doc])* $name $($url($($arg: $ty),*))? = $path);)*
    };
    (@url $prefix:literal, $(#[$doc:meta])* $name:ident = $path:literal) => {
        $(#[$doc])*
        pub const $name: &str = concat!($prefix, $path);
    };
    (@url $prefix:literal, $(#[$doc:meta])* $name:ident $url:ident($($arg:ident: $ty:ty),*) = $path:literal) => {
        $(#[$doc])*
        pub fn $url($($arg: $ty),*) -> String {
            format!(concat!($prefix, $path), $($arg = $arg),*)
        }
    };
}

api_paths! {
    prefix API = "/api";
    /// `POST`: sign up.
    AUTH_REGISTER = "/auth/register";
    /// `POST`: sign in.
    AUTH_LOGIN = "/auth/login";
    /// `POST`: sign this device out.
    AUTH_LOGOUT = "/auth/logout";
    /// `POST`: a fresh token for the device's session.
    AUTH_REFRESH = "/auth/refresh";
    /// `GET`: who may sign up.
    SIGNUP = "/signup";
    /// `GET`: the invitation links (administrators); `POST`: make one.
    SIGNUP_INVITES = "/signup/invites";
    /// `DELETE`: revoke an invitation link.
    SIGNUP_INVITE signup_invite(id: &str) = "/signup/invites/{id}";
    /// `GET`, `PATCH`: the signed-in user's own profile.
    ME = "/me";
    /// `POST`: change the password.
    ME_PASSWORD = "/me/password";
    /// `POST`: upload an avatar.
    ME_AVATAR = "/me/avatar";
    /// `GET`, `PUT`: the user's chosen statuses.
    ME_STATUS = "/me/status";
    /// `GET`, `PUT`: who may reach the user, and how they are found.
    ME_PRIVACY = "/me/privacy";
    /// `GET`, `PUT`: the user's notification settings.
    ME_NOTIFICATIONS = "/me/notifications";
    /// `PUT`: this device's Web Push subscription; `DELETE`: remove it.
    ME_PUSH = "/me/push";
    /// `POST`: push a test notification to this device.
    ME_PUSH_TEST = "/me/push/test";
    /// `GET`: the server's VAPID public key, to subscribe with.
    PUSH_KEY = "/push/key";
    /// `GET`: the users this user blocked.
    BLOCKS = "/blocks";
    /// `PUT`: block a user; `DELETE`: unblock.
    BLOCK block(user_id: &UserId) = "/blocks/{user_id}";
    /// `GET ?q=`: search users.
    USERS = "/users";
    /// `GET ?q=&conversation=&from=&kind=&after=&before=&order=&cursor=&limit=`:
    /// search the messages of the user's conversations.
    SEARCH = "/search";
    /// `GET`: a user's public profile.
    USER user(id: &UserId) = "/users/{id}";
    /// `GET`: the user's signed-in devices.
    DEVICES = "/devices";
    /// `DELETE`: sign a device out.
    DEVICE device(device_id: &str) = "/devices/{device_id}";
    /// `GET`: the user's conversations; `POST`: create a group.
    CONVERSATIONS = "/conversations";
    /// `GET ?skip=&limit=`: the public groups.
    PUBLIC_CONVERSATIONS = "/conversations/public";
    /// `POST`: the private chat with someone, made if need be.
    PRIVATE_CONVERSATIONS = "/conversations/private";
    /// `GET`, `PATCH`: a conversation's details.
    CONVERSATION conversation(id: &ConversationId) = "/conversations/{id}";
    /// `POST`: join a group.
    CONVERSATION_JOIN conversation_join(id: &ConversationId) = "/conversations/{id}/join";
    /// `POST`: invite someone to a group.
    CONVERSATION_INVITE conversation_invite(id: &ConversationId) = "/conversations/{id}/invite";
    /// `POST`: leave a conversation.
    CONVERSATION_LEAVE conversation_leave(id: &ConversationId) = "/conversations/{id}/leave";
    /// `GET ?before=&limit=`: a page of the history; `POST`: send a message.
    CONVERSATION_MESSAGES conversation_messages(id: &ConversationId) = "/conversations/{id}/messages";
    /// `GET`: one message with its changes folded in; `PATCH`: edit it; `DELETE`: delete it.
    CONVERSATION_MESSAGE conversation_message(id: &ConversationId, seq: u64) = "/conversations/{id}/messages/{seq}";
    /// `PUT`: react to a message with an emoji (percent-encoded); `DELETE`: take it back.
    MESSAGE_REACTION message_reaction(id: &ConversationId, seq: u64, emoji: &str) =
        "/conversations/{id}/messages/{seq}/reactions/{emoji}";
    /// `GET`: the messages pinned now, the latest pinned first.
    CONVERSATION_PINS conversation_pins(id: &ConversationId) = "/conversations/{id}/pins";
    /// `PUT`: pin a message; `DELETE`: unpin it.
    MESSAGE_PIN message_pin(id: &ConversationId, seq: u64) = "/conversations/{id}/messages/{seq}/pin";
    /// `POST`: mark read up to a message.
    CONVERSATION_READ conversation_read(id: &ConversationId) = "/conversations/{id}/read";
    /// `GET`: how far the other members have received and read.
    CONVERSATION_RECEIPTS conversation_receipts(id: &ConversationId) = "/conversations/{id}/receipts";
    /// `GET`: the groups the user is invited to, and the private chats others
    /// asked to start with them.
    INVITATIONS = "/invitations";
    /// `DELETE`: decline an invitation.
    INVITATION invitation(id: &ConversationId) = "/invitations/{id}";
    /// `POST ?name=&kind=`: upload a file.
    FILES = "/files";
    /// `POST`: claim an instant upload.
    FILES_INSTANT = "/files/instant";
    /// `POST`: prove an instant upload's claim.
    FILES_INSTANT_PROOF files_instant_proof(challenge_id: &str) = "/files/instant/{challenge_id}";
    /// `GET`: a file's content.
    FILE file(id: &FileId) = "/files/{id}";
    /// `GET`: an image's thumbnail.
    FILE_THUMBNAIL file_thumbnail(id: &FileId) = "/files/{id}/thumbnail";
    /// `GET`: the user's friends and friend requests.
    FRIENDS = "/friends";
    /// `POST`: befriend (or accept); `DELETE`: unfriend (or refuse).
    FRIEND friend(user_id: &UserId) = "/friends/{user_id}";
    /// `GET`: every emoji the picker offers.
    EMOJI = "/emoji";
    /// `GET`: the STUN and TURN servers for calls.
    RTC_CONFIG = "/rtc/config";
    /// `POST`: the callee declines a ringing call (a push notification's
    /// Decline button: the service worker has no websocket).
    CALL_DECLINE call_decline(id: &str) = "/calls/{id}/decline";
}

/// Liveness: answers while the process runs.
pub const HEALTHZ: &str = "/healthz";
/// Readiness ([`crate::protocol::Readiness`]).
pub const READYZ: &str = "/readyz";
/// Prometheus metrics.
pub const METRICS: &str = "/metrics";

/// Pattern of the avatar images' route; `{file}` is `{size}.webp`.
pub const AVATAR_ROUTE: &str = "/avatars/{user}/{version}/{file}";

/// URL of one image of a user's avatar (see [`crate::api::avatar_url`]).
pub fn avatar(user: &UserId, version: &str, file: &str) -> String {
    format!("/avatars/{user}/{version}/{file}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_the_routes_under_the_prefix() {
        assert_eq!(CONVERSATIONS, format!("{API}{}", route::CONVERSATIONS));
        let id = ConversationId("c-1".into());
        assert_eq!(conversation_messages(&id), "/api/conversations/c-1/messages");
        assert_eq!(conversation_messages(&id), format!("{API}{}", route::CONVERSATION_MESSAGES.replace("{id}", "c-1")));
        assert_eq!(files_instant_proof("ch"), "/api/files/instant/ch");
    }

    #[test]
    fn avatar_urls_match_their_route() {
        let url = avatar(&UserId("u".into()), "v2", "128.webp");
        assert_eq!(url, "/avatars/u/v2/128.webp");
        assert_eq!(url, AVATAR_ROUTE.replace("{user}", "u").replace("{version}", "v2").replace("{file}", "128.webp"));
    }
}
