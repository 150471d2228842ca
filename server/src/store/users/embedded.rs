use async_trait::async_trait;
use rusqlite::{params, params_from_iter, OptionalExtension, Row};
use wire::model::{Gender, UserId};

use super::{search_key, UserPatch, UserRecord, UserRepo, MAX_SEARCH_RESULTS};
use crate::store::{
    embedded::{internal, placeholders, query_all, write_error, write_transaction, Cached, EmbeddedStore},
    StoreError,
};
use crate::text::search_fold::KeyQuery;

const COLUMNS: &str = "id, email, nickname, password_hash, gender, avatar, created_ms, last_login_ms, login_count";

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
        last_login_ms: row.get(7)?,
        login_count: row.get::<_, i64>(8)? as u64,
    })
}

fn by_id(c: &rusqlite::Connection, id: &str) -> rusqlite::Result<Option<UserRecord>> {
    c.cached_row(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"), [id], from_row)
        .optional()
}

/// Writes the search key of every user that has none (those from before
/// keys existed: migration 14 gave them an empty one).
pub(in crate::store) fn backfill_keys(c: &rusqlite::Connection) -> rusqlite::Result<usize> {
    let missing: Vec<(String, String)> = c
        .prepare("SELECT id, nickname FROM users WHERE search_key = ''")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update = c.prepare("UPDATE users SET search_key = ?2 WHERE id = ?1")?;
    for (id, nickname) in &missing {
        update.execute(params![id, search_key(nickname)])?;
    }
    Ok(missing.len())
}

#[async_trait]
impl UserRepo for EmbeddedStore {
    async fn insert_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let u = user.clone();
        self.call(move |c| {
            c.cached_execute(
                &format!("INSERT INTO users ({COLUMNS}, search_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    u.id.0,
                    u.email.to_lowercase(),
                    u.nickname,
                    u.password_hash,
                    u.gender.code(),
                    u.avatar,
                    u.created_ms,
                    u.last_login_ms,
                    u.login_count as i64,
                    search_key(&u.nickname)
                ],
            )
            .map_err(|e| write_error(e, "a user with this e-mail"))?;
            Ok(())
        })
        .await
    }

    async fn user_by_id(&self, id: &UserId) -> Result<Option<UserRecord>, StoreError> {
        let id = id.0.clone();
        self.call(move |c| by_id(c, &id).map_err(internal)).await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        let email = email.to_lowercase();
        self.call(move |c| {
            c.cached_row(
                &format!("SELECT {COLUMNS} FROM users WHERE email = ?1"),
                [email],
                from_row,
            )
            .optional()
            .map_err(internal)
        })
        .await
    }

    async fn users_by_ids(&self, ids: &[UserId]) -> Result<Vec<UserRecord>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = ids.iter().map(|id| id.0.clone()).collect();
        self.call(move |c| {
            query_all(
                c,
                &format!("SELECT {COLUMNS} FROM users WHERE id IN ({})", placeholders(ids.len())),
                params_from_iter(ids.iter()),
                from_row,
            )
        })
        .await
    }

    async fn update_user(&self, id: &UserId, patch: &UserPatch) -> Result<Option<UserRecord>, StoreError> {
        let (id, p) = (id.0.clone(), patch.clone());
        self.call(move |c| {
            let tx = write_transaction(c)?;
            let Some(mut user) = by_id(&tx, &id).map_err(internal)? else {
                return Ok(None);
            };
            if let Some(nickname) = p.nickname {
                user.nickname = nickname;
            }
            if let Some(gender) = p.gender {
                user.gender = gender;
            }
            if let Some(avatar) = p.avatar {
                user.avatar = Some(avatar);
            }
            if let Some(hash) = p.password_hash {
                user.password_hash = hash;
            }
            if let Some(at) = p.login_at {
                user.last_login_ms = Some(at);
                user.login_count += 1;
            }
            tx.cached_execute(
                "UPDATE users SET nickname = ?2, gender = ?3, avatar = ?4, password_hash = ?5,
                 last_login_ms = ?6, login_count = ?7, search_key = ?8 WHERE id = ?1",
                params![
                    id,
                    user.nickname,
                    user.gender.code(),
                    user.avatar,
                    user.password_hash,
                    user.last_login_ms,
                    user.login_count as i64,
                    search_key(&user.nickname)
                ],
            )
            .map_err(internal)?;
            tx.commit().map_err(internal)?;
            Ok(Some(user))
        })
        .await
    }

    async fn search_users(&self, query: &KeyQuery, limit: u32) -> Result<Vec<UserRecord>, StoreError> {
        let (q, limit) = (query.clone(), limit.clamp(1, MAX_SEARCH_RESULTS));
        // instr() takes its needle literally: no pattern syntax to escape.
        self.call(move |c| {
            query_all(
                c,
                &format!(
                    "SELECT {COLUMNS} FROM users WHERE instr(search_key, ?3) > 0
                     ORDER BY CASE WHEN instr(search_key, ?1) > 0 THEN 0 WHEN instr(search_key, ?2) > 0 THEN 1 ELSE 2 END,
                              search_key, id
                     LIMIT ?4"
                ),
                params![q.exact, q.prefix, q.part, limit],
                from_row,
            )
        })
        .await
    }

    async fn first_user(&self) -> Result<Option<UserId>, StoreError> {
        self.call(|c| {
            c.cached_row("SELECT id FROM users ORDER BY created_ms, id LIMIT 1", [], |row| row.get(0))
                .optional()
                .map(|id| id.map(UserId))
                .map_err(internal)
        })
        .await
    }
}
