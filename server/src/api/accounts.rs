//! Signing up, in and out (registerUser, loginAction, logoutAction), token
//! refresh, and changing the password (changePwd).

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use wire::{
    api::{
        check_device_id, check_email, check_nickname, check_password, AuthResponse, ChangePassword, LoginRequest,
        RegisterRequest,
    },
    model::UserId,
    protocol::{close, ApiError, ErrorCode},
};

use super::json::ApiJson;
use crate::{
    clock::now_millis,
    client_addr::address_key,
    auth::{
        token::{self, Claims},
        AuthUser, RefreshableUser,
    },
    error::HttpError,
    hub::HubEvent,
    ratelimit::{RateLimiter, EVERYONE},
    signup::{SignupError, Ticket},
    store::{
        devices::DeviceRecord,
        new_id,
        users::{UserPatch, UserRecord},
        StoreError,
    },
    state::AppState,
};

/// Longest User-Agent kept for the devices list.
const MAX_USER_AGENT_CHARS: usize = 256;

async fn limited(limiter: &RateLimiter, key: &str) -> Result<(), HttpError> {
    limiter.hit(key).await.map_err(HttpError::rate_limited)
}

/// The key the client's address counts under in the sign-in limits: the
/// address a trusted proxy forwarded for, else the peer's; IPv6 by its /64.
fn client_key(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> String {
    address_key(state.config.trusted_proxies.client(peer.ip(), headers)).to_string()
}

fn user_agent(headers: &HeaderMap) -> String {
    let ua = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("unknown");
    ua.chars().take(MAX_USER_AGENT_CHARS).collect()
}

/// The answer to a successful sign-in: the token in the body and as a cookie.
async fn signed_in(
    status: StatusCode,
    state: &AppState,
    user: &UserRecord,
    claims: &Claims,
) -> Result<Response, HttpError> {
    let token = token::encode(&state.config.jwt_secret, claims);
    let me = user.me(state.signup.is_admin(user).await?);
    let body = AuthResponse { token: token.clone(), expires_ms: claims.expires_ms(), user: me };
    Ok((status, [(header::SET_COOKIE, state.auth.session_cookie(&token))], Json(body)).into_response())
}

/// Starts a session on the device, replacing (and so revoking) any token it had.
async fn start_session(state: &AppState, user: &UserId, device_id: &str, headers: &HeaderMap) -> Result<(UserRecord, Claims), HttpError> {
    let mut now = now_millis();
    let token_id = new_id();
    let replaced = state.store.device(user, device_id).await?;
    // The sign-in time names the session: a new one never shares the old one's.
    if let Some(old) = &replaced {
        now = now.max(old.signed_in_ms + 1);
    }
    state
        .store
        .put_device(&DeviceRecord {
            user_id: user.clone(),
            device_id: device_id.to_owned(),
            token_id: token_id.clone(),
            user_agent: user_agent(headers),
            signed_in_ms: now,
            last_seen_ms: now,
            previous_token_id: None,
            rotated_ms: 0,
        })
        .await?;
    if replaced.is_some() {
        signed_out(state, user, device_id, close::SIGNED_IN_AGAIN).await;
    }
    let patch = UserPatch { login_at: Some(now), ..UserPatch::default() };
    let user = state.store.update_user(user, &patch).await?.ok_or_else(super::users::no_such_user)?;
    Ok((user.clone(), state.auth.claims(&user.id, device_id, &token_id, now, now_millis())))
}

/// Whether this server takes the sign-up (its mode, the invitation); wrong
/// invitation tokens slow down further guesses from the address.
async fn admitted(state: &AppState, client: &str, invite: Option<&str>) -> Result<Ticket, HttpError> {
    let backoff = &state.auth_limits.invite_backoff;
    if invite.is_some() {
        backoff.check(client).await.map_err(|wait| {
            let why = "too many invalid invitation links from this address: wait before trying again";
            HttpError::rate_limited_for(why, wait)
        })?;
    }
    match state.signup.check(invite).await {
        Err(SignupError::InviteInvalid) => {
            backoff.failed(client).await;
            Err(SignupError::InviteInvalid.into())
        }
        checked => Ok(checked?),
    }
}

pub async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<Response, HttpError> {
    let client = client_key(&state, peer, &headers);
    limited(&state.auth_limits.register_per_ip, &client).await?;
    let email = check_email(&req.email)?;
    limited(&state.auth_limits.login_per_account, &email).await?;
    let nickname = state.text.check_name(check_nickname(&req.nickname)?, "nickname")?;
    check_password(&req.password, "password")?;
    check_device_id(&req.device_id)?;
    limited(&state.auth_limits.login_total, EVERYONE).await?;
    let ticket = admitted(&state, &client, req.invite.as_deref()).await?;
    let user = UserRecord {
        id: UserId(new_id()),
        email,
        nickname,
        password_hash: state.hasher.hash(req.password).await?,
        gender: req.gender,
        avatar: None,
        created_ms: now_millis(),
        last_login_ms: None,
        login_count: 0,
    };
    let claim = state.signup.claim(ticket).await?;
    match state.store.insert_user(&user).await {
        Ok(()) => {}
        Err(e) => {
            state.signup.release(claim).await;
            if let StoreError::Conflict(_) = e {
                let taken = ApiError::new(ErrorCode::EmailTaken, "an account with this e-mail address exists already");
                return Err(taken.about("email").into());
            }
            return Err(e.into());
        }
    }
    let (user, claims) = start_session(&state, &user.id, &req.device_id, &headers).await?;
    signed_in(StatusCode::CREATED, &state, &user, &claims).await
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, HttpError> {
    let client = client_key(&state, peer, &headers);
    limited(&state.auth_limits.login_per_ip, &client).await?;
    check_device_id(&req.device_id)?;
    let email = check_email(&req.email)?;
    // Wrong passwords slow down guesses at this account from this address only.
    let pair = format!("{email}|{client}");
    state.auth_limits.login_backoff.check(&pair).await.map_err(|wait| {
        HttpError::rate_limited_for("too many wrong passwords from this address: wait before trying again", wait)
    })?;
    limited(&state.auth_limits.login_per_account, &email).await?;
    // Counted last, so attempts the other limits refuse do not use it up.
    limited(&state.auth_limits.login_total, EVERYONE).await?;
    let user = state.store.user_by_email(&email).await?;
    // Unknown e-mail and wrong password take the same time and get the same answer.
    if !state.hasher.verify(req.password, user.as_ref().map(|u| u.password_hash.clone())).await? {
        state.auth_limits.login_backoff.failed(&pair).await;
        return Err(HttpError::new(ErrorCode::InvalidCredentials, "wrong e-mail address or password"));
    }
    state.auth_limits.login_backoff.succeeded(&pair).await;
    let user = user.expect("verified against a stored hash");
    let (user, claims) = start_session(&state, &user.id, &req.device_id, &headers).await?;
    signed_in(StatusCode::OK, &state, &user, &claims).await
}

/// Tells every node that a device's session ended, so its open websockets close.
pub(super) async fn signed_out(state: &AppState, user: &UserId, device_id: &str, close_code: u16) {
    let event = HubEvent::SignedOut { user_id: user.clone(), device_id: device_id.to_owned(), close_code };
    state.fanout.publish(event).await;
}

pub async fn logout(State(state): State<AppState>, me: AuthUser) -> Result<Response, HttpError> {
    state.store.remove_device(&me.user_id, &me.device_id).await?;
    signed_out(&state, &me.user_id, &me.device_id, close::SIGNED_OUT).await;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, state.auth.clear_cookie())]).into_response())
}

/// A fresh token, with a new token id, for the same device session; also
/// takes a token expired less than the renewal grace ago. The token
/// refreshed stays valid a few seconds more, for requests under way.
pub async fn refresh(State(state): State<AppState>, RefreshableUser(me): RefreshableUser) -> Result<Response, HttpError> {
    let user = state.store.user_by_id(&me.user_id).await?.ok_or_else(super::users::no_such_user)?;
    // A cookie the middleware renewed for this very request is rotated once, not twice
    // (twice would make the cookie of the browser's requests under way look stolen).
    if me.renewed {
        return signed_in(StatusCode::OK, &state, &user, &me.claims).await;
    }
    let Some(claims) = state.auth.rotate(&me).await? else {
        return Err(HttpError::new(ErrorCode::TokenRevoked, "this token was refreshed already: use the newer one"));
    };
    signed_in(StatusCode::OK, &state, &user, &claims).await
}

/// Changes the password and signs out every other device.
pub async fn change_password(
    State(state): State<AppState>,
    me: AuthUser,
    ApiJson(req): ApiJson<ChangePassword>,
) -> Result<StatusCode, HttpError> {
    check_password(&req.new_password, "new_password")?;
    limited(&state.auth_limits.login_per_account, &me.user_id.0).await?;
    let user = state.store.user_by_id(&me.user_id).await?.ok_or_else(super::users::no_such_user)?;
    if !state.hasher.verify(req.current_password, Some(user.password_hash)).await? {
        let wrong = ApiError::new(ErrorCode::InvalidCredentials, "the current password is wrong");
        return Err(wrong.about("current_password").into());
    }
    let patch = UserPatch { password_hash: Some(state.hasher.hash(req.new_password).await?), ..UserPatch::default() };
    state.store.update_user(&me.user_id, &patch).await?;
    let others = state.store.devices_of(&me.user_id).await?;
    state.store.remove_other_devices(&me.user_id, &me.device_id).await?;
    for device in others.iter().filter(|d| d.device_id != me.device_id) {
        signed_out(&state, &me.user_id, &device.device_id, close::SIGNED_OUT).await;
    }
    Ok(StatusCode::NO_CONTENT)
}
