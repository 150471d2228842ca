use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use wire::{
    api::{ContactPolicy, Privacy},
    model::UserId,
};

use super::PrivacyRepo;
use crate::store::{
    embedded::{internal, EmbeddedStore},
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
            c.query_row("SELECT contact, findable_by_email FROM privacy WHERE user_id = ?1", params![user], |row| {
                Ok(Privacy { contact: contact_of(row.get(0)?), findable_by_email: row.get(1)? })
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
            c.execute(
                "INSERT OR REPLACE INTO privacy (user_id, contact, findable_by_email) VALUES (?1, ?2, ?3)",
                params![user, contact_code(p.contact), p.findable_by_email],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }
}
