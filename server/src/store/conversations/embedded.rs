use async_trait::async_trait;
use rusqlite::{params, params_from_iter, types::Value, Connection, OptionalExtension, Row};
use wire::model::{Conversation, ConversationId, MessagePreview, Millis, UserId};

use super::{search_key, ConversationPatch, ConversationRepo, Membership, Mentioned, Moves, MAX_DIRECTORY_PAGE, MAX_ID_PAGE};
use crate::store::{
    embedded::{
        enum_from_text, enum_text, internal, placeholders, query_all, write_error, write_transaction, Cached,
        EmbeddedStore,
    },
    StoreError,
};
use crate::text::search_fold::KeyQuery;

const COLUMNS: &str = "id, kind, visibility, join_policy, name, description, creator_id, peer_id, created_ms, \
                       last_seq, last_message, last_activity_ms";
const MEMBER_COLUMNS: &str =
    "conversation_id, user_id, role, read_seq, joined_ms, read_shown, delivered_seq, mention_seq";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Conversation> {
    let last_message: Option<String> = row.get(10)?;
    Ok(Conversation {
        id: ConversationId(row.get(0)?),
        kind: enum_from_text(row.get(1)?)?,
        visibility: enum_from_text(row.get(2)?)?,
        join_policy: enum_from_text(row.get(3)?)?,
        name: row.get(4)?,
        description: row.get(5)?,
        creator_id: UserId(row.get(6)?),
        peer_id: row.get::<_, Option<String>>(7)?.map(UserId),
        created_ms: row.get(8)?,
        last_seq: row.get::<_, i64>(9)? as u64,
        last_message: last_message
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(10, rusqlite::types::Type::Text, Box::new(e)))?,
        last_activity_ms: row.get(11)?,
    })
}

fn member_from_row(row: &Row<'_>) -> rusqlite::Result<Membership> {
    Ok(Membership {
        conversation_id: ConversationId(row.get(0)?),
        user_id: UserId(row.get(1)?),
        role: enum_from_text(row.get(2)?)?,
        read_seq: row.get::<_, i64>(3)? as u64,
        joined_ms: row.get(4)?,
        read_shown: row.get::<_, i64>(5)? as u64,
        delivered_seq: row.get::<_, i64>(6)?.max(row.get::<_, i64>(3)?) as u64,
        mention_seq: row.get::<_, i64>(7)? as u64,
    })
}

fn by_id(c: &Connection, id: &str) -> rusqlite::Result<Option<Conversation>> {
    c.cached_row(
        &format!("SELECT {COLUMNS} FROM conversations WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()
}

fn preview_json(preview: &Option<MessagePreview>) -> Option<String> {
    preview
        .as_ref()
        .map(|p| serde_json::to_string(p).expect("a preview serializes"))
}

/// Writes the search key of every conversation that has none (see `users::embedded::backfill_keys`).
pub(in crate::store) fn backfill_keys(c: &Connection) -> rusqlite::Result<usize> {
    let missing: Vec<(String, String, String)> = c
        .prepare("SELECT id, name, description FROM conversations WHERE search_key = ''")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update = c.prepare("UPDATE conversations SET search_key = ?2 WHERE id = ?1")?;
    for (id, name, description) in &missing {
        update.execute(params![id, search_key(name, description)])?;
    }
    Ok(missing.len())
}

#[async_trait]
impl ConversationRepo for EmbeddedStore {
    async fn insert_conversation(&self, conversation: &Conversation) -> Result<(), StoreError> {
        let c = conversation.clone();
        self.call(move |db| {
            db.cached_execute(
                &format!(
                    "INSERT INTO conversations ({COLUMNS}, search_key)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                ),
                params![
                    c.id.0,
                    enum_text(c.kind),
                    enum_text(c.visibility),
                    enum_text(c.join_policy),
                    c.name,
                    c.description,
                    c.creator_id.0,
                    c.peer_id.map(|p| p.0),
                    c.created_ms,
                    c.last_seq as i64,
                    preview_json(&c.last_message),
                    c.last_activity_ms,
                    search_key(&c.name, &c.description)
                ],
            )
            .map_err(|e| write_error(e, "a conversation with this id"))?;
            Ok(())
        })
        .await
    }

    async fn conversation(&self, id: &ConversationId) -> Result<Option<Conversation>, StoreError> {
        let id = id.0.clone();
        self.quick(move |c| by_id(c, &id).map_err(internal)).await
    }

    async fn conversations_by_ids(&self, ids: &[ConversationId]) -> Result<Vec<Conversation>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = ids.iter().map(|id| id.0.clone()).collect();
        self.call(move |c| {
            query_all(
                c,
                &format!(
                    "SELECT {COLUMNS} FROM conversations WHERE id IN ({})",
                    placeholders(ids.len())
                ),
                params_from_iter(ids.iter()),
                from_row,
            )
        })
        .await
    }

    async fn update_conversation(
        &self,
        id: &ConversationId,
        patch: &ConversationPatch,
    ) -> Result<Option<Conversation>, StoreError> {
        let (id, p) = (id.0.clone(), patch.clone());
        self.call(move |c| {
            let tx = write_transaction(c)?;
            let Some(mut conv) = by_id(&tx, &id).map_err(internal)? else {
                return Ok(None);
            };
            if let Some(name) = p.name {
                conv.name = name;
            }
            if let Some(description) = p.description {
                conv.description = description;
            }
            if let Some(visibility) = p.visibility {
                conv.visibility = visibility;
            }
            if let Some(join_policy) = p.join_policy {
                conv.join_policy = join_policy;
            }
            tx.cached_execute(
                "UPDATE conversations SET name = ?2, description = ?3, visibility = ?4, join_policy = ?5, search_key = ?6
                 WHERE id = ?1",
                params![
                    id,
                    conv.name,
                    conv.description,
                    enum_text(conv.visibility),
                    enum_text(conv.join_policy),
                    search_key(&conv.name, &conv.description)
                ],
            )
            .map_err(internal)?;
            tx.commit().map_err(internal)?;
            Ok(Some(conv))
        })
        .await
    }

    async fn record_moves(&self, moves: Moves) -> Result<(), StoreError> {
        self.call(move |c| {
            let tx = write_transaction(c)?;
            for (id, preview) in &moves.newest_messages {
                set_last_message(&tx, &id.0, preview)?;
            }
            for (id, seq) in &moves.newest_entries {
                set_last_entry(&tx, &id.0, *seq)?;
            }
            for (id, user, seq, shown) in &moves.read {
                set_read(&tx, &id.0, &user.0, *seq, *shown)?;
            }
            tx.commit().map_err(internal)
        })
        .await
    }

    async fn last_entries(&self, ids: &[ConversationId]) -> Result<Vec<(ConversationId, u64)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = ids.iter().map(|id| id.0.clone()).collect();
        self.call(move |c| {
            query_all(
                c,
                &format!("SELECT id, last_entry_seq FROM conversations WHERE id IN ({})", placeholders(ids.len())),
                params_from_iter(ids.iter()),
                |row| Ok((ConversationId(row.get(0)?), row.get::<_, i64>(1)?.max(0) as u64)),
            )
        })
        .await
    }

    async fn public_conversations(
        &self,
        query: Option<&KeyQuery>,
        skip: u32,
        limit: u32,
    ) -> Result<Vec<Conversation>, StoreError> {
        let limit = limit.clamp(1, MAX_DIRECTORY_PAGE);
        let query = query.cloned();
        self.call(move |c| match query {
            None => query_all(
                c,
                &format!(
                    "SELECT {COLUMNS} FROM conversations WHERE visibility = 'public'
                     ORDER BY last_activity_ms DESC, id LIMIT ?1 OFFSET ?2"
                ),
                params![limit, skip],
                from_row,
            ),
            // instr() takes its needle literally: no pattern syntax to escape.
            Some(q) => query_all(
                c,
                &format!(
                    "SELECT {COLUMNS} FROM conversations WHERE visibility = 'public' AND instr(search_key, ?3) > 0
                     ORDER BY CASE WHEN instr(search_key, ?1) > 0 THEN 0 WHEN instr(search_key, ?2) > 0 THEN 1 ELSE 2 END,
                              last_activity_ms DESC, id
                     LIMIT ?4 OFFSET ?5"
                ),
                params![q.exact, q.prefix, q.part, limit, skip],
                from_row,
            ),
        })
        .await
    }

    async fn conversation_ids_after(
        &self,
        after: Option<&ConversationId>,
        limit: u32,
    ) -> Result<Vec<ConversationId>, StoreError> {
        let (after, limit) = (after.map_or_else(String::new, |a| a.0.clone()), limit.clamp(1, MAX_ID_PAGE));
        self.call(move |c| {
            query_all(
                c,
                "SELECT id FROM conversations WHERE id > ?1 ORDER BY id LIMIT ?2",
                params![after, limit],
                |row| Ok(ConversationId(row.get(0)?)),
            )
        })
        .await
    }

    async fn put_member(&self, member: &Membership) -> Result<(), StoreError> {
        let m = member.clone();
        self.call(move |c| {
            c.cached_execute(
                &format!("INSERT OR REPLACE INTO members ({MEMBER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"),
                params![
                    m.conversation_id.0,
                    m.user_id.0,
                    enum_text(m.role),
                    m.read_seq as i64,
                    m.joined_ms,
                    m.read_shown as i64,
                    m.delivered_seq as i64,
                    m.mention_seq as i64
                ],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn member(&self, conversation: &ConversationId, user: &UserId) -> Result<Option<Membership>, StoreError> {
        let (conv, user) = (conversation.0.clone(), user.0.clone());
        self.quick(move |c| {
            c.cached_row(
                &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE conversation_id = ?1 AND user_id = ?2"),
                params![conv, user],
                member_from_row,
            )
            .optional()
            .map_err(internal)
        })
        .await
    }

    async fn members_of(&self, conversation: &ConversationId) -> Result<Vec<Membership>, StoreError> {
        let conv = conversation.0.clone();
        self.call(move |c| {
            query_all(
                c,
                &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE conversation_id = ?1 ORDER BY joined_ms, user_id"),
                [conv],
                member_from_row,
            )
        })
        .await
    }

    async fn first_members(&self, conversation: &ConversationId, limit: u32) -> Result<Vec<Membership>, StoreError> {
        let conv = conversation.0.clone();
        self.call(move |c| {
            query_all(
                c,
                &format!(
                    "SELECT {MEMBER_COLUMNS} FROM members WHERE conversation_id = ?1 ORDER BY joined_ms, user_id LIMIT ?2"
                ),
                params![conv, limit],
                member_from_row,
            )
        })
        .await
    }

    async fn memberships_of(&self, user: &UserId) -> Result<Vec<Membership>, StoreError> {
        let user = user.0.clone();
        self.call(move |c| {
            query_all(
                c,
                &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE user_id = ?1 ORDER BY joined_ms"),
                [user],
                member_from_row,
            )
        })
        .await
    }

    async fn remove_member(&self, conversation: &ConversationId, user: &UserId) -> Result<bool, StoreError> {
        let (conv, user) = (conversation.0.clone(), user.0.clone());
        self.call(move |c| {
            let n = c
                .cached_execute(
                    "DELETE FROM members WHERE conversation_id = ?1 AND user_id = ?2",
                    params![conv, user],
                )
                .map_err(internal)?;
            Ok(n > 0)
        })
        .await
    }

    async fn mark_read(&self, conversation: &ConversationId, user: &UserId, seq: u64, shown: u64) -> Result<(), StoreError> {
        let (conv, user) = (conversation.0.clone(), user.0.clone());
        self.call(move |c| set_read(c, &conv, &user, seq, shown)).await
    }

    async fn mark_delivered(&self, conversation: &ConversationId, user: &UserId, seq: u64) -> Result<bool, StoreError> {
        let (conv, user) = (conversation.0.clone(), user.0.clone());
        self.call(move |c| {
            let moved = c
                .cached_execute(
                    "UPDATE members SET delivered_seq = ?3
                     WHERE conversation_id = ?1 AND user_id = ?2 AND delivered_seq < ?3 AND read_seq < ?3",
                    params![conv, user, seq as i64],
                )
                .map_err(internal)?;
            Ok(moved > 0)
        })
        .await
    }

    async fn raise_mention_seq(&self, conversation: &ConversationId, who: Mentioned<'_>, seq: u64) -> Result<(), StoreError> {
        let conv = conversation.0.clone();
        let (filter, users): (String, Vec<String>) = match who {
            Mentioned::Members([]) => return Ok(()),
            Mentioned::Members(users) => {
                (format!("user_id IN ({})", placeholders(users.len())), users.iter().map(|u| u.0.clone()).collect())
            }
            Mentioned::AllBut(sender) => ("user_id != ?".into(), vec![sender.0.clone()]),
        };
        self.call(move |c| {
            let sql = format!("UPDATE members SET mention_seq = MAX(mention_seq, ?) WHERE conversation_id = ? AND {filter}");
            let values = [Value::Integer(seq as i64), Value::Text(conv)].into_iter().chain(users.into_iter().map(Value::Text));
            c.cached_execute(&sql, params_from_iter(values)).map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn put_invitation(&self, conversation: &ConversationId, user: &UserId, at: Millis) -> Result<(), StoreError> {
        let (conv, user) = (conversation.0.clone(), user.0.clone());
        self.call(move |c| {
            c.cached_execute(
                "INSERT OR REPLACE INTO invitations (conversation_id, user_id, invited_ms) VALUES (?1, ?2, ?3)",
                params![conv, user, at],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }

    async fn is_invited(&self, conversation: &ConversationId, user: &UserId) -> Result<bool, StoreError> {
        let (conv, user) = (conversation.0.clone(), user.0.clone());
        self.call(move |c| {
            c.cached_row(
                "SELECT 1 FROM invitations WHERE conversation_id = ?1 AND user_id = ?2",
                params![conv, user],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(internal)
        })
        .await
    }

    async fn invitations_of(&self, user: &UserId) -> Result<Vec<ConversationId>, StoreError> {
        let user = user.0.clone();
        self.call(move |c| {
            query_all(
                c,
                "SELECT conversation_id FROM invitations WHERE user_id = ?1 ORDER BY invited_ms, conversation_id",
                [user],
                |r| r.get(0).map(ConversationId),
            )
        })
        .await
    }

    async fn remove_invitation(&self, conversation: &ConversationId, user: &UserId) -> Result<(), StoreError> {
        let (conv, user) = (conversation.0.clone(), user.0.clone());
        self.call(move |c| {
            c.cached_execute(
                "DELETE FROM invitations WHERE conversation_id = ?1 AND user_id = ?2",
                params![conv, user],
            )
            .map_err(internal)?;
            Ok(())
        })
        .await
    }
}

/// The conversation's newest message, unless a newer one is recorded.
fn set_last_message(c: &Connection, id: &str, preview: &MessagePreview) -> Result<(), StoreError> {
    c.cached_execute(
        "UPDATE conversations SET last_seq = ?2, last_message = ?3, last_activity_ms = MAX(last_activity_ms, ?4),
         last_entry_seq = MAX(last_entry_seq, ?2) WHERE id = ?1 AND last_seq < ?2",
        params![id, preview.seq as i64, preview_json(&Some(preview.clone())), preview.created_ms],
    )
    .map_err(internal)?;
    Ok(())
}

/// The conversation's newest entry of any kind, never lowered.
fn set_last_entry(c: &Connection, id: &str, seq: u64) -> Result<(), StoreError> {
    c.cached_execute("UPDATE conversations SET last_entry_seq = MAX(last_entry_seq, ?2) WHERE id = ?1", params![id, seq as i64])
        .map_err(internal)?;
    Ok(())
}

/// The member's read position (and delivered with it), never moved back.
fn set_read(c: &Connection, conversation: &str, user: &str, seq: u64, shown: u64) -> Result<(), StoreError> {
    c.cached_execute(
        "UPDATE members SET read_seq = MAX(read_seq, ?3), read_shown = MAX(read_shown, ?4),
         delivered_seq = MAX(delivered_seq, ?3)
         WHERE conversation_id = ?1 AND user_id = ?2",
        params![conversation, user, seq as i64, shown as i64],
    )
    .map_err(internal)?;
    Ok(())
}
