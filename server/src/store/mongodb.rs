//! The MongoDB store, for production and for clusters of several nodes.
//!
//! Written to the subset of MongoDB that FerretDB 1.24 (the test double) also
//! gets right: no transactions, no `$inc` races, unique indexes as arbiters.
//! Opening it does no I/O, so the server starts even while MongoDB is down;
//! [`Store::prepare`] creates the indexes once it answers.

use std::time::Duration;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::{
    bson::{doc, Document},
    error::{Error, ErrorKind, WriteFailure},
    options::{ClientOptions, IndexOptions, WriteConcern},
    Client, Collection, Database, IndexModel,
};
use serde::de::DeserializeOwned;
use wire::model::UserId;

use super::{Store, StoreError};
use crate::{
    blobs::{gridfs::GridFsBlobs, Area, DynBlobs},
    text::search_fold::KeyQuery,
};

/// How long an operation waits for a reachable server before failing as unavailable.
const SERVER_WAIT: Duration = Duration::from_secs(3);

/// MongoDB's code for a unique-key violation.
const DUPLICATE_KEY: i32 = 11000;

/// Where the MongoDB store is: `--mongodb-uri` and `--mongodb-db`.
#[derive(Debug, Clone)]
pub struct MongoSettings {
    pub uri: String,
    pub database: String,
}

#[derive(Clone)]
pub struct MongoStore {
    db: Database,
}

impl MongoStore {
    pub async fn open(config: &MongoSettings) -> Result<Self, StoreError> {
        let mut options = ClientOptions::parse(&config.uri).await.map_err(internal)?;
        options.app_name = Some("natter".into());
        options.server_selection_timeout = Some(SERVER_WAIT);
        options.connect_timeout = Some(SERVER_WAIT);
        let client = Client::with_options(options).map_err(internal)?;
        Ok(Self { db: client.database(&config.database) })
    }

    pub(super) fn collection<T: Send + Sync>(&self, name: &str) -> Collection<T> {
        self.db.collection(name)
    }

    /// Up to `skip + limit` documents of `collection` matching `filter`
    /// whose `search_key` holds `query`, skipping `skip`: one find for each
    /// of the query's needles, best first, each in `sort` order, joined
    /// without repeats (`id` names a document). A needle's finds hold every
    /// better match too, so the first `skip + limit` of the join are right.
    pub(super) async fn find_by_key<T: DeserializeOwned + Send + Sync>(
        &self,
        collection: &str,
        filter: Document,
        query: &KeyQuery,
        sort: Document,
        (skip, limit): (u32, u32),
        id: fn(&T) -> &str,
    ) -> Result<Vec<T>, StoreError> {
        let wanted = skip.saturating_add(limit) as usize;
        let (collection, mut found) = (self.collection::<T>(collection), Vec::<T>::new());
        for needle in [&query.exact, &query.prefix, &query.part] {
            let mut filter = filter.clone();
            filter.insert("search_key", doc! { "$regex": regex_escape(needle) });
            let find = collection.find(filter).sort(sort.clone()).limit(wanted as i64);
            let docs: Vec<T> = find.await.map_err(classify)?.try_collect().await.map_err(classify)?;
            for doc in docs {
                if !found.iter().any(|f| id(f) == id(&doc)) {
                    found.push(doc);
                }
            }
            if found.len() >= wanted {
                break;
            }
        }
        Ok(found.into_iter().skip(skip as usize).take(limit as usize).collect())
    }

    /// Which of `users` have a document in `collection` that matches
    /// `filter` and holds their id in `field`; only that field is read.
    pub(super) async fn users_among(
        &self,
        collection: &str,
        field: &str,
        users: &[UserId],
        mut filter: Document,
    ) -> Result<Vec<UserId>, StoreError> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = users.iter().map(|u| u.0.as_str()).collect();
        filter.insert(field, doc! { "$in": ids });
        let mut projection = Document::new();
        projection.insert(field, 1);
        let collection = self.collection::<Document>(collection);
        let find = collection.find(filter).projection(projection);
        let docs: Vec<Document> = find.await.map_err(classify)?.try_collect().await.map_err(classify)?;
        Ok(docs.iter().filter_map(|d| d.get_str(field).ok()).map(UserId::from).collect())
    }

    /// Drops the whole database; tests use it to clean up after themselves.
    pub async fn drop_database(&self) -> Result<(), StoreError> {
        self.db.drop().await.map_err(classify)
    }
}

/// The indexes every collection needs, created by [`Store::prepare`].
fn indexes() -> Vec<(&'static str, IndexModel)> {
    let unique = |keys| {
        IndexModel::builder()
            .keys(keys)
            .options(IndexOptions::builder().unique(true).build())
            .build()
    };
    vec![
        ("users", unique(doc! { "email": 1 })),
        // A search scans the keys of this index rather than the documents.
        ("users", IndexModel::builder().keys(doc! { "search_key": 1 }).build()),
        // The first account, the server's administrator.
        ("users", IndexModel::builder().keys(doc! { "created_ms": 1 }).build()),
        ("devices", IndexModel::builder().keys(doc! { "user_id": 1 }).build()),
        ("friend_links", IndexModel::builder().keys(doc! { "owner": 1, "since_ms": 1 }).build()),
        ("conversations", IndexModel::builder().keys(doc! { "visibility": 1, "last_activity_ms": -1 }).build()),
        ("members", IndexModel::builder().keys(doc! { "conversation_id": 1, "joined_ms": 1 }).build()),
        ("members", IndexModel::builder().keys(doc! { "user_id": 1 }).build()),
        ("invitations", IndexModel::builder().keys(doc! { "user_id": 1, "invited_ms": 1 }).build()),
        // The arbiter of message numbers, and the index history pages walk.
        ("messages", unique(doc! { "conversation_id": 1, "seq": 1 })),
        // Makes a resent message (same client id) a duplicate rather than a second copy.
        ("messages", unique(doc! { "conversation_id": 1, "sender_id": 1, "client_id": 1 })),
        // The changes to one message.
        ("messages", IndexModel::builder().keys(doc! { "conversation_id": 1, "target_seq": 1 }).build()),
        ("messages", IndexModel::builder().keys(doc! { "conversation_id": 1, "kind": 1, "seq": -1 }).build()),
        // Whether a deleted message's upload is still carried by another.
        ("messages", IndexModel::builder().keys(doc! { "attachment.file_id": 1 }).build()),
        // What a user's uploads take; unposted files by age; the files of a blob.
        ("files", IndexModel::builder().keys(doc! { "owner": 1 }).build()),
        ("files", IndexModel::builder().keys(doc! { "created_ms": 1 }).build()),
        ("files", IndexModel::builder().keys(doc! { "blob._id": 1 }).build()),
        ("signup_uses", IndexModel::builder().keys(doc! { "invite_id": 1 }).build()),
        ("push_subscriptions", IndexModel::builder().keys(doc! { "user_id": 1 }).build()),
        // GridFS (`crate::blobs::gridfs`): an item by name, newest first; a range's chunks. The
        // driver makes them only before writing a whole chunk, so a bucket of small items
        // (avatars, thumbnails) would have none.
        ("uploads.files", IndexModel::builder().keys(doc! { "filename": 1, "uploadDate": 1 }).build()),
        ("uploads.chunks", unique(doc! { "files_id": 1, "n": 1 })),
        ("avatars.files", IndexModel::builder().keys(doc! { "filename": 1, "uploadDate": 1 }).build()),
        ("avatars.chunks", unique(doc! { "files_id": 1, "n": 1 })),
    ]
}

#[async_trait]
impl Store for MongoStore {
    fn kind(&self) -> &'static str {
        "mongodb"
    }

    fn deployment(&self) -> String {
        self.db.name().to_owned()
    }

    async fn prepare(&self) -> Result<(), StoreError> {
        for (collection, index) in indexes() {
            self.collection::<mongodb::bson::Document>(collection)
                .create_index(index)
                .await
                .map_err(classify)?;
        }
        let users = super::users::mongodb::backfill_keys(self).await?;
        let conversations = super::conversations::mongodb::backfill_keys(self).await?;
        if users + conversations > 0 {
            tracing::info!(users, conversations, "directory search keys written");
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.db.run_command(doc! { "ping": 1 }).await.map(drop).map_err(classify)
    }

    fn blobs(&self, _data_dir: &std::path::Path, area: Area) -> DynBlobs {
        std::sync::Arc::new(GridFsBlobs::new(&self.db, area.bucket()))
    }
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// The write concern of messages: acknowledged once a majority of the
/// replica set holds the write, so the sender's `ack` (sent only after it)
/// survives the primary failing over. A single server is its own majority.
pub(super) fn durable() -> WriteConcern {
    WriteConcern::majority()
}

/// Makes `text` match itself literally inside a regular expression.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\^$.|?*+()[]{}/-".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether a write failed on a unique key.
pub(super) fn is_duplicate_key(e: &Error) -> bool {
    match &*e.kind {
        ErrorKind::Write(WriteFailure::WriteError(w)) => w.code == DUPLICATE_KEY,
        ErrorKind::Command(c) => c.code == DUPLICATE_KEY,
        _ => false,
    }
}

/// Sorts a driver error into the store's three kinds.
pub(super) fn classify(e: Error) -> StoreError {
    if is_duplicate_key(&e) {
        return StoreError::Conflict("a record with this key".into());
    }
    match &*e.kind {
        ErrorKind::ServerSelection { .. } | ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. } => {
            StoreError::Unavailable(first_line(&e))
        }
        _ if e.contains_label("RetryableWriteError") => StoreError::Unavailable(first_line(&e)),
        _ => StoreError::Internal(first_line(&e)),
    }
}

fn first_line(e: &Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}
