//! Statuses: what each user chose to show (online, away, busy, invisible),
//! everywhere and per conversation. Whether they are connected is not stored
//! here: that is live state, kept by `crate::presence`.

mod embedded;
mod mongodb;

use async_trait::async_trait;
use wire::{api::StatusSettings, model::UserId};

use super::StoreError;

#[async_trait]
pub trait StatusRepo {
    /// The user's settings; the default (online everywhere) if never set.
    async fn status_settings(&self, user: &UserId) -> Result<StatusSettings, StoreError>;

    /// The settings of those among `users` who ever set any; the others have the default.
    async fn status_settings_of(&self, users: &[UserId]) -> Result<Vec<(UserId, StatusSettings)>, StoreError>;

    async fn put_status_settings(&self, user: &UserId, settings: &StatusSettings) -> Result<(), StoreError>;
}
