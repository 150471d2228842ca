use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::{
    bson::{doc, Document},
    error::ErrorKind,
};
use serde::{Deserialize, Serialize};
use wire::model::{Attachment, CallRecord, ConversationId, FileId, Message, MessageId, MessageKind, UserId};

use super::{page_size, Appended, MessageDraft, MessageRepo, Tip, MAX_CHANGES, MAX_PIN_CHANGES, MAX_SEQ_ATTEMPTS};
use crate::{
    clock::now_millis,
    store::{
        conversations::mongodb::CONVERSATIONS,
        mongodb::{classify, durable, is_duplicate_key, MongoStore},
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target_seq: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reply_to: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    mentions: Vec<String>,
    /// Absent on entries stored before changes existed: every one was shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shown: Option<i64>,
}

impl MessageDoc {
    fn new(m: &Message) -> Self {
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
            target_seq: m.target.map(|seq| seq as i64),
            reply_to: m.reply_to.map(|seq| seq as i64),
            mentions: m.mentions.iter().map(|u| u.0.clone()).collect(),
            shown: Some(m.shown as i64),
        }
    }

    fn tip(&self) -> Tip {
        Tip { seq: self.seq as u64, shown: self.shown.unwrap_or(self.seq) as u64 }
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
            target: d.target_seq.map(|seq| seq as u64),
            reply_to: d.reply_to.map(|seq| seq as u64),
            mentions: d.mentions.into_iter().map(UserId).collect(),
            shown: d.shown.unwrap_or(d.seq).max(0) as u64,
        }
    }
}

impl MongoStore {
    /// Inserts the drafts at `indexes` (all of one conversation) numbered from
    /// after `tip`, in order; returns those stored before the first that failed.
    async fn insert_group(&self, drafts: &[MessageDraft], indexes: &[usize], tip: Tip) -> Result<Vec<Appended>, StoreError> {
        let now = now_millis();
        let mut tip = tip;
        let appended: Vec<Appended> = indexes
            .iter()
            .map(|&i| {
                let message = drafts[i].clone().into_message(tip, now);
                tip = Tip { seq: message.seq, shown: message.shown };
                Appended { message, duplicate: false }
            })
            .collect();
        let docs: Vec<MessageDoc> = appended.iter().map(|a| MessageDoc::new(&a.message)).collect();
        match self.collection::<MessageDoc>(MESSAGES).insert_many(docs).ordered(true).write_concern(durable()).await {
            Ok(_) => Ok(appended),
            Err(e) => match &*e.kind {
                ErrorKind::InsertMany(failure) => {
                    let first_failed = failure
                        .write_errors
                        .as_ref()
                        .and_then(|errors| errors.iter().map(|w| w.index).min())
                        .unwrap_or(0);
                    Ok(appended.into_iter().take(first_failed).collect())
                }
                _ => Err(classify(e)),
            },
        }
    }

    /// The draft as stored before, if its client id was seen.
    async fn by_client_id(&self, d: &MessageDraft) -> Result<Option<Appended>, StoreError> {
        let filter = doc! {
            "conversation_id": &d.conversation_id.0,
            "sender_id": &d.sender_id.0,
            "client_id": &d.client_id,
        };
        let found = self.collection::<MessageDoc>(MESSAGES).find_one(filter).await.map_err(classify)?;
        Ok(found.map(|doc| Appended { message: doc.into(), duplicate: true }))
    }

    async fn docs(&self, filter: Document, ascending: bool, limit: i64) -> Result<Vec<MessageDoc>, StoreError> {
        let cursor = self
            .collection::<MessageDoc>(MESSAGES)
            .find(filter)
            .sort(doc! { "seq": if ascending { 1 } else { -1 } })
            .limit(limit)
            .await
            .map_err(classify)?;
        cursor.try_collect().await.map_err(classify)
    }

    async fn page(&self, filter: Document, ascending: bool, limit: u32) -> Result<Vec<Message>, StoreError> {
        let docs = self.docs(filter, ascending, i64::from(page_size(limit))).await?;
        Ok(docs.into_iter().map(Message::from).collect())
    }

    /// The newest entry matching `filter`.
    async fn tip_of(&self, filter: Document) -> Result<Tip, StoreError> {
        Ok(self.docs(filter, false, 1).await?.first().map(MessageDoc::tip).unwrap_or_default())
    }
}

#[async_trait]
impl MessageRepo for MongoStore {
    async fn append_message(&self, draft: MessageDraft) -> Result<Appended, StoreError> {
        let created_ms = now_millis();
        for _ in 0..MAX_SEQ_ATTEMPTS {
            let message = draft.clone().into_message(self.tip(&draft.conversation_id).await?, created_ms);
            let messages = self.collection::<MessageDoc>(MESSAGES);
            match messages.insert_one(MessageDoc::new(&message)).write_concern(durable()).await {
                Ok(_) => return Ok(Appended { message, duplicate: false }),
                // Either another writer took this number, or this very message
                // was stored before (same client id): tell which.
                Err(e) if is_duplicate_key(&e) => {
                    if let Some(stored) = self.by_client_id(&draft).await? {
                        return Ok(stored);
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
            let stored = match self.tip(&conversation).await {
                Ok(tip) => self.insert_group(&drafts, &indexes, tip).await,
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
            let done = stored.len();
            for (&i, appended) in indexes.iter().zip(stored) {
                results[i] = Some(Ok(appended));
            }
            for &i in &indexes[done..] {
                results[i] = Some(self.append_message(drafts[i].clone()).await);
            }
        }
        results.into_iter().map(|r| r.expect("every draft has a result")).collect()
    }

    async fn tip(&self, conversation: &ConversationId) -> Result<Tip, StoreError> {
        self.tip_of(doc! { "conversation_id": &conversation.0 }).await
    }

    async fn shown_at(&self, conversation: &ConversationId, seq: u64) -> Result<u64, StoreError> {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        Ok(self.tip_of(doc! { "conversation_id": &conversation.0, "seq": { "$lte": seq } }).await?.shown)
    }

    async fn message_at(&self, conversation: &ConversationId, seq: u64) -> Result<Option<Message>, StoreError> {
        let Ok(seq) = i64::try_from(seq) else { return Ok(None) };
        let filter = doc! { "conversation_id": &conversation.0, "seq": seq };
        Ok(self.collection::<MessageDoc>(MESSAGES).find_one(filter).await.map_err(classify)?.map(Message::from))
    }

    async fn changes_of(&self, conversation: &ConversationId, target: u64) -> Result<Vec<Message>, StoreError> {
        let Ok(target) = i64::try_from(target) else { return Ok(Vec::new()) };
        let filter = doc! { "conversation_id": &conversation.0, "target_seq": target };
        let docs = self.docs(filter, true, i64::from(MAX_CHANGES)).await?;
        Ok(docs.into_iter().map(Message::from).collect())
    }

    async fn pin_changes(&self, conversation: &ConversationId) -> Result<Vec<Message>, StoreError> {
        let kinds = [MessageKind::Pin.code(), MessageKind::Unpin.code()];
        let filter = doc! { "conversation_id": &conversation.0, "kind": { "$in": kinds.to_vec() } };
        let docs = self.docs(filter, false, i64::from(MAX_PIN_CHANGES)).await?;
        Ok(docs.into_iter().map(Message::from).collect())
    }

    async fn scrub(&self, conversation: &ConversationId, target: u64) -> Result<(), StoreError> {
        let Ok(target) = i64::try_from(target) else { return Ok(()) };
        let messages = self.collection::<MessageDoc>(MESSAGES);
        let erase = doc! { "$set": { "content": "" }, "$unset": { "attachment": "", "mentions": "" } };
        messages.update_one(doc! { "conversation_id": &conversation.0, "seq": target }, erase).await.map_err(classify)?;
        let edits = doc! { "conversation_id": &conversation.0, "target_seq": target, "kind": MessageKind::Edit.code() };
        messages.update_many(edits, doc! { "$set": { "content": "" } }).await.map_err(classify)?;
        let preview = doc! { "_id": &conversation.0, "last_message.seq": target };
        let conversations = self.collection::<Document>(CONVERSATIONS);
        conversations.update_one(preview, doc! { "$set": { "last_message.text": "" } }).await.map_err(classify)?;
        Ok(())
    }

    async fn file_in_use(&self, file: &FileId) -> Result<bool, StoreError> {
        let found = self
            .collection::<Document>(MESSAGES)
            .find_one(doc! { "attachment.file_id": &file.0 })
            .projection(doc! { "_id": 1 })
            .await
            .map_err(classify)?;
        Ok(found.is_some())
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
