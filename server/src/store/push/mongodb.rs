use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use serde::{Deserialize, Serialize};
use wire::{
    model::{ConversationId, Millis, UserId},
    push::{ConversationNotify, NotifySettings, QuietHours},
};

use super::{Audience, PushRepo, StoredSubscription};
use crate::store::{
    conversations::ConversationRepo,
    mongodb::{classify, MongoStore},
    StoreError,
};

const SUBSCRIPTIONS: &str = "push_subscriptions";
const SETTINGS: &str = "notify_settings";

/// `"<user>:<device>"`: user ids hold no `:`, so the first one splits it.
fn key(user: &UserId, device_id: &str) -> String {
    format!("{}:{device_id}", user.0)
}

#[derive(Serialize, Deserialize)]
struct SubscriptionDoc {
    #[serde(rename = "_id")]
    id: String,
    user_id: String,
    device_id: String,
    endpoint: String,
    p256dh: String,
    auth: String,
    created_ms: Millis,
}

impl From<SubscriptionDoc> for StoredSubscription {
    fn from(d: SubscriptionDoc) -> StoredSubscription {
        StoredSubscription {
            user_id: UserId(d.user_id),
            device_id: d.device_id,
            endpoint: d.endpoint,
            p256dh: d.p256dh,
            auth: d.auth,
            created_ms: d.created_ms,
        }
    }
}

/// Keyed by the user id, so every lookup is by `_id`; the conversations'
/// entries are a small array rewritten whole.
#[derive(Serialize, Deserialize)]
struct SettingsDoc {
    #[serde(rename = "_id")]
    user_id: String,
    conversations: Vec<ConversationNotify>,
    quiet_hours: Option<QuietHours>,
    hide_previews: bool,
}

impl From<SettingsDoc> for (UserId, NotifySettings) {
    fn from(d: SettingsDoc) -> Self {
        let settings =
            NotifySettings { conversations: d.conversations, quiet_hours: d.quiet_hours, hide_previews: d.hide_previews };
        (UserId(d.user_id), settings)
    }
}

#[async_trait]
impl PushRepo for MongoStore {
    async fn put_push_subscription(&self, s: &StoredSubscription) -> Result<(), StoreError> {
        let doc = SubscriptionDoc {
            id: key(&s.user_id, &s.device_id),
            user_id: s.user_id.0.clone(),
            device_id: s.device_id.clone(),
            endpoint: s.endpoint.clone(),
            p256dh: s.p256dh.clone(),
            auth: s.auth.clone(),
            created_ms: s.created_ms,
        };
        self.collection::<SubscriptionDoc>(SUBSCRIPTIONS)
            .replace_one(doc! { "_id": &doc.id }, &doc)
            .upsert(true)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn push_subscriptions_of(&self, user: &UserId) -> Result<Vec<StoredSubscription>, StoreError> {
        let cursor = self
            .collection::<SubscriptionDoc>(SUBSCRIPTIONS)
            .find(doc! { "user_id": &user.0 })
            .await
            .map_err(classify)?;
        let docs: Vec<SubscriptionDoc> = cursor.try_collect().await.map_err(classify)?;
        Ok(docs.into_iter().map(Into::into).collect())
    }

    async fn push_audience(&self, conversation: &ConversationId) -> Result<Audience, StoreError> {
        let members: Vec<UserId> = self.members_of(conversation).await?.into_iter().map(|m| m.user_id).collect();
        let subscribed = self.users_among(SUBSCRIPTIONS, "user_id", &members, doc! {}).await?;
        Ok(Audience { members: members.len(), subscribed: subscribed.into_iter().collect() })
    }

    async fn remove_push_subscription(
        &self,
        user: &UserId,
        device_id: &str,
        endpoint: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut filter = doc! { "_id": key(user, device_id) };
        if let Some(endpoint) = endpoint {
            filter.insert("endpoint", endpoint);
        }
        let result =
            self.collection::<SubscriptionDoc>(SUBSCRIPTIONS).delete_one(filter).await.map_err(classify)?;
        Ok(result.deleted_count > 0)
    }

    async fn notify_settings(&self, user: &UserId) -> Result<NotifySettings, StoreError> {
        let found =
            self.collection::<SettingsDoc>(SETTINGS).find_one(doc! { "_id": &user.0 }).await.map_err(classify)?;
        Ok(found.map(|d| <(UserId, NotifySettings)>::from(d).1).unwrap_or_default())
    }

    async fn notify_settings_of(&self, users: &[UserId]) -> Result<Vec<(UserId, NotifySettings)>, StoreError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = users.iter().map(|u| u.0.as_str()).collect();
        let cursor = self.collection::<SettingsDoc>(SETTINGS).find(doc! { "_id": { "$in": ids } }).await.map_err(classify)?;
        let docs: Vec<SettingsDoc> = cursor.try_collect().await.map_err(classify)?;
        Ok(docs.into_iter().map(Into::into).collect())
    }

    async fn put_notify_settings(&self, user: &UserId, settings: &NotifySettings) -> Result<(), StoreError> {
        let doc = SettingsDoc {
            user_id: user.0.clone(),
            conversations: settings.conversations.clone(),
            quiet_hours: settings.quiet_hours,
            hide_previews: settings.hide_previews,
        };
        self.collection::<SettingsDoc>(SETTINGS)
            .replace_one(doc! { "_id": &doc.user_id }, &doc)
            .upsert(true)
            .await
            .map_err(classify)?;
        Ok(())
    }
}
