//! The Leptos UI: one module per page, plus what they share.
//!
//! | module | holds |
//! |---|---|
//! | `chrome` | the top bar: brand, account links, language |
//! | `session` | who is signed in (`Session`), the `RequireUser` guard, `?next=` handling |
//! | `form` | form state, fields with their errors, submit and action buttons |
//! | `avatar` | users' pictures and the avatar upload |
//! | `home`, `signin`, `signup`, `profile`, `password`, `devices`, `friends` | the pages |
//!
//! Pages talk to the server through [`crate::client`] and take every text
//! from [`crate::i18n`]. `lib.rs` maps the routes to them.

mod avatar;
mod chrome;
mod devices;
mod form;
mod friends;
mod home;
mod password;
mod profile;
mod session;
mod signin;
mod signup;

pub use chrome::Header;
pub use devices::Devices;
pub use friends::Friends;
pub use home::{Home, NotFound};
pub use password::PasswordSettings;
pub use profile::Profile;
pub use session::{provide_session, RequireUser};
pub use signin::SignIn;
pub use signup::SignUp;
