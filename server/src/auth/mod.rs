//! Who is asking. The [`authenticate`] middleware reads the token of every
//! `/api` request — from `Authorization: Bearer` (API clients) or the
//! HttpOnly cookie (browsers), never from the URL — checks its signature, its
//! expiry and that its device session still holds it, and leaves the outcome
//! for the [`AuthUser`] extractor.
//!
//! Token ids rotate: each refresh (and each renewal of a browser's cookie)
//! gives the device a new one; the one it replaced stays valid for a few
//! seconds (`--token-reuse-grace-secs`), for requests already under way. A
//! token id older than that coming back means two parties hold the
//! device's tokens: the device is signed out. A cookie is authenticated for
//! websockets and state-changing requests only from the app's own origin.

pub mod password;
pub mod token;

use std::sync::Arc;

use axum::{
    extract::{FromRequestParts, Request, State},
    http::{header, request::Parts, HeaderMap, HeaderValue, Method},
    middleware::Next,
    response::{IntoResponse, Response},
};
use wire::{
    api::{SECURE_TOKEN_COOKIE, TOKEN_COOKIE},
    model::{Millis, UserId},
    protocol::ErrorCode,
};

use self::token::{Claims, TokenError};
use crate::{
    clock::now_millis,
    error::HttpError,
    secret::Secret,
    store::{devices::DeviceRecord, new_id, DynStore, StoreError},
};

/// A device unseen for this long must sign in again.
pub const SESSION_IDLE_LIMIT_MS: Millis = 30 * 24 * 60 * 60 * 1000;
/// Activity is written to the store at most this often per device.
const TOUCH_EVERY_MS: Millis = 60 * 1000;

/// How long tokens and device sessions last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionRules {
    /// A token's life, in seconds.
    pub token_ttl_secs: i64,
    /// How long after its expiry a token may still be refreshed (a cookie renewed).
    pub renew_grace_ms: Millis,
    /// How long the token id a rotation replaced stays valid.
    pub reuse_grace_ms: Millis,
    /// The longest a device session lasts from its sign-in, refreshed or not.
    pub lifetime_ms: Millis,
}

impl Default for SessionRules {
    fn default() -> Self {
        SessionRules {
            token_ttl_secs: token::TOKEN_TTL_SECS,
            renew_grace_ms: 5 * 60 * 1000,
            reuse_grace_ms: 10 * 1000,
            lifetime_ms: 90 * 24 * 60 * 60 * 1000,
        }
    }
}

/// Which origins a cookie is honoured from for websockets and
/// state-changing requests: the public URL's and the extra ones allowed;
/// without a public URL, the one the request's `Host` header names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origins {
    /// `scheme://host[:port]`, lower case, no trailing slash.
    pub public: Option<String>,
    pub allowed: Vec<String>,
}

impl Origins {
    /// Whether a request authenticated by the cookie comes from the app
    /// itself: `Sec-Fetch-Site: same-origin`, else an allowed `Origin`.
    /// Requests with neither header are no browser's cross-site requests.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
        if text("sec-fetch-site") == Some("same-origin") {
            return true;
        }
        match text(header::ORIGIN.as_str()) {
            Some(origin) => {
                let origin = origin.trim_end_matches('/').to_ascii_lowercase();
                if self.allowed.iter().any(|o| *o == origin) {
                    return true;
                }
                match &self.public {
                    Some(public) => *public == origin,
                    None => {
                        let host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
                        let own = text(header::HOST.as_str()).map(str::to_ascii_lowercase);
                        host.is_some() && host.map(str::to_owned) == own
                    }
                }
            }
            None => !matches!(text("sec-fetch-site"), Some("cross-site" | "same-site")),
        }
    }
}

/// What checking a token needs: the key that signs tokens, the store that
/// knows which token each device holds, the rules, and who to tell when a
/// device is signed out because its older token came back.
pub struct Authenticator {
    pub secret: Secret,
    pub store: DynStore,
    pub rules: SessionRules,
    pub origins: Origins,
    /// Cookies are `Secure` and named `__Host-…` (the site is served over HTTPS).
    pub secure_cookie: bool,
    pub on_theft: Box<dyn Fn(&UserId, &str) + Send + Sync>,
}

/// The signed-in user behind a request; extracting it fails with 401 when
/// there is none.
#[derive(Clone, Debug)]
pub struct AuthUser {
    pub user_id: UserId,
    pub device_id: String,
    /// The device session (its sign-in time), as the store has it.
    pub session_ms: Millis,
    pub claims: Claims,
    /// The middleware rotated the token id for this request (a browser's
    /// cookie renewed): `claims` are the new token's.
    pub renewed: bool,
}

/// Like [`AuthUser`], but also accepts a token expired less than the renewal
/// grace ago whose device is still signed in: what `POST /api/auth/refresh` needs.
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

/// Whether a device session still stands, for a websocket opened on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionState {
    Alive,
    /// The device signed in again: another session holds it.
    Replaced,
    /// Signed out, or past its lifetime or idle limit.
    Ended,
}

/// The middleware of `/api`: authenticates, and renews a browser's cookie
/// past half its token's life (rotating its token id).
pub async fn authenticate(State(auth): State<Arc<Authenticator>>, req: Request, next: Next) -> Response {
    authenticate_with(&auth, req, next, true).await
}

/// The middleware of `/ws`: authenticates and renews nothing (a websocket
/// handshake's `Set-Cookie` may go unheard, and a rotated-away cookie then
/// reads as stolen); an expired cookie is refused, and the app renews it
/// through the API before it reconnects.
pub async fn authenticate_socket(State(auth): State<Arc<Authenticator>>, req: Request, next: Next) -> Response {
    authenticate_with(&auth, req, next, false).await
}

async fn authenticate_with(auth: &Authenticator, mut req: Request, next: Next, api: bool) -> Response {
    let found = token_of(req.headers(), auth.cookie_name());
    if let Some((_, Source::Cookie)) = &found {
        let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        if (changes || !api) && !auth.origins.admits(req.headers()) {
            return HttpError::new(
                ErrorCode::Forbidden,
                "the session cookie is not accepted from another site: send the request from the app's own origin",
            )
            .into_response();
        }
    }
    let (outcome, renewed) = match found {
        None => (Authentication::Failed(ErrorCode::Unauthorized), None),
        Some((token, source)) => match auth.check(&token, source, api).await {
            Ok(checked) => checked,
            Err(e) => return HttpError::from(e).into_response(),
        },
    };
    req.extensions_mut().insert(outcome);
    let mut response = next.run(req).await;
    if let Some(token) = renewed {
        if !sets_token_cookie(response.headers(), auth.cookie_name()) {
            response.headers_mut().append(header::SET_COOKIE, auth.session_cookie(&token));
        }
    }
    response
}

/// Which of a device's token ids a token carries.
#[derive(PartialEq, Eq)]
enum Held {
    Current,
    /// The one the last rotation replaced, within the grace.
    Previous,
}

impl Authenticator {
    pub fn cookie_name(&self) -> &'static str {
        if self.secure_cookie {
            SECURE_TOKEN_COOKIE
        } else {
            TOKEN_COOKIE
        }
    }

    /// The browser's token cookie. It outlives the token (up to the session's
    /// idle limit), so a token expired a moment ago can still be renewed.
    pub fn session_cookie(&self, token: &str) -> HeaderValue {
        let max_age = SESSION_IDLE_LIMIT_MS.min(self.rules.lifetime_ms) / 1000;
        let secure = if self.secure_cookie { "; Secure" } else { "" };
        let name = self.cookie_name();
        HeaderValue::from_str(&format!("{name}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"))
            .expect("a JWT is a valid header value")
    }

    pub fn clear_cookie(&self) -> HeaderValue {
        let secure = if self.secure_cookie { "; Secure" } else { "" };
        let name = self.cookie_name();
        HeaderValue::from_str(&format!("{name}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}")).expect("static")
    }

    /// Claims of a fresh token for a device session.
    pub fn claims(&self, user: &UserId, device_id: &str, token_id: &str, session_ms: Millis, now: Millis) -> Claims {
        Claims::new(user, device_id, token_id, session_ms, now, self.rules.token_ttl_secs)
    }

    /// Gives the device a new token id in place of the one `user` holds:
    /// the new claims, or `None` when that one is no longer the current
    /// one (another request rotated it first).
    pub async fn rotate(&self, user: &AuthUser) -> Result<Option<Claims>, StoreError> {
        let (now, next) = (now_millis(), new_id());
        if !self.store.rotate_token(&user.user_id, &user.device_id, &user.claims.jti, &next, now).await? {
            return Ok(None);
        }
        Ok(Some(self.claims(&user.user_id, &user.device_id, &next, user.session_ms, now)))
    }

    /// Whether the device session a websocket was opened on still stands.
    pub async fn session_state(&self, user: &AuthUser) -> Result<SessionState, StoreError> {
        Ok(match self.store.device(&user.user_id, &user.device_id).await? {
            None => SessionState::Ended,
            Some(device) if device.signed_in_ms != user.session_ms => SessionState::Replaced,
            Some(device) if self.ended(&device, now_millis()) => SessionState::Ended,
            Some(_) => SessionState::Alive,
        })
    }

    fn ended(&self, device: &DeviceRecord, now: Millis) -> bool {
        now - device.signed_in_ms > self.rules.lifetime_ms || now - device.last_seen_ms > SESSION_IDLE_LIMIT_MS
    }

    /// Decides what a token proves; for a browser's cookie on the API past
    /// half its life (or expired within the grace), rotates its token id
    /// and answers the new token for the cookie.
    async fn check(&self, token: &str, source: Source, renew: bool) -> Result<(Authentication, Option<String>), StoreError> {
        let failed = |code| Ok((Authentication::Failed(code), None));
        let now = now_millis();
        let (claims, expired) = match token::decode(&self.secret, token) {
            Ok(claims) => (claims, false),
            Err(TokenError::Expired(claims)) => (claims, true),
            Err(TokenError::Invalid) => return failed(ErrorCode::Unauthorized),
        };
        if expired && now > claims.expires_ms() + self.rules.renew_grace_ms {
            return failed(ErrorCode::TokenExpired);
        }
        let (user_id, device_id) = (UserId(claims.sub.clone()), claims.dev.clone());
        let Some(device) = self.store.device(&user_id, &device_id).await? else {
            return failed(ErrorCode::TokenRevoked);
        };
        // A token of an earlier sign-in on this device is simply revoked.
        let earlier = match claims.ses {
            0 => claims.jti != device.token_id,
            ses => ses != device.signed_in_ms,
        };
        if earlier {
            return failed(ErrorCode::TokenRevoked);
        }
        if self.ended(&device, now) {
            return failed(ErrorCode::TokenExpired);
        }
        let held = if claims.jti == device.token_id {
            Held::Current
        } else if device.previous_token_id.as_deref() == Some(claims.jti.as_str())
            && now - device.rotated_ms <= self.rules.reuse_grace_ms
        {
            Held::Previous
        } else {
            tracing::warn!(user = %user_id, device = %device_id, "a rotated-away token came back: signing the device out");
            metrics::counter!("natter_token_reuse_total").increment(1);
            if self.store.remove_device(&user_id, &device_id).await? {
                (self.on_theft)(&user_id, &device_id);
            }
            return failed(ErrorCode::TokenRevoked);
        };
        if now - device.last_seen_ms > TOUCH_EVERY_MS {
            self.store.touch_device(&user_id, &device_id, now).await?;
        }
        let mut user = AuthUser { user_id, device_id, session_ms: device.signed_in_ms, claims, renewed: false };
        Ok(match source {
            // The socket renews nothing: an expired cookie is renewed through the API first.
            Source::Cookie if expired && !renew => (Authentication::Failed(ErrorCode::TokenExpired), None),
            // Another request renewed the cookie a moment ago; the browser gets that one.
            Source::Cookie if held == Held::Previous => (Authentication::Valid(user), None),
            Source::Cookie if renew && (expired || user.claims.is_ageing(now)) => match self.rotate(&user).await? {
                Some(claims) => {
                    let token = token::encode(&self.secret, &claims);
                    user.claims = claims;
                    user.renewed = true;
                    (Authentication::Valid(user), Some(token))
                }
                None if !expired => (Authentication::Valid(user), None),
                None => (Authentication::Failed(ErrorCode::TokenExpired), None),
            },
            Source::Cookie if expired => (Authentication::Failed(ErrorCode::TokenExpired), None),
            Source::Cookie | Source::Bearer if !expired => (Authentication::Valid(user), None),
            Source::Cookie | Source::Bearer => (Authentication::Expired(user), None),
        })
    }
}

fn token_of(headers: &HeaderMap, cookie: &str) -> Option<(String, Source)> {
    if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?;
        return Some((token.trim().to_owned(), Source::Bearer));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(cookie)?.strip_prefix('='))
        .filter(|t| !t.is_empty())
        .map(|t| (t.to_owned(), Source::Cookie))
}

fn sets_token_cookie(headers: &HeaderMap, cookie: &str) -> bool {
    headers.get_all(header::SET_COOKIE).iter().any(|v| v.as_bytes().starts_with(format!("{cookie}=").as_bytes()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client_addr::tests::headers;

    #[test]
    fn the_cookie_counts_from_the_own_origin_only() {
        let by_host = Origins::default();
        let host = ("host", "chat.example.org:3000");
        assert!(by_host.admits(&headers(&[host, ("origin", "http://chat.example.org:3000")])));
        assert!(by_host.admits(&headers(&[host, ("origin", "https://CHAT.example.org:3000/")])));
        assert!(!by_host.admits(&headers(&[host, ("origin", "http://evil.example")])));
        assert!(!by_host.admits(&headers(&[host, ("origin", "null")])));
        assert!(by_host.admits(&headers(&[host, ("sec-fetch-site", "same-origin")])));
        assert!(!by_host.admits(&headers(&[host, ("sec-fetch-site", "same-site")])));
        assert!(by_host.admits(&headers(&[host])), "no browser's cross-site request");
        let public = Origins { public: Some("https://chat.example.org".into()), allowed: vec!["https://app.example.org".into()] };
        let host = ("host", "127.0.0.1:3000");
        assert!(public.admits(&headers(&[host, ("origin", "https://chat.example.org")])));
        assert!(public.admits(&headers(&[host, ("origin", "https://app.example.org")])));
        assert!(!public.admits(&headers(&[host, ("origin", "http://127.0.0.1:3000")])));
        assert!(!public.admits(&headers(&[host, ("origin", "http://chat.example.org")])), "the scheme counts");
    }
}
