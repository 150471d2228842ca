use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::{
    bson::{doc, Document},
    options::ReturnDocument,
};
use serde::{Deserialize, Serialize};
use wire::model::{Gender, UserId};

use super::{search_key, UserPatch, UserRecord, UserRepo, MAX_SEARCH_RESULTS};
use crate::store::{
    mongodb::{classify, is_duplicate_key, MongoStore},
    StoreError,
};
use crate::text::search_fold::KeyQuery;

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
    last_login_ms: Option<i64>,
    login_count: i64,
    /// Absent on users from before keys existed, until [`backfill_keys`].
    #[serde(default)]
    search_key: String,
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
            last_login_ms: u.last_login_ms,
            login_count: u.login_count as i64,
            search_key: search_key(&u.nickname),
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
            last_login_ms: d.last_login_ms,
            login_count: d.login_count.max(0) as u64,
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

    async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<UserRecord>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = ids.iter().map(|id| id.0.as_str()).collect();
        let cursor = self.collection::<UserDoc>(USERS).find(doc! { "_id": { "$in": ids } }).await.map_err(classify)?;
        let docs: Vec<UserDoc> = cursor.try_collect().await.map_err(classify)?;
        Ok(docs.into_iter().map(UserRecord::from).collect())
    }

    async fn update_user(&self, id: &UserId, patch: &UserPatch) -> Result<Option<UserRecord>, StoreError> {
        let mut set = Document::new();
        if let Some(nickname) = &patch.nickname {
            set.insert("nickname", nickname);
            set.insert("search_key", search_key(nickname));
        }
        if let Some(gender) = patch.gender {
            set.insert("gender", gender.code());
        }
        if let Some(avatar) = &patch.avatar {
            set.insert("avatar", avatar);
        }
        if let Some(hash) = &patch.password_hash {
            set.insert("password_hash", hash);
        }
        let mut update = Document::new();
        if let Some(at) = patch.login_at {
            set.insert("last_login_ms", at);
            // One user signs in from one place at a time; FerretDB would lose
            // racing increments, MongoDB would not.
            update.insert("$inc", doc! { "login_count": 1_i64 });
        }
        if set.is_empty() && update.is_empty() {
            return self.user_by_id(id).await;
        }
        if !set.is_empty() {
            update.insert("$set", set);
        }
        let updated = self
            .collection::<UserDoc>(USERS)
            .find_one_and_update(doc! { "_id": &id.0 }, update)
            .return_document(ReturnDocument::After)
            .await
            .map_err(classify)?;
        Ok(updated.map(UserRecord::from))
    }

    async fn search_users(&self, query: &KeyQuery, limit: u32) -> Result<Vec<UserRecord>, StoreError> {
        let sort = doc! { "search_key": 1, "_id": 1 };
        let page = (0, limit.clamp(1, MAX_SEARCH_RESULTS));
        let id: fn(&UserDoc) -> &str = |d| &d.id;
        let docs = self.find_by_key(USERS, Document::new(), query, sort, page, id).await?;
        Ok(docs.into_iter().map(UserRecord::from).collect())
    }

    async fn first_user(&self) -> Result<Option<UserId>, StoreError> {
        let first = self
            .collection::<Document>(USERS)
            .find_one(doc! {})
            .sort(doc! { "created_ms": 1, "_id": 1 })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(classify)?;
        Ok(first.and_then(|d| d.get_str("_id").ok().map(|id| UserId(id.to_owned()))))
    }
}

/// Writes the search key of every user that has none (those from before
/// keys existed), in `_id` order; a nickname changed meanwhile keeps the
/// key written with it.
pub(in crate::store) async fn backfill_keys(store: &MongoStore) -> Result<usize, StoreError> {
    #[derive(Deserialize)]
    struct Named {
        #[serde(rename = "_id")]
        id: String,
        nickname: String,
    }
    let (users, mut after, mut written) = (store.collection::<Named>(USERS), String::new(), 0);
    loop {
        let filter = doc! { "search_key": { "$exists": false }, "_id": { "$gt": &after } };
        let find = users.find(filter).projection(doc! { "nickname": 1 }).sort(doc! { "_id": 1 }).limit(500);
        let page: Vec<Named> = find.await.map_err(classify)?.try_collect().await.map_err(classify)?;
        let Some(last) = page.last() else { return Ok(written) };
        after = last.id.clone();
        for user in &page {
            let only_if_unchanged = doc! { "_id": &user.id, "nickname": &user.nickname };
            let set = doc! { "$set": { "search_key": search_key(&user.nickname) } };
            users.update_one(only_if_unchanged, set).await.map_err(classify)?;
        }
        written += page.len();
    }
}
