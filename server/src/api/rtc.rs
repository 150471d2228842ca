//! `GET /api/rtc/config`: the ICE servers, with TURN credentials, for a call.

use axum::{extract::State, Json};
use wire::call::RtcConfig;

use crate::{auth::AuthUser, calls::ice, error::HttpError, ratelimit::budgets::Action, state::AppState};

/// Each answer mints TURN credentials (a relay anyone holding them may use
/// for an hour): a budget per user.
pub async fn config(State(state): State<AppState>, user: AuthUser) -> Result<Json<RtcConfig>, HttpError> {
    let spent = state.budgets.spend(Action::IceConfig, &user.user_id).await;
    spent.map_err(|wait| HttpError::rate_limited_for("asking for call credentials too often", wait))?;
    let config = &state.config;
    Ok(Json(ice::for_user(&config.ice_servers, config.turn_secret.as_ref(), &user.user_id)))
}
