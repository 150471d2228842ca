use std::collections::HashSet;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use serde::{Deserialize, Serialize};
use wire::model::{ConversationId, FileId, Millis, UserId};

use super::{BlobRecord, FileRecord, FileRepo};
use crate::store::{
    mongodb::{classify, is_duplicate_key, MongoStore},
    StoreError,
};

const BLOBS: &str = "blobs";
const FILES: &str = "files";
/// Whether each file was posted or swept, `{_id: file id, fate}`: see [`MongoStore::fate`].
const FATES: &str = "file_fates";
const POSTED: &str = "posted";
const SWEPT: &str = "swept";

/// Matches files never posted. (An empty-array test the way FerretDB gets right.)
fn unposted() -> Document {
    doc! { "conversations.0": { "$exists": false } }
}

/// The part of a file document [`FileRepo::bytes_used_by`] reads.
#[derive(Deserialize)]
struct SizeDoc {
    blob: SizeOnly,
}

#[derive(Deserialize)]
struct SizeOnly {
    size: i64,
}

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

impl From<FileDoc> for FileRecord {
    fn from(d: FileDoc) -> Self {
        FileRecord { id: FileId(d.id), owner: UserId(d.owner), name: d.name, created_ms: d.created_ms, blob: d.blob.into() }
    }
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
        self.insert_blob(&file.blob).await?;
        match self.collection::<FileDoc>(FILES).insert_one(doc).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Err(StoreError::Conflict("a file with this id".into())),
            Err(e) => Err(classify(e)),
        }
    }

    async fn file(&self, id: &FileId) -> Result<Option<FileRecord>, StoreError> {
        let found = self.collection::<FileDoc>(FILES).find_one(doc! { "_id": &id.0 }).await.map_err(classify)?;
        Ok(found.map(FileRecord::from))
    }

    async fn files_of_blob(&self, sha256: &str, limit: u32) -> Result<Vec<FileRecord>, StoreError> {
        let cursor =
            self.collection::<FileDoc>(FILES).find(doc! { "blob._id": sha256 }).limit(i64::from(limit)).await.map_err(classify)?;
        let docs: Vec<FileDoc> = cursor.try_collect().await.map_err(classify)?;
        Ok(docs.into_iter().map(FileRecord::from).collect())
    }

    async fn record_posting(&self, file: &FileId, conversation: &ConversationId) -> Result<bool, StoreError> {
        if self.fate(&file.0, POSTED).await? != POSTED {
            return Ok(false);
        }
        self.collection::<FileDoc>(FILES)
            .update_one(doc! { "_id": &file.0 }, doc! { "$addToSet": { "conversations": &conversation.0 } })
            .await
            .map(|r| r.matched_count == 1)
            .map_err(classify)
    }

    async fn delete_file(&self, id: &FileId) -> Result<(), StoreError> {
        self.collection::<Document>(FILES).delete_one(doc! { "_id": &id.0 }).await.map_err(classify)?;
        // Its fate stays "posted": a late posting finds no file, as after a sweep.
        Ok(())
    }

    async fn postings(&self, file: &FileId) -> Result<Vec<ConversationId>, StoreError> {
        let found = self.collection::<FileDoc>(FILES).find_one(doc! { "_id": &file.0 }).await.map_err(classify)?;
        Ok(found.map(|d| d.conversations.into_iter().map(ConversationId).collect()).unwrap_or_default())
    }

    async fn bytes_used_by(&self, owner: &UserId) -> Result<u64, StoreError> {
        // Summed here, not by `$group` (FerretDB 1.x sums only constants).
        let sizes: Vec<SizeDoc> = self
            .collection::<SizeDoc>(FILES)
            .find(doc! { "owner": &owner.0 })
            .projection(doc! { "blob.size": 1 })
            .await
            .map_err(classify)?
            .try_collect()
            .await
            .map_err(classify)?;
        Ok(sizes.iter().map(|d| d.blob.size.max(0) as u64).sum())
    }

    async fn unposted_files(&self, before_ms: Millis, limit: u32) -> Result<Vec<FileId>, StoreError> {
        let mut filter = unposted();
        filter.insert("created_ms", doc! { "$lt": before_ms });
        let found: Vec<Document> = self
            .collection::<Document>(FILES)
            .find(filter)
            .projection(doc! { "_id": 1 })
            .limit(i64::from(limit))
            .await
            .map_err(classify)?
            .try_collect()
            .await
            .map_err(classify)?;
        Ok(found.iter().filter_map(|d| d.get_str("_id").ok()).map(|id| FileId(id.to_owned())).collect())
    }

    async fn delete_unposted_files(&self, ids: &[FileId]) -> Result<u64, StoreError> {
        let mut doomed = Vec::new();
        for id in ids {
            if self.fate(&id.0, SWEPT).await? == SWEPT {
                doomed.push(id.0.as_str());
            }
        }
        let mut deleted = 0;
        for chunk in doomed.chunks(500) {
            let mut filter = unposted();
            filter.insert("_id", doc! { "$in": chunk });
            deleted += self.collection::<Document>(FILES).delete_many(filter).await.map_err(classify)?.deleted_count;
            // Once the file is gone a late posting finds no file: the fate has done its work.
            self.collection::<Document>(FATES).delete_many(doc! { "_id": { "$in": chunk } }).await.map_err(classify)?;
        }
        Ok(deleted)
    }

    async fn referenced_blobs(&self, sha256s: &[String]) -> Result<Vec<String>, StoreError> {
        let mut found = Vec::new();
        for chunk in sha256s.chunks(500) {
            let values = self
                .collection::<Document>(FILES)
                .distinct("blob._id", doc! { "blob._id": { "$in": chunk } })
                .await
                .map_err(classify)?;
            found.extend(values.into_iter().filter_map(|v| v.as_str().map(str::to_owned)));
        }
        Ok(found)
    }

    async fn delete_unreferenced_blobs(&self, sha256s: &[String]) -> Result<Vec<String>, StoreError> {
        // No transaction spans the two collections: look, delete, look again,
        // and put back the records of blobs a file came to refer to meanwhile.
        let blobs = self.collection::<BlobDoc>(BLOBS);
        let mut gone = Vec::new();
        for chunk in sha256s.chunks(500) {
            let referenced: HashSet<String> = self.referenced_blobs(chunk).await?.into_iter().collect();
            let candidates: Vec<String> = chunk.iter().filter(|s| !referenced.contains(*s)).cloned().collect();
            if candidates.is_empty() {
                continue;
            }
            let these = doc! { "_id": { "$in": &candidates } };
            let records: Vec<BlobDoc> =
                blobs.find(these.clone()).await.map_err(classify)?.try_collect().await.map_err(classify)?;
            blobs.delete_many(these).await.map_err(classify)?;
            let referenced: HashSet<String> = self.referenced_blobs(&candidates).await?.into_iter().collect();
            for record in records.into_iter().filter(|r| referenced.contains(&r.sha256)) {
                self.insert_blob(&record.into()).await?;
            }
            gone.extend(candidates.into_iter().filter(|s| !referenced.contains(s)));
        }
        Ok(gone)
    }
}

impl MongoStore {
    /// Decides once whether a file is posted or swept: the first to insert its
    /// fate under the file's id wins, and the other reads it. (FerretDB does
    /// not test a condition and delete in one step against a racing update,
    /// which a unique key it does arbitrate.) Answers the fate.
    async fn fate(&self, file: &str, wanted: &str) -> Result<String, StoreError> {
        let fates = self.collection::<Document>(FATES);
        match fates.insert_one(doc! { "_id": file, "fate": wanted }).await {
            Ok(_) => Ok(wanted.to_owned()),
            Err(e) if is_duplicate_key(&e) => {
                let found = fates.find_one(doc! { "_id": file }).await.map_err(classify)?;
                // Gone meanwhile: a sweep finished with the file, which a posting then does not find.
                Ok(found.and_then(|d| d.get_str("fate").ok().map(str::to_owned)).unwrap_or_else(|| wanted.to_owned()))
            }
            Err(e) => Err(classify(e)),
        }
    }
}
