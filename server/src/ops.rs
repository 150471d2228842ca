//! Operational endpoints: `/healthz` (the process answers), `/readyz` (the
//! store answers too) and `/metrics` (Prometheus text).

use axum::{extract::State, http::StatusCode, response::IntoResponse, Json};
use wire::protocol::{Readiness, PROTOCOL_VERSION};

use crate::{state::AppState, store::health::StoreStatus};

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

pub async fn metrics() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::handle().render(),
    )
}
