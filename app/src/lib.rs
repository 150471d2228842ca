//! Natter's UI crate: user-facing text and the Leptos UI that the server
//! renders and the browser hydrates. The wire contract is the `wire` crate.

// The pages' view types nest deeply (their lazy-route futures most).
#![recursion_limit = "256"]

pub mod chat;
pub mod client;
pub mod csp;
pub mod hydration;
pub mod i18n;
pub mod notify;
pub mod pages;
pub mod recorder;
pub mod routes;
pub mod session;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Html, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, Lazy,
};

use crate::{
    i18n::{provide_i18n, Msg},
    routes::*,
};

/// The HTML document around the app; rendered only on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    csp::send();
    view! {
        <!DOCTYPE html>
        <html>
            <head>
                <meta charset="utf-8"/>
                <meta
                    name="viewport"
                    content="width=device-width, initial-scale=1, viewport-fit=cover, interactive-widget=resizes-content"
                />
                <meta name="theme-color" content="#2f6f5e"/>
                <link rel="manifest" href="/manifest.webmanifest"/>
                <link rel="icon" type="image/svg+xml" href="/icons/icon.svg"/>
                <link rel="apple-touch-icon" href="/icons/icon-192.png"/>
                <link rel="stylesheet" href="/pkg/natter.css"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <leptos_meta::MetaTags/>
                <script nonce=leptos::nonce::use_nonce()>
                    "if ('serviceWorker' in navigator) { navigator.serviceWorker.register('/sw.js'); }"
                </script>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let i18n = provide_i18n();
    session::provide_session();
    chat::provide_live();
    pages::provide_call_desk();
    pages::provide_shortcuts();
    let theme = pages::provide_theme();
    Effect::new(|_| client::follow_visual_viewport());
    let live = chat::use_live();
    // The unread messages of every conversation, in the tab's title.
    let unread = Memo::new(move |_| live.inbox(|i| i.chats(None).map_or(0, |list| list.iter().map(|s| s.unread).sum::<u64>())));
    // And on the installed app's icon.
    Effect::new(move || notify::badge(unread.get()));

    view! {
        <Html attr:lang=move || i18n.locale().tag() attr:data-theme=move || theme.get().attribute()/>
        <Title text=move || match unread.get() {
            0 => format!("Natter · {}", i18n.t(Msg::Tagline)),
            n => format!("({n}) Natter · {}", i18n.t(Msg::Tagline)),
        }/>
        <Router>
            <pages::Header/>
            <main class="page">
                <Routes fallback=|| view! { <pages::NotFound/> <hydration::MarkHydrated/> }>
                    <Route path=path!("/") view={Lazy::<HomePage>::new()}/>
                    <Route path=path!("/signup") view={Lazy::<SignUpPage>::new()}/>
                    <Route path=path!("/signin") view={Lazy::<SignInPage>::new()}/>
                    // These need a user: signed-out visitors go to /signin?next=….
                    <Route path=path!("/profile") view={Lazy::<ProfilePage>::new()}/>
                    <Route path=path!("/settings/password") view={Lazy::<PasswordPage>::new()}/>
                    <Route path=path!("/devices") view={Lazy::<DevicesPage>::new()}/>
                    <Route path=path!("/settings/notifications") view={Lazy::<NotificationsPage>::new()}/>
                    <Route path=path!("/friends") view={Lazy::<FriendsPage>::new()}/>
                    <Route path=path!("/chats/:id?") view=ChatsPage/>
                    <Route path=path!("/groups") view={Lazy::<GroupsPage>::new()}/>
                    <Route path=path!("/admin") view={Lazy::<AdminPage>::new()}/>
                </Routes>
            </main>
            <pages::CallOverlay/>
            <pages::KeyboardShortcuts/>
        </Router>
    }
}
