//! Devices: one signed-in session per (user, device). Its `token_id` is the
//! `jti` of the only token that device may use; signing in again on the same
//! device replaces it, which revokes the older token at once. Each refresh
//! rotates it ([`DeviceRepo::rotate_token`]): the token id it replaced stays
//! in `previous_token_id`, valid for a few seconds after `rotated_ms` for
//! requests that were already under way.

mod embedded;
mod mongodb;

use async_trait::async_trait;
use wire::model::{Millis, UserId};

use super::StoreError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceRecord {
    pub user_id: UserId,
    pub device_id: String,
    pub token_id: String,
    pub user_agent: String,
    pub signed_in_ms: Millis,
    pub last_seen_ms: Millis,
    /// The token id the last rotation replaced, if any.
    pub previous_token_id: Option<String>,
    /// When `token_id` last replaced another (0: never).
    pub rotated_ms: Millis,
}

#[async_trait]
pub trait DeviceRepo {
    /// Stores the device's session, replacing any earlier one of that device.
    async fn put_device(&self, device: &DeviceRecord) -> Result<(), StoreError>;

    async fn device(&self, user: &UserId, device_id: &str) -> Result<Option<DeviceRecord>, StoreError>;

    /// The user's devices, most recently signed in first.
    async fn devices_of(&self, user: &UserId) -> Result<Vec<DeviceRecord>, StoreError>;

    /// Records activity of a device.
    async fn touch_device(&self, user: &UserId, device_id: &str, at: Millis) -> Result<(), StoreError>;

    /// Replaces the device's token id `from` by `to` at `at`, keeping `from`
    /// as the previous one; false (and nothing changed) when the device does
    /// not hold `from` (any more): another request rotated it first.
    async fn rotate_token(&self, user: &UserId, device_id: &str, from: &str, to: &str, at: Millis) -> Result<bool, StoreError>;

    /// Signs a device out, with its push subscription; false if it was not signed in.
    async fn remove_device(&self, user: &UserId, device_id: &str) -> Result<bool, StoreError>;

    /// Signs out every device of the user but `keep`, with their push subscriptions.
    async fn remove_other_devices(&self, user: &UserId, keep: &str) -> Result<(), StoreError>;
}
