use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};
use wire::model::{ConversationId, FileId, Millis, UserId};

use super::{BlobRecord, FileRecord, FileRepo};
use crate::store::{
    embedded::{internal, placeholders, query_all, write_error, write_transaction, Cached, EmbeddedStore},
    StoreError,
};

const BLOB_COLUMNS: &str = "b.sha256, b.size, b.mime, b.width, b.height, b.thumbnail, b.created_ms";

fn blob_from(row: &Row<'_>, at: usize) -> rusqlite::Result<BlobRecord> {
    Ok(BlobRecord {
        sha256: row.get(at)?,
        size: row.get::<_, i64>(at + 1)? as u64,
        mime: row.get(at + 2)?,
        width: row.get(at + 3)?,
        height: row.get(at + 4)?,
        thumbnail: row.get(at + 5)?,
        created_ms: row.get(at + 6)?,
    })
}

fn insert_blob(c: &rusqlite::Connection, b: &BlobRecord) -> Result<(), StoreError> {
    c.cached_execute(
        "INSERT INTO blobs (sha256, size, mime, width, height, thumbnail, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (sha256) DO NOTHING",
        params![b.sha256, b.size as i64, b.mime, b.width, b.height, b.thumbnail, b.created_ms],
    )
    .map(drop)
    .map_err(internal)
}

/// A file and its blob, selected as `f.id, f.owner, f.name, f.created_ms, {BLOB_COLUMNS}`.
fn file_from(r: &Row<'_>) -> rusqlite::Result<FileRecord> {
    Ok(FileRecord { id: FileId(r.get(0)?), owner: UserId(r.get(1)?), name: r.get(2)?, created_ms: r.get(3)?, blob: blob_from(r, 4)? })
}

#[async_trait]
impl FileRepo for EmbeddedStore {
    async fn insert_blob(&self, blob: &BlobRecord) -> Result<(), StoreError> {
        let b = blob.clone();
        self.call(move |c| insert_blob(c, &b)).await
    }

    async fn blob(&self, sha256: &str) -> Result<Option<BlobRecord>, StoreError> {
        let sha256 = sha256.to_owned();
        self.call(move |c| {
            let sql = format!("SELECT {BLOB_COLUMNS} FROM blobs b WHERE b.sha256 = ?1");
            c.cached_row(&sql, [sha256], |r| blob_from(r, 0))
                .optional()
                .map_err(internal)
        })
        .await
    }

    async fn insert_file(&self, file: &FileRecord) -> Result<(), StoreError> {
        let f = file.clone();
        self.call(move |c| {
            let tx = write_transaction(c)?;
            insert_blob(&tx, &f.blob)?;
            tx.cached_execute(
                "INSERT INTO files (id, owner, sha256, name, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![f.id.0, f.owner.0, f.blob.sha256, f.name, f.created_ms],
            )
            .map_err(|e| write_error(e, "a file with this id"))?;
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn file(&self, id: &FileId) -> Result<Option<FileRecord>, StoreError> {
        let id = id.0.clone();
        self.call(move |c| {
            c.cached_row(&format!("SELECT f.id, f.owner, f.name, f.created_ms, {BLOB_COLUMNS} FROM files f JOIN blobs b ON b.sha256 = f.sha256 WHERE f.id = ?1"), [id], file_from)
                .optional()
                .map_err(internal)
        })
        .await
    }

    async fn files_of_blob(&self, sha256: &str, limit: u32) -> Result<Vec<FileRecord>, StoreError> {
        let sha256 = sha256.to_owned();
        self.call(move |c| {
            let sql = format!(
                "SELECT f.id, f.owner, f.name, f.created_ms, {BLOB_COLUMNS}
                 FROM files f JOIN blobs b ON b.sha256 = f.sha256 WHERE f.sha256 = ?1 LIMIT ?2"
            );
            query_all(c, &sql, params![sha256, limit], file_from)
        })
        .await
    }

    async fn record_posting(&self, file: &FileId, conversation: &ConversationId) -> Result<bool, StoreError> {
        let (file, conversation) = (file.0.clone(), conversation.0.clone());
        self.call(move |c| {
            let tx = write_transaction(c)?;
            let exists: bool =
                tx.cached_row("SELECT EXISTS (SELECT 1 FROM files WHERE id = ?1)", [&file], |r| r.get(0))
                    .map_err(internal)?;
            if exists {
                tx.cached_execute(
                    "INSERT INTO file_postings (file_id, conversation_id) VALUES (?1, ?2)
                     ON CONFLICT (file_id, conversation_id) DO NOTHING",
                    params![file, conversation],
                )
                .map_err(internal)?;
            }
            tx.commit().map_err(internal)?;
            Ok(exists)
        })
        .await
    }

    async fn delete_file(&self, id: &FileId) -> Result<(), StoreError> {
        let id = id.0.clone();
        self.call(move |c| {
            let tx = write_transaction(c)?;
            tx.cached_execute("DELETE FROM file_postings WHERE file_id = ?1", [&id]).map_err(internal)?;
            tx.cached_execute("DELETE FROM files WHERE id = ?1", [&id]).map_err(internal)?;
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn postings(&self, file: &FileId) -> Result<Vec<ConversationId>, StoreError> {
        let file = file.0.clone();
        self.call(move |c| {
            query_all(c, "SELECT conversation_id FROM file_postings WHERE file_id = ?1", [file], |r| {
                Ok(ConversationId(r.get(0)?))
            })
        })
        .await
    }

    async fn bytes_used_by(&self, owner: &UserId) -> Result<u64, StoreError> {
        let owner = owner.0.clone();
        self.call(move |c| {
            c.cached_row(
                "SELECT COALESCE(SUM(b.size), 0) FROM files f JOIN blobs b ON b.sha256 = f.sha256 WHERE f.owner = ?1",
                [owner],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(internal)
        })
        .await
    }

    async fn unposted_files(&self, before_ms: Millis, limit: u32) -> Result<Vec<FileId>, StoreError> {
        self.call(move |c| {
            query_all(
                c,
                "SELECT id FROM files f WHERE f.created_ms < ?1
                 AND NOT EXISTS (SELECT 1 FROM file_postings p WHERE p.file_id = f.id) LIMIT ?2",
                params![before_ms, limit],
                |r| Ok(FileId(r.get(0)?)),
            )
        })
        .await
    }

    async fn delete_unposted_files(&self, ids: &[FileId]) -> Result<u64, StoreError> {
        let ids: Vec<String> = ids.iter().map(|id| id.0.clone()).collect();
        self.call(move |c| {
            let mut deleted = 0;
            for chunk in ids.chunks(500) {
                let sql = format!(
                    "DELETE FROM files WHERE id IN ({})
                     AND NOT EXISTS (SELECT 1 FROM file_postings p WHERE p.file_id = files.id)",
                    placeholders(chunk.len())
                );
                deleted += c.cached_execute(&sql, rusqlite::params_from_iter(chunk)).map_err(internal)? as u64;
            }
            Ok(deleted)
        })
        .await
    }

    async fn referenced_blobs(&self, sha256s: &[String]) -> Result<Vec<String>, StoreError> {
        let sha256s = sha256s.to_vec();
        self.call(move |c| {
            let mut found = Vec::new();
            // SQLite takes at most 999 parameters in older builds.
            for chunk in sha256s.chunks(500) {
                let sql = format!("SELECT DISTINCT sha256 FROM files WHERE sha256 IN ({})", placeholders(chunk.len()));
                found.extend(query_all(c, &sql, rusqlite::params_from_iter(chunk), |r| r.get(0))?);
            }
            Ok(found)
        })
        .await
    }

    async fn delete_unreferenced_blobs(&self, sha256s: &[String]) -> Result<Vec<String>, StoreError> {
        let sha256s = sha256s.to_vec();
        self.call(move |c| {
            let tx = write_transaction(c)?;
            let mut gone = Vec::new();
            for sha256 in sha256s {
                let referenced: bool = tx
                    .cached_row("SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = ?1)", [&sha256], |r| r.get(0))
                    .map_err(internal)?;
                if !referenced {
                    tx.cached_execute("DELETE FROM blobs WHERE sha256 = ?1", [&sha256]).map_err(internal)?;
                    gone.push(sha256);
                }
            }
            tx.commit().map_err(internal)?;
            Ok(gone)
        })
        .await
    }
}
