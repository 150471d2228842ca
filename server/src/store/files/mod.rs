//! Uploaded files: their contents ("blobs", one per distinct SHA-256, kept
//! on disk by `crate::files`), each user's uploads of them, and the
//! conversations each upload was posted in, which decide who may read it.

mod embedded;
mod mongodb;

use async_trait::async_trait;
use wire::{
    api::FileInfo,
    model::{ConversationId, FileId, Millis, UserId},
};

use super::StoreError;

/// One distinct content, whoever uploaded it. Serialised only into an
/// instant upload's challenge kept in Redis.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BlobRecord {
    /// Hex SHA-256 of the bytes; also names the file on disk.
    pub sha256: String,
    pub size: u64,
    /// Sniffed from the bytes.
    pub mime: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Whether a thumbnail and a metadata-free copy were made (decodable images).
    pub thumbnail: bool,
    pub created_ms: Millis,
}

/// One upload by one user: a name for a blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRecord {
    pub id: FileId,
    pub owner: UserId,
    pub name: String,
    pub blob: BlobRecord,
    pub created_ms: Millis,
}

impl FileRecord {
    pub fn info(&self) -> FileInfo {
        FileInfo {
            id: self.id.clone(),
            name: self.name.clone(),
            mime: self.blob.mime.clone(),
            size: self.blob.size,
            sha256: self.blob.sha256.clone(),
            width: self.blob.width,
            height: self.blob.height,
            thumbnail: self.blob.thumbnail,
            created_ms: self.created_ms,
        }
    }
}

#[async_trait]
pub trait FileRepo {
    /// Records a blob; when one with this hash exists already, keeps that one.
    async fn insert_blob(&self, blob: &BlobRecord) -> Result<(), StoreError>;

    async fn blob(&self, sha256: &str) -> Result<Option<BlobRecord>, StoreError>;

    /// Records an upload, and its blob unless one with this hash is recorded
    /// (so a sweep removing the blob in between cannot strand the file).
    async fn insert_file(&self, file: &FileRecord) -> Result<(), StoreError>;

    async fn file(&self, id: &FileId) -> Result<Option<FileRecord>, StoreError>;

    /// Uploads of the content `sha256`, at most `limit`, in no particular order.
    async fn files_of_blob(&self, sha256: &str, limit: u32) -> Result<Vec<FileRecord>, StoreError>;

    /// Records that the file was posted in the conversation; idempotent.
    /// `false` when there is no such file (a sweep removed it): nothing recorded.
    async fn record_posting(&self, file: &FileId, conversation: &ConversationId) -> Result<bool, StoreError>;

    /// Deletes the upload and its postings (its blob stays; see
    /// `crate::files::release`). Its size no longer counts for its owner.
    async fn delete_file(&self, id: &FileId) -> Result<(), StoreError>;

    /// The conversations the file was posted in, in no particular order.
    async fn postings(&self, file: &FileId) -> Result<Vec<ConversationId>, StoreError>;

    /// The bytes `owner`'s files take: each file counts its content in full,
    /// even content other files share.
    async fn bytes_used_by(&self, owner: &UserId) -> Result<u64, StoreError>;

    /// At most `limit` files created before `before_ms` and never posted.
    async fn unposted_files(&self, before_ms: Millis, limit: u32) -> Result<Vec<FileId>, StoreError>;

    /// Deletes those of the files that were never posted; how many. Against a
    /// racing [`FileRepo::record_posting`] of one, exactly one of the two wins.
    async fn delete_unposted_files(&self, ids: &[FileId]) -> Result<u64, StoreError>;

    /// Those of `sha256s` that some file's content is, in no particular order.
    async fn referenced_blobs(&self, sha256s: &[String]) -> Result<Vec<String>, StoreError>;

    /// Deletes the records of those blobs no file refers to, and answers
    /// them (whether they had a record or not); the others keep theirs.
    async fn delete_unreferenced_blobs(&self, sha256s: &[String]) -> Result<Vec<String>, StoreError>;
}
