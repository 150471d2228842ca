//! Who may sign up (`/api/signup`, public) and the invitation links
//! administrators make, list and revoke (`/api/signup/invites`).

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use wire::{
    api::{CreateInvite, CreatedInvite, InviteInfo, SignupInfo},
    model::UserId,
    protocol::ErrorCode,
};

use super::{json::ApiJson, users::no_such_user};
use crate::{auth::AuthUser, error::HttpError, state::AppState};

pub async fn info(State(state): State<AppState>) -> Result<Json<SignupInfo>, HttpError> {
    Ok(Json(state.signup.info().await?))
}

/// Lets administrators through; anyone else is answered 403.
async fn admin(state: &AppState, me: &AuthUser) -> Result<UserId, HttpError> {
    let user = state.store.user_by_id(&me.user_id).await?.ok_or_else(no_such_user)?;
    if !state.signup.is_admin(&user).await? {
        return Err(HttpError::new(ErrorCode::Forbidden, "only administrators manage invitation links"));
    }
    Ok(user.id)
}

pub async fn list(State(state): State<AppState>, me: AuthUser) -> Result<Json<Vec<InviteInfo>>, HttpError> {
    admin(&state, &me).await?;
    Ok(Json(state.signup.invites().await?))
}

pub async fn create(
    State(state): State<AppState>,
    me: AuthUser,
    ApiJson(req): ApiJson<CreateInvite>,
) -> Result<(StatusCode, Json<CreatedInvite>), HttpError> {
    let by = admin(&state, &me).await?;
    let (token, invite) = state.signup.create_invite(&by, req).await?;
    Ok((StatusCode::CREATED, Json(CreatedInvite { token, invite })))
}

pub async fn revoke(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, HttpError> {
    admin(&state, &me).await?;
    if !state.signup.revoke(&id).await? {
        return Err(HttpError::new(ErrorCode::NotFound, "no such invitation link"));
    }
    Ok(StatusCode::NO_CONTENT)
}
