use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use serde::{Deserialize, Serialize};
use wire::model::{Millis, UserId};

use super::{DeviceRecord, DeviceRepo};
use crate::store::{
    mongodb::{classify, MongoStore},
    StoreError,
};

const DEVICES: &str = "devices";
/// A device's sign-out takes its push subscription with it (`store::push`).
const PUSH_SUBSCRIPTIONS: &str = "push_subscriptions";

/// Keyed by `"user:device"`, so every lookup is by `_id`.
#[derive(Serialize, Deserialize)]
struct DeviceDoc {
    #[serde(rename = "_id")]
    key: String,
    user_id: String,
    device_id: String,
    token_id: String,
    user_agent: String,
    signed_in_ms: i64,
    last_seen_ms: i64,
    #[serde(default)]
    previous_token_id: Option<String>,
    #[serde(default)]
    rotated_ms: i64,
}

fn key(user: &UserId, device_id: &str) -> String {
    format!("{user}:{device_id}")
}

impl From<&DeviceRecord> for DeviceDoc {
    fn from(d: &DeviceRecord) -> Self {
        DeviceDoc {
            key: key(&d.user_id, &d.device_id),
            user_id: d.user_id.0.clone(),
            device_id: d.device_id.clone(),
            token_id: d.token_id.clone(),
            user_agent: d.user_agent.clone(),
            signed_in_ms: d.signed_in_ms,
            last_seen_ms: d.last_seen_ms,
            previous_token_id: d.previous_token_id.clone(),
            rotated_ms: d.rotated_ms,
        }
    }
}

impl From<DeviceDoc> for DeviceRecord {
    fn from(d: DeviceDoc) -> Self {
        DeviceRecord {
            user_id: UserId(d.user_id),
            device_id: d.device_id,
            token_id: d.token_id,
            user_agent: d.user_agent,
            signed_in_ms: d.signed_in_ms,
            last_seen_ms: d.last_seen_ms,
            previous_token_id: d.previous_token_id,
            rotated_ms: d.rotated_ms,
        }
    }
}

#[async_trait]
impl DeviceRepo for MongoStore {
    async fn put_device(&self, device: &DeviceRecord) -> Result<(), StoreError> {
        let doc = DeviceDoc::from(device);
        self.collection::<DeviceDoc>(DEVICES)
            .replace_one(doc! { "_id": &doc.key }, &doc)
            .upsert(true)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn device(&self, user: &UserId, device_id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        let found = self
            .collection::<DeviceDoc>(DEVICES)
            .find_one(doc! { "_id": key(user, device_id) })
            .await
            .map_err(classify)?;
        Ok(found.map(DeviceRecord::from))
    }

    async fn devices_of(&self, user: &UserId) -> Result<Vec<DeviceRecord>, StoreError> {
        let cursor = self
            .collection::<DeviceDoc>(DEVICES)
            .find(doc! { "user_id": &user.0 })
            .sort(doc! { "signed_in_ms": -1, "device_id": 1 })
            .await
            .map_err(classify)?;
        let docs: Vec<DeviceDoc> = cursor.try_collect().await.map_err(classify)?;
        Ok(docs.into_iter().map(DeviceRecord::from).collect())
    }

    async fn touch_device(&self, user: &UserId, device_id: &str, at: Millis) -> Result<(), StoreError> {
        self.collection::<DeviceDoc>(DEVICES)
            .update_one(doc! { "_id": key(user, device_id) }, doc! { "$max": { "last_seen_ms": at } })
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn rotate_token(&self, user: &UserId, device_id: &str, from: &str, to: &str, at: Millis) -> Result<bool, StoreError> {
        let result = self
            .collection::<DeviceDoc>(DEVICES)
            .update_one(
                doc! { "_id": key(user, device_id), "token_id": from },
                doc! { "$set": { "token_id": to, "previous_token_id": from, "rotated_ms": at } },
            )
            .await
            .map_err(classify)?;
        Ok(result.modified_count > 0)
    }

    async fn remove_device(&self, user: &UserId, device_id: &str) -> Result<bool, StoreError> {
        let result = self
            .collection::<DeviceDoc>(DEVICES)
            .delete_one(doc! { "_id": key(user, device_id) })
            .await
            .map_err(classify)?;
        // The same key as the subscription's.
        self.collection::<mongodb::bson::Document>(PUSH_SUBSCRIPTIONS)
            .delete_one(doc! { "_id": key(user, device_id) })
            .await
            .map_err(classify)?;
        Ok(result.deleted_count > 0)
    }

    async fn remove_other_devices(&self, user: &UserId, keep: &str) -> Result<(), StoreError> {
        let others = doc! { "user_id": &user.0, "device_id": { "$ne": keep } };
        self.collection::<DeviceDoc>(DEVICES).delete_many(others.clone()).await.map_err(classify)?;
        self.collection::<mongodb::bson::Document>(PUSH_SUBSCRIPTIONS).delete_many(others).await.map_err(classify)?;
        Ok(())
    }
}
