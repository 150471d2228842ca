//! Items in a GridFS bucket of the MongoDB database, so every node of a
//! cluster serves what any node stored. An item is a document of
//! `<bucket>.files` (its name as `filename`) and its bytes in 255 KiB
//! documents of `<bucket>.chunks`, numbered by `n`.
//!
//! Writes go through the driver's upload stream, a chunk at a time. Reads
//! do not use its download stream, which starts at the first byte: a range
//! asks `<bucket>.chunks` for the chunks `n` it covers, in one cursor
//! fetched a few chunks per round trip as the client takes them, so seeking
//! in a long video reads only what is sent and a node holds about a MiB of a
//! download at once.
//!
//! GridFS allows several items of one name (revisions); a put removes the
//! older ones once the new one is complete, and reads take the newest.

use std::{io, path::Path, time::SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::{io::AsyncWriteExt, stream, StreamExt, TryStreamExt};
use mongodb::{
    bson::{doc, spec::BinarySubtype, Bson, Document, Regex},
    gridfs::{FilesCollectionDocument, GridFsBucket},
    options::GridFsBucketOptions,
    Collection, Cursor, Database,
};
use tokio::io::AsyncReadExt;

use super::{is_safe_name, unsafe_name, Blobs, ByteStream, Entry, Stored};

/// Chunks the driver fetches per round trip while reading: about 1 MiB.
const CHUNKS_PER_BATCH: u32 = 4;

#[derive(Clone, Debug)]
pub struct GridFsBlobs {
    bucket: GridFsBucket,
    files: Collection<FilesCollectionDocument>,
    chunks: Collection<Document>,
}

impl GridFsBlobs {
    pub fn new(db: &Database, bucket: &str) -> GridFsBlobs {
        let options = GridFsBucketOptions::builder().bucket_name(bucket.to_owned()).build();
        GridFsBlobs {
            bucket: db.gridfs_bucket(options),
            files: db.collection(&format!("{bucket}.files")),
            chunks: db.collection(&format!("{bucket}.chunks")),
        }
    }

    /// The newest item named `name`.
    async fn newest(&self, name: &str) -> io::Result<Option<FilesCollectionDocument>> {
        if !is_safe_name(name) {
            return Err(unsafe_name(name));
        }
        self.files.find_one(doc! { "filename": name }).sort(doc! { "uploadDate": -1 }).await.map_err(io_error)
    }

    /// Removes the items named `name` other than `keep`, and their chunks.
    async fn remove_others(&self, name: &str, keep: Option<&Bson>) -> io::Result<()> {
        let filter = match keep {
            Some(id) => doc! { "filename": name, "_id": { "$ne": id.clone() } },
            None => doc! { "filename": name },
        };
        self.remove_where(filter).await
    }

    /// Removes the items `filter` matches: their documents first, so no
    /// reader finds an item whose chunks are going.
    async fn remove_where(&self, filter: Document) -> io::Result<()> {
        let ids: Vec<Bson> = self
            .files
            .clone_with_type::<Document>()
            .find(filter)
            .projection(doc! { "_id": 1 })
            .await
            .map_err(io_error)?
            .map_ok(|mut d| d.remove("_id").unwrap_or(Bson::Null))
            .try_collect()
            .await
            .map_err(io_error)?;
        if ids.is_empty() {
            return Ok(());
        }
        self.files.delete_many(doc! { "_id": { "$in": ids.clone() } }).await.map_err(io_error)?;
        self.chunks.delete_many(doc! { "files_id": { "$in": ids } }).await.map_err(io_error)?;
        Ok(())
    }
}

struct GridFsStored {
    chunks: Collection<Document>,
    id: Bson,
    len: u64,
    chunk_size: u64,
}

impl Stored for GridFsStored {
    fn len(&self) -> u64 {
        self.len
    }

    fn read(&self, start: u64, end: u64) -> ByteStream {
        let end = end.min(self.len);
        if start >= end {
            return stream::empty().boxed();
        }
        let reader = ChunkReader {
            chunks: self.chunks.clone(),
            id: self.id.clone(),
            chunk_size: self.chunk_size,
            next: start / self.chunk_size,
            last: (end - 1) / self.chunk_size,
            start,
            end,
            cursor: None,
        };
        stream::try_unfold(reader, |mut reader| async move {
            if reader.next > reader.last {
                return Ok::<_, io::Error>(None);
            }
            let chunk = reader.chunk().await?;
            Ok(Some((chunk, reader)))
        })
        .boxed()
    }
}

/// Where a range read stands: the chunks `next..=last` are still to come,
/// from one cursor over them that the driver fills [`CHUNKS_PER_BATCH`] at a
/// time, as the reader asks.
struct ChunkReader {
    chunks: Collection<Document>,
    id: Bson,
    chunk_size: u64,
    next: u64,
    last: u64,
    /// The range, in bytes of the item.
    start: u64,
    end: u64,
    cursor: Option<Cursor<Document>>,
}

/// A cursor over the chunks `first..=last` of the item `id`. (Not a method
/// of [`ChunkReader`]: a cursor is not `Sync`, so no future may hold `&ChunkReader`.)
async fn chunks(chunks: &Collection<Document>, id: &Bson, first: u64, last: u64) -> io::Result<Cursor<Document>> {
    let filter = doc! { "files_id": id.clone(), "n": { "$gte": first as i32, "$lte": last as i32 } };
    chunks.find(filter).sort(doc! { "n": 1 }).batch_size(CHUNKS_PER_BATCH).await.map_err(io_error)
}

impl ChunkReader {
    /// The next chunk, cut to the range. A cursor that fails (the server
    /// dropped it after a client paused for minutes, a fail-over) is opened
    /// again at the chunk it stopped at, once.
    async fn chunk(&mut self) -> io::Result<Bytes> {
        let mut reopened = false;
        let doc = loop {
            let cursor = match &mut self.cursor {
                Some(cursor) => cursor,
                None => self.cursor.insert(chunks(&self.chunks, &self.id, self.next, self.last).await?),
            };
            match cursor.try_next().await {
                Ok(Some(doc)) => break doc,
                Ok(None) => return Err(self.missing()),
                Err(e) if reopened => return Err(io_error(e)),
                Err(_) => (self.cursor, reopened) = (None, true),
            }
        };
        let n = match doc.get("n") {
            Some(Bson::Int32(n)) => u64::try_from(*n).ok(),
            Some(Bson::Int64(n)) => u64::try_from(*n).ok(),
            _ => None,
        };
        if n != Some(self.next) {
            return Err(self.missing());
        }
        let data = match doc.get("data") {
            Some(Bson::Binary(binary)) if binary.subtype == BinarySubtype::Generic => &binary.bytes,
            _ => return Err(io::Error::other(format!("GridFS chunk {} of {:?} has no data", self.next, self.id))),
        };
        let offset = self.next * self.chunk_size;
        let from = self.start.saturating_sub(offset).min(data.len() as u64) as usize;
        let to = (self.end - offset).min(data.len() as u64) as usize;
        self.next += 1;
        Ok(Bytes::copy_from_slice(&data[from..to.max(from)]))
    }

    fn missing(&self) -> io::Error {
        io::Error::other(format!("GridFS chunk {} of {:?} is missing", self.next, self.id))
    }
}

#[async_trait]
impl Blobs for GridFsBlobs {
    fn kind(&self) -> &'static str {
        "gridfs"
    }

    async fn put_file(&self, name: &str, from: &Path) -> io::Result<()> {
        if !is_safe_name(name) {
            return Err(unsafe_name(name));
        }
        let mut file = tokio::fs::File::open(from).await?;
        let mut upload = self.bucket.open_upload_stream(name).await.map_err(io_error)?;
        let mut buf = vec![0; 255 * 1024];
        let copied = async {
            loop {
                let n = file.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                upload.write_all(&buf[..n]).await?;
            }
            upload.close().await
        }
        .await;
        if let Err(e) = copied {
            let _ = upload.abort().await;
            return Err(e);
        }
        self.remove_others(name, Some(upload.id())).await
    }

    async fn put(&self, name: &str, bytes: &[u8]) -> io::Result<()> {
        if !is_safe_name(name) {
            return Err(unsafe_name(name));
        }
        let mut upload = self.bucket.open_upload_stream(name).await.map_err(io_error)?;
        if let Err(e) = async { upload.write_all(bytes).await?; upload.close().await }.await {
            let _ = upload.abort().await;
            return Err(e);
        }
        self.remove_others(name, Some(upload.id())).await
    }

    async fn open(&self, name: &str) -> io::Result<Option<Box<dyn Stored>>> {
        Ok(self.newest(name).await?.map(|file| {
            Box::new(GridFsStored {
                chunks: self.chunks.clone(),
                id: file.id,
                len: file.length,
                chunk_size: u64::from(file.chunk_size_bytes.max(1)),
            }) as Box<dyn Stored>
        }))
    }

    async fn list(&self, prefix: &str) -> io::Result<Vec<Entry>> {
        let filter = match prefix {
            "" => doc! {},
            _ => named_from(prefix),
        };
        let files: Vec<FilesCollectionDocument> =
            self.files.find(filter).await.map_err(io_error)?.try_collect().await.map_err(io_error)?;
        Ok(files
            .into_iter()
            .filter_map(|file| {
                let name = file.filename?;
                let written = file.upload_date.to_system_time();
                Some(Entry { name, len: file.length, written: written.max(SystemTime::UNIX_EPOCH) })
            })
            .collect())
    }

    async fn rename(&self, from: &str, to: &str) -> io::Result<bool> {
        if !is_safe_name(from) || !is_safe_name(to) {
            return Err(unsafe_name(to));
        }
        let renamed = self.files.update_many(doc! { "filename": from }, doc! { "$set": { "filename": to } }).await;
        Ok(renamed.map_err(io_error)?.matched_count > 0)
    }

    async fn remove(&self, name: &str) -> io::Result<()> {
        if !is_safe_name(name) {
            return Err(unsafe_name(name));
        }
        self.remove_others(name, None).await
    }

    async fn remove_all(&self, prefix: &str) -> io::Result<()> {
        if !prefix.ends_with('/') || !is_safe_name(prefix.trim_end_matches('/')) {
            return Err(unsafe_name(prefix));
        }
        self.remove_where(named_from(prefix)).await
    }
}

/// The filter of items whose name starts with `prefix`: an anchored
/// expression, which an index on `filename` serves. Names hold
/// `[A-Za-z0-9._/-]` only: `.` is the one to escape.
fn named_from(prefix: &str) -> Document {
    let pattern = format!("^{}", prefix.replace('.', "\\."));
    doc! { "filename": Regex { pattern, options: String::new() } }
}

/// Driver errors as I/O errors: to the callers a database is one more disk.
fn io_error(e: mongodb::error::Error) -> io::Error {
    io::Error::other(e.to_string().lines().next().unwrap_or_default().to_owned())
}
