use async_trait::async_trait;
use rusqlite::{params, params_from_iter, OptionalExtension};
use wire::{api::StatusSettings, model::UserId};

use super::StatusRepo;
use crate::store::{
    embedded::{internal, placeholders, query_all, Cached, EmbeddedStore},
    StoreError,
};

/// Settings are kept as their JSON: they are read and written whole.
fn decode(json: String) -> rusqlite::Result<StatusSettings> {
    serde_json::from_str(&json).map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, rusqlite::types::Type::Text, e.into()))
}

#[async_trait]
impl StatusRepo for EmbeddedStore {
    async fn status_settings(&self, user: &UserId) -> Result<StatusSettings, StoreError> {
        let user = user.0.clone();
        self.call(move |c| {
            let json: Option<String> = c
                .cached_row("SELECT settings FROM statuses WHERE user_id = ?1", params![user], |row| row.get(0))
                .optional()
                .map_err(internal)?;
            json.map(decode).transpose().map(Option::unwrap_or_default).map_err(internal)
        })
        .await
    }

    async fn status_settings_of(&self, users: &[UserId]) -> Result<Vec<(UserId, StatusSettings)>, StoreError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = users.iter().map(|u| u.0.clone()).collect();
        self.call(move |c| {
            let sql = format!("SELECT user_id, settings FROM statuses WHERE user_id IN ({})", placeholders(ids.len()));
            query_all(c, &sql, params_from_iter(ids), |row| Ok((UserId(row.get(0)?), decode(row.get(1)?)?)))
        })
        .await
    }

    async fn put_status_settings(&self, user: &UserId, settings: &StatusSettings) -> Result<(), StoreError> {
        let (user, json) = (user.0.clone(), serde_json::to_string(settings).expect("settings serialize"));
        self.call(move |c| {
            c.cached_execute("INSERT OR REPLACE INTO statuses (user_id, settings) VALUES (?1, ?2)", params![user, json])
                .map_err(internal)?;
            Ok(())
        })
        .await
    }
}
