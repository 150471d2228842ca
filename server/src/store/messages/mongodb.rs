use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::{
    bson::{doc, Document},
    error::ErrorKind,
};
use serde::{Deserialize, Serialize};
use wire::model::{Attachment, CallRecord, ConversationId, Message, MessageId, MessageKind, UserId};

use super::{page_size, Appended, MessageDraft, MessageRepo, MAX_SEQ_ATTEMPTS};
use crate::{
    clock::now_millis,
    store::{
        mongodb::{classify, is_duplicate_key, MongoStore},
        StoreError,
    },
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attachment: Option<Box<Attachment>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    call: Option<Box<CallRecord>>,
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
            attachment: m.attachment.clone(),
            call: m.call.clone(),
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
            attachment: d.attachment,
            call: d.call,
        }
    }
}

impl MongoStore {
    /// Inserts the drafts at `indexes` (all of one conversation) numbered from
    /// `last + 1`, in order; returns those stored before the first that failed.
    async fn insert_group(&self, drafts: &[MessageDraft], indexes: &[usize], last: u64) -> Result<Vec<Message>, StoreError> {
        let now = now_millis();
        let messages: Vec<Message> = indexes
            .iter()
            .zip(1..)
            .map(|(&i, n)| drafts[i].clone().into_message(last + n, now))
            .collect();
        let docs: Vec<MessageDoc> = messages.iter().map(MessageDoc::from).collect();
        match self.collection::<MessageDoc>(MESSAGES).insert_many(docs).ordered(true).await {
            Ok(_) => Ok(messages),
            Err(e) => match &*e.kind {
                ErrorKind::InsertMany(failure) => {
                    let first_failed = failure
                        .write_errors
                        .as_ref()
                        .and_then(|errors| errors.iter().map(|w| w.index).min())
                        .unwrap_or(0);
                    Ok(messages.into_iter().take(first_failed).collect())
                }
                _ => Err(classify(e)),
            },
        }
    }

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
        let mut message = draft.clone().into_message(0, now_millis());
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

    /// Groups the drafts by conversation and stores each group with one
    /// `insert_many` under the numbers that follow its current last one. When
    /// that loses a race or meets a resent client id, the drafts from the
    /// failed one on take the one-by-one path, which sorts both cases out.
    async fn append_messages(&self, drafts: Vec<MessageDraft>) -> Vec<Result<Appended, StoreError>> {
        let mut results: Vec<Option<Result<Appended, StoreError>>> = drafts.iter().map(|_| None).collect();
        let mut groups: Vec<(ConversationId, Vec<usize>)> = Vec::new();
        for (i, d) in drafts.iter().enumerate() {
            match groups.iter_mut().find(|(c, _)| *c == d.conversation_id) {
                Some((_, members)) => members.push(i),
                None => groups.push((d.conversation_id.clone(), vec![i])),
            }
        }
        for (conversation, indexes) in groups {
            let stored = match self.last_seq(&conversation).await {
                Ok(last) => self.insert_group(&drafts, &indexes, last).await,
                Err(e) => Err(e),
            };
            let stored = match stored {
                Ok(stored) => stored,
                Err(e) => {
                    let reason = e.to_string();
                    for &i in &indexes {
                        results[i] = Some(Err(StoreError::Unavailable(reason.clone())));
                    }
                    continue;
                }
            };
            for (&i, message) in indexes.iter().zip(&stored) {
                results[i] = Some(Ok(Appended { message: message.clone(), duplicate: false }));
            }
            for &i in &indexes[stored.len()..] {
                results[i] = Some(self.append_message(drafts[i].clone()).await);
            }
        }
        results.into_iter().map(|r| r.expect("every draft has a result")).collect()
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
