//! The JSON body of every API error and its stable error codes, part of the
//! protocol ([`crate::protocol::PROTOCOL_VERSION`]) and imported from there.
//! A module of its own so that [`crate::api`]'s input rules can return them
//! without importing `protocol`, whose frames hold the API's types.

use serde::{Deserialize, Serialize};

/// Stable, machine-readable error codes. Clients switch on these, never on text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request is malformed: unparsable JSON, a missing or invalid field.
    BadRequest,
    /// No valid token came with a request that needs one.
    Unauthorized,
    /// The token has expired: refresh it or sign in again.
    TokenExpired,
    /// The token's device signed in again, signed out, or changed password.
    TokenRevoked,
    /// E-mail and password do not match an account (deliberately not saying which).
    InvalidCredentials,
    /// The signed-in user may not do this.
    Forbidden,
    /// The other user does not accept this from the asker (their privacy
    /// settings, or a block either way; which is not said).
    NotAccepting,
    /// This server takes no sign-ups (`--signup closed`).
    SignupClosed,
    /// This server takes sign-ups with an invitation link only, and none came.
    InviteRequired,
    /// The invitation is unknown, expired, used up or revoked (which is not said).
    InviteInvalid,
    NotFound,
    /// A search query holds nothing to look for: empty, blank, or only
    /// punctuation.
    EmptyQuery,
    /// A search query is longer than [`crate::api::MAX_SEARCH_QUERY_CHARS`].
    QueryTooLong,
    /// A change names a seq that holds no message (or holds a change).
    NoSuchMessage,
    /// The message was deleted: it takes no more changes or replies.
    MessageDeleted,
    /// Edits are allowed only for a while after sending.
    EditWindowClosed,
    /// The message has as many different reactions as it may.
    TooManyReactions,
    /// The user sends no read receipts, so sees none.
    ReceiptsOff,
    /// The group has more members than receipts are kept for.
    GroupTooLargeForReceipts,
    MethodNotAllowed,
    Conflict,
    /// The e-mail address belongs to another account.
    EmailTaken,
    /// The user holds as many push subscriptions as allowed
    /// (`wire::push::MAX_PUSH_SUBSCRIPTIONS`); signing a device out frees its one.
    TooManySubscriptions,
    PayloadTooLarge,
    /// The upload would take the user past their storage quota; the message
    /// says how much they use and may use.
    QuotaExceeded,
    UnsupportedMediaType,
    /// Too many attempts; the `Retry-After` header says when to try again.
    RateLimited,
    StoreUnavailable,
    Internal,
}

impl ErrorCode {
    /// The HTTP status an answer with this code carries.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            BadRequest | EmptyQuery | QueryTooLong => 400,
            Unauthorized | TokenExpired | TokenRevoked | InvalidCredentials => 401,
            Forbidden | NotAccepting | SignupClosed | InviteRequired | InviteInvalid | EditWindowClosed | ReceiptsOff => 403,
            NotFound | NoSuchMessage => 404,
            MessageDeleted => 410,
            MethodNotAllowed => 405,
            Conflict | EmailTaken | TooManyReactions | GroupTooLargeForReceipts | TooManySubscriptions => 409,
            PayloadTooLarge | QuotaExceeded => 413,
            UnsupportedMediaType => 415,
            RateLimited => 429,
            StoreUnavailable => 503,
            Internal => 500,
        }
    }
}

/// The JSON body of every error answer: `{"code": "...", "message": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// The request field the error concerns, so a form can show it beside that field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For [`ErrorCode::RateLimited`]: whole seconds to wait before trying
    /// again (also the `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: None, retry_after_secs: None }
    }

    /// A [`ErrorCode::RateLimited`]: try again after `wait`.
    pub fn rate_limited(message: impl Into<String>, wait: std::time::Duration) -> Self {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        Self { retry_after_secs: Some(secs), ..Self::new(ErrorCode::RateLimited, message) }
    }

    /// A [`ErrorCode::BadRequest`] about one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message).about(field)
    }

    /// The same error, about the request field `field`.
    pub fn about(self, field: &str) -> Self {
        Self { field: Some(field.to_owned()), ..self }
    }
}
