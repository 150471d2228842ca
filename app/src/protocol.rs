//! The wire contract shared by the server, the browser, the tests and the load
//! generator: API error bodies, stable error codes and status documents.
//! Changing a shape here is a protocol change: bump [`PROTOCOL_VERSION`].

use serde::{Deserialize, Serialize};

/// Version of the HTTP API and websocket frames defined in this module.
pub const PROTOCOL_VERSION: u16 = 1;

/// Stable, machine-readable error codes. Clients switch on these, never on text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadRequest,
    NotFound,
    Conflict,
    StoreUnavailable,
    Internal,
}

impl ErrorCode {
    /// The HTTP status an answer with this code carries.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::NotFound => 404,
            ErrorCode::Conflict => 409,
            ErrorCode::StoreUnavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

/// The JSON body of every error answer: `{"code": "...", "message": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

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
