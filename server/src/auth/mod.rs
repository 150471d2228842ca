//! Who is asking. The [`authenticate`] middleware reads the token of every
//! `/api` request — from `Authorization: Bearer` (API clients) or the
//! HttpOnly cookie (browsers), never from the URL — checks its signature and
//! that its device still holds it, and leaves the outcome for the
//! [`AuthUser`] extractor. Browsers get a fresh cookie while they are active,
//! so their short-lived tokens never run out under them.

pub mod password;
pub mod token;

use std::sync::Arc;

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{header, request::Parts, HeaderMap, HeaderValue},
    middleware::Next,
    response::{IntoResponse, Response},
};
use wire::{
    api::TOKEN_COOKIE,
    model::{Millis, UserId},
    protocol::ErrorCode,
};

use self::token::{Claims, TokenError};
use crate::{clock::now_millis, error::HttpError, secret::Secret, store::DynStore};

/// A device unseen for this long must sign in again.
pub const SESSION_IDLE_LIMIT_MS: Millis = 30 * 24 * 60 * 60 * 1000;
/// Activity is written to the store at most this often per device.
const TOUCH_EVERY_MS: Millis = 60 * 1000;

/// The signed-in user behind a request; extracting it fails with 401 when
/// there is none.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub user_id: UserId,
    pub device_id: String,
    pub claims: Claims,
}

/// Like [`AuthUser`], but also accepts an expired token whose device is still
/// signed in: what `POST /api/auth/refresh` needs.
#[derive(Clone, Debug)]
pub struct RefreshableUser(pub AuthUser);

#[derive(Clone, Debug)]
enum Authentication {
    Valid(AuthUser),
    Expired(AuthUser),
    Failed(ErrorCode),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Bearer,
    Cookie,
}

/// What checking a token needs: the key that signs tokens and the store that
/// knows which token each device holds.
pub struct Authenticator {
    pub secret: Secret,
    pub store: DynStore,
}

pub async fn authenticate(State(auth): State<Arc<Authenticator>>, mut req: Request, next: Next) -> Response {
    let (outcome, renew) = match token_of(req.headers()) {
        None => (Authentication::Failed(ErrorCode::Unauthorized), false),
        Some((token, source)) => match check(&auth, &token, source).await {
            Ok(checked) => checked,
            Err(e) => return e.into_response(),
        },
    };
    let renew_for = match (&outcome, renew) {
        (Authentication::Valid(user), true) => Some(user.clone()),
        _ => None,
    };
    req.extensions_mut().insert(outcome);
    let mut response = next.run(req).await;
    if let Some(user) = renew_for {
        if !sets_token_cookie(response.headers()) {
            let claims = Claims::new(&user.user_id, &user.device_id, &user.claims.jti, now_millis());
            let token = token::encode(&auth.secret, &claims);
            response.headers_mut().append(header::SET_COOKIE, session_cookie(&token));
        }
    }
    response
}

/// Decides what a token proves, and whether the browser's cookie needs a
/// fresh token (it is past half its life, or expired on a live session).
async fn check(auth: &Authenticator, token: &str, source: Source) -> Result<(Authentication, bool), HttpError> {
    let (claims, expired) = match token::decode(&auth.secret, token) {
        Ok(claims) => (claims, false),
        Err(TokenError::Expired(claims)) => (claims, true),
        Err(TokenError::Invalid) => return Ok((Authentication::Failed(ErrorCode::Unauthorized), false)),
    };
    let user = AuthUser { user_id: UserId(claims.sub.clone()), device_id: claims.dev.clone(), claims };
    let revoked = (Authentication::Failed(ErrorCode::TokenRevoked), false);
    let Some(device) = auth.store.device(&user.user_id, &user.device_id).await? else {
        return Ok(revoked);
    };
    if device.token_id != user.claims.jti {
        return Ok(revoked);
    }
    let now = now_millis();
    if now - device.last_seen_ms > SESSION_IDLE_LIMIT_MS {
        return Ok((Authentication::Failed(ErrorCode::TokenExpired), false));
    }
    if now - device.last_seen_ms > TOUCH_EVERY_MS {
        auth.store.touch_device(&user.user_id, &user.device_id, now).await?;
    }
    Ok(match source {
        Source::Cookie => {
            let renew = expired || user.claims.is_ageing(now);
            (Authentication::Valid(user), renew)
        }
        Source::Bearer if expired => (Authentication::Expired(user), false),
        Source::Bearer => (Authentication::Valid(user), false),
    })
}

fn token_of(headers: &HeaderMap) -> Option<(String, Source)> {
    if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?;
        return Some((token.trim().to_owned(), Source::Bearer));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(TOKEN_COOKIE)?.strip_prefix('='))
        .filter(|t| !t.is_empty())
        .map(|t| (t.to_owned(), Source::Cookie))
}

fn sets_token_cookie(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| v.as_bytes().starts_with(format!("{TOKEN_COOKIE}=").as_bytes()))
}

/// The browser's token cookie. It outlives the token (the session's idle
/// limit), so an expired token can still be renewed on the next request.
pub fn session_cookie(token: &str) -> HeaderValue {
    let max_age = SESSION_IDLE_LIMIT_MS / 1000;
    HeaderValue::from_str(&format!("{TOKEN_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax"))
        .expect("a JWT is a valid header value")
}

pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_str(&format!("{TOKEN_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")).expect("static")
}

fn failure(code: ErrorCode) -> HttpError {
    let message = match code {
        ErrorCode::TokenExpired => "the token has expired: refresh it or sign in again",
        ErrorCode::TokenRevoked => "this token was signed out: the device signed in again, signed out, or the password changed",
        _ => "sign in first",
    };
    HttpError::new(code, message)
}

fn outcome(parts: &Parts) -> Result<&Authentication, HttpError> {
    parts
        .extensions
        .get::<Authentication>()
        .ok_or_else(|| HttpError::new(ErrorCode::Internal, "authentication did not run for this route"))
}

impl<S: Send + Sync> FromRequestParts<S> for AuthUser {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, HttpError> {
        match outcome(parts)? {
            Authentication::Valid(user) => Ok(user.clone()),
            Authentication::Expired(_) => Err(failure(ErrorCode::TokenExpired)),
            Authentication::Failed(code) => Err(failure(*code)),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RefreshableUser {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, HttpError> {
        match outcome(parts)? {
            Authentication::Valid(user) | Authentication::Expired(user) => Ok(RefreshableUser(user.clone())),
            Authentication::Failed(code) => Err(failure(*code)),
        }
    }
}
