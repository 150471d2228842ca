//! The signed-in user's own profile (getUserInfo for self, updateUserInfo)
//! and avatar upload.

use axum::{
    body::{to_bytes, Body},
    extract::{Path, State},
    response::Response,
    Json,
};
use wire::{
    api::{check_nickname, Me, UpdateProfile},
    protocol::ErrorCode,
};

use super::{json::ApiJson, users::no_such_user};
use crate::{
    auth::AuthUser,
    avatar,
    error::HttpError,
    store::users::UserPatch,
    state::AppState,
};

pub async fn me(State(state): State<AppState>, me: AuthUser) -> Result<Json<Me>, HttpError> {
    let user = state.store.user_by_id(&me.user_id).await?.ok_or_else(no_such_user)?;
    Ok(Json(user.me(state.signup.is_admin(&user).await?)))
}

pub async fn update(
    State(state): State<AppState>,
    me: AuthUser,
    ApiJson(req): ApiJson<UpdateProfile>,
) -> Result<Json<Me>, HttpError> {
    let patch = UserPatch {
        nickname: match req.nickname.as_deref() {
            Some(nickname) => Some(state.text.check_name(check_nickname(nickname)?, "nickname")?),
            None => None,
        },
        gender: req.gender,
        ..UserPatch::default()
    };
    let user = state.store.update_user(&me.user_id, &patch).await?.ok_or_else(no_such_user)?;
    Ok(Json(user.me(state.signup.is_admin(&user).await?)))
}

/// Takes the image as the raw request body, whatever its declared type: the
/// bytes decide what it is.
pub async fn upload_avatar(State(state): State<AppState>, me: AuthUser, body: Body) -> Result<Json<Me>, HttpError> {
    let _slot = super::files::start_upload(&state, &me.user_id).await?;
    let max = state.config.max_avatar_bytes as usize;
    // One byte more than allowed is enough to know it is too large.
    let bytes = to_bytes(body, max + 1).await.map_err(|_| {
        HttpError::new(ErrorCode::PayloadTooLarge, format!("an avatar may be at most {} MiB", max >> 20))
    })?;
    let slot = super::files::decode_slot(&state).await?;
    let processed = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        avatar::process(&bytes, max)
    })
        .await
        .map_err(|e| HttpError::new(ErrorCode::Internal, format!("avatar task failed: {e}")))??;
    // The new images replace the old ones in the quota.
    super::files::quota_usage(&state, &me.user_id, false).await?.admit(processed.stored_bytes())?;
    avatar::save(&*state.avatars, &me.user_id, &processed).await.map_err(io_failure)?;
    let patch = UserPatch { avatar: Some(processed.version.clone()), ..UserPatch::default() };
    let user = state.store.update_user(&me.user_id, &patch).await?.ok_or_else(no_such_user)?;
    if let Err(e) = avatar::remove_other_versions(&*state.avatars, &me.user_id, &processed.version).await {
        tracing::warn!(error = %e, "could not remove old avatar images");
    }
    Ok(Json(user.me(state.signup.is_admin(&user).await?)))
}

/// `GET /avatars/{user}/{version}/{file}`: public, cached forever.
pub async fn avatar_file(
    State(state): State<AppState>,
    Path((user, version, file)): Path<(String, String, String)>,
) -> Response {
    avatar::serve_file(&*state.avatars, &user, &version, &file).await
}

fn io_failure(e: std::io::Error) -> HttpError {
    tracing::error!(error = %e, "cannot store avatar images");
    HttpError::new(ErrorCode::Internal, "cannot store the avatar")
}
