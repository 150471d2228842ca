use async_trait::async_trait;
use rusqlite::{params, params_from_iter, OptionalExtension};
use wire::{
    api::{ContactPolicy, Privacy},
    model::UserId,
};

use super::PrivacyRepo;
use crate::store::{
    embedded::{internal, placeholders, query_all, Cached, EmbeddedStore},
    StoreError,
};

fn contact_code(policy: ContactPolicy) -> i32 {
    match policy {
        ContactPolicy::Everyone => 0,
        ContactPolicy::Friends => 1,
    }
}

fn contact_of(code: i32) -> ContactPolicy {
    if code == 1 { ContactPolicy::Friends } else { ContactPolicy::Everyone }
}

#[async_trait]
impl PrivacyRepo for EmbeddedStore {
    async fn privacy(&self, user: &UserId) -> Result<Privacy, StoreError> {
        let user = user.0.clone();
        self.call(move |c| {
            let sql = "SELECT contact, findable_by_email, read_receipts FROM privacy WHERE user_id = ?1";
            c.cached_row(sql, params![user], |row| {
                Ok(Privacy { contact: contact_of(row.get(0)?), findable_by_email: row.get(1)?, read_receipts: row.get(2)? })
            })
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(internal)
        })
        .await
    }

    async fn put_privacy(&self, user: &UserId, privacy: &Privacy) -> Result<(), StoreError> {
        let (user, p) = (user.0.clone(), *privacy);
        self.call(move |c| {
            c.cached_execute(
                "INSERT OR REPLACE INTO privacy (user_id, contact, findable_by_email, read_receipts) VALUES (?1, ?2, ?3, ?4)",
                params![user, contact_code(p.contact), p.findable_by_email, p.read_receipts],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn receipts_off(&self, users: &[UserId]) -> Result<Vec<UserId>, StoreError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let users: Vec<String> = users.iter().map(|u| u.0.clone()).collect();
        self.call(move |c| {
            let sql =
                format!("SELECT user_id FROM privacy WHERE read_receipts = 0 AND user_id IN ({})", placeholders(users.len()));
            query_all(c, &sql, params_from_iter(users.iter()), |r| r.get(0).map(UserId))
        })
        .await
    }
}
