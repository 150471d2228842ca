//! Other users: public profiles and search (getUserInfo for others).

use axum::{
    extract::{Path, Query, State},
    Json,
};
use serde::Deserialize;
use wire::{
    api::{PublicProfile, MAX_NICKNAME_CHARS},
    model::UserId,
    protocol::{ApiError, ErrorCode},
};

use crate::{
    auth::AuthUser,
    error::HttpError,
    ratelimit::budgets::Action,
    store::users::{UserRecord, MAX_SEARCH_RESULTS},
    state::AppState,
};


pub fn no_such_user() -> HttpError {
    HttpError::new(ErrorCode::NotFound, "no such user")
}

/// A user's public profile; one a block keeps apart looks absent.
pub async fn profile(
    State(state): State<AppState>,
    me: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<PublicProfile>, HttpError> {
    let id = UserId(id);
    if state.chat.kept_apart(&me.user_id).await?.contains(&id) {
        return Err(no_such_user());
    }
    let user = state.store.user_by_id(&id).await?.ok_or_else(no_such_user)?;
    Ok(Json(user.public()))
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
    let spent = state.budgets.spend(Action::Search, &me.user_id).await;
    spent.map_err(|wait| HttpError::rate_limited_for("searching too often; slow down", wait))?;
    let mut found = state.store.search_users(q, MAX_SEARCH_RESULTS + 1).await?;
    // An exact e-mail address finds its owner only if they allow it.
    if let Some(owner) = state.store.user_by_email(q).await? {
        if state.store.privacy(&owner.id).await?.findable_by_email && !found.iter().any(|u| u.id == owner.id) {
            found.insert(0, owner);
        }
    }
    let apart = state.chat.kept_apart(&me.user_id).await?;
    Ok(Json(
        found
            .iter()
            .filter(|u| u.id != me.user_id && !apart.contains(&u.id))
            .take(MAX_SEARCH_RESULTS as usize)
            .map(UserRecord::public)
            .collect(),
    ))
}
