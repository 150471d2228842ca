use app::model::{Gender, UserId};
use async_trait::async_trait;
use mongodb::bson::doc;
use serde::{Deserialize, Serialize};

use super::{UserRecord, UserRepo};
use crate::store::{
    mongodb::{classify, is_duplicate_key, MongoStore},
    StoreError,
};

const USERS: &str = "users";

#[derive(Serialize, Deserialize)]
struct UserDoc {
    #[serde(rename = "_id")]
    id: String,
    email: String,
    nickname: String,
    password_hash: String,
    gender: i32,
    avatar: Option<String>,
    created_ms: i64,
}

impl From<&UserRecord> for UserDoc {
    fn from(u: &UserRecord) -> Self {
        UserDoc {
            id: u.id.0.clone(),
            email: u.email.to_lowercase(),
            nickname: u.nickname.clone(),
            password_hash: u.password_hash.clone(),
            gender: u.gender.code(),
            avatar: u.avatar.clone(),
            created_ms: u.created_ms,
        }
    }
}

impl From<UserDoc> for UserRecord {
    fn from(d: UserDoc) -> Self {
        UserRecord {
            id: UserId(d.id),
            email: d.email,
            nickname: d.nickname,
            password_hash: d.password_hash,
            gender: Gender::from_code(d.gender).unwrap_or_default(),
            avatar: d.avatar,
            created_ms: d.created_ms,
        }
    }
}

#[async_trait]
impl UserRepo for MongoStore {
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        match self.collection::<UserDoc>(USERS).insert_one(UserDoc::from(user)).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Err(StoreError::Conflict("a user with this e-mail".into())),
            Err(e) => Err(classify(e)),
        }
    }

    async fn user_by_id(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        let found = self.collection::<UserDoc>(USERS).find_one(doc! { "_id": &id.0 }).await.map_err(classify)?;
        Ok(found.map(UserRecord::from))
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let filter = doc! { "email": email.to_lowercase() };
        let found = self.collection::<UserDoc>(USERS).find_one(filter).await.map_err(classify)?;
        Ok(found.map(UserRecord::from))
    }
}
