use async_trait::async_trait;
use rusqlite::{params, params_from_iter, OptionalExtension};
use wire::{
    model::{ConversationId, UserId},
    push::NotifySettings,
};

use super::{Audience, PushRepo, StoredSubscription};
use crate::store::{
    embedded::{internal, placeholders, query_all, Cached, EmbeddedStore},
    StoreError,
};

/// Settings are kept as their JSON: they are read and written whole.
fn decode(json: String) -> rusqlite::Result<NotifySettings> {
    serde_json::from_str(&json).map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into()))
}

#[async_trait]
impl PushRepo for EmbeddedStore {
    async fn put_push_subscription(&self, s: &StoredSubscription) -> Result<(), StoreError> {
        let s = s.clone();
        self.call(move |c| {
            c.cached_execute(
                "INSERT OR REPLACE INTO push_subscriptions (user_id, device_id, endpoint, p256dh, auth, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![s.user_id.0, s.device_id, s.endpoint, s.p256dh, s.auth, s.created_ms],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn push_subscriptions_of(&self, user: &UserId) -> Result<Vec<StoredSubscription>, StoreError> {
        let user = user.0.clone();
        self.call(move |c| {
            let sql = "SELECT user_id, device_id, endpoint, p256dh, auth, created_ms
                       FROM push_subscriptions WHERE user_id = ?1";
            query_all(c, sql, params![user], |row| {
                Ok(StoredSubscription {
                    user_id: UserId(row.get(0)?),
                    device_id: row.get(1)?,
                    endpoint: row.get(2)?,
                    p256dh: row.get(3)?,
                    auth: row.get(4)?,
                    created_ms: row.get(5)?,
                })
            })
        })
        .await
    }

    async fn push_audience(&self, conversation: &ConversationId) -> Result<Audience, StoreError> {
        let conversation = conversation.0.clone();
        self.quick(move |c| {
            let members: usize = c
                .cached_row("SELECT COUNT(*) FROM members WHERE conversation_id = ?1", [&conversation], |r| r.get(0))
                .map_err(internal)?;
            let sql = "SELECT DISTINCT m.user_id FROM members m JOIN push_subscriptions p ON p.user_id = m.user_id
                       WHERE m.conversation_id = ?1";
            let subscribed = query_all(c, sql, [&conversation], |row| Ok(UserId(row.get(0)?)))?;
            Ok(Audience { members, subscribed: subscribed.into_iter().collect() })
        })
        .await
    }

    async fn remove_push_subscription(
        &self,
        user: &UserId,
        device_id: &str,
        endpoint: Option<&str>,
    ) -> Result<bool, StoreError> {
        let (user, device, endpoint) = (user.0.clone(), device_id.to_owned(), endpoint.map(str::to_owned));
        self.call(move |c| {
            let sql = "DELETE FROM push_subscriptions
                       WHERE user_id = ?1 AND device_id = ?2 AND (?3 IS NULL OR endpoint = ?3)";
            let removed = c.cached_execute(sql, params![user, device, endpoint]).map_err(internal)?;
            Ok(removed > 0)
        })
        .await
    }

    async fn notify_settings(&self, user: &UserId) -> Result<NotifySettings, StoreError> {
        let user = user.0.clone();
        self.call(move |c| {
            let json: Option<String> = c
                .cached_row("SELECT settings FROM notify_settings WHERE user_id = ?1", params![user], |row| row.get(0))
                .optional()
                .map_err(internal)?;
            json.map(decode).transpose().map(Option::unwrap_or_default).map_err(internal)
        })
        .await
    }

    async fn notify_settings_of(&self, users: &[UserId]) -> Result<Vec<(UserId, NotifySettings)>, StoreError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = users.iter().map(|u| u.0.clone()).collect();
        self.call(move |c| {
            let sql = format!("SELECT user_id, settings FROM notify_settings WHERE user_id IN ({})", placeholders(ids.len()));
            query_all(c, &sql, params_from_iter(ids), |row| Ok((UserId(row.get(0)?), decode(row.get(1)?)?)))
        })
        .await
    }

    async fn put_notify_settings(&self, user: &UserId, settings: &NotifySettings) -> Result<(), StoreError> {
        let (user, json) = (user.0.clone(), serde_json::to_string(settings).expect("settings serialize"));
        self.call(move |c| {
            let sql = "INSERT OR REPLACE INTO notify_settings (user_id, settings) VALUES (?1, ?2)";
            c.cached_execute(sql, params![user, json])
                .map_err(internal)?;
            Ok(())
        })
        .await
    }
}
