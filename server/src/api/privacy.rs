//! Who may reach the user (`/api/me/privacy`) and whom they blocked (`/api/blocks`).

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use wire::{
    api::{Privacy, PublicProfile},
    model::UserId,
};

use super::json::ApiJson;
use crate::{auth::AuthUser, error::HttpError, state::AppState};

pub async fn get(State(state): State<AppState>, me: AuthUser) -> Result<Json<Privacy>, HttpError> {
    Ok(Json(state.store.privacy(&me.user_id).await?))
}

pub async fn set(State(state): State<AppState>, me: AuthUser, ApiJson(privacy): ApiJson<Privacy>) -> Result<Json<Privacy>, HttpError> {
    state.store.put_privacy(&me.user_id, &privacy).await?;
    Ok(Json(privacy))
}

pub async fn blocked(State(state): State<AppState>, me: AuthUser) -> Result<Json<Vec<PublicProfile>>, HttpError> {
    Ok(Json(state.chat.blocked(&me.user_id).await?))
}

pub async fn block(State(state): State<AppState>, me: AuthUser, Path(other): Path<String>) -> Result<StatusCode, HttpError> {
    state.chat.block(&me.user_id, &UserId(other)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn unblock(State(state): State<AppState>, me: AuthUser, Path(other): Path<String>) -> Result<StatusCode, HttpError> {
    state.chat.unblock(&me.user_id, &UserId(other)).await?;
    Ok(StatusCode::NO_CONTENT)
}
