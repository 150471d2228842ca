//! Users: accounts with their login e-mail, profile and password hash.

mod embedded;
mod mongodb;

use app::model::{Gender, Millis, UserId};
use async_trait::async_trait;

use super::StoreError;

/// A stored account (seed 000's `users`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub id: UserId,
    /// The login e-mail, lower-cased: e-mail addresses are unique regardless of case.
    pub email: String,
    pub nickname: String,
    /// An argon2id PHC string; never leaves the server.
    pub password_hash: String,
    pub gender: Gender,
    /// Path of the avatar image, when the user has one.
    pub avatar: Option<String>,
    pub created_ms: Millis,
}

#[async_trait]
pub trait UserRepo {
    /// Stores a new user. A taken e-mail (in any case) is [`StoreError::Conflict`].
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError>;

    async fn user_by_id(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError>;

    /// Looks a user up by e-mail, ignoring case.
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;
}
