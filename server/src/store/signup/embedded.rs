use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};
use wire::model::{Millis, UserId};

use super::{InviteRecord, SignupRepo};
use crate::store::{
    embedded::{internal, query_all, write_error, write_transaction, Cached, EmbeddedStore},
    StoreError,
};

const COLUMNS: &str = "id, created_by, created_ms, expires_ms, max_uses";

fn from_row(row: &Row<'_>) -> rusqlite::Result<InviteRecord> {
    Ok(InviteRecord {
        id: row.get(0)?,
        created_by: UserId(row.get(1)?),
        created_ms: row.get(2)?,
        expires_ms: row.get(3)?,
        max_uses: row.get(4)?,
    })
}

#[async_trait]
impl SignupRepo for EmbeddedStore {
    async fn insert_invite(&self, invite: &InviteRecord) -> Result<(), StoreError> {
        let i = invite.clone();
        self.call(move |c| {
            c.cached_execute(
                &format!("INSERT INTO signup_invites ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
                params![i.id, i.created_by.0, i.created_ms, i.expires_ms, i.max_uses],
            )
            .map_err(|e| write_error(e, "an invitation with this token"))?;
            Ok(())
        })
        .await
    }

    async fn invite(&self, id: &str) -> Result<Option<InviteRecord>, StoreError> {
        let id = id.to_owned();
        self.call(move |c| {
            c.cached_row(&format!("SELECT {COLUMNS} FROM signup_invites WHERE id = ?1"), [id], from_row)
                .optional()
                .map_err(internal)
        })
        .await
    }

    async fn invites(&self) -> Result<Vec<(InviteRecord, u32)>, StoreError> {
        self.call(|c| {
            query_all(
                c,
                &format!(
                    "SELECT {COLUMNS}, (SELECT COUNT(*) FROM signup_uses u WHERE u.invite_id = i.id)
                     FROM signup_invites i ORDER BY created_ms DESC, id"
                ),
                [],
                |row| Ok((from_row(row)?, row.get(5)?)),
            )
        })
        .await
    }

    async fn remove_invite(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.call(move |c| {
            let tx = write_transaction(c)?;
            tx.cached_execute("DELETE FROM signup_uses WHERE invite_id = ?1", [&id]).map_err(internal)?;
            let removed = tx.cached_execute("DELETE FROM signup_invites WHERE id = ?1", [&id]).map_err(internal)?;
            tx.commit().map_err(internal)?;
            Ok(removed > 0)
        })
        .await
    }

    async fn uses(&self, id: &str) -> Result<u32, StoreError> {
        let id = id.to_owned();
        self.call(move |c| {
            c.cached_row("SELECT COUNT(*) FROM signup_uses WHERE invite_id = ?1", [id], |row| row.get(0))
                .map_err(internal)
        })
        .await
    }

    async fn claim_use(&self, id: &str, n: u32, at: Millis) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.call(move |c| {
            let sql = "INSERT OR IGNORE INTO signup_uses (invite_id, n, used_ms) VALUES (?1, ?2, ?3)";
            let inserted = c.cached_execute(sql, params![id, n, at]).map_err(internal)?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn release_use(&self, id: &str, n: u32) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.call(move |c| {
            c.cached_execute("DELETE FROM signup_uses WHERE invite_id = ?1 AND n = ?2", params![id, n])
                .map_err(internal)?;
            Ok(())
        })
        .await
    }
}
