//! [`AppState`]: the services every handler and session may reach, built
//! once by [`crate::run`].

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use tokio_util::task::TaskTracker;

use crate::{
    auth::{password::Hasher, Authenticator},
    blobs::DynBlobs,
    calls::Calls,
    chat::Chat,
    config::Config,
    files,
    gate::Gate,
    hub::{Fanout, Hub},
    presence::PresenceTracker,
    push::Pushes,
    ratelimit::{budgets::UserBudgets, slots::UploadSlots, AuthLimits},
    search::Search,
    sfu::Sfu,
    signup::Signup,
    store::{health::StoreHealth, DynStore},
    text::TextPolicy,
};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: DynStore,
    pub health: StoreHealth,
    pub leptos: LeptosOptions,
    /// Checks the token of every `/api` request and websocket.
    pub auth: Arc<Authenticator>,
    pub auth_limits: Arc<AuthLimits>,
    /// Who may sign up, who administers, the invitation links.
    pub signup: Arc<Signup>,
    /// Image decodes running and waiting (avatars and message images).
    pub decodes: Arc<Gate>,
    /// How often each user may do each thing, over all their connections and the nodes.
    pub budgets: Arc<UserBudgets>,
    /// Uploads each user has running on this node.
    pub upload_slots: Arc<UploadSlots>,
    /// Password hashing, a bounded number at once.
    pub hasher: Arc<Hasher>,
    /// The chat domain: membership, messages, conversations.
    pub chat: Arc<Chat>,
    /// Message search: the node's index and its queries.
    pub search: Arc<Search>,
    /// Shortcodes and the sensitive-word list, for names and file names too.
    pub text: Arc<TextPolicy>,
    /// This node's websocket connections.
    pub hub: Arc<Hub>,
    /// Where events go so that every node's hub gets them.
    pub fanout: Arc<dyn Fanout>,
    pub presence: Arc<PresenceTracker>,
    /// Open instant-upload challenges: this node's, or the cluster's in Redis.
    pub challenges: Arc<dyn files::instant::Challenges>,
    /// Uploaded files' content (the data dir, or GridFS with MongoDB).
    pub uploads: files::Uploads,
    /// Avatar images (the data dir, or GridFS with MongoDB).
    pub avatars: DynBlobs,
    /// 1:1 calls' state and endings.
    pub calls: Arc<Calls>,
    /// Group calls' and live broadcasts' media relay.
    pub sfu: Arc<Sfu>,
    /// Web Push: subscriptions, settings, and the pushes stored messages cause.
    pub pushes: Arc<Pushes>,
    /// The websocket sessions running: a stopping server waits for them.
    pub sessions: TaskTracker,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}
