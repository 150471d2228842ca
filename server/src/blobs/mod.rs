//! Where the bytes of uploads and avatars are kept: named, immutable items
//! behind one trait, [`Blobs`], with two backends side by side. The
//! embedded store keeps them under the data dir (`dir.rs`); with MongoDB
//! they live in GridFS (`gridfs.rs`), so every node of a cluster reads what
//! any node stored, with no shared file system. The store picks the backend
//! (`Store::blobs`); what is kept under which name is the callers' business
//! (`files`, `avatar`).
//!
//! Names are relative paths of safe components (`ab/cd/<sha256>`,
//! `<user>/<version>/128.webp`). Reads are by byte range and stream, so a
//! download or a seek in a video never holds the whole item in memory.

pub mod dir;
pub mod gridfs;

use std::{io, path::Path, sync::Arc, time::SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{stream::BoxStream, TryStreamExt};

/// Bytes as they arrive from a backend.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

pub type DynBlobs = Arc<dyn Blobs>;

/// What a part of the server keeps: each is a directory under the data
/// dir, or a GridFS bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Area {
    /// Uploaded files, their thumbnails and metadata-free copies.
    Files,
    /// Avatar images.
    Avatars,
}

impl Area {
    /// The directory under the data dir.
    pub fn dir(self) -> &'static str {
        match self {
            Area::Files => "files",
            Area::Avatars => "avatars",
        }
    }

    /// The GridFS bucket (collections `<bucket>.files` and `<bucket>.chunks`);
    /// not `files`, which would sit confusingly beside the store's `files`.
    pub fn bucket(self) -> &'static str {
        match self {
            Area::Files => "uploads",
            Area::Avatars => "avatars",
        }
    }
}

/// One stored item, listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub len: u64,
    /// When it was stored (a rename keeps it).
    pub written: SystemTime,
}

/// One stored item, found: its length, and its bytes by range.
pub trait Stored: Send + Sync {
    fn len(&self) -> u64;

    /// Bytes `[start, end)`, `end` at most [`Stored::len`], streamed.
    fn read(&self, start: u64, end: u64) -> ByteStream;
}

#[async_trait]
pub trait Blobs: Send + Sync + 'static {
    /// `"data dir"` or `"gridfs"`, for logs.
    fn kind(&self) -> &'static str;

    /// Stores the bytes of the local file `from` as `name`, replacing an item
    /// of that name. `from` may be moved away; what is left of it is the
    /// caller's to remove.
    async fn put_file(&self, name: &str, from: &Path) -> io::Result<()>;

    /// Stores `bytes` as `name`, replacing an item of that name. Readers see
    /// the old item or the new one, never part of one.
    async fn put(&self, name: &str, bytes: &[u8]) -> io::Result<()>;

    /// The item `name`, if there is one.
    async fn open(&self, name: &str) -> io::Result<Option<Box<dyn Stored>>>;

    /// Every item whose name starts with `prefix` (all for `""`), in no particular order.
    async fn list(&self, prefix: &str) -> io::Result<Vec<Entry>>;

    /// Renames an item; `false` when there is none named `from`.
    async fn rename(&self, from: &str, to: &str) -> io::Result<bool>;

    /// Removes the item `name`; none is fine.
    async fn remove(&self, name: &str) -> io::Result<()>;

    /// Removes every item whose name starts with `prefix`, which ends in `/`.
    async fn remove_all(&self, prefix: &str) -> io::Result<()>;
}

/// The whole of a small item (an avatar, an image to decode).
pub async fn read_all(stored: &dyn Stored) -> io::Result<Vec<u8>> {
    collect(stored.read(0, stored.len())).await
}

/// A streamed range, into memory.
pub async fn collect(mut chunks: ByteStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = chunks.try_next().await? {
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Whether `name` is a relative path of components `[A-Za-z0-9._-]`, none
/// of them empty or dots only: what a backend stores, never a way out of it.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 512
        && name.split('/').all(|part| {
            !part.is_empty()
                && part.bytes().any(|b| b != b'.')
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

fn unsafe_name(name: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("not a blob name: {name:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_inside() {
        for good in ["ab/cd/0f", "u1/0123/128.webp", "swept/x.thumb.webp.0190"] {
            assert!(is_safe_name(good), "{good}");
        }
        for bad in ["", "/a", "a/", "a//b", "../a", "a/../b", "a/./b", "a b", "a\\b", "..", "ü"] {
            assert!(!is_safe_name(bad), "{bad}");
        }
    }
}
