//! Turns the protocol's [`ApiError`] into an HTTP answer: the status its code
//! names and the JSON body `{"code": …, "message": …, "field"?: …}`.

use std::time::Duration;

use axum::{
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use wire::protocol::{ApiError, ErrorCode};

#[derive(Debug)]
pub struct HttpError {
    pub body: ApiError,
    /// Answered with `Connection: close` (see [`HttpError::closing`]).
    close: bool,
}

impl HttpError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::new(code, message).into()
    }

    pub fn rate_limited(wait: Duration) -> Self {
        HttpError::rate_limited_for("too many attempts; try again later", wait)
    }

    /// `rate_limited`, saying why.
    pub fn rate_limited_for(message: impl Into<String>, wait: Duration) -> Self {
        ApiError::rate_limited(message, wait).into()
    }

    /// For a refusal that leaves the request body unread: the connection
    /// closes after the answer, and the header tells the client not to send
    /// another request on it (it would find it closed).
    pub fn closing(mut self) -> Self {
        self.close = true;
        self
    }
}

impl<E: Into<ApiError>> From<E> for HttpError {
    fn from(e: E) -> Self {
        Self { body: e.into(), close: false }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.body.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(code = ?self.body.code, message = %self.body.message, "request failed");
        }
        let retry_after_secs = self.body.retry_after_secs;
        let mut response = (status, Json(self.body)).into_response();
        if let Some(secs) = retry_after_secs {
            response.headers_mut().insert(header::RETRY_AFTER, secs.into());
        }
        if self.close {
            response.headers_mut().insert(header::CONNECTION, header::HeaderValue::from_static("close"));
        }
        response
    }
}
