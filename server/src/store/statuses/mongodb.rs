use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use serde::{Deserialize, Serialize};
use wire::{
    api::{ConversationStatus, StatusSettings},
    model::UserId,
};

use super::StatusRepo;
use crate::store::{
    mongodb::{classify, MongoStore},
    StoreError,
};

const STATUSES: &str = "statuses";

/// Keyed by the user id, so every lookup is by `_id`.
#[derive(Serialize, Deserialize)]
struct StatusDoc {
    #[serde(rename = "_id")]
    user_id: String,
    status: wire::model::Status,
    conversations: Vec<ConversationStatus>,
}

impl From<StatusDoc> for (UserId, StatusSettings) {
    fn from(d: StatusDoc) -> Self {
        (UserId(d.user_id), StatusSettings { status: d.status, conversations: d.conversations })
    }
}

#[async_trait]
impl StatusRepo for MongoStore {
    async fn status_settings(&self, user: &UserId) -> Result<StatusSettings, StoreError> {
        let found = self
            .collection::<StatusDoc>(STATUSES)
            .find_one(doc! { "_id": &user.0 })
            .await
            .map_err(classify)?;
        Ok(found.map(|d| <(UserId, StatusSettings)>::from(d).1).unwrap_or_default())
    }

    async fn status_settings_of(&self, users: &[UserId]) -> Result<Vec<(UserId, StatusSettings)>, StoreError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = users.iter().map(|u| u.0.as_str()).collect();
        let cursor = self.collection::<StatusDoc>(STATUSES).find(doc! { "_id": { "$in": ids } }).await.map_err(classify)?;
        let docs: Vec<StatusDoc> = cursor.try_collect().await.map_err(classify)?;
        Ok(docs.into_iter().map(Into::into).collect())
    }

    async fn put_status_settings(&self, user: &UserId, settings: &StatusSettings) -> Result<(), StoreError> {
        let doc = StatusDoc {
            user_id: user.0.clone(),
            status: settings.status,
            conversations: settings.conversations.clone(),
        };
        self.collection::<StatusDoc>(STATUSES)
            .replace_one(doc! { "_id": &doc.user_id }, &doc)
            .upsert(true)
            .await
            .map_err(classify)?;
        Ok(())
    }
}
