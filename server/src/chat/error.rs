//! Why a chat request is refused: one error for both doors, which the HTTP
//! API answers as an [`ApiError`] and the websocket as an error frame.

use std::time::Duration;

use wire::protocol::{ApiError, ErrorCode, WsErrorCode};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The asker is not in the conversation. Over HTTP a conversation one
    /// does not belong to looks absent (404), so its existence is not told.
    #[error("you are not a member of this conversation")]
    NotMember,
    /// No such conversation, user or file.
    #[error("{0}")]
    NotFound(&'static str),
    /// The asker is in the conversation but may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Bad input, about one field where the API names it.
    #[error("{}", .0.message)]
    Invalid(ApiError),
    /// Text longer than a message may be.
    #[error("{0}")]
    TooLong(String),
    /// The sensitive-word policy refuses the text: nothing was stored.
    #[error("{0}")]
    ContentRefused(String),
    #[error("{0}")]
    Conflict(&'static str),
    /// A change or reply names a seq that holds no message.
    #[error("no such message")]
    NoSuchMessage,
    #[error("this message was deleted")]
    MessageDeleted,
    #[error("this message can no longer be edited")]
    EditWindowClosed,
    #[error("this message has as many different reactions as it may")]
    TooManyReactions,
    /// The asker sends no read receipts, so sees none.
    #[error("you send no read receipts, so you see none")]
    ReceiptsOff,
    #[error("this group has more members than receipts are kept for")]
    GroupTooLargeForReceipts,
    /// The other user does not take this from the asker (privacy settings or a block; which is not said).
    #[error("this user does not accept this from you")]
    NotAccepting,
    /// The user's budget for this is spent for now.
    #[error("{why}")]
    RateLimited { why: &'static str, wait: Duration },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ChatError {
    /// A bad field, as the API reports it.
    pub fn invalid(field: &str, message: impl Into<String>) -> ChatError {
        ChatError::Invalid(ApiError::invalid(field, message))
    }

    /// The code of the websocket's error frame.
    pub fn ws_code(&self) -> WsErrorCode {
        match self {
            ChatError::NotMember => WsErrorCode::NotMember,
            ChatError::NotFound(_) | ChatError::Invalid(_) | ChatError::Conflict(_) => WsErrorCode::BadRequest,
            ChatError::Forbidden(_) | ChatError::ReceiptsOff => WsErrorCode::Forbidden,
            ChatError::GroupTooLargeForReceipts => WsErrorCode::BadRequest,
            ChatError::NoSuchMessage => WsErrorCode::NoSuchMessage,
            ChatError::MessageDeleted => WsErrorCode::MessageDeleted,
            ChatError::EditWindowClosed => WsErrorCode::EditWindowClosed,
            ChatError::TooManyReactions => WsErrorCode::TooManyReactions,
            ChatError::TooLong(_) => WsErrorCode::TooLong,
            ChatError::NotAccepting => WsErrorCode::NotAccepting,
            ChatError::ContentRefused(_) => WsErrorCode::ContentRefused,
            ChatError::RateLimited { .. } => WsErrorCode::RateLimited,
            ChatError::Store(StoreError::Unavailable(_)) => WsErrorCode::Retry,
            ChatError::Store(_) => WsErrorCode::Internal,
        }
    }

    /// The text of the websocket's error frame; store failures say no more
    /// than whether to send again.
    pub fn ws_message(&self) -> String {
        match self {
            ChatError::Store(StoreError::Unavailable(_)) => {
                "the database is unavailable; nothing was stored, send again".into()
            }
            ChatError::Store(_) => "internal error".into(),
            other => other.to_string(),
        }
    }
}

impl From<ApiError> for ChatError {
    fn from(e: ApiError) -> Self {
        ChatError::Invalid(e)
    }
}

impl From<ChatError> for ApiError {
    fn from(e: ChatError) -> Self {
        match e {
            ChatError::NotMember => ApiError::new(ErrorCode::NotFound, "no such conversation"),
            ChatError::NotFound(what) => ApiError::new(ErrorCode::NotFound, what),
            ChatError::Forbidden(why) => ApiError::new(ErrorCode::Forbidden, why),
            ChatError::Invalid(e) => e,
            ChatError::TooLong(why) | ChatError::ContentRefused(why) => ApiError::invalid("content", why),
            ChatError::Conflict(why) => ApiError::new(ErrorCode::Conflict, why),
            ChatError::NoSuchMessage => ApiError::new(ErrorCode::NoSuchMessage, e.to_string()),
            ChatError::MessageDeleted => ApiError::new(ErrorCode::MessageDeleted, e.to_string()),
            ChatError::EditWindowClosed => ApiError::new(ErrorCode::EditWindowClosed, e.to_string()),
            ChatError::TooManyReactions => ApiError::new(ErrorCode::TooManyReactions, e.to_string()),
            ChatError::ReceiptsOff => ApiError::new(ErrorCode::ReceiptsOff, e.to_string()),
            ChatError::GroupTooLargeForReceipts => ApiError::new(ErrorCode::GroupTooLargeForReceipts, e.to_string()),
            ChatError::NotAccepting => ApiError::new(ErrorCode::NotAccepting, "this user does not accept this from you"),
            ChatError::RateLimited { why, wait } => ApiError::rate_limited(why, wait),
            ChatError::Store(e) => e.into(),
        }
    }
}
