//! The router's pages. The chat page, where people spend their time, is in
//! the main wasm module; every other page is a lazily loaded route: built
//! with `cargo leptos build --split`, its code is its own chunk of the wasm,
//! so a cold load fetches the main module and the page it opens rather than
//! every page (without `--split` they are ordinary routes).
//!
//! The chat page is no lazy route because wasm-split puts every function a
//! chunk shares with other chunks into a chunk of its own: as one, a cold
//! load of a chat fetched 101 small files that each compressed on their
//! own, 45 KB (brotli) more than the same code in one module.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::{hydration::MarkHydrated, pages, session::RequireUser};

/// Declares a page route: `Name => view` builds `view` once its chunk is loaded.
macro_rules! lazy_page {
    ($($(#[$doc:meta])* $name:ident => $view:expr;)*) => {$(
        $(#[$doc])*
        pub struct $name;

        #[lazy_route]
        impl LazyRoute for $name {
            fn data() -> Self {
                $name
            }

            fn view(_this: Self) -> AnyView {
                view! { {$view} <MarkHydrated/> }.into_any()
            }
        }
    )*};
}

lazy_page! {
    HomePage => view! { <pages::Home/> };
    SignUpPage => view! { <pages::SignUp/> };
    SignInPage => view! { <pages::SignIn/> };
    ProfilePage => view! { <RequireUser><pages::Profile/></RequireUser> };
    PasswordPage => view! { <RequireUser><pages::PasswordSettings/></RequireUser> };
    DevicesPage => view! { <RequireUser><pages::Devices/></RequireUser> };
    NotificationsPage => view! { <RequireUser><pages::NotificationSettings/></RequireUser> };
    FriendsPage => view! { <RequireUser><pages::Friends/></RequireUser> };
    GroupsPage => view! { <RequireUser><pages::Groups/></RequireUser> };
    AdminPage => view! { <RequireUser><pages::Admin/></RequireUser> };
}

/// The chat list with the open chat beside it: one route (a chat is always
/// opened inside the list), so the list stays as it is when another chat opens.
#[component]
pub fn ChatsPage() -> impl IntoView {
    view! { <RequireUser><pages::Chats/></RequireUser> <MarkHydrated/> }
}
