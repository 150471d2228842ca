//! The frame around every page. Signed in: the rail (a column at the left on
//! wide screens, a bar at the bottom on a phone) with the chats, friends and
//! the group directory, and the account menu holding the status, profile,
//! devices, language, theme, shortcuts and sign-out. Signed out: a slim top
//! bar with the brand, sign-in and sign-up, and the language.

use leptos::{prelude::*, task::spawn_local};
use leptos_router::components::A;
use wire::{api::Me, endpoint};

use super::{
    avatar::Avatar,
    icons::{Icon, Svg},
    menu::Menu,
    presence::{status_name, StatusPicker},
    shortcuts::use_shortcuts,
    theme::ThemeSwitch,
};
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
    // The top bar while checking (always so on the server): no hydration mismatch.
    move || match session.auth() {
        Auth::SignedIn(me) => view! { <Rail me/> <ConnectionIndicator/> }.into_any(),
        auth => {
            let links = matches!(auth, Auth::SignedOut(_) | Auth::Failed(_)).then(|| {
                view! {
                    <A href="/signin">{i18n.tr(Msg::SignIn)}</A>
                    <A href="/signup" attr:class="btn small">{i18n.tr(Msg::SignUp)}</A>
                }
            });
            view! {
                <header class="topbar">
                    <Brand/>
                    <nav class="account" aria-label=i18n.tr(Msg::AccountMenu)>{links}</nav>
                    <LanguageSwitcher/>
                </header>
            }
            .into_any()
        }
    }
}

#[component]
fn Brand() -> impl IntoView {
    view! {
        <a class="brand" href="/">
            <img src="/icons/icon.svg" alt="" width="28" height="28"/>
            <span>"Natter"</span>
        </a>
    }
}

#[component]
fn Rail(me: Me) -> impl IntoView {
    let i18n = use_i18n();
    let link = move |href: &'static str, icon: Icon, label: Msg| {
        view! {
            <A href=href attr:class="rail-link" attr:title=i18n.tr(label)>
                <Svg icon/>
                <span class="rail-label">{i18n.tr(label)}</span>
            </A>
        }
    };
    view! {
        <nav class="rail" aria-label=i18n.tr(Msg::MainMenu)>
            <a class="rail-brand" href="/" title="Natter">
                <img src="/icons/icon.svg" alt="Natter" width="32" height="32"/>
            </a>
            {link("/chats", Icon::Chats, Msg::NavChats)}
            {link("/friends", Icon::Friends, Msg::NavFriends)}
            {link("/groups", Icon::Directory, Msg::NavGroups)}
            <span class="rail-fill"></span>
            <UserMenu me/>
        </nav>
    }
}

#[component]
fn UserMenu(me: Me) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let shortcuts = use_shortcuts();
    let sign_out = move |_| {
        spawn_local(async move {
            // Whatever the answer, the next page asks the server who is signed in.
            let _ = client::call::<()>(Method::Post, endpoint::AUTH_LOGOUT).await;
            // A fresh page load drops everything this user's pages held.
            client::reload_at("/signin");
        })
    };
    let status = move || status_name(live.status().map(|s| s.status).unwrap_or_default());
    let Me { id, nickname, avatar, .. } = me;
    let face = {
        let nickname = nickname.clone();
        move || {
            view! {
                <span class="avatar-with-dot">
                    <Avatar url=avatar.clone() name=nickname.clone() seed=id.to_string()/>
                    <span class="presence" data-presence=status aria-hidden="true"></span>
                </span>
                <span class="visually-hidden">{nickname.clone()}</span>
            }
            .into_any()
        }
    };
    let item = move |href: &'static str, icon: Icon, label: Msg| {
        view! {
            <A href=href attr:class="menu-item">
                <Svg icon/>
                {i18n.tr(label)}
            </A>
        }
    };
    view! {
        <div class="user-menu" data-testid="user-menu">
            <Menu label=Msg::AccountMenu testid="account-menu" class="account-panel" keep_open=true face>
                <p class="menu-title" dir="auto">{nickname}</p>
                <StatusPicker/>
                <hr/>
                {item("/profile", Icon::Profile, Msg::NavProfile)}
                {item("/devices", Icon::Devices, Msg::NavDevices)}
                {item("/settings/notifications", Icon::Bell, Msg::NotifyTitle)}
                <button
                    type="button"
                    class="menu-item"
                    data-testid="show-shortcuts"
                    on:click=move |_| shortcuts.show_help()
                >
                    <Svg icon=Icon::Keyboard/>
                    {i18n.tr(Msg::Shortcuts)}
                </button>
                <hr/>
                <div class="menu-setting">
                    <LanguageSwitcher/>
                </div>
                <div class="menu-setting">
                    <ThemeSwitch/>
                </div>
                <hr/>
                <button type="button" class="menu-item" data-testid="signout" on:click=sign_out>
                    <Svg icon=Icon::SignOut/>
                    {i18n.tr(Msg::SignOut)}
                </button>
            </Menu>
        </div>
    }
}

/// The chat connection: silent while up, a notice at the top of the screen when not.
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
