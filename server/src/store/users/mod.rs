//! Users: accounts with their login e-mail, profile and password hash.

pub(super) mod embedded;
pub(super) mod mongodb;
mod pinyin;

use async_trait::async_trait;
use wire::{
    api::{avatar_url, Me, PublicProfile},
    model::{Gender, Millis, UserId},
};

use super::StoreError;
use crate::text::search_fold::{directory_key, KeyQuery};

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
    /// Version of the current avatar images (see `crate::avatar`), when the user has one.
    pub avatar: Option<String>,
    pub created_ms: Millis,
    pub last_login_ms: Option<Millis>,
    pub login_count: u64,
}

/// The avatar shown in lists and headers.
const AVATAR_SHOWN: u32 = 128;

impl UserRecord {
    /// What anyone may see of this user.
    pub fn public(&self) -> PublicProfile {
        PublicProfile {
            id: self.id.clone(),
            nickname: self.nickname.clone(),
            gender: self.gender,
            avatar: self.avatar.as_ref().map(|v| avatar_url(&self.id, v, AVATAR_SHOWN)),
            pinyin: pinyin::of(&self.nickname),
        }
    }

    /// What the user sees of their own account.
    pub fn me(&self, is_admin: bool) -> Me {
        Me {
            id: self.id.clone(),
            email: self.email.clone(),
            nickname: self.nickname.clone(),
            gender: self.gender,
            avatar: self.avatar.as_ref().map(|v| avatar_url(&self.id, v, AVATAR_SHOWN)),
            created_ms: self.created_ms,
            last_login_ms: self.last_login_ms,
            login_count: self.login_count,
            is_admin,
        }
    }
}

/// Changes to a user; `None` fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub nickname: Option<String>,
    pub gender: Option<Gender>,
    pub avatar: Option<String>,
    pub password_hash: Option<String>,
    /// A sign-in at this time: sets the last login and counts one more.
    pub login_at: Option<Millis>,
}

/// Most users [`UserRepo::search_users`] returns.
pub const MAX_SEARCH_RESULTS: u32 = 100;

/// What the directory matches a user by, kept beside the nickname and
/// rewritten with it: the nickname, its pinyin and its initials, folded.
fn search_key(nickname: &str) -> String {
    let pinyin = pinyin::of(nickname);
    directory_key(std::iter::once(nickname).chain(pinyin.split(' ')))
}

#[async_trait]
pub trait UserRepo {
    /// Stores a new user. A taken e-mail (in any case) is [`StoreError::Conflict`].
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError>;

    async fn user_by_id(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError>;

    /// Looks a user up by e-mail, ignoring case.
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;

    /// The users among `ids` that exist, in no particular order.
    async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<UserRecord>, StoreError>;

    /// Applies `patch`; returns the updated user, or `None` if there is no such user.
    async fn update_user(&self, id: &UserId, patch: &UserPatch) -> Result<Option<UserRecord>, StoreError>;

    /// Users whose nickname, its pinyin or initials hold `query`, folded
    /// (see `text::search_fold`): those where one is the query first, then
    /// those where one begins with it, then the rest, each by folded
    /// nickname and id; at most `limit` (≤ [`MAX_SEARCH_RESULTS`]). (Finding
    /// someone by e-mail is their choice: see `api::users::search`.)
    async fn search_users(&self, query: &KeyQuery, limit: u32) -> Result<Vec<UserRecord>, StoreError>;

    /// The account created first (by creation time, then id), if any.
    async fn first_user(&self) -> Result<Option<UserId>, StoreError>;
}
