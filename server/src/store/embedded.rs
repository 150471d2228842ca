//! The embedded store: one SQLite file in the data dir, so a fresh machine
//! runs Natter with nothing else installed. Nodes on one machine may share
//! it (a cluster on one data dir, with Redis); nodes on several machines
//! share MongoDB instead.
//!
//! SQLite calls block, so each runs on tokio's blocking pool. One connection
//! behind a mutex serialises this process's writes, which SQLite does anyway;
//! read-then-write sequences (like picking the next message number) run in
//! immediate transactions, so they stay atomic when another process (another
//! node, a backup tool) opens the same file.

use std::{
    path::Path,
    sync::{Arc, Mutex, TryLockError},
};

use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};

use crate::blobs::{dir::DirBlobs, Area, DynBlobs};
use super::{Store, StoreError};

/// Prepared statements kept (see [`Cached`]).
const STATEMENT_CACHE: usize = 256;

/// Schema steps, applied in order; `PRAGMA user_version` records how many ran.
/// Append new steps; never edit a released one.
const MIGRATIONS: &[&str] = &[
    // 1: users, their devices and friends; messages.
    "CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        email         TEXT NOT NULL UNIQUE,
        nickname      TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        gender        INTEGER NOT NULL,
        avatar        TEXT,
        created_ms    INTEGER NOT NULL,
        last_login_ms INTEGER,
        login_count   INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX users_nickname ON users (nickname COLLATE NOCASE);
    CREATE TABLE devices (
        user_id      TEXT NOT NULL,
        device_id    TEXT NOT NULL,
        token_id     TEXT NOT NULL,
        user_agent   TEXT NOT NULL,
        signed_in_ms INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL,
        PRIMARY KEY (user_id, device_id)
    );
    CREATE TABLE friend_links (
        owner    TEXT NOT NULL,
        other    TEXT NOT NULL,
        state    INTEGER NOT NULL,
        since_ms INTEGER NOT NULL,
        PRIMARY KEY (owner, other)
    );
    CREATE TABLE messages (
        id              TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL,
        seq             INTEGER NOT NULL,
        sender_id       TEXT NOT NULL,
        client_id       TEXT NOT NULL,
        kind            INTEGER NOT NULL,
        content         TEXT NOT NULL,
        created_ms      INTEGER NOT NULL,
        UNIQUE (conversation_id, seq),
        UNIQUE (conversation_id, sender_id, client_id)
    );",
    // 2: conversations, members, invitations.
    "CREATE TABLE conversations (
        id               TEXT PRIMARY KEY,
        kind             TEXT NOT NULL,
        visibility       TEXT NOT NULL,
        join_policy      TEXT NOT NULL,
        name             TEXT NOT NULL,
        description      TEXT NOT NULL,
        creator_id       TEXT NOT NULL,
        peer_id          TEXT,
        created_ms       INTEGER NOT NULL,
        last_seq         INTEGER NOT NULL,
        last_message     TEXT,
        last_activity_ms INTEGER NOT NULL
    );
    CREATE INDEX conversations_directory ON conversations (visibility, last_activity_ms);
    CREATE TABLE members (
        conversation_id TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        role            TEXT NOT NULL,
        read_seq        INTEGER NOT NULL,
        joined_ms       INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, user_id)
    );
    CREATE INDEX members_by_user ON members (user_id);
    CREATE TABLE invitations (
        conversation_id TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        invited_ms      INTEGER NOT NULL,
        PRIMARY KEY (conversation_id, user_id)
    );
    CREATE INDEX invitations_by_user ON invitations (user_id);",
    // 3: chosen statuses.
    "CREATE TABLE statuses (
        user_id  TEXT PRIMARY KEY,
        settings TEXT NOT NULL
    );",
    // 4: uploaded files, and the attachment a message carries (JSON).
    "ALTER TABLE messages ADD COLUMN attachment TEXT;
    CREATE TABLE blobs (
        sha256     TEXT PRIMARY KEY,
        size       INTEGER NOT NULL,
        mime       TEXT NOT NULL,
        width      INTEGER,
        height     INTEGER,
        thumbnail  INTEGER NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE files (
        id         TEXT PRIMARY KEY,
        owner      TEXT NOT NULL,
        sha256     TEXT NOT NULL REFERENCES blobs (sha256),
        name       TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE file_postings (
        file_id         TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        PRIMARY KEY (file_id, conversation_id)
    );",
    // 5: the call record of a call or broadcast message (JSON).
    "ALTER TABLE messages ADD COLUMN call TEXT;",
    // 6: what a user's uploads take, unposted files by age, the files of a blob.
    "CREATE INDEX files_by_owner ON files (owner);
    CREATE INDEX files_by_created ON files (created_ms);
    CREATE INDEX files_by_blob ON files (sha256);",
    // 7: who may reach each user; blocks are friend links of their own states.
    "CREATE TABLE privacy (
        user_id           TEXT PRIMARY KEY,
        contact           INTEGER NOT NULL,
        findable_by_email INTEGER NOT NULL
    );",
    // 8: token rotation: the token id a refresh replaced, and when.
    "ALTER TABLE devices ADD COLUMN previous_token_id TEXT;
    ALTER TABLE devices ADD COLUMN rotated_ms INTEGER NOT NULL DEFAULT 0;",
    // 9: invitation links (by the SHA-256 of their token) and the uses taken
    // of them; the first account by creation time.
    "CREATE TABLE signup_invites (
        id         TEXT PRIMARY KEY,
        created_by TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        max_uses   INTEGER NOT NULL
    );
    CREATE TABLE signup_uses (
        invite_id TEXT NOT NULL,
        n         INTEGER NOT NULL,
        used_ms   INTEGER NOT NULL,
        PRIMARY KEY (invite_id, n)
    );
    CREATE INDEX users_by_created ON users (created_ms);",
    // 10: changes to messages as entries naming their target; replies,
    // mentions; shown numbers (every entry before this step was shown).
    "ALTER TABLE messages ADD COLUMN target_seq INTEGER;
    ALTER TABLE messages ADD COLUMN reply_to INTEGER;
    ALTER TABLE messages ADD COLUMN mentions TEXT;
    ALTER TABLE messages ADD COLUMN shown INTEGER NOT NULL DEFAULT 0;
    UPDATE messages SET shown = seq;
    CREATE INDEX messages_by_target ON messages (conversation_id, target_seq) WHERE target_seq IS NOT NULL;
    ALTER TABLE members ADD COLUMN read_shown INTEGER NOT NULL DEFAULT 0;
    UPDATE members SET read_shown = read_seq;
    UPDATE conversations SET last_message = json_set(last_message, '$.shown', last_seq) WHERE last_message IS NOT NULL;",
    // 11: receipts and mentions as positions per member; the receipts switch;
    // the messages of a file (a deleted message's file goes with its last).
    "ALTER TABLE members ADD COLUMN delivered_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE members ADD COLUMN mention_seq INTEGER NOT NULL DEFAULT 0;
    UPDATE members SET delivered_seq = read_seq;
    ALTER TABLE privacy ADD COLUMN read_receipts INTEGER NOT NULL DEFAULT 1;
    CREATE INDEX messages_by_file ON messages (json_extract(attachment, '$.file_id')) WHERE attachment IS NOT NULL;",
    // 12: a conversation's pins and unpins, for its pinned bar.
    "CREATE INDEX messages_pins ON messages (conversation_id, seq) WHERE kind IN (12, 13);",
    // 13: Web Push subscriptions, one per device; notification settings.
    "CREATE TABLE push_subscriptions (
        user_id    TEXT NOT NULL,
        device_id  TEXT NOT NULL,
        endpoint   TEXT NOT NULL,
        p256dh     TEXT NOT NULL,
        auth       TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        PRIMARY KEY (user_id, device_id)
    );
    CREATE TABLE notify_settings (
        user_id  TEXT PRIMARY KEY,
        settings TEXT NOT NULL
    );",
    // 14: the directory's search keys (`text::search_fold`), written with
    // each nickname and group name; `backfill_keys` fills the empty ones.
    "ALTER TABLE users ADD COLUMN search_key TEXT NOT NULL DEFAULT '';
    ALTER TABLE conversations ADD COLUMN search_key TEXT NOT NULL DEFAULT '';",
    // 15: the seq of each conversation's newest entry of any kind (a change
    // too), which the bus's periodic repair check compares with.
    "ALTER TABLE conversations ADD COLUMN last_entry_seq INTEGER NOT NULL DEFAULT 0;
    UPDATE conversations SET last_entry_seq = last_seq;",
    // 16: the file's own id, which names the deployment (see `Store::deployment`).
    "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO store_meta (key, value) VALUES ('id', lower(hex(randomblob(8))));",
];

#[derive(Clone)]
pub struct EmbeddedStore {
    conn: Arc<Mutex<Connection>>,
    /// The file's id, made by migration 16.
    id: Arc<str>,
}

impl EmbeddedStore {
    /// Opens (or creates) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        // The file exists 0600 before SQLite opens it; its -wal and -shm files take that mode.
        if path != Path::new(":memory:") {
            crate::private::touch(path).map_err(|e| StoreError::Internal(format!("cannot create {}: {e}", path.display())))?;
        }
        let mut conn = Connection::open(path).map_err(internal)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(internal)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(internal)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(internal)?;
        // What is deleted or overwritten (a deleted message's words) is zeroed, not left in free space.
        conn.pragma_update(None, "secure_delete", "ON").map_err(internal)?;
        // Another process may hold the file (a second server, a backup tool): wait for it.
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(internal)?;
        // Every statement the store runs, with room to spare (rusqlite keeps 16).
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        migrate(&mut conn).map_err(internal)?;
        backfill_keys(&mut conn).map_err(internal)?;
        let id: String = conn
            .query_row("SELECT value FROM store_meta WHERE key = 'id'", [], |row| row.get(0))
            .map_err(internal)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            id: id.into(),
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    pub(super) async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves SQLite consistent (its
            // transaction rolls back), so a poisoned lock is safe to reuse.
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Internal(format!("store task failed: {e}")))?
    }

    /// Runs a short read (a few rows found by key) with the connection on
    /// the calling thread when it is free, else as [`Self::call`] does. The
    /// hop to the blocking pool and back costs two thread switches, more than
    /// such a read: under scenario 3's fan-out those switches were 14% of the
    /// server's CPU. A read cannot wait for a writer (WAL), so it holds the
    /// runtime's thread only as long as it runs.
    pub(super) async fn quick<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        {
            let free = match self.conn.try_lock() {
                Ok(guard) => Some(guard),
                Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            };
            if let Some(mut guard) = free {
                return f(&mut guard);
            }
        }
        self.call(f).await
    }
}

/// Runs the steps not run yet, each in a transaction that reads how many
/// ran under the write lock: nodes sharing the file may start at once.
fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done: usize = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let Some(step) = MIGRATIONS.get(done) else { return Ok(()) };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", done + 1)?;
        tx.commit()?;
    }
}

/// Writes the search keys that are missing: every row's after migration 14,
/// and again after a step that empties them because the fold changed.
fn backfill_keys(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let users = super::users::embedded::backfill_keys(&tx)?;
    let conversations = super::conversations::embedded::backfill_keys(&tx)?;
    tx.commit()?;
    if users + conversations > 0 {
        tracing::info!(users, conversations, "directory search keys written");
    }
    Ok(())
}

#[async_trait]
impl Store for EmbeddedStore {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    async fn prepare(&self) -> Result<(), StoreError> {
        Ok(()) // migrations ran when the file was opened
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.call(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(internal))
            .await
    }

    fn deployment(&self) -> String {
        format!("embedded-{}", self.id)
    }

    fn blobs(&self, data_dir: &std::path::Path, area: Area) -> DynBlobs {
        std::sync::Arc::new(DirBlobs::new(data_dir.join(area.dir())))
    }
}

/// Starts a transaction that takes the write lock at once, so a
/// read-then-write inside it cannot interleave with another writer.
pub(super) fn write_transaction(conn: &mut Connection) -> Result<Transaction<'_>, StoreError> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(internal)
}

/// `query_row` and `execute` through the connection's statement cache, as
/// [`query_all`] does: rusqlite's own prepare the SQL anew at every call,
/// and parsing it was 8% of the server's CPU under scenario 3's fan-out
/// (docs/PERFORMANCE.md), since a message makes several such calls.
pub(super) trait Cached {
    fn cached_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;

    fn cached_execute<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl Cached for Connection {
    fn cached_row<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    fn cached_execute<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

/// Runs a query and reads every row it returns with `from_row`.
pub(super) fn query_all<T>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    from_row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(internal)?;
    let rows = stmt.query_map(params, from_row).map_err(internal)?;
    rows.collect::<Result<_, _>>().map_err(internal)
}

/// `?, ?, …`: `n` placeholders for an `IN (…)` list.
pub(super) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// An enum's serde name (`"private"`, `"invite_only"`, …), as the tables keep it.
pub(super) fn enum_text<T: serde::Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        other => unreachable!("enums stored as text serialize to strings, not {other:?}"),
    }
}

/// Reads back what [`enum_text`] wrote.
pub(super) fn enum_from_text<T: serde::de::DeserializeOwned>(text: String) -> rusqlite::Result<T> {
    serde_json::from_value(serde_json::Value::String(text))
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

pub(super) fn internal(e: rusqlite::Error) -> StoreError {
    StoreError::Internal(e.to_string())
}

/// Maps a failed statement, telling unique-key violations apart.
pub(super) fn write_error(e: rusqlite::Error, what: &str) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => StoreError::Conflict(what.to_owned()),
        _ => internal(e),
    }
}
