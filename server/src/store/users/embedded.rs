use app::model::{Gender, UserId};
use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};

use super::{UserRecord, UserRepo};
use crate::store::{
    embedded::{internal, write_error, EmbeddedStore},
    StoreError,
};

const COLUMNS: &str = "id, email, nickname, password_hash, gender, avatar, created_ms";

fn from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    let gender: i32 = row.get(4)?;
    Ok(UserRecord {
        id: UserId(row.get(0)?),
        email: row.get(1)?,
        nickname: row.get(2)?,
        password_hash: row.get(3)?,
        gender: Gender::from_code(gender).unwrap_or_default(),
        avatar: row.get(5)?,
        created_ms: row.get(6)?,
    })
}

#[async_trait]
impl UserRepo for EmbeddedStore {
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let u = user.clone();
        self.call(move |c| {
            c.execute(
                &format!("INSERT INTO users ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                params![u.id.0, u.email.to_lowercase(), u.nickname, u.password_hash, u.gender.code(), u.avatar, u.created_ms],
            )
            .map_err(|e| write_error(e, "a user with this e-mail"))?;
            Ok(())
        })
        .await
    }

    async fn user_by_id(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        let id = id.0.clone();
        self.call(move |c| {
            c.query_row(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"), [id], from_row)
                .optional()
                .map_err(internal)
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let email = email.to_lowercase();
        self.call(move |c| {
            c.query_row(&format!("SELECT {COLUMNS} FROM users WHERE email = ?1"), [email], from_row)
                .optional()
                .map_err(internal)
        })
        .await
    }
}
