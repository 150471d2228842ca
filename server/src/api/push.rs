//! Web Push: the server's key (`/api/push/key`), this device's subscription
//! (`/api/me/push`, a test push: `/api/me/push/test`) and the user's
//! notification settings (`/api/me/notifications`).

use axum::{extract::State, http::StatusCode, Json};
use wire::push::{NotifySettings, PushKey, PushSubscription};

use super::json::ApiJson;
use crate::{auth::AuthUser, error::HttpError, state::AppState};

/// Public: a browser needs it before it can subscribe.
pub async fn key(State(state): State<AppState>) -> Json<PushKey> {
    Json(PushKey { public_key: state.pushes.public_key().to_owned() })
}

pub async fn subscribe(
    State(state): State<AppState>,
    me: AuthUser,
    ApiJson(subscription): ApiJson<PushSubscription>,
) -> Result<StatusCode, HttpError> {
    state.pushes.subscribe(&me.user_id, &me.device_id, subscription).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Idempotent: a device without a subscription answers the same.
pub async fn unsubscribe(State(state): State<AppState>, me: AuthUser) -> Result<StatusCode, HttpError> {
    state.pushes.unsubscribe(&me.user_id, &me.device_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// 202: the push is queued; whether the push service takes it shows on the device.
pub async fn test(State(state): State<AppState>, me: AuthUser) -> Result<StatusCode, HttpError> {
    state.pushes.send_test(&me.user_id, &me.device_id).await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn settings(State(state): State<AppState>, me: AuthUser) -> Result<Json<NotifySettings>, HttpError> {
    Ok(Json(state.pushes.settings(&me.user_id).await?))
}

pub async fn put_settings(
    State(state): State<AppState>,
    me: AuthUser,
    ApiJson(settings): ApiJson<NotifySettings>,
) -> Result<Json<NotifySettings>, HttpError> {
    Ok(Json(state.pushes.put_settings(&me.user_id, settings).await?))
}
