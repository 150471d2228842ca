use async_trait::async_trait;
use mongodb::bson::doc;
use serde::{Deserialize, Serialize};
use wire::{
    api::{ContactPolicy, Privacy},
    model::UserId,
};

use super::PrivacyRepo;
use crate::store::{
    mongodb::{classify, MongoStore},
    StoreError,
};

const PRIVACY: &str = "privacy";

/// Keyed by the user id, so every lookup is by `_id`.
#[derive(Serialize, Deserialize)]
struct PrivacyDoc {
    #[serde(rename = "_id")]
    user_id: String,
    contact: ContactPolicy,
    findable_by_email: bool,
    /// Absent on settings from before receipts: on.
    #[serde(default = "yes")]
    read_receipts: bool,
}

fn yes() -> bool {
    true
}

impl From<PrivacyDoc> for Privacy {
    fn from(d: PrivacyDoc) -> Privacy {
        Privacy { contact: d.contact, findable_by_email: d.findable_by_email, read_receipts: d.read_receipts }
    }
}

#[async_trait]
impl PrivacyRepo for MongoStore {
    async fn privacy(&self, user: &UserId) -> Result<Privacy, StoreError> {
        let found =
            self.collection::<PrivacyDoc>(PRIVACY).find_one(doc! { "_id": &user.0 }).await.map_err(classify)?;
        Ok(found.map_or_else(Privacy::default, Privacy::from))
    }

    async fn put_privacy(&self, user: &UserId, privacy: &Privacy) -> Result<(), StoreError> {
        let doc = PrivacyDoc {
            user_id: user.0.clone(),
            contact: privacy.contact,
            findable_by_email: privacy.findable_by_email,
            read_receipts: privacy.read_receipts,
        };
        self.collection::<PrivacyDoc>(PRIVACY)
            .replace_one(doc! { "_id": &doc.user_id }, &doc)
            .upsert(true)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn receipts_off(&self, users: &[UserId]) -> Result<Vec<UserId>, StoreError> {
        self.users_among(PRIVACY, "_id", users, doc! { "read_receipts": false }).await
    }
}
