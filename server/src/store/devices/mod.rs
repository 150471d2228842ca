//! Devices: one signed-in session per (user, device). Its `token_id` is the
//! `jti` of the only token that device may use; signing in again on the same
//! device replaces it, which revokes the older token at once.

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

    /// Signs a device out; false if it was not signed in.
    async fn remove_device(&self, user: &UserId, device_id: &str) -> Result<bool, StoreError>;

    /// Signs out every device of the user but `keep`.
    async fn remove_other_devices(&self, user: &UserId, keep: &str) -> Result<(), StoreError>;
}
