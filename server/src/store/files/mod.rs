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

/// One distinct content, whoever uploaded it.
#[derive(Clone, Debug, PartialEq, Eq)]
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

    /// Records an upload. Its blob must be recorded first.
    async fn insert_file(&self, file: &FileRecord) -> Result<(), StoreError>;

    async fn file(&self, id: &FileId) -> Result<Option<FileRecord>, StoreError>;

    /// Records that the file was posted in the conversation; idempotent.
    async fn record_posting(&self, file: &FileId, conversation: &ConversationId) -> Result<(), StoreError>;

    /// The conversations the file was posted in, in no particular order.
    async fn postings(&self, file: &FileId) -> Result<Vec<ConversationId>, StoreError>;
}
