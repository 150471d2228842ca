use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};
use wire::model::{ConversationId, Message, MessageId, MessageKind, UserId};

use super::{page_size, Appended, MessageDraft, MessageRepo};
use crate::{
    clock::now_millis,
    store::{
        embedded::{internal, query_all, write_transaction, EmbeddedStore},
        StoreError,
    },
};

const COLUMNS: &str = "id, conversation_id, seq, sender_id, client_id, kind, content, created_ms, attachment, call";

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
    })
}

/// Reads a column that holds a value as JSON.
fn json_column<T: serde::de::DeserializeOwned>(column: usize, json: &str) -> rusqlite::Result<T> {
    serde_json::from_str(json)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e)))
}

fn by_client_id(c: &Connection, d: &MessageDraft) -> rusqlite::Result<Option<Message>> {
    c.query_row(
        &format!("SELECT {COLUMNS} FROM messages WHERE conversation_id = ?1 AND sender_id = ?2 AND client_id = ?3"),
        params![d.conversation_id.0, d.sender_id.0, d.client_id],
        from_row,
    )
    .optional()
}

fn last_seq(c: &Connection, conversation: &str) -> rusqlite::Result<u64> {
    c.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM messages WHERE conversation_id = ?1",
        [conversation],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
}

/// Stores one draft inside the caller's write transaction.
fn append_in(tx: &Connection, draft: MessageDraft) -> Result<Appended, StoreError> {
    if let Some(message) = by_client_id(tx, &draft).map_err(internal)? {
        return Ok(Appended {
            message,
            duplicate: true,
        });
    }
    let seq = last_seq(tx, &draft.conversation_id.0).map_err(internal)? + 1;
    let message = draft.into_message(seq, now_millis());
    let attachment = message.attachment.as_ref().map(|a| serde_json::to_string(a).expect("attachments serialize"));
    let call = message.call.as_ref().map(|c| serde_json::to_string(c).expect("call records serialize"));
    tx.execute(
        &format!("INSERT INTO messages ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
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
            call
        ],
    )
    .map_err(internal)?;
    Ok(Appended {
        message,
        duplicate: false,
    })
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

    async fn last_seq(&self, conversation: &ConversationId) -> Result<u64, StoreError> {
        let conversation = conversation.0.clone();
        self.call(move |c| last_seq(c, &conversation).map_err(internal)).await
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
