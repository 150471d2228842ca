use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use serde::{Deserialize, Serialize};
use wire::model::{Millis, UserId};

use super::{InviteRecord, SignupRepo};
use crate::store::{
    mongodb::{classify, is_duplicate_key, MongoStore},
    StoreError,
};

const INVITES: &str = "signup_invites";
const USES: &str = "signup_uses";

#[derive(Serialize, Deserialize)]
struct InviteDoc {
    #[serde(rename = "_id")]
    id: String,
    created_by: String,
    created_ms: i64,
    expires_ms: i64,
    max_uses: u32,
}

impl From<InviteDoc> for InviteRecord {
    fn from(d: InviteDoc) -> Self {
        InviteRecord {
            id: d.id,
            created_by: UserId(d.created_by),
            created_ms: d.created_ms,
            expires_ms: d.expires_ms,
            max_uses: d.max_uses,
        }
    }
}

/// One use: `_id` is `"<invitation>:<n>"`, so taking a slot is an insert
/// that only one writer wins.
#[derive(Serialize, Deserialize)]
struct UseDoc {
    #[serde(rename = "_id")]
    id: String,
    invite_id: String,
    used_ms: i64,
}

fn use_id(invite: &str, n: u32) -> String {
    format!("{invite}:{n}")
}

#[async_trait]
impl SignupRepo for MongoStore {
    async fn insert_invite(&self, invite: &InviteRecord) -> Result<(), StoreError> {
        let doc = InviteDoc {
            id: invite.id.clone(),
            created_by: invite.created_by.0.clone(),
            created_ms: invite.created_ms,
            expires_ms: invite.expires_ms,
            max_uses: invite.max_uses,
        };
        self.collection::<InviteDoc>(INVITES).insert_one(&doc).await.map_err(classify)?;
        Ok(())
    }

    async fn invite(&self, id: &str) -> Result<Option<InviteRecord>, StoreError> {
        let found = self.collection::<InviteDoc>(INVITES).find_one(doc! { "_id": id }).await.map_err(classify)?;
        Ok(found.map(InviteRecord::from))
    }

    async fn invites(&self) -> Result<Vec<(InviteRecord, u32)>, StoreError> {
        let cursor = self
            .collection::<InviteDoc>(INVITES)
            .find(doc! {})
            .sort(doc! { "created_ms": -1, "_id": 1 })
            .await
            .map_err(classify)?;
        let docs: Vec<InviteDoc> = cursor.try_collect().await.map_err(classify)?;
        let mut out = Vec::with_capacity(docs.len());
        for d in docs {
            let used = self.uses(&d.id).await?;
            out.push((InviteRecord::from(d), used));
        }
        Ok(out)
    }

    async fn remove_invite(&self, id: &str) -> Result<bool, StoreError> {
        // The invitation first: a use taken in between is refused by the
        // sign-up's check that its invitation still exists.
        let removed = self.collection::<InviteDoc>(INVITES).delete_one(doc! { "_id": id }).await.map_err(classify)?;
        self.collection::<UseDoc>(USES).delete_many(doc! { "invite_id": id }).await.map_err(classify)?;
        Ok(removed.deleted_count > 0)
    }

    async fn uses(&self, id: &str) -> Result<u32, StoreError> {
        let n = self.collection::<UseDoc>(USES).count_documents(doc! { "invite_id": id }).await.map_err(classify)?;
        Ok(n as u32)
    }

    async fn claim_use(&self, id: &str, n: u32, at: Millis) -> Result<bool, StoreError> {
        let doc = UseDoc { id: use_id(id, n), invite_id: id.to_owned(), used_ms: at };
        match self.collection::<UseDoc>(USES).insert_one(&doc).await {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(classify(e)),
        }
    }

    async fn release_use(&self, id: &str, n: u32) -> Result<(), StoreError> {
        self.collection::<UseDoc>(USES).delete_one(doc! { "_id": use_id(id, n) }).await.map_err(classify)?;
        Ok(())
    }
}
