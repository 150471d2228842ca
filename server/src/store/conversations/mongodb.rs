use async_trait::async_trait;
use futures_util::TryStreamExt;
use mongodb::{
    bson::{doc, to_bson, Document},
    options::ReturnDocument,
};
use serde::{Deserialize, Serialize};
use wire::model::{
    Conversation, ConversationId, ConversationKind, JoinPolicy, MessagePreview, Millis, Role, UserId, Visibility,
};

use super::{search_key, ConversationPatch, ConversationRepo, Membership, Mentioned, Moves, MAX_DIRECTORY_PAGE, MAX_ID_PAGE};
use crate::store::{
    mongodb::{classify, is_duplicate_key, MongoStore},
    StoreError,
};
use crate::text::search_fold::KeyQuery;

/// The collection of conversations (their previews are erased with a deleted message).
pub(in crate::store) const CONVERSATIONS: &str = "conversations";
const MEMBERS: &str = "members";
const INVITATIONS: &str = "invitations";

#[derive(Serialize, Deserialize)]
struct ConversationDoc {
    #[serde(rename = "_id")]
    id: String,
    kind: ConversationKind,
    visibility: Visibility,
    join_policy: JoinPolicy,
    name: String,
    description: String,
    creator_id: String,
    peer_id: Option<String>,
    created_ms: i64,
    last_seq: i64,
    last_message: Option<MessagePreview>,
    last_activity_ms: i64,
    /// Absent on conversations from before keys existed, until [`backfill_keys`].
    #[serde(default)]
    search_key: String,
}

impl From<&Conversation> for ConversationDoc {
    fn from(c: &Conversation) -> Self {
        ConversationDoc {
            id: c.id.0.clone(),
            kind: c.kind,
            visibility: c.visibility,
            join_policy: c.join_policy,
            name: c.name.clone(),
            description: c.description.clone(),
            creator_id: c.creator_id.0.clone(),
            peer_id: c.peer_id.as_ref().map(|p| p.0.clone()),
            created_ms: c.created_ms,
            last_seq: c.last_seq as i64,
            last_message: c.last_message.clone(),
            last_activity_ms: c.last_activity_ms,
            search_key: search_key(&c.name, &c.description),
        }
    }
}

impl From<ConversationDoc> for Conversation {
    fn from(d: ConversationDoc) -> Self {
        Conversation {
            id: ConversationId(d.id),
            kind: d.kind,
            visibility: d.visibility,
            join_policy: d.join_policy,
            name: d.name,
            description: d.description,
            creator_id: UserId(d.creator_id),
            peer_id: d.peer_id.map(UserId),
            created_ms: d.created_ms,
            last_seq: d.last_seq.max(0) as u64,
            // Previews from before changes existed lack their shown number: every entry was shown.
            last_message: d.last_message.map(|p| MessagePreview { shown: if p.shown == 0 { p.seq } else { p.shown }, ..p }),
            last_activity_ms: d.last_activity_ms,
        }
    }
}

/// What the bus's repair check reads of a conversation.
#[derive(Deserialize)]
struct LastEntryDoc {
    #[serde(rename = "_id")]
    id: String,
    last_seq: i64,
    last_entry_seq: Option<i64>,
}

/// Keyed by `"conversation:user"`, so membership checks are `_id` lookups.
#[derive(Serialize, Deserialize)]
struct MemberDoc {
    #[serde(rename = "_id")]
    key: String,
    conversation_id: String,
    user_id: String,
    role: Role,
    read_seq: i64,
    joined_ms: i64,
    /// Absent on members from before changes existed: every entry was shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    read_shown: Option<i64>,
    /// Absent on members from before receipts: as far as they read.
    #[serde(default)]
    delivered_seq: i64,
    #[serde(default)]
    mention_seq: i64,
}

fn key(conversation: &ConversationId, user: &UserId) -> String {
    format!("{conversation}:{user}")
}

impl From<MemberDoc> for Membership {
    fn from(d: MemberDoc) -> Self {
        Membership {
            conversation_id: ConversationId(d.conversation_id),
            user_id: UserId(d.user_id),
            role: d.role,
            read_seq: d.read_seq.max(0) as u64,
            joined_ms: d.joined_ms,
            read_shown: d.read_shown.unwrap_or(d.read_seq).max(0) as u64,
            delivered_seq: d.delivered_seq.max(d.read_seq).max(0) as u64,
            mention_seq: d.mention_seq.max(0) as u64,
        }
    }
}

fn bson_of<T: Serialize>(value: T) -> mongodb::bson::Bson {
    to_bson(&value).expect("plain values serialize to BSON")
}

impl MongoStore {
    async fn find_conversations(&self, filter: Document, sort: Option<Document>, skip: u32, limit: Option<u32>) -> Result<Vec<Conversation>, StoreError> {
        let collection = self.collection::<ConversationDoc>(CONVERSATIONS);
        let mut find = collection.find(filter).skip(u64::from(skip));
        if let Some(sort) = sort {
            find = find.sort(sort);
        }
        if let Some(limit) = limit {
            find = find.limit(i64::from(limit));
        }
        let docs: Vec<ConversationDoc> = find.await.map_err(classify)?.try_collect().await.map_err(classify)?;
        Ok(docs.into_iter().map(Conversation::from).collect())
    }

    async fn find_members(&self, filter: Document, limit: Option<u32>) -> Result<Vec<Membership>, StoreError> {
        let members = self.collection::<MemberDoc>(MEMBERS);
        let mut find = members.find(filter).sort(doc! { "joined_ms": 1, "user_id": 1 });
        if let Some(limit) = limit {
            find = find.limit(i64::from(limit));
        }
        let cursor = find.await.map_err(classify)?;
        let docs: Vec<MemberDoc> = cursor.try_collect().await.map_err(classify)?;
        Ok(docs.into_iter().map(Membership::from).collect())
    }

    /// Records the newest message, unless a newer one is recorded already;
    /// it is the newest entry too, unless a newer one is recorded.
    async fn record_last_message(&self, id: &ConversationId, preview: &MessagePreview) -> Result<(), StoreError> {
        let seq = preview.seq as i64;
        self.collection::<ConversationDoc>(CONVERSATIONS)
            .update_one(
                doc! { "_id": &id.0, "last_seq": { "$lt": seq } },
                doc! {
                    "$set": { "last_seq": seq, "last_message": bson_of(preview) },
                    "$max": { "last_activity_ms": preview.created_ms, "last_entry_seq": seq },
                },
            )
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Records `seq` as the newest entry of any kind (a change too), unless
    /// a newer one is recorded.
    async fn record_last_entry(&self, id: &ConversationId, seq: u64) -> Result<(), StoreError> {
        // `$max` never lowers it, however the writes of several nodes interleave.
        self.collection::<Document>(CONVERSATIONS)
            .update_one(doc! { "_id": &id.0 }, doc! { "$max": { "last_entry_seq": seq as i64 } })
            .await
            .map_err(classify)?;
        Ok(())
    }
}

#[async_trait]
impl ConversationRepo for MongoStore {
    async fn insert_conversation(&self, conversation: &Conversation) -> Result<(), StoreError> {
        match self.collection::<ConversationDoc>(CONVERSATIONS).insert_one(ConversationDoc::from(conversation)).await {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate_key(&e) => Err(StoreError::Conflict("a conversation with this id".into())),
            Err(e) => Err(classify(e)),
        }
    }

    async fn conversation(&self, id: &ConversationId) -> Result<Option<Conversation>, StoreError> {
        let found = self.collection::<ConversationDoc>(CONVERSATIONS).find_one(doc! { "_id": &id.0 }).await.map_err(classify)?;
        Ok(found.map(Conversation::from))
    }

    async fn conversations_by_ids(&self, ids: &[ConversationId]) -> Result<Vec<Conversation>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = ids.iter().map(|id| id.0.as_str()).collect();
        self.find_conversations(doc! { "_id": { "$in": ids } }, None, 0, None).await
    }

    async fn update_conversation(
        &self,
        id: &ConversationId,
        patch: &ConversationPatch,
    ) -> Result<Option<Conversation>, StoreError> {
        let mut set = Document::new();
        if let Some(name) = &patch.name {
            set.insert("name", name);
        }
        if let Some(description) = &patch.description {
            set.insert("description", description);
        }
        if let Some(visibility) = patch.visibility {
            set.insert("visibility", bson_of(visibility));
        }
        if let Some(join_policy) = patch.join_policy {
            set.insert("join_policy", bson_of(join_policy));
        }
        if set.is_empty() {
            return self.conversation(id).await;
        }
        let renamed = patch.name.is_some() || patch.description.is_some();
        let conversations = self.collection::<ConversationDoc>(CONVERSATIONS);
        let updated = conversations
            .find_one_and_update(doc! { "_id": &id.0 }, doc! { "$set": set })
            .return_document(ReturnDocument::After)
            .await
            .map_err(classify)?;
        if let Some(c) = updated.as_ref().filter(|_| renamed) {
            // The key of the name and description this update left; a racing
            // update that changed them meanwhile writes the key of its own.
            let unchanged = doc! { "_id": &c.id, "name": &c.name, "description": &c.description };
            let set = doc! { "$set": { "search_key": search_key(&c.name, &c.description) } };
            conversations.update_one(unchanged, set).await.map_err(classify)?;
        }
        Ok(updated.map(Conversation::from))
    }

    async fn record_moves(&self, moves: Moves) -> Result<(), StoreError> {
        // One write each: a standalone MongoDB has no multi-document transactions.
        let mut first = Ok(());
        for (id, preview) in &moves.newest_messages {
            first = first.and(self.record_last_message(id, preview).await);
        }
        for (id, seq) in &moves.newest_entries {
            first = first.and(self.record_last_entry(id, *seq).await);
        }
        for (id, user, seq, shown) in &moves.read {
            first = first.and(self.mark_read(id, user, *seq, *shown).await);
        }
        first
    }

    async fn last_entries(&self, ids: &[ConversationId]) -> Result<Vec<(ConversationId, u64)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = ids.iter().map(|id| id.0.as_str()).collect();
        let mut found = self
            .collection::<LastEntryDoc>(CONVERSATIONS)
            .find(doc! { "_id": { "$in": ids } })
            .projection(doc! { "last_seq": 1, "last_entry_seq": 1 })
            .await
            .map_err(classify)?;
        let mut out = Vec::new();
        while let Some(d) = found.try_next().await.map_err(classify)? {
            // Conversations from before the field: their newest message is what is known.
            out.push((ConversationId(d.id), d.last_entry_seq.unwrap_or(0).max(d.last_seq).max(0) as u64));
        }
        Ok(out)
    }

    async fn public_conversations(
        &self,
        query: Option<&KeyQuery>,
        skip: u32,
        limit: u32,
    ) -> Result<Vec<Conversation>, StoreError> {
        let filter = doc! { "visibility": bson_of(Visibility::Public) };
        let sort = doc! { "last_activity_ms": -1, "_id": 1 };
        let limit = limit.clamp(1, MAX_DIRECTORY_PAGE);
        let Some(query) = query else {
            return self.find_conversations(filter, Some(sort), skip, Some(limit)).await;
        };
        let id: fn(&ConversationDoc) -> &str = |d| &d.id;
        let docs = self.find_by_key(CONVERSATIONS, filter, query, sort, (skip, limit), id).await?;
        Ok(docs.into_iter().map(Conversation::from).collect())
    }

    async fn conversation_ids_after(
        &self,
        after: Option<&ConversationId>,
        limit: u32,
    ) -> Result<Vec<ConversationId>, StoreError> {
        #[derive(serde::Deserialize)]
        struct IdOnly {
            #[serde(rename = "_id")]
            id: String,
        }
        let filter = after.map_or_else(Document::new, |a| doc! { "_id": { "$gt": &a.0 } });
        let docs: Vec<IdOnly> = self
            .collection::<IdOnly>(CONVERSATIONS)
            .find(filter)
            .projection(doc! { "_id": 1 })
            .sort(doc! { "_id": 1 })
            .limit(i64::from(limit.clamp(1, MAX_ID_PAGE)))
            .await
            .map_err(classify)?
            .try_collect()
            .await
            .map_err(classify)?;
        Ok(docs.into_iter().map(|d| ConversationId(d.id)).collect())
    }

    async fn put_member(&self, m: &Membership) -> Result<(), StoreError> {
        let doc = MemberDoc {
            key: key(&m.conversation_id, &m.user_id),
            conversation_id: m.conversation_id.0.clone(),
            user_id: m.user_id.0.clone(),
            role: m.role,
            read_seq: m.read_seq as i64,
            joined_ms: m.joined_ms,
            read_shown: Some(m.read_shown as i64),
            delivered_seq: m.delivered_seq as i64,
            mention_seq: m.mention_seq as i64,
        };
        self.collection::<MemberDoc>(MEMBERS)
            .replace_one(doc! { "_id": &doc.key }, &doc)
            .upsert(true)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn member(&self, conversation: &ConversationId, user: &UserId) -> Result<Option<Membership>, StoreError> {
        let found = self
            .collection::<MemberDoc>(MEMBERS)
            .find_one(doc! { "_id": key(conversation, user) })
            .await
            .map_err(classify)?;
        Ok(found.map(Membership::from))
    }

    async fn members_of(&self, conversation: &ConversationId) -> Result<Vec<Membership>, StoreError> {
        self.find_members(doc! { "conversation_id": &conversation.0 }, None).await
    }

    async fn first_members(&self, conversation: &ConversationId, limit: u32) -> Result<Vec<Membership>, StoreError> {
        self.find_members(doc! { "conversation_id": &conversation.0 }, Some(limit)).await
    }

    async fn memberships_of(&self, user: &UserId) -> Result<Vec<Membership>, StoreError> {
        self.find_members(doc! { "user_id": &user.0 }, None).await
    }

    async fn remove_member(&self, conversation: &ConversationId, user: &UserId) -> Result<bool, StoreError> {
        let result = self
            .collection::<MemberDoc>(MEMBERS)
            .delete_one(doc! { "_id": key(conversation, user) })
            .await
            .map_err(classify)?;
        Ok(result.deleted_count > 0)
    }

    async fn mark_read(&self, conversation: &ConversationId, user: &UserId, seq: u64, shown: u64) -> Result<(), StoreError> {
        let seq = seq as i64;
        let forward = doc! { "$max": { "read_seq": seq, "read_shown": shown as i64, "delivered_seq": seq } };
        self.collection::<MemberDoc>(MEMBERS)
            .update_one(doc! { "_id": key(conversation, user) }, forward)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn mark_delivered(&self, conversation: &ConversationId, user: &UserId, seq: u64) -> Result<bool, StoreError> {
        let seq = seq as i64;
        // A missing delivered_seq (a member from before receipts) is taken as 0; the read
        // position is checked in the filter, since reading implies receiving.
        let filter = doc! { "_id": key(conversation, user), "read_seq": { "$lt": seq } };
        let result = self
            .collection::<MemberDoc>(MEMBERS)
            .update_one(filter, doc! { "$max": { "delivered_seq": seq } })
            .await
            .map_err(classify)?;
        Ok(result.modified_count > 0)
    }

    async fn raise_mention_seq(&self, conversation: &ConversationId, who: Mentioned<'_>, seq: u64) -> Result<(), StoreError> {
        let filter = match who {
            Mentioned::Members([]) => return Ok(()),
            Mentioned::Members(users) => {
                let keys: Vec<String> = users.iter().map(|u| key(conversation, u)).collect();
                doc! { "_id": { "$in": keys } }
            }
            Mentioned::AllBut(sender) => doc! { "conversation_id": &conversation.0, "user_id": { "$ne": &sender.0 } },
        };
        self.collection::<MemberDoc>(MEMBERS)
            .update_many(filter, doc! { "$max": { "mention_seq": seq as i64 } })
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn put_invitation(&self, conversation: &ConversationId, user: &UserId, at: Millis) -> Result<(), StoreError> {
        let doc = doc! {
            "_id": key(conversation, user),
            "conversation_id": &conversation.0,
            "user_id": &user.0,
            "invited_ms": at,
        };
        self.collection::<Document>(INVITATIONS)
            .replace_one(doc! { "_id": key(conversation, user) }, doc)
            .upsert(true)
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn is_invited(&self, conversation: &ConversationId, user: &UserId) -> Result<bool, StoreError> {
        let found = self
            .collection::<Document>(INVITATIONS)
            .find_one(doc! { "_id": key(conversation, user) })
            .await
            .map_err(classify)?;
        Ok(found.is_some())
    }

    async fn invitations_of(&self, user: &UserId) -> Result<Vec<ConversationId>, StoreError> {
        let cursor = self
            .collection::<Document>(INVITATIONS)
            .find(doc! { "user_id": &user.0 })
            .sort(doc! { "invited_ms": 1, "conversation_id": 1 })
            .await
            .map_err(classify)?;
        let docs: Vec<Document> = cursor.try_collect().await.map_err(classify)?;
        docs.iter()
            .map(|d| {
                d.get_str("conversation_id")
                    .map(ConversationId::from)
                    .map_err(|e| StoreError::Internal(format!("invitation without a conversation: {e}")))
            })
            .collect()
    }

    async fn remove_invitation(&self, conversation: &ConversationId, user: &UserId) -> Result<(), StoreError> {
        self.collection::<Document>(INVITATIONS)
            .delete_one(doc! { "_id": key(conversation, user) })
            .await
            .map_err(classify)?;
        Ok(())
    }
}

/// Writes the search key of every conversation that has none (see
/// `users::mongodb::backfill_keys`).
pub(in crate::store) async fn backfill_keys(store: &MongoStore) -> Result<usize, StoreError> {
    #[derive(Deserialize)]
    struct Named {
        #[serde(rename = "_id")]
        id: String,
        name: String,
        description: String,
    }
    let (conversations, mut after, mut written) = (store.collection::<Named>(CONVERSATIONS), String::new(), 0);
    loop {
        let filter = doc! { "search_key": { "$exists": false }, "_id": { "$gt": &after } };
        let projection = doc! { "name": 1, "description": 1 };
        let find = conversations.find(filter).projection(projection).sort(doc! { "_id": 1 }).limit(500);
        let page: Vec<Named> = find.await.map_err(classify)?.try_collect().await.map_err(classify)?;
        let Some(last) = page.last() else { return Ok(written) };
        after = last.id.clone();
        for c in &page {
            let unchanged = doc! { "_id": &c.id, "name": &c.name, "description": &c.description };
            let set = doc! { "$set": { "search_key": search_key(&c.name, &c.description) } };
            conversations.update_one(unchanged, set).await.map_err(classify)?;
        }
        written += page.len();
    }
}
