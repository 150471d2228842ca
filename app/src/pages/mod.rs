//! The Leptos UI: one module per page, plus what they share.
//!
//! | module | holds |
//! |---|---|
//! | `chrome` | the frame: the rail (chats, friends, groups, the account menu) or, signed out, the top bar |
//! | `menu`, `icons` | the button with a panel of actions or settings; inline SVG icons |
//! | `theme`, `shortcuts` | light and dark; the keyboard shortcuts and their dialogs |
//! | `form` | form state, fields with their errors, submit and action buttons |
//! | `as_you_type` | search boxes' timing: asking once typing pauses, dropping stale answers |
//! | `avatar` | users' pictures and the avatar upload |
//! | `people` | a row per person, and the search for users (as one types) |
//! | `presence` | status dots, the status pickers, who is typing |
//! | `dialog` | the modal dialog |
//! | `home`, `signin`, `signup`, `profile`, `password`, `devices`, `friends` | the account pages |
//! | `admin` | `/admin`: administrators' invitation links |
//! | `privacy` | who may reach the user, whom they blocked, the Block button |
//! | `chats`, `invitations` | `/chats`: the conversation list beside the open conversation; invitations (to groups, and strangers' chats) above it |
//! | `chat`, `messages`, `composer` | `/chats/:id`: one conversation, its messages, writing one |
//! | `open_chat` | what an open chat's parts share: the conversation, the user's rights, the draft, jumps |
//! | `message_actions`, `reactions`, `quote`, `pinned`, `receipt_marks`, `mentions` | a message's toolbar, its reaction chips, quoted messages, the pinned bar, receipts, @mentions |
//! | `call`, `call_media` | 1:1 calls: the call desk, the incoming-call overlay and in-call view, call messages; WebRTC and tones |
//! | `attach`, `attachment` | the composer's file and recording controls; a message's attachment |
//! | `emoji_picker` | the composer's emoji picker |
//! | `new_chat`, `new_group`, `group_form`, `group_panel` | starting chats, creating and managing groups |
//! | `groups` | `/groups`: the public-group directory and its search |
//! | `notifications`, `chat_notify`, `notify_banner` | `/settings/notifications`; a chat's bell; the permission banner |
//! | `search` | message search: the box above the chat list, and a chat's own |
//! | `room`, `room_media` | group calls and live broadcasts: buttons, banners, the grid and the viewer; the browser's WebRTC side |
//!
//! Pages talk to the server through [`crate::client`], to the live chat
//! through [`crate::chat::Live`], learn who is signed in from
//! [`crate::session`] (and when they are live from [`crate::hydration`]),
//! and take every text from [`crate::i18n`]. `lib.rs` maps the routes to them.

mod admin;
mod as_you_type;
mod attach;
mod attachment;
mod avatar;
mod call;
mod call_media;
mod chat;
mod chat_notify;
mod chats;
mod chrome;
mod composer;
mod devices;
mod dialog;
mod emoji_picker;
mod form;
mod friends;
mod group_form;
mod group_panel;
mod groups;
mod home;
mod icons;
mod invitations;
mod mentions;
mod menu;
mod message_actions;
mod messages;
mod new_chat;
mod new_group;
mod notifications;
mod notify_banner;
mod open_chat;
mod password;
mod people;
mod presence;
mod pinned;
mod privacy;
mod profile;
mod quote;
mod reactions;
mod receipt_marks;
mod room;
mod room_media;
mod search;
mod shortcuts;
mod signin;
mod signup;
mod theme;

pub use admin::Admin;
pub use call::{provide_call_desk, CallOverlay};
pub use chats::Chats;
pub use chrome::Header;
pub use devices::Devices;
pub use friends::Friends;
pub use groups::Groups;
pub use home::{Home, NotFound};
pub use notifications::NotificationSettings;
pub use password::PasswordSettings;
pub use profile::Profile;
pub use shortcuts::{provide_shortcuts, KeyboardShortcuts};
pub use theme::provide_theme;
pub use signin::SignIn;
pub use signup::SignUp;
