//! The signed-in devices of a user, and signing any of them out.

use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use wire::{
    api::DeviceInfo,
    protocol::{close, ErrorCode},
};

use crate::{
    auth::AuthUser,
    error::HttpError,
    state::AppState,
};

pub async fn list(State(state): State<AppState>, me: AuthUser) -> Result<Json<Vec<DeviceInfo>>, HttpError> {
    let devices = state.store.devices_of(&me.user_id).await?;
    Ok(Json(
        devices
            .into_iter()
            .map(|d| DeviceInfo {
                current: d.device_id == me.device_id,
                device_id: d.device_id,
                user_agent: d.user_agent,
                signed_in_ms: d.signed_in_ms,
                last_seen_ms: d.last_seen_ms,
            })
            .collect(),
    ))
}

pub async fn sign_out(
    State(state): State<AppState>,
    me: AuthUser,
    Path(device_id): Path<String>,
) -> Result<Response, HttpError> {
    if !state.store.remove_device(&me.user_id, &device_id).await? {
        return Err(HttpError::new(ErrorCode::NotFound, "no such signed-in device"));
    }
    super::accounts::signed_out(&state, &me.user_id, &device_id, close::SIGNED_OUT).await;
    if device_id == me.device_id {
        return Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, state.auth.clear_cookie())]).into_response());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
