//! The top bar on every page: brand, account links, language.

use leptos::{prelude::*, task::spawn_local};
use leptos_router::components::A;
use wire::{api::Me, endpoint};

use super::{avatar::Avatar, presence::StatusPicker};
use crate::{
    chat::{use_live, LinkState},
    client::{self, Method},
    i18n::{use_i18n, Locale, Msg},
    session::{use_session, Auth},
};

#[component]
pub fn Header() -> impl IntoView {
    let i18n = use_i18n();
    let session = use_session();
    // The header shows the session, so it is also what keeps it current.
    session.refresh_on_navigation();
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                <img src="/icons/icon.svg" alt="" width="28" height="28"/>
                <span>"Natter"</span>
            </a>
            <nav class="account" aria-label=i18n.tr(Msg::AccountMenu)>
                // Empty while checking (always so on the server): no flash of
                // the wrong links, no hydration mismatch.
                {move || match session.auth() {
                    Auth::Checking => ().into_any(),
                    Auth::SignedIn(me) => view! { <UserMenu me/> }.into_any(),
                    Auth::SignedOut(_) | Auth::Failed(_) => {
                        view! {
                            <A href="/signin">{i18n.tr(Msg::SignIn)}</A>
                            <A href="/signup">{i18n.tr(Msg::SignUp)}</A>
                        }
                            .into_any()
                    }
                }}
            </nav>
            <LanguageSwitcher/>
        </header>
    }
}

#[component]
fn UserMenu(me: Me) -> impl IntoView {
    let i18n = use_i18n();
    let sign_out = move |_| {
        spawn_local(async move {
            // Whatever the answer, the next page asks the server who is signed in.
            let _ = client::call::<()>(Method::Post, endpoint::AUTH_LOGOUT).await;
            // A fresh page load drops everything this user's pages held.
            client::reload_at("/signin");
        })
    };
    view! {
        <div class="user-menu" data-testid="user-menu">
            <span class="who">
                <Avatar url=me.avatar name=me.nickname.clone()/>
                <span class="who-name">{me.nickname}</span>
            </span>
            <ConnectionIndicator/>
            <StatusPicker/>
            <A href="/chats">{i18n.tr(Msg::NavChats)}</A>
            <A href="/profile">{i18n.tr(Msg::NavProfile)}</A>
            <A href="/friends">{i18n.tr(Msg::NavFriends)}</A>
            <A href="/devices">{i18n.tr(Msg::NavDevices)}</A>
            <button type="button" class="link-button" data-testid="signout" on:click=sign_out>
                {i18n.tr(Msg::SignOut)}
            </button>
        </div>
    }
}

/// A dot for the chat connection, with words when it is not up.
#[component]
fn ConnectionIndicator() -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let label = move || match live.state() {
        LinkState::Connecting => i18n.t(Msg::ConnConnecting),
        LinkState::Online => i18n.t(Msg::ConnOnline),
        LinkState::Offline => i18n.t(Msg::ConnOffline),
        LinkState::Crowded => i18n.t(Msg::ConnCrowded),
    };
    view! {
        <span class="connection" data-testid="connection" data-state=move || live.state().name() role="status" title=label>
            <span class="connection-dot" aria-hidden="true"></span>
            <span class="connection-label" class:visually-hidden=move || live.state() == LinkState::Online>
                {label}
            </span>
        </span>
    }
}

#[component]
pub fn LanguageSwitcher() -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <label class="lang">
            <span class="visually-hidden">{i18n.tr(Msg::Language)}</span>
            <select
                data-testid="language"
                aria-label=i18n.tr(Msg::Language)
                on:change=move |ev| {
                    if let Some(l) = Locale::from_tag(&event_target_value(&ev)) {
                        i18n.set_locale(l);
                    }
                }
            >
                {Locale::ALL
                    .into_iter()
                    .map(|l| {
                        view! {
                            <option value=l.tag() selected=move || i18n.locale() == l>
                                {l.native_name()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}
