//! `GET /api/search`: the messages of the user's conversations that match.

use axum::{
    extract::{rejection::QueryRejection, Query, State},
    Json,
};
use wire::{
    api::{SearchParams, SearchResults},
    protocol::ErrorCode,
};

use crate::{auth::AuthUser, error::HttpError, state::AppState};

pub async fn messages(
    State(state): State<AppState>,
    me: AuthUser,
    params: Result<Query<SearchParams>, QueryRejection>,
) -> Result<Json<SearchResults>, HttpError> {
    let Query(params) = params.map_err(|r| HttpError::new(ErrorCode::BadRequest, r.body_text()))?;
    Ok(Json(state.search.search(&me.user_id, &params).await?))
}
