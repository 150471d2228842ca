//! Calls over HTTP: `GET /api/rtc/config`, the ICE servers with TURN
//! credentials; `POST /api/calls/{id}/decline`. Everything else a call does
//! goes over the websocket.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use wire::{call::RtcConfig, protocol::ErrorCode};

use crate::{auth::AuthUser, calls::ice, error::HttpError, ratelimit::budgets::Action, state::AppState};

/// Each answer mints TURN credentials (a relay anyone holding them may use
/// for an hour): a budget per user.
pub async fn config(State(state): State<AppState>, user: AuthUser) -> Result<Json<RtcConfig>, HttpError> {
    let spent = state.budgets.spend(Action::IceConfig, &user.user_id).await;
    spent.map_err(|wait| HttpError::rate_limited_for("asking for call credentials too often", wait))?;
    let config = &state.config;
    Ok(Json(ice::for_user(&config.ice_servers, config.turn_secret.as_ref(), &user.user_id)))
}

/// The callee's Decline from a push notification: the call stops ringing on
/// every tab and the caller hears that it was declined.
pub async fn decline(State(state): State<AppState>, user: AuthUser, Path(id): Path<String>) -> Result<StatusCode, HttpError> {
    if id.len() > MAX_CALL_ID_LEN {
        return Err(HttpError::new(ErrorCode::NotFound, "no such call"));
    }
    state.calls.decline(&user.user_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Call ids are made by the server (a few dozen characters); longer ones are
/// no call's and are not looked up.
const MAX_CALL_ID_LEN: usize = 64;
