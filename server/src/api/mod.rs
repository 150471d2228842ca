//! The JSON HTTP API under `/api` (documented in `docs/API.md`; its types
//! live in `wire::api`). One module per area; all of them answer errors as
//! `wire::protocol::ApiError` bodies.

mod accounts;
mod conversations;
mod devices;
mod files;
mod friends;
mod json;
mod messages;
mod privacy;
mod push;
mod profile;
mod rtc;
mod search;
mod signup;
mod status;
pub(crate) mod users;

use axum::{
    middleware,
    routing::{delete, get, post, put},
    Router,
};
use wire::{endpoint::route, protocol::ErrorCode};

use crate::{auth, error::HttpError, state::AppState};

pub use profile::avatar_file;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(route::AUTH_REGISTER, post(accounts::register))
        .route(route::AUTH_LOGIN, post(accounts::login))
        .route(route::AUTH_LOGOUT, post(accounts::logout))
        .route(route::AUTH_REFRESH, post(accounts::refresh))
        .route(route::SIGNUP, get(signup::info))
        .route(route::SIGNUP_INVITES, get(signup::list).post(signup::create))
        .route(route::SIGNUP_INVITE, delete(signup::revoke))
        .route(route::ME, get(profile::me).patch(profile::update))
        .route(route::ME_PASSWORD, post(accounts::change_password))
        .route(route::ME_AVATAR, post(profile::upload_avatar))
        .route(route::ME_STATUS, get(status::get).put(status::set))
        .route(route::ME_PRIVACY, get(privacy::get).put(privacy::set))
        .route(route::ME_NOTIFICATIONS, get(push::settings).put(push::put_settings))
        .route(route::ME_PUSH, put(push::subscribe).delete(push::unsubscribe))
        .route(route::ME_PUSH_TEST, post(push::test))
        .route(route::PUSH_KEY, get(push::key))
        .route(route::BLOCKS, get(privacy::blocked))
        .route(route::BLOCK, put(privacy::block).delete(privacy::unblock))
        .route(route::USERS, get(users::search))
        .route(route::USER, get(users::profile))
        .route(route::SEARCH, get(search::messages))
        .route(route::DEVICES, get(devices::list))
        .route(route::DEVICE, delete(devices::sign_out))
        .route(route::CONVERSATIONS, get(conversations::list).post(conversations::create_group))
        .route(route::PUBLIC_CONVERSATIONS, get(conversations::directory))
        .route(route::PRIVATE_CONVERSATIONS, post(conversations::start_private))
        .route(route::CONVERSATION, get(conversations::details).patch(conversations::update))
        .route(route::CONVERSATION_JOIN, post(conversations::join))
        .route(route::CONVERSATION_INVITE, post(conversations::invite))
        .route(route::CONVERSATION_LEAVE, post(conversations::leave))
        .route(route::CONVERSATION_MESSAGES, get(conversations::history).post(messages::send))
        .route(route::CONVERSATION_MESSAGE, get(messages::one).patch(messages::edit).delete(messages::delete))
        .route(route::CONVERSATION_PINS, get(messages::pinned))
        .route(route::MESSAGE_REACTION, put(messages::react).delete(messages::unreact))
        .route(route::MESSAGE_PIN, put(messages::pin).delete(messages::unpin))
        .route(route::CONVERSATION_READ, post(conversations::mark_read))
        .route(route::CONVERSATION_RECEIPTS, get(conversations::receipts))
        .route(route::INVITATIONS, get(conversations::invitations))
        .route(route::INVITATION, delete(conversations::decline))
        .route(route::FILES, post(files::upload))
        .route(route::FILES_INSTANT, post(files::claim))
        .route(route::FILES_INSTANT_PROOF, post(files::prove))
        .route(route::FILE, get(files::download))
        .route(route::FILE_THUMBNAIL, get(files::thumbnail))
        .route(route::FRIENDS, get(friends::list))
        .route(route::FRIEND, post(friends::add).delete(friends::remove))
        .route(route::EMOJI, get(crate::text::catalog::serve))
        .route(route::RTC_CONFIG, get(rtc::config))
        .route(route::CALL_DECLINE, post(rtc::decline))
        .fallback(|| async { HttpError::new(ErrorCode::NotFound, "no such API endpoint") })
        .method_not_allowed_fallback(|| async {
            HttpError::new(ErrorCode::MethodNotAllowed, "this endpoint does not take that method")
        })
        .layer(middleware::from_fn_with_state(state.auth.clone(), auth::authenticate))
}
