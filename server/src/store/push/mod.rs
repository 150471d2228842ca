//! Web Push: each device's subscription (at most one per device, replaced
//! when the browser subscribes anew) and each user's notification settings.

mod embedded;
mod mongodb;

use std::collections::HashSet;

use async_trait::async_trait;
use wire::{
    model::{ConversationId, Millis, UserId},
    push::NotifySettings,
};

use super::StoreError;

/// A device's push subscription, as checked by `wire::push::PushSubscription::check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSubscription {
    pub user_id: UserId,
    pub device_id: String,
    pub endpoint: String,
    /// The browser's P-256 public key, unpadded base64url.
    pub p256dh: String,
    /// The browser's authentication secret, unpadded base64url.
    pub auth: String,
    pub created_ms: Millis,
}

/// A conversation's members as its pushes see them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Audience {
    /// How many members it has: a big group's default is quieter.
    pub members: usize,
    /// The members with at least one subscription, each once.
    pub subscribed: HashSet<UserId>,
}

#[async_trait]
pub trait PushRepo {
    /// Stores the device's subscription, replacing the one it had.
    async fn put_push_subscription(&self, subscription: &StoredSubscription) -> Result<(), StoreError>;

    /// The user's subscriptions, in no particular order.
    async fn push_subscriptions_of(&self, user: &UserId) -> Result<Vec<StoredSubscription>, StoreError>;

    /// What a push decision for a message of `conversation` starts from, in
    /// one question: most members of most groups have no subscription, and
    /// then nothing else is read.
    async fn push_audience(&self, conversation: &ConversationId) -> Result<Audience, StoreError>;

    /// Removes the device's subscription; with `endpoint`, only if it is
    /// still that one (a push service's "gone" must not remove a newer
    /// subscription of the device). False if nothing was removed.
    async fn remove_push_subscription(
        &self,
        user: &UserId,
        device_id: &str,
        endpoint: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// The user's settings; the default if never set.
    async fn notify_settings(&self, user: &UserId) -> Result<NotifySettings, StoreError>;

    /// The settings of those among `users` who ever set any; the others have the default.
    async fn notify_settings_of(&self, users: &[UserId]) -> Result<Vec<(UserId, NotifySettings)>, StoreError>;

    async fn put_notify_settings(&self, user: &UserId, settings: &NotifySettings) -> Result<(), StoreError>;
}
