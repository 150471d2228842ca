//! Privacy settings: who may reach each user directly, whether their
//! e-mail address finds them, and whether they send read receipts. Blocks are friend links (`store::friends`).

mod embedded;
mod mongodb;

use async_trait::async_trait;
use wire::{api::Privacy, model::UserId};

use super::StoreError;

#[async_trait]
pub trait PrivacyRepo {
    /// The user's settings; the default if never set.
    async fn privacy(&self, user: &UserId) -> Result<Privacy, StoreError>;

    async fn put_privacy(&self, user: &UserId, privacy: &Privacy) -> Result<(), StoreError>;

    /// Those of `users` who turned read receipts off, in no particular order.
    async fn receipts_off(&self, users: &[UserId]) -> Result<Vec<UserId>, StoreError>;
}
