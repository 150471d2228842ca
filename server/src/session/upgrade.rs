//! The websocket handshake (RFC 6455, section 4.2), in place of axum's
//! `WebSocketUpgrade`: that one puts tungstenite straight on the connection
//! and hides it, and here the socket writes through a [`WriteBuffer`].

use std::future::Future;

use axum::{
    body::Body,
    extract::FromRequestParts,
    http::{header, request::Parts, HeaderMap, HeaderName, HeaderValue, Method, StatusCode},
    response::Response,
};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::{
    tungstenite::{
        handshake::derive_accept_key,
        protocol::{Role, WebSocketConfig},
    },
    WebSocketStream,
};
use tokio_util::task::TaskTracker;
use wire::protocol::ErrorCode;

use super::write_buffer::WriteBuffer;
use crate::error::HttpError;

/// A session's websocket.
pub type Socket = WebSocketStream<WriteBuffer<TokioIo<Upgraded>>>;

/// A request to open a websocket, its headers checked.
pub struct WebSocketUpgrade {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, HttpError> {
        if parts.method != Method::GET {
            return Err(HttpError::new(ErrorCode::MethodNotAllowed, "a websocket opens with GET"));
        }
        let headers = &parts.headers;
        let asks = has_token(headers, header::CONNECTION, "upgrade")
            && has_token(headers, header::UPGRADE, "websocket")
            && has_token(headers, header::SEC_WEBSOCKET_VERSION, "13");
        let not_websocket = || HttpError::new(ErrorCode::BadRequest, "this address takes a websocket (version 13) only");
        let key = headers.get(header::SEC_WEBSOCKET_KEY).filter(|_| asks).cloned().ok_or_else(not_websocket)?;
        let on_upgrade = parts.extensions.remove::<OnUpgrade>().ok_or_else(not_websocket)?;
        Ok(Self { key, on_upgrade })
    }
}

impl WebSocketUpgrade {
    /// Answers 101, and once the connection has switched runs `session` on
    /// its socket, as a task of `tasks`.
    pub fn on_upgrade<Fut>(
        self,
        tasks: &TaskTracker,
        config: WebSocketConfig,
        session: impl FnOnce(Socket) -> Fut + Send + 'static,
    ) -> Response
    where
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tasks.spawn(async move {
            // Fails when the client went away before the switch: nothing to serve.
            let Ok(upgraded) = on_upgrade.await else { return };
            let io = WriteBuffer::new(TokioIo::new(upgraded));
            session(WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await).await;
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(header::CONNECTION, "upgrade")
            .header(header::UPGRADE, "websocket")
            .header(header::SEC_WEBSOCKET_ACCEPT, derive_accept_key(self.key.as_bytes()))
            .body(Body::empty())
            .expect("the answer's headers are valid")
    }
}

/// Whether a header holds `token` in its comma-separated list, in any case.
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}
