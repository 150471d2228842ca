use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};
use wire::model::{Millis, UserId};

use super::{DeviceRecord, DeviceRepo};
use crate::store::{
    embedded::{internal, query_all, write_transaction, Cached, EmbeddedStore},
    StoreError,
};

const COLUMNS: &str =
    "user_id, device_id, token_id, user_agent, signed_in_ms, last_seen_ms, previous_token_id, rotated_ms";

fn from_row(row: &Row<'_>) -> rusqlite::Result<DeviceRecord> {
    Ok(DeviceRecord {
        user_id: UserId(row.get(0)?),
        device_id: row.get(1)?,
        token_id: row.get(2)?,
        user_agent: row.get(3)?,
        signed_in_ms: row.get(4)?,
        last_seen_ms: row.get(5)?,
        previous_token_id: row.get(6)?,
        rotated_ms: row.get(7)?,
    })
}

#[async_trait]
impl DeviceRepo for EmbeddedStore {
    async fn put_device(&self, device: &DeviceRecord) -> Result<(), StoreError> {
        let d = device.clone();
        self.call(move |c| {
            c.cached_execute(
                &format!("INSERT OR REPLACE INTO devices ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![
                    d.user_id.0,
                    d.device_id,
                    d.token_id,
                    d.user_agent,
                    d.signed_in_ms,
                    d.last_seen_ms,
                    d.previous_token_id,
                    d.rotated_ms
                ],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn device(&self, user: &UserId, device_id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        let (user, device_id) = (user.0.clone(), device_id.to_owned());
        self.call(move |c| {
            c.cached_row(
                &format!("SELECT {COLUMNS} FROM devices WHERE user_id = ?1 AND device_id = ?2"),
                params![user, device_id],
                from_row,
            )
            .optional()
            .map_err(internal)
        })
        .await
    }

    async fn devices_of(&self, user: &UserId) -> Result<Vec<DeviceRecord>, StoreError> {
        let user = user.0.clone();
        self.call(move |c| {
            query_all(
                c,
                &format!("SELECT {COLUMNS} FROM devices WHERE user_id = ?1 ORDER BY signed_in_ms DESC, device_id"),
                [user],
                from_row,
            )
        })
        .await
    }

    async fn touch_device(&self, user: &UserId, device_id: &str, at: Millis) -> Result<(), StoreError> {
        let (user, device_id) = (user.0.clone(), device_id.to_owned());
        self.call(move |c| {
            c.cached_execute(
                "UPDATE devices SET last_seen_ms = MAX(last_seen_ms, ?3) WHERE user_id = ?1 AND device_id = ?2",
                params![user, device_id, at],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn rotate_token(&self, user: &UserId, device_id: &str, from: &str, to: &str, at: Millis) -> Result<bool, StoreError> {
        let (user, device_id, from, to) = (user.0.clone(), device_id.to_owned(), from.to_owned(), to.to_owned());
        self.call(move |c| {
            let n = c
                .cached_execute(
                    "UPDATE devices SET previous_token_id = token_id, token_id = ?4, rotated_ms = ?5
                     WHERE user_id = ?1 AND device_id = ?2 AND token_id = ?3",
                    params![user, device_id, from, to, at],
                )
                .map_err(internal)?;
            Ok(n > 0)
        })
        .await
    }

    async fn remove_device(&self, user: &UserId, device_id: &str) -> Result<bool, StoreError> {
        let (user, device_id) = (user.0.clone(), device_id.to_owned());
        self.call(move |c| {
            let tx = write_transaction(c)?;
            let n = tx
                .cached_execute("DELETE FROM devices WHERE user_id = ?1 AND device_id = ?2", params![user, device_id])
                .map_err(internal)?;
            let sql = "DELETE FROM push_subscriptions WHERE user_id = ?1 AND device_id = ?2";
            tx.cached_execute(sql, params![user, device_id])
                .map_err(internal)?;
            tx.commit().map_err(internal)?;
            Ok(n > 0)
        })
        .await
    }

    async fn remove_other_devices(&self, user: &UserId, keep: &str) -> Result<(), StoreError> {
        let (user, keep) = (user.0.clone(), keep.to_owned());
        self.call(move |c| {
            let tx = write_transaction(c)?;
            tx.cached_execute("DELETE FROM devices WHERE user_id = ?1 AND device_id != ?2", params![user, keep])
                .map_err(internal)?;
            let sql = "DELETE FROM push_subscriptions WHERE user_id = ?1 AND device_id != ?2";
            tx.cached_execute(sql, params![user, keep])
                .map_err(internal)?;
            tx.commit().map_err(internal)?;
            Ok(())
        })
        .await
    }
}
