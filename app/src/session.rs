//! Who is signed in, as far as the browser knows, and the guard for pages
//! that need a user.
//!
//! The server renders every page without knowing ([`Auth::Checking`]); the
//! browser asks `GET /api/me` after hydration and on every navigation (see
//! [`Session::refresh_on_navigation`]), so the header and the guarded pages
//! fill in afterwards and hydration always matches.

use leptos::{prelude::*, task::spawn_local};
use leptos_router::{
    hooks::{use_location, use_navigate, use_query_map},
    NavigateOptions,
};
use wire::{
    api::{AuthResponse, Me},
    endpoint,
    protocol::{ApiError, ErrorCode},
};

use crate::{
    client::{self, Method},
    i18n::{use_i18n, Msg},
};

/// Where a page goes after signing in when no `?next=` says otherwise.
pub const DEFAULT_NEXT: &str = "/profile";

#[derive(Clone, Debug, PartialEq)]
pub enum Auth {
    /// Not known yet: always so on the server and until `/api/me` answers.
    Checking,
    SignedIn(Me),
    /// The server's reason: `Unauthorized`, `TokenExpired` or `TokenRevoked`.
    SignedOut(ErrorCode),
    /// `/api/me` failed for another reason (offline, server trouble).
    Failed(ApiError),
}

impl Auth {
    fn user(&self) -> Option<&Me> {
        match self {
            Auth::SignedIn(me) => Some(me),
            _ => None,
        }
    }
}

/// The browser's view of the signed-in user, provided as context by [`provide_session`].
#[derive(Clone, Copy)]
pub struct Session {
    auth: RwSignal<Auth>,
    /// Bumped by every change, so an answer to an older `/api/me` request
    /// (say, sent before the user signed in) cannot overwrite a newer state.
    generation: StoredValue<u64>,
}

pub fn provide_session() {
    provide_context(Session {
        auth: RwSignal::new(Auth::Checking),
        generation: StoredValue::new(0),
    });
}

pub fn use_session() -> Session {
    expect_context::<Session>()
}

fn is_auth_failure(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::Unauthorized | ErrorCode::TokenExpired | ErrorCode::TokenRevoked
    )
}

impl Session {
    pub fn auth(&self) -> Auth {
        self.auth.get()
    }

    /// The signed-in user; reactive.
    pub fn me(&self) -> Option<Me> {
        self.auth.with(|a| a.user().cloned())
    }

    /// Records the user after sign-in, or their profile after a change.
    pub fn signed_in(&self, me: Me) {
        self.set(Auth::SignedIn(me));
    }

    fn set(&self, auth: Auth) {
        self.generation.update_value(|g| *g += 1);
        if self.auth.with_untracked(|a| *a != auth) {
            self.auth.set(auth);
        }
    }

    /// Asks the server who is signed in. An expired token is renewed with
    /// `POST /api/auth/refresh`, which the server allows while the device's
    /// session lives.
    pub fn refresh(&self) {
        let session = *self;
        let generation = self.generation.get_value();
        spawn_local(async move {
            let answer = match client::get::<Me>(endpoint::ME).await {
                Err(e) if e.code == ErrorCode::TokenExpired => {
                    client::call::<AuthResponse>(Method::Post, endpoint::AUTH_REFRESH)
                        .await
                        .map(|r| r.user)
                }
                answer => answer,
            };
            if session.generation.get_value() != generation {
                return;
            }
            match answer {
                Ok(me) => session.signed_in(me),
                Err(e) if is_auth_failure(e.code) => session.set(Auth::SignedOut(e.code)),
                // A signed-in user stays signed in through a network hiccup.
                Err(e) => {
                    if session.auth.with_untracked(|a| a.user().is_none()) {
                        session.set(Auth::Failed(e));
                    }
                }
            }
        });
    }

    /// Passes an API answer through, noticing when it says the user is no
    /// longer signed in: then [`RequireUser`] sends them to the sign-in page
    /// (an expired token is first given a chance to be renewed).
    pub fn observe<T>(&self, answer: Result<T, ApiError>) -> Result<T, ApiError> {
        if let Err(e) = &answer {
            match e.code {
                ErrorCode::TokenExpired => self.refresh(),
                code if is_auth_failure(code) => self.set(Auth::SignedOut(code)),
                _ => {}
            }
        }
        answer
    }

    /// Keeps the session current: checks it after hydration and after every
    /// navigation, which also catches a token revoked by another sign-in.
    pub fn refresh_on_navigation(&self) {
        let session = *self;
        let path = use_location().pathname;
        Effect::new(move || {
            path.track();
            session.refresh();
        });
    }
}

/// The sign-in page's address that returns to `next` afterwards, with the
/// reason the user was signed out, which the page explains.
pub fn signin_url(next: &str, reason: ErrorCode) -> String {
    let mut url = format!("/signin?next={}", client::escape(next));
    match reason {
        ErrorCode::TokenRevoked => url.push_str("&reason=revoked"),
        ErrorCode::TokenExpired => url.push_str("&reason=expired"),
        _ => {}
    }
    url
}

/// The `?next=` target of the sign-in and sign-up pages. It is resolved
/// against this site as the browser resolves a link (which drops tabs and
/// line breaks and reads a backslash as a slash), and only a place on this site counts,
/// so the link cannot send the user elsewhere after signing in.
pub fn next_path(next: Option<String>) -> String {
    next.filter(|n| n.starts_with('/'))
        .and_then(|n| path_on_this_site(&n))
        .unwrap_or_else(|| DEFAULT_NEXT.to_owned())
}

/// A stand-in for this site's origin when resolving `next`: nothing is fetched from it.
const HERE: &str = "https://natter.invalid/";

/// `to` resolved against [`HERE`]: its path, query and fragment, if it stays there.
/// In the browser by the browser's own parser: the `url` crate's host names
/// (IDNA and its Unicode tables) weighed 50 KiB (brotli) of every page's wasm.
#[cfg(feature = "hydrate")]
fn path_on_this_site(to: &str) -> Option<String> {
    let to = web_sys::Url::new_with_base(to, HERE).ok()?;
    (to.origin() == HERE.trim_end_matches('/')).then(|| format!("{}{}{}", to.pathname(), to.search(), to.hash()))
}

/// The same by the `url` crate (the WHATWG rules, as the browser's), for the tests.
#[cfg(not(feature = "hydrate"))]
fn path_on_this_site(to: &str) -> Option<String> {
    let here = url::Url::parse(HERE).ok()?;
    let to = here.join(to).ok()?;
    (to.origin() == here.origin()).then(|| to[url::Position::BeforePath..].to_owned())
}

/// What the sign-in and sign-up pages do on success: remember the user and
/// go on to `?next=`.
pub fn use_finish_sign_in() -> impl Fn(AuthResponse) + Clone + 'static {
    let session = use_session();
    let navigate = use_navigate();
    let query = use_query_map();
    move |answer| {
        session.signed_in(answer.user);
        navigate(&next_path(query.with_untracked(|q| q.get("next"))), Default::default());
    }
}

/// A link to `page` that passes this page's `?next=` on (between sign-in and sign-up).
pub fn keeping_next(page: &'static str) -> impl Fn() -> String {
    let query = use_query_map();
    move || match query.with(|q| q.get("next")) {
        Some(next) => format!("{page}?next={}", client::escape(&next)),
        None => page.to_owned(),
    }
}

/// Shows `children` to a signed-in user; sends anyone else to the sign-in
/// page, which brings them back here.
#[component]
pub fn RequireUser(children: ChildrenFn) -> impl IntoView {
    let session = use_session();
    let i18n = use_i18n();
    let location = use_location();
    let navigate = use_navigate();
    Effect::new(move || {
        if let Auth::SignedOut(reason) = session.auth() {
            let here = location.pathname.get_untracked();
            navigate(
                &signin_url(&here, reason),
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });
    // Only the change between signed in and not re-renders the page, not
    // every update of the profile. The server renders "loading": so does
    // the page until it has hydrated.
    let hydrated = crate::hydration::hydrated();
    let signed_in = Memo::new(move |_| hydrated.get() && matches!(session.auth(), Auth::SignedIn(_)));
    view! {
        <Show
            when=move || signed_in.get()
            fallback=move || match session.auth() {
                Auth::Failed(e) if hydrated.get() => {
                    view! { <p class="error" role="alert">{move || i18n.error(&e)}</p> }.into_any()
                }
                _ => view! { <p class="muted">{i18n.tr(Msg::Loading)}</p> }.into_any(),
            }
        >
            {children()}
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(next_path(Some("/friends".into())), "/friends");
        assert_eq!(next_path(Some("//evil.example".into())), DEFAULT_NEXT);
        assert_eq!(next_path(Some("/\\evil.example".into())), DEFAULT_NEXT);
        assert_eq!(next_path(Some("https://evil.example".into())), DEFAULT_NEXT);
        assert_eq!(next_path(None), DEFAULT_NEXT);
        // `?next=/%09/other-host/x`, decoded: the browser drops the tab.
        assert_eq!(next_path(Some("/\t/other-host/x".into())), DEFAULT_NEXT);
        assert_eq!(next_path(Some("/\n\r/other-host".into())), DEFAULT_NEXT);
        assert_eq!(next_path(Some("/chats?c=1#end".into())), "/chats?c=1#end");
        assert_eq!(next_path(Some("/a/../friends".into())), "/friends");
    }

    #[test]
    fn signin_urls_carry_the_reason() {
        assert_eq!(signin_url("/profile", ErrorCode::Unauthorized), "/signin?next=/profile");
        assert_eq!(
            signin_url("/settings/password", ErrorCode::TokenRevoked),
            "/signin?next=/settings/password&reason=revoked"
        );
        assert_eq!(
            signin_url("/a&b", ErrorCode::TokenExpired),
            "/signin?next=/a%26b&reason=expired"
        );
    }
}
