//! Other users: public profiles and search (getUserInfo for others).

use wire::{
    api::{avatar_url, Me, PublicProfile, MAX_NICKNAME_CHARS},
    model::UserId,
    protocol::{ApiError, ErrorCode},
};
use axum::{
    extract::{Path, Query, State},
    Json,
};
use serde::Deserialize;

use crate::{
    auth::AuthUser,
    error::HttpError,
    store::users::{UserRecord, MAX_SEARCH_RESULTS},
    AppState,
};

/// The avatar shown in lists and headers.
const AVATAR_SHOWN: u32 = 128;

pub fn public(u: &UserRecord) -> PublicProfile {
    PublicProfile {
        id: u.id.clone(),
        nickname: u.nickname.clone(),
        gender: u.gender,
        avatar: u.avatar.as_ref().map(|v| avatar_url(&u.id, v, AVATAR_SHOWN)),
    }
}

pub fn me(u: &UserRecord) -> Me {
    Me {
        id: u.id.clone(),
        email: u.email.clone(),
        nickname: u.nickname.clone(),
        gender: u.gender,
        avatar: u.avatar.as_ref().map(|v| avatar_url(&u.id, v, AVATAR_SHOWN)),
        created_ms: u.created_ms,
        last_login_ms: u.last_login_ms,
        login_count: u.login_count,
    }
}

pub fn no_such_user() -> HttpError {
    HttpError::new(ErrorCode::NotFound, "no such user")
}

pub async fn profile(
    State(state): State<AppState>,
    _: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<PublicProfile>, HttpError> {
    let user = state.store.user_by_id(&UserId(id)).await?.ok_or_else(no_such_user)?;
    Ok(Json(public(&user)))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub async fn search(
    State(state): State<AppState>,
    me: AuthUser,
    Query(query): Query<SearchQuery>,
) -> Result<Json<Vec<PublicProfile>>, HttpError> {
    let q = query.q.trim();
    let n = q.chars().count();
    if n == 0 || n > MAX_NICKNAME_CHARS.max(wire::api::MAX_EMAIL_CHARS) {
        return Err(HttpError::from(ApiError::invalid("q", "search for 1 to 254 characters of a nickname or an e-mail")));
    }
    let found = state.store.search_users(q, MAX_SEARCH_RESULTS + 1).await?;
    Ok(Json(
        found
            .iter()
            .filter(|u| u.id != me.user_id)
            .take(MAX_SEARCH_RESULTS as usize)
            .map(public)
            .collect(),
    ))
}
