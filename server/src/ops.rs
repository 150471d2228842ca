//! Operational endpoints: `/healthz` (the process answers), `/readyz` (the
//! store answers too) and `/metrics` (Prometheus text).

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, StatusCode},
    response::IntoResponse,
    Json,
};
use wire::protocol::{ErrorCode, Readiness, PROTOCOL_VERSION};

use crate::{client_addr::forwarded, error::HttpError, state::AppState, store::health::StoreStatus};

pub async fn healthz() -> &'static str {
    "ok"
}

pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let status = state.health.status();
    let body = Readiness {
        ready: status == StoreStatus::Ready,
        store: state.store.kind().to_owned(),
        store_error: match status {
            StoreStatus::Ready => None,
            StoreStatus::Starting => Some("connecting".to_owned()),
            StoreStatus::Down(reason) => Some(reason),
        },
        node_id: state.config.node_id.clone(),
        protocol_version: PROTOCOL_VERSION,
    };
    let code = if body.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body))
}

/// `/metrics`: with `--metrics-token-file`, to requests bearing the token;
/// without, only to requests from this machine that no proxy forwarded (a
/// reverse proxy on this machine would otherwise hand it to anyone), or
/// that a `--trusted-proxy` forwarded for this machine.
pub async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, HttpError> {
    match &state.config.metrics_token {
        Some(token) => {
            let offered = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            if !same_bytes(offered.trim().as_bytes(), token.bytes()) {
                return Err(HttpError::new(ErrorCode::Unauthorized, "/metrics needs its token: Authorization: Bearer …"));
            }
        }
        None => {
            // Through a trusted proxy, the client it names must be this
            // machine; from anyone else, a forwarding header means a proxy
            // passed the request on, from who knows where.
            let proxies = &state.config.trusted_proxies;
            let local = match proxies.trusts(peer.ip()) {
                true => proxies.client(peer.ip(), &headers).is_loopback(),
                false => peer.ip().is_loopback() && !forwarded(&headers),
            };
            if !local {
                return Err(HttpError::new(
                    ErrorCode::Forbidden,
                    "/metrics answers only this machine; set --metrics-token-file to scrape it from elsewhere",
                ));
            }
        }
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics::handle().render()))
}

/// Compares in time independent of where the bytes first differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
