//! The signed-in user's chosen status (seed 000 item 20): online, away, busy
//! or invisible, everywhere or in one conversation.

use axum::{extract::State, Json};
use wire::{
    api::{ConversationStatus, SetStatus, StatusSettings},
    protocol::ApiError,
};

use super::json::ApiJson;
use crate::{
    auth::AuthUser,
    error::HttpError,
    state::AppState,
};

pub async fn get(State(state): State<AppState>, me: AuthUser) -> Result<Json<StatusSettings>, HttpError> {
    Ok(Json(state.store.status_settings(&me.user_id).await?))
}

/// Stores the new setting and tells the user's conversations how they show now.
pub async fn set(
    State(state): State<AppState>,
    me: AuthUser,
    ApiJson(req): ApiJson<SetStatus>,
) -> Result<Json<StatusSettings>, HttpError> {
    let before = state.store.status_settings(&me.user_id).await?;
    let mut settings = before.clone();
    match (req.conversation_id, req.status) {
        (None, Some(status)) => settings.status = status,
        (None, None) => {
            return Err(ApiError::invalid("status", "status: one of online, away, busy, invisible").into());
        }
        (Some(conversation_id), status) => {
            state.chat.require_member(&conversation_id, &me.user_id).await?;
            settings.conversations.retain(|c| c.conversation_id != conversation_id);
            if let Some(status) = status {
                settings.conversations.push(ConversationStatus { conversation_id, status });
            }
        }
    }
    state.store.put_status_settings(&me.user_id, &settings).await?;
    state.presence.status_changed(&me.user_id, &before, &settings).await;
    Ok(Json(settings))
}
