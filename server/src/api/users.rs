//! Other users: public profiles and search (getUserInfo for others).

use axum::{
    extract::{rejection::QueryRejection, Path, Query, State},
    Json,
};
use wire::{
    api::{PeopleParams, PublicProfile},
    model::UserId,
    protocol::ErrorCode,
};

use crate::{
    auth::AuthUser,
    error::HttpError,
    ratelimit::budgets::Action,
    state::AppState,
    store::users::{UserRecord, MAX_SEARCH_RESULTS},
    text::search_fold::KeyQuery,
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

/// People by any part of their nickname, its pinyin or initials (folded as
/// message search folds), best match first; or by an exact e-mail address,
/// if its owner allows it. Never oneself, nor anyone a block keeps apart.
pub async fn search(
    State(state): State<AppState>,
    me: AuthUser,
    params: Result<Query<PeopleParams>, QueryRejection>,
) -> Result<Json<Vec<PublicProfile>>, HttpError> {
    let Query(params) = params.map_err(|r| HttpError::new(ErrorCode::BadRequest, r.body_text()))?;
    let (q, limit) = params.check()?;
    let spent = state.budgets.spend(Action::Search, &me.user_id).await;
    spent.map_err(|wait| HttpError::rate_limited_for("searching too often; slow down", wait))?;
    let apart = state.chat.kept_apart(&me.user_id).await?;
    // Enough more than asked for that oneself and those kept apart drop out.
    let wanted = (limit as usize + 1 + apart.len()).min(MAX_SEARCH_RESULTS as usize) as u32;
    let mut found = match KeyQuery::new(q) {
        Some(key) => state.store.search_users(&key, wanted).await?,
        None => Vec::new(),
    };
    // An exact e-mail address finds its owner only if they allow it.
    if let Some(owner) = state.store.user_by_email(q).await? {
        if state.store.privacy(&owner.id).await?.findable_by_email && !found.iter().any(|u| u.id == owner.id) {
            found.insert(0, owner);
        }
    }
    Ok(Json(
        found
            .iter()
            .filter(|u| u.id != me.user_id && !apart.contains(&u.id))
            .take(limit as usize)
            .map(UserRecord::public)
            .collect(),
    ))
}
