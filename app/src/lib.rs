//! Natter's shared crate: the wire protocol, user-facing text, and the Leptos
//! UI that the server renders and the browser hydrates.

pub mod api;
pub mod chat;
pub mod client;
pub mod i18n;
pub mod model;
pub mod pages;
pub mod protocol;
pub mod recorder;
pub mod room;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Html, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path,
};

use crate::{
    i18n::{provide_i18n, Msg},
    pages::RequireUser,
};

/// The HTML document around the app; rendered only on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover"/>
                <meta name="theme-color" content="#2f6f5e"/>
                <link rel="manifest" href="/manifest.webmanifest"/>
                <link rel="icon" type="image/svg+xml" href="/icons/icon.svg"/>
                <link rel="apple-touch-icon" href="/icons/icon-192.png"/>
                <link rel="stylesheet" href="/pkg/natter.css"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <leptos_meta::MetaTags/>
                <script>
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
    pages::provide_session();
    chat::provide_live();
    // Effects run only in the browser: this marks the page as live for tests
    // and for CSS that hides controls that need the wasm app.
    Effect::new(move || {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Html attr:lang=move || i18n.locale().tag()/>
        <Title text=move || format!("Natter · {}", i18n.t(Msg::Tagline))/>
        <Router>
            <pages::Header/>
            <main class="page">
                <Routes fallback=pages::NotFound>
                    <Route path=path!("/") view=pages::Home/>
                    <Route path=path!("/signup") view=pages::SignUp/>
                    <Route path=path!("/signin") view=pages::SignIn/>
                    // These need a user: signed-out visitors go to /signin?next=….
                    <Route path=path!("/profile") view=|| view! { <RequireUser><pages::Profile/></RequireUser> }/>
                    <Route
                        path=path!("/settings/password")
                        view=|| view! { <RequireUser><pages::PasswordSettings/></RequireUser> }
                    />
                    <Route path=path!("/devices") view=|| view! { <RequireUser><pages::Devices/></RequireUser> }/>
                    <Route path=path!("/friends") view=|| view! { <RequireUser><pages::Friends/></RequireUser> }/>
                    <ParentRoute path=path!("/chats") view=|| view! { <RequireUser><pages::Chats/></RequireUser> }>
                        <Route path=path!("") view=pages::NoChatOpen/>
                        <Route path=path!(":id") view=pages::ChatView/>
                    </ParentRoute>
                    <Route path=path!("/groups") view=|| view! { <RequireUser><pages::Groups/></RequireUser> }/>
                </Routes>
            </main>
        </Router>
    }
}
