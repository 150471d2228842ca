use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::doc;
use serde::{Deserialize, Serialize};
use wire::model::UserId;

use super::{FriendLink, FriendRepo, LinkState};
use crate::store::{
    mongodb::{classify, MongoStore},
    StoreError,
};

const LINKS: &str = "friend_links";

/// Keyed by `"owner:other"`, so every lookup of one link is by `_id`.
#[derive(Serialize, Deserialize)]
struct LinkDoc {
    #[serde(rename = "_id")]
    key: String,
    owner: String,
    other: String,
    state: i32,
    since_ms: i64,
}

fn key(owner: &UserId, other: &UserId) -> String {
    format!("{owner}:{other}")
}

impl TryFrom<LinkDoc> for FriendLink {
    type Error = StoreError;

    fn try_from(d: LinkDoc) -> Result<Self, StoreError> {
        Ok(FriendLink {
            owner: UserId(d.owner),
            other: UserId(d.other),
            state: LinkState::from_code(d.state)
                .ok_or_else(|| StoreError::Internal(format!("friend link {} has state {}", d.key, d.state)))?,
            since_ms: d.since_ms,
        })
    }
}

#[async_trait]
impl FriendRepo for MongoStore {
    async fn put_link(&self, link: &FriendLink) -> Result<(), StoreError> {
        let doc = LinkDoc {
            key: key(&link.owner, &link.other),
            owner: link.owner.0.clone(),
            other: link.other.0.clone(),
            state: link.state.code(),
            since_ms: link.since_ms,
        };
        self.collection::<LinkDoc>(LINKS)
            .replace_one(doc! { "_id": &doc.key }, &doc)
            .upsert(true)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn link(&self, owner: &UserId, other: &UserId) -> Result<Option<FriendLink>, StoreError> {
        let found = self
            .collection::<LinkDoc>(LINKS)
            .find_one(doc! { "_id": key(owner, other) })
            .await
            .map_err(classify)?;
        found.map(FriendLink::try_from).transpose()
    }

    async fn links_of(&self, owner: &UserId) -> Result<Vec<FriendLink>, StoreError> {
        let cursor = self
            .collection::<LinkDoc>(LINKS)
            .find(doc! { "owner": &owner.0 })
            .sort(doc! { "since_ms": 1, "other": 1 })
            .await
            .map_err(classify)?;
        let docs: Vec<LinkDoc> = cursor.try_collect().await.map_err(classify)?;
        docs.into_iter().map(FriendLink::try_from).collect()
    }

    async fn remove_link(&self, owner: &UserId, other: &UserId) -> Result<(), StoreError> {
        self.collection::<LinkDoc>(LINKS).delete_one(doc! { "_id": key(owner, other) }).await.map_err(classify)?;
        Ok(())
    }
}
