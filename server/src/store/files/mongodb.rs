use async_trait::async_trait;
use mongodb::bson::doc;
use serde::{Deserialize, Serialize};
use wire::model::{ConversationId, FileId, UserId};

use super::{BlobRecord, FileRecord, FileRepo};
use crate::store::{
    mongodb::{classify, is_duplicate_key, MongoStore},
    StoreError,
};

const BLOBS: &str = "blobs";
const FILES: &str = "files";

/// A blob, keyed by its hash.
#[derive(Clone, Serialize, Deserialize)]
struct BlobDoc {
    #[serde(rename = "_id")]
    sha256: String,
    size: i64,
    mime: String,
    width: Option<u32>,
    height: Option<u32>,
    thumbnail: bool,
    created_ms: i64,
}

/// An upload with a copy of its blob's facts (they never change), so that
/// serving it is one `_id` lookup; `conversations` lists where it was posted.
#[derive(Serialize, Deserialize)]
struct FileDoc {
    #[serde(rename = "_id")]
    id: String,
    owner: String,
    name: String,
    created_ms: i64,
    blob: BlobDoc,
    #[serde(default)]
    conversations: Vec<String>,
}

impl From<&BlobRecord> for BlobDoc {
    fn from(b: &BlobRecord) -> Self {
        BlobDoc {
            sha256: b.sha256.clone(),
            size: b.size as i64,
            mime: b.mime.clone(),
            width: b.width,
            height: b.height,
            thumbnail: b.thumbnail,
            created_ms: b.created_ms,
        }
    }
}

impl From<BlobDoc> for BlobRecord {
    fn from(d: BlobDoc) -> Self {
        BlobRecord {
            sha256: d.sha256,
            size: d.size as u64,
            mime: d.mime,
            width: d.width,
            height: d.height,
            thumbnail: d.thumbnail,
            created_ms: d.created_ms,
        }
    }
}

#[async_trait]
impl FileRepo for MongoStore {
    async fn insert_blob(&self, blob: &BlobRecord) -> Result<(), StoreError> {
        match self.collection::<BlobDoc>(BLOBS).insert_one(BlobDoc::from(blob)).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Ok(()),
            Err(e) => Err(classify(e)),
        }
    }

    async fn blob(&self, sha256: &str) -> Result<Option<BlobRecord>, StoreError> {
        let found = self.collection::<BlobDoc>(BLOBS).find_one(doc! { "_id": sha256 }).await.map_err(classify)?;
        Ok(found.map(BlobRecord::from))
    }

    async fn insert_file(&self, file: &FileRecord) -> Result<(), StoreError> {
        let doc = FileDoc {
            id: file.id.0.clone(),
            owner: file.owner.0.clone(),
            name: file.name.clone(),
            created_ms: file.created_ms,
            blob: BlobDoc::from(&file.blob),
            conversations: Vec::new(),
        };
        self.collection::<FileDoc>(FILES).insert_one(doc).await.map(drop).map_err(classify)
    }

    async fn file(&self, id: &FileId) -> Result<Option<FileRecord>, StoreError> {
        let found = self.collection::<FileDoc>(FILES).find_one(doc! { "_id": &id.0 }).await.map_err(classify)?;
        Ok(found.map(|d| FileRecord {
            id: FileId(d.id),
            owner: UserId(d.owner),
            name: d.name,
            created_ms: d.created_ms,
            blob: d.blob.into(),
        }))
    }

    async fn record_posting(&self, file: &FileId, conversation: &ConversationId) -> Result<(), StoreError> {
        self.collection::<FileDoc>(FILES)
            .update_one(doc! { "_id": &file.0 }, doc! { "$addToSet": { "conversations": &conversation.0 } })
            .await
            .map(drop)
            .map_err(classify)
    }

    async fn postings(&self, file: &FileId) -> Result<Vec<ConversationId>, StoreError> {
        let found = self.collection::<FileDoc>(FILES).find_one(doc! { "_id": &file.0 }).await.map_err(classify)?;
        Ok(found.map(|d| d.conversations.into_iter().map(ConversationId).collect()).unwrap_or_default())
    }
}
