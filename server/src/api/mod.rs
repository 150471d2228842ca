//! The JSON HTTP API under `/api` (documented in `docs/API.md`; its types
//! live in `wire::api`). One module per area; all of them answer errors as
//! `wire::protocol::ApiError` bodies.

mod accounts;
mod conversations;
mod devices;
mod files;
mod friends;
mod json;
mod profile;
mod status;
pub(crate) mod users;

use wire::protocol::ErrorCode;
use axum::{
    middleware,
    routing::{delete, get, post},
    Router,
};

use crate::{auth, error::HttpError, AppState};

pub use profile::avatar_file;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(accounts::register))
        .route("/auth/login", post(accounts::login))
        .route("/auth/logout", post(accounts::logout))
        .route("/auth/refresh", post(accounts::refresh))
        .route("/me", get(profile::me).patch(profile::update))
        .route("/me/password", post(accounts::change_password))
        .route("/me/avatar", post(profile::upload_avatar))
        .route("/me/status", get(status::get).put(status::set))
        .route("/users", get(users::search))
        .route("/users/{id}", get(users::profile))
        .route("/devices", get(devices::list))
        .route("/devices/{device_id}", delete(devices::sign_out))
        .route("/conversations", get(conversations::list).post(conversations::create_group))
        .route("/conversations/public", get(conversations::directory))
        .route("/conversations/private", post(conversations::start_private))
        .route("/conversations/{id}", get(conversations::details).patch(conversations::update))
        .route("/conversations/{id}/join", post(conversations::join))
        .route("/conversations/{id}/invite", post(conversations::invite))
        .route("/conversations/{id}/leave", post(conversations::leave))
        .route("/conversations/{id}/messages", get(conversations::history))
        .route("/conversations/{id}/read", post(conversations::mark_read))
        .route("/invitations", get(conversations::invitations))
        .route("/files", post(files::upload))
        .route("/files/instant", post(files::claim))
        .route("/files/instant/{challenge_id}", post(files::prove))
        .route("/files/{id}", get(files::download))
        .route("/files/{id}/thumbnail", get(files::thumbnail))
        .route("/friends", get(friends::list))
        .route("/friends/{user_id}", post(friends::add).delete(friends::remove))
        .route("/emoji", get(crate::text::catalog::serve))
        .route("/rtc/config", get(crate::calls::ice::config))
        .fallback(|| async { HttpError::new(ErrorCode::NotFound, "no such API endpoint") })
        .method_not_allowed_fallback(|| async {
            HttpError::new(ErrorCode::MethodNotAllowed, "this endpoint does not take that method")
        })
        .layer(middleware::from_fn_with_state(state, auth::authenticate))
}
