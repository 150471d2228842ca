//! Persistence. One repository trait per model (`users`, `messages`, …), each
//! implemented twice, side by side in the model's folder: `embedded.rs` for the
//! SQLite store in the data dir (the default) and `mongodb.rs` for MongoDB.
//! [`Store`] bundles the repositories; the rest of the server only ever holds a
//! [`DynStore`]. Both implementations pass the same conformance suite
//! (`server/tests/suite/conformance`).

pub mod conversations;
pub mod devices;
pub mod embedded;
pub mod files;
pub mod friends;
pub mod health;
pub mod messages;
pub mod mongodb;
pub mod privacy;
pub mod push;
pub mod signup;
pub mod statuses;
pub mod users;

use std::sync::Arc;

use async_trait::async_trait;

use crate::blobs::{Area, DynBlobs};

pub use self::{
    conversations::ConversationRepo, devices::DeviceRepo, files::FileRepo, friends::FriendRepo, messages::MessageRepo,
    privacy::PrivacyRepo, push::PushRepo, signup::SignupRepo, statuses::StatusRepo, users::UserRepo,
};

/// File name of the embedded database inside the data dir.
pub const EMBEDDED_FILE: &str = "natter.sqlite3";

/// Every repository, behind one object.
#[async_trait]
pub trait Store:
    UserRepo
    + DeviceRepo
    + FriendRepo
    + ConversationRepo
    + MessageRepo
    + FileRepo
    + StatusRepo
    + PrivacyRepo
    + PushRepo
    + SignupRepo
    + Send
    + Sync
    + 'static
{
    /// `"embedded"` or `"mongodb"`, as reported by `/readyz`.
    fn kind(&self) -> &'static str;

    /// Creates indexes or runs migrations. Idempotent; the server calls it
    /// (with backoff) until it succeeds before it reports ready.
    async fn prepare(&self) -> Result<(), StoreError>;

    /// A cheap round trip that proves the store answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// What names this deployment's data, the same on every node sharing the
    /// store: the MongoDB database's name, or the embedded file's own id.
    /// A cluster's Redis keys and channels are under it.
    fn deployment(&self) -> String;

    /// Where the bytes of `area` are kept with this store: under the data
    /// dir with the embedded one, in GridFS with MongoDB (any node reads them).
    fn blobs(&self, data_dir: &std::path::Path, area: Area) -> DynBlobs;
}

pub type DynStore = Arc<dyn Store>;

/// Opens the store: MongoDB when its settings are given, else the embedded
/// database in the data dir.
pub async fn open(mongodb: Option<&mongodb::MongoSettings>, data_dir: &std::path::Path) -> Result<DynStore, StoreError> {
    Ok(match mongodb {
        Some(mongo) => Arc::new(mongodb::MongoStore::open(mongo).await?),
        None => Arc::new(embedded::EmbeddedStore::open(&data_dir.join(EMBEDDED_FILE))?),
    })
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken (an e-mail address, a message sequence number, …).
    #[error("already exists: {0}")]
    Conflict(String),
    /// The store cannot be reached right now; the operation may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data that does not decode, or any other unexpected failure.
    #[error("store error: {0}")]
    Internal(String),
}

impl From<StoreError> for wire::protocol::ApiError {
    fn from(e: StoreError) -> Self {
        use wire::protocol::{ApiError, ErrorCode};
        match e {
            StoreError::Conflict(what) => ApiError::new(ErrorCode::Conflict, format!("{what} already exists")),
            StoreError::Unavailable(_) => {
                ApiError::new(ErrorCode::StoreUnavailable, "the database is unavailable; try again shortly")
            }
            StoreError::Internal(_) => ApiError::new(ErrorCode::Internal, "internal error"),
        }
    }
}

/// A fresh, time-ordered id for a new record.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}
