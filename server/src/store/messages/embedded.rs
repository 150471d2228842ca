use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use wire::model::{ConversationId, FileId, Message, MessageId, MessageKind, UserId};

use super::{page_size, Appended, MessageDraft, MessageRepo, Tip, MAX_CHANGES, MAX_PIN_CHANGES};
use crate::{
    clock::now_millis,
    store::{
        embedded::{internal, query_all, write_transaction, Cached, EmbeddedStore},
        StoreError,
    },
};

const COLUMNS: &str =
    "id, conversation_id, seq, sender_id, client_id, kind, content, created_ms, attachment, call, target_seq, reply_to, mentions, shown";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    let kind: i32 = row.get(5)?;
    Ok(Message {
        id: MessageId(row.get(0)?),
        conversation_id: ConversationId(row.get(1)?),
        seq: row.get::<_, i64>(2)? as u64,
        sender_id: UserId(row.get(3)?),
        client_id: row.get(4)?,
        kind: MessageKind::from_code(kind).unwrap_or_default(),
        content: row.get(6)?,
        created_ms: row.get(7)?,
        attachment: row.get::<_, Option<String>>(8)?.map(|json| json_column(8, &json)).transpose()?,
        call: row.get::<_, Option<String>>(9)?.map(|json| json_column(9, &json)).transpose()?,
        target: row.get::<_, Option<i64>>(10)?.map(|seq| seq as u64),
        reply_to: row.get::<_, Option<i64>>(11)?.map(|seq| seq as u64),
        mentions: row.get::<_, Option<String>>(12)?.map(|json| json_column(12, &json)).transpose()?.unwrap_or_default(),
        shown: row.get::<_, i64>(13)? as u64,
    })
}

/// Reads a column that holds a value as JSON.
fn json_column<T: serde::de::DeserializeOwned>(column: usize, json: &str) -> rusqlite::Result<T> {
    serde_json::from_str(json)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e)))
}

fn by_client_id(c: &Connection, d: &MessageDraft) -> rusqlite::Result<Option<Message>> {
    c.cached_row(
        &format!("SELECT {COLUMNS} FROM messages WHERE conversation_id = ?1 AND sender_id = ?2 AND client_id = ?3"),
        params![d.conversation_id.0, d.sender_id.0, d.client_id],
        from_row,
    )
    .optional()
}

/// The newest entry at or before `seq`.
fn tip_at(c: &Connection, conversation: &str, seq: u64) -> rusqlite::Result<Tip> {
    let seq = i64::try_from(seq).unwrap_or(i64::MAX);
    c.cached_row(
        "SELECT seq, shown FROM messages WHERE conversation_id = ?1 AND seq <= ?2 ORDER BY seq DESC LIMIT 1",
        params![conversation, seq],
        |r| Ok(Tip { seq: r.get::<_, i64>(0)? as u64, shown: r.get::<_, i64>(1)? as u64 }),
    )
    .optional()
    .map(Option::unwrap_or_default)
}

/// Stores one draft inside the caller's write transaction.
fn append_in(tx: &Connection, draft: MessageDraft) -> Result<Appended, StoreError> {
    if let Some(message) = by_client_id(tx, &draft).map_err(internal)? {
        return Ok(Appended { message, duplicate: true });
    }
    let tip = tip_at(tx, &draft.conversation_id.0, u64::MAX).map_err(internal)?;
    let message = draft.into_message(tip, now_millis());
    let attachment = message.attachment.as_ref().map(|a| serde_json::to_string(a).expect("attachments serialize"));
    let call = message.call.as_ref().map(|c| serde_json::to_string(c).expect("call records serialize"));
    let mentions = (!message.mentions.is_empty()).then(|| serde_json::to_string(&message.mentions).expect("ids serialize"));
    tx.cached_execute(
        &format!("INSERT INTO messages ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
        params![
            message.id.0,
            message.conversation_id.0,
            message.seq as i64,
            message.sender_id.0,
            message.client_id,
            message.kind.code(),
            message.content,
            message.created_ms,
            attachment,
            call,
            message.target.map(|seq| seq as i64),
            message.reply_to.map(|seq| seq as i64),
            mentions,
            message.shown as i64
        ],
    )
    .map_err(internal)?;
    Ok(Appended { message, duplicate: false })
}

#[async_trait]
impl MessageRepo for EmbeddedStore {
    async fn append_message(&self, draft: MessageDraft) -> Result<Appended, StoreError> {
        self.append_messages(vec![draft])
            .await
            .pop()
            .expect("one result per draft")
    }

    /// One transaction for the whole batch: one disk sync for all of them.
    async fn append_messages(&self, drafts: Vec<MessageDraft>) -> Vec<Result<Appended, StoreError>> {
        let n = drafts.len();
        let outcome = self
            .call(move |c| {
                let tx = write_transaction(c)?;
                let results = drafts.into_iter().map(|d| append_in(&tx, d)).collect::<Vec<_>>();
                tx.commit().map_err(internal)?;
                Ok(results)
            })
            .await;
        match outcome {
            Ok(results) => results,
            Err(e) => (0..n).map(|_| Err(StoreError::Unavailable(e.to_string()))).collect(),
        }
    }

    async fn tip(&self, conversation: &ConversationId) -> Result<Tip, StoreError> {
        let conversation = conversation.0.clone();
        self.call(move |c| tip_at(c, &conversation, u64::MAX).map_err(internal)).await
    }

    async fn shown_at(&self, conversation: &ConversationId, seq: u64) -> Result<u64, StoreError> {
        let conversation = conversation.0.clone();
        self.call(move |c| Ok(tip_at(c, &conversation, seq).map_err(internal)?.shown)).await
    }

    async fn message_at(&self, conversation: &ConversationId, seq: u64) -> Result<Option<Message>, StoreError> {
        let conversation = conversation.0.clone();
        let Ok(seq) = i64::try_from(seq) else { return Ok(None) };
        self.call(move |c| {
            c.cached_row(
                &format!("SELECT {COLUMNS} FROM messages WHERE conversation_id = ?1 AND seq = ?2"),
                params![conversation, seq],
                from_row,
            )
            .optional()
            .map_err(internal)
        })
        .await
    }

    async fn changes_of(&self, conversation: &ConversationId, target: u64) -> Result<Vec<Message>, StoreError> {
        let conversation = conversation.0.clone();
        let Ok(target) = i64::try_from(target) else { return Ok(Vec::new()) };
        self.call(move |c| {
            query_all(
                c,
                &format!(
                    "SELECT {COLUMNS} FROM messages WHERE conversation_id = ?1 AND target_seq = ?2 ORDER BY seq LIMIT ?3"
                ),
                params![conversation, target, MAX_CHANGES],
                from_row,
            )
        })
        .await
    }

    async fn pin_changes(&self, conversation: &ConversationId) -> Result<Vec<Message>, StoreError> {
        let conversation = conversation.0.clone();
        // The kinds written out, so SQLite sees the query fits `messages_pins`.
        let sql = format!(
            "SELECT {COLUMNS} FROM messages WHERE conversation_id = ?1 AND kind IN ({}, {}) ORDER BY seq DESC LIMIT ?2",
            MessageKind::Pin.code(),
            MessageKind::Unpin.code()
        );
        self.call(move |c| query_all(c, &sql, params![conversation, MAX_PIN_CHANGES], from_row)).await
    }

    async fn scrub(&self, conversation: &ConversationId, target: u64) -> Result<(), StoreError> {
        let conversation = conversation.0.clone();
        let Ok(target) = i64::try_from(target) else { return Ok(()) };
        self.call(move |c| {
            let tx = write_transaction(c)?;
            tx.cached_execute(
                "UPDATE messages SET content = '', attachment = NULL, mentions = NULL
                 WHERE conversation_id = ?1 AND seq = ?2",
                params![conversation, target],
            )
            .map_err(internal)?;
            tx.cached_execute(
                "UPDATE messages SET content = '' WHERE conversation_id = ?1 AND target_seq = ?2 AND kind = ?3",
                params![conversation, target, MessageKind::Edit.code()],
            )
            .map_err(internal)?;
            tx.cached_execute(
                "UPDATE conversations SET last_message = json_set(last_message, '$.text', '')
                 WHERE id = ?1 AND json_extract(last_message, '$.seq') = ?2",
                params![conversation, target],
            )
            .map_err(internal)?;
            tx.commit().map_err(internal)?;
            // The words may still sit in the write-ahead log's older copies of
            // the page: fold the log into the file (where `secure_delete` has
            // zeroed them) and empty it. A busy log is emptied by a later one.
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(internal)
        })
        .await
    }

    async fn file_in_use(&self, file: &FileId) -> Result<bool, StoreError> {
        let file = file.0.clone();
        self.call(move |c| {
            // The expression of the index `messages_by_file`, so that it is used.
            c.cached_row(
                "SELECT EXISTS (SELECT 1 FROM messages
                 WHERE json_extract(attachment, '$.file_id') = ?1 AND attachment IS NOT NULL)",
                [file],
                |r| r.get(0),
            )
            .map_err(internal)
        })
        .await
    }

    async fn messages_before(
        &self,
        conversation: &ConversationId,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let conversation = conversation.0.clone();
        let before = before.map_or(i64::MAX, |b| b as i64);
        self.call(move |c| {
            query_all(
                c,
                &format!(
                    "SELECT {COLUMNS} FROM messages WHERE conversation_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3"
                ),
                params![conversation, before, page_size(limit)],
                from_row,
            )
        })
        .await
    }

    async fn messages_after(
        &self,
        conversation: &ConversationId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let conversation = conversation.0.clone();
        self.call(move |c| {
            query_all(
                c,
                &format!(
                    "SELECT {COLUMNS} FROM messages WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq ASC LIMIT ?3"
                ),
                params![conversation, after as i64, page_size(limit)],
                from_row,
            )
        })
        .await
    }
}
