//! The router's pages, each a lazily loaded route: built with
//! `cargo leptos build --split`, each page's code is its own chunk of the
//! wasm, so a cold load fetches the shell and the page it opens rather than
//! every page (without `--split` they are ordinary routes).

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use crate::pages::{self, MarkHydrated, RequireUser};

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
    FriendsPage => view! { <RequireUser><pages::Friends/></RequireUser> };
    /// The chat list with the open chat beside it: one route, so one chunk
    /// (a chat is always opened inside the list) and the list stays as it
    /// is when another chat opens.
    ChatsPage => view! { <RequireUser><pages::Chats/></RequireUser> };
    GroupsPage => view! { <RequireUser><pages::Groups/></RequireUser> };
}
