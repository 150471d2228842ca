//! `GET /api/rtc/config`: the ICE servers, with TURN credentials, for a call.

use axum::{extract::State, Json};
use wire::call::RtcConfig;

use crate::{auth::AuthUser, calls::ice, state::AppState};

pub async fn config(State(state): State<AppState>, user: AuthUser) -> Json<RtcConfig> {
    let config = &state.config;
    Json(ice::for_user(&config.ice_servers, config.turn_secret.as_ref(), &user.user_id))
}
