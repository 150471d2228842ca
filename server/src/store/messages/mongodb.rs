use app::model::{ConversationId, Message, MessageId, MessageKind, UserId};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::bson::{doc, Document};
use serde::{Deserialize, Serialize};

use super::{page_size, Appended, MessageDraft, MessageRepo, MAX_SEQ_ATTEMPTS};
use crate::store::{
    mongodb::{classify, is_duplicate_key, MongoStore},
    new_id, now_millis, StoreError,
};

const MESSAGES: &str = "messages";

#[derive(Serialize, Deserialize)]
struct MessageDoc {
    #[serde(rename = "_id")]
    id: String,
    conversation_id: String,
    seq: i64,
    sender_id: String,
    client_id: String,
    kind: i32,
    content: String,
    created_ms: i64,
}

impl From<&Message> for MessageDoc {
    fn from(m: &Message) -> Self {
        MessageDoc {
            id: m.id.0.clone(),
            conversation_id: m.conversation_id.0.clone(),
            seq: m.seq as i64,
            sender_id: m.sender_id.0.clone(),
            client_id: m.client_id.clone(),
            kind: m.kind.code(),
            content: m.content.clone(),
            created_ms: m.created_ms,
        }
    }
}

impl From<MessageDoc> for Message {
    fn from(d: MessageDoc) -> Self {
        Message {
            id: MessageId(d.id),
            conversation_id: ConversationId(d.conversation_id),
            seq: d.seq as u64,
            sender_id: UserId(d.sender_id),
            client_id: d.client_id,
            kind: MessageKind::from_code(d.kind).unwrap_or_default(),
            content: d.content,
            created_ms: d.created_ms,
        }
    }
}

impl MongoStore {
    async fn by_client_id(&self, d: &MessageDraft) -> Result<Option<Message>, StoreError> {
        let filter = doc! {
            "conversation_id": &d.conversation_id.0,
            "sender_id": &d.sender_id.0,
            "client_id": &d.client_id,
        };
        let found = self.collection::<MessageDoc>(MESSAGES).find_one(filter).await.map_err(classify)?;
        Ok(found.map(Message::from))
    }

    async fn page(&self, filter: Document, ascending: bool, limit: u32) -> Result<Vec<Message>, StoreError> {
        let cursor = self
            .collection::<MessageDoc>(MESSAGES)
            .find(filter)
            .sort(doc! { "seq": if ascending { 1 } else { -1 } })
            .limit(i64::from(page_size(limit)))
            .await
            .map_err(classify)?;
        let docs: Vec<MessageDoc> = cursor.try_collect().await.map_err(classify)?;
        Ok(docs.into_iter().map(Message::from).collect())
    }
}

#[async_trait]
impl MessageRepo for MongoStore {
    async fn append_message(&self, draft: MessageDraft) -> Result<Appended, StoreError> {
        let mut message = Message {
            id: MessageId(new_id()),
            conversation_id: draft.conversation_id.clone(),
            seq: 0,
            sender_id: draft.sender_id.clone(),
            client_id: draft.client_id.clone(),
            kind: draft.kind,
            content: draft.content.clone(),
            created_ms: now_millis(),
        };
        for _ in 0..MAX_SEQ_ATTEMPTS {
            message.seq = self.last_seq(&draft.conversation_id).await? + 1;
            match self.collection::<MessageDoc>(MESSAGES).insert_one(MessageDoc::from(&message)).await {
                Ok(_) => return Ok(Appended { message, duplicate: false }),
                // Either another writer took this number, or this very message
                // was stored before (same client id): tell which.
                Err(e) if is_duplicate_key(&e) => {
                    if let Some(stored) = self.by_client_id(&draft).await? {
                        return Ok(Appended { message: stored, duplicate: true });
                    }
                }
                Err(e) => return Err(classify(e)),
            }
        }
        Err(StoreError::Unavailable(format!(
            "gave up after {MAX_SEQ_ATTEMPTS} conflicting writers in conversation {}",
            draft.conversation_id
        )))
    }

    async fn last_seq(&self, conversation: &ConversationId) -> Result<u64, StoreError> {
        let newest = self.page(doc! { "conversation_id": &conversation.0 }, false, 1).await?;
        Ok(newest.first().map_or(0, |m| m.seq))
    }

    async fn messages_before(
        &self,
        conversation: &ConversationId,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let mut filter = doc! { "conversation_id": &conversation.0 };
        if let Some(before) = before {
            filter.insert("seq", doc! { "$lt": before as i64 });
        }
        self.page(filter, false, limit).await
    }

    async fn messages_after(
        &self,
        conversation: &ConversationId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let filter = doc! { "conversation_id": &conversation.0, "seq": { "$gt": after as i64 } };
        self.page(filter, true, limit).await
    }
}
